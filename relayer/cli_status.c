/*
 * cli_status.c - `mosaic-relayer status`: one screen that tells an operator
 * whether all is well: chains and watcher lag, the queue, the message
 * pipeline and stuck messages, open alerts, signers (and their balances
 * when a config with endpoints is given), the last anchor per chain; then
 * the list of what needs attention; the conservation breakers.
 *
 * It reads only the views of mosaic_dash (0002, 0008) and pg_locks /
 * pg_stat_activity, so it works with the read-only role's credentials.
 */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chain/ethrpc.h"
#include "chain/rpc.h"
#include "db/db.h"
#include "eth/hex.h"
#include "eth/u256.h"
#include "relayer/cli.h"
#include "relayer/config.h"
#include "relayer/keyfile.h"
#include "watchers/watcher.h"

#define MAX_ISSUES 32
#define MAX_LISTED 10          /* stuck messages and alerts shown */

struct status {
    PGconn *db;
    const struct config *cfg;  /* NULL without --config */
    int64_t max_lag;
    char issues[MAX_ISSUES][200];
    int n_issues;              /* may exceed MAX_ISSUES: only counted then */
};

static void issue(struct status *st, const char *fmt, ...) MR_PRINTF(2, 3);
static void issue(struct status *st, const char *fmt, ...)
{
    va_list ap;

    if (st->n_issues < MAX_ISSUES) {
        va_start(ap, fmt);
        vsnprintf(st->issues[st->n_issues], sizeof st->issues[0], fmt, ap);
        va_end(ap);
    }
    st->n_issues++;
}

/* Runs a read; on failure prints why under the section, records an issue
 * and returns NULL. */
static PGresult *query(struct status *st, const char *section, const char *sql)
{
    PGresult *r = PQexec(st->db, sql);

    if (PQresultStatus(r) == PGRES_TUPLES_OK)
        return r;
    const char *msg = PQresultErrorMessage(r), *nl = strchr(msg, '\n');
    int len = nl ? (int)(nl - msg) : (int)strlen(msg);
    const char *code = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    if (code != NULL && strcmp(code, "42P01") == 0)   /* undefined_table */
        printf("  cannot read: %.*s (is the schema migrated? mosaic-relayer migrate)\n", len, msg);
    else
        printf("  cannot read: %.*s\n", len, msg);
    issue(st, "%s: cannot read the database", section);
    PQclear(r);
    return NULL;
}

/* A section of the report: its title, then the read (as query); `none`
 * is printed when the read found no rows.  NULL when it could not read. */
static PGresult *section(struct status *st, const char *title, const char *name,
                         const char *none, const char *sql)
{
    PGresult *r;

    printf("%s\n", title);
    r = query(st, name, sql);
    if (r != NULL && PQntuples(r) == 0)
        printf("  %s\n", none);
    return r;
}

static const char *v(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? "-" : PQgetvalue(r, row, col);
}

static int64_t n64(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? -1 : strtoll(PQgetvalue(r, row, col), NULL, 10);
}

/* "45s", "12m", "3h", "2d" (or "-" for a negative age). */
static const char *age(int64_t s, char buf[24])
{
    if (s < 0)
        snprintf(buf, 24, "-");
    else if (s < 120)
        snprintf(buf, 24, "%llds", (long long)s);
    else if (s < 7200)
        snprintf(buf, 24, "%lldm", (long long)(s / 60));
    else if (s < 172800)
        snprintf(buf, 24, "%lldh", (long long)(s / 3600));
    else
        snprintf(buf, 24, "%lldd", (long long)(s / 86400));
    return buf;
}

/* ---------------------------------------------------------------- chains -- */

/* The session holding chain's watcher lock ("host:pid"), or "none". */
static void watcher_holder(const PGresult *locks, const char *chain, char *out, size_t cap)
{
    int64_t key = watcher_lock_key(chain);

    snprintf(out, cap, "none");
    for (int i = 0; locks != NULL && i < PQntuples(locks); i++) {
        if (n64(locks, i, 0) == key) {
            const char *app = PQgetvalue(locks, i, 1);
            size_t n = strlen(WATCHER_APP_PREFIX);
            snprintf(out, cap, "%s", strncmp(app, WATCHER_APP_PREFIX, n) == 0 ? app + n : app);
            return;
        }
    }
}

