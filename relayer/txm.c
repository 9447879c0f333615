/*
 * txm.c - the transaction manager (see txm.h).
 */
#include "relayer/txm.h"

#include <stdlib.h>
#include <string.h>

int txm_bump(const struct u256 *old, int pct, const struct u256 *cap, struct u256 *out)
{
    struct u256 num, hundred, one, next;
    uint64_t rem;

    if (pct < 0)
        pct = 0;
    u256_from_u64(&hundred, (uint64_t)(100 + pct));
    u256_from_u64(&one, 1);
    if (u256_mul(&num, old, &hundred) != MR_OK || u256_divmod_u64(&next, &num, 100, &rem) != MR_OK)
        goto capped;
    if (rem != 0 && u256_add(&next, &next, &one) != MR_OK)
        goto capped;
    if (u256_cmp(&next, old) <= 0 && u256_add(&next, old, &one) != MR_OK)
        goto capped;
    if (u256_cmp(&next, cap) > 0)
        goto capped;
    *out = next;
    return MR_OK;
capped:
    *out = *cap;
    return MR_ERR_RANGE;
}

static void cap_at(struct u256 *v, const struct u256 *cap)
{
    if (u256_cmp(v, cap) > 0)
        *v = *cap;
}

int txm_fees(struct txm *t, struct u256 *max_fee, struct u256 *tip, struct mr_error *err)
{
    struct eth_block b;
    struct u256 two;
    int rc = ethrpc_max_priority_fee(t->rpc, tip, NULL, err);

    if (rc == MR_OK)
        rc = ethrpc_get_block(t->rpc, "latest", &b, NULL, err);
    if (rc != MR_OK)
        return rc;
    cap_at(tip, &t->cfg.tip_cap);
    u256_from_u64(&two, 2);
    if (!b.has_base_fee) {
        *max_fee = *tip;
    } else if (u256_mul(max_fee, &b.base_fee, &two) != MR_OK ||
               u256_add(max_fee, max_fee, tip) != MR_OK) {
        *max_fee = t->cfg.max_fee_cap;
    }
    cap_at(max_fee, &t->cfg.max_fee_cap);
    if (u256_cmp(tip, max_fee) > 0)
        *tip = *max_fee;
    return MR_OK;
}

/* Builds, signs and stores (before any broadcast) an attempt for nonce with
 * the given fees.  Out: raw (malloc'd), hash. */
static int sign_and_store(struct txm *t, int64_t id, uint64_t nonce, const uint8_t to[20],
                          const uint8_t *data, size_t len, const struct u256 *value, uint64_t gas,
                          const struct u256 *max_fee, const struct u256 *tip, uint8_t **raw,
                          size_t *raw_len, uint8_t hash[32], struct mr_error *err)
{
    struct tx tx;
    size_t need = 0;
    int attempt, rc;

    tx_init(&tx, TX_DYNAMIC_FEE, t->cfg.chain_id);
    tx.nonce = nonce;
    tx.gas_limit = gas;
    tx.max_fee = *max_fee;
    tx.max_priority_fee = *tip;
    tx.has_to = 1;
    memcpy(tx.to, to, 20);
    tx.value = *value;
    tx.data = data;
    tx.data_len = len;
    rc = signer_sign_tx(t->signer, &tx, t->cfg.chain_id, err);
    if (rc != MR_OK)
        return rc;
    (void)tx_encode(&tx, NULL, 0, &need, NULL);
    *raw = malloc(need ? need : 1);
    if (*raw == NULL)
        return mr_fail(err, MR_ERR_NOMEM, "out of memory");
    rc = tx_encode(&tx, *raw, need, raw_len, err);
    if (rc == MR_OK) {
        tx_hash(*raw, *raw_len, hash);
        rc = txs_record_attempt(t->db, id, hash, *raw, *raw_len, max_fee, tip, &attempt, err);
    }
    if (rc != MR_OK) {
        free(*raw);
        *raw = NULL;
    }
    return rc;
}

/* Broadcasts stored bytes.  "Already known" counts as sent; "nonce too low"
 * is left to the receipt checks of txm_poll. */
static int broadcast(struct txm *t, int64_t id, int attempt, const uint8_t *raw, size_t len,
                     struct mr_error *err)
{
    struct rpc_detail d;
    uint8_t h[32];
    int rc = ethrpc_send_raw_transaction(t->rpc, raw, len, h, &d, err);

