#!/usr/bin/env bash
# The benchmark of issue 6 (see BENCHMARKS.md): builds the release binary, starts
# the local stack if it is not running (and stops it again afterwards if it did),
# then runs `cargo bench --bench bench`, which prints Markdown tables on stdout.
# Knobs (environment): BENCH_RUNS, BENCH_PROXY_RUNS, BENCH_BASELINE_RUNS,
# BENCH_DELAY_MS, BENCH_REDIS_DB, BENCH_SCALE=0 (skip scale mode), BENCH_PARTS=3,5
# (only those parts), BENCH_BUSY_KEYS, BENCH_SCALE_SCENES, BENCH_COPY_PAIRS, KEEP_STACK=1,
# BENCH_COMPARE_BIN=<another build's binary> (part 5: paired runs of the two), BENCH_COMPARE_PAIRS.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

say() { printf 'bench.sh: %s\n' "$*" >&2; }

source scripts/stack-session.sh
# --tls: part 5 measures TLS to both servers; --valkey: its busy cache on Valkey too.
stack_session --tls --valkey

# Peak memory of scale mode comes from GNU time's "Maximum resident set size".
if [ ! -x /usr/bin/time ]; then
  sudo=()
  if [ "$(id -u)" != 0 ]; then sudo=(sudo -n); fi
  say "installing GNU time (for peak memory) with apt-get"
  { "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq \
      && "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends time; } </dev/null >&2 \
    || say "could not install time; peak memory will be reported as n/a"
fi

say "cargo build --release"
cargo build --release --quiet --bin fictures-seed
say "cargo bench --bench bench"
cargo bench --quiet --bench bench