static void show_chains(struct status *st)
{
    printf("Chains\n");
    PGresult *r = query(st, "chains",
                        "SELECT chain_key, role, chain_id, head_block, finalized_block,"
                        " cursor_block, lag_blocks, updated_seconds_ago"
                        " FROM mosaic_dash.chains ORDER BY role DESC, chain_key");
    if (r == NULL)
        return;
    /* Watcher lock holders: advisory locks on one bigint key are
     * (classid << 32 | objid, objsubid 1). */
    PGresult *locks = PQexec(st->db,
                             "SELECT (l.classid::bigint << 32) | l.objid::bigint, a.application_name"
                             " FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
                             " WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1");
    if (PQresultStatus(locks) != PGRES_TUPLES_OK) {
        PQclear(locks);
        locks = NULL;
    }
    if (PQntuples(r) == 0) {
        printf("  no chains registered\n");
        issue(st, "no chains registered (the daemon registers the config's chains at start)");
    } else
        printf("  %-12s %-9s %10s %10s %10s %10s %6s %8s  %s\n", "chain", "role", "chain id",
               "head", "finalized", "cursor", "lag", "updated", "watcher");
    for (int i = 0; i < PQntuples(r); i++) {
        const char *chain = PQgetvalue(r, i, 0);
        char holder[128], ago[24];
        int64_t lag = n64(r, i, 6);
        watcher_holder(locks, chain, holder, sizeof holder);
        printf("  %-12s %-9s %10s %10s %10s %10s %6s %8s  %s\n", chain, v(r, i, 1), v(r, i, 2),
               v(r, i, 3), v(r, i, 4), v(r, i, 5), v(r, i, 6), age(n64(r, i, 7), ago), holder);
        if (PQgetisnull(r, i, 5))
            issue(st, "chain %s: its watcher has not stored a block yet", chain);
        else if (lag > st->max_lag)
            issue(st, "chain %s: the watcher is %lld blocks behind the finalized head (more than %lld)",
                  chain, (long long)lag, (long long)st->max_lag);
        if (locks != NULL && strcmp(holder, "none") == 0)
            issue(st, "chain %s: no watcher holds its lock (is `mosaic-relayer run` up?)", chain);
    }
    PQclear(locks);
    PQclear(r);
}

/* ----------------------------------------------------------------- queue -- */

static void show_queue(struct status *st)
{
    PGresult *r = section(st, "Queue", "queue", "empty",
                          "SELECT kind, state, jobs FROM mosaic_dash.queue_depth"
                          " WHERE state NOT IN ('completed', 'cancelled') ORDER BY kind, state");
    if (r == NULL)
        return;
    for (int i = 0; i < PQntuples(r); i++) {
        int first = i == 0 || strcmp(PQgetvalue(r, i, 0), PQgetvalue(r, i - 1, 0)) != 0;
        int last = i + 1 == PQntuples(r) || strcmp(PQgetvalue(r, i, 0), PQgetvalue(r, i + 1, 0)) != 0;
        if (first)
            printf("  %-12s", PQgetvalue(r, i, 0));
        printf("%s%s %s", first ? " " : ", ", PQgetvalue(r, i, 1), PQgetvalue(r, i, 2));
        if (last)
            printf("\n");
    }
    PQclear(r);
    r = query(st, "queue", "SELECT kind, why, jobs FROM mosaic_dash.stuck_jobs_by_reason"
                           " ORDER BY kind, why");
    if (r == NULL)
        return;
    for (int i = 0; i < PQntuples(r); i++) {
        printf("  stuck: %s %s: %s\n", PQgetvalue(r, i, 0), v(r, i, 1), PQgetvalue(r, i, 2));
        issue(st, "%s %s job(s) %s (mosaic-relayer jobs list)", PQgetvalue(r, i, 2),
              PQgetvalue(r, i, 0), v(r, i, 1));
    }
    PQclear(r);
}

/* -------------------------------------------------------------- messages -- */

