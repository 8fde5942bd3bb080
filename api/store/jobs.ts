import { randomUUID } from 'node:crypto';
import { ZkpoaError } from '../../attribution/errors.js';
import type { Db } from './db.js';

/**
 * Durable jobs (proofs, fine-tuning) behind a small interface, so that many prover
 * hosts can share work on an existing engine (`BullmqJobQueue` in bullmq-queue.ts, on
 * Redis); the embedded default keeps them in SQLite and needs no server. Every method
 * is asynchronous so that a network-backed queue can implement it.
 *
 * A worker claims a job with a lease and renews it while it works. A worker that dies
 * (kill -9) stops renewing; once the lease expires the job is claimable again. A job's
 * result is written once: completing an already-completed job is refused, so a
 * receipt is never proven twice into the store.
 */
export type JobStatus = 'queued' | 'running' | 'done' | 'failed';

export interface Job<P = unknown, R = unknown> {
  id: string;
  kind: string;
  /** unique per kind: enqueueing the same key again returns the existing job */
  key: string;
  status: JobStatus;
  payload: P;
  result?: R;
  error?: string;
  attempts: number;
  progress?: number;
  createdAt: string;
  updatedAt: string;
}

export interface JobQueue {
  /** Adds a job, or returns the existing job of this (kind, key) whatever its state. */
  enqueue<P>(kind: string, key: string, payload: P): Promise<Job<P>>;
  get(id: string): Promise<Job | undefined>;
  byKey(kind: string, key: string): Promise<Job | undefined>;
  /** The oldest claimable job of a kind, leased to `worker` for `leaseMs`. */
  claim(kind: string, worker: string, leaseMs: number): Promise<Job | undefined>;
  /** Extends `worker`'s lease (and records progress); false once the worker no longer holds the job. */
  renew(id: string, worker: string, leaseMs: number, progress?: number): Promise<boolean>;
  /** Stores the result once; refused (ZKPOA_ERR_LEASE_LOST) unless `worker` holds the job. */
  complete<R>(id: string, worker: string, result: R): Promise<void>;
  /** Back to the queue (`retry`) or failed for good; ignored unless `worker` holds the job. */
  fail(id: string, worker: string, error: string, retry: boolean): Promise<void>;
  /** Puts a failed job back in the queue with a fresh attempt budget (an operator's or a client's retry). */
  requeue(id: string): Promise<Job | undefined>;
  /** Releases the queue's own connections (never the database it was given). */
  close(): Promise<void>;
}

type Row = Record<string, unknown>;

export const JOBS_MIGRATION = `
  CREATE TABLE jobs (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('queued', 'running', 'done', 'failed')),
    payload TEXT NOT NULL,
    result TEXT,
    error TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL DEFAULT 5,
    progress REAL,
    worker TEXT,
    lease_until INTEGER,           -- epoch ms
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (kind, key)
  );
  CREATE INDEX jobs_claimable ON jobs (kind, status, created_at);
`;

const toJob = (r: Row): Job => ({
  id: r.id as string,
  kind: r.kind as string,
  key: r.key as string,
  status: r.status as JobStatus,
  payload: JSON.parse(r.payload as string),
  ...(r.result != null ? { result: JSON.parse(r.result as string) } : {}),
  ...(r.error != null ? { error: r.error as string } : {}),
  attempts: r.attempts as number,
  ...(r.progress != null ? { progress: r.progress as number } : {}),
  createdAt: r.created_at as string,
  updatedAt: r.updated_at as string,
});

/**
 * The embedded queue. Each method does its work synchronously (better-sqlite3), inside
 * one transaction where it reads and writes, and only hands back a settled promise, so
 * it stays atomic across processes sharing the database file.
 */
export class SqliteJobQueue implements JobQueue {
  constructor(
    private readonly db: Db,
    private readonly now: () => number = Date.now,
  ) {}

