/*
 * txmfx.c - see txmfx.h.
 */
#include "tests/lib/txmfx.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "chain/rpc.h"
#include "db/db.h"
#include "eth/key.h"
#include "relayer/keyfile.h"
#include "tests/lib/faultproxy.h"

int txmfx_open(struct txmfx *f, const char *sk_hex, const char *url)
{
    struct mr_error err;
    struct keyfile kf;
    uint8_t seed[32] = {9}, *sk;
    secp256k1_context *ctx;
    size_t n;
    FILE *fp;

    memset(f, 0, sizeof(*f));
    if (tv_pg_base() == NULL || tv_anvil_url("ORIGIN") == NULL)
        return -1;
    if (url == NULL)
        url = tv_anvil_url("ORIGIN");
    f->dir = tv_tmpdir();
    f->key_path = malloc(strlen(f->dir) + 16);
    f->pw_path = malloc(strlen(f->dir) + 16);
    sprintf(f->key_path, "%s/k.json", f->dir);
    sprintf(f->pw_path, "%s/k.pass", f->dir);
    ctx = key_ctx_create(seed);
    sk = tv_hex(sk_hex, &n);
    if (keyfile_create(ctx, sk, (const uint8_t *)"pw", 2, KEYFILE_LIGHT_SCRYPT_N, &kf, &err) ||
        keyfile_write_new(f->key_path, &kf, &err))
        fail_msg("keystore: %s", err.msg);
    free(sk);
    key_ctx_destroy(ctx);
    fp = fopen(f->pw_path, "w");
    fputs("pw\n", fp);
    fclose(fp);
    chmod(f->pw_path, 0600);
    f->db = tv_pg_migrated(&f->ci);
    if (db_exec(f->db, "INSERT INTO chains (chain_key, chain_id, role) VALUES ('origin', 31337, "
                       "'origin')", &err) ||
        rpc_endpoints_new(&url, 1, 31337, NULL, &f->rpc, &err) ||
        signer_open(f->key_path, f->pw_path, f->ci, &f->signer, &err))
        fail_msg("setup: %s", err.msg);
    f->t.cfg.chain_key = "origin";
    f->t.cfg.chain_id = 31337;
    f->t.cfg.confirmations = 2;
    u256_from_u64(&f->t.cfg.max_fee_cap, 500000000000ULL);
    u256_from_u64(&f->t.cfg.tip_cap, 100000000000ULL);
    f->t.cfg.stuck_after_ms = 60000;
    f->t.cfg.bump_percent = 12;
    f->t.db = f->db;
    f->t.rpc = f->rpc;
    f->t.signer = f->signer;
    return 0;
}

void txmfx_close(struct txmfx *f)
{
    if (f->rpc != NULL) {
        txmfx_anvil(f->rpc, "evm_setAutomine", "[true]");
        rpc_endpoints_free(f->rpc);
    }
    signer_close(f->signer);
    if (f->db != NULL)
        PQfinish(f->db);
    if (f->dir != NULL)
        tv_rmtree(f->dir);
    free(f->dir);
    free(f->key_path);
    free(f->pw_path);
    free(f->ci);
    memset(f, 0, sizeof(*f));
}

void txmfx_release(struct txmfx *f)
{
    signer_close(f->signer);
    f->signer = NULL;
    f->t.signer = NULL;
}

void txmfx_signer(struct txmfx *f)
{
    struct mr_error err;

    for (int i = 0; i < 100; i++) {
        if (signer_open(f->key_path, f->pw_path, f->ci, &f->signer, &err) == MR_OK) {
            f->t.signer = f->signer;
            return;
        }
        usleep(100000);
    }
    fail_msg("signer: %s", err.msg);
}

void txmfx_anvil(struct rpc_endpoints *rpc, const char *method, const char *params)
{
    struct mr_error err;
    json_t *res = NULL;

    if (rpc_call(rpc, method, json_loads(params, 0, NULL), &res, NULL, &err) != MR_OK)
        fail_msg("%s: %s", method, err.msg);
    json_decref(res);
}

char *txmfx_anvil_str(struct rpc_endpoints *rpc, const char *method, const char *params)
{
    struct mr_error err;
    json_t *res = NULL;
    char *out;

    if (rpc_call(rpc, method, json_loads(params, 0, NULL), &res, NULL, &err) != MR_OK)
        fail_msg("%s: %s", method, err.msg);
    if (!json_is_string(res))
        fail_msg("%s: not a string", method);
    out = strdup(json_string_value(res));
    json_decref(res);
    return out;
}

void txmfx_drain(struct txmfx *f, int rounds)
{
    struct mr_error err;
    size_t left = 1;

    for (int i = 0; i < rounds && left > 0; i++) {
        if (txm_poll(&f->t, &left, &err) != MR_OK)
            fail_msg("poll: %s", err.msg);
        if (left > 0)
            txmfx_anvil(f->rpc, "anvil_mine", "[1]");
    }
    assert_int_equal(left, 0);
}

