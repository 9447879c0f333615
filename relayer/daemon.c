/*
 * daemon.c - the relayer's process shell (see daemon.h): keys, sender
 * threads, job workers, the anchorer's ticker, the watchers, and the `run`
 * command with its signals (SIGTERM/SIGINT stop, SIGHUP reloads).
 */
#include "relayer/daemon.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "chain/rpc.h"
#include "db/db.h"
#include "db/queue.h"
#include "db/worker.h"
#include "relayer/cli.h"
#include "relayer/flows/flows.h"
#include "relayer/harden.h"
#include "relayer/keyfile.h"
#include "relayer/log.h"
#include "relayer/metrics.h"
#include "relayer/observe.h"
#include "relayer/signer.h"
#include "relayer/txm.h"
#include "watchers/watcher.h"

#define MAX_SENDERS 2

/* /readyz: every chain's watcher at most this many final blocks behind. */
#define DAEMON_READY_MAX_LAG 64
/* How long a starting daemon waits for a key held by another session (the
 * session of a process of ours that just stopped can outlive it briefly). */
#define DAEMON_KEY_WAIT_MS 10000

struct daemon;
struct watch_thread;

/* One key: its signer and the thread that sends its transactions. */
struct sender {
    struct daemon *d;
    struct signer *signer;       /* owned */
    uint8_t addr[20];
    char name[CONFIG_KEY_LEN];
    pthread_t th;
    int started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int kicked;
};

struct daemon {
    const struct config *cfg;
    struct daemon_opts o;
    volatile sig_atomic_t stop_workers;  /* job workers and the ticker */
    volatile sig_atomic_t stop_senders;  /* after the workers, a last pass */
    struct sender senders[MAX_SENDERS];
    size_t n_senders;
    struct flow_ctx flows;
    int has_flows;
    pthread_t worker_th, ticker_th, guard_th;
    int worker_started, ticker_started, guard_started;
    const char *kinds[2];
    size_t n_kinds;
    struct queue_worker_stats wstats;
    atomic_int stop_watchers;
    struct watch_thread *watchers;
    size_t n_watchers;
    struct observe_collector *collector;  /* metrics.listen set: the database families */
};

static void sleep_ms(int64_t ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

int daemon_role_parse(const char *s)
{
    if (strcmp(s, "all") == 0)
        return DAEMON_ALL;
    if (strcmp(s, "watcher") == 0)
        return DAEMON_WATCHER;
    if (strcmp(s, "worker") == 0)
        return DAEMON_WORKER;
    if (strcmp(s, "anchor") == 0)
        return DAEMON_ANCHOR;
    return -1;
}

static const char *role_name(enum daemon_role r)
{
    static const char *n[] = {"all", "watcher", "worker", "anchor"};
    return n[r];
}

/* ------------------------------------------------------------ chains -- */

int daemon_register_chains(const struct config *cfg, PGconn *conn, struct mr_error *err)
{
    for (size_t i = 0; i < cfg->n_chains; i++) {
        const struct config_chain *c = &cfg->chains[i];
        const char *role = c->role == CONFIG_ROLE_ORIGIN ? "origin" : "auxiliary";
        char id[24];
        const char *p[3] = {c->key, id, role};
        PGresult *res;
        int rc;

        snprintf(id, sizeof(id), "%llu", (unsigned long long)c->chain_id);
        res = PQexecParams(conn,
                           "INSERT INTO " DB_SCHEMA ".chains (chain_key, chain_id, role) VALUES"
                           " ($1, $2::bigint, $3) ON CONFLICT DO NOTHING",
                           3, NULL, p, NULL, NULL, 0);
        rc = db_check(res, PGRES_COMMAND_OK, "registering chains", err);
        PQclear(res);
        if (rc != MR_OK)
            return rc;
        res = PQexecParams(conn,
                           "SELECT chain_id, role FROM " DB_SCHEMA ".chains WHERE chain_key = $1",
                           1, NULL, p, NULL, NULL, 0);
        rc = db_check(res, PGRES_TUPLES_OK, "reading chains", err);
        if (rc == MR_OK && (PQntuples(res) != 1 || strcmp(PQgetvalue(res, 0, 0), id) != 0 ||
                            strcmp(PQgetvalue(res, 0, 1), role) != 0))
            rc = mr_fail(err, MR_ERR_INVALID,
                         "%s:%d: chain '%s' (chain id %s, %s) is registered in the database "
                         "with another chain id or role, or its chain id belongs to another key",
                         cfg->path, c->line, c->key, id, role);
        PQclear(res);
        if (rc != MR_OK)
            return rc;
    }
    return MR_OK;
}

/* ------------------------------------------------------------ senders -- */

static void kick(void *arg, int chain, const uint8_t sender[20])
{
    struct daemon *d = arg;

    (void)chain;
    for (size_t i = 0; i < d->n_senders; i++) {
        struct sender *s = &d->senders[i];
        if (memcmp(s->addr, sender, 20) != 0)
            continue;
        pthread_mutex_lock(&s->mu);
        s->kicked = 1;
        pthread_cond_signal(&s->cv);
        pthread_mutex_unlock(&s->mu);
    }
}

static void txm_setup(const struct config_chain *c, struct txm *t)
{
    memset(t, 0, sizeof(*t));
    t->cfg.chain_key = c->key;
    t->cfg.chain_id = c->chain_id;
    t->cfg.confirmations = c->confirmations;
    t->cfg.use_finalized_tag = c->use_finalized_tag;
    t->cfg.max_fee_cap = c->fees.max_fee;
    t->cfg.tip_cap = c->fees.max_tip;
    if (u256_is_zero(&t->cfg.max_fee_cap))
        u256_from_u64(&t->cfg.max_fee_cap, 500000000000ULL); /* 500 gwei */
    if (u256_is_zero(&t->cfg.tip_cap))
        u256_from_u64(&t->cfg.tip_cap, 10000000000ULL);      /* 10 gwei */
    t->cfg.stuck_after_ms = c->fees.stuck_after_ms > 0 ? c->fees.stuck_after_ms : 30000;
    t->cfg.bump_percent = c->fees.bump_percent >= 10 ? c->fees.bump_percent : 12;
    t->cfg.gap_after_ms = 30000;
    /* A sender polls at once for each new intent: "three polls in a row"
     * can be milliseconds; someone else's use of our nonce must last. */
    t->cfg.nonce_evidence_ms = 10000;
    /* ... and would send every pending transaction again, and ask for the
     * receipt of every one, each time. */
    t->cfg.resend_ms = 1000;
    t->cfg.receipts_when_reached = 1;
}

/* Waits for a kick or `ms`; returns early when the senders must stop. */
static void sender_wait(struct sender *s, int ms)
{
    struct timespec until;

    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += ms / 1000;
    until.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&s->mu);
    while (!s->kicked && !s->d->stop_senders)
        if (pthread_cond_timedwait(&s->cv, &s->mu, &until) == ETIMEDOUT)
            break;
    s->kicked = 0;
    pthread_mutex_unlock(&s->mu);
}

