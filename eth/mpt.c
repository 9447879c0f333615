/*
 * mpt.c - Merkle Patricia proof verification and the trie builder (see mpt.h).
 *
 * Node shapes (Yellow Paper, Appendix D):
 *   branch    [c0, ..., c15, value]   17 items
 *   extension [hp(path, 0), child]    2 items, child is a branch
 *   leaf      [hp(path, 1), value]    2 items
 * A child reference is the empty string (no child), a 32-byte string (the
 * keccak256 of the child's RLP), or the child itself inline when its RLP is
 * shorter than 32 bytes.  hp() is the hex-prefix encoding: a first nibble
 * with the leaf flag (2) and the odd-length flag (1), then a pad nibble 0
 * for even lengths, then the path nibbles.
 */
#include "mpt.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "keccak.h"
#include "rlp.h"

const uint8_t mpt_empty_root[32] = {
    0x56, 0xe8, 0x1f, 0x17, 0x1b, 0xcc, 0x55, 0xa6, 0xff, 0x83, 0x45, 0xe6, 0x92, 0xc0, 0xf8, 0x6e,
    0x5b, 0x48, 0xe0, 0x1b, 0x99, 0x6c, 0xad, 0xc0, 0x01, 0x62, 0x2f, 0xb5, 0xe3, 0x63, 0xb4, 0x21};

const uint8_t mpt_empty_code_hash[32] = {
    0xc5, 0xd2, 0x46, 0x01, 0x86, 0xf7, 0x23, 0x3c, 0x92, 0x7e, 0x7d, 0xb2, 0xdc, 0xc7, 0x03, 0xc0,
    0xe5, 0x00, 0xb6, 0x53, 0xca, 0x82, 0x27, 0x3b, 0x7b, 0xfa, 0xd8, 0x04, 0x5d, 0x85, 0xa4, 0x70};

#define BRANCH_ITEMS 17

/* Nibble i of b (high nibble first). */
static unsigned nibble(const uint8_t *b, size_t i)
{
    return (unsigned)(b[i / 2] >> ((i & 1) ? 0 : 4)) & 0x0f;
}

/* ---- hex-prefix partial paths ---- */

struct hp_path {
    const uint8_t *bytes; /* the encoded bytes, flag nibble first */
    size_t skip;          /* nibbles of bytes[] before the path: 1 (odd) or 2 */
    size_t len;           /* path length in nibbles */
    int leaf;
};

/* Decodes item (a string) as a hex-prefix path, strictly: flag nibble 0..3
 * and a zero pad nibble for even lengths. */
static int hp_decode(const struct rlp_item *item, struct hp_path *hp)
{
    unsigned flag;

    if (item->is_list || item->payload_len == 0)
        return -1;
    flag = item->payload[0] >> 4;
    if (flag > 3)
        return -1;
    if ((flag & 1) == 0 && (item->payload[0] & 0x0f) != 0)
        return -1;
    hp->bytes = item->payload;
    hp->skip = (flag & 1) ? 1 : 2;
    hp->len = 2 * item->payload_len - hp->skip;
    hp->leaf = (flag & 2) != 0;
    return 0;
}

/* Length of the common prefix of hp's path and key's nibbles from `pos`. */
static size_t hp_match(const struct hp_path *hp, const uint8_t *key, size_t nkey, size_t pos)
{
    size_t i = 0;

    while (i < hp->len && pos + i < nkey && nibble(hp->bytes, hp->skip + i) == nibble(key, pos + i))
        i++;
    return i;
}

/* ---- verification ---- */

/* Where the walk stands: which listed node, and how many inline nodes deep. */
struct walk {
    const uint8_t *key;
    size_t nkey;       /* key length in nibbles */
    size_t pos;        /* nibbles consumed */
    size_t idx;        /* index of the listed node being walked */
    size_t inl;        /* 0, or how many inline hops below nodes[idx] */
    const struct mpt_node *nodes;
    size_t n;
    struct mr_error *err;
};

/* Formats "node 3" or "node 3 (inline child 1)" for messages. */
static const char *where(const struct walk *w, char *buf, size_t cap)
{
    if (w->inl == 0)
        snprintf(buf, cap, "node %zu", w->idx);
    else
        snprintf(buf, cap, "node %zu (inline child %zu)", w->idx, w->inl);
    return buf;
}

