/*
 * test_queue.c - the job queue's SQL against a real PostgreSQL: enqueue,
 * dedup, priorities, delayed jobs, the fence, retries and dead letters,
 * operator actions, maintenance passes, and the migration's CHECKs.
 */
#include "tests/lib/testlib.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db/db.h"
#include "db/migrate.h"
#include "db/queue.h"
#include "db/worker.h"

struct fx {
    char *ci;
    PGconn *c;
};

static int setup(void **state)
{
    struct fx *f;

    if (tv_pg_base() == NULL) {
        *state = NULL;
        return 0;
    }
    f = calloc(1, sizeof(*f));
    f->c = tv_pg_migrated(&f->ci);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;

    if (f != NULL) {
        PQfinish(f->c);
        free(f->ci);
        free(f);
    }
    return 0;
}

#define FX()                                                                   \
    struct fx *f = *state;                                                     \
    struct mr_error err;                                                       \
    TV_REQUIRE_PG();                                                           \
    assert_non_null(f)

static void enq(PGconn *c, const char *kind, int prio, int64_t delay, const char *dedup,
                int64_t *id)
{
    struct queue_job_spec s = {kind, "{\"n\": 1}", prio, delay, 0, 0, dedup};
    struct mr_error err;

    if (queue_enqueue(c, &s, id, &err) != MR_OK)
        fail_msg("enqueue: %s", err.msg);
}

static void test_enqueue_claim_complete(void **state)
{
    struct queue_job jobs[8];
    struct queue_done d[8];
    size_t n, done;
    int64_t id1, id2, id3;
    FX();

    enq(f->c, "confirm", 200, 0, NULL, &id1);
    enq(f->c, "anchor", 10, 0, NULL, &id2);
    enq(f->c, "progress", 200, 0, NULL, &id3);
    assert_true(id1 > 0 && id2 > id1 && id3 > id2);
    /* Priority first, then age. */
    assert_int_equal(queue_claim(f->c, "w1", NULL, 0, jobs, 2, &n, &err), MR_OK);
    assert_int_equal(n, 2);
    assert_int_equal(jobs[0].id, id2);
    assert_string_equal(jobs[0].kind, "anchor");
    assert_int_equal(jobs[0].attempt, 1);
    assert_int_equal(jobs[1].id, id1);
    assert_string_equal(jobs[1].args, "{\"n\": 1}");
    /* Kind filter. */
    {
        const char *kinds[] = {"anchor", "nothing"};
        struct queue_job j2[2];
        assert_int_equal(queue_claim(f->c, "w2", kinds, 2, j2, 2, &n, &err), MR_OK);
        assert_int_equal(n, 0);
    }
    for (size_t i = 0; i < 2; i++)
        d[i] = (struct queue_done){jobs[i].id, jobs[i].attempt};
    /* Another owner cannot complete them. */
    assert_int_equal(queue_complete(f->c, "intruder", d, 2, &done, &err), MR_OK);
    assert_int_equal(done, 0);
    assert_int_equal(queue_complete(f->c, "w1", d, 2, &done, &err), MR_OK);
    assert_int_equal(done, 2);
    assert_int_equal(tv_pg_int64(f->c, "SELECT count(*) FROM jobs WHERE state = 'completed' AND owner IS NULL "
                               "AND finished_at IS NOT NULL"), 2);
    queue_job_clear(&jobs[0]);
    queue_job_clear(&jobs[1]);
    /* Batch enqueue, with a duplicate dedup key inside and outside. */
    {
        struct queue_job_spec specs[4] = {
            {"prove", NULL, 0, 0, 0, 0, "k:1"},
            {"prove", "{\"q\": \"a\\\"b\"}", 0, 0, 0, 0, "k:2"},
            {"prove", NULL, 0, 5000, 0, 0, NULL},
            {"prove", NULL, 0, 0, 0, 0, "k:1"},
        };
        size_t ins;
        assert_int_equal(queue_enqueue_batch(f->c, specs, 4, &ins, &err), MR_OK);
        assert_int_equal(ins, 3);
        assert_int_equal(tv_pg_int64(f->c, "SELECT count(*) FROM jobs WHERE state = 'scheduled'"), 1);
        assert_int_equal(tv_pg_int64(f->c, "SELECT count(*) FROM jobs WHERE args->>'q' = 'a\"b'"), 1);
    }
    /* Bad kinds are refused before any SQL. */
    {
        struct queue_job_spec bad = {"Bad Kind", NULL, 0, 0, 0, 0, NULL};
        int64_t id;
        assert_int_equal(queue_enqueue(f->c, &bad, &id, &err), MR_ERR_INVALID);
    }
}

