/*
 * txm.h - the transaction manager for one key on one chain: never loses a
 * transaction, never reuses a nonce for another payload, never stays stuck
 * behind an underpriced one.
 *
 * txm_submit() dry-runs the call (a revert is classified and nothing is
 * sent, no nonce is used), allocates the nonce with the intent in Postgres
 * (db/txstore.h), signs, stores the signed bytes and hash, and only then
 * broadcasts.  txm_poll() moves every unfinished transaction on: it sends
 * stored bytes again after a crash or a reorg (the same bytes, never a new
 * payload), records receipts of any attempt, marks a transaction final at
 * the configured depth, notices a receipt whose block left the chain, and
 * replaces a transaction not mined in time at the same nonce with at least
 * +bump_percent on both the fee cap and the tip (up to the caps; at the
 * cap an alert is raised), fills nonce gaps left by aborted intents with
 * 0-value self transactions, and stops sending from a key that someone
 * else used (alert; see txm_poll).
 *
 * txm_submit() records the intent and its first signed attempt in one
 * database transaction (db/txstore.h txs_create_signed): the nonce is
 * allocated, the transaction signed and both stored, then one synchronous
 * commit, then the broadcast.  When the nonce after its own last one is
 * still the allocator's next, it signs at that nonce first and records
 * all in one statement (txs_create_signed_at; else that signature is
 * dropped unsent and the above runs).  Intents recorded by others (the
 * flows, in their own transactions) are signed by txm_poll: all those it
 * finds are signed and their first attempts stored in one statement (one
 * synchronous commit, txs_record_first_attempts), then broadcast.  What
 * is learnt from the chain afterwards (sent, included, reorged out,
 * final) is recorded in batches: the sends
 * of txm_submit at the start of the next txm_poll (or when TXM_SENT_MAX
 * are waiting), everything a poll learns at its end, in one transaction
 * each.  A crash that loses them loses nothing that the next poll does not
 * learn again (the same stored bytes are sent again, receipts read again).
 *
 * Crash points (test hook, RELIABILITY.md row 17): with the environment
 * variable RELAYER_CRASH_AT set to one of these names the process kills
 * itself (SIGKILL) at that step:
 *   after_intent               the transaction is signed at the nonce it
 *                              takes, nothing committed yet (no nonce is
 *                              used, nothing sent)
 *   after_sign_before_send     a signed attempt is stored, not yet sent
 *   after_send_before_record   the node took it; broadcast not recorded
 *   after_receipt_before_mark  a receipt was found; inclusion not recorded
 *   before_mark_final          deep enough; finality not recorded
 */
#ifndef MR_TXM_H
#define MR_TXM_H

#include <libpq-fe.h>

#include "chain/ethrpc.h"
#include "db/txstore.h"
#include "eth/error.h"
#include "relayer/signer.h"

struct txm_config {
    const char *chain_key;
    uint64_t chain_id;
    uint64_t confirmations;     /* final when head - block >= this ... */
    int use_finalized_tag;      /* ... or, if set, when block <= the node's "finalized" */
    struct u256 max_fee_cap;    /* maxFeePerGas never above this */
    struct u256 tip_cap;        /* maxPriorityFeePerGas never above this */
    int64_t stuck_after_ms;     /* replace when not mined this long after broadcast */
    int bump_percent;           /* >= 10 (geth's rule; anvil takes +1 wei) */
    int gas_margin_percent;     /* added to eth_estimateGas; 0 = TXM_DEFAULT_GAS_MARGIN */
    int64_t gap_after_ms;       /* fill a nonce gap seen this long with no progress
                                 * (and on two polls in a row) */
    int64_t nonce_evidence_ms;  /* the evidence that someone else used a nonce of ours
                                 * must also span this long (0: TXM_NONCE_EVIDENCE
                                 * polls suffice); polls may be milliseconds apart
                                 * when a sender is woken for every new intent */
    int receipts_when_reached;  /* 1: a poll looks for the receipt of a transaction only
                                 * once the chain's nonce has passed it (one query per
                                 * transaction mined rather than per pending one) */
    int64_t resend_ms;          /* unmined transactions' bytes go out again at most this
                                 * often (0: at every poll); a sender woken for every new
                                 * intent would otherwise send all of them each time */
    int64_t fee_cache_ms;       /* new intents reuse fees this young; 0 =
                                 * TXM_DEFAULT_FEE_CACHE_MS, < 0: never (replacements
                                 * always ask the node afresh) */
    struct u256 min_balance;    /* below this many wei: a warning alert (0: off) */
    int64_t balance_check_ms;   /* with min_balance: the balance is read at most this
                                 * often by txm_poll (0: at every poll) */
};

#define TXM_DEFAULT_GAS_MARGIN 20
#define TXM_DEFAULT_FEE_CACHE_MS 1000
#define TXM_NONCE_EVIDENCE 3    /* polls in a row with our nonce used, none of ours mined */
#define TXM_EVIDENCE_SLOTS 32
#define TXM_SENT_MAX 64         /* sends waiting to be recorded (see above) */
#define TXM_UNDERPRICED_BUMPS 3 /* replacements refused as underpriced, bumped again at once */

#define TXM_CRASH_POINTS                                                                   \
    "after_intent", "after_sign_before_send", "after_send_before_record",                 \
        "after_receipt_before_mark", "before_mark_final"

struct txm_evidence {
    int64_t id;                 /* 0: free */
    int count;
    int64_t first_ms;           /* when the first piece was seen */
};

