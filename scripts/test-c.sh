#!/usr/bin/env bash
# C tests, registered with ctest, in one build tree per configuration:
#   plain           every test/c/test_*.c and the drop-in's tests, with internal asserts
#   asan            the same under AddressSanitizer + UndefinedBehaviorSanitizer; rmem marks its
#                   free memory for ASan (src/track.h), test_track checks the reports
#   tsan            ThreadSanitizer: the multi-threaded tests (test_os: instances and the handle
#                   registry on threads; test_shared: shared instances, cross-thread frees through
#                   the remote bitmap, fork; test_rmem_malloc: the drop-in's threads)
#   valgrind        every C test of an RMEM_VALGRIND build, run under valgrind's memcheck (errors
#                   and definite leaks fail a test); npm test's suite, npm run test:valgrind
#   valgrind-track  the same build, only test_track (the bugs memcheck must report)
#   bash scripts/test-c.sh [CONFIG ...]    (default: plain asan, in that order)
# npm test runs one configuration per suite. The build's progress is shown.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=2
cfgs=("$@")
[ ${#cfgs[@]} -gt 0 ] || cfgs=(plain asan)
for cfg in "${cfgs[@]}"; do
  dir=build/test-$cfg
  flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DRMEM_DEBUG=ON -DRMEM_BUILD_BENCH=OFF)
  targets=()
  only=()
  case $cfg in
    plain) ;;
    asan) flags+=(-DRMEM_SANITIZE=ON) ;;
    tsan)
      flags+=(-DRMEM_TSAN=ON)
      targets=(--target test_os test_shared test_rmem_malloc)
      only=(-R '^(test_os|test_shared|test_rmem_malloc)$')
      ;;
    valgrind | valgrind-track)
      command -v valgrind >/dev/null || { echo "test-c.sh: valgrind is needed (apt-get install valgrind)" >&2; exit 2; }
      dir=build/test-valgrind
      flags+=(-DRMEM_VALGRIND=ON)
      if [ "$cfg" = valgrind-track ]; then
        targets=(--target test_track)
        only=(-R '^test_track$')
      fi
      ;;
    *) echo "test-c.sh: unknown configuration $cfg (plain, asan, tsan, valgrind, valgrind-track)" >&2; exit 2 ;;
  esac
  echo "== C tests ($cfg): configuring and building $dir"
  cmake -S . -B "$dir" "${flags[@]}" >/dev/null
  cmake --build "$dir" -j "$jobs" "${targets[@]}"
  [ "$cfg" = tsan ] && export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1"
  # the fuzz corpus replays (label fuzz) are their own suite: scripts/fuzz.sh --replay
  [ ${#only[@]} -gt 0 ] || only=(-LE fuzz)
  ctest --test-dir "$dir" --output-on-failure -j "$jobs" "${only[@]}"
done
