#!/usr/bin/env bash
# The demo's test (tests/demo/CMakeLists.txt): demo_test.sh PGSTREAM_BINARY SECONDS
#
# Checks that `pgstream demo --seconds N` (stdout a pipe: one "t=..." line per
# refresh)
#   - exits 0 and says "check: ok" (every stream table equals its query),
#   - showed the stream tables changing: the orders counted by
#     revenue_by_region, the rows of order_details and the frontier differ
#     between the first and the last refresh,
#   - left nothing behind: its temp dir is gone and no process runs from it
#     (the server's processes run with their cwd in the data dir, the
#     postmaster and the daemon name it on their command line),
# and that on a terminal (script(1)) it redraws a frame that fits it.
set -uo pipefail

binary=${1:?usage: demo_test.sh PGSTREAM_BINARY SECONDS}
seconds=${2:-10}
out=$(mktemp)
trap 'rm -f "$out"' EXIT

fail() {
  echo "demo test: $*" >&2
  echo "--- the demo's output:" >&2
  cat "$out" >&2
  exit 1
}

# Bad arguments: exit code 1 and what is wrong, before anything starts.
for args in "--seconds" "--seconds 0" "--seconds ten" "--rate 5"; do
  # shellcheck disable=SC2086  # split on purpose
  message=$("$binary" demo $args 2>&1 </dev/null)
  code=$?
  [ "$code" -eq 1 ] || fail "pgstream demo $args: exit code $code, expected 1 ($message)"
  [[ "$message" == *"usage error"* ]] || fail "pgstream demo $args: no usage error: $message"
done

started=$(date +%s%N)
timeout --kill-after=10 240 "$binary" demo --seconds "$seconds" >"$out" 2>&1 </dev/null
status=$?
elapsed_ms=$((($(date +%s%N) - started) / 1000000))
echo "demo test: pgstream demo --seconds $seconds took $((elapsed_ms / 1000)).$(printf %03d $((elapsed_ms % 1000))) s, exit code $status"

dir=$(sed -n 's/^pgstream demo: temp dir //p' "$out" | head -n 1)
[ -n "$dir" ] || fail "the demo did not print its temp dir"

# Nothing left running from the temp dir, whatever the exit code.
leftovers=""
for proc in /proc/[0-9]*; do
  [ "$proc" = "/proc/$$" ] && continue
  cmdline=$(tr '\0' ' ' 2>/dev/null <"$proc/cmdline") || continue
  cwd=$(readlink "$proc/cwd" 2>/dev/null || true)
  if [[ "$cmdline" == *"$dir"* || "$cwd" == "$dir"* ]]; then
    leftovers+="${proc#/proc/} ($cmdline, cwd $cwd); "
  fi
done
[ -z "$leftovers" ] || fail "processes left running from $dir: $leftovers"
[ ! -e "$dir" ] || fail "the temp dir $dir is still there"
grep -q "^pgstream demo: stopped; removed $dir\$" "$out" || fail "no 'stopped; removed' line"

[ "$status" -eq 0 ] || fail "exit code $status, expected 0"
grep -q '^pgstream demo: check: ok' "$out" || fail "the final check did not pass"

mapfile -t refreshes < <(grep '^t=' "$out")
[ "${#refreshes[@]}" -ge 3 ] || fail "expected at least 3 refresh lines, got ${#refreshes[@]}"
field() { grep -o " $1=[^ ]*" <<<"$2" | head -n 1 | cut -d= -f2; }
first=${refreshes[0]}
last=${refreshes[${#refreshes[@]}-1]}
for name in orders details frontier; do
  a=$(field "$name" "$first")
  b=$(field "$name" "$last")
  if [ -z "$a" ] || [ -z "$b" ]; then fail "no $name= in the refresh lines"; fi
  [ "$a" != "$b" ] || fail "$name did not change between the first and the last refresh ($a)"
done
writer=$(field writer "$last")
[ "${writer%tx/s}" -gt 0 ] 2>/dev/null || fail "the writer wrote nothing in the last second ($writer)"

# On a terminal (script(1) gives it one, 24x80): the frame is redrawn in
# place, cut to the terminal, with the three stream tables live.
if command -v script >/dev/null; then
  TERM=xterm script -q -e -c "stty rows 24 cols 80; '$binary' demo --seconds 2" /dev/null >"$out" 2>&1 </dev/null
  status=$?
  [ "$status" -eq 0 ] || fail "on a terminal: exit code $status"
  grep -q $'\e\[H' "$out" || fail "on a terminal: no frame redrawn in place"
  for table in revenue_by_region top_products order_details; do
    grep -q "$table \[ACTIVE\]" "$out" || fail "on a terminal: $table is not shown ACTIVE"
  done
  grep -q '^pgstream demo: check: ok' "$out" || fail "on a terminal: the final check did not pass"
  # The frame's lines end with "clear to end of line"; without escapes, none may be wider than 80.
  if grep -a $'\e\[K' "$out" | sed -e $'s/\r//g' -e $'s/\e\\[[0-9;?]*[A-Za-z]//g' |
    awk 'length($0) > 80 { found = 1 } END { exit !found }'; then
    fail "on a terminal: a line is wider than the terminal"
  fi
fi

echo "demo test: ok: ${#refreshes[@]} refreshes; orders $(field orders "$first") -> $(field orders "$last"), frontier $(field frontier "$first") -> $(field frontier "$last")"
