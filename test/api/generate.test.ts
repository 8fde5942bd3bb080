import { execFile } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditGenerated } from '../../api/audit-generated.js';
import { FineTuneRunner } from '../../api/finetune-runner.js';
import { SpanIndexes } from '../../api/span-indexes.js';
import { DatanetStore } from '../../api/store/datanets.js';
import { buildServer, type App } from '../../api/server.js';
import { openDatabase, type Db } from '../../api/store/db.js';
import { createHost } from '../../api/store/hosts.js';
import { ReceiptStore } from '../../api/store/receipts.js';
import { SqliteJobQueue } from '../../api/store/jobs.js';
import { Batcher } from '../../inference/batcher.js';
import { datanetCorpus } from '../../inference/datasets.js';
import { ModelFactory } from '../../inference/factory.js';
import { trainCausalLm } from '../../inference/lm.js';
import { LmServing } from '../../inference/lm-serving.js';
import { AdapterStore } from '../../inference/store.js';
import { BUILD_DIR, REPO_ROOT } from '../../lib/config.js';
import { base, tempDir } from '../inference/helpers.js';
import { TEST_VARIANT } from '../helpers/fixtures.js';

let db: Db;
let app: App;
let runner: FineTuneRunner;
let factory: ModelFactory;
let store: AdapterStore;
let batcher: Batcher;
let lm: LmServing;
let dir: string;
let key: string;
let otherKey: string;
let datanet: string;
const auth = (k: string) => ({ authorization: `Bearer ${k}` });
const run = promisify(execFile);
const people = ['0x' + 'a1'.repeat(20), '0x' + 'b2'.repeat(20), '0x' + 'c3'.repeat(20)];
let texts: string[];

type Event = { event: string; data: Record<string, unknown> };
const events = (body: string): Event[] =>
  body
    .split('\n\n')
    .filter((e) => e.trim())
    .map((e) => {
      const [head, data] = e.split('\n');
      return { event: head!.replace('event: ', ''), data: JSON.parse(data!.replace('data: ', '')) as Record<string, unknown> };
    });

beforeAll(async () => {
  const model = await base();
  dir = await tempDir('zkpoa-generate-');
  texts = [...new Set((await datanetCorpus()).map((r) => r.text.slice(0, 600)))].slice(0, 60);
  // a tiny language model stands in for the embedded one (which takes minutes to train)
  const tiny = trainCausalLm(texts, { config: { context: 32, dim: 32, heads: 4, layers: 2, mlp: 64 }, vocabularySize: 400, steps: 20, batchSize: 8, learningRate: 0.01, seed: 2 }).model;
  await tiny.save(join(dir, 'lm'));
  tiny.dispose();
  lm = new LmServing({ modelDir: join(dir, 'lm'), adaptersDir: join(dir, 'lm-adapters'), engine: { maxBatch: 4 } });
  db = openDatabase(':memory:');
  key = createHost(db, 'host').apiKey;
  otherKey = createHost(db, 'other').apiKey;
  store = await AdapterStore.open(join(dir, 'adapters'), model);
  factory = new ModelFactory({ baseDir: join(BUILD_DIR, 'models', 'base'), store, checkpointsDir: join(dir, 'checkpoints'), lm });
  const queue = new SqliteJobQueue(db);
  runner = new FineTuneRunner(db, queue, factory, { ladder: [TEST_VARIANT], buildDir: BUILD_DIR }, 20);
  runner.start();
  batcher = new Batcher(store, { maxBatchSize: 8, maxWaitMs: 5 });
  app = await buildServer({ db, inference: { batcher, queue, lm }, spansDir: join(dir, 'spans'), limits: { maxStoredAnswers: 6 } });
  await app.ready();

  const { id } = (await app.inject({ method: 'POST', url: '/v1/datanets', headers: auth(key), payload: { name: 'mail', labels: ['ham', 'spam'] } })).json() as { id: string };
  datanet = id;
  const records = texts.map((text, i) => ({ contributor: people[i % people.length]!, text, label: 'ham' }));
  const addedRes = await app.inject({ method: 'POST', url: `/v1/datanets/${id}/records`, headers: auth(key), payload: { records } });
  expect(addedRes.statusCode, addedRes.body).toBe(201);
  const added = addedRes.json() as { records: { id: number }[] };
  await app.inject({ method: 'POST', url: `/v1/datanets/${id}/reviews`, headers: auth(key), payload: { decision: 'accept', records: added.records.map((r) => r.id) } });
  expect((await app.inject({ method: 'POST', url: `/v1/datanets/${id}/versions`, headers: auth(key) })).statusCode).toBe(201);
});

