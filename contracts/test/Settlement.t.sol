// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Base} from "./Base.t.sol";
import {ISettlement} from "../src/interfaces/ISettlement.sol";
import {IAdapterRegistry} from "../src/interfaces/IAdapterRegistry.sol";

/// @notice settleBatch on real proofs: what a batch pays, and a pass/fail pair at every check.
contract SettlementTest is Base {
    uint256 private constant HEADER_COUNT_SHIFT = 224;

    function test_settleBatch_freshBatchPaysTheSharesAndStoresTheLedger() public {
        Batch memory a = _batch("A");
        uint256 charge = a.count * price;
        uint256 escrowBefore = settlement.escrowOf(host);
        vm.expectEmit(address(settlement));
        emit ISettlement.BatchSettled(1, 1, host, 0, uint32(a.count), a.signals[3], 0, a.signals[5], price, a.paid);
        _settle(a);

        assertEq(settlement.adapter(1).nextReceipt, 3);
        assertEq(settlement.version(1, 1).ledgerRoot, a.signals[5]);
        assertEq(settlement.escrowOf(host), escrowBefore - charge);
        assertEq(settlement.balanceOf(treasury), _protocolShare(a.count));
        assertEq(settlement.owed(), a.paid);
        assertGt(a.paid, 0);
        assertLe(a.paid, a.count * pool);
        // the host gets the owner share, the rounding and the pools' dust
        assertEq(settlement.balanceOf(host), charge - _protocolShare(a.count) - a.paid);
        uint256 sum;
        for (uint256 c; c < a.payouts.length; ++c) sum += a.payouts[c];
        assertEq(sum, a.paid, "paid is the sum of the proven payouts");
    }

    function test_settleBatch_continuesTheLedgerInOrder() public {
        Batch memory a = _settle("A");
        Batch memory b = _batch("B");
        assertEq(b.signals[4], a.signals[5], "B's old root is A's new one");
        vm.expectEmit(address(settlement));
        emit ISettlement.BatchSettled(1, 1, host, 3, uint32(b.count), b.signals[3], a.signals[5], b.signals[5], price, b.paid);
        _settle(b);
        assertEq(settlement.adapter(1).nextReceipt, 7);
        assertEq(settlement.version(1, 1).ledgerRoot, b.signals[5]);
        assertEq(settlement.owed(), a.paid + b.paid);
        assertEq(settlement.balanceOf(treasury), _protocolShare(a.count + b.count));
    }

    // ---- receipt order: no skip, no repeat ------------------------------------

    function test_settleBatch_revertsWhenItSkipsReceipts() public {
        vm.expectRevert(abi.encodeWithSelector(ISettlement.ReceiptOutOfOrder.selector, 1, 3, 0));
        _settle(_batch("B")); // receipts 0..2 not settled yet
        _settle("A");
        _settle("B");
    }

    function test_settleBatch_revertsWhenItRepeatsReceipts() public {
        _settle("A");
        vm.expectRevert(abi.encodeWithSelector(ISettlement.ReceiptOutOfOrder.selector, 1, 0, 3));
        _settle(_batch("A"));
        _settle("B");
        vm.expectRevert(abi.encodeWithSelector(ISettlement.ReceiptOutOfOrder.selector, 1, 3, 7));
        _settle(_batch("B"));
    }

    function test_settleBatch_receiptNumbersArePerAdapter() public {
        _settle("A");
        _settle("other"); // adapter 2 starts at 0 too
        assertEq(settlement.adapter(1).nextReceipt, 3);
        assertEq(settlement.adapter(2).nextReceipt, 2);
    }

    // ---- the ledger ---------------------------------------------------------

    function test_settleBatch_revertsOnAWrongOldRoot() public {
        _settle("A");
        Batch memory b = _batch("B");
        uint256 current = b.signals[4];
        b.signals[4] ^= 1;
        vm.expectRevert(abi.encodeWithSelector(ISettlement.WrongOldRoot.selector, 1, 1, b.signals[4], current));
        _settle(b);
        b.signals[4] = current;
        _settle(b);
    }

    function test_settleBatch_revertsWhenAContinuingBatchComesFirst() public {
        // a fresh version's ledger is empty (0): a batch continuing another ledger does not fit it
        Batch memory b = _batch("B");
        vm.prank(host);
        settlement.setTerms(1, terms, 3); // version 2 from receipt 3, same index and terms, empty ledger
        _settle("A");
        b.version = 2;
        vm.expectRevert(abi.encodeWithSelector(ISettlement.WrongOldRoot.selector, 1, 2, b.signals[4], 0));
        _settle(b);
    }

    // ---- payouts within the pools ---------------------------------------------

    function test_settleBatch_revertsWhenPaidIsTampered() public {
        Batch memory a = _batch("A");
        uint256 paid = a.signals[2];
        a.signals[2] = paid + 1; // still within the pools: only the proof catches it
        vm.expectRevert(abi.encodeWithSelector(ISettlement.InvalidProof.selector, 1, 1, 0));
        _settle(a);
        a.signals[2] = a.count * pool; // the largest value the check lets through
        vm.expectRevert(abi.encodeWithSelector(ISettlement.InvalidProof.selector, 1, 1, 0));
        _settle(a);
        a.signals[2] = a.count * pool + 1; // above the pools: refused before the proof
        vm.expectRevert(abi.encodeWithSelector(ISettlement.PaidExceedsPools.selector, a.count * pool + 1, a.count * pool));
        _settle(a);
        a.signals[2] = paid;
        _settle(a);
    }

    function test_settleBatch_revertsWhenTheReceiptsRootIsTampered() public {
        Batch memory a = _batch("A");
        a.signals[3] ^= 1;
        vm.expectRevert(abi.encodeWithSelector(ISettlement.InvalidProof.selector, 1, 1, 0));
        _settle(a);
    }

    function test_settleBatch_revertsWhenTheNewRootIsTampered() public {
        Batch memory a = _batch("A");
        a.signals[5] ^= 1;
        vm.expectRevert(abi.encodeWithSelector(ISettlement.InvalidProof.selector, 1, 1, 0));
        _settle(a);
    }

    function test_settleBatch_revertsWhenASignalIsAliased() public {
        // the same value modulo p: the generated verifier refuses any signal ≥ p
        Batch memory a = _batch("A");
        a.signals[3] += FIELD;
        vm.expectRevert(abi.encodeWithSelector(ISettlement.InvalidProof.selector, 1, 1, 0));
        _settle(a);
        a = _batch("A");
        a.signals[5] += FIELD;
        vm.expectRevert(abi.encodeWithSelector(ISettlement.InvalidProof.selector, 1, 1, 0));
        _settle(a);
    }

    function test_settleBatch_revertsWhenTheProofIsForged() public {
        Batch memory a = _batch("A");
        Batch memory b = _batch("B");
        (a.proof[0], a.proof[1]) = (b.proof[0], b.proof[1]);
        vm.expectRevert(abi.encodeWithSelector(ISettlement.InvalidProof.selector, 1, 1, 0));
        _settle(a);
        a.proof = b.proof; // a whole proof of another batch
        vm.expectRevert(abi.encodeWithSelector(ISettlement.InvalidProof.selector, 1, 1, 0));
        _settle(a);
    }

    // ---- binding and version ----------------------------------------------------

    function test_settleBatch_revertsOnAWrongBinding() public {
        Batch memory a = _batch("A");
        uint256 expected = settlement.version(1, 1).binding;
        a.signals[0] ^= 1; // a root (or adapter, chain, contract) that was never registered
        vm.expectRevert(abi.encodeWithSelector(ISettlement.WrongBinding.selector, 1, 1, a.signals[0], expected));
        _settle(a);
    }

    function test_settleBatch_revertsWhenTheProofIsForAnotherAdapter() public {
        // same index, same host: only the adapter id in the binding differs
        Batch memory o = _batch("other");
        vm.expectRevert(abi.encodeWithSelector(ISettlement.WrongBinding.selector, 1, 1, o.signals[0], settlement.version(1, 1).binding));
        vm.prank(host);
        settlement.settleBatch(1, 1, o.proof, o.signals);
        _settle(o); // and it settles where it belongs
    }

    function test_settleBatch_revertsOnAnUnknownVersion() public {
        Batch memory a = _batch("A");
        a.version = 2;
        vm.expectRevert(abi.encodeWithSelector(ISettlement.UnknownVersion.selector, 1, 2));
        _settle(a);
        a.version = 0;
        vm.expectRevert(abi.encodeWithSelector(ISettlement.UnknownVersion.selector, 1, 0));
        _settle(a);
        vm.expectRevert(abi.encodeWithSelector(IAdapterRegistry.UnknownAdapter.selector, 99));
        vm.prank(host);
        settlement.settleBatch(99, 1, a.proof, a.signals);
    }

    function test_settleBatch_revertsWhenSubmittedAsAVersionOfAnotherIndex() public {
        _addVersion2(0); // version 2: index 2 from receipt 0, so version 1 covers nothing
        Batch memory a = _batch("A");
        a.version = 2;
        vm.expectRevert(abi.encodeWithSelector(ISettlement.WrongBinding.selector, 1, 2, a.signals[0], settlement.version(1, 2).binding));
        _settle(a);
    }

    // ---- fee and pool -----------------------------------------------------------

    function test_settleBatch_revertsWhenTheFeeIsNotTheVersions() public {
        // version 2 from receipt 3: same index (same binding), twice the price
        vm.prank(host);
        settlement.setTerms(1, IAdapterRegistry.Terms(uint128(2 * price), terms.ownerBps, terms.protocolBps, terms.poolBps), 3);
        Batch memory a = _batch("A");
        a.version = 2;
        vm.expectRevert(abi.encodeWithSelector(ISettlement.WrongFee.selector, 1, 2, price, 2 * price));
        _settle(a);
        a.version = 1; // receipts 0..2 are version 1's, at its price
        _settle(a);
    }

    function test_settleBatch_revertsWhenThePoolIsNotTheVersions() public {
        vm.prank(host);
        settlement.setTerms(1, IAdapterRegistry.Terms(uint128(price), 1000, 1000, 8000), 3);
        Batch memory a = _batch("A");
        a.version = 2;
        vm.expectRevert(abi.encodeWithSelector(ISettlement.WrongPool.selector, 1, 2, pool, price * 8000 / 10_000));
        _settle(a);
        a.version = 1;
        _settle(a);
    }

    function test_settleBatch_revertsWhenTheBatchIsEmpty() public {
        Batch memory a = _batch("A");
        a.signals[1] &= (uint256(1) << HEADER_COUNT_SHIFT) - 1; // count 0
        vm.expectRevert(abi.encodeWithSelector(ISettlement.EmptyBatch.selector, 1));
        _settle(a);
        a.signals[1] |= uint256(4) << HEADER_COUNT_SHIFT; // count 4 of a proof of 3
        vm.expectRevert(abi.encodeWithSelector(ISettlement.InvalidProof.selector, 1, 1, 0));
        _settle(a);
    }

    // ---- version ranges -----------------------------------------------------------

    function test_settleBatch_revertsWhenTheBatchCrossesIntoTheNextVersion() public {
        _settle("A");
        _addVersion2(6); // B is 3..6: receipt 6 is version 2's now
        Batch memory b = _batch("B");
        vm.expectRevert(abi.encodeWithSelector(ISettlement.BatchCrossesVersion.selector, 1, 1, 7, 6));
        _settle(b);
    }

    function test_settleBatch_aBatchEndingAtTheNextVersionsStartSettles() public {
        _settle("A");
        _addVersion2(7);
        _settle("B");
        _settle("v2");
        assertEq(settlement.adapter(1).nextReceipt, 9);
        assertEq(settlement.version(1, 2).ledgerRoot, _batch("v2").signals[5]);
        assertEq(settlement.version(1, 1).ledgerRoot, _batch("B").signals[5], "version 1's ledger stays");
    }

    function test_settleBatch_revertsWhenTheBatchStartsBeforeItsVersion() public {
        _settle("A");
        _settle("B"); // next receipt 7
        _addVersion2(8);
        vm.expectRevert(abi.encodeWithSelector(ISettlement.BatchBeforeVersion.selector, 1, 2, 7, 8));
        _settle(_batch("v2"));
    }

    function test_settleBatch_provenBatchesOfTheOldTermsStillSettle() public {
        // the host re-prices while batch B (proven at the old price) waits: B still settles, under version 1
        _settle("A");
        vm.prank(host);
        settlement.setTerms(1, IAdapterRegistry.Terms(uint128(3 * price), terms.ownerBps, terms.protocolBps, terms.poolBps), 7);
        uint256 escrow = settlement.escrowOf(host);
        _settle("B");
        assertEq(settlement.escrowOf(host), escrow - 4 * price);
    }

    // ---- who pays -----------------------------------------------------------------

    function test_settleBatch_revertsWhenNotTheHostNorItsOperator() public {
        // a valid proof is not enough: only the host or its operator spends its escrow
        address stranger = makeAddr("stranger");
        uint256 escrow = settlement.escrowOf(host);
        vm.expectRevert(abi.encodeWithSelector(IAdapterRegistry.NotAdapterHost.selector, 1, stranger));
        _settleAs(stranger, _batch("A"));
        assertEq(settlement.escrowOf(host), escrow);
        assertEq(settlement.adapter(1).nextReceipt, 0);
    }

    function test_settleBatch_byAnApprovedOperatorChargesTheHostOnly() public {
        // one server's wallet settles for two hosts: each settlement spends its own host's escrow
        address operator = makeAddr("operator");
        address other = makeAddr("otherHost");
        _fund(other, 10 * price);
        vm.prank(host);
        settlement.setOperator(operator, true);
        vm.prank(other);
        settlement.setOperator(operator, true);
        _fund(operator, 10 * price);
        uint256 hostEscrow = settlement.escrowOf(host);
        _settleAs(operator, _batch("A"));
        assertEq(settlement.escrowOf(host), hostEscrow - 3 * price);
        assertEq(settlement.escrowOf(other), 10 * price, "the other host's escrow is untouched");
        assertEq(settlement.escrowOf(operator), 10 * price, "the operator's own escrow is untouched");
        assertEq(settlement.balanceOf(operator), 0, "the owner share is the host's");
        assertGt(settlement.balanceOf(host), 0);

        // once the host revokes it, the operator cannot settle its adapters
        vm.prank(host);
        settlement.setOperator(operator, false);
        vm.expectRevert(abi.encodeWithSelector(IAdapterRegistry.NotAdapterHost.selector, 1, operator));
        _settleAs(operator, _batch("B"));
    }

    function test_settleBatch_escrowMustCoverTheBatch() public {
        uint256 charge = 3 * price;
        vm.startPrank(host);
        settlement.withdrawEscrow(settlement.escrowOf(host) - charge + 1);
        vm.stopPrank();
        vm.expectRevert(abi.encodeWithSelector(ISettlement.InsufficientEscrow.selector, host, charge - 1, charge));
        _settle(_batch("A"));
        _fund(host, 1);
        _settle("A"); // exactly enough
        assertEq(settlement.escrowOf(host), 0);
    }

    // ---- fuzz -----------------------------------------------------------------------

    function testFuzz_settleBatch_revertsOnAnyTamperedSignal(uint256 index, uint256 delta) public {
        Batch memory a = _batch("A");
        index = bound(index, 0, 5);
        delta = bound(delta, 1, FIELD - 1);
        a.signals[index] = addmod(a.signals[index], delta, FIELD);
        vm.expectRevert();
        _settle(a);
        assertEq(settlement.adapter(1).nextReceipt, 0);
        assertEq(settlement.owed(), 0);
    }

    function testFuzz_settleBatch_revertsOnAnyTamperedProofWord(uint256 index, uint256 delta) public {
        Batch memory a = _batch("A");
        index = bound(index, 0, 7);
        delta = bound(delta, 1, type(uint256).max);
        unchecked {
            a.proof[index] += delta;
        }
        vm.expectRevert(abi.encodeWithSelector(ISettlement.InvalidProof.selector, 1, 1, 0));
        _settle(a);
    }

    // ---- escrow and withdrawals --------------------------------------------------------

    function testFuzz_deposit_withdrawEscrow(uint256 amount, uint256 back) public {
        address h = makeAddr("fuzzHost");
        amount = bound(amount, 1, open.balanceOf(address(this)));
        back = bound(back, 1, amount);
        _fund(h, amount);
        assertEq(settlement.escrowOf(h), amount);
        vm.prank(h);
        settlement.withdrawEscrow(back);
        assertEq(settlement.escrowOf(h), amount - back);
        assertEq(open.balanceOf(h), back);
        vm.expectRevert(abi.encodeWithSelector(ISettlement.InvalidAmount.selector, amount - back + 1, amount - back));
        vm.prank(h);
        settlement.withdrawEscrow(amount - back + 1);
    }

    function test_deposit_revertsOnZero() public {
        vm.expectRevert(abi.encodeWithSelector(ISettlement.InvalidAmount.selector, 0, 0));
        settlement.deposit(0);
    }

    function test_withdraw_paysTheSharesAndRevertsWhenEmpty() public {
        _settle("A");
        uint256 share = settlement.balanceOf(treasury);
        vm.prank(treasury);
        assertEq(settlement.withdraw(), share);
        assertEq(open.balanceOf(treasury), share);
        vm.expectRevert(abi.encodeWithSelector(ISettlement.InvalidAmount.selector, 0, 0));
        vm.prank(treasury);
        settlement.withdraw();
    }
}
