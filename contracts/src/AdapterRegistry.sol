// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {PoseidonT5} from "poseidon-solidity/PoseidonT5.sol";
import {IAdapterRegistry} from "./interfaces/IAdapterRegistry.sol";
import {IVerifierLookup} from "./interfaces/IVerifierLookup.sol";
import {VerifierLookup} from "./VerifierLookup.sol";

/// @notice Adapters, their versions (index, terms, first receipt, payout ledger) and the hosts' operators.
abstract contract AdapterRegistry is IAdapterRegistry, VerifierLookup {
    uint256 internal constant BPS = 10_000;
    uint256 internal constant AMOUNT_LIMIT = 1 << 80;
    /// @dev the BN254 scalar field: every circuit value is below it
    uint256 internal constant FIELD_MODULUS = 21888242871839275222246405745257275088548364400416034343698204186575808495617;

    mapping(uint256 => Adapter) internal _adapters;
    /// @dev adapterId → version → Version (indexRoot, binding, ledgerRoot, then firstReceipt and terms in one slot)
    mapping(uint256 => mapping(uint32 => Version)) internal _versions;
    /// @dev host → operator → approved
    mapping(address => mapping(address => bool)) private _operators;
    uint256 public adapterCount;

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
    function registerAdapter(address host, uint16 variantId, Terms calldata terms, IndexInput calldata index)
        external
        returns (uint256 adapterId)
    {
        if (host == address(0)) revert ZeroAddress();
        if (!isOperator(host, msg.sender)) revert NotOperator(host, msg.sender);
        IVerifierLookup.Variant memory v = _variant(variantId);
        _checkTerms(terms);
        _checkIndex(index, v);
        adapterId = ++adapterCount;
        _adapters[adapterId] = Adapter(host, variantId, 1, 0);
        uint256 binding = _binding(index.indexRoot, adapterId);
        _versions[adapterId][1] = Version(index.indexRoot, binding, 0, 0, terms.price, terms.ownerBps, terms.protocolBps, terms.poolBps);
        emit AdapterRegistered(adapterId, host, variantId);
        emit VersionAdded(adapterId, 1, 0, index.indexRoot, binding, terms.price, terms.ownerBps, terms.protocolBps, terms.poolBps);
        _publish(adapterId, 1, index);
    }

    /// @inheritdoc IAdapterRegistry
    function updateIndex(uint256 adapterId, IndexInput calldata index, uint64 fromReceipt) external returns (uint32 version_) {
        _checkAdapterHost(adapterId);
        Adapter storage a = _adapters[adapterId];
        _checkIndex(index, _variant(a.variantId));
        Version storage latest = _versions[adapterId][a.version];
        _checkFromReceipt(adapterId, a, latest, fromReceipt);
        version_ = a.version + 1;
        a.version = version_;
        uint256 binding = _binding(index.indexRoot, adapterId);
        Version storage next = _versions[adapterId][version_];
        (next.indexRoot, next.binding, next.firstReceipt) = (index.indexRoot, binding, fromReceipt);
        (next.price, next.ownerBps, next.protocolBps, next.poolBps) = (latest.price, latest.ownerBps, latest.protocolBps, latest.poolBps);
        emit VersionAdded(adapterId, version_, fromReceipt, index.indexRoot, binding, next.price, next.ownerBps, next.protocolBps, next.poolBps);
        _publish(adapterId, version_, index);
    }

    /// @inheritdoc IAdapterRegistry
    function setTerms(uint256 adapterId, Terms calldata terms, uint64 fromReceipt) external returns (uint32 version_) {
        _checkAdapterHost(adapterId);
        _checkTerms(terms);
        Adapter storage a = _adapters[adapterId];
        Version storage latest = _versions[adapterId][a.version];
        _checkFromReceipt(adapterId, a, latest, fromReceipt);
        version_ = a.version + 1;
        a.version = version_;
        Version storage next = _versions[adapterId][version_];
        (next.indexRoot, next.binding, next.firstReceipt) = (latest.indexRoot, latest.binding, fromReceipt);
        (next.price, next.ownerBps, next.protocolBps, next.poolBps) = (terms.price, terms.ownerBps, terms.protocolBps, terms.poolBps);
        emit VersionAdded(adapterId, version_, fromReceipt, next.indexRoot, next.binding, terms.price, terms.ownerBps, terms.protocolBps, terms.poolBps);
    }

    /// @inheritdoc IAdapterRegistry
    function adapter(uint256 adapterId) external view returns (Adapter memory) {
        return _adapters[adapterId];
    }

    /// @inheritdoc IAdapterRegistry
    function version(uint256 adapterId, uint32 version_) external view returns (Version memory) {
        return _versions[adapterId][version_];
    }

    /// @dev The adapter's host, if the caller is it or an operator it approved.
    function _checkAdapterHost(uint256 adapterId) internal view returns (address host) {
        host = _adapters[adapterId].host;
        if (host == address(0)) revert UnknownAdapter(adapterId);
        if (!isOperator(host, msg.sender)) revert NotAdapterHost(adapterId, msg.sender);
    }

    /// @dev binding = Poseidon(indexRoot, adapterId, chainid, this), as attribution/commitments.ts `binding`
    function _binding(uint256 indexRoot, uint256 adapterId) private view returns (uint256) {
        return PoseidonT5.hash([indexRoot, adapterId, block.chainid, uint256(uint160(address(this)))]);
    }

    function _checkTerms(Terms calldata t) private pure {
        if (uint256(t.ownerBps) + t.protocolBps + t.poolBps != BPS) revert InvalidShares(t.ownerBps, t.protocolBps, t.poolBps);
        if (t.price >= AMOUNT_LIMIT) revert PriceTooLarge(t.price);
    }

    /// @dev A new version may not start below a settled answer, nor below the latest version's start
    ///      (version ranges stay ordered, so each receipt number belongs to exactly one version).
    function _checkFromReceipt(uint256 adapterId, Adapter storage a, Version storage latest, uint64 fromReceipt) private view {
        uint64 minimum = a.nextReceipt > latest.firstReceipt ? a.nextReceipt : latest.firstReceipt;
        if (fromReceipt < minimum) revert InvalidFromReceipt(adapterId, fromReceipt, minimum);
    }

    /// @dev Sanity checks only: the proofs bind payees and features to the root, which is registered as given.
    function _checkIndex(IndexInput calldata index, IVerifierLookup.Variant memory v) private pure {
        if (index.indexRoot >= FIELD_MODULUS) revert IndexRootOutOfField(index.indexRoot);
        if (index.contributors == 0 || index.contributors > v.contributors) revert InvalidContributorCount(index.contributors, v.contributors);
        if (index.leavesHash == bytes32(0)) revert UnpublishedLeaves();
    }

    function _publish(uint256 adapterId, uint32 version_, IndexInput calldata index) private {
        emit IndexPublished(adapterId, version_, index.indexRoot, index.contributors, index.leavesHash, index.datanetId, index.datanetRoot);
    }
}
