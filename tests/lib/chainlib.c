/*
 * chainlib.c - contract test helpers on the suite's anvil chains (see
 * chainlib.h).
 */
#include "chainlib.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "eth/hex.h"
#include "relayer/sysrand.h"
#include "tests/lib/testlib.h"

/* Gas limit of the helpers' transactions: above any single call of the
 * flows (deployments included), well below anvil's 30M block. */
#define CL_TX_GAS 12000000
/* How long a receipt may take under automine before the test fails. */
#define CL_RECEIPT_WAIT_MS 60000

const char *cl_contracts_dir(void)
{
    const char *d = getenv("MR_CONTRACTS_DIR");

    return d != NULL && d[0] != '\0' ? d : "build/contracts";
}

void cl_artifact(const char *name, struct artifact *a)
{
    char path[512];
    struct mr_error err;

    snprintf(path, sizeof(path), "%s/%s.json", cl_contracts_dir(), name);
    if (artifact_load(path, a, &err) != MR_OK)
        fail_msg("contract artifact %s: %s (make test builds them: make contracts)", path, err.msg);
}

void cl_open(struct cl_chain *c, const char *label)
{
    const char *url = tv_anvil_url(label);
    struct mr_error err;

    memset(c, 0, sizeof(*c));
    snprintf(c->label, sizeof(c->label), "%s", label);
    if (url == NULL)
        fail_msg("no URL for test chain %s", label);
    /* The chain ids tests/run-tests.sh gives the suite's chains. */
    c->chain_id = strcmp(label, "AUX") == 0 ? 1405 : 31337;
    snprintf(c->url, sizeof(c->url), "%s", url);
    if (rpc_endpoints_new(&url, 1, c->chain_id, NULL, &c->ep, &err) != MR_OK)
        fail_msg("%s: %s", label, err.msg);
    rpc_endpoints_set_timeouts(c->ep, 0, 60000);
}

void cl_open_url(struct cl_chain *c, const char *label, const char *url, uint64_t chain_id)
{
    struct mr_error err;

    memset(c, 0, sizeof(*c));
    snprintf(c->label, sizeof(c->label), "%s", label);
    c->chain_id = chain_id;
    snprintf(c->url, sizeof(c->url), "%s", url);
    if (rpc_endpoints_new(&url, 1, c->chain_id, NULL, &c->ep, &err) != MR_OK)
        fail_msg("%s: %s", label, err.msg);
    rpc_endpoints_set_timeouts(c->ep, 0, 60000);
}

void cl_close(struct cl_chain *c)
{
    rpc_endpoints_free(c->ep);
    c->ep = NULL;
}

char *cl_anvil_start(const char *name, uint64_t chain_id, char url[256])
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

void cl_anvil_stop(char *dir)
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

/* Calls method(params) and returns the result (new reference); fails the
 * test on any error.  params is stolen. */
static json_t *call(struct cl_chain *c, const char *method, json_t *params)
{
    json_t *res = NULL;
    struct rpc_detail d;
    struct mr_error err;

    if (rpc_call(c->ep, method, params, &res, &d, &err) != MR_OK)
        fail_msg("%s %s: %s", c->label, method, err.msg);
    return res;
}

static json_t *jhex(const uint8_t *data, size_t len)
{
    char *s = malloc(2 * len + 3);
    json_t *v;

    assert_non_null(s);
    hex_encode_data(data, len, s, 2 * len + 3);
    v = json_string(s);
    free(s);
    return v;
}

static json_t *jquantity(const struct u256 *q)
{
    char s[80];

    hex_encode_quantity(q, s, sizeof(s));
    return json_string(s);
}

void cl_dev_account(struct cl_chain *c, int index, uint8_t addr[20])
{
    json_t *accts = call(c, "eth_accounts", json_array());
    const char *a = json_string_value(json_array_get(accts, (size_t)index));

    if (a == NULL || hex_decode_fixed(a, strlen(a), addr, 20, NULL) != MR_OK)
        fail_msg("%s eth_accounts: no dev account %d", c->label, index);
    json_decref(accts);
}

void cl_new_account(struct cl_chain *c, uint64_t ether, uint8_t addr[20])
{
    struct u256 wei = cl_u256_e(ether, 18);

    assert_int_equal(sys_random(addr, 20), 0);
    addr[0] |= 0x10; /* never a precompile or the zero address */
    json_decref(call(c, "anvil_setBalance", json_pack("[oo]", jhex(addr, 20), jquantity(&wei))));
    json_decref(call(c, "anvil_impersonateAccount", json_pack("[o]", jhex(addr, 20))));
}

