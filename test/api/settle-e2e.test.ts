import { Wallet } from 'ethers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startService, type Service } from '../../api/service.js';
import type { App } from '../../api/server.js';
import { openDatabase, type Db } from '../../api/store/db.js';
import { tempDir } from '../inference/helpers.js';
import { createHost, walletLinkMessage } from '../../api/store/hosts.js';
import { SettlementClient, anvilAccountKeys, deployAll, rpcProvider, startAnvil, type LocalChain } from '../../contracts/client/index.js';
import { datanetCorpus, isHeldOut } from '../../inference/datasets.js';
import { mulberry32, shuffled } from '../../lib/random.js';
import { BUILD_DIR } from '../../lib/config.js';
import { TEST_VARIANT } from '../helpers/fixtures.js';
import { hasRedis, startRedis, type RedisServer } from '../helpers/redis.js';

/**
 * Through HTTP on a real anvil: a host links the wallet whose escrow pays it →
 * contribute → fine-tune → register → infer → prove → settle → audit → every
 * contributor claims and withdraws with its own wallet; once with the embedded SQLite
 * job queue and once with BullMQ on a real redis-server. Then a second host tries every
 * way the API offers to spend the first host's or the operator's money.
 */
const PRICE = 10n ** 16n;

interface Stack {
  chain: LocalChain;
  db: Db;
  service: Service;
  app: App;
  /** host A's API key, and its wallet (escrow, owner share) */
  key: string;
  hostWallet: Wallet;
  /** the server's operator wallet */
  operator: Wallet;
  client: SettlementClient;
  contributors: Wallet[];
  /** host B, with a wallet of its own */
  other: { key: string; id: number; wallet: Wallet };
}

async function startStack(queueUrl?: string): Promise<Stack> {
  const chain = await startAnvil();
  const provider = rpcProvider(chain.rpcUrl);
  const [deployerKey, operatorKey, hostKey, otherKey, ...rest] = anvilAccountKeys();
  const deployer = new Wallet(deployerKey!, provider);
  const deployment = await deployAll(deployer, { variants: [TEST_VARIANT] });
  const operator = new Wallet(operatorKey!, provider);
  const hostWallet = new Wallet(hostKey!, provider);
  const contributors = rest.slice(0, 3).map((k) => new Wallet(k, provider));
  const admin = await SettlementClient.connect(deployment, deployer);
  // host A escrows and approves the server's operator; the operator has escrow of its own, which no host may spend
  for (const w of [hostWallet, operator]) {
    await (await admin.open.getFunction('transfer')(w.address, 100n * PRICE)).wait();
    await admin.connect(w).deposit(100n * PRICE);
  }
  await admin.connect(hostWallet).setOperator(operator.address, true);

  const db = openDatabase(':memory:');
  const key = createHost(db, 'host').apiKey;
  const b = createHost(db, 'other');
  const service = await startService({
    db,
    buildDir: BUILD_DIR,
    dataDir: await tempDir('zkpoa-e2e-'),
    variant: TEST_VARIANT,
    chain: { client: admin.connect(operator), chainId: chain.chainId, settlement: deployment.settlement },
    pollMs: 20,
    ...(queueUrl ? { queueUrl } : {}),
  });
  await service.app.ready();
  return { chain, db, service, app: service.app, key, hostWallet, operator, client: admin.connect(operator), contributors, other: { key: b.apiKey, id: b.host.id, wallet: new Wallet(otherKey!, provider) } };
}

