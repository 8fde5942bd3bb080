import { describe, expect, it } from 'vitest';
import { principalSubspace } from '../../inference/influence.js';
import { gaussian, mulberry32 } from '../../lib/random.js';
import { dot, orthonormalize, symmetricEigen } from '../../lib/vector.js';

describe('small linear algebra', () => {
  it('eigenvalues and eigenvectors of a symmetric matrix, largest first', () => {
    const { values, vectors } = symmetricEigen([
      [2, 1, 0],
      [1, 2, 0],
      [0, 0, 5],
    ]);
    expect(values.map((v) => Number(v.toFixed(12)))).toEqual([5, 3, 1]);
    expect(Math.abs(vectors[0]![2]!)).toBeCloseTo(1, 12);
    expect(Math.abs(vectors[1]![0]! - vectors[1]![1]!)).toBeLessThan(1e-12); // (1, 1, 0)/√2 up to sign
  });

  it('the principal subspace of vectors of rank r ≤ k spans them exactly, orthonormally', () => {
    const randn = gaussian(mulberry32(5));
    const directions = Array.from({ length: 3 }, () => Float64Array.from({ length: 40 }, randn));
    const d = Array.from({ length: 20 }, () => {
      const w = [randn(), randn(), randn()];
      return Float64Array.from({ length: 40 }, (_, j) => directions.reduce((s, v, i) => s + w[i]! * v[j]!, 0));
    });
    const u = principalSubspace(d, 5, 1);
    expect(u).toHaveLength(3); // the rank, not k
    u.forEach((a, i) => u.forEach((b, j) => expect(Math.abs(dot(a, b) - (i === j ? 1 : 0))).toBeLessThan(1e-10)));
    for (const v of d) {
      const projected = u.reduce((acc, a) => acc.map((x, j) => x + dot(a, v) * a[j]!), new Float64Array(40));
      expect(Math.sqrt(dot(projected.map((x, j) => x - v[j]!), projected.map((x, j) => x - v[j]!)))).toBeLessThan(1e-8 * Math.sqrt(dot(v, v)));
    }
    // and orthonormalize drops dependent vectors
    expect(orthonormalize([d[0]!, d[0]!.map((x) => 2 * x)])).toHaveLength(1);
  });
});
