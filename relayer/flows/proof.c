/*
 * proof.c - anchored heights, gateway proofs and storage proofs for the
 * calls that need them (mosaic-protocol.md §7): which height to use, the
 * checks that make it safe, and the anchor and proveGateway calls shared by
 * every message waiting at that height.
 *
 * A height h on chain `on` can serve a proof about chain `about` when
 *   - `about`'s state root at h is anchored on `on` (on chain, or by our
 *     anchor transaction in flight), and equals OUR node's header stateRoot
 *     at h; an anchored root that differs halts the message and raises a
 *     critical alert (RELIABILITY.md invariant 5, row 3);
 *   - the storage proof from our node, verified locally against the storage
 *     root of our own account proof at h, shows an accepted status;
 *   - the gateway on `on` has proven h, or we record proveGateway(h) now
 *     (once per height: an advisory lock and our own records make every
 *     other message reuse it).
 * Candidates: heights already proven (by our transactions), anchored (by
 * our transactions, the Anchor's latest, the anchors table), newest first.
 * When none serves and we hold the organization admin key, we anchor the
 * newest final block of `about` (quorum-checked) if it shows the status.
 */
#include "relayer/flows/flows_int.h"

#include <stdlib.h>
#include <string.h>

#include "db/db.h"

#define MAX_CANDS 8

struct cand {
    uint64_t h;
    int proven_mined, proving;    /* our proveGateway(h): mined / in flight */
    int anchor_ours, anchor_mined;
    uint8_t anchor_root[32];
    uint8_t anchor_sender[20];
};

static struct cand *cand_at(struct cand *c, size_t *n, uint64_t h)
{
    for (size_t i = 0; i < *n; i++)
        if (c[i].h == h)
            return &c[i];
    if (*n == MAX_CANDS) {
        /* Keep the newest: replace the lowest if h is above it. */
        size_t lo = 0;
        for (size_t i = 1; i < *n; i++)
            if (c[i].h < c[lo].h)
                lo = i;
        if (c[lo].h > h)
            return NULL;
        memset(&c[lo], 0, sizeof(c[lo]));
        c[lo].h = h;
        return &c[lo];
    }
    memset(&c[*n], 0, sizeof(c[*n]));
    c[*n].h = h;
    return &c[(*n)++];
}

static int cand_cmp(const void *a, const void *b)
{
    const struct cand *x = a, *y = b;
    return x->h < y->h ? 1 : x->h > y->h ? -1 : 0;
}

/* Heights proven by others, from the watcher's GatewayProven events. */
static int proven_by_events(PGconn *conn, const char *chain_key, const uint8_t gw[20],
                            uint64_t h, int *yes, struct mr_error *err)
{
    char addr[43], hs[24];
    const char *p[3] = {chain_key, addr, hs};
    PGresult *res;
    int rc;

    flow_bytea_text(gw, 20, addr);
    snprintf(hs, sizeof(hs), "%llu", (unsigned long long)h);
    res = PQexecParams(conn,
                       "SELECT count(*) FROM " DB_SCHEMA ".events WHERE chain_key = $1 AND kind ="
                       " 'GatewayProven' AND address = $2::bytea AND coalesce(fields->>'blockHeight',"
                       " fields->>'_blockHeight') = $3",
                       3, NULL, p, NULL, NULL, 0);
    rc = db_check(res, PGRES_TUPLES_OK, "reading GatewayProven events", err);
    *yes = rc == MR_OK && strtoll(PQgetvalue(res, 0, 0), NULL, 10) > 0;
    PQclear(res);
    return rc;
}

static int gather(struct flow_ctx *ctx, PGconn *conn, const struct flow_proof_req *q,
                  struct cand *c, size_t *n, struct mr_error *err)
{
    const char *on_key = ctx->cfg->chains[q->on].key;
    struct flow_shared_tx tx[FLOW_MAX_SHARED];
    size_t m = 0;
    uint64_t latest = 0;
    PGresult *res;
    char hs[24];
    const char *p[3];
    int rc;

