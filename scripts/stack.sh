#!/usr/bin/env bash
# Throwaway PostgreSQL + Redis for developing and testing fictures-seed, state in <repo>/.stack
# (or $STACK_DIR). Usage: scripts/stack.sh up [--tls] [--valkey] | down | status | env
# `eval "$(scripts/stack.sh up)"` exports DATABASE_URL, REDIS_URL, STACK_PG_ADMIN_URL (and
# VALKEY_URL with --valkey).
set -euo pipefail

readonly SCRIPT_NAME="stack.sh"
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
readonly REPO_ROOT
STACK_DIR="${STACK_DIR:-$REPO_ROOT/.stack}"
TIMEOUT="${STACK_TIMEOUT:-30}"
PG_PORT_START="${PGPORT_WANTED:-54329}"
REDIS_PORT_START="${REDIS_PORT_WANTED:-63799}"
VALKEY_PORT_START="${VALKEY_PORT_WANTED:-63899}"
readonly MARKER=".fictures-stack"
readonly PG_SUPERUSER="postgres"
readonly DB_NAME="fictures"

# Another Redis build (a newer Redis, Valkey) to run instead of the one on PATH; REDIS_LABEL
# names the server in messages (as_valkey points both at the stack's Valkey).
REDIS_SERVER="${REDIS_SERVER_BIN:-redis-server}" REDIS_LABEL="Redis"

# Filled in by resolve_paths / load_state (PG_BIN may come from the environment).
PG_BIN="${PG_BIN:-}" PG_ROOT="" PG_DATA="" PG_SOCK="" PG_LOG=""
REDIS_DIR="" REDIS_CONF="" REDIS_PID="" REDIS_LOG="" TLS_DIR="" STATE_FILE="" ENV_FILE=""
PG_PORT="" REDIS_PORT="" REDIS_TLS_PORT="" TLS=0 VALKEY_PORT=""

# ---------------------------------------------------------------- helpers

say() { printf '%s: %s\n' "$SCRIPT_NAME" "$*" >&2; }
die() { printf '%s: error: %s\n' "$SCRIPT_NAME" "$*" >&2; exit 1; }

usage() {
  cat >&2 <<EOF
usage: scripts/stack.sh <command>
  up [--tls] [--valkey]
              start PostgreSQL and Redis (installing redis-server if needed), print env lines;
              --valkey also starts a Valkey server (VALKEY_URL), installing valkey-server
              from Debian's backports if needed
  down        stop the servers and delete the state dir ($STACK_DIR)
  status      report whether each server answers; exit 0 only if all do
  env         print the env lines of the running stack; exit 1 if it is not up
env knobs: STACK_DIR, PGPORT_WANTED, REDIS_PORT_WANTED, VALKEY_PORT_WANTED, STACK_TIMEOUT (seconds, default 30), PG_BIN,
  REDIS_SERVER_BIN (a redis-server or valkey-server to run instead of the one on PATH)
EOF
}

tail_log() {
  [[ -f "$1" ]] || return 0
  printf -- '--- last lines of %s ---\n' "$1" >&2
  tail -n 25 "$1" >&2 || true
}

is_root() { [[ $EUID -eq 0 ]]; }

# True if pid $1 runs a program whose command line contains $2. Zombies count as dead: when
# PID 1 is slow to reap, kill -0 still succeeds on a killed server.
pid_runs() {
  local pid="$1" stat cmdline
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  stat="$(cat "/proc/$pid/stat" 2>/dev/null)" || return 1
  stat="${stat##*) }"
  [[ "${stat:0:1}" != Z ]] || return 1
  cmdline="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" || return 1
  [[ "$cmdline" == *"$2"* ]]
}

# initdb/pg_ctl refuse to run as root, so as root they run as the postgres user; cd / because
# the caller's cwd may be unreadable for that user and PostgreSQL tools call getcwd().
# fd 9 (the lock) is closed so the postmaster does not hold it for its whole life.
as_pg() {
  if is_root; then
    (cd / && runuser -u postgres -- "$@") 9>&-
  else
    "$@" 9>&-
  fi
}

# A connect to a closed loopback port is refused at once; timeout guards against odd firewalls.
port_in_use() { timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }

# Probe upward from $1, skipping ports listed in the rest of the arguments.
pick_port() {
  local port="$1" tries=0 skip
  shift
  while (( tries < 200 )); do
    skip=0
    for s in "$@"; do [[ "$s" == "$port" ]] && skip=1; done
    if (( skip == 0 && port <= 65535 )) && ! port_in_use "$port"; then
      echo "$port"
      return 0
    fi
    port=$((port + 1)) tries=$((tries + 1))
  done
  die "no free TCP port found on 127.0.0.1 starting at $1; free one up or set PGPORT_WANTED/REDIS_PORT_WANTED."
}

# Keep a recorded port when it is free, so URLs survive a reboot; otherwise move on.
reuse_or_pick() {
  local recorded="$1" start="$2"
  shift 2
  if [[ -n "$recorded" ]] && ! port_in_use "$recorded"; then
    echo "$recorded"
  else
    pick_port "$start" "$@"
  fi
}

# Serialise concurrent invocations for one state dir; the lock lives outside the state dir
# because `down` deletes that.
take_lock() {
  local key lock
  key="$(printf '%s' "$STACK_DIR" | cksum | cut -d' ' -f1)"
  lock="${TMPDIR:-/tmp}/fictures-stack.$key.lock"
  # Opened read-only so root and a normal user can share one lock file in sticky /tmp.
  if [[ ! -e "$lock" ]]; then
    { : >"$lock" && chmod 644 "$lock"; } || die "cannot create lock file $lock; check TMPDIR."
  fi
  exec 9<"$lock" || die "cannot open lock file $lock; remove it or set TMPDIR."
  flock -w 120 9 || die "another stack.sh is still running for $STACK_DIR after 120 s; wait for it or kill it."
}

# ---------------------------------------------------------------- paths and state

