import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildServer, type App } from '../../api/server.js';
import { openDatabase, type Db } from '../../api/store/db.js';
import { createHost } from '../../api/store/hosts.js';
import { datanetCorpus } from '../../inference/datasets.js';

let db: Db;
let app: App;
let dir: string;
let owner: string;
let other: string;
const auth = (key: string) => ({ authorization: `Bearer ${key}` });
const people = ['0x' + 'a1'.repeat(20), '0x' + 'b2'.repeat(20), '0x' + 'c3'.repeat(20)];

beforeAll(async () => {
  db = openDatabase(':memory:');
  owner = createHost(db, 'owner').apiKey;
  other = createHost(db, 'other').apiKey;
  dir = await mkdtemp(join(tmpdir(), 'zkpoa-spans-'));
  app = await buildServer({ db, spansDir: dir });
  await app.ready();
});

afterAll(async () => {
  await app?.close();
  db?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function publish(texts: string[], visibility: 'public' | 'owner' = 'owner'): Promise<string> {
  const { id } = (await app.inject({ method: 'POST', url: '/v1/datanets', headers: auth(owner), payload: { name: 'mail', labels: ['ham', 'spam'], visibility } })).json() as { id: string };
  const records = texts.map((text, i) => ({ contributor: people[i % people.length]!, text, label: 'ham' }));
  const added = (await app.inject({ method: 'POST', url: `/v1/datanets/${id}/records`, headers: auth(owner), payload: { records } })).json() as { records: { id: number }[] };
  await app.inject({ method: 'POST', url: `/v1/datanets/${id}/reviews`, headers: auth(owner), payload: { decision: 'accept', records: added.records.map((r) => r.id) } });
  expect((await app.inject({ method: 'POST', url: `/v1/datanets/${id}/versions`, headers: auth(owner) })).statusCode).toBe(201);
  return id;
}

/** asks until the version's index is built (it is built in a worker when the version is published) */
async function spans(id: string, payload: object, key = owner) {
  for (const end = Date.now() + 60_000; ; ) {
    const res = await app.inject({ method: 'POST', url: `/v1/datanets/${id}/versions/1/spans`, headers: auth(key), payload });
    if (res.statusCode !== 503 || Date.now() > end) return res;
    expect(res.json()).toMatchObject({ error: { code: 'ZKPOA_ERR_SPANS_NOT_READY' } });
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('span lookups over HTTP', () => {
  it('builds a version’s index when it is published, and finds an answer’s verbatim spans with their records and contributors', async () => {
    const seen = new Set<string>();
    const texts = (await datanetCorpus()).map((r) => r.text.slice(0, 3000)).filter((t) => t.length > 1500 && !seen.has(t) && seen.add(t)).slice(0, 60);
    const id = await publish(texts);
    const quote = texts[7]!.slice(200, 700);
    const res = await spans(id, { text: `An answer that repeats a record: ${quote} and then says something else entirely.` });
    expect(res.statusCode).toBe(200);
    const body = res.json() as { tokens: number; spans: { text: string; contributors: string[]; occurrences: { record: number; contributor: string }[] }[]; credit: Record<string, number> };
    const longest = body.spans.reduce((a, b) => (b.text.length > a.text.length ? b : a));
    expect(quote).toContain(longest.text.trim().slice(5, -5));
    expect(longest.text.length).toBeGreaterThan(400);
    expect(longest.occurrences.map((o) => o.contributor)).toContain(people[7 % 3]);
    expect(body.credit[people[7 % 3]!]).toBeGreaterThan(0);
    expect(await readdir(dir)).toContain(`${id}-v1.spans`);
    // an index file that does not read as one is removed and built again (here by a second server on the same store)
    await writeFile(join(dir, `${id}-v1.spans`), 'not an index');
    const again = await buildServer({ db, spansDir: dir });
    try {
      const first = await again.inject({ method: 'POST', url: `/v1/datanets/${id}/versions/1/spans`, headers: auth(owner), payload: { text: quote } });
      expect(first.json()).toMatchObject({ error: { code: 'ZKPOA_ERR_SPANS_NOT_READY' } });
      for (const end = Date.now() + 60_000; Date.now() < end; await new Promise((r) => setTimeout(r, 100))) {
        const res2 = await again.inject({ method: 'POST', url: `/v1/datanets/${id}/versions/1/spans`, headers: auth(owner), payload: { text: quote } });
        if (res2.statusCode === 200) break;
      }
      expect((await again.inject({ method: 'POST', url: `/v1/datanets/${id}/versions/1/spans`, headers: auth(owner), payload: { text: quote } })).json()).toMatchObject({ spans: [expect.objectContaining({ contributors: expect.arrayContaining([people[7 % 3]]) })] });
    } finally {
      await again.close();
    }
    // nothing of it in the records: no spans
    expect((await spans(id, { text: 'Zebras forecast purple quarterly weather in the mountains of nowhere.' })).json()).toMatchObject({ spans: [], credit: {} });
  });

  it('refuses what it cannot answer: a bad request, a version that does not exist, and another host’s private datanet', async () => {
    const id = await publish(['one record that is here', 'and another record']);
    expect((await spans(id, { text: '' })).statusCode).toBe(400);
    expect((await spans(id, { text: 'x', minTokens: 3 })).statusCode).toBe(400);
    expect((await spans(id, { text: 'x', extra: 1 })).statusCode).toBe(400);
    expect((await spans(id, { text: 'a\ud800b' })).json()).toMatchObject({ error: { code: 'ZKPOA_ERR_VALIDATION' } });
    expect((await app.inject({ method: 'POST', url: `/v1/datanets/${id}/versions/2/spans`, headers: auth(owner), payload: { text: 'x' } })).statusCode).toBe(404);
    expect([403, 404]).toContain((await spans(id, { text: 'one record that is here' }, other)).statusCode);
    expect((await app.inject({ method: 'POST', url: `/v1/datanets/${id}/versions/1/spans`, payload: { text: 'x' } })).statusCode).toBe(401);
  });
});
