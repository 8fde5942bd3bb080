/**
 * npm run demo -- [--variant <name>] [--ptau <file>] [--answers 16] [--proofs 4]
 *
 * The main job, end to end on the embedded defaults, through the real service:
 * a local anvil chain and the deployed contracts; two datanets built from the
 * SpamAssassin corpus by several contributors over HTTP; two adapters fine-tuned on
 * them (ModelFactory jobs) with their attribution indexes; both registered on-chain;
 * a burst of mixed-adapter answers; proofs of some receipts (proof worker pool);
 * settlement; an audit of each; and who earned what, linking receipt → proof → tx.
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Wallet } from 'ethers';
import { openDatabase } from '../api/store/db.js';
import { createHost, walletLinkMessage } from '../api/store/hosts.js';
import { variantByName, variantFor } from '../circuits/variants.js';
import { SettlementClient, anvilAccountKeys, deployAll, rpcProvider, startAnvil } from '../contracts/client/index.js';
import { datanetCorpus, isHeldOut } from '../inference/datasets.js';
import { mulberry32, shuffled } from '../lib/random.js';
import { BUILD_DIR } from '../lib/config.js';
import { consoleProgress, ensureVariant } from '../prover/index.js';
import { startService } from '../api/service.js';

const { values } = parseArgs({
  options: { variant: { type: 'string' }, ptau: { type: 'string' }, answers: { type: 'string', default: '16' }, proofs: { type: 'string', default: '4' } },
});
const variant = values.variant ? variantByName(values.variant) : variantFor('default');
const progress = consoleProgress();
const PRICE = 10n ** 16n; // 0.01 OPEN per answer
const fmt = (wei: bigint) => (Number(wei) / 1e18).toFixed(6);

// --- keys, chain, contracts ---------------------------------------------------------
const artifacts = await ensureVariant(variant, { progress, ...(values.ptau ? { ptauFile: values.ptau } : {}) });
progress.log(`circuit ${variant.name}: ${artifacts.manifest.constraints} constraints; ${artifacts.manifest.ceremony}`);
let step = progress.step('local chain and contracts');
const chain = await startAnvil();
const provider = rpcProvider(chain.rpcUrl);
const [deployerKey, operatorKey, hostKey] = anvilAccountKeys();
const deployment = await deployAll(new Wallet(deployerKey!, provider), { variants: [variant] });
const admin = await SettlementClient.connect(deployment, new Wallet(deployerKey!, provider));
// the server's operator wallet registers and settles; the host's own wallet escrows OPEN and approves it
const operator = new Wallet(operatorKey!, provider);
const hostWallet = new Wallet(hostKey!, provider);
await (await admin.open.getFunction('transfer')(hostWallet.address, 1000n * PRICE)).wait();
const host = admin.connect(hostWallet);
await host.deposit(1000n * PRICE);
await host.setOperator(operator.address, true);
step.done(`anvil ${chain.rpcUrl}, settlement ${deployment.settlement}`);

// --- the service --------------------------------------------------------------------
const demoDir = join(BUILD_DIR, 'demo');
await rm(demoDir, { recursive: true, force: true });
const db = openDatabase(':memory:');
const { host: hostAccount, apiKey } = createHost(db, 'demo host');
step = progress.step('the service (base model, adapter store, fine-tuning, prover pool, HTTP)');
const service = await startService({ db, buildDir: BUILD_DIR, dataDir: demoDir, variant, chain: { client: admin.connect(operator), chainId: chain.chainId, settlement: deployment.settlement }, pollMs: 50 });
const url = await service.app.listen({ host: '127.0.0.1', port: 0 });
step.done(`${url}, tensor backend ${service.backend.name}, ${service.prover?.threads} prover threads`);
const api = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
  const res = await fetch(`${url}${path}`, { method, headers: { authorization: `Bearer ${apiKey}`, ...(body ? { 'content-type': 'application/json' } : {}) }, ...(body ? { body: JSON.stringify(body) } : {}) });
  const json = (await res.json()) as T & { error?: { code: string; message: string } };
  if (!res.ok) throw new Error(`${method} ${path}: ${json.error?.code} ${json.error?.message}`);
  return json;
};
const poll = async <T>(f: () => Promise<T>, done: (t: T) => boolean): Promise<T> => {
  for (;;) {
    const v = await f();
    if (done(v)) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
};

try {
  // --- the host links the wallet that pays its fees (it signs; the server never holds its key) ---
  const linkMessage = walletLinkMessage({ hostId: hostAccount.id, wallet: hostWallet.address, chainId: chain.chainId.toString(), settlement: deployment.settlement });
  await api('PUT', '/v1/host/wallet', { wallet: hostWallet.address, signature: await hostWallet.signMessage(linkMessage) });

  // --- datanets from a real corpus, several contributors --------------------------------
  const people = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank'].slice(0, Math.min(6, variant.params.contributors - 1));
  const addressOf = new Map(people.map((p, i) => [p, '0x' + (0xa1 + i).toString(16).repeat(20)]));
  const corpus = await datanetCorpus();
  const seen = new Set<string>();
  const pool = shuffled(corpus.filter((r) => !isHeldOut(r.id)), mulberry32(2026)).filter((r) => !seen.has(r.text.slice(0, 1500)) && seen.add(r.text.slice(0, 1500)));
  const datanets: { name: string; id: string }[] = [];
  step = progress.step('datanets: contribute, review, publish');
  for (const [d, spec] of [
    { name: 'mail-general', from: 0, groups: (g: string) => g !== 'hard-ham-1' },
    { name: 'mail-hard-cases', from: 2000, groups: (_g: string) => true },
  ].entries()) {
    const dn = await api<{ id: string }>('POST', '/v1/datanets', { name: spec.name, labels: ['ham', 'spam'], visibility: 'public' });
    const records = pool
      .filter((r) => spec.groups(r.group))
      .slice(spec.from, spec.from + 240)
      .map((r, i) => ({ contributor: addressOf.get(people[(i * (d + 1)) % people.length]!)!, text: r.text.slice(0, 1500), label: r.label }));
    const added = await api<{ records: { id: number }[] }>('POST', `/v1/datanets/${dn.id}/records`, { records });
    for (const r of added.records) await api('POST', `/v1/datanets/${dn.id}/records/${r.id}/review`, { decision: 'accept' });
    await api('POST', `/v1/datanets/${dn.id}/versions`);
    datanets.push({ name: spec.name, id: dn.id });
  }
  step.done(datanets.map((d) => d.name).join(', '));

  // --- two adapters: fine-tune (no code), index, register on-chain ------------------------
  const adapters = ['spam-general', 'spam-hard'];
  for (const [i, id] of adapters.entries()) {
    step = progress.step(`fine-tune ${id} and build its attribution index`);
    await api('POST', '/v1/adapters', { id, datanetId: datanets[i]!.id, version: 1, seed: 7 + i });
    const a = await poll(
      () => api<{ status: string; job?: { progress?: number } }>('GET', `/v1/adapters/${id}`),
      (x) => {
        step.update(Math.round((x.job?.progress ?? 0) * 100), 100);
        return x.status !== 'training';
      },
    );
    if (a.status !== 'ready') throw new Error(`fine-tuning ${id} failed`);
    const reg = await api<{ onchainId: string; tx: string }>('POST', `/v1/adapters/${id}/register`, { price: PRICE.toString(), ownerBps: 2000, protocolBps: 1000, poolBps: 7000 });
    const { index } = await api<{ index: { estimator: string; curvature?: string } }>('GET', `/v1/adapters/${id}`);
    step.done(`${index.estimator}${index.curvature ? ` (${index.curvature})` : ''} index; on-chain adapter ${reg.onchainId} (tx ${reg.tx.slice(0, 12)}…)`);
  }

  // --- a burst of mixed-adapter answers ----------------------------------------------------
  step = progress.step(`serve ${values.answers} answers on both adapters`);
  const questions = shuffled(corpus.filter((r) => isHeldOut(r.id)), mulberry32(7)).slice(0, Number(values.answers));
  const answers = await api<{ results: { adapter: string; label: string; receipt: string; batchSize: number }[] }>('POST', '/v1/infer', {
    requests: questions.map((q, i) => ({ adapter: adapters[i % 2]!, text: q.text.slice(0, 5000) })),
  });
  step.done(`batches up to ${Math.max(...answers.results.map((r) => r.batchSize))} answers`);

  // --- prove, settle, audit ----------------------------------------------------------------
  const chosen = answers.results.slice(0, Number(values.proofs));
  step = progress.step(`prove ${chosen.length} receipts`);
  for (const r of chosen) await api('POST', `/v1/receipts/${r.receipt}/proof`);
  let done = 0;
  for (const r of chosen) {
    const p = await poll(() => api<{ job: { status: string } }>('GET', `/v1/receipts/${r.receipt}/proof`), (x) => x.job.status === 'done' || x.job.status === 'failed');
    if (p.job.status !== 'done') throw new Error(`proof of ${r.receipt} failed`);
    step.update(++done, chosen.length);
    // seconds since the demo started (keys, base model, chain, datanets, fine-tuning included) to its first verified proof
    if (done === 1) console.log(`first_proof_s=${process.uptime().toFixed(1)}`);
  }
  step.done();
  console.log('\nreceipt                                        adapter        answer  proof job                                     settle tx                 audit');
  for (const r of chosen) {
    const s = await api<{ tx: string }>('POST', `/v1/receipts/${r.receipt}/settle`);
    const proof = await api<{ job: { id: string } }>('GET', `/v1/receipts/${r.receipt}/proof`);
    const audit = await api<{ ok: boolean }>('POST', `/v1/audit/${r.receipt}`);
    console.log(`${r.receipt}  ${r.adapter.padEnd(13)}  ${r.label.padEnd(6)}  ${proof.job.id}  ${s.tx.slice(0, 22)}…  ${audit.ok ? 'passed' : 'FAILED'}`);
    if (!audit.ok) process.exitCode = 1;
  }

  // --- who earned what -------------------------------------------------------------------
  console.log(`\nwho earned what (${chosen.length} settled answers × ${fmt(PRICE)} OPEN; 70% to contributors, 20% owner, 10% protocol):`);
  const earned = new Map<string, bigint>(people.map((p) => [p, 0n]));
  for (const id of adapters) {
    const { onchain } = await api<{ onchain: { adapterId: string; version: number } }>('GET', `/v1/adapters/${id}`);
    for (let leaf = 0; leaf < variant.params.contributors; leaf++) {
      const payee = (await host.settlement.getFunction('payee')(BigInt(onchain.adapterId), onchain.version, leaf)) as string;
      const who = people.find((p) => addressOf.get(p)!.toLowerCase() === payee.toLowerCase());
      if (who) earned.set(who, earned.get(who)! + (await host.credit(BigInt(onchain.adapterId), BigInt(onchain.version), leaf)));
    }
  }
  for (const [who, wei] of earned) console.log(`  ${who.padEnd(8)} ${addressOf.get(who)}  ${fmt(wei)} OPEN`);
  console.log(`  owner    ${hostWallet.address}  ${fmt(await host.balanceOf(hostWallet.address))} OPEN (incl. dust; the host's wallet, whose escrow paid ${fmt(1000n * PRICE - (await host.escrowOf(hostWallet.address)))} OPEN)`);
  console.log(`  protocol ${deployment.treasury}  ${fmt(await host.balanceOf(deployment.treasury))} OPEN`);
} finally {
  await service.close();
  db.close();
  await chain.stop();
}
