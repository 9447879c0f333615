/*
 * test_e2e_breaker.c - the conservation circuit breaker (RELIABILITY.md
 * row 24) through the daemon process (`mosaic-relayer run`) on two anvil
 * chains of this test's own at one block a second, with the monitor
 * checking every 300 ms (tests/lib/e2elib.h).
 *
 *   1. Stakes and redeems in flight at the same time (a burst of each,
 *      after a first burst of stakes) never trip it, though the monitor
 *      checks many times meanwhile; once all is done the figures it
 *      recorded equal those the test reads from the chains.  And the
 *      consistency rule is what keeps in-flight messages from looking like
 *      a violation: at a pair of blocks that breaks it (an auxiliary block
 *      whose Anchor holds an origin height above the origin block read)
 *      the naive figures do exceed, and the monitor's measure refuses that
 *      pair.
 *   2. Utility tokens minted directly on the auxiliary chain (the
 *      co-gateway impersonated: only it may call increaseSupply) trip it:
 *      the breaker row, its log, a critical alert with both figures and
 *      blocks, the metric, `status` and `breaker status` (exit 1).
 *   3. A stake declared afterwards is not relayed: its job runs (and says
 *      it is held) several times, no call is recorded for it and the
 *      facilitator sends nothing to either gateway; `breaker reset` (the
 *      excess accepted) lets it complete; one more wei minted trips it
 *      again.
 */
#include "tests/lib/testlib.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "eth/hex.h"
#include "relayer/config.h"
#include "relayer/flows/flows.h"
#include "relayer/metrics.h"
#include "tests/lib/e2elib.h"

#define PAIR "pair1"

static struct e2e E;
static struct u256 minted;        /* test 2's mint */

static int group_setup(void **state)
{
    struct e2e_opts o;

    memset(&o, 0, sizeof(o));
    o.anvil_args = "--block-time 1";
    o.workers = 2;
    o.relayer_extra = "  conservation: { enabled: true, interval: 300ms }\n";
    return e2e_group_setup(state, &E, &o);
}

static int64_t checks(void)
{
    return tv_pg_int64(E.db, "SELECT coalesce((SELECT checks FROM mosaic.breakers WHERE"
                             " gateway_pair = '" PAIR "'), 0)");
}

static int tripped(void)
{
    return (int)tv_pg_int64(E.db, "SELECT count(*) FROM mosaic.breakers WHERE gateway_pair = '"
                                  PAIR "' AND tripped");
}

/* A decimal column of the pair's breaker row. */
static struct u256 breaker_u256(const char *col)
{
    char sql[160];
    PGresult *res;
    struct u256 v;

    snprintf(sql, sizeof(sql), "SELECT %s::text FROM mosaic.breakers WHERE gateway_pair = '"
                               PAIR "'", col);
    res = PQexec(E.db, sql);
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1 ||
        PQgetisnull(res, 0, 0))
        fail_msg("%s: %s", sql, PQerrorMessage(E.db));
    assert_int_equal(u256_parse_dec(&v, PQgetvalue(res, 0, 0), strlen(PQgetvalue(res, 0, 0)), 1,
                                    NULL), MR_OK);
    PQclear(res);
    return v;
}

/* Waits until the monitor has made `n` more checks (fails after 60 s). */
static void wait_checks(int64_t n)
{
    int64_t want = checks() + n;

    for (int i = 0; i < 600 && checks() < want; i++) {
        e2e_daemon_check(&E);
        tv_sleep_ms(100);
    }
    if (checks() < want) {
        e2e_daemon_tail(&E, 4000);
        fail_msg("the conservation monitor made no check for 60 s");
    }
}

static void wait_tripped(void)
{
    for (int i = 0; i < 600 && !tripped(); i++) {
        e2e_daemon_check(&E);
        tv_sleep_ms(100);
    }
    if (!tripped()) {
        e2e_diagnose(&E);
        e2e_daemon_tail(&E, 4000);
        fail_msg("the breaker did not trip within 60 s");
    }
}

/* The figures read by the test at the chains' heads: circulating on aux,
 * backing on origin. */
static void chain_figures(struct u256 *circ, struct u256 *back)
{
    *circ = cl_sub(cl_view_u256(&E.a, E.ut, "totalSupply()", NULL, 0),
                   cl_token_balance(&E.a, E.ut, E.cogw));
    *back = cl_add(cl_token_balance(&E.o, E.vt, E.vault), cl_token_balance(&E.o, E.vt, E.gw));
}

