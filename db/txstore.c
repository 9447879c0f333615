/*
 * txstore.c - the transaction manager's records (see txstore.h).
 */
#include "db/txstore.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/alert.h"
#include "db/db.h"

/* Postgres text form of a bytea: "\x" + hex.  Caller frees. */
static char *bytea_text(const uint8_t *b, size_t n)
{
    static const char hx[] = "0123456789abcdef";
    char *s = malloc(2 * n + 3);

    if (s == NULL)
        return NULL;
    s[0] = '\\';
    s[1] = 'x';
    for (size_t i = 0; i < n; i++) {
        s[2 + 2 * i] = hx[b[i] >> 4];
        s[3 + 2 * i] = hx[b[i] & 15];
    }
    s[2 + 2 * n] = '\0';
    return s;
}

/* Parses "\x..." into out[cap]; returns the length or -1. */
static long bytea_parse(const char *s, uint8_t *out, size_t cap)
{
    size_t n;

    if (s[0] != '\\' || s[1] != 'x')
        return -1;
    n = strlen(s + 2) / 2;
    if (n > cap)
        return -1;
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        if (sscanf(s + 2 + 2 * i, "%2x", &v) != 1)
            return -1;
        out[i] = (uint8_t)v;
    }
    return (long)n;
}

static PGresult *exec(PGconn *c, const char *sql, int n, const char *const *params)
{
    return PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);
}

static void rollback(PGconn *c)
{
    PQclear(PQexec(c, "ROLLBACK"));
}

int txs_create_intent_in_tx(PGconn *conn, const struct txs_intent *in, uint64_t chain_nonce,
                            int64_t *id, uint64_t *nonce, struct mr_error *err)
{
    char cn[24], job[24], gas[24], val[U256_DEC_MAX];
    char *sender = bytea_text(in->sender, 20);
    char *to = in->create ? NULL : in->to != NULL ? bytea_text(in->to, 20) : NULL;
    char *data = bytea_text(in->calldata, in->calldata_len);
    const char *p[10];
    PGresult *res = NULL;
    int64_t next = -1;
    int rc;

    if (!in->create && in->to == NULL) {
        rc = mr_fail(err, MR_ERR_INVALID, "intent: a call needs a `to` address (or set create)");
        goto out;
    }
    if (in->create && in->to != NULL) {
        rc = mr_fail(err, MR_ERR_INVALID, "intent: a contract creation has no `to` address");
        goto out;
    }
    if (sender == NULL || (!in->create && to == NULL) || data == NULL) {
        rc = mr_fail(err, MR_ERR_NOMEM, "intent: out of memory");
        goto out;
    }
    snprintf(cn, sizeof(cn), "%llu", (unsigned long long)chain_nonce);
    p[0] = in->chain_key;
    p[1] = sender;
    p[2] = cn;
    res = exec(conn, "INSERT INTO " DB_SCHEMA ".signer_nonces (chain_key, sender, next_nonce)"
                     " VALUES ($1, $2::bytea, $3::bigint) ON CONFLICT DO NOTHING", 3, p);
    rc = db_check(res, PGRES_COMMAND_OK, "allocating a nonce", err);
    PQclear(res);
    if (rc == MR_OK) {
        res = exec(conn, "SELECT next_nonce, halted_reason FROM " DB_SCHEMA ".signer_nonces"
                         " WHERE chain_key = $1 AND sender = $2::bytea FOR UPDATE", 2, p);
        rc = db_check(res, PGRES_TUPLES_OK, "allocating a nonce", err);
        if (rc == MR_OK && PQntuples(res) == 1) {
            next = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
            if (!PQgetisnull(res, 0, 1))
                rc = mr_fail(err, MR_ERR_PERM, "chain %s: sending from this key is halted: %s",
                             in->chain_key, PQgetvalue(res, 0, 1));
        }
        PQclear(res);
    }
    if (rc == MR_OK && (next < 0 || chain_nonce > (uint64_t)next))
        rc = mr_fail(err, MR_ERR_PERM,
                     "chain %s: the key's nonce on chain (%llu) is ahead of ours (%lld): the key "
                     "was used by someone else; stop sending from it", in->chain_key,
                     (unsigned long long)chain_nonce, (long long)next);
    if (rc == MR_OK) {
        res = exec(conn, "UPDATE " DB_SCHEMA ".signer_nonces SET next_nonce = next_nonce + 1,"
                         " updated_at = now() WHERE chain_key = $1 AND sender = $2::bytea", 2, p);
        rc = db_check(res, PGRES_COMMAND_OK, "allocating a nonce", err);
        PQclear(res);
    }
    if (rc == MR_OK) {
        char nn[24];
        snprintf(nn, sizeof(nn), "%lld", (long long)next);
        snprintf(job, sizeof(job), "%lld", (long long)in->job_id);
        snprintf(gas, sizeof(gas), "%llu", (unsigned long long)in->gas_limit);
        u256_to_dec(&in->value, val, sizeof(val));
        p[2] = nn;
        p[3] = in->job_id > 0 ? job : NULL;
        p[4] = in->purpose;
        p[5] = to;
        p[6] = data;
        p[7] = val;
        p[8] = gas;
        p[9] = in->create ? "true" : "false";
        res = exec(conn, "INSERT INTO " DB_SCHEMA ".transactions (chain_key, sender, nonce, job_id,"
                         " purpose, to_address, calldata, value, gas_limit, is_create) VALUES ($1,"
                         " $2::bytea, $3::bigint, $4::bigint, $5, $6::bytea, $7::bytea, $8::numeric,"
                         " $9::bigint, $10::boolean) RETURNING id", 10, p);
        rc = db_check(res, PGRES_TUPLES_OK, "recording the intent", err);
        if (rc == MR_OK) {
            *id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
            *nonce = (uint64_t)next;
        }
        PQclear(res);
    }
out:
    free(sender);
    free(to);
    free(data);
    return rc;
}

