/*
 * msg.c - the `msg` job: one run advances one message as far as it can
 * without waiting for a chain (see flows.h for the sequence).
 *
 * Transactions of a run: each step recorded is one database transaction
 * (the message row locked, the intent with its nonce, the message_txs row,
 * the message's state); shared calls (anchor, proveGateway) are one each;
 * the last one completes the job and schedules the next run.  A crash
 * between them leaves the job running; the reaper gives it back, and the
 * next run finds the recorded steps in flight and records nothing twice.
 */
#include "relayer/flows/flows_int.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "db/breaker.h"
#include "db/db.h"
#include "db/queue.h"
#include "eth/hex.h"
#include "eth/keccak.h"

struct run {
    struct flow_ctx *ctx;
    PGconn *conn;
    const struct queue_job *job;
    struct flow_message m;
    char mh_hex[67];
    const struct config_gateway *gw;
    int src, tgt;                          /* chain indices */
    const uint8_t *src_gw, *tgt_gw, *src_anchor, *tgt_anchor;
    char state[16];
    uint64_t declared_block;
    int64_t confirmed_block;               /* -1: unknown */
    int64_t src_done_block, tgt_done_block;
    int64_t anchor_height;                 /* the height the confirm used (this run), -1 */
    int has_secret;
    uint8_t secret[32];
    struct flow_facts f;
    int waits;
    int sent;
    int started;                           /* relay_started_at set, or a call of ours recorded */
    const char *wait_state;
};

/* Short form for logs: the first 8 bytes. */
static const char *short_mh(const struct run *r)
{
    static _Thread_local char s[20];

    memcpy(s, r->mh_hex, 18);
    s[18] = '\0';
    return s;
}

static const char *flow_name(const struct run *r)
{
    return r->m.kind == MOSAIC_REDEEM ? "redeem" : "stake";
}

/* The message entered `state` (recorded): counted once per change. */
static void entered(struct run *r, const char *state)
{
    if (strcmp(r->state, state) == 0)
        return;
    snprintf(r->state, sizeof(r->state), "%s", state);
    metrics_message_transition(flow_name(r), state);
}

/* ------------------------------------------------------------ loading -- */

static int parse_args(struct run *r, struct mr_error *err)
{
    json_error_t je;
    json_t *a = json_loads(r->job->args != NULL ? r->job->args : "{}", 0, &je), *v;
    const char *s;
    int rc = MR_OK;

    if (a == NULL || !json_is_object(a)) {
        json_decref(a);
        return mr_fail(err, MR_ERR_JSON, "job args are not a JSON object");
    }
    v = json_object_get(a, "message_hash");
    s = json_is_string(v) ? json_string_value(v) : NULL;
    if (s == NULL || hex_decode_fixed(s, strlen(s), r->m.hash, 32, NULL) != MR_OK)
        rc = mr_fail(err, MR_ERR_INVALID, "job args: message_hash is not 0x + 64 hex digits");
    v = json_object_get(a, "waits");
    r->waits = json_is_integer(v) && json_integer_value(v) >= 0 && json_integer_value(v) < 64
                   ? (int)json_integer_value(v)
                   : 0;
    json_decref(a);
    if (rc == MR_OK)
        flow_hex(r->m.hash, 32, r->mh_hex);
    return rc;
}

static int u256_col(PGresult *res, int col, struct u256 *out)
{
    const char *s = PQgetvalue(res, 0, col);
    return u256_parse_dec(out, s, strlen(s), 1, NULL);
}

static int chain_of(const struct config *cfg, const char *key)
{
    for (size_t i = 0; i < cfg->n_chains; i++)
        if (strcmp(cfg->chains[i].key, key) == 0)
            return (int)i;
    return -1;
}

/* Reads the row.  MR_ERR_NOTFOUND: no such message.  MR_ERR_INVALID: the
 * row is inconsistent with itself or with the config (err says how). */
static int load(struct run *r, struct mr_error *err)
{
    const struct config *cfg = r->ctx->cfg;
    char mh[67];
    const char *p[1] = {mh};
    PGresult *res;
    const char *flow, *pair;
    int rc;

    flow_bytea_text(r->m.hash, 32, mh);
    res = PQexecParams(r->conn,
                       "SELECT flow, gateway_pair, source_chain, target_chain, intent_hash, sender,"
                       " nonce, beneficiary, amount, gas_price, gas_limit, hashlock, state,"
                       " declared_block, coalesce(confirmed_block, -1), relay_started_at IS NOT NULL"
                       " FROM " DB_SCHEMA ".messages WHERE message_hash = $1::bytea",
                       1, NULL, p, NULL, NULL, 0);
    rc = db_check(res, PGRES_TUPLES_OK, "reading the message", err);
    if (rc == MR_OK && PQntuples(res) != 1)
        rc = mr_fail(err, MR_ERR_NOTFOUND, "no message %s", r->mh_hex);
    if (rc != MR_OK) {
        PQclear(res);
        return rc;
    }
    flow = PQgetvalue(res, 0, 0);
    pair = PQgetvalue(res, 0, 1);
    r->m.kind = strcmp(flow, "redeem") == 0 ? MOSAIC_REDEEM : MOSAIC_STAKE;
    snprintf(r->state, sizeof(r->state), "%s", PQgetvalue(res, 0, 12));
    r->declared_block = (uint64_t)strtoll(PQgetvalue(res, 0, 13), NULL, 10);
    r->confirmed_block = strtoll(PQgetvalue(res, 0, 14), NULL, 10);
    r->started = PQgetvalue(res, 0, 15)[0] == 't';
    if (flow_bytea_parse(PQgetvalue(res, 0, 4), r->m.intent_hash, 32) ||
        flow_bytea_parse(PQgetvalue(res, 0, 5), r->m.sender, 20) ||
        flow_bytea_parse(PQgetvalue(res, 0, 7), r->m.beneficiary, 20) ||
        flow_bytea_parse(PQgetvalue(res, 0, 11), r->m.hashlock, 32) || u256_col(res, 6, &r->m.nonce) ||
        u256_col(res, 8, &r->m.amount) || u256_col(res, 9, &r->m.gas_price) ||
        u256_col(res, 10, &r->m.gas_limit))
        rc = mr_fail(err, MR_ERR_INVALID, "message %s: malformed row", r->mh_hex);
    r->gw = NULL;
    for (size_t i = 0; rc == MR_OK && i < cfg->n_gateways; i++)
        if (strcmp(cfg->gateways[i].name, pair) == 0)
            r->gw = &cfg->gateways[i];
    if (rc == MR_OK && r->gw == NULL)
        rc = mr_fail(err, MR_ERR_INVALID, "gateway pair '%s' is not in the config", pair);
    if (rc == MR_OK) {
        const struct config_gateway_side *s = r->m.kind == MOSAIC_STAKE ? &r->gw->origin
                                                                          : &r->gw->auxiliary;
        const struct config_gateway_side *t = r->m.kind == MOSAIC_STAKE ? &r->gw->auxiliary
                                                                          : &r->gw->origin;
        r->src = s->chain;
        r->tgt = t->chain;
        r->src_gw = s->gateway;
        r->tgt_gw = t->gateway;
        r->src_anchor = s->anchor;
        r->tgt_anchor = t->anchor;
        if (chain_of(cfg, PQgetvalue(res, 0, 2)) != r->src ||
            chain_of(cfg, PQgetvalue(res, 0, 3)) != r->tgt)
            rc = mr_fail(err, MR_ERR_INVALID, "the row's chains are not those of pair '%s'", pair);
    }
    PQclear(res);
    if (rc == MR_OK)
        rc = flow_message_check(&r->m, r->m.kind == MOSAIC_STAKE ? r->gw->origin.gateway
                                                                  : r->gw->auxiliary.gateway,
                                err);
    return rc;
}

