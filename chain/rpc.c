/*
 * rpc.c - the JSON-RPC 2.0 response parser and the classification of node
 * errors (see rpc.h).  Pure: no I/O.  The transport and the endpoints are in
 * rpc_http.c.
 */
#include "chain/rpc.h"

#include <assert.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "eth/hex.h"

/* ---- names ---- */

const char *rpc_class_name(enum rpc_class cls)
{
    static const char *const names[] = {"ok", "transient", "permanent", "fatal"};

    return (unsigned)cls < sizeof(names) / sizeof(names[0]) ? names[cls] : "?";
}

const char *rpc_kind_name(enum rpc_kind kind)
{
    static const char *const names[] = {
        "none", "timeout", "connection failed", "HTTP error", "rate limited",
        "response too big", "bad response", "node error", "nonce too low", "already known",
        "replacement underpriced", "insufficient funds", "execution reverted",
        "log range too large", "chain id mismatch", "no endpoint available"};

    return (unsigned)kind < sizeof(names) / sizeof(names[0]) ? names[kind] : "?";
}

void rpc_detail_clear(struct rpc_detail *d)
{
    if (d == NULL)
        return;
    memset(d, 0, sizeof(*d));
    d->retry_after_ms = -1;
}

static void set_class(struct rpc_detail *d, enum rpc_class cls, enum rpc_kind kind)
{
    if (d != NULL) {
        d->cls = cls;
        d->kind = kind;
    }
}

/* ---- node errors ---- */

/* Node messages for the same condition differ between clients; these are
 * the phrasings of geth (core/txpool/errors.go), anvil, nethermind and
 * erigon.  Matched case-insensitively as substrings. */
static const struct {
    const char *needle;
    enum rpc_kind kind;
} node_phrases[] = {
    {"nonce too low", RPC_KIND_NONCE_TOO_LOW},
    {"oldnonce", RPC_KIND_NONCE_TOO_LOW},
    {"already known", RPC_KIND_ALREADY_KNOWN},
    {"already imported", RPC_KIND_ALREADY_KNOWN},
    {"known transaction", RPC_KIND_ALREADY_KNOWN},
    {"alreadyknown", RPC_KIND_ALREADY_KNOWN},
    {"replacement transaction underpriced", RPC_KIND_UNDERPRICED},
    {"underpriced", RPC_KIND_UNDERPRICED},
    {"insufficient funds", RPC_KIND_INSUFFICIENT_FUNDS},
    {"execution reverted", RPC_KIND_REVERTED},
    {"query returned more than", RPC_KIND_RANGE_TOO_LARGE},
    {"block range", RPC_KIND_RANGE_TOO_LARGE},
    {"range too large", RPC_KIND_RANGE_TOO_LARGE},
    {"too many blocks", RPC_KIND_RANGE_TOO_LARGE},
    {"response size exceeded", RPC_KIND_RANGE_TOO_LARGE},
    {"too many results", RPC_KIND_RANGE_TOO_LARGE},
};

static int contains_ci(const char *hay, const char *needle)
{
    size_t n = strlen(needle);

    for (; *hay != '\0'; hay++)
        if (strncasecmp(hay, needle, n) == 0)
            return 1;
    return 0;
}

