/*
 * test_e2e_limits.c - the value limits and the minimum bounty end to end:
 * `mosaic-relayer run` as a process against two anvil chains of this
 * test's own (tests/lib/e2elib.h), one daemon through every phase:
 *
 *   1. relayer.limits.per_message and relayer.min_bounty: of three stakes
 *      declared at once, the small one completes; the big one (over
 *      per_message) and the one with gas price 0 (reward under min_bounty)
 *      are held: nothing sent for them on either chain (the facilitator
 *      sent one confirmStakeIntent and one progressStake in all; their
 *      statuses are still Declared / Undeclared), one alert each, the
 *      metrics mosaic_limits_held_*, `message list --status held`;
 *   2. `message release` of the big one: it completes, balances to the wei
 *      (vault, beneficiary, reward);
 *   3. the config rewritten (per_hour just above what the pair started in
 *      the hour plus two stakes, per_message off) and reloaded with SIGHUP:
 *      of three equal stakes declared at once and relayed by four workers,
 *      exactly two complete and one is held (per_hour); the stake held by
 *      min_bounty, released now, completes although the hour is full.
 */
#include "tests/lib/testlib.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "eth/hex.h"
#include "relayer/metrics.h"
#include "tests/lib/e2elib.h"
#include "tests/lib/promparse.h"

static struct e2e E;

#define UNIT 1000000ULL            /* > E2E_GAS_PRICE x E2E_GAS_LIMIT */

static int group_setup(void **state)
{
    struct e2e_opts o;

    memset(&o, 0, sizeof(o));
    o.anvil_args = "--block-time 1";
    o.workers = 4;
    /* per_message 10 units; min_bounty = E2E_GAS_PRICE x E2E_GAS_LIMIT. */
    o.relayer_extra = "  min_bounty: \"1000000\"\n"
                      "  limits: { per_message: \"10000000\", per_hour: \"0\" }\n";
    return e2e_group_setup(state, &E, &o);
}

static void hexof(const uint8_t mh[32], char out[67])
{
    hex_encode_data(mh, 32, out, 67);
}

static void stake(struct e2e_msg *m, uint64_t units, int gas_price_zero)
{
    memset(m, 0, sizeof(*m));
    m->kind = MOSAIC_STAKE;
    m->amount = cl_u256(units * UNIT);
    m->register_secret = 1;
    if (gas_price_zero) {
        m->set_gas = 1;
        m->gas_price = 0;
        m->gas_limit = E2E_GAS_LIMIT;
    }
}

/* What the relayer recorded for a message: its calls and their jobs. */
static int64_t relayed(const struct e2e_msg *m)
{
    char hx[67], sql[512];

    hexof(m->mh, hx);
    snprintf(sql, sizeof(sql),
             "SELECT (SELECT count(*) FROM mosaic.message_txs WHERE message_hash ="
             " decode('%s', 'hex')) + (SELECT count(*) FROM mosaic.transactions t JOIN"
             " mosaic.jobs j ON j.id = t.job_id WHERE j.args ->> 'message_hash' = '%s')",
             hx + 2, hx);
    return tv_pg_int64(E.db, sql);
}

/* How many of the facilitator's transactions since the deployment call
 * `sig` on chain c. */
static size_t calls(struct cl_chain *c, uint64_t from, const char *sig)
{
    struct e2e_tx *v = NULL;
    uint8_t sel[4];
    size_t n, k = 0;

    e2e_selector(sig, sel);
    n = e2e_sent_by(c, E.fac, from, cl_block_number(c), &v);
    for (size_t i = 0; i < n; i++)
        k += v[i].has_to && memcmp(v[i].selector, sel, 4) == 0;
    free(v);
    return k;
}

static void alert_for(const struct e2e_msg *m, const char *reason)
{
    char hx[67], sql[512];

    hexof(m->mh, hx);
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM mosaic.alerts WHERE component = 'limits' AND subject = '%s'"
             " AND message LIKE '%%on pair pair1 held (%s)%%' AND acknowledged_at IS NULL",
             hx, reason);
    assert_int_equal(tv_pg_int64(E.db, sql), 1);
}

