/*
 * test_cli_db.c - `mosaic-relayer migrate` and `jobs`, run as a process
 * against the test PostgreSQL.
 */
#include "tests/lib/testlib.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/db.h"
#include "db/migrate.h"
#include "db/queue.h"

static int lines(const char *s)
{
    int n = 0;

    for (; *s; s++)
        n += *s == '\n';
    return n;
}

static void test_migrate_cmd(void **state)
{
    char *ci, *out, *err, cfg[256], *dir;
    FILE *f;
    (void)state;

    TV_REQUIRE_PG();
    ci = tv_pg_newdb();
    assert_int_equal(tv_run_cli((const char *[]){"migrate", "--status", "--database", ci, NULL},
                                NULL, &out, &err), 0);
    assert_non_null(strstr(out, "0001_core"));
    assert_non_null(strstr(out, "pending"));
    free(out);
    free(err);
    assert_int_equal(tv_run_cli((const char *[]){"migrate", "--database", ci, NULL}, NULL, &out, &err),
                     0);
    assert_non_null(strstr(out, "applying 0001_core"));
    {
        char want[64]; /* every embedded migration, however many there are */
        snprintf(want, sizeof(want), "%zu migrations applied", db_migrations_count);
        assert_non_null(strstr(out, want));
    }
    free(out);
    free(err);
    /* Through the config file this time: nothing left to do. */
    dir = tv_tmpdir();
    snprintf(cfg, sizeof(cfg), "%s/relayer.yaml", dir);
    f = fopen(cfg, "w");
    fprintf(f, "# test config\nchains:\n  origin: { chain_id: 1 }\ndatabase:\n  url: \"%s\"\n", ci);
    fclose(f);
    assert_int_equal(tv_run_cli((const char *[]){"migrate", "--config", cfg, NULL}, NULL, &out, &err), 0);
    assert_non_null(strstr(out, "0 migrations applied"));
    free(out);
    free(err);
    /* And through MOSAIC_DATABASE_URL. */
    setenv("MOSAIC_DATABASE_URL", ci, 1);
    assert_int_equal(tv_run_cli((const char *[]){"migrate", "--status", NULL}, NULL, &out, &err), 0);
    assert_null(strstr(out, "pending"));
    free(out);
    free(err);
    unsetenv("MOSAIC_DATABASE_URL");
    /* A broken config: one line with file:line. */
    f = fopen(cfg, "w");
    fprintf(f, "database:\n  url: [unclosed\n");
    fclose(f);
    assert_int_equal(tv_run_cli((const char *[]){"migrate", "--config", cfg, NULL}, NULL, &out, &err), 2);
    assert_int_equal(lines(err), 1);
    assert_non_null(strstr(err, "relayer.yaml:"));
    free(out);
    free(err);
    tv_rmtree(dir);
    free(dir);
    /* Unreachable database: one line, host and port named, no password. */
    assert_int_equal(tv_run_cli((const char *[]){"migrate", "--database",
                                                 "postgresql://mr:hunter2@127.0.0.1:1/x", NULL},
                                NULL, &out, &err), 2);
    assert_int_equal(lines(err), 1);
    assert_non_null(strstr(err, "host 127.0.0.1 port 1"));
    assert_null(strstr(err, "hunter2"));
    free(out);
    free(err);
    assert_int_equal(tv_run_cli((const char *[]){"migrate", "--bogus", NULL}, NULL, &out, &err), 2);
    free(out);
    free(err);
    assert_int_equal(tv_run_cli((const char *[]){"migrate", "--help", NULL}, NULL, &out, &err), 0);
    assert_non_null(strstr(out, "forward-only"));
    free(out);
    free(err);
    free(ci);
}

static void test_jobs_cmd(void **state)
{
    char *ci, *out, *err, idbuf[24];
    struct mr_error e;
    PGconn *c;
    int64_t id;
    struct queue_job_spec s = {"confirm", "{\"mh\": \"0x10b3\"}", 0, 0, 0, 0, NULL};
    (void)state;

    TV_REQUIRE_PG();
    ci = tv_pg_newdb();
    /* Before migrating, jobs refuses with advice. */
    assert_int_equal(tv_run_cli((const char *[]){"jobs", "list", "--database", ci, NULL}, NULL, &out,
                                &err), 2);
    assert_non_null(strstr(err, "mosaic-relayer migrate"));
    free(out);
    free(err);
    assert_int_equal(tv_run_cli((const char *[]){"migrate", "--database", ci, NULL}, NULL, NULL, NULL), 0);
    c = db_connect(ci, NULL, &e);
    assert_non_null(c);
    assert_int_equal(queue_enqueue(c, &s, &id, &e), MR_OK);
    snprintf(idbuf, sizeof(idbuf), "%lld", (long long)id);

    assert_int_equal(tv_run_cli((const char *[]){"jobs", "list", "--database", ci, NULL}, NULL, &out,
                                &err), 0);
    assert_non_null(strstr(out, "confirm"));
    assert_non_null(strstr(out, "available"));
    assert_non_null(strstr(out, "(1 job)"));
    free(out);
    free(err);
    assert_int_equal(tv_run_cli((const char *[]){"jobs", "list", "--state", "failed", "--database", ci,
                                                 NULL}, NULL, &out, &err), 0);
    assert_non_null(strstr(out, "(0 jobs)"));
    free(out);
    free(err);
    assert_int_equal(tv_run_cli((const char *[]){"jobs", "show", idbuf, "--database", ci, NULL}, NULL,
                                &out, &err), 0);
    assert_non_null(strstr(out, "0x10b3"));
    assert_non_null(strstr(out, "max_attempts"));
    free(out);
    free(err);
    assert_int_equal(tv_run_cli((const char *[]){"jobs", "cancel", idbuf, "--database", ci, NULL}, NULL,
                                &out, &err), 0);
    assert_non_null(strstr(out, "cancelled"));
    free(out);
    free(err);
    /* Cancelling twice: not in a state that allows it. */
    assert_int_equal(tv_run_cli((const char *[]){"jobs", "cancel", idbuf, "--database", ci, NULL}, NULL,
                                &out, &err), 1);
    free(out);
    free(err);
    assert_int_equal(tv_run_cli((const char *[]){"jobs", "retry", idbuf, "--database", ci, NULL}, NULL,
                                &out, &err), 0);
    free(out);
    free(err);
    assert_int_equal(tv_run_cli((const char *[]){"jobs", "show", "999999", "--database", ci, NULL},
                                NULL, &out, &err), 1);
    free(out);
    free(err);
    /* Bad usage: one line, exit 2. */
    static const char *bad[][6] = {
        {"jobs", NULL}, {"jobs", "frob", NULL}, {"jobs", "list", "--state", "bogus", NULL},
        {"jobs", "show", "abc", NULL}, {"jobs", "retry", NULL}, {"jobs", "list", "--limit", "0", NULL},
        {"jobs", "list", "extra", NULL}};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(tv_run_cli(bad[i], NULL, &out, &err), 2);
        assert_int_equal(lines(err), 1);
        free(out);
        free(err);
    }
    PQfinish(c);
    free(ci);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_migrate_cmd),
        cmocka_unit_test(test_jobs_cmd),
    };
    return cmocka_run_group_tests_name("cli: migrate and jobs", tests, NULL, NULL);
}
