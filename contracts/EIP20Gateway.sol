// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {EIP20Interface, OrganizationInterface, StateRootInterface} from "./Interfaces.sol";
import {GatewayBase} from "./GatewayBase.sol";
import {MessageBus} from "./MessageBus.sol";
import {SimpleStake} from "./SimpleStake.sol";

/**
 * @title EIP20Gateway: the origin side. Stakes value tokens (held in the
 * SimpleStake vault once progressed) and releases them when a redeem on the
 * auxiliary chain is confirmed and progressed here.
 *
 * Storage after the base: 15 activated + stakeVault, 16 valueToken,
 * 17 baseToken, 18 burner, 19 stakes, 20 unstakes.  A stake records its
 * amount and the bounty in force (not its beneficiary, which nothing on
 * this chain reads).
 */
contract EIP20Gateway is GatewayBase {
    using MessageBus for MessageBus.MessageBox;

    event StakeIntentDeclared(
        bytes32 indexed _messageHash, address _staker, uint256 _stakerNonce, address _beneficiary, uint256 _amount
    );
    event StakeProgressed(
        bytes32 indexed _messageHash,
        address _staker,
        uint256 _stakerNonce,
        uint256 _amount,
        bool _proofProgress,
        bytes32 _unlockSecret
    );
    event RevertStakeIntentDeclared(
        bytes32 indexed _messageHash, address _staker, uint256 _stakerNonce, uint256 _amount
    );
    event StakeReverted(bytes32 indexed _messageHash, address _staker, uint256 _stakerNonce, uint256 _amount);
    event RedeemIntentConfirmed(
        bytes32 indexed _messageHash,
        address _redeemer,
        uint256 _redeemerNonce,
        address _beneficiary,
        uint256 _amount,
        uint256 _blockHeight,
        bytes32 _hashLock
    );
    event UnstakeProgressed(
        bytes32 indexed _messageHash,
        address _redeemer,
        address _beneficiary,
        uint256 _redeemAmount,
        uint256 _unstakeAmount,
        uint256 _rewardAmount,
        bool _proofProgress,
        bytes32 _unlockSecret
    );
    event RevertRedeemIntentConfirmed(
        bytes32 indexed _messageHash, address _redeemer, uint256 _redeemerNonce, uint256 _amount
    );
    /** Declared, as in the Mosaic contracts, but never emitted. */
    event RevertRedeemComplete(
        bytes32 indexed _messageHash, address _redeemer, uint256 _redeemerNonce, uint256 _amount
    );

    struct Stake {
        uint256 amount;
        uint256 bounty;
    }

    struct Unstake {
        uint256 amount;
        address beneficiary;
    }

    bool public activated;
    SimpleStake public stakeVault;
    address public valueToken;
    address public baseToken;
    address public burner;
    mapping(bytes32 => Stake) private stakes;
    mapping(bytes32 => Unstake) private unstakes;

    EIP20Interface private immutable valueTokenImm;
    EIP20Interface private immutable baseTokenImm;
    address private immutable burnerImm;
    SimpleStake private immutable stakeVaultImm;

    constructor(
        EIP20Interface _token,
        EIP20Interface _baseToken,
        StateRootInterface _stateRootProvider,
        uint256 _bounty,
        OrganizationInterface _organization,
        address _burner, // @v010: address _burner
        uint256 _maxStorageRootItems // @v010-drop
    ) GatewayBase(_stateRootProvider, _bounty, _organization, _maxStorageRootItems) { // @v010: ) GatewayBase(_stateRootProvider, _bounty, _organization) {
        require(address(_token) != address(0), "Token contract address must not be zero.");
        require(address(_baseToken) != address(0), "Base token contract address for bounty must not be zero");
        valueToken = address(_token);
        baseToken = address(_baseToken);
        burner = _burner;
        valueTokenImm = _token;
        baseTokenImm = _baseToken;
        burnerImm = _burner;
        SimpleStake vault = new SimpleStake(_token, address(this));
        stakeVault = vault;
        stakeVaultImm = vault;
    }

    /** The value token (the Mosaic 0.10 name of valueToken). */
    function token() external view returns (address) {
        return valueToken;
    }

    function activateGateway(address _coGatewayAddress) external onlyOrganization returns (bool success_) {
        require(_coGatewayAddress != address(0), "Co-gateway address must not be zero.");
        require(remoteGateway == address(0), "Gateway was already activated once.");
        remoteGateway = _coGatewayAddress;
        encodedGatewayPath = abi.encodePacked(keccak256(abi.encodePacked(_coGatewayAddress)));
        activated = true;
        success_ = true;
    }

    function deactivateGateway() external onlyOrganization returns (bool success_) {
        require(activated, "Gateway is already deactivated.");
        activated = false;
        success_ = true;
    }

    function penalty(bytes32 _messageHash) external view returns (uint256) {
        return penaltyFromBounty(stakes[_messageHash].bounty);
    }

    /* ---- stake: origin -> auxiliary ---- */

    function stake(
        uint256 _amount,
        address _beneficiary,
        uint256 _gasPrice,
        uint256 _gasLimit,
        uint256 _nonce,
        bytes32 _hashLock
    ) external returns (bytes32 messageHash_) {
        require(activated, "Gateway is not activated.");
        require(_amount > 0, "Stake amount must not be zero.");
        require(_beneficiary != address(0), "Beneficiary address must not be zero.");
        require(_amount > _gasPrice * _gasLimit, "Maximum possible reward must be less than the stake amount.");
        messageHash_ =
            declareOutboxMessage(STAKE_INTENT_TYPEHASH, _amount, _beneficiary, _gasPrice, _gasLimit, _nonce, _hashLock);
        uint256 bounty_ = bounty;
        stakes[messageHash_] = Stake({amount: _amount, bounty: bounty_});
        require(
            valueTokenImm.transferFrom(msg.sender, address(this), _amount),
            "Stake amount must be transferred to gateway"
        );
        require(
            baseTokenImm.transferFrom(msg.sender, address(this), bounty_),
            "Bounty amount must be transferred to gateway"
        );
        emit StakeIntentDeclared(messageHash_, msg.sender, _nonce, _beneficiary, _amount);
    }

    function progressStake(bytes32 _messageHash, bytes32 _unlockSecret)
        external
        returns (address staker_, uint256 stakeAmount_)
    {
        MessageBus.Message storage message = progressOutboxBySecret(_messageHash, _unlockSecret);
        return progressStakeInternal(_messageHash, message, _unlockSecret, false);
    }

    function progressStakeWithProof(
        bytes32 _messageHash,
        bytes calldata _rlpParentNodes,
        uint256 _blockHeight,
        uint256 _messageStatus
    ) external returns (address staker_, uint256 stakeAmount_) {
        MessageBus.Message storage message =
            progressOutboxByProof(_messageHash, _rlpParentNodes, _blockHeight, _messageStatus);
        return progressStakeInternal(_messageHash, message, bytes32(0), true);
    }

    function revertStake(bytes32 _messageHash)
        external
        returns (address staker_, uint256 stakerNonce_, uint256 amount_)
    {
        MessageBus.Message storage message = revocableOutboxMessage(_messageHash);
        messageBox.declareRevocationMessage(_messageHash);
        Stake storage s = stakes[_messageHash];
        staker_ = msg.sender;
        stakerNonce_ = message.nonce;
        amount_ = s.amount;
        require(
            baseTokenImm.transferFrom(msg.sender, burnerImm, penaltyFromBounty(s.bounty)),
            "Staker must approve gateway for penalty amount."
        );
        emit RevertStakeIntentDeclared(_messageHash, staker_, stakerNonce_, amount_);
    }

    function progressRevertStake(bytes32 _messageHash, uint256 _blockHeight, bytes calldata _rlpParentNodes)
        external
        returns (address staker_, uint256 stakerNonce_, uint256 amount_)
    {
        MessageBus.Message storage message =
            progressOutboxRevocationByProof(_messageHash, _blockHeight, _rlpParentNodes);
        Stake storage s = stakes[_messageHash];
        staker_ = message.sender;
        stakerNonce_ = message.nonce;
        amount_ = s.amount;
        uint256 stakeBounty = s.bounty;
        require(valueTokenImm.transfer(staker_, amount_), "Staked amount must be returned to the staker.");
        require(baseTokenImm.transfer(burnerImm, stakeBounty), "Bounty must be burned.");
        emit StakeReverted(_messageHash, staker_, stakerNonce_, amount_);
    }

    function progressStakeInternal(
        bytes32 _messageHash,
        MessageBus.Message storage _message,
        bytes32 _unlockSecret,
        bool _proofProgress
    ) private returns (address staker_, uint256 stakeAmount_) {
        Stake storage s = stakes[_messageHash];
        staker_ = _message.sender;
        stakeAmount_ = s.amount;
        require(
            valueTokenImm.transfer(address(stakeVaultImm), stakeAmount_),
            "Staked amount must be transferred to stake vault."
        );
        require(baseTokenImm.transfer(msg.sender, s.bounty), "Bounty must be transferred to msg.sender.");
        emit StakeProgressed(_messageHash, staker_, _message.nonce, stakeAmount_, _proofProgress, _unlockSecret);
    }

    /* ---- redeem: auxiliary -> origin ---- */

    function confirmRedeemIntent(
        address _redeemer,
        uint256 _redeemerNonce,
        address _beneficiary,
        uint256 _amount,
        uint256 _gasPrice,
        uint256 _gasLimit,
        uint256 _blockHeight,
        bytes32 _hashLock,
        bytes calldata _rlpParentNodes
    ) external returns (bytes32 messageHash_) {
        uint256 initialGas = gasleft();
        require(_redeemer != address(0), "Redeemer address must not be zero.");
        require(_beneficiary != address(0), "Beneficiary address must not be zero.");
        require(_amount != 0, "Redeem amount must not be zero.");
        require(_rlpParentNodes.length > 0, "RLP parent nodes must not be zero.");
        require(_amount > _gasPrice * _gasLimit, "Maximum possible reward must be less than the redeem amount.");
        messageHash_ = confirmInboxMessage(
            REDEEM_INTENT_TYPEHASH,
            remoteGateway,
            _redeemer,
            _redeemerNonce,
            _beneficiary,
            _amount,
            _gasPrice,
            _gasLimit,
            _hashLock,
            _blockHeight,
            _rlpParentNodes
        );
        unstakes[messageHash_] = Unstake({amount: _amount, beneficiary: _beneficiary});
        emit RedeemIntentConfirmed(
            messageHash_, _redeemer, _redeemerNonce, _beneficiary, _amount, _blockHeight, _hashLock
        );
        messages[messageHash_].gasConsumed = initialGas - gasleft();
    }

    function progressUnstake(bytes32 _messageHash, bytes32 _unlockSecret)
        external
        returns (uint256 redeemAmount_, uint256 unstakeAmount_, uint256 rewardAmount_)
    {
        uint256 initialGas = gasleft();
        MessageBus.Message storage message = progressInboxBySecret(_messageHash, _unlockSecret);
        return progressUnstakeInternal(_messageHash, message, initialGas, _unlockSecret, false);
    }

    function progressUnstakeWithProof(
        bytes32 _messageHash,
        bytes calldata _rlpParentNodes,
        uint256 _blockHeight,
        uint256 _messageStatus
    ) external returns (uint256 redeemAmount_, uint256 unstakeAmount_, uint256 rewardAmount_) {
        uint256 initialGas = gasleft();
        MessageBus.Message storage message =
            progressInboxByProof(_messageHash, _rlpParentNodes, _blockHeight, _messageStatus);
        return progressUnstakeInternal(_messageHash, message, initialGas, bytes32(0), true);
    }

    function confirmRevertRedeemIntent(bytes32 _messageHash, uint256 _blockHeight, bytes calldata _rlpParentNodes)
        external
        returns (address redeemer_, uint256 redeemerNonce_, uint256 amount_)
    {
        MessageBus.Message storage message = confirmInboxRevocation(_messageHash, _blockHeight, _rlpParentNodes);
        redeemer_ = message.sender;
        redeemerNonce_ = message.nonce;
        amount_ = unstakes[_messageHash].amount;
        delete unstakes[_messageHash];
        emit RevertRedeemIntentConfirmed(_messageHash, redeemer_, redeemerNonce_, amount_);
    }

    function progressUnstakeInternal(
        bytes32 _messageHash,
        MessageBus.Message storage _message,
        uint256 _initialGas,
        bytes32 _unlockSecret,
        bool _proofProgress
    ) private returns (uint256 redeemAmount_, uint256 unstakeAmount_, uint256 rewardAmount_) {
        Unstake storage u = unstakes[_messageHash];
        address beneficiary = u.beneficiary;
        redeemAmount_ = u.amount;
        rewardAmount_ = takeFee(_message, _initialGas);
        unstakeAmount_ = redeemAmount_ - rewardAmount_;
        delete unstakes[_messageHash];
        require(stakeVaultImm.releaseTo(beneficiary, unstakeAmount_), "Unstake amount must be released.");
        require(stakeVaultImm.releaseTo(msg.sender, rewardAmount_), "Reward must be released.");
        emit UnstakeProgressed(
            _messageHash,
            _message.sender,
            beneficiary,
            redeemAmount_,
            unstakeAmount_,
            rewardAmount_,
            _proofProgress,
            _unlockSecret
        );
    }

    function remoteGatewayAddress() internal view override returns (address) {
        return remoteGateway;
    }

    function isOrigin() internal pure override returns (bool) {
        return true;
    }
}
