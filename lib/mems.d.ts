// Type definitions for rmem/mems (hand-written): the MeMS seed's API on the
// default rmem instance of this environment.
//
// Virtual addresses are BigInt (1000n for the first allocation) and are
// accepted as BigInt or number. `get` returns a BigInt like the seed's, but
// it is the byte OFFSET of that byte in `rmem.memory`, not a process address:
// rmem never shows process addresses to JavaScript. Use `view` (or
// `new Uint8Array(rmem.memory, Number(get(v)), n)`) to reach the bytes.
import type { MemsStats } from './index';

/** Starts MeMS (creates the default instance if needed). */
export declare function init(): void;
/** size bytes, exactly; returns the segment's virtual address. */
export declare function malloc(size: number): bigint;
/** Byte offset in rmem.memory of the byte at vaddr (any byte of a live segment). */
export declare function get(vaddr: bigint | number): bigint;
/** Turns the segment starting at vaddr into a hole, merged with neighbouring holes. */
export declare function free(vaddr: bigint | number): void;
/** The seed's stats format, on stdout. */
export declare function printStats(): void;
/** Returns every MeMS page and prints the seed's closing line; a later init() starts from 1000n. */
export declare function finish(): void;
/** Uint8Array over the segment's bytes from vaddr; length defaults to the rest of the segment. */
export declare function view(vaddr: bigint | number, length?: number): Uint8Array;
export declare function stats(): MemsStats;
/** Number of problems MeMS's validator finds (0 = healthy). */
export declare function validate(): number;

declare const mems: {
  init: typeof init; malloc: typeof malloc; get: typeof get; free: typeof free; printStats: typeof printStats;
  finish: typeof finish; view: typeof view; stats: typeof stats; validate: typeof validate;
};
export default mems;
