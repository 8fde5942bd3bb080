import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildServer, type App } from '../../api/server.js';
import { versionRoot } from '../../api/store/datanets.js';
import { openDatabase, schemaVersion, type Db } from '../../api/store/db.js';
import { createHost } from '../../api/store/hosts.js';

let db: Db;
let app: App;
let owner: string;
let other: string;
let third: string;
const auth = (key: string) => ({ authorization: `Bearer ${key}` });
const ALICE = '0x' + 'a1'.repeat(20);
const BOB = '0x' + 'b0'.repeat(20);

beforeAll(async () => {
  db = openDatabase(':memory:');
  owner = createHost(db, 'owner').apiKey;
  other = createHost(db, 'other').apiKey;
  third = createHost(db, 'third').apiKey;
  // the fuzz test sends hundreds of keyless requests from one address: failed-auth throttling has its own test
  app = await buildServer({ db, limits: { failedAuthPerMinute: 1_000_000, maxPendingPerContributor: 3 } });
  await app.ready();
});

afterAll(async () => {
  await app?.close();
  db?.close();
});

async function createDatanet(key = owner, visibility: 'public' | 'owner' = 'owner') {
  const res = await app.inject({ method: 'POST', url: '/v1/datanets', headers: auth(key), payload: { name: 'spam filter', labels: ['ham', 'spam'], visibility } });
  expect(res.statusCode).toBe(201);
  return res.json() as { id: string };
}

