import { Contract, ContractFactory, type Signer } from 'ethers';
import type { CircuitVariant } from '../../circuits/variants.js';
import { ZkpoaError } from '../../attribution/errors.js';
import { ensureVariant, type SetupOptions, type VariantArtifacts } from '../../prover/setup.js';
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

/** Whoever kept a development setup's randomness could forge proofs its verifier accepts: such keys go on local chains only, unless allowed. */
function checkKeys(v: CircuitVariant, chainId: bigint, artifacts: VariantArtifacts, allow?: boolean): void {
  if (artifacts.manifest.ptau.origin === 'development' && !isLocalChain(chainId) && !allow) {
    throw new ZkpoaError('ZKPOA_ERR_DEV_KEYS', `${v.name}'s keys come from the development setup: refusing to deploy its verifier on chain ${chainId}. Build production keys (npm run setup -- --variant ${v.name} --ptau <public file>) or pass --allow-development-keys`);
  }
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
  // every variant's keys, built and allowed on this chain, before any contract is deployed
  const { chainId } = await signer.provider!.getNetwork();
  for (const v of opts.variants) {
    assertBatchVariant(v);
    checkKeys(v, chainId, await ensureVariant(v, opts), opts.allowDevelopmentKeys);
  }
  const deployment = await addVerifiers(signer, await deployCore(signer, opts), opts.variants, opts);
  const deployer = await signer.getAddress();
  if (deployment.admin !== deployer) {
    const settlementArt = await readForgeArtifact('AttributionSettlement.sol', 'AttributionSettlement');
    await (await new Contract(deployment.settlement, settlementArt.abi as never, signer).getFunction('transferOwnership')(deployment.admin)).wait();
  }
  return deployment;
}

/**
 * OPEN, the linked Poseidon libraries and the settlement contract, without verifiers (the
 * signer stays its owner, to add them with `addVerifiers`): no circuit keys are needed yet,
 * so a deployment can go on while they are being built.
 */
export async function deployCore(signer: Signer, opts: Omit<DeployOptions, 'variants'> = {}): Promise<Deployment> {
  const progress = opts.progress ?? silentProgress;
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
  const settlement = await deploy(signer, settlementArt.abi, linkBytecode(settlementArt, libraries), [await open.getAddress(), treasury, deployer]);
  step.done();
  const network = await signer.provider!.getNetwork();
  return {
    chainId: network.chainId.toString(),
    open: await open.getAddress(),
    settlement: await settlement.getAddress(),
    deployedAtBlock: (await settlement.deploymentTransaction()?.wait())?.blockNumber ?? 0,
    treasury,
    admin: opts.admin ?? deployer,
    libraries,
    verifiers: [],
    deployedAt: new Date().toISOString(),
  };
}

/** Builds (or reuses) each variant's keys, deploys its generated verifier and adds it to the settlement (the signer must own it). */
export async function addVerifiers(signer: Signer, deployment: Deployment, variants: readonly CircuitVariant[], opts: SetupOptions & Pick<DeployOptions, 'allowDevelopmentKeys'> = {}): Promise<Deployment> {
  const progress = opts.progress ?? silentProgress;
  const { chainId } = await signer.provider!.getNetwork();
  for (const v of variants) {
    assertBatchVariant(v);
    const artifacts = await ensureVariant(v, opts);
    checkKeys(v, chainId, artifacts, opts.allowDevelopmentKeys);
    await writeVerifier(v, artifacts);
  }
  let step = progress.step('forge build (verifiers)');
  await forgeBuild();
  step.done();
  step = progress.step('deploy verifiers');
  const settlementArt = await readForgeArtifact('AttributionSettlement.sol', 'AttributionSettlement');
  const settlement = new Contract(deployment.settlement, settlementArt.abi as never, signer);
  const verifiers = [...deployment.verifiers];
  for (const v of variants) {
    const name = verifierContractName(v);
    const art = await readForgeArtifact(`${name}.sol`, name);
    const address = await (await deploy(signer, art.abi, art.bytecode)).getAddress();
    const { contributors, features, answers } = v.params;
    await (await settlement.getFunction('addVerifier')(v.id, address, contributors, features, answers!)).wait();
    verifiers.push({ variantId: v.id, name: v.name, address, contributors, features, answers: answers! });
  }
  step.done();
  return { ...deployment, verifiers };
}
