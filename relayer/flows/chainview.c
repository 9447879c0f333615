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
#include <time.h>

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

/* One slot of an eth_getProof answer whose account proof verified (acct,
 * acc[acc_len]) into *out.  MR_ERR_PROOF and friends on a bad proof. */
static int proven_slot(const struct proofjson *pj, const struct proofjson_storage *sp,
                       const struct mpt_account *acct, const uint8_t *acc, size_t acc_len,
                       uint64_t height, const uint8_t state_root[32], struct flow_proven *out,
                       int *status_bad, struct mr_error *err)
{
    struct u256 value;
    uint64_t v = 0;
    int rc = mpt_verify_storage(acct->storage_root, sp->key, sp->nodes, sp->n_nodes, &value, NULL,
                                err);

    memset(out, 0, sizeof(*out));
    if (rc == MR_OK && (u256_to_u64(&value, &v) != MR_OK || v > MOSAIC_REVOKED)) {
        rc = mr_fail(err, MR_ERR_PROOF, "the proven status is out of 0..4");
        *status_bad = 1;
    }
    if (rc == MR_OK) {
        out->height = height;
        memcpy(out->state_root, state_root, 32);
        memcpy(out->storage_root, acct->storage_root, 32);
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
        rc = encode_nodes(pj->account_nodes, pj->n_account_nodes, &out->account_nodes,
                          &out->account_nodes_len, err);
    if (rc == MR_OK)
        rc = encode_nodes(sp->nodes, sp->n_nodes, &out->storage_nodes, &out->storage_nodes_len,
                          err);
    if (rc != MR_OK)
        flow_proven_free(out);
    return rc;
}

/* eth_getProof(gateway, slots[n], height), every proof verified against
 * state_root.  out[0] is slots[0]'s (the return value says whether it
 * proved); for i > 0, ok[i] says whether out[i] holds a verified proof
 * (the others are left empty: their callers fetch them again). */
static int fetch_proofs(const struct flow_ctx *ctx, int chain, const uint8_t gateway[20],
                        const uint8_t (*slots)[32], size_t n, uint64_t height,
                        const uint8_t state_root[32], struct flow_proven *out, int *ok,
                        struct mr_error *err)
{
    const char *ck = ctx->cfg->chains[chain].key;
    struct rpc_endpoints *e = flow_rpc(ctx, chain, err);
    char id[ETHRPC_BLOCK_ID_LEN];
    struct proofjson pj;
    struct mpt_account acct;
    uint8_t acc[128];
    size_t acc_len = 0;
    int exists = 0, status_bad = 0, rc;

    for (size_t i = 0; i < n; i++) {
        memset(&out[i], 0, sizeof(out[i]));
        ok[i] = 0;
    }
    memset(&pj, 0, sizeof(pj));
    if (e == NULL)
        return MR_ERR_INVALID;
    rc = ethrpc_get_proof(e, gateway, slots, n, ethrpc_block_id(height, id), &pj, NULL, err);
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
    if (rc == MR_OK && mpt_account_encode(&acct, acc, sizeof(acc), &acc_len) != MR_OK)
        rc = mr_fail(err, MR_ERR_PROOF, "account does not encode");
    /* Each answer must be the slot asked for, in the order asked. */
    if (rc == MR_OK && (pj.n_storage != n || memcmp(pj.storage[0].key, slots[0], 32) != 0))
        rc = mr_fail(err, MR_ERR_PROOF, "the answer does not prove the slot asked for");
    if (rc == MR_OK)
        rc = proven_slot(&pj, &pj.storage[0], &acct, acc, acc_len, height, state_root, &out[0],
                         &status_bad, err);
    for (size_t i = 1; rc == MR_OK && i < n; i++) {
        struct mr_error e2;
        int bad = 0;
        if (memcmp(pj.storage[i].key, slots[i], 32) == 0)
            ok[i] = proven_slot(&pj, &pj.storage[i], &acct, acc, acc_len, height, state_root,
                                &out[i], &bad, &e2) == MR_OK;
    }
    if (rc == MR_OK)
        ok[0] = 1;
    proofjson_free(&pj);
    if (rc == MR_ERR_PROOF || rc == MR_ERR_RLP) /* the node's answer, not our state */
        metrics_proof_rejected(ck, status_bad ? "status" : "proof");
    if (rc != MR_OK) {
        for (size_t i = 0; i < n; i++)
            flow_proven_free(&out[i]);
        mr_error_prefix(err, rc, "chain %s: proof at %llu: ", ck, (unsigned long long)height);
        return rc == MR_ERR_NOMEM ? rc : MR_ERR_PROOF;
    }
    return MR_OK;
}

int flow_fetch_proof(const struct flow_ctx *ctx, int chain, const uint8_t gateway[20],
                     const uint8_t slot[32], uint64_t height, const uint8_t state_root[32],
                     struct flow_proven *out, struct mr_error *err)
{
    uint8_t one[1][32];
    int ok = 0;

    memcpy(one[0], slot, 32);
    return fetch_proofs(ctx, chain, gateway, (const uint8_t(*)[32])one, 1, height, state_root,
                        out, &ok, err);
}

/* ---------------------------------------------------- proof cache -- */

/* Verified proofs fetched along with another message's (one eth_getProof
 * for many slots of one gateway at one height), until their message's run
 * takes them.  Keyed by the state root they were verified against: a proof
 * is only handed out for the same root, i.e. our node's header at that
 * height when the taker asked. */
#define PROOF_CACHE_SLOTS 256
#define PROOF_CACHE_WAIT_MS 3000

struct proof_entry {
    int used;
    int chain;
    uint8_t gateway[20];
    uint8_t slot[32];
    struct flow_proven p;       /* p.height, p.state_root: the rest of the key */
};

struct flow_proof_cache {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct proof_entry e[PROOF_CACHE_SLOTS];
    size_t next;                /* the slot to reuse next (a ring) */
    struct {                    /* batches being fetched now */
        int used, chain;
        uint8_t gateway[20], root[32];
        uint64_t height;
    } busy[8];
};

int flow_proof_cache_init(struct flow_ctx *ctx)
{
    struct flow_proof_cache *c = calloc(1, sizeof(*c));

    if (c == NULL)
        return MR_ERR_NOMEM;
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    ctx->proofs = c;
    return MR_OK;
}

void flow_proof_cache_free(struct flow_ctx *ctx)
{
    struct flow_proof_cache *c = ctx->proofs;

    if (c == NULL)
        return;
    for (size_t i = 0; i < PROOF_CACHE_SLOTS; i++)
        flow_proven_free(&c->e[i].p);
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->cv);
    free(c);
    ctx->proofs = NULL;
}

