/*
 * binding.c - the Node-API bridge between rmem (C) and JavaScript.
 *
 * What it does
 *   createInstance(capacity, flags) makes one rmem_t and returns a plain object
 *   of native functions bound to it (napi_create_function's data pointer is the
 *   instance record, so a call needs no unwrap), plus `memory`: the instance's
 *   whole range as ONE external ArrayBuffer, and `scratch`: a small Uint32Array
 *   through which a call returns a second result (a lease length) without
 *   allocating a JS object. Pointers in JS are byte offsets into `memory`
 *   (0 = NULL; rmem.h guarantees the first and last pages are never handed out,
 *   so every offset and every end offset fits in uint32).
 *
 * Context awareness
 *   No globals. Each napi_env (main thread, every worker) has its own
 *   rmem_js_env_t (napi_set_instance_data) listing its instances; the env's
 *   finaliser destroys whatever is left. Instances never cross threads: each
 *   env makes its own (rmem_t is not thread-safe, and need not be here).
 *
 * Lifetime of an instance record (rmem_js_inst_t)
 *   refs = number of native functions bound to it + 1 for the ArrayBuffer.
 *   Each of those JS objects drops one ref in its finaliser; at zero the range
 *   is destroyed and the record freed. destroy() (explicit) destroys the range
 *   at once and DETACHES the ArrayBuffer first, so JS can never touch unmapped
 *   memory; the record stays (r == NULL) so later calls throw
 *   ERR_RMEM_DESTROYED. The ArrayBuffer's finaliser never frees the range: the
 *   range outlives it (it holds a ref) or dies with the env.
 *
 * Handles
 *   Arenas and slab caches are named in JS by a number h = generation * 2^16 +
 *   index: the library's own checkable handle (rmem_arena_index /
 *   rmem_arena_from_index, rmem_slab_cache_index / _from_index). A handle is
 *   resolved by C against the instance before any pointer is touched: a
 *   destroyed one throws ERR_RMEM_DESTROYED, a forged one
 *   ERR_RMEM_INVALID_HANDLE. No arena_t * ever reaches JS.
 *
 * Errors
 *   Every napi_status is checked (NODE_API_CALL), except inside the code that
 *   throws an error and inside finalisers, where there is no one left to tell:
 *   those calls are best effort. Every rmem failure becomes a
 *   thrown Error whose `code` is mapped from rmem_status_t (rmem_js_code) and
 *   whose message is rmem_last_error_message(). Argument checks throw Node's
 *   own ERR_INVALID_ARG_TYPE / ERR_OUT_OF_RANGE.
 */
#include <node_api.h>

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "rmem.h"

/* ------------------------------------------------------------------------
 * Checking Node-API calls
 * ------------------------------------------------------------------------ */

static void throw_napi_failure(napi_env env, const char *call) {
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (pending) return;
  const napi_extended_error_info *info = NULL;
  napi_get_last_error_info(env, &info);
  char msg[256];
  snprintf(msg, sizeof msg, "rmem: Node-API call failed: %s (%s)", call,
           info && info->error_message ? info->error_message : "unknown");
  napi_throw_error(env, "ERR_RMEM_NAPI", msg);
}

/* Evaluates a napi call; on failure throws (unless something is pending) and returns NULL. */
#define NODE_API_CALL(env, call)                  \
  do {                                            \
    if ((call) != napi_ok) {                      \
      throw_napi_failure((env), #call);           \
      return NULL;                                \
    }                                             \
  } while (0)

/* Same for functions returning bool. */
#define NODE_API_CALL_B(env, call)                \
  do {                                            \
    if ((call) != napi_ok) {                      \
      throw_napi_failure((env), #call);           \
      return false;                               \
    }                                             \
  } while (0)

/* ------------------------------------------------------------------------
 * Errors with a code
 * ------------------------------------------------------------------------ */

enum { KIND_ERROR, KIND_TYPE, KIND_RANGE };

static napi_value throw_code(napi_env env, int kind, const char *code, const char *message) {
  napi_value c, m, e;
  if (napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &c) != napi_ok ||
      napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &m) != napi_ok) {
    napi_throw_error(env, code, message);
    return NULL;
  }
  napi_status s = kind == KIND_TYPE    ? napi_create_type_error(env, c, m, &e)
                  : kind == KIND_RANGE ? napi_create_range_error(env, c, m, &e)
                                       : napi_create_error(env, c, m, &e);
  if (s != napi_ok) {
    napi_throw_error(env, code, message);
    return NULL;
  }
  napi_throw(env, e);
  return NULL;
}

/* The JS code of an rmem status. EINVAL and ERANGE are argument problems C found. */
static const char *rmem_js_code(rmem_status_t st, int *kind) {
  *kind = KIND_ERROR;
  switch (st) {
    case RMEM_EINVAL: *kind = KIND_TYPE; return "ERR_INVALID_ARG_VALUE";
    case RMEM_ERANGE: *kind = KIND_RANGE; return "ERR_OUT_OF_RANGE";
    case RMEM_ENOMEM: return "ERR_RMEM_OUT_OF_MEMORY";
    case RMEM_EBADPTR: return "ERR_RMEM_INVALID_POINTER";
    case RMEM_EDOUBLEFREE: return "ERR_RMEM_DOUBLE_FREE";
    case RMEM_ENOTINIT: return "ERR_RMEM_NOT_INITIALIZED";
    case RMEM_ECORRUPT: return "ERR_RMEM_CORRUPTED";
    case RMEM_ESTALE: return "ERR_RMEM_DESTROYED";
    case RMEM_EBUSY: return "ERR_RMEM_BUSY";
    default: return "ERR_RMEM_UNKNOWN";
  }
}

/* Throws this thread's last rmem error (fallback_status if none was recorded). */
static napi_value throw_last(napi_env env, rmem_status_t fallback_status) {
  rmem_status_t st = rmem_last_error();
  const char *msg = rmem_last_error_message();
  if (st == RMEM_OK) {
    st = fallback_status;
    msg = rmem_status_name(st);
  }
  if (!msg || !*msg) msg = rmem_status_name(st);
  char copy[512]; /* the message lives in the per-thread record we clear below */
  snprintf(copy, sizeof copy, "%s", msg);
  int kind;
  const char *code = rmem_js_code(st, &kind);
  rmem_clear_error();
  return throw_code(env, kind, code, copy);
}


/* ------------------------------------------------------------------------
 * Per-environment and per-instance state
 * ------------------------------------------------------------------------ */

typedef struct rmem_js_env rmem_js_env_t;

typedef struct rmem_js_inst {
  rmem_t *r;                 /* NULL after destroy() */
  rmem_js_env_t *owner;      /* NULL after the env is gone */
  struct rmem_js_inst *next, *prev;
  uint32_t refs;             /* bound functions + the ArrayBuffer still alive */
  napi_ref memory_ref;       /* weak: the range's ArrayBuffer, to detach it on destroy() */
  napi_ref scratch_ref;      /* strong: the scratch ArrayBuffer */
  uint32_t *scratch;
  napi_ref tags_ref;         /* strong: the heap front's tag map (see lib/core.js) */
  uint8_t *tags;             /* one byte per 8-byte granule of the range */
  size_t ntags;
  int64_t reported;          /* bytes announced to V8 with napi_adjust_external_memory */
  size_t narenas, ncaches;     /* live arenas and slab caches made through this bridge */
} rmem_js_inst_t;

