/*
 * chainview.c - what the flows read from the chains: message statuses,
 * anchors, final blocks (with a quorum of endpoints), and storage proofs
 * fetched from our node and verified locally before anything is sent.
 *
 * Each handler thread has its own node clients (libcurl handles are not
 * shared between threads): created on first use, kept for the thread's
 * life, freed when it exits (a pthread key destructor) or by
 * flow_thread_release().
 */
#include "relayer/flows/flows_int.h"

#include <stdlib.h>
#include <string.h>

#include "eth/hex.h"
#include "eth/keccak.h"

struct flow_tls {
    uint64_t gen;
    struct rpc_endpoints *ep[CONFIG_MAX_CHAINS];
};

static pthread_key_t tls_key;
static pthread_once_t tls_once = PTHREAD_ONCE_INIT;

static void tls_free(void *p)
{
    struct flow_tls *t = p;

    if (t == NULL)
        return;
    for (size_t c = 0; c < CONFIG_MAX_CHAINS; c++)
        rpc_endpoints_free(t->ep[c]);
    free(t);
}

static void tls_init(void)
{
    (void)pthread_key_create(&tls_key, tls_free);
}

void flow_thread_release(void)
{
    (void)pthread_once(&tls_once, tls_init);
    tls_free(pthread_getspecific(tls_key));
    (void)pthread_setspecific(tls_key, NULL);
}

static struct flow_tls *tls_get(const struct flow_ctx *ctx, struct mr_error *err)
{
    struct flow_tls *t;

    (void)pthread_once(&tls_once, tls_init);
    t = pthread_getspecific(tls_key);
    if (t != NULL && t->gen != ctx->gen) {
        flow_thread_release();
        t = NULL;
    }
    if (t == NULL) {
        t = calloc(1, sizeof(*t));
        if (t == NULL) {
            mr_fail(err, MR_ERR_NOMEM, "out of memory");
            return NULL;
        }
        t->gen = ctx->gen;
        (void)pthread_setspecific(tls_key, t);
    }
    return t;
}

struct rpc_endpoints *flow_rpc(const struct flow_ctx *ctx, int chain, struct mr_error *err)
{
    const struct config_chain *c = &ctx->cfg->chains[chain];
    struct flow_tls *t = tls_get(ctx, err);
    const char *urls[CONFIG_MAX_ENDPOINTS];

    if (t == NULL)
        return NULL;
    if (t->ep[chain] == NULL) {
        for (size_t i = 0; i < c->n_endpoints; i++)
            urls[i] = c->endpoints[i];
        if (rpc_endpoints_new(urls, c->n_endpoints, c->chain_id, NULL, &t->ep[chain], err) !=
            MR_OK) {
            mr_error_prefix(err, MR_ERR_INVALID, "chain %s: ", c->key);
            return NULL;
        }
    }
    return t->ep[chain];
}

int flow_call_word(const struct flow_ctx *ctx, int chain, const uint8_t to[20],
                   const uint8_t *data, size_t len, const char *block, uint8_t word[32],
                   struct rpc_detail *d, struct mr_error *err)
{
    struct rpc_endpoints *e = flow_rpc(ctx, chain, err);
    uint8_t *out = NULL;
    size_t out_len = 0;
    int rc;

    if (e == NULL)
        return MR_ERR_INVALID;
    rc = ethrpc_call(e, NULL, to, data, len, block, &out, &out_len, d, err);
    if (rc == MR_OK && out_len < 32)
        rc = mr_fail(err, MR_ERR_JSON, "chain %s: eth_call answered %zu bytes, want 32",
                     ctx->cfg->chains[chain].key, out_len);
    if (rc == MR_OK)
        memcpy(word, out, 32);
    free(out);
    return rc;
}

/* A word that must hold a small integer (a status, a height). */
static int word_u64(const uint8_t w[32], uint64_t max, uint64_t *v)
{
    uint64_t x = 0;

    for (int i = 0; i < 24; i++)
        if (w[i] != 0)
            return MR_ERR_RANGE;
    for (int i = 24; i < 32; i++)
        x = x << 8 | w[i];
    if (x > max)
        return MR_ERR_RANGE;
    *v = x;
    return MR_OK;
}

static void with_hash(const char *sig, const uint8_t arg[32], uint8_t out[36])
{
    flow_selector(sig, out);
    memcpy(out + 4, arg, 32);
}

