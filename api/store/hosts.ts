import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { getAddress, verifyMessage } from 'ethers';
import { ZkpoaError } from '../../attribution/errors.js';
import type { Db } from './db.js';

/**
 * Model hosts and their API keys. A key is `zk_<host id>_<secret>`; only sha256(secret)
 * is stored, and it is compared in constant time.
 *
 * A host's money is its own wallet's: the wallet escrows OPEN on-chain, approves this
 * server's operator there, and is linked to the host here by signing
 * `walletLinkMessage`, so no host can name another's wallet.
 */
export interface Host {
  id: number;
  name: string;
  /** the linked wallet (checksummed), whose escrow pays this host's fees */
  wallet?: string;
}

/** What a wallet signs (EIP-191) to be linked to a host of one server, on one chain. */
export function walletLinkMessage(p: { hostId: number; wallet: string; chainId: string; settlement: string }): string {
  return [
    'zkpoa: link this wallet to an API host.',
    `Its escrow pays the fees of host ${p.hostId}'s adapters, and their owner share is paid to it.`,
    `wallet: ${getAddress(p.wallet)}`,
    `chain: ${p.chainId}`,
    `settlement: ${getAddress(p.settlement)}`,
  ].join('\n');
}

/** Links `wallet` to the host if `signature` is the wallet's over walletLinkMessage. */
export function linkWallet(db: Db, host: Host, link: { wallet: string; signature: string; chainId: string; settlement: string }): Host {
  let signer: string;
  try {
    signer = verifyMessage(walletLinkMessage({ hostId: host.id, ...link }), link.signature);
  } catch {
    throw new ZkpoaError('ZKPOA_ERR_BAD_SIGNATURE', 'the signature is not a valid EIP-191 signature');
  }
  if (signer !== getAddress(link.wallet)) throw new ZkpoaError('ZKPOA_ERR_BAD_SIGNATURE', `the signature is not ${getAddress(link.wallet)}'s over the wallet-link message for host ${host.id}`);
  db.prepare('UPDATE hosts SET wallet = ? WHERE id = ?').run(signer, host.id);
  return { ...host, wallet: signer };
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
  const row = db.prepare('SELECT id, name, key_hash, wallet FROM hosts WHERE id = ?').get(Number(m[1])) as { id: number; name: string; key_hash: Buffer; wallet: string | null } | undefined;
  const presented = digest(m[2]!);
  const stored = row?.key_hash ?? Buffer.alloc(32);
  return timingSafeEqual(presented, stored) && row ? { id: row.id, name: row.name, ...(row.wallet ? { wallet: row.wallet } : {}) } : undefined;
}