/* token.balanceOf(owner) at block `at` of c. */
static struct u256 balance_at(struct cl_chain *c, const uint8_t token[20], const uint8_t owner[20],
                              uint64_t at)
{
    uint8_t cd[36] = {0}, *out = NULL;
    char id[ETHRPC_BLOCK_ID_LEN];
    size_t len = 0;
    struct mr_error err;
    struct u256 v;

    e2e_selector("balanceOf(address)", cd);
    memcpy(cd + 16, owner, 20);
    if (ethrpc_call(c->ep, NULL, token, cd, sizeof(cd), ethrpc_block_id(at, id), &out, &len,
                    NULL, &err) != MR_OK || len != 32)
        fail_msg("balanceOf at %llu: %s", (unsigned long long)at, err.msg);
    assert_int_equal(u256_from_be(&v, out, 32), MR_OK);
    free(out);
    return v;
}

static int run_cli(const char *const *argv, char **out)
{
    char *err = NULL;
    int rc = tv_run_cli(argv, NULL, out, &err);

    if (err != NULL && err[0] != '\0')
        print_message("%s: stderr: %s", argv[0], err);
    free(err);
    return rc;
}

/* ------------------------------------------------------------- tests -- */

static void test_in_flight_never_trips(void **state)
{
    struct e2e_msg s[6], r[3];
    uint8_t red[6][20];
    struct u256 c, b;
    struct config *cfg = NULL;
    struct flow_ctx ctx;
    struct flow_conservation fc;
    struct mr_error err;
    uint8_t zero[20] = {0};
    int64_t c0, c1;
    uint64_t first_block;

    E2E_REQUIRE(state);
    memset(s, 0, sizeof(s));
    memset(r, 0, sizeof(r));
    e2e_daemon_start(&E);
    c0 = checks();
    for (int i = 0; i < 6; i++) {
        cl_new_account(&E.a, 10, red[i]);
        s[i].amount = cl_u256_e(10 + (uint64_t)i, 18);
        s[i].register_secret = i % 3 != 2; /* one in three by proof */
        memcpy(s[i].beneficiary, red[i], 20);
    }
    e2e_stake_burst(&E, s, 3);
    first_block = s[0].block;
    e2e_wait_state(&E, s, 3, "completed", 60);
    /* Stakes and redeems in flight together. */
    e2e_stake_send(&E, &s[3], 3);
    for (int i = 0; i < 3; i++) {
        memcpy(r[i].sender, red[i], 20);
        assert_int_equal(u256_divmod_u64(&r[i].amount, &s[i].amount, 2, NULL), MR_OK);
        r[i].register_secret = i != 1;
        memcpy(r[i].beneficiary, red[i], 20);
    }
    e2e_redeem_burst(&E, r, 3);
    e2e_stake_collect(&E, &s[3], 3);
    e2e_wait_state(&E, &s[3], 3, "completed", 60);
    e2e_wait_state(&E, r, 3, "completed", 60);
    c1 = checks();
    print_message("the monitor checked %lld times during the bursts\n", (long long)(c1 - c0));
    assert_true(c1 > c0);
    assert_int_equal(tripped(), 0);
    assert_int_equal(tv_pg_int64(E.db, "SELECT count(*) FROM mosaic.breaker_log"), 0);
    assert_int_equal(tv_pg_int64(E.db, "SELECT count(*) FROM mosaic.alerts WHERE component ="
                                       " 'conservation'"), 0);

    /* Settled: the recorded figures are the chains' (after fresh checks). */
    e2e_quiet(&E);
    wait_checks(2);
    chain_figures(&c, &b);
    cl_assert_u256("circulating", breaker_u256("circulating"), c);
    cl_assert_u256("backing", breaker_u256("backing"), b);
    cl_assert_u256("circulating = backing when nothing is in flight", c, b);
    assert_false(u256_is_zero(&c));

    /* An inconsistent pair of blocks: the auxiliary head (its Anchor holds
     * origin heights of the stakes' blocks) with origin before the first
     * stake.  Naively the minted tokens there have no backing at all. */
    assert_int_equal(config_load(E.cfg, &cfg, &err), MR_OK);
    flow_ctx_init(&ctx, cfg, zero, 0, zero);
    assert_int_equal(flow_conservation_measure(&ctx, &cfg->gateways[0], cl_block_number(&E.a),
                                               first_block - 1, &fc, &err),
                     MR_ERR_NOTFOUND);
    print_message("refused as expected: %s\n", err.msg);
    assert_true(fc.aux_anchored >= first_block);
    cl_assert_u256("the naive backing before the first stake",
                   cl_add(balance_at(&E.o, E.vt, E.vault, first_block - 1),
                          balance_at(&E.o, E.vt, E.gw, first_block - 1)),
                   cl_u256(0));
    assert_false(u256_is_zero(&c));
    /* ... and a consistent pair reads the settled figures. */
    assert_int_equal(flow_conservation_measure(&ctx, &cfg->gateways[0], cl_block_number(&E.a),
                                               cl_block_number(&E.o), &fc, &err),
                     MR_OK);
    cl_assert_u256("measured circulating", fc.circulating, c);
    cl_assert_u256("measured backing", fc.backing, b);
    flow_thread_release();
    flow_ctx_destroy(&ctx);
    config_free(cfg);
}

