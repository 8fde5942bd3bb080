import { Contract, NonceManager, type ContractRunner, type ContractTransactionReceipt, type ContractTransactionResponse, type EventLog, type Interface } from 'ethers';
import { Commitments, ZkpoaError, fieldToAddress, type Leaf } from '../../attribution/index.js';
import { publishLeaves } from './published-leaves.js';
import { readForgeArtifact } from './artifacts.js';
import type { Deployment } from './deploy.js';

/** A version's price and fee shares (basis points summing to 10,000). */
export interface Terms {
  /** fee per answer in OPEN wei (< 2^80) */
  price: bigint;
  ownerBps: number;
  protocolBps: number;
  poolBps: number;
}

/** An attribution index as registered: its root and the leaves it commits to (published off-chain under their content hash). */
export interface IndexRegistration {
  /** Commitments.indexRoot(leaves, C, K); checked here against the leaves before sending */
  root: bigint;
  /** leaf order is the index order; padding leaves are not listed */
  leaves: readonly Leaf[];
  /** bytes32 hex */
  datanetId: string;
  /** bytes32 hex */
  datanetRoot: string;
}

export interface AdapterRegistration {
  /** the host whose escrow pays the adapter's fees (the signer, or a host that approved the signer as operator) */
  host: string;
  /** a batch circuit variant with a verifier */
  variantId: number;
  terms: Terms;
  index: IndexRegistration;
}

/** IAdapterRegistry.Adapter */
export interface AdapterInfo {
  host: string;
  variantId: number;
  /** the latest version */
  version: bigint;
  /** the next receipt number to settle */
  nextReceipt: bigint;
}

/** IAdapterRegistry.Version */
export interface VersionInfo extends Terms {
  indexRoot: bigint;
  binding: bigint;
  /** 0 until the version's first batch settles */
  ledgerRoot: bigint;
  firstReceipt: bigint;
}

/** A BatchSettled event with where it was mined. */
export interface BatchSettledEvent {
  adapterId: bigint;
  version: bigint;
  host: string;
  first: bigint;
  count: number;
  receiptsRoot: bigint;
  oldRoot: bigint;
  newRoot: bigint;
  fee: bigint;
  paid: bigint;
  txHash: string;
  blockNumber: number;
}

/** A claim from a version's payout ledger: leaf `leaf` is Poseidon(payee, cumulative), `siblings` from the leaf up. */
export interface LedgerClaim {
  adapterId: bigint;
  version: bigint | number;
  leaf: number;
  /** an address, or the leaf's payee as an integer (Leaf.payee) */
  payee: string | bigint;
  cumulative: bigint;
  /** Commitments.merkleProof over the ledger's leaves: exactly log2(C) of them */
  siblings: readonly bigint[];
}

type VersionNumber = bigint | number;

/** The last submission of each signer (see SettlementClient.send). */
const submissions = new WeakMap<object, Promise<unknown>>();

/** The settlement contract and OPEN through ethers v6; ABIs come from the forge build. */
export class SettlementClient {
  private static commitments: Promise<Commitments> | undefined;

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

  /**
   * Sends a transaction, one submission at a time per signer: with a NonceManager a refused
   * transaction (a revert found by the gas estimate) has already taken its nonce, so the
   * manager is reset to the chain's count before the next one, which would otherwise wait
   * for ever behind a nonce never sent.
   */
  private async send(name: string, ...args: unknown[]): Promise<ContractTransactionReceipt> {
    const runner = this.settlement.runner as object;
    const submitted = (submissions.get(runner) ?? Promise.resolve())
      .catch(() => undefined)
      .then(async () => {
        try {
          return (await this.settlement.getFunction(name)(...args)) as ContractTransactionResponse;
        } catch (err) {
          if (runner instanceof NonceManager) runner.reset();
          throw err;
        }
      });
    submissions.set(runner, submitted);
    return (await (await submitted).wait()) as ContractTransactionReceipt;
  }

  private async call<T>(name: string, ...args: unknown[]): Promise<T> {
    return (await this.settlement.getFunction(name)(...args)) as T;
  }

  /** Approves and escrows `amount` OPEN for the signer's adapters. */
  async deposit(amount: bigint): Promise<ContractTransactionReceipt> {
    await (await this.open.getFunction('approve')(await this.settlement.getAddress(), amount)).wait();
    return this.send('deposit', amount);
  }

  /** Takes `amount` of the signer's escrow back. */
  withdrawEscrow(amount: bigint): Promise<ContractTransactionReceipt> {
    return this.send('withdrawEscrow', amount);
  }

  /** Approves (or revokes) `operator` to register and settle the signer's adapters out of the signer's escrow. */
  setOperator(operator: string, approved: boolean): Promise<ContractTransactionReceipt> {
    return this.send('setOperator', operator, approved);
  }

