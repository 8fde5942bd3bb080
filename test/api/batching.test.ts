import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildAdapterIndex } from '../../api/attribution-service.js';
import { BatchPlanner } from '../../api/batching.js';
import { FeaturePools } from '../../api/feature-pools.js';
import { proveJobKind } from '../../api/proof-worker.js';
import { AdapterRegistryStore, type AdapterRow } from '../../api/store/adapters.js';
import { BatchStore, SIGNAL } from '../../api/store/batches.js';
import { openDatabase, type Db } from '../../api/store/db.js';
import { createHost, type Host } from '../../api/store/hosts.js';
import { SqliteJobQueue } from '../../api/store/jobs.js';
import { ReceiptStore } from '../../api/store/receipts.js';
import { RegistrationStore } from '../../api/store/registrations.js';
import { unpackHeader } from '../../attribution/index.js';
import { datanetCorpus, isHeldOut } from '../../inference/datasets.js';
import { ModelFactory } from '../../inference/factory.js';
import { AdapterStore } from '../../inference/store.js';
import { BUILD_DIR } from '../../lib/config.js';
import { mulberry32, shuffled } from '../../lib/random.js';
import { createProver, loadProverKeys, type Prover } from '../../prover/prover.js';
import { ALICE, BOB, base, tempDir } from '../inference/helpers.js';
import { TEST_VARIANT, testArtifacts } from '../helpers/fixtures.js';

/**
 * Batching and proof jobs on a real adapter and index (no chain: planning needs only the
 * registration the service recorded): full batches as answers come, short ones flushed or
 * past their deadline, none across a version boundary, each ledger continuing the last,
 * and a plan interrupted between its job and its row planned again identically.
 */
const M = TEST_VARIANT.params.answers!;
let db: Db;
let host: Host;
let adapter: AdapterRow;
let queue: SqliteJobQueue;
let pools: FeaturePools;
let factory: ModelFactory;
let store: AdapterStore;
let prover: Prover;
let vkey: Awaited<ReturnType<typeof loadProverKeys>>['vkey'];
const out = { label: 'spam', probabilities: [0.2, 0.8] };

beforeAll(async () => {
  const model = await base();
  db = openDatabase(':memory:');
  host = createHost(db, 'h').host;
  db.prepare("INSERT INTO datanets (id, owner_host, name, labels, visibility, max_records, max_record_bytes, created_at) VALUES ('dn_x', ?, 'x', '[\"ham\",\"spam\"]', 'owner', 1000, 20000, '')").run(host.id);
  adapter = new AdapterRegistryStore(db).create(host, { id: 'mail', datanetId: 'dn_x', datanetVersion: 1, jobId: 'j', spec: {} });
  store = await AdapterStore.open(await tempDir('zkpoa-batching-'), model);
  factory = new ModelFactory({ baseDir: join(BUILD_DIR, 'models', 'base'), store, checkpointsDir: await tempDir('zkpoa-batching-ckpt-') });
  const pool = shuffled((await datanetCorpus()).filter((r) => !isHeldOut(r.id)), mulberry32(3)).slice(0, 80);
  const records = pool.map((r, i) => ({ text: r.text.slice(0, 1000), label: r.label, contributor: i % 2 ? ALICE : BOB }));
  const trained = await factory.fineTune({ adapterId: adapter.key, datanet: { id: 'dn_x', versionRoot: '0x01', records }, hyper: { iterations: 40 } });
  const index = await buildAdapterIndex(db, { adapterId: adapter.key, datanet: { id: 'dn_x', versionRoot: '0x01' }, records, checkpoints: trained.checkpoints, variant: TEST_VARIANT, buildDir: BUILD_DIR });
  new RegistrationStore(db).add(
    { adapterKey: adapter.key, hostWallet: '0x' + '11'.repeat(20), chainId: 31337n, settlement: '0x' + '22'.repeat(20), onchainId: 1n, tx: '0xregistration' },
    { version: 1, firstReceipt: 0, indexRoot: index.index.root, binding: 7n, price: 10n ** 16n, poolBps: 7000, tx: '0xv1' },
  );
  queue = new SqliteJobQueue(db);
  pools = new FeaturePools(join(BUILD_DIR, 'models', 'base'), { maxPools: 2 });
  const keys = await loadProverKeys(testArtifacts());
  vkey = keys.vkey;
  prover = createProver(keys, { threads: 1 });
}, 300_000);

