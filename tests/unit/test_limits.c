/*
 * test_limits.c - the relayer's value limits and minimum bounty
 * (relayer/flows/limits.c, db/migrations/0010_limits.sql, `message
 * release|hold`, the views, `status`, the metrics):
 *
 *   - the decision (pure): per_message, min_bounty, per_hour in that
 *     order, zero = none, boundaries (equal passes), overflows, released;
 *     which messages the limits apply to (never a started one, never a
 *     revocation, never one someone else confirmed);
 *   - the gate on a real PostgreSQL: a hold writes the state, reason,
 *     detail and one alert, and a held message stays held without a second
 *     alert; a pass records the start; the per-hour window sums the pair's
 *     starts of the trailing hour (not older ones, not other pairs, not held
 *     ones); a started message is never held; two sessions racing for the
 *     last room in the window: the second waits for the first's lock and
 *     is held (exactly one passes);
 *   - `message release` and `message hold` through the binary: who, when,
 *     why, the alert acknowledged, the msg job queued (dedup), a released
 *     message passes the gate while its amount counts in the window; the
 *     errors (unknown hash, not held, already completed, started);
 *   - `message list --status held`, `message show`, `status`, the read-only
 *     role reading the views and not the table, and the metrics
 *     mosaic_limits_held_messages / _value_wei from metrics_collect_db.
 */
#include "tests/lib/testlib.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db/db.h"
#include "eth/mosaic.h"
#include "relayer/flows/flows_int.h"
#include "relayer/metrics.h"
#include "tests/lib/promparse.h"

static struct config_relayer policy(uint64_t per_message, uint64_t per_hour, uint64_t min_bounty)
{
    struct config_relayer p;

    memset(&p, 0, sizeof(p));
    u256_from_u64(&p.limit_per_message, per_message);
    u256_from_u64(&p.limit_per_hour, per_hour);
    u256_from_u64(&p.min_bounty, min_bounty);
    return p;
}

static struct flow_limits_facts facts(uint64_t amount, uint64_t gp, uint64_t gl, uint64_t window)
{
    struct flow_limits_facts f;

    memset(&f, 0, sizeof(f));
    u256_from_u64(&f.amount, amount);
    u256_from_u64(&f.gas_price, gp);
    u256_from_u64(&f.gas_limit, gl);
    u256_from_u64(&f.window, window);
    return f;
}

/* ------------------------------------------------------------ pure -- */

