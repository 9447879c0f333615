/*
 * test_base.c - hex, u256, keccak256 and RLP.
 */
#include "tests/lib/testlib.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "eth/hex.h"
#include "eth/keccak.h"
#include "eth/rlp.h"
#include "eth/u256.h"

/* ---- hex ---- */

static void test_hex_data(void **state)
{
    uint8_t buf[8];
    size_t n;
    char out[32];
    (void)state;

    assert_int_equal(hex_decode_data("0x", 2, buf, sizeof(buf), &n, NULL), MR_OK);
    assert_int_equal(n, 0);
    assert_int_equal(hex_decode_data("0x00fF", 6, buf, sizeof(buf), &n, NULL), MR_OK);
    assert_int_equal(n, 2);
    assert_int_equal(buf[0], 0);
    assert_int_equal(buf[1], 0xff);
    assert_int_equal(hex_decode_data("00ff", 4, buf, sizeof(buf), &n, NULL), MR_ERR_HEX);
    assert_int_equal(hex_decode_data("0x0", 3, buf, sizeof(buf), &n, NULL), MR_ERR_HEX);
    assert_int_equal(hex_decode_data("0xzz", 4, buf, sizeof(buf), &n, NULL), MR_ERR_HEX);
    assert_int_equal(hex_decode_data("0x 1", 4, buf, sizeof(buf), &n, NULL), MR_ERR_HEX);
    assert_int_equal(hex_decode_data("0x112233445566778899", 20, buf, sizeof(buf), &n, NULL),
                     MR_ERR_TOOBIG);
    assert_int_equal(hex_decode_fixed("0x0102", 6, buf, 3, NULL), MR_ERR_HEX);
    assert_int_equal(hex_decode_fixed("0x010203", 8, buf, 3, NULL), MR_OK);
    assert_int_equal(hex_encode_data(buf, 3, out, sizeof(out)), 8);
    assert_string_equal(out, "0x010203");
    assert_int_equal(hex_encode_data(buf, 3, out, 8), 0);
}

static void test_hex_quantity(void **state)
{
    struct mr_error err;
    struct u256 q;
    uint64_t v;
    char out[70];
    (void)state;

    assert_int_equal(hex_decode_quantity_u64("0x0", 3, &v, NULL), MR_OK);
    assert_int_equal(v, 0);
    assert_int_equal(hex_decode_quantity_u64("0x41", 4, &v, NULL), MR_OK);
    assert_int_equal(v, 65);
    assert_int_equal(hex_decode_quantity_u64("0x400", 5, &v, NULL), MR_OK);
    assert_int_equal(v, 1024);
    /* The JSON-RPC spec's wrong examples. */
    assert_int_equal(hex_decode_quantity_u64("0x", 2, &v, &err), MR_ERR_HEX);
    assert_int_equal(hex_decode_quantity_u64("0x0400", 6, &v, &err), MR_ERR_HEX);
    assert_non_null(strstr(err.msg, "leading zero"));
    assert_int_equal(hex_decode_quantity_u64("ff", 2, &v, NULL), MR_ERR_HEX);
    assert_int_equal(hex_decode_quantity_u64("0x10000000000000000", 19, &v, NULL), MR_ERR_RANGE);
    assert_int_equal(hex_decode_quantity("0x1" "0000000000000000000000000000000000000000000000000000000000000000",
                                         67, &q, NULL), MR_ERR_RANGE);
    assert_int_equal(hex_decode_quantity("0xffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
                                         66, &q, NULL), MR_OK);
    assert_int_equal(hex_encode_quantity(&q, out, sizeof(out)), 66);
    assert_int_equal(hex_encode_quantity_u64(0, out, sizeof(out)), 3);
    assert_string_equal(out, "0x0");
    assert_int_equal(hex_encode_quantity_u64(0x1f, out, sizeof(out)), 4);
    assert_string_equal(out, "0x1f");
}

/* ---- u256 ---- */

