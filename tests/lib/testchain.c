/*
 * testchain.c - see testchain.h.
 */
#include "tests/lib/testchain.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "chain/ethrpc.h"
#include "eth/abi.h"
#include "eth/hex.h"
#include "tests/lib/testlib.h"

#define MAX_COMPILED 8

/* Compiled contracts of this process: file, contract, bytecode. */
static struct {
    char file[128], contract[64];
    char *code;
} compiled[MAX_COMPILED];
static int n_compiled;

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    long n;

    if (f == NULL)
        return NULL;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc((size_t)n + 3);
    assert_non_null(buf);
    buf[0] = '0';
    buf[1] = 'x';
    assert_int_equal(fread(buf + 2, 1, (size_t)n, f), (size_t)n);
    buf[n + 2] = '\0';
    fclose(f);
    while (n > 0 && (buf[n + 1] == '\n' || buf[n + 1] == ' '))
        buf[1 + n--] = '\0';
    return buf;
}

const char *tc_bytecode(const char *file, const char *contract)
{
    char cmd[1024], path[512], *dir, stem[256];

    for (int i = 0; i < n_compiled; i++)
        if (strcmp(compiled[i].file, file) == 0 && strcmp(compiled[i].contract, contract) == 0)
            return compiled[i].code;
    assert_true(n_compiled < MAX_COMPILED);
    dir = tv_tmpdir();
    snprintf(cmd, sizeof(cmd),
             "node deploy/node_modules/solc/solc.js --bin --optimize -o %s tests/contracts/%s"
             " >%s/solc.log 2>&1",
             dir, file, dir);
    if (system(cmd) != 0)
        fail_msg("solc failed on tests/contracts/%s (see %s/solc.log)", file, dir);
    /* solc-js names outputs after the path: tests_contracts_F_sol_C.bin */
    snprintf(stem, sizeof(stem), "%s", file);
    for (char *s = stem; *s; s++)
        if (*s == '.' || *s == '/')
            *s = '_';
    snprintf(path, sizeof(path), "%s/tests_contracts_%s_%s.bin", dir, stem, contract);
    compiled[n_compiled].code = slurp(path);
    if (compiled[n_compiled].code == NULL)
        fail_msg("solc wrote no %s", path);
    snprintf(compiled[n_compiled].file, sizeof(compiled[n_compiled].file), "%s", file);
    snprintf(compiled[n_compiled].contract, sizeof(compiled[n_compiled].contract), "%s", contract);
    tv_rmtree(dir);
    free(dir);
    return compiled[n_compiled++].code;
}

void tc_open(struct tc *c, const char *url, uint64_t chain_id, int account)
{
    struct mr_error err;
    json_t *accts;
    const char *a;

    memset(c, 0, sizeof(*c));
    snprintf(c->url, sizeof(c->url), "%s", url);
    if (rpc_endpoints_new(&url, 1, chain_id, NULL, &c->rpc, &err) != MR_OK)
        fail_msg("rpc: %s", err.msg);
    accts = tc_rpc(c, "eth_accounts", "[]");
    a = json_string_value(json_array_get(accts, (size_t)account));
    assert_non_null(a);
    assert_int_equal(hex_decode_fixed(a, strlen(a), c->from, 20, NULL), MR_OK);
    json_decref(accts);
}

void tc_close(struct tc *c)
{
    rpc_endpoints_free(c->rpc);
    c->rpc = NULL;
}

json_t *tc_rpc(struct tc *c, const char *method, const char *params)
{
    struct mr_error err;
    json_error_t jerr;
    json_t *p = json_loads(params, 0, &jerr), *res = NULL;

    if (p == NULL)
        fail_msg("%s params: %s", method, jerr.text);
    if (rpc_call(c->rpc, method, p, &res, NULL, &err) != MR_OK)
        fail_msg("%s: %s", method, err.msg);
    return res;
}

/* eth_sendTransaction, then the receipt.  Out: *r (caller frees). */
static void send_tx(struct tc *c, const uint8_t *to, const char *data_hex, uint64_t value,
                    struct eth_receipt *r)
{
    struct mr_error err;
    char from[43], toh[43], val[24];
    json_t *params, *res = NULL;
    uint8_t h[32];

    hex_encode_data(c->from, 20, from, sizeof(from));
    hex_encode_quantity_u64(value, val, sizeof(val));
    params = json_pack("[{s:s, s:s, s:s, s:s}]", "from", from, "data", data_hex, "gas", "0x1c9c380",
                       "value", val);
    if (to != NULL) {
        hex_encode_data(to, 20, toh, sizeof(toh));
        json_object_set_new(json_array_get(params, 0), "to", json_string(toh));
    }
    if (rpc_call(c->rpc, "eth_sendTransaction", params, &res, NULL, &err) != MR_OK)
        fail_msg("eth_sendTransaction: %s", err.msg);
    assert_int_equal(hex_decode_fixed(json_string_value(res), strlen(json_string_value(res)), h,
                                      32, NULL),
                     MR_OK);
    json_decref(res);
    for (int tries = 0;; tries++) {
        int rc = ethrpc_get_receipt(c->rpc, h, r, NULL, &err);
        if (rc == MR_OK)
            break;
        ethrpc_receipt_free(r);
        if (rc != MR_ERR_NOTFOUND || tries > 200)
            fail_msg("receipt: %s", err.msg);
        nanosleep(&(struct timespec){0, 20000000L}, NULL);
    }
    if (r->status != 1)
        fail_msg("transaction reverted (to %s)", to ? toh : "creation");
}

