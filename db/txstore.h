/*
 * txstore.h - the transaction manager's records in Postgres (tables
 * signer_nonces, transactions, tx_attempts of 0001_core.sql).
 *
 * The life of one transaction, one row per nonce:
 *   intent -> signed -> broadcast -> included -> final
 *                 \         \          \-> broadcast (reorged out)
 *                  \         \-> failed (classified revert, dropped for good)
 *                   \-> aborted (never broadcast and given up)
 * A nonce is allocated in the same transaction that records the intent, so
 * nonces have no gaps and are never reused for another payload.  Every
 * signed attempt (the first and each fee-bumped replacement) is stored with
 * its raw bytes and hash BEFORE it is broadcast: after a crash the same
 * bytes are sent again (RELIABILITY.md rows 9 and 17).  The manager's own
 * intents skip the 'intent' state: txs_create_signed allocates, records
 * and stores the first signed attempt in one transaction (one synchronous
 * commit); intents recorded by others (txs_create_intent_in_tx, in the
 * flows' transactions) are signed later by txm_poll.
 */
#ifndef MR_TXSTORE_H
#define MR_TXSTORE_H

#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "eth/error.h"
#include "eth/u256.h"

/* "Call `to` with `calldata` on `chain_key` from `sender`, for job J", or
 * "create a contract from the init code `calldata`" (create set, no `to`). */
struct txs_intent {
    const char *chain_key;
    const uint8_t *sender;       /* 20 bytes */
    int64_t job_id;              /* 0: none */
    const char *purpose;         /* e.g. "confirmStakeIntent" */
    const uint8_t *to;           /* 20 bytes; ignored (must be NULL) when create */
    int create;                  /* 1: contract creation, calldata = init code */
    const uint8_t *calldata;
    size_t calldata_len;
    struct u256 value;           /* wei sent with the call (payable) */
    uint64_t gas_limit;          /* txm: 0 = estimate (with a margin); else used as is */
    int no_dry_run;              /* txm: skip the eth_call dry run (pipelined dependent
                                  * calls); then gas_limit must be given */
};

/* One unfinished transaction, for resuming after a restart.  raw is
 * malloc'd (free with txs_pending_free). */
struct txs_pending {
    int64_t id;
    uint64_t nonce;
    char state[16];
    int attempt;                 /* 0: no signed attempt yet */
    uint8_t hash[32];
    uint8_t *raw;                /* newest attempt's signed bytes */
    size_t raw_len;
    struct u256 max_fee, tip;    /* newest attempt's fees */
    int64_t age_ms;              /* since the newest attempt's broadcast; -1 if never */
    /* The intent, to sign a replacement of the same payload. */
    int create;                  /* contract creation: `to` is unused */
    uint8_t to[20];
    uint8_t *calldata;
    size_t calldata_len;
    struct u256 value;
    uint64_t gas_limit;
    uint64_t included_block;     /* state included: where */
    uint8_t included_hash[32];
    uint8_t (*hashes)[32];       /* every signed attempt's hash, oldest first (malloc'd) */
    size_t n_hashes;
};

/* The hashes of every signed attempt of transaction `id` (any of them may
 * be the one mined).  Out: hashes[max][32], *n. */
int txs_attempt_hashes(PGconn *conn, int64_t id, uint8_t (*hashes)[32], size_t max, size_t *n,
                       struct mr_error *err);

/* Allocates the next nonce of (chain, sender) and records the intent, in
 * one database transaction of its own.  `chain_nonce` is the account's
 * nonce on chain (eth_getTransactionCount "pending"): it seeds the
 * allocator the first time; if it is ever ahead of the allocator, someone
 * else used the key, and MR_ERR_PERM is returned (stop sending from it and
 * alert: RELIABILITY.md row 13).  A halted key (txs_halt_key) is refused
 * with MR_ERR_PERM and the reason.  Out: *id, *nonce. */
int txs_create_intent(PGconn *conn, const struct txs_intent *in, uint64_t chain_nonce, int64_t *id,
                      uint64_t *nonce, struct mr_error *err);
/* The same inside the caller's open transaction (which commits or rolls
 * back), so that an intent and the state change that decided it are one
 * transaction (relayer/flows).  The signer_nonces row stays locked until
 * the caller's transaction ends. */
int txs_create_intent_in_tx(PGconn *conn, const struct txs_intent *in, uint64_t chain_nonce,
                            int64_t *id, uint64_t *nonce, struct mr_error *err);

