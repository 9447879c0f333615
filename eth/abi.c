/*
 * abi.c - Solidity ABI types, encoding and strict decoding (see abi.h).
 *
 * Layout: type parser, canonical formatting and hashing, value checks shared
 * by both directions, encoder, decoder, logs, revert data, call builder.
 */
#include "abi.h"

#include <stdio.h>
#include <string.h>

#include "keccak.h"

#define WORD 32

static const uint8_t zero_word[WORD];

/* ===================================================================== */
/* Type parser                                                           */
/* ===================================================================== */

struct parser {
    const char *s;
    size_t len;
    size_t pos;
    struct abi_type *nodes;
    size_t cap;
    size_t used;
    int human;              /* signature text: names, indexed, payable, locations */
    struct mr_error *err;
};

static int is_digit(int c)
{
    return c >= '0' && c <= '9';
}

static int is_ident_start(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '$';
}

static int is_ident_char(int c)
{
    return is_ident_start(c) || is_digit(c);
}

static int peek(const struct parser *p)
{
    return p->pos < p->len ? (unsigned char)p->s[p->pos] : -1;
}

static void skip_ws(struct parser *p)
{
    while (p->pos < p->len && (p->s[p->pos] == ' ' || p->s[p->pos] == '\t' ||
                               p->s[p->pos] == '\n' || p->s[p->pos] == '\r'))
        p->pos++;
}

/* Length of the identifier-like token at the current position (0 if none). */
static size_t token_len(const struct parser *p)
{
    size_t n = 0;

    while (p->pos + n < p->len && is_ident_char((unsigned char)p->s[p->pos + n]))
        n++;
    return n;
}

static int token_is(const char *w, size_t n, const char *lit)
{
    return strlen(lit) == n && memcmp(w, lit, n) == 0;
}

/* Printable width of a token in messages (tokens may be long). */
static int show(size_t n)
{
    return n > 40 ? 40 : (int)n;
}

static int parse_fail(struct parser *p, const char *what)
{
    return mr_fail(p->err, MR_ERR_ABI, "abi: %s at offset %zu of \"%.*s\"", what, p->pos,
                   show(p->len), p->s);
}

/* Decimal digits d[n] without leading zeros, at most max.  Returns 0 and *v,
 * or -1. */
static int parse_num(const char *d, size_t n, size_t max, size_t *v)
{
    size_t r = 0;

    if (n == 0 || (d[0] == '0' && n > 1))
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (!is_digit((unsigned char)d[i]))
            return -1;
        if (r > (max - (size_t)(d[i] - '0')) / 10)
            return -1;
        r = r * 10 + (size_t)(d[i] - '0');
    }
    *v = r;
    return 0;
}

static int alloc_node(struct parser *p, size_t *slot)
{
    if (p->used >= p->cap)
        return mr_fail(p->err, MR_ERR_TOOBIG, "abi: type \"%.*s\" needs more than %zu nodes",
                       show(p->len), p->s, p->cap);
    *slot = p->used++;
    memset(&p->nodes[*slot], 0, sizeof(p->nodes[*slot]));
    return MR_OK;
}

/* Fills the cached layout of a completed node from its children (ABI spec,
 * §Formal Specification: a T[k] or tuple is dynamic iff a component is). */
static int finish_node(struct parser *p, struct abi_type *t)
{
    unsigned h = 0;

    t->head = WORD;
    switch (t->kind) {
    case ABI_BYTES:
    case ABI_STRING:
        t->dynamic = 1;
        break;
    case ABI_ARRAY:
        t->dynamic = 1;
        h = t->child->height + 1u;
        break;
    case ABI_FIXED_ARRAY:
        if (t->child->head == 0 || t->count > ABI_MAX_HEAD / t->child->head)
            return parse_fail(p, "fixed array larger than ABI_MAX_HEAD");
        t->heads = t->count * t->child->head;
        t->dynamic = t->child->dynamic;
        t->head = t->dynamic ? WORD : t->heads;
        h = t->child->height + 1u;
        break;
    case ABI_TUPLE:
        t->heads = 0;
        for (const struct abi_type *c = t->child; c != NULL; c = c->next) {
            if (c->head > ABI_MAX_HEAD - t->heads)
                return parse_fail(p, "tuple larger than ABI_MAX_HEAD");
            t->heads += c->head;
            t->dynamic |= c->dynamic;
            if (c->height + 1u > h)
                h = c->height + 1u;
        }
        t->head = t->dynamic ? WORD : t->heads;
        break;
    default:
        break;
    }
    if (h > ABI_MAX_DEPTH)
        return parse_fail(p, "type nested deeper than ABI_MAX_DEPTH");
    t->height = (unsigned char)h;
    return MR_OK;
}

/* The bits of uint<N>/int<N> from the digits after the prefix ("" = 256). */
static int int_bits(const char *d, size_t n, unsigned *bits)
{
    size_t v = 256;

    if (n > 0 && (parse_num(d, n, 256, &v) != 0 || v == 0 || v % 8 != 0))
        return -1;
    *bits = (unsigned)v;
    return 0;
}

/* "address" may be followed by "payable" in human-readable signatures. */
static void skip_payable(struct parser *p)
{
    size_t save = p->pos;

    skip_ws(p);
    if (token_is(p->s + p->pos, token_len(p), "payable"))
        p->pos += 7;
    else
        p->pos = save;
}

static int parse_elementary(struct parser *p, struct abi_type *t)
{
    size_t n = token_len(p);
    const char *w = p->s + p->pos;
    size_t v;

    if (n == 0)
        return parse_fail(p, "expected a type");
    if (token_is(w, n, "address")) {
        t->kind = ABI_ADDRESS;
    } else if (token_is(w, n, "bool")) {
        t->kind = ABI_BOOL;
    } else if (token_is(w, n, "string")) {
        t->kind = ABI_STRING;
    } else if (token_is(w, n, "bytes")) {
        t->kind = ABI_BYTES;
    } else if (n >= 4 && memcmp(w, "uint", 4) == 0 && int_bits(w + 4, n - 4, &t->size) == 0) {
        t->kind = ABI_UINT;
    } else if (n >= 3 && memcmp(w, "int", 3) == 0 && int_bits(w + 3, n - 3, &t->size) == 0) {
        t->kind = ABI_INT;
    } else if (n > 5 && memcmp(w, "bytes", 5) == 0 && parse_num(w + 5, n - 5, 32, &v) == 0 &&
               v > 0) {
        t->kind = ABI_FIXED_BYTES;
        t->size = (unsigned)v;
    } else {
        return mr_fail(p->err, MR_ERR_ABI,
                       "abi: unknown or invalid type \"%.*s\" at offset %zu (uint/int need "
                       "N = 8..256 in steps of 8, bytes<N> N = 1..32; no fixed-point)",
                       show(n), w, p->pos);
    }
    p->pos += n;
    if (p->human && t->kind == ABI_ADDRESS)
        skip_payable(p);
    return finish_node(p, t);
}

