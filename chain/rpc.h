/*
 * rpc.h - JSON-RPC 2.0 over HTTP (libcurl), with failover between the
 * endpoints of one chain.
 *
 * Layers, bottom up:
 *   - the response parser (rpc.c: rpc_parse_response, rpc_parse_batch):
 *     pure, no I/O, fuzzed; checks the envelope strictly (jsonrpc "2.0", the
 *     id we sent, exactly one of result / error), bounds size and nesting
 *     depth, and classifies node errors (rpc_classify_node_error);
 *   - struct rpc_endpoints (rpc_http.c): N URLs of one chain, each with one
 *     reusable curl easy handle (keep-alive), health (consecutive errors,
 *     last latency), backoff with jitter and a circuit breaker; a call goes
 *     to the healthiest endpoint and fails over on transient errors only.
 *     The chain id of an endpoint is checked (eth_chainId) before its first
 *     use and again every chain_recheck_ms; a wrong chain id is fatal for
 *     the whole set: every later call fails with it (RELIABILITY.md row
 *     27).
 *
 * Every error message names the endpoint (its URL without user:pass@) and
 * the method.  Results are jansson values: new references the caller
 * decrefs.  Typed Ethereum calls live in chain/ethrpc.h.
 *
 * A struct rpc_endpoints is not thread-safe: one per thread.
 */
#ifndef MR_RPC_H
#define MR_RPC_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "eth/abi.h"
#include "eth/error.h"

/* Defaults and bounds. */
#define RPC_MAX_ENDPOINTS 16
#define RPC_MAX_DEPTH 64                    /* JSON nesting a response may have */
#define RPC_DEFAULT_MAX_RESPONSE (32u << 20) /* 32 MiB */
#define RPC_MAX_BATCH 256
#define RPC_URL_MAX 512

/* Whether retrying (here or elsewhere) can help. */
enum rpc_class {
    RPC_CLASS_NONE = 0,  /* success */
    RPC_CLASS_TRANSIENT, /* timeout, refused, 5xx, 429: another try may work */
    RPC_CLASS_PERMANENT, /* the node answered no, or the answer is malformed */
    RPC_CLASS_FATAL      /* configuration: wrong chain id; stop */
};

/* What went wrong, finer than the class. */
enum rpc_kind {
    RPC_KIND_NONE = 0,
    RPC_KIND_TIMEOUT,        /* connect or total timeout */
    RPC_KIND_CONNECT,        /* refused, unreachable, reset, DNS */
    RPC_KIND_HTTP,           /* an HTTP status other than 200 */
    RPC_KIND_RATE_LIMITED,   /* HTTP 429 (retry_after_ms may be set) */
    RPC_KIND_TOO_BIG,        /* response past the size cap */
    RPC_KIND_BAD_RESPONSE,   /* not a valid JSON-RPC response */
    RPC_KIND_NODE,           /* a node error not classified below */
    RPC_KIND_NONCE_TOO_LOW,
    RPC_KIND_ALREADY_KNOWN,  /* "already known", "transaction already imported" */
    RPC_KIND_UNDERPRICED,    /* "replacement transaction underpriced" */
    RPC_KIND_INSUFFICIENT_FUNDS,
    RPC_KIND_REVERTED,       /* "execution reverted": see revert_* */
    RPC_KIND_RANGE_TOO_LARGE, /* eth_getLogs: range or result count refused */
    RPC_KIND_CHAIN_MISMATCH, /* the endpoint serves another chain */
    RPC_KIND_UNAVAILABLE     /* every endpoint's circuit is open */
};

/* The detail of one failed call.  A plain value owned by the caller. */
struct rpc_detail {
    enum rpc_class cls;
    enum rpc_kind kind;
    long http_status;         /* 0 if none */
    long retry_after_ms;      /* from Retry-After, -1 if absent */
    long node_code;           /* JSON-RPC error code, 0 if none */
    char node_message[160];   /* the node's message, truncated, "" if none */
    /* RPC_KIND_REVERTED: the decoded revert data (eth/abi.h). */
    int has_revert;
    enum abi_revert_kind revert_kind;
    char revert_reason[160];  /* Error(string) text, printable ASCII only */
    uint8_t revert_selector[4];
    uint8_t revert_panic[32]; /* Panic(uint256) code, big-endian */
};

