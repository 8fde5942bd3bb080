import type { Db } from './db.js';

/**
 * Batches of an adapter's answers: consecutive receipt numbers of one version, planned in
 * order so that each batch's ledger (old root → new root) is known before its proof, so
 * batches prove in parallel and settle in order. A batch row is written with its proof
 * job in one step of the planner, and records its settlement transaction.
 */
export interface Batch {
  id: string;
  adapterKey: string;
  version: number;
  first: number;
  count: number;
  jobId: string;
  /** the job kind, which names the verification key the proof must be made with */
  jobKind: string;
  /** binding, header, paid, receipts root, old root, new root: what the proof must prove */
  publicSignals: bigint[];
  /** each answer's receipt commitment, in number order */
  receipts: bigint[];
  /** each answer's quantized test features t */
  features: bigint[][];
  /** every (padded) leaf's cumulative amount after the batch */
  ledger: bigint[];
  /** what the batch pays each leaf */
  payouts: bigint[];
  settleTx?: string;
  /** the settlement transaction's gas, once settled */
  gasUsed?: bigint;
  settledAt?: string;
  createdAt: string;
}

type Row = Record<string, unknown>;
const big = (s: string) => (JSON.parse(s) as string[]).map(BigInt);
const json = (xs: readonly bigint[]) => JSON.stringify(xs.map(String));
const toBatch = (r: Row): Batch => ({
  id: r.id as string,
  adapterKey: r.adapter_id as string,
  version: r.version as number,
  first: r.first as number,
  count: r.count as number,
  jobId: r.job_id as string,
  jobKind: r.job_kind as string,
  publicSignals: big(r.public_signals as string),
  receipts: big(r.receipts as string),
  features: (JSON.parse(r.features as string) as string[][]).map((t) => t.map(BigInt)),
  ledger: big(r.ledger as string),
  payouts: big(r.payouts as string),
  ...(r.settle_tx ? { settleTx: r.settle_tx as string } : {}),
  ...(r.gas_used ? { gasUsed: BigInt(r.gas_used as string) } : {}),
  ...(r.settled_at ? { settledAt: r.settled_at as string } : {}),
  createdAt: r.created_at as string,
});

/** Public signal positions of a batch proof (circuits/attribution_batch.circom). */
export const SIGNAL = { binding: 0, header: 1, paid: 2, receiptsRoot: 3, oldRoot: 4, newRoot: 5 } as const;

export class BatchStore {
  constructor(private readonly db: Db) {}

  add(b: Batch): void {
    this.db
      .prepare('INSERT INTO batches (id, adapter_id, version, first, count, job_id, job_kind, public_signals, receipts, features, ledger, payouts, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)')
      .run(b.id, b.adapterKey, b.version, b.first, b.count, b.jobId, b.jobKind, json(b.publicSignals), json(b.receipts), JSON.stringify(b.features.map((t) => t.map(String))), json(b.ledger), json(b.payouts), b.createdAt);
  }

  get(id: string): Batch | undefined {
    const r = this.db.prepare('SELECT * FROM batches WHERE id = ?').get(id) as Row | undefined;
    return r ? toBatch(r) : undefined;
  }

  /** The adapter's batches in receipt order. */
  list(adapterKey: string): Batch[] {
    return (this.db.prepare('SELECT * FROM batches WHERE adapter_id = ? ORDER BY first').all(adapterKey) as Row[]).map(toBatch);
  }

  /** The adapter's last planned batch. */
  last(adapterKey: string): Batch | undefined {
    const r = this.db.prepare('SELECT * FROM batches WHERE adapter_id = ? ORDER BY first DESC LIMIT 1').get(adapterKey) as Row | undefined;
    return r ? toBatch(r) : undefined;
  }

  /** The receipt number after the adapter's last planned batch (0 before any): cheap, for the planner's every tick. */
  end(adapterKey: string): number {
    return (this.db.prepare('SELECT MAX(first + count) e FROM batches WHERE adapter_id = ?').get(adapterKey) as { e: number | null }).e ?? 0;
  }

  /** The batch that holds receipt `number`, if one does. */
  containing(adapterKey: string, number: number): Batch | undefined {
    const r = this.db.prepare('SELECT * FROM batches WHERE adapter_id = ? AND first <= ? ORDER BY first DESC LIMIT 1').get(adapterKey, number) as Row | undefined;
    const b = r ? toBatch(r) : undefined;
    return b && number < b.first + b.count ? b : undefined;
  }

  /** The adapter's batches not settled yet, in receipt order. */
  unsettled(adapterKey: string): Batch[] {
    return (this.db.prepare('SELECT * FROM batches WHERE adapter_id = ? AND settle_tx IS NULL ORDER BY first').all(adapterKey) as Row[]).map(toBatch);
  }

  /** The last settled batch of an adapter version: its ledger is the one the chain's root commits to. */
  lastSettled(adapterKey: string, version: number): Batch | undefined {
    const r = this.db.prepare('SELECT * FROM batches WHERE adapter_id = ? AND version = ? AND settle_tx IS NOT NULL ORDER BY first DESC LIMIT 1').get(adapterKey, version) as Row | undefined;
    return r ? toBatch(r) : undefined;
  }

  /** Records the batch's settlement transaction, with its gas when known. */
  setSettled(id: string, tx: string, gasUsed?: bigint): void {
    this.db.prepare('UPDATE batches SET settle_tx = ?, gas_used = ?, settled_at = ? WHERE id = ?').run(tx, gasUsed?.toString() ?? null, new Date().toISOString(), id);
  }

  /** The latest `count` settled batches of an adapter version, in receipt order. */
  latestSettled(adapterKey: string, version: number, count: number): Batch[] {
    return (this.db.prepare('SELECT * FROM batches WHERE adapter_id = ? AND version = ? AND settle_tx IS NOT NULL ORDER BY first DESC LIMIT ?').all(adapterKey, version, count) as Row[]).map(toBatch).reverse();
  }

  /** One leaf through every settled batch of an adapter version, in receipt order: what each paid it and its cumulative amount after. */
  leafHistory(adapterKey: string, version: number, leaf: number): { first: number; count: number; payout: bigint; cumulative: bigint; tx: string; settledAt?: string }[] {
    // only the leaf's element of each batch's ledger and payouts leaves the database, not C of them
    const rows = this.db
      .prepare('SELECT first, count, settle_tx, settled_at, json_extract(payouts, @path) payout, json_extract(ledger, @path) cumulative FROM batches WHERE adapter_id = @adapterKey AND version = @version AND settle_tx IS NOT NULL ORDER BY first')
      .all({ path: `$[${Math.trunc(leaf)}]`, adapterKey, version }) as { first: number; count: number; settle_tx: string; settled_at: string | null; payout: string; cumulative: string }[];
    return rows.map((r) => ({ first: r.first, count: r.count, payout: BigInt(r.payout), cumulative: BigInt(r.cumulative), tx: r.settle_tx, ...(r.settled_at ? { settledAt: r.settled_at } : {}) }));
  }

  /** Adapter keys with batches not settled yet. */
  adaptersWithUnsettled(): string[] {
    return (this.db.prepare('SELECT DISTINCT adapter_id FROM batches WHERE settle_tx IS NULL').all() as { adapter_id: string }[]).map((r) => r.adapter_id);
  }
}
