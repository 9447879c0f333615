/*
 * metrics_db.c - the database-backed metric families (metrics_collect_db)
 * and the readiness check the daemon's /readyz callback uses.
 *
 * Every query is a read of mosaic.* with no lock taken; counts of open
 * things use the partial indexes of 0001/0002 (messages_open_idx,
 * transactions_open_idx, alerts_open_idx).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relayer/metrics.h"
#include "relayer/metrics_int.h"

/* A refresh of one gauge family: series not set in this pass go to 0. */
struct sweep {
    enum metric_id id;
    unsigned char touched[METRIC_MAX_SERIES];
};

static void sweep_begin(struct sweep *sw, enum metric_id id)
{
    sw->id = id;
    memset(sw->touched, 0, sizeof sw->touched);
}

static void sweep_set(struct sweep *sw, const char *a, const char *b, double v)
{
    const char *vals[METRIC_MAX_LABELS] = {a, b, NULL, NULL};
    int i = metric_series_index(sw->id, vals);

    if (i < 0) {
        metric_add(metric_series(MX_SERIES_DROPPED, NULL), 1);
        return;
    }
    sw->touched[i] = 1;
    metric_set(metric_series_at(sw->id, (size_t)i), v);
}

static void sweep_end(const struct sweep *sw)
{
    size_t n = metric_family_size(sw->id);

    for (size_t i = 0; i < n; i++)
        if (!sw->touched[i])
            metric_set(metric_series_at(sw->id, i), 0);
}

static const char *const job_states[] = {"available", "scheduled", "running", "retryable",
                                         "failed"};
static const char *const msg_flows[] = {"stake", "redeem"};
static const char *const msg_states[] = {"declared",    "anchoring", "proving", "confirming",
                                         "progressing", "completed", "reverting", "reverted",
                                         "halted",      "refused",   "held"};
static const char *const tx_states[] = {"intent", "signed", "broadcast", "included"};
static const char *const severities[] = {"info", "warning", "critical"};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static PGresult *query(PGconn *db, const char *sql, int cols, struct mr_error *err)
{
    PGresult *res = PQexec(db, sql);

    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQnfields(res) != cols) {
        const char *msg = PQresultErrorMessage(res);
        const char *nl = strchr(msg, '\n');
        mr_fail(err, MR_ERR_IO, "metrics: database query failed: %.*s",
                nl ? (int)(nl - msg) : (int)strlen(msg), msg);
        PQclear(res);
        return NULL;
    }
    return res;
}

static double num(const PGresult *res, int r, int c)
{
    if (PQgetisnull(res, r, c))
        return -1;
    return strtod(PQgetvalue(res, r, c), NULL);
}

static int collect_chains(PGconn *db, struct mr_error *err)
{
    PGresult *res = query(db,
                          "SELECT chain_key, head_block, finalized_block, cursor_block "
                          "FROM mosaic.chains ORDER BY chain_key", 4, err);
    if (res == NULL)
        return MR_ERR_IO;
    for (int r = 0; r < PQntuples(res); r++)
        metrics_chain(PQgetvalue(res, r, 0), (int64_t)num(res, r, 1), (int64_t)num(res, r, 2),
                      (int64_t)num(res, r, 3));
    PQclear(res);
    return MR_OK;
}

static int collect_jobs(PGconn *db, struct mr_error *err)
{
    struct sweep sw;
    PGresult *res = query(db,
                          "SELECT kind, state, count(*) FROM mosaic.jobs "
                          "WHERE state NOT IN ('completed', 'cancelled') GROUP BY 1, 2", 3, err);
    if (res == NULL)
        return MR_ERR_IO;
    sweep_begin(&sw, MX_QUEUE_JOBS);
    for (int r = 0; r < PQntuples(res); r++)     /* every state of each kind seen */
        for (size_t k = 0; k < COUNT(job_states); k++)
            sweep_set(&sw, PQgetvalue(res, r, 0), job_states[k], 0);
    for (int r = 0; r < PQntuples(res); r++)
        sweep_set(&sw, PQgetvalue(res, r, 0), PQgetvalue(res, r, 1), num(res, r, 2));
    sweep_end(&sw);
    PQclear(res);
    return MR_OK;
}

