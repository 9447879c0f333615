/*
 * events.c - decoding of the Mosaic events and the checks of declared
 * intents (see events.h).
 */
#include "watchers/events.h"

#include <stdio.h>
#include <string.h>

#include "eth/hex.h"

#define A WATCH_T_ADDRESS
#define U WATCH_T_UINT
#define B WATCH_T_BYTES32
#define T WATCH_T_BOOL

/* mosaic-protocol.md §2.6; topic0 = keccak256 of the canonical signature
 * (checked against the signatures by tests/unit/test_watch_events.c). */
static const struct watch_kind_info kinds[WATCH_KIND_COUNT] = {
    {WATCH_STAKE_INTENT_DECLARED, "StakeIntentDeclared",
     "StakeIntentDeclared(bytes32,address,uint256,address,uint256)",
     "0x1dc8ba34c8d75b6e750df7dadcf65dd6d6a7910483bcea2779971f587bade954", WATCH_FROM_GATEWAY, 1,
     4, {{"staker", A}, {"stakerNonce", U}, {"beneficiary", A}, {"amount", U}}},
    {WATCH_STAKE_PROGRESSED, "StakeProgressed",
     "StakeProgressed(bytes32,address,uint256,uint256,bool,bytes32)",
     "0xdad617859b2a7c1564706e0938a2689fb1e47e43494954d08b90fb7dff784a8b", WATCH_FROM_GATEWAY, 1,
     5, {{"staker", A}, {"stakerNonce", U}, {"amount", U}, {"proofProgress", T},
         {"unlockSecret", B}}},
    {WATCH_REVERT_STAKE_INTENT_DECLARED, "RevertStakeIntentDeclared",
     "RevertStakeIntentDeclared(bytes32,address,uint256,uint256)",
     "0x7db334432ffc05820ab5581a94da967946ca219ccb89a376bbfff75d7bf15592", WATCH_FROM_GATEWAY, 1,
     3, {{"staker", A}, {"stakerNonce", U}, {"amount", U}}},
    {WATCH_STAKE_REVERTED, "StakeReverted", "StakeReverted(bytes32,address,uint256,uint256)",
     "0x4259cc74a1169febcb3cb858142524599da133401841e489e8add6adbb273b4a", WATCH_FROM_GATEWAY, 1,
     3, {{"staker", A}, {"stakerNonce", U}, {"amount", U}}},
    {WATCH_REDEEM_INTENT_CONFIRMED, "RedeemIntentConfirmed",
     "RedeemIntentConfirmed(bytes32,address,uint256,address,uint256,uint256,bytes32)",
     "0xba4ac3e715e17f26685ca6074bc68752bdaf9c2ed6d196b7c8ebf0a445601a9c", WATCH_FROM_GATEWAY, 1,
     6, {{"redeemer", A}, {"redeemerNonce", U}, {"beneficiary", A}, {"amount", U},
         {"blockHeight", U}, {"hashLock", B}}},
    {WATCH_UNSTAKE_PROGRESSED, "UnstakeProgressed",
     "UnstakeProgressed(bytes32,address,address,uint256,uint256,uint256,bool,bytes32)",
     "0x2c66eee0de9967ff72fb960370f68331f353fcd49c1cf2b39257616093a3c740", WATCH_FROM_GATEWAY, 1,
     7, {{"redeemer", A}, {"beneficiary", A}, {"redeemAmount", U}, {"unstakeAmount", U},
         {"rewardAmount", U}, {"proofProgress", T}, {"unlockSecret", B}}},
    {WATCH_REVERT_REDEEM_INTENT_CONFIRMED, "RevertRedeemIntentConfirmed",
     "RevertRedeemIntentConfirmed(bytes32,address,uint256,uint256)",
     "0x12021c0985bb18bfab585272868c2e2ae2db7b7bae483560daa5b51788a5decc", WATCH_FROM_GATEWAY, 1,
     3, {{"redeemer", A}, {"redeemerNonce", U}, {"amount", U}}},
    {WATCH_REVERT_REDEEM_COMPLETE, "RevertRedeemComplete",
     "RevertRedeemComplete(bytes32,address,uint256,uint256)",
     "0xe280faf7f01ec6833598731de2dbe6ac277b4838db5ba1041522943a24ba1c26", WATCH_FROM_GATEWAY, 1,
     3, {{"redeemer", A}, {"redeemerNonce", U}, {"amount", U}}},
    {WATCH_STAKE_INTENT_CONFIRMED, "StakeIntentConfirmed",
     "StakeIntentConfirmed(bytes32,address,uint256,address,uint256,uint256,bytes32)",
     "0x09c429eb0c6ace051a7e464a0add3664c55a8482b93816fdcbdf92f5d7ceb81e", WATCH_FROM_COGATEWAY,
     1, 6, {{"staker", A}, {"stakerNonce", U}, {"beneficiary", A}, {"amount", U},
            {"blockHeight", U}, {"hashLock", B}}},
    {WATCH_MINT_PROGRESSED, "MintProgressed",
     "MintProgressed(bytes32,address,address,uint256,uint256,uint256,bool,bytes32)",
     "0xbf81e8c456a7484e025395ab4e1492b688012d0f5256401f71d9d0a16b5d68d3", WATCH_FROM_COGATEWAY,
     1, 7, {{"staker", A}, {"beneficiary", A}, {"stakeAmount", U}, {"mintedAmount", U},
            {"rewardAmount", U}, {"proofProgress", T}, {"unlockSecret", B}}},
    {WATCH_REVERT_STAKE_INTENT_CONFIRMED, "RevertStakeIntentConfirmed",
     "RevertStakeIntentConfirmed(bytes32,address,uint256,uint256)",
     "0xa7b12d2cec2594d7704b4b4f947ef0c1fae37f5f4aeddbeccb980505b383171f", WATCH_FROM_COGATEWAY,
     1, 3, {{"staker", A}, {"stakerNonce", U}, {"amount", U}}},
    {WATCH_REVERT_STAKE_PROGRESSED, "RevertStakeProgressed",
     "RevertStakeProgressed(bytes32,address,uint256,uint256)",
     "0x38b46ad45ee3548a9c5c0e19bec8f2c48c5a9948cb57be47158b8a31bc8c9f6b", WATCH_FROM_COGATEWAY,
     1, 3, {{"staker", A}, {"stakerNonce", U}, {"amount", U}}},
    {WATCH_REDEEM_INTENT_DECLARED, "RedeemIntentDeclared",
     "RedeemIntentDeclared(bytes32,address,uint256,address,uint256)",
     "0xdd1352ae291d8132beec7e4442e4d982729cd2b7aade23ce1810bf36ccfa8559", WATCH_FROM_COGATEWAY,
     1, 4, {{"redeemer", A}, {"redeemerNonce", U}, {"beneficiary", A}, {"amount", U}}},
    {WATCH_REDEEM_PROGRESSED, "RedeemProgressed",
     "RedeemProgressed(bytes32,address,uint256,uint256,bool,bytes32)",
     "0xc8a2b315f4d996ac017ddcd7121d5223ecdc6708a97a76c628b391fa0529454e", WATCH_FROM_COGATEWAY,
     1, 5, {{"redeemer", A}, {"redeemerNonce", U}, {"amount", U}, {"proofProgress", T},
            {"unlockSecret", B}}},
    {WATCH_REVERT_REDEEM_DECLARED, "RevertRedeemDeclared",
     "RevertRedeemDeclared(bytes32,address,uint256,uint256)",
     "0xeef4349a219b2fc35d071d8fd1b99b01f97f25d9f8338abb5e1f5fb11caef0c7", WATCH_FROM_COGATEWAY,
     1, 3, {{"redeemer", A}, {"redeemerNonce", U}, {"amount", U}}},
    {WATCH_REDEEM_REVERTED, "RedeemReverted", "RedeemReverted(bytes32,address,uint256,uint256)",
     "0x15322f88c2092febcece880691350cadb45196819c8604460adf4b0dcc426387", WATCH_FROM_COGATEWAY,
     1, 3, {{"redeemer", A}, {"redeemerNonce", U}, {"amount", U}}},
    {WATCH_GATEWAY_PROVEN, "GatewayProven", "GatewayProven(address,uint256,bytes32,bool)",
     "0xc8b086273f6873ca5eb46c33fc969bbe291c604753ae831ace47644e4362b2b8", WATCH_FROM_BOTH, 0,
     4, {{"gateway", A}, {"blockHeight", U}, {"storageRoot", B}, {"wasAlreadyProved", T}}},
    {WATCH_BOUNTY_CHANGE_INITIATED, "BountyChangeInitiated",
     "BountyChangeInitiated(uint256,uint256,uint256)",
     "0xa9d65527bbb70e7c576f499d3a54f5eb8dc1e9502e13692d2db49c7177c0c24d", WATCH_FROM_BOTH, 0,
     3, {{"currentBounty", U}, {"proposedBounty", U}, {"unlockHeight", U}}},
    {WATCH_BOUNTY_CHANGE_CONFIRMED, "BountyChangeConfirmed",
     "BountyChangeConfirmed(uint256,uint256)",
     "0x2bc6c861f98712a6d2a053602d401de56c25e430d0530b26bcc12f1aaf3e586c", WATCH_FROM_BOTH, 0,
     2, {{"currentBounty", U}, {"changedBounty", U}}},
    {WATCH_STATE_ROOT_AVAILABLE, "StateRootAvailable", "StateRootAvailable(uint256,bytes32)",
     "0x0a57f5c610ae4bcec0e406f2d350ddffa2fb3628fed5da3d7dac3a3c1cdb66c2", WATCH_FROM_ANCHOR, 0,
     2, {{"blockHeight", U}, {"stateRoot", B}}},
};

