// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {EIP20Interface} from "./Interfaces.sol";

/**
 * @title EIP20Base: balances, allowances and the EIP-20 calls.
 *
 * Transfers to the zero address are allowed (the gateways send burned
 * bounties and penalties to a burner that may be the zero address).
 */
abstract contract EIP20Base is EIP20Interface {
    string private tokenName;
    string private tokenSymbol;
    uint8 private immutable tokenDecimals;
    uint256 internal totalTokenSupply;
    mapping(address => uint256) internal balances;
    mapping(address => mapping(address => uint256)) private allowed;

    constructor(string memory _symbol, string memory _name, uint8 _decimals) {
        tokenSymbol = _symbol;
        tokenName = _name;
        tokenDecimals = _decimals;
    }

    function name() external view override returns (string memory) {
        return tokenName;
    }

    function symbol() external view override returns (string memory) {
        return tokenSymbol;
    }

    function decimals() external view override returns (uint8) {
        return tokenDecimals;
    }

    function totalSupply() external view override returns (uint256) {
        return totalTokenSupply;
    }

    function balanceOf(address _owner) external view override returns (uint256) {
        return balances[_owner];
    }

    function allowance(address _owner, address _spender) external view override returns (uint256) {
        return allowed[_owner][_spender];
    }

    function transfer(address _to, uint256 _value) external override returns (bool) {
        move(msg.sender, _to, _value);
        return true;
    }

    function transferFrom(address _from, address _to, uint256 _value) external override returns (bool) {
        uint256 allowance_ = allowed[_from][msg.sender];
        require(allowance_ >= _value, "Insufficient allowance.");
        unchecked {
            allowed[_from][msg.sender] = allowance_ - _value;
        }
        move(_from, _to, _value);
        return true;
    }

    function approve(address _spender, uint256 _value) external override returns (bool) {
        allowed[msg.sender][_spender] = _value;
        emit Approval(msg.sender, _spender, _value);
        return true;
    }

    function move(address _from, address _to, uint256 _value) private {
        uint256 fromBalance = balances[_from];
        require(fromBalance >= _value, "Insufficient balance.");
        unchecked {
            balances[_from] = fromBalance - _value;
            // Cannot overflow: the sum of all balances is the total supply.
            balances[_to] += _value;
        }
        emit Transfer(_from, _to, _value);
    }
}

/**
 * @title EIP20Token: a plain EIP-20 token (a value or base token) whose whole
 * supply is minted to the deployer.
 */
contract EIP20Token is EIP20Base {
    constructor(string memory _symbol, string memory _name, uint8 _decimals, uint256 _totalSupply)
        EIP20Base(_symbol, _name, _decimals)
    {
        totalTokenSupply = _totalSupply;
        balances[msg.sender] = _totalSupply;
        emit Transfer(address(0), msg.sender, _totalSupply);
    }
}
