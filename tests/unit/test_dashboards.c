/*
 * test_dashboards.c - the dashboard views (mosaic_dash) and the read-only
 * role: as a login member of mosaic_readonly, every view can be read and
 * shows what the tables hold; every table of mosaic, the secrets first, is
 * refused with "permission denied".
 */
#include "tests/lib/testlib.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "relayer/metrics.h"

static void exec(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);

    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQerrorMessage(c));
    PQclear(r);
}

/* The single text value of a query (malloc'd; "" for NULL). */
static char *text1(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);

    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1 || PQnfields(r) != 1)
        fail_msg("%s: %s (%d rows)", sql, PQerrorMessage(c), PQntuples(r));
    char *s = strdup(PQgetvalue(r, 0, 0));
    PQclear(r);
    return s;
}

static const char FIXTURE[] =
    "INSERT INTO mosaic.chains (chain_key, chain_id, role, cursor_block, cursor_hash, head_block,"
    " finalized_block) VALUES ('origin', 31337, 'origin', 90, decode(repeat('00', 32), 'hex'), 100, 98),"
    " ('aux', 1405, 'auxiliary', 40, decode(repeat('01', 32), 'hex'), 50, 48);"
    "INSERT INTO mosaic.messages (message_hash, flow, gateway_pair, source_chain, target_chain,"
    " intent_hash, sender, nonce, beneficiary, amount, gas_price, gas_limit, hashlock, declared_block,"
    " created_at, updated_at)"
    " SELECT decode(lpad(to_hex(g), 64, '0'), 'hex'), 'stake', 'p', 'origin', 'aux',"
    " decode(repeat('22', 32), 'hex'), decode(repeat('33', 20), 'hex'), g,"
    " decode(repeat('44', 20), 'hex'), 10 * g, 1, 1, decode(repeat('55', 32), 'hex'), 5,"
    " now() - g * interval '6 minutes', now() - g * interval '6 minutes'"
    " FROM generate_series(1, 4) g;"
    "UPDATE mosaic.messages SET state = 'completed', completed_at = now() WHERE nonce = 4;"
    "UPDATE mosaic.messages SET state = 'halted', halted_reason = 'root mismatch' WHERE nonce = 3;"
    "INSERT INTO mosaic.unlock_secrets (message_hash, hashlock, secret)"
    " SELECT message_hash, hashlock, decode(repeat('99', 32), 'hex') FROM mosaic.messages;"
    "INSERT INTO mosaic.pending_secrets (hashlock, secret)"
    " VALUES (decode(repeat('98', 32), 'hex'), decode(repeat('97', 32), 'hex'));"
    "INSERT INTO mosaic.jobs (kind, args, dedup_key, attempt, last_error)"
    " VALUES ('msg', jsonb_build_object('message_hash', '0x' || lpad(to_hex(2), 64, '0')),"
    " 'msg:2', 0, 'node said no');"
    "INSERT INTO mosaic.jobs (kind, state, attempt, max_attempts, finished_at, last_error)"
    " VALUES ('anchor', 'failed', 3, 3, now(), 'x'),"
    " ('anchor', 'retryable', 6, 20, NULL, 'y');"
    "INSERT INTO mosaic.transactions (chain_key, sender, nonce, purpose, to_address, calldata,"
    " gas_limit, state, included_block, receipt_status, gas_used) VALUES"
    " ('aux', decode(repeat('33', 20), 'hex'), 0, 'confirmStakeIntent',"
    "  decode(repeat('66', 20), 'hex'), '\\x00', 21000, 'final', 45, 1, 50000),"
    " ('aux', decode(repeat('33', 20), 'hex'), 1, 'progressMint',"
    "  decode(repeat('66', 20), 'hex'), '\\x00', 21000, 'broadcast', NULL, NULL, NULL);"
    "INSERT INTO mosaic.anchors (chain_key, remote_chain, block_height, state_root, observed_at)"
    " VALUES ('aux', 'origin', 95, decode(repeat('77', 32), 'hex'), now() - interval '30 seconds'),"
    " ('aux', 'origin', 80, decode(repeat('78', 32), 'hex'), now() - interval '1 hour');"
    "INSERT INTO mosaic.signer_nonces (chain_key, sender, next_nonce)"
    " VALUES ('aux', decode(repeat('33', 20), 'hex'), 2);"
    "INSERT INTO mosaic.alerts (severity, component, message) VALUES ('critical', 'txm', 'x'),"
    " ('warning', 'watcher', 'y');"
    "UPDATE mosaic.alerts SET acknowledged_at = now() WHERE severity = 'warning';";

