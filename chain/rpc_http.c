/*
 * rpc_http.c - JSON-RPC over HTTP with libcurl, and the endpoints of one
 * chain: health, backoff with jitter, circuit breakers, failover and the
 * chain id check (see rpc.h).
 */
#include "chain/rpc.h"

#include <assert.h>
#include <ctype.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "eth/hex.h"

static void set_class(struct rpc_detail *d, enum rpc_class cls, enum rpc_kind kind)
{
    if (d != NULL) {
        d->cls = cls;
        d->kind = kind;
    }
}

/* ---- transport ---- */

struct endpoint {
    char *url;              /* as configured (may hold credentials): curl only */
    CURL *curl;             /* one easy handle: connections are kept alive */
    struct rpc_health h;
    uint64_t chain_checked_ms; /* monotonic ms of the last good eth_chainId */
};

struct rpc_endpoints {
    struct rpc_opts opts;
    uint64_t chain_id;
    uint64_t next_id;
    uint64_t rng;           /* xorshift64 state for the jitter */
    const char *last;       /* name of the endpoint of the last call */
    int fatal;              /* a wrong chain id was seen: every call fails */
    char fatal_msg[MR_ERROR_MSG_LEN];
    size_t n;
    struct endpoint ep[RPC_MAX_ENDPOINTS];
};

/* A response body being received, capped. */
struct body {
    char *buf;
    size_t len, cap, limit;
    int too_big;
    long retry_after_ms;
};

void rpc_opts_default(struct rpc_opts *o)
{
    o->connect_timeout_ms = 3000;
    o->timeout_ms = 15000;
    o->max_response = RPC_DEFAULT_MAX_RESPONSE;
    o->breaker_threshold = 5;
    o->breaker_cooldown_ms = 30000;
    o->backoff_base_ms = 200;
    o->backoff_max_ms = 30000;
    o->chain_recheck_ms = 300000;
}

static uint64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Returning less than asked aborts the transfer (CURLE_WRITE_ERROR): that
 * is how a response past the cap is cut off before it is all read. */
static size_t on_write(char *data, size_t size, size_t nmemb, void *userp)
{
    struct body *b = userp;
    size_t n = size * nmemb;

    if (n > b->limit - b->len) {
        b->too_big = 1;
        return 0;
    }
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        char *p;
        while (cap < b->len + n + 1)
            cap *= 2;
        if ((p = realloc(b->buf, cap)) == NULL)
            return 0;
        b->buf = p;
        b->cap = cap;
    }
    memcpy(b->buf + b->len, data, n);
    b->len += n;
    b->buf[b->len] = '\0';
    return n;
}

/* Retry-After in delta-seconds (RFC 9110 §10.2.3); an HTTP-date is left
 * to the default backoff. */
static size_t on_header(char *data, size_t size, size_t nmemb, void *userp)
{
    struct body *b = userp;
    size_t n = size * nmemb;
    static const char name[] = "retry-after:";

    if (n > sizeof(name) - 1 && strncasecmp(data, name, sizeof(name) - 1) == 0) {
        long secs = 0;
        size_t i = sizeof(name) - 1;
        while (i < n && data[i] == ' ')
            i++;
        if (i < n && isdigit((unsigned char)data[i])) {
            for (; i < n && isdigit((unsigned char)data[i]) && secs < 86400; i++)
                secs = secs * 10 + (data[i] - '0');
            b->retry_after_ms = secs * 1000;
        }
    }
    return n;
}

/* Classifies a libcurl failure: network trouble is transient. */
static enum rpc_kind curl_kind(CURLcode cc)
{
    switch (cc) {
    case CURLE_OPERATION_TIMEDOUT:
        return RPC_KIND_TIMEOUT;
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR:
        return RPC_KIND_CONNECT;
    default:
        return RPC_KIND_NONE;
    }
}

static int curl_setup(struct rpc_endpoints *e, struct endpoint *ep, const char *payload,
                      struct body *b, struct curl_slist *hdrs)
{
    CURL *c = ep->curl;