  /** Whether `operator` may register and settle `host`'s adapters. */
  isOperator(host: string, operator: string): Promise<boolean> {
    return this.call('isOperator', host, operator);
  }

  /** Registers an adapter; its version 1 applies from receipt 0. */
  async registerAdapter(r: AdapterRegistration): Promise<{ adapterId: bigint; version: bigint; binding: bigint; tx: ContractTransactionReceipt }> {
    const index = await this.indexInput(r.variantId, r.index);
    const tx = await this.send('registerAdapter', r.host, r.variantId, termsInput(r.terms), index);
    const added = this.events(tx, 'VersionAdded')[0]!;
    return { adapterId: added.args[0] as bigint, version: added.args[1] as bigint, binding: added.args[4] as bigint, tx };
  }

  /** A new version with a new index (and binding), the latest terms and an empty ledger, from receipt `fromReceipt` on. */
  async updateIndex(adapterId: bigint, index: IndexRegistration, fromReceipt: bigint): Promise<{ version: bigint; binding: bigint; tx: ContractTransactionReceipt }> {
    const { variantId } = await this.adapter(adapterId);
    const tx = await this.send('updateIndex', adapterId, await this.indexInput(variantId, index), fromReceipt);
    const added = this.events(tx, 'VersionAdded')[0]!;
    return { version: added.args[1] as bigint, binding: added.args[4] as bigint, tx };
  }

  /** A new version with new terms, the latest index and an empty ledger, from receipt `fromReceipt` on. */
  async setTerms(adapterId: bigint, terms: Terms, fromReceipt: bigint): Promise<{ version: bigint; binding: bigint; tx: ContractTransactionReceipt }> {
    const tx = await this.send('setTerms', adapterId, termsInput(terms), fromReceipt);
    const added = this.events(tx, 'VersionAdded')[0]!;
    return { version: added.args[1] as bigint, binding: added.args[4] as bigint, tx };
  }

  /**
   * Settles a batch proof: `proof` as flattenProof gives it ([a0, a1, b00, b01, b10, b11, c0, c1]),
   * `signals` = [binding, header, paid, receiptsRoot, oldRoot, newRoot].
   */
  async settleBatch(adapterId: bigint, version: VersionNumber, proof: readonly bigint[], signals: readonly bigint[]): Promise<{ event: BatchSettledEvent; tx: ContractTransactionReceipt }> {
    if (proof.length !== 8) throw new ZkpoaError('ZKPOA_ERR_SHAPE', `a Groth16 proof has 8 words, got ${proof.length}`);
    if (signals.length !== 6) throw new ZkpoaError('ZKPOA_ERR_SHAPE', `a batch proof has 6 public signals, got ${signals.length}`);
    const tx = await this.send('settleBatch', adapterId, version, proof, signals);
    return { event: this.toBatchSettled(this.events(tx, 'BatchSettled')[0]!, tx.hash, tx.blockNumber), tx };
  }

  /** The BatchSettled event of the adapter's batch starting at receipt `first`, for auditors (undefined if none). */
  async findBatch(adapterId: bigint, first: bigint, fromBlock = 0): Promise<BatchSettledEvent | undefined> {
    const logs = await this.settlement.queryFilter(this.settlement.filters.BatchSettled!(adapterId, null, null, first), fromBlock);
    const log = logs[0] as EventLog | undefined;
    return log ? this.toBatchSettled(log, log.transactionHash, log.blockNumber) : undefined;
  }

  /** Moves a ledger leaf's unclaimed amount to its payee's balance (any signer may send it; the payee is paid). */
  async claim(c: LedgerClaim): Promise<{ amount: bigint; tx: ContractTransactionReceipt }> {
    const payee = typeof c.payee === 'bigint' ? fieldToAddress(c.payee) : c.payee;
    const tx = await this.send('claim', c.adapterId, c.version, c.leaf, payee, c.cumulative, c.siblings);
    return { amount: this.events(tx, 'Claimed')[0]!.args[4] as bigint, tx };
  }

  /** The cumulative amount already claimed from a ledger leaf. */
  claimed(adapterId: bigint, version: VersionNumber, leaf: number): Promise<bigint> {
    return this.call('claimed', adapterId, version, leaf);
  }

  /** Transfers the signer's whole balance to its wallet. */
  withdraw(): Promise<ContractTransactionReceipt> {
    return this.send('withdraw');
  }

  balanceOf(account: string): Promise<bigint> {
    return this.call('balanceOf', account);
  }

  escrowOf(host: string): Promise<bigint> {
    return this.call('escrowOf', host);
  }

