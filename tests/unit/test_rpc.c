/*
 * test_rpc.c - the JSON-RPC client (chain/rpc.c, chain/ethrpc.c): the
 * response parser on hostile answers, then real calls against the two anvil
 * chains the harness starts (ORIGIN 31337, AUX 1405).
 */
#include "tests/lib/testlib.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "chain/ethrpc.h"
#include "chain/rpc.h"
#include "eth/hex.h"
#include "eth/key.h"
#include "eth/mpt.h"
#include "eth/tx.h"
#include "tests/lib/faultproxy.h"

#define ORIGIN_ID 31337
#define AUX_ID 1405

/* anvil/hardhat default account #0 (a publicly known development key). */
static const char dev_key_hex[] = "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
static const char dev_addr_hex[] = "f39fd6e51aad88f6f4ce6ab8827279cfffb92266";

/* ---- the parser, no network ---- */

static int parse(const char *text, uint64_t id, json_t **res, struct rpc_detail *d,
                 struct mr_error *err)
{
    return rpc_parse_response(text, strlen(text), 1 << 20, id, "eth_test", res, d, err);
}

static void test_parse_envelope(void **state)
{
    struct rpc_detail d;
    struct mr_error err;
    json_t *res;
    (void)state;

    assert_int_equal(parse("{\"jsonrpc\":\"2.0\",\"id\":7,\"result\":\"0x1\"}", 7, &res, &d, &err),
                     MR_OK);
    assert_string_equal(json_string_value(res), "0x1");
    json_decref(res);
    /* null is a result like any other at this layer */
    assert_int_equal(parse("{\"jsonrpc\":\"2.0\",\"id\":7,\"result\":null}", 7, &res, &d, &err),
                     MR_OK);
    assert_true(json_is_null(res));
    json_decref(res);
    assert_int_equal(parse("{\"jsonrpc\":\"2.0\",\"id\":8,\"result\":\"0x1\"}", 7, &res, &d, &err),
                     MR_ERR_JSON);
    assert_non_null(strstr(err.msg, "id"));
    assert_int_equal(d.kind, RPC_KIND_BAD_RESPONSE);
    assert_int_equal(parse("{\"jsonrpc\":\"2.0\",\"id\":\"7\",\"result\":1}", 7, &res, &d, &err),
                     MR_ERR_JSON);
    assert_int_equal(parse("{\"jsonrpc\":\"1.0\",\"id\":7,\"result\":1}", 7, &res, &d, &err),
                     MR_ERR_JSON);
    assert_int_equal(parse("{\"id\":7,\"result\":1}", 7, &res, &d, &err), MR_ERR_JSON);
    assert_int_equal(parse("{\"jsonrpc\":\"2.0\",\"id\":7,\"result\":1,"
                           "\"error\":{\"code\":1,\"message\":\"x\"}}", 7, &res, &d, &err),
                     MR_ERR_JSON);
    assert_non_null(strstr(err.msg, "both"));
    assert_int_equal(parse("{\"jsonrpc\":\"2.0\",\"id\":7}", 7, &res, &d, &err), MR_ERR_JSON);
    assert_non_null(strstr(err.msg, "neither"));
    assert_int_equal(parse("{\"jsonrpc\":\"2.0\",\"id\":7,\"result\":1,\"id\":7}", 7, &res, &d,
                           &err), MR_ERR_JSON); /* duplicate member */
    assert_int_equal(parse("<html>502 Bad Gateway</html>", 7, &res, &d, &err), MR_ERR_JSON);
    assert_int_equal(parse("", 7, &res, &d, &err), MR_ERR_JSON);
    assert_int_equal(parse("[]", 7, &res, &d, &err), MR_ERR_JSON);
    assert_null(res);
}

static void test_parse_caps(void **state)
{
    const char *ok = "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":\"0x1\"}";
    struct rpc_detail d;
    struct mr_error err;
    json_t *res;
    char *deep;
    size_t i, n = 2 * (RPC_MAX_DEPTH + 5) + 64;
    (void)state;

    assert_int_equal(rpc_parse_response(ok, strlen(ok), strlen(ok) - 1, 1, "m", &res, &d, &err),
                     MR_ERR_TOOBIG);
    assert_int_equal(d.kind, RPC_KIND_TOO_BIG);
    deep = malloc(n);
    assert_non_null(deep);
    strcpy(deep, "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":");
    for (i = 0; i < RPC_MAX_DEPTH + 5; i++)
        strcat(deep, "[");
    for (i = 0; i < RPC_MAX_DEPTH + 5; i++)
        strcat(deep, "]");
    strcat(deep, "}");
    assert_int_equal(parse(deep, 1, &res, &d, &err), MR_ERR_TOOBIG);
    assert_non_null(strstr(err.msg, "nested"));
    /* brackets inside strings do not count */
    strcpy(deep, "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":\"");
    for (i = 0; i < RPC_MAX_DEPTH + 5; i++)
        strcat(deep, "[");
    strcat(deep, "\"}");
    assert_int_equal(parse(deep, 1, &res, &d, &err), MR_OK);
    json_decref(res);
    free(deep);
}

static void test_parse_quantities(void **state)
{
    struct mr_error err;
    uint64_t v;
    uint8_t h[32];
    json_t *j;
    (void)state;

#define Q(text, want)                                                          \
    do {                                                                       \
        j = json_string(text);                                                 \
        assert_int_equal(ethrpc_quantity_u64(j, "q", &v, &err), (want));       \
        json_decref(j);                                                        \
    } while (0)
    Q("0x0", MR_OK);
    Q("0x1a", MR_OK);
    assert_int_equal(v, 26);
    Q("1a", MR_ERR_JSON);      /* missing 0x */
    Q("0x01a", MR_ERR_JSON);   /* leading zero */
    Q("0x", MR_ERR_JSON);
    Q("0x1g", MR_ERR_JSON);
    Q("0x10000000000000000", MR_ERR_JSON); /* past 64 bits */
#undef Q
    j = json_integer(5);
    assert_int_equal(ethrpc_quantity_u64(j, "q", &v, &err), MR_ERR_JSON);
    json_decref(j);
    j = json_string("0x00");
    assert_int_equal(ethrpc_fixed(j, "h", h, 32, &err), MR_ERR_JSON); /* wrong size */
    json_decref(j);
}

static void test_node_errors(void **state)
{
    static const struct {
        const char *json;
        enum rpc_kind kind;
    } cases[] = {
        {"{\"code\":-32000,\"message\":\"nonce too low: next nonce 5, tx nonce 1\"}",
         RPC_KIND_NONCE_TOO_LOW},
        {"{\"code\":-32000,\"message\":\"already known\"}", RPC_KIND_ALREADY_KNOWN},
        {"{\"code\":-32010,\"message\":\"Transaction already imported\"}",
         RPC_KIND_ALREADY_KNOWN},
        {"{\"code\":-32000,\"message\":\"replacement transaction underpriced\"}",
         RPC_KIND_UNDERPRICED},
        {"{\"code\":-32000,\"message\":\"insufficient funds for gas * price + value\"}",
         RPC_KIND_INSUFFICIENT_FUNDS},
        {"{\"code\":-32005,\"message\":\"query returned more than 10000 results\"}",
         RPC_KIND_RANGE_TOO_LARGE},
        {"{\"code\":-32601,\"message\":\"the method eth_x does not exist\"}", RPC_KIND_NODE},
    };
    struct rpc_detail d;
    json_t *e;
    (void)state;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        e = json_loads(cases[i].json, 0, NULL);
        rpc_classify_node_error(e, "eth_sendRawTransaction", &d);
        assert_int_equal(d.kind, cases[i].kind);
        assert_int_equal(d.cls, RPC_CLASS_PERMANENT);
        json_decref(e);
    }
    /* Error("nope"), as geth sends it with code 3 */
    e = json_loads("{\"code\":3,\"message\":\"execution reverted: nope\",\"data\":\"0x08c379a0"
                   "0000000000000000000000000000000000000000000000000000000000000020"
                   "0000000000000000000000000000000000000000000000000000000000000004"
                   "6e6f706500000000000000000000000000000000000000000000000000000000\"}",
                   0, NULL);
    rpc_classify_node_error(e, "eth_call", &d);
    json_decref(e);
    assert_int_equal(d.kind, RPC_KIND_REVERTED);
    assert_true(d.has_revert);
    assert_int_equal(d.revert_kind, ABI_REVERT_ERROR);
    assert_string_equal(d.revert_reason, "nope");
    /* Panic(0x11): arithmetic overflow */
    e = json_loads("{\"code\":3,\"message\":\"execution reverted\",\"data\":\"0x4e487b71"
                   "0000000000000000000000000000000000000000000000000000000000000011\"}",
                   0, NULL);
    rpc_classify_node_error(e, "eth_call", &d);
    json_decref(e);
    assert_int_equal(d.revert_kind, ABI_REVERT_PANIC);
    assert_int_equal(d.revert_panic[31], 0x11);
}

