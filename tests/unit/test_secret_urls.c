/*
 * test_secret_urls.c - endpoint URLs carry API keys (Infura's "/v3/KEY",
 * "?apikey=KEY", "user:pass@"): whatever goes wrong with such an endpoint
 * (connection refused, HTTP 500, a wrong chain id, JSON garbage), the text
 * that reaches a person shows only rpc_redact_url's "scheme://host:port/...".
 * Checked in the node client's errors, `config check`, `status --config`,
 * the daemon's log and its /metrics, and `chain status`.  The faults come from
 * tests/lib/faultproxy.h in front of the test chains.
 */
#include "tests/lib/testlib.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "chain/ethrpc.h"
#include "chain/rpc.h"
#include "chain/ws.h"
#include "tests/lib/faultproxy.h"
#include "tests/lib/promparse.h"

/* Every secret part below holds one of these; neither may ever be shown. */
#define SECRET_MARK "SECRET"
#define SECRET_USER "alice"

/* A fault proxy, its secret-laden URL and the form it must show as. */
struct ep {
    struct fproxy *p;
    char url[256];
    char shown[128];
};

struct fx {
    struct ep refused, http500, garbage, wrong_chain;
    char *dir, *ci;
    PGconn *db;
    char cfg[600], log[600];
    int metrics_port;
};

static struct fx F;

/* http://alice:pw<SECRET>@127.0.0.1:PORT/v3/...SECRET...?apikey=...SECRET... */
static void secret_url(struct ep *e, int port)
{
    snprintf(e->url, sizeof(e->url),
             "http://" SECRET_USER ":pw" SECRET_MARK "42@127.0.0.1:%d/v3/key" SECRET_MARK
             "0123?apikey=q" SECRET_MARK "x",
             port);
    snprintf(e->shown, sizeof(e->shown), "http://127.0.0.1:%d/...", port);
}

static void proxy(struct ep *e, const char *upstream, enum fp_action action, int param)
{
    const char *u;

    e->p = fproxy_start(upstream);
    assert_non_null(e->p);
    if (action != FP_PASS)
        fproxy_rule(e->p, "*", action, param, 0, NULL, NULL);
    u = fproxy_url(e->p); /* "http://127.0.0.1:PORT" */
    secret_url(e, atoi(strrchr(u, ':') + 1));
}