static void test_dedup(void **state)
{
    struct queue_job jobs[2];
    struct queue_done d;
    size_t n, done;
    int64_t a, b, c;
    FX();

    enq(f->c, "confirm", 0, 0, "origin:0xabc:3:confirm", &a);
    enq(f->c, "confirm", 0, 0, "origin:0xabc:3:confirm", &b);
    assert_true(a > 0);
    assert_int_equal(b, 0); /* a live job has that key */
    assert_int_equal(queue_claim(f->c, "w", NULL, 0, jobs, 2, &n, &err), MR_OK);
    assert_int_equal(n, 1);
    enq(f->c, "confirm", 0, 0, "origin:0xabc:3:confirm", &b);
    assert_int_equal(b, 0); /* running is live too */
    d = (struct queue_done){jobs[0].id, jobs[0].attempt};
    assert_int_equal(queue_complete(f->c, "w", &d, 1, &done, &err), MR_OK);
    enq(f->c, "confirm", 0, 0, "origin:0xabc:3:confirm", &c);
    assert_true(c > a); /* after completion, the key is free again */
    queue_job_clear(&jobs[0]);
}

static void test_delayed_and_schedule(void **state)
{
    struct queue_job jobs[2];
    size_t n, moved;
    int64_t id;
    FX();

    enq(f->c, "later", 0, 300, NULL, &id);
    assert_int_equal(queue_claim(f->c, "w", NULL, 0, jobs, 2, &n, &err), MR_OK);
    assert_int_equal(n, 0);
    assert_int_equal(queue_schedule(f->c, &moved, &err), MR_OK);
    assert_int_equal(moved, 0);
    usleep(350000);
    assert_int_equal(queue_schedule(f->c, &moved, &err), MR_OK);
    assert_int_equal(moved, 1);
    assert_int_equal(queue_claim(f->c, "w", NULL, 0, jobs, 2, &n, &err), MR_OK);
    assert_int_equal(n, 1);
    assert_int_equal(jobs[0].id, id);
    queue_job_clear(&jobs[0]);
}

/* queue_wake: new work for a key whose live job waits (scheduled) makes it
 * due now; a running job, other keys and unknown keys are left alone. */
static void test_wake(void **state)
{
    struct queue_job jobs[4];
    const char *keys[3] = {"msg:0xa", "msg:0xb", "msg:\"odd\\"};
    size_t n, moved, woken;
    int64_t a, b, c, dup;
    FX();

    enq(f->c, "msg", 0, 60000, "msg:0xa", &a);
    enq(f->c, "msg", 0, 60000, "msg:0xc", &c);
    enq(f->c, "msg", 0, 0, "msg:0xb", &b);
    assert_int_equal(queue_claim(f->c, "w", NULL, 0, jobs, 4, &n, &err), MR_OK);
    assert_int_equal(n, 1); /* b runs; a and c wait a minute */
    enq(f->c, "msg", 0, 0, "msg:0xa", &dup);
    assert_int_equal(dup, 0); /* deduplicated against the waiting one */
    assert_int_equal(queue_wake(f->c, keys, 3, &woken, &err), MR_OK);
    assert_int_equal(woken, 1);
    assert_int_equal(queue_schedule(f->c, &moved, &err), MR_OK);
    assert_int_equal(moved, 1);
    queue_job_clear(&jobs[0]);
    assert_int_equal(queue_claim(f->c, "w", NULL, 0, jobs, 4, &n, &err), MR_OK);
    assert_int_equal(n, 1);
    assert_int_equal(jobs[0].id, a);
    queue_job_clear(&jobs[0]);
    assert_int_equal(queue_wake(f->c, keys, 0, &woken, &err), MR_OK);
    assert_int_equal(woken, 0);
    assert_int_equal(tv_pg_int64(f->c, "SELECT count(*) FROM mosaic.jobs WHERE dedup_key ="
                                       " 'msg:0xc' AND state = 'scheduled'"), 1);
}

