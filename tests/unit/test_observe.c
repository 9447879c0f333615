/*
 * test_observe.c - the relayer's observability, end to end: `mosaic-relayer
 * run` as a process (config file, metrics.listen on a loopback port, logs
 * at debug level as JSON lines) against the suite's two anvil chains with a
 * fresh gateway pair (tests/lib/mosaicnet.h) and a fresh database, carrying
 * a stake and then a redeem of the minted tokens to completion by itself.
 *
 *   - /metrics is scraped before and after each, and parsed strictly
 *     (tests/lib/promparse.h): messages by state, transitions, job
 *     durations, the keys' nonces and balances, chain heads, node requests
 *     move as the flows advance; nothing pending or failed at the end.
 *   - /healthz answers 200 throughout; /readyz 200 when all is well, 503
 *     (with the reason) while the database refuses connections (this test
 *     owns its database, not the cluster: ALLOW_CONNECTIONS false and its
 *     sessions terminated), and 200 again once it is back.
 *   - SIGHUP with a broken config: the process logs why (file:line) and
 *     keeps running with the old config: it still serves, and carries the
 *     redeem declared after it.
 *   - Every byte the process wrote (stdout and stderr) is scanned for the
 *     keys' private keys, the keystore passwords and every unlock secret
 *     in mosaic.unlock_secrets after the run, as hex with and without 0x in
 *     any case: none may appear.  The lines are JSON, and those about the
 *     messages carry their identity (message hash, job, chain, nonce,
 *     transaction hash).
 */
#include "tests/lib/testlib.h"

#include <ctype.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <curl/curl.h>

#include "eth/hex.h"
#include "eth/key.h"
#include "relayer/keyfile.h"
#include "relayer/sysrand.h"
#include "tests/lib/mosaicnet.h"
#include "tests/lib/promparse.h"

/* The first anvil dev key: in every test run, never to be logged. */
static const char DEV_KEY[] = "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";

struct key {
    char path[512], pw_path[512];
    char sk_hex[65];            /* the private key, lowercase hex, no 0x */
    char password[72];
    uint8_t addr[20];
    char addr_hex[43];          /* 0x + lowercase, as the metrics label it */
};

static struct {
    int ready;
    char *dir, *ci;
    PGconn *db;
    struct mn_net net;
    struct key fac, anc;
    char cfg[512], log[512];
    char good_cfg[8192];
    int port;
    int pid;
    int serving;                /* test_start saw it serve */
} F;

/* ------------------------------------------------------------ helpers -- */

static void write_file(const char *path, const char *text, mode_t mode)
{
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    chmod(path, mode);
}

/* A fresh keystore with a long random password; the private key and the
 * password are kept to scan the logs for them. */
static void new_key(const char *name, struct key *k)
{
    struct keyfile kf;
    struct mr_error err;
    uint8_t seed[32], sk[32], pw[20];
    secp256k1_context *kc;
    char hx[67];

    assert_int_equal(sys_random(seed, 32), 0);
    assert_int_equal(sys_random(sk, 32), 0);
    assert_int_equal(sys_random(pw, sizeof(pw)), 0);
    hex_encode_data(sk, 32, hx, sizeof(hx));
    snprintf(k->sk_hex, sizeof(k->sk_hex), "%s", hx + 2);
    hex_encode_data(pw, sizeof(pw), hx, sizeof(hx));
    snprintf(k->password, sizeof(k->password), "pw-%s", hx + 2);
    snprintf(k->path, sizeof(k->path), "%s/%s.json", F.dir, name);
    snprintf(k->pw_path, sizeof(k->pw_path), "%s/%s.pass", F.dir, name);
    kc = key_ctx_create(seed);
    if (keyfile_create(kc, sk, (const uint8_t *)k->password, strlen(k->password),
                       KEYFILE_LIGHT_SCRYPT_N, &kf, &err) != MR_OK ||
        keyfile_write_new(k->path, &kf, &err) != MR_OK)
        fail_msg("keystore: %s", err.msg);
    key_ctx_destroy(kc);
    memcpy(k->addr, kf.address, 20);
    hex_encode_data(k->addr, 20, k->addr_hex, sizeof(k->addr_hex));
    {
        char line[sizeof(k->password) + 2];
        snprintf(line, sizeof(line), "%s\n", k->password);
        write_file(k->pw_path, line, 0600);
    }
}

