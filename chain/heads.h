/*
 * heads.h - the head tracker of one chain: the newest block, from an
 * `eth_subscribe newHeads` WebSocket (chain/ws.h) when there is one, and
 * from polling eth_getBlockByNumber("latest") every poll_ms in any case.
 *
 * heads_wait() behaves the same whether the WebSocket works, reconnects,
 * or was never configured: it returns the newest head as soon as one is
 * known that differs from the head it returned last; the subscription only
 * makes that sooner.  A head from the subscription older than the last
 * returned one is ignored (a late notification); a poll is authoritative,
 * so a reorganisation to a lower or equal number is returned as well.
 * Deciding what a new head means (reorg, finality) is the watcher's job.
 *
 * Not thread-safe: one caller thread per tracker (the WebSocket has its own
 * service thread inside).
 */
#ifndef MR_HEADS_H
#define MR_HEADS_H

#include <stdint.h>

#include "chain/ethrpc.h"
#include "chain/rpc.h"
#include "eth/error.h"

struct heads;

struct heads_stats {
    int ws_configured;
    int ws_connected, ws_subscribed;
    uint64_t ws_attempts, ws_connects;  /* connections tried / opened */
    uint64_t ws_heads;                  /* heads the subscription delivered */
    uint64_t polls;                     /* eth_getBlockByNumber("latest") calls */
    uint64_t returned_ws, returned_poll; /* heads returned, by where they came from */
};

/* Opens a tracker over rpc (borrowed; used on the caller's thread only)
 * and, when ws_url is neither NULL nor "", a WebSocket subscription.
 * poll_ms > 0.  Out: *out (heads_close).  Returns MR_OK, MR_ERR_INVALID
 * (bad URL or poll_ms), MR_ERR_NOMEM, MR_ERR_IO. */
int heads_open(struct rpc_endpoints *rpc, const char *ws_url, long poll_ms, struct heads **out,
               struct mr_error *err);

/* Waits up to timeout_ms for a head different from the one returned last
 * (the first call returns the current head at once).  Out: *head.
 * Returns MR_OK; MR_ERR_NOTFOUND when none came in time (*head is then the
 * last one returned, if any); or the error of a failed poll (when nothing
 * newer came from the subscription either). */
int heads_wait(struct heads *h, long timeout_ms, struct eth_block *head, struct mr_error *err);

void heads_stats(struct heads *h, struct heads_stats *st);

/* Stops the subscription and frees h.  NULL-safe. */
void heads_close(struct heads *h);

#endif /* MR_HEADS_H */