static int load_secret(struct run *r, struct mr_error *err)
{
    char mh[67];
    const char *p[1] = {mh};
    PGresult *res;
    uint8_t h[32];
    int rc;

    flow_bytea_text(r->m.hash, 32, mh);
    res = PQexecParams(r->conn,
                       "SELECT secret FROM " DB_SCHEMA ".unlock_secrets WHERE message_hash = "
                       "$1::bytea",
                       1, NULL, p, NULL, NULL, 0);
    rc = db_check(res, PGRES_TUPLES_OK, "reading the secret", err);
    if (rc == MR_OK && PQntuples(res) == 1 &&
        flow_bytea_parse(PQgetvalue(res, 0, 0), r->secret, 32) == MR_OK) {
        mosaic_hashlock(r->secret, h);
        if (memcmp(h, r->m.hashlock, 32) == 0)
            r->has_secret = 1;
        else
            flow_db_alert(r->conn, "warning", r->mh_hex,
                          "the stored unlock secret does not match the hashlock; ignored");
    }
    PQclear(res);
    if (!r->has_secret)
        mr_wipe(r->secret, sizeof(r->secret));
    return rc;
}

/* Our transactions for this message: in flight, reverted, where mined. */
static int load_steps(struct run *r, struct mr_error *err)
{
    char mh[67];
    const char *p[1] = {mh};
    PGresult *res;
    int rc;

    flow_bytea_text(r->m.hash, 32, mh);
    res = PQexecParams(r->conn,
                       "SELECT mt.step, t.state, coalesce(t.receipt_status, -1),"
                       " coalesce(t.included_block, -1)"
                       " FROM " DB_SCHEMA ".message_txs mt JOIN " DB_SCHEMA ".transactions t"
                       " ON t.id = mt.tx_id WHERE mt.message_hash = $1::bytea",
                       1, NULL, p, NULL, NULL, 0);
    rc = db_check(res, PGRES_TUPLES_OK, "reading the message's transactions", err);
    if (rc == MR_OK && PQntuples(res) > 0)
        r->started = 1;
    for (int i = 0; rc == MR_OK && i < PQntuples(res); i++) {
        int s = flow_step_parse(PQgetvalue(res, i, 0));
        const char *st = PQgetvalue(res, i, 1);
        int receipt = atoi(PQgetvalue(res, i, 2));
        int64_t block = strtoll(PQgetvalue(res, i, 3), NULL, 10);
        if (s < 0)
            continue;
        if (strcmp(st, "intent") == 0 || strcmp(st, "signed") == 0 ||
            strcmp(st, "broadcast") == 0) {
            r->f.inflight |= 1u << s;
        } else if (receipt == 0 || strcmp(st, "failed") == 0) {
            r->f.failed[s]++;
        } else if (receipt == 1 && block >= 0) {
            /* Mined but not final: a reorg may take it out, and the sender
             * then sends it again.  In flight until final, so that the head
             * losing its effect does not make us record the step twice
             * (RELIABILITY.md row 2). */
            if (strcmp(st, "included") == 0)
                r->f.inflight |= 1u << s;
            if (s == FLOW_CONFIRM)
                r->confirmed_block = block;
            else if (flow_step_on_target((enum flow_step)s))
                r->tgt_done_block = block;
            else
                r->src_done_block = block;
        }
    }
    PQclear(res);
    return rc;
}

/* The secret from a ...Progressed event of either side, if someone
 * revealed it (a progress by proof carries zero). */
