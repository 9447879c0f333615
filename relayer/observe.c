/*
 * observe.c - the node-request observer, the metrics collector thread and
 * the readiness check of `run` (see observe.h).
 */
#include "relayer/observe.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "chain/ethrpc.h"
#include "chain/rpc.h"
#include "db/db.h"
#include "eth/hex.h"
#include "relayer/log.h"
#include "relayer/metrics.h"

#define MAX_ADDRS 8

/* ------------------------------------------------ node-request observer -- */

static pthread_mutex_t chains_mu = PTHREAD_MUTEX_INITIALIZER;
static struct {
    uint64_t id;
    char key[CONFIG_KEY_LEN];
} chains[CONFIG_MAX_CHAINS];
static size_t n_chains;

/* The metric's kind of a failed exchange, or NULL when the node answered
 * as a working node does (a revert, "nonce too low", "already known", an
 * underpriced replacement, no funds, a range too large): those are about
 * the request, not the endpoint's health, and the transaction manager
 * meets some of them on every pass. */
static const char *error_kind(const struct rpc_detail *d)
{
    switch (d->kind) {
    case RPC_KIND_NONCE_TOO_LOW:
    case RPC_KIND_ALREADY_KNOWN:
    case RPC_KIND_UNDERPRICED:
    case RPC_KIND_INSUFFICIENT_FUNDS:
    case RPC_KIND_REVERTED:
    case RPC_KIND_RANGE_TOO_LARGE:
        return NULL;
    case RPC_KIND_TIMEOUT:
        return "timeout";
    case RPC_KIND_CHAIN_MISMATCH:
        return "mismatch";
    default:
        break;
    }
    return d->cls == RPC_CLASS_FATAL       ? "fatal"
           : d->cls == RPC_CLASS_TRANSIENT ? "transient"
                                           : "permanent";
}

static void on_rpc(uint64_t chain_id, size_t endpoint, const char *method, double seconds,
                   const struct rpc_detail *d)
{
    char key[CONFIG_KEY_LEN] = "";
    const char *kind;

    pthread_mutex_lock(&chains_mu);
    for (size_t i = 0; i < n_chains; i++)
        if (chains[i].id == chain_id) {
            memcpy(key, chains[i].key, sizeof(key));
            break;
        }
    pthread_mutex_unlock(&chains_mu);
    if (key[0] == '\0')
        snprintf(key, sizeof(key), "%llu", (unsigned long long)chain_id);
    metrics_rpc_latency(key, (int)endpoint, method, seconds);
    if (d->cls != RPC_CLASS_NONE && (kind = error_kind(d)) != NULL)
        metrics_rpc_error(key, (int)endpoint, kind);
}

void observe_rpc_install(const struct config *cfg)
{
    pthread_mutex_lock(&chains_mu);
    n_chains = 0;
    for (size_t i = 0; i < cfg->n_chains && i < CONFIG_MAX_CHAINS; i++) {
        chains[n_chains].id = cfg->chains[i].chain_id;
        memcpy(chains[n_chains].key, cfg->chains[i].key, sizeof(chains[n_chains].key));
        n_chains++;
    }
    pthread_mutex_unlock(&chains_mu);
    rpc_set_observer(on_rpc);
}

void observe_rpc_remove(void)
{
    rpc_set_observer(NULL);
}

/* ------------------------------------------------------------ collector -- */

struct observe_collector {
    const struct config *cfg;
    const char *conninfo;
    uint8_t addrs[MAX_ADDRS][20];
    size_t n_addrs;
    int interval_ms;
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop;                      /* under mu */
    char last_db[MR_ERROR_MSG_LEN];
    char last_rpc[CONFIG_MAX_CHAINS][MR_ERROR_MSG_LEN];
};

/* Logs err once until it changes (a database or node that is down would
 * say the same every interval); an empty err ends the episode. */
static void say_once(char *last, size_t cap, const char *chain, const char *msg)
{
    if (msg == NULL) {
        if (last[0] != '\0')
            log_info("metrics", LOG_ID(.chain = chain), "collecting works again");
        last[0] = '\0';
        return;
    }
    if (strcmp(last, msg) != 0)
        log_warn("metrics", LOG_ID(.chain = chain), "%s", msg);
    snprintf(last, cap, "%s", msg);
}

