import { createHash } from 'node:crypto';
import type { Groth16Proof, PublicSignals, VerificationKey } from 'snarkjs';
import type { Prover } from '../prover/prover.js';
import { JobConsumer } from './job-consumer.js';
import type { JobQueue } from './store/jobs.js';

/**
 * Consumes proof jobs with a prover pool (as many at once as it has threads). Several of
 * these, on one machine or many sharing a queue, divide the work between them. A proof
 * job's kind names the verification key it must be proven for (`prove-<key hash>`), so a
 * worker holding other keys never claims it: its proof could not settle, and the batch
 * would wait for a worker with the right keys instead of being stranded.
 */
export interface ProveJobPayload {
  variant: string;
  /** circuit input (decimal strings) */
  input: Record<string, unknown>;
}

export interface ProveJobResult {
  proof: Groth16Proof;
  publicSignals: PublicSignals;
}

/** sha256 of a verification key's JSON: what names the keys a proof is made with. */
export const verificationKeyHash = (vkey: VerificationKey): string => createHash('sha256').update(JSON.stringify(vkey)).digest('hex');

/** The job kind of proofs made with one verification key. */
export const proveJobKind = (vkey: VerificationKey): string => `prove-${verificationKeyHash(vkey).slice(0, 16)}`;

export interface ProofWorkerOptions {
  variant: string;
  /** the verification key of the prover's keys: its jobs are the ones it claims */
  vkey: VerificationKey;
  workerId?: string;
  leaseMs?: number;
  pollMs?: number;
  concurrency?: number;
}

export class ProofWorker extends JobConsumer {
  constructor(queue: JobQueue, prover: Prover, opts: ProofWorkerOptions) {
    super(
      queue,
      async (job): Promise<ProveJobResult> => {
        const payload = job.payload as ProveJobPayload;
        if (payload.variant !== opts.variant) throw Object.assign(new Error(`this worker proves ${opts.variant}, the job needs ${payload.variant}`), { permanent: true });
        const result = await prover.prove(payload.input);
        // stored only if it verifies with this worker's key: a corrupted key or a miscomputation is retried, never kept
        if (!(await prover.verify(result.proof, result.publicSignals))) throw new Error('the proof does not verify with this worker’s verification key');
        return result;
      },
      {
        kind: proveJobKind(opts.vkey),
        concurrency: opts.concurrency ?? prover.threads,
        leaseMs: opts.leaseMs ?? 120_000,
        ...(opts.workerId ? { workerId: opts.workerId } : {}),
        ...(opts.pollMs ? { pollMs: opts.pollMs } : {}),
        // an unsatisfiable input stays unsatisfiable, a wrong variant stays wrong; anything else is retried
        retry: (err) => (err as { code?: string }).code !== 'ZKPOA_ERR_PROVE' && !(err as { permanent?: boolean }).permanent,
      },
    );
  }
}
