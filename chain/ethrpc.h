/*
 * ethrpc.h - typed Ethereum JSON-RPC calls over chain/rpc.h, and the pure
 * decoders of their results (blocks, receipts, logs, fee history).
 *
 * Quantities and data are read with the rules of eth/hex.h (QUANTITY without
 * leading zeros, DATA of even length, fixed sizes for hashes and
 * addresses): a result that breaks them is MR_ERR_JSON, never guessed at.
 * A `null` result of a lookup (unknown block, receipt not yet there) is
 * MR_ERR_NOTFOUND.  Failures of the call itself are those of rpc_call():
 * MR_ERR_IO / MR_ERR_RPC / MR_ERR_JSON / MR_ERR_TOOBIG / MR_ERR_INVALID with
 * *d (may be NULL) classifying them.
 *
 * Block identifiers are strings: a tag ("latest", "finalized", "safe",
 * "pending", "earliest") or a QUANTITY made with ethrpc_block_id().
 */
#ifndef MR_ETHRPC_H
#define MR_ETHRPC_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "chain/proofjson.h"
#include "chain/rpc.h"
#include "eth/error.h"
#include "eth/u256.h"

#define ETHRPC_BLOCK_ID_LEN 24         /* "0x" + 16 digits + NUL, with room */
#define ETHRPC_MAX_TOPICS 4
#define ETHRPC_MAX_LOG_DATA (1u << 20) /* bytes of one log's data */
#define ETHRPC_MAX_FEE_BLOCKS 64
#define ETHRPC_MAX_FEE_PCTS 8
#define ETHRPC_MAX_LOG_ADDRESSES 64
#define ETHRPC_MAX_TOPIC_ALTS 16

/* Writes the QUANTITY of block `number` into out[ETHRPC_BLOCK_ID_LEN]. */
const char *ethrpc_block_id(uint64_t number, char out[ETHRPC_BLOCK_ID_LEN]);

/* The header fields the relayer needs.  A plain value. */
struct eth_block {
    uint64_t number;
    uint8_t hash[32];
    uint8_t parent_hash[32];
    uint8_t state_root[32];
    uint64_t timestamp;
    int has_base_fee;          /* London and later */
    struct u256 base_fee;
};

/* One log.  `data` is owned (malloc'd), freed with the list it is in. */
struct eth_log {
    uint8_t address[20];
    uint8_t topics[ETHRPC_MAX_TOPICS][32];
    size_t n_topics;
    uint8_t *data;
    size_t data_len;
    uint64_t block_number;
    uint8_t block_hash[32];
    uint8_t tx_hash[32];
    uint64_t tx_index;
    uint64_t log_index;
    int removed;
};

/* A growable list of logs, owned; release with ethrpc_logs_free(). */
struct eth_logs {
    struct eth_log *v;
    size_t n, cap;
};
void ethrpc_logs_free(struct eth_logs *logs);

/* A receipt; its logs are owned (ethrpc_receipt_free). */
struct eth_receipt {
    uint8_t tx_hash[32];
    int status;                /* 1 success, 0 failure */
    uint8_t block_hash[32];
    uint64_t block_number;
    uint64_t gas_used;
    struct u256 effective_gas_price;
    int has_contract_address;
    uint8_t contract_address[20];
    struct eth_logs logs;
};
void ethrpc_receipt_free(struct eth_receipt *r);

/* eth_feeHistory (oldestBlock, baseFeePerGas[n+1], gasUsedRatio[n],
 * reward[n][pcts]). */
struct eth_fee_history {
    uint64_t oldest_block;
    size_t n_blocks;
    struct u256 base_fee[ETHRPC_MAX_FEE_BLOCKS + 1];
    double gas_used_ratio[ETHRPC_MAX_FEE_BLOCKS];
    size_t n_pcts;
    struct u256 reward[ETHRPC_MAX_FEE_BLOCKS][ETHRPC_MAX_FEE_PCTS];
};

/* An eth_getLogs filter.  Arrays are borrowed.  topics[i] with n_alts[i]
 * == 0 is a wildcard; otherwise any of its alternatives matches. */
