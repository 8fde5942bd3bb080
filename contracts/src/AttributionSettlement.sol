// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {PoseidonT3} from "poseidon-solidity/PoseidonT3.sol";
import {AdapterRegistry} from "./AdapterRegistry.sol";
import {ISettlement} from "./interfaces/ISettlement.sol";

/// @title AttributionSettlement
/// @notice Registry, verifier lookup and batch settlement in one contract, so that
///         `settleBatch` reads its configuration without cross-contract calls.
contract AttributionSettlement is ISettlement, AdapterRegistry, ReentrancyGuard {
    using SafeERC20 for IERC20;

    uint256 private constant AMOUNT_MASK = (1 << 80) - 1;
    uint256 private constant RECEIPT_MASK = (1 << 64) - 1;
    /// @dev a ledger amount is below 2^96 (the circuit range-checks every cumulative amount)
    uint256 private constant LEDGER_LIMIT = 1 << 96;

    IERC20 public immutable open;
    /// @notice receives the protocol / stakers' share of every fee
    address public immutable treasury;

    mapping(address => uint256) private _escrow;
    mapping(address => uint256) private _balances;
    /// @dev adapterId → version → ledger leaf → cumulative amount claimed
    mapping(uint256 => mapping(uint32 => mapping(uint256 => uint256))) private _claimed;
    uint256 internal _owed;

    /// @param open_ the OPEN token fees are paid in
    /// @param treasury_ receives the protocol share of every fee
    /// @param admin may add verifiers
    constructor(IERC20 open_, address treasury_, address admin) Ownable(admin) {
        if (address(open_) == address(0) || treasury_ == address(0)) revert ZeroAddress();
        open = open_;
        treasury = treasury_;
    }

    /// @inheritdoc ISettlement
    function deposit(uint256 amount) external nonReentrant {
        if (amount == 0) revert InvalidAmount(amount, 0);
        open.safeTransferFrom(msg.sender, address(this), amount);
        _escrow[msg.sender] += amount;
        emit Deposited(msg.sender, amount);
    }

    /// @inheritdoc ISettlement
    function withdrawEscrow(uint256 amount) external nonReentrant {
        uint256 available = _escrow[msg.sender];
        if (amount == 0 || amount > available) revert InvalidAmount(amount, available);
        _escrow[msg.sender] = available - amount;
        emit EscrowWithdrawn(msg.sender, amount);
        open.safeTransfer(msg.sender, amount);
    }

    /// @inheritdoc ISettlement
    function settleBatch(uint256 adapterId, uint32 version_, uint256[8] calldata proof, uint256[6] calldata signals) external {
        // checks (the proof last), then effects, then the event; no external call but the verifier's staticcall
        Adapter storage a = _adapters[adapterId];
        address host = _checkAdapterHost(adapterId);
        Version storage v = _versionOf(adapterId, a, version_);
        (uint64 first, uint256 count, uint256 charge) = _checkBatch(adapterId, version_, a, v, signals);
        {
            uint256 escrow = _escrow[host];
            if (escrow < charge) revert InsufficientEscrow(host, escrow, charge);
            if (!_verifyProof(_variants[a.variantId].verifier, proof, signals)) revert InvalidProof(adapterId, version_, first);
            _escrow[host] = escrow - charge;
        }
        a.nextReceipt = SafeCast.toUint64(first + count); // below 2^64 for any valid proof (count ≤ M)
        v.ledgerRoot = signals[5];
        {
            uint256 protocolShare = charge * v.protocolBps / BPS;
            _balances[treasury] += protocolShare;
            // the owner share, the bps rounding and the pools' dust: paid ≤ count·pool, so this cannot underflow
            _balances[host] += charge - protocolShare - signals[2];
        }
        _owed += signals[2];
        _emitBatchSettled(adapterId, version_, host, first, count, charge / count, signals);
    }

    function _emitBatchSettled(uint256 adapterId, uint32 version_, address host, uint64 first, uint256 count, uint256 fee, uint256[6] calldata signals)
        private
    {
        // casting to 'uint32' is safe because count = header >> 224 < 2^30 (the header is a field element)
        // forge-lint: disable-next-line(unsafe-typecast)
        emit BatchSettled(adapterId, version_, host, first, uint32(count), signals[3], signals[4], signals[5], fee, signals[2]);
    }

    /// @dev Every check of a batch but the caller's, the escrow and the proof; returns the header's first receipt
    ///      number and count, and what the batch charges (count · fee).
    function _checkBatch(uint256 adapterId, uint32 version_, Adapter storage a, Version storage v, uint256[6] calldata signals)
        private
        view
        returns (uint64 first, uint256 count, uint256 charge)
    {
        if (signals[0] != v.binding) revert WrongBinding(adapterId, version_, signals[0], v.binding);
        uint256 pool;
        (first, count, charge, pool) = _checkTerms(adapterId, version_, v, signals[1]);
        _checkOrder(adapterId, version_, a, v, first, count);
        if (signals[4] != v.ledgerRoot) revert WrongOldRoot(adapterId, version_, signals[4], v.ledgerRoot);
        if (signals[2] > count * pool) revert PaidExceedsPools(signals[2], count * pool);
    }

    /// @dev The header's fee and pool are the version's, and it counts at least one answer.
    function _checkTerms(uint256 adapterId, uint32 version_, Version storage v, uint256 header)
        private
        view
        returns (uint64 first, uint256 count, uint256 charge, uint256 pool)
    {
        uint256 fee = header & AMOUNT_MASK;
        pool = (header >> 80) & AMOUNT_MASK;
        // casting to 'uint64' is safe because the value is masked to 64 bits
        // forge-lint: disable-next-line(unsafe-typecast)
        first = uint64((header >> 160) & RECEIPT_MASK);
        count = header >> 224; // < 2^30: the header is a field element
        uint256 price = v.price;
        if (fee != price) revert WrongFee(adapterId, version_, fee, price);
        uint256 expectedPool = price * v.poolBps / BPS;
        if (pool != expectedPool) revert WrongPool(adapterId, version_, pool, expectedPool);
        if (count == 0) revert EmptyBatch(adapterId);
        charge = count * fee;
    }

    /// @dev The batch starts at the adapter's next receipt number, inside the version's range of numbers.
    function _checkOrder(uint256 adapterId, uint32 version_, Adapter storage a, Version storage v, uint64 first, uint256 count) private view {
        uint64 next = a.nextReceipt;
        if (first != next) revert ReceiptOutOfOrder(adapterId, first, next);
        if (first < v.firstReceipt) revert BatchBeforeVersion(adapterId, version_, first, v.firstReceipt);
        if (version_ < a.version) {
            uint64 nextFirst = _versions[adapterId][version_ + 1].firstReceipt;
            if (first + count > nextFirst) revert BatchCrossesVersion(adapterId, version_, first + count, nextFirst);
        }
    }

    /// @inheritdoc ISettlement
    function claim(uint256 adapterId, uint32 version_, uint256 leaf, address payee, uint256 cumulative, uint256[] calldata siblings)
        external
        returns (uint256 amount)
    {
        Adapter storage a = _adapters[adapterId];
        if (a.host == address(0)) revert UnknownAdapter(adapterId);
        Version storage v = _versionOf(adapterId, a, version_);
        uint256 depth = _variants[a.variantId].depth;
        if (siblings.length != depth) revert WrongPathLength(siblings.length, depth);
        if (leaf >> depth != 0) revert LeafOutOfRange(adapterId, version_, leaf);
        if (payee == address(0)) revert ZeroPayeeClaim(adapterId, version_, leaf);
        if (cumulative >= LEDGER_LIMIT) revert CumulativeTooLarge(cumulative);
        uint256 node = PoseidonT3.hash([uint256(uint160(payee)), cumulative]);
        for (uint256 d; d < depth; ++d) {
            node = (leaf >> d) & 1 == 0 ? PoseidonT3.hash([node, siblings[d]]) : PoseidonT3.hash([siblings[d], node]);
        }
        if (node != v.ledgerRoot) revert NotInLedger(adapterId, version_, leaf);
        uint256 already = _claimed[adapterId][version_][leaf];
        if (cumulative <= already) revert NothingToClaim(adapterId, version_, leaf, cumulative, already);

        amount = cumulative - already;
        _claimed[adapterId][version_][leaf] = cumulative;
        _owed -= amount;
        _balances[payee] += amount;
        emit Claimed(payee, adapterId, version_, leaf, amount);
    }

    /// @inheritdoc ISettlement
    function withdraw() external nonReentrant returns (uint256 amount) {
        amount = _balances[msg.sender];
        if (amount == 0) revert InvalidAmount(0, 0);
        _balances[msg.sender] = 0;
        emit Withdrawn(msg.sender, amount);
        open.safeTransfer(msg.sender, amount);
    }

    /// @inheritdoc ISettlement
    function escrowOf(address host) external view returns (uint256) {
        return _escrow[host];
    }

    /// @inheritdoc ISettlement
    function balanceOf(address account) external view returns (uint256) {
        return _balances[account];
    }

    /// @inheritdoc ISettlement
    function claimed(uint256 adapterId, uint32 version_, uint256 leaf) external view returns (uint256) {
        return _claimed[adapterId][version_][leaf];
    }

    /// @inheritdoc ISettlement
    function owed() external view returns (uint256) {
        return _owed;
    }

    function _versionOf(uint256 adapterId, Adapter storage a, uint32 version_) private view returns (Version storage) {
        if (version_ == 0 || version_ > a.version) revert UnknownVersion(adapterId, version_);
        return _versions[adapterId][version_];
    }
}
