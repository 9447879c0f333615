/*
 * calls.c - call data of the gateway, co-gateway and anchor functions the
 * relayer sends (mosaic-protocol.md §2.1-§2.4), and the check that a
 * message row hashes to its message hash (§3.2).  Pure.
 *
 * Mind the argument orders (§10.5): confirmStakeIntent has the hashlock
 * BEFORE the height, confirmRedeemIntent AFTER it; the ...WithProof calls
 * take (hash, proof, height, status), the revert calls (hash, height, proof).
 */
#include "relayer/flows/flows_int.h"

#include <stdlib.h>
#include <string.h>

#include "eth/abi.h"
#include "eth/keccak.h"

enum arg_type { A_WORD, A_U256, A_U64, A_ADDR, A_BYTES };

struct arg {
    enum arg_type t;
    const uint8_t *p;       /* A_WORD (32), A_ADDR (20), A_BYTES (len) */
    size_t len;
    const struct u256 *u;   /* A_U256 */
    uint64_t v;             /* A_U64 */
};

void flow_selector(const char *sig, uint8_t out[4])
{
    uint8_t h[32];

    keccak256(sig, strlen(sig), h);
    memcpy(out, h, 4);
}

static void put_all(struct abi_builder *b, const struct arg *a, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        switch (a[i].t) {
        case A_WORD: abi_put_word(b, a[i].p); break;
        case A_U256: abi_put_u256(b, a[i].u); break;
        case A_U64: abi_put_u64(b, a[i].v); break;
        case A_ADDR: abi_put_address(b, a[i].p); break;
        case A_BYTES: abi_put_bytes(b, a[i].p, a[i].len); break;
        }
    }
}

/* Encodes sig(a[0..n)) into a new buffer. */
static int build(const char *sig, const struct arg *a, size_t n, uint8_t **out, size_t *len,
                 struct mr_error *err)
{
    struct abi_builder b;
    uint8_t sel[4];
    size_t need = 0;
    int rc;

    *out = NULL;
    *len = 0;
    flow_selector(sig, sel);
    abi_builder_init(&b, NULL, 0, sel, n);
    put_all(&b, a, n);
    rc = abi_builder_finish(&b, &need, NULL);
    if (rc != MR_OK && rc != MR_ERR_TOOBIG)
        return mr_fail(err, MR_ERR_INVALID, "%s: bad argument list", sig);
    *out = malloc(need);
    if (*out == NULL)
        return mr_fail(err, MR_ERR_NOMEM, "%s: out of memory for %zu bytes", sig, need);
    abi_builder_init(&b, *out, need, sel, n);
    put_all(&b, a, n);
    rc = abi_builder_finish(&b, len, err);
    if (rc != MR_OK) {
        free(*out);
        *out = NULL;
    }
    return rc;
}

#define W(x) {A_WORD, (x), 32, NULL, 0}
#define U(x) {A_U256, NULL, 0, (x), 0}
#define N(x) {A_U64, NULL, 0, NULL, (x)}
#define AD(x) {A_ADDR, (x), 20, NULL, 0}
#define BY(x, l) {A_BYTES, (x), (l), NULL, 0}

int flow_cd_confirm(const struct flow_message *m, uint64_t height, const uint8_t *proof,
                    size_t proof_len, uint8_t **out, size_t *len, struct mr_error *err)
{
    if (m->kind == MOSAIC_STAKE) {
        /* §2.3: ..., hashLock, blockHeight, proof */
        const struct arg a[] = {AD(m->sender), U(&m->nonce), AD(m->beneficiary), U(&m->amount),
                                U(&m->gas_price), U(&m->gas_limit), W(m->hashlock), N(height),
                                BY(proof, proof_len)};
        return build("confirmStakeIntent(address,uint256,address,uint256,uint256,uint256,bytes32,"
                     "uint256,bytes)", a, 9, out, len, err);
    } else {
        /* §2.2: ..., blockHeight, hashLock, proof */
        const struct arg a[] = {AD(m->sender), U(&m->nonce), AD(m->beneficiary), U(&m->amount),
                                U(&m->gas_price), U(&m->gas_limit), N(height), W(m->hashlock),
                                BY(proof, proof_len)};
        return build("confirmRedeemIntent(address,uint256,address,uint256,uint256,uint256,"
                     "uint256,bytes32,bytes)", a, 9, out, len, err);
    }
}

