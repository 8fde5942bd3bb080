/**
 * npm run deploy -- [--rpc http://127.0.0.1:8545] [--variant <name>|all] [--treasury 0x..] [--admin 0x..] [--ptau <file>] [--allow-development-keys]
 * Deploys OPEN, the Poseidon libraries the settlement is linked with (poseidon-solidity's
 * PoseidonT3 and PoseidonT5), the batch variants' verifiers and the settlement contract, and
 * writes the addresses to build/deployments/<chain id>.json. `--variant all` deploys every
 * batch variant of circuits/variants.json; the default is the test and default variants. The deployer key comes
 * from $DEPLOYER_KEY; without it, only a local chain (id 31337) is accepted and anvil's
 * public test key is used. Verifiers of development keys are refused on a chain that is not
 * a local one unless --allow-development-keys: whoever kept that randomness could forge proofs.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Wallet } from 'ethers';
import { VARIANTS, variantByName, variantFor } from '../circuits/variants.js';
import { ANVIL_DEPLOYER_KEY, deployAll, isLocalChain, rpcProvider } from '../contracts/client/index.js';
import { BUILD_DIR, ENV, env } from '../lib/config.js';
import { consoleProgress } from '../prover/index.js';

const { values } = parseArgs({
  options: {
    rpc: { type: 'string', default: env('rpcUrl') ?? 'http://127.0.0.1:8545' },
    variant: { type: 'string', multiple: true },
    treasury: { type: 'string' },
    admin: { type: 'string' },
    ptau: { type: 'string' },
    'allow-development-keys': { type: 'boolean', default: false },
  },
});
const provider = rpcProvider(values.rpc);
const { chainId } = await provider.getNetwork().catch((err: Error) => {
  console.error(`cannot reach ${values.rpc}: ${err.message}. Start a local chain with \`npm run chain\`.`);
  process.exit(1);
});
const key = env('deployerKey') ?? (isLocalChain(chainId) ? ANVIL_DEPLOYER_KEY : undefined);
if (!key) {
  console.error(`chain ${chainId} is not a local chain: set ${ENV.deployerKey}`);
  process.exit(1);
}
const variants = values.variant?.includes('all')
  ? VARIANTS.filter((v) => v.params.answers !== undefined)
  : values.variant?.length ? values.variant.map(variantByName) : [variantFor('test'), variantFor('default')];
const deployment = await deployAll(new Wallet(key, provider), {
  variants,
  progress: consoleProgress(),
  ...(values.treasury ? { treasury: values.treasury } : {}),
  ...(values.admin ? { admin: values.admin } : {}),
  ...(values.ptau ? { ptauFile: values.ptau } : {}),
  allowDevelopmentKeys: values['allow-development-keys'],
});
const dir = join(BUILD_DIR, 'deployments');
await mkdir(dir, { recursive: true });
const file = join(dir, `${chainId}.json`);
await writeFile(file, JSON.stringify(deployment, null, 2));
console.log(JSON.stringify(deployment, null, 2));
console.log(`written to ${file}`);
