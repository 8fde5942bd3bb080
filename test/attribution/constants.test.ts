import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { AMOUNT_BITS, AMOUNTS_PER_WORD, FEATURE_BITS, FEATURES_PER_CHUNK } from '../../attribution/constants.js';

// The circuit and the TypeScript reference share one numeric layout.
describe('constants mirror the circuit', () => {
  const src = readFileSync(new URL('../../circuits/attribution.circom', import.meta.url), 'utf8');
  const circuitVar = (name: string) => Number(new RegExp(`var ${name} = (\\d+);`).exec(src)?.[1]);
  it.each([
    ['FB', FEATURE_BITS],
    ['PACK', FEATURES_PER_CHUNK],
    ['AB', AMOUNT_BITS],
    ['APW', AMOUNTS_PER_WORD],
  ])('%s', (name, value) => {
    expect(circuitVar(name)).toBe(value);
  });
});
