// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

/** The EIP-20 token standard. */
interface EIP20Interface {
    event Transfer(address indexed _from, address indexed _to, uint256 _value);
    event Approval(address indexed _owner, address indexed _spender, uint256 _value);

    function name() external view returns (string memory);
    function symbol() external view returns (string memory);
    function decimals() external view returns (uint8);
    function totalSupply() external view returns (uint256);
    function balanceOf(address _owner) external view returns (uint256);
    function allowance(address _owner, address _spender) external view returns (uint256);
    function transfer(address _to, uint256 _value) external returns (bool);
    function transferFrom(address _from, address _to, uint256 _value) external returns (bool);
    function approve(address _spender, uint256 _value) external returns (bool);
}

/** What the gateways ask of an organization (Organization implements it). */
interface OrganizationInterface {
    function isOrganization(address _organization) external view returns (bool);
    function isWorker(address _worker) external view returns (bool);
}

/** A provider of the remote chain's state roots (Anchor implements it). */
interface StateRootInterface {
    function getLatestStateRootBlockHeight() external view returns (uint256);
    function getStateRoot(uint256 _blockHeight) external view returns (bytes32);
}

/** The supply interface of a utility token, as the co-gateway uses it. */
interface UtilityTokenInterface {
    function exists(address _account) external view returns (bool);
    function increaseSupply(address _account, uint256 _amount) external returns (bool);
    function decreaseSupply(uint256 _amount) external returns (bool);
}

/** What a utility token asks of the co-gateway it is linked to. */
interface CoGatewayUtilityTokenInterface {
    function utilityToken() external view returns (address);
}
