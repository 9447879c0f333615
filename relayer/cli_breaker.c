/*
 * cli_breaker.c - `mosaic-relayer breaker status|log|reset`: the
 * conservation circuit breakers (RELIABILITY.md row 24; db/breaker.h).
 *
 * status and log read the dashboards' view and the log table; reset writes
 * (the relayer's role), recording who reset, why, and the excess accepted.
 */
#include <getopt.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db/breaker.h"
#include "db/db.h"
#include "eth/u256.h"
#include "relayer/cli.h"

#define REASON_MAX 500

static void breaker_usage(void)
{
    printf("usage: mosaic-relayer breaker status [PAIR]\n"
           "       mosaic-relayer breaker log [PAIR] [--limit N]\n"
           "       mosaic-relayer breaker reset PAIR --reason TEXT [--accept WEI]\n"
           "\n"
           "The conservation circuit breakers.  The relayer checks every\n"
           "relayer.conservation.interval, per gateway pair, that the utility tokens\n"
           "circulating on the auxiliary chain (total supply minus what the co-gateway holds\n"
           "for redeems in flight) do not exceed the value tokens backing them on origin\n"
           "(the stake vault's balance plus what the gateway holds for stakes in flight),\n"
           "read at a consistent pair of final blocks.  When they do, the pair's breaker\n"
           "trips: a critical alert, and no call is recorded for the pair's messages (the\n"
           "watchers keep recording) until an operator resets it.\n"
           "\n"
           "  status  each pair: tripped or not, the last check's figures and blocks\n"
           "  log     trips and resets, newest first (--limit, default 20)\n"
           "  reset   clears a trip after investigation; --reason is recorded.  The largest\n"
           "          excess (circulating - backing) measured since the trip is accepted from\n"
           "          then on, so the breaker trips again only if it grows; --accept WEI sets the\n"
           "          accepted excess instead (--accept 0 once the cause is repaired; allowed\n"
           "          on a breaker that is not tripped)\n"
           "\n" DB_OPTIONS_HELP
           "\n"
           "Exit status: status: 0 none tripped, 1 some tripped; reset: 0 reset, 1 no such\n"
           "breaker or not tripped; 2 bad usage or no database.\n");
}

static void fail_db(const char *what, PGconn *c)
{
    const char *m = PQerrorMessage(c), *nl = strchr(m, '\n');

    fprintf(stderr, "mosaic-relayer breaker: %s: %.*s\n", what,
            nl ? (int)(nl - m) : (int)strlen(m), m);
}

static int breaker_status(PGconn *c, const char *pair)
{
    const char *p[1] = {pair};
    PGresult *r = PQexecParams(
        c,
        "SELECT gateway_pair, tripped, coalesce(circulating::text, '-'),"
        " coalesce(backing::text, '-'), coalesce(aux_chain || ' ' || aux_block, '-'),"
        " coalesce(origin_chain || ' ' || origin_block, '-'),"
        " coalesce(to_char(checked_at, 'YYYY-MM-DD HH24:MI:SS'), 'never'), checks,"
        " accepted_excess::text, coalesce(to_char(tripped_at, 'YYYY-MM-DD HH24:MI:SS'), ''),"
        " coalesce(trip_reason, ''), coalesce(last_error, '')"
        " FROM mosaic_dash.breakers WHERE $1::text IS NULL OR gateway_pair = $1"
        " ORDER BY gateway_pair",
        1, NULL, p, NULL, NULL, 0);
    int tripped = 0;

    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        fail_db("reading the breakers", c);
        PQclear(r);
        return CLI_EXIT_USAGE;
    }
    if (PQntuples(r) == 0 && pair != NULL)
        printf("pair %s: never checked\n", pair);
    else if (PQntuples(r) == 0)
        printf("no pair checked yet\n");
    for (int i = 0; i < PQntuples(r); i++) {
        int t = strcmp(PQgetvalue(r, i, 1), "t") == 0;
        tripped |= t;
        printf("%s: %s\n", PQgetvalue(r, i, 0), t ? "TRIPPED (relaying stopped)" : "ok");
        if (t)
            printf("  tripped at %s UTC: %s\n", PQgetvalue(r, i, 9), PQgetvalue(r, i, 10));
        printf("  last check %s UTC (%s checks): circulating %s (%s), backing %s (%s)\n",
               PQgetvalue(r, i, 6), PQgetvalue(r, i, 7), PQgetvalue(r, i, 2),
               PQgetvalue(r, i, 4), PQgetvalue(r, i, 3), PQgetvalue(r, i, 5));
        if (strcmp(PQgetvalue(r, i, 8), "0") != 0)
            printf("  accepted excess %s\n", PQgetvalue(r, i, 8));
        if (PQgetvalue(r, i, 11)[0] != '\0')
            printf("  the last check could not be made: %s\n", PQgetvalue(r, i, 11));
    }
    PQclear(r);
    return tripped ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}