static void test_direct_mint_trips(void **state)
{
    uint8_t att[20], cd[68] = {0};
    struct eth_receipt rc;
    struct u256 c, b, excess;
    char *out = NULL, amount[U256_DEC_MAX];
    const char *argv_status[] = {"status", "--database", E.ci, NULL};
    const char *argv_bstatus[] = {"breaker", "status", PAIR, "--database", E.ci, NULL};
    const char *vals[1] = {PAIR};
    struct mr_error err;
    uint64_t mint_block;

    E2E_REQUIRE(state);
    assert_int_equal(tripped(), 0);
    /* Only the co-gateway may mint (UtilityToken.increaseSupply,
     * onlyCoGateway): impersonate it. */
    cl_new_account(&E.a, 1, att);
    cl_fund_account(&E.a, 10, E.cogw);
    minted = cl_u256_e(5, 18);
    e2e_selector("increaseSupply(address,uint256)", cd);
    memcpy(cd + 16, att, 20);
    u256_to_be32(&minted, cd + 36);
    cl_send(&E.a, "increaseSupply by the impersonated co-gateway", E.cogw, E.ut, NULL, cd,
            sizeof(cd), &rc);
    mint_block = rc.block_number;
    ethrpc_receipt_free(&rc);
    cl_assert_u256("the attacker's tokens", cl_token_balance(&E.a, E.ut, att), minted);
    wait_tripped();

    /* The row: both figures, the aux block at or after the mint. */
    excess = cl_sub(breaker_u256("circulating"), breaker_u256("backing"));
    cl_assert_u256("the excess the trip recorded", excess, minted);
    chain_figures(&c, &b);
    cl_assert_u256("the chains' excess", cl_sub(c, b), minted);
    assert_true(tv_pg_int64(E.db, "SELECT aux_block FROM mosaic.breakers WHERE gateway_pair = '"
                                  PAIR "'") >= (int64_t)mint_block);
    assert_int_equal(tv_pg_int64(E.db, "SELECT count(*) FROM mosaic.breaker_log WHERE action ="
                                       " 'trip' AND gateway_pair = '" PAIR "'"), 1);
    /* The alert names both figures and both blocks. */
    u256_to_dec(&minted, amount, sizeof(amount));
    assert_int_equal(tv_pg_int64(E.db, "SELECT count(*) FROM mosaic.alerts a, mosaic.breakers b"
                                       " WHERE a.component = 'conservation' AND a.subject = '"
                                       PAIR "' AND a.severity = 'critical' AND"
                                       " a.acknowledged_at IS NULL AND b.gateway_pair = a.subject"
                                       " AND strpos(a.message, b.circulating::text) > 0 AND"
                                       " strpos(a.message, b.backing::text) > 0 AND"
                                       " strpos(a.message, 'block ' || b.aux_block) > 0 AND"
                                       " strpos(a.message, 'block ' || b.origin_block) > 0"),
                     1);
    /* The metric, from the database like the daemon's collector. */
    assert_int_equal(metrics_collect_db(E.db, &err), MR_OK);
    assert_true(metric_value(metric_series(MX_CONSERVATION_TRIPPED, vals)) == 1.0);
    assert_true(metric_value(metric_series(MX_CONSERVATION_CIRCULATING, vals)) >
                metric_value(metric_series(MX_CONSERVATION_BACKING, vals)));
    /* What operators see. */
    assert_int_equal(run_cli(argv_status, &out), 1);
    assert_non_null(strstr(out, "TRIPPED"));
    assert_non_null(strstr(out, "conservation breaker is tripped"));
    free(out);
    out = NULL;
    assert_int_equal(run_cli(argv_bstatus, &out), 1);
    assert_non_null(strstr(out, "TRIPPED"));
    free(out);
}

/* How many log lines of the daemon say message m is held. */
static int held_lines(const struct e2e_msg *m)
{
    char mh[67], line[4096];
    FILE *f = fopen(E.log, "r");
    int n = 0;

    hex_encode_data(m->mh, 32, mh, sizeof(mh));
    if (f == NULL)
        return 0;
    while (fgets(line, sizeof(line), f) != NULL)
        if (strstr(line, mh + 2) != NULL && strstr(line, "conservation breaker is tripped"))
            n++;
    fclose(f);
    return n;
}

