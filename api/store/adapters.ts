import { ZkpoaError } from '../../attribution/errors.js';
import type { Db } from './db.js';
import type { Host } from './hosts.js';

/**
 * Adapters a host owns (trained from a datanet version).
 * Ids are the host's own: two hosts may both have an adapter `mail`, and neither learns of
 * the other's. Inside the service an adapter is named by its `key` (`h<host id>.<id>`),
 * which the adapter store, the batcher, jobs and receipts use.
 */
export interface AdapterRow {
  /** the host's id for the adapter */
  id: string;
  /** the service-wide key */
  key: string;
  ownerHost: number;
  datanetId: string;
  datanetVersion: number;
  /** the classifier's adapters answer with a label, the language model's generate text */
  model: AdapterModel;
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

export type AdapterModel = 'classifier' | 'causal-lm';

type Row = Record<string, unknown>;
/** The service-wide key of a host's adapter id. */
export const adapterKey = (host: Pick<Host, 'id'>, id: string): string => `h${host.id}.${id}`;

const toAdapter = (r: Row): AdapterRow => ({
  id: r.name as string,
  key: r.id as string,
  ownerHost: r.owner_host as number,
  datanetId: r.datanet_id as string,
  datanetVersion: r.datanet_version as number,
  model: r.model as AdapterModel,
  status: r.status as AdapterRow['status'],
  jobId: r.job_id as string,
  spec: JSON.parse(r.spec as string) as Record<string, unknown>,
  createdAt: r.created_at as string,
});

export class AdapterRegistryStore {
  constructor(private readonly db: Db) {}

  create(host: Host, a: { id: string; datanetId: string; datanetVersion: number; model?: AdapterModel; jobId: string; spec: Record<string, unknown> }): AdapterRow {
    const model = a.model ?? 'classifier';
    const createdAt = new Date().toISOString();
    const key = adapterKey(host, a.id);
    try {
      this.db
        .prepare("INSERT INTO adapters (id, name, owner_host, datanet_id, datanet_version, model, status, job_id, spec, created_at) VALUES (?, ?, ?, ?, ?, ?, 'training', ?, ?, ?)")
        .run(key, a.id, host.id, a.datanetId, a.datanetVersion, model, a.jobId, JSON.stringify(a.spec), createdAt);
    } catch (err) {
      if ((err as { code?: string }).code?.startsWith('SQLITE_CONSTRAINT')) throw new ZkpoaError('ZKPOA_ERR_ADAPTER_EXISTS', `adapter ${a.id} already exists`);
      throw err;
    }
    return { ...a, model, key, ownerHost: host.id, status: 'training', createdAt };
  }

  /** An adapter of this host, by the host's id for it (others' adapters are not found). */
  get(host: Host, id: string): AdapterRow {
    const r = this.db.prepare('SELECT * FROM adapters WHERE name = ? AND owner_host = ?').get(id, host.id) as Row | undefined;
    if (!r) throw new ZkpoaError('ZKPOA_ERR_UNKNOWN_ADAPTER', `no adapter ${JSON.stringify(id)}`);
    return toAdapter(r);
  }

  /** An adapter by its service-wide key. */
  byKey(key: string): AdapterRow | undefined {
    const r = this.db.prepare('SELECT * FROM adapters WHERE id = ?').get(key) as Row | undefined;
    return r ? toAdapter(r) : undefined;
  }

  list(host: Host): AdapterRow[] {
    return (this.db.prepare('SELECT * FROM adapters WHERE owner_host = ? ORDER BY created_at').all(host.id) as Row[]).map(toAdapter);
  }

  /** The job that trains the adapter (set right after the row exists, so the row is the ownership record first). */
  setJob(key: string, jobId: string): void {
    this.db.prepare('UPDATE adapters SET job_id = ? WHERE id = ?').run(jobId, key);
  }

  /** Which host owns the adapter of a service-wide key, if any. */
  ownerOf(key: string): number | undefined {
    return (this.db.prepare('SELECT owner_host FROM adapters WHERE id = ?').get(key) as { owner_host: number } | undefined)?.owner_host;
  }

  remove(key: string): void {
    this.db.prepare('DELETE FROM adapters WHERE id = ?').run(key);
  }

  setStatus(key: string, status: AdapterRow['status']): void {
    this.db.prepare('UPDATE adapters SET status = ? WHERE id = ?').run(status, key);
  }

}