static void dump_rows(PGconn *db, const char *title, const char *sql)
{
    PGresult *res = PQexec(db, sql);

    fprintf(stderr, "-- %s:\n", title);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        fprintf(stderr, "   (query failed: %s)\n", PQerrorMessage(db));
        PQclear(res);
        return;
    }
    for (int r = 0; r < PQntuples(res); r++) {
        fputs("  ", stderr);
        for (int c = 0; c < PQnfields(res); c++)
            fprintf(stderr, " %s=%s", PQfname(res, c),
                    PQgetisnull(res, r, c) ? "NULL" : PQgetvalue(res, r, c));
        fputc('\n', stderr);
    }
    if (PQntuples(res) == 0)
        fputs("   (none)\n", stderr);
    PQclear(res);
}

/* One chain reading for txmfx_dump: the result as JSON text, or the error. */
static void dump_chain(struct rpc_endpoints *rpc, const char *what, const char *method,
                       const char *params)
{
    struct mr_error err;
    json_t *res = NULL;
    char *text;

    if (rpc_call(rpc, method, json_loads(params, 0, NULL), &res, NULL, &err) != MR_OK) {
        fprintf(stderr, "   %s: error: %s\n", what, err.msg);
        return;
    }
    if (json_is_object(res) && json_object_get(res, "number") != NULL) {
        json_t *b = json_pack("{sOsO*}", "number", json_object_get(res, "number"), "hash",
                              json_object_get(res, "hash"));
        json_decref(res);
        res = b;
    }
    text = json_dumps(res, JSON_ENCODE_ANY | JSON_COMPACT);
    fprintf(stderr, "   %s: %s\n", what, text != NULL ? text : "?");
    free(text);
    json_decref(res);
}

void txmfx_dump(struct txmfx *f, const char *why)
{
    char params[120];

    fprintf(stderr, "== txm state after a failure (%s)\n", why);
    if (f->db != NULL) {
        if (PQtransactionStatus(f->db) != PQTRANS_IDLE) /* a failed test left one open */
            PQclear(PQexec(f->db, "ROLLBACK"));
        dump_rows(f->db, "transactions", "SELECT id, nonce, state, purpose, included_block, "
                  "receipt_status, encode(mined_tx_hash, 'hex') AS mined, error, "
                  "to_char(updated_at, 'HH24:MI:SS.MS') AS updated FROM transactions ORDER BY id");
        dump_rows(f->db, "tx_attempts", "SELECT tx_id, attempt, encode(tx_hash, 'hex') AS hash, "
                  "max_fee, max_priority_fee, to_char(broadcast_at, 'HH24:MI:SS.MS') AS broadcast "
                  "FROM tx_attempts ORDER BY tx_id, attempt");
        dump_rows(f->db, "signer_nonces", "SELECT chain_key, next_nonce, halted_reason FROM "
                  "signer_nonces");
        dump_rows(f->db, "alerts", "SELECT severity, component, subject, message FROM alerts "
                  "ORDER BY id");
    }
    if (f->rpc != NULL && f->signer != NULL) {
        char *a = tv_tohex(signer_address(f->signer), 20);
        fprintf(stderr, "-- chain (key %s):\n", a);
        snprintf(params, sizeof(params), "[\"%s\", \"latest\"]", a);
        dump_chain(f->rpc, "nonce latest", "eth_getTransactionCount", params);
        snprintf(params, sizeof(params), "[\"%s\", \"pending\"]", a);
        dump_chain(f->rpc, "nonce pending", "eth_getTransactionCount", params);
        free(a);
    }
    if (f->rpc != NULL) {
        dump_chain(f->rpc, "head", "eth_blockNumber", "[]");
        dump_chain(f->rpc, "finalized", "eth_getBlockByNumber", "[\"finalized\", false]");
        dump_chain(f->rpc, "automine", "anvil_getAutomine", "[]");
        dump_chain(f->rpc, "pool", "txpool_content", "[]");
    }
}

struct txs_intent txmfx_call(void)
{
    static const uint8_t to[20] = {0x11, 0x11};
    struct txs_intent in;

    memset(&in, 0, sizeof(in));
    in.purpose = "test";
    in.to = to;
    in.gas_limit = 50000;
    return in;
}

int txmfx_open_proxied(struct txmfx *f, struct fproxy **p, const char *sk_hex)
{
    *p = NULL;
    if (tv_anvil_url("ORIGIN") == NULL || tv_pg_base() == NULL)
        return 0;
    *p = fproxy_start(tv_anvil_url("ORIGIN"));
    assert_non_null(*p);
    return txmfx_open(f, sk_hex, fproxy_url(*p)) == 0;
}

void txmfx_close_proxied(struct txmfx *f, struct fproxy *p, int ready)
{
    if (ready) {
        fproxy_clear(p);
        txmfx_close(f);
    }
    fproxy_stop(p);
}
