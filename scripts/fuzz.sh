#!/usr/bin/env bash
# npm run fuzz [-- SECONDS] - build the libFuzzer harnesses (fuzz/fuzz_*.c) with
# clang + ASan + UBSan and run each for SECONDS (default 60) with its corpus in
# fuzz/corpus/<name>. A finding stops the run with the reproducer saved as crash-*.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-${FUZZ_SECONDS:-60}}
command -v clang >/dev/null || { echo "fuzz: clang is needed (apt-get install clang)"; exit 1; }
cmake -S . -B build/fuzz -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug -DRMEM_BUILD_FUZZ=ON \
  -DRMEM_BUILD_TESTS=OFF -DRMEM_BUILD_BENCH=OFF >/dev/null
cmake --build build/fuzz -j 2 >/dev/null
for f in build/fuzz/fuzz_*; do
  [ -x "$f" ] || continue
  name=$(basename "$f")
  mkdir -p "fuzz/corpus/$name"
  echo "== $name for ${secs}s =="
  extra=()
  # fuzz_malloc reports every bad free it makes on stderr (continue mode): close the target's stderr
  [ "$name" = fuzz_malloc ] && extra=(-close_fd_mask=2)
  "$f" -max_total_time="$secs" -max_len=4096 -print_final_stats=1 "${extra[@]}" "fuzz/corpus/$name" 2>&1 | tail -n 12
done
