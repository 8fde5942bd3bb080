import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ZkpoaError } from '../attribution/errors.js';

/** One compiled form of a circuit template, declared as data in variants.json. */
export interface CircuitVariant {
  /** on-chain variant id in the verifier lookup; never reused for another key */
  id: number;
  name: string;
  template: string;
  /** circom source file in circuits/ */
  file: string;
  /** C contributors (a power of two), K features, and for a batch circuit M answers (a power of two) */
  params: { contributors: number; features: number; answers?: number };
  /** smallest powers-of-tau power that fits its constraints */
  ptauPower: number;
  /**
   * default: what the service proves with while a datanet fits it; scale: the larger circuits
   * the service moves an adapter to when its datanet outgrows the default (keys built when
   * first needed); test, test-scale: their small counterparts the tests build; baseline: the
   * per-answer circuit bench:prover compares against
   */
  purpose: 'test' | 'test-scale' | 'default' | 'scale' | 'baseline';
}

export const CIRCUITS_DIR = fileURLToPath(new URL('.', import.meta.url));

export const VARIANTS: readonly CircuitVariant[] = JSON.parse(
  readFileSync(new URL('./variants.json', import.meta.url), 'utf8'),
) as CircuitVariant[];

export function variantByName(name: string): CircuitVariant {
  const v = VARIANTS.find((x) => x.name === name);
  if (!v) {
    throw new ZkpoaError('ZKPOA_ERR_UNKNOWN_VARIANT', `unknown circuit variant ${JSON.stringify(name)}; known: ${VARIANTS.map((x) => x.name).join(', ')}`);
  }
  return v;
}

export function variantFor(purpose: CircuitVariant['purpose']): CircuitVariant {
  const v = VARIANTS.find((x) => x.purpose === purpose);
  if (!v) throw new ZkpoaError('ZKPOA_ERR_UNKNOWN_VARIANT', `no circuit variant with purpose ${purpose}`);
  return v;
}

/**
 * The circuits a service proves with, smallest first: the default (or test) variant and the
 * larger ones of the same K it moves to when a datanet has more contributors.
 */
export function variantLadder(kind: 'service' | 'test'): CircuitVariant[] {
  const purposes: readonly CircuitVariant['purpose'][] = kind === 'service' ? ['default', 'scale'] : ['test', 'test-scale'];
  return VARIANTS.filter((v) => purposes.includes(v.purpose)).sort((a, b) => a.params.contributors - b.params.contributors);
}

/** The smallest variant of a ladder that holds `contributors` leaves, or ZKPOA_ERR_CAPACITY. */
export function variantForContributors(ladder: readonly CircuitVariant[], contributors: number): CircuitVariant {
  const v = ladder.find((x) => x.params.contributors >= contributors);
  if (!v) {
    const largest = ladder.at(-1);
    throw new ZkpoaError('ZKPOA_ERR_CAPACITY', `${contributors} contributors: the largest circuit this service proves with${largest ? `, ${largest.name}, holds ${largest.params.contributors}` : ' is none'}`);
  }
  return v;
}

/** The circom main component for a variant: template arguments in declaration order. */
export function mainComponentSource(v: CircuitVariant): string {
  return [
    'pragma circom 2.1.6;',
    `include "circuits/${v.file}";`,
    `component main = ${v.template}(${[v.params.contributors, v.params.features, ...(v.params.answers !== undefined ? [v.params.answers] : [])].join(', ')});`,
    '',
  ].join('\n');
}
