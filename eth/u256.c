/*
 * u256.c - 256-bit unsigned arithmetic with overflow detection (see u256.h).
 */
#include "u256.h"

#include <string.h>

void u256_zero(struct u256 *r)
{
    memset(r, 0, sizeof(*r));
}

void u256_from_u64(struct u256 *r, uint64_t v)
{
    u256_zero(r);
    r->w[0] = v;
}

int u256_to_u64(const struct u256 *a, uint64_t *v)
{
    if (a->w[1] | a->w[2] | a->w[3])
        return MR_ERR_RANGE;
    *v = a->w[0];
    return MR_OK;
}

int u256_is_zero(const struct u256 *a)
{
    return (a->w[0] | a->w[1] | a->w[2] | a->w[3]) == 0;
}

int u256_cmp(const struct u256 *a, const struct u256 *b)
{
    for (int i = 3; i >= 0; i--) {
        if (a->w[i] != b->w[i])
            return a->w[i] < b->w[i] ? -1 : 1;
    }
    return 0;
}

int u256_from_be(struct u256 *r, const uint8_t *be, size_t len)
{
    if (len > 32)
        return MR_ERR_RANGE;
    u256_zero(r);
    for (size_t i = 0; i < len; i++) {
        size_t bit = (len - 1 - i) * 8;
        r->w[bit / 64] |= (uint64_t)be[i] << (bit % 64);
    }
    return MR_OK;
}

void u256_to_be32(const struct u256 *a, uint8_t out[32])
{
    for (size_t i = 0; i < 32; i++) {
        size_t bit = (31 - i) * 8;
        out[i] = (uint8_t)(a->w[bit / 64] >> (bit % 64));
    }
}

unsigned u256_bit_len(const struct u256 *a)
{
    for (int i = 3; i >= 0; i--) {
        if (a->w[i] != 0)
            return (unsigned)(i * 64 + 64 - __builtin_clzll(a->w[i]));
    }
    return 0;
}

size_t u256_byte_len(const struct u256 *a)
{
    return (u256_bit_len(a) + 7) / 8;
}

int u256_add(struct u256 *r, const struct u256 *a, const struct u256 *b)
{
    uint64_t carry = 0;
    struct u256 t;

    for (int i = 0; i < 4; i++) {
        uint64_t s = a->w[i] + b->w[i];
        uint64_t c1 = s < a->w[i];
        t.w[i] = s + carry;
        carry = c1 | (t.w[i] < s);
    }
    *r = t;
    return carry ? MR_ERR_RANGE : MR_OK;
}

int u256_sub(struct u256 *r, const struct u256 *a, const struct u256 *b)
{
    uint64_t borrow = 0;
    struct u256 t;

    for (int i = 0; i < 4; i++) {
        uint64_t d = a->w[i] - b->w[i];
        uint64_t b1 = a->w[i] < b->w[i];
        t.w[i] = d - borrow;
        borrow = b1 | (d < borrow);
    }
    *r = t;
    return borrow ? MR_ERR_RANGE : MR_OK;
}

int u256_mul(struct u256 *r, const struct u256 *a, const struct u256 *b)
{
    /* Schoolbook over 64-bit limbs into an 8-limb product; any bit in the
     * upper four limbs is an overflow. */
    uint64_t p[8] = {0};

    for (int i = 0; i < 4; i++) {
        unsigned __int128 carry = 0;
        if (a->w[i] == 0)
            continue;
        for (int j = 0; j < 4; j++) {
            unsigned __int128 cur = (unsigned __int128)a->w[i] * b->w[j] + p[i + j] + carry;
            p[i + j] = (uint64_t)cur;
            carry = cur >> 64;
        }
        p[i + 4] = (uint64_t)carry;
    }
    if (p[4] | p[5] | p[6] | p[7])
        return MR_ERR_RANGE;
    memcpy(r->w, p, sizeof(r->w));
    return MR_OK;
}

int u256_divmod_u64(struct u256 *q, const struct u256 *a, uint64_t d, uint64_t *rem)
{
    unsigned __int128 r = 0;
    struct u256 t;

    if (d == 0)
        return MR_ERR_RANGE;
    for (int i = 3; i >= 0; i--) {
        unsigned __int128 cur = (r << 64) | a->w[i];
        t.w[i] = (uint64_t)(cur / d);
        r = cur % d;
    }
    *q = t;
    if (rem != NULL)
        *rem = (uint64_t)r;
    return MR_OK;
}

/* r = r * m + add, reporting overflow. */
static int u256_muladd_small(struct u256 *r, uint64_t m, uint64_t add)
{
    unsigned __int128 carry = add;

    for (int i = 0; i < 4; i++) {
        unsigned __int128 cur = (unsigned __int128)r->w[i] * m + carry;
        r->w[i] = (uint64_t)cur;
        carry = cur >> 64;
    }
    return carry ? MR_ERR_RANGE : MR_OK;
}

int u256_parse_dec(struct u256 *r, const char *s, size_t len, int strict, struct mr_error *err)
{
    struct u256 t;

    if (len == 0)
        return mr_fail(err, MR_ERR_INVALID, "empty number");
    if (strict && len > 1 && s[0] == '0')
        return mr_fail(err, MR_ERR_INVALID, "decimal number with a leading zero");
    u256_zero(&t);
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return mr_fail(err, MR_ERR_INVALID, "bad decimal digit '%c' at position %zu",
                           (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?', i);
        if (u256_muladd_small(&t, 10, (uint64_t)(s[i] - '0')) != MR_OK)
            return mr_fail(err, MR_ERR_RANGE, "decimal number does not fit 256 bits");
    }
    *r = t;
    return MR_OK;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int u256_parse(struct u256 *r, const char *s, size_t len, struct mr_error *err)
{
    struct u256 t;

    if (len >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        if (len == 2)
            return mr_fail(err, MR_ERR_INVALID, "\"0x\" without digits");
        u256_zero(&t);
        for (size_t i = 2; i < len; i++) {
            int v = hexval(s[i]);
            if (v < 0)
                return mr_fail(err, MR_ERR_INVALID, "bad hex digit at position %zu", i);
            if (u256_muladd_small(&t, 16, (uint64_t)v) != MR_OK)
                return mr_fail(err, MR_ERR_RANGE, "hex number does not fit 256 bits");
        }
        *r = t;
        return MR_OK;
    }
    return u256_parse_dec(r, s, len, 0, err);
}

size_t u256_to_dec(const struct u256 *a, char *out, size_t cap)
{
    char tmp[U256_DEC_MAX];
    size_t n = 0;
    struct u256 t = *a;

    if (cap < U256_DEC_MAX)
        return 0;
    do {
        uint64_t rem = 0;
        if (u256_divmod_u64(&t, &t, 10, &rem) != MR_OK)
            return 0; /* unreachable: the divisor is not zero */
        tmp[n++] = (char)('0' + rem);
    } while (!u256_is_zero(&t));
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    out[n] = '\0';
    return n;
}
