/*
 * test_keystore.c - scrypt, Web3 Secret Storage v3 (eth/keystore), EIP-55
 * addresses (eth/address), keystore files (relayer/keyfile) and the
 * `keys` CLI.
 */
#include "tests/lib/testlib.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "eth/address.h"
#include "eth/key.h"
#include "eth/keystore.h"
#include "eth/scrypt.h"
#include "relayer/keyfile.h"

/* ---- helpers ---- */

static double now_seconds(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static secp256k1_context *test_ctx(void)
{
    static const uint8_t seed[32] = {1, 2, 3};
    secp256k1_context *ctx = key_ctx_create(seed);

    assert_non_null(ctx);
    return ctx;
}

/* A light scrypt (or pbkdf2) parameter set with a fixed salt. */
static struct keystore_kdf_params light_kdf(enum keystore_kdf kdf)
{
    struct keystore_kdf_params k;

    memset(&k, 0, sizeof(k));
    k.kdf = kdf;
    k.n = 16;
    k.r = 8;
    k.p = 1;
    k.c = 16;
    k.dklen = 32;
    k.salt_len = 32;
    for (size_t i = 0; i < k.salt_len; i++)
        k.salt[i] = (uint8_t)(0xa0 + i);
    return k;
}

/* Encrypts a fixed 32-byte key under "pw" with light parameters. */
static void light_keystore(enum keystore_kdf kdf, struct keystore_params *ks, uint8_t key[32])
{
    struct keystore_kdf_params k = light_kdf(kdf);
    uint8_t iv[16];

    for (int i = 0; i < 32; i++)
        key[i] = (uint8_t)(i + 1);
    for (int i = 0; i < 16; i++)
        iv[i] = (uint8_t)(0x30 + i);
    assert_int_equal(keystore_encrypt(key, 32, (const uint8_t *)"pw", 2, &k, iv,
                                      &keystore_limits_default, ks, NULL),
                     MR_OK);
}

/* Writes content to dir/name with the given mode; returns the path (free). */
static char *write_file(const char *dir, const char *name, const char *content, size_t len,
                        mode_t mode)
{
    char *path = malloc(strlen(dir) + strlen(name) + 2);
    FILE *f;

    assert_non_null(path);
    sprintf(path, "%s/%s", dir, name);
    unlink(path);
    f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(content, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(chmod(path, mode), 0);
    return path;
}

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf = calloc(1, 1 << 20);
    size_t n;

    assert_non_null(f);
    assert_non_null(buf);
    n = fread(buf, 1, (1 << 20) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* Asserts that s is exactly one non-empty line. */
static void assert_one_line(const char *s)
{
    size_t len = strlen(s);
    const char *nl = strchr(s, '\n');

    if (len < 2 || nl == NULL || nl != s + len - 1)
        fail_msg("expected exactly one line on stderr, got: \"%s\"", s);
}

/* Parses the JSON object `doc` (as text) with keyfile_parse. */
static int parse_doc(json_t *doc, struct keyfile *kf, struct mr_error *err)
{
    char *text = json_dumps(doc, 0);
    int rc;

    assert_non_null(text);
    rc = keyfile_parse(text, strlen(text), "test.json", kf, err);
    free(text);
    return rc;
}

/* The parent object of a dotted path in doc, and the last component. */
static json_t *path_parent(json_t *doc, const char *path, char *leaf, size_t cap)
{
    char buf[128];
    char *save = NULL, *tok, *next;
    json_t *cur = doc;

    snprintf(buf, sizeof(buf), "%s", path);
    tok = strtok_r(buf, ".", &save);
    while ((next = strtok_r(NULL, ".", &save)) != NULL) {
        cur = json_object_get(cur, tok);
        assert_non_null(cur);
        tok = next;
    }
    snprintf(leaf, cap, "%s", tok);
    return cur;
}

/* A well-formed keystore document with light parameters (new reference). */
static json_t *light_doc(enum keystore_kdf kdf)
{
    struct keyfile kf;
    uint8_t key[32];
    char *text;
    json_t *doc;

    memset(&kf, 0, sizeof(kf));
    light_keystore(kdf, &kf.ks, key);
    kf.has_address = 1;
    memset(kf.address, 0x11, sizeof(kf.address));
    snprintf(kf.id, sizeof(kf.id), "0eb785e0-340a-4290-9c42-90a11973ee47");
    text = keyfile_format(&kf);
    assert_non_null(text);
    doc = json_loads(text, 0, NULL);
    assert_non_null(doc);
    free(text);
    return doc;
}

/* ---- scrypt ---- */

/* RFC 7914 §12 test vectors (the fourth, N = 2^20 with 1 GiB, is beyond our
 * production limits and is left out). */
static void test_scrypt_rfc7914(void **state)
{
    static const struct {
        const char *pw, *salt;
        uint64_t n, r, p;
        const char *dk;
    } v[] = {
        {"", "", 16, 1, 1,
         "77d6576238657b203b19ca42c18a0497f16b4844e3074ae8dfdffa3fede21442"
         "fcd0069ded0948f8326a753a0fc81f17e8d3e0fb2e0d3628cf35e20c38d18906"},
        {"password", "NaCl", 1024, 8, 16,
         "fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b373162"
         "2eaf30d92e22a3886ff109279d9830dac727afb94a83ee6d8360cbdfa2cc0640"},
        {"pleaseletmein", "SodiumChloride", 16384, 8, 1,
         "7023bdcb3afd7348461c06cd81fd38ebfda8fbba904f8e3ea9b543f6545da1f2"
         "d5432955613f0fcf62d49705242a9af9e61e85dc0d651e40dfcf017b45575887"},
    };
    uint8_t dk[64];
    (void)state;

    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        assert_int_equal(scrypt_derive((const uint8_t *)v[i].pw, strlen(v[i].pw),
                                       (const uint8_t *)v[i].salt, strlen(v[i].salt), v[i].n,
                                       v[i].r, v[i].p, 64ULL << 20, dk, 64, NULL),
                         MR_OK);
        tv_assert_hex(dk, 64, v[i].dk);
    }
}

/* Differential check against OpenSSL wherever OpenSSL accepts the
 * parameters (N < 2^(16r)), over lengths, r, p and output sizes. */
static void test_scrypt_vs_openssl(void **state)
{
    uint8_t pw[80], salt[80], a[100], b[100];
    (void)state;

    for (size_t i = 0; i < sizeof(pw); i++) {
        pw[i] = (uint8_t)(i * 37 + 5);
        salt[i] = (uint8_t)(i * 11 + 99);
    }
    for (uint64_t n = 2; n <= 4096; n *= 4) {
        for (uint64_t r = 1; r <= 4; r++) {
            for (uint64_t p = 1; p <= 3; p++) {
                size_t pwlen = (size_t)(n + r * 7 + p) % sizeof(pw);
                size_t saltlen = (size_t)(n * 3 + r + p * 5) % sizeof(salt);
                size_t outlen = 1 + (size_t)(n + r + p) % sizeof(a);
                assert_int_equal(scrypt_derive(pw, pwlen, salt, saltlen, n, r, p, 64ULL << 20,
                                               a, outlen, NULL),
                                 MR_OK);
                assert_int_equal(EVP_PBE_scrypt((const char *)pw, pwlen, salt, saltlen, n, r, p,
                                                64ULL << 20, b, outlen),
                                 1);
                assert_memory_equal(a, b, outlen);
            }
        }
    }
}

static void test_scrypt_check(void **state)
{
    uint64_t mem = 0;
    uint8_t out[32];
    struct mr_error err;
    (void)state;

    assert_int_equal(scrypt_check(262144, 8, 1, &mem, NULL), MR_OK);
    assert_int_equal(mem, 128ULL * 8 * (262144 + 1 + 2));
    assert_int_equal(scrypt_check(0, 8, 1, NULL, NULL), MR_ERR_KDF);
    assert_int_equal(scrypt_check(1, 8, 1, NULL, NULL), MR_ERR_KDF);
    assert_int_equal(scrypt_check(3, 8, 1, NULL, NULL), MR_ERR_KDF);
    assert_int_equal(scrypt_check(1ULL << 63, 8, 1, NULL, NULL), MR_ERR_KDF);
    assert_int_equal(scrypt_check(UINT64_MAX, 8, 1, NULL, NULL), MR_ERR_KDF);
    assert_int_equal(scrypt_check(1ULL << 62, 1ULL << 29, 1, NULL, NULL), MR_ERR_KDF);
    assert_int_equal(scrypt_check(16, 0, 1, NULL, NULL), MR_ERR_KDF);
    assert_int_equal(scrypt_check(16, 1, 0, NULL, NULL), MR_ERR_KDF);
    assert_int_equal(scrypt_check(16, 1U << 15, 1U << 15, NULL, NULL), MR_ERR_KDF);
    assert_int_equal(scrypt_check(16, UINT64_MAX, UINT64_MAX, NULL, NULL), MR_ERR_KDF);
    /* The cap is enforced before allocating: 2^30 * 8 * 128 bytes. */
    memset(out, 0x55, sizeof(out));
    assert_int_equal(scrypt_derive((const uint8_t *)"x", 1, (const uint8_t *)"s", 1, 1ULL << 30,
                                   8, 1, 512ULL << 20, out, sizeof(out), &err),
                     MR_ERR_KDF);
    assert_non_null(strstr(err.msg, "limit"));
    for (size_t i = 0; i < sizeof(out); i++)
        assert_int_equal(out[i], 0);
}

/* ---- Web3 Secret Storage: the official vectors ---- */

static void test_keystore_vectors(void **state)
{
    secp256k1_context *ctx = test_ctx();
    json_t *root, *tc;
    const char *name;
    size_t count = 0;
    (void)state;

    TV_LOAD_OR_SKIP(root, "ethereum-tests/KeyStoreTests/basic_tests.json");
    json_object_foreach(root, name, tc) {
        const char *pw = json_string_value(json_object_get(tc, "password"));
        uint8_t key[64], sk[32], addr[20], want_addr[20];
        struct mr_error err;
        struct keyfile kf;
        size_t n = 0;

        if (parse_doc(json_object_get(tc, "json"), &kf, &err) != MR_OK)
            fail_msg("vector %s: %s", name, err.msg);
        /* The pure layer. */
        if (keystore_decrypt(&kf.ks, &keystore_limits_default, (const uint8_t *)pw, strlen(pw),
                             key, sizeof(key), &n, &err) != MR_OK)
            fail_msg("vector %s: %s", name, err.msg);
        assert_int_equal(n, 32);
        tv_assert_hex(key, n, json_string_value(json_object_get(tc, "priv")));
        /* The file layer: a valid key whose address matches the field. */
        if (keyfile_unlock(ctx, &kf, &keystore_limits_default, (const uint8_t *)pw, strlen(pw),
                           sk, addr, &err) != MR_OK)
            fail_msg("vector %s: unlock: %s", name, err.msg);
        assert_memory_equal(sk, key, 32);
        assert_int_equal(key_private_to_address(ctx, key, want_addr, NULL), MR_OK);
        assert_memory_equal(addr, want_addr, 20);
        if (json_object_get(json_object_get(tc, "json"), "address") != NULL) {
            assert_true(kf.has_address);
            tv_assert_hex(addr, 20,
                          json_string_value(json_object_get(json_object_get(tc, "json"),
                                                            "address")));
        }
        /* A wrong password is a MAC mismatch. */
        assert_int_equal(keystore_decrypt(&kf.ks, &keystore_limits_default,
                                          (const uint8_t *)"wrong", 5, key, sizeof(key), &n,
                                          NULL),
                         MR_ERR_MAC);
        count++;
    }
    assert_int_equal(count, 5);
    json_decref(root);
    key_ctx_destroy(ctx);
}

/* Flipping any bit of the ciphertext, the MAC or the salt, or a wrong
 * password, is MR_ERR_MAC, and nothing is written to the output. */
static void test_keystore_tamper(void **state)
{
    struct keystore_params ks, bad;
    uint8_t key[32], out[64];
    size_t n;
    (void)state;

    for (int kdf = KEYSTORE_KDF_SCRYPT; kdf <= KEYSTORE_KDF_PBKDF2; kdf++) {
        light_keystore((enum keystore_kdf)kdf, &ks, key);
        assert_int_equal(keystore_decrypt(&ks, &keystore_limits_default, (const uint8_t *)"pw",
                                          2, out, sizeof(out), &n, NULL),
                         MR_OK);
        assert_memory_equal(out, key, 32);
        for (size_t i = 0; i < 32 * 8; i++) {
            bad = ks;
            bad.ciphertext[i / 8] ^= (uint8_t)(1u << (i % 8));
            memset(out, 0xee, sizeof(out));
            assert_int_equal(keystore_decrypt(&bad, &keystore_limits_default,
                                              (const uint8_t *)"pw", 2, out, sizeof(out), &n,
                                              NULL),
                             MR_ERR_MAC);
            assert_int_equal(out[0], 0xee);
            bad = ks;
            bad.mac[i / 8] ^= (uint8_t)(1u << (i % 8));
            assert_int_equal(keystore_decrypt(&bad, &keystore_limits_default,
                                              (const uint8_t *)"pw", 2, out, sizeof(out), &n,
                                              NULL),
                             MR_ERR_MAC);
            bad = ks;
            bad.kdf.salt[i / 8] ^= (uint8_t)(1u << (i % 8));
            assert_int_equal(keystore_decrypt(&bad, &keystore_limits_default,
                                              (const uint8_t *)"pw", 2, out, sizeof(out), &n,
                                              NULL),
                             MR_ERR_MAC);
        }
        assert_int_equal(keystore_decrypt(&ks, &keystore_limits_default, (const uint8_t *)"pW",
                                          2, out, sizeof(out), &n, NULL),
                         MR_ERR_MAC);
        assert_int_equal(keystore_decrypt(&ks, &keystore_limits_default, (const uint8_t *)"pw",
                                          1, out, sizeof(out), &n, NULL),
                         MR_ERR_MAC);
        assert_int_equal(keystore_decrypt(&ks, &keystore_limits_default, NULL, 0, out,
                                          sizeof(out), &n, NULL),
                         MR_ERR_MAC);
        /* The v3 MAC does not cover the iv: a changed iv decrypts to a
         * different key (caught by keyfile_unlock's address check). */
        bad = ks;
        bad.iv[15] ^= 1;
        assert_int_equal(keystore_decrypt(&bad, &keystore_limits_default, (const uint8_t *)"pw",
                                          2, out, sizeof(out), &n, NULL),
                         MR_OK);
        assert_memory_not_equal(out, key, 32);
        /* The output buffer must hold the key. */
        assert_int_equal(keystore_decrypt(&ks, &keystore_limits_default, (const uint8_t *)"pw",
                                          2, out, 31, &n, NULL),
                         MR_ERR_TOOBIG);
    }
}

/* The same on an official vector (scrypt n=8192): first and last bytes. */
static void test_keystore_tamper_vector(void **state)
{
    secp256k1_context *ctx = test_ctx();
    json_t *root, *doc;
    struct keyfile kf, bad;
    uint8_t sk[32], addr[20];
    struct mr_error err;
    (void)state;

    TV_LOAD_OR_SKIP(root, "ethereum-tests/KeyStoreTests/basic_tests.json");
    doc = json_object_get(json_object_get(root, "mycrypto"), "json");
    assert_int_equal(parse_doc(doc, &kf, NULL), MR_OK);
    for (size_t i = 0; i < 4; i++) {
        bad = kf;
        if (i == 0)
            bad.ks.ciphertext[0] ^= 0x80;
        else if (i == 1)
            bad.ks.ciphertext[31] ^= 0x01;
        else if (i == 2)
            bad.ks.mac[0] ^= 0x01;
        else
            bad.ks.mac[31] ^= 0x80;
        assert_int_equal(keyfile_unlock(ctx, &bad, &keystore_limits_default,
                                        (const uint8_t *)"foobartest121", 13, sk, addr, &err),
                         MR_ERR_MAC);
        assert_null(strstr(err.msg, "foobartest121"));
    }
    /* A changed iv passes the MAC but not the address check. */
    bad = kf;
    bad.ks.iv[0] ^= 0x01;
    assert_int_equal(keyfile_unlock(ctx, &bad, &keystore_limits_default,
                                    (const uint8_t *)"foobartest121", 13, sk, addr, &err),
                     MR_ERR_KEY);
    assert_non_null(strstr(err.msg, "does not match"));
    json_decref(root);
    key_ctx_destroy(ctx);
}

/* Hostile parameters are refused by keystore_check() and by decrypt, fast
 * (no KDF run, no allocation: n = 2^30 would need 128 GiB). */
static void test_keystore_hostile_params(void **state)
{
    struct keystore_params ok, ks;
    uint8_t key[32], out[64];
    struct mr_error err;
    size_t n;
    double t0;
    (void)state;

    light_keystore(KEYSTORE_KDF_SCRYPT, &ok, key);
    t0 = now_seconds();
    for (int i = 0;; i++) {
        int want = MR_ERR_KDF;
        ks = ok;
        switch (i) {
        case 0: ks.kdf.n = 1ULL << 30; break;                    /* 1 TiB at r=8 */
        case 1: ks.kdf.n = 3; break;                             /* not a power of two */
        case 2: ks.kdf.n = 1000; break;
        case 3: ks.kdf.n = 0; break;
        case 4: ks.kdf.n = 1; break;
        case 5: ks.kdf.r = 1U << 15; ks.kdf.p = 1U << 15; break; /* r*p = 2^30 */
        case 6: ks.kdf.r = 0; break;
        case 7: ks.kdf.p = 0; break;
        case 8: ks.kdf.p = 17; break;                            /* above max p */
        case 9: ks.kdf.n = 1ULL << 20; break;                    /* 1 GiB: above 512 MiB */
        case 10: ks.kdf.n = 1ULL << 18; ks.kdf.p = 8; break;     /* work 2^24 */
        case 11: ks.kdf.n = 1ULL << 63; break;
        case 12: ks.kdf.n = UINT64_MAX; break;
        case 13: ks.kdf.r = UINT64_MAX; break;
        case 14: ks.kdf.dklen = 16; break;
        case 15: ks.kdf.dklen = 0; break;
        case 16: ks.kdf.dklen = 65; break;
        case 17: ks.kdf.dklen = 1ULL << 40; break;
        case 18: ks.kdf.salt_len = 10u << 20; break;             /* 10 MB salt */
        case 19: ks.kdf.salt_len = 0; break;
        case 20: ks.kdf.salt_len = KEYSTORE_SALT_MAX + 1; break;
        case 21: ks.kdf.kdf = (enum keystore_kdf)0; break;
        case 22: ks.kdf.kdf = (enum keystore_kdf)99; break;
        case 23: ks.kdf.kdf = KEYSTORE_KDF_PBKDF2; ks.kdf.c = 1ULL << 31; break;
        case 24: ks.kdf.kdf = KEYSTORE_KDF_PBKDF2; ks.kdf.c = 0; break;
        case 25: ks.kdf.kdf = KEYSTORE_KDF_PBKDF2; ks.kdf.c = (1ULL << 22) + 1; break;
        case 26: ks.kdf.kdf = KEYSTORE_KDF_PBKDF2; ks.kdf.c = UINT64_MAX; break;
        case 27: ks.ciphertext_len = 0; want = MR_ERR_INVALID; break;
        case 28: ks.ciphertext_len = KEYSTORE_CIPHERTEXT_MAX + 1; want = MR_ERR_INVALID; break;
        case 29: ks.ciphertext_len = SIZE_MAX; want = MR_ERR_INVALID; break;
        default: want = MR_OK; break;
        }
        if (want == MR_OK)
            break;
        if (keystore_check(&ks, &keystore_limits_default, &err) != want)
            fail_msg("hostile case %d was not refused with %d", i, want);
        assert_true(err.msg[0] != '\0');
        memset(out, 0xee, sizeof(out));
        assert_int_equal(keystore_decrypt(&ks, &keystore_limits_default, (const uint8_t *)"pw",
                                          2, out, sizeof(out), &n, NULL),
                         want);
        assert_int_equal(out[0], 0xee);
        if (want == MR_ERR_KDF)
            assert_int_equal(keystore_encrypt(key, 32, (const uint8_t *)"pw", 2, &ks.kdf, ok.iv,
                                              &keystore_limits_default, &ks, NULL),
                             MR_ERR_KDF);
    }
    /* Refusals cost nothing: well under the time of one real KDF run. */
    assert_true(now_seconds() - t0 < 0.5);
    /* The settings real files use are within the limits. */
    ks = ok;
    ks.kdf.n = 262144;                                      /* geth standard */
    assert_int_equal(keystore_check(&ks, &keystore_limits_default, NULL), MR_OK);
    ks.kdf.r = 1;
    ks.kdf.p = 8;                                           /* KeyStoreTests test2 */
    assert_int_equal(keystore_check(&ks, &keystore_limits_default, NULL), MR_OK);
    ks.kdf.kdf = KEYSTORE_KDF_PBKDF2;
    ks.kdf.c = 262144;
    assert_int_equal(keystore_check(&ks, &keystore_limits_default, NULL), MR_OK);
    ks.kdf.dklen = 64;
    assert_int_equal(keystore_check(&ks, &keystore_limits_default, NULL), MR_OK);
}

/* encrypt -> decrypt round trips over KDFs, key lengths, dklen and
 * passwords, including the empty one. */
static void test_keystore_roundtrip(void **state)
{
    static const char *pws[] = {"", "a", "correct horse battery staple",
                                "\xe2\x82\xac uni\ncode\n"};
    struct keystore_params ks;
    uint8_t key[64], out[64], iv[16];
    size_t n;
    (void)state;

    for (int i = 0; i < 16; i++)
        iv[i] = (uint8_t)(0xf0 + i);
    iv[15] = 0xff; /* the counter carries into the next byte */
    for (size_t keylen = 1; keylen <= 64; keylen += 7) {
        for (int kdf = KEYSTORE_KDF_SCRYPT; kdf <= KEYSTORE_KDF_PBKDF2; kdf++) {
            for (size_t j = 0; j < sizeof(pws) / sizeof(pws[0]); j++) {
                struct keystore_kdf_params k = light_kdf((enum keystore_kdf)kdf);
                const uint8_t *pw = (const uint8_t *)pws[j];
                k.dklen = 32 + keylen / 2;
                for (size_t i = 0; i < keylen; i++)
                    key[i] = (uint8_t)(i * 13 + keylen);
                assert_int_equal(keystore_encrypt(key, keylen, pw, strlen(pws[j]), &k, iv,
                                                  &keystore_limits_default, &ks, NULL),
                                 MR_OK);
                assert_int_equal(ks.ciphertext_len, keylen);
                if (keylen >= 8)
                    assert_memory_not_equal(ks.ciphertext, key, keylen);
                assert_int_equal(keystore_decrypt(&ks, &keystore_limits_default, pw,
                                                  strlen(pws[j]), out, sizeof(out), &n, NULL),
                                 MR_OK);
                assert_int_equal(n, keylen);
                assert_memory_equal(out, key, keylen);
                assert_int_equal(keystore_decrypt(&ks, &keystore_limits_default,
                                                  (const uint8_t *)"other", 5, out, sizeof(out),
                                                  &n, NULL),
                                 MR_ERR_MAC);
            }
        }
    }
}

/* ---- EIP-55 ---- */

static void test_address_eip55(void **state)
{
    /* EIP-55's examples: all caps, all lower, then mixed. */
    static const char *v[] = {
        "0x52908400098527886E0F7030069857D2E4169EE7", "0x8617E340B3D01FA5F11F306F4090FD50E238070D",
        "0xde709f2102306220921060314715629080e2fb77", "0x27b1fdb04752bbc536007a920d24acb045561c26",
        "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
        "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB", "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
    };
    uint8_t a[20], b[20];
    char text[ADDRESS_TEXT_SIZE], lower[41];
    struct mr_error err;
    (void)state;

    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        assert_int_equal(address_parse(v[i], 42, a, &err), MR_OK);
        address_to_checksum(a, text);
        assert_string_equal(text, v[i]);
        /* One case only, with or without 0x: accepted, no checksum. */
        for (int k = 0; k < 40; k++)
            lower[k] = (char)(v[i][2 + k] | 0x20);
        lower[40] = '\0';
        assert_int_equal(address_parse(lower, 40, b, NULL), MR_OK);
        assert_memory_equal(a, b, 20);
    }
    /* One letter's case flipped: a checksum error. */
    assert_int_equal(address_parse("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD", 42, a, &err),
                     MR_ERR_INVALID);
    assert_non_null(strstr(err.msg, "checksum"));
    assert_int_equal(address_parse("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAe", 41, a, NULL),
                     MR_ERR_HEX);
    assert_int_equal(address_parse("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAedd", 43, a, NULL),
                     MR_ERR_HEX);
    assert_int_equal(address_parse("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeg", 42, a, NULL),
                     MR_ERR_HEX);
    assert_int_equal(address_parse("", 0, a, NULL), MR_ERR_HEX);
}

/* ---- keystore JSON ---- */

static void test_keyfile_missing_fields(void **state)
{
    static const char *common[] = {
        "version", "crypto", "crypto.cipher", "crypto.cipherparams", "crypto.cipherparams.iv",
        "crypto.ciphertext", "crypto.mac", "crypto.kdf", "crypto.kdfparams",
        "crypto.kdfparams.dklen", "crypto.kdfparams.salt",
    };
    static const char *scrypt_only[] = {"crypto.kdfparams.n", "crypto.kdfparams.r",
                                        "crypto.kdfparams.p"};
    static const char *pbkdf2_only[] = {"crypto.kdfparams.c", "crypto.kdfparams.prf"};
    (void)state;

    for (int kdf = KEYSTORE_KDF_SCRYPT; kdf <= KEYSTORE_KDF_PBKDF2; kdf++) {
        const char **extra = kdf == KEYSTORE_KDF_SCRYPT ? scrypt_only : pbkdf2_only;
        size_t nextra = kdf == KEYSTORE_KDF_SCRYPT ? 3 : 2;
        for (size_t i = 0; i < sizeof(common) / sizeof(common[0]) + nextra; i++) {
            const char *path = i < sizeof(common) / sizeof(common[0])
                                   ? common[i]
                                   : extra[i - sizeof(common) / sizeof(common[0])];
            json_t *doc = light_doc((enum keystore_kdf)kdf), *parent;
            struct keyfile kf;
            struct mr_error err;
            char leaf[64];
            parent = path_parent(doc, path, leaf, sizeof(leaf));
            assert_int_equal(json_object_del(parent, leaf), 0);
            if (parse_doc(doc, &kf, &err) != MR_ERR_JSON)
                fail_msg("missing %s: not MR_ERR_JSON (%s)", path, err.msg);
            if (strstr(err.msg, path) == NULL || strstr(err.msg, "test.json") == NULL ||
                strstr(err.msg, "missing") == NULL)
                fail_msg("missing %s: message does not name it: %s", path, err.msg);
            json_decref(doc);
        }
    }
}

static void test_keyfile_wrong_types(void **state)
{
    static const struct {
        const char *path;
        const char *json; /* the wrong value */
    } cases[] = {
        {"version", "\"3\""},
        {"version", "3.0"},
        {"crypto", "[]"},
        {"crypto.cipher", "7"},
        {"crypto.cipherparams", "\"iv\""},
        {"crypto.cipherparams.iv", "null"},
        {"crypto.ciphertext", "{}"},
        {"crypto.mac", "true"},
        {"crypto.kdf", "1"},
        {"crypto.kdfparams", "[1]"},
        {"crypto.kdfparams.n", "\"16\""},
        {"crypto.kdfparams.n", "-16"},
        {"crypto.kdfparams.n", "16.5"},
        {"crypto.kdfparams.r", "null"},
        {"crypto.kdfparams.p", "[]"},
        {"crypto.kdfparams.dklen", "\"32\""},
        {"crypto.kdfparams.salt", "12"},
        {"address", "17"},
        {"id", "5"},
        {"id", "\"0123456789012345678901234567890123456789012345678901234567890123456789\""},
    };
    (void)state;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *doc = light_doc(KEYSTORE_KDF_SCRYPT), *parent, *v;
        struct keyfile kf;
        struct mr_error err;
        char leaf[64];
        v = json_loads(cases[i].json, JSON_DECODE_ANY, NULL);
        assert_non_null(v);
        parent = path_parent(doc, cases[i].path, leaf, sizeof(leaf));
        assert_int_equal(json_object_set_new(parent, leaf, v), 0);
        if (parse_doc(doc, &kf, &err) != MR_ERR_JSON)
            fail_msg("%s = %s: not MR_ERR_JSON (%s)", cases[i].path, cases[i].json, err.msg);
        if (strstr(err.msg, cases[i].path) == NULL)
            fail_msg("%s = %s: message does not name it: %s", cases[i].path, cases[i].json,
                     err.msg);
        json_decref(doc);
    }
}