/* "[]" or "[k]" after the type in slot: the node in slot becomes the array
 * and its old contents move to a new slot, so the root stays at slot. */
static int parse_suffix(struct parser *p, size_t slot)
{
    size_t start, k = 0, moved;
    int rc, fixed;

    p->pos++;
    skip_ws(p);
    start = p->pos;
    while (p->pos < p->len && is_digit((unsigned char)p->s[p->pos]))
        p->pos++;
    fixed = p->pos > start;
    if (fixed && (parse_num(p->s + start, p->pos - start, ABI_MAX_HEAD / WORD, &k) != 0 || k == 0))
        return parse_fail(p, "fixed array length not in 1..ABI_MAX_HEAD/32 or with leading zeros");
    skip_ws(p);
    if (peek(p) != ']')
        return parse_fail(p, "expected ']'");
    p->pos++;
    rc = alloc_node(p, &moved);
    if (rc != MR_OK)
        return rc;
    p->nodes[moved] = p->nodes[slot];
    memset(&p->nodes[slot], 0, sizeof(p->nodes[slot]));
    p->nodes[slot].kind = fixed ? ABI_FIXED_ARRAY : ABI_ARRAY;
    p->nodes[slot].count = k;
    p->nodes[slot].child = &p->nodes[moved];
    return finish_node(p, &p->nodes[slot]);
}

/* After a parameter type in a signature: [indexed] [memory|calldata|storage]
 * [name], in any order of the keywords but the name last. */
static int parse_modifiers(struct parser *p, struct abi_type *t, int top)
{
    for (;;) {
        size_t n;
        const char *w;

        skip_ws(p);
        n = token_len(p);
        w = p->s + p->pos;
        if (n == 0)
            return MR_OK;
        if (token_is(w, n, "indexed")) {
            if (!top || t->indexed)
                return parse_fail(p, "misplaced \"indexed\"");
            t->indexed = 1;
        } else if (!token_is(w, n, "memory") && !token_is(w, n, "calldata") &&
                   !token_is(w, n, "storage")) {
            if (!is_ident_start((unsigned char)w[0]))
                return parse_fail(p, "bad parameter name");
            p->pos += n;
            return MR_OK;
        }
        p->pos += n;
    }
}

static int parse_type(struct parser *p, size_t slot, unsigned nest);

/* "(T1,...,Tn)" into slot; top is the parameter list of a signature, which
 * alone may be empty and carry "indexed". */
static int parse_tuple(struct parser *p, size_t slot, unsigned nest, int top)
{
    struct abi_type *prev = NULL;
    size_t count = 0, c;
    int rc, ch;

    p->pos++;
    p->nodes[slot].kind = ABI_TUPLE;
    skip_ws(p);
    if (peek(p) == ')') {
        if (!top)
            return parse_fail(p, "empty tuple");
        p->pos++;
        return finish_node(p, &p->nodes[slot]);
    }
    for (;;) {
        rc = alloc_node(p, &c);
        if (rc == MR_OK)
            rc = parse_type(p, c, nest);
        if (rc == MR_OK && p->human)
            rc = parse_modifiers(p, &p->nodes[c], top);
        if (rc != MR_OK)
            return rc;
        if (prev != NULL)
            prev->next = &p->nodes[c];
        else
            p->nodes[slot].child = &p->nodes[c];
        prev = &p->nodes[c];
        count++;
        skip_ws(p);
        ch = peek(p);
        p->pos++;
        if (ch == ')')
            break;
        if (ch != ',') {
            p->pos--;
            return parse_fail(p, "expected ',' or ')'");
        }
    }
    p->nodes[slot].count = count;
    return finish_node(p, &p->nodes[slot]);
}

/* A type with its array suffixes into slot; nest counts enclosing tuples. */
static int parse_type(struct parser *p, size_t slot, unsigned nest)
{
    int rc;

    skip_ws(p);
    if (peek(p) == '(') {
        if (nest >= ABI_MAX_DEPTH)
            return parse_fail(p, "tuples nested deeper than ABI_MAX_DEPTH");
        rc = parse_tuple(p, slot, nest + 1, 0);
    } else {
        rc = parse_elementary(p, &p->nodes[slot]);
    }
    while (rc == MR_OK) {
        skip_ws(p);
        if (peek(p) != '[')
            break;
        rc = parse_suffix(p, slot);
    }
    return rc;
}

static void parser_init(struct parser *p, const char *s, size_t len, struct abi_type *nodes,
                        size_t cap, int human, struct mr_error *err)
{
    memset(p, 0, sizeof(*p));
    p->s = s;
    p->len = len;
    p->nodes = nodes;
    p->cap = cap;
    p->human = human;
    p->err = err;
}

int abi_parse_type(const char *s, size_t len, struct abi_type *nodes, size_t cap, size_t *used,
                   struct mr_error *err)
{
    struct parser p;
    size_t root;
    int rc;

    parser_init(&p, s, len, nodes, cap, 0, err);
    rc = alloc_node(&p, &root);
    if (rc == MR_OK)
        rc = parse_type(&p, root, 0);
    if (rc != MR_OK)
        return rc;
    skip_ws(&p);
    if (p.pos != len)
        return parse_fail(&p, "trailing text after the type");
    if (used != NULL)
        *used = p.used;
    return MR_OK;
}

/* ===================================================================== */
/* Canonical form and hashing                                            */
/* ===================================================================== */

/* Text output that may also feed a hash; counts past cap. */
struct sink {
    char *buf;
    size_t cap;
    size_t len;
    struct keccak256_ctx *k;
};

