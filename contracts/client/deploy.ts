import { Contract, ContractFactory, type Signer } from 'ethers';
import type { CircuitVariant } from '../../circuits/variants.js';
import { ZkpoaError } from '../../attribution/errors.js';
import { ensureVariant, type SetupOptions } from '../../prover/setup.js';
import { isLocalChain } from './anvil.js';
import { silentProgress } from '../../prover/progress.js';
import { assertBatchVariant, forgeBuild, libraryReferences, linkBytecode, readForgeArtifact, verifierContractName, writeVerifier } from './artifacts.js';

/** Addresses of one deployment, as `npm run deploy` writes them. */
export interface Deployment {
  chainId: string;
  open: string;
  settlement: string;
  treasury: string;
  admin: string;
  /** the linked libraries by name: poseidon-solidity's PoseidonT3 (claims) and PoseidonT5 (bindings) */
  libraries: Record<string, string>;
  verifiers: { variantId: number; name: string; address: string; contributors: number; features: number; answers: number }[];
  deployedAt: string;
  /** the settlement contract's deployment block: where scans for its events start */
  deployedAtBlock?: number;
}

export interface DeployOptions extends SetupOptions {
  /** batch circuit variants whose verifiers are added */
  variants: readonly CircuitVariant[];
  /** receives the protocol share (default: the deployer) */
  treasury?: string;
  /** may add verifiers (default: the deployer) */
  admin?: string;
  /** deploy verifiers of development keys on a chain that is not a local one (refused otherwise) */
  allowDevelopmentKeys?: boolean;
}

async function deploy(signer: Signer, abi: unknown[], bytecode: string, args: unknown[] = []): Promise<Contract> {
  const c = await new ContractFactory(abi as never, bytecode, signer).deploy(...args);
  await c.waitForDeployment();
  return c as Contract;
}

/**
 * Deploys OPEN, the Poseidon libraries the settlement links (poseidon-solidity), one
 * generated verifier per batch variant and the settlement contract, and registers the
 * verifiers. Builds what is missing first (circuit keys, verifier sources, forge artifacts).
 */
export async function deployAll(signer: Signer, opts: DeployOptions): Promise<Deployment> {
  const progress = opts.progress ?? silentProgress;
  opts.variants.forEach((v) => assertBatchVariant(v));
  const { chainId } = await signer.provider!.getNetwork();
  for (const v of opts.variants) {
    const artifacts = await ensureVariant(v, opts);
    // whoever kept a development setup's randomness could forge proofs this verifier accepts
    if (artifacts.manifest.ptau.origin === 'development' && !isLocalChain(chainId) && !opts.allowDevelopmentKeys) {
      throw new ZkpoaError('ZKPOA_ERR_DEV_KEYS', `${v.name}'s keys come from the development setup: refusing to deploy its verifier on chain ${chainId}. Build production keys (npm run setup -- --variant ${v.name} --ptau <public file>) or pass --allow-development-keys`);
    }
    await writeVerifier(v, artifacts);
  }
  let step = progress.step('forge build');
  await forgeBuild();
  step.done();

  step = progress.step('deploy contracts');
  const deployer = await signer.getAddress();
  const settlementArt = await readForgeArtifact('AttributionSettlement.sol', 'AttributionSettlement');
  const libraries: Record<string, string> = {};
  for (const [file, name] of libraryReferences(settlementArt)) {
    const art = await readForgeArtifact(file.split('/').pop()!, name);
    libraries[name] = await (await deploy(signer, art.abi, art.bytecode)).getAddress();
  }
  const tokenArt = await readForgeArtifact('OpenToken.sol', 'OpenToken');
  const open = await deploy(signer, tokenArt.abi, tokenArt.bytecode, [deployer]);
  const treasury = opts.treasury ?? deployer;
  const admin = opts.admin ?? deployer;
  const settlement = await deploy(signer, settlementArt.abi, linkBytecode(settlementArt, libraries), [await open.getAddress(), treasury, deployer]);
  const verifiers: Deployment['verifiers'] = [];
  for (const v of opts.variants) {
    assertBatchVariant(v);
    const name = verifierContractName(v);
    const art = await readForgeArtifact(`${name}.sol`, name);
    const verifier = await deploy(signer, art.abi, art.bytecode);
    const address = await verifier.getAddress();
    const { contributors, features, answers } = v.params;
    await (await settlement.getFunction('addVerifier')(v.id, address, contributors, features, answers)).wait();
    verifiers.push({ variantId: v.id, name: v.name, address, contributors, features, answers });
  }
  if (admin !== deployer) await (await settlement.getFunction('transferOwnership')(admin)).wait();
  step.done();
  const network = await signer.provider!.getNetwork();
  return {
    chainId: network.chainId.toString(),
    open: await open.getAddress(),
    settlement: await settlement.getAddress(),
    deployedAtBlock: (await settlement.deploymentTransaction()?.wait())?.blockNumber ?? 0,
    treasury,
    admin,
    libraries,
    verifiers,
    deployedAt: new Date().toISOString(),
  };
}
