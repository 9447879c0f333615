/*
 * test_watch_events.c - the pure parts of the watchers (watchers/events.h):
 * the event table against mosaic-protocol.md §2.6, decoding every kind into
 * typed `fields`, refusal of malformed logs, messages() return data, the
 * recomputed message hash of declared stakes and redeems (vectors computed
 * by the real MessageBus/GatewayLib, and a stake recorded from the real
 * contracts), and the Transfer check of RELIABILITY.md row 22.
 */
#include "tests/lib/testlib.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eth/abi.h"
#include "eth/hex.h"
#include "eth/mosaic.h"
#include "watchers/events.h"

static void hex_to(const char *s, uint8_t *out, size_t n)
{
    assert_int_equal(hex_decode_fixed(s, strlen(s), out, n, NULL), MR_OK);
}

static void dec_to(const char *s, struct u256 *v)
{
    assert_int_equal(u256_parse(v, s, strlen(s), NULL), MR_OK);
}

static void word_u64(uint8_t w[32], uint64_t v)
{
    memset(w, 0, 32);
    for (int i = 0; i < 8; i++)
        w[31 - i] = (uint8_t)(v >> (8 * i));
}

static void word_addr(uint8_t w[32], uint8_t fill)
{
    memset(w, 0, 12);
    memset(w + 12, fill, 20);
}

/* Every row's topic0 is keccak256 of its signature, and the names and
 * parameter counts agree with the signature. */
static void test_table(void **state)
{
    (void)state;
    for (int k = 0; k < WATCH_KIND_COUNT; k++) {
        const struct watch_kind_info *ki = watch_kind_info((enum watch_kind)k);
        uint8_t topic[32], want[32];
        size_t commas = 0;
        enum watch_kind found;

        assert_non_null(ki);
        assert_int_equal(ki->kind, k);
        assert_int_equal(abi_event_topic(ki->signature, strlen(ki->signature), topic, NULL),
                         MR_OK);
        hex_to(ki->topic0, want, 32);
        assert_memory_equal(topic, want, 32);
        assert_int_equal(strncmp(ki->signature, ki->name, strlen(ki->name)), 0);
        assert_int_equal(ki->signature[strlen(ki->name)], '(');
        for (const char *c = ki->signature; *c; c++)
            commas += *c == ',';
        assert_int_equal(commas + 1, ki->n_params + (size_t)ki->indexed_hash);
        assert_int_equal(watch_find_kind(topic, &found), MR_OK);
        assert_int_equal(found, k);
    }
    assert_null(watch_kind_info(WATCH_KIND_COUNT));
}

/* A log of kind k with recognisable values: addresses 0xaa.., uints i+1,
 * bytes32 0xbb.., bools true. */
static size_t make_log(enum watch_kind k, uint8_t topics[2][32], size_t *nt, uint8_t *data)
{
    const struct watch_kind_info *ki = watch_kind_info(k);

    hex_to(ki->topic0, topics[0], 32);
    memset(topics[1], 0x77, 32);
    *nt = 1 + (size_t)ki->indexed_hash;
    for (size_t i = 0; i < ki->n_params; i++) {
        uint8_t *w = data + 32 * i;
        switch (ki->params[i].type) {
        case WATCH_T_ADDRESS: word_addr(w, 0xaa); break;
        case WATCH_T_UINT: word_u64(w, i + 1); break;
        case WATCH_T_BYTES32: memset(w, 0xbb, 32); break;
        case WATCH_T_BOOL: word_u64(w, 1); break;
        }
    }
    return 32 * ki->n_params;
}

