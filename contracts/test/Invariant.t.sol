// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Test} from "forge-std/Test.sol";
import {Base} from "./Base.t.sol";
import {OpenToken} from "../src/OpenToken.sol";
import {AttributionSettlement} from "../src/AttributionSettlement.sol";

/// @notice Drives the settlement with any sequence of deposits, escrow withdrawals, batch
///         settlements of real proofs (in any order: out of order, replays and other
///         submitters included), claims from any ledger snapshot, withdrawals and operator
///         approvals and revocations, keeping ghost totals of what went in and out.
contract Handler is Test {
    AttributionSettlement internal settlement;
    OpenToken internal open;
    string internal fixture;
    address public host;
    address[] public actors; // host, treasury, operator, outsider, then every payee
    string[] internal batchNames;
    Base.Batch[] internal batches;
    uint256 internal contributors;

    uint256 public ghostDeposited;
    uint256 public ghostEscrowWithdrawn;
    uint256 public ghostWithdrawn;
    uint256 public ghostSettledByOthers;
    uint256 public ghostPaid;
    uint256 public ghostClaimed;
    mapping(uint256 => uint256) public timesSettled; // batch index → successful settlements
    mapping(uint256 => uint256) public answersSettled; // adapter → answers settled

    constructor(AttributionSettlement s, OpenToken o, string memory fixture_, address[] memory actors_, string[] memory names, Base.Batch[] memory bs) {
        (settlement, open, fixture, host, actors) = (s, o, fixture_, actors_[0], actors_);
        contributors = vm.parseJsonUint(fixture_, ".contributors");
        for (uint256 i; i < bs.length; ++i) {
            batchNames.push(names[i]);
            batches.push(bs[i]);
        }
    }

    function deposit(uint256 amount) external {
        amount = bound(amount, 1, 1e20);
        deal(address(open), host, open.balanceOf(host) + amount);
        vm.startPrank(host);
        open.approve(address(settlement), amount);
        settlement.deposit(amount);
        vm.stopPrank();
        ghostDeposited += amount;
    }

    function withdrawEscrow(uint256 amount) external {
        uint256 available = settlement.escrowOf(host);
        if (available == 0) return;
        amount = bound(amount, 1, available);
        vm.prank(host);
        settlement.withdrawEscrow(amount);
        ghostEscrowWithdrawn += amount;
    }

    /// the host approves or revokes the operator (actor 2)
    function setOperator(bool approved) external {
        vm.prank(host);
        settlement.setOperator(actors[2], approved);
    }

    function settle(uint256 which, uint256 submitter) external {
        which = bound(which, 0, batches.length - 1);
        Base.Batch memory b = batches[which];
        // mostly the host; sometimes anyone else, which must change nothing unless it is an operator the host approved
        address who = submitter % 3 == 0 ? actors[bound(submitter, 0, actors.length - 1)] : host;
        bool allowed = settlement.isOperator(host, who);
        vm.prank(who);
        try settlement.settleBatch(b.adapterId, b.version, b.proof, b.signals) {
            timesSettled[which]++;
            answersSettled[b.adapterId] += b.count;
            ghostPaid += b.paid;
            if (!allowed) ghostSettledByOthers++;
        } catch {}
    }

    /// a claim from the ledger after any batch (stale, current or not yet reached), submitted by anyone
    function claim(uint256 which, uint256 leaf, uint256 submitter) external {
        which = bound(which, 0, batches.length - 1);
        leaf = bound(leaf, 0, contributors - 1);
        Base.Batch memory b = batches[which];
        string memory p = string.concat(".batches.", batchNames[which], ".ledger");
        address payee = vm.parseJsonAddressArray(fixture, string.concat(p, ".payees"))[leaf];
        uint256 cumulative = vm.parseJsonUintArray(fixture, string.concat(p, ".cumulative"))[leaf];
        uint256[] memory siblings = vm.parseJsonUintArray(fixture, string.concat(p, ".siblings[", vm.toString(leaf), "]"));
        vm.prank(actors[bound(submitter, 0, actors.length - 1)]);
        try settlement.claim(b.adapterId, b.version, leaf, payee, cumulative, siblings) returns (uint256 amount) {
            ghostClaimed += amount;
        } catch {}
    }

    function withdraw(uint256 actor) external {
        address who = actors[bound(actor, 0, actors.length - 1)];
        uint256 amount = settlement.balanceOf(who);
        if (amount == 0) return;
        vm.prank(who);
        settlement.withdraw();
        ghostWithdrawn += amount;
    }

    function actorCount() external view returns (uint256) {
        return actors.length;
    }

    function batchCount() external view returns (uint256) {
        return batches.length;
    }
}

