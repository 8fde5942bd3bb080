import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Where zkpoa lives and what it reads from the environment: every environment variable
 * the service, the CLI and the scripts read is listed here, once. Secrets are read when
 * they are used (never as a default that `--help` would print, never from argv).
 */

export const REPO_ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));

export const ENV = {
  /** the ignored folder for everything built: keys, models, adapters, databases */
  buildDir: 'ZKPOA_BUILD_DIR',
  /** secret: the server's operator wallet (registers adapters for hosts and submits their settlements) */
  operatorKey: 'ZKPOA_OPERATOR_KEY',
  /** secret: the deployer wallet of `deploy` on a non-local chain */
  deployerKey: 'DEPLOYER_KEY',
  /** secret: a contributor's wallet for `zkpoa claim` */
  contributorKey: 'ZKPOA_CONTRIBUTOR_KEY',
  /** secret: a host's wallet for `zkpoa escrow` (deposit, withdraw, approve the operator) */
  hostKey: 'ZKPOA_HOST_KEY',
  /** secret: an API key for the CLI's calls to a zkpoa server */
  apiKey: 'ZKPOA_API_KEY',
  /** secret (may hold a password): the BullMQ job queue, redis://… */
  queueUrl: 'ZKPOA_QUEUE_URL',
  /** the zkpoa server the CLI talks to */
  url: 'ZKPOA_URL',
  /** the chain RPC of `deploy` */
  rpcUrl: 'RPC_URL',
  /** force a tensor backend: node-gpu, node, wasm or cpu */
  tfBackend: 'ZKPOA_TF_BACKEND',
  /** the server's log level */
  logLevel: 'LOG_LEVEL',
  /** an empty value hides the GPUs from the backend choice */
  cudaDevices: 'CUDA_VISIBLE_DEVICES',
  /** the circuit variant forge's tests read their fixture for (set by `npm run bench:gas`) */
  forgeVariant: 'ZKPOA_VARIANT',
  /** set on CI: progress is one line per step instead of a bar */
  ci: 'CI',
} as const;

export type EnvName = keyof typeof ENV;

/** The value of a listed environment variable, with surrounding blanks trimmed; undefined if unset or empty. */
export function env(name: EnvName): string | undefined {
  const v = process.env[ENV[name]]?.trim();
  return v ? v : undefined;
}

/** The build folder: `$ZKPOA_BUILD_DIR`, else `build/` in the repository. */
export const BUILD_DIR = resolve(env('buildDir') ?? join(REPO_ROOT, 'build'));

/**
 * The repository's own `build/`, whatever `$ZKPOA_BUILD_DIR` says: forge writes there
 * (foundry.toml's paths are relative to the repository) and reads its fixtures from
 * there, and compiled worker modules must sit inside the repository to resolve its
 * packages.
 */
export const REPO_BUILD_DIR = join(REPO_ROOT, 'build');
