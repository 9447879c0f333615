/*
 * watcher.c - the watcher's life: config checks, connections, the chain's
 * advisory lock (one writer per chain, standbys take over), one step, and
 * the loop.  See watcher.h.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "db/db.h"
#include "eth/keccak.h"
#include "watchers/watch_int.h"

/* ---- logging and hooks ---- */

void watch_log(const struct watcher *w, int level, const char *fmt, ...)
{
    char line[768];
    int n = 0;
    va_list ap;

    if (w->cfg.log == NULL && level > 1)
        return;
    if (w->cfg.log != NULL && w->cfg.log_enabled != NULL &&
        !w->cfg.log_enabled(w->cfg.log_ctx, level))
        return;
    if (w->cfg.log == NULL)
        n = snprintf(line, sizeof(line), "watcher chain=%s ", w->cfg.chain_key);
    va_start(ap, fmt);
    vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
    va_end(ap);
    if (w->cfg.log != NULL)
        w->cfg.log(w->cfg.log_ctx, level, line);
    else
        fprintf(stderr, "%s\n", line);
}

void watch_hook(const struct watcher *w, const char *point)
{
    if (w->cfg.hook != NULL)
        w->cfg.hook(w->cfg.hook_ctx, point);
}

/* ---- the lock ---- */

int64_t watcher_lock_key(const char *chain_key)
{
    static const char tag[] = "mosaic-relayer watcher lock ";
    struct keccak256_ctx k;
    uint8_t h[32];
    uint64_t v = 0;

    keccak256_init(&k);
    keccak256_update(&k, tag, sizeof(tag) - 1);
    keccak256_update(&k, chain_key, strlen(chain_key));
    keccak256_final(&k, h);
    for (int i = 0; i < 8; i++)
        v = v << 8 | h[i];
    return (int64_t)(v & 0x7fffffffffffffffULL);
}

/* Connects the lock session when there is none (or it was lost). */
static int connect_db(struct watcher *w, struct mr_error *err)
{
    struct db_session_opts so = {NULL, 0, 0};
    char app[64], host[32] = "host";

    if (w->db != NULL && db_conn_lost(w->db)) {
        watch_log(w, 1, "database session lost%s", w->locked ? ": lock released" : "");
        PQfinish(w->db);
        w->db = NULL;
        w->locked = 0;
    }
    if (w->db != NULL)
        return MR_OK;
    gethostname(host, sizeof(host) - 1);
    snprintf(app, sizeof(app), WATCHER_APP_PREFIX "%.30s:%d", host, (int)getpid());
    so.application_name = app;
    w->db = db_connect(w->cfg.database_url, &so, err);
    if (w->db == NULL)
        return MR_ERR_IO;
    w->written_head = w->written_finalized = -2;
    return MR_OK;
}

/* Tries the chain's lock on the session.  Out: w->locked. */
static int try_lock(struct watcher *w, struct mr_error *err)
{
    char sql[96];
    int64_t got = 0;
    int rc;

    snprintf(sql, sizeof(sql), "SELECT pg_try_advisory_lock(%lld)::int",
             (long long)watcher_lock_key(w->cfg.chain_key));
    rc = db_query_int64(w->db, sql, &got, err);
    if (rc != MR_OK)
        return rc;
    if (got == 1 && !w->locked)
        watch_log(w, 2, "holds the watcher lock: this instance follows the chain");
    w->locked = got == 1;
    return MR_OK;
}

int watcher_is_leader(const struct watcher *w)
{
    return w->locked;
}

/* ---- open / close ---- */

static int add_address(struct watcher *w, const uint8_t a[20])
{
    for (size_t i = 0; i < w->n_addresses; i++)
        if (memcmp(w->addresses[i], a, 20) == 0)
            return MR_OK;
    memcpy(w->addresses[w->n_addresses++], a, 20);
    return MR_OK;
}

static int check_config(const struct watcher_config *c, struct mr_error *err)
{
    static const uint8_t zero[20];

    if (c->chain_key[0] == '\0' || memchr(c->chain_key, '\0', WATCHER_KEY_LEN) == NULL)
        return mr_fail(err, MR_ERR_INVALID, "watcher: no chain key");
    if (c->n_endpoints == 0 || c->n_endpoints > WATCHER_MAX_ENDPOINTS)
        return mr_fail(err, MR_ERR_INVALID, "watcher %s: %zu endpoints (1..%d)", c->chain_key,
                       c->n_endpoints, WATCHER_MAX_ENDPOINTS);
    if (c->n_pairs == 0 || c->n_pairs > WATCHER_MAX_PAIRS)
        return mr_fail(err, MR_ERR_INVALID, "watcher %s: %zu gateway pairs (1..%d)", c->chain_key,
                       c->n_pairs, WATCHER_MAX_PAIRS);
    if (c->start_block > INT64_MAX)
        return mr_fail(err, MR_ERR_RANGE, "watcher %s: start block out of range", c->chain_key);
    for (size_t i = 0; i < c->n_pairs; i++) {
        const struct watcher_pair *p = &c->pairs[i];
        if (memcmp(p->gateway, zero, 20) == 0)
            return mr_fail(err, MR_ERR_INVALID, "watcher %s: pair %s has no gateway address",
                           c->chain_key, p->name);
        if (p->remote_chain[0] == '\0' || strcmp(p->remote_chain, c->chain_key) == 0)
            return mr_fail(err, MR_ERR_INVALID, "watcher %s: pair %s needs another remote chain",
                           c->chain_key, p->name);
    }
    return MR_OK;
}

