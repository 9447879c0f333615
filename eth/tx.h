/*
 * tx.h - Ethereum transactions: decode, encode, sign, recover the sender.
 *
 * Three kinds are understood (EIP-2718 envelope):
 *   type 0  legacy: rlp([nonce, gasPrice, gas, to, value, data, v, r, s]),
 *           v = 27/28 (unprotected) or chainId*2 + 35/36 (EIP-155);
 *   type 1  0x01 || rlp([chainId, nonce, gasPrice, gas, to, value, data,
 *           accessList, yParity, r, s])                         (EIP-2930);
 *   type 2  0x02 || rlp([chainId, nonce, maxPriorityFeePerGas,
 *           maxFeePerGas, gas, to, value, data, accessList, yParity, r, s])
 *                                                               (EIP-1559).
 * Blob (type 3, EIP-4844) and set-code (type 4, EIP-7702) transactions are
 * rejected as unsupported: the relayer neither sends nor needs to read them.
 *
 * Decoding is strict (canonical RLP, exact field counts and sizes) and
 * zero-copy: `data` and `access_list` point into the caller's buffer, which
 * must outlive the struct tx.  Protocol rules that depend on the fork (which
 * types exist, EIP-155, low S, intrinsic gas) live in struct tx_rules and are
 * applied by tx_validate() and tx_sender(), not by the decoder.
 *
 * Pure: no I/O, no globals, no allocation.  The libsecp256k1 context is the
 * caller's (see key.h).
 */
#ifndef MR_TX_H
#define MR_TX_H

#include <stddef.h>
#include <stdint.h>

#include <secp256k1.h>

#include "error.h"
#include "key.h"
#include "u256.h"

enum tx_type {
    TX_LEGACY = 0,
    TX_ACCESS_LIST = 1, /* EIP-2930 */
    TX_DYNAMIC_FEE = 2  /* EIP-1559 */
};

/* EIP-3860: the largest initcode a creation may carry (2 * 24576). */
#define TX_MAX_INITCODE_SIZE 49152

/* A transaction.  A plain value owned by the caller; `data` and
 * `access_list` are borrowed. */
struct tx {
    enum tx_type type;
    /* Legacy only: 1 if the signature commits to chain_id (EIP-155).  Typed
     * transactions always carry their chain id. */
    int eip155;
    struct u256 chain_id;         /* types 1 and 2, or legacy with eip155 */
    uint64_t nonce;
    struct u256 gas_price;        /* types 0 and 1 */
    struct u256 max_priority_fee; /* type 2 */
    struct u256 max_fee;          /* type 2 */
    uint64_t gas_limit;
    int has_to;                   /* 0: contract creation (empty `to`) */
    uint8_t to[KEY_ADDRESS_LEN];
    struct u256 value;
    const uint8_t *data;          /* borrowed; may be NULL when data_len 0 */
    size_t data_len;
    /* Types 1 and 2: the access list as one encoded RLP list item (header
     * included), borrowed; NULL means the empty list.  Set it with
     * tx_set_access_list(), which also fills the two counts below. */
    const uint8_t *access_list;
    size_t access_list_len;
    size_t access_list_addresses; /* number of [address, keys] entries */
    size_t access_list_keys;      /* storage keys in all entries */
    /* Signature.  v is the raw field: 27/28 or chainId*2+35/36 for legacy,
     * the y parity (0/1) for typed transactions.  r and s are big-endian,
     * left-padded with zeros.  All zero in an unsigned transaction. */
    struct u256 v;
    uint8_t r[32];
    uint8_t s[32];
};

/* Which protocol rules apply: one flag per rule change, named by its EIP. */
struct tx_rules {
    uint64_t chain_id; /* the chain's id: typed and EIP-155 txs must match */
    int homestead;     /* EIP-2: s <= n/2; creations cost 53000 (EIP-2) */
    int eip155;        /* replay-protected legacy signatures accepted */
    int eip2028;       /* calldata non-zero byte costs 16 instead of 68 */
    int eip2930;       /* type 1 exists; access lists cost gas */
    int eip1559;       /* type 2 exists */
    int eip3860;       /* initcode limited and charged 2 gas per word */
};

/* Rules of a named mainnet fork as the ethereum/tests spell it ("Frontier",
 * "Homestead", "EIP150", "EIP158", "Byzantium", "Constantinople",
 * "ConstantinopleFix", "Istanbul", "Berlin", "London", "Paris", "Shanghai",
 * "Cancun").  Out: *rules.  Returns MR_ERR_NOTFOUND for another name. */
