/*
 * test_signer.c - the signer: unlocking from keystore + password files or
 * a password in an environment variable (wiped afterwards), one process per key through a Postgres advisory lock, checked signatures.
 */
#include "tests/lib/testlib.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "db/db.h"
#include "eth/key.h"
#include "relayer/keyfile.h"
#include "relayer/signer.h"

/* Anvil's well-known dev key #0 (public test key). */
static const char *dev_sk = "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
static const char *dev_addr = "f39fd6e51aad88f6f4ce6ab8827279cfffb92266";

struct fx {
    char *dir, key[512], pw[512], *ci;
};

static void write_file(const char *path, const char *text, mode_t mode)
{
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    assert_int_equal(chmod(path, mode), 0);
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    struct keyfile kf;
    struct mr_error err;
    secp256k1_context *ctx;
    uint8_t seed[32] = {1}, *sk;
    size_t n;

    f->dir = tv_tmpdir();
    snprintf(f->key, sizeof(f->key), "%s/key.json", f->dir);
    snprintf(f->pw, sizeof(f->pw), "%s/key.pass", f->dir);
    ctx = key_ctx_create(seed);
    sk = tv_hex(dev_sk, &n);
    if (keyfile_create(ctx, sk, (const uint8_t *)"correct horse", 13, KEYFILE_LIGHT_SCRYPT_N, &kf,
                       &err) != MR_OK || keyfile_write_new(f->key, &kf, &err) != MR_OK)
        fail_msg("keystore: %s", err.msg);
    free(sk);
    key_ctx_destroy(ctx);
    write_file(f->pw, "correct horse\n", 0600);
    if (tv_pg_base() != NULL)
        f->ci = tv_pg_newdb();
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;

    tv_rmtree(f->dir);
    free(f->dir);
    free(f->ci);
    free(f);
    return 0;
}

static void test_open_sign_verify(void **state)
{
    struct fx *f = *state;
    struct signer *s;
    struct mr_error err;
    struct tx tx;
    struct tx_rules rules;
    uint8_t from[20], seed[32] = {2};
    secp256k1_context *ctx = key_ctx_create(seed);

    TV_REQUIRE_PG();
    if (signer_open(f->key, f->pw, f->ci, &s, &err) != MR_OK)
        fail_msg("signer_open: %s", err.msg);
    tv_assert_hex(signer_address(s), 20, dev_addr);
    tx_init(&tx, TX_DYNAMIC_FEE, 31337);
    tx.nonce = 7;
    tx.gas_limit = 21000;
    u256_from_u64(&tx.max_fee, 2000000000);
    u256_from_u64(&tx.max_priority_fee, 1000000000);
    tx.has_to = 1;
    memset(tx.to, 0x11, 20);
    assert_int_equal(signer_sign_tx(s, &tx, 31337, &err), MR_OK);
    tx_rules_latest(&rules, 31337);
    assert_int_equal(tx_sender(ctx, &tx, &rules, from, &err), MR_OK);
    tv_assert_hex(from, 20, dev_addr);
    /* A transaction for another chain is refused. */
    assert_int_equal(signer_sign_tx(s, &tx, 1405, &err), MR_ERR_TX);
    assert_non_null(strstr(err.msg, "expected 1405"));
    signer_close(s);
    key_ctx_destroy(ctx);
}

static void test_one_process_per_key(void **state)
{
    struct fx *f = *state;
    struct signer *a, *b;
    struct mr_error err;
    struct tx tx;
    PGconn *c;
    char sql[160];

    TV_REQUIRE_PG();
    assert_int_equal(signer_open(f->key, f->pw, f->ci, &a, &err), MR_OK);
    /* A second holder of the same key is refused, and told who holds it. */
    assert_int_equal(signer_open(f->key, f->pw, f->ci, &b, &err), MR_ERR_PERM);
    assert_non_null(strstr(err.msg, "already in use by mosaic-relayer signer 0xf39F"));
    assert_non_null(strstr(err.msg, "one signer process per key"));
    assert_null(strstr(err.msg, "correct horse"));
    /* The lock is lost with its session (a Postgres restart, a killed
     * backend); the signer takes it again before signing... */
    c = db_connect(f->ci, NULL, &err);
    assert_non_null(c);
    assert_int_equal(db_exec(c, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                "WHERE application_name LIKE 'mosaic-relayer signer%'", &err), MR_OK);
    usleep(200000);
    tx_init(&tx, TX_DYNAMIC_FEE, 1405);
    tx.gas_limit = 21000;
    assert_int_equal(signer_sign_tx(a, &tx, 1405, &err), MR_OK);
    /* ...but refuses to sign when someone else holds it meanwhile. */
    assert_int_equal(db_exec(c, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                "WHERE application_name LIKE 'mosaic-relayer signer%'", &err), MR_OK);
    usleep(200000);
    snprintf(sql, sizeof(sql), "SELECT pg_advisory_lock(%lld)",
             (long long)signer_lock_key(signer_address(a)));
    assert_int_equal(db_exec(c, sql, &err), MR_OK);
    assert_int_equal(signer_sign_tx(a, &tx, 1405, &err), MR_ERR_PERM);
    assert_non_null(strstr(err.msg, "signer lock lost"));
    PQfinish(c); /* releases it */
    signer_close(a);
    /* After close, another process may take the key. */
    assert_int_equal(signer_open(f->key, f->pw, f->ci, &b, &err), MR_OK);
    signer_close(b);
}

/* A key held by a session that ends a moment later (a process of ours that
 * just stopped, whose backend the server has not reaped yet): signer_open
 * refuses at once, signer_open_wait takes it once it is free. */
