/*
 * test_metrics.c - the metrics registry, the Prometheus text format (checked
 * by the strict parser of tests/lib/promparse.c), the HTTP listener scraped with libcurl,
 * the database collector and the readiness check on a real PostgreSQL.
 */
#include "tests/lib/testlib.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "relayer/metrics.h"
#include "tests/lib/promparse.h"

static void render_parse(struct prom_scrape *s)
{
    char *text;
    size_t len;
    struct mr_error err;

    assert_int_equal(metrics_render(&text, &len, &err), MR_OK);
    assert_int_equal(len, strlen(text));
    prom_parse_or_fail(text, s);
    free(text);
}

static int reset(void **state)
{
    (void)state;
    metrics_reset_for_tests();
    return 0;
}

/* ------------------------------------------------------------- registry -- */

static void test_families_render(void **state)
{
    struct prom_scrape s;
    (void)state;

    metrics_chain("origin", 100, 98, 90);
    metrics_rpc_error("aux", 1, "timeout");
    metrics_rpc_error("aux", 1, "timeout");
    metrics_rpc_latency("aux", 0, "eth_getLogs", 0.02);
    metrics_job_duration("msg", "completed", 0.3);
    metrics_message_transition("stake", "confirming");
    metrics_signer_balance("origin", "0x00000000000000000000000000000000000000aa", 1.25);
    metrics_proof_rejected("aux", "proof");
    metrics_limits_held("ost-aux1", 2, 1e21);
    render_parse(&s);
    assert_true(prom_val(&s, "mosaic_chain_head_block{chain=\"origin\"}") == 100);
    assert_true(prom_val(&s, "mosaic_watcher_lag_blocks{chain=\"origin\"}") == 8);
    assert_true(prom_val(&s, "mosaic_rpc_errors_total{chain=\"aux\",endpoint=\"1\",kind=\"timeout\"}") == 2);
    assert_true(prom_val(&s, "mosaic_rpc_request_duration_seconds_bucket{chain=\"aux\",endpoint=\"0\","
                        "method=\"eth_getLogs\",le=\"0.025\"}") == 1);
    assert_true(prom_val(&s, "mosaic_rpc_request_duration_seconds_bucket{chain=\"aux\",endpoint=\"0\","
                        "method=\"eth_getLogs\",le=\"0.01\"}") == 0);
    assert_true(prom_val(&s, "mosaic_job_duration_seconds_count{kind=\"msg\",outcome=\"completed\"}") == 1);
    assert_true(prom_val(&s, "mosaic_message_transitions_total{flow=\"stake\",state=\"confirming\"}") == 1);
    assert_true(prom_val(&s, "mosaic_signer_balance_ether{chain=\"origin\","
                        "address=\"0x00000000000000000000000000000000000000aa\"}") == 1.25);
    assert_true(prom_val(&s, "mosaic_limits_held_value_wei{pair=\"ost-aux1\"}") == 1e21);
    assert_true(prom_val(&s, "mosaic_proofs_rejected_total{chain=\"aux\",reason=\"proof\"}") == 1);
    free(s.v);

    /* the values move */
    metrics_rpc_error("aux", 1, "timeout");
    metrics_chain("origin", 101, 100, 100);
    render_parse(&s);
    assert_true(prom_val(&s, "mosaic_rpc_errors_total{chain=\"aux\",endpoint=\"1\",kind=\"timeout\"}") == 3);
    assert_true(prom_val(&s, "mosaic_watcher_lag_blocks{chain=\"origin\"}") == 0);
    free(s.v);
}

static void test_label_escaping(void **state)
{
    struct prom_scrape s;
    (void)state;

    metrics_proof_rejected("a\"b\\c\nd", "x");
    render_parse(&s);
    /* quotes and backslashes escaped, control characters replaced */
    assert_true(prom_val(&s, "mosaic_proofs_rejected_total{chain=\"a\\\"b\\\\c?d\",reason=\"x\"}") == 1);
    free(s.v);

    /* a long value is cut, and the cut value is the same series */
    char longv[200];
    memset(longv, 'q', sizeof longv - 1);
    longv[sizeof longv - 1] = 0;
    metrics_proof_rejected(longv, "x");
    longv[150] = 0;
    metrics_proof_rejected(longv, "x");
    render_parse(&s);
    char key[256];
    longv[METRIC_LABEL_LEN - 1] = 0;
    snprintf(key, sizeof key, "mosaic_proofs_rejected_total{chain=\"%s\",reason=\"x\"}", longv);
    assert_true(prom_val(&s, key) == 2);
    free(s.v);
}

