#!/usr/bin/env bash
# The whole test suite, exactly as CI runs it: formatting, lints, then unit and
# integration tests against a real PostgreSQL and Redis from scripts/stack.sh.
# Starts the local stack if it is not running, and stops it again if it did.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# The suite runs on a stack of its own (.stack-test), so a stack that
# local-run.sh left in .stack is never switched to TLS, filled or flushed.
# --tls: the suite also proves TLS to both servers for real.
export STACK_DIR="$PWD/.stack-test"
source scripts/stack-session.sh
stack_session --tls --valkey

echo "test.sh: cargo fmt --check" >&2
cargo fmt --check
echo "test.sh: cargo clippy" >&2
cargo clippy --all-targets --quiet -- -D warnings
echo "test.sh: npm ci (Auth.js, to decode minted session cookies for real)" >&2
npm ci --prefix tests/node --no-audit --no-fund --loglevel=error
echo "test.sh: cargo test" >&2
cargo test --all-targets "$@"
