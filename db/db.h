/*
 * db.h - Postgres connections for the relayer (libpq).
 *
 * Finding the database (the same for every command):
 *   1. --database CONNINFO (a libpq URI or key=value string),
 *   2. else the config file's database URL,
 *   3. else $MOSAIC_DATABASE_URL,
 *   4. else libpq's own PG* environment variables and defaults.
 * A database that cannot be reached gives one line naming the host, the port
 * and libpq's reason; never the password.
 *
 * Every session gets a statement_timeout, an
 * idle_in_transaction_session_timeout, synchronous_commit = on and the
 * search_path of the relayer's schema.
 */
#ifndef MR_DB_H
#define MR_DB_H

#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "eth/error.h"

/* The schema that holds every relayer table. */
#define DB_SCHEMA "mosaic"

/* Session settings applied by db_connect(). */
struct db_session_opts {
    const char *application_name;   /* NULL: "mosaic-relayer" */
    int statement_timeout_ms;       /* 0: default 30000 */
    int idle_in_tx_timeout_ms;      /* 0: default 60000 */
};

/* Picks the connection string by the rules above.  Returns a borrowed
 * pointer to one of the arguments or to the environment ("" means libpq
 * defaults).  `cli` and `config` may be NULL.  Out: *source names where it
 * came from ("--database", "config", "MOSAIC_DATABASE_URL", "PG* defaults"). */
const char *db_resolve_conninfo(const char *cli, const char *config, const char **source);

/* Connects and prepares the session.  Returns a new connection (caller
 * closes with PQfinish) or NULL with err filled ("cannot connect to
 * database at host 127.0.0.1 port 5432: connection refused"). */
PGconn *db_connect(const char *conninfo, const struct db_session_opts *opts,
                   struct mr_error *err);

/* Where libpq's notices and the server's asynchronous messages (e.g.
 * "FATAL: terminating connection due to administrator command" on an idle
 * session) go for the connections db_connect opens and for those passed to
 * db_route_notices: fn(line) with the message's text, trailing newline
 * removed.  NULL (the default): libpq's own, stderr.  Set it at start,
 * before any connection (relayer/daemon.c routes it to the log). */
void db_set_notice_hook(void (*fn)(const char *line));
/* Routes conn's notices to the hook (nothing when none is set). */
void db_route_notices(PGconn *conn);

/* Describes where conn points: "host H port P dbname D" (no password). */
void db_describe(const PGconn *conn, char *buf, size_t cap);

/* Executes a command without results or parameters (e.g. "BEGIN").
 * MR_ERR_IO with the server's message on failure. */
int db_exec(PGconn *conn, const char *sql, struct mr_error *err);

/* Checks a result: MR_OK if its status is `want`, else fills err with the
 * server's message (primary text, and the SQLSTATE) and returns MR_ERR_IO.
 * Does not clear `res`. */
int db_check(const PGresult *res, ExecStatusType want, const char *what, struct mr_error *err);

/* True if the error left in conn/res means the connection is gone (admin
 * shutdown, crash, network): the caller should reconnect. */
int db_conn_lost(const PGconn *conn);

/* Statements prepared once per connection.  Each has a small id
 * (0..63) unique in the program; db_exec_prepared() prepares it on its
 * first use on a connection (tracked with libpq instance data, freed with
 * the connection), so it is safe inside a transaction. */
PGresult *db_exec_prepared(PGconn *conn, unsigned id, const char *name, const char *sql,
                           int nparams, const char *const *params);

/* Refuses unsafe durability: fsync must be on, and synchronous_commit must
 * not be off for this session (db_connect sets it on).  MR_ERR_INVALID with
 * a message that says which setting to fix. */
int db_check_durability(PGconn *conn, struct mr_error *err);

/* Runs `sql` in its own transaction and returns the single value of its
 * single row as an int64 (-1 if NULL).  For small lookups and tests. */
int db_query_int64(PGconn *conn, const char *sql, int64_t *out, struct mr_error *err);

#endif /* MR_DB_H */