#define FAIL(w, ...) walk_fail((w), __VA_ARGS__)

static int walk_fail(const struct walk *w, const char *fmt, ...) MR_PRINTF(2, 3);

/* Records "node 3: <reason>" as an MR_ERR_PROOF and returns it. */
static int walk_fail(const struct walk *w, const char *fmt, ...)
{
    char loc[48], msg[200];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return mr_fail(w->err, MR_ERR_PROOF, "%s: %s", where(w, loc, sizeof(loc)), msg);
}

/* Checks that nodes[idx] hashes to `want` and decodes it strictly. */
static int load_node(struct walk *w, const uint8_t want[32], struct rlp_item *node)
{
    const struct mpt_node *nd = &w->nodes[w->idx];
    struct mr_error rerr;
    uint8_t h[32];

    w->inl = 0;
    if (nd->data == NULL || nd->len == 0)
        return FAIL(w, "empty node");
    keccak256(nd->data, nd->len, h);
    if (memcmp(h, want, 32) != 0)
        return FAIL(w, "hash mismatch (the node does not hash to the %s)",
                    w->idx == 0 ? "root" : "reference in its parent");
    if (rlp_decode(nd->data, nd->len, RLP_MAX_DEPTH, node, &rerr) != MR_OK)
        return FAIL(w, "bad RLP: %s", rerr.msg);
    return MR_OK;
}

/* Outcome of one step of the walk. */
enum step { STEP_DONE, STEP_HASH, STEP_INLINE };

/* Classifies a child reference: empty, a 32-byte hash, or an inline node. */
static int check_ref(struct walk *w, const struct rlp_item *ref, const char *what)
{
    if (ref->is_list) {
        if (ref->raw_len >= 32)
            return FAIL(w, "%s is an inline node of %zu bytes (>= 32 must be hashed)", what,
                        ref->raw_len);
        return MR_OK;
    }
    if (ref->payload_len != 0 && ref->payload_len != 32)
        return FAIL(w, "%s is a %zu-byte string, not a 32-byte hash", what, ref->payload_len);
    return MR_OK;
}

static int branch_step(struct walk *w, const struct rlp_item *items, enum step *st,
                       const struct rlp_item **next, const uint8_t **value, size_t *value_len)
{
    const struct rlp_item *child;
    char what[24];
    int rc;

    for (unsigned s = 0; s < 16; s++) {
        snprintf(what, sizeof(what), "branch slot %u", s);
        if ((rc = check_ref(w, &items[s], what)) != MR_OK)
            return rc;
    }
    if (items[16].is_list)
        return FAIL(w, "branch value slot holds a list");
    if (w->pos == w->nkey) {
        /* The key ends here: the value slot answers. */
        *st = STEP_DONE;
        *value = items[16].payload_len ? items[16].payload : NULL;
        *value_len = items[16].payload_len;
        return MR_OK;
    }
    child = &items[nibble(w->key, w->pos)];
    w->pos++;
    if (!child->is_list && child->payload_len == 0) {
        *st = STEP_DONE; /* empty slot: the key is absent */
        *value = NULL;
        return MR_OK;
    }
    *st = child->is_list ? STEP_INLINE : STEP_HASH;
    *next = child;
    return MR_OK;
}

static int short_step(struct walk *w, const struct rlp_item *items, enum step *st,
                      const struct rlp_item **next, const uint8_t **value, size_t *value_len)
{
    struct hp_path hp;
    size_t m;
    int rc;

    if (hp_decode(&items[0], &hp) != 0)
        return FAIL(w, "bad hex-prefix path");
    m = hp_match(&hp, w->key, w->nkey, w->pos);
    if (hp.leaf) {
        if (items[1].is_list)
            return FAIL(w, "leaf value is a list");
        if (items[1].payload_len == 0)
            return FAIL(w, "leaf with an empty value");
        *st = STEP_DONE;
        *value = NULL;
        if (m == hp.len && w->pos + m == w->nkey) {
            *value = items[1].payload;
            *value_len = items[1].payload_len;
        }
        return MR_OK;
    }
    if (hp.len == 0)
        return FAIL(w, "extension with an empty path");
    if ((rc = check_ref(w, &items[1], "extension child")) != MR_OK)
        return rc;
    if (!items[1].is_list && items[1].payload_len == 0)
        return FAIL(w, "extension without a child");
    if (m < hp.len) {
        *st = STEP_DONE; /* the key leaves the extension's path: absent */
        *value = NULL;
        return MR_OK;
    }
    w->pos += m;
    *st = items[1].is_list ? STEP_INLINE : STEP_HASH;
    *next = &items[1];
    return MR_OK;
}

