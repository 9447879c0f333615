/*
 * address.c - EIP-55 checksummed addresses (see address.h).
 */
#include "address.h"

#include <string.h>

#include "hex.h"
#include "keccak.h"

static const char address_digits[] = "0123456789abcdef";

void address_to_checksum(const uint8_t addr[ADDRESS_LEN], char out[ADDRESS_TEXT_SIZE])
{
    char *d = out + 2;
    uint8_t h[KECCAK256_LEN];

    out[0] = '0';
    out[1] = 'x';
    for (size_t i = 0; i < ADDRESS_LEN; i++) {
        d[2 * i] = address_digits[addr[i] >> 4];
        d[2 * i + 1] = address_digits[addr[i] & 0x0f];
    }
    d[2 * ADDRESS_LEN] = '\0';
    /* EIP-55: the hash is over the lowercase ASCII digits, without "0x". */
    keccak256(d, 2 * ADDRESS_LEN, h);
    for (size_t i = 0; i < 2 * ADDRESS_LEN; i++) {
        unsigned nibble = (i % 2 == 0) ? h[i / 2] >> 4 : h[i / 2] & 0x0f;
        if (d[i] >= 'a' && nibble >= 8)
            d[i] = (char)(d[i] - 'a' + 'A');
    }
}

int address_parse(const char *s, size_t slen, uint8_t addr[ADDRESS_LEN], struct mr_error *err)
{
    uint8_t tmp[ADDRESS_LEN];
    char want[ADDRESS_TEXT_SIZE];
    int lower = 0, upper = 0;

    if (slen >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        s += 2;
        slen -= 2;
    }
    if (slen != 2 * ADDRESS_LEN)
        return mr_fail(err, MR_ERR_HEX, "address must be 40 hex digits, got %zu characters", slen);
    for (size_t i = 0; i < slen; i++) {
        int hi = hex_digit(s[i]);
        if (hi < 0)
            return mr_fail(err, MR_ERR_HEX, "address has a non-hex character at digit %zu", i + 1);
        lower |= (s[i] >= 'a' && s[i] <= 'f');
        upper |= (s[i] >= 'A' && s[i] <= 'F');
        if (i % 2 == 0)
            tmp[i / 2] = (uint8_t)(hi << 4);
        else
            tmp[i / 2] |= (uint8_t)hi;
    }
    if (lower && upper) {
        address_to_checksum(tmp, want);
        if (memcmp(want + 2, s, 2 * ADDRESS_LEN) != 0)
            /* Not echoing the "corrected" form on purpose: with a typo it
             * would be the checksum of the wrong address. */
            return mr_fail(err, MR_ERR_INVALID,
                           "address has mixed case but a wrong EIP-55 checksum (a typo?)");
    }
    memcpy(addr, tmp, ADDRESS_LEN);
    return MR_OK;
}
