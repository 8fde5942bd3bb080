import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { mkdir, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { promisify } from 'node:util';
import * as snarkjs from 'snarkjs';
import { ZkpoaError } from '../attribution/errors.js';
import { BUILD_DIR, REPO_ROOT } from '../lib/config.js';
import { CIRCUITS_DIR, mainComponentSource, type CircuitVariant } from '../circuits/variants.js';
import { DEV_SETUP_METHOD, devSetup, readR1csHeader } from './dev-setup.js';
import { silentProgress, snarkjsLogger, type Progress } from './progress.js';
import { releaseSnarkjsThreads } from './snarkjs-threads.js';

/**
 * The artifact build and trusted setup: compile (circom2, --O2), proving key,
 * verification key, Solidity verifier — all into one ignored folder.
 *
 * Development default (no `ptauFile`): keys computed directly from fresh single-party
 * randomness on this machine (prover/dev-setup.ts), in seconds. Whoever kept that
 * randomness could forge proofs, so never use such keys in production. Production:
 * pass a public prepared powers-of-tau file (`ptauFile`); phase 2 is then snarkjs's
 * `zkey new` and one local contribution, and more independent contributions
 * (`snarkjs zkey contribute`) must follow before a verifier is deployed.
 */

const run = promisify(execFile);
const require = createRequire(import.meta.url);

export interface SetupOptions {
  /** root of the ignored build folder (default: build/ or $ZKPOA_BUILD_DIR) */
  buildDir?: string;
  /** a public, prepared (phase 2) powers-of-tau file: the production path; default: development keys */
  ptauFile?: string;
  /**
   * Development keys only: also write the prepared powers of tau of the same randomness
   * beside them (`dev_pot<power>.ptau`, recorded in the manifest), so that stock snarkjs can
   * check the keys: `snarkjs zkey verify circuit.r1cs dev_pot<power>.ptau circuit.zkey`.
   */
  devPtau?: boolean;
  progress?: Progress;
  /** rebuild even if the cache key matches */
  force?: boolean;
}

/** Where a variant's keys come from. */
export type PtauInfo =
  /** a public powers-of-tau file (production path) */
  | { origin: 'file'; path: string; power: number; sha256: string }
  /**
   * development keys (prover/dev-setup.ts): made as from a prepared powers of tau of
   * `power` that existed only in memory; `path` if it was written (`devPtau`)
   */
  | { origin: 'development'; method: string; power: number; path?: string; sha256?: string };

export interface VariantManifest {
  variant: CircuitVariant;
  /** sha256 over circuit sources, toolchain versions, parameters and the ptau */
  key: string;
  constraints: number;
  publicSignals: number;
  ptau: PtauInfo;
  ceremony: string;
  builtAt: string;
}

export interface VariantArtifacts {
  dir: string;
  r1cs: string;
  wasm: string;
  /** signal names → witness indices (for debugging and the circuit's soundness tests) */
  sym: string;
  zkey: string;
  vkey: string;
  verifier: string;
  manifest: VariantManifest;
}

const DEV_CEREMONY_WARNING = [
  '┌──────────────────────────────────────────────────────────────────────┐',
  '│ DEVELOPMENT TRUSTED SETUP: single-party keys made on this machine    │',
  '│ from fresh randomness that is dropped once used. Anyone who kept it  │',
  '│ could forge proofs. Never use these keys in production: pass a       │',
  '│ public powers-of-tau file (--ptau) and run a multi-party phase 2.    │',
  '└──────────────────────────────────────────────────────────────────────┘',
].join('\n');

const DEV_CEREMONY = 'development: single-party keys computed on this machine from fresh randomness, never stored — NOT for production';

export function artifactPaths(variant: CircuitVariant, buildDir = BUILD_DIR): Omit<VariantArtifacts, 'manifest'> {
  const dir = join(buildDir, 'circuits', variant.name);
  return {
    dir,
    r1cs: join(dir, 'circuit.r1cs'),
    wasm: join(dir, 'circuit.wasm'),
    sym: join(dir, 'circuit.sym'),
    zkey: join(dir, 'circuit.zkey'),
    vkey: join(dir, 'verification_key.json'),
    verifier: join(dir, 'Verifier.sol'),
  };
}

async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** Root folder of an installed package (works for packages whose `exports` hide package.json). */
function packageRoot(name: string): string {
  let dir = dirname(require.resolve(name));
  while (!existsSync(join(dir, 'package.json')) || !dir.endsWith(join('node_modules', name))) {
    const up = dirname(dir);
    if (up === dir) throw new Error(`cannot locate package ${name}`);
    dir = up;
  }
  return dir;
}

function packageVersion(name: string): string {
  return (require(join(packageRoot(name), 'package.json')) as { version: string }).version;
}

/** A public prepared powers-of-tau file (the production path): checked to exist, and hashed for the cache key. */
export async function publicPtau(ptauFile: string, power: number): Promise<Extract<PtauInfo, { origin: 'file' }>> {
  const path = resolve(ptauFile);
  if (!existsSync(path)) throw new ZkpoaError('ZKPOA_ERR_PTAU', `powers-of-tau file not found: ${path}`);
  return { path, power, origin: 'file', sha256: await sha256File(path) };
}

async function cacheKey(variant: CircuitVariant, ptau: PtauInfo): Promise<string> {
  const sources = (await readdir(CIRCUITS_DIR)).filter((f) => f.endsWith('.circom')).sort();
  const h = createHash('sha256');
  // development keys are keyed by how they are made (a new method rebuilds them), public ones by their ptau
  const source = ptau.origin === 'file' ? ptau.sha256 : DEV_SETUP_METHOD;
  h.update(JSON.stringify({ variant, circom2: packageVersion('circom2'), circomlib: packageVersion('circomlib'), snarkjs: packageVersion('snarkjs'), ptau: source }));
  for (const f of sources) h.update(f).update(await readFile(join(CIRCUITS_DIR, f)));
  return h.digest('hex');
}

async function readManifest(path: string): Promise<VariantManifest | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as VariantManifest;
  } catch {
    return undefined;
  }
}