static void test_held_until_reset(void **state)
{
    struct e2e_msg m;
    struct e2e_tx *v = NULL;
    size_t k;
    char mhx[67], sql[256], *out = NULL;
    uint64_t b_o, b_a;
    const char *argv_reset[] = {"breaker", "reset", PAIR, "--reason",
                                "test: 5 UT minted by the impersonated co-gateway",
                                "--database", E.ci, NULL};
    const char *argv_log[] = {"breaker", "log", "--database", E.ci, NULL};
    uint8_t cd[68] = {0};
    struct eth_receipt rc;
    int64_t waits = -1;

    E2E_REQUIRE(state);
    assert_int_equal(tripped(), 1);
    memset(&m, 0, sizeof(m));
    b_o = cl_block_number(&E.o) + 1;
    b_a = cl_block_number(&E.a) + 1;
    m.amount = cl_u256_e(7, 18);
    m.register_secret = 1;
    cl_new_account(&E.a, 1, m.beneficiary);
    e2e_stake_burst(&E, &m, 1);
    /* Its job runs and is held, several times. */
    hex_encode_data(m.mh, 32, mhx, sizeof(mhx));
    snprintf(sql, sizeof(sql), "SELECT coalesce(max((args->>'waits')::int), -1) FROM mosaic.jobs"
                               " WHERE kind = 'msg' AND args->>'message_hash' = '%s'", mhx);
    for (int i = 0; i < 600 && (waits < 3 || held_lines(&m) < 3); i++) {
        e2e_daemon_check(&E);
        tv_sleep_ms(100);
        waits = tv_pg_int64(E.db, sql);
    }
    print_message("held: %d runs logged, waits %lld\n", held_lines(&m), (long long)waits);
    assert_true(held_lines(&m) >= 3);
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM mosaic.message_txs WHERE message_hash ="
                               " '\\x%s'::bytea", mhx + 2);
    assert_int_equal(tv_pg_int64(E.db, sql), 0);
    assert_int_equal(e2e_status(&E, &m, 1), MOSAIC_UNDECLARED);
    assert_int_equal(e2e_status(&E, &m, 0), MOSAIC_DECLARED);
    /* Nothing the facilitator sent went to a gateway (anchors may go). */
    k = e2e_sent_by(&E.a, E.fac, b_a, cl_block_number(&E.a), &v);
    for (size_t i = 0; i < k; i++)
        assert_false(v[i].has_to && memcmp(v[i].to, E.cogw, 20) == 0);
    free(v);
    v = NULL;
    k = e2e_sent_by(&E.o, E.fac, b_o, cl_block_number(&E.o), &v);
    for (size_t i = 0; i < k; i++)
        assert_false(v[i].has_to && memcmp(v[i].to, E.gw, 20) == 0);
    free(v);

    /* The operator resets (accepting the measured excess): it completes. */
    assert_int_equal(run_cli(argv_reset, &out), 0);
    print_message("%s", out);
    assert_non_null(strstr(out, "accepted excess 5000000000000000000"));
    free(out);
    out = NULL;
    e2e_wait_state(&E, &m, 1, "completed", 60);
    assert_int_equal(tripped(), 0);
    cl_assert_u256("accepted", breaker_u256("accepted_excess"), minted);
    assert_int_equal(tv_pg_int64(E.db, "SELECT count(*) FROM mosaic.breaker_log WHERE action ="
                                       " 'reset' AND reason LIKE 'test: 5 UT%' AND actor LIKE"
                                       " 'operator %'"), 1);
    assert_int_equal(tv_pg_int64(E.db, "SELECT count(*) FROM mosaic.alerts WHERE component ="
                                       " 'conservation' AND acknowledged_at IS NULL"), 0);
    assert_int_equal(run_cli(argv_log, &out), 0);
    assert_non_null(strstr(out, "reset by operator"));
    assert_non_null(strstr(out, "trip  by monitor"));
    free(out);

    /* One wei more than accepted trips it again. */
    wait_checks(2);
    assert_int_equal(tripped(), 0);
    e2e_selector("increaseSupply(address,uint256)", cd);
    memcpy(cd + 16, m.beneficiary, 20);
    cd[67] = 1;
    cl_send(&E.a, "one more wei", E.cogw, E.ut, NULL, cd, sizeof(cd), &rc);
    ethrpc_receipt_free(&rc);
    wait_tripped();
    assert_int_equal(tv_pg_int64(E.db, "SELECT count(*) FROM mosaic.breaker_log WHERE action ="
                                       " 'trip'"), 2);
    assert_int_equal(e2e_daemon_stop(&E), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_in_flight_never_trips),
        cmocka_unit_test(test_direct_mint_trips),
        cmocka_unit_test(test_held_until_reset),
    };

    return cmocka_run_group_tests(tests, group_setup, e2e_group_teardown);
}
