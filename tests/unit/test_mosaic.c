/*
 * test_mosaic.c - Mosaic typehashes, intent/message hashes, hash locks,
 * outbox/inbox storage keys and `mosaic-relayer message-hash`.
 *
 * Vectors: mosaic/mosaic_vectors.json (computed by the real MessageBus and
 * GatewayLib bytecode) and the stake/redeem dumps recorded from the real
 * contracts on geth, whose message hashes, storage keys and proofs must all
 * reproduce.
 */
#include "tests/lib/testlib.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eth/hex.h"
#include "eth/keccak.h"
#include "eth/mosaic.h"
#include "eth/mpt.h"

#define FIXDIR "mosaic/mosaic-contracts-test-data/"

static const char *jstr(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);

    if (v == NULL)
        print_message("missing member %s\n", k);
    assert_non_null(v);
    assert_true(json_is_string(v));
    return json_string_value(v);
}

static void addr_of(const char *s, uint8_t out[20])
{
    assert_int_equal(hex_decode_fixed(s, strlen(s), out, 20, NULL), MR_OK);
}

static void hash_of(const char *s, uint8_t out[32])
{
    assert_int_equal(hex_decode_fixed(s, strlen(s), out, 32, NULL), MR_OK);
}

/* A decimal string or a JSON integer. */
static void num_of(json_t *v, struct u256 *out)
{
    if (json_is_integer(v)) {
        u256_from_u64(out, (uint64_t)json_integer_value(v));
        return;
    }
    assert_true(json_is_string(v));
    assert_int_equal(u256_parse_dec(out, json_string_value(v), json_string_length(v), 1, NULL),
                     MR_OK);
}

/* The dumps write numbers as bare hex digits ("5f5e100"). */
static void barehex_of(const char *s, struct u256 *out)
{
    char buf[80];

    assert_true(strlen(s) < 66);
    snprintf(buf, sizeof(buf), "0x%s", s);
    assert_int_equal(u256_parse(out, buf, strlen(buf), NULL), MR_OK);
}

static void test_typehashes(void **state)
{
    static const struct {
        const char *name, *type;
    } th[] = {
        {"MESSAGE_TYPEHASH", MOSAIC_MESSAGE_TYPE},
        {"STAKE_INTENT_TYPEHASH", MOSAIC_STAKE_INTENT_TYPE},
        {"REDEEM_INTENT_TYPEHASH", MOSAIC_REDEEM_INTENT_TYPE},
    };
    uint8_t h[32];
    json_t *v, *c;
    (void)state;

    TV_LOAD_OR_SKIP(v, "mosaic/mosaic_vectors.json");
    c = json_object_get(v, "constants");
    for (size_t i = 0; i < 3; i++) {
        mosaic_typehash(th[i].type, strlen(th[i].type), h);
        tv_assert_hex(h, 32, jstr(c, th[i].name));
    }
    assert_int_equal(json_integer_value(json_object_get(c, "MESSAGE_BOX_OFFSET")),
                     MOSAIC_MESSAGE_BOX_OFFSET);
    assert_int_equal(json_integer_value(json_object_get(c, "OUTBOX_slot")),
                     MOSAIC_MESSAGE_BOX_OFFSET);
    assert_int_equal(json_integer_value(json_object_get(c, "INBOX_slot")),
                     MOSAIC_MESSAGE_BOX_OFFSET + 1);
    json_decref(v);
    /* mosaic-protocol.md 3.1: the ABI-string construction, not EIP-712's
     * keccak of the raw bytes (whose Message typehash starts 0x9cf4230a). */
    keccak256(MOSAIC_MESSAGE_TYPE, strlen(MOSAIC_MESSAGE_TYPE), h);
    assert_int_equal(h[0], 0x9c);
    assert_int_equal(h[1], 0xf4);
    /* Composer and pool typehashes from the same table, and its padding
     * boundaries: a 32-byte multiple and the empty string. */
    {
        static const char sr[] = "StakeRequest(uint256 amount,address beneficiary,uint256 gasPrice,"
                                 "uint256 gasLimit,uint256 nonce,address staker,address gateway)";
        mosaic_typehash(sr, strlen(sr), h);
        tv_assert_hex(h, 32, "0xed428fa087571f4e29c2dca4650fda74cc25e90b66246db2b9aec7fa3bbc8598");
    }
}

