/*
 * mpt.h - Merkle Patricia trie proofs (Yellow Paper, Appendix D) and a small
 * in-memory trie builder.
 *
 * Verification walks a list of raw RLP nodes (as `eth_getProof` returns them)
 * from a trusted root along a key's nibbles.  The first node must hash to the
 * root and every later node to the 32-byte reference its parent holds; nodes
 * shorter than 32 bytes may also sit inline in their parent (TrieTests have
 * them; geth's secure tries, whose paths are 32-byte hashes, practically never
 * do).  A proof proves either inclusion (a value) or exclusion (the path
 * leaves the trie: an empty branch slot, a leaf or extension whose path
 * differs).  Every node is decoded with the strict RLP decoder, every
 * structural rule is checked, and a failure says which node and which check.
 *
 * The state trie and storage tries are "secure": the path is keccak256 of the
 * address or of the 32-byte slot.  mpt_verify_account() and
 * mpt_verify_storage() do that hashing and decode the proven leaves; they
 * never look at the values a node claims next to its proof.
 *
 * The builder keeps a sorted set of borrowed key/value pairs and computes the
 * root (and a proof for any key) from that set, so deletions need no node
 * surgery: a trie's shape depends only on its contents.
 *
 * Pure: no I/O, no globals (two constant tables), no allocation; all memory
 * is the caller's.
 */
#ifndef MR_MPT_H
#define MR_MPT_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "u256.h"

/* Most nodes a proof may hold.  A 32-byte path has 64 nibbles; each node but
 * the last consumes at least one, so 65 is the deepest possible proof (in3
 * caps at 64; a real trie needs a 64-nibble keccak prefix collision to get
 * near either). */
#define MPT_MAX_PROOF_NODES 65
/* Largest node the account and storage tries can hold: a full branch is
 * 3 + 16 * 33 + 1 = 532 bytes, an account leaf under 160.  Proofs of these
 * tries with a larger node are refused before any hashing. */
#define MPT_MAX_NODE_LEN 1024
/* Longest key the builder accepts (bounds its recursion: 2 frames a nibble). */
#define MPT_BUILDER_MAX_KEY 64

/* keccak256(0x80), the root of an empty trie (an account without storage). */
extern const uint8_t mpt_empty_root[32];
/* keccak256(""), the code hash of an account without code. */
extern const uint8_t mpt_empty_code_hash[32];

/* One raw RLP node, borrowed: the bytes belong to the caller. */
struct mpt_node {
    const uint8_t *data;
    size_t len;
};

/* The four fields of a state-trie leaf (Yellow Paper 4.1). */
struct mpt_account {
    uint64_t nonce;           /* EIP-2681 bounds nonces to 64 bits */
    struct u256 balance;
    uint8_t storage_root[32];
    uint8_t code_hash[32];
};

/* ---- verification ---- */

/* Verifies nodes[n] as the proof of `key` (key_len bytes; the path is its
 * nibbles, so secure-trie callers pass keccak256 of the key) in the trie
 * with root[32].  n <= MPT_MAX_PROOF_NODES; an empty trie (root ==
 * mpt_empty_root) is proven by no nodes or by the single node 0x80.
 * Out: *found = 1 and *value / *value_len borrowed from the node holding the
 * value (a leaf's or a branch's value string, its payload), or *found = 0 and
 * *value = NULL when the proof shows the key absent.
 * Returns MR_OK, MR_ERR_PROOF (the reason names the node and the check:
 * "node 2: hash mismatch"), or MR_ERR_TOOBIG if n exceeds the cap. */
int mpt_verify(const uint8_t root[32], const uint8_t *key, size_t key_len,
               const struct mpt_node *nodes, size_t n, const uint8_t **value, size_t *value_len,
               int *found, struct mr_error *err);

/* Verifies an account proof against state_root[32] for address[20] (path
 * keccak256(address)) and decodes the proven leaf strictly.  Nodes longer than
 * MPT_MAX_NODE_LEN are refused.  Out: *acct, and *exists = 1; or, when the
 * proof shows the address absent, *exists = 0 and *acct the empty account
 * (nonce 0, balance 0, mpt_empty_root, mpt_empty_code_hash).
 * Returns MR_OK, MR_ERR_PROOF or MR_ERR_TOOBIG. */
int mpt_verify_account(const uint8_t state_root[32], const uint8_t address[20],
                       const struct mpt_node *nodes, size_t n, struct mpt_account *acct,
                       int *exists, struct mr_error *err);

/* Verifies a storage proof against storage_root[32] for slot[32] (path
 * keccak256(slot)).  The leaf must hold the canonical RLP of a non-zero
 * integer (zero slots are deleted from the trie).  Out: *value, zero when
 * the slot is proven absent; *exists (may be NULL) 1 or 0.
 * Returns MR_OK, MR_ERR_PROOF or MR_ERR_TOOBIG. */
