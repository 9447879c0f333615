/*
 * test_usercmd_chain.c - `stake` and `redeem` against the project's real
 * gateway set, deployed with `mosaic-relayer deploy` onto the suite's two
 * test chains, run as the binary: the secret is registered and never
 * printed, the approvals and the declaration are mined and recorded through
 * the transaction manager, the gateway holds the message as Declared, and
 * the refusals (an unfinished previous message, the relayer's own key, a
 * balance too low) cost nothing.  Then `message show` once the watcher has
 * recorded the declaration.
 */
#include "tests/lib/testlib.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "chain/ethrpc.h"
#include "db/db.h"
#include "eth/abi.h"
#include "eth/address.h"
#include "eth/hex.h"
#include "eth/keccak.h"
#include "eth/key.h"
#include "eth/mosaic.h"
#include "relayer/cli.h"
#include "relayer/config.h"
#include "relayer/daemon.h"
#include "relayer/deploy.h"
#include "relayer/keyfile.h"
#include "relayer/log.h"
#include "relayer/watch_config.h"
#include "watchers/watcher.h"

struct net {
    char *dir, *ci, run[600];
    PGconn *db;
    struct rpc_endpoints *o, *a;
    struct config *cfg;                 /* the run config deploy wrote */
    uint8_t fac[20], anc[20], user[20];
    char user_hex[ADDRESS_TEXT_SIZE];
};

static json_t *rpc(struct rpc_endpoints *e, const char *method, json_t *params)
{
    json_t *res = NULL;
    struct mr_error err;

    if (rpc_call(e, method, params, &res, NULL, &err) != MR_OK)
        fail_msg("%s: %s", method, err.msg);
    return res;
}

static void set_balance(struct rpc_endpoints *e, const uint8_t addr[20])
{
    char a[ADDRESS_TEXT_SIZE];

    address_to_checksum(addr, a);
    json_decref(rpc(e, "anvil_setBalance", json_pack("[s, s]", a, "0x3635c9adc5dea00000")));
}

/* One view word: to.sig(arg) with an address or bytes32 argument. */
static void view(struct rpc_endpoints *e, const uint8_t to[20], const char *sig,
                 const uint8_t *arg, size_t arglen, uint8_t word[32])
{
    uint8_t data[4 + 32], sel[4], *out = NULL;
    size_t out_len = 0;
    struct mr_error err;

    assert_int_equal(abi_selector(sig, strlen(sig), sel, NULL), MR_OK);
    memcpy(data, sel, 4);
    memset(data + 4, 0, 32);
    if (arg != NULL)
        memcpy(data + 4 + 32 - arglen, arg, arglen);
    if (ethrpc_call(e, NULL, to, data, arg != NULL ? 36 : 4, "latest", &out, &out_len, NULL,
                    &err) != MR_OK)
        fail_msg("%s: %s", sig, err.msg);
    assert_true(out_len >= 32);
    memcpy(word, out, 32);
    free(out);
}

/* Keys, funds, and the gateway set deployed by the `user` key (who thereby
 * holds the value and base tokens). */
static void net_up(struct net *n)
{
    const char *urls[2] = {tv_anvil_url("ORIGIN"), tv_anvil_url("AUX")};
    struct mr_error err;

    memset(n, 0, sizeof(*n));
    n->dir = tv_tmpdir();
    n->db = tv_pg_migrated(&n->ci);
    tv_make_keystore(n->dir, "facilitator", n->fac);
    tv_make_keystore(n->dir, "anchor", n->anc);
    tv_make_keystore(n->dir, "user", n->user);
    address_to_checksum(n->user, n->user_hex);
    assert_int_equal(rpc_endpoints_new(&urls[0], 1, 31337, NULL, &n->o, &err), MR_OK);
    assert_int_equal(rpc_endpoints_new(&urls[1], 1, 1405, NULL, &n->a, &err), MR_OK);
    set_balance(n->o, n->fac);
    set_balance(n->a, n->fac);
    set_balance(n->o, n->anc);
    set_balance(n->a, n->anc);
    set_balance(n->o, n->user);
    set_balance(n->a, n->user);
    snprintf(n->run, sizeof(n->run), "%s/relayer.yaml", n->dir);
    n->cfg = tv_deploy_pair1(n->ci, n->dir, "user", 1, n->run);
    assert_int_equal(n->cfg->n_gateways, 1);
}

static void net_down(struct net *n)
{
    config_free(n->cfg);
    rpc_endpoints_free(n->o);
    rpc_endpoints_free(n->a);
    PQfinish(n->db);
    tv_rmtree(n->dir);
    free(n->dir);
    free(n->ci);
}

