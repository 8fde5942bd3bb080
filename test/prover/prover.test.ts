import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIELD_MODULUS } from '../../attribution/index.js';
import { createProver, loadProverKeys, toSolidityCalldata, type ProofResult, type Prover } from '../../prover/index.js';
import { buildBatchWitness, type BatchWitness } from '../../prover/batch-witness.js';
import { Groth16Engine } from '../../prover/groth16.js';
import * as binFileUtils from '@iden3/binfileutils';
import { TEST_VARIANT, getCommitments, sampleBatchClaim, testArtifacts } from '../helpers/fixtures.js';

const run = promisify(execFile);
const SNARKJS_CLI = new URL('../../node_modules/snarkjs/build/cli.cjs', import.meta.url).pathname;

let prover: Prover;
let witness: BatchWitness;
let result: ProofResult;
let dir: string;

beforeAll(async () => {
  prover = createProver(await loadProverKeys(testArtifacts()), { threads: 2 });
  witness = buildBatchWitness(await getCommitments(), TEST_VARIANT, sampleBatchClaim());
  result = await prover.prove(witness.input);
  dir = await mkdtemp(join(tmpdir(), 'zkpoa-prover-'));
});

afterAll(async () => {
  await prover?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const mutate = (signals: string[], i: number, f: (x: bigint) => bigint) =>
  signals.map((s, j) => (j === i ? f(BigInt(s)).toString() : s));

describe('prover pool', () => {
  it('proves a split whose public signals are the ones the TS reference predicts', async () => {
    expect(result.publicSignals).toEqual(witness.publicSignals.map(String));
    expect(await prover.verify(result.proof, result.publicSignals)).toBe(true);
  });

  it('proves concurrently across workers', async () => {
    const claims = [1n, 2n, 3n].map((first) => ({ ...sampleBatchClaim(), first }));
    const commitments = await getCommitments();
    const results = await Promise.all(claims.map((c) => prover.prove(buildBatchWitness(commitments, TEST_VARIANT, c).input)));
    const receipts = new Set(results.map((r) => r.publicSignals[3]));
    expect(receipts.size).toBe(3);
    for (const r of results) expect(await prover.verify(r.proof, r.publicSignals)).toBe(true);
  });

  it.each([
    ['binding', 0],
    ['header', 1],
    ['paid', 2],
    ['receipts root', 3],
    ['old ledger root', 4],
    ['new ledger root', 5],
  ])('rejects a tampered public signal: %s', async (_name, i) => {
    expect(await prover.verify(result.proof, mutate(result.publicSignals, i, (x) => x + 1n))).toBe(false);
  });

  it('rejects a public signal aliased by the field modulus', async () => {
    expect(await prover.verify(result.proof, mutate(result.publicSignals, 2, (x) => x + FIELD_MODULUS))).toBe(false);
  });

  it('rejects a tampered proof', async () => {
    const forged = structuredClone(result.proof);
    forged.pi_a = [...forged.pi_a];
    forged.pi_a[0] = ((BigInt(forged.pi_a[0]!) + 1n)).toString();
    expect(await prover.verify(forged, result.publicSignals)).toBe(false);
    const swapped = { ...result.proof, pi_a: result.proof.pi_c, pi_c: result.proof.pi_a };
    expect(await prover.verify(swapped, result.publicSignals)).toBe(false);
  });

  it('reports an unsatisfiable input as a prove error, and keeps serving', async () => {
    const bad = { ...witness.input, pool: String(10n ** 30n) };
    await expect(prover.prove(bad)).rejects.toMatchObject({ code: 'ZKPOA_ERR_PROVE' });
    expect(await prover.verify(result.proof, result.publicSignals)).toBe(true);
  });

  it('a stock `snarkjs groth16 verify` accepts the proof with the exported key', async () => {
    await writeFile(join(dir, 'proof.json'), JSON.stringify(result.proof));
    await writeFile(join(dir, 'public.json'), JSON.stringify(result.publicSignals));
    const { stdout } = await run(process.execPath, [SNARKJS_CLI, 'groth16', 'verify', testArtifacts().vkey, join(dir, 'public.json'), join(dir, 'proof.json')]);
    expect(stdout).toMatch(/OK!/);
    await writeFile(join(dir, 'public.json'), JSON.stringify(mutate(result.publicSignals, 0, (x) => x + 1n)));
    const bad = await run(process.execPath, [SNARKJS_CLI, 'groth16', 'verify', testArtifacts().vkey, join(dir, 'public.json'), join(dir, 'proof.json')]).catch((e: { stdout: string }) => e);
    expect(bad.stdout).toMatch(/Invalid proof/);
  });

  it('proofs through a cached witness reference verify, across interleaved adapters, also with the stock CLI', async () => {
    const single = createProver(await loadProverKeys(testArtifacts()), { threads: 1 });
    try {
      const commitments = await getCommitments();
      const base = sampleBatchClaim();
      const flip = (k0: number) => base.answers.map((a) => ({ ...a, t: a.t.map((x, k) => (k === k0 ? -x : x)) }));
      const claims = [
        { ...base, first: 10n }, // first on adapter 7: becomes the reference
        { ...base, first: 13n, answers: flip(0) }, // delta, with flipped bits
        { ...base, adapterId: 8n, first: 0n }, // another binding: its own reference
        { ...base, first: 16n, fee: 10n ** 17n, answers: base.answers.slice(0, 1).map((a) => ({ ...a, t: a.t.map((x) => x / 3n) })) }, // delta again on adapter 7
      ];
      const proofs = [];
      for (const c of claims) {
        const w = buildBatchWitness(commitments, TEST_VARIANT, c);
        const r = await single.prove(w.input);
        expect(r.publicSignals).toEqual(w.publicSignals.map(String));
        expect(await single.verify(r.proof, r.publicSignals)).toBe(true);
        proofs.push(r);
      }
      const last = proofs[3]!;
      await writeFile(join(dir, 'proof.json'), JSON.stringify(last.proof));
      await writeFile(join(dir, 'public.json'), JSON.stringify(last.publicSignals));
      const { stdout } = await run(process.execPath, [SNARKJS_CLI, 'groth16', 'verify', testArtifacts().vkey, join(dir, 'public.json'), join(dir, 'proof.json')]);
      expect(stdout).toMatch(/OK!/);
    } finally {
      await single.close();
    }
  });

  it('exports calldata in the Solidity verifier order', () => {
    const cd = toSolidityCalldata(result.proof, result.publicSignals);
    expect(cd.input).toEqual(witness.publicSignals);
    expect(cd.b[0]).toEqual([BigInt(result.proof.pi_b[0]![1]!), BigInt(result.proof.pi_b[0]![0]!)]);
  });

  it('validates its options and refuses work after close', async () => {
    expect(() => createProver({ wasm: new Uint8Array(), zkey: new Uint8Array(), vkey: { protocol: 'groth16', curve: 'bn128', nPublic: 0 } }, { threads: 0 })).toThrow(
      'options.threads must be a positive integer',
    );
    const p = createProver(await loadProverKeys(testArtifacts()), { threads: 1 });
    await p.close();
    await expect(p.prove(witness.input)).rejects.toMatchObject({ code: 'ZKPOA_ERR_CLOSED' });
  });

  it('refuses a proving key cut short, which would otherwise prove with a short section', async () => {
    const { zkey, wasm } = await loadProverKeys(testArtifacts());
    // cut inside the proving sections (A, B, C and H take most of the file), and just before the end of H, the last one the prover reads
    const { fd, sections } = await binFileUtils.readBinFile({ type: 'mem', data: zkey }, 'zkey', 2);
    await fd.close();
    const h = (sections as unknown as { p: number; size: number }[][])[9]![0]!;
    for (const end of [Math.floor(zkey.length / 2), h.p + h.size - 10]) {
      await expect(Groth16Engine.load(zkey.subarray(0, end), wasm)).rejects.toMatchObject({ code: 'ZKPOA_ERR_ARTIFACTS_CORRUPT', message: expect.stringContaining('rebuild it') });
    }
    await expect(Groth16Engine.load(zkey, wasm)).resolves.toBeInstanceOf(Groth16Engine);
  });

  it('says which artifact is missing', async () => {
    await expect(loadProverKeys({ wasm: join(dir, 'none.wasm'), zkey: join(dir, 'none.zkey'), vkey: join(dir, 'none.json') })).rejects.toMatchObject({
      code: 'ZKPOA_ERR_ARTIFACTS_MISSING',
    });
  });
});