static void sink_put(struct sink *s, const char *str, size_t n)
{
    if (s->k != NULL)
        keccak256_update(s->k, str, n);
    for (size_t i = 0; i < n; i++, s->len++)
        if (s->buf != NULL && s->len + 1 < s->cap)
            s->buf[s->len] = str[i];
}

static void sink_end(struct sink *s)
{
    if (s->buf == NULL || s->cap == 0)
        return;
    s->buf[s->len < s->cap ? s->len : 0] = '\0';
}

/* Canonical type names, ABI spec §Types: "uint256", not "uint". */
static void format_type(struct sink *s, const struct abi_type *t)
{
    char num[32];
    int n = 0;

    switch (t->kind) {
    case ABI_UINT: n = snprintf(num, sizeof(num), "uint%u", t->size); break;
    case ABI_INT: n = snprintf(num, sizeof(num), "int%u", t->size); break;
    case ABI_ADDRESS: sink_put(s, "address", 7); break;
    case ABI_BOOL: sink_put(s, "bool", 4); break;
    case ABI_FIXED_BYTES: n = snprintf(num, sizeof(num), "bytes%u", t->size); break;
    case ABI_BYTES: sink_put(s, "bytes", 5); break;
    case ABI_STRING: sink_put(s, "string", 6); break;
    case ABI_ARRAY:
        format_type(s, t->child);
        sink_put(s, "[]", 2);
        break;
    case ABI_FIXED_ARRAY:
        format_type(s, t->child);
        n = snprintf(num, sizeof(num), "[%zu]", t->count);
        break;
    case ABI_TUPLE:
        sink_put(s, "(", 1);
        for (const struct abi_type *c = t->child; c != NULL; c = c->next) {
            format_type(s, c);
            if (c->next != NULL)
                sink_put(s, ",", 1);
        }
        sink_put(s, ")", 1);
        break;
    }
    if (n > 0)
        sink_put(s, num, (size_t)n);
}

size_t abi_type_format(const struct abi_type *t, char *out, size_t cap)
{
    struct sink s = {out, cap, 0, NULL};

    format_type(&s, t);
    sink_end(&s);
    return s.len;
}

int abi_parse_signature(const char *s, size_t len, struct abi_type *nodes, size_t cap,
                        size_t *used, struct abi_sig *sig, struct mr_error *err)
{
    struct parser p;
    struct keccak256_ctx k;
    struct sink out = {NULL, 0, 0, &k};
    size_t root, n;
    int rc;

    parser_init(&p, s, len, nodes, cap, 1, err);
    skip_ws(&p);
    n = token_len(&p);
    if (n == 0 || !is_ident_start(peek(&p)))
        return parse_fail(&p, "expected a function or event name");
    sig->name = s + p.pos;
    sig->name_len = n;
    p.pos += n;
    skip_ws(&p);
    if (peek(&p) != '(')
        return parse_fail(&p, "expected '('");
    rc = alloc_node(&p, &root);
    if (rc == MR_OK)
        rc = parse_tuple(&p, root, 1, 1);
    if (rc != MR_OK)
        return rc;
    skip_ws(&p);
    if (p.pos != len)
        return parse_fail(&p, "trailing text after the signature");
    sig->params = &nodes[root];
    /* ABI spec §Function Selector: keccak256 of name(type,...) with
     * canonical types, no names and no spaces. */
    keccak256_init(&k);
    sink_put(&out, sig->name, sig->name_len);
    format_type(&out, sig->params);
    keccak256_final(&k, sig->hash);
    if (used != NULL)
        *used = p.used;
    return MR_OK;
}

int abi_canonical_signature(const char *s, size_t len, char *out, size_t cap, size_t *outlen,
                            struct mr_error *err)
{
    struct abi_type nodes[ABI_SIG_MAX_NODES];
    struct abi_sig sig;
    struct sink o = {out, cap, 0, NULL};
    int rc;

    rc = abi_parse_signature(s, len, nodes, ABI_SIG_MAX_NODES, NULL, &sig, err);
    if (rc != MR_OK)
        return rc;
    sink_put(&o, sig.name, sig.name_len);
    format_type(&o, sig.params);
    sink_end(&o);
    if (outlen != NULL)
        *outlen = o.len;
    if (o.len >= cap)
        return mr_fail(err, MR_ERR_TOOBIG, "abi: canonical signature needs %zu bytes, have %zu",
                       o.len + 1, cap);
    return MR_OK;
}

static int sig_hash(const char *s, size_t len, uint8_t *out, size_t n, struct mr_error *err)
{
    struct abi_type nodes[ABI_SIG_MAX_NODES];
    struct abi_sig sig;
    int rc;

    rc = abi_parse_signature(s, len, nodes, ABI_SIG_MAX_NODES, NULL, &sig, err);
    if (rc == MR_OK)
        memcpy(out, sig.hash, n);
    return rc;
}

int abi_selector(const char *s, size_t len, uint8_t out[4], struct mr_error *err)
{
    return sig_hash(s, len, out, 4, err);
}

int abi_event_topic(const char *s, size_t len, uint8_t out[32], struct mr_error *err)
{
    return sig_hash(s, len, out, 32, err);
}

/* ===================================================================== */
/* Values and the word-level rules shared by encoder and decoder         */
/* ===================================================================== */

struct abi_value abi_v_uint(uint64_t v)
{
    struct abi_value r;

    memset(&r, 0, sizeof(r));
    r.num.w[0] = v;
    return r;
}

struct abi_value abi_v_u256(const struct u256 *v)
{
    struct abi_value r;

    memset(&r, 0, sizeof(r));
    r.num = *v;
    return r;
}

struct abi_value abi_v_int(int64_t v)
{
    struct abi_value r;
    uint64_t ext = v < 0 ? UINT64_MAX : 0;

    memset(&r, 0, sizeof(r));
    r.num.w[0] = (uint64_t)v;
    r.num.w[1] = r.num.w[2] = r.num.w[3] = ext;
    return r;
}

struct abi_value abi_v_bool(int b)
{
    return abi_v_uint(b ? 1 : 0);
}

struct abi_value abi_v_address(const uint8_t addr[20])
{
    return abi_v_bytes(addr, 20);
}

struct abi_value abi_v_bytes(const void *p, size_t len)
{
    struct abi_value r;

