/*
 * cli_db.c - `mosaic-relayer migrate` and `mosaic-relayer jobs`.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/db.h"
#include "db/migrate.h"
#include "db/queue.h"
#include "relayer/cli.h"
#include "relayer/config.h"

PGconn *cli_db_open(const char *cmd, const char *database, const char *config)
{
    char url[2048];
    const char *conninfo, *source;
    struct mr_error err;
    PGconn *c;

    url[0] = '\0';
    if ((database == NULL || database[0] == '\0') && config != NULL) {
        int rc = config_database_url(config, url, sizeof(url), &err);
        if (rc != MR_OK && rc != MR_ERR_NOTFOUND) {
            cli_usage_error(cmd, "%s", err.msg);
            return NULL;
        }
    }
    conninfo = db_resolve_conninfo(database, url, &source);
    c = db_connect(conninfo, NULL, &err);
    if (c == NULL)
        cli_usage_error(cmd, "%s (from %s)", err.msg, source);
    return c;
}

/* ---- migrate ---- */

static void migrate_usage(void)
{
    printf("usage: mosaic-relayer migrate [--status] [--database CONNINFO | --config FILE]\n"
           "\n"
           "Applies the pending schema migrations (db/migrations/NNNN_name.sql, embedded in\n"
           "this binary) in order, each in its own transaction, under an advisory lock so\n"
           "that two instances cannot race. Migrations are forward-only: a database whose\n"
           "schema is newer than this binary, or whose applied migration differs from the\n"
           "embedded text, is refused.\n"
           "\n"
           "  --status             list the migrations and whether each is applied; change nothing\n"
           "\n" DB_OPTIONS_HELP
           "\n"
           "Exit status: 0 done, 1 a migration failed (file:line and the server's reason on\n"
           "stderr; nothing of it is left behind), 2 bad usage or no database.\n");
}

