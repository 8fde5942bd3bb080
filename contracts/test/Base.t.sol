// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Test} from "forge-std/Test.sol";
import {OpenToken} from "../src/OpenToken.sol";
import {AttributionSettlement} from "../src/AttributionSettlement.sol";
import {IAdapterRegistry} from "../src/interfaces/IAdapterRegistry.sol";

/// @notice Shared set-up: the test circuit's generated verifier, circomlibjs Poseidon
///         contracts, and real proofs from the prover (build/contracts/fixture_*.json,
///         made by `npm run contracts:generate` for a settlement at a fixed address).
abstract contract Base is Test {
    struct ProvenReceipt {
        uint256[8] proof;
        uint256[] signals;
        uint256[] payouts;
        uint256 dust;
    }

    /// the test variant unless ZKPOA_VARIANT names another built one (npm run bench:gas)
    string internal VARIANT = vm.envOr("ZKPOA_VARIANT", string("Attribution_4x8"));
    uint16 internal constant VARIANT_ID = 1;
    uint16 internal constant OWNER_BPS = 2000;
    uint16 internal constant PROTOCOL_BPS = 1000;
    uint16 internal constant POOL_BPS = 7000;

    string internal fixture;
    OpenToken internal open;
    AttributionSettlement internal settlement;
    address internal verifier;
    address internal admin = makeAddr("admin");
    address internal treasury = makeAddr("treasury");
    address internal host = makeAddr("host");
    uint16 internal contributors;
    uint16 internal features;
    uint256 internal price;
    address[] internal payees;
    uint256[] internal chunks;
    uint256 internal adapterId;
    ProvenReceipt[] internal receipts;
    ProvenReceipt internal otherAdapterReceipt;

    function setUp() public virtual {
        fixture = vm.readFile(string.concat("build/contracts/fixture_", VARIANT, ".json"));
        contributors = uint16(vm.parseJsonUint(fixture, ".contributors"));
        features = uint16(vm.parseJsonUint(fixture, ".features"));
        price = vm.parseJsonUint(fixture, ".price");
        payees = vm.parseJsonAddressArray(fixture, ".payees");
        chunks = vm.parseJsonUintArray(fixture, ".featureChunks");
        assertEq(block.chainid, vm.parseJsonUint(fixture, ".chainId"), "fixture chain id");

        uint256[] memory arities = new uint256[](3);
        address[] memory hashers = new address[](3);
        (arities[0], arities[1], arities[2]) = (2, 4, 1 + (uint256(features) + 14) / 15);
        for (uint256 i; i < 3; ++i) {
            hashers[i] = _create(vm.parseJsonBytes(fixture, string.concat(".poseidon.n", vm.toString(arities[i]))));
        }
        verifier = deployCode(string.concat("Groth16Verifier_", VARIANT, ".sol:Groth16Verifier_", VARIANT));
        open = new OpenToken(address(this));
        address at = vm.parseJsonAddress(fixture, ".settlement");
        deployCodeTo("AttributionSettlement.sol:AttributionSettlement", abi.encode(open, treasury, admin, arities, hashers), at);
        settlement = AttributionSettlement(at);
        vm.prank(admin);
        settlement.addVerifier(VARIANT_ID, verifier, contributors, features);

        adapterId = _register(host, payees, chunks);
        assertEq(adapterId, 1, "fixture proofs are bound to adapter 1");
        assertEq(_register(host, payees, chunks), 2, "fixture's other receipt is bound to adapter 2");

        uint256 n = vm.parseJsonUint(fixture, ".receiptCount");
        for (uint256 i; i < n; ++i) receipts.push(_receipt(string.concat(".receipts[", vm.toString(i), "]")));
        otherAdapterReceipt = _receipt(".otherAdapterReceipt");

        _fund(host, 100 * price);
    }

    function _receipt(string memory path) internal view returns (ProvenReceipt memory r) {
        uint256[] memory p = vm.parseJsonUintArray(fixture, string.concat(path, ".proof"));
        for (uint256 i; i < 8; ++i) r.proof[i] = p[i];
        r.signals = vm.parseJsonUintArray(fixture, string.concat(path, ".publicSignals"));
        r.payouts = vm.parseJsonUintArray(fixture, string.concat(path, ".payouts"));
        r.dust = vm.parseJsonUint(fixture, string.concat(path, ".dust"));
    }

    function _register(address owner, address[] memory ps, uint256[] memory cs) internal returns (uint256) {
        vm.prank(owner);
        return settlement.registerAdapter(
            owner,
            VARIANT_ID, price, OWNER_BPS, PROTOCOL_BPS, POOL_BPS, IAdapterRegistry.IndexInput(ps, cs, bytes32("datanet"), bytes32("root"))
        );
    }

    function _fund(address who, uint256 amount) internal {
        open.transfer(who, amount);
        vm.startPrank(who);
        open.approve(address(settlement), amount);
        settlement.deposit(amount);
        vm.stopPrank();
    }

    function _settle(ProvenReceipt memory r) internal {
        vm.prank(host);
        settlement.settle(adapterId, r.proof, r.signals);
    }

    function _create(bytes memory code) internal returns (address a) {
        assembly {
            a := create(0, add(code, 0x20), mload(code))
        }
        require(a != address(0), "create failed");
    }

    function _pool() internal view returns (uint256) {
        return price * POOL_BPS / 10_000;
    }
}