/* Runs `CMD --config run --key DIR/KEY.json --password-file ... --beneficiary
 * user --no-wait` (or, with follow, to the message's end). */
static int user_cli_ex(struct net *n, const char *cmd, const char *key, const char *amount,
                       int follow, char **out, char **err)
{
    char keyp[600], passp[600];
    const char *argv[] = {cmd, "--config", n->run, "--amount", amount, "--beneficiary",
                          n->user_hex, "--key", keyp, "--password-file", passp, "--timeout",
                          "120s", follow ? NULL : "--no-wait", NULL};

    snprintf(keyp, sizeof(keyp), "%s/%s.json", n->dir, key);
    snprintf(passp, sizeof(passp), "%s/%s.pass", n->dir, key);
    return tv_run_cli(argv, NULL, out, err);
}

static int user_cli(struct net *n, const char *cmd, const char *key, const char *amount,
                    char **out, char **err)
{
    return user_cli_ex(n, cmd, key, amount, 0, out, err);
}

static int64_t count(PGconn *c, const char *sql)
{
    return tv_pg_int64(c, sql);
}

/* The one secret registered for hashlock hl, as hex (malloc'd). */
static char *secret_of(PGconn *c, const uint8_t hl[32])
{
    const char *p[1] = {(const char *)hl};
    const int lens[1] = {32}, fmts[1] = {1};
    PGresult *r = PQexecParams(c, "SELECT encode(secret, 'hex') FROM mosaic.pending_secrets"
                                  " WHERE hashlock = $1", 1, NULL, p, lens, fmts, 0);
    char *s;

    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    assert_int_equal(PQntuples(r), 1);
    s = strdup(PQgetvalue(r, 0, 0));
    PQclear(r);
    return s;
}

/* Runs the watcher of `chain` (from block `start`) until it has caught up. */
static void watch(struct net *n, const char *chain, uint64_t start)
{
    struct watcher_config wc;
    struct watcher_result r;
    struct watcher *w = NULL;
    struct mr_error err;
    int idx = config_chain_index(n->cfg, chain);

    assert_true(idx >= 0);
    if (watch_config_from(n->cfg, (size_t)idx, &wc, &err) != MR_OK)
        fail_msg("watch_config_from: %s", err.msg);
    wc.start_block = start;
    if (watcher_open(&wc, &w, &err) != MR_OK)
        fail_msg("watcher_open: %s", err.msg);
    for (int i = 0; i < 10000; i++) {
        if (watcher_step(w, &r, &err) != MR_OK)
            fail_msg("watcher_step: %s", err.msg);
        if (r.outcome == WATCHER_IDLE) {
            watcher_close(w);
            return;
        }
    }
    fail_msg("the %s watcher did not catch up", chain);
}

/* Prints a query's rows to stderr, one line each (columns by " | "). */
static void dump_query(PGconn *c, const char *title, const char *sql)
{
    PGresult *r = PQexec(c, sql);

    fprintf(stderr, "-- %s\n", title);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        fprintf(stderr, "   (query failed: %s)\n", PQerrorMessage(c));
    } else {
        for (int i = 0; i < PQntuples(r); i++) {
            fputs("  ", stderr);
            for (int j = 0; j < PQnfields(r); j++)
                fprintf(stderr, "%s%s", j ? " | " : "",
                        PQgetisnull(r, i, j) ? "NULL" : PQgetvalue(r, i, j));
            fputc('\n', stderr);
        }
    }
    PQclear(r);
}

/* A followed command's output lacks an expected step: the whole output (on
 * stderr: cmocka's message buffer truncates), then what the display read
 * and what it was read from, and fails. */