/* Sets path to the JSON value `value` in a light document and parses it. */
static int parse_with(enum keystore_kdf kdf, const char *path, const char *value,
                      struct keyfile *kf, struct mr_error *err)
{
    json_t *doc = light_doc(kdf), *parent, *v = json_loads(value, JSON_DECODE_ANY, NULL);
    char leaf[64];
    int rc;

    assert_non_null(v);
    parent = path_parent(doc, path, leaf, sizeof(leaf));
    assert_int_equal(json_object_set_new(parent, leaf, v), 0);
    rc = parse_doc(doc, kf, err);
    json_decref(doc);
    return rc;
}

static void test_keyfile_bad_values(void **state)
{
    static const struct {
        enum keystore_kdf kdf;
        const char *path, *value;
        int want;
    } cases[] = {
        {KEYSTORE_KDF_SCRYPT, "version", "1", MR_ERR_INVALID},
        {KEYSTORE_KDF_SCRYPT, "version", "4", MR_ERR_INVALID},
        {KEYSTORE_KDF_SCRYPT, "crypto.cipher", "\"aes-128-cbc\"", MR_ERR_INVALID},
        {KEYSTORE_KDF_SCRYPT, "crypto.cipher", "\"AES-128-CTR\"", MR_ERR_INVALID},
        {KEYSTORE_KDF_SCRYPT, "crypto.cipher", "\"\"", MR_ERR_INVALID},
        {KEYSTORE_KDF_SCRYPT, "crypto.kdf", "\"argon2id\"", MR_ERR_KDF},
        {KEYSTORE_KDF_SCRYPT, "crypto.kdf", "\"scrypt2\"", MR_ERR_KDF},
        {KEYSTORE_KDF_PBKDF2, "crypto.kdfparams.prf", "\"hmac-sha512\"", MR_ERR_KDF},
        {KEYSTORE_KDF_SCRYPT, "crypto.cipherparams.iv", "\"zz\"", MR_ERR_HEX},
        {KEYSTORE_KDF_SCRYPT, "crypto.cipherparams.iv", "\"0123456789abcdef0123456789abcde\"",
         MR_ERR_HEX},
        {KEYSTORE_KDF_SCRYPT, "crypto.cipherparams.iv", "\"0123456789abcdef0123456789abcd\"",
         MR_ERR_INVALID},
        {KEYSTORE_KDF_SCRYPT, "crypto.cipherparams.iv", "\"0123456789abcdef0123456789abcdef00\"",
         MR_ERR_INVALID},
        {KEYSTORE_KDF_SCRYPT, "crypto.cipherparams.iv", "\"0x\"", MR_ERR_INVALID},
        {KEYSTORE_KDF_SCRYPT, "crypto.cipherparams.iv", "\" 123456789abcdef0123456789abcdef\"",
         MR_ERR_HEX},
        {KEYSTORE_KDF_SCRYPT, "crypto.ciphertext", "\"00\"", MR_ERR_INVALID},
        {KEYSTORE_KDF_SCRYPT, "crypto.mac", "\"\"", MR_ERR_INVALID},
        {KEYSTORE_KDF_SCRYPT, "crypto.kdfparams.salt", "\"\"", MR_ERR_KDF},
        {KEYSTORE_KDF_SCRYPT, "crypto.kdfparams.salt", "\"0g\"", MR_ERR_HEX},
        {KEYSTORE_KDF_SCRYPT, "address", "\"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD\"",
         MR_ERR_INVALID},
        {KEYSTORE_KDF_SCRYPT, "address", "\"5aaeb6053f3e94c9b9a09f33669435e7ef1bea\"", MR_ERR_HEX},
        {KEYSTORE_KDF_SCRYPT, "address", "\"\"", MR_ERR_HEX},
    };
    struct keyfile kf;
    struct mr_error err;
    (void)state;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int rc = parse_with(cases[i].kdf, cases[i].path, cases[i].value, &kf, &err);
        if (rc != cases[i].want)
            fail_msg("%s = %s: got %d, want %d (%s)", cases[i].path, cases[i].value, rc,
                     cases[i].want, err.msg);
        if (strstr(err.msg, "test.json") == NULL)
            fail_msg("%s = %s: message lacks the file name: %s", cases[i].path, cases[i].value,
                     err.msg);
        /* On failure nothing is left in *kf. */
        assert_int_equal(kf.ks.ciphertext_len, 0);
    }
}