int txs_create_intent(PGconn *conn, const struct txs_intent *in, uint64_t chain_nonce, int64_t *id,
                      uint64_t *nonce, struct mr_error *err)
{
    int rc = db_exec(conn, "BEGIN", err);

    if (rc != MR_OK)
        return rc;
    rc = txs_create_intent_in_tx(conn, in, chain_nonce, id, nonce, err);
    if (rc == MR_OK)
        rc = db_exec(conn, "COMMIT", err);
    else
        rollback(conn);
    return rc;
}

int txs_adopt_nonce(PGconn *conn, const char *chain_key, const uint8_t sender[20],
                    uint64_t chain_nonce, int *adopted, struct mr_error *err)
{
    char cn[24], *s = bytea_text(sender, 20);
    const char *p[3] = {chain_key, s, cn};
    PGresult *res;
    int rc;

    if (s == NULL)
        return mr_fail(err, MR_ERR_NOMEM, "out of memory");
    snprintf(cn, sizeof(cn), "%llu", (unsigned long long)chain_nonce);
    res = exec(conn,
               "WITH busy AS (SELECT 1 FROM " DB_SCHEMA ".transactions WHERE chain_key = $1"
               " AND sender = $2::bytea AND state IN ('intent', 'signed', 'broadcast') LIMIT 1),"
               " up AS (INSERT INTO " DB_SCHEMA ".signer_nonces (chain_key, sender, next_nonce)"
               " SELECT $1, $2::bytea, $3::bigint WHERE NOT EXISTS (SELECT 1 FROM busy)"
               " ON CONFLICT (chain_key, sender) DO UPDATE SET next_nonce ="
               " greatest(" DB_SCHEMA ".signer_nonces.next_nonce, excluded.next_nonce),"
               " updated_at = now() RETURNING next_nonce) SELECT count(*) FROM up",
               3, p);
    free(s);
    rc = db_check(res, PGRES_TUPLES_OK, "adopting the chain's nonce", err);
    if (rc == MR_OK && adopted != NULL)
        *adopted = strcmp(PQgetvalue(res, 0, 0), "1") == 0;
    PQclear(res);
    return rc;
}

