/*
 * hex.c - JSON-RPC hex DATA and QUANTITY (see hex.h).
 */
#include "hex.h"

#include <string.h>

static const char hex_lower[] = "0123456789abcdef";

int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static int has_prefix(const char *s, size_t slen)
{
    return slen >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X');
}

long hex_data_len(const char *s, size_t slen)
{
    if (!has_prefix(s, slen) || (slen & 1) != 0)
        return -1;
    return (long)((slen - 2) / 2);
}

int hex_decode_data(const char *s, size_t slen, uint8_t *out, size_t cap, size_t *outlen,
                    struct mr_error *err)
{
    size_t n;

    if (!has_prefix(s, slen))
        return mr_fail(err, MR_ERR_HEX, "hex data without 0x prefix");
    if ((slen & 1) != 0)
        return mr_fail(err, MR_ERR_HEX, "hex data with an odd number of digits (%zu)", slen - 2);
    n = (slen - 2) / 2;
    if (n > cap)
        return mr_fail(err, MR_ERR_TOOBIG, "hex data of %zu bytes exceeds %zu", n, cap);
    for (size_t i = 0; i < n; i++) {
        int hi = hex_digit(s[2 + 2 * i]);
        int lo = hex_digit(s[3 + 2 * i]);
        if ((hi | lo) < 0)
            return mr_fail(err, MR_ERR_HEX, "bad hex digit at position %zu",
                           hi < 0 ? 2 + 2 * i : 3 + 2 * i);
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    if (outlen != NULL)
        *outlen = n;
    return MR_OK;
}

int hex_decode_fixed(const char *s, size_t slen, uint8_t *out, size_t n, struct mr_error *err)
{
    long len = hex_data_len(s, slen);

    if (len >= 0 && (size_t)len != n)
        return mr_fail(err, MR_ERR_HEX, "expected %zu bytes of hex, got %ld", n, len);
    return hex_decode_data(s, slen, out, n, NULL, err);
}

int hex_decode_quantity(const char *s, size_t slen, struct u256 *out, struct mr_error *err)
{
    struct u256 t;
    size_t ndig;

    if (!has_prefix(s, slen))
        return mr_fail(err, MR_ERR_HEX, "hex quantity without 0x prefix");
    ndig = slen - 2;
    if (ndig == 0)
        return mr_fail(err, MR_ERR_HEX, "hex quantity \"0x\" has no digits (zero is \"0x0\")");
    if (ndig > 1 && s[2] == '0')
        return mr_fail(err, MR_ERR_HEX, "hex quantity with a leading zero");
    if (ndig > 64)
        return mr_fail(err, MR_ERR_RANGE, "hex quantity of %zu digits exceeds 256 bits", ndig);
    u256_zero(&t);
    for (size_t i = 0; i < ndig; i++) {
        int v = hex_digit(s[2 + i]);
        size_t bit = (ndig - 1 - i) * 4;
        if (v < 0)
            return mr_fail(err, MR_ERR_HEX, "bad hex digit at position %zu", 2 + i);
        t.w[bit / 64] |= (uint64_t)v << (bit % 64);
    }
    *out = t;
    return MR_OK;
}

int hex_decode_quantity_u64(const char *s, size_t slen, uint64_t *out, struct mr_error *err)
{
    struct u256 t;
    int rc = hex_decode_quantity(s, slen, &t, err);

    if (rc != MR_OK)
        return rc;
    if (u256_to_u64(&t, out) != MR_OK)
        return mr_fail(err, MR_ERR_RANGE, "hex quantity does not fit 64 bits");
    return MR_OK;
}

size_t hex_encode_data(const uint8_t *data, size_t len, char *out, size_t cap)
{
    if (len > (SIZE_MAX - 3) / 2 || cap < 2 * len + 3)
        return 0;
    out[0] = '0';
    out[1] = 'x';
    for (size_t i = 0; i < len; i++) {
        out[2 + 2 * i] = hex_lower[data[i] >> 4];
        out[3 + 2 * i] = hex_lower[data[i] & 15];
    }
    out[2 + 2 * len] = '\0';
    return 2 + 2 * len;
}

size_t hex_encode_quantity(const struct u256 *q, char *out, size_t cap)
{
    unsigned bits = u256_bit_len(q);
    size_t ndig = bits == 0 ? 1 : (bits + 3) / 4;

    if (cap < ndig + 3)
        return 0;
    out[0] = '0';
    out[1] = 'x';
    for (size_t i = 0; i < ndig; i++) {
        size_t bit = (ndig - 1 - i) * 4;
        out[2 + i] = hex_lower[(q->w[bit / 64] >> (bit % 64)) & 15];
    }
    out[2 + ndig] = '\0';
    return 2 + ndig;
}

size_t hex_encode_quantity_u64(uint64_t q, char *out, size_t cap)
{
    struct u256 t;

    u256_from_u64(&t, q);
    return hex_encode_quantity(&t, out, cap);
}
