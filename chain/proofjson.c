/*
 * proofjson.c - eth_getProof JSON to mpt structures (see proofjson.h).
 */
#include "chain/proofjson.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "eth/hex.h"

/* Where decoded node bytes go: one buffer sized from the text length (hex
 * decodes to at most half of it), filled front to back. */
struct arena {
    uint8_t *buf;
    size_t cap, used;
};

/* A hex word of 1..64 digits after "0x", leading zeros allowed: storage keys
 * and claimed quantities, which clients print padded or minimal. */
static int parse_word(json_t *v, const char *what, uint8_t out[32], struct mr_error *err)
{
    const char *s = json_is_string(v) ? json_string_value(v) : NULL;
    size_t n = s ? json_string_length(v) : 0;

    if (s == NULL || n < 3 || n > 66 || s[0] != '0' || (s[1] != 'x' && s[1] != 'X'))
        return mr_fail(err, MR_ERR_JSON, "%s: expected 0x and 1 to 64 hex digits", what);
    memset(out, 0, 32);
    for (size_t i = 0; i < n - 2; i++) {
        int d = hex_digit(s[n - 1 - i]);
        if (d < 0)
            return mr_fail(err, MR_ERR_JSON, "%s: bad hex digit", what);
        out[31 - i / 2] |= (uint8_t)(i & 1 ? d << 4 : d);
    }
    return MR_OK;
}

static int parse_u256(json_t *v, const char *what, struct u256 *out, struct mr_error *err)
{
    uint8_t w[32];
    int rc = parse_word(v, what, w, err);

    if (rc == MR_OK)
        u256_from_be(out, w, 32);
    return rc;
}

static int parse_fixed(json_t *v, const char *what, uint8_t *out, size_t n, struct mr_error *err)
{
    struct mr_error herr;

    if (!json_is_string(v))
        return mr_fail(err, MR_ERR_JSON, "%s: expected a string", what);
    if (hex_decode_fixed(json_string_value(v), json_string_length(v), out, n, &herr) != MR_OK)
        return mr_fail(err, MR_ERR_JSON, "%s: expected %zu bytes of 0x-hex: %s", what, n, herr.msg);
    return MR_OK;
}

/* Decodes a JSON array of node hex strings into nodes[] (arena-backed). */
static int parse_nodes(json_t *arr, const char *what, struct arena *a, struct mpt_node *nodes,
                       size_t *n, struct mr_error *err)
{
    struct mr_error herr;
    size_t i;
    json_t *v;

    if (!json_is_array(arr))
        return mr_fail(err, MR_ERR_JSON, "%s: expected an array of 0x-hex nodes", what);
    if (json_array_size(arr) > MPT_MAX_PROOF_NODES)
        return mr_fail(err, MR_ERR_TOOBIG, "%s: %zu nodes exceeds %d", what, json_array_size(arr),
                       MPT_MAX_PROOF_NODES);
    json_array_foreach(arr, i, v) {
        const char *s = json_string_value(v);
        size_t slen = s ? json_string_length(v) : 0;
        long blen = s ? hex_data_len(s, slen) : -1;
        size_t got;

        if (blen < 0)
            return mr_fail(err, MR_ERR_JSON, "%s[%zu]: not 0x-hex data", what, i);
        if (blen > MPT_MAX_NODE_LEN)
            return mr_fail(err, MR_ERR_TOOBIG, "%s[%zu]: node of %ld bytes exceeds %d", what, i,
                           blen, MPT_MAX_NODE_LEN);
        if (hex_decode_data(s, slen, a->buf + a->used, a->cap - a->used, &got, &herr) != MR_OK)
            return mr_fail(err, MR_ERR_JSON, "%s[%zu]: %s", what, i, herr.msg);
        nodes[i].data = a->buf + a->used;
        nodes[i].len = got;
        a->used += got;
    }
    *n = json_array_size(arr);
    return MR_OK;
}

