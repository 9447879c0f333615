/*
 * ethrpc.c - typed Ethereum JSON-RPC calls and their decoders (see
 * ethrpc.h).  Method semantics: ethereum/execution-apis (eth namespace).
 */
#include "chain/ethrpc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eth/hex.h"

const char *ethrpc_block_id(uint64_t number, char out[ETHRPC_BLOCK_ID_LEN])
{
    hex_encode_quantity_u64(number, out, ETHRPC_BLOCK_ID_LEN);
    return out;
}

/* ---- field decoders ---- */

static const char *str_of(json_t *v, size_t *len)
{
    if (!json_is_string(v))
        return NULL;
    *len = json_string_length(v);
    return json_string_value(v);
}

int ethrpc_quantity_u64(json_t *v, const char *what, uint64_t *out, struct mr_error *err)
{
    struct mr_error e1;
    size_t n = 0;
    const char *s = str_of(v, &n);

    if (s == NULL)
        return mr_fail(err, MR_ERR_JSON, "%s: expected a quantity string", what);
    if (hex_decode_quantity_u64(s, n, out, &e1) != MR_OK)
        return mr_fail(err, MR_ERR_JSON, "%s: %s", what, e1.msg);
    return MR_OK;
}

int ethrpc_quantity(json_t *v, const char *what, struct u256 *out, struct mr_error *err)
{
    struct mr_error e1;
    size_t n = 0;
    const char *s = str_of(v, &n);

    if (s == NULL)
        return mr_fail(err, MR_ERR_JSON, "%s: expected a quantity string", what);
    if (hex_decode_quantity(s, n, out, &e1) != MR_OK)
        return mr_fail(err, MR_ERR_JSON, "%s: %s", what, e1.msg);
    return MR_OK;
}

int ethrpc_fixed(json_t *v, const char *what, uint8_t *out, size_t n, struct mr_error *err)
{
    struct mr_error e1;
    size_t len = 0;
    const char *s = str_of(v, &len);

    if (s == NULL)
        return mr_fail(err, MR_ERR_JSON, "%s: expected a %zu-byte data string", what, n);
    if (hex_decode_fixed(s, len, out, n, &e1) != MR_OK)
        return mr_fail(err, MR_ERR_JSON, "%s: %s", what, e1.msg);
    return MR_OK;
}

/* DATA of any length up to `cap` into a new malloc'd buffer (NULL if 0). */
static int data_alloc(json_t *v, const char *what, size_t cap, uint8_t **out, size_t *len,
                      struct mr_error *err)
{
    struct mr_error e1;
    size_t slen = 0;
    const char *s = str_of(v, &slen);
    long n = s ? hex_data_len(s, slen) : -1;

    *out = NULL;
    *len = 0;
    if (n < 0)
        return mr_fail(err, MR_ERR_JSON, "%s: expected 0x-hex data", what);
    if ((size_t)n > cap)
        return mr_fail(err, MR_ERR_TOOBIG, "%s: %ld bytes exceeds %zu", what, n, cap);
    if (n == 0) /* "0x": hex_data_len has checked the prefix */
        return MR_OK;
    if ((*out = malloc((size_t)n)) == NULL)
        return mr_fail(err, MR_ERR_NOMEM, "%s: out of memory", what);
    if (hex_decode_data(s, slen, *out, (size_t)n, len, &e1) != MR_OK) {
        free(*out);
        *out = NULL;
        return mr_fail(err, MR_ERR_JSON, "%s: %s", what, e1.msg);
    }
    return MR_OK;
}

/* Member `key` of object o, or an error naming it. */
static json_t *member(json_t *o, const char *key)
{
    return json_is_object(o) ? json_object_get(o, key) : NULL;
}

/* ---- result decoders ---- */

int ethrpc_decode_block(json_t *v, struct eth_block *b, struct mr_error *err)
{
    json_t *bf;
    int rc;

    memset(b, 0, sizeof(*b));
    if (!json_is_object(v))
        return mr_fail(err, MR_ERR_JSON, "block: expected an object");
    if ((rc = ethrpc_quantity_u64(member(v, "number"), "block.number", &b->number, err)) ||
        (rc = ethrpc_fixed(member(v, "hash"), "block.hash", b->hash, 32, err)) ||
        (rc = ethrpc_fixed(member(v, "parentHash"), "block.parentHash", b->parent_hash, 32,
                           err)) ||
        (rc = ethrpc_fixed(member(v, "stateRoot"), "block.stateRoot", b->state_root, 32, err)) ||
        (rc = ethrpc_quantity_u64(member(v, "timestamp"), "block.timestamp", &b->timestamp,
                                  err)))
        return rc;
    if ((bf = member(v, "baseFeePerGas")) != NULL && !json_is_null(bf)) {
        if ((rc = ethrpc_quantity(bf, "block.baseFeePerGas", &b->base_fee, err)) != MR_OK)
            return rc;
        b->has_base_fee = 1;
    }
    return MR_OK;
}