static int collect_messages(PGconn *db, struct mr_error *err)
{
    struct sweep sw;
    PGresult *res = query(db, "SELECT flow, state, count(*) FROM mosaic.messages GROUP BY 1, 2",
                          3, err);
    if (res == NULL)
        return MR_ERR_IO;
    sweep_begin(&sw, MX_MESSAGES);
    for (size_t f = 0; f < COUNT(msg_flows); f++)
        for (size_t k = 0; k < COUNT(msg_states); k++)
            sweep_set(&sw, msg_flows[f], msg_states[k], 0);
    for (int r = 0; r < PQntuples(res); r++)
        sweep_set(&sw, PQgetvalue(res, r, 0), PQgetvalue(res, r, 1), num(res, r, 2));
    sweep_end(&sw);
    PQclear(res);

    res = query(db,
                "SELECT count(*) FROM mosaic.messages "
                "WHERE state NOT IN ('completed', 'reverted', 'refused', 'held') "
                "AND updated_at < now() - interval '10 minutes'", 1, err);
    if (res == NULL)
        return MR_ERR_IO;
    metrics_messages_stuck(num(res, 0, 0));
    PQclear(res);
    return MR_OK;
}

static int collect_transactions(PGconn *db, struct mr_error *err)
{
    struct sweep sw;
    PGresult *res = query(db,
                          "SELECT c.chain_key, t.state, count(t.id) FROM mosaic.chains c "
                          "LEFT JOIN mosaic.transactions t ON t.chain_key = c.chain_key "
                          "AND t.state IN ('intent', 'signed', 'broadcast', 'included') "
                          "GROUP BY 1, 2", 3, err);
    if (res == NULL)
        return MR_ERR_IO;
    sweep_begin(&sw, MX_TX_PENDING);
    for (int r = 0; r < PQntuples(res); r++)
        for (size_t k = 0; k < COUNT(tx_states); k++)
            sweep_set(&sw, PQgetvalue(res, r, 0), tx_states[k], 0);
    for (int r = 0; r < PQntuples(res); r++)
        if (!PQgetisnull(res, r, 1))
            sweep_set(&sw, PQgetvalue(res, r, 0), PQgetvalue(res, r, 1), num(res, r, 2));
    sweep_end(&sw);
    PQclear(res);

    res = query(db,
                "SELECT c.chain_key, "
                "(SELECT count(*) FROM mosaic.transactions t "
                " WHERE t.chain_key = c.chain_key AND t.state = 'failed'), "
                "(SELECT count(*) FROM mosaic.tx_attempts a JOIN mosaic.transactions t "
                " ON t.id = a.tx_id WHERE t.chain_key = c.chain_key AND a.attempt > 1) "
                "FROM mosaic.chains c", 3, err);
    if (res == NULL)
        return MR_ERR_IO;
    for (int r = 0; r < PQntuples(res); r++) {
        metrics_tx_failed(PQgetvalue(res, r, 0), num(res, r, 1));
        metrics_tx_replaced(PQgetvalue(res, r, 0), num(res, r, 2));
    }
    PQclear(res);
    return MR_OK;
}

static int collect_anchors(PGconn *db, struct mr_error *err)
{
    PGresult *res = query(db,
                          "SELECT DISTINCT ON (chain_key, remote_chain) chain_key, remote_chain, "
                          "block_height, extract(epoch FROM now() - observed_at) "
                          "FROM mosaic.anchors ORDER BY chain_key, remote_chain, block_height DESC",
                          4, err);
    if (res == NULL)
        return MR_ERR_IO;
    for (int r = 0; r < PQntuples(res); r++) {
        double age = num(res, r, 3);
        metrics_anchor(PQgetvalue(res, r, 0), PQgetvalue(res, r, 1), age < 0 ? 0 : age,
                       (int64_t)num(res, r, 2));
    }
    PQclear(res);
    return MR_OK;
}

static int collect_signers(PGconn *db, struct mr_error *err)
{
    PGresult *res = query(db,
                          "SELECT chain_key, '0x' || encode(sender, 'hex'), next_nonce, "
                          "(halted_reason IS NOT NULL)::int FROM mosaic.signer_nonces", 4, err);
    if (res == NULL)
        return MR_ERR_IO;
    for (int r = 0; r < PQntuples(res); r++)
        metrics_signer_nonce(PQgetvalue(res, r, 0), PQgetvalue(res, r, 1),
                             (int64_t)num(res, r, 2), num(res, r, 3) > 0);
    PQclear(res);
    return MR_OK;
}