/* A job reaped from a silent worker and re-run by another cannot be
 * completed, failed or cancelled by the first one afterwards. */
static void test_fence_after_reap(void **state)
{
    struct queue_job a[1], b[1];
    struct queue_done d;
    size_t n, reaped, moved, done;
    int64_t id;
    int dead;
    FX();

    enq(f->c, "confirm", 0, 0, NULL, &id);
    assert_int_equal(queue_heartbeat(f->c, "old", 1, &err), MR_OK);
    assert_int_equal(queue_heartbeat(f->c, "new", 1, &err), MR_OK);
    assert_int_equal(queue_claim(f->c, "old", NULL, 0, a, 1, &n, &err), MR_OK);
    assert_int_equal(n, 1);
    /* "old" is alive: nothing to reap. */
    assert_int_equal(queue_reap(f->c, 10000, &reaped, &err), MR_OK);
    assert_int_equal(reaped, 0);
    /* "old" falls silent. */
    assert_int_equal(db_exec(f->c, "UPDATE workers SET heartbeat_at = now() - interval '1 hour' "
                                   "WHERE id = 'old'", &err), MR_OK);
    assert_int_equal(queue_reap(f->c, 10000, &reaped, &err), MR_OK);
    assert_int_equal(reaped, 1);
    assert_int_equal(tv_pg_int64(f->c, "SELECT count(*) FROM workers WHERE id = 'old'"), 0);
    assert_int_equal(queue_schedule(f->c, &moved, &err), MR_OK);
    assert_int_equal(queue_claim(f->c, "new", NULL, 0, b, 1, &n, &err), MR_OK);
    assert_int_equal(n, 1);
    assert_int_equal(b[0].id, id);
    assert_int_equal(b[0].attempt, 2);
    /* The old owner's late transitions are refused. */
    d = (struct queue_done){a[0].id, a[0].attempt};
    assert_int_equal(queue_complete(f->c, "old", &d, 1, &done, &err), MR_OK);
    assert_int_equal(done, 0);
    assert_int_equal(db_exec(f->c, "BEGIN", &err), MR_OK);
    assert_int_equal(queue_complete_in_tx(f->c, &a[0], &err), MR_ERR_NOTFOUND);
    assert_int_equal(db_exec(f->c, "ROLLBACK", &err), MR_OK);
    assert_int_equal(queue_fail(f->c, &a[0], "late", 0, 0, &dead, &err), MR_ERR_NOTFOUND);
    assert_int_equal(queue_cancel_owned(f->c, &a[0], "late", &err), MR_ERR_NOTFOUND);
    /* Even the same owner name with the old attempt is refused. */
    strcpy(a[0].owner, "new");
    d = (struct queue_done){a[0].id, a[0].attempt};
    assert_int_equal(queue_complete(f->c, "new", &d, 1, &done, &err), MR_OK);
    assert_int_equal(done, 0);
    /* The new owner completes. */
    assert_int_equal(db_exec(f->c, "BEGIN", &err), MR_OK);
    assert_int_equal(queue_complete_in_tx(f->c, &b[0], &err), MR_OK);
    assert_int_equal(db_exec(f->c, "COMMIT", &err), MR_OK);
    assert_int_equal(tv_pg_int64(f->c, "SELECT count(*) FROM jobs WHERE state = 'completed'"), 1);
    queue_job_clear(&a[0]);
    queue_job_clear(&b[0]);
}

static void test_timeout_reaped(void **state)
{
    struct queue_job a[1];
    struct queue_job_spec s = {"slow", NULL, 0, 0, 0, 100, NULL};
    size_t n, reaped;
    int64_t id;
    FX();

    assert_int_equal(queue_enqueue(f->c, &s, &id, &err), MR_OK);
    assert_int_equal(queue_heartbeat(f->c, "w", 1, &err), MR_OK);
    assert_int_equal(queue_claim(f->c, "w", NULL, 0, a, 1, &n, &err), MR_OK);
    usleep(200000);
    assert_int_equal(queue_heartbeat(f->c, "w", 1, &err), MR_OK);
    assert_int_equal(queue_reap(f->c, 10000, &reaped, &err), MR_OK);
    assert_int_equal(reaped, 1);
    assert_int_equal(tv_pg_int64(f->c, "SELECT count(*) FROM jobs WHERE state = 'retryable' AND "
                               "last_error LIKE 'timed out after 100 ms%'"), 1);
    queue_job_clear(&a[0]);
}

