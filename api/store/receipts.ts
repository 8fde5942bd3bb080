import { createHash, randomUUID } from 'node:crypto';
import { ZkpoaError } from '../../attribution/errors.js';
import type { AdapterRow } from './adapters.js';
import type { Db } from './db.js';
import type { Host } from './hosts.js';

/**
 * Answers and their receipts. Every answer is numbered in its adapter's sequence when it
 * is served (0, 1, 2, … across index versions), in the same transaction that stores it,
 * so numbers are never skipped or reused; its input is kept for the auditor's replay.
 */
export interface Receipt {
  id: string;
  /** the adapter's service-wide key */
  adapterKey: string;
  host: number;
  number: number;
  input: string;
  output: ReceiptOutput;
  createdAt: string;
}

/** A classifier's answer, or a language model's generated text: what an auditor replays. */
export type ReceiptOutput = { label: string; probabilities: number[] } | GeneratedOutput;

export interface GeneratedOutput {
  text: string;
  /** tokens generated, and why generation ended ('end' or 'length') */
  tokens: number;
  finish: string;
  /** the request's sampling, so that the answer can be generated again */
  sampling: { maxTokens: number; temperature?: number; topK?: number; topP?: number; seed?: number };
  /** what generated it: the tensor backend and the base language model's hash (a replay is bit for bit only on the same) */
  generatedBy: { backend: string; model: string };
  /** the answer's spans in the adapter's datanet version: how many, and the answer tokens credited per contributor; null when the version's span index was being built */
  spans: { count: number; credit: Record<string, number> } | null;
}

type Row = Record<string, unknown>;
const toReceipt = (r: Row): Receipt => ({
  id: r.id as string,
  adapterKey: r.adapter_id as string,
  host: r.host as number,
  number: r.number as number,
  input: r.input as string,
  output: JSON.parse(r.output as string) as Receipt['output'],
  createdAt: r.created_at as string,
});

export class ReceiptStore {
  constructor(private readonly db: Db) {}

  /** How many answers (with their inputs) a host has stored. */
  count(host: Pick<Host, 'id'>): number {
    return (this.db.prepare('SELECT COUNT(*) n FROM receipts WHERE host = ?').get(host.id) as { n: number }).n;
  }

  /**
   * Stores answers with their inputs and numbers them per adapter, all or none, unless
   * that would take the host past `limit` stored answers (ZKPOA_ERR_INPUT_QUOTA).
   */
  add(host: Host, answers: readonly { adapter: AdapterRow; input: string; output: Receipt['output'] }[], limit: number): Receipt[] {
    const next = this.db.prepare('INSERT INTO receipt_sequences (adapter_id, next) VALUES (?, 1) ON CONFLICT (adapter_id) DO UPDATE SET next = next + 1 RETURNING next - 1 AS number');
    const insert = this.db.prepare('INSERT INTO receipts (id, adapter_id, host, number, input_hash, input, output, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
    return this.db.transaction(() => {
      const stored = this.count(host);
      if (stored + answers.length > limit) throw new ZkpoaError('ZKPOA_ERR_INPUT_QUOTA', `host ${host.id} stores ${stored} answers and may store at most ${limit}`);
      const now = new Date().toISOString();
      return answers.map((a) => {
        const { number } = next.get(a.adapter.key) as { number: number };
        const r: Receipt = { id: `rc_${randomUUID()}`, adapterKey: a.adapter.key, host: host.id, number, input: a.input, output: a.output, createdAt: now };
        insert.run(r.id, r.adapterKey, host.id, number, createHash('sha256').update(a.input).digest('hex'), a.input, JSON.stringify(a.output), now);
        return r;
      });
    })();
  }

  /** A receipt of this host (others' receipts are not found). */
  get(host: Pick<Host, 'id'>, id: string): Receipt {
    const r = this.db.prepare('SELECT * FROM receipts WHERE id = ? AND host = ?').get(id, host.id) as Row | undefined;
    if (!r || r.number === null) throw new ZkpoaError('ZKPOA_ERR_NOT_FOUND', `no receipt ${id}`);
    return toReceipt(r);
  }

  /** An adapter's receipts numbered from `from` (inclusive) to `to` (exclusive), in order. */
  range(adapterKey: string, from: number, to: number): Receipt[] {
    return (this.db.prepare('SELECT * FROM receipts WHERE adapter_id = ? AND number >= ? AND number < ? ORDER BY number').all(adapterKey, from, to) as Row[]).map(toReceipt);
  }

  /** The number the adapter's next answer will get (how many it has given). */
  nextNumber(adapterKey: string): number {
    return (this.db.prepare('SELECT next FROM receipt_sequences WHERE adapter_id = ?').get(adapterKey) as { next: number } | undefined)?.next ?? 0;
  }

  /** When the adapter's answer `number` was served. */
  servedAt(adapterKey: string, number: number): string | undefined {
    return (this.db.prepare('SELECT created_at FROM receipts WHERE adapter_id = ? AND number = ?').get(adapterKey, number) as { created_at: string } | undefined)?.created_at;
  }
}
