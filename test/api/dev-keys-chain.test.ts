import { Wallet } from 'ethers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startService } from '../../api/service.js';
import { openDatabase } from '../../api/store/db.js';
import { SettlementClient, anvilAccountKeys, deployAll, rpcProvider, startAnvil, type LocalChain } from '../../contracts/client/index.js';
import { BUILD_DIR } from '../../lib/config.js';
import { tempDir } from '../inference/helpers.js';
import { TEST_SCALE_VARIANT, TEST_VARIANT } from '../helpers/fixtures.js';

/** Development keys are for local chains: deploying or serving them elsewhere needs an explicit flag, and /health says so. */
let local: LocalChain;
let publicLike: LocalChain;

beforeAll(async () => {
  [local, publicLike] = await Promise.all([startAnvil(), startAnvil({ chainId: 10 })]);
}, 60_000);
afterAll(async () => {
  await local?.stop();
  await publicLike?.stop();
});

describe('development keys on a chain that is not a local one', () => {
  it('deploy refuses their verifier unless told, and the service refuses to serve them unless told', async () => {
    const signer = (chain: LocalChain) => new Wallet(anvilAccountKeys()[0]!, rpcProvider(chain.rpcUrl));
    await expect(deployAll(signer(publicLike), { variants: [TEST_VARIANT] })).rejects.toMatchObject({ code: 'ZKPOA_ERR_DEV_KEYS' });
    const deployment = await deployAll(signer(publicLike), { variants: [TEST_VARIANT], allowDevelopmentKeys: true });
    const client = await SettlementClient.connect(deployment, new Wallet(anvilAccountKeys()[1]!, rpcProvider(publicLike.rpcUrl)));
    const opts = { buildDir: BUILD_DIR, variants: [TEST_VARIANT], chain: { client, chainId: publicLike.chainId, settlement: deployment.settlement } };
    await expect(startService({ ...opts, db: openDatabase(':memory:'), dataDir: await tempDir('zkpoa-devkeys-') })).rejects.toMatchObject({ code: 'ZKPOA_ERR_DEV_KEYS' });
    // every circuit of the ladder needs its verifier on this contract before anything is served
    await expect(startService({ ...opts, variants: [TEST_VARIANT, TEST_SCALE_VARIANT], allowDevelopmentKeys: true, proofWorker: false, db: openDatabase(':memory:'), dataDir: await tempDir('zkpoa-devkeys-') })).rejects.toMatchObject({
      code: 'ZKPOA_ERR_UNKNOWN_VARIANT',
      message: expect.stringContaining(`no verifier for ${TEST_SCALE_VARIANT.name}`),
    });
    const service = await startService({ ...opts, db: openDatabase(':memory:'), dataDir: await tempDir('zkpoa-devkeys-'), allowDevelopmentKeys: true, proofWorker: false });
    try {
      expect((await service.app.inject({ method: 'GET', url: '/health' })).json()).toMatchObject({ provers: [{ variant: TEST_VARIANT.name, development: true, warning: expect.stringMatching(/development keys/) }] });
    } finally {
      await service.close();
    }
    // on a local chain they are the default, said plainly and without a warning
    const localDeployment = await deployAll(signer(local), { variants: [TEST_VARIANT] });
    const localClient = await SettlementClient.connect(localDeployment, new Wallet(anvilAccountKeys()[1]!, rpcProvider(local.rpcUrl)));
    const dev = await startService({ buildDir: BUILD_DIR, variants: [TEST_VARIANT], db: openDatabase(':memory:'), dataDir: await tempDir('zkpoa-devkeys-'), proofWorker: false, chain: { client: localClient, chainId: local.chainId, settlement: localDeployment.settlement } });
    try {
      const health = (await dev.app.inject({ method: 'GET', url: '/health' })).json() as { provers: Record<string, unknown>[] };
      expect(health.provers).toEqual([expect.objectContaining({ variant: TEST_VARIANT.name, development: true, ceremony: expect.stringMatching(/NOT for production/) })]);
      expect(health.provers[0]!.warning).toBeUndefined();
    } finally {
      await dev.close();
    }
  }, 300_000);
});