static int learn_secret(struct run *r, int on_target, struct mr_error *err)
{
    static const char *sigs[2][2] = {
        {"StakeProgressed(bytes32,address,uint256,uint256,bool,bytes32)",
         "MintProgressed(bytes32,address,address,uint256,uint256,uint256,bool,bytes32)"},
        {"RedeemProgressed(bytes32,address,uint256,uint256,bool,bytes32)",
         "UnstakeProgressed(bytes32,address,address,uint256,uint256,uint256,bool,bytes32)"}};
    int chain = on_target ? r->tgt : r->src;
    struct rpc_endpoints *e = flow_rpc(r->ctx, chain, err);
    uint8_t topic[1][32], mh[1][32], addr[1][20], h[32];
    struct eth_log_filter flt;
    struct eth_logs logs = {0};
    uint64_t head = 0, from;
    int rc;

    if (e == NULL)
        return MR_ERR_INVALID;
    keccak256(sigs[r->m.kind == MOSAIC_REDEEM][on_target],
              strlen(sigs[r->m.kind == MOSAIC_REDEEM][on_target]), topic[0]);
    memcpy(mh[0], r->m.hash, 32);
    memcpy(addr[0], on_target ? r->tgt_gw : r->src_gw, 20);
    rc = ethrpc_block_number(e, &head, NULL, err);
    if (rc != MR_OK)
        return rc;
    if (!on_target)
        from = r->declared_block;
    else if (r->confirmed_block >= 0)
        from = (uint64_t)r->confirmed_block;
    else
        from = head > 50000 ? head - 50000 : 0;
    memset(&flt, 0, sizeof(flt));
    flt.from_block = from;
    flt.to_block = head;
    flt.addresses = (const uint8_t(*)[20])addr;
    flt.n_addresses = 1;
    flt.n_topics = 2;
    flt.topics[0] = (const uint8_t(*)[32])topic;
    flt.n_alts[0] = 1;
    flt.topics[1] = (const uint8_t(*)[32])mh;
    flt.n_alts[1] = 1;
    flt.max_logs = 16;
    rc = ethrpc_get_logs(e, &flt, &logs, NULL, err);
    for (size_t i = 0; rc == MR_OK && i < logs.n && !r->has_secret; i++) {
        const struct eth_log *l = &logs.v[i];
        if (l->removed || l->data_len < 64 || l->data_len % 32 != 0)
            continue;
        memcpy(r->secret, l->data + l->data_len - 32, 32);
        mosaic_hashlock(r->secret, h);
        if (memcmp(h, r->m.hashlock, 32) == 0)
            r->has_secret = 1;
    }
    ethrpc_logs_free(&logs);
    if (!r->has_secret) {
        mr_wipe(r->secret, sizeof(r->secret));
        return rc;
    }
    {
        /* It is public now; keep it so that the next runs need no scan. */
        char mt[67], hl[67], sc[67];
        const char *p[3] = {mt, hl, sc};
        flow_bytea_text(r->m.hash, 32, mt);
        flow_bytea_text(r->m.hashlock, 32, hl);
        flow_bytea_text(r->secret, 32, sc);
        PQclear(PQexecParams(r->conn,
                             "INSERT INTO " DB_SCHEMA ".unlock_secrets (message_hash, hashlock,"
                             " secret, revealed_at) VALUES ($1::bytea, $2::bytea, $3::bytea, now())"
                             " ON CONFLICT DO NOTHING",
                             3, NULL, p, NULL, NULL, 0));
        mr_wipe(sc, sizeof(sc));
        log_info("flow", LOG_ID(.job = r->job->id, .flow = flow_name(r), .msg_hash = r->m.hash,
                                .chain = r->ctx->cfg->chains[chain].key),
                 "learned the revealed secret from the chain");
    }
    return MR_OK;
}

/* Whether the target would refuse to confirm this message now because the
 * sender's previous message is not finished there (§4.1): the target's
 * inbox process of the sender must be the message with nonce - 1, and
 * Progressed or Revoked; with none, the nonce must be the first one (0, or
 * 1 on 0.10.0).  Read on chain: the previous message may not be ours. */
static int prev_pending(struct run *r, int *pending, struct mr_error *err)
{
    uint8_t cd[36] = {0}, *out = NULL, prev[32], zero[32] = {0};
    struct rpc_endpoints *e = flow_rpc(r->ctx, r->tgt, err);
    struct u256 one, want, pn;
    size_t len = 0;
    int rc, off = 0, st;

    *pending = 0;
    if (e == NULL)
        return MR_ERR_INVALID;
    rc = flow_box_offset(r->ctx, r->tgt, r->tgt_gw, &off, err);
    if (rc != MR_OK)
        return rc;
    flow_selector("getInboxActiveProcess(address)", cd);
    memcpy(cd + 4 + 12, r->m.sender, 20);
    rc = ethrpc_call(e, NULL, r->tgt_gw, cd, sizeof(cd), "latest", &out, &len, NULL, err);
    if (rc == MR_OK && len < 64)
        rc = mr_fail(err, MR_ERR_JSON, "getInboxActiveProcess answered %zu bytes", len);
    if (rc == MR_OK) {
        memcpy(prev, out, 32);
        st = out[63];
    }
    free(out);
    if (rc != MR_OK)
        return mr_error_prefix(err, rc, "reading the sender's inbox process: ");
    if (memcmp(prev, zero, 32) == 0) {
        u256_from_u64(&want, off == MOSAIC_MESSAGE_BOX_OFFSET_V010 ? 1 : 0);
        *pending = u256_cmp(&r->m.nonce, &want) != 0;
        return MR_OK;
    }
    if (memcmp(prev, r->m.hash, 32) == 0)
        return MR_OK; /* this message is the sender's process: confirmed already */
    if (st != MOSAIC_PROGRESSED && st != MOSAIC_REVOKED) {
        *pending = 1;
        return MR_OK;
    }
    /* Finished; but is it the one just before this one? */
    flow_selector("messages(bytes32)", cd);
    memcpy(cd + 4, prev, 32);
    out = NULL;
    rc = ethrpc_call(e, NULL, r->tgt_gw, cd, sizeof(cd), "latest", &out, &len, NULL, err);
    if (rc == MR_OK && len < 64)
        rc = mr_fail(err, MR_ERR_JSON, "messages() answered %zu bytes", len);
    if (rc == MR_OK && u256_from_be(&pn, out + 32, 32) != MR_OK)
        rc = mr_fail(err, MR_ERR_JSON, "messages(): bad nonce");
    free(out);
    if (rc != MR_OK)
        return mr_error_prefix(err, rc, "reading the previous message: ");
    u256_from_u64(&one, 1);
    if (u256_add(&want, &pn, &one) != MR_OK || u256_cmp(&want, &r->m.nonce) != 0)
        *pending = 1;
    return MR_OK;
}