struct rmem_js_env {
  rmem_js_inst_t *insts;
};

#define SCRATCH_WORDS 1024u /* also the largest batch of offsets one call moves */

static void inst_destroy_range(rmem_js_inst_t *inst) {
  if (!inst->r) return;
  rmem_destroy(inst->r); /* every arena and cache dies with it; their handles are refused by get_call */
  inst->r = NULL;
  inst->narenas = inst->ncaches = 0;
}

static void inst_unlink(rmem_js_inst_t *inst) {
  rmem_js_env_t *e = inst->owner;
  if (!e) return;
  if (inst->prev) inst->prev->next = inst->next;
  else e->insts = inst->next;
  if (inst->next) inst->next->prev = inst->prev;
  inst->next = inst->prev = NULL;
  inst->owner = NULL;
}

static void inst_free(rmem_js_inst_t *inst) {
  inst_destroy_range(inst);
  free(inst);
}

/* Drops one ref (a bound function or the ArrayBuffer was collected). */
static void inst_release(napi_env env, rmem_js_inst_t *inst) {
  if (--inst->refs > 0) return;
  if (inst->owner) {
    /* The env is alive: give back what we told V8 about, and our references. */
    int64_t ignored;
    if (inst->reported) napi_adjust_external_memory(env, -inst->reported, &ignored);
    if (inst->scratch_ref) napi_delete_reference(env, inst->scratch_ref);
    if (inst->tags_ref) napi_delete_reference(env, inst->tags_ref);
    if (inst->memory_ref) napi_delete_reference(env, inst->memory_ref);
    inst_unlink(inst);
  }
  inst_free(inst);
}

static void fn_finalize(napi_env env, void *data, void *hint) {
  (void)hint;
  inst_release(env, (rmem_js_inst_t *)data);
}

static void memory_finalize(napi_env env, void *data, void *hint) {
  (void)data;
  /* Never frees the range (the instance owns it); only drops the buffer's ref. */
  inst_release(env, (rmem_js_inst_t *)hint);
}

static void env_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  rmem_js_env_t *e = data;
  rmem_js_inst_t *inst = e->insts;
  while (inst) {
    rmem_js_inst_t *next = inst->next;
    /* JS is gone: the range dies now; the record waits for any finaliser still to come. */
    inst_destroy_range(inst);
    inst->owner = NULL;
    inst->next = inst->prev = NULL;
    inst = next;
  }
  free(e);
}

/* Tells V8 about the pages the instance has in use (not on hot paths). */
static void sync_external(napi_env env, rmem_js_inst_t *inst) {
  int64_t now = inst->r ? (int64_t)inst->r->used_pages * RMEM_PAGE_SIZE : 0;
  int64_t delta = now - inst->reported;
  if (delta > -(256 << 10) && delta < (256 << 10) && !(now == 0 && inst->reported)) return;
  int64_t ignored;
  if (napi_adjust_external_memory(env, delta, &ignored) == napi_ok) inst->reported = now;
}

/* ------------------------------------------------------------------------
 * Arguments
 * ------------------------------------------------------------------------ */

typedef struct call {
  napi_env env;
  rmem_js_inst_t *inst;
  size_t argc;
  napi_value argv[4];
} call_t;

/* Reads this, args and the instance; throws ERR_RMEM_DESTROYED if the range is gone. */
static bool get_call(napi_env env, napi_callback_info info, call_t *c, bool need_range) {
  c->env = env;
  c->argc = 4;
  void *data = NULL;
  NODE_API_CALL_B(env, napi_get_cb_info(env, info, &c->argc, c->argv, NULL, &data));
  for (size_t i = c->argc; i < 4; i++) c->argv[i] = NULL;
  c->inst = data;
  if (need_range && !c->inst->r) {
    throw_code(env, KIND_ERROR, "ERR_RMEM_DESTROYED", "rmem: this instance was destroyed");
    return false;
  }
  return true;
}

/*
 * The C library's messages may name addresses; JS must never see a process
 * address. Rewrites every 0x... in msg: an address inside the range becomes
 * its byte offset, any other becomes "<address>".
 */
static void scrub_addresses(const rmem_js_inst_t *inst, const char *msg, char *out, size_t cap) {
  uintptr_t base = inst && inst->r ? (uintptr_t)rmem_base(inst->r) : 0;
  size_t size = inst && inst->r ? rmem_capacity(inst->r) : 0;
  size_t o = 0;
  for (const char *m = msg; *m && o + 1 < cap;) {
    if (m[0] == '0' && (m[1] == 'x' || m[1] == 'X') && isxdigit((unsigned char)m[2])) {
      char *end;
      uintptr_t v = (uintptr_t)strtoull(m, &end, 16);
      int w = (base && v - base < size) ? snprintf(out + o, cap - o, "offset %zu", (size_t)(v - base))
                                        : snprintf(out + o, cap - o, "<address>");
      if (w < 0 || (size_t)w >= cap - o) break;
      o += (size_t)w;
      m = end;
    } else {
      out[o++] = *m++;
    }
  }
  out[o] = 0;
}

/* throw_last for a call on an instance: addresses in the message become offsets. */
static napi_value throw_last_c(call_t *c, rmem_status_t fallback_status) {
  rmem_status_t st = rmem_last_error();
  const char *msg = rmem_last_error_message();
  if (st == RMEM_OK) {
    st = fallback_status;
    msg = rmem_status_name(st);
  }
  if (!msg || !*msg) msg = rmem_status_name(st);
  char copy[512];
  scrub_addresses(c->inst, msg, copy, sizeof copy);
  int kind;
  const char *code = rmem_js_code(st, &kind);
  rmem_clear_error();
  return throw_code(c->env, kind, code, copy);
}

static napi_value throw_status_c(call_t *c, rmem_status_t st) {
  if (rmem_last_error() != st) rmem_clear_error(); /* a stale record: report st itself */
  return throw_last_c(c, st);
}

static bool arg_number(call_t *c, size_t i, const char *name, double *out) {
  if (i >= c->argc || !c->argv[i] || napi_get_value_double(c->env, c->argv[i], out) != napi_ok) {
    char msg[160];
    snprintf(msg, sizeof msg, "The \"%s\" argument must be of type number", name);
    throw_code(c->env, KIND_TYPE, "ERR_INVALID_ARG_TYPE", msg);
    return false;
  }
  return true;
}

/* A size: a finite number >= 1 after truncation, < 2^32 (the range's limit). */
static bool arg_size(call_t *c, size_t i, const char *name, size_t *out) {
  double d;
  if (!arg_number(c, i, name, &d)) return false;
  if (!(d >= 1 && d < 4294967296.0)) {
    char msg[200];
    snprintf(msg, sizeof msg,
             "The value of \"%s\" is out of range. It must be >= 1 && <= 4294967295. Received %g", name, d);
    throw_code(c->env, KIND_RANGE, "ERR_OUT_OF_RANGE", msg);
    return false;
  }
  *out = (size_t)d; /* truncates, like the seed's uint32 conversion */
  return true;
}