    memset(&r, 0, sizeof(r));
    r.ptr = p;
    r.len = len;
    return r;
}

struct abi_value abi_v_list(const struct abi_value *items, size_t count)
{
    struct abi_value r;

    memset(&r, 0, sizeof(r));
    r.items = items;
    r.count = count;
    return r;
}

int abi_value_i64(const struct abi_value *v, int64_t *out)
{
    uint64_t ext = (v->num.w[0] >> 63) ? UINT64_MAX : 0;

    if (v->num.w[1] != ext || v->num.w[2] != ext || v->num.w[3] != ext)
        return MR_ERR_RANGE;
    *out = (int64_t)v->num.w[0];
    return MR_OK;
}

/* The ABI's "value types": encoded in one word, and stored as themselves
 * (not hashed) when indexed in an event (ABI spec §Events). */
static int is_value_type(const struct abi_type *t)
{
    return t->kind == ABI_UINT || t->kind == ABI_INT || t->kind == ABI_ADDRESS ||
           t->kind == ABI_BOOL || t->kind == ABI_FIXED_BYTES;
}

static int all_bytes(const uint8_t *p, size_t n, uint8_t b)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != b)
            return 0;
    return 1;
}

/* What is wrong with word w as an encoding of value type t, or NULL.  ABI
 * spec §Formal Specification: uint<N> and address left-padded with zeros,
 * int<N> sign-extended, bool 0 or 1, bytes<N> right-padded with zeros. */
static const char *word_problem(const struct abi_type *t, const uint8_t w[WORD])
{
    size_t pad;

    switch (t->kind) {
    case ABI_UINT:
        return all_bytes(w, WORD - t->size / 8, 0) ? NULL : "has bits set above its width";
    case ABI_INT:
        pad = WORD - t->size / 8;
        if (pad == 0 || all_bytes(w, pad, (w[pad] & 0x80) ? 0xff : 0x00))
            return NULL;
        return "is not sign-extended from its width";
    case ABI_BOOL:
        return all_bytes(w, WORD - 1, 0) && w[WORD - 1] <= 1 ? NULL : "is neither 0 nor 1";
    case ABI_ADDRESS:
        return all_bytes(w, 12, 0) ? NULL : "has non-zero padding";
    case ABI_FIXED_BYTES:
        return all_bytes(w + t->size, WORD - t->size, 0) ? NULL : "has non-zero padding";
    default:
        return "is not a value type";
    }
}

/* Short name of a type for messages. */
static const char *type_name(const struct abi_type *t, char *buf, size_t cap)
{
    if (abi_type_format(t, buf, cap) >= cap)
        return is_value_type(t) ? "value" : "composite";
    return buf;
}

/* Checks value v against value type t and writes its word to w. */
static int value_word(const struct abi_type *t, const struct abi_value *v, uint8_t w[WORD],
                      struct mr_error *err)
{
    const char *problem;
    char name[24];

    memset(w, 0, WORD);
    switch (t->kind) {
    case ABI_UINT:
    case ABI_INT:
    case ABI_BOOL:
        u256_to_be32(&v->num, w);
        problem = word_problem(t, w);
        if (problem != NULL)
            return mr_fail(err, MR_ERR_RANGE, "abi: %s value %s",
                           type_name(t, name, sizeof(name)), problem);
        return MR_OK;
    case ABI_ADDRESS:
    case ABI_FIXED_BYTES:
        if (v->ptr == NULL || v->len != (t->kind == ABI_ADDRESS ? 20u : t->size))
            return mr_fail(err, MR_ERR_ABI, "abi: %s value has %zu bytes",
                           type_name(t, name, sizeof(name)), v->ptr == NULL ? 0 : v->len);
        memcpy(w + (t->kind == ABI_ADDRESS ? 12 : 0), v->ptr, v->len);
        return MR_OK;
    default:
        return mr_fail(err, MR_ERR_ABI, "abi: not a value type");
    }
}

/* Bytes taken by the heads of a sequence: n copies of an array element or
 * the components of a tuple (without the indexed ones when skip). */
static size_t seq_heads(const struct abi_type *t, size_t n, int skip)
{
    size_t heads = 0;

    if (t->kind != ABI_TUPLE)
        return n * t->child->head;  /* callers bound n first */
    if (!skip)
        return t->heads;
    for (const struct abi_type *c = t->child; c != NULL; c = c->next)
        if (!c->indexed)
            heads += c->head;
    return heads;
}

static size_t pad32(size_t n)
{
    return (WORD - n % WORD) % WORD;
}

/* ===================================================================== */
/* Encoder                                                               */
/* ===================================================================== */

static int enc_size(const struct abi_type *t, const struct abi_value *v, size_t *size,
                    struct mr_error *err);

static int add_size(size_t *total, size_t n, struct mr_error *err)
{
    if (n > SIZE_MAX - *total)
        return mr_fail(err, MR_ERR_TOOBIG, "abi: encoding larger than the address space");
    *total += n;
    return MR_OK;
}

/* Size of the encoding of a sequence (heads and tails), checking each item. */
static int seq_size(const struct abi_type *t, const struct abi_value *items, size_t n, int skip,
                    size_t *size, struct mr_error *err)
{
    const struct abi_type *c = t->child;
    size_t total = 0, sz;
    int rc;

    if (n > 0 && items == NULL)
        return mr_fail(err, MR_ERR_INVALID, "abi: %zu items but no item array", n);
    for (size_t i = 0; i < n; i++) {
        if (!(skip && c->indexed)) {
            rc = enc_size(c, &items[i], &sz, err);
            if (rc == MR_OK && c->dynamic)
                rc = add_size(&total, WORD, err);
            if (rc == MR_OK)
                rc = add_size(&total, sz, err);
            if (rc != MR_OK)
                return rc;
        }
        if (t->kind == ABI_TUPLE)
            c = c->next;
    }
    *size = total;
    return MR_OK;
}

static int count_check(const struct abi_type *t, const struct abi_value *v, struct mr_error *err)
{
    char name[64];

    if (v->count != t->count)
        return mr_fail(err, MR_ERR_ABI, "abi: %s value has %zu items, needs %zu",
                       type_name(t, name, sizeof(name)), v->count, t->count);
    return MR_OK;
}