/* Accepted variants: "0x" prefixes, upper case, "Crypto", extra members,
 * a checksummed address; the parsed values are the same. */
static void test_keyfile_accepted_variants(void **state)
{
    json_t *doc = light_doc(KEYSTORE_KDF_SCRYPT), *crypto;
    struct keyfile a, b;
    struct mr_error err;
    (void)state;

    assert_int_equal(parse_doc(doc, &a, &err), MR_OK);
    crypto = json_object_get(doc, "crypto");
    {
        char buf[80];
        snprintf(buf, sizeof(buf), "0x%s", json_string_value(json_object_get(crypto, "mac")));
        for (char *p = buf + 2; *p; p++)
            *p = (char)(*p >= 'a' && *p <= 'f' ? *p - 32 : *p);
        json_object_set_new(crypto, "mac", json_string(buf));
    }
    json_object_set_new(crypto, "version", json_integer(1));
    json_object_set_new(doc, "meta", json_string("ignored"));
    json_object_set_new(doc, "address", json_string("0x1111111111111111111111111111111111111111"));
    json_incref(crypto);
    json_object_del(doc, "crypto");
    json_object_set_new(doc, "Crypto", crypto);
    assert_int_equal(parse_doc(doc, &b, &err), MR_OK);
    assert_memory_equal(&a, &b, sizeof(a));
    /* But not both spellings at once. */
    json_object_set(doc, "crypto", crypto);
    assert_int_equal(parse_doc(doc, &b, &err), MR_ERR_JSON);
    assert_non_null(strstr(err.msg, "Crypto"));
    json_decref(doc);
}