static void test_u256_arith(void **state)
{
    struct u256 a, b, r, max;
    char dec[U256_DEC_MAX];
    uint64_t rem;
    const char *maxdec =
        "115792089237316195423570985008687907853269984665640564039457584007913129639935";
    (void)state;

    assert_int_equal(u256_parse_dec(&max, maxdec, strlen(maxdec), 1, NULL), MR_OK);
    assert_int_equal(u256_to_dec(&max, dec, sizeof(dec)), 78);
    assert_string_equal(dec, maxdec);
    /* max + 1 overflows; 2^256 in decimal does not parse. */
    u256_from_u64(&b, 1);
    assert_int_equal(u256_add(&r, &max, &b), MR_ERR_RANGE);
    assert_int_equal(u256_parse_dec(&a, "115792089237316195423570985008687907853269984665640564039457584007913129639936",
                                    78, 1, NULL), MR_ERR_RANGE);
    /* 0 - 1 underflows. */
    u256_zero(&a);
    assert_int_equal(u256_sub(&r, &a, &b), MR_ERR_RANGE);
    /* carries across limbs */
    u256_from_u64(&a, UINT64_MAX);
    assert_int_equal(u256_add(&r, &a, &b), MR_OK);
    assert_int_equal(r.w[0], 0);
    assert_int_equal(r.w[1], 1);
    assert_int_equal(u256_sub(&r, &r, &b), MR_OK);
    assert_int_equal(u256_cmp(&r, &a), 0);
    /* 2^128 * 2^128 overflows, 2^128 * (2^127) does not. */
    memset(&a, 0, sizeof(a));
    a.w[2] = 1;
    assert_int_equal(u256_mul(&r, &a, &a), MR_ERR_RANGE);
    memset(&b, 0, sizeof(b));
    b.w[1] = 1ULL << 63;
    assert_int_equal(u256_mul(&r, &a, &b), MR_OK);
    assert_int_equal(r.w[3], 1ULL << 63);
    /* 10^18 * 10^18 / 7 */
    u256_from_u64(&a, 1000000000000000000ULL);
    assert_int_equal(u256_mul(&r, &a, &a), MR_OK);
    assert_int_equal(u256_divmod_u64(&r, &r, 7, &rem), MR_OK);
    u256_to_dec(&r, dec, sizeof(dec));
    assert_string_equal(dec, "142857142857142857142857142857142857");
    assert_int_equal(rem, 1);
    assert_int_equal(u256_divmod_u64(&r, &a, 0, NULL), MR_ERR_RANGE);
    /* parse forms */
    assert_int_equal(u256_parse(&a, "0x00ff", 6, NULL), MR_OK);
    assert_int_equal(a.w[0], 255);
    assert_int_equal(u256_parse_dec(&a, "012", 3, 1, NULL), MR_ERR_INVALID);
    assert_int_equal(u256_parse_dec(&a, "012", 3, 0, NULL), MR_OK);
    assert_int_equal(u256_parse_dec(&a, "-1", 2, 0, NULL), MR_ERR_INVALID);
    assert_int_equal(u256_parse_dec(&a, "", 0, 0, NULL), MR_ERR_INVALID);
    assert_int_equal(u256_byte_len(&a), 1);
    u256_zero(&a);
    assert_int_equal(u256_byte_len(&a), 0);
    assert_int_equal(u256_to_dec(&a, dec, sizeof(dec)), 1);
    assert_string_equal(dec, "0");
}

static void test_u256_bytes(void **state)
{
    uint8_t be[32], be2[32];
    struct u256 a;
    (void)state;

    for (int i = 0; i < 32; i++)
        be[i] = (uint8_t)(i * 7 + 1);
    assert_int_equal(u256_from_be(&a, be, 32), MR_OK);
    u256_to_be32(&a, be2);
    assert_memory_equal(be, be2, 32);
    assert_int_equal(u256_from_be(&a, be, 33), MR_ERR_RANGE);
    assert_int_equal(u256_from_be(&a, be + 30, 2), MR_OK);
    assert_int_equal(a.w[0], (uint64_t)be[30] << 8 | be[31]);
}

