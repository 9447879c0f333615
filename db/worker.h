/*
 * worker.h - the queue's worker runtime: one fetch thread (the caller's)
 * that listens, claims, heartbeats, flushes completions and runs the
 * maintenance passes, and `slots` handler threads, each with its own
 * connection.
 *
 * Wake-up is LISTEN/NOTIFY on QUEUE_CHANNEL plus a jittered fallback poll
 * and a trailing claim shortly after each notification (which covers the
 * enqueues whose NOTIFY was throttled).  Claims are sized to the free
 * slots.  Completions of handlers that do not complete in their own
 * transaction are flushed in batches (every complete_flush_ms or
 * complete_batch results).  A lost connection is re-established with capped,
 * jittered backoff; results wait until they can be written.  When *stop
 * becomes non-zero the runtime stops claiming, releases claimed jobs that
 * have not started, lets running handlers finish, flushes, unregisters and
 * returns.
 */
#ifndef MR_WORKER_H
#define MR_WORKER_H

#include <signal.h>
#include <stdint.h>
#include <stdio.h>

#include <libpq-fe.h>

#include "db/queue.h"
#include "eth/error.h"

struct queue_worker_opts {
    const char *conninfo;
    const char *owner;          /* worker id; NULL: "host:pid:random" */
    int slots;                  /* handler threads; 0: 4 */
    int prefetch;               /* jobs claimed ahead of free slots (a local queue,
                                   as graphile-worker's); 0: claims are sized to
                                   the free slots exactly */
    const char *const *kinds;   /* NULL: every kind */
    size_t nkinds;
    int poll_ms;                /* fallback poll, jittered +-50%; 0: 1000 */
    int heartbeat_ms;           /* 0: 1000 */
    int dead_after_ms;          /* the reaper's silence threshold; 0: 10000 */
    int maintenance_ms;         /* scheduler + reaper period; 0: 200 */
    int complete_batch;         /* 0: 100 */
    int complete_flush_ms;      /* 0: 2 */
    int trailing_claim_ms;      /* 0: 3 */
    int64_t retention_s;        /* completed jobs kept; 0: 86400 */
    int64_t backoff_base_ms;    /* retry backoff; 0: 1000 */
    int64_t backoff_cap_ms;     /* 0: 3600000 */
    FILE *log;                  /* progress and errors; NULL: quiet */
    /* Instead of `log` (when set): each line (no newline, no secrets) with
     * its level (0 error, 1 warning, 2 info) and the job it is about (0:
     * none).  Called from the runtime's threads: must be thread-safe. */
    void (*log_fn)(void *ctx, int level, int64_t job, const char *line);
    void *log_ctx;
};

/* What a handler reports. */
enum queue_outcome {
    QUEUE_DONE = 0,      /* success: the runtime completes the job (batched) */
    QUEUE_DONE_IN_TX,    /* success, already completed with queue_complete_in_tx */
    QUEUE_RETRY,         /* failure: retry with backoff (dead after max attempts) */
    QUEUE_DEAD,          /* permanent failure: failed at once */
    QUEUE_CANCEL,        /* nothing to do: cancelled */
    QUEUE_LOST           /* the fence refused the handler's in-tx completion */
};

/* A handler: runs `job` with the thread's connection `conn` (borrowed; the
 * handler may run its own transactions on it).  On failure it writes a
 * one-line reason into errmsg[errcap]. */
typedef enum queue_outcome (*queue_handler_fn)(void *ctx, PGconn *conn,
                                               const struct queue_job *job, char *errmsg,
                                               size_t errcap);

struct queue_worker_stats {
    uint64_t claimed, completed, retried, dead, cancelled, fenced_out, released, reconnects;
};

/* Runs until *stop is non-zero.  Out: *stats (may be NULL).  Returns MR_OK
 * after a clean stop, or an error if it could not start (no memory, no
 * threads) or if the server runs with fsync off (checked at every connect:
 * jobs precede sending transactions, and their records must survive a
 * crash; the sessions themselves force synchronous_commit on). */
int queue_worker_run(const struct queue_worker_opts *opts, queue_handler_fn fn, void *ctx,
                     const volatile sig_atomic_t *stop, struct queue_worker_stats *stats,
                     struct mr_error *err);

#endif /* MR_WORKER_H */