static void *sender_main(void *arg)
{
    struct sender *s = arg;
    struct daemon *d = s->d;
    const struct config *cfg = d->cfg;
    struct rpc_endpoints *ep[CONFIG_MAX_CHAINS] = {0};
    struct txm t[CONFIG_MAX_CHAINS];
    char last[CONFIG_MAX_CHAINS][MR_ERROR_MSG_LEN];
    struct db_session_opts so = {"mosaic-relayer sender", 0, 0};
    PGconn *conn = NULL;
    int idle = d->o.sender_idle_ms > 0 ? d->o.sender_idle_ms : 1000;
    int busy_ms = d->o.sender_busy_ms > 0 ? d->o.sender_busy_ms : 200;
    int last_pass = 0;

    memset(last, 0, sizeof(last));
    for (size_t i = 0; i < cfg->n_chains; i++) {
        const char *urls[CONFIG_MAX_ENDPOINTS];
        struct mr_error err;
        for (size_t k = 0; k < cfg->chains[i].n_endpoints; k++)
            urls[k] = cfg->chains[i].endpoints[k];
        if (rpc_endpoints_new(urls, cfg->chains[i].n_endpoints, cfg->chains[i].chain_id, NULL,
                              &ep[i], &err) != MR_OK)
            log_error("sender", LOG_ID(.chain = cfg->chains[i].key), "key %s: %s", s->name,
                      err.msg);
        txm_setup(&cfg->chains[i], &t[i]);
        t[i].rpc = ep[i];
        t[i].signer = s->signer;
    }
    for (;;) {
        size_t pending = 0;
        if (conn == NULL || PQstatus(conn) != CONNECTION_OK) {
            struct mr_error err;
            if (conn != NULL)
                PQfinish(conn);
            conn = db_connect(d->o.conninfo, &so, &err);
            if (conn == NULL) {
                log_warn("sender", NULL, "key %s: %s", s->name, err.msg);
                if (d->stop_senders)
                    break;
                sleep_ms(1000);
                continue;
            }
        }
        for (size_t i = 0; i < cfg->n_chains; i++) {
            struct mr_error err;
            size_t left = 0;
            if (ep[i] == NULL)
                continue;
            t[i].db = conn;
            if (txm_poll(&t[i], &left, &err) != MR_OK) {
                /* Said once until it changes (a node down fails every pass). */
                if (strcmp(err.msg, last[i]) != 0)
                    log_warn("sender", LOG_ID(.chain = cfg->chains[i].key), "key %s: %s",
                             s->name, err.msg);
                snprintf(last[i], sizeof(last[i]), "%s", err.msg);
                left = 1;
            } else {
                last[i][0] = '\0';
            }
            pending += left;
        }
        if (last_pass)
            break;
        if (d->stop_senders) {
            last_pass = 1; /* intents recorded by the last handlers go out */
            continue;
        }
        sender_wait(s, pending > 0 ? busy_ms : idle);
    }
    if (conn != NULL)
        PQfinish(conn);
    for (size_t i = 0; i < cfg->n_chains; i++)
        rpc_endpoints_free(ep[i]);
    return NULL;
}

