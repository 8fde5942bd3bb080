import { Wallet } from 'ethers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startService, type Service } from '../../api/service.js';
import type { App } from '../../api/server.js';
import { openDatabase, type Db } from '../../api/store/db.js';
import { tempDir } from '../inference/helpers.js';
import { createHost } from '../../api/store/hosts.js';
import { SettlementClient, anvilAccountKeys, deployAll, rpcProvider, startAnvil, type LocalChain } from '../../contracts/client/index.js';
import { datanetCorpus, isHeldOut } from '../../inference/datasets.js';
import { mulberry32, shuffled } from '../../lib/random.js';
import { BUILD_DIR } from '../../lib/config.js';
import { TEST_VARIANT } from '../helpers/fixtures.js';
import { hasRedis, startRedis, type RedisServer } from '../helpers/redis.js';

/**
 * Through HTTP on a real anvil: contribute → fine-tune → register → infer → prove →
 * settle → audit → every contributor claims and withdraws with its own wallet; once
 * with the embedded SQLite job queue and once with BullMQ on a real redis-server.
 */
const PRICE = 10n ** 16n;

interface Stack {
  chain: LocalChain;
  db: Db;
  service: Service;
  app: App;
  key: string;
  client: SettlementClient;
  contributors: Wallet[];
}

async function startStack(queueUrl?: string): Promise<Stack> {
  const chain = await startAnvil();
  const provider = rpcProvider(chain.rpcUrl);
  const [deployerKey, operatorKey, ...rest] = anvilAccountKeys();
  const deployer = new Wallet(deployerKey!, provider);
  const deployment = await deployAll(deployer, { variants: [TEST_VARIANT] });
  const operator = new Wallet(operatorKey!, provider);
  const contributors = rest.slice(0, 3).map((k) => new Wallet(k, provider));
  const admin = await SettlementClient.connect(deployment, deployer);
  await (await admin.open.getFunction('transfer')(operator.address, 100n * PRICE)).wait();
  const client = admin.connect(operator);
  await client.deposit(100n * PRICE);

  const db = openDatabase(':memory:');
  const key = createHost(db, 'host').apiKey;
  const service = await startService({
    db,
    buildDir: BUILD_DIR,
    dataDir: await tempDir('zkpoa-e2e-'),
    variant: TEST_VARIANT,
    chain: { client, chainId: chain.chainId, settlement: deployment.settlement },
    pollMs: 20,
    ...(queueUrl ? { queueUrl } : {}),
  });
  await service.app.ready();
  return { chain, db, service, app: service.app, key, client, contributors };
}

const poll = async <T>(f: () => Promise<T>, done: (t: T) => boolean, ms = 120_000): Promise<T> => {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (done(v) || Date.now() > end) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
};