int watcher_open(const struct watcher_config *cfg, struct watcher **out, struct mr_error *err)
{
    const char *urls[WATCHER_MAX_ENDPOINTS];
    struct watcher *w;
    int rc = check_config(cfg, err);

    *out = NULL;
    if (rc != MR_OK)
        return rc;
    w = calloc(1, sizeof(*w));
    if (w == NULL)
        return mr_fail(err, MR_ERR_NOMEM, "watcher: out of memory");
    w->cfg = *cfg;
    if (w->cfg.max_range == 0)
        w->cfg.max_range = WATCHER_DEFAULT_MAX_RANGE;
    if (w->cfg.target_logs == 0)
        w->cfg.target_logs = WATCHER_DEFAULT_TARGET_LOGS;
    if (w->cfg.keep_headers == 0)
        w->cfg.keep_headers = WATCHER_DEFAULT_KEEP_HEADERS;
    if (w->cfg.poll_interval_ms <= 0)
        w->cfg.poll_interval_ms = WATCHER_DEFAULT_POLL_MS;
    if (w->cfg.standby_poll_ms <= 0)
        w->cfg.standby_poll_ms = WATCHER_DEFAULT_STANDBY_MS;
    w->chunk = w->cfg.max_range;
    for (size_t i = 0; i < cfg->n_pairs; i++) {
        add_address(w, cfg->pairs[i].gateway);
        if (cfg->pairs[i].has_anchor)
            add_address(w, cfg->pairs[i].anchor);
    }
    for (size_t i = 0; i < cfg->n_endpoints; i++)
        urls[i] = w->cfg.endpoints[i];
    rc = rpc_endpoints_new(urls, cfg->n_endpoints, cfg->chain_id, NULL, &w->rpc, err);
    if (rc == MR_OK)
        rc = rpc_endpoints_new(urls, cfg->n_endpoints, cfg->chain_id, NULL, &w->pf.rpc, err);
    if (rc == MR_OK && w->cfg.ws_url[0] != '\0')
        rc = heads_open(w->rpc, w->cfg.ws_url, (long)w->cfg.poll_interval_ms, &w->tracker, err);
    if (rc == MR_OK)
        rc = connect_db(w, err);
    if (rc != MR_OK) {
        watcher_close(w);
        return rc;
    }
    *out = w;
    return MR_OK;
}

void watcher_close(struct watcher *w)
{
    if (w == NULL)
        return;
    watch_prefetch_stop(w);
    heads_close(w->tracker);
    if (w->db != NULL)
        PQfinish(w->db);
    rpc_endpoints_free(w->pf.rpc);
    rpc_endpoints_free(w->rpc);
    free(w);
}

/* ---- one step ---- */

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The heads, polled at most every poll_interval while a backfill has
 * ranges left below the last safe head seen. */
static int heads(struct watcher *w, uint64_t from, struct watch_heads *hd, struct mr_error *err)
{
    int64_t t = now_ms();
    int rc;

    if (w->heads_at > 0 && t - w->heads_at < w->cfg.poll_interval_ms && w->heads.has_safe &&
        w->heads.safe >= from) {
        *hd = w->heads;
        return MR_OK;
    }
    rc = watch_read_heads(w, hd, err);
    if (rc == MR_OK) {
        w->heads = *hd;
        w->heads_at = t;
    }
    return rc;
}

/* Is the block at the cursor still the one we stored?  If not, undoes the
 * orphaned part (*reorged = 1). */
static int check_cursor(struct watcher *w, const struct watch_cursor *cur,
                        struct watcher_result *res, int *reorged, struct mr_error *err)
{
    char id[ETHRPC_BLOCK_ID_LEN];
    struct eth_block at;
    int rc = ethrpc_get_block(w->rpc, ethrpc_block_id(cur->block, id), &at, NULL, err);

    *reorged = 0;
    if (rc == MR_ERR_NOTFOUND || (rc == MR_OK && memcmp(at.hash, cur->hash, 32) != 0)) {
        watch_log(w, 1, "block %llu changed: reorganisation below the cursor",
                  (unsigned long long)cur->block);
        watch_prefetch_stop(w);
        w->heads_at = 0;
        *reorged = 1;
        return watch_reorg(w, cur, res, err);
    }
    return rc;
}

