/*
 * test_status.c - `mosaic-relayer status`, run as a process: usage errors,
 * an empty database, a database with trouble (every kind of issue listed,
 * exit 1), a healthy one with its watchers holding their locks (exit 0,
 * "All is well."), the read-only role's credentials, and balances asked of
 * the test chains when a config is given.
 */
#include "tests/lib/testlib.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "eth/key.h"
#include "relayer/cli.h"
#include "relayer/keyfile.h"
#include "watchers/watcher.h"

static void exec(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);

    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQerrorMessage(c));
    PQclear(r);
}

static int lines(const char *s)
{
    int n = 0;

    for (; *s; s++)
        n += *s == '\n';
    return n;
}

/* Runs status with `args` (NULL-ended, after "status"); returns the exit
 * status, output in *out (caller frees). */
static int status(const char *const *args, char **out, char **errout)
{
    const char *argv[16] = {"status"};
    size_t n = 1;

    for (; args[n - 1] != NULL && n < 15; n++)
        argv[n] = args[n - 1];
    argv[n] = NULL;
    return tv_run_cli(argv, NULL, out, errout);
}

static void test_usage(void **state)
{
    char *out, *err;
    (void)state;

    assert_int_equal(status((const char *[]){"--help", NULL}, &out, &err), 0);
    assert_non_null(strstr(out, "usage: mosaic-relayer status"));
    assert_non_null(strstr(out, "Exit status"));
    free(out);
    free(err);
    assert_int_equal(tv_run_cli((const char *[]){"--help", NULL}, NULL, &out, NULL), 0);
    assert_non_null(strstr(out, "status"));
    free(out);

    static const char *const bad[][3] = {
        {"--max-lag", "many", NULL}, {"--frobnicate", NULL, NULL}, {"extra", NULL, NULL},
        {"--config", "/nonexistent/relayer.yaml", NULL},
        {"--database", "host=127.0.0.1 port=1 connect_timeout=3", NULL},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(status(bad[i], &out, &err), 2);
        assert_string_equal(out, "");
        assert_int_equal(lines(err), 1);
        assert_non_null(strstr(err, "mosaic-relayer status: "));
        free(out);
        free(err);
    }
}

static void test_empty(void **state)
{
    char *ci, *out, *err;
    (void)state;

    TV_REQUIRE_PG();
    PGconn *db = tv_pg_migrated(&ci);
    assert_int_equal(status((const char *[]){"--database", ci, NULL}, &out, &err), 1);
    assert_non_null(strstr(out, "no chains registered"));
    assert_non_null(strstr(out, "Queue\n  empty\n"));
    assert_non_null(strstr(out, "stuck (open over 10 minutes): 0"));
    assert_non_null(strstr(out, "Alerts\n  none open\n"));
    assert_non_null(strstr(out, "Attention (1):\n  - no chains registered"));
    assert_null(strstr(out, "All is well"));
    free(out);
    free(err);
    PQfinish(db);
    free(ci);
}

static const char TROUBLE[] =
    "INSERT INTO mosaic.chains (chain_key, chain_id, role, cursor_block, cursor_hash, head_block,"
    " finalized_block) VALUES ('origin', 31337, 'origin', 10, decode(repeat('00', 32), 'hex'), 500, 498),"
    " ('aux', 1405, 'auxiliary', NULL, NULL, 50, 48);"
    "INSERT INTO mosaic.messages (message_hash, flow, gateway_pair, source_chain, target_chain,"
    " intent_hash, sender, nonce, beneficiary, amount, gas_price, gas_limit, hashlock, declared_block,"
    " created_at, updated_at)"
    " SELECT decode(lpad(to_hex(g), 64, '0'), 'hex'), 'stake', 'p', 'origin', 'aux',"
    " decode(repeat('22', 32), 'hex'), decode(repeat('33', 20), 'hex'), g,"
    " decode(repeat('44', 20), 'hex'), 10, 1, 1, decode(repeat('55', 32), 'hex'), 5,"
    " now() - g * interval '6 minutes', now() - g * interval '6 minutes'"
    " FROM generate_series(1, 14) g;"
    "UPDATE mosaic.messages SET state = 'halted', halted_reason = 'root mismatch' WHERE nonce = 14;"
    "INSERT INTO mosaic.jobs (kind, args, dedup_key, last_error)"
    " VALUES ('msg', jsonb_build_object('message_hash', '0x' || lpad(to_hex(13), 64, '0')),"
    " 'msg:13', 'node said no');"
    "INSERT INTO mosaic.jobs (kind, state, attempt, max_attempts, finished_at, last_error)"
    " VALUES ('anchor', 'failed', 3, 3, now(), 'x');"
    "INSERT INTO mosaic.signer_nonces (chain_key, sender, next_nonce, halted_reason, halted_at)"
    " VALUES ('aux', decode(repeat('33', 20), 'hex'), 2, 'used elsewhere', now());"
    "INSERT INTO mosaic.alerts (severity, component, subject, message)"
    " VALUES ('critical', 'txm', 'aux', 'key used elsewhere');";

