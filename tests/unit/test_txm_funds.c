/*
 * test_txm_funds.c - the transaction manager's answers to a key that
 * cannot pay and to the node's send errors (RELIABILITY.md rows 14 and
 * 11), against a real anvil chain behind the loopback fault proxy and a
 * real PostgreSQL:
 *   - the key's balance set to 1 wei: sends pause with one critical alert,
 *     no nonce is used; funded again, sends resume and the alert is
 *     resolved;
 *   - cfg.min_balance: a balance below it raises one warning alert,
 *     resolved when the balance is back;
 *   - "replacement transaction underpriced" answered to a replacement: the
 *     next attempt, at least 10% higher on both fees, goes out in the same
 *     poll; one transaction is mined at that nonce;
 *   - the same at the caps: no attempt beyond them, the fee cap alert;
 *   - "already known" / "transaction already imported" answered to a send:
 *     counted as sent (pending), no new attempt.
 */
#include "tests/lib/txmfx.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chain/ethrpc.h"
#include "eth/hex.h"
#include "tests/lib/faultproxy.h"

/* A key of this test's own (not one of anvil's dev accounts, which other
 * tests use): funded by the setup with anvil_setBalance. */
static const char *own_sk = "4242424242424242424242424242424242424242424242424242424242424242";
#define RICH "\"0x3635c9adc5dea00000\"" /* 1000 ether */

struct fx {
    struct fproxy *p;
    struct txmfx x;
    int ready;
    char addr[43];              /* the key's address, lower-case 0x hex */
};

static void set_balance(struct fx *f, const char *quantity)
{
    char params[160];

    snprintf(params, sizeof(params), "[\"%s\", %s]", f->addr, quantity);
    txmfx_anvil(f->x.rpc, "anvil_setBalance", params);
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));

    *state = f;
    f->ready = txmfx_open_proxied(&f->x, &f->p, own_sk);
    if (f->ready) {
        hex_encode_data(signer_address(f->x.signer), 20, f->addr, sizeof(f->addr));
        set_balance(f, RICH);
        /* Blocks only when the test mines one. */
        txmfx_anvil(f->x.rpc, "evm_setAutomine", "[false]");
        txmfx_anvil(f->x.rpc, "anvil_dropAllTransactions", "[]");
    }
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;

    txmfx_close_proxied(&f->x, f->p, f->ready);
    free(f);
    return 0;
}

#define REQUIRE()                                                              \
    struct fx *f = *state;                                                     \
    struct mr_error err;                                                       \
    TV_REQUIRE_PG();                                                           \
    TV_REQUIRE_ANVIL()

static uint64_t nonce_of(struct fx *f, const char *tag)
{
    struct mr_error err;
    uint64_t n = 0;

    if (ethrpc_get_transaction_count(f->x.rpc, signer_address(f->x.signer), tag, &n, NULL, &err))
        fail_msg("nonce: %s", err.msg);
    return n;
}

static int64_t q(struct fx *f, const char *sql)
{
    return tv_pg_int64(f->x.db, sql);
}

/* Open alerts of this key ("origin 0x..."), of a severity. */
static int64_t open_alerts(struct fx *f, const char *severity)
{
    char sql[300];

    snprintf(sql, sizeof(sql), "SELECT count(*) FROM alerts WHERE component = 'txm' AND subject = "
             "'origin %s' AND severity = '%s' AND acknowledged_at IS NULL", f->addr, severity);
    return q(f, sql);
}