/* The address a keystore says it holds, without unlocking it (for intents
 * another process signs). */
static int key_address(const struct config_key *k, uint8_t addr[20], struct mr_error *err)
{
    struct keyfile kf;
    int rc = keyfile_load(k->keystore, &kf, err);

    if (rc != MR_OK)
        return rc;
    if (!kf.has_address)
        return mr_fail(err, MR_ERR_INVALID, "%s: the keystore has no address field",
                       k->keystore);
    memcpy(addr, kf.address, 20);
    return MR_OK;
}

static const struct config_key *find_key(const struct config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->n_keys; i++)
        if (strcmp(cfg->keys[i].name, name) == 0)
            return &cfg->keys[i];
    return NULL;
}

static int open_sender(struct daemon *d, const struct config_key *k, struct mr_error *err)
{
    struct sender *s = &d->senders[d->n_senders];
    int rc;

    if (k->password_file[0] == '\0')
        return mr_fail(err, MR_ERR_INVALID, "%s:%d: key '%s': the signer reads its password "
                       "from password_file (password_env is not supported yet)",
                       d->cfg->path, k->line, k->name);
    memset(s, 0, sizeof(*s));
    rc = signer_open_wait(k->keystore, k->password_file, d->o.conninfo, DAEMON_KEY_WAIT_MS,
                          &s->signer, err);
    if (rc != MR_OK)
        return mr_error_prefix(err, rc, "key '%s': ", k->name);
    s->d = d;
    memcpy(s->addr, signer_address(s->signer), 20);
    snprintf(s->name, sizeof(s->name), "%s", k->name);
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    d->n_senders++;
    return MR_OK;
}

/* The keys of the role: signers for the keys this process sends with, and
 * the flows' addresses. */
static int open_keys(struct daemon *d, uint8_t fac[20], int *has_fac, uint8_t anc[20],
                     int *has_anc, struct mr_error *err)
{
    const struct config *cfg = d->cfg;
    const struct config_key *fk = find_key(cfg, "facilitator");
    const struct config_key *ak = find_key(cfg, "anchor");
    enum daemon_role role = d->o.role;
    int need_fac = role == DAEMON_ALL || role == DAEMON_WORKER;
    int anchoring = ak != NULL && cfg->relayer.anchor_enabled;
    int need_anc = anchoring && (role == DAEMON_ALL || role == DAEMON_ANCHOR);
    uint8_t fa[20], aa[20];
    int rc;

    *has_fac = *has_anc = 0;
    if (fk == NULL && need_fac)
        return mr_fail(err, MR_ERR_INVALID, "%s: keys.facilitator is required for role %s",
                       cfg->path, role_name(role));
    if (fk != NULL && need_fac) {
        rc = open_sender(d, fk, err);
        if (rc != MR_OK)
            return rc;
        memcpy(fac, d->senders[0].addr, 20);
        *has_fac = 1;
    } else if (fk != NULL && key_address(fk, fa, NULL) == MR_OK) {
        memcpy(fac, fa, 20);
        *has_fac = 1;
    }
    if (!anchoring)
        return MR_OK;
    rc = key_address(ak, aa, err);
    if (rc != MR_OK)
        return mr_error_prefix(err, rc, "key 'anchor': ");
    if (*has_fac && memcmp(aa, fac, 20) == 0) {
        /* The same key: one signer (one sender keeps its nonces in order,
         * so anchor, prove, confirm and progress pipeline in one block). */
        if (need_anc && !need_fac) {
            rc = open_sender(d, fk, err);
            if (rc != MR_OK)
                return rc;
        }
        memcpy(anc, fac, 20);
        *has_anc = 1;
        return MR_OK;
    }
    if (need_anc) {
        rc = open_sender(d, ak, err);
        if (rc != MR_OK)
            return rc;
        memcpy(aa, d->senders[d->n_senders - 1].addr, 20);
    }
    memcpy(anc, aa, 20);
    *has_anc = 1;
    return MR_OK;
}

/* ------------------------------------------------------------ workers -- */

static const char *outcome_name(enum queue_outcome o)
{
    switch (o) {
    case QUEUE_DONE:
    case QUEUE_DONE_IN_TX: return "completed";
    case QUEUE_RETRY: return "retry";
    case QUEUE_DEAD: return "failed";
    case QUEUE_CANCEL: return "cancelled";
    case QUEUE_LOST: return "lost";
    }
    return "?";
}

/* The flows' handler, timed: mosaic_job_duration_seconds{kind,outcome}. */
static enum queue_outcome handle(void *arg, PGconn *conn, const struct queue_job *job,
                                 char *errmsg, size_t errcap)
{
    struct daemon *d = arg;
    struct timespec t0, t1;
    enum queue_outcome o;
    double secs;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    o = flow_handle(&d->flows, conn, job, errmsg, errcap);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    metrics_job_duration(job->kind, outcome_name(o), secs);
    log_debug("queue", LOG_ID(.job = job->id), "%s job %s in %.3f s (attempt %d)", job->kind,
              outcome_name(o), secs, job->attempt);
    return o;
}