static int parse_storage_entry(json_t *o, size_t idx, struct arena *a, struct proofjson_storage *s,
                               struct mr_error *err)
{
    char what[64];
    json_t *v;
    int rc;

    if (!json_is_object(o))
        return mr_fail(err, MR_ERR_JSON, "storageProof[%zu]: expected an object", idx);
    snprintf(what, sizeof(what), "storageProof[%zu].key", idx);
    if ((v = json_object_get(o, "key")) == NULL)
        return mr_fail(err, MR_ERR_JSON, "%s: missing", what);
    if ((rc = parse_word(v, what, s->key, err)) != MR_OK)
        return rc;
    if ((v = json_object_get(o, "value")) != NULL) {
        snprintf(what, sizeof(what), "storageProof[%zu].value", idx);
        if ((rc = parse_u256(v, what, &s->value, err)) != MR_OK)
            return rc;
        s->has_value = 1;
    }
    snprintf(what, sizeof(what), "storageProof[%zu].proof", idx);
    if ((v = json_object_get(o, "proof")) == NULL)
        return mr_fail(err, MR_ERR_JSON, "%s: missing", what);
    return parse_nodes(v, what, a, s->nodes, &s->n_nodes, err);
}

static int parse_storage(json_t *arr, struct arena *a, struct proofjson *p, struct mr_error *err)
{
    size_t i;
    json_t *o;
    int rc;

    if (!json_is_array(arr))
        return mr_fail(err, MR_ERR_JSON, "storageProof: expected an array");
    if (json_array_size(arr) > PROOFJSON_MAX_STORAGE)
        return mr_fail(err, MR_ERR_TOOBIG, "storageProof: %zu entries exceeds %d",
                       json_array_size(arr), PROOFJSON_MAX_STORAGE);
    if (json_array_size(arr) == 0)
        return MR_OK;
    p->storage = calloc(json_array_size(arr), sizeof(*p->storage));
    if (p->storage == NULL)
        return mr_fail(err, MR_ERR_NOMEM, "storageProof: out of memory");
    json_array_foreach(arr, i, o) {
        if ((rc = parse_storage_entry(o, i, a, &p->storage[i], err)) != MR_OK)
            return rc;
        p->n_storage = i + 1;
    }
    return MR_OK;
}

/* The untrusted claims next to the proofs: optional, but well-formed. */
static int parse_claims(json_t *r, struct proofjson *p, struct mr_error *err)
{
    json_t *v;
    int rc;

    if ((v = json_object_get(r, "address")) != NULL) {
        if ((rc = parse_fixed(v, "address", p->address, 20, err)) != MR_OK)
            return rc;
        p->has_address = 1;
    }
    if ((v = json_object_get(r, "nonce")) != NULL) {
        if ((rc = parse_u256(v, "nonce", &p->nonce, err)) != MR_OK)
            return rc;
        p->has_nonce = 1;
    }
    if ((v = json_object_get(r, "balance")) != NULL) {
        if ((rc = parse_u256(v, "balance", &p->balance, err)) != MR_OK)
            return rc;
        p->has_balance = 1;
    }
    if ((v = json_object_get(r, "storageHash")) != NULL) {
        if ((rc = parse_fixed(v, "storageHash", p->storage_hash, 32, err)) != MR_OK)
            return rc;
        p->has_storage_hash = 1;
    }
    if ((v = json_object_get(r, "codeHash")) != NULL) {
        if ((rc = parse_fixed(v, "codeHash", p->code_hash, 32, err)) != MR_OK)
            return rc;
        p->has_code_hash = 1;
    }
    return MR_OK;
}

