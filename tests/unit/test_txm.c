/*
 * test_txm.c - the transaction manager against a real anvil chain and a
 * real PostgreSQL: pipelined sends confirmed once each, a reverting call
 * refused before any nonce is used, a stuck transaction replaced at the
 * same nonce with bumped fees, a transaction reorged out and sent again,
 * an intent left by a crash completed, and the bump arithmetic.
 */
#include "tests/lib/testlib.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "chain/rpc.h"
#include "db/db.h"
#include "relayer/txm.h"
#include "tests/lib/txmfx.h"

/* anvil's public dev account #1 (test key; #0 is used by test_rpc). */
static const char *dev_sk = "59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";

struct fx {
    struct txmfx x;
    int ready;
    int done;                   /* the test ran to its end (else teardown explains) */
    /* Short names for the tests below. */
    PGconn *db;
    struct rpc_endpoints *rpc;
    struct signer *signer;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));

    *state = f;
    f->ready = txmfx_open(&f->x, dev_sk, NULL) == 0;
    /* Blocks only when a test mines one (anvil_mine, txmfx_drain): anvil's
     * automine answers a send before it mines it, in the background, so
     * that "mined by now" would be a guess about timing. */
    if (f->ready)
        txmfx_anvil(f->x.rpc, "evm_setAutomine", "[false]");
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;

    if (f->ready && !f->done)
        txmfx_dump(&f->x, "test_txm");
    if (f->ready)
        txmfx_close(&f->x);
    free(f);
    return 0;
}

#define REQUIRE()                                                              \
    struct fx *f = *state;                                                     \
    struct mr_error err;                                                       \
    TV_REQUIRE_PG();                                                           \
    TV_REQUIRE_ANVIL();                                                        \
    f->db = f->x.db;                                                           \
    f->rpc = f->x.rpc;                                                         \
    f->signer = f->x.signer

static void anvil(struct fx *f, const char *method, const char *params)
{
    txmfx_anvil(f->rpc, method, params);
}

static struct txs_intent plain_call(void)
{
    return txmfx_call();
}

static void drain(struct fx *f, int rounds)
{
    txmfx_drain(&f->x, rounds);
}

static void test_bump(void **state)
{
    struct u256 old, cap, out;
    uint64_t v;
    (void)state;

    u256_from_u64(&cap, 1000);
    u256_from_u64(&old, 100);
    assert_int_equal(txm_bump(&old, 10, &cap, &out), MR_OK);
    assert_int_equal(u256_to_u64(&out, &v), MR_OK);
    assert_int_equal(v, 110);
    u256_from_u64(&old, 101); /* 111.1 rounds up: geth wants >= +10% */
    assert_int_equal(txm_bump(&old, 10, &cap, &out), MR_OK);
    assert_int_equal(u256_to_u64(&out, &v), MR_OK);
    assert_int_equal(v, 112);
    u256_from_u64(&old, 1); /* tiny fees still move by at least 1 wei */
    assert_int_equal(txm_bump(&old, 10, &cap, &out), MR_OK);
    assert_int_equal(u256_to_u64(&out, &v), MR_OK);
    assert_int_equal(v, 2);
    u256_from_u64(&old, 950); /* past the cap: the cap, and say so */
    assert_int_equal(txm_bump(&old, 10, &cap, &out), MR_ERR_RANGE);
    assert_int_equal(u256_to_u64(&out, &v), MR_OK);
    assert_int_equal(v, 1000);
}

static void test_pipelined_sends(void **state)
{
    int64_t id;
    REQUIRE();

    for (int i = 0; i < 10; i++) {
        struct txs_intent in = plain_call();
        if (txm_submit(&f->x.t, &in, &id, &err) != MR_OK)
            fail_msg("submit %d: %s", i, err.msg);
    }
    drain(f, 20);
    assert_int_equal(tv_pg_int64(f->db, "SELECT count(*) FROM transactions WHERE state = 'final' AND "
                                "receipt_status = 1"), 10);
    assert_int_equal(tv_pg_int64(f->db, "SELECT max(nonce) - min(nonce) + 1 FROM transactions"), 10);
    assert_int_equal(tv_pg_int64(f->db, "SELECT count(*) FROM tx_attempts WHERE broadcast_at IS NOT NULL"), 10);
}

