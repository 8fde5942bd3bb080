/**
 * npm run bench:datanet -- [--records 50000] [--contributors 1024]
 * A community datanet at scale over real HTTP (a real server on 127.0.0.1, SQLite on disk):
 * the owner creates it, contributors' records arrive in requests under the body limit,
 * the owner accepts them with bulk reviews, publishes a version, and reads it back page by
 * page. Records come from the SpamAssassin corpus, made unique per copy; contributors get
 * Zipf-distributed shares. Prints records a second per step; last line: datanet_s=<seconds
 * from the first record sent to the version published>.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { buildServer } from '../api/server.js';
import { openDatabase } from '../api/store/db.js';
import { createHost } from '../api/store/hosts.js';
import { datanetCorpus } from '../inference/datasets.js';
import { zipfSizes } from '../lib/stats.js';

const { values } = parseArgs({ options: { records: { type: 'string', default: '50000' }, contributors: { type: 'string', default: '1024' } } });
const wanted = Number(values.records);
const contributors = Number(values.contributors);
if (!Number.isInteger(wanted) || wanted < 1 || wanted > 100_000) throw new Error('--records must be an integer in [1, 100000] (a datanet holds at most 100,000)');
if (!Number.isInteger(contributors) || contributors < 1 || contributors > wanted) throw new Error('--contributors must be an integer in [1, --records]');

const BODY_LIMIT = 1024 * 1024;
const dir = await mkdtemp(join(tmpdir(), 'zkpoa-bench-datanet-'));
const db = openDatabase(join(dir, 'zkpoa.db'));
const { apiKey } = createHost(db, 'owner');
const app = await buildServer({ db, limits: { requestsPerMinute: 10_000_000 }, bodyLimit: BODY_LIMIT });
const base = await app.listen({ host: '127.0.0.1', port: 0 });

async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${base}/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${apiKey}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const json = (await res.json()) as T;
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

const timed = async <T>(label: string, count: number, f: () => Promise<T>): Promise<{ value: T; seconds: number }> => {
  const t0 = performance.now();
  const value = await f();
  const seconds = (performance.now() - t0) / 1000;
  console.log(`${label}: ${count} records in ${seconds.toFixed(2)} s (${Math.round(count / seconds)} records/s)`);
  return { value, seconds };
};

// the records: corpus texts cut to a typical message size, each copy made unique; contributor c holds sizes[c] of them
const seen = new Set<string>();
const corpus = (await datanetCorpus()).map((r) => ({ text: r.text.slice(0, 1500), label: r.label })).filter((r) => !seen.has(r.text) && seen.add(r.text));
const sizes = zipfSizes(wanted, contributors);
const total = sizes.reduce((a, b) => a + b, 0);
const address = (c: number) => '0x' + (c + 1).toString(16).padStart(40, '0');
const records = sizes.flatMap((n, c) => Array.from({ length: n }, () => c)).map((c, i) => {
  const r = corpus[i % corpus.length]!;
  return { contributor: address(c), text: `${r.text}\n[copy ${Math.floor(i / corpus.length)}]`, label: r.label };
});

// requests of at most 1,000 records and under the body limit, as a client would send them
const requests: (typeof records)[] = [];
for (let i = 0, bytes = 0; i < records.length; i++) {
  const size = Buffer.byteLength(JSON.stringify(records[i])) + 1;
  const last = requests.at(-1);
  if (!last || last.length === 1000 || bytes + size > BODY_LIMIT - 1024) {
    requests.push([records[i]!]);
    bytes = size;
  } else {
    last.push(records[i]!);
    bytes += size;
  }
}

const datanet = await call<{ id: string }>('POST', '/datanets', { name: 'bench', labels: ['ham', 'spam'], maxRecords: 100_000 });
console.log(`datanet ${datanet.id}: ${total} records from ${contributors} contributors (the largest holds ${Math.max(...sizes)}) in ${requests.length} requests`);
try {
  const contribute = await timed('contribute', total, async () => {
    const ids: number[] = [];
    for (const batch of requests) {
      const { records: stored } = await call<{ records: { id: number }[] }>('POST', `/datanets/${datanet.id}/records`, { records: batch });
      ids.push(...stored.map((r) => r.id));
    }
    return ids;
  });
  const review = await timed('review (bulk, 10,000 a request)', total, async () => {
    for (let i = 0; i < contribute.value.length; i += 10_000) {
      await call('POST', `/datanets/${datanet.id}/reviews`, { decision: 'accept', records: contribute.value.slice(i, i + 10_000) });
    }
  });
  const publish = await timed('publish', total, () => call<{ version: number; root: string; records: number }>('POST', `/datanets/${datanet.id}/versions`));
  if (publish.value.records !== total) throw new Error(`published ${publish.value.records} records, expected ${total}`);
  console.log(`version ${publish.value.version}: root ${publish.value.root}`);
  await timed('read back (pages of 1,000)', total, async () => {
    let seen = 0;
    for (let offset = 0; ; offset += 1000) {
      const { records: page } = await call<{ records: unknown[] }>('GET', `/datanets/${datanet.id}/records?status=accepted&offset=${offset}&limit=1000`);
      seen += page.length;
      if (page.length < 1000) break;
    }
    if (seen !== total) throw new Error(`read ${seen} records back, expected ${total}`);
  });
  console.log(`datanet_s=${(contribute.seconds + review.seconds + publish.seconds).toFixed(2)}`);
} finally {
  await app.close();
  db.close();
  await rm(dir, { recursive: true, force: true });
}
