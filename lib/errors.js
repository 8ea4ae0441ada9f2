'use strict';
// errors.js - the one place JS-side errors of rmem are made.
//
// Every failure is an Error with a `code`: Node's own codes for argument checks
// (ERR_INVALID_ARG_TYPE is a TypeError, ERR_OUT_OF_RANGE a RangeError,
// ERR_INVALID_ARG_VALUE a TypeError, as in Node's core), and ERR_RMEM_* for
// what the allocators refuse. The native addon throws the same codes (mapped
// from rmem_status_t in node/binding.c); this file holds the table both sides
// agree on, for documentation and for tests.

/** Every code rmem throws, with the rmem_status_t it comes from (if any). */
const codes = Object.freeze({
  ERR_INVALID_ARG_TYPE: 'an argument has the wrong type (a handle that is not one, a size that is not a number)',
  ERR_INVALID_ARG_VALUE: 'RMEM_EINVAL: an argument the allocator refuses (bad alignment, misuse of a lifetime)',
  ERR_OUT_OF_RANGE: 'RMEM_ERANGE or an argument check: a size < 1 or >= 2^32, a bad lifetime, a length beyond a block',
  ERR_RMEM_INVALID_POINTER: 'RMEM_EBADPTR: not a live block of this allocator (forged, interior, wrong owner)',
  ERR_RMEM_DOUBLE_FREE: 'RMEM_EDOUBLEFREE: the block is already free',
  ERR_RMEM_OUT_OF_MEMORY: 'RMEM_ENOMEM: the instance\'s range is exhausted',
  ERR_RMEM_NOT_INITIALIZED: 'RMEM_ENOTINIT: init() (or initArenas(), mems.init()) was not called',
  ERR_RMEM_CORRUPTED: 'RMEM_ECORRUPT: allocator metadata is inconsistent (check() / validate() names the damage)',
  ERR_RMEM_DESTROYED: 'RMEM_ESTALE: the arena, slab cache or instance was destroyed',
  ERR_RMEM_INVALID_HANDLE: 'a handle number that was never issued by this instance',
  ERR_RMEM_BUSY: 'RMEM_EBUSY: a strict slab cache still has live objects',
  ERR_RMEM_WRONG_THREAD: 'RMEM_EPERM: an arena of a shared instance used by a thread that did not create it',
  ERR_RMEM_NOT_SHARED: 'share() of a private instance (create it with { shared: true })',
  ERR_RMEM_BAD_TRACE: 'readTrace: the file is not an allocation trace of the drop-in malloc (RMEM_MALLOC_TRACE)',
});

const ctorFor = {
  ERR_INVALID_ARG_TYPE: TypeError,
  ERR_INVALID_ARG_VALUE: TypeError,
  ERR_OUT_OF_RANGE: RangeError,
};

function rmemError(code, message) {
  const Ctor = ctorFor[code] || Error;
  const e = new Ctor(message);
  e.code = code;
  Error.captureStackTrace?.(e, rmemError);
  return e;
}

function describe(v) {
  if (v === null) return 'null';
  if (typeof v === 'function') return `function ${v.name || '<anonymous>'}`;
  if (typeof v === 'object') return v.constructor && v.constructor.name ? `an instance of ${v.constructor.name}` : 'an object';
  if (typeof v === 'bigint') return `type bigint (${v}n)`;
  if (typeof v === 'string') return `type string ('${v.length > 20 ? v.slice(0, 20) + '...' : v}')`;
  return `type ${typeof v} (${String(v)})`;
}

function invalidArgType(name, expected, actual) {
  return rmemError('ERR_INVALID_ARG_TYPE', `The "${name}" argument must be ${expected}. Received ${describe(actual)}`);
}

function outOfRange(name, range, actual) {
  return rmemError('ERR_OUT_OF_RANGE', `The value of "${name}" is out of range. It must be ${range}. Received ${String(actual)}`);
}

function notInitialized(what) {
  return rmemError('ERR_RMEM_NOT_INITIALIZED', `rmem: ${what} was not called`);
}

module.exports = { codes, rmemError, invalidArgType, outOfRange, notInitialized };