find_pg_bin() {
  if [[ -n "${PG_BIN:-}" ]]; then
    [[ -x "$PG_BIN/postgres" ]] || die "PG_BIN=$PG_BIN has no postgres binary; point it at a PostgreSQL bin dir."
    return 0
  fi
  local d
  # 15 first (what CI has), then any other installed major version.
  for d in /usr/lib/postgresql/15/bin /usr/lib/postgresql/*/bin; do
    if [[ -x "$d/postgres" && -x "$d/initdb" ]]; then PG_BIN="$d"; return 0; fi
  done
  return 1
}

resolve_paths() {
  [[ "$STACK_DIR" == /* ]] || STACK_DIR="$PWD/$STACK_DIR"
  STATE_FILE="$STACK_DIR/state"
  ENV_FILE="$STACK_DIR/env"
  REDIS_DIR="$STACK_DIR/redis"
  REDIS_CONF="$REDIS_DIR/redis.conf"
  REDIS_PID="$REDIS_DIR/redis.pid"
  REDIS_LOG="$REDIS_DIR/redis.log"
  TLS_DIR="$STACK_DIR/tls"
  set_pg_root "$STACK_DIR/pg"
}

set_pg_root() {
  # A symlink means the cluster had to live outside the repo (see choose_pg_root).
  if [[ -L "$1" ]]; then PG_ROOT="$(readlink -f "$1")"; else PG_ROOT="$1"; fi
  PG_DATA="$PG_ROOT/data"
  PG_SOCK="$PG_ROOT/run"
  PG_LOG="$PG_ROOT/postgres.log"
}

load_state() {
  [[ -f "$STATE_FILE" ]] || return 0
  local k v
  while IFS='=' read -r k v; do
    case "$k" in
      PG_PORT) PG_PORT="$v" ;;
      REDIS_PORT) REDIS_PORT="$v" ;;
      REDIS_TLS_PORT) REDIS_TLS_PORT="$v" ;;
      TLS) TLS="$v" ;;
      VALKEY_PORT) VALKEY_PORT="$v" ;;
    esac
  done <"$STATE_FILE"
}

save_state() {
  printf 'PG_PORT=%s\nREDIS_PORT=%s\nREDIS_TLS_PORT=%s\nTLS=%s\nVALKEY_PORT=%s\n' \
    "$PG_PORT" "$REDIS_PORT" "$REDIS_TLS_PORT" "$TLS" "$VALKEY_PORT" >"$STATE_FILE.tmp"
  mv -f "$STATE_FILE.tmp" "$STATE_FILE"
}

# Refuse to rm -rf anything we did not create: STACK_DIR may be overridden by hand.
remove_owned_dir() {
  local dir="$1"
  [[ -e "$dir" ]] || return 0
  [[ "$dir" != "/" && -f "$dir/$MARKER" ]] \
    || die "refusing to delete $dir: it lacks the $MARKER marker, so stack.sh did not create it; remove it by hand."
  rm -rf -- "$dir"
}

make_state_dir() {
  if [[ -d "$STACK_DIR" && ! -f "$STACK_DIR/$MARKER" ]] && [[ -n "$(ls -A "$STACK_DIR")" ]]; then
    die "$STACK_DIR exists, is not empty and was not created by stack.sh; pick another STACK_DIR or empty it."
  fi
  mkdir -p "$STACK_DIR" "$REDIS_DIR" 2>/dev/null || die "cannot create $STACK_DIR; check permissions of its parent."
  touch "$STACK_DIR/$MARKER"
  # The postgres user has to traverse this dir to reach its cluster under pg/.
  chmod 755 "$STACK_DIR"
}

# ---------------------------------------------------------------- installs

# Debian postinst scripts would otherwise start a system-wide redis on 6379 (or a "main"
# PostgreSQL cluster on 5432); a temporary policy-rc.d tells invoke-rc.d not to.
apt_install() {
  is_root || command -v sudo >/dev/null || die "need to apt-get install $*, which needs root; rerun as root or install them yourself."
  local sudo=() added_policy=0
  is_root || sudo=(sudo -n)
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee /usr/sbin/policy-rc.d >/dev/null
    "${sudo[@]}" chmod 755 /usr/sbin/policy-rc.d
    added_policy=1
  fi
  say "installing $* with apt-get (one-time)"
  local rc=0
  {
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq \
      && "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        --no-install-recommends -o DPkg::Lock::Timeout=120 "$@"
  } </dev/null >&2 || rc=$?
  (( added_policy == 0 )) || "${sudo[@]}" rm -f /usr/sbin/policy-rc.d
  (( rc == 0 )) || die "apt-get install $* failed (exit $rc); check the apt output above and that the Debian mirror is reachable."
}

ensure_tools() {
  local want_tls="$1" want_valkey="$2" pkgs=()
  find_pg_bin || pkgs+=(postgresql)
  if [[ -n "${REDIS_SERVER_BIN:-}" ]]; then
    [[ -f "$REDIS_SERVER_BIN" && -x "$REDIS_SERVER_BIN" ]] || die "REDIS_SERVER_BIN=$REDIS_SERVER_BIN is not an executable file; point it at a built redis-server or valkey-server, or unset it."
    # The stack knows its server's process by one of these names (runs_redis).
    case "$(basename "$REDIS_SERVER_BIN")" in
      *redis-server*|*valkey-server*) ;;
      *) die "REDIS_SERVER_BIN=$REDIS_SERVER_BIN must be named redis-server or valkey-server, which is how the stack finds its process; link it under one of those names." ;;
    esac
    # Absolute, as the scripts that source this change directory first; links are kept, as
    # Debian's redis-server is a link to a program that acts on the name it is run by.
    REDIS_SERVER="$(realpath -s "$REDIS_SERVER_BIN")"
  else
    command -v redis-server >/dev/null || pkgs+=(redis-server)
  fi
  command -v redis-cli >/dev/null || pkgs+=(redis-tools)
  if [[ "$want_tls" == 1 ]] && ! command -v openssl >/dev/null; then pkgs+=(openssl); fi
  (( ${#pkgs[@]} == 0 )) || apt_install "${pkgs[@]}"
  find_pg_bin || die "PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin; install postgresql or set PG_BIN."
  command -v "$REDIS_SERVER" >/dev/null || die "redis-server is still missing after apt-get; install it by hand."
  command -v redis-cli >/dev/null || die "redis-cli is still missing after apt-get; install redis-tools by hand."
  # Apart, so a system that does not package Valkey still gets the rest, and the error says so.
  if [[ "$want_valkey" == 1 ]] && ! command -v valkey-server >/dev/null; then
    add_backports_for_valkey
    apt_install valkey-server
    command -v valkey-server >/dev/null || die "valkey-server is still missing after apt-get; install it by hand, or drop --valkey."
  fi
  is_root && ! id postgres >/dev/null 2>&1 && die "running as root but there is no postgres user to own the cluster; install postgresql or run as a normal user."
  return 0
}

# Valkey is in Debian from trixie on and in bookworm's backports, whose packages apt never
# prefers over the release's, so adding them changes no other package.
add_backports_for_valkey() {
  local id="" codename="" list=/etc/apt/sources.list.d/fictures-stack-backports.list sudo=()
  if [[ -r /etc/os-release ]]; then
    id="$(. /etc/os-release && echo "${ID:-}")"
    codename="$(. /etc/os-release && echo "${VERSION_CODENAME:-}")"
  fi
  [[ "$id" == debian && "$codename" == bookworm ]] || return 0
  # Only lines apt reads: commented ones and renamed files do not count.
  if grep -hsE '^[^#]*bookworm-backports' /etc/apt/sources.list \
      /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources >/dev/null; then
    return 0
  fi
  say "adding Debian's bookworm-backports to apt's sources ($list), for valkey-server"
  is_root || sudo=(sudo -n)
  echo "deb http://deb.debian.org/debian bookworm-backports main" | "${sudo[@]}" tee "$list" >/dev/null \
    || die "cannot write $list; rerun as root or install valkey-server yourself."
}

# ---------------------------------------------------------------- TLS

# A throwaway CA signs the servers' certificate: TLS clients (rustls among
# them) refuse a CA certificate presented as a server's own.
make_certs() {
  [[ -f "$TLS_DIR/server.crt" && -f "$TLS_DIR/server.key" && -f "$TLS_DIR/ca.crt" ]] && return 0
  mkdir -p "$TLS_DIR"
  say "generating a throwaway CA and a server certificate in $TLS_DIR"
  {
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=fictures-seed test CA" \
      -keyout "$TLS_DIR/ca.key" -out "$TLS_DIR/ca.crt" \
    && openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" \
      -keyout "$TLS_DIR/server.key" -out "$TLS_DIR/server.csr" \
    && printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >"$TLS_DIR/server.ext" \
    && openssl x509 -req -in "$TLS_DIR/server.csr" -CA "$TLS_DIR/ca.crt" -CAkey "$TLS_DIR/ca.key" \
      -CAcreateserial -days 3650 -extfile "$TLS_DIR/server.ext" -out "$TLS_DIR/server.crt"
  } >/dev/null 2>"$TLS_DIR/openssl.log" \
    || { tail_log "$TLS_DIR/openssl.log"; die "openssl could not create certificates in $TLS_DIR; see the log above."; }
  chmod 644 "$TLS_DIR/server.crt" "$TLS_DIR/ca.crt"
  chmod 600 "$TLS_DIR/server.key" "$TLS_DIR/ca.key"
}

# ---------------------------------------------------------------- PostgreSQL

# Put the cluster outside the repo when postgres cannot reach it there (repo under a 0700 dir
# such as /root) or when the socket path would pass the 107-byte sun_path limit.
choose_pg_root() {
  local in_repo="$STACK_DIR/pg"
  # A link whose target vanished (e.g. the postgres home was wiped) is started afresh.
  if [[ -L "$in_repo" && ! -e "$in_repo" ]]; then rm -f "$in_repo"; fi
  [[ -e "$in_repo" ]] && return 0
  local reachable=1
  if is_root; then
    (cd / && runuser -u postgres -- test -x "$STACK_DIR") 2>/dev/null || reachable=0
  fi
  if (( reachable == 1 )) && (( ${#in_repo} + 25 < 100 )); then
    mkdir -p "$in_repo"
  else
    local home key owner
    owner="$(id -un)"
    if is_root; then owner=postgres; fi
    home="$(getent passwd "$owner" | cut -d: -f6)"
    key="$(printf '%s' "$STACK_DIR" | cksum | cut -d' ' -f1)"
    local outside="$home/fictures-stack/$key"
    say "postgres cannot use $in_repo (unreachable or path too long); keeping the cluster in $outside"
    remove_owned_dir "$outside"
    mkdir -p "$outside"
    touch "$outside/$MARKER"
    ln -s "$outside" "$in_repo"
  fi
  set_pg_root "$in_repo"
  mkdir -p "$PG_SOCK"
  touch "$PG_ROOT/$MARKER"
  if is_root; then chown -R postgres: "$PG_ROOT"; fi
}

pg_initialized() { [[ -f "$PG_DATA/PG_VERSION" ]]; }

init_pg() {
  # A half-written data dir (initdb interrupted) cannot be repaired, only redone.
  if [[ -d "$PG_DATA" ]]; then
    [[ -f "$PG_ROOT/$MARKER" ]] \
      || die "refusing to delete $PG_DATA: $PG_ROOT lacks the $MARKER marker, so stack.sh did not create it; remove it by hand."
    as_pg rm -rf -- "$PG_DATA"
  fi
  say "initdb: new cluster in $PG_DATA"
  as_pg "$PG_BIN/initdb" -D "$PG_DATA" -U "$PG_SUPERUSER" --auth=trust -E UTF8 --locale=C \
    --no-sync --no-instructions >"$PG_ROOT/initdb.log" 2>&1 \
    || { tail_log "$PG_ROOT/initdb.log"; die "initdb failed in $PG_DATA; see the log above."; }
  printf "\ninclude_if_exists = 'stack.conf'\n" | as_pg tee -a "$PG_DATA/postgresql.conf" >/dev/null
}

check_pg_version() {
  local have want
  have="$(cat "$PG_DATA/PG_VERSION")"
  want="$("$PG_BIN/postgres" --version | sed -E 's/.* ([0-9]+)[.].*/\1/')"
  [[ "$have" == "$want" ]] || die "cluster in $PG_DATA is PostgreSQL $have but $PG_BIN is $want; run 'scripts/stack.sh down' and 'up' again."
}

