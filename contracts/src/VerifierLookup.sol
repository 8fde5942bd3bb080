// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Strings} from "@openzeppelin/contracts/utils/Strings.sol";
import {IVerifierLookup} from "./interfaces/IVerifierLookup.sol";

/// @notice Variant id → generated Groth16 verifier. Add-only.
abstract contract VerifierLookup is IVerifierLookup, Ownable {
    mapping(uint16 => Variant) internal _variants;

    /// @inheritdoc IVerifierLookup
    function addVerifier(uint16 variantId, address verifier, uint16 contributors, uint16 features) external onlyOwner {
        Variant storage existing = _variants[variantId];
        if (existing.verifier != address(0)) revert VerifierExists(variantId, existing.verifier);
        if (verifier.code.length == 0) revert VerifierHasNoCode(verifier);
        // C a power of two up to 128 (the circuit's padded tree); K up to 225 (Poseidon leaf arity ≤ 16)
        if (contributors == 0 || contributors > 128 || contributors & (contributors - 1) != 0 || features == 0 || features > 225) {
            revert InvalidVariant(contributors, features);
        }
        uint8 publicSignals = uint8(2 + (uint256(contributors) + 3) / 3);
        bytes4 sel = bytes4(
            keccak256(abi.encodePacked("verifyProof(uint256[2],uint256[2][2],uint256[2],uint256[", Strings.toString(publicSignals), "])"))
        );
        _variants[variantId] = Variant(verifier, contributors, features, publicSignals, sel);
        emit VerifierAdded(variantId, verifier, contributors, features, publicSignals);
    }

    /// @inheritdoc IVerifierLookup
    function variant(uint16 variantId) external view returns (Variant memory) {
        return _variants[variantId];
    }

    function _variant(uint16 variantId) internal view returns (Variant memory v) {
        v = _variants[variantId];
        if (v.verifier == address(0)) revert UnknownVariant(variantId);
    }

    /// @dev The generated verifier takes static arrays, so its call data is the selector and the words in order.
    function _verifyProof(Variant memory v, uint256[8] calldata proof, uint256[] calldata publicSignals) internal view returns (bool) {
        (bool ok, bytes memory ret) = v.verifier.staticcall(abi.encodePacked(v.selector, proof, publicSignals));
        return ok && ret.length == 32 && abi.decode(ret, (bool));
    }
}
