/*
 * test_key.c - secp256k1 keys, addresses, signing and recovery (eth/key.h).
 */
#include "tests/lib/testlib.h"

#include <stdlib.h>
#include <string.h>

#include "eth/keccak.h"
#include "eth/key.h"
#include "eth/u256.h"
#include "relayer/sysrand.h"

/* A context blinded with fresh system randomness, as the daemon makes it. */
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

/* n - x for 0 < x < n: the other s of the same signature (EIP-2). */
static void negate_mod_n(const uint8_t x[32], uint8_t out[32])
{
    struct u256 n, a;

    assert_int_equal(u256_from_be(&n, key_curve_order, 32), MR_OK);
    assert_int_equal(u256_from_be(&a, x, 32), MR_OK);
    assert_int_equal(u256_sub(&a, &n, &a), MR_OK);
    u256_to_be32(&a, out);
}

/* BasicTests/keyaddrtest.json: private key -> address.  Its
 * "sig_of_emptystring" entries are not used: they recover to neither listed
 * address under keccak256(""), sha256(""), sha3-256("") or a zero hash, so
 * what they sign is unknown. */
static void test_keyaddr_vectors(void **state)
{
    const secp256k1_context *ctx = *state;
    json_t *doc, *c;
    size_t i, n;

    TV_LOAD_OR_SKIP(doc, "ethereum-tests/BasicTests/keyaddrtest.json");
    assert_true(json_array_size(doc) > 0);
    json_array_foreach(doc, i, c) {
        uint8_t *sk = tv_hex(json_string_value(json_object_get(c, "key")), &n);
        uint8_t addr[20], pub[65];

        assert_int_equal(n, 32);
        assert_int_equal(key_check_private(ctx, sk), MR_OK);
        assert_int_equal(key_private_to_address(ctx, sk, addr, NULL), MR_OK);
        tv_assert_hex(addr, 20, json_string_value(json_object_get(c, "addr")));
        assert_int_equal(key_private_to_public(ctx, sk, pub, NULL), MR_OK);
        assert_int_equal(pub[0], 0x04);
        key_public_to_address(pub, addr);
        tv_assert_hex(addr, 20, json_string_value(json_object_get(c, "addr")));
        mr_wipe(sk, 32);
        free(sk);
    }
    json_decref(doc);
}

/* Key 1's public key is the generator G; its address is well known. */
static void test_generator_key(void **state)
{
    uint8_t sk[32] = {0}, pub[65], addr[20];

    sk[31] = 1;
    assert_int_equal(key_private_to_public(*state, sk, pub, NULL), MR_OK);
    tv_assert_hex(pub, 65, "0479be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798"
                           "483ada7726a3c4655da4fbfc0e1108a8fd17b448a68554199c47d08ffb10d4b8");
    assert_int_equal(key_private_to_address(*state, sk, addr, NULL), MR_OK);
    tv_assert_hex(addr, 20, "7e5f4552091a69125d5dfcb7b8c2659029395bdf");
}

static void test_sign_recover_roundtrip(void **state)
{
    const secp256k1_context *ctx = *state;

    for (int i = 0; i < 64; i++) {
        uint8_t sk[32], hash[32], r[32], s[32], addr[20], rec[20], pub[65], pub2[65];
        int recid;

        assert_int_equal(sys_random(hash, 32), MR_OK);
        do
            assert_int_equal(sys_random(sk, 32), MR_OK);
        while (key_check_private(ctx, sk) != MR_OK);
        assert_int_equal(key_private_to_address(ctx, sk, addr, NULL), MR_OK);
        assert_int_equal(key_private_to_public(ctx, sk, pub, NULL), MR_OK);
        assert_int_equal(key_sign(ctx, sk, hash, r, s, &recid, NULL), MR_OK);
        assert_true(recid >= 0 && recid <= 3);
        assert_true(key_cmp32(s, key_half_order) <= 0);
        assert_int_equal(key_recover(ctx, hash, r, s, recid, 1, rec, pub2, NULL), MR_OK);
        assert_memory_equal(rec, addr, 20);
        assert_memory_equal(pub2, pub, 65);
        /* The other parity gives another key; another hash, another key. */
        assert_int_equal(key_recover(ctx, hash, r, s, recid ^ 1, 1, rec, NULL, NULL), MR_OK);
        assert_memory_not_equal(rec, addr, 20);
        hash[0] ^= 1;
        if (key_recover(ctx, hash, r, s, recid, 1, rec, NULL, NULL) == MR_OK)
            assert_memory_not_equal(rec, addr, 20);
        mr_wipe(sk, sizeof(sk));
    }
}

/* Blinding changes how the work is done, never the result (RFC 6979). */
static void test_randomize_keeps_results(void **state)
{
    secp256k1_context *ctx = *state;
    uint8_t sk[32], hash[32], seed[32], r1[32], s1[32], r2[32], s2[32];
    int id1, id2;

    memset(sk, 0x11, 32);
    memset(hash, 0x22, 32);
    assert_int_equal(key_sign(ctx, sk, hash, r1, s1, &id1, NULL), MR_OK);
    assert_int_equal(sys_random(seed, 32), MR_OK);
    assert_int_equal(key_ctx_randomize(ctx, seed), MR_OK);
    assert_int_equal(key_sign(ctx, sk, hash, r2, s2, &id2, NULL), MR_OK);
    assert_memory_equal(r1, r2, 32);
    assert_memory_equal(s1, s2, 32);
    assert_int_equal(id1, id2);
}