/** A built variant's manifest (how its keys were made), or undefined if it has none in `buildDir`. */
export function readVariantManifest(variant: CircuitVariant, buildDir = BUILD_DIR): Promise<VariantManifest | undefined> {
  return readManifest(join(artifactPaths(variant, buildDir).dir, 'manifest.json'));
}

/** Compile with circom2 (WebAssembly, always --O2) into `workDir`. Paths are passed relative to the repo root it runs in. */
export async function compileCircuit(variant: CircuitVariant, workDir: string): Promise<{ r1cs: string; wasm: string; sym: string }> {
  const main = join(workDir, 'main.circom');
  await writeFile(main, mainComponentSource(variant));
  const cli = join(packageRoot('circom2'), 'cli.js');
  const rel = (p: string) => relative(REPO_ROOT, p) || '.';
  try {
    await run(process.execPath, [cli, rel(main), '--r1cs', '--wasm', '--sym', '--O2', '-o', rel(workDir), '-l', '.', '-l', 'node_modules'], {
      cwd: REPO_ROOT,
      maxBuffer: 64 * 1024 * 1024,
    });
  } catch (err) {
    const e = err as { stderr?: string; stdout?: string };
    throw new ZkpoaError('ZKPOA_ERR_ARTIFACTS_MISSING', `circom2 failed for ${variant.name}:\n${e.stderr ?? ''}${e.stdout ?? ''}`, { cause: err });
  }
  return { r1cs: join(workDir, 'main.r1cs'), wasm: join(workDir, 'main_js', 'main.wasm'), sym: join(workDir, 'main.sym') };
}

/**
 * Build (or reuse) every artifact of a variant. The cache key covers the circuit
 * sources, the toolchain versions, the parameters and the ptau file, so a change to
 * any of them rebuilds; otherwise the existing keys are reused as they are.
 */