/* Row 14: the pause of a key that cannot pay, with its alert. */
static void test_no_funds_alert(void **state)
{
    struct txs_intent in = txmfx_call();
    int64_t id;
    uint64_t pending;
    REQUIRE();

    assert_int_equal(txm_submit(&f->x.t, &in, &id, &err), MR_OK);
    txmfx_anvil(f->x.rpc, "anvil_dropAllTransactions", "[]");
    set_balance(f, "\"0x1\"");
    pending = nonce_of(f, "pending");
    /* The signed transaction cannot be sent: paused, one critical alert. */
    assert_int_equal(txm_poll(&f->x.t, NULL, &err), MR_ERR_RPC);
    assert_true(f->x.t.paused);
    assert_int_equal(open_alerts(f, "critical"), 1);
    assert_int_equal(q(f, "SELECT count(*) FROM alerts WHERE message LIKE 'sending from this key "
                          "is paused%insufficient funds%'"), 1);
    /* Raised once while it lasts. */
    assert_int_equal(txm_poll(&f->x.t, NULL, &err), MR_ERR_RPC);
    f->x.t.funds_alert = 0; /* as after a restart: the database still dedups */
    assert_int_equal(txm_poll(&f->x.t, NULL, &err), MR_ERR_RPC);
    assert_int_equal(q(f, "SELECT count(*) FROM alerts"), 1);
    /* No nonce is used for a new intent meanwhile. */
    in = txmfx_call();
    assert_int_equal(txm_submit(&f->x.t, &in, &id, &err), MR_ERR_PERM);
    assert_non_null(strstr(err.msg, "insufficient funds"));
    assert_int_equal(q(f, "SELECT count(*) FROM transactions"), 1);
    assert_int_equal(q(f, "SELECT count(*) FROM tx_attempts"), 1);
    assert_int_equal(nonce_of(f, "pending"), pending);
    /* Funded: the same bytes go out, the alert is resolved, sends resume. */
    set_balance(f, RICH);
    assert_int_equal(txm_poll(&f->x.t, NULL, &err), MR_OK);
    assert_false(f->x.t.paused);
    assert_int_equal(open_alerts(f, "critical"), 0);
    assert_int_equal(q(f, "SELECT count(*) FROM alerts WHERE acknowledged_at IS NOT NULL"), 1);
    in = txmfx_call();
    assert_int_equal(txm_submit(&f->x.t, &in, &id, &err), MR_OK);
    txmfx_drain(&f->x, 10);
    assert_int_equal(q(f, "SELECT count(*) FROM transactions WHERE state = 'final' AND "
                          "receipt_status = 1"), 2);
    assert_int_equal(nonce_of(f, "latest"), pending + 2);
    assert_int_equal(q(f, "SELECT count(*) FROM alerts"), 1);
}

/* Row 14: the warning below cfg.min_balance. */
static void test_low_balance_alert(void **state)
{
    struct txs_intent in = txmfx_call();
    int64_t id;
    REQUIRE();

    u256_from_u64(&f->x.t.cfg.min_balance, 10000000000000000000ULL); /* 10 ether */
    f->x.t.cfg.balance_check_ms = 0;
    assert_int_equal(txm_poll(&f->x.t, NULL, &err), MR_OK); /* 1000 ether: nothing */
    assert_int_equal(q(f, "SELECT count(*) FROM alerts"), 0);
    set_balance(f, "\"0xde0b6b3a7640000\""); /* 1 ether */
    assert_int_equal(txm_poll(&f->x.t, NULL, &err), MR_OK);
    assert_int_equal(open_alerts(f, "warning"), 1);
    assert_int_equal(q(f, "SELECT count(*) FROM alerts WHERE message LIKE 'the key''s balance is "
                          "below min_balance (10000000000000000000 wei)%'"), 1);
    /* Still low: once.  Sends go on (it can still pay). */
    assert_int_equal(txm_submit(&f->x.t, &in, &id, &err), MR_OK);
    txmfx_drain(&f->x, 10);
    f->x.t.balance_alert = 0; /* as after a restart */
    assert_int_equal(txm_poll(&f->x.t, NULL, &err), MR_OK);
    assert_int_equal(q(f, "SELECT count(*) FROM alerts"), 1);
    /* Funded: resolved. */
    set_balance(f, RICH);
    assert_int_equal(txm_poll(&f->x.t, NULL, &err), MR_OK);
    assert_int_equal(open_alerts(f, "warning"), 0);
    assert_int_equal(q(f, "SELECT count(*) FROM alerts WHERE acknowledged_at IS NOT NULL"), 1);
    /* Off (0): never read. */
    memset(&f->x.t.cfg.min_balance, 0, sizeof(f->x.t.cfg.min_balance));
    set_balance(f, "\"0x1\"");
    assert_int_equal(txm_poll(&f->x.t, NULL, &err), MR_OK);
    assert_int_equal(q(f, "SELECT count(*) FROM alerts WHERE acknowledged_at IS NULL"), 0);
    set_balance(f, RICH);
}