static void test_recover_rejects(void **state)
{
    const secp256k1_context *ctx = *state;
    struct mr_error err;
    uint8_t sk[32], hash[32], r[32], s[32], bad[32], hi[32], addr[20], rec[20];
    int recid;

    memset(sk, 0x42, 32);
    memset(hash, 0x5a, 32);
    assert_int_equal(key_private_to_address(ctx, sk, addr, NULL), MR_OK);
    assert_int_equal(key_sign(ctx, sk, hash, r, s, &recid, NULL), MR_OK);

    memset(bad, 0, 32);
    assert_int_equal(key_recover(ctx, hash, bad, s, recid, 1, rec, NULL, &err), MR_ERR_SIGNATURE);
    assert_int_equal(key_recover(ctx, hash, r, bad, recid, 1, rec, NULL, &err), MR_ERR_SIGNATURE);
    assert_non_null(strstr(err.msg, "zero"));
    memcpy(bad, key_curve_order, 32); /* s = n, then n + 1, then 2^256 - 1 */
    assert_int_equal(key_recover(ctx, hash, r, bad, recid, 0, rec, NULL, NULL), MR_ERR_SIGNATURE);
    assert_int_equal(key_recover(ctx, hash, bad, s, recid, 0, rec, NULL, NULL), MR_ERR_SIGNATURE);
    bad[31]++;
    assert_int_equal(key_recover(ctx, hash, r, bad, recid, 0, rec, NULL, NULL), MR_ERR_SIGNATURE);
    memset(bad, 0xff, 32);
    assert_int_equal(key_recover(ctx, hash, r, bad, recid, 0, rec, NULL, NULL), MR_ERR_SIGNATURE);
    assert_int_equal(key_recover(ctx, hash, bad, s, recid, 0, rec, NULL, NULL), MR_ERR_SIGNATURE);

    /* Recovery ids outside 0..3. */
    assert_int_equal(key_recover(ctx, hash, r, s, 4, 1, rec, NULL, NULL), MR_ERR_SIGNATURE);
    assert_int_equal(key_recover(ctx, hash, r, s, -1, 1, rec, NULL, NULL), MR_ERR_SIGNATURE);

    /* High S: refused under EIP-2, and without it the twin (n - s, other
     * parity) recovers the same signer. */
    negate_mod_n(s, hi);
    assert_int_equal(key_recover(ctx, hash, r, hi, recid ^ 1, 1, rec, NULL, &err),
                     MR_ERR_SIGNATURE);
    assert_non_null(strstr(err.msg, "EIP-2"));
    assert_int_equal(key_recover(ctx, hash, r, hi, recid ^ 1, 0, rec, NULL, NULL), MR_OK);
    assert_memory_equal(rec, addr, 20);
    /* s = n/2 is still low (r is a valid x, so either parity recovers). */
    assert_int_equal(key_recover(ctx, hash, r, key_half_order, 0, 1, rec, NULL, NULL), MR_OK);
}

static void test_invalid_private_keys(void **state)
{
    const secp256k1_context *ctx = *state;
    uint8_t sk[32], hash[32] = {1}, r[32], s[32], addr[20];
    struct mr_error err;
    int recid;

    memset(sk, 0, 32); /* zero */
    assert_int_equal(key_check_private(ctx, sk), MR_ERR_KEY);
    assert_int_equal(key_private_to_address(ctx, sk, addr, &err), MR_ERR_KEY);
    assert_int_equal(key_sign(ctx, sk, hash, r, s, &recid, NULL), MR_ERR_KEY);
    memcpy(sk, key_curve_order, 32); /* n */
    assert_int_equal(key_check_private(ctx, sk), MR_ERR_KEY);
    assert_int_equal(key_sign(ctx, sk, hash, r, s, &recid, NULL), MR_ERR_KEY);
    sk[31]++; /* n + 1 */
    assert_int_equal(key_check_private(ctx, sk), MR_ERR_KEY);
    assert_int_equal(key_private_to_address(ctx, sk, addr, NULL), MR_ERR_KEY);
    memset(sk, 0xff, 32); /* 2^256 - 1 */
    assert_int_equal(key_check_private(ctx, sk), MR_ERR_KEY);
    assert_int_equal(key_sign(ctx, sk, hash, r, s, &recid, NULL), MR_ERR_KEY);
    memcpy(sk, key_curve_order, 32); /* n - 1: the largest valid key */
    sk[31]--;
    assert_int_equal(key_check_private(ctx, sk), MR_OK);
    assert_int_equal(key_sign(ctx, sk, hash, r, s, &recid, NULL), MR_OK);
    /* The error never shows the key. */
    memset(sk, 0, 32);
    assert_int_equal(key_private_to_address(ctx, sk, addr, &err), MR_ERR_KEY);
    assert_null(strstr(err.msg, "0000"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keyaddr_vectors),
        cmocka_unit_test(test_generator_key),
        cmocka_unit_test(test_sign_recover_roundtrip),
        cmocka_unit_test(test_randomize_keeps_results),
        cmocka_unit_test(test_recover_rejects),
        cmocka_unit_test(test_invalid_private_keys),
    };

    return cmocka_run_group_tests_name("key", tests, setup_ctx, teardown_ctx);
}
