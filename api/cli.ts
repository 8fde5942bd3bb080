import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, InvalidArgumentError } from 'commander';
import { variantByName, variantFor } from '../circuits/variants.js';
import { startService } from './service.js';
import type { ChainContext } from './receipts.js';
import { readFile } from 'node:fs/promises';
import { Wallet } from 'ethers';
import { SettlementClient, anvilAccountKeys, rpcProvider, type Deployment } from '../contracts/client/index.js';
import { BUILD_DIR } from '../lib/config.js';
import { openDatabase } from './store/db.js';
import { createHost } from './store/hosts.js';
import { QUEUE_URL_ENV, describeJobQueue } from './store/open-queue.js';

/**
 * `zkpoa`: the service and its operations. Long jobs (setup, demo, benchmarks) run
 * the repository's scripts, which show progress bars.
 */
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const DEFAULT_DB = join(BUILD_DIR, 'zkpoa.sqlite');

function script(name: string, args: string[]): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'scripts', `${name}.ts`), ...args], { stdio: 'inherit', cwd: ROOT });
    const forward = (sig: NodeJS.Signals) => child.kill(sig);
    process.on('SIGINT', forward);
    process.on('SIGTERM', forward);
    child.on('exit', (code) => resolve(code ?? 1));
  });
}

const port = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('a port is an integer in [0, 65535]');
  return n;
};

const program = new Command('zkpoa').description('Proof of Attribution: prove how each answer’s fee is split among the contributors whose data shaped it');

