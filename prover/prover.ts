import { readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import type { Groth16Proof, PublicSignals, VerificationKey } from 'snarkjs';
import { ZkpoaError } from '../attribution/errors.js';
import { readLargeFile } from '../lib/large-file.js';
import { createTsPool } from '../lib/pool.js';
import type { ProverTask, ProverWorkerData } from './worker.js';

/** What a prover needs in memory: the witness generator, the proving key, the verification key. */
export interface ProverKeys {
  wasm: Uint8Array;
  zkey: Uint8Array;
  vkey: VerificationKey;
}

export interface ProofResult {
  proof: Groth16Proof;
  publicSignals: PublicSignals;
}

export interface ProverOptions {
  /** worker threads, one proof each at a time (default: the machine's cores) */
  threads?: number;
}

export interface Prover {
  readonly threads: number;
  /** Groth16 proof of one circuit input (decimal strings). */
  prove(input: Record<string, unknown>): Promise<ProofResult>;
  /** Checks a proof against the verification key; false for any invalid proof or signal. */
  verify(proof: Groth16Proof, publicSignals: PublicSignals): Promise<boolean>;
  /** Proofs in flight finish; then the workers stop. */
  close(): Promise<void>;
}

/** Reads built artifacts from the given paths (see prover/setup.ts artifactPaths). */
export async function loadProverKeys(paths: { wasm: string; zkey: string; vkey: string }): Promise<ProverKeys> {
  try {
    // the proving key in shared memory: every prover worker views the same bytes
    const [wasm, zkey, vkey] = await Promise.all([readFile(paths.wasm), readLargeFile(paths.zkey, { shared: true }), readFile(paths.vkey, 'utf8')]);
    return { wasm, zkey, vkey: JSON.parse(vkey) as VerificationKey };
  } catch (err) {
    throw new ZkpoaError('ZKPOA_ERR_ARTIFACTS_MISSING', `prover artifacts not readable (${(err as Error).message}); build them with \`npm run setup\``, { cause: err });
  }
}

/** Only the verification key (what verifiers and auditors need). */
export async function loadVerificationKey(path: string): Promise<VerificationKey> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as VerificationKey;
  } catch (err) {
    throw new ZkpoaError('ZKPOA_ERR_ARTIFACTS_MISSING', `verification key not readable (${(err as Error).message})`, { cause: err });
  }
}

export function createProver(keys: ProverKeys, opts: ProverOptions = {}): Prover {
  const threads = opts.threads ?? availableParallelism();
  if (!Number.isInteger(threads) || threads < 1) {
    throw new ZkpoaError('ZKPOA_ERR_INVALID_ARGUMENT', 'options.threads must be a positive integer');
  }
  const data: ProverWorkerData = keys;
  const pool = createTsPool(new URL('./worker.ts', import.meta.url), data, threads);
  let closed = false;
  const submit = async <T>(task: ProverTask): Promise<T> => {
    if (closed) throw new ZkpoaError('ZKPOA_ERR_CLOSED', 'prover is closed');
    return (await pool.run(task)) as T;
  };
  return {
    threads,
    async prove(input) {
      try {
        return await submit<ProofResult>({ kind: 'prove', input });
      } catch (err) {
        if (err instanceof ZkpoaError) throw err;
        // snarkjs reports an unsatisfied constraint as "Assert Failed" from the witness calculator.
        throw new ZkpoaError('ZKPOA_ERR_PROVE', `proof generation failed: ${(err as Error).message.split('\n')[0]}`, { cause: err });
      }
    },
    async verify(proof, publicSignals) {
      try {
        return await submit<boolean>({ kind: 'verify', proof, publicSignals });
      } catch (err) {
        if (err instanceof ZkpoaError) throw err;
        return false; // malformed proof or signals: not a valid proof
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      await pool.close();
    },
  };
}
