#!/usr/bin/env bash
# C tests: every test/c/test_*.c, in a plain build (with internal asserts) and
# under AddressSanitizer + UndefinedBehaviorSanitizer, registered with ctest.
#   bash scripts/test-c.sh [plain] [asan]    (default: both, in that order)
# npm test runs one configuration per suite. The build's progress is shown.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=2
cfgs=("$@")
[ ${#cfgs[@]} -gt 0 ] || cfgs=(plain asan)
for cfg in "${cfgs[@]}"; do
  dir=build/test-$cfg
  flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DRMEM_DEBUG=ON -DRMEM_BUILD_BENCH=OFF)
  case $cfg in
    plain) ;;
    asan) flags+=(-DRMEM_SANITIZE=ON) ;;
    *) echo "test-c.sh: unknown configuration $cfg (plain, asan)" >&2; exit 2 ;;
  esac
  echo "== C tests ($cfg): configuring and building $dir"
  cmake -S . -B "$dir" "${flags[@]}" >/dev/null
  cmake --build "$dir" -j "$jobs"
  ctest --test-dir "$dir" --output-on-failure -j "$jobs"
done
