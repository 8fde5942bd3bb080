import { spawn, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Wallet } from 'ethers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../api/store/db.js';
import { createHost, walletLinkMessage } from '../../api/store/hosts.js';
import { SettlementClient, anvilAccountKeys, deployAll, rpcProvider, startAnvil, type LocalChain } from '../../contracts/client/index.js';
import { datanetCorpus, isHeldOut } from '../../inference/datasets.js';
import { freePort } from '../../lib/net.js';
import { mulberry32, shuffled } from '../../lib/random.js';
import { tempDir } from '../inference/helpers.js';
import { TEST_VARIANT } from '../helpers/fixtures.js';
import { waitFor } from '../helpers/crash-recovery.js';

/**
 * Crash safety of settlement with real processes: a `zkpoa serve` killed with SIGKILL
 * between proof and settlement, and again while its settlement transaction is in the
 * chain's mempool. After each restart: no receipt lost, none settled twice, and the
 * ledger root on-chain is the service's.
 */
const PRICE = 10n ** 16n;
const M = TEST_VARIANT.params.answers!;
const ROOT = new URL('../..', import.meta.url).pathname;

let chain: LocalChain;
let client: SettlementClient;
let dir: string;
let server: ChildProcess | undefined;
let url: string;
let apiKey: string;
let hostWallet: Wallet;
let deploymentFile: string;

function startServer(port: number): ChildProcess {
  const child = spawn(
    process.execPath,
    ['bin/zkpoa.mjs', 'serve', '--db', join(dir, 'zkpoa.sqlite'), '--data', join(dir, 'data'), '--port', String(port), '--rpc', chain.rpcUrl, '--deployment', deploymentFile, '--variant', TEST_VARIANT.name, '--no-auto-settle', '--batch-deadline', '3600'],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LOG_LEVEL: 'warn' } },
  );
  child.stderr!.on('data', (d: Buffer) => process.stderr.write(d));
  return child;
}

async function restart(): Promise<void> {
  const port = Number(new URL(url).port);
  server = startServer(port);
  await waitFor(async () => (await fetch(`${url}/health`).catch(() => undefined))?.ok === true, 120_000);
}

async function kill9(): Promise<void> {
  const s = server!;
  s.kill('SIGKILL');
  await new Promise((r) => s.once('exit', r));
}

const api = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
  const res = await fetch(`${url}${path}`, { method, headers: { authorization: `Bearer ${apiKey}`, ...(body ? { 'content-type': 'application/json' } : {}) }, ...(body ? { body: JSON.stringify(body) } : {}) });
  return (await res.json()) as T;
};
type Batches = { batches: { first: number; count: number; status: string; newRoot: string; settleTx?: string }[] };
const batches = () => api<Batches>('GET', '/v1/adapters/mail/batches');

beforeAll(async () => {
  dir = await tempDir('zkpoa-crash-');
  chain = await startAnvil();
  const provider = rpcProvider(chain.rpcUrl);
  const [deployerKey, , hostKey, ...rest] = anvilAccountKeys();
  const deployment = await deployAll(new Wallet(deployerKey!, provider), { variants: [TEST_VARIANT] });
  deploymentFile = join(dir, 'deployment.json');
  await writeFile(deploymentFile, JSON.stringify(deployment));
  const admin = await SettlementClient.connect(deployment, new Wallet(deployerKey!, provider));
  hostWallet = new Wallet(hostKey!, provider);
  await (await admin.open.getFunction('transfer')(hostWallet.address, 100n * PRICE)).wait();
  client = admin.connect(hostWallet);
  await client.deposit(100n * PRICE);
  await client.setOperator(new Wallet(anvilAccountKeys()[1]!).address, true);

  const db = openDatabase(join(dir, 'zkpoa.sqlite'));
  const host = createHost(db, 'crash host');
  apiKey = host.apiKey;
  db.close();
  url = `http://127.0.0.1:${await freePort()}`;
  await restart();

  const signature = await hostWallet.signMessage(walletLinkMessage({ hostId: host.host.id, wallet: hostWallet.address, chainId: chain.chainId.toString(), settlement: deployment.settlement }));
  await api('PUT', '/v1/host/wallet', { wallet: hostWallet.address, signature });
  const dn = await api<{ id: string }>('POST', '/v1/datanets', { name: 'mail', labels: ['ham', 'spam'] });
  const seen = new Set<string>();
  const records = shuffled((await datanetCorpus()).filter((r) => !isHeldOut(r.id)), mulberry32(5))
    .filter((r) => !seen.has(r.text.slice(0, 800)) && seen.add(r.text.slice(0, 800)))
    .slice(0, 90)
    .map((r, i) => ({ contributor: new Wallet(rest[i % 3]!).address, text: r.text.slice(0, 800), label: r.label }));
  const added = await api<{ records: { id: number }[] }>('POST', `/v1/datanets/${dn.id}/records`, { records });
  for (const r of added.records) await api('POST', `/v1/datanets/${dn.id}/records/${r.id}/review`, { decision: 'accept' });
  await api('POST', `/v1/datanets/${dn.id}/versions`);
  await api('POST', '/v1/adapters', { id: 'mail', datanetId: dn.id, version: 1, hyper: { iterations: 60 } });
  await waitFor(async () => (await api<{ status: string }>('GET', '/v1/adapters/mail')).status !== 'training', 240_000);
  await api('POST', '/v1/adapters/mail/register', { price: PRICE.toString(), ownerBps: 2000, protocolBps: 1000, poolBps: 7000 });
}, 600_000);