void ethrpc_logs_free(struct eth_logs *logs)
{
    if (logs == NULL)
        return;
    for (size_t i = 0; i < logs->n; i++)
        free(logs->v[i].data);
    free(logs->v);
    memset(logs, 0, sizeof(*logs));
}

static int log_topics(json_t *v, struct eth_log *l, struct mr_error *err)
{
    size_t i;
    json_t *t;
    int rc;

    if (!json_is_array(v) || json_array_size(v) > ETHRPC_MAX_TOPICS)
        return mr_fail(err, MR_ERR_JSON, "log.topics: expected an array of at most %d",
                       ETHRPC_MAX_TOPICS);
    json_array_foreach(v, i, t)
        if ((rc = ethrpc_fixed(t, "log.topics[]", l->topics[i], 32, err)) != MR_OK)
            return rc;
    l->n_topics = json_array_size(v);
    return MR_OK;
}

static int log_fields(json_t *v, struct eth_log *l, struct mr_error *err)
{
    json_t *rm = member(v, "removed");
    int rc;

    if (!json_is_object(v))
        return mr_fail(err, MR_ERR_JSON, "log: expected an object");
    if ((rc = ethrpc_fixed(member(v, "address"), "log.address", l->address, 20, err)) ||
        (rc = log_topics(member(v, "topics"), l, err)) ||
        (rc = ethrpc_quantity_u64(member(v, "blockNumber"), "log.blockNumber", &l->block_number,
                                  err)) ||
        (rc = ethrpc_fixed(member(v, "blockHash"), "log.blockHash", l->block_hash, 32, err)) ||
        (rc = ethrpc_fixed(member(v, "transactionHash"), "log.transactionHash", l->tx_hash, 32,
                           err)) ||
        (rc = ethrpc_quantity_u64(member(v, "transactionIndex"), "log.transactionIndex",
                                  &l->tx_index, err)) ||
        (rc = ethrpc_quantity_u64(member(v, "logIndex"), "log.logIndex", &l->log_index, err)))
        return rc;
    if (rm != NULL && !json_is_boolean(rm))
        return mr_fail(err, MR_ERR_JSON, "log.removed: expected a boolean");
    l->removed = json_is_true(rm);
    return data_alloc(member(v, "data"), "log.data", ETHRPC_MAX_LOG_DATA, &l->data, &l->data_len,
                      err);
}

int ethrpc_decode_log(json_t *v, struct eth_logs *logs, struct mr_error *err)
{
    struct eth_log l;
    int rc;

    memset(&l, 0, sizeof(l));
    if ((rc = log_fields(v, &l, err)) != MR_OK) {
        free(l.data);
        return rc;
    }
    if (logs->n == logs->cap) {
        size_t cap = logs->cap ? logs->cap * 2 : 16;
        struct eth_log *p = realloc(logs->v, cap * sizeof(*p));
        if (p == NULL) {
            free(l.data);
            return mr_fail(err, MR_ERR_NOMEM, "logs: out of memory");
        }
        logs->v = p;
        logs->cap = cap;
    }
    logs->v[logs->n++] = l;
    return MR_OK;
}

int ethrpc_decode_logs(json_t *v, size_t max, struct eth_logs *logs, struct mr_error *err)
{
    size_t i;
    json_t *l;
    int rc;

    if (!json_is_array(v))
        return mr_fail(err, MR_ERR_JSON, "logs: expected an array");
    if (json_array_size(v) > max || logs->n > max - json_array_size(v))
        return mr_fail(err, MR_ERR_TOOBIG, "logs: more than %zu", max);
    json_array_foreach(v, i, l)
        if ((rc = ethrpc_decode_log(l, logs, err)) != MR_OK)
            return mr_error_prefix(err, rc, "logs[%zu]: ", i);
    return MR_OK;
}

