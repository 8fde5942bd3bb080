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
  /** test: the small batch circuit tests build; default: what the service proves with; baseline: the per-answer circuit bench:prover compares against */
  purpose: 'test' | 'default' | 'baseline';
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

/** The circom main component for a variant: template arguments in declaration order. */
export function mainComponentSource(v: CircuitVariant): string {
  return [
    'pragma circom 2.1.6;',
    `include "circuits/${v.file}";`,
    `component main = ${v.template}(${[v.params.contributors, v.params.features, ...(v.params.answers !== undefined ? [v.params.answers] : [])].join(', ')});`,
    '',
  ].join('\n');
}
