/*
 * migrate.h - forward-only schema migrations (db/migrations/NNNN_name.sql),
 * embedded into the binary at build time.
 *
 * db_migrate() applies the pending ones in order, each in its own
 * transaction, under a session advisory lock so that two instances cannot
 * race; it refuses a database whose schema is newer than this binary knows,
 * and one whose applied migration differs from the embedded text (an edited
 * migration).
 */
#ifndef MR_MIGRATE_H
#define MR_MIGRATE_H

#include <stddef.h>
#include <stdio.h>

#include <libpq-fe.h>

#include "eth/error.h"

struct db_migration {
    int version;         /* NNNN of the file name */
    const char *name;    /* "0001_core" */
    const char *path;    /* "db/migrations/0001_core.sql", for messages */
    const char *sql;
    size_t len;
};

/* The embedded migrations, sorted by version (generated). */
extern const struct db_migration db_migrations[];
extern const size_t db_migrations_count;

/* The advisory lock key that serializes migrations ("mosaic" + 1). */
#define DB_MIGRATE_LOCK_KEY 0x6d6f736169630001LL

/* Highest version this binary knows. */
int db_schema_known_version(void);

/* Applies pending migrations from `migs[count]` (db_migrations in
 * production; tests pass their own).  Progress lines go to `log` (may be
 * NULL).  Out: *applied, the number applied now.  Errors name the file and
 * line of a failing statement. */
int db_migrate(PGconn *conn, const struct db_migration *migs, size_t count, FILE *log,
               int *applied, struct mr_error *err);

/* Prints each known migration and whether (and when) it was applied. */
int db_migrate_status(PGconn *conn, const struct db_migration *migs, size_t count, FILE *out,
                      struct mr_error *err);

/* Checks that the database schema is exactly the binary's: MR_OK, or
 * MR_ERR_INVALID with "run `mosaic-relayer migrate`" / "upgrade the binary". */
int db_check_schema(PGconn *conn, struct mr_error *err);

#endif /* MR_MIGRATE_H */