struct fx {
    PGconn *admin, *ro;
    char *conninfo;
    char role[64];
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    char sql[256], ci[1024];

    assert_non_null(f);
    *state = f;
    if (tv_pg_base() == NULL)
        return 0;
    f->admin = tv_pg_migrated(&f->conninfo);
    exec(f->admin, FIXTURE);
    snprintf(f->role, sizeof f->role, "mr_ro_%d", (int)getpid());
    snprintf(sql, sizeof sql, "DROP ROLE IF EXISTS %s; CREATE ROLE %s LOGIN IN ROLE mosaic_readonly",
             f->role, f->role);
    exec(f->admin, sql);
    snprintf(ci, sizeof ci, "%s user=%s", f->conninfo, f->role);
    f->ro = PQconnectdb(ci);
    if (PQstatus(f->ro) != CONNECTION_OK)
        fail_msg("connect as %s: %s", f->role, PQerrorMessage(f->ro));
    assert_string_equal(PQuser(f->ro), f->role);
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    char sql[128];

    if (f->ro)
        PQfinish(f->ro);
    if (f->admin) {
        snprintf(sql, sizeof sql, "DROP ROLE IF EXISTS %s", f->role);
        exec(f->admin, sql);
        PQfinish(f->admin);
    }
    free(f->conninfo);
    free(f);
    return 0;
}

/* Every relation of a schema with its kind, as "name:kind" lines. */
static PGresult *relations(PGconn *c, const char *schema)
{
    char sql[512];

    snprintf(sql, sizeof sql,
             "SELECT c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
             " WHERE n.nspname = '%s' AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')"
             " ORDER BY 1", schema);
    PGresult *r = PQexec(c, sql);
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    return r;
}

static void test_views_readable(void **state)
{
    struct fx *f = *state;
    char sql[256];

    TV_REQUIRE_PG();
    PGresult *r = relations(f->admin, "mosaic_dash");
    int views = 0;
    for (int i = 0; i < PQntuples(r); i++) {
        const char *name = PQgetvalue(r, i, 0);
        /* the schema holds views only */
        if (strcmp(PQgetvalue(r, i, 1), "v") != 0)
            fail_msg("mosaic_dash.%s is not a view (relkind %s)", name, PQgetvalue(r, i, 1));
        snprintf(sql, sizeof sql, "SELECT count(*) FROM mosaic_dash.%s", name);
        PGresult *q = PQexec(f->ro, sql);
        if (PQresultStatus(q) != PGRES_TUPLES_OK)
            fail_msg("read-only role cannot read mosaic_dash.%s: %s", name, PQerrorMessage(f->ro));
        PQclear(q);
        views++;
    }
    PQclear(r);
    assert_true(views >= 16);   /* 6 of 0002 and 10 of 0008, at least */
}