void ethrpc_receipt_free(struct eth_receipt *r)
{
    if (r == NULL)
        return;
    ethrpc_logs_free(&r->logs);
    memset(r, 0, sizeof(*r));
}

int ethrpc_decode_receipt(json_t *v, struct eth_receipt *r, struct mr_error *err)
{
    json_t *ca = member(v, "contractAddress");
    uint64_t status;
    int rc;

    memset(r, 0, sizeof(*r));
    if (!json_is_object(v))
        return mr_fail(err, MR_ERR_JSON, "receipt: expected an object");
    if ((rc = ethrpc_fixed(member(v, "transactionHash"), "receipt.transactionHash", r->tx_hash,
                           32, err)) ||
        (rc = ethrpc_quantity_u64(member(v, "status"), "receipt.status", &status, err)) ||
        (rc = ethrpc_fixed(member(v, "blockHash"), "receipt.blockHash", r->block_hash, 32,
                           err)) ||
        (rc = ethrpc_quantity_u64(member(v, "blockNumber"), "receipt.blockNumber",
                                  &r->block_number, err)) ||
        (rc = ethrpc_quantity_u64(member(v, "gasUsed"), "receipt.gasUsed", &r->gas_used, err)) ||
        (rc = ethrpc_quantity(member(v, "effectiveGasPrice"), "receipt.effectiveGasPrice",
                              &r->effective_gas_price, err)))
        return rc;
    if (status > 1) /* EIP-658: 1 success, 0 failure */
        return mr_fail(err, MR_ERR_JSON, "receipt.status: %llu is neither 0 nor 1",
                       (unsigned long long)status);
    r->status = (int)status;
    if (ca != NULL && !json_is_null(ca)) {
        if ((rc = ethrpc_fixed(ca, "receipt.contractAddress", r->contract_address, 20, err)))
            return rc;
        r->has_contract_address = 1;
    }
    rc = ethrpc_decode_logs(member(v, "logs"), 100000, &r->logs, err);
    return rc == MR_OK ? rc : mr_error_prefix(err, rc, "receipt.");
}

static int fee_rewards(json_t *v, struct eth_fee_history *fh, struct mr_error *err)
{
    size_t i, j;
    json_t *row, *x;
    int rc;

    if (v == NULL || json_is_null(v))
        return MR_OK;
    if (!json_is_array(v) || json_array_size(v) != fh->n_blocks)
        return mr_fail(err, MR_ERR_JSON, "feeHistory.reward: expected %zu rows", fh->n_blocks);
    json_array_foreach(v, i, row) {
        if (!json_is_array(row) || json_array_size(row) > ETHRPC_MAX_FEE_PCTS ||
            (i > 0 && json_array_size(row) != fh->n_pcts))
            return mr_fail(err, MR_ERR_JSON, "feeHistory.reward[%zu]: bad row", i);
        fh->n_pcts = json_array_size(row);
        json_array_foreach(row, j, x)
            if ((rc = ethrpc_quantity(x, "feeHistory.reward[][]", &fh->reward[i][j], err)))
                return rc;
    }
    return MR_OK;
}

int ethrpc_decode_fee_history(json_t *v, struct eth_fee_history *fh, struct mr_error *err)
{
    json_t *bf = member(v, "baseFeePerGas"), *gr = member(v, "gasUsedRatio"), *x;
    size_t i;
    int rc;

    memset(fh, 0, sizeof(*fh));
    if ((rc = ethrpc_quantity_u64(member(v, "oldestBlock"), "feeHistory.oldestBlock",
                                  &fh->oldest_block, err)))
        return rc;
    if (!json_is_array(gr) || json_array_size(gr) > ETHRPC_MAX_FEE_BLOCKS)
        return mr_fail(err, MR_ERR_JSON, "feeHistory.gasUsedRatio: expected at most %d numbers",
                       ETHRPC_MAX_FEE_BLOCKS);
    fh->n_blocks = json_array_size(gr);
    /* baseFeePerGas has one more entry: the block after the newest. */
    if (!json_is_array(bf) || json_array_size(bf) != fh->n_blocks + 1)
        return mr_fail(err, MR_ERR_JSON, "feeHistory.baseFeePerGas: expected %zu entries",
                       fh->n_blocks + 1);
    json_array_foreach(gr, i, x) {
        if (!json_is_number(x) || json_number_value(x) < 0 || json_number_value(x) > 1)
            return mr_fail(err, MR_ERR_JSON, "feeHistory.gasUsedRatio[%zu]: not in [0, 1]", i);
        fh->gas_used_ratio[i] = json_number_value(x);
    }
    json_array_foreach(bf, i, x)
        if ((rc = ethrpc_quantity(x, "feeHistory.baseFeePerGas[]", &fh->base_fee[i], err)))
            return rc;
    return fee_rewards(member(v, "reward"), fh, err);
}