int flow_cd_progress_secret(enum mosaic_kind kind, int on_target, const uint8_t mh[32],
                            const uint8_t secret[32], uint8_t **out, size_t *len,
                            struct mr_error *err)
{
    const struct arg a[] = {W(mh), W(secret)};
    const char *sig = kind == MOSAIC_STAKE
                          ? (on_target ? "progressMint(bytes32,bytes32)"
                                       : "progressStake(bytes32,bytes32)")
                          : (on_target ? "progressUnstake(bytes32,bytes32)"
                                       : "progressRedeem(bytes32,bytes32)");
    return build(sig, a, 2, out, len, err);
}

int flow_cd_progress_proof(enum mosaic_kind kind, int on_target, const uint8_t mh[32],
                           const uint8_t *proof, size_t proof_len, uint64_t height, int status,
                           uint8_t **out, size_t *len, struct mr_error *err)
{
    const struct arg a[] = {W(mh), BY(proof, proof_len), N(height), N((uint64_t)status)};
    const char *sig =
        kind == MOSAIC_STAKE
            ? (on_target ? "progressMintWithProof(bytes32,bytes,uint256,uint256)"
                         : "progressStakeWithProof(bytes32,bytes,uint256,uint256)")
            : (on_target ? "progressUnstakeWithProof(bytes32,bytes,uint256,uint256)"
                         : "progressRedeemWithProof(bytes32,bytes,uint256,uint256)");
    return build(sig, a, 4, out, len, err);
}

int flow_cd_revert(enum mosaic_kind kind, int on_target, const uint8_t mh[32], uint64_t height,
                   const uint8_t *proof, size_t proof_len, uint8_t **out, size_t *len,
                   struct mr_error *err)
{
    const struct arg a[] = {W(mh), N(height), BY(proof, proof_len)};
    const char *sig = kind == MOSAIC_STAKE
                          ? (on_target ? "confirmRevertStakeIntent(bytes32,uint256,bytes)"
                                       : "progressRevertStake(bytes32,uint256,bytes)")
                          : (on_target ? "confirmRevertRedeemIntent(bytes32,uint256,bytes)"
                                       : "progressRevertRedeem(bytes32,uint256,bytes)");
    return build(sig, a, 3, out, len, err);
}

int flow_cd_prove(uint64_t height, const uint8_t *account, size_t account_len,
                  const uint8_t *nodes, size_t nodes_len, uint8_t **out, size_t *len,
                  struct mr_error *err)
{
    const struct arg a[] = {N(height), BY(account, account_len), BY(nodes, nodes_len)};
    return build("proveGateway(uint256,bytes,bytes)", a, 3, out, len, err);
}

void flow_cd_anchor(uint64_t height, const uint8_t root[32], uint8_t out[68])
{
    struct abi_builder b;
    uint8_t sel[4];
    size_t len;

    flow_selector("anchorStateRoot(uint256,bytes32)", sel);
    abi_builder_init(&b, out, 68, sel, 2);
    abi_put_u64(&b, height);
    abi_put_word(&b, root);
    (void)abi_builder_finish(&b, &len, NULL);
}

int flow_message_check(const struct flow_message *m, const uint8_t gateway[20],
                       struct mr_error *err)
{
    struct mosaic_message mm;
    uint8_t intent[32], mh[32];

    mosaic_intent_hash(m->kind, &m->amount, m->beneficiary, gateway, intent);
    if (memcmp(intent, m->intent_hash, 32) != 0)
        return mr_fail(err, MR_ERR_INVALID, "the row's intent hash is not that of its amount, "
                       "beneficiary and gateway");
    memcpy(mm.intent_hash, intent, 32);
    mm.nonce = m->nonce;
    mm.gas_price = m->gas_price;
    mm.gas_limit = m->gas_limit;
    memcpy(mm.sender, m->sender, 20);
    memcpy(mm.hashlock, m->hashlock, 32);
    mosaic_message_hash(&mm, mh);
    if (memcmp(mh, m->hash, 32) != 0)
        return mr_fail(err, MR_ERR_INVALID, "the row's fields do not hash to its message hash");
    return MR_OK;
}
