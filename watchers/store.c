/*
 * store.c - the watcher's SQL: array literals for batched statements,
 * alerts, the cursor, message statuses recomputed from events, and the
 * `msg` jobs (see watch_int.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/alert.h"
#include "db/db.h"
#include "db/queue.h"
#include "eth/hex.h"
#include "watchers/watch_int.h"

void watch_hex(const uint8_t *p, size_t n, char *out)
{
    hex_encode_data(p, n, out, 2 * n + 3);
}

int watch_unhex(const char *h, uint8_t *out, size_t n)
{
    if (strlen(h) != 2 * n)
        return MR_ERR_HEX;
    for (size_t i = 0; i < n; i++) {
        int hi = hex_digit(h[2 * i]), lo = hex_digit(h[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return MR_ERR_HEX;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return MR_OK;
}

/* ---- statements ---- */

PGresult *watch_sql(PGconn *db, const char *what, const char *sql, int n, const char *const *p,
                    ExecStatusType want, struct mr_error *err)
{
    PGresult *res = PQexecParams(db, sql, n, NULL, p, NULL, NULL, 0);

    if (db_check(res, want, what, err) != MR_OK) {
        PQclear(res);
        return NULL;
    }
    return res;
}

int watch_alert(PGconn *db, const char *severity, const char *chain, const char *subject,
                const char *message, struct mr_error *err)
{
    char component[64];

    snprintf(component, sizeof(component), "watcher:%s", chain);
    return alert_raise(db, severity, component, subject, message, err);
}

int watch_cursor_from(const PGresult *res, const char *chain, struct watch_cursor *c,
                      struct mr_error *err)
{
    int rc = db_check(res, PGRES_TUPLES_OK, "reading the cursor", err);

    memset(c, 0, sizeof(*c));
    if (rc != MR_OK)
        return rc;
    if (PQntuples(res) != 1)
        return mr_fail(err, MR_ERR_NOTFOUND,
                       "chain '%s' is not registered in " DB_SCHEMA ".chains", chain);
    if (!PQgetisnull(res, 0, 0)) {
        c->has = 1;
        c->block = strtoull(PQgetvalue(res, 0, 0), NULL, 10);
        if (watch_unhex(PQgetvalue(res, 0, 1), c->hash, 32) != MR_OK)
            return mr_fail(err, MR_ERR_INVALID, "chain '%s': bad cursor_hash in the database",
                           chain);
    }
    return MR_OK;
}

int watch_read_cursor(PGconn *db, const char *chain, struct watch_cursor *c, int for_update,
                      struct mr_error *err)
{
    const char *p[1] = {chain};
    PGresult *res = PQexecParams(db, for_update ? WATCH_CURSOR_SQL " FOR UPDATE" : WATCH_CURSOR_SQL,
                                 1, NULL, p, NULL, NULL, 0);
    int rc = watch_cursor_from(res, chain, c, err);

    PQclear(res);
    return rc;
}

/* Message statuses from the events stored for them.  A status is encoded
 * as rank * 10 + status so that max() picks the furthest along
 * (status_rank in 0005_watchers.sql).  Only events of the message's own
 * pair count, and only from the chain of their side: the outbox on the
 * source chain, the inbox on the target chain. */
#define UPDATE_MESSAGES_SQL                                                                   \
    "WITH t AS (SELECT DISTINCT decode(x, 'hex') AS mh FROM unnest($1::text[]) AS x),"        \
    " agg AS (SELECT m.message_hash,"                                                         \
    "  max(" DB_SCHEMA ".status_rank(f.status) * 10 + f.status) FILTER (WHERE f.side = 'source') AS s," \
    "  max(" DB_SCHEMA ".status_rank(f.status) * 10 + f.status) FILTER (WHERE f.side = 'target') AS t," \
    "  max(e.block_number) FILTER (WHERE f.side = 'target' AND f.status = 1) AS confirmed,"   \
    "  max(e.block_number) FILTER (WHERE f.side = 'source' AND f.status IN (2, 4)) AS sdone," \
    "  max(e.block_number) FILTER (WHERE f.side = 'target' AND f.status IN (2, 4)) AS tdone"  \
    "  FROM t JOIN " DB_SCHEMA ".messages m ON m.message_hash = t.mh"                         \
    "  LEFT JOIN " DB_SCHEMA ".events e ON e.message_hash = m.message_hash"                   \
    "   AND e.gateway_pair = m.gateway_pair"                                                  \
    "  LEFT JOIN " DB_SCHEMA ".event_effects f ON f.kind = e.kind AND f.flow = m.flow"        \
    "   AND e.chain_key = CASE f.side WHEN 'source' THEN m.source_chain ELSE m.target_chain END" \
    "  GROUP BY m.message_hash)"                                                              \
    " UPDATE " DB_SCHEMA ".messages m SET"                                                    \
    "  source_status = CASE WHEN a.s IS NULL THEN m.source_status"                            \
    "   WHEN $2::bool OR a.s / 10 > " DB_SCHEMA ".status_rank(m.source_status) THEN a.s % 10" \
    "   ELSE m.source_status END,"                                                            \
    "  target_status = CASE WHEN $2::bool THEN coalesce(a.t % 10, 0)"                          \
    "   WHEN a.t / 10 > " DB_SCHEMA ".status_rank(m.target_status) THEN a.t % 10"             \
    "   ELSE m.target_status END,"                                                            \
    "  confirmed_block = CASE WHEN $2::bool THEN a.confirmed"                                 \
    "   ELSE coalesce(a.confirmed, m.confirmed_block) END,"                                   \
    "  source_done_block = CASE WHEN $2::bool THEN a.sdone"                                   \
    "   ELSE coalesce(a.sdone, m.source_done_block) END,"                                     \
    "  target_done_block = CASE WHEN $2::bool THEN a.tdone"                                   \
    "   ELSE coalesce(a.tdone, m.target_done_block) END,"                                     \
    "  updated_at = now()"                                                                    \
    " FROM agg a WHERE m.message_hash = a.message_hash"                                       \
    " RETURNING encode(m.message_hash, 'hex'), m.state"

