// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title Adapter registry
/// @notice LoRA adapters served by a host, each a sequence of versions. A version fixes
///         what a batch proof of its answers is checked against: the attribution index
///         (its Poseidon root and the proof binding), the terms (price and fee shares),
///         the first receipt number it covers, and its own payout ledger.
///
///         Receipt numbers: every answer of an adapter has a number 0, 1, 2, … across all
///         its versions. Version v covers the numbers from its `firstReceipt` up to the
///         next version's `firstReceipt` (excluded); version 1 starts at 0. A price, share
///         or index change is a new version starting at a number not yet settled, so a batch
///         proven under the old terms still settles under them.
///
///         The index: `indexRoot` is a Poseidon Merkle tree over C leaves
///         `Poseidon(payee_c, packed G_c…)` (attribution/commitments.ts `indexRoot`). It is
///         registered as given: every batch proof hashes the payees and features to it, so
///         the payees paid are provably the root's. The leaves themselves (payees and packed
///         features) are published off-chain, under their content hash `leavesHash` =
///         keccak256(abi.encode(address[] payees, uint256[] featureChunks)) that the version
///         records: anyone who holds them (the serving host publishes them at
///         `GET /v1/indexes/<leavesHash>`) checks the hash and recomputes the root. Nothing
///         per leaf is sent, hashed or logged on-chain, so registration gas is the same for
///         one contributor or a thousand.
///
///         The binding ties proofs to one adapter on one chain and contract:
///         `binding = Poseidon(indexRoot, adapterId, block.chainid, address(this))`,
///         computed on-chain (poseidon-solidity's PoseidonT5, circomlib's permutation).
///
///         Every adapter belongs to a host: the host's own escrow pays its fees and the
///         owner share is the host's. A host may approve operators (a zkpoa server's
///         wallet, say) that register, re-index, re-price and settle its adapters for it;
///         an operator acts only for the hosts that approved it, so one server can serve
///         many hosts without any of them spending another's money.
interface IAdapterRegistry {
    /// @notice The terms of a version.
    /// @param price fee F per answer, in OPEN wei (< 2^80, the circuit's amount width)
    /// @param ownerBps the host's (model owner's) share of each fee, in basis points
    /// @param protocolBps the protocol / stakers' share (paid to the treasury), in basis points
    /// @param poolBps the contributors' pool P = floor(F · poolBps / 10,000); the three sum to 10,000
    struct Terms {
        uint128 price;
        uint16 ownerBps;
        uint16 protocolBps;
        uint16 poolBps;
    }

    /// @notice An attribution index as registered.
    /// @param indexRoot the Poseidon index root (< the BN254 field modulus), registered as given
    /// @param contributors the leaves that pay someone (1 to C; the leaves past them are padding)
    /// @param leavesHash keccak256(abi.encode(payees, featureChunks)): each leaf's payout address, and its
    ///        features packed as the circuit packs them (ceil(K/15) field elements per leaf, chunk j holding
    ///        min(15, K − 15j) 16-bit lanes), leaf after leaf; the leaves are published off-chain under it
    /// @param datanetId the datanet the adapter was fine-tuned on
    /// @param datanetRoot Merkle root of the datanet version the index was built from
    struct IndexInput {
        uint256 indexRoot;
        uint16 contributors;
        bytes32 leavesHash;
        bytes32 datanetId;
        bytes32 datanetRoot;
    }

    /// @notice An adapter.
    /// @param host the model host: pays fees from its escrow, receives the owner share
    /// @param variantId the batch circuit variant its answers are proven with
    /// @param version the latest version (1 at registration)
    /// @param nextReceipt the number of the next answer to settle: every answer below it is settled
    struct Adapter {
        address host;
        uint16 variantId;
        uint32 version;
        uint64 nextReceipt;
    }

    /// @notice One version of an adapter.
    /// @param indexRoot the index root its proofs hash the payees and features to
    /// @param binding Poseidon(indexRoot, adapterId, chainid, this), the proofs' first public signal
    /// @param ledgerRoot the payout ledger's root: a Poseidon Merkle tree over C leaves
    ///        Poseidon(payee_c, cumulative_c), 0 until the version's first batch settles
    /// @param firstReceipt the first receipt number it covers
    /// @param price fee per answer (see Terms)
    /// @param ownerBps see Terms
    /// @param protocolBps see Terms
    /// @param poolBps see Terms
    struct Version {
        uint256 indexRoot;
        uint256 binding;
        uint256 ledgerRoot;
        uint64 firstReceipt;
        uint128 price;
        uint16 ownerBps;
        uint16 protocolBps;
        uint16 poolBps;
    }

    /// @notice Emitted when a host approves or revokes an operator.
    /// @param host the approving host
    /// @param operator the wallet that may act for it
    /// @param approved true to approve, false to revoke
    event OperatorSet(address indexed host, address indexed operator, bool approved);

    /// @notice Emitted when an adapter is registered (followed by its version 1's VersionAdded and IndexPublished).
    /// @param adapterId the new adapter's id (1, 2, …)
    /// @param host its host
    /// @param variantId its batch circuit variant
    event AdapterRegistered(uint256 indexed adapterId, address indexed host, uint16 variantId);