    *n = 0;
    rc = flow_db_shared_txs(conn, on_key, q->on_gateway, "proveGateway", tx, FLOW_MAX_SHARED, &m,
                            err);
    for (size_t i = 0; rc == MR_OK && i < m; i++) {
        struct cand *k;
        if (tx[i].failed || tx[i].height < q->min_height || (k = cand_at(c, n, tx[i].height)) == NULL)
            continue;
        k->proven_mined |= tx[i].mined;
        k->proving |= !tx[i].mined;
    }
    if (rc == MR_OK)
        rc = flow_db_shared_txs(conn, on_key, q->on_anchor, "anchorStateRoot", tx, FLOW_MAX_SHARED,
                                &m, err);
    for (size_t i = 0; rc == MR_OK && i < m; i++) {
        struct cand *k;
        if (tx[i].failed || tx[i].height < q->min_height || (k = cand_at(c, n, tx[i].height)) == NULL)
            continue;
        k->anchor_ours = 1;
        k->anchor_mined |= tx[i].mined;
        memcpy(k->anchor_root, tx[i].root, 32);
        memcpy(k->anchor_sender, tx[i].sender, 20);
    }
    if (rc == MR_OK)
        rc = flow_anchor_latest(ctx, q->on, q->on_anchor, &latest, err);
    if (rc == MR_OK && latest >= q->min_height && latest > 0)
        (void)cand_at(c, n, latest);
    if (rc == MR_OK) {
        /* Roots anchored by others, as the watcher saw them. */
        snprintf(hs, sizeof(hs), "%llu", (unsigned long long)q->min_height);
        p[0] = on_key;
        p[1] = ctx->cfg->chains[q->about].key;
        p[2] = hs;
        res = PQexecParams(conn,
                           "SELECT block_height FROM " DB_SCHEMA ".anchors WHERE chain_key = $1 "
                           "AND remote_chain = $2 AND block_height >= $3::bigint"
                           " ORDER BY block_height DESC LIMIT 4",
                           3, NULL, p, NULL, NULL, 0);
        rc = db_check(res, PGRES_TUPLES_OK, "reading anchors", err);
        for (int i = 0; rc == MR_OK && i < PQntuples(res); i++)
            (void)cand_at(c, n, (uint64_t)strtoll(PQgetvalue(res, i, 0), NULL, 10));
        PQclear(res);
    }
    if (rc == MR_OK)
        qsort(c, *n, sizeof(*c), cand_cmp);
    return rc;
}

/* Records proveGateway(h) once per (chain, gateway, height). */
static enum flow_res prove_ensure(struct flow_ctx *ctx, PGconn *conn,
                                  const struct flow_proof_req *q, const struct flow_proven *p,
                                  int pipelined, int *created, struct mr_error *err)
{
    const char *on_key = ctx->cfg->chains[q->on].key;
    struct flow_shared_tx tx[FLOW_MAX_SHARED];
    struct flow_intent in;
    uint8_t *cd = NULL;
    size_t len = 0, m = 0;
    uint64_t nonce = 0, gas = FLOW_GAS_PROVE;
    int64_t id = 0;
    int rc, exists = 0;

    *created = 0;
    rc = flow_cd_prove(p->height, p->account, p->account_len, p->account_nodes,
                       p->account_nodes_len, &cd, &len, err);
    if (rc == MR_OK && !pipelined)
        rc = flow_estimate(ctx, q->on, ctx->facilitator, q->on_gateway, cd, len, &gas, err);
    if (rc == MR_OK)
        rc = flow_pending_nonce(ctx, q->on, ctx->facilitator, &nonce, err);
    if (rc == MR_OK)
        rc = db_exec(conn, "BEGIN", err);
    if (rc != MR_OK) {
        free(cd);
        return FLOW_R_ERROR;
    }
    rc = flow_db_xact_lock(conn, "prove", on_key, q->on_gateway, err);
    if (rc == MR_OK)
        rc = flow_db_shared_txs(conn, on_key, q->on_gateway, "proveGateway", tx, FLOW_MAX_SHARED,
                                &m, err);
    for (size_t i = 0; rc == MR_OK && i < m; i++)
        exists |= !tx[i].failed && tx[i].height == p->height;
    if (rc == MR_OK && !exists)
        rc = proven_by_events(conn, on_key, q->on_gateway, p->height, &exists, err);
    if (rc == MR_OK && !exists) {
        memset(&in, 0, sizeof(in));
        in.chain = q->on;
        in.sender = ctx->facilitator;
        in.to = q->on_gateway;
        in.purpose = "proveGateway";
        in.data = cd;
        in.len = len;
        in.gas = gas;
        in.job_id = q->job_id;
        rc = flow_db_intent(ctx, conn, &in, nonce, &id, &nonce, err);
    }
    if (rc == MR_OK)
        rc = db_exec(conn, "COMMIT", err);
    else
        PQclear(PQexec(conn, "ROLLBACK"));
    free(cd);
    if (rc != MR_OK)
        return FLOW_R_ERROR;
    if (!exists) {
        *created = 1;
        pthread_mutex_lock(&ctx->mu);
        ctx->n_proves++;
        pthread_mutex_unlock(&ctx->mu);
        log_info("flow", LOG_ID(.job = q->job_id, .step = "prove", .chain = on_key,
                                .nonce = nonce, .has_nonce = 1),
                 "recorded proveGateway at height %llu (transaction %lld%s)",
                 (unsigned long long)p->height, (long long)id, pipelined ? ", pipelined" : "");
        if (ctx->kick != NULL)
            ctx->kick(ctx->kick_arg, q->on, ctx->facilitator);
    }
    return FLOW_R_OK;
}