/* ---- building parameters ---- */

/* A new JSON string "0x..." of data[len], or NULL. */
static json_t *hex_json(const uint8_t *data, size_t len)
{
    char small[136], *buf = small;
    json_t *v;

    if (len > (sizeof(small) - 3) / 2 && (buf = malloc(2 * len + 3)) == NULL)
        return NULL;
    hex_encode_data(data, len, buf, 2 * len + 3);
    v = json_string(buf);
    if (buf != small)
        free(buf);
    return v;
}

static json_t *quantity_json(const struct u256 *q)
{
    char buf[72];

    hex_encode_quantity(q, buf, sizeof(buf));
    return json_string(buf);
}

/* Calls `method` and requires a non-null result (null: MR_ERR_NOTFOUND). */
static int call_nonnull(struct rpc_endpoints *e, const char *method, json_t *params,
                        json_t **res, struct rpc_detail *d, struct mr_error *err)
{
    int rc = rpc_call(e, method, params, res, d, err);

    if (rc == MR_OK && json_is_null(*res)) {
        json_decref(*res);
        *res = NULL;
        return mr_fail(err, MR_ERR_NOTFOUND, "%s %s: null result (not found, or not yet)",
                       rpc_endpoints_last(e), method);
    }
    return rc;
}

/* Decoder failures name the endpoint and the method. */
static int decoded(struct rpc_endpoints *e, int rc, const char *method, struct rpc_detail *d,
                   struct mr_error *err)
{
    if (rc != MR_OK && d != NULL) {
        d->cls = RPC_CLASS_PERMANENT;
        d->kind = RPC_KIND_BAD_RESPONSE;
    }
    return rc == MR_OK ? rc : mr_error_prefix(err, rc, "%s %s: ", rpc_endpoints_last(e), method);
}

static int call_u64(struct rpc_endpoints *e, const char *method, json_t *params, uint64_t *out,
                    struct rpc_detail *d, struct mr_error *err)
{
    json_t *res;
    int rc = call_nonnull(e, method, params, &res, d, err);

    if (rc == MR_OK) {
        rc = decoded(e, ethrpc_quantity_u64(res, "result", out, err), method, d, err);
        json_decref(res);
    }
    return rc;
}

static int call_u256(struct rpc_endpoints *e, const char *method, json_t *params,
                     struct u256 *out, struct rpc_detail *d, struct mr_error *err)
{
    json_t *res;
    int rc = call_nonnull(e, method, params, &res, d, err);

    if (rc == MR_OK) {
        rc = decoded(e, ethrpc_quantity(res, "result", out, err), method, d, err);
        json_decref(res);
    }
    return rc;
}

/* ---- typed calls ---- */

int ethrpc_chain_id(struct rpc_endpoints *e, uint64_t *id, struct rpc_detail *d,
                    struct mr_error *err)
{
    return call_u64(e, "eth_chainId", NULL, id, d, err);
}

int ethrpc_block_number(struct rpc_endpoints *e, uint64_t *number, struct rpc_detail *d,
                        struct mr_error *err)
{
    return call_u64(e, "eth_blockNumber", NULL, number, d, err);
}

static int get_block(struct rpc_endpoints *e, const char *method, json_t *params,
                     struct eth_block *b, struct rpc_detail *d, struct mr_error *err)
{
    json_t *res;
    int rc;

    if (params == NULL)
        return mr_fail(err, MR_ERR_NOMEM, "%s: out of memory", method);
    if ((rc = call_nonnull(e, method, params, &res, d, err)) != MR_OK)
        return rc;
    rc = decoded(e, ethrpc_decode_block(res, b, err), method, d, err);
    json_decref(res);
    return rc;
}