/* Statuses at the head, and at the final blocks when the head looks done. */
static int read_statuses(struct run *r, struct mr_error *err)
{
    struct eth_block fb;
    char id[ETHRPC_BLOCK_ID_LEN];
    int rc, done;

    r->f.src_final = r->f.tgt_final = -1;
    rc = flow_read_status(r->ctx, r->src, r->src_gw, 0, r->m.hash, "latest", &r->f.src_latest, err);
    if (rc == MR_OK)
        rc = flow_read_status(r->ctx, r->tgt, r->tgt_gw, 1, r->m.hash, "latest", &r->f.tgt_latest,
                              err);
    if (rc != MR_OK)
        return rc;
    done = (r->f.src_latest == MOSAIC_PROGRESSED && r->f.tgt_latest == MOSAIC_PROGRESSED) ||
           (r->f.src_latest == MOSAIC_REVOKED && r->f.tgt_latest == MOSAIC_REVOKED);
    if (!done)
        return MR_OK;
    /* Recorded as done only at the final blocks (a reorg may undo the head). */
    rc = flow_final_block(r->ctx, r->src, &fb, err);
    if (rc == MR_OK)
        rc = flow_read_status(r->ctx, r->src, r->src_gw, 0, r->m.hash,
                              ethrpc_block_id(fb.number, id), &r->f.src_final, err);
    if (rc == MR_OK)
        rc = flow_final_block(r->ctx, r->tgt, &fb, err);
    if (rc == MR_OK)
        rc = flow_read_status(r->ctx, r->tgt, r->tgt_gw, 1, r->m.hash,
                              ethrpc_block_id(fb.number, id), &r->f.tgt_final, err);
    if (rc == MR_ERR_NOTFOUND) { /* nothing final yet */
        r->f.src_final = r->f.tgt_final = -1;
        rc = MR_OK;
    }
    return rc;
}

/* ------------------------------------------------------------- steps -- */

/* The proof a step needs; 0 if it needs none. */
static int proof_req(struct run *r, enum flow_step s, struct flow_proof_req *q,
                     struct mr_error *err)
{
    int on_target = flow_step_on_target(s), off = 0, rc;

    memset(q, 0, sizeof(*q));
    if (s == FLOW_PROGRESS_SOURCE || s == FLOW_PROGRESS_TARGET)
        return 0;
    q->job_id = r->job->id;
    if (on_target) {
        /* A proof of the source outbox, anchored on the target. */
        q->on = r->tgt;
        q->about = r->src;
        q->on_gateway = r->tgt_gw;
        q->on_anchor = r->tgt_anchor;
        q->about_gateway = r->src_gw;
        q->min_height = r->declared_block > 0 ? r->declared_block : 1;
        rc = flow_box_offset(r->ctx, r->src, r->src_gw, &off, err);
        if (rc != MR_OK)
            return rc;
        mosaic_outbox_slot(r->m.hash, (uint64_t)off, q->slot);
        if (s == FLOW_CONFIRM) { /* fetched along with the others waiting */
            q->pair = r->gw->name;
            q->mh = r->m.hash;
            q->box_offset = off;
        }
        q->accept = s == FLOW_CONFIRM ? 1u << MOSAIC_DECLARED
                    : s == FLOW_CONFIRM_REVERT
                        ? 1u << MOSAIC_DECLARED_REVOCATION
                        : (1u << MOSAIC_DECLARED) | (1u << MOSAIC_PROGRESSED);
    } else {
        /* A proof of the target inbox, anchored on the source. */
        q->on = r->src;
        q->about = r->tgt;
        q->on_gateway = r->src_gw;
        q->on_anchor = r->src_anchor;
        q->about_gateway = r->tgt_gw;
        q->min_height = r->confirmed_block > 0 ? (uint64_t)r->confirmed_block : 1;
        rc = flow_box_offset(r->ctx, r->tgt, r->tgt_gw, &off, err);
        if (rc != MR_OK)
            return rc;
        mosaic_inbox_slot(r->m.hash, (uint64_t)off, q->slot);
        if (s == FLOW_PROGRESS_REVERT)
            q->accept = 1u << MOSAIC_REVOKED;
        else if (r->f.src_latest == MOSAIC_DECLARED_REVOCATION)
            q->accept = 1u << MOSAIC_PROGRESSED;
        else
            q->accept = (1u << MOSAIC_DECLARED) | (1u << MOSAIC_PROGRESSED);
    }
    return 1;
}

static int calldata(struct run *r, enum flow_step s, const struct flow_proven *p, uint8_t **cd,
                    size_t *len, struct mr_error *err)
{
    int t = flow_step_on_target(s);

    switch (s) {
    case FLOW_CONFIRM:
        return flow_cd_confirm(&r->m, p->height, p->storage_nodes, p->storage_nodes_len, cd, len,
                               err);
    case FLOW_PROGRESS_SOURCE:
    case FLOW_PROGRESS_TARGET:
        return flow_cd_progress_secret(r->m.kind, t, r->m.hash, r->secret, cd, len, err);
    case FLOW_PROGRESS_SOURCE_PROOF:
    case FLOW_PROGRESS_TARGET_PROOF:
        return flow_cd_progress_proof(r->m.kind, t, r->m.hash, p->storage_nodes,
                                      p->storage_nodes_len, p->height, p->status, cd, len, err);
    case FLOW_CONFIRM_REVERT:
    case FLOW_PROGRESS_REVERT:
        return flow_cd_revert(r->m.kind, t, r->m.hash, p->height, p->storage_nodes,
                              p->storage_nodes_len, cd, len, err);
    default:
        return mr_fail(err, MR_ERR_INVALID, "unknown step");
    }
}

/* Records the step's intent with its message_txs row and the message's
 * state, in one transaction.  *skipped when the row turned terminal.
 *
 * The nonce allocation (the key's allocator row stays locked until the
 * end) comes last, so that the lock is held for two statements, and the
 * commit does not wait for the WAL flush (FLOW_INTENT_BEGIN): the other
 * workers' intents of the key queue behind that lock.  Nothing leaves the
 * process on the strength of this commit: the sender signs the intent
 * only once it sees it committed, and records the signed attempt with a
 * synchronous commit before it broadcasts; that flush covers every WAL
 * record before it, this commit's included.  A crash that loses this
 * transaction loses the nonce with it (no gap) and the job is run again. */
