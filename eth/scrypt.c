/*
 * scrypt.c - scrypt (RFC 7914) on top of OpenSSL's PBKDF2 (see scrypt.h).
 *
 * Blocks are kept as little-endian 32-bit words (RFC 7914 §3 reads the
 * Salsa20/8 input that way); a block of BlockMix is 2*r 64-byte chunks,
 * i.e. 32*r words.
 */
#include "scrypt.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#define ROTL32(x, n) (((x) << (n)) | ((x) >> (32 - (n))))

/* The Salsa20 quarter-round (RFC 7914 §3). */
#define SALSA_QR(a, b, c, d)                                                   \
    do {                                                                       \
        b ^= ROTL32(a + d, 7);                                                 \
        c ^= ROTL32(b + a, 9);                                                 \
        d ^= ROTL32(c + b, 13);                                                \
        a ^= ROTL32(d + c, 18);                                                \
    } while (0)

/* Salsa20/8 core (RFC 7914 §3): 8 rounds, then the input is added back. */
static void salsa20_8(uint32_t b[16])
{
    uint32_t x[16];

    memcpy(x, b, sizeof(x));
    for (int i = 0; i < 8; i += 2) {
        /* column round */
        SALSA_QR(x[0], x[4], x[8], x[12]);
        SALSA_QR(x[5], x[9], x[13], x[1]);
        SALSA_QR(x[10], x[14], x[2], x[6]);
        SALSA_QR(x[15], x[3], x[7], x[11]);
        /* row round */
        SALSA_QR(x[0], x[1], x[2], x[3]);
        SALSA_QR(x[5], x[6], x[7], x[4]);
        SALSA_QR(x[10], x[11], x[8], x[9]);
        SALSA_QR(x[15], x[12], x[13], x[14]);
    }
    for (int i = 0; i < 16; i++)
        b[i] += x[i];
}

/* scryptBlockMix (RFC 7914 §4): in[32r] -> out[32r]; the outputs of even
 * chunks go to the first half, odd ones to the second. */
static void block_mix(const uint32_t *in, uint32_t *out, size_t r)
{
    uint32_t x[16];

    memcpy(x, in + (2 * r - 1) * 16, sizeof(x));
    for (size_t i = 0; i < 2 * r; i++) {
        for (size_t k = 0; k < 16; k++)
            x[k] ^= in[i * 16 + k];
        salsa20_8(x);
        memcpy(out + ((i & 1) * r + i / 2) * 16, x, sizeof(x));
    }
}

/* Integerify (RFC 7914 §5): the first 64 bits of the last chunk. */
static uint64_t integerify(const uint32_t *x, size_t r)
{
    const uint32_t *last = x + (2 * r - 1) * 16;

    return (uint64_t)last[0] | (uint64_t)last[1] << 32;
}

static void xor_words(uint32_t *dst, const uint32_t *src, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] ^= src[i];
}

/* scryptROMix (RFC 7914 §5) on the block b[128r bytes], in place.  Work
 * areas: v[32r*n words], x and y[32r words].  n is a power of two >= 2, so
 * both loops run an even number of times and alternate x and y. */
static void ro_mix(uint8_t *b, uint64_t n, size_t r, uint32_t *v, uint32_t *x, uint32_t *y)
{
    size_t w = 32 * r;

    for (size_t k = 0; k < w; k++)
        x[k] = (uint32_t)b[4 * k] | (uint32_t)b[4 * k + 1] << 8 |
               (uint32_t)b[4 * k + 2] << 16 | (uint32_t)b[4 * k + 3] << 24;
    for (uint64_t i = 0; i < n; i += 2) {
        memcpy(v + i * w, x, w * 4);
        block_mix(x, y, r);
        memcpy(v + (i + 1) * w, y, w * 4);
        block_mix(y, x, r);
    }
    for (uint64_t i = 0; i < n; i += 2) {
        xor_words(x, v + (integerify(x, r) & (n - 1)) * w, w);
        block_mix(x, y, r);
        xor_words(y, v + (integerify(y, r) & (n - 1)) * w, w);
        block_mix(y, x, r);
    }
    for (size_t k = 0; k < w; k++) {
        b[4 * k] = (uint8_t)x[k];
        b[4 * k + 1] = (uint8_t)(x[k] >> 8);
        b[4 * k + 2] = (uint8_t)(x[k] >> 16);
        b[4 * k + 3] = (uint8_t)(x[k] >> 24);
    }
}