int ethrpc_get_block(struct rpc_endpoints *e, const char *block, struct eth_block *b,
                     struct rpc_detail *d, struct mr_error *err)
{
    return get_block(e, "eth_getBlockByNumber", json_pack("[s, b]", block, 0), b, d, err);
}

int ethrpc_get_block_by_hash(struct rpc_endpoints *e, const uint8_t hash[32], struct eth_block *b,
                             struct rpc_detail *d, struct mr_error *err)
{
    return get_block(e, "eth_getBlockByHash", json_pack("[o, b]", hex_json(hash, 32), 0), b, d,
                     err);
}

/* eth_getBlockByNumber(number) on endpoint i only. */
static int block_on(struct rpc_endpoints *e, size_t i, uint64_t number, struct eth_block *b,
                    struct rpc_detail *d, struct mr_error *err)
{
    const char *m = "eth_getBlockByNumber";
    const char *name = rpc_endpoints_health(e, i)->name;
    char id[ETHRPC_BLOCK_ID_LEN];
    json_t *res, *params = json_pack("[s, b]", ethrpc_block_id(number, id), 0);
    int rc;

    if (params == NULL)
        return mr_fail(err, MR_ERR_NOMEM, "%s: out of memory", m);
    if ((rc = rpc_call_endpoint(e, i, m, params, &res, d, err)) != MR_OK)
        return rc;
    if (json_is_null(res))
        rc = mr_fail(err, MR_ERR_NOTFOUND, "%s %s: block %llu not found (not yet)", name, m,
                     (unsigned long long)number);
    else if ((rc = ethrpc_decode_block(res, b, err)) != MR_OK)
        mr_error_prefix(err, rc, "%s %s: ", name, m);
    else if (b->number != number)
        rc = mr_fail(err, MR_ERR_JSON, "%s %s: asked for block %llu, got %llu", name, m,
                     (unsigned long long)number, (unsigned long long)b->number);
    json_decref(res);
    return rc;
}

int ethrpc_quorum_block(struct rpc_endpoints *e, uint64_t number, size_t q, struct eth_block *b,
                        struct mr_error *err)
{
    size_t n = rpc_endpoints_count(e), agree = 0, first = 0, notfound = 0;
    struct mr_error last;
    int last_rc = MR_OK;

    if (q == 0 || q > n)
        return mr_fail(err, MR_ERR_INVALID, "quorum %zu of %zu endpoints", q, n);
    mr_error_clear(&last);
    for (size_t i = 0; i < n; i++) {
        struct eth_block bi;
        struct rpc_detail d;
        struct mr_error e1;
        int rc = block_on(e, i, number, &bi, &d, &e1);
        if (rc != MR_OK && d.cls == RPC_CLASS_FATAL)
            return mr_fail(err, rc, "%s", e1.msg); /* a wrong chain */
        if (rc != MR_OK) {
            notfound += rc == MR_ERR_NOTFOUND;
            last = e1;
            last_rc = rc;
            continue;
        }
        if (agree == 0) {
            *b = bi;
            first = i;
        } else if (memcmp(bi.hash, b->hash, 32) != 0 || memcmp(bi.state_root, b->state_root, 32)) {
            int by_hash = memcmp(bi.hash, b->hash, 32) != 0;
            char v1[67], v2[67];
            hex_encode_data(by_hash ? b->hash : b->state_root, 32, v1, sizeof(v1));
            hex_encode_data(by_hash ? bi.hash : bi.state_root, 32, v2, sizeof(v2));
            return mr_fail(err, MR_ERR_MISMATCH, "block %llu: endpoints disagree on the %s: %s "
                           "says %s, %s says %s", (unsigned long long)number,
                           by_hash ? "hash" : "stateRoot", rpc_endpoints_health(e, first)->name, v1,
                           rpc_endpoints_health(e, i)->name, v2);
        }
        agree++;
    }
    if (agree >= q)
        return MR_OK;
    return mr_fail(err, notfound == n - agree ? MR_ERR_NOTFOUND : MR_ERR_IO,
                   "block %llu: %zu of %zu endpoints agree, quorum %zu (last failure: %s)",
                   (unsigned long long)number, agree, n, q, last_rc != MR_OK ? last.msg : "none");
}

int ethrpc_get_transaction_count(struct rpc_endpoints *e, const uint8_t address[20],
                                 const char *block, uint64_t *nonce, struct rpc_detail *d,
                                 struct mr_error *err)
{
    return call_u64(e, "eth_getTransactionCount", json_pack("[o, s]", hex_json(address, 20), block),
                    nonce, d, err);
}