static void test_histogram(void **state)
{
    struct prom_scrape s;
    const double obs[] = {0.001, 0.005, 0.0051, 0.7, 3, 1000, NAN};
    (void)state;

    for (size_t i = 0; i < sizeof obs / sizeof obs[0]; i++)
        metrics_rpc_latency("origin", 0, "eth_call", obs[i]);
    render_parse(&s);
#define B(le) prom_val(&s, "mosaic_rpc_request_duration_seconds_bucket{chain=\"origin\",endpoint=\"0\"," \
                      "method=\"eth_call\",le=\"" le "\"}")
    assert_true(B("0.005") == 2);          /* upper bounds are inclusive */
    assert_true(B("0.01") == 3);
    assert_true(B("1") == 4);
    assert_true(B("5") == 5);
    assert_true(B("30") == 5);
    assert_true(B("+Inf") == 6);           /* NaN is not counted */
#undef B
    double sum = prom_val(&s, "mosaic_rpc_request_duration_seconds_sum{chain=\"origin\",endpoint=\"0\","
                         "method=\"eth_call\"}");
    assert_true(fabs(sum - 1003.7111) < 1e-9);
    /* a generic metric_observe on a gauge does nothing */
    metric_observe(metric_series(MX_MESSAGES_STUCK, NULL), 1);
    assert_true(metric_value(metric_series(MX_MESSAGES_STUCK, NULL)) == 0);
    free(s.v);
}

static void test_series_limit(void **state)
{
    char name[32];
    (void)state;

    for (int i = 0; i < METRIC_MAX_SERIES + 10; i++) {
        snprintf(name, sizeof name, "c%d", i);
        metrics_proof_rejected(name, "x");
    }
    struct prom_scrape s;
    render_parse(&s);
    assert_true(prom_val(&s, "mosaic_metrics_series_dropped_total") == 10);
    assert_true(prom_has(&s, "mosaic_proofs_rejected_total{chain=\"c255\",reason=\"x\"}"));
    assert_false(prom_has(&s, "mosaic_proofs_rejected_total{chain=\"c256\",reason=\"x\"}"));
    free(s.v);
    /* and the pool as a whole */
    for (int f = 0; f < 12; f++)
        for (int i = 0; i < METRIC_MAX_SERIES; i++) {
            snprintf(name, sizeof name, "k%d", i);
            metrics_queue_depth(name, f == 0 ? "a" : f == 1 ? "b" : "c", 1);
            metrics_rpc_error(name, f, "t");
        }
    render_parse(&s);
    assert_true(prom_val(&s, "mosaic_metrics_series_dropped_total") > 10);
    free(s.v);
}

#define THREADS 6
#define ROUNDS 20000

static void *bump(void *arg)
{
    (void)arg;
    for (int i = 0; i < ROUNDS; i++) {
        metrics_rpc_error("origin", i % 3, "transient");
        metrics_job_duration("msg", "completed", 0.5);
    }
    return NULL;
}

static void test_concurrent_updates(void **state)
{
    pthread_t t[THREADS];
    struct prom_scrape s;
    (void)state;

    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, bump, NULL), 0);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    render_parse(&s);
    double total = 0;
    for (int e = 0; e < 3; e++) {
        char key[128];
        snprintf(key, sizeof key,
                 "mosaic_rpc_errors_total{chain=\"origin\",endpoint=\"%d\",kind=\"transient\"}", e);
        total += prom_val(&s, key);
    }
    assert_true(total == THREADS * ROUNDS);
    assert_true(prom_val(&s, "mosaic_job_duration_seconds_count{kind=\"msg\",outcome=\"completed\"}") ==
                THREADS * ROUNDS);
    assert_true(prom_val(&s, "mosaic_job_duration_seconds_sum{kind=\"msg\",outcome=\"completed\"}") ==
                THREADS * ROUNDS * 0.5);
    free(s.v);
}