void cl_fund_account(struct cl_chain *c, uint64_t ether, const uint8_t addr[20])
{
    struct u256 wei = cl_u256_e(ether, 18);

    json_decref(call(c, "anvil_setBalance", json_pack("[oo]", jhex(addr, 20), jquantity(&wei))));
    json_decref(call(c, "anvil_impersonateAccount", json_pack("[o]", jhex(addr, 20))));
}

static json_t *tx_object_gas(const uint8_t from[20], const uint8_t *to, const struct u256 *value,
                             const uint8_t *data, size_t len, uint64_t gas_limit)
{
    json_t *tx = json_object();
    struct u256 gas = cl_u256(gas_limit);

    json_object_set_new(tx, "from", jhex(from, 20));
    if (to != NULL)
        json_object_set_new(tx, "to", jhex(to, 20));
    if (value != NULL)
        json_object_set_new(tx, "value", jquantity(value));
    json_object_set_new(tx, "data", jhex(data, len));
    json_object_set_new(tx, "gas", jquantity(&gas));
    return tx;
}

static json_t *tx_object(const uint8_t from[20], const uint8_t *to, const struct u256 *value,
                         const uint8_t *data, size_t len)
{
    return tx_object_gas(from, to, value, data, len, CL_TX_GAS);
}

/* Replays a failed transaction with eth_call for its revert reason. */
static void revert_reason(struct cl_chain *c, const uint8_t from[20], const uint8_t *to,
                          const struct u256 *value, const uint8_t *data, size_t len,
                          uint64_t block, char *out, size_t cap)
{
    char id[ETHRPC_BLOCK_ID_LEN];
    json_t *res = NULL;
    struct rpc_detail d;
    struct mr_error err;
    int rc;

    ethrpc_block_id(block, id);
    rc = rpc_call(c->ep, "eth_call",
                  json_pack("[os]", tx_object(from, to, value, data, len), id), &res, &d, &err);
    json_decref(res);
    if (rc == MR_OK)
        snprintf(out, cap, "(no revert when replayed)");
    else if (d.kind == RPC_KIND_REVERTED)
        snprintf(out, cap, "%s", d.revert_reason);
    else
        snprintf(out, cap, "(replay failed: %s)", err.msg);
}

static void wait_receipt(struct cl_chain *c, const char *what, const uint8_t hash[32],
                         struct eth_receipt *r)
{
    struct timespec ts = {0, 5 * 1000 * 1000};
    struct mr_error err;

    for (int waited = 0; waited < CL_RECEIPT_WAIT_MS; waited += 5) {
        int rc = ethrpc_get_receipt(c->ep, hash, r, NULL, &err);

        if (rc == MR_OK)
            return;
        ethrpc_receipt_free(r);
        if (rc != MR_ERR_NOTFOUND)
            fail_msg("%s %s: receipt: %s", c->label, what, err.msg);
        nanosleep(&ts, NULL);
    }
    fail_msg("%s %s: no receipt after %d ms (is the chain mining?)", c->label, what,
             CL_RECEIPT_WAIT_MS);
}

int cl_send_try(struct cl_chain *c, const char *what, const uint8_t from[20], const uint8_t *to,
                const struct u256 *value, const uint8_t *data, size_t len, struct eth_receipt *r,
                char *reason, size_t cap)
{
    json_t *res = NULL, *params;
    struct rpc_detail d;
    struct mr_error err;
    uint8_t hash[32];
    int rc;

    memset(r, 0, sizeof(*r));
    params = json_pack("[o]", tx_object(from, to, value, data, len));
    rc = rpc_call(c->ep, "eth_sendTransaction", params, &res, &d, &err);
    if (rc != MR_OK) {
        /* anvil may refuse a transaction that reverts already on sending. */
        if (rc == MR_ERR_RPC && d.kind == RPC_KIND_REVERTED) {
            if (reason != NULL)
                snprintf(reason, cap, "%s", d.revert_reason);
            return 0;
        }
        fail_msg("%s %s: eth_sendTransaction: %s", c->label, what, err.msg);
    }
    if (!json_is_string(res) ||
        hex_decode_fixed(json_string_value(res), json_string_length(res), hash, 32, &err) != MR_OK)
        fail_msg("%s %s: eth_sendTransaction: not a transaction hash", c->label, what);
    json_decref(res);
    wait_receipt(c, what, hash, r);
    if (r->status == 1)
        return 1;
    if (reason != NULL)
        revert_reason(c, from, to, value, data, len, r->block_number - 1, reason, cap);
    ethrpc_receipt_free(r);
    return 0;
}