static void test_decide(void **state)
{
    struct config_relayer none = policy(0, 0, 0), p = policy(1000, 5000, 300);
    struct flow_limits_facts f;
    char d[400];

    (void)state;
    /* No policy: nothing is held, whatever the amount. */
    f = facts(UINT64_MAX, 0, 0, UINT64_MAX);
    assert_int_equal(flow_limits_decide(&none, &f, d, sizeof(d)), FLOW_HOLD_NONE);
    assert_string_equal(d, "");

    /* per_message: above holds, equal passes. */
    f = facts(1001, 1, 1000, 0);
    assert_int_equal(flow_limits_decide(&p, &f, d, sizeof(d)), FLOW_HOLD_PER_MESSAGE);
    assert_string_equal(d, "amount 1001 wei > relayer.limits.per_message 1000 wei");
    f = facts(1000, 1, 1000, 0);
    assert_int_equal(flow_limits_decide(&p, &f, d, sizeof(d)), FLOW_HOLD_NONE);

    /* min_bounty: gasPrice x gasLimit below holds, equal passes; gas price 0. */
    f = facts(500, 1, 299, 0);
    assert_int_equal(flow_limits_decide(&p, &f, d, sizeof(d)), FLOW_HOLD_MIN_BOUNTY);
    assert_string_equal(d, "reward at most 299 wei (gas price 1 x gas limit 299) < "
                           "relayer.min_bounty 300 wei");
    f = facts(500, 3, 100, 0);
    assert_int_equal(flow_limits_decide(&p, &f, d, sizeof(d)), FLOW_HOLD_NONE);
    f = facts(500, 0, 1000000, 0);
    assert_int_equal(flow_limits_decide(&p, &f, d, sizeof(d)), FLOW_HOLD_MIN_BOUNTY);
    /* A product that overflows is more than any minimum. */
    memset(f.gas_price.w, 0xff, sizeof(f.gas_price.w));
    u256_from_u64(&f.gas_limit, 2);
    assert_int_equal(flow_limits_decide(&p, &f, d, sizeof(d)), FLOW_HOLD_NONE);

    /* per_hour: window + amount above holds, equal passes. */
    f = facts(1000, 1, 1000, 4001);
    assert_int_equal(flow_limits_decide(&p, &f, d, sizeof(d)), FLOW_HOLD_PER_HOUR);
    assert_string_equal(d, "amount 1000 wei + 4001 wei started in the last hour > "
                           "relayer.limits.per_hour 5000 wei");
    f = facts(1000, 1, 1000, 4000);
    assert_int_equal(flow_limits_decide(&p, &f, d, sizeof(d)), FLOW_HOLD_NONE);
    f = facts(1, 1, 1000, 0);
    f.window_overflow = 1;
    assert_int_equal(flow_limits_decide(&p, &f, d, sizeof(d)), FLOW_HOLD_PER_HOUR);
    assert_non_null(strstr(d, "more than 2^256"));
    /* window + amount overflowing 256 bits. */
    {
        struct config_relayer big = policy(0, 0, 0);
        memset(big.limit_per_hour.w, 0xff, sizeof(big.limit_per_hour.w));
        f = facts(2, 1, 1000, 0);
        memset(f.window.w, 0xff, sizeof(f.window.w));
        assert_int_equal(flow_limits_decide(&big, &f, d, sizeof(d)), FLOW_HOLD_PER_HOUR);
    }

    /* Order: per_message first, then min_bounty, then per_hour. */
    f = facts(2000, 0, 0, 100000);
    assert_int_equal(flow_limits_decide(&p, &f, d, sizeof(d)), FLOW_HOLD_PER_MESSAGE);
    f = facts(10, 0, 0, 100000);
    assert_int_equal(flow_limits_decide(&p, &f, d, sizeof(d)), FLOW_HOLD_MIN_BOUNTY);

    /* Released by an operator: passes everything. */
    f = facts(2000, 0, 0, 100000);
    f.released = 1;
    assert_int_equal(flow_limits_decide(&p, &f, d, sizeof(d)), FLOW_HOLD_NONE);

    /* A short buffer is cut, not overrun. */
    f = facts(1001, 1, 1000, 0);
    assert_int_equal(flow_limits_decide(&p, &f, d, 8), FLOW_HOLD_PER_MESSAGE);
    assert_string_equal(d, "amount ");
}

static void test_apply_and_names(void **state)
{
    (void)state;
    assert_true(flow_limits_apply(0, MOSAIC_DECLARED, MOSAIC_UNDECLARED));
    assert_true(flow_limits_apply(0, MOSAIC_PROGRESSED, MOSAIC_UNDECLARED));
    /* Started by us: never held retroactively. */
    assert_false(flow_limits_apply(1, MOSAIC_DECLARED, MOSAIC_UNDECLARED));
    /* Someone else confirmed or progressed it on the target. */
    assert_false(flow_limits_apply(0, MOSAIC_DECLARED, MOSAIC_DECLARED));
    assert_false(flow_limits_apply(0, MOSAIC_PROGRESSED, MOSAIC_PROGRESSED));
    /* A revocation the sender declared moves no value. */
    assert_false(flow_limits_apply(0, MOSAIC_DECLARED_REVOCATION, MOSAIC_UNDECLARED));
    assert_false(flow_limits_apply(0, MOSAIC_REVOKED, MOSAIC_REVOKED));
    assert_false(flow_limits_apply(0, MOSAIC_UNDECLARED, MOSAIC_UNDECLARED));

    for (int h = FLOW_HOLD_PER_MESSAGE; h <= FLOW_HOLD_OPERATOR; h++)
        assert_int_equal(flow_hold_parse(flow_hold_name((enum flow_hold)h)), h);
    assert_string_equal(flow_hold_name(FLOW_HOLD_NONE), "");
    assert_int_equal(flow_hold_parse("bogus"), FLOW_HOLD_NONE);
    assert_int_equal(flow_hold_parse(NULL), FLOW_HOLD_NONE);
}