static void test_keyfile_bad_documents(void **state)
{
    static const char *bad[] = {"", "{", "[]", "null", "3", "\"x\"", "{}x", "{\"version\":3",
                                "{\"version\": 3, \"version\": 3}"};
    json_t *doc = light_doc(KEYSTORE_KDF_SCRYPT);
    char *text = json_dumps(doc, 0), *big;
    size_t len = strlen(text);
    struct keyfile kf;
    struct mr_error err;
    (void)state;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(keyfile_parse(bad[i], strlen(bad[i]), "x.json", &kf, &err),
                         MR_ERR_JSON);
        assert_non_null(strstr(err.msg, "x.json"));
    }
    /* A duplicate member inside a valid document (a second "mac"). */
    big = malloc(len + 200);
    assert_non_null(big);
    snprintf(big, len + 200, "{\"version\": 3, %s", text + 1);
    assert_int_equal(keyfile_parse(big, strlen(big), "x.json", &kf, &err), MR_ERR_JSON);
    free(big);
    /* Exactly the size cap (padded with spaces) parses; one byte more is
     * refused before parsing. */
    big = malloc(KEYFILE_MAX_SIZE + 2);
    assert_non_null(big);
    memset(big, ' ', KEYFILE_MAX_SIZE + 1);
    memcpy(big, text, len);
    assert_int_equal(keyfile_parse(big, KEYFILE_MAX_SIZE, "x.json", &kf, &err), MR_OK);
    assert_int_equal(keyfile_parse(big, KEYFILE_MAX_SIZE + 1, "x.json", &kf, &err),
                     MR_ERR_TOOBIG);
    free(big);
    free(text);
    /* A 30000-byte salt fits in the file but not in the limits. */
    big = malloc(60003);
    assert_non_null(big);
    big[0] = '"';
    memset(big + 1, 'a', 60000);
    big[60001] = '"';
    big[60002] = '\0';
    assert_int_equal(parse_with(KEYSTORE_KDF_SCRYPT, "crypto.kdfparams.salt", big, &kf, &err),
                     MR_ERR_KDF);
    assert_non_null(strstr(err.msg, "salt"));
    free(big);
    /* Integers beyond 64 bits are a JSON error; large ones parse, then the
     * limits refuse them. */
    {
        char *t = json_dumps(doc, 0), *at = strstr(t, "\"n\": 16,"), huge[1024];
        assert_non_null(at);
        snprintf(huge, sizeof(huge), "%.*s\"n\": 100000000000000000000000000000,%s",
                 (int)(at - t), t, at + strlen("\"n\": 16,"));
        assert_int_equal(keyfile_parse(huge, strlen(huge), "x.json", &kf, &err), MR_ERR_JSON);
        free(t);
    }
    assert_int_equal(parse_with(KEYSTORE_KDF_SCRYPT, "crypto.kdfparams.n", "1073741824", &kf,
                                &err),
                     MR_OK);
    assert_int_equal(keystore_check(&kf.ks, &keystore_limits_default, NULL), MR_ERR_KDF);
    json_decref(doc);
}

