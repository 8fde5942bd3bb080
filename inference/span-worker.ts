import { rename, writeFile } from 'node:fs/promises';
import { threadId } from 'node:worker_threads';
import { SpanIndex, type SpanRecord } from './spans.js';

export interface SpanIndexTask {
  records: SpanRecord[];
  file: string;
}

/** Builds a datanet version's span index off the event loop; the file is written aside, then renamed, so a reader never sees half of one. */
export default async function run(task: SpanIndexTask): Promise<{ tokens: number }> {
  const index = SpanIndex.build(task.records);
  const aside = `${task.file}.${process.pid}-${threadId}.tmp`;
  await writeFile(aside, index.toBytes());
  await rename(aside, task.file);
  return { tokens: index.size };
}