static int collect_alerts(PGconn *db, struct mr_error *err)
{
    struct sweep sw;
    PGresult *res = query(db,
                          "SELECT severity, count(*) FROM mosaic.alerts "
                          "WHERE acknowledged_at IS NULL GROUP BY 1", 2, err);
    if (res == NULL)
        return MR_ERR_IO;
    sweep_begin(&sw, MX_ALERTS_OPEN);
    for (size_t k = 0; k < COUNT(severities); k++)
        sweep_set(&sw, severities[k], NULL, 0);
    for (int r = 0; r < PQntuples(res); r++)
        sweep_set(&sw, PQgetvalue(res, r, 0), NULL, num(res, r, 1));
    sweep_end(&sw);
    PQclear(res);
    return MR_OK;
}

/* Messages held by the value limits (0010_limits.sql), per gateway pair;
 * pairs with none go back to 0. */
static int collect_limits(PGconn *db, struct mr_error *err)
{
    struct sweep n, v;
    PGresult *res = query(db,
                          "SELECT gateway_pair, count(*), sum(amount) FROM mosaic.messages "
                          "WHERE state = 'held' GROUP BY 1", 3, err);
    if (res == NULL)
        return MR_ERR_IO;
    sweep_begin(&n, MX_LIMITS_HELD_MESSAGES);
    sweep_begin(&v, MX_LIMITS_HELD_VALUE);
    for (int r = 0; r < PQntuples(res); r++) {
        sweep_set(&n, PQgetvalue(res, r, 0), NULL, num(res, r, 1));
        sweep_set(&v, PQgetvalue(res, r, 0), NULL, num(res, r, 2));
    }
    sweep_end(&n);
    sweep_end(&v);
    PQclear(res);
    return MR_OK;
}

static int collect_breakers(PGconn *db, struct mr_error *err)
{
    PGresult *res = query(db,
                          "SELECT gateway_pair, tripped::int, coalesce(circulating, 0),"
                          " coalesce(backing, 0) FROM mosaic.breakers", 4, err);
    if (res == NULL)
        return MR_ERR_IO;
    for (int r = 0; r < PQntuples(res); r++)
        metrics_conservation(PQgetvalue(res, r, 0), num(res, r, 1) > 0, num(res, r, 2),
                             num(res, r, 3));
    PQclear(res);
    return MR_OK;
}

int metrics_collect_db(PGconn *db, struct mr_error *err)
{
    static int (*const parts[])(PGconn *, struct mr_error *) = {
        collect_chains, collect_jobs, collect_messages, collect_transactions,
        collect_anchors, collect_signers, collect_alerts, collect_limits, collect_breakers,
    };
    int rc = MR_OK;

    /* Each part on its own: one failing (e.g. a column a newer migration
     * adds) does not blank the others. */
    for (size_t i = 0; i < COUNT(parts); i++) {
        struct mr_error e1;
        int r = parts[i](db, &e1);
        if (r != MR_OK && rc == MR_OK) {
            rc = r;
            if (err != NULL)
                *err = e1;
        }
    }
    if (rc != MR_OK)
        metric_add(metric_series(MX_COLLECT_ERRORS, NULL), 1);
    return rc;
}

int metrics_ready_db(PGconn *db, int64_t max_lag, char *why, size_t cap)
{
    struct mr_error err;

    if (PQstatus(db) != CONNECTION_OK)
        PQreset(db);
    PGresult *res = query(db,
                          "SELECT chain_key, finalized_block, cursor_block "
                          "FROM mosaic.chains ORDER BY chain_key", 3, &err);
    if (res == NULL) {
        snprintf(why, cap, "%s", err.msg);
        return 0;
    }
    int n = PQntuples(res), ready = 1;
    int64_t worst = 0;
    if (n == 0) {
        snprintf(why, cap, "no chains registered");
        ready = 0;
    }
    for (int r = 0; r < n && ready; r++) {
        const char *chain = PQgetvalue(res, r, 0);
        int64_t fin = (int64_t)num(res, r, 1), cur = (int64_t)num(res, r, 2);
        if (cur < 0 || fin < 0) {
            snprintf(why, cap, "chain %s: the watcher has not started", chain);
            ready = 0;
        } else if (fin - cur > max_lag) {
            snprintf(why, cap, "chain %s: the watcher is %lld blocks behind (at most %lld)", chain,
                     (long long)(fin - cur), (long long)max_lag);
            ready = 0;
        } else if (fin - cur > worst)
            worst = fin - cur;
    }
    if (ready)
        snprintf(why, cap, "ready: %d chains, watcher lag at most %lld blocks", n,
                 (long long)worst);
    PQclear(res);
    return ready;
}