/* format -> parse gives back the same values, for both KDFs, and a created
 * key unlocks to its address. */
static void test_keyfile_format_roundtrip(void **state)
{
    secp256k1_context *ctx = test_ctx();
    struct keyfile kf, back;
    uint8_t sk[32], got[32], addr[20];
    struct mr_error err;
    char *text;
    (void)state;

    for (int kdf = KEYSTORE_KDF_SCRYPT; kdf <= KEYSTORE_KDF_PBKDF2; kdf++) {
        json_t *doc = light_doc((enum keystore_kdf)kdf);
        assert_int_equal(parse_doc(doc, &kf, NULL), MR_OK);
        text = keyfile_format(&kf);
        assert_non_null(text);
        assert_int_equal(keyfile_parse(text, strlen(text), "t", &back, NULL), MR_OK);
        assert_memory_equal(&kf, &back, sizeof(kf));
        free(text);
        json_decref(doc);
    }
    memset(sk, 0x42, sizeof(sk));
    assert_int_equal(keyfile_create(ctx, sk, (const uint8_t *)"pw", 2, 1024, &kf, &err), MR_OK);
    assert_int_equal(strlen(kf.id), 36);
    assert_int_equal(kf.id[14], '4'); /* UUID version 4 */
    assert_non_null(strchr("89ab", kf.id[19]));
    text = keyfile_format(&kf);
    assert_int_equal(keyfile_parse(text, strlen(text), "t", &back, NULL), MR_OK);
    free(text);
    assert_int_equal(back.ks.kdf.n, 1024);
    assert_int_equal(back.ks.kdf.r, 8);
    assert_int_equal(back.ks.kdf.p, 1);
    assert_int_equal(keyfile_unlock(ctx, &back, &keystore_limits_default, (const uint8_t *)"pw",
                                    2, got, addr, &err),
                     MR_OK);
    assert_memory_equal(got, sk, 32);
    assert_memory_equal(addr, back.address, 20);
    /* An invalid key or out-of-limits N is refused. */
    memset(sk, 0, sizeof(sk));
    assert_int_equal(keyfile_create(ctx, sk, (const uint8_t *)"pw", 2, 1024, &kf, NULL),
                     MR_ERR_KEY);
    memset(sk, 0x42, sizeof(sk));
    assert_int_equal(keyfile_create(ctx, sk, (const uint8_t *)"pw", 2, 1ULL << 20, &kf, NULL),
                     MR_ERR_KDF);
    key_ctx_destroy(ctx);
}

