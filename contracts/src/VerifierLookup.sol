// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {IVerifierLookup} from "./interfaces/IVerifierLookup.sol";

/// @notice Variant id → generated Groth16 batch verifier. Add-only.
abstract contract VerifierLookup is IVerifierLookup, Ownable {
    /// @dev verifyProof(uint256[2],uint256[2][2],uint256[2],uint256[6]): every batch verifier has six public signals
    bytes4 internal constant VERIFY_PROOF_SELECTOR = 0xf398789b;
    uint256 private constant MAX_CAPACITY = 1 << 15;
    /// a leaf's Poseidon takes the payee and ceil(K/15) chunks, at most 16 inputs
    uint256 private constant MAX_FEATURES = 225;

    mapping(uint16 => Variant) internal _variants;

    /// @inheritdoc IVerifierLookup
    function addVerifier(uint16 variantId, address verifier, uint16 contributors, uint16 features, uint16 answers) external onlyOwner {
        Variant storage existing = _variants[variantId];
        if (existing.verifier != address(0)) revert VerifierExists(variantId, existing.verifier);
        if (verifier.code.length == 0) revert VerifierHasNoCode(verifier);
        if (!_isPowerOfTwo(contributors) || !_isPowerOfTwo(answers) || features == 0 || features > MAX_FEATURES) {
            revert InvalidVariant(contributors, features, answers);
        }
        uint8 depth;
        while (uint256(1) << depth < contributors) ++depth;
        _variants[variantId] = Variant(verifier, contributors, features, answers, depth);
        emit VerifierAdded(variantId, verifier, contributors, features, answers);
    }

    /// @inheritdoc IVerifierLookup
    function variant(uint16 variantId) external view returns (Variant memory) {
        return _variants[variantId];
    }

    function _variant(uint16 variantId) internal view returns (Variant memory v) {
        v = _variants[variantId];
        if (v.verifier == address(0)) revert UnknownVariant(variantId);
    }

    /// @dev The generated verifier takes static arrays, so its call data is the selector, then the proof's
    ///      eight words and the six signals in order (a, b, c, input). It refuses any signal ≥ the field modulus.
    function _verifyProof(address verifier, uint256[8] calldata proof, uint256[6] calldata signals) internal view returns (bool valid) {
        assembly ("memory-safe") {
            let data := mload(0x40)
            mstore(data, VERIFY_PROOF_SELECTOR)
            calldatacopy(add(data, 0x04), proof, 0x100)
            calldatacopy(add(data, 0x104), signals, 0xc0)
            let ok := staticcall(gas(), verifier, data, 0x1c4, 0x00, 0x20)
            valid := and(and(ok, eq(returndatasize(), 0x20)), eq(mload(0x00), 1))
        }
    }

    function _isPowerOfTwo(uint256 x) private pure returns (bool) {
        return x != 0 && x & (x - 1) == 0 && x <= MAX_CAPACITY;
    }
}