/* Printable ASCII copy of s[len] into out[cap] (others become '?'). */
static void copy_printable(const char *s, size_t len, char *out, size_t cap)
{
    size_t i;

    for (i = 0; i < len && i + 1 < cap; i++)
        out[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
    out[i] = '\0';
}

/* error.data of a revert: a hex string, or an object holding one under
 * "data" (some nodes nest it). */
static void decode_revert(json_t *data, struct rpc_detail *d)
{
    uint8_t buf[1024];
    size_t n;
    struct abi_revert rv;

    if (json_is_object(data))
        data = json_object_get(data, "data");
    if (!json_is_string(data) ||
        hex_decode_data(json_string_value(data), json_string_length(data), buf, sizeof(buf), &n,
                        NULL) != MR_OK ||
        abi_decode_revert(buf, n, &rv, NULL) != MR_OK)
        return;
    d->has_revert = 1;
    d->revert_kind = rv.kind;
    if (rv.kind == ABI_REVERT_ERROR)
        copy_printable(rv.msg, rv.msg_len, d->revert_reason, sizeof(d->revert_reason));
    else if (rv.kind == ABI_REVERT_PANIC)
        u256_to_be32(&rv.code, d->revert_panic);
    else if (rv.kind == ABI_REVERT_CUSTOM)
        memcpy(d->revert_selector, rv.selector, 4);
}

void rpc_classify_node_error(json_t *error, const char *method, struct rpc_detail *d)
{
    json_t *code = json_is_object(error) ? json_object_get(error, "code") : NULL;
    json_t *msg = json_is_object(error) ? json_object_get(error, "message") : NULL;
    size_t i;

    rpc_detail_clear(d);
    d->cls = RPC_CLASS_PERMANENT;
    d->kind = RPC_KIND_NODE;
    if (json_is_integer(code))
        d->node_code = (long)json_integer_value(code);
    if (json_is_string(msg))
        copy_printable(json_string_value(msg), json_string_length(msg), d->node_message,
                       sizeof(d->node_message));
    for (i = 0; i < sizeof(node_phrases) / sizeof(node_phrases[0]); i++)
        if (contains_ci(d->node_message, node_phrases[i].needle)) {
            d->kind = node_phrases[i].kind;
            break;
        }
    /* Code 3 is geth's "execution reverted" with data (EIP-1474 leaves it
     * free); -32005 is "limit exceeded" (EIP-1474), for eth_getLogs a range
     * hint, elsewhere a rate limit. */
    if (d->node_code == 3)
        d->kind = RPC_KIND_REVERTED;
    if (d->node_code == -32005 && d->kind == RPC_KIND_NODE) {
        if (method != NULL && strcmp(method, "eth_getLogs") == 0)
            d->kind = RPC_KIND_RANGE_TOO_LARGE;
        else {
            d->kind = RPC_KIND_RATE_LIMITED;
            d->cls = RPC_CLASS_TRANSIENT;
        }
    }
    if (d->kind == RPC_KIND_REVERTED)
        decode_revert(json_object_get(error, "data"), d);
}

/* ---- parsing ---- */

/* Nesting depth of JSON text, strings skipped; stops counting past max. */
static int depth_ok(const char *s, size_t len, unsigned max)
{
    unsigned depth = 0;
    int in_str = 0;

    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (in_str) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_str = 0;
        } else if (c == '"') {
            in_str = 1;
        } else if (c == '[' || c == '{') {
            if (++depth > max)
                return 0;
        } else if ((c == ']' || c == '}') && depth > 0) {
            depth--;
        }
    }
    return 1;
}

int rpc_json_load(const char *text, size_t len, size_t cap, json_t **out, struct mr_error *err)
{
    json_error_t jerr;

    *out = NULL;
    if (len > cap)
        return mr_fail(err, MR_ERR_TOOBIG, "response of %zu bytes exceeds the cap of %zu", len,
                       cap);
    if (!depth_ok(text, len, RPC_MAX_DEPTH))
        return mr_fail(err, MR_ERR_TOOBIG, "response nested deeper than %d", RPC_MAX_DEPTH);
    *out = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (*out == NULL)
        return mr_fail(err, MR_ERR_JSON, "response is not JSON: line %d column %d: %s",
                       jerr.line, jerr.column, jerr.text);
    return MR_OK;
}

static int bad_response(struct rpc_detail *d, struct mr_error *err, const char *what)
{
    set_class(d, RPC_CLASS_PERMANENT, RPC_KIND_BAD_RESPONSE);
    return mr_fail(err, MR_ERR_JSON, "bad JSON-RPC response: %s", what);
}

