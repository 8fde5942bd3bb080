// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title Adapter registry
/// @notice LoRA adapters served by a host, with their attribution index. The index root
///         is recomputed on-chain from the contributors' payout addresses and packed
///         features at registration, so the addresses credited at settlement are
///         exactly those the proven root commits to. Each index is a new version; the
///         proof binding is
///         `binding = Poseidon(indexRoot, adapterId, block.chainid, address(this))`.
///
///         Every adapter belongs to a host: the host's own escrow pays its fees and the
///         owner share is the host's. A host may approve operators (a zkpoa server's
///         wallet, say) that register, re-index, price and settle its adapters for it;
///         an operator acts only for the hosts that approved it, so one server can serve
///         many hosts without any of them spending another's money.
interface IAdapterRegistry {
    /// @notice An adapter's settlement configuration.
    /// @param host the model host: pays fees from its escrow, receives the owner share
    /// @param ownerBps model owner's share of each fee, in basis points
    /// @param protocolBps protocol / stakers' share, in basis points
    /// @param poolBps contributors' pool, in basis points (the three sum to 10,000)
    /// @param variantId circuit variant the index is proven with
    /// @param version current index version (1 at registration)
    /// @param binding Poseidon(indexRoot, adapterId, chainid, this) of the current version
    /// @param price fee F per answer, in OPEN wei (< 2^80)
    struct Adapter {
        address host;
        uint16 ownerBps;
        uint16 protocolBps;
        uint16 poolBps;
        uint16 variantId;
        uint32 version;
        uint256 binding;
        uint256 price;
    }

    /// @notice The index of one version: the contributors in leaf order and their features.
    /// @param payees payout address of each leaf, in leaf order (at most C, none zero)
    /// @param featureChunks each leaf's features packed as the circuit packs them
    ///        (ceil(K/15) field elements per leaf, leaf after leaf)
    /// @param datanetId the datanet the adapter was fine-tuned on
    /// @param datanetRoot Merkle root of the datanet version the index was built from
    struct IndexInput {
        address[] payees;
        uint256[] featureChunks;
        bytes32 datanetId;
        bytes32 datanetRoot;
    }

    /// @notice Emitted when a host approves or revokes an operator.
    event OperatorSet(address indexed host, address indexed operator, bool approved);
    /// @notice Emitted when an adapter is registered.
    event AdapterRegistered(uint256 indexed adapterId, address indexed host, uint16 variantId, uint256 price, uint16 ownerBps, uint16 protocolBps, uint16 poolBps);
    /// @notice Emitted for every index version, including the first.
    event IndexVersioned(uint256 indexed adapterId, uint32 indexed version, uint256 indexRoot, uint256 binding, bytes32 datanetId, bytes32 datanetRoot, uint256 contributors);
    /// @notice Emitted when an adapter's price changes.
    event PriceChanged(uint256 indexed adapterId, uint256 oldPrice, uint256 newPrice);
    /// @notice Emitted when an adapter's fee shares change.
    event SharesChanged(uint256 indexed adapterId, uint16 ownerBps, uint16 protocolBps, uint16 poolBps);

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
    /// @notice Thrown when an index has no contributors or more than the circuit holds.
    error InvalidContributorCount(uint256 count, uint256 capacity);
    /// @notice Thrown when the packed features do not match the payees.
    error InvalidFeatureChunks(uint256 provided, uint256 expected);
    /// @notice Thrown when a packed feature element exceeds its bit width.
    error FeatureChunkOutOfRange(uint256 index, uint256 value);
    /// @notice Thrown when a payout address is zero.
    error ZeroPayee(uint256 leaf);
    /// @notice Thrown when no Poseidon hasher is configured for an arity.
    error NoHasher(uint256 arity);

    /// @notice Approves (or revokes) `operator` to register, re-index, price and settle the caller's adapters,
    ///         which spends the caller's escrow. Revoking stops the operator at once.
    function setOperator(address operator, bool approved) external;

    /// @notice Whether `operator` may act for `host` (a host always may act for itself).
    function isOperator(address host, address operator) external view returns (bool);

    /// @notice Registers an adapter of `host` with its first index version. The caller is the host or an
    ///         operator it approved.
    /// @return adapterId the new adapter's id
    function registerAdapter(address host, uint16 variantId, uint256 price, uint16 ownerBps, uint16 protocolBps, uint16 poolBps, IndexInput calldata index)
        external
        returns (uint256 adapterId);

    /// @notice Replaces the index with a new version (host or operator). Credits of earlier versions stay claimable.
    function updateIndex(uint256 adapterId, IndexInput calldata index) external returns (uint32 version);

    /// @notice Sets the price per answer (host or operator). Proofs made for the old pool no longer settle.
    function setPrice(uint256 adapterId, uint256 price) external;

    /// @notice Sets the fee shares (host or operator).
    function setShares(uint256 adapterId, uint16 ownerBps, uint16 protocolBps, uint16 poolBps) external;

    /// @notice An adapter's configuration (host zero if unknown).
    function adapter(uint256 adapterId) external view returns (Adapter memory);

    /// @notice Payout address of a leaf of an index version.
    function payee(uint256 adapterId, uint32 version, uint256 leaf) external view returns (address);

    /// @notice Poseidon index root of the given leaves, padded to `capacity` (the circuit's rule).
    function indexRootOf(address[] calldata payees, uint256[] calldata featureChunks, uint16 capacity, uint16 features) external view returns (uint256);
}
