/*
 * proofjson.h - reads an `eth_getProof` answer (EIP-1186) into the pure
 * structures of eth/mpt.h.
 *
 * Accepts the bare result object or a whole JSON-RPC response
 * {"jsonrpc", "id", "result": {...}} (an "error" member is reported).  Known
 * members are checked strictly; unknown ones are ignored (recorded fixtures
 * carry extras such as serializedProof).  Everything is bounded: the text
 * (PROOFJSON_MAX_TEXT), nodes per proof (MPT_MAX_PROOF_NODES), node size
 * (MPT_MAX_NODE_LEN) and storage proofs (PROOFJSON_MAX_STORAGE).
 *
 * The node's own nonce / balance / storageHash / codeHash / value fields are
 * kept only as untrusted claims to compare with what the proofs prove.
 */
#ifndef MR_PROOFJSON_H
#define MR_PROOFJSON_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "eth/error.h"
#include "eth/mpt.h"
#include "eth/u256.h"

#define PROOFJSON_MAX_TEXT (16u << 20) /* 16 MiB */
#define PROOFJSON_MAX_STORAGE 256

struct proofjson_storage {
    uint8_t key[32];          /* the slot, left-padded to 32 bytes */
    int has_value;
    struct u256 value;        /* claimed by the node: untrusted */
    struct mpt_node nodes[MPT_MAX_PROOF_NODES]; /* point into proofjson.arena */
    size_t n_nodes;
};

struct proofjson {
    int has_address;
    uint8_t address[20];
    struct mpt_node account_nodes[MPT_MAX_PROOF_NODES]; /* point into arena */
    size_t n_account_nodes;
    /* Claimed by the node, untrusted; each has_* says it was present. */
    int has_nonce, has_balance, has_storage_hash, has_code_hash;
    struct u256 nonce;
    struct u256 balance;
    uint8_t storage_hash[32];
    uint8_t code_hash[32];
    struct proofjson_storage *storage; /* n_storage entries, owned */
    size_t n_storage;
    uint8_t *arena;                    /* the decoded node bytes, owned */
};

/* Parses text[len] (need not be NUL-terminated).  Out: *p, which owns
 * allocated memory: release it with proofjson_free() (also after a failure,
 * which leaves *p safe to free).  Returns MR_OK, MR_ERR_JSON (with the
 * member at fault: "storageProof[1].proof[2]: not 0x-hex data"),
 * MR_ERR_TOOBIG or MR_ERR_NOMEM. */
int proofjson_parse(const char *text, size_t len, struct proofjson *p, struct mr_error *err);

/* Same from an already parsed result object (borrowed: not kept; the
 * decoded node bytes are copied into p's arena), as chain/ethrpc.c has it
 * from a JSON-RPC response. */
int proofjson_parse_json(json_t *result, struct proofjson *p, struct mr_error *err);

/* Frees what *p owns and zeroes it.  NULL-safe. */
void proofjson_free(struct proofjson *p);

#endif /* MR_PROOFJSON_H */
