import { hostname } from 'node:os';
import type { Groth16Proof, PublicSignals } from 'snarkjs';
import type { Prover } from '../prover/prover.js';
import type { JobQueue } from './store/jobs.js';

/**
 * Consumes `prove` jobs from a JobQueue with a prover pool: claims up to the pool's
 * size, renews each lease while proving, stores the proof once. Several of these, on
 * one machine or many sharing a queue, divide the work between them.
 */
export const PROVE_JOB = 'prove';

export interface ProveJobPayload {
  variant: string;
  /** circuit input (decimal strings) */
  input: Record<string, unknown>;
}

export interface ProveJobResult {
  proof: Groth16Proof;
  publicSignals: PublicSignals;
}

export interface ProofWorkerOptions {
  variant: string;
  workerId?: string;
  leaseMs?: number;
  pollMs?: number;
  concurrency?: number;
}

export class ProofWorker {
  readonly workerId: string;
  private running = false;
  private inFlight = new Set<Promise<void>>();
  private loopDone: Promise<void> | undefined;

  constructor(
    private readonly queue: JobQueue,
    private readonly prover: Prover,
    private readonly opts: ProofWorkerOptions,
  ) {
    this.workerId = opts.workerId ?? `${hostname()}:${process.pid}`;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loopDone = this.loop();
  }

  /** Stops claiming; proofs in flight finish and are stored. */
  async stop(): Promise<void> {
    this.running = false;
    await this.loopDone;
    await Promise.all(this.inFlight);
  }

  private async loop(): Promise<void> {
    const concurrency = this.opts.concurrency ?? this.prover.threads;
    const lease = this.opts.leaseMs ?? 30_000;
    while (this.running) {
      if (this.inFlight.size < concurrency) {
        const job = this.queue.claim(PROVE_JOB, this.workerId, lease);
        if (job) {
          const p = this.work(job.id, job.payload as ProveJobPayload, lease).finally(() => this.inFlight.delete(p));
          this.inFlight.add(p);
          continue;
        }
      }
      await new Promise((r) => setTimeout(r, this.opts.pollMs ?? 200));
    }
  }

  private async work(id: string, payload: ProveJobPayload, lease: number): Promise<void> {
    if (payload.variant !== this.opts.variant) {
      this.queue.fail(id, this.workerId, `this worker proves ${this.opts.variant}, the job needs ${payload.variant}`, false);
      return;
    }
    const renew = setInterval(() => this.queue.renew(id, this.workerId, lease), Math.max(50, lease / 3));
    try {
      const result: ProveJobResult = await this.prover.prove(payload.input);
      this.queue.complete(id, this.workerId, result);
    } catch (err) {
      const e = err as { code?: string; message?: string };
      // an unsatisfiable input will not become satisfiable: fail it; anything else is retried
      this.queue.fail(id, this.workerId, e.message ?? String(err), e.code !== 'ZKPOA_ERR_PROVE');
    } finally {
      clearInterval(renew);
    }
  }
}
