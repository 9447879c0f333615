/*
 * reorg.c - a reorganisation below the cursor: the common ancestor among
 * the stored headers, and one transaction that undoes what came from the
 * orphaned blocks (RELIABILITY.md row 1).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/db.h"
#include "watchers/watch_int.h"

#define PAGE 64

/* Where the orphaned part of the chain begins. */
struct ancestor {
    int found;                 /* 0: everything from start_block is orphaned */
    uint64_t number;
    uint8_t hash[32];
    uint64_t first_orphaned;
};

/* Compares one page of stored headers (newest first) with the node's. */
static int compare_page(struct watcher *w, PGresult *page, struct ancestor *a,
                        struct mr_error *err)
{
    int rows = PQntuples(page), rc;
    uint64_t numbers[PAGE];
    uint8_t hashes[PAGE][32];
    struct eth_block blocks[PAGE];
    int found[PAGE];

    for (int i = 0; i < rows; i++) {
        numbers[i] = strtoull(PQgetvalue(page, i, 0), NULL, 10);
        if (watch_unhex(PQgetvalue(page, i, 1), hashes[i], 32) != MR_OK)
            return mr_fail(err, MR_ERR_INVALID, "chain %s: bad stored header hash at %llu",
                           w->cfg.chain_key, (unsigned long long)numbers[i]);
    }
    rc = watch_fetch_headers(w->rpc, numbers, (size_t)rows, blocks, found, err);
    if (rc != MR_OK)
        return rc;
    for (int i = 0; i < rows; i++) {
        if (found[i] && memcmp(blocks[i].hash, hashes[i], 32) == 0) {
            a->found = 1;
            a->number = numbers[i];
            memcpy(a->hash, hashes[i], 32);
            a->first_orphaned = numbers[i] + 1;
            return MR_OK;
        }
    }
    return MR_OK;
}

/* Walks the stored headers down from the cursor to the newest one the node
 * still has.  MR_ERR_INVALID (and an alert) when none is left to compare. */
static int find_ancestor(struct watcher *w, const struct watch_cursor *cur, struct ancestor *a,
                         struct mr_error *err)
{
    uint64_t below = cur->block;
    char lim[24], msg[256];
    int64_t oldest = -1;

    memset(a, 0, sizeof(a[0]));
    for (;;) {
        const char *p[2] = {w->cfg.chain_key, lim};
        PGresult *page;
        uint64_t last;
        int rows, rc;
        snprintf(lim, sizeof(lim), "%llu", (unsigned long long)below);
        page = watch_sql(w->db, "reading stored headers",
                         "SELECT number, encode(hash, 'hex') FROM " DB_SCHEMA ".block_headers"
                         " WHERE chain_key = $1 AND number <= $2::bigint ORDER BY number DESC"
                         " LIMIT 64",
                         2, p, PGRES_TUPLES_OK, err);
        if (page == NULL)
            return MR_ERR_IO;
        rows = PQntuples(page);
        if (rows == 0) {
            PQclear(page);
            break;
        }
        rc = compare_page(w, page, a, err);
        last = strtoull(PQgetvalue(page, rows - 1, 0), NULL, 10);
        oldest = (int64_t)last;
        PQclear(page);
        if (rc != MR_OK || a->found)
            return rc;
        if (last == 0)
            break;
        below = last - 1;
    }
    /* Nothing stored still matches.  If the headers reach back to the start
     * block (none was pruned), everything from there is orphaned; otherwise
     * the reorganisation is deeper than what we kept: stop and say so. */
    if (oldest >= 0 && (uint64_t)oldest == w->cfg.start_block) {
        a->first_orphaned = w->cfg.start_block;
        return MR_OK;
    }
    snprintf(msg, sizeof(msg),
             "reorganisation below block %llu is deeper than the stored headers: the watcher "
             "stopped; check the chain and rescan",
             (unsigned long long)cur->block);
    (void)watch_alert(w->db, "critical", w->cfg.chain_key, w->cfg.chain_key, msg, NULL);
    return mr_fail(err, MR_ERR_INVALID, "chain %s: %s", w->cfg.chain_key, msg);
}