    b->limit = e->opts.max_response;
    b->retry_after_ms = -1;
    return curl_easy_setopt(c, CURLOPT_URL, ep->url) != CURLE_OK ||
           curl_easy_setopt(c, CURLOPT_POSTFIELDS, payload) != CURLE_OK ||
           curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs) != CURLE_OK ||
           curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write) != CURLE_OK ||
           curl_easy_setopt(c, CURLOPT_WRITEDATA, b) != CURLE_OK ||
           curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header) != CURLE_OK ||
           curl_easy_setopt(c, CURLOPT_HEADERDATA, b) != CURLE_OK ||
           curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, e->opts.connect_timeout_ms) != CURLE_OK ||
           curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, e->opts.timeout_ms) != CURLE_OK ||
           curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
           curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK ||
           curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK;
}

/* POSTs payload to ep.  Out: *b (body of an HTTP 200; caller frees b->buf
 * also on failure).  Returns MR_OK, MR_ERR_IO (transport, non-200) or
 * MR_ERR_TOOBIG, with *d classified. */
static int http_post(struct rpc_endpoints *e, struct endpoint *ep, const char *method,
                     const char *payload, struct body *b, struct rpc_detail *d,
                     struct mr_error *err)
{
    struct curl_slist *hdrs = curl_slist_append(NULL, "Content-Type: application/json");
    long status = 0;
    CURLcode cc;

    if (hdrs == NULL || curl_setup(e, ep, payload, b, hdrs)) {
        curl_slist_free_all(hdrs);
        set_class(d, RPC_CLASS_PERMANENT, RPC_KIND_NONE);
        return mr_fail(err, MR_ERR_NOMEM, "%s %s: cannot set up the request", ep->h.name, method);
    }
    cc = curl_easy_perform(ep->curl);
    curl_slist_free_all(hdrs);
    curl_easy_getinfo(ep->curl, CURLINFO_RESPONSE_CODE, &status);
    if (d != NULL) {
        d->http_status = status;
        d->retry_after_ms = b->retry_after_ms;
    }
    if (b->too_big) {
        set_class(d, RPC_CLASS_PERMANENT, RPC_KIND_TOO_BIG);
        return mr_fail(err, MR_ERR_TOOBIG, "%s %s: response exceeds the cap of %zu bytes",
                       ep->h.name, method, b->limit);
    }
    if (cc != CURLE_OK) {
        enum rpc_kind k = curl_kind(cc);
        set_class(d, k != RPC_KIND_NONE ? RPC_CLASS_TRANSIENT : RPC_CLASS_PERMANENT,
                  k != RPC_KIND_NONE ? k : RPC_KIND_CONNECT);
        return mr_fail(err, MR_ERR_IO, "%s %s: %s", ep->h.name, method, curl_easy_strerror(cc));
    }
    if (status == 200)
        return MR_OK;
    if (status == 429)
        set_class(d, RPC_CLASS_TRANSIENT, RPC_KIND_RATE_LIMITED);
    else
        set_class(d, status >= 500 ? RPC_CLASS_TRANSIENT : RPC_CLASS_PERMANENT, RPC_KIND_HTTP);
    return mr_fail(err, MR_ERR_IO, "%s %s: HTTP status %ld", ep->h.name, method, status);
}

/* ---- health ---- */

static uint64_t next_rand(struct rpc_endpoints *e)
{
    e->rng ^= e->rng << 13;
    e->rng ^= e->rng >> 7;
    e->rng ^= e->rng << 17;
    return e->rng;
}

static void health_ok(struct endpoint *ep, long latency_ms)
{
    ep->h.calls++;
    ep->h.consecutive_errors = 0;
    ep->h.last_latency_ms = latency_ms;
    ep->h.breaker = RPC_BREAKER_CLOSED;
    ep->h.backoff_until_ms = 0;
}

/* A transient failure: exponential backoff with "equal jitter" (half fixed,
 * half random), and the breaker opens after K in a row or on a failed
 * half-open trial. */
