import { describe, expect, it } from 'vitest';
import { ServiceKeys } from '../../api/service-keys.js';
import { proveJobKind } from '../../api/proof-worker.js';
import { BUILD_DIR } from '../../lib/config.js';
import { TEST_SCALE_VARIANT, TEST_VARIANT } from '../helpers/fixtures.js';

describe('service keys', () => {
  it('are read once per variant of the service’s ladder, each its own, and never for a variant outside it', async () => {
    const ready: string[] = [];
    const keys = new ServiceKeys({ variants: [TEST_VARIANT], buildDir: BUILD_DIR, proving: false }, (v) => ready.push(v.name));
    const [a, b] = await Promise.all([keys.want(TEST_VARIANT), keys.want(TEST_VARIANT)]);
    expect(a).toBe(b);
    expect(ready).toEqual([TEST_VARIANT.name]);
    expect(a.development).toBe(true);
    expect(keys.describe()).toEqual([expect.objectContaining({ variant: TEST_VARIANT.name, status: 'ready' })]);
    await expect(keys.want(TEST_SCALE_VARIANT)).rejects.toMatchObject({ code: 'ZKPOA_ERR_UNKNOWN_VARIANT' });
    await expect(keys.vkey(TEST_SCALE_VARIANT.name)).rejects.toMatchObject({ code: 'ZKPOA_ERR_UNKNOWN_VARIANT' });

    const both = new ServiceKeys({ variants: [TEST_VARIANT, TEST_SCALE_VARIANT], buildDir: BUILD_DIR, proving: false });
    const [small, large] = await Promise.all([both.vkey(TEST_VARIANT.name), both.vkey(TEST_SCALE_VARIANT.name)]);
    expect(proveJobKind(small)).not.toBe(proveJobKind(large)); // each variant's proofs go to the workers holding its keys
  });
});
