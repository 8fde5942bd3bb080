/**
 * npm run bench:setup -- [--powers 12,15,16,19] [--timeout-min 15] [--snarkjs-all] [--threads N]
 *
 * Development keys: seconds of zkpoa's direct setup (prover/dev-setup.ts) against
 * snarkjs's own development path (`powersoftau new`, `contribute`, `prepare phase2`,
 * `zkey new`, `zkey contribute`, its CLI one step after another, as the setup used to run
 * it), per power of two, from the compiled constraint system to the final zkey.
 *
 * Circuits: the variant whose keys have that power (12 test, 15 default, 16 benchmark);
 * for a power without a variant (19), a synthetic constraint system: the largest variant's,
 * repeated as many times as the power holds, sharing the public inputs (and wire 0) and
 * with disjoint private wires — the real circuit's constraints, coefficients and density
 * per constraint, at that size.
 *
 * snarkjs's path runs with a deadline per power (15 min; "did not finish in 15 min"
 * otherwise); after a power it did not finish, larger powers are not tried (they take
 * longer still) unless --snarkjs-all.
 * Last lines: setup_2_16_s=<seconds> and setup_2_19_s=<seconds> (zkpoa's path).
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { availableParallelism, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import * as binFileUtils from '@iden3/binfileutils';
import { VARIANTS, type CircuitVariant } from '../circuits/variants.js';
import { BUILD_DIR } from '../lib/config.js';
import { devSetup } from '../prover/dev-setup.js';
import { consoleProgress } from '../prover/progress.js';
import { compileCircuit } from '../prover/setup.js';

const { values } = parseArgs({
  options: {
    powers: { type: 'string', default: '' },
    'timeout-min': { type: 'string', default: '15' },
    'snarkjs-all': { type: 'boolean', default: false },
    threads: { type: 'string' },
  },
});
const threads = values.threads ? Number(values.threads) : availableParallelism();
const timeoutMin = Number(values['timeout-min']);
const largest = [...VARIANTS].sort((a, b) => b.ptauPower - a.ptauPower)[0]!;
const powers = values.powers ? values.powers.split(',').map(Number) : [...new Set([...VARIANTS.map((v) => v.ptauPower), largest.ptauPower, 16, 19])].sort((a, b) => a - b);
const snarkjsCli = join(dirname(createRequire(import.meta.url).resolve('snarkjs')), 'cli.cjs');
const progress = consoleProgress();
const dir = join(BUILD_DIR, 'bench-setup');
await rm(dir, { recursive: true, force: true });
await mkdir(dir, { recursive: true });
const load = () => loadavg().map((x) => x.toFixed(2)).join(' ');
progress.log(`bench:setup on ${availableParallelism()} cores, ${threads} threads; load average ${load()}`);

/* ---------------------------------------------------------------- circuits */

const compiled = new Map<string, string>();
async function variantR1cs(v: CircuitVariant): Promise<string> {
  const done = compiled.get(v.name);
  if (done) return done;
  const work = join(dir, v.name);
  await mkdir(work, { recursive: true });
  const step = progress.step(`compile ${v.name} (not timed)`);
  const { r1cs } = await compileCircuit(v, work);
  step.done();
  compiled.set(v.name, r1cs);
  return r1cs;
}

interface R1csShape {
  nConstraints: number;
  nVars: number;
  nPublic: number;
}