/* The MintProgressed of m: minted + reward = amount, the beneficiary holds
 * the minted amount.  Returns the reward. */
static struct u256 check_minted(const struct e2e_msg *m)
{
    struct eth_logs l;
    struct u256 reward = cl_u256(0);
    size_t k = 0;

    e2e_logs(&E.a, E.cogw, E2E_MINT_PROGRESSED, E.deployed_a, cl_block_number(&E.a), &l);
    for (size_t i = 0; i < l.n; i++) {
        if (l.v[i].n_topics < 2 || memcmp(l.v[i].topics[1], m->mh, 32) != 0)
            continue;
        k++;
        cl_assert_u256("MintProgressed amount", e2e_word(&l.v[i], 2), m->amount);
        reward = e2e_word(&l.v[i], 4);
        cl_assert_u256("minted + reward", cl_add(e2e_word(&l.v[i], 3), reward), m->amount);
        cl_assert_u256("beneficiary's utility tokens", cl_token_balance(&E.a, E.ut, m->beneficiary),
                       e2e_word(&l.v[i], 3));
    }
    ethrpc_logs_free(&l);
    assert_int_equal(k, 1);
    return reward;
}

static void held_metrics(double messages, double value)
{
    struct prom_scrape s;
    struct mr_error err;
    char *text;
    size_t len;

    assert_int_equal(metrics_collect_db(E.db, &err), MR_OK);
    assert_int_equal(metrics_render(&text, &len, &err), MR_OK);
    prom_parse_or_fail(text, &s);
    free(text);
    assert_true(prom_val(&s, "mosaic_limits_held_messages{pair=\"pair1\"}") == messages);
    assert_true(prom_val(&s, "mosaic_limits_held_value_wei{pair=\"pair1\"}") == value);
    prom_free(&s);
}

static void release(const struct e2e_msg *m, const char *reason)
{
    char hx[67], *out = NULL;
    const char *argv[] = {"message", "release", hx, "--database", E.ci, "--reason", reason,
                          "--operator", "test", NULL};

    hexof(m->mh, hx);
    assert_int_equal(tv_run_cli(argv, NULL, &out, NULL), 0);
    assert_non_null(strstr(out, "released"));
    free(out);
}

/* Replaces the config's `limits:` line and reloads the daemon (SIGHUP). */
static void set_limits(const char *line, int reloads)
{
    char *text = tv_slurp(E.cfg), *at, *eol, *next;
    FILE *f;

    assert_non_null(text);
    at = strstr(text, "  limits: {");
    assert_non_null(at);
    eol = strchr(at, '\n');
    assert_non_null(eol);
    next = eol + 1;
    f = fopen(E.cfg, "w");
    assert_non_null(f);
    fprintf(f, "%.*s%s\n%s", (int)(at - text), text, line, next);
    assert_int_equal(fclose(f), 0);
    free(text);
    assert_int_equal(kill(E.pid, SIGHUP), 0);
    tv_wait_text(E.log, "reloaded", reloads);
    e2e_daemon_check(&E);
}

