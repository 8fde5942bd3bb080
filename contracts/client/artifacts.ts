import { execFile } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { chunkCount } from '../../attribution/constants.js';
import type { CircuitVariant } from '../../circuits/variants.js';
import { BUILD_DIR, REPO_ROOT } from '../../lib/config.js';
import { type VariantArtifacts } from '../../prover/setup.js';
import { foundryBinary } from './anvil.js';

const run = promisify(execFile);

/** Generated verifiers sit in forge's source tree (ignored by git) so forge compiles whichever exist. */
export const GENERATED_SOL_DIR = join(REPO_ROOT, 'contracts', 'src', 'generated');
export const FORGE_OUT_DIR = join(BUILD_DIR, 'forge', 'out');

export function verifierContractName(variant: CircuitVariant): string {
  return `Groth16Verifier_${variant.name}`;
}

/** Poseidon arities the contracts need: tree nodes (2), binding (4), leaves (1 + ceil(K/15)). */
export function poseidonArities(variants: readonly CircuitVariant[]): number[] {
  return [...new Set([2, 4, ...variants.map((v) => 1 + chunkCount(v.params.features))])].sort((a, b) => a - b);
}

/** The snarkjs verifier with its contract renamed, so several variants compile side by side. */
export async function writeVerifier(variant: CircuitVariant, artifacts: VariantArtifacts, outDir = GENERATED_SOL_DIR): Promise<string> {
  const src = await readFile(artifacts.verifier, 'utf8');
  if (!src.includes('contract Groth16Verifier {')) throw new Error(`unexpected verifier source in ${artifacts.verifier}`);
  const path = join(outDir, `${verifierContractName(variant)}.sol`);
  await mkdir(outDir, { recursive: true });
  await writeFile(path, src.replace('contract Groth16Verifier {', `contract ${verifierContractName(variant)} {`));
  return path;
}

/** `forge build` from the repository root (where foundry.toml resolves the solc shim). */
export async function forgeBuild(): Promise<void> {
  try {
    await run(foundryBinary('forge'), ['build'], { cwd: REPO_ROOT, maxBuffer: 64 * 1024 * 1024 });
  } catch (err) {
    const e = err as { stderr?: string; stdout?: string };
    throw new Error(`forge build failed:\n${e.stdout ?? ''}${e.stderr ?? ''}`, { cause: err });
  }
}

export interface ForgeArtifact {
  abi: unknown[];
  bytecode: string;
}

export async function readForgeArtifact(file: string, contract: string): Promise<ForgeArtifact> {
  const json = JSON.parse(await readFile(join(FORGE_OUT_DIR, file, `${contract}.json`), 'utf8')) as { abi: unknown[]; bytecode: { object: string } };
  return { abi: json.abi, bytecode: json.bytecode.object };
}
