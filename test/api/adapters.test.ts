import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FINETUNE_JOB, FineTuneRunner } from '../../api/finetune-runner.js';
import { buildServer, type App } from '../../api/server.js';
import { openDatabase, type Db } from '../../api/store/db.js';
import { createHost, type Host } from '../../api/store/hosts.js';
import { adapterKey } from '../../api/store/adapters.js';
import { DatanetStore } from '../../api/store/datanets.js';
import { FeaturePools } from '../../api/feature-pools.js';
import { SqliteJobQueue } from '../../api/store/jobs.js';
import { Batcher } from '../../inference/batcher.js';
import { datanetCorpus, isHeldOut } from '../../inference/datasets.js';
import { ModelFactory } from '../../inference/factory.js';
import { AdapterStore } from '../../inference/store.js';
import { mulberry32, shuffled } from '../../lib/random.js';
import { BUILD_DIR } from '../../lib/config.js';
import { base, tempDir } from '../inference/helpers.js';
import { TEST_VARIANT } from '../helpers/fixtures.js';
import { loadAdapterIndex } from '../../api/attribution-service.js';
import { Commitments } from '../../attribution/index.js';
import { indexLeaves } from '../../inference/attribution-index.js';

let db: Db;
let app: App;
let runner: FineTuneRunner;
let factory: ModelFactory;
let store: AdapterStore;
let batcher: Batcher;
let key: string;
let host: Host;
let otherKey: string;
let otherHostId: number;
let queue: SqliteJobQueue;
const auth = (k: string) => ({ authorization: `Bearer ${k}` });

beforeAll(async () => {
  const model = await base();
  db = openDatabase(':memory:');
  ({ apiKey: key, host } = createHost(db, 'host'));
  const other = createHost(db, 'other');
  otherKey = other.apiKey;
  otherHostId = other.host.id;
  store = await AdapterStore.open(await tempDir('zkpoa-api-adapters-'), model);
  factory = new ModelFactory({ baseDir: join(BUILD_DIR, 'models', 'base'), store, checkpointsDir: await tempDir('zkpoa-api-ckpt-') });
  queue = new SqliteJobQueue(db);
  runner = new FineTuneRunner(db, queue, factory, { ladder: [TEST_VARIANT], buildDir: BUILD_DIR }, 20);
  runner.start();
  batcher = new Batcher(store, { maxBatchSize: 16, maxWaitMs: 5 });
  app = await buildServer({ db, inference: { batcher, queue }, limits: { maxStoredAnswers: 4, maxFineTuneJobs: 1 } });
  await app.ready();
});

afterAll(async () => {
  await app?.close();
  await runner?.stop();
  await batcher?.close();
  await factory?.close();
  store?.close();
  db?.close();
});

