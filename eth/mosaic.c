/*
 * mosaic.c - Mosaic typehashes, intent and message hashes, storage keys
 * (see mosaic.h; mosaic-protocol.md sections 3-4).
 */
#include "mosaic.h"

#include <string.h>

#include "keccak.h"

/* abi.encode words: a uint256 and an address (left-padded to 32 bytes). */
static void absorb_u256(struct keccak256_ctx *k, const struct u256 *v)
{
    uint8_t w[32];

    u256_to_be32(v, w);
    keccak256_update(k, w, 32);
}

static void absorb_address(struct keccak256_ctx *k, const uint8_t a[20])
{
    static const uint8_t pad[12] = {0};

    keccak256_update(k, pad, sizeof(pad));
    keccak256_update(k, a, 20);
}

void mosaic_typehash(const char *type, size_t len, uint8_t out[32])
{
    static const uint8_t zeros[32] = {0};
    struct keccak256_ctx k;
    struct u256 w;

    keccak256_init(&k);
    u256_from_u64(&w, 0x20); /* offset of the dynamic string */
    absorb_u256(&k, &w);
    u256_from_u64(&w, len);
    absorb_u256(&k, &w);
    keccak256_update(&k, type, len);
    if (len % 32 != 0)
        keccak256_update(&k, zeros, 32 - len % 32);
    keccak256_final(&k, out);
}

void mosaic_intent_hash(enum mosaic_kind kind, const struct u256 *amount,
                        const uint8_t beneficiary[20], const uint8_t gateway[20], uint8_t out[32])
{
    static const char stake[] = MOSAIC_STAKE_INTENT_TYPE;
    static const char redeem[] = MOSAIC_REDEEM_INTENT_TYPE;
    struct keccak256_ctx k;
    uint8_t th[32];

    if (kind == MOSAIC_STAKE)
        mosaic_typehash(stake, sizeof(stake) - 1, th);
    else
        mosaic_typehash(redeem, sizeof(redeem) - 1, th);
    keccak256_init(&k);
    keccak256_update(&k, th, 32);
    absorb_u256(&k, amount);
    absorb_address(&k, beneficiary);
    absorb_address(&k, gateway);
    keccak256_final(&k, out);
}

void mosaic_message_hash(const struct mosaic_message *msg, uint8_t out[32])
{
    static const char type[] = MOSAIC_MESSAGE_TYPE;
    struct keccak256_ctx k;
    uint8_t th[32];

    mosaic_typehash(type, sizeof(type) - 1, th);
    keccak256_init(&k);
    keccak256_update(&k, th, 32);
    keccak256_update(&k, msg->intent_hash, 32);
    absorb_u256(&k, &msg->nonce);
    absorb_u256(&k, &msg->gas_price);
    absorb_u256(&k, &msg->gas_limit);
    absorb_address(&k, msg->sender);
    keccak256_update(&k, msg->hashlock, 32);
    keccak256_final(&k, out);
}

void mosaic_hashlock(const uint8_t secret[32], uint8_t out[32])
{
    keccak256(secret, 32, out);
}

void mosaic_mapping_slot(const uint8_t key[32], uint64_t slot, uint8_t out[32])
{
    uint8_t buf[64];
    struct u256 s;

    memcpy(buf, key, 32);
    u256_from_u64(&s, slot);
    u256_to_be32(&s, buf + 32);
    keccak256(buf, sizeof(buf), out);
}

void mosaic_outbox_slot(const uint8_t mh[32], uint64_t offset, uint8_t out[32])
{
    mosaic_mapping_slot(mh, offset, out);
}

void mosaic_inbox_slot(const uint8_t mh[32], uint64_t offset, uint8_t out[32])
{
    mosaic_mapping_slot(mh, offset + 1, out);
}

void mosaic_storage_path(const uint8_t slot[32], uint8_t out[32])
{
    keccak256(slot, 32, out);
}

int mosaic_status_leaf_hash(enum mosaic_status status, uint8_t out[32], struct mr_error *err)
{
    uint8_t b = (uint8_t)status;

    if (status < MOSAIC_DECLARED || status > MOSAIC_REVOKED)
        return mr_fail(err, MR_ERR_RANGE, "status %d has no storage leaf (only 1..4 do)",
                       (int)status);
    keccak256(&b, 1, out);
    return MR_OK;
}

const char *mosaic_status_name(int status)
{
    static const char *const names[] = {"Undeclared", "Declared", "Progressed",
                                        "DeclaredRevocation", "Revoked"};

    if (status < 0 || status > 4)
        return "unknown";
    return names[status];
}