static void test_vector_cases(void **state)
{
    static const struct {
        const char *name;
        int status;
    } st[] = {{"Declared", 1}, {"Progressed", 2}, {"DeclaredRevocation", 3}, {"Revoked", 4}};
    json_t *v, *c;
    size_t i;
    (void)state;

    TV_LOAD_OR_SKIP(v, "mosaic/mosaic_vectors.json");
    json_array_foreach(json_object_get(v, "cases"), i, c) {
        json_t *in = json_object_get(c, "inputs");
        struct mosaic_message m;
        struct u256 amount;
        uint8_t benef[20], gw[20], secret[32], h[32], slot[32], path[32];
        int kinds[2] = {MOSAIC_STAKE, MOSAIC_REDEEM};
        static const char *const pre[2] = {"stake", "redeem"};

        num_of(json_object_get(in, "amount"), &amount);
        num_of(json_object_get(in, "nonce"), &m.nonce);
        num_of(json_object_get(in, "gasPrice"), &m.gas_price);
        num_of(json_object_get(in, "gasLimit"), &m.gas_limit);
        addr_of(jstr(in, "beneficiary"), benef);
        addr_of(jstr(in, "gateway"), gw);
        addr_of(jstr(in, "sender"), m.sender);
        hash_of(jstr(in, "unlockSecret"), secret);
        mosaic_hashlock(secret, m.hashlock);
        tv_assert_hex(m.hashlock, 32, jstr(c, "hashLock"));
        for (int k = 0; k < 2; k++) {
            char name[64];
            mosaic_intent_hash(kinds[k], &amount, benef, gw, m.intent_hash);
            snprintf(name, sizeof(name), "%sIntentHash", pre[k]);
            tv_assert_hex(m.intent_hash, 32, jstr(c, name));
            mosaic_message_hash(&m, h);
            snprintf(name, sizeof(name), "%sMessageHash", pre[k]);
            tv_assert_hex(h, 32, jstr(c, name));
            mosaic_outbox_slot(h, MOSAIC_MESSAGE_BOX_OFFSET, slot);
            snprintf(name, sizeof(name), "%s_outbox_storage_key", pre[k]);
            tv_assert_hex(slot, 32, jstr(c, name));
            if (k == 0) {
                mosaic_storage_path(slot, path);
                tv_assert_hex(path, 32, jstr(c, "stake_outbox_trie_path"));
            }
            mosaic_inbox_slot(h, MOSAIC_MESSAGE_BOX_OFFSET, slot);
            snprintf(name, sizeof(name), "%s_inbox_storage_key", pre[k]);
            tv_assert_hex(slot, 32, jstr(c, name));
        }
        for (size_t s = 0; s < 4; s++) {
            assert_int_equal(mosaic_status_leaf_hash(st[s].status, h, NULL), MR_OK);
            tv_assert_hex(h, 32, jstr(json_object_get(c, "expected_storage_leaf_value_hash"),
                                      st[s].name));
            assert_string_equal(mosaic_status_name(st[s].status), st[s].name);
        }
    }
    assert_int_equal(i, 3);
    json_decref(v);
}

static void test_status_and_slots(void **state)
{
    uint8_t h[32], mh[32], a[32], b[32];
    struct mr_error err;
    (void)state;

    assert_int_equal(mosaic_status_leaf_hash(MOSAIC_UNDECLARED, h, &err), MR_ERR_RANGE);
    assert_int_equal(mosaic_status_leaf_hash((enum mosaic_status)5, h, &err), MR_ERR_RANGE);
    assert_string_equal(mosaic_status_name(0), "Undeclared");
    assert_string_equal(mosaic_status_name(5), "unknown");
    assert_string_equal(mosaic_status_name(-1), "unknown");
    /* 0.10.0's message box at 7/8: the same Solidity mapping rule */
    memset(mh, 0xab, 32);
    mosaic_outbox_slot(mh, MOSAIC_MESSAGE_BOX_OFFSET_V010, a);
    mosaic_mapping_slot(mh, 7, b);
    assert_memory_equal(a, b, 32);
    mosaic_inbox_slot(mh, MOSAIC_MESSAGE_BOX_OFFSET_V010, a);
    mosaic_mapping_slot(mh, 8, b);
    assert_memory_equal(a, b, 32);
    mosaic_outbox_slot(mh, MOSAIC_MESSAGE_BOX_OFFSET, b);
    assert_memory_not_equal(a, b, 32);
}

