// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {MerklePatriciaProof} from "./MerklePatriciaProof.sol";

/**
 * @title MessageBus: the message state machine of the gateways.
 *
 * The same statuses, transitions and proofs as the Mosaic MessageBus
 * (mosaic-protocol.md section 4.1), as internal functions compiled into the
 * gateways instead of an external library reached by delegatecall.  A
 * status proof is a storage proof of the *remote* gateway's outbox or inbox
 * entry: slot keccak256(mh . uint256(9 + 0|1)), trie path keccak256(slot),
 * value keccak256(uint8 status).  Proofs are checked by the linked
 * MerklePatriciaProof library.
 *
 * The transitions take the message hash, not the message: a gateway only
 * reaches them for a hash whose status it holds, and it stores the message
 * under its digest, so the digest need not be recomputed from storage.
 */
library MessageBus {
    enum MessageStatus {
        Undeclared,
        Declared,
        Progressed,
        DeclaredRevocation,
        Revoked
    }

    struct MessageBox {
        mapping(bytes32 => MessageStatus) outbox;
        mapping(bytes32 => MessageStatus) inbox;
    }

    /** Seven storage slots, in the Mosaic order (the `messages` getter returns them). */
    struct Message {
        bytes32 intentHash;
        uint256 nonce;
        uint256 gasPrice;
        uint256 gasLimit;
        address sender;
        bytes32 hashLock;
        uint256 gasConsumed;
    }

    /** keccak256(abi.encode("Message(bytes32 intentHash,uint256 nonce,uint256 gasPrice,uint256 gasLimit,address sender,bytes32 hashLock)")) */
    bytes32 internal constant MESSAGE_TYPEHASH = 0xd817c36cc79a8bbc2d465d4d100850efa54839052f5a44c2aa33c19679c9faa0;

    uint8 internal constant OUTBOX_OFFSET = 0;
    uint8 internal constant INBOX_OFFSET = 1;

    function messageDigest(
        bytes32 _intentHash,
        uint256 _nonce,
        uint256 _gasPrice,
        uint256 _gasLimit,
        address _sender,
        bytes32 _hashLock
    ) internal pure returns (bytes32) {
        return keccak256(abi.encode(MESSAGE_TYPEHASH, _intentHash, _nonce, _gasPrice, _gasLimit, _sender, _hashLock));
    }

    /* ---- source side: the outbox ---- */

    function declareMessage(MessageBox storage _box, bytes32 _messageHash) internal {
        require(_box.outbox[_messageHash] == MessageStatus.Undeclared, "Message on source must be Undeclared.");
        _box.outbox[_messageHash] = MessageStatus.Declared;
    }

    function progressOutbox(MessageBox storage _box, bytes32 _messageHash, bytes32 _hashLock, bytes32 _unlockSecret)
        internal
    {
        require(_hashLock == keccak256(abi.encode(_unlockSecret)), "Invalid unlock secret.");
        require(_box.outbox[_messageHash] == MessageStatus.Declared, "Message on source must be Declared.");
        _box.outbox[_messageHash] = MessageStatus.Progressed;
    }

    /** Proof that the target inbox holds `_status` (Declared or Progressed; only Progressed after a revocation). */
    function progressOutboxWithProof(
        MessageBox storage _box,
        bytes32 _messageHash,
        bytes calldata _rlpParentNodes,
        uint8 _messageBoxOffset,
        bytes32 _storageRoot,
        MessageStatus _status
    ) internal {
        MessageStatus source = _box.outbox[_messageHash];
        if (source == MessageStatus.Declared) {
            require(
                _status == MessageStatus.Declared || _status == MessageStatus.Progressed,
                "Message on target must be Declared or Progressed."
            );
        } else if (source == MessageStatus.DeclaredRevocation) {
            require(_status == MessageStatus.Progressed, "Message on target must be Progressed.");
        } else {
            revert("Status of message on source must be Declared or DeclareRevocation.");
        }
        proveStatus(_messageHash, _messageBoxOffset + INBOX_OFFSET, _status, _rlpParentNodes, _storageRoot);
        _box.outbox[_messageHash] = MessageStatus.Progressed;
    }

    function declareRevocationMessage(MessageBox storage _box, bytes32 _messageHash) internal {
        require(_box.outbox[_messageHash] == MessageStatus.Declared, "Message on source must be Declared.");
        _box.outbox[_messageHash] = MessageStatus.DeclaredRevocation;
    }

    /** Proof that the target inbox holds Revoked. */
    function progressOutboxRevocation(
        MessageBox storage _box,
        bytes32 _messageHash,
        uint8 _messageBoxOffset,
        bytes calldata _rlpParentNodes,
        bytes32 _storageRoot
    ) internal {
        require(
            _box.outbox[_messageHash] == MessageStatus.DeclaredRevocation,
            "Message status must be DeclaredRevocation."
        );
        proveStatus(
            _messageHash, _messageBoxOffset + INBOX_OFFSET, MessageStatus.Revoked, _rlpParentNodes, _storageRoot
        );
        _box.outbox[_messageHash] = MessageStatus.Revoked;
    }

    /* ---- target side: the inbox ---- */

    /** Proof that the source outbox holds Declared. */
    function confirmMessage(
        MessageBox storage _box,
        bytes32 _messageHash,
        bytes calldata _rlpParentNodes,
        uint8 _messageBoxOffset,
        bytes32 _storageRoot
    ) internal {
        require(_box.inbox[_messageHash] == MessageStatus.Undeclared, "Message on target must be Undeclared.");
        proveStatus(
            _messageHash, _messageBoxOffset + OUTBOX_OFFSET, MessageStatus.Declared, _rlpParentNodes, _storageRoot
        );
        _box.inbox[_messageHash] = MessageStatus.Declared;
    }

    function progressInbox(MessageBox storage _box, bytes32 _messageHash, bytes32 _hashLock, bytes32 _unlockSecret)
        internal
    {
        require(_hashLock == keccak256(abi.encode(_unlockSecret)), "Invalid unlock secret.");
        require(_box.inbox[_messageHash] == MessageStatus.Declared, "Message on target status must be Declared.");
        _box.inbox[_messageHash] = MessageStatus.Progressed;
    }

    /** Proof that the source outbox holds `_status` (Declared or Progressed). */
    function progressInboxWithProof(
        MessageBox storage _box,
        bytes32 _messageHash,
        bytes calldata _rlpParentNodes,
        uint8 _messageBoxOffset,
        bytes32 _storageRoot,
        MessageStatus _status
    ) internal {
        require(_box.inbox[_messageHash] == MessageStatus.Declared, "Message on target must be Declared.");
        require(
            _status == MessageStatus.Declared || _status == MessageStatus.Progressed,
            "Message on source must be Declared or Progressed."
        );
        proveStatus(_messageHash, _messageBoxOffset + OUTBOX_OFFSET, _status, _rlpParentNodes, _storageRoot);
        _box.inbox[_messageHash] = MessageStatus.Progressed;
    }

    /** Proof that the source outbox holds DeclaredRevocation. */
    function confirmRevocation(
        MessageBox storage _box,
        bytes32 _messageHash,
        bytes calldata _rlpParentNodes,
        uint8 _messageBoxOffset,
        bytes32 _storageRoot
    ) internal {
        require(_box.inbox[_messageHash] == MessageStatus.Declared, "Message on target must be Declared.");
        proveStatus(
            _messageHash,
            _messageBoxOffset + OUTBOX_OFFSET,
            MessageStatus.DeclaredRevocation,
            _rlpParentNodes,
            _storageRoot
        );
        _box.inbox[_messageHash] = MessageStatus.Revoked;
    }

    /* ---- proofs ---- */

    /** Requires a proof that mapping slot `_slot` of the remote gateway holds `_status` at `_messageHash`. */
    function proveStatus(
        bytes32 _messageHash,
        uint256 _slot,
        MessageStatus _status,
        bytes calldata _rlpParentNodes,
        bytes32 _storageRoot
    ) internal pure {
        bytes32 path = keccak256(abi.encode(keccak256(abi.encode(_messageHash, _slot))));
        require(
            MerklePatriciaProof.verify(
                keccak256(abi.encodePacked(uint8(_status))), abi.encodePacked(path), _rlpParentNodes, _storageRoot
            ),
            "Merkle proof verification failed."
        );
    }

    /** The status named by a call argument (reverts outside 0..4, as an enum conversion does). */
    function toStatus(uint256 _status) internal pure returns (MessageStatus) {
        require(_status <= uint256(MessageStatus.Revoked), "Invalid message status.");
        return MessageStatus(_status);
    }
}
