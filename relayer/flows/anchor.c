/*
 * anchor.c - the `anchor` job: keeps the remote chain's state roots coming
 * on an anchor chain (mosaic-protocol.md §5 step 3, §7).
 *
 * For every Anchor contract on `chain` that stores `remote`'s roots (one per
 * gateway pair side; pairs may share one), it anchors the remote chain's
 * latest final block when
 *   - a message waits for it: a message from `remote` to `chain` not yet
 *     confirmed whose declaration is above the newest anchored height, or
 *   - the newest anchored root is relayer.anchor.max_interval older (in the
 *     remote chain's own time) than the final block,
 * after the header agreed across the chain's `quorum` endpoints; an
 * endpoint that disagrees halts anchoring (alert) instead.  Messages that
 * need a root anchor it themselves on the way (flow_proof); this job is the
 * periodic and the backstop path.  One anchor per height serves everyone:
 * flow_anchor_ensure() records one only above the newest anchored or in
 * flight.
 */
#include "relayer/flows/flows_int.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "db/db.h"

/* The highest declared block of messages from remote to chain still
 * waiting for their confirmation; 0 if none. */
static int waiting_height(PGconn *conn, const char *chain, const char *remote, uint64_t *h,
                          struct mr_error *err)
{
    const char *p[2] = {chain, remote};
    PGresult *res = PQexecParams(conn,
                                 "SELECT coalesce(max(declared_block), 0) FROM " DB_SCHEMA
                                 ".messages WHERE target_chain = $1 AND source_chain = $2 AND"
                                 " target_status = 0 AND state NOT IN ('completed', 'reverted',"
                                 " 'halted', 'refused', 'held')",
                                 2, NULL, p, NULL, NULL, 0);
    int rc = db_check(res, PGRES_TUPLES_OK, "reading waiting messages", err);

    if (rc == MR_OK)
        *h = (uint64_t)strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    return rc;
}

/* One Anchor contract. */
static enum flow_res anchor_one(struct flow_ctx *ctx, PGconn *conn, int chain, int remote,
                                const uint8_t anchor[20], int64_t job_id, struct mr_error *err)
{
    const struct config *cfg = ctx->cfg;
    struct flow_shared_tx tx[FLOW_MAX_SHARED];
    struct eth_block fin, at;
    char id[ETHRPC_BLOCK_ID_LEN];
    size_t m = 0;
    uint64_t latest = 0, newest, need = 0, anchored = 0;
    int created = 0, due = 0, rc;
    struct rpc_endpoints *e;

    rc = flow_anchor_latest(ctx, chain, anchor, &latest, err);
    if (rc == MR_OK)
        rc = flow_db_shared_txs(conn, cfg->chains[chain].key, anchor, "anchorStateRoot", tx,
                                FLOW_MAX_SHARED, &m, err);
    if (rc == MR_OK)
        rc = waiting_height(conn, cfg->chains[chain].key, cfg->chains[remote].key, &need, err);
    if (rc != MR_OK)
        return FLOW_R_ERROR;
    newest = latest;
    for (size_t i = 0; i < m; i++)
        if (!tx[i].failed && tx[i].height > newest)
            newest = tx[i].height;
    rc = flow_final_block(ctx, remote, &fin, err);
    if (rc == MR_ERR_NOTFOUND || (rc == MR_OK && fin.number <= newest))
        return FLOW_R_OK; /* nothing newer to anchor */
    if (rc != MR_OK)
        return FLOW_R_ERROR;
    if (need > newest && need <= fin.number)
        due = 1;
    if (!due && cfg->relayer.anchor_max_interval_ms > 0) {
        e = flow_rpc(ctx, remote, err);
        if (e == NULL)
            return FLOW_R_ERROR;
        rc = newest == 0 ? MR_ERR_NOTFOUND
                         : ethrpc_get_block(e, ethrpc_block_id(newest, id), &at, NULL, err);
        if (rc == MR_ERR_NOTFOUND)
            due = 1;
        else if (rc != MR_OK)
            return FLOW_R_ERROR;
        else if (fin.timestamp >= at.timestamp &&
                 (int64_t)(fin.timestamp - at.timestamp) * 1000 >=
                     cfg->relayer.anchor_max_interval_ms)
            due = 1;
    }
    if (!due)
        return FLOW_R_OK;
    rc = flow_quorum_check(ctx, remote, &fin, err);
    if (rc == MR_ERR_MISMATCH) {
        flow_db_alert(conn, "critical", cfg->chains[remote].key, "%s", err->msg);
        return FLOW_R_HALT;
    }
    if (rc != MR_OK)
        return flow_waitf(err, "%s", err->msg);
    return flow_anchor_ensure(ctx, conn, chain, remote, anchor, fin.number, fin.number,
                              fin.state_root, job_id, &anchored, &created, err);
}

