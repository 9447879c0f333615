/*
 * keystore.c - Web3 Secret Storage v3 cryptography (see keystore.h).
 */
#include "keystore.h"

#include <limits.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "keccak.h"
#include "scrypt.h"

const struct keystore_limits keystore_limits_default = {
    .scrypt_max_mem = 512ULL << 20,
    .scrypt_max_p = 16,
    .scrypt_max_work = 1ULL << 23,
    .pbkdf2_max_c = 1ULL << 22,
};

static int check_scrypt(const struct keystore_kdf_params *k, const struct keystore_limits *lim,
                        struct mr_error *err)
{
    uint64_t mem;
    int rc = scrypt_check(k->n, k->r, k->p, &mem, err);

    if (rc != MR_OK)
        return rc;
    if (k->p > lim->scrypt_max_p)
        return mr_fail(err, MR_ERR_KDF, "scrypt p=%llu is above the limit of %llu",
                       (unsigned long long)k->p, (unsigned long long)lim->scrypt_max_p);
    if (mem > lim->scrypt_max_mem)
        return mr_fail(err, MR_ERR_KDF, "scrypt n=%llu r=%llu needs %llu MiB, above the limit "
                       "of %llu MiB", (unsigned long long)k->n, (unsigned long long)k->r,
                       (unsigned long long)(mem >> 20),
                       (unsigned long long)(lim->scrypt_max_mem >> 20));
    /* scrypt_check() bounds r*p below 2^30, so the division is exact enough
     * and nothing overflows. */
    if (k->n > lim->scrypt_max_work / (k->r * k->p))
        return mr_fail(err, MR_ERR_KDF, "scrypt cost n*r*p=%llu*%llu*%llu is above the limit of "
                       "%llu", (unsigned long long)k->n, (unsigned long long)k->r,
                       (unsigned long long)k->p, (unsigned long long)lim->scrypt_max_work);
    return MR_OK;
}

static int check_pbkdf2(const struct keystore_kdf_params *k, const struct keystore_limits *lim,
                        struct mr_error *err)
{
    if (k->c == 0 || k->c > lim->pbkdf2_max_c || k->c > INT_MAX)
        return mr_fail(err, MR_ERR_KDF, "pbkdf2 c=%llu is outside 1..%llu",
                       (unsigned long long)k->c,
                       (unsigned long long)(lim->pbkdf2_max_c < INT_MAX ? lim->pbkdf2_max_c
                                                                        : INT_MAX));
    return MR_OK;
}

int keystore_check(const struct keystore_params *ks, const struct keystore_limits *lim,
                   struct mr_error *err)
{
    const struct keystore_kdf_params *k = &ks->kdf;

    if (k->salt_len == 0 || k->salt_len > KEYSTORE_SALT_MAX)
        return mr_fail(err, MR_ERR_KDF, "salt of %zu bytes is outside 1..%d", k->salt_len,
                       KEYSTORE_SALT_MAX);
    if (k->dklen < KEYSTORE_DKLEN_MIN || k->dklen > KEYSTORE_DKLEN_MAX)
        return mr_fail(err, MR_ERR_KDF, "dklen=%llu is outside %d..%d",
                       (unsigned long long)k->dklen, KEYSTORE_DKLEN_MIN, KEYSTORE_DKLEN_MAX);
    if (ks->ciphertext_len == 0 || ks->ciphertext_len > KEYSTORE_CIPHERTEXT_MAX)
        return mr_fail(err, MR_ERR_INVALID, "ciphertext of %zu bytes is outside 1..%d",
                       ks->ciphertext_len, KEYSTORE_CIPHERTEXT_MAX);
    switch (k->kdf) {
    case KEYSTORE_KDF_SCRYPT:
        return check_scrypt(k, lim, err);
    case KEYSTORE_KDF_PBKDF2:
        return check_pbkdf2(k, lim, err);
    default:
        return mr_fail(err, MR_ERR_KDF, "unknown KDF %d", (int)k->kdf);
    }
}

/* Derives dk[k->dklen] from the password; parameters already checked. */
static int derive(const struct keystore_kdf_params *k, const struct keystore_limits *lim,
                  const uint8_t *pw, size_t pwlen, uint8_t dk[KEYSTORE_DKLEN_MAX],
                  struct mr_error *err)
{
    static const uint8_t empty[1] = {0};