static void test_decode_every_kind(void **state)
{
    (void)state;
    for (int k = 0; k < WATCH_KIND_COUNT; k++) {
        const struct watch_kind_info *ki = watch_kind_info((enum watch_kind)k);
        uint8_t topics[2][32], data[WATCH_MAX_PARAMS * 32];
        struct watch_event ev;
        char json[WATCH_FIELDS_MAX];
        json_t *j;
        size_t nt, len = make_log((enum watch_kind)k, topics, &nt, data);

        assert_int_equal(watch_decode_log((const uint8_t(*)[32])topics, nt, data, len, &ev, NULL),
                         MR_OK);
        assert_ptr_equal(ev.info, ki);
        assert_int_equal(ev.has_message_hash, ki->indexed_hash);
        if (ki->indexed_hash)
            assert_memory_equal(ev.message_hash, topics[1], 32);
        assert_true(watch_fields_json(&ev, json, sizeof(json)) > 0);
        j = json_loads(json, 0, NULL);
        assert_non_null(j);
        assert_int_equal(json_object_size(j), ki->n_params);
        for (size_t i = 0; i < ki->n_params; i++) {
            json_t *v = json_object_get(j, ki->params[i].name);
            char want[80];
            assert_non_null(v);
            switch (ki->params[i].type) {
            case WATCH_T_ADDRESS:
                assert_string_equal(json_string_value(v),
                                    "0xaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
                break;
            case WATCH_T_UINT:
                snprintf(want, sizeof(want), "%zu", i + 1);
                assert_string_equal(json_string_value(v), want);
                break;
            case WATCH_T_BYTES32:
                assert_string_equal(json_string_value(v), "0xbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
                                                          "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb");
                break;
            case WATCH_T_BOOL:
                assert_true(json_is_true(v));
                break;
            }
        }
        json_decref(j);
    }
}

static void test_fields_exact(void **state)
{
    uint8_t topics[1][32], data[64];
    struct watch_event ev;
    char json[WATCH_FIELDS_MAX];
    size_t n;

    (void)state;
    hex_to(watch_kind_info(WATCH_STATE_ROOT_AVAILABLE)->topic0, topics[0], 32);
    memset(data, 0xff, 32); /* 2^256 - 1 */
    memset(data + 32, 0x01, 32);
    assert_int_equal(watch_decode_log((const uint8_t(*)[32])topics, 1, data, 64, &ev, NULL), MR_OK);
    n = watch_fields_json(&ev, json, sizeof(json));
    assert_int_equal(n, strlen(json));
    assert_string_equal(json, "{\"blockHeight\":\"115792089237316195423570985008687907853269984665640"
                              "564039457584007913129639935\",\"stateRoot\":\"0x0101010101010101010101"
                              "010101010101010101010101010101010101010101\"}");
    /* Too small a buffer gives 0 and an empty string, never a cut JSON. */
    assert_int_equal(watch_fields_json(&ev, json, 40), 0);
    assert_string_equal(json, "");
}

static void test_malformed(void **state)
{
    uint8_t topics[3][32], data[WATCH_MAX_PARAMS * 32 + 32];
    struct watch_event ev;
    struct mr_error err;
    size_t nt, len;

    (void)state;
    len = make_log(WATCH_STAKE_PROGRESSED, topics, &nt, data);
    /* wrong number of topics */
    assert_int_equal(watch_decode_log((const uint8_t(*)[32])topics, 1, data, len, &ev, &err),
                     MR_ERR_ABI);
    memset(topics[2], 0, 32);
    assert_int_equal(watch_decode_log((const uint8_t(*)[32])topics, 3, data, len, &ev, &err),
                     MR_ERR_ABI);
    /* a word short, a word too many, a byte off */
    assert_int_equal(watch_decode_log((const uint8_t(*)[32])topics, 2, data, len - 32, &ev, &err),
                     MR_ERR_ABI);
    assert_int_equal(watch_decode_log((const uint8_t(*)[32])topics, 2, data, len + 32, &ev, &err),
                     MR_ERR_ABI);
    assert_int_equal(watch_decode_log((const uint8_t(*)[32])topics, 2, data, len - 1, &ev, &err),
                     MR_ERR_ABI);
    /* a dirty address word (staker is parameter 0) */
    data[0] = 1;
    assert_int_equal(watch_decode_log((const uint8_t(*)[32])topics, 2, data, len, &ev, &err),
                     MR_ERR_ABI);
    assert_non_null(strstr(err.msg, "staker"));
    data[0] = 0;
    /* a bool that is 2 (proofProgress is parameter 3) */
    data[3 * 32 + 31] = 2;
    assert_int_equal(watch_decode_log((const uint8_t(*)[32])topics, 2, data, len, &ev, &err),
                     MR_ERR_ABI);
    data[3 * 32 + 31] = 1;
    data[3 * 32] = 1; /* high byte set */
    assert_int_equal(watch_decode_log((const uint8_t(*)[32])topics, 2, data, len, &ev, &err),
                     MR_ERR_ABI);
    data[3 * 32] = 0;
    assert_int_equal(watch_decode_log((const uint8_t(*)[32])topics, 2, data, len, &ev, &err),
                     MR_OK);
    /* not ours: Transfer, no topics at all */
    hex_to(WATCH_TRANSFER_TOPIC, topics[0], 32);
    assert_int_equal(watch_decode_log((const uint8_t(*)[32])topics, 3, data, 32, &ev, &err),
                     MR_ERR_NOTFOUND);
    assert_int_equal(watch_decode_log((const uint8_t(*)[32])topics, 0, data, 32, &ev, &err),
                     MR_ERR_NOTFOUND);
}

/* A StakeIntentDeclared log and the stored message for the vector case. */
static void vector_decl(json_t *c, enum mosaic_kind kind, struct watch_intent *in,
                        struct watch_stored_message *m, uint8_t gateway[20])
{
    json_t *inp = json_object_get(c, "inputs");
    const char *mh = json_string_value(json_object_get(
        c, kind == MOSAIC_STAKE ? "stakeMessageHash" : "redeemMessageHash"));
    const char *ih = json_string_value(json_object_get(
        c, kind == MOSAIC_STAKE ? "stakeIntentHash" : "redeemIntentHash"));

    memset(in, 0, sizeof(*in));
    memset(m, 0, sizeof(*m));
    in->kind = kind;
    hex_to(mh, in->message_hash, 32);
    hex_to(json_string_value(json_object_get(inp, "sender")), in->sender, 20);
    u256_from_u64(&in->nonce, (uint64_t)json_integer_value(json_object_get(inp, "nonce")));
    hex_to(json_string_value(json_object_get(inp, "beneficiary")), in->beneficiary, 20);
    dec_to(json_string_value(json_object_get(inp, "amount")), &in->amount);
    hex_to(json_string_value(json_object_get(inp, "gateway")), gateway, 20);
    hex_to(ih, m->intent_hash, 32);
    m->nonce = in->nonce;
    dec_to(json_string_value(json_object_get(inp, "gasPrice")), &m->gas_price);
    dec_to(json_string_value(json_object_get(inp, "gasLimit")), &m->gas_limit);
    memcpy(m->sender, in->sender, 20);
    hex_to(json_string_value(json_object_get(c, "hashLock")), m->hashlock, 32);
}

static void test_check_intent_vectors(void **state)
{
    json_t *v;
    size_t idx;
    json_t *c;

    (void)state;
    TV_LOAD_OR_SKIP(v, "mosaic/mosaic_vectors.json");
    json_array_foreach(json_object_get(v, "cases"), idx, c) {
        for (int k = 0; k < 2; k++) {
            enum mosaic_kind kind = k == 0 ? MOSAIC_STAKE : MOSAIC_REDEEM;
            struct watch_intent in;
            struct watch_stored_message m;
            struct mr_error err;
            uint8_t gw[20];

            vector_decl(c, kind, &in, &m, gw);
            assert_int_equal(watch_check_intent(&in, &m, gw, &err), MR_OK);
            /* The other kind's typehash gives another intent hash. */
            in.kind = k == 0 ? MOSAIC_REDEEM : MOSAIC_STAKE;
            assert_int_equal(watch_check_intent(&in, &m, gw, &err), MR_ERR_INVALID);
            in.kind = kind;
            /* Another gateway address (stake intents use the origin gateway,
             * redeems the co-gateway: whichever emitted). */
            gw[19] ^= 1;
            assert_int_equal(watch_check_intent(&in, &m, gw, &err), MR_ERR_INVALID);
            assert_non_null(strstr(err.msg, "intent hash"));
            gw[19] ^= 1;
            /* A gas price the event did not commit to. */
            m.gas_price.w[0] ^= 1;
            assert_int_equal(watch_check_intent(&in, &m, gw, &err), MR_ERR_INVALID);
            assert_non_null(strstr(err.msg, "message hash"));
            vector_decl(c, kind, &in, &m, gw);
            m.hashlock[0] ^= 1;
            assert_int_equal(watch_check_intent(&in, &m, gw, &err), MR_ERR_INVALID);
            vector_decl(c, kind, &in, &m, gw);
            m.nonce.w[0] ^= 1;
            assert_int_equal(watch_check_intent(&in, &m, gw, &err), MR_ERR_INVALID);
            vector_decl(c, kind, &in, &m, gw);
            m.sender[0] ^= 1;
            assert_int_equal(watch_check_intent(&in, &m, gw, &err), MR_ERR_INVALID);
            /* Zero beneficiary is refused before any hashing. */
            vector_decl(c, kind, &in, &m, gw);
            memset(in.beneficiary, 0, 20);
            assert_int_equal(watch_check_intent(&in, &m, gw, &err), MR_ERR_INVALID);
            assert_non_null(strstr(err.msg, "beneficiary"));
            /* So are amount 0 and a zero sender (RELIABILITY.md row 23). */
            vector_decl(c, kind, &in, &m, gw);
            u256_zero(&in.amount);
            assert_int_equal(watch_check_intent(&in, &m, gw, &err), MR_ERR_INVALID);
            assert_non_null(strstr(err.msg, "amount is 0"));
            vector_decl(c, kind, &in, &m, gw);
            memset(in.sender, 0, 20);
            assert_int_equal(watch_check_intent(&in, &m, gw, &err), MR_ERR_INVALID);
            assert_non_null(strstr(err.msg, "sender is the zero address"));
        }
    }
    json_decref(v);
}

/* The bare-hex numbers of the recorded dumps ("5f5e100"). */
static void barehex(const char *s, struct u256 *v)
{
    char buf[80];

    snprintf(buf, sizeof(buf), "0x%s", s);
    assert_int_equal(u256_parse(v, buf, strlen(buf), NULL), MR_OK);
}

/* The stake recorded from the real EIP20Gateway: its StakeIntentDeclared
 * event, re-encoded as a log, decodes and validates against the stored
 * message its stake() call created. */
static void test_recorded_stake(void **state)
{
    json_t *d, *gwj, *stake, *prm, *evj;
    uint8_t topics[2][32], data[4 * 32], gw[20];
    struct watch_event ev;
    struct watch_intent in;
    struct watch_stored_message m;
    struct u256 amount;
    struct mr_error err;

    (void)state;
    TV_LOAD_OR_SKIP(d, "mosaic/mosaic-contracts-test-data/stake_progressed_0.json");
    gwj = json_object_get(d, "gateway");
    stake = json_object_get(gwj, "stake");
    prm = json_object_get(stake, "params");
    evj = json_object_get(json_object_get(json_object_get(stake, "return_value"), "events"),
                          "StakeIntentDeclared");
    hex_to(json_string_value(json_object_get(json_object_get(d, "contracts"), "gateway")), gw, 20);
    hex_to(watch_kind_info(WATCH_STAKE_INTENT_DECLARED)->topic0, topics[0], 32);
    hex_to(json_string_value(json_object_get(evj, "_messageHash")), topics[1], 32);
    memset(data, 0, sizeof(data));
    hex_to(json_string_value(json_object_get(evj, "_staker")), data + 12, 20);
    hex_to(json_string_value(json_object_get(evj, "_beneficiary")), data + 64 + 12, 20);
    barehex(json_string_value(json_object_get(evj, "_amount")), &amount);
    u256_to_be32(&amount, data + 96);
    assert_int_equal(watch_decode_log((const uint8_t(*)[32])topics, 2, data, sizeof(data), &ev,
                                      &err),
                     MR_OK);
    assert_int_equal(watch_event_intent(&ev, &in, &err), MR_OK);
    memset(&m, 0, sizeof(m));
    mosaic_intent_hash(MOSAIC_STAKE, &in.amount, in.beneficiary, gw, m.intent_hash);
    barehex(json_string_value(json_object_get(prm, "gasPrice")), &m.gas_price);
    barehex(json_string_value(json_object_get(prm, "gasLimit")), &m.gas_limit);
    barehex(json_string_value(json_object_get(prm, "nonce")), &m.nonce);
    memcpy(m.sender, in.sender, 20);
    hex_to(json_string_value(json_object_get(prm, "hashLock")), m.hashlock, 32);
    assert_int_equal(watch_check_intent(&in, &m, gw, &err), MR_OK);
    /* A declaration event is not anything else's intent. */
    assert_int_equal(watch_event_intent(&ev, &in, &err), MR_OK);
    ev.info = watch_kind_info(WATCH_STAKE_PROGRESSED);
    assert_int_equal(watch_event_intent(&ev, &in, &err), MR_ERR_INVALID);
    json_decref(d);
}

static void test_stored_message(void **state)
{
    uint8_t data[7 * 32], call[36], mh[32];
    struct watch_stored_message m;

    (void)state;
    memset(mh, 0x42, 32);
    watch_messages_calldata(mh, call);
    tv_assert_hex(call, 4, "2bbd59ca");
    assert_memory_equal(call + 4, mh, 32);
    memset(data, 0, sizeof(data));
    memset(data, 0x11, 32);
    word_u64(data + 32, 5);
    word_u64(data + 64, 2);
    word_u64(data + 96, 3);
    word_addr(data + 128, 0x33);
    memset(data + 160, 0x44, 32);
    word_u64(data + 192, 9);
    assert_int_equal(watch_decode_stored_message(data, sizeof(data), &m, NULL), MR_OK);
    assert_int_equal(m.nonce.w[0], 5);
    assert_int_equal(m.gas_price.w[0], 2);
    assert_int_equal(m.gas_limit.w[0], 3);
    assert_int_equal(m.sender[19], 0x33);
    assert_int_equal(m.hashlock[0], 0x44);
    assert_int_equal(m.gas_consumed.w[0], 9);
    assert_int_equal(watch_decode_stored_message(data, sizeof(data) - 32, &m, NULL), MR_ERR_ABI);
    assert_int_equal(watch_decode_stored_message(NULL, 0, &m, NULL), MR_ERR_ABI);
    data[128] = 1;
    assert_int_equal(watch_decode_stored_message(data, sizeof(data), &m, NULL), MR_ERR_ABI);
}

static void test_transfer(void **state)
{
    struct eth_logs logs = {0};
    struct eth_log l;
    uint8_t token[20], from[20], to[20], amt[32];
    struct u256 amount;
    struct mr_error err;

    (void)state;
    memset(token, 0x01, 20);
    memset(from, 0x02, 20);
    memset(to, 0x03, 20);
    u256_from_u64(&amount, 1000);
    u256_to_be32(&amount, amt);
    memset(&l, 0, sizeof(l));
    memcpy(l.address, token, 20);
    l.n_topics = 3;
    hex_to(WATCH_TRANSFER_TOPIC, l.topics[0], 32);
    memcpy(l.topics[1] + 12, from, 20);
    memcpy(l.topics[2] + 12, to, 20);
    l.data = amt;
    l.data_len = 32;
    logs.v = &l;
    logs.n = 1;
    assert_int_equal(watch_check_transfer(&logs, token, from, to, &amount, &err), MR_OK);
    /* another amount, token, direction, or no log at all */
    u256_from_u64(&amount, 999);
    assert_int_equal(watch_check_transfer(&logs, token, from, to, &amount, &err), MR_ERR_NOTFOUND);
    assert_non_null(strstr(err.msg, "999"));
    u256_from_u64(&amount, 1000);
    token[0] = 9;
    assert_int_equal(watch_check_transfer(&logs, token, from, to, &amount, &err), MR_ERR_NOTFOUND);
    token[0] = 1;
    assert_int_equal(watch_check_transfer(&logs, token, to, from, &amount, &err), MR_ERR_NOTFOUND);
    l.removed = 1;
    assert_int_equal(watch_check_transfer(&logs, token, from, to, &amount, &err), MR_ERR_NOTFOUND);
    l.removed = 0;
    logs.n = 0;
    assert_int_equal(watch_check_transfer(&logs, token, from, to, &amount, &err), MR_ERR_NOTFOUND);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_decode_every_kind),
        cmocka_unit_test(test_fields_exact),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_check_intent_vectors),
        cmocka_unit_test(test_recorded_stake),
        cmocka_unit_test(test_stored_message),
        cmocka_unit_test(test_transfer),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
