/*
 * flows.h - the relayer's protocol logic: the per-message state machine
 * (job kind `msg`) and the anchorer (job kind `anchor`).
 *
 * Both run as handlers of the job queue (db/worker.h) on any number of
 * threads and processes sharing one Postgres.  They never sign: each call
 * they decide on is recorded as a transaction intent (db/txstore.h) in the
 * same database transaction as the message's state change, and the process
 * that holds the key (relayer/daemon.c: one sender thread per key, running
 * txm_poll) signs and broadcasts the intents in nonce order.  That is what
 * pipelines anchor + prove + confirm + progress at consecutive nonces into
 * one block: the flows record them one after the other without waiting for
 * the chain, each with a per-call gas bound (ANVIL.md: a pipelined call
 * cannot be estimated), and the sender sends them all at once.
 *
 * A `msg` run (mosaic-protocol.md §4-§5):
 *   1. reads the messages row and checks it hashes to its message hash;
 *   2. reads the outbox status on the source and the inbox status on the
 *      target, at the head (what to send) and at the final block (what is
 *      done), and what it already sent (message_txs: in flight, reverted);
 *   3. decides (flow_decide, pure) the next steps;
 *   4. for each step that needs a proof, finds an anchored height whose root
 *      equals our own node's header (else halts and alerts: fail closed),
 *      anchors one itself when it holds the organization admin key, proves
 *      the gateway there once per height (shared by every message), fetches
 *      the storage proof and verifies it locally against the storage root of
 *      our own account proof before recording the call;
 *   5. completes the job and, unless the message is finished or halted,
 *      schedules its next run, in one transaction with the state change.
 *
 * An `anchor` run anchors the remote chain's latest final block (per that
 * chain's finality policy, never height 0) on the anchor chain when messages
 * wait for it or when the newest anchored root is older than
 * relayer.anchor.max_interval, after the header agreed across `quorum`
 * endpoints; never a root that differs.
 */
#ifndef MR_FLOWS_H
#define MR_FLOWS_H

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>

#include <libpq-fe.h>

#include "db/worker.h"
#include "eth/error.h"
#include "eth/u256.h"
#include "relayer/config.h"

#define FLOW_JOB_MSG "msg"
#define FLOW_JOB_ANCHOR "anchor"

#define FLOW_MAX_BOXES 128

/* What the handlers share.  Read-only while handlers run, except the
 * mutex-guarded caches and the counters. */
struct flow_ctx {
    const struct config *cfg;          /* borrowed */
    uint64_t gen;                      /* unique per init: threads' node clients follow it */
    uint8_t facilitator[20];           /* the key that pays for relay calls */
    int has_anchorer;                  /* an organization admin key is configured */
    uint8_t anchorer[20];              /* its address (may equal facilitator) */
    /* Called after an intent for `sender` on chain index `chain` was
     * committed, so that the process's sender thread sends it at once
     * (NULL: the senders poll). */
    void (*kick)(void *arg, int chain, const uint8_t sender[20]);
    void *kick_arg;
    int64_t wait_min_ms;               /* first re-run delay of a waiting message; 0: 500 */
    int64_t wait_max_ms;               /* 0: 30000 */
    /* Cache of MESSAGE_BOX_OFFSET() per (chain, gateway). */
    pthread_mutex_t mu;
    struct {
        int chain;
        uint8_t gateway[20];
        int offset;
    } boxes[FLOW_MAX_BOXES];
    size_t n_boxes;
    /* Counters (under mu). */
    uint64_t n_anchors, n_proves, n_calls, n_halts;
};

/* Initialises *ctx for cfg (borrowed) with the facilitator's address and,
 * when has_anchorer, the anchor key's.  Release with flow_ctx_destroy. */
void flow_ctx_init(struct flow_ctx *ctx, const struct config *cfg, const uint8_t facilitator[20],
                   int has_anchorer, const uint8_t anchorer[20]);
void flow_ctx_destroy(struct flow_ctx *ctx);

/* The queue handler for both kinds (ctx is a struct flow_ctx *).  Jobs of
 * any other kind are cancelled. */
enum queue_outcome flow_handle(void *ctx, PGconn *conn, const struct queue_job *job, char *errmsg,
                               size_t errcap);

/* Enqueues the `anchor` jobs of every (anchor chain, remote chain) pair of
 * the configured gateways (dedup: one live job per pair).  Out: *n. */
int flow_enqueue_anchor_jobs(const struct config *cfg, PGconn *conn, size_t *n,
                             struct mr_error *err);

/* The conservation monitor (RELIABILITY.md row 24; the reasoning is at the
 * top of conservation.c).  What one check of a pair read. */
struct flow_conservation {
    uint64_t aux_block, origin_block;        /* where each side was read */
    uint64_t aux_anchored, origin_anchored;  /* latest origin height anchored on aux
                                                at aux_block, and vice versa */
    struct u256 supply, redeem_escrow;       /* utility token: totalSupply, co-gateway's */
    struct u256 vault, stake_escrow;         /* value token: stake vault's, gateway's */
    struct u256 circulating, backing;        /* supply - redeem_escrow, vault + stake_escrow */
    int attempts;                            /* pairs of blocks tried */
    int tripped, newly;                      /* the breaker after the check; this check tripped it */
};

/* Reads pair gw at auxiliary block aux_block and origin block origin_block
 * (out: every figure).  MR_ERR_NOTFOUND when the two blocks are not a
 * consistent pair (an origin height anchored on auxiliary as of aux_block
 * is above origin_block, or the reverse); node errors as they come. */
int flow_conservation_measure(struct flow_ctx *ctx, const struct config_gateway *gw,
                              uint64_t aux_block, uint64_t origin_block,
                              struct flow_conservation *out, struct mr_error *err);

/* One check of pair gw: measures at a consistent pair of final blocks
 * (retrying with newer ones a few times) and records it (db/breaker.h),
 * tripping the pair's breaker when circulating exceeds backing by more
 * than the accepted excess.  `actor` names the checker in the log.  A
 * check that cannot be made records its error and trips nothing. */
int flow_conservation_check(struct flow_ctx *ctx, PGconn *conn, const struct config_gateway *gw,
                            const char *actor, struct flow_conservation *out,
                            struct mr_error *err);

/* Frees the calling thread's node connections (handler threads do it when
 * they exit; a thread that called flow_handle itself calls this). */
void flow_thread_release(void);

#endif /* MR_FLOWS_H */