uint64_t cl_nonce(struct cl_chain *c, const uint8_t addr[20])
{
    uint64_t n = 0;
    struct mr_error err;

    if (ethrpc_get_transaction_count(c->ep, addr, "pending", &n, NULL, &err) != MR_OK)
        fail_msg("%s eth_getTransactionCount: %s", c->label, err.msg);
    return n;
}

void cl_send_async(struct cl_chain *c, const char *what, const uint8_t from[20],
                   const uint8_t *to, const struct u256 *value, const uint8_t *data, size_t len,
                   uint64_t gas, int64_t nonce, uint8_t hash[32])
{
    json_t *tx = tx_object_gas(from, to, value, data, len, gas), *res;
    struct mr_error err;

    if (nonce >= 0) {
        struct u256 n = cl_u256((uint64_t)nonce);
        json_object_set_new(tx, "nonce", jquantity(&n));
    }
    res = call(c, "eth_sendTransaction", json_pack("[o]", tx));

    if (!json_is_string(res) ||
        hex_decode_fixed(json_string_value(res), json_string_length(res), hash, 32, &err) != MR_OK)
        fail_msg("%s %s: eth_sendTransaction: not a transaction hash", c->label, what);
    json_decref(res);
}

void cl_wait(struct cl_chain *c, const char *what, const uint8_t hash[32], struct eth_receipt *r)
{
    struct eth_receipt tmp;
    struct eth_receipt *rr = r != NULL ? r : &tmp;

    wait_receipt(c, what, hash, rr);
    if (rr->status != 1) {
        ethrpc_receipt_free(rr);
        fail_msg("%s %s: the transaction reverted (block %llu)", c->label, what,
                 (unsigned long long)rr->block_number);
    }
    if (r == NULL)
        ethrpc_receipt_free(&tmp);
}

void cl_send(struct cl_chain *c, const char *what, const uint8_t from[20], const uint8_t *to,
             const struct u256 *value, const uint8_t *data, size_t len, struct eth_receipt *r)
{
    char reason[200];

    if (!cl_send_try(c, what, from, to, value, data, len, r, reason, sizeof(reason)))
        fail_msg("%s %s: the transaction reverted: %s", c->label, what, reason);
}

uint64_t cl_send_block(struct cl_chain *c, const char *what, const uint8_t from[20],
                       const uint8_t *to, const struct u256 *value, const uint8_t *data,
                       size_t len)
{
    struct eth_receipt r;
    uint64_t block;

    cl_send(c, what, from, to, value, data, len, &r);
    block = r.block_number;
    ethrpc_receipt_free(&r);
    return block;
}

/* ---- contracts ---- */

#define CL_MAX_COMPILED 8

/* The contracts cl_compile compiled in this process. */
static struct {
    char file[128], contract[64];
    char *code;
} compiled[CL_MAX_COMPILED];
static int n_compiled;

/* "0x" + the text of a solc .bin file without trailing blanks (malloc'd),
 * or NULL when there is none. */
static char *read_bin(const char *path)
{
    char *text = tv_slurp(path), *out;
    size_t n;

    if (text == NULL)
        return NULL;
    n = strlen(text);
    while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == ' '))
        n--;
    out = malloc(n + 3);
    assert_non_null(out);
    snprintf(out, n + 3, "0x%.*s", (int)n, text);
    free(text);
    return out;
}

const char *cl_compile(const char *file, const char *contract)
{
    char cmd[1024], path[512], *dir, stem[256];

    for (int i = 0; i < n_compiled; i++)
        if (strcmp(compiled[i].file, file) == 0 && strcmp(compiled[i].contract, contract) == 0)
            return compiled[i].code;
    assert_true(n_compiled < CL_MAX_COMPILED);
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
    compiled[n_compiled].code = read_bin(path);
    if (compiled[n_compiled].code == NULL)
        fail_msg("solc wrote no %s", path);
    snprintf(compiled[n_compiled].file, sizeof(compiled[n_compiled].file), "%s", file);
    snprintf(compiled[n_compiled].contract, sizeof(compiled[n_compiled].contract), "%s", contract);
    tv_rmtree(dir);
    free(dir);
    return compiled[n_compiled++].code;
}