/* The strict parser refuses what it should (so the checks above can fail). */
static void test_parser_refuses(void **state)
{
    static const char *const bad[] = {
        "# HELP a x\n# TYPE a gauge\na{l=\"v\"} 1",                 /* no final newline */
        "# HELP a x\n# TYPE a gauge\na{l=\"v\"} 1 1700000000\n",    /* a timestamp */
        "# HELP a x\n# TYPE a gauge\na{l=\"v\",l=\"w\"} 1\n",       /* duplicate label */
        "# HELP a x\n# TYPE a gauge\na{l=\"a\\qb\"} 1\n",           /* unknown escape */
        "# HELP a x\n# TYPE a gauge\na{l=\"v\"} 1\na{l=\"v\"} 2\n", /* duplicate series */
        "# HELP a x\n# TYPE a gauge\nb 1\n",                         /* outside its family */
        "# TYPE a gauge\na 1\n",                                      /* no HELP */
        "# HELP a x\n# TYPE a counter\na -1\n",                      /* negative counter */
        "# HELP a x\n# TYPE a gauge\na one\n",                       /* not a number */
        "# HELP a x\n# TYPE a histogram\na_bucket{le=\"1\"} 2\na_bucket{le=\"+Inf\"} 1\n"
        "a_sum 1\na_count 1\n",                                      /* not cumulative */
        "# HELP a x\n# TYPE a histogram\na_bucket{le=\"1\"} 1\na_sum 1\na_count 1\n", /* no +Inf */
        "# HELP a x\n# TYPE a histogram\na_bucket{le=\"+Inf\"} 2\na_sum 1\na_count 1\n", /* count */
        "# HELP a x\n# TYPE a histogram\na_bucket{le=\"+Inf\"} 2\na_sum 1\n", /* no count */
        "# HELP 1a x\n# TYPE 1a gauge\n1a 1\n",                      /* bad name */
    };
    struct prom_scrape s;
    (void)state;

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (prom_parse(bad[i], &s, NULL, 0) == 0)
            fail_msg("accepted bad document %zu: %s", i, bad[i]);
    }
    prom_parse_or_fail("# HELP a x \\\\ \\n\n# TYPE a histogram\na_bucket{le=\"0.5\"} 1\n"
                     "a_bucket{le=\"+Inf\"} 2\na_sum 3\na_count 2\n", &s);
    assert_int_equal(s.n, 4);
    free(s.v);
}

/* ----------------------------------------------------------------- HTTP -- */

struct readiness {
    int ready;
    int calls;
};

static int ready_cb(void *ctx, char *why, size_t cap)
{
    struct readiness *r = ctx;

    r->calls++;
    snprintf(why, cap, r->ready ? "all good" : "chain aux: the watcher is 9 blocks behind");
    return r->ready;
}

