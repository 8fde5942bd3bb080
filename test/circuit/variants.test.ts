import { describe, expect, it } from 'vitest';
import { variantForContributors, variantLadder } from '../../circuits/variants.js';

describe('circuit ladders', () => {
  it('give a datanet the smallest circuit that holds its contributors, and refuse one that no circuit holds', () => {
    for (const kind of ['service', 'test'] as const) {
      const ladder = variantLadder(kind);
      expect(ladder.length).toBeGreaterThan(1);
      // one K, growing C, all batch circuits
      expect(new Set(ladder.map((v) => v.params.features)).size).toBe(1);
      ladder.forEach((v, i) => i > 0 && expect(v.params.contributors).toBeGreaterThan(ladder[i - 1]!.params.contributors));
      expect(ladder.every((v) => v.params.answers !== undefined)).toBe(true);
      const [small, next] = ladder;
      expect(variantForContributors(ladder, 1)).toBe(small);
      expect(variantForContributors(ladder, small!.params.contributors)).toBe(small);
      expect(variantForContributors(ladder, small!.params.contributors + 1)).toBe(next);
      const largest = ladder.at(-1)!.params.contributors;
      expect(() => variantForContributors(ladder, largest + 1)).toThrow(expect.objectContaining({ code: 'ZKPOA_ERR_CAPACITY', message: expect.stringContaining(`holds ${largest}`) }));
    }
  });
});