/* Size of enc(v) (the tail for dynamic types), checking v against t. */
static int enc_size(const struct abi_type *t, const struct abi_value *v, size_t *size,
                    struct mr_error *err)
{
    uint8_t w[WORD];
    int rc;

    switch (t->kind) {
    case ABI_BYTES:
    case ABI_STRING:
        if (v->ptr == NULL && v->len > 0)
            return mr_fail(err, MR_ERR_INVALID, "abi: bytes value of %zu bytes without data",
                           v->len);
        if (v->len > SIZE_MAX - 2 * WORD)
            return mr_fail(err, MR_ERR_TOOBIG, "abi: bytes value too large");
        *size = WORD + v->len + pad32(v->len);
        return MR_OK;
    case ABI_ARRAY:
        rc = seq_size(t, v->items, v->count, 0, size, err);
        return rc == MR_OK ? add_size(size, WORD, err) : rc;
    case ABI_FIXED_ARRAY:
    case ABI_TUPLE:
        rc = count_check(t, v, err);
        return rc == MR_OK ? seq_size(t, v->items, v->count, 0, size, err) : rc;
    default:
        *size = WORD;
        return value_word(t, v, w, err);
    }
}

/* Writer over a buffer already known to be large enough (enc_size ran). */
struct enc {
    uint8_t *buf;
    size_t cap;
    size_t pos;
};

static void enc_put(struct enc *e, size_t at, const void *p, size_t n)
{
    if (n <= e->cap && at <= e->cap - n && n > 0)
        memcpy(e->buf + at, p, n);
}

static void enc_u64_at(struct enc *e, size_t at, uint64_t v)
{
    uint8_t w[WORD];

    memset(w, 0, WORD);
    for (int i = 0; i < 8; i++)
        w[WORD - 1 - i] = (uint8_t)(v >> (8 * i));
    enc_put(e, at, w, WORD);
}

static void enc_value(struct enc *e, const struct abi_type *t, const struct abi_value *v);

/* Heads at e->pos, then the tails in order; each offset is relative to the
 * start of the sequence (ABI spec §Formal Specification, head(X(i))). */
static void enc_seq(struct enc *e, const struct abi_type *t, const struct abi_value *items,
                    size_t n, int skip)
{
    const struct abi_type *c = t->child;
    size_t base = e->pos, hpos = base, tail = base + seq_heads(t, n, skip);

    for (size_t i = 0; i < n; i++) {
        if (!(skip && c->indexed)) {
            if (c->dynamic) {
                enc_u64_at(e, hpos, (uint64_t)(tail - base));
                hpos += WORD;
                e->pos = tail;
                enc_value(e, c, &items[i]);
                tail = e->pos;
            } else {
                e->pos = hpos;
                enc_value(e, c, &items[i]);
                hpos = e->pos;
            }
        }
        if (t->kind == ABI_TUPLE)
            c = c->next;
    }
    e->pos = tail;
}

static void enc_value(struct enc *e, const struct abi_type *t, const struct abi_value *v)
{
    uint8_t w[WORD];

    switch (t->kind) {
    case ABI_BYTES:
    case ABI_STRING:
        enc_u64_at(e, e->pos, (uint64_t)v->len);
        enc_put(e, e->pos + WORD, v->ptr, v->len);
        enc_put(e, e->pos + WORD + v->len, zero_word, pad32(v->len));
        e->pos += WORD + v->len + pad32(v->len);
        break;
    case ABI_ARRAY:
        enc_u64_at(e, e->pos, (uint64_t)v->count);
        e->pos += WORD;
        enc_seq(e, t, v->items, v->count, 0);
        break;
    case ABI_FIXED_ARRAY:
    case ABI_TUPLE:
        enc_seq(e, t, v->items, v->count, 0);
        break;
    default:
        (void)value_word(t, v, w, NULL);  /* checked by enc_size */
        enc_put(e, e->pos, w, WORD);
        e->pos += WORD;
        break;
    }
}

int abi_encode(const struct abi_type *t, const struct abi_value *v, uint8_t *out, size_t cap,
               size_t *len, struct mr_error *err)
{
    struct enc e = {out, cap, 0};
    size_t size;
    int rc;

    rc = enc_size(t, v, &size, err);
    if (rc != MR_OK)
        return rc;
    *len = size;
    if (size > cap || (out == NULL && size > 0))
        return mr_fail(err, MR_ERR_TOOBIG, "abi: encoding needs %zu bytes, have %zu", size,
                       out == NULL ? 0 : cap);
    enc_value(&e, t, v);
    return MR_OK;
}

int abi_encode_call(const struct abi_sig *fn, const struct abi_value *args, size_t nargs,
                    uint8_t *out, size_t cap, size_t *len, struct mr_error *err)
{
    struct abi_value tuple = abi_v_list(args, nargs);
    struct enc e = {out, cap, 4};
    size_t size;
    int rc;

    rc = enc_size(fn->params, &tuple, &size, err);
    if (rc == MR_OK)
        rc = add_size(&size, 4, err);
    if (rc != MR_OK)
        return rc;
    *len = size;
    if (size > cap || out == NULL)
        return mr_fail(err, MR_ERR_TOOBIG, "abi: call data needs %zu bytes, have %zu", size,
                       out == NULL ? 0 : cap);
    memcpy(out, fn->hash, 4);
    enc_value(&e, fn->params, &tuple);
    return MR_OK;
}

/* The topic of an indexed parameter: its word for value types, else the
 * 32-byte hash the caller supplies (ABI spec §Encoding of Indexed Event
 * Parameters). */
static int topic_of(const struct abi_type *t, const struct abi_value *v, uint8_t topic[32],
                    struct mr_error *err)
{
    if (is_value_type(t))
        return value_word(t, v, topic, err);
    if (v->ptr == NULL || v->len != 32)
        return mr_fail(err, MR_ERR_ABI, "abi: indexed non-value parameter needs its 32-byte hash");
    memcpy(topic, v->ptr, 32);
    return MR_OK;
}

