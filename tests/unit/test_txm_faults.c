/*
 * test_txm_faults.c - the transaction manager behind the loopback fault
 * proxy (tests/lib/faultproxy.h) in front of a real anvil chain, with a
 * real PostgreSQL (RELIABILITY.md rows 7, 8 and 9):
 *   - eth_sendRawTransaction forwarded but its reply dropped: the
 *     transaction is found by its stored hash, mined once;
 *   - 429 with Retry-After on the send: the endpoint backs off at least
 *     that long, the same bytes go out again, mined once;
 *   - a truncated receipt: the poll fails and records nothing; the next
 *     poll goes on;
 *   - a head that lags: nothing is final before it really is deep enough;
 *   - a lying eth_getProof: chain/ has no function that consumes proofs
 *     (it only parses them), so the check is the one the flows will make:
 *     the altered proof does not verify against the block's state root.
 */
#include "tests/lib/txmfx.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chain/ethrpc.h"
#include "chain/rpc.h"
#include "eth/hex.h"
#include "eth/mpt.h"
#include "tests/lib/faultproxy.h"

/* anvil's public dev account #3 (test key; #0..#2 are used elsewhere). */
static const char *dev_sk = "7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6";

struct fx {
    struct fproxy *p;
    struct txmfx x;
    int ready;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));

    *state = f;
    f->ready = txmfx_open_proxied(&f->x, &f->p, dev_sk);
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

static uint64_t nonce_of(struct fx *f)
{
    struct mr_error err;
    uint64_t n = 0;

    if (ethrpc_get_transaction_count(f->x.rpc, signer_address(f->x.signer), "latest", &n, NULL,
                                     &err))
        fail_msg("nonce: %s", err.msg);
    return n;
}

static uint64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* One transaction, one attempt, final, and the chain's nonce moved by one. */
static void assert_once(struct fx *f, uint64_t before)
{
    assert_int_equal(tv_pg_int64(f->x.db, "SELECT count(*) FROM transactions WHERE state = "
                                          "'final' AND receipt_status = 1"), 1);
    assert_int_equal(tv_pg_int64(f->x.db, "SELECT count(*) FROM tx_attempts"), 1);
    assert_int_equal(nonce_of(f), before + 1);
}

static void test_send_reply_dropped(void **state)
{
    struct txs_intent in = txmfx_call();
    int64_t id;
    uint64_t before;
    int sends;
    REQUIRE();

    before = nonce_of(f);
    /* Twice: libcurl itself sends a request again, once, when a reused
     * keep-alive connection dies before the answer (the same bytes). */
    fproxy_rule(f->p, "eth_sendRawTransaction", FP_DROP_REPLY, 0, 2, NULL, NULL);
    /* The node took it, we do not know: the record stays "signed". */
    assert_int_equal(txm_submit(&f->x.t, &in, &id, &err), MR_OK);
    assert_int_equal(tv_pg_int64(f->x.db, "SELECT count(*) FROM transactions WHERE state = "
                                          "'signed'"), 1);
    sends = fproxy_count(f->p, "eth_sendRawTransaction");
    assert_true(sends >= 1 && sends <= 2);
    txmfx_drain(&f->x, 10);
    assert_once(f, before);
    /* Found by its stored hash; no further send was needed. */
    assert_int_equal(fproxy_count(f->p, "eth_sendRawTransaction"), sends);
}

static void test_send_rate_limited(void **state)
{
    struct txs_intent in = txmfx_call();
    const struct rpc_health *h;
    int64_t id;
    uint64_t before, t0;
    REQUIRE();

    before = nonce_of(f);
    fproxy_rule(f->p, "eth_sendRawTransaction", FP_STATUS, 429, 1, NULL, NULL);
    t0 = now_ms();
    assert_int_equal(txm_submit(&f->x.t, &in, &id, &err), MR_OK);
    h = rpc_endpoints_health(f->x.rpc, 0);
    assert_int_equal(h->consecutive_errors, 1);
    /* The proxy says Retry-After: 1; the endpoint is avoided that long. */
    assert_true(h->backoff_until_ms >= t0 + 1000);
    assert_int_equal(tv_pg_int64(f->x.db, "SELECT count(*) FROM transactions WHERE state = "
                                          "'signed'"), 1);
    txmfx_drain(&f->x, 10);
    assert_once(f, before);
    assert_int_equal(fproxy_count(f->p, "eth_sendRawTransaction"), 2); /* the same bytes again */
}

static void test_receipt_truncated(void **state)
{
    struct txs_intent in = txmfx_call();
    int64_t id;
    uint64_t before;
    REQUIRE();

    before = nonce_of(f);
    assert_int_equal(txm_submit(&f->x.t, &in, &id, &err), MR_OK); /* mined (automine) */
    fproxy_rule(f->p, "eth_getTransactionReceipt", FP_TRUNCATE, 0, 1, NULL, NULL);
    assert_int_equal(txm_poll(&f->x.t, NULL, &err), MR_ERR_JSON);
    assert_non_null(strstr(err.msg, fproxy_url(f->p)));
    assert_int_equal(tv_pg_int64(f->x.db, "SELECT count(*) FROM transactions WHERE state = "
                                          "'broadcast'"), 1);
    txmfx_drain(&f->x, 10);
    assert_once(f, before);
}