static int record(struct run *r, enum flow_step s, int chain, const uint8_t *to,
                  const uint8_t *cd, size_t len, uint64_t gas, uint64_t *nonce, uint64_t height,
                  int64_t *tx_id, int *skipped, struct mr_error *err)
{
    const char *state = s == FLOW_CONFIRM ? "confirming"
                        : (s == FLOW_CONFIRM_REVERT || s == FLOW_PROGRESS_REVERT) ? "reverting"
                                                                                   : "progressing";
    char mh[67], tx[24], hs[24];
    const char *p[4];
    struct flow_intent in;
    PGresult *res;
    int rc;

    *skipped = 0;
    flow_bytea_text(r->m.hash, 32, mh);
    rc = db_exec(r->conn, FLOW_INTENT_BEGIN, err);
    if (rc != MR_OK)
        return rc;
    p[0] = mh;
    res = PQexecParams(r->conn,
                       "SELECT state FROM " DB_SCHEMA ".messages WHERE message_hash = $1::bytea"
                       " FOR UPDATE",
                       1, NULL, p, NULL, NULL, 0);
    rc = db_check(res, PGRES_TUPLES_OK, "locking the message", err);
    if (rc == MR_OK && (PQntuples(res) != 1 || strcmp(PQgetvalue(res, 0, 0), "completed") == 0 ||
                        strcmp(PQgetvalue(res, 0, 0), "reverted") == 0 ||
                        strcmp(PQgetvalue(res, 0, 0), "halted") == 0))
        *skipped = 1;
    PQclear(res);
    snprintf(hs, sizeof(hs), "%llu", (unsigned long long)height);
    if (rc == MR_OK && !*skipped) {
        p[1] = state;
        p[2] = s == FLOW_CONFIRM ? hs : NULL;
        res = PQexecParams(r->conn,
                           "UPDATE " DB_SCHEMA ".messages SET state = $2, anchor_height ="
                           " coalesce($3::bigint, anchor_height), updated_at = now()"
                           " WHERE message_hash = $1::bytea",
                           3, NULL, p, NULL, NULL, 0);
        rc = db_check(res, PGRES_COMMAND_OK, "updating the message", err);
        PQclear(res);
    }
    if (rc == MR_OK && !*skipped) {
        memset(&in, 0, sizeof(in));
        in.chain = chain;
        in.sender = r->ctx->facilitator;
        in.to = to;
        in.purpose = flow_step_function(r->m.kind, s);
        in.data = cd;
        in.len = len;
        in.gas = gas;
        in.job_id = r->job->id;
        rc = flow_db_intent(r->ctx, r->conn, &in, *nonce, tx_id, nonce, err);
    }
    if (rc == MR_OK && !*skipped) {
        snprintf(tx, sizeof(tx), "%lld", (long long)*tx_id);
        p[1] = tx;
        p[2] = flow_step_name(s);
        p[3] = height > 0 ? hs : NULL;
        res = PQexecParams(r->conn,
                           "INSERT INTO " DB_SCHEMA ".message_txs (message_hash, tx_id, step, height)"
                           " VALUES ($1::bytea, $2::bigint, $3, $4::bigint)",
                           4, NULL, p, NULL, NULL, 0);
        rc = db_check(res, PGRES_COMMAND_OK, "recording the step", err);
        PQclear(res);
    }
    if (rc == MR_OK)
        rc = db_exec(r->conn, "COMMIT", err);
    else
        PQclear(PQexec(r->conn, "ROLLBACK"));
    if (rc == MR_OK && !*skipped)
        entered(r, state);
    return rc;
}

/* Records one step.  FLOW_R_OK: recorded (or nothing to do any more). */
static enum flow_res do_step(struct run *r, enum flow_step s, struct mr_error *err)
{
    struct flow_ctx *ctx = r->ctx;
    struct flow_proof_req q;
    struct flow_proof_res pr;
    int on_target = flow_step_on_target(s), chain = on_target ? r->tgt : r->src, need, skipped = 0;
    const uint8_t *to = on_target ? r->tgt_gw : r->src_gw;
    uint8_t *cd = NULL;
    size_t len = 0;
    uint64_t gas = flow_step_gas_bound(s), nonce = 0;
    int64_t tx_id = 0;
    int pipelined = 0;
    enum flow_res res = FLOW_R_OK;

    memset(&pr, 0, sizeof(pr));
    need = proof_req(r, s, &q, err);
    if (need < 0)
        return FLOW_R_ERROR;
    if (need) {
        res = flow_proof(ctx, r->conn, &q, &pr, err);
        if (res == FLOW_R_WAIT && r->wait_state == NULL)
            r->wait_state = "anchoring";
        if (res != FLOW_R_OK)
            return res;
        pipelined = pr.pipelined;
    } else if (!r->has_secret) {
        mr_fail(err, MR_ERR_INVALID, "no secret for %s", flow_step_function(r->m.kind, s));
        return FLOW_R_ERROR;
    }
    /* Behind one of our own calls on this chain not mined yet: the call
     * cannot be dry-run or estimated, it gets its bound. */
    for (int i = 0; i < FLOW_STEP_COUNT; i++)
        if ((r->f.inflight & (1u << i)) && flow_step_on_target((enum flow_step)i) == on_target)
            pipelined = 1;
    /* A call whose success depends on other messages' calls is not sent
     * unchecked: it waits for our call before it to be mined. */
    if (pipelined && flow_step_needs_dry_run(r->m.kind, s)) {
        flow_proven_free(&pr.p);
        mr_fail(err, MR_ERR_INVALID, "%s waits for our call before it to be mined (dry run)",
                flow_step_function(r->m.kind, s));
        if (r->wait_state == NULL)
            r->wait_state = "progressing";
        return FLOW_R_WAIT;
    }
    if (calldata(r, s, &pr.p, &cd, &len, err) != MR_OK) {
        flow_proven_free(&pr.p);
        return FLOW_R_ERROR;
    }
    if (!pipelined && flow_estimate(ctx, chain, ctx->facilitator, to, cd, len, &gas, err) != MR_OK) {
        /* The dry run reverts: send nothing (RELIABILITY.md row 15); the
         * next run reads the statuses again. */
        mr_error_prefix(err, 0, "%s would fail: ", flow_step_function(r->m.kind, s));
        res = FLOW_R_ERROR;
    }
    if (res == FLOW_R_OK && flow_pending_nonce(ctx, chain, ctx->facilitator, &nonce, err) != MR_OK)
        res = FLOW_R_ERROR;
    if (res == FLOW_R_OK &&
        record(r, s, chain, to, cd, len, gas, &nonce, need ? pr.p.height : 0, &tx_id, &skipped,
               err) != MR_OK)
        res = FLOW_R_ERROR;
    mr_wipe(cd, len); /* progress calls carry the secret */
    free(cd);
    if (res == FLOW_R_OK && !skipped) {
        r->f.inflight |= 1u << s;
        r->sent++;
        if (s == FLOW_CONFIRM)
            r->anchor_height = (int64_t)pr.p.height;
        pthread_mutex_lock(&ctx->mu);
        ctx->n_calls++;
        pthread_mutex_unlock(&ctx->mu);
        if (log_enabled(LOGL_INFO)) {
            char at[48] = "";
            if (need)
                snprintf(at, sizeof(at), ", proof at height %llu",
                         (unsigned long long)pr.p.height);
            log_write(LOGL_INFO, "flow",
                      LOG_ID(.job = r->job->id, .flow = flow_name(r), .step = flow_step_name(s),
                             .msg_hash = r->m.hash, .chain = ctx->cfg->chains[chain].key,
                             .nonce = nonce, .has_nonce = 1),
                      "recorded %s (transaction %lld%s%s)", flow_step_function(r->m.kind, s),
                      (long long)tx_id, at, pipelined ? ", pipelined" : "");
        }
        if (ctx->kick != NULL)
            ctx->kick(ctx->kick_arg, chain, ctx->facilitator);
    }
    flow_proven_free(&pr.p);
    return res;
}