# Rewritten before every start, because the port (and TLS) can change between starts.
write_pg_conf() {
  {
    echo "# written by scripts/stack.sh; throwaway test cluster, durability off on purpose"
    echo "port = $PG_PORT"
    echo "listen_addresses = '127.0.0.1'"
    echo "unix_socket_directories = '$PG_SOCK'"
    echo "max_connections = 200"
    echo "fsync = off"
    echo "synchronous_commit = off"
    echo "full_page_writes = off"
    echo "hba_file = '$PG_ROOT/pg_hba.conf'"
    if [[ "$TLS" == 1 ]]; then
      echo "ssl = on"
      echo "ssl_cert_file = '$PG_ROOT/server.crt'"
      echo "ssl_key_file = '$PG_ROOT/server.key'"
    fi
  } | as_pg tee "$PG_DATA/stack.conf" >/dev/null
}

# The superuser needs no password (tests and this script use it); every other
# role must give one, so wrong-password and read-only-role failures are real.
write_pg_hba() {
  {
    echo "# written by scripts/stack.sh"
    echo "local all postgres trust"
    echo "host  all postgres 127.0.0.1/32 trust"
    echo "local all all scram-sha-256"
    echo "host  all all 127.0.0.1/32 scram-sha-256"
  } | as_pg tee "$PG_ROOT/pg_hba.conf" >/dev/null
}

