/*
 * fuzz_proof.c - libFuzzer target for Merkle Patricia proofs, the account
 * and storage leaf decoders, the trie builder and eth_getProof JSON.
 *
 * Input layouts (first byte selects):
 *   '{' ...                     eth_getProof JSON: parsed, then every proof
 *                               verified against keccak of its first node
 *   flags, klen, key[klen % 65], an _rlpParentNodes list
 *                               flags bit 0: secure (the path is keccak(key));
 *                               bit 1: use the empty-trie root; bit 2:
 *                               instead read the rest as pairs
 *                               (klen, key, vlen, val) for the builder, whose
 *                               root and proofs must agree with the verifier
 * Crashes, leaks and sanitizer reports are the failures; a self-consistency
 * violation (a builder proof that does not verify, a re-encoding that
 * differs) aborts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "eth/keccak.h"
#include "eth/mpt.h"
#include "eth/rlp.h"
#include "chain/proofjson.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAXN (MPT_MAX_PROOF_NODES + 4)

static void fuzz_json(const uint8_t *data, size_t size)
{
    struct proofjson p;
    struct mpt_account acct;
    struct u256 v;
    uint8_t root[32];
    int exists;

    if (proofjson_parse((const char *)data, size, &p, NULL) == MR_OK && p.n_account_nodes > 0) {
        keccak256(p.account_nodes[0].data, p.account_nodes[0].len, root);
        (void)mpt_verify_account(root, p.address, p.account_nodes, p.n_account_nodes, &acct,
                                 &exists, NULL);
        for (size_t i = 0; i < p.n_storage; i++) {
            const struct proofjson_storage *s = &p.storage[i];
            if (s->n_nodes > 0)
                keccak256(s->nodes[0].data, s->nodes[0].len, root);
            (void)mpt_verify_storage(root, s->key, s->nodes, s->n_nodes, &v, &exists, NULL);
        }
    }
    proofjson_free(&p);
}

/* Decodes what a verified leaf might be, as the callers would. */
static void decode_leaf(const uint8_t *v, size_t vlen)
{
    struct mpt_account acct;
    struct rlp_item item;
    struct u256 u;
    uint8_t enc[128];
    size_t len;

    if (mpt_account_decode(v, vlen, &acct, NULL) == MR_OK) {
        /* canonical in, identical out */
        if (mpt_account_encode(&acct, enc, sizeof(enc), &len) != MR_OK || len != vlen ||
            memcmp(enc, v, len) != 0)
            abort();
    }
    if (rlp_decode(v, vlen, 0, &item, NULL) == MR_OK)
        (void)rlp_get_u256(&item, &u, NULL);
}

static void fuzz_verify(uint8_t flags, const uint8_t *key, size_t klen, const uint8_t *rest,
                        size_t rlen)
{
    struct mpt_node nodes[MAXN];
    struct mpt_account acct;
    struct u256 u;
    uint8_t root[32], path[32], *enc;
    const uint8_t *v;
    size_t n, vlen, elen;
    int found, exists;

    if (mpt_proof_decode(rest, rlen, nodes, MAXN, &n, NULL) != MR_OK)
        return;
    enc = malloc(rlen);
    if (enc == NULL || mpt_proof_encode(nodes, n, enc, rlen, &elen) != MR_OK || elen != rlen ||
        memcmp(enc, rest, rlen) != 0)
        abort();
    free(enc);
    if ((flags & 2) || n == 0)
        memcpy(root, mpt_empty_root, 32);
    else
        keccak256(nodes[0].data, nodes[0].len, root);
    /* The typed wrappers hash the raw key themselves. */
    if (klen == 32)
        (void)mpt_verify_storage(root, key, nodes, n, &u, &exists, NULL);
    if (klen == 20)
        (void)mpt_verify_account(root, key, nodes, n, &acct, &exists, NULL);
    if (flags & 1) {
        keccak256(key, klen, path);
        key = path;
        klen = 32;
    }
    if (mpt_verify(root, key, klen, nodes, n, &v, &vlen, &found, NULL) == MR_OK && found)
        decode_leaf(v, vlen);
}

/* Builds a trie from (klen, key, vlen, val) records; every key's proof must
 * verify to its value under the builder's root. */
static void fuzz_builder(const uint8_t *p, size_t len)
{
    static uint8_t scratch[1 << 15], out[1 << 15];
    struct mpt_kv slots[64];
    struct mpt_builder b;
    struct mpt_node nodes[MAXN];
    uint8_t root[32], r2[32];
    const uint8_t *v;
    size_t n, vlen;
    int found;

    mpt_builder_init(&b, slots, 64);
    while (len >= 2) {
        size_t kl = p[0] % 9, vl;
        if (len < 1 + kl + 1)
            break;
        vl = p[1 + kl] % 48;
        if (len < 2 + kl + vl)
            break;
        if (mpt_builder_put(&b, p + 1, kl, p + 2 + kl, vl, NULL) != MR_OK)
            break;
        p += 2 + kl + vl;
        len -= 2 + kl + vl;
    }
    if (mpt_builder_root(&b, scratch, sizeof(scratch), root, NULL) != MR_OK)
        return;
    /* Each proof rebuilds the trie: check about 8 keys spread over the set. */
    for (size_t i = 0; i < b.count; i += 1 + b.count / 8) {
        const struct mpt_kv *kv = &b.kv[i];
        if (mpt_builder_prove(&b, kv->key, kv->key_len, scratch, sizeof(scratch), out, sizeof(out),
                              nodes, MAXN, &n, r2, NULL) != MR_OK)
            continue;
        if (memcmp(root, r2, 32) != 0 ||
            mpt_verify(root, kv->key, kv->key_len, nodes, n, &v, &vlen, &found, NULL) != MR_OK ||
            !found || vlen != kv->val_len || memcmp(v, kv->val, vlen) != 0)
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t klen;

    if (size == 0)
        return 0;
    if (data[0] == '{') {
        fuzz_json(data, size);
        return 0;
    }
    if (data[0] & 4) {
        fuzz_builder(data + 1, size - 1);
        return 0;
    }
    if (size < 2)
        return 0;
    klen = data[1] % 65;
    if (size < 2 + klen)
        return 0;
    fuzz_verify(data[0], data + 2, klen, data + 2 + klen, size - 2 - klen);
    decode_leaf(data + 2 + klen, size - 2 - klen);
    return 0;
}
