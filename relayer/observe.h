/*
 * observe.h - what `run` adds to the metrics registry (relayer/metrics.h)
 * and the listener's readiness check:
 *
 *   - the node-request observer: every HTTP exchange with a node, from any
 *     thread (watchers, handlers, senders, the collector), counted in
 *     mosaic_rpc_request_duration_seconds{chain,endpoint,method} and, when
 *     it failed, mosaic_rpc_errors_total{chain,endpoint,kind};
 *   - the collector thread: metrics_collect_db() on a connection of its own
 *     every interval, and each signer's balance on every chain
 *     (eth_getBalance on node clients of its own);
 *   - the readiness check for /readyz: metrics_ready_db() on a dedicated
 *     connection with a short statement and connect timeout, reconnected
 *     when lost; its database may change at a reload.
 *
 * Label values are chain keys and endpoint indexes, never URLs.
 */
#ifndef MR_OBSERVE_H
#define MR_OBSERVE_H

#include <stddef.h>
#include <stdint.h>

#include "eth/error.h"
#include "relayer/config.h"

/* Installs the process-wide node-request observer for cfg's chains (chain
 * ids are labelled with their chain keys; an unknown one with its decimal
 * id).  Copies what it needs: cfg may be freed after.  Calling it again
 * replaces the chains (a reload).  Thread-safe. */
void observe_rpc_install(const struct config *cfg);
/* Removes the observer. */
void observe_rpc_remove(void);

struct observe_collector;

/* Starts the collector thread: every interval_ms (0: 5000) it refreshes
 * the database families from `conninfo` and the balances of addrs[n] (the
 * keys this process holds) on every chain of cfg.  cfg and conninfo are
 * borrowed until observe_collector_stop.  Out: *out. */
int observe_collector_start(const struct config *cfg, const char *conninfo,
                            const uint8_t (*addrs)[20], size_t n, int interval_ms,
                            struct observe_collector **out, struct mr_error *err);
/* Stops and joins the thread, frees c.  NULL-safe. */
void observe_collector_stop(struct observe_collector *c);

struct observe_ready;

/* A readiness check (metrics_ready_fn with ctx = the struct) on database
 * `conninfo` (copied), ready while every chain's watcher is at most
 * max_lag final blocks behind.  Out: *out (observe_ready_free). */
int observe_ready_new(const char *conninfo, int64_t max_lag, struct observe_ready **out,
                      struct mr_error *err);
/* Points the check at another database (a reload); thread-safe. */
void observe_ready_set_conninfo(struct observe_ready *r, const char *conninfo);
/* The callback for metrics_server_start (ctx: the struct observe_ready). */
int observe_ready(void *ctx, char *why, size_t cap);
void observe_ready_free(struct observe_ready *r);

#endif /* MR_OBSERVE_H */