int mpt_verify_storage(const uint8_t storage_root[32], const uint8_t slot[32],
                       const struct mpt_node *nodes, size_t n, struct u256 *value, int *exists,
                       struct mr_error *err);

/* ---- byte formats (mosaic-protocol.md section 4.3) ---- */

/* Decodes an account leaf rlp[len] = RLP([nonce, balance, storageRoot,
 * codeHash]) with canonical integers.  Out: *acct.  MR_ERR_RLP if malformed. */
int mpt_account_decode(const uint8_t *rlp, size_t len, struct mpt_account *acct,
                       struct mr_error *err);
/* Encodes *acct as the gateway's `_rlpAccount` into out[cap].  Out: *len (the
 * size needed, also when it does not fit).  MR_ERR_TOOBIG if cap is short;
 * 1 + 9 + 33 + 33 + 33 + 2 = 111 bytes always suffice. */
int mpt_account_encode(const struct mpt_account *acct, uint8_t *out, size_t cap, size_t *len);
/* Sets *acct to the empty account. */
void mpt_account_empty(struct mpt_account *acct);

/* Encodes nodes[n] as `_rlpParentNodes`: an RLP list whose items are the raw
 * nodes themselves (not re-wrapped as strings).  Out: out[cap], *len (the
 * size needed, also when it does not fit).  MR_ERR_TOOBIG if cap is short. */
int mpt_proof_encode(const struct mpt_node *nodes, size_t n, uint8_t *out, size_t cap,
                     size_t *len);
/* The reverse: splits buf[len] (one RLP list of nodes, each itself an RLP
 * item) into nodes[max] borrowing from buf.  Out: *n.  MR_ERR_RLP if
 * malformed, MR_ERR_TOOBIG if more than `max` nodes. */
int mpt_proof_decode(const uint8_t *buf, size_t len, struct mpt_node *nodes, size_t max,
                     size_t *n, struct mr_error *err);

/* ---- builder ---- */

/* A key/value pair, both borrowed from the caller (they must outlive the
 * builder's use).  Values are never empty: an empty value means "absent". */
struct mpt_kv {
    const uint8_t *key;
    size_t key_len;
    const uint8_t *val;
    size_t val_len;
};

/* A set of pairs kept sorted by key (bytewise, a prefix before its
 * extensions) in the caller's array slots[cap].  Owns nothing. */
struct mpt_builder {
    struct mpt_kv *kv;
    size_t count;
    size_t cap;
};

void mpt_builder_init(struct mpt_builder *b, struct mpt_kv *slots, size_t cap);

/* Inserts or replaces key -> val, both borrowed; val_len == 0 deletes the
 * key, as a null value does in TrieTests.  key_len <= MPT_BUILDER_MAX_KEY.
 * Returns MR_OK, MR_ERR_TOOBIG (no free slot, or key too long). */
int mpt_builder_put(struct mpt_builder *b, const uint8_t *key, size_t key_len,
                    const uint8_t *val, size_t val_len, struct mr_error *err);

/* Index of the first pair whose key is > key (strictly), and of the last one
 * whose key is < key; -1 when there is none.  (TrieTests "nextprev".) */
void mpt_builder_neighbors(const struct mpt_builder *b, const uint8_t *key, size_t key_len,
                           long *prev, long *next);

/* Computes the root hash.  scratch[scratch_cap] is working memory for the
 * node encodings along one path (a few KB for small values; the needed size
 * is about depth * (530 + value size)).  Out: root[32].
 * Returns MR_OK or MR_ERR_TOOBIG if scratch is too small. */
int mpt_builder_root(const struct mpt_builder *b, uint8_t *scratch, size_t scratch_cap,
                     uint8_t root[32], struct mr_error *err);

/* Computes the root and the proof of `key` (present or absent), as geth's
 * eth_getProof would list it: the root node first, then each node referenced
 * by hash on the key's path (inline nodes stay inside their parents).  The
 * node bytes are copied to out[out_cap]; nodes[max_nodes] point into out.
 * An empty trie gives the single node 0x80.  Out: root[32], *n.
 * Returns MR_OK or MR_ERR_TOOBIG (scratch, out or max_nodes too small). */
int mpt_builder_prove(const struct mpt_builder *b, const uint8_t *key, size_t key_len,
                      uint8_t *scratch, size_t scratch_cap, uint8_t *out, size_t out_cap,
                      struct mpt_node *nodes, size_t max_nodes, size_t *n, uint8_t root[32],
                      struct mr_error *err);

#endif /* MR_MPT_H */