/* The worker runtime's lines (db/ cannot include relayer/log.h). */
static void worker_log(void *ctx, int level, int64_t job, const char *line)
{
    (void)ctx;
    log_at(level, "queue", LOG_ID(.job = job), "%s", line);
}

static void *worker_main(void *arg)
{
    struct daemon *d = arg;
    struct queue_worker_opts wo;
    struct mr_error err;

    memset(&wo, 0, sizeof(wo));
    wo.conninfo = d->o.conninfo;
    wo.slots = d->cfg->relayer.workers > 0 ? d->cfg->relayer.workers : 4;
    wo.kinds = d->kinds;
    wo.nkinds = d->n_kinds;
    wo.log_fn = worker_log;
    if (queue_worker_run(&wo, handle, d, &d->stop_workers, &d->wstats, &err) != MR_OK)
        log_error("queue", NULL, "job workers stopped: %s", err.msg);
    return NULL;
}

static void *ticker_main(void *arg)
{
    struct daemon *d = arg;
    struct db_session_opts so = {"mosaic-relayer anchorer", 0, 0};
    int64_t tick = d->o.anchor_tick_ms;
    PGconn *conn = NULL;

    if (tick <= 0) {
        tick = d->cfg->relayer.anchor_max_interval_ms / 4;
        tick = tick < 1000 ? 1000 : tick > 15000 ? 15000 : tick;
    }
    while (!d->stop_workers) {
        struct mr_error err;
        size_t n = 0;
        if (conn == NULL || PQstatus(conn) != CONNECTION_OK) {
            if (conn != NULL)
                PQfinish(conn);
            conn = db_connect(d->o.conninfo, &so, &err);
            if (conn == NULL)
                log_warn("anchorer", NULL, "%s", err.msg);
        }
        if (conn != NULL && flow_enqueue_anchor_jobs(d->cfg, conn, &n, &err) != MR_OK)
            log_warn("anchorer", NULL, "%s", err.msg);
        for (int64_t t = 0; t < tick && !d->stop_workers; t += 100)
            sleep_ms(100);
    }
    if (conn != NULL)
        PQfinish(conn);
    return NULL;
}

/* The conservation monitor (RELIABILITY.md row 24; relayer/flows/
 * conservation.c): every relayer.conservation.interval, one check per
 * gateway pair, each recorded (db/breaker.h); a violation trips the pair's
 * breaker, which stops the flows from recording calls for it.  Every
 * process that relays runs one: the checks are idempotent, and a pair
 * trips once. */
static void *guard_main(void *arg)
{
    struct daemon *d = arg;
    const struct config *cfg = d->cfg;
    struct db_session_opts so = {"mosaic-relayer conservation", 0, 0};
    char actor[160], host[96] = "", last[CONFIG_MAX_GATEWAYS][MR_ERROR_MSG_LEN];
    int64_t interval = cfg->relayer.conservation_interval_ms > 0
                           ? cfg->relayer.conservation_interval_ms : 30000;
    PGconn *conn = NULL;

    memset(last, 0, sizeof(last));
    gethostname(host, sizeof(host) - 1);
    snprintf(actor, sizeof(actor), "monitor %s:%d", host, (int)getpid());
    while (!d->stop_workers) {
        struct mr_error err;
        if (conn == NULL || PQstatus(conn) != CONNECTION_OK) {
            if (conn != NULL)
                PQfinish(conn);
            conn = db_connect(d->o.conninfo, &so, &err);
            if (conn == NULL)
                log_warn("conservation", NULL, "%s", err.msg);
        }
        for (size_t g = 0; conn != NULL && g < cfg->n_gateways && !d->stop_workers; g++) {
            const struct config_gateway *gw = &cfg->gateways[g];
            struct flow_conservation fc;
            char c[U256_DEC_MAX], b[U256_DEC_MAX];
            if (flow_conservation_check(&d->flows, conn, gw, actor, &fc, &err) != MR_OK) {
                /* Said once until it changes (a node down fails every round). */
                if (strcmp(err.msg, last[g]) != 0)
                    log_warn("conservation", NULL, "pair %s: no check this round: %s", gw->name,
                             err.msg);
                snprintf(last[g], sizeof(last[g]), "%s", err.msg);
                continue;
            }
            last[g][0] = '\0';
            u256_to_dec(&fc.circulating, c, sizeof(c));
            u256_to_dec(&fc.backing, b, sizeof(b));
            if (fc.newly)
                log_error("conservation", NULL, "pair %s: BREAKER TRIPPED: %s circulating on %s at "
                          "block %llu > %s backing on %s at block %llu; relaying for the pair is "
                          "stopped until `mosaic-relayer breaker reset %s --reason ...`", gw->name,
                          c, cfg->chains[gw->auxiliary.chain].key,
                          (unsigned long long)fc.aux_block, b, cfg->chains[gw->origin.chain].key,
                          (unsigned long long)fc.origin_block, gw->name);
            else
                log_debug("conservation", NULL, "pair %s: circulating %s at %s %llu, backing %s at "
                          "%s %llu%s", gw->name, c, cfg->chains[gw->auxiliary.chain].key,
                          (unsigned long long)fc.aux_block, b,
                          cfg->chains[gw->origin.chain].key, (unsigned long long)fc.origin_block,
                          fc.tripped ? " (breaker tripped)" : "");
        }
        for (int64_t t = 0; t < interval && !d->stop_workers; t += 50)
            sleep_ms(interval - t < 50 ? interval - t : 50);
    }
    if (conn != NULL)
        PQfinish(conn);
    flow_thread_release();
    return NULL;
}

