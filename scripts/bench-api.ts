/**
 * npm run bench:api -- [--seconds 15] [--connections 32]
 * Sustained load on POST /v1/infer over real HTTP (autocannon against 127.0.0.1):
 * two adapters, several inputs per request, bounded in time; reports throughput,
 * p50/p99 latency and errors (the target is 0). Last line: errors=<n>.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { buildServer } from '../api/server.js';
import { AdapterRegistryStore } from '../api/store/adapters.js';
import { openDatabase } from '../api/store/db.js';
import { createHost } from '../api/store/hosts.js';
import { SqliteJobQueue } from '../api/store/jobs.js';
import { initBackend } from '../inference/backend.js';
import { Batcher } from '../inference/batcher.js';
import { datanetCorpus, ensureBaseModel, isHeldOut } from '../inference/datasets.js';
import { AdapterStore } from '../inference/store.js';
import { randomAdapter } from '../inference/synthetic.js';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '15' }, connections: { type: 'string', default: '32' } } });
const backend = await initBackend();
const model = await ensureBaseModel();
const db = openDatabase(':memory:');
const { host, apiKey } = createHost(db, 'bench');
const store = await AdapterStore.open(await mkdtemp(join(tmpdir(), 'zkpoa-bench-api-')), model);
// two ready adapters (random LoRA weights: serving cost does not depend on what they learned)
db.prepare("INSERT INTO datanets (id, owner_host, name, labels, visibility, max_records, max_record_bytes, created_at) VALUES ('dn_bench', ?, 'bench', '[\"ham\",\"spam\"]', 'owner', 1, 1, '')").run(host.id);
const registry = new AdapterRegistryStore(db);
for (const [i, id] of ['a', 'b'].entries()) {
  const { key } = registry.create(host, { id, datanetId: 'dn_bench', datanetVersion: 1, jobId: 'none', spec: {} });
  await store.put(randomAdapter(model, key, i + 1));
  registry.setStatus(key, 'ready');
}
const batcher = new Batcher(store, { maxBatchSize: 32, maxWaitMs: 2 });
const app = await buildServer({ db, inference: { batcher, queue: new SqliteJobQueue(db) }, limits: { requestsPerMinute: 10_000_000 } });
const url = await app.listen({ host: '127.0.0.1', port: 0 });
const texts = (await datanetCorpus()).filter((r) => isHeldOut(r.id)).slice(0, 64).map((r) => r.text.slice(0, 2000));
const bodies = texts.map((_, i) => JSON.stringify({ requests: [0, 1, 2, 3].map((k) => ({ adapter: (i + k) % 2 ? 'a' : 'b', text: texts[(i + k) % texts.length] })) }));
let n = 0;
const result = await autocannon({
  url: `${url}/v1/infer`,
  method: 'POST',
  connections: Number(values.connections),
  duration: Number(values.seconds),
  headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
  requests: [{ setupRequest: (req: Record<string, unknown>) => ({ ...req, body: bodies[n++ % bodies.length] }) }],
});
await app.close();
await batcher.close();
store.close();
db.close();
const errors = result.errors + result.timeouts + result.non2xx;
console.log(`backend=${backend.name} connections=${values.connections} duration=${result.duration}s, 4 answers per request`);
console.log(`requests/s ${result.requests.average.toFixed(1)} (answers/s ${(4 * result.requests.average).toFixed(1)}), latency p50 ${result.latency.p50} ms, p99 ${result.latency.p99} ms, max ${result.latency.max} ms`);
console.log(`2xx=${result['2xx']} non2xx=${result.non2xx} errors=${result.errors} timeouts=${result.timeouts}`);
console.log(`p99_ms=${result.latency.p99}`);
console.log(`errors=${errors}`);