/* ---- keccak ---- */

static const struct {
    const char *msg;
    const char *digest;
} keccak_known[] = {
    {"", "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"},
    {"abc", "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45"},
    {"transfer(address,uint256)", "a9059cbb2ab09eb219583f4a59a5d0623ade346d962bcd4e46b11da047c9049b"},
    {"Transfer(address,address,uint256)",
     "ddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"},
    {"The quick brown fox jumps over the lazy dog",
     "4d741b6f1eb29cb2a9b9911c82f56fa8d73b04959d3d9d222895df6c0b28aa15"},
};

static void test_keccak_known(void **state)
{
    uint8_t d[32];
    (void)state;

    for (size_t i = 0; i < sizeof(keccak_known) / sizeof(keccak_known[0]); i++) {
        keccak256(keccak_known[i].msg, strlen(keccak_known[i].msg), d);
        tv_assert_hex(d, 32, keccak_known[i].digest);
    }
}

/* Feeding the same input in two pieces at every split point, and in
 * irregular pieces, gives the one-shot digest. */
static void test_keccak_splits(void **state)
{
    uint8_t msg[700], one[32], inc[32];
    struct keccak256_ctx ctx;
    (void)state;

    for (size_t i = 0; i < sizeof(msg); i++)
        msg[i] = (uint8_t)(i * 131 + 7);
    for (size_t len = 0; len <= sizeof(msg); len += (len < 300 ? 1 : 37)) {
        keccak256(msg, len, one);
        for (size_t split = 0; split <= len; split += (len < 150 ? 1 : 17)) {
            keccak256_init(&ctx);
            keccak256_update(&ctx, msg, split);
            keccak256_update(&ctx, msg + split, len - split);
            keccak256_final(&ctx, inc);
            assert_memory_equal(one, inc, 32);
        }
        keccak256_init(&ctx);
        for (size_t off = 0, step = 1; off < len; off += step, step = step * 3 % 67 + 1)
            keccak256_update(&ctx, msg + off, off + step > len ? len - off : step);
        keccak256_final(&ctx, inc);
        assert_memory_equal(one, inc, 32);
    }
}

/* The permutation is shared by FIPS-202: a SHA3-256 sponge built on
 * keccak_f1600 must agree with OpenSSL's SHA3-256 at every length around
 * the block boundaries. */
static void sha3_256_ours(const uint8_t *m, size_t len, uint8_t out[32])
{
    uint64_t st[25] = {0};
    size_t i = 0;

    for (; len - i >= 136; i += 136) {
        for (size_t j = 0; j < 136; j++)
            st[j / 8] ^= (uint64_t)m[i + j] << (8 * (j % 8));
        keccak_f1600(st);
    }
    for (size_t j = 0; j < len - i; j++)
        st[j / 8] ^= (uint64_t)m[i + j] << (8 * (j % 8));
    st[(len - i) / 8] ^= (uint64_t)0x06 << (8 * ((len - i) % 8));
    st[135 / 8] ^= (uint64_t)0x80 << (8 * (135 % 8));
    keccak_f1600(st);
    for (size_t j = 0; j < 32; j++)
        out[j] = (uint8_t)(st[j / 8] >> (8 * (j % 8)));
}

static void test_keccak_vs_openssl_sha3(void **state)
{
    uint8_t msg[600], a[32], b[32];
    unsigned blen;
    (void)state;

    for (size_t i = 0; i < sizeof(msg); i++)
        msg[i] = (uint8_t)(i ^ 0x5a);
    for (size_t len = 0; len <= sizeof(msg); len++) {
        sha3_256_ours(msg, len, a);
        assert_int_equal(EVP_Digest(msg, len, b, &blen, EVP_sha3_256(), NULL), 1);
        assert_memory_equal(a, b, 32);
    }
}

/* ---- RLP ---- */

/* Decimal string of any size to minimal big-endian bytes (test helper; the
 * RLP vectors hold integers beyond 256 bits). */
