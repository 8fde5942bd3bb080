import { workerData } from 'node:worker_threads';
import * as snarkjs from 'snarkjs';
import type { Groth16Proof, PublicSignals, VerificationKey } from 'snarkjs';
import { useSingleThreadedCurve } from './snarkjs-threads.js';

/**
 * A prover pool worker: keys and wasm arrive once (workerData) and stay in memory;
 * each task is one proof or one verification on this worker's single-threaded curve.
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
const wasm = new Uint8Array(data.wasm);
const zkey = new Uint8Array(data.zkey);
const ready = useSingleThreadedCurve();

export default async function run(task: ProverTask): Promise<unknown> {
  await ready;
  if (task.kind === 'prove') {
    return snarkjs.groth16.fullProve(task.input, { type: 'mem', data: wasm }, { type: 'mem', data: zkey });
  }
  return snarkjs.groth16.verify(data.vkey, task.publicSignals, task.proof);
}