static void health_fail(struct rpc_endpoints *e, struct endpoint *ep, long retry_after_ms)
{
    uint64_t now = now_ms(), wait = (uint64_t)e->opts.backoff_base_ms;
    unsigned k = ++ep->h.consecutive_errors;

    ep->h.calls++;
    ep->h.errors++;
    for (unsigned i = 1; i < k && wait < (uint64_t)e->opts.backoff_max_ms; i++)
        wait *= 2;
    if (wait > (uint64_t)e->opts.backoff_max_ms)
        wait = (uint64_t)e->opts.backoff_max_ms;
    wait = wait / 2 + (wait > 1 ? next_rand(e) % (wait / 2 + 1) : 0);
    if (retry_after_ms > 0 && (uint64_t)retry_after_ms > wait)
        wait = (uint64_t)retry_after_ms;
    ep->h.backoff_until_ms = now + wait;
    if (ep->h.breaker == RPC_BREAKER_HALF_OPEN || k >= e->opts.breaker_threshold) {
        ep->h.breaker = RPC_BREAKER_OPEN;
        ep->h.open_until_ms = now + (uint64_t)e->opts.breaker_cooldown_ms;
    }
}

/* True when a is a better choice than b. */
static int healthier(const struct rpc_health *a, const struct rpc_health *b, uint64_t now)
{
    int a_wait = a->backoff_until_ms > now, b_wait = b->backoff_until_ms > now;

    if (a_wait != b_wait)
        return b_wait;
    if (a->consecutive_errors != b->consecutive_errors)
        return a->consecutive_errors < b->consecutive_errors;
    return a->last_latency_ms >= 0 && (b->last_latency_ms < 0 ||
                                       a->last_latency_ms < b->last_latency_ms);
}

/* The healthiest endpoint not yet tried in this call whose breaker lets a
 * request through; an open one whose cool-down has ended is chosen as a
 * half-open trial. */
static struct endpoint *pick(struct rpc_endpoints *e, const unsigned char *tried)
{
    uint64_t now = now_ms();
    struct endpoint *best = NULL;

    for (size_t i = 0; i < e->n; i++) {
        struct endpoint *ep = &e->ep[i];
        if (tried[i] || (ep->h.breaker == RPC_BREAKER_OPEN && now < ep->h.open_until_ms))
            continue;
        if (best == NULL || healthier(&ep->h, &best->h, now))
            best = ep;
    }
    if (best != NULL && best->h.breaker == RPC_BREAKER_OPEN)
        best->h.breaker = RPC_BREAKER_HALF_OPEN;
    return best;
}

/* ---- calls ---- */

/* One exchange with one endpoint: POST payload, then parse with `parse`.
 * Records the endpoint's health. */
struct exchange {
    const char *method;
    uint64_t id;
    json_t *params;                 /* borrowed: single call */
    json_t **result;                /* single call */
    struct rpc_batch_item *items;   /* batch */
    size_t n;
};

static char *build_payload(const struct exchange *x)
{
    json_t *req;
    char *s;

    if (x->items == NULL) {
        req = json_pack("{s:s, s:I, s:s, s:O}", "jsonrpc", "2.0", "id", (json_int_t)x->id,
                        "method", x->method, "params", x->params);
    } else {
        req = json_array();
        for (size_t i = 0; req != NULL && i < x->n; i++) {
            json_t *one = json_pack("{s:s, s:I, s:s, s:O}", "jsonrpc", "2.0", "id",
                                    (json_int_t)(x->id + i), "method", x->items[i].method,
                                    "params", x->items[i].params);
            if (one == NULL || json_array_append_new(req, one) != 0) {
                json_decref(req);
                req = NULL;
            }
        }
    }
    s = req ? json_dumps(req, JSON_COMPACT) : NULL;
    json_decref(req);
    return s;
}

static _Atomic(rpc_observer_fn) observer;

void rpc_set_observer(rpc_observer_fn fn)
{
    atomic_store(&observer, fn);
}

static int exchange_once(struct rpc_endpoints *e, struct endpoint *ep, const struct exchange *x,
                         struct rpc_detail *d, struct mr_error *err)
{
    rpc_observer_fn obs;
    struct body b = {NULL, 0, 0, 0, 0, -1};
    uint64_t t0 = now_ms();
    struct timespec ts0;
    char *payload = build_payload(x);
    int rc;