int rpc_check_response(json_t *resp, uint64_t id, const char *method, json_t **result,
                       struct rpc_detail *d, struct mr_error *err)
{
    json_t *ver, *jid, *res, *error;

    *result = NULL;
    if (!json_is_object(resp))
        return bad_response(d, err, "not an object");
    ver = json_object_get(resp, "jsonrpc");
    if (!json_is_string(ver) || strcmp(json_string_value(ver), "2.0") != 0)
        return bad_response(d, err, "jsonrpc is not \"2.0\"");
    jid = json_object_get(resp, "id");
    if (!json_is_integer(jid) || json_integer_value(jid) < 0 ||
        (uint64_t)json_integer_value(jid) != id)
        return bad_response(d, err, "id does not match the request");
    res = json_object_get(resp, "result");
    error = json_object_get(resp, "error");
    if ((res == NULL) == (error == NULL))
        return bad_response(d, err, res ? "both result and error" : "neither result nor error");
    if (error != NULL) {
        struct rpc_detail tmp;
        rpc_classify_node_error(error, method, d ? d : &tmp);
        d = d ? d : &tmp;
        if (!json_is_object(error) || !json_is_integer(json_object_get(error, "code")))
            return bad_response(d, err, "error is not an object with an integer code");
        if (d->kind == RPC_KIND_REVERTED && d->revert_reason[0] != '\0')
            return mr_fail(err, MR_ERR_RPC, "execution reverted: %s", d->revert_reason);
        return mr_fail(err, MR_ERR_RPC, "node error %ld: %s", d->node_code, d->node_message);
    }
    *result = json_incref(res);
    return MR_OK;
}

int rpc_parse_response(const char *text, size_t len, size_t cap, uint64_t id, const char *method,
                       json_t **result, struct rpc_detail *d, struct mr_error *err)
{
    json_t *root;
    int rc;

    *result = NULL;
    rc = rpc_json_load(text, len, cap, &root, err);
    if (rc != MR_OK) {
        set_class(d, RPC_CLASS_PERMANENT,
                  rc == MR_ERR_TOOBIG ? RPC_KIND_TOO_BIG : RPC_KIND_BAD_RESPONSE);
        return rc;
    }
    rc = rpc_check_response(root, id, method, result, d, err);
    json_decref(root);
    return rc;
}

/* The batch index an answer's id names, or -1. */
static long batch_index(json_t *resp, uint64_t first_id, size_t n)
{
    json_t *jid = json_is_object(resp) ? json_object_get(resp, "id") : NULL;
    json_int_t v = json_is_integer(jid) ? json_integer_value(jid) : -1;

    if (v < 0 || (uint64_t)v < first_id || (uint64_t)v - first_id >= n)
        return -1;
    return (long)((uint64_t)v - first_id);
}

int rpc_parse_batch(const char *text, size_t len, size_t cap, uint64_t first_id,
                    struct rpc_batch_item *items, size_t n, struct mr_error *err)
{
    unsigned char seen[RPC_MAX_BATCH] = {0};
    struct mr_error e1;
    json_t *root, *resp;
    size_t i;
    int rc;

    assert(n <= RPC_MAX_BATCH);
    for (i = 0; i < n; i++) {
        items[i].rc = MR_ERR_JSON;
        items[i].result = NULL;
        rpc_detail_clear(&items[i].detail);
        snprintf(items[i].msg, sizeof(items[i].msg), "no answer for this call in the batch");
    }
    if ((rc = rpc_json_load(text, len, cap, &root, err)) != MR_OK)
        return rc;
    if (!json_is_array(root) || json_array_size(root) != n) {
        json_decref(root);
        return mr_fail(err, MR_ERR_JSON, "bad batch response: expected an array of %zu answers", n);
    }
    json_array_foreach(root, i, resp) {
        long k = batch_index(resp, first_id, n);
        if (k < 0 || seen[k]) {
            json_decref(root);
            for (size_t j = 0; j < n; j++) {
                json_decref(items[j].result);
                items[j].result = NULL;
                items[j].rc = MR_ERR_JSON;
            }
            return mr_fail(err, MR_ERR_JSON, "bad batch response: unknown or repeated id");
        }
        seen[k] = 1;
        mr_error_clear(&e1);
        items[k].rc = rpc_check_response(resp, first_id + (uint64_t)k, items[k].method,
                                         &items[k].result, &items[k].detail, &e1);
        snprintf(items[k].msg, sizeof(items[k].msg), "%s", e1.msg);
    }
    json_decref(root);
    return MR_OK;
}

