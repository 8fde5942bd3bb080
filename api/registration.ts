import { AMOUNT_BITS, AMOUNT_MAX, hashToField } from '../attribution/index.js';
import { ZkpoaError } from '../attribution/errors.js';
import { variantByName } from '../circuits/variants.js';
import { indexLeaves } from '../inference/attribution-index.js';
import { loadAdapterIndex, type StoredIndex } from './attribution-service.js';
import { InFlight, approvedWallet, chainRefusals, needChain, operatorOf, type ChainContext } from './chain.js';
import { publishLeaves } from '../contracts/client/published-leaves.js';
import { AdapterRegistryStore } from './store/adapters.js';
import type { Db } from './store/db.js';
import type { Host } from './store/hosts.js';
import { PublishedLeavesStore } from './store/published-leaves.js';
import { ReceiptStore } from './store/receipts.js';
import { RegistrationStore, type Registration } from './store/registrations.js';
import { AdapterLocks } from './adapter-locks.js';

/** An adapter's price and fee shares (basis points of the fee: owner, protocol, contributors' pool). */
export interface Terms {
  price: bigint;
  ownerBps: number;
  protocolBps: number;
  poolBps: number;
}

const hex32 = (x: bigint) => '0x' + x.toString(16).padStart(64, '0');

/**
 * Registration of a host's adapters on-chain, and their versions: the index root with its
 * leaves published, the price and the shares. The adapter's on-chain host is the host's
 * linked wallet (its escrow pays the fees, it gets the owner share), which must have
 * approved this server's operator; a price or share change is a new version that applies
 * from the adapter's next answer on, so answers already served keep their terms.
 */
export class Registrar {
  private readonly adapters: AdapterRegistryStore;
  private readonly registrations: RegistrationStore;
  private readonly receipts: ReceiptStore;
  private readonly published: PublishedLeavesStore;
  private readonly inFlight = new InFlight();

  constructor(
    private readonly db: Db,
    private readonly chain?: ChainContext,
    /** shared with batch planning: a version boundary is never moved under a plan */
    private readonly locks = new AdapterLocks(),
  ) {
    this.adapters = new AdapterRegistryStore(db);
    this.registrations = new RegistrationStore(db);
    this.receipts = new ReceiptStore(db);
    this.published = new PublishedLeavesStore(db);
  }

  /** The chain this server settles on, with its operator's address (for /v1/host and wallet links). */
  async chainInfo(): Promise<{ chainId: string; settlement: string; operator: string } | undefined> {
    if (!this.chain) return undefined;
    return { chainId: this.chain.chainId.toString(), settlement: this.chain.settlement, operator: await operatorOf(this.chain) };
  }

  /** The contracts this server settles on, and the RPC contributors are shown: public facts, for `zkpoa claim --deployment <url>`. */
  async deployment(): Promise<{ chainId: string; settlement: string; open: string; rpc?: string }> {
    const chain = needChain(this.chain);
    return { chainId: chain.chainId.toString(), settlement: chain.settlement, open: await chain.client.open.getAddress(), ...(chain.publicRpc ? { rpc: chain.publicRpc } : {}) };
  }

  /** A host wallet's escrow, and whether it has approved this server's operator. */
  async escrowOf(wallet: string): Promise<{ balance: string; operatorApproved: boolean }> {
    const chain = needChain(this.chain);
    const [balance, operatorApproved] = await Promise.all([chain.client.escrowOf(wallet), chain.client.isOperator(wallet, await operatorOf(chain))]);
    return { balance: balance.toString(), operatorApproved };
  }

  registration(adapterKey: string): Registration | undefined {
    return this.registrations.get(adapterKey);
  }

  async register(host: Host, name: string, terms: Terms): Promise<Registration> {
    const chain = needChain(this.chain);
    checkTerms(terms);
    const adapter = this.adapters.get(host, name);
    if (adapter.status !== 'ready') throw new ZkpoaError('ZKPOA_ERR_ADAPTER_NOT_READY', `adapter ${name} is ${adapter.status}`);
    const existing = this.registrations.get(adapter.key);
    if (existing) {
      const elsewhere = existing.chainId !== chain.chainId || existing.settlement.toLowerCase() !== chain.settlement.toLowerCase();
      throw new ZkpoaError('ZKPOA_ERR_ALREADY_REGISTERED', `adapter ${name} is already registered${elsewhere ? ` on another deployment (chain ${existing.chainId}, settlement ${existing.settlement}): train it under a new id to register it here` : ''}`);
    }
    const stored = indexOf(this.db, adapter.key);
    const wallet = await approvedWallet(chain, host);
    return this.inFlight.once(`register:${adapter.key}`, async () => {
      if (this.registrations.get(adapter.key)) throw new ZkpoaError('ZKPOA_ERR_ALREADY_REGISTERED', `adapter ${name} is already registered`);
      // published before the registration that names them lands, so they are never missing for a registered version
      const leaves = indexLeaves(stored.index);
      this.published.put(publishLeaves(leaves));
      const reg = await chainRefusals(chain, () =>
        chain.client.registerAdapter({
          host: wallet,
          variantId: variantByName(stored.variant).id,
          terms,
          index: {
            root: stored.index.root,
            leaves,
            datanetId: hex32(hashToField(stored.index.datanet.id)),
            datanetRoot: hex32(BigInt(stored.index.datanet.versionRoot)),
          },
        }),
      );
      this.registrations.add(
        { adapterKey: adapter.key, hostWallet: wallet, chainId: chain.chainId, settlement: chain.settlement, onchainId: reg.adapterId, tx: reg.tx.hash },
        { version: Number(reg.version), firstReceipt: 0, indexRoot: stored.index.root, binding: reg.binding, price: terms.price, poolBps: terms.poolBps, tx: reg.tx.hash },
      );
      return this.registrations.get(adapter.key)!;
    });
  }