# PostgreSQL insists on a key file owned by its own user with mode 0600.
install_pg_certs() {
  [[ "$TLS" == 1 ]] || return 0
  cp "$TLS_DIR/server.crt" "$TLS_DIR/server.key" "$PG_ROOT/"
  chmod 600 "$PG_ROOT/server.key"
  if is_root; then chown postgres: "$PG_ROOT/server.crt" "$PG_ROOT/server.key"; fi
}

pg_running() {
  pg_initialized || return 1
  local pid
  pid="$(head -n1 "$PG_DATA/postmaster.pid" 2>/dev/null)" || return 1
  pid_runs "$pid" postgres
}

# The live port is line 4 of postmaster.pid; trust it over the state file.
pg_live_port() { sed -n 4p "$PG_DATA/postmaster.pid" 2>/dev/null; }

pg_conninfo() { echo "host=127.0.0.1 port=$PG_PORT user=$PG_SUPERUSER dbname=postgres connect_timeout=3 sslmode=prefer"; }

pg_answers() {
  [[ -n "$PG_PORT" ]] || return 1
  [[ "$("$PG_BIN/psql" -X -Atq -d "$(pg_conninfo)" -c 'select 1' 2>/dev/null)" == 1 ]]
}

wait_pg() {
  local deadline=$((SECONDS + TIMEOUT))
  until pg_answers; do
    if (( SECONDS >= deadline )); then
      tail_log "$PG_LOG"
      die "PostgreSQL in $PG_DATA did not answer on 127.0.0.1:$PG_PORT within ${TIMEOUT}s; see the log above."
    fi
    sleep 0.3
  done
}