describe('datanets API', () => {
  it('migrates the store to its schema version', () => {
    expect(schemaVersion(db)).toBe(11);
    expect(openDatabase(':memory:')).toBeTruthy();
  });

  it('sets aside registrations made with the per-answer contracts, which batches cannot settle on', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'zkpoa-db-')), 'store.db');
    const legacy = openDatabase(path);
    // back to schema 7 with a registration that has no versions (the per-answer contracts had none) and one that has
    legacy.exec("DELETE FROM schema_migrations WHERE version = 8; DROP TABLE onchain_adapters_per_answer; PRAGMA foreign_keys = OFF");
    const row = "(?, '31337', '0xs', '1', 1, '0xb', '10', 7000, '0xtx', 'now')";
    legacy.prepare(`INSERT INTO onchain_adapters (adapter_id, chain_id, settlement, onchain_id, version, binding, price, pool_bps, tx, created_at) VALUES ${row}, ${row}`).run('old', 'new');
    legacy.prepare("INSERT INTO onchain_versions (adapter_id, version, first_receipt, index_root, binding, price, pool_bps, tx) VALUES ('new', 1, 0, '0x1', '0xb', '10', 7000, '0xtx')").run();
    legacy.close();
    const migrated = openDatabase(path);
    expect(schemaVersion(migrated)).toBe(11);
    expect(migrated.prepare('SELECT adapter_id FROM onchain_adapters').all()).toEqual([{ adapter_id: 'new' }]);
    expect(migrated.prepare('SELECT adapter_id, onchain_id FROM onchain_adapters_per_answer').all()).toEqual([{ adapter_id: 'old', onchain_id: '1' }]);
    migrated.close();
  });

  it('create → contribute → review → publish gives a version whose root commits to the accepted records', async () => {
    const { id } = await createDatanet();
    const records = [
      { contributor: ALICE, text: 'win a free cruise', label: 1 },
      { contributor: BOB, text: 'meeting at ten', label: 0 },
      { contributor: ALICE, text: 'cheap pills online', label: 1 },
    ];
    const added = await app.inject({ method: 'POST', url: `/v1/datanets/${id}/records`, headers: auth(owner), payload: { records } });
    expect(added.statusCode).toBe(201);
    const ids = (added.json() as { records: { id: number; status: string }[] }).records.map((r) => r.id);
    expect((added.json() as { records: { status: string }[] }).records.every((r) => r.status === 'pending')).toBe(true);

    const dup = await app.inject({ method: 'POST', url: `/v1/datanets/${id}/records`, headers: auth(owner), payload: { records: [{ ...records[0], contributor: BOB }] } });
    expect(dup.statusCode).toBe(409);
    expect(dup.json()).toMatchObject({ error: { code: 'ZKPOA_ERR_DUPLICATE' } });
    // the zero address cannot be paid on-chain, so it cannot contribute
    const zero = await app.inject({ method: 'POST', url: `/v1/datanets/${id}/records`, headers: auth(owner), payload: { records: [{ contributor: '0x' + '0'.repeat(40), text: 'nobody', label: 0 }] } });
    expect(zero.json()).toMatchObject({ error: { code: 'ZKPOA_ERR_VALIDATION' } });

    for (const [i, rid] of ids.entries()) {
      const r = await app.inject({ method: 'POST', url: `/v1/datanets/${id}/records/${rid}/review`, headers: auth(owner), payload: { decision: i === 1 ? 'reject' : 'accept' } });
      expect(r.statusCode).toBe(200);
    }
    const v = await app.inject({ method: 'POST', url: `/v1/datanets/${id}/versions`, headers: auth(owner) });
    expect(v.statusCode).toBe(201);
    const accepted = (await app.inject({ method: 'GET', url: `/v1/datanets/${id}/records?status=accepted`, headers: auth(owner) })).json() as { records: { contentHash: string; contributor: string; label: number }[] };
    expect(accepted.records).toHaveLength(2);
    expect(v.json()).toMatchObject({ version: 1, records: 2, root: versionRoot(accepted.records) });
    const again = await app.inject({ method: 'GET', url: `/v1/datanets/${id}/versions/1`, headers: auth(owner) });
    expect(again.json()).toMatchObject({ root: (v.json() as { root: string }).root });
  });

  it('reviews many records at once: all of them, or none if one is not the datanet’s; only the owner', async () => {
    const { id } = await createDatanet(owner, 'public');
    const records = Array.from({ length: 50 }, (_, i) => ({ contributor: i % 2 ? ALICE : BOB, text: `record ${i}`, label: i % 2 }));
    const ids = ((await app.inject({ method: 'POST', url: `/v1/datanets/${id}/records`, headers: auth(owner), payload: { records } })).json() as { records: { id: number }[] }).records.map((r) => r.id);
    const reviews = (key: string, payload: object) => app.inject({ method: 'POST', url: `/v1/datanets/${id}/reviews`, headers: auth(key), payload });
    const status = async () => {
      const c: Record<string, number> = { pending: 0, accepted: 0, rejected: 0 };
      for (const r of ((await app.inject({ method: 'GET', url: `/v1/datanets/${id}/records`, headers: auth(owner) })).json() as { records: { status: string }[] }).records) c[r.status]!++;
      return c;
    };

    const foreign = (await createDatanet()).id;
    const foreignId = ((await app.inject({ method: 'POST', url: `/v1/datanets/${foreign}/records`, headers: auth(owner), payload: { records: [{ contributor: ALICE, text: 'elsewhere', label: 0 }] } })).json() as { records: { id: number }[] }).records[0]!.id;
    expect((await reviews(owner, { decision: 'accept', records: [...ids.slice(0, 10), foreignId] })).json()).toMatchObject({ error: { code: 'ZKPOA_ERR_NOT_FOUND' } });
    expect(await status()).toEqual({ pending: 50, accepted: 0, rejected: 0 }); // none of them
    expect((await reviews(other, { decision: 'accept', records: ids })).statusCode).toBe(403);
    expect((await reviews(owner, { decision: 'accept', records: [ids[0], ids[0]] })).statusCode).toBe(400);
    expect((await reviews(owner, { decision: 'maybe', records: ids })).statusCode).toBe(400);
    expect((await reviews(owner, { decision: 'accept', records: [] })).statusCode).toBe(400);

    expect((await reviews(owner, { decision: 'accept', records: ids.slice(0, 40) })).json()).toEqual({ reviewed: 40 });
    expect((await reviews(owner, { decision: 'reject', records: ids.slice(40) })).json()).toEqual({ reviewed: 10 });
    expect(await status()).toEqual({ pending: 0, accepted: 40, rejected: 10 });
    expect((await app.inject({ method: 'POST', url: `/v1/datanets/${id}/versions`, headers: auth(owner) })).json()).toMatchObject({ version: 1, records: 40 });
  });

  it('keeps an owner-only datanet invisible to other hosts, and review to its owner', async () => {
    const privateDn = await createDatanet(owner, 'owner');
    expect((await app.inject({ method: 'GET', url: `/v1/datanets/${privateDn.id}`, headers: auth(other) })).statusCode).toBe(404);
    const publicDn = await createDatanet(owner, 'public');
    expect((await app.inject({ method: 'GET', url: `/v1/datanets/${publicDn.id}`, headers: auth(other) })).statusCode).toBe(200);
    const add = await app.inject({ method: 'POST', url: `/v1/datanets/${publicDn.id}/records`, headers: auth(other), payload: { records: [{ contributor: BOB, text: 'hello', label: 0 }] } });
    expect(add.statusCode).toBe(201);
    const rid = (add.json() as { records: { id: number }[] }).records[0]!.id;
    const review = await app.inject({ method: 'POST', url: `/v1/datanets/${publicDn.id}/records/${rid}/review`, headers: auth(other), payload: { decision: 'accept' } });
    expect(review.statusCode).toBe(403);
    expect(review.json()).toMatchObject({ error: { code: 'ZKPOA_ERR_FORBIDDEN' } });
  });

  it.each([
    [{}, 'no key'],
    [{ authorization: 'Bearer zk_1_' + 'x'.repeat(43) }, 'wrong secret'],
    [{ authorization: 'Bearer zk_999_' + 'x'.repeat(43) }, 'unknown host'],
    [{ authorization: 'Basic abc' }, 'wrong scheme'],
    [{ authorization: `Bearer ${'zk_1_' + 'y'.repeat(43)}extra` }, 'malformed'],
  ] as [Record<string, string>, string][])('refuses %o (%s) with 401', async (headers) => {
    const res = await app.inject({ method: 'POST', url: '/v1/datanets', headers, payload: { name: 'x', labels: ['a', 'b'] } });
    expect(res.statusCode).toBe(401);
    expect(res.json()).toMatchObject({ error: { code: 'ZKPOA_ERR_UNAUTHORIZED' } });
    expect(res.body).not.toContain('y'.repeat(43));
  });

  it('[fuzz] hostile input always gets a 4xx with an error code, and the server stays up', async () => {
    const { id } = await createDatanet();
    const url = fc.constantFrom('/v1/datanets', `/v1/datanets/${id}/records`, `/v1/datanets/${id}/records/1/review`, `/v1/datanets/${id}/versions/x`, '/v1/nope');
    const strings = fc.oneof(
      fc.string(),
      fc.string({ unit: 'grapheme' }),
      fc.constantFrom('\ud800', 'a\udfffb', '\u0000', '\u202e', 'x'.repeat(20_000), '💩'.repeat(5000), ''),
    );
    const value = fc.oneof(fc.jsonValue(), strings, fc.constantFrom(null, -1, 1e309, 2 ** 53 + 1, true));
    const recordish = fc.record({ contributor: fc.oneof(value, fc.constant(ALICE)), text: fc.oneof(value, strings), label: fc.oneof(value, fc.integer({ min: -5, max: 70 })) }, { requiredKeys: [] });
    const body = fc.oneof(
      fc.jsonValue().map((v) => JSON.stringify(v)),
      fc.record({ records: fc.oneof(fc.array(recordish, { maxLength: 4 }), value) }, { requiredKeys: [] }).map((v) => JSON.stringify(v)),
      fc.record({ name: value, labels: fc.oneof(fc.array(strings, { maxLength: 70 }), value), visibility: value, maxRecords: value }, { requiredKeys: [] }).map((v) => JSON.stringify(v)),
      fc.constantFrom('{', '{"records": [', 'NaN', '{"label": NaN}', '{"label": Infinity}', '{"a":1}{"b":2}', '\u0000', '[]', 'null', '"\\ud800"'),
      fc.string(),
    );
    const headers = fc.oneof(
      fc.constant(auth(owner)),
      fc.constant({ ...auth(owner), 'content-type': 'text/plain' }),
      fc.constant({ ...auth(owner), 'content-type': 'application/json; charset=latin1' }),
      fc.constant({}),
      fc.constant(auth('zk_1_' + '0'.repeat(43))),
    );
    let cases = 0;
    await fc.assert(
      fc.asyncProperty(url, body, headers, async (u, payload, h) => {
        const res = await app.inject({ method: 'POST', url: u, payload, headers: { 'content-type': 'application/json', ...h } });
        cases++;
        if (res.statusCode < 300) return; // a random body may be valid; then it is served
        expect(res.statusCode).toBeGreaterThanOrEqual(400);
        expect(res.statusCode).toBeLessThan(500);
        expect(res.json()).toMatchObject({ error: { code: expect.stringMatching(/^ZKPOA_ERR_/), message: expect.any(String) } });
        expect(res.body).not.toMatch(/at .*\.ts:\d+/); // no stack traces
      }),
      { seed: 99, numRuns: 400 },
    );
    expect(cases).toBe(400);
    const huge = await app.inject({ method: 'POST', url: `/v1/datanets/${id}/records`, headers: { ...auth(owner), 'content-type': 'application/json' }, payload: JSON.stringify({ records: [{ contributor: ALICE, text: 'x'.repeat(2_000_000), label: 0 }] }) });
    expect(huge.statusCode).toBe(413);
    expect(huge.json()).toMatchObject({ error: { code: 'ZKPOA_ERR_BODY_TOO_LARGE' } });
    expect((await app.inject({ method: 'GET', url: '/health' })).json()).toMatchObject({ status: 'ok' });
  });

  it('serves real HTTP, the OpenAPI document and metrics', async () => {
    const address = await app.listen({ host: '127.0.0.1', port: 0 });
    try {
      const bad = await fetch(`${address}/v1/datanets`, { method: 'POST', headers: { ...auth(owner), 'content-type': 'application/json' }, body: '{"name": ' });
      expect(bad.status).toBe(400);
      expect(await bad.json()).toMatchObject({ error: { code: 'ZKPOA_ERR_MALFORMED_REQUEST' } });
      const docs = await (await fetch(`${address}/docs/json`)).json() as { paths: Record<string, unknown> };
      expect(Object.keys(docs.paths)).toContain('/v1/datanets/{id}/records');
      expect(await (await fetch(`${address}/metrics`)).text()).toMatch(/zkpoa_http_requests_total/);
      expect((await fetch(`${address}/health`)).headers.get('x-content-type-options')).toBe('nosniff');
    } finally {
      await app.server.close();
    }
  });

  it('a label is its index or its name', async () => {
    const { id } = await createDatanet();
    const add = (label: unknown, text: string) => app.inject({ method: 'POST', url: `/v1/datanets/${id}/records`, headers: auth(owner), payload: { records: [{ contributor: ALICE, text, label }] } });
    const byName = await add('spam', 'buy now, limited offer');
    expect(byName.statusCode, byName.body).toBe(201);
    expect(byName.json()).toMatchObject({ records: [{ label: 1 }] });
    expect((await add(0, 'lunch at noon?')).json()).toMatchObject({ records: [{ label: 0 }] });
    expect((await add('eggs', 'unknown label')).json()).toMatchObject({ error: { code: 'ZKPOA_ERR_VALIDATION' } });
    expect((await add(2, 'index past the labels')).json()).toMatchObject({ error: { code: 'ZKPOA_ERR_VALIDATION' } });
  });
});

