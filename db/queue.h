/*
 * queue.h - the Postgres-backed job queue: enqueue, claim, complete, retry,
 * and the maintenance passes (scheduler, reaper, pruning).
 *
 * The state machine is in db/migrations/0002_queue.sql.  Every transition
 * out of `running` is fenced by (owner, attempt): a job that the reaper took
 * back from a silent worker and gave to another cannot be completed, failed
 * or cancelled by the first one later.  Handlers whose effects live in the
 * database complete their job in the same transaction as those effects
 * (queue_complete_in_tx), which makes the effects happen exactly once; the
 * others are completed in batches by the worker runtime (db/worker.h).
 *
 * All functions take a connection owned by the caller (one per thread).
 */
#ifndef MR_QUEUE_H
#define MR_QUEUE_H

#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "eth/error.h"

#define QUEUE_CHANNEL "mosaic_jobs"
#define QUEUE_KIND_MAX 64
#define QUEUE_OWNER_MAX 128

/* What to enqueue.  Zero fields take the defaults. */
struct queue_job_spec {
    const char *kind;       /* [a-z][a-z0-9_.:-]{0,63} */
    const char *args_json;  /* a JSON object; NULL: {} */
    int priority;           /* 0..1000, lower runs first; 0: default 100 */
    int64_t delay_ms;       /* > 0: scheduled for now + delay */
    int max_attempts;       /* 0: default 20 */
    int timeout_ms;         /* hard per-job timeout; 0: default 300000 */
    const char *dedup_key;  /* unique among live jobs; NULL: none */
};

/* A claimed job.  args is malloc'd and freed by queue_job_clear(). */
struct queue_job {
    int64_t id;
    char kind[QUEUE_KIND_MAX + 1];
    int attempt;            /* 1 on the first run */
    int max_attempts;
    int timeout_ms;
    int priority;
    char *args;             /* JSON text */
    char owner[QUEUE_OWNER_MAX + 1];
};

void queue_job_clear(struct queue_job *job);

/* Enqueues one job inside the caller's transaction (or in its own, in
 * autocommit), and wakes workers with NOTIFY in that same transaction
 * (at most once per transaction; see queue_set_notify_throttle_us).
 * Out: *id, the new id, or 0 if a live job with the same dedup key exists. */
int queue_enqueue(PGconn *conn, const struct queue_job_spec *spec, int64_t *id,
                  struct mr_error *err);

/* Enqueues n jobs in one statement.  Out: *inserted (jobs skipped by dedup
 * are not counted). */
int queue_enqueue_batch(PGconn *conn, const struct queue_job_spec *specs, size_t n,
                        size_t *inserted, struct mr_error *err);

/* New work for jobs that may be waiting already: live jobs whose dedup key
 * is one of keys[n] and that are scheduled or waiting for a retry at a later
 * time are made due now (rows another transaction holds are skipped, never
 * waited for).  An enqueue deduplicated against such a job would otherwise
 * wait out its delay (the flows' polls, the retry backoff).  Out: *woken
 * (may be NULL). */
int queue_wake(PGconn *conn, const char *const *keys, size_t n, size_t *woken,
               struct mr_error *err);

/* NOTIFY throttle for this process: an enqueue within `us` microseconds of
 * the previous NOTIFY sends none (workers make a trailing claim after each
 * wake-up to cover it).  Default 1000; 0 disables throttling. */
void queue_set_notify_throttle_us(int64_t us);

/* Claims up to `max` available jobs for `owner` (kinds NULL: any kind) in
 * one short transaction with FOR UPDATE SKIP LOCKED.  Out: jobs[max],
 * *count.  Uses a prepared statement on conn. */
int queue_claim(PGconn *conn, const char *owner, const char *const *kinds, size_t nkinds,
                struct queue_job *jobs, size_t max, size_t *count, struct mr_error *err);

/* A fenced completion of one job. */
struct queue_done {
    int64_t id;
    int attempt;
};

/* Completes a batch of jobs of `owner`.  Out: *completed, how many passed
 * the fence (a job reaped and re-claimed elsewhere does not). */
int queue_complete(PGconn *conn, const char *owner, const struct queue_done *done, size_t n,
                   size_t *completed, struct mr_error *err);

/* Completes `job` inside the caller's open transaction.  MR_ERR_NOTFOUND
 * when the fence refuses (the job is no longer ours): roll back. */
int queue_complete_in_tx(PGconn *conn, const struct queue_job *job, struct mr_error *err);

/* Records a failure of `job`: retryable after `retry_in_ms`, or failed (the
 * dead letter) when attempts are exhausted or `permanent`.  Fenced.
 * Out: *dead (may be NULL) is 1 if the job is now failed. */
int queue_fail(PGconn *conn, const struct queue_job *job, const char *error, int permanent,
               int64_t retry_in_ms, int *dead, struct mr_error *err);

/* Cancels `job` (fenced), e.g. because its handler found nothing to do. */
int queue_cancel_owned(PGconn *conn, const struct queue_job *job, const char *why,
                       struct mr_error *err);

/* Puts a claimed but not started job back to available (fenced), undoing
 * the claim's attempt count: used when a worker stops. */
int queue_release(PGconn *conn, const struct queue_job *job, struct mr_error *err);

/* After a connection failure a claim may have committed without its answer
 * reaching the worker: such jobs would stay `running` under a live owner.
 * This takes back every running job of `owner` that is not among the
 * `n` ids the worker knows it holds (retryable, or failed when out of
 * attempts).  Out: *released. */
int queue_release_unknown(PGconn *conn, const char *owner, const int64_t *known, size_t n,
                          size_t *released, struct mr_error *err);

/* Capped exponential backoff with jitter for the given attempt (1-based):
 * min(cap, base * 2^(attempt-1)) scaled by a factor in [0.75, 1.25) taken
 * from `rand01` in [0,1).  Pure. */
int64_t queue_backoff_ms(int attempt, int64_t base_ms, int64_t cap_ms, double rand01);

/* Operator actions.  Out: *changed (0 if the job is not in a state that
 * allows it). */
int queue_retry(PGconn *conn, int64_t id, int *changed, struct mr_error *err);
int queue_cancel(PGconn *conn, int64_t id, int *changed, struct mr_error *err);

/* Maintenance passes; each is one statement (safe from any process). */
/* Moves due scheduled/retryable jobs to available and notifies. */
int queue_schedule(PGconn *conn, size_t *moved, struct mr_error *err);
/* Takes back the running jobs of workers silent for `dead_after_ms` (and of
 * unknown owners), and of jobs past their hard timeout. */
int queue_reap(PGconn *conn, int64_t dead_after_ms, size_t *reaped, struct mr_error *err);
/* Deletes up to `batch` completed/cancelled jobs older than retention. */
int queue_prune(PGconn *conn, int64_t retention_s, int batch, size_t *deleted,
                struct mr_error *err);

/* Worker registration and heartbeat (upsert). */
int queue_heartbeat(PGconn *conn, const char *owner, int slots, struct mr_error *err);
int queue_unregister(PGconn *conn, const char *owner, struct mr_error *err);

#endif /* MR_QUEUE_H */
