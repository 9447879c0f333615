/*
 * watch_int.h - what the files of watchers/ share: the watcher's state, the
 * SQL helpers of store.c, and the entry points of ingest.c and reorg.c.
 * Not for use outside watchers/.
 */
#ifndef MR_WATCH_INT_H
#define MR_WATCH_INT_H

#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>
#include <pthread.h>

#include "chain/ethrpc.h"
#include "chain/heads.h"
#include "chain/rpc.h"
#include "db/sqlbuf.h"
#include "eth/error.h"
#include "watchers/events.h"
#include "watchers/watcher.h"

#define WATCH_MAX_ADDRESSES (2 * WATCHER_MAX_PAIRS)

/* The heads of one step. */
struct watch_heads {
    struct watcher_heads h;
    int has_safe;
    uint64_t safe;
};

/* What was read of one range (fetch.c): the last block's header read
 * before the logs, the logs (sorted by block and index), and the headers
 * to store and check them against: every block of a short range, else the
 * first, the last and each block with logs. */
struct watch_fetch {
    uint64_t from, to;
    int moved;                      /* the last block vanished: retry */
    struct eth_block last;
    struct eth_logs logs;
    struct ethrpc_logs_stats st;
    uint64_t *numbers;              /* sorted, distinct */
    struct eth_block *hdr;
    int *found;                     /* 0: the node has no such block */
    size_t n_hdr;
    int rc;                         /* of a prefetch */
    struct mr_error err;
};

/* The next range, read by a thread while the current one is written. */
struct watch_prefetch {
    pthread_t thread;
    int running;                    /* started and not joined */
    struct rpc_endpoints *rpc;      /* the thread's own endpoints */
    const uint8_t (*addresses)[20];
    size_t n_addresses;
    struct watch_fetch f;
};

struct watcher {
    struct watcher_config cfg;
    struct rpc_endpoints *rpc;
    PGconn *db;                     /* the lock's session; every write goes through it */
    int locked;
    uint64_t chunk;                 /* blocks of the next eth_getLogs range */
    size_t log_cap;                 /* most logs the node answered with when it refused */
    uint8_t addresses[WATCH_MAX_ADDRESSES][20]; /* the log filter, deduplicated */
    size_t n_addresses;
    int token_known[WATCHER_MAX_PAIRS];         /* value token read from the gateway */
    uint8_t token[WATCHER_MAX_PAIRS][20];
    int64_t written_head, written_finalized;    /* last heads written to chains */
    struct watch_prefetch pf;
    struct heads *tracker;                      /* chain/heads.h when ws_url is set */
    struct watch_heads heads;                   /* last polled */
    int64_t heads_at;                           /* when (monotonic ms), 0: never */
};

/* The chain row as one step reads it. */
struct watch_cursor {
    int has;
    uint64_t block;
    uint8_t hash[32];
};


/* ---- watcher.c ---- */

void watch_log(const struct watcher *w, int level, const char *fmt, ...) MR_PRINTF(3, 4);
void watch_hook(const struct watcher *w, const char *point);

/* ---- store.c: SQL helpers ---- */

/* Growable strings and array literals: db/sqlbuf.h. */

/* "0x" + hex into out (needs 2n+3). */
void watch_hex(const uint8_t *p, size_t n, char *out);
/* Bare hex (as encode(x, 'hex') gives it) of exactly n bytes into out[n]. */
int watch_unhex(const char *h, uint8_t *out, size_t n);

/* Runs a parameterized statement (text parameters).  Returns the result
 * (caller PQclear()s) or NULL with err filled (the result was cleared). */
PGresult *watch_sql(PGconn *db, const char *what, const char *sql, int n, const char *const *p,
                    ExecStatusType want, struct mr_error *err);

/* alert_raise() with component "watcher:<chain>" (an identical open alert
 * is not raised twice). */
int watch_alert(PGconn *db, const char *severity, const char *chain, const char *subject,
                const char *message, struct mr_error *err);