/* ---- files and permissions ---- */

static void test_keyfile_permissions(void **state)
{
    json_t *doc = light_doc(KEYSTORE_KDF_SCRYPT);
    char *text = json_dumps(doc, 0), *dir = tv_tmpdir(), *path, *big;
    char pw[KEYFILE_PASSWORD_MAX];
    struct keyfile kf;
    struct mr_error err;
    size_t len;
    (void)state;

    path = write_file(dir, "k.json", text, strlen(text), 0644);
    assert_int_equal(keyfile_load(path, &kf, &err), MR_ERR_PERM);
    assert_non_null(strstr(err.msg, "chmod 600"));
    assert_non_null(strstr(err.msg, path));
    assert_int_equal(chmod(path, 0640), 0);
    assert_int_equal(keyfile_load(path, &kf, &err), MR_ERR_PERM);
    assert_int_equal(chmod(path, 0602), 0);
    assert_int_equal(keyfile_load(path, &kf, &err), MR_ERR_PERM);
    assert_int_equal(chmod(path, 0600), 0);
    assert_int_equal(keyfile_load(path, &kf, &err), MR_OK);
    assert_int_equal(chmod(path, 0400), 0);
    assert_int_equal(keyfile_load(path, &kf, &err), MR_OK);
    free(path);
    assert_int_equal(keyfile_load("/nonexistent/k.json", &kf, &err), MR_ERR_IO);
    assert_int_equal(keyfile_load(dir, &kf, &err), MR_ERR_IO); /* a directory */
    /* A 1 MiB file is refused without parsing. */
    big = malloc(1 << 20);
    memset(big, ' ', 1 << 20);
    path = write_file(dir, "big.json", big, 1 << 20, 0600);
    assert_int_equal(keyfile_load(path, &kf, &err), MR_ERR_TOOBIG);
    free(path);
    free(big);
    /* Password files: same mode rule, one trailing newline removed. */
    path = write_file(dir, "pw", "secret\n", 7, 0644);
    assert_int_equal(keyfile_read_password(path, pw, sizeof(pw), &len, &err), MR_ERR_PERM);
    assert_non_null(strstr(err.msg, "chmod 600"));
    assert_null(strstr(err.msg, "secret"));
    free(path);
    {
        static const struct {
            const char *content;
            size_t len;
            const char *want;
        } pwcases[] = {
            {"secret\n", 7, "secret"},   {"secret", 6, "secret"},   {"secret\r\n", 8, "secret"},
            {"secret\n\n", 8, "secret\n"}, {"\n", 1, ""},             {"", 0, ""},
            {" sp ace \n", 9, " sp ace "}, {"a\nb\n", 4, "a\nb"},
        };
        for (size_t i = 0; i < sizeof(pwcases) / sizeof(pwcases[0]); i++) {
            path = write_file(dir, "pw", pwcases[i].content, pwcases[i].len, 0400);
            assert_int_equal(keyfile_read_password(path, pw, sizeof(pw), &len, &err), MR_OK);
            assert_int_equal(len, strlen(pwcases[i].want));
            assert_memory_equal(pw, pwcases[i].want, len);
            free(path);
        }
    }
    big = malloc(KEYFILE_PASSWORD_MAX + 1);
    memset(big, 'p', KEYFILE_PASSWORD_MAX + 1);
    path = write_file(dir, "pw", big, KEYFILE_PASSWORD_MAX + 1, 0600);
    assert_int_equal(keyfile_read_password(path, pw, sizeof(pw), &len, &err), MR_ERR_TOOBIG);
    free(path);
    path = write_file(dir, "pw", big, KEYFILE_PASSWORD_MAX, 0600);
    assert_int_equal(keyfile_read_password(path, pw, sizeof(pw), &len, &err), MR_OK);
    assert_int_equal(len, KEYFILE_PASSWORD_MAX);
    free(path);
    free(big);
    tv_rmtree(dir);
    free(dir);
    free(text);
    json_decref(doc);
}

static size_t count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    size_t n = 0;

    assert_non_null(d);
    while ((e = readdir(d)) != NULL)
        n += e->d_name[0] != '.' || (e->d_name[1] != '\0' && strcmp(e->d_name, "..") != 0);
    closedir(d);
    return n;
}

