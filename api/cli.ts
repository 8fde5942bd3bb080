import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, InvalidArgumentError, Option } from 'commander';
import { variantByName, variantLadder } from '../circuits/variants.js';
import { startService } from './service.js';
import type { ChainContext } from './chain.js';
import { readFile } from 'node:fs/promises';
import { NonceManager, Wallet, formatUnits, getAddress, parseUnits } from 'ethers';
import { SettlementClient, anvilAccountKeys, isLocalChain, rpcProvider, type Deployment } from '../contracts/client/index.js';
import { BUILD_DIR, ENV, env, type EnvName } from '../lib/config.js';
import { openDatabase } from './store/db.js';
import { createHost, walletLinkMessage } from './store/hosts.js';
import { describeJobQueue } from './store/open-queue.js';
import { claimAll, earnings } from './contributor.js';
import { serverSentEvents } from '../lib/sse.js';

/**
 * `zkpoa`: the service and its operations. Long jobs (setup, demo, benchmarks) run
 * the repository's scripts, which show progress bars. Secrets (keys, the queue URL's
 * password) come from the environment only (lib/config.ts lists it): never from argv,
 * where the process list shows them, and never as defaults, which --help prints.
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

const positive = (v: string) => {
  const n = Number(v);
  if (!(n > 0) || !Number.isFinite(n)) throw new InvalidArgumentError('a positive number');
  return n;
};

const count = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('a positive integer');
  return n;
};

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
  .option('--variant <names...>', 'the circuit variants indexes are built and proofs made for; an adapter gets the smallest that holds its datanet (default: the default variant and the larger scale ones)')
  .option('--external-provers', 'do not prove in this process (run `zkpoa prover` workers)')
  .option('--queue <url>', `job queue: redis://… (BullMQ) to share proofs with \`zkpoa prover\` workers on other hosts; default $${ENV.queueUrl}, else SQLite in --db (a URL holding a password belongs in $${ENV.queueUrl})`)
  .option('--max-resident-adapters <n>', 'adapters kept as tensors', count, 64)
  .option('--rpc <url>', 'chain RPC for registration and settlement (with --deployment)')
  .option('--deployment <file>', 'addresses written by `zkpoa deploy` (build/deployments/<chain id>.json)')
  .option('--public-rpc <url>', 'the chain RPC shown to contributors for their claims (default: --rpc on a local chain, else none)')
  .option('--batch-deadline <seconds>', 'prove a short batch once its oldest answer has waited this long', positive, 30)
  .option('--no-auto-settle', 'leave proven batches for POST /v1/adapters/:id/settle instead of settling them as they are proven')
  .option('--allow-development-keys', 'serve a chain that is not a local one with keys from the development ceremony (anyone who kept its randomness can forge proofs)')
  .action(async (o: { db: string; host: string; port: number; data: string; variant?: string[]; externalProvers?: boolean; queue?: string; maxResidentAdapters: number; rpc?: string; deployment?: string; publicRpc?: string; allowDevelopmentKeys?: boolean; batchDeadline: number; autoSettle: boolean }) => {
    const db = openDatabase(o.db);
    const queueUrl = o.queue ?? env('queueUrl'); // read here so that --help never prints a password
    let chain: ChainContext | undefined;
    if (o.rpc || o.deployment) {
      if (!o.rpc || !o.deployment) throw new InvalidArgumentError('--rpc and --deployment go together');
      const deployment = await readDeployment(o.deployment);
      const provider = rpcProvider(o.rpc);
      const { chainId } = await provider.getNetwork();
      // the operator wallet that registers and settles for the hosts that approve it; anvil's public test key only on a local chain
      const key = secret('operatorKey') ?? (isLocalChain(chainId) ? anvilAccountKeys()[1] : undefined);
      if (!key) throw new InvalidArgumentError(`set ${ENV.operatorKey} to the operator wallet that registers and settles for hosts`);
      // one nonce sequence for the registrations and settlements the service sends side by side
      const publicRpc = o.publicRpc ?? (isLocalChain(chainId) ? o.rpc : undefined);
      chain = { client: await SettlementClient.connect(deployment, new NonceManager(new Wallet(key, provider))), chainId, settlement: deployment.settlement, ...(publicRpc ? { publicRpc } : {}) };
    }
    const service = await startService({
      db,
      buildDir: BUILD_DIR,
      dataDir: o.data,
      variants: o.variant ? o.variant.map(variantByName) : variantLadder('service'),
      proofWorker: !o.externalProvers,
      ...(queueUrl ? { queueUrl } : {}),
      maxResidentAdapters: o.maxResidentAdapters,
      logger: { level: env('logLevel') ?? 'info' },
      ...(chain ? { chain } : {}),
      ...(o.allowDevelopmentKeys ? { allowDevelopmentKeys: true } : {}),
      batchDeadlineMs: o.batchDeadline * 1000,
      autoSettle: o.autoSettle,
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

/** A secret from the environment, or undefined; a value that is not a private key is refused without echoing it. */
function secret(name: Extract<EnvName, 'operatorKey' | 'hostKey' | 'contributorKey' | 'apiKey'>): string | undefined {
  const v = env(name);
  if (v && name !== 'apiKey' && !/^(0x)?[0-9a-fA-F]{64}$/.test(v)) throw new InvalidArgumentError(`${ENV[name]} is not a private key (64 hex digits, optionally 0x-prefixed)`);
  return v;
}

