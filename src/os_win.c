/*
 * os_win.c - the operating system behind one small contract (include/rmem_os.h),
 * for Windows: VirtualAlloc and friends. src/os.c is the POSIX side; both are
 * in src/sources.txt and each compiles to nothing on the other's platform.
 *
 * The problem: "any byte can be touched"
 *   On POSIX a reservation is mapped readable and writable with MAP_NORESERVE
 *   and the kernel commits a page on first touch. Windows has no such mapping:
 *   memory that is only MEM_RESERVEd faults when touched, and only MEM_COMMIT
 *   makes a page accessible. rmem promises (rmem.h, rmem_create) that every
 *   byte of an instance's range can be read or written without a fault, the
 *   Node addon shows the WHOLE range to JS as one ArrayBuffer, and the
 *   metadata pools (meta.c) are reserved for their full capacity and touched
 *   as they grow. So on Windows rmem_os_reserve commits the whole reservation
 *   at once: VirtualAlloc(MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE).
 *
 * What that costs
 *   MEM_COMMIT is lazy in physical memory: a committed page gets a physical
 *   (zero-filled) page only when first touched, exactly as on Linux, so the
 *   working set and resident bytes grow with use, not with capacity. But every
 *   committed byte counts against the system commit limit (RAM + page file)
 *   from the moment the instance is created: a 64 MiB instance (the default)
 *   charges 64 MiB of commit, a 4 GiB one (RMEM_MAX_CAPACITY) 4 GiB, plus its
 *   metadata reservations, which are committed whole too: about 8% more today
 *   (5 MiB for 64 MiB), mostly the slab-descriptor pool sized for the most
 *   slabs the range could ever hold, and the 16-byte-per-page pagemap. Where
 *   Linux would overcommit, rmem_create on Windows fails with RMEM_ENOMEM when
 *   the commit limit cannot cover the capacity. Choose the capacity you need.
 *
 *   The alternative -- commit as the page source's high-water mark grows and
 *   never expose an uncommitted byte -- would charge only what was used, but it
 *   breaks the addon's single ArrayBuffer over the whole range (JS may touch
 *   any offset), and it would put commit calls into the page source; an
 *   exception handler that commits on fault would make every access violation
 *   in the process pass through rmem. Both were rejected for the simple,
 *   contract-keeping choice above.
 *
 * Decommit: reads as zero at once
 *   rmem_os_decommit must give the physical pages back and leave them reading
 *   as zero (rmem.h: rmem_defrag; the contract). MEM_RESET and
 *   DiscardVirtualMemory keep the pages committed but leave their contents
 *   undefined (old bytes or zeros), so they cannot keep that promise. Decommit
 *   is therefore VirtualFree(MEM_DECOMMIT) -- the physical pages and the
 *   commit charge go back -- followed at once by VirtualAlloc(MEM_COMMIT) of
 *   the same pages: the charge is taken again and the pages are fresh
 *   demand-zero pages, not resident until touched. Two honest limits: between
 *   the two calls (a few microseconds) the pages are not accessible, so
 *   another thread touching those free pages at that moment would fault (an
 *   instance is used by one thread at a time, and rmem only decommits free
 *   pages); and if another process takes the released commit charge in that
 *   window, the recommit fails, the function returns -1 and the pages stay
 *   inaccessible. Decommit never touches guard pages (callers never pass them).
 *
 * The rest
 *   release    VirtualFree(MEM_RELEASE) frees a whole allocation only, so
 *              [p, p + size) must be exactly one mapping from reserve or map
 *              (rmem never releases part of one); anything else returns -1.
 *   map        committed at once; an alignment above the allocation
 *              granularity (64 KiB) reserves size + align, releases it and
 *              allocates the aligned start inside it, a few times if another
 *              thread takes the address in between.
 *   guard      VirtualProtect(PAGE_NOACCESS) (the pages stay committed).
 *   resident   QueryWorkingSetEx (K32QueryWorkingSetEx, in kernel32 since
 *              Windows 7): the pages of the range in the working set.
 *   remap      NULL: Windows cannot move pages to a new address; the caller
 *              copies (the contract allows it).
 *   huge hint  nothing: large pages need SeLockMemoryPrivilege and must be
 *              asked for at allocation (MEM_LARGE_PAGES); there is no hint.
 *
 * Functions return 0 / a pointer on success and -1 / NULL on failure; they
 * never print and never record an error (callers decide what to report).
 */
#if defined(_WIN32)

#include "internal.h"

#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#ifndef NOMINMAX
#define NOMINMAX
#endif
#include <windows.h>
#ifndef PSAPI_VERSION
#define PSAPI_VERSION 2 /* K32QueryWorkingSetEx from kernel32, no psapi.dll */
#endif
#include <psapi.h>

static SYSTEM_INFO os_info(void) {
  static SYSTEM_INFO info;
  if (info.dwPageSize == 0) GetSystemInfo(&info);
  return info;
}

size_t rmem_os_page_size(void) {
  size_t ps = os_info().dwPageSize;
  return ps ? ps : 4096;
}