start_pg() {
  PG_PORT="$(reuse_or_pick "$PG_PORT" "$PG_PORT_START" "$REDIS_PORT" "$REDIS_TLS_PORT")"
  install_pg_certs
  write_pg_conf
  write_pg_hba
  # Not running, so its lock files are stale; PostgreSQL itself would trust a zombie's pid in
  # them. The socket dir belongs to this cluster alone.
  rm -f "$PG_DATA/postmaster.pid" "$PG_SOCK"/.s.PGSQL.*
  say "starting PostgreSQL on 127.0.0.1:$PG_PORT"
  local _
  # After a kill -9 the old backends can hold the shared memory segment for a moment.
  for _ in 1 2 3; do
    if as_pg "$PG_BIN/pg_ctl" start -D "$PG_DATA" -l "$PG_LOG" -w -t "$TIMEOUT" >/dev/null 2>&1; then
      wait_pg
      return 0
    fi
    grep -q 'still in use' "$PG_LOG" 2>/dev/null || break
    sleep 2
  done
  tail_log "$PG_LOG"
  die "PostgreSQL failed to start from $PG_DATA on port $PG_PORT; see the log above, or run 'scripts/stack.sh down' to start over."
}

stop_pg() {
  pg_running || return 0
  say "stopping PostgreSQL ($PG_DATA)"
  as_pg "$PG_BIN/pg_ctl" stop -D "$PG_DATA" -m fast -w -t "$TIMEOUT" >/dev/null 2>&1 \
    || as_pg "$PG_BIN/pg_ctl" stop -D "$PG_DATA" -m immediate -w -t "$TIMEOUT" >/dev/null 2>&1 \
    || die "could not stop PostgreSQL running from $PG_DATA; kill its postmaster (pid $(head -n1 "$PG_DATA/postmaster.pid")) by hand."
}

ensure_pg() {
  choose_pg_root
  pg_initialized || init_pg
  check_pg_version
  if pg_running; then
    PG_PORT="$(pg_live_port)"
    wait_pg
  else
    start_pg
  fi
}

ensure_db() {
  local exists
  exists="$("$PG_BIN/psql" -X -Atq -d "$(pg_conninfo)" -c "select 1 from pg_database where datname = '$DB_NAME'")" \
    || die "could not query databases on 127.0.0.1:$PG_PORT; see $PG_LOG."
  [[ "$exists" == 1 ]] && return 0
  say "creating database $DB_NAME"
  "$PG_BIN/psql" -X -q -d "$(pg_conninfo)" -c "create database $DB_NAME owner $PG_SUPERUSER" >&2 \
    || die "could not create database $DB_NAME on 127.0.0.1:$PG_PORT; see $PG_LOG."
}

# ---------------------------------------------------------------- Redis

# Valkey names its process valkey-server; `down` may run without REDIS_SERVER_BIN.
runs_redis() { pid_runs "$1" redis-server || pid_runs "$1" valkey-server; }

redis_pid() {
  local pid
  pid="$(cat "$REDIS_PID" 2>/dev/null)" || return 1
  # A pid recorded before a reboot may now belong to some other program.
  runs_redis "$pid" || return 1
  echo "$pid"
}

redis_running() { redis_pid >/dev/null; }

redis_answers() { [[ -n "$REDIS_PORT" ]] && [[ "$(timeout 3 redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null)" == PONG ]]; }

wait_redis() {
  local deadline=$((SECONDS + TIMEOUT))
  until redis_answers; do
    if (( SECONDS >= deadline )); then
      tail_log "$REDIS_LOG"
      die "$REDIS_LABEL did not answer on 127.0.0.1:$REDIS_PORT within ${TIMEOUT}s; see the log above."
    fi
    sleep 0.2
  done
}

write_redis_conf() {
  {
    echo "# written by scripts/stack.sh; throwaway test instance, no persistence on purpose"
    echo "bind 127.0.0.1"
    echo "port $REDIS_PORT"
    echo "daemonize yes"
    echo "pidfile $REDIS_PID"
    echo "logfile $REDIS_LOG"
    echo "dir $REDIS_DIR"
    echo "databases 256"
    echo 'save ""'
    echo "appendonly no"
    if [[ "$TLS" == 1 ]]; then
      echo "tls-port $REDIS_TLS_PORT"
      echo "tls-cert-file $TLS_DIR/server.crt"
      echo "tls-key-file $TLS_DIR/server.key"
      echo "tls-ca-cert-file $TLS_DIR/ca.crt"
      echo "tls-auth-clients no"
    fi
  } >"$REDIS_CONF"
}