afterAll(async () => {
  await prover?.close();
  await pools?.close();
  await factory?.close();
  store?.close();
  db?.close();
});

const serve = (n: number) => new ReceiptStore(db).add(host, Array.from({ length: n }, (_, i) => ({ adapter, input: `answer ${Math.random()} ${i}: cheap meds, click now`, output: out })), 1_000_000);
const planner = (deadlineMs = 60_000) => new BatchPlanner(db, queue, pools, { vkey: () => vkey, deadlineMs });

describe('batch planning', () => {
  it('plans full batches as answers come, and proves each with the planned public signals', async () => {
    serve(M + 1);
    const planned = await planner().planDue();
    expect(planned.map((b) => [b.first, b.count])).toEqual([[0, M]]); // the last answer waits for more
    expect(await planner().planDue()).toEqual([]); // nothing new
    const b = planned[0]!;
    expect(b.publicSignals[SIGNAL.oldRoot]).toBe(0n); // the version's first batch: a fresh ledger
    expect(unpackHeader(b.publicSignals[SIGNAL.header]!)).toEqual({ fee: 10n ** 16n, pool: 7n * 10n ** 15n, first: 0n, count: M });
    const job = (await queue.get(b.jobId))!;
    expect(job.kind).toBe(proveJobKind(vkey));
    const { publicSignals } = await prover.prove((job.payload as { input: Record<string, unknown> }).input);
    expect(publicSignals.map(BigInt)).toEqual(b.publicSignals);
  }, 120_000);

  it('a short batch waits until flushed or past its deadline', async () => {
    expect(await planner(60_000).planDue()).toEqual([]);
    const late = await planner(0).planDue();
    expect(late.map((b) => [b.first, b.count])).toEqual([[M, 1]]);
    serve(2);
    const flushed = await planner().plan(adapter.key, { flush: true });
    expect(flushed.map((b) => [b.first, b.count])).toEqual([[M + 1, 2]]);
    // each batch's ledger continues the previous one's
    const all = new BatchStore(db).list(adapter.key);
    for (let i = 1; i < all.length; i++) expect(all[i]!.publicSignals[SIGNAL.oldRoot]).toBe(all[i - 1]!.publicSignals[SIGNAL.newRoot]);
  }, 120_000);

  it('never crosses a version boundary, and a new version starts a fresh ledger', async () => {
    const next = new ReceiptStore(db).nextNumber(adapter.key); // M + 3
    serve(2);
    new RegistrationStore(db).addVersion(adapter.key, { version: 2, firstReceipt: next + 1, indexRoot: new RegistrationStore(db).get(adapter.key)!.versions[0]!.indexRoot, binding: 7n, price: 2n * 10n ** 16n, poolBps: 5000, tx: '0xv2' });
    serve(M);
    const planned = await planner().planDue();
    // version 1 ends at `next`: its last batch is short and goes at once; version 2 makes a full batch, and one answer waits
    expect(planned.map((b) => [b.version, b.first, b.count])).toEqual([
      [1, next, 1],
      [2, next + 1, M],
    ]);
    expect(planned[1]!.publicSignals[SIGNAL.oldRoot]).toBe(0n);
    expect(unpackHeader(planned[1]!.publicSignals[SIGNAL.header]!)).toMatchObject({ fee: 2n * 10n ** 16n, pool: 10n ** 16n });
  }, 120_000);

  it('a plan interrupted between its job and its row is planned again identically', async () => {
    serve(M - 1);
    const [b] = await planner().plan(adapter.key, { flush: true });
    db.prepare('DELETE FROM batches WHERE id = ?').run(b!.id); // the crash: the job is queued, the row never written
    const [again] = await planner().plan(adapter.key, { flush: true });
    expect(again).toMatchObject({ id: b!.id, jobId: b!.jobId, first: b!.first, count: b!.count });
    expect(again!.publicSignals).toEqual(b!.publicSignals);
    expect((db.prepare('SELECT COUNT(*) n FROM jobs WHERE key = ?').get(`${adapter.key}:${b!.first}:${b!.count}`) as { n: number }).n).toBe(1);
  }, 120_000);
});