afterAll(async () => {
  if (server && server.exitCode === null) {
    server.kill('SIGTERM');
    await new Promise((r) => server!.once('exit', r));
  }
  await chain?.stop();
});

const infer = (n: number) => api('POST', '/v1/infer', { requests: Array.from({ length: n }, (_, i) => ({ adapter: 'mail', text: `answer ${Date.now()} ${i}: win a prize` })) });
const proven = () => waitFor(async () => (await batches()).batches.every((b) => b.status === 'proven' || b.status === 'settled'), 120_000);

describe('settlement survives kill -9 of the server', () => {
  it('between proof and settlement: after a restart every batch settles once', async () => {
    await infer(M + 1);
    await api('POST', '/v1/adapters/mail/prove');
    await proven();
    await kill9();
    await restart();
    const { settled } = await api<{ settled: { first: number; count: number }[] }>('POST', '/v1/adapters/mail/settle');
    expect(settled.map((b) => [b.first, b.count])).toEqual([[0, M], [M, 1]]);
    expect(await client.escrowOf(hostWallet.address)).toBe(100n * PRICE - BigInt(M + 1) * PRICE);
  }, 300_000);

  it('with its settlement transaction in the mempool: after a restart the mined transaction is recorded, none is sent twice', async () => {
    await infer(2);
    await api('POST', '/v1/adapters/mail/prove');
    await proven();
    const provider = rpcProvider(chain.rpcUrl);
    await provider.send('evm_setAutomine', [false]);
    void fetch(`${url}/v1/adapters/mail/settle`, { method: 'POST', headers: { authorization: `Bearer ${apiKey}` } }).catch(() => undefined);
    await waitFor(async () => ((await provider.send('txpool_status', [])) as { pending: string }).pending !== '0x0', 60_000);
    await kill9();
    await provider.send('evm_mine', []);
    await provider.send('evm_setAutomine', [true]);
    const mined = await client.findBatch(1n, BigInt(M + 1));
    expect(mined).toBeDefined();

    await restart();
    const { settled } = await api<{ settled: { first: number; tx: string }[] }>('POST', '/v1/adapters/mail/settle');
    expect(settled).toEqual([expect.objectContaining({ first: M + 1, tx: mined!.txHash })]); // recorded from the chain, not sent again
    expect((await api<{ settled: unknown[] }>('POST', '/v1/adapters/mail/settle')).settled).toEqual([]);
    // every answer settled once, and the service's ledger root is the chain's
    expect((await client.adapter(1n)).nextReceipt).toBe(BigInt(M + 3));
    expect(await client.escrowOf(hostWallet.address)).toBe(100n * PRICE - BigInt(M + 3) * PRICE);
    const last = (await batches()).batches.at(-1)!;
    expect(last.status).toBe('settled');
    expect((await client.version(1n, 1)).ledgerRoot).toBe(BigInt(last.newRoot));
    provider.destroy();
  }, 300_000);
});