static void test_parse_batch(void **state)
{
    const char *text = "[{\"jsonrpc\":\"2.0\",\"id\":12,\"result\":\"b\"},"
                       "{\"jsonrpc\":\"2.0\",\"id\":10,\"result\":\"a\"},"
                       "{\"jsonrpc\":\"2.0\",\"id\":11,\"error\":{\"code\":-32000,"
                       "\"message\":\"nonce too low\"}}]";
    const char *dup = "[{\"jsonrpc\":\"2.0\",\"id\":10,\"result\":1},"
                      "{\"jsonrpc\":\"2.0\",\"id\":10,\"result\":2}]";
    struct rpc_batch_item it[3];
    struct mr_error err;
    (void)state;

    memset(it, 0, sizeof(it));
    it[0].method = it[1].method = it[2].method = "m";
    assert_int_equal(rpc_parse_batch(text, strlen(text), 1 << 20, 10, it, 3, &err), MR_OK);
    assert_int_equal(it[0].rc, MR_OK);
    assert_string_equal(json_string_value(it[0].result), "a");
    assert_int_equal(it[1].rc, MR_ERR_RPC);
    assert_int_equal(it[1].detail.kind, RPC_KIND_NONCE_TOO_LOW);
    assert_int_equal(it[2].rc, MR_OK);
    assert_string_equal(json_string_value(it[2].result), "b");
    rpc_batch_clear(it, 3);
    assert_int_equal(rpc_parse_batch(dup, strlen(dup), 1 << 20, 10, it, 2, &err), MR_ERR_JSON);
    assert_int_equal(rpc_parse_batch(text, strlen(text), 1 << 20, 10, it, 2, &err), MR_ERR_JSON);
    rpc_batch_clear(it, 3);
}

static void test_redact(void **state)
{
    static const char *const cases[][2] = {
        {"https://user:s3cret@node.example:8545/v3/key", "https://node.example:8545/..."},
        {"http://127.0.0.1:8545", "http://127.0.0.1:8545"},
        {"http://127.0.0.1:8545/", "http://127.0.0.1:8545"},
        {"https://mainnet.infura.io/v3/0123abcd", "https://mainnet.infura.io/..."},
        {"https://node.example?apikey=s3cret", "https://node.example/..."},
        {"https://node.example#s3cret", "https://node.example/..."},
        {"wss://a:b@[::1]:8546/ws/s3cret", "wss://[::1]:8546/..."},
        {"http://a@b@node.example/x", "http://node.example/..."},
        /* '@' in the path: the "host" may be half of a password with a '/' */
        {"http://host/path@x", "http://(hidden)/..."},
        {"https://user:pa/ss@node.example/", "https://(hidden)/..."},
        {"https://user:s3cret/", "https://(hidden)"},
        {"https://node.example:85x/", "https://(hidden)"},
        {"https://[::1/", "https://(hidden)"},
        {"https://", "https://(hidden)"},
        {"node.example/s3cret", "(hidden URL)"},
        {"1http://node.example/s3cret", "(hidden URL)"},
    };
    char out[128], small[12];
    (void)state;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        rpc_redact_url(cases[i][0], out, sizeof(out));
        assert_string_equal(out, cases[i][1]);
    }
    rpc_redact_url("https://node.example:8545/v3/key", small, sizeof(small));
    assert_string_equal(small, "https://nod");
}

/* ---- against anvil ---- */

static struct rpc_endpoints *open_chain(const char *name, uint64_t id)
{
    const char *url = tv_anvil_url(name);
    struct rpc_endpoints *e;
    struct mr_error err;

    assert_non_null(url);
    assert_int_equal(rpc_endpoints_new(&url, 1, id, NULL, &e, &err), MR_OK);
    return e;
}