    clock_gettime(CLOCK_MONOTONIC, &ts0);
    if (payload == NULL)
        return mr_fail(err, MR_ERR_NOMEM, "%s %s: cannot build the request", ep->h.name,
                       x->method);
    rc = http_post(e, ep, x->method, payload, &b, d, err);
    free(payload);
    if (rc == MR_OK) {
        const char *text = b.buf ? b.buf : "";
        if (x->items == NULL)
            rc = rpc_parse_response(text, b.len, e->opts.max_response, x->id, x->method,
                                    x->result, d, err);
        else if ((rc = rpc_parse_batch(text, b.len, e->opts.max_response, x->id, x->items, x->n,
                                       err)) != MR_OK)
            set_class(d, RPC_CLASS_PERMANENT, RPC_KIND_BAD_RESPONSE);
        if (rc != MR_OK)
            mr_error_prefix(err, rc, "%s %s: ", ep->h.name, x->method);
    }
    free(b.buf);
    if ((obs = atomic_load_explicit(&observer, memory_order_relaxed)) != NULL) {
        struct rpc_detail none;
        const struct rpc_detail *od = d;
        struct timespec t1;
        if (rc == MR_OK || d == NULL || d->cls == RPC_CLASS_NONE) {
            rpc_detail_clear(&none);
            if (rc != MR_OK) /* e.g. out of memory: not the node's doing, still a failure */
                none.cls = RPC_CLASS_PERMANENT;
            od = &none;
        }
        clock_gettime(CLOCK_MONOTONIC, &t1);
        obs(e->chain_id, (size_t)(ep - e->ep), x->method,
            (double)(t1.tv_sec - ts0.tv_sec) + (double)(t1.tv_nsec - ts0.tv_nsec) / 1e9, od);
    }
    if (rc == MR_OK || d == NULL || d->cls != RPC_CLASS_TRANSIENT)
        health_ok(ep, (long)(now_ms() - t0));
    else
        health_fail(e, ep, d->retry_after_ms);
    return rc;
}

/* Checks eth_chainId of ep once, before its first real call. */
static int check_chain(struct rpc_endpoints *e, struct endpoint *ep, struct rpc_detail *d,
                       struct mr_error *err)
{
    json_t *params = json_array(), *res = NULL;
    struct exchange x = {"eth_chainId", e->next_id++, params, &res, NULL, 0};
    uint64_t got;
    int rc;

    if (params == NULL)
        return mr_fail(err, MR_ERR_NOMEM, "out of memory");
    rc = exchange_once(e, ep, &x, d, err);
    json_decref(params);
    if (rc != MR_OK)
        return rc;
    if (!json_is_string(res) ||
        hex_decode_quantity_u64(json_string_value(res), json_string_length(res), &got, NULL)) {
        json_decref(res);
        set_class(d, RPC_CLASS_PERMANENT, RPC_KIND_BAD_RESPONSE);
        return mr_fail(err, MR_ERR_JSON, "%s eth_chainId: result is not a quantity", ep->h.name);
    }
    json_decref(res);
    if (got != e->chain_id) {
        struct mr_error e1;
        set_class(d, RPC_CLASS_FATAL, RPC_KIND_CHAIN_MISMATCH);
        mr_fail(&e1, MR_ERR_INVALID,
                "%s eth_chainId: the endpoint serves chain id %llu, configured %llu",
                ep->h.name, (unsigned long long)got, (unsigned long long)e->chain_id);
        /* Fatal for the whole set: a swapped endpoint is a configuration
         * error, and what it answered before cannot be trusted either. */
        e->fatal = 1;
        memcpy(e->fatal_msg, e1.msg, sizeof(e->fatal_msg));
        return mr_fail(err, MR_ERR_INVALID, "%s", e1.msg);
    }
    ep->h.chain_checked = 1;
    ep->chain_checked_ms = now_ms();
    return MR_OK;
}

/* The set saw a wrong chain id: fail every call with that message. */
static int fatal_set(const struct rpc_endpoints *e, struct rpc_detail *d, struct mr_error *err)
{
    set_class(d, RPC_CLASS_FATAL, RPC_KIND_CHAIN_MISMATCH);
    return mr_fail(err, MR_ERR_INVALID, "%s", e->fatal_msg);
}