int scrypt_check(uint64_t n, uint64_t r, uint64_t p, uint64_t *mem, struct mr_error *err)
{
    if (n < 2 || (n & (n - 1)) != 0)
        return mr_fail(err, MR_ERR_KDF, "scrypt n=%llu is not a power of two >= 2",
                       (unsigned long long)n);
    if (r == 0 || p == 0)
        return mr_fail(err, MR_ERR_KDF, "scrypt r and p must be at least 1");
    /* RFC 7914 §2: p <= (2^32-1)*hLen/MFLen, i.e. r*p < 2^30. */
    if (r >= (1u << 30) || p >= (1u << 30) || r * p >= (1u << 30))
        return mr_fail(err, MR_ERR_KDF, "scrypt r*p=%llu*%llu is not below 2^30",
                       (unsigned long long)r, (unsigned long long)p);
    /* 128*r < 2^37 and n + p + 2 <= 2^63 + 2^30: check the product. */
    if (n > (UINT64_MAX >> 1) || n + p + 2 > UINT64_MAX / (128 * r))
        return mr_fail(err, MR_ERR_KDF, "scrypt n=%llu r=%llu needs more than 2^64 bytes",
                       (unsigned long long)n, (unsigned long long)r);
    if (mem != NULL)
        *mem = 128 * r * (n + p + 2);
    return MR_OK;
}

/* PBKDF2-HMAC-SHA256 with one iteration, RFC 7914 §6 steps 1 and 3. */
static int pbkdf2_once(const uint8_t *pw, size_t pwlen, const uint8_t *salt, size_t saltlen,
                       uint8_t *out, size_t outlen)
{
    static const uint8_t empty[1] = {0};

    return PKCS5_PBKDF2_HMAC((const char *)(pwlen > 0 ? pw : empty), (int)pwlen,
                             saltlen > 0 ? salt : empty, (int)saltlen, 1, EVP_sha256(),
                             (int)outlen, out) == 1
               ? MR_OK
               : MR_ERR_CRYPTO;
}

int scrypt_derive(const uint8_t *pw, size_t pwlen, const uint8_t *salt, size_t saltlen,
                  uint64_t n, uint64_t r, uint64_t p, uint64_t max_mem, uint8_t *out,
                  size_t outlen, struct mr_error *err)
{
    uint64_t mem;
    size_t w, blen;
    uint32_t *work;
    uint8_t *b;
    int rc;

    memset(out, 0, outlen);
    rc = scrypt_check(n, r, p, &mem, err);
    if (rc != MR_OK)
        return rc;
    if (mem > max_mem)
        return mr_fail(err, MR_ERR_KDF, "scrypt n=%llu r=%llu p=%llu needs %llu bytes, over the "
                       "limit of %llu", (unsigned long long)n, (unsigned long long)r,
                       (unsigned long long)p, (unsigned long long)mem,
                       (unsigned long long)max_mem);
    if (mem > SIZE_MAX || 128 * r * p > INT_MAX)
        return mr_fail(err, MR_ERR_KDF, "scrypt working set too large for this platform");
    if (pwlen > INT_MAX || saltlen > INT_MAX || outlen > INT_MAX)
        return mr_fail(err, MR_ERR_TOOBIG, "scrypt input longer than INT_MAX bytes");
    work = malloc((size_t)mem);
    if (work == NULL)
        return mr_fail(err, MR_ERR_NOMEM, "scrypt: cannot allocate %llu bytes",
                       (unsigned long long)mem);
    /* Layout: V (32r*n words), X, Y (32r words each), then B (p blocks). */
    w = 32 * (size_t)r;
    blen = 128 * (size_t)r * (size_t)p;
    b = (uint8_t *)(work + w * ((size_t)n + 2));
    rc = pbkdf2_once(pw, pwlen, salt, saltlen, b, blen);
    for (size_t i = 0; rc == MR_OK && i < p; i++)
        ro_mix(b + i * 128 * (size_t)r, n, (size_t)r, work, work + w * (size_t)n,
               work + w * ((size_t)n + 1));
    if (rc == MR_OK)
        rc = pbkdf2_once(pw, pwlen, b, blen, out, outlen);
    mr_wipe(work, (size_t)mem);
    free(work);
    if (rc != MR_OK) {
        memset(out, 0, outlen);
        return mr_fail(err, rc, "scrypt: PBKDF2-HMAC-SHA256 failed");
    }
    return MR_OK;
}
