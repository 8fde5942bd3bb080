import { Wallet } from 'ethers';
import { startService, type Service } from '../../api/service.js';
import type { App } from '../../api/server.js';
import { openDatabase, type Db } from '../../api/store/db.js';
import { createHost, walletLinkMessage } from '../../api/store/hosts.js';
import { variantLadder } from '../../circuits/variants.js';
import { SettlementClient, anvilAccountKeys, deployAll, rpcProvider, startAnvil, type LocalChain } from '../../contracts/client/index.js';
import { datanetCorpus, isHeldOut } from '../../inference/datasets.js';
import { BUILD_DIR } from '../../lib/config.js';
import { mulberry32, shuffled } from '../../lib/random.js';
import { tempDir } from '../inference/helpers.js';

/**
 * A whole service on a real anvil chain for end-to-end tests: contracts deployed with the
 * tests' circuit ladder, host A with an escrowed wallet that approved the operator, host B,
 * contributor wallets; and the steps of the pipeline a test can take through HTTP.
 */
export const PRICE = 10n ** 16n;

export interface Stack {
  chain: LocalChain;
  db: Db;
  service: Service;
  app: App;
  /** host A's API key, and its wallet (escrow, owner share) */
  key: string;
  hostWallet: Wallet;
  /** the server's operator wallet */
  operator: Wallet;
  client: SettlementClient;
  contributors: Wallet[];
  /** host B, with a wallet of its own */
  other: { key: string; id: number; wallet: Wallet };
}

export async function startStack(queueUrl?: string): Promise<Stack> {
  const chain = await startAnvil();
  const provider = rpcProvider(chain.rpcUrl);
  const [deployerKey, operatorKey, hostKey, otherKey, ...rest] = anvilAccountKeys();
  const deployer = new Wallet(deployerKey!, provider);
  const deployment = await deployAll(deployer, { variants: variantLadder('test') });
  const operator = new Wallet(operatorKey!, provider);
  const hostWallet = new Wallet(hostKey!, provider);
  const contributors = rest.slice(0, 3).map((k) => new Wallet(k, provider));
  const admin = await SettlementClient.connect(deployment, deployer);
  // host A escrows and approves the server's operator; the operator has escrow of its own, which no host may spend
  for (const w of [hostWallet, operator]) {
    await (await admin.open.getFunction('transfer')(w.address, 100n * PRICE)).wait();
    await admin.connect(w).deposit(100n * PRICE);
  }
  await admin.connect(hostWallet).setOperator(operator.address, true);

  const db = openDatabase(':memory:');
  const key = createHost(db, 'host').apiKey;
  const b = createHost(db, 'other');
  const service = await startService({
    db,
    buildDir: BUILD_DIR,
    dataDir: await tempDir('zkpoa-e2e-'),
    variants: variantLadder('test'),
    chain: { client: admin.connect(operator), chainId: chain.chainId, settlement: deployment.settlement, publicRpc: chain.rpcUrl },
    pollMs: 20,
    ...(queueUrl ? { queueUrl } : {}),
  });
  await service.app.ready();
  return { chain, db, service, app: service.app, key, hostWallet, operator, client: admin.connect(operator), contributors, other: { key: b.apiKey, id: b.host.id, wallet: new Wallet(otherKey!, provider) } };
}

/** The signature that links `wallet` to host `hostId` on this stack's chain and contract. */
export async function linkSignature(stack: Stack, hostId: number, wallet: Wallet): Promise<string> {
  return wallet.signMessage(walletLinkMessage({ hostId, wallet: wallet.address, chainId: stack.chain.chainId.toString(), settlement: await stack.client.settlement.getAddress() }));
}

export const poll = async <T>(f: () => Promise<T>, done: (t: T) => boolean, ms = 120_000): Promise<T> => {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (done(v) || Date.now() > end) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
};


/** Public mail records split among `who`, as a datanet's contributors send them. */
export async function mailRecords(who: readonly string[], count: number, seed = 9): Promise<{ contributor: string; text: string; label: number }[]> {
  const seen = new Set<string>();
  const corpus = shuffled((await datanetCorpus()).filter((r) => !isHeldOut(r.id)), mulberry32(seed)).filter((r) => !seen.has(r.text.slice(0, 1500)) && seen.add(r.text.slice(0, 1500)));
  return corpus.slice(0, count).map((r, i) => ({ contributor: who[i % who.length]!, text: r.text.slice(0, 1500), label: r.label }));
}