/* proof.json storagePath: keccak(keccak(key || index)) is the trie path of a
 * mapping entry. */
static void test_mapping_paths(void **state)
{
    json_t *p, *sp, *d;
    const char *k;
    int n = 0;
    (void)state;

    TV_LOAD_OR_SKIP(p, FIXDIR "proof.json");
    sp = json_object_get(p, "storagePath");
    json_object_foreach(sp, k, d) {
        uint8_t key[32], slot[32], path[32];
        hash_of(jstr(d, "mappingKey"), key);
        mosaic_mapping_slot(key, strtoull(jstr(d, "storageIndex"), NULL, 10), slot);
        mosaic_storage_path(slot, path);
        tv_assert_hex(path, 32, jstr(d, "expectedPath"));
        n++;
    }
    assert_int_equal(n, 2);
    json_decref(p);
}

/* ---- the recorded dumps ---- */

struct dump_msg {
    enum mosaic_kind kind;
    struct mosaic_message m;
    struct u256 amount;
    uint8_t benef[20], gateway[20], secret[32];
};

/* Reads the declaration's parameters (stake or redeem) from a dump. */
static void dump_message(json_t *d, const char *side, const char *call, const char *sender_key,
                         const char *gw_key, enum mosaic_kind kind, struct dump_msg *dm)
{
    json_t *p = json_object_get(json_object_get(json_object_get(d, side), call), "params");

    assert_non_null(p);
    dm->kind = kind;
    barehex_of(jstr(p, "amount"), &dm->amount);
    barehex_of(jstr(p, "nonce"), &dm->m.nonce);
    barehex_of(jstr(p, "gasPrice"), &dm->m.gas_price);
    barehex_of(jstr(p, "gasLimit"), &dm->m.gas_limit);
    addr_of(jstr(p, "beneficiary"), dm->benef);
    addr_of(jstr(p, sender_key), dm->m.sender);
    hash_of(jstr(p, "hashLock"), dm->m.hashlock);
    hash_of(jstr(p, "unlockSecret"), dm->secret);
    addr_of(jstr(json_object_get(d, "contracts"), gw_key), dm->gateway);
    mosaic_intent_hash(kind, &dm->amount, dm->benef, dm->gateway, dm->m.intent_hash);
}

/* Every messageHash / _messageHash string anywhere in the dump. */
static void collect_hashes(json_t *o, const char **out, size_t *n)
{
    const char *k;
    json_t *v;

    if (!json_is_object(o))
        return;
    json_object_foreach(o, k, v) {
        if ((strcmp(k, "messageHash") == 0 || strcmp(k, "_messageHash") == 0 ||
             strcmp(k, "messageHash_") == 0) && json_is_string(v)) {
            if (*n < 64)
                out[(*n)++] = json_string_value(v);
        } else {
            collect_hashes(v, out, n);
        }
    }
}

/* Verifies the storage proof of `proof_data` for slot: present with status. */
static void check_status_proof(json_t *pd, const uint8_t slot[32], int status)
{
    json_t *sp = json_array_get(json_object_get(pd, "storageProof"), 0);
    struct mpt_node nodes[MPT_MAX_PROOF_NODES];
    uint8_t *bufs[MPT_MAX_PROOF_NODES], root[32];
    struct u256 v;
    size_t n, i;
    json_t *x;
    int exists;

    tv_assert_hex(slot, 32, jstr(sp, "key"));
    hash_of(jstr(pd, "storageHash"), root);
    json_array_foreach(json_object_get(sp, "proof"), i, x) {
        bufs[i] = tv_hex(json_string_value(x), &nodes[i].len);
        nodes[i].data = bufs[i];
    }
    n = json_array_size(json_object_get(sp, "proof"));
    assert_int_equal(mpt_verify_storage(root, slot, nodes, n, &v, &exists, NULL), MR_OK);
    assert_true(exists);
    assert_int_equal(v.w[0], (uint64_t)status);
    for (i = 0; i < n; i++)
        free(bufs[i]);
}

