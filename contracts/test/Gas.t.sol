// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {console} from "forge-std/console.sol";
import {Base} from "./Base.t.sol";

/// @notice One call per test, so `forge snapshot` records each operation's gas
///         (committed as .gas-snapshot, checked in CI), and logs for `npm run bench:gas`.
contract GasTest is Base {
    function test_gas_verifyProof() public {
        ProvenReceipt memory r = receipts[0];
        bytes memory data = abi.encodePacked(settlement.variant(VARIANT_ID).selector, r.proof, r.signals);
        uint256 before = gasleft();
        (bool ok, bytes memory ret) = verifier.staticcall(data);
        uint256 used = before - gasleft();
        assertTrue(ok && abi.decode(ret, (bool)));
        console.log("verify_gas", used);
    }

    function test_gas_settle_firstOfVersion() public {
        ProvenReceipt memory r = receipts[0];
        vm.prank(host);
        uint256 before = gasleft();
        settlement.settle(adapterId, r.proof, r.signals);
        console.log("settle_first_gas", before - gasleft());
    }

    function test_gas_settle_steadyState() public {
        vm.prank(host);
        settlement.settle(adapterId, receipts[0].proof, receipts[0].signals);
        ProvenReceipt memory r = receipts[1];
        vm.prank(host);
        uint256 before = gasleft();
        settlement.settle(adapterId, r.proof, r.signals);
        console.log("settle_gas", before - gasleft());
    }

    function test_gas_registerAdapter() public {
        uint256 before = gasleft();
        _register(host, payees, chunks);
        console.log("register_gas", before - gasleft());
    }

    function test_gas_claimAndWithdraw() public {
        ProvenReceipt memory r = receipts[0];
        vm.prank(host);
        settlement.settle(adapterId, r.proof, r.signals);
        uint256[] memory leaf = new uint256[](1);
        for (uint256 c; c < payees.length; ++c) if (r.payouts[c] > r.payouts[leaf[0]]) leaf[0] = c;
        vm.startPrank(payees[leaf[0]]);
        uint256 before = gasleft();
        settlement.claim(adapterId, 1, leaf);
        settlement.withdraw();
        console.log("claim_withdraw_gas", before - gasleft());
        vm.stopPrank();
    }
}