/* -------------------------------------------------------- database -- */

static void exec(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);

    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQerrorMessage(c));
    PQclear(r);
}

static void mh_of(int i, uint8_t mh[32])
{
    memset(mh, 0xab, 32);
    mh[31] = (uint8_t)i;
}

static void mh_hex(int i, char out[67])
{
    char *p = out;

    p += sprintf(p, "0x");
    for (int k = 0; k < 31; k++)
        p += sprintf(p, "ab");
    sprintf(p, "%02x", i & 0xff);
}

/* A stake i of pair `pair`: amount, gas price x gas limit 1 x reward. */
static void add_msg(PGconn *c, int i, const char *pair, uint64_t amount, uint64_t reward)
{
    char sql[1024];

    snprintf(sql, sizeof(sql),
             "INSERT INTO mosaic.messages (message_hash, flow, gateway_pair, source_chain,"
             " target_chain, intent_hash, sender, nonce, beneficiary, amount, gas_price,"
             " gas_limit, hashlock, declared_block) VALUES (decode(repeat('ab', 31) || '%02x',"
             " 'hex'), 'stake', '%s', 'origin', 'aux', decode(repeat('22', 32), 'hex'),"
             " decode(repeat('33', 20), 'hex'), %d, decode(repeat('44', 20), 'hex'), %llu, 1,"
             " %llu, decode(repeat('55', 32), 'hex'), 5)",
             i, pair, i, (unsigned long long)amount, (unsigned long long)reward);
    exec(c, sql);
}

/* SELECT `what` of message i, WHERE also `extra`. */
static int64_t q(PGconn *c, const char *what, int i, const char *extra)
{
    char sql[512];

    snprintf(sql, sizeof(sql),
             "SELECT %s FROM mosaic.messages WHERE message_hash = decode(repeat('ab', 31) ||"
             " '%02x', 'hex') %s",
             what, i, extra);
    return tv_pg_int64(c, sql);
}

static char *text1(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    char *s;

    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
        fail_msg("%s: %s", sql, PQerrorMessage(c));
    s = strdup(PQgetvalue(r, 0, 0));
    PQclear(r);
    return s;
}

/* One gate in its own transaction. */
static struct flow_gate gate1(PGconn *c, const struct config_relayer *p, int i)
{
    struct flow_gate g;
    struct mr_error err;
    uint8_t mh[32];

    mh_of(i, mh);
    exec(c, "BEGIN");
    if (flow_limits_gate(c, p, mh, &g, &err) != MR_OK)
        fail_msg("gate %d: %s", i, err.msg);
    exec(c, "COMMIT");
    return g;
}

static PGconn *fixture(char **ci)
{
    PGconn *c = tv_pg_migrated(ci);

    exec(c, "INSERT INTO mosaic.chains (chain_key, chain_id, role) VALUES"
            " ('origin', 1, 'origin'), ('aux', 2, 'auxiliary')");
    return c;
}