/* The storage proof a confirm/progress call was given (rlpParentNodes or
 * storageProof) verifies against its storageRoot at the remote box slot. */
static void check_call_proof(json_t *params, const uint8_t slot[32], int status)
{
    json_t *pn = json_object_get(params, "rlpParentNodes");
    struct mpt_node nodes[MPT_MAX_PROOF_NODES];
    uint8_t root[32], *buf, leaf[32], want[32];
    const uint8_t *v;
    size_t blen, n, vlen;
    int found;

    if (pn == NULL)
        pn = json_object_get(params, "storageProof");
    assert_non_null(pn);
    buf = tv_hex(json_string_value(pn), &blen);
    assert_int_equal(mpt_proof_decode(buf, blen, nodes, MPT_MAX_PROOF_NODES, &n, NULL), MR_OK);
    hash_of(jstr(params, "storageRoot"), root);
    mosaic_storage_path(slot, leaf);
    /* The way MerklePatriciaProof.verify checks it: keccak(leaf value). */
    assert_int_equal(mpt_verify(root, leaf, 32, nodes, n, &v, &vlen, &found, NULL), MR_OK);
    assert_true(found);
    keccak256(v, vlen, leaf);
    assert_int_equal(mosaic_status_leaf_hash(status, want, NULL), MR_OK);
    assert_memory_equal(leaf, want, 32);
    free(buf);
}

struct dump_spec {
    const char *file;
    enum mosaic_kind kind;
};

static const struct dump_spec specs[] = {
    {"stake_progressed_0.json", MOSAIC_STAKE},
    {"stake_progressed_1.json", MOSAIC_STAKE},
    {"stake_revoked_0.json", MOSAIC_STAKE},
    {"stake_revoked_1.json", MOSAIC_STAKE},
    {"redeem_progressed_0.json", MOSAIC_REDEEM},
    {"redeem_progressed_1.json", MOSAIC_REDEEM},
    {"redeem_progressed_reward_based_on_gas_consumption.json", MOSAIC_REDEEM},
    {"redeem_revoked_0.json", MOSAIC_REDEEM},
    {"redeem_revoked_1.json", MOSAIC_REDEEM},
};

/* One declaration dump: the source side's send call (stake() on origin,
 * redeem() on auxiliary) and the target side's confirm call rebuild the same
 * message (the target with remoteGateway); every hash in the dump is its
 * hash; the source's status proof and the confirm call's proof argument prove
 * DECLARED in the outbox slot, the target's status proof in the inbox slot. */
static void check_declare_dump(json_t *d, enum mosaic_kind kind)
{
    int stake = kind == MOSAIC_STAKE;
    size_t min_hashes = stake ? 4 : 2; /* hashes a stake / a redeem dump holds at least */
    const char *src_side = stake ? "gateway" : "co_gateway";
    const char *dst_side = stake ? "co_gateway" : "gateway";
    const char *send = stake ? "stake" : "redeem";
    const char *confirm = stake ? "confirm_stake_intent" : "confirm_redeem_intent";
    const char *sender = stake ? "staker" : "redeemer";
    const char *remote = stake ? "gateway" : "coGateway";
    json_t *src_o = json_object_get(d, src_side), *dst_o = json_object_get(d, dst_side);
    struct dump_msg src, dst;
    uint8_t mh[32], mh2[32], slot[32], hl[32];
    const char *hashes[64];
    size_t nh = 0;

    dump_message(d, src_side, send, sender, remote, kind, &src);
    dump_message(d, dst_side, confirm, sender, remote, kind, &dst);
    mosaic_message_hash(&src.m, mh);
    mosaic_message_hash(&dst.m, mh2);
    assert_memory_equal(mh, mh2, 32);
    mosaic_hashlock(src.secret, hl);
    assert_memory_equal(hl, src.m.hashlock, 32);
    collect_hashes(d, hashes, &nh);
    assert_true(nh >= min_hashes);
    for (size_t i = 0; i < nh; i++)
        tv_assert_hex(mh, 32, hashes[i]);
    mosaic_outbox_slot(mh, MOSAIC_MESSAGE_BOX_OFFSET, slot);
    check_status_proof(json_object_get(json_object_get(src_o, send), "proof_data"), slot,
                       MOSAIC_DECLARED);
    check_call_proof(json_object_get(json_object_get(dst_o, confirm), "params"), slot,
                     MOSAIC_DECLARED);
    mosaic_inbox_slot(mh, MOSAIC_MESSAGE_BOX_OFFSET, slot);
    check_status_proof(json_object_get(json_object_get(dst_o, confirm), "proof_data"), slot,
                       MOSAIC_DECLARED);
}