/* The watchers (watchers/watcher.h): one thread per chain running
 * watcher_run(); several processes may run them, one holds each chain's
 * lock.  This is the only place that starts or stops them. */
struct watch_thread {
    struct daemon *d;
    struct watcher_config wc;
    pthread_t th;
    int started;
};

/* The watchers' lines (watchers/ cannot include relayer/log.h); the level
 * is checked before the watcher formats anything. */
static int watcher_log_enabled(void *ctx, int level)
{
    (void)ctx;
    return log_enabled(level);
}

static void watcher_log(void *ctx, int level, const char *line)
{
    struct watch_thread *w = ctx;

    log_at(level, "watcher", LOG_ID(.chain = w->wc.chain_key), "%s", line);
}

static void *watcher_main(void *arg)
{
    struct watch_thread *w = arg;
    struct mr_error err;

    if (watcher_run(&w->wc, &w->d->stop_watchers, &err) != MR_OK)
        log_error("watcher", LOG_ID(.chain = w->wc.chain_key), "stopped: %s", err.msg);
    return NULL;
}

/* The watcher config of chain i from the relayer's config. */
static void watcher_config_of(const struct daemon *d, size_t i, struct watcher_config *wc)
{
    const struct config *cfg = d->cfg;
    const struct config_chain *c = &cfg->chains[i];

    memset(wc, 0, sizeof(*wc));
    snprintf(wc->chain_key, sizeof(wc->chain_key), "%s", c->key);
    wc->chain_id = c->chain_id;
    for (size_t k = 0; k < c->n_endpoints && k < WATCHER_MAX_ENDPOINTS; k++)
        snprintf(wc->endpoints[k], sizeof(wc->endpoints[k]), "%s", c->endpoints[k]);
    wc->n_endpoints = c->n_endpoints < WATCHER_MAX_ENDPOINTS ? c->n_endpoints
                                                             : WATCHER_MAX_ENDPOINTS;
    snprintf(wc->database_url, sizeof(wc->database_url), "%s", d->o.conninfo);
    wc->use_finalized_tag = c->use_finalized_tag;
    wc->confirmations = c->confirmations;
    wc->poll_interval_ms = c->poll_interval_ms;
    wc->start_block = c->start_block;
    for (size_t g = 0; g < cfg->n_gateways && wc->n_pairs < WATCHER_MAX_PAIRS; g++) {
        const struct config_gateway *gw = &cfg->gateways[g];
        const struct config_gateway_side *here, *there;
        struct watcher_pair *p;
        if (gw->origin.chain == (int)i) {
            here = &gw->origin;
            there = &gw->auxiliary;
        } else if (gw->auxiliary.chain == (int)i) {
            here = &gw->auxiliary;
            there = &gw->origin;
        } else {
            continue;
        }
        p = &wc->pairs[wc->n_pairs++];
        snprintf(p->name, sizeof(p->name), "%s", gw->name);
        p->is_origin = here == &gw->origin;
        memcpy(p->gateway, here->gateway, 20);
        memcpy(p->remote_gateway, there->gateway, 20);
        p->has_anchor = 1;
        memcpy(p->anchor, here->anchor, 20);
        snprintf(p->remote_chain, sizeof(p->remote_chain), "%s", cfg->chains[there->chain].key);
    }
}

static int start_watchers(struct daemon *d, struct mr_error *err)
{
    d->watchers = calloc(d->cfg->n_chains, sizeof(*d->watchers));
    if (d->watchers == NULL)
        return mr_fail(err, MR_ERR_NOMEM, "out of memory");
    d->n_watchers = d->cfg->n_chains;
    atomic_store(&d->stop_watchers, 0);
    for (size_t i = 0; i < d->n_watchers; i++) {
        struct watch_thread *w = &d->watchers[i];
        w->d = d;
        watcher_config_of(d, i, &w->wc);
        w->wc.log = watcher_log;
        w->wc.log_enabled = watcher_log_enabled;
        w->wc.log_ctx = w;
        w->started = pthread_create(&w->th, NULL, watcher_main, w) == 0;
    }
    return MR_OK;
}

static void stop_watchers(struct daemon *d)
{
    atomic_store(&d->stop_watchers, 1);
    for (size_t i = 0; i < d->n_watchers; i++)
        if (d->watchers[i].started)
            pthread_join(d->watchers[i].th, NULL);
    free(d->watchers);
    d->watchers = NULL;
    d->n_watchers = 0;
}