static void test_keyfile_write_new(void **state)
{
    json_t *doc = light_doc(KEYSTORE_KDF_PBKDF2);
    char *dir = tv_tmpdir(), path[4200], *before, *after;
    struct keyfile kf, back;
    struct mr_error err;
    struct stat st;
    mode_t old = umask(0);
    (void)state;

    assert_int_equal(parse_doc(doc, &kf, NULL), MR_OK);
    snprintf(path, sizeof(path), "%s/new.json", dir);
    assert_int_equal(keyfile_write_new(path, &kf, &err), MR_OK);
    umask(old);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(count_entries(dir), 1); /* no temporary left */
    assert_int_equal(keyfile_load(path, &back, &err), MR_OK);
    assert_memory_equal(&kf, &back, sizeof(kf));
    /* Never overwrite. */
    before = read_text(path);
    kf.ks.mac[0] ^= 1;
    assert_int_equal(keyfile_write_new(path, &kf, &err), MR_ERR_IO);
    assert_non_null(strstr(err.msg, "already exists"));
    after = read_text(path);
    assert_string_equal(before, after);
    assert_int_equal(count_entries(dir), 1);
    free(before);
    free(after);
    snprintf(path, sizeof(path), "%s/nodir/new.json", dir);
    assert_int_equal(keyfile_write_new(path, &kf, &err), MR_ERR_IO);
    tv_rmtree(dir);
    free(dir);
    json_decref(doc);
}

/* ---- the CLI ---- */

#define CLI_PASSWORD "Tr0ub4dor&3-keystore-test"

struct cli_env {
    char *dir, *pwfile, *out;
};

static void cli_env_init(struct cli_env *e)
{
    e->dir = tv_tmpdir();
    e->pwfile = write_file(e->dir, "pass", CLI_PASSWORD "\n", strlen(CLI_PASSWORD) + 1, 0600);
    e->out = malloc(strlen(e->dir) + 16);
    sprintf(e->out, "%s/key.json", e->dir);
}

static void cli_env_free(struct cli_env *e)
{
    tv_rmtree(e->dir);
    free(e->dir);
    free(e->pwfile);
    free(e->out);
}

/* Runs `keys new --out OUT --password-file PWFILE --light`; its exit code. */
static int cli_new_light(const struct cli_env *e, char **out, char **errout)
{
    return tv_run_cli((const char *const[]){"keys", "new", "--out", e->out, "--password-file",
                                            e->pwfile, "--light", NULL},
                      NULL, out, errout);
}

/* Asserts that neither output contains the password or the key (hex). */
static void assert_no_secrets(const char *out, const char *errout, const char *key_hex)
{
    const char *bufs[2] = {out, errout};

    for (int i = 0; i < 2; i++) {
        char *lower = strdup(bufs[i]);
        for (char *p = lower; *p; p++)
            *p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
        assert_null(strstr(bufs[i], CLI_PASSWORD));
        if (key_hex != NULL)
            assert_null(strstr(lower, key_hex));
        free(lower);
    }
}

/* The key in a keystore written by the CLI, as lowercase hex (free). */
static char *decrypt_hex(const char *path, const char *pw, uint8_t addr[20])
{
    secp256k1_context *ctx = test_ctx();
    struct keyfile kf;
    uint8_t sk[32];
    struct mr_error err;
    char *hex;

    assert_int_equal(keyfile_load(path, &kf, &err), MR_OK);
    assert_int_equal(keyfile_unlock(ctx, &kf, &keystore_limits_default, (const uint8_t *)pw,
                                    strlen(pw), sk, addr, &err),
                     MR_OK);
    hex = tv_tohex(sk, 32);
    memmove(hex, hex + 2, strlen(hex + 2) + 1);
    key_ctx_destroy(ctx);
    return hex;
}

static void test_cli_help(void **state)
{
    const char *const *cases[] = {
        (const char *const[]){"keys", "--help", NULL},
        (const char *const[]){"keys", "new", "--help", NULL},
        (const char *const[]){"keys", "address", "--help", NULL},
    };
    (void)state;

    for (size_t i = 0; i < 3; i++) {
        char *out, *errout;
        assert_int_equal(tv_run_cli(cases[i], NULL, &out, &errout), 0);
        assert_non_null(strstr(out, "usage: mosaic-relayer keys"));
        assert_string_equal(errout, "");
        if (i > 0)
            assert_non_null(strstr(out, "newline"));
        free(out);
        free(errout);
    }
}

