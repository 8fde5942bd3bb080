import { workerData } from 'node:worker_threads';
import * as snarkjs from 'snarkjs';
import type { Groth16Proof, PublicSignals, VerificationKey } from 'snarkjs';
import { Groth16Engine } from './groth16.js';
import { useSingleThreadedCurve } from './snarkjs-threads.js';

/**
 * A prover pool worker: keys and wasm arrive once (workerData), are parsed once and
 * stay in memory; each task is one proof (Groth16Engine) or one verification, on this
 * worker's single-threaded curve.
 */
export interface ProverWorkerData {
  wasm: Uint8Array;
  zkey: Uint8Array;
  vkey: VerificationKey;
}

export type ProverTask =
  | { kind: 'prove'; input: Record<string, unknown> }
  | { kind: 'verify'; proof: Groth16Proof; publicSignals: PublicSignals };

const data = (workerData as { data: ProverWorkerData }).data;
// the proving key arrives in shared memory (prover.ts): a view, never a copy per worker
const view = (b: Uint8Array) => new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
const engine = useSingleThreadedCurve().then(() => Groth16Engine.load(view(data.zkey), new Uint8Array(data.wasm)));

export default async function run(task: ProverTask): Promise<unknown> {
  const prover = await engine;
  if (task.kind === 'prove') return prover.prove(task.input);
  return snarkjs.groth16.verify(data.vkey, task.publicSignals, task.proof);
}
