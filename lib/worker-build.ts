import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, extname, isAbsolute, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { buildSync, stop, transformSync, version, type TransformOptions } from 'esbuild';
import { REPO_BUILD_DIR, REPO_ROOT } from './config.js';

/**
 * Worker threads run the project's TypeScript compiled ahead to JavaScript, not through
 * tsx's loader. On Node 20 a loader registered inside a worker runs on a hooks thread of
 * its own, nested in the worker, and tearing that nested thread down when a pool closes
 * crashes the whole process now and then (SIGSEGV in V8's cppgc sweeper under
 * ~IsolateData, or glibc's "corrupted size vs. prev_size"; seen in 2 of 3 full test runs).
 *
 * The worker module and every project file it imports (found by esbuild) are compiled
 * one to one into `build/worker-js/<hash>/`, mirroring the repository's layout, so
 * relative imports keep working and packages resolve from the repository's
 * node_modules. Each compiled file keeps its source's `import.meta.url`, so paths a
 * module resolves relative to itself (circuits, variants.json, createRequire) are the
 * same. The hash covers the sources, where the repository is (compiled files name it)
 * and how they are compiled.
 */
const OUT_DIR = join(REPO_BUILD_DIR, 'worker-js');
/** bump when the way files are compiled changes */
const FORMAT = 1;
const TRANSFORM: TransformOptions = { loader: 'ts', format: 'esm', target: 'node20', sourcemap: 'inline' };
const compiled = new Map<string, URL>();

/** The URL of `module` (a .ts file of this repository) compiled to JavaScript, built once per content. */
export function compiledWorker(module: URL): URL {
  const done = compiled.get(module.href);
  if (done) return done;
  const entry = fileURLToPath(module);
  try {
    const url = compile(entry);
    compiled.set(module.href, url);
    return url;
  } catch (err) {
    throw new Error(`cannot compile the worker module ${entry} for worker threads (into ${OUT_DIR}): ${(err as Error).message}`, { cause: err });
  } finally {
    void stop(); // esbuild's service thread and process are not needed until the next pool
  }
}

function compile(entry: string): URL {
  const { metafile } = buildSync({ entryPoints: [entry], absWorkingDir: REPO_ROOT, bundle: true, packages: 'external', platform: 'node', format: 'esm', write: false, metafile: true, logLevel: 'silent' });
  const hash = createHash('sha256').update(JSON.stringify({ FORMAT, esbuild: version, TRANSFORM, REPO_ROOT })).update('\0');
  const files = Object.entries(metafile.inputs)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([input, { imports }]) => {
      const path = resolve(REPO_ROOT, input);
      const rel = relative(REPO_ROOT, path);
      if (rel.startsWith('..') || isAbsolute(rel)) throw new Error(`${path} is outside the repository`);
      if (extname(path) !== '.ts') throw new Error(`${rel}: only .ts modules can be compiled for workers`);
      // the mirror holds <name>.js for every <name>.ts: relative imports must name the .js
      for (const i of imports) if (i.original?.startsWith('.') && !i.original.endsWith('.js')) throw new Error(`${rel} imports "${i.original}": relative imports must end in .js`);
      const text = readFileSync(path, 'utf8');
      hash.update(rel).update('\0').update(text).update('\0');
      return { path, rel, text };
    });
  const dir = join(OUT_DIR, hash.digest('hex').slice(0, 16));
  if (!existsSync(dir)) {
    // written aside, then renamed: concurrent builders (test forks, pools) never see half a tree
    const tmp = `${dir}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
    try {
      for (const f of files) {
        const out = join(tmp, f.rel.replace(/\.ts$/, '.js'));
        mkdirSync(dirname(out), { recursive: true });
        const define = { 'import.meta.url': JSON.stringify(pathToFileURL(f.path).href), 'import.meta.filename': JSON.stringify(f.path), 'import.meta.dirname': JSON.stringify(dirname(f.path)) };
        writeFileSync(out, transformSync(f.text, { ...TRANSFORM, sourcefile: f.path, define }).code);
      }
      renameSync(tmp, dir);
    } catch (err) {
      rmSync(tmp, { recursive: true, force: true });
      if (!existsSync(dir)) throw err; // else another process finished the same tree first
    }
  }
  return pathToFileURL(join(dir, relative(REPO_ROOT, entry).replace(/\.ts$/, '.js')));
}

/** Node's flag that turns require() of an ES module back into an error (absent where require(esm) cannot be turned off). */
const NO_REQUIRE_ESM = process.allowedNodeEnvironmentFlags.has('--no-experimental-require-module') ? ['--no-experimental-require-module'] : [];

/**
 * The flags worker threads start with: the process's own, without a TypeScript loader
 * (tsx's --require/--import: under `tsx` it would otherwise start in every worker), with
 * source maps so stack traces name the TypeScript lines, and without require(esm).
 *
 * Piscina loads a task module with require() first and import() if that throws. Our
 * compiled modules are ES modules, which Node 20.19+ lets require() load synchronously;
 * a pool closed while a worker is still doing that (a prover closed right after it was
 * made, an idle second worker of a one-chunk index) terminates the worker inside
 * Node's ModuleWrap::CreateRequiredModuleFacade, which aborts the whole process on the
 * termination ("FATAL ERROR: v8::ToLocalChecked Empty MaybeLocal", seen in a test fork).
 * Through import() a terminated load just stops.
 */
export function workerExecArgv(argv: readonly string[] = process.execArgv): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const eq = flag.indexOf('=');
    const [name, inline] = eq < 0 ? [flag, undefined] : [flag.slice(0, eq), flag.slice(eq + 1)];
    if (['--require', '-r', '--import', '--loader', '--experimental-loader'].includes(name)) {
      const value = inline ?? argv[i + 1] ?? '';
      if (inline === undefined) i++;
      if (/[\\/]tsx[\\/]|^tsx(\/|$)/.test(value)) continue;
      out.push(name, value);
      continue;
    }
    out.push(flag);
  }
  for (const flag of ['--enable-source-maps', ...NO_REQUIRE_ESM]) if (!out.includes(flag)) out.push(flag);
  return out.filter((f) => !(NO_REQUIRE_ESM.length && f === '--experimental-require-module'));
}
