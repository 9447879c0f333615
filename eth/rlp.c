/*
 * rlp.c - strict RLP decoding and encoding (see rlp.h).
 */
#include "rlp.h"

#include <string.h>

/* Reads a big-endian length of n (1..8) bytes at p; canonical means no
 * leading zero and a value >= 56 (else the short form was required). */
static int read_long_len(const uint8_t *p, size_t n, size_t off, size_t *out, struct mr_error *err)
{
    uint64_t v = 0;

    if (p[0] == 0)
        return mr_fail(err, MR_ERR_RLP, "length at offset %zu has a leading zero byte", off);
    for (size_t i = 0; i < n; i++)
        v = v << 8 | p[i];
    if (v < 56)
        return mr_fail(err, MR_ERR_RLP, "long-form length %llu at offset %zu should be short form",
                       (unsigned long long)v, off);
    if (v > SIZE_MAX)
        return mr_fail(err, MR_ERR_RLP, "length at offset %zu too large", off);
    *out = (size_t)v;
    return MR_OK;
}

int rlp_next(const uint8_t *buf, size_t len, struct rlp_item *item, struct mr_error *err)
{
    uint8_t b;
    size_t hdr, plen;
    int rc;

    if (len == 0)
        return mr_fail(err, MR_ERR_RLP, "empty input where an item was expected");
    b = buf[0];
    if (b < 0x80) {
        hdr = 0;
        plen = 1;
        item->is_list = 0;
    } else if (b <= 0xb7) {
        hdr = 1;
        plen = (size_t)(b - 0x80);
        item->is_list = 0;
        if (plen > len - 1)
            return mr_fail(err, MR_ERR_RLP, "string of %zu bytes but only %zu left", plen, len - 1);
        if (plen == 1 && buf[1] < 0x80)
            return mr_fail(err, MR_ERR_RLP, "single byte 0x%02x below 0x80 must not have a header",
                           buf[1]);
    } else if (b <= 0xbf) {
        size_t n = (size_t)(b - 0xb7);
        if (n > len - 1)
            return mr_fail(err, MR_ERR_RLP, "length of %zu bytes but only %zu left", n, len - 1);
        rc = read_long_len(buf + 1, n, 1, &plen, err);
        if (rc != MR_OK)
            return rc;
        hdr = 1 + n;
        item->is_list = 0;
    } else if (b <= 0xf7) {
        hdr = 1;
        plen = (size_t)(b - 0xc0);
        item->is_list = 1;
    } else {
        size_t n = (size_t)(b - 0xf7);
        if (n > len - 1)
            return mr_fail(err, MR_ERR_RLP, "length of %zu bytes but only %zu left", n, len - 1);
        rc = read_long_len(buf + 1, n, 1, &plen, err);
        if (rc != MR_OK)
            return rc;
        hdr = 1 + n;
        item->is_list = 1;
    }
    if (plen > len - hdr)
        return mr_fail(err, MR_ERR_RLP, "%s of %zu bytes but only %zu left",
                       item->is_list ? "list" : "string", plen, len - hdr);
    item->raw = buf;
    item->raw_len = hdr + plen;
    item->payload = buf + hdr;
    item->payload_len = plen;
    return MR_OK;
}

static int validate(const struct rlp_item *item, size_t depth, size_t max_depth,
                    struct mr_error *err)
{
    struct rlp_iter it;
    struct rlp_item child;
    int rc;

    if (!item->is_list)
        return MR_OK;
    if (depth >= max_depth)
        return mr_fail(err, MR_ERR_RLP, "lists nested deeper than %zu", max_depth);
    rlp_iter_init(&it, item);
    while ((rc = rlp_iter_next(&it, &child, err)) == 1) {
        rc = validate(&child, depth + 1, max_depth, err);
        if (rc != MR_OK)
            return rc;
    }
    return rc;
}

int rlp_decode(const uint8_t *buf, size_t len, size_t max_depth, struct rlp_item *item,
               struct mr_error *err)
{
    int rc;

    if (max_depth > RLP_MAX_DEPTH)
        max_depth = RLP_MAX_DEPTH;
    rc = rlp_next(buf, len, item, err);
    if (rc != MR_OK)
        return rc;
    if (item->raw_len != len)
        return mr_fail(err, MR_ERR_RLP, "%zu trailing bytes after the item", len - item->raw_len);
    return validate(item, 0, max_depth, err);
}

void rlp_iter_init(struct rlp_iter *it, const struct rlp_item *list)
{
    it->p = list->payload;
    it->left = list->payload_len;
}

int rlp_iter_next(struct rlp_iter *it, struct rlp_item *item, struct mr_error *err)
{
    int rc;

    if (it->left == 0)
        return 0;
    rc = rlp_next(it->p, it->left, item, err);
    if (rc != MR_OK)
        return rc;
    it->p += item->raw_len;
    it->left -= item->raw_len;
    return 1;
}

int rlp_list(const struct rlp_item *list, struct rlp_item *items, size_t max, size_t *count,
             struct mr_error *err)
{
    struct rlp_iter it;
    struct rlp_item child;
    size_t n = 0;
    int rc;

