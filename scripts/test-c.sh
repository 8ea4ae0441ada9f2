#!/usr/bin/env bash
# C tests: every test/c/test_*.c, in a plain build (with internal asserts) and
# under AddressSanitizer + UndefinedBehaviorSanitizer, registered with ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=2
for cfg in plain asan; do
  dir=build/test-$cfg
  flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DRMEM_DEBUG=ON -DRMEM_BUILD_BENCH=OFF)
  [ "$cfg" = asan ] && flags+=(-DRMEM_SANITIZE=ON)
  echo "== C tests ($cfg) =="
  cmake -S . -B "$dir" "${flags[@]}" >/dev/null
  cmake --build "$dir" -j "$jobs" >/dev/null
  ctest --test-dir "$dir" --output-on-failure -j "$jobs"
done
