/*
 * key.h - secp256k1 keys, addresses, recoverable signatures (libsecp256k1).
 *
 * The caller owns the libsecp256k1 context: one per thread, created with
 * key_ctx_create() from 32 bytes of the caller's randomness (this module does
 * no I/O, so it does not read /dev/urandom itself) and destroyed with
 * key_ctx_destroy().  Signing uses RFC 6979 nonces and produces low-S
 * signatures.  Private keys are borrowed and never copied except into
 * libsecp256k1's stack buffers; wiping them is the caller's job.
 */
#ifndef MR_KEY_H
#define MR_KEY_H

#include <stddef.h>
#include <stdint.h>

#include <secp256k1.h>

#include "error.h"

#define KEY_ADDRESS_LEN 20

/* The order n of the secp256k1 group and n/2, big-endian. */
extern const uint8_t key_curve_order[32];
extern const uint8_t key_half_order[32];

/* Creates a context for signing and verification, blinded with seed[32]
 * (EIP-less hygiene: secp256k1_context_randomize).  Returns a new context
 * (caller destroys) or NULL if libsecp256k1 refuses. */
secp256k1_context *key_ctx_create(const uint8_t seed[32]);
/* Re-blinds a context with fresh randomness; MR_ERR_CRYPTO on failure. */
int key_ctx_randomize(secp256k1_context *ctx, const uint8_t seed[32]);
void key_ctx_destroy(secp256k1_context *ctx);

/* MR_OK if sk[32] is a valid private key (0 < sk < n), else MR_ERR_KEY. */
int key_check_private(const secp256k1_context *ctx, const uint8_t sk[32]);

/* Address of a private key: keccak256(X || Y)[12..32] of its public key.
 * Out: addr[20]. */
int key_private_to_address(const secp256k1_context *ctx, const uint8_t sk[32],
                           uint8_t addr[KEY_ADDRESS_LEN], struct mr_error *err);
/* Out: pub[65], the uncompressed public key (0x04 || X || Y). */
int key_private_to_public(const secp256k1_context *ctx, const uint8_t sk[32], uint8_t pub[65],
                          struct mr_error *err);
/* Address of an uncompressed public key pub[65]. */
void key_public_to_address(const uint8_t pub[65], uint8_t addr[KEY_ADDRESS_LEN]);

/* Signs hash[32].  Out: r[32], s[32] (s <= n/2), *recid in 0..3. */
int key_sign(const secp256k1_context *ctx, const uint8_t sk[32], const uint8_t hash[32],
             uint8_t r[32], uint8_t s[32], int *recid, struct mr_error *err);

/* Recovers the signer's address from hash[32] and (r, s, recid).  Rejects
 * r or s of zero or >= n, recid > 3, and, when `require_low_s`, s > n/2
 * (EIP-2).  Out: addr[20] (and pub[65] if not NULL).  MR_ERR_SIGNATURE. */
int key_recover(const secp256k1_context *ctx, const uint8_t hash[32], const uint8_t r[32],
                const uint8_t s[32], int recid, int require_low_s, uint8_t addr[KEY_ADDRESS_LEN],
                uint8_t pub[65], struct mr_error *err);

/* Compares two 32-byte big-endian numbers: -1, 0, 1. */
int key_cmp32(const uint8_t a[32], const uint8_t b[32]);

#endif /* MR_KEY_H */