int flow_read_status(const struct flow_ctx *ctx, int chain, const uint8_t gateway[20],
                     int inbox, const uint8_t mh[32], const char *block, int *status,
                     struct mr_error *err)
{
    uint8_t cd[36], w[32];
    uint64_t v;
    int rc;

    with_hash(inbox ? "getInboxMessageStatus(bytes32)" : "getOutboxMessageStatus(bytes32)", mh,
              cd);
    rc = flow_call_word(ctx, chain, gateway, cd, sizeof(cd), block, w, NULL, err);
    if (rc != MR_OK)
        return mr_error_prefix(err, rc, "reading the %s status: ", inbox ? "inbox" : "outbox");
    if (word_u64(w, MOSAIC_REVOKED, &v) != MR_OK)
        return mr_fail(err, MR_ERR_JSON, "chain %s: the gateway answered a status out of 0..4",
                       ctx->cfg->chains[chain].key);
    *status = (int)v;
    return MR_OK;
}

int flow_box_offset(struct flow_ctx *ctx, int chain, const uint8_t gateway[20], int *offset,
                    struct mr_error *err)
{
    struct rpc_detail d;
    uint8_t cd[4], w[32];
    uint64_t v;
    int rc;

    pthread_mutex_lock(&ctx->mu);
    for (size_t i = 0; i < ctx->n_boxes; i++) {
        if (ctx->boxes[i].chain == chain && memcmp(ctx->boxes[i].gateway, gateway, 20) == 0) {
            *offset = ctx->boxes[i].offset;
            pthread_mutex_unlock(&ctx->mu);
            return MR_OK;
        }
    }
    pthread_mutex_unlock(&ctx->mu);
    /* §1.3: MESSAGE_BOX_OFFSET() answers 9 on 0.11+ and reverts on 0.10.0,
     * whose message box sits at slots 7/8. */
    flow_selector("MESSAGE_BOX_OFFSET()", cd);
    rpc_detail_clear(&d);
    rc = flow_call_word(ctx, chain, gateway, cd, sizeof(cd), "latest", w, &d, err);
    if (rc == MR_ERR_RPC && d.kind == RPC_KIND_REVERTED) {
        v = MOSAIC_MESSAGE_BOX_OFFSET_V010;
    } else if (rc != MR_OK) {
        return mr_error_prefix(err, rc, "reading MESSAGE_BOX_OFFSET(): ");
    } else if (word_u64(w, 1000, &v) != MR_OK || (v != MOSAIC_MESSAGE_BOX_OFFSET &&
                                                   v != MOSAIC_MESSAGE_BOX_OFFSET_V010)) {
        return mr_fail(err, MR_ERR_INVALID, "chain %s: MESSAGE_BOX_OFFSET() is not 9 or 7",
                       ctx->cfg->chains[chain].key);
    }
    pthread_mutex_lock(&ctx->mu);
    if (ctx->n_boxes < FLOW_MAX_BOXES) {
        ctx->boxes[ctx->n_boxes].chain = chain;
        memcpy(ctx->boxes[ctx->n_boxes].gateway, gateway, 20);
        ctx->boxes[ctx->n_boxes].offset = (int)v;
        ctx->n_boxes++;
    }
    pthread_mutex_unlock(&ctx->mu);
    *offset = (int)v;
    return MR_OK;
}

int flow_final_block(const struct flow_ctx *ctx, int chain, struct eth_block *b,
                     struct mr_error *err)
{
    const struct config_chain *c = &ctx->cfg->chains[chain];
    struct rpc_endpoints *e = flow_rpc(ctx, chain, err);
    char id[ETHRPC_BLOCK_ID_LEN];
    uint64_t head;
    int rc;

    if (e == NULL)
        return MR_ERR_INVALID;
    if (c->use_finalized_tag) {
        rc = ethrpc_get_block(e, "finalized", b, NULL, err);
    } else {
        rc = ethrpc_block_number(e, &head, NULL, err);
        if (rc == MR_OK && head < c->confirmations)
            rc = mr_fail(err, MR_ERR_NOTFOUND, "chain %s: no block is final yet", c->key);
        if (rc == MR_OK)
            rc = ethrpc_get_block(e, ethrpc_block_id(head - c->confirmations, id), b, NULL, err);
    }
    /* Never height 0: the genesis header's root is not the genesis state
     * (ANVIL.md). */
    if (rc == MR_OK && b->number == 0)
        rc = mr_fail(err, MR_ERR_NOTFOUND, "chain %s: only the genesis block is final", c->key);
    return rc;
}

