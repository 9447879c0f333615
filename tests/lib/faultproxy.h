/*
 * faultproxy.h - a loopback JSON-RPC proxy that injects faults, for tests
 * (RELIABILITY.md §5 "RPC faults").  It listens on 127.0.0.1 (a free port),
 * forwards each HTTP POST to the upstream node, and applies the rule set
 * for the request's JSON-RPC method (or for every method with "*"):
 * delay, an HTTP error status, forward-then-drop the reply (the ambiguous
 * send), a truncated body, a `null` result, a rewritten string in the
 * reply (a lying node), or a JSON-RPC error answered in the node's place
 * (geth's "missing trie node" for a pruned state).  A rule may apply only
 * to requests whose body contains a given string (a block number, an
 * address).  Counts requests per method.
 */
#ifndef MR_FAULTPROXY_H
#define MR_FAULTPROXY_H

#include <stddef.h>

enum fp_action {
    FP_PASS = 0,
    FP_DELAY,        /* param: milliseconds before forwarding */
    FP_STATUS,       /* param: HTTP status to answer (500, 429: Retry-After 1) */
    FP_DROP_REPLY,   /* forward to the node, then close without answering */
    FP_TRUNCATE,     /* forward, answer with the first half of the body */
    FP_NULL_RESULT,  /* forward, answer {"jsonrpc":"2.0","id":..,"result":null} */
    FP_REWRITE,      /* forward, replace `from` by `to` in the body */
    FP_LOG_LIMIT,    /* forward; a result array longer than param becomes the
                      * node error -32005 "query returned more than param
                      * results" (counted as method "(refused)") */
    FP_NODE_ERROR,   /* not forwarded: answer {"jsonrpc":"2.0","id":..,"error":
                      * {"code":param,"message":to}} with HTTP 200 (counted
                      * as method "(node error)" too) */
    FP_LAG_HEAD      /* forward; every eth_blockNumber answer in the reply
                      * (alone or in a batch) is param blocks lower: a node
                      * whose head lags (use with method "*": batches are
                      * method "(batch)") */
};

struct fproxy;

/* Starts a proxy to upstream_url ("http://127.0.0.1:PORT").  NULL on
 * failure. */
struct fproxy *fproxy_start(const char *upstream_url);
/* "http://127.0.0.1:PORT" of the proxy (borrowed). */
const char *fproxy_url(const struct fproxy *p);
/* Sets the rule for `method` ("*": all); `times` > 0 applies it that many
 * times, then passes; 0 forever.  from/to are for FP_REWRITE. */
void fproxy_rule(struct fproxy *p, const char *method, enum fp_action action, int param,
                 int times, const char *from, const char *to);
/* As fproxy_rule, for the requests of `method` whose body contains `match`
 * (e.g. "\"0x1f\"" for a block parameter); other requests of the method
 * go on to the next rule.  Rules are tried in the order they were set. */
void fproxy_rule_if(struct fproxy *p, const char *method, const char *match,
                    enum fp_action action, int param, int times, const char *from,
                    const char *to);
/* Shorthand: the node error `code` `message` for the requests of `method`
 * whose body contains `match` (NULL: all), `times` times (0: forever). */
void fproxy_node_error(struct fproxy *p, const char *method, const char *match, int code,
                       const char *message, int times);
void fproxy_clear(struct fproxy *p);
/* Requests seen for `method` ("*": all). */
int fproxy_count(struct fproxy *p, const char *method);
void fproxy_stop(struct fproxy *p);

#endif /* MR_FAULTPROXY_H */