/* Reads the chain's cursor.  MR_ERR_NOTFOUND: the chain is not registered. */
int watch_read_cursor(PGconn *db, const char *chain, struct watch_cursor *c, int for_update,
                      struct mr_error *err);
/* The same from the result of WATCH_CURSOR_SQL ($1: the chain) run
 * elsewhere (e.g. in a pipeline); does not clear res. */
#define WATCH_CURSOR_SQL                                                                      \
    "SELECT cursor_block, encode(cursor_hash, 'hex') FROM " DB_SCHEMA ".chains WHERE chain_key = $1"
int watch_cursor_from(const PGresult *res, const char *chain, struct watch_cursor *c,
                      struct mr_error *err);

/* Recomputes source_status / target_status (and their block numbers) of
 * the messages among hashes[n] from the events stored for them, and
 * enqueues one `msg` job for each such message that is not halted.
 * reorg = 0: a status never moves backwards; 1: the events decide.
 * Out: *jobs (may be NULL), the jobs enqueued. */
int watch_update_messages(PGconn *db, const uint8_t (*hashes)[32], size_t n, int reorg,
                          size_t *jobs, struct mr_error *err);

/* Enqueues the `msg` jobs of hashes[n] (deduplicated by the queue). */
int watch_enqueue_msg(PGconn *db, const uint8_t (*hashes)[32], size_t n, struct mr_error *err);

/* Writes the heads into the chain row when they changed since the last
 * write of this watcher. */
int watch_write_heads(struct watcher *w, const struct watch_heads *hd, struct mr_error *err);

/* ---- heads ---- */

/* Reads the heads with the configured source and applies the policy. */
int watch_read_heads(struct watcher *w, struct watch_heads *hd, struct mr_error *err);

/* Headers of blocks numbers[n] in JSON-RPC batches.  Out: blocks[n];
 * found[i] = 0 when the node has no block i (a shorter chain). */
int watch_fetch_headers(struct rpc_endpoints *rpc, const uint64_t *numbers, size_t n,
                        struct eth_block *blocks, int *found, struct mr_error *err);

/* ---- fetch.c ---- */

/* Reads [from, to]: the last block, the logs of addrs[n], the headers.
 * Out: *f (watch_fetch_free), f->moved when the last block is gone. */
int watch_fetch_range(struct rpc_endpoints *rpc, const uint8_t (*addrs)[20], size_t n,
                      uint64_t from, uint64_t to, struct watch_fetch *f, struct mr_error *err);
void watch_fetch_free(struct watch_fetch *f);
/* The header of block `number` among f's, or NULL. */
const struct eth_block *watch_fetch_header(const struct watch_fetch *f, uint64_t number);

/* Starts reading [from, to] in the background (nothing if one runs). */
void watch_prefetch_start(struct watcher *w, uint64_t from, uint64_t to);
/* Waits for the background read; if it read a range that starts at `from`
 * and ends at or below `max_to`, moves it into *f and returns 1 (f->rc
 * says whether it worked); otherwise discards it and returns 0. */
int watch_prefetch_take(struct watcher *w, uint64_t from, uint64_t max_to, struct watch_fetch *f);
/* Waits for and discards any background read. */
void watch_prefetch_stop(struct watcher *w);

/* ---- ingest.c ---- */

/* Reads, checks, validates and writes the range [from, to]. */
int watch_ingest(struct watcher *w, const struct watch_cursor *cur, const struct watch_heads *hd,
                 uint64_t from, uint64_t to, struct watcher_result *res, struct mr_error *err);

/* ---- reorg.c ---- */

/* The block at the cursor has another hash (or is gone): finds the common
 * ancestor among the stored headers and undoes everything above it. */
int watch_reorg(struct watcher *w, const struct watch_cursor *cur, struct watcher_result *res,
                struct mr_error *err);

#endif /* MR_WATCH_INT_H */