describe('a public datanet under abuse', () => {
  const contribute = (key: string, id: string, records: { contributor: string; text: string; label: number | string }[]) =>
    app.inject({ method: 'POST', url: `/v1/datanets/${id}/records`, headers: auth(key), payload: { records } });
  const texts = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix} ${i}`);

  it('records awaiting review are bounded per contributor and per sending host; the owner reviews its own without bound', async () => {
    const { id } = await createDatanet(owner, 'public');
    const four = texts('junk', 4).map((text) => ({ contributor: BOB, text, label: 1 }));
    expect((await contribute(other, id, four)).json()).toMatchObject({ error: { code: 'ZKPOA_ERR_PENDING_QUOTA' } });
    expect((await contribute(other, id, four.slice(0, 3))).statusCode).toBe(201);
    // the same contributor through another host, and another contributor through the same host: both full
    expect((await contribute(third, id, [{ contributor: BOB, text: 'more junk', label: 1 }])).json()).toMatchObject({ error: { code: 'ZKPOA_ERR_PENDING_QUOTA' } });
    expect((await contribute(other, id, [{ contributor: ALICE, text: 'other name', label: 1 }])).json()).toMatchObject({ error: { code: 'ZKPOA_ERR_PENDING_QUOTA' } });
    expect((await contribute(owner, id, texts('own', 5).map((text) => ({ contributor: BOB, text, label: 0 })))).statusCode).toBe(201);
    // reviewed records free the queue
    const pending = (await app.inject({ method: 'GET', url: `/v1/datanets/${id}/records?status=pending`, headers: auth(owner) })).json() as { records: { id: number; text: string }[] };
    const junk = pending.records.find((r) => r.text === 'junk 0')!;
    await app.inject({ method: 'POST', url: `/v1/datanets/${id}/records/${junk.id}/review`, headers: auth(owner), payload: { decision: 'reject' } });
    const ownDone = pending.records.filter((r) => r.text.startsWith('own'));
    for (const r of ownDone) await app.inject({ method: 'POST', url: `/v1/datanets/${id}/records/${r.id}/review`, headers: auth(owner), payload: { decision: 'accept' } });
    expect((await contribute(third, id, [{ contributor: BOB, text: 'now there is room', label: 0 }])).statusCode).toBe(201);
  });

  it('rejected records do not fill the datanet, and the owner purges them (never a published one)', async () => {
    const res = await app.inject({ method: 'POST', url: '/v1/datanets', headers: auth(owner), payload: { name: 'small', labels: ['ham', 'spam'], visibility: 'public', maxRecords: 3 } });
    const { id } = res.json() as { id: string };
    const review = (rid: number, decision: 'accept' | 'reject') => app.inject({ method: 'POST', url: `/v1/datanets/${id}/records/${rid}/review`, headers: auth(owner), payload: { decision } });
    const junk = (await contribute(other, id, texts('spam', 3).map((text) => ({ contributor: BOB, text, label: 1 })))).json() as { records: { id: number }[] };
    expect((await contribute(owner, id, [{ contributor: ALICE, text: 'good', label: 0 }])).json()).toMatchObject({ error: { code: 'ZKPOA_ERR_DATANET_FULL' } });
    for (const r of junk.records) await review(r.id, 'reject');
    const good = (await contribute(owner, id, [{ contributor: ALICE, text: 'good', label: 0 }])).json() as { records: { id: number }[] };
    await review(good.records[0]!.id, 'accept');
    expect((await app.inject({ method: 'POST', url: `/v1/datanets/${id}/versions`, headers: auth(owner) })).statusCode).toBe(201);
    // a published record rejected afterwards stays: version 1 still holds it
    await review(good.records[0]!.id, 'reject');
    expect((await app.inject({ method: 'DELETE', url: `/v1/datanets/${id}/records?status=rejected`, headers: auth(other) })).json()).toMatchObject({ error: { code: 'ZKPOA_ERR_FORBIDDEN' } });
    const purged = await app.inject({ method: 'DELETE', url: `/v1/datanets/${id}/records?status=rejected`, headers: auth(owner) });
    expect(purged.json()).toEqual({ purged: 3 });
    const left = (await app.inject({ method: 'GET', url: `/v1/datanets/${id}/records`, headers: auth(owner) })).json() as { records: { text: string }[] };
    expect(left.records.map((r) => r.text)).toEqual(['good']);
    expect((await app.inject({ method: 'GET', url: `/v1/datanets/${id}/versions/1`, headers: auth(owner) })).json()).toMatchObject({ records: 1 });
    // purged content may come back, as a new record awaiting review
    expect((await contribute(other, id, [{ contributor: BOB, text: 'spam 0', label: 1 }])).statusCode).toBe(201);
  });

  it('records not yet accepted are seen only by the owner and the host that sent them', async () => {
    const { id } = await createDatanet(owner, 'public');
    const sent = (await contribute(other, id, [{ contributor: BOB, text: 'mine, pending', label: 0 }, { contributor: BOB, text: 'mine, accepted', label: 0 }])).json() as { records: { id: number }[] };
    await app.inject({ method: 'POST', url: `/v1/datanets/${id}/records/${sent.records[1]!.id}/review`, headers: auth(owner), payload: { decision: 'accept' } });
    await contribute(owner, id, [{ contributor: ALICE, text: 'owner, pending', label: 1 }]);
    const seen = async (key: string, query = '') => ((await app.inject({ method: 'GET', url: `/v1/datanets/${id}/records${query}`, headers: auth(key) })).json() as { records: { text: string }[] }).records.map((r) => r.text).sort();
    expect(await seen(owner)).toEqual(['mine, accepted', 'mine, pending', 'owner, pending']);
    expect(await seen(other)).toEqual(['mine, accepted', 'mine, pending']);
    expect(await seen(third)).toEqual(['mine, accepted']);
    expect(await seen(third, '?status=pending')).toEqual([]);
    // counted per contributor the same way
    const counts = async (key: string) => ((await app.inject({ method: 'GET', url: `/v1/datanets/${id}/contributors`, headers: auth(key) })).json() as { contributors: unknown[] }).contributors;
    expect(await counts(owner)).toEqual([
      { contributor: BOB.toLowerCase(), pending: 1, accepted: 1, rejected: 0 },
      { contributor: ALICE.toLowerCase(), pending: 1, accepted: 0, rejected: 0 },
    ]);
    expect(await counts(other)).toEqual([{ contributor: BOB.toLowerCase(), pending: 1, accepted: 1, rejected: 0 }]);
    expect(await counts(third)).toEqual([{ contributor: BOB.toLowerCase(), pending: 0, accepted: 1, rejected: 0 }]);
    // the owner's list and versions; another host lists none of them
    expect(((await app.inject({ method: 'GET', url: '/v1/datanets', headers: auth(owner) })).json() as { datanets: { id: string }[] }).datanets.map((d) => d.id)).toContain(id);
    expect(((await app.inject({ method: 'GET', url: '/v1/datanets', headers: auth(third) })).json() as { datanets: { id: string }[] }).datanets.map((d) => d.id)).not.toContain(id);
    await app.inject({ method: 'POST', url: `/v1/datanets/${id}/versions`, headers: auth(owner) });
    const versions = (await app.inject({ method: 'GET', url: `/v1/datanets/${id}/versions`, headers: auth(third) })).json() as { versions: { version: number; records: number; root: string }[] };
    expect(versions.versions).toEqual([expect.objectContaining({ version: 1, records: 1, root: expect.stringMatching(/^0x[0-9a-f]{64}$/) })]);
  });
});

describe('rate limits and failed authentication', () => {
  let limited: App;
  let key: string;
  beforeAll(async () => {
    const ldb = openDatabase(':memory:');
    key = createHost(ldb, 'limited').apiKey;
    limited = await buildServer({ db: ldb, limits: { requestsPerMinute: 5, failedAuthPerMinute: 3 } });
    await limited.ready();
  });
  afterAll(() => limited?.close());

  it('a forged key naming a host spends the sender’s budget, not the host’s; the 429 says why', async () => {
    const forged = { authorization: 'Bearer zk_1_x', 'x-forwarded-for': '10.0.0.9' };
    const answers = [];
    for (let i = 0; i < 7; i++) answers.push(await limited.inject({ method: 'GET', url: '/health', headers: forged, remoteAddress: '10.0.0.9' }));
    expect(answers.map((r) => r.statusCode)).toEqual([200, 200, 200, 200, 200, 429, 429]);
    expect(answers[6]!.json()).toMatchObject({ error: { code: 'ZKPOA_ERR_RATE_LIMITED', message: expect.stringMatching(/rate limit of 5 requests/) } });
    // host 1 itself, from elsewhere, is untouched
    const real = await limited.inject({ method: 'POST', url: '/v1/datanets', headers: auth(key), remoteAddress: '10.0.0.1', payload: { name: 'x', labels: ['a', 'b'] } });
    expect(real.statusCode, real.body).toBe(201);
  });

  it('an authenticated host is limited on its own key, wherever it calls from', async () => {
    const codes = [];
    for (let i = 0; i < 6; i++) codes.push((await limited.inject({ method: 'GET', url: '/v1/host', headers: auth(key), remoteAddress: `10.1.0.${i}` })).statusCode);
    expect(codes.slice(0, 4).every((c) => c === 200)).toBe(true); // one request of the budget went to the previous test
    expect(codes.at(-1)).toBe(429);
  });

  it('failed keys are throttled per address, before any key is checked', async () => {
    const wrong = { authorization: 'Bearer zk_1_' + 'w'.repeat(43) };
    const codes = [];
    for (let i = 0; i < 4; i++) codes.push((await limited.inject({ method: 'GET', url: '/v1/datanets/dn_00000000-0000-0000-0000-000000000000', headers: wrong, remoteAddress: '10.2.0.1' })).statusCode);
    expect(codes).toEqual([401, 401, 401, 429]);
    // from that address even a valid key learns nothing until the window ends
    const after = await limited.inject({ method: 'GET', url: '/v1/datanets/dn_00000000-0000-0000-0000-000000000000', headers: { authorization: `Bearer ${key}` }, remoteAddress: '10.2.0.1' });
    expect(after.json()).toMatchObject({ error: { code: 'ZKPOA_ERR_AUTH_THROTTLED' } });
    expect(after.headers['retry-after']).toMatch(/^\d+$/);
    // another address is not affected
    expect((await limited.inject({ method: 'GET', url: '/v1/datanets/dn_00000000-0000-0000-0000-000000000000', headers: wrong, remoteAddress: '10.2.0.2' })).statusCode).toBe(401);
  });
});