/* Fails the test when text shows any secret part of an endpoint URL. */
static void assert_no_secret(const char *what, const char *text)
{
    if (text == NULL)
        return;
    if (strstr(text, SECRET_MARK) != NULL || strstr(text, SECRET_USER) != NULL)
        fail_msg("%s shows a secret part of an endpoint URL:\n%s", what, text);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* origin: [refused, HTTP 500]; aux: [garbage, another chain's node]. */
static void write_config(void)
{
    char text[4096];
    uint8_t addr[20];

    tv_make_keystore(F.dir, "fac", addr);
    snprintf(text, sizeof(text),
             "database: { url: \"%s\" }\n"
             "chains:\n"
             "  origin:\n"
             "    role: origin\n"
             "    chain_id: 31337\n"
             "    endpoints: [\"%s\", \"%s\"]\n"
             "    finality: { confirmations: 0 }\n"
             "    poll_interval: 100ms\n"
             "  aux:\n"
             "    role: auxiliary\n"
             "    chain_id: 1405\n"
             "    endpoints: [\"%s\", \"%s\"]\n"
             "    finality: { confirmations: 0 }\n"
             "    poll_interval: 100ms\n"
             "keys:\n"
             "  facilitator: { keystore: %s/fac.json, password_file: %s/fac.pass }\n"
             "gateways: []\n"
             "relayer: { workers: 1 }\n"
             "metrics: { listen: \"127.0.0.1:%d\" }\n"
             "log: { level: debug, format: json }\n",
             F.ci, F.refused.url, F.http500.url, F.garbage.url, F.wrong_chain.url, F.dir, F.dir,
             F.metrics_port);
    write_file(F.cfg, text);
}

static int setup(void **state)
{
    (void)state;
    if (tv_pg_base() == NULL || tv_anvil_url("ORIGIN") == NULL)
        return 0;
    F.dir = tv_tmpdir();
    F.db = tv_pg_migrated(&F.ci);
    secret_url(&F.refused, tv_free_port());
    proxy(&F.http500, tv_anvil_url("ORIGIN"), FP_STATUS, 500);
    proxy(&F.garbage, tv_anvil_url("AUX"), FP_TRUNCATE, 0);
    proxy(&F.wrong_chain, tv_anvil_url("ORIGIN"), FP_PASS, 0); /* 31337, not 1405 */
    F.metrics_port = tv_free_port();
    snprintf(F.cfg, sizeof(F.cfg), "%s/relayer.yaml", F.dir);
    snprintf(F.log, sizeof(F.log), "%s/run.log", F.dir);
    write_config();
    return 0;
}

static int teardown(void **state)
{
    struct ep *all[] = {&F.http500, &F.garbage, &F.wrong_chain};
    (void)state;

    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        if (all[i]->p != NULL)
            fproxy_stop(all[i]->p);
    if (F.db != NULL)
        PQfinish(F.db);
    if (F.dir != NULL)
        tv_rmtree(F.dir);
    free(F.dir);
    free(F.ci);
    return 0;
}

#define REQUIRE()                                                              \
    TV_REQUIRE_PG();                                                           \
    TV_REQUIRE_ANVIL()

/* One failing call through a one-endpoint client: the error names the
 * endpoint in its shown form and nothing more of it. */
static void one_failure(const struct ep *e, uint64_t chain_id, const char *expect)
{
    struct rpc_opts o;
    struct rpc_endpoints *rpc;
    struct mr_error err;
    const char *url = e->url;
    uint64_t n;

    rpc_opts_default(&o);
    o.timeout_ms = 5000;
    assert_int_equal(rpc_endpoints_new(&url, 1, chain_id, &o, &rpc, &err), MR_OK);
    assert_int_not_equal(ethrpc_block_number(rpc, &n, NULL, &err), MR_OK);
    assert_no_secret("the error", err.msg);
    if (strstr(err.msg, e->shown) == NULL || strstr(err.msg, expect) == NULL)
        fail_msg("expected '%s' and '%s' in: %s", e->shown, expect, err.msg);
    assert_string_equal(rpc_endpoints_health(rpc, 0)->name, e->shown);
    assert_no_secret("the last endpoint", rpc_endpoints_last(rpc));
    rpc_endpoints_free(rpc);
}

static void test_client_errors(void **state)
{
    struct ws_sub *w = NULL;
    struct mr_error err;
    (void)state;
    REQUIRE();

    one_failure(&F.refused, 31337, "Could");
    one_failure(&F.http500, 31337, "HTTP status 500");
    one_failure(&F.garbage, 1405, "eth_");
    one_failure(&F.wrong_chain, 1405, "31337");
    /* A WebSocket URL of the wrong scheme. */
    assert_int_equal(ws_sub_start("ftp://" SECRET_USER ":x@127.0.0.1:1/" SECRET_MARK, NULL, NULL,
                                  &w, &err),
                     MR_ERR_INVALID);
    assert_no_secret("the ws error", err.msg);
    assert_non_null(strstr(err.msg, "ftp://127.0.0.1:1/..."));
}

static void test_config_check_and_status(void **state)
{
    const char *check[] = {"config", "check", F.cfg, NULL};
    const char *status[] = {"status", "--config", F.cfg, NULL};
    char *out, *errout;
    (void)state;
    REQUIRE();

    assert_int_equal(tv_run_cli(check, NULL, &out, &errout), 1);
    assert_no_secret("config check", out);
    assert_no_secret("config check (stderr)", errout);
    /* Each endpoint's line names it in the shown form, and fails. */
    {
        const struct ep *e[] = {&F.refused, &F.http500, &F.garbage, &F.wrong_chain};
        for (size_t i = 0; i < 4; i++) {
            char line[256];
            snprintf(line, sizeof(line), "FAIL chains.%s.endpoints[%zu] %s: ",
                     i < 2 ? "origin" : "aux", i % 2, e[i]->shown);
            if (strstr(out, line) == NULL)
                fail_msg("no '%s' in:\n%s", line, out);
        }
    }
    free(out);
    free(errout);

    tv_run_cli(status, NULL, &out, &errout);
    assert_no_secret("status", out);
    assert_no_secret("status (stderr)", errout);
    /* The balances could not be read, and the lines say from where. */
    assert_non_null(strstr(out, "  balance  origin "));
    assert_non_null(strstr(out, F.garbage.shown));
    free(out);
    free(errout);
}

/* The daemon against the same endpoints: its log and /metrics. */
static void test_daemon(void **state)
{
    const char *argv[] = {tv_bin(), "run", "--config", F.cfg, NULL};
    const char *chain[] = {"chain", "status", "--config", F.cfg, NULL};
    char url[128], *body, *log, *out, *errout;
    int pid;
    (void)state;
    REQUIRE();

    pid = tv_spawn(argv, F.log);
    tv_wait_text(F.log, "serving /metrics", 1);
    /* Both watchers have failed and said so, naming their endpoints. */
    tv_wait_text(F.log, F.refused.shown, 1);
    tv_wait_text(F.log, F.garbage.shown, 1);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/metrics", F.metrics_port);
    assert_int_equal(tv_http_get(url, NULL, &body, NULL, 0), 200);
    assert_no_secret("/metrics", body);
    assert_non_null(strstr(body, "mosaic_rpc_errors_total{chain=\"origin\",endpoint=\"0\""));
    free(body);
    kill(pid, SIGTERM);
    assert_int_equal(tv_reap(pid), 0);
    log = tv_slurp(F.log);
    assert_no_secret("the daemon's log", log);
    free(log);
    /* The chains it registered, as `chain status` shows them. */
    assert_int_equal(tv_run_cli(chain, NULL, &out, &errout), 0);
    assert_no_secret("chain status", out);
    assert_no_secret("chain status (stderr)", errout);
    assert_non_null(strstr(out, "origin"));
    free(out);
    free(errout);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_client_errors),
        cmocka_unit_test(test_config_check_and_status),
        cmocka_unit_test(test_daemon),
    };
    int rc;

    curl_global_init(CURL_GLOBAL_DEFAULT);
    rc = cmocka_run_group_tests(tests, setup, teardown);
    curl_global_cleanup();
    return rc;
}
