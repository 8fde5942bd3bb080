import { createHash, randomUUID } from 'node:crypto';
import { copyFile, mkdir, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { BUILD_DIR } from '../../lib/config.js';

/**
 * The dashboard's static assets: one HTML page per entry (the shared frame around its body),
 * each page's script bundled with esbuild (Chart.js and ethers' ABI coder included), and the
 * stylesheet. Built into `<build>/web/<hash of the sources and bundled packages>`, never
 * committed: a folder is complete before it appears (built aside, then renamed), so servers
 * starting side by side share it and none serves a half-written one.
 */
const SOURCE = dirname(fileURLToPath(import.meta.url));
const ESBUILD = join(SOURCE, '..', '..', 'node_modules', 'esbuild', 'bin', 'esbuild');
const run = promisify(execFile);
const PAGES: Record<string, { title: string; script?: string }> = {
  index: { title: 'Dashboard' },
  contributor: { title: 'Contributor earnings', script: 'contributor' },
  host: { title: 'Host pipeline', script: 'host' },
  receipt: { title: 'Receipt', script: 'receipt' },
  datanet: { title: 'Datanet', script: 'datanet' },
};

export async function buildDashboard(buildDir = BUILD_DIR): Promise<string> {
  const outDir = join(buildDir, 'web', await sourceHash());
  if (await stat(join(outDir, 'index.html')).catch(() => undefined)) return outDir;
  const work = `${outDir}.${randomUUID()}`;
  try {
    await write(work);
    await rename(work, outDir).catch(async (err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOTEMPTY' && err.code !== 'EEXIST') throw err; // else another process built the same sources first
    });
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  return outDir;
}

async function sourceHash(): Promise<string> {
  const h = createHash('sha256');
  for (const f of (await readdir(SOURCE, { recursive: true })).sort()) {
    if (/\.(ts|html|css|json)$/.test(f)) h.update(f).update(await readFile(join(SOURCE, f)));
  }
  for (const pkg of ['chart.js', 'ethers', 'esbuild']) h.update(pkg).update(await readFile(join(SOURCE, '..', '..', 'node_modules', pkg, 'package.json')));
  return h.digest('hex').slice(0, 16);
}

async function write(outDir: string): Promise<void> {
  await mkdir(join(outDir, 'assets'), { recursive: true });
  const frame = await readFile(join(SOURCE, 'page.html'), 'utf8');
  const keyForm = await readFile(join(SOURCE, 'bodies', 'key-form.html'), 'utf8');
  const scripts = Object.values(PAGES).flatMap((p) => (p.script ? [p.script] : []));
  // esbuild's CLI in a child process, bounded in time: its JS API, started inside a process
  // that already runs another esbuild service (vitest's), hung now and then without output
  await run(ESBUILD, [
    ...scripts.map((s) => `${s}=${join(SOURCE, 'pages', `${s}.ts`)}`),
    '--bundle',
    '--minify',
    '--format=esm',
    '--splitting',
    '--target=es2022',
    '--platform=browser',
    `--outdir=${join(outDir, 'assets')}`,
    '--log-level=warning',
    '--legal-comments=none',
  ], { timeout: 120_000, maxBuffer: 16 * 1024 * 1024 }).catch((err: Error & { stderr?: string }) => {
    throw new Error(`the dashboard's build failed: ${err.stderr || err.message}`);
  });
  for (const [name, page] of Object.entries(PAGES)) {
    const body = (await readFile(join(SOURCE, 'bodies', `${name}.html`), 'utf8')).replace('{{key-form}}', keyForm);
    const html = frame
      .replaceAll('{{title}}', page.title)
      .replace('{{body}}', body)
      .replace('{{script}}', page.script ? `<script type="module" src="/assets/${page.script}.js"></script>` : '')
      .replace(`<a href="/${name}.html">`, `<a href="/${name}.html" aria-current="page">`);
    await writeFile(join(outDir, `${name}.html`), html);
  }
  await copyFile(join(SOURCE, 'style.css'), join(outDir, 'style.css'));
}