/* eth_chainId is due before the first use and every chain_recheck_ms. */
static int chain_due(const struct rpc_endpoints *e, const struct endpoint *ep)
{
    return !ep->h.chain_checked ||
           (e->opts.chain_recheck_ms > 0 &&
            now_ms() - ep->chain_checked_ms >= (uint64_t)e->opts.chain_recheck_ms);
}

/* One try on ep: the chain id check when due, then the exchange. */
static int try_endpoint(struct rpc_endpoints *e, struct endpoint *ep, struct exchange *x,
                        struct rpc_detail *d, struct mr_error *err)
{
    int rc;

    e->last = ep->h.name;
    rpc_detail_clear(d);
    mr_error_clear(err);
    rc = chain_due(e, ep) ? check_chain(e, ep, d, err) : MR_OK;
    if (rc == MR_OK) {
        x->id = e->next_id;
        e->next_id += x->items ? x->n : 1;
        rc = exchange_once(e, ep, x, d, err);
    }
    return rc;
}

/* Tries the endpoints healthiest first; moves on only after a transient
 * failure.  The last failure is the one reported. */
static int run(struct rpc_endpoints *e, struct exchange *x, struct rpc_detail *d,
               struct mr_error *err)
{
    unsigned char tried[RPC_MAX_ENDPOINTS] = {0};
    struct rpc_detail local;
    struct endpoint *ep;
    int rc = MR_ERR_IO, any = 0;

    d = d ? d : &local;
    if (e->fatal)
        return fatal_set(e, d, err);
    while ((ep = pick(e, tried)) != NULL) {
        tried[ep - e->ep] = 1;
        any = 1;
        rc = try_endpoint(e, ep, x, d, err);
        if (rc == MR_OK || d->cls != RPC_CLASS_TRANSIENT)
            return rc;
    }
    if (!any) {
        rpc_detail_clear(d);
        set_class(d, RPC_CLASS_TRANSIENT, RPC_KIND_UNAVAILABLE);
        return mr_fail(err, MR_ERR_IO, "%s%s %s: every endpoint's circuit breaker is open",
                       e->ep[0].h.name, e->n > 1 ? " (and others)" : "", x->method);
    }
    return rc;
}

int rpc_call(struct rpc_endpoints *e, const char *method, json_t *params, json_t **result,
             struct rpc_detail *d, struct mr_error *err)
{
    struct exchange x = {method, 0, params ? params : json_array(), result, NULL, 0};
    int rc;

    *result = NULL;
    rpc_detail_clear(d);
    if (x.params == NULL)
        return mr_fail(err, MR_ERR_NOMEM, "%s: out of memory", method);
    rc = run(e, &x, d, err);
    json_decref(x.params);
    return rc;
}

int rpc_call_endpoint(struct rpc_endpoints *e, size_t i, const char *method, json_t *params,
                      json_t **result, struct rpc_detail *d, struct mr_error *err)
{
    struct exchange x = {method, 0, params ? params : json_array(), result, NULL, 0};
    struct rpc_detail local;
    struct endpoint *ep;
    int rc;

    assert(i < e->n);
    ep = &e->ep[i];
    *result = NULL;
    d = d ? d : &local;
    rpc_detail_clear(d);
    if (x.params == NULL)
        return mr_fail(err, MR_ERR_NOMEM, "%s: out of memory", method);
    if (e->fatal) {
        rc = fatal_set(e, d, err);
    } else if (ep->h.breaker == RPC_BREAKER_OPEN && now_ms() < ep->h.open_until_ms) {
        set_class(d, RPC_CLASS_TRANSIENT, RPC_KIND_UNAVAILABLE);
        rc = mr_fail(err, MR_ERR_IO, "%s %s: circuit breaker open", ep->h.name, method);
    } else {
        if (ep->h.breaker == RPC_BREAKER_OPEN)
            ep->h.breaker = RPC_BREAKER_HALF_OPEN;
        rc = try_endpoint(e, ep, &x, d, err);
    }
    json_decref(x.params);
    return rc;
}

