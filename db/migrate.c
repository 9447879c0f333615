/*
 * migrate.c - applying the embedded migrations (see migrate.h).
 */
#include "db/migrate.h"

#include <stdlib.h>
#include <string.h>

#include "db/db.h"
#include "eth/hex.h"
#include "eth/keccak.h"

#define MAX_APPLIED 1024

struct applied {
    int version;
    char checksum[67];
};

static void checksum_of(const struct db_migration *m, char out[67])
{
    uint8_t h[32];

    keccak256(m->sql, m->len, h);
    hex_encode_data(h, 32, out, 67);
}

int db_schema_known_version(void)
{
    return db_migrations_count > 0 ? db_migrations[db_migrations_count - 1].version : 0;
}

static int ensure_table(PGconn *conn, struct mr_error *err)
{
    return db_exec(conn,
                   "CREATE SCHEMA IF NOT EXISTS " DB_SCHEMA ";"
                   "CREATE TABLE IF NOT EXISTS " DB_SCHEMA ".schema_migrations ("
                   " version integer PRIMARY KEY CHECK (version > 0),"
                   " name text NOT NULL,"
                   " checksum text NOT NULL,"
                   " applied_at timestamptz NOT NULL DEFAULT now());"
                   "COMMENT ON TABLE " DB_SCHEMA ".schema_migrations IS"
                   " 'Migrations applied by mosaic-relayer migrate (forward-only).'",
                   err);
}

/* Reads the applied versions.  Out: list[max], *n. */
static int read_applied(PGconn *conn, struct applied *list, size_t max, size_t *n,
                        struct mr_error *err)
{
    PGresult *res = PQexec(conn, "SELECT version, checksum FROM " DB_SCHEMA
                                 ".schema_migrations ORDER BY version");
    int rc = db_check(res, PGRES_TUPLES_OK, "reading schema_migrations", err);

    if (rc == MR_OK) {
        size_t rows = (size_t)PQntuples(res);
        if (rows > max) {
            rc = mr_fail(err, MR_ERR_TOOBIG, "schema_migrations has %zu rows", rows);
        } else {
            for (size_t i = 0; i < rows; i++) {
                list[i].version = atoi(PQgetvalue(res, (int)i, 0));
                snprintf(list[i].checksum, sizeof(list[i].checksum), "%s",
                         PQgetvalue(res, (int)i, 1));
            }
            *n = rows;
        }
    }
    PQclear(res);
    return rc;
}

static const struct applied *find_applied(const struct applied *list, size_t n, int version)
{
    for (size_t i = 0; i < n; i++) {
        if (list[i].version == version)
            return &list[i];
    }
    return NULL;
}

/* Refuses a newer schema, an edited migration, or a hole. */
static int check_compatible(const struct db_migration *migs, size_t count,
                            const struct applied *list, size_t n, struct mr_error *err)
{
    int known = count > 0 ? migs[count - 1].version : 0;
    int highest = n > 0 ? list[n - 1].version : 0;

    if (highest > known)
        return mr_fail(err, MR_ERR_INVALID,
                       "the database schema is at version %d, newer than this binary knows (%d): "
                       "upgrade mosaic-relayer", highest, known);
    for (size_t i = 0; i < count; i++) {
        const struct applied *a = find_applied(list, n, migs[i].version);
        char sum[67];
        if (a == NULL) {
            if (migs[i].version < highest)
                return mr_fail(err, MR_ERR_INVALID,
                               "%s is not applied but later version %d is: migrations are "
                               "forward-only, renumber it after %d", migs[i].path, highest, highest);
            continue;
        }
        checksum_of(&migs[i], sum);
        if (strcmp(sum, a->checksum) != 0)
            return mr_fail(err, MR_ERR_INVALID,
                           "%s was changed after it was applied (checksum differs): migrations "
                           "are forward-only, add a new one instead", migs[i].path);
    }
    return MR_OK;
}

/* Line of a 1-based character position in sql. */
static int line_of(const char *sql, size_t len, long pos)
{
    int line = 1;

    for (long i = 0; i < pos - 1 && (size_t)i < len; i++)
        line += sql[i] == '\n';
    return line;
}

static int apply_one(PGconn *conn, const struct db_migration *m, struct mr_error *err)
{
    char sum[67];
    const char *params[3];
    char version[16];
    PGresult *res;
    int rc;

    rc = db_exec(conn, "BEGIN; SET LOCAL search_path = " DB_SCHEMA ", public", err);
    if (rc != MR_OK)
        return rc;
    res = PQexec(conn, m->sql);
    if (res == NULL || (PQresultStatus(res) != PGRES_COMMAND_OK &&
                        PQresultStatus(res) != PGRES_TUPLES_OK)) {
        const char *pos = res ? PQresultErrorField(res, PG_DIAG_STATEMENT_POSITION) : NULL;
        const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
        int line = pos != NULL ? line_of(m->sql, m->len, atol(pos)) : 0;
        if (line > 0)
            rc = mr_fail(err, MR_ERR_IO, "%s:%d: %s", m->path, line, msg ? msg : "error");
        else
            rc = mr_fail(err, MR_ERR_IO, "%s: %s", m->path,
                         msg ? msg : PQerrorMessage(conn));
        PQclear(res);
        PQclear(PQexec(conn, "ROLLBACK"));
        return rc;
    }
    PQclear(res);
    checksum_of(m, sum);
    snprintf(version, sizeof(version), "%d", m->version);
    params[0] = version;
    params[1] = m->name;
    params[2] = sum;
    res = PQexecParams(conn, "INSERT INTO " DB_SCHEMA ".schema_migrations (version, name, checksum)"
                       " VALUES ($1, $2, $3)", 3, NULL, params, NULL, NULL, 0);
    rc = db_check(res, PGRES_COMMAND_OK, "recording the migration", err);
    PQclear(res);
    if (rc == MR_OK)
        rc = db_exec(conn, "COMMIT", err);
    if (rc != MR_OK)
        PQclear(PQexec(conn, "ROLLBACK"));
    return rc;
}