int abi_encode_log(const struct abi_sig *ev, int anonymous, const struct abi_value *args,
                   size_t nargs, uint8_t topics[4][32], size_t *ntopics, uint8_t *data,
                   size_t cap, size_t *len, struct mr_error *err)
{
    const struct abi_type *c = ev->params->child;
    struct enc e = {data, cap, 0};
    size_t n = 0, size;
    int rc;

    if (nargs != ev->params->count)
        return mr_fail(err, MR_ERR_ABI, "abi: %zu arguments for an event of %zu parameters",
                       nargs, ev->params->count);
    if (!anonymous)
        memcpy(topics[n++], ev->hash, 32);
    for (size_t i = 0; i < nargs; i++, c = c->next) {
        if (!c->indexed)
            continue;
        if (n == 4)
            return mr_fail(err, MR_ERR_ABI, "abi: more than 4 topics");
        rc = topic_of(c, &args[i], topics[n++], err);
        if (rc != MR_OK)
            return rc;
    }
    *ntopics = n;
    rc = seq_size(ev->params, args, nargs, 1, &size, err);
    if (rc != MR_OK)
        return rc;
    *len = size;
    if (size > 0 && (data == NULL || size > cap))
        return mr_fail(err, MR_ERR_TOOBIG, "abi: log data needs %zu bytes, have %zu", size,
                       data == NULL ? 0 : cap);
    enc_seq(&e, ev->params, args, nargs, 1);
    return MR_OK;
}

/* ===================================================================== */
/* Decoder (strict mode)                                                 */
/* ===================================================================== */

struct dec {
    const uint8_t *data;
    size_t len;
    struct abi_value *nodes;
    size_t cap;
    size_t used;
    struct mr_error *err;
};

static int dec_alloc(struct dec *d, size_t n, struct abi_value **out)
{
    *out = NULL;
    if (n > d->cap - d->used)
        return mr_fail(d->err, MR_ERR_TOOBIG, "abi: decoding needs more than %zu value nodes",
                       d->cap);
    if (n > 0) {
        *out = d->nodes + d->used;
        memset(*out, 0, n * sizeof(**out));
        d->used += n;
    }
    return MR_OK;
}

/* Fails unless n bytes are left at pos (pos <= len always holds). */
static int dec_need(struct dec *d, size_t pos, size_t n, const char *what)
{
    if (n > d->len - pos)
        return mr_fail(d->err, MR_ERR_ABI, "abi: %s of %zu bytes at byte %zu runs past the end "
                       "(%zu bytes)", what, n, pos, d->len);
    return MR_OK;
}

/* The word at pos as a length or offset: must fit 64 bits and size_t. */
static int dec_size_word(struct dec *d, size_t pos, const char *what, size_t *out)
{
    const uint8_t *w;
    uint64_t v = 0;
    int rc;

    rc = dec_need(d, pos, WORD, what);
    if (rc != MR_OK)
        return rc;
    w = d->data + pos;
    if (!all_bytes(w, WORD - 8, 0))
        return mr_fail(d->err, MR_ERR_ABI, "abi: %s at byte %zu is larger than 2^64", what, pos);
    for (int i = WORD - 8; i < WORD; i++)
        v = v << 8 | w[i];
    if (v > SIZE_MAX)
        return mr_fail(d->err, MR_ERR_ABI, "abi: %s at byte %zu is too large", what, pos);
    *out = (size_t)v;
    return MR_OK;
}

/* A value type from word w; `where` and `at` locate it for messages. */
static int dec_word(struct dec *d, const struct abi_type *t, const uint8_t *w, const char *where,
                    size_t at, struct abi_value *v)
{
    const char *problem = word_problem(t, w);
    char name[24];

    if (problem != NULL)
        return mr_fail(d->err, MR_ERR_ABI, "abi: %s at %s %zu %s",
                       type_name(t, name, sizeof(name)), where, at, problem);
    switch (t->kind) {
    case ABI_ADDRESS:
        v->ptr = w + 12;
        v->len = 20;
        break;
    case ABI_FIXED_BYTES:
        v->ptr = w;
        v->len = t->size;
        break;
    default:
        (void)u256_from_be(&v->num, w, WORD);
        break;
    }
    return MR_OK;
}

/* bytes / string at pos: length word, contents, zero padding to a word. */
static int dec_bytes(struct dec *d, size_t pos, struct abi_value *v, size_t *size)
{
    size_t n, pad;
    int rc;

    rc = dec_size_word(d, pos, "bytes length", &n);
    if (rc == MR_OK)
        rc = dec_need(d, pos + WORD, n, "bytes contents");
    if (rc != MR_OK)
        return rc;
    pad = pad32(n);
    rc = dec_need(d, pos + WORD + n, pad, "bytes padding");
    if (rc != MR_OK)
        return rc;
    if (!all_bytes(d->data + pos + WORD + n, pad, 0))
        return mr_fail(d->err, MR_ERR_ABI, "abi: bytes at byte %zu have non-zero padding", pos);
    v->ptr = d->data + pos + WORD;
    v->len = n;
    *size = WORD + n + pad;
    return MR_OK;
}

/* The offset word at hpos must point exactly at the next tail (strict
 * mode); the finer messages say what a lax encoder did. */
static int dec_offset(struct dec *d, size_t hpos, size_t base, size_t tail)
{
    size_t off;
    int rc;

    rc = dec_size_word(d, hpos, "offset", &off);
    if (rc != MR_OK)
        return rc;
    if (off > d->len - base)
        return mr_fail(d->err, MR_ERR_ABI, "abi: offset 0x%zx at byte %zu points past the end",
                       off, hpos);
    if (off % WORD != 0)
        return mr_fail(d->err, MR_ERR_ABI, "abi: offset 0x%zx at byte %zu is not word-aligned",
                       off, hpos);
    if (off != tail - base)
        return mr_fail(d->err, MR_ERR_ABI, "abi: offset 0x%zx at byte %zu, strict encoding "
                       "wants 0x%zx (tails in order, no gaps or overlaps)", off, hpos,
                       tail - base);
    return MR_OK;
}

static int dec_value(struct dec *d, const struct abi_type *t, size_t pos, struct abi_value *v,
                     size_t *size);

/* The sequence of n components of t whose heads start at base. */
static int dec_seq(struct dec *d, const struct abi_type *t, size_t n, size_t base,
                   struct abi_value *items, int skip, size_t *size)
{
    const struct abi_type *c = t->child;
    size_t heads = seq_heads(t, n, skip), hpos = base, tail, sz;
    int rc;

