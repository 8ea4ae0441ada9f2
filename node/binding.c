/*
 * binding.c - the Node-API bridge between rmem (C) and JavaScript.
 *
 * It uses only the public contracts (include/rmem.h, include/rmem_os.h).
 *
 * What it does
 *   createInstance(capacity, flags) makes one rmem_t and returns a plain object
 *   of native functions bound to it (napi_create_function's data pointer is the
 *   instance record, so a call needs no unwrap), plus
 *     memory    the instance's whole range as ONE external ArrayBuffer;
 *     scratch   a small Uint32Array through which a call returns a second
 *               result (a lease length) without allocating a JS object;
 *     front     typed arrays over the heap front's out-of-band state (the live
 *               bitmap, the page tags, the stacks: rmem_front_layout), on
 *               which lib/front.js runs the heap's fast paths itself; on a
 *               shared instance, remoteLayout(id) adds another thread
 *               heap's summaries (rmem_remote_layout) for its remote frees.
 *   Pointers in JS are byte offsets into `memory` (0 = NULL; rmem.h guarantees
 *   the first and last pages are never handed out, so every offset and every
 *   end offset fits in uint32).
 *
 * Context awareness
 *   No globals. Each napi_env (main thread, every worker) has its own
 *   rmem_js_env_t (napi_set_instance_data) listing its instances; the env's
 *   finaliser destroys whatever is left. A private instance never crosses
 *   threads: each env makes its own. A shared one (RMEM_OPT_SHARED, below) is
 *   one rmem_t with one record per process, and each env that attaches to it
 *   gets an instance record of its own over it.
 *
 * Lifetime of an instance record (rmem_js_inst_t)
 *   refs = number of native functions bound to it + 2 for the memory
 *   ArrayBuffer (its object and its backing store). Each of those drops one
 *   ref in its finaliser; at zero the instance is destroyed and the record
 *   freed. destroy() (explicit) destroys the instance at once: it DETACHES the
 *   front's views over metadata (which it unmaps), and puts fresh zero pages
 *   under the memory buffer, so its pages go back at once while a native job
 *   still writing into a view of it (crypto.randomFill, zlib) writes into
 *   them; the range itself is unmapped when the buffer object is collected
 *   (every view holds it). The record stays (r == NULL) so later calls throw
 *   ERR_RMEM_DESTROYED.
 *
 * Handles
 *   Arenas and slab caches are named in JS by a number h = generation * 2^16 +
 *   index: the library's own checkable handle (rmem_arena_index /
 *   rmem_arena_from_index, rmem_slab_cache_index / _from_index). A handle is
 *   resolved by C against the instance before any pointer is touched: a
 *   destroyed one throws ERR_RMEM_DESTROYED, a forged one
 *   ERR_RMEM_INVALID_HANDLE. No C pointer ever reaches JS, and error messages
 *   name blocks by offset (rmem_error_info_t), never by address.
 *
 * Errors
 *   Every napi_status is checked (NODE_API_CALL), except inside the code that
 *   throws an error and inside finalisers, where there is no one left to tell.
 *   Every native function ends in one of three tails -- done() for a status,
 *   done_ptr() for an allocation, done_value() for a value -- so an rmem
 *   failure always becomes the same thrown Error: `code` mapped from
 *   rmem_status_t (rmem_js_code), message rmem_last_error_message().
 *   Argument checks throw Node's own ERR_INVALID_ARG_TYPE / ERR_OUT_OF_RANGE.
 */
#include <node_api.h>

#include <math.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <time.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rmem.h"
#include "rmem_os.h"

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
    case RMEM_EPERM: return "ERR_RMEM_WRONG_THREAD";
    default: return "ERR_RMEM_UNKNOWN";
  }
}

/*
 * Throws the failure st: this thread's last rmem error if it is about st,
 * else st by name. The record is cleared, so a later call never reports a
 * stale error.
 */
static napi_value throw_status(napi_env env, rmem_status_t st) {
  rmem_error_info_t info;
  rmem_last_error_info(&info);
  char msg[512]; /* the message lives in the per-thread record we clear below */
  snprintf(msg, sizeof msg, "%s", info.code == st && info.message[0] ? info.message : rmem_status_name(st));
  int kind;
  const char *code = rmem_js_code(st, &kind);
  rmem_clear_error();
  return throw_code(env, kind, code, msg);
}

/* Throws this thread's last rmem error (fallback if none was recorded). */
static napi_value throw_last(napi_env env, rmem_status_t fallback) {
  rmem_status_t st = rmem_last_error();
  return throw_status(env, st != RMEM_OK ? st : fallback);
}

/* ------------------------------------------------------------------------
 * Per-environment and per-instance state
 * ------------------------------------------------------------------------ */

typedef struct rmem_js_env rmem_js_env_t;
typedef struct shared_rec shared_rec_t;

#define MAX_VIEWS 12 /* external buffers over one instance's metadata (the front), detached by destroy() */

typedef struct rmem_js_inst {
  rmem_t *r;                 /* NULL after destroy() */
  rmem_js_env_t *owner;      /* NULL after the env is gone */
  struct rmem_js_inst *next, *prev;
  uint32_t refs;             /* bound functions + the ArrayBuffer still alive */
  napi_ref views[MAX_VIEWS]; /* weak: the front's maps */
  uint32_t nviews;
  napi_ref scratch_ref;      /* strong: the scratch ArrayBuffer */
  uint32_t *scratch;
  napi_ref *cache_views;     /* weak: each slab cache's front, by cache index (detached with the cache) */
  uint32_t ncache_views;
  napi_ref (*heap_views)[3]; /* weak, shared instances: other threads' heaps' remote layouts (sum, pending,
                                state) by heap id, made when this thread first frees into one */
  int64_t reported;          /* bytes announced to V8 with napi_adjust_external_memory */
  size_t narenas, ncaches;   /* live arenas and slab caches made through this bridge */
  shared_rec_t *shared;      /* a shared instance: this is one attachment of it (r is the record's) */
  /* a private instance's range, reserved here (rmem_create_in), so that destroy() can free its pages at once
     and unmap it only when nothing can reach it: native code (a thread-pool job) may still hold the
     ArrayBuffer's bytes after destroy() detached it; the buffer's finaliser says when it let go */
  void *raw;                 /* the reservation (base rounded up inside it) */
  size_t raw_bytes;
  void *base;
  size_t cap;
  bool memory_gone;          /* the memory ArrayBuffer's backing store was freed */
} rmem_js_inst_t;

struct rmem_js_env {
  rmem_js_inst_t *insts;
};

static bool env_attached(rmem_js_env_t *e, shared_rec_t *rec, rmem_js_inst_t *inst) {
  for (rmem_js_inst_t *i = e->insts; i; i = i->next)
    if (i != inst && i->shared == rec && i->r) return true;
  return false;
}

#define SCRATCH_WORDS 1024u

/* Detaches an external ArrayBuffer we keep a weak reference to (if it is still alive) and drops the reference. */
static void detach_ref(napi_env env, napi_ref *ref) {
  if (!*ref) return;
  napi_value ab = NULL;
  if (env && napi_get_reference_value(env, *ref, &ab) == napi_ok && ab) napi_detach_arraybuffer(env, ab);
  if (env) napi_delete_reference(env, *ref);
  *ref = NULL;
}

static void inst_detach_all(napi_env env, rmem_js_inst_t *inst) {
  for (uint32_t i = 0; i < inst->nviews; i++) detach_ref(env, &inst->views[i]);
  inst->nviews = 0;
  for (uint32_t i = 0; i < inst->ncache_views; i++) detach_ref(env, &inst->cache_views[i]);
  if (inst->heap_views)
    for (uint32_t i = 0; i <= RMEM_SHARED_MAX_THREADS; i++)
      for (int k = 0; k < 3; k++) detach_ref(env, &inst->heap_views[i][k]);
}

/* ------------------------------------------------------------------------
 * Shared instances: one record per rmem_t, process-wide, so that any env
 * (any worker) can attach to it with the token share() gave. The record
 * counts attachments; the last one released destroys the instance (its
 * range, a WebAssembly.Memory's SharedArrayBuffer, is V8's: V8 frees it when
 * no thread holds it any more). The registry is taken for a few loads and
 * stores only, so a spin lock does (there is no portable mutex in Node-API).
 * ------------------------------------------------------------------------ */

struct shared_rec {
  rmem_t *r;
  uint32_t id;
  uint32_t attachments; /* live attachments, every env */
  uint64_t key;         /* a token names the record by (id, key): a forged id finds nothing */
  shared_rec_t *next;
};

static shared_rec_t *shared_list;
static uint32_t shared_ids;
static atomic_flag shared_spin = ATOMIC_FLAG_INIT;

static void shared_lock(void) {
  while (atomic_flag_test_and_set_explicit(&shared_spin, memory_order_acquire)) {
  }
}
static void shared_unlock(void) { atomic_flag_clear_explicit(&shared_spin, memory_order_release); }

