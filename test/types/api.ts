// The shipped types against the API's edges: checked by scripts/test-types.js
// (tsc --strict, as a .ts and a .mts file, module nodenext and bundler) with
// the README's examples; never run. Each @ts-expect-error line must be an
// error, or tsc fails on the directive.
import rmem, {
  LIFETIME, Rmem, Arena, SlabCache, arenaStats, createArena, initArenas, rArena, rArenaFree, rReset,
  memory, HEAPU8, HEAP64, dataView, instance, mems as memsFromRoot, layout, heapMap, heapMapText, serveViz,
  printStats, formatStats, readTrace, replayTrace,
} from 'rmem';
import type { Lifetime, LifetimeName, Ptr, Stats, ArenaStats, SlabCacheStats, RmemError, RmemErrorCode, SharedToken, Layout,
  Run, RunOwner, VizServer, MemsSegment, Trace, TraceReplay } from 'rmem';
import mems, { malloc, get } from 'rmem/mems';

// The default export is the module: the same names as the named exports.
const sameInit: typeof rmem.init = rmem.init;
const heap: Uint8Array = rmem.HEAPU8;
const big: BigInt64Array = HEAP64;
const buf: ArrayBuffer = memory;
const dv: DataView = dataView;
void [sameInit, heap, big, buf, dv, HEAPU8];

// Lifetimes: numbers and names alike, in the classes and in the seed functions.
const names: LifetimeName[] = ['transient', 'intermediate', 'persistent'];
const numbers: Lifetime[] = [LIFETIME.TRANSIENT, LIFETIME.INTERMEDIATE, LIFETIME.PERSISTENT];
initArenas();
for (const lt of [...names, ...numbers]) {
  const a: Arena = createArena(4096, lt);
  const p: Ptr = rArena(a, 16);
  const q: Ptr = rArena(16, lt);
  rReset(lt);
  const s: ArenaStats = arenaStats(lt);
  const l: Lifetime = s.lifetime;
  rReset(a);
  void [p, q, l];
}
rArenaFree('intermediate', rArena(32, 'intermediate'), 32);
// @ts-expect-error not a lifetime
createArena(4096, 'forever');
// @ts-expect-error not a lifetime
rReset(3);
// @ts-expect-error rArena(size) needs the lifetime of a default arena
rArena(16);

// Instances, stats (bytes), slab caches, dispose.
const rm = new Rmem({ capacity: 1 << 20 });
const st: Stats = rm.stats();
const bytes: number = st.pagesInUse + st.pagesFree;
const c: SlabCache = rm.createSlabCache('records', 64, { align: 16 });
const cs: SlabCacheStats = c.stats();
const sameName: boolean = c.name === cs.name;
const arena = rm.createArena({ lifetime: 'persistent', size: 8192 });
const r: number = arena.scope(() => 1);
const pr: Promise<string> = arena.scope(async () => 'done');
rm[Symbol.dispose]();
void [bytes, sameName, r, pr];
// @ts-expect-error the capacity is a number of bytes
new Rmem({ capacity: '1 MiB' });

// Shared instances: a SharedArrayBuffer, a token for another thread, caches by name.
const shm = new Rmem({ shared: true, capacity: 8 << 20 });
const tok: SharedToken = shm.share();
const sab: SharedArrayBuffer = tok.memory;
const other: Rmem = Rmem.attach(structuredClone(tok));
const isShared: boolean = other.shared;
const found: SlabCache | null = other.slabCache('records');
const hs = shm.stats().heap;
const threads: number = hs.threads + hs.threadsActive + hs.remoteFrees;
Atomics.notify(shm.HEAP32, 0);
void [sab, isShared, found, threads];
// @ts-expect-error memory may be a SharedArrayBuffer: not every ArrayBuffer method is there
shm.memory.transfer();
// @ts-expect-error shared is a boolean
new Rmem({ shared: 1 });
// @ts-expect-error attach takes a token of share()
Rmem.attach({ id: 1 });

// instance() is null before init().
const d: Rmem | null = instance();
if (d !== null) void d.memory.byteLength;

// Errors carry a code from a closed list.
try {
  rmem.rFree(1);
} catch (e) {
  const code: RmemErrorCode = (e as RmemError).code;
  void code;
}

// MeMS: BigInt virtual addresses; numbers accepted.
mems.init();
const v: bigint = malloc(10);
const off: bigint = get(v);
memsFromRoot.free(Number(v));
// @ts-expect-error malloc returns a bigint
const n: number = mems.malloc(10);
void [off, n];

// Layout: a union on owner (and kind); every run has offset and pages.
const lay: Layout = new Rmem().layout({ segments: true });
let pagesSeen = 0;
for (const run of lay.runs) {
  pagesSeen += run.pages;
  const o: RunOwner = run.owner;
  if (run.owner === 'heap' && run.kind === 'slab') void [run.live, run.cached, run.slotSize];
  if (run.owner === 'heap' && run.kind === 'large') void run.size;
  if (run.owner === 'arena' && run.kind === 'chunk') void [run.used, run.current, run.arena, run.lifetime];
  if (run.owner === 'slab') void [run.name, run.cache, run.objSize];
  if (run.owner === 'free') void [run.dirtyPages, run.untouched];
  if (run.owner === 'mems') {
    const segs: MemsSegment[] = run.segments;
    void segs.map((sg) => sg.kind === 'process');
  }
  // @ts-expect-error a free run has no live slots
  if (run.owner === 'free') void run.live;
  void o;
}
const firstRun: Run = layout().runs[0];
const svg: string = heapMap(rm, { columns: 32, title: 'map' }) + heapMap(lay) + heapMap();
const txt: string = heapMapText(undefined, { color: false, trim: true });
// @ts-expect-error columns is a number
heapMap(rm, { columns: 'wide' });
const viz: VizServer = serveViz(rm, { port: 0 });
const ready: Promise<VizServer> = viz.ready;
const closed: Promise<void> = viz.close();
const report: string = rm.formatStats() + rm.heap.formatStats() + arena.formatStats() + c.formatStats() + formatStats();
printStats();
arena.printStats();
c.printStats();
const handles: number = arena.handle + c.handle;
void [pagesSeen, firstRun, svg, txt, ready, closed, report, handles];

// Traces of the drop-in malloc.
const tr: Trace = readTrace('prog.trace');
const rep: TraceReplay = replayTrace(tr.processes[0], tr);
const balanced: boolean = rep.stats.balanced && rep.live.length === tr.processes[0].n;
void balanced;
