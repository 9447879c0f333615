/*
 * test_db.c - connections and migrations against a real PostgreSQL (the
 * cluster started by tests/pg-harness.sh).
 */
#include "tests/lib/testlib.h"

#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "db/db.h"
#include "db/migrate.h"

static PGconn *connect_new(char **conninfo)
{
    struct mr_error err;
    PGconn *c;

    *conninfo = tv_pg_newdb();
    c = db_connect(*conninfo, NULL, &err);
    if (c == NULL)
        fail_msg("db_connect: %s", err.msg);
    return c;
}

static void test_connect_errors(void **state)
{
    struct mr_error err;
    const char *src;
    (void)state;

    /* Resolution order. */
    setenv("MOSAIC_DATABASE_URL", "from-env", 1);
    assert_string_equal(db_resolve_conninfo("from-cli", "from-config", &src), "from-cli");
    assert_string_equal(src, "--database");
    assert_string_equal(db_resolve_conninfo(NULL, "from-config", &src), "from-config");
    assert_string_equal(db_resolve_conninfo(NULL, NULL, &src), "from-env");
    assert_string_equal(src, "MOSAIC_DATABASE_URL");
    unsetenv("MOSAIC_DATABASE_URL");
    assert_string_equal(db_resolve_conninfo("", NULL, &src), "");
    assert_string_equal(src, "PG* defaults");

    /* Nothing listens on port 1: one line naming host and port, no password. */
    assert_null(db_connect("host=127.0.0.1 port=1 user=mr password=sekret-pw dbname=x "
                           "connect_timeout=2", NULL, &err));
    assert_int_equal(err.code, MR_ERR_IO);
    assert_non_null(strstr(err.msg, "host 127.0.0.1 port 1"));
    assert_null(strstr(err.msg, "sekret-pw"));
    assert_null(strchr(err.msg, '\n'));
    /* A malformed conninfo is reported too. */
    assert_null(db_connect("host=127.0.0.1 port=1 bogus_option=1", NULL, &err));
    assert_non_null(strstr(err.msg, "bogus_option"));
}

static void test_session_and_durability(void **state)
{
    struct mr_error err;
    char *ci;
    PGconn *c;
    int64_t v;
    (void)state;

    TV_REQUIRE_PG();
    c = connect_new(&ci);
    assert_int_equal(db_query_int64(c, "SELECT (current_setting('statement_timeout')::interval = "
                                       "'30s'::interval)::int", &v, &err), MR_OK);
    assert_int_equal(v, 1);
    assert_int_equal(db_query_int64(c, "SELECT (current_setting('search_path') LIKE 'mosaic%')::int",
                                    &v, &err), MR_OK);
    assert_int_equal(v, 1);
    assert_int_equal(db_check_durability(c, &err), MR_OK);
    assert_int_equal(db_exec(c, "SET synchronous_commit = off", &err), MR_OK);
    assert_int_equal(db_check_durability(c, &err), MR_ERR_INVALID);
    assert_non_null(strstr(err.msg, "synchronous_commit"));
    assert_int_equal(db_exec(c, "SELEC 1", &err), MR_ERR_IO);
    assert_non_null(strstr(err.msg, "syntax error"));
    assert_non_null(strstr(err.msg, "42601"));
    PQfinish(c);
    free(ci);
}

static void test_migrate_fresh_and_again(void **state)
{
    struct mr_error err;
    char *ci;
    PGconn *c;
    int applied = -1;
    int64_t v;
    (void)state;

    TV_REQUIRE_PG();
    c = connect_new(&ci);
    assert_int_equal(db_check_schema(c, &err), MR_ERR_INVALID);
    assert_non_null(strstr(err.msg, "mosaic-relayer migrate"));
    if (db_migrate(c, db_migrations, db_migrations_count, NULL, &applied, &err) != MR_OK)
        fail_msg("migrate: %s", err.msg);
    assert_int_equal(applied, (int)db_migrations_count);
    assert_int_equal(db_check_schema(c, &err), MR_OK);
    /* Applied twice: nothing to do. */
    assert_int_equal(db_migrate(c, db_migrations, db_migrations_count, NULL, &applied, &err), MR_OK);
    assert_int_equal(applied, 0);
    assert_int_equal(db_query_int64(c, "SELECT count(*) FROM mosaic.schema_migrations", &v, &err),
                     MR_OK);
    assert_int_equal(v, (int64_t)db_migrations_count);
    /* The schema enforces its CHECKs: a 31-byte hash is refused. */
    assert_int_equal(db_exec(c, "INSERT INTO mosaic.chains (chain_key, chain_id, role) VALUES "
                                "('origin', 1, 'origin')", &err), MR_OK);
    assert_int_equal(db_exec(c, "INSERT INTO mosaic.block_headers (chain_key, number, hash, "
                                "parent_hash) VALUES ('origin', 1, '\\x00', '\\x00')", &err),
                     MR_ERR_IO);
    PQfinish(c);
    free(ci);
}