int flow_quorum_check(const struct flow_ctx *ctx, int chain, const struct eth_block *b,
                      struct mr_error *err)
{
    const struct config_chain *c = &ctx->cfg->chains[chain];
    struct rpc_endpoints *e = flow_rpc(ctx, chain, err);
    struct eth_block x;
    size_t q = c->quorum > 0 ? (size_t)c->quorum : 1;
    int rc;

    if (e == NULL)
        return MR_ERR_INVALID;
    if (q > c->n_endpoints)
        q = c->n_endpoints;
    rc = ethrpc_quorum_block(e, b->number, q, &x, err);
    if (rc != MR_OK)
        return mr_error_prefix(err, rc, "chain %s: block %llu: ", c->key,
                               (unsigned long long)b->number);
    /* The quorum agrees with itself; it must agree with our view too. */
    if (memcmp(x.hash, b->hash, 32) != 0 || memcmp(x.state_root, b->state_root, 32) != 0)
        return mr_fail(err, MR_ERR_MISMATCH, "chain %s: the endpoints' block %llu differs from "
                       "the one we read before", c->key, (unsigned long long)b->number);
    return MR_OK;
}

int flow_anchor_latest(const struct flow_ctx *ctx, int chain, const uint8_t anchor[20],
                       uint64_t *height, struct mr_error *err)
{
    uint8_t cd[4], w[32];
    int rc;

    flow_selector("getLatestStateRootBlockHeight()", cd);
    rc = flow_call_word(ctx, chain, anchor, cd, sizeof(cd), "latest", w, NULL, err);
    if (rc != MR_OK)
        return mr_error_prefix(err, rc, "reading the anchor's latest height: ");
    if (word_u64(w, INT64_MAX, height) != MR_OK)
        return mr_fail(err, MR_ERR_RANGE, "chain %s: the anchor's latest height is out of range",
                       ctx->cfg->chains[chain].key);
    return MR_OK;
}

int flow_anchor_root(const struct flow_ctx *ctx, int chain, const uint8_t anchor[20],
                     uint64_t height, uint8_t root[32], struct mr_error *err)
{
    uint8_t cd[36], h[32] = {0};
    int rc;

    for (int i = 0; i < 8; i++)
        h[31 - i] = (uint8_t)(height >> (8 * i));
    with_hash("getStateRoot(uint256)", h, cd);
    rc = flow_call_word(ctx, chain, anchor, cd, sizeof(cd), "latest", root, NULL, err);
    return rc == MR_OK ? MR_OK : mr_error_prefix(err, rc, "reading the anchored root: ");
}

void flow_proven_free(struct flow_proven *p)
{
    free(p->account);
    free(p->account_nodes);
    free(p->storage_nodes);
    memset(p, 0, sizeof(*p));
}

/* Encodes nodes as _rlpParentNodes into a new buffer. */
static int encode_nodes(const struct mpt_node *nodes, size_t n, uint8_t **out, size_t *len,
                        struct mr_error *err)
{
    size_t need = 0;

    (void)mpt_proof_encode(nodes, n, NULL, 0, &need);
    *out = malloc(need ? need : 1);
    if (*out == NULL)
        return mr_fail(err, MR_ERR_NOMEM, "out of memory");
    return mpt_proof_encode(nodes, n, *out, need, len) == MR_OK
               ? MR_OK
               : mr_fail(err, MR_ERR_TOOBIG, "proof does not encode");
}

int flow_fetch_proof(const struct flow_ctx *ctx, int chain, const uint8_t gateway[20],
                     const uint8_t slot[32], uint64_t height, const uint8_t state_root[32],
                     struct flow_proven *out, struct mr_error *err)
{
    const char *ck = ctx->cfg->chains[chain].key;
    struct rpc_endpoints *e = flow_rpc(ctx, chain, err);
    char id[ETHRPC_BLOCK_ID_LEN];
    struct proofjson pj;
    struct mpt_account acct;
    struct u256 value;
    uint64_t v = 0;
    uint8_t acc[128], slots[1][32];
    size_t acc_len = 0;
    int exists = 0, status_bad = 0, rc;

