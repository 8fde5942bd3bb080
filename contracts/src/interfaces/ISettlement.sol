// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title Attribution settlement
/// @notice Hosts escrow OPEN. `settleBatch` verifies one Groth16 proof for a batch of
///         consecutive answers of one adapter version, takes their fees from the host's
///         escrow, pays the protocol and owner shares, holds what the batch pays the
///         contributors, and stores the version's new payout ledger root. Contributors
///         claim from the ledger with a Merkle proof whenever they like (their cumulative
///         amount minus what they claimed), then withdraw (pull payments).
///
///         Public signals of a batch proof (circuits/attribution_batch.circom), in order:
///         - `binding`: Poseidon(indexRoot, adapterId, chainid, settlement) of the version;
///         - `header = fee + pool·2^80 + first·2^160 + count·2^224` (attribution/batch.ts
///           packHeader): the fee and pool of each answer (80 bits each), the first receipt
///           number (64 bits) and the number of answers (the rest);
///         - `paid`: what the batch credits to contributors in total (at most count·pool);
///         - `receiptsRoot`: Poseidon Merkle root over the batch's receipt commitments;
///         - `oldRoot`, `newRoot`: the version's payout ledger before and after the batch.
///         The ledger is a Poseidon Merkle tree over C leaves `Poseidon(payee_c, cumulative_c)`
///         (attribution/commitments.ts ledgerLeaf, ledgerRoot), C the variant's capacity.
///
///         Money: a batch of `count` answers takes `count·fee` from the host's escrow;
///         `count·fee·protocolBps/10,000` (rounded down) goes to the treasury's balance, `paid` is
///         held for claims (`owed`), and the rest (the owner share, the rounding and the pools' dust)
///         to the host's balance. At every moment
///         `owed + Σ balances + Σ escrows + everything withdrawn = everything deposited`.
interface ISettlement {
    /// @notice Emitted for each settled batch, with what an auditor matches against its receipts.
    /// @param adapterId the adapter
    /// @param version the version whose terms and ledger the batch used
    /// @param host the adapter's host, whose escrow paid
    /// @param first the first receipt number of the batch
    /// @param count the number of answers: receipts first … first + count − 1
    /// @param receiptsRoot Poseidon Merkle root over the batch's receipt commitments (padded with 0 to M)
    /// @param oldRoot the version's ledger root before the batch
    /// @param newRoot the version's ledger root after it
    /// @param fee the fee of each answer (the version's price)
    /// @param paid what the batch credits to contributors in the ledger
    event BatchSettled(
        uint256 indexed adapterId,
        uint32 indexed version,
        address host,
        uint64 indexed first,
        uint32 count,
        uint256 receiptsRoot,
        uint256 oldRoot,
        uint256 newRoot,
        uint256 fee,
        uint256 paid
    );
    /// @notice Emitted when a host escrows OPEN.
    event Deposited(address indexed host, uint256 amount);
    /// @notice Emitted when a host takes escrow back.
    event EscrowWithdrawn(address indexed host, uint256 amount);
    /// @notice Emitted when a ledger leaf's unclaimed amount moves to its payee's balance.
    /// @param payee the leaf's payee, credited
    /// @param adapterId the adapter
    /// @param version the version whose ledger was claimed from
    /// @param leaf the leaf index in the ledger
    /// @param amount the leaf's cumulative amount minus what was claimed before
    event Claimed(address indexed payee, uint256 indexed adapterId, uint32 indexed version, uint256 leaf, uint256 amount);
    /// @notice Emitted when an account withdraws its balance.
    event Withdrawn(address indexed account, uint256 amount);

    /// @notice Thrown when a version number is 0 or above the adapter's latest.
    error UnknownVersion(uint256 adapterId, uint32 version);
    /// @notice Thrown when the proof's binding is not the version's (another index, adapter, chain or contract).
    error WrongBinding(uint256 adapterId, uint32 version, uint256 provided, uint256 expected);
    /// @notice Thrown when the header's fee is not the version's price.
    error WrongFee(uint256 adapterId, uint32 version, uint256 provided, uint256 expected);
    /// @notice Thrown when the header's pool is not floor(price · poolBps / 10,000) of the version.
    error WrongPool(uint256 adapterId, uint32 version, uint256 provided, uint256 expected);
    /// @notice Thrown when the header counts no answer.
    error EmptyBatch(uint256 adapterId);
    /// @notice Thrown when the batch does not start at the adapter's next receipt number (it skips or repeats answers).
    error ReceiptOutOfOrder(uint256 adapterId, uint64 first, uint64 expected);
    /// @notice Thrown when the batch starts before the version's first receipt number.
    error BatchBeforeVersion(uint256 adapterId, uint32 version, uint64 first, uint64 firstReceipt);
    /// @notice Thrown when the batch runs into the next version's receipt numbers (`end` = first + count).
    error BatchCrossesVersion(uint256 adapterId, uint32 version, uint256 end, uint64 nextFirstReceipt);
    /// @notice Thrown when the proof's old ledger root is not the version's current one.
    error WrongOldRoot(uint256 adapterId, uint32 version, uint256 provided, uint256 expected);
    /// @notice Thrown when `paid` exceeds the batch's pools, count · pool (impossible for a sound circuit; checked anyway).
    error PaidExceedsPools(uint256 paid, uint256 pools);
    /// @notice Thrown when the host's escrow cannot cover count · fee.
    error InsufficientEscrow(address host, uint256 available, uint256 required);
    /// @notice Thrown when the proof does not verify against the variant's key (tampered signals included).
    error InvalidProof(uint256 adapterId, uint32 version, uint64 first);
    /// @notice Thrown when a Merkle path does not have exactly log2(C) siblings.
    error WrongPathLength(uint256 provided, uint256 expected);
    /// @notice Thrown when a leaf index is not below C.
    error LeafOutOfRange(uint256 adapterId, uint32 version, uint256 leaf);
    /// @notice Thrown when a claim names the zero address as payee.
    error ZeroPayeeClaim(uint256 adapterId, uint32 version, uint256 leaf);
    /// @notice Thrown when a claimed cumulative amount is not below 2^96 (the ledger's amount width;
    ///         a larger value could alias a leaf modulo the field).
    error CumulativeTooLarge(uint256 cumulative);
    /// @notice Thrown when (payee, cumulative) at `leaf` with the given siblings does not hash to the version's ledger root.
    error NotInLedger(uint256 adapterId, uint32 version, uint256 leaf);
    /// @notice Thrown when the leaf's cumulative amount is not above what was claimed from it already.
    error NothingToClaim(uint256 adapterId, uint32 version, uint256 leaf, uint256 cumulative, uint256 claimed);
    /// @notice Thrown when an amount is zero or exceeds what the account has.
    error InvalidAmount(uint256 amount, uint256 available);