/* Waits for the interval; returns 0 once stopping. */
static int collector_wait(struct observe_collector *c)
{
    struct timespec until;
    int stop;

    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += c->interval_ms / 1000;
    until.tv_nsec += (long)(c->interval_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&c->mu);
    while (!c->stop)
        if (pthread_cond_timedwait(&c->cv, &c->mu, &until) == ETIMEDOUT)
            break;
    stop = c->stop;
    pthread_mutex_unlock(&c->mu);
    return !stop;
}

static void collect_db(struct observe_collector *c, PGconn **db)
{
    struct db_session_opts so = {"mosaic-relayer metrics", 10000, 0};
    struct mr_error err;

    if (*db != NULL && PQstatus(*db) != CONNECTION_OK) {
        PQfinish(*db);
        *db = NULL;
    }
    if (*db == NULL && (*db = db_connect(c->conninfo, &so, &err)) == NULL) {
        metric_add(metric_series(MX_COLLECT_ERRORS, NULL), 1);
        say_once(c->last_db, sizeof(c->last_db), NULL, err.msg);
        return;
    }
    if (metrics_collect_db(*db, &err) != MR_OK)
        say_once(c->last_db, sizeof(c->last_db), NULL, err.msg);
    else
        say_once(c->last_db, sizeof(c->last_db), NULL, NULL);
}

static void collect_balances(struct observe_collector *c, struct rpc_endpoints **ep)
{
    for (size_t i = 0; i < c->cfg->n_chains && i < CONFIG_MAX_CHAINS; i++) {
        const struct config_chain *ch = &c->cfg->chains[i];
        struct mr_error err;
        int failed = 0;
        if (ep[i] == NULL) {
            const char *urls[CONFIG_MAX_ENDPOINTS];
            for (size_t k = 0; k < ch->n_endpoints; k++)
                urls[k] = ch->endpoints[k];
            if (rpc_endpoints_new(urls, ch->n_endpoints, ch->chain_id, NULL, &ep[i], &err) !=
                MR_OK) {
                say_once(c->last_rpc[i], sizeof(c->last_rpc[i]), ch->key, err.msg);
                continue;
            }
        }
        for (size_t k = 0; k < c->n_addrs && !failed; k++) {
            struct u256 wei;
            char addr[43], dec[U256_DEC_MAX];
            if (ethrpc_get_balance(ep[i], c->addrs[k], "latest", &wei, NULL, &err) != MR_OK) {
                say_once(c->last_rpc[i], sizeof(c->last_rpc[i]), ch->key, err.msg);
                failed = 1;
                continue;
            }
            hex_encode_data(c->addrs[k], 20, addr, sizeof(addr));
            u256_to_dec(&wei, dec, sizeof(dec));
            metrics_signer_balance(ch->key, addr, strtod(dec, NULL) / 1e18);
        }
        if (!failed)
            say_once(c->last_rpc[i], sizeof(c->last_rpc[i]), ch->key, NULL);
    }
}

static void *collector_main(void *arg)
{
    struct observe_collector *c = arg;
    struct rpc_endpoints *ep[CONFIG_MAX_CHAINS] = {0};
    PGconn *db = NULL;

    do {
        collect_db(c, &db);
        if (c->n_addrs > 0)
            collect_balances(c, ep);
    } while (collector_wait(c));
    if (db != NULL)
        PQfinish(db);
    for (size_t i = 0; i < CONFIG_MAX_CHAINS; i++)
        rpc_endpoints_free(ep[i]);
    return NULL;
}

int observe_collector_start(const struct config *cfg, const char *conninfo,
                            const uint8_t (*addrs)[20], size_t n, int interval_ms,
                            struct observe_collector **out, struct mr_error *err)
{
    struct observe_collector *c = calloc(1, sizeof(*c));

