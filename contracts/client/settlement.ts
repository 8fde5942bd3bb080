import { Contract, type ContractRunner, type ContractTransactionReceipt, type EventLog, type Interface } from 'ethers';
import { packFeatures, type Leaf } from '../../attribution/index.js';
import { readForgeArtifact } from './artifacts.js';
import type { Deployment } from './deploy.js';

/** Registration of an adapter with its attribution index. */
export interface AdapterRegistration {
  /** the host whose escrow pays the adapter's fees (the signer, or a host that approved the signer as operator) */
  host: string;
  variantId: number;
  /** fee per answer in OPEN wei */
  price: bigint;
  ownerBps: number;
  protocolBps: number;
  poolBps: number;
  /** leaf order is the index order: leaf c is paid lane c */
  leaves: readonly Leaf[];
  datanetId: string;
  datanetRoot: string;
}

export interface SettledEvent {
  receipt: bigint;
  adapterId: bigint;
  version: bigint;
  host: string;
  fee: bigint;
  pool: bigint;
  dust: bigint;
  txHash: string;
  blockNumber: number;
}

/** Where an account is a payee, and what is credited to it there. */
export interface Earning {
  adapterId: bigint;
  version: bigint;
  leaf: number;
  /** credited by settlements, not yet claimed (OPEN wei) */
  credit: bigint;
}

export interface Earnings {
  account: string;
  positions: Earning[];
  /** claimed and not yet withdrawn (OPEN wei) */
  balance: bigint;
}

const toAddress = (x: bigint) => '0x' + x.toString(16).padStart(40, '0');

/** The settlement contract and OPEN through ethers v6; ABIs come from the forge build. */
export class SettlementClient {
  private constructor(
    readonly settlement: Contract,
    readonly open: Contract,
  ) {}

  static async connect(deployment: Pick<Deployment, 'settlement' | 'open'>, runner: ContractRunner): Promise<SettlementClient> {
    const s = await readForgeArtifact('AttributionSettlement.sol', 'AttributionSettlement');
    const t = await readForgeArtifact('OpenToken.sol', 'OpenToken');
    return new SettlementClient(new Contract(deployment.settlement, s.abi as never, runner), new Contract(deployment.open, t.abi as never, runner));
  }

  connect(runner: ContractRunner): SettlementClient {
    return new SettlementClient(this.settlement.connect(runner) as Contract, this.open.connect(runner) as Contract);
  }

  get interface(): Interface {
    return this.settlement.interface;
  }

  private async send(name: string, ...args: unknown[]): Promise<ContractTransactionReceipt> {
    const tx = await this.settlement.getFunction(name)(...args);
    return (await tx.wait()) as ContractTransactionReceipt;
  }

  /** Approves and escrows `amount` OPEN for the signer's adapters. */
  async deposit(amount: bigint): Promise<ContractTransactionReceipt> {
    await (await this.open.getFunction('approve')(await this.settlement.getAddress(), amount)).wait();
    return this.send('deposit', amount);
  }

  /** Approves (or revokes) `operator` to register and settle the signer's adapters out of the signer's escrow. */
  setOperator(operator: string, approved: boolean): Promise<ContractTransactionReceipt> {
    return this.send('setOperator', operator, approved);
  }

  /** Whether `operator` may register and settle `host`'s adapters. */
  async isOperator(host: string, operator: string): Promise<boolean> {
    return (await this.settlement.getFunction('isOperator')(host, operator)) as boolean;
  }

  /** Takes `amount` of the signer's escrow back. */
  withdrawEscrow(amount: bigint): Promise<ContractTransactionReceipt> {
    return this.send('withdrawEscrow', amount);
  }

  async registerAdapter(r: AdapterRegistration): Promise<{ adapterId: bigint; version: bigint; indexRoot: bigint; binding: bigint; tx: ContractTransactionReceipt }> {
    const tx = await this.send('registerAdapter', r.host, r.variantId, r.price, r.ownerBps, r.protocolBps, r.poolBps, {
      payees: r.leaves.map((l) => toAddress(l.payee)),
      featureChunks: r.leaves.flatMap((l) => packFeatures(l.g)),
      datanetId: r.datanetId,
      datanetRoot: r.datanetRoot,
    });
    const ev = this.events(tx, 'IndexVersioned')[0]!;
    return { adapterId: ev.args[0] as bigint, version: ev.args[1] as bigint, indexRoot: ev.args[2] as bigint, binding: ev.args[3] as bigint, tx };
  }

  async settle(adapterId: bigint, proof: readonly bigint[], publicSignals: readonly bigint[]): Promise<{ event: SettledEvent; tx: ContractTransactionReceipt }> {
    const tx = await this.send('settle', adapterId, proof, publicSignals);
    return { event: this.toSettled(this.events(tx, 'Settled')[0]!, tx.hash, tx.blockNumber), tx };
  }

  claim(adapterId: bigint, version: bigint, leaves: readonly number[]): Promise<ContractTransactionReceipt> {
    return this.send('claim', adapterId, version, leaves);
  }