#undef A
#undef U
#undef B
#undef T

const struct watch_kind_info *watch_kind_info(enum watch_kind kind)
{
    if ((int)kind < 0 || kind >= WATCH_KIND_COUNT)
        return NULL;
    return &kinds[kind];
}

int watch_find_kind(const uint8_t topic0[32], enum watch_kind *kind)
{
    char hex[67];

    hex_encode_data(topic0, 32, hex, sizeof(hex));
    for (size_t i = 0; i < WATCH_KIND_COUNT; i++) {
        if (memcmp(kinds[i].topic0, hex, 66) == 0) {
            *kind = kinds[i].kind;
            return MR_OK;
        }
    }
    return MR_ERR_NOTFOUND;
}

/* Whether word w is a canonical value of type t. */
static int word_ok(enum watch_ptype t, const uint8_t w[32])
{
    static const uint8_t zero[31];

    switch (t) {
    case WATCH_T_ADDRESS:
        return memcmp(w, zero, 12) == 0;
    case WATCH_T_BOOL:
        return memcmp(w, zero, 31) == 0 && w[31] <= 1;
    case WATCH_T_UINT:
    case WATCH_T_BYTES32:
        return 1;
    }
    return 0;
}

int watch_decode_log(const uint8_t (*topics)[32], size_t n_topics, const uint8_t *data,
                     size_t len, struct watch_event *ev, struct mr_error *err)
{
    const struct watch_kind_info *k;
    enum watch_kind kind;

    if (n_topics == 0 || watch_find_kind(topics[0], &kind) != MR_OK)
        return mr_fail(err, MR_ERR_NOTFOUND, "not a Mosaic event");
    k = &kinds[kind];
    if (n_topics != 1 + (size_t)k->indexed_hash)
        return mr_fail(err, MR_ERR_ABI, "%s: %zu topics, expected %d", k->name, n_topics,
                       1 + k->indexed_hash);
    if (len != 32 * k->n_params || (len > 0 && data == NULL))
        return mr_fail(err, MR_ERR_ABI, "%s: %zu data bytes, expected %zu", k->name, len,
                       32 * k->n_params);
    memset(ev, 0, sizeof(*ev));
    ev->info = k;
    ev->has_message_hash = k->indexed_hash;
    if (k->indexed_hash)
        memcpy(ev->message_hash, topics[1], 32);
    ev->n_words = k->n_params;
    for (size_t i = 0; i < k->n_params; i++) {
        if (!word_ok(k->params[i].type, data + 32 * i))
            return mr_fail(err, MR_ERR_ABI, "%s: parameter %s is not a canonical %s", k->name,
                           k->params[i].name,
                           k->params[i].type == WATCH_T_BOOL ? "bool" : "address");
        memcpy(ev->words[i], data + 32 * i, 32);
    }
    return MR_OK;
}