contract InvariantTest is Base {
    Handler internal handler;
    uint256 internal initialEscrow;

    function setUp() public override {
        super.setUp();
        _addVersion2(7); // A, B then v2 on adapter 1, `other` on adapter 2: every batch can settle, once, in order
        initialEscrow = settlement.escrowOf(host);

        string[] memory names = new string[](4);
        (names[0], names[1], names[2], names[3]) = ("A", "B", "other", "v2");
        Base.Batch[] memory bs = new Base.Batch[](4);
        for (uint256 i; i < 4; ++i) bs[i] = _batch(names[i]);

        address[] memory p1 = _payees("index1");
        address[] memory p2 = _payees("index2");
        address[] memory actors = new address[](4 + p1.length + p2.length);
        (actors[0], actors[1], actors[2], actors[3]) = (host, treasury, makeAddr("operator"), makeAddr("outsider"));
        for (uint256 i; i < p1.length; ++i) actors[4 + i] = p1[i];
        for (uint256 i; i < p2.length; ++i) actors[4 + p1.length + i] = p2[i];
        handler = new Handler(settlement, open, fixture, actors, names, bs);
        targetContract(address(handler));
    }

    function _balances() internal view returns (uint256 sum) {
        for (uint256 i; i < handler.actorCount(); ++i) sum += settlement.balanceOf(handler.actors(i));
    }

    /// owed + Σ balances + Σ escrow + withdrawn = deposited, and the contract's OPEN backs it, for any sequence.
    function invariant_conservation() public view {
        uint256 deposited = initialEscrow + handler.ghostDeposited();
        uint256 out = handler.ghostEscrowWithdrawn() + handler.ghostWithdrawn();
        assertEq(settlement.owed() + _balances() + settlement.escrowOf(host) + out, deposited, "ledger");
        assertEq(open.balanceOf(address(settlement)), deposited - out, "token balance backs the ledger");
    }

    /// What batches credited and claims took out is what is owed.
    function invariant_owedIsPaidMinusClaimed() public view {
        assertEq(settlement.owed(), handler.ghostPaid() - handler.ghostClaimed());
    }

    /// Only the host, or an operator it approved at the time, settles (spends its escrow).
    function invariant_onlyTheHostOrItsOperatorSettles() public view {
        assertEq(handler.ghostSettledByOthers(), 0);
    }

    /// Each receipt number settles once: every batch at most once, the next receipt number is the
    /// number of answers settled, and the fees charged are price × answers settled.
    function invariant_eachReceiptSettlesOnce() public view {
        for (uint256 i; i < handler.batchCount(); ++i) assertLe(handler.timesSettled(i), 1);
        uint256 n1 = settlement.adapter(1).nextReceipt;
        uint256 n2 = settlement.adapter(2).nextReceipt;
        assertEq(n1, handler.answersSettled(1));
        assertEq(n2, handler.answersSettled(2));
        assertEq(initialEscrow + handler.ghostDeposited() - handler.ghostEscrowWithdrawn() - settlement.escrowOf(host), (n1 + n2) * price, "fees");
    }
}