static void show_flows(struct status *st)
{
    PGresult *r = query(st, "messages",
                        "SELECT f.flow,"
                        " coalesce((SELECT sum(messages) FROM mosaic_dash.pipeline_open o"
                        "  WHERE o.flow = f.flow), 0),"
                        " coalesce((SELECT string_agg(state || ' ' || messages, ', ' ORDER BY state)"
                        "  FROM mosaic_dash.pipeline_open o WHERE o.flow = f.flow), ''),"
                        " (SELECT max(oldest_age_seconds) FROM mosaic_dash.pipeline_open o"
                        "  WHERE o.flow = f.flow),"
                        " coalesce((SELECT sum(messages) FROM mosaic_dash.message_pipeline p"
                        "  WHERE p.flow = f.flow AND p.state = 'completed'), 0),"
                        " coalesce((SELECT sum(messages) FROM mosaic_dash.message_pipeline p"
                        "  WHERE p.flow = f.flow AND p.state = 'reverted'), 0),"
                        " coalesce((SELECT sum(messages) FROM mosaic_dash.message_pipeline p"
                        "  WHERE p.flow = f.flow AND p.state = 'refused'), 0)"
                        " FROM (VALUES ('stake'), ('redeem')) f(flow)");
    if (r == NULL)
        return;
    for (int i = 0; i < PQntuples(r); i++) {
        char ago[24];
        printf("  %-12s open %s", PQgetvalue(r, i, 0), PQgetvalue(r, i, 1));
        if (PQgetvalue(r, i, 2)[0])
            printf(" (%s), oldest %s", PQgetvalue(r, i, 2), age(n64(r, i, 3), ago));
        printf("; completed %s, reverted %s, refused %s\n", PQgetvalue(r, i, 4),
               PQgetvalue(r, i, 5), PQgetvalue(r, i, 6));
    }
    PQclear(r);
}

static void show_stuck(struct status *st)
{
    PGresult *r = query(st, "messages",
                        "SELECT message_hash, flow, state, open_seconds, idle_seconds, job_id,"
                        " job_state, job_attempt, left(job_last_error, 80), halted_reason,"
                        " count(*) OVER ()"
                        " FROM mosaic_dash.stuck_messages ORDER BY open_seconds DESC LIMIT 10");
    if (r == NULL)
        return;
    int64_t total = PQntuples(r) ? n64(r, 0, 10) : 0;
    printf("  stuck (open over 10 minutes): %lld\n", (long long)total);
    for (int i = 0; i < PQntuples(r); i++) {
        char a1[24], a2[24];
        printf("    %s %s %s, open %s, idle %s", PQgetvalue(r, i, 0), PQgetvalue(r, i, 1),
               PQgetvalue(r, i, 2), age(n64(r, i, 3), a1), age(n64(r, i, 4), a2));
        if (!PQgetisnull(r, i, 9))
            printf(": %s", PQgetvalue(r, i, 9));
        if (!PQgetisnull(r, i, 5))
            printf("; job %s %s, attempt %s%s%s", PQgetvalue(r, i, 5), v(r, i, 6), v(r, i, 7),
                   PQgetisnull(r, i, 8) ? "" : ": ", PQgetisnull(r, i, 8) ? "" : PQgetvalue(r, i, 8));
        else
            printf("; no live job");
        printf("\n");
    }
    if (total > MAX_LISTED)
        printf("    ... and %lld more (SELECT * FROM mosaic_dash.stuck_messages)\n",
               (long long)(total - MAX_LISTED));
    if (total > 0)
        issue(st, "%lld message(s) open for over 10 minutes", (long long)total);
    PQclear(r);
}

/* Messages held by the value limits (0010_limits.sql), per pair, and the
 * value each pair started in the trailing hour. */
static void show_held(struct status *st)
{
    PGresult *r = query(st, "messages",
                        "SELECT gateway_pair, held_messages, held_value::text,"
                        " extract(epoch FROM now() - oldest_held_at)::bigint,"
                        " started_last_hour, value_last_hour::text"
                        " FROM mosaic_dash.limits ORDER BY gateway_pair");
    if (r == NULL)
        return;
    int64_t held = 0;
    for (int i = 0; i < PQntuples(r); i++) {
        char ago[24];
        int64_t n = n64(r, i, 1);
        printf("  pair %-12s", PQgetvalue(r, i, 0));
        if (n > 0)
            printf(" held %lld (value %s wei, oldest %s)", (long long)n, PQgetvalue(r, i, 2),
                   age(n64(r, i, 3), ago));
        else
            printf(" held 0");
        printf("; started in the last hour %s (value %s wei)\n", PQgetvalue(r, i, 4),
               PQgetvalue(r, i, 5));
        held += n > 0 ? n : 0;
    }
    if (held > 0)
        issue(st, "%lld message(s) held by the relayer's limits (mosaic-relayer message list "
              "--status held; message release HASH)", (long long)held);
    PQclear(r);
}

static void show_messages(struct status *st)
{
    printf("Messages\n");
    show_flows(st);
    show_held(st);
    show_stuck(st);
}

/* ---------------------------------------------------------------- alerts -- */