static size_t dec_to_be(const char *s, uint8_t *out, size_t cap)
{
    size_t n = 0; /* out[cap-n .. cap) holds the number */
    for (; *s; s++) {
        unsigned carry = (unsigned)(*s - '0');
        for (size_t i = 0; i < n; i++) {
            unsigned v = out[cap - 1 - i] * 10u + carry;
            out[cap - 1 - i] = (uint8_t)v;
            carry = v >> 8;
        }
        while (carry) {
            assert_true(n < cap);
            out[cap - 1 - n++] = (uint8_t)carry;
            carry >>= 8;
        }
    }
    memmove(out, out + cap - n, n);
    return n;
}

/* Encodes a JSON test input per ethereum/tests RLP conventions: strings
 * starting with '#' are big integers, other strings are bytes, numbers are
 * integers, arrays are lists. */
static void rlp_encode_json(struct rlp_enc *e, json_t *v)
{
    if (json_is_array(v)) {
        size_t mark = rlp_enc_list_begin(e), i;
        json_t *c;
        json_array_foreach(v, i, c)
            rlp_encode_json(e, c);
        rlp_enc_list_end(e, mark);
    } else if (json_is_integer(v)) {
        rlp_enc_u64(e, (uint64_t)json_integer_value(v));
    } else if (json_is_string(v)) {
        const char *s = json_string_value(v);
        if (s[0] == '#') {
            uint8_t be[64];
            size_t n = dec_to_be(s + 1, be, sizeof(be));
            struct u256 num;
            if (n <= 32) { /* through the integer encoder when it fits */
                assert_int_equal(u256_from_be(&num, be, n), MR_OK);
                rlp_enc_u256(e, &num);
            } else {
                rlp_enc_bytes(e, be, n);
            }
        } else {
            rlp_enc_bytes(e, (const uint8_t *)s, json_string_length(v));
        }
    } else {
        fail_msg("unexpected JSON type in RLP vector");
    }
}

/* Checks that a decoded item matches the JSON input structurally. */
static void rlp_match_json(const struct rlp_item *it, json_t *v)
{
    if (json_is_array(v)) {
        struct rlp_item kids[64];
        size_t n;
        assert_int_equal(rlp_list(it, kids, 64, &n, NULL), MR_OK);
        assert_int_equal(n, json_array_size(v));
        for (size_t i = 0; i < n; i++)
            rlp_match_json(&kids[i], json_array_get(v, i));
    } else if (json_is_integer(v)) {
        uint64_t x;
        assert_int_equal(rlp_get_u64(it, &x, NULL), MR_OK);
        assert_int_equal(x, (uint64_t)json_integer_value(v));
    } else if (json_is_string(v)) {
        const char *s = json_string_value(v);
        assert_false(it->is_list);
        if (s[0] == '#') {
            uint8_t be[64];
            size_t n = dec_to_be(s + 1, be, sizeof(be));
            struct u256 got;
            assert_int_equal(it->payload_len, n);
            assert_memory_equal(it->payload, be, n);
            assert_int_equal(rlp_get_u256(it, &got, NULL), n <= 32 ? MR_OK : MR_ERR_RLP);
        } else {
            assert_int_equal(it->payload_len, json_string_length(v));
            assert_memory_equal(it->payload, s, it->payload_len);
        }
    }
}

static void test_rlp_valid_vectors(void **state)
{
    json_t *root, *tc;
    const char *name;
    size_t count = 0;
    (void)state;

    TV_LOAD_OR_SKIP(root, "ethereum-tests/RLPTests/rlptest.json");
    json_object_foreach(root, name, tc) {
        size_t wlen, len;
        uint8_t *want = tv_hex(json_string_value(json_object_get(tc, "out")), &wlen);
        uint8_t *buf = malloc(wlen + 16);
        struct rlp_enc e;
        struct rlp_item it;
        struct mr_error err;

        /* Dry run for the size, then the real encoding. */
        rlp_enc_init(&e, NULL, 0);
        rlp_encode_json(&e, json_object_get(tc, "in"));
        assert_int_equal(rlp_enc_finish(&e, &len), MR_ERR_TOOBIG);
        assert_int_equal(len, wlen);
        rlp_enc_init(&e, buf, wlen + 16);
        rlp_encode_json(&e, json_object_get(tc, "in"));
        assert_int_equal(rlp_enc_finish(&e, &len), MR_OK);
        if (len != wlen || memcmp(buf, want, len) != 0)
            fail_msg("RLP vector %s: encoding differs", name);
        if (rlp_decode(want, wlen, RLP_MAX_DEPTH, &it, &err) != MR_OK)
            fail_msg("RLP vector %s: decode failed: %s", name, err.msg);
        rlp_match_json(&it, json_object_get(tc, "in"));
        free(buf);
        free(want);
        count++;
    }
    assert_true(count > 20);
    json_decref(root);
}

