import { afterEach, describe, expect, it } from 'vitest';
import { JobConsumer } from '../../api/job-consumer.js';
import type { Job, JobQueue } from '../../api/store/jobs.js';

/**
 * What every JobQueue promises, run against each implementation in real time. A store
 * is one queue's data (a SQLite file, a Redis prefix); `open` gives another handle on
 * it, as another host would have, so leases are taken over across handles.
 */
export interface QueueStore {
  open(): Promise<JobQueue>;
  close?(): Promise<void>;
}

export interface ContractOptions {
  /** a fresh, empty store */
  store: () => Promise<QueueStore>;
  /** lease of the tests where it must not lapse (ms; generous, so a loaded machine cannot make them flaky) */
  leaseMs?: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `f` until it gives a value (or `ms` pass). */
async function eventually<T>(f: () => Promise<T | undefined>, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`nothing after ${ms} ms`);
    await sleep(20);
  }
}

export function jobQueueContract(name: string, opts: ContractOptions): void {
  const lease = opts.leaseMs ?? 2_000;
  /** lease of the tests where it lapses */
  const lapse = 600;
  describe(`JobQueue contract: ${name}`, () => {
    const open: QueueStore[] = [];
    const handles: JobQueue[] = [];
    /** two handles on one fresh store: host A and host B */
    const hosts = async (): Promise<[JobQueue, JobQueue]> => {
      const store = await opts.store();
      open.push(store);
      const a = await store.open();
      const b = await store.open();
      handles.push(a, b);
      return [a, b];
    };
    afterEach(async () => {
      await Promise.all(handles.splice(0).map((h) => h.close()));
      await Promise.all(open.splice(0).map((s) => s.close?.()));
    });

    it('enqueue is idempotent per (kind, key): the first payload stays, any handle finds the job', async () => {
      const [a, b] = await hosts();
      const j = await a.enqueue('prove', 'receipt-1', { n: 1 });
      expect(j).toMatchObject({ kind: 'prove', key: 'receipt-1', status: 'queued', payload: { n: 1 }, attempts: 0 });
      expect(j.id).toMatch(/^job_[0-9a-f-]{36}$/); // what GET /v1/jobs/:id accepts
      expect(Date.parse(j.createdAt)).not.toBeNaN();
      expect(await b.enqueue('prove', 'receipt-1', { n: 2 })).toMatchObject({ id: j.id, payload: { n: 1 } });
      expect(await b.get(j.id)).toMatchObject({ id: j.id, key: 'receipt-1', status: 'queued' });
      expect(await b.byKey('prove', 'receipt-1')).toMatchObject({ id: j.id });
      const other = await a.enqueue('finetune', 'receipt-1', {});
      expect(other.id).not.toBe(j.id); // keys are per kind
      expect(await a.get('job_00000000-0000-0000-0000-000000000000')).toBeUndefined();
      expect(await a.byKey('prove', 'nobody')).toBeUndefined();
    });

    it('claims the oldest job first, one worker per job, and only of the kind asked', async () => {
      const [a, b] = await hosts();
      const ids: string[] = [];
      for (const key of ['r0', 'r1', 'r2']) {
        ids.push((await a.enqueue('prove', key, { key })).id);
        await sleep(3); // distinct creation times
      }
      await a.enqueue('finetune', 'f0', {});
      const first = await a.claim('prove', 'w1', lease);
      expect(first).toMatchObject({ id: ids[0], status: 'running', attempts: 1, payload: { key: 'r0' } });
      expect((await b.claim('prove', 'w2', lease))?.id).toBe(ids[1]);
      expect((await a.claim('prove', 'w3', lease))?.id).toBe(ids[2]);
      expect(await b.claim('prove', 'w4', lease)).toBeUndefined();
      expect(await b.get(ids[0]!)).toMatchObject({ status: 'running' });
      expect(await b.claim('finetune', 'w5', lease)).toMatchObject({ key: 'f0' });
    });

    it('a lapsed lease lets another worker claim the job; the first can no longer complete it', async () => {
      const [a, b] = await hosts();
      const j = await a.enqueue('prove', 'r', {});
      expect((await a.claim('prove', 'w1', lapse))?.id).toBe(j.id);
      expect(await b.claim('prove', 'w2', lapse)).toBeUndefined(); // leased
      // w1 died: nobody renews
      const again = await eventually(() => b.claim('prove', 'w2', lease));
      expect(again).toMatchObject({ id: j.id, status: 'running', attempts: 2 });
      await expect(a.complete(j.id, 'w1', 'late')).rejects.toMatchObject({ code: 'ZKPOA_ERR_LEASE_LOST' });
      expect(await a.renew(j.id, 'w1', lease)).toBe(false);
      await b.complete(j.id, 'w2', { proof: 'p' });
      expect(await a.get(j.id)).toMatchObject({ status: 'done', result: { proof: 'p' }, attempts: 2 });
    });

    it('renewing keeps the lease and records progress', async () => {
      const [a, b] = await hosts();
      const j = await a.enqueue('prove', 'r', {});
      await a.claim('prove', 'w1', lapse);
      // renewed every third of the lease, the job outlives several leases
      for (let i = 1; i <= 8; i++) {
        await sleep(lapse / 3);
        expect(await a.renew(j.id, 'w1', lapse, i / 10)).toBe(true);
        expect(await b.claim('prove', 'w2', lapse)).toBeUndefined();
      }
      expect(await b.renew(j.id, 'w2', lease)).toBe(false); // not the holder
      expect(await b.get(j.id)).toMatchObject({ status: 'running', progress: 0.8, attempts: 1 });
      expect(await a.renew(j.id, 'w1', lease)).toBe(true); // progress kept when not given; the lease is now long
      expect((await b.get(j.id))?.progress).toBe(0.8);
      await a.complete(j.id, 'w1', 'ok');
      expect(await b.get(j.id)).toMatchObject({ status: 'done', progress: 1, result: 'ok' });
    });

    it('completes once: a second completion is refused and the key is never queued again', async () => {
      const [a, b] = await hosts();
      const j = await a.enqueue('prove', 'receipt-9', { n: 1 });
      await a.claim('prove', 'w1', lease);
      await expect(b.complete(j.id, 'w2', 'not mine')).rejects.toMatchObject({ code: 'ZKPOA_ERR_LEASE_LOST' });
      await a.complete(j.id, 'w1', { proof: 'first' });
      await expect(a.complete(j.id, 'w1', { proof: 'twice' })).rejects.toMatchObject({ code: 'ZKPOA_ERR_LEASE_LOST' });
      await expect(b.complete(j.id, 'w2', { proof: 'other' })).rejects.toMatchObject({ code: 'ZKPOA_ERR_LEASE_LOST' });
      expect(await b.enqueue('prove', 'receipt-9', { n: 2 })).toMatchObject({ id: j.id, status: 'done', result: { proof: 'first' } });
      expect(await b.claim('prove', 'w2', lease)).toBeUndefined();
      expect(await b.requeue(j.id)).toMatchObject({ status: 'done' }); // only failed jobs are requeued
    });

    it('fails with a retry (back in the queue) or for good; a non-holder cannot fail a job', async () => {
      const [a, b] = await hosts();
      const j = await a.enqueue('prove', 'r', {});
      await a.claim('prove', 'w1', lease);
      await b.fail(j.id, 'w2', 'not mine', false); // ignored
      expect(await a.get(j.id)).toMatchObject({ status: 'running' });
      await a.fail(j.id, 'w1', 'transient', true);
      expect(await b.get(j.id)).toMatchObject({ status: 'queued', error: 'transient', attempts: 1 });
      expect(await b.claim('prove', 'w2', lease)).toMatchObject({ id: j.id, attempts: 2 });
      await b.fail(j.id, 'w2', 'unsatisfiable', false);
      expect(await a.get(j.id)).toMatchObject({ status: 'failed', error: 'unsatisfiable', attempts: 2 });
      expect(await a.claim('prove', 'w3', lease)).toBeUndefined();
      await expect(a.complete(j.id, 'w2', 'late')).rejects.toMatchObject({ code: 'ZKPOA_ERR_LEASE_LOST' });
    });

    it('gives up after five attempts; requeue gives a failed job a fresh budget', async () => {
      const [a, b] = await hosts();
      const j = await a.enqueue('prove', 'r', {});
      for (let i = 1; i <= 5; i++) {
        expect(await a.claim('prove', `w${i}`, lease)).toMatchObject({ id: j.id, attempts: i });
        await a.fail(j.id, `w${i}`, `try ${i}`, true);
      }
      expect(await b.claim('prove', 'w6', lease)).toBeUndefined();
      expect(await b.get(j.id)).toMatchObject({ status: 'failed', error: 'try 5', attempts: 5 });
      const back = await b.requeue(j.id);
      expect(back).toMatchObject({ id: j.id, status: 'queued', attempts: 0 });
      expect(back?.error).toBeUndefined();
      expect(await a.claim('prove', 'w7', lease)).toMatchObject({ id: j.id, attempts: 1 });
      expect(await a.requeue(j.id)).toMatchObject({ status: 'running' }); // a running job is left alone
      expect(await a.requeue('job_00000000-0000-0000-0000-000000000000')).toBeUndefined();
    });

    it('a job whose worker keeps dying counts each claim as an attempt and fails after five', async () => {
      const [a, b] = await hosts();
      const short = 100;
      const j = await a.enqueue('prove', 'crashy', {});
      for (let i = 1; i <= 5; i++) {
        const q = i % 2 ? a : b;
        expect(await eventually(() => q.claim('prove', `w${i}`, short))).toMatchObject({ id: j.id, attempts: i });
      }
      await eventually(async () => ((await a.get(j.id))?.status === 'failed' ? true : (await b.claim('prove', 'w6', short)) && undefined));
      const failed = (await a.get(j.id))!;
      expect(failed).toMatchObject({ status: 'failed', error: 'too many attempts' });
      expect(failed.attempts).toBeGreaterThanOrEqual(5); // BullMQ counts the refused sixth start too
    });

    it('two consumers on two hosts share the work: every job runs once, with progress', async () => {
      const [a, b] = await hosts();
      const keys = Array.from({ length: 8 }, (_, i) => `r${i}`);
      for (const k of keys) await a.enqueue('prove', k, { k });
      const ran: string[] = [];
      const handler = async (job: Job, progress: (f: number) => void) => {
        ran.push(job.key);
        progress(0.5);
        await sleep(30);
        return { by: job.key };
      };
      const consumers = [a, b].map((q, i) => new JobConsumer(q, handler, { kind: 'prove', workerId: `host${i}`, concurrency: 2, leaseMs: lease, pollMs: 10 }));
      consumers.forEach((c) => c.start());
      try {
        await eventually(async () => ((await Promise.all(keys.map((k) => a.byKey('prove', k)))).every((j) => j?.status === 'done') ? true : undefined));
      } finally {
        await Promise.all(consumers.map((c) => c.stop()));
      }
      expect(ran.sort()).toEqual(keys);
      for (const k of keys) expect(await b.byKey('prove', k)).toMatchObject({ status: 'done', attempts: 1, progress: 1, result: { by: k } });
    });
  });
}
