/*
 * breaker.h - the conservation circuit breaker's rows (mosaic.breakers and
 * mosaic.breaker_log, migration 0012; RELIABILITY.md row 24).
 *
 * The daemon's conservation monitor (relayer/flows/conservation.c) records
 * every check of a gateway pair here; a check whose circulating supply
 * exceeds the backing by more than the pair's accepted excess trips the
 * breaker, in the same transaction as its log row and a critical alert.
 * The flows ask breaker_is_tripped() before they record any call for a
 * pair's message; `mosaic-relayer breaker reset` clears it.
 *
 * Amounts are decimal strings (numeric(78,0) in the database); the
 * comparison is made by Postgres.
 */
#ifndef MR_BREAKER_H
#define MR_BREAKER_H

#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "eth/error.h"

/* One check of a pair (all strings borrowed). */
struct breaker_check {
    const char *pair;
    const char *circulating;      /* utility token circulating on auxiliary, decimal */
    const char *backing;          /* value token backing it on origin, decimal */
    const char *aux_chain, *origin_chain;
    uint64_t aux_block, origin_block;
    const char *actor;            /* who checked: "monitor host:pid" */
};

/* Records the check (creating the pair's row), and trips the breaker when
 * circulating - backing > accepted_excess: then, in the same transaction,
 * a breaker_log row and a critical alert (component "conservation",
 * subject the pair) that name both figures and both blocks.  Out:
 * *tripped (the breaker is tripped after this check), *newly (this check
 * tripped it); either may be NULL. */
int breaker_record(PGconn *conn, const struct breaker_check *c, int *tripped, int *newly,
                   struct mr_error *err);

/* Records that a check of the pair could not be made (why: one line). */
int breaker_record_error(PGconn *conn, const char *pair, const char *why, struct mr_error *err);

/* Whether the pair's breaker is tripped (no row: not tripped).  One
 * statement (inside the caller's transaction, if any). */
int breaker_is_tripped(PGconn *conn, const char *pair, int *tripped, struct mr_error *err);

/* An operator's reset: clears the trip and sets the accepted excess to
 * `accept` (decimal) or, when accept is NULL, to the largest excess
 * measured since the trip (messages in flight only ever hide part of an
 * excess, so a later, smaller figure is no reason to accept less); logs it with the reason and the actor, and
 * acknowledges the pair's open conservation alerts; one transaction.
 * Out: accepted[cap] (the accepted excess, decimal).  MR_ERR_NOTFOUND: the
 * pair has never been checked; MR_ERR_INVALID: it is not tripped and no
 * `accept` was given (nothing to reset). */
int breaker_reset(PGconn *conn, const char *pair, const char *reason, const char *actor,
                  const char *accept, char *accepted, size_t cap, struct mr_error *err);

#endif /* MR_BREAKER_H */
