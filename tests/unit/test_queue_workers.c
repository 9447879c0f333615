/*
 * test_queue_workers.c - the worker runtime under faults, with real worker
 * processes and a real PostgreSQL: many workers and many jobs, kill -9 of a
 * worker, a PostgreSQL crash and restart, and a worker frozen (SIGSTOP)
 * past the heartbeat timeout.  A ledger table, written in the same
 * transaction as each job's completion, counts executions: every job must
 * be executed exactly once.
 */
#include "tests/lib/testlib.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "db/db.h"
#include "db/migrate.h"
#include "db/queue.h"
#include "db/worker.h"

static volatile sig_atomic_t child_stop;

static void on_term(int sig)
{
    (void)sig;
    child_stop = 1;
}

/* Handler: ledger row + fenced completion in one transaction; sleeps
 * args.sleep_ms (or the default) inside it. */
static enum queue_outcome ledger_handler(void *ctx, PGconn *c, const struct queue_job *job,
                                         char *errmsg, size_t errcap)
{
    struct mr_error err;
    char sql[256];
    const char *s = strstr(job->args, "\"sleep_ms\": ");
    int sleep_ms = s ? atoi(s + 12) : *(int *)ctx;
    int rc;

    snprintf(sql, sizeof(sql), "BEGIN; INSERT INTO ledger (job_id, attempt, worker) VALUES "
             "(%lld, %d, '%s')", (long long)job->id, job->attempt, job->owner);
    rc = db_exec(c, sql, &err);
    if (rc == MR_OK && sleep_ms > 0)
        usleep((useconds_t)sleep_ms * 1000);
    if (rc == MR_OK)
        rc = queue_complete_in_tx(c, job, &err);
    if (rc == MR_OK)
        rc = db_exec(c, "COMMIT", &err);
    if (rc != MR_OK) {
        PQclear(PQexec(c, "ROLLBACK"));
        snprintf(errmsg, errcap, "%s", err.msg);
        return rc == MR_ERR_NOTFOUND ? QUEUE_LOST : QUEUE_RETRY;
    }
    return QUEUE_DONE_IN_TX;
}

/* Every worker started, so that a failed test leaves none behind. */
static pid_t spawned[64];
static size_t nspawned;

static int reap_all(void **state)
{
    (void)state;
    for (size_t i = 0; i < nspawned; i++) {
        if (kill(spawned[i], 0) == 0) {
            kill(spawned[i], SIGKILL);
            waitpid(spawned[i], NULL, 0);
        }
    }
    nspawned = 0;
    return 0;
}

/* Local queue size for the next spawned workers. */
static int spawn_prefetch;