int watch_decode_eth_log(const struct eth_log *log, struct watch_event *ev, struct mr_error *err)
{
    return watch_decode_log((const uint8_t(*)[32])log->topics, log->n_topics, log->data,
                            log->data_len, ev, err);
}

void watch_word_address(const struct watch_event *ev, size_t i, uint8_t out[20])
{
    memcpy(out, ev->words[i] + 12, 20);
}

void watch_word_u256(const struct watch_event *ev, size_t i, struct u256 *out)
{
    (void)u256_from_be(out, ev->words[i], 32);
}

/* Appends s to out[cap] at *n; marks overflow by setting *n past cap. */
static void put(char *out, size_t cap, size_t *n, const char *s)
{
    size_t l = strlen(s);

    if (*n + l < cap)
        memcpy(out + *n, s, l + 1);
    *n += l;
}

size_t watch_fields_json(const struct watch_event *ev, char *out, size_t cap)
{
    const struct watch_kind_info *k = ev->info;
    char val[U256_DEC_MAX + 70];
    size_t n = 0;

    if (cap == 0)
        return 0;
    out[0] = '\0';
    put(out, cap, &n, "{");
    for (size_t i = 0; i < k->n_params; i++) {
        const uint8_t *w = ev->words[i];
        struct u256 v;
        put(out, cap, &n, i ? ",\"" : "\"");
        put(out, cap, &n, k->params[i].name);
        put(out, cap, &n, "\":");
        switch (k->params[i].type) {
        case WATCH_T_ADDRESS:
            val[0] = '"';
            hex_encode_data(w + 12, 20, val + 1, sizeof(val) - 2);
            strcat(val, "\"");
            break;
        case WATCH_T_BYTES32:
            val[0] = '"';
            hex_encode_data(w, 32, val + 1, sizeof(val) - 2);
            strcat(val, "\"");
            break;
        case WATCH_T_UINT:
            val[0] = '"';
            (void)u256_from_be(&v, w, 32);
            u256_to_dec(&v, val + 1, sizeof(val) - 2);
            strcat(val, "\"");
            break;
        case WATCH_T_BOOL:
            snprintf(val, sizeof(val), "%s", w[31] ? "true" : "false");
            break;
        }
        put(out, cap, &n, val);
    }
    put(out, cap, &n, "}");
    if (n >= cap) {
        out[0] = '\0';
        return 0;
    }
    return n;
}