void rpc_batch_clear(struct rpc_batch_item *items, size_t n)
{
    if (items == NULL)
        return;
    for (size_t i = 0; i < n; i++) {
        json_decref(items[i].result);
        items[i].result = NULL;
        json_decref(items[i].params);
        items[i].params = NULL;
    }
}

/* Whether s[n] is a URL scheme (RFC 3986 §3.1: a letter, then letters,
 * digits, "+", "-", "."). */
static int scheme_ok(const char *s, size_t n)
{
    if (n == 0 || n > 15 || !((s[0] | 0x20) >= 'a' && (s[0] | 0x20) <= 'z'))
        return 0;
    for (size_t i = 1; i < n; i++)
        if (!(isalnum((unsigned char)s[i]) || s[i] == '+' || s[i] == '-' || s[i] == '.'))
            return 0;
    return 1;
}

/* Whether s[n] is a plain host[:port]: a reg-name or IPv4 (letters,
 * digits, "-", ".", "_", "~") or a bracketed IPv6 literal, and an all-digit
 * port.  Anything else (a password in a malformed URL, say) is not shown. */
static int host_port_ok(const char *s, size_t n)
{
    size_t h = 0;

    if (n > 0 && s[0] == '[') {
        while (h < n && s[h] != ']')
            h++;
        if (h == n)
            return 0;
        for (size_t i = 1; i < h; i++)
            if (!(isxdigit((unsigned char)s[i]) || s[i] == ':' || s[i] == '.'))
                return 0;
        h++;
    } else {
        while (h < n && (isalnum((unsigned char)s[h]) || strchr("-._~", s[h]) != NULL))
            h++;
        if (h == 0)
            return 0;
    }
    if (h == n)
        return 1;
    if (s[h] != ':' || h + 1 == n)
        return 0;
    for (size_t i = h + 1; i < n; i++)
        if (!isdigit((unsigned char)s[i]))
            return 0;
    return 1;
}

void rpc_redact_url(const char *url, char *out, size_t cap)
{
    const char *sep = strstr(url, "://");
    const char *auth, *end, *host, *rest;
    size_t scheme_len;

    if (cap == 0)
        return;
    scheme_len = sep != NULL ? (size_t)(sep - url) : 0;
    if (sep == NULL || !scheme_ok(url, scheme_len)) {
        snprintf(out, cap, "(hidden URL)");
        return;
    }
    auth = sep + 3;
    end = auth + strcspn(auth, "/?#");
    host = auth;
    for (const char *p = auth; p < end; p++)
        if (*p == '@')
            host = p + 1; /* the last '@' ends the userinfo, as in curl */
    rest = *end == '\0' || strcmp(end, "/") == 0 ? "" : "/...";
    /* An '@' after the authority may mean a '/' inside a password split
     * it: then the "host" could be half a credential. */
    if (!host_port_ok(host, (size_t)(end - host)) || memchr(end, '@', strcspn(end, "?#")) != NULL)
        snprintf(out, cap, "%.*s://(hidden)%s", (int)scheme_len, url, rest);
    else
        snprintf(out, cap, "%.*s://%.*s%s", (int)scheme_len, url, (int)(end - host), host, rest);
}
