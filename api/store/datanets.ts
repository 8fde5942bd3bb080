import { createHash, randomUUID } from 'node:crypto';
import { addressToField } from '../../attribution/commitments.js';
import { ZkpoaError } from '../../attribution/errors.js';
import type { Db } from './db.js';
import type { Host } from './hosts.js';

/**
 * Datanets: community datasets that adapters are fine-tuned on. Records arrive from
 * contributors (through a host), are de-duplicated by content hash, reviewed by the
 * datanet's owner (accepted or rejected) and published as immutable versions whose
 * Merkle root commits to the accepted records.
 *
 * A public datanet takes records from any host, so nobody but its owner can fill it for
 * good: rejected records do not count towards its size and the owner can purge them;
 * records awaiting review are bounded per contributor address and per submitting host;
 * and records not yet accepted are seen only by the owner and the host that sent them.
 */
export interface DatanetInput {
  name: string;
  labels: string[];
  visibility?: 'public' | 'owner';
  maxRecords?: number;
  maxRecordBytes?: number;
}

export interface Datanet {
  id: string;
  ownerHost: number;
  name: string;
  labels: string[];
  visibility: 'public' | 'owner';
  maxRecords: number;
  maxRecordBytes: number;
  createdAt: string;
}

export interface RecordInput {
  contributor: string;
  text: string;
  /** the label's index in the datanet's labels, or its name */
  label: number | string;
}

export interface StoredRecord extends RecordInput {
  label: number;
  id: number;
  status: 'pending' | 'accepted' | 'rejected';
  contentHash: string;
  createdAt: string;
}

export interface DatanetVersion {
  datanetId: string;
  version: number;
  root: string;
  records: number;
  createdAt: string;
}

export const DATANET_LIMITS = { maxRecords: 100_000, maxRecordBytes: 16_384, maxLabels: 64 } as const;

/** SHA-256 of the NFC-normalized text and the label: equal records collide on purpose. */
export function contentHash(text: string, label: number): string {
  return createHash('sha256').update(`${label}\u0000${text.normalize('NFC')}`).digest('hex');
}

/** A record's label as the index of the datanet's label: given as that index, or as the label's name. */
function labelIndex(d: Datanet, label: number | string, what: string): number {
  const i = typeof label === 'string' ? d.labels.indexOf(label) : label;
  if (!Number.isInteger(i) || i < 0 || i >= d.labels.length) {
    throw new ZkpoaError('ZKPOA_ERR_VALIDATION', `${what} must be one of ${JSON.stringify(d.labels)} or its index in [0, ${d.labels.length})`);
  }
  return i;
}

const sha = (...parts: (string | Buffer)[]) => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
};

/**
 * Merkle root of a version: leaf = sha256(0x00 ‖ content hash ‖ contributor ‖ label),
 * node = sha256(0x01 ‖ left ‖ right), an odd node is carried up; records in id order.
 */
export function versionRoot(records: readonly Pick<StoredRecord, 'contentHash' | 'contributor' | 'label'>[]): string {
  if (records.length === 0) return '0x' + sha(Buffer.from([0])).toString('hex');
  let level: Buffer[] = records.map((r) => sha(Buffer.from([0]), Buffer.from(r.contentHash, 'hex'), r.contributor.toLowerCase(), String(r.label)));
  while (level.length > 1) {
    const next: Buffer[] = [];
    for (let i = 0; i < level.length; i += 2) next.push(i + 1 < level.length ? sha(Buffer.from([1]), level[i]!, level[i + 1]!) : level[i]!);
    level = next;
  }
  return '0x' + level[0]!.toString('hex');
}

type Row = Record<string, unknown>;
const toDatanet = (r: Row): Datanet => ({
  id: r.id as string,
  ownerHost: r.owner_host as number,
  name: r.name as string,
  labels: JSON.parse(r.labels as string) as string[],
  visibility: r.visibility as Datanet['visibility'],
  maxRecords: r.max_records as number,
  maxRecordBytes: r.max_record_bytes as number,
  createdAt: r.created_at as string,
});
const toRecord = (r: Row): StoredRecord => ({
  id: r.id as number,
  contributor: r.contributor as string,
  text: r.text as string,
  label: r.label as number,
  status: r.status as StoredRecord['status'],
  contentHash: r.content_hash as string,
  createdAt: r.created_at as string,
});