/* ------------------------------------------------------------ start/stop -- */

static int check_db(struct daemon *d, struct mr_error *err)
{
    struct db_session_opts so = {"mosaic-relayer", 0, 0};
    PGconn *conn = db_connect(d->o.conninfo, &so, err);
    int64_t ok = 0;
    int rc;

    if (conn == NULL)
        return MR_ERR_IO;
    rc = db_check_durability(conn, err);
    if (rc == MR_OK)
        rc = db_query_int64(conn, "SELECT (to_regclass('" DB_SCHEMA ".message_txs') IS NOT NULL)"
                                  "::int",
                            &ok, err);
    if (rc == MR_OK && ok != 1)
        rc = mr_fail(err, MR_ERR_INVALID, "the database schema is not up to date: run "
                     "'mosaic-relayer migrate' first");
    if (rc == MR_OK)
        rc = daemon_register_chains(d->cfg, conn, err);
    PQfinish(conn);
    return rc;
}

static void free_senders(struct daemon *d)
{
    for (size_t i = 0; i < d->n_senders; i++) {
        signer_close(d->senders[i].signer);
        pthread_mutex_destroy(&d->senders[i].mu);
        pthread_cond_destroy(&d->senders[i].cv);
    }
    d->n_senders = 0;
}

/* The node-request observer and the collector thread (for the listener
 * that `run` serves): database families, and the balances of the keys
 * this process holds.  A failure only costs metrics. */
static void start_metrics(struct daemon *d)
{
    uint8_t addrs[MAX_SENDERS][20];
    struct mr_error err;

    for (size_t i = 0; i < d->n_senders; i++)
        memcpy(addrs[i], d->senders[i].addr, 20);
    observe_rpc_install(d->cfg);
    if (observe_collector_start(d->cfg, d->o.conninfo, (const uint8_t(*)[20])addrs, d->n_senders,
                                d->o.metrics_interval_ms, &d->collector, &err) != MR_OK)
        log_error("metrics", NULL, "%s", err.msg);
}

int daemon_start(const struct config *cfg, const struct daemon_opts *o, struct daemon **out,
                 struct mr_error *err)
{
    struct daemon *d = calloc(1, sizeof(*d));
    uint8_t fac[20] = {0}, anc[20] = {0};
    int has_fac = 0, has_anc = 0, rc;
    enum daemon_role role = o->role;

    *out = NULL;
    if (d == NULL)
        return mr_fail(err, MR_ERR_NOMEM, "out of memory");
    d->cfg = cfg;
    d->o = *o;
    rc = check_db(d, err);
    if (rc == MR_OK && role != DAEMON_WATCHER)
        rc = open_keys(d, fac, &has_fac, anc, &has_anc, err);
    if (rc != MR_OK) {
        free_senders(d);
        free(d);
        return rc;
    }
    if (role != DAEMON_WATCHER) {
        flow_ctx_init(&d->flows, cfg, fac, has_anc, anc);
        d->flows.kick = kick;
        d->flows.kick_arg = d;
        d->flows.wait_min_ms = o->wait_min_ms;
        d->has_flows = 1;
        if (role == DAEMON_ALL || role == DAEMON_WORKER)
            d->kinds[d->n_kinds++] = FLOW_JOB_MSG;
        if ((role == DAEMON_ALL || role == DAEMON_ANCHOR) && has_anc)
            d->kinds[d->n_kinds++] = FLOW_JOB_ANCHOR;
    }
    for (size_t i = 0; i < d->n_senders; i++)
        d->senders[i].started = pthread_create(&d->senders[i].th, NULL, sender_main,
                                               &d->senders[i]) == 0;
    if (d->n_kinds > 0)
        d->worker_started = pthread_create(&d->worker_th, NULL, worker_main, d) == 0;
    if ((role == DAEMON_ALL || role == DAEMON_ANCHOR) && has_anc)
        d->ticker_started = pthread_create(&d->ticker_th, NULL, ticker_main, d) == 0;
    if (d->has_flows && cfg->relayer.conservation_enabled && cfg->n_gateways > 0)
        d->guard_started = pthread_create(&d->guard_th, NULL, guard_main, d) == 0;
    if ((role == DAEMON_ALL || role == DAEMON_WATCHER) && start_watchers(d, err) != MR_OK)
        log_error("daemon", NULL, "watchers: %s", err->msg);
    {
        /* A part whose thread did not start would leave a daemon that runs
         * and does nothing of it, silently: refuse to run instead. */
        const char *missing = NULL;
        for (size_t i = 0; i < d->n_senders; i++)
            if (!d->senders[i].started)
                missing = "a sender";
        for (size_t i = 0; i < d->n_watchers; i++)
            if (!d->watchers[i].started)
                missing = "a watcher";
        if (d->n_kinds > 0 && !d->worker_started)
            missing = "the job workers";
        if ((role == DAEMON_ALL || role == DAEMON_ANCHOR) && has_anc && !d->ticker_started)
            missing = "the anchorer";
        if (d->has_flows && cfg->relayer.conservation_enabled && cfg->n_gateways > 0 &&
            !d->guard_started)
            missing = "the conservation monitor";
        if ((role == DAEMON_ALL || role == DAEMON_WATCHER) && d->watchers == NULL)
            missing = "the watchers";
        if (missing != NULL) {
            daemon_stop(d, NULL);
            return mr_fail(err, MR_ERR_NOMEM, "cannot start the thread of %s", missing);
        }
    }
    if (cfg->metrics_listen[0] != '\0')
        start_metrics(d);
    log_info("daemon", NULL, "running: role %s, %zu chain(s), %zu gateway pair(s), %zu key(s)%s",
             role_name(role), cfg->n_chains, cfg->n_gateways, d->n_senders,
             has_anc ? ", anchoring" : "");
    *out = d;
    return MR_OK;
}