static void test_dumps(void **state)
{
    (void)state;

    for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
        char rel[160];
        json_t *d;
        snprintf(rel, sizeof(rel), FIXDIR "%s", specs[i].file);
        TV_LOAD_OR_SKIP(d, rel);
        check_declare_dump(d, specs[i].kind);
        json_decref(d);
    }
}

/* The status proofs of the later steps prove the later statuses: every
 * proof_data's storage value equals the status its slot holds. */
static void walk_statuses(json_t *o, const uint8_t out_slot[32], const uint8_t in_slot[32],
                          size_t *count)
{
    const char *k;
    json_t *v;

    if (!json_is_object(o))
        return;
    if (json_object_get(o, "accountProof") != NULL) {
        json_t *sp = json_array_get(json_object_get(o, "storageProof"), 0);
        uint8_t key[32];
        struct u256 st;
        hash_of(jstr(sp, "key"), key);
        assert_true(memcmp(key, out_slot, 32) == 0 || memcmp(key, in_slot, 32) == 0);
        assert_int_equal(hex_decode_quantity(jstr(sp, "value"), strlen(jstr(sp, "value")), &st,
                                             NULL), MR_OK);
        check_status_proof(o, key, (int)st.w[0]);
        (*count)++;
        return;
    }
    json_object_foreach(o, k, v)
        walk_statuses(v, out_slot, in_slot, count);
}

static void test_dump_status_proofs(void **state)
{
    size_t count = 0;
    (void)state;

    for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
        char rel[160];
        struct dump_msg dm;
        uint8_t mh[32], os[32], is[32];
        json_t *d;
        snprintf(rel, sizeof(rel), FIXDIR "%s", specs[i].file);
        TV_LOAD_OR_SKIP(d, rel);
        if (specs[i].kind == MOSAIC_STAKE)
            dump_message(d, "gateway", "stake", "staker", "gateway", MOSAIC_STAKE, &dm);
        else
            dump_message(d, "co_gateway", "redeem", "redeemer", "coGateway", MOSAIC_REDEEM, &dm);
        mosaic_message_hash(&dm.m, mh);
        mosaic_outbox_slot(mh, MOSAIC_MESSAGE_BOX_OFFSET, os);
        mosaic_inbox_slot(mh, MOSAIC_MESSAGE_BOX_OFFSET, is);
        walk_statuses(d, os, is, &count);
        json_decref(d);
    }
    assert_int_equal(count, 40);
}

/* ---- the CLI ---- */

static void args_for(json_t *c, const char *kind, const char **argv, char *buf, size_t cap,
                     int use_secret)
{
    json_t *in = json_object_get(c, "inputs");
    size_t a = 0;

    snprintf(buf, cap, "%lld", (long long)json_integer_value(json_object_get(in, "nonce")));
    argv[a++] = "message-hash";
    argv[a++] = "--kind";
    argv[a++] = kind;
    argv[a++] = "--amount";
    argv[a++] = jstr(in, "amount");
    argv[a++] = "--beneficiary";
    argv[a++] = jstr(in, "beneficiary");
    argv[a++] = "--gateway";
    argv[a++] = jstr(in, "gateway");
    argv[a++] = "--nonce";
    argv[a++] = buf;
    argv[a++] = "--gas-price";
    argv[a++] = jstr(in, "gasPrice");
    argv[a++] = "--gas-limit";
    argv[a++] = jstr(in, "gasLimit");
    argv[a++] = "--sender";
    argv[a++] = jstr(in, "sender");
    argv[a++] = use_secret ? "--secret" : "--hashlock";
    argv[a++] = use_secret == 2 ? "-" : use_secret ? jstr(in, "unlockSecret") : jstr(c, "hashLock");
    argv[a] = NULL;
}