static void test_cli_new_and_address(void **state)
{
    struct cli_env e;
    char *out, *errout, *out2, *key_hex;
    uint8_t addr[20];
    char want[ADDRESS_TEXT_SIZE + 1];
    struct stat st;
    (void)state;

    cli_env_init(&e);
    assert_int_equal(cli_new_light(&e, &out, &errout), 0);
    assert_string_equal(errout, "");
    assert_int_equal(stat(e.out, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    key_hex = decrypt_hex(e.out, CLI_PASSWORD, addr);
    address_to_checksum(addr, want);
    strcat(want, "\n");
    assert_string_equal(out, want);
    assert_no_secrets(out, errout, key_hex);
    free(out);
    free(errout);
    /* keys address: from the field, then verified. */
    assert_int_equal(tv_run_cli((const char *const[]){"keys", "address", e.out, NULL}, NULL,
                                &out, &errout),
                     0);
    assert_string_equal(out, want);
    free(errout);
    assert_int_equal(tv_run_cli((const char *const[]){"keys", "address", "--verify",
                                                      "--password-file", e.pwfile, e.out, NULL},
                                NULL, &out2, &errout),
                     0);
    assert_string_equal(out2, want);
    assert_no_secrets(out2, errout, key_hex);
    free(out);
    free(out2);
    free(errout);
    /* The password from stdin (not a terminal), one line. */
    assert_int_equal(tv_run_cli((const char *const[]){"keys", "address", "--verify", e.out, NULL},
                                CLI_PASSWORD "\nmore\n", &out, &errout),
                     0);
    assert_string_equal(out, want);
    free(out);
    free(errout);
    /* A wrong password: exit 2, one line. */
    assert_int_equal(tv_run_cli((const char *const[]){"keys", "address", "--verify", e.out, NULL},
                                "wrong\n", &out, &errout),
                     2);
    assert_string_equal(out, "");
    assert_one_line(errout);
    assert_non_null(strstr(errout, "MAC"));
    free(out);
    free(errout);
    free(key_hex);
    cli_env_free(&e);
}

static void test_cli_new_stdin_and_scrypt_n(void **state)
{
    struct cli_env e;
    char *out, *errout, *key_hex;
    uint8_t addr[20];
    struct keyfile kf;
    (void)state;

    cli_env_init(&e);
    assert_int_equal(tv_run_cli((const char *const[]){"keys", "new", "--out", e.out,
                                                      "--scrypt-n", "2048", NULL},
                                CLI_PASSWORD "\n", &out, &errout),
                     0);
    assert_int_equal(keyfile_load(e.out, &kf, NULL), MR_OK);
    assert_int_equal(kf.ks.kdf.n, 2048);
    key_hex = decrypt_hex(e.out, CLI_PASSWORD, addr);
    assert_no_secrets(out, errout, key_hex);
    free(out);
    free(errout);
    free(key_hex);
    /* An empty password (empty stdin) is refused and nothing is written. */
    unlink(e.out);
    assert_int_equal(tv_run_cli((const char *const[]){"keys", "new", "--out", e.out, "--light",
                                                      NULL},
                                "", &out, &errout),
                     2);
    assert_one_line(errout);
    assert_non_null(strstr(errout, "empty password"));
    assert_int_equal(access(e.out, F_OK), -1);
    free(out);
    free(errout);
    cli_env_free(&e);
}

static void test_cli_refusals(void **state)
{
    struct cli_env e;
    char *out, *errout, *before, *after, *loose, *keycopy, never[4200];
    (void)state;

    cli_env_init(&e);
    assert_int_equal(cli_new_light(&e, NULL, NULL), 0);
    before = read_text(e.out);
    /* An existing --out is never replaced. */
    assert_int_equal(cli_new_light(&e, &out, &errout), 2);
    assert_one_line(errout);
    assert_non_null(strstr(errout, "already exists"));
    after = read_text(e.out);
    assert_string_equal(before, after);
    free(out);
    free(errout);
    /* A password file readable by others. */
    snprintf(never, sizeof(never), "%s/never.json", e.dir);
    loose = write_file(e.dir, "loose", CLI_PASSWORD "\n", strlen(CLI_PASSWORD) + 1, 0644);
    assert_int_equal(tv_run_cli((const char *const[]){"keys", "new", "--out", never,
                                                      "--password-file", loose, "--light", NULL},
                                NULL, &out, &errout),
                     2);
    assert_one_line(errout);
    assert_non_null(strstr(errout, "chmod 600"));
    assert_no_secrets(out, errout, NULL);
    assert_int_equal(access(never, F_OK), -1);
    free(out);
    free(errout);
    /* A key file readable by others, for address and for --verify. */
    keycopy = write_file(e.dir, "copy.json", before, strlen(before), 0644);
    assert_int_equal(tv_run_cli((const char *const[]){"keys", "address", keycopy, NULL}, NULL,
                                &out, &errout),
                     2);
    assert_one_line(errout);
    assert_non_null(strstr(errout, "chmod 600"));
    free(out);
    free(errout);
    free(keycopy);
    free(loose);
    free(before);
    free(after);
    cli_env_free(&e);
}

/* The "address" field is untrusted: printed as is without --verify, caught
 * with --verify (exit 1); without the field, --verify is needed. */
static void test_cli_address_field(void **state)
{
    struct cli_env e;
    char *out, *errout, *text, *path, want[ADDRESS_TEXT_SIZE + 1];
    json_t *doc;
    uint8_t addr[20];
    char *key_hex;
    (void)state;

    cli_env_init(&e);
    assert_int_equal(cli_new_light(&e, NULL, NULL), 0);
    key_hex = decrypt_hex(e.out, CLI_PASSWORD, addr);
    address_to_checksum(addr, want);
    strcat(want, "\n");
    doc = json_load_file(e.out, 0, NULL);
    assert_non_null(doc);
    /* A swapped address field. */
    json_object_set_new(doc, "address", json_string("000000000000000000000000000000000000dead"));
    text = json_dumps(doc, 0);
    path = write_file(e.dir, "swapped.json", text, strlen(text), 0600);
    free(text);
    assert_int_equal(tv_run_cli((const char *const[]){"keys", "address", path, NULL}, NULL, &out,
                                &errout),
                     0);
    assert_string_equal(out, "0x000000000000000000000000000000000000dEaD\n");
    free(out);
    free(errout);
    assert_int_equal(tv_run_cli((const char *const[]){"keys", "address", "--verify",
                                                      "--password-file", e.pwfile, path, NULL},
                                NULL, &out, &errout),
                     1);
    assert_string_equal(out, "");
    assert_one_line(errout);
    assert_non_null(strstr(errout, "does not match"));
    assert_no_secrets(out, errout, key_hex);
    free(out);
    free(errout);
    free(path);
    /* No address field. */
    json_object_del(doc, "address");
    text = json_dumps(doc, 0);
    path = write_file(e.dir, "noaddr.json", text, strlen(text), 0600);
    free(text);
    assert_int_equal(tv_run_cli((const char *const[]){"keys", "address", path, NULL}, NULL, &out,
                                &errout),
                     2);
    assert_one_line(errout);
    assert_non_null(strstr(errout, "--verify"));
    free(out);
    free(errout);
    assert_int_equal(tv_run_cli((const char *const[]){"keys", "address", "--verify",
                                                      "--password-file", e.pwfile, path, NULL},
                                NULL, &out, &errout),
                     0);
    assert_string_equal(out, want);
    free(out);
    free(errout);
    free(path);
    free(key_hex);
    json_decref(doc);
    cli_env_free(&e);
}

static void test_cli_bad_args(void **state)
{
    struct cli_env e;
    (void)state;

    cli_env_init(&e);
    {
        const char *const *cases[] = {
            (const char *const[]){"keys", NULL},
            (const char *const[]){"keys", "bogus", NULL},
            (const char *const[]){"keys", "new", NULL},
            (const char *const[]){"keys", "new", "--out", NULL},
            (const char *const[]){"keys", "new", "--light", NULL},
            (const char *const[]){"keys", "new", "--out", e.out, "--scrypt-n", "1000", NULL},
            (const char *const[]){"keys", "new", "--out", e.out, "--scrypt-n", "524288", NULL},
            (const char *const[]){"keys", "new", "--out", e.out, "--scrypt-n", "-1024", NULL},
            (const char *const[]){"keys", "new", "--out", e.out, "--scrypt-n", "1024x", NULL},
            (const char *const[]){"keys", "new", "--out", e.out, "--light", "--scrypt-n", "1024",
                                  NULL},
            (const char *const[]){"keys", "new", "--out", e.out, "--password=" CLI_PASSWORD, NULL},
            (const char *const[]){"keys", "new", "--out", e.out, CLI_PASSWORD, NULL},
            (const char *const[]){"keys", "new", "--out", e.out, "--password-file",
                                  "/nonexistent/pw", NULL},
            (const char *const[]){"keys", "new", "--out", "/nonexistent/dir/k.json",
                                  "--password-file", e.pwfile, "--light", NULL},
            (const char *const[]){"keys", "address", NULL},
            (const char *const[]){"keys", "address", "a.json", "b.json", NULL},
            (const char *const[]){"keys", "address", "--password-file", e.pwfile, e.out, NULL},
            (const char *const[]){"keys", "address", "--bogus", e.out, NULL},
            (const char *const[]){"keys", "address", "/nonexistent/k.json", NULL},
            (const char *const[]){"keys", "address", e.pwfile, NULL}, /* not JSON */
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
            char *out, *errout;
            int rc = tv_run_cli(cases[i], "", &out, &errout);
            if (rc != 2)
                fail_msg("case %zu: exit %d, want 2 (stderr: %s)", i, rc, errout);
            assert_string_equal(out, "");
            assert_one_line(errout);
            assert_non_null(strstr(errout, "mosaic-relayer keys"));
            assert_no_secrets(out, errout, NULL);
            free(out);
            free(errout);
        }
    }
    assert_int_equal(access(e.out, F_OK), -1);
    cli_env_free(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scrypt_rfc7914),
        cmocka_unit_test(test_scrypt_vs_openssl),
        cmocka_unit_test(test_scrypt_check),
        cmocka_unit_test(test_keystore_vectors),
        cmocka_unit_test(test_keystore_tamper),
        cmocka_unit_test(test_keystore_tamper_vector),
        cmocka_unit_test(test_keystore_hostile_params),
        cmocka_unit_test(test_keystore_roundtrip),
        cmocka_unit_test(test_address_eip55),
        cmocka_unit_test(test_keyfile_missing_fields),
        cmocka_unit_test(test_keyfile_wrong_types),
        cmocka_unit_test(test_keyfile_bad_values),
        cmocka_unit_test(test_keyfile_accepted_variants),
        cmocka_unit_test(test_keyfile_bad_documents),
        cmocka_unit_test(test_keyfile_format_roundtrip),
        cmocka_unit_test(test_keyfile_permissions),
        cmocka_unit_test(test_keyfile_write_new),
        cmocka_unit_test(test_cli_help),
        cmocka_unit_test(test_cli_new_and_address),
        cmocka_unit_test(test_cli_new_stdin_and_scrypt_n),
        cmocka_unit_test(test_cli_refusals),
        cmocka_unit_test(test_cli_address_field),
        cmocka_unit_test(test_cli_bad_args),
    };
    return cmocka_run_group_tests_name("keystore: scrypt, v3 keystores, EIP-55, keyfile, keys CLI",
                                       tests, NULL, NULL);
}
