#!/usr/bin/env bash
# The main job on a throwaway local stack: start PostgreSQL and Redis
# (scripts/stack.sh), create the app's tables, seed the fixture, verify it.
# Leaves the stack running; `scripts/stack.sh down` removes it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# Captured first: a failed `up` inside eval "$(…)" would go unnoticed.
settings="$(bash scripts/stack.sh up)"
eval "$settings"
# The fixture's API keys are derived from this secret; a throwaway local stack
# gets a fixed local one unless you bring your own.
export FIXTURE_API_KEY_SECRET="${FIXTURE_API_KEY_SECRET:-local-stack-only-api-key-secret}"
echo "local-run.sh: cargo build --release (the first build takes several minutes)" >&2
cargo build --release --bin fictures-seed
bin="${CARGO_TARGET_DIR:-target}/release/fictures-seed"
"$bin" migrate --quiet
"$bin" seed
"$bin" verify
echo >&2
echo "local-run.sh: the stack stays up; its settings: eval \"\$(scripts/stack.sh env)\"; remove it with scripts/stack.sh down" >&2