    *out = NULL;
    if (c == NULL)
        return mr_fail(err, MR_ERR_NOMEM, "out of memory");
    c->cfg = cfg;
    c->conninfo = conninfo;
    for (size_t i = 0; i < n && i < MAX_ADDRS; i++)
        memcpy(c->addrs[c->n_addrs++], addrs[i], 20);
    c->interval_ms = interval_ms > 0 ? interval_ms : 5000;
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    if (pthread_create(&c->th, NULL, collector_main, c) != 0) {
        pthread_mutex_destroy(&c->mu);
        pthread_cond_destroy(&c->cv);
        free(c);
        return mr_fail(err, MR_ERR_NOMEM, "metrics: cannot start the collector thread");
    }
    *out = c;
    return MR_OK;
}

void observe_collector_stop(struct observe_collector *c)
{
    if (c == NULL)
        return;
    pthread_mutex_lock(&c->mu);
    c->stop = 1;
    pthread_cond_signal(&c->cv);
    pthread_mutex_unlock(&c->mu);
    pthread_join(c->th, NULL);
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->cv);
    free(c);
}

/* ------------------------------------------------------------ readiness -- */

struct observe_ready {
    pthread_mutex_t mu;
    char *conninfo;
    PGconn *db;
    int64_t max_lag;
};

int observe_ready_new(const char *conninfo, int64_t max_lag, struct observe_ready **out,
                      struct mr_error *err)
{
    struct observe_ready *r = calloc(1, sizeof(*r));

    *out = NULL;
    if (r == NULL || (r->conninfo = strdup(conninfo != NULL ? conninfo : "")) == NULL) {
        free(r);
        return mr_fail(err, MR_ERR_NOMEM, "out of memory");
    }
    pthread_mutex_init(&r->mu, NULL);
    r->max_lag = max_lag;
    *out = r;
    return MR_OK;
}

void observe_ready_set_conninfo(struct observe_ready *r, const char *conninfo)
{
    char *copy = strdup(conninfo != NULL ? conninfo : "");

    if (copy == NULL)
        return; /* keeps the old one; the check says so if it is gone */
    pthread_mutex_lock(&r->mu);
    free(r->conninfo);
    r->conninfo = copy;
    if (r->db != NULL)
        PQfinish(r->db);
    r->db = NULL;
    pthread_mutex_unlock(&r->mu);
}

/* A session bounded in time: connecting (3 s) and every statement (2 s),
 * so that /readyz answers even when the database hangs. */
static PGconn *ready_connect(const char *conninfo, char *why, size_t cap)
{
    static const char *const keys[] = {"dbname", "connect_timeout", "application_name", NULL};
    const char *vals[] = {conninfo, "3", "mosaic-relayer readiness", NULL};
    PGconn *db = PQconnectdbParams(keys, vals, 1);
    char where[256];

    db_route_notices(db);
    if (db != NULL && PQstatus(db) == CONNECTION_OK) {
        PGresult *res = PQexec(db, "SET statement_timeout = 2000");
        int ok = PQresultStatus(res) == PGRES_COMMAND_OK;
        PQclear(res);
        if (ok)
            return db;
    }
    if (db == NULL) {
        snprintf(why, cap, "database: out of memory");
        return NULL;
    }
    db_describe(db, where, sizeof(where));
    {
        const char *msg = PQerrorMessage(db), *nl = strchr(msg, '\n');
        snprintf(why, cap, "cannot connect to the database at %s: %.*s", where,
                 nl != NULL ? (int)(nl - msg) : (int)strlen(msg), msg);
    }
    PQfinish(db);
    return NULL;
}

int observe_ready(void *ctx, char *why, size_t cap)
{
    struct observe_ready *r = ctx;
    int ready = 0;

    pthread_mutex_lock(&r->mu);
    if (r->db != NULL && PQstatus(r->db) != CONNECTION_OK) {
        PQfinish(r->db);
        r->db = NULL;
    }
    if (r->db == NULL)
        r->db = ready_connect(r->conninfo, why, cap);
    if (r->db != NULL)
        ready = metrics_ready_db(r->db, r->max_lag, why, cap);
    pthread_mutex_unlock(&r->mu);
    return ready;
}

void observe_ready_free(struct observe_ready *r)
{
    if (r == NULL)
        return;
    if (r->db != NULL)
        PQfinish(r->db);
    free(r->conninfo);
    pthread_mutex_destroy(&r->mu);
    free(r);
}