/* ------------------------------------------------------------ finish -- */

/* Records the run's outcome and completes the job, scheduling the next
 * run unless the message is finished or halted, in one transaction. */
static enum queue_outcome finish(struct run *r, enum flow_verdict_kind what, const char *state,
                                 const char *why, char *errmsg, size_t errcap)
{
    struct mr_error err;
    char mh[67], ss[8], ts[8], cb[24], sd[24], td[24], ah[24];
    const char *p[9];
    PGresult *res;
    int rc, changed = 0;

    mr_error_clear(&err);
    flow_bytea_text(r->m.hash, 32, mh);
    snprintf(ss, sizeof(ss), "%d", what == FLOW_DONE ? r->f.src_final : -1);
    snprintf(ts, sizeof(ts), "%d", what == FLOW_DONE ? r->f.tgt_final : -1);
    snprintf(cb, sizeof(cb), "%lld", (long long)r->confirmed_block);
    snprintf(sd, sizeof(sd), "%lld", (long long)r->src_done_block);
    snprintf(td, sizeof(td), "%lld", (long long)r->tgt_done_block);
    snprintf(ah, sizeof(ah), "%lld", (long long)r->anchor_height);
    p[0] = mh;
    p[1] = state;
    p[2] = what == FLOW_HALT ? why : NULL;
    p[3] = ss;
    p[4] = ts;
    p[5] = r->confirmed_block >= 0 ? cb : NULL;
    p[6] = r->src_done_block >= 0 ? sd : NULL;
    p[7] = r->tgt_done_block >= 0 ? td : NULL;
    p[8] = r->anchor_height >= 0 ? ah : NULL;
    rc = db_exec(r->conn, "BEGIN", &err);
    if (rc == MR_OK) {
        res = PQexecParams(
            r->conn,
            "UPDATE " DB_SCHEMA ".messages SET state = $2, halted_reason = $3,"
            " completed_at = CASE WHEN $2 IN ('completed', 'reverted') THEN now() END,"
            " source_status = CASE WHEN $4::int >= 0 THEN $4::int ELSE source_status END,"
            " target_status = CASE WHEN $5::int >= 0 THEN $5::int ELSE target_status END,"
            " confirmed_block = coalesce($6::bigint, confirmed_block),"
            " source_done_block = coalesce($7::bigint, source_done_block),"
            " target_done_block = coalesce($8::bigint, target_done_block),"
            " anchor_height = coalesce($9::bigint, anchor_height), updated_at = now()"
            " WHERE message_hash = $1::bytea AND state NOT IN ('completed', 'reverted', 'halted',"
            " 'refused', 'held')",
            9, NULL, p, NULL, NULL, 0);
        rc = db_check(res, PGRES_COMMAND_OK, "recording the message's state", &err);
        if (rc == MR_OK)
            changed = strcmp(PQcmdTuples(res), "1") == 0;
        PQclear(res);
    }
    if (rc == MR_OK && what == FLOW_HALT)
        flow_db_alert(r->conn, "critical", r->mh_hex, "message halted: %s", why);
    if (rc == MR_OK) {
        rc = queue_complete_in_tx(r->conn, r->job, &err);
        if (rc == MR_ERR_NOTFOUND) {
            PQclear(PQexec(r->conn, "ROLLBACK"));
            snprintf(errmsg, errcap, "the job is no longer ours");
            return QUEUE_LOST;
        }
    }
    if (rc == MR_OK && what == FLOW_WAIT) {
        struct queue_job_spec spec;
        char args[128], dedup[80];
        int waits = r->sent > 0 ? 0 : r->waits + 1;
        int64_t delay = r->ctx->wait_min_ms > 0 ? r->ctx->wait_min_ms : 500;
        int64_t cap = r->ctx->wait_max_ms > 0 ? r->ctx->wait_max_ms : 30000;
        int64_t id = 0;
        delay <<= waits < 6 ? waits : 6;
        if (delay > cap)
            delay = cap;
        snprintf(args, sizeof(args), "{\"message_hash\":\"%s\",\"waits\":%d}", r->mh_hex, waits);
        snprintf(dedup, sizeof(dedup), "msg:%s", r->mh_hex);
        memset(&spec, 0, sizeof(spec));
        spec.kind = FLOW_JOB_MSG;
        spec.args_json = args;
        spec.delay_ms = delay;
        spec.dedup_key = dedup;
        rc = queue_enqueue(r->conn, &spec, &id, &err);
    }
    if (rc == MR_OK)
        rc = db_exec(r->conn, "COMMIT", &err);
    if (rc != MR_OK) {
        PQclear(PQexec(r->conn, "ROLLBACK"));
        snprintf(errmsg, errcap, "%s", err.msg);
        return QUEUE_RETRY;
    }
    if (what == FLOW_HALT) {
        pthread_mutex_lock(&r->ctx->mu);
        r->ctx->n_halts++;
        pthread_mutex_unlock(&r->ctx->mu);
    }
    if (changed)
        entered(r, state);
    {
        const struct log_id *id = LOG_ID(.job = r->job->id, .flow = flow_name(r),
                                         .msg_hash = r->m.hash);
        if (what == FLOW_HALT)
            log_error("flow", id, "halted: %s", why);
        else if (what == FLOW_DONE)
            log_info("flow", id, "%s", state);
        else if (r->sent == 0) /* a run that recorded something said so already */
            log_debug("flow", id, "%s%s%s", state, why[0] ? ": " : "", why);
    }
    return QUEUE_DONE_IN_TX;
}