static void test_revert_not_sent(void **state)
{
    static const uint8_t reverter[20] = {0xde, 0xad};
    struct txs_intent in = plain_call();
    int64_t id;
    REQUIRE();

    /* Code that always reverts: PUSH1 0 PUSH1 0 REVERT. */
    anvil(f, "anvil_setCode", "[\"0xdead000000000000000000000000000000000000\", \"0x60006000fd\"]");
    in.to = reverter;
    assert_int_equal(txm_submit(&f->x.t, &in, &id, &err), MR_ERR_RPC);
    assert_non_null(strstr(err.msg, "revert"));
    assert_int_equal(tv_pg_int64(f->db, "SELECT count(*) FROM transactions"), 0);
    assert_int_equal(tv_pg_int64(f->db, "SELECT count(*) FROM signer_nonces"), 0);
}

static void test_stuck_replaced(void **state)
{
    struct txs_intent in = plain_call();
    int64_t id;
    REQUIRE();

    assert_int_equal(txm_submit(&f->x.t, &in, &id, &err), MR_OK);
    /* Not mined in time: replaced at the same nonce, both fees bumped. */
    f->x.t.cfg.stuck_after_ms = 0;
    usleep(20000);
    assert_int_equal(txm_poll(&f->x.t, NULL, &err), MR_OK);
    f->x.t.cfg.stuck_after_ms = 60000;
    assert_int_equal(tv_pg_int64(f->db, "SELECT count(*) FROM tx_attempts"), 2);
    assert_int_equal(tv_pg_int64(f->db, "SELECT (b.max_fee * 100 >= a.max_fee * 112 AND b.max_priority_fee"
                                " * 100 >= a.max_priority_fee * 112)::int FROM tx_attempts a, "
                                "tx_attempts b WHERE a.attempt = 1 AND b.attempt = 2"), 1);
    anvil(f, "anvil_mine", "[1]");
    drain(f, 10);
    /* One effect: one transaction final, mined once. */
    assert_int_equal(tv_pg_int64(f->db, "SELECT count(*) FROM transactions WHERE state = 'final'"), 1);
}

static void test_reorged_and_resent(void **state)
{
    struct txs_intent in = plain_call();
    int64_t id, first;
    size_t left;
    REQUIRE();

    assert_int_equal(txm_submit(&f->x.t, &in, &id, &err), MR_OK);
    anvil(f, "anvil_mine", "[1]");
    assert_int_equal(txm_poll(&f->x.t, &left, &err), MR_OK);
    first = tv_pg_int64(f->db, "SELECT included_block FROM transactions WHERE state = 'included'");
    assert_true(first > 0);
    assert_int_equal(db_exec(f->db, "CREATE TEMP TABLE old_block AS SELECT included_block_hash AS h "
                                    "FROM transactions", &err), MR_OK);
    /* Replace the last block: anvil drops the transactions it held. */
    anvil(f, "anvil_reorg", "[1, []]");
    assert_int_equal(txm_poll(&f->x.t, &left, &err), MR_OK); /* notices, resends */
    assert_int_equal(tv_pg_int64(f->db, "SELECT count(*) FROM transactions WHERE state IN ('broadcast', "
                                "'included')"), 1);
    drain(f, 10);
    assert_int_equal(tv_pg_int64(f->db, "SELECT count(*) FROM transactions WHERE state = 'final' AND "
                                "receipt_status = 1"), 1);
    /* Final in a block of the new chain, not in the orphaned one. */
    assert_int_equal(tv_pg_int64(f->db, "SELECT count(*) FROM transactions t, old_block o WHERE "
                                "t.included_block_hash = o.h"), 0);
}