/* ---- declared intents ---- */

int watch_event_intent(const struct watch_event *ev, struct watch_intent *in,
                       struct mr_error *err)
{
    if (ev->info->kind == WATCH_STAKE_INTENT_DECLARED)
        in->kind = MOSAIC_STAKE;
    else if (ev->info->kind == WATCH_REDEEM_INTENT_DECLARED)
        in->kind = MOSAIC_REDEEM;
    else
        return mr_fail(err, MR_ERR_INVALID, "%s is not a declaration", ev->info->name);
    memcpy(in->message_hash, ev->message_hash, 32);
    watch_word_address(ev, 0, in->sender);
    watch_word_u256(ev, 1, &in->nonce);
    watch_word_address(ev, 2, in->beneficiary);
    watch_word_u256(ev, 3, &in->amount);
    return MR_OK;
}

void watch_messages_calldata(const uint8_t mh[32], uint8_t out[36])
{
    memcpy(out, WATCH_MESSAGES_SELECTOR, 4);
    memcpy(out + 4, mh, 32);
}

int watch_decode_stored_message(const uint8_t *data, size_t len, struct watch_stored_message *m,
                                struct mr_error *err)
{
    static const uint8_t zero[12];

    if (len != 7 * 32 || data == NULL)
        return mr_fail(err, MR_ERR_ABI, "messages(): %zu bytes returned, expected 224", len);
    if (memcmp(data + 4 * 32, zero, 12) != 0)
        return mr_fail(err, MR_ERR_ABI, "messages(): sender word is not an address");
    memcpy(m->intent_hash, data, 32);
    (void)u256_from_be(&m->nonce, data + 32, 32);
    (void)u256_from_be(&m->gas_price, data + 64, 32);
    (void)u256_from_be(&m->gas_limit, data + 96, 32);
    memcpy(m->sender, data + 4 * 32 + 12, 20);
    memcpy(m->hashlock, data + 5 * 32, 32);
    (void)u256_from_be(&m->gas_consumed, data + 6 * 32, 32);
    return MR_OK;
}

