/*
 * events.h - the gateway, co-gateway and anchor events of Mosaic
 * (mosaic-protocol.md §2.6) decoded from logs into typed rows, and the
 * checks the watcher makes before it accepts a declared stake or redeem.
 *
 * Every function here is pure: no I/O, no allocation, no globals but the
 * constant table of events.  Inputs are hostile (a node's logs, eth_call
 * return data, receipts): lengths are checked before anything is read and
 * the ABI encoding must be canonical (address words zero-padded, bool 0 or
 * 1, exactly one word per parameter).  Fuzzed by tests/fuzz/fuzz_events.c.
 *
 * Every event of §2.6 has `_messageHash` as its only indexed parameter
 * (topic1), except GatewayProven, the bounty events and StateRootAvailable,
 * which have none.  The remaining parameters are static types, one ABI word
 * each, in the data.
 */
#ifndef MR_WATCH_EVENTS_H
#define MR_WATCH_EVENTS_H

#include <stddef.h>
#include <stdint.h>

#include "chain/ethrpc.h"
#include "eth/error.h"
#include "eth/mosaic.h"
#include "eth/u256.h"

#define WATCH_MAX_PARAMS 8
/* Longest `fields` JSON of one event: 8 parameters of at most 78 decimal
 * digits or 66 hex characters, with names and punctuation. */
#define WATCH_FIELDS_MAX 1024

enum watch_kind {
    /* EIP20Gateway (origin) */
    WATCH_STAKE_INTENT_DECLARED = 0,
    WATCH_STAKE_PROGRESSED,
    WATCH_REVERT_STAKE_INTENT_DECLARED,
    WATCH_STAKE_REVERTED,
    WATCH_REDEEM_INTENT_CONFIRMED,
    WATCH_UNSTAKE_PROGRESSED,
    WATCH_REVERT_REDEEM_INTENT_CONFIRMED,
    WATCH_REVERT_REDEEM_COMPLETE,        /* declared, never emitted */
    /* EIP20CoGateway (auxiliary) */
    WATCH_STAKE_INTENT_CONFIRMED,
    WATCH_MINT_PROGRESSED,
    WATCH_REVERT_STAKE_INTENT_CONFIRMED,
    WATCH_REVERT_STAKE_PROGRESSED,       /* declared, never emitted */
    WATCH_REDEEM_INTENT_DECLARED,
    WATCH_REDEEM_PROGRESSED,
    WATCH_REVERT_REDEEM_DECLARED,
    WATCH_REDEEM_REVERTED,
    /* both gateways */
    WATCH_GATEWAY_PROVEN,
    WATCH_BOUNTY_CHANGE_INITIATED,
    WATCH_BOUNTY_CHANGE_CONFIRMED,
    /* Anchor */
    WATCH_STATE_ROOT_AVAILABLE,
    WATCH_KIND_COUNT
};

/* Which contract emits an event. */
enum watch_source {
    WATCH_FROM_GATEWAY = 1,     /* EIP20Gateway only */
    WATCH_FROM_COGATEWAY = 2,   /* EIP20CoGateway only */
    WATCH_FROM_BOTH = 3,        /* either gateway */
    WATCH_FROM_ANCHOR = 4
};

/* Parameter types (each one ABI word). */
enum watch_ptype { WATCH_T_ADDRESS = 1, WATCH_T_UINT, WATCH_T_BYTES32, WATCH_T_BOOL };

struct watch_param {
    const char *name;          /* the `fields` key: the Solidity name without '_' */
    enum watch_ptype type;
};

/* One row of the constant event table. */
struct watch_kind_info {
    enum watch_kind kind;
    const char *name;          /* "StakeIntentDeclared": events.kind */
    const char *signature;     /* canonical, for topic0 */
    const char *topic0;        /* "0x" + 64 hex digits (mosaic-protocol.md §2.6) */
    enum watch_source source;
    int indexed_hash;          /* topic1 is _messageHash */
    size_t n_params;           /* data words */
    struct watch_param params[WATCH_MAX_PARAMS];
};

/* The table entry of `kind` (borrowed, static), or NULL when out of range. */
const struct watch_kind_info *watch_kind_info(enum watch_kind kind);

/* A decoded event.  A plain value; words[i] is the raw ABI word of data
 * parameter i (already checked against its type). */
struct watch_event {
    const struct watch_kind_info *info;
    int has_message_hash;
    uint8_t message_hash[32];
    size_t n_words;
    uint8_t words[WATCH_MAX_PARAMS][32];
};

