#!/usr/bin/env bash
# The libFuzzer harnesses (fuzz/fuzz_*.c) and their corpora (fuzz/corpus/<harness>, kept in git).
#
#   npm run fuzz [-- SECONDS]   build the harnesses with clang + libFuzzer + ASan + UBSan, run each for
#                               SECONDS (default 60) from its corpus, then merge what it found back into
#                               fuzz/corpus/<harness>, minimised (libFuzzer's -merge=1 into a fresh
#                               directory, edges as features): the corpus only grows in coverage, never in
#                               redundant files.
#                               Prints each harness's executions per second. A finding stops nothing else:
#                               the reproducer is kept in build/fuzz/artifacts/ and the script fails.
#   bash scripts/fuzz.sh --replay
#                               every corpus file through its harness once, with a plain main() driver
#                               (fuzz/replay.c) in the ASan+UBSan build of the C tests (build/test-asan):
#                               npm test's suite, seconds. Any C compiler; no libFuzzer needed.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" = --replay ]; then
  dir=build/test-asan
  echo "== fuzz corpus replay: building the replay drivers in $dir (ASan+UBSan)"
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRMEM_DEBUG=ON -DRMEM_BUILD_BENCH=OFF -DRMEM_SANITIZE=ON >/dev/null
  targets=()
  for src in fuzz/fuzz_*.c; do targets+=("replay_$(basename "$src" .c)"); done
  cmake --build "$dir" -j 2 --target "${targets[@]}"
  for src in fuzz/fuzz_*.c; do
    name=$(basename "$src" .c)
    echo "   $name: $(find "fuzz/corpus/$name" -type f 2>/dev/null | wc -l) inputs"
  done
  exec ctest --test-dir "$dir" --output-on-failure -j 2 -L fuzz
fi

secs=${1:-${FUZZ_SECONDS:-60}}
command -v clang >/dev/null || { echo "fuzz: clang is needed (apt-get install clang)"; exit 1; }
cmake -S . -B build/fuzz -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug -DRMEM_BUILD_FUZZ=ON \
  -DRMEM_BUILD_TESTS=OFF -DRMEM_BUILD_BENCH=OFF >/dev/null
cmake --build build/fuzz -j 2 >/dev/null
status=0
mkdir -p build/fuzz/artifacts
for src in fuzz/fuzz_*.c; do
  name=$(basename "$src" .c)
  f=build/fuzz/$name
  [ -x "$f" ] || continue
  corpus=fuzz/corpus/$name
  found=build/fuzz/found/$name
  merged=build/fuzz/merged/$name
  mkdir -p "$corpus"
  rm -rf "$found" "$merged"
  mkdir -p "$found" "$merged"
  # Edges, not hit-count buckets, are the features (-use_counters=0), and the schedule is libFuzzer's plain
  # one (-entropic=0): with counter buckets a run of these harnesses hits some 12,000 features, and the
  # entropic schedule's bookkeeping of them took 70% of every run (3,300 exec/s against 17,000 with both
  # off). FUZZ_FLAGS adds or overrides libFuzzer flags.
  # shellcheck disable=SC2206
  opts=(-max_len=4096 -use_counters=0 -entropic=0 -artifact_prefix="build/fuzz/artifacts/$name-" ${FUZZ_FLAGS:-})
  # fuzz_malloc reports every bad free it makes on stderr (continue mode): close the target's stderr
  [ "$name" = fuzz_malloc ] && opts+=(-close_fd_mask=2)
  before=$(find "$corpus" -type f | wc -l)
  echo "== $name for ${secs}s (corpus: $before inputs)"
  # new inputs go to the first directory; the corpus is read, never written
  if ! "$f" -max_total_time="$secs" -print_final_stats=1 "${opts[@]}" "$found" "$corpus" > "build/fuzz/$name.log" 2>&1; then
    status=1
    echo "   FINDING: see build/fuzz/$name.log and build/fuzz/artifacts/"
  fi
  grep -E "^stat::(number_of_executed_units|average_exec_per_sec)|^Done" "build/fuzz/$name.log" | sed 's/^/   /' || true
  # minimise the union into a fresh directory, then make it the corpus
  "$f" -merge=1 "${opts[@]}" "$merged" "$corpus" "$found" > "build/fuzz/$name.merge.log" 2>&1 || {
    status=1
    echo "   merge failed: see build/fuzz/$name.merge.log"
    continue
  }
  rm -rf "$corpus"
  mkdir -p "$corpus"
  cp "$merged"/* "$corpus"/ 2>/dev/null || true
  echo "   corpus: $before -> $(find "$corpus" -type f | wc -l) inputs ($(du -sk "$corpus" | cut -f1) KiB)"
done
exit $status