/* An offset into the range: an integer in [0, 2^32). 0 is NULL. */
static bool arg_offset(call_t *c, size_t i, const char *name, size_t *out) {
  double d;
  if (!arg_number(c, i, name, &d)) return false;
  if (!(d >= 0 && d < 4294967296.0) || d != floor(d)) {
    char msg[200];
    snprintf(msg, sizeof msg,
             "The value of \"%s\" is out of range. It must be an integer >= 0 && <= 4294967295. Received %g",
             name, d);
    throw_code(c->env, KIND_RANGE, "ERR_OUT_OF_RANGE", msg);
    return false;
  }
  *out = (size_t)d;
  return true;
}

/* Offset -> address; offsets outside the range are refused (EBADPTR), 0 stays NULL. */
static bool offset_ptr(call_t *c, size_t off, void **p) {
  if (off == 0) {
    *p = NULL;
    return true;
  }
  if (off >= rmem_capacity(c->inst->r)) {
    char msg[160];
    snprintf(msg, sizeof msg, "rmem: offset %zu is outside the instance's memory (%zu bytes)", off,
             rmem_capacity(c->inst->r));
    throw_code(c->env, KIND_ERROR, "ERR_RMEM_INVALID_POINTER", msg);
    return false;
  }
  *p = (char *)rmem_base(c->inst->r) + off;
  return true;
}

static napi_value num(napi_env env, double d) {
  napi_value v;
  NODE_API_CALL(env, napi_create_double(env, d, &v));
  return v;
}

static napi_value offset_value(napi_env env, rmem_js_inst_t *inst, const void *p) {
  napi_value v;
  NODE_API_CALL(env, napi_create_uint32(env, (uint32_t)((uintptr_t)p - (uintptr_t)rmem_base(inst->r)), &v));
  return v;
}

static napi_value undefined(napi_env env) {
  napi_value v;
  NODE_API_CALL(env, napi_get_undefined(env, &v));
  return v;
}

static bool set_num(napi_env env, napi_value obj, const char *name, double d) {
  napi_value v;
  NODE_API_CALL_B(env, napi_create_double(env, d, &v));
  NODE_API_CALL_B(env, napi_set_named_property(env, obj, name, v));
  return true;
}

static bool set_str(napi_env env, napi_value obj, const char *name, const char *s) {
  napi_value v;
  NODE_API_CALL_B(env, napi_create_string_utf8(env, s ? s : "", NAPI_AUTO_LENGTH, &v));
  NODE_API_CALL_B(env, napi_set_named_property(env, obj, name, v));
  return true;
}

/* Handles: h = generation * 2^16 + index (the library's checkable pairs). */
#define HANDLE_INDEX_LIMIT 65536.0

static double handle_of(uint32_t index, uint32_t generation) {
  return (double)generation * HANDLE_INDEX_LIMIT + (double)index;
}

static bool arg_handle_pair(call_t *c, size_t i, const char *what, uint32_t *index, uint32_t *gen) {
  double d;
  if (!arg_number(c, i, what, &d)) return false;
  if (!(d >= 0 && d < HANDLE_INDEX_LIMIT * 4294967296.0) || d != floor(d)) {
    char msg[96];
    snprintf(msg, sizeof msg, "rmem: not a %s handle of this instance", what);
    throw_code(c->env, KIND_ERROR, "ERR_RMEM_INVALID_HANDLE", msg);
    return false;
  }
  uint64_t h = (uint64_t)d;
  *index = (uint32_t)(h & 0xffffu);
  *gen = (uint32_t)(h >> 16);
  return true;
}

/* A handle that C refuses: destroyed (ESTALE) or never issued (anything else). */
static void *bad_handle(call_t *c, const char *what) {
  if (rmem_last_error() == RMEM_ESTALE) {
    throw_last_c(c, RMEM_ESTALE);
  } else {
    char msg[96];
    snprintf(msg, sizeof msg, "rmem: not a %s handle of this instance", what);
    rmem_clear_error();
    throw_code(c->env, KIND_ERROR, "ERR_RMEM_INVALID_HANDLE", msg);
  }
  return NULL;
}

static arena_t *arg_arena(call_t *c, size_t i) {
  uint32_t index, gen;
  if (!arg_handle_pair(c, i, "arena", &index, &gen)) return NULL;
  arena_t *a = rmem_arena_from_index(c->inst->r, index, gen);
  return a ? a : bad_handle(c, "arena");
}

static slab_cache_t *arg_cache(call_t *c, size_t i) {
  uint32_t index, gen;
  if (!arg_handle_pair(c, i, "slab cache", &index, &gen)) return NULL;
  slab_cache_t *sc = rmem_slab_cache_from_index(c->inst->r, index, gen);
  return sc ? sc : bad_handle(c, "slab cache");
}

/* ------------------------------------------------------------------------
 * The general heap
 * ------------------------------------------------------------------------ */

static napi_value js_alloc(napi_env env, napi_callback_info info) {
  call_t c;
  size_t size;
  if (!get_call(env, info, &c, true) || !arg_size(&c, 0, "size", &size)) return NULL;
  void *p = rmem_alloc(c.inst->r, size);
  if (RMEM_UNLIKELY(!p)) return throw_last_c(&c, RMEM_ENOMEM);
  if (RMEM_UNLIKELY(size > RMEM_SMALL_MAX)) sync_external(env, c.inst);
  return offset_value(env, c.inst, p);
}

static napi_value js_free(napi_env env, napi_callback_info info) {
  call_t c;
  size_t off;
  void *p;
  if (!get_call(env, info, &c, true) || !arg_offset(&c, 0, "ptr", &off) || !offset_ptr(&c, off, &p)) return NULL;
  rmem_status_t st = rmem_free(c.inst->r, p);
  if (RMEM_UNLIKELY(st != RMEM_OK)) return throw_status_c(&c, st);
  return NULL; /* undefined */
}

static napi_value js_calloc(napi_env env, napi_callback_info info) {
  call_t c;
  size_t n, size;
  if (!get_call(env, info, &c, true) || !arg_size(&c, 0, "count", &n) || !arg_size(&c, 1, "size", &size)) return NULL;
  void *p = rmem_calloc(c.inst->r, n, size);
  if (!p) return throw_last_c(&c, RMEM_ENOMEM);
  sync_external(env, c.inst);
  return offset_value(env, c.inst, p);
}

static napi_value js_realloc(napi_env env, napi_callback_info info) {
  call_t c;
  size_t off, size;
  void *p;
  if (!get_call(env, info, &c, true) || !arg_offset(&c, 0, "ptr", &off) || !offset_ptr(&c, off, &p) ||
      !arg_size(&c, 1, "size", &size))
    return NULL;
  void *q = rmem_realloc(c.inst->r, p, size);
  if (!q) return throw_last_c(&c, RMEM_ENOMEM);
  sync_external(env, c.inst);
  return offset_value(env, c.inst, q);
}

static napi_value js_aligned_alloc(napi_env env, napi_callback_info info) {
  call_t c;
  size_t align, size;
  if (!get_call(env, info, &c, true) || !arg_size(&c, 0, "alignment", &align) || !arg_size(&c, 1, "size", &size))
    return NULL;
  void *p = rmem_aligned_alloc(c.inst->r, align, size);
  if (!p) return throw_last_c(&c, RMEM_ENOMEM);
  sync_external(env, c.inst);
  return offset_value(env, c.inst, p);
}