    if (!list->is_list)
        return mr_fail(err, MR_ERR_RLP, "expected a list, got a string");
    rlp_iter_init(&it, list);
    while ((rc = rlp_iter_next(&it, &child, err)) == 1) {
        if (n == max)
            return mr_fail(err, MR_ERR_RLP, "list has more than %zu items", max);
        items[n++] = child;
    }
    if (rc < 0)
        return rc;
    *count = n;
    return MR_OK;
}

static int get_uint(const struct rlp_item *item, size_t maxbytes, struct mr_error *err)
{
    if (item->is_list)
        return mr_fail(err, MR_ERR_RLP, "expected an integer, got a list");
    if (item->payload_len > maxbytes)
        return mr_fail(err, MR_ERR_RLP, "integer of %zu bytes exceeds %zu", item->payload_len,
                       maxbytes);
    if (item->payload_len > 0 && item->payload[0] == 0)
        return mr_fail(err, MR_ERR_RLP, "integer with a leading zero byte");
    return MR_OK;
}

int rlp_get_u64(const struct rlp_item *item, uint64_t *out, struct mr_error *err)
{
    uint64_t v = 0;
    int rc = get_uint(item, 8, err);

    if (rc != MR_OK)
        return rc;
    for (size_t i = 0; i < item->payload_len; i++)
        v = v << 8 | item->payload[i];
    *out = v;
    return MR_OK;
}

int rlp_get_u256(const struct rlp_item *item, struct u256 *out, struct mr_error *err)
{
    int rc = get_uint(item, 32, err);

    if (rc != MR_OK)
        return rc;
    return u256_from_be(out, item->payload, item->payload_len);
}

int rlp_get_fixed(const struct rlp_item *item, uint8_t *out, size_t n, struct mr_error *err)
{
    if (item->is_list)
        return mr_fail(err, MR_ERR_RLP, "expected %zu bytes, got a list", n);
    if (item->payload_len != n)
        return mr_fail(err, MR_ERR_RLP, "expected %zu bytes, got %zu", n, item->payload_len);
    memcpy(out, item->payload, n);
    return MR_OK;
}

/* ---- encoder ---- */

size_t rlp_header_len(size_t len)
{
    size_t n = 1;

    if (len < 56)
        return 1;
    while (len > 0) {
        n++;
        len >>= 8;
    }
    return n;
}

/* Writes the header for a payload of `len` bytes at out (rlp_header_len(len)
 * bytes).  `base` is 0x80 for strings and 0xc0 for lists. */
static void put_header(uint8_t *out, size_t len, uint8_t base)
{
    size_t n = rlp_header_len(len) - 1;

    if (n == 0) {
        out[0] = (uint8_t)(base + len);
        return;
    }
    out[0] = (uint8_t)(base + 55 + n);
    for (size_t i = 0; i < n; i++)
        out[n - i] = (uint8_t)(len >> (8 * i));
}

void rlp_enc_init(struct rlp_enc *e, uint8_t *buf, size_t cap)
{
    e->buf = buf;
    e->cap = cap;
    e->len = 0;
    e->overflow = 0;
}

/* Reserves n bytes; returns where to write them, or NULL once overflowed. */
static uint8_t *reserve(struct rlp_enc *e, size_t n)
{
    uint8_t *p;

    if (e->overflow || n > e->cap - e->len) {
        e->overflow = 1;
        e->len += n;
        return NULL;
    }
    p = e->buf + e->len;
    e->len += n;
    return p;
}

void rlp_enc_bytes(struct rlp_enc *e, const uint8_t *data, size_t len)
{
    uint8_t *p;

    if (len == 1 && data[0] < 0x80) {
        p = reserve(e, 1);
        if (p != NULL)
            p[0] = data[0];
        return;
    }
    p = reserve(e, rlp_header_len(len) + len);
    if (p == NULL)
        return;
    put_header(p, len, 0x80);
    if (len > 0)
        memcpy(p + rlp_header_len(len), data, len);
}

void rlp_enc_u64(struct rlp_enc *e, uint64_t v)
{
    uint8_t be[8];
    size_t n = 0;

    for (int i = 7; i >= 0; i--) {
        uint8_t b = (uint8_t)(v >> (8 * i));
        if (n == 0 && b == 0)
            continue;
        be[n++] = b;
    }
    rlp_enc_bytes(e, be, n);
}

void rlp_enc_u256(struct rlp_enc *e, const struct u256 *v)
{
    uint8_t be[32];
    size_t n = u256_byte_len(v);

    u256_to_be32(v, be);
    rlp_enc_bytes(e, be + 32 - n, n);
}

void rlp_enc_raw(struct rlp_enc *e, const uint8_t *item, size_t len)
{
    uint8_t *p = reserve(e, len);

    if (p != NULL && len > 0)
        memcpy(p, item, len);
}

size_t rlp_enc_list_begin(struct rlp_enc *e)
{
    return e->len;
}

void rlp_enc_list_end(struct rlp_enc *e, size_t mark)
{
    size_t plen = e->len - mark;
    size_t hl = rlp_header_len(plen);

    if (e->overflow || hl > e->cap - e->len) {
        e->overflow = 1;
        e->len += hl;
        return;
    }
    memmove(e->buf + mark + hl, e->buf + mark, plen);
    put_header(e->buf + mark, plen, 0xc0);
    e->len += hl;
}

int rlp_enc_finish(const struct rlp_enc *e, size_t *len)
{
    *len = e->len;
    return e->overflow ? MR_ERR_TOOBIG : MR_OK;
}
