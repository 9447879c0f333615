// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {OrganizationInterface} from "./Interfaces.sol";

/**
 * @title Organization: an owner, an admin and workers with an expiry height.
 *
 * isOrganization(a) is true for the owner and the admin; isWorker(a) while
 * the worker's expiration height is above the current block.
 */
contract Organization is OrganizationInterface {
    event OwnershipTransferInitiated(address indexed proposedOwner, address currentOwner);
    event OwnershipTransferCompleted(address newOwner);
    event AdminAddressChanged(address indexed newAdmin, address previousAdmin);
    event WorkerSet(address indexed worker, uint256 expirationHeight);
    event WorkerUnset(address indexed worker);

    address public owner;
    address public proposedOwner;
    address public admin;
    mapping(address => uint256) public workers;

    modifier onlyOwner() {
        require(msg.sender == owner, "Only owner is allowed to call this method.");
        _;
    }

    modifier onlyOwnerOrAdmin() {
        require(msg.sender == owner || msg.sender == admin, "Only owner and admin are allowed to call this method.");
        _;
    }

    constructor(address _owner, address _admin, address[] memory _workers, uint256 _expirationHeight) {
        require(_owner != address(0), "The owner must not be the zero address.");
        owner = _owner;
        admin = _admin;
        for (uint256 i = 0; i < _workers.length; i++) {
            setWorkerInternal(_workers[i], _expirationHeight);
        }
    }

    function initiateOwnershipTransfer(address _proposedOwner) external onlyOwner returns (bool success_) {
        require(_proposedOwner != owner, "Proposed owner address can't be current owner address.");
        proposedOwner = _proposedOwner;
        emit OwnershipTransferInitiated(_proposedOwner, owner);
        success_ = true;
    }

    function completeOwnershipTransfer() external returns (bool success_) {
        require(msg.sender == proposedOwner, "Caller is not proposed owner address.");
        owner = proposedOwner;
        proposedOwner = address(0);
        emit OwnershipTransferCompleted(owner);
        success_ = true;
    }

    function setAdmin(address _admin) external onlyOwnerOrAdmin returns (bool success_) {
        require(_admin != owner, "Admin address can't be the same as the owner address.");
        if (admin != _admin) {
            address previousAdmin = admin;
            admin = _admin;
            emit AdminAddressChanged(_admin, previousAdmin);
        }
        success_ = true;
    }

    function setWorker(address _worker, uint256 _expirationHeight) external onlyOwnerOrAdmin {
        setWorkerInternal(_worker, _expirationHeight);
    }

    function unsetWorker(address _worker) external onlyOwnerOrAdmin returns (bool isUnset_) {
        if (workers[_worker] > 0) {
            delete workers[_worker];
            isUnset_ = true;
            emit WorkerUnset(_worker);
        }
    }

    function isOrganization(address _organization) external view override returns (bool) {
        return _organization == owner || _organization == admin;
    }

    function isWorker(address _worker) external view override returns (bool) {
        return workers[_worker] > block.number;
    }

    function setWorkerInternal(address _worker, uint256 _expirationHeight) private {
        require(_worker != address(0), "Worker address cannot be null.");
        require(_expirationHeight > block.number, "Expiration height must be in the future.");
        workers[_worker] = _expirationHeight;
        emit WorkerSet(_worker, _expirationHeight);
    }
}