static pid_t spawn_worker(const char *ci, const char *name, int slots, int sleep_ms)
{
    pid_t pid = fork();

    assert_true(pid >= 0);
    if (pid > 0 && nspawned < sizeof(spawned) / sizeof(spawned[0]))
        spawned[nspawned++] = pid;
    if (pid == 0) {
        struct queue_worker_opts o = {0};
        /* Die with the test program, even if an assertion ends it early. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        struct mr_error err;
        static int sl;
        sl = sleep_ms;
        signal(SIGTERM, on_term);
        o.conninfo = ci;
        o.owner = name;
        o.slots = slots;
        o.prefetch = spawn_prefetch;
        o.poll_ms = 200;
        o.heartbeat_ms = 200;
        o.dead_after_ms = 1000;
        o.maintenance_ms = 100;
        o.backoff_base_ms = 50;
        o.backoff_cap_ms = 400;
        o.log = getenv("MR_TEST_WORKER_LOG") ? stderr : NULL;
        _exit(queue_worker_run(&o, ledger_handler, &sl, &child_stop, NULL, &err) == MR_OK ? 0 : 1);
    }
    return pid;
}

static void stop_workers(pid_t *pids, int n)
{
    for (int i = 0; i < n; i++) {
        int st;
        if (pids[i] <= 0)
            continue;
        kill(pids[i], SIGCONT);
        kill(pids[i], SIGTERM);
        assert_int_equal(waitpid(pids[i], &st, 0), pids[i]);
        assert_true(WIFEXITED(st));
        assert_int_equal(WEXITSTATUS(st), 0);
    }
}

/* A fresh migrated database with the ledger table.  Returns conninfo. */
static char *prepare_db(void)
{
    struct mr_error err;
    char *ci = tv_pg_newdb();
    PGconn *c = db_connect(ci, NULL, &err);
    int applied;

    if (c == NULL || db_migrate(c, db_migrations, db_migrations_count, NULL, &applied, &err) != MR_OK ||
        db_exec(c, "CREATE TABLE ledger (job_id bigint NOT NULL, attempt int NOT NULL, "
                   "worker text NOT NULL, at timestamptz NOT NULL DEFAULT now())", &err) != MR_OK)
        fail_msg("prepare: %s", err.msg);
    PQfinish(c);
    return ci;
}

static void enqueue_n(const char *ci, int n, const char *args)
{
    struct mr_error err;
    PGconn *c = db_connect(ci, NULL, &err);
    struct queue_job_spec specs[100];

    assert_non_null(c);
    for (int done = 0; done < n;) {
        int k = n - done < 100 ? n - done : 100;
        size_t ins;
        for (int i = 0; i < k; i++)
            specs[i] = (struct queue_job_spec){"ledger", args, 0, 0, 0, 0, NULL};
        if (queue_enqueue_batch(c, specs, (size_t)k, &ins, &err) != MR_OK)
            fail_msg("enqueue: %s", err.msg);
        done += k;
    }
    PQfinish(c);
}

/* Value of a one-number query, reconnecting across a database restart;
 * -2 when the database is unreachable. */
static int64_t probe(const char *ci, const char *sql)
{
    struct mr_error err;
    PGconn *c = db_connect(ci, NULL, &err);
    int64_t v = -2;

    if (c == NULL)
        return -2;
    if (db_query_int64(c, sql, &v, &err) != MR_OK)
        v = -2;
    PQfinish(c);
    return v;
}

/* Waits until `sql` returns `want` (or the timeout); returns the last value. */
static int64_t wait_for(const char *ci, const char *sql, int64_t want, int timeout_s)
{
    time_t end = time(NULL) + timeout_s;
    int64_t v;

    do {
        v = probe(ci, sql);
        if (v == want)
            return v;
        usleep(50000);
    } while (time(NULL) < end);
    return v;
}

/* Every job completed, each executed (committed in the ledger) once. */
static void assert_exactly_once(const char *ci, int n)
{
    assert_int_equal(probe(ci, "SELECT count(*) FROM jobs WHERE state = 'completed'"), n);
    assert_int_equal(probe(ci, "SELECT count(*) FROM ledger"), n);
    assert_int_equal(probe(ci, "SELECT count(DISTINCT job_id) FROM ledger"), n);
    assert_int_equal(probe(ci, "SELECT count(*) FROM ledger l JOIN jobs j ON j.id = l.job_id "
                               "AND j.attempt = l.attempt"), n);
}

#define PENDING "SELECT count(*) FROM jobs WHERE state <> 'completed'"

static void test_many_workers_many_jobs(void **state)
{
    char *ci;
    pid_t w[4];
    char name[16];
    (void)state;

    TV_REQUIRE_PG();
    ci = prepare_db();
    enqueue_n(ci, 2000, NULL);
    for (int i = 0; i < 4; i++) {
        snprintf(name, sizeof(name), "w%d", i);
        w[i] = spawn_worker(ci, name, 4, 0);
    }
    assert_int_equal(wait_for(ci, PENDING, 0, 120), 0);
    stop_workers(w, 4);
    assert_exactly_once(ci, 2000);
    /* Every worker did some of the work, and unregistered at stop. */
    assert_int_equal(probe(ci, "SELECT count(DISTINCT worker) FROM ledger"), 4);
    assert_int_equal(probe(ci, "SELECT count(*) FROM workers"), 0);
    free(ci);
}

static void test_kill9_worker(void **state)
{
    char *ci;
    pid_t w[3];
    char name[16];
    int st;
    (void)state;

    TV_REQUIRE_PG();
    ci = prepare_db();
    enqueue_n(ci, 300, "{\"sleep_ms\": 20}");
    for (int i = 0; i < 3; i++) {
        snprintf(name, sizeof(name), "k%d", i);
        w[i] = spawn_worker(ci, name, 4, 0);
    }
    /* Once a third is done, kill k0 at a moment it holds running jobs (on
     * a loaded machine k0 may be between claims at any single instant, so
     * wait for such a moment, for up to a minute). */
    while (probe(ci, "SELECT count(*) FROM ledger") < 100)
        usleep(10000);
    for (int i = 0; i < 60000 && probe(ci, "SELECT count(*) FROM jobs WHERE state = 'running' "
                                           "AND owner = 'k0'") == 0; i++)
        usleep(1000);
    assert_true(probe(ci, "SELECT count(*) FROM jobs WHERE state = 'running' AND owner = 'k0'") > 0);
    kill(w[0], SIGKILL);
    assert_int_equal(waitpid(w[0], &st, 0), w[0]);
    w[0] = 0;
    assert_int_equal(wait_for(ci, PENDING, 0, 120), 0);
    stop_workers(w, 3);
    assert_exactly_once(ci, 300);
    /* The reaper took k0's jobs back and others ran them as attempt 2. */
    assert_true(probe(ci, "SELECT count(*) FROM jobs WHERE attempt > 1") > 0);
    assert_int_equal(probe(ci, "SELECT count(*) FROM ledger WHERE worker = 'k0' AND at > "
                               "(SELECT max(attempted_at) FROM jobs WHERE attempt > 1)"), 0);
    free(ci);
}

static void test_postgres_crash_restart(void **state)
{
    char *ci;
    pid_t w[3];
    char name[16];
    (void)state;

    TV_REQUIRE_PG();
    if (getenv("MR_TEST_PGCTL") == NULL)
        skip();
    ci = prepare_db();
    enqueue_n(ci, 400, "{\"sleep_ms\": 5}");
    for (int i = 0; i < 3; i++) {
        snprintf(name, sizeof(name), "r%d", i);
        w[i] = spawn_worker(ci, name, 4, 0);
    }
    while (probe(ci, "SELECT count(*) FROM ledger") < 100)
        usleep(10000);
    assert_int_equal(tv_pg_ctl("stop -m immediate"), 0);
    usleep(700000);
    assert_int_equal(tv_pg_ctl("start"), 0);
    assert_int_equal(wait_for(ci, PENDING, 0, 120), 0);
    /* The workers survived the outage. */
    for (int i = 0; i < 3; i++)
        assert_int_equal(waitpid(w[i], NULL, WNOHANG), 0);
    stop_workers(w, 3);
    assert_exactly_once(ci, 400);
    free(ci);
}

static void test_sigstop_past_heartbeat(void **state)
{
    char *ci;
    pid_t w[2] = {0, 0};
    (void)state;

    TV_REQUIRE_PG();
    ci = prepare_db();
    enqueue_n(ci, 1, "{\"sleep_ms\": 1500}");
    w[0] = spawn_worker(ci, "frozen", 1, 0);
    assert_int_equal(wait_for(ci, "SELECT count(*) FROM jobs WHERE state = 'running' AND owner = 'frozen'",
                              1, 30), 1);
    usleep(100000); /* inside its handler transaction now */
    kill(w[0], SIGSTOP);
    w[1] = spawn_worker(ci, "rescuer", 1, 0);
    /* The rescuer's reaper takes the job back after 1 s of silence, runs it. */
    assert_int_equal(wait_for(ci, PENDING, 0, 60), 0);
    kill(w[0], SIGCONT);
    /* Let the frozen worker finish its handler: its completion is fenced. */
    usleep(2000000);
    stop_workers(w, 2);
    assert_exactly_once(ci, 1);
    assert_int_equal(probe(ci, "SELECT count(*) FROM ledger WHERE worker = 'rescuer' AND attempt = 2"), 1);
    free(ci);
}

/* Workers with a local queue; one is stopped gracefully mid-run: it must
 * hand back what it claimed but did not start, and finish what it runs. */
static void test_prefetch_graceful_stop(void **state)
{
    char *ci;
    pid_t w[2];
    (void)state;

    TV_REQUIRE_PG();
    ci = prepare_db();
    enqueue_n(ci, 600, "{\"sleep_ms\": 2}");
    spawn_prefetch = 100;
    w[0] = spawn_worker(ci, "p0", 2, 0);
    w[1] = spawn_worker(ci, "p1", 2, 0);
    spawn_prefetch = 0;
    while (probe(ci, "SELECT count(*) FROM ledger WHERE worker = 'p0'") < 50)
        usleep(5000);
    assert_true(probe(ci, "SELECT count(*) FROM jobs WHERE state = 'running' AND owner = 'p0'") > 2);
    stop_workers(&w[0], 1); /* SIGTERM: graceful */
    assert_int_equal(probe(ci, "SELECT count(*) FROM jobs WHERE owner = 'p0'"), 0);
    assert_int_equal(wait_for(ci, PENDING, 0, 120), 0);
    stop_workers(&w[1], 1);
    assert_exactly_once(ci, 600);
    free(ci);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_many_workers_many_jobs, reap_all),
        cmocka_unit_test_teardown(test_kill9_worker, reap_all),
        cmocka_unit_test_teardown(test_postgres_crash_restart, reap_all),
        cmocka_unit_test_teardown(test_sigstop_past_heartbeat, reap_all),
        cmocka_unit_test_teardown(test_prefetch_graceful_stop, reap_all),
    };
    return cmocka_run_group_tests_name("queue: workers under faults", tests, NULL, NULL);
}
