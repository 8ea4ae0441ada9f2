'use strict';
// args.js - the argument checks the JS side makes before a fast path of its
// own (everything else is checked again by C). Node's own codes:
// ERR_INVALID_ARG_TYPE, ERR_OUT_OF_RANGE (lib/errors.js).
const { invalidArgType, outOfRange } = require('./errors');

const LIFETIME = Object.freeze({ TRANSIENT: 0, INTERMEDIATE: 1, PERSISTENT: 2 });
const LIFETIME_NAMES = ['transient', 'intermediate', 'persistent'];

function checkFunction(fn, name) {
  if (typeof fn !== 'function') throw invalidArgType(name, 'of type function', fn);
}

/** A lifetime: 0, 1, 2 (LIFETIME.*) or its name ('transient', 'intermediate', 'persistent'). */
function toLifetime(v, name = 'lifetime') {
  if (typeof v === 'string') {
    const i = LIFETIME_NAMES.indexOf(v.toLowerCase());
    if (i >= 0) return i;
    throw outOfRange(name, `one of ${LIFETIME_NAMES.join(', ')} or 0, 1, 2`, v);
  }
  if (typeof v !== 'number') throw invalidArgType(name, 'of type number', v);
  if (v !== 0 && v !== 1 && v !== 2) throw outOfRange(name, '0, 1 or 2 (LIFETIME.*)', v);
  return v;
}

function checkLength(length, name = 'length') {
  if (typeof length !== 'number') throw invalidArgType(name, 'of type number', length);
  if (!(length >= 0 && length <= 0xffffffff) || Math.trunc(length) !== length) {
    throw outOfRange(name, 'an integer >= 0 && <= 4294967295', length);
  }
}

function checkPtr(ptr, name = 'ptr') {
  if (typeof ptr !== 'number') throw invalidArgType(name, 'of type number', ptr);
  if (!(ptr >= 0 && ptr <= 0xffffffff) || Math.trunc(ptr) !== ptr) {
    throw outOfRange(name, 'an integer >= 0 && <= 4294967295', ptr);
  }
}

/** A size argument for JS fast paths: a number (C checks the range); anything else throws ERR_INVALID_ARG_TYPE once. */
function checkSize(size, name = 'size') {
  if (typeof size !== 'number') throw invalidArgType(name, 'of type number', size);
  return size;
}

/** A MeMS virtual address: a BigInt or a number in [0, 2^32). */
function toVaddr(v, name = 'vaddr') {
  if (typeof v === 'bigint') {
    if (v < 0n || v > 0xffffffffn) throw outOfRange(name, '>= 0n && <= 4294967295n', `${v}n`);
    return Number(v);
  }
  if (typeof v === 'number') {
    checkPtr(v, name);
    return v;
  }
  throw invalidArgType(name, 'of type bigint or number', v);
}

module.exports = { LIFETIME, LIFETIME_NAMES, checkFunction, toLifetime, checkLength, checkPtr, checkSize, toVaddr };