static void test_rlp_invalid_vectors(void **state)
{
    json_t *root, *tc;
    const char *name;
    size_t count = 0;
    (void)state;

    TV_LOAD_OR_SKIP(root, "ethereum-tests/RLPTests/invalidRLPTest.json");
    json_object_foreach(root, name, tc) {
        size_t len;
        uint8_t *b = tv_hex(json_string_value(json_object_get(tc, "out")), &len);
        struct rlp_item it;
        if (rlp_decode(b, len, RLP_MAX_DEPTH, &it, NULL) == MR_OK)
            fail_msg("invalid RLP vector %s was accepted", name);
        free(b);
        count++;
    }
    assert_true(count > 20);
    json_decref(root);
}

/* geth rlp/decode_test.go style cases and depth limits. */
static void test_rlp_strictness(void **state)
{
    static const char *bad[] = {
        "8105",     /* single byte < 0x80 with a header */
        "820004",   /* fine as bytes... but as u64 has a leading zero */
        "b8020004", /* long form for a short string */
        "c1",       /* truncated list */
        "b9",       /* truncated length */
        "c0c0",     /* trailing bytes */
        "f800",     /* long list form for an empty list */
    };
    struct rlp_item it;
    uint64_t v;
    size_t len;
    (void)state;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint8_t *b = tv_hex(bad[i], &len);
        int rc = rlp_decode(b, len, RLP_MAX_DEPTH, &it, NULL);
        if (i == 1) {
            assert_int_equal(rc, MR_OK);
            assert_int_equal(rlp_get_u64(&it, &v, NULL), MR_ERR_RLP);
        } else if (rc == MR_OK) {
            fail_msg("accepted %s", bad[i]);
        }
        free(b);
    }
    /* Depth: RLP_MAX_DEPTH nested lists are accepted, one more is refused. */
    for (size_t d = RLP_MAX_DEPTH; d <= RLP_MAX_DEPTH + 1; d++) {
        uint8_t deep[512];
        size_t marks[RLP_MAX_DEPTH + 1], n;
        struct rlp_enc e;
        rlp_enc_init(&e, deep, sizeof(deep));
        for (size_t i = 0; i < d; i++)
            marks[i] = rlp_enc_list_begin(&e);
        for (size_t i = d; i-- > 0;)
            rlp_enc_list_end(&e, marks[i]);
        assert_int_equal(rlp_enc_finish(&e, &n), MR_OK);
        assert_int_equal(rlp_decode(deep, n, RLP_MAX_DEPTH, &it, NULL),
                         d == RLP_MAX_DEPTH ? MR_OK : MR_ERR_RLP);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hex_data),
        cmocka_unit_test(test_hex_quantity),
        cmocka_unit_test(test_u256_arith),
        cmocka_unit_test(test_u256_bytes),
        cmocka_unit_test(test_keccak_known),
        cmocka_unit_test(test_keccak_splits),
        cmocka_unit_test(test_keccak_vs_openssl_sha3),
        cmocka_unit_test(test_rlp_valid_vectors),
        cmocka_unit_test(test_rlp_invalid_vectors),
        cmocka_unit_test(test_rlp_strictness),
    };
    return cmocka_run_group_tests_name("base: hex, u256, keccak, rlp", tests, NULL, NULL);
}