int rpc_batch(struct rpc_endpoints *e, struct rpc_batch_item *items, size_t n,
              struct rpc_detail *d, struct mr_error *err)
{
    struct exchange x = {"batch", 0, NULL, NULL, items, n};

    rpc_detail_clear(d);
    if (n == 0 || n > RPC_MAX_BATCH)
        return mr_fail(err, MR_ERR_INVALID, "batch of %zu calls (1 to %d)", n, RPC_MAX_BATCH);
    for (size_t i = 0; i < n; i++) {
        if (items[i].params == NULL && (items[i].params = json_array()) == NULL)
            return mr_fail(err, MR_ERR_NOMEM, "batch: out of memory");
        items[i].result = NULL;
    }
    return run(e, &x, d, err);
}

/* ---- lifetime ---- */

int rpc_endpoints_new(const char *const *urls, size_t n, uint64_t chain_id,
                      const struct rpc_opts *opts, struct rpc_endpoints **out,
                      struct mr_error *err)
{
    struct rpc_endpoints *e;

    *out = NULL;
    if (n == 0 || n > RPC_MAX_ENDPOINTS)
        return mr_fail(err, MR_ERR_INVALID, "%zu endpoints (1 to %d)", n, RPC_MAX_ENDPOINTS);
    for (size_t i = 0; i < n; i++)
        if (strncmp(urls[i], "http://", 7) != 0 && strncmp(urls[i], "https://", 8) != 0)
            return mr_fail(err, MR_ERR_INVALID, "endpoint %zu: not an http(s) URL", i);
    if ((e = calloc(1, sizeof(*e))) == NULL)
        return mr_fail(err, MR_ERR_NOMEM, "out of memory");
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (opts != NULL)
        e->opts = *opts;
    else
        rpc_opts_default(&e->opts);
    e->chain_id = chain_id;
    e->next_id = 1;
    e->rng = (now_ms() << 16) ^ (uint64_t)getpid() ^ (uint64_t)(uintptr_t)e;
    e->rng |= 1;
    e->n = n;
    for (size_t i = 0; i < n; i++) {
        struct endpoint *ep = &e->ep[i];
        rpc_redact_url(urls[i], ep->h.name, sizeof(ep->h.name));
        ep->h.last_latency_ms = -1;
        ep->url = strdup(urls[i]);
        ep->curl = curl_easy_init();
        if (ep->url == NULL || ep->curl == NULL) {
            rpc_endpoints_free(e);
            return mr_fail(err, MR_ERR_NOMEM, "out of memory");
        }
    }
    *out = e;
    return MR_OK;
}

void rpc_endpoints_free(struct rpc_endpoints *e)
{
    if (e == NULL)
        return;
    for (size_t i = 0; i < e->n; i++) {
        if (e->ep[i].curl != NULL)
            curl_easy_cleanup(e->ep[i].curl);
        if (e->ep[i].url != NULL) {
            mr_wipe(e->ep[i].url, strlen(e->ep[i].url)); /* may hold a password */
            free(e->ep[i].url);
        }
    }
    free(e);
    curl_global_cleanup();
}

void rpc_endpoints_set_timeouts(struct rpc_endpoints *e, long connect_ms, long total_ms)
{
    if (connect_ms > 0)
        e->opts.connect_timeout_ms = connect_ms;
    if (total_ms > 0)
        e->opts.timeout_ms = total_ms;
}

void rpc_endpoints_set_chain_recheck(struct rpc_endpoints *e, long ms)
{
    e->opts.chain_recheck_ms = ms > 0 ? ms : 0;
}

void rpc_endpoints_set_max_response(struct rpc_endpoints *e, size_t cap)
{
    e->opts.max_response = cap;
}

const char *rpc_endpoints_last(const struct rpc_endpoints *e)
{
    return e->last != NULL ? e->last : "";
}

size_t rpc_endpoints_count(const struct rpc_endpoints *e)
{
    return e->n;
}

const struct rpc_health *rpc_endpoints_health(const struct rpc_endpoints *e, size_t i)
{
    assert(i < e->n);
    return &e->ep[i].h;
}
