import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { buildSync, transformSync, version } from 'esbuild';

/**
 * Worker threads run the project's TypeScript compiled ahead to JavaScript, not through
 * tsx's loader. On Node 20 a loader registered inside a worker runs on a hooks thread of
 * its own, nested in the worker, and tearing that nested thread down when a pool closes
 * crashes the whole process now and then (SIGSEGV in V8's cppgc sweeper under
 * ~IsolateData, or glibc's "corrupted size vs. prev_size"; seen in 2 of 4 full test runs).
 *
 * The worker module and every project file it imports (found by esbuild) are compiled
 * one to one into `build/worker-js/<hash of their sources>/`, mirroring the repository's
 * layout, so relative imports keep working and packages resolve from the repository's
 * node_modules. Each compiled file keeps its source's `import.meta.url`, so paths a
 * module resolves relative to itself (circuits, variants.json, createRequire) are the same.
 */
const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
const OUT_DIR = join(REPO_ROOT, 'build', 'worker-js');
const compiled = new Map<string, URL>();

/** The URL of `module` (a .ts file of this repository) compiled to JavaScript, built once per content. */
export function compiledWorker(module: URL): URL {
  const done = compiled.get(module.href);
  if (done) return done;
  const entry = fileURLToPath(module);
  const { metafile } = buildSync({ entryPoints: [entry], absWorkingDir: REPO_ROOT, bundle: true, packages: 'external', platform: 'node', format: 'esm', write: false, metafile: true, logLevel: 'silent' });
  const sources = Object.keys(metafile.inputs)
    .map((p) => resolve(REPO_ROOT, p))
    .sort();
  const hash = createHash('sha256').update(`esbuild ${version}\0`);
  const files = sources.map((path) => {
    const rel = relative(REPO_ROOT, path);
    if (rel.startsWith('..') || isAbsolute(rel)) throw new Error(`worker source ${path} is outside the repository`);
    const text = readFileSync(path, 'utf8');
    hash.update(rel).update('\0').update(text).update('\0');
    return { path, rel, text };
  });
  const dir = join(OUT_DIR, hash.digest('hex').slice(0, 16));
  if (!existsSync(dir)) {
    // written aside, then renamed: concurrent builders (test forks, pools) never see half a tree
    const tmp = `${dir}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
    for (const f of files) {
      const out = join(tmp, f.rel.replace(/\.ts$/, '.js'));
      mkdirSync(dirname(out), { recursive: true });
      const url = JSON.stringify(pathToFileURL(f.path).href);
      const code = f.path.endsWith('.ts')
        ? transformSync(f.text, { loader: 'ts', format: 'esm', target: 'node20', sourcefile: f.path, sourcemap: 'inline', define: { 'import.meta.url': url, 'import.meta.filename': JSON.stringify(f.path), 'import.meta.dirname': JSON.stringify(dirname(f.path)) } }).code
        : f.text;
      writeFileSync(out, code);
    }
    try {
      renameSync(tmp, dir);
    } catch (err) {
      rmSync(tmp, { recursive: true, force: true });
      if (!existsSync(dir)) throw err; // else another process finished the same tree first
    }
  }
  const url = pathToFileURL(join(dir, relative(REPO_ROOT, entry).replace(/\.ts$/, '.js')));
  compiled.set(module.href, url);
  return url;
}
