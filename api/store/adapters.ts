import { createHash, randomUUID } from 'node:crypto';
import { ZkpoaError } from '../../attribution/errors.js';
import type { Db } from './db.js';
import type { Host } from './hosts.js';

/** Adapters a host owns (trained from a datanet version) and the receipts of their answers. */
export interface AdapterRow {
  id: string;
  ownerHost: number;
  datanetId: string;
  datanetVersion: number;
  status: 'training' | 'ready' | 'failed';
  jobId: string;
  spec: Record<string, unknown>;
  createdAt: string;
}

export interface Receipt {
  id: string;
  adapterId: string;
  inputHash: string;
  output: { label: string; probabilities: number[] };
  createdAt: string;
}

type Row = Record<string, unknown>;
const toAdapter = (r: Row): AdapterRow => ({
  id: r.id as string,
  ownerHost: r.owner_host as number,
  datanetId: r.datanet_id as string,
  datanetVersion: r.datanet_version as number,
  status: r.status as AdapterRow['status'],
  jobId: r.job_id as string,
  spec: JSON.parse(r.spec as string) as Record<string, unknown>,
  createdAt: r.created_at as string,
});

export class AdapterRegistryStore {
  constructor(private readonly db: Db) {}

  create(host: Host, a: { id: string; datanetId: string; datanetVersion: number; jobId: string; spec: Record<string, unknown> }): AdapterRow {
    const createdAt = new Date().toISOString();
    try {
      this.db
        .prepare("INSERT INTO adapters (id, owner_host, datanet_id, datanet_version, status, job_id, spec, created_at) VALUES (?, ?, ?, ?, 'training', ?, ?, ?)")
        .run(a.id, host.id, a.datanetId, a.datanetVersion, a.jobId, JSON.stringify(a.spec), createdAt);
    } catch (err) {
      if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY') throw new ZkpoaError('ZKPOA_ERR_CONFLICT', `adapter ${a.id} already exists`);
      throw err;
    }
    return { ...a, ownerHost: host.id, status: 'training', createdAt };
  }

  /** An adapter of this host (others' adapters are not found). */
  get(host: Host, id: string): AdapterRow {
    const r = this.db.prepare('SELECT * FROM adapters WHERE id = ? AND owner_host = ?').get(id, host.id) as Row | undefined;
    if (!r) throw new ZkpoaError('ZKPOA_ERR_UNKNOWN_ADAPTER', `no adapter ${JSON.stringify(id)}`);
    return toAdapter(r);
  }

  list(host: Host): AdapterRow[] {
    return (this.db.prepare('SELECT * FROM adapters WHERE owner_host = ? ORDER BY created_at').all(host.id) as Row[]).map(toAdapter);
  }

  /** The job that trains the adapter (set right after the row exists, so the row is the ownership record first). */
  setJob(id: string, jobId: string): void {
    this.db.prepare('UPDATE adapters SET job_id = ? WHERE id = ?').run(jobId, id);
  }

  /** Which host owns an adapter id, if any. */
  ownerOf(id: string): number | undefined {
    return (this.db.prepare('SELECT owner_host FROM adapters WHERE id = ?').get(id) as { owner_host: number } | undefined)?.owner_host;
  }

  remove(id: string): void {
    this.db.prepare('DELETE FROM adapters WHERE id = ?').run(id);
  }

  setStatus(id: string, status: AdapterRow['status']): void {
    this.db.prepare('UPDATE adapters SET status = ? WHERE id = ?').run(status, id);
  }

  addReceipt(host: Host, adapterId: string, input: string, output: Receipt['output']): Receipt {
    const r: Receipt = { id: `rc_${randomUUID()}`, adapterId, inputHash: createHash('sha256').update(input).digest('hex'), output, createdAt: new Date().toISOString() };
    this.db.prepare('INSERT INTO receipts (id, adapter_id, host, input_hash, input, output, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)').run(r.id, adapterId, host.id, r.inputHash, input, JSON.stringify(output), r.createdAt);
    return r;
  }
}