/* Messages declared in orphaned blocks.  Out: two arrays of bare hex. */
static int dropped_messages(struct watcher *w, const char *first, struct db_sbuf *drop,
                            struct db_sbuf *halt, size_t *n_drop, size_t *n_halt,
                            struct mr_error *err)
{
    const char *p[2] = {w->cfg.chain_key, first};
    PGresult *res = watch_sql(
        w->db, "finding orphaned declarations",
        "SELECT encode(m.message_hash, 'hex'), (m.state <> 'declared'"
        " OR EXISTS (SELECT 1 FROM " DB_SCHEMA ".jobs j WHERE j.kind = 'msg'"
        "  AND j.args ->> 'message_hash' = '0x' || encode(m.message_hash, 'hex')"
        "  AND (j.attempt > 0 OR j.state = 'running'))"
        " OR EXISTS (SELECT 1 FROM " DB_SCHEMA ".transactions t JOIN " DB_SCHEMA ".jobs j"
        "  ON j.id = t.job_id WHERE j.kind = 'msg'"
        "  AND j.args ->> 'message_hash' = '0x' || encode(m.message_hash, 'hex')))"
        " FROM " DB_SCHEMA ".messages m WHERE m.source_chain = $1"
        " AND m.declared_block >= $2::bigint AND m.state <> 'halted'",
        2, p, PGRES_TUPLES_OK, err);

    if (res == NULL)
        return MR_ERR_IO;
    db_arr_begin(drop);
    db_arr_begin(halt);
    for (int i = 0; i < PQntuples(res); i++) {
        int acted = PQgetvalue(res, i, 1)[0] == 't';
        db_arr_text(acted ? halt : drop, PQgetvalue(res, i, 0));
        (*(acted ? n_halt : n_drop))++;
    }
    db_arr_end(drop);
    db_arr_end(halt);
    PQclear(res);
    if (drop->oom || halt->oom)
        return mr_fail(err, MR_ERR_NOMEM, "reorg: out of memory");
    return MR_OK;
}

/* Deletes the messages nobody acted on, with their jobs; their secrets go
 * back to pending_secrets for when the declaration is mined again. */
static int drop(struct watcher *w, const char *arr, struct mr_error *err)
{
    const char *p[1] = {arr};
    PGresult *res = watch_sql(
        w->db, "dropping orphaned messages",
        "WITH d AS (SELECT decode(x, 'hex') AS mh, '0x' || x AS hx FROM unnest($1::text[]) AS x),"
        " sec AS (INSERT INTO " DB_SCHEMA ".pending_secrets (hashlock, secret)"
        "  SELECT s.hashlock, s.secret FROM " DB_SCHEMA ".unlock_secrets s JOIN d"
        "  ON s.message_hash = d.mh ON CONFLICT (hashlock) DO NOTHING RETURNING 1),"
        " j AS (DELETE FROM " DB_SCHEMA ".jobs WHERE kind = 'msg'"
        "  AND args ->> 'message_hash' IN (SELECT hx FROM d) AND state <> 'running' RETURNING 1),"
        " m AS (DELETE FROM " DB_SCHEMA ".messages WHERE message_hash IN (SELECT mh FROM d)"
        "  RETURNING 1)"
        " SELECT (SELECT count(*) FROM m), (SELECT count(*) FROM sec), (SELECT count(*) FROM j)",
        1, p, PGRES_TUPLES_OK, err);

    if (res == NULL)
        return MR_ERR_IO;
    watch_log(w, 2, "reorg: %s messages dropped, %s secrets back to pending, %s jobs deleted",
              PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 2));
    PQclear(res);
    return MR_OK;
}

/* Halts the messages the relayer already acted on, cancels their waiting
 * jobs, and raises one alert each. */
