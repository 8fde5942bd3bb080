import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { devSetup, keyPower, type DevSetupResult } from '../../prover/dev-setup.js';
import { ensureVariant } from '../../prover/setup.js';
import { buildBatchWitness } from '../../prover/batch-witness.js';
import { TEST_VARIANT, getCommitments, sampleBatchClaim, testArtifacts } from '../helpers/fixtures.js';

/**
 * The development keys against stock snarkjs (its CLI, as anyone checking them would run it):
 * the test variant's keys as the global setup built them, with the powers of tau of the same
 * randomness, and a second setup of the same circuit from other randomness.
 */
const run = promisify(execFile);
const SNARKJS_CLI = new URL('../../node_modules/snarkjs/build/cli.cjs', import.meta.url).pathname;
const snarkjs = (...args: string[]) =>
  run(process.execPath, [SNARKJS_CLI, ...args], { maxBuffer: 64 << 20 }).then(
    (r) => ({ code: 0, out: r.stdout + r.stderr }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, out: e.stdout + e.stderr }),
  );

let dir: string;
let ptau: string; // the test variant's development ptau (same τ, α, β as its zkey)
let other: DevSetupResult & { zkey: string; ptau: string; vkey: string }; // another setup of the same circuit

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'zkpoa-dev-setup-'));
  // as the global setup builds it (reused): the keys every other test uses, with their ptau
  const built = await ensureVariant(TEST_VARIANT, { devPtau: true });
  expect(built.manifest.ptau).toMatchObject({ origin: 'development', power: TEST_VARIANT.ptauPower });
  ptau = built.manifest.ptau.path!;
  const zkey = join(dir, 'other.zkey');
  const otherPtau = join(dir, 'other.ptau');
  const r = await devSetup(testArtifacts().r1cs, zkey, { ptauPath: otherPtau, minPower: TEST_VARIANT.ptauPower });
  const vkey = join(dir, 'other_vkey.json');
  expect((await snarkjs('zkey', 'export', 'verificationkey', zkey, vkey)).code).toBe(0);
  other = { ...r, zkey, ptau: otherPtau, vkey };
}, 300_000);

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('development setup, checked by the stock snarkjs CLI', () => {
  it('`zkey verify` accepts the test variant\'s r1cs, development ptau and zkey', async () => {
    const r = await snarkjs('zkey', 'verify', testArtifacts().r1cs, ptau, testArtifacts().zkey);
    expect(r.out).toMatch(/ZKey Ok!/);
    expect(r.code).toBe(0);
  }, 300_000);

  it('`powersoftau verify` accepts the development ptau (a one-party ceremony file)', async () => {
    const r = await snarkjs('powersoftau', 'verify', ptau);
    expect(r.out).toMatch(/Powers of Tau Ok!/);
    expect(r.code).toBe(0);
  }, 300_000);

  it('`zkey verify` rejects a zkey and a ptau from different randomness', async () => {
    const r = await snarkjs('zkey', 'verify', testArtifacts().r1cs, other.ptau, testArtifacts().zkey);
    expect(r.code).not.toBe(0);
    expect(r.out).not.toMatch(/ZKey Ok!/);
  }, 300_000);

  it('a proof made with the keys verifies with `groth16 verify`; forged ones and the other setup\'s key do not', async () => {
    const input = buildBatchWitness(await getCommitments(), TEST_VARIANT, sampleBatchClaim()).input;
    const files = { input: join(dir, 'input.json'), proof: join(dir, 'proof.json'), pub: join(dir, 'public.json'), forged: join(dir, 'forged.json'), forgedPub: join(dir, 'forged_public.json') };
    await writeFile(files.input, JSON.stringify(input, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)));
    const proved = await snarkjs('groth16', 'fullprove', files.input, testArtifacts().wasm, testArtifacts().zkey, files.proof, files.pub);
    expect(proved.code).toBe(0);
    const ok = await snarkjs('groth16', 'verify', testArtifacts().vkey, files.pub, files.proof);
    expect(ok.out).toMatch(/OK!/);
    expect(ok.code).toBe(0);

    // the same proof for other public signals
    const pub = JSON.parse(await readFile(files.pub, 'utf8')) as string[];
    await writeFile(files.forgedPub, JSON.stringify(pub.map((s, i) => (i === 0 ? (BigInt(s) + 1n).toString() : s))));
    const wrongSignals = await snarkjs('groth16', 'verify', testArtifacts().vkey, files.forgedPub, files.proof);
    expect(wrongSignals.out).toMatch(/Invalid proof/);
    expect(wrongSignals.code).not.toBe(0);
    // a proof whose points are valid curve points but not a proof: A and C swapped
    const proof = JSON.parse(await readFile(files.proof, 'utf8')) as { pi_a: string[]; pi_c: string[] };
    await writeFile(files.forged, JSON.stringify({ ...proof, pi_a: proof.pi_c, pi_c: proof.pi_a }));
    const swapped = await snarkjs('groth16', 'verify', testArtifacts().vkey, files.pub, files.forged);
    expect(swapped.out).toMatch(/Invalid proof/);
    // the keys of another setup of the same circuit do not accept it (other δ, τ, α, β)
    const otherKey = await snarkjs('groth16', 'verify', other.vkey, files.pub, files.proof);
    expect(otherKey.out).toMatch(/Invalid proof/);
  }, 300_000);

  it('every setup draws fresh randomness: same circuit, different keys', async () => {
    const mine = JSON.parse(await readFile(testArtifacts().vkey, 'utf8')) as Record<string, unknown>;
    const theirs = JSON.parse(await readFile(other.vkey, 'utf8')) as Record<string, unknown>;
    expect(theirs.nPublic).toBe(mine.nPublic);
    expect(theirs.vk_gamma_2).toEqual(mine.vk_gamma_2); // γ is the G2 generator, as snarkjs makes it
    for (const k of ['vk_alpha_1', 'vk_beta_2', 'vk_delta_2', 'IC']) expect(theirs[k]).not.toEqual(mine[k]);
    // snarkjs's domain: the smallest power of two above the constraints plus public signals
    expect(other).toMatchObject({ power: TEST_VARIANT.ptauPower, domainSize: 2 ** (32 - Math.clz32(other.nConstraints + other.nPublic)) });
  });
});

describe('development setup powers', () => {
  it('makes keys as from the variant\'s power, or one more where snarkjs would read past its τ section', () => {
    expect(keyPower(12)).toBe(12);
    expect(keyPower(12, 14)).toBe(14);
    expect(keyPower(14)).toBe(14); // 2^14 points: snarkjs hashes them in one chunk
    expect(keyPower(15)).toBe(16);
    expect(keyPower(15, 16)).toBe(16);
  });
});
