/*
 * hex.h - 0x-prefixed hex with the Ethereum JSON-RPC rules.
 *
 * Two kinds of hex travel over JSON-RPC (ethereum.org "JSON-RPC API",
 * hex value encoding):
 *   - DATA: "0x" then an even number of digits, two per byte ("0x" is empty).
 *   - QUANTITY: "0x" then the most compact form, no leading zeros; zero is
 *     "0x0".  "0x" and "0x00" are both errors.
 * Upper- and lower-case digits are accepted; anything else is an error, never
 * a guess.  Inputs need not be NUL-terminated: every function takes a length.
 * Pure: no I/O, no globals, no allocation.
 */
#ifndef MR_HEX_H
#define MR_HEX_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "u256.h"

/* Value of a hex digit, or -1. */
int hex_digit(char c);

/* Decodes DATA.  In: s[slen].  Out: out[cap], *outlen bytes written.
 * Returns MR_ERR_HEX if malformed, MR_ERR_TOOBIG if it does not fit cap. */
int hex_decode_data(const char *s, size_t slen, uint8_t *out, size_t cap, size_t *outlen,
                    struct mr_error *err);
/* Decodes DATA of exactly `n` bytes (an address, a hash). */
int hex_decode_fixed(const char *s, size_t slen, uint8_t *out, size_t n, struct mr_error *err);
/* Decoded length of DATA `s` (slen/2 - 1), or -1 if it is not valid DATA
 * syntax at first glance (prefix and even length only). */
long hex_data_len(const char *s, size_t slen);

/* Decodes a QUANTITY into a u256 or a uint64.  MR_ERR_HEX if malformed,
 * MR_ERR_RANGE if too large. */
int hex_decode_quantity(const char *s, size_t slen, struct u256 *out, struct mr_error *err);
int hex_decode_quantity_u64(const char *s, size_t slen, uint64_t *out, struct mr_error *err);

/* Encodes DATA: "0x" + 2*len lowercase digits + NUL into out[cap].
 * Returns the length without the NUL; if cap is too small nothing is written
 * and 0 is returned.  Needs cap >= 2*len + 3. */
size_t hex_encode_data(const uint8_t *data, size_t len, char *out, size_t cap);
/* Encodes a QUANTITY ("0x0", "0x1f").  Needs cap >= 67. */
size_t hex_encode_quantity(const struct u256 *q, char *out, size_t cap);
size_t hex_encode_quantity_u64(uint64_t q, char *out, size_t cap);

#endif /* MR_HEX_H */
