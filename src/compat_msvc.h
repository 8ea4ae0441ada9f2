/*
 * compat_msvc.h - the GCC builtins rmem's sources use, for Microsoft's C
 * compiler (cl.exe), which has none of them. Never included by a source: the
 * MSVC builds force it into every file (binding.gyp and CMakeLists.txt pass
 * /FIcompat_msvc.h), so the sources stay as GCC and Clang read them. Under
 * GCC or Clang (mingw-w64, clang-cl) it is empty.
 *
 * UNTESTED: no MSVC can run where rmem is built and tested (the Windows tests
 * use mingw-w64 under wine). ctz and clz are only called with a non-zero
 * argument in src/, as GCC requires too, which is what _BitScan* needs.
 */
#ifndef RMEM_COMPAT_MSVC_H
#define RMEM_COMPAT_MSVC_H

#if defined(_MSC_VER) && !defined(__clang__)
#include <intrin.h>

static __forceinline int rmem_msvc_ctzll(unsigned long long x) {
  unsigned long i;
  _BitScanForward64(&i, x);
  return (int)i;
}
static __forceinline int rmem_msvc_clzll(unsigned long long x) {
  unsigned long i;
  _BitScanReverse64(&i, x);
  return 63 - (int)i;
}
static __forceinline int rmem_msvc_clz(unsigned int x) {
  unsigned long i;
  _BitScanReverse(&i, x);
  return 31 - (int)i;
}

#define __builtin_ctzll(x) rmem_msvc_ctzll(x)
#define __builtin_clzll(x) rmem_msvc_clzll(x)
#define __builtin_clz(x) rmem_msvc_clz(x)
#define __builtin_expect(x, v) (x)
#if defined(_M_X64) || defined(_M_IX86)
#define __builtin_prefetch(p) _mm_prefetch((const char *)(p), _MM_HINT_T0)
#else
#define __builtin_prefetch(p) ((void)(p))
#endif

#endif /* _MSC_VER */

#endif /* RMEM_COMPAT_MSVC_H */
