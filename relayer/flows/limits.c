/*
 * limits.c - the relayer's value limits and minimum bounty (relayer.limits.
 * per_message, relayer.limits.per_hour, relayer.min_bounty): the decision
 * (pure) and the gate the `msg` flow passes before it records the first
 * call of a message (db/migrations/0010_limits.sql).
 *
 * Race-free with any number of workers and processes: the gate runs in one
 * database transaction that holds the message row and, when per_hour is
 * set, a transaction-scoped advisory lock of the gateway pair; the start it
 * records (relay_started_at) is committed before the lock is released, so
 * the next gate of the pair sums it.
 */
#include "relayer/flows/flows_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/alert.h"
#include "db/db.h"

static const char *const hold_names[] = {
    [FLOW_HOLD_NONE] = "",
    [FLOW_HOLD_PER_MESSAGE] = "per_message",
    [FLOW_HOLD_PER_HOUR] = "per_hour",
    [FLOW_HOLD_MIN_BOUNTY] = "min_bounty",
    [FLOW_HOLD_OPERATOR] = "operator",
};

const char *flow_hold_name(enum flow_hold h)
{
    return (unsigned)h < sizeof(hold_names) / sizeof(hold_names[0]) ? hold_names[h] : "";
}

enum flow_hold flow_hold_parse(const char *name)
{
    for (size_t i = 1; name != NULL && i < sizeof(hold_names) / sizeof(hold_names[0]); i++)
        if (strcmp(hold_names[i], name) == 0)
            return (enum flow_hold)i;
    return FLOW_HOLD_NONE;
}

int flow_limits_apply(int started, int src_latest, int tgt_latest)
{
    return !started && tgt_latest == MOSAIC_UNDECLARED &&
           (src_latest == MOSAIC_DECLARED || src_latest == MOSAIC_PROGRESSED);
}

enum flow_hold flow_limits_decide(const struct config_relayer *pol,
                                  const struct flow_limits_facts *f, char *detail, size_t cap)
{
    char a[80], b[80], c[80], d[80], e[80];
    struct u256 reward, total;

    if (cap > 0)
        detail[0] = '\0';
    if (f->released)
        return FLOW_HOLD_NONE;
    u256_to_dec(&f->amount, a, sizeof(a));
    if (!u256_is_zero(&pol->limit_per_message) && u256_cmp(&f->amount, &pol->limit_per_message) > 0) {
        u256_to_dec(&pol->limit_per_message, b, sizeof(b));
        snprintf(detail, cap, "amount %s wei > relayer.limits.per_message %s wei", a, b);
        return FLOW_HOLD_PER_MESSAGE;
    }
    if (!u256_is_zero(&pol->min_bounty) &&
        u256_mul(&reward, &f->gas_price, &f->gas_limit) == MR_OK &&
        u256_cmp(&reward, &pol->min_bounty) < 0) {
        u256_to_dec(&reward, b, sizeof(b));
        u256_to_dec(&f->gas_price, c, sizeof(c));
        u256_to_dec(&f->gas_limit, d, sizeof(d));
        u256_to_dec(&pol->min_bounty, e, sizeof(e));
        snprintf(detail, cap,
                 "reward at most %s wei (gas price %s x gas limit %s) < relayer.min_bounty %s wei",
                 b, c, d, e);
        return FLOW_HOLD_MIN_BOUNTY;
    }
    if (!u256_is_zero(&pol->limit_per_hour) &&
        (f->window_overflow || u256_add(&total, &f->window, &f->amount) != MR_OK ||
         u256_cmp(&total, &pol->limit_per_hour) > 0)) {
        if (f->window_overflow)
            snprintf(b, sizeof(b), "more than 2^256");
        else
            u256_to_dec(&f->window, b, sizeof(b));
        u256_to_dec(&pol->limit_per_hour, c, sizeof(c));
        snprintf(detail, cap,
                 "amount %s wei + %s wei started in the last hour > relayer.limits.per_hour %s wei",
                 a, b, c);
        return FLOW_HOLD_PER_HOUR;
    }
    return FLOW_HOLD_NONE;
}

/* ------------------------------------------------------------ the gate -- */

static int u256_text(const char *s, struct u256 *out)
{
    return u256_parse_dec(out, s, strlen(s), 1, NULL);
}

/* The amounts of the pair's other messages started in the trailing hour. */
static int window_sum(PGconn *conn, const char *pair, const char *mh, struct flow_limits_facts *f,
                      struct mr_error *err)
{
    const char *p[2] = {pair, mh};
    PGresult *res;
    int rc;

    res = PQexecParams(conn,
                       "SELECT pg_advisory_xact_lock(1836020577, hashtext('limits:' || $1))", 1,
                       NULL, p, NULL, NULL, 0);
    rc = db_check(res, PGRES_TUPLES_OK, "taking the pair's limits lock", err);
    PQclear(res);
    if (rc != MR_OK)
        return rc;
    /* A statement after the lock: its snapshot sees every start committed
     * before the lock was granted. */
    res = PQexecParams(conn,
                       "SELECT coalesce(sum(amount), 0)::text FROM " DB_SCHEMA ".messages"
                       " WHERE gateway_pair = $1 AND relay_started_at > clock_timestamp() -"
                       " interval '1 hour' AND message_hash <> $2::bytea",
                       2, NULL, p, NULL, NULL, 0);
    rc = db_check(res, PGRES_TUPLES_OK, "summing the pair's last hour", err);
    if (rc == MR_OK && u256_text(PQgetvalue(res, 0, 0), &f->window) != MR_OK)
        f->window_overflow = 1; /* > 2^256 - 1: over any limit */
    PQclear(res);
    return rc;
}