static void show_alerts(struct status *st)
{
    PGresult *r = section(st, "Alerts", "alerts", "none open",
                          "SELECT severity, component, coalesce(subject, ''), left(message, 160),"
                          " age_seconds, count(*) OVER () FROM mosaic_dash.open_alerts"
                          " ORDER BY CASE severity WHEN 'critical' THEN 0 WHEN 'warning' THEN 1"
                          " ELSE 2 END, raised_at DESC LIMIT 10");
    if (r == NULL)
        return;
    int64_t serious = 0;
    for (int i = 0; i < PQntuples(r); i++) {
        char ago[24];
        const char *subj = PQgetvalue(r, i, 2);
        printf("  %-8s %s%s%s: %s (%s ago)\n", PQgetvalue(r, i, 0), PQgetvalue(r, i, 1),
               subj[0] ? " " : "", subj, PQgetvalue(r, i, 3), age(n64(r, i, 4), ago));
        serious += strcmp(PQgetvalue(r, i, 0), "info") != 0;
    }
    if (PQntuples(r) && n64(r, 0, 5) > MAX_LISTED)
        printf("  ... and %lld more (SELECT * FROM mosaic_dash.open_alerts)\n",
               (long long)(n64(r, 0, 5) - MAX_LISTED));
    if (serious > 0)
        issue(st, "open alerts: the newest are listed above");
    PQclear(r);
}

/* --------------------------------------------------------------- signers -- */

/* wei -> "1234.567891" ether (six decimals, cut). */
static void ether(const struct u256 *wei, char *out, size_t cap)
{
    char dec[96];
    size_t n = u256_to_dec(wei, dec, sizeof dec);

    if (n <= 18) {
        char frac[19];
        memset(frac, '0', 18);
        memcpy(frac + 18 - n, dec, n);
        snprintf(out, cap, "0.%.6s", frac);
    } else
        snprintf(out, cap, "%.*s.%.6s", (int)(n - 18), dec, dec + n - 18);
}

struct addrs {
    uint8_t a[CONFIG_MAX_KEYS + 64][20];
    char label[CONFIG_MAX_KEYS + 64][CONFIG_KEY_LEN];
    size_t n;
};

static void add_addr(struct addrs *as, const uint8_t a[20], const char *label)
{
    for (size_t i = 0; i < as->n; i++)
        if (memcmp(as->a[i], a, 20) == 0)
            return;
    if (as->n < sizeof as->a / sizeof as->a[0]) {
        memcpy(as->a[as->n], a, 20);
        snprintf(as->label[as->n], CONFIG_KEY_LEN, "%s", label);
        as->n++;
    }
}

static void show_balances(struct status *st, const PGresult *signers)
{
    const struct config *c = st->cfg;

    for (size_t ci = 0; ci < c->n_chains; ci++) {
        const struct config_chain *ch = &c->chains[ci];
        struct addrs as;
        struct mr_error err;
        struct rpc_endpoints *e = NULL;
        const char *urls[CONFIG_MAX_ENDPOINTS];
        struct rpc_opts o;

        as.n = 0;
        for (size_t k = 0; k < c->n_keys; k++) {
            struct keyfile kf;
            if (keyfile_load(c->keys[k].keystore, &kf, &err) == MR_OK && kf.has_address)
                add_addr(&as, kf.address, c->keys[k].name);
        }
        for (int i = 0; signers != NULL && i < PQntuples(signers); i++) {
            uint8_t a[20];
            const char *s = PQgetvalue(signers, i, 1);
            if (strcmp(PQgetvalue(signers, i, 0), ch->key) == 0 &&
                hex_decode_fixed(s, strlen(s), a, 20, NULL) == MR_OK)
                add_addr(&as, a, "signer");
        }
        for (size_t i = 0; i < ch->n_endpoints; i++)
            urls[i] = ch->endpoints[i];
        rpc_opts_default(&o);
        o.connect_timeout_ms = 3000;
        o.timeout_ms = 10000;
        if (rpc_endpoints_new(urls, ch->n_endpoints, ch->chain_id, &o, &e, &err) != MR_OK) {
            printf("  balances on %s: %s\n", ch->key, err.msg);
            issue(st, "chain %s: balances unknown", ch->key);
            continue;
        }
        for (size_t i = 0; i < as.n; i++) {
            struct u256 wei;
            char text[ADDRESS_TEXT_SIZE], eth[128];
            address_to_checksum(as.a[i], text);
            if (ethrpc_get_balance(e, as.a[i], "latest", &wei, NULL, &err) != MR_OK) {
                printf("  balance  %-12s %s (%s): %s\n", ch->key, text, as.label[i], err.msg);
                issue(st, "chain %s: the balance of %s is unknown", ch->key, text);
                continue;
            }
            ether(&wei, eth, sizeof eth);
            printf("  balance  %-12s %s (%s): %s ETH\n", ch->key, text, as.label[i], eth);
            if (u256_is_zero(&wei))
                issue(st, "chain %s: %s (%s) has no funds", ch->key, text, as.label[i]);
        }
        rpc_endpoints_free(e);
    }
}

