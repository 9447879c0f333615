/*
 * breaker.c - the conservation circuit breaker's rows (see breaker.h).
 */
#include "db/breaker.h"

#include <stdio.h>
#include <string.h>

#include "db/alert.h"
#include "db/db.h"

static int rollback(PGconn *conn, int rc)
{
    PQclear(PQexec(conn, "ROLLBACK"));
    return rc;
}

/* Creates the pair's row if absent and locks it (inside a transaction). */
static int lock_row(PGconn *conn, const char *pair, struct mr_error *err)
{
    const char *p[1] = {pair};
    PGresult *res = PQexecParams(conn,
                                 "INSERT INTO " DB_SCHEMA ".breakers (gateway_pair) VALUES ($1)"
                                 " ON CONFLICT DO NOTHING",
                                 1, NULL, p, NULL, NULL, 0);
    int rc = db_check(res, PGRES_COMMAND_OK, "creating the breaker's row", err);

    PQclear(res);
    return rc;
}

int breaker_record(PGconn *conn, const struct breaker_check *c, int *tripped, int *newly,
                   struct mr_error *err)
{
    char ab[24], ob[24], reason[512];
    const char *p[8];
    PGresult *res;
    int rc, was = 0, viol = 0;

    if (tripped != NULL)
        *tripped = 0;
    if (newly != NULL)
        *newly = 0;
    snprintf(ab, sizeof(ab), "%llu", (unsigned long long)c->aux_block);
    snprintf(ob, sizeof(ob), "%llu", (unsigned long long)c->origin_block);
    rc = db_exec(conn, "BEGIN", err);
    if (rc != MR_OK)
        return rc;
    rc = lock_row(conn, c->pair, err);
    if (rc != MR_OK)
        return rollback(conn, rc);
    p[0] = c->pair;
    p[1] = c->circulating;
    p[2] = c->backing;
    res = PQexecParams(conn,
                       "SELECT tripped::int, ($2::numeric - $3::numeric > accepted_excess)::int,"
                       " ($2::numeric - $3::numeric)::text, accepted_excess::text"
                       " FROM " DB_SCHEMA ".breakers WHERE gateway_pair = $1 FOR UPDATE",
                       3, NULL, p, NULL, NULL, 0);
    rc = db_check(res, PGRES_TUPLES_OK, "reading the breaker", err);
    if (rc == MR_OK && PQntuples(res) != 1)
        rc = mr_fail(err, MR_ERR_NOTFOUND, "breaker of pair '%s': no row", c->pair);
    if (rc == MR_OK) {
        was = strcmp(PQgetvalue(res, 0, 0), "1") == 0;
        viol = strcmp(PQgetvalue(res, 0, 1), "1") == 0;
        snprintf(reason, sizeof(reason),
                 "conservation broken on pair %s: utility tokens circulating on %s at block %s"
                 " (%s) exceed the value tokens backing them on %s at block %s (%s) by %s"
                 " (accepted excess %s); relaying for the pair is stopped until an operator"
                 " resets the breaker",
                 c->pair, c->aux_chain, ab, c->circulating, c->origin_chain, ob, c->backing,
                 PQgetvalue(res, 0, 2), PQgetvalue(res, 0, 3));
    }
    PQclear(res);
    if (rc != MR_OK)
        return rollback(conn, rc);
    p[3] = c->aux_chain;
    p[4] = ab;
    p[5] = c->origin_chain;
    p[6] = ob;
    p[7] = viol && !was ? reason : NULL;
    res = PQexecParams(conn,
                       "UPDATE " DB_SCHEMA ".breakers SET circulating = $2::numeric,"
                       " backing = $3::numeric, aux_chain = $4, aux_block = $5::bigint,"
                       " origin_chain = $6, origin_block = $7::bigint, checked_at = now(),"
                       " checks = checks + 1, last_error = NULL, updated_at = now(),"
                       " tripped = tripped OR $8::text IS NOT NULL,"
                       " tripped_at = CASE WHEN $8::text IS NOT NULL THEN now() ELSE tripped_at END,"
                       " trip_reason = coalesce($8::text, trip_reason),"
                       " trip_excess = CASE WHEN $8::text IS NOT NULL THEN $2::numeric - $3::numeric"
                       " WHEN tripped THEN greatest(trip_excess, $2::numeric - $3::numeric)"
                       " ELSE trip_excess END"
                       " WHERE gateway_pair = $1",
                       8, NULL, p, NULL, NULL, 0);
    rc = db_check(res, PGRES_COMMAND_OK, "recording the check", err);
    PQclear(res);
    if (rc == MR_OK && viol && !was) {
        const char *q[7] = {c->pair, reason, c->actor, c->circulating, c->backing, ab, ob};
        res = PQexecParams(conn,
                           "INSERT INTO " DB_SCHEMA ".breaker_log (gateway_pair, action, reason,"
                           " actor, circulating, backing, aux_block, origin_block)"
                           " VALUES ($1, 'trip', $2, $3, $4::numeric, $5::numeric, $6::bigint,"
                           " $7::bigint)",
                           7, NULL, q, NULL, NULL, 0);
        rc = db_check(res, PGRES_COMMAND_OK, "logging the trip", err);
        PQclear(res);
        if (rc == MR_OK)
            rc = alert_raise(conn, "critical", "conservation", c->pair, reason, err);
    }
    if (rc != MR_OK)
        return rollback(conn, rc);
    rc = db_exec(conn, "COMMIT", err);
    if (rc != MR_OK)
        return rollback(conn, rc);
    if (tripped != NULL)
        *tripped = was || viol;
    if (newly != NULL)
        *newly = viol && !was;
    return MR_OK;
}