start_redis() {
  REDIS_PORT="$(reuse_or_pick "$REDIS_PORT" "$REDIS_PORT_START" "$PG_PORT")"
  if [[ "$TLS" == 1 ]]; then
    REDIS_TLS_PORT="$(reuse_or_pick "$REDIS_TLS_PORT" $((REDIS_PORT + 1)) "$PG_PORT" "$REDIS_PORT")"
  else
    REDIS_TLS_PORT=""
  fi
  rm -f "$REDIS_PID"
  mkdir -p "$REDIS_DIR"
  write_redis_conf
  say "starting $(basename "$REDIS_SERVER") on 127.0.0.1:$REDIS_PORT${REDIS_TLS_PORT:+ (TLS on $REDIS_TLS_PORT)}"
  if ! "$REDIS_SERVER" "$REDIS_CONF" </dev/null >>"$REDIS_LOG" 2>&1 9>&-; then
    tail_log "$REDIS_LOG"
    die "$REDIS_SERVER refused to start with $REDIS_CONF; see the log above."
  fi
  wait_redis
}

stop_redis() {
  local pid
  pid="$(redis_pid)" || { rm -f "$REDIS_PID"; return 0; }
  say "stopping $REDIS_LABEL (pid $pid)"
  if [[ -n "$REDIS_PORT" ]]; then
    timeout 5 redis-cli -h 127.0.0.1 -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
  fi
  local i
  for i in $(seq 1 50); do
    runs_redis "$pid" || return 0
    if (( i == 10 )); then kill -TERM "$pid" 2>/dev/null || true; fi
    if (( i == 40 )); then kill -KILL "$pid" 2>/dev/null || true; fi
    sleep 0.1
  done
  runs_redis "$pid" && die "could not stop $REDIS_LABEL (pid $pid); kill it by hand."
  rm -f "$REDIS_PID"
}