int watch_update_messages(PGconn *db, const uint8_t (*hashes)[32], size_t n, int reorg,
                          size_t *jobs, struct mr_error *err)
{
    struct db_sbuf arr;
    const char *p[2];
    uint8_t(*todo)[32] = NULL;
    size_t ntodo = 0;
    PGresult *res;
    int rc;

    if (jobs != NULL)
        *jobs = 0;
    if (n == 0)
        return MR_OK;
    db_arr_begin(&arr);
    for (size_t i = 0; i < n; i++)
        db_arr_hex(&arr, hashes[i], 32);
    db_arr_end(&arr);
    if (arr.oom) {
        db_sb_free(&arr);
        return mr_fail(err, MR_ERR_NOMEM, "message statuses: out of memory");
    }
    p[0] = arr.p;
    p[1] = reorg ? "true" : "false";
    res = watch_sql(db, "updating message statuses", UPDATE_MESSAGES_SQL, 2, p, PGRES_TUPLES_OK,
                    err);
    db_sb_free(&arr);
    if (res == NULL)
        return MR_ERR_IO;
    todo = calloc((size_t)PQntuples(res) + 1, sizeof(*todo));
    if (todo == NULL) {
        PQclear(res);
        return mr_fail(err, MR_ERR_NOMEM, "message statuses: out of memory");
    }
    for (int i = 0; i < PQntuples(res); i++) {
        const char *state = PQgetvalue(res, i, 1);
        if (strcmp(state, "halted") == 0 || strcmp(state, "refused") == 0)
            continue;
        if (watch_unhex(PQgetvalue(res, i, 0), todo[ntodo], 32) == MR_OK)
            ntodo++;
    }
    PQclear(res);
    rc = watch_enqueue_msg(db, (const uint8_t(*)[32])todo, ntodo, err);
    free(todo);
    if (rc == MR_OK && jobs != NULL)
        *jobs = ntodo;
    return rc;
}

int watch_enqueue_msg(PGconn *db, const uint8_t (*hashes)[32], size_t n, struct mr_error *err)
{
    struct queue_job_spec *specs;
    char(*args)[96], (*keys)[80];
    int rc;

    if (n == 0)
        return MR_OK;
    specs = calloc(n, sizeof(*specs));
    args = calloc(n, sizeof(*args));
    keys = calloc(n, sizeof(*keys));
    if (specs == NULL || args == NULL || keys == NULL) {
        free(specs);
        free(args);
        free(keys);
        return mr_fail(err, MR_ERR_NOMEM, "enqueue: out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        char hx[67];
        watch_hex(hashes[i], 32, hx);
        snprintf(args[i], sizeof(args[i]), "{\"message_hash\":\"%s\"}", hx);
        snprintf(keys[i], sizeof(keys[i]), "msg:%s", hx);
        specs[i].kind = "msg";
        specs[i].args_json = args[i];
        specs[i].dedup_key = keys[i];
    }
    rc = queue_enqueue_batch(db, specs, n, NULL, err);
    /* A message whose job is already waiting (a flow's poll, a retry) has
     * news now: run it at once instead of after its delay (make chaos: the
     * event that lets a message finish used to be swallowed by the dedup
     * and the message completed only at its next poll, up to 30 s later). */
    if (rc == MR_OK) {
        const char **k = calloc(n, sizeof(*k));
        if (k == NULL) {
            rc = mr_fail(err, MR_ERR_NOMEM, "enqueue: out of memory");
        } else {
            for (size_t i = 0; i < n; i++)
                k[i] = keys[i];
            rc = queue_wake(db, k, n, NULL, err);
            free(k);
        }
    }
    free(specs);
    free(args);
    free(keys);
    return rc;
}

int watch_write_heads(struct watcher *w, const struct watch_heads *hd, struct mr_error *err)
{
    char head[24], fin[24];
    const char *p[3] = {w->cfg.chain_key, head, hd->h.has_finalized ? fin : NULL};
    int64_t f = hd->h.has_finalized ? (int64_t)hd->h.finalized : -1;
    PGresult *res;

    if ((int64_t)hd->h.head == w->written_head && f == w->written_finalized)
        return MR_OK;
    snprintf(head, sizeof(head), "%llu", (unsigned long long)hd->h.head);
    snprintf(fin, sizeof(fin), "%llu", (unsigned long long)hd->h.finalized);
    res = watch_sql(w->db, "writing the heads",
                    "UPDATE " DB_SCHEMA ".chains SET head_block = $2::bigint,"
                    " finalized_block = coalesce($3::bigint, finalized_block), updated_at = now()"
                    " WHERE chain_key = $1",
                    3, p, PGRES_COMMAND_OK, err);
    if (res == NULL)
        return MR_ERR_IO;
    PQclear(res);
    w->written_head = (int64_t)hd->h.head;
    w->written_finalized = f;
    return MR_OK;
}