  async enqueue<P>(kind: string, key: string, payload: P): Promise<Job<P>> {
    const ts = new Date(this.now()).toISOString();
    this.db
      .prepare("INSERT INTO jobs (id, kind, key, status, payload, created_at, updated_at) VALUES (?, ?, ?, 'queued', ?, ?, ?) ON CONFLICT (kind, key) DO NOTHING")
      .run(`job_${randomUUID()}`, kind, key, JSON.stringify(payload), ts, ts);
    return this.byKeySync(kind, key) as Job<P>;
  }

  async get(id: string): Promise<Job | undefined> {
    return this.getSync(id);
  }

  async byKey(kind: string, key: string): Promise<Job | undefined> {
    return this.byKeySync(kind, key);
  }

  async claim(kind: string, worker: string, leaseMs: number): Promise<Job | undefined> {
    const now = this.now();
    return this.db.transaction(() => {
      const r = this.db
        .prepare("SELECT * FROM jobs WHERE kind = ? AND (status = 'queued' OR (status = 'running' AND lease_until < ?)) ORDER BY created_at LIMIT 1")
        .get(kind, now) as Row | undefined;
      if (!r) return undefined;
      if ((r.attempts as number) >= (r.max_attempts as number)) {
        this.db.prepare("UPDATE jobs SET status = 'failed', error = COALESCE(error, 'too many attempts'), updated_at = ? WHERE id = ?").run(new Date(now).toISOString(), r.id);
        return undefined;
      }
      this.db
        .prepare("UPDATE jobs SET status = 'running', worker = ?, lease_until = ?, attempts = attempts + 1, updated_at = ? WHERE id = ?")
        .run(worker, now + leaseMs, new Date(now).toISOString(), r.id);
      return this.getSync(r.id as string);
    })();
  }

  async renew(id: string, worker: string, leaseMs: number, progress?: number): Promise<boolean> {
    const info = this.db
      .prepare("UPDATE jobs SET lease_until = ?, progress = COALESCE(?, progress), updated_at = ? WHERE id = ? AND worker = ? AND status = 'running'")
      .run(this.now() + leaseMs, progress ?? null, new Date(this.now()).toISOString(), id, worker);
    return info.changes === 1;
  }

  async complete<R>(id: string, worker: string, result: R): Promise<void> {
    const info = this.db
      .prepare("UPDATE jobs SET status = 'done', result = ?, progress = 1, lease_until = NULL, updated_at = ? WHERE id = ? AND worker = ? AND status = 'running'")
      .run(JSON.stringify(result), new Date(this.now()).toISOString(), id, worker);
    if (info.changes !== 1) throw new ZkpoaError('ZKPOA_ERR_LEASE_LOST', `job ${id} is not held by ${worker} (its lease expired or it is finished)`);
  }

  async requeue(id: string): Promise<Job | undefined> {
    this.db
      .prepare("UPDATE jobs SET status = 'queued', attempts = 0, error = NULL, worker = NULL, lease_until = NULL, updated_at = ? WHERE id = ? AND status = 'failed'")
      .run(new Date(this.now()).toISOString(), id);
    return this.getSync(id);
  }

  async fail(id: string, worker: string, error: string, retry: boolean): Promise<void> {
    this.db
      .prepare("UPDATE jobs SET status = ?, error = ?, lease_until = NULL, updated_at = ? WHERE id = ? AND worker = ? AND status = 'running'")
      .run(retry ? 'queued' : 'failed', error, new Date(this.now()).toISOString(), id, worker);
  }

  /** The database belongs to the caller, who closes it. */
  async close(): Promise<void> {}

  private getSync(id: string): Job | undefined {
    const r = this.db.prepare('SELECT * FROM jobs WHERE id = ?').get(id) as Row | undefined;
    return r ? toJob(r) : undefined;
  }

  private byKeySync(kind: string, key: string): Job | undefined {
    const r = this.db.prepare('SELECT * FROM jobs WHERE kind = ? AND key = ?').get(kind, key) as Row | undefined;
    return r ? toJob(r) : undefined;
  }
}