static napi_value js_usable_size(napi_env env, napi_callback_info info) {
  call_t c;
  size_t off;
  void *p;
  if (!get_call(env, info, &c, true) || !arg_offset(&c, 0, "ptr", &off) || !offset_ptr(&c, off, &p)) return NULL;
  if (!p) return throw_code(env, KIND_ERROR, "ERR_RMEM_INVALID_POINTER", "rmem: null pointer");
  size_t n = rmem_usable_size(c.inst->r, p);
  if (!n) return throw_last_c(&c, RMEM_EBADPTR);
  return num(env, (double)n);
}

/*
 * allocBatch(size, count): allocates up to count (<= SCRATCH_WORDS) blocks of
 * size bytes, their offsets in scratch[0..k); returns k (>= 1; fewer than
 * count only when memory ran out, and then it throws if k would be 0). Used
 * by the JS heap front to fill a bin with one native call.
 */
static napi_value js_alloc_batch(napi_env env, napi_callback_info info) {
  call_t c;
  size_t size, n;
  if (!get_call(env, info, &c, true) || !arg_size(&c, 0, "size", &size) || !arg_size(&c, 1, "count", &n)) return NULL;
  if (n > SCRATCH_WORDS) n = SCRATCH_WORDS;
  uintptr_t base = (uintptr_t)rmem_base(c.inst->r);
  size_t i = 0;
  for (; i < n; i++) {
    void *p = rmem_alloc(c.inst->r, size);
    if (!p) break;
    c.inst->scratch[i] = (uint32_t)((uintptr_t)p - base);
  }
  if (i == 0) return throw_last_c(&c, RMEM_ENOMEM);
  rmem_clear_error();
  sync_external(env, c.inst); /* once per batch: the front's small blocks count too */
  return num(env, (double)i);
}

/*
 * freeBatch(count): frees the blocks whose offsets are in scratch[0..count).
 * Every one is validated by rmem_free; all valid ones are freed, and the
 * first failure (if any) is thrown afterwards.
 */
static napi_value js_free_batch(napi_env env, napi_callback_info info) {
  call_t c;
  size_t n;
  if (!get_call(env, info, &c, true) || !arg_offset(&c, 0, "count", &n)) return NULL;
  if (n > SCRATCH_WORDS) return throw_code(env, KIND_RANGE, "ERR_OUT_OF_RANGE", "rmem: batch too large");
  rmem_status_t first = RMEM_OK;
  char msg[512] = "";
  for (size_t i = 0; i < n; i++) {
    size_t off = c.inst->scratch[i];
    rmem_status_t st = off < rmem_capacity(c.inst->r) ? rmem_free(c.inst->r, (char *)rmem_base(c.inst->r) + off)
                                                      : RMEM_EBADPTR;
    if (st != RMEM_OK && first == RMEM_OK) {
      first = st;
      snprintf(msg, sizeof msg, "rmem: batch free of offset %zu: %s", off, rmem_last_error_message());
    }
  }
  sync_external(env, c.inst);
  if (first != RMEM_OK) {
    int kind;
    const char *code = rmem_js_code(first, &kind);
    rmem_clear_error();
    return throw_code(env, kind, code, msg);
  }
  return undefined(env);
}

static napi_value js_defrag(napi_env env, napi_callback_info info) {
  call_t c;
  if (!get_call(env, info, &c, true)) return NULL;
  rmem_defrag_report_t rep;
  memset(&rep, 0, sizeof rep);
  rmem_status_t st = rmem_defrag(c.inst->r, &rep);
  if (st != RMEM_OK) return throw_status_c(&c, st);
  sync_external(env, c.inst);
  napi_value o;
  NODE_API_CALL(env, napi_create_object(env, &o));
  if (!set_num(env, o, "merged", (double)rep.merged) || !set_num(env, o, "slabsReleased", (double)rep.slabs_released) ||
      !set_num(env, o, "pagesReleased", (double)rep.pages_released) ||
      !set_num(env, o, "bytesReleased", (double)rep.bytes_released))
    return NULL;
  return o;
}

static napi_value js_stats(napi_env env, napi_callback_info info) {
  call_t c;
  if (!get_call(env, info, &c, true)) return NULL;
  rmem_stats_t s;
  rmem_heap_stats_t h;
  rmem_status_t st = rmem_stats(c.inst->r, &s);
  if (st != RMEM_OK) return throw_status_c(&c, st);
  st = rmem_heap_stats(c.inst->r, &h);
  if (st != RMEM_OK) return throw_status_c(&c, st);
  sync_external(env, c.inst);
  napi_value o, heap;
  NODE_API_CALL(env, napi_create_object(env, &o));
  NODE_API_CALL(env, napi_create_object(env, &heap));
  if (!set_num(env, o, "capacity", (double)s.capacity) || !set_num(env, o, "committed", (double)s.committed) ||
      !set_num(env, o, "resident", (double)s.resident) || !set_num(env, o, "pagesInUse", (double)s.pages_in_use) ||
      !set_num(env, o, "pagesFree", (double)s.pages_free) || !set_num(env, o, "largestFree", (double)s.largest_free) ||
      !set_num(env, o, "metadata", (double)s.metadata) || !set_num(env, heap, "used", (double)h.used) ||
      !set_num(env, heap, "free", (double)h.free) ||
      !set_num(env, heap, "liveBlocks", (double)h.live_blocks) || !set_num(env, heap, "freeSlots", (double)h.free_slots) ||
      !set_num(env, heap, "slabs", (double)h.slabs) || !set_num(env, heap, "largeBlocks", (double)h.large_blocks) ||
      !set_num(env, heap, "largestFree", (double)h.largest_free) ||
      !set_num(env, heap, "fragmentation", h.fragmentation) || !set_num(env, heap, "allocs", (double)h.allocs) ||
      !set_num(env, heap, "frees", (double)h.frees) || !set_num(env, o, "arenas", (double)c.inst->narenas) ||
      !set_num(env, o, "externalReported", (double)c.inst->reported) ||
      !set_num(env, o, "slabCaches", (double)c.inst->ncaches))
    return NULL;
  NODE_API_CALL(env, napi_set_named_property(env, o, "heap", heap));
  return o;
}

/*
 * The JS heap front (lib/core.js) keeps small heap blocks in per-size bins
 * without a native call, and tracks each block it holds in the tag map: one
 * byte per 8-byte granule, 0 = not held by the front, b (1..127) = handed out
 * to the user from bin b (b * 8 bytes), 0x80 | b = cached in bin b (free from
 * the user's point of view). Every block the front holds is a live heap block
 * in C: C allocated it (allocBatch) and gets it back (freeBatch). This checks
 * that: every tagged granule starts a live heap block of at least b * 8
 * usable bytes. Returns the number of problems (recorded through rmem_problem).
 */