export async function ensureVariant(variant: CircuitVariant, opts: SetupOptions = {}): Promise<VariantArtifacts> {
  const buildDir = opts.buildDir ?? BUILD_DIR;
  const paths = artifactPaths(variant, buildDir);
  const manifestPath = join(paths.dir, 'manifest.json');
  const files = [paths.r1cs, paths.wasm, paths.sym, paths.zkey, paths.vkey, paths.verifier];
  const reusable = async (): Promise<VariantManifest | undefined> => {
    const existing = await readManifest(manifestPath);
    if (!existing) return undefined;
    const complete = files.every((f) => existsSync(f));
    // Without --ptau, keys built from any powers of tau are reused (a serve or a prover never replaces
    // keys made from a public ptau with development keys); only a source or toolchain change rebuilds.
    if (!opts.ptauFile) {
      const devPtauMissing = opts.devPtau === true && existing.ptau.origin === 'development' && !(existing.ptau.path && existsSync(existing.ptau.path));
      if (complete && !opts.force && !devPtauMissing && existing.key === (await cacheKey(variant, existing.ptau))) return existing;
      if (existing.ptau.origin === 'file') {
        throw new ZkpoaError('ZKPOA_ERR_PTAU', `${variant.name}'s keys were made from the public powers of tau ${existing.ptau.path} and ${complete ? (opts.force ? 'a rebuild was forced' : 'its circuit or toolchain changed since') : 'some of its files are missing'}: rebuild with --ptau (development keys would replace production keys)`);
      }
      return undefined;
    }
    if (!complete || opts.force) return undefined;
    return existing.key === (await cacheKey(variant, await publicPtau(opts.ptauFile, variant.ptauPower))) ? existing : undefined;
  };
  const existing = await reusable();
  if (existing) return { ...paths, manifest: existing };
  // One build at a time per variant and build folder: concurrent builds would mix their keys.
  const lock = join(buildDir, 'circuits', `.lock-${variant.name}`);
  await acquireBuildLock(lock, () => (opts.progress ?? silentProgress).log(`waiting for another process building ${variant.name} (${lock})`));
  try {
    const built = await reusable(); // another process may have built it while we waited
    if (built) return { ...paths, manifest: built };
    return await buildVariant(variant, opts, buildDir, paths, manifestPath);
  } finally {
    await rm(lock, { recursive: true, force: true });
  }
}

/**
 * A directory lock holding its owner's pid: taken atomically with mkdir, and broken when
 * its owner is gone (a build interrupted by Ctrl-C or kill leaves it behind).
 */