struct eth_log_filter {
    uint64_t from_block, to_block;
    const uint8_t (*addresses)[20];
    size_t n_addresses;
    size_t n_topics;
    const uint8_t (*topics[ETHRPC_MAX_TOPICS])[32];
    size_t n_alts[ETHRPC_MAX_TOPICS];
    size_t max_logs;            /* a result larger than this is MR_ERR_TOOBIG; 0 = 10000 */
};

/* ---- pure decoders (borrowed json_t; fuzzed) ---- */

int ethrpc_decode_block(json_t *v, struct eth_block *b, struct mr_error *err);
/* Appends the log object v to *logs (which owns the copy). */
int ethrpc_decode_log(json_t *v, struct eth_logs *logs, struct mr_error *err);
/* Appends every log of the array v, refusing to go past `max` logs. */
int ethrpc_decode_logs(json_t *v, size_t max, struct eth_logs *logs, struct mr_error *err);
/* Out: *r, owning its logs even on failure (call ethrpc_receipt_free). */
int ethrpc_decode_receipt(json_t *v, struct eth_receipt *r, struct mr_error *err);
int ethrpc_decode_fee_history(json_t *v, struct eth_fee_history *fh, struct mr_error *err);
/* A QUANTITY member of a string value into u64 / u256; DATA fixed sizes. */
int ethrpc_quantity_u64(json_t *v, const char *what, uint64_t *out, struct mr_error *err);
int ethrpc_quantity(json_t *v, const char *what, struct u256 *out, struct mr_error *err);
int ethrpc_fixed(json_t *v, const char *what, uint8_t *out, size_t n, struct mr_error *err);

/* ---- typed calls ---- */

int ethrpc_chain_id(struct rpc_endpoints *e, uint64_t *id, struct rpc_detail *d,
                    struct mr_error *err);
int ethrpc_block_number(struct rpc_endpoints *e, uint64_t *number, struct rpc_detail *d,
                        struct mr_error *err);
/* eth_getBlockByNumber(block, false).  MR_ERR_NOTFOUND: no such block yet. */
int ethrpc_get_block(struct rpc_endpoints *e, const char *block, struct eth_block *b,
                     struct rpc_detail *d, struct mr_error *err);
int ethrpc_get_block_by_hash(struct rpc_endpoints *e, const uint8_t hash[32], struct eth_block *b,
                             struct rpc_detail *d, struct mr_error *err);
/* Quorum read (RELIABILITY.md rows 3, 5 and 7): block `number` from every
 * endpoint of e on its own.  Every endpoint that answers must agree on the
 * hash and the state root, and at least q (1 <= q <= count) must answer.
 * Out: *b on MR_OK.  Returns MR_ERR_MISMATCH (fail closed: the message
 * names both endpoints and what each said) on any disagreement;
 * MR_ERR_NOTFOUND when fewer than q have the block yet and none failed
 * otherwise; MR_ERR_IO (transient) when fewer than q answered; the fatal
 * MR_ERR_INVALID of a wrong chain id; MR_ERR_INVALID for a bad q. */
int ethrpc_quorum_block(struct rpc_endpoints *e, uint64_t number, size_t q, struct eth_block *b,
                        struct mr_error *err);
/* eth_getLogs over [from_block, to_block]; a range the node refuses (or
 * whose answer exceeds the response cap) is split in halves, recursively,
 * down to single blocks.  Out: *logs (appended to; caller frees). */
int ethrpc_get_logs(struct rpc_endpoints *e, const struct eth_log_filter *f,
                    struct eth_logs *logs, struct rpc_detail *d, struct mr_error *err);
/* What one ethrpc_get_logs_stats() call did, for callers that adapt their
 * ranges to the node: requests sent, requests refused (range or result
 * size; each refusal was split), the widest range in blocks answered, the
 * narrowest refused, and the most logs one answer carried. */
