/*
 * worker.c - the queue's worker runtime (see worker.h).
 */
#include "db/worker.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "db/db.h"


/* Most results written by one flush. */
#define FLUSH_MAX 1000

/* Owner ids end in 16 bits that differ for every worker of the process: a
 * random base drawn once, plus a sequence number.  (Seeding each worker's
 * own generator from the pid and the millisecond gave two workers started
 * in the same millisecond of one process the same id: `run --role` parts
 * started together in one process would have released each other's jobs
 * at connect and unregistered each other at stop.) */
static atomic_uint owner_seq;
static unsigned owner_base;
static pthread_once_t owner_once = PTHREAD_ONCE_INIT;

struct result {
    struct queue_job job;     /* args already freed */
    enum queue_outcome outcome;
    char error[256];
};

struct worker {
    struct queue_worker_opts o;
    char owner[QUEUE_OWNER_MAX + 1];
    queue_handler_fn fn;
    void *ctx;
    const volatile sig_atomic_t *stop;

    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct queue_job *pending;   /* claimed, not started (FIFO) */
    size_t npending, pending_head;
    struct result *results;      /* finished, not yet written */
    size_t nresults, results_cap;
    int64_t first_result_ms;
    int busy;                    /* pending + running */
    int64_t *held;               /* ids this worker holds: claimed, not yet written */
    size_t nheld, held_cap;
    int stopping;                /* handler threads: exit */
    int completer_stop;          /* completer: flush what is left and exit */
    int completer_done;          /* the completer has exited */
    pthread_cond_t cv_res;       /* results arrived (completer waits on it) */
    int wake[2];                 /* handler threads -> fetch thread */

    PGconn *conn;                /* the fetch thread's connection */
    unsigned rng;
    struct queue_worker_stats st;
    struct mr_error fatal;       /* why the fetch loop gave up, if it did */
};

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static double rand01(unsigned *seed)
{
    return (double)(rand_r(seed) % 1000000) / 1000000.0;
}

enum { WL_ERROR = 0, WL_WARN = 1, WL_INFO = 2 };

static void wlog(struct worker *w, int level, int64_t job, const char *fmt, ...) MR_PRINTF(4, 5);
static void wlog(struct worker *w, int level, int64_t job, const char *fmt, ...)
{
    char line[512];
    va_list ap;

    if (w->o.log_fn == NULL && w->o.log == NULL)
        return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (w->o.log_fn != NULL) {
        w->o.log_fn(w->o.log_ctx, level, job, line);
        return;
    }
    fprintf(w->o.log, "worker=%s %s\n", w->owner, line);
    fflush(w->o.log);
}

