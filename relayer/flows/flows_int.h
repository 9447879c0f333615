/*
 * flows_int.h - the parts of relayer/flows shared between its files and
 * with their tests: the pure state machine, call data, node reads, the
 * database side, proofs and anchoring.
 */
#ifndef MR_FLOWS_INT_H
#define MR_FLOWS_INT_H

#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "chain/ethrpc.h"
#include "eth/mosaic.h"
#include "eth/mpt.h"
#include "relayer/flows/flows.h"
#include "relayer/log.h"
#include "relayer/metrics.h"

/* ------------------------------------------------------------ steps -- */

/* The calls the relayer makes for one message (mosaic-protocol.md §5). */
enum flow_step {
    FLOW_CONFIRM = 0,            /* target: confirmStakeIntent / confirmRedeemIntent */
    FLOW_PROGRESS_SOURCE,        /* source: progressStake / progressRedeem (secret) */
    FLOW_PROGRESS_TARGET,        /* target: progressMint / progressUnstake (secret) */
    FLOW_PROGRESS_SOURCE_PROOF,  /* source: progressStakeWithProof / progressRedeemWithProof */
    FLOW_PROGRESS_TARGET_PROOF,  /* target: progressMintWithProof / progressUnstakeWithProof */
    FLOW_CONFIRM_REVERT,         /* target: confirmRevertStakeIntent / confirmRevertRedeemIntent */
    FLOW_PROGRESS_REVERT,        /* source: progressRevertStake / progressRevertRedeem */
    FLOW_STEP_COUNT
};

/* The name stored in message_txs.step ("confirm", ...). */
const char *flow_step_name(enum flow_step s);
/* Parses a step name; -1 if unknown. */
int flow_step_parse(const char *name);
/* The contract function (= transactions.purpose) of a step. */
const char *flow_step_function(enum mosaic_kind kind, enum flow_step s);
/* 1 if the step is a call on the target chain, 0 on the source. */
int flow_step_on_target(enum flow_step s);
/* The gas limit of the step when pipelined (ANVIL.md, generous but bounded). */
uint64_t flow_step_gas_bound(enum flow_step s);
/* Whether the step's success depends on other messages' calls (a redeem's
 * progressUnstake pays from the shared stake vault): it is never pipelined
 * behind a call of ours not mined yet, so that it is dry-run first. */
int flow_step_needs_dry_run(enum mosaic_kind kind, enum flow_step s);

#define FLOW_GAS_ANCHOR 150000
#define FLOW_GAS_PROVE 400000

/* A step's transactions that reverted this many times halt the message
 * rather than pay again. */
#define FLOW_MAX_FAILS 2

/* ----------------------------------------------------- the decision -- */

/* What a run knows about a message.  Statuses are MessageBus values (§4.1):
 * the source's outbox and the target's inbox. */
struct flow_facts {
    enum mosaic_kind kind;
    int src_latest, tgt_latest;  /* at the chains' heads */
    int src_final, tgt_final;    /* at the chains' final blocks */
    int have_secret;             /* ours, or learned from a ...Progressed event */
    unsigned inflight;           /* bit per step: our transaction is not mined yet */
    int failed[FLOW_STEP_COUNT]; /* our transactions of the step that reverted */
    int prev_pending;            /* the sender's previous message is not yet
                                    progressed or revoked on the target */
    int revert_enabled;          /* relayer.flows has `revert` */
};

enum flow_verdict_kind {
    FLOW_SEND = 0,    /* record steps[0..n) now, in this order */
    FLOW_WAIT,        /* nothing to send now; run again later */
    FLOW_DONE,        /* finished at the final blocks: `terminal` */
    FLOW_HALT         /* inconsistent or failing: stop and alert */
};

struct flow_decision {
    enum flow_verdict_kind what;
    enum flow_step steps[4];
    size_t n;
    const char *terminal;     /* FLOW_DONE: "completed" or "reverted" */
    const char *state;        /* the messages.state to record */
    char why[160];            /* WAIT / HALT: the reason */
};

/* The state machine: from the facts, the next steps.  Statuses of steps in
 * flight count as done for planning (a later step on the same chain is
 * pipelined behind them), but a step that needs a PROOF of the other
 * chain's status waits until that status is on chain.  Pure. */