program
  .command('serve')
  .description('run the HTTP API (OpenAPI document at /docs)')
  .option('--db <path>', 'SQLite database file', DEFAULT_DB)
  .option('--host <address>', 'address to listen on', '127.0.0.1')
  .option('--port <port>', 'port to listen on', port, 8080)
  .option('--data <dir>', 'where adapters and checkpoints are kept', BUILD_DIR)
  .option('--variant <name>', 'circuit variant for indexes and proofs')
  .option('--external-provers', 'do not prove in this process (run `zkpoa prover` workers)')
  .option('--queue <url>', `job queue: redis://… (BullMQ) to share proofs with \`zkpoa prover --queue\` workers on other hosts; default $${QUEUE_URL_ENV}, else SQLite in --db`)
  .option('--max-resident-adapters <n>', 'adapters kept as tensors', (v) => Number(v), 64)
  .option('--rpc <url>', 'chain RPC for registration and settlement (with --deployment)')
  .option('--deployment <file>', 'addresses written by `zkpoa deploy` (build/deployments/<chain id>.json)')
  .action(async (o: { db: string; host: string; port: number; data: string; variant?: string; externalProvers?: boolean; queue?: string; maxResidentAdapters: number; rpc?: string; deployment?: string }) => {
    const db = openDatabase(o.db);
    const queueUrl = o.queue ?? process.env[QUEUE_URL_ENV]; // read here so that --help never prints a password
    let chain: ChainContext | undefined;
    if (o.rpc || o.deployment) {
      if (!o.rpc || !o.deployment) throw new InvalidArgumentError('--rpc and --deployment go together');
      const deployment = await readDeployment(o.deployment);
      const provider = rpcProvider(o.rpc);
      const { chainId } = await provider.getNetwork();
      // the host's settlement wallet; anvil's public test key only on a local chain
      const key = process.env.ZKPOA_OPERATOR_KEY ?? (chainId === 31337n ? anvilAccountKeys()[1] : undefined);
      if (!key) throw new InvalidArgumentError('set ZKPOA_OPERATOR_KEY to the host wallet that escrows OPEN and settles');
      chain = { client: await SettlementClient.connect(deployment, new Wallet(key, provider)), chainId, settlement: deployment.settlement };
    }
    const service = await startService({
      db,
      buildDir: BUILD_DIR,
      dataDir: o.data,
      variant: o.variant ? variantByName(o.variant) : variantFor('default'),
      proofWorker: !o.externalProvers,
      ...(queueUrl ? { queueUrl } : {}),
      maxResidentAdapters: o.maxResidentAdapters,
      logger: { level: process.env.LOG_LEVEL ?? 'info' },
      ...(chain ? { chain } : {}),
    });
    const address = await service.app.listen({ host: o.host, port: o.port });
    service.app.log.info(`zkpoa API on ${address} (db ${o.db}, job queue ${describeJobQueue(queueUrl)}, tensor backend ${service.backend.name})`);
    const stop = async () => {
      await service.close();
      db.close();
      process.exit(0);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });

program
  .command('hosts')
  .description('manage model hosts')
  .command('create <name>')
  .description('create a host and print its API key (shown once; only its hash is stored)')
  .option('--db <path>', 'SQLite database file', DEFAULT_DB)
  .action((name: string, o: { db: string }) => {
    const db = openDatabase(o.db);
    const { host, apiKey } = createHost(db, name);
    db.close();
    console.log(JSON.stringify({ host, apiKey }, null, 2));
  });

program
  .command('audit <receipt>')
  .description('replay a receipt through a zkpoa server and report each check (exit 1 if any fails)')
  .option('--url <url>', 'the zkpoa API', process.env.ZKPOA_URL ?? 'http://127.0.0.1:8080')
  .option('--key <apiKey>', 'API key (or $ZKPOA_API_KEY)', process.env.ZKPOA_API_KEY)
  .action(async (receipt: string, o: { url: string; key?: string }) => {
    if (!o.key) throw new InvalidArgumentError('an API key is needed: --key or $ZKPOA_API_KEY');
    const res = await fetch(`${o.url.replace(/\/$/, '')}/v1/audit/${encodeURIComponent(receipt)}`, { method: 'POST', headers: { authorization: `Bearer ${o.key}` } }).catch((err: Error) => {
      console.error(`cannot reach ${o.url}: ${(err.cause as Error | undefined)?.message ?? err.message}`);
      process.exit(2);
    });
    const body = (await res.json()) as { ok?: boolean; checks?: { name: string; ok: boolean; detail: string }[]; error?: { code: string; message: string } };
    if (!res.ok || !body.checks) {
      console.error(`audit refused: ${body.error?.code ?? res.status} ${body.error?.message ?? ''}`);
      process.exitCode = 2;
      return;
    }
    for (const c of body.checks) console.log(`${c.ok ? '✓' : '✗'} ${c.name.padEnd(26)} ${c.detail}`);
    console.log(body.ok ? 'audit passed' : 'audit FAILED');
    process.exitCode = body.ok ? 0 : 1;
  });

/** The addresses `zkpoa deploy` wrote, or a one-line error. */
async function readDeployment(path: string): Promise<Deployment> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as Deployment;
  } catch (err) {
    throw new InvalidArgumentError(`cannot read the deployment file ${path}: ${(err as Error).message}`);
  }
}

/** A settlement client over an RPC and a deployment file, signing with `key` if given; `use` runs with it, then the provider is closed. */
async function withChain<T>(o: { rpc: string; deployment: string }, key: string | undefined, use: (c: SettlementClient, deployment: Deployment) => Promise<T>): Promise<T> {
  const deployment = await readDeployment(o.deployment);
  const provider = rpcProvider(o.rpc);
  try {
    return await use(await SettlementClient.connect(deployment, key ? new Wallet(key, provider) : provider), deployment);
  } finally {
    provider.destroy(); // else ethers keeps retrying an unreachable RPC and the command never exits
  }
}

const OPEN = (wei: bigint) => `${wei / 10n ** 18n}.${(wei % 10n ** 18n).toString().padStart(18, '0')} OPEN`;
const blockNumber = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('a block number is an integer ≥ 0');
  return n;
};
const chainOptions = (c: Command) =>
  c
    .requiredOption('--rpc <url>', 'chain RPC')
    .requiredOption('--deployment <file>', 'addresses written by `zkpoa deploy` (build/deployments/<chain id>.json)')
    .option('--from-block <n>', 'first block to scan for index versions (default: the deployment block, if the file records it)', blockNumber);
