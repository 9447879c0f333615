/*
 * fuzz_hex.c - libFuzzer target for the JSON-RPC hex decoders and the
 * decimal/hex number parser.
 *
 * Whatever decodes must re-encode to the input (lower-cased), since both
 * DATA and QUANTITY have exactly one canonical form per value.  abort()
 * otherwise.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "eth/hex.h"
#include "eth/u256.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int same_lower(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (tolower((unsigned char)a[i]) != tolower((unsigned char)b[i]))
            return 0;
    }
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    uint8_t buf[256];
    char out[2 * 256 + 3];
    struct u256 q;
    char dec[U256_DEC_MAX];
    size_t n, m;

    if (hex_decode_data(s, size, buf, sizeof(buf), &n, NULL) == MR_OK) {
        m = hex_encode_data(buf, n, out, sizeof(out));
        if (m != size || !same_lower(out + 2, s + 2, size - 2))
            abort();
    }
    if (hex_decode_quantity(s, size, &q, NULL) == MR_OK) {
        m = hex_encode_quantity(&q, out, sizeof(out));
        if (m != size || !same_lower(out + 2, s + 2, size - 2))
            abort();
    }
    if (u256_parse_dec(&q, s, size, 1, NULL) == MR_OK) {
        m = u256_to_dec(&q, dec, sizeof(dec));
        if (m != size || memcmp(dec, s, size) != 0)
            abort();
    }
    (void)u256_parse(&q, s, size, NULL);
    return 0;
}