static int lock(PGconn *conn, int take, struct mr_error *err)
{
    char sql[96];

    snprintf(sql, sizeof(sql), "SELECT pg_advisory_%slock(%lld)", take ? "" : "un",
             (long long)DB_MIGRATE_LOCK_KEY);
    return db_exec(conn, sql, err);
}

int db_migrate(PGconn *conn, const struct db_migration *migs, size_t count, FILE *log,
               int *applied, struct mr_error *err)
{
    struct applied *list = calloc(MAX_APPLIED, sizeof(*list));
    size_t n = 0;
    int rc, done = 0;

    if (list == NULL)
        return mr_fail(err, MR_ERR_NOMEM, "out of memory");
    rc = lock(conn, 1, err);
    if (rc == MR_OK) {
        rc = ensure_table(conn, err);
        if (rc == MR_OK)
            rc = read_applied(conn, list, MAX_APPLIED, &n, err);
        if (rc == MR_OK)
            rc = check_compatible(migs, count, list, n, err);
        for (size_t i = 0; rc == MR_OK && i < count; i++) {
            if (find_applied(list, n, migs[i].version) != NULL)
                continue;
            if (log != NULL)
                fprintf(log, "applying %s\n", migs[i].name);
            rc = apply_one(conn, &migs[i], err);
            if (rc == MR_OK)
                done++;
        }
        if (lock(conn, 0, NULL) != MR_OK && rc == MR_OK)
            rc = mr_fail(err, MR_ERR_IO, "could not release the migration lock");
    }
    free(list);
    if (applied != NULL)
        *applied = done;
    return rc;
}

int db_migrate_status(PGconn *conn, const struct db_migration *migs, size_t count, FILE *out,
                      struct mr_error *err)
{
    PGresult *res;
    int rc = ensure_table(conn, err);

    if (rc != MR_OK)
        return rc;
    res = PQexec(conn, "SELECT version, name, to_char(applied_at, 'YYYY-MM-DD HH24:MI:SS TZ') FROM "
                       DB_SCHEMA ".schema_migrations ORDER BY version");
    rc = db_check(res, PGRES_TUPLES_OK, "reading schema_migrations", err);
    if (rc == MR_OK) {
        int rows = PQntuples(res), highest = 0;
        for (size_t i = 0; i < count; i++) {
            const char *when = NULL;
            for (int r = 0; r < rows; r++) {
                if (atoi(PQgetvalue(res, r, 0)) == migs[i].version)
                    when = PQgetvalue(res, r, 2);
            }
            fprintf(out, "%-28s %s%s\n", migs[i].name, when ? "applied " : "pending", when ? when : "");
        }
        for (int r = 0; r < rows; r++) {
            int v = atoi(PQgetvalue(res, r, 0));
            if (v > highest)
                highest = v;
            if (v > (count > 0 ? migs[count - 1].version : 0))
                fprintf(out, "%-28s applied, unknown to this binary\n", PQgetvalue(res, r, 1));
        }
        fprintf(out, "schema version %d, binary knows %d\n", highest,
                count > 0 ? migs[count - 1].version : 0);
    }
    PQclear(res);
    return rc;
}

int db_check_schema(PGconn *conn, struct mr_error *err)
{
    int64_t v = 0;
    int known = db_schema_known_version();
    int rc = db_query_int64(conn, "SELECT CASE WHEN to_regclass('" DB_SCHEMA
                            ".schema_migrations') IS NULL THEN 0 ELSE 1 END", &v, err);

    if (rc != MR_OK)
        return rc;
    if (v == 1) {
        rc = db_query_int64(conn, "SELECT coalesce(max(version), 0) FROM " DB_SCHEMA
                            ".schema_migrations", &v, err);
        if (rc != MR_OK)
            return rc;
    }
    if (v > known)
        return mr_fail(err, MR_ERR_INVALID,
                       "the database schema is at version %lld, newer than this binary knows (%d): "
                       "upgrade mosaic-relayer", (long long)v, known);
    if (v < known)
        return mr_fail(err, MR_ERR_INVALID,
                       "the database schema is at version %lld, this binary needs %d: run "
                       "`mosaic-relayer migrate`", (long long)v, known);
    return MR_OK;
}
