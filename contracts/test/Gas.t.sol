// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {console} from "forge-std/console.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {PoseidonT3} from "poseidon-solidity/PoseidonT3.sol";
import {PoseidonT5} from "poseidon-solidity/PoseidonT5.sol";
import {Base} from "./Base.t.sol";
import {AttributionSettlement} from "../src/AttributionSettlement.sol";
import {IAdapterRegistry} from "../src/interfaces/IAdapterRegistry.sol";

/// @notice Sets a version's ledger root and the owed total directly, so that claim gas can be
///         measured at any ledger depth without a proof of a circuit that large.
contract SettlementHarness is AttributionSettlement {
    constructor(IERC20 open_, address treasury_, address admin) AttributionSettlement(open_, treasury_, admin) {}

    function setLedgerForGas(uint256 adapterId, uint32 version_, uint256 root, uint256 owed_) external {
        _versions[adapterId][version_].ledgerRoot = root;
        _owed = owed_;
    }
}

/// @notice Gas measurement: one measured call per test, so `forge snapshot` records each
///         operation's gas (committed as .gas-snapshot, checked in CI; everything else in a test
///         runs with gas metering paused), and `<name> <n>` logs for `npm run bench:gas`.
///
///         Logged `*_gas` is the settlement's own execution gas as the first call of a
///         transaction: the state it needs is built in `setUp`, a transaction of its own (an
///         SSTORE to a slot written earlier in the same transaction costs 100, not 2,900), and
///         accounts are cooled (vm.cool). `*_tx_gas` adds what a transaction pays besides: the
///         21,000 base and the calldata. Batches are settled by an operator the host approved,
///         as the service does. (Checked against anvil: a first batch costs 387,181 gas there,
///         387,217 here.)
abstract contract GasBase is Base {
    address internal operator = makeAddr("operator");

    function setUp() public virtual override {
        super.setUp();
        vm.prank(host);
        settlement.setOperator(operator, true);
    }

    function _txGas(bytes memory data, uint256 execution) internal pure returns (uint256 gas) {
        gas = 21_000 + execution;
        for (uint256 i; i < data.length; ++i) gas += data[i] == 0 ? 4 : 16;
    }

    /// settles `b` as the only metered call; returns its execution and transaction gas
    function _measureSettle(Batch memory b) internal returns (uint256 execution, uint256 txGas) {
        vm.cool(address(settlement));
        vm.cool(verifier);
        vm.prank(operator);
        vm.resumeGasMetering();
        settlement.settleBatch(b.adapterId, b.version, b.proof, b.signals);
        vm.pauseGasMetering();
        execution = vm.lastCallGas().gasTotalUsed;
        txGas = _txGas(abi.encodeCall(settlement.settleBatch, (b.adapterId, b.version, b.proof, b.signals)), execution);
    }

    /// claims leaf `c` of the ledger after batch `name` as the only metered call
    function _measureClaim(string memory name, uint256 c) internal returns (uint256 execution, uint256 txGas) {
        LedgerLeaf memory l = _leaf(name, c);
        vm.cool(address(settlement));
        vm.cool(address(PoseidonT3));
        vm.resumeGasMetering();
        _claim(1, 1, c, l);
        vm.pauseGasMetering();
        execution = vm.lastCallGas().gasTotalUsed;
        txGas = _txGas(abi.encodeCall(settlement.claim, (1, 1, c, l.payee, l.cumulative, l.siblings)), execution);
    }
}