void flow_decide(const struct flow_facts *f, struct flow_decision *d);

/* The status a step sets on its chain when it succeeds. */
int flow_step_effect(enum flow_step s, int *on_target);

/* ------------------------------------------------- value limits -- */

/* Why a message is held (messages.held_reason). */
enum flow_hold {
    FLOW_HOLD_NONE = 0,
    FLOW_HOLD_PER_MESSAGE,       /* amount > relayer.limits.per_message */
    FLOW_HOLD_PER_HOUR,          /* the pair's trailing hour + amount > relayer.limits.per_hour */
    FLOW_HOLD_MIN_BOUNTY,        /* gasPrice x gasLimit < relayer.min_bounty */
    FLOW_HOLD_OPERATOR           /* `mosaic-relayer message hold` */
};

/* "per_message", "per_hour", "min_bounty", "operator"; "" for NONE. */
const char *flow_hold_name(enum flow_hold h);
/* The reverse; FLOW_HOLD_NONE for an unknown name. */
enum flow_hold flow_hold_parse(const char *name);

/* What the policy is applied to. */
struct flow_limits_facts {
    struct u256 amount, gas_price, gas_limit;
    struct u256 window;          /* amounts of the pair's other messages started
                                    in the trailing 60 minutes */
    int window_overflow;         /* that sum did not fit 256 bits */
    int released;                /* an operator released it: it passes */
};

/* The policy (relayer.limits.per_message, .per_hour, relayer.min_bounty;
 * zero = none), checked in that order: per_message, min_bounty, per_hour.
 * The facilitator's pay for a message is the reward of mosaic-protocol.md
 * §6, at most gasPrice x gasLimit (in the delivered token); min_bounty is
 * compared with that maximum (an overflowing product passes).  On a hold,
 * detail[cap] says the numbers.  Pure. */
enum flow_hold flow_limits_decide(const struct config_relayer *pol,
                                  const struct flow_limits_facts *f, char *detail, size_t cap);

/* Whether a message's next steps are subject to the limits: the relayer
 * has not started relaying it (`started`: relay_started_at set or a call of
 * ours recorded), the target inbox is Undeclared (nobody confirmed it),
 * and the source outbox is Declared or Progressed.  A revocation declared
 * by the sender (outbox DeclaredRevocation) moves no value to the target:
 * never held.  Pure. */
int flow_limits_apply(int started, int src_latest, int tgt_latest);

/* The outcome of flow_limits_gate. */
struct flow_gate {
    enum flow_hold hold;         /* NONE: it passed, relay_started_at is set */
    int newly_held;              /* this call held it (state, alert) */
    int skipped;                 /* the row is finished or halted: nothing written */
    char pair[CONFIG_KEY_LEN];
    char detail[400];
};

/* Inside the caller's transaction: locks the message row, and when
 * per_hour is set the pair's advisory lock (so that concurrent workers see
 * each other's starts), then: a held message stays held; one already
 * started passes; otherwise the policy decides with the pair's window, and
 * the message is either marked started (relay_started_at) or held
 * (state 'held', reason, detail, an alert naming the message, pair,
 * amount, limit and reason).  MR_ERR_NOTFOUND: no such message. */
int flow_limits_gate(PGconn *conn, const struct config_relayer *pol, const uint8_t mh[32],
                     struct flow_gate *g, struct mr_error *err);

/* ------------------------------------------------------- call data -- */

/* A message's fields (from its row). */
struct flow_message {
    uint8_t hash[32];
    enum mosaic_kind kind;
    uint8_t intent_hash[32];
    uint8_t sender[20];
    uint8_t beneficiary[20];
    struct u256 nonce, amount, gas_price, gas_limit;
    uint8_t hashlock[32];
};

/* Call data builders: each returns a malloc'd buffer in *out (caller
 * frees) and its length in *len; MR_ERR_NOMEM or MR_ERR_INVALID. */
int flow_cd_confirm(const struct flow_message *m, uint64_t height, const uint8_t *proof,
                    size_t proof_len, uint8_t **out, size_t *len, struct mr_error *err);