static void test_http(void **state)
{
    struct metrics_server *srv;
    struct mr_error err;
    struct readiness rd = {0, 0};
    char url[128], *body, ctype[128];
    struct prom_scrape s;
    (void)state;

    assert_int_equal(metrics_server_start("127.0.0.1:0", ready_cb, &rd, &srv, &err), MR_OK);
    int port = metrics_server_port(srv);
    assert_true(port > 0);

    metrics_rpc_error("origin", 0, "fatal");
    snprintf(url, sizeof url, "http://127.0.0.1:%d/metrics", port);
    assert_int_equal(tv_http_get(url, NULL, &body, ctype, sizeof ctype), 200);
    assert_string_equal(ctype, "text/plain; version=0.0.4; charset=utf-8");
    prom_parse_or_fail(body, &s);
    assert_true(prom_val(&s, "mosaic_rpc_errors_total{chain=\"origin\",endpoint=\"0\",kind=\"fatal\"}") == 1);
    assert_true(prom_val(&s, "process_start_time_seconds") > 1.6e9);
    free(s.v);
    free(body);

    /* the counter moves between scrapes */
    metrics_rpc_error("origin", 0, "fatal");
    assert_int_equal(tv_http_get(url, NULL, &body, NULL, 0), 200);
    prom_parse_or_fail(body, &s);
    assert_true(prom_val(&s, "mosaic_rpc_errors_total{chain=\"origin\",endpoint=\"0\",kind=\"fatal\"}") == 2);
    free(s.v);
    free(body);

    /* a big body (many series) comes whole */
    for (int i = 0; i < 200; i++) {
        char k[16];
        snprintf(k, sizeof k, "kind%d", i);
        metrics_job_duration(k, "completed", i);
    }
    assert_int_equal(tv_http_get(url, NULL, &body, NULL, 0), 200);
    assert_true(strlen(body) > 3 * 16384);
    prom_parse_or_fail(body, &s);
    assert_true(prom_val(&s, "mosaic_job_duration_seconds_count{kind=\"kind199\",outcome=\"completed\"}") == 1);
    free(s.v);
    free(body);

    snprintf(url, sizeof url, "http://127.0.0.1:%d/healthz", port);
    assert_int_equal(tv_http_get(url, NULL, &body, NULL, 0), 200);
    assert_string_equal(body, "ok\n");
    free(body);

    snprintf(url, sizeof url, "http://127.0.0.1:%d/readyz", port);
    assert_int_equal(tv_http_get(url, NULL, &body, NULL, 0), 503);
    assert_string_equal(body, "chain aux: the watcher is 9 blocks behind\n");
    free(body);
    rd.ready = 1;
    assert_int_equal(tv_http_get(url, NULL, &body, NULL, 0), 200);
    assert_string_equal(body, "all good\n");
    free(body);
    assert_int_equal(rd.calls, 2);

    snprintf(url, sizeof url, "http://127.0.0.1:%d/nothing", port);
    assert_int_equal(tv_http_get(url, NULL, &body, NULL, 0), 404);
    free(body);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/metrics", port);
    assert_int_equal(tv_http_get(url, "x=1", &body, NULL, 0), 405);
    free(body);

    /* the port is taken: a second listener says so */
    char listen[64];
    struct metrics_server *two;
    snprintf(listen, sizeof listen, "127.0.0.1:%d", port);
    assert_int_equal(metrics_server_start(listen, NULL, NULL, &two, &err), MR_ERR_IO);
    assert_non_null(strstr(err.msg, listen));
    metrics_server_stop(srv);

    /* stopped: nothing listens there any more */
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 5L);
    assert_int_not_equal(curl_easy_perform(c), CURLE_OK);
    curl_easy_cleanup(c);
}

static void test_listen_addresses(void **state)
{
    struct metrics_server *srv;
    struct mr_error err;
    static const char *const bad[] = {"127.0.0.1", "127.0.0.1:", "127.0.0.1:99999", ":9464",
                                      "[::1:9464", "127.0.0.1:12x", "no.such.host.invalid:1"};
    (void)state;

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(metrics_server_start(bad[i], NULL, NULL, &srv, &err), MR_ERR_INVALID);
        assert_non_null(strstr(err.msg, bad[i]));
    }
    /* IPv6 loopback, when the machine has it */
    if (metrics_server_start("[::1]:0", NULL, NULL, &srv, &err) == MR_OK) {
        char url[64], *body;
        snprintf(url, sizeof url, "http://[::1]:%d/healthz", metrics_server_port(srv));
        assert_int_equal(tv_http_get(url, NULL, &body, NULL, 0), 200);
        free(body);
        metrics_server_stop(srv);
    } else
        print_message("note: no IPv6 loopback (%s)\n", err.msg);
    /* localhost resolves */
    assert_int_equal(metrics_server_start("localhost:0", NULL, NULL, &srv, &err), MR_OK);
    metrics_server_stop(srv);
    metrics_server_stop(NULL);
}

/* ------------------------------------------------------------- database -- */

static void exec(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);

    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQerrorMessage(c));
    PQclear(r);
}