static int halt(struct watcher *w, const char *arr, const char *first, struct mr_error *err)
{
    char reason[256];
    const char *p[2] = {arr, reason};
    PGresult *res;
    int rc = MR_OK;

    snprintf(reason, sizeof(reason),
             "its declaration on %s (block >= %s) was reorganised away after the relayer acted "
             "on it: an operator must decide",
             w->cfg.chain_key, first);
    res = watch_sql(
        w->db, "halting orphaned messages",
        "WITH d AS (SELECT decode(x, 'hex') AS mh, '0x' || x AS hx FROM unnest($1::text[]) AS x),"
        " j AS (UPDATE " DB_SCHEMA ".jobs SET state = 'cancelled', finished_at = now(),"
        "  last_error = 'message halted by a reorganisation' WHERE kind = 'msg'"
        "  AND args ->> 'message_hash' IN (SELECT hx FROM d)"
        "  AND state IN ('available', 'scheduled', 'retryable') RETURNING 1)"
        " UPDATE " DB_SCHEMA ".messages SET state = 'halted', halted_reason = $2,"
        "  completed_at = NULL, updated_at = now() WHERE message_hash IN (SELECT mh FROM d)"
        " RETURNING encode(message_hash, 'hex')",
        2, p, PGRES_TUPLES_OK, err);
    if (res == NULL)
        return MR_ERR_IO;
    for (int i = 0; rc == MR_OK && i < PQntuples(res); i++) {
        char subject[67], msg[400];
        snprintf(subject, sizeof(subject), "0x%s", PQgetvalue(res, i, 0));
        snprintf(msg, sizeof(msg), "message %s halted: %s", subject, reason);
        watch_log(w, 0, "%s", msg);
        rc = watch_alert(w->db, "critical", w->cfg.chain_key, subject, msg, err);
    }
    PQclear(res);
    return rc;
}

/* Deletes the orphaned events (and the anchors they made).  Out: the
 * message hashes they were about. */
static int drop_events(struct watcher *w, const char *first, uint8_t (**hashes)[32], size_t *n,
                       size_t *n_events, struct mr_error *err)
{
    const char *p[2] = {w->cfg.chain_key, first};
    PGresult *res = watch_sql(
        w->db, "deleting orphaned anchors",
        "DELETE FROM " DB_SCHEMA ".anchors a USING " DB_SCHEMA ".events e"
        " WHERE e.chain_key = $1 AND e.block_number >= $2::bigint"
        " AND e.kind = 'StateRootAvailable' AND a.chain_key = $1 AND a.tx_hash = e.tx_hash"
        " AND a.block_height = (e.fields ->> 'blockHeight')::numeric",
        2, p, PGRES_COMMAND_OK, err);

    if (res == NULL)
        return MR_ERR_IO;
    PQclear(res);
    res = watch_sql(w->db, "deleting orphaned events",
                    "WITH d AS (DELETE FROM " DB_SCHEMA ".events WHERE chain_key = $1"
                    " AND block_number >= $2::bigint RETURNING message_hash)"
                    " SELECT (SELECT count(*) FROM d), encode(x.mh, 'hex') FROM"
                    " (SELECT DISTINCT message_hash AS mh FROM d WHERE message_hash IS NOT NULL) x"
                    " RIGHT JOIN (SELECT 1) one ON true",
                    2, p, PGRES_TUPLES_OK, err);
    if (res == NULL)
        return MR_ERR_IO;
    *n_events = PQntuples(res) > 0 ? strtoull(PQgetvalue(res, 0, 0), NULL, 10) : 0;
    *hashes = calloc((size_t)PQntuples(res) + 1, sizeof(**hashes));
    if (*hashes == NULL) {
        PQclear(res);
        return mr_fail(err, MR_ERR_NOMEM, "reorg: out of memory");
    }
    *n = 0;
    for (int i = 0; i < PQntuples(res); i++)
        if (!PQgetisnull(res, i, 1) && watch_unhex(PQgetvalue(res, i, 1), (*hashes)[*n], 32) == 0)
            (*n)++;
    PQclear(res);
    return MR_OK;
}

static int rewind_cursor(struct watcher *w, const struct ancestor *a, const char *first,
                         struct mr_error *err)
{
    char num[24], hash[67];
    const char *p[4] = {w->cfg.chain_key, first, a->found ? num : NULL,
                        a->found ? hash + 2 : NULL};
    PGresult *res;

