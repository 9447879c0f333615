/*
 * fuzz_rpc.c - libFuzzer target for the JSON-RPC response parser and the
 * typed-result decoders (chain/rpc.c, chain/ethrpc.c, chain/proofjson.c).
 *
 * Input: one selector byte, then a JSON text.
 *   0  a single response for id 1           (rpc_parse_response)
 *   1  a batch answer for ids 5..7          (rpc_parse_batch)
 *   2  a block result                       (ethrpc_decode_block)
 *   3  a receipt                            (ethrpc_decode_receipt)
 *   4  an eth_getLogs result                (ethrpc_decode_logs)
 *   5  an eth_feeHistory result             (ethrpc_decode_fee_history)
 *   6  an eth_getProof result               (proofjson_parse_json)
 *   7  a JSON-RPC error object              (rpc_classify_node_error)
 * The selector is taken modulo 8.  Crashes, leaks and sanitizer reports are
 * the failures.
 */
#include <stdint.h>
#include <string.h>

#include "chain/ethrpc.h"
#include "chain/proofjson.h"
#include "chain/rpc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void decode(unsigned sel, json_t *v)
{
    struct eth_block b;
    struct eth_receipt r;
    struct eth_logs logs = {0};
    struct eth_fee_history fh;
    struct proofjson p;
    struct rpc_detail d;

    switch (sel) {
    case 2:
        (void)ethrpc_decode_block(v, &b, NULL);
        break;
    case 3:
        (void)ethrpc_decode_receipt(v, &r, NULL);
        ethrpc_receipt_free(&r);
        break;
    case 4:
        (void)ethrpc_decode_logs(v, 1000, &logs, NULL);
        ethrpc_logs_free(&logs);
        break;
    case 5:
        (void)ethrpc_decode_fee_history(v, &fh, NULL);
        break;
    case 6:
        (void)proofjson_parse_json(v, &p, NULL);
        proofjson_free(&p);
        break;
    default:
        rpc_classify_node_error(v, "eth_call", &d);
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data + 1;
    struct rpc_batch_item items[3];
    struct rpc_detail d;
    json_t *v = NULL;
    unsigned sel;

    if (size < 1)
        return 0;
    sel = data[0] % 8;
    size--;
    if (sel == 0) {
        if (rpc_parse_response(text, size, 1 << 20, 1, "eth_test", &v, &d, NULL) == MR_OK)
            json_decref(v);
    } else if (sel == 1) {
        memset(items, 0, sizeof(items));
        items[0].method = items[1].method = items[2].method = "eth_getLogs";
        (void)rpc_parse_batch(text, size, 1 << 20, 5, items, 3, NULL);
        rpc_batch_clear(items, 3);
    } else if (rpc_json_load(text, size, 1 << 20, &v, NULL) == MR_OK) {
        decode(sel, v);
        json_decref(v);
    }
    return 0;
}
