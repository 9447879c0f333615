/*
 * queue.c - the job queue's SQL (see queue.h and 0002_queue.sql).
 */
#include "db/queue.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "db/db.h"
#include "db/sqlbuf.h"

#define LIVE_DEDUP "dedup_key IS NOT NULL AND state NOT IN ('completed', 'failed', 'cancelled')"

static _Atomic int64_t notify_throttle_us = 1000;
static _Atomic int64_t last_notify_us;

static int64_t now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void queue_set_notify_throttle_us(int64_t us)
{
    atomic_store(&notify_throttle_us, us < 0 ? 0 : us);
}

/* Whether this enqueue should NOTIFY (and, if so, records it). */
static int want_notify(void)
{
    int64_t now = now_us(), last = atomic_load(&last_notify_us);
    int64_t window = atomic_load(&notify_throttle_us);

    if (window > 0 && now - last < window)
        return 0;
    atomic_store(&last_notify_us, now);
    return 1;
}

void queue_job_clear(struct queue_job *job)
{
    free(job->args);
    memset(job, 0, sizeof(*job));
}

/* Prepared statement ids (db_exec_prepared): unique within the program. */
enum {
    PS_ENQUEUE = 1, PS_ENQUEUE_BATCH, PS_CLAIM, PS_COMPLETE, PS_FAIL, PS_HEARTBEAT,
    PS_CANCEL_OWNED, PS_RELEASE
};

static const struct {
    const char *name;
    unsigned id;
} ps_ids[] = {
    {"mr_enqueue", PS_ENQUEUE}, {"mr_enqueue_batch", PS_ENQUEUE_BATCH}, {"mr_claim", PS_CLAIM},
    {"mr_complete", PS_COMPLETE}, {"mr_fail", PS_FAIL}, {"mr_heartbeat", PS_HEARTBEAT},
    {"mr_cancel_owned", PS_CANCEL_OWNED}, {"mr_release", PS_RELEASE},
};

static PGresult *exec_prepared(PGconn *conn, const char *name, const char *sql, int nparams,
                               const char *const *params)
{
    unsigned id = 64;

    for (size_t i = 0; i < sizeof(ps_ids) / sizeof(ps_ids[0]); i++) {
        if (strcmp(ps_ids[i].name, name) == 0)
            id = ps_ids[i].id;
    }
    return db_exec_prepared(conn, id, name, sql, nparams, params);
}

static int check_kind(const char *kind, struct mr_error *err)
{
    size_t n = kind != NULL ? strlen(kind) : 0;

    if (n == 0 || n > QUEUE_KIND_MAX || kind[0] < 'a' || kind[0] > 'z')
        return mr_fail(err, MR_ERR_INVALID, "job kind '%.70s' is not [a-z][a-z0-9_.:-]{0,63}",
                       kind ? kind : "");
    for (size_t i = 1; i < n; i++) {
        char c = kind[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
              c == ':' || c == '-'))
            return mr_fail(err, MR_ERR_INVALID, "job kind '%.70s' has a bad character", kind);
    }
    return MR_OK;
}

#define ENQUEUE_SQL                                                                        \
    "WITH ins AS (INSERT INTO " DB_SCHEMA ".jobs (kind, args, priority, run_at, state,"    \
    " max_attempts, timeout_ms, dedup_key)"                                                \
    " VALUES ($1, coalesce($2::jsonb, '{}'), $3::smallint,"                                \
    " now() + $4::bigint * interval '1 millisecond',"                                      \
    " CASE WHEN $4::bigint > 0 THEN 'scheduled' ELSE 'available' END, $5::int, $6::int, $7)" \
    " ON CONFLICT (dedup_key) WHERE " LIVE_DEDUP " DO NOTHING RETURNING id, state)"        \
    " SELECT id, CASE WHEN $8::bool AND state = 'available'"                               \
    " THEN pg_notify('" QUEUE_CHANNEL "', '') END IS NULL FROM ins"