/* Static name of a class / kind ("transient", "nonce too low"). */
const char *rpc_class_name(enum rpc_class cls);
const char *rpc_kind_name(enum rpc_kind kind);
/* Resets *d (may be NULL) to "no error". */
void rpc_detail_clear(struct rpc_detail *d);

/* ---- the pure parser ---- */

/* Classifies a JSON-RPC `error` member (borrowed) into *d: code, message,
 * kind (by the node's message, as geth/anvil/nethermind word them) and, for
 * reverts, the revert data in error.data decoded with abi_decode_revert. */
void rpc_classify_node_error(json_t *error, const char *method, struct rpc_detail *d);

/* Parses text[len] as JSON with at most RPC_MAX_DEPTH levels of nesting and
 * `cap` bytes.  Returns a new reference in *out, or MR_ERR_TOOBIG (size or
 * depth) / MR_ERR_JSON. */
int rpc_json_load(const char *text, size_t len, size_t cap, json_t **out, struct mr_error *err);

/* Checks one response object (borrowed) for request `id`.  Out: *result, a
 * new reference (JSON null included) on MR_OK.  A node error gives
 * MR_ERR_RPC with *d filled by rpc_classify_node_error (cls PERMANENT
 * unless rate limited).  A malformed
 * envelope gives MR_ERR_JSON, cls PERMANENT, kind BAD_RESPONSE. */
int rpc_check_response(json_t *resp, uint64_t id, const char *method, json_t **result,
                       struct rpc_detail *d, struct mr_error *err);

/* rpc_json_load + rpc_check_response on a whole HTTP body. */
int rpc_parse_response(const char *text, size_t len, size_t cap, uint64_t id, const char *method,
                       json_t **result, struct rpc_detail *d, struct mr_error *err);

/* One call of a batch.  The caller sets method and params (a JSON array;
 * the batch steals the reference); the batch fills the rest: rc (MR_OK or
 * the call's own failure), result (new reference on MR_OK), detail, msg. */
struct rpc_batch_item {
    const char *method;
    json_t *params;
    int rc;
    json_t *result;
    struct rpc_detail detail;
    char msg[MR_ERROR_MSG_LEN];
};

/* Parses a batch answer: an array whose members carry the ids
 * first_id..first_id+n-1 in any order, each exactly once.  Fills each
 * item's rc/result/detail/msg.  Returns MR_OK when the envelope is sound
 * (individual calls may still have failed), else MR_ERR_JSON / TOOBIG. */
int rpc_parse_batch(const char *text, size_t len, size_t cap, uint64_t first_id,
                    struct rpc_batch_item *items, size_t n, struct mr_error *err);

/* THE form in which an endpoint URL (http(s)://, ws(s)://) may reach any
 * text: error messages, logs, `config check`, `status`.  Node providers put
 * API keys in the userinfo ("user:KEY@"), the path ("/v3/KEY") or the query
 * ("?apikey=KEY"), so out[cap] (always terminated, truncated to cap) gets
 * only "scheme://host[:port]", followed by "/..." when anything but "" or
 * "/" follows the authority.  A host part that is not plain host[:port]
 * shows as "(hidden)"; an input without a "scheme://" as "(hidden URL)".
 * E.g. "https://u:p@node.example:8545/v3/KEY?x=1" ->
 * "https://node.example:8545/...".  Never print a configured URL any other
 * way.  Pure (no I/O). */
void rpc_redact_url(const char *url, char *out, size_t cap);

/* ---- endpoints ---- */

struct rpc_opts {
    long connect_timeout_ms;   /* default 3000 */
    long timeout_ms;           /* total per HTTP request; default 15000 */
    size_t max_response;       /* default RPC_DEFAULT_MAX_RESPONSE */
    unsigned breaker_threshold; /* consecutive transient failures that open it; default 5 */
    long breaker_cooldown_ms;  /* open -> half-open; default 30000 */
    long backoff_base_ms;      /* first backoff; default 200, doubling, jittered */
    long backoff_max_ms;       /* default 30000 */
    long chain_recheck_ms;     /* eth_chainId again when the last check is older; default
                                * 300000; 0: only before the first use */
};

/* Fills *o with the defaults. */
void rpc_opts_default(struct rpc_opts *o);

enum rpc_breaker { RPC_BREAKER_CLOSED = 0, RPC_BREAKER_OPEN, RPC_BREAKER_HALF_OPEN };