static void test_intent_after_crash(void **state)
{
    struct txs_intent in = plain_call();
    uint64_t chain_nonce, nonce;
    int64_t id;
    REQUIRE();

    /* A crash right after the intent was recorded, before signing. */
    in.chain_key = "origin";
    in.sender = signer_address(f->signer);
    assert_int_equal(ethrpc_get_transaction_count(f->rpc, in.sender, "pending", &chain_nonce, NULL,
                                                  &err), MR_OK);
    assert_int_equal(txs_create_intent(f->db, &in, chain_nonce, &id, &nonce, &err), MR_OK);
    drain(f, 10);
    assert_int_equal(tv_pg_int64(f->db, "SELECT count(*) FROM transactions WHERE state = 'final'"), 1);
}

/* Intents recorded by others (the flows) are signed by one poll, stored
 * together in one statement and only then sent: each once, with one
 * attempt, at its own nonce. */
static void test_intents_signed_together(void **state)
{
    uint64_t chain_nonce, nonce, first = 0;
    int64_t id;
    size_t left = 0;
    REQUIRE();

    assert_int_equal(ethrpc_get_transaction_count(f->rpc, signer_address(f->signer), "pending",
                                                  &chain_nonce, NULL, &err), MR_OK);
    for (int i = 0; i < 6; i++) {
        struct txs_intent in = plain_call();
        in.chain_key = "origin";
        in.sender = signer_address(f->signer);
        assert_int_equal(txs_create_intent(f->db, &in, chain_nonce, &id, &nonce, &err), MR_OK);
        if (i == 0)
            first = nonce;
        assert_int_equal(nonce, first + (uint64_t)i);
    }
    if (txm_poll(&f->x.t, &left, &err) != MR_OK)
        fail_msg("poll: %s", err.msg);
    assert_int_equal(left, 6);
    /* One poll: all signed, stored and sent (the sends recorded at its end). */
    assert_int_equal(tv_pg_int64(f->db, "SELECT count(*) FROM transactions WHERE state ="
                                 " 'broadcast'"), 6);
    assert_int_equal(tv_pg_int64(f->db, "SELECT count(*) FROM tx_attempts a JOIN transactions t"
                                 " ON t.id = a.tx_id WHERE a.attempt = 1 AND a.broadcast_at IS NOT"
                                 " NULL"), 6);
    assert_int_equal(tv_pg_int64(f->db, "SELECT count(*) FROM tx_attempts"), 6);
    drain(f, 20);
    assert_int_equal(tv_pg_int64(f->db, "SELECT count(*) FROM transactions WHERE state = 'final'"
                                 " AND receipt_status = 1"), 6);
    assert_int_equal(tv_pg_int64(f->db, "SELECT count(*) FROM tx_attempts"), 6);
}

/* Finality by the node's "finalized" tag (anvil --slots-in-an-epoch 1:
 * head - 2), and the pause when the key cannot pay. */
static void test_finalized_tag_and_pause(void **state)
{
    struct txs_intent in = plain_call();
    int64_t id;
    size_t left;
    char params[160];
    REQUIRE();

    f->x.t.cfg.use_finalized_tag = 1;
    assert_int_equal(txm_submit(&f->x.t, &in, &id, &err), MR_OK);
    anvil(f, "anvil_mine", "[1]");
    assert_int_equal(txm_poll(&f->x.t, &left, &err), MR_OK); /* included, not yet finalized */
    assert_int_equal(tv_pg_int64(f->db, "SELECT count(*) FROM transactions WHERE state = 'included'"), 1);
    assert_int_equal(txm_poll(&f->x.t, &left, &err), MR_OK);
    assert_int_equal(left, 1);
    anvil(f, "anvil_mine", "[3]");
    assert_int_equal(txm_poll(&f->x.t, &left, &err), MR_OK);
    assert_int_equal(left, 0);
    assert_int_equal(tv_pg_int64(f->db, "SELECT count(*) FROM transactions WHERE state = 'final'"), 1);

    /* Broke: the signed transaction waits, new intents are refused and use
     * no nonce; funded again, it goes through. */
    snprintf(params, sizeof(params), "[\"0x70997970C51812dc3A010C7d01b50e0d17dc79C8\", \"0x1\"]");
    assert_int_equal(txm_submit(&f->x.t, &in, &id, &err), MR_OK); /* pending in the pool */
    anvil(f, "anvil_dropAllTransactions", "[]");
    anvil(f, "anvil_setBalance", params);
    assert_int_equal(txm_poll(&f->x.t, &left, &err), MR_ERR_RPC);
    assert_true(f->x.t.paused);
    assert_int_equal(txm_submit(&f->x.t, &in, &id, &err), MR_ERR_PERM);
    assert_non_null(strstr(err.msg, "insufficient funds"));
    assert_int_equal(tv_pg_int64(f->db, "SELECT count(*) FROM transactions"), 2);
    anvil(f, "anvil_setBalance", "[\"0x70997970C51812dc3A010C7d01b50e0d17dc79C8\", "
                                 "\"0x3635c9adc5dea00000\"]");
    assert_int_equal(txm_poll(&f->x.t, &left, &err), MR_OK);
    assert_false(f->x.t.paused);
    anvil(f, "anvil_mine", "[3]");
    drain(f, 10);
    assert_int_equal(tv_pg_int64(f->db, "SELECT count(*) FROM transactions WHERE state = 'final'"), 2);
}