/* Row 11: a replacement refused as underpriced is bumped again at once. */
static void test_replacement_underpriced(void **state)
{
    struct txs_intent in = txmfx_call();
    int64_t id;
    uint64_t before;
    int sends;
    REQUIRE();

    before = nonce_of(f, "latest");
    assert_int_equal(txm_submit(&f->x.t, &in, &id, &err), MR_OK);
    sends = fproxy_count(f->p, "eth_sendRawTransaction");
    assert_int_equal(sends, 1);
    /* Stuck: the replacement (attempt 2) is refused once. */
    fproxy_node_error(f->p, "eth_sendRawTransaction", NULL, -32000,
                      "replacement transaction underpriced", 1);
    f->x.t.cfg.stuck_after_ms = 0;
    usleep(20000);
    assert_int_equal(txm_poll(&f->x.t, NULL, &err), MR_OK);
    f->x.t.cfg.stuck_after_ms = 60000;
    assert_int_equal(fproxy_count(f->p, "(node error)"), 1);
    /* Attempt 3 in the same poll: both fees >= 110% of attempt 2's. */
    assert_int_equal(fproxy_count(f->p, "eth_sendRawTransaction"), sends + 2);
    assert_int_equal(q(f, "SELECT count(*) FROM tx_attempts"), 3);
    assert_int_equal(q(f, "SELECT (c.max_fee * 100 >= b.max_fee * 110 AND c.max_priority_fee * 100 "
                          ">= b.max_priority_fee * 110 AND b.max_fee > a.max_fee)::int FROM "
                          "tx_attempts a, tx_attempts b, tx_attempts c WHERE a.attempt = 1 AND "
                          "b.attempt = 2 AND c.attempt = 3"), 1);
    assert_int_equal(q(f, "SELECT count(*) FROM tx_attempts WHERE broadcast_at IS NOT NULL AND "
                          "attempt <> 2"), 2);
    assert_int_equal(q(f, "SELECT count(*) FROM tx_attempts WHERE attempt = 2 AND broadcast_at "
                          "IS NULL"), 1);
    txmfx_drain(&f->x, 10);
    /* One transaction at that nonce, mined once: attempt 3. */
    assert_int_equal(q(f, "SELECT count(*) FROM transactions t JOIN tx_attempts a ON a.tx_id = "
                          "t.id AND a.attempt = 3 WHERE t.state = 'final' AND t.receipt_status = 1 "
                          "AND t.mined_tx_hash = a.tx_hash"), 1);
    assert_int_equal(nonce_of(f, "latest"), before + 1);
}

/* Row 11: refused as underpriced at the caps: no attempt beyond them (the
 * error is the poll's), and the next stuck timeout raises the fee cap
 * alert. */