static void test_chain_ids(void **state)
{
    struct rpc_endpoints *o, *a;
    struct mr_error err;
    uint64_t id;
    (void)state;

    TV_REQUIRE_ANVIL();
    o = open_chain("ORIGIN", ORIGIN_ID);
    a = open_chain("AUX", AUX_ID);
    assert_int_equal(ethrpc_chain_id(o, &id, NULL, &err), MR_OK);
    assert_int_equal(id, ORIGIN_ID);
    assert_int_equal(ethrpc_chain_id(a, &id, NULL, &err), MR_OK);
    assert_int_equal(id, AUX_ID);
    assert_true(rpc_endpoints_health(o, 0)->chain_checked);
    rpc_endpoints_free(o);
    rpc_endpoints_free(a);
}

static void test_blocks(void **state)
{
    struct rpc_endpoints *e;
    struct eth_block latest, byhash, bynum, fin;
    struct rpc_detail d;
    struct mr_error err;
    char id[ETHRPC_BLOCK_ID_LEN];
    uint64_t head;
    (void)state;

    TV_REQUIRE_ANVIL();
    e = open_chain("ORIGIN", ORIGIN_ID);
    assert_int_equal(ethrpc_block_number(e, &head, NULL, &err), MR_OK);
    assert_int_equal(ethrpc_get_block(e, "latest", &latest, NULL, &err), MR_OK);
    assert_true(latest.number >= head);
    assert_true(latest.has_base_fee);
    assert_int_equal(ethrpc_get_block(e, ethrpc_block_id(latest.number, id), &bynum, NULL, &err),
                     MR_OK);
    assert_memory_equal(bynum.hash, latest.hash, 32);
    assert_int_equal(ethrpc_get_block_by_hash(e, latest.hash, &byhash, NULL, &err), MR_OK);
    assert_int_equal(byhash.number, latest.number);
    assert_memory_equal(byhash.state_root, latest.state_root, 32);
    assert_memory_equal(byhash.parent_hash, latest.parent_hash, 32);
    assert_int_equal(byhash.timestamp, latest.timestamp);
    assert_int_equal(ethrpc_get_block(e, "finalized", &fin, NULL, &err), MR_OK);
    assert_true(fin.number <= latest.number);
    assert_int_equal(ethrpc_get_block(e, "safe", &fin, NULL, &err), MR_OK);
    assert_int_equal(ethrpc_get_block(e, ethrpc_block_id(latest.number + 1000000, id), &fin, &d,
                                      &err), MR_ERR_NOTFOUND);
    assert_non_null(strstr(err.msg, "eth_getBlockByNumber"));
    rpc_endpoints_free(e);
}

struct signer {
    secp256k1_context *ctx;
    uint8_t sk[32];
    uint8_t addr[20];
};

static void signer_open(struct signer *s)
{
    uint8_t seed[32] = {1};
    size_t n;

    s->ctx = key_ctx_create(seed);
    assert_non_null(s->ctx);
    assert_int_equal(hex_decode_data("0x" "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
                                     66, s->sk, 32, &n, NULL), MR_OK);
    assert_int_equal(key_private_to_address(s->ctx, s->sk, s->addr, NULL), MR_OK);
    tv_assert_hex(s->addr, 20, dev_addr_hex);
    (void)dev_key_hex;
}

static void signer_close(struct signer *s)
{
    mr_wipe(s->sk, sizeof(s->sk));
    key_ctx_destroy(s->ctx);
}

/* Signs an EIP-1559 tx (to NULL: creation) into raw[cap]. */
static size_t sign_tx(struct signer *s, uint64_t nonce, const uint8_t *to, uint64_t value,
                      const uint8_t *data, size_t len, uint64_t gas, uint8_t *raw, size_t cap)
{
    struct tx tx;
    size_t n;

    tx_init(&tx, TX_DYNAMIC_FEE, ORIGIN_ID);
    tx.nonce = nonce;
    u256_from_u64(&tx.max_priority_fee, 1000000000);
    u256_from_u64(&tx.max_fee, 100000000000ull);
    tx.gas_limit = gas;
    tx.has_to = to != NULL;
    if (to != NULL)
        memcpy(tx.to, to, 20);
    u256_from_u64(&tx.value, value);
    tx.data = data;
    tx.data_len = len;
    assert_int_equal(tx_sign(s->ctx, &tx, s->sk, NULL), MR_OK);
    assert_int_equal(tx_encode(&tx, raw, cap, &n, NULL), MR_OK);
    return n;
}

/* Sends and waits for the receipt (anvil automines). */
static void send_and_mine(struct rpc_endpoints *e, const uint8_t *raw, size_t n,
                          struct eth_receipt *r)
{
    uint8_t hash[32], want[32];
    struct mr_error err;
    int rc = MR_ERR_NOTFOUND;

    assert_int_equal(ethrpc_send_raw_transaction(e, raw, n, hash, NULL, &err), MR_OK);
    tx_hash(raw, n, want);
    assert_memory_equal(hash, want, 32);
    for (int i = 0; i < 50 && rc == MR_ERR_NOTFOUND; i++) {
        rc = ethrpc_get_receipt(e, hash, r, NULL, &err);
        if (rc == MR_ERR_NOTFOUND)
            usleep(100000);
    }
    assert_int_equal(rc, MR_OK);
    assert_memory_equal(r->tx_hash, hash, 32);
}