static void test_tables_refused(void **state)
{
    struct fx *f = *state;
    char sql[256];

    TV_REQUIRE_PG();
    static const char *const secrets[] = {"unlock_secrets", "pending_secrets"};
    for (size_t i = 0; i < 2; i++) {
        snprintf(sql, sizeof sql, "SELECT * FROM mosaic.%s", secrets[i]);
        PGresult *q = PQexec(f->ro, sql);
        assert_int_equal(PQresultStatus(q), PGRES_FATAL_ERROR);
        assert_string_equal(PQresultErrorField(q, PG_DIAG_SQLSTATE), "42501");
        assert_non_null(strstr(PQresultErrorMessage(q), "permission denied"));
        PQclear(q);
    }
    PGresult *r = relations(f->admin, "mosaic");
    int tables = 0;
    for (int i = 0; i < PQntuples(r); i++) {
        const char *name = PQgetvalue(r, i, 0);
        snprintf(sql, sizeof sql, "SELECT 1 FROM mosaic.%s LIMIT 1", name);
        PGresult *q = PQexec(f->ro, sql);
        if (PQresultStatus(q) != PGRES_FATAL_ERROR ||
            strcmp(PQresultErrorField(q, PG_DIAG_SQLSTATE), "42501") != 0)
            fail_msg("read-only role was not refused mosaic.%s (%s)", name, PQerrorMessage(f->ro));
        PQclear(q);
        tables++;
    }
    PQclear(r);
    assert_true(tables >= 14);
    /* and not through a search_path or a function either: the secrets are
     * referenced by no view */
    assert_int_equal(tv_pg_int64(f->admin,
                                 "SELECT count(*) FROM pg_depend d JOIN pg_rewrite w ON w.oid = d.objid"
                                 " JOIN pg_class v ON v.oid = w.ev_class"
                                 " JOIN pg_namespace n ON n.oid = v.relnamespace"
                                 " WHERE n.nspname = 'mosaic_dash' AND d.refobjid IN"
                                 " ('mosaic.unlock_secrets'::regclass, 'mosaic.pending_secrets'::regclass)"),
                     0);
    /* no view shows a secret's bytes in any column */
    r = relations(f->admin, "mosaic_dash");
    for (int i = 0; i < PQntuples(r); i++) {
        snprintf(sql, sizeof sql, "SELECT count(*) FROM mosaic_dash.%s t WHERE t::text ~ '9999999999'",
                 PQgetvalue(r, i, 0));
        assert_int_equal(tv_pg_int64(f->ro, sql), 0);
    }
    PQclear(r);
}

static void test_view_contents(void **state)
{
    struct fx *f = *state;
    char *s;

    TV_REQUIRE_PG();
    /* open: messages 1..3 (3 halted); 4 completed */
    assert_int_equal(tv_pg_int64(f->ro, "SELECT sum(messages) FROM mosaic_dash.pipeline_open"), 3);
    assert_int_equal(tv_pg_int64(f->ro, "SELECT messages FROM mosaic_dash.pipeline_open"
                                        " WHERE state = 'halted'"), 1);
    s = text1(f->ro, "SELECT message_hash FROM mosaic_dash.oldest_open_message WHERE flow = 'stake'");
    assert_string_equal(s, "0x0000000000000000000000000000000000000000000000000000000000000003");
    free(s);
    assert_true(tv_pg_int64(f->ro, "SELECT age_seconds FROM mosaic_dash.oldest_open_message") >= 17 * 60);

    /* stuck: open for over 10 minutes = nonces 2 and 3; 2 has its job */
    assert_int_equal(tv_pg_int64(f->ro, "SELECT count(*) FROM mosaic_dash.stuck_messages"), 2);
    s = text1(f->ro, "SELECT job_last_error FROM mosaic_dash.stuck_messages WHERE message_hash ="
                     " '0x0000000000000000000000000000000000000000000000000000000000000002'");
    assert_string_equal(s, "node said no");
    free(s);
    s = text1(f->ro, "SELECT halted_reason FROM mosaic_dash.stuck_messages WHERE state = 'halted'");
    assert_string_equal(s, "root mismatch");
    free(s);

    assert_int_equal(tv_pg_int64(f->ro, "SELECT jobs FROM mosaic_dash.stuck_jobs_by_reason"
                                        " WHERE kind = 'anchor' AND why = 'dead-lettered'"), 1);
    assert_int_equal(tv_pg_int64(f->ro, "SELECT jobs FROM mosaic_dash.stuck_jobs_by_reason"
                                        " WHERE kind = 'anchor' AND why = 'retrying repeatedly'"), 1);

    assert_int_equal(tv_pg_int64(f->ro, "SELECT sum(declared) FROM mosaic_dash.pipeline_hourly"), 4);
    assert_int_equal(tv_pg_int64(f->ro, "SELECT sum(completed) FROM mosaic_dash.pipeline_hourly"), 1);
    assert_int_equal(tv_pg_int64(f->ro, "SELECT sum(final) FROM mosaic_dash.transactions_hourly"), 1);
    assert_int_equal(tv_pg_int64(f->ro, "SELECT sum(gas_used) FROM mosaic_dash.transactions_hourly"),
                     50000);

    assert_int_equal(tv_pg_int64(f->ro, "SELECT lag_blocks FROM mosaic_dash.chains"
                                        " WHERE chain_key = 'origin'"), 8);
    assert_int_equal(tv_pg_int64(f->ro, "SELECT anchored_height FROM mosaic_dash.anchor_age"), 95);
    assert_int_equal(tv_pg_int64(f->ro, "SELECT blocks_behind FROM mosaic_dash.anchor_age"), 3);
    int64_t age = tv_pg_int64(f->ro, "SELECT age_seconds FROM mosaic_dash.anchor_age");
    assert_true(age >= 30 && age < 3000);

    assert_int_equal(tv_pg_int64(f->ro, "SELECT next_nonce FROM mosaic_dash.signers"), 2);
    assert_int_equal(tv_pg_int64(f->ro, "SELECT open_transactions FROM mosaic_dash.signers"), 1);
    assert_int_equal(tv_pg_int64(f->ro, "SELECT lowest_unmined_nonce FROM mosaic_dash.signers"), 1);
    s = text1(f->ro, "SELECT sender FROM mosaic_dash.signers");
    assert_string_equal(s, "0x3333333333333333333333333333333333333333");
    free(s);

    assert_int_equal(tv_pg_int64(f->ro, "SELECT count(*) FROM mosaic_dash.open_alerts"), 1);
}

