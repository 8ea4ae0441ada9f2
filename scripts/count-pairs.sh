#!/usr/bin/env bash
# scripts/count-pairs.sh - instructions per LIFO alloc+free pair (sizes 16..256; 64-byte
# slab objects), counted by valgrind --tool=callgrind, which repeats exactly where wall
# time does not. Each mode runs with N and 2N pairs; (total(2N) - total(N)) / N is the
# cost of one pair, its loop included, set-up excluded. Part of npm run bench:c.
#   bash scripts/count-pairs.sh [N]      (default 200000)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-200000}
command -v valgrind >/dev/null || { echo "count-pairs: valgrind is not installed"; exit 0; }
cmake -S . -B build/bench -DCMAKE_BUILD_TYPE=Release -DRMEM_BUILD_TESTS=OFF -DRMEM_BUILD_BENCH=ON >/dev/null
cmake --build build/bench -j 2 --target bench_pairs rmem_malloc >/dev/null
bin=build/bench/bench_pairs
libdir=/usr/lib/x86_64-linux-gnu
total() { # mode pairs [preload]
  local out
  out=$(mktemp)
  if [ -n "${3:-}" ]; then
    LD_PRELOAD="$3" valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" "$1" "$2" 2>"$out" >/dev/null
  else
    valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" "$1" "$2" 2>"$out" >/dev/null
  fi
  grep -o 'Collected : [0-9]*' "$out" | grep -o '[0-9]*$'
  rm -f "$out"
}
per_pair() { # label mode [preload]
  local a b
  a=$(total "$2" "$n" "${3:-}")
  b=$(total "$2" $((2 * n)) "${3:-}")
  printf '  %-34s %6.1f instructions per pair\n' "$1" "$(echo "($b - $a) / $n" | bc -l)"
  printf '{"bench":"pairs","what":"%s","instructions_per_pair":%s}\n' "$1" "$(echo "($b - $a) / $n" | bc -l)" >> bench/results/c-pairs.jsonl
}
mkdir -p bench/results
: > bench/results/c-pairs.jsonl
echo "== instructions per LIFO alloc+free pair (callgrind; N = $n and 2N) =="
per_pair "rmem_alloc / rmem_free" heap
per_pair "r_alloc / r_free (shared default)" r
per_pair "rmem_local_alloc / _free (shared)" local
per_pair "rmem_slab_alloc / rmem_slab_free" slab
per_pair "malloc / free: glibc" system
per_pair "malloc / free: rmem drop-in" system "$PWD/build/bench/malloc/librmem-malloc.so"
for a in jemalloc:libjemalloc.so.2 mimalloc:libmimalloc.so.2 tcmalloc:libtcmalloc_minimal.so.4; do
  name=${a%%:*}
  lib=$libdir/${a#*:}
  [ -e "$lib" ] && per_pair "malloc / free: $name" system "$lib"
done