int flow_cd_progress_secret(enum mosaic_kind kind, int on_target, const uint8_t mh[32],
                            const uint8_t secret[32], uint8_t **out, size_t *len,
                            struct mr_error *err);
int flow_cd_progress_proof(enum mosaic_kind kind, int on_target, const uint8_t mh[32],
                           const uint8_t *proof, size_t proof_len, uint64_t height, int status,
                           uint8_t **out, size_t *len, struct mr_error *err);
/* confirmRevert... (on_target) and progressRevert... (source). */
int flow_cd_revert(enum mosaic_kind kind, int on_target, const uint8_t mh[32], uint64_t height,
                   const uint8_t *proof, size_t proof_len, uint8_t **out, size_t *len,
                   struct mr_error *err);
int flow_cd_prove(uint64_t height, const uint8_t *account, size_t account_len,
                  const uint8_t *nodes, size_t nodes_len, uint8_t **out, size_t *len,
                  struct mr_error *err);
/* anchorStateRoot(height, root): fixed 68 bytes into out[68]. */
void flow_cd_anchor(uint64_t height, const uint8_t root[32], uint8_t out[68]);
/* The 4-byte selector of a canonical signature (keccak; no validation). */
void flow_selector(const char *sig, uint8_t out[4]);

/* The message's intent and message hashes recomputed from its fields
 * (origin gateway for a stake, co-gateway for a redeem); MR_ERR_INVALID
 * when they differ from what the row says.  Pure. */
int flow_message_check(const struct flow_message *m, const uint8_t gateway[20],
                       struct mr_error *err);

/* ----------------------------------------------------- node reads -- */

/* This thread's endpoints of chain index `chain` (created on first use,
 * freed by flow_thread_release).  NULL with err on failure. */
struct rpc_endpoints *flow_rpc(const struct flow_ctx *ctx, int chain, struct mr_error *err);

/* eth_call of to.data at `block` returning one 32-byte word. */
int flow_call_word(const struct flow_ctx *ctx, int chain, const uint8_t to[20],
                   const uint8_t *data, size_t len, const char *block, uint8_t word[32],
                   struct rpc_detail *d, struct mr_error *err);
/* getOutboxMessageStatus / getInboxMessageStatus(mh) at block. */
int flow_read_status(const struct flow_ctx *ctx, int chain, const uint8_t gateway[20],
                     int inbox, const uint8_t mh[32], const char *block, int *status,
                     struct mr_error *err);
/* MESSAGE_BOX_OFFSET() of a gateway: 9, or 7 when it reverts (0.10.0). */
int flow_box_offset(struct flow_ctx *ctx, int chain, const uint8_t gateway[20], int *offset,
                    struct mr_error *err);
/* The chain's latest final block by its finality policy (confirmations or
 * the `finalized` tag), never below 1.  MR_ERR_NOTFOUND when nothing is
 * final yet. */
int flow_final_block(const struct flow_ctx *ctx, int chain, struct eth_block *b,
                     struct mr_error *err);
/* Checks that the chain's endpoints agree on block b (hash and state root)
 * with each other and with b (our view): every endpoint that answers must
 * agree, and at least the chain's `quorum` must answer (chain/ethrpc.h
 * ethrpc_quorum_block).  MR_ERR_MISMATCH (a disagreement: fail closed),
 * MR_ERR_NOTFOUND / MR_ERR_IO (too few answered yet), MR_OK. */
int flow_quorum_check(const struct flow_ctx *ctx, int chain, const struct eth_block *b,
                      struct mr_error *err);
/* Anchor views on `anchor` (chain index `chain`). */
int flow_anchor_latest(const struct flow_ctx *ctx, int chain, const uint8_t anchor[20],
                       uint64_t *height, struct mr_error *err);
int flow_anchor_root(const struct flow_ctx *ctx, int chain, const uint8_t anchor[20],
                     uint64_t height, uint8_t root[32], struct mr_error *err);

/* A status proved at one height: the proofs fetched from our node and
 * verified locally.  Buffers are malloc'd (flow_proven_free). */