async function acquireBuildLock(lock: string, onWait: () => void): Promise<void> {
  await mkdir(dirname(lock), { recursive: true });
  let told = false;
  for (;;) {
    try {
      await mkdir(lock);
      await writeFile(join(lock, 'pid'), String(process.pid));
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const pid = Number(await readFile(join(lock, 'pid'), 'utf8').catch(() => ''));
    const age = Date.now() - (await stat(lock).catch(() => ({ mtimeMs: Date.now() }))).mtimeMs;
    // no pid yet is a lock being taken right now, unless that has lasted far too long
    if ((pid > 0 && !alive(pid)) || (!(pid > 0) && age > 60_000)) {
      await rm(lock, { recursive: true, force: true });
      continue;
    }
    if (!told) onWait();
    told = true;
    await new Promise((r) => setTimeout(r, 500));
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function buildVariant(variant: CircuitVariant, opts: SetupOptions, buildDir: string, paths: ReturnType<typeof artifactPaths>, manifestPath: string): Promise<VariantArtifacts> {
  const progress = opts.progress ?? silentProgress;
  const publicFile = opts.ptauFile ? await publicPtau(opts.ptauFile, variant.ptauPower) : undefined;
  if (!publicFile) progress.log(DEV_CEREMONY_WARNING);

  const work = join(buildDir, 'circuits', `.tmp-${variant.name}-${process.pid}`);
  await rm(work, { recursive: true, force: true });
  await mkdir(work, { recursive: true });
  try {
    let step = progress.step(`${variant.name}: compile (circom2 --O2)`);
    const compiled = await compileCircuit(variant, work);
    const info = await readR1csHeader(compiled.r1cs); // snarkjs's r1cs info reads every constraint: gigabytes at scale
    const publicSignals = info.nPublic;
    step.done(`${info.nConstraints} constraints, ${publicSignals} public signals`);
    progress.log(`constraints ${variant.name}: ${info.nConstraints} (2^${variant.ptauPower} = ${2 ** variant.ptauPower})`);
    if (info.nConstraints + publicSignals + 1 > 2 ** variant.ptauPower) {
      throw new ZkpoaError('ZKPOA_ERR_PTAU', `${variant.name} has ${info.nConstraints} constraints: more than 2^${variant.ptauPower} holds; raise ptauPower in circuits/variants.json`);
    }

    const zkeyPath = join(work, 'circuit.zkey');
    let ptau: PtauInfo;
    let ceremony: string;
    let devPtauFile: string | undefined;
    if (publicFile) {
      // production path: snarkjs's phase 2 on the public powers of tau, one local contribution
      step = progress.step(`${variant.name}: phase 2 setup (zkey new)`);
      await snarkjs.zKey.newZKey(compiled.r1cs, publicFile.path, join(work, 'circuit_0.zkey'), snarkjsLogger(step));
      step.done();
      step = progress.step(`${variant.name}: phase 2 contribution`);
      await snarkjs.zKey.contribute(join(work, 'circuit_0.zkey'), zkeyPath, 'zkpoa file phase 2', randomBytes(32).toString('hex'), snarkjsLogger(step));
      step.done();
      ptau = publicFile;
      ceremony = 'public powers of tau; single local phase-2 contribution — add independent contributions before production';
    } else {
      const dev = await devSetup(compiled.r1cs, zkeyPath, {
        minPower: variant.ptauPower,
        progress,
        name: `zkpoa development keys (${variant.name})`,
        ...(opts.devPtau ? { ptauPath: join(work, 'dev.ptau') } : {}),
      });
      devPtauFile = dev.ptauPath ? join(paths.dir, `dev_pot${dev.power}.ptau`) : undefined;
      ptau = { origin: 'development', method: DEV_SETUP_METHOD, power: dev.power, ...(devPtauFile && dev.ptauPath ? { path: devPtauFile, sha256: await sha256File(dev.ptauPath) } : {}) };
      ceremony = DEV_CEREMONY;
    }
    const key = await cacheKey(variant, ptau);

    step = progress.step(`${variant.name}: verification key and Solidity verifier`);
    const vkey = await snarkjs.zKey.exportVerificationKey(zkeyPath);
    await writeFile(join(work, 'verification_key.json'), JSON.stringify(vkey, null, 1));
    const template = await readFile(join(packageRoot('snarkjs'), 'templates', 'verifier_groth16.sol.ejs'), 'utf8');
    await writeFile(join(work, 'Verifier.sol'), await snarkjs.zKey.exportSolidityVerifier(zkeyPath, { groth16: template }));
    step.done();

    const manifest: VariantManifest = {
      variant,
      key,
      constraints: info.nConstraints,
      publicSignals,
      ptau,
      ceremony,
      builtAt: new Date().toISOString(),
    };
    // Replace the old artifacts only once everything is built: a crash leaves the previous set intact.
    await mkdir(paths.dir, { recursive: true });
    await rm(manifestPath, { force: true });
    // a development ptau left from earlier keys belongs to their randomness, not to the new keys'
    for (const f of await readdir(paths.dir)) if (/^dev_pot\d+\.ptau$/.test(f)) await rm(join(paths.dir, f), { force: true });
    await rename(compiled.r1cs, paths.r1cs);
    await rename(compiled.wasm, paths.wasm);
    await rename(compiled.sym, paths.sym);
    await rename(zkeyPath, paths.zkey);
    await rename(join(work, 'verification_key.json'), paths.vkey);
    await rename(join(work, 'Verifier.sol'), paths.verifier);
    if (devPtauFile) await rename(join(work, 'dev.ptau'), devPtauFile);
    await writeFile(manifestPath, JSON.stringify(manifest, null, 2));
    return { ...paths, manifest };
  } finally {
    await rm(work, { recursive: true, force: true });
    await releaseSnarkjsThreads();
  }
}
