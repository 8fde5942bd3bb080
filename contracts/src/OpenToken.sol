// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @title OPEN
/// @notice The fee token: a fixed supply of 1,000,000,000 OPEN (18 decimals) minted once
///         to `holder` at deployment. There is no mint function.
contract OpenToken is ERC20 {
    uint256 public constant TOTAL_SUPPLY = 1_000_000_000 * 10 ** 18;

    constructor(address holder) ERC20("OpenLedger", "OPEN") {
        _mint(holder, TOTAL_SUPPLY);
    }
}