/* A key no one can guess from the id: the addresses and a counter through a 64-bit mix (splitmix64). */
static uint64_t shared_key(const void *a, const void *b, uint32_t id) {
  uint64_t z = (uint64_t)(uintptr_t)a ^ ((uint64_t)(uintptr_t)b << 17) ^ ((uint64_t)id << 40) ^ (uint64_t)clock();
  z += 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return (z ^ (z >> 31)) & 0x1FFFFFFFFFFFFFull; /* 53 bits: exact as a JS number */
}

static shared_rec_t *shared_new(rmem_t *r) {
  shared_rec_t *rec = calloc(1, sizeof *rec);
  if (!rec) return NULL;
  rec->r = r;
  rec->attachments = 1;
  shared_lock();
  rec->id = ++shared_ids;
  rec->key = shared_key(rec, r, rec->id);
  rec->next = shared_list;
  shared_list = rec;
  shared_unlock();
  return rec;
}

/* The record (id, key) over [base, base + bytes), one attachment more; NULL if there is none. */
static shared_rec_t *shared_attach(uint32_t id, uint64_t key, const void *base, size_t bytes) {
  shared_lock();
  shared_rec_t *rec = shared_list;
  while (rec && rec->id != id) rec = rec->next;
  if (rec && (rec->key != key || rmem_base(rec->r) != base || rmem_capacity(rec->r) != bytes)) rec = NULL;
  if (rec) rec->attachments++;
  shared_unlock();
  return rec;
}

/* One attachment less; the last destroys the instance. */
static void shared_release(shared_rec_t *rec) {
  shared_lock();
  bool last = --rec->attachments == 0;
  if (last)
    for (shared_rec_t **p = &shared_list; *p; p = &(*p)->next)
      if (*p == rec) {
        *p = rec->next;
        break;
      }
  shared_unlock();
  if (!last) return;
  rmem_destroy(rec->r);
  free(rec);
}

/* Does env e hold another live attachment of rec than inst? */
static bool env_attached(rmem_js_env_t *e, shared_rec_t *rec, rmem_js_inst_t *inst);

/* Unmaps a private instance's range once it is destroyed and its ArrayBuffer's backing store is gone. */
static void inst_release_raw(rmem_js_inst_t *inst) {
  if (!inst->raw || inst->r || !inst->memory_gone) return;
  rmem_os_release(inst->raw, inst->raw_bytes);
  inst->raw = NULL;
}

