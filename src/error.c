/*
 * error.c - the one place failures are reported.
 *
 * Every failing call of rmem goes through rmem_fail / rmem_fail_null: they
 * record the code and a message as this thread's last error and call the
 * user's hook if one is installed. Nothing is printed and nothing exits; a
 * process that wants to see errors installs a hook (rmem_set_error_handler).
 */
#include "internal.h"

#include <stdio.h>

typedef struct rmem_error_state {
  rmem_status_t code;
  const void *ptr;  /* what the failure was about, or NULL */
  size_t offset;    /* ptr's offset in its instance's range, or SIZE_MAX */
  char message[256];
} rmem_error_state_t;

static _Thread_local rmem_error_state_t last_error;

/* The hook is process-wide; a single pointer pair read racily is fine for a debugging hook,
   but keep them consistent with a small struct swapped atomically on 64-bit. */
static rmem_error_fn *volatile error_hook;
static void *volatile error_hook_arg;

rmem_status_t rmem_last_error(void) { return last_error.code; }

const char *rmem_last_error_message(void) { return last_error.message; }

void rmem_clear_error(void) {
  last_error.code = RMEM_OK;
  last_error.ptr = NULL;
  last_error.offset = SIZE_MAX;
  last_error.message[0] = '\0';
}

void rmem_last_error_info(rmem_error_info_t *out) {
  if (!out) return;
  out->code = last_error.code;
  out->message = last_error.message;
  out->ptr = last_error.code ? last_error.ptr : NULL;
  out->offset = last_error.code && last_error.ptr ? last_error.offset : SIZE_MAX;
}

const char *rmem_status_name(rmem_status_t code) {
  switch (code) {
    case RMEM_OK: return "RMEM_OK";
    case RMEM_EINVAL: return "RMEM_EINVAL";
    case RMEM_ENOMEM: return "RMEM_ENOMEM";
    case RMEM_ERANGE: return "RMEM_ERANGE";
    case RMEM_EBADPTR: return "RMEM_EBADPTR";
    case RMEM_EDOUBLEFREE: return "RMEM_EDOUBLEFREE";
    case RMEM_ENOTINIT: return "RMEM_ENOTINIT";
    case RMEM_ECORRUPT: return "RMEM_ECORRUPT";
    case RMEM_ESTALE: return "RMEM_ESTALE";
    case RMEM_EBUSY: return "RMEM_EBUSY";
    case RMEM_EPERM: return "RMEM_EPERM";
  }
  return "RMEM_UNKNOWN";
}

void rmem_set_error_handler(rmem_error_fn *fn, void *arg) {
  error_hook_arg = arg;
  error_hook = fn;
}

static void record(rmem_status_t code, const char *fmt, va_list ap) {
  last_error.code = code;
  last_error.ptr = NULL;
  last_error.offset = SIZE_MAX;
  vsnprintf(last_error.message, sizeof last_error.message, fmt, ap);
  rmem_error_fn *hook = error_hook;
  if (hook) hook(code, last_error.message, error_hook_arg);
}

rmem_status_t rmem_fail(rmem_status_t code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  record(code, fmt, ap);
  va_end(ap);
  return code;
}

void *rmem_fail_null(rmem_status_t code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  record(code, fmt, ap);
  va_end(ap);
  return NULL;
}

rmem_status_t rmem_fail_at(rmem_status_t code, const rmem_t *r, const void *p, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  record(code, fmt, ap);
  va_end(ap);
  last_error.ptr = p;
  last_error.offset = r && p && (uintptr_t)p - r->base < r->capacity ? (size_t)((uintptr_t)p - r->base) : SIZE_MAX;
  return code;
}

/*
 * A validation (rmem_validate and the per-allocator validators, which nest):
 * the outermost one starts from a clear record, so the first problem of the
 * whole walk is the one described, and it leaves the caller's own record as
 * it was when it finds nothing.
 */
static _Thread_local struct {
  int depth;
  rmem_error_state_t saved;
} validation;

void rmem_validation_begin(void) {
  if (validation.depth++ == 0) {
    validation.saved = last_error;
    rmem_clear_error();
  }
}

size_t rmem_validation_end(size_t problems) {
  if (--validation.depth == 0 && problems == 0) last_error = validation.saved;
  return problems;
}

void rmem_problem(size_t *count, const char *fmt, ...) {
  if (last_error.code != RMEM_ECORRUPT) { /* the first problem of the walk keeps the message */
    va_list ap;
    va_start(ap, fmt);
    record(RMEM_ECORRUPT, fmt, ap);
    va_end(ap);
  }
  (*count)++;
}

bool rmem_instance_refused(const rmem_t *r) {
  if (r == NULL) rmem_fail(RMEM_ENOTINIT, "no rmem instance (NULL): call init_heap() or rmem_create() first");
  else rmem_fail(RMEM_ENOTINIT, "the rmem instance %p was destroyed", (const void *)r);
  return false;
}

void rmem_validate_after(rmem_t *r) {
  if (r->validate_all) (void)r->validate_all(r); /* a clean walk leaves the caller's own record as it was */
}