/* ------------------------------------------------------------ limits -- */

/* A held message the limits still apply to: its job completes, nothing
 * else (no next run; `message release` queues one). */
static enum queue_outcome finish_held(struct run *r, char *errmsg, size_t errcap)
{
    struct mr_error err;
    int rc;

    mr_error_clear(&err);
    rc = db_exec(r->conn, "BEGIN", &err);
    if (rc == MR_OK) {
        rc = queue_complete_in_tx(r->conn, r->job, &err);
        if (rc == MR_ERR_NOTFOUND) {
            PQclear(PQexec(r->conn, "ROLLBACK"));
            snprintf(errmsg, errcap, "the job is no longer ours");
            return QUEUE_LOST;
        }
    }
    if (rc == MR_OK)
        rc = db_exec(r->conn, "COMMIT", &err);
    if (rc != MR_OK) {
        PQclear(PQexec(r->conn, "ROLLBACK"));
        snprintf(errmsg, errcap, "%s", err.msg);
        return QUEUE_RETRY;
    }
    log_debug("flow", LOG_ID(.job = r->job->id, .flow = flow_name(r), .msg_hash = r->m.hash),
              "held: waiting for an operator (mosaic-relayer message release)");
    return QUEUE_DONE_IN_TX;
}

/* A held message the limits no longer apply to (the sender declared a
 * revocation, or someone else confirmed it on the target): back to
 * 'declared', and the run goes on. */
static int unhold(struct run *r, struct mr_error *err)
{
    char mh[67];
    const char *p[1] = {mh};
    PGresult *res;
    int rc;

    flow_bytea_text(r->m.hash, 32, mh);
    res = PQexecParams(r->conn,
                       "UPDATE " DB_SCHEMA ".messages SET state = 'declared', updated_at = now()"
                       " WHERE message_hash = $1::bytea AND state = 'held'",
                       1, NULL, p, NULL, NULL, 0);
    rc = db_check(res, PGRES_COMMAND_OK, "releasing the message from its hold", err);
    PQclear(res);
    if (rc == MR_OK) {
        log_info("flow", LOG_ID(.job = r->job->id, .flow = flow_name(r), .msg_hash = r->m.hash),
                 "no longer held: %s", r->f.src_latest == MOSAIC_DECLARED_REVOCATION
                                           ? "the sender declared a revocation"
                                           : "the target inbox progressed without us");
        entered(r, "declared");
    }
    return rc;
}

/* The limits before the first call (flows/limits.c), in one transaction
 * that, when the message is held, also completes the job.  *held: the run
 * stops here (return value is the job's outcome). */
static enum queue_outcome gate(struct run *r, int *held, char *errmsg, size_t errcap)
{
    struct mr_error err;
    struct flow_gate g;
    int rc;

    *held = 0;
    mr_error_clear(&err);
    rc = db_exec(r->conn, "BEGIN", &err);
    if (rc == MR_OK)
        rc = flow_limits_gate(r->conn, &r->ctx->cfg->relayer, r->m.hash, &g, &err);
    if (rc == MR_OK && g.hold != FLOW_HOLD_NONE) {
        *held = 1;
        rc = queue_complete_in_tx(r->conn, r->job, &err);
        if (rc == MR_ERR_NOTFOUND) {
            PQclear(PQexec(r->conn, "ROLLBACK"));
            snprintf(errmsg, errcap, "the job is no longer ours");
            return QUEUE_LOST;
        }
    }
    if (rc == MR_OK)
        rc = db_exec(r->conn, "COMMIT", &err);
    if (rc != MR_OK) {
        PQclear(PQexec(r->conn, "ROLLBACK"));
        *held = 1;
        snprintf(errmsg, errcap, "mh=%s: limits: %s", short_mh(r), err.msg);
        log_warn("flow", LOG_ID(.job = r->job->id, .flow = flow_name(r), .msg_hash = r->m.hash),
                 "limits: %s (will retry)", err.msg);
        return QUEUE_RETRY;
    }
    if (g.newly_held) {
        entered(r, "held");
        log_warn("flow", LOG_ID(.job = r->job->id, .flow = flow_name(r), .msg_hash = r->m.hash),
                 "held by relayer limits (%s) on pair %s: %s", flow_hold_name(g.hold), g.pair,
                 g.detail);
    }
    return QUEUE_DONE_IN_TX;
}

static int has_step(const struct flow_decision *d, enum flow_step s)
{
    for (size_t i = 0; i < d->n; i++)
        if (d->steps[i] == s)
            return 1;
    return 0;
}

/* -------------------------------------------------------------- run -- */

static enum queue_outcome run_msg(struct run *r, char *errmsg, size_t errcap)
{
    struct mr_error err;
    struct flow_decision d;
    int rc, pending = 0, limited, gated = 0;