int cli_migrate(int argc, char **argv)
{
    static const struct option opts[] = {
        {"status", no_argument, NULL, 's'},
        {"database", required_argument, NULL, 'd'},
        {"config", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *database = NULL, *config = NULL;
    int status = 0, ch, applied = 0, rc;
    struct mr_error err;
    PGconn *c;

    optind = 1;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (ch) {
        case 's': status = 1; break;
        case 'd': database = optarg; break;
        case 'c': config = optarg; break;
        case 'h': migrate_usage(); return CLI_EXIT_OK;
        default:
            return cli_usage_error("migrate", "unknown or incomplete option '%s' (see --help)",
                                   argv[optind - 1]);
        }
    }
    if (optind < argc)
        return cli_usage_error("migrate", "unexpected argument '%s'", argv[optind]);
    c = cli_db_open("migrate", database, config);
    if (c == NULL)
        return CLI_EXIT_USAGE;
    if (status)
        rc = db_migrate_status(c, db_migrations, db_migrations_count, stdout, &err);
    else
        rc = db_migrate(c, db_migrations, db_migrations_count, stdout, &applied, &err);
    PQfinish(c);
    if (rc != MR_OK) {
        fprintf(stderr, "mosaic-relayer migrate: %s\n", err.msg);
        return CLI_EXIT_FAIL;
    }
    if (!status)
        printf("%d migration%s applied; schema at version %d\n", applied, applied == 1 ? "" : "s",
               db_schema_known_version());
    return CLI_EXIT_OK;
}

/* ---- jobs ---- */

static void jobs_usage(void)
{
    printf("usage: mosaic-relayer jobs list [--state S] [--kind K] [--limit N]\n"
           "       mosaic-relayer jobs show ID\n"
           "       mosaic-relayer jobs retry ID...\n"
           "       mosaic-relayer jobs cancel ID...\n"
           "\n"
           "Inspects and steers the job queue.\n"
           "  list    newest jobs first; --state is one of available, scheduled, running,\n"
           "          retryable, completed, failed, cancelled; --limit defaults to 50\n"
           "  show    every field of one job, with its arguments and last error\n"
           "  retry   puts failed, cancelled, retryable or scheduled jobs back to available\n"
           "          now (a dead-lettered job gets one more attempt)\n"
           "  cancel  cancels jobs that have not finished; a running job's worker cannot\n"
           "          complete it afterwards\n"
           "\n" DB_OPTIONS_HELP
           "\n"
           "Exit status: 0 done, 1 some job was not found or not in a state that allows the\n"
           "action, 2 bad usage or no database.\n");
}

static int parse_id(const char *s, int64_t *id)
{
    char *end;
    long long v = strtoll(s, &end, 10);

    if (*s == '\0' || *end != '\0' || v <= 0)
        return MR_ERR_INVALID;
    *id = v;
    return MR_OK;
}

/* What `CMD SUB [options] [args]` said, for the command groups with
 * subcommands (jobs, tx).  Option values: 's' the state filter, 'f' the
 * other filter, 'l' --limit, 'd' --database, 'c' --config, 'h' --help. */
struct subcmd {
    const char *sub;
    const char *state, *filter, *limit, *database, *config;
    int nargs;
    char **args;
};

/* Checks that value is one of list[n] (one line on stderr if not). */
static int check_one_of(const char *cmd, const char *what, const char *value,
                        const char *const *list, size_t n)
{
    char all[256] = "";

    for (size_t i = 0; i < n; i++) {
        if (strcmp(list[i], value) == 0)
            return -1;
    }
    for (size_t i = 0; i < n; i++)
        snprintf(all + strlen(all), sizeof(all) - strlen(all), "%s%s", i ? ", " : "", list[i]);
    return cli_usage_error(cmd, "unknown %s '%s' (one of %s)", what, value, all);
}

/* Parses `cmd SUB [options] [args]` (options after the subcommand; --help
 * anywhere), checks the state against states[nstates] and --limit.
 * Returns -1 to go on, else the exit status to return. */
static int parse_subcmd(const char *cmd, int argc, char **argv, const struct option *opts,
                        void (*usage)(void), const char *const *states, size_t nstates,
                        struct subcmd *a)
{
    int64_t lim;
    int ch;

    memset(a, 0, sizeof(*a));
    a->limit = "50";
    optind = 1;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
        if (ch == 'h') {
            usage();
            return CLI_EXIT_OK;
        }
        return cli_usage_error(cmd, "options go after the subcommand (see --help)");
    }
    if (optind >= argc)
        return cli_usage_error(cmd, "expected a subcommand (see --help)");
    a->sub = argv[optind];
    argc -= optind;
    argv += optind;
    optind = 0; /* 0: glibc re-initializes getopt (the first scan used "+") */
    while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (ch) {
        case 's': a->state = optarg; break;
        case 'f': a->filter = optarg; break;
        case 'l': a->limit = optarg; break;
        case 'd': a->database = optarg; break;
        case 'c': a->config = optarg; break;
        case 'h': usage(); return CLI_EXIT_OK;
        default:
            return cli_usage_error(cmd, "unknown or incomplete option '%s' (see --help)",
                                   argv[optind - 1]);
        }
    }
    a->nargs = argc - optind;
    a->args = argv + optind;
    if (a->state != NULL) {
        int rc = check_one_of(cmd, "state", a->state, states, nstates);
        if (rc >= 0)
            return rc;
    }
    if (parse_id(a->limit, &lim) != MR_OK || lim > 100000)
        return cli_usage_error(cmd, "--limit must be a number from 1 to 100000");
    return -1;
}

PGconn *cli_db_connect(const char *cmd, const char *database, const char *config)
{
    struct mr_error err;
    PGconn *c = cli_db_open(cmd, database, config);

    if (c != NULL && db_check_schema(c, &err) != MR_OK) {
        PQfinish(c);
        cli_usage_error(cmd, "%s", err.msg);
        return NULL;
    }
    return c;
}

/* Connects and checks the schema is this binary's; NULL after one line on
 * stderr. */
static PGconn *connect_checked(const char *cmd, const struct subcmd *a)
{
    return cli_db_connect(cmd, a->database, a->config);
}

