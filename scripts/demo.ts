/**
 * npm start (or npm run demo) -- [--contributors 6] [--variant <batch variant>] [--ptau <file>] [--answers 128] [--audits 4]
 *
 * The main job, end to end on the embedded defaults, through the real service:
 * a local anvil chain and the deployed contracts; a host wallet that escrows OPEN and
 * approves the server's operator; two datanets built from the SpamAssassin corpus by
 * several contributors over HTTP; two adapters fine-tuned on them (ModelFactory jobs)
 * with their attribution indexes, both registered on-chain; a burst of mixed-adapter
 * answers, each numbered; every answer attributed and proven in batches (one Groth16
 * proof per batch of up to M answers, in the proof worker pool); the batches settled in
 * order with the gas per answer; audits of some receipts; who earned what from the
 * payout ledgers, each contributor's leaves checked against the roots on-chain as
 * `zkpoa earnings` checks them; then a language-model adapter fine-tuned on the first
 * datanet beside the classifier, and one answer of it streamed with its receipt and its
 * spans in the datanet's records (the embedded language model is trained first, once).
 *
 * --contributors N gives each datanet N contributors of Zipf-distributed sizes and proves
 * with the smallest circuit of the service's ladder that holds them (1,024 at most).
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { NonceManager, Wallet } from 'ethers';
import { openDatabase } from '../api/store/db.js';
import { createHost, walletLinkMessage } from '../api/store/hosts.js';
import { variantByName, variantForContributors, variantLadder } from '../circuits/variants.js';
import { SettlementClient, addVerifiers, anvilAccountKeys, deployCore, rpcProvider, startAnvil } from '../contracts/client/index.js';
import { datanetCorpus, isHeldOut } from '../inference/datasets.js';
import { mulberry32, shuffled } from '../lib/random.js';
import { zipfSizes } from '../lib/stats.js';
import { serverSentEvents } from '../lib/sse.js';
import { earnings } from '../api/contributor.js';
import { BUILD_DIR } from '../lib/config.js';
import { consoleProgress, ensureVariant } from '../prover/index.js';
import { startService } from '../api/service.js';

const { values } = parseArgs({
  options: {
    contributors: { type: 'string' },
    variant: { type: 'string' },
    ptau: { type: 'string' },
    answers: { type: 'string', default: '128' },
    audits: { type: 'string', default: '4' },
  },
});
const asked = values.contributors === undefined ? undefined : Number(values.contributors);
if (asked !== undefined && (!Number.isInteger(asked) || asked < 1)) throw new Error('--contributors must be a positive integer');
const variant = values.variant ? variantByName(values.variant) : variantForContributors(variantLadder('service'), asked ?? 6);
// six by default, fewer on a smaller circuit given with --variant
const contributors = asked ?? Math.min(6, variant.params.contributors - 1);
if (variant.params.contributors < contributors) throw new Error(`--variant ${variant.name} holds ${variant.params.contributors} contributors, not ${contributors} (--contributors)`);
const progress = consoleProgress();
const PRICE = 10n ** 16n; // 0.01 OPEN per answer
const fmt = (wei: bigint) => (Number(wei) / 1e18).toFixed(6);

// --- keys, chain, contracts ---------------------------------------------------------
// keys from a public powers of tau are made first; development keys are built while the
// chain starts, the base model trains and the adapters fine-tune (only proofs need them)
if (values.ptau) await ensureVariant(variant, { progress, ptauFile: values.ptau });
const keysBuilt = ensureVariant(variant, { progress }); // compiles beside forge's build below, on the other core
keysBuilt.catch(() => undefined); // its failure surfaces where the verifier is added
let step = progress.step('local chain and contracts');
const chain = await startAnvil();
const provider = rpcProvider(chain.rpcUrl);
const [deployerKey, operatorKey, hostKey] = anvilAccountKeys();
// one nonce sequence for the deployer, whose verifier deployment runs beside the demo's transfers
const deployer = new NonceManager(new Wallet(deployerKey!, provider));
const deployment = await deployCore(deployer);
const verifierAdded = keysBuilt.then(async ({ manifest }) => {
  const d = await addVerifiers(deployer, deployment, [variant], { progress });
  progress.log(`circuit ${variant.name}: ${manifest.constraints} constraints; ${manifest.ceremony}; verifier ${d.verifiers[0]!.address}`);
});
verifierAdded.catch(() => undefined); // awaited before the first registration
const admin = await SettlementClient.connect(deployment, deployer);
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
// batches are proven when full, or once their oldest answer has waited 5 s; the demo settles them itself
const service = await startService({ db, buildDir: BUILD_DIR, dataDir: demoDir, variants: [variant], chain: { client: admin.connect(operator), chainId: chain.chainId, settlement: deployment.settlement }, pollMs: 50, batchDeadlineMs: 5_000 });
const url = await service.app.listen({ host: '127.0.0.1', port: 0 });
step.done(`${url}, tensor backend ${service.backend.name}`);
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

  // --- datanets from a real corpus, contributors of Zipf-distributed sizes ----------------------
  const names = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank'];
  const people = Array.from({ length: contributors }, (_, i) => names[i] ?? `contributor-${String(i + 1).padStart(4, '0')}`);
  const addressOf = new Map(people.map((p, i) => [p, '0x' + (i < names.length ? (0xa1 + i).toString(16).repeat(20) : (i + 1).toString(16).padStart(40, '0'))]));
  const corpus = await datanetCorpus();
  const seen = new Set<string>();
  const pool = shuffled(corpus.filter((r) => !isHeldOut(r.id)), mulberry32(2026)).filter((r) => !seen.has(r.text.slice(0, 1500)) && seen.add(r.text.slice(0, 1500)));
  // 240 records a datanet, or three a contributor, within half of the corpus's distinct records each
  const perDatanet = Math.min(Math.floor(pool.length / 2), Math.max(240, 3 * contributors));
  if (perDatanet < contributors) throw new Error(`--contributors ${contributors}: the corpus holds ${pool.length} distinct records, enough for ${Math.floor(pool.length / 2)} contributors a datanet`);
  const sizes = zipfSizes(perDatanet, contributors); // adds up to perDatanet or a few less
  const datanets: { name: string; id: string }[] = [];
  step = progress.step(`datanets: ${contributors} contributors each contribute, review, publish`);
  for (const [d, spec] of [
    { name: 'mail-general', records: pool.filter((r) => r.group !== 'hard-ham-1').slice(0, perDatanet) },
    { name: 'mail-hard-cases', records: pool.slice(pool.length - perDatanet) },
  ].entries()) {
    const dn = await api<{ id: string }>('POST', '/v1/datanets', { name: spec.name, labels: ['ham', 'spam'], visibility: 'public' });
    // the second datanet ranks its contributors the other way round
    const owner = sizes.flatMap((n, rank) => Array.from({ length: n }, () => (d === 0 ? rank : contributors - 1 - rank)));
    const records = spec.records.slice(0, owner.length).map((r, i) => ({ contributor: addressOf.get(people[owner[i]!]!)!, text: r.text.slice(0, 1500), label: r.label }));
    const ids: number[] = [];
    for (let i = 0; i < records.length; i += 500) {
      const added = await api<{ records: { id: number }[] }>('POST', `/v1/datanets/${dn.id}/records`, { records: records.slice(i, i + 500) });
      ids.push(...added.records.map((r) => r.id));
    }
    await api('POST', `/v1/datanets/${dn.id}/reviews`, { decision: 'accept', records: ids });
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
    await verifierAdded; // the variant's verifier is on-chain once its keys exist
    const reg = await api<{ onchainId: string; tx: string }>('POST', `/v1/adapters/${id}/register`, { price: PRICE.toString(), ownerBps: 2000, protocolBps: 1000, poolBps: 7000 });
    const { index } = await api<{ index: { estimator: string; curvature?: string } }>('GET', `/v1/adapters/${id}`);
    step.done(`${index.estimator}${index.curvature ? ` (${index.curvature})` : ''} index; on-chain adapter ${reg.onchainId} (tx ${reg.tx.slice(0, 12)}…)`);
  }

  // --- a burst of mixed-adapter answers ----------------------------------------------------
  step = progress.step(`serve ${values.answers} answers on both adapters`);
  const questions = shuffled(corpus.filter((r) => isHeldOut(r.id)), mulberry32(7)).slice(0, Number(values.answers));
  const answers: { results: { adapter: string; label: string; receipt: string; number: number; batchSize: number }[] } = { results: [] };
  for (let i = 0; i < questions.length; i += 64) {
    const part = await api<typeof answers>('POST', '/v1/infer', { requests: questions.slice(i, i + 64).map((q, j) => ({ adapter: adapters[(i + j) % 2]!, text: q.text.slice(0, 5000) })) });
    answers.results.push(...part.results);
  }
  step.done(`served in batches of up to ${Math.max(...answers.results.map((r) => r.batchSize))} answers`);

  // --- every answer attributed and proven, in batches ----------------------------------------
  type BatchView = { id: string; first: number; count: number; status: string; paid: string; newRoot: string; settleTx?: string };
  step = progress.step(`prove ${answers.results.length} answers in batches of up to ${variant.params.answers}`);
  const batches = new Map<string, BatchView[]>();
  let proven = 0;
  let firstProof = false;
  for (const id of adapters) {
    // full batches were planned as the answers came; the rest is flushed into a short batch now
    await api('POST', `/v1/adapters/${id}/prove`);
  }
  for (const id of adapters) {
    const list = await poll(
      () => api<{ batches: BatchView[] }>('GET', `/v1/adapters/${id}/batches`),
      (x) => {
        const n = x.batches.filter((b) => b.status === 'proven').length;
        if (n > 0 && !firstProof) {
          firstProof = true;
          console.log(`first_proof_s=${process.uptime().toFixed(1)}`); // since the demo started: keys, base model and fine-tuning included
        }
        step.update(proven + n, proven + x.batches.length);
        if (x.batches.some((b) => b.status === 'failed')) throw new Error(`a batch of ${id} failed to prove`);
        return x.batches.length > 0 && x.batches.every((b) => b.status === 'proven');
      },
    );
    proven += list.batches.length;
    batches.set(id, list.batches);
  }
  step.done(`${proven} batch proofs`);

  // --- settle in order, then audit ------------------------------------------------------------
  console.log('\nadapter        receipts   batch                                     settle tx                gas/answer');
  let gas = 0n;
  let settledAnswers = 0;
  for (const id of adapters) {
    const { settled } = await api<{ settled: { batch: string; first: number; count: number; tx: string; gasUsed: string }[] }>('POST', `/v1/adapters/${id}/settle`);
    for (const b of settled) {
      console.log(`${id.padEnd(13)}  ${`${b.first}..${b.first + b.count - 1}`.padEnd(9)}  ${b.batch}  ${b.tx.slice(0, 22)}…  ${(Number(b.gasUsed) / b.count).toFixed(0)}`);
      gas += BigInt(b.gasUsed);
      settledAnswers += b.count;
    }
  }
  console.log(`settlement gas per answer: ${(Number(gas) / settledAnswers).toFixed(0)} (${settledAnswers} answers; a version's first batch also starts its ledger and balances from zero: npm run bench:gas measures a full batch continuing a ledger)`);
  console.log('\nreceipt                                        number  adapter        answer  audit');
  for (const r of answers.results.filter((_, i) => i % Math.max(1, Math.floor(answers.results.length / Number(values.audits))) === 0).slice(0, Number(values.audits))) {
    const audit = await api<{ ok: boolean; checks: { name: string; ok: boolean }[] }>('POST', `/v1/audit/${r.receipt}`);
    console.log(`${r.receipt}  ${String(r.number).padStart(6)}  ${r.adapter.padEnd(13)}  ${r.label.padEnd(6)}  ${audit.ok ? 'passed' : `FAILED (${audit.checks.filter((c) => !c.ok).map((c) => c.name).join(', ')})`}`);
    if (!audit.ok) process.exitCode = 1;
  }

  // --- who earned what: every contributor's ledger leaves, checked against the roots on-chain -----
  console.log(`\nwho earned what (${settledAnswers} settled answers × ${fmt(PRICE)} OPEN; 70% to contributors, 20% owner, 10% protocol):`);
  const t0 = performance.now();
  const earned: { who: string; total: bigint; leaves: number }[] = [];
  for (const who of people) {
    // what `zkpoa earnings <address>` does: the server's ledger leaves, each path checked against the chain
    const e = await earnings(admin, url, addressOf.get(who)!);
    if (e.positions.some((p) => !p.verified)) throw new Error(`a ledger leaf of ${who} does not reach its root on-chain`);
    earned.push({ who, total: e.positions.reduce((s, p) => s + p.cumulative - p.claimed, 0n), leaves: e.positions.length });
  }
  const checkedS = (performance.now() - t0) / 1000;
  const ranked = [...earned].sort((x, y) => (y.total > x.total ? 1 : y.total < x.total ? -1 : 0));
  const shown = people.length <= 12 ? earned : ranked.slice(0, 10);
  if (shown !== earned) console.log(`  the ${shown.length} who earned most of ${people.length} contributors:`);
  for (const { who, total, leaves } of shown) console.log(`  ${who.padEnd(shown === earned ? 8 : 17)} ${addressOf.get(who)}  ${fmt(total)} OPEN in ${leaves} ledger leaves`);
  const sum = earned.reduce((s, e) => s + e.total, 0n);
  const paid = earned.filter((e) => e.total > 0n).length;
  console.log(`  ${people.length} contributors' leaves checked against the roots on-chain in ${checkedS.toFixed(1)} s: ${paid} earned, ${fmt(sum)} OPEN in all`);
  console.log(`  owner    ${hostWallet.address}  ${fmt(await host.balanceOf(hostWallet.address))} OPEN (incl. dust; the host's wallet, whose escrow paid ${fmt(1000n * PRICE - (await host.escrowOf(hostWallet.address)))} OPEN)`);
  console.log(`  protocol ${deployment.treasury}  ${fmt(await host.balanceOf(deployment.treasury))} OPEN`);
  const owed = await host.owed();
  console.log(`  owed to contributors on-chain until they claim: ${fmt(owed)} OPEN (each claims with its ledger leaf's Merkle path: zkpoa claim)`);
  if (owed !== sum) {
    console.log(`the contributors' leaves add up to ${fmt(sum)} OPEN, but the chain owes ${fmt(owed)}`);
    process.exitCode = 1;
  }

  // --- a generative adapter beside the classifier: its answer streamed, with its spans ---------
  step = progress.step(`fine-tune a language-model adapter on ${datanets[0]!.name} (the embedded language model is trained first, once)`);
  await api('POST', '/v1/adapters', { id: 'mail-writer', datanetId: datanets[0]!.id, version: 1, model: 'causal-lm', hyper: { steps: 60 }, seed: 5 });
  const writer = await poll(
    () => api<{ status: string; job?: { progress?: number; error?: string } }>('GET', '/v1/adapters/mail-writer'),
    (x) => {
      step.update(Math.round((x.job?.progress ?? 0) * 100), 100);
      return x.status !== 'training';
    },
  );
  if (writer.status !== 'ready') throw new Error(`fine-tuning mail-writer failed: ${writer.job?.error ?? writer.status}`);
  step.done('ready');
  const prompt = questions[0]!.text.split(/\s+/).slice(0, 4).join(' ');
  const res = await fetch(`${url}/v1/generate`, { method: 'POST', headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' }, body: JSON.stringify({ adapter: 'mail-writer', prompt, maxTokens: 48, temperature: 0.8, seed: 1, stream: true }) });
  if (!res.ok || !res.body) throw new Error(`POST /v1/generate: ${res.status} ${await res.text()}`);
  process.stdout.write(`\ngenerated by mail-writer (streamed), after ${JSON.stringify(prompt)}:\n  `);
  let generated: { receipt: string; number: number; tokens: number; spans: { spans: { text: string; contributors: string[] }[]; credit: Record<string, number> } | null } | undefined;
  for await (const e of serverSentEvents(res.body)) {
    const data = JSON.parse(e.data) as { text?: string; error?: { code: string; message: string } };
    if (e.event === 'token') process.stdout.write((data.text ?? '').replace(/\s+/g, ' '));
    else if (e.event === 'error') throw new Error(`POST /v1/generate: ${data.error?.code} ${data.error?.message}`);
    else if (e.event === 'done') generated = data as unknown as typeof generated;
  }
  if (!generated) throw new Error('POST /v1/generate: the stream ended without its answer');
  console.log(`\n  receipt ${generated.receipt} (answer ${generated.number} of mail-writer), ${generated.tokens} tokens`);
  const nameOf = new Map([...addressOf].map(([who, address]) => [address, who]));
  if (!generated.spans) console.log(`  spans: ${datanets[0]!.name}'s span index is still being built`);
  else if (generated.spans.spans.length === 0) console.log(`  spans: none of 8 tokens or more is in ${datanets[0]!.name}'s records (the answer is the model's own; a memorized record would be credited to its contributor)`);
  else {
    for (const sp of generated.spans.spans) console.log(`  span ${JSON.stringify(sp.text.slice(0, 60))} held by ${sp.contributors.map((c) => nameOf.get(c) ?? c).join(', ')}`);
    console.log(`  span credit (answer tokens): ${Object.entries(generated.spans.credit).map(([c, n]) => `${nameOf.get(c) ?? c} ${n.toFixed(1)}`).join(', ')}`);
  }
} finally {
  await service.close();
  db.close();
  await chain.stop();
}
