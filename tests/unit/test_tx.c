/*
 * test_tx.c - transactions (eth/tx.h) against ethereum/tests
 * TransactionTests (every file, every fork), BasicTests/txtest.json, the
 * EIP-155 example, sign/encode/decode/recover round trips and byte flips.
 */
#include "tests/lib/testlib.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "eth/keccak.h"
#include "eth/key.h"
#include "eth/rlp.h"
#include "eth/tx.h"
#include "relayer/sysrand.h"

/* The chain the TransactionTests sign for. */
#define TT_CHAIN_ID 1

static int setup_ctx(void **state)
{
    uint8_t seed[32];

    if (sys_random(seed, sizeof(seed)) != MR_OK)
        return -1;
    *state = key_ctx_create(seed);
    return *state == NULL ? -1 : 0;
}

static int teardown_ctx(void **state)
{
    key_ctx_destroy(*state);
    return 0;
}

/* Decodes a hex vector field into out[n] exactly. */
static void hex_exact(const char *s, uint8_t *out, size_t n)
{
    size_t len;
    uint8_t *b = tv_hex(s, &len);

    assert_int_equal(len, n);
    memcpy(out, b, n);
    free(b);
}

/* ---- TransactionTests ---- */

struct tally {
    unsigned tests;    /* named tests */
    unsigned cases;    /* (test, fork) pairs */
    unsigned valid;    /* valid cases that decoded and matched */
    unsigned rejected; /* invalid cases that were rejected */
    unsigned skipped;  /* forks this module does not know */
    unsigned failed;
};

/* Where a transaction can be refused: by tx_decode, tx_validate or
 * tx_sender. */
enum { AT_DECODE = 1, AT_VALIDATE = 2, AT_SENDER = 4 };

/* Which step must refuse each kind of invalid vector (the name after
 * "TransactionException."; a prefix matches).  A signature the decoder can
 * already refuse (r of 33 bytes) may fail there; an EIP-155 v before Spurious
 * Dragon is refused by tx_sender (and tx_validate). */
static const struct {
    const char *prefix;
    int at;
} tt_expect[] = {
    {"RLP_", AT_DECODE},
    {"ADDRESS_TOO_", AT_DECODE},
    {"NONCE_OVERFLOW", AT_DECODE},
    {"GASLIMIT_OVERFLOW", AT_DECODE},
    {"GASPRICE_OVERFLOW", AT_DECODE},
    {"PRIORITY_OVERFLOW", AT_DECODE},
    {"VALUE_OVERFLOW", AT_DECODE},
    {"TYPE_NOT_SUPPORTED", AT_DECODE | AT_VALIDATE},
    {"NONCE_TOO_BIG", AT_VALIDATE},
    {"GASLIMIT_PRICE_PRODUCT_OVERFLOW", AT_VALIDATE},
    {"PRIORITY_GREATER_THAN_MAX_FEE_PER_GAS", AT_VALIDATE},
    {"INTRINSIC_GAS_TOO_LOW", AT_VALIDATE},
    {"INITCODE_SIZE_EXCEEDED", AT_VALIDATE},
    {"INVALID_CHAINID", AT_VALIDATE | AT_SENDER},
    {"INVALID_SIGNATURE_VRS", AT_DECODE | AT_SENDER},
    {"EC_RECOVERY_FAIL", AT_SENDER},
};

/* The steps allowed to refuse exception `exc`; all of them if unknown. */
static int tt_expected_at(const char *exc)
{
    const char *p = strchr(exc, '.');

    p = p != NULL ? p + 1 : exc;
    for (size_t i = 0; i < sizeof(tt_expect) / sizeof(tt_expect[0]); i++)
        if (strncmp(p, tt_expect[i].prefix, strlen(tt_expect[i].prefix)) == 0)
            return tt_expect[i].at;
    print_message("note: exception %s has no expected step; any refusal counts\n", exc);
    return AT_DECODE | AT_VALIDATE | AT_SENDER;
}

/* Runs validation and recovery (each even if the other fails) on a decoded
 * tx.  Returns the AT_* steps that refused it; err gets the first reason.
 * Out: addr when recovery succeeded. */
static int tt_refusals(const secp256k1_context *ctx, const struct tx *tx,
                       const struct tx_rules *rules, uint8_t addr[20], struct mr_error *err)
{
    struct mr_error e2;
    int at = 0;

    if (tx_validate(tx, rules, err) != MR_OK)
        at |= AT_VALIDATE;
    if (tx_sender(ctx, tx, rules, addr, at ? &e2 : err) != MR_OK)
        at |= AT_SENDER;
    return at;
}

