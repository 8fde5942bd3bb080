import { execFile } from 'node:child_process';
import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ZkpoaError } from '../../attribution/errors.js';
import { VARIANTS, type CircuitVariant } from '../../circuits/variants.js';
import { REPO_BUILD_DIR, REPO_ROOT } from '../../lib/config.js';
import { type VariantArtifacts } from '../../prover/setup.js';
import { foundryBinary } from './anvil.js';

const run = promisify(execFile);

/** Generated verifiers sit in forge's source tree (ignored by git) so forge compiles whichever exist. */
export const GENERATED_SOL_DIR = join(REPO_ROOT, 'contracts', 'src', 'generated');
/** foundry.toml's `out`, relative to the repository */
export const FORGE_OUT_DIR = join(REPO_BUILD_DIR, 'forge', 'out');

export function verifierContractName(variant: CircuitVariant): string {
  return `Groth16Verifier_${variant.name}`;
}

/** The contracts settle batch proofs only: a variant without M (answers) has no verifier on-chain. */
export function assertBatchVariant(variant: CircuitVariant): asserts variant is CircuitVariant & { params: { answers: number } } {
  if (variant.params.answers === undefined) {
    throw new ZkpoaError('ZKPOA_ERR_UNKNOWN_VARIANT', `${variant.name} is not a batch circuit: the settlement contract verifies batch proofs only`);
  }
}

/**
 * The snarkjs verifier with its contract renamed, so several variants compile side by side.
 * Verifiers of variants no longer declared in circuits/variants.json are removed, so that
 * forge does not keep compiling keys nobody uses.
 */
export async function writeVerifier(variant: CircuitVariant, artifacts: VariantArtifacts, outDir = GENERATED_SOL_DIR): Promise<string> {
  assertBatchVariant(variant);
  const src = await readFile(artifacts.verifier, 'utf8');
  if (!src.includes('contract Groth16Verifier {')) throw new Error(`unexpected verifier source in ${artifacts.verifier}`);
  await mkdir(outDir, { recursive: true });
  const declared = new Set(VARIANTS.filter((v) => v.params.answers !== undefined).map((v) => `${verifierContractName(v)}.sol`));
  for (const f of await readdir(outDir)) if (f.startsWith('Groth16Verifier_') && !declared.has(f)) await rm(join(outDir, f));
  const path = join(outDir, `${verifierContractName(variant)}.sol`);
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

/** Where the compiler left placeholders for library addresses: source file → library → byte ranges. */
export type LinkReferences = Record<string, Record<string, { start: number; length: number }[]>>;

export interface ForgeArtifact {
  abi: unknown[];
  /** creation code, hex; unlinked when linkReferences is not empty */
  bytecode: string;
  linkReferences: LinkReferences;
}

export async function readForgeArtifact(file: string, contract: string): Promise<ForgeArtifact> {
  const json = JSON.parse(await readFile(join(FORGE_OUT_DIR, file, `${contract}.json`), 'utf8')) as {
    abi: unknown[];
    bytecode: { object: string; linkReferences?: LinkReferences };
  };
  return { abi: json.abi, bytecode: json.bytecode.object, linkReferences: json.bytecode.linkReferences ?? {} };
}

/** The libraries an artifact must be linked with, as [source file, library name]. */
export function libraryReferences(artifact: ForgeArtifact): [file: string, name: string][] {
  return Object.entries(artifact.linkReferences).flatMap(([file, libs]) => Object.keys(libs).map((name): [string, string] => [file, name]));
}

const ADDRESS_RE = /^0x[0-9a-fA-F]{40}$/;

/**
 * Creation code with every library placeholder replaced by the library's address, at the
 * byte offsets the compiler lists in linkReferences. `libraries` maps a library's name
 * (`PoseidonT3`) to its deployed address; a missing one is an error, never a zero address.
 */
export function linkBytecode(artifact: ForgeArtifact, libraries: Readonly<Record<string, string>>): string {
  let code = artifact.bytecode.startsWith('0x') ? artifact.bytecode.slice(2) : artifact.bytecode;
  for (const [file, libs] of Object.entries(artifact.linkReferences)) {
    for (const [name, refs] of Object.entries(libs)) {
      const address = libraries[name];
      if (address === undefined) throw new ZkpoaError('ZKPOA_ERR_INVALID_ARGUMENT', `no address given for library ${name} (${file})`);
      if (!ADDRESS_RE.test(address)) throw new ZkpoaError('ZKPOA_ERR_INVALID_ARGUMENT', `library ${name}: not a 20-byte hex address: ${JSON.stringify(address)}`);
      for (const { start, length } of refs) {
        if (length !== 20) throw new Error(`library ${name}: unexpected placeholder length ${length}`);
        code = code.slice(0, 2 * start) + address.slice(2).toLowerCase() + code.slice(2 * (start + length));
      }
    }
  }
  if (/__\$[0-9a-fA-F]{34}\$__/.test(code)) throw new Error('bytecode still holds a library placeholder after linking');
  return '0x' + code;
}
