import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, InvalidArgumentError } from 'commander';
import { variantFor } from '../circuits/variants.js';
import { releaseSnarkjsThreads } from '../prover/snarkjs-threads.js';
import { DEFAULT_BUILD_DIR } from '../prover/setup.js';
import { initBackend } from '../inference/backend.js';
import { Batcher } from '../inference/batcher.js';
import { ensureBaseModel } from '../inference/datasets.js';
import { ModelFactory } from '../inference/factory.js';
import { AdapterStore } from '../inference/store.js';
import { FineTuneRunner } from './finetune-runner.js';
import { buildServer } from './server.js';
import { SqliteJobQueue } from './store/jobs.js';
import { openDatabase } from './store/db.js';
import { createHost } from './store/hosts.js';

/**
 * `zkpoa`: the service and its operations. Long jobs (setup, demo, benchmarks) run
 * the repository's scripts, which show progress bars.
 */
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const DEFAULT_DB = join(DEFAULT_BUILD_DIR, 'zkpoa.sqlite');

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
  .option('--adapters <dir>', 'adapter store', join(DEFAULT_BUILD_DIR, 'adapters'))
  .option('--max-resident-adapters <n>', 'adapters kept as tensors', (v) => Number(v), 64)
  .action(async (o: { db: string; host: string; port: number; adapters: string; maxResidentAdapters: number }) => {
    const db = openDatabase(o.db);
    const backend = await initBackend();
    const model = await ensureBaseModel();
    const store = await AdapterStore.open(o.adapters, model, { maxResidentAdapters: o.maxResidentAdapters });
    const factory = new ModelFactory({ baseDir: join(DEFAULT_BUILD_DIR, 'models', 'base'), store, checkpointsDir: join(DEFAULT_BUILD_DIR, 'checkpoints') });
    const queue = new SqliteJobQueue(db);
    const runner = new FineTuneRunner(db, queue, factory, { variant: variantFor('default'), buildDir: DEFAULT_BUILD_DIR });
    const batcher = new Batcher(store);
    runner.start();
    const app = await buildServer({
      db,
      logger: { level: process.env.LOG_LEVEL ?? 'info' },
      inference: { batcher, queue },
      health: () => ({ backend: backend.name, baseModel: model.hash, adapters: store.size, residentAdapters: store.residentIds().length }),
    });
    const address = await app.listen({ host: o.host, port: o.port });
    app.log.info(`zkpoa API on ${address} (db ${o.db}, tensor backend ${backend.name})`);
    const stop = async () => {
      await app.close();
      await runner.stop();
      await batcher.close();
      await factory.close();
      store.close();
      db.close();
      await releaseSnarkjsThreads();
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
      process.exitCode = await script(file, args);
    });
}

await program.parseAsync(process.argv);
