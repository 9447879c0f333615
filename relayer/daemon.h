/*
 * daemon.h - `mosaic-relayer run`: the relayer's process shell.
 *
 * One process runs the parts of its role; several processes (on several
 * hosts) share one Postgres:
 *   watcher  the chain watchers (watchers/: one per chain, single-owner by
 *            advisory lock);
 *   worker   the job workers for `msg` jobs, and the sender thread of the
 *            facilitator key;
 *   anchor   the anchorer: periodic `anchor` jobs, their workers, and the
 *            sender thread of the anchor (organization admin) key;
 *   all      everything (the default).
 * A sender thread per key (one process per key: the signer's advisory lock)
 * runs txm_poll on every chain: it signs the intents the flows recorded, in
 * nonce order, broadcasts them, follows them to finality, and replaces
 * stuck ones.  Flows in this process wake it at once after recording.
 *
 * Every role but `watcher` also runs the conservation monitor (a thread:
 * relayer.conservation, relayer/flows/conservation.c), whose breaker stops
 * the flows from recording calls for a pair (db/breaker.h).
 *
 * Threads share nothing mutable but Postgres, the flows' counters and the
 * stop flag; each has its own database connection and node clients.
 *
 * Logs go through relayer/log.h (set up by the caller: `run` does it from
 * log.level and log.format, and routes libpq's notices there too).  With
 * metrics.listen set, a started daemon also counts every node request and
 * runs the metrics collector thread (relayer/observe.h); `run` serves the
 * listener (/metrics, /healthz, /readyz), which outlives reloads that keep
 * its address.  Job handler runs are timed into
 * mosaic_job_duration_seconds{kind,outcome} always.
 */
#ifndef MR_DAEMON_H
#define MR_DAEMON_H

#include <signal.h>
#include <stdint.h>
#include <stdio.h>

#include <libpq-fe.h>

#include "eth/error.h"
#include "relayer/config.h"

enum daemon_role { DAEMON_ALL = 0, DAEMON_WATCHER, DAEMON_WORKER, DAEMON_ANCHOR };

struct daemon_opts {
    const char *conninfo;      /* the database (resolved) */
    enum daemon_role role;
    int sender_idle_ms;        /* sender poll when nothing is pending; 0: 1000 */
    int sender_busy_ms;        /* ... while transactions are pending; 0: 200 */
    int anchor_tick_ms;        /* how often `anchor` jobs are enqueued; 0: from max_interval */
    int64_t wait_min_ms;       /* flows: first re-run delay of a waiting message; 0: 500 */
    int metrics_interval_ms;   /* with metrics.listen: database metrics refresh; 0: 5000 */
};

/* What a run did (for tests and the exit log). */
struct daemon_stats {
    uint64_t anchors, proves, calls, halts;   /* intents the flows recorded */
    uint64_t jobs_completed, jobs_retried;
};

/* Parses "watcher" | "worker" | "anchor" | "all".  -1 if unknown. */
int daemon_role_parse(const char *s);

/* Registers the config's chains in mosaic.chains (a chain already there
 * with another chain id or role is refused). */
int daemon_register_chains(const struct config *cfg, PGconn *conn, struct mr_error *err);

struct daemon;

/* Opens what o->role needs (database checks, chains, keys) and starts its
 * threads.  cfg and o are borrowed until daemon_stop.  Out: *out.  Returns
 * an error without starting anything if the database is unsafe (fsync
 * off), not migrated, a key cannot be opened (wrong password, in use by
 * another process), or the config's chains disagree with the database. */
int daemon_start(const struct config *cfg, const struct daemon_opts *o, struct daemon **out,
                 struct mr_error *err);

/* Stops claiming jobs, lets running handlers finish, releases claimed jobs
 * not started, gives each sender a last pass, joins every thread and frees
 * d.  Out: *stats (may be NULL). */
void daemon_stop(struct daemon *d, struct daemon_stats *stats);

/* daemon_start, then daemon_stop once *stop is non-zero (polled). */
int daemon_run(const struct config *cfg, const struct daemon_opts *o,
               volatile sig_atomic_t *stop, struct daemon_stats *stats, struct mr_error *err);


/* The `run` command. */
int cli_run(int argc, char **argv);

#endif /* MR_DAEMON_H */