int flow_limits_gate(PGconn *conn, const struct config_relayer *pol, const uint8_t mh[32],
                     struct flow_gate *g, struct mr_error *err)
{
    struct flow_limits_facts f;
    char mht[67], hx[67], msg[800];
    const char *p[4];
    const char *state;
    PGresult *res;
    int rc, started, is_redeem;

    memset(g, 0, sizeof(*g));
    memset(&f, 0, sizeof(f));
    flow_bytea_text(mh, 32, mht);
    flow_hex(mh, 32, hx);
    p[0] = mht;
    res = PQexecParams(conn,
                       "SELECT gateway_pair, flow, amount::text, gas_price::text, gas_limit::text,"
                       " state, relay_started_at IS NOT NULL OR EXISTS (SELECT 1 FROM " DB_SCHEMA
                       ".message_txs t WHERE t.message_hash = m.message_hash),"
                       " released_at IS NOT NULL, coalesce(held_reason, ''),"
                       " coalesce(held_detail, '')"
                       " FROM " DB_SCHEMA ".messages m WHERE message_hash = $1::bytea FOR UPDATE",
                       1, NULL, p, NULL, NULL, 0);
    rc = db_check(res, PGRES_TUPLES_OK, "locking the message", err);
    if (rc == MR_OK && PQntuples(res) != 1)
        rc = mr_fail(err, MR_ERR_NOTFOUND, "no message %s", hx);
    if (rc != MR_OK) {
        PQclear(res);
        return rc;
    }
    snprintf(g->pair, sizeof(g->pair), "%s", PQgetvalue(res, 0, 0));
    is_redeem = strcmp(PQgetvalue(res, 0, 1), "redeem") == 0;
    state = PQgetvalue(res, 0, 5);
    started = PQgetvalue(res, 0, 6)[0] == 't';
    f.released = PQgetvalue(res, 0, 7)[0] == 't';
    if (u256_text(PQgetvalue(res, 0, 2), &f.amount) != MR_OK ||
        u256_text(PQgetvalue(res, 0, 3), &f.gas_price) != MR_OK ||
        u256_text(PQgetvalue(res, 0, 4), &f.gas_limit) != MR_OK) {
        PQclear(res);
        return mr_fail(err, MR_ERR_INVALID, "message %s: malformed amounts", hx);
    }
    if (strcmp(state, "completed") == 0 || strcmp(state, "reverted") == 0 ||
        strcmp(state, "halted") == 0 || strcmp(state, "refused") == 0) {
        g->skipped = 1;
        PQclear(res);
        return MR_OK;
    }
    if (strcmp(state, "held") == 0) {
        g->hold = flow_hold_parse(PQgetvalue(res, 0, 8));
        if (g->hold == FLOW_HOLD_NONE)
            g->hold = FLOW_HOLD_OPERATOR;
        snprintf(g->detail, sizeof(g->detail), "%s", PQgetvalue(res, 0, 9));
        PQclear(res);
        return MR_OK;
    }
    PQclear(res);
    if (started)
        return MR_OK; /* never held retroactively */
    if (!f.released && !u256_is_zero(&pol->limit_per_hour) &&
        (rc = window_sum(conn, g->pair, mht, &f, err)) != MR_OK)
        return rc;
    g->hold = flow_limits_decide(pol, &f, g->detail, sizeof(g->detail));
    if (g->hold == FLOW_HOLD_NONE) {
        res = PQexecParams(conn,
                           "UPDATE " DB_SCHEMA ".messages SET relay_started_at = clock_timestamp()"
                           " WHERE message_hash = $1::bytea",
                           1, NULL, p, NULL, NULL, 0);
        rc = db_check(res, PGRES_COMMAND_OK, "recording the start", err);
        PQclear(res);
        return rc;
    }
    p[1] = flow_hold_name(g->hold);
    p[2] = g->detail;
    res = PQexecParams(conn,
                       "UPDATE " DB_SCHEMA ".messages SET state = 'held', held_reason = $2,"
                       " held_detail = $3, held_at = now(), updated_at = now()"
                       " WHERE message_hash = $1::bytea",
                       3, NULL, p, NULL, NULL, 0);
    rc = db_check(res, PGRES_COMMAND_OK, "holding the message", err);
    PQclear(res);
    if (rc != MR_OK)
        return rc;
    g->newly_held = 1;
    {
        char amount[80];
        u256_to_dec(&f.amount, amount, sizeof(amount));
        snprintf(msg, sizeof(msg),
                 "%s %s of %s wei on pair %s held (%s): %s; release it with `mosaic-relayer "
                 "message release %s`",
                 is_redeem ? "redeem" : "stake", hx, amount, g->pair, flow_hold_name(g->hold),
                 g->detail, hx);
    }
    return alert_raise(conn, "warning", "limits", hx, msg, err);
}