/* 10 ether from the deployer on both chains. */
static void fund(const uint8_t addr[20])
{
    struct u256 ten = cl_u256_e(10, 18);
    struct eth_receipt r;

    cl_send(&F.net.o, "fund", F.net.o_owner, addr, &ten, NULL, 0, &r);
    ethrpc_receipt_free(&r);
    cl_send(&F.net.a, "fund", F.net.a_owner, addr, &ten, NULL, 0, &r);
    ethrpc_receipt_free(&r);
}

static void hex20(const uint8_t a[20], char out[43])
{
    hex_encode_data(a, 20, out, 43);
}

static void make_config(void)
{
    char gw[43], cgw[43], oa[43], aa[43];

    hex20(F.net.gw, gw);
    hex20(F.net.cgw, cgw);
    hex20(F.net.o_anchor, oa);
    hex20(F.net.a_anchor, aa);
    snprintf(F.good_cfg, sizeof(F.good_cfg),
             "database: { url: \"postgresql://relayer@127.0.0.1/unused\" }  # --database\n"
             "chains:\n"
             "  origin:\n"
             "    role: origin\n"
             "    chain_id: 31337\n"
             "    endpoints: [\"%s\"]\n"
             "    finality: { confirmations: 0 }\n"
             "    poll_interval: 100ms\n"
             "    start_block: %llu\n"
             "  aux:\n"
             "    role: auxiliary\n"
             "    chain_id: 1405\n"
             "    endpoints: [\"%s\"]\n"
             "    finality: { confirmations: 0 }\n"
             "    poll_interval: 100ms\n"
             "    start_block: %llu\n"
             "gateways:\n"
             "  - name: pair1\n"
             "    origin: { chain: origin, gateway: \"%s\", anchor: \"%s\" }\n"
             "    auxiliary: { chain: aux, cogateway: \"%s\", anchor: \"%s\" }\n"
             "keys:\n"
             "  facilitator: { keystore: %s, password_file: %s }\n"
             "  anchor: { keystore: %s, password_file: %s }\n"
             "relayer:\n"
             "  flows: [stake, redeem, revert]\n"
             "  workers: 2\n"
             "  anchor: { enabled: true, max_interval: 1h }\n"
             "metrics: { listen: \"127.0.0.1:%d\" }\n"
             "log: { level: debug, format: json }\n",
             tv_anvil_url("ORIGIN"), (unsigned long long)cl_block_number(&F.net.o),
             tv_anvil_url("AUX"), (unsigned long long)cl_block_number(&F.net.a), gw, oa, cgw,
             aa, F.fac.path, F.fac.pw_path, F.anc.path, F.anc.pw_path, F.port);
    write_file(F.cfg, F.good_cfg, 0600);
}

static void exec_sql(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);

    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQerrorMessage(c));
    PQclear(r);
}

/* The secret of a hashlock handed out before the declaration, as the
 * users' tools register it: the watcher attaches it to the message. */
static void pending_secret(const struct mn_msg *m)
{
    char hl[67], sc[67], sql[300];

    hex_encode_data(m->hashlock, 32, hl, sizeof(hl));
    hex_encode_data(m->secret, 32, sc, sizeof(sc));
    snprintf(sql, sizeof(sql), "INSERT INTO mosaic.pending_secrets (hashlock, secret) VALUES"
             " ('\\x%s'::bytea, '\\x%s'::bytea)", hl + 2, sc + 2);
    exec_sql(F.db, sql);
}

static void url(char *out, size_t cap, const char *path)
{
    snprintf(out, cap, "http://127.0.0.1:%d%s", F.port, path);
}

static long get(const char *path, char **body)
{
    char u[128];

    url(u, sizeof(u), path);
    return tv_http_get(u, NULL, body, NULL, 0);
}

static void scrape(struct prom_scrape *s)
{
    char *body;

    assert_int_equal(get("/metrics", &body), 200);
    prom_parse_or_fail(body, s);
    free(body);
}