static void sleep_ms(int64_t ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static void owner_base_init(void)
{
    unsigned seed = (unsigned)getpid() ^ (unsigned)now_ms();

    owner_base = (unsigned)rand_r(&seed);
}

static void defaults(struct queue_worker_opts *o)
{
    if (o->slots <= 0) o->slots = 4;
    if (o->poll_ms <= 0) o->poll_ms = 1000;
    if (o->heartbeat_ms <= 0) o->heartbeat_ms = 1000;
    if (o->dead_after_ms <= 0) o->dead_after_ms = 10000;
    if (o->maintenance_ms <= 0) o->maintenance_ms = 200;
    if (o->complete_batch <= 0) o->complete_batch = 100;
    if (o->complete_flush_ms <= 0) o->complete_flush_ms = 2;
    if (o->trailing_claim_ms <= 0) o->trailing_claim_ms = 3;
    if (o->retention_s <= 0) o->retention_s = 86400;
    if (o->backoff_base_ms <= 0) o->backoff_base_ms = 1000;
    if (o->backoff_cap_ms <= 0) o->backoff_cap_ms = 3600000;
}

/* Jobs the worker may hold at once: running plus claimed ahead. */
static size_t cap_of(const struct worker *w)
{
    return (size_t)w->o.slots + (size_t)w->o.prefetch;
}

static void poke(struct worker *w)
{
    char c = 1;

    if (write(w->wake[1], &c, 1) < 0 && errno != EAGAIN)
        return;
}

/* Whether no job is pending or running. */
static int idle(struct worker *w)
{
    int busy;

    pthread_mutex_lock(&w->mu);
    busy = w->busy;
    pthread_mutex_unlock(&w->mu);
    return busy == 0;
}

/* Connects with capped, jittered backoff until it works or stop is asked
 * (returns NULL then).  `listen` subscribes to the wake-up channel;
 * `handler` says a handler thread asks. */
static PGconn *connect_retry(struct worker *w, int listen, int handler, unsigned *seed)
{
    struct db_session_opts so = {"mosaic-relayer worker", 0, 0};
    int64_t delay = 100;

    for (;;) {
        struct mr_error err;
        PGconn *c = db_connect(w->o.conninfo, &so, &err);
        if (c != NULL && (!listen || db_exec(c, "LISTEN " QUEUE_CHANNEL, &err) == MR_OK))
            return c;
        if (c != NULL)
            PQfinish(c);
        wlog(w, WL_WARN, 0, "database unavailable, retrying in %lld ms: %s", (long long)delay,
             err.msg);
        /* At stop, a handler gives up (its job returns through the
         * reaper); the fetch thread waits for the handlers first. */
        if (*w->stop && (handler || idle(w)))
            return NULL;
        sleep_ms((int64_t)((double)delay * (0.5 + rand01(seed))));
        if (*w->stop && (handler || idle(w)))
            return NULL;
        delay = delay * 2 > 5000 ? 5000 : delay * 2;
    }
}

/* The set of held job ids (mu held by the caller). */
static void held_add(struct worker *w, int64_t id)
{
    if (w->nheld == w->held_cap) {
        size_t cap = w->held_cap ? w->held_cap * 2 : 64;
        int64_t *nh = realloc(w->held, cap * sizeof(*nh));
        if (nh == NULL)
            return; /* then a reconnect may release it: at-least-once */
        w->held = nh;
        w->held_cap = cap;
    }
    w->held[w->nheld++] = id;
}

static void held_remove(struct worker *w, int64_t id)
{
    for (size_t i = 0; i < w->nheld; i++) {
        if (w->held[i] == id) {
            w->held[i] = w->held[--w->nheld];
            return;
        }
    }
}

/* ---- handler threads ---- */

static void *handler_main(void *arg)
{
    struct worker *w = arg;
    PGconn *conn = NULL;
    unsigned seed = (unsigned)(uintptr_t)&conn ^ (unsigned)now_ms();

    for (;;) {
        struct result r;
        struct queue_job job;
        int need_poke;

        pthread_mutex_lock(&w->mu);
        while (w->npending == 0 && !w->stopping)
            pthread_cond_wait(&w->cv, &w->mu);
        if (w->npending == 0 || w->stopping) {
            pthread_mutex_unlock(&w->mu);
            break;
        }
        job = w->pending[w->pending_head];
        w->pending_head = (w->pending_head + 1) % cap_of(w);
        w->npending--;
        pthread_mutex_unlock(&w->mu);

        if (conn == NULL || db_conn_lost(conn)) {
            if (conn != NULL)
                PQfinish(conn);
            conn = connect_retry(w, 0, 1, &seed);
        }
        memset(&r, 0, sizeof(r));
        r.outcome = conn != NULL ? w->fn(w->ctx, conn, &job, r.error, sizeof(r.error))
                                 : QUEUE_RETRY;
        if (conn == NULL)
            snprintf(r.error, sizeof(r.error), "no database connection");
        free(job.args);
        job.args = NULL;
        r.job = job;

        pthread_mutex_lock(&w->mu);
        if (w->nresults == w->results_cap) {
            size_t cap = w->results_cap ? w->results_cap * 2 : 64;
            struct result *nr = realloc(w->results, cap * sizeof(*nr));
            if (nr != NULL) {
                w->results = nr;
                w->results_cap = cap;
            }
        }
        if (w->nresults < w->results_cap) {
            if (w->nresults == 0)
                w->first_result_ms = now_ms();
            w->results[w->nresults++] = r;
        }
        /* else: out of memory; the job stays running and the reaper
         * returns it (at-least-once). */
        w->busy--;
        /* The completer wakes for the first result (it starts the flush
         * timer) and for a full batch; the fetch thread only when the local
         * queue ran dry and a claim is due. */
        if (w->nresults == 1 || w->nresults >= (size_t)w->o.complete_batch)
            pthread_cond_signal(&w->cv_res);
        need_poke = w->npending == 0;
        pthread_mutex_unlock(&w->mu);
        if (need_poke)
            poke(w);
    }
    if (conn != NULL)
        PQfinish(conn);
    return NULL;
}

/* ---- the fetch thread ---- */

static void drop_if_lost(struct worker *w, PGconn **connp);

static void lost_connection(struct worker *w)
{
    drop_if_lost(w, &w->conn);
}

/* Closes *connp if the server is gone, so that the owner reconnects. */
static void drop_if_lost(struct worker *w, PGconn **connp)
{
    if (*connp != NULL && db_conn_lost(*connp)) {
        PQfinish(*connp);
        *connp = NULL;
        pthread_mutex_lock(&w->mu);
        w->st.reconnects++;
        pthread_mutex_unlock(&w->mu);
    }
}

/* Writes the finished results on *connp.  Keeps them when the database is
 * away (and closes the lost connection). */
static void flush_results(struct worker *w, PGconn **connp, unsigned *seed)
{
    struct result *rs;
    struct queue_done *done;
    size_t n, nd = 0, completed = 0;
    struct mr_error err;

    pthread_mutex_lock(&w->mu);
    n = w->nresults;
    if (n > FLUSH_MAX)
        n = FLUSH_MAX; /* bounded statements; the completer loops for the rest */
    rs = n ? malloc(n * sizeof(*rs)) : NULL;
    if (rs != NULL)
        memcpy(rs, w->results, n * sizeof(*rs));
    pthread_mutex_unlock(&w->mu);
    if (rs == NULL || *connp == NULL) {
        free(rs);
        return;
    }
    done = malloc(n * sizeof(*done));
    if (done == NULL) {
        free(rs);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (rs[i].outcome == QUEUE_DONE)
            done[nd++] = (struct queue_done){rs[i].job.id, rs[i].job.attempt};
    }
    if (queue_complete(*connp, w->owner, done, nd, &completed, &err) != MR_OK) {
        wlog(w, WL_WARN, 0, "completing %zu jobs: %s", nd, err.msg);
        drop_if_lost(w, connp);
        free(done);
        free(rs);
        return;
    }
    w->st.completed += completed;
    w->st.fenced_out += nd - completed;
    for (size_t i = 0; i < n; i++) {
        const struct result *r = &rs[i];
        int dead = 0, rc = MR_OK;
        switch (r->outcome) {
        case QUEUE_DONE:
            break;
        case QUEUE_DONE_IN_TX:
            w->st.completed++;
            break;
        case QUEUE_LOST:
            w->st.fenced_out++;
            break;
        case QUEUE_CANCEL:
            rc = queue_cancel_owned(*connp, &r->job, r->error[0] ? r->error : NULL, &err);
            if (rc == MR_OK)
                w->st.cancelled++;
            break;
        case QUEUE_RETRY:
        case QUEUE_DEAD:
            rc = queue_fail(*connp, &r->job, r->error[0] ? r->error : "failed",
                            r->outcome == QUEUE_DEAD,
                            queue_backoff_ms(r->job.attempt, w->o.backoff_base_ms,
                                             w->o.backoff_cap_ms, rand01(seed)),
                            &dead, &err);
            if (rc == MR_OK) {
                w->st.retried += !dead;
                w->st.dead += dead;
                wlog(w, dead ? WL_ERROR : WL_WARN, r->job.id, "job=%lld kind=%s attempt=%d %s: %s",
                     (long long)r->job.id, r->job.kind, r->job.attempt,
                     dead ? "dead-lettered" : "will retry", r->error);
            }
            break;
        }
        if (rc == MR_ERR_NOTFOUND) {
            w->st.fenced_out++;
            rc = MR_OK;
        }
        if (rc != MR_OK) {
            /* Keep this one and the rest for the next flush. */
            drop_if_lost(w, connp);
            pthread_mutex_lock(&w->mu);
            for (size_t k = 0; k < i; k++)
                held_remove(w, rs[k].job.id);
            memmove(w->results, w->results + i, (w->nresults - i) * sizeof(*rs));
            w->nresults -= i;
            pthread_mutex_unlock(&w->mu);
            free(done);
            free(rs);
            return;
        }
    }
    pthread_mutex_lock(&w->mu);
    for (size_t i = 0; i < n; i++)
        held_remove(w, rs[i].job.id);
    memmove(w->results, w->results + n, (w->nresults - n) * sizeof(*rs));
    w->nresults -= n;
    if (w->nresults > 0)
        w->first_result_ms = now_ms();
    pthread_mutex_unlock(&w->mu);
    free(done);
    free(rs);
}

/* The completer thread: writes results in batches (complete_batch, or
 * complete_flush_ms after the first), on its own connection, so that
 * completing overlaps with claiming. */
static void *completer_main(void *arg)
{
    struct worker *w = arg;
    PGconn *conn = NULL;
    unsigned seed = (unsigned)now_ms() ^ 0x5bd1e995u;

    for (;;) {
        pthread_mutex_lock(&w->mu);
        while (!w->completer_stop && w->nresults < (size_t)w->o.complete_batch) {
            if (w->nresults > 0) {
                int64_t due = w->first_result_ms + w->o.complete_flush_ms;
                struct timespec ts;
                if (now_ms() >= due)
                    break;
                clock_gettime(CLOCK_MONOTONIC, &ts);
                ts.tv_sec += (time_t)((due - now_ms()) / 1000);
                ts.tv_nsec += (long)((due - now_ms()) % 1000) * 1000000L;
                if (ts.tv_nsec >= 1000000000L) {
                    ts.tv_sec++;
                    ts.tv_nsec -= 1000000000L;
                }
                pthread_cond_timedwait(&w->cv_res, &w->mu, &ts);
            } else {
                pthread_cond_wait(&w->cv_res, &w->mu);
            }
        }
        if (w->completer_stop && w->nresults == 0) {
            pthread_mutex_unlock(&w->mu);
            break;
        }
        pthread_mutex_unlock(&w->mu);
        if (conn == NULL) {
            conn = connect_retry(w, 0, 0, &seed);
            if (conn == NULL)
                break; /* stopping with the database away: the reaper returns them */
        }
        flush_results(w, &conn, &seed);
        poke(w); /* slots are free: the fetch thread may claim */
    }
    if (conn != NULL)
        PQfinish(conn);
    pthread_mutex_lock(&w->mu);
    w->completer_done = 1;
    pthread_mutex_unlock(&w->mu);
    poke(w);
    return NULL;
}

/* Claims up to the free slots.  Returns the number claimed, -1 on error. */
static int claim(struct worker *w, int *full)
{
    struct queue_job jobs[256];
    struct mr_error err;
    size_t want, got = 0;

    pthread_mutex_lock(&w->mu);
    want = cap_of(w) - (size_t)w->busy;
    /* Backpressure: claims wait while results pile up unwritten. */
    if (w->nresults > FLUSH_MAX)
        want = want > w->nresults - FLUSH_MAX ? want - (w->nresults - FLUSH_MAX) : 0;
    pthread_mutex_unlock(&w->mu);
    if (want > 256)
        want = 256;
    *full = 0;
    if (want == 0 || w->conn == NULL)
        return 0;
    if (queue_claim(w->conn, w->owner, w->o.kinds, w->o.nkinds, jobs, want, &got, &err) != MR_OK) {
        wlog(w, WL_WARN, 0, "claim: %s", err.msg);
        lost_connection(w);
        return -1;
    }
    pthread_mutex_lock(&w->mu);
    for (size_t i = 0; i < got; i++) {
        size_t tail = (w->pending_head + w->npending) % cap_of(w);
        w->pending[tail] = jobs[i];
        w->npending++;
        w->busy++;
        held_add(w, jobs[i].id);
    }
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    w->st.claimed += got;
    *full = got == want;
    return (int)got;
}

/* Scheduler, reaper and pruning.  Each is one autocommit statement that
 * skips rows other sessions hold, so any number of workers can run them at
 * once, and a worker frozen in the middle (SIGSTOP, a debugger, a VM pause)
 * holds no lock that would stop the others: no explicit transaction and no
 * "one maintainer" lock here (RELIABILITY.md row 21). */
static void maintenance(struct worker *w, int prune)
{
    struct mr_error err;
    size_t n = 0;
    int rc;

    if (w->conn == NULL)
        return;
    rc = queue_reap(w->conn, w->o.dead_after_ms, &n, &err);
    if (rc == MR_OK && n > 0)
        wlog(w, WL_WARN, 0, "reaped %zu jobs of silent workers or past their timeout", n);
    if (rc == MR_OK)
        rc = queue_schedule(w->conn, &n, &err);
    if (rc == MR_OK && prune)
        rc = queue_prune(w->conn, w->o.retention_s, 1000, &n, &err);
    if (rc != MR_OK) {
        wlog(w, WL_WARN, 0, "maintenance: %s", err.msg);
        lost_connection(w);
    }
}

/* Puts back the jobs claimed but not started (at stop). */
static void release_pending(struct worker *w)
{
    struct mr_error err;

    pthread_mutex_lock(&w->mu);
    while (w->npending > 0) {
        struct queue_job job = w->pending[w->pending_head];
        w->pending_head = (w->pending_head + 1) % cap_of(w);
        w->npending--;
        w->busy--;
        pthread_mutex_unlock(&w->mu);
        if (w->conn != NULL && queue_release(w->conn, &job, &err) == MR_OK)
            w->st.released++;
        pthread_mutex_lock(&w->mu);
        held_remove(w, job.id);
        pthread_mutex_unlock(&w->mu);
        free(job.args);
        pthread_mutex_lock(&w->mu);
    }
    pthread_mutex_unlock(&w->mu);
}

/* Waits for a notification, a poke, or the timeout.  Returns a mask: 1 a
 * notification arrived, 2 a thread poked (slots were freed). */
static int wait_events(struct worker *w, int64_t timeout_ms)
{
    struct pollfd pf[2];
    int n = 0, notified = 0;
    char buf[64];

    /* A notification that arrived during another command on this connection
     * is already in libpq's queue: the socket will not wake us for it. */
    if (w->conn != NULL) {
        PGnotify *nt;
        while ((nt = PQnotifies(w->conn)) != NULL) {
            notified = 1;
            PQfreemem(nt);
        }
        if (notified)
            return 1;
    }
    pf[n].fd = w->wake[0];
    pf[n++].events = POLLIN;
    if (w->conn != NULL) {
        pf[n].fd = PQsocket(w->conn);
        pf[n++].events = POLLIN;
    }
    if (timeout_ms < 0)
        timeout_ms = 0;
    if (poll(pf, (nfds_t)n, (int)timeout_ms) > 0) {
        if (pf[0].revents & POLLIN) {
            while (read(w->wake[0], buf, sizeof(buf)) > 0)
                ;
            notified |= 2;
        }
        if (n > 1 && (pf[1].revents & (POLLIN | POLLERR | POLLHUP))) {
            PGnotify *nt;
            if (PQconsumeInput(w->conn) == 0) {
                lost_connection(w);
                return 0;
            }
            while ((nt = PQnotifies(w->conn)) != NULL) {
                notified |= 1;
                PQfreemem(nt);
            }
        }
    }
    return notified;
}

/* After (re)connecting: take back claims whose answer was lost. */
static void reconcile(struct worker *w)
{
    struct mr_error err;
    int64_t *ids;
    size_t n, released = 0;

    pthread_mutex_lock(&w->mu);
    n = w->nheld;
    ids = malloc((n ? n : 1) * sizeof(*ids));
    if (ids != NULL && n > 0)
        memcpy(ids, w->held, n * sizeof(*ids));
    pthread_mutex_unlock(&w->mu);
    if (ids == NULL)
        return;
    if (queue_release_unknown(w->conn, w->owner, ids, n, &released, &err) != MR_OK)
        lost_connection(w);
    else if (released > 0)
        wlog(w, WL_INFO, 0, "took back %zu jobs whose claim answer was lost", released);
    free(ids);
}

static int64_t min64(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

static void fetch_loop(struct worker *w)
{
    int64_t now = now_ms();
    int64_t next_poll = now, next_hb = now, next_maint = now, next_prune = now;
    int64_t trailing = -1;
    int more = 1, full;
    unsigned seed = w->rng;
    struct mr_error err;

    for (;;) {
        int stopping = *w->stop != 0, busy, nres;

        if (w->conn == NULL) {
            w->conn = connect_retry(w, 1, 0, &seed);
            if (w->conn == NULL)
                break;
            /* Jobs precede sending transactions: refuse a server that could
             * lose their records in a crash (RELIABILITY.md row 20).  Only a
             * server that says so stops the worker; a check that could not
             * be made (the connection failed again) is made again. */
            if (db_check_durability(w->conn, &w->fatal) != MR_OK) {
                if (w->fatal.code == MR_ERR_INVALID) {
                    wlog(w, WL_ERROR, 0, "refusing to run: %s", w->fatal.msg);
                    break;
                }
                wlog(w, WL_WARN, 0, "durability check: %s; connecting again", w->fatal.msg);
                mr_error_clear(&w->fatal);
                PQfinish(w->conn);
                w->conn = NULL;
                sleep_ms(500);
                continue;
            }
            (void)queue_heartbeat(w->conn, w->owner, w->o.slots, &err);
            reconcile(w);
            more = 1;
        }
        now = now_ms();
        if (!stopping && (more || now >= next_poll || (trailing >= 0 && now >= trailing))) {
            if (now >= next_poll)
                next_poll = now + (int64_t)((double)w->o.poll_ms * (0.5 + rand01(&seed)));
            if (trailing >= 0 && now >= trailing)
                trailing = -1;
            more = claim(w, &full) > 0 && full;
        }
        pthread_mutex_lock(&w->mu);
        nres = (int)w->nresults;
        busy = w->busy;
        pthread_mutex_unlock(&w->mu);
        if (now >= next_hb && w->conn != NULL) {
            if (queue_heartbeat(w->conn, w->owner, w->o.slots, &err) != MR_OK) {
                wlog(w, WL_WARN, 0, "heartbeat: %s", err.msg);
                lost_connection(w);
            }
            next_hb = now + w->o.heartbeat_ms;
        }
        if (now >= next_maint) {
            maintenance(w, now >= next_prune);
            if (now >= next_prune)
                next_prune = now + 10000;
            next_maint = now + w->o.maintenance_ms;
        }
        if (stopping) {
            release_pending(w);
            pthread_mutex_lock(&w->mu);
            busy = w->busy;
            nres = (int)w->nresults;
            pthread_mutex_unlock(&w->mu);
            if (busy == 0 && (nres == 0 || w->conn == NULL || w->completer_done))
                break;
        }
        if (more && !stopping && (size_t)busy < cap_of(w) && w->conn != NULL)
            continue;
        {
            int64_t t = min64(next_poll, min64(next_hb, next_maint)) - now;
            int ev;
            if (trailing >= 0)
                t = min64(t, trailing - now);
            if (stopping)
                t = min64(t, 20);
            ev = wait_events(w, t);
            if (ev & 1)
                trailing = now_ms() + w->o.trailing_claim_ms;
            if (ev)
                more = 1;
        }
    }
    w->rng = seed;
}

int queue_worker_run(const struct queue_worker_opts *opts, queue_handler_fn fn, void *ctx,
                     const volatile sig_atomic_t *stop, struct queue_worker_stats *stats,
                     struct mr_error *err)
{
    struct worker *w = calloc(1, sizeof(*w));
    pthread_t *th = NULL, completer;
    int rc = MR_OK, started = 0, completer_started = 0;

    if (w == NULL)
        return mr_fail(err, MR_ERR_NOMEM, "worker: out of memory");
    w->o = *opts;
    defaults(&w->o);
    w->fn = fn;
    w->ctx = ctx;
    w->stop = stop;
    w->rng = (unsigned)getpid() ^ (unsigned)now_ms();
    if (opts->owner != NULL) {
        snprintf(w->owner, sizeof(w->owner), "%s", opts->owner);
    } else {
        char host[64] = "host";
        pthread_once(&owner_once, owner_base_init);
        gethostname(host, sizeof(host) - 1);
        snprintf(w->owner, sizeof(w->owner), "%s:%d:%04x", host, (int)getpid(),
                 (owner_base + atomic_fetch_add(&owner_seq, 1)) & 0xffff);
    }
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    {
        pthread_condattr_t ca;
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&w->cv_res, &ca);
        pthread_condattr_destroy(&ca);
    }
    if (w->o.prefetch < 0)
        w->o.prefetch = 0;
    w->pending = calloc(cap_of(w), sizeof(*w->pending));
    th = calloc((size_t)w->o.slots, sizeof(*th));
    if (w->pending == NULL || th == NULL || pipe(w->wake) != 0) {
        rc = mr_fail(err, MR_ERR_NOMEM, "worker: cannot allocate its slots");
        goto out;
    }
    fcntl(w->wake[0], F_SETFL, O_NONBLOCK);
    fcntl(w->wake[1], F_SETFL, O_NONBLOCK);
    for (; started < w->o.slots; started++) {
        if (pthread_create(&th[started], NULL, handler_main, w) != 0) {
            rc = mr_fail(err, MR_ERR_NOMEM, "worker: cannot start handler thread %d", started);
            break;
        }
    }
    if (rc == MR_OK) {
        if (pthread_create(&completer, NULL, completer_main, w) != 0)
            rc = mr_fail(err, MR_ERR_NOMEM, "worker: cannot start the completer thread");
        else
            completer_started = 1;
    }
    if (rc == MR_OK) {
        wlog(w, WL_INFO, 0, "started with %d slots, prefetch %d", w->o.slots, w->o.prefetch);
        fetch_loop(w);
    }
    pthread_mutex_lock(&w->mu);
    w->stopping = 1;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    for (int i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    pthread_mutex_lock(&w->mu);
    w->completer_stop = 1;
    pthread_cond_broadcast(&w->cv_res);
    pthread_mutex_unlock(&w->mu);
    if (completer_started)
        pthread_join(completer, NULL);
    if (w->conn != NULL) {
        release_pending(w);
        (void)queue_unregister(w->conn, w->owner, NULL);
        PQfinish(w->conn);
    }
    wlog(w, WL_INFO, 0,
         "stopped: claimed %llu completed %llu retried %llu dead %llu fenced-out %llu",
         (unsigned long long)w->st.claimed, (unsigned long long)w->st.completed,
         (unsigned long long)w->st.retried, (unsigned long long)w->st.dead,
         (unsigned long long)w->st.fenced_out);
    if (stats != NULL)
        *stats = w->st;
    if (w->fatal.code != MR_OK) {
        if (err != NULL)
            *err = w->fatal;
        rc = w->fatal.code;
    }
out:
    if (w->wake[0] > 0) {
        close(w->wake[0]);
        close(w->wake[1]);
    }
    free(w->results);
    free(w->held);
    free(w->pending);
    free(th);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    pthread_cond_destroy(&w->cv_res);
    free(w);
    return rc;
}