static size_t tags_validate(rmem_js_inst_t *inst, size_t *count) {
  size_t problems = 0;
  const uint8_t *t = inst->tags;
  const size_t n = inst->ntags;
  size_t held = 0;
  for (size_t g = 0; g < n; g += 8) {
    uint64_t w;
    if (g + 8 <= n) {
      memcpy(&w, t + g, 8);
      if (w == 0) continue;
    }
    for (size_t i = g; i < g + 8 && i < n; i++) {
      uint8_t b = t[i] & 0x7f;
      if (t[i] == 0) continue;
      held++;
      void *p = (char *)rmem_base(inst->r) + i * 8;
      size_t usable = rmem_usable_size(inst->r, p);
      if (b == 0 || usable < (size_t)b * 8) {
        rmem_problem(&problems, "js heap front: offset %zu is tagged %u but is %s", i * 8, t[i],
                     usable ? "too small for its bin" : "not a live heap block");
      }
    }
  }
  *count = held;
  return problems;
}

/* Returns [problems, message]: the validator's count and the first problem's description. */
static napi_value js_validate(napi_env env, napi_callback_info info) {
  call_t c;
  if (!get_call(env, info, &c, true)) return NULL;
  rmem_clear_error();
  size_t n = rmem_validate(c.inst->r);
  size_t held = 0;
  if (n == 0) n += tags_validate(c.inst, &held);
  napi_value o;
  NODE_API_CALL(env, napi_create_object(env, &o));
  if (!set_num(env, o, "problems", (double)n) || !set_str(env, o, "message", n ? rmem_last_error_message() : ""))
    return NULL;
  rmem_clear_error();
  return o;
}

/*
 * How many bytes from offset `off` belong to one live block, or 0. Covers
 * every allocator but MeMS: heap blocks (rmem_usable_size), slab-cache and
 * intermediate-arena slots (the slab's out-of-band bitmap), bump-arena chunks
 * (to the end of the chunk's page run, through the pagemap: which bytes of a
 * chunk were handed out only the arena knows). MeMS segments are named by
 * virtual address and viewed through memsExtent. Nothing here trusts user
 * memory: all of it is metadata.
 */
static size_t block_extent(rmem_t *r, size_t off) {
  if (off == 0 || off >= r->capacity) return 0;
  uintptr_t p = r->base + off;
  uint32_t page = rmem_page_index(r, p);
  if (page >= r->top) return 0;
  const rmem_pme_t *e = &r->pm[page];
  switch (e->kind) {
    case RMEM_PK_SLAB: {
      if (e->owner == 0 || e->owner >= r->slabs.bump) return 0;
      const rmem_slab_t *s = rmem_pool_at(&r->slabs, e->owner);
      if (s->magic != RMEM_SLAB_MAGIC || p < s->start) return 0;
      uintptr_t rel = p - s->start;
      uint32_t idx = rmem_slab_slot_of(s, rel);
      if ((uintptr_t)idx * s->bsize != rel || idx >= s->nslots) return 0;
      if (s->bits[idx >> 6] & ((uint64_t)1 << (idx & 63))) return 0; /* free slot */
      return s->bsize;
    }
    case RMEM_PK_LARGE: {
      size_t n = rmem_usable_size(r, (void *)p);
      rmem_clear_error();
      return n;
    }
    case RMEM_PK_ARENA: {
      /* Walk back to the head of the run (bounded by the run's length). */
      uint32_t h = page;
      while (h > 1 && !(r->pm[h].flags & RMEM_PF_HEAD) && r->pm[h - 1].kind == e->kind) h--;
      if (!(r->pm[h].flags & RMEM_PF_HEAD)) return 0;
      uintptr_t end = rmem_page_addr(r, h + r->pm[h].len);
      return end > p ? (size_t)(end - p) : 0;
    }
    default:
      return 0;
  }
}

static napi_value js_extent(napi_env env, napi_callback_info info) {
  call_t c;
  size_t off;
  if (!get_call(env, info, &c, true) || !arg_offset(&c, 0, "ptr", &off)) return NULL;
  return num(env, (double)block_extent(c.inst->r, off));
}

static napi_value js_destroy(napi_env env, napi_callback_info info) {
  call_t c;
  if (!get_call(env, info, &c, false)) return NULL;
  rmem_js_inst_t *inst = c.inst;
  if (!inst->r) return undefined(env);
  /* Detach first: after this no JS view can reach the range we unmap below. */
  napi_value ab = NULL;
  if (inst->memory_ref) NODE_API_CALL(env, napi_get_reference_value(env, inst->memory_ref, &ab));
  if (ab) NODE_API_CALL(env, napi_detach_arraybuffer(env, ab));
  if (inst->tags) memset(inst->tags, 0, inst->ntags); /* the front holds nothing any more */
  inst_destroy_range(inst);
  sync_external(env, inst);
  return undefined(env);
}

/* ------------------------------------------------------------------------
 * Arenas
 * ------------------------------------------------------------------------ */

static bool arg_lifetime(call_t *c, size_t i, lifetime_t *out) {
  double d;
  if (!arg_number(c, i, "lifetime", &d)) return false;
  if (!(d == 0 || d == 1 || d == 2)) {
    char msg[160];
    snprintf(msg, sizeof msg, "The value of \"lifetime\" is out of range. It must be 0, 1 or 2. Received %g", d);
    throw_code(c->env, KIND_RANGE, "ERR_OUT_OF_RANGE", msg);
    return false;
  }
  *out = (lifetime_t)(int)d;
  return true;
}

/*
 * arenaCreate(chunkSize, lifetime, leaseMin) -> handle. With leaseMin > 0 and
 * a bump arena, also leases the first chunk to JS: scratch[0] = start offset,
 * scratch[1] = length (both 0 if no lease).
 */
static napi_value js_arena_create(napi_env env, napi_callback_info info) {
  call_t c;
  size_t chunk, lease_min = 0;
  lifetime_t lt;
  if (!get_call(env, info, &c, true) || !arg_size(&c, 0, "size", &chunk) || !arg_lifetime(&c, 1, &lt)) return NULL;
  if (c.argc > 2 && !arg_offset(&c, 2, "leaseMin", &lease_min)) return NULL;
  arena_t *a = rmem_arena_create(c.inst->r, chunk, lt);
  if (!a) return throw_last_c(&c, RMEM_ENOMEM);
  uint32_t index, gen;
  rmem_status_t st = rmem_arena_index(a, &index, &gen);
  if (st != RMEM_OK) {
    rmem_arena_destroy(a);
    return throw_status_c(&c, st);
  }
  double h = handle_of(index, gen);
  c.inst->narenas++;
  c.inst->scratch[0] = c.inst->scratch[1] = 0;
  if (lease_min && lt != LIFETIME_INTERMEDIATE) {
    size_t len = 0;
    void *p = rmem_arena_lease(a, lease_min, &len);
    if (p) {
      c.inst->scratch[0] = (uint32_t)((uintptr_t)p - (uintptr_t)rmem_base(c.inst->r));
      c.inst->scratch[1] = (uint32_t)len;
    } else {
      rmem_clear_error(); /* no lease: JS takes the native path */
    }
  }
  return num(env, h);
}

/*
 * arenaAlloc(h, size, lease) -> offset. With lease true (bump arenas only),
 * leases the rest of the current chunk (at least size bytes, 8-aligned) to
 * JS: returns its start, scratch[1] = its length; JS bumps size past it.
 */