static void show_signers(struct status *st)
{
    PGresult *r = section(st, "Signers", "signers", "no key has sent yet",
                          "SELECT chain_key, sender, next_nonce, open_transactions,"
                          " lowest_unmined_nonce, halted_reason FROM mosaic_dash.signers"
                          " ORDER BY chain_key, sender");
    if (r != NULL) {
        for (int i = 0; i < PQntuples(r); i++) {
            printf("  %-12s %s next nonce %s, %s open", PQgetvalue(r, i, 0), PQgetvalue(r, i, 1),
                   PQgetvalue(r, i, 2), PQgetvalue(r, i, 3));
            if (!PQgetisnull(r, i, 4))
                printf(", lowest unmined %s", PQgetvalue(r, i, 4));
            if (!PQgetisnull(r, i, 5)) {
                printf("; HALTED: %s", PQgetvalue(r, i, 5));
                issue(st, "chain %s: sending from %s is halted", PQgetvalue(r, i, 0),
                      PQgetvalue(r, i, 1));
            }
            printf("\n");
        }
    }
    if (st->cfg != NULL)
        show_balances(st, r);
    PQclear(r);
}

/* --------------------------------------------------------------- anchors -- */

static void show_anchors(struct status *st)
{
    PGresult *r = section(st, "Anchors", "anchors", "no state root anchored yet",
                          "SELECT chain_key, remote_chain, anchored_height, blocks_behind,"
                          " age_seconds FROM mosaic_dash.anchor_age ORDER BY chain_key,"
                          " remote_chain");
    if (r == NULL)
        return;
    int64_t limit = st->cfg && st->cfg->relayer.anchor_enabled
                        ? 3 * st->cfg->relayer.anchor_max_interval_ms / 1000 : -1;
    for (int i = 0; i < PQntuples(r); i++) {
        char ago[24];
        printf("  %-12s <- %-12s height %s (%s blocks behind), %s ago\n", PQgetvalue(r, i, 0),
               PQgetvalue(r, i, 1), PQgetvalue(r, i, 2), v(r, i, 3), age(n64(r, i, 4), ago));
        if (limit > 0 && n64(r, i, 4) > limit)
            issue(st, "chain %s: no state root of %s anchored for %s (anchor.max_interval is %llds)",
                  PQgetvalue(r, i, 0), PQgetvalue(r, i, 1), age(n64(r, i, 4), ago),
                  (long long)(st->cfg->relayer.anchor_max_interval_ms / 1000));
    }
    PQclear(r);
}

/* -------------------------------------------------------------- breakers -- */

/* The conservation breakers (0012): a tripped one stops its pair. */
static void show_breakers(struct status *st)
{
    PGresult *r = section(st, "Conservation", "conservation", "no pair checked yet",
                          "SELECT gateway_pair, tripped::int, coalesce(circulating::text, '-'),"
                          " coalesce(backing::text, '-'), coalesce(aux_block::text, '-'),"
                          " coalesce(origin_block::text, '-'), checked_age_seconds,"
                          " coalesce(last_error, '')"
                          " FROM mosaic_dash.breakers ORDER BY gateway_pair");
    if (r == NULL)
        return;
    for (int i = 0; i < PQntuples(r); i++) {
        char ago[24];
        int tripped = n64(r, i, 1) == 1;
        printf("  %-12s %s: circulating %s (aux block %s) vs backing %s (origin block %s), %s ago\n",
               PQgetvalue(r, i, 0), tripped ? "TRIPPED" : "ok", PQgetvalue(r, i, 2),
               PQgetvalue(r, i, 4), PQgetvalue(r, i, 3), PQgetvalue(r, i, 5),
               age(n64(r, i, 6), ago));
        if (PQgetvalue(r, i, 7)[0] != '\0')
            printf("  %-12s last check failed: %.150s\n", "", PQgetvalue(r, i, 7));
        if (tripped)
            issue(st, "pair %s: the conservation breaker is tripped, relaying stopped (mosaic-relayer "
                  "breaker status; reset after investigating)", PQgetvalue(r, i, 0));
    }
    PQclear(r);
}