  /**
   * New terms for a registered adapter: a new on-chain version from the adapter's next
   * answer on (answers served until now keep the terms they were served under).
   */
  async setTerms(host: Host, name: string, terms: Terms): Promise<Registration> {
    const chain = needChain(this.chain);
    checkTerms(terms);
    const adapter = this.adapters.get(host, name);
    const registered = this.registrations.get(adapter.key);
    if (!registered?.versions.length) throw new ZkpoaError('ZKPOA_ERR_NOT_REGISTERED', `adapter ${name} is not registered on-chain`);
    await approvedWallet(chain, { id: host.id, wallet: registered.hostWallet });
    // one at a time per adapter, and never under a batch plan: a plan reads the boundaries once
    return this.inFlight.once(`register:${adapter.key}`, () =>
      this.locks.run(adapter.key, async () => {
        const reg = await this.reconcile(adapter.key);
        // answers served from now on belong to the new version: the planner waits for this boundary
        const from = Math.max(this.receipts.nextNumber(adapter.key), reg.versions.at(-1)!.firstReceipt);
        const current = reg.versions.at(-1)!;
        try {
          const v = await chainRefusals(chain, () => chain.client.setTerms(reg.onchainId, terms, BigInt(from)));
          this.registrations.addVersion(adapter.key, { version: Number(v.version), firstReceipt: from, indexRoot: current.indexRoot, binding: v.binding, price: terms.price, poolBps: terms.poolBps, tx: v.tx.hash });
        } catch (err) {
          await this.reconcile(adapter.key).catch(() => undefined); // it may have landed all the same
          throw err;
        }
        return this.registrations.get(adapter.key)!;
      }),
    );
  }

  /**
   * Records versions the chain has and this service does not (a new version that landed
   * while the service crashed, or whose receipt it never saw), so batches are planned
   * within the chain's boundaries.
   */
  async reconcile(adapterKey: string): Promise<Registration> {
    const chain = needChain(this.chain);
    const reg = this.registrations.get(adapterKey);
    if (!reg?.versions.length) throw new ZkpoaError('ZKPOA_ERR_NOT_REGISTERED', `adapter ${adapterKey} is not registered on-chain`);
    const onchain = Number((await chain.client.adapter(reg.onchainId)).version);
    for (let v = reg.versions.at(-1)!.version + 1; v <= onchain; v++) {
      const info = await chain.client.version(reg.onchainId, v);
      this.registrations.addVersion(adapterKey, { version: v, firstReceipt: Number(info.firstReceipt), indexRoot: info.indexRoot, binding: info.binding, price: info.price, poolBps: info.poolBps, tx: 'found on-chain' });
    }
    return this.registrations.get(adapterKey)!;
  }

  /** Reconciles every registration on this server's chain (at start), under the planner's lock. */
  async reconcileAll(): Promise<void> {
    const chain = needChain(this.chain);
    for (const key of this.registrations.onDeployment(chain)) {
      await this.locks.run(key, () => this.reconcile(key)).catch((err: unknown) => console.error(`zkpoa: reconciling ${key} with the chain: ${(err as Error).message}`));
    }
  }
}

function checkTerms(terms: Terms): void {
  if (terms.ownerBps + terms.protocolBps + terms.poolBps !== 10_000) throw new ZkpoaError('ZKPOA_ERR_INVALID_ARGUMENT', 'ownerBps + protocolBps + poolBps must be 10000');
  if (terms.price <= 0n || terms.price > AMOUNT_MAX) throw new ZkpoaError('ZKPOA_ERR_INVALID_ARGUMENT', `price must be in [1, 2^${AMOUNT_BITS} − 1] wei`);
}

/** The adapter's attribution index, or ZKPOA_ERR_NO_INDEX. */
export function indexOf(db: Db, adapterKey: string): StoredIndex {
  const s = loadAdapterIndex(db, adapterKey);
  if (!s) throw new ZkpoaError('ZKPOA_ERR_NO_INDEX', `adapter ${adapterKey} has no attribution index (see its fine-tuning job)`);
  return s;
}
