/*
 * u256.h - unsigned 256-bit integers for amounts, gas and quantities.
 *
 * A value type: four 64-bit limbs, least significant first.  Every
 * arithmetic function reports overflow instead of wrapping.  Pure: no I/O,
 * no globals, no allocation.
 */
#ifndef MR_U256_H
#define MR_U256_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

struct u256 {
    uint64_t w[4]; /* w[0] is the least significant limb */
};

/* Longest decimal rendering of a u256 (78 digits) plus the NUL. */
#define U256_DEC_MAX 79

void u256_zero(struct u256 *r);
void u256_from_u64(struct u256 *r, uint64_t v);
/* Out: *v.  Returns MR_OK, or MR_ERR_RANGE if `a` does not fit 64 bits. */
int u256_to_u64(const struct u256 *a, uint64_t *v);
int u256_is_zero(const struct u256 *a);
/* Returns -1, 0 or 1 as a <, ==, > b. */
int u256_cmp(const struct u256 *a, const struct u256 *b);

/* Big-endian conversions.  In: `be` of `len` bytes (len <= 32, shorter input
 * is a smaller number).  Returns MR_ERR_RANGE if len > 32. */
int u256_from_be(struct u256 *r, const uint8_t *be, size_t len);
/* Out: out[32], big-endian, zero-padded. */
void u256_to_be32(const struct u256 *a, uint8_t out[32]);
/* Number of bytes of the minimal big-endian form (0 for zero). */
size_t u256_byte_len(const struct u256 *a);
/* Number of significant bits (0 for zero). */
unsigned u256_bit_len(const struct u256 *a);

/* r = a + b, a - b, a * b.  `r` may alias an input.  On overflow (or
 * underflow) return MR_ERR_RANGE and leave `r` unspecified. */
int u256_add(struct u256 *r, const struct u256 *a, const struct u256 *b) MR_WARN_UNUSED;
int u256_sub(struct u256 *r, const struct u256 *a, const struct u256 *b) MR_WARN_UNUSED;
int u256_mul(struct u256 *r, const struct u256 *a, const struct u256 *b) MR_WARN_UNUSED;
/* q = a / d, *rem = a % d (rem may be NULL).  MR_ERR_RANGE if d == 0. */
int u256_divmod_u64(struct u256 *q, const struct u256 *a, uint64_t d, uint64_t *rem) MR_WARN_UNUSED;

/* Parses decimal digits ("0", "123"; no sign, no spaces, no leading zeros
 * unless the number is 0 when `strict`).  `s` need not be NUL-terminated.
 * Returns MR_ERR_INVALID on a bad character, MR_ERR_RANGE on overflow. */
int u256_parse_dec(struct u256 *r, const char *s, size_t len, int strict, struct mr_error *err);
/* Parses a number given as decimal or as 0x-hex (any length of digits,
 * leading zeros allowed): the forgiving form for command-line arguments. */
int u256_parse(struct u256 *r, const char *s, size_t len, struct mr_error *err);
/* Writes the decimal form and a NUL to out[cap].  Returns the length written
 * without the NUL, or 0 if cap < U256_DEC_MAX would not fit it. */
size_t u256_to_dec(const struct u256 *a, char *out, size_t cap);

#endif /* MR_U256_H */
