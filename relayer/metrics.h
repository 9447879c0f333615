/*
 * metrics.h - the relayer's Prometheus metrics: a fixed registry of
 * counters, gauges and histograms with labels, rendered in the Prometheus
 * text exposition format (version 0.0.4), and a small HTTP listener
 * (libwebsockets) serving /metrics, /healthz and /readyz.
 *
 * Every metric family is declared once, in metrics.c (the table
 * `families`); each has one function below that the rest of the relayer
 * calls (metrics_rpc_error, metrics_job_duration, ...).  Families whose
 * truth is in Postgres (queue depth, messages by state, chain heads and
 * watcher lag, transactions, anchors, signer nonces, open alerts) are
 * refreshed by metrics_collect_db(), which the daemon calls periodically
 * on a connection of its own; the rest are updated where things happen.
 *
 * Cost: an update finds its series by a linear scan of the family's label
 * values (a handful of series per family) and changes it with one atomic
 * operation; no lock, no allocation.  The first update of a new label
 * combination takes a mutex and a slot from a fixed pool; when the pool or
 * the family is full the update is dropped and counted in
 * mosaic_metrics_series_dropped_total.  Label values longer than
 * METRIC_LABEL_LEN - 1 bytes are cut.
 *
 * Label values are ours (chain keys, flow and state names, job kinds,
 * endpoint indexes, addresses): never put an endpoint URL (API keys), a
 * conninfo or anything secret in a label.
 *
 * Thread-safe: everything, except metrics_reset_for_tests().
 */
#ifndef MR_METRICS_H
#define MR_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "eth/error.h"

#define METRIC_MAX_LABELS 4
#define METRIC_LABEL_LEN 48        /* a label value, NUL included */
#define METRIC_MAX_SERIES 256      /* per family */
#define METRIC_POOL_SERIES 2048    /* all families together */
#define METRIC_MAX_BUCKETS 15      /* finite histogram bounds, +Inf added */

/* ------------------------------------------------- the metric families -- */

/* Chains (metrics_collect_db, or the watcher's owner): latest head,
 * finalized (safe) head and the watcher's cursor, and the lag = finalized -
 * cursor in blocks. */
void metrics_chain(const char *chain, int64_t head, int64_t finalized, int64_t cursor);

/* A node request that failed: `kind` is "transient", "permanent", "fatal",
 * "timeout" or "mismatch".  `endpoint` is the endpoint's index in the
 * chain's config (never its URL: hosted URLs carry API keys). */
void metrics_rpc_error(const char *chain, int endpoint, const char *kind);
/* How long one node request took (answered or not), in seconds. */
void metrics_rpc_latency(const char *chain, int endpoint, const char *method, double seconds);

/* Jobs by kind and state (metrics_collect_db). */
void metrics_queue_depth(const char *kind, const char *state, double jobs);
/* One handler run: kind, outcome ("completed", "retry", "failed",
 * "cancelled") and its duration in seconds. */
void metrics_job_duration(const char *kind, const char *outcome, double seconds);

/* Messages by flow ("stake", "redeem") and relayer state
 * (metrics_collect_db). */
void metrics_messages(const char *flow, const char *state, double messages);
/* A message entered `state` (the flows, at each transition). */
void metrics_message_transition(const char *flow, const char *state);
/* Open messages not updated for over 10 minutes (metrics_collect_db). */
void metrics_messages_stuck(double messages);

/* Transactions: open ones by state, and totals of failed ones and of
 * replacements (metrics_collect_db: the database is the truth). */
void metrics_tx_pending(const char *chain, const char *state, double txs);
void metrics_tx_failed(const char *chain, double total);
void metrics_tx_replaced(const char *chain, double total);

/* Anchoring (metrics_collect_db): per Anchor chain and remote chain, the
 * seconds since a new state root was last observed there, and the latest
 * anchored height. */
void metrics_anchor(const char *chain, const char *remote, double age_seconds, int64_t height);

/* Signers: a key's balance in ether (the daemon, from eth_getBalance) and
 * its next nonce and halt flag (metrics_collect_db).  `address` is 0x-hex. */
void metrics_signer_balance(const char *chain, const char *address, double ether);
void metrics_signer_nonce(const char *chain, const char *address, int64_t next_nonce, int halted);

/* A storage or account proof that did not verify, with a short reason
 * ("proof", "root-mismatch", "status"). */
void metrics_proof_rejected(const char *chain, const char *reason);

/* Messages held by the per-message or per-hour value limits, per gateway
 * pair: how many and their value in the value token's base unit (wei). */
void metrics_limits_held(const char *pair, double messages, double value_wei);

/* The conservation breaker of a gateway pair (metrics_collect_db, from
 * mosaic.breakers): tripped (1) or not, and the last check's figures in
 * base units: utility tokens circulating on the auxiliary chain and value
 * tokens backing them on origin. */