int queue_enqueue(PGconn *conn, const struct queue_job_spec *spec, int64_t *id,
                  struct mr_error *err)
{
    char prio[16], delay[24], maxa[16], tmo[16];
    const char *params[8];
    PGresult *res;
    int rc = check_kind(spec->kind, err);

    if (rc != MR_OK)
        return rc;
    snprintf(prio, sizeof(prio), "%d", spec->priority > 0 ? spec->priority : 100);
    snprintf(delay, sizeof(delay), "%lld", (long long)(spec->delay_ms > 0 ? spec->delay_ms : 0));
    snprintf(maxa, sizeof(maxa), "%d", spec->max_attempts > 0 ? spec->max_attempts : 20);
    snprintf(tmo, sizeof(tmo), "%d", spec->timeout_ms > 0 ? spec->timeout_ms : 300000);
    params[0] = spec->kind;
    params[1] = spec->args_json;
    params[2] = prio;
    params[3] = delay;
    params[4] = maxa;
    params[5] = tmo;
    params[6] = spec->dedup_key;
    params[7] = spec->delay_ms > 0 ? "false" : want_notify() ? "true" : "false";
    res = exec_prepared(conn, "mr_enqueue", ENQUEUE_SQL, 8, params);
    rc = db_check(res, PGRES_TUPLES_OK, "enqueue", err);
    if (rc == MR_OK && id != NULL)
        *id = PQntuples(res) == 1 ? strtoll(PQgetvalue(res, 0, 0), NULL, 10) : 0;
    PQclear(res);
    return rc;
}

#define ENQUEUE_BATCH_SQL                                                                  \
    "WITH v AS (SELECT * FROM unnest($1::text[], $2::jsonb[], $3::smallint[], $4::bigint[]," \
    " $5::int[], $6::int[], $7::text[]) AS v(kind, args, priority, delay, max_attempts,"   \
    " timeout_ms, dedup_key)),"                                                            \
    " ins AS (INSERT INTO " DB_SCHEMA ".jobs (kind, args, priority, run_at, state,"        \
    " max_attempts, timeout_ms, dedup_key)"                                                \
    " SELECT kind, coalesce(args, '{}'), priority, now() + delay * interval '1 millisecond'," \
    " CASE WHEN delay > 0 THEN 'scheduled' ELSE 'available' END, max_attempts, timeout_ms,"  \
    " dedup_key FROM v ON CONFLICT (dedup_key) WHERE " LIVE_DEDUP " DO NOTHING"            \
    " RETURNING state)"                                                                    \
    " SELECT count(*), CASE WHEN $8::bool AND bool_or(state = 'available')"                \
    " THEN pg_notify('" QUEUE_CHANNEL "', '') END IS NULL FROM ins"

int queue_enqueue_batch(PGconn *conn, const struct queue_job_spec *specs, size_t n,
                        size_t *inserted, struct mr_error *err)
{
    struct db_sbuf a[7];
    const char *params[8];
    PGresult *res;
    int rc = MR_OK;

    memset(a, 0, sizeof(a));
    for (int k = 0; k < 7; k++)
        db_arr_begin(&a[k]);
    for (size_t i = 0; i < n && rc == MR_OK; i++) {
        const struct queue_job_spec *s = &specs[i];
        rc = check_kind(s->kind, err);
        db_arr_text(&a[0], s->kind);
        db_arr_text(&a[1], s->args_json);
        db_arr_i64(&a[2], s->priority > 0 ? s->priority : 100);
        db_arr_i64(&a[3], s->delay_ms > 0 ? s->delay_ms : 0);
        db_arr_i64(&a[4], s->max_attempts > 0 ? s->max_attempts : 20);
        db_arr_i64(&a[5], s->timeout_ms > 0 ? s->timeout_ms : 300000);
        db_arr_text(&a[6], s->dedup_key);
    }
    for (int k = 0; k < 7; k++) {
        db_arr_end(&a[k]);
        if (a[k].oom && rc == MR_OK)
            rc = mr_fail(err, MR_ERR_NOMEM, "enqueue batch: out of memory");
        params[k] = a[k].p;
    }
    params[7] = want_notify() ? "true" : "false";
    if (rc == MR_OK) {
        res = exec_prepared(conn, "mr_enqueue_batch", ENQUEUE_BATCH_SQL, 8, params);
        rc = db_check(res, PGRES_TUPLES_OK, "enqueue batch", err);
        if (rc == MR_OK && inserted != NULL)
            *inserted = (size_t)strtoull(PQgetvalue(res, 0, 0), NULL, 10);
        PQclear(res);
    }
    for (int k = 0; k < 7; k++)
        free(a[k].p);
    return rc;
}