static enum flow_res halt_mismatch(struct flow_ctx *ctx, PGconn *conn,
                                   const struct flow_proof_req *q, uint64_t h,
                                   const uint8_t anchored[32], const uint8_t ours[32],
                                   struct mr_error *err)
{
    char a[67], o[67], subj[80];

    flow_hex(anchored, 32, a);
    flow_hex(ours, 32, o);
    snprintf(subj, sizeof(subj), "%s:%s", ctx->cfg->chains[q->on].key,
             ctx->cfg->chains[q->about].key);
    metrics_proof_rejected(ctx->cfg->chains[q->about].key, "root-mismatch");
    log_error("flow", LOG_ID(.job = q->job_id, .chain = ctx->cfg->chains[q->on].key),
              "the state root of %s at %llu anchored here is %s; our node's header says %s",
              ctx->cfg->chains[q->about].key, (unsigned long long)h, a, o);
    flow_db_alert(conn, "critical", subj,
                  "the state root of %s at %llu anchored on %s is %s; our node's header says %s",
                  ctx->cfg->chains[q->about].key, (unsigned long long)h,
                  ctx->cfg->chains[q->on].key, a, o);
    mr_fail(err, MR_ERR_PROOF, "anchored root of %s at %llu on %s differs from our node's "
            "header: refusing to prove against it", ctx->cfg->chains[q->about].key,
            (unsigned long long)h, ctx->cfg->chains[q->on].key);
    return FLOW_R_HALT;
}

/* Checks candidate k; FLOW_R_OK with res filled when it serves, FLOW_R_WAIT
 * when it does not (try the next), HALT / ERROR.  *unreadable: the ERROR is
 * the node refusing the proof at that height (geth's "missing trie node"
 * for a pruned state, any error answer to eth_getProof) or a proof that
 * does not verify: asking again will not help, a newer height may. */