static void test_underpriced_at_cap(void **state)
{
    struct txs_intent in = txmfx_call();
    struct u256 fee, tip, big;
    int64_t id;
    REQUIRE();

    assert_int_equal(txm_fees(&f->x.t, &fee, &tip, &err), MR_OK);
    assert_int_equal(txm_submit(&f->x.t, &in, &id, &err), MR_OK);
    /* Room above attempt 1 for one replacement, at the caps (+5%). */
    u256_from_u64(&big, UINT64_MAX);
    assert_int_equal(txm_bump(&fee, 5, &big, &f->x.t.cfg.max_fee_cap), MR_OK);
    assert_int_equal(txm_bump(&tip, 5, &big, &f->x.t.cfg.tip_cap), MR_OK);
    fproxy_node_error(f->p, "eth_sendRawTransaction", NULL, -32000,
                      "replacement transaction underpriced", 0);
    f->x.t.cfg.stuck_after_ms = 0;
    usleep(20000);
    assert_int_equal(txm_poll(&f->x.t, NULL, &err), MR_ERR_RPC);
    assert_int_equal(q(f, "SELECT count(*) FROM tx_attempts"), 2);
    assert_int_equal(fproxy_count(f->p, "(node error)"), 1);
    f->x.t.cfg.stuck_after_ms = 60000;
    /* Attempt 2 was never taken: the next poll does not wait for it to be
     * stuck; at the caps, it raises the alert (and sends the same bytes). */
    assert_int_equal(txm_poll(&f->x.t, NULL, &err), MR_ERR_RPC);
    assert_int_equal(q(f, "SELECT count(*) FROM tx_attempts"), 2);
    assert_int_equal(q(f, "SELECT count(*) FROM alerts WHERE message LIKE '%fee cap%'"), 1);
    assert_int_equal(fproxy_count(f->p, "(node error)"), 3);
    /* The node takes it again: sent, mined once. */
    fproxy_clear(f->p);
    u256_from_u64(&f->x.t.cfg.max_fee_cap, 500000000000ULL);
    u256_from_u64(&f->x.t.cfg.tip_cap, 100000000000ULL);
    assert_int_equal(txm_poll(&f->x.t, NULL, &err), MR_OK);
    txmfx_drain(&f->x, 10);
    assert_int_equal(q(f, "SELECT count(*) FROM transactions WHERE state = 'final' AND "
                          "receipt_status = 1"), 1);
}

/* Row 11: "already known" and "transaction already imported" count as a
 * send: pending, no new attempt. */
static void test_already_known(void **state)
{
    struct txs_intent in = txmfx_call();
    int64_t id;
    uint64_t before;
    REQUIRE();

    before = nonce_of(f, "latest");
    /* The first send: the node says it has it (geth's words). */
    f->x.t.cfg.resend_ms = INT64_MAX / 4; /* this poll sends nothing again */
    fproxy_node_error(f->p, "eth_sendRawTransaction", NULL, -32000, "already known", 1);
    assert_int_equal(txm_submit(&f->x.t, &in, &id, &err), MR_OK);
    assert_int_equal(txm_poll(&f->x.t, NULL, &err), MR_OK);
    assert_int_equal(q(f, "SELECT count(*) FROM transactions WHERE state = 'broadcast'"), 1);
    assert_int_equal(q(f, "SELECT count(*) FROM tx_attempts WHERE broadcast_at IS NOT NULL"), 1);
    assert_int_equal(fproxy_count(f->p, "eth_sendRawTransaction"), 1);
    /* A resend: anvil's words.  Still pending, no error, one attempt. */
    f->x.t.cfg.resend_ms = 0;
    fproxy_node_error(f->p, "eth_sendRawTransaction", NULL, -32003,
                      "transaction already imported", 1);
    assert_int_equal(txm_poll(&f->x.t, NULL, &err), MR_OK);
    assert_int_equal(fproxy_count(f->p, "(node error)"), 2);
    assert_int_equal(q(f, "SELECT count(*) FROM transactions WHERE state = 'broadcast'"), 1);
    assert_int_equal(q(f, "SELECT count(*) FROM tx_attempts"), 1);
    assert_false(f->x.t.paused);
    /* Neither reached the node: the next resends do; mined once. */
    txmfx_drain(&f->x, 10);
    assert_int_equal(q(f, "SELECT count(*) FROM transactions WHERE state = 'final' AND "
                          "receipt_status = 1"), 1);
    assert_int_equal(q(f, "SELECT count(*) FROM tx_attempts"), 1);
    assert_int_equal(nonce_of(f, "latest"), before + 1);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_no_funds_alert),
        T(test_low_balance_alert),
        T(test_replacement_underpriced),
        T(test_underpriced_at_cap),
        T(test_already_known),
    };
    return cmocka_run_group_tests_name("txm: funds and send errors", tests, NULL, NULL);
}
