// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {OrganizationInterface, UtilityTokenInterface, CoGatewayUtilityTokenInterface} from "./Interfaces.sol";
import {EIP20Base} from "./EIP20Token.sol";
import {Organized} from "./Organized.sol";

/**
 * @title UtilityToken: the auxiliary-chain twin of a value token.
 *
 * Its supply changes only through its co-gateway (increaseSupply on mint,
 * decreaseSupply of the co-gateway's own balance on redeem).  The
 * organization links the co-gateway once, and only a co-gateway that names
 * this token as its utility token.
 */
contract UtilityToken is EIP20Base, Organized, UtilityTokenInterface {
    event CoGatewaySet(address _coGateway);

    address public valueToken;
    address public coGateway;

    modifier onlyCoGateway() {
        require(msg.sender == coGateway, "Only CoGateway can call the function.");
        _;
    }

    constructor(
        address _valueToken,
        string memory _symbol,
        string memory _name,
        uint8 _decimals,
        OrganizationInterface _organization
    ) EIP20Base(_symbol, _name, _decimals) Organized(_organization) {
        require(_valueToken != address(0), "Value token address must not be zero.");
        valueToken = _valueToken;
    }

    function setCoGateway(address _coGateway) external onlyOrganization returns (bool success_) {
        require(_coGateway != address(0), "CoGateway address must not be zero.");
        require(coGateway == address(0), "CoGateway address is already set.");
        require(
            CoGatewayUtilityTokenInterface(_coGateway).utilityToken() == address(this),
            "CoGateway is linked with other utility token."
        );
        coGateway = _coGateway;
        emit CoGatewaySet(_coGateway);
        success_ = true;
    }

    /** Every address may hold the token. */
    function exists(address) external pure override returns (bool) {
        return true;
    }

    function increaseSupply(address _account, uint256 _amount) external override onlyCoGateway returns (bool) {
        require(_account != address(0), "Account address must not be zero.");
        totalTokenSupply += _amount;
        unchecked {
            balances[_account] += _amount;
        }
        emit Transfer(address(0), _account, _amount);
        return true;
    }

    function decreaseSupply(uint256 _amount) external override onlyCoGateway returns (bool) {
        uint256 balance = balances[msg.sender];
        require(balance >= _amount, "Insufficient balance.");
        unchecked {
            balances[msg.sender] = balance - _amount;
            totalTokenSupply -= _amount;
        }
        emit Transfer(msg.sender, address(0), _amount);
        return true;
    }
}