/** The signature that links `wallet` to host `hostId` on this stack's chain and contract. */
async function linkSignature(stack: Stack, hostId: number, wallet: Wallet): Promise<string> {
  return wallet.signMessage(walletLinkMessage({ hostId, wallet: wallet.address, chainId: stack.chain.chainId.toString(), settlement: await stack.client.settlement.getAddress() }));
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

    it('pays the contributors of an answer on-chain, once, from the host’s own escrow', async () => {
      const { app, db, key, client, contributors, hostWallet, operator } = stack!;
      const auth = () => ({ authorization: `Bearer ${key}` });
      const me = (await app.inject({ method: 'GET', url: '/v1/host', headers: auth() })).json() as { id: number; chain: { operator: string } };
      expect(me.chain.operator).toBe(operator.address);
      const linked = await app.inject({ method: 'PUT', url: '/v1/host/wallet', headers: auth(), payload: { wallet: hostWallet.address, signature: await linkSignature(stack!, me.id, hostWallet) } });
      expect(linked.statusCode, linked.body).toBe(200);
      expect(linked.json()).toMatchObject({ wallet: hostWallet.address, escrow: { balance: (100n * PRICE).toString(), operatorApproved: true } });
      expect((await app.inject({ method: 'GET', url: '/health' })).json()).toMatchObject({
        status: 'ok',
        backend: expect.any(String),
        servingKernel: expect.stringMatching(/^(host|tensor)$/),
        prover: { variant: TEST_VARIANT.name },
        chain: { settlement: expect.any(String) },
        jobQueue: queue === 'BullMQ' ? expect.stringMatching(/^bullmq redis:\/\/127\.0\.0\.1:\d+ \(prefix e2e\)$/) : 'sqlite',
      });
      const dn = (await app.inject({ method: 'POST', url: '/v1/datanets', headers: auth(), payload: { name: 'mail', labels: ['ham', 'spam'], visibility: 'public' } })).json() as { id: string };
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
        expect(refused.json()).toMatchObject({ error: { code: 'ZKPOA_ERR_PROOF_MISMATCH' } });
        // nor one that does not verify with the server's key (a prover host holding other keys)
        const otherKeys = JSON.parse(row.result) as { proof: { pi_c: string[] } };
        otherKeys.proof.pi_c = (JSON.parse(row.result) as { proof: { pi_a: string[] } }).proof.pi_a;
        db.prepare('UPDATE jobs SET result = ? WHERE id = ?').run(JSON.stringify(otherKeys), row.id);
        const unverified = await app.inject({ method: 'POST', url: `/v1/receipts/${receipt}/settle`, headers: auth() });
        expect(unverified.json()).toMatchObject({ error: { code: 'ZKPOA_ERR_PROOF_INVALID' } });
        db.prepare('UPDATE jobs SET result = ? WHERE id = ?').run(row.result, row.id);
      }
      const settled = await app.inject({ method: 'POST', url: `/v1/receipts/${receipt}/settle`, headers: auth() });
      expect(settled.statusCode, settled.body).toBe(200);
      expect(await client.escrowOf(hostWallet.address)).toBe(99n * PRICE); // the host's escrow paid
      expect(await client.escrowOf(operator.address)).toBe(100n * PRICE); // not the operator's
      const again = await app.inject({ method: 'POST', url: `/v1/receipts/${receipt}/settle`, headers: auth() });
      expect(again.json()).toMatchObject({ error: { code: 'ZKPOA_ERR_ALREADY_SETTLED' } });
      // a crash after the transaction but before it was recorded: settling again records the chain's transaction
      const tx = (settled.json() as { tx: string }).tx;
      db.prepare('UPDATE receipt_proofs SET settle_tx = NULL WHERE receipt_id = ?').run(receipt);
      const recovered = await app.inject({ method: 'POST', url: `/v1/receipts/${receipt}/settle`, headers: auth() });
      expect(recovered.json()).toMatchObject({ error: { code: 'ZKPOA_ERR_ALREADY_SETTLED' } });
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

    it.skipIf(queue === 'BullMQ')('another host cannot move the first host’s or the operator’s money by any API call', async () => {
      const { app, key, client, hostWallet, operator, other } = stack!;
      const auth = (k = other.key) => ({ authorization: `Bearer ${k}` });
      const escrows = async () => [await client.escrowOf(hostWallet.address), await client.escrowOf(operator.address)];
      const before = await escrows();
      const call = (method: 'GET' | 'POST' | 'PUT', url: string, payload?: object) => app.inject({ method, url, headers: auth(), ...(payload ? { payload } : {}) });
      const code = async (r: ReturnType<typeof call>) => ((await r).json() as { error?: { code: string } }).error?.code;

      // host A's adapter and receipts are not B's to name
      const a = (await app.inject({ method: 'GET', url: '/v1/adapters/mail', headers: auth(key) })).json() as { datanetId: string };
      const aReceipt = (stack!.db.prepare('SELECT id FROM receipts LIMIT 1').get() as { id: string }).id;
      expect(await code(call('POST', '/v1/adapters/mail/register', { price: '1', ownerBps: 0, protocolBps: 0, poolBps: 10000 }))).toBe('ZKPOA_ERR_UNKNOWN_ADAPTER');
      for (const path of ['proof', 'settle']) expect(await code(call('POST', `/v1/receipts/${aReceipt}/${path}`))).toBe('ZKPOA_ERR_NOT_FOUND');
      expect(await code(call('POST', `/v1/audit/${aReceipt}`))).toBe('ZKPOA_ERR_NOT_FOUND');

      // B trains its own adapter on A's public datanet, and prices it as high as it likes
      expect((await call('POST', '/v1/adapters', { id: 'mail', datanetId: a.datanetId, version: 1, hyper: { iterations: 60 } })).statusCode).toBe(202);
      await poll(async () => (await call('GET', '/v1/adapters/mail')).json() as { status: string }, (x) => x.status !== 'training');
      const terms = { price: ((1n << 80n) - 1n).toString(), ownerBps: 0, protocolBps: 0, poolBps: 10000 };
      expect(await code(call('POST', '/v1/adapters/mail/register', terms))).toBe('ZKPOA_ERR_NO_WALLET');
      // …but cannot name A's wallet, nor the operator's: A's signature is for host A, and B holds no other
      const aId = ((await app.inject({ method: 'GET', url: '/v1/host', headers: auth(key) })).json() as { id: number }).id;
      const aSignature = await linkSignature(stack!, aId, hostWallet);
      expect(await code(call('PUT', '/v1/host/wallet', { wallet: hostWallet.address, signature: aSignature }))).toBe('ZKPOA_ERR_BAD_SIGNATURE');
      expect(await code(call('PUT', '/v1/host/wallet', { wallet: operator.address, signature: await linkSignature(stack!, other.id, other.wallet) }))).toBe('ZKPOA_ERR_BAD_SIGNATURE');
      // its own wallet pays only once it approves the operator, and only from its own escrow
      expect((await call('PUT', '/v1/host/wallet', { wallet: other.wallet.address, signature: await linkSignature(stack!, other.id, other.wallet) })).statusCode).toBe(200);
      expect(await code(call('POST', '/v1/adapters/mail/register', terms))).toBe('ZKPOA_ERR_OPERATOR_NOT_APPROVED');
      await client.connect(other.wallet).setOperator(operator.address, true);
      const reg = await call('POST', '/v1/adapters/mail/register', terms);
      expect(reg.statusCode, reg.body).toBe(201);
      expect((await client.settlement.getFunction('adapter')(BigInt((reg.json() as { onchainId: string }).onchainId))).host).toBe(other.wallet.address);
      const answer = (await call('POST', '/v1/infer', { requests: [{ adapter: 'mail', text: 'free money' }] })).json() as { results: { receipt: string }[] };
      const r = answer.results[0]!.receipt;
      await call('POST', `/v1/receipts/${r}/proof`);
      await poll(async () => (await call('GET', `/v1/receipts/${r}/proof`)).json() as { job: { status: string } }, (p) => p.job.status === 'done' || p.job.status === 'failed');
      expect(await code(call('POST', `/v1/receipts/${r}/settle`))).toBe('ZKPOA_ERR_INSUFFICIENT_ESCROW');
      expect(await escrows()).toEqual(before);
      expect(await client.escrowOf(other.wallet.address)).toBe(0n);
    }, 300_000);
  });
}
