#!/usr/bin/env bash
# npm run test:c-install (part of npm test): C users can consume an installed
# rmem. Builds build/c-install (Release, no tests, no benchmarks), installs it
# into a temporary prefix, then builds the README's C example against that
# prefix the ways the README shows and runs each program:
#   find_package(rmem): rmem::rmem (shared), rmem::rmem_static, rmem::malloc
#   pkg-config rmem: shared with an RPATH, shared with LD_LIBRARY_PATH, librmem.a
#   pkg-config rmem-malloc
# Ends with "c-install: N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
jobs=2
build=build/c-install
tmp=$(mktemp -d "${TMPDIR:-/tmp}/rmem-c-install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix
passed=0
failed=0

check() { # check NAME COMMAND... : runs it, output shown on failure
  local name=$1
  shift
  if out=$("$@" 2>&1); then
    passed=$((passed + 1))
    echo "ok - $name"
  else
    failed=$((failed + 1))
    echo "not ok - $name"
    printf '%s\n' "$out" | sed 's/^/    /'
  fi
}

finish() {
  echo "c-install: $passed passed, $failed failed"
  [ "$failed" = 0 ]
  exit
}

echo "== C install: building $build (Release) and installing into a temporary prefix"
if ! cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DRMEM_BUILD_TESTS=OFF -DRMEM_BUILD_BENCH=OFF >/dev/null ||
   ! cmake --build "$build" -j "$jobs" ||
   ! cmake --install "$build" --prefix "$prefix" >/dev/null; then
  failed=$((failed + 1))
  echo "not ok - build and install rmem"
  finish
fi
passed=$((passed + 1))
echo "ok - build and install rmem into $prefix"

headers=$(cd include && printf 'include/%s ' *.h)
for f in $headers include/rmem_malloc.h lib/librmem.a lib/librmem.so lib/librmem-malloc.so \
         lib/cmake/rmem/rmemConfig.cmake lib/cmake/rmem/rmemConfigVersion.cmake lib/cmake/rmem/rmemTargets.cmake \
         lib/pkgconfig/rmem.pc lib/pkgconfig/rmem-malloc.pc; do
  check "installed $f" test -e "$prefix/$f"
done

node scripts/readme-examples.js c > "$tmp/app.c"
expect='double free' # the example prints the last error message of the double free

run_expect() { # run_expect PROGRAM [VAR=VALUE...]: exits 0 and prints the double-free message
  local prog=$1 o
  shift
  o=$(env "$@" "$prog" 2>&1) && grep -qi "$expect" <<<"$o" && return 0
  echo "$o"
  return 1
}
runs() { # runs NAME PROGRAM [VAR=VALUE...]
  local name=$1
  shift
  check "$name" run_expect "$@"
}

# --- find_package
cb=$tmp/consumer-build
if cmake -S test/c-consumer -B "$cb" -DCMAKE_PREFIX_PATH="$prefix" -DAPP_SOURCE="$tmp/app.c" >"$tmp/configure.log" 2>&1 &&
   cmake --build "$cb" -j "$jobs" >"$tmp/build.log" 2>&1; then
  passed=$((passed + 1))
  echo "ok - find_package(rmem): a project using rmem::rmem, rmem::rmem_static and rmem::malloc builds"
  runs "find_package: the README example linked with rmem::rmem runs (RUNPATH from CMake)" "$cb/app_shared"
  runs "find_package: the README example linked with rmem::rmem_static runs" "$cb/app_static"
  check "find_package: rmem::rmem_static needs no librmem.so" \
    bash -c "! readelf -d '$cb/app_static' | grep -q 'librmem\\.so'"
  check "find_package: rmem::malloc program runs" "$cb/malloc_app"
else
  failed=$((failed + 1))
  echo "not ok - find_package(rmem): the consumer project builds"
  sed 's/^/    /' "$tmp/configure.log" "$tmp/build.log" 2>/dev/null | tail -40
fi

# --- pkg-config
export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
if command -v pkg-config >/dev/null; then
  libdir=$(pkg-config --variable=libdir rmem)
  check "pkg-config rmem: version $(pkg-config --modversion rmem 2>/dev/null), libdir inside the prefix" \
    test "$(realpath "$libdir")" = "$(realpath "$prefix/lib")"
  # shellcheck disable=SC2046 # word splitting of pkg-config's flags is the point
  check "pkg-config rmem: the README example builds against librmem.so (with an RPATH)" \
    cc -std=c11 "$tmp/app.c" $(pkg-config --cflags --libs rmem) -Wl,-rpath,"$libdir" -o "$tmp/app_pc_rpath"
  runs "pkg-config rmem: it runs, librmem.so found through its RPATH" "$tmp/app_pc_rpath"
  # shellcheck disable=SC2046
  check "pkg-config rmem: the README example builds against librmem.so (no RPATH)" \
    cc -std=c11 "$tmp/app.c" $(pkg-config --cflags --libs rmem) -o "$tmp/app_pc"
  runs "pkg-config rmem: it runs with LD_LIBRARY_PATH" "$tmp/app_pc" "LD_LIBRARY_PATH=$libdir"
  # shellcheck disable=SC2046
  check "pkg-config rmem: the README example builds against librmem.a" \
    cc -std=c11 "$tmp/app.c" $(pkg-config --cflags --libs-only-L rmem) -l:librmem.a -pthread -o "$tmp/app_pc_static"
  runs "pkg-config rmem: the static program runs" "$tmp/app_pc_static"
  # shellcheck disable=SC2046
  check "pkg-config rmem-malloc: a program builds against librmem-malloc.so" \
    cc -std=c11 test/c-consumer/malloc_app.c $(pkg-config --cflags --libs rmem-malloc) -Wl,-rpath,"$libdir" -o "$tmp/malloc_pc"
  check "pkg-config rmem-malloc: it runs" "$tmp/malloc_pc"
else
  failed=$((failed + 1))
  echo "not ok - pkg-config is not installed (Debian: apt-get install pkg-config)"
fi
finish
