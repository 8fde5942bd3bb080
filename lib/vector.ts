/** aᵀ·b in float64, summed in index order (the same bits on every machine). */
export function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

/** Orthonormalizes `vs` in place order by modified Gram–Schmidt; vectors dependent on the earlier ones (relative norm below `tolerance`) are dropped. */
export function orthonormalize(vs: readonly Float64Array[], tolerance = 1e-12): Float64Array[] {
  const basis: Float64Array[] = [];
  for (const w of vs) {
    const v = Float64Array.from(w);
    for (const u of basis) {
      const p = dot(u, v);
      for (let j = 0; j < v.length; j++) v[j]! -= p * u[j]!;
    }
    const norm = Math.sqrt(dot(v, v));
    if (norm > 0 && norm > tolerance * Math.sqrt(dot(w, w))) basis.push(v.map((x) => x / norm));
  }
  return basis;
}

/**
 * Eigenvalues and eigenvectors of a small symmetric matrix (cyclic Jacobi rotations),
 * largest eigenvalue first; `vectors[k]` belongs to `values[k]`.
 */
export function symmetricEigen(a: readonly (readonly number[])[]): { values: number[]; vectors: number[][] } {
  const n = a.length;
  const m = a.map((row) => [...row]);
  const v: number[][] = Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => (i === j ? 1 : 0)));
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += m[p]![q]! ** 2;
    if (off < 1e-30) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        if (m[p]![q] === 0) continue;
        const theta = (m[q]![q]! - m[p]![p]!) / (2 * m[p]![q]!);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const mkp = m[k]![p]!;
          const mkq = m[k]![q]!;
          m[k]![p] = c * mkp - s * mkq;
          m[k]![q] = s * mkp + c * mkq;
        }
        for (let k = 0; k < n; k++) {
          const mpk = m[p]![k]!;
          const mqk = m[q]![k]!;
          m[p]![k] = c * mpk - s * mqk;
          m[q]![k] = s * mpk + c * mqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = v[k]![p]!;
          const vkq = v[k]![q]!;
          v[k]![p] = c * vkp - s * vkq;
          v[k]![q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((i, j) => m[j]![j]! - m[i]![i]!);
  return { values: order.map((i) => m[i]![i]!), vectors: order.map((i) => v.map((row) => row[i]!)) };
}