#define WAKE_SQL                                                                           \
    "WITH w AS (SELECT id FROM " DB_SCHEMA ".jobs WHERE dedup_key = ANY($1::text[])"      \
    " AND state IN ('scheduled', 'retryable') AND run_at > now()"                          \
    " FOR UPDATE SKIP LOCKED)"                                                              \
    " UPDATE " DB_SCHEMA ".jobs j SET run_at = now() FROM w WHERE j.id = w.id"

int queue_wake(PGconn *conn, const char *const *keys, size_t n, size_t *woken,
               struct mr_error *err)
{
    struct db_sbuf a;
    const char *params[1];
    PGresult *res;
    int rc = MR_OK;

    if (woken != NULL)
        *woken = 0;
    if (n == 0)
        return MR_OK;
    db_arr_begin(&a);
    for (size_t i = 0; i < n; i++)
        db_arr_text(&a, keys[i]);
    db_arr_end(&a);
    if (a.oom) {
        db_sb_free(&a);
        return mr_fail(err, MR_ERR_NOMEM, "wake: out of memory");
    }
    params[0] = a.p;
    res = exec_prepared(conn, "mr_wake", WAKE_SQL, 1, params);
    rc = db_check(res, PGRES_COMMAND_OK, "waking jobs", err);
    if (rc == MR_OK && woken != NULL)
        *woken = (size_t)strtoull(PQcmdTuples(res), NULL, 10);
    PQclear(res);
    db_sb_free(&a);
    return rc;
}

#define CLAIM_SQL                                                                          \
    "WITH c AS (SELECT id FROM " DB_SCHEMA ".jobs WHERE state = 'available'"              \
    " AND ($2::text[] IS NULL OR kind = ANY($2::text[]))"                                  \
    " ORDER BY priority, id LIMIT $3::int FOR UPDATE SKIP LOCKED)"                         \
    " UPDATE " DB_SCHEMA ".jobs j SET state = 'running', owner = $1, attempt = j.attempt + 1," \
    " attempted_at = now() FROM c WHERE j.id = c.id"                                       \
    " RETURNING j.id, j.kind, j.attempt, j.max_attempts, j.timeout_ms, j.priority, j.args::text"