/** `copies` of a constraint system in one: wire 0 and the public wires shared, every copy's private wires its own. */
async function tileR1cs(src: string, dst: string, copies: number): Promise<R1csShape> {
  const { fd, sections } = await binFileUtils.readBinFile(src, 'r1cs', 1, 1 << 22, 1 << 24);
  const header = await binFileUtils.readSection(fd, sections, 1);
  const cons = await binFileUtils.readSection(fd, sections, 2);
  await fd.close();
  const hv = new DataView(header.buffer, header.byteOffset, header.byteLength);
  const n8 = hv.getUint32(0, true);
  const o = 4 + n8; // nWires, nOutputs, nPubInputs, nPrvInputs (u32), nLabels (u64), nConstraints (u32)
  const nVars = hv.getUint32(o, true);
  const nPublic = hv.getUint32(o + 4, true) + hv.getUint32(o + 8, true);
  const nPrvIn = hv.getUint32(o + 12, true);
  const nConstraints = hv.getUint32(o + 24, true);
  const nInternal = nVars - nPublic - 1 - nPrvIn;
  // wire order stays [one, outputs, public inputs, private inputs, internal]: every copy's private inputs, then every copy's internal wires
  const wire = (j: number, k: number) =>
    j <= nPublic ? j : j - nPublic - 1 < nPrvIn ? nPublic + 1 + k * nPrvIn + (j - nPublic - 1) : nPublic + 1 + copies * nPrvIn + k * nInternal + (j - nPublic - 1 - nPrvIn);
  const out = new Uint8Array(cons.byteLength * copies);
  const ov = new DataView(out.buffer);
  const cv = new DataView(cons.buffer, cons.byteOffset, cons.byteLength);
  for (let k = 0; k < copies; k++) {
    const base = k * cons.byteLength;
    out.set(cons, base);
    for (let c = 0, pos = 0; c < nConstraints; c++) {
      for (let m = 0; m < 3; m++) {
        const entries = cv.getUint32(pos, true);
        pos += 4;
        for (let e = 0; e < entries; e++, pos += 4 + n8) ov.setUint32(base + pos, wire(cv.getUint32(pos, true), k), true);
      }
    }
  }
  const vars = nPublic + 1 + copies * (nVars - nPublic - 1);
  const h = header.slice();
  const v = new DataView(h.buffer);
  v.setUint32(o, vars, true);
  v.setUint32(o + 12, copies * nPrvIn, true);
  v.setBigUint64(o + 16, BigInt(vars), true);
  v.setUint32(o + 24, copies * nConstraints, true);
  const labels = new Uint8Array(vars * 8);
  const lv = new DataView(labels.buffer);
  for (let i = 0; i < vars; i++) lv.setBigUint64(i * 8, BigInt(i), true);
  const w = await binFileUtils.createBinFile(dst, 'r1cs', 1, 3, 1 << 22, 1 << 24);
  for (const [id, bytes] of [[1, h], [2, out], [3, labels]] as const) {
    await binFileUtils.startWriteSection(w, id);
    await w.write(bytes);
    await binFileUtils.endWriteSection(w);
  }
  await w.close();
  return { nConstraints: copies * nConstraints, nVars: vars, nPublic };
}

async function shapeOf(r1cs: string): Promise<R1csShape> {
  const { fd, sections } = await binFileUtils.readBinFile(r1cs, 'r1cs', 1, 1 << 22, 1 << 24);
  const h = await binFileUtils.readSection(fd, sections, 1);
  await fd.close();
  const v = new DataView(h.buffer, h.byteOffset, h.byteLength);
  const o = 4 + v.getUint32(0, true);
  return { nVars: v.getUint32(o, true), nPublic: v.getUint32(o + 4, true) + v.getUint32(o + 8, true), nConstraints: v.getUint32(o + 24, true) };
}

interface Case {
  power: number;
  name: string;
  r1cs: string;
  shape: R1csShape;
}

async function caseFor(power: number): Promise<Case> {
  const v = VARIANTS.find((x) => x.ptauPower === power);
  if (v) {
    const r1cs = await variantR1cs(v);
    return { power, name: v.name, r1cs, shape: await shapeOf(r1cs) };
  }
  const src = await variantR1cs(largest);
  const s = await shapeOf(src);
  const copies = Math.floor((2 ** power - 1 - s.nPublic) / s.nConstraints);
  if (copies < 1 || copies * s.nConstraints + s.nPublic < 2 ** (power - 1)) throw new Error(`no whole number of ${largest.name} copies makes a 2^${power} circuit`);
  const r1cs = join(dir, `synthetic_${power}.r1cs`);
  const shape = await tileR1cs(src, r1cs, copies);
  progress.log(`synthetic 2^${power}: ${largest.name} × ${copies} (public inputs shared, private wires disjoint): ${shape.nConstraints} constraints, ${shape.nVars} wires`);
  return { power, name: `${largest.name}×${copies}`, r1cs, shape };
}

/* ---------------------------------------------------------------- the two paths */

async function zkpoaPath(c: Case): Promise<number> {
  const zkey = join(dir, `zkpoa_${c.power}.zkey`);
  const t0 = performance.now();
  await devSetup(c.r1cs, zkey, { minPower: c.power, threads, progress });
  const s = (performance.now() - t0) / 1000;
  await rm(zkey, { force: true });
  return s;
}

