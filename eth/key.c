/*
 * key.c - secp256k1 keys and recoverable signatures (see key.h).
 */
#include "key.h"

#include <string.h>

#include <secp256k1_recovery.h>

#include "keccak.h"

const uint8_t key_curve_order[32] = {
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe,
    0xba, 0xae, 0xdc, 0xe6, 0xaf, 0x48, 0xa0, 0x3b, 0xbf, 0xd2, 0x5e, 0x8c, 0xd0, 0x36, 0x41, 0x41,
};

const uint8_t key_half_order[32] = {
    0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0x5d, 0x57, 0x6e, 0x73, 0x57, 0xa4, 0x50, 0x1d, 0xdf, 0xe9, 0x2f, 0x46, 0x68, 0x1b, 0x20, 0xa0,
};

int key_cmp32(const uint8_t a[32], const uint8_t b[32])
{
    int c = memcmp(a, b, 32);

    return c < 0 ? -1 : c > 0;
}

secp256k1_context *key_ctx_create(const uint8_t seed[32])
{
    secp256k1_context *ctx =
        secp256k1_context_create(SECP256K1_CONTEXT_SIGN | SECP256K1_CONTEXT_VERIFY);

    if (ctx == NULL)
        return NULL;
    if (key_ctx_randomize(ctx, seed) != MR_OK) {
        secp256k1_context_destroy(ctx);
        return NULL;
    }
    return ctx;
}

int key_ctx_randomize(secp256k1_context *ctx, const uint8_t seed[32])
{
    return secp256k1_context_randomize(ctx, seed) == 1 ? MR_OK : MR_ERR_CRYPTO;
}

void key_ctx_destroy(secp256k1_context *ctx)
{
    if (ctx != NULL)
        secp256k1_context_destroy(ctx);
}

int key_check_private(const secp256k1_context *ctx, const uint8_t sk[32])
{
    return secp256k1_ec_seckey_verify(ctx, sk) == 1 ? MR_OK : MR_ERR_KEY;
}

void key_public_to_address(const uint8_t pub[65], uint8_t addr[KEY_ADDRESS_LEN])
{
    uint8_t h[32];

    keccak256(pub + 1, 64, h);
    memcpy(addr, h + 12, KEY_ADDRESS_LEN);
}

int key_private_to_public(const secp256k1_context *ctx, const uint8_t sk[32], uint8_t pub[65],
                          struct mr_error *err)
{
    secp256k1_pubkey pk;
    size_t len = 65;

    if (secp256k1_ec_pubkey_create(ctx, &pk, sk) != 1)
        return mr_fail(err, MR_ERR_KEY, "private key is zero or not below the curve order");
    if (secp256k1_ec_pubkey_serialize(ctx, pub, &len, &pk, SECP256K1_EC_UNCOMPRESSED) != 1 ||
        len != 65)
        return mr_fail(err, MR_ERR_CRYPTO, "cannot serialize public key");
    return MR_OK;
}

int key_private_to_address(const secp256k1_context *ctx, const uint8_t sk[32],
                           uint8_t addr[KEY_ADDRESS_LEN], struct mr_error *err)
{
    uint8_t pub[65];
    int rc = key_private_to_public(ctx, sk, pub, err);

    if (rc != MR_OK)
        return rc;
    key_public_to_address(pub, addr);
    return MR_OK;
}

int key_sign(const secp256k1_context *ctx, const uint8_t sk[32], const uint8_t hash[32],
             uint8_t r[32], uint8_t s[32], int *recid, struct mr_error *err)
{
    secp256k1_ecdsa_recoverable_signature sig;
    uint8_t compact[64];

    /* RFC 6979 nonce (noncefp NULL); libsecp256k1 signs with low S. */
    if (secp256k1_ecdsa_sign_recoverable(ctx, &sig, hash, sk, NULL, NULL) != 1)
        return mr_fail(err, MR_ERR_KEY, "signing failed: invalid private key");
    if (secp256k1_ecdsa_recoverable_signature_serialize_compact(ctx, compact, recid, &sig) != 1)
        return mr_fail(err, MR_ERR_CRYPTO, "cannot serialize signature");
    memcpy(r, compact, 32);
    memcpy(s, compact + 32, 32);
    return MR_OK;
}

static int is_zero32(const uint8_t a[32])
{
    uint8_t acc = 0;

    for (int i = 0; i < 32; i++)
        acc |= a[i];
    return acc == 0;
}

int key_recover(const secp256k1_context *ctx, const uint8_t hash[32], const uint8_t r[32],
                const uint8_t s[32], int recid, int require_low_s, uint8_t addr[KEY_ADDRESS_LEN],
                uint8_t pub[65], struct mr_error *err)
{
    secp256k1_ecdsa_recoverable_signature sig;
    secp256k1_pubkey pk;
    uint8_t compact[64], out[65];
    size_t len = sizeof(out);

    if (recid < 0 || recid > 3)
        return mr_fail(err, MR_ERR_SIGNATURE, "recovery id %d out of range", recid);
    if (is_zero32(r) || is_zero32(s))
        return mr_fail(err, MR_ERR_SIGNATURE, "signature r or s is zero");
    if (key_cmp32(r, key_curve_order) >= 0 || key_cmp32(s, key_curve_order) >= 0)
        return mr_fail(err, MR_ERR_SIGNATURE, "signature r or s not below the curve order");
    if (require_low_s && key_cmp32(s, key_half_order) > 0)
        return mr_fail(err, MR_ERR_SIGNATURE, "signature s above n/2 (EIP-2)");
    memcpy(compact, r, 32);
    memcpy(compact + 32, s, 32);
    if (secp256k1_ecdsa_recoverable_signature_parse_compact(ctx, &sig, compact, recid) != 1)
        return mr_fail(err, MR_ERR_SIGNATURE, "signature does not parse");
    if (secp256k1_ecdsa_recover(ctx, &pk, &sig, hash) != 1)
        return mr_fail(err, MR_ERR_SIGNATURE, "no public key recovers from the signature");
    if (secp256k1_ec_pubkey_serialize(ctx, out, &len, &pk, SECP256K1_EC_UNCOMPRESSED) != 1)
        return mr_fail(err, MR_ERR_CRYPTO, "cannot serialize recovered key");
    key_public_to_address(out, addr);
    if (pub != NULL)
        memcpy(pub, out, 65);
    return MR_OK;
}