void metrics_conservation(const char *pair, int tripped, double circulating, double backing);

/* Open alerts by severity (metrics_collect_db). */
void metrics_alerts_open(const char *severity, double alerts);

/* Refreshes every database-backed family from `db` (borrowed; the caller's
 * connection, used by no other thread meanwhile).  Series that no longer
 * have rows go to 0; states of the state machines are always present.
 * Counts its failures in mosaic_metrics_collect_errors_total. */
int metrics_collect_db(PGconn *db, struct mr_error *err);

/* ------------------------------------------------------------ rendering -- */

/* Renders every family in the Prometheus text format.  Out: *out
 * (malloc'd, NUL-terminated; caller frees) and *len. */
int metrics_render(char **out, size_t *len, struct mr_error *err);

/* ------------------------------------------- the generic registry, used
 * by the functions above and by tests -- */

enum metric_type { METRIC_COUNTER, METRIC_GAUGE, METRIC_HISTOGRAM };

/* The families, in the order of the table in metrics.c. */
enum metric_id {
    MX_CHAIN_HEAD, MX_CHAIN_FINALIZED, MX_CHAIN_CURSOR, MX_WATCHER_LAG,
    MX_RPC_ERRORS, MX_RPC_LATENCY,
    MX_QUEUE_JOBS, MX_JOB_DURATION,
    MX_MESSAGES, MX_MESSAGE_TRANSITIONS, MX_MESSAGES_STUCK,
    MX_TX_PENDING, MX_TX_FAILED, MX_TX_REPLACED,
    MX_ANCHOR_AGE, MX_ANCHOR_HEIGHT,
    MX_SIGNER_BALANCE, MX_SIGNER_NONCE, MX_SIGNER_HALTED,
    MX_PROOFS_REJECTED,
    MX_LIMITS_HELD_MESSAGES, MX_LIMITS_HELD_VALUE,
    MX_ALERTS_OPEN,
    MX_CONSERVATION_TRIPPED, MX_CONSERVATION_CIRCULATING, MX_CONSERVATION_BACKING,
    MX_PROCESS_START, MX_COLLECT_ERRORS, MX_SERIES_DROPPED,
    MX__COUNT
};

struct metric_series;

/* The series of family `id` with these label values (as many as the family
 * has labels), created on first use.  NULL when no slot is left (the
 * update is then dropped and counted).  The pointer stays valid for the
 * process's life: callers may keep it. */
struct metric_series *metric_series(enum metric_id id, const char *const *values);

/* Updates (NULL-safe).  inc/add on counters and gauges; set on gauges (and
 * on counters copied from a database count); observe on histograms. */
void metric_add(struct metric_series *s, double v);
void metric_set(struct metric_series *s, double v);
void metric_observe(struct metric_series *s, double v);
/* The current value (a histogram's sum). */
double metric_value(const struct metric_series *s);

/* The family's name ("mosaic_rpc_errors_total"). */
const char *metric_name(enum metric_id id);

/* Forgets every series (tests only; nothing may use the registry meanwhile). */
void metrics_reset_for_tests(void);

/* ------------------------------------------------------ the HTTP listener -- */

/* Readiness: returns 1 when ready, 0 when not; may write a one-line reason
 * (both cases) into why[cap].  Called on the listener's thread for each
 * GET /readyz: it must be thread-safe and bounded in time (use a dedicated
 * database connection with a statement timeout). */
typedef int (*metrics_ready_fn)(void *ctx, char *why, size_t cap);

struct metrics_server;

/* Listens on `listen` ("127.0.0.1:9464", "[::1]:9464", "0.0.0.0:9464";
 * port 0 picks a free port) and serves, from a thread of its own:
 *   GET /metrics  the registry (text/plain; version=0.0.4)
 *   GET /healthz  200 "ok" while the process runs
 *   GET /readyz   200 when ready(ctx) says so, else 503, with its reason
 *                 (ready NULL: always ready)
 * anything else 404, other methods 405.  Out: *out.  An address that does
 * not parse or cannot be bound is an error naming it. */
int metrics_server_start(const char *listen, metrics_ready_fn ready, void *ctx,
                         struct metrics_server **out, struct mr_error *err);

/* The port actually bound (useful with port 0). */
int metrics_server_port(const struct metrics_server *srv);

/* Stops serving, joins the thread and frees srv.  NULL-safe. */
void metrics_server_stop(struct metrics_server *srv);

/* A readiness check for the daemon's callback: the database answers (a
 * query within its statement timeout) and every chain's watcher lag
 * (finalized - cursor, from mosaic.chains) is at most max_lag blocks; a
 * chain whose watcher has not started yet counts as not ready.  Returns 1 /
 * 0 and a reason in why[cap]. */
int metrics_ready_db(PGconn *db, int64_t max_lag, char *why, size_t cap);

#endif /* MR_METRICS_H */