void cl_deploy_code(struct cl_chain *c, const uint8_t from[20], const char *bytecode,
                    const uint8_t *args, size_t len, uint8_t addr[20])
{
    size_t code_len = 0;
    uint8_t *code = tv_hex(bytecode, &code_len), *data = malloc(code_len + len + 1);
    struct eth_receipt r;

    assert_non_null(data);
    memcpy(data, code, code_len);
    if (len > 0)
        memcpy(data + code_len, args, len); /* the arguments follow the code */
    cl_send(c, "deploy", from, NULL, NULL, data, code_len + len, &r);
    if (!r.has_contract_address)
        fail_msg("%s deploy: no contract address in the receipt", c->label);
    memcpy(addr, r.contract_address, 20);
    ethrpc_receipt_free(&r);
    free(code);
    free(data);
}

void cl_deploy(struct cl_chain *c, const uint8_t from[20], const char *name,
               const struct artifact_lib *libs, size_t n_libs, const struct abi_value *args,
               size_t n_args, uint8_t addr[20], uint64_t *gas)
{
    struct artifact a;
    struct eth_receipt r;
    struct mr_error err;
    uint8_t *data;
    size_t len;
    char what[160];

    cl_artifact(name, &a);
    if (artifact_deploy_data(&a, libs, n_libs, args, n_args, &data, &len, &err) != MR_OK)
        fail_msg("deploy %s: %s", name, err.msg);
    snprintf(what, sizeof(what), "deploy %s", name);
    cl_send(c, what, from, NULL, NULL, data, len, &r);
    if (!r.has_contract_address)
        fail_msg("%s %s: no contract address in the receipt", c->label, what);
    memcpy(addr, r.contract_address, 20);
    if (gas != NULL)
        *gas = r.gas_used;
    ethrpc_receipt_free(&r);
    free(data);
    artifact_free(&a);
}

static int call_raw(struct cl_chain *c, const uint8_t *from, const uint8_t to[20],
                    const uint8_t *data, size_t len, uint8_t **out, size_t *out_len, char *reason,
                    size_t cap)
{
    struct rpc_detail d;
    struct mr_error err;
    int rc = ethrpc_call(c->ep, from, to, data, len, "latest", out, out_len, &d, &err);

    if (rc == MR_OK)
        return 1;
    if (rc == MR_ERR_RPC && d.kind == RPC_KIND_REVERTED) {
        if (reason != NULL)
            snprintf(reason, cap, "%s", d.revert_reason);
        return 0;
    }
    fail_msg("%s eth_call: %s", c->label, err.msg);
    return 0;
}

void cl_call(struct cl_chain *c, const uint8_t *from, const uint8_t to[20], const uint8_t *data,
             size_t len, uint8_t **out, size_t *out_len)
{
    char reason[200];

    if (!call_raw(c, from, to, data, len, out, out_len, reason, sizeof(reason)))
        fail_msg("%s eth_call: reverted: %s", c->label, reason);
}

int cl_call_word(struct cl_chain *c, const uint8_t to[20], const uint8_t *data, size_t len,
                 uint8_t word[32], char *reason, size_t cap)
{
    uint8_t *out = NULL;
    size_t n = 0;

    if (!call_raw(c, NULL, to, data, len, &out, &n, reason, cap))
        return 0;
    if (n < 32)
        fail_msg("%s eth_call: %zu bytes returned, expected a word", c->label, n);
    memcpy(word, out, 32);
    free(out);
    return 1;
}

void cl_calldata(const char *sig, const struct abi_value *args, size_t n, uint8_t **out,
                 size_t *len)
{
    struct abi_type nodes[ABI_SIG_MAX_NODES];
    struct abi_sig s;
    struct mr_error err;
    int rc;

    if (abi_parse_signature(sig, strlen(sig), nodes, ABI_SIG_MAX_NODES, NULL, &s, &err) != MR_OK)
        fail_msg("%s: %s", sig, err.msg);
    rc = abi_encode_call(&s, args, n, NULL, 0, len, &err);
    if (rc != MR_OK && rc != MR_ERR_TOOBIG)
        fail_msg("%s: %s", sig, err.msg);
    *out = malloc(*len);
    assert_non_null(*out);
    if (abi_encode_call(&s, args, n, *out, *len, len, &err) != MR_OK)
        fail_msg("%s: %s", sig, err.msg);
}

size_t cl_calldata_words(const char *sig, const uint8_t (*words)[32], size_t n, uint8_t *out)
{
    assert_int_equal(abi_selector(sig, strlen(sig), out, NULL), MR_OK);
    for (size_t i = 0; i < n; i++)
        memcpy(out + 4 + 32 * i, words[i], 32);
    return 4 + 32 * n;
}