static int breaker_log(PGconn *c, const char *pair, const char *limit)
{
    const char *p[2] = {pair, limit};
    PGresult *r = PQexecParams(
        c,
        "SELECT to_char(at, 'YYYY-MM-DD HH24:MI:SS'), gateway_pair, action, actor, reason,"
        " coalesce(accepted_excess::text, '') FROM mosaic.breaker_log"
        " WHERE $1::text IS NULL OR gateway_pair = $1 ORDER BY id DESC LIMIT $2::int",
        2, NULL, p, NULL, NULL, 0);

    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        fail_db("reading the breakers' log", c);
        PQclear(r);
        return CLI_EXIT_USAGE;
    }
    if (PQntuples(r) == 0)
        printf("no trip and no reset recorded\n");
    for (int i = 0; i < PQntuples(r); i++) {
        printf("%s UTC  %s  %-5s by %s: %s", PQgetvalue(r, i, 0), PQgetvalue(r, i, 1),
               PQgetvalue(r, i, 2), PQgetvalue(r, i, 3), PQgetvalue(r, i, 4));
        if (PQgetvalue(r, i, 5)[0] != '\0')
            printf(" (accepted excess %s)", PQgetvalue(r, i, 5));
        printf("\n");
    }
    PQclear(r);
    return CLI_EXIT_OK;
}

static int breaker_do_reset(PGconn *c, const char *pair, const char *reason, const char *accept)
{
    char actor[200], host[96] = "", accepted[U256_DEC_MAX + 8];
    const struct passwd *pw = getpwuid(getuid());
    struct mr_error err;
    int rc;

    gethostname(host, sizeof(host) - 1);
    snprintf(actor, sizeof(actor), "operator %s@%s", pw != NULL ? pw->pw_name : "?", host);
    rc = breaker_reset(c, pair, reason, actor, accept, accepted, sizeof(accepted), &err);
    if (rc == MR_ERR_NOTFOUND || rc == MR_ERR_INVALID) {
        fprintf(stderr, "mosaic-relayer breaker: %s\n", err.msg);
        return CLI_EXIT_FAIL;
    }
    if (rc != MR_OK) {
        fprintf(stderr, "mosaic-relayer breaker: %s\n", err.msg);
        return CLI_EXIT_USAGE;
    }
    printf("pair %s: breaker reset by %s; accepted excess %s.\n"
           "The pair's messages resume at their next run (within 30 s).\n",
           pair, actor, accepted);
    return CLI_EXIT_OK;
}

int cli_breaker(int argc, char **argv)
{
    static const struct option opts[] = {
        {"reason", required_argument, NULL, 'r'},
        {"accept", required_argument, NULL, 'a'},
        {"limit", required_argument, NULL, 'l'},
        {"database", required_argument, NULL, 'd'},
        {"config", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *reason = NULL, *accept = NULL, *limit = "20", *database = NULL, *config = NULL;
    const char *sub, *pair;
    struct u256 v;
    char *end;
    long lim;
    int ch, rc, nargs;
    PGconn *c;

    optind = 0; /* 0: glibc re-initializes getopt */
    opterr = 0;
    while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (ch) {
        case 'r': reason = optarg; break;
        case 'a': accept = optarg; break;
        case 'l': limit = optarg; break;
        case 'd': database = optarg; break;
        case 'c': config = optarg; break;
        case 'h': breaker_usage(); return CLI_EXIT_OK;
        default:
            return cli_usage_error("breaker", "unknown or incomplete option '%s' (see --help)",
                                   argv[optind - 1]);
        }
    }
    if (optind >= argc)
        return cli_usage_error("breaker", "expected a subcommand: status, log or reset (see "
                               "--help)");
    sub = argv[optind];
    nargs = argc - optind - 1;
    pair = nargs >= 1 ? argv[optind + 1] : NULL;
    if (nargs > 1)
        return cli_usage_error("breaker", "unexpected argument '%s'", argv[optind + 2]);
    if (pair != NULL && (strlen(pair) == 0 || strlen(pair) > 32))
        return cli_usage_error("breaker", "'%s' is not a gateway pair name", pair);
    if (strcmp(sub, "reset") == 0) {
        if (pair == NULL)
            return cli_usage_error("breaker", "reset takes the gateway pair's name");
        if (reason == NULL || reason[0] == '\0')
            return cli_usage_error("breaker", "reset needs --reason TEXT (it is recorded)");
        if (strlen(reason) > REASON_MAX)
            return cli_usage_error("breaker", "--reason: at most %d characters", REASON_MAX);
        if (accept != NULL && u256_parse_dec(&v, accept, strlen(accept), 1, NULL) != MR_OK)
            return cli_usage_error("breaker", "--accept: expected a whole number of base units, "
                                   "not '%s'", accept);
    } else if (strcmp(sub, "status") == 0 || strcmp(sub, "log") == 0) {
        if (reason != NULL || accept != NULL)
            return cli_usage_error("breaker", "--reason and --accept are for reset");
        lim = strtol(limit, &end, 10);
        if (*limit == '\0' || *end != '\0' || lim < 1 || lim > 100000)
            return cli_usage_error("breaker", "--limit must be a number from 1 to 100000");
    } else {
        return cli_usage_error("breaker", "unknown subcommand '%s' (status, log, reset)", sub);
    }
    c = cli_db_open("breaker", database, config);
    if (c == NULL)
        return CLI_EXIT_USAGE;
    if (strcmp(sub, "reset") == 0)
        rc = breaker_do_reset(c, pair, reason, accept);
    else if (strcmp(sub, "log") == 0)
        rc = breaker_log(c, pair, limit);
    else
        rc = breaker_status(c, pair);
    PQfinish(c);
    return rc;
}
