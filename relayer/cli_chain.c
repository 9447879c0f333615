/*
 * cli_chain.c - `mosaic-relayer chain status`: per chain, the head and
 * finalized head the watcher last saw, its cursor, the lag, and which
 * instance holds the chain's watcher lock (from pg_locks and the lock
 * session's application_name, so it is never stale).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/db.h"
#include "relayer/cli.h"
#include "watchers/watcher.h"

static void chain_usage(void)
{
    printf("usage: mosaic-relayer chain status\n"
           "\n"
           "Shows, per chain registered in the database: its role and chain id, the head\n"
           "and the finalized head its watcher last read, the cursor (every block up to it\n"
           "is ingested), the lag (head - cursor), and the instance (host:pid) that holds\n"
           "the chain's watcher lock, or '-' when no watcher runs.\n"
           "\n" DB_OPTIONS_HELP
           "\n"
           "Exit status: 0 shown, 1 the query failed, 2 bad usage or no database.\n");
}

/* "host:pid (since HH:MM:SS)" of the watcher holding chain's lock, or "-". */
static void holder(PGconn *c, const char *chain, char *out, size_t cap)
{
    char key[24];
    const char *params[2] = {key, WATCHER_APP_PREFIX};
    PGresult *res;

    snprintf(key, sizeof(key), "%lld", (long long)watcher_lock_key(chain));
    res = PQexecParams(c,
                       "SELECT CASE WHEN a.application_name LIKE $2 || '%'"
                       " THEN substr(a.application_name, length($2) + 1)"
                       " ELSE a.application_name || ' (backend ' || a.pid || ')' END"
                       " || ' since ' || to_char(a.backend_start, 'YYYY-MM-DD HH24:MI:SS')"
                       " FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
                       " WHERE l.locktype = 'advisory' AND l.granted"
                       " AND l.database = (SELECT oid FROM pg_database"
                       " WHERE datname = current_database())"
                       " AND l.classid = ($1::bigint >> 32)::oid"
                       " AND l.objid = ($1::bigint & 4294967295)::oid AND l.objsubid = 1",
                       2, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) > 0)
        snprintf(out, cap, "%s", PQgetvalue(res, 0, 0));
    else
        snprintf(out, cap, "-");
    PQclear(res);
}

static int chain_status(PGconn *c)
{
    PGresult *res = PQexec(c, "SELECT chain_key, role, chain_id, coalesce(head_block::text, '-'),"
                              " coalesce(finalized_block::text, '-'),"
                              " coalesce(cursor_block::text, '-'),"
                              " coalesce((head_block - cursor_block)::text, '-'),"
                              " to_char(updated_at, 'YYYY-MM-DD HH24:MI:SS')"
                              " FROM " DB_SCHEMA ".chains ORDER BY role DESC, chain_key");

    if (cli_check_rows("chain", "chain status", res) != MR_OK)
        return CLI_EXIT_FAIL;
    printf("%-12s %-9s %-10s %-10s %-10s %-10s %-8s %-19s %s\n", "CHAIN", "ROLE", "CHAIN ID",
           "HEAD", "FINALIZED", "CURSOR", "LAG", "UPDATED", "WATCHER");
    for (int i = 0; i < PQntuples(res); i++) {
        char who[256];
        holder(c, PQgetvalue(res, i, 0), who, sizeof(who));
        printf("%-12s %-9s %-10s %-10s %-10s %-10s %-8s %-19s %s\n", PQgetvalue(res, i, 0),
               PQgetvalue(res, i, 1), PQgetvalue(res, i, 2), PQgetvalue(res, i, 3),
               PQgetvalue(res, i, 4), PQgetvalue(res, i, 5), PQgetvalue(res, i, 6),
               PQgetvalue(res, i, 7), who);
    }
    if (PQntuples(res) == 0)
        printf("(no chains registered)\n");
    PQclear(res);
    return CLI_EXIT_OK;
}

int cli_chain(int argc, char **argv)
{
    static const struct option opts[] = {{"database", required_argument, NULL, 'd'},
                                         {"config", required_argument, NULL, 'c'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *database = NULL, *config = NULL;
    int ch, rc;
    PGconn *c;

    optind = 1;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (ch) {
        case 'd': database = optarg; break;
        case 'c': config = optarg; break;
        case 'h': chain_usage(); return CLI_EXIT_OK;
        default:
            return cli_usage_error("chain", "unknown or incomplete option '%s' (see --help)",
                                   argv[optind - 1]);
        }
    }
    if ((rc = cli_one_subcommand("chain", "status", argc, argv, optind)) >= 0)
        return rc;
    c = cli_db_connect("chain", database, config);
    if (c == NULL)
        return CLI_EXIT_USAGE;
    rc = chain_status(c);
    PQfinish(c);
    return rc;
}
