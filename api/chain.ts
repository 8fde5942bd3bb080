import { ZkpoaError } from '../attribution/errors.js';
import type { SettlementClient } from '../contracts/client/settlement.js';
import type { Host } from './store/hosts.js';

/** The chain a server registers and settles on, through its operator wallet. */
export interface ChainContext {
  /** signs as the server's operator wallet, which hosts approve on-chain */
  client: SettlementClient;
  chainId: bigint;
  settlement: string;
  /** the RPC URL contributors are shown for `zkpoa claim` (never the operator's own if it holds a key) */
  publicRpc?: string;
}

export function needChain(chain: ChainContext | undefined): ChainContext {
  if (!chain) throw new ZkpoaError('ZKPOA_ERR_NO_CHAIN', 'this server has no chain configured');
  return chain;
}

/** The operator wallet's address. */
export async function operatorOf(chain: ChainContext): Promise<string> {
  const runner = chain.client.settlement.runner as { getAddress?: () => Promise<string> } | null;
  if (!runner?.getAddress) throw new ZkpoaError('ZKPOA_ERR_NO_CHAIN', 'the chain client has no signer');
  return runner.getAddress();
}

/** The host's linked wallet, once it has approved this server's operator on-chain. */
export async function approvedWallet(chain: ChainContext, host: Pick<Host, 'id' | 'wallet'>): Promise<string> {
  if (!host.wallet) throw new ZkpoaError('ZKPOA_ERR_NO_WALLET', `host ${host.id} has no linked wallet: link one whose escrow pays its fees (zkpoa hosts link-wallet, or PUT /v1/host/wallet)`);
  const operator = await operatorOf(chain);
  if (!(await chain.client.isOperator(host.wallet, operator))) {
    throw new ZkpoaError('ZKPOA_ERR_OPERATOR_NOT_APPROVED', `wallet ${host.wallet} has not approved this server's operator ${operator} on-chain (zkpoa escrow approve ${operator})`);
  }
  return host.wallet;
}

const blocks = new Map<string, number>();

/** The block of a registration's transaction: event scans for an adapter start there (hosted RPCs cap log ranges). */
export async function registrationBlock(chain: ChainContext, tx: string): Promise<number> {
  let block = blocks.get(tx);
  if (block === undefined) {
    block = (await chain.client.settlement.runner?.provider?.getTransactionReceipt(tx).catch(() => null))?.blockNumber ?? 0;
    if (block > 0) blocks.set(tx, block);
  }
  return block;
}

/** A transaction the contracts refuse becomes ZKPOA_ERR_CHAIN_REFUSED naming the contract's error. */
export async function chainRefusals<T>(chain: ChainContext, f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (err) {
    const decoded = chain.client.decodeError(err);
    if (decoded) throw new ZkpoaError('ZKPOA_ERR_CHAIN_REFUSED', `the settlement contract refused: ${decoded.name}(${decoded.args.map(String).join(', ')})`, { cause: err });
    throw err;
  }
}

/** Operations that must not run twice at once (a registration, an adapter's settlement): a second is refused. */
export class InFlight {
  private readonly keys = new Set<string>();

  async once<T>(key: string, f: () => Promise<T>): Promise<T> {
    if (this.keys.has(key)) throw new ZkpoaError('ZKPOA_ERR_IN_PROGRESS', `${key.replace(':', ' ')} is already in progress`);
    this.keys.add(key);
    try {
      return await f();
    } finally {
      this.keys.delete(key);
    }
  }
}