static void test_trouble(void **state)
{
    char *ci, *out, *err, role[32], sql[256], roci[1024];
    (void)state;

    TV_REQUIRE_PG();
    PGconn *db = tv_pg_migrated(&ci);
    exec(db, TROUBLE);
    /* as a login member of the read-only role */
    snprintf(role, sizeof role, "mr_status_%d", (int)getpid());
    snprintf(sql, sizeof sql, "DROP ROLE IF EXISTS %s; CREATE ROLE %s LOGIN IN ROLE mosaic_readonly",
             role, role);
    exec(db, sql);
    snprintf(roci, sizeof roci, "%s user=%s", ci, role);
    assert_int_equal(status((const char *[]){"--database", roci, NULL}, &out, &err), 1);
    if (err[0] || getenv("MR_TEST_SHOW"))
        print_message("%s\nstderr: %s\n", out, err);
    assert_string_equal(err, "");
    assert_non_null(strstr(out, "Chains\n"));
    assert_non_null(strstr(out, "  origin       origin         31337        500        498         10    488"));
    assert_non_null(strstr(out, "  msg          available 1\n"));
    assert_non_null(strstr(out, "  stuck: anchor dead-lettered: 1\n"));
    assert_non_null(strstr(out, "  stake        open 14 (declared 13, halted 1), oldest 84m; "
                                "completed 0, reverted 0, refused 0\n"));
    assert_non_null(strstr(out, "stuck (open over 10 minutes): 13\n"));
    assert_non_null(strstr(out, "    0x000000000000000000000000000000000000000000000000000000000000000d"
                                " stake declared, open 78m, idle 78m; job 1 available, attempt 0:"
                                " node said no\n"));
    assert_non_null(strstr(out, "    0x000000000000000000000000000000000000000000000000000000000000000e"
                                " stake halted, open 84m, idle 84m: root mismatch; no live job\n"));
    assert_non_null(strstr(out, "    ... and 3 more"));
    assert_non_null(strstr(out, "  critical txm aux: key used elsewhere ("));
    assert_non_null(strstr(out, "  aux          0x3333333333333333333333333333333333333333 next nonce 2,"
                                " 0 open; HALTED: used elsewhere\n"));
    assert_non_null(strstr(out, "Anchors\n  no state root anchored yet\n"));
    /* the verdict lists each problem */
    static const char *const issues[] = {
        "  - chain origin: the watcher is 488 blocks behind the finalized head (more than 100)\n",
        "  - chain origin: no watcher holds its lock (is `mosaic-relayer run` up?)\n",
        "  - chain aux: its watcher has not stored a block yet\n",
        "  - 1 anchor job(s) dead-lettered (mosaic-relayer jobs list)\n",
        "  - 13 message(s) open for over 10 minutes\n",
        "  - open alerts: the newest are listed above\n",
        "  - chain aux: sending from 0x3333333333333333333333333333333333333333 is halted\n",
    };
    for (size_t i = 0; i < sizeof issues / sizeof issues[0]; i++)
        if (strstr(out, issues[i]) == NULL)
            fail_msg("missing issue %s in:\n%s", issues[i], out);
    assert_non_null(strstr(out, "Attention (8):\n"));
    free(out);
    free(err);

    /* --max-lag moves the threshold */
    assert_int_equal(status((const char *[]){"--database", roci, "--max-lag", "500", NULL}, &out,
                            &err), 1);
    assert_null(strstr(out, "blocks behind the finalized head"));
    free(out);
    free(err);
    snprintf(sql, sizeof sql, "DROP ROLE %s", role);
    exec(db, sql);
    PQfinish(db);
    free(ci);
}

/* Holds the watcher lock of `chain` on a session named like a watcher's. */
static PGconn *hold_watcher(const char *ci, const char *chain, const char *who)
{
    char c2[1024], sql[128];

    snprintf(c2, sizeof c2, "%s application_name='" WATCHER_APP_PREFIX "%s'", ci, who);
    PGconn *c = PQconnectdb(c2);
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    snprintf(sql, sizeof sql, "SELECT pg_advisory_lock(%lld)",
             (long long)watcher_lock_key(chain));
    exec(c, sql);
    return c;
}

static const char HEALTHY[] =
    "INSERT INTO mosaic.chains (chain_key, chain_id, role, cursor_block, cursor_hash, head_block,"
    " finalized_block) VALUES ('origin', 31337, 'origin', 98, decode(repeat('00', 32), 'hex'), 100, 98),"
    " ('aux', 1405, 'auxiliary', 45, decode(repeat('01', 32), 'hex'), 50, 48);"
    "INSERT INTO mosaic.anchors (chain_key, remote_chain, block_height, state_root, observed_at)"
    " VALUES ('aux', 'origin', 95, decode(repeat('77', 32), 'hex'), now() - interval '30 seconds');"
    "INSERT INTO mosaic.alerts (severity, component, message, acknowledged_at)"
    " VALUES ('critical', 'txm', 'old', now());";