struct txm {
    struct txm_config cfg;
    PGconn *db;                 /* borrowed */
    struct rpc_endpoints *rpc;  /* borrowed */
    struct signer *signer;      /* borrowed */
    int paused;                 /* the key lacks funds: no new intents (no nonce burned) */
    int funds_alert;            /* its alert: 0 unknown (a restart), 1 open, 2 resolved */
    int balance_alert;          /* the min_balance alert, the same way */
    int64_t balance_at_ms;      /* the last balance read (0: none) */
    int send_kind;              /* enum rpc_kind of the last send's error (NONE: taken) */
    /* State between polls (zero to start). */
    int halted;                 /* the key was used elsewhere (as in the database) */
    struct txm_evidence evidence[TXM_EVIDENCE_SLOTS];
    uint64_t gap_chain_nonce;   /* the chain's nonce when a gap was first seen */
    int64_t gap_since_ms;
    int gap_polls;
    struct u256 fee_max, fee_tip; /* the fees of the last txm_fees for a new intent */
    int64_t fee_at_ms;            /* when (0: none) */
    uint64_t next_nonce;          /* the nonce after txm_submit's last one ... */
    int next_known;               /* ... if set: tried first (txs_create_signed_at) */
    struct txm_sent_rec {         /* sent, not yet recorded as broadcast */
        int64_t id;
        int attempt;
        int64_t at_ms;            /* when (monotonic) */
    } sent[TXM_SENT_MAX];
    size_t n_sent;
    int64_t resent_at_ms;         /* the last poll that sent pending bytes again (0: none) */
};

/* The fee of a replacement: max(old * (100 + pct) / 100 rounded up, old + 1),
 * MR_ERR_RANGE when that is above cap (then *out = cap).  Pure. */
int txm_bump(const struct u256 *old, int pct, const struct u256 *cap, struct u256 *out);

/* Current fees: tip = eth_maxPriorityFeePerGas, fee cap = 2 * latest base
 * fee + tip, both capped. */
int txm_fees(struct txm *t, struct u256 *max_fee, struct u256 *tip, struct mr_error *err);

/* Dry-runs, records, signs, stores and broadcasts `in` (its chain_key and
 * sender are the manager's).  Out: *id.  A revert in the dry run is
 * MR_ERR_RPC with the reason, and nothing is recorded.
 *   - in->create: a contract creation from the init code in->calldata (no
 *     `to`); txm_result() gives the contract address once it is mined.
 *   - in->gas_limit 0: eth_estimateGas plus gas_margin_percent; otherwise
 *     that limit is used as is (no estimate).
 *   - in->no_dry_run: no eth_call first, for calls that depend on earlier
 *     transactions not mined yet (several submitted at consecutive nonces
 *     before the first is mined); in->gas_limit must then be given
 *     (MR_ERR_INVALID otherwise).  A call that reverts is then mined with
 *     status 0 (txm_result tells).
 *   - in->value: wei sent with the call or creation.   While the key lacks
 * funds for what it already signed (the node said "insufficient funds"),
 * new intents are refused with MR_ERR_PERM so that no nonce is used up;
 * txm_poll lifts the pause once a send goes through.  The pause raises a
 * critical alert (component "txm", subject "<chain> <key address>"), once
 * while it lasts, resolved when a send goes through again. */
int txm_submit(struct txm *t, struct txs_intent *in, int64_t *id, struct mr_error *err);

/* What became of transaction `id` (db/txstore.h): its state, and once
 * included its receipt status, block, gas used, the mined attempt's hash
 * and, for a successful creation, the contract address.  MR_ERR_NOTFOUND
 * if there is no such transaction. */
int txm_result(struct txm *t, int64_t id, struct txs_result *out, struct mr_error *err);

/* One pass over the unfinished transactions.  Out: *left (may be NULL),
 * how many are still not final.  Each transaction is handled even when an
 * earlier one failed (the first error is returned).  Besides moving each
 * one on:
 *   - the chain's nonce ("latest") past every nonce we allocated means the
 *     key was used elsewhere: the key is halted (db: signer_nonces) with a
 *     critical alert, and nothing more is sent from it;
 *   - a transaction whose nonce the chain has used while none of its
 *     attempts was mined: after TXM_NONCE_EVIDENCE polls in a row of that
 *     evidence, spanning at least cfg.nonce_evidence_ms, it is marked
 *     failed and the key halted the same way (one of our own other
 *     transactions at that nonce being mined is no alarm);
 *   - a nonce gap (allocated, held by no live transaction) seen on two
 *     polls with the chain's nonce not moving is filled with a 0-value self
 *     transaction.
 *   - with cfg.min_balance set, the key's balance below it raises a
 *     warning alert (the same subject as the pause's; once while it lasts,
 *     resolved when the balance is back), read at most every
 *     cfg.balance_check_ms; a failed read is logged, never an error;
 *   - a replacement that the node refuses as underpriced is bumped again
 *     at once (by bump_percent, at least 10, on both fees over the refused
 *     attempt, up to the caps), up to TXM_UNDERPRICED_BUMPS times.
 * A halted key's transactions are still followed to their receipts and
 * finality; none is sent. */
int txm_poll(struct txm *t, size_t *left, struct mr_error *err);

/* Clears a halt (after an operator has looked): sending resumes. */
int txm_resume(struct txm *t, struct mr_error *err);

#endif /* MR_TXM_H */