static void test_gate(void **state)
{
    struct config_relayer p = policy(1000, 2500, 100);
    struct flow_gate g;
    struct mr_error err;
    uint8_t mh[32];
    char *ci, *s;
    PGconn *c;

    (void)state;
    TV_REQUIRE_PG();
    c = fixture(&ci);
    add_msg(c, 1, "p1", 900, 1000);      /* passes */
    add_msg(c, 2, "p1", 5000, 1000);     /* per_message */
    add_msg(c, 3, "p1", 500, 99);        /* min_bounty */
    add_msg(c, 4, "p1", 1000, 1000);     /* 900 + 1000 <= 2500: passes */
    add_msg(c, 5, "p1", 700, 1000);      /* 1900 + 700 > 2500: per_hour */
    add_msg(c, 6, "p2", 700, 1000);      /* the other pair's window is empty */
    add_msg(c, 7, "p1", 600, 1000);      /* 1900 + 600 = 2500: passes */
    add_msg(c, 8, "p1", 9000, 1000);     /* started before: never held */

    g = gate1(c, &p, 1);
    assert_int_equal(g.hold, FLOW_HOLD_NONE);
    assert_false(g.newly_held);
    assert_string_equal(g.pair, "p1");
    assert_int_equal(q(c, "(relay_started_at IS NOT NULL)::int", 1, ""), 1);
    assert_int_equal(q(c, "count(*)", 1, "AND state = 'declared'"), 1);

    g = gate1(c, &p, 2);
    assert_int_equal(g.hold, FLOW_HOLD_PER_MESSAGE);
    assert_true(g.newly_held);
    assert_int_equal(q(c, "count(*)", 2, "AND state = 'held' AND held_reason ="
                          " 'per_message' AND held_at IS NOT NULL AND relay_started_at IS NULL"), 1);
    s = text1(c, "SELECT held_detail FROM mosaic.messages WHERE gateway_pair = 'p1' AND nonce = 2");
    assert_string_equal(s, "amount 5000 wei > relayer.limits.per_message 1000 wei");
    free(s);
    /* One alert naming the message, pair, amount, limit and reason. */
    assert_int_equal(tv_pg_int64(c, "SELECT count(*) FROM mosaic.alerts WHERE component = 'limits'"), 1);
    s = text1(c, "SELECT subject || ' | ' || message FROM mosaic.alerts WHERE component = 'limits'");
    {
        char hx[67], want[600];
        mh_hex(2, hx);
        snprintf(want, sizeof(want),
                 "%s | stake %s of 5000 wei on pair p1 held (per_message): amount 5000 wei >"
                 " relayer.limits.per_message 1000 wei; release it with `mosaic-relayer message"
                 " release %s`",
                 hx, hx, hx);
        assert_string_equal(s, want);
    }
    free(s);
    /* Held stays held, with no second alert. */
    g = gate1(c, &p, 2);
    assert_int_equal(g.hold, FLOW_HOLD_PER_MESSAGE);
    assert_false(g.newly_held);
    assert_string_equal(g.detail, "amount 5000 wei > relayer.limits.per_message 1000 wei");
    assert_int_equal(tv_pg_int64(c, "SELECT count(*) FROM mosaic.alerts"), 1);

    g = gate1(c, &p, 3);
    assert_int_equal(g.hold, FLOW_HOLD_MIN_BOUNTY);
    g = gate1(c, &p, 4);
    assert_int_equal(g.hold, FLOW_HOLD_NONE);
    g = gate1(c, &p, 5);
    assert_int_equal(g.hold, FLOW_HOLD_PER_HOUR);
    assert_string_equal(g.detail, "amount 700 wei + 1900 wei started in the last hour >"
                                  " relayer.limits.per_hour 2500 wei");
    g = gate1(c, &p, 6);
    assert_int_equal(g.hold, FLOW_HOLD_NONE);
    g = gate1(c, &p, 7);
    assert_int_equal(g.hold, FLOW_HOLD_NONE);

    /* Starts older than an hour leave the window. */
    exec(c, "UPDATE mosaic.messages SET relay_started_at = now() - interval '61 minutes'"
            " WHERE gateway_pair = 'p1' AND nonce IN (1, 4)");
    exec(c, "UPDATE mosaic.messages SET state = 'declared' WHERE nonce = 5");
    g = gate1(c, &p, 5);
    assert_int_equal(g.hold, FLOW_HOLD_NONE); /* 600 + 700 */

    /* A message whose relaying started is never held, whatever it moves. */
    exec(c, "UPDATE mosaic.messages SET relay_started_at = now() WHERE nonce = 8");
    g = gate1(c, &p, 8);
    assert_int_equal(g.hold, FLOW_HOLD_NONE);
    assert_int_equal(q(c, "count(*)", 8, "AND state = 'declared'"), 1);

    /* Finished rows are skipped; an unknown message is NOTFOUND. */
    exec(c, "UPDATE mosaic.messages SET state = 'completed', completed_at = now() WHERE nonce = 3");
    g = gate1(c, &p, 3);
    assert_true(g.skipped);
    mh_of(99, mh);
    exec(c, "BEGIN");
    assert_int_equal(flow_limits_gate(c, &p, mh, &g, &err), MR_ERR_NOTFOUND);
    exec(c, "ROLLBACK");

    PQfinish(c);
    free(ci);
}