function requireSecret(name: Parameters<typeof secret>[0], what: string): string {
  const v = secret(name);
  if (!v) throw new InvalidArgumentError(`set ${ENV[name]} to ${what}`);
  return v;
}

/** The zkpoa API's URL option (not a secret: its environment twin may be shown). */
const urlOption = () => new Option('--url <url>', 'the zkpoa API').env(ENV.url).default('http://127.0.0.1:8080');

/** A call to the zkpoa API with $ZKPOA_API_KEY; a refusal or an unreachable server is a one-line error. */
async function api<T>(url: string, method: string, path: string, body?: unknown): Promise<T> {
  const key = requireSecret('apiKey', 'the host’s API key (zk_…)');
  const res = await fetch(`${url.replace(/\/$/, '')}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  }).catch((err: Error) => {
    throw new Error(`cannot reach ${url}: ${(err.cause as Error | undefined)?.message ?? err.message}`);
  });
  const json = (await res.json().catch(() => ({}))) as T & { error?: { code: string; message: string } };
  if (!res.ok) throw Object.assign(new Error(`${json.error?.code ?? res.status}: ${json.error?.message ?? res.statusText}`), { status: res.status });
  return json;
}

const hosts = program.command('hosts').description('model hosts: API keys and the wallets that pay their fees');

hosts
  .command('create <name>')
  .description('create a host and print its API key (shown once; only its hash is stored)')
  .option('--db <path>', 'SQLite database file', DEFAULT_DB)
  .action((name: string, o: { db: string }) => {
    const db = openDatabase(o.db);
    const { host, apiKey } = createHost(db, name);
    db.close();
    console.log(JSON.stringify({ host, apiKey }, null, 2));
  });

hosts
  .command('show')
  .description(`the calling host (key from $${ENV.apiKey}), its wallet, the server's operator and the wallet's escrow`)
  .addOption(urlOption())
  .action(async (o: { url: string }) => {
    console.log(JSON.stringify(await api(o.url, 'GET', '/v1/host'), null, 2));
  });

hosts
  .command('link-wallet')
  .description(`link the wallet of $${ENV.hostKey} to the host of $${ENV.apiKey}: its escrow pays the host's fees and it receives the owner share`)
  .addOption(urlOption())
  .action(async (o: { url: string }) => {
    const wallet = new Wallet(requireSecret('hostKey', 'the host wallet’s private key'));
    const me = await api<{ id: number; chain?: { chainId: string; settlement: string; operator: string } }>(o.url, 'GET', '/v1/host');
    if (!me.chain) throw new InvalidArgumentError(`${o.url} has no chain configured`);
    const signature = await wallet.signMessage(walletLinkMessage({ hostId: me.id, wallet: wallet.address, ...me.chain }));
    const linked = await api<{ wallet: string; escrow: { balance: string; operatorApproved: boolean } }>(o.url, 'PUT', '/v1/host/wallet', { wallet: wallet.address, signature });
    console.log(`host ${me.id} pays with ${linked.wallet}: escrow ${OPEN(BigInt(linked.escrow.balance))}, operator ${me.chain.operator} ${linked.escrow.operatorApproved ? 'approved' : `NOT approved yet (zkpoa escrow approve ${me.chain.operator})`}`);
  });

const nonNegative = (v: string) => {
  const n = Number(v);
  if (v.trim() === '' || !(n >= 0) || !Number.isFinite(n)) throw new InvalidArgumentError('a number ≥ 0');
  return n;
};

program
  .command('generate <adapter> <prompt>')
  .description(`generate text with one of your language-model adapters, streamed to stdout; the receipt and the answer's spans follow on stderr (key from $${ENV.apiKey})`)
  .addOption(urlOption())
  .option('--max-tokens <n>', 'tokens to generate at most', count, 64)
  .option('--temperature <t>', '0: greedy', nonNegative, 0)
  .option('--top-k <k>', 'sample among the k most likely tokens', count)
  .option('--top-p <p>', 'sample among the most likely tokens holding mass p', positive)
  .option('--seed <n>', 'the sampling seed', (v: string) => {
    if (!/^\d+$/.test(v) || Number(v) > 0xffffffff) throw new InvalidArgumentError('an integer in [0, 2^32)');
    return Number(v);
  })
  .action(async (adapter: string, prompt: string, o: { url: string; maxTokens: number; temperature: number; topK?: number; topP?: number; seed?: number }) => {
    const key = requireSecret('apiKey', 'the host’s API key (zk_…)');
    const body = { adapter, prompt, maxTokens: o.maxTokens, temperature: o.temperature, ...(o.topK !== undefined ? { topK: o.topK } : {}), ...(o.topP !== undefined ? { topP: o.topP } : {}), ...(o.seed !== undefined ? { seed: o.seed } : {}), stream: true };
    const res = await fetch(`${o.url.replace(/\/$/, '')}/v1/generate`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify(body) }).catch((err: Error) => {
      throw new Error(`cannot reach ${o.url}: ${(err.cause as Error | undefined)?.message ?? err.message}`);
    });
    if (!res.ok || !res.body) {
      const json = (await res.json().catch(() => ({}))) as { error?: { code: string; message: string } };
      throw new Error(`${json.error?.code ?? res.status}: ${json.error?.message ?? res.statusText}`);
    }
    for await (const e of serverSentEvents(res.body)) {
      const data = JSON.parse(e.data) as { text?: string; receipt?: string; number?: number; tokens?: number; finish?: string; spans?: { spans: unknown[]; credit: Record<string, number> } | null; error?: { code: string; message: string } };
      if (e.event === 'token') process.stdout.write(data.text ?? '');
      else if (e.event === 'error') throw new Error(`${data.error?.code}: ${data.error?.message}`);
      else if (e.event === 'done') {
        process.stdout.write('\n');
        console.error(`receipt ${data.receipt} (answer ${data.number} of ${adapter}): ${data.tokens} tokens, ended by ${data.finish}`);
        if (!data.spans) console.error('spans: the datanet version\'s span index is being built');
        else {
          const credit = Object.entries(data.spans.credit).sort((a, b) => b[1] - a[1]);
          console.error(`spans: ${data.spans.spans.length} found in the datanet${credit.length ? `; tokens credited: ${credit.map(([who, n]) => `${who} ${n.toFixed(1)}`).join(', ')}` : ''}`);
        }
      }
    }
  });

program
  .command('audit <receipt>')
  .description(`replay a receipt through a zkpoa server and report each check (exit 1 if any fails; key from $${ENV.apiKey})`)
  .addOption(urlOption())
  .action(async (receipt: string, o: { url: string }) => {
    let body: { ok: boolean; checks: { name: string; ok: boolean; detail: string }[] };
    try {
      body = await api(o.url, 'POST', `/v1/audit/${encodeURIComponent(receipt)}`);
    } catch (err) {
      console.error(`audit refused: ${(err as Error).message}`);
      process.exitCode = 2;
      return;
    }
    for (const c of body.checks) console.log(`${c.ok ? '✓' : '✗'} ${c.name.padEnd(26)} ${c.detail}`);
    console.log(body.ok ? 'audit passed' : 'audit FAILED');
    process.exitCode = body.ok ? 0 : 1;
  });

/**
 * The contract addresses: a file `zkpoa deploy` wrote, or (where `url` allows it: the
 * contributor's read and claim commands, which pay only the contract's own ledger) a
 * server's public GET /v1/deployment, over HTTPS unless the server is on this machine.
 */
async function readDeployment(from: string, opts: { url?: boolean } = {}): Promise<Pick<Deployment, 'chainId' | 'settlement' | 'open'>> {
  const isUrl = /^https?:\/\//.test(from);
  if (isUrl && !opts.url) throw new InvalidArgumentError(`--deployment ${from}: this command reads a deployment file, not a URL`);
  if (isUrl && !/^https:\/\//.test(from) && !/^http:\/\/(127\.0\.0\.1|localhost|\[::1\])(:\d+)?\//.test(from)) throw new InvalidArgumentError(`--deployment ${from}: a server's deployment is read over https (plain http only from this machine)`);
  try {
    let json: unknown;
    if (isUrl) {
      const res = await fetch(from, { signal: AbortSignal.timeout(15_000) });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      json = await res.json();
    } else {
      json = JSON.parse(await readFile(from, 'utf8'));
    }
    const d = json as Partial<Deployment>;
    if (typeof d.settlement !== 'string' || typeof d.open !== 'string') throw new Error('it names no settlement and token contracts');
    return d as Pick<Deployment, 'chainId' | 'settlement' | 'open'>;
  } catch (err) {
    throw new InvalidArgumentError(`cannot read the deployment ${from}: ${(err as Error).message}`);
  }
}

/** A settlement client over an RPC and a deployment, signing with `key` if given; `use` runs with it, then the provider is closed. */
async function withChain<T>(o: { rpc: string; deployment: string }, key: string | undefined, use: (c: SettlementClient) => Promise<T>, opts: { deploymentUrl?: boolean } = {}): Promise<T> {
  const deployment = await readDeployment(o.deployment, { url: opts.deploymentUrl ?? false });
  const provider = rpcProvider(o.rpc);
  try {
    const { chainId } = await provider.getNetwork();
    if (deployment.chainId !== undefined && BigInt(deployment.chainId) !== chainId) throw new InvalidArgumentError(`the deployment is on chain ${deployment.chainId}, the RPC ${o.rpc} on chain ${chainId}`);
    return await use(await SettlementClient.connect(deployment, key ? new Wallet(key, provider) : provider));
  } finally {
    provider.destroy(); // else ethers keeps retrying an unreachable RPC and the command never exits
  }
}

const OPEN = (wei: bigint) => `${formatUnits(wei, 18)} OPEN`;
const amount = (v: string) => {
  try {
    const wei = parseUnits(v, 18);
    if (wei > 0n) return wei;
  } catch {
    // refused below
  }
  throw new InvalidArgumentError('an amount of OPEN is a positive decimal number, e.g. 12.5');
};
const address = (v: string) => {
  if (!/^0x[0-9a-fA-F]{40}$/.test(v)) throw new InvalidArgumentError('an address is 0x and 40 hex digits');
  return getAddress(v);
};
const chainOptions = (c: Command) =>
  c.requiredOption('--rpc <url>', 'chain RPC').requiredOption('--deployment <file>', 'addresses written by `zkpoa deploy` (build/deployments/<chain id>.json)');
/** The contributor's commands also take a server's public deployment (they only read the chain, or claim the contract's own ledger to its payee). */
const contributorChainOptions = (c: Command) =>
  c.requiredOption('--rpc <url>', 'chain RPC').requiredOption('--deployment <file or URL>', 'addresses written by `zkpoa deploy` (build/deployments/<chain id>.json), or a zkpoa server’s <url>/v1/deployment');
type ChainOpts = { rpc: string; deployment: string };

contributorChainOptions(
  program
    .command('earnings <address>')
    .description('a contributor’s earnings: every payout ledger leaf that pays it (from a zkpoa server), each checked against the root on-chain, with what is claimed and unclaimed')
    .addOption(urlOption()),
).action(async (who: string, o: ChainOpts & { url: string }) => {
  const a = address(who);
  const e = await withChain(o, undefined, (c) => earnings(c, o.url, a), { deploymentUrl: true });
  for (const p of e.positions) console.log(`adapter ${p.adapterId} version ${p.version} leaf ${p.leaf}: ${OPEN(p.cumulative)} earned, ${OPEN(p.cumulative - p.claimed)} unclaimed${p.verified ? '' : ' (NOT the root on-chain: not claimable with this path)'}`);
  const unclaimed = e.positions.filter((p) => p.verified).reduce((s, p) => s + p.cumulative - p.claimed, 0n);
  console.log(`${e.positions.length} ledger leaves, ${OPEN(unclaimed)} unclaimed, ${OPEN(e.balance)} claimed and withdrawable`);
});

contributorChainOptions(
  program
    .command('claim')
    .description(`claim everything the payout ledgers owe your wallet and withdraw it (key from $${ENV.contributorKey}, never a command-line argument)`)
    .addOption(urlOption()),
).action(async (o: ChainOpts & { url: string }) => {
  const key = requireSecret('contributorKey', 'the contributor wallet’s private key');
  const r = await withChain(o, key, (c) => claimAll(c, o.url, new Wallet(key).address), { deploymentUrl: true });
  console.log(`claimed ${OPEN(r.claimed)}, withdrew ${OPEN(r.withdrawn)}${r.txs.length ? `; transactions ${r.txs.join(', ')}` : ' (nothing to claim)'}${r.unverified ? `; ${r.unverified} positions did not match the chain's roots and were left` : ''}`);
});

const escrow = program.command('escrow').description(`a host wallet's escrow, which pays its adapters' fees (key from $${ENV.hostKey}, never a command-line argument)`);
const hostWallet = () => requireSecret('hostKey', 'the host wallet’s private key');
chainOptions(escrow.command('show <address>').description('the escrow and withdrawable balance of a host wallet')).action(async (who: string, o: ChainOpts) => {
  const a = address(who);
  const [held, balance] = await withChain(o, undefined, (c) => Promise.all([c.escrowOf(a), c.balanceOf(a)]));
  console.log(`${a}: escrow ${OPEN(held)}, withdrawable ${OPEN(balance)} (owner shares and claims)`);
});
chainOptions(escrow.command('deposit <amount>').description('escrow OPEN (approves the settlement contract for the amount first)')).action(async (v: string, o: ChainOpts) => {
  const wei = amount(v);
  const r = await withChain(o, hostWallet(), async (c) => (await c.deposit(wei)).hash);
  console.log(`deposited ${OPEN(wei)} (transaction ${r})`);
});
chainOptions(escrow.command('withdraw <amount>').description('take escrow back')).action(async (v: string, o: ChainOpts) => {
  const wei = amount(v);
  const r = await withChain(o, hostWallet(), async (c) => (await c.withdrawEscrow(wei)).hash);
  console.log(`withdrew ${OPEN(wei)} of escrow (transaction ${r})`);
});
chainOptions(escrow.command('approve <operator>').description('let a zkpoa server’s operator wallet register and settle your adapters, paid from your escrow')).action(async (op: string, o: ChainOpts) => {
  const r = await withChain(o, hostWallet(), async (c) => (await c.setOperator(address(op), true)).hash);
  console.log(`approved ${address(op)} (transaction ${r})`);
});
chainOptions(escrow.command('revoke <operator>').description('stop an operator wallet from acting for you, at once')).action(async (op: string, o: ChainOpts) => {
  const r = await withChain(o, hostWallet(), async (c) => (await c.setOperator(address(op), false)).hash);
  console.log(`revoked ${address(op)} (transaction ${r})`);
});

for (const [name, file, description] of [
  ['setup', 'setup', 'build circuit artifacts and keys (development keys unless --ptau)'],
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
