// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {OrganizationInterface, StateRootInterface} from "./Interfaces.sol";
import {Organized, CircularBuffer} from "./Organized.sol";

/**
 * @title Anchor: the remote chain's state roots by block height.
 *
 * A ring buffer of the last `_maxStateRoots` roots; only the organization
 * (owner or admin) adds one, at a height above the latest.  Storage: 0
 * organization, 1-2 the buffer, 3 stateRoots, 4 remoteChainId, 5 coAnchor
 * (the Mosaic layout).
 */
contract Anchor is StateRootInterface, Organized, CircularBuffer {
    event StateRootAvailable(uint256 _blockHeight, bytes32 _stateRoot);

    mapping(uint256 => bytes32) private stateRoots;
    uint256 private remoteChainId;
    address public coAnchor;

    constructor(
        uint256 _remoteChainId,
        uint256 _blockHeight,
        bytes32 _stateRoot,
        uint256 _maxStateRoots,
        OrganizationInterface _organization
    ) Organized(_organization) CircularBuffer(_maxStateRoots) {
        require(_remoteChainId != 0, "Remote chain Id must not be 0.");
        remoteChainId = _remoteChainId;
        stateRoots[_blockHeight] = _stateRoot;
        bufferStore(_blockHeight);
    }

    function setCoAnchorAddress(address _coAnchor) external onlyOrganization returns (bool success_) {
        require(_coAnchor != address(0), "Co-Anchor address must not be 0.");
        require(coAnchor == address(0), "Co-Anchor has already been set and cannot be updated.");
        coAnchor = _coAnchor;
        success_ = true;
    }

    function getStateRoot(uint256 _blockHeight) external view override returns (bytes32) {
        return stateRoots[_blockHeight];
    }

    function getLatestStateRootBlockHeight() external view override returns (uint256) {
        return bufferHead();
    }

    function getRemoteChainId() external view returns (uint256) {
        return remoteChainId;
    }

    function anchorStateRoot(uint256 _blockHeight, bytes32 _stateRoot)
        external
        onlyOrganization
        returns (bool success_)
    {
        require(_stateRoot != bytes32(0), "State root must not be zero.");
        require(
            _blockHeight > bufferHead(),
            "Given block height is lower or equal to highest anchored state root block height."
        );
        stateRoots[_blockHeight] = _stateRoot;
        uint256 evicted = bufferStore(_blockHeight);
        delete stateRoots[evicted];
        emit StateRootAvailable(_blockHeight, _stateRoot);
        success_ = true;
    }
}