/* A valid case must match the vector's sender, hash and intrinsic gas. */
static int tt_match_valid(const json_t *want, const struct tx *tx, const struct tx_rules *rules,
                          const uint8_t *raw, size_t len, const uint8_t addr[20], char *why,
                          size_t whylen)
{
    uint8_t exp_addr[20], exp_hash[32], hash[32];
    uint64_t gas = 0;
    unsigned long long exp_gas =
        strtoull(json_string_value(json_object_get(want, "intrinsicGas")), NULL, 16);

    hex_exact(json_string_value(json_object_get(want, "sender")), exp_addr, 20);
    hex_exact(json_string_value(json_object_get(want, "hash")), exp_hash, 32);
    tx_hash(raw, len, hash);
    if (memcmp(addr, exp_addr, 20) != 0)
        snprintf(why, whylen, "sender differs");
    else if (memcmp(hash, exp_hash, 32) != 0)
        snprintf(why, whylen, "hash differs");
    else if (tx_intrinsic_gas(tx, rules, &gas, NULL) != MR_OK || gas != exp_gas)
        snprintf(why, whylen, "intrinsic gas %llu, want %llu", (unsigned long long)gas, exp_gas);
    else
        return 1;
    return 0;
}

/* One (test, fork) case: a valid one must pass all three steps and match
 * the vector; an invalid one must be refused, by the step that owns the
 * reason the vector gives. */
static void tt_case(const secp256k1_context *ctx, const char *file, const char *name,
                    const char *fork, const json_t *want, const struct mr_error *decoded,
                    const struct tx *tx, const uint8_t *raw, size_t len, struct tally *t)
{
    struct tx_rules rules;
    struct mr_error err = *decoded;
    uint8_t addr[20];
    char why[MR_ERROR_MSG_LEN + 64] = "";
    const char *exc = json_string_value(json_object_get(want, "exception"));
    int at = AT_DECODE;

    t->cases++;
    if (tx_rules_fork(&rules, fork, TT_CHAIN_ID) != MR_OK) {
        print_message("SKIP %s %s %s: fork not known to tx_rules_fork\n", file, name, fork);
        t->skipped++;
        return;
    }
    if (decoded->code == MR_OK)
        at = tt_refusals(ctx, tx, &rules, addr, &err);
    if (exc == NULL && at == 0 &&
        tt_match_valid(want, tx, &rules, raw, len, addr, why, sizeof(why))) {
        t->valid++;
        return;
    }
    if (exc != NULL && (at & tt_expected_at(exc)) != 0) {
        t->rejected++;
        return;
    }
    if (exc != NULL && at != 0)
        snprintf(why, sizeof(why), "refused by the wrong step (%s%s%s): %s",
                 at & AT_DECODE ? "decode " : "", at & AT_VALIDATE ? "validate " : "",
                 at & AT_SENDER ? "sender" : "", err.msg);
    else if (at != 0)
        snprintf(why, sizeof(why), "refused: %s", err.msg);
    t->failed++;
    print_error("FAIL %s %s %s: expected %s, %s\n", file, name, fork,
                exc != NULL ? exc : "valid", why[0] != '\0' ? why : "accepted");
}

/* All tests in one vector file. */
static void tt_file(const secp256k1_context *ctx, const char *path, const char *rel,
                    struct tally *t)
{
    json_error_t jerr;
    json_t *doc = json_load_file(path, 0, &jerr), *test, *want;
    const char *name, *fork;

    if (doc == NULL)
        fail_msg("cannot load %s: %s", path, jerr.text);
    json_object_foreach(doc, name, test) {
        size_t len;
        uint8_t *raw = tv_hex(json_string_value(json_object_get(test, "txbytes")), &len);
        struct tx tx;
        struct mr_error err;

        mr_error_clear(&err);
        err.code = tx_decode(raw, len, &tx, &err);
        t->tests++;
        if (err.code == MR_OK) {
            /* Decoding is exact: re-encoding gives the same bytes. */
            uint8_t *again = malloc(len + 1);
            size_t n;
            assert_non_null(again);
            assert_int_equal(tx_encode(&tx, again, len, &n, NULL), MR_OK);
            assert_int_equal(n, len);
            assert_memory_equal(again, raw, len);
            free(again);
        }
        json_object_foreach(json_object_get(test, "result"), fork, want)
            tt_case(ctx, rel, name, fork, want, &err, &tx, raw, len, t);
        free(raw);
    }
    json_decref(doc);
}