type ChainOpts = { rpc: string; deployment: string; fromBlock?: number };
const fromBlockOf = (o: ChainOpts, d: Deployment) => o.fromBlock ?? d.deployedAtBlock ?? 0;

chainOptions(
  program
    .command('earnings <address>')
    .description('a contributor’s earnings, read from the chain alone: every index leaf that pays it, its unclaimed credit, and its claimed balance'),
).action(async (address: string, o: ChainOpts) => {
  if (!/^0x[0-9a-fA-F]{40}$/.test(address)) throw new InvalidArgumentError('the address must be 0x and 40 hex digits');
  const e = await withChain(o, undefined, (c, d) => c.earnings(address, fromBlockOf(o, d)));
  for (const p of e.positions) console.log(`adapter ${p.adapterId} version ${p.version} leaf ${p.leaf}: ${OPEN(p.credit)} unclaimed`);
  const unclaimed = e.positions.reduce((a, p) => a + p.credit, 0n);
  console.log(`${e.positions.length} leaves, ${OPEN(unclaimed)} unclaimed, ${OPEN(e.balance)} claimed and withdrawable`);
});

chainOptions(
  program
    .command('claim')
    .description('claim every credit that pays your wallet and withdraw it (key from $ZKPOA_CONTRIBUTOR_KEY, never a command-line argument)'),
).action(async (o: ChainOpts) => {
  const key = process.env.ZKPOA_CONTRIBUTOR_KEY?.trim();
  if (!key) throw new InvalidArgumentError('set ZKPOA_CONTRIBUTOR_KEY to the contributor wallet’s private key');
  // checked here so that no error message can ever carry the key itself
  if (!/^(0x)?[0-9a-fA-F]{64}$/.test(key)) throw new InvalidArgumentError('ZKPOA_CONTRIBUTOR_KEY is not a private key (64 hex digits, optionally 0x-prefixed)');
  const r = await withChain(o, key, (c, d) => c.claimAll(fromBlockOf(o, d)));
  console.log(`claimed ${OPEN(r.claimed)}, withdrew ${OPEN(r.withdrawn)}${r.txs.length ? `; transactions ${r.txs.join(', ')}` : ' (nothing to claim)'}`);
});

for (const [name, file, description] of [
  ['setup', 'setup', 'build circuit artifacts and keys (local development ceremony unless --ptau)'],
  ['demo', 'demo', 'the main job, end to end on the embedded defaults'],
  ['chain', 'chain', 'start a local anvil chain'],
  ['deploy', 'deploy', 'deploy the contracts to an RPC (default: the local chain)'],
  ['prover', 'proof-worker', 'run a proof worker on the job queue'],
  ['finetune', 'finetune', 'fine-tune an adapter from a JSON spec (no code)'],
] as const) {
  program
    .command(name)
    .description(description)
    .allowUnknownOption()
    .helpOption(false)
    .argument('[args...]')
    .action(async (args: string[]) => {
      if (args.includes('--help') || args.includes('-h')) {
        // the script's own header documents its options
        const source = await readFile(join(ROOT, 'scripts', `${file}.ts`), 'utf8');
        const header = /^\/\*\*([\s\S]*?)\*\//.exec(source)?.[1] ?? '';
        console.log(`zkpoa ${name}: ${description}\n\n${header.replace(/^ ?\* ?/gm, '').trim()}`);
        return;
      }
      process.exitCode = await script(file, args);
    });
}

// A refused input or an unreachable chain is a one-line error, not a stack trace.
await program.parseAsync(process.argv).catch((err: Error) => {
  const cause = (err.cause as Error | undefined)?.message;
  console.error(`zkpoa: ${err.message}${cause ? ` (${cause})` : ''}`);
  process.exitCode = err instanceof InvalidArgumentError ? 2 : 1;
});
