// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Base} from "./Base.t.sol";
import {ISettlement} from "../src/interfaces/ISettlement.sol";
import {IAdapterRegistry} from "../src/interfaces/IAdapterRegistry.sol";

contract SettlementTest is Base {
    uint256 private constant P = 21888242871839275222246405745257275088548364400416034343698204186575808495617;

    function test_settle_creditsContributorsAndShares() public {
        ProvenReceipt memory r = receipts[0];
        uint256 escrowBefore = settlement.escrowOf(host);
        uint256 protocolShare = price * PROTOCOL_BPS / 10_000;
        vm.expectEmit(address(settlement));
        emit ISettlement.Settled(r.signals[0], adapterId, 1, host, price, _pool(), r.dust);
        _settle(r);

        assertTrue(settlement.settled(r.signals[0]));
        assertEq(settlement.escrowOf(host), escrowBefore - price);
        uint256 paid;
        for (uint256 c; c < payees.length; ++c) {
            assertEq(settlement.credit(adapterId, 1, c), r.payouts[c], "credit per proven payout");
            paid += r.payouts[c];
        }
        assertGt(paid, 0);
        assertEq(paid + r.dust, _pool());
        assertEq(settlement.balanceOf(treasury), protocolShare);
        assertEq(settlement.balanceOf(host), price - _pool() - protocolShare + r.dust);
    }

    function test_settle_accumulatesAcrossReceipts() public {
        uint256[] memory total = new uint256[](payees.length);
        for (uint256 i; i < receipts.length; ++i) {
            _settle(receipts[i]);
            for (uint256 c; c < payees.length; ++c) total[c] += receipts[i].payouts[c];
        }
        for (uint256 c; c < payees.length; ++c) assertEq(settlement.credit(adapterId, 1, c), total[c]);
    }

    function test_settle_revertsWhenReplayed() public {
        _settle(receipts[0]);
        vm.expectRevert(abi.encodeWithSelector(ISettlement.ReceiptAlreadySettled.selector, receipts[0].signals[0]));
        _settle(receipts[0]);
    }

    function test_settle_revertsWhenProofForged() public {
        ProvenReceipt memory r = receipts[0];
        r.proof[0] = receipts[1].proof[0];
        r.proof[1] = receipts[1].proof[1];
        vm.expectRevert(abi.encodeWithSelector(ISettlement.InvalidProof.selector, r.signals[0]));
        _settle(r);
    }

    function test_settle_revertsWhenProofOfAnotherReceipt() public {
        ProvenReceipt memory r = receipts[0];
        r.proof = receipts[1].proof;
        vm.expectRevert(abi.encodeWithSelector(ISettlement.InvalidProof.selector, r.signals[0]));
        _settle(r);
    }

    function test_settle_revertsWhenPayoutSignalTampered() public {
        ProvenReceipt memory r = receipts[0];
        r.signals[2] += 1 << 80; // one wei more to leaf 0
        vm.expectRevert(abi.encodeWithSelector(ISettlement.InvalidProof.selector, r.signals[0]));
        _settle(r);
    }

    function test_settle_revertsWhenReceiptSignalTampered() public {
        ProvenReceipt memory r = receipts[0];
        r.signals[0] ^= 1;
        vm.expectRevert(abi.encodeWithSelector(ISettlement.InvalidProof.selector, r.signals[0]));
        _settle(r);
    }

    function test_settle_revertsWhenSignalAliased() public {
        ProvenReceipt memory r = receipts[0];
        r.signals[3] += P; // same value mod p: the verifier must refuse it
        vm.expectRevert(abi.encodeWithSelector(ISettlement.InvalidProof.selector, r.signals[0]));
        _settle(r);
    }

    function test_settle_revertsWhenBindingIsNoVersionOfTheAdapter() public {
        ProvenReceipt memory r = receipts[0];
        r.signals[1] ^= 1; // a root (or adapter, chain, contract) that was never registered
        vm.expectRevert(abi.encodeWithSelector(ISettlement.WrongBinding.selector, adapterId, r.signals[1], settlement.adapter(adapterId).binding));
        _settle(r);
    }

    function test_settle_revertsWhenPriceChanged() public {
        vm.prank(host);
        settlement.setPrice(adapterId, price * 2);
        vm.expectRevert(abi.encodeWithSelector(ISettlement.WrongPool.selector, adapterId, _pool(), _pool() * 2));
        _settle(receipts[0]);
    }

    function test_settle_revertsWhenProofIsForAnotherAdapter() public {
        // same index, same host: only the adapter id in the binding differs
        ProvenReceipt memory r = otherAdapterReceipt;
        vm.expectRevert(abi.encodeWithSelector(ISettlement.WrongBinding.selector, adapterId, r.signals[1], settlement.adapter(adapterId).binding));
        vm.prank(host);
        settlement.settle(adapterId, r.proof, r.signals);
        vm.prank(host);
        settlement.settle(2, r.proof, r.signals); // and it settles where it belongs
    }

    function test_settle_receiptOfAnEarlierVersionPaysThatVersion() public {
        // the owner re-indexes (other payees: a new root, version 2); answers proven against version 1 still settle, to version 1
        address[] memory next = new address[](payees.length);
        for (uint256 i; i < next.length; ++i) next[i] = makeAddr(string.concat("next", vm.toString(i)));
        vm.prank(host);
        assertEq(settlement.updateIndex(adapterId, IAdapterRegistry.IndexInput(next, chunks, bytes32("datanet"), bytes32("root2"))), 2);
        ProvenReceipt memory r = receipts[0];
        vm.expectEmit(true, true, true, true);
        emit ISettlement.Settled(r.signals[0], adapterId, 1, host, price, _pool(), r.dust);
        _settle(r);
        for (uint256 c; c < payees.length; ++c) {
            assertEq(settlement.credit(adapterId, 1, c), r.payouts[c]);
            assertEq(settlement.credit(adapterId, 2, c), 0);
        }
    }

    function test_settle_revertsWhenNotOwner() public {
        // a valid proof is not enough: only the owner spends its escrow
        address stranger = makeAddr("stranger");
        uint256 escrow = settlement.escrowOf(host);
        vm.expectRevert(abi.encodeWithSelector(IAdapterRegistry.NotAdapterHost.selector, adapterId, stranger));
        vm.prank(stranger);
        settlement.settle(adapterId, receipts[0].proof, receipts[0].signals);
        assertEq(settlement.escrowOf(host), escrow);
        assertFalse(settlement.settled(receipts[0].signals[0]));
    }

    function test_settle_byAnApprovedOperatorChargesTheHostOnly() public {
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
        vm.prank(operator);
        settlement.settle(adapterId, receipts[0].proof, receipts[0].signals);
        assertEq(settlement.escrowOf(host), hostEscrow - price);
        assertEq(settlement.escrowOf(other), 10 * price, "the other host's escrow is untouched");
        assertEq(settlement.escrowOf(operator), 10 * price, "the operator's own escrow is untouched");
        assertEq(settlement.balanceOf(operator), 0, "the owner share is the host's");
        assertGt(settlement.balanceOf(host), 0);

        // once the host revokes it, the operator cannot settle its adapters
        vm.prank(host);
        settlement.setOperator(operator, false);
        vm.expectRevert(abi.encodeWithSelector(IAdapterRegistry.NotAdapterHost.selector, adapterId, operator));
        vm.prank(operator);
        settlement.settle(adapterId, receipts[1].proof, receipts[1].signals);
    }

    function test_settle_revertsWhenAdapterUnregistered() public {
        vm.expectRevert(abi.encodeWithSelector(IAdapterRegistry.UnknownAdapter.selector, 99));
        vm.prank(host);
        settlement.settle(99, receipts[0].proof, receipts[0].signals);
    }

    function test_settle_revertsWhenEscrowInsufficient() public {
        uint256 excess = settlement.escrowOf(host) - price + 1;
        vm.prank(host);
        settlement.withdrawEscrow(excess);
        vm.expectRevert(abi.encodeWithSelector(ISettlement.InsufficientEscrow.selector, host, price - 1, price));
        _settle(receipts[0]);
    }

    function test_settle_revertsWhenSignalCountWrong() public {
        ProvenReceipt memory r = receipts[0];
        uint256[] memory shorter = new uint256[](r.signals.length - 1);
        for (uint256 i; i < shorter.length; ++i) shorter[i] = r.signals[i];
        vm.expectRevert(abi.encodeWithSelector(ISettlement.WrongSignalCount.selector, shorter.length, r.signals.length));
        vm.prank(host);
        settlement.settle(adapterId, r.proof, shorter);
    }

    function test_settle_attackerIndexWithOwnAddressesCannotUseProof() public {
        // Same features, attacker's payout addresses: the registry computes a different root.
        address[] memory stolen = new address[](payees.length);
        for (uint256 i; i < stolen.length; ++i) stolen[i] = makeAddr(string.concat("thief", vm.toString(i)));
        address thief = makeAddr("thiefHost");
        uint256 evil = _register(thief, stolen, chunks);
        _fund(thief, 10 * price);
        ProvenReceipt memory r = receipts[0];
        vm.expectRevert(abi.encodeWithSelector(ISettlement.WrongBinding.selector, evil, r.signals[1], settlement.adapter(evil).binding));
        vm.prank(thief);
        settlement.settle(evil, r.proof, r.signals);
    }

    function test_claim_and_withdraw_payContributors() public {
        ProvenReceipt memory r = receipts[0];
        _settle(r);
        uint256[] memory leaf = new uint256[](1);
        vm.startPrank(payees[0]);
        uint256 claimed = settlement.claim(adapterId, 1, leaf);
        assertEq(claimed, r.payouts[0]);
        assertEq(settlement.credit(adapterId, 1, 0), 0);
        settlement.withdraw();
        vm.stopPrank();
        assertEq(open.balanceOf(payees[0]), r.payouts[0]);
    }

    function test_claim_revertsWhenCallerIsNotPayee() public {
        _settle(receipts[0]);
        uint256[] memory leaf = new uint256[](1);
        address mallory = makeAddr("mallory");
        vm.expectRevert(abi.encodeWithSelector(ISettlement.NotPayee.selector, adapterId, 1, 0, mallory));
        vm.prank(mallory);
        settlement.claim(adapterId, 1, leaf);
    }

    function test_claim_revertsWhenLeafOutOfRange() public {
        uint256[] memory leaf = new uint256[](1);
        leaf[0] = payees.length;
        vm.expectRevert(abi.encodeWithSelector(ISettlement.LeafOutOfRange.selector, adapterId, 1, payees.length));
        settlement.claim(adapterId, 1, leaf);
    }

    function test_withdraw_revertsWhenNothingToWithdraw() public {
        vm.expectRevert(abi.encodeWithSelector(ISettlement.InvalidAmount.selector, 0, 0));
        vm.prank(makeAddr("nobody"));
        settlement.withdraw();
    }

    function test_creditsOfEarlierVersionStayClaimable() public {
        _settle(receipts[0]);
        chunks[0] ^= 1;
        vm.prank(host);
        settlement.updateIndex(adapterId, IAdapterRegistry.IndexInput(payees, chunks, bytes32("datanet"), bytes32("v2")));
        uint256[] memory leaf = new uint256[](1);
        vm.prank(payees[0]);
        assertEq(settlement.claim(adapterId, 1, leaf), receipts[0].payouts[0]);
    }

    function testFuzz_settle_revertsOnAnyTamperedSignal(uint256 index, uint256 delta) public {
        ProvenReceipt memory r = receipts[0];
        index = bound(index, 0, r.signals.length - 1);
        delta = bound(delta, 1, P - 1);
        r.signals[index] = addmod(r.signals[index], delta, P);
        vm.expectRevert();
        _settle(r);
        assertFalse(settlement.settled(r.signals[0]));
    }

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
}
