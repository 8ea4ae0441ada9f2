#!/usr/bin/env bash
# Windows: cross-build the C library and every C test (test/c/test_*.c) with
# mingw-w64 and run the tests under wine, registered with ctest (the toolchain
# file makes wine ctest's emulator). Needs, on Debian:
#   apt-get install gcc-mingw-w64-x86-64 wine64
# (.ci/run installs them). Wine runs in a private WINEPREFIX in a temporary
# directory, removed at the end, with WINEDEBUG=-all; nothing needs a display.
# The drop-in malloc (malloc/) is Linux-only and not built here.
#
#   --check   only say whether the tools are here (exit 0 if so, 1 if not)
set -euo pipefail
cd "$(dirname "$0")/.."

cc=x86_64-w64-mingw32-gcc
wine="${RMEM_WINE:-}"
if [ -z "$wine" ]; then
  for w in wine64 /usr/lib/wine/wine64 wine; do
    if command -v "$w" >/dev/null 2>&1; then wine="$(command -v "$w")"; break; fi
  done
fi
missing=""
command -v "$cc" >/dev/null 2>&1 || missing="$missing $cc (gcc-mingw-w64-x86-64)"
[ -n "$wine" ] || missing="$missing wine (wine64)"
if [ "${1:-}" = --check ]; then
  [ -z "$missing" ] && exit 0
  echo "missing:$missing"
  exit 1
fi
if [ -n "$missing" ]; then
  echo "test-windows: missing:$missing" >&2
  echo "test-windows: on Debian, as root: apt-get install gcc-mingw-w64-x86-64 wine64" >&2
  exit 1
fi

# wineserver of the same installation (Debian keeps it beside wine64 in /usr/lib/wine)
wineserver="$(dirname "$(readlink -f "$wine")")/wineserver"
[ -x "$wineserver" ] || wineserver="$(command -v wineserver || true)"

tmp="$(mktemp -d "${TMPDIR:-/tmp}/rmem-wine.XXXXXX")"
export WINEPREFIX="$tmp/prefix"
export WINEDEBUG=-all
export WINEDLLOVERRIDES="mscoree,mshtml=" # no Mono or Gecko installers in the new prefix
export WINEARCH=win64
unset DISPLAY WAYLAND_DISPLAY
cleanup() {
  # only the wineserver of our own prefix
  if [ -n "$wineserver" ] && [ -x "$wineserver" ]; then "$wineserver" -k >/dev/null 2>&1 || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

start=$(date +%s)
dir=build/test-windows
echo "== C tests (Windows: mingw-w64, under $("$wine" --version 2>/dev/null || echo wine)) =="
cmake -S . -B "$dir" -DCMAKE_TOOLCHAIN_FILE=cmake/mingw-w64.cmake -DRMEM_WINE="$wine" \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRMEM_DEBUG=ON -DRMEM_BUILD_BENCH=OFF >/dev/null
cmake --build "$dir" -j 2 >/dev/null

# Make the prefix once, up front, so the first test does not pay for it (or time out on it).
"$wine" wineboot --init >/dev/null 2>&1 || true
[ -n "$wineserver" ] && [ -x "$wineserver" ] && "$wineserver" -w >/dev/null 2>&1 || true

echo "test-windows: not built for Windows: malloc/ and its tests (the drop-in malloc is Linux-only), bench/c (POSIX-only)"
ctest --test-dir "$dir" --output-on-failure -j 2
echo "test-windows: $(( $(date +%s) - start )) s (build, wine prefix and tests)"