static void test_send_transaction(void **state)
{
    static const uint8_t to[20] = {0xde, 0xad, 0xbe, 0xef};
    struct rpc_endpoints *e;
    struct signer s;
    struct eth_receipt r;
    struct eth_block b;
    struct rpc_detail d;
    struct mr_error err;
    uint8_t raw[256], hash[32];
    uint64_t nonce, pending;
    size_t n;
    (void)state;

    TV_REQUIRE_ANVIL();
    e = open_chain("ORIGIN", ORIGIN_ID);
    signer_open(&s);
    assert_int_equal(ethrpc_get_transaction_count(e, s.addr, "pending", &pending, NULL, &err),
                     MR_OK);
    assert_int_equal(ethrpc_get_transaction_count(e, s.addr, "latest", &nonce, NULL, &err), MR_OK);
    assert_int_equal(nonce, pending);
    n = sign_tx(&s, nonce, to, 12345, NULL, 0, 21000, raw, sizeof(raw));
    send_and_mine(e, raw, n, &r);
    assert_int_equal(r.status, 1);
    assert_int_equal(r.gas_used, 21000);
    assert_false(u256_is_zero(&r.effective_gas_price));
    assert_int_equal(ethrpc_get_block_by_hash(e, r.block_hash, &b, NULL, &err), MR_OK);
    assert_int_equal(b.number, r.block_number);
    ethrpc_receipt_free(&r);

    /* the same bytes again: already known or, once mined, nonce too low */
    assert_int_equal(ethrpc_send_raw_transaction(e, raw, n, hash, &d, &err), MR_ERR_RPC);
    assert_true(d.kind == RPC_KIND_ALREADY_KNOWN || d.kind == RPC_KIND_NONCE_TOO_LOW);
    assert_int_equal(d.cls, RPC_CLASS_PERMANENT);
    assert_non_null(strstr(err.msg, "eth_sendRawTransaction"));
    assert_non_null(strstr(err.msg, tv_anvil_url("ORIGIN")));
    /* a new transaction with a used nonce */
    n = sign_tx(&s, nonce, to, 999, NULL, 0, 21000, raw, sizeof(raw));
    assert_int_equal(ethrpc_send_raw_transaction(e, raw, n, hash, &d, &err), MR_ERR_RPC);
    assert_int_equal(d.kind, RPC_KIND_NONCE_TOO_LOW);
    signer_close(&s);
    rpc_endpoints_free(e);
}

/* Runtime code that always reverts with Error("nope"):
 *   PUSH32 0x08c379a0 << 224; PUSH1 0; MSTORE      selector at mem[0..4]
 *   PUSH1 0x20; PUSH1 0x04; MSTORE                 string offset at mem[4..36]
 *   PUSH1 0x04; PUSH1 0x24; MSTORE                 length 4 at mem[36..68]
 *   PUSH32 "nope" left-aligned; PUSH1 0x44; MSTORE  bytes at mem[68..100]
 *   PUSH1 0x64; PUSH1 0; REVERT                    revert(0, 100)
 * behind init code that copies it out and returns it:
 *   PUSH1 0x57; PUSH1 0x0c; PUSH1 0; CODECOPY; PUSH1 0x57; PUSH1 0; RETURN */
static const char revert_initcode[] =
    "6057600c60003960576000f3"
    "7f08c379a000000000000000000000000000000000000000000000000000000000600052"
    "6020600452"
    "6004602452"
    "7f6e6f706500000000000000000000000000000000000000000000000000000000604452"
    "60646000fd";

/* Init code that emits LOG1(topic 0x11..11, data = 32-byte 0x2a) and
 * deploys nothing:
 *   PUSH1 0x2a; PUSH1 0; MSTORE; PUSH32 topic; PUSH1 0x20; PUSH1 0; LOG1; STOP */
static const char log_initcode[] =
    "602a600052"
    "7f1111111111111111111111111111111111111111111111111111111111111111"
    "60206000a100";

static void deploy(struct rpc_endpoints *e, struct signer *s, const char *hex,
                   struct eth_receipt *r)
{
    uint8_t raw[512];
    struct mr_error err;
    uint64_t nonce;
    size_t n, len;
    uint8_t *code = tv_hex(hex, &len);

    assert_int_equal(ethrpc_get_transaction_count(e, s->addr, "pending", &nonce, NULL, &err),
                     MR_OK);
    n = sign_tx(s, nonce, NULL, 0, code, len, 300000, raw, sizeof(raw));
    free(code);
    send_and_mine(e, raw, n, r);
    assert_int_equal(r->status, 1);
    assert_true(r->has_contract_address);
}

static void test_call_revert(void **state)
{
    struct rpc_endpoints *e;
    struct signer s;
    struct eth_receipt r;
    struct rpc_detail d;
    struct mr_error err;
    uint8_t *out;
    size_t out_len;
    uint64_t gas;
    (void)state;

    TV_REQUIRE_ANVIL();
    e = open_chain("ORIGIN", ORIGIN_ID);
    signer_open(&s);
    deploy(e, &s, revert_initcode, &r);
    assert_int_equal(ethrpc_call(e, s.addr, r.contract_address, NULL, 0, "latest", &out, &out_len,
                                 &d, &err), MR_ERR_RPC);
    assert_int_equal(d.kind, RPC_KIND_REVERTED);
    assert_true(d.has_revert);
    assert_string_equal(d.revert_reason, "nope");
    assert_non_null(strstr(err.msg, "nope"));
    assert_non_null(strstr(err.msg, "eth_call"));
    /* estimateGas of the same call reverts the same way */
    assert_int_equal(ethrpc_estimate_gas(e, s.addr, r.contract_address, NULL, NULL, 0, &gas, &d,
                                         &err), MR_ERR_RPC);
    assert_int_equal(d.kind, RPC_KIND_REVERTED);
    /* a plain transfer estimates to 21000; a call to an EOA returns no data */
    assert_int_equal(ethrpc_estimate_gas(e, s.addr, s.addr, NULL, NULL, 0, &gas, &d, &err), MR_OK);
    assert_int_equal(gas, 21000);
    assert_int_equal(ethrpc_call(e, NULL, s.addr, NULL, 0, "latest", &out, &out_len, &d, &err),
                     MR_OK);
    assert_int_equal(out_len, 0);
    free(out);
    ethrpc_receipt_free(&r);
    signer_close(&s);
    rpc_endpoints_free(e);
}

