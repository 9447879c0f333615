/*
 * alert.h - rows in mosaic.alerts: conditions an operator must look at
 * (a key used by someone else, a transaction stuck at the fee cap, a
 * disagreement between nodes).
 */
#ifndef MR_ALERT_H
#define MR_ALERT_H

#include <libpq-fe.h>

#include "eth/error.h"

/* Raises an alert.  severity: "info", "warning" or "critical"; component
 * names the part that raised it ("txm"); subject (may be NULL) what it is
 * about ("origin 0xf39f... nonce 7").  While the same (component, subject,
 * message) is open (not acknowledged), raising it again adds nothing.
 * Runs as one statement (inside the caller's transaction, if any). */
int alert_raise(PGconn *conn, const char *severity, const char *component, const char *subject,
                const char *message, struct mr_error *err);

/* Resolves (acknowledges) the open alerts of (component, subject) whose
 * message starts with message_prefix: the condition has gone (a key that
 * is funded again).  Nothing open is no error. */
int alert_resolve(PGconn *conn, const char *component, const char *subject,
                  const char *message_prefix, struct mr_error *err);

#endif /* MR_ALERT_H */