/* A transaction signed at an allocated nonce (txs_create_signed). */
struct txs_signed {
    uint8_t hash[32];
    uint8_t *raw;                /* malloc'd by the signing callback; the caller frees */
    size_t raw_len;
    struct u256 max_fee, tip;
};
/* Signs the intent at `nonce` into *out.  Must not use the connection. */
typedef int (*txs_sign_fn)(void *arg, uint64_t nonce, struct txs_signed *out,
                           struct mr_error *err);

/* Records an intent together with its first signed attempt in ONE database
 * transaction (one synchronous commit): allocates the nonce as
 * txs_create_intent does (seeded from chain_nonce; MR_ERR_PERM for a halted
 * key or a chain nonce ahead of ours), calls sign(arg, nonce, out) with the
 * transaction open and the allocator row locked, and stores the intent in
 * state 'signed' with the signed bytes and hash as attempt 1, then commits.
 * Broadcast only after MR_OK: the signed bytes are stored before they can
 * reach a node.  On any failure nothing is committed (no nonce is used, the
 * signature is forgotten).  Out: *id, *nonce, *out (out->raw is the
 * caller's to free, on failure too). */
int txs_create_signed(PGconn *conn, const struct txs_intent *in, uint64_t chain_nonce,
                      txs_sign_fn sign, void *arg, struct txs_signed *out, int64_t *id,
                      uint64_t *nonce, struct mr_error *err);

/* The same in one statement when the caller knows the nonce to expect
 * (the one after its own last allocation) and signed at it already:
 * records the intent and its signed first attempt only if `nonce` is the
 * allocator's next one, the key is not halted and chain_nonce is not ahead
 * of it; then one round trip, one synchronous commit.  MR_ERR_NOTFOUND
 * (nothing changed) otherwise: sign again with txs_create_signed, which
 * also says why a key is refused.  Out: *id. */
int txs_create_signed_at(PGconn *conn, const struct txs_intent *in, uint64_t chain_nonce,
                         uint64_t nonce, const struct txs_signed *sig, int64_t *id,
                         struct mr_error *err);

/* The allocator of (chain, sender).  A plain value. */
struct txs_key {
    int exists;                  /* 0: no nonce allocated yet (nothing below is set) */
    uint64_t next_nonce;
    int halted;
    char halted_reason[200];
};
int txs_key_state(PGconn *conn, const char *chain_key, const uint8_t sender[20],
                  struct txs_key *out, struct mr_error *err);

/* Stops sending from (chain, sender), in one database transaction: records
 * `reason` (kept if the key is already halted), moves the allocator up to
 * chain_nonce if it is behind (a resync: the nonces below were used by
 * someone else), and raises a critical alert (component "txm").
 * Idempotent. */
int txs_halt_key(PGconn *conn, const char *chain_key, const uint8_t sender[20],
                 uint64_t chain_nonce, const char *reason, struct mr_error *err);
/* Clears the halt (the operator has looked): sending may resume. */
int txs_resume_key(PGconn *conn, const char *chain_key, const uint8_t sender[20],
                   struct mr_error *err);

/* The nonces in [from, next_nonce) of (chain, sender) that no live
 * transaction holds (none, or only aborted / failed ones): gaps that keep
 * every later nonce from being mined.  Out: nonces[max], *n. */
int txs_gaps(PGconn *conn, const char *chain_key, const uint8_t sender[20], uint64_t from,
             uint64_t *nonces, size_t max, size_t *n, struct mr_error *err);

/* Records a 0-value self transaction (purpose "nonce-gap-fill", 21000 gas)
 * at `nonce`, an allocated nonce that no live transaction holds.  Out: *id.
 * MR_ERR_INVALID when the nonce was never allocated or is held. */
int txs_create_filler(PGconn *conn, const char *chain_key, const uint8_t sender[20],
                      uint64_t nonce, int64_t *id, struct mr_error *err);

/* Every signed attempt of every transaction of (chain, sender) at `nonce`
 * (live or not): any may be the one mined there.  Out: ids[max] (the
 * transaction of each), hashes[max][32], *n. */
int txs_nonce_attempts(PGconn *conn, const char *chain_key, const uint8_t sender[20],
                       uint64_t nonce, int64_t *ids, uint8_t (*hashes)[32], size_t max,
                       size_t *n, struct mr_error *err);

/* For a key that is not the relayer's own (a user's key in `stake` /
 * `redeem`, which the user also spends from other wallets): raises the
 * allocator of (chain, sender) to `chain_nonce` (seeding it if absent), in
 * one statement, but only while that key has no transaction in intent,
 * signed or broadcast (those must be finished first, or their nonces would
 * be handed out twice).  Out: *adopted (may be NULL): 1 if the allocator
 * now stands at chain_nonce or higher, 0 if unfinished transactions kept it. */