static void test_logs(void **state)
{
    static const uint8_t topic[1][32] = {{0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11,
                                          0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11,
                                          0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11,
                                          0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11}};
    struct rpc_endpoints *e;
    struct signer s;
    struct eth_receipt r1, r2;
    struct eth_log_filter f;
    struct eth_logs logs = {0};
    struct mr_error err;
    (void)state;

    TV_REQUIRE_ANVIL();
    e = open_chain("ORIGIN", ORIGIN_ID);
    signer_open(&s);
    deploy(e, &s, log_initcode, &r1);
    deploy(e, &s, log_initcode, &r2);
    assert_int_equal(r1.logs.n, 1);
    tv_assert_hex(r1.logs.v[0].topics[0], 32, "0x1111111111111111111111111111111111111111111111111111111111111111");
    memset(&f, 0, sizeof(f));
    f.from_block = r1.block_number;
    f.to_block = r2.block_number;
    f.n_topics = 1;
    f.topics[0] = topic;
    f.n_alts[0] = 1;
    assert_int_equal(ethrpc_get_logs(e, &f, &logs, NULL, &err), MR_OK);
    assert_int_equal(logs.n, 2);
    assert_memory_equal(logs.v[0].tx_hash, r1.tx_hash, 32);
    assert_memory_equal(logs.v[1].tx_hash, r2.tx_hash, 32);
    assert_int_equal(logs.v[1].data_len, 32);
    assert_int_equal(logs.v[1].data[31], 0x2a);
    ethrpc_logs_free(&logs);
    /* by address: only the second creation */
    f.addresses = (const uint8_t (*)[20])r2.logs.v[0].address;
    f.n_addresses = 1;
    assert_int_equal(ethrpc_get_logs(e, &f, &logs, NULL, &err), MR_OK);
    assert_int_equal(logs.n, 1);
    ethrpc_logs_free(&logs);
    /* a cap that one log fits under but two do not: the range is split */
    f.n_addresses = 0;
    rpc_endpoints_set_max_response(e, 900);
    {
        char a[ETHRPC_BLOCK_ID_LEN], b[ETHRPC_BLOCK_ID_LEN];
        json_t *res, *params = json_pack("[{s:s, s:s}]", "fromBlock",
                                         ethrpc_block_id(r1.block_number, a), "toBlock",
                                         ethrpc_block_id(r2.block_number, b));
        struct rpc_detail d;
        /* proof that one call over the range does not fit */
        assert_int_equal(rpc_call(e, "eth_getLogs", params, &res, &d, &err), MR_ERR_TOOBIG);
    }
    assert_int_equal(ethrpc_get_logs(e, &f, &logs, NULL, &err), MR_OK);
    assert_int_equal(logs.n, 2);
    ethrpc_logs_free(&logs);
    /* and a bound on the number of logs */
    rpc_endpoints_set_max_response(e, RPC_DEFAULT_MAX_RESPONSE);
    f.max_logs = 1;
    f.from_block = r1.block_number;
    assert_int_equal(ethrpc_get_logs(e, &f, &logs, NULL, &err), MR_ERR_TOOBIG);
    ethrpc_logs_free(&logs);
    ethrpc_receipt_free(&r1);
    ethrpc_receipt_free(&r2);
    signer_close(&s);
    rpc_endpoints_free(e);
}

static void test_proof(void **state)
{
    struct rpc_endpoints *e;
    struct eth_block b;
    struct proofjson p;
    struct mpt_account acct;
    struct signer s;
    struct u256 bal;
    struct mr_error err;
    char id[ETHRPC_BLOCK_ID_LEN];
    uint64_t nonce;
    int exists;
    (void)state;

    TV_REQUIRE_ANVIL();
    e = open_chain("ORIGIN", ORIGIN_ID);
    signer_open(&s);
    assert_int_equal(ethrpc_get_block(e, "latest", &b, NULL, &err), MR_OK);
    ethrpc_block_id(b.number, id);
    assert_int_equal(ethrpc_get_proof(e, s.addr, NULL, 0, id, &p, NULL, &err), MR_OK);
    assert_int_equal(mpt_verify_account(b.state_root, s.addr, p.account_nodes, p.n_account_nodes,
                                        &acct, &exists, &err), MR_OK);
    assert_true(exists);
    assert_int_equal(ethrpc_get_transaction_count(e, s.addr, id, &nonce, NULL, &err), MR_OK);
    assert_int_equal(acct.nonce, nonce);
    assert_int_equal(ethrpc_get_balance(e, s.addr, id, &bal, NULL, &err), MR_OK);
    assert_int_equal(u256_cmp(&acct.balance, &bal), 0);
    /* the proof does not verify against another root */
    b.state_root[0] ^= 1;
    assert_int_equal(mpt_verify_account(b.state_root, s.addr, p.account_nodes, p.n_account_nodes,
                                        &acct, &exists, &err), MR_ERR_PROOF);
    proofjson_free(&p);
    signer_close(&s);
    rpc_endpoints_free(e);
}

static void test_fees(void **state)
{
    static const double pcts[2] = {25, 75};
    struct rpc_endpoints *e;
    struct eth_fee_history fh;
    struct u256 tip;
    struct mr_error err;
    (void)state;

    TV_REQUIRE_ANVIL();
    e = open_chain("AUX", AUX_ID);
    assert_int_equal(ethrpc_fee_history(e, 1, "latest", pcts, 2, &fh, NULL, &err), MR_OK);
    assert_int_equal(fh.n_blocks, 1);
    assert_int_equal(fh.n_pcts, 2);
    assert_false(u256_is_zero(&fh.base_fee[0]));
    assert_int_equal(ethrpc_max_priority_fee(e, &tip, NULL, &err), MR_OK);
    rpc_endpoints_free(e);
}

static void test_batch(void **state)
{
    struct rpc_endpoints *e;
    struct rpc_batch_item it[3];
    struct mr_error err;
    uint64_t id;
    (void)state;

    TV_REQUIRE_ANVIL();
    e = open_chain("AUX", AUX_ID);
    memset(it, 0, sizeof(it));
    it[0].method = "eth_chainId";
    it[1].method = "eth_blockNumber";
    it[2].method = "eth_getBalance";
    it[2].params = json_pack("[s, s]", "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266", "latest");
    assert_int_equal(rpc_batch(e, it, 3, NULL, &err), MR_OK);
    for (int i = 0; i < 3; i++)
        assert_int_equal(it[i].rc, MR_OK);
    assert_int_equal(ethrpc_quantity_u64(it[0].result, "chainId", &id, &err), MR_OK);
    assert_int_equal(id, AUX_ID);
    assert_true(json_is_string(it[2].result));
    rpc_batch_clear(it, 3);
    rpc_endpoints_free(e);
}