/* One node: splits it and dispatches on its shape.  `after_ext` is set when
 * the parent was an extension, whose child must be a branch. */
static int node_step(struct walk *w, const struct rlp_item *node, int after_ext, enum step *st,
                     struct rlp_item *next, const uint8_t **value, size_t *value_len, int *was_ext)
{
    struct rlp_item items[BRANCH_ITEMS];
    const struct rlp_item *nx = NULL;
    struct mr_error rerr;
    size_t count;
    int rc;

    if (!node->is_list || rlp_list(node, items, BRANCH_ITEMS, &count, &rerr) != MR_OK ||
        (count != BRANCH_ITEMS && count != 2))
        return FAIL(w, "not a trie node (need a list of 17 or 2 items)");
    if (after_ext && count != BRANCH_ITEMS)
        return FAIL(w, "an extension must point to a branch");
    *was_ext = 0;
    *st = STEP_DONE;
    if (count == BRANCH_ITEMS) {
        rc = branch_step(w, items, st, &nx, value, value_len);
    } else {
        rc = short_step(w, items, st, &nx, value, value_len);
        *was_ext = rc == MR_OK && *st != STEP_DONE;
    }
    if (rc == MR_OK && nx != NULL)
        *next = *nx;
    return rc;
}

static int verify_empty(const struct mpt_node *nodes, size_t n, struct mr_error *err)
{
    if (n == 0)
        return MR_OK;
    if (n == 1 && nodes[0].len == 1 && nodes[0].data[0] == 0x80)
        return MR_OK;
    return mr_fail(err, MR_ERR_PROOF, "node 0: the root is the empty-trie root, so the proof "
                   "must be [] or [0x80], not %zu node(s)", n);
}

static int walk_done(struct walk *w, int found)
{
    if (w->idx + 1 != w->n)
        return FAIL(w, "the proof ends here (key %s) but %zu extra node(s) follow",
                    found ? "found" : "absent", w->n - w->idx - 1);
    return MR_OK;
}

int mpt_verify(const uint8_t root[32], const uint8_t *key, size_t key_len,
               const struct mpt_node *nodes, size_t n, const uint8_t **value, size_t *value_len,
               int *found, struct mr_error *err)
{
    struct walk w = {key, 2 * key_len, 0, 0, 0, nodes, n, err};
    struct rlp_item node, next;
    uint8_t want[32];
    int after_ext = 0, rc;

    *found = 0;
    *value = NULL;
    *value_len = 0;
    if (n > MPT_MAX_PROOF_NODES)
        return mr_fail(err, MR_ERR_TOOBIG, "proof of %zu nodes exceeds %d", n, MPT_MAX_PROOF_NODES);
    if (memcmp(root, mpt_empty_root, 32) == 0)
        return verify_empty(nodes, n, err);
    if (n == 0)
        return mr_fail(err, MR_ERR_PROOF, "no nodes, but the root is not the empty-trie root");
    if ((rc = load_node(&w, root, &node)) != MR_OK)
        return rc;
    /* Each step consumes a nibble or ends, so this loop is bounded. */
    for (;;) {
        enum step st = STEP_DONE;
        const uint8_t *v = NULL;
        size_t vlen = 0;

        rc = node_step(&w, &node, after_ext, &st, &next, &v, &vlen, &after_ext);
        if (rc != MR_OK)
            return rc;
        if (st == STEP_DONE) {
            if ((rc = walk_done(&w, v != NULL)) != MR_OK)
                return rc;
            *found = v != NULL;
            *value = v;
            *value_len = v != NULL ? vlen : 0;
            return MR_OK;
        }
        if (st == STEP_INLINE) {
            node = next;
            w.inl++;
            continue;
        }
        memcpy(want, next.payload, 32);
        if (w.idx + 1 == n)
            return FAIL(&w, "the proof ends, but the key's path continues to a hashed child");
        w.idx++;
        if ((rc = load_node(&w, want, &node)) != MR_OK)
            return rc;
    }
}

/* ---- accounts and storage ---- */

