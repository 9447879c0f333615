/*
 * db.c - connections, session settings and error reporting (see db.h).
 */
#include "db/db.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-events.h>

const char *db_resolve_conninfo(const char *cli, const char *config, const char **source)
{
    const char *env = getenv("MOSAIC_DATABASE_URL");
    const char *dummy;

    if (source == NULL)
        source = &dummy;
    if (cli != NULL && cli[0] != '\0') {
        *source = "--database";
        return cli;
    }
    if (config != NULL && config[0] != '\0') {
        *source = "config";
        return config;
    }
    if (env != NULL && env[0] != '\0') {
        *source = "MOSAIC_DATABASE_URL";
        return env;
    }
    *source = "PG* defaults";
    return "";
}

void db_describe(const PGconn *conn, char *buf, size_t cap)
{
    const char *host = PQhost(conn), *port = PQport(conn), *db = PQdb(conn);

    snprintf(buf, cap, "host %s port %s dbname %s", host && *host ? host : "(default)",
             port && *port ? port : "(default)", db && *db ? db : "(default)");
}

/* The first line of libpq's message, without the "FATAL:  " noise. */
static void first_line(const char *msg, char *out, size_t cap)
{
    size_t n;

    if (msg == NULL)
        msg = "";
    if (strncmp(msg, "FATAL:  ", 8) == 0)
        msg += 8;
    else if (strncmp(msg, "ERROR:  ", 8) == 0)
        msg += 8;
    n = strcspn(msg, "\n");
    if (n >= cap)
        n = cap - 1;
    memcpy(out, msg, n);
    out[n] = '\0';
}

static void (*_Atomic notice_hook)(const char *line);

void db_set_notice_hook(void (*fn)(const char *line))
{
    atomic_store(&notice_hook, fn);
}

static void on_notice(void *arg, const char *message)
{
    void (*fn)(const char *) = atomic_load(&notice_hook);
    char line[512];
    size_t n;

    (void)arg;
    snprintf(line, sizeof(line), "%s", message);
    n = strlen(line);
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    if (fn != NULL)
        fn(line);
    else
        fprintf(stderr, "%s\n", line);
}

void db_route_notices(PGconn *conn)
{
    if (conn != NULL && atomic_load(&notice_hook) != NULL)
        PQsetNoticeProcessor(conn, on_notice, NULL);
}

PGconn *db_connect(const char *conninfo, const struct db_session_opts *opts,
                   struct mr_error *err)
{
    static const struct db_session_opts defaults = {NULL, 0, 0};
    char where[256], why[200], sql[512];
    PGconn *conn;

    if (opts == NULL)
        opts = &defaults;
    conn = PQconnectdb(conninfo != NULL ? conninfo : "");
    if (conn == NULL) {
        mr_fail(err, MR_ERR_NOMEM, "cannot connect to the database: out of memory");
        return NULL;
    }
    db_route_notices(conn);
    if (PQstatus(conn) != CONNECTION_OK) {
        db_describe(conn, where, sizeof(where));
        first_line(PQerrorMessage(conn), why, sizeof(why));
        mr_fail(err, MR_ERR_IO, "cannot connect to the database at %s: %s", where, why);
        PQfinish(conn);
        return NULL;
    }
    snprintf(sql, sizeof(sql),
             "SET application_name = '%s'; SET statement_timeout = %d; "
             "SET idle_in_transaction_session_timeout = %d; SET synchronous_commit = on; "
             "SET search_path = " DB_SCHEMA ", public; SET client_min_messages = warning; "
             "SET bytea_output = hex", /* the row decoders read "\\x..." (a DBA may default to escape) */
             opts->application_name != NULL ? opts->application_name : "mosaic-relayer",
             opts->statement_timeout_ms > 0 ? opts->statement_timeout_ms : 30000,
             opts->idle_in_tx_timeout_ms > 0 ? opts->idle_in_tx_timeout_ms : 60000);
    if (db_exec(conn, sql, err) != MR_OK) {
        PQfinish(conn);
        return NULL;
    }
    return conn;
}

int db_check(const PGresult *res, ExecStatusType want, const char *what, struct mr_error *err)
{
    const char *msg, *state;
    char line[200];

    if (res != NULL && PQresultStatus(res) == want)
        return MR_OK;
    msg = res != NULL ? PQresultErrorMessage(res) : "no result (connection lost?)";
    state = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    first_line(msg, line, sizeof(line));
    return mr_fail(err, MR_ERR_IO, "%s: %s%s%s%s", what, line[0] ? line : "unexpected result",
                   state ? " (SQLSTATE " : "", state ? state : "", state ? ")" : "");
}

int db_exec(PGconn *conn, const char *sql, struct mr_error *err)
{
    PGresult *res = PQexec(conn, sql);
    int rc = MR_OK;

    if (res == NULL || (PQresultStatus(res) != PGRES_COMMAND_OK &&
                        PQresultStatus(res) != PGRES_TUPLES_OK))
        rc = db_check(res, PGRES_COMMAND_OK, "database", err);
    PQclear(res);
    return rc;
}

/* libpq event procedure owning the per-connection prepared-statement mask. */
static int prepared_event(PGEventId id, void *info, void *passthrough)
{
    (void)passthrough;
    if (id == PGEVT_CONNDESTROY) {
        PGEventConnDestroy *e = info;
        free(PQinstanceData(e->conn, prepared_event));
    } else if (id == PGEVT_CONNRESET) {
        PGEventConnReset *e = info;
        uint64_t *mask = PQinstanceData(e->conn, prepared_event);
        if (mask != NULL)
            *mask = 0;
    }
    return 1;
}