static void test_failover(void **state)
{
    char dead[64];
    const char *urls[2];
    struct rpc_endpoints *e;
    struct rpc_detail d;
    struct mr_error err;
    uint64_t n;
    (void)state;

    TV_REQUIRE_ANVIL();
    snprintf(dead, sizeof(dead), "http://127.0.0.1:%d", tv_free_port());
    urls[0] = dead;
    urls[1] = tv_anvil_url("ORIGIN");
    assert_int_equal(rpc_endpoints_new(urls, 2, ORIGIN_ID, NULL, &e, &err), MR_OK);
    assert_int_equal(ethrpc_block_number(e, &n, &d, &err), MR_OK);
    assert_int_equal(rpc_endpoints_health(e, 0)->consecutive_errors, 1);
    assert_int_equal(rpc_endpoints_health(e, 0)->errors, 1);
    assert_true(rpc_endpoints_health(e, 0)->backoff_until_ms > 0);
    assert_true(rpc_endpoints_health(e, 1)->chain_checked);
    assert_true(rpc_endpoints_health(e, 1)->last_latency_ms >= 0);
    /* the next call goes straight to the healthy one */
    assert_int_equal(ethrpc_block_number(e, &n, &d, &err), MR_OK);
    assert_int_equal(rpc_endpoints_health(e, 0)->errors, 1);
    rpc_endpoints_free(e);

    /* only the dead one: transient, names it; the breaker opens after K */
    {
        struct rpc_opts o;
        rpc_opts_default(&o);
        o.breaker_threshold = 2;
        o.backoff_base_ms = 1;
        o.breaker_cooldown_ms = 100;
        assert_int_equal(rpc_endpoints_new(urls, 1, ORIGIN_ID, &o, &e, &err), MR_OK);
    }
    assert_int_equal(ethrpc_block_number(e, &n, &d, &err), MR_ERR_IO);
    assert_int_equal(d.cls, RPC_CLASS_TRANSIENT);
    assert_int_equal(d.kind, RPC_KIND_CONNECT);
    assert_non_null(strstr(err.msg, dead));
    assert_int_equal(ethrpc_block_number(e, &n, &d, &err), MR_ERR_IO);
    assert_int_equal(rpc_endpoints_health(e, 0)->breaker, RPC_BREAKER_OPEN);
    assert_int_equal(ethrpc_block_number(e, &n, &d, &err), MR_ERR_IO);
    assert_int_equal(d.kind, RPC_KIND_UNAVAILABLE);
    assert_int_equal(rpc_endpoints_health(e, 0)->errors, 2); /* not even tried */
    /* after the cool-down one trial goes through (half-open) and fails */
    usleep(150000);
    assert_int_equal(ethrpc_block_number(e, &n, &d, &err), MR_ERR_IO);
    assert_int_equal(d.kind, RPC_KIND_CONNECT);
    assert_int_equal(rpc_endpoints_health(e, 0)->errors, 3);
    assert_int_equal(rpc_endpoints_health(e, 0)->breaker, RPC_BREAKER_OPEN);
    rpc_endpoints_free(e);
}

static void test_wrong_chain(void **state)
{
    struct rpc_endpoints *e;
    struct rpc_detail d;
    struct mr_error err;
    uint64_t n;
    (void)state;

    TV_REQUIRE_ANVIL();
    e = open_chain("ORIGIN", AUX_ID);
    assert_int_equal(ethrpc_block_number(e, &n, &d, &err), MR_ERR_INVALID);
    assert_int_equal(d.cls, RPC_CLASS_FATAL);
    assert_int_equal(d.kind, RPC_KIND_CHAIN_MISMATCH);
    assert_non_null(strstr(err.msg, "31337"));
    assert_non_null(strstr(err.msg, "1405"));
    assert_non_null(strstr(err.msg, tv_anvil_url("ORIGIN")));
    rpc_endpoints_free(e);
}

static void test_response_cap(void **state)
{
    struct rpc_endpoints *e;
    struct eth_block b;
    struct rpc_detail d;
    struct mr_error err;
    (void)state;

    TV_REQUIRE_ANVIL();
    e = open_chain("ORIGIN", ORIGIN_ID);
    rpc_endpoints_set_max_response(e, 200);
    assert_int_equal(ethrpc_get_block(e, "latest", &b, &d, &err), MR_ERR_TOOBIG);
    assert_int_equal(d.kind, RPC_KIND_TOO_BIG);
    assert_non_null(strstr(err.msg, "eth_getBlockByNumber"));
    rpc_endpoints_free(e);
}

static void test_timeout(void **state)
{
    struct sockaddr_in a = {0};
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    char url[64];
    const char *u = url;
    struct rpc_endpoints *e;
    struct rpc_detail d;
    struct mr_error err;
    uint64_t n;
    (void)state;

    /* a listener that never accepts: the kernel completes the handshake,
     * nobody ever answers */
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(fd, 4), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", ntohs(a.sin_port));
    assert_int_equal(rpc_endpoints_new(&u, 1, ORIGIN_ID, NULL, &e, &err), MR_OK);
    rpc_endpoints_set_timeouts(e, 300, 400);
    assert_int_equal(ethrpc_block_number(e, &n, &d, &err), MR_ERR_IO);
    assert_int_equal(d.cls, RPC_CLASS_TRANSIENT);
    assert_int_equal(d.kind, RPC_KIND_TIMEOUT);
    assert_non_null(strstr(err.msg, url));
    rpc_endpoints_free(e);
    close(fd);
}

/* ---- a scripted HTTP server, for what no real node does on demand (429,
 * 503, a wrong id); it answers eth_chainId as chain ORIGIN ---- */

struct fake {
    int fd, port;
    volatile int stop;
    const char *status;   /* "503 Service Unavailable" */
    const char *headers;  /* extra header lines, each ending in \r\n */
    const char *body;     /* "$ID" stands for the request id */
    long id_delta;        /* added to the id echoed */
    pthread_t th;
};

/* Copies tmpl into out[cap] with each "$ID" replaced by id. */
static void subst_id(const char *tmpl, unsigned long long id, char *out, size_t cap)
{
    size_t n = 0;

    for (const char *p = tmpl; *p != '\0' && n + 24 < cap; p++) {
        if (strncmp(p, "$ID", 3) == 0) {
            n += (size_t)snprintf(out + n, cap - n, "%llu", id);
            p += 2;
        } else {
            out[n++] = *p;
        }
    }
    out[n] = '\0';
}

static void fake_answer(struct fake *f, int c)
{
    char req[8192], body[1024], resp[2048];
    size_t n = 0;
    ssize_t r;
    const char *p;
    unsigned long long id = 0;

    while (n < sizeof(req) - 1 && (r = read(c, req + n, sizeof(req) - 1 - n)) > 0) {
        n += (size_t)r;
        req[n] = '\0';
        if ((p = strstr(req, "\r\n\r\n")) != NULL && strchr(p, '}') != NULL)
            break;
    }
    req[n] = '\0';
    if ((p = strstr(req, "\"id\":")) != NULL)
        id = strtoull(p + 5, NULL, 10);
    if (strstr(req, "eth_chainId") != NULL)
        snprintf(body, sizeof(body), "{\"jsonrpc\":\"2.0\",\"id\":%llu,\"result\":\"0x7a69\"}", id);
    else
        subst_id(f->body, (unsigned long long)((long long)id + f->id_delta), body, sizeof(body));
    snprintf(resp, sizeof(resp),
             "HTTP/1.1 %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
             "Connection: close\r\n%s\r\n%s",
             strstr(req, "eth_chainId") ? "200 OK" : f->status, strlen(body),
             strstr(req, "eth_chainId") ? "" : f->headers, body);
    if (write(c, resp, strlen(resp)) < 0)
        print_error("fake server: write failed\n");
}