void mpt_account_empty(struct mpt_account *acct)
{
    acct->nonce = 0;
    u256_zero(&acct->balance);
    memcpy(acct->storage_root, mpt_empty_root, 32);
    memcpy(acct->code_hash, mpt_empty_code_hash, 32);
}

int mpt_account_decode(const uint8_t *rlp, size_t len, struct mpt_account *acct,
                       struct mr_error *err)
{
    struct rlp_item top, f[4];
    size_t count;
    int rc;

    if ((rc = rlp_decode(rlp, len, 2, &top, err)) != MR_OK)
        return rc;
    if (!top.is_list)
        return mr_fail(err, MR_ERR_RLP, "account is not a list");
    if ((rc = rlp_list(&top, f, 4, &count, err)) != MR_OK)
        return rc;
    if (count != 4)
        return mr_fail(err, MR_ERR_RLP, "account has %zu fields, not 4", count);
    if ((rc = rlp_get_u64(&f[0], &acct->nonce, err)) != MR_OK)
        return mr_error_prefix(err, rc, "account nonce: ");
    if ((rc = rlp_get_u256(&f[1], &acct->balance, err)) != MR_OK)
        return mr_error_prefix(err, rc, "account balance: ");
    if ((rc = rlp_get_fixed(&f[2], acct->storage_root, 32, err)) != MR_OK)
        return mr_error_prefix(err, rc, "account storage root: ");
    if ((rc = rlp_get_fixed(&f[3], acct->code_hash, 32, err)) != MR_OK)
        return mr_error_prefix(err, rc, "account code hash: ");
    return MR_OK;
}

int mpt_account_encode(const struct mpt_account *acct, uint8_t *out, size_t cap, size_t *len)
{
    struct rlp_enc e;
    size_t mark;

    rlp_enc_init(&e, out, cap);
    mark = rlp_enc_list_begin(&e);
    rlp_enc_u64(&e, acct->nonce);
    rlp_enc_u256(&e, &acct->balance);
    rlp_enc_bytes(&e, acct->storage_root, 32);
    rlp_enc_bytes(&e, acct->code_hash, 32);
    rlp_enc_list_end(&e, mark);
    return rlp_enc_finish(&e, len);
}

static int check_node_sizes(const struct mpt_node *nodes, size_t n, struct mr_error *err)
{
    if (n > MPT_MAX_PROOF_NODES)
        return mr_fail(err, MR_ERR_TOOBIG, "proof of %zu nodes exceeds %d", n, MPT_MAX_PROOF_NODES);
    for (size_t i = 0; i < n; i++) {
        if (nodes[i].len > MPT_MAX_NODE_LEN)
            return mr_fail(err, MR_ERR_TOOBIG, "node %zu: %zu bytes exceeds %d", i, nodes[i].len,
                           MPT_MAX_NODE_LEN);
    }
    return MR_OK;
}

int mpt_verify_account(const uint8_t state_root[32], const uint8_t address[20],
                       const struct mpt_node *nodes, size_t n, struct mpt_account *acct,
                       int *exists, struct mr_error *err)
{
    struct mr_error inner;
    uint8_t path[32];
    const uint8_t *v;
    size_t vlen;
    int rc;

    *exists = 0;
    mpt_account_empty(acct);
    if ((rc = check_node_sizes(nodes, n, err)) != MR_OK)
        return rc;
    keccak256(address, 20, path);
    if ((rc = mpt_verify(state_root, path, 32, nodes, n, &v, &vlen, exists, err)) != MR_OK)
        return rc;
    if (!*exists)
        return MR_OK;
    if (mpt_account_decode(v, vlen, acct, &inner) != MR_OK) {
        *exists = 0;
        mpt_account_empty(acct);
        return mr_fail(err, MR_ERR_PROOF, "node %zu: account leaf: %s", n - 1, inner.msg);
    }
    return MR_OK;
}

int mpt_verify_storage(const uint8_t storage_root[32], const uint8_t slot[32],
                       const struct mpt_node *nodes, size_t n, struct u256 *value, int *exists,
                       struct mr_error *err)
{
    struct mr_error inner;
    struct rlp_item item;
    uint8_t path[32];
    const uint8_t *v;
    size_t vlen;
    int found, rc;