int txs_record_attempt(PGconn *conn, int64_t id, const uint8_t hash[32], const uint8_t *raw,
                       size_t raw_len, const struct u256 *max_fee, const struct u256 *tip,
                       int *attempt, struct mr_error *err)
{
    char ids[24], fee[U256_DEC_MAX], tp[U256_DEC_MAX];
    char *h = bytea_text(hash, 32), *r = bytea_text(raw, raw_len);
    const char *p[5];
    PGresult *res;
    int rc;

    if (h == NULL || r == NULL) {
        free(h);
        free(r);
        return mr_fail(err, MR_ERR_NOMEM, "attempt: out of memory");
    }
    snprintf(ids, sizeof(ids), "%lld", (long long)id);
    u256_to_dec(max_fee, fee, sizeof(fee));
    u256_to_dec(tip, tp, sizeof(tp));
    p[0] = ids;
    p[1] = h;
    p[2] = r;
    p[3] = fee;
    p[4] = tp;
    /* One statement: the state check, the attempt number and the insert
     * happen atomically (the row lock serializes concurrent signers). */
    res = exec(conn,
               "WITH t AS (UPDATE " DB_SCHEMA ".transactions SET state = 'signed', updated_at = now()"
               " WHERE id = $1::bigint AND state IN ('intent', 'signed', 'broadcast') RETURNING id),"
               " a AS (INSERT INTO " DB_SCHEMA ".tx_attempts (tx_id, attempt, tx_hash, raw, max_fee,"
               " max_priority_fee) SELECT t.id, (SELECT coalesce(max(attempt), 0) + 1 FROM "
               DB_SCHEMA ".tx_attempts WHERE tx_id = t.id), $2::bytea, $3::bytea, $4::numeric,"
               " $5::numeric FROM t RETURNING attempt) SELECT attempt FROM a",
               5, p);
    rc = db_check(res, PGRES_TUPLES_OK, "recording a signed attempt", err);
    if (rc == MR_OK) {
        if (PQntuples(res) != 1)
            rc = mr_fail(err, MR_ERR_INVALID,
                         "transaction %lld cannot take a new signed attempt in its state",
                         (long long)id);
        else if (attempt != NULL)
            *attempt = atoi(PQgetvalue(res, 0, 0));
    }
    PQclear(res);
    free(h);
    free(r);
    return rc;
}

/* Runs a one-row transition; MR_ERR_INVALID naming the current state when
 * the row is not in a state that allows it. */
static int transition(PGconn *conn, int64_t id, const char *what, const char *sql, int n,
                      const char *const *p, struct mr_error *err)
{
    PGresult *res = exec(conn, sql, n, p);
    int rc = db_check(res, PGRES_COMMAND_OK, what, err);

    if (rc == MR_OK && strcmp(PQcmdTuples(res), "1") != 0) {
        char sql2[128];
        PQclear(res);
        snprintf(sql2, sizeof(sql2), "SELECT state FROM " DB_SCHEMA ".transactions WHERE id = %lld",
                 (long long)id);
        res = PQexec(conn, sql2);
        rc = mr_fail(err, MR_ERR_INVALID, "transaction %lld: cannot %s from state %s", (long long)id,
                     what, PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1
                               ? PQgetvalue(res, 0, 0) : "(no such transaction)");
    }
    PQclear(res);
    return rc;
}

/* A transition that records what the chain shows and can be learnt from it
 * again (broadcast, included, reorged, final): committed without waiting
 * for the WAL flush (synchronous_commit off for this transaction only).
 * If a crash loses it, the next poll finds the same again: the stored
 * bytes are sent again ("already known"), the receipt is read again.
 * Everything that must precede a broadcast stays synchronous. */
static int transition_async(PGconn *conn, int64_t id, const char *what, const char *sql, int n,
                            const char *const *p, struct mr_error *err)
{
    int rc = db_exec(conn, "BEGIN", err);

    if (rc == MR_OK)
        rc = db_exec(conn, "SET LOCAL synchronous_commit TO off", err);
    if (rc == MR_OK)
        rc = transition(conn, id, what, sql, n, p, err);
    if (rc == MR_OK)
        return db_exec(conn, "COMMIT", err);
    rollback(conn);
    return rc;
}

int txs_mark_broadcast(PGconn *conn, int64_t id, int attempt, struct mr_error *err)
{
    char ids[24], at[16];
    const char *p[2] = {ids, at};

    snprintf(ids, sizeof(ids), "%lld", (long long)id);
    snprintf(at, sizeof(at), "%d", attempt);
    return transition_async(conn, id, "mark broadcast",
                      "WITH a AS (UPDATE " DB_SCHEMA ".tx_attempts SET broadcast_at = coalesce("
                      "broadcast_at, now()) WHERE tx_id = $1::bigint AND attempt = $2::int RETURNING 1)"
                      " UPDATE " DB_SCHEMA ".transactions SET state = 'broadcast', updated_at = now()"
                      " WHERE id = $1::bigint AND state IN ('signed', 'broadcast')"
                      " AND EXISTS (SELECT 1 FROM a)", 2, p, err);
}

