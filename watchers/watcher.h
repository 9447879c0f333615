/*
 * watcher.h - the chain watcher: follows one chain's gateway, co-gateway and
 * anchor events into Postgres, exactly once, from blocks that are final by
 * the chain's policy, and takes them out again when the chain reorganises.
 *
 * One watcher per chain.  Each step:
 *   1. holds (or, as a standby, tries to take) the chain's Postgres session
 *      advisory lock (watcher_lock_key) on its own connection: one instance
 *      per chain writes, the others take over from the cursor when its
 *      session ends;
 *   2. reads the head and the finalized head (the head source: polling by
 *      default, watcher_heads_poll) and the safe head of the confirmation
 *      policy: the `finalized` tag, or head - N;
 *   3. checks that the block at the cursor still has the stored hash; if
 *      not, walks back the stored headers to the common ancestor and undoes
 *      what came from the orphaned blocks (one transaction): events, anchors
 *      and messages that were not acted on are deleted with their jobs (the
 *      unlock secret goes back to pending_secrets); a message the relayer
 *      already acted on (a job ran, or a transaction exists for one of its
 *      jobs) is set to `halted` with an alert, for an operator to decide;
 *   4. otherwise reads the logs of the next range up to the safe head
 *      (eth_getLogs; the range adapts to what the node accepts and to the
 *      number of logs), checks that the range links to the cursor and did
 *      not change while it was read, decodes the events (watchers/events.h),
 *      validates declared stakes and redeems against the gateway's stored
 *      message (and, for stakes, the value-token Transfer in the receipt),
 *      and writes in ONE transaction: headers, events (unique per block
 *      hash and log index), messages and their secrets, statuses of known
 *      messages, anchors, alerts for refused declarations, `msg` jobs, and
 *      the cursor.  A crash at any point leaves either all of it or none.
 *
 * The watcher never sends transactions.  It does not include relayer/
 * headers: the daemon fills struct watcher_config from its config.
 */
#ifndef MR_WATCHER_H
#define MR_WATCHER_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "chain/rpc.h"
#include "eth/error.h"

#define WATCHER_MAX_PAIRS 64
#define WATCHER_MAX_ENDPOINTS 8
#define WATCHER_KEY_LEN 33          /* chain keys and pair names: 32 chars + NUL */
#define WATCHER_URL_LEN 512
#define WATCHER_DB_URL_LEN 1024

/* Defaults of the tuning fields (0 in the config selects them). */
#define WATCHER_DEFAULT_MAX_RANGE 2000
#define WATCHER_DEFAULT_TARGET_LOGS 2000
#define WATCHER_DEFAULT_KEEP_HEADERS 1024
#define WATCHER_DEFAULT_POLL_MS 1000
#define WATCHER_DEFAULT_STANDBY_MS 1000
/* Ranges of at most this many blocks store every header (live following);
 * longer ones (backfill) store the first, the last and those with logs. */
#define WATCHER_DENSE_HEADERS 64

/* One gateway pair as seen from the watched chain. */
struct watcher_pair {
    char name[WATCHER_KEY_LEN];        /* messages.gateway_pair */
    int is_origin;                     /* 1: this chain is the pair's origin */
    uint8_t gateway[20];               /* EIP20Gateway (origin) / EIP20CoGateway here */
    uint8_t remote_gateway[20];        /* the other side's gateway (informational) */
    int has_anchor;
    uint8_t anchor[20];                /* the Anchor here (stores the remote chain's roots) */
    char remote_chain[WATCHER_KEY_LEN]; /* chain key of the other side */
    int has_value_token;               /* origin: 0 = read gateway.token() once */
    uint8_t value_token[20];
};

/* What a head source reports. */
struct watcher_heads {
    uint64_t head;             /* latest block number */
    int has_finalized;
    uint64_t finalized;        /* the node's `finalized` block number */
};

/* A head source: fills *h.  `ctx` is watcher_config.head_ctx.  The default
 * (head_source NULL) is watcher_heads_poll.  A subscription-based source
 * (chain/heads.h) can be plugged in here. */
typedef int (*watcher_head_fn)(void *ctx, struct rpc_endpoints *rpc, struct watcher_heads *h,
                               struct mr_error *err);

/* Polls eth_blockNumber and the `finalized` block in one JSON-RPC batch.
 * A node without the tag gives has_finalized = 0. */
int watcher_heads_poll(void *ctx, struct rpc_endpoints *rpc, struct watcher_heads *h,
                       struct mr_error *err);