void tc_deploy(struct tc *c, const char *bytecode, const uint8_t *args, size_t len,
               uint8_t addr[20])
{
    size_t blen = strlen(bytecode);
    char *data = malloc(blen + 2 * len + 3), *tail = malloc(2 * len + 3);
    struct eth_receipt r;

    assert_non_null(data);
    assert_non_null(tail);
    hex_encode_data(args, len, tail, 2 * len + 3);
    memcpy(data, bytecode, blen);
    strcpy(data + blen, tail + 2); /* the arguments follow the code, without "0x" */
    send_tx(c, NULL, data, 0, &r);
    free(data);
    free(tail);
    assert_true(r.has_contract_address);
    memcpy(addr, r.contract_address, 20);
    ethrpc_receipt_free(&r);
}

uint64_t tc_send(struct tc *c, const uint8_t to[20], const uint8_t *data, size_t len,
                 uint8_t txhash[32])
{
    return tc_send_value(c, to, data, len, 0, txhash);
}

void tc_call_word(struct tc *c, const uint8_t to[20], const uint8_t *data, size_t len,
                  size_t word, uint8_t out[32])
{
    struct mr_error err;
    uint8_t *ret = NULL;
    size_t n = 0;

    if (ethrpc_call(c->rpc, NULL, to, data, len, "latest", &ret, &n, NULL, &err) != MR_OK)
        fail_msg("eth_call: %s", err.msg);
    assert_true(n >= 32 * (word + 1));
    memcpy(out, ret + 32 * word, 32);
    free(ret);
}

void tc_set_balance(struct tc *c, const uint8_t addr[20], const char *wei_hex)
{
    char a[43], p[160];

    hex_encode_data(addr, 20, a, sizeof(a));
    snprintf(p, sizeof(p), "[\"%s\", \"%s\"]", a, wei_hex);
    json_decref(tc_rpc(c, "anvil_setBalance", p));
}

void tc_impersonate(struct tc *c, const uint8_t addr[20])
{
    char a[43], p[64];

    hex_encode_data(addr, 20, a, sizeof(a));
    snprintf(p, sizeof(p), "[\"%s\"]", a);
    json_decref(tc_rpc(c, "anvil_impersonateAccount", p));
    tc_set_balance(c, addr, "0x3635c9adc5dea00000"); /* 1000 ether */
    memcpy(c->from, addr, 20);
}

uint64_t tc_send_value(struct tc *c, const uint8_t to[20], const uint8_t *data, size_t len,
                       uint64_t value, uint8_t txhash[32])
{
    char *hex = malloc(2 * len + 3);
    struct eth_receipt r;
    uint64_t bn;

    assert_non_null(hex);
    hex_encode_data(data, len, hex, 2 * len + 3);
    send_tx(c, to, hex, value, &r);
    free(hex);
    bn = r.block_number;
    if (txhash != NULL)
        memcpy(txhash, r.tx_hash, 32);
    ethrpc_receipt_free(&r);
    return bn;
}

void tc_word_u64(uint8_t w[32], uint64_t v)
{
    memset(w, 0, 32);
    for (int i = 0; i < 8; i++)
        w[31 - i] = (uint8_t)(v >> (8 * i));
}

void tc_word_addr(uint8_t w[32], const uint8_t a[20])
{
    memset(w, 0, 12);
    memcpy(w + 12, a, 20);
}

size_t tc_calldata(const char *sig, const uint8_t (*words)[32], size_t n, uint8_t *out)
{
    assert_int_equal(abi_selector(sig, strlen(sig), out, NULL), MR_OK);
    for (size_t i = 0; i < n; i++)
        memcpy(out + 4 + 32 * i, words[i], 32);
    return 4 + 32 * n;
}

uint64_t tc_head(struct tc *c)
{
    struct mr_error err;
    uint64_t n;

    if (ethrpc_block_number(c->rpc, &n, NULL, &err) != MR_OK)
        fail_msg("eth_blockNumber: %s", err.msg);
    return n;
}

void tc_mine(struct tc *c, unsigned n)
{
    char p[32];

    snprintf(p, sizeof(p), "[\"0x%x\"]", n);
    json_decref(tc_rpc(c, "anvil_mine", p));
}

void tc_reorg(struct tc *c, unsigned depth)
{
    char p[32];

    snprintf(p, sizeof(p), "[%u, []]", depth);
    json_decref(tc_rpc(c, "anvil_reorg", p));
}

char *tc_anvil_start(const char *name, uint64_t chain_id, char url[256])
{
    char cmd[512], line[512];
    char *dir = tv_tmpdir();
    FILE *p;
    int ok = 0;

    snprintf(cmd, sizeof(cmd), "sh tests/anvil-harness.sh start %s/anvil %s %llu 2>/dev/null", dir,
             name, (unsigned long long)chain_id);
    p = popen(cmd, "r");
    while (p != NULL && fgets(line, sizeof(line), p) != NULL) {
        char *q = strstr(line, "_URL='");
        if (q != NULL) {
            char *end = strchr(q + 6, '\'');
            if (end != NULL) {
                *end = '\0';
                snprintf(url, 256, "%s", q + 6);
                ok = 1;
            }
        }
    }
    if (p == NULL || pclose(p) != 0 || !ok) {
        tv_rmtree(dir);
        free(dir);
        return NULL;
    }
    return dir;
}

void tc_anvil_stop(char *dir)
{
    char cmd[512];

    if (dir == NULL)
        return;
    snprintf(cmd, sizeof(cmd), "sh tests/anvil-harness.sh stop %s/anvil", dir);
    if (system(cmd) != 0)
        print_message("note: stopping the dedicated anvil failed\n");
    tv_rmtree(dir);
    free(dir);
}
