// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Base} from "./Base.t.sol";
import {IAdapterRegistry} from "../src/interfaces/IAdapterRegistry.sol";
import {IVerifierLookup} from "../src/interfaces/IVerifierLookup.sol";
import {OpenToken} from "../src/OpenToken.sol";
import {AttributionSettlement} from "../src/AttributionSettlement.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {PoseidonT5} from "poseidon-solidity/PoseidonT5.sol";

contract RegistryTest is Base {
    function test_binding_matchesTheTypeScriptCommitment() public view {
        // Poseidon(indexRoot, adapterId, chainid, this) on-chain (PoseidonT5) = attribution/commitments.ts binding
        assertEq(settlement.version(1, 1).binding, vm.parseJsonUint(fixture, ".bindings.adapter1"));
        assertEq(settlement.version(2, 1).binding, vm.parseJsonUint(fixture, ".bindings.adapter2"));
        assertTrue(settlement.version(1, 1).binding != settlement.version(2, 1).binding, "same index, another adapter: another binding");
    }

    function test_register_storesVersionOneFromReceiptZeroAndEmits() public {
        IAdapterRegistry.IndexInput memory index = _index("index1");
        uint256 binding = PoseidonT5.hash([index.indexRoot, 3, block.chainid, uint256(uint160(address(settlement)))]);
        vm.expectEmit(address(settlement));
        emit IAdapterRegistry.AdapterRegistered(3, host, VARIANT_ID);
        vm.expectEmit(address(settlement));
        emit IAdapterRegistry.VersionAdded(3, 1, 0, index.indexRoot, binding, terms.price, terms.ownerBps, terms.protocolBps, terms.poolBps);
        vm.expectEmit(address(settlement));
        emit IAdapterRegistry.IndexPublished(3, 1, index.indexRoot, index.contributors, index.leavesHash, index.datanetId, index.datanetRoot);
        uint256 id = _register(host, index);

        IAdapterRegistry.Adapter memory a = settlement.adapter(id);
        assertEq(a.host, host);
        assertEq(a.variantId, VARIANT_ID);
        assertEq(a.version, 1);
        assertEq(a.nextReceipt, 0);
        IAdapterRegistry.Version memory v = settlement.version(id, 1);
        assertEq(v.indexRoot, index.indexRoot);
        assertEq(v.binding, binding);
        assertEq(v.ledgerRoot, 0, "every version starts with an empty ledger");
        assertEq(v.firstReceipt, 0);
        assertEq(v.price, price);
        assertEq(v.poolBps, terms.poolBps);
        assertEq(settlement.version(id, 2).binding, 0, "no version 2");
    }

    function test_updateIndex_addsAVersionWithTheNewIndexAndTheLatestTerms() public {
        IAdapterRegistry.IndexInput memory index = _index("index2");
        vm.expectEmit(true, true, false, true, address(settlement));
        emit IAdapterRegistry.VersionAdded(
            1, 2, 7, index.indexRoot, vm.parseJsonUint(fixture, ".bindings.adapter1v2"), terms.price, terms.ownerBps, terms.protocolBps, terms.poolBps
        );
        vm.expectEmit(address(settlement));
        emit IAdapterRegistry.IndexPublished(1, 2, index.indexRoot, index.contributors, index.leavesHash, index.datanetId, index.datanetRoot);
        assertEq(_addVersion2(7), 2);
        assertEq(settlement.adapter(1).version, 2);
        IAdapterRegistry.Version memory v = settlement.version(1, 2);
        assertEq(v.indexRoot, index.indexRoot);
        assertEq(v.binding, vm.parseJsonUint(fixture, ".bindings.adapter1v2"));
        assertEq(v.firstReceipt, 7);
        assertEq(v.price, price);
        assertEq(v.ledgerRoot, 0);
        assertEq(settlement.version(1, 1).firstReceipt, 0, "version 1 is untouched");
    }

    function test_setTerms_addsAVersionWithTheSameIndexAndNewTerms() public {
        IAdapterRegistry.Terms memory t = IAdapterRegistry.Terms(uint128(price * 2), 1000, 1000, 8000);
        IAdapterRegistry.Version memory before = settlement.version(1, 1);
        vm.recordLogs();
        vm.prank(host);
        assertEq(settlement.setTerms(1, t, 5), 2);
        assertEq(vm.getRecordedLogs().length, 1, "VersionAdded only: the index did not change");
        IAdapterRegistry.Version memory v = settlement.version(1, 2);
        assertEq(v.indexRoot, before.indexRoot);
        assertEq(v.binding, before.binding);
        assertEq(v.firstReceipt, 5);
        assertEq(v.price, t.price);
        assertEq(v.ownerBps, 1000);
        assertEq(v.poolBps, 8000);
        assertEq(v.ledgerRoot, 0);
    }

    function test_newVersion_fromReceiptBoundaries() public {
        _settle("A"); // nextReceipt = 3
        IAdapterRegistry.Terms memory t = terms;
        vm.startPrank(host);
        vm.expectRevert(abi.encodeWithSelector(IAdapterRegistry.InvalidFromReceipt.selector, 1, 2, 3));
        settlement.setTerms(1, t, 2); // a settled receipt
        assertEq(settlement.setTerms(1, t, 3), 2); // the next one
        assertEq(settlement.setTerms(1, t, 10), 3);
        vm.expectRevert(abi.encodeWithSelector(IAdapterRegistry.InvalidFromReceipt.selector, 1, 9, 10));
        settlement.setTerms(1, t, 9); // below the latest version's start
        vm.stopPrank();
    }

    function test_newVersion_notBelowTheLatestVersionsStart() public {
        vm.startPrank(host);
        assertEq(settlement.setTerms(1, terms, 10), 2);
        vm.expectRevert(abi.encodeWithSelector(IAdapterRegistry.InvalidFromReceipt.selector, 1, 9, 10));
        settlement.updateIndex(1, _index("index2"), 9);
        assertEq(settlement.updateIndex(1, _index("index2"), 10), 3, "equal: version 2 covers no receipt");
        vm.stopPrank();
    }

    function test_updateIndex_and_setTerms_revertWhenNotTheHost() public {
        vm.expectRevert(abi.encodeWithSelector(IAdapterRegistry.NotAdapterHost.selector, 1, address(this)));
        settlement.updateIndex(1, _index("index2"), 0);
        vm.expectRevert(abi.encodeWithSelector(IAdapterRegistry.NotAdapterHost.selector, 1, address(this)));
        settlement.setTerms(1, terms, 0);
        vm.expectRevert(abi.encodeWithSelector(IAdapterRegistry.UnknownAdapter.selector, 99));
        settlement.setTerms(99, terms, 0);
    }

    function test_register_revertsWhenCallerIsNotAnOperatorOfTheHost() public {
        // a server (or anyone) registering an adapter that another host's escrow would pay
        address operator = makeAddr("operator");
        vm.expectRevert(abi.encodeWithSelector(IAdapterRegistry.NotOperator.selector, host, operator));
        vm.prank(operator);
        settlement.registerAdapter(host, VARIANT_ID, terms, _index("index1"));
        vm.expectRevert(IAdapterRegistry.ZeroAddress.selector);
        settlement.registerAdapter(address(0), VARIANT_ID, terms, _index("index1"));
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
        assertTrue(settlement.isOperator(other, other), "a host acts for itself");

        vm.startPrank(operator);
        uint256 id = settlement.registerAdapter(host, VARIANT_ID, terms, _index("index1"));
        assertEq(settlement.adapter(id).host, host, "the host's adapter, not the operator's");
        settlement.setTerms(id, terms, 0);
        vm.expectRevert(abi.encodeWithSelector(IAdapterRegistry.NotOperator.selector, other, operator));
        settlement.registerAdapter(other, VARIANT_ID, terms, _index("index1"));
        vm.stopPrank();

        // another host's adapter is out of the operator's reach
        uint256 others = _register(other, _index("index1"));
        vm.expectRevert(abi.encodeWithSelector(IAdapterRegistry.NotAdapterHost.selector, others, operator));
        vm.prank(operator);
        settlement.updateIndex(others, _index("index2"), 0);

        // revoked, it can do nothing more for the host
        vm.prank(host);
        settlement.setOperator(operator, false);
        vm.expectRevert(abi.encodeWithSelector(IAdapterRegistry.NotAdapterHost.selector, id, operator));
        vm.prank(operator);
        settlement.setTerms(id, terms, 0);
        vm.expectRevert(IAdapterRegistry.ZeroAddress.selector);
        settlement.setOperator(address(0), true);
    }

    function testFuzz_register_revertsWhenSharesDoNotSum(uint16 o, uint16 p, uint16 q) public {
        vm.assume(uint256(o) + p + q != 10_000);
        vm.expectRevert(abi.encodeWithSelector(IAdapterRegistry.InvalidShares.selector, o, p, q));
        settlement.registerAdapter(address(this), VARIANT_ID, IAdapterRegistry.Terms(uint128(price), o, p, q), _index("index1"));
    }

    function test_terms_priceBelow2To80() public {
        IAdapterRegistry.Terms memory t = terms;
        t.price = uint128(1 << 80);
        vm.expectRevert(abi.encodeWithSelector(IAdapterRegistry.PriceTooLarge.selector, uint256(1) << 80));
        settlement.registerAdapter(address(this), VARIANT_ID, t, _index("index1"));
        vm.prank(host);
        vm.expectRevert(abi.encodeWithSelector(IAdapterRegistry.PriceTooLarge.selector, uint256(1) << 80));
        settlement.setTerms(1, t, 0);
        t.price = uint128((1 << 80) - 1);
        settlement.registerAdapter(address(this), VARIANT_ID, t, _index("index1"));
    }

    function test_register_indexSanityChecks() public {
        IAdapterRegistry.IndexInput memory index = _index("index1");

        IAdapterRegistry.IndexInput memory count = _index("index1");
        count.contributors = 0;
        vm.expectRevert(abi.encodeWithSelector(IAdapterRegistry.InvalidContributorCount.selector, 0, contributors));
        settlement.registerAdapter(address(this), VARIANT_ID, terms, count);
        count.contributors = contributors + 1;
        vm.expectRevert(abi.encodeWithSelector(IAdapterRegistry.InvalidContributorCount.selector, contributors + 1, contributors));
        settlement.registerAdapter(address(this), VARIANT_ID, terms, count);
        count.contributors = contributors; // a full index: passes
        settlement.registerAdapter(address(this), VARIANT_ID, terms, count);

        IAdapterRegistry.IndexInput memory unpublished = _index("index1");
        unpublished.leavesHash = 0;
        vm.expectRevert(IAdapterRegistry.UnpublishedLeaves.selector);
        settlement.registerAdapter(address(this), VARIANT_ID, terms, unpublished);

        IAdapterRegistry.IndexInput memory root = _index("index1");
        root.indexRoot = FIELD - 1; // passes
        settlement.registerAdapter(address(this), VARIANT_ID, terms, root);
        root.indexRoot = FIELD;
        vm.expectRevert(abi.encodeWithSelector(IAdapterRegistry.IndexRootOutOfField.selector, FIELD));
        settlement.registerAdapter(address(this), VARIANT_ID, terms, root);

        vm.expectRevert(abi.encodeWithSelector(IVerifierLookup.UnknownVariant.selector, 9));
        settlement.registerAdapter(address(this), 9, terms, index);
    }

    function test_register_leavesHashIsTheServicesContentHash() public view {
        // the service publishes the leaves under the hash it computes (contracts/client/settlement.ts publishedLeaves);
        // registration records the same one as Solidity computes it over the published payees and chunks
        assertEq(_index("index1").leavesHash, vm.parseJsonBytes32(fixture, ".index1.leavesHash"));
        assertEq(_index("index2").leavesHash, vm.parseJsonBytes32(fixture, ".index2.leavesHash"));
    }

    function test_addVerifier_isAddOnlyAndOwnerOnly() public {
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, address(this)));
        settlement.addVerifier(2, verifier, contributors, features, answers);

        vm.startPrank(admin);
        vm.expectRevert(abi.encodeWithSelector(IVerifierLookup.VerifierExists.selector, VARIANT_ID, verifier));
        settlement.addVerifier(VARIANT_ID, verifier, contributors, features, answers);
        vm.expectRevert(abi.encodeWithSelector(IVerifierLookup.VerifierHasNoCode.selector, address(0xdead)));
        settlement.addVerifier(2, address(0xdead), contributors, features, answers);
        vm.expectRevert(abi.encodeWithSelector(IVerifierLookup.InvalidVariant.selector, 3, features, answers));
        settlement.addVerifier(2, verifier, 3, features, answers);
        vm.expectRevert(abi.encodeWithSelector(IVerifierLookup.InvalidVariant.selector, contributors, 226, answers));
        settlement.addVerifier(2, verifier, contributors, 226, answers);
        vm.expectRevert(abi.encodeWithSelector(IVerifierLookup.InvalidVariant.selector, contributors, features, 6));
        settlement.addVerifier(2, verifier, contributors, features, 6);
        vm.expectEmit(address(settlement));
        emit IVerifierLookup.VerifierAdded(2, verifier, 128, 225, 64);
        settlement.addVerifier(2, verifier, 128, 225, 64);
        vm.stopPrank();
        IVerifierLookup.Variant memory v = settlement.variant(2);
        assertEq(v.verifier, verifier);
        assertEq(v.depth, 7);
        assertEq(settlement.variant(VARIANT_ID).depth, depth);
    }

    function test_constructor_revertsOnZeroTokenOrTreasury() public {
        vm.expectRevert(IAdapterRegistry.ZeroAddress.selector);
        new AttributionSettlement(IERC20(address(0)), treasury, admin);
        vm.expectRevert(IAdapterRegistry.ZeroAddress.selector);
        new AttributionSettlement(open, address(0), admin);
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