int ethrpc_get_balance(struct rpc_endpoints *e, const uint8_t address[20], const char *block,
                       struct u256 *balance, struct rpc_detail *d, struct mr_error *err)
{
    return call_u256(e, "eth_getBalance", json_pack("[o, s]", hex_json(address, 20), block),
                     balance, d, err);
}

int ethrpc_get_code(struct rpc_endpoints *e, const uint8_t address[20], const char *block,
                    uint8_t **code, size_t *len, struct rpc_detail *d, struct mr_error *err)
{
    json_t *res, *params = json_pack("[o, s]", hex_json(address, 20), block);
    int rc;

    *code = NULL;
    *len = 0;
    if (params == NULL)
        return mr_fail(err, MR_ERR_NOMEM, "eth_getCode: out of memory");
    if ((rc = call_nonnull(e, "eth_getCode", params, &res, d, err)) != MR_OK)
        return rc;
    rc = data_alloc(res, "result", ETHRPC_MAX_CODE, code, len, err);
    json_decref(res);
    return decoded(e, rc, "eth_getCode", d, err);
}

int ethrpc_max_priority_fee(struct rpc_endpoints *e, struct u256 *fee, struct rpc_detail *d,
                            struct mr_error *err)
{
    return call_u256(e, "eth_maxPriorityFeePerGas", NULL, fee, d, err);
}

int ethrpc_send_raw_transaction(struct rpc_endpoints *e, const uint8_t *raw, size_t len,
                                uint8_t hash[32], struct rpc_detail *d, struct mr_error *err)
{
    const char *m = "eth_sendRawTransaction";
    json_t *res, *params = json_pack("[o]", hex_json(raw, len));
    int rc;

    if (params == NULL)
        return mr_fail(err, MR_ERR_NOMEM, "%s: out of memory", m);
    if ((rc = call_nonnull(e, m, params, &res, d, err)) != MR_OK)
        return rc;
    rc = decoded(e, ethrpc_fixed(res, "result", hash, 32, err), m, d, err);
    json_decref(res);
    return rc;
}

int ethrpc_get_receipt(struct rpc_endpoints *e, const uint8_t hash[32], struct eth_receipt *r,
                       struct rpc_detail *d, struct mr_error *err)
{
    const char *m = "eth_getTransactionReceipt";
    json_t *res, *params = json_pack("[o]", hex_json(hash, 32));
    int rc;

    memset(r, 0, sizeof(*r));
    if (params == NULL)
        return mr_fail(err, MR_ERR_NOMEM, "%s: out of memory", m);
    if ((rc = call_nonnull(e, m, params, &res, d, err)) != MR_OK)
        return rc;
    rc = decoded(e, ethrpc_decode_receipt(res, r, err), m, d, err);
    json_decref(res);
    return rc;
}

/* The call object {from?, to?, value?, data} of eth_call / estimateGas. */
static json_t *call_object(const uint8_t *from, const uint8_t *to, const struct u256 *value,
                           const uint8_t *data, size_t len)
{
    json_t *o = json_object();

    if (o == NULL || (from && json_object_set_new(o, "from", hex_json(from, 20))) ||
        (to && json_object_set_new(o, "to", hex_json(to, 20))) ||
        (value && json_object_set_new(o, "value", quantity_json(value))) ||
        json_object_set_new(o, "data", hex_json(data, len))) {
        json_decref(o);
        return NULL;
    }
    return o;
}

int ethrpc_call(struct rpc_endpoints *e, const uint8_t *from, const uint8_t to[20],
                const uint8_t *data, size_t len, const char *block, uint8_t **out,
                size_t *out_len, struct rpc_detail *d, struct mr_error *err)
{
    return ethrpc_call_ex(e, from, to, NULL, data, len, block, out, out_len, d, err);
}

int ethrpc_call_ex(struct rpc_endpoints *e, const uint8_t *from, const uint8_t *to,
                   const struct u256 *value, const uint8_t *data, size_t len, const char *block,
                   uint8_t **out, size_t *out_len, struct rpc_detail *d, struct mr_error *err)
{
    json_t *res, *params = json_pack("[o, s]", call_object(from, to, value, data, len), block);
    int rc;

    *out = NULL;
    *out_len = 0;
    if (params == NULL)
        return mr_fail(err, MR_ERR_NOMEM, "eth_call: out of memory");
    if ((rc = call_nonnull(e, "eth_call", params, &res, d, err)) != MR_OK)
        return rc;
    rc = data_alloc(res, "result", (size_t)1 << 24, out, out_len,
                    err);
    json_decref(res);
    return decoded(e, rc, "eth_call", d, err);
}

