// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {EIP20Interface, OrganizationInterface, StateRootInterface, UtilityTokenInterface} from "./Interfaces.sol";
import {GatewayBase} from "./GatewayBase.sol";
import {MessageBus} from "./MessageBus.sol";

/**
 * @title EIP20CoGateway: the auxiliary side. Mints utility tokens for stakes
 * confirmed from the origin gateway and burns them on redeem.  Bounties and
 * penalties of redeems are paid in the chain's native coin.
 *
 * Storage after the base: 15 utilityToken, 16 valueToken, 17 burner,
 * 18 mints, 19 redeems.
 */
contract EIP20CoGateway is GatewayBase {
    using MessageBus for MessageBus.MessageBox;

    event StakeIntentConfirmed(
        bytes32 indexed _messageHash,
        address _staker,
        uint256 _stakerNonce,
        address _beneficiary,
        uint256 _amount,
        uint256 _blockHeight,
        bytes32 _hashLock
    );
    event MintProgressed(
        bytes32 indexed _messageHash,
        address _staker,
        address _beneficiary,
        uint256 _stakeAmount,
        uint256 _mintedAmount,
        uint256 _rewardAmount,
        bool _proofProgress,
        bytes32 _unlockSecret
    );
    event RevertStakeIntentConfirmed(
        bytes32 indexed _messageHash, address _staker, uint256 _stakerNonce, uint256 _amount
    );
    /** Declared, as in the Mosaic contracts, but never emitted. */
    event RevertStakeProgressed(
        bytes32 indexed _messageHash, address _staker, uint256 _stakerNonce, uint256 _amount
    );
    event RedeemIntentDeclared(
        bytes32 indexed _messageHash, address _redeemer, uint256 _redeemerNonce, address _beneficiary, uint256 _amount
    );
    event RedeemProgressed(
        bytes32 indexed _messageHash,
        address _redeemer,
        uint256 _redeemerNonce,
        uint256 _amount,
        bool _proofProgress,
        bytes32 _unlockSecret
    );
    event RevertRedeemDeclared(
        bytes32 indexed _messageHash, address _redeemer, uint256 _redeemerNonce, uint256 _amount
    );
    event RedeemReverted(bytes32 indexed _messageHash, address _redeemer, uint256 _redeemerNonce, uint256 _amount);

    struct Mint {
        uint256 amount;
        address beneficiary;
    }

    struct Redeem {
        uint256 amount;
        address beneficiary;
        uint256 bounty;
    }

    address public utilityToken;
    address public valueToken;
    address public burner;
    mapping(bytes32 => Mint) public mints;
    mapping(bytes32 => Redeem) public redeems;

    address private immutable utilityTokenImm;
    address payable private immutable burnerImm;
    address private immutable gatewayImm;

    constructor(
        address _valueToken,
        address _utilityToken,
        StateRootInterface _stateRootProvider,
        uint256 _bounty,
        OrganizationInterface _organization,
        address _gateway,
        address payable _burner, // @v010: address payable _burner
        uint256 _maxStorageRootItems // @v010-drop
    ) GatewayBase(_stateRootProvider, _bounty, _organization, _maxStorageRootItems) { // @v010: ) GatewayBase(_stateRootProvider, _bounty, _organization) {
        require(_valueToken != address(0), "Value token address must not be zero.");
        require(_utilityToken != address(0), "Utility token address must not be zero.");
        require(_gateway != address(0), "Gateway address must not be zero.");
        valueToken = _valueToken;
        utilityToken = _utilityToken;
        burner = _burner;
        remoteGateway = _gateway;
        encodedGatewayPath = abi.encodePacked(keccak256(abi.encodePacked(_gateway)));
        utilityTokenImm = _utilityToken;
        burnerImm = _burner;
        gatewayImm = _gateway;
    }

    function penalty(bytes32 _messageHash) external view returns (uint256) {
        return penaltyFromBounty(redeems[_messageHash].bounty);
    }

    /* ---- stake: origin -> auxiliary ---- */

    function confirmStakeIntent(
        address _staker,
        uint256 _stakerNonce,
        address _beneficiary,
        uint256 _amount,
        uint256 _gasPrice,
        uint256 _gasLimit,
        bytes32 _hashLock,
        uint256 _blockHeight,
        bytes calldata _rlpParentNodes
    ) external returns (bytes32 messageHash_) {
        uint256 initialGas = gasleft();
        require(_staker != address(0), "Staker address must not be zero.");
        require(_beneficiary != address(0), "Beneficiary address must not be zero.");
        require(_amount != 0, "Stake amount must not be zero.");
        require(_rlpParentNodes.length != 0, "RLP encoded parent nodes must not be zero.");
        require(_amount > _gasPrice * _gasLimit, "Maximum possible reward must be less than the stake amount.");
        require(UtilityTokenInterface(utilityTokenImm).exists(_beneficiary), "Beneficiary address must exist.");
        messageHash_ = confirmInboxMessage(
            STAKE_INTENT_TYPEHASH,
            gatewayImm,
            _staker,
            _stakerNonce,
            _beneficiary,
            _amount,
            _gasPrice,
            _gasLimit,
            _hashLock,
            _blockHeight,
            _rlpParentNodes
        );
        mints[messageHash_] = Mint({amount: _amount, beneficiary: _beneficiary});
        emit StakeIntentConfirmed(messageHash_, _staker, _stakerNonce, _beneficiary, _amount, _blockHeight, _hashLock);
        messages[messageHash_].gasConsumed = initialGas - gasleft();
    }

    function progressMint(bytes32 _messageHash, bytes32 _unlockSecret)
        external
        returns (address beneficiary_, uint256 stakeAmount_, uint256 mintedAmount_, uint256 rewardAmount_)
    {
        uint256 initialGas = gasleft();
        MessageBus.Message storage message = progressInboxBySecret(_messageHash, _unlockSecret);
        return progressMintInternal(_messageHash, message, initialGas, _unlockSecret, false);
    }

    function progressMintWithProof(
        bytes32 _messageHash,
        bytes calldata _rlpParentNodes,
        uint256 _blockHeight,
        uint256 _messageStatus
    ) external returns (address beneficiary_, uint256 stakeAmount_, uint256 mintedAmount_, uint256 rewardAmount_) {
        uint256 initialGas = gasleft();
        MessageBus.Message storage message =
            progressInboxByProof(_messageHash, _rlpParentNodes, _blockHeight, _messageStatus);
        return progressMintInternal(_messageHash, message, initialGas, bytes32(0), true);
    }

    function confirmRevertStakeIntent(bytes32 _messageHash, uint256 _blockHeight, bytes calldata _rlpParentNodes)
        external
        returns (address staker_, uint256 stakerNonce_, uint256 amount_)
    {
        MessageBus.Message storage message = confirmInboxRevocation(_messageHash, _blockHeight, _rlpParentNodes);
        staker_ = message.sender;
        stakerNonce_ = message.nonce;
        amount_ = mints[_messageHash].amount;
        delete mints[_messageHash];
        emit RevertStakeIntentConfirmed(_messageHash, staker_, stakerNonce_, amount_);
    }

    function progressMintInternal(
        bytes32 _messageHash,
        MessageBus.Message storage _message,
        uint256 _initialGas,
        bytes32 _unlockSecret,
        bool _proofProgress
    ) private returns (address beneficiary_, uint256 stakeAmount_, uint256 mintedAmount_, uint256 rewardAmount_) {
        Mint storage m = mints[_messageHash];
        beneficiary_ = m.beneficiary;
        stakeAmount_ = m.amount;
        rewardAmount_ = takeFee(_message, _initialGas);
        mintedAmount_ = stakeAmount_ - rewardAmount_;
        delete mints[_messageHash];
        UtilityTokenInterface ut = UtilityTokenInterface(utilityTokenImm);
        require(ut.increaseSupply(beneficiary_, mintedAmount_), "Increase supply should not fail.");
        require(ut.increaseSupply(msg.sender, rewardAmount_), "Increase supply for the reward should not fail.");
        emit MintProgressed(
            _messageHash,
            _message.sender,
            beneficiary_,
            stakeAmount_,
            mintedAmount_,
            rewardAmount_,
            _proofProgress,
            _unlockSecret
        );
    }

    /* ---- redeem: auxiliary -> origin ---- */

    function redeem(
        uint256 _amount,
        address _beneficiary,
        uint256 _gasPrice,
        uint256 _gasLimit,
        uint256 _nonce,
        bytes32 _hashLock
    ) external payable returns (bytes32 messageHash_) {
        uint256 bounty_ = bounty;
        require(msg.value == bounty_, "Payable amount should be equal to the bounty amount.");
        require(_amount > 0, "Redeem amount must not be zero.");
        require(_amount > _gasPrice * _gasLimit, "Maximum possible reward must be less than the redeem amount.");
        messageHash_ =
            declareOutboxMessage(REDEEM_INTENT_TYPEHASH, _amount, _beneficiary, _gasPrice, _gasLimit, _nonce, _hashLock);
        redeems[messageHash_] = Redeem({amount: _amount, beneficiary: _beneficiary, bounty: bounty_});
        require(
            EIP20Interface(utilityTokenImm).transferFrom(msg.sender, address(this), _amount),
            "User balance must be sufficient to cover redeem amount."
        );
        emit RedeemIntentDeclared(messageHash_, msg.sender, _nonce, _beneficiary, _amount);
    }

    function progressRedeem(bytes32 _messageHash, bytes32 _unlockSecret)
        external
        returns (address redeemer_, uint256 redeemAmount_)
    {
        MessageBus.Message storage message = progressOutboxBySecret(_messageHash, _unlockSecret);
        return progressRedeemInternal(_messageHash, message, _unlockSecret, false);
    }

    function progressRedeemWithProof(
        bytes32 _messageHash,
        bytes calldata _rlpParentNodes,
        uint256 _blockHeight,
        uint256 _messageStatus
    ) external returns (address redeemer_, uint256 redeemAmount_) {
        MessageBus.Message storage message =
            progressOutboxByProof(_messageHash, _rlpParentNodes, _blockHeight, _messageStatus);
        return progressRedeemInternal(_messageHash, message, bytes32(0), true);
    }

    function revertRedeem(bytes32 _messageHash)
        external
        payable
        returns (address redeemer_, uint256 redeemerNonce_, uint256 amount_)
    {
        MessageBus.Message storage message = revocableOutboxMessage(_messageHash);
        Redeem storage r = redeems[_messageHash];
        require(msg.value == penaltyFromBounty(r.bounty), "msg.value must match the penalty amount.");
        messageBox.declareRevocationMessage(_messageHash);
        redeemer_ = msg.sender;
        redeemerNonce_ = message.nonce;
        amount_ = r.amount;
        burnerImm.transfer(msg.value);
        emit RevertRedeemDeclared(_messageHash, redeemer_, redeemerNonce_, amount_);
    }

    function progressRevertRedeem(bytes32 _messageHash, uint256 _blockHeight, bytes calldata _rlpParentNodes)
        external
        returns (address redeemer_, uint256 redeemerNonce_, uint256 amount_)
    {
        MessageBus.Message storage message =
            progressOutboxRevocationByProof(_messageHash, _blockHeight, _rlpParentNodes);
        Redeem storage r = redeems[_messageHash];
        redeemer_ = message.sender;
        redeemerNonce_ = message.nonce;
        amount_ = r.amount;
        uint256 redeemBounty = r.bounty;
        require(
            EIP20Interface(utilityTokenImm).transfer(redeemer_, amount_), "Redeemed tokens must be returned."
        );
        burnerImm.transfer(redeemBounty);
        emit RedeemReverted(_messageHash, redeemer_, redeemerNonce_, amount_);
    }

    function progressRedeemInternal(
        bytes32 _messageHash,
        MessageBus.Message storage _message,
        bytes32 _unlockSecret,
        bool _proofProgress
    ) private returns (address redeemer_, uint256 redeemAmount_) {
        Redeem storage r = redeems[_messageHash];
        redeemer_ = _message.sender;
        redeemAmount_ = r.amount;
        require(UtilityTokenInterface(utilityTokenImm).decreaseSupply(redeemAmount_), "Burning must succeed.");
        payable(msg.sender).transfer(r.bounty);
        emit RedeemProgressed(_messageHash, redeemer_, _message.nonce, redeemAmount_, _proofProgress, _unlockSecret);
    }

    function remoteGatewayAddress() internal view override returns (address) {
        return gatewayImm;
    }

    function isOrigin() internal pure override returns (bool) {
        return false;
    }
}
