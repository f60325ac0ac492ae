// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {PoseidonT3} from "./PoseidonT3.sol";
import {PoseidonT5} from "./PoseidonT5.sol";

/// @title External entry points to the on-chain Poseidon (tools and tests)
contract PoseidonHasher {
    /// @notice H(a, b).
    function hash2(uint256 a, uint256 b) external pure returns (uint256) {
        return PoseidonT3.hash([a, b]);
    }

    /// @notice H(a, b, c, d).
    function hash4(uint256 a, uint256 b, uint256 c, uint256 d) external pure returns (uint256) {
        return PoseidonT5.hash([a, b, c, d]);
    }
}