static int busy_find(const struct flow_proof_cache *c, int chain, const uint8_t gw[20],
                     uint64_t height, const uint8_t root[32])
{
    for (int i = 0; i < 8; i++)
        if (c->busy[i].used && c->busy[i].chain == chain && c->busy[i].height == height &&
            memcmp(c->busy[i].gateway, gw, 20) == 0 && memcmp(c->busy[i].root, root, 32) == 0)
            return i;
    return -1;
}

/* Takes slot's entry out of the cache into *out: 1 if there was one. */
static int cache_take_locked(struct flow_proof_cache *c, int chain, const uint8_t gw[20],
                             const uint8_t slot[32], uint64_t height, const uint8_t root[32],
                             struct flow_proven *out)
{
    for (size_t i = 0; i < PROOF_CACHE_SLOTS; i++) {
        struct proof_entry *x = &c->e[i];
        if (x->used && x->chain == chain && x->p.height == height &&
            memcmp(x->slot, slot, 32) == 0 && memcmp(x->gateway, gw, 20) == 0 &&
            memcmp(x->p.state_root, root, 32) == 0) {
            *out = x->p;
            memset(x, 0, sizeof(*x));
            return 1;
        }
    }
    return 0;
}

int flow_proof_cache_take(const struct flow_ctx *ctx, int chain, const uint8_t gateway[20],
                          const uint8_t slot[32], uint64_t height, const uint8_t state_root[32],
                          struct flow_proven *out)
{
    struct flow_proof_cache *c = ctx->proofs;
    struct timespec until;
    int got;

