import { readFile } from 'node:fs/promises';
import { readR1cs } from 'r1csfile';
import * as snarkjs from 'snarkjs';
import { FIELD_MODULUS } from '../../attribution/constants.js';

/**
 * A witness-level view of a compiled circuit for soundness tests: compute the honest
 * witness, overwrite hint signals as a cheating prover would (recomputing what it
 * can), and list the constraints that the tampered witness violates.
 */
type Lc = Map<number, bigint>;

export interface CircuitUnderTest {
  nPublic: number;
  witness(input: Record<string, unknown>): Promise<bigint[]>;
  /** indices of violated constraints (empty: the witness satisfies the circuit) */
  violated(w: readonly bigint[]): number[];
  /** witness index of a named signal, e.g. "main.payout[0]" */
  index(name: string): number;
  has(name: string): boolean;
}

const mod = (x: bigint) => ((x % FIELD_MODULUS) + FIELD_MODULUS) % FIELD_MODULUS;

export async function loadCircuit(paths: { r1cs: string; wasm: string; sym: string }): Promise<CircuitUnderTest> {
  const r1cs = await readR1cs(paths.r1cs, { loadConstraints: true, loadMap: false, singleThread: true });
  const Fr = r1cs.curve.Fr;
  const toLc = (o: Record<string, Uint8Array>): Lc => new Map(Object.entries(o).map(([k, v]) => [Number(k), Fr.toObject(v) as bigint]));
  const constraints: [Lc, Lc, Lc][] = r1cs.constraints.map((c: Record<string, Uint8Array>[]) => [toLc(c[0]!), toLc(c[1]!), toLc(c[2]!)]);
  await r1cs.curve.terminate?.();
  const names = new Map<string, number>();
  for (const line of (await readFile(paths.sym, 'utf8')).split('\n')) {
    const [, varIdx, , name] = line.split(',');
    if (name && Number(varIdx) >= 0) names.set(name, Number(varIdx));
  }
  const wasm = await readFile(paths.wasm);
  const evalLc = (lc: Lc, w: readonly bigint[]) => {
    let acc = 0n;
    for (const [i, c] of lc) acc += c * w[i]!;
    return mod(acc);
  };
  return {
    nPublic: r1cs.nOutputs + r1cs.nPubInputs,
    async witness(input) {
      const out: { type: 'mem'; data?: Uint8Array } = { type: 'mem' };
      await (snarkjs as unknown as { wtns: { calculate(i: unknown, w: unknown, o: unknown): Promise<void> } }).wtns.calculate(input, { type: 'mem', data: wasm }, out);
      const json = await (snarkjs as unknown as { wtns: { exportJson(w: unknown): Promise<bigint[]> } }).wtns.exportJson(out);
      return json.map((x) => BigInt(x));
    },
    violated(w) {
      const bad: number[] = [];
      constraints.forEach(([a, b, c], i) => {
        if (mod(evalLc(a, w) * evalLc(b, w) - evalLc(c, w)) !== 0n) bad.push(i);
      });
      return bad;
    },
    index(name) {
      const i = names.get(name);
      if (i === undefined) throw new Error(`no surviving signal named ${name}`);
      return i;
    },
    has: (name) => names.has(name),
  };
}
