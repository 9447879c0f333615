/*
 * mosaic.h - the hashes and storage keys of the Mosaic-0 gateway protocol
 * (mosaic-protocol.md sections 3 and 4, OpenST mosaic-contracts 0.10-0.12).
 *
 * Typehashes are keccak256(abi.encode(string)), not EIP-712's keccak256 of
 * the raw type string (section 3.1).  Intent and message hashes are keccak256
 * of the abi.encode of a typehash and static fields (section 3.2).  A status
 * lives in the gateway's outbox or inbox mapping; the slot of outbox[mh] is
 * keccak256(mh || uint256(offset)) and the inbox sits at offset + 1
 * (section 4.2), where offset is 9 on 0.11+ and 7 on 0.10.0 (section 1.3).
 *
 * Pure: no I/O, no globals, no allocation.
 */
#ifndef MR_MOSAIC_H
#define MR_MOSAIC_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "u256.h"

/* Storage slot of messageBox.outbox (inbox = + 1). */
#define MOSAIC_MESSAGE_BOX_OFFSET 9      /* 0.11, 0.12, develop */
#define MOSAIC_MESSAGE_BOX_OFFSET_V010 7 /* the 0.10.0 release */

/* The type strings hashed into the typehashes (section 3.1). */
#define MOSAIC_MESSAGE_TYPE \
    "Message(bytes32 intentHash,uint256 nonce,uint256 gasPrice,uint256 gasLimit," \
    "address sender,bytes32 hashLock)"
#define MOSAIC_STAKE_INTENT_TYPE "StakeIntent(uint256 amount,address beneficiary,address gateway)"
#define MOSAIC_REDEEM_INTENT_TYPE "RedeemIntent(uint256 amount,address beneficiary,address gateway)"

/* MessageBus.MessageStatus (section 4.1). */
enum mosaic_status {
    MOSAIC_UNDECLARED = 0,
    MOSAIC_DECLARED = 1,
    MOSAIC_PROGRESSED = 2,
    MOSAIC_DECLARED_REVOCATION = 3,
    MOSAIC_REVOKED = 4
};

enum mosaic_kind { MOSAIC_STAKE, MOSAIC_REDEEM };

/* The fields hashed into a message hash (gasConsumed is not). */
struct mosaic_message {
    uint8_t intent_hash[32];
    struct u256 nonce;
    struct u256 gas_price;
    struct u256 gas_limit;
    uint8_t sender[20];    /* the staker or redeemer (or their proxy) */
    uint8_t hashlock[32];  /* keccak256(unlock secret) */
};

/* keccak256(abi.encode(string type)): offset word 0x20, length word, the
 * bytes zero-padded to 32.  In: type[len].  Out: out[32]. */
void mosaic_typehash(const char *type, size_t len, uint8_t out[32]);

/* Stake or redeem intent hash: keccak256(abi.encode(typehash, amount,
 * beneficiary, gateway)).  `gateway` is the origin EIP20Gateway for a stake
 * and the auxiliary EIP20CoGateway for a redeem.  Out: out[32]. */
void mosaic_intent_hash(enum mosaic_kind kind, const struct u256 *amount,
                        const uint8_t beneficiary[20], const uint8_t gateway[20], uint8_t out[32]);

/* keccak256 of the 224-byte abi.encode(MESSAGE_TYPEHASH, intentHash, nonce,
 * gasPrice, gasLimit, sender, hashLock).  Out: out[32]. */
void mosaic_message_hash(const struct mosaic_message *msg, uint8_t out[32]);

/* hashLock = keccak256(secret[32]).  The secret is borrowed, not wiped. */
void mosaic_hashlock(const uint8_t secret[32], uint8_t out[32]);

/* Slot of mapping[key] for a mapping declared at `slot`: keccak256(key[32]
 * || uint256(slot)) (Solidity storage layout).  Out: out[32]. */
void mosaic_mapping_slot(const uint8_t key[32], uint64_t slot, uint8_t out[32]);

/* Slots of outbox[mh] and inbox[mh] for a message box at `offset` (9, or 7
 * on 0.10.0): the key to pass to eth_getProof.  Out: out[32]. */
void mosaic_outbox_slot(const uint8_t mh[32], uint64_t offset, uint8_t out[32]);
void mosaic_inbox_slot(const uint8_t mh[32], uint64_t offset, uint8_t out[32]);

/* Secure-trie path of a storage slot: keccak256(slot[32]).  Out: out[32]. */
void mosaic_storage_path(const uint8_t slot[32], uint8_t out[32]);

/* keccak256(abi.encodePacked(uint8 status)): the value hash the contract's
 * MerklePatriciaProof.verify expects for a status leaf.  Only statuses 1..4
 * can be proven (an Undeclared slot has no leaf).  Out: out[32].
 * Returns MR_OK or MR_ERR_RANGE. */
int mosaic_status_leaf_hash(enum mosaic_status status, uint8_t out[32], struct mr_error *err);

/* "Undeclared", "Declared", ...; "unknown" outside 0..4.  Static string. */
const char *mosaic_status_name(int status);

#endif /* MR_MOSAIC_H */
