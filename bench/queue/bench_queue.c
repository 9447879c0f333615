/*
 * bench_queue.c - the job queue measured on a real PostgreSQL: enqueue
 * rates, time to drain N no-op jobs with 1, 2 and 4 worker processes, and
 * wake-up latency (enqueue to handler start).  Prints numbers; never a
 * pass/fail.  bench/queue/run.sh runs it next to graphile-worker on the
 * same server.
 *
 * usage: bench-queue CONNINFO [JOBS] [SLOTS]
 */
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "db/db.h"
#include "db/queue.h"
#include "db/worker.h"

struct shared {
    _Atomic long handled;
    _Atomic int64_t started_us[256]; /* latency phase: handler start per job */
};

static struct shared *shm;
static volatile sig_atomic_t stop_flag;

static int64_t now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void on_term(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static enum queue_outcome noop(void *ctx, PGconn *c, const struct queue_job *job, char *e,
                               size_t n)
{
    const char *p = strstr(job->args, "\"i\": ");
    (void)ctx;
    (void)c;
    (void)e;
    (void)n;
    if (p != NULL) {
        int i = atoi(p + 5);
        if (i >= 0 && i < 256)
            atomic_store(&shm->started_us[i], now_us());
    }
    atomic_fetch_add(&shm->handled, 1);
    return QUEUE_DONE;
}

static PGconn *conn(const char *ci)
{
    struct mr_error err;
    PGconn *c = db_connect(ci, NULL, &err);

    if (c == NULL) {
        fprintf(stderr, "bench-queue: %s\n", err.msg);
        exit(2);
    }
    return c;
}

static void must(int rc, const struct mr_error *err)
{
    if (rc != MR_OK) {
        fprintf(stderr, "bench-queue: %s\n", err->msg);
        exit(1);
    }
}

static pid_t spawn(const char *ci, int slots, int prefetch, int k)
{
    pid_t pid = fork();

    if (pid == 0) {
        struct queue_worker_opts o = {0};
        struct mr_error err;
        char name[32];
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        signal(SIGTERM, on_term);
        snprintf(name, sizeof(name), "bench-%d", k);
        o.conninfo = ci;
        o.owner = name;
        o.slots = slots;
        o.prefetch = prefetch;
        o.log = getenv("BENCH_LOG") ? stderr : NULL;
        _exit(queue_worker_run(&o, noop, NULL, &stop_flag, NULL, &err) == MR_OK ? 0 : 1);
    }
    return pid;
}

static void stop_all(pid_t *pids, int n)
{
    for (int i = 0; i < n; i++)
        kill(pids[i], SIGTERM);
    for (int i = 0; i < n; i++)
        waitpid(pids[i], NULL, 0);
}

static void reset(PGconn *c)
{
    struct mr_error err;

    must(db_exec(c, "TRUNCATE jobs, workers", &err), &err);
    must(db_exec(c, "VACUUM ANALYZE jobs", &err), &err);
}

static void enqueue_batches(PGconn *c, long n)
{
    struct queue_job_spec specs[100];
    struct mr_error err;

    for (int i = 0; i < 100; i++)
        specs[i] = (struct queue_job_spec){"noop", NULL, 0, 0, 0, 0, NULL};
    for (long done = 0; done < n;) {
        size_t k = (size_t)(n - done < 100 ? n - done : 100), ins;
        must(queue_enqueue_batch(c, specs, k, &ins, &err), &err);
        done += (long)k;
    }
}

static int cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    const char *ci;
    long jobs = argc > 2 ? atol(argv[2]) : 100000;
    int slots = argc > 3 ? atoi(argv[3]) : 4;
    struct mr_error err;
    PGconn *c;
    int64_t t0, t1, v;

    if (argc < 2 || jobs <= 0 || slots <= 0) {
        fprintf(stderr, "usage: bench-queue CONNINFO [JOBS] [SLOTS]\n");
        return 2;
    }
    ci = argv[1];
    shm = mmap(NULL, sizeof(*shm), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (shm == MAP_FAILED)
        return 1;
    c = conn(ci);
    reset(c);
    queue_set_notify_throttle_us(0); /* every single enqueue notifies, as in the latency phase */

    /* A. single enqueues, each its own transaction. */
    {
        struct queue_job_spec s = {"noop", NULL, 0, 0, 0, 0, NULL};
        int n = 5000;
        int64_t id;
        t0 = now_us();
        for (int i = 0; i < n; i++)
            must(queue_enqueue(c, &s, &id, &err), &err);
        t1 = now_us();
        printf("ours  enqueue single      : %8.0f jobs/s (%d jobs, one transaction each)\n",
               n / ((double)(t1 - t0) / 1e6), n);
    }
    reset(c);
    /* B. batches of 100. */
    t0 = now_us();
    enqueue_batches(c, jobs);
    t1 = now_us();
    printf("ours  enqueue batch of 100: %8.0f jobs/s (%ld jobs)\n", jobs / ((double)(t1 - t0) / 1e6),
           jobs);

    /* C. drain with 1, 2, 4 worker processes, claims sized to free slots
     * ("default") and with a local queue of 500 ("batched"). */
    for (int mode = 0; mode < 2; mode++) {
        int prefetch = mode == 0 ? 0 : 500;
        for (int w = 1; w <= 4; w *= 2) {
            pid_t pids[4];
            reset(c);
            enqueue_batches(c, jobs);
            atomic_store(&shm->handled, 0);
            t0 = now_us();
            for (int k = 0; k < w; k++)
                pids[k] = spawn(ci, slots, prefetch, k);
            while (atomic_load(&shm->handled) < jobs)
                usleep(1000);
            do {
                must(db_query_int64(c, "SELECT count(*) FROM jobs WHERE state <> 'completed'", &v,
                                    &err), &err);
            } while (v > 0 && usleep(1000) == 0);
            t1 = now_us();
            stop_all(pids, w);
            printf("ours  drain %ld no-op jobs, %d worker%s x %d slots, %s: %6.2f s = %8.0f jobs/s\n",
                   jobs, w, w > 1 ? "s" : " ", slots, mode == 0 ? "default" : "batched",
                   (double)(t1 - t0) / 1e6, jobs / ((double)(t1 - t0) / 1e6));
        }
    }

    /* D. wake-up latency: 200 sequential jobs, one idle worker. */
    for (int mode = 0; mode < 2; mode++) {
        int64_t lat[200];
        pid_t pid;
        reset(c);
        memset(shm->started_us, 0, sizeof(shm->started_us));
        pid = spawn(ci, slots, mode == 0 ? 0 : 500, 9);
        usleep(500000); /* let it connect and LISTEN */
        for (int i = 0; i < 200; i++) {
            char args[32];
            struct queue_job_spec s = {"noop", args, 0, 0, 0, 0, NULL};
            int64_t id;
            snprintf(args, sizeof(args), "{\"i\": %d}", i);
            t0 = now_us();
            must(queue_enqueue(c, &s, &id, &err), &err);
            while (atomic_load(&shm->started_us[i]) == 0)
                usleep(20);
            lat[i] = atomic_load(&shm->started_us[i]) - t0;
            usleep(2000);
        }
        stop_all(&pid, 1);
        qsort(lat, 200, sizeof(lat[0]), cmp64);
        printf("ours  wake-up latency (%s, enqueue commit included), 200 sequential jobs: "
               "p50 %.2f ms, p99 %.2f ms\n", mode == 0 ? "default" : "batched",
               (double)lat[100] / 1000.0, (double)lat[198] / 1000.0);
    }
    PQfinish(c);
    return 0;
}