static napi_value js_arena_alloc(napi_env env, napi_callback_info info) {
  call_t c;
  size_t size;
  if (!get_call(env, info, &c, true)) return NULL;
  arena_t *a = arg_arena(&c, 0);
  if (!a || !arg_size(&c, 1, "size", &size)) return NULL;
  bool lease = false;
  if (c.argc > 2) NODE_API_CALL(env, napi_get_value_bool(env, c.argv[2], &lease));
  void *p;
  if (lease) { /* bump arenas only: C refuses a lease of an intermediate arena */
    size_t len = 0;
    p = rmem_arena_lease(a, (size + 7) & ~(size_t)7, &len);
    if (!p) return throw_last_c(&c, RMEM_ENOMEM);
    c.inst->scratch[1] = (uint32_t)len;
    sync_external(env, c.inst);
  } else {
    p = rmem_arena_alloc(a, size);
    if (!p) return throw_last_c(&c, RMEM_ENOMEM);
  }
  return offset_value(env, c.inst, p);
}

static napi_value js_arena_free(napi_env env, napi_callback_info info) {
  call_t c;
  size_t off, size;
  void *p;
  if (!get_call(env, info, &c, true)) return NULL;
  arena_t *a = arg_arena(&c, 0);
  if (!a || !arg_offset(&c, 1, "ptr", &off) || !offset_ptr(&c, off, &p) || !arg_size(&c, 2, "size", &size)) return NULL;
  rmem_status_t st = rmem_arena_free(a, p, size);
  if (st != RMEM_OK) return throw_status_c(&c, st);
  return undefined(env);
}

static napi_value js_arena_reset(napi_env env, napi_callback_info info) {
  call_t c;
  if (!get_call(env, info, &c, true)) return NULL;
  arena_t *a = arg_arena(&c, 0);
  if (!a) return NULL;
  rmem_status_t st = rmem_arena_reset(a);
  if (st != RMEM_OK) return throw_status_c(&c, st);
  sync_external(env, c.inst);
  return undefined(env);
}

static napi_value js_arena_destroy(napi_env env, napi_callback_info info) {
  call_t c;
  if (!get_call(env, info, &c, true)) return NULL;
  arena_t *a = arg_arena(&c, 0);
  if (!a) return NULL;
  rmem_status_t st = rmem_arena_destroy(a);
  if (st != RMEM_OK) return throw_status_c(&c, st);
  c.inst->narenas--;
  sync_external(env, c.inst);
  return undefined(env);
}

static napi_value js_arena_stats(napi_env env, napi_callback_info info) {
  call_t c;
  if (!get_call(env, info, &c, true)) return NULL;
  arena_t *a = arg_arena(&c, 0);
  if (!a) return NULL;
  rmem_arena_stats_t s;
  rmem_status_t st = rmem_arena_stats(a, &s);
  if (st != RMEM_OK) return throw_status_c(&c, st);
  napi_value o;
  NODE_API_CALL(env, napi_create_object(env, &o));
  if (!set_num(env, o, "lifetime", (double)s.lifetime) || !set_num(env, o, "chunks", (double)s.chunks) ||
      !set_num(env, o, "reserved", (double)s.reserved) || !set_num(env, o, "used", (double)s.used) ||
      !set_num(env, o, "allocs", (double)s.allocs) || !set_num(env, o, "resets", (double)s.resets))
    return NULL;
  return o;
}

/* ------------------------------------------------------------------------
 * Slab caches
 * ------------------------------------------------------------------------ */

/* cacheCreate(name, objSize, align, flags) -> handle */
static napi_value js_cache_create(napi_env env, napi_callback_info info) {
  call_t c;
  size_t size, align = 0, flags = 0;
  if (!get_call(env, info, &c, true)) return NULL;
  char name[32] = {0};
  napi_valuetype t = napi_undefined;
  if (c.argc > 0) NODE_API_CALL(env, napi_typeof(env, c.argv[0], &t));
  if (t == napi_string) {
    size_t len;
    NODE_API_CALL(env, napi_get_value_string_utf8(env, c.argv[0], name, sizeof name, &len));
  } else if (t != napi_undefined && t != napi_null) {
    return throw_code(env, KIND_TYPE, "ERR_INVALID_ARG_TYPE", "The \"name\" argument must be of type string");
  }
  if (!arg_size(&c, 1, "objSize", &size)) return NULL;
  if (c.argc > 2 && !arg_offset(&c, 2, "align", &align)) return NULL;
  if (c.argc > 3 && !arg_offset(&c, 3, "flags", &flags)) return NULL;
  slab_cache_t *sc = rmem_slab_cache_create(c.inst->r, t == napi_string ? name : NULL, size, align, (unsigned)flags);
  if (!sc) return throw_last_c(&c, RMEM_ENOMEM);
  uint32_t index, gen;
  rmem_status_t st = rmem_slab_cache_index(sc, &index, &gen);
  if (st != RMEM_OK) {
    rmem_slab_cache_destroy(sc);
    return throw_status_c(&c, st);
  }
  double h = handle_of(index, gen);
  c.inst->ncaches++;
  return num(env, h);
}

static napi_value js_cache_alloc(napi_env env, napi_callback_info info) {
  call_t c;
  if (!get_call(env, info, &c, true)) return NULL;
  slab_cache_t *sc = arg_cache(&c, 0);
  if (!sc) return NULL;
  void *p = rmem_slab_alloc(sc);
  if (!p) return throw_last_c(&c, RMEM_ENOMEM);
  return offset_value(env, c.inst, p);
}

static napi_value js_cache_free(napi_env env, napi_callback_info info) {
  call_t c;
  size_t off;
  void *p;
  if (!get_call(env, info, &c, true)) return NULL;
  slab_cache_t *sc = arg_cache(&c, 0);
  if (!sc || !arg_offset(&c, 1, "ptr", &off) || !offset_ptr(&c, off, &p)) return NULL;
  rmem_status_t st = rmem_slab_free(sc, p);
  if (st != RMEM_OK) return throw_status_c(&c, st);
  return undefined(env);
}

static napi_value js_cache_destroy(napi_env env, napi_callback_info info) {
  call_t c;
  if (!get_call(env, info, &c, true)) return NULL;
  slab_cache_t *sc = arg_cache(&c, 0);
  if (!sc) return NULL;
  rmem_status_t st = rmem_slab_cache_destroy(sc);
  if (st != RMEM_OK) return throw_status_c(&c, st);
  c.inst->ncaches--;
  sync_external(env, c.inst);
  return undefined(env);
}

static napi_value js_cache_shrink(napi_env env, napi_callback_info info) {
  call_t c;
  if (!get_call(env, info, &c, true)) return NULL;
  slab_cache_t *sc = arg_cache(&c, 0);
  if (!sc) return NULL;
  rmem_status_t st = rmem_slab_cache_shrink(sc);
  if (st != RMEM_OK) return throw_status_c(&c, st);
  sync_external(env, c.inst);
  return undefined(env);
}