    snprintf(num, sizeof(num), "%llu", (unsigned long long)a->number);
    watch_hex(a->hash, 32, hash);
    res = watch_sql(w->db, "rewinding the cursor",
                    "WITH h AS (DELETE FROM " DB_SCHEMA ".block_headers WHERE chain_key = $1"
                    " AND number >= $2::bigint RETURNING 1)"
                    " UPDATE " DB_SCHEMA ".chains SET cursor_block = $3::bigint,"
                    " cursor_hash = decode($4, 'hex'), updated_at = now() WHERE chain_key = $1",
                    4, p, PGRES_COMMAND_OK, err);
    if (res == NULL)
        return MR_ERR_IO;
    PQclear(res);
    return MR_OK;
}

static int undo(struct watcher *w, const struct watch_cursor *cur, const struct ancestor *a,
                struct watcher_result *res, int *moved, struct mr_error *err)
{
    struct db_sbuf dropa, halta;
    struct watch_cursor now;
    uint8_t(*touched)[32] = NULL;
    size_t n_touched = 0;
    char first[24], msg[256];
    int rc;

    memset(&dropa, 0, sizeof(dropa));
    memset(&halta, 0, sizeof(halta));
    snprintf(first, sizeof(first), "%llu", (unsigned long long)a->first_orphaned);
    rc = db_exec(w->db, "BEGIN", err);
    if (rc == MR_OK)
        rc = watch_read_cursor(w->db, w->cfg.chain_key, &now, 1, err);
    if (rc == MR_OK && (!now.has || now.block != cur->block || memcmp(now.hash, cur->hash, 32)))
        *moved = 1;
    if (rc == MR_OK && !*moved)
        rc = dropped_messages(w, first, &dropa, &halta, &res->dropped_messages,
                              &res->halted_messages, err);
    if (rc == MR_OK && !*moved && res->dropped_messages > 0)
        rc = drop(w, dropa.p, err);
    if (rc == MR_OK && !*moved && res->halted_messages > 0)
        rc = halt(w, halta.p, first, err);
    if (rc == MR_OK && !*moved)
        rc = drop_events(w, first, &touched, &n_touched, &res->orphaned_events, err);
    if (rc == MR_OK && !*moved)
        rc = watch_update_messages(w->db, (const uint8_t(*)[32])touched, n_touched, 1, NULL, err);
    if (rc == MR_OK && !*moved)
        rc = rewind_cursor(w, a, first, err);
    if (rc == MR_OK && !*moved) {
        snprintf(msg, sizeof(msg),
                 "reorganisation: blocks %s..%llu orphaned after they were final by the policy; "
                 "%zu events undone, %zu messages dropped, %zu halted",
                 first, (unsigned long long)cur->block, res->orphaned_events,
                 res->dropped_messages, res->halted_messages);
        watch_log(w, 1, "%s", msg);
        rc = watch_alert(w->db, "warning", w->cfg.chain_key, w->cfg.chain_key, msg, err);
    }
    db_sb_free(&dropa);
    db_sb_free(&halta);
    free(touched);
    if (rc == MR_OK && !*moved) {
        watch_hook(w, "reorg_written");
        return db_exec(w->db, "COMMIT", err);
    }
    PQclear(PQexec(w->db, "ROLLBACK"));
    return rc;
}

int watch_reorg(struct watcher *w, const struct watch_cursor *cur, struct watcher_result *res,
                struct mr_error *err)
{
    struct ancestor a;
    int moved = 0;
    int rc = find_ancestor(w, cur, &a, err);

    if (rc != MR_OK)
        return rc;
    rc = undo(w, cur, &a, res, &moved, err);
    if (rc != MR_OK)
        return rc;
    res->outcome = moved ? WATCHER_RETRY : WATCHER_REORG;
    res->ancestor = a.found ? a.number : 0;
    res->has_cursor = a.found;
    res->cursor = a.number;
    return MR_OK;
}