  withdraw(): Promise<ContractTransactionReceipt> {
    return this.send('withdraw');
  }

  async credit(adapterId: bigint, version: bigint, leaf: number): Promise<bigint> {
    return (await this.settlement.getFunction('credit')(adapterId, version, leaf)) as bigint;
  }

  async balanceOf(account: string): Promise<bigint> {
    return (await this.settlement.getFunction('balanceOf')(account)) as bigint;
  }

  async escrowOf(host: string): Promise<bigint> {
    return (await this.settlement.getFunction('escrowOf')(host)) as bigint;
  }

  async isSettled(receipt: bigint): Promise<boolean> {
    return (await this.settlement.getFunction('settled')(receipt)) as boolean;
  }

  /**
   * Every index leaf that pays `account` (from the IndexVersioned events and the
   * registered payees, so it needs no service), with its unclaimed credit, and the
   * account's claimed balance.
   */
  async earnings(account: string, fromBlock = 0): Promise<Earnings> {
    const versions = await this.settlement.queryFilter(this.settlement.filters.IndexVersioned!(), fromBlock);
    const payee = this.settlement.getFunction('payee');
    const positions: Earning[] = [];
    for (const log of versions as EventLog[]) {
      const [adapterId, version, , , , , contributors] = log.args as unknown as [bigint, bigint, bigint, bigint, string, string, bigint]; // IndexVersioned(adapterId, version, indexRoot, binding, datanetId, datanetRoot, contributors)
      const leaves = Array.from({ length: Number(contributors) }, (_, leaf) => leaf);
      const payees = (await Promise.all(leaves.map((leaf) => payee(adapterId, version, leaf)))) as string[];
      const mine = leaves.filter((leaf) => payees[leaf]!.toLowerCase() === account.toLowerCase());
      const credits = await Promise.all(mine.map((leaf) => this.credit(adapterId, version, leaf)));
      mine.forEach((leaf, i) => positions.push({ adapterId, version, leaf, credit: credits[i]! }));
    }
    return { account, positions, balance: await this.balanceOf(account) };
  }

  /**
   * The signer's pull payment in full: claims every credited leaf that pays it (one
   * transaction per adapter version), then withdraws the balance to its wallet.
   */
  async claimAll(fromBlock = 0): Promise<{ claimed: bigint; withdrawn: bigint; txs: string[] }> {
    const runner = this.settlement.runner as { getAddress?: () => Promise<string> } | null;
    if (!runner?.getAddress) throw new Error('claimAll needs a signer');
    const { positions } = await this.earnings(await runner.getAddress(), fromBlock);
    const byVersion = new Map<string, Earning[]>();
    for (const p of positions.filter((x) => x.credit > 0n)) {
      const k = `${p.adapterId}:${p.version}`;
      byVersion.set(k, [...(byVersion.get(k) ?? []), p]);
    }
    const txs: string[] = [];
    let claimed = 0n;
    for (const ps of byVersion.values()) {
      const tx = await this.claim(ps[0]!.adapterId, ps[0]!.version, ps.map((p) => p.leaf));
      txs.push(tx.hash);
      claimed += this.events(tx, 'Claimed').reduce((a, ev) => a + (ev.args[3] as bigint), 0n); // what was claimed, settlements since the read included
    }
    const withdrawn = await this.balanceOf(await runner.getAddress());
    if (withdrawn > 0n) txs.push((await this.withdraw()).hash);
    return { claimed, withdrawn, txs };
  }

  /** The Settled event of a receipt commitment, for auditors (undefined if not settled). */
  async findSettlement(receipt: bigint, fromBlock = 0): Promise<SettledEvent | undefined> {
    const logs = await this.settlement.queryFilter(this.settlement.filters.Settled!(receipt), fromBlock);
    const log = logs[0] as EventLog | undefined;
    return log ? this.toSettled(log, log.transactionHash, log.blockNumber) : undefined;
  }

  /** Decodes a revert into the contract's custom error name and arguments. */
  decodeError(err: unknown): { name: string; args: unknown[] } | undefined {
    const data = (err as { data?: string; info?: { error?: { data?: string } } }).data ?? (err as { info?: { error?: { data?: string } } }).info?.error?.data;
    if (!data) return undefined;
    const parsed = this.interface.parseError(data);
    return parsed ? { name: parsed.name, args: [...parsed.args] } : undefined;
  }

  private events(tx: ContractTransactionReceipt, name: string): EventLog[] {
    return tx.logs.filter((l): l is EventLog => 'fragment' in l && (l as EventLog).fragment?.name === name);
  }

  private toSettled(ev: EventLog, txHash: string, blockNumber: number): SettledEvent {
    const [receipt, adapterId, version, host, fee, pool, dust] = ev.args as unknown as [bigint, bigint, bigint, string, bigint, bigint, bigint];
    return { receipt, adapterId, version, host, fee, pool, dust, txHash, blockNumber };
  }
}
