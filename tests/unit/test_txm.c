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
#include "db/migrate.h"
#include "eth/key.h"
#include "relayer/keyfile.h"
#include "relayer/txm.h"

/* anvil's public dev account #1 (test key; #0 is used by test_rpc). */
static const char *dev_sk = "59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";

struct fx {
    char *dir, *ci;
    PGconn *db;
    struct rpc_endpoints *rpc;
    struct signer *signer;
    struct txm t;
};

/* Calls an anvil_* / evm_* method with a JSON params text. */
static void anvil(struct fx *f, const char *method, const char *params)
{
    struct mr_error err;
    json_t *res = NULL;

    if (rpc_call(f->rpc, method, json_loads(params, 0, NULL), &res, NULL, &err) != MR_OK)
        fail_msg("%s: %s", method, err.msg);
    json_decref(res);
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    struct mr_error err;
    struct keyfile kf;
    char key[512], pw[512];
    const char *url = tv_anvil_url("ORIGIN");
    uint8_t seed[32] = {9}, *sk;
    secp256k1_context *ctx;
    size_t n;
    FILE *fp;

    *state = f;
    if (tv_pg_base() == NULL || url == NULL)
        return 0;
    f->dir = tv_tmpdir();
    snprintf(key, sizeof(key), "%s/k.json", f->dir);
    snprintf(pw, sizeof(pw), "%s/k.pass", f->dir);
    ctx = key_ctx_create(seed);
    sk = tv_hex(dev_sk, &n);
    if (keyfile_create(ctx, sk, (const uint8_t *)"pw", 2, KEYFILE_LIGHT_SCRYPT_N, &kf, &err) ||
        keyfile_write_new(key, &kf, &err))
        fail_msg("keystore: %s", err.msg);
    free(sk);
    key_ctx_destroy(ctx);
    fp = fopen(pw, "w");
    fputs("pw\n", fp);
    fclose(fp);
    chmod(pw, 0600);
    f->db = tv_pg_migrated(&f->ci);
    if (db_exec(f->db, "INSERT INTO chains (chain_key, chain_id, role) VALUES ('origin', 31337, "
                       "'origin')", &err) ||
        rpc_endpoints_new(&url, 1, 31337, NULL, &f->rpc, &err) ||
        signer_open(key, pw, f->ci, &f->signer, &err))
        fail_msg("setup: %s", err.msg);
    f->t.cfg.chain_key = "origin";
    f->t.cfg.chain_id = 31337;
    f->t.cfg.confirmations = 2;
    u256_from_u64(&f->t.cfg.max_fee_cap, 500000000000ULL);
    u256_from_u64(&f->t.cfg.tip_cap, 100000000000ULL);
    f->t.cfg.stuck_after_ms = 60000;
    f->t.cfg.bump_percent = 12;
    f->t.db = f->db;
    f->t.rpc = f->rpc;
    f->t.signer = f->signer;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;

    if (f->rpc != NULL) {
        anvil(f, "evm_setAutomine", "[true]");
        rpc_endpoints_free(f->rpc);
    }
    signer_close(f->signer);
    if (f->db != NULL)
        PQfinish(f->db);
    if (f->dir != NULL)
        tv_rmtree(f->dir);
    free(f->dir);
    free(f->ci);
    free(f);
    return 0;
}

#define REQUIRE()                                                              \
    struct fx *f = *state;                                                     \
    struct mr_error err;                                                       \
    TV_REQUIRE_PG();                                                           \
    TV_REQUIRE_ANVIL()

static struct txs_intent plain_call(void)
{
    static const uint8_t to[20] = {0x11, 0x11};
    struct txs_intent in;

    memset(&in, 0, sizeof(in));
    in.purpose = "test";
    in.to = to;
    in.gas_limit = 50000;
    return in;
}

/* Polls until nothing is left (mining a block each round). */
static void drain(struct fx *f, int rounds)
{
    struct mr_error err;
    size_t left = 1;

    for (int i = 0; i < rounds && left > 0; i++) {
        if (txm_poll(&f->t, &left, &err) != MR_OK)
            fail_msg("poll: %s", err.msg);
        if (left > 0)
            anvil(f, "anvil_mine", "[1]");
    }
    assert_int_equal(left, 0);
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
        if (txm_submit(&f->t, &in, &id, &err) != MR_OK)
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
    assert_int_equal(txm_submit(&f->t, &in, &id, &err), MR_ERR_RPC);
    assert_non_null(strstr(err.msg, "revert"));
    assert_int_equal(tv_pg_int64(f->db, "SELECT count(*) FROM transactions"), 0);
    assert_int_equal(tv_pg_int64(f->db, "SELECT count(*) FROM signer_nonces"), 0);
}