static void test_limits_end_to_end(void **state)
{
    struct e2e_msg m[3], d[3], *held_hour = NULL;
    struct u256 vault0, completed = cl_u256(0);
    char *out = NULL, hx[67];
    size_t n_held = 0;

    E2E_REQUIRE(state);
    e2e_daemon_start(&E);
    vault0 = cl_token_balance(&E.o, E.vt, E.vault);

    /* 1. per_message and min_bounty. */
    stake(&m[0], 5, 0);          /* passes */
    stake(&m[1], 50, 0);         /* over per_message (10 units) */
    stake(&m[2], 5, 1);          /* gas price 0: no reward < min_bounty */
    e2e_stake_burst(&E, m, 3);
    e2e_wait_state(&E, &m[0], 1, "completed", 30);
    e2e_wait_state(&E, &m[1], 2, "held", 30);
    completed = cl_add(completed, m[0].amount);
    (void)check_minted(&m[0]);
    e2e_quiet(&E);
    for (int i = 1; i < 3; i++) {
        assert_int_equal(relayed(&m[i]), 0);
        assert_int_equal(e2e_status(&E, &m[i], 0), MOSAIC_DECLARED);
        assert_int_equal(e2e_status(&E, &m[i], 1), MOSAIC_UNDECLARED);
    }
    assert_int_equal(calls(&E.a, E.deployed_a + 1,
                           "confirmStakeIntent(address,uint256,address,uint256,uint256,uint256,"
                           "bytes32,uint256,bytes)"),
                     1);
    assert_int_equal(calls(&E.o, E.deployed_o + 1, "progressStake(bytes32,bytes32)"), 1);
    alert_for(&m[1], "per_message");
    alert_for(&m[2], "min_bounty");
    held_metrics(2, (double)(55 * UNIT));
    {
        const char *argv[] = {"message", "list", "--status", "held", "--database", E.ci, NULL};
        assert_int_equal(tv_run_cli(argv, NULL, &out, NULL), 0);
        hexof(m[1].mh, hx);
        assert_non_null(strstr(out, hx));
        hexof(m[2].mh, hx);
        assert_non_null(strstr(out, hx));
        hexof(m[0].mh, hx);
        assert_null(strstr(out, hx));
        assert_non_null(strstr(out, "(2 messages)"));
        free(out);
    }

    /* 2. The big one released: it completes. */
    release(&m[1], "known customer");
    e2e_wait_state(&E, &m[1], 1, "completed", 30);
    completed = cl_add(completed, m[1].amount);
    (void)check_minted(&m[1]);
    cl_assert_u256("the vault", cl_token_balance(&E.o, E.vt, E.vault), cl_add(vault0, completed));
    held_metrics(1, (double)(5 * UNIT));

    /* 3. per_hour: 55 units started in this hour; room for two more of 5. */
    set_limits("  limits: { per_message: \"0\", per_hour: \"65000000\" }", 1);
    for (int i = 0; i < 3; i++)
        stake(&d[i], 5, 0);
    e2e_stake_burst(&E, d, 3);
    /* Each ends completed or held (a bound on the wait only: 90 s). */
    for (int i = 0;; i++) {
        size_t done = e2e_count_state(&E, d, 3, "completed", NULL);
        size_t held = e2e_count_state(&E, d, 3, "held", NULL);
        e2e_daemon_check(&E);
        if (done + held == 3) {
            assert_int_equal(done, 2);
            assert_int_equal(held, 1);
            break;
        }
        if (i == 300) {
            e2e_diagnose(&E);
            fail_msg("after 90 s: %zu completed, %zu held of 3", done, held);
        }
        tv_sleep_ms(300);
    }
    for (int i = 0; i < 3; i++) {
        if (e2e_count_state(&E, &d[i], 1, "held", NULL) == 1) {
            held_hour = &d[i];
            n_held++;
        } else {
            completed = cl_add(completed, d[i].amount);
            (void)check_minted(&d[i]);
        }
    }
    assert_int_equal(n_held, 1);
    alert_for(held_hour, "per_hour");
    e2e_quiet(&E);
    assert_int_equal(relayed(held_hour), 0);
    assert_int_equal(e2e_status(&E, held_hour, 1), MOSAIC_UNDECLARED);

    /* The stake held by min_bounty, released: not held again by per_hour. */
    release(&m[2], "sponsored");
    e2e_wait_state(&E, &m[2], 1, "completed", 30);
    completed = cl_add(completed, m[2].amount);
    (void)check_minted(&m[2]);
    cl_assert_u256("the vault", cl_token_balance(&E.o, E.vt, E.vault), cl_add(vault0, completed));
    held_metrics(1, (double)(5 * UNIT));
    assert_int_equal(tv_pg_int64(E.db, "SELECT count(*) FROM mosaic.alerts WHERE severity ="
                                       " 'critical'"), 0);
    assert_int_equal(e2e_daemon_stop(&E), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_limits_end_to_end),
    };
    return cmocka_run_group_tests(tests, group_setup, e2e_group_teardown);
}