struct flow_proven {
    uint64_t height;
    uint8_t state_root[32];      /* our node's header at height */
    uint8_t storage_root[32];    /* from our verified account proof */
    int status;                  /* the proven slot value (0 if absent) */
    uint8_t *account;            /* _rlpAccount */
    size_t account_len;
    uint8_t *account_nodes;      /* account proof as _rlpParentNodes */
    size_t account_nodes_len;
    uint8_t *storage_nodes;      /* storage proof as _rlpParentNodes */
    size_t storage_nodes_len;
};
void flow_proven_free(struct flow_proven *p);

/* Fetches eth_getProof(gateway, [slot], height) on chain `chain` and
 * verifies it against state_root (our header at height): the account proof
 * gives the storage root, the storage proof the status.  MR_ERR_PROOF when
 * a proof does not verify (never sent). */
int flow_fetch_proof(const struct flow_ctx *ctx, int chain, const uint8_t gateway[20],
                     const uint8_t slot[32], uint64_t height, const uint8_t state_root[32],
                     struct flow_proven *out, struct mr_error *err);

/* Many messages wait for their confirm's proof at the same height: one
 * eth_getProof for all their slots (the node builds its state trie once
 * per call) instead of one each.  flow_fetch_proofs_shared fetches slot
 * and the slots more[n_more] of the same gateway at height, verifies each
 * against state_root, returns slot's proof in *out (as flow_fetch_proof)
 * and keeps the others' verified proofs in ctx's cache; flow_proof_cache_take
 * hands one out (once) when our node's root at that height is still the
 * same, waiting for a batch of that height being fetched: 1 if *out got
 * one.  The cache is bounded (the oldest unclaimed proofs are dropped). */
int flow_proof_cache_init(struct flow_ctx *ctx);
void flow_proof_cache_free(struct flow_ctx *ctx);
int flow_proof_cache_take(const struct flow_ctx *ctx, int chain, const uint8_t gateway[20],
                          const uint8_t slot[32], uint64_t height, const uint8_t state_root[32],
                          struct flow_proven *out);
int flow_fetch_proofs_shared(const struct flow_ctx *ctx, int chain, const uint8_t gateway[20],
                             const uint8_t slot[32], const uint8_t (*more)[32], size_t n_more,
                             uint64_t height, const uint8_t state_root[32],
                             struct flow_proven *out, struct mr_error *err);

/* ------------------------------------------------- database side -- */

/* Our recent transactions of a shared call (anchorStateRoot or
 * proveGateway) on (chain, contract): heights (the first argument), states. */
struct flow_shared_tx {
    int64_t id;
    uint64_t height;
    uint8_t root[32];            /* anchorStateRoot: the root sent */
    uint8_t sender[20];
    int mined;                   /* included or final with status 1 */
    int failed;                  /* reverted or given up */
};
#define FLOW_MAX_SHARED 16
int flow_db_shared_txs(PGconn *conn, const char *chain_key, const uint8_t to[20],
                       const char *purpose, struct flow_shared_tx *out, size_t max, size_t *n,
                       struct mr_error *err);

/* Writes an alert (its own statement; never a secret in the text). */
void flow_db_alert(PGconn *conn, const char *severity, const char *subject, const char *fmt, ...)
    MR_PRINTF(4, 5);

/* Takes a transaction-scoped advisory lock for (what, chain, contract). */
int flow_db_xact_lock(PGconn *conn, const char *what, const char *chain_key,
                      const uint8_t addr[20], struct mr_error *err);

/* Opens a transaction that records intents (flow_db_intent): committed
 * without waiting for the WAL flush.  Safe because nothing is sent on the
 * strength of it: the sender stores each signed attempt with a synchronous
 * commit before broadcasting it, and that flush takes every earlier WAL
 * record along, the intent's included (msg.c record()). */
#define FLOW_INTENT_BEGIN "BEGIN; SET LOCAL synchronous_commit TO off"

/* Records an intent inside the caller's transaction (nonce from the chain's
 * pending count).  Out: *tx_id, *nonce (the nonce allocated). */
