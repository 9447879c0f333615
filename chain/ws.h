/*
 * ws.h - one `eth_subscribe newHeads` subscription over a JSON-RPC
 * WebSocket (libwebsockets), on a service thread of its own.
 *
 * The thread connects, subscribes, hands every new head to on_head (called
 * on the service thread: keep it short and thread-safe), and when the
 * connection fails or closes connects again with backoff (100 ms doubling
 * to 5 s; back to 100 ms once subscribed).  Messages are read with the
 * strict JSON-RPC parser and block decoder (chain/rpc.h, chain/ethrpc.h),
 * capped at WS_MAX_MESSAGE; anything malformed is counted and dropped.
 * Nothing here knows about polling: chain/heads.h combines the two.
 * libwebsockets logs nothing unless MR_WS_DEBUG is set in the environment.
 */
#ifndef MR_WS_H
#define MR_WS_H

#include <stdint.h>

#include "chain/ethrpc.h"
#include "eth/error.h"

#define WS_MAX_MESSAGE (1u << 20)
#define WS_BACKOFF_MIN_MS 100
#define WS_BACKOFF_MAX_MS 5000

/* Called on the service thread with each head (borrowed for the call). */
typedef void (*ws_head_fn)(void *arg, const struct eth_block *head);

struct ws_stats {
    int connected;            /* the WebSocket is open */
    int subscribed;           /* ... and eth_subscribe was answered */
    uint64_t attempts;        /* connections tried */
    uint64_t connects;        /* connections opened */
    uint64_t heads;           /* heads handed to on_head */
    uint64_t bad_messages;    /* malformed or unexpected messages dropped */
};

struct ws_sub;

/* Starts the subscription to url ("ws://host:port/path" or "wss://...").
 * No network traffic happens on the caller's thread.  Out: *out (stop with
 * ws_sub_stop).  Returns MR_OK; MR_ERR_INVALID (not a ws(s) URL);
 * MR_ERR_NOMEM; MR_ERR_IO (libwebsockets or the thread would not start). */
int ws_sub_start(const char *url, ws_head_fn on_head, void *arg, struct ws_sub **out,
                 struct mr_error *err);

/* Stops the thread, closes the connection and frees w.  NULL-safe. */
void ws_sub_stop(struct ws_sub *w);

/* A snapshot of the counters (thread-safe). */
void ws_sub_stats(struct ws_sub *w, struct ws_stats *st);

#endif /* MR_WS_H */
