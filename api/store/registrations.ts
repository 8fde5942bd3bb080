import type { Db } from './db.js';

/**
 * What the service registered on-chain for an adapter: its on-chain id and host wallet,
 * and every version (index, price and shares) with the receipt number it applies from.
 * A receipt belongs to the last version whose first receipt is at or before its number.
 */
export interface OnchainVersion {
  version: number;
  firstReceipt: number;
  indexRoot: bigint;
  binding: bigint;
  /** fee per answer, wei */
  price: bigint;
  poolBps: number;
  tx: string;
}

export interface Registration {
  /** the adapter's service-wide key */
  adapterKey: string;
  hostWallet: string;
  chainId: bigint;
  settlement: string;
  onchainId: bigint;
  tx: string;
  /** in version order */
  versions: OnchainVersion[];
}

type Row = Record<string, unknown>;

export class RegistrationStore {
  constructor(private readonly db: Db) {}

  /** The adapters registered on one deployment (chain and settlement contract): the only ones its server plans, settles and reconciles. */
  onDeployment(chain: { chainId: bigint; settlement: string }): string[] {
    return (
      this.db.prepare('SELECT adapter_id FROM onchain_adapters WHERE chain_id = ? AND lower(settlement) = lower(?) ORDER BY adapter_id').all(chain.chainId.toString(), chain.settlement) as { adapter_id: string }[]
    ).map((r) => r.adapter_id);
  }

  get(adapterKey: string): Registration | undefined {
    const r = this.db.prepare('SELECT * FROM onchain_adapters WHERE adapter_id = ?').get(adapterKey) as Row | undefined;
    if (!r) return undefined;
    const versions = (this.db.prepare('SELECT * FROM onchain_versions WHERE adapter_id = ? ORDER BY version').all(adapterKey) as Row[]).map((v) => ({
      version: v.version as number,
      firstReceipt: v.first_receipt as number,
      indexRoot: BigInt(v.index_root as string),
      binding: BigInt(v.binding as string),
      price: BigInt(v.price as string),
      poolBps: v.pool_bps as number,
      tx: v.tx as string,
    }));
    return { adapterKey, hostWallet: r.host_wallet as string, chainId: BigInt(r.chain_id as string), settlement: r.settlement as string, onchainId: BigInt(r.onchain_id as string), tx: r.tx as string, versions };
  }

  /** Records a registration and its first version, in one transaction. */
  add(reg: Omit<Registration, 'versions'>, first: OnchainVersion): void {
    this.db.transaction(() => {
      this.db
        .prepare('INSERT INTO onchain_adapters (adapter_id, host_wallet, chain_id, settlement, onchain_id, version, binding, price, pool_bps, tx, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)')
        .run(reg.adapterKey, reg.hostWallet, reg.chainId.toString(), reg.settlement, reg.onchainId.toString(), first.version, '0x' + first.binding.toString(16), first.price.toString(), first.poolBps, reg.tx, new Date().toISOString());
      this.addVersion(reg.adapterKey, first);
    })();
  }

  addVersion(adapterKey: string, v: OnchainVersion): void {
    this.db
      .prepare('INSERT INTO onchain_versions (adapter_id, version, first_receipt, index_root, binding, price, pool_bps, tx) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
      .run(adapterKey, v.version, v.firstReceipt, '0x' + v.indexRoot.toString(16), '0x' + v.binding.toString(16), v.price.toString(), v.poolBps, v.tx);
  }
}

/** The version a receipt number belongs to, and the first number of the next version (if any). */
export function versionOfReceipt(reg: Registration, number: number): { version: OnchainVersion; end?: number } | undefined {
  let at = -1;
  reg.versions.forEach((v, i) => {
    if (v.firstReceipt <= number) at = i;
  });
  if (at < 0) return undefined;
  const next = reg.versions[at + 1];
  return { version: reg.versions[at]!, ...(next ? { end: next.firstReceipt } : {}) };
}

/** The pool of one answer under a version: price × poolBps / 10,000, as the contract computes it. */
export const poolOf = (v: Pick<OnchainVersion, 'price' | 'poolBps'>): bigint => (v.price * BigInt(v.poolBps)) / 10_000n;