static void test_migrate_refusals(void **state)
{
    struct mr_error err;
    struct db_migration migs[16];
    char *ci, *edited;
    PGconn *c;
    int applied;
    (void)state;

    TV_REQUIRE_PG();
    c = connect_new(&ci);
    assert_int_equal(db_migrate(c, db_migrations, db_migrations_count, NULL, &applied, &err), MR_OK);

    /* An edited migration is refused. */
    assert_true(db_migrations_count + 1 <= sizeof(migs) / sizeof(migs[0]));
    memcpy(migs, db_migrations, db_migrations_count * sizeof(migs[0]));
    edited = malloc(migs[0].len + 32);
    sprintf(edited, "%s\n-- edited", migs[0].sql);
    migs[0].sql = edited;
    migs[0].len = strlen(edited);
    assert_int_equal(db_migrate(c, migs, db_migrations_count, NULL, &applied, &err), MR_ERR_INVALID);
    assert_non_null(strstr(err.msg, "changed after it was applied"));
    free(edited);

    /* A failing migration names file:line and leaves nothing behind. */
    memcpy(migs, db_migrations, db_migrations_count * sizeof(migs[0]));
    migs[db_migrations_count] = (struct db_migration){
        900, "0900_bad", "db/migrations/0900_bad.sql",
        "CREATE TABLE half_done (x int);\n-- comment\nCREATE TABLEX oops (y int);\n", 0};
    migs[db_migrations_count].len = strlen(migs[db_migrations_count].sql);
    assert_int_equal(db_migrate(c, migs, db_migrations_count + 1, NULL, &applied, &err), MR_ERR_IO);
    assert_non_null(strstr(err.msg, "db/migrations/0900_bad.sql:3: "));
    assert_int_equal(db_exec(c, "SELECT 1 FROM mosaic.half_done", &err), MR_ERR_IO);

    /* A schema newer than the binary is refused, by migrate and at start. */
    assert_int_equal(db_exec(c, "INSERT INTO mosaic.schema_migrations (version, name, checksum) "
                                "VALUES (9999, '9999_future', 'x')", &err), MR_OK);
    assert_int_equal(db_migrate(c, db_migrations, db_migrations_count, NULL, &applied, &err),
                     MR_ERR_INVALID);
    assert_non_null(strstr(err.msg, "newer than this binary knows"));
    assert_int_equal(db_check_schema(c, &err), MR_ERR_INVALID);
    assert_non_null(strstr(err.msg, "upgrade mosaic-relayer"));
    PQfinish(c);
    free(ci);
}

/* Four processes migrate one fresh database at once: the advisory lock
 * serializes them, every migration is applied exactly once. */
static void test_migrate_concurrent(void **state)
{
    struct mr_error err;
    char *ci = tv_pg_newdb();
    pid_t pids[4];
    int64_t v;
    PGconn *c;
    (void)state;

    TV_REQUIRE_PG();
    for (int i = 0; i < 4; i++) {
        pids[i] = fork();
        assert_true(pids[i] >= 0);
        if (pids[i] == 0) {
            struct mr_error e;
            PGconn *cc = db_connect(ci, NULL, &e);
            int applied;
            if (cc == NULL || db_migrate(cc, db_migrations, db_migrations_count, NULL, &applied,
                                         &e) != MR_OK)
                _exit(1);
            PQfinish(cc);
            _exit(0);
        }
    }
    for (int i = 0; i < 4; i++) {
        int st;
        assert_int_equal(waitpid(pids[i], &st, 0), pids[i]);
        assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    c = db_connect(ci, NULL, &err);
    assert_non_null(c);
    assert_int_equal(db_query_int64(c, "SELECT count(*) FROM mosaic.schema_migrations", &v, &err),
                     MR_OK);
    assert_int_equal(v, (int64_t)db_migrations_count);
    PQfinish(c);
    free(ci);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_connect_errors),
        cmocka_unit_test(test_session_and_durability),
        cmocka_unit_test(test_migrate_fresh_and_again),
        cmocka_unit_test(test_migrate_refusals),
        cmocka_unit_test(test_migrate_concurrent),
    };
    return cmocka_run_group_tests_name("db: connections and migrations", tests, NULL, NULL);
}