int txs_mark_included(PGconn *conn, int64_t id, uint64_t block, const uint8_t block_hash[32],
                      int status, uint64_t gas_used, const uint8_t *tx_hash,
                      const uint8_t *contract, struct mr_error *err)
{
    char ids[24], bn[24], st[4], gu[24];
    char *bh = bytea_text(block_hash, 32);
    char *th = tx_hash != NULL ? bytea_text(tx_hash, 32) : NULL;
    char *ca = contract != NULL ? bytea_text(contract, 20) : NULL;
    const char *p[7] = {ids, bn, bh, st, gu, th, ca};
    int rc;

    if (bh == NULL || (tx_hash != NULL && th == NULL) || (contract != NULL && ca == NULL)) {
        free(bh);
        free(th);
        free(ca);
        return mr_fail(err, MR_ERR_NOMEM, "out of memory");
    }
    snprintf(ids, sizeof(ids), "%lld", (long long)id);
    snprintf(bn, sizeof(bn), "%llu", (unsigned long long)block);
    snprintf(st, sizeof(st), "%d", status ? 1 : 0);
    snprintf(gu, sizeof(gu), "%llu", (unsigned long long)gas_used);
    rc = transition_async(conn, id, "mark included",
                    "UPDATE " DB_SCHEMA ".transactions SET state = 'included', included_block ="
                    " $2::bigint, included_block_hash = $3::bytea, receipt_status = $4::smallint,"
                    " gas_used = $5::bigint, mined_tx_hash = $6::bytea, contract_address ="
                    " $7::bytea, updated_at = now() WHERE id = $1::bigint"
                    " AND state IN ('signed', 'broadcast')", 7, p, err);
    free(bh);
    free(th);
    free(ca);
    return rc;
}

int txs_mark_reorged(PGconn *conn, int64_t id, struct mr_error *err)
{
    char ids[24];
    const char *p[1] = {ids};

    snprintf(ids, sizeof(ids), "%lld", (long long)id);
    return transition_async(conn, id, "mark reorged",
                      "UPDATE " DB_SCHEMA ".transactions SET state = 'broadcast', included_block = NULL,"
                      " included_block_hash = NULL, receipt_status = NULL, gas_used = NULL,"
                      " mined_tx_hash = NULL, contract_address = NULL,"
                      " updated_at = now() WHERE id = $1::bigint AND state = 'included'", 1, p, err);
}

int txs_mark_final(PGconn *conn, int64_t id, struct mr_error *err)
{
    char ids[24];
    const char *p[1] = {ids};

    snprintf(ids, sizeof(ids), "%lld", (long long)id);
    return transition_async(conn, id, "mark final",
                      "UPDATE " DB_SCHEMA ".transactions SET state = 'final', updated_at = now()"
                      " WHERE id = $1::bigint AND state = 'included'", 1, p, err);
}

static int mark_end(PGconn *conn, int64_t id, const char *state, const char *from, const char *why,
                    struct mr_error *err)
{
    char ids[24], sql[320];
    const char *p[2] = {ids, why != NULL ? why : state};

    snprintf(ids, sizeof(ids), "%lld", (long long)id);
    snprintf(sql, sizeof(sql),
             "UPDATE " DB_SCHEMA ".transactions SET state = '%s', error = $2, updated_at = now()"
             " WHERE id = $1::bigint AND state IN (%s)", state, from);
    return transition(conn, id, state[0] == 'f' ? "mark failed" : "mark aborted", sql, 2, p, err);
}

int txs_mark_failed(PGconn *conn, int64_t id, const char *why, struct mr_error *err)
{
    return mark_end(conn, id, "failed", "'intent', 'signed', 'broadcast'", why, err);
}

int txs_mark_aborted(PGconn *conn, int64_t id, const char *why, struct mr_error *err)
{
    return mark_end(conn, id, "aborted", "'intent', 'signed'", why, err);
}

int txs_load_pending(PGconn *conn, const char *chain_key, const uint8_t sender[20],
                     struct txs_pending **list, size_t *n, struct mr_error *err)
{
    char *s = bytea_text(sender, 20);
    const char *p[2] = {chain_key, s};
    PGresult *res;
    int rc;