static napi_value js_cache_stats(napi_env env, napi_callback_info info) {
  call_t c;
  if (!get_call(env, info, &c, true)) return NULL;
  slab_cache_t *sc = arg_cache(&c, 0);
  if (!sc) return NULL;
  rmem_slab_stats_t s;
  rmem_status_t st = rmem_slab_cache_stats(sc, &s);
  if (st != RMEM_OK) return throw_status_c(&c, st);
  napi_value o;
  NODE_API_CALL(env, napi_create_object(env, &o));
  if (!set_str(env, o, "name", s.name) || !set_num(env, o, "objSize", (double)s.obj_size) ||
      !set_num(env, o, "objectsInUse", (double)s.objects_in_use) || !set_num(env, o, "slots", (double)s.slots) ||
      !set_num(env, o, "slabs", (double)s.slabs) || !set_num(env, o, "slabBytes", (double)s.slab_bytes) ||
      !set_num(env, o, "utilisation", s.utilisation) || !set_num(env, o, "allocs", (double)s.allocs) ||
      !set_num(env, o, "frees", (double)s.frees))
    return NULL;
  return o;
}

/* ------------------------------------------------------------------------
 * MeMS. Virtual addresses travel as numbers here (lib/ turns them into
 * BigInt); physical addresses never reach JS: get() answers the byte offset.
 * ------------------------------------------------------------------------ */

static bool arg_vaddr(call_t *c, size_t i, uintptr_t *out) {
  size_t v;
  if (!arg_offset(c, i, "vaddr", &v)) return false;
  *out = (uintptr_t)v;
  return true;
}

static napi_value js_mems_init(napi_env env, napi_callback_info info) {
  call_t c;
  if (!get_call(env, info, &c, true)) return NULL;
  rmem_status_t st = rmem_mems_init(c.inst->r);
  if (st != RMEM_OK) return throw_status_c(&c, st);
  return undefined(env);
}

static napi_value js_mems_malloc(napi_env env, napi_callback_info info) {
  call_t c;
  size_t size;
  if (!get_call(env, info, &c, true) || !arg_size(&c, 0, "size", &size)) return NULL;
  uintptr_t v = rmem_mems_malloc(c.inst->r, size);
  if (!v) return throw_last_c(&c, RMEM_ENOMEM);
  sync_external(env, c.inst);
  return num(env, (double)v);
}

static napi_value js_mems_free(napi_env env, napi_callback_info info) {
  call_t c;
  uintptr_t v;
  if (!get_call(env, info, &c, true) || !arg_vaddr(&c, 0, &v)) return NULL;
  rmem_status_t st = rmem_mems_free(c.inst->r, v);
  if (st != RMEM_OK) return throw_status_c(&c, st);
  sync_external(env, c.inst);
  return undefined(env);
}

static napi_value js_mems_get(napi_env env, napi_callback_info info) {
  call_t c;
  uintptr_t v;
  if (!get_call(env, info, &c, true) || !arg_vaddr(&c, 0, &v)) return NULL;
  void *p = rmem_mems_get(c.inst->r, v);
  if (!p) return throw_last_c(&c, RMEM_EBADPTR);
  return offset_value(env, c.inst, p);
}

/* memsExtent(vaddr) -> [offset of vaddr in memory, bytes to the end of its segment] via scratch; returns offset. */
static napi_value js_mems_extent(napi_env env, napi_callback_info info) {
  call_t c;
  uintptr_t v;
  if (!get_call(env, info, &c, true) || !arg_vaddr(&c, 0, &v)) return NULL;
  void *p = rmem_mems_get(c.inst->r, v);
  if (!p) return throw_last_c(&c, RMEM_EBADPTR);
  rmem_mems_segment_t seg; /* O(log n): the segment that holds v */
  rmem_status_t st = rmem_mems_find(c.inst->r, v, &seg);
  if (st != RMEM_OK) return throw_status_c(&c, st);
  c.inst->scratch[1] = (uint32_t)(seg.kind == MEMS_PROCESS ? seg.eva - v + 1 : 0);
  return offset_value(env, c.inst, p);
}

static napi_value js_mems_print_stats(napi_env env, napi_callback_info info) {
  call_t c;
  if (!get_call(env, info, &c, true)) return NULL;
  fflush(stdout);
  rmem_status_t st = rmem_mems_print_stats(c.inst->r, stdout);
  fflush(stdout); /* so the lines land before whatever JS writes next */
  if (st != RMEM_OK) return throw_status_c(&c, st);
  return undefined(env);
}

static napi_value js_mems_stats(napi_env env, napi_callback_info info) {
  call_t c;
  if (!get_call(env, info, &c, true)) return NULL;
  rmem_mems_stats_t s;
  rmem_status_t st = rmem_mems_stats(c.inst->r, &s);
  if (st != RMEM_OK) return throw_status_c(&c, st);
  napi_value o;
  NODE_API_CALL(env, napi_create_object(env, &o));
  if (!set_num(env, o, "pagesUsed", (double)s.pages_used) || !set_num(env, o, "spaceUnused", (double)s.space_unused) ||
      !set_num(env, o, "mainChainLength", (double)s.main_chain_length) ||
      !set_num(env, o, "segments", (double)s.segments) ||
      !set_num(env, o, "processSegments", (double)s.process_segments) ||
      !set_num(env, o, "holeSegments", (double)s.hole_segments) || !set_num(env, o, "bytesInUse", (double)s.bytes_in_use))
    return NULL;
  return o;
}

static napi_value js_mems_finish(napi_env env, napi_callback_info info) {
  call_t c;
  if (!get_call(env, info, &c, true)) return NULL;
  rmem_status_t st = rmem_mems_finish(c.inst->r);
  if (st != RMEM_OK) return throw_status_c(&c, st);
  sync_external(env, c.inst);
  return undefined(env);
}

static napi_value js_mems_validate(napi_env env, napi_callback_info info) {
  call_t c;
  if (!get_call(env, info, &c, true)) return NULL;
  rmem_clear_error();
  size_t n = rmem_mems_validate(c.inst->r);
  rmem_clear_error();
  return num(env, (double)n);
}

/* ------------------------------------------------------------------------
 * createInstance(capacity, flags)
 * ------------------------------------------------------------------------ */

static const struct {
  const char *name;
  napi_callback cb;
} inst_functions[] = {
  {"alloc", js_alloc},
  {"free", js_free},
  {"calloc", js_calloc},
  {"realloc", js_realloc},
  {"alignedAlloc", js_aligned_alloc},
  {"usableSize", js_usable_size},
  {"allocBatch", js_alloc_batch},
  {"freeBatch", js_free_batch},
  {"defrag", js_defrag},
  {"stats", js_stats},
  {"validate", js_validate},
  {"extent", js_extent},
  {"destroy", js_destroy},
  {"arenaCreate", js_arena_create},
  {"arenaAlloc", js_arena_alloc},
  {"arenaFree", js_arena_free},
  {"arenaReset", js_arena_reset},
  {"arenaDestroy", js_arena_destroy},
  {"arenaStats", js_arena_stats},
  {"cacheCreate", js_cache_create},
  {"cacheAlloc", js_cache_alloc},
  {"cacheFree", js_cache_free},
  {"cacheDestroy", js_cache_destroy},
  {"cacheShrink", js_cache_shrink},
  {"cacheStats", js_cache_stats},
  {"memsInit", js_mems_init},
  {"memsMalloc", js_mems_malloc},
  {"memsFree", js_mems_free},
  {"memsGet", js_mems_get},
  {"memsExtent", js_mems_extent},
  {"memsPrintStats", js_mems_print_stats},
  {"memsStats", js_mems_stats},
  {"memsFinish", js_mems_finish},
  {"memsValidate", js_mems_validate},
};