static char *anvil_str(struct fx *f, const char *method, const char *params)
{
    return txmfx_anvil_str(f->rpc, method, params);
}

/* A tiny contract (hand-assembled):
 *   first calldata byte 1: SSTORE(0, 1)
 *   first calldata byte 2: require(SLOAD(0) != 0); SSTORE(1, 1)
 *   anything else: revert */
static const char *dep_runtime = "600035"
                                 "60f81c80600114601857600214601f57"
                                 "5b600080fd"
                                 "5b6001600055" "00"
                                 "5b60005415601357" "6001600155" "00";
/* Init code: CODECOPY the 45 bytes after these 12 into memory, RETURN them. */
static const char *dep_init_prefix = "602d600c60003960" "2d6000f3";

static void test_create_contract(void **state)
{
    struct txs_intent in = plain_call();
    struct txs_result r;
    char init_hex[256], params[160], *code, *want;
    uint8_t *init;
    size_t init_len;
    int64_t id;
    REQUIRE();

    snprintf(init_hex, sizeof(init_hex), "%s%s", dep_init_prefix, dep_runtime);
    init = tv_hex(init_hex, &init_len);
    in.to = NULL;
    in.create = 1;
    in.purpose = "deploy";
    in.calldata = init;
    in.calldata_len = init_len;
    in.gas_limit = 0; /* estimated */
    assert_int_equal(txm_submit(&f->x.t, &in, &id, &err), MR_OK);
    assert_int_equal(in.gas_limit, 0); /* the caller's intent is left alone */
    assert_int_equal(tv_pg_int64(f->db, "SELECT count(*) FROM transactions WHERE is_create AND "
                                        "to_address IS NULL AND gas_limit > 53000"), 1);
    assert_int_equal(txm_result(&f->x.t, id, &r, &err), MR_OK);
    assert_false(r.included);
    assert_false(r.has_contract);
    drain(f, 10);
    assert_int_equal(txm_result(&f->x.t, id, &r, &err), MR_OK);
    assert_string_equal(r.state, "final");
    assert_true(r.final && r.included && r.is_create);
    assert_int_equal(r.status, 1);
    assert_true(r.gas_used > 53000 && r.block > 0);
    assert_true(r.has_tx_hash);
    assert_true(r.has_contract);
    /* The code at that address is the runtime the init code returned. */
    {
        char *a = tv_tohex(r.contract, 20);
        snprintf(params, sizeof(params), "[\"%s\", \"latest\"]", a);
        free(a);
    }
    code = anvil_str(f, "eth_getCode", params);
    want = malloc(strlen(dep_runtime) + 3);
    sprintf(want, "0x%s", dep_runtime);
    assert_string_equal(code, want);
    free(code);
    free(want);
    /* The mined hash is the stored attempt's. */
    assert_int_equal(tv_pg_int64(f->db, "SELECT count(*) FROM transactions t JOIN tx_attempts a ON "
                                        "a.tx_id = t.id AND a.tx_hash = t.mined_tx_hash"), 1);
    assert_int_equal(txm_result(&f->x.t, id + 1000, &r, &err), MR_ERR_NOTFOUND);
    free(init);
}