static void test_retry_backoff_dead_letter(void **state)
{
    struct queue_job j[1];
    struct queue_job_spec s = {"flaky", NULL, 0, 0, 3, 0, NULL};
    size_t n, moved;
    int64_t id;
    int dead, changed;
    FX();

    assert_int_equal(queue_enqueue(f->c, &s, &id, &err), MR_OK);
    for (int attempt = 1; attempt <= 3; attempt++) {
        assert_int_equal(db_exec(f->c, "UPDATE jobs SET run_at = now() WHERE state = 'retryable'",
                                 &err), MR_OK);
        assert_int_equal(queue_schedule(f->c, &moved, &err), MR_OK);
        assert_int_equal(queue_claim(f->c, "w", NULL, 0, j, 1, &n, &err), MR_OK);
        assert_int_equal(n, 1);
        assert_int_equal(j[0].attempt, attempt);
        assert_int_equal(queue_fail(f->c, &j[0], "node said no", 0, 60000, &dead, &err), MR_OK);
        assert_int_equal(dead, attempt == 3);
        if (attempt < 3) {
            /* run_at is about a minute away: nothing to schedule yet. */
            assert_int_equal(tv_pg_int64(f->c, "SELECT (run_at > now() + interval '50 s')::int FROM jobs"), 1);
            assert_int_equal(queue_schedule(f->c, &moved, &err), MR_OK);
            assert_int_equal(moved, 0);
        }
        queue_job_clear(&j[0]);
    }
    assert_int_equal(tv_pg_int64(f->c, "SELECT count(*) FROM jobs WHERE state = 'failed' AND "
                               "last_error = 'node said no'"), 1);
    /* The operator retries the dead letter: one more attempt is allowed. */
    assert_int_equal(queue_retry(f->c, id, &changed, &err), MR_OK);
    assert_int_equal(changed, 1);
    assert_int_equal(queue_claim(f->c, "w", NULL, 0, j, 1, &n, &err), MR_OK);
    assert_int_equal(n, 1);
    assert_int_equal(j[0].attempt, 4);
    /* A permanent failure dead-letters at once; cancelling a dead job does nothing. */
    assert_int_equal(queue_fail(f->c, &j[0], "bad proof", 1, 0, &dead, &err), MR_OK);
    assert_int_equal(dead, 1);
    assert_int_equal(queue_cancel(f->c, id, &changed, &err), MR_OK);
    assert_int_equal(changed, 0);
    queue_job_clear(&j[0]);
    /* Cancel a waiting job. */
    assert_int_equal(queue_enqueue(f->c, &s, &id, &err), MR_OK);
    assert_int_equal(queue_cancel(f->c, id, &changed, &err), MR_OK);
    assert_int_equal(changed, 1);
    assert_int_equal(queue_claim(f->c, "w", NULL, 0, j, 1, &n, &err), MR_OK);
    assert_int_equal(n, 0);
}

static void test_backoff_function(void **state)
{
    (void)state;
    assert_int_equal(queue_backoff_ms(1, 1000, 60000, 0.5), 1000);
    assert_int_equal(queue_backoff_ms(2, 1000, 60000, 0.5), 2000);
    assert_int_equal(queue_backoff_ms(3, 1000, 60000, 0.5), 4000);
    assert_int_equal(queue_backoff_ms(30, 1000, 60000, 0.5), 60000);
    assert_int_equal(queue_backoff_ms(1000000, 1000, 60000, 0.5), 60000);
    /* jitter: [0.75, 1.25) of the nominal delay */
    assert_int_equal(queue_backoff_ms(3, 1000, 60000, 0.0), 3000);
    assert_true(queue_backoff_ms(3, 1000, 60000, 0.999999) < 5000);
    assert_true(queue_backoff_ms(3, 1000, 60000, 0.999999) >= 4999);
}

