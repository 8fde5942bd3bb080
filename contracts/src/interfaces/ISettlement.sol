// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title Attribution settlement
/// @notice Hosts escrow OPEN. `settle` verifies an attribution proof for one answer,
///         burns its receipt commitment, takes the adapter's price F from the host's
///         escrow, pays the owner and protocol shares and credits each contributor the
///         proven payout. Contributors claim their credits, then withdraw (pull payments).
///
///         Public signals (circuits/attribution.circom): [receipt, binding, amounts...],
///         amounts = [pool, p_0, ..., p_{C-1}] packed 80 bits each, 3 per word, low first.
///         Contributor credits are kept in the same packing: word w of an index version
///         holds the credits of leaves 3w-1, 3w, 3w+1 (lane 0 of word 0 is unused).
interface ISettlement {
    /// @notice Emitted for each settled answer, with what an auditor matches against a receipt.
    /// @param receipt the receipt commitment (nullifier)
    /// @param adapterId the adapter answered with
    /// @param version the index version credited
    /// @param host the adapter's host, whose escrow paid
    /// @param fee F taken from escrow
    /// @param pool P, the contributors' pool
    /// @param dust P minus the sum of payouts, paid to the host with the owner share
    event Settled(uint256 indexed receipt, uint256 indexed adapterId, uint32 version, address indexed host, uint256 fee, uint256 pool, uint256 dust);
    /// @notice Emitted when a host escrows OPEN.
    event Deposited(address indexed host, uint256 amount);
    /// @notice Emitted when a host takes escrow back.
    event EscrowWithdrawn(address indexed host, uint256 amount);
    /// @notice Emitted when a contributor moves credits of an index version to their balance.
    event Claimed(address indexed payee, uint256 indexed adapterId, uint32 indexed version, uint256 amount);
    /// @notice Emitted when a credit lane would overflow 80 bits and is moved to the payee's balance.
    event CreditSpilled(address indexed payee, uint256 indexed adapterId, uint32 indexed version, uint256 amount);
    /// @notice Emitted when an account withdraws its balance.
    event Withdrawn(address indexed account, uint256 amount);

    /// @notice Thrown when a receipt was already settled.
    error ReceiptAlreadySettled(uint256 receipt);
    /// @notice Thrown when the proof's binding is none of the adapter's index versions (wrong root,
    ///         adapter, chain or contract); `expected` is the current version's.
    error WrongBinding(uint256 adapterId, uint256 provided, uint256 expected);
    /// @notice Thrown when the proof's pool differs from price × poolBps / 10,000.
    error WrongPool(uint256 adapterId, uint256 provided, uint256 expected);
    /// @notice Thrown when the number of public signals does not fit the adapter's variant.
    error WrongSignalCount(uint256 provided, uint256 expected);
    /// @notice Thrown when the proof does not verify.
    error InvalidProof(uint256 receipt);
    /// @notice Thrown when the payouts exceed the pool (impossible for a sound circuit; checked anyway).
    error PayoutsExceedPool(uint256 payouts, uint256 pool);
    /// @notice Thrown when the host's escrow cannot cover the fee.
    error InsufficientEscrow(address host, uint256 available, uint256 required);
    /// @notice Thrown when a leaf's credits are claimed by someone other than its payee.
    error NotPayee(uint256 adapterId, uint32 version, uint256 leaf, address caller);
    /// @notice Thrown when a leaf index is outside the index version.
    error LeafOutOfRange(uint256 adapterId, uint32 version, uint256 leaf);
    /// @notice Thrown when an amount is zero or exceeds what the account has.
    error InvalidAmount(uint256 amount, uint256 available);

    /// @notice Escrows `amount` OPEN for the caller's adapters (needs an allowance). Only the caller's adapters
    ///         spend it, settled by the caller or an operator the caller approved.
    function deposit(uint256 amount) external;

    /// @notice Returns `amount` of the caller's escrow.
    function withdrawEscrow(uint256 amount) external;

    /// @notice Settles one answer. Only the adapter's host, or an operator it approved, may submit: the fee
    ///         comes from the host's escrow, and a valid proof does not by itself show that the host served the answer (any holder of the
    ///         public proving key can prove a split for features of its choosing). A receipt proven
    ///         against an earlier index version still settles, crediting that version's payees.
    /// @param adapterId the adapter the proof is bound to
    /// @param proof Groth16 proof as [a0, a1, b00, b01, b10, b11, c0, c1] (verifier calldata order)
    /// @param publicSignals [receipt, binding, amount words...]
    function settle(uint256 adapterId, uint256[8] calldata proof, uint256[] calldata publicSignals) external;

    /// @notice Moves the caller's credits for the given leaves of an index version to their balance.
    function claim(uint256 adapterId, uint32 version, uint256[] calldata leaves) external returns (uint256 amount);

    /// @notice Transfers the caller's whole balance (claims, owner and protocol shares) to them.
    function withdraw() external returns (uint256 amount);

    /// @notice Unclaimed credit of a leaf of an index version.
    function credit(uint256 adapterId, uint32 version, uint256 leaf) external view returns (uint256);

    /// @notice Whether a receipt commitment has been settled.
    function settled(uint256 receipt) external view returns (bool);

    function escrowOf(address host) external view returns (uint256);

    function balanceOf(address account) external view returns (uint256);
}