#define N_INST_FUNCTIONS (sizeof inst_functions / sizeof inst_functions[0])

static napi_value js_create_instance(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  rmem_js_env_t *e = NULL;
  NODE_API_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  NODE_API_CALL(env, napi_get_instance_data(env, (void **)&e));
  rmem_options_t opt = {0, 0};
  double d = 0;
  if (argc > 0) {
    napi_valuetype t;
    NODE_API_CALL(env, napi_typeof(env, argv[0], &t));
    if (t != napi_undefined) {
      if (t != napi_number || napi_get_value_double(env, argv[0], &d) != napi_ok)
        return throw_code(env, KIND_TYPE, "ERR_INVALID_ARG_TYPE", "The \"capacity\" option must be of type number");
      if (!(d >= (double)RMEM_MIN_CAPACITY && d <= (double)RMEM_MAX_CAPACITY) || d != floor(d))
        return throw_code(env, KIND_RANGE, "ERR_OUT_OF_RANGE",
                          "The value of \"capacity\" is out of range. It must be an integer >= 1048576 && <= 4294967296");
      opt.capacity = (size_t)d;
    }
  }
  if (argc > 1) {
    uint32_t f = 0;
    NODE_API_CALL(env, napi_get_value_uint32(env, argv[1], &f));
    opt.flags = f;
  }
  rmem_t *r = rmem_create(&opt);
  if (!r) return throw_last(env, RMEM_ENOMEM);

  rmem_js_inst_t *inst = calloc(1, sizeof *inst);
  if (!inst) {
    rmem_destroy(r);
    return throw_code(env, KIND_ERROR, "ERR_RMEM_OUT_OF_MEMORY", "rmem: out of memory");
  }
  inst->r = r;
  inst->owner = e;
  inst->next = e->insts;
  if (e->insts) e->insts->prev = inst;
  e->insts = inst;
  inst->refs = 1; /* held by this function until the objects below take over */

  napi_value obj, memory, scratch_ab, scratch;
  NODE_API_CALL(env, napi_create_object(env, &obj));
  for (size_t i = 0; i < N_INST_FUNCTIONS; i++) {
    napi_value fn;
    NODE_API_CALL(env, napi_create_function(env, inst_functions[i].name, NAPI_AUTO_LENGTH, inst_functions[i].cb, inst, &fn));
    NODE_API_CALL(env, napi_add_finalizer(env, fn, inst, fn_finalize, NULL, NULL));
    inst->refs++;
    NODE_API_CALL(env, napi_set_named_property(env, obj, inst_functions[i].name, fn));
  }
  /* The range as one ArrayBuffer; its finaliser only drops a ref, never frees. */
  NODE_API_CALL(env, napi_create_external_arraybuffer(env, rmem_base(r), rmem_capacity(r), memory_finalize, inst, &memory));
  inst->refs++;
  NODE_API_CALL(env, napi_create_reference(env, memory, 0, &inst->memory_ref));
  void *sdata = NULL;
  NODE_API_CALL(env, napi_create_arraybuffer(env, SCRATCH_WORDS * sizeof(uint32_t), &sdata, &scratch_ab));
  inst->scratch = sdata;
  NODE_API_CALL(env, napi_create_reference(env, scratch_ab, 1, &inst->scratch_ref));
  NODE_API_CALL(env, napi_create_typedarray(env, napi_uint32_array, SCRATCH_WORDS, scratch_ab, 0, &scratch));
  /* The JS heap front's tag map: out of band (not in `memory`), read by the validator here. */
  napi_value tags_ab, tags;
  void *tdata = NULL;
  inst->ntags = rmem_capacity(r) / 8;
  NODE_API_CALL(env, napi_create_arraybuffer(env, inst->ntags, &tdata, &tags_ab));
  inst->tags = tdata;
  NODE_API_CALL(env, napi_create_reference(env, tags_ab, 1, &inst->tags_ref));
  NODE_API_CALL(env, napi_create_typedarray(env, napi_uint8_array, inst->ntags, tags_ab, 0, &tags));
  NODE_API_CALL(env, napi_set_named_property(env, obj, "tags", tags));
  NODE_API_CALL(env, napi_set_named_property(env, obj, "memory", memory));
  NODE_API_CALL(env, napi_set_named_property(env, obj, "scratch", scratch));
  if (!set_num(env, obj, "capacity", (double)rmem_capacity(r))) return NULL;
  inst->refs--; /* this function's own hold */
  return obj;
}

/* statusName(code) -> "RMEM_EBADPTR"; for tests and messages. */
static napi_value js_status_name(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  uint32_t code = 0;
  NODE_API_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc > 0) NODE_API_CALL(env, napi_get_value_uint32(env, argv[0], &code));
  napi_value s;
  NODE_API_CALL(env, napi_create_string_utf8(env, rmem_status_name((rmem_status_t)code), NAPI_AUTO_LENGTH, &s));
  return s;
}

NAPI_MODULE_INIT(/* napi_env env, napi_value exports */) {
  rmem_js_env_t *e = calloc(1, sizeof *e);
  if (!e) {
    napi_throw_error(env, "ERR_RMEM_OUT_OF_MEMORY", "rmem: out of memory");
    return NULL;
  }
  if (napi_set_instance_data(env, e, env_finalize, NULL) != napi_ok) {
    free(e);
    throw_napi_failure(env, "napi_set_instance_data");
    return NULL;
  }
  napi_value fn;
  NODE_API_CALL(env, napi_create_function(env, "createInstance", NAPI_AUTO_LENGTH, js_create_instance, NULL, &fn));
  NODE_API_CALL(env, napi_set_named_property(env, exports, "createInstance", fn));
  NODE_API_CALL(env, napi_create_function(env, "statusName", NAPI_AUTO_LENGTH, js_status_name, NULL, &fn));
  NODE_API_CALL(env, napi_set_named_property(env, exports, "statusName", fn));
  napi_value consts;
  NODE_API_CALL(env, napi_create_object(env, &consts));
  if (!set_num(env, consts, "PAGE_SIZE", RMEM_PAGE_SIZE) || !set_num(env, consts, "SMALL_MAX", (double)RMEM_SMALL_MAX) ||
      !set_num(env, consts, "DEFAULT_CAPACITY", (double)RMEM_DEFAULT_CAPACITY) ||
      !set_num(env, consts, "MIN_CAPACITY", (double)RMEM_MIN_CAPACITY) ||
      !set_num(env, consts, "MAX_CAPACITY", (double)RMEM_MAX_CAPACITY) ||
      !set_num(env, consts, "OPT_JUNK", RMEM_OPT_JUNK) || !set_num(env, consts, "OPT_VALIDATE", RMEM_OPT_VALIDATE) ||
      !set_num(env, consts, "SLAB_STRICT", RMEM_SLAB_STRICT) ||
      !set_num(env, consts, "SCRATCH_WORDS", SCRATCH_WORDS))
    return NULL;
  NODE_API_CALL(env, napi_set_named_property(env, exports, "constants", consts));
  return exports;
}