static void test_bad_intents_refused(void **state)
{
    static const uint8_t to[20] = {0x11};
    struct txs_intent in = plain_call();
    int64_t id;
    REQUIRE();

    in.create = 1; /* a creation with a `to` */
    assert_int_equal(txm_submit(&f->x.t, &in, &id, &err), MR_ERR_INVALID);
    in = plain_call();
    in.to = NULL; /* a call without one */
    assert_int_equal(txm_submit(&f->x.t, &in, &id, &err), MR_ERR_INVALID);
    in = plain_call();
    in.to = to;
    in.no_dry_run = 1;
    in.gas_limit = 0; /* no dry run and nothing to estimate with */
    assert_int_equal(txm_submit(&f->x.t, &in, &id, &err), MR_ERR_INVALID);
    assert_non_null(strstr(err.msg, "gas limit"));
    assert_int_equal(tv_pg_int64(f->db, "SELECT count(*) FROM transactions"), 0);
    assert_int_equal(tv_pg_int64(f->db, "SELECT count(*) FROM signer_nonces"), 0);
}

/* Dependent calls at consecutive nonces before the first is mined (no dry
 * run, given gas), plus a payable one; all mined in one block. */
static void test_pipelined_dependent(void **state)
{
    static const uint8_t dep[20] = {0xc0, 0xde};
    static const uint8_t payee[20] = {0x33, 0x33, 0x33};
    static const uint8_t one[1] = {1}, two[1] = {2};
    struct txs_intent in;
    struct txs_result r[3];
    struct u256 bal;
    uint8_t *out = NULL;
    size_t out_len = 0, left = 0;
    int64_t id[3];
    uint64_t v;
    char params[200], *slot;
    REQUIRE();

    snprintf(params, sizeof(params), "[\"0xc0de000000000000000000000000000000000000\", \"0x%s\"]",
             dep_runtime);
    anvil(f, "anvil_setCode", params);
    /* An earlier run of this program on the same chain left the slots set
     * (storage survives anvil_setCode) and the payee paid: start empty. */
    anvil(f, "anvil_setBalance", "[\"0x3333330000000000000000000000000000000000\", \"0x0\"]");
    anvil(f, "anvil_setStorageAt", "[\"0xc0de000000000000000000000000000000000000\", \"0x0\", "
                                   "\"0x0000000000000000000000000000000000000000000000000000000000000000\"]");
    anvil(f, "anvil_setStorageAt", "[\"0xc0de000000000000000000000000000000000000\", \"0x1\", "
                                   "\"0x0000000000000000000000000000000000000000000000000000000000000000\"]");
    in = plain_call();
    in.to = dep;
    in.calldata = one;
    in.calldata_len = 1;
    in.purpose = "anchor";
    in.no_dry_run = 1;
    in.gas_limit = 80000;
    assert_int_equal(txm_submit(&f->x.t, &in, &id[0], &err), MR_OK);
    /* The second depends on the first: alone it reverts. */
    assert_int_equal(ethrpc_call(f->rpc, NULL, dep, two, 1, "latest", &out, &out_len, NULL, &err),
                     MR_ERR_RPC);
    in.calldata = two;
    in.purpose = "proveGateway";
    assert_int_equal(txm_submit(&f->x.t, &in, &id[1], &err), MR_OK);
    in = plain_call();
    in.to = payee;
    in.purpose = "pay";
    u256_from_u64(&in.value, 1234);
    in.gas_limit = 0; /* estimated, dry run with the value */
    assert_int_equal(txm_submit(&f->x.t, &in, &id[2], &err), MR_OK);
    assert_int_equal(txm_poll(&f->x.t, &left, &err), MR_OK);
    assert_int_equal(left, 3); /* nothing mined yet */
    assert_int_equal(tv_pg_int64(f->db, "SELECT max(nonce) - min(nonce) FROM transactions"), 2);
    anvil(f, "anvil_mine", "[1]");
    drain(f, 10);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(txm_result(&f->x.t, id[i], &r[i], &err), MR_OK);
        assert_true(r[i].final);
        assert_int_equal(r[i].status, 1);
        assert_false(r[i].has_contract);
    }
    assert_int_equal(r[0].block, r[1].block);
    assert_int_equal(r[1].block, r[2].block);
    slot = anvil_str(f, "eth_getStorageAt", "[\"0xc0de000000000000000000000000000000000000\", "
                                            "\"0x1\", \"latest\"]");
    assert_string_equal(slot, "0x0000000000000000000000000000000000000000000000000000000000000001");
    free(slot);
    assert_int_equal(ethrpc_get_balance(f->rpc, payee, "latest", &bal, NULL, &err), MR_OK);
    assert_int_equal(u256_to_u64(&bal, &v), MR_OK);
    assert_int_equal(v, 1234);
}