# A running stack keeps its server: a REDIS_SERVER_BIN it was not started with would go unused.
same_redis_server() {
  [[ -n "${REDIS_SERVER_BIN:-}" && "$REDIS_SERVER" == /* ]] || return 0
  local pid running
  pid="$(redis_pid)" || return 0
  running="$(realpath "/proc/$pid/exe" 2>/dev/null)" || return 0
  [[ "$running" == "$(realpath "$REDIS_SERVER")" ]] \
    || die "the stack's $REDIS_LABEL is already running $running, not REDIS_SERVER_BIN=$REDIS_SERVER_BIN; run 'scripts/stack.sh down' (STACK_DIR=$STACK_DIR) first."
}

# Runs "$@" with the Redis settings pointed at the stack's Valkey server (no TLS), so the
# Redis functions start, stop and probe it; VALKEY_PORT takes the port they picked.
as_valkey() {
  local REDIS_DIR="$STACK_DIR/valkey" REDIS_PORT="$VALKEY_PORT" REDIS_PORT_START="$VALKEY_PORT_START"
  local REDIS_CONF="$STACK_DIR/valkey/valkey.conf" REDIS_PID="$STACK_DIR/valkey/valkey.pid"
  local REDIS_LOG="$STACK_DIR/valkey/valkey.log" REDIS_TLS_PORT="" TLS=0 REDIS_SERVER=valkey-server
  local REDIS_LABEL="Valkey"
  # Not `"$@" || rc=$?`: that would turn off set -e inside whatever it runs.
  "$@"
  local rc=$?
  VALKEY_PORT="$REDIS_PORT"
  return "$rc"
}

ensure_redis() {
  if redis_running; then
    [[ -n "$REDIS_PORT" ]] || REDIS_PORT="$(awk '$1 == "port" {print $2}' "$REDIS_CONF")"
    wait_redis
    same_redis_server
  else
    start_redis
  fi
}

# ---------------------------------------------------------------- env output

env_lines() {
  echo "export DATABASE_URL=postgres://$PG_SUPERUSER@127.0.0.1:$PG_PORT/$DB_NAME"
  echo "export REDIS_URL=redis://127.0.0.1:$REDIS_PORT/0"
  echo "export STACK_PG_ADMIN_URL=postgres://$PG_SUPERUSER@127.0.0.1:$PG_PORT/postgres"
  [[ -z "$VALKEY_PORT" ]] || echo "export VALKEY_URL=redis://127.0.0.1:$VALKEY_PORT/0"
  if [[ "$TLS" == 1 ]]; then
    echo "export DATABASE_URL_TLS=postgres://$PG_SUPERUSER@127.0.0.1:$PG_PORT/$DB_NAME?sslmode=require"
    echo "export REDIS_URL_TLS=rediss://127.0.0.1:$REDIS_TLS_PORT/0"
    echo "export STACK_TLS_CA=$TLS_DIR/ca.crt"
  fi
  return 0
}

write_env() {
  env_lines >"$ENV_FILE.tmp"
  mv -f "$ENV_FILE.tmp" "$ENV_FILE"
}

# ---------------------------------------------------------------- commands

# Switching a running plain stack to TLS needs a restart of both servers; data is kept.
apply_tls_request() {
  local want_tls="$1"
  [[ "$want_tls" == 1 && "$TLS" != 1 ]] || return 0
  make_certs
  if pg_initialized; then stop_pg; fi
  stop_redis
  TLS=1
}

cmd_up() {
  local want_tls=0 want_valkey=0
  while (( $# )); do
    case "$1" in
      --tls) want_tls=1 ;;
      --valkey) want_valkey=1 ;;
      *) usage; die "unknown option for up: $1" ;;
    esac
    shift
  done
  take_lock
  ensure_tools "$want_tls" "$want_valkey"
  make_state_dir
  load_state
  apply_tls_request "$want_tls"
  ensure_pg
  ensure_redis
  # Started once asked for; a later `up` without --valkey keeps it.
  if (( want_valkey )) || [[ -n "$VALKEY_PORT" ]]; then as_valkey ensure_redis; fi
  save_state
  ensure_db
  write_env
  say "stack is up (state in $STACK_DIR)"
  cat "$ENV_FILE"
}

cmd_down() {
  take_lock
  if [[ ! -d "$STACK_DIR" ]]; then
    say "nothing to stop: $STACK_DIR does not exist"
    return 0
  fi
  load_state
  if [[ -n "$PG_BIN" ]] || find_pg_bin; then stop_pg; fi
  stop_redis
  # Also when its port never reached the state file (an `up` that failed after starting it).
  as_valkey stop_redis
  if [[ -L "$STACK_DIR/pg" ]]; then
    remove_owned_dir "$PG_ROOT"
    rmdir "$(dirname "$PG_ROOT")" 2>/dev/null || true
  fi
  remove_owned_dir "$STACK_DIR"
  say "stack is down; removed $STACK_DIR"
}

# Loads state and sets PG_OK / REDIS_OK / VALKEY_OK to 1 for each server that answers on its
# recorded port; a stack without Valkey counts its Valkey as fine.
PG_OK=0 REDIS_OK=0 VALKEY_OK=1
probe() {
  [[ -d "$STACK_DIR" ]] || return 0
  load_state
  if find_pg_bin && pg_running; then
    PG_PORT="$(pg_live_port)"
    pg_answers && PG_OK=1
  fi
  redis_running && redis_answers && REDIS_OK=1
  if [[ -n "$VALKEY_PORT" ]]; then as_valkey redis_answers || VALKEY_OK=0; fi
  return 0
}

cmd_status() {
  probe
  if (( PG_OK )); then
    echo "postgres: running  postgres://$PG_SUPERUSER@127.0.0.1:$PG_PORT/$DB_NAME  (data $PG_DATA)"
  else
    echo "postgres: not running"
  fi
  if (( REDIS_OK )); then
    echo "redis:    running  redis://127.0.0.1:$REDIS_PORT/0${REDIS_TLS_PORT:+  rediss://127.0.0.1:$REDIS_TLS_PORT/0}"
  else
    echo "redis:    not running"
  fi
  if [[ -n "$VALKEY_PORT" ]] && (( VALKEY_OK )); then
    echo "valkey:   running  redis://127.0.0.1:$VALKEY_PORT/0"
  elif [[ -n "$VALKEY_PORT" ]]; then
    echo "valkey:   not running"
  fi
  (( PG_OK && REDIS_OK && VALKEY_OK )) || { echo "(state dir: $STACK_DIR; start with scripts/stack.sh up)"; return 1; }
}

cmd_env() {
  probe
  (( PG_OK && REDIS_OK && VALKEY_OK )) || die "the stack is not up (state dir $STACK_DIR); run 'scripts/stack.sh up' first."
  # Regenerated rather than cat'ed so it is right even if the env file was lost.
  env_lines
}

main() {
  resolve_paths
  local cmd="${1:-}"
  [[ $# -gt 0 ]] && shift
  case "$cmd" in
    up) cmd_up "$@" ;;
    down|status|env)
      (( $# == 0 )) || { usage; die "'$cmd' takes no arguments (got: $*)"; }
      "cmd_$cmd" ;;
    -h|--help|help) usage ;;
    "") usage; exit 2 ;;
    *) usage; die "unknown command '$cmd'; use up, down, status or env." ;;
  esac
}

main "$@"