/* Finds the kind of a topic0.  Returns MR_OK, or MR_ERR_NOTFOUND for a topic
 * that is none of ours. */
int watch_find_kind(const uint8_t topic0[32], enum watch_kind *kind);

/* Decodes one log.  MR_ERR_NOTFOUND: topic0 is not a Mosaic event (callers
 * skip it); MR_ERR_ABI: a Mosaic topic with the wrong number of topics, a
 * data length other than one word per parameter, or a word that is not a
 * canonical value of its type.  Out: *ev. */
int watch_decode_log(const uint8_t (*topics)[32], size_t n_topics, const uint8_t *data,
                     size_t len, struct watch_event *ev, struct mr_error *err);
/* The same for a log of chain/ethrpc.h. */
int watch_decode_eth_log(const struct eth_log *log, struct watch_event *ev, struct mr_error *err);

/* Writes the typed `fields` JSON object of ev into out[cap] (NUL-ended):
 * addresses and hashes as "0x"-lowercase hex strings, uint256 as decimal
 * strings, bools as true/false; keys in declaration order.  Returns the
 * length, or 0 when cap is too small (never with cap >= WATCH_FIELDS_MAX). */
size_t watch_fields_json(const struct watch_event *ev, char *out, size_t cap);

/* Typed views of data parameter i (no check of the parameter's type: the
 * decoder did that). */
void watch_word_address(const struct watch_event *ev, size_t i, uint8_t out[20]);
void watch_word_u256(const struct watch_event *ev, size_t i, struct u256 *out);

/* ---- declared intents ---- */

/* The fields of a StakeIntentDeclared or RedeemIntentDeclared event. */
struct watch_intent {
    enum mosaic_kind kind;     /* MOSAIC_STAKE or MOSAIC_REDEEM */
    uint8_t message_hash[32];
    uint8_t sender[20];        /* _staker / _redeemer */
    struct u256 nonce;
    uint8_t beneficiary[20];
    struct u256 amount;
};

/* Out: *in from a declaration event.  MR_ERR_INVALID for another kind. */
int watch_event_intent(const struct watch_event *ev, struct watch_intent *in,
                       struct mr_error *err);

/* GatewayBase.messages(bytes32) (selector 0x2bbd59ca) returns
 * (intentHash, nonce, gasPrice, gasLimit, sender, hashLock, gasConsumed). */
#define WATCH_MESSAGES_SELECTOR "\x2b\xbd\x59\xca"
struct watch_stored_message {
    uint8_t intent_hash[32];
    struct u256 nonce;
    struct u256 gas_price;
    struct u256 gas_limit;
    uint8_t sender[20];
    uint8_t hashlock[32];
    struct u256 gas_consumed;
};

/* Call data of messages(mh) into out[36]. */
void watch_messages_calldata(const uint8_t mh[32], uint8_t out[36]);
/* Decodes its return data (exactly 7 words, canonical).  MR_ERR_ABI else. */
int watch_decode_stored_message(const uint8_t *data, size_t len, struct watch_stored_message *m,
                                struct mr_error *err);

/* Checks a declared intent against the gateway's stored message: the intent
 * hash recomputed from the event's amount and beneficiary and `gateway`
 * (the origin EIP20Gateway for a stake, the EIP20CoGateway for a redeem:
 * mosaic-protocol.md §3.2) must equal the stored one; the stored nonce and
 * sender must be the event's; and the message hash recomputed from those
 * fields with the stored gas price, gas limit and hashlock must equal the
 * event's _messageHash.  Also refuses amount 0, a zero beneficiary or
 * sender (RELIABILITY.md row 23) and amount <= gasPrice * gasLimit (the
 * contracts' own rule, §6).  Returns MR_OK or MR_ERR_INVALID with the
 * reason in err. */
int watch_check_intent(const struct watch_intent *in, const struct watch_stored_message *m,
                       const uint8_t gateway[20], struct mr_error *err);

/* topic0 of Transfer(address,address,uint256). */
#define WATCH_TRANSFER_TOPIC "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"

/* RELIABILITY.md row 22: does `logs` hold a Transfer(from, to, amount) event
 * emitted by `token` with exactly `amount`?  Returns MR_OK, or
 * MR_ERR_NOTFOUND with what was missing in err. */
int watch_check_transfer(const struct eth_logs *logs, const uint8_t token[20],
                         const uint8_t from[20], const uint8_t to[20], const struct u256 *amount,
                         struct mr_error *err);

#endif /* MR_WATCH_EVENTS_H */
