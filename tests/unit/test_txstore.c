/*
 * test_txstore.c - the transaction manager's records in a real PostgreSQL:
 * gapless nonces (also across processes), attempts stored before broadcast,
 * the state machine's refusals, reorgs, resume after a restart, and a key
 * used by someone else.
 */
#include "tests/lib/testlib.h"

#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "db/db.h"
#include "db/migrate.h"
#include "db/txstore.h"

static const uint8_t sender[20] = {0xf3, 0x9f, 0xd6};
static const uint8_t target[20] = {0x22};
static const uint8_t calldata[4] = {0x21, 0xea, 0x7e, 0xe1};

struct fx {
    char *ci;
    PGconn *c;
};

static int setup(void **state)
{
    struct fx *f;
    struct mr_error err;

    *state = NULL;
    if (tv_pg_base() == NULL)
        return 0;
    f = calloc(1, sizeof(*f));
    f->c = tv_pg_migrated(&f->ci);
    if (db_exec(f->c, "INSERT INTO chains (chain_key, chain_id, role) VALUES ('origin', 31337, "
                      "'origin'), ('aux', 1405, 'auxiliary')", &err))
        fail_msg("setup: %s", err.msg);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;

    if (f != NULL) {
        PQfinish(f->c);
        free(f->ci);
        free(f);
    }
    return 0;
}

static struct txs_intent intent(const char *chain)
{
    struct txs_intent in;

    memset(&in, 0, sizeof(in));
    in.chain_key = chain;
    in.sender = sender;
    in.purpose = "proveGateway";
    in.to = target;
    in.calldata = calldata;
    in.calldata_len = sizeof(calldata);
    in.gas_limit = 300000;
    return in;
}