    u256_zero(value);
    if (exists != NULL)
        *exists = 0;
    if ((rc = check_node_sizes(nodes, n, err)) != MR_OK)
        return rc;
    keccak256(slot, 32, path);
    if ((rc = mpt_verify(storage_root, path, 32, nodes, n, &v, &vlen, &found, err)) != MR_OK)
        return rc;
    if (!found)
        return MR_OK;
    /* The leaf holds RLP(minimal big-endian value); zero is never stored. */
    if (rlp_decode(v, vlen, 0, &item, &inner) != MR_OK ||
        rlp_get_u256(&item, value, &inner) != MR_OK) {
        u256_zero(value);
        return mr_fail(err, MR_ERR_PROOF, "node %zu: storage leaf: %s", n - 1, inner.msg);
    }
    if (u256_is_zero(value))
        return mr_fail(err, MR_ERR_PROOF, "node %zu: storage leaf holds zero, which a trie never "
                       "stores", n - 1);
    if (exists != NULL)
        *exists = 1;
    return MR_OK;
}

/* ---- proof byte formats ---- */

int mpt_proof_encode(const struct mpt_node *nodes, size_t n, uint8_t *out, size_t cap,
                     size_t *len)
{
    struct rlp_enc e;
    size_t mark;

    rlp_enc_init(&e, out, cap);
    mark = rlp_enc_list_begin(&e);
    for (size_t i = 0; i < n; i++)
        rlp_enc_raw(&e, nodes[i].data, nodes[i].len);
    rlp_enc_list_end(&e, mark);
    return rlp_enc_finish(&e, len);
}

int mpt_proof_decode(const uint8_t *buf, size_t len, struct mpt_node *nodes, size_t max,
                     size_t *n, struct mr_error *err)
{
    struct rlp_item top, child;
    struct rlp_iter it;
    size_t count = 0;
    int rc;

    *n = 0;
    if ((rc = rlp_next(buf, len, &top, err)) != MR_OK)
        return rc;
    if (top.raw_len != len)
        return mr_fail(err, MR_ERR_RLP, "%zu trailing bytes after the node list", len - top.raw_len);
    if (!top.is_list)
        return mr_fail(err, MR_ERR_RLP, "a proof is a list of nodes, got a string");
    rlp_iter_init(&it, &top);
    while ((rc = rlp_iter_next(&it, &child, err)) == 1) {
        if (count == max)
            return mr_fail(err, MR_ERR_TOOBIG, "proof has more than %zu nodes", max);
        nodes[count].data = child.raw;
        nodes[count].len = child.raw_len;
        count++;
    }
    if (rc < 0)
        return rc;
    *n = count;
    return MR_OK;
}

/* ---- builder ---- */

void mpt_builder_init(struct mpt_builder *b, struct mpt_kv *slots, size_t cap)
{
    b->kv = slots;
    b->count = 0;
    b->cap = cap;
}

/* Bytewise order, a prefix before its extensions (also nibble order). */
static int key_cmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    size_t m = alen < blen ? alen : blen;
    int c = m ? memcmp(a, b, m) : 0;

    if (c != 0)
        return c;
    return alen < blen ? -1 : alen > blen;
}