    if (rc != MR_OK && d.kind == RPC_KIND_INSUFFICIENT_FUNDS) {
        t->paused = 1; /* keep the signed bytes; send them again once funded */
        return rc;
    }
    if (rc != MR_OK && !(d.kind == RPC_KIND_ALREADY_KNOWN || d.kind == RPC_KIND_NONCE_TOO_LOW))
        return rc; /* transient: txm_poll sends the same bytes again */
    if (rc == MR_OK)
        t->paused = 0;
    return txs_mark_broadcast(t->db, id, attempt, err);
}

int txm_submit(struct txm *t, struct txs_intent *in, int64_t *id, struct mr_error *err)
{
    const uint8_t *from = signer_address(t->signer);
    struct u256 max_fee, tip;
    struct rpc_detail d;
    uint8_t *out = NULL, *raw = NULL, hash[32];
    size_t out_len = 0, raw_len = 0;
    uint64_t chain_nonce, nonce;
    int rc;

    in->chain_key = t->cfg.chain_key;
    in->sender = from;
    if (t->paused)
        return mr_fail(err, MR_ERR_PERM, "chain %s: sending from this key is paused: insufficient "
                       "funds for the transactions already signed", t->cfg.chain_key);
    /* The dry run: a call that would revert is classified, not sent.
     * eth_call here carries no value, so a payable call with a value (a
     * user's redeem{value: bounty}) is dry-run by eth_estimateGas. */
    if (u256_is_zero(&in->value)) {
        rc = ethrpc_call(t->rpc, from, in->to, in->calldata, in->calldata_len, "pending", &out,
                         &out_len, &d, err);
        free(out);
    } else {
        uint64_t gas = 0;
        rc = ethrpc_estimate_gas(t->rpc, from, in->to, &in->value, in->calldata,
                                 in->calldata_len, &gas, &d, err);
    }
    if (rc != MR_OK)
        return rc;
    rc = ethrpc_get_transaction_count(t->rpc, from, "pending", &chain_nonce, NULL, err);
    if (rc == MR_OK)
        rc = txm_fees(t, &max_fee, &tip, err);
    if (rc == MR_OK)
        rc = txs_create_intent(t->db, in, chain_nonce, id, &nonce, err);
    if (rc == MR_OK)
        rc = sign_and_store(t, *id, nonce, in->to, in->calldata, in->calldata_len, &in->value,
                            in->gas_limit, &max_fee, &tip, &raw, &raw_len, hash, err);
    if (rc == MR_OK) {
        /* Stored: from here a crash re-sends these bytes (txm_poll). */
        struct mr_error e2;
        if (broadcast(t, *id, 1, raw, raw_len, &e2) != MR_OK)
            rc = MR_OK; /* txm_poll retries; the record is safe */
    }
    free(raw);
    return rc;
}

/* The receipt of any attempt of p, if mined.  Returns MR_OK (found),
 * MR_ERR_NOTFOUND, or an error. */
static int find_receipt(struct txm *t, const struct txs_pending *p, struct eth_receipt *r,
                        struct mr_error *err)
{
    uint8_t hashes[32][32];
    size_t n = 0;
    int rc = txs_attempt_hashes(t->db, p->id, hashes, 32, &n, err);

    for (size_t i = n; rc == MR_OK && i-- > 0;) {
        rc = ethrpc_get_receipt(t->rpc, hashes[i], r, NULL, err);
        if (rc == MR_OK)
            return MR_OK;
        if (rc == MR_ERR_NOTFOUND)
            rc = MR_OK;
    }
    return rc == MR_OK ? MR_ERR_NOTFOUND : rc;
}

/* Replaces p (stuck) at the same nonce with bumped fees. */
static int replace(struct txm *t, const struct txs_pending *p, struct mr_error *err)
{
    struct u256 fee, tip, now_fee, now_tip;
    uint8_t *raw = NULL, hash[32];
    size_t raw_len = 0;
    int rc, capped;

    capped = txm_bump(&p->max_fee, t->cfg.bump_percent, &t->cfg.max_fee_cap, &fee) != MR_OK;
    capped |= txm_bump(&p->tip, t->cfg.bump_percent, &t->cfg.tip_cap, &tip) != MR_OK;
    /* Never below what the chain asks now. */
    if (txm_fees(t, &now_fee, &now_tip, NULL) == MR_OK) {
        if (u256_cmp(&now_fee, &fee) > 0)
            fee = now_fee;
        if (u256_cmp(&now_tip, &tip) > 0)
            tip = now_tip;
    }
    if (capped && u256_cmp(&fee, &p->max_fee) <= 0)
        return mr_fail(err, MR_ERR_RANGE, "chain %s nonce %llu: stuck at the fee cap",
                       t->cfg.chain_key, (unsigned long long)p->nonce);
    rc = sign_and_store(t, p->id, p->nonce, p->to, p->calldata, p->calldata_len, &p->value,
                        p->gas_limit, &fee, &tip, &raw, &raw_len, hash, err);
    if (rc == MR_OK)
        rc = broadcast(t, p->id, p->attempt + 1, raw, raw_len, err);
    free(raw);
    return rc;
}