/* The result object, unwrapped from a JSON-RPC response if need be. */
static int find_result(json_t *root, json_t **result, struct mr_error *err)
{
    json_t *r, *e;

    if (!json_is_object(root))
        return mr_fail(err, MR_ERR_JSON, "expected a JSON object");
    if ((e = json_object_get(root, "error")) != NULL) {
        json_t *m = json_is_object(e) ? json_object_get(e, "message") : NULL;
        return mr_fail(err, MR_ERR_JSON, "the node answered with an error: %.160s",
                       json_is_string(m) ? json_string_value(m) : "(no message)");
    }
    r = json_object_get(root, "result");
    if (r == NULL && json_object_get(root, "jsonrpc") != NULL)
        return mr_fail(err, MR_ERR_JSON, "JSON-RPC response without a result");
    if (r == NULL)
        r = root;
    if (!json_is_object(r))
        return mr_fail(err, MR_ERR_JSON, "result: expected an object (null: unknown block?)");
    *result = r;
    return MR_OK;
}

static int parse_result(json_t *r, struct arena *a, struct proofjson *p, struct mr_error *err)
{
    json_t *v;
    int rc;

    if ((v = json_object_get(r, "accountProof")) == NULL)
        return mr_fail(err, MR_ERR_JSON, "accountProof: missing");
    rc = parse_nodes(v, "accountProof", a, p->account_nodes, &p->n_account_nodes, err);
    if (rc != MR_OK)
        return rc;
    if ((rc = parse_claims(r, p, err)) != MR_OK)
        return rc;
    if ((v = json_object_get(r, "storageProof")) != NULL)
        return parse_storage(v, a, p, err);
    return MR_OK;
}

/* Bytes the nodes of one proof array decode to at most (half their hex);
 * a non-array adds nothing (parse_nodes reports it). */
static size_t nodes_bound(json_t *arr)
{
    size_t i, sum = 0;
    json_t *v;

    if (!json_is_array(arr) || json_array_size(arr) > MPT_MAX_PROOF_NODES)
        return 0;
    json_array_foreach(arr, i, v)
        if (json_is_string(v))
            sum += json_string_length(v) / 2 + 1;
    return sum;
}

/* Upper bound of the arena a result object needs. */
static size_t arena_bound(json_t *r)
{
    json_t *sp = json_object_get(r, "storageProof"), *o;
    size_t i, sum = nodes_bound(json_object_get(r, "accountProof")) + 1;

    if (json_is_array(sp) && json_array_size(sp) <= PROOFJSON_MAX_STORAGE)
        json_array_foreach(sp, i, o)
            if (json_is_object(o))
                sum += nodes_bound(json_object_get(o, "proof"));
    return sum;
}

int proofjson_parse_json(json_t *result, struct proofjson *p, struct mr_error *err)
{
    struct arena a = {NULL, 0, 0};

    memset(p, 0, sizeof(*p));
    if (!json_is_object(result))
        return mr_fail(err, MR_ERR_JSON, "result: expected an object (null: unknown block?)");
    a.cap = arena_bound(result);
    a.buf = malloc(a.cap);
    p->arena = a.buf;
    if (a.buf == NULL)
        return mr_fail(err, MR_ERR_NOMEM, "out of memory");
    return parse_result(result, &a, p, err);
}

int proofjson_parse(const char *text, size_t len, struct proofjson *p, struct mr_error *err)
{
    json_error_t jerr;
    json_t *root, *r = NULL;
    int rc;

    memset(p, 0, sizeof(*p));
    if (len > PROOFJSON_MAX_TEXT)
        return mr_fail(err, MR_ERR_TOOBIG, "proof JSON of %zu bytes exceeds %u", len,
                       PROOFJSON_MAX_TEXT);
    root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL)
        return mr_fail(err, MR_ERR_JSON, "line %d column %d: %s", jerr.line, jerr.column,
                       jerr.text);
    if ((rc = find_result(root, &r, err)) == MR_OK)
        rc = proofjson_parse_json(r, p, err);
    json_decref(root);
    return rc;
}

void proofjson_free(struct proofjson *p)
{
    if (p == NULL)
        return;
    free(p->storage);
    free(p->arena);
    memset(p, 0, sizeof(*p));
}
