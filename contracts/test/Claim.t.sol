// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Base} from "./Base.t.sol";
import {ISettlement} from "../src/interfaces/ISettlement.sol";
import {IAdapterRegistry} from "../src/interfaces/IAdapterRegistry.sol";

/// @notice Claims from the payout ledger with Merkle proofs built by attribution/commitments.ts.
contract ClaimTest is Base {
    function test_claim_paysEveryLeafItsCumulativeAmount() public {
        _settle("A");
        Batch memory b = _settle("B");
        uint256 total;
        address relayer = makeAddr("relayer"); // anyone may submit a claim: it pays the leaf's payee
        for (uint256 c; c < contributors; ++c) {
            LedgerLeaf memory l = _leaf("B", c);
            if (l.cumulative == 0) continue;
            uint256 owedBefore = settlement.owed();
            vm.expectEmit(address(settlement));
            emit ISettlement.Claimed(l.payee, 1, 1, c, l.cumulative);
            vm.prank(relayer);
            assertEq(_claim(1, 1, c, l), l.cumulative);
            assertEq(settlement.balanceOf(l.payee), l.cumulative);
            assertEq(settlement.claimed(1, 1, c), l.cumulative);
            assertEq(settlement.owed(), owedBefore - l.cumulative);
            total += l.cumulative;
        }
        assertEq(total, _batch("A").paid + b.paid, "the ledger holds exactly what the batches paid");
        assertEq(settlement.owed(), 0);
        assertEq(settlement.balanceOf(relayer), 0);

        LedgerLeaf memory first = _leaf("B", _paidLeaf("B"));
        vm.prank(first.payee);
        settlement.withdraw();
        assertEq(open.balanceOf(first.payee), first.cumulative);
    }

    function test_claim_paysTheDifferenceSinceTheLastClaim() public {
        _settle("A");
        uint256 c = _paidLeaf("A");
        LedgerLeaf memory afterA = _leaf("A", c);
        assertEq(_claim(1, 1, c, afterA), afterA.cumulative);
        _settle("B");
        LedgerLeaf memory afterB = _leaf("B", c);
        assertGt(afterB.cumulative, afterA.cumulative);
        assertEq(_claim(1, 1, c, afterB), afterB.cumulative - afterA.cumulative);
        assertEq(settlement.balanceOf(afterB.payee), afterB.cumulative);
    }

    function test_claim_revertsOnASecondClaimOfTheSameAmount() public {
        _settle("A");
        uint256 c = _paidLeaf("A");
        LedgerLeaf memory l = _leaf("A", c);
        _claim(1, 1, c, l);
        vm.expectRevert(abi.encodeWithSelector(ISettlement.NothingToClaim.selector, 1, 1, c, l.cumulative, l.cumulative));
        _claim(1, 1, c, l);
    }

    function test_claim_revertsAboveTheLedgersAmount() public {
        _settle("A");
        uint256 c = _paidLeaf("A");
        LedgerLeaf memory l = _leaf("A", c);
        l.cumulative += 1;
        vm.expectRevert(abi.encodeWithSelector(ISettlement.NotInLedger.selector, 1, 1, c));
        _claim(1, 1, c, l);
        l.cumulative -= 1;
        _claim(1, 1, c, l);
    }

    function test_claim_revertsOnAWrongMerklePath() public {
        _settle("A");
        uint256 c = _paidLeaf("A");
        LedgerLeaf memory l = _leaf("A", c);
        for (uint256 d; d < depth; ++d) {
            l.siblings[d] ^= 1;
            vm.expectRevert(abi.encodeWithSelector(ISettlement.NotInLedger.selector, 1, 1, c));
            _claim(1, 1, c, l);
            l.siblings[d] ^= 1;
        }
        // the right path at another leaf index
        vm.expectRevert(abi.encodeWithSelector(ISettlement.NotInLedger.selector, 1, 1, c ^ 1));
        _claim(1, 1, c ^ 1, l);
        // another payee with the same amount
        address thief = makeAddr("thief");
        vm.expectRevert(abi.encodeWithSelector(ISettlement.NotInLedger.selector, 1, 1, c));
        settlement.claim(1, 1, c, thief, l.cumulative, l.siblings);
        _claim(1, 1, c, l);
    }

    function test_claim_revertsOnAWrongDepth() public {
        _settle("A");
        uint256 c = _paidLeaf("A");
        LedgerLeaf memory l = _leaf("A", c);
        uint256[] memory shorter = new uint256[](depth - 1);
        for (uint256 d; d < shorter.length; ++d) shorter[d] = l.siblings[d];
        vm.expectRevert(abi.encodeWithSelector(ISettlement.WrongPathLength.selector, depth - 1, depth));
        settlement.claim(1, 1, c, l.payee, l.cumulative, shorter);
        uint256[] memory longer = new uint256[](depth + 1);
        for (uint256 d; d < depth; ++d) longer[d] = l.siblings[d];
        vm.expectRevert(abi.encodeWithSelector(ISettlement.WrongPathLength.selector, depth + 1, depth));
        settlement.claim(1, 1, c, l.payee, l.cumulative, longer);
        // a leaf index past C with a path of the right length
        vm.expectRevert(abi.encodeWithSelector(ISettlement.LeafOutOfRange.selector, 1, 1, contributors + c));
        settlement.claim(1, 1, contributors + c, l.payee, l.cumulative, l.siblings);
        _claim(1, 1, c, l);
    }

    function test_claim_revertsWithAStaleLedger() public {
        _settle("A");
        _settle("B");
        uint256 c = _paidLeaf("A");
        vm.expectRevert(abi.encodeWithSelector(ISettlement.NotInLedger.selector, 1, 1, c));
        _claim(1, 1, c, _leaf("A", c)); // the ledger moved on: claim from the current one
        _claim(1, 1, c, _leaf("B", c));
    }

    function test_claim_earlierVersionsStayClaimableAfterANewVersion() public {
        _settle("A");
        _settle("B");
        _addVersion2(7);
        _settle("v2");
        uint256 c1 = _paidLeaf("B");
        LedgerLeaf memory v1 = _leaf("B", c1);
        // version 1's ledger proof does not hold for version 2's ledger
        vm.expectRevert(abi.encodeWithSelector(ISettlement.NotInLedger.selector, 1, 2, c1));
        _claim(1, 2, c1, v1);
        assertEq(_claim(1, 1, c1, v1), v1.cumulative);
        uint256 c2 = _paidLeaf("v2");
        LedgerLeaf memory v2 = _leaf("v2", c2);
        assertEq(_claim(1, 2, c2, v2), v2.cumulative);
        assertEq(settlement.claimed(1, 2, c2), v2.cumulative);
        vm.expectRevert(abi.encodeWithSelector(ISettlement.UnknownVersion.selector, 1, 3));
        _claim(1, 3, c2, v2);
    }

    function test_claim_ledgersArePerAdapter() public {
        _settle("A");
        _settle("other");
        uint256 c = _paidLeaf("other");
        LedgerLeaf memory l = _leaf("other", c);
        vm.expectRevert(abi.encodeWithSelector(ISettlement.NotInLedger.selector, 1, 1, c));
        _claim(1, 1, c, l);
        assertEq(_claim(2, 1, c, l), l.cumulative);
        vm.expectRevert(abi.encodeWithSelector(IAdapterRegistry.UnknownAdapter.selector, 99));
        _claim(99, 1, c, l);
    }

    function test_claim_revertsForALeafThatEarnedNothing() public {
        _settle("A");
        uint256[] memory cum = vm.parseJsonUintArray(fixture, ".batches.A.ledger.cumulative");
        address[] memory payees = vm.parseJsonAddressArray(fixture, ".batches.A.ledger.payees");
        for (uint256 c; c < cum.length; ++c) {
            if (cum[c] != 0 || payees[c] == address(0)) continue;
            vm.expectRevert(abi.encodeWithSelector(ISettlement.NothingToClaim.selector, 1, 1, c, 0, 0));
            _claim(1, 1, c, _leaf("A", c));
            return;
        }
        revert("the fixture has no unpaid contributor");
    }

    function test_claim_revertsForAPaddingLeaf() public {
        // the test variant's index keeps one padding leaf (payee 0): it is in the ledger, but pays no one
        _settle("A");
        uint256 c = contributors - 1;
        LedgerLeaf memory l = _leaf("A", c);
        if (l.payee != address(0)) return; // a full index (bench:gas variants)
        vm.expectRevert(abi.encodeWithSelector(ISettlement.ZeroPayeeClaim.selector, 1, 1, c));
        _claim(1, 1, c, l);
    }

    function test_claim_revertsOnAnAmountWiderThanTheLedger() public {
        // Poseidon reduces its inputs modulo p: cumulative + p would hash to the same leaf
        _settle("A");
        uint256 c = _paidLeaf("A");
        LedgerLeaf memory l = _leaf("A", c);
        uint256 real = l.cumulative;
        l.cumulative = real + FIELD;
        vm.expectRevert(abi.encodeWithSelector(ISettlement.CumulativeTooLarge.selector, real + FIELD));
        _claim(1, 1, c, l);
        l.cumulative = uint256(1) << 96;
        vm.expectRevert(abi.encodeWithSelector(ISettlement.CumulativeTooLarge.selector, uint256(1) << 96));
        _claim(1, 1, c, l);
        l.cumulative = real;
        _claim(1, 1, c, l);
    }

    function test_claim_beforeAnyBatchFindsAnEmptyLedger() public {
        _settle("A");
        uint256 c = _paidLeaf("A");
        vm.expectRevert(abi.encodeWithSelector(ISettlement.NotInLedger.selector, 2, 1, c));
        _claim(2, 1, c, _leaf("A", c)); // adapter 2 has settled nothing: its ledger root is 0
    }
}