/* ------------------------------------------------------------------ main -- */

static void status_usage(void)
{
    printf("usage: mosaic-relayer status [--config FILE | --database CONNINFO] [--max-lag N]\n"
           "\n"
           "One screen that tells whether all is well: each chain's head, finalized head,\n"
           "watcher cursor, lag and the watcher instance holding it; the job queue and stuck\n"
           "jobs; messages by flow and state and those open for over 10 minutes; open alerts;\n"
           "signers' next nonces (and, with --config, the balances of the config's keys and\n"
           "signers on every chain, asked of the chain's endpoints); the last state root\n"
           "anchored per chain. It ends with what needs attention, or \"All is well.\"\n"
           "\n"
           "It reads only the dashboard views (schema mosaic_dash), so the read-only role's\n"
           "credentials are enough.\n"
           "\n"
           "  --config FILE        the relayer's config: its database, endpoints and keys\n"
           "  --database CONNINFO  a libpq URI or key=value string (else the config's\n"
           "                       database; else $MOSAIC_DATABASE_URL; else PG* variables)\n"
           "  --max-lag N          a watcher more than N blocks behind its chain's finalized\n"
           "                       head needs attention (default 100)\n"
           "\n"
           "Exit status: 0 all is well, 1 something needs attention (listed at the end),\n"
           "2 bad usage, a config that does not load, or no database.\n");
}

static int status_run(struct status *st)
{
    char where[256], now[64];
    time_t t = time(NULL);
    struct tm tm;

    db_describe(st->db, where, sizeof where);
    gmtime_r(&t, &tm);
    strftime(now, sizeof now, "%Y-%m-%d %H:%M:%S UTC", &tm);
    printf("mosaic-relayer status: %s, %s\n\n", where, now);
    show_chains(st);
    show_queue(st);
    show_messages(st);
    show_alerts(st);
    show_signers(st);
    show_anchors(st);
    show_breakers(st);
    printf("\n");
    if (st->n_issues == 0) {
        printf("All is well.\n");
        return CLI_EXIT_OK;
    }
    printf("Attention (%d):\n", st->n_issues);
    for (int i = 0; i < st->n_issues && i < MAX_ISSUES; i++)
        printf("  - %s\n", st->issues[i]);
    if (st->n_issues > MAX_ISSUES)
        printf("  - ... and %d more\n", st->n_issues - MAX_ISSUES);
    return CLI_EXIT_FAIL;
}

int cli_status(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"database", required_argument, NULL, 'd'},
        {"max-lag", required_argument, NULL, 'l'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *config = NULL, *database = NULL, *source;
    struct config *cfg = NULL;
    struct mr_error err;
    struct status *st;
    int ch, rc;
    int64_t max_lag = 100;
    char *end;

    optind = 1;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (ch) {
        case 'c': config = optarg; break;
        case 'd': database = optarg; break;
        case 'l':
            max_lag = strtoll(optarg, &end, 10);
            if (*optarg == '\0' || *end != '\0' || max_lag < 0)
                return cli_usage_error("status", "--max-lag: expected a number of blocks, not '%s'",
                                       optarg);
            break;
        case 'h': status_usage(); return CLI_EXIT_OK;
        default:
            return cli_usage_error("status", "unknown or incomplete option '%s' (see --help)",
                                   argv[optind - 1]);
        }
    }
    if (optind < argc)
        return cli_usage_error("status", "unexpected argument '%s'", argv[optind]);
    if (config != NULL && config_load(config, &cfg, &err) != MR_OK)
        return cli_usage_error("status", "%s", err.msg);

    struct db_session_opts so = {"mosaic-relayer status", 15000, 0};
    const char *conninfo = db_resolve_conninfo(database, cfg ? cfg->database_url : NULL, &source);
    PGconn *db = db_connect(conninfo, &so, &err);
    if (db == NULL) {
        config_free(cfg);
        return cli_usage_error("status", "%s (from %s)", err.msg, source);
    }
    st = calloc(1, sizeof *st);
    if (st == NULL) {
        PQfinish(db);
        config_free(cfg);
        return cli_usage_error("status", "out of memory");
    }
    st->db = db;
    st->cfg = cfg;
    st->max_lag = max_lag;
    rc = status_run(st);
    free(st);
    PQfinish(db);
    config_free(cfg);
    return rc;
}