/* A transaction included at a block <= final_at (and still there) is final;
 * final_at < 0 means nothing is final yet. */
static int poll_one(struct txm *t, const struct txs_pending *p, int64_t final_at, int *final,
                    struct mr_error *err)
{
    struct eth_receipt r;
    int rc;

    *final = 0;
    if (strcmp(p->state, "intent") == 0) {
        /* Crashed between the intent and the signature: sign now. */
        struct u256 fee, tip;
        uint8_t *raw = NULL, hash[32];
        size_t len = 0;
        rc = txm_fees(t, &fee, &tip, err);
        if (rc == MR_OK)
            rc = sign_and_store(t, p->id, p->nonce, p->to, p->calldata, p->calldata_len, &p->value,
                                p->gas_limit, &fee, &tip, &raw, &len, hash, err);
        if (rc == MR_OK)
            rc = broadcast(t, p->id, 1, raw, len, err);
        free(raw);
        return rc;
    }
    if (strcmp(p->state, "included") == 0) {
        struct eth_block b;
        char id[ETHRPC_BLOCK_ID_LEN];
        ethrpc_block_id(p->included_block, id);
        rc = ethrpc_get_block(t->rpc, id, &b, NULL, err);
        if (rc == MR_ERR_NOTFOUND || (rc == MR_OK && memcmp(b.hash, p->included_hash, 32) != 0)) {
            /* Its block left the chain: back to broadcast, same bytes again. */
            rc = txs_mark_reorged(t->db, p->id, err);
            if (rc == MR_OK)
                rc = broadcast(t, p->id, p->attempt, p->raw, p->raw_len, err);
            return rc;
        }
        if (rc == MR_OK && final_at >= 0 && p->included_block <= (uint64_t)final_at) {
            rc = txs_mark_final(t->db, p->id, err);
            *final = rc == MR_OK;
        }
        return rc;
    }
    /* signed or broadcast: mined yet? */
    memset(&r, 0, sizeof(r));
    rc = find_receipt(t, p, &r, err);
    if (rc == MR_OK) {
        rc = txs_mark_included(t->db, p->id, r.block_number, r.block_hash, r.status, r.gas_used, err);
        ethrpc_receipt_free(&r);
        return rc;
    }
    ethrpc_receipt_free(&r);
    if (rc != MR_ERR_NOTFOUND)
        return rc;
    if (strcmp(p->state, "signed") == 0 || p->age_ms < 0)
        return broadcast(t, p->id, p->attempt, p->raw, p->raw_len, err);
    if (p->age_ms >= t->cfg.stuck_after_ms)
        return replace(t, p, err);
    /* Not mined yet: send the same bytes again (a node may have lost them,
     * e.g. after a reorg or a restart); "already known" is fine. */
    return broadcast(t, p->id, p->attempt, p->raw, p->raw_len, err);
}

int txm_poll(struct txm *t, size_t *left, struct mr_error *err)
{
    struct txs_pending *list = NULL;
    size_t n = 0, done = 0;
    uint64_t head = 0;
    int64_t final_at = -1;
    int rc = txs_load_pending(t->db, t->cfg.chain_key, signer_address(t->signer), &list, &n, err);

    if (rc == MR_OK && n > 0) {
        if (t->cfg.use_finalized_tag) {
            struct eth_block fb;
            rc = ethrpc_get_block(t->rpc, "finalized", &fb, NULL, err);
            if (rc == MR_OK)
                final_at = (int64_t)fb.number;
            else if (rc == MR_ERR_NOTFOUND) /* nothing finalized yet */
                rc = MR_OK;
        } else {
            rc = ethrpc_block_number(t->rpc, &head, NULL, err);
            if (rc == MR_OK && head >= t->cfg.confirmations)
                final_at = (int64_t)(head - t->cfg.confirmations);
        }
    }
    for (size_t i = 0; rc == MR_OK && i < n; i++) {
        int final = 0;
        rc = poll_one(t, &list[i], final_at, &final, err);
        done += (size_t)final;
    }
    txs_pending_free(list, n);
    if (left != NULL)
        *left = n - done;
    return rc;
}