static int is_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != 0)
            return 0;
    return 1;
}

int watch_check_intent(const struct watch_intent *in, const struct watch_stored_message *m,
                       const uint8_t gateway[20], struct mr_error *err)
{
    struct mosaic_message msg;
    struct u256 fee;
    uint8_t intent[32], mh[32];
    char a[67], b[67];

    if (u256_is_zero(&in->amount))
        return mr_fail(err, MR_ERR_INVALID, "amount is 0");
    if (is_zero(in->beneficiary, 20))
        return mr_fail(err, MR_ERR_INVALID, "beneficiary is the zero address");
    if (is_zero(in->sender, 20))
        return mr_fail(err, MR_ERR_INVALID, "sender is the zero address");
    mosaic_intent_hash(in->kind, &in->amount, in->beneficiary, gateway, intent);
    if (memcmp(intent, m->intent_hash, 32) != 0) {
        hex_encode_data(intent, 32, a, sizeof(a));
        hex_encode_data(m->intent_hash, 32, b, sizeof(b));
        return mr_fail(err, MR_ERR_INVALID,
                       "intent hash %s from the event differs from the stored %s", a, b);
    }
    if (u256_cmp(&in->nonce, &m->nonce) != 0)
        return mr_fail(err, MR_ERR_INVALID, "event nonce differs from the stored nonce");
    if (memcmp(in->sender, m->sender, 20) != 0)
        return mr_fail(err, MR_ERR_INVALID, "event sender differs from the stored sender");
    memcpy(msg.intent_hash, intent, 32);
    msg.nonce = in->nonce;
    msg.gas_price = m->gas_price;
    msg.gas_limit = m->gas_limit;
    memcpy(msg.sender, in->sender, 20);
    memcpy(msg.hashlock, m->hashlock, 32);
    mosaic_message_hash(&msg, mh);
    if (memcmp(mh, in->message_hash, 32) != 0) {
        hex_encode_data(mh, 32, a, sizeof(a));
        hex_encode_data(in->message_hash, 32, b, sizeof(b));
        return mr_fail(err, MR_ERR_INVALID, "recomputed message hash %s differs from the event's %s",
                       a, b);
    }
    if (u256_mul(&fee, &m->gas_price, &m->gas_limit) != MR_OK || u256_cmp(&in->amount, &fee) <= 0)
        return mr_fail(err, MR_ERR_INVALID, "amount is not above gasPrice * gasLimit");
    return MR_OK;
}

int watch_check_transfer(const struct eth_logs *logs, const uint8_t token[20],
                         const uint8_t from[20], const uint8_t to[20], const struct u256 *amount,
                         struct mr_error *err)
{
    uint8_t topic[32], amt[32], want_from[32] = {0}, want_to[32] = {0};
    char dec[U256_DEC_MAX];

    (void)hex_decode_fixed(WATCH_TRANSFER_TOPIC, 66, topic, 32, NULL);
    u256_to_be32(amount, amt);
    memcpy(want_from + 12, from, 20);
    memcpy(want_to + 12, to, 20);
    for (size_t i = 0; i < logs->n; i++) {
        const struct eth_log *l = &logs->v[i];
        if (memcmp(l->address, token, 20) == 0 && l->n_topics == 3 &&
            memcmp(l->topics[0], topic, 32) == 0 && memcmp(l->topics[1], want_from, 32) == 0 &&
            memcmp(l->topics[2], want_to, 32) == 0 && l->data_len == 32 &&
            memcmp(l->data, amt, 32) == 0 && !l->removed)
            return MR_OK;
    }
    u256_to_dec(amount, dec, sizeof(dec));
    return mr_fail(err, MR_ERR_NOTFOUND,
                   "no Transfer of %s value tokens from the sender into the gateway in the receipt",
                   dec);
}
