import type { VerificationKey } from 'snarkjs';
import { ZkpoaError } from '../attribution/errors.js';
import { variantByName, type CircuitVariant } from '../circuits/variants.js';
import { isLocalChain } from '../contracts/client/anvil.js';
import { loadVerificationKey } from '../prover/prover.js';
import { artifactPaths, ensureVariant, readVariantManifest, type VariantArtifacts, type VariantManifest } from '../prover/setup.js';
import type { ChainContext } from './chain.js';

export interface VariantKeys {
  /** the proving artifacts, when this process proves */
  artifacts?: VariantArtifacts;
  manifest?: VariantManifest;
  vkey: VerificationKey;
  /** from the development setup (whoever kept its randomness can forge proofs) */
  development: boolean;
}

export interface ServiceKeysOptions {
  /** the variants the service proves with: no other's keys are built or read */
  variants: readonly CircuitVariant[];
  buildDir: string;
  /** this process proves: it builds (or reuses) full keys; otherwise it reads the verification key the provers' setup wrote */
  proving: boolean;
  chain?: ChainContext;
  allowDevelopmentKeys?: boolean;
}

/**
 * The service's circuit keys, one set per variant it proves with, each built (or reused)
 * the first time it is wanted and one build at a time (a build takes both cores). Refuses
 * development keys on a chain that is not a local one.
 */
export class ServiceKeys {
  private readonly holders = new Map<string, { ready: Promise<VariantKeys>; state?: VariantKeys; error?: Error }>();
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly opts: ServiceKeysOptions,
    /** called once per variant whose keys are ready */
    private readonly onReady: (variant: CircuitVariant, keys: VariantKeys) => void = () => undefined,
  ) {}

  /** The variant's keys, starting their build if nobody wanted them yet (or if the last one failed). */
  want(variant: CircuitVariant): Promise<VariantKeys> {
    try {
      this.checkServed(variant.name);
    } catch (err) {
      return Promise.reject(err as Error);
    }
    let holder = this.holders.get(variant.name);
    if (!holder || holder.error) {
      const ready = this.queue.catch(() => undefined).then(() => this.load(variant));
      this.queue = ready;
      const h: { ready: Promise<VariantKeys>; state?: VariantKeys; error?: Error } = { ready };
      ready.then(
        (k) => {
          h.state = k;
          this.onReady(variant, k);
        },
        (err: Error) => (h.error = err),
      );
      this.holders.set(variant.name, h);
      holder = h;
    }
    return holder.ready;
  }

  /**
   * The variant's keys if they are ready, or undefined while they are being built (their build
   * starts if nobody wanted them yet); a failed build throws its error once, and the next call
   * tries again.
   */
  now(variantName: string): VariantKeys | undefined {
    this.checkServed(variantName);
    const variant = variantByName(variantName);
    const holder = this.holders.get(variant.name);
    if (holder?.state) return holder.state;
    if (holder?.error) {
      this.holders.delete(variant.name);
      throw holder.error;
    }
    this.want(variant).catch(() => undefined);
    return undefined;
  }

  /** The verification key of a variant by name (what a batch's proof is checked with). */
  async vkey(variantName: string): Promise<VerificationKey> {
    return (await this.want(variantByName(variantName))).vkey;
  }

  /** For /health: each wanted variant's keys, ready or building or failed. */
  describe(): { variant: string; status: string; keys?: VariantKeys }[] {
    return [...this.holders].map(([variant, h]) => ({ variant, status: h.state ? 'ready' : h.error ? `failed: ${h.error.message}` : 'building', ...(h.state ? { keys: h.state } : {}) }));
  }

  private checkServed(variantName: string): void {
    if (!this.opts.variants.some((v) => v.name === variantName)) {
      throw new ZkpoaError('ZKPOA_ERR_UNKNOWN_VARIANT', `this service does not prove with ${variantName} (it proves with ${this.opts.variants.map((v) => v.name).join(', ')})`);
    }
  }

  private async load(variant: CircuitVariant): Promise<VariantKeys> {
    const { opts } = this;
    const strict = opts.chain && !isLocalChain(opts.chain.chainId) && !opts.allowDevelopmentKeys;
    if (strict) {
      // checked before anything is built: building development keys only to refuse them takes long at 2^20 and more
      const existing = await readVariantManifest(variant, opts.buildDir);
      if (!existing || existing.ptau.origin === 'development') {
        throw new ZkpoaError('ZKPOA_ERR_DEV_KEYS', `${variant.name} has ${existing ? 'only development keys' : 'no keys'} here, and chain ${opts.chain!.chainId} is not a local one: build production keys (npm run setup -- --variant ${variant.name} --ptau <public file>), serve without this variant (--variant), or pass --allow-development-keys`);
      }
    }
    const artifacts = opts.proving ? await ensureVariant(variant, { buildDir: opts.buildDir }) : undefined;
    const manifest = artifacts?.manifest ?? (await readVariantManifest(variant, opts.buildDir));
    const development = manifest?.ptau.origin === 'development';
    if (strict && development) {
      throw new ZkpoaError(
        'ZKPOA_ERR_DEV_KEYS',
        `${variant.name}'s keys come from the development setup, whose randomness this machine held: on chain ${opts.chain!.chainId} anyone who kept it could forge proofs. Build production keys (npm run setup -- --ptau <public file>) or pass --allow-development-keys`,
      );
    }
    const vkey = await loadVerificationKey(artifactPaths(variant, opts.buildDir).vkey);
    return { ...(artifacts ? { artifacts } : {}), ...(manifest ? { manifest } : {}), vkey, development };
  }
}
