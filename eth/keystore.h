/*
 * keystore.h - Web3 Secret Storage v3 (the "keystore" of geth and most
 * wallets): the cryptography only, with no JSON (relayer/keyfile.h maps the
 * file to struct keystore_params).
 *
 * Spec: ethereum.org "Web3 Secret Storage Definition", version 3.
 *   derived = KDF(password, salt)  (scrypt or PBKDF2-HMAC-SHA256), dklen >= 32
 *   ciphertext = AES-128-CTR(key = derived[0..16], iv, private key)
 *   mac = keccak256(derived[16..32] || ciphertext)
 * Decryption recomputes the MAC and compares it in constant time
 * (CRYPTO_memcmp) before it decrypts anything.  Note that the MAC does not
 * cover the iv: a changed iv gives a wrong key, not a MAC error, which is
 * why relayer/keyfile.c also checks the key against the file's address.
 *
 * Every parameter read from a file is hostile.  keystore_check() bounds them
 * against a struct keystore_limits before any allocation or KDF work; the
 * limits exist so that a file cannot make us allocate gigabytes or spin for
 * minutes.  keystore_limits_default (production):
 *   scrypt  N a power of two >= 2; r, p >= 1; r*p < 2^30 (RFC 7914);
 *           working memory 128*r*(N+p+2) <= 512 MiB (N=2^18, r=8 needs 256 MiB);
 *           p <= 16; CPU cost N*r*p <= 2^23 (4x geth's standard 2^18*8*1,
 *           which takes about 0.6 s here: so at most ~2.5 s);
 *   pbkdf2  1 <= c <= 2^22 (16x the 262144 of geth's and the official
 *           vectors' files), prf hmac-sha256;
 *   dklen   32..64 (only bytes 0..32 are used; both KDFs give the same first
 *           32 bytes whatever dklen, but we derive dklen as the file says);
 *   salt    1..64 bytes; iv exactly 16; ciphertext 1..64 bytes; mac 32.
 *
 * Pure: no I/O, no globals but the const default limits.  Derivation
 * allocates the scrypt working set (see scrypt.h) and frees it before
 * returning.  Passwords, derived keys and plaintext keys are wiped from this
 * module's buffers; the caller wipes its own.
 */
#ifndef MR_KEYSTORE_H
#define MR_KEYSTORE_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define KEYSTORE_SALT_MAX 64
#define KEYSTORE_IV_LEN 16
#define KEYSTORE_MAC_LEN 32
#define KEYSTORE_CIPHERTEXT_MAX 64
#define KEYSTORE_DKLEN_MIN 32
#define KEYSTORE_DKLEN_MAX 64

enum keystore_kdf {
    KEYSTORE_KDF_SCRYPT = 1,
    KEYSTORE_KDF_PBKDF2 = 2 /* PBKDF2 with prf hmac-sha256, the only one in v3 */
};

/* The KDF half of a keystore: what turns a password into the derived key. */
struct keystore_kdf_params {
    enum keystore_kdf kdf;
    uint64_t n, r, p;  /* scrypt */
    uint64_t c;        /* pbkdf2 iteration count */
    uint64_t dklen;    /* derived key length in bytes */
    uint8_t salt[KEYSTORE_SALT_MAX];
    size_t salt_len;
};

/* Everything the "crypto" object of a v3 file holds, as values. */
struct keystore_params {
    struct keystore_kdf_params kdf;
    uint8_t iv[KEYSTORE_IV_LEN];
    uint8_t ciphertext[KEYSTORE_CIPHERTEXT_MAX];
    size_t ciphertext_len;
    uint8_t mac[KEYSTORE_MAC_LEN];
};

/* Policy bounds on the KDF cost (see the top of this file). */
struct keystore_limits {
    uint64_t scrypt_max_mem;  /* bytes: 128*r*(N+p+2) */
    uint64_t scrypt_max_p;
    uint64_t scrypt_max_work; /* N*r*p */
    uint64_t pbkdf2_max_c;
};

/* The production limits documented above. */
extern const struct keystore_limits keystore_limits_default;

/* Checks every length and KDF parameter of ks against lim without reading
 * past any array and without allocating.  Returns MR_OK; MR_ERR_KDF for an
 * unknown KDF or a KDF parameter (n, r, p, c, dklen, salt length) out of
 * bounds; MR_ERR_INVALID for a ciphertext length out of 1..64. */
int keystore_check(const struct keystore_params *ks, const struct keystore_limits *lim,
                   struct mr_error *err);

/* Decrypts ks with the password pw[pwlen] (bytes, may be NULL if 0).
 * keystore_check() first, then the KDF, then the constant-time MAC check,
 * and only then AES-128-CTR.  Out: out[cap] receives ks->ciphertext_len
 * bytes and *outlen their count; out is written only on success.
 * Returns MR_OK; MR_ERR_MAC (wrong password or tampered file); the codes of
 * keystore_check(); MR_ERR_TOOBIG if cap is too small; MR_ERR_NOMEM or
 * MR_ERR_CRYPTO.  The detail never contains the password or any key. */
int keystore_decrypt(const struct keystore_params *ks, const struct keystore_limits *lim,
                     const uint8_t *pw, size_t pwlen, uint8_t *out, size_t cap, size_t *outlen,
                     struct mr_error *err);

/* Encrypts key[keylen] (1..64 bytes) under pw[pwlen].  In: kdf with every
 * field set, including a fresh random salt; iv[16] fresh random bytes (this
 * module has no randomness of its own: the caller supplies it).  Out: *ks,
 * complete (kdf, iv, ciphertext, mac).  The parameters are checked against
 * lim first, so that we never write a file we would refuse to read.
 * Returns MR_OK or the codes of keystore_check() / the KDF. */
int keystore_encrypt(const uint8_t *key, size_t keylen, const uint8_t *pw, size_t pwlen,
                     const struct keystore_kdf_params *kdf, const uint8_t iv[KEYSTORE_IV_LEN],
                     const struct keystore_limits *lim, struct keystore_params *ks,
                     struct mr_error *err);

#endif /* MR_KEYSTORE_H */