/// @notice From a fresh deployment with adapters 1 and 2 registered.
contract GasTest is GasBase {
    function test_gas_verifyProof() public {
        vm.pauseGasMetering();
        Batch memory a = _batch("A");
        bytes memory data = abi.encodeWithSignature("verifyProof(uint256[2],uint256[2][2],uint256[2],uint256[6])", a.proof, a.signals);
        vm.cool(verifier);
        vm.resumeGasMetering();
        (bool ok, bytes memory ret) = verifier.staticcall(data);
        vm.pauseGasMetering();
        assertTrue(ok && abi.decode(ret, (bool)));
        console.log("verify_gas", vm.lastCallGas().gasTotalUsed);
    }

    /// the first batch of a version (its ledger root from 0), and the first ever (the treasury's and host's balances and owed from 0)
    function test_gas_settleBatch_first() public {
        vm.pauseGasMetering();
        Batch memory a = _batch("A");
        (uint256 execution, uint256 txGas) = _measureSettle(a);
        console.log("settle_first_gas", execution);
        console.log("settle_first_tx_gas", txGas);
        console.log("settle_first_answers", a.count);
    }

    function test_gas_registerAdapter() public {
        vm.pauseGasMetering();
        IAdapterRegistry.IndexInput memory index = _index("index1");
        vm.cool(address(settlement));
        vm.cool(address(PoseidonT5));
        vm.prank(host);
        vm.resumeGasMetering();
        settlement.registerAdapter(host, VARIANT_ID, terms, index);
        vm.pauseGasMetering();
        uint256 execution = vm.lastCallGas().gasTotalUsed;
        console.log("register_gas", execution);
        console.log("register_tx_gas", _txGas(abi.encodeCall(settlement.registerAdapter, (host, VARIANT_ID, terms, index)), execution));
        console.log("register_payees", index.contributors);
    }

    /// registration costs the same for one contributor as for a community datanet's 1,024: nothing per leaf is sent or hashed
    function test_gas_registerAdapter_flatInContributors() public {
        vm.pauseGasMetering();
        uint16 largest = 1024;
        SettlementHarness h = new SettlementHarness(open, treasury, admin);
        vm.prank(admin);
        h.addVerifier(VARIANT_ID, verifier, largest, features, answers);
        IAdapterRegistry.IndexInput memory index = _index("index1");
        vm.prank(host);
        h.registerAdapter(host, VARIANT_ID, terms, index); // adapterCount's first write (0 → 1) costs more than any later one
        uint256[2] memory gas;
        uint16[2] memory counts = [uint16(1), largest];
        for (uint256 i; i < 2; ++i) {
            index.contributors = counts[i];
            vm.cool(address(h));
            vm.cool(address(PoseidonT5));
            vm.prank(host);
            vm.resumeGasMetering();
            h.registerAdapter(host, VARIANT_ID, terms, index);
            vm.pauseGasMetering();
            gas[i] = vm.lastCallGas().gasTotalUsed;
        }
        console.log("register_gas_largest", gas[1]);
        console.log("register_contributors_largest", largest);
        assertApproxEqAbs(gas[0], gas[1], 100);
    }

    function test_gas_updateIndex() public {
        vm.pauseGasMetering();
        IAdapterRegistry.IndexInput memory index = _index("index2");
        vm.cool(address(settlement));
        vm.cool(address(PoseidonT5));
        vm.prank(host);
        vm.resumeGasMetering();
        settlement.updateIndex(1, index, 0);
        vm.pauseGasMetering();
        console.log("update_index_gas", vm.lastCallGas().gasTotalUsed);
    }

    function test_gas_setTerms() public {
        vm.pauseGasMetering();
        vm.cool(address(settlement));
        vm.prank(host);
        vm.resumeGasMetering();
        settlement.setTerms(1, terms, 0);
        vm.pauseGasMetering();
        console.log("set_terms_gas", vm.lastCallGas().gasTotalUsed);
    }

    // ---- Poseidon(2) for a claim's path: poseidon-solidity against circomlibjs ----------

    function _depthOf(uint256 c) internal pure returns (uint256 d) {
        while (uint256(1) << d < c) ++d;
    }

    /// a leaf hash and `d` node hashes with poseidon-solidity's PoseidonT3 (a linked library)
    function pathT3(uint256 leafValue, uint256 d) external pure returns (uint256 node) {
        node = PoseidonT3.hash([uint256(0xa11ce), leafValue]);
        for (uint256 i; i < d; ++i) node = i % 2 == 0 ? PoseidonT3.hash([node, i + 1]) : PoseidonT3.hash([i + 1, node]);
    }

    /// the same with circomlibjs's generated Poseidon(2) contract (`poseidon(uint256[2])`)
    function pathCircomlibjs(address hasher, uint256 leafValue, uint256 d) external view returns (uint256 node) {
        node = _circomlibjs(hasher, 0xa11ce, leafValue);
        for (uint256 i; i < d; ++i) node = i % 2 == 0 ? _circomlibjs(hasher, node, i + 1) : _circomlibjs(hasher, i + 1, node);
    }

    function _circomlibjs(address hasher, uint256 a, uint256 b) internal view returns (uint256) {
        (bool ok, bytes memory ret) = hasher.staticcall(abi.encodeWithSignature("poseidon(uint256[2])", [a, b]));
        require(ok, "circomlibjs poseidon");
        return abi.decode(ret, (uint256));
    }

    /// both give the same path, and what each costs as its first use in a transaction
    function _comparePaths(uint256 d, string memory name) internal {
        vm.pauseGasMetering();
        address hasher;
        bytes memory code = vm.parseJsonBytes(fixture, ".circomlibjsPoseidon2");
        assembly {
            hasher := create(0, add(code, 0x20), mload(code))
        }
        vm.cool(hasher);
        vm.resumeGasMetering();
        uint256 viaContract = this.pathCircomlibjs(hasher, 77, d);
        vm.pauseGasMetering();
        uint256 circomlibjsGas = vm.lastCallGas().gasTotalUsed;
        vm.resumeGasMetering();
        uint256 viaLibrary = this.pathT3(77, d);
        vm.pauseGasMetering();
        uint256 t3Gas = vm.lastCallGas().gasTotalUsed;
        assertEq(viaLibrary, viaContract, "same permutation and constants");
        console.log(string.concat("claim_path_", name, "_depth"), d);
        console.log(string.concat("claim_path_", name, "_poseidon_solidity_gas"), t3Gas);
        console.log(string.concat("claim_path_", name, "_circomlibjs_gas"), circomlibjsGas);
    }

    /// a claim's path (leaf and log2(C) nodes) at this variant's ledger depth
    function test_gas_claimPath_poseidonSolidityAgainstCircomlibjs() public {
        _comparePaths(depth, "variant");
    }

    /// the same at the largest declared variant's ledger depth
    function test_gas_claimPath_largestVariant() public {
        vm.pauseGasMetering();
        _comparePaths(_depthOf(vm.parseJsonUint(fixture, ".largestContributors")), "largest");
    }

    /// a first claim at the largest declared variant's ledger depth (a synthetic ledger: no proof that large is needed)
    function test_gas_claim_largestVariant() public {
        vm.pauseGasMetering();
        uint16 c = uint16(vm.parseJsonUint(fixture, ".largestContributors"));
        uint256 d = _depthOf(c);
        SettlementHarness h = new SettlementHarness(open, treasury, admin);
        vm.prank(admin);
        h.addVerifier(VARIANT_ID, verifier, c, features, answers);
        address payee = makeAddr("payee");
        vm.prank(host);
        h.registerAdapter(host, VARIANT_ID, terms, IAdapterRegistry.IndexInput(0, 1, keccak256("leaves"), 0, 0));
        uint256 leaf = (uint256(1) << d) - 1; // the last leaf: a right child at every level
        uint256[] memory siblings = new uint256[](d);
        uint256 node = PoseidonT3.hash([uint256(uint160(payee)), 1 ether]);
        for (uint256 i; i < d; ++i) {
            siblings[i] = uint256(keccak256(abi.encode(i))) % FIELD;
            node = PoseidonT3.hash([siblings[i], node]);
        }
        h.setLedgerForGas(1, 1, node, 1 ether);
        vm.cool(address(h));
        vm.cool(address(PoseidonT3));
        vm.resumeGasMetering();
        h.claim(1, 1, leaf, payee, 1 ether, siblings);
        vm.pauseGasMetering();
        console.log("claim_largest_gas", vm.lastCallGas().gasTotalUsed);
        console.log("claim_largest_depth", d);
    }
}

