'use strict';
// mems.js - require('rmem/mems') (also rmem.mems): the MeMS seed's API, exact
// names, on this environment's default rmem instance.
//
//   init()            starts MeMS (creates the default instance if needed)
//   malloc(size)      -> BigInt virtual address (1000n for the first)
//   get(vaddr)        -> BigInt: the byte offset of that byte in rmem.memory.
//                        The seed returned a process address; JS cannot use one,
//                        and rmem never shows one to JS. view() gives the bytes.
//   free(vaddr)       turns the segment into a hole (merged with its neighbours)
//   printStats()      the seed's stats format, on stdout
//   finish()          returns every MeMS page; prints the seed's closing line
//   view(vaddr, len)  Uint8Array over the segment's bytes from vaddr (len: default to its end)
//   stats()           the figures printStats shows, as an object
//
// Virtual addresses are accepted as BigInt or as a number.
const index = require('./index');

function mems() {
  return index._ensureDefault().mems;
}

function need() {
  const rm = index.instance();
  if (rm === null) {
    const { notInitialized } = require('./errors');
    throw notInitialized('mems.init()');
  }
  return rm.mems;
}

module.exports = {
  init() { mems().init(); },
  malloc(size) { return need().malloc(size); },
  get(vaddr) { return need().get(vaddr); },
  free(vaddr) { need().free(vaddr); },
  printStats() { need().printStats(); },
  finish() {
    need().finish();
    // The seed's closing line (its README example shows it); only this
    // seed-compatible face prints it, Rmem#mems.finish() is silent.
    process.stdout.write('..........Successfully UnMapped the Memory without Errors .........\n');
  },
  view(vaddr, length) { return need().view(vaddr, length); },
  stats() { return need().stats(); },
  validate() { return need().validate(); },
};
// `default` is the module itself, as for require('rmem') (lib/mems.d.ts declares a default export).
Object.defineProperty(module.exports, 'default', { value: module.exports, enumerable: false });
