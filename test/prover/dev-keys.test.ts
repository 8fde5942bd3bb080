import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DEV_SETUP_METHOD } from '../../prover/dev-setup.js';
import { ensureVariant } from '../../prover/setup.js';
import { releaseSnarkjsThreads } from '../../prover/snarkjs-threads.js';
import { TEST_VARIANT } from '../helpers/fixtures.js';

let dir: string | undefined;
afterAll(async () => {
  await releaseSnarkjsThreads();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('development keys in the build folder', () => {
  it('are labelled, reused as they are, and made again (new randomness) when their ptau is asked for and missing', async () => {
    dir = await mkdtemp(join(tmpdir(), 'zkpoa-dev-keys-'));
    const dev = await ensureVariant(TEST_VARIANT, { buildDir: dir });
    expect(dev.manifest.ptau).toEqual({ origin: 'development', method: DEV_SETUP_METHOD, power: dev.manifest.ptau.power });
    expect(dev.manifest.ceremony).toMatch(/^development: .*NOT for production$/);
    expect(await ensureVariant(TEST_VARIANT, { buildDir: dir })).toEqual(dev);

    const before = JSON.parse(await readFile(dev.vkey, 'utf8')) as { vk_alpha_1: string[] };
    const withPtau = await ensureVariant(TEST_VARIANT, { buildDir: dir, devPtau: true });
    const ptau = withPtau.manifest.ptau;
    expect(ptau).toMatchObject({ origin: 'development', method: DEV_SETUP_METHOD, path: join(dev.dir, `dev_pot${ptau.power}.ptau`) });
    expect(existsSync(ptau.path!)).toBe(true);
    // the ptau must belong to the keys beside it, and the old keys' randomness is gone: new keys
    const after = JSON.parse(await readFile(withPtau.vkey, 'utf8')) as { vk_alpha_1: string[] };
    expect(after.vk_alpha_1).not.toEqual(before.vk_alpha_1);
    expect(await ensureVariant(TEST_VARIANT, { buildDir: dir, devPtau: true })).toEqual(withPtau);
    expect(await ensureVariant(TEST_VARIANT, { buildDir: dir })).toEqual(withPtau);
  }, 600_000);
});
