// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Test} from "forge-std/Test.sol";
import {PoseidonT3} from "poseidon-solidity/PoseidonT3.sol";

/// @notice poseidon-solidity's PoseidonT3 (what claims hash the ledger with) against circomlibjs's
///         generated Poseidon(2) contract (the circuit's own permutation and constants), on any inputs
///         in the field, and a known value of circomlib's Poseidon.
contract PoseidonTest is Test {
    uint256 internal constant FIELD = 21888242871839275222246405745257275088548364400416034343698204186575808495617;
    address internal circomlibjs;

    function setUp() public {
        string memory fixture = vm.readFile(string.concat("build/contracts/fixture_", vm.envOr("ZKPOA_VARIANT", string("AttributionBatch_4x8x4")), ".json"));
        bytes memory code = vm.parseJsonBytes(fixture, ".circomlibjsPoseidon2");
        address a;
        assembly {
            a := create(0, add(code, 0x20), mload(code))
        }
        circomlibjs = a;
    }

    function test_poseidonT3_knownValue() public pure {
        // circomlib Poseidon([1, 2])
        assertEq(PoseidonT3.hash([uint256(1), 2]), 7853200120776062878684798364095072458815029376092732009249414926327459813530);
    }

    function testFuzz_poseidonT3_matchesCircomlibjs(uint256 a, uint256 b) public view {
        a = bound(a, 0, FIELD - 1);
        b = bound(b, 0, FIELD - 1);
        (bool ok, bytes memory ret) = circomlibjs.staticcall(abi.encodeWithSignature("poseidon(uint256[2])", [a, b]));
        assertTrue(ok);
        assertEq(PoseidonT3.hash([a, b]), abi.decode(ret, (uint256)));
    }
}