  /** What settled batches credited to contributors and nobody has claimed yet. */
  owed(): Promise<bigint> {
    return this.call('owed');
  }

  /** The verifier registered for a circuit variant (the zero address if none). */
  async verifierOf(variantId: number): Promise<string> {
    return (await this.call<{ verifier: string }>('variant', variantId)).verifier;
  }

  async adapter(adapterId: bigint): Promise<AdapterInfo> {
    const a = await this.call<{ host: string; variantId: bigint; version: bigint; nextReceipt: bigint }>('adapter', adapterId);
    return { host: a.host, variantId: Number(a.variantId), version: a.version, nextReceipt: a.nextReceipt };
  }

  async version(adapterId: bigint, version: VersionNumber): Promise<VersionInfo> {
    const v = await this.call<Record<string, bigint>>('version', adapterId, version);
    return {
      indexRoot: v.indexRoot!,
      binding: v.binding!,
      ledgerRoot: v.ledgerRoot!,
      firstReceipt: v.firstReceipt!,
      price: v.price!,
      ownerBps: Number(v.ownerBps),
      protocolBps: Number(v.protocolBps),
      poolBps: Number(v.poolBps),
    };
  }

  /** Decodes a revert into the contract's custom error name and arguments. */
  decodeError(err: unknown): { name: string; args: unknown[] } | undefined {
    const data = (err as { data?: string; info?: { error?: { data?: string } } }).data ?? (err as { info?: { error?: { data?: string } } }).info?.error?.data;
    if (!data) return undefined;
    const parsed = this.interface.parseError(data);
    return parsed ? { name: parsed.name, args: [...parsed.args] } : undefined;
  }

  /**
   * IndexInput for the contract, after checking that the root is the leaves' under the variant's
   * C and K: the root, the number of contributors and the leaves' content hash (the leaves
   * themselves are published off-chain under it, see published-leaves.ts).
   */
  private async indexInput(variantId: number, index: IndexRegistration) {
    const v = await this.call<{ verifier: string; contributors: bigint; features: bigint }>('variant', variantId);
    if (BigInt(v.verifier) === 0n) throw new ZkpoaError('ZKPOA_ERR_UNKNOWN_VARIANT', `variant ${variantId} has no verifier on this settlement contract`);
    const commitments = await (SettlementClient.commitments ??= Commitments.create());
    const root = commitments.indexRoot(index.leaves, Number(v.contributors), Number(v.features));
    if (root !== index.root) throw new ZkpoaError('ZKPOA_ERR_INVALID_ARGUMENT', `index root ${index.root} is not the root of its ${index.leaves.length} leaves (${root})`);
    return {
      indexRoot: index.root,
      contributors: index.leaves.length,
      leavesHash: publishLeaves(index.leaves).leavesHash,
      datanetId: index.datanetId,
      datanetRoot: index.datanetRoot,
    };
  }

  /**
   * The index in force at a version, as the IndexPublished event that brought it says (the
   * version's own, or the latest before it: a version with new terms keeps its index): its
   * root, its contributors and the content hash of its leaves.
   */
  async publishedIndex(adapterId: bigint, version: VersionNumber, fromBlock = 0): Promise<{ version: number; indexRoot: bigint; contributors: number; leavesHash: string } | undefined> {
    const logs = (await this.settlement.queryFilter(this.settlement.filters.IndexPublished!(adapterId), fromBlock)) as EventLog[];
    const events = logs.map((log) => {
      const [, v, indexRoot, contributors, leavesHash] = log.args as unknown as [bigint, bigint, bigint, bigint, string];
      return { version: Number(v), indexRoot, contributors: Number(contributors), leavesHash };
    });
    return events.filter((e) => e.version <= Number(version)).sort((a, b) => a.version - b.version).at(-1);
  }

  private events(tx: ContractTransactionReceipt, name: string): EventLog[] {
    return tx.logs.filter((l): l is EventLog => 'fragment' in l && (l as EventLog).fragment?.name === name);
  }

  private toBatchSettled(ev: EventLog, txHash: string, blockNumber: number): BatchSettledEvent {
    const [adapterId, version, host, first, count, receiptsRoot, oldRoot, newRoot, fee, paid] = ev.args as unknown as [
      bigint,
      bigint,
      string,
      bigint,
      bigint,
      bigint,
      bigint,
      bigint,
      bigint,
      bigint,
    ];
    return { adapterId, version, host, first, count: Number(count), receiptsRoot, oldRoot, newRoot, fee, paid, txHash, blockNumber };
  }
}

const termsInput = (t: Terms) => ({ price: t.price, ownerBps: t.ownerBps, protocolBps: t.protocolBps, poolBps: t.poolBps });