    *list = NULL;
    *n = 0;
    if (s == NULL)
        return mr_fail(err, MR_ERR_NOMEM, "out of memory");
    res = exec(conn,
               "SELECT t.id, t.nonce, t.state, coalesce(a.attempt, 0), a.tx_hash, a.raw,"
               " coalesce(a.max_fee, 0), coalesce(a.max_priority_fee, 0),"
               " coalesce((extract(epoch FROM now() - a.broadcast_at) * 1000)::bigint, -1),"
               " t.to_address, t.calldata, t.value, t.gas_limit, coalesce(t.included_block, 0),"
               " t.included_block_hash FROM "
               DB_SCHEMA ".transactions t LEFT JOIN LATERAL (SELECT attempt, tx_hash, raw, max_fee,"
               " max_priority_fee, broadcast_at FROM "
               DB_SCHEMA ".tx_attempts WHERE tx_id = t.id ORDER BY attempt DESC LIMIT 1) a ON true"
               " WHERE t.chain_key = $1 AND t.sender = $2::bytea"
               " AND t.state IN ('intent', 'signed', 'broadcast', 'included') ORDER BY t.nonce",
               2, p);
    free(s);
    rc = db_check(res, PGRES_TUPLES_OK, "loading pending transactions", err);
    if (rc == MR_OK && PQntuples(res) > 0) {
        size_t rows = (size_t)PQntuples(res);
        struct txs_pending *l = calloc(rows, sizeof(*l));
        if (l == NULL) {
            PQclear(res);
            return mr_fail(err, MR_ERR_NOMEM, "out of memory");
        }
        for (size_t i = 0; i < rows; i++) {
            const char *raw = PQgetvalue(res, (int)i, 5);
            l[i].id = strtoll(PQgetvalue(res, (int)i, 0), NULL, 10);
            l[i].nonce = strtoull(PQgetvalue(res, (int)i, 1), NULL, 10);
            snprintf(l[i].state, sizeof(l[i].state), "%s", PQgetvalue(res, (int)i, 2));
            l[i].attempt = atoi(PQgetvalue(res, (int)i, 3));
            if (l[i].attempt > 0) {
                size_t cap = strlen(raw) / 2;
                l[i].raw = malloc(cap ? cap : 1);
                if (l[i].raw == NULL ||
                    bytea_parse(PQgetvalue(res, (int)i, 4), l[i].hash, 32) != 32) {
                    txs_pending_free(l, rows);
                    PQclear(res);
                    return mr_fail(err, MR_ERR_INVALID, "transaction row %zu: bad attempt", i);
                }
                l[i].raw_len = (size_t)bytea_parse(raw, l[i].raw, cap);
            }
            if (u256_parse_dec(&l[i].max_fee, PQgetvalue(res, (int)i, 6),
                               strlen(PQgetvalue(res, (int)i, 6)), 0, NULL) != MR_OK ||
                u256_parse_dec(&l[i].tip, PQgetvalue(res, (int)i, 7),
                               strlen(PQgetvalue(res, (int)i, 7)), 0, NULL) != MR_OK ||
                u256_parse_dec(&l[i].value, PQgetvalue(res, (int)i, 11),
                               strlen(PQgetvalue(res, (int)i, 11)), 0, NULL) != MR_OK ||
                (!(l[i].create = PQgetisnull(res, (int)i, 9)) &&
                 bytea_parse(PQgetvalue(res, (int)i, 9), l[i].to, 20) != 20)) {
                txs_pending_free(l, rows);
                PQclear(res);
                return mr_fail(err, MR_ERR_INVALID, "transaction row %zu: bad fields", i);
            }
            l[i].age_ms = strtoll(PQgetvalue(res, (int)i, 8), NULL, 10);
            {
                const char *cd = PQgetvalue(res, (int)i, 10);
                size_t cap = strlen(cd) / 2;
                l[i].calldata = malloc(cap ? cap : 1);
                if (l[i].calldata == NULL) {
                    txs_pending_free(l, rows);
                    PQclear(res);
                    return mr_fail(err, MR_ERR_NOMEM, "out of memory");
                }
                l[i].calldata_len = (size_t)bytea_parse(cd, l[i].calldata, cap);
            }
            l[i].gas_limit = strtoull(PQgetvalue(res, (int)i, 12), NULL, 10);
            l[i].included_block = strtoull(PQgetvalue(res, (int)i, 13), NULL, 10);
            if (!PQgetisnull(res, (int)i, 14))
                (void)bytea_parse(PQgetvalue(res, (int)i, 14), l[i].included_hash, 32);
        }
        *list = l;
        *n = rows;
    }
    PQclear(res);
    return rc;
}