    if (k->kdf == KEYSTORE_KDF_SCRYPT)
        return scrypt_derive(pw, pwlen, k->salt, k->salt_len, k->n, k->r, k->p,
                             lim->scrypt_max_mem, dk, (size_t)k->dklen, err);
    if (pwlen > INT_MAX)
        return mr_fail(err, MR_ERR_TOOBIG, "password longer than INT_MAX bytes");
    if (PKCS5_PBKDF2_HMAC((const char *)(pwlen > 0 ? pw : empty), (int)pwlen, k->salt,
                          (int)k->salt_len, (int)k->c, EVP_sha256(), (int)k->dklen, dk) != 1)
        return mr_fail(err, MR_ERR_CRYPTO, "PBKDF2-HMAC-SHA256 failed");
    return MR_OK;
}

/* mac[32] = keccak256(dk[16..32] || ct[len]) (Web3 Secret Storage v3). */
static void compute_mac(const uint8_t *dk, const uint8_t *ct, size_t len,
                        uint8_t mac[KEYSTORE_MAC_LEN])
{
    struct keccak256_ctx h;

    keccak256_init(&h);
    keccak256_update(&h, dk + 16, 16);
    keccak256_update(&h, ct, len);
    keccak256_final(&h, mac); /* also wipes h, which held dk[16..32] */
}

/* AES-128-CTR with a 128-bit big-endian counter starting at iv (the same
 * operation encrypts and decrypts).  in and out may not overlap. */
static int aes128_ctr(const uint8_t key[16], const uint8_t iv[16], const uint8_t *in,
                      size_t len, uint8_t *out, struct mr_error *err)
{
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int n1 = 0, n2 = 0, ok;

    if (c == NULL)
        return mr_fail(err, MR_ERR_NOMEM, "cannot allocate a cipher context");
    ok = EVP_EncryptInit_ex(c, EVP_aes_128_ctr(), NULL, key, iv) == 1 &&
         EVP_EncryptUpdate(c, out, &n1, in, (int)len) == 1 &&
         EVP_EncryptFinal_ex(c, out + n1, &n2) == 1 && (size_t)(n1 + n2) == len;
    EVP_CIPHER_CTX_free(c); /* cleanses the key schedule */
    return ok ? MR_OK : mr_fail(err, MR_ERR_CRYPTO, "AES-128-CTR failed");
}

int keystore_decrypt(const struct keystore_params *ks, const struct keystore_limits *lim,
                     const uint8_t *pw, size_t pwlen, uint8_t *out, size_t cap, size_t *outlen,
                     struct mr_error *err)
{
    uint8_t dk[KEYSTORE_DKLEN_MAX], mac[KEYSTORE_MAC_LEN], pt[KEYSTORE_CIPHERTEXT_MAX];
    int rc = keystore_check(ks, lim, err);

    if (rc != MR_OK)
        return rc;
    if (cap < ks->ciphertext_len)
        return mr_fail(err, MR_ERR_TOOBIG, "output buffer of %zu bytes for a %zu-byte key", cap,
                       ks->ciphertext_len);
    rc = derive(&ks->kdf, lim, pw, pwlen, dk, err);
    if (rc == MR_OK) {
        compute_mac(dk, ks->ciphertext, ks->ciphertext_len, mac);
        /* Constant time, and before any decryption. */
        if (CRYPTO_memcmp(mac, ks->mac, KEYSTORE_MAC_LEN) != 0)
            rc = mr_fail(err, MR_ERR_MAC, "MAC mismatch: wrong password or tampered keystore");
    }
    if (rc == MR_OK)
        rc = aes128_ctr(dk, ks->iv, ks->ciphertext, ks->ciphertext_len, pt, err);
    if (rc == MR_OK) {
        memcpy(out, pt, ks->ciphertext_len);
        *outlen = ks->ciphertext_len;
    }
    mr_wipe(dk, sizeof(dk));
    mr_wipe(pt, sizeof(pt));
    return rc;
}

int keystore_encrypt(const uint8_t *key, size_t keylen, const uint8_t *pw, size_t pwlen,
                     const struct keystore_kdf_params *kdf, const uint8_t iv[KEYSTORE_IV_LEN],
                     const struct keystore_limits *lim, struct keystore_params *ks,
                     struct mr_error *err)
{
    uint8_t dk[KEYSTORE_DKLEN_MAX];
    int rc;

    memset(ks, 0, sizeof(*ks));
    ks->kdf = *kdf;
    memcpy(ks->iv, iv, KEYSTORE_IV_LEN);
    ks->ciphertext_len = keylen;
    rc = keystore_check(ks, lim, err);
    if (rc == MR_OK)
        rc = derive(kdf, lim, pw, pwlen, dk, err);
    if (rc == MR_OK)
        rc = aes128_ctr(dk, iv, key, keylen, ks->ciphertext, err);
    if (rc == MR_OK)
        compute_mac(dk, ks->ciphertext, keylen, ks->mac);
    mr_wipe(dk, sizeof(dk));
    if (rc != MR_OK)
        memset(ks, 0, sizeof(*ks));
    return rc;
}