/* Two sessions race for the last room in the pair's hour. */
struct racer {
    const char *ci;
    struct config_relayer p;
    struct flow_gate g;
    int pid;
    int rc;
};

static void *race_second(void *arg)
{
    struct racer *r = arg;
    struct mr_error err;
    uint8_t mh[32];
    PGconn *c = PQconnectdb(r->ci);

    r->pid = PQbackendPID(c);
    mh_of(2, mh);
    exec(c, "BEGIN");
    r->rc = flow_limits_gate(c, &r->p, mh, &r->g, &err);
    exec(c, "COMMIT");
    PQfinish(c);
    return NULL;
}

static void test_gate_race(void **state)
{
    struct racer r;
    struct flow_gate g;
    struct mr_error err;
    pthread_t th;
    uint8_t mh[32];
    char *ci, sql[256];
    PGconn *c, *mon;

    (void)state;
    TV_REQUIRE_PG();
    c = fixture(&ci);
    mon = PQconnectdb(ci);
    add_msg(c, 1, "p1", 600, 1000);
    add_msg(c, 2, "p1", 600, 1000);
    memset(&r, 0, sizeof(r));
    r.ci = ci;
    r.p = policy(0, 1000, 0);
    /* The first session passes and keeps its transaction open. */
    mh_of(1, mh);
    exec(c, "BEGIN");
    assert_int_equal(flow_limits_gate(c, &r.p, mh, &g, &err), MR_OK);
    assert_int_equal(g.hold, FLOW_HOLD_NONE);
    /* The second one must wait for the pair's lock... */
    assert_int_equal(pthread_create(&th, NULL, race_second, &r), 0);
    for (int i = 0;; i++) {
        int64_t waiting;
        if (i > 3000)
            fail_msg("the second gate never waited for the pair's lock");
        if (r.pid == 0) {
            tv_sleep_ms(10);
            continue;
        }
        snprintf(sql, sizeof(sql), "SELECT count(*) FROM pg_locks WHERE pid = %d AND NOT granted"
                 " AND locktype = 'advisory'", r.pid);
        waiting = tv_pg_int64(mon, sql);
        if (waiting > 0)
            break;
        tv_sleep_ms(10);
    }
    /* ...and sees the first one's start once it commits. */
    exec(c, "COMMIT");
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(r.rc, MR_OK);
    assert_int_equal(r.g.hold, FLOW_HOLD_PER_HOUR);
    assert_int_equal(tv_pg_int64(c, "SELECT count(*) FROM mosaic.messages WHERE state = 'held'"), 1);
    assert_int_equal(tv_pg_int64(c, "SELECT count(*) FROM mosaic.messages"
                                    " WHERE relay_started_at IS NOT NULL"), 1);
    PQfinish(mon);
    PQfinish(c);
    free(ci);
}