void txs_pending_free(struct txs_pending *list, size_t n)
{
    if (list == NULL)
        return;
    for (size_t i = 0; i < n; i++) {
        free(list[i].raw);
        free(list[i].calldata);
    }
    free(list);
}

int txs_attempt_hashes(PGconn *conn, int64_t id, uint8_t (*hashes)[32], size_t max, size_t *n,
                       struct mr_error *err)
{
    char ids[24];
    const char *p[1] = {ids};
    PGresult *res;
    int rc;

    *n = 0;
    snprintf(ids, sizeof(ids), "%lld", (long long)id);
    res = exec(conn, "SELECT tx_hash FROM " DB_SCHEMA ".tx_attempts WHERE tx_id = $1::bigint"
                     " ORDER BY attempt", 1, p);
    rc = db_check(res, PGRES_TUPLES_OK, "reading attempts", err);
    for (int i = 0; rc == MR_OK && i < PQntuples(res) && (size_t)i < max; i++) {
        if (bytea_parse(PQgetvalue(res, i, 0), hashes[i], 32) != 32)
            rc = mr_fail(err, MR_ERR_INVALID, "transaction %lld: bad attempt hash", (long long)id);
        else
            *n = (size_t)i + 1;
    }
    PQclear(res);
    return rc;
}

int txs_result(PGconn *conn, int64_t id, struct txs_result *out, struct mr_error *err)
{
    char ids[24];
    const char *p[1] = {ids};
    PGresult *res;
    int rc;

    memset(out, 0, sizeof(*out));
    snprintf(ids, sizeof(ids), "%lld", (long long)id);
    res = exec(conn, "SELECT state, nonce, is_create, coalesce(receipt_status, 0),"
                     " coalesce(included_block, 0), included_block_hash, coalesce(gas_used, 0),"
                     " mined_tx_hash, contract_address, coalesce(error, '') FROM " DB_SCHEMA
                     ".transactions WHERE id = $1::bigint", 1, p);
    rc = db_check(res, PGRES_TUPLES_OK, "reading a transaction", err);
    if (rc == MR_OK && PQntuples(res) != 1)
        rc = mr_fail(err, MR_ERR_NOTFOUND, "no transaction %lld", (long long)id);
    if (rc == MR_OK) {
        out->id = id;
        snprintf(out->state, sizeof(out->state), "%s", PQgetvalue(res, 0, 0));
        out->nonce = strtoull(PQgetvalue(res, 0, 1), NULL, 10);
        out->is_create = PQgetvalue(res, 0, 2)[0] == 't';
        out->final = strcmp(out->state, "final") == 0;
        out->included = out->final || strcmp(out->state, "included") == 0;
        out->status = atoi(PQgetvalue(res, 0, 3));
        out->block = strtoull(PQgetvalue(res, 0, 4), NULL, 10);
        if (!PQgetisnull(res, 0, 5) && bytea_parse(PQgetvalue(res, 0, 5), out->block_hash, 32) != 32)
            rc = mr_fail(err, MR_ERR_INVALID, "transaction %lld: bad block hash", (long long)id);
        out->gas_used = strtoull(PQgetvalue(res, 0, 6), NULL, 10);
        if (!PQgetisnull(res, 0, 7)) {
            out->has_tx_hash = bytea_parse(PQgetvalue(res, 0, 7), out->tx_hash, 32) == 32;
            if (!out->has_tx_hash)
                rc = mr_fail(err, MR_ERR_INVALID, "transaction %lld: bad mined hash", (long long)id);
        }
        if (!PQgetisnull(res, 0, 8)) {
            out->has_contract = bytea_parse(PQgetvalue(res, 0, 8), out->contract, 20) == 20;
            if (!out->has_contract)
                rc = mr_fail(err, MR_ERR_INVALID, "transaction %lld: bad contract address",
                             (long long)id);
        }
        snprintf(out->error, sizeof(out->error), "%s", PQgetvalue(res, 0, 9));
    }
    PQclear(res);
    return rc;
}