static const char FIXTURE[] =
    "INSERT INTO mosaic.chains (chain_key, chain_id, role, cursor_block, cursor_hash, head_block,"
    " finalized_block) VALUES ('origin', 31337, 'origin', 90, decode(repeat('00', 32), 'hex'), 100, 98),"
    " ('aux', 1405, 'auxiliary', NULL, NULL, 50, NULL);"
    "INSERT INTO mosaic.messages (message_hash, flow, gateway_pair, source_chain, target_chain,"
    " intent_hash, sender, nonce, beneficiary, amount, gas_price, gas_limit, hashlock, declared_block)"
    " SELECT decode(md5(g::text) || md5(g::text), 'hex'), 'stake', 'p', 'origin', 'aux',"
    " decode(repeat('22', 32), 'hex'), decode(repeat('33', 20), 'hex'), g,"
    " decode(repeat('44', 20), 'hex'), 10, 1, 1, decode(repeat('55', 32), 'hex'), 5"
    " FROM generate_series(1, 3) g;"
    "UPDATE mosaic.messages SET state = 'completed', completed_at = now()"
    " WHERE nonce = 1;"
    "UPDATE mosaic.messages SET updated_at = now() - interval '11 minutes' WHERE nonce = 2;"
    "INSERT INTO mosaic.jobs (kind) VALUES ('msg'), ('msg');"
    "INSERT INTO mosaic.jobs (kind, state, finished_at) VALUES ('anchor', 'failed', now()),"
    " ('anchor', 'completed', now());"
    "INSERT INTO mosaic.transactions (chain_key, sender, nonce, purpose, to_address, calldata,"
    " gas_limit, state) VALUES"
    " ('origin', decode(repeat('33', 20), 'hex'), 0, 'confirmStakeIntent',"
    "  decode(repeat('66', 20), 'hex'), '\\x00', 21000, 'broadcast'),"
    " ('origin', decode(repeat('33', 20), 'hex'), 1, 'confirmStakeIntent',"
    "  decode(repeat('66', 20), 'hex'), '\\x00', 21000, 'failed');"
    "INSERT INTO mosaic.tx_attempts (tx_id, attempt, tx_hash, raw, max_fee, max_priority_fee)"
    " SELECT id, a, decode(md5(a::text) || md5(a::text), 'hex'), '\\x01', 1, 1"
    " FROM mosaic.transactions, generate_series(1, 2) a WHERE nonce = 0;"
    "INSERT INTO mosaic.anchors (chain_key, remote_chain, block_height, state_root, observed_at)"
    " VALUES ('aux', 'origin', 95, decode(repeat('77', 32), 'hex'), now() - interval '30 seconds'),"
    " ('aux', 'origin', 80, decode(repeat('78', 32), 'hex'), now() - interval '1 hour');"
    "INSERT INTO mosaic.signer_nonces (chain_key, sender, next_nonce)"
    " VALUES ('origin', decode(repeat('33', 20), 'hex'), 2);"
    "INSERT INTO mosaic.alerts (severity, component, message) VALUES ('critical', 'txm', 'x');";

