import { addressToField, quantize, type Leaf } from '../attribution/index.js';
import type { CircuitVariant } from '../circuits/variants.js';
import { gaussian, mulberry32 } from '../lib/random.js';
import type { AttributionClaim } from '../prover/witness.js';

/**
 * A seeded example attribution for the demo and the prover benchmark, until the
 * inference side produces real features: contributors with unit-scale feature
 * vectors, quantized with the shared core.
 */
export interface NamedLeaf extends Leaf {
  name: string;
}

export function exampleClaim(variant: CircuitVariant, seed = 1, contributors = Math.min(variant.params.contributors, 6)): { claim: AttributionClaim; leaves: NamedLeaf[] } {
  const K = variant.params.features;
  const gauss = gaussian(mulberry32(seed));
  const scale = { scale: 8000, bits: 16 };
  const direction = Array.from({ length: K }, gauss);
  const t = quantize(direction.map((x) => Math.max(-3.9, Math.min(3.9, x))), scale);
  const names = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'grace', 'heidi', 'ivan', 'judy', 'mallory', 'niaj', 'olivia', 'peggy', 'rupert', 'sybil'];
  const leaves: NamedLeaf[] = Array.from({ length: contributors }, (_, c) => {
    // alignment with the answer's direction decreases with c; the last contributor opposes it
    const align = c === contributors - 1 ? -0.6 : 1 - c / contributors;
    const g = direction.map((d) => Math.max(-3.9, Math.min(3.9, align * d + 0.5 * gauss())));
    const address = '0x' + (c + 1).toString(16).padStart(4, '0').repeat(10); // distinct for any C up to 65,535
    return { name: names[c % names.length]!, payee: addressToField(address), g: quantize(g, scale) };
  });
  return {
    leaves,
    claim: {
      t,
      leaves,
      adapterId: 1n,
      chainId: 31337n,
      settlement: addressToField('0x5fbdb2315678afecb367f032d93f642f64180aa3'),
      fee: 10n ** 16n, // 0.01 OPEN
      pool: 7n * 10n ** 15n, // 70% to contributors
      nonce: BigInt(seed),
      inputHash: BigInt(seed) * 1000003n,
      outputHash: BigInt(seed) * 998244353n,
    },
  };
}