int txs_key_state(PGconn *conn, const char *chain_key, const uint8_t sender[20],
                  struct txs_key *out, struct mr_error *err)
{
    char *s = bytea_text(sender, 20);
    const char *p[2] = {chain_key, s};
    PGresult *res;
    int rc;

    memset(out, 0, sizeof(*out));
    if (s == NULL)
        return mr_fail(err, MR_ERR_NOMEM, "out of memory");
    res = exec(conn, "SELECT next_nonce, halted_reason FROM " DB_SCHEMA ".signer_nonces"
                     " WHERE chain_key = $1 AND sender = $2::bytea", 2, p);
    free(s);
    rc = db_check(res, PGRES_TUPLES_OK, "reading the nonce allocator", err);
    if (rc == MR_OK && PQntuples(res) == 1) {
        out->exists = 1;
        out->next_nonce = strtoull(PQgetvalue(res, 0, 0), NULL, 10);
        out->halted = !PQgetisnull(res, 0, 1);
        snprintf(out->halted_reason, sizeof(out->halted_reason), "%s", PQgetvalue(res, 0, 1));
    }
    PQclear(res);
    return rc;
}

int txs_halt_key(PGconn *conn, const char *chain_key, const uint8_t sender[20],
                 uint64_t chain_nonce, const char *reason, struct mr_error *err)
{
    char cn[24], subject[96], *s = bytea_text(sender, 20);
    const char *p[4] = {chain_key, s, cn, reason};
    PGresult *res;
    int rc;

    if (s == NULL)
        return mr_fail(err, MR_ERR_NOMEM, "out of memory");
    snprintf(cn, sizeof(cn), "%llu", (unsigned long long)chain_nonce);
    /* "origin 0x<sender>" names the key without any secret. */
    snprintf(subject, sizeof(subject), "%s 0x%s", chain_key, s + 2);
    rc = db_exec(conn, "BEGIN", err);
    if (rc == MR_OK) {
        res = exec(conn, "INSERT INTO " DB_SCHEMA ".signer_nonces (chain_key, sender, next_nonce,"
                         " halted_reason, halted_at) VALUES ($1, $2::bytea, $3::bigint, $4, now())"
                         " ON CONFLICT (chain_key, sender) DO UPDATE SET next_nonce ="
                         " greatest(signer_nonces.next_nonce, excluded.next_nonce), halted_reason ="
                         " coalesce(signer_nonces.halted_reason, excluded.halted_reason), halted_at ="
                         " coalesce(signer_nonces.halted_at, excluded.halted_at), updated_at = now()",
                   4, p);
        rc = db_check(res, PGRES_COMMAND_OK, "halting a key", err);
        PQclear(res);
    }
    if (rc == MR_OK)
        rc = alert_raise(conn, "critical", "txm", subject, reason, err);
    if (rc == MR_OK)
        rc = db_exec(conn, "COMMIT", err);
    else
        rollback(conn);
    free(s);
    return rc;
}

int txs_resume_key(PGconn *conn, const char *chain_key, const uint8_t sender[20],
                   struct mr_error *err)
{
    char *s = bytea_text(sender, 20);
    const char *p[2] = {chain_key, s};
    PGresult *res;
    int rc;

    if (s == NULL)
        return mr_fail(err, MR_ERR_NOMEM, "out of memory");
    res = exec(conn, "UPDATE " DB_SCHEMA ".signer_nonces SET halted_reason = NULL, halted_at = NULL,"
                     " updated_at = now() WHERE chain_key = $1 AND sender = $2::bytea", 2, p);
    free(s);
    rc = db_check(res, PGRES_COMMAND_OK, "resuming a key", err);
    PQclear(res);
    return rc;
}

