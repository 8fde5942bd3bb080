import { createHash } from 'node:crypto';
import { readFile, rename, writeFile } from 'node:fs/promises';
import type { MessagePort } from 'node:worker_threads';
import { buildSpanIndex, serializeIndex, spanOwners, type IndexRecord } from './attribution-index.js';
import { initBackend } from './backend.js';
import { hashFeatures } from './features.js';
import { InfluenceSpan } from './influence.js';
import { decodeAdapter } from './lora.js';
import { BaseModel } from './model.js';

/**
 * Builds an influence index off the main thread (tens of seconds for thousands of
 * records): the span is written to `basisPath` and the index, which names it by path and
 * hash, comes back serialized. Progress goes over `port`.
 */
export interface InfluenceIndexTask {
  baseDir: string;
  /** the adapter at its optimum (its one kept checkpoint) */
  adapterPath: string;
  records: IndexRecord[];
  weightDecay: number;
  dim: number;
  capacity: number;
  adapterId: string;
  datanet: { id: string; versionRoot: string };
  basisPath: string;
  port?: MessagePort;
}

export default async function run(task: InfluenceIndexTask): Promise<string> {
  try {
    await initBackend();
    const base = await BaseModel.load(task.baseDir);
    const adapter = decodeAdapter(await readFile(task.adapterPath), base);
    const { owner, contributors } = spanOwners(task.records);
    const span = InfluenceSpan.build(base, adapter, task.records.map((r, i) => ({ x: hashFeatures(r.text, base.spec.inputDim), label: r.label, owner: owner[i]! })), contributors, {
      weightDecay: task.weightDecay,
      dim: task.dim,
      onProgress: (done, total) => task.port?.postMessage({ done, total }),
    });
    const bytes = span.serialize();
    await writeFile(task.basisPath + '.tmp', bytes);
    await rename(task.basisPath + '.tmp', task.basisPath);
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    const index = await buildSpanIndex(task.records, span, { adapterId: task.adapterId, datanet: task.datanet, capacity: task.capacity, basis: { path: task.basisPath, sha256 } });
    base.dispose();
    return serializeIndex(index);
  } finally {
    task.port?.close();
  }
}
