/*
 * cli_message.c - `mosaic-relayer message show|list`: where messages stand,
 * every step with its chain, transaction, block and time; `message
 * release|hold`: an operator's decision on a message held by the value
 * limits (db/migrations/0010_limits.sql, relayer/flows/limits.c).
 *
 * show and list read only the mosaic_dash views (0009, 0010), so they work
 * with the dashboards' read-only role as well as the relayer's; release and
 * hold write (the relayer's role).
 */
#include <getopt.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db/db.h"
#include "db/queue.h"
#include "eth/hex.h"
#include "eth/mosaic.h"
#include "relayer/cli.h"
#include "relayer/progress.h"

static void message_usage(void)
{
    printf("usage: mosaic-relayer message show HASH\n"
           "       mosaic-relayer message list [--status S] [--flow stake|redeem] [--limit N]\n"
           "       mosaic-relayer message release HASH [--reason TEXT] [--operator NAME]\n"
           "       mosaic-relayer message hold HASH [--reason TEXT] [--operator NAME]\n"
           "\n"
           "Where Mosaic messages (stakes and redeems) stand, as the relayer recorded them.\n"
           "  show    one message by its hash: its fields, the statuses on both chains, and\n"
           "          every step (declared, anchored, proven, confirmed, progressed on each\n"
           "          side, and the revert steps if any) with chain, transaction hash, block\n"
           "          and the time it was recorded; then what it waits for\n"
           "  list    newest first; --status is the relayer's state: declared, anchoring,\n"
           "          proving, confirming, progressing, completed, reverting, reverted,\n"
           "          halted, refused, held, or 'open' for every message not finished;\n"
           "          --limit defaults to 50\n"
           "  release a message held by relayer.limits or relayer.min_bounty (or by `hold`)\n"
           "          goes on at once: its job is queued, and it is not held again (its\n"
           "          amount counts in the hourly window); who (--operator, default the\n"
           "          login name), when and why (--reason) are recorded\n"
           "  hold    holds a message the relayer has not started relaying yet, until\n"
           "          `release`\n"
           "\n" DB_OPTIONS_HELP
           "\n"
           "Exit status: 0 done, 1 no such message (or, for release and hold, not in a\n"
           "state that allows it), 2 bad usage or no database.\n");
}

static const char *const states[] = {"declared",  "anchoring", "proving",  "confirming",
                                     "progressing", "completed", "reverting", "reverted",
                                     "halted",    "refused",   "held",      "open"};

