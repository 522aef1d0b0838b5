#!/usr/bin/env bash
# Lint of the project's own sources; fails on any finding.
#   scripts/lint.sh BUILD_DIR   clang-format (dry run), clang-tidy (with BUILD_DIR's
#                               compile_commands.json) and cppcheck
#   scripts/lint.sh --fix       reformat every source file in place
set -euo pipefail
cd "$(dirname "$0")/.."

sources() {  # $1: extensions regex; the folders that hold our code
  local dirs=() dir
  for dir in src include tests bench fuzz; do [ -d "$dir" ] && dirs+=("$dir"); done
  find "${dirs[@]}" -type f -regextype posix-extended -regex ".*\.($1)" | sort
}

if [ "${1:-}" = "--fix" ]; then
  sources 'cpp|hpp|h|cc' | xargs -r clang-format -i
  exit 0
fi

build=${1:?usage: scripts/lint.sh BUILD_DIR | --fix}
[ -f "$build/compile_commands.json" ] || { echo "lint: no $build/compile_commands.json (build first)" >&2; exit 1; }
jobs=$(nproc)
status=0

echo "lint: clang-format"
sources 'cpp|hpp|h|cc' | xargs -r clang-format --dry-run --Werror || status=1

echo "lint: clang-tidy"
# Product code only (src/); headers are checked through the files that include them.
tidy_log=$(mktemp)
trap 'rm -f "$tidy_log"' EXIT
if ! sources 'cpp' | grep '^src/' | xargs -r -P "$jobs" -n 4 clang-tidy -p "$build" --quiet >"$tidy_log" 2>&1; then
  status=1
fi
grep -vE '^[0-9]+ warnings? (and [0-9]+ errors? )?generated|^Suppressed [0-9]+ warnings|^Use -header-filter|^Error while processing' \
  "$tidy_log" || true

echo "lint: cppcheck"
cppcheck --quiet --enable=warning,performance,portability --std=c++20 --language=c++ \
  --error-exitcode=1 --inline-suppr --suppress=missingIncludeSystem \
  -I include -I "$build/include" src || status=1

if [ "$status" -ne 0 ]; then echo "lint: FAILED" >&2; else echo "lint: clean"; fi
exit "$status"