int watcher_step(struct watcher *w, struct watcher_result *res, struct mr_error *err)
{
    struct watch_heads hd;
    struct watch_cursor cur;
    uint64_t from, to;
    int rc, reorged = 0;

    memset(res, 0, sizeof(*res));
    if ((rc = connect_db(w, err)) != MR_OK)
        return rc;
    if (!w->locked && (rc = try_lock(w, err)) != MR_OK)
        return rc;
    if (!w->locked) {
        watch_prefetch_stop(w);
        res->outcome = WATCHER_STANDBY;
        return MR_OK;
    }
    if ((rc = watch_read_cursor(w->db, w->cfg.chain_key, &cur, 0, err)) != MR_OK)
        return rc;
    from = cur.has ? cur.block + 1 : w->cfg.start_block;
    if ((rc = heads(w, from, &hd, err)) != MR_OK)
        return rc;
    res->head = hd.h.head;
    res->finalized = hd.h.finalized;
    res->has_safe = hd.has_safe;
    res->safe = hd.safe;
    res->has_cursor = cur.has;
    res->cursor = cur.block;
    if (!hd.has_safe || hd.safe < from) {
        /* Caught up: make sure what we have is still the chain. */
        watch_prefetch_stop(w);
        if (cur.has && ((rc = check_cursor(w, &cur, res, &reorged, err)) != MR_OK || reorged))
            return rc;
        res->outcome = WATCHER_IDLE;
        return watch_write_heads(w, &hd, err);
    }
    to = hd.safe - from + 1 > w->chunk ? from + w->chunk - 1 : hd.safe;
    rc = watch_ingest(w, &cur, &hd, from, to, res, err);
    /* A range that does not continue the cursor: was the cursor's block
     * replaced? (A range that links to the cursor proves it was not.) */
    if (rc == MR_OK && res->outcome == WATCHER_RETRY && cur.has) {
        rc = check_cursor(w, &cur, res, &reorged, err);
        w->heads_at = 0;
    }
    return rc;
}

/* ---- the loop ---- */

/* Sleeps ms milliseconds in short slices, returning early on stop. */
static void nap(const atomic_int *stop, int64_t ms)
{
    while (ms > 0 && !atomic_load(stop)) {
        int64_t slice = ms > 50 ? 50 : ms;
        struct timespec ts = {0, (long)slice * 1000000L};
        nanosleep(&ts, NULL);
        ms -= slice;
    }
}

/* Caught up: waits for a new head from the tracker (or just sleeps) for at
 * most poll_interval, watching *stop. */
static void await_head(struct watcher *w, const atomic_int *stop)
{
    int64_t left = w->cfg.poll_interval_ms;
    struct eth_block b;

    if (w->tracker == NULL) {
        nap(stop, left);
        return;
    }
    while (left > 0 && !atomic_load(stop)) {
        long slice = left > 200 ? 200 : (long)left;
        int rc = heads_wait(w->tracker, slice, &b, NULL);
        if (rc == MR_OK)
            return;      /* a new block: step now */
        if (rc != MR_ERR_NOTFOUND)
            nap(stop, slice); /* a failed poll: the step will say why */
        left -= slice;
    }
}

int watcher_run(const struct watcher_config *cfg, const atomic_int *stop, struct mr_error *err)
{
    struct watcher *w = NULL;
    int64_t backoff = 0;
    int rc;

    while ((rc = watcher_open(cfg, &w, err)) != MR_OK) {
        if (rc == MR_ERR_INVALID || rc == MR_ERR_RANGE || rc == MR_ERR_NOMEM)
            return rc;
        fprintf(stderr, "watcher chain=%s: %s\n", cfg->chain_key, err ? err->msg : "");
        nap(stop, 1000);
        if (atomic_load(stop))
            return MR_OK;
    }
    while (!atomic_load(stop)) {
        struct watcher_result res;
        struct mr_error e;
        rc = watcher_step(w, &res, &e);
        if (rc != MR_OK) {
            /* Node or database trouble, or a chain we refuse to follow:
             * nothing was half-written; say so and try again later. */
            watch_log(w, 0, "%s", e.msg);
            backoff = backoff == 0 ? 500 : (backoff * 2 > 30000 ? 30000 : backoff * 2);
            nap(stop, backoff);
            continue;
        }
        backoff = 0;
        switch (res.outcome) {
        case WATCHER_STANDBY:
            nap(stop, w->cfg.standby_poll_ms);
            break;
        case WATCHER_IDLE:
            await_head(w, stop);
            break;
        case WATCHER_RETRY:
            nap(stop, 200);
            break;
        case WATCHER_PROGRESS:
        case WATCHER_REORG:
            break;
        }
    }
    watcher_close(w);
    return MR_OK;
}