/// @notice After batch A (adapter 1, receipts 0..2) settled in its own transaction.
contract GasTestAfterBatch is GasBase {
    function setUp() public override {
        super.setUp();
        _settle("A");
    }

    /// a short batch continuing a ledger: a settlement's fixed cost
    function test_gas_settleBatch_continuing() public {
        vm.pauseGasMetering();
        Batch memory b = _batch("B");
        (uint256 execution, uint256 txGas) = _measureSettle(b);
        console.log("settle_gas", execution);
        console.log("settle_tx_gas", txGas);
        console.log("settle_answers", b.count);
    }

    /// a full batch of M answers continuing a ledger: the steady state, per answer
    function test_gas_settleBatch_full() public {
        vm.pauseGasMetering();
        Batch memory f = _batch("full");
        (uint256 execution, uint256 txGas) = _measureSettle(f);
        console.log("settle_full_gas", execution);
        console.log("settle_full_tx_gas", txGas);
        console.log("settle_full_answers", f.count);
        console.log("per_answer_gas", (txGas + f.count - 1) / f.count);
    }

    /// a leaf's first claim (what it claimed and its payee's balance go from 0)
    function test_gas_claim() public {
        vm.pauseGasMetering();
        (uint256 execution, uint256 txGas) = _measureClaim("A", _paidLeaf("A"));
        console.log("claim_gas", execution);
        console.log("claim_tx_gas", txGas);
        console.log("claim_depth", depth);
    }

    function test_gas_withdraw() public {
        vm.pauseGasMetering();
        vm.cool(address(settlement));
        vm.cool(address(open));
        vm.prank(host);
        vm.resumeGasMetering();
        settlement.withdraw();
        vm.pauseGasMetering();
        console.log("withdraw_gas", vm.lastCallGas().gasTotalUsed);
    }
}

/// @notice After batch A, a claim of one leaf and batch B, each in its own transaction.
contract GasTestAfterClaim is GasBase {
    function setUp() public override {
        super.setUp();
        _settle("A");
        uint256 c = _paidLeaf("A");
        _claim(1, 1, c, _leaf("A", c));
        _settle("B");
    }

    /// a later claim of the same leaf: every slot it writes is non-zero already
    function test_gas_claim_again() public {
        vm.pauseGasMetering();
        (uint256 execution,) = _measureClaim("B", _paidLeaf("A"));
        console.log("claim_again_gas", execution);
    }
}