static void fail_steps(struct net *n, const char *cmd, const char *want, const char *out,
                       const char *err)
{
    static const struct {
        const char *title, *sql;
    } dumps[] = {
        {"mosaic_dash.message_steps",
         "SELECT hash, step_order, step, chain_key, event, tx_hash, block_number, height"
         " FROM mosaic_dash.message_steps ORDER BY hash, step_order, block_number"},
        {"mosaic.messages",
         "SELECT '0x' || encode(message_hash, 'hex'), flow, state, declared_block,"
         " anchor_height, confirmed_block, source_done_block, target_done_block"
         " FROM mosaic.messages ORDER BY declared_block"},
        {"mosaic.anchors",
         "SELECT chain_key, remote_chain, block_height, '0x' || encode(tx_hash, 'hex'),"
         " observed_at FROM mosaic.anchors ORDER BY chain_key, block_height"},
        {"GatewayProven / StateRootAvailable events",
         "SELECT chain_key, kind, block_number, gateway_pair, fields::text,"
         " '0x' || encode(tx_hash, 'hex'), created_at FROM mosaic.events WHERE kind IN"
         " ('GatewayProven', 'StateRootAvailable') ORDER BY chain_key, block_number"},
        {"message_txs",
         "SELECT '0x' || encode(message_hash, 'hex'), tx_id, step, height"
         " FROM mosaic.message_txs ORDER BY tx_id"},
        {"shared transactions",
         "SELECT id, chain_key, purpose, state, receipt_status, included_block,"
         " substr(encode(calldata, 'hex'), 1, 72)"
         " FROM mosaic.transactions ORDER BY id"},
    };

    fprintf(stderr, "== %s: no '%s' in the output:\n%s\n== its stderr:\n%s\n", cmd, want, out,
            err);
    for (size_t i = 0; i < sizeof(dumps) / sizeof(dumps[0]); i++)
        dump_query(n->db, dumps[i].title, dumps[i].sql);
    fail_msg("%s: no '%s' (the full output is on stderr)", cmd, want);
}

static uint64_t head(struct rpc_endpoints *e)
{
    uint64_t h = 0;
    struct mr_error err;

    if (ethrpc_block_number(e, &h, NULL, &err) != MR_OK)
        fail_msg("eth_blockNumber: %s", err.msg);
    return h;
}