static void inst_destroy_range(rmem_js_inst_t *inst) {
  if (!inst->r) return;
  if (inst->shared) {
    /* this thread's heap goes back (its frees of others' blocks done, its own blocks free for the other
       threads' frees to reach) unless another attachment of this thread still uses it */
    if (!inst->owner || !env_attached(inst->owner, inst->shared, inst)) rmem_local_release(inst->r);
    rmem_clear_error();
    shared_release(inst->shared);
    inst->shared = NULL;
  } else {
    rmem_destroy(inst->r); /* every arena and cache dies with it; their handles are refused by get_call */
    /* fresh zero pages over the whole range at once: its memory goes back now, and a native job still
       writing into the detached buffer writes into them, never into unmapped memory */
    if (inst->base) rmem_os_decommit(inst->base, inst->cap);
  }
  inst->r = NULL;
  inst->narenas = inst->ncaches = 0;
  inst_release_raw(inst);
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

/* Drops one ref (a bound function or the ArrayBuffer was collected). */
static void inst_release(napi_env env, rmem_js_inst_t *inst) {
  if (--inst->refs > 0) return;
  if (inst->owner) {
    /* The env is alive: give back what we told V8 about, and our references. */
    int64_t ignored;
    if (inst->reported) napi_adjust_external_memory(env, -inst->reported, &ignored);
    if (inst->scratch_ref) napi_delete_reference(env, inst->scratch_ref);
    inst_detach_all(env, inst);
    inst_unlink(inst);
  }
  inst_destroy_range(inst);
  free(inst->cache_views);
  free(inst->heap_views);
  free(inst);
}

static void fn_finalize(napi_env env, void *data, void *hint) {
  (void)hint;
  inst_release(env, (rmem_js_inst_t *)data);
}

static void memory_finalize(napi_env env, void *data, void *hint) {
  (void)data;
  /* The buffer's backing store is gone (never the range: see memory_object_finalize); its ref goes. */
  inst_release(env, (rmem_js_inst_t *)hint);
}

/*
 * The memory ArrayBuffer OBJECT was collected. Detaching it (destroy()) lets its backing store go at once,
 * while a native job given a view of it (crypto.randomFill, zlib) may still be writing through the pointer
 * it took; Node keeps the JS buffer of such a job alive until the job's callback, and every view holds its
 * ArrayBuffer object, so once the object is collected nothing can reach the range: it is unmapped now if
 * the instance was destroyed, else by the destroy.
 */
static void memory_object_finalize(napi_env env, void *data, void *hint) {
  (void)hint;
  rmem_js_inst_t *inst = data;
  inst->memory_gone = true;
  inst_release_raw(inst);
  inst_release(env, inst);
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

/* Tells V8 about the pages the instance has in use (slow paths only). */
static void sync_external(napi_env env, rmem_js_inst_t *inst) {
  if (inst->shared) return; /* a WebAssembly.Memory: V8 counts it itself */
  int64_t now = inst->r ? (int64_t)rmem_pages_in_use(inst->r) : 0;
  int64_t delta = now - inst->reported;
  if (delta > -(256 << 10) && delta < (256 << 10) && !(now == 0 && inst->reported)) return;
  int64_t ignored;
  if (napi_adjust_external_memory(env, delta, &ignored) == napi_ok) inst->reported = now;
}

/* ------------------------------------------------------------------------
 * Calls, arguments and the three tails
 * ------------------------------------------------------------------------ */

typedef struct call {
  napi_env env;
  rmem_js_inst_t *inst;
  rmem_t *r;
  size_t argc;
  napi_value argv[4];
} call_t;

/* Reads this, args and the instance; throws ERR_RMEM_DESTROYED if the range is gone (need_range). */
static bool get_call(napi_env env, napi_callback_info info, call_t *c, bool need_range) {
  c->env = env;
  c->argc = 4;
  void *data = NULL;
  NODE_API_CALL_B(env, napi_get_cb_info(env, info, &c->argc, c->argv, NULL, &data));
  for (size_t i = c->argc; i < 4; i++) c->argv[i] = NULL;
  c->inst = data;
  c->r = c->inst->r;
  if (need_range && !c->r) {
    throw_code(env, KIND_ERROR, "ERR_RMEM_DESTROYED", "rmem: this instance was destroyed");
    return false;
  }
  return true;
}

/* Every native function on an instance starts here: `c` is the call, and a destroyed instance throws. */
#define CALL(need_range)                                  \
  call_t c;                                               \
  if (!get_call(env, info, &c, (need_range))) return NULL

static napi_value undefined(napi_env env) {
  napi_value v;
  NODE_API_CALL(env, napi_get_undefined(env, &v));
  return v;
}

static napi_value num(napi_env env, double d) {
  napi_value v;
  NODE_API_CALL(env, napi_create_double(env, d, &v));
  return v;
}

/* The tail of a call that returns a status: undefined, or the failure thrown. */
static napi_value done(call_t *c, rmem_status_t st) {
  if (st != RMEM_OK) return throw_status(c->env, st);
  if (c->inst->r) sync_external(c->env, c->inst);
  return undefined(c->env);
}

/* The tail of an allocation: the block's offset, or the failure (fallback if C recorded none) thrown. */
static napi_value done_ptr(call_t *c, const void *p, rmem_status_t fallback) {
  if (!p) return throw_last(c->env, fallback);
  sync_external(c->env, c->inst);
  napi_value v;
  NODE_API_CALL(c->env, napi_create_uint32(c->env, (uint32_t)((uintptr_t)p - (uintptr_t)rmem_base(c->r)), &v));
  return v;
}

/* The tail of a call that returns a value (NULL value: the failure st is thrown). */
static napi_value done_value(call_t *c, rmem_status_t st, napi_value v) {
  if (st != RMEM_OK) return throw_status(c->env, st);
  return v;
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

/* A pointer argument: an offset inside the range (0 stays NULL); offsets outside it are refused (EBADPTR). */
static bool arg_ptr(call_t *c, size_t i, void **p) {
  size_t off;
  if (!arg_offset(c, i, "ptr", &off)) return false;
  if (off == 0) {
    *p = NULL;
    return true;
  }
  if (off >= rmem_capacity(c->r)) {
    char msg[160];
    snprintf(msg, sizeof msg, "rmem: offset %zu is outside the instance's memory (%zu bytes)", off, rmem_capacity(c->r));
    throw_code(c->env, KIND_ERROR, "ERR_RMEM_INVALID_POINTER", msg);
    return false;
  }
  *p = (char *)rmem_base(c->r) + off;
  return true;
}

/* ------------------------------------------------------------------------
 * Plain objects from C structs: one table of fields per struct
 * ------------------------------------------------------------------------ */

enum { F_SIZE, F_DOUBLE, F_U32, F_INT, F_STR };

typedef struct field {
  const char *name;
  size_t off;
  int type;
} field_t;

#define FIELD(type_, s, m, js) {js, offsetof(s, m), type_}

/* One object with the fields of src, made with a single napi_define_properties (a fast-mode object). */
static napi_value make_object(napi_env env, const void *src, const field_t *f, size_t n) {
  napi_property_descriptor d[24];
  if (n > sizeof d / sizeof d[0]) n = sizeof d / sizeof d[0];
  const char *base = src;
  for (size_t i = 0; i < n; i++) {
    napi_value v;
    const void *at = base + f[i].off;
    switch (f[i].type) {
      case F_SIZE: NODE_API_CALL(env, napi_create_double(env, (double)*(const size_t *)at, &v)); break;
      case F_DOUBLE: NODE_API_CALL(env, napi_create_double(env, *(const double *)at, &v)); break;
      case F_U32: NODE_API_CALL(env, napi_create_double(env, (double)*(const uint32_t *)at, &v)); break;
      case F_INT: NODE_API_CALL(env, napi_create_double(env, (double)*(const int *)at, &v)); break;
      default: {
        const char *s = *(const char *const *)at;
        NODE_API_CALL(env, napi_create_string_utf8(env, s ? s : "", NAPI_AUTO_LENGTH, &v));
      }
    }
    d[i] = (napi_property_descriptor){f[i].name, NULL, NULL, NULL, NULL, v, napi_writable | napi_enumerable | napi_configurable, NULL};
  }
  napi_value o;
  NODE_API_CALL(env, napi_create_object(env, &o));
  NODE_API_CALL(env, napi_define_properties(env, o, n, d));
  return o;
}

#define NFIELDS(t) (sizeof(t) / sizeof((t)[0]))

/* ------------------------------------------------------------------------
 * Handles: h = generation * 2^16 + index (the library's checkable pairs)
 * ------------------------------------------------------------------------ */

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
    throw_status(c->env, RMEM_ESTALE);
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
  arena_t *a = rmem_arena_from_index(c->r, index, gen);
  return a ? a : bad_handle(c, "arena");
}

static slab_cache_t *arg_cache(call_t *c, size_t i) {
  uint32_t index, gen;
  if (!arg_handle_pair(c, i, "slab cache", &index, &gen)) return NULL;
  slab_cache_t *sc = rmem_slab_cache_from_index(c->r, index, gen);
  return sc ? sc : bad_handle(c, "slab cache");
}

/* ------------------------------------------------------------------------
 * The general heap (the JS front, lib/front.js, calls these only off its fast paths)
 * ------------------------------------------------------------------------ */

static napi_value js_alloc(napi_env env, napi_callback_info info) {
  CALL(true);
  size_t size;
  if (!arg_size(&c, 0, "size", &size)) return NULL;
  return done_ptr(&c, rmem_alloc(c.r, size), RMEM_ENOMEM);
}

static napi_value js_free(napi_env env, napi_callback_info info) {
  CALL(true);
  void *p;
  if (!arg_ptr(&c, 0, &p)) return NULL;
  return done(&c, rmem_free(c.r, p));
}

static napi_value js_calloc(napi_env env, napi_callback_info info) {
  CALL(true);
  size_t n, size;
  if (!arg_size(&c, 0, "count", &n) || !arg_size(&c, 1, "size", &size)) return NULL;
  return done_ptr(&c, rmem_calloc(c.r, n, size), RMEM_ENOMEM);
}

static napi_value js_realloc(napi_env env, napi_callback_info info) {
  CALL(true);
  void *p;
  size_t size;
  if (!arg_ptr(&c, 0, &p) || !arg_size(&c, 1, "size", &size)) return NULL;
  return done_ptr(&c, rmem_realloc(c.r, p, size), RMEM_ENOMEM);
}

static napi_value js_aligned_alloc(napi_env env, napi_callback_info info) {
  CALL(true);
  size_t align, size;
  if (!arg_size(&c, 0, "alignment", &align) || !arg_size(&c, 1, "size", &size)) return NULL;
  return done_ptr(&c, rmem_aligned_alloc(c.r, align, size), RMEM_ENOMEM);
}

static napi_value js_usable_size(napi_env env, napi_callback_info info) {
  CALL(true);
  void *p;
  if (!arg_ptr(&c, 0, &p)) return NULL;
  if (!p) return throw_code(env, KIND_ERROR, "ERR_RMEM_INVALID_POINTER", "rmem: null pointer");
  size_t n = rmem_usable_size(c.r, p);
  return done_value(&c, n ? RMEM_OK : RMEM_EBADPTR, num(env, (double)n));
}

/* extent(ptr) -> bytes from ptr to the end of the live block it names (rmem_block_extent), 0 if none. */
static napi_value js_extent(napi_env env, napi_callback_info info) {
  CALL(true);
  size_t off;
  if (!arg_offset(&c, 0, "ptr", &off)) return NULL;
  rmem_extent_t e = {0, 0, RMEM_OWNER_NONE};
  if (off == 0 || off >= rmem_capacity(c.r) || rmem_block_extent(c.r, (char *)rmem_base(c.r) + off, &e) != RMEM_OK)
    e.size = 0;
  rmem_clear_error();
  return num(env, (double)e.size);
}

static const field_t defrag_fields[] = {
  FIELD(F_SIZE, rmem_defrag_report_t, merged, "merged"),
  FIELD(F_SIZE, rmem_defrag_report_t, slabs_released, "slabsReleased"),
  FIELD(F_SIZE, rmem_defrag_report_t, pages_released, "pagesReleased"),
  FIELD(F_SIZE, rmem_defrag_report_t, bytes_released, "bytesReleased"),
};

static napi_value js_defrag(napi_env env, napi_callback_info info) {
  CALL(true);
  rmem_defrag_report_t rep;
  memset(&rep, 0, sizeof rep);
  rmem_status_t st = rmem_defrag(c.r, &rep);
  if (st == RMEM_OK) sync_external(env, c.inst);
  return done_value(&c, st, st == RMEM_OK ? make_object(env, &rep, defrag_fields, NFIELDS(defrag_fields)) : NULL);
}

/* The instance's figures and its heap's, as one struct for the field tables. */
typedef struct inst_stats {
  rmem_stats_t s;
  rmem_heap_stats_t h;
  size_t arenas, caches, reported;
} inst_stats_t;

static const field_t stats_fields[] = {
  FIELD(F_SIZE, inst_stats_t, s.capacity, "capacity"),
  FIELD(F_SIZE, inst_stats_t, s.committed, "committed"),
  FIELD(F_SIZE, inst_stats_t, s.resident, "resident"),
  FIELD(F_SIZE, inst_stats_t, s.pages_in_use, "pagesInUse"),
  FIELD(F_SIZE, inst_stats_t, s.pages_free, "pagesFree"),
  FIELD(F_SIZE, inst_stats_t, s.largest_free, "largestFree"),
  FIELD(F_SIZE, inst_stats_t, s.metadata, "metadata"),
  FIELD(F_SIZE, inst_stats_t, arenas, "arenas"),
  FIELD(F_SIZE, inst_stats_t, reported, "externalReported"),
  FIELD(F_SIZE, inst_stats_t, caches, "slabCaches"),
};

static const field_t heap_fields[] = {
  FIELD(F_SIZE, rmem_heap_stats_t, used, "used"),
  FIELD(F_SIZE, rmem_heap_stats_t, free, "free"),
  FIELD(F_SIZE, rmem_heap_stats_t, live_blocks, "liveBlocks"),
  FIELD(F_SIZE, rmem_heap_stats_t, free_slots, "freeSlots"),
  FIELD(F_SIZE, rmem_heap_stats_t, slabs, "slabs"),
  FIELD(F_SIZE, rmem_heap_stats_t, large_blocks, "largeBlocks"),
  FIELD(F_SIZE, rmem_heap_stats_t, largest_free, "largestFree"),
  FIELD(F_DOUBLE, rmem_heap_stats_t, fragmentation, "fragmentation"),
  FIELD(F_SIZE, rmem_heap_stats_t, allocs, "allocs"),
  FIELD(F_SIZE, rmem_heap_stats_t, frees, "frees"),
  FIELD(F_SIZE, rmem_heap_stats_t, threads, "threads"),
  FIELD(F_SIZE, rmem_heap_stats_t, threads_active, "threadsActive"),
  FIELD(F_SIZE, rmem_heap_stats_t, remote_frees, "remoteFrees"),
};

static napi_value js_stats(napi_env env, napi_callback_info info) {
  CALL(true);
  inst_stats_t x;
  memset(&x, 0, sizeof x);
  rmem_status_t st = rmem_stats(c.r, &x.s);
  if (st == RMEM_OK) st = rmem_heap_stats(c.r, &x.h);
  if (st != RMEM_OK) return throw_status(env, st);
  sync_external(env, c.inst);
  x.arenas = c.inst->narenas;
  x.caches = c.inst->ncaches;
  x.reported = (size_t)c.inst->reported;
  napi_value o = make_object(env, &x, stats_fields, NFIELDS(stats_fields));
  napi_value heap = o ? make_object(env, &x.h, heap_fields, NFIELDS(heap_fields)) : NULL;
  if (!heap) return NULL;
  NODE_API_CALL(env, napi_set_named_property(env, o, "heap", heap));
  return o;
}

/* validate() -> { problems, message }: the validators' count and the first problem's description. */
static napi_value js_validate(napi_env env, napi_callback_info info) {
  CALL(true);
  rmem_clear_error();
  struct {
    size_t problems;
    const char *message;
  } v = {rmem_validate(c.r), ""};
  if (v.problems) v.message = rmem_last_error_message();
  static const field_t fields[] = {{"problems", 0, F_SIZE}, {"message", sizeof(size_t), F_STR}};
  napi_value o = make_object(env, &v, fields, 2);
  rmem_clear_error();
  return o;
}

static napi_value js_destroy(napi_env env, napi_callback_info info) {
  CALL(false);
  rmem_js_inst_t *inst = c.inst;
  if (!inst->r) return undefined(env);
  /* Detach first: after this no JS view can reach the memory or metadata we unmap below. */
  inst_detach_all(env, inst);
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

/* Offset of p in the range, for scratch. */
static uint32_t offset_of(const call_t *c, const void *p) { return (uint32_t)((uintptr_t)p - (uintptr_t)rmem_base(c->r)); }

/*
 * arenaCreate(chunkSize, lifetime, leaseMin) -> handle. With leaseMin > 0 and
 * a bump arena, also leases the first chunk to JS: scratch[0] = start offset,
 * scratch[1] = length (both 0 if no lease).
 */
static napi_value js_arena_create(napi_env env, napi_callback_info info) {
  CALL(true);
  size_t chunk, lease_min = 0;
  lifetime_t lt;
  if (!arg_size(&c, 0, "size", &chunk) || !arg_lifetime(&c, 1, &lt)) return NULL;
  if (c.argc > 2 && !arg_offset(&c, 2, "leaseMin", &lease_min)) return NULL;
  arena_t *a = rmem_arena_create(c.r, chunk, lt);
  if (!a) return throw_last(env, RMEM_ENOMEM);
  uint32_t index, gen;
  rmem_status_t st = rmem_arena_index(a, &index, &gen);
  if (st != RMEM_OK) {
    rmem_arena_destroy(a);
    return throw_status(env, st);
  }
  c.inst->narenas++;
  c.inst->scratch[0] = c.inst->scratch[1] = 0;
  if (lease_min && lt != LIFETIME_INTERMEDIATE) {
    size_t len = 0;
    void *p = rmem_arena_lease(a, lease_min, &len);
    if (p) {
      c.inst->scratch[0] = offset_of(&c, p);
      c.inst->scratch[1] = (uint32_t)len;
    } else {
      rmem_clear_error(); /* no lease: JS takes the native path */
    }
  }
  sync_external(env, c.inst);
  return num(env, handle_of(index, gen));
}

/*
 * arenaAlloc(h, size, lease) -> offset. With lease true (bump arenas only),
 * leases the rest of the current chunk (at least size bytes, 8-aligned) to
 * JS: returns its start, scratch[1] = its length; JS bumps size past it.
 */
static napi_value js_arena_alloc(napi_env env, napi_callback_info info) {
  CALL(true);
  size_t size;
  arena_t *a = arg_arena(&c, 0);
  if (!a || !arg_size(&c, 1, "size", &size)) return NULL;
  bool lease = false;
  if (c.argc > 2) NODE_API_CALL(env, napi_get_value_bool(env, c.argv[2], &lease));
  if (!lease) return done_ptr(&c, rmem_arena_alloc(a, size), RMEM_ENOMEM);
  size_t len = 0; /* bump arenas only: C refuses a lease of an intermediate arena */
  void *p = rmem_arena_lease(a, (size + 7) & ~(size_t)7, &len);
  if (p) c.inst->scratch[1] = (uint32_t)len;
  return done_ptr(&c, p, RMEM_ENOMEM);
}

static napi_value js_arena_free(napi_env env, napi_callback_info info) {
  CALL(true);
  void *p;
  size_t size;
  arena_t *a = arg_arena(&c, 0);
  if (!a || !arg_ptr(&c, 1, &p) || !arg_size(&c, 2, "size", &size)) return NULL;
  return done(&c, rmem_arena_free(a, p, size));
}

static napi_value js_arena_reset(napi_env env, napi_callback_info info) {
  CALL(true);
  arena_t *a = arg_arena(&c, 0);
  return a ? done(&c, rmem_arena_reset(a)) : NULL;
}

static napi_value js_arena_destroy(napi_env env, napi_callback_info info) {
  CALL(true);
  arena_t *a = arg_arena(&c, 0);
  if (!a) return NULL;
  rmem_status_t st = rmem_arena_destroy(a);
  if (st == RMEM_OK) c.inst->narenas--;
  return done(&c, st);
}

static const field_t arena_fields[] = {
  FIELD(F_INT, rmem_arena_stats_t, lifetime, "lifetime"),
  FIELD(F_SIZE, rmem_arena_stats_t, chunks, "chunks"),
  FIELD(F_SIZE, rmem_arena_stats_t, reserved, "reserved"),
  FIELD(F_SIZE, rmem_arena_stats_t, used, "used"),
  FIELD(F_SIZE, rmem_arena_stats_t, allocs, "allocs"),
  FIELD(F_SIZE, rmem_arena_stats_t, resets, "resets"),
};

static napi_value js_arena_stats(napi_env env, napi_callback_info info) {
  CALL(true);
  arena_t *a = arg_arena(&c, 0);
  if (!a) return NULL;
  rmem_arena_stats_t s;
  rmem_status_t st = rmem_arena_stats(a, &s);
  return done_value(&c, st, st == RMEM_OK ? make_object(env, &s, arena_fields, NFIELDS(arena_fields)) : NULL);
}

/* ------------------------------------------------------------------------
 * Slab caches
 * ------------------------------------------------------------------------ */

/* An external ArrayBuffer over memory the instance owns (no finaliser: destroy() detaches it), kept weakly. */
static napi_value external_view(call_t *c, void *data, size_t bytes, napi_ref *ref) {
  napi_value ab;
  NODE_API_CALL(c->env, napi_create_external_arraybuffer(c->env, data, bytes, NULL, NULL, &ab));
  NODE_API_CALL(c->env, napi_create_reference(c->env, ab, 0, ref));
  return ab;
}

/*
 * cacheCreate(name, objSize, align, flags) -> handle; scratch[0] = the cache's
 * page tag, and cacheFront(h) gives its stack for the JS front.
 */
static napi_value js_cache_create(napi_env env, napi_callback_info info) {
  CALL(true);
  size_t size, align = 0, flags = 0;
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
  slab_cache_t *sc = rmem_slab_cache_create(c.r, t == napi_string ? name : NULL, size, align, (unsigned)flags);
  if (!sc) return throw_last(env, RMEM_ENOMEM);
  uint32_t index, gen;
  rmem_status_t st = rmem_slab_cache_index(sc, &index, &gen);
  if (st != RMEM_OK) {
    rmem_slab_cache_destroy(sc);
    return throw_status(env, st);
  }
  c.inst->ncaches++;
  return num(env, handle_of(index, gen));
}

/* cacheFront(h) -> Uint32Array over the cache's stack ([n, cap, entries...]); scratch[0] = its page tag. */
static napi_value js_cache_front(napi_env env, napi_callback_info info) {
  CALL(true);
  slab_cache_t *sc = arg_cache(&c, 0);
  if (!sc) return NULL;
  rmem_cache_layout_t lay;
  uint32_t index, gen;
  rmem_status_t st = rmem_slab_cache_layout(sc, &lay);
  if (st == RMEM_OK) st = rmem_slab_cache_index(sc, &index, &gen);
  if (st != RMEM_OK) return throw_status(env, st);
  if (lay.version != RMEM_FRONT_LAYOUT_VERSION) return throw_code(env, KIND_ERROR, "ERR_RMEM_UNKNOWN", "rmem: front layout");
  if (index >= c.inst->ncache_views) { /* one weak reference slot per cache index, grown on demand */
    uint32_t n = c.inst->ncache_views ? c.inst->ncache_views : 16;
    while (n <= index) n *= 2;
    napi_ref *v = realloc(c.inst->cache_views, n * sizeof *v);
    if (!v) return throw_code(env, KIND_ERROR, "ERR_RMEM_OUT_OF_MEMORY", "rmem: out of memory");
    memset(v + c.inst->ncache_views, 0, (n - c.inst->ncache_views) * sizeof *v);
    c.inst->cache_views = v;
    c.inst->ncache_views = n;
  }
  detach_ref(env, &c.inst->cache_views[index]); /* a view of a cache that lived in this slot before */
  size_t bytes = (2 + (size_t)lay.max) * sizeof(uint32_t);
  napi_value ab = external_view(&c, lay.stack, bytes, &c.inst->cache_views[index]), ta;
  if (!ab) return NULL;
  NODE_API_CALL(env, napi_create_typedarray(env, napi_uint32_array, bytes / 4, ab, 0, &ta));
  c.inst->scratch[0] = lay.tag;
  c.inst->scratch[1] = lay.fast;
  return ta;
}

/*
 * remoteLayout(id) -> { sum, s2, s3, pending, state, orphan }: where heap id of
 * this shared instance keeps what remote frees mark (rmem_remote_layout), for
 * the JS front's frees of other threads' blocks. sum: Uint32Array over the
 * three summary levels; s2, s3: where sum2 and sum3 start in it (32-bit
 * words); pending, state: Uint32Array(1) each; orphan: state's orphan value.
 */
static napi_value js_remote_layout(napi_env env, napi_callback_info info) {
  CALL(true);
  size_t id;
  if (!arg_offset(&c, 0, "heap", &id)) return NULL;
  rmem_remote_layout_t lay;
  rmem_status_t st = rmem_remote_layout(c.r, (uint32_t)(id <= RMEM_SHARED_MAX_THREADS ? id : 0), &lay);
  if (st != RMEM_OK) return throw_status(env, st);
  if (lay.version != RMEM_FRONT_LAYOUT_VERSION) return throw_code(env, KIND_ERROR, "ERR_RMEM_UNKNOWN", "rmem: front layout");
  if (!c.inst->heap_views) {
    c.inst->heap_views = calloc(RMEM_SHARED_MAX_THREADS + 1, sizeof *c.inst->heap_views);
    if (!c.inst->heap_views) return throw_code(env, KIND_ERROR, "ERR_RMEM_OUT_OF_MEMORY", "rmem: out of memory");
  }
  napi_ref *refs = c.inst->heap_views[id];
  struct {
    const char *name;
    void *data;
    size_t bytes;
  } views[] = {{"sum", lay.sum, lay.sum_words * sizeof(uint64_t)}, {"pending", lay.pending, 4}, {"state", lay.state, 4}};
  size_t nums[] = {lay.sum_at[1] * 2, lay.sum_at[2] * 2, lay.orphan};
  static const field_t fields[] = {{"s2", 0, F_SIZE}, {"s3", sizeof(size_t), F_SIZE}, {"orphan", 2 * sizeof(size_t), F_SIZE}};
  napi_value o = make_object(env, nums, fields, 3);
  if (!o) return NULL;
  for (int k = 0; k < 3; k++) {
    detach_ref(env, &refs[k]); /* an earlier call's views (the JS front asks once per heap) */
    napi_value ab = external_view(&c, views[k].data, views[k].bytes, &refs[k]), ta;
    if (!ab) return NULL;
    NODE_API_CALL(env, napi_create_typedarray(env, napi_uint32_array, views[k].bytes / 4, ab, 0, &ta));
    NODE_API_CALL(env, napi_set_named_property(env, o, views[k].name, ta));
  }
  return o;
}

/* remoteSettle(id): the JS front freed into heap id and found it orphaned (rmem_remote_settle). */
static napi_value js_remote_settle(napi_env env, napi_callback_info info) {
  CALL(true);
  size_t id;
  if (!arg_offset(&c, 0, "heap", &id)) return NULL;
  return done(&c, rmem_remote_settle(c.r, (uint32_t)(id <= RMEM_SHARED_MAX_THREADS ? id : 0)));
}

static napi_value js_cache_alloc(napi_env env, napi_callback_info info) {
  CALL(true);
  slab_cache_t *sc = arg_cache(&c, 0);
  return sc ? done_ptr(&c, rmem_slab_alloc(sc), RMEM_ENOMEM) : NULL;
}

static napi_value js_cache_free(napi_env env, napi_callback_info info) {
  CALL(true);
  void *p;
  slab_cache_t *sc = arg_cache(&c, 0);
  if (!sc || !arg_ptr(&c, 1, &p)) return NULL;
  return done(&c, rmem_slab_free(sc, p));
}

static napi_value js_cache_destroy(napi_env env, napi_callback_info info) {
  CALL(true);
  slab_cache_t *sc = arg_cache(&c, 0);
  if (!sc) return NULL;
  uint32_t index, gen;
  if (rmem_slab_cache_index(sc, &index, &gen) != RMEM_OK) return throw_last(env, RMEM_ESTALE);
  rmem_status_t st = rmem_slab_cache_destroy(sc);
  if (st == RMEM_OK) {
    c.inst->ncaches--;
    if (index < c.inst->ncache_views) detach_ref(env, &c.inst->cache_views[index]);
  }
  return done(&c, st);
}

static napi_value js_cache_shrink(napi_env env, napi_callback_info info) {
  CALL(true);
  slab_cache_t *sc = arg_cache(&c, 0);
  return sc ? done(&c, rmem_slab_cache_shrink(sc)) : NULL;
}

static const field_t cache_fields[] = {
  FIELD(F_STR, rmem_slab_stats_t, name, "name"),
  FIELD(F_SIZE, rmem_slab_stats_t, obj_size, "objSize"),
  FIELD(F_SIZE, rmem_slab_stats_t, objects_in_use, "objectsInUse"),
  FIELD(F_SIZE, rmem_slab_stats_t, slots, "slots"),
  FIELD(F_SIZE, rmem_slab_stats_t, slabs, "slabs"),
  FIELD(F_SIZE, rmem_slab_stats_t, slab_bytes, "slabBytes"),
  FIELD(F_DOUBLE, rmem_slab_stats_t, utilisation, "utilisation"),
  FIELD(F_SIZE, rmem_slab_stats_t, allocs, "allocs"),
  FIELD(F_SIZE, rmem_slab_stats_t, frees, "frees"),
};

static napi_value js_cache_stats(napi_env env, napi_callback_info info) {
  CALL(true);
  slab_cache_t *sc = arg_cache(&c, 0);
  if (!sc) return NULL;
  rmem_slab_stats_t s;
  rmem_status_t st = rmem_slab_cache_stats(sc, &s);
  return done_value(&c, st, st == RMEM_OK ? make_object(env, &s, cache_fields, NFIELDS(cache_fields)) : NULL);
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
  CALL(true);
  return done(&c, rmem_mems_init(c.r));
}

static napi_value js_mems_malloc(napi_env env, napi_callback_info info) {
  CALL(true);
  size_t size;
  if (!arg_size(&c, 0, "size", &size)) return NULL;
  uintptr_t v = rmem_mems_malloc(c.r, size);
  if (!v) return throw_last(env, RMEM_ENOMEM);
  sync_external(env, c.inst);
  return num(env, (double)v);
}

static napi_value js_mems_free(napi_env env, napi_callback_info info) {
  CALL(true);
  uintptr_t v;
  if (!arg_vaddr(&c, 0, &v)) return NULL;
  return done(&c, rmem_mems_free(c.r, v));
}

static napi_value js_mems_get(napi_env env, napi_callback_info info) {
  CALL(true);
  uintptr_t v;
  if (!arg_vaddr(&c, 0, &v)) return NULL;
  return done_ptr(&c, rmem_mems_get(c.r, v), RMEM_EBADPTR);
}

/* memsExtent(vaddr) -> offset of the byte at vaddr; scratch[1] = bytes to the end of its segment. */
static napi_value js_mems_extent(napi_env env, napi_callback_info info) {
  CALL(true);
  uintptr_t v;
  if (!arg_vaddr(&c, 0, &v)) return NULL;
  void *p = rmem_mems_get(c.r, v);
  if (!p) return throw_last(env, RMEM_EBADPTR);
  rmem_mems_segment_t seg; /* O(log n): the segment that holds v */
  rmem_status_t st = rmem_mems_find(c.r, v, &seg);
  if (st != RMEM_OK) return throw_status(env, st);
  c.inst->scratch[1] = (uint32_t)(seg.kind == MEMS_PROCESS ? seg.eva - v + 1 : 0);
  return done_ptr(&c, p, RMEM_EBADPTR);
}

static napi_value js_mems_print_stats(napi_env env, napi_callback_info info) {
  CALL(true);
  fflush(stdout);
  rmem_status_t st = rmem_mems_print_stats(c.r, stdout);
  fflush(stdout); /* so the lines land before whatever JS writes next */
  return done(&c, st);
}

static const field_t mems_fields[] = {
  FIELD(F_SIZE, rmem_mems_stats_t, pages_used, "pagesUsed"),
  FIELD(F_SIZE, rmem_mems_stats_t, space_unused, "spaceUnused"),
  FIELD(F_SIZE, rmem_mems_stats_t, main_chain_length, "mainChainLength"),
  FIELD(F_SIZE, rmem_mems_stats_t, segments, "segments"),
  FIELD(F_SIZE, rmem_mems_stats_t, process_segments, "processSegments"),
  FIELD(F_SIZE, rmem_mems_stats_t, hole_segments, "holeSegments"),
  FIELD(F_SIZE, rmem_mems_stats_t, bytes_in_use, "bytesInUse"),
};

static napi_value js_mems_stats(napi_env env, napi_callback_info info) {
  CALL(true);
  rmem_mems_stats_t s;
  rmem_status_t st = rmem_mems_stats(c.r, &s);
  return done_value(&c, st, st == RMEM_OK ? make_object(env, &s, mems_fields, NFIELDS(mems_fields)) : NULL);
}

static napi_value js_mems_finish(napi_env env, napi_callback_info info) {
  CALL(true);
  return done(&c, rmem_mems_finish(c.r));
}

static napi_value js_mems_validate(napi_env env, napi_callback_info info) {
  CALL(true);
  rmem_clear_error();
  size_t n = rmem_mems_validate(c.r);
  rmem_clear_error();
  return num(env, (double)n);
}

/* ------------------------------------------------------------------------
 * Layout and reports
 * ------------------------------------------------------------------------ */

/*
 * layout(segments) -> { records, names }: every page run of the instance
 * (rmem_layout_walk), as LAYOUT_FIELDS doubles a run in one Float64Array --
 * one native call and one typed array however many runs there are; lib/layout.js
 * makes the objects. names maps a slab cache's index to its name, once per cache.
 */
enum {
  LF_KIND, LF_OFFSET, LF_PAGES, LF_BYTES, LF_DIRTY, LF_SLOT_SIZE, LF_SLOTS, LF_LIVE, LF_CACHED, LF_CLASS, LF_OWNER,
  LF_GEN, LF_LIFETIME, LF_USED, LF_CURRENT, LF_SIZE, LF_MAIN, LF_SVA, LF_EVA, LF_SEGMENTS, LF_HOLES, LF_SEGKIND,
  LF_OBJ_SIZE, LAYOUT_FIELDS
};

typedef struct layout_acc {
  double *rec;
  size_t n, cap;
  uint8_t *seen;          /* caches whose name was taken, by index */
  size_t nseen;
  const char **names;     /* (index, name) pairs of the caches seen */
  uint32_t *name_index;
  size_t nnames, cap_names;
  int oom;
} layout_acc_t;

static int layout_visit(const rmem_run_t *run, void *arg) {
  layout_acc_t *a = arg;
  if (a->n == a->cap) {
    size_t cap = a->cap ? a->cap * 2 : 1024;
    double *rec = realloc(a->rec, cap * LAYOUT_FIELDS * sizeof(double));
    if (!rec) return a->oom = 1;
    a->rec = rec;
    a->cap = cap;
  }
  double *d = a->rec + a->n++ * LAYOUT_FIELDS;
  d[LF_KIND] = run->kind;
  d[LF_OFFSET] = (double)run->offset;
  d[LF_PAGES] = (double)run->pages;
  d[LF_BYTES] = (double)run->bytes;
  d[LF_DIRTY] = (double)run->dirty_pages;
  d[LF_SLOT_SIZE] = run->slot_size;
  d[LF_SLOTS] = run->slots;
  d[LF_LIVE] = run->live;
  d[LF_CACHED] = run->cached;
  d[LF_CLASS] = run->class_index;
  d[LF_OWNER] = run->owner_index;
  d[LF_GEN] = run->owner_generation;
  d[LF_LIFETIME] = run->lifetime;
  d[LF_USED] = (double)run->used;
  d[LF_CURRENT] = run->current;
  d[LF_SIZE] = (double)run->size;
  d[LF_MAIN] = (double)run->main_index;
  d[LF_SVA] = (double)run->sva;
  d[LF_EVA] = (double)run->eva;
  d[LF_SEGMENTS] = (double)run->segments;
  d[LF_HOLES] = (double)run->holes;
  d[LF_SEGKIND] = run->segment_kind;
  d[LF_OBJ_SIZE] = (double)run->obj_size;
  if (run->kind == RMEM_RUN_CACHE_SLAB && run->name) {
    uint32_t i = run->owner_index;
    if (i >= a->nseen) {
      size_t n = a->nseen ? a->nseen : 64;
      while (n <= i) n *= 2;
      uint8_t *seen = realloc(a->seen, n);
      if (!seen) return a->oom = 1;
      memset(seen + a->nseen, 0, n - a->nseen);
      a->seen = seen;
      a->nseen = n;
    }
    if (!a->seen[i]) {
      if (a->nnames == a->cap_names) {
        size_t cap = a->cap_names ? a->cap_names * 2 : 16;
        const char **names = realloc(a->names, cap * sizeof *names);
        if (!names) return a->oom = 1;
        a->names = names;
        uint32_t *idx = realloc(a->name_index, cap * sizeof *idx);
        if (!idx) return a->oom = 1;
        a->name_index = idx;
        a->cap_names = cap;
      }
      a->seen[i] = 1;
      a->names[a->nnames] = run->name;
      a->name_index[a->nnames++] = i;
    }
  }
  return 0;
}

static napi_value layout_result(call_t *c, layout_acc_t *a) {
  napi_env env = c->env;
  void *data = NULL;
  napi_value ab, records, names, o;
  size_t bytes = a->n * LAYOUT_FIELDS * sizeof(double);
  NODE_API_CALL(env, napi_create_arraybuffer(env, bytes, &data, &ab));
  if (bytes) memcpy(data, a->rec, bytes);
  NODE_API_CALL(env, napi_create_typedarray(env, napi_float64_array, a->n * LAYOUT_FIELDS, ab, 0, &records));
  NODE_API_CALL(env, napi_create_object(env, &names));
  for (size_t i = 0; i < a->nnames; i++) {
    napi_value k, v;
    NODE_API_CALL(env, napi_create_uint32(env, a->name_index[i], &k));
    NODE_API_CALL(env, napi_create_string_utf8(env, a->names[i], NAPI_AUTO_LENGTH, &v));
    NODE_API_CALL(env, napi_set_property(env, names, k, v));
  }
  NODE_API_CALL(env, napi_create_object(env, &o));
  NODE_API_CALL(env, napi_set_named_property(env, o, "records", records));
  NODE_API_CALL(env, napi_set_named_property(env, o, "names", names));
  return o;
}

static napi_value js_layout(napi_env env, napi_callback_info info) {
  CALL(true);
  bool segments = false;
  if (c.argc > 0) NODE_API_CALL(env, napi_get_value_bool(env, c.argv[0], &segments));
  layout_acc_t a;
  memset(&a, 0, sizeof a);
  rmem_status_t st = rmem_layout_walk(c.r, segments ? RMEM_LAYOUT_SEGMENTS : 0, layout_visit, &a);
  napi_value v = NULL;
  if (st == RMEM_OK && a.oom) v = throw_code(env, KIND_ERROR, "ERR_RMEM_OUT_OF_MEMORY", "rmem: out of memory");
  else if (st == RMEM_OK) v = layout_result(&c, &a);
  free(a.rec);
  free(a.seen);
  free(a.names);
  free(a.name_index);
  if (a.oom) return v;
  return done_value(&c, st, v);
}

typedef struct text_acc {
  char *buf;
  size_t n, cap;
  int oom;
} text_acc_t;

static void text_out(const char *text, size_t len, void *arg) {
  text_acc_t *t = arg;
  if (t->oom) return;
  if (t->n + len > t->cap) {
    size_t cap = t->cap ? t->cap : 4096;
    while (cap < t->n + len) cap *= 2;
    char *b = realloc(t->buf, cap);
    if (!b) {
      t->oom = 1;
      return;
    }
    t->buf = b;
    t->cap = cap;
  }
  memcpy(t->buf + t->n, text, len);
  t->n += len;
}

/* report(kind, handle) -> the text of rmem_report: 0 all, 1 heap, 2 arena h, 3 slab cache h, 4 MeMS. */
static napi_value js_report(napi_env env, napi_callback_info info) {
  CALL(true);
  double kind;
  if (!arg_number(&c, 0, "kind", &kind)) return NULL;
  if (!(kind == 0 || kind == 1 || kind == 2 || kind == 3 || kind == 4))
    return throw_code(env, KIND_RANGE, "ERR_OUT_OF_RANGE", "The value of \"kind\" is out of range. It must be 0 .. 4");
  void *obj = NULL;
  if (kind == RMEM_REPORT_ARENA && !(obj = arg_arena(&c, 1))) return NULL;
  if (kind == RMEM_REPORT_CACHE && !(obj = arg_cache(&c, 1))) return NULL;
  text_acc_t t = {NULL, 0, 0, 0};
  rmem_status_t st = rmem_report(c.r, (rmem_report_kind_t)(int)kind, obj, text_out, &t);
  napi_value v = NULL;
  if (st == RMEM_OK && t.oom) {
    free(t.buf);
    return throw_code(env, KIND_ERROR, "ERR_RMEM_OUT_OF_MEMORY", "rmem: out of memory");
  }
  if (st == RMEM_OK && napi_create_string_utf8(env, t.buf ? t.buf : "", t.n, &v) != napi_ok) {
    free(t.buf);
    throw_napi_failure(env, "napi_create_string_utf8");
    return NULL;
  }
  free(t.buf);
  return done_value(&c, st, v);
}

/* ------------------------------------------------------------------------
 * createInstance(capacity, flags)
 * ------------------------------------------------------------------------ */

static napi_value js_cache_find(napi_env env, napi_callback_info info);
static napi_value js_share(napi_env env, napi_callback_info info);

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
  {"cacheFind", js_cache_find},
  {"share", js_share},
  {"cacheFront", js_cache_front},
  {"remoteLayout", js_remote_layout},
  {"remoteSettle", js_remote_settle},
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
  {"layout", js_layout},
  {"report", js_report},
};

#define N_INST_FUNCTIONS (sizeof inst_functions / sizeof inst_functions[0])

/* A typed array of `type` over [data, data + bytes) of an external buffer the instance owns (detached by destroy()). */
static napi_value front_view(call_t *c, napi_typedarray_type type, void *data, size_t bytes, size_t elem) {
  if (c->inst->nviews >= MAX_VIEWS) return throw_code(c->env, KIND_ERROR, "ERR_RMEM_UNKNOWN", "rmem: too many views");
  napi_value ab = external_view(c, data, bytes, &c->inst->views[c->inst->nviews]), ta;
  if (!ab) return NULL;
  c->inst->nviews++;
  NODE_API_CALL(c->env, napi_create_typedarray(c->env, type, bytes / elem, ab, 0, &ta));
  return ta;
}

/* front: { live, tags, n, cap, tagOf, stacks, top, stride, nclasses, tableMax, fast } (rmem_front_layout). */
static napi_value make_front(call_t *c) {
  rmem_front_layout_t lay;
  if (rmem_front_layout(c->r, &lay) != RMEM_OK) return throw_last(c->env, RMEM_EINVAL);
  if (lay.version != RMEM_FRONT_LAYOUT_VERSION) return throw_code(c->env, KIND_ERROR, "ERR_RMEM_UNKNOWN", "rmem: front layout");
  size_t ntag_slots = (size_t)lay.nclasses + 1;
  struct {
    size_t stride, nclasses, table_max, fast, tag_base, fast_key, shared, class_bits, tag_cache, remote_classes;
  } nums = {lay.stride,   lay.nclasses,          lay.table_max,      lay.fast,         lay.tag_base,
            lay.fast_key, lay.fast_word != NULL, lay.tag_class_bits, lay.tag_cache, lay.remote_classes};
  static const field_t fields[] = {{"stride", 0, F_SIZE},
                                   {"nclasses", sizeof(size_t), F_SIZE},
                                   {"tableMax", 2 * sizeof(size_t), F_SIZE},
                                   {"fast", 3 * sizeof(size_t), F_SIZE},
                                   {"tagBase", 4 * sizeof(size_t), F_SIZE},
                                   {"fastKey", 5 * sizeof(size_t), F_SIZE},
                                   {"shared", 6 * sizeof(size_t), F_SIZE},
                                   {"classBits", 7 * sizeof(size_t), F_SIZE},
                                   {"tagCache", 8 * sizeof(size_t), F_SIZE},
                                   {"remoteClasses", 9 * sizeof(size_t), F_SIZE}};
  napi_value o = make_object(c->env, &nums, fields, 10);
  if (!o) return NULL;
  /* the heap front's arrays lie in the instance header; one buffer per array keeps each view exact */
  struct {
    const char *name;
    napi_typedarray_type type;
    void *data;
    size_t bytes, elem;
  } views[] = {
    {"live", napi_uint32_array, lay.live, lay.live_bytes, 4},
    {"tags", napi_uint16_array, lay.tags, lay.ntags * 2, 2},
    {"n", napi_uint8_array, lay.n, ntag_slots, 1},
    {"cap", napi_uint8_array, lay.cap, ntag_slots, 1},
    {"tagOf", napi_uint8_array, lay.tag_of, (size_t)lay.table_max / 8 + 1, 1},
    {"stacks", napi_uint32_array, lay.stacks, ntag_slots * lay.stride * 4, 4},
    /* shared instances: the remote bitmap and this thread's heap's fast word */
    {"remote", napi_uint32_array, lay.remote, lay.remote ? lay.live_bytes : 0, 4},
    {"fastWord", napi_uint32_array, lay.fast_word, lay.fast_word ? 4 : 0, 4},
  };
  for (size_t i = 0; i < sizeof views / sizeof views[0]; i++) {
    if (!views[i].data) continue;
    napi_value ta = front_view(c, views[i].type, views[i].data, views[i].bytes, views[i].elem);
    if (!ta) return NULL;
    NODE_API_CALL(c->env, napi_set_named_property(c->env, o, views[i].name, ta));
  }
  return o;
}

/*
 * The JS object of an instance: the native functions bound to a new record
 * for r, memory, scratch, front and capacity. memory: the SharedArrayBuffer
 * of a shared instance's range (rec != NULL), or NULL to make the external
 * ArrayBuffer of a private one. On failure r is destroyed (or rec released).
 */
static napi_value build_instance(napi_env env, rmem_js_env_t *e, rmem_t *r, shared_rec_t *rec, napi_value memory) {
  rmem_js_inst_t *inst = calloc(1, sizeof *inst);
  if (!inst) {
    if (rec) shared_release(rec);
    else rmem_destroy(r);
    return throw_code(env, KIND_ERROR, "ERR_RMEM_OUT_OF_MEMORY", "rmem: out of memory");
  }
  inst->r = r;
  inst->shared = rec;
  inst->owner = e;
  inst->next = e->insts;
  if (e->insts) e->insts->prev = inst;
  e->insts = inst;
  inst->refs = 1; /* held by this function until the objects below take over */
  call_t c = {env, inst, r, 0, {NULL, NULL, NULL, NULL}};

  napi_property_descriptor d_[N_INST_FUNCTIONS + 6];
  for (size_t i = 0; i < N_INST_FUNCTIONS; i++) {
    napi_value fn;
    NODE_API_CALL(env, napi_create_function(env, inst_functions[i].name, NAPI_AUTO_LENGTH, inst_functions[i].cb, inst, &fn));
    NODE_API_CALL(env, napi_add_finalizer(env, fn, inst, fn_finalize, NULL, NULL));
    inst->refs++;
    d_[i] = (napi_property_descriptor){inst_functions[i].name, NULL, NULL, NULL, NULL, fn, napi_enumerable, NULL};
  }
  napi_value scratch_ab, scratch, front, capacity, shared;
  if (!memory) {
    /* The range as one ArrayBuffer; its finaliser only drops a ref, never frees. */
    NODE_API_CALL(env, napi_create_external_arraybuffer(env, rmem_base(r), rmem_capacity(r), memory_finalize, inst, &memory));
    inst->refs++;
    NODE_API_CALL(env, napi_add_finalizer(env, memory, inst, memory_object_finalize, NULL, NULL));
    inst->refs++;
    /* never detached: a native job may be using it (zlib aborts on a buffer detached under it); destroy()
       puts fresh zero pages under it instead, and the range goes when the buffer is collected */
  }
  void *sdata = NULL;
  NODE_API_CALL(env, napi_create_arraybuffer(env, SCRATCH_WORDS * sizeof(uint32_t), &sdata, &scratch_ab));
  inst->scratch = sdata;
  NODE_API_CALL(env, napi_create_reference(env, scratch_ab, 1, &inst->scratch_ref));
  NODE_API_CALL(env, napi_create_typedarray(env, napi_uint32_array, SCRATCH_WORDS, scratch_ab, 0, &scratch));
  if (!(front = make_front(&c))) return NULL;
  NODE_API_CALL(env, napi_create_double(env, (double)rmem_capacity(r), &capacity));
  NODE_API_CALL(env, napi_get_boolean(env, rec != NULL, &shared));
  size_t n = N_INST_FUNCTIONS;
  d_[n++] = (napi_property_descriptor){"memory", NULL, NULL, NULL, NULL, memory, napi_enumerable, NULL};
  d_[n++] = (napi_property_descriptor){"scratch", NULL, NULL, NULL, NULL, scratch, napi_enumerable, NULL};
  d_[n++] = (napi_property_descriptor){"front", NULL, NULL, NULL, NULL, front, napi_enumerable, NULL};
  d_[n++] = (napi_property_descriptor){"capacity", NULL, NULL, NULL, NULL, capacity, napi_enumerable, NULL};
  d_[n++] = (napi_property_descriptor){"shared", NULL, NULL, NULL, NULL, shared, napi_enumerable, NULL};
  napi_value obj;
  NODE_API_CALL(env, napi_create_object(env, &obj));
  NODE_API_CALL(env, napi_define_properties(env, obj, n, d_));
  inst->refs--; /* this function's own hold */
  return obj;
}

/* build_instance for a private instance whose range the bridge reserved at raw (released in the end by the
   record: see inst_release_raw). */
static napi_value build_instance_private(napi_env env, rmem_js_env_t *e, rmem_t *r, void *raw, size_t raw_bytes) {
  napi_value obj = build_instance(env, e, r, NULL, NULL);
  rmem_js_inst_t *inst = e->insts; /* build_instance puts the new record first */
  if (inst && inst->r == r) {
    inst->raw = raw;
    inst->raw_bytes = raw_bytes;
    inst->base = rmem_base(r);
    inst->cap = rmem_capacity(r);
  } else {
    /* build_instance failed before making the record: it destroyed r; the range is ours to unmap */
    rmem_os_release(raw, raw_bytes);
  }
  return obj;
}

/* The bytes of a typed array over a SharedArrayBuffer (the range of a shared instance). */
static bool arg_shared_range(napi_env env, napi_value v, void **data, size_t *bytes, napi_value *sab) {
  bool is_ta = false;
  napi_typedarray_type type;
  size_t len = 0, off = 0;
  if (napi_is_typedarray(env, v, &is_ta) != napi_ok || !is_ta ||
      napi_get_typedarray_info(env, v, &type, &len, data, sab, &off) != napi_ok || type != napi_uint8_array || off != 0) {
    throw_code(env, KIND_TYPE, "ERR_INVALID_ARG_TYPE", "rmem: the range must be a Uint8Array over a whole SharedArrayBuffer");
    return false;
  }
  *bytes = len;
  return true;
}

/* createInstance(capacity, flags[, rangeU8]): rangeU8, for RMEM_OPT_SHARED, spans the SharedArrayBuffer to use. */
static napi_value js_create_instance(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
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
  if (opt.flags & RMEM_OPT_SHARED) {
    void *data = NULL;
    size_t bytes = 0;
    napi_value sab;
    if (argc < 3 || !arg_shared_range(env, argv[2], &data, &bytes, &sab)) return NULL;
    rmem_t *r = rmem_create_in(data, bytes, &opt);
    if (!r) return throw_last(env, RMEM_ENOMEM);
    shared_rec_t *rec = shared_new(r);
    if (!rec) {
      rmem_destroy(r);
      return throw_code(env, KIND_ERROR, "ERR_RMEM_OUT_OF_MEMORY", "rmem: out of memory");
    }
    return build_instance(env, e, r, rec, sab);
  }
  /* the range is reserved here and the instance made inside it, so that destroy() can give its pages back at
     once and leave the unmapping to the buffer's finaliser (see rmem_js_inst_t) */
  size_t cap = opt.capacity ? opt.capacity : RMEM_DEFAULT_CAPACITY, grain = (size_t)64 << 10;
  cap = (cap + grain - 1) & ~(grain - 1);
  size_t raw_bytes = cap + grain;
  void *raw = rmem_os_reserve(raw_bytes);
  if (!raw) return throw_code(env, KIND_ERROR, "ERR_RMEM_OUT_OF_MEMORY", "rmem: cannot reserve the instance's range");
  void *base = (void *)(((uintptr_t)raw + grain - 1) & ~(uintptr_t)(grain - 1));
  rmem_t *r = rmem_create_in(base, cap, &opt);
  if (!r) {
    rmem_os_release(raw, raw_bytes);
    return throw_last(env, RMEM_ENOMEM);
  }
  return build_instance_private(env, e, r, raw, raw_bytes);
}

/* attachInstance(id, key, rangeU8): another attachment of the shared instance a token named. */
static napi_value js_attach_instance(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  rmem_js_env_t *e = NULL;
  NODE_API_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  NODE_API_CALL(env, napi_get_instance_data(env, (void **)&e));
  double id = 0, key = 0;
  if (argc < 3 || napi_get_value_double(env, argv[0], &id) != napi_ok || napi_get_value_double(env, argv[1], &key) != napi_ok)
    return throw_code(env, KIND_TYPE, "ERR_INVALID_ARG_TYPE", "rmem: not a token of Rmem#share()");
  void *data = NULL;
  size_t bytes = 0;
  napi_value sab;
  if (!arg_shared_range(env, argv[2], &data, &bytes, &sab)) return NULL;
  shared_rec_t *rec = id >= 1 && id < 4294967296.0 && key >= 0 && key < 9007199254740992.0
                          ? shared_attach((uint32_t)id, (uint64_t)key, data, bytes)
                          : NULL;
  if (!rec)
    return throw_code(env, KIND_ERROR, "ERR_RMEM_DESTROYED",
                      "rmem: the shared instance of this token was destroyed (every attachment released)");
  return build_instance(env, e, rec->r, rec, sab);
}

/* share() -> [id, key]: what a token carries besides the memory. */
static napi_value js_share(napi_env env, napi_callback_info info) {
  CALL(true);
  if (!c.inst->shared)
    return throw_code(env, KIND_ERROR, "ERR_RMEM_NOT_SHARED",
                      "rmem: a private instance cannot be shared: create it with { shared: true }");
  napi_value arr, id, key;
  NODE_API_CALL(env, napi_create_array_with_length(env, 2, &arr));
  NODE_API_CALL(env, napi_create_double(env, (double)c.inst->shared->id, &id));
  NODE_API_CALL(env, napi_create_double(env, (double)c.inst->shared->key, &key));
  NODE_API_CALL(env, napi_set_element(env, arr, 0, id));
  NODE_API_CALL(env, napi_set_element(env, arr, 1, key));
  return arr;
}

/* cacheFind(name) -> handle of the live cache of that name, or 0. */
static napi_value js_cache_find(napi_env env, napi_callback_info info) {
  CALL(true);
  char name[32] = {0};
  size_t len;
  napi_valuetype t = napi_undefined;
  if (c.argc > 0) NODE_API_CALL(env, napi_typeof(env, c.argv[0], &t));
  if (t != napi_string) return throw_code(env, KIND_TYPE, "ERR_INVALID_ARG_TYPE", "The \"name\" argument must be of type string");
  NODE_API_CALL(env, napi_get_value_string_utf8(env, c.argv[0], name, sizeof name, &len));
  slab_cache_t *sc = rmem_slab_cache_find(c.r, name);
  uint32_t index, gen;
  if (!sc || rmem_slab_cache_index(sc, &index, &gen) != RMEM_OK) {
    rmem_clear_error();
    return num(env, 0);
  }
  return num(env, handle_of(index, gen));
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
  static const struct {
    double page_size, small_max, default_capacity, min_capacity, max_capacity, opt_junk, opt_validate, opt_shared,
        slab_strict, scratch_words, shared_max_threads;
  } k = {RMEM_PAGE_SIZE, (double)RMEM_SMALL_MAX, (double)RMEM_DEFAULT_CAPACITY, (double)RMEM_MIN_CAPACITY,
         (double)RMEM_MAX_CAPACITY, RMEM_OPT_JUNK, RMEM_OPT_VALIDATE, RMEM_OPT_SHARED, RMEM_SLAB_STRICT, SCRATCH_WORDS,
         RMEM_SHARED_MAX_THREADS};
  static const char *const knames[] = {"PAGE_SIZE", "SMALL_MAX", "DEFAULT_CAPACITY", "MIN_CAPACITY", "MAX_CAPACITY",
                                       "OPT_JUNK", "OPT_VALIDATE", "OPT_SHARED", "SLAB_STRICT", "SCRATCH_WORDS",
                                       "SHARED_MAX_THREADS"};
  field_t kf[sizeof knames / sizeof knames[0]];
  for (size_t i = 0; i < sizeof knames / sizeof knames[0]; i++) kf[i] = (field_t){knames[i], i * sizeof(double), F_DOUBLE};
  napi_value consts = make_object(env, &k, kf, sizeof knames / sizeof knames[0]), create, status_name;
  if (!consts) return NULL;
  NODE_API_CALL(env, napi_create_function(env, "createInstance", NAPI_AUTO_LENGTH, js_create_instance, NULL, &create));
  NODE_API_CALL(env, napi_create_function(env, "statusName", NAPI_AUTO_LENGTH, js_status_name, NULL, &status_name));
  napi_value attach;
  NODE_API_CALL(env, napi_create_function(env, "attachInstance", NAPI_AUTO_LENGTH, js_attach_instance, NULL, &attach));
  napi_property_descriptor d[] = {
    {"createInstance", NULL, NULL, NULL, NULL, create, napi_enumerable, NULL},
    {"attachInstance", NULL, NULL, NULL, NULL, attach, napi_enumerable, NULL},
    {"statusName", NULL, NULL, NULL, NULL, status_name, napi_enumerable, NULL},
    {"constants", NULL, NULL, NULL, NULL, consts, napi_enumerable, NULL},
  };
  NODE_API_CALL(env, napi_define_properties(env, exports, sizeof d / sizeof d[0], d));
  return exports;
}