int txs_adopt_nonce(PGconn *conn, const char *chain_key, const uint8_t sender[20],
                    uint64_t chain_nonce, int *adopted, struct mr_error *err);

/* Stores a signed attempt before it is broadcast (intent|signed|broadcast
 * -> signed for a new attempt).  Out: *attempt (1 for the first). */
int txs_record_attempt(PGconn *conn, int64_t id, const uint8_t hash[32], const uint8_t *raw,
                       size_t raw_len, const struct u256 *max_fee, const struct u256 *tip,
                       int *attempt, struct mr_error *err);

/* The first signed attempts of many intents (state intent -> signed), in
 * one statement: one synchronous commit for all, before any is broadcast.
 * A row no longer in state intent is left alone.  Out: attempt[i] (the
 * attempt number, 0 when a[i] was not recorded). */
struct txs_first_attempt {
    int64_t id;
    const uint8_t *hash;         /* 32 bytes */
    const uint8_t *raw;
    size_t raw_len;
};
int txs_record_first_attempts(PGconn *conn, const struct txs_first_attempt *a, size_t n,
                              const struct u256 *max_fee, const struct u256 *tip, int *attempt,
                              struct mr_error *err);

/* Transitions; each refuses (MR_ERR_INVALID) from a state that does not
 * allow it, so a late or repeated step cannot corrupt the record. */
int txs_mark_broadcast(PGconn *conn, int64_t id, int attempt, struct mr_error *err);
/* tx_hash: the attempt that was mined (may be NULL); contract: the address a
 * creation made (NULL when none). */
int txs_mark_included(PGconn *conn, int64_t id, uint64_t block, const uint8_t block_hash[32],
                      int status, uint64_t gas_used, const uint8_t *tx_hash,
                      const uint8_t *contract, struct mr_error *err);
int txs_mark_reorged(PGconn *conn, int64_t id, struct mr_error *err);
int txs_mark_final(PGconn *conn, int64_t id, struct mr_error *err);
int txs_mark_failed(PGconn *conn, int64_t id, const char *why, struct mr_error *err);
int txs_mark_aborted(PGconn *conn, int64_t id, const char *why, struct mr_error *err);

/* Transitions learnt from the chain, many in one database transaction
 * (committed like txs_mark_broadcast and the others: without waiting for
 * the WAL flush, as what they record can be learnt again).  Applied in this
 * order: reorged (included -> broadcast), broadcast (signed|broadcast ->
 * broadcast, the attempt's first broadcast_at set to ago_ms before now),
 * included, final.  A row whose state does not allow its step is left as
 * it is, and MR_ERR_INVALID names the first such; the others are applied. */
struct txs_sent {
    int64_t id;
    int attempt;
    int64_t ago_ms;              /* how long ago it was sent (>= 0) */
};
struct txs_inclusion {
    int64_t id;
    uint64_t block;
    uint8_t block_hash[32];
    int status;
    uint64_t gas_used;
    int has_tx_hash;
    uint8_t tx_hash[32];         /* the attempt that was mined */
    int has_contract;
    uint8_t contract[20];        /* the contract a creation made */
};
struct txs_marks {
    const int64_t *reorged;
    size_t n_reorged;
    const struct txs_sent *sent;
    size_t n_sent;
    const struct txs_inclusion *included;
    size_t n_included;
    const int64_t *final;
    size_t n_final;
};
int txs_mark_many(PGconn *conn, const struct txs_marks *m, struct mr_error *err);

/* The unfinished transactions of (chain, sender), lowest nonce first, each
 * with its newest signed attempt.  Out: *list (array of *n, free with
 * txs_pending_free). */
int txs_load_pending(PGconn *conn, const char *chain_key, const uint8_t sender[20],
                     struct txs_pending **list, size_t *n, struct mr_error *err);
void txs_pending_free(struct txs_pending *list, size_t n);

/* What became of one transaction (any state).  A plain value. */
struct txs_result {
    int64_t id;
    char state[16];              /* intent .. final, failed, aborted */
    uint64_t nonce;
    int is_create;
    int included;                /* state included or final: the fields below are set */
    int final;                   /* state final */
    int status;                  /* receipt status: 1 success, 0 reverted */
    uint64_t block;
    uint8_t block_hash[32];
    uint64_t gas_used;
    int has_tx_hash;
    uint8_t tx_hash[32];         /* the mined attempt */
    int has_contract;
    uint8_t contract[20];        /* the contract a successful creation made */
    char error[160];             /* failed / aborted: why ("" otherwise) */
};

/* Reads transaction `id`.  MR_ERR_NOTFOUND if there is none. */
int txs_result(PGconn *conn, int64_t id, struct txs_result *out, struct mr_error *err);

#endif /* MR_TXSTORE_H */
