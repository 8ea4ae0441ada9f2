#!/usr/bin/env bash
# scripts/bench-malloc.sh - `npm run bench:malloc` (issue 7).
#
# Builds librmem-malloc.so and the workloads of bench/malloc (Release, in
# build/bench-malloc), installs the other allocators if they are missing
# (Debian packages libjemalloc-dev libmimalloc-dev libtcmalloc-minimal4, with
# apt-get, only when running as root), then runs bench/malloc/run.js: every
# workload under glibc, jemalloc, mimalloc, tcmalloc and rmem in the same run,
# medians of several runs, ratios against the best; the results also go to
# bench/results/malloc.json for the HTML report. Extra arguments go to run.js
# (--runs N, --scale S, --only a,b, --allocators a,b, --json file; --help).
set -euo pipefail
cd "$(dirname "$0")/.."
for a in "$@"; do
  # the usage needs no build and no packages
  if [ "$a" = --help ] || [ "$a" = -h ]; then exec node bench/malloc/run.js --help; fi
done
libdir=/usr/lib/x86_64-linux-gnu
missing=()
[ -f $libdir/libjemalloc.so.2 ] || missing+=(libjemalloc-dev)
[ -f $libdir/libmimalloc.so.2 ] || missing+=(libmimalloc-dev)
[ -f $libdir/libtcmalloc_minimal.so.4 ] || missing+=(libtcmalloc-minimal4)
command -v sqlite3 >/dev/null || missing+=(sqlite3)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "== installing ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null || echo "apt-get failed; the missing allocators are skipped"
  else
    echo "missing ${missing[*]} (not root: they are skipped)"
  fi
fi
dir=build/bench-malloc
cmake -S . -B $dir -DCMAKE_BUILD_TYPE=Release -DRMEM_BUILD_TESTS=OFF >/dev/null
# every workload of bench/malloc (wl_*.c; run.js's table, bench/malloc/workloads.js, names them)
workloads=$(cd bench/malloc && ls wl_*.c | sed 's/\.c$//')
# shellcheck disable=SC2086
cmake --build $dir -j 2 --target rmem_malloc measure $workloads >/dev/null
exec node bench/malloc/run.js --bin $dir/malloc "$@"