/* Is `name` a metric we export (a histogram's _bucket/_sum/_count too)? */
static int known_metric(const char *name, size_t len)
{
    static const char *const suffixes[] = {"", "_bucket", "_sum", "_count"};

    for (int id = 0; id < MX__COUNT; id++) {
        const char *m = metric_name((enum metric_id)id);
        size_t ml = strlen(m);
        for (size_t k = 0; k < 4; k++)
            if (len == ml + strlen(suffixes[k]) && strncmp(name, m, ml) == 0 &&
                strncmp(name + ml, suffixes[k], len - ml) == 0)
                return 1;
    }
    return 0;
}

/* deploy/grafana-dashboard.json: every SQL query runs as the read-only
 * role, every metric its PromQL names is one we export. */
static void test_grafana_dashboard(void **state)
{
    struct fx *f = *state;
    json_error_t je;
    size_t i, k, queries = 0, exprs = 0;
    json_t *panel, *target;

    TV_REQUIRE_PG();
    json_t *d = json_load_file("deploy/grafana-dashboard.json", JSON_REJECT_DUPLICATES, &je);
    if (d == NULL)
        fail_msg("deploy/grafana-dashboard.json:%d: %s", je.line, je.text);
    json_array_foreach(json_object_get(d, "panels"), i, panel) {
        json_array_foreach(json_object_get(panel, "targets"), k, target) {
            const char *sql = json_string_value(json_object_get(target, "rawSql"));
            const char *expr = json_string_value(json_object_get(target, "expr"));
            if (sql != NULL) {
                PGresult *q = PQexec(f->ro, sql);
                if (PQresultStatus(q) != PGRES_TUPLES_OK)
                    fail_msg("panel %s: %s: %s",
                             json_string_value(json_object_get(panel, "title")), sql,
                             PQerrorMessage(f->ro));
                PQclear(q);
                queries++;
            }
            for (const char *p = expr; p != NULL && (p = strstr(p, "mosaic_")) != NULL;) {
                size_t n = strspn(p, "abcdefghijklmnopqrstuvwxyz_");
                if (!known_metric(p, n))
                    fail_msg("panel %s: unknown metric %.*s",
                             json_string_value(json_object_get(panel, "title")), (int)n, p);
                p += n;
                exprs++;
            }
        }
    }
    json_decref(d);
    assert_true(queries >= 8);
    assert_true(exprs >= 20);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_views_readable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tables_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_view_contents, setup, teardown),
        cmocka_unit_test_setup_teardown(test_grafana_dashboard, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