/* anvil dev account #1's address (dev_sk). */
#define DEV_ADDR "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"

static uint64_t chain_nonce(struct fx *f, const char *tag)
{
    struct mr_error err;
    uint64_t n = 0;

    if (ethrpc_get_transaction_count(f->rpc, signer_address(f->signer), tag, &n, NULL, &err))
        fail_msg("nonce: %s", err.msg);
    return n;
}

/* A lower nonce dropped from the pool: the later ones wait in the queue;
 * the poll sends the stored bytes of the missing one again. */
static void test_gap_resent_from_stored_bytes(void **state)
{
    struct txs_intent in = plain_call();
    int64_t id;
    uint64_t n0;
    char params[120];
    PGresult *res;
    REQUIRE();

    n0 = chain_nonce(f, "latest");
    for (int i = 0; i < 3; i++)
        assert_int_equal(txm_submit(&f->x.t, &in, &id, &err), MR_OK);
    res = PQexec(f->db, "SELECT encode(a.tx_hash, 'hex') FROM tx_attempts a JOIN transactions t ON "
                        "t.id = a.tx_id ORDER BY t.nonce LIMIT 1");
    assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
    snprintf(params, sizeof(params), "[\"0x%s\"]", PQgetvalue(res, 0, 0));
    PQclear(res);
    anvil(f, "anvil_dropTransaction", params);
    anvil(f, "anvil_mine", "[1]");
    assert_int_equal(chain_nonce(f, "latest"), n0); /* stuck behind the gap */
    assert_int_equal(txm_poll(&f->x.t, NULL, &err), MR_OK);
    anvil(f, "anvil_mine", "[1]");
    assert_int_equal(chain_nonce(f, "latest"), n0 + 3);
    drain(f, 10);
    /* Each mined once, with the bytes signed first. */
    assert_int_equal(tv_pg_int64(f->db, "SELECT count(*) FROM transactions t JOIN tx_attempts a ON "
                                        "a.tx_id = t.id AND a.tx_hash = t.mined_tx_hash WHERE "
                                        "a.attempt = 1 AND t.state = 'final'"), 3);
    assert_int_equal(tv_pg_int64(f->db, "SELECT count(*) FROM tx_attempts"), 3);
}

/* A nonce allocated to an intent that was then aborted (never sent) keeps
 * every later one from being mined: filled with a 0-value self transfer. */