static void *fake_main(void *arg)
{
    struct fake *f = arg;

    while (!f->stop) {
        struct pollfd pfd = {f->fd, POLLIN, 0};
        int c;
        if (poll(&pfd, 1, 50) <= 0)
            continue;
        if ((c = accept(f->fd, NULL, NULL)) < 0)
            continue;
        fake_answer(f, c);
        close(c);
    }
    return NULL;
}

static void fake_start(struct fake *f, const char *status, const char *headers, const char *body)
{
    struct sockaddr_in a = {0};
    socklen_t len = sizeof(a);

    f->fd = socket(AF_INET, SOCK_STREAM, 0);
    f->stop = 0;
    f->status = status;
    f->headers = headers;
    f->body = body;
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(f->fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(f->fd, 8), 0);
    assert_int_equal(getsockname(f->fd, (struct sockaddr *)&a, &len), 0);
    f->port = ntohs(a.sin_port);
    assert_int_equal(pthread_create(&f->th, NULL, fake_main, f), 0);
}

static void fake_stop(struct fake *f)
{
    f->stop = 1;
    pthread_join(f->th, NULL);
    close(f->fd);
}

/* One call of eth_blockNumber against a fake answering status/headers/body. */
static int fake_call(const char *status, const char *headers, const char *body, long id_delta,
                     struct rpc_detail *d, struct mr_error *err)
{
    struct fake f = {0};
    struct rpc_endpoints *e;
    char url[64];
    const char *u = url;
    uint64_t n;
    int rc;

    f.id_delta = id_delta;
    fake_start(&f, status, headers, body);
    snprintf(url, sizeof(url), "http://user:pw@127.0.0.1:%d", f.port);
    assert_int_equal(rpc_endpoints_new(&u, 1, ORIGIN_ID, NULL, &e, err), MR_OK);
    rc = ethrpc_block_number(e, &n, d, err);
    assert_null(strstr(err->msg, "pw"));
    if (rc != MR_OK) {
        assert_non_null(strstr(err->msg, "eth_blockNumber"));
        if (strstr(err->msg, "http://127.0.0.1:") == NULL)
            fail_msg("no endpoint in: %s", err->msg);
    }
    rpc_endpoints_free(e);
    fake_stop(&f);
    return rc;
}

static void test_http_errors(void **state)
{
    const char *ok = "{\"jsonrpc\":\"2.0\",\"id\":$ID,\"result\":\"0x10\"}";
    struct rpc_detail d;
    struct mr_error err;
    (void)state;

    assert_int_equal(fake_call("200 OK", "", ok, 0, &d, &err), MR_OK);
    assert_int_equal(fake_call("429 Too Many Requests", "Retry-After: 7\r\n", "{}", 0, &d, &err),
                     MR_ERR_IO);
    assert_int_equal(d.cls, RPC_CLASS_TRANSIENT);
    assert_int_equal(d.kind, RPC_KIND_RATE_LIMITED);
    assert_int_equal(d.retry_after_ms, 7000);
    assert_int_equal(fake_call("503 Service Unavailable", "", "{}", 0, &d, &err), MR_ERR_IO);
    assert_int_equal(d.cls, RPC_CLASS_TRANSIENT);
    assert_int_equal(d.http_status, 503);
    assert_non_null(strstr(err.msg, "503"));
    assert_int_equal(fake_call("403 Forbidden", "", "{}", 0, &d, &err), MR_ERR_IO);
    assert_int_equal(d.cls, RPC_CLASS_PERMANENT);
    /* a wrong id over the wire */
    assert_int_equal(fake_call("200 OK", "", ok, 1, &d, &err), MR_ERR_JSON);
    assert_int_equal(d.kind, RPC_KIND_BAD_RESPONSE);
    /* a quantity with a leading zero */
    assert_int_equal(fake_call("200 OK", "",
                               "{\"jsonrpc\":\"2.0\",\"id\":$ID,\"result\":\"0x010\"}", 0,
                               &d, &err), MR_ERR_JSON);
    /* a node-side rate limit (EIP-1474 -32005) is transient */
    assert_int_equal(fake_call("200 OK", "",
                               "{\"jsonrpc\":\"2.0\",\"id\":$ID,\"error\":{\"code\":-32005,"
                               "\"message\":\"rate limit\"}}", 0, &d, &err), MR_ERR_RPC);
    assert_int_equal(d.cls, RPC_CLASS_TRANSIENT);
}

static void test_failover_http(void **state)
{
    struct fake f = {0};
    char url[64];
    const char *urls[2];
    struct rpc_endpoints *e;
    struct mr_error err;
    uint64_t n;
    (void)state;

    TV_REQUIRE_ANVIL();
    fake_start(&f, "503 Service Unavailable", "", "{}");
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", f.port);
    urls[0] = url;
    urls[1] = tv_anvil_url("ORIGIN");
    assert_int_equal(rpc_endpoints_new(urls, 2, ORIGIN_ID, NULL, &e, &err), MR_OK);
    assert_int_equal(ethrpc_block_number(e, &n, NULL, &err), MR_OK);
    assert_int_equal(rpc_endpoints_health(e, 0)->consecutive_errors, 1);
    assert_true(rpc_endpoints_health(e, 0)->chain_checked);
    rpc_endpoints_free(e);
    fake_stop(&f);
}

/* Quorum reads: two endpoints (one direct, one through a proxy) agree;
 * a lying one makes the read fail closed naming both; one down is enough
 * to miss a quorum of two but not of one. */
