// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Base} from "./Base.t.sol";
import {IAdapterRegistry} from "../src/interfaces/IAdapterRegistry.sol";
import {IVerifierLookup} from "../src/interfaces/IVerifierLookup.sol";
import {OpenToken} from "../src/OpenToken.sol";

contract RegistryTest is Base {
    function _index() internal view returns (IAdapterRegistry.IndexInput memory) {
        return IAdapterRegistry.IndexInput(payees, chunks, bytes32("datanet"), bytes32("root"));
    }

    function test_indexRoot_matchesTheTypeScriptCommitment() public view {
        assertEq(settlement.indexRootOf(payees, chunks, contributors, features), vm.parseJsonUint(fixture, ".indexRoot"));
    }

    function test_register_storesConfigAndEmits() public {
        uint256 root = settlement.indexRootOf(payees, chunks, contributors, features);
        vm.expectEmit(address(settlement));
        emit IAdapterRegistry.AdapterRegistered(3, host, VARIANT_ID, price, OWNER_BPS, PROTOCOL_BPS, POOL_BPS);
        vm.expectEmit(true, true, false, false, address(settlement));
        emit IAdapterRegistry.IndexVersioned(3, 1, root, 0, bytes32("datanet"), bytes32("root"), payees.length);
        uint256 id = _register(host, payees, chunks);
        IAdapterRegistry.Adapter memory a = settlement.adapter(id);
        assertEq(a.host, host);
        assertEq(a.version, 1);
        assertEq(a.price, price);
        assertEq(settlement.payee(id, 1, 0), payees[0]);
        assertEq(settlement.payee(id, 1, payees.length), address(0));
    }

    function test_updateIndex_versionsTheRoot() public {
        uint256 before = settlement.adapter(adapterId).binding;
        chunks[1] ^= 1;
        vm.prank(host);
        assertEq(settlement.updateIndex(adapterId, _index()), 2);
        assertEq(settlement.adapter(adapterId).version, 2);
        assertTrue(settlement.adapter(adapterId).binding != before);
    }

    function test_updateIndex_revertsWhenNotOwner() public {
        vm.expectRevert(abi.encodeWithSelector(IAdapterRegistry.NotAdapterHost.selector, adapterId, address(this)));
        settlement.updateIndex(adapterId, _index());
    }

    function test_setPrice_revertsWhenNotOwnerOrTooLarge() public {
        vm.expectRevert(abi.encodeWithSelector(IAdapterRegistry.NotAdapterHost.selector, adapterId, address(this)));
        settlement.setPrice(adapterId, 1);
        vm.prank(host);
        vm.expectRevert(abi.encodeWithSelector(IAdapterRegistry.PriceTooLarge.selector, uint256(1) << 80));
        settlement.setPrice(adapterId, uint256(1) << 80);
    }

    function test_register_revertsWhenCallerIsNotAnOperatorOfTheHost() public {
        // a server (or anyone) registering an adapter that another host's escrow would pay
        address operator = makeAddr("operator");
        vm.expectRevert(abi.encodeWithSelector(IAdapterRegistry.NotOperator.selector, host, operator));
        vm.prank(operator);
        settlement.registerAdapter(host, VARIANT_ID, price, OWNER_BPS, PROTOCOL_BPS, POOL_BPS, _index());
        vm.expectRevert(IAdapterRegistry.ZeroAddress.selector);
        settlement.registerAdapter(address(0), VARIANT_ID, price, OWNER_BPS, PROTOCOL_BPS, POOL_BPS, _index());
    }

    function test_operator_actsOnlyForTheHostsThatApprovedIt() public {
        address operator = makeAddr("operator");
        address other = makeAddr("otherHost");
        vm.expectEmit(address(settlement));
        emit IAdapterRegistry.OperatorSet(host, operator, true);
        vm.prank(host);
        settlement.setOperator(operator, true);
        assertTrue(settlement.isOperator(host, operator));
        assertFalse(settlement.isOperator(other, operator));

        vm.startPrank(operator);
        uint256 id = settlement.registerAdapter(host, VARIANT_ID, price, OWNER_BPS, PROTOCOL_BPS, POOL_BPS, _index());
        assertEq(settlement.adapter(id).host, host, "the host's adapter, not the operator's");
        settlement.setPrice(id, price + 1);
        vm.expectRevert(abi.encodeWithSelector(IAdapterRegistry.NotOperator.selector, other, operator));
        settlement.registerAdapter(other, VARIANT_ID, price, OWNER_BPS, PROTOCOL_BPS, POOL_BPS, _index());
        vm.stopPrank();

        // another host's adapter is out of the operator's reach
        uint256 others = _register(other, payees, chunks);
        vm.expectRevert(abi.encodeWithSelector(IAdapterRegistry.NotAdapterHost.selector, others, operator));
        vm.prank(operator);
        settlement.setPrice(others, 1);

        // revoked, it can do nothing more for the host
        vm.prank(host);
        settlement.setOperator(operator, false);
        vm.expectRevert(abi.encodeWithSelector(IAdapterRegistry.NotAdapterHost.selector, id, operator));
        vm.prank(operator);
        settlement.setPrice(id, price);
        vm.expectRevert(IAdapterRegistry.ZeroAddress.selector);
        settlement.setOperator(address(0), true);
    }

    function test_setShares_emits() public {
        vm.expectEmit(address(settlement));
        emit IAdapterRegistry.SharesChanged(adapterId, 1000, 1000, 8000);
        vm.prank(host);
        settlement.setShares(adapterId, 1000, 1000, 8000);
    }

    function testFuzz_register_revertsWhenSharesDoNotSum(uint16 o, uint16 p, uint16 q) public {
        vm.assume(uint256(o) + p + q != 10_000);
        vm.expectRevert(abi.encodeWithSelector(IAdapterRegistry.InvalidShares.selector, o, p, q));
        settlement.registerAdapter(address(this), VARIANT_ID, price, o, p, q, _index());
    }

    function test_register_revertsOnBadIndex() public {
        address[] memory none = new address[](0);
        uint256[] memory noChunks = new uint256[](0);
        vm.expectRevert(abi.encodeWithSelector(IAdapterRegistry.InvalidContributorCount.selector, 0, contributors));
        settlement.registerAdapter(address(this), VARIANT_ID, price, OWNER_BPS, PROTOCOL_BPS, POOL_BPS, IAdapterRegistry.IndexInput(none, noChunks, 0, 0));

        address[] memory tooMany = new address[](contributors + 1);
        vm.expectRevert(abi.encodeWithSelector(IAdapterRegistry.InvalidContributorCount.selector, contributors + 1, contributors));
        settlement.registerAdapter(address(this), VARIANT_ID, price, OWNER_BPS, PROTOCOL_BPS, POOL_BPS, IAdapterRegistry.IndexInput(tooMany, noChunks, 0, 0));

        vm.expectRevert(abi.encodeWithSelector(IAdapterRegistry.InvalidFeatureChunks.selector, 0, chunks.length));
        settlement.registerAdapter(address(this), VARIANT_ID, price, OWNER_BPS, PROTOCOL_BPS, POOL_BPS, IAdapterRegistry.IndexInput(payees, noChunks, 0, 0));

        address[] memory zero = new address[](payees.length);
        vm.expectRevert(abi.encodeWithSelector(IAdapterRegistry.ZeroPayee.selector, 0));
        settlement.registerAdapter(address(this), VARIANT_ID, price, OWNER_BPS, PROTOCOL_BPS, POOL_BPS, IAdapterRegistry.IndexInput(zero, chunks, 0, 0));

        uint256[] memory wide = chunks;
        wide[0] = uint256(1) << (16 * (features < 15 ? features : 15)); // one bit past the first chunk's features
        vm.expectRevert(abi.encodeWithSelector(IAdapterRegistry.FeatureChunkOutOfRange.selector, 0, wide[0]));
        settlement.registerAdapter(address(this), VARIANT_ID, price, OWNER_BPS, PROTOCOL_BPS, POOL_BPS, IAdapterRegistry.IndexInput(payees, wide, 0, 0));

        vm.expectRevert(abi.encodeWithSelector(IVerifierLookup.UnknownVariant.selector, 9));
        settlement.registerAdapter(address(this), 9, price, OWNER_BPS, PROTOCOL_BPS, POOL_BPS, _index());
    }

    function test_addVerifier_isAddOnlyAndOwnerOnly() public {
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, address(this)));
        settlement.addVerifier(2, verifier, contributors, features);

        vm.startPrank(admin);
        vm.expectRevert(abi.encodeWithSelector(IVerifierLookup.VerifierExists.selector, VARIANT_ID, verifier));
        settlement.addVerifier(VARIANT_ID, verifier, contributors, features);
        vm.expectRevert(abi.encodeWithSelector(IVerifierLookup.VerifierHasNoCode.selector, address(0xdead)));
        settlement.addVerifier(2, address(0xdead), contributors, features);
        vm.expectRevert(abi.encodeWithSelector(IVerifierLookup.InvalidVariant.selector, 3, features));
        settlement.addVerifier(2, verifier, 3, features);
        vm.expectEmit(address(settlement));
        emit IVerifierLookup.VerifierAdded(2, verifier, 16, 32, 8);
        settlement.addVerifier(2, verifier, 16, 32);
        vm.stopPrank();
        assertEq(settlement.variant(2).selector, bytes4(keccak256("verifyProof(uint256[2],uint256[2][2],uint256[2],uint256[8])")));
    }

    function test_openToken_fixedSupplyMintedOnce() public {
        OpenToken t = new OpenToken(address(0xbeef));
        assertEq(t.totalSupply(), 1_000_000_000 ether);
        assertEq(t.balanceOf(address(0xbeef)), 1_000_000_000 ether);
        assertEq(t.decimals(), 18);
        (bool ok,) = address(t).call(abi.encodeWithSignature("mint(address,uint256)", address(this), 1));
        assertFalse(ok, "no mint function");
    }
}