static void test_gap_filled_with_self_tx(void **state)
{
    struct txs_intent in = plain_call();
    int64_t id, aborted;
    uint64_t n0, nonce;
    size_t left;
    REQUIRE();

    n0 = chain_nonce(f, "pending");
    in.chain_key = "origin";
    in.sender = signer_address(f->signer);
    assert_int_equal(txs_create_intent(f->db, &in, n0, &aborted, &nonce, &err), MR_OK);
    assert_int_equal(nonce, n0);
    assert_int_equal(txs_mark_aborted(f->db, aborted, "given up", &err), MR_OK);
    in = plain_call();
    assert_int_equal(txm_submit(&f->x.t, &in, &id, &err), MR_OK); /* nonce n0 + 1: queued */
    assert_int_equal(txm_poll(&f->x.t, &left, &err), MR_OK);   /* the gap is seen */
    assert_int_equal(tv_pg_int64(f->db, "SELECT count(*) FROM transactions"), 2);
    assert_int_equal(chain_nonce(f, "latest"), n0);
    assert_int_equal(txm_poll(&f->x.t, &left, &err), MR_OK);   /* still there: filled */
    assert_int_equal(tv_pg_int64(f->db, "SELECT count(*) FROM transactions WHERE purpose = "
                                        "'nonce-gap-fill' AND value = 0 AND to_address = sender"), 1);
    drain(f, 10);
    assert_int_equal(chain_nonce(f, "latest"), n0 + 2);
    assert_int_equal(tv_pg_int64(f->db, "SELECT count(*) FROM transactions WHERE state = 'final'"), 2);
    assert_int_equal(tv_pg_int64(f->db, "SELECT count(*) FROM transactions WHERE state = 'aborted'"), 1);
}

/* Someone else takes our nonce: three polls of evidence (the chain's nonce
 * past ours, none of our attempts mined), then the transaction fails, the
 * key is halted and an alert raised; nothing before the third. */
static void test_nonce_used_elsewhere(void **state)
{
    struct txs_intent in = plain_call();
    int64_t id;
    uint64_t n0;
    char params[300];
    REQUIRE();

    n0 = chain_nonce(f, "pending");
    assert_int_equal(txm_submit(&f->x.t, &in, &id, &err), MR_OK);
    anvil(f, "anvil_dropAllTransactions", "[]");
    snprintf(params, sizeof(params), "[{\"from\": \"%s\", \"to\": \"0x2222000000000000000000000000"
             "000000000000\", \"value\": \"0x1\", \"nonce\": \"0x%llx\"}]", DEV_ADDR,
             (unsigned long long)n0);
    anvil(f, "eth_sendTransaction", params);
    anvil(f, "anvil_mine", "[1]");
    for (int i = 1; i < TXM_NONCE_EVIDENCE; i++) {
        assert_int_equal(txm_poll(&f->x.t, NULL, &err), MR_OK);
        assert_int_equal(tv_pg_int64(f->db, "SELECT count(*) FROM transactions WHERE state = "
                                            "'broadcast'"), 1);
        assert_int_equal(tv_pg_int64(f->db, "SELECT count(*) FROM alerts"), 0);
    }
    assert_int_equal(txm_poll(&f->x.t, NULL, &err), MR_OK);
    assert_int_equal(tv_pg_int64(f->db, "SELECT count(*) FROM transactions WHERE state = 'failed' "
                                        "AND error LIKE '%not ours%'"), 1);
    assert_int_equal(tv_pg_int64(f->db, "SELECT count(*) FROM alerts WHERE severity = 'critical' "
                                        "AND component = 'txm'"), 1);
    assert_true(f->x.t.halted);
    in = plain_call();
    assert_int_equal(txm_submit(&f->x.t, &in, &id, &err), MR_ERR_PERM);
    assert_non_null(strstr(err.msg, "halted"));
    /* The operator has looked: sending resumes at the next free nonce. */
    assert_int_equal(txm_resume(&f->x.t, &err), MR_OK);
    assert_int_equal(txm_submit(&f->x.t, &in, &id, &err), MR_OK);
    drain(f, 10);
    assert_int_equal(chain_nonce(f, "latest"), n0 + 2);
}