    /// @notice Escrows `amount` OPEN for the caller's adapters (needs an allowance). Only the caller's adapters
    ///         spend it, settled by the caller or an operator the caller approved.
    /// @custom:reverts InvalidAmount if `amount` is zero
    function deposit(uint256 amount) external;

    /// @notice Returns `amount` of the caller's escrow to it.
    /// @custom:reverts InvalidAmount if `amount` is zero or above the caller's escrow
    function withdrawEscrow(uint256 amount) external;

    /// @notice Settles a batch of answers of one adapter version. Only the adapter's host, or an operator it
    ///         approved, may submit: the fees come from the host's escrow, and a valid proof does not by itself
    ///         show that the host served the answers (anyone holding the public proving key can prove a split
    ///         for features of its choosing).
    ///
    ///         Checks, in order: the caller; the version exists; binding is the version's; the header's fee is
    ///         the version's price and its pool floor(price · poolBps / 10,000); count ≥ 1; first is the
    ///         adapter's next receipt number (every answer settles once, in order, across versions);
    ///         first ≥ the version's firstReceipt and, if a later version exists, first + count ≤ its
    ///         firstReceipt; oldRoot is the version's ledger root; paid ≤ count · pool; the host's escrow
    ///         covers count · fee; then the proof, with the adapter variant's verifier.
    ///
    ///         Effects: nextReceipt = first + count; the version's ledger root = newRoot; the host's escrow
    ///         −= count · fee; the treasury's balance += count · fee · protocolBps / 10,000; owed += paid;
    ///         the host's balance += the rest. Emits BatchSettled.
    /// @custom:reverts UnknownAdapter, NotAdapterHost, UnknownVersion, WrongBinding, WrongFee, WrongPool, EmptyBatch,
    ///                 ReceiptOutOfOrder, BatchBeforeVersion, BatchCrossesVersion, WrongOldRoot, PaidExceedsPools,
    ///                 InsufficientEscrow, InvalidProof (in that order of checks)
    /// @param adapterId the adapter the proof is bound to
    /// @param version_ the version whose binding, terms and ledger the proof used
    /// @param proof Groth16 proof as [a0, a1, b00, b01, b10, b11, c0, c1] (the verifier's calldata order)
    /// @param signals [binding, header, paid, receiptsRoot, oldRoot, newRoot]
    function settleBatch(uint256 adapterId, uint32 version_, uint256[8] calldata proof, uint256[6] calldata signals) external;

    /// @notice Moves a ledger leaf's unclaimed amount to its payee's balance. Anyone may submit it: it pays the
    ///         leaf's payee only. The leaf `Poseidon(payee, cumulative)` at index `leaf` must hash with `siblings`
    ///         (from the leaf up; bit d of `leaf` set means the node at level d is a right child, as
    ///         attribution/commitments.ts merkleProof) to the version's current ledger root, with exactly
    ///         log2(C) siblings. Pays cumulative − claimed(adapterId, version, leaf) and records cumulative
    ///         as claimed. Emits Claimed.
    /// @custom:reverts UnknownAdapter, UnknownVersion, WrongPathLength, LeafOutOfRange, ZeroPayeeClaim,
    ///                 CumulativeTooLarge, NotInLedger, NothingToClaim
    /// @return amount what the payee's balance received
    function claim(uint256 adapterId, uint32 version_, uint256 leaf, address payee, uint256 cumulative, uint256[] calldata siblings)
        external
        returns (uint256 amount);

    /// @notice Transfers the caller's whole balance (claims, owner or protocol shares) to it.
    /// @custom:reverts InvalidAmount if the balance is zero
    function withdraw() external returns (uint256 amount);

    /// @notice A host's escrow.
    function escrowOf(address host) external view returns (uint256);

    /// @notice What an account may withdraw.
    function balanceOf(address account) external view returns (uint256);

    /// @notice The cumulative amount already claimed from a ledger leaf of an adapter version.
    function claimed(uint256 adapterId, uint32 version_, uint256 leaf) external view returns (uint256);

    /// @notice What settled batches credited to contributors and nobody has claimed yet.
    function owed() external view returns (uint256);
}
