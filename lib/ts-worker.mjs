// Entry of every piscina worker: registers the TypeScript loader in this thread,
// then loads the task module named in workerData.module and uses its default export.
// (Worker threads do not inherit the parent's loader hooks, under vitest or tsx.)
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
const mod = await import(workerData.module);
export default mod.default;
