import { hostname } from 'node:os';
import { ZkpoaError } from '../attribution/errors.js';
import type { Job, JobQueue } from './store/jobs.js';

/**
 * Claims jobs of one kind from a JobQueue and runs up to `concurrency` of them at once,
 * renewing each lease while its handler works. The handler's value completes the job;
 * a throw fails it, retried unless `retry(err)` says no; the job's error starts with the
 * error's code when it has one (`ZKPOA_ERR_…: message`). `stop` stops claiming and
 * waits for the jobs in flight.
 */
export interface ConsumerOptions {
  kind: string;
  workerId?: string;
  concurrency?: number;
  leaseMs?: number;
  pollMs?: number;
  retry?: (err: unknown) => boolean;
  /** the queue could not be reached (claim, renew or fail threw); default: a line on stderr */
  onError?: (err: unknown) => void;
}

export type JobHandler = (job: Job, progress: (fraction: number) => void) => Promise<unknown>;

export class JobConsumer {
  readonly workerId: string;
  private running = false;
  private loopDone: Promise<void> | undefined;
  private readonly inFlight = new Set<Promise<void>>();

  constructor(
    private readonly queue: JobQueue,
    private readonly handler: JobHandler,
    private readonly opts: ConsumerOptions,
  ) {
    this.workerId = opts.workerId ?? `${hostname()}:${process.pid}:${opts.kind}`;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loopDone = this.loop();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loopDone;
    await Promise.all(this.inFlight);
  }

  private async loop(): Promise<void> {
    const lease = this.opts.leaseMs ?? 30_000;
    while (this.running) {
      if (this.inFlight.size < (this.opts.concurrency ?? 1)) {
        // a queue that cannot be reached (a network-backed one) is tried again after a pause
        const job = await this.queue.claim(this.opts.kind, this.workerId, lease).catch((err: unknown) => void this.report(err));
        if (job) {
          const p = this.run(job, lease).finally(() => this.inFlight.delete(p));
          this.inFlight.add(p);
          continue;
        }
      }
      await new Promise((r) => setTimeout(r, this.opts.pollMs ?? 200));
    }
  }

  private async run(job: Job, lease: number): Promise<void> {
    let progress: number | undefined;
    // One renewal in flight at a time, and at most one more with the latest progress:
    // progress reports come faster than a network queue answers, and out-of-order
    // renewals would move the progress backwards.
    let inFlight = false;
    let again = false;
    const renew = (): void => {
      if (inFlight) {
        again = true;
        return;
      }
      inFlight = true;
      void this.queue
        .renew(job.id, this.workerId, lease, progress)
        .catch((err: unknown) => this.report(err))
        .finally(() => {
          inFlight = false;
          if (again) {
            again = false;
            renew();
          }
        });
    };
    const timer = setInterval(renew, Math.max(50, lease / 3));
    try {
      const result = await this.handler(job, (f) => {
        progress = f;
        renew();
      });
      await this.queue.complete(job.id, this.workerId, result);
    } catch (err) {
      const message = err instanceof ZkpoaError ? `${err.code}: ${err.message}` : ((err as Error).message ?? String(err));
      await this.queue.fail(job.id, this.workerId, message, this.opts.retry?.(err) ?? true).catch((e: unknown) => this.report(e));
    } finally {
      clearInterval(timer);
    }
  }

  private report(err: unknown): void {
    (this.opts.onError ?? ((e) => console.error(`job consumer ${this.workerId}: ${(e as Error).message ?? String(e)}`)))(err);
  }
}