int ethrpc_estimate_gas(struct rpc_endpoints *e, const uint8_t *from, const uint8_t *to,
                        const struct u256 *value, const uint8_t *data, size_t len,
                        uint64_t *gas, struct rpc_detail *d, struct mr_error *err)
{
    json_t *params = json_pack("[o]", call_object(from, to, value, data, len));

    if (params == NULL)
        return mr_fail(err, MR_ERR_NOMEM, "eth_estimateGas: out of memory");
    return call_u64(e, "eth_estimateGas", params, gas, d, err);
}

int ethrpc_fee_history(struct rpc_endpoints *e, size_t n_blocks, const char *newest,
                       const double *pcts, size_t n_pcts, struct eth_fee_history *fh,
                       struct rpc_detail *d, struct mr_error *err)
{
    const char *m = "eth_feeHistory";
    char count[ETHRPC_BLOCK_ID_LEN];
    json_t *res, *p = json_array(), *params;
    int rc;

    if (n_blocks == 0 || n_blocks > ETHRPC_MAX_FEE_BLOCKS || n_pcts > ETHRPC_MAX_FEE_PCTS) {
        json_decref(p);
        return mr_fail(err, MR_ERR_INVALID, "%s: %zu blocks (1 to %d), %zu percentiles (max %d)",
                       m, n_blocks, ETHRPC_MAX_FEE_BLOCKS, n_pcts, ETHRPC_MAX_FEE_PCTS);
    }
    for (size_t i = 0; p != NULL && i < n_pcts; i++)
        json_array_append_new(p, json_real(pcts[i]));
    params = json_pack("[s, s, o]", ethrpc_block_id(n_blocks, count), newest, p);
    if (params == NULL)
        return mr_fail(err, MR_ERR_NOMEM, "%s: out of memory", m);
    if ((rc = call_nonnull(e, m, params, &res, d, err)) != MR_OK)
        return rc;
    rc = decoded(e, ethrpc_decode_fee_history(res, fh, err), m, d, err);
    json_decref(res);
    return rc;
}

int ethrpc_get_proof(struct rpc_endpoints *e, const uint8_t address[20],
                     const uint8_t (*slots)[32], size_t n_slots, const char *block,
                     struct proofjson *p, struct rpc_detail *d, struct mr_error *err)
{
    json_t *res, *keys = json_array(), *params;
    int rc;

    memset(p, 0, sizeof(*p));
    if (n_slots > PROOFJSON_MAX_STORAGE) {
        json_decref(keys);
        return mr_fail(err, MR_ERR_INVALID, "eth_getProof: %zu slots exceeds %d", n_slots,
                       PROOFJSON_MAX_STORAGE);
    }
    for (size_t i = 0; keys != NULL && i < n_slots; i++)
        json_array_append_new(keys, hex_json(slots[i], 32));
    params = json_pack("[o, o, s]", hex_json(address, 20), keys, block);
    if (params == NULL)
        return mr_fail(err, MR_ERR_NOMEM, "eth_getProof: out of memory");
    if ((rc = call_nonnull(e, "eth_getProof", params, &res, d, err)) != MR_OK)
        return rc;
    rc = decoded(e, proofjson_parse_json(res, p, err), "eth_getProof", d, err);
    json_decref(res);
    return rc;
}

/* ---- eth_getLogs ---- */

static json_t *topic_json(const struct eth_log_filter *f, size_t i)
{
    json_t *alts;

    if (f->n_alts[i] == 0)
        return json_null();
    if (f->n_alts[i] == 1)
        return hex_json(f->topics[i][0], 32);
    alts = json_array();
    for (size_t j = 0; alts != NULL && j < f->n_alts[i]; j++)
        if (json_array_append_new(alts, hex_json(f->topics[i][j], 32)) != 0) {
            json_decref(alts);
            alts = NULL;
        }
    return alts;
}