for (const queue of ['SQLite', 'BullMQ'] as const) {
  describe.skipIf(queue === 'BullMQ' && !hasRedis)(`end to end through HTTP on anvil, ${queue} job queue`, () => {
    let stack: Stack | undefined;
    let redis: RedisServer | undefined;
    beforeAll(async () => {
      if (queue === 'BullMQ') redis = await startRedis();
      stack = await startStack(redis ? `${redis.url}?prefix=e2e` : undefined);
    }, 300_000);
    afterAll(async () => {
      await stack?.service.close();
      stack?.db.close();
      await stack?.chain.stop();
      await redis?.stop();
    });

    it('pays the contributors of an answer on-chain, once', async () => {
      const { app, db, key, client, contributors } = stack!;
      const auth = () => ({ authorization: `Bearer ${key}` });
      expect((await app.inject({ method: 'GET', url: '/health' })).json()).toMatchObject({
        status: 'ok',
        backend: expect.any(String),
        servingKernel: expect.stringMatching(/^(host|tensor)$/),
        prover: { variant: TEST_VARIANT.name },
        chain: { settlement: expect.any(String) },
        jobQueue: queue === 'BullMQ' ? expect.stringMatching(/^bullmq redis:\/\/127\.0\.0\.1:\d+ \(prefix e2e\)$/) : 'sqlite',
      });
      const dn = (await app.inject({ method: 'POST', url: '/v1/datanets', headers: auth(), payload: { name: 'mail', labels: ['ham', 'spam'] } })).json() as { id: string };
      const seen = new Set<string>();
      const corpus = shuffled((await datanetCorpus()).filter((r) => !isHeldOut(r.id)), mulberry32(9)).filter((r) => !seen.has(r.text.slice(0, 1500)) && seen.add(r.text.slice(0, 1500)));
      const who = contributors.map((w) => w.address);
      const records = corpus.slice(0, 180).map((r, i) => ({ contributor: who[i % 3]!, text: r.text.slice(0, 1500), label: r.label }));
      const contributed = await app.inject({ method: 'POST', url: `/v1/datanets/${dn.id}/records`, headers: auth(), payload: { records } });
      expect(contributed.statusCode, contributed.body).toBeLessThan(300);
      const added = contributed.json() as { records: { id: number }[] };
      for (const r of added.records) await app.inject({ method: 'POST', url: `/v1/datanets/${dn.id}/records/${r.id}/review`, headers: auth(), payload: { decision: 'accept' } });
      await app.inject({ method: 'POST', url: `/v1/datanets/${dn.id}/versions`, headers: auth() });
      expect((await app.inject({ method: 'POST', url: '/v1/adapters', headers: auth(), payload: { id: 'mail', datanetId: dn.id, version: 1, hyper: { iterations: 200 } } })).statusCode).toBe(202);
      const ready = await poll(async () => (await app.inject({ method: 'GET', url: '/v1/adapters/mail', headers: auth() })).json() as { status: string }, (a) => a.status !== 'training');
      expect(ready.status).toBe('ready');

      // shares that do not sum to 100% are refused before any transaction
      const badShares = await app.inject({ method: 'POST', url: '/v1/adapters/mail/register', headers: auth(), payload: { price: PRICE.toString(), ownerBps: 2000, protocolBps: 1000, poolBps: 6000 } });
      expect(badShares.json()).toMatchObject({ error: { code: 'ZKPOA_ERR_INVALID_ARGUMENT' } });
      const reg = await app.inject({ method: 'POST', url: '/v1/adapters/mail/register', headers: auth(), payload: { price: PRICE.toString(), ownerBps: 2000, protocolBps: 1000, poolBps: 7000 } });
      expect(reg.statusCode, reg.body).toBe(201);
      const onchainId = BigInt((reg.json() as { onchainId: string }).onchainId);

      const inferred = (await app.inject({ method: 'POST', url: '/v1/infer', headers: auth(), payload: { requests: [{ adapter: 'mail', text: 'URGENT: claim your free prize now, click the link' }] } })).json() as { results: { receipt: string }[] };
      const receipt = inferred.results[0]!.receipt;
      expect((await app.inject({ method: 'POST', url: `/v1/receipts/${receipt}/proof`, headers: auth() })).statusCode).toBe(202);
      const proven = await poll(
        async () => (await app.inject({ method: 'GET', url: `/v1/receipts/${receipt}/proof`, headers: auth() })).json() as { job: { status: string }; calldata?: { publicSignals: string[] } },
        (p) => p.job.status === 'done' || p.job.status === 'failed',
      );
      expect(proven.job.status).toBe('done');

      if (queue === 'SQLite') {
        // a stored proof whose public signals are not the receipt's own claim is never sent
        const row = db.prepare("SELECT j.id, j.result FROM jobs j JOIN receipt_proofs p ON p.job_id = j.id WHERE p.receipt_id = ?").get(receipt) as { id: string; result: string };
        const forged = JSON.parse(row.result) as { publicSignals: string[] };
        forged.publicSignals[2] = (BigInt(forged.publicSignals[2]!) + 1n).toString();
        db.prepare('UPDATE jobs SET result = ? WHERE id = ?').run(JSON.stringify(forged), row.id);
        const refused = await app.inject({ method: 'POST', url: `/v1/receipts/${receipt}/settle`, headers: auth() });
        expect(refused.statusCode).toBe(409);
        expect(refused.json().error.message).toMatch(/not for its own claim/);
        // nor one that does not verify with the server's key (a prover host holding other keys)
        const otherKeys = JSON.parse(row.result) as { proof: { pi_c: string[] } };
        otherKeys.proof.pi_c = (JSON.parse(row.result) as { proof: { pi_a: string[] } }).proof.pi_a;
        db.prepare('UPDATE jobs SET result = ? WHERE id = ?').run(JSON.stringify(otherKeys), row.id);
        const unverified = await app.inject({ method: 'POST', url: `/v1/receipts/${receipt}/settle`, headers: auth() });
        expect(unverified.statusCode).toBe(409);
        expect(unverified.json().error.message).toMatch(/does not verify with this server's verification key/);
        db.prepare('UPDATE jobs SET result = ? WHERE id = ?').run(row.result, row.id);
      }
      const settled = await app.inject({ method: 'POST', url: `/v1/receipts/${receipt}/settle`, headers: auth() });
      expect(settled.statusCode, settled.body).toBe(200);
      const again = await app.inject({ method: 'POST', url: `/v1/receipts/${receipt}/settle`, headers: auth() });
      expect(again.statusCode).toBe(409);
      // a crash after the transaction but before it was recorded: settling again records the chain's transaction
      const tx = (settled.json() as { tx: string }).tx;
      db.prepare('UPDATE receipt_proofs SET settle_tx = NULL WHERE receipt_id = ?').run(receipt);
      const recovered = await app.inject({ method: 'POST', url: `/v1/receipts/${receipt}/settle`, headers: auth() });
      expect(recovered.statusCode).toBe(409);
      expect(recovered.json().error.message).toContain(`already settled in ${tx}`);
      expect((db.prepare('SELECT settle_tx FROM receipt_proofs WHERE receipt_id = ?').get(receipt) as { settle_tx: string }).settle_tx).toBe(tx);

      // the auditor's replay passes every check…
      const audit = await app.inject({ method: 'POST', url: `/v1/audit/${receipt}`, headers: auth() });
      expect(audit.statusCode, audit.body).toBe(200);
      const report = audit.json() as { ok: boolean; checks: { name: string; ok: boolean; detail: string }[] };
      expect(report.checks.map((c) => [c.name, c.ok])).toEqual([
        ['answer', true],
        ['input and output hashes', true],
        ['test features', true],
        ['split and public signals', true],
        ['proof', true],
        ['settlement', true],
      ]);
      expect(report.ok).toBe(true);
      // …and fails on a tampered receipt
      db.prepare("UPDATE receipts SET input = input || ' (edited)' WHERE id = ?").run(receipt);
      const tampered = (await app.inject({ method: 'POST', url: `/v1/audit/${receipt}`, headers: auth() })).json() as typeof report;
      expect(tampered.ok).toBe(false);
      expect(tampered.checks.find((c) => c.name === 'input and output hashes')?.ok).toBe(false);

      // the proof credited the pool (less dust) to the index's leaves, in the order contributors were first seen
      const credits = await Promise.all([0, 1, 2].map((leaf) => client.credit(onchainId, 1n, leaf)));
      const paid = credits.reduce((a, b) => a + b, 0n);
      expect(paid).toBeGreaterThan(0n);
      expect(paid).toBeLessThanOrEqual((PRICE * 7000n) / 10000n);
      // every contributor finds its credit on-chain, claims and withdraws it with its own wallet
      for (const [leaf, wallet] of contributors.entries()) {
        const mine = client.connect(wallet);
        expect((await mine.earnings(wallet.address)).positions).toEqual([{ adapterId: onchainId, version: 1n, leaf, credit: credits[leaf] }]);
        expect(await mine.claimAll()).toMatchObject({ claimed: credits[leaf], withdrawn: credits[leaf] });
        expect(await client.open.getFunction('balanceOf')(wallet.address)).toBe(credits[leaf]);
      }
    }, 300_000);
  });
}
