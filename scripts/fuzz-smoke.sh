#!/usr/bin/env bash
# Runs every libFuzzer target of a fuzz build for a while, starting from its
# committed corpus (fuzz/corpus/<target>/). New inputs go to a temp dir, never
# into the repository. Usage: scripts/fuzz-smoke.sh BUILD_DIR SECONDS
set -euo pipefail
build=${1:?usage: fuzz-smoke.sh BUILD_DIR SECONDS}
seconds=${2:-60}
src=$(cd "$(dirname "$0")/.." && pwd)
shopt -s nullglob
targets=("$build"/fuzz/fuzz_*)
if [ ${#targets[@]} -eq 0 ]; then
  echo "fuzz-smoke: no fuzz targets in $build/fuzz" >&2
  exit 1
fi
for target in "${targets[@]}"; do
  [ -x "$target" ] || continue
  name=$(basename "$target")
  scratch=$(mktemp -d)
  trap 'rm -rf "$scratch"' EXIT
  echo "fuzz-smoke: $name for ${seconds}s"
  "$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    "$scratch" "$src/fuzz/corpus/${name#fuzz_}"
  rm -rf "$scratch"
  trap - EXIT
done
