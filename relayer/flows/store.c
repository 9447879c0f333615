/*
 * store.c - the flows' database side: shared calls already recorded,
 * transaction-scoped advisory locks, intents, alerts.
 */
#include "relayer/flows/flows_int.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "db/alert.h"
#include "db/db.h"
#include "db/txstore.h"
#include "eth/hex.h"

void flow_hex(const uint8_t *b, size_t n, char *out)
{
    hex_encode_data(b, n, out, 2 * n + 3);
}

/* "\x" + hex of b[n] (Postgres bytea text) into out[2n+3]. */
void flow_bytea_text(const uint8_t *b, size_t n, char *out)
{
    static const char hx[] = "0123456789abcdef";

    out[0] = '\\';
    out[1] = 'x';
    for (size_t i = 0; i < n; i++) {
        out[2 + 2 * i] = hx[b[i] >> 4];
        out[3 + 2 * i] = hx[b[i] & 15];
    }
    out[2 + 2 * n] = '\0';
}

/* Parses bytea text "\x..." of exactly n bytes. */
int flow_bytea_parse(const char *s, uint8_t *out, size_t n)
{
    if (s == NULL || s[0] != '\\' || s[1] != 'x' || strlen(s + 2) != 2 * n)
        return MR_ERR_INVALID;
    for (size_t i = 0; i < n; i++) {
        int hi = hex_digit(s[2 + 2 * i]), lo = hex_digit(s[3 + 2 * i]);
        if (hi < 0 || lo < 0)
            return MR_ERR_INVALID;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return MR_OK;
}

/* A big-endian 32-byte word holding a small height. */
static int word_height(const uint8_t w[32], uint64_t *h)
{
    uint64_t x = 0;

    for (int i = 0; i < 24; i++)
        if (w[i] != 0)
            return MR_ERR_RANGE;
    for (int i = 24; i < 32; i++)
        x = x << 8 | w[i];
    if (x > INT64_MAX)
        return MR_ERR_RANGE;
    *h = x;
    return MR_OK;
}

int flow_db_shared_txs(PGconn *conn, const char *chain_key, const uint8_t to[20],
                       const char *purpose, struct flow_shared_tx *out, size_t max, size_t *n,
                       struct mr_error *err)
{
    char addr[43], lim[16];
    const char *p[4];
    PGresult *res;
    int rc;

    *n = 0;
    flow_bytea_text(to, 20, addr);
    snprintf(lim, sizeof(lim), "%zu", max);
    p[0] = chain_key;
    p[1] = addr;
    p[2] = purpose;
    p[3] = lim;
    /* The newest first; the height is the first argument, the root (of an
     * anchor) the second. */
    res = PQexecParams(conn,
                       "SELECT id, substring(calldata from 5 for 32), substring(calldata from 37 "
                       "for 32), sender, state IN ('included', 'final') AND receipt_status = 1,"
                       " state IN ('failed', 'aborted') OR receipt_status = 0"
                       " FROM " DB_SCHEMA ".transactions WHERE chain_key = $1 AND to_address = "
                       "$2::bytea AND purpose = $3 AND octet_length(calldata) >= 68"
                       " ORDER BY id DESC LIMIT $4::int",
                       4, NULL, p, NULL, NULL, 0);
    rc = db_check(res, PGRES_TUPLES_OK, "reading shared calls", err);
    for (int i = 0; rc == MR_OK && i < PQntuples(res) && *n < max; i++) {
        struct flow_shared_tx *t = &out[*n];
        uint8_t w[32];
        memset(t, 0, sizeof(*t));
        t->id = strtoll(PQgetvalue(res, i, 0), NULL, 10);
        if (flow_bytea_parse(PQgetvalue(res, i, 1), w, 32) != MR_OK || word_height(w, &t->height) ||
            flow_bytea_parse(PQgetvalue(res, i, 2), t->root, 32) != MR_OK ||
            flow_bytea_parse(PQgetvalue(res, i, 3), t->sender, 20) != MR_OK)
            continue; /* not one of ours in the expected shape */
        t->mined = PQgetvalue(res, i, 4)[0] == 't';
        t->failed = PQgetvalue(res, i, 5)[0] == 't';
        (*n)++;
    }
    PQclear(res);
    return rc;
}

void flow_db_alert(PGconn *conn, const char *severity, const char *subject, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    (void)alert_raise(conn, severity, "flows", subject, msg, NULL);
}

int flow_db_xact_lock(PGconn *conn, const char *what, const char *chain_key,
                      const uint8_t addr[20], struct mr_error *err)
{
    char key[128], hex[43];
    const char *p[1] = {key};
    PGresult *res;
    int rc;

    flow_hex(addr, 20, hex);
    snprintf(key, sizeof(key), "%s:%s:%s", what, chain_key, hex);
    /* The two-int4 key space is apart from the signers' bigint locks. */
    res = PQexecParams(conn, "SELECT pg_advisory_xact_lock(1836020577, hashtext($1))", 1, NULL,
                       p, NULL, NULL, 0);
    rc = db_check(res, PGRES_TUPLES_OK, "taking a flow lock", err);
    PQclear(res);
    return rc;
}

int flow_db_intent(const struct flow_ctx *ctx, PGconn *conn, const struct flow_intent *in,
                   uint64_t chain_nonce, int64_t *tx_id, uint64_t *nonce, struct mr_error *err)
{
    struct txs_intent ti;

    memset(&ti, 0, sizeof(ti));
    ti.chain_key = ctx->cfg->chains[in->chain].key;
    ti.sender = in->sender;
    ti.job_id = in->job_id;
    ti.purpose = in->purpose;
    ti.to = in->to;
    ti.calldata = in->data;
    ti.calldata_len = in->len;
    ti.gas_limit = in->gas;
    return txs_create_intent_in_tx(conn, &ti, chain_nonce, tx_id, nonce, err);
}