int txs_gaps(PGconn *conn, const char *chain_key, const uint8_t sender[20], uint64_t from,
             uint64_t *nonces, size_t max, size_t *n, struct mr_error *err)
{
    char fr[24], mx[24], *s = bytea_text(sender, 20);
    const char *p[4] = {chain_key, s, fr, mx};
    PGresult *res;
    int rc;

    *n = 0;
    if (s == NULL)
        return mr_fail(err, MR_ERR_NOMEM, "out of memory");
    snprintf(fr, sizeof(fr), "%llu", (unsigned long long)from);
    snprintf(mx, sizeof(mx), "%zu", max);
    res = exec(conn, "SELECT g FROM " DB_SCHEMA ".signer_nonces k, generate_series($3::bigint,"
                     " k.next_nonce - 1) g WHERE k.chain_key = $1 AND k.sender = $2::bytea AND NOT"
                     " EXISTS (SELECT 1 FROM " DB_SCHEMA ".transactions t WHERE t.chain_key = $1"
                     " AND t.sender = $2::bytea AND t.nonce = g AND t.state NOT IN ('aborted',"
                     " 'failed')) ORDER BY g LIMIT $4::int", 4, p);
    free(s);
    rc = db_check(res, PGRES_TUPLES_OK, "looking for nonce gaps", err);
    for (int i = 0; rc == MR_OK && i < PQntuples(res) && (size_t)i < max; i++)
        nonces[(*n)++] = strtoull(PQgetvalue(res, i, 0), NULL, 10);
    PQclear(res);
    return rc;
}

int txs_create_filler(PGconn *conn, const char *chain_key, const uint8_t sender[20],
                      uint64_t nonce, int64_t *id, struct mr_error *err)
{
    char nn[24], *s = bytea_text(sender, 20);
    const char *p[3] = {chain_key, s, nn};
    PGresult *res;
    int rc;

    if (s == NULL)
        return mr_fail(err, MR_ERR_NOMEM, "out of memory");
    snprintf(nn, sizeof(nn), "%llu", (unsigned long long)nonce);
    /* Only an allocated nonce; the partial unique index refuses a held one. */
    res = exec(conn, "INSERT INTO " DB_SCHEMA ".transactions (chain_key, sender, nonce, purpose,"
                     " to_address, calldata, value, gas_limit) SELECT $1, $2::bytea, $3::bigint,"
                     " 'nonce-gap-fill', $2::bytea, ''::bytea, 0, 21000 FROM " DB_SCHEMA
                     ".signer_nonces WHERE chain_key = $1 AND sender = $2::bytea AND next_nonce >"
                     " $3::bigint RETURNING id", 3, p);
    free(s);
    rc = db_check(res, PGRES_TUPLES_OK, "recording a gap filler", err);
    if (rc == MR_OK && PQntuples(res) != 1)
        rc = mr_fail(err, MR_ERR_INVALID, "chain %s: nonce %llu was never allocated", chain_key,
                     (unsigned long long)nonce);
    if (rc == MR_OK)
        *id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    return rc == MR_ERR_IO ? mr_error_prefix(err, MR_ERR_INVALID, "nonce %llu: ",
                                             (unsigned long long)nonce) : rc;
}

int txs_nonce_attempts(PGconn *conn, const char *chain_key, const uint8_t sender[20],
                       uint64_t nonce, int64_t *ids, uint8_t (*hashes)[32], size_t max,
                       size_t *n, struct mr_error *err)
{
    char nn[24], *s = bytea_text(sender, 20);
    const char *p[3] = {chain_key, s, nn};
    PGresult *res;
    int rc;

    *n = 0;
    if (s == NULL)
        return mr_fail(err, MR_ERR_NOMEM, "out of memory");
    snprintf(nn, sizeof(nn), "%llu", (unsigned long long)nonce);
    res = exec(conn, "SELECT t.id, a.tx_hash FROM " DB_SCHEMA ".transactions t JOIN " DB_SCHEMA
                     ".tx_attempts a ON a.tx_id = t.id WHERE t.chain_key = $1 AND t.sender ="
                     " $2::bytea AND t.nonce = $3::bigint ORDER BY t.id, a.attempt DESC", 3, p);
    free(s);
    rc = db_check(res, PGRES_TUPLES_OK, "reading attempts", err);
    for (int i = 0; rc == MR_OK && i < PQntuples(res) && (size_t)i < max; i++) {
        ids[i] = strtoll(PQgetvalue(res, i, 0), NULL, 10);
        if (bytea_parse(PQgetvalue(res, i, 1), hashes[i], 32) != 32)
            rc = mr_fail(err, MR_ERR_INVALID, "transaction %lld: bad attempt hash",
                         (long long)ids[i]);
        else
            *n = (size_t)i + 1;
    }
    PQclear(res);
    return rc;
}