struct watcher_config {
    char chain_key[WATCHER_KEY_LEN];   /* must exist in mosaic.chains */
    uint64_t chain_id;                 /* checked on every endpoint */
    char endpoints[WATCHER_MAX_ENDPOINTS][WATCHER_URL_LEN];
    size_t n_endpoints;
    char database_url[WATCHER_DB_URL_LEN]; /* libpq conninfo */
    /* Confirmation policy: the finalized tag, or `confirmations` blocks. */
    int use_finalized_tag;
    uint64_t confirmations;
    int64_t poll_interval_ms;          /* 0: WATCHER_DEFAULT_POLL_MS */
    /* "" = poll only; else an `eth_subscribe newHeads` WebSocket
     * (chain/heads.h) that wakes watcher_run as soon as a block arrives
     * instead of after poll_interval. */
    char ws_url[WATCHER_URL_LEN];
    uint64_t start_block;              /* first block read on a new database */
    struct watcher_pair pairs[WATCHER_MAX_PAIRS];
    size_t n_pairs;
    /* Tuning (0: the defaults above). */
    uint64_t max_range;                /* most blocks per eth_getLogs range */
    size_t target_logs;                /* logs per range the range size aims at */
    uint64_t keep_headers;             /* headers kept below the cursor */
    int64_t standby_poll_ms;           /* how often a standby tries the lock */
    /* Optional hooks (NULL: none / the defaults). */
    watcher_head_fn head_source;
    void *head_ctx;
    /* Log lines (no secrets ever); level 0 error .. 3 debug.  NULL: stderr
     * for levels <= 1, prefixed with "watcher chain=KEY ".  A callback gets
     * the line without that prefix (its ctx knows the chain) and only for
     * levels log_enabled(log_ctx, level) accepts (NULL: every level); a
     * refused line is not even formatted. */
    void (*log)(void *ctx, int level, const char *line);
    int (*log_enabled)(void *ctx, int level);
    void *log_ctx;
    /* Test hook, called at named points ("range_fetched", "tx_written",
     * "committed", "reorg_written"): a test may raise(SIGKILL) there. */
    void (*hook)(void *ctx, const char *point);
    void *hook_ctx;
};

/* What one step did. */
enum watcher_outcome {
    WATCHER_STANDBY = 1,  /* another instance holds the chain's lock */
    WATCHER_IDLE,         /* caught up with the safe head */
    WATCHER_PROGRESS,     /* one range ingested */
    WATCHER_REORG,        /* a reorganisation was undone; the next step re-reads */
    WATCHER_RETRY         /* the chain changed while reading; nothing written */
};

struct watcher_result {
    enum watcher_outcome outcome;
    uint64_t head, finalized, safe;    /* as seen by this step */
    int has_safe;
    int has_cursor;
    uint64_t cursor;                   /* after the step */
    uint64_t from, to;                 /* PROGRESS: the range */
    size_t logs;                       /* PROGRESS: logs read */
    size_t events_new;                 /* PROGRESS: event rows inserted */
    size_t messages_new;               /* PROGRESS: messages declared */
    size_t refused;                    /* PROGRESS: declarations refused (alerted) */
    uint64_t ancestor;                 /* REORG: the common ancestor kept */
    size_t orphaned_events, dropped_messages, halted_messages; /* REORG */
};

struct watcher;

/* Checks the config, connects to the endpoints (no traffic yet) and to the
 * database (the lock's session).  Out: *out, freed with watcher_close. */
int watcher_open(const struct watcher_config *cfg, struct watcher **out, struct mr_error *err);
/* Closes the connections (which releases the lock).  NULL-safe. */
void watcher_close(struct watcher *w);

/* One iteration (for tests and watcher_run).  Returns MR_OK with *res
 * filled, or an error (node or database trouble, a reorganisation deeper
 * than the stored headers: see err); nothing half-written either way. */
int watcher_step(struct watcher *w, struct watcher_result *res, struct mr_error *err);

/* Whether this watcher holds its chain's lock now. */
int watcher_is_leader(const struct watcher *w);

/* The loop: steps until *stop becomes nonzero, waiting for the next head
 * (at most poll_interval) when caught up and standby_poll_ms as a standby, backing off (capped at 30 s)
 * after errors (logged) and reconnecting a lost database session.  Returns
 * MR_OK when stopped, or the error of a config that cannot work. */
int watcher_run(const struct watcher_config *cfg, const atomic_int *stop, struct mr_error *err);

/* The advisory lock key of a chain's watcher (for operators and tests). */
int64_t watcher_lock_key(const char *chain_key);

/* The application_name of a watcher's lock session is this prefix and
 * "<host>:<pid>" (the chain is named by the lock's key): `chain status`
 * shows it from pg_locks and pg_stat_activity. */
#define WATCHER_APP_PREFIX "mosaic-relayer watcher "

#endif /* MR_WATCHER_H */