static void expect_line(const char *out, const char *name, const char *hex)
{
    char line[160];
    size_t i;

    snprintf(line, sizeof(line), "%s: %s\n", name, hex);
    /* the vectors spell addresses in mixed case; hashes are lowercase */
    for (i = 0; line[i] != '\0'; i++) {
        if (line[i] >= 'A' && line[i] <= 'F')
            line[i] = (char)(line[i] - 'A' + 'a');
    }
    if (strstr(out, line) == NULL)
        print_message("missing line %s in:\n%s", line, out);
    assert_non_null(strstr(out, line));
}

static void test_cli_vectors(void **state)
{
    json_t *v, *c;
    size_t i;
    (void)state;

    TV_LOAD_OR_SKIP(v, "mosaic/mosaic_vectors.json");
    json_array_foreach(json_object_get(v, "cases"), i, c) {
        for (int k = 0; k < 2; k++) {
            const char *argv[24];
            char nonce[32], *out, *err, *secret_in;
            const char *kind = k ? "redeem" : "stake";
            char name[64];
            for (int mode = 0; mode < 3; mode++) {
                args_for(c, kind, argv, nonce, sizeof(nonce), mode);
                secret_in = NULL;
                if (mode == 2) {
                    secret_in = malloc(80);
                    snprintf(secret_in, 80, "%s\n", jstr(json_object_get(c, "inputs"),
                                                         "unlockSecret"));
                }
                assert_int_equal(tv_run_cli(argv, secret_in, &out, &err), 0);
                snprintf(name, sizeof(name), "%sIntentHash", kind);
                expect_line(out, "intent_hash", jstr(c, name));
                snprintf(name, sizeof(name), "%sMessageHash", kind);
                expect_line(out, "message_hash", jstr(c, name));
                snprintf(name, sizeof(name), "%s_outbox_storage_key", kind);
                expect_line(out, "outbox_key", jstr(c, name));
                snprintf(name, sizeof(name), "%s_inbox_storage_key", kind);
                expect_line(out, "inbox_key", jstr(c, name));
                expect_line(out, "hashlock", jstr(c, "hashLock"));
                if (k == 0)
                    expect_line(out, "outbox_path", jstr(c, "stake_outbox_trie_path"));
                /* the secret is never echoed */
                assert_null(strstr(out, jstr(json_object_get(c, "inputs"), "unlockSecret") + 2));
                assert_string_equal(err, "");
                free(out);
                free(err);
                free(secret_in);
            }
        }
    }
    json_decref(v);
}

