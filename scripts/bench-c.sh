#!/usr/bin/env bash
# npm run bench:c - the C benchmarks, never part of npm test.
#
# Builds a Release tree in build/bench, then
#  - runs bench_heap once per allocator per round (rmem, glibc, and jemalloc,
#    mimalloc, tcmalloc under LD_PRELOAD when installed), rounds alternating
#    the order, and prints medians and ratios (bench/c/summarize-heap.js);
#  - runs every other bench/c/bench_* binary (each measures its own baselines
#    in the same process and prints medians and ratios).
# Results: bench/results/c-*.json. ROUNDS=n sets the rounds (default 5);
# RMEM_BENCH_SMOKE=1 makes every run tiny (used by the smoke test).
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${ROUNDS:-5}
[ -n "${RMEM_BENCH_SMOKE:-}" ] && rounds=1
out=bench/results
mkdir -p "$out"

cmake -S . -B build/bench -DCMAKE_BUILD_TYPE=Release -DRMEM_BUILD_TESTS=OFF -DRMEM_BUILD_BENCH=ON >/dev/null
cmake --build build/bench -j 2 >/dev/null

libdir=/usr/lib/x86_64-linux-gnu
declare -A preload=([glibc]="")
[ -e $libdir/libjemalloc.so.2 ] && preload[jemalloc]=$libdir/libjemalloc.so.2
[ -e $libdir/libmimalloc.so.2 ] && preload[mimalloc]=$libdir/libmimalloc.so.2
[ -e $libdir/libtcmalloc_minimal.so.4 ] && preload[tcmalloc]=$libdir/libtcmalloc_minimal.so.4
names=(rmem "${!preload[@]}")
if [ ${#preload[@]} -lt 4 ]; then
  echo "note: jemalloc/mimalloc/tcmalloc baselines need: apt-get install libjemalloc2 libmimalloc2.0 libtcmalloc-minimal4" >&2
fi

echo "== bench_heap: ${#names[@]} allocators x $rounds rounds (alternating order) =="
: > "$out/c-heap.jsonl"
for ((round = 0; round < rounds; round++)); do
  if ((round % 2)); then order=($(printf '%s\n' "${names[@]}" | tac)); else order=("${names[@]}"); fi
  for name in "${order[@]}"; do
    if [ "$name" = rmem ]; then
      build/bench/bench_heap rmem rmem >> "$out/c-heap.jsonl"
    else
      LD_PRELOAD="${preload[$name]}" build/bench/bench_heap system "$name" >> "$out/c-heap.jsonl"
    fi
    printf '.' >&2
  done
done
echo >&2
node bench/c/summarize-heap.js "$out/c-heap.jsonl" "$out/c-heap.json"

for b in build/bench/bench_*; do
  name=$(basename "$b")
  [ "$name" = bench_heap ] && continue
  [ -x "$b" ] || continue
  echo
  echo "== $name =="
  "$b" | tee "$out/c-${name#bench_}.txt"
done