/* ------------------------------------------------------ the commands -- */

static int cli(const char *ci, const char *const *args, char **out, char **errout)
{
    const char *argv[16];
    int n = 0;

    argv[n++] = "message";
    for (int i = 0; args[i] != NULL && n < 12; i++)
        argv[n++] = args[i];
    argv[n++] = "--database";
    argv[n++] = ci;
    argv[n] = NULL;
    return tv_run_cli(argv, NULL, out, errout);
}

static void test_release_and_hold(void **state)
{
    struct config_relayer p = policy(1000, 1000, 0);
    struct flow_gate g;
    char h1[67], h2[67], h3[67], h4[67], h9[67], *out = NULL, *err = NULL, *s;
    PGconn *c;
    char *ci;

    (void)state;
    TV_REQUIRE_PG();
    c = fixture(&ci);
    add_msg(c, 1, "p1", 5000, 1000);
    add_msg(c, 2, "p1", 400, 1000);
    add_msg(c, 3, "p1", 400, 1000);
    add_msg(c, 4, "p1", 400, 1000);
    mh_hex(1, h1);
    mh_hex(2, h2);
    mh_hex(3, h3);
    mh_hex(4, h4);
    mh_hex(9, h9);
    assert_int_equal(gate1(c, &p, 1).hold, FLOW_HOLD_PER_MESSAGE);
    assert_int_equal(gate1(c, &p, 2).hold, FLOW_HOLD_NONE);

    /* Visible: list --status held, show, status. */
    assert_int_equal(cli(ci, (const char *[]){"list", "--status", "held", NULL}, &out, NULL), 0);
    assert_non_null(strstr(out, h1));
    assert_null(strstr(out, h2));
    assert_non_null(strstr(out, "(1 message)"));
    free(out);
    assert_int_equal(cli(ci, (const char *[]){"show", h1, NULL}, &out, NULL), 0);
    assert_non_null(strstr(out, "state          held\n"));
    assert_non_null(strstr(out, "held           per_message since "));
    assert_non_null(strstr(out, ": amount 5000 wei > relayer.limits.per_message 1000 wei\n"));
    assert_non_null(strstr(out, "waiting for    an operator: held (per_message)"));
    free(out);
    {
        const char *argv[] = {"status", "--database", ci, NULL};
        assert_int_equal(tv_run_cli(argv, NULL, &out, NULL), 1);
        assert_non_null(strstr(out, "pair p1           held 1 (value 5000 wei"));
        assert_non_null(strstr(out, "started in the last hour 1 (value 400 wei)"));
        assert_non_null(strstr(out, "1 message(s) held by the relayer's limits"));
        free(out);
    }

    /* Errors: unknown, not held, already completed; bad usage. */
    assert_int_equal(cli(ci, (const char *[]){"release", h9, NULL}, NULL, &err), 1);
    assert_non_null(strstr(err, "no message 0xab"));
    free(err);
    assert_int_equal(cli(ci, (const char *[]){"release", h2, NULL}, NULL, &err), 1);
    assert_non_null(strstr(err, "is not held (its state is declared)"));
    free(err);
    exec(c, "UPDATE mosaic.messages SET state = 'completed', completed_at = now() WHERE nonce = 4");
    assert_int_equal(cli(ci, (const char *[]){"release", h4, NULL}, NULL, &err), 1);
    assert_non_null(strstr(err, "is already completed"));
    free(err);
    assert_int_equal(cli(ci, (const char *[]){"release", "0x12", NULL}, NULL, &err), 2);
    free(err);
    assert_int_equal(cli(ci, (const char *[]){"release", h1, "--reason", "a\nb", NULL}, NULL, &err),
                     2);
    free(err);
    assert_int_equal(cli(ci, (const char *[]){"show", h1, "--reason", "x", NULL}, NULL, &err), 2);
    free(err);
    assert_int_equal(q(c, "count(*)", 1, "AND state = 'held'"), 1);

    /* hold: only a message not started. */
    assert_int_equal(cli(ci, (const char *[]){"hold", h2, NULL}, NULL, &err), 1);
    if (strstr(err, "cannot be held: its relaying has started") == NULL)
        fail_msg("hold of a started message: %s", err);
    free(err);
    assert_int_equal(cli(ci, (const char *[]){"hold", h3, "--operator", "carol", "--reason",
                                              "checking the beneficiary", NULL},
                         &out, NULL),
                     0);
    free(out);
    s = text1(c, "SELECT state || ' ' || held_reason || ' ' || held_detail FROM mosaic.messages"
                 " WHERE nonce = 3");
    assert_string_equal(s, "held operator held by carol: checking the beneficiary");
    free(s);
    assert_int_equal(gate1(c, &p, 3).hold, FLOW_HOLD_OPERATOR);
    assert_int_equal(cli(ci, (const char *[]){"hold", h3, NULL}, NULL, &err), 1);
    assert_non_null(strstr(err, "is already held"));
    free(err);

    /* release: who, when, why; alert acknowledged; the job queued. */
    assert_int_equal(cli(ci, (const char *[]){"release", h1, "--operator", "alice", "--reason",
                                              "known customer", NULL},
                         &out, NULL),
                     0);
    assert_non_null(strstr(out, "released 0xab"));
    assert_non_null(strstr(out, "its msg job"));
    free(out);
    s = text1(c, "SELECT state || '|' || released_by || '|' || release_note || '|' ||"
                 " (released_at > now() - interval '1 minute')::text FROM mosaic.messages"
                 " WHERE nonce = 1");
    assert_string_equal(s, "declared|alice|known customer|true");
    free(s);
    assert_int_equal(tv_pg_int64(c, "SELECT count(*) FROM mosaic.alerts WHERE component = 'limits'"
                                    " AND acknowledged_at IS NULL"), 0);
    {
        char sql[256];
        snprintf(sql, sizeof(sql), "SELECT count(*) FROM mosaic.jobs WHERE kind = 'msg' AND"
                 " dedup_key = 'msg:%s' AND args ->> 'message_hash' = '%s'", h1, h1);
        assert_int_equal(tv_pg_int64(c, sql), 1);
    }
    /* Released: passes although it is over both limits, and counts. */
    g = gate1(c, &p, 1);
    assert_int_equal(g.hold, FLOW_HOLD_NONE);
    assert_int_equal(q(c, "(relay_started_at IS NOT NULL)::int", 1, ""), 1);
    assert_int_equal(tv_pg_int64(c, "SELECT value_last_hour FROM mosaic_dash.limits"
                                    " WHERE gateway_pair = 'p1'"), 5400);
    /* show keeps the history. */
    assert_int_equal(cli(ci, (const char *[]){"show", h1, NULL}, &out, NULL), 0);
    assert_non_null(strstr(out, "was held       per_message since "));
    assert_non_null(strstr(out, "by alice: known customer\n"));
    free(out);
    /* The operator's hold released too: it passes the window it would exceed. */
    assert_int_equal(cli(ci, (const char *[]){"release", h3, NULL}, &out, NULL), 0);
    free(out);
    assert_int_equal(gate1(c, &p, 3).hold, FLOW_HOLD_NONE);

    PQfinish(c);
    free(ci);
}

