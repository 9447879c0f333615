// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {OrganizationInterface} from "./Interfaces.sol";

/**
 * @title Organized: access control through an organization contract.
 *
 * `organization` takes storage slot 0, as in the Mosaic contracts (the
 * gateways' storage layout depends on it).  The same address is also kept
 * as an immutable, which is what the modifiers read: it never changes.
 */
abstract contract Organized {
    OrganizationInterface public organization;

    OrganizationInterface private immutable organizationImm;

    modifier onlyOrganization() {
        require(organizationImm.isOrganization(msg.sender), "Only the organization is allowed to call this method.");
        _;
    }

    modifier onlyWorker() {
        require(organizationImm.isWorker(msg.sender), "Only whitelisted workers are allowed to call this method.");
        _;
    }

    constructor(OrganizationInterface _organization) {
        require(address(_organization) != address(0), "Organization contract address must not be zero.");
        organization = _organization;
        organizationImm = _organization;
    }
}

/**
 * @title CircularBuffer: the last `max` stored uint256 values, oldest evicted.
 *
 * Two storage slots, as the Mosaic contracts' CircularBufferUint has (the
 * items, then the cursor), so that the variables after them keep their
 * slots.  The items live in a mapping rather than a pre-sized array (no
 * storage is written for the buffer's size: it is an immutable).  The first
 * value goes to position 1, as in CircularBufferUint.
 */
abstract contract CircularBuffer {
    mapping(uint256 => uint256) private bufferItems;
    uint256 private bufferIndex;

    uint256 private immutable bufferSize;

    constructor(uint256 _maxItems) {
        require(_maxItems > 0, "The max number of items to store in a circular buffer must be greater than 0.");
        bufferSize = _maxItems;
    }

    /** Stores `_item` in the next position; returns the value it overwrote (0 if none). */
    function bufferStore(uint256 _item) internal returns (uint256 overwritten_) {
        uint256 next = bufferIndex + 1;
        if (next == bufferSize) next = 0;
        overwritten_ = bufferItems[next];
        bufferItems[next] = _item;
        bufferIndex = next;
    }

    /** The most recently stored value. */
    function bufferHead() internal view returns (uint256) {
        return bufferItems[bufferIndex];
    }
}