static void test_stake_and_redeem_no_wait(void **state)
{
    struct net n;
    char *out = NULL, *err = NULL, *sec, hx[67], stake_hx[67], stake_tx[67];
    uint64_t start_o, start_a;
    uint8_t mh[32], word[32], hl[32], raw[32], cogw[20], utok[20], sel[4], data[4 + 64];
    int64_t txs;
    (void)state;

    TV_REQUIRE_PG();
    TV_REQUIRE_ANVIL();
    {
        struct stat st;
        if (stat("build/contracts/EIP20Gateway.json", &st) != 0) {
            print_message("SKIP: the contracts are not built (make contracts)\n");
            skip();
        }
    }
    net_up(&n);
    start_o = head(n.o) + 1;
    start_a = head(n.a) + 1;

    /* stake --no-wait: the message hash alone on stdout, the steps on stderr. */
    if (user_cli(&n, "stake", "user", "1000", &out, &err) != 0)
        fail_msg("stake: %s%s", out, err);
    assert_int_equal(strlen(out), 67);
    assert_int_equal(out[66], '\n');
    out[66] = '\0';
    assert_int_equal(cli_parse_hash(out, mh, NULL), MR_OK);
    assert_non_null(strstr(err, "  approve    origin"));
    assert_non_null(strstr(err, "  stake      origin"));
    snprintf(hx, sizeof(hx), "message %s declared on origin", out);
    assert_non_null(strstr(err, hx));
    snprintf(stake_hx, sizeof(stake_hx), "%s", out);
    {
        const char *t = strstr(err, "  stake      origin");
        t = strstr(t, "tx 0x");
        assert_non_null(t);
        snprintf(stake_tx, sizeof(stake_tx), "%.66s", t + 3);
    }
    /* The gateway holds it as Declared, with the hashlock of the one secret
     * registered; the secret appears in no output. */
    view(n.o, n.cfg->gateways[0].origin.gateway, "getOutboxMessageStatus(bytes32)", mh, 32, word);
    assert_int_equal(word[31], MOSAIC_DECLARED);
    assert_int_equal(count(n.db, "SELECT count(*) FROM mosaic.pending_secrets"), 1);
    {
        PGresult *r = PQexec(n.db, "SELECT hashlock FROM mosaic.pending_secrets");
        size_t l = 0;
        unsigned char *b = PQunescapeBytea((const unsigned char *)PQgetvalue(r, 0, 0), &l);
        assert_int_equal(l, 32);
        memcpy(hl, b, 32);
        PQfreemem(b);
        PQclear(r);
    }
    sec = secret_of(n.db, hl);
    {
        size_t l = 0;
        uint8_t *b = tv_hex(sec, &l);
        assert_int_equal(l, 32);
        memcpy(raw, b, 32);
        free(b);
    }
    {
        uint8_t check[32];
        mosaic_hashlock(raw, check);
        assert_memory_equal(check, hl, 32);
    }
    assert_null(strstr(out, sec));
    assert_null(strstr(err, sec));
    free(out);
    free(err);
    /* Through the transaction manager: two approvals and the stake, mined. */
    assert_int_equal(count(n.db, "SELECT count(*) FROM mosaic.transactions WHERE chain_key ="
                                 " 'origin' AND purpose IN ('approve', 'stake') AND"
                                 " receipt_status = 1"), 3);
    txs = count(n.db, "SELECT count(*) FROM mosaic.transactions");

    /* Refusals before anything is sent. */
    assert_int_equal(user_cli(&n, "stake", "user", "1000", &out, &err), 2);
    assert_non_null(strstr(err, "previous stake"));
    assert_non_null(strstr(err, "is still Declared"));
    free(out);
    free(err);
    assert_int_equal(user_cli(&n, "stake", "facilitator", "1000", &out, &err), 2);
    assert_non_null(strstr(err, "the relayer's 'facilitator' key"));
    free(out);
    free(err);
    assert_int_equal(count(n.db, "SELECT count(*) FROM mosaic.transactions"), txs);
    assert_int_equal(count(n.db, "SELECT count(*) FROM mosaic.pending_secrets"), 1);

    /* A redeem: the user's utility tokens come from the co-gateway (played
     * here by impersonation, as the relayer's mint would). */
    memcpy(cogw, n.cfg->gateways[0].auxiliary.gateway, 20);
    view(n.a, cogw, "utilityToken()", NULL, 0, word);
    memcpy(utok, word + 12, 20);
    {
        char from[ADDRESS_TEXT_SIZE], to[ADDRESS_TEXT_SIZE], d[2 + 2 * sizeof(data) + 1];
        json_t *h;
        address_to_checksum(cogw, from);
        address_to_checksum(utok, to);
        json_decref(rpc(n.a, "anvil_impersonateAccount", json_pack("[s]", from)));
        set_balance(n.a, cogw);
        assert_int_equal(abi_selector("increaseSupply(address,uint256)", 31, sel, NULL), MR_OK);
        memcpy(data, sel, 4);
        memset(data + 4, 0, 64);
        memcpy(data + 4 + 12, n.user, 20);
        data[4 + 62] = 0x10; /* 4096 */
        hex_encode_data(data, sizeof(data), d, sizeof(d));
        h = rpc(n.a, "eth_sendTransaction",
                json_pack("[{s:s, s:s, s:s}]", "from", from, "to", to, "data", d));
        json_decref(h);
        json_decref(rpc(n.a, "anvil_stopImpersonatingAccount", json_pack("[s]", from)));
    }
    /* More than the user holds is refused before anything is sent. */
    assert_int_equal(user_cli(&n, "redeem", "user", "5000", &out, &err), 2);
    assert_non_null(strstr(err, "holds 4096 of the utility token"));
    free(out);
    free(err);
    if (user_cli(&n, "redeem", "user", "400", &out, &err) != 0)
        fail_msg("redeem: %s%s", out, err);
    out[66] = '\0';
    assert_int_equal(cli_parse_hash(out, mh, NULL), MR_OK);
    view(n.a, cogw, "getOutboxMessageStatus(bytes32)", mh, 32, word);
    assert_int_equal(word[31], MOSAIC_DECLARED);
    /* redeem{value: bounty}: the co-gateway's bounty went with it. */
    assert_int_equal(count(n.db, "SELECT value FROM mosaic.transactions WHERE purpose = 'redeem'"
                                 " AND receipt_status = 1"), 100);
    assert_int_equal(count(n.db, "SELECT count(*) FROM mosaic.pending_secrets"), 2);
    free(out);
    free(err);

    /* The balances: 1000 staked away on origin, 400 redeemed away on aux. */
    {
        const char *argv[] = {"balance", "--config", n.run, "--address", n.user_hex, NULL};
        assert_int_equal(tv_run_cli(argv, NULL, &out, &err), 0);
        assert_non_null(strstr(out, "pair1          value    "));
        assert_non_null(strstr(out, " 999999999999999999999999000\n"));
        assert_non_null(strstr(out, " 999999999999999999999999900\n")); /* base: the bounty */
        assert_non_null(strstr(out, "pair1          utility  "));
        assert_non_null(strstr(out, " 3696\n"));
        free(out);
        free(err);
    }

    /* Not recorded by a watcher yet: `message show` says so. */
    {
        const char *argv[] = {"message", "show", stake_hx, "--database", n.ci, NULL};
        assert_int_equal(tv_run_cli(argv, NULL, &out, &err), 1);
        assert_non_null(strstr(err, "no message"));
        free(out);
        free(err);
    }
    /* The watchers see both declarations: the secrets move to
     * unlock_secrets, and `message show` gives the declaration's chain,
     * transaction and block. */
    watch(&n, "origin", start_o);
    watch(&n, "aux", start_a);
    assert_int_equal(count(n.db, "SELECT count(*) FROM mosaic.pending_secrets"), 0);
    assert_int_equal(count(n.db, "SELECT count(*) FROM mosaic.unlock_secrets"), 2);
    {
        const char *argv[] = {"message", "show", stake_hx, "--config", n.run, NULL};
        assert_int_equal(tv_run_cli(argv, NULL, &out, &err), 0);
        assert_non_null(strstr(out, "flow           stake (pair pair1: origin -> aux)"));
        assert_non_null(strstr(out, "amount         1000\n"));
        snprintf(hx, sizeof(hx), "declared             origin     block ");
        assert_non_null(strstr(out, hx));
        assert_non_null(strstr(out, stake_tx));
        assert_non_null(strstr(out, "StakeIntentDeclared"));
        assert_non_null(strstr(out, "anchored             (not yet)"));
        assert_non_null(strstr(out, "waiting for    an anchor of origin's state root"));
        assert_null(strstr(out, sec));
        free(out);
        free(err);
    }
    {
        const char *argv[] = {"message", "list", "--config", n.run, NULL};
        assert_int_equal(tv_run_cli(argv, NULL, &out, &err), 0);
        assert_non_null(strstr(out, stake_hx));
        assert_non_null(strstr(out, "redeem pair1"));
        assert_non_null(strstr(out, "(2 messages)"));
        free(out);
        free(err);
    }
    free(sec);
    net_down(&n);
}