/* QUANTITY text of n ("0x1f") into out. */
static void qty(uint64_t n, char *out, size_t cap)
{
    hex_encode_quantity_u64(n, out, cap);
}

static void test_lagging_head(void **state)
{
    struct txs_intent in = txmfx_call();
    int64_t id, block;
    uint64_t head;
    size_t left;
    char real[40], lag[40], from[48], to[48];
    REQUIRE();

    /* The proxy rewrites the head in place, so the lagging head must have
     * as many hex digits as the real one: not near 0xff, 0xfff, ...
     * (moving the lag to the new head, as this did, made the transaction
     * final at once when it was included at 0xfe: the suite's earlier
     * programs decide the height). */
    for (;;) {
        assert_int_equal(ethrpc_block_number(f->x.rpc, &head, NULL, &err), MR_OK);
        qty(head, real, sizeof(real));
        qty(head + 8, lag, sizeof(lag));
        if (strlen(real) == strlen(lag))
            break;
        txmfx_anvil(f->x.rpc, "anvil_mine", "[8]");
    }
    assert_int_equal(txm_submit(&f->x.t, &in, &id, &err), MR_OK);
    assert_int_equal(txm_poll(&f->x.t, &left, &err), MR_OK); /* included */
    block = tv_pg_int64(f->x.db, "SELECT included_block FROM transactions");
    assert_true(block > 0);
    /* Deep enough now (2 confirmations) ... */
    txmfx_anvil(f->x.rpc, "anvil_mine", "[2]");
    assert_int_equal(ethrpc_block_number(f->x.rpc, &head, NULL, &err), MR_OK);
    qty(head, real, sizeof(real));
    qty((uint64_t)block, lag, sizeof(lag));
    assert_int_equal(strlen(real), strlen(lag));
    /* ... but the node says the head is still the block of the receipt. */
    snprintf(from, sizeof(from), "\"%s\"", real);
    snprintf(to, sizeof(to), "\"%s\"", lag);
    fproxy_rule(f->p, "eth_blockNumber", FP_REWRITE, 0, 0, from, to);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(txm_poll(&f->x.t, &left, &err), MR_OK);
        assert_int_equal(left, 1);
    }
    assert_int_equal(tv_pg_int64(f->x.db, "SELECT count(*) FROM transactions WHERE state = "
                                          "'included'"), 1);
    fproxy_clear(f->p);
    assert_int_equal(txm_poll(&f->x.t, &left, &err), MR_OK);
    assert_int_equal(left, 0);
}

static void test_lying_proof(void **state)
{
    struct eth_block b;
    struct proofjson good, bad;
    struct mpt_account acct;
    char id[ETHRPC_BLOCK_ID_LEN], from[41], to[41];
    const uint8_t *addr;
    int exists;
    REQUIRE();

    addr = signer_address(f->x.signer);
    assert_int_equal(ethrpc_get_block(f->x.rpc, "latest", &b, NULL, &err), MR_OK);
    ethrpc_block_id(b.number, id);
    assert_int_equal(ethrpc_get_proof(f->x.rpc, addr, NULL, 0, id, &good, NULL, &err), MR_OK);
    assert_true(good.n_account_nodes > 0 && good.account_nodes[0].len > 40);
    assert_int_equal(mpt_verify_account(b.state_root, addr, good.account_nodes,
                                        good.n_account_nodes, &acct, &exists, &err), MR_OK);
    /* Flip one digit inside the first node of the account proof. */
    for (size_t i = 0; i < 20; i++)
        sprintf(from + 2 * i, "%02x", good.account_nodes[0].data[10 + i]);
    memcpy(to, from, sizeof(to));
    to[7] = to[7] == '0' ? '1' : '0';
    fproxy_rule(f->p, "eth_getProof", FP_REWRITE, 0, 1, from, to);
    assert_int_equal(ethrpc_get_proof(f->x.rpc, addr, NULL, 0, id, &bad, NULL, &err), MR_OK);
    assert_int_equal(mpt_verify_account(b.state_root, addr, bad.account_nodes, bad.n_account_nodes,
                                        &acct, &exists, &err), MR_ERR_PROOF);
    proofjson_free(&good);
    proofjson_free(&bad);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_send_reply_dropped),
        T(test_send_rate_limited),
        T(test_receipt_truncated),
        T(test_lagging_head),
        T(test_lying_proof),
    };
    return cmocka_run_group_tests_name("txm behind a fault proxy", tests, NULL, NULL);
}
