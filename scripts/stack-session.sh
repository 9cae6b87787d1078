#!/usr/bin/env bash
# Sourced by scripts that need the local stack for one run (test.sh, bench.sh):
# `stack_session [stack.sh up options]` starts it unless it is already up,
# exports its settings, and stops it on exit only if this run started it
# (KEEP_STACK=1 keeps it running).

stack_session() {
  STACK_STARTED=0
  bash scripts/stack.sh status >/dev/null 2>&1 || STACK_STARTED=1
  trap stack_session_end EXIT
  # Captured first: a failed `up` inside eval "$(…)" would go unnoticed.
  local settings
  settings="$(bash scripts/stack.sh up "$@")"
  eval "$settings"
}

stack_session_end() {
  if [ "$STACK_STARTED" = 1 ] && [ -z "${KEEP_STACK:-}" ]; then
    bash scripts/stack.sh down >&2 || true
  fi
}