static void test_release_and_prune(void **state)
{
    struct queue_job j[2];
    size_t n, deleted;
    int64_t id;
    FX();

    enq(f->c, "x", 0, 0, NULL, &id);
    assert_int_equal(queue_claim(f->c, "w", NULL, 0, j, 1, &n, &err), MR_OK);
    assert_int_equal(queue_release(f->c, &j[0], &err), MR_OK);
    assert_int_equal(tv_pg_int64(f->c, "SELECT attempt FROM jobs"), 0);
    queue_job_clear(&j[0]);
    assert_int_equal(queue_claim(f->c, "w", NULL, 0, j, 1, &n, &err), MR_OK);
    assert_int_equal(j[0].attempt, 1);
    {
        struct queue_done d = {j[0].id, j[0].attempt};
        size_t done;
        assert_int_equal(queue_complete(f->c, "w", &d, 1, &done, &err), MR_OK);
    }
    assert_int_equal(queue_prune(f->c, 3600, 100, &deleted, &err), MR_OK);
    assert_int_equal(deleted, 0);
    assert_int_equal(db_exec(f->c, "UPDATE jobs SET finished_at = now() - interval '2 hours'", &err),
                     MR_OK);
    assert_int_equal(queue_prune(f->c, 3600, 100, &deleted, &err), MR_OK);
    assert_int_equal(deleted, 1);
    queue_job_clear(&j[0]);
}

/* A claim whose answer was lost with the connection is taken back when the
 * worker reconnects and reconciles what it knows it holds. */
static void test_release_unknown(void **state)
{
    struct queue_job j[2];
    size_t n, released;
    int64_t a, b;
    FX();

    enq(f->c, "x", 0, 0, NULL, &a);
    enq(f->c, "x", 0, 0, NULL, &b);
    assert_int_equal(queue_claim(f->c, "w", NULL, 0, j, 2, &n, &err), MR_OK);
    assert_int_equal(n, 2);
    assert_int_equal(queue_release_unknown(f->c, "w", &a, 1, &released, &err), MR_OK);
    assert_int_equal(released, 1);
    assert_int_equal(tv_pg_int64(f->c, "SELECT count(*) FROM jobs WHERE state = 'running'"), 1);
    assert_int_equal(tv_pg_int64(f->c, "SELECT count(*) FROM jobs WHERE state = 'retryable' AND "
                               "last_error LIKE '%answer was lost%'"), 1);
    /* Knowing nothing releases everything of that owner, and only of it. */
    assert_int_equal(queue_release_unknown(f->c, "other", NULL, 0, &released, &err), MR_OK);
    assert_int_equal(released, 0);
    assert_int_equal(queue_release_unknown(f->c, "w", NULL, 0, &released, &err), MR_OK);
    assert_int_equal(released, 1);
    queue_job_clear(&j[0]);
    queue_job_clear(&j[1]);
}

static enum queue_outcome never(void *ctx, PGconn *c, const struct queue_job *j, char *e, size_t n)
{
    (void)ctx;
    (void)c;
    (void)j;
    (void)e;
    (void)n;
    fail_msg("a worker refusing to run must not run jobs");
    return QUEUE_DEAD;
}

/* A server with fsync off is refused before any job runs. */
static void test_worker_refuses_fsync_off(void **state)
{
    static volatile sig_atomic_t stop;
    struct queue_worker_opts o = {0};
    int64_t id;
    int rc;
    FX();

    enq(f->c, "x", 0, 0, NULL, &id);
    /* (ALTER SYSTEM must be a statement of its own.) */
    assert_int_equal(db_exec(f->c, "ALTER SYSTEM SET fsync = off", &err), MR_OK);
    assert_int_equal(db_exec(f->c, "SELECT pg_reload_conf()", &err), MR_OK);
    usleep(300000);
    o.conninfo = f->ci;
    o.slots = 1;
    rc = queue_worker_run(&o, never, NULL, &stop, NULL, &err);
    assert_int_equal(db_exec(f->c, "ALTER SYSTEM RESET fsync", &err), MR_OK);
    assert_int_equal(db_exec(f->c, "SELECT pg_reload_conf()", &err), MR_OK);
    usleep(300000);
    assert_int_equal(rc, MR_ERR_INVALID);
    assert_non_null(strstr(err.msg, "fsync"));
    assert_int_equal(tv_pg_int64(f->c, "SELECT count(*) FROM jobs WHERE state = 'available'"), 1);
}

/* Maintenance never waits on a row a hung session holds: the reaper skips
 * it and takes back the others (RELIABILITY.md row 21). */
