// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Test} from "forge-std/Test.sol";
import {OpenToken} from "../src/OpenToken.sol";
import {AttributionSettlement} from "../src/AttributionSettlement.sol";
import {IAdapterRegistry} from "../src/interfaces/IAdapterRegistry.sol";

/// @notice Shared set-up: the batch test circuit's generated verifier and REAL batch proofs
///         from the project's prover (build/contracts/fixture_<variant>.json, written by
///         `npm run contracts:generate` for a settlement at a fixed address on chain 31337).
///         Adapters 1 and 2 are registered on the fixture's first index, so their bindings
///         are the ones the proofs carry.
///
///         Fixture batches: A (adapter 1, v1, receipts 0..2, fresh ledger), B (adapter 1, v1,
///         3..6, continuing A), full (adapter 1, v1, 3..3+M−1, continuing A; B when M = 4),
///         other (adapter 2, v1, 0..1) and v2 (adapter 1, v2 = the second index from receipt 7,
///         7..8); `other` and `v2` only in the test variant's fixture.
abstract contract Base is Test {
    struct Batch {
        uint256 adapterId;
        uint32 version;
        uint64 first;
        uint256 count;
        uint256[8] proof;
        uint256[6] signals;
        uint256[] payouts;
        uint256 paid;
    }

    /// A leaf of the payout ledger after a batch, with its Merkle path.
    struct LedgerLeaf {
        address payee;
        uint256 cumulative;
        uint256[] siblings;
    }

    uint256 internal constant FIELD = 21888242871839275222246405745257275088548364400416034343698204186575808495617;
    /// the test variant unless ZKPOA_VARIANT names another built one (npm run bench:gas)
    string internal VARIANT = vm.envOr("ZKPOA_VARIANT", string("AttributionBatch_4x8x4"));
    uint16 internal constant VARIANT_ID = 1;

    string internal fixture;
    OpenToken internal open;
    AttributionSettlement internal settlement;
    address internal verifier;
    address internal admin = makeAddr("admin");
    address internal treasury = makeAddr("treasury");
    address internal host = makeAddr("host");
    uint16 internal contributors;
    uint16 internal features;
    uint16 internal answers;
    uint256 internal depth;
    IAdapterRegistry.Terms internal terms;
    uint256 internal price;
    uint256 internal pool;

    function setUp() public virtual {
        fixture = vm.readFile(string.concat("build/contracts/fixture_", VARIANT, ".json"));
        contributors = uint16(vm.parseJsonUint(fixture, ".contributors"));
        features = uint16(vm.parseJsonUint(fixture, ".features"));
        answers = uint16(vm.parseJsonUint(fixture, ".answers"));
        depth = vm.parseJsonUint(fixture, ".depth");
        price = vm.parseJsonUint(fixture, ".price");
        terms = IAdapterRegistry.Terms(
            uint128(price),
            uint16(vm.parseJsonUint(fixture, ".ownerBps")),
            uint16(vm.parseJsonUint(fixture, ".protocolBps")),
            uint16(vm.parseJsonUint(fixture, ".poolBps"))
        );
        pool = price * terms.poolBps / 10_000;
        assertEq(block.chainid, vm.parseJsonUint(fixture, ".chainId"), "fixture chain id");

        verifier = deployCode(string.concat("Groth16Verifier_", VARIANT, ".sol:Groth16Verifier_", VARIANT));
        open = new OpenToken(address(this));
        address at = vm.parseJsonAddress(fixture, ".settlement");
        deployCodeTo("AttributionSettlement.sol:AttributionSettlement", abi.encode(open, treasury, admin), at);
        settlement = AttributionSettlement(at);
        vm.prank(admin);
        settlement.addVerifier(VARIANT_ID, verifier, contributors, features, answers);

        assertEq(_register(host, _index("index1")), 1, "fixture proofs are bound to adapter 1");
        assertEq(_register(host, _index("index1")), 2, "fixture's other batch is bound to adapter 2");
        _fund(host, 1000 * price);
    }

    // ---- fixture ------------------------------------------------------------

    /// the fixture's index `name` as registered: its root, and its leaves' content hash computed here
    ///      from the published payees and chunks (the test "leavesHash" checks the service computes the same)
    function _index(string memory name) internal view returns (IAdapterRegistry.IndexInput memory) {
        string memory p = string.concat(".", name);
        address[] memory payees = _payees(name);
        uint256[] memory chunks = vm.parseJsonUintArray(fixture, string.concat(p, ".featureChunks"));
        return IAdapterRegistry.IndexInput(
            vm.parseJsonUint(fixture, string.concat(p, ".root")),
            uint16(payees.length),
            keccak256(abi.encode(payees, chunks)),
            bytes32("datanet"),
            bytes32(bytes(name))
        );
    }

    function _payees(string memory name) internal view returns (address[] memory) {
        return vm.parseJsonAddressArray(fixture, string.concat(".", name, ".payees"));
    }

    function _batch(string memory name) internal view returns (Batch memory b) {
        string memory p = string.concat(".batches.", name);
        b.adapterId = vm.parseJsonUint(fixture, string.concat(p, ".adapterId"));
        b.version = uint32(vm.parseJsonUint(fixture, string.concat(p, ".version")));
        b.first = uint64(vm.parseJsonUint(fixture, string.concat(p, ".first")));
        b.count = vm.parseJsonUint(fixture, string.concat(p, ".count"));
        uint256[] memory proof = vm.parseJsonUintArray(fixture, string.concat(p, ".proof"));
        uint256[] memory signals = vm.parseJsonUintArray(fixture, string.concat(p, ".signals"));
        for (uint256 i; i < 8; ++i) b.proof[i] = proof[i];
        for (uint256 i; i < 6; ++i) b.signals[i] = signals[i];
        b.payouts = vm.parseJsonUintArray(fixture, string.concat(p, ".payouts"));
        b.paid = vm.parseJsonUint(fixture, string.concat(p, ".paid"));
    }

    /// leaf `c` of the ledger after batch `name`
    function _leaf(string memory name, uint256 c) internal view returns (LedgerLeaf memory l) {
        string memory p = string.concat(".batches.", name, ".ledger");
        l.payee = vm.parseJsonAddressArray(fixture, string.concat(p, ".payees"))[c];
        l.cumulative = vm.parseJsonUintArray(fixture, string.concat(p, ".cumulative"))[c];
        l.siblings = vm.parseJsonUintArray(fixture, string.concat(p, ".siblings[", vm.toString(c), "]"));
    }

    function _hasBatch(string memory name) internal view returns (bool) {
        return vm.keyExistsJson(fixture, string.concat(".batches.", name));
    }

    // ---- actions ------------------------------------------------------------

    function _register(address owner, IAdapterRegistry.IndexInput memory index) internal returns (uint256) {
        vm.prank(owner);
        return settlement.registerAdapter(owner, VARIANT_ID, terms, index);
    }

    /// adapter 1's version 2: the second index from receipt `fromReceipt`
    function _addVersion2(uint64 fromReceipt) internal returns (uint32) {
        vm.prank(host);
        return settlement.updateIndex(1, _index("index2"), fromReceipt);
    }

    function _fund(address who, uint256 amount) internal {
        open.transfer(who, amount);
        vm.startPrank(who);
        open.approve(address(settlement), amount);
        settlement.deposit(amount);
        vm.stopPrank();
    }

    function _settle(Batch memory b) internal {
        _settleAs(host, b);
    }

    function _settleAs(address who, Batch memory b) internal {
        vm.prank(who);
        settlement.settleBatch(b.adapterId, b.version, b.proof, b.signals);
    }

    function _settle(string memory name) internal returns (Batch memory b) {
        b = _batch(name);
        _settle(b);
    }

    function _claim(uint256 adapterId, uint32 version, uint256 leaf, LedgerLeaf memory l) internal returns (uint256) {
        return settlement.claim(adapterId, version, leaf, l.payee, l.cumulative, l.siblings);
    }

    /// a leaf of the ledger after `name` with a positive amount (the fixture's index always has one)
    function _paidLeaf(string memory name) internal view returns (uint256 c) {
        uint256[] memory cum = vm.parseJsonUintArray(fixture, string.concat(".batches.", name, ".ledger.cumulative"));
        for (c = 0; c < cum.length; ++c) if (cum[c] > 0) return c;
        revert("no paid leaf");
    }

    function _protocolShare(uint256 count) internal view returns (uint256) {
        return count * price * terms.protocolBps / 10_000;
    }
}