    mr_error_clear(&err);
    rc = parse_args(r, &err);
    if (rc != MR_OK) {
        snprintf(errmsg, errcap, "%s", err.msg);
        return QUEUE_DEAD;
    }
    rc = load(r, &err);
    if (rc == MR_ERR_NOTFOUND) {
        snprintf(errmsg, errcap, "%s", err.msg);
        return QUEUE_CANCEL;
    }
    if (rc == MR_ERR_INVALID)
        return finish(r, FLOW_HALT, "halted", err.msg, errmsg, errcap);
    if (rc != MR_OK)
        goto retry;
    if (strcmp(r->state, "completed") == 0 || strcmp(r->state, "reverted") == 0 ||
        strcmp(r->state, "halted") == 0 || strcmp(r->state, "refused") == 0) {
        snprintf(errmsg, errcap, "message is %s", r->state);
        return QUEUE_CANCEL;
    }
    if (!(r->ctx->cfg->relayer.flows &
          (r->m.kind == MOSAIC_STAKE ? CONFIG_FLOW_STAKE : CONFIG_FLOW_REDEEM))) {
        snprintf(errmsg, errcap, "the %s flow is disabled", r->m.kind == MOSAIC_STAKE ? "stake"
                                                                                      : "redeem");
        return QUEUE_CANCEL;
    }
    r->f.kind = r->m.kind;
    r->f.revert_enabled = (r->ctx->cfg->relayer.flows & CONFIG_FLOW_REVERT) != 0;
    if ((rc = load_secret(r, &err)) != MR_OK || (rc = load_steps(r, &err)) != MR_OK ||
        (rc = read_statuses(r, &err)) != MR_OK)
        goto retry;
    if (!r->has_secret && r->f.src_latest == MOSAIC_PROGRESSED &&
        (rc = learn_secret(r, 0, &err)) != MR_OK)
        goto retry;
    if (!r->has_secret && r->f.tgt_latest == MOSAIC_PROGRESSED &&
        (rc = learn_secret(r, 1, &err)) != MR_OK)
        goto retry;
    r->f.have_secret = r->has_secret;
    if (r->f.tgt_latest == MOSAIC_UNDECLARED && (rc = prev_pending(r, &pending, &err)) != MR_OK)
        goto retry;
    r->f.prev_pending = pending;
    /* The value limits apply until the relayer starts the message. */
    limited = flow_limits_apply(r->started, r->f.src_latest, r->f.tgt_latest);
    if (strcmp(r->state, "held") == 0) {
        if (limited)
            return finish_held(r, errmsg, errcap);
        if ((rc = unhold(r, &err)) != MR_OK)
            goto retry;
    }
    /* Decide, record, decide again with what is now in flight (pipelining),
     * until nothing more can be recorded without waiting for a chain. */
    for (int round = 0; round < 4; round++) {
        flow_decide(&r->f, &d);
        if (d.what != FLOW_SEND)
            break;
        /* About to record calls: not while the pair's conservation breaker
         * is tripped (RELIABILITY.md row 24, db/breaker.h). */
        if (round == 0) {
            int tripped = 0;
            if ((rc = breaker_is_tripped(r->conn, r->gw->name, &tripped, &err)) != MR_OK)
                goto retry;
            if (tripped) {
                log_info("flow", LOG_ID(.job = r->job->id, .flow = flow_name(r),
                                        .msg_hash = r->m.hash),
                         "held: pair %s's conservation breaker is tripped", r->gw->name);
                return finish(r, FLOW_WAIT, r->state, "the pair's conservation breaker is tripped",
                              errmsg, errcap);
            }
        }
        if (limited && !gated && has_step(&d, FLOW_CONFIRM)) {
            int held = 0;
            enum queue_outcome o = gate(r, &held, errmsg, errcap);
            if (held)
                return o;
            gated = 1;
        }
        for (size_t i = 0; i < d.n; i++) {
            enum flow_res fr = do_step(r, d.steps[i], &err);
            if (fr == FLOW_R_HALT)
                return finish(r, FLOW_HALT, "halted", err.msg, errmsg, errcap);
            if (fr == FLOW_R_ERROR) {
                if (r->sent > 0) /* keep what was recorded; come back soon */
                    return finish(r, FLOW_WAIT, d.state, err.msg, errmsg, errcap);
                goto retry;
            }
            if (fr == FLOW_R_WAIT)
                return finish(r, FLOW_WAIT, r->wait_state != NULL ? r->wait_state : d.state,
                              err.msg, errmsg, errcap);
        }
    }
    if (d.what == FLOW_DONE)
        return finish(r, FLOW_DONE, d.terminal, "", errmsg, errcap);
    if (d.what == FLOW_HALT)
        return finish(r, FLOW_HALT, "halted", d.why, errmsg, errcap);
    return finish(r, FLOW_WAIT, d.state != NULL ? d.state : r->state, d.why, errmsg, errcap);
retry:
    snprintf(errmsg, errcap, "mh=%s: %s", r->mh_hex[0] ? short_mh(r) : "?", err.msg);
    log_warn("flow", LOG_ID(.job = r->job->id, .flow = r->state[0] ? flow_name(r) : NULL,
                            .msg_hash = r->mh_hex[0] ? r->m.hash : NULL),
             "%s (will retry)", err.msg);
    /* A node that cannot be reached (timeout, refused, 5xx, 429, every
     * circuit breaker open) says nothing about the message: come back like
     * a waiting message, within the wait cap, instead of through the
     * queue's backoff, which doubles up to an hour and dead-letters after
     * max attempts.  An outage of a few minutes (the breaker makes every
     * attempt fail at once) used to leave messages whose calls were all
     * mined sitting for minutes (make chaos, seed 101), and a long one
     * dead-lettered them. */
    if (err.code == MR_ERR_IO && r->state[0] != '\0' && !db_conn_lost(r->conn))
        return finish(r, FLOW_WAIT, r->state, err.msg, errmsg, errcap);
    return QUEUE_RETRY;
}

enum queue_outcome flow_msg_run(struct flow_ctx *ctx, PGconn *conn, const struct queue_job *job,
                                char *errmsg, size_t errcap)
{
    struct run r;
    enum queue_outcome o;

    memset(&r, 0, sizeof(r));
    r.ctx = ctx;
    r.conn = conn;
    r.job = job;
    r.confirmed_block = r.src_done_block = r.tgt_done_block = r.anchor_height = -1;
    o = run_msg(&r, errmsg, errcap);
    mr_wipe(r.secret, sizeof(r.secret));
    return o;
}
