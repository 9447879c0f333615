// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {EIP20Interface} from "./Interfaces.sol";

/**
 * @title SimpleStake: the vault of staked value tokens; only its gateway
 * releases them.
 */
contract SimpleStake {
    event ReleasedStake(address indexed _gateway, address indexed _to, uint256 _amount);

    EIP20Interface public immutable token;
    address public immutable gateway;

    constructor(EIP20Interface _token, address _gateway) {
        require(address(_token) != address(0), "Token contract address must not be zero.");
        require(_gateway != address(0), "Gateway contract address must not be zero.");
        token = _token;
        gateway = _gateway;
    }

    function releaseTo(address _to, uint256 _amount) external returns (bool success_) {
        require(msg.sender == gateway, "Only gateway can call the function.");
        require(token.transfer(_to, _amount), "Token transfer must succeed.");
        emit ReleasedStake(msg.sender, _to, _amount);
        success_ = true;
    }

    function getTotalStake() external view returns (uint256) {
        return token.balanceOf(address(this));
    }
}