static void test_stuck_replaced(void **state)
{
    struct txs_intent in = plain_call();
    int64_t id;
    REQUIRE();

    anvil(f, "evm_setAutomine", "[false]");
    assert_int_equal(txm_submit(&f->t, &in, &id, &err), MR_OK);
    /* Not mined in time: replaced at the same nonce, both fees bumped. */
    f->t.cfg.stuck_after_ms = 0;
    usleep(20000);
    assert_int_equal(txm_poll(&f->t, NULL, &err), MR_OK);
    f->t.cfg.stuck_after_ms = 60000;
    assert_int_equal(tv_pg_int64(f->db, "SELECT count(*) FROM tx_attempts"), 2);
    assert_int_equal(tv_pg_int64(f->db, "SELECT (b.max_fee * 100 >= a.max_fee * 112 AND b.max_priority_fee"
                                " * 100 >= a.max_priority_fee * 112)::int FROM tx_attempts a, "
                                "tx_attempts b WHERE a.attempt = 1 AND b.attempt = 2"), 1);
    anvil(f, "evm_setAutomine", "[true]");
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

    assert_int_equal(txm_submit(&f->t, &in, &id, &err), MR_OK);
    assert_int_equal(txm_poll(&f->t, &left, &err), MR_OK);
    first = tv_pg_int64(f->db, "SELECT included_block FROM transactions WHERE state = 'included'");
    assert_true(first > 0);
    assert_int_equal(db_exec(f->db, "CREATE TEMP TABLE old_block AS SELECT included_block_hash AS h "
                                    "FROM transactions", &err), MR_OK);
    /* Replace the last block: anvil drops the transactions it held. */
    anvil(f, "anvil_reorg", "[1, []]");
    assert_int_equal(txm_poll(&f->t, &left, &err), MR_OK); /* notices, resends */
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

/* Finality by the node's "finalized" tag (anvil --slots-in-an-epoch 1:
 * head - 2), and the pause when the key cannot pay. */
static void test_finalized_tag_and_pause(void **state)
{
    struct txs_intent in = plain_call();
    int64_t id;
    size_t left;
    char params[160];
    REQUIRE();

    f->t.cfg.use_finalized_tag = 1;
    assert_int_equal(txm_submit(&f->t, &in, &id, &err), MR_OK);
    assert_int_equal(txm_poll(&f->t, &left, &err), MR_OK); /* included, not yet finalized */
    assert_int_equal(tv_pg_int64(f->db, "SELECT count(*) FROM transactions WHERE state = 'included'"), 1);
    assert_int_equal(txm_poll(&f->t, &left, &err), MR_OK);
    assert_int_equal(left, 1);
    anvil(f, "anvil_mine", "[3]");
    assert_int_equal(txm_poll(&f->t, &left, &err), MR_OK);
    assert_int_equal(left, 0);
    assert_int_equal(tv_pg_int64(f->db, "SELECT count(*) FROM transactions WHERE state = 'final'"), 1);

    /* Broke: the signed transaction waits, new intents are refused and use
     * no nonce; funded again, it goes through. */
    snprintf(params, sizeof(params), "[\"0x70997970C51812dc3A010C7d01b50e0d17dc79C8\", \"0x1\"]");
    anvil(f, "evm_setAutomine", "[false]");
    assert_int_equal(txm_submit(&f->t, &in, &id, &err), MR_OK); /* pending in the pool */
    anvil(f, "anvil_dropAllTransactions", "[]");
    anvil(f, "anvil_setBalance", params);
    assert_int_equal(txm_poll(&f->t, &left, &err), MR_ERR_RPC);
    assert_true(f->t.paused);
    assert_int_equal(txm_submit(&f->t, &in, &id, &err), MR_ERR_PERM);
    assert_non_null(strstr(err.msg, "insufficient funds"));
    assert_int_equal(tv_pg_int64(f->db, "SELECT count(*) FROM transactions"), 2);
    anvil(f, "anvil_setBalance", "[\"0x70997970C51812dc3A010C7d01b50e0d17dc79C8\", "
                                 "\"0x3635c9adc5dea00000\"]");
    anvil(f, "evm_setAutomine", "[true]");
    assert_int_equal(txm_poll(&f->t, &left, &err), MR_OK);
    assert_false(f->t.paused);
    anvil(f, "anvil_mine", "[3]");
    drain(f, 10);
    assert_int_equal(tv_pg_int64(f->db, "SELECT count(*) FROM transactions WHERE state = 'final'"), 2);
}

/* Calls `method` and returns its result as a new string (caller frees). */
static char *anvil_str(struct fx *f, const char *method, const char *params)
{
    struct mr_error err;
    json_t *res = NULL;
    char *out;

    if (rpc_call(f->rpc, method, json_loads(params, 0, NULL), &res, NULL, &err) != MR_OK)
        fail_msg("%s: %s", method, err.msg);
    if (!json_is_string(res))
        fail_msg("%s: not a string", method);
    out = strdup(json_string_value(res));
    json_decref(res);
    return out;
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
    assert_int_equal(txm_submit(&f->t, &in, &id, &err), MR_OK);
    assert_int_equal(in.gas_limit, 0); /* the caller's intent is left alone */
    assert_int_equal(tv_pg_int64(f->db, "SELECT count(*) FROM transactions WHERE is_create AND "
                                        "to_address IS NULL AND gas_limit > 53000"), 1);
    assert_int_equal(txm_result(&f->t, id, &r, &err), MR_OK);
    assert_false(r.included);
    assert_false(r.has_contract);
    drain(f, 10);
    assert_int_equal(txm_result(&f->t, id, &r, &err), MR_OK);
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
    assert_int_equal(txm_result(&f->t, id + 1000, &r, &err), MR_ERR_NOTFOUND);
    free(init);
}

static void test_bad_intents_refused(void **state)
{
    static const uint8_t to[20] = {0x11};
    struct txs_intent in = plain_call();
    int64_t id;
    REQUIRE();

    in.create = 1; /* a creation with a `to` */
    assert_int_equal(txm_submit(&f->t, &in, &id, &err), MR_ERR_INVALID);
    in = plain_call();
    in.to = NULL; /* a call without one */
    assert_int_equal(txm_submit(&f->t, &in, &id, &err), MR_ERR_INVALID);
    in = plain_call();
    in.to = to;
    in.no_dry_run = 1;
    in.gas_limit = 0; /* no dry run and nothing to estimate with */
    assert_int_equal(txm_submit(&f->t, &in, &id, &err), MR_ERR_INVALID);
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
    anvil(f, "evm_setAutomine", "[false]");
    in = plain_call();
    in.to = dep;
    in.calldata = one;
    in.calldata_len = 1;
    in.purpose = "anchor";
    in.no_dry_run = 1;
    in.gas_limit = 80000;
    assert_int_equal(txm_submit(&f->t, &in, &id[0], &err), MR_OK);
    /* The second depends on the first: alone it reverts. */
    assert_int_equal(ethrpc_call(f->rpc, NULL, dep, two, 1, "latest", &out, &out_len, NULL, &err),
                     MR_ERR_RPC);
    in.calldata = two;
    in.purpose = "proveGateway";
    assert_int_equal(txm_submit(&f->t, &in, &id[1], &err), MR_OK);
    in = plain_call();
    in.to = payee;
    in.purpose = "pay";
    u256_from_u64(&in.value, 1234);
    in.gas_limit = 0; /* estimated, dry run with the value */
    assert_int_equal(txm_submit(&f->t, &in, &id[2], &err), MR_OK);
    assert_int_equal(txm_poll(&f->t, &left, &err), MR_OK);
    assert_int_equal(left, 3); /* nothing mined yet */
    assert_int_equal(tv_pg_int64(f->db, "SELECT max(nonce) - min(nonce) FROM transactions"), 2);
    anvil(f, "anvil_mine", "[1]");
    anvil(f, "evm_setAutomine", "[true]");
    drain(f, 10);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(txm_result(&f->t, id[i], &r[i], &err), MR_OK);
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

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bump),
        T(test_pipelined_sends),
        T(test_revert_not_sent),
        T(test_stuck_replaced),
        T(test_reorged_and_resent),
        T(test_intent_after_crash),
        T(test_finalized_tag_and_pause),
        T(test_create_contract),
        T(test_bad_intents_refused),
        T(test_pipelined_dependent),
    };
    return cmocka_run_group_tests_name("txm: sending, replacing, reorgs", tests, NULL, NULL);
}
