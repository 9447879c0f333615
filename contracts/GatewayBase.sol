// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {OrganizationInterface, StateRootInterface} from "./Interfaces.sol";
import {Organized, CircularBuffer} from "./Organized.sol";
import {MessageBus} from "./MessageBus.sol";
import {MerklePatriciaProof} from "./MerklePatriciaProof.sol";
import {RLPReader} from "./RLPReader.sol";

/**
 * @title GatewayBase: what the gateway and the co-gateway share.
 *
 * Storage layout (mosaic-protocol.md section 1.4; the slots are part of the
 * protocol: the other side proves this gateway's outbox and inbox entries):
 *    0 organization            1-2 the proven-heights ring buffer
 *    3 stateRootProvider       4 encodedGatewayPath      5 remoteGateway
 *    6 bounty                  7 proposedBounty          8 proposedBountyUnlockHeight
 *    9 messageBox.outbox      10 messageBox.inbox       11 messages
 *   12 storageRoots           13 inboxActiveProcess     14 outboxActiveProcess
 * Values that never change after construction are also kept as immutables,
 * which is what the code reads.
 */
// Lines marked "@v010" at their end give the 0.10.0-layout test variant
// (contracts/build.mjs); NatSpec would take the marker for a tag.
abstract contract GatewayBase is Organized, CircularBuffer { // @v010: abstract contract GatewayBase is Organized {
    using MessageBus for MessageBus.MessageBox;

    event GatewayProven(address _gateway, uint256 _blockHeight, bytes32 _storageRoot, bool _wasAlreadyProved);
    event BountyChangeInitiated(uint256 _currentBounty, uint256 _proposedBounty, uint256 _unlockHeight);
    event BountyChangeConfirmed(uint256 _currentBounty, uint256 _changedBounty);

    uint8 public constant MESSAGE_BOX_OFFSET = 9; // @v010: uint8 internal constant MESSAGE_BOX_OFFSET = 7;
    uint256 public constant REVOCATION_PENALTY = 150;
    uint256 public constant BOUNTY_CHANGE_UNLOCK_PERIOD = 201600;

    /** keccak256(abi.encode("StakeIntent(uint256 amount,address beneficiary,address gateway)")) */
    bytes32 internal constant STAKE_INTENT_TYPEHASH = 0xcf62bdacce8f330ac3be2a194883ab7a0b95df33418aa7aa15b30d371fd14147;
    /** keccak256(abi.encode("RedeemIntent(uint256 amount,address beneficiary,address gateway)")) */
    bytes32 internal constant REDEEM_INTENT_TYPEHASH = 0x18ff6944a9541fb7f707062953626889524f4c551bfe46264f78469355e8d0e4;

    StateRootInterface public stateRootProvider;
    bytes public encodedGatewayPath;
    address public remoteGateway;
    uint256 public bounty;
    uint256 public proposedBounty;
    uint256 public proposedBountyUnlockHeight;
    MessageBus.MessageBox internal messageBox;
    mapping(bytes32 => MessageBus.Message) public messages;
    mapping(uint256 => bytes32) internal storageRoots;
    mapping(address => bytes32) internal inboxActiveProcess;
    mapping(address => bytes32) internal outboxActiveProcess;

    StateRootInterface private immutable stateRootProviderImm;

    constructor(
        StateRootInterface _stateRootProvider,
        uint256 _bounty,
        OrganizationInterface _organization, // @v010: OrganizationInterface _organization
        uint256 _maxStorageRootItems // @v010-drop
    ) Organized(_organization) CircularBuffer(_maxStorageRootItems) { // @v010: ) Organized(_organization) {
        require(
            address(_stateRootProvider) != address(0), "State root provider contract address must not be zero."
        );
        stateRootProvider = _stateRootProvider;
        stateRootProviderImm = _stateRootProvider;
        bounty = _bounty;
    }

    /* ---- proving the remote gateway's storage root ---- */

    /**
     * Proves the remote gateway's account at `_blockHeight` against the
     * anchored state root and records its storage root for that height.
     * `_rlpAccount` is RLP([nonce, balance, storageRoot, codeHash]) and
     * `_rlpParentNodes` the RLP list of the account proof's raw nodes.
     */
    function proveGateway(uint256 _blockHeight, bytes calldata _rlpAccount, bytes calldata _rlpParentNodes)
        external
        returns (bool)
    {
        require(_rlpAccount.length != 0, "Length of RLP account must not be 0.");
        require(_rlpParentNodes.length != 0, "Length of RLP parent nodes is 0");
        bytes32 stateRoot = stateRootProviderImm.getStateRoot(_blockHeight);
        require(stateRoot != bytes32(0), "State root must not be zero");
        address remote = remoteGatewayAddress();
        bytes32 storageRoot = storageRoots[_blockHeight];
        if (storageRoot != bytes32(0)) {
            emit GatewayProven(remote, _blockHeight, storageRoot, true);
            return true;
        }
        storageRoot = RLPReader.accountStorageRoot(_rlpAccount);
        require(
            MerklePatriciaProof.verify(
                keccak256(_rlpAccount),
                abi.encodePacked(keccak256(abi.encodePacked(remote))),
                _rlpParentNodes,
                stateRoot
            ),
            "Account proof is not verified."
        );
        storageRoots[_blockHeight] = storageRoot;
        delete storageRoots[bufferStore(_blockHeight)]; // @v010-drop (0.10.0 keeps every proven root)
        emit GatewayProven(remote, _blockHeight, storageRoot, false);
        return true;
    }

    /* ---- views ---- */

    /** The next outbox nonce of `_account`: 0 first, then the last message's nonce + 1. */
    function getNonce(address _account) external view returns (uint256) {
        return nextNonce(outboxActiveProcess[_account]);
    }

    function getOutboxMessageStatus(bytes32 _messageHash) external view returns (MessageBus.MessageStatus) {
        return messageBox.outbox[_messageHash];
    }

    function getInboxMessageStatus(bytes32 _messageHash) external view returns (MessageBus.MessageStatus) {
        return messageBox.inbox[_messageHash];
    }

    function getOutboxActiveProcess(address _account)
        external
        view
        returns (bytes32 messageHash_, MessageBus.MessageStatus status_)
    {
        messageHash_ = outboxActiveProcess[_account];
        status_ = messageBox.outbox[messageHash_];
    }

    function getInboxActiveProcess(address _account)
        external
        view
        returns (bytes32 messageHash_, MessageBus.MessageStatus status_)
    {
        messageHash_ = inboxActiveProcess[_account];
        status_ = messageBox.inbox[messageHash_];
    }

    /* ---- bounty governance ---- */

    function initiateBountyAmountChange(uint256 _proposedBounty) external onlyOrganization returns (uint256) {
        uint256 unlockHeight = block.number + BOUNTY_CHANGE_UNLOCK_PERIOD;
        proposedBounty = _proposedBounty;
        proposedBountyUnlockHeight = unlockHeight;
        emit BountyChangeInitiated(bounty, _proposedBounty, unlockHeight);
        return _proposedBounty;
    }

    function confirmBountyAmountChange()
        external
        onlyOrganization
        returns (uint256 changedBountyAmount_, uint256 previousBountyAmount_)
    {
        uint256 unlockHeight = proposedBountyUnlockHeight;
        require(unlockHeight > 0, "Bounty change has not been initiated.");
        require(unlockHeight < block.number, "Confirm bounty amount change can only be done after unlock period.");
        changedBountyAmount_ = proposedBounty;
        previousBountyAmount_ = bounty;
        bounty = changedBountyAmount_;
        proposedBounty = 0;
        proposedBountyUnlockHeight = 0;
        emit BountyChangeConfirmed(previousBountyAmount_, changedBountyAmount_);
    }

    /* ---- for the gateways ---- */

    /** The remote gateway whose account proveGateway proves. */
    function remoteGatewayAddress() internal view virtual returns (address);

    function hashIntent(bytes32 _typeHash, uint256 _amount, address _beneficiary, address _gateway)
        internal
        pure
        returns (bytes32)
    {
        return keccak256(abi.encode(_typeHash, _amount, _beneficiary, _gateway));
    }

    function nextNonce(bytes32 _previousMessageHash) private view returns (uint256) {
        if (_previousMessageHash == bytes32(0)) return 0; // @v010: if (_previousMessageHash == bytes32(0)) return 1;
        return messages[_previousMessageHash].nonce + 1;
    }

    /**
     * Makes `_messageHash` the sender's active message in `_box` (the outbox
     * or the inbox, with `_active` its active processes): the nonce must be
     * the next one and the previous message finished (Progressed or
     * Revoked); the previous message's entry is deleted.
     */
    function registerProcess(
        mapping(address => bytes32) storage _active,
        mapping(bytes32 => MessageBus.MessageStatus) storage _box,
        address _account,
        uint256 _nonce,
        bytes32 _messageHash
    ) private {
        bytes32 previous = _active[_account];
        require(_nonce == nextNonce(previous), "Invalid nonce.");
        if (previous != bytes32(0)) {
            MessageBus.MessageStatus status = _box[previous];
            require(
                status == MessageBus.MessageStatus.Progressed || status == MessageBus.MessageStatus.Revoked,
                "Previous process is not completed."
            );
            delete messages[previous];
        }
        _active[_account] = _messageHash;
    }

    /** Stores a new message (gasConsumed stays 0 until a confirm records it). */
    function storeMessage(
        bytes32 _messageHash,
        bytes32 _intentHash,
        uint256 _nonce,
        uint256 _gasPrice,
        uint256 _gasLimit,
        address _sender,
        bytes32 _hashLock
    ) internal {
        MessageBus.Message storage m = messages[_messageHash];
        m.intentHash = _intentHash;
        m.nonce = _nonce;
        m.gasPrice = _gasPrice;
        m.gasLimit = _gasLimit;
        m.sender = _sender;
        m.hashLock = _hashLock;
    }

    /** The remote storage root proven at `_blockHeight`; reverts if there is none. */
    function provenStorageRoot(uint256 _blockHeight) internal view returns (bytes32 storageRoot_) {
        storageRoot_ = storageRoots[_blockHeight];
        require(storageRoot_ != bytes32(0), "Storage root must not be zero.");
    }

    /**
     * The reward for progressing an inbox message: gasPrice x min(gas used
     * by the confirm and by this progress call so far, gasLimit).  Records
     * the total as the message's gasConsumed.
     */
    function takeFee(MessageBus.Message storage _message, uint256 _initialGas) internal returns (uint256 fee_) {
        uint256 total = _initialGas + _message.gasConsumed - gasleft();
        _message.gasConsumed = total;
        uint256 limit = _message.gasLimit;
        fee_ = (total < limit ? total : limit) * _message.gasPrice;
    }

    function penaltyFromBounty(uint256 _bounty) internal pure returns (uint256) {
        return (_bounty * REVOCATION_PENALTY) / 100;
    }

    /*
     * ---- the message steps, shared by both sides ----
     *
     * The gateway's stake and the co-gateway's redeem run the same steps on
     * the outbox, the co-gateway's stake and the gateway's redeem on the
     * inbox.  What differs stays in the concrete contract: the argument
     * checks of a new message, the record of its amount and beneficiary, the
     * token and bounty transfers, and the events.  Each helper has one call
     * site per contract, so the optimizer inlines it.
     */

    /**
     * Whether this is the origin-side gateway.  Only picks the revert
     * reasons, which differ between the two sides (as in Mosaic); the
     * branches on it are on the failure paths only.
     */
    function isOrigin() internal pure virtual returns (bool);

    /** The message of an outbox (`_outbox`) or inbox step must exist. */
    function requireIntent(MessageBus.Message storage _message, bool _outbox) private view {
        if (_message.intentHash == bytes32(0)) {
            // Stakes are the origin's outbox and the auxiliary side's inbox.
            if (isOrigin() == _outbox) revert("StakeIntentHash must not be zero.");
            revert("RedeemIntentHash must not be zero.");
        }
    }

    function requireParentNodes(bytes calldata _rlpParentNodes) private pure {
        if (_rlpParentNodes.length == 0) {
            if (isOrigin()) revert("RLP parent nodes must not be zero.");
            revert("RLP encoded parent nodes must not be zero.");
        }
    }

    /* -- source side: stake on the gateway, redeem on the co-gateway -- */

    /**
     * Declares msg.sender's new outbox message for an intent of `_typeHash`
     * towards this gateway; the caller has checked the arguments.
     */
    function declareOutboxMessage(
        bytes32 _typeHash,
        uint256 _amount,
        address _beneficiary,
        uint256 _gasPrice,
        uint256 _gasLimit,
        uint256 _nonce,
        bytes32 _hashLock
    ) internal returns (bytes32 messageHash_) {
        bytes32 intentHash = hashIntent(_typeHash, _amount, _beneficiary, address(this));
        messageHash_ = MessageBus.messageDigest(intentHash, _nonce, _gasPrice, _gasLimit, msg.sender, _hashLock);
        registerProcess(outboxActiveProcess, messageBox.outbox, msg.sender, _nonce, messageHash_);
        storeMessage(messageHash_, intentHash, _nonce, _gasPrice, _gasLimit, msg.sender, _hashLock);
        messageBox.declareMessage(messageHash_);
    }

    /** progressStake / progressRedeem: Declared -> Progressed by the unlock secret. */
    function progressOutboxBySecret(bytes32 _messageHash, bytes32 _unlockSecret)
        internal
        returns (MessageBus.Message storage message_)
    {
        require(_messageHash != bytes32(0), "Message hash must not be zero.");
        message_ = messages[_messageHash];
        messageBox.progressOutbox(_messageHash, message_.hashLock, _unlockSecret);
    }

    /** progressStakeWithProof / progressRedeemWithProof: by a proof of the remote inbox. */
    function progressOutboxByProof(
        bytes32 _messageHash,
        bytes calldata _rlpParentNodes,
        uint256 _blockHeight,
        uint256 _messageStatus
    ) internal returns (MessageBus.Message storage message_) {
        require(_messageHash != bytes32(0), "Message hash must not be zero.");
        require(_rlpParentNodes.length > 0, "RLP encoded parent nodes must not be zero.");
        bytes32 storageRoot = provenStorageRoot(_blockHeight);
        messageBox.progressOutboxWithProof(
            _messageHash, _rlpParentNodes, MESSAGE_BOX_OFFSET, storageRoot, MessageBus.toStatus(_messageStatus)
        );
        message_ = messages[_messageHash];
    }

    /**
     * revertStake / revertRedeem: the checks before the sender declares the
     * revocation (which the caller does, after any checks of its own).
     */
    function revocableOutboxMessage(bytes32 _messageHash) internal view returns (MessageBus.Message storage message_) {
        require(_messageHash != bytes32(0), "Message hash must not be zero.");
        message_ = messages[_messageHash];
        requireIntent(message_, true);
        if (message_.sender != msg.sender) {
            if (isOrigin()) revert("Only staker can revert stake.");
            revert("Only redeemer can revert redeem.");
        }
    }

    /** progressRevertStake / progressRevertRedeem: by a proof that the remote inbox holds Revoked. */
    function progressOutboxRevocationByProof(bytes32 _messageHash, uint256 _blockHeight, bytes calldata _rlpParentNodes)
        internal
        returns (MessageBus.Message storage message_)
    {
        require(_messageHash != bytes32(0), "Message hash must not be zero.");
        requireParentNodes(_rlpParentNodes);
        message_ = messages[_messageHash];
        requireIntent(message_, true);
        bytes32 storageRoot = provenStorageRoot(_blockHeight);
        messageBox.progressOutboxRevocation(_messageHash, MESSAGE_BOX_OFFSET, _rlpParentNodes, storageRoot);
    }

    /* -- target side: stake on the co-gateway, redeem on the gateway -- */

    /**
     * confirmStakeIntent / confirmRedeemIntent: stores `_sender`'s message
     * for an intent of `_typeHash` towards `_gateway` and confirms it by a
     * proof of the remote outbox; the caller has checked the arguments.
     */
    function confirmInboxMessage(
        bytes32 _typeHash,
        address _gateway,
        address _sender,
        uint256 _nonce,
        address _beneficiary,
        uint256 _amount,
        uint256 _gasPrice,
        uint256 _gasLimit,
        bytes32 _hashLock,
        uint256 _blockHeight,
        bytes calldata _rlpParentNodes
    ) internal returns (bytes32 messageHash_) {
        bytes32 intentHash = hashIntent(_typeHash, _amount, _beneficiary, _gateway);
        messageHash_ = MessageBus.messageDigest(intentHash, _nonce, _gasPrice, _gasLimit, _sender, _hashLock);
        registerProcess(inboxActiveProcess, messageBox.inbox, _sender, _nonce, messageHash_);
        storeMessage(messageHash_, intentHash, _nonce, _gasPrice, _gasLimit, _sender, _hashLock);
        messageBox.confirmMessage(messageHash_, _rlpParentNodes, MESSAGE_BOX_OFFSET, provenStorageRoot(_blockHeight));
    }

    /** progressMint / progressUnstake: Declared -> Progressed by the unlock secret. */
    function progressInboxBySecret(bytes32 _messageHash, bytes32 _unlockSecret)
        internal
        returns (MessageBus.Message storage message_)
    {
        require(_messageHash != bytes32(0), "Message hash must not be zero.");
        message_ = messages[_messageHash];
        messageBox.progressInbox(_messageHash, message_.hashLock, _unlockSecret);
    }

    /** progressMintWithProof / progressUnstakeWithProof: by a proof of the remote outbox. */
    function progressInboxByProof(
        bytes32 _messageHash,
        bytes calldata _rlpParentNodes,
        uint256 _blockHeight,
        uint256 _messageStatus
    ) internal returns (MessageBus.Message storage message_) {
        require(_messageHash != bytes32(0), "Message hash must not be zero.");
        requireParentNodes(_rlpParentNodes);
        bytes32 storageRoot = provenStorageRoot(_blockHeight);
        messageBox.progressInboxWithProof(
            _messageHash, _rlpParentNodes, MESSAGE_BOX_OFFSET, storageRoot, MessageBus.toStatus(_messageStatus)
        );
        message_ = messages[_messageHash];
    }

    /** confirmRevertStakeIntent / confirmRevertRedeemIntent: by a proof that the remote outbox holds DeclaredRevocation. */
    function confirmInboxRevocation(bytes32 _messageHash, uint256 _blockHeight, bytes calldata _rlpParentNodes)
        internal
        returns (MessageBus.Message storage message_)
    {
        require(_messageHash != bytes32(0), "Message hash must not be zero.");
        requireParentNodes(_rlpParentNodes);
        message_ = messages[_messageHash];
        requireIntent(message_, false);
        bytes32 storageRoot = provenStorageRoot(_blockHeight);
        messageBox.confirmRevocation(_messageHash, _rlpParentNodes, MESSAGE_BOX_OFFSET, storageRoot);
    }
}
