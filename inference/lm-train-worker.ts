import { ensureBaseLm } from './datasets.js';

/** Makes the embedded language model in `buildDir` (trained once, minutes on 2 cores) off the event loop. */
export default async function run(task: { buildDir: string }): Promise<void> {
  (await ensureBaseLm({ buildDir: task.buildDir })).dispose();
}
