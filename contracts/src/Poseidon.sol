// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Strings} from "@openzeppelin/contracts/utils/Strings.sol";

/// @notice Calls circomlibjs-generated Poseidon contracts (`poseidon(uint256[n])`), the
///         same permutation and constants as circomlib's Poseidon in the circuit.
library Poseidon {
    error PoseidonCallFailed(address hasher, uint256 arity);

    function selector(uint256 arity) internal pure returns (bytes4) {
        return bytes4(keccak256(abi.encodePacked("poseidon(uint256[", Strings.toString(arity), "])")));
    }

    /// @dev `inputs` are ABI-encoded inline (a static array), so the call data is the selector then the words.
    function hash(address hasher, bytes4 sel, uint256[] memory inputs) internal view returns (uint256 out) {
        (bool ok, bytes memory ret) = hasher.staticcall(abi.encodePacked(sel, inputs));
        if (!ok || ret.length != 32) revert PoseidonCallFailed(hasher, inputs.length);
        out = abi.decode(ret, (uint256));
    }
}
