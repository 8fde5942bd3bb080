import { AbiCoder, keccak256 } from 'ethers';
import { ZkpoaError, addressToField, chunkCount, fieldToAddress, packFeatures, unpackFeatures, type Leaf } from '../../attribution/index.js';

/**
 * An index's leaves as they are published off-chain: each leaf's payout address and its
 * features packed as the circuit packs them, under the content hash the registry records
 * (IAdapterRegistry's `leavesHash`). Whoever holds them checks the hash and recomputes the
 * index root, so the host that serves them can withhold them but never misstate them.
 */
export interface PublishedLeaves {
  payees: string[];
  featureChunks: bigint[];
  /** keccak256(abi.encode(address[] payees, uint256[] featureChunks)), bytes32 hex */
  leavesHash: string;
}

export function leavesHashOf(payees: readonly string[], featureChunks: readonly bigint[]): string {
  return keccak256(AbiCoder.defaultAbiCoder().encode(['address[]', 'uint256[]'], [payees, featureChunks]));
}

/** The published form of an index's leaves (padding leaves are not listed; none may pay the zero address). */
export function publishLeaves(leaves: readonly Leaf[]): PublishedLeaves {
  if (leaves.length === 0) throw new ZkpoaError('ZKPOA_ERR_INVALID_ARGUMENT', 'an index needs at least one contributor');
  const zero = leaves.findIndex((l) => l.payee === 0n);
  if (zero >= 0) throw new ZkpoaError('ZKPOA_ERR_INVALID_ARGUMENT', `leaf ${zero} pays the zero address, which can never claim`);
  const payees = leaves.map((l) => fieldToAddress(l.payee));
  const featureChunks = leaves.flatMap((l) => packFeatures(l.g));
  return { payees, featureChunks, leavesHash: leavesHashOf(payees, featureChunks) };
}

/** The leaves back from their published form with K features each, after checking the content hash. */
export function leavesOfPublished(published: PublishedLeaves, K: number): Leaf[] {
  const actual = leavesHashOf(published.payees, published.featureChunks);
  if (actual !== published.leavesHash.toLowerCase()) throw new ZkpoaError('ZKPOA_ERR_INDEX_MISMATCH', `the published leaves hash to ${actual}, not ${published.leavesHash}`);
  const perLeaf = chunkCount(K);
  if (published.featureChunks.length !== published.payees.length * perLeaf) {
    throw new ZkpoaError('ZKPOA_ERR_SHAPE', `${published.payees.length} leaves of K = ${K} need ${published.payees.length * perLeaf} feature chunks, not ${published.featureChunks.length}`);
  }
  return published.payees.map((payee, c) => ({ payee: addressToField(payee), g: unpackFeatures(published.featureChunks.slice(c * perLeaf, (c + 1) * perLeaf), K) }));
}