static void test_collect_db(void **state)
{
    struct prom_scrape s;
    struct mr_error err;
    char *conninfo;
    (void)state;

    TV_REQUIRE_PG();
    PGconn *db = tv_pg_migrated(&conninfo);
    exec(db, FIXTURE);
    assert_int_equal(metrics_collect_db(db, &err), MR_OK);
    render_parse(&s);
    assert_true(prom_val(&s, "mosaic_chain_head_block{chain=\"origin\"}") == 100);
    assert_true(prom_val(&s, "mosaic_chain_finalized_block{chain=\"origin\"}") == 98);
    assert_true(prom_val(&s, "mosaic_watcher_lag_blocks{chain=\"origin\"}") == 8);
    assert_true(prom_val(&s, "mosaic_chain_head_block{chain=\"aux\"}") == 50);
    assert_false(prom_has(&s, "mosaic_watcher_lag_blocks{chain=\"aux\"}"));
    assert_true(prom_val(&s, "mosaic_queue_jobs{kind=\"msg\",state=\"available\"}") == 2);
    assert_true(prom_val(&s, "mosaic_queue_jobs{kind=\"msg\",state=\"running\"}") == 0);
    assert_true(prom_val(&s, "mosaic_queue_jobs{kind=\"anchor\",state=\"failed\"}") == 1);
    assert_false(prom_has(&s, "mosaic_queue_jobs{kind=\"anchor\",state=\"completed\"}"));
    assert_true(prom_val(&s, "mosaic_messages{flow=\"stake\",state=\"declared\"}") == 2);
    assert_true(prom_val(&s, "mosaic_messages{flow=\"stake\",state=\"completed\"}") == 1);
    assert_true(prom_val(&s, "mosaic_messages{flow=\"redeem\",state=\"declared\"}") == 0);
    assert_true(prom_val(&s, "mosaic_messages_stuck") == 1);
    assert_true(prom_val(&s, "mosaic_transactions_pending{chain=\"origin\",state=\"broadcast\"}") == 1);
    assert_true(prom_val(&s, "mosaic_transactions_pending{chain=\"aux\",state=\"intent\"}") == 0);
    assert_true(prom_val(&s, "mosaic_transactions_failed_total{chain=\"origin\"}") == 1);
    assert_true(prom_val(&s, "mosaic_transactions_replaced_total{chain=\"origin\"}") == 1);
    assert_true(prom_val(&s, "mosaic_transactions_replaced_total{chain=\"aux\"}") == 0);
    assert_true(prom_val(&s, "mosaic_anchor_height{chain=\"aux\",remote=\"origin\"}") == 95);
    double age = prom_val(&s, "mosaic_anchor_age_seconds{chain=\"aux\",remote=\"origin\"}");
    assert_true(age >= 30 && age < 3000);
    const char *addr = "0x3333333333333333333333333333333333333333";
    char key[160];
    snprintf(key, sizeof key, "mosaic_signer_next_nonce{chain=\"origin\",address=\"%s\"}", addr);
    assert_true(prom_val(&s, key) == 2);
    snprintf(key, sizeof key, "mosaic_signer_halted{chain=\"origin\",address=\"%s\"}", addr);
    assert_true(prom_val(&s, key) == 0);
    assert_true(prom_val(&s, "mosaic_alerts_open{severity=\"critical\"}") == 1);
    assert_true(prom_val(&s, "mosaic_alerts_open{severity=\"warning\"}") == 0);
    free(s.v);

    /* things move; series whose rows went away drop to 0 */
    exec(db, "UPDATE mosaic.jobs SET state = 'running', owner = 'w', attempt = 1,"
             " attempted_at = now() WHERE id = (SELECT min(id) FROM mosaic.jobs WHERE kind = 'msg');"
             "DELETE FROM mosaic.jobs WHERE kind = 'anchor';"
             "UPDATE mosaic.alerts SET acknowledged_at = now();"
             "UPDATE mosaic.chains SET cursor_block = 98, cursor_hash = decode(repeat('01', 32), 'hex'),"
             " finalized_block = 49 WHERE chain_key IN ('origin', 'aux');"
             "UPDATE mosaic.signer_nonces SET halted_reason = 'used elsewhere', halted_at = now();");
    assert_int_equal(metrics_collect_db(db, &err), MR_OK);
    render_parse(&s);
    assert_true(prom_val(&s, "mosaic_queue_jobs{kind=\"msg\",state=\"available\"}") == 1);
    assert_true(prom_val(&s, "mosaic_queue_jobs{kind=\"msg\",state=\"running\"}") == 1);
    assert_true(prom_val(&s, "mosaic_queue_jobs{kind=\"anchor\",state=\"failed\"}") == 0);
    assert_true(prom_val(&s, "mosaic_alerts_open{severity=\"critical\"}") == 0);
    assert_true(prom_val(&s, "mosaic_watcher_lag_blocks{chain=\"origin\"}") == 0);
    assert_true(prom_val(&s, "mosaic_watcher_lag_blocks{chain=\"aux\"}") == 0);
    snprintf(key, sizeof key, "mosaic_signer_halted{chain=\"origin\",address=\"%s\"}", addr);
    assert_true(prom_val(&s, key) == 1);
    assert_true(prom_val(&s, "mosaic_metrics_collect_errors_total") == 0);
    assert_true(prom_val(&s, "mosaic_metrics_series_dropped_total") == 0);
    free(s.v);

    /* a broken connection: an error, counted, nothing crashes */
    PQfinish(db);
    db = PQconnectdb("host=/nonexistent-dir dbname=x connect_timeout=2");
    assert_int_not_equal(metrics_collect_db(db, &err), MR_OK);
    assert_non_null(strstr(err.msg, "metrics: database query failed"));
    assert_true(metric_value(metric_series(MX_COLLECT_ERRORS, NULL)) == 1);
    PQfinish(db);
    free(conninfo);
}

