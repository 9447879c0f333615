/*
 * test_daemon.c - `mosaic-relayer run` as a process: starts with a config
 * file, SIGHUP with a broken config keeps the old one and with a good one
 * reloads, SIGTERM stops it with exit 0; --role watcher; usage errors; a
 * second process with the same key refused; an unmigrated database refused;
 * a server with fsync = off refused (RELIABILITY.md row 20).
 * The flows themselves are tested in test_flows.
 */
#include "tests/lib/testlib.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "eth/key.h"
#include "relayer/keyfile.h"
#include "relayer/sysrand.h"

struct fx {
    char *dir, *ci;
    PGconn *db;
    char cfg[512], key[512], pw[512];
};

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void write_config(struct fx *f, int workers)
{
    char text[4096];

    snprintf(text, sizeof(text),
             "database: { url: \"postgresql://relayer@127.0.0.1/unused\" }\n"
             "chains:\n"
             "  origin:\n"
             "    role: origin\n"
             "    chain_id: 31337\n"
             "    endpoints: [\"%s\"]\n"
             "    finality: { confirmations: 0 }\n"
             "  aux:\n"
             "    role: auxiliary\n"
             "    chain_id: 1405\n"
             "    endpoints: [\"%s\"]\n"
             "    finality: { confirmations: 0 }\n"
             "keys:\n"
             "  facilitator: { keystore: %s, password_file: %s }\n"
             "gateways: []\n"
             "relayer:\n"
             "  flows: [stake, redeem, revert]\n"
             "  workers: %d\n",
             tv_anvil_url("ORIGIN"), tv_anvil_url("AUX"), f->key, f->pw, workers);
    write_file(f->cfg, text);
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    struct keyfile kf;
    struct mr_error err;
    uint8_t seed[32], sk[32];
    secp256k1_context *kc;

    *state = f;
    if (tv_pg_base() == NULL || tv_anvil_url("ORIGIN") == NULL)
        return 0;
    f->dir = tv_tmpdir();
    f->db = tv_pg_migrated(&f->ci);
    snprintf(f->cfg, sizeof(f->cfg), "%s/relayer.yaml", f->dir);
    snprintf(f->key, sizeof(f->key), "%s/k.json", f->dir);
    snprintf(f->pw, sizeof(f->pw), "%s/k.pass", f->dir);
    assert_int_equal(sys_random(seed, 32), 0);
    assert_int_equal(sys_random(sk, 32), 0);
    kc = key_ctx_create(seed);
    if (keyfile_create(kc, sk, (const uint8_t *)"pw", 2, KEYFILE_LIGHT_SCRYPT_N, &kf, &err) ||
        keyfile_write_new(f->key, &kf, &err))
        fail_msg("keystore: %s", err.msg);
    key_ctx_destroy(kc);
    write_file(f->pw, "pw\n");
    chmod(f->pw, 0600);
    write_config(f, 2);
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;

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
    TV_REQUIRE_PG();                                                           \
    TV_REQUIRE_ANVIL()

/* Runs, reloads (a broken config is refused, a good one taken), stops. */
static void test_run_hup_term(void **state)
{
    char log[600];
    REQUIRE();
    const char *argv[] = {tv_bin(), "run", "--config", f->cfg, "--database", f->ci, NULL};
    int pid;
    char *t;

    snprintf(log, sizeof(log), "%s/run.log", f->dir);
    pid = tv_spawn(argv, log);
    tv_wait_text(log, "running: role all", 1);
    /* The chains are registered. */
    assert_int_equal(tv_pg_int64(f->db, "SELECT count(*) FROM chains"), 2);
    write_file(f->cfg, "chains: [ this is not a config\n");
    kill(pid, SIGHUP);
    tv_wait_text(log, "keeping the old config", 1);
    write_config(f, 3);
    kill(pid, SIGHUP);
    tv_wait_text(log, "reloaded", 1);
    tv_wait_text(log, "running: role all", 2);
    kill(pid, SIGTERM);
    assert_int_equal(tv_reap(pid), 0);
    t = tv_slurp(log);
    assert_non_null(strstr(t, "\"component\":\"daemon\",\"msg\":\"stopped\""));
    /* The key and the password never reach the log. */
    assert_null(strstr(t, "\"pw\""));
    free(t);
    /* Nothing left claimed by the stopped workers. */
    assert_int_equal(tv_pg_int64(f->db, "SELECT count(*) FROM workers"), 0);
}

static void test_role_watcher(void **state)
{
    char log[600];
    REQUIRE();
    const char *argv[] = {tv_bin(), "run", "--config", f->cfg, "--database", f->ci, "--role",
                          "watcher", NULL};
    int pid;

    write_config(f, 2);
    snprintf(log, sizeof(log), "%s/watcher.log", f->dir);
    pid = tv_spawn(argv, log);
    tv_wait_text(log, "running: role watcher", 1);
    kill(pid, SIGINT);
    assert_int_equal(tv_reap(pid), 0);
}

/* One process per key: a second `run` with the same key is refused. */
static void test_key_in_use(void **state)
{
    char log[600], *out = NULL, *err = NULL;
    REQUIRE();
    const char *argv[] = {tv_bin(), "run", "--config", f->cfg, "--database", f->ci, NULL};
    int pid;
    int rc;

    write_config(f, 2);
    snprintf(log, sizeof(log), "%s/first.log", f->dir);
    pid = tv_spawn(argv, log);
    tv_wait_text(log, "running: role all", 1);
    rc = tv_run_cli(argv + 1, NULL, &out, &err);
    kill(pid, SIGTERM);
    assert_int_equal(tv_reap(pid), 0);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(err, "facilitator"));
    free(out);
    free(err);
}