afterAll(async () => {
  await app?.close();
  await runner?.stop();
  await batcher?.close();
  await factory?.close();
  await lm?.close();
  store?.close();
  db?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('generation API', () => {
  it('fine-tunes a language-model adapter as a job, generates with it as one answer or streamed, with receipts and spans', async () => {
    const bad = await app.inject({ method: 'POST', url: '/v1/adapters', headers: auth(key), payload: { id: 'writer', datanetId: datanet, version: 1, model: 'causal-lm', hyper: { iterations: 5 } } });
    expect(bad.json()).toMatchObject({ error: { code: 'ZKPOA_ERR_VALIDATION', message: expect.stringContaining('hyper.iterations is not a causal-lm') } });
    const created = await app.inject({ method: 'POST', url: '/v1/adapters', headers: auth(key), payload: { id: 'writer', datanetId: datanet, version: 1, model: 'causal-lm', hyper: { steps: 6, batchSize: 2 }, seed: 3 } });
    expect(created.statusCode, created.body).toBe(202);
    expect(created.json()).toMatchObject({ id: 'writer', model: 'causal-lm', status: 'training' });
    let view: { status: string; job?: { error?: string } } = { status: 'training' };
    for (let i = 0; i < 600 && view.status === 'training'; i++) {
      await new Promise((r) => setTimeout(r, 50));
      view = (await app.inject({ method: 'GET', url: '/v1/adapters/writer', headers: auth(key) })).json() as typeof view;
    }
    expect(view, JSON.stringify(view)).toMatchObject({ status: 'ready' });
    // the version's span index, built on publish, is ready before the answers below
    for (let i = 0; i < 600; i++) {
      const r = await app.inject({ method: 'POST', url: `/v1/datanets/${datanet}/versions/1/spans`, headers: auth(key), payload: { text: texts[0]! } });
      if (r.statusCode === 200) break;
      await new Promise((r) => setTimeout(r, 50));
    }

    const ask = { adapter: 'writer', prompt: texts[1]!.slice(0, 40), maxTokens: 12 };
    const one = await app.inject({ method: 'POST', url: '/v1/generate', headers: auth(key), payload: ask });
    expect(one.statusCode, one.body).toBe(200);
    const answer = one.json() as { text: string; tokens: number; finish: string; receipt: string; number: number; spans: { tokens: number; spans: unknown[]; credit: Record<string, number> } | null };
    expect(answer).toMatchObject({ adapter: 'writer', number: 0, receipt: expect.stringMatching(/^rc_/) });
    expect(answer.tokens).toBeGreaterThan(0);
    expect(answer.spans, JSON.stringify(answer)).not.toBeNull();
    expect(answer.spans!.tokens).toBeGreaterThan(0);

    // streamed: token events whose texts make the answer, then the answer (greedy: the same as above)
    const streamed = await app.inject({ method: 'POST', url: '/v1/generate', headers: auth(key), payload: { ...ask, stream: true } });
    expect(streamed.statusCode).toBe(200);
    expect(streamed.headers['content-type']).toContain('text/event-stream');
    const got = events(streamed.body);
    const done = got.at(-1)!;
    expect(done.event).toBe('done');
    expect(got.slice(0, -1).every((e) => e.event === 'token')).toBe(true);
    expect(got.slice(0, -1).map((e) => e.data.text).join('')).toBe(done.data.text);
    expect(done.data).toMatchObject({ text: answer.text, tokens: answer.tokens, number: 1 });

    const receipts = new ReceiptStore(db);
    const host = { id: 1, name: 'host' };
    expect(receipts.get(host, answer.receipt)).toMatchObject({ input: ask.prompt, output: { text: answer.text, tokens: answer.tokens, finish: answer.finish, sampling: { maxTokens: 12 }, generatedBy: { backend: expect.any(String), model: expect.any(String) }, spans: { count: answer.spans!.spans.length, credit: answer.spans!.credit } } });

    // an auditor replays a generated answer: generated again with the recorded sampling, and its spans looked up again
    const spans = new SpanIndexes(new DatanetStore(db), join(dir, 'spans'));
    const sampled = (await app.inject({ method: 'POST', url: '/v1/generate', headers: auth(key), payload: { ...ask, temperature: 1.2, topK: 40, seed: 9 } })).json() as { receipt: string };
    for (const id of [answer.receipt, sampled.receipt]) {
      const audit = await auditGenerated(db, host, id, { lm, spans });
      expect(audit, JSON.stringify(audit)).toMatchObject({ ok: true, checks: [{ name: 'answer', ok: true }, { name: 'spans', ok: true }] });
    }
    // a receipt whose answer or credit was changed does not replay
    const tamper = (id: string, change: (o: Record<string, unknown>) => void) => {
      const row = db.prepare('SELECT output FROM receipts WHERE id = ?').get(id) as { output: string };
      const output = JSON.parse(row.output) as Record<string, unknown>;
      change(output);
      db.prepare('UPDATE receipts SET output = ? WHERE id = ?').run(JSON.stringify(output), id);
    };
    tamper(sampled.receipt, (o) => (o.text = `${o.text as string}!`));
    expect((await auditGenerated(db, host, sampled.receipt, { lm, spans })).checks).toMatchObject([{ name: 'answer', ok: false }, { name: 'spans' }]);
    tamper(answer.receipt, (o) => ((o.spans as { credit: Record<string, number> }).credit = { [people[0]!]: 99 }));
    expect(await auditGenerated(db, host, answer.receipt, { lm, spans })).toMatchObject({ ok: false, checks: [{ name: 'answer', ok: true }, { name: 'spans', ok: false }] });
    // recorded on other arithmetic: said so, not called a forgery
    tamper(answer.receipt, (o) => ((o.generatedBy as { backend: string }).backend = 'webgl'));
    expect((await auditGenerated(db, host, answer.receipt, { lm, spans })).checks[0]).toMatchObject({ name: 'answer', ok: false, detail: expect.stringContaining('not replayable bit for bit here') });
    await spans.close();
  });

  it('lets a streaming client go mid-answer over real HTTP (no receipt), and refuses what it cannot serve', async () => {
    const receipts = new ReceiptStore(db);
    const host = { id: 1, name: 'host' };
    const before = receipts.count(host);
    const address = await app.listen({ port: 0, host: '127.0.0.1' });
    const plain = await fetch(`${address}/v1/generate`, { method: 'POST', headers: { ...auth(key), 'content-type': 'application/json' }, body: JSON.stringify({ adapter: 'writer', prompt: 'Subject:', maxTokens: 8 }) });
    expect(plain.status).toBe(200);
    const plainAnswer = (await plain.json()) as { receipt: string; text: string };
    expect(plainAnswer.receipt).toMatch(/^rc_/);
    const abort = new AbortController();
    const streaming = await fetch(`${address}/v1/generate`, {
      method: 'POST',
      headers: { ...auth(key), 'content-type': 'application/json' },
      body: JSON.stringify({ adapter: 'writer', prompt: 'Subject:', maxTokens: 1024, temperature: 1, seed: 4, stream: true }),
      signal: abort.signal,
    });
    const reader = streaming.body!.getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toContain('event: token');
    abort.abort();
    // the engine lets the sequence go at its next step; had it run to its end, its answer would be stored
    const engine = await lm.engine();
    for (let i = 0; i < 200 && engine.load.running > 0; i++) await new Promise((r) => setTimeout(r, 25));
    expect(engine.load.running).toBe(0);
    expect(receipts.count(host)).toBe(before + 1); // the plain answer only

    // the CLI streams the same greedy answer to stdout, its receipt to stderr
    const cli = (...args: string[]) => run(process.execPath, ['--import', 'tsx', 'api/cli.ts', 'generate', ...args], { cwd: REPO_ROOT, env: { ...process.env, ZKPOA_API_KEY: key } });
    const { stdout, stderr } = await cli('writer', 'Subject:', '--url', address, '--max-tokens', '8');
    expect(stdout).toBe(`${plainAnswer.text}\n`);
    expect(stderr).toMatch(/^receipt rc_\S+ \(answer \d+ of writer\): \d+ tokens, ended by (end|length)\nspans: \d+ found in the datanet/);
    await expect(cli('writer', 'x', '--url', address, '--max-tokens', 'many')).rejects.toMatchObject({ code: 1, stderr: expect.stringContaining('a positive integer') });
    await expect(cli('nope', 'x', '--url', address)).rejects.toMatchObject({ code: 1, stderr: expect.stringContaining('ZKPOA_ERR_UNKNOWN_ADAPTER') });

    const post = (payload: unknown, k = key) => app.inject({ method: 'POST', url: '/v1/generate', headers: auth(k), payload: payload as Record<string, unknown> });
    expect((await post({ adapter: 'nope', prompt: 'x' })).json()).toMatchObject({ error: { code: 'ZKPOA_ERR_UNKNOWN_ADAPTER' } });
    expect((await post({ adapter: 'writer', prompt: 'x' }, otherKey)).json()).toMatchObject({ error: { code: 'ZKPOA_ERR_UNKNOWN_ADAPTER' } });
    expect((await post({ adapter: 'writer', prompt: 'x', maxTokens: 0 })).json()).toMatchObject({ error: { code: 'ZKPOA_ERR_VALIDATION' } });
    expect((await post({ adapter: 'writer', prompt: 'x', topP: 0 })).json()).toMatchObject({ error: { code: 'ZKPOA_ERR_VALIDATION' } });
    expect((await post({ adapter: 'writer', prompt: 'bad \ud800 text' })).json()).toMatchObject({ error: { code: 'ZKPOA_ERR_VALIDATION' } });
    expect((await app.inject({ method: 'POST', url: '/v1/generate', payload: { adapter: 'writer', prompt: 'x' } })).statusCode).toBe(401);
    // a language model's adapter does not classify
    expect((await app.inject({ method: 'POST', url: '/v1/infer', headers: auth(key), payload: { requests: [{ adapter: 'writer', text: 'hello' }] } })).json()).toMatchObject({ results: [{ error: { code: 'ZKPOA_ERR_ADAPTER_MISMATCH' } }] });
    // past the stored-answer quota nothing is generated
    for (let i = receipts.count(host); i < 6; i++) expect((await post({ adapter: 'writer', prompt: `${i}`, maxTokens: 2 })).statusCode).toBe(200);
    expect((await post({ adapter: 'writer', prompt: 'one more', maxTokens: 2 })).json()).toMatchObject({ error: { code: 'ZKPOA_ERR_INPUT_QUOTA' } });
  });
});