static void test_cli_errors(void **state)
{
    static const char *const base[] = {
        "message-hash", "--kind", "stake", "--amount", "5", "--beneficiary",
        "0x000000000000000000000000000000000000dEaD", "--gateway",
        "0xFFfFfFffFFfffFFfFFfFFFFFffFFFffffFfFFFfF", "--nonce", "7", "--gas-price", "0",
        "--gas-limit", "0", "--sender", "0x00000000000000000000000000000000000000A1",
        "--hashlock", "0x1daacefe33a629911e88f81c4b6f786212dcb906f32d85b943699baad4f6af6f"};
    enum { NB = sizeof(base) / sizeof(base[0]) };
    static const struct {
        int idx;            /* argument to replace (-1: append) */
        const char *with;   /* replacement, or NULL to drop idx and idx+1 */
        const char *extra;  /* value appended after `with` when idx == -1 */
        const char *msg;
    } cases[] = {
        {2, "mint", NULL, "neither stake nor redeem"},
        {4, "-5", NULL, "--amount"},
        {4, "115792089237316195423570985008687907853269984665640564039457584007913129639936", NULL,
         "--amount"},
        {6, "0x1234", NULL, "--beneficiary"},
        {10, "seven", NULL, "--nonce"},
        {18, "0x1234", NULL, "--hashlock"},
        {15, NULL, NULL, "--sender is required"},
        {-1, "--secret", "0x01", "exactly one of --hashlock and --secret"},
        {-1, "--message-box-offset", "8", "9 (0.11+) or 7"},
        {-1, "--bogus", "1", "unknown option '--bogus'"},
        {-1, "--nonce", "1", "--nonce given twice"},
        {-1, "stray", "x", "unexpected argument"},
        {-1, "--message-box-offset", NULL, "needs a value"},
    };
    char *out, *err;
    (void)state;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *argv[NB + 4];
        size_t a = 0;
        for (size_t j = 0; j < NB; j++) {
            if ((int)j == cases[i].idx && cases[i].with == NULL) {
                j++; /* drop the option and its value */
                continue;
            }
            argv[a++] = (int)j == cases[i].idx ? cases[i].with : base[j];
        }
        if (cases[i].idx == -1) {
            argv[a++] = cases[i].with;
            if (cases[i].extra != NULL)
                argv[a++] = cases[i].extra;
        }
        argv[a] = NULL;
        assert_int_equal(tv_run_cli(argv, NULL, &out, &err), 2);
        if (strstr(err, cases[i].msg) == NULL)
            print_message("case %zu: %s", i, err);
        assert_non_null(strstr(err, cases[i].msg));
        assert_string_equal(strchr(err, '\n'), "\n"); /* one line */
        assert_string_equal(out, "");
        free(out);
        free(err);
    }
    /* a bad secret: refused without echoing it */
    {
        const char *argv[NB + 1];
        memcpy(argv, base, sizeof(base));
        argv[17] = "--secret";
        argv[18] = "0x5ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec";
        argv[NB] = NULL;
        assert_int_equal(tv_run_cli(argv, NULL, &out, &err), 2);
        assert_null(strstr(err, "5ec7e7"));
        free(out);
        free(err);
        argv[18] = "-";
        assert_int_equal(tv_run_cli(argv, "", &out, &err), 2);
        assert_non_null(strstr(err, "stdin"));
        free(out);
        free(err);
    }
    /* 0.10.0 offsets move both keys to slots 7 and 8 */
    {
        const char *argv[NB + 3];
        uint8_t mh[32], slot[32];
        char line[120], hex[67];
        memcpy(argv, base, sizeof(base));
        argv[NB] = "--message-box-offset=7";
        argv[NB + 1] = NULL;
        assert_int_equal(tv_run_cli(argv, NULL, &out, &err), 0);
        hash_of("0x0e6935c08e5ed2bad8387bcb56ea6ac3e25ce5820001f0ca69cd52c07fc065d8", mh);
        expect_line(out, "message_hash",
                    "0x0e6935c08e5ed2bad8387bcb56ea6ac3e25ce5820001f0ca69cd52c07fc065d8");
        mosaic_mapping_slot(mh, 7, slot);
        hex_encode_data(slot, 32, hex, sizeof(hex));
        snprintf(line, sizeof(line), "outbox_key: %s\n", hex);
        assert_non_null(strstr(out, line));
        mosaic_mapping_slot(mh, 8, slot);
        hex_encode_data(slot, 32, hex, sizeof(hex));
        snprintf(line, sizeof(line), "inbox_key: %s\n", hex);
        assert_non_null(strstr(out, line));
        free(out);
        free(err);
    }
    /* --help */
    {
        const char *argv[] = {"message-hash", "--help", NULL};
        assert_int_equal(tv_run_cli(argv, NULL, &out, &err), 0);
        assert_non_null(strstr(out, "--gas-limit"));
        assert_non_null(strstr(out, "--message-box-offset"));
        assert_non_null(strstr(out, "Example"));
        free(out);
        free(err);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_typehashes),
        cmocka_unit_test(test_vector_cases),
        cmocka_unit_test(test_status_and_slots),
        cmocka_unit_test(test_mapping_paths),
        cmocka_unit_test(test_dumps),
        cmocka_unit_test(test_dump_status_proofs),
        cmocka_unit_test(test_cli_vectors),
        cmocka_unit_test(test_cli_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