    /// @notice Emitted for every version, the first included.
    /// @param adapterId the adapter
    /// @param version the new version's number
    /// @param firstReceipt the first receipt number it covers
    /// @param indexRoot its index root
    /// @param binding its proof binding
    /// @param price its fee per answer
    /// @param ownerBps its owner share
    /// @param protocolBps its protocol share
    /// @param poolBps its contributors' pool share
    event VersionAdded(
        uint256 indexed adapterId,
        uint32 indexed version,
        uint64 firstReceipt,
        uint256 indexRoot,
        uint256 binding,
        uint128 price,
        uint16 ownerBps,
        uint16 protocolBps,
        uint16 poolBps
    );

    /// @notice Emitted when a version brings a new index (at registration and by updateIndex, not by setTerms):
    ///         where to find, and how to check, the leaves that recompute `indexRoot` (attribution/commitments.ts
    ///         `indexRoot`; leaves past `contributors` are padding: payee 0, zero features).
    /// @param adapterId the adapter
    /// @param version the version the index starts with
    /// @param indexRoot the registered root
    /// @param contributors the leaves that pay someone
    /// @param leavesHash the content hash the leaves are published under (see IndexInput)
    /// @param datanetId the datanet the adapter was fine-tuned on
    /// @param datanetRoot the datanet version's root
    event IndexPublished(
        uint256 indexed adapterId,
        uint32 indexed version,
        uint256 indexRoot,
        uint16 contributors,
        bytes32 leavesHash,
        bytes32 datanetId,
        bytes32 datanetRoot
    );

    /// @notice Thrown when an adapter id is not registered.
    error UnknownAdapter(uint256 adapterId);
    /// @notice Thrown when the caller is neither the adapter's host nor an operator the host approved.
    error NotAdapterHost(uint256 adapterId, address caller);
    /// @notice Thrown when the caller registers for a host that has not approved it as an operator.
    error NotOperator(address host, address caller);
    /// @notice Thrown when a host or operator address is zero.
    error ZeroAddress();
    /// @notice Thrown when fee shares do not sum to 10,000 basis points.
    error InvalidShares(uint16 ownerBps, uint16 protocolBps, uint16 poolBps);
    /// @notice Thrown when the price does not fit 80 bits.
    error PriceTooLarge(uint256 price);
    /// @notice Thrown when an index has no contributors or more than the circuit's C.
    error InvalidContributorCount(uint256 count, uint256 capacity);
    /// @notice Thrown when an index names no published leaves (a zero leavesHash).
    error UnpublishedLeaves();
    /// @notice Thrown when an index root is not below the BN254 field modulus (no circuit can output it).
    error IndexRootOutOfField(uint256 indexRoot);
    /// @notice Thrown when a new version would start below the adapter's next unsettled receipt number or
    ///         below the latest version's first receipt number.
    error InvalidFromReceipt(uint256 adapterId, uint64 fromReceipt, uint64 minimum);

    /// @notice Approves (or revokes) `operator` to register, re-index, re-price and settle the caller's adapters,
    ///         which spends the caller's escrow. Revoking stops the operator at once.
    /// @custom:reverts ZeroAddress if `operator` is zero
    function setOperator(address operator, bool approved) external;

    /// @notice Whether `operator` may act for `host` (a host always may act for itself).
    function isOperator(address host, address operator) external view returns (bool);

    /// @notice Registers an adapter of `host`; its version 1 has `terms` and `index` and applies from receipt 0.
    ///         The caller is the host or an operator it approved. Emits AdapterRegistered, VersionAdded, IndexPublished.
    /// @custom:reverts ZeroAddress if `host` is zero
    /// @custom:reverts NotOperator if the caller may not act for `host`
    /// @custom:reverts UnknownVariant if `variantId` has no verifier
    /// @custom:reverts InvalidShares, PriceTooLarge on bad terms; InvalidContributorCount, UnpublishedLeaves,
    ///                 IndexRootOutOfField on a bad index
    /// @return adapterId the new adapter's id
    function registerAdapter(address host, uint16 variantId, Terms calldata terms, IndexInput calldata index)
        external
        returns (uint256 adapterId);

    /// @notice Adds a version with a new index (and a new binding), the latest terms and an empty ledger, applying
    ///         from receipt `fromReceipt` on (host or operator). Earlier versions' ledgers stay claimable; their
    ///         proven batches below `fromReceipt` still settle. Emits VersionAdded and IndexPublished.
    /// @custom:reverts InvalidFromReceipt unless fromReceipt ≥ max(nextReceipt, latest version's firstReceipt)
    /// @return version the new version's number
    function updateIndex(uint256 adapterId, IndexInput calldata index, uint64 fromReceipt) external returns (uint32 version);

    /// @notice Adds a version with new terms, the latest index (root and binding) and an empty ledger, applying from
    ///         receipt `fromReceipt` on (host or operator). Emits VersionAdded.
    /// @custom:reverts InvalidFromReceipt unless fromReceipt ≥ max(nextReceipt, latest version's firstReceipt)
    /// @return version the new version's number
    function setTerms(uint256 adapterId, Terms calldata terms, uint64 fromReceipt) external returns (uint32 version);

    /// @notice An adapter (host zero if unknown).
    function adapter(uint256 adapterId) external view returns (Adapter memory);

    /// @notice A version of an adapter (all zero if unknown).
    function version(uint256 adapterId, uint32 version_) external view returns (Version memory);
}
