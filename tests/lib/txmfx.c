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