    memset(out, 0, sizeof(*out));
    memset(&pj, 0, sizeof(pj));
    if (e == NULL)
        return MR_ERR_INVALID;
    memcpy(slots[0], slot, 32);
    rc = ethrpc_get_proof(e, gateway, (const uint8_t(*)[32])slots, 1, ethrpc_block_id(height, id),
                          &pj, NULL, err);
    if (rc != MR_OK) {
        proofjson_free(&pj);
        return mr_error_prefix(err, rc, "chain %s: eth_getProof at %llu: ", ck,
                               (unsigned long long)height);
    }
    /* The node's claimed values are ignored: only what the proofs prove. */
    rc = mpt_verify_account(state_root, gateway, pj.account_nodes, pj.n_account_nodes, &acct,
                            &exists, err);
    if (rc == MR_OK && !exists)
        rc = mr_fail(err, MR_ERR_PROOF, "the gateway has no account at this height");
    if (rc == MR_OK && (pj.n_storage != 1 || memcmp(pj.storage[0].key, slot, 32) != 0))
        rc = mr_fail(err, MR_ERR_PROOF, "the answer does not prove the slot asked for");
    if (rc == MR_OK)
        rc = mpt_verify_storage(acct.storage_root, slot, pj.storage[0].nodes,
                                pj.storage[0].n_nodes, &value, NULL, err);
    if (rc == MR_OK && (u256_to_u64(&value, &v) != MR_OK || v > MOSAIC_REVOKED)) {
        rc = mr_fail(err, MR_ERR_PROOF, "the proven status is out of 0..4");
        status_bad = 1;
    }
    if (rc == MR_OK && mpt_account_encode(&acct, acc, sizeof(acc), &acc_len) != MR_OK)
        rc = mr_fail(err, MR_ERR_PROOF, "account does not encode");
    if (rc == MR_OK) {
        out->height = height;
        memcpy(out->state_root, state_root, 32);
        memcpy(out->storage_root, acct.storage_root, 32);
        out->status = (int)v;
        out->account = malloc(acc_len);
        if (out->account == NULL)
            rc = mr_fail(err, MR_ERR_NOMEM, "out of memory");
        else {
            memcpy(out->account, acc, acc_len);
            out->account_len = acc_len;
        }
    }
    if (rc == MR_OK)
        rc = encode_nodes(pj.account_nodes, pj.n_account_nodes, &out->account_nodes,
                          &out->account_nodes_len, err);
    if (rc == MR_OK)
        rc = encode_nodes(pj.storage[0].nodes, pj.storage[0].n_nodes, &out->storage_nodes,
                          &out->storage_nodes_len, err);
    proofjson_free(&pj);
    if (rc == MR_ERR_PROOF || rc == MR_ERR_RLP) /* the node's answer, not our state */
        metrics_proof_rejected(ck, status_bad ? "status" : "proof");
    if (rc != MR_OK) {
        flow_proven_free(out);
        mr_error_prefix(err, rc, "chain %s: proof at %llu: ", ck, (unsigned long long)height);
        return rc == MR_ERR_NOMEM ? rc : MR_ERR_PROOF;
    }
    return MR_OK;
}

int flow_pending_nonce(const struct flow_ctx *ctx, int chain, const uint8_t sender[20],
                       uint64_t *nonce, struct mr_error *err)
{
    struct rpc_endpoints *e = flow_rpc(ctx, chain, err);

    if (e == NULL)
        return MR_ERR_INVALID;
    return ethrpc_get_transaction_count(e, sender, "pending", nonce, NULL, err);
}

int flow_estimate(const struct flow_ctx *ctx, int chain, const uint8_t sender[20],
                  const uint8_t to[20], const uint8_t *data, size_t len, uint64_t *gas,
                  struct mr_error *err)
{
    struct rpc_endpoints *e = flow_rpc(ctx, chain, err);
    struct rpc_detail d;
    uint64_t g = 0;
    int rc;

    if (e == NULL)
        return MR_ERR_INVALID;
    rc = ethrpc_estimate_gas(e, sender, to, NULL, data, len, &g, &d, err);
    if (rc != MR_OK)
        return rc;
    /* A margin: the state may move a little before the call is mined. */
    *gas = g + g / 4 + 20000;
    return MR_OK;
}