void daemon_stop(struct daemon *d, struct daemon_stats *stats)
{
    if (d == NULL)
        return;
    if (d->cfg->metrics_listen[0] != '\0')
        observe_rpc_remove();
    observe_collector_stop(d->collector);
    d->collector = NULL;
    d->stop_workers = 1;
    stop_watchers(d);
    if (d->worker_started)
        pthread_join(d->worker_th, NULL);
    if (d->ticker_started)
        pthread_join(d->ticker_th, NULL);
    if (d->guard_started)
        pthread_join(d->guard_th, NULL);
    /* The handlers are done: a last pass of every sender sends what they
     * recorded, then the senders stop. */
    d->stop_senders = 1;
    for (size_t i = 0; i < d->n_senders; i++) {
        pthread_mutex_lock(&d->senders[i].mu);
        pthread_cond_signal(&d->senders[i].cv);
        pthread_mutex_unlock(&d->senders[i].mu);
        if (d->senders[i].started)
            pthread_join(d->senders[i].th, NULL);
    }
    if (stats != NULL) {
        memset(stats, 0, sizeof(*stats));
        if (d->has_flows) {
            stats->anchors = d->flows.n_anchors;
            stats->proves = d->flows.n_proves;
            stats->calls = d->flows.n_calls;
            stats->halts = d->flows.n_halts;
        }
        stats->jobs_completed = d->wstats.completed;
        stats->jobs_retried = d->wstats.retried;
    }
    log_info("daemon", NULL, "stopped");
    free_senders(d);
    if (d->has_flows)
        flow_ctx_destroy(&d->flows);
    free(d);
}

int daemon_run(const struct config *cfg, const struct daemon_opts *o,
               volatile sig_atomic_t *stop, struct daemon_stats *stats, struct mr_error *err)
{
    struct daemon *d = NULL;
    int rc = daemon_start(cfg, o, &d, err);

    if (rc != MR_OK)
        return rc;
    while (!*stop)
        sleep_ms(50);
    daemon_stop(d, stats);
    return MR_OK;
}

/* ---------------------------------------------------------------- run -- */

static void run_usage(FILE *f)
{
    fprintf(f,
            "usage: mosaic-relayer run --config FILE [--role watcher|worker|anchor|all]\n"
            "                          [--database CONNINFO]\n"
            "\n"
            "Runs the relayer: the chain watchers, the job workers that carry every message to\n"
            "completion (stake & mint, redeem & unstake, reverts), the anchorer, and one sender\n"
            "per key.  --role runs one part, so parts can run in several processes and hosts\n"
            "sharing one database (default: all).\n"
            "\n"
            "Signals: SIGTERM or SIGINT stop claiming work, finish or release what is held, and\n"
            "exit 0.  SIGHUP reloads the config file; a config that does not load or start keeps\n"
            "the old one.\n");
}

/* The listener of metrics.listen with its readiness check; survives
 * reloads that keep the address. */
struct serve {
    struct metrics_server *srv;
    struct observe_ready *ready;
    char listen[sizeof(((struct config *)0)->metrics_listen)];
};

static int serve_start(struct serve *sv, const char *listen, const char *conninfo,
                       struct mr_error *err)
{
    int rc;

    memset(sv, 0, sizeof(*sv));
    if (listen[0] == '\0')
        return MR_OK;
    rc = observe_ready_new(conninfo, DAEMON_READY_MAX_LAG, &sv->ready, err);
    if (rc == MR_OK)
        rc = metrics_server_start(listen, observe_ready, sv->ready, &sv->srv, err);
    if (rc != MR_OK) {
        observe_ready_free(sv->ready);
        sv->ready = NULL;
        return mr_error_prefix(err, rc, "metrics.listen: ");
    }
    snprintf(sv->listen, sizeof(sv->listen), "%s", listen);
    log_info("main", NULL, "serving /metrics, /healthz and /readyz at %s (port %d)", listen,
             metrics_server_port(sv->srv));
    return MR_OK;
}

static void serve_stop(struct serve *sv)
{
    metrics_server_stop(sv->srv);
    observe_ready_free(sv->ready);
    memset(sv, 0, sizeof(*sv));
}

