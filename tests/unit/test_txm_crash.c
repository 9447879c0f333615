/*
 * test_txm_crash.c - kill -9 at every step of the transaction manager
 * (RELAYER_CRASH_AT, RELIABILITY.md row 17) on a real anvil chain and a
 * real PostgreSQL.  For each crash point a child process submits three
 * transactions and follows them until it kills itself at that point; then
 * a fresh manager in the parent finishes the work, and the records and the
 * chain must show: every intent mined exactly once, no nonce gaps, and the
 * bytes signed before the crash sent again (one signed attempt each).
 */
#include "tests/lib/txmfx.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "chain/rpc.h"
#include "db/db.h"

/* anvil's public dev account #2 (test key; #0 and #1 are used elsewhere). */
static const char *dev_sk = "5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a";

#define INTENTS 3

/* The child: its own connections, signer and manager.  Exits 0 if it ever
 * finishes (the crash point was not reached), 1..9 on errors. */
static void child(const struct txmfx *f, const char *point)
{
    const char *url = tv_anvil_url("ORIGIN");
    struct rpc_endpoints *rpc;
    struct signer *signer;
    struct mr_error err;
    struct txm t;
    PGconn *db;
    size_t left = 1;

    setenv("RELAYER_CRASH_AT", point, 1);
    db = PQconnectdb(f->ci);
    if (PQstatus(db) != CONNECTION_OK || rpc_endpoints_new(&url, 1, 31337, NULL, &rpc, &err) ||
        signer_open(f->key_path, f->pw_path, f->ci, &signer, &err))
        _exit(2);
    memset(&t, 0, sizeof(t));
    t.cfg = f->t.cfg;
    t.db = db;
    t.rpc = rpc;
    t.signer = signer;
    for (int i = 0; i < INTENTS; i++) {
        struct txs_intent in = txmfx_call();
        int64_t id;
        if (txm_submit(&t, &in, &id, &err) != MR_OK)
            _exit(3);
    }
    for (int i = 0; i < 20 && left > 0; i++) {
        json_t *res = NULL;
        if (txm_poll(&t, &left, &err) != MR_OK)
            _exit(4);
        if (rpc_call(rpc, "anvil_mine", json_pack("[i]", 1), &res, NULL, &err) != MR_OK)
            _exit(5);
        json_decref(res);
    }
    _exit(0);
}

static void crash_at(const char *point)
{
    struct txmfx f;
    struct mr_error err;
    uint64_t before = 0, after = 0;
    int64_t rows;
    int status;
    pid_t pid;

    if (txmfx_open(&f, dev_sk, NULL) != 0) {
        print_message("SKIP: no test database or chains\n");
        skip();
    }
    assert_int_equal(ethrpc_get_transaction_count(f.rpc, signer_address(f.signer), "latest",
                                                  &before, NULL, &err), MR_OK);
    txmfx_release(&f); /* the child takes the key's lock */
    fflush(NULL);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        child(&f, point);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
        fail_msg("%s: the child was not killed there (status %d)", point, status);

    /* A fresh manager, as after a restart. */
    txmfx_signer(&f);
    memset(&f.t.evidence, 0, sizeof(f.t.evidence));
    f.t.paused = f.t.halted = 0;
    txmfx_drain(&f, 20);

    rows = tv_pg_int64(f.db, "SELECT count(*) FROM transactions");
    assert_true(rows >= 1 && rows <= INTENTS);
    /* Every intent mined once, successfully, and final. */
    assert_int_equal(tv_pg_int64(f.db, "SELECT count(*) FROM transactions WHERE state = 'final' "
                                       "AND receipt_status = 1"), rows);
    assert_int_equal(ethrpc_get_transaction_count(f.rpc, signer_address(f.signer), "latest",
                                                  &after, NULL, &err), MR_OK);
    assert_int_equal(after - before, (uint64_t)rows);
    /* No gaps: the nonces are exactly the ones the chain used. */
    assert_int_equal(tv_pg_int64(f.db, "SELECT min(nonce) FROM transactions"), (int64_t)before);
    assert_int_equal(tv_pg_int64(f.db, "SELECT max(nonce) FROM transactions"),
                     (int64_t)before + rows - 1);
    /* The bytes signed before the crash are the ones mined. */
    assert_int_equal(tv_pg_int64(f.db, "SELECT count(*) FROM tx_attempts"), rows);
    assert_int_equal(tv_pg_int64(f.db, "SELECT count(*) FROM transactions t JOIN tx_attempts a ON "
                                       "a.tx_id = t.id AND a.attempt = 1 AND a.tx_hash = "
                                       "t.mined_tx_hash"), rows);
    txmfx_close(&f);
}

static void test_crash_points(void **state)
{
    static const char *const points[] = {TXM_CRASH_POINTS};
    (void)state;

    TV_REQUIRE_PG();
    TV_REQUIRE_ANVIL();
    for (size_t i = 0; i < sizeof(points) / sizeof(points[0]); i++) {
        print_message("crash point %s\n", points[i]);
        crash_at(points[i]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crash_points),
    };

    return cmocka_run_group_tests_name("txm: kill -9 at every step", tests, NULL, NULL);
}