    rc = dec_need(d, base, heads, "head");
    if (rc != MR_OK)
        return rc;
    tail = base + heads;
    for (size_t i = 0; i < n; i++) {
        if (!(skip && c->indexed)) {
            if (c->dynamic) {
                rc = dec_offset(d, hpos, base, tail);
                if (rc == MR_OK)
                    rc = dec_value(d, c, tail, &items[i], &sz);
                if (rc != MR_OK)
                    return rc;
                tail += sz;
                hpos += WORD;
            } else {
                rc = dec_value(d, c, hpos, &items[i], &sz);
                if (rc != MR_OK)
                    return rc;
                hpos += c->head;
            }
        }
        if (t->kind == ABI_TUPLE)
            c = c->next;
    }
    *size = tail - base;
    return MR_OK;
}

/* T[] at pos: the length is bounded by the data left before any node is
 * taken, so a hostile length costs nothing. */
static int dec_array(struct dec *d, const struct abi_type *t, size_t pos, struct abi_value *v,
                     size_t *size)
{
    struct abi_value *items;
    size_t n, left, sz;
    int rc;

    rc = dec_size_word(d, pos, "array length", &n);
    if (rc != MR_OK)
        return rc;
    left = d->len - pos - WORD;
    if (n > left / t->child->head)
        return mr_fail(d->err, MR_ERR_ABI, "abi: array length %zu at byte %zu exceeds the %zu "
                       "bytes left", n, pos, left);
    rc = dec_alloc(d, n, &items);
    if (rc == MR_OK)
        rc = dec_seq(d, t, n, pos + WORD, items, 0, &sz);
    if (rc != MR_OK)
        return rc;
    v->items = items;
    v->count = n;
    *size = WORD + sz;
    return MR_OK;
}

/* The value of type t whose encoding starts at pos (the head for static
 * types, the tail for dynamic ones).  Out: *v, *size bytes used from pos. */
static int dec_value(struct dec *d, const struct abi_type *t, size_t pos, struct abi_value *v,
                     size_t *size)
{
    struct abi_value *items;
    int rc;

    switch (t->kind) {
    case ABI_BYTES:
    case ABI_STRING:
        return dec_bytes(d, pos, v, size);
    case ABI_ARRAY:
        return dec_array(d, t, pos, v, size);
    case ABI_FIXED_ARRAY:
    case ABI_TUPLE:
        rc = dec_need(d, pos, t->heads, "head");
        if (rc == MR_OK)
            rc = dec_alloc(d, t->count, &items);
        if (rc == MR_OK)
            rc = dec_seq(d, t, t->count, pos, items, 0, size);
        if (rc != MR_OK)
            return rc;
        v->items = items;
        v->count = t->count;
        return MR_OK;
    default:
        rc = dec_need(d, pos, WORD, "word");
        if (rc != MR_OK)
            return rc;
        *size = WORD;
        return dec_word(d, t, d->data + pos, "byte", pos, v);
    }
}

static int dec_init(struct dec *d, const uint8_t *data, size_t len, struct abi_value *nodes,
                    size_t cap, struct mr_error *err)
{
    d->data = data;
    d->len = len;
    d->nodes = nodes;
    d->cap = cap;
    d->used = 0;
    d->err = err;
    if (data == NULL && len > 0)
        return mr_fail(err, MR_ERR_INVALID, "abi: %zu bytes of data at NULL", len);
    return MR_OK;
}

static int dec_end(struct dec *d, size_t size, size_t *used)
{
    if (size != d->len)
        return mr_fail(d->err, MR_ERR_ABI, "abi: %zu trailing bytes after the encoding",
                       d->len - size);
    if (used != NULL)
        *used = d->used;
    return MR_OK;
}

int abi_decode(const struct abi_type *t, const uint8_t *data, size_t len,
               struct abi_value *nodes, size_t cap, size_t *used, struct mr_error *err)
{
    struct dec d;
    struct abi_value *root;
    size_t size;
    int rc;

    rc = dec_init(&d, data, len, nodes, cap, err);
    if (rc == MR_OK)
        rc = dec_alloc(&d, 1, &root);
    if (rc == MR_OK)
        rc = dec_value(&d, t, 0, root, &size);
    return rc == MR_OK ? dec_end(&d, size, used) : rc;
}

int abi_decode_call(const struct abi_sig *fn, const uint8_t *data, size_t len,
                    struct abi_value *nodes, size_t cap, size_t *used, struct mr_error *err)
{
    if (data == NULL || len < 4)
        return mr_fail(err, MR_ERR_ABI, "abi: call data of %zu bytes has no selector", len);
    if (memcmp(data, fn->hash, 4) != 0)
        return mr_fail(err, MR_ERR_ABI, "abi: selector 0x%02x%02x%02x%02x is not %.*s's",
                       data[0], data[1], data[2], data[3], show(fn->name_len), fn->name);
    return abi_decode(fn->params, data + 4, len - 4, nodes, cap, used, err);
}

/* Indexed parameters from the topics (after topic0 unless anonymous). */
static int dec_topics(struct dec *d, const struct abi_type *params, const uint8_t *topics,
                      size_t first, struct abi_value *items)
{
    const struct abi_type *c = params->child;
    size_t k = first;
    int rc;

    for (size_t i = 0; c != NULL; i++, c = c->next) {
        if (!c->indexed)
            continue;
        if (is_value_type(c)) {
            rc = dec_word(d, c, topics + WORD * k, "topic", k, &items[i]);
            if (rc != MR_OK)
                return rc;
        } else {
            items[i].ptr = topics + WORD * k;
            items[i].len = WORD;
        }
        k++;
    }
    return MR_OK;
}

