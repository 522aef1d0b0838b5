#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for shell use (the C++ tests use the same
# settings from tests/support/pg_cluster.cpp).
#
#   scripts/pg-test-cluster.sh start DIR   initdb in DIR, start on a free port; prints
#                                          PGHOST/PGPORT/PGUSER lines to eval
#   scripts/pg-test-cluster.sh stop DIR    stop the server of DIR (by its pid) and remove DIR
#   scripts/pg-test-cluster.sh sweep BASE  stop and remove what crashed test binaries left
#                                          in BASE/pg-* (skips dirs whose test still runs)
#
# As root, the server runs as the OS user pgstream-test (created if missing):
# PostgreSQL refuses to run as root. Processes are only ever found by their
# data dir or pid, never by name.
set -euo pipefail

SERVER_USER=pgstream-test
LOCALE=en_US.UTF-8

die() { echo "pg-test-cluster: $*" >&2; exit 1; }

bindir() {
  if [ -n "${PGSTREAM_PG_BINDIR:-}" ]; then echo "$PGSTREAM_PG_BINDIR"; return; fi
  local dir
  dir=$(pg_config --bindir 2>/dev/null || true)
  [ -x "$dir/initdb" ] || dir=/usr/lib/postgresql/15/bin
  [ -x "$dir/initdb" ] || die "no initdb found: run scripts/install-deps.sh"
  echo "$dir"
}

as_server_user() {
  if [ "$(id -u)" -eq 0 ]; then
    id "$SERVER_USER" >/dev/null 2>&1 ||
      useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$SERVER_USER"
    setpriv --reuid="$SERVER_USER" --regid="$SERVER_USER" --clear-groups -- "$@"
  else
    "$@"
  fi
}

free_port() {  # a random port in 20000-59999 that nothing listens on
  local port
  for _ in $(seq 1 50); do
    port=$((20000 + RANDOM % 40000))
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || { echo "$port"; return; }
  done
  die "no free port found"
}

# The postmaster pid of DIR/data if it runs with -D DIR/data, else nothing.
server_pid() {
  local data=$1/data pid
  [ -f "$data/postmaster.pid" ] || return 0
  pid=$(head -n 1 "$data/postmaster.pid")
  [ -r "/proc/$pid/cmdline" ] || return 0
  tr '\0' ' ' < "/proc/$pid/cmdline" | grep -qF -- "-D $data" && echo "$pid"
  return 0
}

stop_dir() {
  local dir=$1 pid
  pid=$(server_pid "$dir")
  if [ -n "$pid" ]; then
    kill -QUIT "$pid" 2>/dev/null || true
    for _ in $(seq 1 600); do [ -d "/proc/$pid" ] || break; sleep 0.05; done
    [ -d "/proc/$pid" ] && kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -rf "$dir"
}

cmd_start() {
  local dir=${1:?usage: start DIR} bin port
  bin=$(bindir)
  mkdir -p "$dir/sock"
  [ "$(id -u)" -eq 0 ] && { as_server_user true; chown "$SERVER_USER:" "$dir" "$dir/sock"; }
  as_server_user "$bin/initdb" -D "$dir/data" -U postgres --auth=trust --encoding=UTF8 \
    --locale="$LOCALE" --no-sync >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; die "initdb failed"; }
  port=$(free_port)
  cat >>"$dir/data/postgresql.conf" <<CONF

# pg_stream test cluster
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir/sock'
wal_level = logical
max_replication_slots = 32
max_wal_senders = 32
max_connections = 200
fsync = off
full_page_writes = off
max_wal_size = '2GB'
CONF
  as_server_user "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start >/dev/null ||
    { cat "$dir/server.log" >&2; die "the server did not start"; }
  echo "export PGHOST=127.0.0.1 PGPORT=$port PGUSER=postgres PGDATABASE=postgres"
}

cmd_sweep() {
  local base=${1:?usage: sweep BASE} dir owner
  [ -d "$base" ] || return 0
  for dir in "$base"/pg-*; do
    [ -d "$dir" ] || continue
    owner=$(cat "$dir/owner.pid" 2>/dev/null || true)
    if [ -n "$owner" ] && [ -d "/proc/$owner" ]; then continue; fi  # its test binary still runs
    echo "pg-test-cluster: removing $dir left by test process ${owner:-?}"
    stop_dir "$dir"
  done
}

case "${1:-}" in
  start) cmd_start "${2:-}" ;;
  stop) stop_dir "${2:?usage: stop DIR}" ;;
  sweep) cmd_sweep "${2:-}"; cmd_sweep "${TMPDIR:-/tmp}/pgstream-test" ;;
  *) die "usage: $0 start DIR | stop DIR | sweep BASE" ;;
esac
