// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {AdapterRegistry} from "./AdapterRegistry.sol";
import {ISettlement} from "./interfaces/ISettlement.sol";
import {IVerifierLookup} from "./interfaces/IVerifierLookup.sol";

/// @title AttributionSettlement
/// @notice Registry, verifier lookup and settlement in one contract, so that `settle`
///         reads its configuration without cross-contract calls.
contract AttributionSettlement is ISettlement, AdapterRegistry, ReentrancyGuard {
    using SafeERC20 for IERC20;

    uint256 private constant LANE_BITS = 80;
    uint256 private constant LANE_MASK = (1 << LANE_BITS) - 1;
    uint256 private constant LANES = 3;

    IERC20 public immutable open;
    /// @notice receives the protocol / stakers' share of every fee
    address public immutable treasury;

    mapping(uint256 => bool) private _settled;
    mapping(address => uint256) private _escrow;
    mapping(address => uint256) private _balances;
    /// @dev adapterId → version → word → three 80-bit credit lanes (leaf c in lane c + 1)
    mapping(uint256 => mapping(uint32 => mapping(uint256 => uint256))) private _credits;

    constructor(IERC20 open_, address treasury_, address admin, uint256[] memory arities, address[] memory hashers)
        AdapterRegistry(arities, hashers)
        Ownable(admin)
    {
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
    function settle(uint256 adapterId, uint256[8] calldata proof, uint256[] calldata publicSignals) external {
        // checks (the proof last), then effects, then the event; no external call but the verifier's staticcall
        (address host, uint256 fee, uint256 pool, uint32 version) = _checkSettlement(adapterId, proof, publicSignals);
        uint256 receipt = publicSignals[0];
        _settled[receipt] = true;
        _escrow[host] -= fee;
        uint256 paid = _credit(adapterId, version, publicSignals);
        if (paid > pool) revert PayoutsExceedPool(paid, pool);
        uint256 dust = pool - paid;
        uint256 protocolShare = fee * _adapters[adapterId].protocolBps / BPS;
        _balances[treasury] += protocolShare;
        // the owner share absorbs the rounding of the bps split and the pool's dust
        _balances[host] += fee - pool - protocolShare + dust;
        emit Settled(receipt, adapterId, version, host, fee, pool, dust);
    }

    function _checkSettlement(uint256 adapterId, uint256[8] calldata proof, uint256[] calldata publicSignals)
        private
        view
        returns (address host, uint256 fee, uint256 pool, uint32 version)
    {
        // Only the host, or an operator it approved, spends its escrow: a valid proof alone does not
        // show that the host served this answer (t is the prover's private input and the proving key is public).
        host = _checkAdapterHost(adapterId);
        Adapter storage a = _adapters[adapterId];
        IVerifierLookup.Variant memory v = _variant(a.variantId);
        if (publicSignals.length != v.publicSignals) revert WrongSignalCount(publicSignals.length, v.publicSignals);
        uint256 receipt = publicSignals[0];
        if (_settled[receipt]) revert ReceiptAlreadySettled(receipt);
        // the binding names the index version the proof used: the current one, or an earlier one
        // whose receipts still pay that version's payees
        version = _versionOfBinding[adapterId][publicSignals[1]];
        if (version == 0) revert WrongBinding(adapterId, publicSignals[1], a.binding);
        fee = a.price;
        pool = fee * a.poolBps / BPS;
        if (publicSignals[2] & LANE_MASK != pool) revert WrongPool(adapterId, publicSignals[2] & LANE_MASK, pool);
        uint256 escrow = _escrow[host];
        if (escrow < fee) revert InsufficientEscrow(host, escrow, fee);
        if (!_verifyProof(v, proof, publicSignals)) revert InvalidProof(receipt);
    }

    /// @inheritdoc ISettlement
    function claim(uint256 adapterId, uint32 version, uint256[] calldata leaves) external returns (uint256 amount) {
        address[] storage payees = _payees[adapterId][version];
        mapping(uint256 => uint256) storage credits = _credits[adapterId][version];
        for (uint256 i; i < leaves.length; ++i) {
            uint256 leaf = leaves[i];
            if (leaf >= payees.length) revert LeafOutOfRange(adapterId, version, leaf);
            if (payees[leaf] != msg.sender) revert NotPayee(adapterId, version, leaf, msg.sender);
            (uint256 w, uint256 shift) = _lane(leaf);
            uint256 word = credits[w];
            uint256 lane = (word >> shift) & LANE_MASK;
            if (lane != 0) {
                credits[w] = word & ~(LANE_MASK << shift);
                amount += lane;
            }
        }
        _balances[msg.sender] += amount;
        emit Claimed(msg.sender, adapterId, version, amount);
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
    function credit(uint256 adapterId, uint32 version, uint256 leaf) external view returns (uint256) {
        (uint256 w, uint256 shift) = _lane(leaf);
        return (_credits[adapterId][version][w] >> shift) & LANE_MASK;
    }

    /// @inheritdoc ISettlement
    function settled(uint256 receipt) external view returns (bool) {
        return _settled[receipt];
    }

    /// @inheritdoc ISettlement
    function escrowOf(address host) external view returns (uint256) {
        return _escrow[host];
    }

    /// @inheritdoc ISettlement
    function balanceOf(address account) external view returns (uint256) {
        return _balances[account];
    }

    function _lane(uint256 leaf) private pure returns (uint256 word, uint256 shift) {
        return ((leaf + 1) / LANES, ((leaf + 1) % LANES) * LANE_BITS);
    }

    function _spill(uint256 adapterId, uint32 version, uint256 leaf, uint256 amount) private {
        address to = _payees[adapterId][version][leaf];
        _balances[to] += amount;
        emit CreditSpilled(to, adapterId, version, amount);
    }

    /// @dev Adds the proven payout words to the version's credit words, lane by lane.
    ///      A lane that would pass 80 bits is moved to its payee's balance instead.
    function _credit(uint256 adapterId, uint32 version, uint256[] calldata publicSignals) private returns (uint256 paid) {
        mapping(uint256 => uint256) storage credits = _credits[adapterId][version];
        for (uint256 w; w + 2 < publicSignals.length; ++w) {
            uint256 add = publicSignals[w + 2];
            if (w == 0) add &= ~LANE_MASK; // lane 0 of word 0 is the pool
            if (add == 0) continue;
            uint256 word = credits[w];
            uint256 next;
            for (uint256 l; l < LANES; ++l) {
                uint256 shift = l * LANE_BITS;
                uint256 inc = (add >> shift) & LANE_MASK;
                uint256 sum = ((word >> shift) & LANE_MASK) + inc;
                paid += inc;
                if (sum > LANE_MASK) {
                    _spill(adapterId, version, w * LANES + l - 1, sum);
                } else {
                    next |= sum << shift;
                }
            }
            credits[w] = next;
        }
    }
}
