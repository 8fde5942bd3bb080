/** Ranks of `xs` (0-based; ties get their mean rank). */
export function ranks(xs: readonly number[]): number[] {
  const idx = xs.map((v, i) => [v, i] as const).sort((a, b) => a[0] - b[0]);
  const r = new Array<number>(xs.length);
  for (let i = 0; i < idx.length; ) {
    let j = i;
    while (j + 1 < idx.length && idx[j + 1]![0] === idx[i]![0]) j++;
    for (let k = i; k <= j; k++) r[idx[k]![1]] = (i + j) / 2;
    i = j + 1;
  }
  return r;
}

/** Spearman's rank correlation of two equally long series (0 when either is constant). */
export function spearman(a: readonly number[], b: readonly number[]): number {
  const ra = ranks(a);
  const rb = ranks(b);
  const ma = ra.reduce((s, v) => s + v, 0) / ra.length;
  const mb = rb.reduce((s, v) => s + v, 0) / rb.length;
  let num = 0;
  let da = 0;
  let db = 0;
  ra.forEach((v, i) => {
    num += (v - ma) * (rb[i]! - mb);
    da += (v - ma) ** 2;
    db += (rb[i]! - mb) ** 2;
  });
  return da === 0 || db === 0 ? 0 : num / Math.sqrt(da * db);
}

/**
 * Up to `total` items split among `parts` by a Zipf law (s = 1), as community datanets are:
 * each part at least 2 items (the floors may leave a few unused); when there are too few for
 * that, at least 1 each, with what the floors leave over going to the largest parts so that
 * all `total` are used.
 */
export function zipfSizes(total: number, parts: number): number[] {
  if (parts > total) throw new RangeError(`${parts} parts need at least as many items; there are ${total}`);
  const weights = Array.from({ length: parts }, (_, i) => 1 / (i + 1));
  const wsum = weights.reduce((a, b) => a + b, 0);
  const sizes = weights.map((w) => Math.max(2, Math.floor((w / wsum) * total)));
  if (sizes.reduce((a, b) => a + b, 0) <= total) return sizes;
  const ones = weights.map((w) => 1 + Math.floor((w / wsum) * (total - parts)));
  for (let left = total - ones.reduce((a, b) => a + b, 0), c = 0; left > 0; left--, c = (c + 1) % ones.length) ones[c]!++;
  return ones;
}

/** The q-quantile of xs by the nearest-rank rule (q = 0.5: the median, q = 0.99: p99). */
export function quantile(xs: readonly number[], q: number): number {
  if (xs.length === 0) throw new RangeError('the quantile of no values');
  return [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))]!;
}

/** A draw of an index in [0, n) with P(i) ∝ 1/(i+1)^s: Zipf-distributed traffic over n items. */
export function zipfSampler(n: number, s: number, uniform: () => number): () => number {
  const cdf: number[] = [];
  for (let i = 0, acc = 0; i < n; i++) cdf.push((acc += 1 / (i + 1) ** s));
  const total = cdf.at(-1)!;
  return () => {
    const u = uniform() * total;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cdf[mid]! < u) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
}