static void test_healthy(void **state)
{
    char *ci, *out, *err;
    (void)state;

    TV_REQUIRE_PG();
    PGconn *db = tv_pg_migrated(&ci);
    exec(db, HEALTHY);
    PGconn *w1 = hold_watcher(ci, "origin", "hostA:4242");
    PGconn *w2 = hold_watcher(ci, "aux", "hostB:77");
    assert_int_equal(status((const char *[]){"--database", ci, NULL}, &out, &err), 0);
    assert_non_null(strstr(out, "hostA:4242\n"));
    assert_non_null(strstr(out, "hostB:77\n"));
    /* The anchor is 30 s old when inserted; the command may run a while
     * later (under valgrind, seconds). */
    {
        static const char line[] = "  aux          <- origin       height 95 (3 blocks behind), ";
        const char *at = strstr(out, line);
        char *end;
        long age;
        assert_non_null(at);
        age = strtol(at + sizeof(line) - 1, &end, 10);
        assert_true(age >= 30 && age < 300);
        assert_true(strncmp(end, "s ago\n", 6) == 0);
    }
    assert_non_null(strstr(out, "\nAll is well.\n"));
    free(out);
    free(err);
    /* a watcher goes away: attention */
    PQfinish(w2);
    assert_int_equal(status((const char *[]){"--database", ci, NULL}, &out, &err), 1);
    assert_non_null(strstr(out, "  - chain aux: no watcher holds its lock"));
    free(out);
    free(err);
    PQfinish(w1);
    PQfinish(db);
    free(ci);
}

/* With a config: the database from it, and balances from the test chains. */
static void test_config_balances(void **state)
{
    static const char *dev_sk = "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
    char *ci, *out, *err, path[512], yaml[4096];
    uint8_t seed[32] = {7}, *sk;
    size_t n;
    struct keyfile kf;
    struct mr_error e;
    (void)state;

    TV_REQUIRE_PG();
    TV_REQUIRE_ANVIL();
    PGconn *db = tv_pg_migrated(&ci);
    exec(db, HEALTHY);
    char *dir = tv_tmpdir();

    secp256k1_context *ctx = key_ctx_create(seed);
    sk = tv_hex(dev_sk, &n);
    snprintf(path, sizeof path, "%s/k.json", dir);
    if (keyfile_create(ctx, sk, (const uint8_t *)"pw", 2, KEYFILE_LIGHT_SCRYPT_N, &kf, &e) != MR_OK ||
        keyfile_write_new(path, &kf, &e) != MR_OK)
        fail_msg("keystore: %s", e.msg);
    free(sk);
    key_ctx_destroy(ctx);
    snprintf(path, sizeof path, "%s/k.pass", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("pw\n", f);
    fclose(f);
    assert_int_equal(chmod(path, 0600), 0);

    snprintf(yaml, sizeof yaml,
             "database: { url: \"%s\" }\n"
             "chains:\n"
             "  origin: { role: origin, chain_id: 31337, endpoints: [\"%s\"], finality: { tag: finalized } }\n"
             "  aux: { role: auxiliary, chain_id: 1405, endpoints: [\"%s\"], finality: { tag: finalized } }\n"
             "keys:\n"
             "  facilitator: { keystore: k.json, password_file: k.pass }\n"
             "relayer: { anchor: { enabled: true, max_interval: 60s } }\n",
             ci, tv_anvil_url("ORIGIN"), tv_anvil_url("AUX"));
    snprintf(path, sizeof path, "%s/relayer.yaml", dir);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs(yaml, f);
    fclose(f);

    PGconn *w1 = hold_watcher(ci, "origin", "h:1");
    PGconn *w2 = hold_watcher(ci, "aux", "h:2");
    int rc = status((const char *[]){"--config", path, NULL}, &out, &err);
    if (rc != 0)
        print_message("%s%s", out, err);
    assert_int_equal(rc, 0);
    const char *b = strstr(out, "  balance  origin       0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266 "
                                "(facilitator): ");
    assert_non_null(b);
    assert_true(atof(b + strlen("  balance  origin       0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266 "
                                "(facilitator): ")) > 1);
    assert_non_null(strstr(out, "  balance  aux          0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"));
    free(out);
    free(err);

    /* the anchor is older than 3 x max_interval: attention */
    exec(db, "UPDATE mosaic.anchors SET observed_at = now() - interval '10 minutes'");
    assert_int_equal(status((const char *[]){"--config", path, NULL}, &out, &err), 1);
    assert_non_null(strstr(out, "  - chain aux: no state root of origin anchored for 10m"
                                " (anchor.max_interval is 60s)\n"));
    free(out);
    free(err);
    PQfinish(w1);
    PQfinish(w2);
    PQfinish(db);
    tv_rmtree(dir);
    free(dir);
    free(ci);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage),
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_trouble),
        cmocka_unit_test(test_healthy),
        cmocka_unit_test(test_config_balances),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
