import { mkdtemp } from 'node:fs/promises';
import { expect } from 'vitest';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { split } from '../../attribution/index.js';
import { queryFeatures, type AttributionIndex, type IndexRecord } from '../../inference/attribution-index.js';
import { initBackend } from '../../inference/backend.js';
import { hashFeatures } from '../../inference/features.js';
import { ensureBaseModel } from '../../inference/datasets.js';
import type { Adapter } from '../../inference/lora.js';
import type { BaseModel } from '../../inference/model.js';
import { randomAdapter as synthetic } from '../../inference/synthetic.js';

export async function base(): Promise<BaseModel> {
  await initBackend();
  return ensureBaseModel();
}

export const tempDir = (prefix: string) => mkdtemp(join(tmpdir(), prefix));

/** An adapter with random A and B (so it changes outputs), for serving tests. */
export const randomAdapter = (model: BaseModel, id: string, seed: number, rank = 8): Adapter => synthetic(model, id, seed, { rank, bScale: 0.5 });

export const ALICE = '0x' + 'a1'.repeat(20);
export const BOB = '0x' + 'b0'.repeat(20);
export const CAROL = '0x' + 'c0'.repeat(20);
export const DAVE = '0x' + 'd0'.repeat(20);

/**
 * A small datanet of four contributors from a shuffled pool; Alice can bring more records,
 * Carol's labels can be flipped. Alice starts with 40 records so that 300 more matter:
 * retraining without her (L-BFGS, the influence test's adapter) moves her share of the
 * payouts from 0.257 to 0.394; from a start of 150 it moved only from 0.427 to 0.436,
 * which no estimator can be asked to resolve.
 */
export function fourContributors(pool: readonly { text: string; label: number }[], { extraAlice = 0, flipCarol = false } = {}): IndexRecord[] {
  const take = (from: number, n: number, who: string, flip = false) => pool.slice(from, from + n).map((r) => ({ text: r.text, label: flip ? 1 - r.label : r.label, contributor: who }));
  return [...take(0, 40 + extraAlice, ALICE), ...take(600, 100, BOB), ...take(800, 100, CAROL, flipCarol), ...take(1000, 60, DAVE)];
}

/** Each contributor's share of the pool under the split rule, averaged over the queries. */
export function payoutShares(index: AttributionIndex, featurizer: Parameters<typeof queryFeatures>[1], queries: readonly { text: string }[]): Map<string, number> {
  const total = new Map(index.contributors.map((c) => [c.address, 0]));
  for (const q of queries) {
    const { t } = queryFeatures(index, featurizer, hashFeatures(q.text));
    const s = split(t, index.contributors.map((c) => c.g), 1_000_000n);
    index.contributors.forEach((c, i) => total.set(c.address, total.get(c.address)! + Number(s.payouts[i]!) / 1e6 / queries.length));
  }
  return total;
}

/** Adding helpful records raises Alice's share; flipping Carol's labels lowers hers (for any estimator). */
export async function expectSharesFollowTheData(
  attribution: (records: IndexRecord[]) => Promise<{ index: AttributionIndex; featurizer: Parameters<typeof queryFeatures>[1] }>,
  pool: readonly { text: string; label: number }[],
  queries: readonly { text: string }[],
): Promise<void> {
  const shares = async (opts?: { extraAlice?: number; flipCarol?: boolean }) => {
    const { index, featurizer } = await attribution(fourContributors(pool, opts));
    return payoutShares(index, featurizer, queries);
  };
  const s0 = await shares();
  expect((await shares({ extraAlice: 300 })).get(ALICE)!).toBeGreaterThan(s0.get(ALICE)!);
  expect((await shares({ flipCarol: true })).get(CAROL)!).toBeLessThan(s0.get(CAROL)!);
}