static void test_usage_and_refusals(void **state)
{
    char *out = NULL, *err = NULL, *ci;
    REQUIRE();
    const char *a1[] = {"run", NULL};
    const char *a2[] = {"run", "--config", "/nonexistent/relayer.yaml", NULL};
    const char *a3[] = {"run", "--config", f->cfg, "--role", "painter", NULL};
    const char *a5[] = {"run", "--help", NULL};

    write_config(f, 2);
    assert_int_equal(tv_run_cli(a1, NULL, &out, &err), 2);
    assert_non_null(strstr(err, "--config"));
    free(out);
    free(err);
    assert_int_equal(tv_run_cli(a2, NULL, &out, &err), 2);
    assert_non_null(strstr(err, "/nonexistent/relayer.yaml"));
    free(out);
    free(err);
    assert_int_equal(tv_run_cli(a3, NULL, &out, &err), 2);
    free(out);
    free(err);
    assert_int_equal(tv_run_cli(a5, NULL, &out, &err), 0);
    assert_non_null(strstr(out, "SIGHUP"));
    free(out);
    free(err);
    /* A database without the schema: refused before anything starts. */
    ci = tv_pg_newdb();
    {
        const char *a4[] = {"run", "--config", f->cfg, "--database", ci, NULL};
        assert_int_equal(tv_run_cli(a4, NULL, &out, &err), 1);
        assert_non_null(strstr(err, "migrate"));
        free(out);
        free(err);
    }
    free(ci);
}

/* Sets fsync in postgresql.auto.conf (NULL: reset), reloads, and waits
 * (bounded) until a new session sees `want`. */
static void set_fsync(struct fx *f, const char *value, const char *want)
{
    char sql[128];

    if (value != NULL)
        snprintf(sql, sizeof(sql), "ALTER SYSTEM SET fsync = %s", value);
    else
        snprintf(sql, sizeof(sql), "ALTER SYSTEM RESET fsync");
    PQclear(PQexec(f->db, sql)); /* ALTER SYSTEM must be a statement of its own */
    PQclear(PQexec(f->db, "SELECT pg_reload_conf()"));
    for (int i = 0; i < 200; i++) {
        PGconn *c = PQconnectdb(f->ci);
        PGresult *r = PQexec(c, "SHOW fsync");
        int ok = PQresultStatus(r) == PGRES_TUPLES_OK && strcmp(PQgetvalue(r, 0, 0), want) == 0;
        PQclear(r);
        PQfinish(c);
        if (ok)
            return;
        usleep(50000);
    }
    fail_msg("fsync never became %s", want);
}

/* RELIABILITY.md row 20: a server running with fsync = off could lose the
 * record of a transaction already broadcast; `run` refuses to start
 * (nothing registered, no worker), and starts once it is on again.  A
 * database whose default is synchronous_commit = off is overridden for the
 * relayer's sessions (db_connect forces it on; test_db checks the session
 * check itself). */
static void test_durability_refused(void **state)
{
    char *out = NULL, *err = NULL, log[600];
    int rc, pid;
    REQUIRE();
    const char *argv[] = {tv_bin(), "run", "--config", f->cfg, "--database", f->ci, NULL};

    const char *bounded[] = {"60", tv_bin(), "run", "--config", f->cfg, "--database", f->ci, NULL};

    write_config(f, 2);
    set_fsync(f, "off", "off");
    /* Bounded: a daemon that does not refuse would run on (exit 124). */
    rc = tv_run_prog("timeout", bounded, NULL, &out, &err);
    set_fsync(f, NULL, "on"); /* before any assertion: the suite shares the server */
    assert_int_equal(rc, 1);
    assert_non_null(strstr(err, "fsync"));
    assert_int_equal(tv_pg_int64(f->db, "SELECT count(*) FROM chains"), 0);
    assert_int_equal(tv_pg_int64(f->db, "SELECT count(*) FROM workers"), 0);
    free(out);
    free(err);
    /* synchronous_commit = off as the database's default: forced on. */
    {
        char sql[256];
        PGresult *r = PQexec(f->db, "SELECT current_database()");
        assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
        snprintf(sql, sizeof(sql), "ALTER DATABASE \"%s\" SET synchronous_commit = off",
                 PQgetvalue(r, 0, 0));
        PQclear(r);
        r = PQexec(f->db, sql);
        assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
        PQclear(r);
    }
    snprintf(log, sizeof(log), "%s/durable.log", f->dir);
    pid = tv_spawn(argv, log);
    tv_wait_text(log, "running: role all", 1);
    kill(pid, SIGTERM);
    assert_int_equal(tv_reap(pid), 0);
    assert_int_equal(tv_pg_int64(f->db, "SELECT count(*) FROM chains"), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_run_hup_term, setup, teardown),
        cmocka_unit_test_setup_teardown(test_role_watcher, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_in_use, setup, teardown),
        cmocka_unit_test_setup_teardown(test_usage_and_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_durability_refused, setup, teardown),
    };
    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