static uint64_t *prepared_mask(PGconn *conn)
{
    uint64_t *mask = PQinstanceData(conn, prepared_event);

    if (mask != NULL)
        return mask;
    mask = calloc(1, sizeof(*mask));
    if (mask == NULL)
        return NULL;
    if (!PQregisterEventProc(conn, prepared_event, "mosaic-prepared", NULL) ||
        !PQsetInstanceData(conn, prepared_event, mask)) {
        free(mask);
        return NULL;
    }
    return mask;
}

PGresult *db_exec_prepared(PGconn *conn, unsigned id, const char *name, const char *sql,
                           int nparams, const char *const *params)
{
    uint64_t *mask = id < 64 ? prepared_mask(conn) : NULL;

    if (mask == NULL)
        return PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);
    if (!(*mask & (1ULL << id))) {
        PGresult *res = PQprepare(conn, name, sql, nparams, NULL);
        if (PQresultStatus(res) != PGRES_COMMAND_OK)
            return res;
        PQclear(res);
        *mask |= 1ULL << id;
    }
    return PQexecPrepared(conn, name, nparams, params, NULL, NULL, 0);
}

int db_prepare(PGconn *conn, unsigned id, const char *name, const char *sql, int nparams,
               struct mr_error *err)
{
    uint64_t *mask = id < 64 ? prepared_mask(conn) : NULL;
    PGresult *res;
    int rc;

    if (mask == NULL)
        return 0;
    if (*mask & (1ULL << id))
        return 1;
    res = PQprepare(conn, name, sql, nparams, NULL);
    rc = db_check(res, PGRES_COMMAND_OK, "preparing a statement", err);
    PQclear(res);
    if (rc != MR_OK)
        return -1;
    *mask |= 1ULL << id;
    return 1;
}

int db_pipeline(PGconn *conn, const struct db_step *steps, size_t n, PGresult **res,
                struct mr_error *err)
{
    int rc = MR_OK;
    PGresult *r;

    for (size_t i = 0; i < n; i++)
        res[i] = NULL;
    if (!PQenterPipelineMode(conn))
        return mr_fail(err, MR_ERR_IO, "database: cannot enter pipeline mode: %s",
                       PQerrorMessage(conn));
    for (size_t i = 0; rc == MR_OK && i < n; i++) {
        const struct db_step *s = &steps[i];
        int ok = s->name != NULL
                     ? PQsendQueryPrepared(conn, s->name, s->nparams, s->params, NULL, NULL, 0)
                     : PQsendQueryParams(conn, s->sql, s->nparams, NULL, s->params, NULL, NULL, 0);
        if (!ok)
            rc = mr_fail(err, MR_ERR_IO, "database: sending a statement: %s",
                         PQerrorMessage(conn));
    }
    if (!PQpipelineSync(conn) && rc == MR_OK)
        rc = mr_fail(err, MR_ERR_IO, "database: %s", PQerrorMessage(conn));
    /* Each statement's result, then a NULL; then the sync. */
    for (size_t i = 0; i < n && PQstatus(conn) == CONNECTION_OK; i++) {
        res[i] = PQgetResult(conn);
        if (res[i] == NULL)
            break;
        while ((r = PQgetResult(conn)) != NULL)
            PQclear(r);
    }
    while ((r = PQgetResult(conn)) != NULL) {
        ExecStatusType st = PQresultStatus(r);
        PQclear(r);
        if (st == PGRES_PIPELINE_SYNC)
            break;
    }
    if (!PQexitPipelineMode(conn) && rc == MR_OK)
        rc = mr_fail(err, MR_ERR_IO, "database: cannot leave pipeline mode: %s",
                     PQerrorMessage(conn));
    if (rc == MR_OK && PQstatus(conn) != CONNECTION_OK)
        rc = mr_fail(err, MR_ERR_IO, "database: connection lost: %s", PQerrorMessage(conn));
    if (rc != MR_OK) {
        for (size_t i = 0; i < n; i++) {
            PQclear(res[i]);
            res[i] = NULL;
        }
    }
    return rc;
}

int db_conn_lost(const PGconn *conn)
{
    return conn == NULL || PQstatus(conn) == CONNECTION_BAD;
}

int db_query_int64(PGconn *conn, const char *sql, int64_t *out, struct mr_error *err)
{
    PGresult *res = PQexec(conn, sql);
    int rc = db_check(res, PGRES_TUPLES_OK, "database", err);

    if (rc == MR_OK) {
        if (PQntuples(res) != 1 || PQnfields(res) != 1)
            rc = mr_fail(err, MR_ERR_INVALID, "expected one value from: %.80s", sql);
        else if (PQgetisnull(res, 0, 0))
            *out = -1;
        else
            *out = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    }
    PQclear(res);
    return rc;
}

int db_check_durability(PGconn *conn, struct mr_error *err)
{
    PGresult *res = PQexec(conn, "SELECT current_setting('fsync'), "
                                 "current_setting('synchronous_commit')");
    int rc = db_check(res, PGRES_TUPLES_OK, "durability check", err);

    if (rc == MR_OK) {
        const char *fsync = PQgetvalue(res, 0, 0), *sync = PQgetvalue(res, 0, 1);
        if (strcmp(fsync, "on") != 0)
            rc = mr_fail(err, MR_ERR_INVALID,
                         "the database runs with fsync = %s: a crash could lose records of "
                         "transactions already sent; set fsync = on in postgresql.conf", fsync);
        else if (strcmp(sync, "off") == 0)
            rc = mr_fail(err, MR_ERR_INVALID,
                         "synchronous_commit = off for the relayer's sessions: a crash could "
                         "lose records of transactions already sent; set it to on");
    }
    PQclear(res);
    return rc;
}