static int parse(const struct flow_ctx *ctx, const char *args, int *chain, int *remote,
                 struct mr_error *err)
{
    json_error_t je;
    json_t *a = json_loads(args != NULL ? args : "{}", 0, &je);
    const char *c = json_string_value(json_object_get(a, "chain"));
    const char *r = json_string_value(json_object_get(a, "remote"));
    int rc = MR_OK;

    *chain = *remote = -1;
    for (size_t i = 0; c != NULL && r != NULL && i < ctx->cfg->n_chains; i++) {
        if (strcmp(ctx->cfg->chains[i].key, c) == 0)
            *chain = (int)i;
        if (strcmp(ctx->cfg->chains[i].key, r) == 0)
            *remote = (int)i;
    }
    if (*chain < 0 || *remote < 0 || *chain == *remote)
        rc = mr_fail(err, MR_ERR_INVALID, "anchor job args: chain and remote must name two "
                     "configured chains");
    json_decref(a);
    return rc;
}

enum queue_outcome flow_anchor_run(struct flow_ctx *ctx, PGconn *conn,
                                   const struct queue_job *job, char *errmsg, size_t errcap)
{
    const struct config *cfg = ctx->cfg;
    const uint8_t *seen[CONFIG_MAX_GATEWAYS];
    size_t n_seen = 0;
    struct mr_error err;
    int chain, remote, waits = 0;

    mr_error_clear(&err);
    if (parse(ctx, job->args, &chain, &remote, &err) != MR_OK) {
        snprintf(errmsg, errcap, "%s", err.msg);
        return QUEUE_DEAD;
    }
    if (!ctx->has_anchorer) {
        snprintf(errmsg, errcap, "no anchor key configured");
        return QUEUE_CANCEL;
    }
    for (size_t g = 0; g < cfg->n_gateways; g++) {
        const struct config_gateway *gw = &cfg->gateways[g];
        const uint8_t *anchor = NULL;
        int dup = 0;
        enum flow_res r;
        if (gw->origin.chain == chain && gw->auxiliary.chain == remote)
            anchor = gw->origin.anchor;
        else if (gw->auxiliary.chain == chain && gw->origin.chain == remote)
            anchor = gw->auxiliary.anchor;
        if (anchor == NULL)
            continue;
        for (size_t i = 0; i < n_seen; i++)
            dup |= memcmp(seen[i], anchor, 20) == 0;
        if (dup)
            continue;
        seen[n_seen++] = anchor;
        r = anchor_one(ctx, conn, chain, remote, anchor, job->id, &err);
        if (r == FLOW_R_ERROR || r == FLOW_R_HALT) {
            snprintf(errmsg, errcap, "anchor %s<-%s: %s", cfg->chains[chain].key,
                     cfg->chains[remote].key, err.msg);
            log_at(r == FLOW_R_HALT ? LOGL_ERROR : LOGL_WARN, "flow",
                   LOG_ID(.job = job->id, .flow = "anchor", .chain = cfg->chains[chain].key),
                   "%s", errmsg);
            return r == FLOW_R_HALT ? QUEUE_DEAD : QUEUE_RETRY;
        }
        waits += r == FLOW_R_WAIT;
    }
    (void)waits;
    return QUEUE_DONE;
}

int flow_enqueue_anchor_jobs(const struct config *cfg, PGconn *conn, size_t *n,
                             struct mr_error *err)
{
    *n = 0;
    for (size_t g = 0; g < cfg->n_gateways; g++) {
        const struct config_gateway *gw = &cfg->gateways[g];
        for (int dir = 0; dir < 2; dir++) {
            const char *chain = cfg->chains[dir ? gw->origin.chain : gw->auxiliary.chain].key;
            const char *remote = cfg->chains[dir ? gw->auxiliary.chain : gw->origin.chain].key;
            char args[128], dedup[96];
            struct queue_job_spec spec;
            int64_t id = 0;
            int rc;
            snprintf(args, sizeof(args), "{\"chain\":\"%s\",\"remote\":\"%s\"}", chain, remote);
            snprintf(dedup, sizeof(dedup), "anchor:%s:%s", chain, remote);
            memset(&spec, 0, sizeof(spec));
            spec.kind = FLOW_JOB_ANCHOR;
            spec.args_json = args;
            spec.dedup_key = dedup;
            spec.max_attempts = 3;
            rc = queue_enqueue(conn, &spec, &id, err);
            if (rc != MR_OK)
                return rc;
            *n += id > 0;
        }
    }
    return MR_OK;
}
