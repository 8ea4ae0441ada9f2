/*
 * track.h - telling AddressSanitizer and valgrind's memcheck which bytes of
 * the range the user may touch (after mimalloc's include/mimalloc/track.h).
 *
 * A custom allocator hides its users' bugs from the tools C programmers
 * already run: to ASan and memcheck, rmem's range is one big mapping that is
 * always fine to read and write. These macros tell the tool what rmem knows:
 *
 *   - a block handed out is accessible for the bytes asked for; the rest of
 *     its slot (up to the usable size) is not;
 *   - a freed block, a free slot of the engine, a fresh slab, free pages, the
 *     part of an arena chunk not bumped yet (and what a reset, rewind or
 *     destroy gave back), a freed slab-cache object and a MeMS hole are not
 *     accessible at all;
 *   - rmem_usable_size(p) makes the whole usable size of p accessible: asking
 *     for it claims it, as the C contract of malloc_usable_size says.
 *
 * Which tool (at most one; compile-time, so a normal build has none):
 *   RMEM_TRACK_ASAN      the library is compiled with -fsanitize=address
 *                        (__SANITIZE_ADDRESS__, __has_feature(address_sanitizer)):
 *                        ASAN_POISON_MEMORY_REGION / ASAN_UNPOISON_MEMORY_REGION.
 *   RMEM_TRACK_VALGRIND  compiled with -DRMEM_VALGRIND=1 (CMake -DRMEM_VALGRIND=ON,
 *                        <valgrind/memcheck.h>): heap blocks, slab-cache objects,
 *                        intermediate-arena objects and MeMS segments are
 *                        MALLOCLIKE / FREELIKE blocks (so unfreed ones are leaks);
 *                        each bump-arena chunk (and each large object of an
 *                        intermediate arena, which is a run of its own) is a
 *                        mempool keyed by its first address.
 * Otherwise every macro compiles to nothing (the memset / memcpy forms to the
 * plain call) and does not evaluate its arguments: the normal build is the same
 * code as without this file.
 *
 * An instance created with RMEM_OPT_NO_TRACK is never marked (nothing of it
 * is poisoned; its fast paths are the same as without the flag).
 *
 * What ASan catches, and what not: its shadow has one byte per 8-byte granule,
 * which can mark the tail of a granule unaddressable but not its start. Heap,
 * cache and arena blocks are 8-aligned with usable sizes that are multiples of
 * 8, so a free block is caught byte for byte, and so is every byte past the
 * requested size (rmem_alloc(r, 13): bytes 13..15 of its 16-byte block). MeMS
 * segments are byte-exact and may start inside a granule: a hole that shares a
 * granule with the live segment after it is not caught in that granule (no
 * false report either). rmem_aligned_alloc marks past the size padded to 8.
 * LeakSanitizer does not see rmem's blocks: leaks are valgrind's.
 *
 * The library itself reads and writes only out-of-band metadata, except for
 * the junk fills (RMEM_OPT_JUNK: rmem_track_memset, which makes the bytes
 * accessible first) and realloc's copy (rmem_track_memcpy, which reads the old
 * block's bytes whatever the user was allowed). calloc writes only the bytes
 * asked for.
 *
 * Floor: beside internal.h (types only); track.c holds the out-of-line half.
 */
#ifndef RMEM_TRACK_H
#define RMEM_TRACK_H

#include "internal.h"

#if defined(__SANITIZE_ADDRESS__)
#define RMEM_TRACK_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RMEM_TRACK_ASAN 1
#endif
#endif
#ifndef RMEM_TRACK_ASAN
#define RMEM_TRACK_ASAN 0
#endif

#if defined(RMEM_VALGRIND) && RMEM_VALGRIND
#define RMEM_TRACK_VALGRIND 1
#else
#define RMEM_TRACK_VALGRIND 0
#endif

#if RMEM_TRACK_ASAN && RMEM_TRACK_VALGRIND
#error "RMEM_VALGRIND and AddressSanitizer exclude each other: valgrind cannot run an ASan program"
#endif

#define RMEM_TRACK_ENABLED (RMEM_TRACK_ASAN || RMEM_TRACK_VALGRIND)

#if RMEM_TRACK_ENABLED

/* True if r's memory is marked for the tool (no RMEM_OPT_NO_TRACK). */
#define rmem_tracking(r) (((r)->flags & RMEM_OPT_NO_TRACK) == 0)

/* A block of usable bytes at p is handed out for size bytes (size <= usable). Returns p (NULL stays NULL). */
RMEM_HIDDEN void *rmem_track_alloc_(const rmem_t *r, void *p, size_t size, size_t usable);
/* The same, the usable size found from the metadata (a heap, cache or arena slot, a large run). */
RMEM_HIDDEN void *rmem_track_block_(const rmem_t *r, void *p, size_t size);
/* The block at p (usable bytes) is freed: nothing of it is accessible. */
RMEM_HIDDEN void rmem_track_free_(const rmem_t *r, void *p, size_t usable);
/* A live block of old_usable bytes stays in place with size bytes of usable (realloc in place; for a block
   that shrinks, before its freed pages go). Returns p. */
