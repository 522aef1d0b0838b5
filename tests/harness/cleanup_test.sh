#!/usr/bin/env bash
# A test binary whose test fails, crashes or is killed with SIGKILL leaves no
# PostgreSQL server running; its temp dir is gone at once (fail, crash) or
# after the sweep (kill -9, which no process can clean up after itself).
# Usage: cleanup_test.sh TEST_HARNESS_BINARY PG_TEST_CLUSTER_SH
set -uo pipefail
binary=$1
cluster_sh=$2
failures=0

server_of() {  # pids of processes started with -D <dir>/data
  local dir=$1 pid
  for pid in $(ls /proc | grep -E '^[0-9]+$'); do
    tr '\0' ' ' 2>/dev/null < /proc/$pid/cmdline | grep -qF -- "-D $dir/data" && echo "$pid"
  done
}

wait_no_server() {  # the kernel delivers the death signal; the postmaster takes a moment to exit
  local dir=$1
  for _ in $(seq 1 200); do
    [ -z "$(server_of "$dir")" ] && return 0
    sleep 0.05
  done
  return 1
}

check() {
  local tag=$1 expect_dir_gone=$2 out dir
  out=$("$binary" "$tag" 2>&1)
  dir=$(sed -n 's/^cluster-dir: //p' <<<"$out" | head -n 1)
  if [ -z "$dir" ]; then
    echo "FAIL $tag: the test did not start a cluster"; echo "$out"; failures=$((failures + 1)); return
  fi
  if ! wait_no_server "$dir"; then
    echo "FAIL $tag: a server is still running on $dir"; failures=$((failures + 1))
    kill -QUIT $(server_of "$dir") 2>/dev/null
  fi
  if [ "$expect_dir_gone" = yes ] && [ -e "$dir" ]; then
    echo "FAIL $tag: $dir was left behind"; failures=$((failures + 1))
  fi
  if [ "$expect_dir_gone" = after-sweep ]; then
    "$cluster_sh" sweep "$(dirname "$dir")" >/dev/null
    if [ -e "$dir" ]; then echo "FAIL $tag: the sweep left $dir"; failures=$((failures + 1)); fi
  fi
  echo "ok $tag: no server left on $dir; dir $( [ -e "$dir" ] && echo present || echo removed )"
}

check "[.failing]" yes
check "[.crashing]" yes
check "[.killed]" after-sweep
if [ "$failures" -ne 0 ]; then echo "$failures cleanup failure(s)"; exit 1; fi
echo "cleanup: all cases clean"
