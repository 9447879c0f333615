/*
 * fuzz_abi.c - libFuzzer target for eth/abi.
 *
 * The first input byte picks a mode, the rest is the payload:
 *   0..NTYPES-1  decode the payload against a fixed type; if it decodes, the
 *                re-encoding must be byte-identical (strict mode means the
 *                decoder accepts only canonical encodings);
 *   NTYPES       parse the payload as a type; if it parses, its canonical
 *                form must parse again to the same canonical form;
 *   NTYPES+1     parse the payload as a signature (same property);
 *   NTYPES+2     a log: payload byte 0 = topic count, then the topics, then
 *                data, against two events; a decoded log must re-encode to
 *                the same topics and data;
 *   NTYPES+3     revert data;
 *   NTYPES+4     structured: payload byte 0 picks a type, the rest drives a
 *                value generator; the value must encode, decode to an equal
 *                value and re-encode identically, and the encoding with one
 *                byte changed (position and xor from the payload) must either
 *                be refused or re-encode identically (as in mode 0..).
 * Any violated property calls abort().
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "eth/abi.h"

#define NODES 128
#define VALUES 4096

static const char *const types[] = {
    "(uint256,address,bool,bytes32,int8,uint8,bytes1,int256)",
    "(uint256,uint32[],bytes10,bytes)",
    "(uint256[][],string[])",
    "((uint256,bytes)[2],string,(bool,int16[3])[])",
    "(bytes,string,bytes[],uint8[3][])",
    "(address,uint256,address,uint256,uint256,uint256,bytes32,uint256,bytes)",
    "string",
    "(int8,int64,int128,uint8[][2])",
    "((bytes,(string,(bytes2,uint8[]))[])[2][])",
};
#define NTYPES (sizeof(types) / sizeof(types[0]))

static const char *const events[] = {
    "StakeIntentDeclared(bytes32 indexed _messageHash, address _staker, uint256 _stakerNonce, "
    "address _beneficiary, uint256 _amount)",
    "Ev(string indexed s, address indexed a, int16 v, bytes b)",
};

static struct abi_value values[VALUES];

/* ---- structured mode: values generated from fuzz bytes ---- */

struct src {
    const uint8_t *p;
    size_t n;
};

static uint8_t take(struct src *s)
{
    if (s->n == 0)
        return 0;
    s->n--;
    return *s->p++;
}

static struct abi_value gen_values[VALUES];
static size_t gen_used;
static uint8_t gen_bytes[1 << 16];
static size_t gen_bused;

/* Fills *v with a valid value of type t.  Returns -1 when the pools run out. */
static int gen(const struct abi_type *t, struct src *s, struct abi_value *v)
{
    const struct abi_type *c = t->child;
    uint8_t w[32];
    size_t n, pad;
    struct abi_value *items;

    memset(v, 0, sizeof(*v));
    switch (t->kind) {
    case ABI_UINT:
    case ABI_INT:
    case ABI_BOOL:
        memset(w, 0, 32);
        pad = t->kind == ABI_BOOL ? 31 : 32 - t->size / 8;
        for (size_t i = pad; i < 32; i++)
            w[i] = take(s);
        if (t->kind == ABI_BOOL)
            w[31] &= 1;
        if (t->kind == ABI_INT && pad < 32 && (w[pad] & 0x80))
            memset(w, 0xff, pad);
        (void)u256_from_be(&v->num, w, 32);
        return 0;
    case ABI_ADDRESS:
    case ABI_FIXED_BYTES:
    case ABI_BYTES:
    case ABI_STRING:
        n = t->kind == ABI_ADDRESS ? 20 : t->kind == ABI_FIXED_BYTES ? t->size : take(s) % 80;
        if (n > sizeof(gen_bytes) - gen_bused)
            return -1;
        for (size_t i = 0; i < n; i++)
            gen_bytes[gen_bused + i] = take(s);
        *v = abi_v_bytes(gen_bytes + gen_bused, n);
        gen_bused += n;
        return 0;
    default:
        n = t->kind == ABI_ARRAY ? take(s) % 5 : t->count;
        if (n > VALUES - gen_used)
            return -1;
        items = gen_values + gen_used;
        gen_used += n;
        for (size_t i = 0; i < n; i++) {
            if (gen(c, s, &items[i]) != 0)
                return -1;
            if (t->kind == ABI_TUPLE)
                c = c->next;
        }
        *v = abi_v_list(n ? items : NULL, n);
        return 0;
    }
}

static int equal(const struct abi_type *t, const struct abi_value *a, const struct abi_value *b)
{
    const struct abi_type *c = t->child;

    switch (t->kind) {
    case ABI_UINT:
    case ABI_INT:
    case ABI_BOOL:
        return u256_cmp(&a->num, &b->num) == 0;
    case ABI_ADDRESS:
    case ABI_FIXED_BYTES:
    case ABI_BYTES:
    case ABI_STRING:
        return a->len == b->len && (a->len == 0 || memcmp(a->ptr, b->ptr, a->len) == 0);
    default:
        if (a->count != b->count)
            return 0;
        for (size_t i = 0; i < a->count; i++) {
            if (!equal(c, &a->items[i], &b->items[i]))
                return 0;
            if (t->kind == ABI_TUPLE)
                c = c->next;
        }
        return 1;
    }
}

static void fuzz_decode(const char *ty, const uint8_t *data, size_t size);