static int jobs_list(PGconn *c, const char *state, const char *kind, const char *limit)
{
    const char *params[3] = {state, kind, limit};
    PGresult *res = PQexecParams(
        c,
        "SELECT id, kind, state, attempt || '/' || max_attempts, priority,"
        " to_char(run_at, 'YYYY-MM-DD HH24:MI:SS'), coalesce(owner, '-'),"
        " coalesce(left(replace(last_error, E'\\n', ' '), 60), '')"
        " FROM " DB_SCHEMA ".jobs WHERE ($1::text IS NULL OR state = $1)"
        " AND ($2::text IS NULL OR kind = $2) ORDER BY id DESC LIMIT $3::int",
        3, NULL, params, NULL, NULL, 0);
    static const char *const heads[] = {"ID",     "KIND",   "STATE", "TRIES",
                                        "PRIO",   "RUN AT", "OWNER", "LAST ERROR"};
    static const int widths[] = {8, 20, 10, 7, 4, 19, 22, 0};

    if (cli_check_rows("jobs", "jobs list", res) != MR_OK)
        return CLI_EXIT_FAIL;
    cli_print_table(res, heads, widths, 8, "job");
    PQclear(res);
    return CLI_EXIT_OK;
}

static int jobs_show(PGconn *c, int64_t id)
{
    static const char *const names[] = {
        "id", "kind", "state", "priority", "attempt", "max_attempts", "timeout_ms",
        "run_at", "created_at", "attempted_at", "finished_at", "owner", "dedup_key",
        "args", "last_error"};
    char p[24];
    const char *params[1] = {p};
    PGresult *res;

    snprintf(p, sizeof(p), "%lld", (long long)id);
    res = PQexecParams(c,
                       "SELECT id, kind, state, priority, attempt, max_attempts, timeout_ms,"
                       " run_at, created_at, attempted_at, finished_at, owner, dedup_key,"
                       " jsonb_pretty(args), last_error FROM " DB_SCHEMA ".jobs WHERE id = $1::bigint",
                       1, NULL, params, NULL, NULL, 0);
    if (cli_check_rows("jobs", "jobs show", res) != MR_OK)
        return CLI_EXIT_FAIL;
    if (PQntuples(res) != 1) {
        PQclear(res);
        fprintf(stderr, "mosaic-relayer jobs: no job %lld\n", (long long)id);
        return CLI_EXIT_FAIL;
    }
    for (int f = 0; f < PQnfields(res); f++)
        printf("%-13s %s\n", names[f], PQgetisnull(res, 0, f) ? "-" : PQgetvalue(res, 0, f));
    PQclear(res);
    return CLI_EXIT_OK;
}

static int jobs_act(PGconn *c, int retry, int n, char **ids)
{
    int status = CLI_EXIT_OK;

    for (int i = 0; i < n; i++) {
        struct mr_error err;
        int64_t id = 0;
        int changed = 0;
        int rc;
        if (parse_id(ids[i], &id) != MR_OK)
            return cli_usage_error("jobs", "'%s' is not a job id", ids[i]);
        rc = retry ? queue_retry(c, id, &changed, &err) : queue_cancel(c, id, &changed, &err);
        if (rc != MR_OK) {
            fprintf(stderr, "mosaic-relayer jobs: job %lld: %s\n", (long long)id, err.msg);
            return CLI_EXIT_FAIL;
        }
        if (changed) {
            printf("job %lld: %s\n", (long long)id, retry ? "back to available" : "cancelled");
        } else {
            fprintf(stderr, "mosaic-relayer jobs: job %lld: not found or not in a state that "
                    "can be %s\n", (long long)id, retry ? "retried" : "cancelled");
            status = CLI_EXIT_FAIL;
        }
    }
    return status;
}

