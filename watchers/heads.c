/*
 * heads.c - the head source (polling) and the confirmation policy, and
 * block headers fetched in JSON-RPC batches.
 */
#include <stdio.h>
#include <string.h>

#include "chain/ethrpc.h"
#include "watchers/watch_int.h"

/* Headers asked for in one batch. */
#define HEADERS_PER_BATCH 100

int watcher_heads_poll(void *ctx, struct rpc_endpoints *rpc, struct watcher_heads *h,
                       struct mr_error *err)
{
    struct rpc_batch_item it[2];
    struct eth_block b;
    int rc;

    (void)ctx;
    memset(it, 0, sizeof(it));
    memset(h, 0, sizeof(*h));
    it[0].method = "eth_blockNumber";
    it[0].params = json_array();
    it[1].method = "eth_getBlockByNumber";
    it[1].params = json_pack("[s, b]", "finalized", 0);
    rc = rpc_batch(rpc, it, 2, NULL, err);
    if (rc == MR_OK && it[0].rc != MR_OK)
        rc = mr_fail(err, it[0].rc, "%s eth_blockNumber: %s", rpc_endpoints_last(rpc), it[0].msg);
    if (rc == MR_OK)
        rc = ethrpc_quantity_u64(it[0].result, "eth_blockNumber", &h->head, err);
    /* A node without the tag (or before the first finalized block) leaves
     * has_finalized 0; the policy decides whether that matters. */
    if (rc == MR_OK && it[1].rc == MR_OK && !json_is_null(it[1].result) &&
        ethrpc_decode_block(it[1].result, &b, NULL) == MR_OK) {
        h->has_finalized = 1;
        h->finalized = b.number;
    }
    rpc_batch_clear(it, 2);
    return rc;
}

int watch_read_heads(struct watcher *w, struct watch_heads *hd, struct mr_error *err)
{
    watcher_head_fn fn = w->cfg.head_source ? w->cfg.head_source : watcher_heads_poll;
    int rc;

    memset(hd, 0, sizeof(*hd));
    rc = fn(w->cfg.head_ctx, w->rpc, &hd->h, err);
    if (rc != MR_OK)
        return rc;
    if (hd->h.has_finalized && hd->h.finalized > hd->h.head)
        return mr_fail(err, MR_ERR_INVALID, "chain %s: finalized block %llu above the head %llu",
                       w->cfg.chain_key, (unsigned long long)hd->h.finalized,
                       (unsigned long long)hd->h.head);
    if (w->cfg.use_finalized_tag) {
        hd->has_safe = hd->h.has_finalized;
        hd->safe = hd->h.finalized;
    } else if (hd->h.head >= w->cfg.confirmations) {
        hd->has_safe = 1;
        hd->safe = hd->h.head - w->cfg.confirmations;
    }
    return MR_OK;
}

int watch_fetch_headers(struct rpc_endpoints *rpc, const uint64_t *numbers, size_t n,
                        struct eth_block *blocks, int *found, struct mr_error *err)
{
    struct rpc_batch_item it[HEADERS_PER_BATCH];

    for (size_t base = 0; base < n; base += HEADERS_PER_BATCH) {
        size_t k = n - base < HEADERS_PER_BATCH ? n - base : HEADERS_PER_BATCH;
        int rc;
        memset(it, 0, sizeof(it));
        for (size_t i = 0; i < k; i++) {
            char id[ETHRPC_BLOCK_ID_LEN];
            it[i].method = "eth_getBlockByNumber";
            it[i].params = json_pack("[s, b]", ethrpc_block_id(numbers[base + i], id), 0);
        }
        rc = rpc_batch(rpc, it, k, NULL, err);
        for (size_t i = 0; rc == MR_OK && i < k; i++) {
            found[base + i] = 0;
            if (it[i].rc != MR_OK)
                rc = mr_fail(err, it[i].rc, "%s eth_getBlockByNumber %llu: %s",
                             rpc_endpoints_last(rpc), (unsigned long long)numbers[base + i],
                             it[i].msg);
            else if (!json_is_null(it[i].result)) {
                rc = ethrpc_decode_block(it[i].result, &blocks[base + i], err);
                if (rc == MR_OK && blocks[base + i].number != numbers[base + i])
                    rc = mr_fail(err, MR_ERR_JSON, "%s: asked for block %llu, got %llu",
                                 rpc_endpoints_last(rpc),
                                 (unsigned long long)numbers[base + i],
                                 (unsigned long long)blocks[base + i].number);
                found[base + i] = rc == MR_OK;
            }
        }
        rpc_batch_clear(it, k);
        if (rc != MR_OK)
            return rc;
    }
    return MR_OK;
}