RMEM_HIDDEN void *rmem_track_resize_(const rmem_t *r, void *p, size_t size, size_t old_usable, size_t usable);
/* rmem_usable_size(p): if p is a live heap block, all its usable bytes become accessible. */
RMEM_HIDDEN void rmem_track_claim_(const rmem_t *r, const void *p);
/* n bytes at p hold nothing handed out (fresh slabs, free pages, an arena chunk's rest). */
RMEM_HIDDEN void rmem_track_noaccess_(const void *p, size_t n);
/* n bytes at p are accessible, their contents as they are (a run the page source hands to its new owner). */
RMEM_HIDDEN void rmem_track_accessible_(const void *p, size_t n);
/* rmem writes [p, p + n) itself (junk fills): accessible first. */
RMEM_HIDDEN void *rmem_track_memset_(const rmem_t *r, void *p, int c, size_t n);
/* realloc's copy: reads n bytes of the old block whatever the user may touch. */
RMEM_HIDDEN void *rmem_track_memcpy_(const rmem_t *r, void *dst, const void *src, size_t n);
/* Arena runs: a new run (a pool keyed by its start, nothing accessible); an object bumped in it (size bytes,
   the padding to 8 past them not accessible); everything of it in [from, to) given back; the run gone. */
RMEM_HIDDEN void rmem_track_run_new_(const rmem_t *r, uintptr_t start, size_t bytes);
RMEM_HIDDEN void *rmem_track_run_alloc_(const rmem_t *r, uintptr_t start, void *p, size_t size);
RMEM_HIDDEN void rmem_track_run_cut_(const rmem_t *r, uintptr_t start, uintptr_t from, uintptr_t to);
RMEM_HIDDEN void rmem_track_run_gone_(const rmem_t *r, uintptr_t start);
/* The live blocks of every slab of l die with them (rmem_front_forget). */
RMEM_HIDDEN void rmem_track_forget_(const rmem_t *r, const rmem_slab_list_t *l);
/* rmem_destroy, after every subsystem's fini: every live block, large run and arena run dies; the range is
   accessible again for whatever maps it next. */
RMEM_HIDDEN void rmem_track_destroy_(rmem_t *r);

#define rmem_track_alloc(r, p, size, usable) rmem_track_alloc_((r), (p), (size), (usable))
#define rmem_track_block(r, p, size) rmem_track_block_((r), (p), (size))
#define rmem_track_free(r, p, usable) rmem_track_free_((r), (p), (usable))
#define rmem_track_resize(r, p, size, old_usable, usable) rmem_track_resize_((r), (p), (size), (old_usable), (usable))
#define rmem_track_claim(r, p) rmem_track_claim_((r), (p))
#define rmem_track_noaccess(r, p, n) (rmem_tracking(r) ? rmem_track_noaccess_((const void *)(p), (n)) : (void)0)
#define rmem_track_accessible(r, p, n) (rmem_tracking(r) ? rmem_track_accessible_((const void *)(p), (n)) : (void)0)
#define rmem_track_memset(r, p, c, n) rmem_track_memset_((r), (p), (c), (n))
#define rmem_track_memcpy(r, d, s, n) rmem_track_memcpy_((r), (d), (s), (n))
#define rmem_track_run_new(r, start, bytes) rmem_track_run_new_((r), (start), (bytes))
#define rmem_track_run_alloc(r, start, p, size) rmem_track_run_alloc_((r), (start), (p), (size))
#define rmem_track_run_cut(r, start, from, to) rmem_track_run_cut_((r), (start), (from), (to))
#define rmem_track_run_gone(r, start) rmem_track_run_gone_((r), (start))
#define rmem_track_forget(r, l) rmem_track_forget_((r), (l))
#define rmem_track_destroy(r) rmem_track_destroy_(r)

#else /* no tool: nothing is evaluated, nothing is emitted */

#define rmem_tracking(r) 0
#define rmem_track_alloc(r, p, size, usable) (p)
#define rmem_track_block(r, p, size) (p)
#define rmem_track_free(r, p, usable) ((void)0)
#define rmem_track_resize(r, p, size, old_usable, usable) (p)
#define rmem_track_claim(r, p) ((void)0)
#define rmem_track_noaccess(r, p, n) ((void)0)
#define rmem_track_accessible(r, p, n) ((void)0)
#define rmem_track_memset(r, p, c, n) memset((p), (c), (n))
#define rmem_track_memcpy(r, d, s, n) memcpy((d), (s), (n))
#define rmem_track_run_new(r, start, bytes) ((void)0)
#define rmem_track_run_alloc(r, start, p, size) (p)
#define rmem_track_run_cut(r, start, from, to) ((void)0)
#define rmem_track_run_gone(r, start) ((void)0)
#define rmem_track_forget(r, l) ((void)0)
#define rmem_track_destroy(r) ((void)0)

#endif

#endif /* RMEM_TRACK_H */