static double v(const struct prom_scrape *s, const char *fmt, ...) MR_PRINTF(2, 3);
static double v(const struct prom_scrape *s, const char *fmt, ...)
{
    char key[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(key, sizeof(key), fmt, ap);
    va_end(ap);
    return prom_val_or(s, key, 0);
}

/* Whether the process is still running. */
static int alive(void)
{
    int st;

    return waitpid((pid_t)F.pid, &st, WNOHANG) == 0;
}

static void print_log_tail(void)
{
    char *t = tv_slurp(F.log);
    size_t n = t != NULL ? strlen(t) : 0;

    print_message("--- relayer log (tail) ---\n%s\n",
                  t != NULL ? t + (n > 6000 ? n - 6000 : 0) : "");
    free(t);
}

static const char *state_of(const uint8_t mh[32], char *buf, size_t cap)
{
    char h[67], sql[256];
    PGresult *res;

    hex_encode_data(mh, 32, h, sizeof(h));
    snprintf(sql, sizeof(sql), "SELECT state || coalesce(': ' || halted_reason, '') FROM"
             " mosaic.messages WHERE message_hash = '\\x%s'::bytea", h + 2);
    res = PQexec(F.db, sql);
    snprintf(buf, cap, "%s", PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1
                                 ? PQgetvalue(res, 0, 0) : "(none)");
    PQclear(res);
    return buf;
}

/* Waits (at most 120 s) until the daemon completed the message. */
static void wait_completed(const uint8_t mh[32], const char *what)
{
    char buf[256];

    for (int i = 0; i < 1200; i++) {
        state_of(mh, buf, sizeof(buf));
        if (strcmp(buf, "completed") == 0)
            return;
        if (strncmp(buf, "halted", 6) == 0 || !alive())
            break;
        tv_sleep_ms(100);
    }
    print_log_tail();
    fail_msg("the %s is not completed: %s%s", what, state_of(mh, buf, sizeof(buf)),
             alive() ? "" : " (the relayer exited)");
}

/* Scrapes until cond(s) holds (the collector refreshes every interval),
 * at most 60 s; the last scrape stays in *s. */
static void scrape_until(struct prom_scrape *s, int (*cond)(const struct prom_scrape *),
                         const char *what)
{
    for (int i = 0; i < 300; i++) {
        scrape(s);
        if (cond(s))
            return;
        prom_free(s);
        tv_sleep_ms(200);
    }
    print_log_tail();
    fail_msg("metrics never showed %s", what);
}

/* The facilitator's balance on aux before the stake (its gas shows). */
static double fac_balance_before;

static double fac_balance(const struct prom_scrape *s)
{
    return v(s, "mosaic_signer_balance_ether{chain=\"aux\",address=\"%s\"}", F.fac.addr_hex);
}

/* One whole collection: the database families and the balances. */
static int collected(const struct prom_scrape *s)
{
    return prom_has(s, "mosaic_messages{flow=\"stake\",state=\"completed\"}") &&
           prom_has(s, "mosaic_chain_head_block{chain=\"origin\"}") && fac_balance(s) > 0;
}

static int stake_collected(const struct prom_scrape *s)
{
    return v(s, "mosaic_messages{flow=\"stake\",state=\"completed\"}") == 1 &&
           fac_balance(s) < fac_balance_before;
}

static int redeem_collected(const struct prom_scrape *s)
{
    return v(s, "mosaic_messages{flow=\"redeem\",state=\"completed\"}") == 1;
}

/* Waits (at most 60 s) until GET path answers `want`. */
static void wait_status(const char *path, long want)
{
    long code = 0;
    char u[128], *body = NULL;

    url(u, sizeof(u), path);
    for (int i = 0; i < 300; i++) {
        if (tv_http_try(u, &code, &body) && code == want) {
            free(body);
            return;
        }
        free(body);
        body = NULL;
        tv_sleep_ms(200);
    }
    print_log_tail();
    fail_msg("%s never answered %ld (last %ld)", path, want, code);
}

/* ------------------------------------------------------------- fixture -- */

static int setup(void **state)
{
    uint8_t zero[20] = {0};
    struct abi_value a;

    (void)state;
    if (tv_pg_base() == NULL || tv_anvil_url("ORIGIN") == NULL || tv_anvil_url("AUX") == NULL)
        return 0;
    F.dir = tv_tmpdir();
    F.db = tv_pg_migrated(&F.ci);
    snprintf(F.cfg, sizeof(F.cfg), "%s/relayer.yaml", F.dir);
    snprintf(F.log, sizeof(F.log), "%s/relayer.log", F.dir);
    mn_setup(&F.net, zero);
    new_key("facilitator", &F.fac);
    new_key("anchor", &F.anc);
    fund(F.fac.addr);
    fund(F.anc.addr);
    /* The anchor key is the organizations' admin: it may anchor roots. */
    a = abi_v_address(F.anc.addr);
    mn_tx(&F.net.o, NULL, F.net.o_owner, F.net.o_org, NULL, "setAdmin(address)", &a, 1, NULL);
    mn_tx(&F.net.a, NULL, F.net.a_owner, F.net.a_org, NULL, "setAdmin(address)", &a, 1, NULL);
    F.port = tv_free_port();
    make_config();
    F.ready = 1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    if (F.pid > 0 && alive()) {
        kill((pid_t)F.pid, SIGKILL);
        waitpid((pid_t)F.pid, NULL, 0);
    }
    if (F.ready)
        mn_teardown(&F.net);
    if (F.db != NULL)
        PQfinish(F.db);
    if (F.dir != NULL)
        tv_rmtree(F.dir);
    free(F.dir);
    free(F.ci);
    return 0;
}

#define REQUIRE()                                                              \
    do {                                                                       \
        (void)state;                                                           \
        TV_REQUIRE_PG();                                                       \
        TV_REQUIRE_ANVIL();                                                    \
        if (!F.ready)                                                          \
            fail_msg("setup did not complete");                                \
    } while (0)

/* The tests after test_start need the process it started. */
#define REQUIRE_RUNNING()                                                      \
    do {                                                                       \
        REQUIRE();                                                             \
        if (F.pid <= 0 || !F.serving)                                          \
            fail_msg("the relayer is not running");                            \
    } while (0)

/* --------------------------------------------------------------- tests -- */

/* Starts the relayer; it serves and becomes ready once its watchers have
 * caught up. */
static void test_start(void **state)
{
    const char *argv[] = {tv_bin(), "run", "--config", F.cfg, "--database", F.ci, NULL};
    char *body;

    REQUIRE();
    F.pid = tv_spawn(argv, F.log);
    tv_wait_text(F.log, "running: role all", 1);
    tv_wait_text(F.log, "serving /metrics", 1);
    assert_int_equal(get("/healthz", &body), 200);
    assert_string_equal(body, "ok\n");
    free(body);
    wait_status("/readyz", 200);
    assert_int_equal(get("/readyz", &body), 200);
    assert_non_null(strstr(body, "ready: 2 chains"));
    free(body);
    F.serving = 1;
}

/* A stake carried by the relayer: the metrics move. */
static void test_stake_moves_metrics(void **state)
{
    struct prom_scrape b, s;
    struct mn_msg m;
    const char *fa;
    double head_o, head_a, jobs, reqs;

    REQUIRE_RUNNING();
    fa = F.fac.addr_hex;
    scrape_until(&b, collected, "the database families");
    assert_true(v(&b, "mosaic_messages{flow=\"stake\",state=\"completed\"}") == 0);
    assert_true(v(&b, "process_start_time_seconds") > 1.6e9);
    head_o = prom_val(&b, "mosaic_chain_head_block{chain=\"origin\"}");
    head_a = prom_val(&b, "mosaic_chain_head_block{chain=\"aux\"}");
    jobs = v(&b, "mosaic_job_duration_seconds_count{kind=\"msg\",outcome=\"completed\"}");
    reqs = v(&b, "mosaic_rpc_request_duration_seconds_count{chain=\"origin\",endpoint=\"0\","
                 "method=\"eth_getLogs\"}");
    assert_true(reqs > 0); /* the watcher has read the chain already */
    fac_balance_before = fac_balance(&b);
    assert_true(fac_balance_before > 9.9 && fac_balance_before <= 10.0); /* funded with 10 */

    mn_new_msg(&m, 0, cl_u256_e(10, 18), 1, 1000000, F.net.redeemer);
    pending_secret(&m);
    mn_stake(&F.net, &m, NULL);
    wait_completed(m.mh, "stake");

    scrape_until(&s, stake_collected, "the stake completed and its gas paid");
    assert_true(v(&s, "mosaic_messages{flow=\"stake\",state=\"declared\"}") == 0);
    assert_true(v(&s, "mosaic_message_transitions_total{flow=\"stake\",state=\"confirming\"}") >=
                1);
    assert_true(v(&s, "mosaic_message_transitions_total{flow=\"stake\",state=\"progressing\"}") >=
                1);
    assert_true(v(&s, "mosaic_message_transitions_total{flow=\"stake\",state=\"completed\"}") ==
                1);
    assert_true(v(&s, "mosaic_job_duration_seconds_count{kind=\"msg\",outcome=\"completed\"}") >
                jobs);
    assert_true(v(&s, "mosaic_job_duration_seconds_count{kind=\"anchor\",outcome=\"completed\"}") +
                    v(&s, "mosaic_job_duration_seconds_count{kind=\"msg\",outcome=\"completed\"}") >
                jobs);
    assert_true(prom_val(&s, "mosaic_chain_head_block{chain=\"origin\"}") > head_o);
    assert_true(prom_val(&s, "mosaic_chain_head_block{chain=\"aux\"}") > head_a);
    assert_true(v(&s, "mosaic_watcher_lag_blocks{chain=\"aux\"}") <= 64);
    assert_true(v(&s, "mosaic_rpc_request_duration_seconds_count{chain=\"origin\",endpoint=\"0\","
                      "method=\"eth_getLogs\"}") > reqs);
    /* Transactions: the facilitator confirmed and progressed on aux and
     * progressed on origin; the anchor key anchored origin's root on aux;
     * all final, none failed, no replacement needed. */
    assert_true(v(&s, "mosaic_signer_next_nonce{chain=\"aux\",address=\"%s\"}", fa) >=
                v(&b, "mosaic_signer_next_nonce{chain=\"aux\",address=\"%s\"}", fa) + 3);
    assert_true(v(&s, "mosaic_signer_next_nonce{chain=\"origin\",address=\"%s\"}", fa) >=
                v(&b, "mosaic_signer_next_nonce{chain=\"origin\",address=\"%s\"}", fa) + 1);
    assert_true(v(&s, "mosaic_signer_next_nonce{chain=\"aux\",address=\"%s\"}",
                  F.anc.addr_hex) >= 1);
    assert_true(v(&s, "mosaic_signer_halted{chain=\"aux\",address=\"%s\"}", fa) == 0);
    assert_true(prom_val(&b, "mosaic_transactions_failed_total{chain=\"aux\"}") == 0);
    assert_true(prom_val(&s, "mosaic_transactions_failed_total{chain=\"aux\"}") == 0);
    assert_true(prom_val(&s, "mosaic_transactions_failed_total{chain=\"origin\"}") == 0);
    assert_true(prom_val(&s, "mosaic_transactions_replaced_total{chain=\"aux\"}") == 0);
    /* The gas paid shows in the balance (stake_collected waited for it). */
    assert_true(fac_balance(&s) < fac_balance_before && fac_balance(&s) > 9.0);
    /* The anchor the stake needed (origin's root on aux) was seen. */
    assert_true(prom_val(&s, "mosaic_anchor_height{chain=\"aux\",remote=\"origin\"}") > 0);
    assert_true(prom_val(&s, "mosaic_anchor_age_seconds{chain=\"aux\",remote=\"origin\"}") >= 0);
    assert_true(v(&s, "mosaic_proofs_rejected_total{chain=\"origin\",reason=\"proof\"}") == 0);
    assert_true(v(&s, "mosaic_metrics_collect_errors_total") == 0);
    prom_free(&b);
    prom_free(&s);
}

/* SIGHUP with a broken config: logged with file:line, the old config kept;
 * the process still serves and relays (the redeem below). */
static void test_broken_reload_keeps_running(void **state)
{
    char broken[8192], *body, *t, where[600];
    const char *p;

    REQUIRE_RUNNING();
    snprintf(broken, sizeof(broken), "%s", F.good_cfg);
    p = strstr(broken, "  workers: 2\n");
    assert_non_null(p);
    memcpy(broken + (p - broken), "  workers: x\n", 13);
    write_file(F.cfg, broken, 0600);
    kill((pid_t)F.pid, SIGHUP);
    tv_wait_text(F.log, "keeping the old config", 1);
    write_file(F.cfg, F.good_cfg, 0600);
    assert_true(alive());
    t = tv_slurp(F.log);
    {
        int line = 1; /* where relayer.workers is */
        for (const char *q = F.good_cfg; q < strstr(F.good_cfg, "  workers: 2\n"); q++)
            line += *q == '\n';
        snprintf(where, sizeof(where), "%s:%d:", F.cfg, line);
    }
    p = strstr(t, "keeping the old config");
    assert_non_null(p);
    while (p > t && p[-1] != '\n')
        p--;
    if (strstr(p, where) == NULL || strstr(p, "\"level\":\"error\"") == NULL)
        fail_msg("the refused reload does not say where (%s): %.*s", where,
                 (int)strcspn(p, "\n"), p);
    assert_null(strstr(t, "\"msg\":\"reloaded"));
    assert_null(strstr(t, "\"msg\":\"stopped\""));
    free(t);
    assert_int_equal(get("/healthz", &body), 200);
    free(body);
    assert_int_equal(get("/readyz", &body), 200);
    free(body);
}

/* The redeem of the minted tokens, carried with the old config. */
static void test_redeem_moves_metrics(void **state)
{
    struct prom_scrape b, s;
    struct mn_msg m;

    REQUIRE_RUNNING();
    scrape(&b);
    assert_true(v(&b, "mosaic_messages{flow=\"redeem\",state=\"completed\"}") == 0);
    mn_new_msg(&m, 0, cl_u256_e(1, 18), 1, 1000000, F.net.staker);
    pending_secret(&m);
    mn_redeem(&F.net, &m, NULL);
    wait_completed(m.mh, "redeem");
    scrape_until(&s, redeem_collected, "the redeem completed");
    assert_true(v(&s, "mosaic_message_transitions_total{flow=\"redeem\",state=\"completed\"}") ==
                1);
    assert_true(v(&s, "mosaic_messages{flow=\"stake\",state=\"completed\"}") == 1);
    assert_true(v(&s, "mosaic_anchor_height{chain=\"origin\",remote=\"aux\"}") > 0);
    assert_true(v(&s, "mosaic_job_duration_seconds_count{kind=\"msg\",outcome=\"completed\"}") >
                v(&b, "mosaic_job_duration_seconds_count{kind=\"msg\",outcome=\"completed\"}"));
    for (int c = 0; c < 2; c++) {
        const char *chain = c ? "aux" : "origin";
        static const char *const st[] = {"intent", "signed", "broadcast"};
        for (int k = 0; k < 3; k++)
            assert_true(v(&s, "mosaic_transactions_pending{chain=\"%s\",state=\"%s\"}", chain,
                          st[k]) == 0);
        assert_true(v(&s, "mosaic_transactions_failed_total{chain=\"%s\"}", chain) == 0);
    }
    prom_free(&b);
    prom_free(&s);
}

/* /readyz: 503 while the database refuses connections, 200 once back;
 * /healthz and /metrics answer throughout. */
static void test_readyz_database_gone(void **state)
{
    char sql[300], *body;
    const char *dbname;
    PGconn *admin;
    long code;
    struct prom_scrape s;

    REQUIRE_RUNNING();
    dbname = PQdb(F.db);
    admin = PQconnectdb(tv_pg_base());
    assert_int_equal(PQstatus(admin), CONNECTION_OK);
    snprintf(sql, sizeof(sql), "ALTER DATABASE \"%s\" WITH ALLOW_CONNECTIONS false", dbname);
    exec_sql(admin, sql);
    snprintf(sql, sizeof(sql), "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
             " WHERE datname = '%s' AND pid <> pg_backend_pid()", dbname);
    exec_sql(admin, sql);
    /* The first check may find its session killed, the next cannot connect:
     * both not ready, with the reason. */
    for (int i = 0; i < 2; i++) {
        code = get("/readyz", &body);
        if (code != 503 || strstr(body, "database") == NULL)
            fail_msg("/readyz with the database gone: %ld %s", code, body);
        free(body);
    }
    assert_int_equal(get("/healthz", &body), 200);
    free(body);
    scrape(&s);
    prom_free(&s);
    assert_true(alive());
    snprintf(sql, sizeof(sql), "ALTER DATABASE \"%s\" WITH ALLOW_CONNECTIONS true", dbname);
    exec_sql(admin, sql);
    PQfinish(admin);
    PQreset(F.db);
    assert_int_equal(PQstatus(F.db), CONNECTION_OK);
    wait_status("/readyz", 200);
}

/* Which of needles[n] (lowercase) occurs in text in any case, or -1.  A
 * needle given as bare hex is also found after "0x". */
static int leak(const char *text, const char *const *needles, size_t n)
{
    char *lower = strdup(text);
    int found = -1;

    assert_non_null(lower);
    for (char *q = lower; *q; q++)
        *q = (char)tolower((unsigned char)*q);
    for (size_t i = 0; i < n && found < 0; i++)
        if (strstr(lower, needles[i]) != NULL)
            found = (int)i;
    free(lower);
    return found;
}

/* SIGTERM: exit 0; then nothing secret anywhere in what it wrote. */
static void test_stop_and_scan_logs(void **state)
{
    /* keys 0-2, passwords 3-4 (and their random part 5-6), secrets 7... */
    static const char *const what[] = {"the facilitator's private key", "the anchor's private key",
                                       "anvil's first dev key", "a keystore password"};
    const char *needles[7 + 16];
    size_t n = 0;
    char *t, *line, *save = NULL, probe[128];
    PGresult *res;
    int n_secrets, lines = 0, bad = 0, with_mh = 0, with_tx = 0, with_nonce = 0, hit;

    REQUIRE_RUNNING();
    kill((pid_t)F.pid, SIGTERM);
    {
        int rc = tv_reap(F.pid);
        F.pid = 0;
        if (rc != 0) {
            print_log_tail();
            fail_msg("exit status %d after SIGTERM", rc);
        }
    }
    t = tv_slurp(F.log);
    assert_non_null(t);
    assert_true(strlen(t) > 1000);
    if (getenv("OBSERVE_LOG") != NULL) /* a copy to read, e.g. OBSERVE_LOG=/tmp/relayer.log */
        write_file(getenv("OBSERVE_LOG"), t, 0600);
    needles[n++] = F.fac.sk_hex;
    needles[n++] = F.anc.sk_hex;
    needles[n++] = DEV_KEY;
    needles[n++] = F.fac.password;
    needles[n++] = F.anc.password;
    needles[n++] = F.fac.password + 3;
    needles[n++] = F.anc.password + 3;
    res = PQexec(F.db, "SELECT encode(secret, 'hex') FROM mosaic.unlock_secrets");
    assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
    n_secrets = PQntuples(res);
    assert_true(n_secrets >= 2 && n_secrets <= 16); /* the stake's and the redeem's */
    for (int i = 0; i < n_secrets; i++)
        needles[n++] = PQgetvalue(res, i, 0);
    /* The scan finds what it looks for, in another case and after 0x. */
    snprintf(probe, sizeof(probe), "{\"msg\":\"0X%.64s\"}", needles[n - 1]);
    for (char *q = probe; *q; q++)
        *q = (char)toupper((unsigned char)*q);
    assert_int_equal(leak(probe, needles, n), (int)n - 1);
    hit = leak(t, needles, n);
    if (hit >= 0)
        fail_msg("%s is in the log", hit < 3 ? what[hit] : hit < 7 ? what[3] : "an unlock secret");
    PQclear(res);
    /* JSON lines, with the identity of what they speak of. */
    for (line = strtok_r(t, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
        json_error_t je;
        json_t *j = json_loads(line, 0, &je);
        if (j == NULL || !json_is_string(json_object_get(j, "level")) ||
            !json_is_string(json_object_get(j, "component")) ||
            !json_is_string(json_object_get(j, "msg"))) {
            print_message("not a log line: %s\n", line);
            bad++;
            json_decref(j);
            continue;
        }
        lines++;
        with_mh += json_object_get(j, "message_hash") != NULL &&
                   json_object_get(j, "job") != NULL;
        with_tx += json_object_get(j, "tx_hash") != NULL && json_object_get(j, "chain") != NULL;
        with_nonce += json_object_get(j, "nonce") != NULL;
        json_decref(j);
    }
    print_message("%d log lines scanned for 3 keys, 2 passwords and %d unlock secrets: none "
                  "found\n", lines, n_secrets);
    assert_int_equal(bad, 0);
    assert_true(with_mh > 0 && with_tx > 0 && with_nonce > 0);
    free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_start),
        cmocka_unit_test(test_stake_moves_metrics),
        cmocka_unit_test(test_broken_reload_keeps_running),
        cmocka_unit_test(test_redeem_moves_metrics),
        cmocka_unit_test(test_readyz_database_gone),
        cmocka_unit_test(test_stop_and_scan_logs),
    };
    int rc;

    signal(SIGPIPE, SIG_IGN);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    rc = cmocka_run_group_tests(tests, setup, teardown);
    curl_global_cleanup();
    return rc;
}