struct dbready {
    PGconn *db;
};

static int db_ready_cb(void *ctx, char *why, size_t cap)
{
    return metrics_ready_db(((struct dbready *)ctx)->db, 5, why, cap);
}

static void test_ready_db(void **state)
{
    char why[256], *conninfo, url[128], *body;
    struct metrics_server *srv;
    struct mr_error err;
    (void)state;

    TV_REQUIRE_PG();
    PGconn *db = tv_pg_migrated(&conninfo);
    assert_int_equal(metrics_ready_db(db, 5, why, sizeof why), 0);
    assert_string_equal(why, "no chains registered");
    exec(db, FIXTURE);
    assert_int_equal(metrics_ready_db(db, 5, why, sizeof why), 0);
    assert_string_equal(why, "chain aux: the watcher has not started");

    /* the listener's /readyz through the same check on its own connection */
    struct dbready ctx = {PQconnectdb(conninfo)};
    assert_int_equal(PQstatus(ctx.db), CONNECTION_OK);
    assert_int_equal(metrics_server_start("127.0.0.1:0", db_ready_cb, &ctx, &srv, &err), MR_OK);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/readyz", metrics_server_port(srv));
    assert_int_equal(tv_http_get(url, NULL, &body, NULL, 0), 503);
    assert_string_equal(body, "chain aux: the watcher has not started\n");
    free(body);

    exec(db, "UPDATE mosaic.chains SET cursor_block = 40, cursor_hash = decode(repeat('01', 32),"
             " 'hex'), finalized_block = 48 WHERE chain_key = 'aux'");
    assert_int_equal(tv_http_get(url, NULL, &body, NULL, 0), 503);
    assert_string_equal(body, "chain aux: the watcher is 8 blocks behind (at most 5)\n");
    free(body);
    exec(db, "UPDATE mosaic.chains SET cursor_block = 96 WHERE chain_key = 'origin';"
             "UPDATE mosaic.chains SET cursor_block = 45 WHERE chain_key = 'aux'");
    assert_int_equal(tv_http_get(url, NULL, &body, NULL, 0), 200);
    assert_string_equal(body, "ready: 2 chains, watcher lag at most 3 blocks\n");
    free(body);

    /* the check's session is killed: not ready with the reason, then the
     * next check reconnects */
    exec(db, "SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity"
             " WHERE datname = current_database() AND pid <> pg_backend_pid()");
    assert_int_equal(tv_http_get(url, NULL, &body, NULL, 0), 503);
    assert_non_null(strstr(body, "metrics: database query failed"));
    free(body);
    assert_int_equal(tv_http_get(url, NULL, &body, NULL, 0), 200);
    free(body);
    metrics_server_stop(srv);
    PQfinish(ctx.db);
    PQfinish(db);
    free(conninfo);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_families_render, reset),
        cmocka_unit_test_setup(test_label_escaping, reset),
        cmocka_unit_test_setup(test_histogram, reset),
        cmocka_unit_test_setup(test_series_limit, reset),
        cmocka_unit_test_setup(test_concurrent_updates, reset),
        cmocka_unit_test_setup(test_parser_refuses, reset),
        cmocka_unit_test_setup(test_http, reset),
        cmocka_unit_test_setup(test_listen_addresses, reset),
        cmocka_unit_test_setup(test_collect_db, reset),
        cmocka_unit_test_setup(test_ready_db, reset),
    };
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
