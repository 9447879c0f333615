/*
 * cli_message.c - `mosaic-relayer message show|list`: where messages stand,
 * every step with its chain, transaction, block and time.
 *
 * Reads only the mosaic_dash views (db/migrations/0009_message_steps.sql),
 * so it works with the dashboards' read-only role as well as the relayer's.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/db.h"
#include "eth/hex.h"
#include "eth/mosaic.h"
#include "relayer/cli.h"
#include "relayer/progress.h"

static void message_usage(void)
{
    printf("usage: mosaic-relayer message show HASH\n"
           "       mosaic-relayer message list [--status S] [--flow stake|redeem] [--limit N]\n"
           "\n"
           "Where Mosaic messages (stakes and redeems) stand, as the relayer recorded them.\n"
           "  show    one message by its hash: its fields, the statuses on both chains, and\n"
           "          every step (declared, anchored, proven, confirmed, progressed on each\n"
           "          side, and the revert steps if any) with chain, transaction hash, block\n"
           "          and the time it was recorded; then what it waits for\n"
           "  list    newest first; --status is the relayer's state: declared, anchoring,\n"
           "          proving, confirming, progressing, completed, reverting, reverted,\n"
           "          halted, refused, or 'open' for every message not finished;\n"
           "          --limit defaults to 50\n"
           "\n" DB_OPTIONS_HELP
           "\n"
           "Exit status: 0 done, 1 no such message, 2 bad usage or no database.\n");
}

static const char *const states[] = {"declared",  "anchoring", "proving",  "confirming",
                                     "progressing", "completed", "reverting", "reverted",
                                     "halted",    "refused",   "open"};

static int message_list(PGconn *c, const char *status, const char *flow, const char *limit)
{
    const char *params[3] = {status, flow, limit};
    struct mr_error err;
    PGresult *res = PQexecParams(
        c,
        "SELECT m.hash, m.flow, m.gateway_pair, m.state, m.source_status, m.target_status,"
        " (SELECT count(DISTINCT s.step_order) FROM mosaic_dash.message_steps s"
        "  WHERE s.message_hash = m.message_hash AND s.step_order <= 6),"
        " m.amount::text, m.source_chain || ':' || m.declared_block,"
        " to_char(m.updated_at, 'YYYY-MM-DD HH24:MI:SS')"
        " FROM mosaic_dash.messages m"
        " WHERE ($1::text IS NULL OR m.state = $1 OR ($1 = 'open' AND m.state NOT IN"
        " ('completed', 'reverted', 'refused')))"
        " AND ($2::text IS NULL OR m.flow = $2)"
        " ORDER BY m.created_at DESC, m.message_hash LIMIT $3::int",
        3, NULL, params, NULL, NULL, 0);

    if (db_check(res, PGRES_TUPLES_OK, "message list", &err) != MR_OK) {
        PQclear(res);
        fprintf(stderr, "mosaic-relayer message: %s\n", err.msg);
        return CLI_EXIT_FAIL;
    }
    printf("%-66s %-6s %-14s %-11s %-22s %-5s %-26s %-16s %s\n", "MESSAGE", "FLOW", "PAIR",
           "STATE", "SOURCE/TARGET", "STEPS", "AMOUNT", "DECLARED", "UPDATED");
    for (int i = 0; i < PQntuples(res); i++) {
        char st[32];
        snprintf(st, sizeof(st), "%s/%s", mosaic_status_name(atoi(PQgetvalue(res, i, 4))),
                 mosaic_status_name(atoi(PQgetvalue(res, i, 5))));
        printf("%-66s %-6s %-14s %-11s %-22s %s/6   %-26s %-16s %s\n", PQgetvalue(res, i, 0),
               PQgetvalue(res, i, 1), PQgetvalue(res, i, 2), PQgetvalue(res, i, 3), st,
               PQgetvalue(res, i, 6), PQgetvalue(res, i, 7), PQgetvalue(res, i, 8),
               PQgetvalue(res, i, 9));
    }
    printf("(%d message%s)\n", PQntuples(res), PQntuples(res) == 1 ? "" : "s");
    PQclear(res);
    return CLI_EXIT_OK;
}

static int message_show(PGconn *c, const uint8_t mh[32])
{
    struct progress_view v;
    struct mr_error err;
    char hx[67];

    if (progress_load(c, mh, &v, &err) != MR_OK) {
        fprintf(stderr, "mosaic-relayer message: %s\n", err.msg);
        return CLI_EXIT_FAIL;
    }
    if (!v.found) {
        hex_encode_data(mh, 32, hx, sizeof(hx));
        fprintf(stderr, "mosaic-relayer message: no message %s is recorded (a message appears "
                "once the relayer's watcher has seen its declaration)\n", hx);
        return CLI_EXIT_FAIL;
    }
    progress_print_view(&v, stdout);
    return CLI_EXIT_OK;
}

int cli_message(int argc, char **argv)
{
    static const struct option opts[] = {
        {"status", required_argument, NULL, 's'},
        {"flow", required_argument, NULL, 'f'},
        {"limit", required_argument, NULL, 'l'},
        {"database", required_argument, NULL, 'd'},
        {"config", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *status = NULL, *flow = NULL, *limit = "50", *database = NULL, *config = NULL;
    uint8_t mh[32];
    char *end;
    long lim;
    int ch, rc, nst = (int)(sizeof(states) / sizeof(states[0]));
    PGconn *c;

    optind = 0; /* 0: glibc re-initializes getopt */
    opterr = 0;
    while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (ch) {
        case 's': status = optarg; break;
        case 'f': flow = optarg; break;
        case 'l': limit = optarg; break;
        case 'd': database = optarg; break;
        case 'c': config = optarg; break;
        case 'h': message_usage(); return CLI_EXIT_OK;
        default:
            return cli_usage_error("message", "unknown or incomplete option '%s' (see --help)",
                                   argv[optind - 1]);
        }
    }
    if (optind >= argc)
        return cli_usage_error("message", "expected a subcommand: show or list (see --help)");
    if (strcmp(argv[optind], "show") == 0) {
        if (argc - optind != 2)
            return cli_usage_error("message", "show takes one message hash");
        if (status != NULL || flow != NULL)
            return cli_usage_error("message", "--status and --flow are for list");
        if (cli_parse_hash(argv[optind + 1], mh, NULL) != MR_OK)
            return cli_usage_error("message", "'%s' is not a message hash (0x and 64 hex digits)",
                                   argv[optind + 1]);
    } else if (strcmp(argv[optind], "list") == 0) {
        if (argc - optind != 1)
            return cli_usage_error("message", "list takes no arguments");
        if (status != NULL) {
            int i = 0;
            while (i < nst && strcmp(states[i], status) != 0)
                i++;
            if (i == nst)
                return cli_usage_error("message", "unknown --status '%s' (see --help)", status);
        }
        if (flow != NULL && strcmp(flow, "stake") != 0 && strcmp(flow, "redeem") != 0)
            return cli_usage_error("message", "--flow is stake or redeem");
        lim = strtol(limit, &end, 10);
        if (*limit == '\0' || *end != '\0' || lim < 1 || lim > 100000)
            return cli_usage_error("message", "--limit must be a number from 1 to 100000");
    } else {
        return cli_usage_error("message", "unknown subcommand '%s' (show, list)", argv[optind]);
    }
    c = cli_db_open("message", database, config);
    if (c == NULL)
        return CLI_EXIT_USAGE;
    rc = strcmp(argv[optind], "show") == 0 ? message_show(c, mh)
                                           : message_list(c, status, flow, limit);
    PQfinish(c);
    return rc;
}