static int job_order(const void *a, const void *b)
{
    const struct queue_job *x = a, *y = b;

    if (x->priority != y->priority)
        return x->priority < y->priority ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

int queue_claim(PGconn *conn, const char *owner, const char *const *kinds, size_t nkinds,
                struct queue_job *jobs, size_t max, size_t *count, struct mr_error *err)
{
    struct db_sbuf kb = {0};
    char lim[24];
    const char *params[3];
    PGresult *res;
    int rc = MR_OK;
    size_t rows;

    *count = 0;
    if (max == 0)
        return MR_OK;
    if (kinds != NULL && nkinds > 0) {
        db_arr_begin(&kb);
        for (size_t i = 0; i < nkinds; i++)
            db_arr_text(&kb, kinds[i]);
        db_arr_end(&kb);
        if (kb.oom) {
            free(kb.p);
            return mr_fail(err, MR_ERR_NOMEM, "claim: out of memory");
        }
    }
    snprintf(lim, sizeof(lim), "%zu", max);
    params[0] = owner;
    params[1] = kb.p;
    params[2] = lim;
    res = exec_prepared(conn, "mr_claim", CLAIM_SQL, 3, params);
    free(kb.p);
    rc = db_check(res, PGRES_TUPLES_OK, "claim", err);
    if (rc == MR_OK) {
        rows = (size_t)PQntuples(res);
        for (size_t i = 0; i < rows && i < max; i++) {
            struct queue_job *j = &jobs[i];
            memset(j, 0, sizeof(*j));
            j->id = strtoll(PQgetvalue(res, (int)i, 0), NULL, 10);
            snprintf(j->kind, sizeof(j->kind), "%s", PQgetvalue(res, (int)i, 1));
            j->attempt = atoi(PQgetvalue(res, (int)i, 2));
            j->max_attempts = atoi(PQgetvalue(res, (int)i, 3));
            j->timeout_ms = atoi(PQgetvalue(res, (int)i, 4));
            j->priority = atoi(PQgetvalue(res, (int)i, 5));
            j->args = strdup(PQgetvalue(res, (int)i, 6));
            snprintf(j->owner, sizeof(j->owner), "%s", owner);
            *count = i + 1;
        }
        qsort(jobs, *count, sizeof(jobs[0]), job_order);
    }
    PQclear(res);
    return rc;
}

/* The owner test is written IS NOT DISTINCT FROM so that the planner cannot
 * drive the join with the (owner) partial index: with a large batch that
 * plan rescans every running job of the owner per completed job; the
 * primary key is the right path. */
#define COMPLETE_SQL                                                                       \
    "UPDATE " DB_SCHEMA ".jobs j SET state = 'completed', owner = NULL, finished_at = now()" \
    " FROM unnest($2::bigint[], $3::int[]) AS d(id, attempt)"                              \
    " WHERE j.id = d.id AND j.owner IS NOT DISTINCT FROM $1 AND j.attempt = d.attempt"      \
    " AND j.state = 'running'"

int queue_complete(PGconn *conn, const char *owner, const struct queue_done *done, size_t n,
                   size_t *completed, struct mr_error *err)
{
    struct db_sbuf ids = {0}, att = {0};
    const char *params[3];
    PGresult *res;
    int rc;

    if (completed != NULL)
        *completed = 0;
    if (n == 0)
        return MR_OK;
    db_arr_begin(&ids);
    db_arr_begin(&att);
    for (size_t i = 0; i < n; i++) {
        db_arr_i64(&ids, done[i].id);
        db_arr_i64(&att, done[i].attempt);
    }
    db_arr_end(&ids);
    db_arr_end(&att);
    if (ids.oom || att.oom) {
        free(ids.p);
        free(att.p);
        return mr_fail(err, MR_ERR_NOMEM, "complete: out of memory");
    }
    params[0] = owner;
    params[1] = ids.p;
    params[2] = att.p;
    res = exec_prepared(conn, "mr_complete", COMPLETE_SQL, 3, params);
    rc = db_check(res, PGRES_COMMAND_OK, "complete", err);
    if (rc == MR_OK && completed != NULL)
        *completed = (size_t)strtoull(PQcmdTuples(res), NULL, 10);
    PQclear(res);
    free(ids.p);
    free(att.p);
    return rc;
}

int queue_complete_in_tx(PGconn *conn, const struct queue_job *job, struct mr_error *err)
{
    struct queue_done d = {job->id, job->attempt};
    size_t n = 0;
    int rc = queue_complete(conn, job->owner, &d, 1, &n, err);

    if (rc == MR_OK && n != 1)
        return mr_fail(err, MR_ERR_NOTFOUND,
                       "job %lld attempt %d is no longer owned by %s (reaped or cancelled)",
                       (long long)job->id, job->attempt, job->owner);
    return rc;
}

#define FAIL_SQL                                                                           \
    "UPDATE " DB_SCHEMA ".jobs SET"                                                        \
    " state = CASE WHEN $4::bool OR attempt >= max_attempts THEN 'failed' ELSE 'retryable' END," \
    " finished_at = CASE WHEN $4::bool OR attempt >= max_attempts THEN now() END,"         \
    " run_at = now() + $5::bigint * interval '1 millisecond', owner = NULL, last_error = $6" \
    " WHERE id = $1::bigint AND owner = $2 AND attempt = $3::int AND state = 'running'"    \
    " RETURNING state = 'failed'"

int queue_fail(PGconn *conn, const struct queue_job *job, const char *error, int permanent,
               int64_t retry_in_ms, int *dead, struct mr_error *err)
{
    char id[24], att[16], delay[24];
    const char *params[6];
    PGresult *res;
    int rc;

    snprintf(id, sizeof(id), "%lld", (long long)job->id);
    snprintf(att, sizeof(att), "%d", job->attempt);
    snprintf(delay, sizeof(delay), "%lld", (long long)(retry_in_ms > 0 ? retry_in_ms : 0));
    params[0] = id;
    params[1] = job->owner;
    params[2] = att;
    params[3] = permanent ? "true" : "false";
    params[4] = delay;
    params[5] = error != NULL ? error : "failed";
    res = exec_prepared(conn, "mr_fail", FAIL_SQL, 6, params);
    rc = db_check(res, PGRES_TUPLES_OK, "fail", err);
    if (rc == MR_OK) {
        if (PQntuples(res) != 1)
            rc = mr_fail(err, MR_ERR_NOTFOUND, "job %lld attempt %d is no longer owned by %s",
                         (long long)job->id, job->attempt, job->owner);
        else if (dead != NULL)
            *dead = PQgetvalue(res, 0, 0)[0] == 't';
    }
    PQclear(res);
    return rc;
}

static int exec_fenced(PGconn *conn, const char *name, const char *sql,
                       const struct queue_job *job, const char *extra, struct mr_error *err)
{
    char id[24], att[16];
    const char *params[4];
    PGresult *res;
    int rc;

    snprintf(id, sizeof(id), "%lld", (long long)job->id);
    snprintf(att, sizeof(att), "%d", job->attempt);
    params[0] = id;
    params[1] = job->owner;
    params[2] = att;
    params[3] = extra;
    res = exec_prepared(conn, name, sql, extra != NULL ? 4 : 3, params);
    rc = db_check(res, PGRES_COMMAND_OK, name, err);
    if (rc == MR_OK && strcmp(PQcmdTuples(res), "1") != 0)
        rc = mr_fail(err, MR_ERR_NOTFOUND, "job %lld attempt %d is no longer owned by %s",
                     (long long)job->id, job->attempt, job->owner);
    PQclear(res);
    return rc;
}

int queue_cancel_owned(PGconn *conn, const struct queue_job *job, const char *why,
                       struct mr_error *err)
{
    return exec_fenced(conn, "mr_cancel_owned",
                       "UPDATE " DB_SCHEMA ".jobs SET state = 'cancelled', owner = NULL,"
                       " finished_at = now(), last_error = $4 WHERE id = $1::bigint AND owner = $2"
                       " AND attempt = $3::int AND state = 'running'",
                       job, why != NULL ? why : "cancelled by its handler", err);
}

int queue_release(PGconn *conn, const struct queue_job *job, struct mr_error *err)
{
    return exec_fenced(conn, "mr_release",
                       "UPDATE " DB_SCHEMA ".jobs SET state = 'available', owner = NULL,"
                       " attempt = attempt - 1, attempted_at = NULL WHERE id = $1::bigint"
                       " AND owner = $2 AND attempt = $3::int AND state = 'running'",
                       job, NULL, err);
}

int queue_release_unknown(PGconn *conn, const char *owner, const int64_t *known, size_t n,
                          size_t *released, struct mr_error *err)
{
    struct db_sbuf ids = {0};
    const char *params[2];
    PGresult *res;
    int rc;

    db_arr_begin(&ids);
    for (size_t i = 0; i < n; i++)
        db_arr_i64(&ids, known[i]);
    db_arr_end(&ids);
    if (ids.oom) {
        free(ids.p);
        return mr_fail(err, MR_ERR_NOMEM, "release: out of memory");
    }
    params[0] = owner;
    params[1] = ids.p;
    res = PQexecParams(conn,
                       "UPDATE " DB_SCHEMA ".jobs SET"
                       " state = CASE WHEN attempt >= max_attempts THEN 'failed' ELSE 'retryable' END,"
                       " finished_at = CASE WHEN attempt >= max_attempts THEN now() END,"
                       " owner = NULL, run_at = now(),"
                       " last_error = 'claimed by ' || owner || ' but the answer was lost with the connection'"
                       " WHERE owner = $1 AND state = 'running' AND NOT (id = ANY($2::bigint[]))",
                       2, NULL, params, NULL, NULL, 0);
    rc = db_check(res, PGRES_COMMAND_OK, "release unknown claims", err);
    if (rc == MR_OK && released != NULL)
        *released = (size_t)strtoull(PQcmdTuples(res), NULL, 10);
    PQclear(res);
    free(ids.p);
    return rc;
}

int64_t queue_backoff_ms(int attempt, int64_t base_ms, int64_t cap_ms, double rand01)
{
    int64_t d = base_ms > 0 ? base_ms : 1;

    for (int i = 1; i < attempt && d < cap_ms; i++)
        d *= 2;
    if (d > cap_ms)
        d = cap_ms;
    if (rand01 < 0 || rand01 >= 1)
        rand01 = 0.5;
    return (int64_t)((double)d * (0.75 + 0.5 * rand01));
}

/* Runs a one-row-count statement with one bigint parameter. */
static int exec_count(PGconn *conn, const char *sql, const char *param, size_t *n,
                      const char *what, struct mr_error *err)
{
    const char *params[1] = {param};
    PGresult *res = PQexecParams(conn, sql, param ? 1 : 0, NULL, params, NULL, NULL, 0);
    int rc = MR_OK;

    if (res == NULL || (PQresultStatus(res) != PGRES_COMMAND_OK &&
                        PQresultStatus(res) != PGRES_TUPLES_OK))
        rc = db_check(res, PGRES_COMMAND_OK, what, err);
    else if (n != NULL)
        *n = (size_t)strtoull(PQcmdTuples(res), NULL, 10);
    PQclear(res);
    return rc;
}

int queue_retry(PGconn *conn, int64_t id, int *changed, struct mr_error *err)
{
    char p[24];
    size_t n = 0;
    int rc;

    snprintf(p, sizeof(p), "%lld", (long long)id);
    rc = exec_count(conn,
                    "WITH r AS (UPDATE " DB_SCHEMA ".jobs SET state = 'available', run_at = now(),"
                    " finished_at = NULL, max_attempts = greatest(max_attempts, attempt + 1)"
                    " WHERE id = $1::bigint AND state IN ('failed', 'cancelled', 'retryable',"
                    " 'scheduled') RETURNING 1)"
                    " SELECT pg_notify('" QUEUE_CHANNEL "', '') FROM r",
                    p, &n, "jobs retry", err);
    if (changed != NULL)
        *changed = n > 0;
    return rc;
}

int queue_cancel(PGconn *conn, int64_t id, int *changed, struct mr_error *err)
{
    char p[24];
    size_t n = 0;
    int rc;

    snprintf(p, sizeof(p), "%lld", (long long)id);
    rc = exec_count(conn,
                    "UPDATE " DB_SCHEMA ".jobs SET state = 'cancelled', owner = NULL,"
                    " finished_at = now(), last_error = coalesce(last_error, 'cancelled')"
                    " WHERE id = $1::bigint AND state NOT IN ('completed', 'failed', 'cancelled')",
                    p, &n, "jobs cancel", err);
    if (changed != NULL)
        *changed = n > 0;
    return rc;
}

int queue_schedule(PGconn *conn, size_t *moved, struct mr_error *err)
{
    int64_t n = 0;
    /* SKIP LOCKED: maintenance never waits on a row another session holds
     * (a hung worker must not stall everyone's maintenance). */
    int rc = db_query_int64(conn,
                            "WITH m AS (UPDATE " DB_SCHEMA ".jobs SET state = 'available'"
                            " WHERE id IN (SELECT id FROM " DB_SCHEMA ".jobs"
                            " WHERE state IN ('scheduled', 'retryable') AND run_at <= now()"
                            " FOR UPDATE SKIP LOCKED) RETURNING 1)"
                            " SELECT count(*) FROM m, LATERAL (SELECT pg_notify('" QUEUE_CHANNEL
                            "', '')) AS nt", &n, err);

    if (moved != NULL)
        *moved = n > 0 ? (size_t)n : 0;
    return rc;
}

int queue_reap(PGconn *conn, int64_t dead_after_ms, size_t *reaped, struct mr_error *err)
{
    char p[24];

    snprintf(p, sizeof(p), "%lld", (long long)dead_after_ms);
    /* The victims are locked with SKIP LOCKED: a row held by a session that
     * is itself hung is left for a later pass instead of blocking this one. */
    return exec_count(conn,
                      "WITH dead AS (DELETE FROM " DB_SCHEMA ".workers"
                      " WHERE heartbeat_at < now() - $1::bigint * interval '1 millisecond'"
                      " RETURNING id),"
                      " victims AS (SELECT j.id, (j.owner IN (SELECT id FROM dead)"
                      "   OR NOT EXISTS (SELECT 1 FROM " DB_SCHEMA ".workers w WHERE w.id = j.owner))"
                      "   AS lost FROM " DB_SCHEMA ".jobs j WHERE j.state = 'running'"
                      "   AND (j.owner IN (SELECT id FROM dead)"
                      "   OR NOT EXISTS (SELECT 1 FROM " DB_SCHEMA ".workers w WHERE w.id = j.owner)"
                      "   OR j.attempted_at + j.timeout_ms * interval '1 millisecond' < now())"
                      "   FOR UPDATE OF j SKIP LOCKED)"
                      " UPDATE " DB_SCHEMA ".jobs j SET"
                      " state = CASE WHEN attempt >= max_attempts THEN 'failed' ELSE 'retryable' END,"
                      " finished_at = CASE WHEN attempt >= max_attempts THEN now() END,"
                      " run_at = now(), owner = NULL,"
                      " last_error = CASE WHEN v.lost THEN 'worker ' || j.owner || ' lost (no heartbeat)'"
                      "   ELSE 'timed out after ' || j.timeout_ms || ' ms' END"
                      " FROM victims v WHERE j.id = v.id",
                      p, reaped, "reap", err);
}

int queue_prune(PGconn *conn, int64_t retention_s, int batch, size_t *deleted,
                struct mr_error *err)
{
    char sql[512];

    snprintf(sql, sizeof(sql),
             "DELETE FROM " DB_SCHEMA ".jobs WHERE id IN (SELECT id FROM " DB_SCHEMA ".jobs"
             " WHERE state IN ('completed', 'cancelled') AND finished_at < now() - %lld *"
             " interval '1 second' ORDER BY finished_at LIMIT %d FOR UPDATE SKIP LOCKED)",
             (long long)retention_s, batch > 0 ? batch : 1000);
    return exec_count(conn, sql, NULL, deleted, "prune", err);
}

int queue_heartbeat(PGconn *conn, const char *owner, int slots, struct mr_error *err)
{
    char host[256] = "unknown", pid[16], sl[16];
    const char *params[4];
    PGresult *res;
    int rc;

    gethostname(host, sizeof(host) - 1);
    snprintf(pid, sizeof(pid), "%d", (int)getpid());
    snprintf(sl, sizeof(sl), "%d", slots > 0 ? slots : 1);
    params[0] = owner;
    params[1] = host;
    params[2] = pid;
    params[3] = sl;
    res = exec_prepared(conn, "mr_heartbeat",
                        "INSERT INTO " DB_SCHEMA ".workers (id, host, pid, slots)"
                        " VALUES ($1, $2, $3::int, $4::int) ON CONFLICT (id) DO"
                        " UPDATE SET heartbeat_at = now()", 4, params);
    rc = db_check(res, PGRES_COMMAND_OK, "heartbeat", err);
    PQclear(res);
    return rc;
}

int queue_unregister(PGconn *conn, const char *owner, struct mr_error *err)
{
    size_t n;

    return exec_count(conn, "DELETE FROM " DB_SCHEMA ".workers WHERE id = $1", owner, &n,
                      "unregister", err);
}