static enum flow_res check(struct flow_ctx *ctx, PGconn *conn, const struct flow_proof_req *q,
                           const struct cand *k, struct flow_proof_res *res, int *seen_status,
                           int *unreadable, struct mr_error *err)
{
    struct rpc_endpoints *e = flow_rpc(ctx, q->about, err);
    char id[ETHRPC_BLOCK_ID_LEN];
    struct eth_block hdr;
    uint8_t root[32];
    int pipelined = 0, created = 0;
    enum flow_res r;

    if (e == NULL || ethrpc_get_block(e, ethrpc_block_id(k->h, id), &hdr, NULL, err) != MR_OK)
        return FLOW_R_ERROR;
    if (k->anchor_ours && memcmp(k->anchor_root, hdr.state_root, 32) != 0)
        return halt_mismatch(ctx, conn, q, k->h, k->anchor_root, hdr.state_root, err);
    if (!(k->anchor_ours && !k->anchor_mined)) {
        if (flow_anchor_root(ctx, q->on, q->on_anchor, k->h, root, err) != MR_OK)
            return FLOW_R_ERROR;
        static const uint8_t zero[32];
        if (memcmp(root, zero, 32) == 0) {
            /* Not anchored (or evicted from the ring buffer): only a height
             * whose storage root the gateway already holds still serves. */
            if (!k->proven_mined)
                return flow_waitf(err, "height %llu is not anchored on %s",
                                  (unsigned long long)k->h, ctx->cfg->chains[q->on].key);
        } else if (memcmp(root, hdr.state_root, 32) != 0) {
            return halt_mismatch(ctx, conn, q, k->h, root, hdr.state_root, err);
        }
    } else {
        pipelined = 1; /* behind our anchor in flight */
    }
    {
        int rc = flow_fetch_proof(ctx, q->about, q->about_gateway, q->slot, k->h, hdr.state_root,
                                  &res->p, err);
        if (rc != MR_OK) {
            *unreadable = rc == MR_ERR_RPC || rc == MR_ERR_PROOF;
            return FLOW_R_ERROR;
        }
    }
    *seen_status = res->p.status;
    if (!(q->accept & (1u << res->p.status))) {
        flow_proven_free(&res->p);
        return flow_waitf(err, "height %llu shows %s", (unsigned long long)k->h,
                          mosaic_status_name(*seen_status));
    }
    if (k->proving)
        pipelined = 1;
    if (!k->proven_mined && !k->proving) {
        if (k->anchor_ours && !k->anchor_mined && memcmp(k->anchor_sender, ctx->facilitator, 20)) {
            /* The anchor goes from another key: its order against ours is
             * not fixed, so prove only once it is mined. */
            flow_proven_free(&res->p);
            return flow_waitf(err, "waiting for the anchor at %llu to be mined",
                              (unsigned long long)k->h);
        }
        r = prove_ensure(ctx, conn, q, &res->p, pipelined, &created, err);
        if (r != FLOW_R_OK) {
            flow_proven_free(&res->p);
            return r;
        }
        res->proved_now = created;
        pipelined = 1;
    }
    res->pipelined = pipelined;
    return FLOW_R_OK;
}

/* Statuses only move forward: 0 -> 1 -> 2, or 1 -> 3 -> 2 | 4 (§4.1). */
static int reachable(int from, int to)
{
    if (from == to)
        return 1;
    switch (from) {
    case MOSAIC_UNDECLARED: return to > MOSAIC_UNDECLARED;
    case MOSAIC_DECLARED: return to > MOSAIC_DECLARED;
    case MOSAIC_DECLARED_REVOCATION: return to == MOSAIC_PROGRESSED || to == MOSAIC_REVOKED;
    default: return 0;
    }
}

/* Whether a slot that shows `status` can still show an accepted one at a
 * later height. */
static int can_still(unsigned accept, int status)
{
    for (int s = 0; s <= MOSAIC_REVOKED; s++)
        if ((accept & (1u << s)) && reachable(status, s))
            return 1;
    return 0;
}

enum flow_res flow_proof(struct flow_ctx *ctx, PGconn *conn, const struct flow_proof_req *q,
                         struct flow_proof_res *res, struct mr_error *err)
{
    const char *on_key = ctx->cfg->chains[q->on].key, *about_key = ctx->cfg->chains[q->about].key;
    struct cand c[MAX_CANDS];
    struct eth_block fin;
    struct mr_error failed, newest_why;
    size_t n = 0;
    uint64_t anchored = 0, top = 0;
    int seen = -1, created = 0, had_error = 0;
    enum flow_res r;