/* The key's nonce moves past everything we allocated: halted at once. */
static void test_unexpected_nonce_advance(void **state)
{
    struct txs_intent in = plain_call();
    int64_t id;
    char params[300];
    REQUIRE();

    assert_int_equal(txm_submit(&f->x.t, &in, &id, &err), MR_OK);
    drain(f, 10);
    assert_false(f->x.t.halted);
    snprintf(params, sizeof(params), "[{\"from\": \"%s\", \"to\": \"0x2222000000000000000000000000"
             "000000000000\", \"value\": \"0x1\"}]", DEV_ADDR);
    anvil(f, "eth_sendTransaction", params);
    anvil(f, "anvil_mine", "[1]");
    assert_int_equal(txm_poll(&f->x.t, NULL, &err), MR_OK);
    assert_true(f->x.t.halted);
    assert_int_equal(tv_pg_int64(f->db, "SELECT count(*) FROM signer_nonces WHERE halted_reason "
                                        "LIKE '%used elsewhere%'"), 1);
    assert_int_equal(tv_pg_int64(f->db, "SELECT count(*) FROM alerts WHERE severity = 'critical'"), 1);
    assert_int_equal(txm_submit(&f->x.t, &in, &id, &err), MR_ERR_PERM);
    /* A restart does not forget it. */
    f->x.t.halted = 0;
    assert_int_equal(txm_poll(&f->x.t, NULL, &err), MR_OK);
    assert_true(f->x.t.halted);
    assert_int_equal(tv_pg_int64(f->db, "SELECT count(*) FROM alerts"), 1);
}

/* A stuck transaction already at the fee cap: one alert, no replacement. */
static void test_fee_cap_alert(void **state)
{
    struct txs_intent in = plain_call();
    struct u256 fee, tip;
    int64_t id;
    REQUIRE();

    assert_int_equal(txm_fees(&f->x.t, &fee, &tip, &err), MR_OK);
    f->x.t.cfg.max_fee_cap = fee; /* what it asks now is the most we pay */
    f->x.t.cfg.tip_cap = tip;
    assert_int_equal(txm_submit(&f->x.t, &in, &id, &err), MR_OK);
    f->x.t.cfg.stuck_after_ms = 0;
    usleep(20000);
    for (int i = 0; i < 2; i++)
        assert_int_equal(txm_poll(&f->x.t, NULL, &err), MR_OK);
    assert_int_equal(tv_pg_int64(f->db, "SELECT count(*) FROM tx_attempts"), 1);
    assert_int_equal(tv_pg_int64(f->db, "SELECT count(*) FROM alerts WHERE severity = 'warning' AND "
                                        "message LIKE '%fee cap%'"), 1);
    u256_from_u64(&f->x.t.cfg.max_fee_cap, 500000000000ULL);
    u256_from_u64(&f->x.t.cfg.tip_cap, 100000000000ULL);
    drain(f, 10);
    assert_int_equal(tv_pg_int64(f->db, "SELECT count(*) FROM transactions WHERE state = 'final'"), 1);
}

/* Each test through a wrapper that notes it ran to its end: a failed
 * assertion jumps past it, and the teardown prints the state. */
#define WRAP(fn)                                                               \
    static void fn##_w(void **state)                                           \
    {                                                                          \
        fn(state);                                                             \
        ((struct fx *)*state)->done = 1;                                       \
    }
WRAP(test_pipelined_sends)
WRAP(test_revert_not_sent)
WRAP(test_stuck_replaced)
WRAP(test_reorged_and_resent)
WRAP(test_intent_after_crash)
WRAP(test_intents_signed_together)
WRAP(test_finalized_tag_and_pause)
WRAP(test_create_contract)
WRAP(test_bad_intents_refused)
WRAP(test_pipelined_dependent)
WRAP(test_gap_resent_from_stored_bytes)
WRAP(test_gap_filled_with_self_tx)
WRAP(test_nonce_used_elsewhere)
WRAP(test_unexpected_nonce_advance)
WRAP(test_fee_cap_alert)

int main(void)
{
#define T(fn) {#fn, fn##_w, setup, teardown, NULL}
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bump),
        T(test_pipelined_sends),
        T(test_revert_not_sent),
        T(test_stuck_replaced),
        T(test_reorged_and_resent),
        T(test_intent_after_crash),
        T(test_intents_signed_together),
        T(test_finalized_tag_and_pause),
        T(test_create_contract),
        T(test_bad_intents_refused),
        T(test_pipelined_dependent),
        T(test_gap_resent_from_stored_bytes),
        T(test_gap_filled_with_self_tx),
        T(test_nonce_used_elsewhere),
        T(test_unexpected_nonce_advance),
        T(test_fee_cap_alert),
    };
    return cmocka_run_group_tests_name("txm: sending, replacing, reorgs", tests, NULL, NULL);
}