/* Index of the first pair with key >= `key`; *exact if it is equal. */
static size_t lower_bound(const struct mpt_builder *b, const uint8_t *key, size_t key_len,
                          int *exact)
{
    size_t lo = 0, hi = b->count;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (key_cmp(b->kv[mid].key, b->kv[mid].key_len, key, key_len) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *exact = lo < b->count && key_cmp(b->kv[lo].key, b->kv[lo].key_len, key, key_len) == 0;
    return lo;
}

int mpt_builder_put(struct mpt_builder *b, const uint8_t *key, size_t key_len,
                    const uint8_t *val, size_t val_len, struct mr_error *err)
{
    struct mpt_kv *kv = b->kv;
    int exact;
    size_t i;

    if (key_len > MPT_BUILDER_MAX_KEY)
        return mr_fail(err, MR_ERR_TOOBIG, "trie key of %zu bytes exceeds %d", key_len,
                       MPT_BUILDER_MAX_KEY);
    i = lower_bound(b, key, key_len, &exact);
    if (val_len == 0) {
        if (exact) {
            memmove(&kv[i], &kv[i + 1], (b->count - i - 1) * sizeof(*kv));
            b->count--;
        }
        return MR_OK;
    }
    if (!exact) {
        if (b->count == b->cap)
            return mr_fail(err, MR_ERR_TOOBIG, "trie builder full (%zu pairs)", b->cap);
        memmove(&kv[i + 1], &kv[i], (b->count - i) * sizeof(*kv));
        b->count++;
    }
    kv[i].key = key;
    kv[i].key_len = key_len;
    kv[i].val = val;
    kv[i].val_len = val_len;
    return MR_OK;
}

void mpt_builder_neighbors(const struct mpt_builder *b, const uint8_t *key, size_t key_len,
                           long *prev, long *next)
{
    int exact;
    size_t i = lower_bound(b, key, key_len, &exact);
    size_t nx = exact ? i + 1 : i;

    *prev = (long)i - 1;
    *next = nx < b->count ? (long)nx : -1;
}

/* State of one root computation: the scratch encoder holds the unfinished
 * nodes of the current path; finished children are replaced by their
 * references.  With `target` set, nodes on its path are copied out. */
struct build {
    const struct mpt_kv *kv;
    struct rlp_enc e;
    const uint8_t *target;
    size_t ntarget;          /* target length in nibbles */
    uint8_t *out;
    size_t out_cap, out_len;
    struct mpt_node *nodes;
    size_t max_nodes, n;
    int proof_full;          /* out or nodes ran out */
};

/* Appends hp(nibbles [from, from+count) of key, leaf) as an RLP string. */
static void put_hp(struct rlp_enc *e, const uint8_t *key, size_t from, size_t count, int leaf)
{
    uint8_t hp[MPT_BUILDER_MAX_KEY + 1];
    size_t j = 0, i = 0;

    if (count & 1) {
        hp[j++] = (uint8_t)((leaf ? 0x30 : 0x10) | nibble(key, from));
        i = 1;
    } else {
        hp[j++] = leaf ? 0x20 : 0x00;
    }
    for (; i < count; i += 2)
        hp[j++] = (uint8_t)(nibble(key, from + i) << 4 | nibble(key, from + i + 1));
    rlp_enc_bytes(e, hp, j);
}

/* Copies the finished node at scratch[mark..] out as a proof node. */
static void record(struct build *bd, size_t mark)
{
    size_t len = bd->e.len - mark;

    if (bd->e.overflow || bd->proof_full)
        return;
    if (bd->n == bd->max_nodes || len > bd->out_cap - bd->out_len) {
        bd->proof_full = 1;
        return;
    }
    memcpy(bd->out + bd->out_len, bd->e.buf + mark, len);
    bd->nodes[bd->n].data = bd->out + bd->out_len;
    bd->nodes[bd->n].len = len;
    bd->n++;
    bd->out_len += len;
}

static void encode_node(struct build *bd, size_t lo, size_t hi, size_t d, int on_path);

/* Encodes the subtrie [lo, hi) at depth d as a child reference: the node
 * inline if its RLP is under 32 bytes, else the string of its hash. */
static void emit_child(struct build *bd, size_t lo, size_t hi, size_t d, int on_path)
{
    size_t mark = bd->e.len;
    uint8_t h[32];

    encode_node(bd, lo, hi, d, on_path);
    if (bd->e.len - mark < 32)
        return;
    if (on_path && bd->target != NULL)
        record(bd, mark);
    memset(h, 0, sizeof(h));
    if (!bd->e.overflow)
        keccak256(bd->e.buf + mark, bd->e.len - mark, h);
    bd->e.len = mark; /* rewind over the node (nothing after mark is live) */
    rlp_enc_bytes(&bd->e, h, 32);
}

static int on_target(const struct build *bd, const uint8_t *key, size_t from, size_t count)
{
    if (bd->target == NULL || from + count > bd->ntarget)
        return 0;
    for (size_t i = from; i < from + count; i++) {
        if (nibble(bd->target, i) != nibble(key, i))
            return 0;
    }
    return 1;
}

static void encode_branch(struct build *bd, size_t lo, size_t hi, size_t d, int on_path)
{
    const struct mpt_kv *kv = bd->kv;
    const struct mpt_kv *value = NULL;
    size_t mark = rlp_enc_list_begin(&bd->e), j = lo;

    if (2 * kv[lo].key_len == d)
        value = &kv[j++]; /* sorted: the key ending here comes first */
    for (unsigned nib = 0; nib < 16; nib++) {
        size_t k = j;
        while (k < hi && nibble(kv[k].key, d) == nib)
            k++;
        if (k == j) {
            rlp_enc_bytes(&bd->e, NULL, 0);
            continue;
        }
        emit_child(bd, j, k, d + 1,
                   on_path && d < bd->ntarget && nibble(bd->target, d) == nib);
        j = k;
    }
    rlp_enc_bytes(&bd->e, value ? value->val : NULL, value ? value->val_len : 0);
    rlp_enc_list_end(&bd->e, mark);
}

/* Appends the node for the non-empty subtrie [lo, hi) whose keys share
 * their first d nibbles. */
static void encode_node(struct build *bd, size_t lo, size_t hi, size_t d, int on_path)
{
    const struct mpt_kv *kv = bd->kv;
    const struct mpt_kv *a = &kv[lo], *z = &kv[hi - 1];
    size_t mark, c = 0, na = 2 * a->key_len, nz = 2 * z->key_len;

    if (hi - lo == 1) {
        mark = rlp_enc_list_begin(&bd->e);
        put_hp(&bd->e, a->key, d, na - d, 1);
        rlp_enc_bytes(&bd->e, a->val, a->val_len);
        rlp_enc_list_end(&bd->e, mark);
        return;
    }
    /* Sorted keys: the common prefix of the set is that of its ends. */
    while (d + c < na && d + c < nz && nibble(a->key, d + c) == nibble(z->key, d + c))
        c++;
    if (c == 0) {
        encode_branch(bd, lo, hi, d, on_path);
        return;
    }
    mark = rlp_enc_list_begin(&bd->e);
    put_hp(&bd->e, a->key, d, c, 0);
    emit_child(bd, lo, hi, d + c, on_path && on_target(bd, a->key, d, c));
    rlp_enc_list_end(&bd->e, mark);
}

/* Shared by root and prove: builds the root node and hashes it. */
static int build_root(struct build *bd, const struct mpt_builder *b, uint8_t root[32],
                      struct mr_error *err)
{
    size_t len;

    if (b->count == 0) {
        memcpy(root, mpt_empty_root, 32);
        if (bd->target != NULL) {
            rlp_enc_bytes(&bd->e, NULL, 0); /* the node 0x80 */
            record(bd, 0);
        }
    } else {
        encode_node(bd, 0, b->count, 0, 1);
        if (bd->target != NULL)
            record(bd, 0);
        if (!bd->e.overflow)
            keccak256(bd->e.buf, bd->e.len, root);
    }
    if (rlp_enc_finish(&bd->e, &len) != MR_OK)
        return mr_fail(err, MR_ERR_TOOBIG, "trie scratch of %zu bytes too small (%zu needed)",
                       bd->e.cap, len);
    if (bd->proof_full)
        return mr_fail(err, MR_ERR_TOOBIG, "proof output too small (%zu bytes, %zu nodes)",
                       bd->out_cap, bd->max_nodes);
    return MR_OK;
}

int mpt_builder_root(const struct mpt_builder *b, uint8_t *scratch, size_t scratch_cap,
                     uint8_t root[32], struct mr_error *err)
{
    struct build bd;

    memset(&bd, 0, sizeof(bd));
    bd.kv = b->kv;
    rlp_enc_init(&bd.e, scratch, scratch_cap);
    return build_root(&bd, b, root, err);
}

int mpt_builder_prove(const struct mpt_builder *b, const uint8_t *key, size_t key_len,
                      uint8_t *scratch, size_t scratch_cap, uint8_t *out, size_t out_cap,
                      struct mpt_node *nodes, size_t max_nodes, size_t *n, uint8_t root[32],
                      struct mr_error *err)
{
    struct build bd;
    int rc;

    *n = 0;
    memset(&bd, 0, sizeof(bd));
    bd.kv = b->kv;
    bd.target = key;
    bd.ntarget = 2 * key_len;
    bd.out = out;
    bd.out_cap = out_cap;
    bd.nodes = nodes;
    bd.max_nodes = max_nodes;
    rlp_enc_init(&bd.e, scratch, scratch_cap);
    if ((rc = build_root(&bd, b, root, err)) != MR_OK)
        return rc;
    /* Nodes were finished leaf first; a proof lists them root first. */
    for (size_t i = 0; i < bd.n / 2; i++) {
        struct mpt_node t = nodes[i];
        nodes[i] = nodes[bd.n - 1 - i];
        nodes[bd.n - 1 - i] = t;
    }
    *n = bd.n;
    return MR_OK;
}