struct flow_intent {
    int chain;
    const uint8_t *sender;
    const uint8_t *to;
    const char *purpose;
    const uint8_t *data;
    size_t len;
    uint64_t gas;
    int64_t job_id;
};
int flow_db_intent(const struct flow_ctx *ctx, PGconn *conn, const struct flow_intent *in,
                   uint64_t chain_nonce, int64_t *tx_id, uint64_t *nonce, struct mr_error *err);
/* The sender's pending nonce on the chain (read before the transaction). */
int flow_pending_nonce(const struct flow_ctx *ctx, int chain, const uint8_t sender[20],
                       uint64_t *nonce, struct mr_error *err);
/* Dry run: eth_estimateGas of the call from sender.  Out: *gas with a
 * margin.  A revert is MR_ERR_RPC with the reason. */
int flow_estimate(const struct flow_ctx *ctx, int chain, const uint8_t sender[20],
                  const uint8_t to[20], const uint8_t *data, size_t len, uint64_t *gas,
                  struct mr_error *err);

/* ---------------------------------------------- proofs and anchors -- */

enum flow_res { FLOW_R_OK = 0, FLOW_R_WAIT, FLOW_R_HALT, FLOW_R_ERROR };

/* A status to prove on chain `on` about chain `about`. */
struct flow_proof_req {
    int on, about;                   /* chain indices */
    const uint8_t *on_gateway;       /* where proveGateway and the call go */
    const uint8_t *on_anchor;        /* the Anchor on `on` holding `about`'s roots */
    const uint8_t *about_gateway;    /* whose storage slot is proved */
    uint8_t slot[32];
    uint64_t min_height;
    unsigned accept;                 /* bit s: status s is what we need */
    int64_t job_id;
    /* A confirm's proof of the source outbox: the proofs of the other
     * messages of the pair waiting for theirs are fetched along
     * (flow_fetch_proofs_shared).  NULL pair: only this slot. */
    const char *pair;                /* the messages' gateway_pair */
    const uint8_t *mh;               /* this message */
    int box_offset;                  /* MESSAGE_BOX_OFFSET of about_gateway */
};

struct flow_proof_res {
    struct flow_proven p;            /* the verified proofs at p.height */
    int pipelined;                   /* behind our anchor or prove not yet mined */
    int proved_now, anchored_now;    /* this call recorded a prove / an anchor */
};

/* Finds (or makes) an anchored, proven height >= min_height whose proof
 * shows an accepted status, as described in flows.h.  FLOW_R_WAIT / HALT
 * carry the reason in err->msg. */
enum flow_res flow_proof(struct flow_ctx *ctx, PGconn *conn, const struct flow_proof_req *req,
                         struct flow_proof_res *res, struct mr_error *err);

/* Anchors `about`'s block (height, root) on `on` unless an anchor at a
 * height >= need (<= height) is already there or in flight: one anchor
 * serves everyone waiting.  Out: *anchored, the height that serves (ours,
 * or the newest one there).  The anchor key must be configured. */
enum flow_res flow_anchor_ensure(struct flow_ctx *ctx, PGconn *conn, int on, int about,
                                 const uint8_t anchor[20], uint64_t need, uint64_t height,
                                 const uint8_t root[32], int64_t job_id, uint64_t *anchored,
                                 int *created, struct mr_error *err);

/* The handlers of the two kinds. */
enum queue_outcome flow_msg_run(struct flow_ctx *ctx, PGconn *conn, const struct queue_job *job,
                                char *errmsg, size_t errcap);
enum queue_outcome flow_anchor_run(struct flow_ctx *ctx, PGconn *conn,
                                   const struct queue_job *job, char *errmsg, size_t errcap);

/* Sets err's message and returns FLOW_R_WAIT. */
enum flow_res flow_waitf(struct mr_error *err, const char *fmt, ...) MR_PRINTF(2, 3);

/* Hex of n bytes into out (2n+3): "0x...". */
void flow_hex(const uint8_t *b, size_t n, char *out);
/* Postgres bytea text: "\\x" + hex into out (2n+3), and back (exactly n
 * bytes; MR_ERR_INVALID otherwise). */
void flow_bytea_text(const uint8_t *b, size_t n, char *out);
int flow_bytea_parse(const char *s, uint8_t *out, size_t n);

#endif /* MR_FLOWS_INT_H */
