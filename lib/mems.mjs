// mems.mjs - the ESM entry point of rmem/mems (the same object as mems.js).
import mems from './mems.js';

export const { init, malloc, get, free, printStats, finish, view, stats, validate } = mems;
export default mems;