void cl_word_u64(uint8_t w[32], uint64_t v)
{
    memset(w, 0, 32);
    for (int i = 0; i < 8; i++)
        w[31 - i] = (uint8_t)(v >> (8 * i));
}

void cl_word_addr(uint8_t w[32], const uint8_t a[20])
{
    memset(w, 0, 12);
    memcpy(w + 12, a, 20);
}

struct u256 cl_view_u256(struct cl_chain *c, const uint8_t to[20], const char *sig,
                         const struct abi_value *args, size_t n)
{
    uint8_t *data, word[32];
    size_t len;
    char reason[200];
    struct u256 v;

    cl_calldata(sig, args, n, &data, &len);
    if (!cl_call_word(c, to, data, len, word, reason, sizeof(reason)))
        fail_msg("%s %s: reverted: %s", c->label, sig, reason);
    free(data);
    u256_from_be(&v, word, 32);
    return v;
}

struct u256 cl_token_balance(struct cl_chain *c, const uint8_t token[20], const uint8_t owner[20])
{
    struct abi_value a = abi_v_address(owner);

    return cl_view_u256(c, token, "balanceOf(address)", &a, 1);
}

struct u256 cl_balance(struct cl_chain *c, const uint8_t addr[20])
{
    struct u256 v;
    struct mr_error err;

    if (ethrpc_get_balance(c->ep, addr, "latest", &v, NULL, &err) != MR_OK)
        fail_msg("%s eth_getBalance: %s", c->label, err.msg);
    return v;
}

void cl_mine(struct cl_chain *c, uint64_t n)
{
    char q[24];

    hex_encode_quantity_u64(n, q, sizeof(q));
    json_decref(call(c, "anvil_mine", json_pack("[s]", q)));
}

void cl_reorg(struct cl_chain *c, unsigned depth)
{
    json_decref(call(c, "anvil_reorg", json_pack("[i[]]", (int)depth)));
}

uint64_t cl_block_number(struct cl_chain *c)
{
    uint64_t n;
    struct mr_error err;

    if (ethrpc_block_number(c->ep, &n, NULL, &err) != MR_OK)
        fail_msg("%s eth_blockNumber: %s", c->label, err.msg);
    return n;
}

void cl_block(struct cl_chain *c, uint64_t number, struct eth_block *b)
{
    char id[ETHRPC_BLOCK_ID_LEN];
    struct mr_error err;

    if (ethrpc_get_block(c->ep, ethrpc_block_id(number, id), b, NULL, &err) != MR_OK)
        fail_msg("%s block %llu: %s", c->label, (unsigned long long)number, err.msg);
}

const struct eth_log *cl_find_log(const struct eth_receipt *r, const uint8_t address[20],
                                  const uint8_t topic[32])
{
    for (size_t i = 0; i < r->logs.n; i++) {
        const struct eth_log *l = &r->logs.v[i];

        if (memcmp(l->address, address, 20) == 0 && l->n_topics > 0 &&
            memcmp(l->topics[0], topic, 32) == 0)
            return l;
    }
    return NULL;
}

/* ---- u256 ---- */

struct u256 cl_u256(uint64_t v)
{
    struct u256 r;

    u256_from_u64(&r, v);
    return r;
}

struct u256 cl_u256_e(uint64_t a, unsigned e)
{
    struct u256 r = cl_u256(a), ten = cl_u256(10);

    while (e-- > 0) {
        if (u256_mul(&r, &r, &ten) != 0)
            fail_msg("cl_u256_e: overflow");
    }
    return r;
}

struct u256 cl_add(struct u256 a, struct u256 b)
{
    struct u256 r;

    if (u256_add(&r, &a, &b) != 0)
        fail_msg("u256 addition overflows");
    return r;
}

struct u256 cl_sub(struct u256 a, struct u256 b)
{
    struct u256 r;

    if (u256_sub(&r, &a, &b) != 0)
        fail_msg("u256 subtraction underflows");
    return r;
}

struct u256 cl_mul(struct u256 a, struct u256 b)
{
    struct u256 r;

    if (u256_mul(&r, &a, &b) != 0)
        fail_msg("u256 multiplication overflows");
    return r;
}

void cl_assert_u256(const char *what, struct u256 a, struct u256 b)
{
    char x[80], y[80];

    if (u256_cmp(&a, &b) == 0)
        return;
    u256_to_dec(&a, x, sizeof(x));
    u256_to_dec(&b, y, sizeof(y));
    fail_msg("%s: %s != %s", what, x, y);
}