static void test_reap_skips_locked_rows(void **state)
{
    struct queue_job j[2];
    size_t n, reaped;
    int64_t a, b;
    char sql[128];
    PGconn *hung;
    FX();

    enq(f->c, "x", 0, 0, NULL, &a);
    enq(f->c, "x", 0, 0, NULL, &b);
    assert_int_equal(queue_heartbeat(f->c, "gone", 1, &err), MR_OK);
    assert_int_equal(queue_claim(f->c, "gone", NULL, 0, j, 2, &n, &err), MR_OK);
    assert_int_equal(n, 2);
    assert_int_equal(db_exec(f->c, "UPDATE workers SET heartbeat_at = now() - interval '1 hour'", &err),
                     MR_OK);
    hung = db_connect(f->ci, NULL, &err);
    assert_non_null(hung);
    snprintf(sql, sizeof(sql), "BEGIN; SELECT 1 FROM jobs WHERE id = %lld FOR UPDATE", (long long)a);
    assert_int_equal(db_exec(hung, sql, &err), MR_OK);
    assert_int_equal(queue_reap(f->c, 10000, &reaped, &err), MR_OK); /* returns at once */
    assert_int_equal(reaped, 1);
    assert_int_equal(db_exec(hung, "ROLLBACK", &err), MR_OK);
    assert_int_equal(queue_reap(f->c, 10000, &reaped, &err), MR_OK); /* the owner row is gone now */
    assert_int_equal(reaped, 1);
    assert_int_equal(tv_pg_int64(f->c, "SELECT count(*) FROM jobs WHERE state = 'retryable'"), 2);
    PQfinish(hung);
    queue_job_clear(&j[0]);
    queue_job_clear(&j[1]);
}

static void test_schema_checks(void **state)
{
    FX();
    /* The state machine's CHECKs refuse inconsistent rows. */
    assert_int_equal(db_exec(f->c, "INSERT INTO jobs (kind, state) VALUES ('x', 'running')", &err),
                     MR_ERR_IO);
    assert_int_equal(db_exec(f->c, "INSERT INTO jobs (kind, state) VALUES ('x', 'done')", &err),
                     MR_ERR_IO);
    assert_int_equal(db_exec(f->c, "INSERT INTO jobs (kind, state) VALUES ('x', 'completed')", &err),
                     MR_ERR_IO);
    assert_int_equal(db_exec(f->c, "INSERT INTO jobs (kind, attempt, max_attempts) VALUES ('x', 5, 3)",
                             &err), MR_ERR_IO);
    /* The dashboard views answer, and the read-only role sees only them. */
    assert_int_equal(db_exec(f->c, "SELECT * FROM mosaic_dash.queue_depth, mosaic_dash.stuck_jobs, "
                                   "mosaic_dash.message_pipeline, mosaic_dash.throughput_hourly, "
                                   "mosaic_dash.messages_hourly, mosaic_dash.workers", &err), MR_OK);
    if (tv_pg_int64(f->c, "SELECT count(*) FROM pg_roles WHERE rolname = 'mosaic_readonly'") == 1) {
        assert_int_equal(db_exec(f->c, "SET ROLE mosaic_readonly", &err), MR_OK);
        assert_int_equal(db_exec(f->c, "SELECT * FROM mosaic_dash.queue_depth", &err), MR_OK);
        assert_int_equal(db_exec(f->c, "SELECT * FROM mosaic.jobs", &err), MR_ERR_IO);
        assert_int_equal(db_exec(f->c, "SELECT * FROM mosaic.unlock_secrets", &err), MR_ERR_IO);
        assert_int_equal(db_exec(f->c, "RESET ROLE", &err), MR_OK);
    } else {
        fail_msg("the migration should have created mosaic_readonly (test user is superuser)");
    }
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_enqueue_claim_complete),
        T(test_dedup),
        T(test_delayed_and_schedule),
        T(test_wake),
        T(test_fence_after_reap),
        T(test_timeout_reaped),
        T(test_retry_backoff_dead_letter),
        cmocka_unit_test(test_backoff_function),
        T(test_release_and_prune),
        T(test_release_unknown),
        T(test_worker_refuses_fsync_off),
        T(test_reap_skips_locked_rows),
        T(test_schema_checks),
    };
    return cmocka_run_group_tests_name("queue: SQL state machine", tests, NULL, NULL);
}
