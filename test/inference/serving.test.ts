import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend, tf } from '../../inference/backend.js';
import { Batcher } from '../../inference/batcher.js';
import { hashFeatures } from '../../inference/features.js';
import { forward, forwardMerged } from '../../inference/forward.js';
import { decodeAdapter, encodeAdapter } from '../../inference/lora.js';
import type { BaseModel } from '../../inference/model.js';
import { AdapterStore } from '../../inference/store.js';
import { adapterTensors, disposeAdapterTensors } from '../../inference/train.js';
import { mulberry32 } from '../../lib/random.js';
import { base, randomAdapter, tempDir } from './helpers.js';

const TOLERANCE = 1e-4; // absolute, on logits: batched and per-request paths sum in different orders
const texts = ['win a free cruise now!!! click here', 'meeting notes attached, see you at 10', 'cheap meds online no prescription', 'Re: the build is broken again', 'hello'];

let model: BaseModel;
let dir: string;
let store: AdapterStore;

beforeAll(async () => {
  model = await base();
  dir = await tempDir('zkpoa-adapters-');
  store = await AdapterStore.open(dir, model, { maxResidentAdapters: 3 });
  for (let i = 0; i < 6; i++) await store.put(randomAdapter(model, `a${i}`, 100 + i, i % 2 ? 4 : 8));
});

afterAll(() => store?.close());

function reference(adapterId: string, text: string, merged = false): Promise<number[]> {
  return store.get(adapterId).then((a) => {
    const t = adapterTensors(a);
    try {
      return tf.tidy(() => {
        const x = tf.tensor2d(hashFeatures(text), [1, model.spec.inputDim]);
        return Array.from((merged ? forwardMerged(model, x, t) : forward(model, x, t)).dataSync());
      });
    } finally {
      disposeAdapterTensors(t);
    }
  });
}