describe('adapters and inference API', () => {
  it('contribute → publish → fine-tune (async, with progress) → infer with receipts; hosts only use their own adapters', async () => {
    const dn = (await app.inject({ method: 'POST', url: '/v1/datanets', headers: auth(key), payload: { name: 'mail', labels: ['ham', 'spam'] } })).json() as { id: string };
    const corpus = shuffled((await datanetCorpus()).filter((r) => !isHeldOut(r.id)), mulberry32(4));
    const seen = new Set<string>();
    const texts = corpus.filter((r) => !seen.has(r.text.slice(0, 2000)) && seen.add(r.text.slice(0, 2000))).slice(0, 240);
    const records = texts.map((r, i) => ({ contributor: '0x' + (i % 3 ? 'a1' : 'b2').repeat(20), text: r.text.slice(0, 2000), label: r.label }));
    const addedRes = await app.inject({ method: 'POST', url: `/v1/datanets/${dn.id}/records`, headers: auth(key), payload: { records } });
    expect(addedRes.statusCode, addedRes.body).toBe(201);
    const added = addedRes.json() as { records: { id: number }[] };
    for (const r of added.records) await app.inject({ method: 'POST', url: `/v1/datanets/${dn.id}/records/${r.id}/review`, headers: auth(key), payload: { decision: 'accept' } });
    expect((await app.inject({ method: 'POST', url: `/v1/datanets/${dn.id}/versions`, headers: auth(key) })).statusCode).toBe(201);

    const created = await app.inject({ method: 'POST', url: '/v1/adapters', headers: auth(key), payload: { id: 'mail-v1', datanetId: dn.id, version: 1, hyper: { iterations: 100 }, seed: 3 } });
    expect(created.statusCode).toBe(202);
    expect(created.json()).toMatchObject({ id: 'mail-v1', status: 'training' });
    expect((await app.inject({ method: 'POST', url: '/v1/adapters', headers: auth(key), payload: { id: 'mail-v1', datanetId: dn.id, version: 1 } })).json()).toMatchObject({ error: { code: 'ZKPOA_ERR_ADAPTER_EXISTS' } });
    // one fine-tuning job at a time for this host (the limit set above): a second is refused while the first trains
    const second = await app.inject({ method: 'POST', url: '/v1/adapters', headers: auth(key), payload: { id: 'mail-v2', datanetId: dn.id, version: 1 } });
    expect(second.json()).toMatchObject({ error: { code: 'ZKPOA_ERR_FINETUNE_QUOTA' } });

    let adapter: { status: string; job?: { progress?: number } } = { status: 'training' };
    // fine-tuning and building the influence index take ~20 s alone and over a minute on a
    // loaded machine: wait on a deadline inside the test's timeout, not a count of polls (~30 s)
    const deadline = Date.now() + 100_000;
    while (adapter.status === 'training' && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      adapter = (await app.inject({ method: 'GET', url: '/v1/adapters/mail-v1', headers: auth(key) })).json();
    }
    expect(adapter).toMatchObject({ status: 'ready', job: { status: 'done', progress: 1 } });
    // the attribution index was built for the proofs: two contributors, its root the circuit's
    const stored = loadAdapterIndex(db, adapterKey(host, 'mail-v1'))!;
    expect(stored.variant).toBe(TEST_VARIANT.name);
    expect(stored.index.contributors).toHaveLength(2);
    expect(stored.index.root).toBe((await Commitments.create()).indexRoot(indexLeaves(stored.index), TEST_VARIANT.params.contributors, TEST_VARIANT.params.features));
    // trained with L-BFGS (the default): an influence index, whose span is saved beside the checkpoint under its hash
    expect(stored.index.estimator).toBe('influence-span');
    expect(['hessian', 'fisher']).toContain(stored.index.curvature);
    expect(stored.checkpoints).toHaveLength(1);
    expect(createHash('sha256').update(await readFile(stored.index.basis!.path)).digest('hex')).toBe(stored.index.basis!.sha256);

    const res = await app.inject({
      method: 'POST',
      url: '/v1/infer',
      headers: auth(key),
      payload: { requests: [{ adapter: 'mail-v1', text: 'Cheap meds, no prescription, click now!!!' }, { adapter: 'mail-v1', text: 'The patch is attached; can you review it before Friday?' }, { adapter: 'nope', text: 'x' }] },
    });
    expect(res.statusCode).toBe(200);
    const results = (res.json() as { results: Record<string, unknown>[] }).results;
    expect(results[0]).toMatchObject({ adapter: 'mail-v1', label: expect.stringMatching(/^(ham|spam)$/), receipt: expect.stringMatching(/^rc_/) });
    expect(results[2]).toMatchObject({ error: { code: 'ZKPOA_ERR_UNKNOWN_ADAPTER' } });
    expect((db.prepare('SELECT COUNT(*) n FROM receipts').get() as { n: number }).n).toBe(2);

    const stolen = await app.inject({ method: 'POST', url: '/v1/infer', headers: auth(otherKey), payload: { requests: [{ adapter: 'mail-v1', text: 'hello' }] } });
    expect((stolen.json() as { results: Record<string, unknown>[] }).results[0]).toMatchObject({ error: { code: 'ZKPOA_ERR_UNKNOWN_ADAPTER' } });

    // the host stores at most 4 answers (the limit set above): 2 more fit, a third is refused before any work, and nothing is half-stored
    const two = await app.inject({ method: 'POST', url: '/v1/infer', headers: auth(key), payload: { requests: [{ adapter: 'mail-v1', text: 'one' }, { adapter: 'mail-v1', text: 'two' }] } });
    expect((two.json() as { results: { receipt?: string }[] }).results.every((r) => r.receipt)).toBe(true);
    const full = await app.inject({ method: 'POST', url: '/v1/infer', headers: auth(key), payload: { requests: [{ adapter: 'mail-v1', text: 'three' }] } });
    expect(full.statusCode).toBe(429);
    expect(full.json()).toMatchObject({ error: { code: 'ZKPOA_ERR_INPUT_QUOTA' } });
    expect((db.prepare('SELECT COUNT(*) n FROM receipts WHERE host = ?').get(host.id) as { n: number }).n).toBe(4);
  }, 120_000);

  it('attribution worker pools are bounded across adapters; an idle one makes room, a busy one is never closed under its query', async () => {
    const stored = loadAdapterIndex(db, adapterKey(host, 'mail-v1'))!;
    const pools = new FeaturePools(join(BUILD_DIR, 'models', 'base'), { maxPools: 1 });
    try {
      const first = pools.testFeatures('adapter-a', stored, 'first answer');
      await expect(pools.testFeatures('adapter-b', stored, 'second answer')).rejects.toMatchObject({ code: 'ZKPOA_ERR_ATTRIBUTION_BUSY' });
      const t = await first;
      expect(t).toHaveLength(TEST_VARIANT.params.features);
      expect(await pools.testFeatures('adapter-b', stored, 'first answer')).toEqual(t); // the idle pool made room
      expect(pools.alive).toBe(1);
    } finally {
      await pools.close();
    }
    expect(pools.alive).toBe(0);
  }, 60_000);

  it('a stale fine-tune job for an adapter id another host owns touches nothing', async () => {
    const job = await queue.enqueue(FINETUNE_JOB, 'stale-mail-v1', { hostId: otherHostId, adapterId: adapterKey(host, 'mail-v1'), datanetId: 'dn_x', version: 1 });
    const end = Date.now() + 30_000;
    let state = await queue.get(job.id);
    while (state?.status !== 'failed' && Date.now() < end) {
      await new Promise((r) => setTimeout(r, 50));
      state = await queue.get(job.id);
    }
    expect(state).toMatchObject({ status: 'failed', error: expect.stringMatching(/^ZKPOA_ERR_FORBIDDEN: /) });
    expect((await app.inject({ method: 'GET', url: '/v1/adapters/mail-v1', headers: auth(key) })).json()).toMatchObject({ status: 'ready' });
  });

  it('an adapter create interrupted before its job was queued can be retried; adapter ids are each host’s own', async () => {
    const dn = (await app.inject({ method: 'POST', url: '/v1/datanets', headers: auth(key), payload: { name: 'retry', labels: ['ham', 'spam'], visibility: 'public' } })).json() as { id: string };
    await app.inject({ method: 'POST', url: `/v1/datanets/${dn.id}/records`, headers: auth(key), payload: { records: [{ contributor: '0x' + '12'.repeat(20), text: 'hello there', label: 0 }] } });
    const rec = (await app.inject({ method: 'GET', url: `/v1/datanets/${dn.id}/records`, headers: auth(key) })).json() as { records: { id: number }[] };
    await app.inject({ method: 'POST', url: `/v1/datanets/${dn.id}/records/${rec.records[0]!.id}/review`, headers: auth(key), payload: { decision: 'accept' } });
    await app.inject({ method: 'POST', url: `/v1/datanets/${dn.id}/versions`, headers: auth(key) });
    db.prepare("INSERT INTO adapters (id, name, owner_host, datanet_id, datanet_version, status, job_id, spec, created_at) VALUES (?, 'half-made', ?, ?, 1, 'training', '', '{}', ?)").run(adapterKey(host, 'half-made'), host.id, dn.id, new Date().toISOString());
    // another host's adapter of the same id is its own: no conflict, and it sees nothing of the first
    const theirs = await app.inject({ method: 'POST', url: '/v1/adapters', headers: auth(otherKey), payload: { id: 'half-made', datanetId: dn.id, version: 1, hyper: { iterations: 5 } } });
    expect(theirs.statusCode, theirs.body).toBe(202);
    const retried = await app.inject({ method: 'POST', url: '/v1/adapters', headers: auth(key), payload: { id: 'half-made', datanetId: dn.id, version: 1, hyper: { iterations: 5 } } });
    expect(retried.statusCode, retried.body).toBe(202);
    expect((retried.json() as { jobId: string }).jobId).not.toBe('');
    expect((retried.json() as { jobId: string }).jobId).not.toBe((theirs.json() as { jobId: string }).jobId);
    const seen = (k: string) => app.inject({ method: 'GET', url: '/v1/adapters', headers: auth(k) }).then((r) => (r.json() as { adapters: { id: string; jobId: string }[] }).adapters);
    expect((await seen(otherKey)).map((a) => [a.id, a.jobId])).toEqual([['half-made', (theirs.json() as { jobId: string }).jobId]]);
    expect((await seen(key)).map((a) => a.id)).toEqual(['mail-v1', 'half-made']);
    // an id that is nobody's and one that is another host's look the same
    const unknown = await app.inject({ method: 'GET', url: '/v1/adapters/nobodys', headers: auth(otherKey) });
    const others = await app.inject({ method: 'GET', url: '/v1/adapters/mail-v1', headers: auth(otherKey) });
    expect([others.statusCode, others.json().error.code]).toEqual([unknown.statusCode, unknown.json().error.code]);
  });

  it('a fine-tuning job past its deadline is stopped, with its own error, and the adapter marked failed', async () => {
    const ddb = openDatabase(':memory:');
    const { host: h } = createHost(ddb, 'slow');
    const datanets = new DatanetStore(ddb);
    const dn = datanets.create(h, { name: 'slow', labels: ['ham', 'spam'] });
    const seen = new Set<string>();
    const texts = (await datanetCorpus()).filter((r) => !seen.has(r.text.slice(0, 1000)) && seen.add(r.text.slice(0, 1000))).slice(0, 200);
    for (const r of datanets.contribute(h, dn.id, texts.map((t, i) => ({ contributor: '0x' + (i % 2 ? 'a1' : 'b2').repeat(20), text: t.text.slice(0, 1000), label: t.label })))) datanets.review(h, dn.id, r.id, 'accept');
    datanets.publish(h, dn.id);
    const dqueue = new SqliteJobQueue(ddb);
    const slow = new FineTuneRunner(ddb, dqueue, factory, { ladder: [TEST_VARIANT], buildDir: BUILD_DIR }, 20, 300);
    const k = adapterKey(h, 'late');
    ddb.prepare("INSERT INTO adapters (id, name, owner_host, datanet_id, datanet_version, status, job_id, spec, created_at) VALUES (?, 'late', ?, ?, 1, 'training', '', '{}', '')").run(k, h.id, dn.id);
    const job = await dqueue.enqueue(FINETUNE_JOB, k, { hostId: h.id, adapterId: k, datanetId: dn.id, version: 1, hyper: { iterations: 5000 } });
    slow.start();
    try {
      let state = await dqueue.get(job.id);
      for (const end = Date.now() + 60_000; state?.status !== 'failed' && Date.now() < end; ) {
        await new Promise((r) => setTimeout(r, 50));
        state = await dqueue.get(job.id);
      }
      expect(state).toMatchObject({ status: 'failed', error: expect.stringMatching(/^ZKPOA_ERR_FINETUNE_DEADLINE: /) });
      expect((ddb.prepare('SELECT status FROM adapters WHERE id = ?').get(k) as { status: string }).status).toBe('failed');
    } finally {
      await slow.stop();
      ddb.close();
    }
  }, 90_000);

  it('refuses to fine-tune on a version that does not exist', async () => {
    const dn = (await app.inject({ method: 'POST', url: '/v1/datanets', headers: auth(key), payload: { name: 'empty', labels: ['ham', 'spam'] } })).json() as { id: string };
    const res = await app.inject({ method: 'POST', url: '/v1/adapters', headers: auth(key), payload: { id: 'x1', datanetId: dn.id, version: 1 } });
    expect(res.statusCode).toBe(404);
  });
});
