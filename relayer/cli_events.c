/*
 * cli_events.c - `mosaic-relayer events list`: the decoded gateway,
 * co-gateway and anchor events the watchers stored.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/db.h"
#include "eth/hex.h"
#include "relayer/cli.h"
#include "watchers/events.h"

static void events_usage(void)
{
    printf("usage: mosaic-relayer events list [--chain C] [--kind K] [--message 0xHASH]\n"
           "                                  [--limit N]\n"
           "\n"
           "Lists the events the chain watchers ingested, newest first: chain, block, log\n"
           "index, kind, message hash and the decoded fields (addresses and hashes as hex,\n"
           "amounts as decimal strings).\n"
           "  --chain C       only chain C (a chain key of the config)\n"
           "  --kind K        only events of kind K, e.g. StakeIntentDeclared\n"
           "  --message H     only events about message H (0x + 64 hex digits)\n"
           "  --limit N       at most N events (default 50)\n"
           "\n" DB_OPTIONS_HELP
           "\n"
           "Exit status: 0 listed, 1 the query failed, 2 bad usage or no database.\n");
}

static int check_kind(const char *kind)
{
    char all[1024] = "";

    for (int k = 0; k < WATCH_KIND_COUNT; k++)
        if (strcmp(watch_kind_info((enum watch_kind)k)->name, kind) == 0)
            return -1;
    for (int k = 0; k < WATCH_KIND_COUNT; k++)
        snprintf(all + strlen(all), sizeof(all) - strlen(all), "%s%s", k ? ", " : "",
                 watch_kind_info((enum watch_kind)k)->name);
    return cli_usage_error("events", "unknown kind '%s' (one of %s)", kind, all);
}

static int events_list(PGconn *c, const char *chain, const char *kind, const char *message,
                       const char *limit)
{
    const char *params[4] = {chain, kind, message, limit};
    PGresult *res = PQexecParams(
        c,
        "SELECT id, chain_key, block_number, log_index, kind,"
        " coalesce('0x' || encode(message_hash, 'hex'), '-'), fields::text"
        " FROM " DB_SCHEMA ".events WHERE ($1::text IS NULL OR chain_key = $1)"
        " AND ($2::text IS NULL OR kind = $2)"
        " AND ($3::text IS NULL OR message_hash = decode($3, 'hex'))"
        " ORDER BY block_number DESC, chain_key, log_index DESC LIMIT $4::int",
        4, NULL, params, NULL, NULL, 0);
    static const char *const heads[] = {"ID", "CHAIN", "BLOCK", "LOG", "KIND", "MESSAGE",
                                        "FIELDS"};
    static const int widths[] = {8, 10, 10, 5, 27, 66, 0};

    if (cli_check_rows("events", "events list", res) != MR_OK)
        return CLI_EXIT_FAIL;
    cli_print_table(res, heads, widths, 7, "event");
    PQclear(res);
    return CLI_EXIT_OK;
}

int cli_events(int argc, char **argv)
{
    static const struct option opts[] = {
        {"chain", required_argument, NULL, 'C'},  {"kind", required_argument, NULL, 'k'},
        {"message", required_argument, NULL, 'm'}, {"limit", required_argument, NULL, 'l'},
        {"database", required_argument, NULL, 'd'}, {"config", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0}};
    const char *chain = NULL, *kind = NULL, *message = NULL, *limit = "50", *database = NULL,
               *config = NULL;
    char mh_hex[67];
    uint8_t mh[32];
    char *end;
    long lim;
    int ch, rc;
    PGconn *c;

    optind = 1;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (ch) {
        case 'C': chain = optarg; break;
        case 'k': kind = optarg; break;
        case 'm': message = optarg; break;
        case 'l': limit = optarg; break;
        case 'd': database = optarg; break;
        case 'c': config = optarg; break;
        case 'h': events_usage(); return CLI_EXIT_OK;
        default:
            return cli_usage_error("events", "unknown or incomplete option '%s' (see --help)",
                                   argv[optind - 1]);
        }
    }
    if ((rc = cli_one_subcommand("events", "list", argc, argv, optind)) >= 0)
        return rc;
    if (kind != NULL && (rc = check_kind(kind)) >= 0)
        return rc;
    if (message != NULL) {
        struct mr_error err;
        if (cli_parse_hash(message, mh, &err) != MR_OK)
            return cli_usage_error("events", "--message: %s", err.msg);
        hex_encode_data(mh, 32, mh_hex, sizeof(mh_hex));
    }
    lim = strtol(limit, &end, 10);
    if (*limit == '\0' || *end != '\0' || lim < 1 || lim > 100000)
        return cli_usage_error("events", "--limit must be a number from 1 to 100000");
    c = cli_db_connect("events", database, config);
    if (c == NULL)
        return CLI_EXIT_USAGE;
    rc = events_list(c, chain, kind, message != NULL ? mh_hex + 2 : NULL, limit);
    PQfinish(c);
    return rc;
}