static int message_list(PGconn *c, const char *status, const char *flow, const char *limit)
{
    const char *params[3] = {status, flow, limit};
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

    if (cli_check_rows("message", "message list", res) != MR_OK)
        return CLI_EXIT_FAIL;
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

/* The operator's name: --operator, else the login name. */
static void operator_name(const char *opt, char *out, size_t cap)
{
    const char *u = opt;
    struct passwd *pw;

    if (u == NULL || u[0] == '\0')
        u = getenv("SUDO_USER");
    if (u == NULL || u[0] == '\0')
        u = getenv("USER");
    if ((u == NULL || u[0] == '\0') && (pw = getpwuid(getuid())) != NULL)
        u = pw->pw_name;
    if (u != NULL && u[0] != '\0')
        snprintf(out, cap, "%s", u);
    else
        snprintf(out, cap, "uid %lu", (unsigned long)getuid());
}

/* Printable text of at most max bytes. */
static int plain_text(const char *s, size_t max)
{
    size_t n = strlen(s);

    if (n > max)
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return 0;
    return 1;
}

/* Rolls back, prints one line, returns CLI_EXIT_FAIL. */
static int fail_tx(PGconn *c, const char *fmt, ...) MR_PRINTF(2, 3);
static int fail_tx(PGconn *c, const char *fmt, ...)
{
    va_list ap;

    PQclear(PQexec(c, "ROLLBACK"));
    fprintf(stderr, "mosaic-relayer message: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return CLI_EXIT_FAIL;
}

/* release (hold = 0) or hold (hold = 1) in one transaction. */
static int message_decide(PGconn *c, const uint8_t mh[32], int hold, const char *reason,
                          const char *op)
{
    char hx[67], bt[67], who[65], args[128], dedup[80], detail[300];
    const char *p[4] = {bt, NULL, NULL, NULL};
    struct mr_error err;
    PGresult *res;
    char state[16];
    int started, target, rc;
    int64_t job = 0;

    hex_encode_data(mh, 32, hx, sizeof(hx));
    snprintf(bt, sizeof(bt), "\\x%s", hx + 2);
    operator_name(op, who, sizeof(who));
    if (db_exec(c, "BEGIN", &err) != MR_OK) {
        fprintf(stderr, "mosaic-relayer message: %s\n", err.msg);
        return CLI_EXIT_FAIL;
    }
    res = PQexecParams(c,
                       "SELECT m.state, m.relay_started_at IS NOT NULL OR EXISTS (SELECT 1 FROM "
                       DB_SCHEMA ".message_txs t WHERE t.message_hash = m.message_hash),"
                       " m.target_status, coalesce(m.held_reason, ''), coalesce(m.held_detail, '')"
                       " FROM " DB_SCHEMA ".messages m WHERE m.message_hash = $1::bytea"
                       " FOR UPDATE",
                       1, NULL, p, NULL, NULL, 0);
    if (db_check(res, PGRES_TUPLES_OK, "reading the message", &err) != MR_OK) {
        PQclear(res);
        return fail_tx(c, "%s", err.msg);
    }
    if (PQntuples(res) != 1) {
        PQclear(res);
        return fail_tx(c, "no message %s is recorded", hx);
    }
    snprintf(state, sizeof(state), "%s", PQgetvalue(res, 0, 0));
    started = PQgetvalue(res, 0, 1)[0] == 't';
    target = atoi(PQgetvalue(res, 0, 2));
    if (strcmp(state, "completed") == 0 || strcmp(state, "reverted") == 0) {
        rc = fail_tx(c, "message %s is already %s", hx, state);
        PQclear(res);
        return rc;
    }
    if (!hold && strcmp(state, "held") != 0) {
        rc = fail_tx(c, "message %s is not held (its state is %s)", hx, state);
        PQclear(res);
        return rc;
    }
    if (hold && strcmp(state, "held") == 0) {
        PQclear(res);
        return fail_tx(c, "message %s is already held", hx);
    }
    if (hold && (strcmp(state, "halted") == 0 || strcmp(state, "refused") == 0)) {
        rc = fail_tx(c, "message %s is %s: the relayer does not relay it anyway", hx, state);
        PQclear(res);
        return rc;
    }
    if (hold && (started || target != 0)) {
        PQclear(res);
        return fail_tx(c, "message %s cannot be held: its relaying has started (state %s)", hx,
                       state);
    }
    snprintf(detail, sizeof(detail), "%s: %s", PQgetvalue(res, 0, 3), PQgetvalue(res, 0, 4));
    PQclear(res);
    p[1] = who;
    p[2] = reason;
    if (hold) {
        res = PQexecParams(c,
                           "UPDATE " DB_SCHEMA ".messages SET state = 'held', held_reason ="
                           " 'operator', held_detail = 'held by ' || $2 || coalesce(': ' || $3, ''),"
                           " held_at = now(), updated_at = now() WHERE message_hash = $1::bytea",
                           3, NULL, p, NULL, NULL, 0);
    } else {
        res = PQexecParams(c,
                           "UPDATE " DB_SCHEMA ".messages SET state = 'declared', released_at ="
                           " now(), released_by = $2, release_note = $3, updated_at = now()"
                           " WHERE message_hash = $1::bytea",
                           3, NULL, p, NULL, NULL, 0);
    }
    rc = db_check(res, PGRES_COMMAND_OK, hold ? "holding the message" : "releasing the message",
                  &err);
    PQclear(res);
    if (rc == MR_OK && !hold) {
        /* The hold's alert is dealt with. */
        p[0] = hx;
        res = PQexecParams(c,
                           "UPDATE " DB_SCHEMA ".alerts SET acknowledged_at = now()"
                           " WHERE component = 'limits' AND subject = $1 AND acknowledged_at IS NULL",
                           1, NULL, p, NULL, NULL, 0);
        rc = db_check(res, PGRES_COMMAND_OK, "acknowledging the hold's alert", &err);
        PQclear(res);
    }
    if (rc == MR_OK && !hold) {
        struct queue_job_spec spec;
        memset(&spec, 0, sizeof(spec));
        snprintf(args, sizeof(args), "{\"message_hash\":\"%s\"}", hx);
        snprintf(dedup, sizeof(dedup), "msg:%s", hx);
        spec.kind = "msg";
        spec.args_json = args;
        spec.dedup_key = dedup;
        rc = queue_enqueue(c, &spec, &job, &err);
    }
    if (rc == MR_OK)
        rc = db_exec(c, "COMMIT", &err);
    if (rc != MR_OK)
        return fail_tx(c, "%s", err.msg);
    if (hold) {
        printf("held %s (by %s); `mosaic-relayer message release %s` lets it go on\n", hx, who,
               hx);
    } else {
        printf("released %s (by %s; it was held for %s)\n", hx, who, detail);
        if (job > 0)
            printf("its msg job %lld is queued: the relayer goes on with it now\n",
                   (long long)job);
        else
            printf("a msg job for it is already queued\n");
    }
    return CLI_EXIT_OK;
}

int cli_message(int argc, char **argv)
{
    static const struct option opts[] = {
        {"status", required_argument, NULL, 's'},
        {"flow", required_argument, NULL, 'f'},
        {"limit", required_argument, NULL, 'l'},
        {"reason", required_argument, NULL, 'r'},
        {"operator", required_argument, NULL, 'o'},
        {"database", required_argument, NULL, 'd'},
        {"config", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *status = NULL, *flow = NULL, *limit = "50", *database = NULL, *config = NULL;
    const char *reason = NULL, *op = NULL;
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
        case 'r': reason = optarg; break;
        case 'o': op = optarg; break;
        case 'd': database = optarg; break;
        case 'c': config = optarg; break;
        case 'h': message_usage(); return CLI_EXIT_OK;
        default:
            return cli_usage_error("message", "unknown or incomplete option '%s' (see --help)",
                                   argv[optind - 1]);
        }
    }
    if (optind >= argc)
        return cli_usage_error("message", "expected a subcommand: show, list, release or hold "
                               "(see --help)");
    if ((reason != NULL || op != NULL) && strcmp(argv[optind], "release") != 0 &&
        strcmp(argv[optind], "hold") != 0)
        return cli_usage_error("message", "--reason and --operator are for release and hold");
    if (strcmp(argv[optind], "release") == 0 || strcmp(argv[optind], "hold") == 0) {
        int hold = strcmp(argv[optind], "hold") == 0;
        if (argc - optind != 2)
            return cli_usage_error("message", "%s takes one message hash", argv[optind]);
        if (status != NULL || flow != NULL)
            return cli_usage_error("message", "--status and --flow are for list");
        if (cli_parse_hash(argv[optind + 1], mh, NULL) != MR_OK)
            return cli_usage_error("message", "'%s' is not a message hash (0x and 64 hex digits)",
                                   argv[optind + 1]);
        if (reason != NULL && !plain_text(reason, 200))
            return cli_usage_error("message", "--reason: at most 200 printable characters");
        if (op != NULL && (op[0] == '\0' || !plain_text(op, 64)))
            return cli_usage_error("message", "--operator: 1 to 64 printable characters");
        c = cli_db_connect("message", database, config);
        if (c == NULL)
            return CLI_EXIT_USAGE;
        rc = message_decide(c, mh, hold, reason, op);
        PQfinish(c);
        return rc;
    }
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
        return cli_usage_error("message", "unknown subcommand '%s' (show, list, release, hold)",
                               argv[optind]);
    }
    c = cli_db_open("message", database, config);
    if (c == NULL)
        return CLI_EXIT_USAGE;
    rc = strcmp(argv[optind], "show") == 0 ? message_show(c, mh)
                                           : message_list(c, status, flow, limit);
    PQfinish(c);
    return rc;
}
