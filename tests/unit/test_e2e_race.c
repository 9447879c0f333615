/*
 * test_e2e_race.c - a message progressed by someone else first (issue 7):
 * the relayer notices and pays for no call that would fail.  Through the
 * daemon process (`mosaic-relayer run`) on two anvil chains of this test's
 * own at one block a second (tests/lib/e2elib.h).
 *
 * The race made deterministic: while the test holds a trigger on
 * mosaic.message_txs, the daemon cannot record any progress step (the
 * insert fails, which rolls back the step's transaction intent and its
 * nonce with it; the run retries later).  So the daemon declares nothing
 * more than the confirmation; the test waits until that is mined, then
 * progresses the message itself with the secret from another account, and
 * only then lets the daemon record again.  The daemon decided to progress
 * (it tried), but by the time it may, someone else has: it must read the
 * chains again and send nothing that would fail.
 *
 *   - a stake, both sides progressed by someone else (progressMint on the
 *     auxiliary chain, progressStake on origin): the daemon records the
 *     message completed with no progress transaction of its own;
 *   - a redeem, the target side (progressUnstake on origin) progressed by
 *     someone else: the daemon sends progressRedeem only.
 * Verdicts from the chains (the facilitator's transactions by selector,
 * every receipt, balances to the wei including its coin against its fees)
 * and from the database (the message's transactions by purpose, no
 * transaction with receipt status 0, the steps the dashboards show with
 * the other account's transactions).
 */
#include "tests/lib/testlib.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "eth/hex.h"
#include "tests/lib/e2elib.h"

static struct e2e E;
static uint8_t redeemer[20];      /* test_stake's beneficiary, impersonated on aux */

static int group_setup(void **state)
{
    struct e2e_opts o;

    memset(&o, 0, sizeof(o));
    o.anvil_args = "--block-time 1";
    o.workers = 2;
    return e2e_group_setup(state, &E, &o);
}

static void exec_sql(const char *sql)
{
    PGresult *res = PQexec(E.db, sql);

    if (PQresultStatus(res) != PGRES_COMMAND_OK)
        fail_msg("%s: %s", sql, PQerrorMessage(E.db));
    PQclear(res);
}

/* The gate: no progress step can be recorded while it is closed. */
static void hold_progress(void)
{
    /* A sequence counts the refusals (nextval is not rolled back). */
    exec_sql("CREATE SEQUENCE mosaic.test_held");
    exec_sql("CREATE OR REPLACE FUNCTION mosaic.test_hold_progress() RETURNS trigger"
             " LANGUAGE plpgsql AS $$ BEGIN IF NEW.step LIKE 'progress%' THEN PERFORM"
             " nextval('mosaic.test_held'); RAISE EXCEPTION 'test_e2e_race: progress steps are"
             " held'; END IF; RETURN NEW; END $$");
    exec_sql("CREATE TRIGGER test_hold_progress BEFORE INSERT ON mosaic.message_txs"
             " FOR EACH ROW EXECUTE FUNCTION mosaic.test_hold_progress()");
}

/* Waits (at most 60 s) until the daemon has tried to record a progress step
 * against the closed gate: a redeem's progressUnstake is not pipelined
 * behind the confirmation, so the first try may come a poll after it. */
static void wait_tried(void)
{
    for (int i = 0; i < 600; i++) {
        if (tv_pg_int64(E.db, "SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM"
                              " mosaic.test_held") > 0)
            return;
        tv_sleep_ms(100);
    }
}

/* Opens the gate; fails unless the daemon tried to record a progress step
 * while it was closed (else the test would not have raced anything). */
static void release_progress(void)
{
    int64_t tried;

    exec_sql("DROP TRIGGER test_hold_progress ON mosaic.message_txs");
    exec_sql("DROP FUNCTION mosaic.test_hold_progress()");
    tried = tv_pg_int64(E.db, "SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM"
                              " mosaic.test_held");
    exec_sql("DROP SEQUENCE mosaic.test_held");
    print_message("the daemon tried %lld time(s) to record a progress step while held\n",
                  (long long)tried);
    assert_true(tried >= 1);
}

static void bytea(const uint8_t *p, size_t n, char *out)
{
    out[0] = '\\';
    out[1] = 'x';
    for (size_t i = 0; i < n; i++)
        snprintf(out + 2 + 2 * i, 3, "%02x", p[i]);
}