static void fuzz_structured(const uint8_t *data, size_t size)
{
    struct abi_type nodes[NODES];
    struct src s = {data, size};
    struct abi_value v;
    const char *ty;
    uint8_t *enc;
    size_t len, len2, at;
    uint8_t flip;

    ty = types[take(&s) % NTYPES];
    at = take(&s);
    at = at << 8 | take(&s);
    flip = take(&s);
    if (abi_parse_type(ty, strlen(ty), nodes, NODES, NULL, NULL) != MR_OK)
        abort();
    gen_used = gen_bused = 0;
    if (gen(nodes, &s, &v) != 0)
        return;
    /* every type in the list has a non-empty encoding: a dry run is "too big" */
    if (abi_encode(nodes, &v, NULL, 0, &len, NULL) != MR_ERR_TOOBIG)
        abort();
    enc = malloc(len + 1);
    if (enc == NULL)
        abort();
    if (abi_encode(nodes, &v, enc, len, &len2, NULL) != MR_OK || len2 != len || len % 32 != 0 ||
        abi_decode(nodes, enc, len, values, VALUES, NULL, NULL) != MR_OK ||
        !equal(nodes, &values[0], &v))
        abort();
    if (len > 0) {
        enc[at % len] ^= flip;
        fuzz_decode(ty, enc, len);
    }
    free(enc);
}

static void fuzz_decode(const char *ty, const uint8_t *data, size_t size)
{
    struct abi_type nodes[NODES];
    uint8_t *out;
    size_t len;

    if (abi_parse_type(ty, strlen(ty), nodes, NODES, NULL, NULL) != MR_OK)
        abort();
    if (abi_decode(nodes, data, size, values, VALUES, NULL, NULL) != MR_OK)
        return;
    out = malloc(size + 1);
    if (out == NULL)
        abort();
    if (abi_encode(nodes, &values[0], out, size + 1, &len, NULL) != MR_OK || len != size ||
        memcmp(out, data, size) != 0)
        abort();
    free(out);
}

/* parse -> canonical -> parse -> canonical must be a fixed point. */
static void fuzz_parse(const uint8_t *data, size_t size, int signature)
{
    struct abi_type nodes[NODES];
    struct abi_sig sig, sig2;
    char canon[1024], canon2[1024];
    size_t n, n2;

    if (signature) {
        if (abi_parse_signature((const char *)data, size, nodes, NODES, NULL, &sig, NULL) != MR_OK)
            return;
        if (abi_canonical_signature((const char *)data, size, canon, sizeof(canon), &n, NULL) != MR_OK)
            return;  /* too long for the buffer or the stack node budget */
        if (abi_parse_signature(canon, n, nodes, NODES, NULL, &sig2, NULL) != MR_OK ||
            memcmp(sig.hash, sig2.hash, 32) != 0 ||
            abi_canonical_signature(canon, n, canon2, sizeof(canon2), &n2, NULL) != MR_OK ||
            n2 != n || memcmp(canon, canon2, n) != 0)
            abort();
        return;
    }
    if (abi_parse_type((const char *)data, size, nodes, NODES, NULL, NULL) != MR_OK)
        return;
    n = abi_type_format(&nodes[0], canon, sizeof(canon));
    if (n >= sizeof(canon))
        return;
    if (abi_parse_type(canon, n, nodes, NODES, NULL, NULL) != MR_OK ||
        abi_type_format(&nodes[0], canon2, sizeof(canon2)) != n || memcmp(canon, canon2, n) != 0)
        abort();
}

static void fuzz_log(const uint8_t *data, size_t size)
{
    struct abi_type nodes[NODES];
    struct abi_sig ev;
    uint8_t topics[4][32];
    size_t ntopics, n, len;
    uint8_t *out;

    if (size < 1)
        return;
    ntopics = data[0] % 5;
    data++;
    size--;
    if (size < 32 * ntopics)
        return;
    for (size_t e = 0; e < 2; e++) {
        for (int anonymous = 0; anonymous < 2; anonymous++) {
            if (abi_parse_signature(events[e], strlen(events[e]), nodes, NODES, NULL, &ev,
                                    NULL) != MR_OK)
                abort();
            if (abi_decode_log(&ev, anonymous, data, ntopics, data + 32 * ntopics,
                               size - 32 * ntopics, values, VALUES, NULL, NULL) != MR_OK)
                continue;
            out = malloc(size + 1);
            if (out == NULL)
                abort();
            if (abi_encode_log(&ev, anonymous, values[0].items, values[0].count, topics, &n,
                               out, size + 1, &len, NULL) != MR_OK ||
                n != ntopics || memcmp(topics, data, 32 * n) != 0 ||
                len != size - 32 * ntopics || memcmp(out, data + 32 * ntopics, len) != 0)
                abort();
            free(out);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct abi_revert r;
    size_t mode;

    if (size < 1)
        return 0;
    mode = data[0] % (NTYPES + 5);
    data++;
    size--;
    if (mode < NTYPES)
        fuzz_decode(types[mode], data, size);
    else if (mode == NTYPES)
        fuzz_parse(data, size, 0);
    else if (mode == NTYPES + 1)
        fuzz_parse(data, size, 1);
    else if (mode == NTYPES + 2)
        fuzz_log(data, size);
    else if (mode == NTYPES + 4)
        fuzz_structured(data, size);
    else if (abi_decode_revert(data, size, &r, NULL) == MR_OK && r.kind == ABI_REVERT_ERROR &&
             (r.msg_len > size || (const uint8_t *)r.msg < data ||
              (const uint8_t *)r.msg + r.msg_len > data + size))
        abort();
    return 0;
}