/* The filter object for [from, to]. */
static json_t *filter_json(const struct eth_log_filter *f, uint64_t from, uint64_t to)
{
    char a[ETHRPC_BLOCK_ID_LEN], b[ETHRPC_BLOCK_ID_LEN];
    json_t *addrs = json_array(), *topics = json_array();

    for (size_t i = 0; addrs != NULL && i < f->n_addresses; i++)
        json_array_append_new(addrs, hex_json(f->addresses[i], 20));
    for (size_t i = 0; topics != NULL && i < f->n_topics; i++)
        json_array_append_new(topics, topic_json(f, i));
    return json_pack("{s:s, s:s, s:o, s:o}", "fromBlock", ethrpc_block_id(from, a), "toBlock",
                     ethrpc_block_id(to, b), "address", addrs, "topics", topics);
}

/* True when halving the range may help: the node refused the range or the
 * number of results, or the answer outgrew the response cap. */
static int should_split(int rc, const struct rpc_detail *d)
{
    return (rc == MR_ERR_TOOBIG && d->kind == RPC_KIND_TOO_BIG) ||
           (rc == MR_ERR_RPC && d->kind == RPC_KIND_RANGE_TOO_LARGE);
}

/* [from, to] in one call, or in two halves (recursively) when refused.
 * Recursion depth is at most 64: each level halves a 64-bit range. */
static int logs_range(struct rpc_endpoints *e, const struct eth_log_filter *f, uint64_t from,
                      uint64_t to, size_t max, struct eth_logs *logs,
                      struct ethrpc_logs_stats *st, struct rpc_detail *d, struct mr_error *err)
{
    json_t *res, *params = json_pack("[o]", filter_json(f, from, to));
    uint64_t mid;
    int rc;

    if (params == NULL)
        return mr_fail(err, MR_ERR_NOMEM, "eth_getLogs: out of memory");
    size_t before = logs->n;

    rc = call_nonnull(e, "eth_getLogs", params, &res, d, err);
    st->calls++;
    if (rc == MR_OK) {
        rc = decoded(e, ethrpc_decode_logs(res, max, logs, err), "eth_getLogs", d, err);
        json_decref(res);
        if (rc == MR_OK && to - from + 1 > st->widest_ok)
            st->widest_ok = to - from + 1;
        if (rc == MR_OK && logs->n - before > st->most_logs)
            st->most_logs = logs->n - before;
        return rc;
    }
    if (from == to || !should_split(rc, d))
        return rc;
    st->refused++;
    if (st->narrowest_refused == 0 || to - from + 1 < st->narrowest_refused)
        st->narrowest_refused = to - from + 1;
    mid = from + (to - from) / 2;
    if ((rc = logs_range(e, f, from, mid, max, logs, st, d, err)) != MR_OK)
        return rc;
    return logs_range(e, f, mid + 1, to, max, logs, st, d, err);
}

int ethrpc_get_logs(struct rpc_endpoints *e, const struct eth_log_filter *f,
                    struct eth_logs *logs, struct rpc_detail *d, struct mr_error *err)
{
    return ethrpc_get_logs_stats(e, f, logs, NULL, d, err);
}

int ethrpc_get_logs_stats(struct rpc_endpoints *e, const struct eth_log_filter *f,
                          struct eth_logs *logs, struct ethrpc_logs_stats *st,
                          struct rpc_detail *d, struct mr_error *err)
{
    struct rpc_detail local;
    struct ethrpc_logs_stats st_local;

    if (f->from_block > f->to_block || f->n_topics > ETHRPC_MAX_TOPICS ||
        f->n_addresses > ETHRPC_MAX_LOG_ADDRESSES)
        return mr_fail(err, MR_ERR_INVALID, "eth_getLogs: bad filter (range %llu..%llu, "
                       "%zu topics, %zu addresses)", (unsigned long long)f->from_block,
                       (unsigned long long)f->to_block, f->n_topics, f->n_addresses);
    for (size_t i = 0; i < f->n_topics; i++)
        if (f->n_alts[i] > ETHRPC_MAX_TOPIC_ALTS)
            return mr_fail(err, MR_ERR_INVALID, "eth_getLogs: topic %zu has %zu alternatives", i,
                           f->n_alts[i]);
    if (st == NULL)
        st = &st_local;
    memset(st, 0, sizeof(*st));
    return logs_range(e, f, f->from_block, f->to_block, f->max_logs ? f->max_logs : 10000, logs,
                      st, d ? d : &local, err);
}
