import { Wallet } from 'ethers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { datanetCorpus, isHeldOut } from '../../inference/datasets.js';
import { mulberry32, shuffled } from '../../lib/random.js';
import { TEST_SCALE_VARIANT, TEST_VARIANT } from '../helpers/fixtures.js';
import { hasRedis, startRedis, type RedisServer } from '../helpers/redis.js';
import { PRICE, linkSignature, mailRecords, poll, startStack, type Stack } from '../helpers/stack.js';
import { claimAll, earnings } from '../../api/contributor.js';
import { Commitments } from '../../attribution/index.js';
import { leavesOfPublished } from '../../contracts/client/published-leaves.js';

/**
 * Through HTTP on a real anvil: a host links the wallet whose escrow pays it →
 * contribute → fine-tune → register → infer → prove → settle → audit → every
 * contributor claims and withdraws with its own wallet; once with the embedded SQLite
 * job queue and once with BullMQ on a real redis-server. Then a second host tries every
 * way the API offers to spend the first host's or the operator's money.
 */
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

    it('pays the contributors of every answer on-chain, in batches, in order, once, from the host’s own escrow', async () => {
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
        provers: [expect.objectContaining({ variant: TEST_VARIANT.name, development: true })],
        chain: { settlement: expect.any(String) },
        jobQueue: queue === 'BullMQ' ? expect.stringMatching(/^bullmq redis:\/\/127\.0\.0\.1:\d+ \(prefix e2e\)$/) : 'sqlite',
      });
      const dn = (await app.inject({ method: 'POST', url: '/v1/datanets', headers: auth(), payload: { name: 'mail', labels: ['ham', 'spam'], visibility: 'public' } })).json() as { id: string };
      const records = await mailRecords(contributors.map((w) => w.address), 180);
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
      const M = TEST_VARIANT.params.answers!;
      const { contributors: C, features: K } = TEST_VARIANT.params;

      // M + 2 answers: a full batch is planned as they come, the last two wait for more (or the deadline)
      const infer = async (texts: string[]) =>
        ((await app.inject({ method: 'POST', url: '/v1/infer', headers: auth(), payload: { requests: texts.map((text) => ({ adapter: 'mail', text })) } })).json() as { results: { receipt: string; number: number }[] }).results;
      const served = await infer(Array.from({ length: M + 2 }, (_, i) => `URGENT ${i}: claim your free prize now, click the link`));
      expect(served.map((r) => r.number)).toEqual(Array.from({ length: M + 2 }, (_, i) => i));
      const batches = async () => ((await app.inject({ method: 'GET', url: '/v1/adapters/mail/batches', headers: auth() })).json() as { batches: { id: string; first: number; count: number; status: string; settleTx?: string; paid: string }[] }).batches;
      const full = await poll(batches, (b) => b.length === 1 && b[0]!.status === 'proven');
      expect(full.map((b) => [b.first, b.count, b.status])).toEqual([[0, M, 'proven']]);
      // flushed: the rest proves now as a short batch
      const flushed = await app.inject({ method: 'POST', url: '/v1/adapters/mail/prove', headers: auth() });
      expect(flushed.json()).toMatchObject({ batches: [{ first: M, count: 2 }] });
      const both = await poll(batches, (b) => b.every((x) => x.status === 'proven'));
      expect(both.map((b) => [b.first, b.count, b.status])).toEqual([[0, M, 'proven'], [M, 2, 'proven']]);

      if (queue === 'SQLite') {
        // a stored proof whose public signals are not the batch's planned ones is never sent
        const row = db.prepare('SELECT j.id, j.result FROM jobs j JOIN batches b ON b.job_id = j.id WHERE b.first = 0').get() as { id: string; result: string };
        const forged = JSON.parse(row.result) as { publicSignals: string[] };
        forged.publicSignals[2] = (BigInt(forged.publicSignals[2]!) + 1n).toString();
        db.prepare('UPDATE jobs SET result = ? WHERE id = ?').run(JSON.stringify(forged), row.id);
        expect((await app.inject({ method: 'POST', url: '/v1/adapters/mail/settle', headers: auth() })).json()).toMatchObject({ error: { code: 'ZKPOA_ERR_PROOF_MISMATCH' } });
        // nor one that does not verify with the server's key (a prover host holding other keys)
        const otherKeys = JSON.parse(row.result) as { proof: { pi_a: string[]; pi_c: string[] } };
        otherKeys.proof.pi_c = otherKeys.proof.pi_a;
        db.prepare('UPDATE jobs SET result = ? WHERE id = ?').run(JSON.stringify(otherKeys), row.id);
        expect((await app.inject({ method: 'POST', url: '/v1/adapters/mail/settle', headers: auth() })).json()).toMatchObject({ error: { code: 'ZKPOA_ERR_PROOF_INVALID' } });
        db.prepare('UPDATE jobs SET result = ? WHERE id = ?').run(row.result, row.id);
      }
      const settle = async () => (await app.inject({ method: 'POST', url: '/v1/adapters/mail/settle', headers: auth() })).json() as { settled: { first: number; count: number; tx: string; gasUsed: string }[] };
      const settled = await settle();
      expect(settled.settled.map((b) => [b.first, b.count])).toEqual([[0, M], [M, 2]]);
      expect(await client.escrowOf(hostWallet.address)).toBe(100n * PRICE - BigInt(M + 2) * PRICE); // the host's escrow paid every answer
      expect(await client.escrowOf(operator.address)).toBe(100n * PRICE); // not the operator's
      expect((await client.adapter(onchainId)).nextReceipt).toBe(BigInt(M + 2));
      expect((await settle()).settled).toEqual([]); // nothing left: no batch is sent twice
      // a crash after a transaction but before it was recorded: settling again records the chain's, sends none
      const tx = settled.settled[1]!.tx;
      db.prepare('UPDATE batches SET settle_tx = NULL WHERE first = ?').run(M);
      expect((await settle()).settled).toEqual([expect.objectContaining({ first: M, tx })]);
      expect((db.prepare('SELECT settle_tx FROM batches WHERE first = ?').get(M) as { settle_tx: string }).settle_tx).toBe(tx);

      // a receipt shows its batch, proof and transaction
      const receipt = served[M + 1]!.receipt;
      expect((await app.inject({ method: 'GET', url: `/v1/receipts/${receipt}`, headers: auth() })).json()).toMatchObject({ number: M + 1, batch: { first: M, count: 2, status: 'settled', settleTx: tx }, proof: { publicSignals: expect.any(Array) } });

      // the auditor's replay passes every check…
      const audit = await app.inject({ method: 'POST', url: `/v1/audit/${receipt}`, headers: auth() });
      expect(audit.statusCode, audit.body).toBe(200);
      const report = audit.json() as { ok: boolean; checks: { name: string; ok: boolean; detail: string }[] };
      expect(report.checks.map((c) => [c.name, c.ok])).toEqual([
        ['answer', true],
        ['test features', true],
        ['receipt in its batch', true],
        ['batch split and ledger', true],
        ['batch proof', true],
        ['published index', true],
        ['settlement', true],
      ]);
      // …and fails on a tampered receipt
      db.prepare("UPDATE receipts SET input = input || ' (edited)' WHERE id = ?").run(receipt);
      const tampered = (await app.inject({ method: 'POST', url: `/v1/audit/${receipt}`, headers: auth() })).json() as typeof report;
      expect(tampered.ok).toBe(false);
      expect(tampered.checks.find((c) => c.name === 'receipt in its batch')?.ok).toBe(false);

      // the index leaves are public under the hash the chain recorded: they hash to it and give the registered root
      const event = (await client.publishedIndex(onchainId, 1))!;
      expect(event.contributors).toBeGreaterThan(0);
      const publishedLeaves = await app.inject({ method: 'GET', url: `/v1/indexes/${event.leavesHash}` });
      expect(publishedLeaves.statusCode, publishedLeaves.body).toBe(200);
      const body = publishedLeaves.json() as { payees: string[]; featureChunks: string[]; leavesHash: string };
      const leaves = leavesOfPublished({ ...body, featureChunks: body.featureChunks.map(BigInt) }, K);
      expect(leaves).toHaveLength(event.contributors);
      expect((await Commitments.create()).indexRoot(leaves, C, K)).toBe(event.indexRoot);
      expect(() => leavesOfPublished({ ...body, payees: [...body.payees].reverse(), featureChunks: body.featureChunks.map(BigInt) }, K)).toThrow(/hash to/);
      expect((await app.inject({ method: 'GET', url: `/v1/indexes/0x${'ab'.repeat(32)}` })).statusCode).toBe(404);
      expect((await app.inject({ method: 'GET', url: '/v1/indexes/0x1234' })).statusCode).toBe(400);
      // leaves altered where they are published no longer give the chain's root: the audit says so
      db.prepare('UPDATE published_leaves SET payees = ? WHERE leaves_hash = ?').run(JSON.stringify(['0x' + '11'.repeat(20), ...body.payees.slice(1)]), body.leavesHash.toLowerCase());
      const altered = (await app.inject({ method: 'POST', url: `/v1/audit/${receipt}`, headers: auth() })).json() as typeof report;
      expect(altered.checks.find((c) => c.name === 'published index')).toMatchObject({ ok: false, detail: expect.stringMatching(/hash to/) });
      db.prepare('UPDATE published_leaves SET payees = ? WHERE leaves_hash = ?').run(JSON.stringify(body.payees), body.leavesHash.toLowerCase());

      // every contributor finds its ledger position (checked against the chain's root), claims and withdraws with its own wallet
      const url = await app.listen({ host: '127.0.0.1', port: 0 });
      expect((await app.inject({ method: 'GET', url: `/v1/ledger/0x${'0'.repeat(40)}` })).statusCode).toBe(400); // nobody is paid at the zero address
      const paid = (await batches()).reduce((a, b) => a + BigInt(b.paid), 0n);
      expect(paid).toBeGreaterThan(0n);
      expect(paid).toBeLessThanOrEqual((BigInt(M + 2) * PRICE * 7000n) / 10000n);
      let claimedTotal = 0n;
      for (const wallet of contributors) {
        const mine = client.connect(wallet);
        const e = await earnings(mine, url, wallet.address);
        expect(e.positions).toHaveLength(1);
        expect(e.positions[0]).toMatchObject({ adapterId: onchainId, version: 1, verified: true, claimed: 0n });
        // its history: the batches add up to the ledger, and its shares of the answers to within a wei each of what the batches paid
        const history = (await app.inject({ method: 'GET', url: `/v1/earnings/${wallet.address}` })).json() as {
          positions: { cumulative: string; claimed: string; batches: { payout: string; cumulative: string }[]; answers: { number: number; share: string }[] }[];
        };
        expect(history.positions).toHaveLength(1);
        const [h] = history.positions;
        expect(h!.claimed).toBe('0');
        expect(h!.cumulative).toBe(e.positions[0]!.cumulative.toString());
        expect(h!.batches.reduce((a, b) => a + BigInt(b.payout), 0n)).toBe(BigInt(h!.cumulative));
        expect(h!.answers.map((a) => a.number)).toEqual(Array.from({ length: M + 2 }, (_, i) => i));
        const shares = h!.answers.reduce((a, x) => a + BigInt(x.share), 0n);
        expect(shares).toBeLessThanOrEqual(BigInt(h!.cumulative));
        expect(shares).toBeGreaterThanOrEqual(BigInt(h!.cumulative) - BigInt(M + 2));
        const r = await claimAll(mine, url, wallet.address);
        expect(r).toMatchObject({ claimed: e.positions[0]!.cumulative, withdrawn: e.positions[0]!.cumulative, unverified: 0 });
        expect(await client.open.getFunction('balanceOf')(wallet.address)).toBe(e.positions[0]!.cumulative);
        expect((await claimAll(mine, url, wallet.address)).claimed).toBe(0n); // a second claim takes nothing
        claimedTotal += r.claimed;
      }
      expect(claimedTotal).toBe(paid);
      expect(await client.owed()).toBe(0n);

      // new terms: a new version from the next answer on; its batches settle after the first version's
      const terms = await app.inject({ method: 'PUT', url: '/v1/adapters/mail/terms', headers: auth(), payload: { price: (2n * PRICE).toString(), ownerBps: 2000, protocolBps: 1000, poolBps: 7000 } });
      expect(terms.json()).toMatchObject({ versions: [{ version: 1, firstReceipt: 0 }, { version: 2, firstReceipt: M + 2 }] });
      const [v2Receipt] = await infer(['one more answer', 'and another']);
      await app.inject({ method: 'POST', url: '/v1/adapters/mail/prove', headers: auth() });
      await poll(batches, (b) => b.length === 3 && b[2]!.status === 'proven');
      expect((await settle()).settled).toEqual([expect.objectContaining({ first: M + 2, count: 2 })]);
      // its index is version 1's (new terms keep the index): the audit finds it published there
      const v2Audit = (await app.inject({ method: 'POST', url: `/v1/audit/${v2Receipt!.receipt}`, headers: auth() })).json() as typeof report;
      expect(v2Audit.checks.filter((c) => !c.ok)).toEqual([]);
      expect(await client.escrowOf(hostWallet.address)).toBe(100n * PRICE - BigInt(M + 2) * PRICE - 4n * PRICE);
    }, 300_000);

    it.skipIf(queue === 'BullMQ')('a datanet with more contributors than the smallest circuit holds is attributed, proven and paid with the next one', async () => {
      const { app, key, client } = stack!;
      const auth = () => ({ authorization: `Bearer ${key}` });
      const C = TEST_VARIANT.params.contributors + 2;
      const dn = (await app.inject({ method: 'POST', url: '/v1/datanets', headers: auth(), payload: { name: 'community mail', labels: ['ham', 'spam'] } })).json() as { id: string };
      const who = Array.from({ length: C }, () => Wallet.createRandom().address);
      const corpus = shuffled((await datanetCorpus()).filter((r) => !isHeldOut(r.id)), mulberry32(11)).slice(0, 400);
      const texts = [...new Map(corpus.map((r) => [r.text.slice(0, 1500), r])).values()].slice(0, 30 * C);
      const records = texts.map((r, i) => ({ contributor: who[i % C]!, text: r.text.slice(0, 1500), label: r.label }));
      const added = (await app.inject({ method: 'POST', url: `/v1/datanets/${dn.id}/records`, headers: auth(), payload: { records } })).json() as { records: { id: number }[] };
      for (const r of added.records) await app.inject({ method: 'POST', url: `/v1/datanets/${dn.id}/records/${r.id}/review`, headers: auth(), payload: { decision: 'accept' } });
      await app.inject({ method: 'POST', url: `/v1/datanets/${dn.id}/versions`, headers: auth() });
      expect((await app.inject({ method: 'POST', url: '/v1/adapters', headers: auth(), payload: { id: 'community', datanetId: dn.id, version: 1, hyper: { iterations: 60 } } })).statusCode).toBe(202);
      const ready = await poll(async () => (await app.inject({ method: 'GET', url: '/v1/adapters/community', headers: auth() })).json() as { status: string; index?: { contributors: number; variant: string } }, (a) => a.status !== 'training');
      expect(ready).toMatchObject({ status: 'ready', index: { contributors: C, variant: TEST_SCALE_VARIANT.name } });

      const reg = await app.inject({ method: 'POST', url: '/v1/adapters/community/register', headers: auth(), payload: { price: PRICE.toString(), ownerBps: 2000, protocolBps: 1000, poolBps: 7000 } });
      expect(reg.statusCode, reg.body).toBe(201);
      expect((await client.adapter(BigInt((reg.json() as { onchainId: string }).onchainId))).variantId).toBe(TEST_SCALE_VARIANT.id);
      const served = (await app.inject({ method: 'POST', url: '/v1/infer', headers: auth(), payload: { requests: [{ adapter: 'community', text: 'win a free cruise today' }, { adapter: 'community', text: 'lunch at noon?' }] } })).json() as { results: { receipt: string }[] };
      // its circuit's keys were wanted when the index chose it; until they are ready /prove says so (503)
      const prove = await poll(async () => (await app.inject({ method: 'POST', url: '/v1/adapters/community/prove', headers: auth() })).statusCode, (s) => s !== 503);
      expect(prove).toBe(202);
      const batches = async () => ((await app.inject({ method: 'GET', url: '/v1/adapters/community/batches', headers: auth() })).json() as { batches: { status: string; paid: string }[] }).batches;
      expect((await poll(batches, (b) => b.length === 1 && b[0]!.status !== 'proving'))[0]!.status).toBe('proven');
      // settled by the background settlement (`serve`'s default), which takes this deployment's adapters only
      expect(await stack!.service.settler.settleAll()).toEqual([expect.objectContaining({ first: 0, count: 2 })]);
      expect(await stack!.service.settler.settleAll()).toEqual([]);
      // the proof went to the worker holding the larger circuit's keys, and the audit checks it with them
      expect(((await app.inject({ method: 'GET', url: '/health' })).json() as { provers: { variant: string; status: string }[] }).provers).toEqual(
        expect.arrayContaining([expect.objectContaining({ variant: TEST_SCALE_VARIANT.name, status: 'proving' })]),
      );
      const audit = (await app.inject({ method: 'POST', url: `/v1/audit/${served.results[0]!.receipt}`, headers: auth() })).json() as { ok: boolean; checks: { name: string; ok: boolean }[] };
      expect(audit.checks.filter((c) => !c.ok)).toEqual([]);
      expect(audit.ok).toBe(true);
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
      for (const path of ['settle', 'prove']) expect(await code(call('POST', `/v1/adapters/mail/${path}`))).toBe('ZKPOA_ERR_UNKNOWN_ADAPTER');
      expect(await code(call('PUT', '/v1/adapters/mail/terms', { price: '1', ownerBps: 0, protocolBps: 0, poolBps: 10000 }))).toBe('ZKPOA_ERR_UNKNOWN_ADAPTER');
      expect(await code(call('GET', `/v1/receipts/${aReceipt}`))).toBe('ZKPOA_ERR_NOT_FOUND');
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
      expect((await client.adapter(BigInt((reg.json() as { onchainId: string }).onchainId))).host).toBe(other.wallet.address);
      await call('POST', '/v1/infer', { requests: [{ adapter: 'mail', text: 'free money' }] });
      await call('POST', '/v1/adapters/mail/prove');
      await poll(async () => (await call('GET', '/v1/adapters/mail/batches')).json() as { batches: { status: string }[] }, (x) => x.batches.length === 1 && x.batches[0]!.status !== 'proving');
      expect(await code(call('POST', '/v1/adapters/mail/settle'))).toBe('ZKPOA_ERR_INSUFFICIENT_ESCROW');
      expect(await escrows()).toEqual(before);
      expect(await client.escrowOf(other.wallet.address)).toBe(0n);
    }, 300_000);
  });
}
