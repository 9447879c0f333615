/*
 * rlp.h - Recursive Length Prefix encoding (Yellow Paper, Appendix B).
 *
 * Decoding is zero-copy and strictly canonical: a single byte < 0x80 must not
 * be wrapped in a string header, lengths must use the short form when they
 * can and must not have leading zero bytes, a payload must not run past its
 * container, and a top-level item must use all of its buffer.  Nesting is
 * bounded by RLP_MAX_DEPTH.  Items point into the caller's buffer, which must
 * outlive them.
 *
 * Encoding writes into a caller-owned buffer; when the buffer is too small the
 * encoder keeps counting so that one dry run with cap 0 gives the size needed.
 * Pure: no I/O, no globals, no allocation.
 */
#ifndef MR_RLP_H
#define MR_RLP_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "u256.h"

/* Deepest nesting rlp_validate() accepts. */
#define RLP_MAX_DEPTH 64

/* One decoded item: borrowed pointers into the decoded buffer. */
struct rlp_item {
    const uint8_t *raw;     /* the whole item, header included */
    size_t raw_len;
    const uint8_t *payload; /* string bytes, or the concatenated list items */
    size_t payload_len;
    int is_list;            /* 1 for a list, 0 for a string */
};

/* Decodes the header of the item at buf[0..len) (one level, canonical).
 * Out: *item; the item's full length is item->raw_len (<= len).  Trailing
 * bytes after the item are allowed here.  Returns MR_OK or MR_ERR_RLP. */
int rlp_next(const uint8_t *buf, size_t len, struct rlp_item *item, struct mr_error *err);

/* Decodes a whole buffer holding exactly one item, validating the item and
 * all nested items recursively (canonical form, depth <= max_depth, which must
 * be <= RLP_MAX_DEPTH).  Returns MR_OK or MR_ERR_RLP. */
int rlp_decode(const uint8_t *buf, size_t len, size_t max_depth, struct rlp_item *item,
               struct mr_error *err);

/* Iterating a list's children (shallow; each child is header-checked). */
struct rlp_iter {
    const uint8_t *p;
    size_t left;
};
void rlp_iter_init(struct rlp_iter *it, const struct rlp_item *list);
/* Returns 1 and fills *item, 0 at the end of the list, or MR_ERR_RLP. */
int rlp_iter_next(struct rlp_iter *it, struct rlp_item *item, struct mr_error *err);

/* Splits a list into at most `max` children.  Out: items[max], *count.
 * Returns MR_ERR_RLP if `list` is not a list, a child is malformed, or there
 * are more than `max` children. */
int rlp_list(const struct rlp_item *list, struct rlp_item *items, size_t max, size_t *count,
             struct mr_error *err);

/* Canonical unsigned integers: a string of at most 8 (or 32) bytes without a
 * leading zero byte; zero is the empty string.  MR_ERR_RLP otherwise. */
int rlp_get_u64(const struct rlp_item *item, uint64_t *out, struct mr_error *err);
int rlp_get_u256(const struct rlp_item *item, struct u256 *out, struct mr_error *err);
/* A string of exactly n bytes (a hash, an address). */
int rlp_get_fixed(const struct rlp_item *item, uint8_t *out, size_t n, struct mr_error *err);

/* The encoder.  Owns nothing; buf is the caller's. */
struct rlp_enc {
    uint8_t *buf;
    size_t cap;
    size_t len;    /* bytes produced so far (keeps counting past cap) */
    int overflow;  /* set once len exceeded cap */
};

void rlp_enc_init(struct rlp_enc *e, uint8_t *buf, size_t cap);
/* Appends a byte string. */
void rlp_enc_bytes(struct rlp_enc *e, const uint8_t *data, size_t len);
/* Appends a canonical integer (minimal big-endian bytes, zero = 0x80). */
void rlp_enc_u64(struct rlp_enc *e, uint64_t v);
void rlp_enc_u256(struct rlp_enc *e, const struct u256 *v);
/* Appends an already encoded item verbatim. */
void rlp_enc_raw(struct rlp_enc *e, const uint8_t *item, size_t len);
/* Starts a list; pass the returned mark to rlp_enc_list_end(), which inserts
 * the list header in front of what was appended since. */
size_t rlp_enc_list_begin(struct rlp_enc *e);
void rlp_enc_list_end(struct rlp_enc *e, size_t mark);
/* Out: *len, the encoded length.  Returns MR_ERR_TOOBIG if it overflowed. */
int rlp_enc_finish(const struct rlp_enc *e, size_t *len);

/* Size of an RLP header for a payload of `len` bytes (1 to 9). */
size_t rlp_header_len(size_t len);

#endif /* MR_RLP_H */
