// index.mjs — the framebroker Node binding for ESM: the same module as
// index.cjs (one native handle table, one Producer class).
import cjs from './index.cjs';

export const { attach, Producer, version, RESTART_EXIT_CODE } = cjs;
export default cjs;
