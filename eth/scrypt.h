/*
 * scrypt.h - the scrypt key derivation function (RFC 7914).
 *
 * Written here rather than taken from OpenSSL because OpenSSL's
 * EVP_PBE_scrypt enforces RFC 7914 §2's "N < 2^(128*r/8)", which refuses
 * N = 2^18 with r = 1, a setting real keystores use (ethereum/tests
 * KeyStoreTests "test2"; geth and golang.org/x/crypto/scrypt accept it).
 * The two PBKDF2-HMAC-SHA256 steps are OpenSSL's.
 *
 * scrypt needs 128*r*N bytes of working memory, which hostile parameters can
 * make enormous: scrypt_check() computes the exact amount without
 * allocating, and scrypt_derive() refuses anything above the caller's cap.
 */
#ifndef MR_SCRYPT_H
#define MR_SCRYPT_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

/* Checks the parameters RFC 7914 and this implementation require, whatever
 * the policy: N a power of two >= 2, r >= 1, p >= 1, r*p < 2^30, and a
 * working set that fits in 64 bits.  Out: *mem (may be NULL), the bytes
 * scrypt_derive() would allocate: 128*r*(N + p + 2).  Returns MR_OK or
 * MR_ERR_KDF.  No allocation. */
int scrypt_check(uint64_t n, uint64_t r, uint64_t p, uint64_t *mem, struct mr_error *err);

/* Derives out[outlen] from the password pw[pwlen] and salt[saltlen] (either
 * may be NULL when its length is 0).  Allocates the working set given by
 * scrypt_check() with malloc, wipes and frees it before returning; refuses
 * (MR_ERR_KDF, before allocating) when it exceeds max_mem bytes.
 * Returns MR_OK, MR_ERR_KDF, MR_ERR_TOOBIG (a length above INT_MAX),
 * MR_ERR_NOMEM or MR_ERR_CRYPTO.  On failure out[] is zeroed. */
int scrypt_derive(const uint8_t *pw, size_t pwlen, const uint8_t *salt, size_t saltlen,
                  uint64_t n, uint64_t r, uint64_t p, uint64_t max_mem, uint8_t *out,
                  size_t outlen, struct mr_error *err);

#endif /* MR_SCRYPT_H */