/* libpq's notices and the server's asynchronous messages, as log lines. */
static void db_notice(const char *line)
{
    log_warn("db", NULL, "%s", line);
}

static void apply_log_config(const struct config *cfg)
{
    log_setup((enum log_level)cfg->log_level, (enum log_format)cfg->log_format, STDERR_FILENO);
}

/* SIGHUP: the new config, or the old one when the new one does not load
 * or start (said in the log, with why).  Returns MR_OK, or an error when
 * not even the old config starts again (the process exits then). */
static int reload(const char *path, const char *database, struct config **cfg,
                  struct daemon_opts *o, struct daemon **d, struct serve *sv)
{
    struct config *next = NULL;
    struct serve nsv;
    struct mr_error err;
    const char *source = NULL, *conninfo;
    int new_listener;

    log_info("main", NULL, "SIGHUP: reloading %s", path);
    if (config_load(path, &next, &err) != MR_OK) {
        log_error("main", NULL, "reload: %s; keeping the old config", err.msg);
        return MR_OK;
    }
    conninfo = db_resolve_conninfo(database, next->database_url, &source);
    memset(&nsv, 0, sizeof(nsv));
    new_listener = strcmp(next->metrics_listen, sv->listen) != 0;
    if (new_listener && serve_start(&nsv, next->metrics_listen, conninfo, &err) != MR_OK) {
        log_error("main", NULL, "reload: %s; keeping the old config", err.msg);
        config_free(next);
        return MR_OK;
    }
    /* The keys' locks allow one holder: stop, then start anew. */
    daemon_stop(*d, NULL);
    *d = NULL;
    o->conninfo = conninfo;
    if (daemon_start(next, o, d, &err) != MR_OK) {
        log_error("main", NULL, "reload: the new config does not start: %s; keeping the old "
                  "config", err.msg);
        serve_stop(&nsv);
        config_free(next);
        o->conninfo = db_resolve_conninfo(database, (*cfg)->database_url, &source);
        if (daemon_start(*cfg, o, d, &err) != MR_OK) {
            log_error("main", NULL, "the old config does not start any more: %s", err.msg);
            return MR_ERR_IO;
        }
        return MR_OK;
    }
    if (new_listener) {
        serve_stop(sv);
        *sv = nsv;
    } else if (sv->ready != NULL) {
        observe_ready_set_conninfo(sv->ready, conninfo);
    }
    apply_log_config(next);
    config_free(*cfg);
    *cfg = next;
    log_info("main", NULL, "reloaded %s", path);
    return MR_OK;
}

int cli_run(int argc, char **argv)
{
    const char *path = NULL, *database = NULL, *source = NULL;
    struct daemon_opts o;
    struct config *cfg = NULL;
    struct daemon *d = NULL;
    struct serve sv;
    struct mr_error err;
    sigset_t set;
    int role = DAEMON_ALL, sig = 0, rc = CLI_EXIT_OK;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            run_usage(stdout);
            return CLI_EXIT_OK;
        } else if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
            path = argv[++i];
        } else if (strcmp(argv[i], "--database") == 0 && i + 1 < argc) {
            database = argv[++i];
        } else if (strcmp(argv[i], "--role") == 0 && i + 1 < argc) {
            role = daemon_role_parse(argv[++i]);
            if (role < 0)
                return cli_usage_error("run", "--role must be watcher, worker, anchor or all");
        } else {
            return cli_usage_error("run", "unexpected argument '%s' (try --help)", argv[i]);
        }
    }
    if (path == NULL)
        return cli_usage_error("run", "--config FILE is required");
    /* Before anything is read: no core dumps, no ptrace by peers. */
    if (proc_harden(&err) != MR_OK) {
        fprintf(stderr, "mosaic-relayer run: %s\n", err.msg);
        return CLI_EXIT_FAIL;
    }
    if (config_load(path, &cfg, &err) != MR_OK)
        return cli_usage_error("run", "%s", err.msg);
    apply_log_config(cfg);
    db_set_notice_hook(db_notice);
    memset(&o, 0, sizeof(o));
    o.conninfo = db_resolve_conninfo(database, cfg->database_url, &source);
    o.role = (enum daemon_role)role;
    /* Signals are taken by this thread only (sigwait); every thread started
     * from here inherits the blocked mask. */
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    if (serve_start(&sv, cfg->metrics_listen, o.conninfo, &err) != MR_OK ||
        daemon_start(cfg, &o, &d, &err) != MR_OK) {
        log_error("main", NULL, "%s", err.msg);
        serve_stop(&sv);
        config_free(cfg);
        return CLI_EXIT_FAIL;
    }
    for (;;) {
        if (sigwait(&set, &sig) != 0)
            continue;
        if (sig != SIGHUP)
            break;
        if (reload(path, database, &cfg, &o, &d, &sv) != MR_OK) {
            rc = CLI_EXIT_FAIL;
            break;
        }
    }
    if (rc == CLI_EXIT_OK)
        log_info("main", NULL, "%s: stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
    daemon_stop(d, NULL);
    serve_stop(&sv);
    config_free(cfg);
    return rc;
}
