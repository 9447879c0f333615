/*
 * alert.c - rows in mosaic.alerts (see alert.h).
 */
#include "db/alert.h"

#include "db/db.h"

int alert_raise(PGconn *conn, const char *severity, const char *component, const char *subject,
                const char *message, struct mr_error *err)
{
    const char *p[4] = {severity, component, subject, message};
    PGresult *res = PQexecParams(conn,
                                 "INSERT INTO " DB_SCHEMA ".alerts (severity, component, subject,"
                                 " message) VALUES ($1, $2, $3, $4) ON CONFLICT (component,"
                                 " coalesce(subject, ''), message) WHERE acknowledged_at IS NULL"
                                 " DO NOTHING", 4, NULL, p, NULL, NULL, 0);
    int rc = db_check(res, PGRES_COMMAND_OK, "raising an alert", err);

    PQclear(res);
    return rc;
}

int alert_resolve(PGconn *conn, const char *component, const char *subject,
                  const char *message_prefix, struct mr_error *err)
{
    const char *p[3] = {component, subject, message_prefix};
    PGresult *res = PQexecParams(conn,
                                 "UPDATE " DB_SCHEMA ".alerts SET acknowledged_at = now()"
                                 " WHERE component = $1 AND coalesce(subject, '') ="
                                 " coalesce($2, '') AND left(message, length($3)) = $3"
                                 " AND acknowledged_at IS NULL", 3, NULL, p, NULL, NULL, 0);
    int rc = db_check(res, PGRES_COMMAND_OK, "resolving an alert", err);

    PQclear(res);
    return rc;
}