static void test_nonces_and_lifecycle(void **state)
{
    struct fx *f = *state;
    struct txs_intent in;
    struct mr_error err;
    struct u256 fee, tip;
    struct txs_pending *pend;
    uint8_t hash[32] = {0xaa}, hash2[32] = {0xbb}, bh[32] = {0xcc}, raw[100];
    int64_t id[3];
    uint64_t nonce;
    size_t n;
    int attempt;

    TV_REQUIRE_PG();
    assert_non_null(f);
    in = intent("origin");
    /* Seeded from the chain's nonce, then consecutive. */
    for (int i = 0; i < 3; i++) {
        assert_int_equal(txs_create_intent(f->c, &in, 5, &id[i], &nonce, &err), MR_OK);
        assert_int_equal(nonce, 5 + (uint64_t)i);
    }
    /* Another chain has its own sequence. */
    in = intent("aux");
    assert_int_equal(txs_create_intent(f->c, &in, 0, &id[2], &nonce, &err), MR_OK);
    assert_int_equal(nonce, 0);
    in = intent("origin");
    /* A chain nonce ahead of ours: someone else used the key. */
    assert_int_equal(txs_create_intent(f->c, &in, 42, &id[2], &nonce, &err), MR_ERR_PERM);
    assert_non_null(strstr(err.msg, "used by someone else"));
    assert_int_equal(tv_pg_int64(f->c, "SELECT next_nonce FROM signer_nonces WHERE chain_key = 'origin'"), 8);

    /* Signed bytes are stored before broadcast; a replacement is attempt 2. */
    memset(raw, 0x5a, sizeof(raw));
    u256_from_u64(&fee, 2000000000);
    u256_from_u64(&tip, 1000000000);
    assert_int_equal(txs_mark_broadcast(f->c, id[0], 1, &err), MR_ERR_INVALID); /* nothing signed */
    assert_int_equal(txs_record_attempt(f->c, id[0], hash, raw, sizeof(raw), &fee, &tip, &attempt,
                                        &err), MR_OK);
    assert_int_equal(attempt, 1);
    assert_int_equal(txs_mark_broadcast(f->c, id[0], 1, &err), MR_OK);
    assert_int_equal(txs_mark_broadcast(f->c, id[0], 1, &err), MR_OK); /* idempotent resend */
    u256_from_u64(&fee, 2200000000);
    assert_int_equal(txs_record_attempt(f->c, id[0], hash2, raw, 50, &fee, &tip, &attempt, &err),
                     MR_OK);
    assert_int_equal(attempt, 2);
    /* The same hash twice is refused by the schema (one row per signed tx). */
    assert_int_equal(txs_record_attempt(f->c, id[1], hash2, raw, 50, &fee, &tip, &attempt, &err),
                     MR_ERR_IO);
    assert_int_equal(txs_mark_broadcast(f->c, id[0], 2, &err), MR_OK);

    /* Resume: the unfinished ones, lowest nonce first, newest attempt. */
    assert_int_equal(txs_load_pending(f->c, "origin", sender, &pend, &n, &err), MR_OK);
    assert_int_equal(n, 3);
    assert_int_equal(pend[0].nonce, 5);
    assert_string_equal(pend[0].state, "broadcast");
    assert_int_equal(pend[0].attempt, 2);
    assert_memory_equal(pend[0].hash, hash2, 32);
    assert_int_equal(pend[0].raw_len, 50);
    assert_memory_equal(pend[0].raw, raw, 50);
    assert_string_equal(pend[1].state, "intent");
    assert_int_equal(pend[1].attempt, 0);
    txs_pending_free(pend, n);

    /* Included, reorged out, included again, final; late steps refused. */
    assert_int_equal(txs_mark_final(f->c, id[0], &err), MR_ERR_INVALID);
    assert_non_null(strstr(err.msg, "from state broadcast"));
    assert_int_equal(txs_mark_included(f->c, id[0], 17, bh, 1, 84000, hash, NULL, &err), MR_OK);
    assert_int_equal(txs_mark_reorged(f->c, id[0], &err), MR_OK);
    assert_int_equal(tv_pg_int64(f->c, "SELECT count(*) FROM transactions WHERE state = 'broadcast' AND "
                               "included_block IS NULL"), 1);
    assert_int_equal(txs_mark_included(f->c, id[0], 18, bh, 1, 84000, hash, NULL, &err), MR_OK);
    assert_int_equal(txs_mark_final(f->c, id[0], &err), MR_OK);
    assert_int_equal(txs_mark_reorged(f->c, id[0], &err), MR_ERR_INVALID);
    assert_int_equal(txs_mark_failed(f->c, id[0], "late", &err), MR_ERR_INVALID);
    /* Never-sent intents can be aborted; a broadcast one cannot. */
    assert_int_equal(txs_mark_aborted(f->c, id[1], "given up", &err), MR_OK);
    assert_int_equal(txs_mark_aborted(f->c, 999999, "x", &err), MR_ERR_INVALID);
    assert_non_null(strstr(err.msg, "no such transaction"));

    /* The operators' view of the same records. */
    {
        char *out, *er, idt[24];
        snprintf(idt, sizeof(idt), "%lld", (long long)id[0]);
        assert_int_equal(tv_run_cli((const char *[]){"tx", "list", "--chain", "origin", "--database",
                                                     f->ci, NULL}, NULL, &out, &er), 0);
        assert_non_null(strstr(out, "proveGateway"));
        assert_non_null(strstr(out, "final"));
        assert_non_null(strstr(out, "aborted"));
        assert_non_null(strstr(out, "(3 transactions)"));
        free(out);
        free(er);
        assert_int_equal(tv_run_cli((const char *[]){"tx", "show", idt, "--database", f->ci, NULL},
                                    NULL, &out, &er), 0);
        assert_non_null(strstr(out, "attempt 1"));
        assert_non_null(strstr(out, "attempt 2"));
        assert_non_null(strstr(out, "max_fee=2200000000"));
        assert_null(strstr(out, "5a5a5a")); /* raw bytes are not printed */
        free(out);
        free(er);
        assert_int_equal(tv_run_cli((const char *[]){"tx", "show",
                                    "0xbb00000000000000000000000000000000000000000000000000000000000000",
                                    "--database", f->ci, NULL}, NULL, &out, &er), 0);
        assert_non_null(strstr(out, "state           final"));
        free(out);
        free(er);
        assert_int_equal(tv_run_cli((const char *[]){"tx", "show", "0x12", "--database", f->ci, NULL},
                                    NULL, &out, &er), 2);
        free(out);
        free(er);
        assert_int_equal(tv_run_cli((const char *[]){"tx", "list", "--status", "mined", NULL}, NULL,
                                    &out, &er), 2);
        free(out);
        free(er);
    }
}

/* Four processes allocate nonces for one key at once: no duplicates, no
 * gaps. */
static void test_concurrent_allocation(void **state)
{
    struct fx *f = *state;
    pid_t pids[4];

    TV_REQUIRE_PG();
    assert_non_null(f);
    for (int i = 0; i < 4; i++) {
        pids[i] = fork();
        assert_true(pids[i] >= 0);
        if (pids[i] == 0) {
            struct mr_error err;
            PGconn *c = db_connect(f->ci, NULL, &err);
            struct txs_intent in = intent("origin");
            int ok = c != NULL;
            for (int k = 0; ok && k < 50; k++) {
                int64_t id;
                uint64_t nonce;
                ok = txs_create_intent(c, &in, 0, &id, &nonce, &err) == MR_OK;
            }
            if (c != NULL)
                PQfinish(c);
            _exit(ok ? 0 : 1);
        }
    }
    for (int i = 0; i < 4; i++) {
        int st;
        assert_int_equal(waitpid(pids[i], &st, 0), pids[i]);
        assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    assert_int_equal(tv_pg_int64(f->c, "SELECT count(DISTINCT nonce) FROM transactions"), 200);
    assert_int_equal(tv_pg_int64(f->c, "SELECT max(nonce) - min(nonce) + 1 FROM transactions"), 200);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_nonces_and_lifecycle),
        T(test_concurrent_allocation),
    };
    return cmocka_run_group_tests_name("txstore: nonces and transaction records", tests, NULL, NULL);
}