describe('multi-adapter serving', () => {
  it('reports the backend it runs on (wasm here, never the slow plain cpu by default)', async () => {
    const info = await initBackend();
    expect(['node-gpu', 'node', 'wasm']).toContain(info.name);
  });

  it.each(['host', 'tensor'] as const)('a mixed batch gives each request what a lone request with its adapter gives (%s kernel)', async (kernel) => {
    const batcher = new Batcher(store, { maxBatchSize: 16, maxWaitMs: 20, kernel });
    const reqs = Array.from({ length: 15 }, (_, i) => ({ adapterId: `a${(i * 7) % 3}`, text: texts[i % texts.length]! }));
    const results = await Promise.all(reqs.map((r) => batcher.infer(r)));
    expect(Math.max(...results.map((r) => r.batchSize))).toBeGreaterThan(1);
    for (const [i, r] of results.entries()) {
      const lone = await reference(reqs[i]!.adapterId, reqs[i]!.text);
      const merged = await reference(reqs[i]!.adapterId, reqs[i]!.text, true);
      r.logits.forEach((v, k) => {
        expect(Math.abs(v - lone[k]!)).toBeLessThan(TOLERANCE);
        expect(Math.abs(v - merged[k]!)).toBeLessThan(TOLERANCE);
      });
      expect(r.probabilities.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 6);
    }
    await batcher.close();
  });

  it('the host and tensor kernels agree on mixed ranks and dense inputs, and the backend picks one', async () => {
    const rand = mulberry32(5);
    // dense random features (no zeros), and a sparse row with negative values
    const inputs = [Float32Array.from({ length: model.spec.inputDim }, () => rand() - 0.5), hashFeatures('free money!!! $$$ act now'), new Float32Array(model.spec.inputDim)];
    inputs[2]![7] = -3;
    const reqs = Array.from({ length: 12 }, (_, i) => ({ adapterId: `a${i % 6}`, features: inputs[i % 3]! }));
    const run = async (kernel: 'host' | 'tensor') => {
      const batcher = new Batcher(store, { maxBatchSize: 12, maxWaitMs: 20, kernel });
      const out = await Promise.all(reqs.map((r) => batcher.infer(r)));
      await batcher.close();
      return out;
    };
    const host = await run('host');
    const tensor = await run('tensor');
    host.forEach((r, i) => r.logits.forEach((v, k) => expect(Math.abs(v - tensor[i]!.logits[k]!)).toBeLessThan(TOLERANCE)));
    // a resident adapter's tensors outlive the batch that made them
    const again = new Batcher(store, { maxBatchSize: 1, maxWaitMs: 0, kernel: 'tensor' });
    const once = await again.infer(reqs[0]!);
    expect((await again.infer(reqs[0]!)).logits).toEqual(once.logits);
    await again.close();
    expect(new Batcher(store).kernel).toBe(['wasm', 'cpu'].includes(tf.getBackend()) ? 'host' : 'tensor');
    expect(() => new Batcher(store, { kernel: 'gpu' as never })).toThrow(expect.objectContaining({ code: 'ZKPOA_ERR_INVALID_ARGUMENT' }));
  });

  it('evicting and reloading adapters gives identical outputs', async () => {
    const batcher = new Batcher(store, { maxBatchSize: 4, maxWaitMs: 0 });
    const first = await batcher.infer({ adapterId: 'a0', text: texts[0]! });
    const evictionsBefore = store.stats.evictions;
    for (const id of ['a1', 'a2', 'a3', 'a4', 'a5']) await batcher.infer({ adapterId: id, text: texts[1]! });
    expect(store.stats.evictions).toBeGreaterThan(evictionsBefore);
    expect(store.residentIds()).not.toContain('a0');
    const again = await batcher.infer({ adapterId: 'a0', text: texts[0]! });
    expect(again.logits).toEqual(first.logits);
    await batcher.close();
  });

  it('a batch with more distinct adapters than slots is split, not refused', async () => {
    const batcher = new Batcher(store, { maxBatchSize: 32, maxWaitMs: 20 });
    const results = await Promise.all(['a0', 'a1', 'a2', 'a3', 'a4', 'a5'].map((adapterId) => batcher.infer({ adapterId, text: 'split me' })));
    expect(results.every((r) => r.batchSize <= 3)).toBe(true);
    await batcher.close();
  });

  it('rejects a corrupt adapter file with a clear error, and serves the other requests of the batch', async () => {
    const bytes = await readFile(join(dir, 'a5.lora'));
    bytes[bytes.length - 100] ^= 0xff;
    const broken = await tempDir('zkpoa-broken-');
    await writeFile(join(broken, 'good.lora'), encodeAdapter({ ...randomAdapter(model, 'good', 9) }));
    await writeFile(join(broken, 'bad.lora'), bytes);
    const s = await AdapterStore.open(broken, model, { maxResidentAdapters: 2 });
    const batcher = new Batcher(s, { maxBatchSize: 8, maxWaitMs: 10 });
    const [bad, good] = await batcher.inferMany([
      { adapterId: 'bad', text: 'x y' },
      { adapterId: 'good', text: 'x y' },
    ]);
    expect(bad).toMatchObject({ status: 'rejected', reason: { code: 'ZKPOA_ERR_ADAPTER_CORRUPT' } });
    expect((bad as PromiseRejectedResult).reason.message).toMatch(/checksum mismatch/);
    expect(good?.status).toBe('fulfilled');
    await batcher.close();
    s.close();
  });

  it.each([
    ['a huge alpha', (m: Record<string, unknown>) => ({ ...m, alpha: 1e6 })],
    ['layers that are not a list', (m: Record<string, unknown>) => ({ ...m, layers: 'dense1' })],
    ['a fractional layer size', (m: Record<string, unknown>) => ({ ...m, layers: (m.layers as { inDim: number }[]).map((l) => ({ ...l, inDim: l.inDim + 0.5 })) })],
    ['a base model that is not a string', (m: Record<string, unknown>) => ({ ...m, baseModel: 7 })],
  ])('rejects an adapter file with %s as corrupt, with a typed error', (_why, edit) => {
    const a = randomAdapter(model, 'hostile', 11);
    const bytes = encodeAdapter({ ...a, meta: edit(a.meta as unknown as Record<string, unknown>) as never });
    expect(() => decodeAdapter(bytes)).toThrow(expect.objectContaining({ code: 'ZKPOA_ERR_ADAPTER_CORRUPT' }));
  });

  it('refuses an adapter trained on another base', async () => {
    const other = randomAdapter(model, 'foreign', 3);
    other.meta.baseModel = 'f'.repeat(64);
    await expect(store.put(other)).rejects.toMatchObject({ code: 'ZKPOA_ERR_ADAPTER_MISMATCH' });
    expect(() => decodeAdapter(encodeAdapter(other), model)).toThrow(expect.objectContaining({ code: 'ZKPOA_ERR_ADAPTER_MISMATCH' }));
  });

  it.each([
    [{ adapterId: 'nope', text: 'hi' }, 'ZKPOA_ERR_UNKNOWN_ADAPTER'],
    [{ adapterId: 42, text: 'hi' }, 'ZKPOA_ERR_UNKNOWN_ADAPTER'],
    [{ adapterId: 'a0', text: '   ' }, 'ZKPOA_ERR_INPUT'],
    [{ adapterId: 'a0', text: 7 }, 'ZKPOA_ERR_INPUT'],
    [{ adapterId: 'a0' }, 'ZKPOA_ERR_INPUT'],
    [{ adapterId: 'a0', text: 'a', features: [1] }, 'ZKPOA_ERR_INPUT'],
    [{ adapterId: 'a0', features: [1, 2, 3] }, 'ZKPOA_ERR_INPUT'],
    [{ adapterId: 'a0', features: new Array(4096).fill(Number.NaN) }, 'ZKPOA_ERR_INPUT'],
    [{ adapterId: 'a0', features: 'abc' }, 'ZKPOA_ERR_INPUT'],
    [null, 'ZKPOA_ERR_INPUT'],
  ])('rejects a malformed request %# with a typed error', async (req, code) => {
    const batcher = new Batcher(store);
    await expect(batcher.infer(req as never)).rejects.toMatchObject({ code });
    await batcher.close();
  });

  it('refuses work beyond its queue bound and after close', async () => {
    const batcher = new Batcher(store, { maxQueue: 2, maxWaitMs: 50 });
    const ok = [batcher.infer({ adapterId: 'a0', text: 'one' }), batcher.infer({ adapterId: 'a0', text: 'two' })];
    await expect(batcher.infer({ adapterId: 'a0', text: 'three' })).rejects.toMatchObject({ code: 'ZKPOA_ERR_OVERLOADED' });
    await Promise.all(ok);
    await batcher.close();
    await expect(batcher.infer({ adapterId: 'a0', text: 'late' })).rejects.toMatchObject({ code: 'ZKPOA_ERR_CLOSED' });
  });
});