static void test_quorum_block(void **state)
{
    struct fproxy *p;
    struct rpc_endpoints *e;
    struct eth_block b, direct;
    struct mr_error err;
    const char *urls[2];
    char id[ETHRPC_BLOCK_ID_LEN], root[67], fake[67];
    uint64_t head;
    (void)state;

    TV_REQUIRE_ANVIL();
    p = fproxy_start(tv_anvil_url("ORIGIN"));
    assert_non_null(p);
    urls[0] = tv_anvil_url("ORIGIN");
    urls[1] = fproxy_url(p);
    assert_int_equal(rpc_endpoints_new(urls, 2, ORIGIN_ID, NULL, &e, &err), MR_OK);
    assert_int_equal(ethrpc_block_number(e, &head, NULL, &err), MR_OK);
    assert_int_equal(ethrpc_get_block(e, ethrpc_block_id(head, id), &direct, NULL, &err), MR_OK);
    assert_int_equal(ethrpc_quorum_block(e, head, 2, &b, &err), MR_OK);
    assert_memory_equal(b.hash, direct.hash, 32);
    assert_memory_equal(b.state_root, direct.state_root, 32);
    assert_int_equal(fproxy_count(p, "eth_getBlockByNumber"), 1);

    /* The proxy lies about the state root. */
    hex_encode_data(direct.state_root, 32, root, sizeof(root));
    memcpy(fake, root, sizeof(fake));
    fake[2] = fake[2] == 'a' ? 'b' : 'a';
    fproxy_rule(p, "eth_getBlockByNumber", FP_REWRITE, 0, 0, root + 2, fake + 2);
    assert_int_equal(ethrpc_quorum_block(e, head, 2, &b, &err), MR_ERR_MISMATCH);
    assert_non_null(strstr(err.msg, "stateRoot"));
    assert_non_null(strstr(err.msg, urls[0]));
    assert_non_null(strstr(err.msg, urls[1]));
    assert_non_null(strstr(err.msg, fake));
    /* Fail closed whatever the quorum: one answer that disagrees is enough. */
    assert_int_equal(ethrpc_quorum_block(e, head, 1, &b, &err), MR_ERR_MISMATCH);

    /* One endpoint down: a quorum of 2 is missed, a quorum of 1 is met. */
    fproxy_clear(p);
    fproxy_rule(p, "eth_getBlockByNumber", FP_STATUS, 500, 0, NULL, NULL);
    assert_int_equal(ethrpc_quorum_block(e, head, 2, &b, &err), MR_ERR_IO);
    assert_non_null(strstr(err.msg, "1 of 2"));
    assert_int_equal(ethrpc_quorum_block(e, head, 1, &b, &err), MR_OK);
    assert_memory_equal(b.hash, direct.hash, 32);
    /* Not there yet anywhere; bad quorums. */
    fproxy_clear(p);
    assert_int_equal(ethrpc_quorum_block(e, head + 100000, 1, &b, &err), MR_ERR_NOTFOUND);
    assert_int_equal(ethrpc_quorum_block(e, head, 0, &b, &err), MR_ERR_INVALID);
    assert_int_equal(ethrpc_quorum_block(e, head, 3, &b, &err), MR_ERR_INVALID);
    rpc_endpoints_free(e);
    fproxy_stop(p);
}

/* eth_chainId is checked again after the interval; a wrong answer then is
 * fatal for the whole set, also once the endpoint answers right again. */
static void test_chain_recheck(void **state)
{
    struct fproxy *p;
    struct rpc_endpoints *e;
    struct rpc_detail d;
    struct eth_block b;
    struct mr_error err;
    const char *url;
    uint64_t n;
    (void)state;

    TV_REQUIRE_ANVIL();
    p = fproxy_start(tv_anvil_url("ORIGIN"));
    assert_non_null(p);
    url = fproxy_url(p);
    assert_int_equal(rpc_endpoints_new(&url, 1, ORIGIN_ID, NULL, &e, &err), MR_OK);
    rpc_endpoints_set_chain_recheck(e, 3600000);
    assert_int_equal(ethrpc_block_number(e, &n, NULL, &err), MR_OK);
    assert_int_equal(fproxy_count(p, "eth_chainId"), 1);
    /* The endpoint now serves another chain (0x7a69 = 31337 -> 31338). */
    fproxy_rule(p, "eth_chainId", FP_REWRITE, 0, 0, "0x7a69", "0x7a6a");
    assert_int_equal(ethrpc_block_number(e, &n, NULL, &err), MR_OK); /* not due yet */
    assert_int_equal(fproxy_count(p, "eth_chainId"), 1);
    rpc_endpoints_set_chain_recheck(e, 1);
    usleep(5000);
    assert_int_equal(ethrpc_block_number(e, &n, &d, &err), MR_ERR_INVALID);
    assert_int_equal(fproxy_count(p, "eth_chainId"), 2);
    assert_int_equal(d.cls, RPC_CLASS_FATAL);
    assert_int_equal(d.kind, RPC_KIND_CHAIN_MISMATCH);
    assert_non_null(strstr(err.msg, "31338"));
    /* Sticky: no more calls go out, whatever the endpoint says now. */
    fproxy_clear(p);
    usleep(5000);
    assert_int_equal(ethrpc_block_number(e, &n, &d, &err), MR_ERR_INVALID);
    assert_int_equal(d.kind, RPC_KIND_CHAIN_MISMATCH);
    assert_int_equal(ethrpc_quorum_block(e, n, 1, &b, &err), MR_ERR_INVALID);
    assert_int_equal(fproxy_count(p, "eth_chainId"), 2);
    assert_int_equal(fproxy_count(p, "eth_blockNumber"), 2);
    rpc_endpoints_free(e);
    fproxy_stop(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_envelope),
        cmocka_unit_test(test_parse_caps),
        cmocka_unit_test(test_parse_quantities),
        cmocka_unit_test(test_node_errors),
        cmocka_unit_test(test_parse_batch),
        cmocka_unit_test(test_redact),
        cmocka_unit_test(test_timeout),
        cmocka_unit_test(test_http_errors),
        cmocka_unit_test(test_chain_ids),
        cmocka_unit_test(test_blocks),
        cmocka_unit_test(test_send_transaction),
        cmocka_unit_test(test_call_revert),
        cmocka_unit_test(test_logs),
        cmocka_unit_test(test_proof),
        cmocka_unit_test(test_fees),
        cmocka_unit_test(test_batch),
        cmocka_unit_test(test_failover),
        cmocka_unit_test(test_failover_http),
        cmocka_unit_test(test_wrong_chain),
        cmocka_unit_test(test_response_cap),
        cmocka_unit_test(test_quorum_block),
        cmocka_unit_test(test_chain_recheck),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
