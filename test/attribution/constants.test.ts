import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { AMOUNT_BITS, AMOUNTS_PER_WORD, FEATURE_BITS, FEATURES_PER_CHUNK, LEDGER_BITS, RECEIPT_NUMBER_BITS } from '../../attribution/constants.js';

// The circuits and the TypeScript reference share one numeric layout.
const circuitVars = (file: string) => {
  const src = readFileSync(new URL(`../../circuits/${file}`, import.meta.url), 'utf8');
  return (name: string) => Number(new RegExp(`var ${name} = (\\d+);`).exec(src)?.[1]);
};

describe('constants mirror the per-answer circuit', () => {
  const circuitVar = circuitVars('attribution.circom');
  it.each([
    ['FB', FEATURE_BITS],
    ['PACK', FEATURES_PER_CHUNK],
    ['AB', AMOUNT_BITS],
    ['APW', AMOUNTS_PER_WORD],
  ])('%s', (name, value) => {
    expect(circuitVar(name)).toBe(value);
  });
});

describe('constants mirror the batch circuit', () => {
  const circuitVar = circuitVars('attribution_batch.circom');
  it.each([
    ['FB', FEATURE_BITS],
    ['PACK', FEATURES_PER_CHUNK],
    ['AB', AMOUNT_BITS],
    ['NB', RECEIPT_NUMBER_BITS],
    ['LB', LEDGER_BITS],
  ])('%s', (name, value) => {
    expect(circuitVar(name)).toBe(value);
  });
});