static int is_dir(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int not_hidden(const struct dirent *d)
{
    return d->d_name[0] != '.';
}

/* Every *.json file under dir (recursively, sorted). */
static void tt_walk(const secp256k1_context *ctx, const char *dir, const char *rel,
                    struct tally *t)
{
    struct dirent **names;
    int n = scandir(dir, &names, not_hidden, alphasort);

    assert_true(n >= 0);
    for (int i = 0; i < n; i++) {
        char path[4096], sub[1024];
        const char *nm = names[i]->d_name;
        size_t l = strlen(nm);

        snprintf(path, sizeof(path), "%s/%s", dir, nm);
        snprintf(sub, sizeof(sub), "%s/%s", rel, nm);
        if (is_dir(path))
            tt_walk(ctx, path, sub, t);
        else if (l > 5 && strcmp(nm + l - 5, ".json") == 0)
            tt_file(ctx, path, sub, t);
        free(names[i]);
    }
    free(names);
}

static void test_transaction_tests(void **state)
{
    const char *vdir = tv_dir();
    char root[4096];
    struct dirent **cats;
    struct tally total = {0};
    int n;

    if (vdir == NULL) {
        print_message("SKIP: test vectors not found (set MOSAIC_VECTORS)\n");
        skip();
    }
    snprintf(root, sizeof(root), "%s/ethereum-tests/TransactionTests", vdir);
    n = scandir(root, &cats, not_hidden, alphasort);
    if (n < 0)
        fail_msg("cannot read %s", root);
    for (int i = 0; i < n; i++) {
        struct tally t = {0};
        char path[8192];

        snprintf(path, sizeof(path), "%s/%s", root, cats[i]->d_name);
        if (strncmp(cats[i]->d_name, "tt", 2) == 0 && is_dir(path)) {
            tt_walk(*state, path, cats[i]->d_name, &t);
            print_message("%-12s %3u tests %4u fork cases: %4u valid ok, %4u rejected ok, "
                          "%u skipped, %u failed\n", cats[i]->d_name, t.tests, t.cases, t.valid,
                          t.rejected, t.skipped, t.failed);
            total.tests += t.tests;
            total.cases += t.cases;
            total.valid += t.valid;
            total.rejected += t.rejected;
            total.skipped += t.skipped;
            total.failed += t.failed;
        }
        free(cats[i]);
    }
    free(cats);
    print_message("%-12s %3u tests %4u fork cases: %4u valid ok, %4u rejected ok, %u skipped, "
                  "%u failed\n", "total", total.tests, total.cases, total.valid, total.rejected,
                  total.skipped, total.failed);
    assert_true(total.tests > 0 && total.valid > 0 && total.rejected > 0);
    assert_int_equal(total.failed, 0);
    assert_int_equal(total.skipped, 0);
}

/* Flipping any single byte of a valid signed transaction must make it fail
 * to decode or to recover, or recover someone else (in3-style mutation). */
static void test_byte_flips(void **state)
{
    json_t *doc;
    struct tx tx;
    struct tx_rules rules;
    uint8_t *raw, want[20], got[20];
    size_t len;
    const char *files[] = {
        "ethereum-tests/TransactionTests/ttSignature/Vitalik_1.json",
        "ethereum-tests/TransactionTests/ttEIP2930/accessListStorage32Bytes.json",
        "ethereum-tests/TransactionTests/ttEIP1559/GasLimitPriceProductOverflowtMinusOne.json",
    };

    tx_rules_latest(&rules, TT_CHAIN_ID);
    for (size_t f = 0; f < sizeof(files) / sizeof(files[0]); f++) {
        json_t *test;
        TV_LOAD_OR_SKIP(doc, files[f]);
        test = json_object_iter_value(json_object_iter(doc));
        raw = tv_hex(json_string_value(json_object_get(test, "txbytes")), &len);
        assert_int_equal(tx_decode(raw, len, &tx, NULL), MR_OK);
        assert_int_equal(tx_sender(*state, &tx, &rules, want, NULL), MR_OK);
        for (size_t i = 0; i < len; i++) {
            for (unsigned bit = 0; bit < 8; bit += 3) {
                raw[i] ^= (uint8_t)(1u << bit);
                if (tx_decode(raw, len, &tx, NULL) == MR_OK &&
                    tx_sender(*state, &tx, &rules, got, NULL) == MR_OK)
                    assert_memory_not_equal(got, want, 20);
                raw[i] ^= (uint8_t)(1u << bit);
            }
        }
        free(raw);
        json_decref(doc);
    }
}

/* ---- BasicTests/txtest.json ---- */

/* Old pyethereum vectors: fields, key and the signed legacy (pre-EIP-155)
 * transaction.  Decoding must give the fields and the key's address; our
 * RFC 6979 signature must be theirs or its low-S twin. */
static void test_basic_txtest(void **state)
{
    const secp256k1_context *ctx = *state;
    json_t *doc, *c;
    size_t i, n;
    struct tx_rules rules;

    TV_LOAD_OR_SKIP(doc, "ethereum-tests/BasicTests/txtest.json");
    tx_rules_fork(&rules, "Frontier", TT_CHAIN_ID); /* high S was fine then */
    assert_true(json_array_size(doc) > 0);
    json_array_foreach(doc, i, c) {
        uint8_t *sk = tv_hex(json_string_value(json_object_get(c, "key")), &n);
        uint8_t *raw, *to, addr[20], from[20], out[512];
        size_t len, tolen, outlen;
        struct tx tx, mine;

        raw = tv_hex(json_string_value(json_object_get(c, "signed")), &len);
        to = tv_hex(json_string_value(json_object_get(c, "to")), &tolen);
        assert_int_equal(tx_decode(raw, len, &tx, NULL), MR_OK);
        assert_int_equal(tx.type, TX_LEGACY);
        assert_int_equal(tx.eip155, 0);
        assert_int_equal(tx.nonce, json_integer_value(json_object_get(c, "nonce")));
        assert_int_equal(tx.gas_price.w[0], json_integer_value(json_object_get(c, "gasprice")));
        assert_int_equal(tx.gas_limit, json_integer_value(json_object_get(c, "startgas")));
        assert_int_equal(tx.value.w[0], json_integer_value(json_object_get(c, "value")));
        assert_int_equal(tx.has_to, tolen == 20);
        if (tolen == 20)
            assert_memory_equal(tx.to, to, 20);
        tv_assert_hex(tx.data, tx.data_len, json_string_value(json_object_get(c, "data")));
        assert_int_equal(key_private_to_address(ctx, sk, addr, NULL), MR_OK);
        assert_int_equal(tx_sender(ctx, &tx, &rules, from, NULL), MR_OK);
        assert_memory_equal(from, addr, 20);

        mine = tx;
        memset(mine.r, 0, 32);
        memset(mine.s, 0, 32);
        assert_int_equal(tx_sign(ctx, &mine, sk, NULL), MR_OK);
        assert_memory_equal(mine.r, tx.r, 32);
        if (key_cmp32(tx.s, key_half_order) <= 0) {
            assert_int_equal(tx_encode(&mine, out, sizeof(out), &outlen, NULL), MR_OK);
            assert_int_equal(outlen, len);
            assert_memory_equal(out, raw, len);
        } else {
            /* Theirs is high S: ours is (n - s) with the other parity. */
            struct u256 order, theirs, ours;
            assert_int_equal(mine.v.w[0], 55 - tx.v.w[0]); /* 27 <-> 28 */
            assert_int_equal(u256_from_be(&order, key_curve_order, 32), MR_OK);
            assert_int_equal(u256_from_be(&theirs, tx.s, 32), MR_OK);
            assert_int_equal(u256_from_be(&ours, mine.s, 32), MR_OK);
            assert_int_equal(u256_add(&ours, &ours, &theirs), MR_OK);
            assert_int_equal(u256_cmp(&ours, &order), 0);
        }
        mr_wipe(sk, n);
        free(sk);
        free(raw);
        free(to);
    }
    json_decref(doc);
}

/* ---- EIP-155 §Example ---- */

static void test_eip155_example(void **state)
{
    struct tx tx, back;
    struct tx_rules rules;
    uint8_t sk[32], hash[32], want_hash[32], addr[20], from[20], out[256];
    uint8_t *sdata;
    size_t len, slen;

    memset(sk, 0x46, 32);
    tx_init(&tx, TX_LEGACY, 1);
    tx.nonce = 9;
    u256_from_u64(&tx.gas_price, 20000000000ull);
    tx.gas_limit = 21000;
    tx.has_to = 1;
    memset(tx.to, 0x35, 20);
    u256_from_u64(&tx.value, 1000000000000000000ull);
    /* The signing data and its hash, as the EIP lists them. */
    sdata = tv_hex("0xec098504a817c800825208943535353535353535353535353535353535353535880de0b6"
                   "b3a764000080018080", &slen);
    keccak256(sdata, slen, want_hash);
    free(sdata);
    tv_assert_hex(want_hash, 32,
                  "daf5a779ae972f972197303d7b574746c7ef83eadac0f2791ad23db92e4c8e53");
    tx_signing_hash(&tx, hash);
    assert_memory_equal(hash, want_hash, 32);

    assert_int_equal(tx_sign(*state, &tx, sk, NULL), MR_OK);
    assert_int_equal(tx.v.w[0], 37);
    assert_int_equal(tx_encode(&tx, out, sizeof(out), &len, NULL), MR_OK);
    tv_assert_hex(out, len,
                  "f86c098504a817c800825208943535353535353535353535353535353535353535880de0b6b3a7"
                  "6400008025a028ef61340bd939bc2195fe537567866003e1a15d3c71ff63e1590620aa636276a0"
                  "67cbe9d8997f761aecb703304b3800ccf555c9f3dc64214b297fb1966a3b6d83");
    assert_int_equal(tx_decode(out, len, &back, NULL), MR_OK);
    assert_int_equal(back.eip155, 1);
    assert_int_equal(back.chain_id.w[0], 1);
    tx_rules_latest(&rules, 1);
    assert_int_equal(tx_validate(&back, &rules, NULL), MR_OK);
    assert_int_equal(tx_sender(*state, &back, &rules, from, NULL), MR_OK);
    assert_int_equal(key_private_to_address(*state, sk, addr, NULL), MR_OK);
    assert_memory_equal(from, addr, 20);
    /* Before Spurious Dragon the same bytes carry no valid signature. */
    tx_rules_fork(&rules, "Homestead", 1);
    assert_int_equal(tx_sender(*state, &back, &rules, from, NULL), MR_ERR_SIGNATURE);
    assert_int_equal(tx_validate(&back, &rules, NULL), MR_ERR_TX);
}

/* ---- round trips ---- */

/* A valid access list: two addresses, three storage keys. */
static const uint8_t *sample_access_list(size_t *len)
{
    static uint8_t buf[256];
    uint8_t addr[20], key[32];
    struct rlp_enc e;
    size_t all, entry, keys;

    rlp_enc_init(&e, buf, sizeof(buf));
    all = rlp_enc_list_begin(&e);
    for (int a = 0; a < 2; a++) {
        memset(addr, 0xa0 + a, 20);
        entry = rlp_enc_list_begin(&e);
        rlp_enc_bytes(&e, addr, 20);
        keys = rlp_enc_list_begin(&e);
        for (int k = 0; k < 1 + a; k++) {
            memset(key, k, 32);
            rlp_enc_bytes(&e, key, 32);
        }
        rlp_enc_list_end(&e, keys);
        rlp_enc_list_end(&e, entry);
    }
    rlp_enc_list_end(&e, all);
    assert_int_equal(rlp_enc_finish(&e, len), MR_OK);
    return buf;
}

/* Signs, sizes, encodes, decodes and recovers one transaction. */
static void roundtrip(const secp256k1_context *ctx, struct tx *tx, const uint8_t sk[32])
{
    struct tx back;
    struct tx_rules rules;
    uint8_t addr[20], from[20], buf[2048], h1[32], h2[32];
    size_t need, len;
    struct mr_error err;

    tx_rules_latest(&rules, 5);
    assert_int_equal(tx_sign(ctx, tx, sk, NULL), MR_OK);
    assert_int_equal(tx_encode(tx, NULL, 0, &need, &err), MR_ERR_TOOBIG);
    assert_true(need > 0 && need <= sizeof(buf));
    assert_int_equal(tx_encode(tx, buf, need - 1, &len, NULL), MR_ERR_TOOBIG);
    assert_int_equal(tx_encode(tx, buf, sizeof(buf), &len, NULL), MR_OK);
    assert_int_equal(len, need);
    assert_int_equal(tx_decode(buf, len, &back, &err), MR_OK);
    assert_int_equal(back.type, tx->type);
    assert_int_equal(back.nonce, tx->nonce);
    assert_int_equal(back.gas_limit, tx->gas_limit);
    assert_int_equal(back.eip155, tx->type == TX_LEGACY && tx->eip155);
    if (tx->type != TX_LEGACY || tx->eip155)
        assert_int_equal(u256_cmp(&back.chain_id, &tx->chain_id), 0);
    assert_int_equal(u256_cmp(&back.value, &tx->value), 0);
    assert_int_equal(back.data_len, tx->data_len);
    if (back.data_len > 0) /* zero-copy: data points into the decoded buffer */
        assert_true((uintptr_t)back.data >= (uintptr_t)buf &&
                    (uintptr_t)(back.data + back.data_len) <= (uintptr_t)(buf + len));
    if (tx->data_len > 0)
        assert_memory_equal(back.data, tx->data, tx->data_len);
    assert_int_equal(back.access_list_addresses, tx->access_list_addresses);
    assert_int_equal(back.access_list_keys, tx->access_list_keys);
    tx_signing_hash(tx, h1);
    tx_signing_hash(&back, h2);
    assert_memory_equal(h1, h2, 32);
    assert_int_equal(tx_validate(&back, &rules, &err), MR_OK);
    assert_int_equal(tx_sender(ctx, &back, &rules, from, &err), MR_OK);
    assert_int_equal(key_private_to_address(ctx, sk, addr, NULL), MR_OK);
    assert_memory_equal(from, addr, 20);
    /* Another chain's rules refuse it. */
    rules.chain_id = 6;
    if (tx->type != TX_LEGACY || tx->eip155)
        assert_int_equal(tx_validate(&back, &rules, &err), MR_ERR_TX);
}

static void test_sign_roundtrips(void **state)
{
    uint8_t sk[32], data[356];
    size_t al_len;
    const uint8_t *al = sample_access_list(&al_len);
    struct tx tx;

    assert_int_equal(sys_random(sk, 32), MR_OK);
    sk[0] = 0x01; /* below n */
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (uint8_t)(i % 7 == 0 ? 0 : i);

    tx_init(&tx, TX_LEGACY, 5); /* EIP-155 */
    tx.gas_limit = 100000;
    u256_from_u64(&tx.gas_price, 1000000000);
    tx.has_to = 1;
    memset(tx.to, 0x22, 20);
    tx.data = data;
    tx.data_len = sizeof(data);
    roundtrip(*state, &tx, sk);
    assert_true(tx.v.w[0] == 5 * 2 + 35 || tx.v.w[0] == 5 * 2 + 36);

    tx.eip155 = 0; /* pre-EIP-155 */
    roundtrip(*state, &tx, sk);
    assert_true(tx.v.w[0] == 27 || tx.v.w[0] == 28);

    tx_init(&tx, TX_ACCESS_LIST, 5);
    tx.nonce = 7;
    tx.gas_limit = 100000;
    u256_from_u64(&tx.gas_price, 3);
    assert_int_equal(tx_set_access_list(&tx, al, al_len, NULL), MR_OK);
    assert_int_equal(tx.access_list_addresses, 2);
    assert_int_equal(tx.access_list_keys, 3);
    tx.data = data; /* a creation */
    tx.data_len = 1;
    roundtrip(*state, &tx, sk);

    tx_init(&tx, TX_DYNAMIC_FEE, 5);
    tx.nonce = 41;
    tx.gas_limit = 300000;
    u256_from_u64(&tx.max_priority_fee, 1500000000);
    u256_from_u64(&tx.max_fee, 30000000000ull);
    tx.has_to = 1;
    memset(tx.to, 0x33, 20);
    u256_from_u64(&tx.value, 12345);
    tx.data = data;
    tx.data_len = sizeof(data);
    roundtrip(*state, &tx, sk);
    assert_true(tx.v.w[0] <= 1);
    assert_int_equal(tx_set_access_list(&tx, al, al_len, NULL), MR_OK);
    roundtrip(*state, &tx, sk);
    mr_wipe(sk, 32);
}

/* ---- decoder and rule edges the vectors do not reach ---- */

static void test_decode_rejects(void **state)
{
    struct tx tx;
    struct mr_error err;
    size_t na, nk;
    /* A signed type 2 tx with every field minimal: [1,0,0,0,0,"",0,"",[],0,1,1]. */
    uint8_t ok2[] = {0x02, 0xcc, 0x01, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0xc0, 0x80,
                     0x01, 0x01};
    uint8_t buf[64];
    (void)state;

    assert_int_equal(tx_decode(ok2, sizeof(ok2), &tx, &err), MR_OK);
    assert_int_equal(tx.type, TX_DYNAMIC_FEE);
    assert_int_equal(tx.has_to, 0);
    assert_int_equal(tx_decode(ok2, 0, &tx, &err), MR_ERR_RLP);
    assert_int_equal(tx_decode(ok2, sizeof(ok2) - 1, &tx, &err), MR_ERR_RLP); /* truncated */
    memcpy(buf, ok2, sizeof(ok2));
    buf[sizeof(ok2)] = 0x00; /* trailing byte */
    assert_int_equal(tx_decode(buf, sizeof(ok2) + 1, &tx, &err), MR_ERR_RLP);
    buf[0] = 0x03; /* blob transactions are not supported */
    assert_int_equal(tx_decode(buf, sizeof(ok2), &tx, &err), MR_ERR_TX);
    assert_non_null(strstr(err.msg, "0x03"));
    buf[0] = 0x00; /* type 0 has no envelope */
    assert_int_equal(tx_decode(buf, sizeof(ok2), &tx, &err), MR_ERR_TX);
    buf[0] = 0x01; /* 12 fields are one too many for type 1 */
    assert_int_equal(tx_decode(buf, sizeof(ok2), &tx, &err), MR_ERR_RLP);
    assert_non_null(strstr(err.msg, "fields"));
    buf[0] = 0x02;
    buf[10] = 0x80; /* access list given as a string */
    assert_int_equal(tx_decode(buf, sizeof(ok2), &tx, &err), MR_ERR_RLP);
    /* Payload a string, not a list. */
    assert_int_equal(tx_decode((const uint8_t *)"\x02\x81\x90", 3, &tx, &err), MR_ERR_RLP);
    /* Only the type byte. */
    assert_int_equal(tx_decode((const uint8_t *)"\x02", 1, &tx, &err), MR_ERR_RLP);

    /* Access lists. */
    assert_int_equal(tx_access_list_check((const uint8_t *)"\xc0", 1, &na, &nk, NULL), MR_OK);
    assert_int_equal(na + nk, 0);
    /* [[addr]] : an entry without keys */
    memset(buf, 0, sizeof(buf));
    buf[0] = 0xd6;
    buf[1] = 0xd5;
    buf[2] = 0x94;
    assert_int_equal(tx_access_list_check(buf, 23, &na, &nk, &err), MR_ERR_RLP);
    /* [[addr, "x"]] : keys not a list */
    buf[0] = 0xd8;
    buf[1] = 0xd7;
    buf[23] = 0x81;
    buf[24] = 0x90;
    assert_int_equal(tx_access_list_check(buf, 25, &na, &nk, &err), MR_ERR_RLP);
    /* [[addr, []]] : fine, one address, no key */
    buf[0] = 0xd7;
    buf[1] = 0xd6;
    buf[23] = 0xc0;
    assert_int_equal(tx_access_list_check(buf, 24, &na, &nk, &err), MR_OK);
    assert_int_equal(na, 1);
    assert_int_equal(nk, 0);
    /* [[addr, [], x]] : three items */
    buf[0] = 0xd8;
    buf[1] = 0xd7;
    buf[24] = 0x80;
    assert_int_equal(tx_access_list_check(buf, 25, &na, &nk, &err), MR_ERR_RLP);
    /* ["x"] : an entry that is not a list */
    assert_int_equal(tx_access_list_check((const uint8_t *)"\xc1\x01", 2, &na, &nk, &err),
                     MR_ERR_RLP);
    /* A string, not a list. */
    assert_int_equal(tx_access_list_check((const uint8_t *)"\x80", 1, &na, &nk, &err), MR_ERR_RLP);
}

static void test_rules(void **state)
{
    struct tx tx;
    struct tx_rules r;
    struct mr_error err;
    uint64_t gas;
    static uint8_t code[TX_MAX_INITCODE_SIZE + 1];
    uint8_t addr[20];

    assert_int_equal(tx_rules_fork(&r, "Prague", 1), MR_ERR_NOTFOUND);
    assert_int_equal(tx_rules_fork(&r, "Shanghai", 1), MR_OK);
    assert_true(r.homestead && r.eip155 && r.eip2028 && r.eip2930 && r.eip1559 && r.eip3860);

    /* Yellow Paper g0 by hand: a creation with 2 zero and 3 non-zero bytes. */
    tx_init(&tx, TX_LEGACY, 1);
    code[1] = code[3] = code[4] = 0x60;
    tx.data = code;
    tx.data_len = 5;
    tx_rules_fork(&r, "Frontier", 1);
    assert_int_equal(tx_intrinsic_gas(&tx, &r, &gas, NULL), MR_OK);
    assert_int_equal(gas, 21000 + 2 * 4 + 3 * 68);
    tx_rules_fork(&r, "Homestead", 1);
    assert_int_equal(tx_intrinsic_gas(&tx, &r, &gas, NULL), MR_OK);
    assert_int_equal(gas, 53000 + 2 * 4 + 3 * 68);
    tx_rules_fork(&r, "Istanbul", 1);
    assert_int_equal(tx_intrinsic_gas(&tx, &r, &gas, NULL), MR_OK);
    assert_int_equal(gas, 53000 + 2 * 4 + 3 * 16);
    tx_rules_fork(&r, "Shanghai", 1);
    assert_int_equal(tx_intrinsic_gas(&tx, &r, &gas, NULL), MR_OK);
    assert_int_equal(gas, 53000 + 2 * 4 + 3 * 16 + 2 * 1);

    /* EIP-3860: 49152 bytes of initcode pass, 49153 do not; before
     * Shanghai there was no limit. */
    tx.gas_limit = 30000000;
    tx.data_len = TX_MAX_INITCODE_SIZE;
    assert_int_equal(tx_validate(&tx, &r, &err), MR_OK);
    tx.data_len = TX_MAX_INITCODE_SIZE + 1;
    assert_int_equal(tx_validate(&tx, &r, &err), MR_ERR_TX);
    assert_non_null(strstr(err.msg, "EIP-3860"));
    tx.has_to = 1; /* not a creation: no limit */
    assert_int_equal(tx_validate(&tx, &r, &err), MR_OK);
    tx.has_to = 0;
    tx_rules_fork(&r, "London", 1);
    assert_int_equal(tx_validate(&tx, &r, &err), MR_OK);

    /* EIP-2681 and the gas limit. */
    tx.data_len = 0;
    tx.nonce = UINT64_MAX;
    assert_int_equal(tx_validate(&tx, &r, &err), MR_ERR_TX);
    tx.nonce = UINT64_MAX - 1;
    tx.gas_limit = 52999;
    assert_int_equal(tx_validate(&tx, &r, &err), MR_ERR_TX);
    assert_non_null(strstr(err.msg, "intrinsic"));
    tx.gas_limit = 53000;
    assert_int_equal(tx_validate(&tx, &r, &err), MR_OK);

    /* Typed: y parity 2 is no signature; chain id must match. */
    tx_init(&tx, TX_DYNAMIC_FEE, 1);
    tx.gas_limit = 21000;
    tx.has_to = 1;
    u256_from_u64(&tx.v, 2);
    tx.r[31] = 1;
    tx.s[31] = 1;
    assert_int_equal(tx_sender(*state, &tx, &r, addr, &err), MR_ERR_SIGNATURE);
    assert_non_null(strstr(err.msg, "y parity"));
    u256_from_u64(&tx.chain_id, 2);
    assert_int_equal(tx_validate(&tx, &r, &err), MR_ERR_TX);
    assert_non_null(strstr(err.msg, "chain id 2"));
    u256_from_u64(&tx.chain_id, 1);
    u256_from_u64(&tx.max_priority_fee, 2);
    u256_from_u64(&tx.max_fee, 1);
    assert_int_equal(tx_validate(&tx, &r, &err), MR_ERR_TX);
    tx_rules_fork(&r, "Berlin", 1);
    u256_from_u64(&tx.max_priority_fee, 1);
    assert_int_equal(tx_validate(&tx, &r, &err), MR_ERR_TX); /* type 2 before London */
    tx_rules_fork(&r, "London", 1);
    assert_int_equal(tx_validate(&tx, &r, &err), MR_OK);

    /* tx_sign refuses a chain id that v cannot hold. */
    tx_init(&tx, TX_LEGACY, 0);
    memset(tx.chain_id.w, 0xff, sizeof(tx.chain_id.w));
    memset(code, 0x01, 32);
    assert_int_equal(tx_sign(*state, &tx, code, &err), MR_ERR_RANGE);
    memset(code, 0, 32);
    tx_init(&tx, TX_LEGACY, 1);
    assert_int_equal(tx_sign(*state, &tx, code, &err), MR_ERR_KEY);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_transaction_tests),
        cmocka_unit_test(test_byte_flips),
        cmocka_unit_test(test_basic_txtest),
        cmocka_unit_test(test_eip155_example),
        cmocka_unit_test(test_sign_roundtrips),
        cmocka_unit_test(test_decode_rejects),
        cmocka_unit_test(test_rules),
    };

    return cmocka_run_group_tests_name("tx", tests, setup_ctx, teardown_ctx);
}