int cli_jobs(int argc, char **argv)
{
    static const struct option opts[] = {
        {"state", required_argument, NULL, 's'},
        {"kind", required_argument, NULL, 'f'},
        {"limit", required_argument, NULL, 'l'},
        {"database", required_argument, NULL, 'd'},
        {"config", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    static const char *const states[] = {"available", "scheduled", "running", "retryable",
                                         "completed", "failed", "cancelled"};
    struct subcmd a;
    int64_t id = 0;
    int rc = parse_subcmd("jobs", argc, argv, opts, jobs_usage, states,
                          sizeof(states) / sizeof(states[0]), &a);
    PGconn *c;

    if (rc >= 0)
        return rc;
    if (strcmp(a.sub, "list") == 0) {
        if (a.nargs != 0)
            return cli_usage_error("jobs", "list takes no arguments");
    } else if (strcmp(a.sub, "show") == 0) {
        if (a.nargs != 1 || parse_id(a.args[0], &id) != MR_OK)
            return cli_usage_error("jobs", "show takes one job id (a positive number)");
    } else if (strcmp(a.sub, "retry") == 0 || strcmp(a.sub, "cancel") == 0) {
        if (a.nargs < 1)
            return cli_usage_error("jobs", "%s takes one or more job ids", a.sub);
        for (int i = 0; i < a.nargs; i++) {
            if (parse_id(a.args[i], &id) != MR_OK)
                return cli_usage_error("jobs", "'%s' is not a job id", a.args[i]);
        }
    } else {
        return cli_usage_error("jobs", "unknown subcommand '%s' (list, show, retry, cancel)",
                               a.sub);
    }
    c = connect_checked("jobs", &a);
    if (c == NULL)
        return CLI_EXIT_USAGE;
    if (strcmp(a.sub, "list") == 0)
        rc = jobs_list(c, a.state, a.filter, a.limit);
    else if (strcmp(a.sub, "show") == 0)
        rc = jobs_show(c, id);
    else
        rc = jobs_act(c, strcmp(a.sub, "retry") == 0, a.nargs, a.args);
    PQfinish(c);
    return rc;
}

/* ---- tx ---- */

static void tx_usage(void)
{
    printf("usage: mosaic-relayer tx list [--status S] [--chain C] [--limit N]\n"
           "       mosaic-relayer tx show ID|HASH\n"
           "\n"
           "The transaction manager's records: one row per nonce used, and every signed\n"
           "attempt (the first and each fee-bumped replacement), stored before broadcast.\n"
           "  list    newest first; --status is one of intent, signed, broadcast, included,\n"
           "          final, failed, aborted; --limit defaults to 50\n"
           "  show    one transaction by id, or by the hash of any of its attempts, with\n"
           "          its attempts (hash, fees, when broadcast); raw bytes are not printed\n"
           "\n" DB_OPTIONS_HELP
           "\n"
           "Exit status: 0 done, 1 not found, 2 bad usage or no database.\n");
}

static int tx_list(PGconn *c, const char *status, const char *chain, const char *limit)
{
    static const char *const heads[] = {"ID",    "CHAIN",     "SENDER", "NONCE",  "PURPOSE",
                                        "STATE", "LAST HASH", "BLOCK",  "UPDATED"};
    static const int widths[] = {6, 8, 42, 6, 22, 9, 66, 8, 0};
    const char *params[3] = {status, chain, limit};
    PGresult *res = PQexecParams(
        c,
        "SELECT t.id, t.chain_key, '0x' || encode(t.sender, 'hex'), t.nonce, t.purpose, t.state,"
        " coalesce((SELECT '0x' || encode(tx_hash, 'hex') FROM " DB_SCHEMA ".tx_attempts a"
        " WHERE a.tx_id = t.id ORDER BY attempt DESC LIMIT 1), '-'),"
        " coalesce(t.included_block::text, '-'), to_char(t.updated_at, 'YYYY-MM-DD HH24:MI:SS')"
        " FROM " DB_SCHEMA ".transactions t WHERE ($1::text IS NULL OR t.state = $1)"
        " AND ($2::text IS NULL OR t.chain_key = $2) ORDER BY t.id DESC LIMIT $3::int",
        3, NULL, params, NULL, NULL, 0);

    if (cli_check_rows("tx", "tx list", res) != MR_OK)
        return CLI_EXIT_FAIL;
    cli_print_table(res, heads, widths, 9, "transaction");
    PQclear(res);
    return CLI_EXIT_OK;
}

static int tx_show(PGconn *c, const char *key)
{
    static const char *const names[] = {"id", "chain", "sender", "nonce", "purpose", "to",
                                        "calldata_bytes", "value", "gas_limit", "state",
                                        "included_block", "block_hash", "receipt_status",
                                        "gas_used", "mined_tx_hash", "contract",
                                        "job_id", "error", "created_at", "updated_at"};
    const char *params[1] = {key};
    PGresult *res;
    int64_t id;

    res = PQexecParams(
        c,
        "SELECT t.id, t.chain_key, '0x' || encode(t.sender, 'hex'), t.nonce, t.purpose,"
        " CASE WHEN t.is_create THEN '(contract creation)' ELSE '0x' || encode(t.to_address,"
        " 'hex') END, octet_length(t.calldata), t.value, t.gas_limit,"
        " t.state, t.included_block, '0x' || encode(t.included_block_hash, 'hex'),"
        " t.receipt_status, t.gas_used, '0x' || encode(t.mined_tx_hash, 'hex'),"
        " '0x' || encode(t.contract_address, 'hex'), t.job_id, t.error, t.created_at, t.updated_at"
        " FROM " DB_SCHEMA ".transactions t WHERE ($1 ~ '^[0-9]+$' AND t.id = $1::numeric)"
        " OR ($1 ~ '^0x[0-9a-fA-F]{64}$' AND t.id IN (SELECT tx_id FROM " DB_SCHEMA ".tx_attempts"
        " WHERE tx_hash = decode(substr($1, 3), 'hex')))",
        1, NULL, params, NULL, NULL, 0);
    if (cli_check_rows("tx", "tx show", res) != MR_OK)
        return CLI_EXIT_FAIL;
    if (PQntuples(res) != 1) {
        PQclear(res);
        fprintf(stderr, "mosaic-relayer tx: no transaction %s\n", key);
        return CLI_EXIT_FAIL;
    }
    for (int f = 0; f < PQnfields(res); f++)
        printf("%-15s %s\n", names[f], PQgetisnull(res, 0, f) ? "-" : PQgetvalue(res, 0, f));
    id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    {
        char ids[24];
        const char *p2[1] = {ids};
        snprintf(ids, sizeof(ids), "%lld", (long long)id);
        res = PQexecParams(c,
                           "SELECT attempt, '0x' || encode(tx_hash, 'hex'), max_fee, max_priority_fee,"
                           " coalesce(to_char(broadcast_at, 'YYYY-MM-DD HH24:MI:SS'), 'not broadcast'),"
                           " octet_length(raw) FROM " DB_SCHEMA ".tx_attempts WHERE tx_id = $1::bigint"
                           " ORDER BY attempt", 1, NULL, p2, NULL, NULL, 0);
        if (PQresultStatus(res) == PGRES_TUPLES_OK) {
            for (int i = 0; i < PQntuples(res); i++)
                printf("attempt %-7s %s max_fee=%s tip=%s %s (%s bytes)\n", PQgetvalue(res, i, 0),
                       PQgetvalue(res, i, 1), PQgetvalue(res, i, 2), PQgetvalue(res, i, 3),
                       PQgetvalue(res, i, 4), PQgetvalue(res, i, 5));
        }
        PQclear(res);
    }
    return CLI_EXIT_OK;
}

int cli_tx(int argc, char **argv)
{
    static const struct option opts[] = {
        {"status", required_argument, NULL, 's'},
        {"chain", required_argument, NULL, 'f'},
        {"limit", required_argument, NULL, 'l'},
        {"database", required_argument, NULL, 'd'},
        {"config", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    static const char *const states[] = {"intent", "signed", "broadcast", "included",
                                         "final", "failed", "aborted"};
    struct subcmd a;
    int64_t n;
    int rc = parse_subcmd("tx", argc, argv, opts, tx_usage, states,
                          sizeof(states) / sizeof(states[0]), &a);
    PGconn *c;

    if (rc >= 0)
        return rc;
    if (strcmp(a.sub, "list") == 0) {
        if (a.nargs != 0)
            return cli_usage_error("tx", "list takes no arguments");
    } else if (strcmp(a.sub, "show") == 0) {
        const char *k = a.nargs == 1 ? a.args[0] : "";
        int is_hash = strlen(k) == 66 && k[0] == '0' && k[1] == 'x' &&
                      strspn(k + 2, "0123456789abcdefABCDEF") == 64;
        if (a.nargs != 1 || (parse_id(k, &n) != MR_OK && !is_hash))
            return cli_usage_error("tx", "show takes one id or one 0x-prefixed 32-byte hash");
    } else {
        return cli_usage_error("tx", "unknown subcommand '%s' (list, show)", a.sub);
    }
    c = connect_checked("tx", &a);
    if (c == NULL)
        return CLI_EXIT_USAGE;
    rc = strcmp(a.sub, "list") == 0 ? tx_list(c, a.state, a.filter, a.limit) : tx_show(c, a.args[0]);
    PQfinish(c);
    return rc;
}