    memset(res, 0, sizeof(*res));
    mr_error_clear(&newest_why);
    if (gather(ctx, conn, q, c, &n, err) != MR_OK)
        return FLOW_R_ERROR;
    for (size_t i = 0; i < n; i++) {
        int st = -1, unreadable = 0;
        r = check(ctx, conn, q, &c[i], res, &st, &unreadable, err);
        if (r == FLOW_R_ERROR) {
            /* This height cannot be read now: try the others.  One the
             * node refuses to prove (a pruned state: RELIABILITY.md row 26)
             * counts as tried, so that a newer height is anchored rather
             * than this one asked for again. */
            failed = *err;
            had_error = 1;
            if (unreadable) {
                if (i == 0)
                    newest_why = *err;
                top = c[i].h > top ? c[i].h : top;
            }
            continue;
        }
        if (r != FLOW_R_WAIT)
            return r;
        if (i == 0)
            newest_why = *err; /* why the newest height does not serve yet */
        if (st >= 0 && seen < 0)
            seen = st; /* the newest height's status */
        top = c[i].h > top ? c[i].h : top;
    }
    if (!ctx->has_anchorer) {
        if (had_error) {
            *err = failed;
            return FLOW_R_ERROR;
        }
        return flow_waitf(err, "waiting for an anchor of %s at >= %llu on %s", about_key,
                          (unsigned long long)q->min_height, on_key);
    }
    if (flow_final_block(ctx, q->about, &fin, err) != MR_OK)
        return FLOW_R_WAIT;
    if (fin.number < q->min_height || fin.number <= top) {
        if (seen >= 0 && !can_still(q->accept, seen))
            goto never;
        if (n > 0 && fin.number <= top) {
            *err = newest_why;
            return FLOW_R_WAIT;
        }
        return flow_waitf(err, "waiting for %s to finalise a block after %llu", about_key,
                          (unsigned long long)(top > q->min_height ? top : q->min_height));
    }
    {
        int rc = flow_quorum_check(ctx, q->about, &fin, err);
        if (rc == MR_ERR_MISMATCH) {
            flow_db_alert(conn, "critical", about_key, "%s", err->msg);
            return FLOW_R_HALT;
        }
        if (rc != MR_OK)
            return FLOW_R_WAIT;
    }
    /* Anchor only a height that shows what we need. */
    if (flow_fetch_proof(ctx, q->about, q->about_gateway, q->slot, fin.number, fin.state_root,
                         &res->p, err) != MR_OK)
        return FLOW_R_ERROR;
    seen = res->p.status;
    flow_proven_free(&res->p);
    if (!(q->accept & (1u << seen))) {
        if (!can_still(q->accept, seen))
            goto never;
        return flow_waitf(err, "%s's final block %llu shows %s; waiting", about_key,
                          (unsigned long long)fin.number, mosaic_status_name(seen));
    }
    /* Any anchor at or below `top` was tried and does not serve. */
    r = flow_anchor_ensure(ctx, conn, q->on, q->about, q->on_anchor,
                           top >= q->min_height ? top + 1 : q->min_height, fin.number,
                           fin.state_root, q->job_id, &anchored, &created, err);
    if (r != FLOW_R_OK)
        return r;
    res->anchored_now = created;
    /* Check the height that now serves (ours, or a newer one). */
    if (gather(ctx, conn, q, c, &n, err) != MR_OK)
        return FLOW_R_ERROR;
    for (size_t i = 0; i < n; i++) {
        int st = -1, unreadable = 0;
        if (c[i].h != anchored)
            continue;
        r = check(ctx, conn, q, &c[i], res, &st, &unreadable, err);
        res->anchored_now = created;
        return r;
    }
    return flow_waitf(err, "waiting for the anchor at %llu", (unsigned long long)anchored);
never:
    mr_fail(err, MR_ERR_PROOF, "no anchored height of %s on %s shows the status needed (it is "
            "%s now) and no later one can", about_key, on_key, mosaic_status_name(seen));
    return FLOW_R_HALT;
}

