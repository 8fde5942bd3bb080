// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IAdapterRegistry} from "./interfaces/IAdapterRegistry.sol";
import {IVerifierLookup} from "./interfaces/IVerifierLookup.sol";
import {Poseidon} from "./Poseidon.sol";
import {VerifierLookup} from "./VerifierLookup.sol";

/// @notice Adapters, their fee configuration and versioned attribution indexes.
abstract contract AdapterRegistry is IAdapterRegistry, VerifierLookup {
    uint256 internal constant BPS = 10_000;
    uint256 internal constant AMOUNT_LIMIT = 1 << 80;
    uint256 internal constant FEATURE_BITS = 16;
    uint256 internal constant FEATURES_PER_CHUNK = 15;

    mapping(uint256 => Adapter) internal _adapters;
    mapping(uint256 => mapping(uint32 => address[])) internal _payees;
    /// @dev adapterId → binding → the index version it binds (0: none), so that a receipt proven
    ///      against an earlier version still settles, to that version's payees
    mapping(uint256 => mapping(uint256 => uint32)) internal _versionOfBinding;
    mapping(uint256 => address) internal _hashers;
    /// @dev host → operator → approved
    mapping(address => mapping(address => bool)) private _operators;
    uint256 public adapterCount;

    /// @param arities Poseidon input counts with a deployed hasher (2 for the tree and
    ///        1 + ceil(K/15) for leaves; 4 for the binding)
    /// @param hashers circomlibjs Poseidon contracts, one per arity
    constructor(uint256[] memory arities, address[] memory hashers) {
        for (uint256 i; i < arities.length; ++i) {
            _hashers[arities[i]] = hashers[i];
        }
    }

    modifier onlyAdapterHost(uint256 adapterId) {
        _checkAdapterHost(adapterId);
        _;
    }

    /// @inheritdoc IAdapterRegistry
    function setOperator(address operator, bool approved) external {
        if (operator == address(0)) revert ZeroAddress();
        _operators[msg.sender][operator] = approved;
        emit OperatorSet(msg.sender, operator, approved);
    }

    /// @inheritdoc IAdapterRegistry
    function isOperator(address host, address operator) public view returns (bool) {
        return host == operator || _operators[host][operator];
    }

    /// @inheritdoc IAdapterRegistry
    function registerAdapter(address host, uint16 variantId, uint256 price, uint16 ownerBps, uint16 protocolBps, uint16 poolBps, IndexInput calldata index)
        external
        returns (uint256 adapterId)
    {
        if (host == address(0)) revert ZeroAddress();
        if (!isOperator(host, msg.sender)) revert NotOperator(host, msg.sender);
        _variant(variantId);
        _checkShares(ownerBps, protocolBps, poolBps);
        if (price >= AMOUNT_LIMIT) revert PriceTooLarge(price);
        adapterId = ++adapterCount;
        _adapters[adapterId] = Adapter(host, ownerBps, protocolBps, poolBps, variantId, 0, 0, price);
        emit AdapterRegistered(adapterId, host, variantId, price, ownerBps, protocolBps, poolBps);
        _newVersion(adapterId, index);
    }

    /// @inheritdoc IAdapterRegistry
    function updateIndex(uint256 adapterId, IndexInput calldata index) external onlyAdapterHost(adapterId) returns (uint32) {
        return _newVersion(adapterId, index);
    }

    /// @inheritdoc IAdapterRegistry
    function setPrice(uint256 adapterId, uint256 price) external onlyAdapterHost(adapterId) {
        if (price >= AMOUNT_LIMIT) revert PriceTooLarge(price);
        Adapter storage a = _adapters[adapterId];
        emit PriceChanged(adapterId, a.price, price);
        a.price = price;
    }

    /// @inheritdoc IAdapterRegistry
    function setShares(uint256 adapterId, uint16 ownerBps, uint16 protocolBps, uint16 poolBps) external onlyAdapterHost(adapterId) {
        _checkShares(ownerBps, protocolBps, poolBps);
        Adapter storage a = _adapters[adapterId];
        (a.ownerBps, a.protocolBps, a.poolBps) = (ownerBps, protocolBps, poolBps);
        emit SharesChanged(adapterId, ownerBps, protocolBps, poolBps);
    }

    /// @inheritdoc IAdapterRegistry
    function adapter(uint256 adapterId) external view returns (Adapter memory) {
        return _adapters[adapterId];
    }

    /// @inheritdoc IAdapterRegistry
    function payee(uint256 adapterId, uint32 version, uint256 leaf) external view returns (address) {
        address[] storage ps = _payees[adapterId][version];
        return leaf < ps.length ? ps[leaf] : address(0);
    }

    /// @inheritdoc IAdapterRegistry
    function indexRootOf(address[] calldata payees, uint256[] calldata featureChunks, uint16 capacity, uint16 features)
        external
        view
        returns (uint256)
    {
        return _indexRoot(payees, featureChunks, capacity, features);
    }

    /// @dev The adapter's host, if the caller is it or an operator it approved.
    function _checkAdapterHost(uint256 adapterId) internal view returns (address host) {
        host = _adapters[adapterId].host;
        if (host == address(0)) revert UnknownAdapter(adapterId);
        if (!isOperator(host, msg.sender)) revert NotAdapterHost(adapterId, msg.sender);
    }

    function _checkShares(uint16 ownerBps, uint16 protocolBps, uint16 poolBps) private pure {
        if (uint256(ownerBps) + protocolBps + poolBps != BPS) revert InvalidShares(ownerBps, protocolBps, poolBps);
    }

    function _newVersion(uint256 adapterId, IndexInput calldata index) private returns (uint32 version) {
        Adapter storage a = _adapters[adapterId];
        IVerifierLookup.Variant memory v = _variant(a.variantId);
        uint256 root = _indexRoot(index.payees, index.featureChunks, v.contributors, v.features);
        uint256[] memory b = new uint256[](4);
        (b[0], b[1], b[2], b[3]) = (root, adapterId, block.chainid, uint256(uint160(address(this))));
        uint256 binding = Poseidon.hash(_hasher(4), Poseidon.selector(4), b);
        version = a.version + 1;
        (a.version, a.binding) = (version, binding);
        _versionOfBinding[adapterId][binding] = version;
        _payees[adapterId][version] = index.payees;
        emit IndexVersioned(adapterId, version, root, binding, index.datanetId, index.datanetRoot, index.payees.length);
    }

    function _hasher(uint256 arity) private view returns (address h) {
        h = _hashers[arity];
        if (h == address(0)) revert NoHasher(arity);
    }

    /// @dev Mirrors Commitments.indexRoot: leaves Poseidon(payee, chunks...), padded with
    ///      (0, zero features) to `capacity`, then a binary Poseidon(2) tree.
    function _indexRoot(address[] calldata payees, uint256[] calldata chunks, uint16 capacity, uint16 features)
        private
        view
        returns (uint256)
    {
        uint256 n = payees.length;
        if (n == 0 || n > capacity) revert InvalidContributorCount(n, capacity);
        uint256 nch = (uint256(features) + FEATURES_PER_CHUNK - 1) / FEATURES_PER_CHUNK;
        if (chunks.length != n * nch) revert InvalidFeatureChunks(chunks.length, n * nch);
        address leafHasher = _hasher(1 + nch);
        bytes4 leafSel = Poseidon.selector(1 + nch);
        uint256[] memory level = new uint256[](capacity);
        uint256[] memory input = new uint256[](1 + nch);
        for (uint256 i; i < n; ++i) {
            if (payees[i] == address(0)) revert ZeroPayee(i);
            input[0] = uint160(payees[i]);
            for (uint256 j; j < nch; ++j) {
                uint256 value = chunks[i * nch + j];
                if (value >> (FEATURE_BITS * _chunkLength(features, j)) != 0) revert FeatureChunkOutOfRange(i * nch + j, value);
                input[1 + j] = value;
            }
            level[i] = Poseidon.hash(leafHasher, leafSel, input);
        }
        if (n < capacity) {
            input[0] = 0;
            for (uint256 j; j < nch; ++j) {
                uint256 zero;
                for (uint256 k; k < _chunkLength(features, j); ++k) zero |= uint256(1 << (FEATURE_BITS - 1)) << (FEATURE_BITS * k);
                input[1 + j] = zero;
            }
            uint256 pad = Poseidon.hash(leafHasher, leafSel, input);
            for (uint256 i = n; i < capacity; ++i) level[i] = pad;
        }
        address nodeHasher = _hasher(2);
        bytes4 nodeSel = Poseidon.selector(2);
        uint256[] memory pair = new uint256[](2);
        for (uint256 width = capacity; width > 1; width /= 2) {
            for (uint256 i; i < width / 2; ++i) {
                (pair[0], pair[1]) = (level[2 * i], level[2 * i + 1]);
                level[i] = Poseidon.hash(nodeHasher, nodeSel, pair);
            }
        }
        return level[0];
    }

    function _chunkLength(uint16 features, uint256 j) private pure returns (uint256) {
        uint256 rest = features - j * FEATURES_PER_CHUNK;
        return rest < FEATURES_PER_CHUNK ? rest : FEATURES_PER_CHUNK;
    }
}
