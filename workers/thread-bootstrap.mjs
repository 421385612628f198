// Development/test entry of a training thread. tsx's loader does not reach into worker_threads on Node 20
// (`--import tsx` in execArgv is not enough), so the thread registers it itself and then imports the
// TypeScript entry named in argv (see thread-entry.ts). Built code (dist/) loads the .js entry directly.
import { register } from 'tsx/esm/api';

register();
const entry = process.argv[2];
if (!entry) throw new Error('thread-bootstrap.mjs: no entry module in argv');
await import(entry);