    memset(out, 0, sizeof(*out));
    if (c == NULL)
        return 0;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += PROOF_CACHE_WAIT_MS / 1000;
    pthread_mutex_lock(&c->mu);
    /* A batch of this height being fetched likely holds ours: wait for it
     * rather than ask the node for the same proofs again. */
    while (!(got = cache_take_locked(c, chain, gateway, slot, height, state_root, out)) &&
           busy_find(c, chain, gateway, height, state_root) >= 0)
        if (pthread_cond_timedwait(&c->cv, &c->mu, &until) != 0)
            break;
    pthread_mutex_unlock(&c->mu);
    return got;
}

int flow_fetch_proofs_shared(const struct flow_ctx *ctx, int chain, const uint8_t gateway[20],
                             const uint8_t slot[32], const uint8_t (*more)[32], size_t n_more,
                             uint64_t height, const uint8_t state_root[32],
                             struct flow_proven *out, struct mr_error *err)
{
    struct flow_proof_cache *c = ctx->proofs;
    uint8_t (*slots)[32];
    struct flow_proven *res;
    int *ok, rc, b = -1;
    size_t n = 1;

    if (c == NULL || n_more == 0)
        return flow_fetch_proof(ctx, chain, gateway, slot, height, state_root, out, err);
    if (n_more > PROOFJSON_MAX_STORAGE - 1)
        n_more = PROOFJSON_MAX_STORAGE - 1;
    slots = malloc((n_more + 1) * sizeof(*slots));
    res = calloc(n_more + 1, sizeof(*res));
    ok = calloc(n_more + 1, sizeof(*ok));
    if (slots == NULL || res == NULL || ok == NULL) {
        free(slots);
        free(res);
        free(ok);
        return flow_fetch_proof(ctx, chain, gateway, slot, height, state_root, out, err);
    }
    memcpy(slots[0], slot, 32);
    for (size_t i = 0; i < n_more; i++)
        if (memcmp(more[i], slot, 32) != 0)
            memcpy(slots[n++], more[i], 32);
    pthread_mutex_lock(&c->mu);
    for (int i = 0; i < 8 && b < 0; i++)
        if (!c->busy[i].used)
            b = i;
    if (b >= 0) {
        c->busy[b].used = 1;
        c->busy[b].chain = chain;
        c->busy[b].height = height;
        memcpy(c->busy[b].gateway, gateway, 20);
        memcpy(c->busy[b].root, state_root, 32);
    }
    pthread_mutex_unlock(&c->mu);
    rc = fetch_proofs(ctx, chain, gateway, (const uint8_t(*)[32])slots, n, height, state_root, res,
                      ok, err);
    pthread_mutex_lock(&c->mu);
    for (size_t i = 1; rc == MR_OK && i < n; i++) {
        struct proof_entry *x;
        struct flow_proven old;
        if (!ok[i])
            continue;
        /* A copy already there (another batch) is replaced. */
        if (cache_take_locked(c, chain, gateway, slots[i], height, state_root, &old))
            flow_proven_free(&old);
        x = &c->e[c->next];
        c->next = (c->next + 1) % PROOF_CACHE_SLOTS;
        flow_proven_free(&x->p); /* the oldest entry, never taken */
        x->used = 1;
        x->chain = chain;
        memcpy(x->gateway, gateway, 20);
        memcpy(x->slot, slots[i], 32);
        x->p = res[i];
        memset(&res[i], 0, sizeof(res[i]));
    }
    if (b >= 0)
        c->busy[b].used = 0;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
    if (rc == MR_OK)
        *out = res[0];
    for (size_t i = 1; i < n; i++)
        flow_proven_free(&res[i]);
    free(slots);
    free(res);
    free(ok);
    return rc;
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