enum flow_res flow_anchor_ensure(struct flow_ctx *ctx, PGconn *conn, int on, int about,
                                 const uint8_t anchor[20], uint64_t need, uint64_t height,
                                 const uint8_t root[32], int64_t job_id, uint64_t *anchored,
                                 int *created, struct mr_error *err)
{
    const char *on_key = ctx->cfg->chains[on].key;
    struct flow_shared_tx tx[FLOW_MAX_SHARED];
    struct flow_intent in;
    uint8_t cd[68];
    size_t m = 0;
    uint64_t latest = 0, best = 0, nonce = 0, gas = FLOW_GAS_ANCHOR;
    int64_t id = 0;
    int rc, inflight = 0;

    (void)about;
    *created = 0;
    if (!ctx->has_anchorer)
        return flow_waitf(err, "no anchor key");
    if (height == 0) {
        mr_fail(err, MR_ERR_INVALID, "never anchor height 0");
        return FLOW_R_ERROR;
    }
    rc = flow_anchor_latest(ctx, on, anchor, &latest, err);
    if (rc == MR_OK)
        rc = flow_db_shared_txs(conn, on_key, anchor, "anchorStateRoot", tx, FLOW_MAX_SHARED, &m,
                                err);
    for (size_t i = 0; rc == MR_OK && i < m; i++) {
        if (tx[i].failed)
            continue;
        best = tx[i].height > best ? tx[i].height : best;
        inflight |= !tx[i].mined;
    }
    if (rc != MR_OK)
        return FLOW_R_ERROR;
    if (need == 0 || need > height)
        need = height;
    if (latest >= need || best >= need) {
        *anchored = latest > best ? latest : best;
        return FLOW_R_OK;
    }
    flow_cd_anchor(height, root, cd);
    /* The first of a pipeline can be dry-run (the organization check and
     * the height order); behind our own anchor in flight it cannot. */
    if (!inflight && flow_estimate(ctx, on, ctx->anchorer, anchor, cd, sizeof(cd), &gas, err) !=
                         MR_OK) {
        mr_error_prefix(err, 0, "anchorStateRoot(%llu) on %s would fail: ",
                        (unsigned long long)height, on_key);
        return FLOW_R_ERROR;
    }
    if (flow_pending_nonce(ctx, on, ctx->anchorer, &nonce, err) != MR_OK ||
        db_exec(conn, "BEGIN", err) != MR_OK)
        return FLOW_R_ERROR;
    rc = flow_db_xact_lock(conn, "anchor", on_key, anchor, err);
    if (rc == MR_OK)
        rc = flow_db_shared_txs(conn, on_key, anchor, "anchorStateRoot", tx, FLOW_MAX_SHARED, &m,
                                err);
    best = 0;
    for (size_t i = 0; rc == MR_OK && i < m; i++)
        if (!tx[i].failed && tx[i].height > best)
            best = tx[i].height;
    if (rc == MR_OK && best < need) {
        memset(&in, 0, sizeof(in));
        in.chain = on;
        in.sender = ctx->anchorer;
        in.to = anchor;
        in.purpose = "anchorStateRoot";
        in.data = cd;
        in.len = sizeof(cd);
        in.gas = gas;
        in.job_id = job_id;
        rc = flow_db_intent(ctx, conn, &in, nonce, &id, &nonce, err);
    }
    if (rc == MR_OK)
        rc = db_exec(conn, "COMMIT", err);
    else
        PQclear(PQexec(conn, "ROLLBACK"));
    if (rc != MR_OK)
        return FLOW_R_ERROR;
    if (best >= need) {
        *anchored = best;
        return FLOW_R_OK;
    }
    *anchored = height;
    *created = 1;
    pthread_mutex_lock(&ctx->mu);
    ctx->n_anchors++;
    pthread_mutex_unlock(&ctx->mu);
    log_info("flow", LOG_ID(.job = job_id, .flow = "anchor", .chain = on_key, .nonce = nonce,
                            .has_nonce = 1),
             "recorded anchorStateRoot of %s at height %llu (transaction %lld)",
             ctx->cfg->chains[about].key, (unsigned long long)height, (long long)id);
    if (ctx->kick != NULL)
        ctx->kick(ctx->kick_arg, on, ctx->anchorer);
    return FLOW_R_OK;
}