/** snarkjs's CLI steps in child processes under one deadline; the seconds, or undefined past it. */
async function snarkjsPath(c: Case, deadlineMs: number): Promise<number | undefined> {
  const f = (name: string) => join(dir, `snarkjs_${c.power}_${name}`);
  const entropy = () => `-e=${randomBytes(32).toString('hex')}`;
  const steps = [
    ['powersoftau', 'new', 'bn128', String(c.power), f('0.ptau')],
    ['powersoftau', 'contribute', f('0.ptau'), f('1.ptau'), '--name=bench', entropy()],
    ['powersoftau', 'prepare', 'phase2', f('1.ptau'), f('final.ptau')],
    ['zkey', 'new', c.r1cs, f('final.ptau'), f('0.zkey')],
    ['zkey', 'contribute', f('0.zkey'), f('1.zkey'), '--name=bench', entropy()],
  ];
  const t0 = performance.now();
  try {
    for (const args of steps) {
      const step = progress.step(`snarkjs ${args.slice(0, 2).join(' ')} (2^${c.power})`);
      const left = deadlineMs - (performance.now() - t0);
      const ok = await new Promise<boolean>((resolve, reject) => {
        const child = spawn(process.execPath, [snarkjsCli, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
        let stderr = '';
        child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)));
        const timer = setTimeout(() => child.kill('SIGKILL'), Math.max(left, 0));
        child.on('error', reject);
        child.on('exit', (code, signal) => {
          clearTimeout(timer);
          if (signal === 'SIGKILL') resolve(false);
          else if (code === 0) resolve(true);
          else reject(new Error(`snarkjs ${args.join(' ')} failed (${code}): ${stderr}`));
        });
      });
      step.done(ok ? undefined : 'deadline');
      if (!ok) return undefined;
    }
    return (performance.now() - t0) / 1000;
  } finally {
    await Promise.all(['0.ptau', '1.ptau', 'final.ptau', '0.zkey', '1.zkey'].map((n) => rm(f(n), { force: true })));
  }
}

/* ---------------------------------------------------------------- run */

const cases: Case[] = [];
for (const p of powers) cases.push(await caseFor(p));
const ours = new Map<number, number>();
for (const c of cases) {
  progress.log(`zkpoa development setup 2^${c.power} (${c.name}), load average ${load()}`);
  ours.set(c.power, await zkpoaPath(c));
}
const theirs = new Map<number, number | string>();
let gaveUp: number | undefined;
for (const c of cases) {
  if (gaveUp !== undefined && !values['snarkjs-all']) {
    theirs.set(c.power, `not run (2^${gaveUp} did not finish in ${timeoutMin} min)`);
    continue;
  }
  progress.log(`snarkjs development path 2^${c.power} (${c.name}), deadline ${timeoutMin} min, load average ${load()}`);
  const s = await snarkjsPath(c, timeoutMin * 60_000);
  if (s === undefined) {
    theirs.set(c.power, `did not finish in ${timeoutMin} min`);
    gaveUp ??= c.power;
  } else theirs.set(c.power, s);
}
await rm(dir, { recursive: true, force: true });

const rows = cases.map((c) => {
  const a = ours.get(c.power)!;
  const b = theirs.get(c.power)!;
  const ratio = typeof b === 'number' ? `${(b / a).toFixed(1)}×` : b.startsWith('did not') ? `> ${((timeoutMin * 60) / a).toFixed(0)}×` : '';
  return [`2^${c.power}`, c.name, String(c.shape.nConstraints), a.toFixed(1), typeof b === 'number' ? b.toFixed(1) : b, ratio];
});
const head = ['power', 'circuit', 'constraints', 'zkpoa_s', 'snarkjs_s', 'ratio'];
const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
const line = (r: string[]) => r.map((x, i) => x.padEnd(widths[i]!)).join('  ');
console.log(line(head));
for (const r of rows) console.log(line(r));
console.log(`threads=${threads} load_average=${load()}`);
const last = (p: number) => (ours.has(p) ? ours.get(p)!.toFixed(1) : 'not_run');
console.log(`setup_2_16_s=${last(16)}`);
console.log(`setup_2_19_s=${last(19)}`);