int abi_decode_log(const struct abi_sig *ev, int anonymous, const uint8_t *topics,
                   size_t ntopics, const uint8_t *data, size_t len, struct abi_value *nodes,
                   size_t cap, size_t *used, struct mr_error *err)
{
    const struct abi_type *params = ev->params;
    struct abi_value *root, *items;
    struct dec d;
    size_t want = anonymous ? 0 : 1, size;
    int rc;

    for (const struct abi_type *c = params->child; c != NULL; c = c->next)
        want += c->indexed;
    if (ntopics != want || ntopics > 4 || (ntopics > 0 && topics == NULL))
        return mr_fail(err, MR_ERR_ABI, "abi: log has %zu topics, %.*s needs %zu", ntopics,
                       show(ev->name_len), ev->name, want);
    if (!anonymous && memcmp(topics, ev->hash, 32) != 0)
        return mr_fail(err, MR_ERR_ABI, "abi: topic0 is not the topic of %.*s",
                       show(ev->name_len), ev->name);
    rc = dec_init(&d, data, len, nodes, cap, err);
    if (rc == MR_OK)
        rc = dec_alloc(&d, 1, &root);
    if (rc == MR_OK)
        rc = dec_alloc(&d, params->count, &items);
    if (rc != MR_OK)
        return rc;
    root->items = items;
    root->count = params->count;
    rc = dec_topics(&d, params, topics, anonymous ? 0 : 1, items);
    if (rc == MR_OK)
        rc = dec_seq(&d, params, params->count, 0, items, 1, &size);
    return rc == MR_OK ? dec_end(&d, size, used) : rc;
}

/* ===================================================================== */
/* Revert data                                                           */
/* ===================================================================== */

/* Solidity docs, "Panic via assert and Error via require". */
static const uint8_t sel_error[4] = {0x08, 0xc3, 0x79, 0xa0};  /* Error(string) */
static const uint8_t sel_panic[4] = {0x4e, 0x48, 0x7b, 0x71};  /* Panic(uint256) */

int abi_decode_revert(const uint8_t *data, size_t len, struct abi_revert *out,
                      struct mr_error *err)
{
    struct abi_type types[2];
    struct abi_value vals[2];
    const char *type;
    int rc;

    memset(out, 0, sizeof(*out));
    if (data == NULL || len == 0) {
        out->kind = ABI_REVERT_EMPTY;
        return MR_OK;
    }
    if (len < 4)
        return mr_fail(err, MR_ERR_ABI, "abi: revert data of %zu bytes", len);
    memcpy(out->selector, data, 4);
    if (memcmp(data, sel_error, 4) == 0)
        type = "(string)";
    else if (memcmp(data, sel_panic, 4) == 0)
        type = "(uint256)";
    else {
        out->kind = ABI_REVERT_CUSTOM;
        return MR_OK;
    }
    rc = abi_parse_type(type, strlen(type), types, 2, NULL, err);
    if (rc == MR_OK)
        rc = abi_decode(types, data + 4, len - 4, vals, 2, NULL, err);
    if (rc != MR_OK)
        return mr_error_prefix(err, rc, "revert data: ");
    if (types[1].kind == ABI_STRING) {
        out->kind = ABI_REVERT_ERROR;
        out->msg = (const char *)vals[1].ptr;
        out->msg_len = vals[1].len;
    } else {
        out->kind = ABI_REVERT_PANIC;
        out->code = vals[1].num;
    }
    return MR_OK;
}

/* ===================================================================== */
/* Call data builder                                                     */
/* ===================================================================== */

static void b_put(struct abi_builder *b, size_t at, const void *p, size_t n)
{
    if (b->buf != NULL && n > 0 && n <= b->cap && at <= b->cap - n)
        memcpy(b->buf + at, p, n);
}

void abi_builder_init(struct abi_builder *b, uint8_t *buf, size_t cap, const uint8_t *selector,
                      size_t nargs)
{
    memset(b, 0, sizeof(*b));
    b->buf = buf;
    b->cap = buf == NULL ? 0 : cap;
    b->base = selector != NULL ? 4 : 0;
    if (selector != NULL)
        b_put(b, 0, selector, 4);
    b->head = b->base;
    if (nargs > (SIZE_MAX - b->base) / WORD / 2) {
        b->bad = 1;
        nargs = 0;
    }
    b->head_end = b->base + nargs * WORD;
    b->len = b->head_end;
}

/* The next head slot, or SIZE_MAX once all declared slots are used. */
static size_t b_slot(struct abi_builder *b)
{
    size_t at = b->head;

    if (b->bad || at >= b->head_end) {
        b->bad = 1;
        return SIZE_MAX;
    }
    b->head += WORD;
    return at;
}

void abi_put_word(struct abi_builder *b, const uint8_t word[32])
{
    size_t at = b_slot(b);

    if (at != SIZE_MAX)
        b_put(b, at, word, WORD);
}

void abi_put_u256(struct abi_builder *b, const struct u256 *v)
{
    uint8_t w[WORD];

    u256_to_be32(v, w);
    abi_put_word(b, w);
}

void abi_put_u64(struct abi_builder *b, uint64_t v)
{
    struct u256 u;

    u256_from_u64(&u, v);
    abi_put_u256(b, &u);
}

void abi_put_bool(struct abi_builder *b, int v)
{
    abi_put_u64(b, v ? 1 : 0);
}

void abi_put_address(struct abi_builder *b, const uint8_t addr[20])
{
    uint8_t w[WORD];

    memset(w, 0, 12);
    memcpy(w + 12, addr, 20);
    abi_put_word(b, w);
}

void abi_put_bytes(struct abi_builder *b, const uint8_t *data, size_t len)
{
    struct u256 u;
    uint8_t w[WORD];
    size_t at = b_slot(b);

    if (at == SIZE_MAX)
        return;
    if (b->len > SIZE_MAX - 2 * WORD || len > SIZE_MAX - 2 * WORD - b->len) {
        b->len = SIZE_MAX;  /* finish() reports it as too big */
        return;
    }
    u256_from_u64(&u, (uint64_t)(b->len - b->base));
    u256_to_be32(&u, w);
    b_put(b, at, w, WORD);
    u256_from_u64(&u, (uint64_t)len);
    u256_to_be32(&u, w);
    b_put(b, b->len, w, WORD);
    b_put(b, b->len + WORD, data, len);
    b_put(b, b->len + WORD + len, zero_word, pad32(len));
    b->len += WORD + len + pad32(len);
}

int abi_builder_finish(const struct abi_builder *b, size_t *len, struct mr_error *err)
{
    if (b->bad || b->head != b->head_end)
        return mr_fail(err, MR_ERR_INVALID, "abi builder: %s arguments than declared",
                       b->bad ? "more" : "fewer");
    *len = b->len;
    if (b->len > b->cap)
        return mr_fail(err, MR_ERR_TOOBIG, "abi builder: call data needs %zu bytes, have %zu",
                       b->len, b->cap);
    return MR_OK;
}