static void test_views_and_metrics(void **state)
{
    struct config_relayer p = policy(100, 0, 0);
    struct prom_scrape s;
    struct mr_error err;
    char *ci, *text, role[64], sql[256], ro_ci[1024];
    size_t len;
    PGconn *c, *ro;

    (void)state;
    TV_REQUIRE_PG();
    c = fixture(&ci);
    add_msg(c, 1, "p1", 5000, 1000);
    add_msg(c, 2, "p1", 7000, 1000);
    add_msg(c, 3, "p2", 300, 1000);
    add_msg(c, 4, "p2", 50, 1000);
    for (int i = 1; i <= 4; i++)
        (void)gate1(c, &p, i);
    metrics_reset_for_tests();
    assert_int_equal(metrics_collect_db(c, &err), MR_OK);
    assert_int_equal(metrics_render(&text, &len, &err), MR_OK);
    prom_parse_or_fail(text, &s);
    free(text);
    assert_true(prom_val(&s, "mosaic_limits_held_messages{pair=\"p1\"}") == 2);
    assert_true(prom_val(&s, "mosaic_limits_held_value_wei{pair=\"p1\"}") == 12000);
    assert_true(prom_val(&s, "mosaic_limits_held_messages{pair=\"p2\"}") == 1);
    assert_true(prom_val(&s, "mosaic_limits_held_value_wei{pair=\"p2\"}") == 300);
    assert_true(prom_val(&s, "mosaic_messages{flow=\"stake\",state=\"held\"}") == 3);
    prom_free(&s);
    /* Released: back to zero at the next collection. */
    exec(c, "UPDATE mosaic.messages SET state = 'declared' WHERE gateway_pair = 'p2'");
    assert_int_equal(metrics_collect_db(c, &err), MR_OK);
    assert_int_equal(metrics_render(&text, &len, &err), MR_OK);
    prom_parse_or_fail(text, &s);
    free(text);
    assert_true(prom_val(&s, "mosaic_limits_held_messages{pair=\"p2\"}") == 0);
    assert_true(prom_val(&s, "mosaic_limits_held_value_wei{pair=\"p2\"}") == 0);
    prom_free(&s);

    /* Held messages are not "stuck" (they wait for an operator on purpose). */
    exec(c, "UPDATE mosaic.messages SET created_at = now() - interval '1 hour'");
    assert_int_equal(tv_pg_int64(c, "SELECT count(*) FROM mosaic_dash.stuck_messages"), 2);

    /* The read-only role reads the views, not the table. */
    snprintf(role, sizeof(role), "mr_lim_ro_%d", (int)getpid());
    snprintf(sql, sizeof(sql), "DROP ROLE IF EXISTS %s; CREATE ROLE %s LOGIN IN ROLE mosaic_readonly",
             role, role);
    exec(c, sql);
    snprintf(ro_ci, sizeof(ro_ci), "%s user=%s", ci, role);
    ro = PQconnectdb(ro_ci);
    if (PQstatus(ro) != CONNECTION_OK)
        fail_msg("connect as %s: %s", role, PQerrorMessage(ro));
    assert_int_equal(tv_pg_int64(ro, "SELECT count(*) FROM mosaic_dash.held_messages"
                                     " WHERE gateway_pair = 'p1' AND held_reason = 'per_message'"),
                     2);
    assert_int_equal(tv_pg_int64(ro, "SELECT held_value FROM mosaic_dash.limits"
                                     " WHERE gateway_pair = 'p1'"), 12000);
    assert_int_equal(tv_pg_int64(ro, "SELECT count(*) FROM mosaic_dash.messages"
                                     " WHERE held_reason IS NOT NULL"), 3);
    {
        PGresult *r = PQexec(ro, "SELECT count(*) FROM mosaic.messages");
        assert_int_not_equal(PQresultStatus(r), PGRES_TUPLES_OK);
        PQclear(r);
    }
    PQfinish(ro);
    snprintf(sql, sizeof(sql), "DROP ROLE IF EXISTS %s", role);
    exec(c, sql);
    PQfinish(c);
    free(ci);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decide),
        cmocka_unit_test(test_apply_and_names),
        cmocka_unit_test(test_gate),
        cmocka_unit_test(test_gate_race),
        cmocka_unit_test(test_release_and_hold),
        cmocka_unit_test(test_views_and_metrics),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