/* Followed to the end while the relayer runs (in this process): every step
 * printed as the watcher records it, then the statuses read on chain. */
static void test_stake_and_redeem_followed(void **state)
{
    static const char *const stake_steps[] = {
        "  declared             origin ", "  anchored             aux ", "  proven               aux ",
        "  confirmed            aux ", "  progressed (stake)   origin ", "  progressed (mint)    aux "};
    static const char *const redeem_steps[] = {
        "  declared             aux ", "  anchored             origin ", "  proven               origin ",
        "  confirmed            origin ", "  progressed (redeem)  aux ",
        "  progressed (unstake) origin "};
    struct daemon_opts o = {.conninfo = NULL, .role = DAEMON_ALL};
    struct daemon *d = NULL;
    struct mr_error e;
    struct net n;
    char *out = NULL, *err = NULL;
    (void)state;

    TV_REQUIRE_PG();
    TV_REQUIRE_ANVIL();
    {
        struct stat st;
        if (stat("build/contracts/EIP20Gateway.json", &st) != 0) {
            print_message("SKIP: the contracts are not built (make contracts)\n");
            skip();
        }
    }
    net_up(&n);
    o.conninfo = n.ci;
    log_setup(LOGL_ERROR, LOG_FORMAT_TEXT, STDERR_FILENO); /* the relayer in this process: quiet */
    if (daemon_start(n.cfg, &o, &d, &e) != MR_OK)
        fail_msg("daemon_start: %s", e.msg);
    if (user_cli_ex(&n, "stake", "user", "1000", 1, &out, &err) != 0)
        fail_msg("stake: %s%s", out, err);
    for (size_t i = 0; i < sizeof(stake_steps) / sizeof(stake_steps[0]); i++)
        if (strstr(out, stake_steps[i]) == NULL)
            fail_steps(&n, "stake", stake_steps[i], out, err);
    assert_non_null(strstr(out, "completed in "));
    assert_non_null(strstr(out, "on chain: origin outbox Progressed, aux inbox Progressed"));
    free(out);
    free(err);
    if (user_cli_ex(&n, "redeem", "user", "400", 1, &out, &err) != 0)
        fail_msg("redeem: %s%s", out, err);
    for (size_t i = 0; i < sizeof(redeem_steps) / sizeof(redeem_steps[0]); i++)
        if (strstr(out, redeem_steps[i]) == NULL)
            fail_steps(&n, "redeem", redeem_steps[i], out, err);
    assert_non_null(strstr(out, "on chain: aux outbox Progressed, origin inbox Progressed"));
    free(out);
    free(err);
    daemon_stop(d, NULL);
    /* Gas price 0: no reward; the beneficiary got exactly what was sent. */
    {
        const char *argv[] = {"balance", "--config", n.run, "--address", n.user_hex, NULL};
        assert_int_equal(tv_run_cli(argv, NULL, &out, &err), 0);
        assert_non_null(strstr(out, " 999999999999999999999999400\n")); /* value */
        assert_non_null(strstr(out, " 999999999999999999999999900\n")); /* base */
        assert_non_null(strstr(out, " 600\n"));                          /* utility */
        free(out);
        free(err);
    }
    net_down(&n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stake_and_redeem_no_wait),
        cmocka_unit_test(test_stake_and_redeem_followed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