int breaker_record_error(PGconn *conn, const char *pair, const char *why, struct mr_error *err)
{
    const char *p[2] = {pair, why};
    PGresult *res = PQexecParams(conn,
                                 "INSERT INTO " DB_SCHEMA ".breakers (gateway_pair, last_error)"
                                 " VALUES ($1, $2) ON CONFLICT (gateway_pair) DO UPDATE SET"
                                 " last_error = $2, updated_at = now()",
                                 2, NULL, p, NULL, NULL, 0);
    int rc = db_check(res, PGRES_COMMAND_OK, "recording a failed check", err);

    PQclear(res);
    return rc;
}

int breaker_is_tripped(PGconn *conn, const char *pair, int *tripped, struct mr_error *err)
{
    const char *p[1] = {pair};
    PGresult *res = PQexecParams(conn,
                                 "SELECT count(*) FROM " DB_SCHEMA ".breakers"
                                 " WHERE gateway_pair = $1 AND tripped",
                                 1, NULL, p, NULL, NULL, 0);
    int rc = db_check(res, PGRES_TUPLES_OK, "reading the breaker", err);

    *tripped = rc == MR_OK && PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "0") != 0;
    PQclear(res);
    return rc;
}

int breaker_reset(PGconn *conn, const char *pair, const char *reason, const char *actor,
                  const char *accept, char *accepted, size_t cap, struct mr_error *err)
{
    const char *p[4] = {pair, accept, reason, actor};
    PGresult *res;
    int rc, was;

    rc = db_exec(conn, "BEGIN", err);
    if (rc != MR_OK)
        return rc;
    res = PQexecParams(conn,
                       "SELECT tripped::int, coalesce($2::numeric, CASE WHEN tripped THEN"
                       " trip_excess END, 0)::text"
                       " FROM " DB_SCHEMA ".breakers WHERE gateway_pair = $1 FOR UPDATE",
                       2, NULL, p, NULL, NULL, 0);
    rc = db_check(res, PGRES_TUPLES_OK, "reading the breaker", err);
    if (rc == MR_OK && PQntuples(res) != 1)
        rc = mr_fail(err, MR_ERR_NOTFOUND, "pair '%s' has no breaker: the conservation monitor "
                     "has never checked it", pair);
    if (rc == MR_OK) {
        was = strcmp(PQgetvalue(res, 0, 0), "1") == 0;
        snprintf(accepted, cap, "%s", PQgetvalue(res, 0, 1));
        if (!was && accept == NULL)
            rc = mr_fail(err, MR_ERR_INVALID, "the breaker of pair '%s' is not tripped", pair);
    }
    PQclear(res);
    if (rc != MR_OK)
        return rollback(conn, rc);
    p[1] = accepted;
    res = PQexecParams(conn,
                       "UPDATE " DB_SCHEMA ".breakers SET tripped = false, tripped_at = NULL,"
                       " accepted_excess = $2::numeric, trip_excess = NULL, reset_at = now(),"
                       " reset_reason = $3,"
                       " updated_at = now() WHERE gateway_pair = $1",
                       3, NULL, p, NULL, NULL, 0);
    rc = db_check(res, PGRES_COMMAND_OK, "resetting the breaker", err);
    PQclear(res);
    if (rc == MR_OK) {
        res = PQexecParams(conn,
                           "INSERT INTO " DB_SCHEMA ".breaker_log (gateway_pair, action, reason,"
                           " actor, circulating, backing, aux_block, origin_block,"
                           " accepted_excess) SELECT gateway_pair, 'reset', $3, $4, circulating,"
                           " backing, aux_block, origin_block, $2::numeric FROM " DB_SCHEMA
                           ".breakers WHERE gateway_pair = $1",
                           4, NULL, p, NULL, NULL, 0);
        rc = db_check(res, PGRES_COMMAND_OK, "logging the reset", err);
        PQclear(res);
    }
    if (rc == MR_OK) {
        res = PQexecParams(conn,
                           "UPDATE " DB_SCHEMA ".alerts SET acknowledged_at = now()"
                           " WHERE component = 'conservation' AND subject = $1"
                           " AND acknowledged_at IS NULL",
                           1, NULL, p, NULL, NULL, 0);
        rc = db_check(res, PGRES_COMMAND_OK, "acknowledging the alerts", err);
        PQclear(res);
    }
    if (rc != MR_OK)
        return rollback(conn, rc);
    rc = db_exec(conn, "COMMIT", err);
    return rc == MR_OK ? MR_OK : rollback(conn, rc);
}