struct ethrpc_logs_stats {
    unsigned calls;
    unsigned refused;
    uint64_t widest_ok;
    uint64_t narrowest_refused;  /* 0 if none */
    size_t most_logs;
};
/* ethrpc_get_logs, also filling *st (may be NULL). */
int ethrpc_get_logs_stats(struct rpc_endpoints *e, const struct eth_log_filter *f,
                          struct eth_logs *logs, struct ethrpc_logs_stats *st,
                          struct rpc_detail *d, struct mr_error *err);
/* eth_getProof(address, slots[n_slots], block).  Out: *p (proofjson_free). */
int ethrpc_get_proof(struct rpc_endpoints *e, const uint8_t address[20],
                     const uint8_t (*slots)[32], size_t n_slots, const char *block,
                     struct proofjson *p, struct rpc_detail *d, struct mr_error *err);
/* eth_call({from?, to, data}, block).  from may be NULL.  Out: *out
 * (malloc'd, caller frees; may be NULL when *out_len is 0).  A revert is
 * MR_ERR_RPC with d->kind RPC_KIND_REVERTED and the decoded reason. */
int ethrpc_call(struct rpc_endpoints *e, const uint8_t *from, const uint8_t to[20],
                const uint8_t *data, size_t len, const char *block, uint8_t **out,
                size_t *out_len, struct rpc_detail *d, struct mr_error *err);
/* eth_call({from?, to?, value?, data}, block): to NULL runs `data` as init
 * code (a creation), value (may be NULL) is sent with the call.  Otherwise
 * as ethrpc_call. */
int ethrpc_call_ex(struct rpc_endpoints *e, const uint8_t *from, const uint8_t *to,
                   const struct u256 *value, const uint8_t *data, size_t len, const char *block,
                   uint8_t **out, size_t *out_len, struct rpc_detail *d, struct mr_error *err);
/* eth_estimateGas({from?, to?, value?, data}).  to NULL = creation. */
int ethrpc_estimate_gas(struct rpc_endpoints *e, const uint8_t *from, const uint8_t *to,
                        const struct u256 *value, const uint8_t *data, size_t len,
                        uint64_t *gas, struct rpc_detail *d, struct mr_error *err);
/* eth_feeHistory(n_blocks, newest, pcts[n_pcts]). */
int ethrpc_fee_history(struct rpc_endpoints *e, size_t n_blocks, const char *newest,
                       const double *pcts, size_t n_pcts, struct eth_fee_history *fh,
                       struct rpc_detail *d, struct mr_error *err);
int ethrpc_max_priority_fee(struct rpc_endpoints *e, struct u256 *fee, struct rpc_detail *d,
                            struct mr_error *err);
int ethrpc_get_transaction_count(struct rpc_endpoints *e, const uint8_t address[20],
                                 const char *block, uint64_t *nonce, struct rpc_detail *d,
                                 struct mr_error *err);
int ethrpc_get_balance(struct rpc_endpoints *e, const uint8_t address[20], const char *block,
                       struct u256 *balance, struct rpc_detail *d, struct mr_error *err);
/* eth_getCode(address, block).  Out: *code (malloc'd, caller frees; NULL
 * when *len is 0: no contract there).  Code above ETHRPC_MAX_CODE bytes is
 * MR_ERR_TOOBIG (EIP-170 caps deployed code at 24576). */
#define ETHRPC_MAX_CODE (64u * 1024)
int ethrpc_get_code(struct rpc_endpoints *e, const uint8_t address[20], const char *block,
                    uint8_t **code, size_t *len, struct rpc_detail *d, struct mr_error *err);
/* Out: hash[32], the hash the node returns. */
int ethrpc_send_raw_transaction(struct rpc_endpoints *e, const uint8_t *raw, size_t len,
                                uint8_t hash[32], struct rpc_detail *d, struct mr_error *err);
/* MR_ERR_NOTFOUND while the transaction is not mined. */
int ethrpc_get_receipt(struct rpc_endpoints *e, const uint8_t hash[32], struct eth_receipt *r,
                       struct rpc_detail *d, struct mr_error *err);

#endif /* MR_ETHRPC_H */
