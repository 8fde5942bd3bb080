import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { ZkpoaError } from '../../attribution/errors.js';
import type { Db } from './db.js';

/**
 * Model hosts and their API keys. A key is `zk_<host id>_<secret>`; only sha256(secret)
 * is stored, and it is compared in constant time.
 */
export interface Host {
  id: number;
  name: string;
}

const KEY_RE = /^zk_(\d{1,12})_([A-Za-z0-9_-]{43})$/;
const digest = (s: string) => createHash('sha256').update(s).digest();

export function createHost(db: Db, name: string): { host: Host; apiKey: string } {
  if (typeof name !== 'string' || name.trim().length === 0 || name.length > 200) throw new ZkpoaError('ZKPOA_ERR_VALIDATION', 'host name must be 1–200 characters');
  const secret = randomBytes(32).toString('base64url');
  const info = db.prepare('INSERT INTO hosts (name, key_hash, created_at) VALUES (?, ?, ?)').run(name, digest(secret), new Date().toISOString());
  const id = Number(info.lastInsertRowid);
  return { host: { id, name }, apiKey: `zk_${id}_${secret}` };
}

/** The host a key belongs to, or undefined; never says which part was wrong. */
export function authenticate(db: Db, apiKey: unknown): Host | undefined {
  if (typeof apiKey !== 'string') return undefined;
  const m = KEY_RE.exec(apiKey);
  if (!m) return undefined;
  const row = db.prepare('SELECT id, name, key_hash FROM hosts WHERE id = ?').get(Number(m[1])) as { id: number; name: string; key_hash: Buffer } | undefined;
  const presented = digest(m[2]!);
  const stored = row?.key_hash ?? Buffer.alloc(32);
  return timingSafeEqual(presented, stored) && row ? { id: row.id, name: row.name } : undefined;
}
