import { describe, expect, it } from 'vitest';
import { openDatabase } from '../../api/store/db.js';
import { AdapterRegistryStore } from '../../api/store/adapters.js';
import { createHost } from '../../api/store/hosts.js';
import { ReceiptStore } from '../../api/store/receipts.js';

/** Numbering answers per adapter, in the transaction that stores them. */
function setup() {
  const db = openDatabase(':memory:');
  const { host } = createHost(db, 'h');
  const other = createHost(db, 'o').host;
  db.prepare("INSERT INTO datanets (id, owner_host, name, labels, visibility, max_records, max_record_bytes, created_at) VALUES ('dn_x', ?, 'x', '[\"a\",\"b\"]', 'owner', 1, 1, '')").run(host.id);
  const adapters = new AdapterRegistryStore(db);
  const a = adapters.create(host, { id: 'a', datanetId: 'dn_x', datanetVersion: 1, jobId: 'j', spec: {} });
  const b = adapters.create(host, { id: 'b', datanetId: 'dn_x', datanetVersion: 1, jobId: 'j', spec: {} });
  const theirs = adapters.create(other, { id: 'a', datanetId: 'dn_x', datanetVersion: 1, jobId: 'j', spec: {} });
  return { db, host, other, a, b, theirs, receipts: new ReceiptStore(db) };
}
const out = { label: 'spam', probabilities: [0.1, 0.9] };

describe('receipt store', () => {
  it('numbers each adapter’s answers 0, 1, 2, … whatever else is served in between', () => {
    const { host, other, a, b, theirs, receipts } = setup();
    const first = receipts.add(host, [a, b, a, a].map((adapter) => ({ adapter, input: 'x', output: out })), 100);
    expect(first.map((r) => [r.adapterKey, r.number])).toEqual([
      [a.key, 0],
      [b.key, 0],
      [a.key, 1],
      [a.key, 2],
    ]);
    receipts.add(other, [{ adapter: theirs, input: 'y', output: out }], 100); // another host's adapter of the same name
    expect(receipts.add(host, [{ adapter: a, input: 'z', output: out }], 100)[0]!.number).toBe(3);
    expect(receipts.nextNumber(a.key)).toBe(4);
    expect(receipts.nextNumber(theirs.key)).toBe(1);
    expect(receipts.range(a.key, 1, 3).map((r) => r.number)).toEqual([1, 2]);
  });

  it('a refused batch of answers stores nothing and uses no number', () => {
    const { host, a, receipts } = setup();
    receipts.add(host, [{ adapter: a, input: 'x', output: out }], 2);
    expect(() => receipts.add(host, [a, a].map((adapter) => ({ adapter, input: 'x', output: out })), 2)).toThrow(expect.objectContaining({ code: 'ZKPOA_ERR_INPUT_QUOTA' }));
    expect(receipts.count(host)).toBe(1);
    expect(receipts.add(host, [{ adapter: a, input: 'x', output: out }], 2)[0]!.number).toBe(1); // no gap
  });

  it('a host reads only its own receipts', () => {
    const { host, other, a, receipts } = setup();
    const [r] = receipts.add(host, [{ adapter: a, input: 'mine', output: out }], 10);
    expect(receipts.get(host, r!.id)).toMatchObject({ number: 0, input: 'mine', output: out });
    expect(() => receipts.get(other, r!.id)).toThrow(expect.objectContaining({ code: 'ZKPOA_ERR_NOT_FOUND' }));
  });
});