void *rmem_os_reserve(size_t size) {
  if (size == 0) return NULL;
  return VirtualAlloc(NULL, size, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
}

void *rmem_os_map(size_t size, size_t align) {
  size_t gran = os_info().dwAllocationGranularity;
  if (gran == 0) gran = 65536;
  if (size == 0) return NULL;
  if (align <= gran) return VirtualAlloc(NULL, size, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
  if (size > SIZE_MAX - align) return NULL;
  /* Windows cannot trim a mapping: find an aligned hole, free it, allocate at its aligned start */
  for (int attempt = 0; attempt < 8; attempt++) {
    char *m = VirtualAlloc(NULL, size + align, MEM_RESERVE, PAGE_NOACCESS);
    if (!m) return NULL;
    char *p = (char *)(((uintptr_t)m + align - 1) & ~(uintptr_t)(align - 1));
    VirtualFree(m, 0, MEM_RELEASE);
    void *q = VirtualAlloc(p, size, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    if (q == p) return q;
    if (q) VirtualFree(q, 0, MEM_RELEASE);
  }
  return NULL;
}

int rmem_os_release(void *p, size_t size) {
  if (p == NULL || size == 0) return 0;
  /* MEM_RELEASE frees the whole allocation that starts at p: check that it is [p, p + size) */
  MEMORY_BASIC_INFORMATION mbi;
  char *at = p, *end = (char *)p + size;
  while (at < end) {
    if (VirtualQuery(at, &mbi, sizeof mbi) == 0 || mbi.AllocationBase != p || mbi.State == MEM_FREE) return -1;
    at = (char *)mbi.BaseAddress + mbi.RegionSize;
  }
  if (at != end) return -1;
  if (VirtualQuery(end, &mbi, sizeof mbi) != 0 && mbi.AllocationBase == p && mbi.State != MEM_FREE) return -1;
  return VirtualFree(p, 0, MEM_RELEASE) ? 0 : -1;
}

/* Rounds [p, p+size) inward to whole OS pages. */
static int os_inner(void *p, size_t size, uintptr_t *lo, uintptr_t *hi) {
  uintptr_t ps = rmem_os_page_size();
  *lo = ((uintptr_t)p + ps - 1) & ~(ps - 1);
  *hi = ((uintptr_t)p + size) & ~(ps - 1);
  return *hi > *lo;
}

int rmem_os_decommit(void *p, size_t size) {
  uintptr_t lo, hi;
  if (!os_inner(p, size, &lo, &hi)) return 0;
  if (!VirtualFree((void *)lo, hi - lo, MEM_DECOMMIT)) return -1;
  return VirtualAlloc((void *)lo, hi - lo, MEM_COMMIT, PAGE_READWRITE) ? 0 : -1;
}

int rmem_os_guard(void *p, size_t size) {
  uintptr_t lo, hi;
  DWORD old;
  if (!os_inner(p, size, &lo, &hi)) return 0;
  return VirtualProtect((void *)lo, hi - lo, PAGE_NOACCESS, &old) ? 0 : -1;
}

size_t rmem_os_resident(void *p, size_t size) {
  uintptr_t ps = rmem_os_page_size();
  uintptr_t lo = (uintptr_t)p & ~(ps - 1);
  uintptr_t hi = ((uintptr_t)p + size + ps - 1) & ~(ps - 1);
  PSAPI_WORKING_SET_EX_INFORMATION ws[512];
  HANDLE self = GetCurrentProcess();
  size_t total = 0;
  for (uintptr_t at = lo; at < hi;) {
    size_t n = (hi - at) / ps;
    if (n > sizeof ws / sizeof ws[0]) n = sizeof ws / sizeof ws[0];
    for (size_t i = 0; i < n; i++) ws[i].VirtualAddress = (void *)(at + i * ps);
    if (!K32QueryWorkingSetEx(self, ws, (DWORD)(n * sizeof ws[0]))) return 0;
    for (size_t i = 0; i < n; i++) total += (ws[i].VirtualAttributes.Flags & 1) ? ps : 0; /* Valid */
    at += n * ps;
  }
  return total;
}

void *rmem_os_remap(void *p, size_t old_size, size_t new_size) {
  (void)p, (void)old_size, (void)new_size;
  return NULL;
}

void rmem_os_advise_huge(void *p, size_t size) { (void)p, (void)size; }

uint64_t rmem_os_now_ns(void) {
  static LARGE_INTEGER freq; /* fixed at boot: a race writes the same value */
  LARGE_INTEGER t;
  if (!freq.QuadPart) QueryPerformanceFrequency(&freq);
  QueryPerformanceCounter(&t);
  /* seconds and remainder apart, so ticks * 1e9 never overflows */
  uint64_t s = (uint64_t)t.QuadPart / (uint64_t)freq.QuadPart, rem = (uint64_t)t.QuadPart % (uint64_t)freq.QuadPart;
  return s * 1000000000u + rem * 1000000000u / (uint64_t)freq.QuadPart;
}

#else
typedef int rmem_os_win_unused; /* POSIX: src/os.c; ISO C wants a non-empty file */
#endif /* _WIN32 */
