import { Commitments } from '../attribution/index.js';
import { ZkpoaError } from '../attribution/errors.js';
import type { SettlementClient } from '../contracts/client/settlement.js';
import type { LedgerPosition } from './ledger.js';

/**
 * A contributor's side of the payout ledgers: where its address is paid (from a zkpoa
 * server's public ledger), each position checked against the root the chain stores (the
 * server can withhold a ledger, never misstate one), what is already claimed on-chain,
 * and the claims themselves, made with the contributor's own wallet.
 */
export interface Earning extends Omit<LedgerPosition, 'root'> {
  claimed: bigint;
  /** the position's path reaches the version's ledger root on-chain */
  verified: boolean;
}

interface LedgerPositionJson {
  adapterId: string;
  version: number;
  leaf: number;
  payee: string;
  cumulative: string;
  siblings: string[];
  root: string;
}

export async function earnings(client: SettlementClient, serverUrl: string, address: string): Promise<{ positions: Earning[]; balance: bigint }> {
  const res = await fetch(`${serverUrl.replace(/\/$/, '')}/v1/ledger/${address}`).catch((err: Error) => {
    throw new ZkpoaError('ZKPOA_ERR_INVALID_ARGUMENT', `cannot reach ${serverUrl}: ${(err.cause as Error | undefined)?.message ?? err.message}`);
  });
  if (!res.ok) throw new ZkpoaError('ZKPOA_ERR_INVALID_ARGUMENT', `${serverUrl} refused the ledger of ${address}: ${res.status}`);
  const { positions } = (await res.json()) as { positions: LedgerPositionJson[] };
  const commitments = await Commitments.create();
  const out: Earning[] = [];
  for (const p of positions) {
    const adapterId = BigInt(p.adapterId);
    const cumulative = BigInt(p.cumulative);
    const siblings = p.siblings.map(BigInt);
    let node = commitments.ledgerLeaf(BigInt(p.payee), cumulative);
    siblings.forEach((s, d) => (node = ((p.leaf >> d) & 1) === 1 ? commitments.hash([s, node]) : commitments.hash([node, s])));
    const onchain = (await client.version(adapterId, p.version)).ledgerRoot;
    out.push({ adapterId, version: p.version, leaf: p.leaf, payee: p.payee, cumulative, siblings, claimed: await client.claimed(adapterId, p.version, p.leaf), verified: node === onchain && BigInt(p.root) === onchain });
  }
  return { positions: out, balance: await client.balanceOf(address) };
}

/** Claims every verified position with something unclaimed, then withdraws the wallet's balance. */
export async function claimAll(client: SettlementClient, serverUrl: string, wallet: string): Promise<{ claimed: bigint; withdrawn: bigint; txs: string[]; unverified: number }> {
  const { positions } = await earnings(client, serverUrl, wallet);
  const txs: string[] = [];
  let claimed = 0n;
  for (const p of positions.filter((x) => x.verified && x.cumulative > x.claimed)) {
    const { amount, tx } = await client.claim({ adapterId: p.adapterId, version: p.version, leaf: p.leaf, payee: p.payee, cumulative: p.cumulative, siblings: p.siblings });
    txs.push(tx.hash);
    claimed += amount;
  }
  const withdrawn = await client.balanceOf(wallet);
  if (withdrawn > 0n) txs.push((await client.withdraw()).hash);
  return { claimed, withdrawn, txs, unverified: positions.filter((p) => !p.verified).length };
}
