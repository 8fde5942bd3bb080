import { poseidonContract } from 'circomlibjs';
import { Contract, ContractFactory, type Signer } from 'ethers';
import type { CircuitVariant } from '../../circuits/variants.js';
import { ensureVariant, type SetupOptions } from '../../prover/setup.js';
import { silentProgress } from '../../prover/progress.js';
import { forgeBuild, poseidonArities, readForgeArtifact, verifierContractName, writeVerifier } from './artifacts.js';

/** Addresses of one deployment, as `npm run deploy` writes them. */
export interface Deployment {
  chainId: string;
  open: string;
  settlement: string;
  treasury: string;
  admin: string;
  poseidon: Record<string, string>;
  verifiers: { variantId: number; name: string; address: string; contributors: number; features: number }[];
  deployedAt: string;
  /** the settlement contract's deployment block: where scans for its events start (older files lack it) */
  deployedAtBlock?: number;
}

export interface DeployOptions extends SetupOptions {
  variants: readonly CircuitVariant[];
  /** receives the protocol share (default: the deployer) */
  treasury?: string;
  /** may add verifiers (default: the deployer) */
  admin?: string;
}

async function deploy(signer: Signer, abi: unknown[], bytecode: string, args: unknown[] = []): Promise<Contract> {
  const c = await new ContractFactory(abi as never, bytecode, signer).deploy(...args);
  await c.waitForDeployment();
  return c as Contract;
}

/**
 * Deploys OPEN, the Poseidon hashers, one generated verifier per variant and the
 * settlement contract, and registers the verifiers. Builds what is missing first
 * (circuit keys, generated verifier sources, forge artifacts).
 */
export async function deployAll(signer: Signer, opts: DeployOptions): Promise<Deployment> {
  const progress = opts.progress ?? silentProgress;
  for (const v of opts.variants) await writeVerifier(v, await ensureVariant(v, opts));
  let step = progress.step('forge build');
  await forgeBuild();
  step.done();

  step = progress.step('deploy contracts');
  const deployer = await signer.getAddress();
  const arities = poseidonArities(opts.variants);
  const poseidon: Record<string, string> = {};
  for (const n of arities) {
    const c = await deploy(signer, poseidonContract.generateABI(n), poseidonContract.createCode(n));
    poseidon[String(n)] = await c.getAddress();
  }
  const tokenArt = await readForgeArtifact('OpenToken.sol', 'OpenToken');
  const open = await deploy(signer, tokenArt.abi, tokenArt.bytecode, [deployer]);
  const settlementArt = await readForgeArtifact('AttributionSettlement.sol', 'AttributionSettlement');
  const treasury = opts.treasury ?? deployer;
  const admin = opts.admin ?? deployer;
  const settlement = await deploy(signer, settlementArt.abi, settlementArt.bytecode, [
    await open.getAddress(),
    treasury,
    deployer,
    arities,
    arities.map((n) => poseidon[String(n)]),
  ]);
  const verifiers: Deployment['verifiers'] = [];
  for (const v of opts.variants) {
    const name = verifierContractName(v);
    const art = await readForgeArtifact(`${name}.sol`, name);
    const verifier = await deploy(signer, art.abi, art.bytecode);
    const address = await verifier.getAddress();
    await (await settlement.getFunction('addVerifier')(v.id, address, v.params.contributors, v.params.features)).wait();
    verifiers.push({ variantId: v.id, name: v.name, address, contributors: v.params.contributors, features: v.params.features });
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
    poseidon,
    verifiers,
    deployedAt: new Date().toISOString(),
  };
}