static void test_open_waits_for_a_lingering_holder(void **state)
{
    struct fx *f = *state;
    struct signer *s;
    struct mr_error err;
    PGconn *c, *q;
    PGresult *r;
    char sql[256];
    int64_t held = 0;
    long long key;

    TV_REQUIRE_PG();
    assert_int_equal(signer_open(f->key, f->pw, f->ci, &s, &err), MR_OK);
    key = (long long)signer_lock_key(signer_address(s));
    signer_close(s);
    c = db_connect(f->ci, NULL, &err);
    q = db_connect(f->ci, NULL, &err);
    assert_non_null(c);
    assert_non_null(q);
    /* The holder: takes the lock, keeps it 1.5 s, lets it go. */
    snprintf(sql, sizeof(sql), "SELECT pg_advisory_lock(%lld); SELECT pg_sleep(1.5); "
             "SELECT pg_advisory_unlock(%lld)", key, key);
    assert_int_equal(PQsendQuery(c, sql), 1);
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
             "AND granted AND objid = (%lld & 4294967295)::oid", key);
    for (int i = 0; i < 200 && held == 0; i++) {
        assert_int_equal(db_query_int64(q, sql, &held, &err), MR_OK);
        if (held == 0)
            usleep(10000);
    }
    assert_int_equal(held, 1);
    assert_int_equal(signer_open(f->key, f->pw, f->ci, &s, &err), MR_ERR_PERM);
    assert_int_equal(signer_open_wait(f->key, f->pw, f->ci, 20000, &s, &err), MR_OK);
    signer_close(s);
    while ((r = PQgetResult(c)) != NULL)
        PQclear(r);
    PQfinish(c);
    PQfinish(q);
}

static void test_refusals(void **state)
{
    struct fx *f = *state;
    struct signer *s;
    struct mr_error err;

    TV_REQUIRE_PG();
    /* A password file others can read. */
    assert_int_equal(chmod(f->pw, 0644), 0);
    assert_int_equal(signer_open(f->key, f->pw, f->ci, &s, &err), MR_ERR_PERM);
    assert_non_null(strstr(err.msg, "chmod 600"));
    assert_int_equal(chmod(f->pw, 0600), 0);
    /* A wrong password: refused, and never echoed. */
    write_file(f->pw, "wrong horse\n", 0600);
    assert_int_equal(signer_open(f->key, f->pw, f->ci, &s, &err), MR_ERR_MAC);
    assert_null(strstr(err.msg, "wrong horse"));
    assert_non_null(strstr(err.msg, "key.json"));
    /* No database: refused before anything is signed. */
    write_file(f->pw, "correct horse\n", 0600);
    assert_int_equal(signer_open(f->key, f->pw, "host=127.0.0.1 port=1 connect_timeout=2", &s, &err),
                     MR_ERR_IO);
    assert_non_null(strstr(err.msg, "port 1"));
}

/* The password from a variable: unlocks, never reaches a message, and
 * signer_wipe_env() zeroes the value where it lives and removes it. */
static void test_password_env(void **state)
{
    struct fx *f = *state;
    static char env[] = "MR_TEST_SIGNER_PW=correct horse";
    char *value = env + strlen("MR_TEST_SIGNER_PW="), big[KEYFILE_PASSWORD_MAX + 2];
    struct signer *s;
    struct mr_error err;

    TV_REQUIRE_PG();
    assert_int_equal(putenv(env), 0); /* the environment uses env itself */
    if (signer_open_env(f->key, "MR_TEST_SIGNER_PW", f->ci, &s, &err) != MR_OK)
        fail_msg("signer_open_env: %s", err.msg);
    tv_assert_hex(signer_address(s), 20, dev_addr);
    signer_close(s);
    /* Left in place for another key until the caller wipes it. */
    assert_string_equal(getenv("MR_TEST_SIGNER_PW"), "correct horse");
    signer_wipe_env("MR_TEST_SIGNER_PW");
    assert_null(getenv("MR_TEST_SIGNER_PW"));
    for (size_t i = 0; i < strlen("correct horse"); i++)
        assert_int_equal(value[i], 0);
    signer_wipe_env("MR_TEST_SIGNER_PW"); /* not set: a no-op */
    /* Not set (or wiped already): named, refused. */
    assert_int_equal(signer_open_env(f->key, "MR_TEST_SIGNER_PW", f->ci, &s, &err),
                     MR_ERR_NOTFOUND);
    assert_non_null(strstr(err.msg, "MR_TEST_SIGNER_PW is not set"));
    assert_null(s);
    /* A wrong password: refused, never echoed. */
    assert_int_equal(setenv("MR_TEST_SIGNER_PW", "wrong horse", 1), 0);
    assert_int_equal(signer_open_env(f->key, "MR_TEST_SIGNER_PW", f->ci, &s, &err), MR_ERR_MAC);
    assert_null(strstr(err.msg, "wrong horse"));
    assert_non_null(strstr(err.msg, "key.json"));
    /* Longer than a password may be. */
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(setenv("MR_TEST_SIGNER_PW", big, 1), 0);
    assert_int_equal(signer_open_env(f->key, "MR_TEST_SIGNER_PW", f->ci, &s, &err), MR_ERR_TOOBIG);
    assert_null(strstr(err.msg, "xxxx"));
    signer_wipe_env("MR_TEST_SIGNER_PW");
    assert_null(getenv("MR_TEST_SIGNER_PW"));
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_open_sign_verify),
        T(test_one_process_per_key),
        T(test_open_waits_for_a_lingering_holder),
        T(test_refusals),
        T(test_password_env),
    };
    return cmocka_run_group_tests_name("signer: one process per key", tests, NULL, NULL);
}
