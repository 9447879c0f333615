/*
 * address.h - Ethereum addresses as text: EIP-55 mixed-case checksums.
 *
 * EIP-55 ("Mixed-case checksum address encoding"): take the 40 lowercase hex
 * digits of the address, hash them (as ASCII) with keccak256, and write digit
 * i in upper case when it is a letter and nibble i of the hash is >= 8.
 * A string in one case only (all lower or all upper) carries no checksum and
 * is accepted as is; a mixed-case string must match its checksum exactly.
 *
 * Pure: no I/O, no globals, no allocation.
 */
#ifndef MR_ADDRESS_H
#define MR_ADDRESS_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define ADDRESS_LEN 20
/* "0x" + 40 digits + NUL. */
#define ADDRESS_TEXT_SIZE 43

/* Writes the EIP-55 form of addr[20] ("0x5aAeb605...") into out[43],
 * NUL-terminated. */
void address_to_checksum(const uint8_t addr[ADDRESS_LEN], char out[ADDRESS_TEXT_SIZE]);

/* Parses an address from s[slen] (need not be NUL-terminated): an optional
 * "0x" then exactly 40 hex digits.  Out: addr[20] (written only on success).
 * Returns MR_OK; MR_ERR_HEX for a wrong length or a non-hex digit;
 * MR_ERR_INVALID for mixed case that is not a valid EIP-55 checksum (a
 * likely typo). */
int address_parse(const char *s, size_t slen, uint8_t addr[ADDRESS_LEN], struct mr_error *err);

#endif /* MR_ADDRESS_H */