int tx_rules_fork(struct tx_rules *rules, const char *fork, uint64_t chain_id);
/* The newest rules this module knows (Cancun), for chain `chain_id`. */
void tx_rules_latest(struct tx_rules *rules, uint64_t chain_id);

/* Resets *tx to an unsigned transaction of `type` with every field zero and
 * no data; a legacy one is made EIP-155 protected with `chain_id`. */
void tx_init(struct tx *tx, enum tx_type type, uint64_t chain_id);

/* Checks that raw[len] is one RLP list of [address(20 bytes), [key(32
 * bytes), ...]] entries (EIP-2930) and counts them.  Out: *addresses,
 * *keys.  Returns MR_OK or MR_ERR_INVALID / MR_ERR_RLP. */
int tx_access_list_check(const uint8_t *raw, size_t len, size_t *addresses, size_t *keys,
                         struct mr_error *err);
/* Checks raw[len] as above and stores it (borrowed) in tx->access_list.
 * raw may be NULL with len 0 for the empty list. */
int tx_set_access_list(struct tx *tx, const uint8_t *raw, size_t len, struct mr_error *err);

/* Decodes a signed transaction as it travels on the wire (legacy RLP list,
 * or type byte || RLP list).  In: raw[len], borrowed by tx->data and
 * tx->access_list.  Out: *tx (unspecified on failure).  Returns MR_OK,
 * MR_ERR_RLP (malformed or non-canonical RLP, a wrong number of fields, a
 * field of the wrong kind or size) or MR_ERR_TX (unsupported type). */
int tx_decode(const uint8_t *raw, size_t len, struct tx *tx, struct mr_error *err);

/* Encodes the signed transaction (the form tx_decode reads and
 * eth_sendRawTransaction takes).  Out: out[cap], *len.  When cap is too small
 * nothing useful is written, *len is the size needed and MR_ERR_TOOBIG is
 * returned, so a call with cap 0 sizes the buffer. */
int tx_encode(const struct tx *tx, uint8_t *out, size_t cap, size_t *len, struct mr_error *err);

/* The hash a signature commits to: keccak256 of the unsigned payload
 * (legacy: 6 fields, plus [chainId, 0, 0] under EIP-155; typed: type byte
 * || rlp of the fields before yParity).  Out: hash[32]. */
void tx_signing_hash(const struct tx *tx, uint8_t hash[32]);

/* The transaction hash: keccak256 of the raw signed bytes (type byte
 * included for typed transactions).  Out: hash[32]. */
void tx_hash(const uint8_t *raw, size_t len, uint8_t hash[32]);

/* Signs *tx with sk[32] (borrowed, not wiped: the caller's) and fills v, r,
 * s.  A legacy tx is signed with EIP-155 when tx->eip155 is set.  Returns
 * MR_OK, MR_ERR_KEY (bad private key), MR_ERR_RANGE (chain id too large for
 * v) or MR_ERR_SIGNATURE (a recovery id Ethereum cannot express). */
int tx_sign(const secp256k1_context *ctx, struct tx *tx, const uint8_t sk[32],
            struct mr_error *err);

/* Recovers the sender of a signed *tx under `rules` (EIP-155 accepted only
 * when rules->eip155; s <= n/2 required when rules->homestead).  The chain
 * id of a legacy tx is taken from v.  Out: addr[20].  Returns MR_OK or
 * MR_ERR_SIGNATURE. */
int tx_sender(const secp256k1_context *ctx, const struct tx *tx, const struct tx_rules *rules,
              uint8_t addr[KEY_ADDRESS_LEN], struct mr_error *err);

/* Intrinsic gas (Yellow Paper 6.2 g0): 21000, +32000 for a creation from
 * Homestead on, 4 per zero and 16 (68 before EIP-2028) per non-zero data
 * byte, 2400 per access-list address and 1900 per storage key (EIP-2930),
 * 2 per 32-byte initcode word (EIP-3860).  Out: *gas.  MR_ERR_RANGE if it
 * does not fit 64 bits. */
int tx_intrinsic_gas(const struct tx *tx, const struct tx_rules *rules, uint64_t *gas,
                     struct mr_error *err);

/* Checks what a node checks before looking at state: the type exists under
 * `rules`, the chain id matches (typed and EIP-155 txs), nonce < 2^64-1
 * (EIP-2681), gas * fee cap fits 256 bits, maxPriorityFee <= maxFee
 * (EIP-1559), initcode size (EIP-3860), gas >= intrinsic gas.  The
 * signature is tx_sender()'s job.  Returns MR_OK or MR_ERR_TX. */
int tx_validate(const struct tx *tx, const struct tx_rules *rules, struct mr_error *err);

#endif /* MR_TX_H */
