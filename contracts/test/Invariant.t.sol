// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Test} from "forge-std/Test.sol";
import {Base} from "./Base.t.sol";
import {OpenToken} from "../src/OpenToken.sol";
import {AttributionSettlement} from "../src/AttributionSettlement.sol";

/// @notice Drives the settlement with any sequence of deposits, escrow withdrawals,
///         settlements of real proofs (replays included), claims and withdrawals, and
///         keeps ghost totals of what went in and out.
contract Handler is Test {
    AttributionSettlement internal settlement;
    OpenToken internal open;
    uint256 internal adapterId;
    address[] public actors; // host, treasury, payees..., outsider
    Base.ProvenReceipt[] internal receipts;

    uint256 public ghostDeposited;
    uint256 public ghostEscrowWithdrawn;
    uint256 public ghostWithdrawn;
    uint256 public ghostSettled;
    uint256 public ghostSettledByOthers;

    constructor(AttributionSettlement s, OpenToken o, uint256 id, address[] memory actors_, Base.ProvenReceipt[] memory rs) {
        (settlement, open, adapterId, actors) = (s, o, id, actors_);
        for (uint256 i; i < rs.length; ++i) receipts.push(rs[i]);
    }

    function deposit(uint256 amount) external {
        address host = actors[0];
        amount = bound(amount, 1, 1e20);
        deal(address(open), host, open.balanceOf(host) + amount);
        vm.startPrank(host);
        open.approve(address(settlement), amount);
        settlement.deposit(amount);
        vm.stopPrank();
        ghostDeposited += amount;
    }

    function withdrawEscrow(uint256 amount) external {
        address host = actors[0];
        uint256 available = settlement.escrowOf(host);
        if (available == 0) return;
        amount = bound(amount, 1, available);
        vm.prank(host);
        settlement.withdrawEscrow(amount);
        ghostEscrowWithdrawn += amount;
    }

    /// the host approves or revokes an operator (the last actor but one)
    function setOperator(bool approved) external {
        vm.prank(actors[0]);
        settlement.setOperator(actors[actors.length - 2], approved);
    }

    function settle(uint256 which, uint256 submitter) external {
        Base.ProvenReceipt memory r = receipts[bound(which, 0, receipts.length - 1)];
        // mostly the host; sometimes anyone else, which must change nothing unless it is an operator the host approved
        address who = submitter % 4 == 0 ? actors[bound(submitter, 0, actors.length - 1)] : actors[0];
        bool allowed = settlement.isOperator(actors[0], who);
        vm.prank(who);
        try settlement.settle(adapterId, r.proof, r.signals) {
            ghostSettled++;
            if (!allowed) ghostSettledByOthers++;
        } catch {}
    }

    function claim(uint256 actor, uint256 leaf) external {
        address who = actors[bound(actor, 0, actors.length - 1)];
        uint256[] memory leaves = new uint256[](1);
        leaves[0] = bound(leaf, 0, actors.length - 5); // the payees sit between treasury and operator
        vm.prank(who);
        try settlement.claim(adapterId, 1, leaves) {} catch {}
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
}

contract InvariantTest is Base {
    Handler internal handler;
    uint256 internal initialEscrow;

    function setUp() public override {
        super.setUp();
        initialEscrow = settlement.escrowOf(host);
        address[] memory actors = new address[](payees.length + 4);
        actors[0] = host;
        actors[1] = treasury;
        for (uint256 i; i < payees.length; ++i) actors[2 + i] = payees[i];
        actors[actors.length - 2] = makeAddr("operator");
        actors[actors.length - 1] = makeAddr("outsider");
        handler = new Handler(settlement, open, adapterId, actors, receipts);
        targetContract(address(handler));
    }

    function _credits() internal view returns (uint256 sum) {
        for (uint256 c; c < contributors; ++c) sum += settlement.credit(adapterId, 1, c);
    }

    function _balances() internal view returns (uint256 sum) {
        for (uint256 i; i < handler.actorCount(); ++i) sum += settlement.balanceOf(handler.actors(i));
    }

    /// credited + withdrawn + escrow + paid shares = deposited, for any sequence.
    function invariant_conservation() public view {
        uint256 deposited = initialEscrow + handler.ghostDeposited();
        uint256 out = handler.ghostEscrowWithdrawn() + handler.ghostWithdrawn();
        assertEq(_credits() + _balances() + settlement.escrowOf(host) + out, deposited, "ledger");
        assertEq(open.balanceOf(address(settlement)), deposited - out, "token balance backs the ledger");
    }

    /// Only the host, or an operator it approved at the time, settles (spends its escrow).
    function invariant_onlyTheHostOrItsOperatorSettles() public view {
        assertEq(handler.ghostSettledByOthers(), 0);
    }

    /// Each receipt settles at most once, so fees charged equal price × settled receipts.
    function invariant_eachReceiptSettlesOnce() public view {
        assertLe(handler.ghostSettled(), receipts.length);
        uint256 settledCount;
        for (uint256 i; i < receipts.length; ++i) if (settlement.settled(receipts[i].signals[0])) settledCount++;
        assertEq(settledCount, handler.ghostSettled());
        assertEq(
            initialEscrow + handler.ghostDeposited() - handler.ghostEscrowWithdrawn() - settlement.escrowOf(host),
            settledCount * price,
            "fees"
        );
    }
}