export class DatanetStore {
  constructor(
    private readonly db: Db,
    /** records awaiting review per contributor address, and per submitting host other than the owner */
    private readonly maxPending = 1_000,
  ) {}

  create(owner: Host, input: DatanetInput): Datanet {
    const labels = input.labels;
    if (!Array.isArray(labels) || labels.length < 2 || labels.length > DATANET_LIMITS.maxLabels || new Set(labels).size !== labels.length) {
      throw new ZkpoaError('ZKPOA_ERR_VALIDATION', `labels must be 2–${DATANET_LIMITS.maxLabels} distinct names`);
    }
    const maxRecords = input.maxRecords ?? DATANET_LIMITS.maxRecords;
    const maxRecordBytes = input.maxRecordBytes ?? DATANET_LIMITS.maxRecordBytes;
    if (maxRecords > DATANET_LIMITS.maxRecords || maxRecordBytes > DATANET_LIMITS.maxRecordBytes) {
      throw new ZkpoaError('ZKPOA_ERR_DATANET_LIMITS', `limits may not exceed ${DATANET_LIMITS.maxRecords} records of ${DATANET_LIMITS.maxRecordBytes} bytes`);
    }
    const d: Datanet = {
      id: `dn_${randomUUID()}`,
      ownerHost: owner.id,
      name: input.name,
      labels,
      visibility: input.visibility ?? 'owner',
      maxRecords,
      maxRecordBytes,
      createdAt: new Date().toISOString(),
    };
    this.db
      .prepare('INSERT INTO datanets (id, owner_host, name, labels, visibility, max_records, max_record_bytes, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
      .run(d.id, d.ownerHost, d.name, JSON.stringify(d.labels), d.visibility, d.maxRecords, d.maxRecordBytes, d.createdAt);
    return d;
  }

  /** A datanet the host may see: its own, or a public one. */
  get(host: Host, id: string): Datanet {
    const row = this.db.prepare('SELECT * FROM datanets WHERE id = ?').get(id) as Row | undefined;
    const d = row ? toDatanet(row) : undefined;
    if (!d || (d.visibility === 'owner' && d.ownerHost !== host.id)) throw new ZkpoaError('ZKPOA_ERR_NOT_FOUND', `no datanet ${JSON.stringify(id)}`);
    return d;
  }

  private owned(host: Host, id: string): Datanet {
    const d = this.get(host, id);
    if (d.ownerHost !== host.id) throw new ZkpoaError('ZKPOA_ERR_FORBIDDEN', 'only the datanet owner may do this');
    return d;
  }

  /**
   * Adds records, all or none: a record whose content is already there is a duplicate; the
   * datanet's accepted and pending records may not pass its size; a contributor address, and
   * a host other than the owner, may have at most `maxPending` records awaiting review.
   */
  contribute(host: Host, id: string, records: readonly RecordInput[]): StoredRecord[] {
    const d = this.get(host, id);
    const labels = records.map((r, i) => {
      try {
        addressToField(r.contributor);
      } catch {
        throw new ZkpoaError('ZKPOA_ERR_VALIDATION', `records[${i}].contributor is not a 20-byte hex address`);
      }
      if (r.text.trim().length === 0) throw new ZkpoaError('ZKPOA_ERR_VALIDATION', `records[${i}].text is empty`);
      if (Buffer.byteLength(r.text) > d.maxRecordBytes) throw new ZkpoaError('ZKPOA_ERR_RECORD_TOO_LARGE', `records[${i}].text exceeds ${d.maxRecordBytes} bytes`);
      return labelIndex(d, r.label, `records[${i}].label`);
    });
    const insert = this.db.prepare(
      'INSERT INTO records (datanet_id, contributor, text, label, content_hash, submitted_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (datanet_id, content_hash) DO NOTHING',
    );
    return this.db.transaction(() => {
      const count = (this.db.prepare("SELECT COUNT(*) n FROM records WHERE datanet_id = ? AND status != 'rejected'").get(id) as { n: number }).n;
      if (count + records.length > d.maxRecords) throw new ZkpoaError('ZKPOA_ERR_DATANET_FULL', `datanet holds at most ${d.maxRecords} accepted and pending records`);
      this.checkPending(d, host, records);
      const now = new Date().toISOString();
      return records.map((r, i) => {
        const label = labels[i]!;
        const hash = contentHash(r.text, label);
        const info = insert.run(id, r.contributor.toLowerCase(), r.text, label, hash, host.id, now);
        if (info.changes === 0) throw new ZkpoaError('ZKPOA_ERR_DUPLICATE', `records[${i}] duplicates a record already in the datanet`);
        return { id: Number(info.lastInsertRowid), contributor: r.contributor.toLowerCase(), text: r.text, label, status: 'pending' as const, contentHash: hash, createdAt: now };
      });
    })();
  }

  /** Pending records per contributor address, and per submitting host unless it owns the datanet, stay within `maxPending`. */
  private checkPending(d: Datanet, host: Host, records: readonly RecordInput[]): void {
    if (host.id === d.ownerHost) return; // the owner reviews its own queue
    const bySubmitter = (this.db.prepare("SELECT COUNT(*) n FROM records WHERE datanet_id = ? AND submitted_by = ? AND status = 'pending'").get(d.id, host.id) as { n: number }).n;
    if (bySubmitter + records.length > this.maxPending) throw new ZkpoaError('ZKPOA_ERR_PENDING_QUOTA', `host ${host.id} has ${bySubmitter} records awaiting review in this datanet; at most ${this.maxPending}`);
    const adding = new Map<string, number>();
    for (const r of records) adding.set(r.contributor.toLowerCase(), (adding.get(r.contributor.toLowerCase()) ?? 0) + 1);
    const pending = this.db.prepare("SELECT COUNT(*) n FROM records WHERE datanet_id = ? AND contributor = ? AND status = 'pending'");
    for (const [contributor, n] of adding) {
      const have = (pending.get(d.id, contributor) as { n: number }).n;
      if (have + n > this.maxPending) throw new ZkpoaError('ZKPOA_ERR_PENDING_QUOTA', `contributor ${contributor} has ${have} records awaiting review in this datanet; at most ${this.maxPending}`);
    }
  }

  /**
   * Records the host may read: the owner every record; another host (of a public datanet)
   * the accepted records and the records it sent itself, whatever their status.
   */
  records(host: Host, id: string, opts: { status?: StoredRecord['status']; offset?: number; limit?: number } = {}): StoredRecord[] {
    const d = this.get(host, id);
    const limit = Math.min(opts.limit ?? 100, 1000);
    const mine = d.ownerHost === host.id ? '1' : "(status = 'accepted' OR submitted_by = @host)";
    const status = opts.status ? 'AND status = @status' : '';
    const rows = this.db
      .prepare(`SELECT * FROM records WHERE datanet_id = @id AND ${mine} ${status} ORDER BY id LIMIT @limit OFFSET @offset`)
      .all({ id, host: host.id, limit, offset: opts.offset ?? 0, ...(opts.status ? { status: opts.status } : {}) });
    return (rows as Row[]).map(toRecord);
  }

  /** The datanets the host owns. */
  listOwned(host: Host): Datanet[] {
    return (this.db.prepare('SELECT * FROM datanets WHERE owner_host = ? ORDER BY created_at').all(host.id) as Row[]).map(toDatanet);
  }

  /** Records per contributor and status, of the records the host may read (as `records` decides). */
  contributors(host: Host, id: string): { contributor: string; pending: number; accepted: number; rejected: number }[] {
    const d = this.get(host, id);
    const mine = d.ownerHost === host.id ? '1' : "(status = 'accepted' OR submitted_by = @host)";
    return this.db
      .prepare(
        `SELECT contributor, SUM(status = 'pending') pending, SUM(status = 'accepted') accepted, SUM(status = 'rejected') rejected FROM records WHERE datanet_id = @id AND ${mine} GROUP BY contributor ORDER BY accepted DESC, contributor`,
      )
      .all({ id, host: host.id }) as { contributor: string; pending: number; accepted: number; rejected: number }[];
  }

  /** Published versions, newest first. */
  versions(host: Host, id: string): DatanetVersion[] {
    this.get(host, id);
    return (this.db.prepare('SELECT datanet_id, version, root, json_array_length(record_ids) n, created_at FROM datanet_versions WHERE datanet_id = ? ORDER BY version DESC').all(id) as Row[]).map((r) => ({
      datanetId: r.datanet_id as string,
      version: r.version as number,
      root: r.root as string,
      records: r.n as number,
      createdAt: r.created_at as string,
    }));
  }

  /** The owner removes rejected records that no published version holds; returns how many. */
  purgeRejected(host: Host, id: string): number {
    this.owned(host, id);
    return this.db.transaction(() => {
      const published = new Set((this.db.prepare('SELECT record_ids FROM datanet_versions WHERE datanet_id = ?').all(id) as { record_ids: string }[]).flatMap((v) => JSON.parse(v.record_ids) as number[]));
      const rejected = (this.db.prepare("SELECT id FROM records WHERE datanet_id = ? AND status = 'rejected'").all(id) as { id: number }[]).map((r) => r.id).filter((r) => !published.has(r));
      const remove = this.db.prepare('DELETE FROM records WHERE id = ?');
      for (const r of rejected) remove.run(r);
      return rejected.length;
    })();
  }

  /** The owner's validation decision on a record. */
  review(host: Host, id: string, recordId: number, decision: 'accept' | 'reject'): StoredRecord {
    this.reviewMany(host, id, [recordId], decision);
    return toRecord(this.db.prepare('SELECT * FROM records WHERE id = ?').get(recordId) as Row);
  }

  /** One decision on many records, in one transaction: all of them or, if one is not in the datanet, none. */
  reviewMany(host: Host, id: string, recordIds: readonly number[], decision: 'accept' | 'reject'): number {
    this.owned(host, id);
    const status = decision === 'accept' ? 'accepted' : 'rejected';
    const update = this.db.prepare('UPDATE records SET status = ? WHERE id = ? AND datanet_id = ?');
    return this.db.transaction(() => {
      for (const recordId of recordIds) {
        if (update.run(status, recordId, id).changes === 0) throw new ZkpoaError('ZKPOA_ERR_NOT_FOUND', `no record ${recordId} in datanet ${id}`);
      }
      return recordIds.length;
    })();
  }

  /** Publishes the accepted records as the next immutable version. */
  publish(host: Host, id: string): DatanetVersion {
    this.owned(host, id);
    return this.db.transaction(() => {
      const accepted = (this.db.prepare("SELECT * FROM records WHERE datanet_id = ? AND status = 'accepted' ORDER BY id").all(id) as Row[]).map(toRecord);
      if (accepted.length === 0) throw new ZkpoaError('ZKPOA_ERR_NOTHING_TO_PUBLISH', 'no accepted records to publish');
      const last = (this.db.prepare('SELECT MAX(version) v FROM datanet_versions WHERE datanet_id = ?').get(id) as { v: number | null }).v ?? 0;
      const v: DatanetVersion = { datanetId: id, version: last + 1, root: versionRoot(accepted), records: accepted.length, createdAt: new Date().toISOString() };
      this.db
        .prepare('INSERT INTO datanet_versions (datanet_id, version, root, record_ids, created_at) VALUES (?, ?, ?, ?, ?)')
        .run(id, v.version, v.root, JSON.stringify(accepted.map((r) => r.id)), v.createdAt);
      return v;
    })();
  }

  version(host: Host, id: string, version: number): DatanetVersion & { recordIds: number[] } {
    this.get(host, id);
    const row = this.db.prepare('SELECT * FROM datanet_versions WHERE datanet_id = ? AND version = ?').get(id, version) as Row | undefined;
    if (!row) throw new ZkpoaError('ZKPOA_ERR_NOT_FOUND', `datanet ${id} has no version ${version}`);
    const recordIds = JSON.parse(row.record_ids as string) as number[];
    return { datanetId: id, version, root: row.root as string, records: recordIds.length, createdAt: row.created_at as string, recordIds };
  }

  /** The records of a published version, in leaf order (what fine-tuning and the index read). */
  snapshot(host: Host, id: string, version: number): StoredRecord[] {
    const v = this.version(host, id, version);
    const get = this.db.prepare('SELECT * FROM records WHERE id = ?');
    return v.recordIds.map((rid) => toRecord(get.get(rid) as Row));
  }
}