/* Health of one endpoint, read with rpc_endpoints_health(). */
struct rpc_health {
    char name[RPC_URL_MAX];       /* the URL as rpc_redact_url shows it */
    unsigned consecutive_errors;  /* transient failures in a row */
    uint64_t calls, errors;       /* totals */
    long last_latency_ms;         /* of the last answered request, -1 if none */
    enum rpc_breaker breaker;
    uint64_t open_until_ms;       /* monotonic ms when OPEN ends */
    uint64_t backoff_until_ms;    /* monotonic ms before which it is avoided */
    int chain_checked;            /* eth_chainId verified */
};

struct rpc_endpoints;

/* Creates the endpoints of the chain `chain_id` over urls[n] (borrowed; 1 <=
 * n <= RPC_MAX_ENDPOINTS).  opts may be NULL for the defaults.  No network
 * traffic yet.  Out: *out, freed with rpc_endpoints_free().  Returns MR_OK,
 * MR_ERR_INVALID (bad URL, n out of range) or MR_ERR_NOMEM. */
int rpc_endpoints_new(const char *const *urls, size_t n, uint64_t chain_id,
                      const struct rpc_opts *opts, struct rpc_endpoints **out,
                      struct mr_error *err);
void rpc_endpoints_free(struct rpc_endpoints *e);

/* Changes the timeouts of the following calls (0 keeps a value). */
void rpc_endpoints_set_timeouts(struct rpc_endpoints *e, long connect_ms, long total_ms);
/* Changes the chain id re-check interval (0: first use only). */
void rpc_endpoints_set_chain_recheck(struct rpc_endpoints *e, long ms);
/* Changes the response cap of the following calls. */
void rpc_endpoints_set_max_response(struct rpc_endpoints *e, size_t cap);

size_t rpc_endpoints_count(const struct rpc_endpoints *e);
/* Health of endpoint i (borrowed, valid until the next call). */
const struct rpc_health *rpc_endpoints_health(const struct rpc_endpoints *e, size_t i);

/* Name (URL without userinfo) of the endpoint that served the last call,
 * for messages about its answer.  Borrowed; "" before any call. */
const char *rpc_endpoints_last(const struct rpc_endpoints *e);

/* Calls `method` with `params` (a JSON array, stolen; NULL means []).
 * Out: *result, a new reference on MR_OK (may be JSON null).  *d (may be
 * NULL) classifies a failure.  Returns MR_OK; MR_ERR_IO (transport or HTTP);
 * MR_ERR_RPC (the node's error answer: see d->kind); MR_ERR_JSON (malformed answer); MR_ERR_TOOBIG
 * (answer past the cap); MR_ERR_INVALID (fatal: wrong chain id). */
int rpc_call(struct rpc_endpoints *e, const char *method, json_t *params, json_t **result,
             struct rpc_detail *d, struct mr_error *err);

/* rpc_call on endpoint i only (no failover), for reads that compare
 * endpoints (quorum).  An endpoint whose circuit is open is not asked:
 * MR_ERR_IO with d->kind RPC_KIND_UNAVAILABLE. */
int rpc_call_endpoint(struct rpc_endpoints *e, size_t i, const char *method, json_t *params,
                      json_t **result, struct rpc_detail *d, struct mr_error *err);

/* Sends items[n] as one JSON-RPC batch (one POST) and matches the answers
 * by id.  The transport fails over as rpc_call does.  Returns MR_OK when
 * the batch came back (check each item's rc), else as rpc_call. */
int rpc_batch(struct rpc_endpoints *e, struct rpc_batch_item *items, size_t n,
              struct rpc_detail *d, struct mr_error *err);
/* A process-wide observer of every HTTP exchange with a node, for metrics:
 * the set's chain id, the endpoint's index in its set, the method ("batch"
 * for a batch), the duration in seconds, and the failure detail (d->cls
 * RPC_CLASS_NONE when the node answered with a result).  Called on the
 * calling thread after each exchange: it must be thread-safe, fast, and
 * never call back into this module.  NULL (the default): none. */
typedef void (*rpc_observer_fn)(uint64_t chain_id, size_t endpoint, const char *method,
                                double seconds, const struct rpc_detail *d);
void rpc_set_observer(rpc_observer_fn fn);

/* Releases the items' results and params.  NULL-safe. */
void rpc_batch_clear(struct rpc_batch_item *items, size_t n);

#endif /* MR_RPC_H */