/* How many of the message's transactions (message_txs) have `purpose`. */
static int64_t txs_for(const struct e2e_msg *m, const char *purpose)
{
    char mh[67];
    const char *p[2] = {mh, purpose};
    PGresult *res;
    int64_t n;

    bytea(m->mh, 32, mh);
    res = PQexecParams(E.db, "SELECT count(*) FROM mosaic.message_txs mt JOIN mosaic.transactions t"
                             " ON t.id = mt.tx_id WHERE mt.message_hash = $1::bytea AND"
                             " t.purpose = $2", 2, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
        fail_msg("counting transactions: %s", PQerrorMessage(E.db));
    n = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    return n;
}

/* The dashboards' step `step` of the message: its transaction and block;
 * a field of the messages row (source_done_block / target_done_block). */
static void step_tx(const struct e2e_msg *m, const char *step, uint8_t tx[32], uint64_t *block)
{
    char mh[67];
    const char *p[2] = {mh, step};
    PGresult *res;

    bytea(m->mh, 32, mh);
    res = PQexecParams(E.db, "SELECT tx_hash, block_number FROM mosaic_dash.message_steps"
                             " WHERE message_hash = $1::bytea AND step = $2", 2, NULL, p, NULL,
                       NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK)
        fail_msg("reading the steps: %s", PQerrorMessage(E.db));
    if (PQntuples(res) != 1)
        fail_msg("step %s: %d rows in mosaic_dash.message_steps, expected 1", step,
                 PQntuples(res));
    if (hex_decode_fixed(PQgetvalue(res, 0, 0), strlen(PQgetvalue(res, 0, 0)), tx, 32, NULL) !=
        MR_OK)
        fail_msg("step %s: tx_hash '%s'", step, PQgetvalue(res, 0, 0));
    *block = (uint64_t)strtoull(PQgetvalue(res, 0, 1), NULL, 10);
    PQclear(res);
}

static int64_t msg_field(const struct e2e_msg *m, const char *col)
{
    char mh[67], sql[160];
    const char *p[1] = {mh};
    PGresult *res;
    int64_t v;

    bytea(m->mh, 32, mh);
    snprintf(sql, sizeof(sql), "SELECT coalesce(%s, -1) FROM mosaic.messages WHERE message_hash"
                               " = $1::bytea", col);
    res = PQexecParams(E.db, sql, 1, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
        fail_msg("reading %s: %s", col, PQerrorMessage(E.db));
    v = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    return v;
}

/* Waits until the message's status on one side is `want`: the daemon's
 * confirmation being mined.  Fails (with what the database says) after
 * 120 s, or at once when the daemon died. */
static void wait_status(const struct e2e_msg *m, int on_target, int want)
{
    for (int i = 0; i < 1200; i++) {
        if (e2e_status(&E, m, on_target) == want)
            return;
        e2e_daemon_check(&E);
        tv_sleep_ms(100);
    }
    e2e_diagnose(&E);
    e2e_daemon_tail(&E, 6000);
    fail_msg("the %s status did not become %d", on_target ? "target" : "source", want);
}

/* The facilitator's transactions in [from, to] of c: none may call one of
 * sigs[n]; every one succeeded.  Out: the sum of their fees. */
static struct u256 fac_txs(struct cl_chain *c, uint64_t from, uint64_t to, const char *const *sigs,
                           size_t n)
{
    struct e2e_tx *v = NULL;
    struct u256 fee = cl_u256(0);
    size_t k = e2e_sent_by(c, E.fac, from, to, &v);

    for (size_t i = 0; i < k; i++) {
        for (size_t j = 0; j < n; j++) {
            uint8_t sel[4];
            e2e_selector(sigs[j], sel);
            if (memcmp(v[i].selector, sel, 4) == 0)
                fail_msg("%s: the relayer sent %s (block %llu)", c->label, sigs[j],
                         (unsigned long long)v[i].block);
        }
        if (v[i].status != 1)
            fail_msg("%s: a relayer transaction reverted (block %llu)", c->label,
                     (unsigned long long)v[i].block);
        fee = cl_add(fee, v[i].fee);
    }
    free(v);
    return fee;
}

/* The one `sig` event of the message in [from, to]: its data word i. */
static struct u256 event_word(struct cl_chain *c, const uint8_t addr[20], const char *sig,
                              const struct e2e_msg *m, uint64_t from, uint64_t to, size_t i,
                              uint8_t tx[32])
{
    struct eth_logs l;
    struct u256 v = cl_u256(0);
    size_t k = 0;

    e2e_logs(c, addr, sig, from, to, &l);
    for (size_t j = 0; j < l.n; j++) {
        if (l.v[j].n_topics >= 2 && memcmp(l.v[j].topics[1], m->mh, 32) == 0) {
            v = e2e_word(&l.v[j], i);
            if (tx != NULL)
                memcpy(tx, l.v[j].tx_hash, 32);
            k++;
        }
    }
    ethrpc_logs_free(&l);
    if (k != 1)
        fail_msg("%s: %zu events for the message, expected 1", sig, k);
    return v;
}

static void no_failed_txs(void)
{
    assert_int_equal(tv_pg_int64(E.db, "SELECT count(*) FROM mosaic.transactions WHERE"
                                       " receipt_status = 0 OR state = 'failed'"), 0);
    assert_int_equal(tv_pg_int64(E.db, "SELECT count(*) FROM mosaic.messages WHERE state ="
                                       " 'halted'"), 0);
    assert_int_equal(tv_pg_int64(E.db, "SELECT count(*) FROM mosaic.alerts WHERE severity ="
                                       " 'critical'"), 0);
}

static const char *const PROGRESS_STAKE[] = {
    "progressStake(bytes32,bytes32)", "progressMint(bytes32,bytes32)",
    "progressStakeWithProof(bytes32,bytes,uint256,uint256)",
    "progressMintWithProof(bytes32,bytes,uint256,uint256)"};
static const char *const PROGRESS_UNSTAKE[] = {
    "progressUnstake(bytes32,bytes32)",
    "progressUnstakeWithProof(bytes32,bytes,uint256,uint256)"};
static const char *const PROGRESS_REDEEM_PROOF[] = {
    "progressRedeemWithProof(bytes32,bytes,uint256,uint256)"};

/* ------------------------------------------------------------- tests -- */

static void test_stake_progressed_by_other(void **state)
{
    struct e2e_msg m;
    uint8_t other[20], tx_o[32], tx_a[32], seen[32];
    struct u256 fac_ut0, fac_bt0, vault0, fac_eth_o0, fac_eth_a0, reward, fees_o, fees_a;
    struct abi_value args[2];
    uint64_t b_o, b_a, e_o, e_a, blk_o, blk_a, blk;

    E2E_REQUIRE(state);
    e2e_quiet(&E);
    memset(&m, 0, sizeof(m));
    cl_new_account(&E.o, 10, other);
    cl_fund_account(&E.a, 10, other);
    cl_new_account(&E.a, 10, redeemer);
    b_o = cl_block_number(&E.o) + 1;
    b_a = cl_block_number(&E.a) + 1;
    fac_ut0 = cl_token_balance(&E.a, E.ut, E.fac);
    fac_bt0 = cl_token_balance(&E.o, E.bt, E.fac);
    vault0 = cl_token_balance(&E.o, E.vt, E.vault);
    fac_eth_o0 = cl_balance(&E.o, E.fac);
    fac_eth_a0 = cl_balance(&E.a, E.fac);

    hold_progress();
    e2e_daemon_start(&E);
    m.amount = cl_u256_e(10, 18);
    m.register_secret = 1; /* the relayer could progress both sides at once */
    memcpy(m.beneficiary, redeemer, 20);
    e2e_stake_burst(&E, &m, 1);
    /* The daemon's confirmation, mined; it has recorded nothing else. */
    wait_status(&m, 1, MOSAIC_DECLARED);
    assert_int_equal(txs_for(&m, "confirmStakeIntent"), 1);
    assert_int_equal(txs_for(&m, "progressMint"), 0);
    assert_int_equal(txs_for(&m, "progressStake"), 0);

    /* Someone else, who knows the secret, progresses both sides. */
    args[0] = abi_v_bytes(m.mh, 32);
    args[1] = abi_v_bytes(m.secret, 32);
    e2e_send_call(&E.a, "progressMint (someone else)", other, E.cogw, NULL,
                  "progressMint(bytes32,bytes32)", args, 2, tx_a, &blk_a);
    e2e_send_call(&E.o, "progressStake (someone else)", other, E.gw, NULL,
                  "progressStake(bytes32,bytes32)", args, 2, tx_o, &blk_o);
    assert_int_equal(e2e_status(&E, &m, 0), MOSAIC_PROGRESSED);
    assert_int_equal(e2e_status(&E, &m, 1), MOSAIC_PROGRESSED);

    release_progress();
    e2e_wait_state(&E, &m, 1, "completed", 60);
    assert_int_equal(e2e_daemon_stop(&E), 0);
    e2e_quiet(&E);
    e_o = cl_block_number(&E.o);
    e_a = cl_block_number(&E.a);

    /* The relayer: the confirmation and nothing else for this message. */
    assert_int_equal(txs_for(&m, "confirmStakeIntent"), 1);
    assert_int_equal(txs_for(&m, "progressMint"), 0);
    assert_int_equal(txs_for(&m, "progressStake"), 0);
    assert_int_equal(txs_for(&m, "progressMintWithProof"), 0);
    assert_int_equal(txs_for(&m, "progressStakeWithProof"), 0);
    fees_o = fac_txs(&E.o, b_o, e_o, PROGRESS_STAKE, 4);
    fees_a = fac_txs(&E.a, b_a, e_a, PROGRESS_STAKE, 4);
    e2e_check_key(&E.o, E.fac);
    e2e_check_key(&E.a, E.fac);
    no_failed_txs();

    /* The database shows the steps as the other account's. */
    step_tx(&m, "progressed_target", seen, &blk);
    assert_memory_equal(seen, tx_a, 32);
    assert_int_equal(blk, blk_a);
    step_tx(&m, "progressed_source", seen, &blk);
    assert_memory_equal(seen, tx_o, 32);
    assert_int_equal(blk, blk_o);
    assert_int_equal(msg_field(&m, "target_done_block"), (int64_t)blk_a);
    assert_int_equal(msg_field(&m, "source_done_block"), (int64_t)blk_o);
    assert_int_equal(msg_field(&m, "source_status"), MOSAIC_PROGRESSED);
    assert_int_equal(msg_field(&m, "target_status"), MOSAIC_PROGRESSED);

    /* Balances to the wei: the reward and the bounty went to the other
     * account, nothing to the facilitator, whose coin paid its fees only. */
    reward = event_word(&E.a, E.cogw, E2E_MINT_PROGRESSED, &m, b_a, e_a, 4, seen);
    assert_memory_equal(seen, tx_a, 32);
    assert_false(u256_is_zero(&reward));
    cl_assert_u256("the other account's reward", cl_token_balance(&E.a, E.ut, other), reward);
    cl_assert_u256("the beneficiary's utility tokens", cl_token_balance(&E.a, E.ut, redeemer),
                   cl_sub(m.amount, reward));
    cl_assert_u256("the other account's bounty", cl_token_balance(&E.o, E.bt, other),
                   cl_u256(E2E_BOUNTY));
    cl_assert_u256("the facilitator's utility tokens", cl_token_balance(&E.a, E.ut, E.fac),
                   fac_ut0);
    cl_assert_u256("the facilitator's base tokens", cl_token_balance(&E.o, E.bt, E.fac), fac_bt0);
    cl_assert_u256("the vault", cl_sub(cl_token_balance(&E.o, E.vt, E.vault), vault0), m.amount);
    cl_assert_u256("the facilitator's coin on origin", cl_add(cl_balance(&E.o, E.fac), fees_o),
                   fac_eth_o0);
    cl_assert_u256("the facilitator's coin on aux", cl_add(cl_balance(&E.a, E.fac), fees_a),
                   fac_eth_a0);
}

static void test_redeem_target_progressed_by_other(void **state)
{
    struct e2e_msg r;
    uint8_t other[20], tx_o[32], seen[32];
    struct u256 fac_vt0, vault0, fac_eth_o0, fac_eth_a0, reward, fees_o, fees_a, bounty;
    struct abi_value args[2];
    uint64_t b_o, b_a, e_o, e_a, blk_o, blk;

    E2E_REQUIRE(state);
    /* The redeemer holds the utility tokens test_stake_progressed_by_other
     * minted to it. */
    memset(&r, 0, sizeof(r));
    memcpy(r.sender, redeemer, 20);
    r.amount = cl_token_balance(&E.a, E.ut, redeemer);
    if (u256_is_zero(&r.amount))
        fail_msg("the redeemer holds no utility tokens: test_stake_progressed_by_other did not"
                 " run or failed");
    e2e_quiet(&E);
    cl_new_account(&E.o, 10, other);
    b_o = cl_block_number(&E.o) + 1;
    b_a = cl_block_number(&E.a) + 1;
    fac_vt0 = cl_token_balance(&E.o, E.vt, E.fac);
    vault0 = cl_token_balance(&E.o, E.vt, E.vault);
    fac_eth_o0 = cl_balance(&E.o, E.fac);
    fac_eth_a0 = cl_balance(&E.a, E.fac);

    hold_progress();
    e2e_daemon_start(&E);
    r.register_secret = 1;
    e2e_redeem_burst(&E, &r, 1);
    wait_status(&r, 1, MOSAIC_DECLARED);
    assert_int_equal(txs_for(&r, "confirmRedeemIntent"), 1);
    assert_int_equal(txs_for(&r, "progressUnstake"), 0);
    assert_int_equal(txs_for(&r, "progressRedeem"), 0);
    wait_tried();

    /* Someone else progresses the target side (origin) with the secret. */
    args[0] = abi_v_bytes(r.mh, 32);
    args[1] = abi_v_bytes(r.secret, 32);
    e2e_send_call(&E.o, "progressUnstake (someone else)", other, E.gw, NULL,
                  "progressUnstake(bytes32,bytes32)", args, 2, tx_o, &blk_o);
    assert_int_equal(e2e_status(&E, &r, 1), MOSAIC_PROGRESSED);
    assert_int_equal(e2e_status(&E, &r, 0), MOSAIC_DECLARED);

    release_progress();
    e2e_wait_state(&E, &r, 1, "completed", 60);
    assert_int_equal(e2e_daemon_stop(&E), 0);
    e2e_quiet(&E);
    e_o = cl_block_number(&E.o);
    e_a = cl_block_number(&E.a);

    /* The relayer: confirm and the source side only. */
    assert_int_equal(txs_for(&r, "confirmRedeemIntent"), 1);
    assert_int_equal(txs_for(&r, "progressRedeem"), 1);
    assert_int_equal(txs_for(&r, "progressUnstake"), 0);
    assert_int_equal(txs_for(&r, "progressUnstakeWithProof"), 0);
    assert_int_equal(txs_for(&r, "progressRedeemWithProof"), 0);
    fees_o = fac_txs(&E.o, b_o, e_o, PROGRESS_UNSTAKE, 2);
    fees_a = fac_txs(&E.a, b_a, e_a, PROGRESS_REDEEM_PROOF, 1);
    e2e_check_key(&E.o, E.fac);
    e2e_check_key(&E.a, E.fac);
    no_failed_txs();

    step_tx(&r, "progressed_target", seen, &blk);
    assert_memory_equal(seen, tx_o, 32);
    assert_int_equal(blk, blk_o);
    assert_int_equal(msg_field(&r, "target_done_block"), (int64_t)blk_o);

    /* Balances: the unstake reward to the other account, the redeem's
     * bounty (coin) to the facilitator, which progressed the source. */
    reward = event_word(&E.o, E.gw, E2E_UNSTAKE_PROGRESSED, &r, b_o, e_o, 4, seen);
    assert_memory_equal(seen, tx_o, 32);
    assert_false(u256_is_zero(&reward));
    cl_assert_u256("the other account's reward", cl_token_balance(&E.o, E.vt, other), reward);
    cl_assert_u256("the beneficiary's value tokens", cl_token_balance(&E.o, E.vt, r.beneficiary),
                   cl_sub(r.amount, reward));
    cl_assert_u256("the facilitator's value tokens", cl_token_balance(&E.o, E.vt, E.fac), fac_vt0);
    cl_assert_u256("the vault", cl_sub(vault0, cl_token_balance(&E.o, E.vt, E.vault)), r.amount);
    cl_assert_u256("the redeemer's utility tokens", cl_token_balance(&E.a, E.ut, redeemer),
                   cl_u256(0));
    bounty = cl_u256(E2E_BOUNTY);
    cl_assert_u256("the facilitator's coin on aux", cl_add(cl_balance(&E.a, E.fac), fees_a),
                   cl_add(fac_eth_a0, bounty));
    cl_assert_u256("the facilitator's coin on origin", cl_add(cl_balance(&E.o, E.fac), fees_o),
                   fac_eth_o0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stake_progressed_by_other),
        cmocka_unit_test(test_redeem_target_progressed_by_other),
    };
    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, group_setup, e2e_group_teardown);
}
