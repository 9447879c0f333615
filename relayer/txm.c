/*
 * txm.c - the transaction manager (see txm.h).
 */
#include "relayer/txm.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db/alert.h"
#include "eth/hex.h"
#include "relayer/log.h"

/* Test hook (RELIABILITY.md row 17): RELAYER_CRASH_AT=<name> kills the
 * process with SIGKILL at the named step (see TXM_CRASH_POINTS in txm.h). */
static void txm_crash_point(const char *name)
{
    const char *at = getenv("RELAYER_CRASH_AT");

    if (at != NULL && strcmp(at, name) == 0)
        raise(SIGKILL);
}

static int64_t txm_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

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

/* Builds and signs an attempt for nonce with the given fees.  Out: raw
 * (malloc'd), hash. */
static int sign_tx(struct txm *t, uint64_t nonce, const uint8_t *to, const uint8_t *data,
                   size_t len, const struct u256 *value, uint64_t gas, const struct u256 *max_fee,
                   const struct u256 *tip, uint8_t **raw, size_t *raw_len, uint8_t hash[32],
                   struct mr_error *err)
{
    struct tx tx;
    size_t need = 0;
    int rc;

    *raw = NULL;
    tx_init(&tx, TX_DYNAMIC_FEE, t->cfg.chain_id);
    tx.nonce = nonce;
    tx.gas_limit = gas;
    tx.max_fee = *max_fee;
    tx.max_priority_fee = *tip;
    tx.has_to = to != NULL; /* NULL: contract creation */
    if (to != NULL)
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
    if (rc == MR_OK)
        tx_hash(*raw, *raw_len, hash);
    if (rc != MR_OK) {
        free(*raw);
        *raw = NULL;
    }
    return rc;
}

/* sign_tx, then stores the attempt (before any broadcast). */
static int sign_and_store(struct txm *t, int64_t id, uint64_t nonce, const uint8_t *to,
                          const uint8_t *data, size_t len, const struct u256 *value, uint64_t gas,
                          const struct u256 *max_fee, const struct u256 *tip, uint8_t **raw,
                          size_t *raw_len, uint8_t hash[32], int *attempt, struct mr_error *err)
{
    int rc = sign_tx(t, nonce, to, data, len, value, gas, max_fee, tip, raw, raw_len, hash, err);

    if (rc == MR_OK)
        rc = txs_record_attempt(t->db, id, hash, *raw, *raw_len, max_fee, tip, attempt, err);
    if (rc == MR_OK)
        log_at(*attempt > 1 ? LOGL_INFO : LOGL_DEBUG, "txm",
               LOG_ID(.chain = t->cfg.chain_key, .nonce = nonce, .has_nonce = 1, .tx_hash = hash),
               "signed transaction %lld%s (attempt %d)", (long long)id,
               *attempt > 1 ? ", a replacement with higher fees" : "", *attempt);
    if (rc != MR_OK) {
        free(*raw);
        *raw = NULL;
    }
    return rc;
}

/* sign_and_store for the stored intent p (a first signature after a crash,
 * or a replacement). */
static int sign_pending(struct txm *t, const struct txs_pending *p, const struct u256 *max_fee,
                        const struct u256 *tip, uint8_t **raw, size_t *raw_len, uint8_t hash[32],
                        int *attempt, struct mr_error *err)
{
    return sign_and_store(t, p->id, p->nonce, p->create ? NULL : p->to, p->calldata,
                          p->calldata_len, &p->value, p->gas_limit, max_fee, tip, raw, raw_len,
                          hash, attempt, err);
}

/* Records the sends noted by note_sent (and, with m, the other marks of a
 * poll) in one transaction.  The sends are forgotten either way: one that
 * was not recorded is sent again by the next poll. */
static int flush_marks(struct txm *t, struct txs_marks *m, struct mr_error *err)
{
    struct txs_sent sent[TXM_SENT_MAX];
    struct txs_marks none;
    int64_t now = txm_now_ms();

    if (m == NULL) {
        memset(&none, 0, sizeof(none));
        m = &none;
    }
    for (size_t i = 0; i < t->n_sent; i++) {
        sent[i].id = t->sent[i].id;
        sent[i].attempt = t->sent[i].attempt;
        sent[i].ago_ms = now - t->sent[i].at_ms;
    }
    m->sent = sent;
    m->n_sent = t->n_sent;
    t->n_sent = 0;
    return txs_mark_many(t->db, m, err);
}

/* A send of attempt `attempt` of transaction id went through: recorded as
 * broadcast with the next batch of marks. */
static int note_sent(struct txm *t, int64_t id, int attempt, struct mr_error *err)
{
    if (t->n_sent == TXM_SENT_MAX) {
        int rc = flush_marks(t, NULL, err);
        if (rc != MR_OK && rc != MR_ERR_INVALID)
            return rc;
    }
    t->sent[t->n_sent].id = id;
    t->sent[t->n_sent].attempt = attempt;
    t->sent[t->n_sent].at_ms = txm_now_ms();
    t->n_sent++;
    return MR_OK;
}

/* The alerts about the key's funds (RELIABILITY.md row 14): subject
 * "<chain> <key address>"; resolved by their message's start. */
#define TXM_NO_FUNDS_ALERT "sending from this key is paused: it cannot pay for its transactions"
#define TXM_LOW_BALANCE_ALERT "the key's balance is below min_balance"

/* Raises (raise_it) or resolves the alert `msg` of the key, when *state
 * says it is not so already (0 unknown, 1 open, 2 resolved).  A database
 * error is logged and tried again the next time. */
static void key_alert(struct txm *t, int *state, int raise_it, const char *severity,
                      const char *msg, const char *prefix)
{
    char subject[96], addr[43];
    struct mr_error e;
    int rc;

    if (*state == (raise_it ? 1 : 2))
        return;
    hex_encode_data(signer_address(t->signer), 20, addr, sizeof(addr));
    snprintf(subject, sizeof(subject), "%s %s", t->cfg.chain_key, addr);
    rc = raise_it ? alert_raise(t->db, severity, "txm", subject, msg, &e)
                  : alert_resolve(t->db, "txm", subject, prefix, &e);
    if (rc == MR_OK)
        *state = raise_it ? 1 : 2;
    else
        log_warn("txm", LOG_ID(.chain = t->cfg.chain_key), "%s", e.msg);
}

/* Broadcasts stored bytes.  "Already known" counts as sent; "nonce too low"
 * is left to the receipt checks of txm_poll. */
static int broadcast(struct txm *t, int64_t id, int attempt, const uint8_t *raw, size_t len,
                     struct mr_error *err)
{
    struct rpc_detail d;
    uint8_t h[32];
    int rc = ethrpc_send_raw_transaction(t->rpc, raw, len, h, &d, err);

    t->send_kind = rc == MR_OK ? RPC_KIND_NONE : (int)d.kind;
    if (rc != MR_OK && d.kind == RPC_KIND_INSUFFICIENT_FUNDS) {
        if (!t->paused)
            log_warn("txm", LOG_ID(.chain = t->cfg.chain_key),
                     "transaction %lld: the key cannot pay; paused until it is funded",
                     (long long)id);
        t->paused = 1; /* keep the signed bytes; send them again once funded */
        key_alert(t, &t->funds_alert, 1, "critical", TXM_NO_FUNDS_ALERT
                  " (insufficient funds): fund it; the signed transactions wait", NULL);
        return rc;
    }
    if (rc != MR_OK && !(d.kind == RPC_KIND_ALREADY_KNOWN || d.kind == RPC_KIND_NONCE_TOO_LOW))
        return rc; /* transient: txm_poll sends the same bytes again */
    if (rc == MR_OK) {
        t->paused = 0;
        key_alert(t, &t->funds_alert, 0, NULL, NULL, TXM_NO_FUNDS_ALERT);
    }
    txm_crash_point("after_send_before_record");
    return note_sent(t, id, attempt, err);
}

/* txm_fees for a new intent, reused for fee_cache_ms (two calls fewer per
 * transaction when many are sent in a row). */
static int fees_for_intent(struct txm *t, struct u256 *max_fee, struct u256 *tip,
                           struct mr_error *err)
{
    int64_t ttl = t->cfg.fee_cache_ms == 0 ? TXM_DEFAULT_FEE_CACHE_MS : t->cfg.fee_cache_ms;
    int64_t now = txm_now_ms();
    int rc;

    if (ttl > 0 && t->fee_at_ms > 0 && now - t->fee_at_ms < ttl) {
        *max_fee = t->fee_max;
        *tip = t->fee_tip;
        cap_at(max_fee, &t->cfg.max_fee_cap); /* the caps may have changed since */
        cap_at(tip, &t->cfg.tip_cap);
        if (u256_cmp(tip, max_fee) > 0)
            *tip = *max_fee;
        return MR_OK;
    }
    rc = txm_fees(t, max_fee, tip, err);
    if (rc == MR_OK) {
        t->fee_max = *max_fee;
        t->fee_tip = *tip;
        t->fee_at_ms = now;
    }
    return rc;
}

/* eth_estimateGas plus the configured margin. */
static int estimate(struct txm *t, const struct txs_intent *in, uint64_t *gas, struct mr_error *err)
{
    int margin = t->cfg.gas_margin_percent > 0 ? t->cfg.gas_margin_percent : TXM_DEFAULT_GAS_MARGIN;
    uint64_t g = 0;
    int rc = ethrpc_estimate_gas(t->rpc, in->sender, in->create ? NULL : in->to, &in->value,
                                 in->calldata, in->calldata_len, &g, NULL, err);

    if (rc != MR_OK)
        return rc;
    if (g == 0 || g > UINT64_MAX / (uint64_t)(100 + margin))
        return mr_fail(err, MR_ERR_RANGE, "chain %s: gas estimate %llu out of range",
                       t->cfg.chain_key, (unsigned long long)g);
    *gas = g * (uint64_t)(100 + margin) / 100;
    return MR_OK;
}

/* txs_create_intent refused the key (MR_ERR_PERM in err): when the reason
 * is that the chain's nonce is ahead of ours, someone else used the key:
 * halt it (persistently) with an alert.  err is kept. */
static void key_refused(struct txm *t, uint64_t chain_nonce, struct mr_error *err)
{
    struct mr_error e2;

    if (err != NULL && strstr(err->msg, "ahead of ours") != NULL &&
        txs_halt_key(t->db, t->cfg.chain_key, signer_address(t->signer), chain_nonce, err->msg,
                     &e2) == MR_OK)
        t->halted = 1;
}

struct sign_new_ctx {
    struct txm *t;
    const struct txs_intent *rec;
    const struct u256 *fee, *tip;
};

/* txs_create_signed's callback: signs the new intent at its nonce. */
static int sign_new(void *arg, uint64_t nonce, struct txs_signed *out, struct mr_error *err)
{
    const struct sign_new_ctx *c = arg;
    const struct txs_intent *in = c->rec;
    int rc = sign_tx(c->t, nonce, in->create ? NULL : in->to, in->calldata, in->calldata_len,
                     &in->value, in->gas_limit, c->fee, c->tip, &out->raw, &out->raw_len,
                     out->hash, err);

    if (rc == MR_OK) {
        out->max_fee = *c->fee;
        out->tip = *c->tip;
        txm_crash_point("after_intent"); /* nothing committed yet */
    }
    return rc;
}

int txm_submit(struct txm *t, struct txs_intent *in, int64_t *id, struct mr_error *err)
{
    const uint8_t *from = signer_address(t->signer);
    struct txs_intent rec;
    struct u256 max_fee, tip;
    struct rpc_detail d;
    struct txs_signed signed_tx;
    uint8_t *out = NULL;
    size_t out_len = 0;
    uint64_t chain_nonce, nonce = 0;
    int rc, fast = 0;

    memset(&signed_tx, 0, sizeof(signed_tx));
    in->chain_key = t->cfg.chain_key;
    in->sender = from;
    if (in->create ? in->to != NULL : in->to == NULL)
        return mr_fail(err, MR_ERR_INVALID, "chain %s: %s", t->cfg.chain_key,
                       in->create ? "a contract creation has no `to` address"
                                  : "a call needs a `to` address");
    if (in->no_dry_run && in->gas_limit == 0)
        return mr_fail(err, MR_ERR_INVALID, "chain %s: a send without a dry run needs a gas limit",
                       t->cfg.chain_key);
    if (t->paused)
        return mr_fail(err, MR_ERR_PERM, "chain %s: sending from this key is paused: insufficient "
                       "funds for the transactions already signed", t->cfg.chain_key);
    if (!in->no_dry_run) {
        /* The dry run: a call that would revert is classified, not sent. */
        rc = ethrpc_call_ex(t->rpc, from, in->create ? NULL : in->to, &in->value, in->calldata,
                            in->calldata_len, "pending", &out, &out_len, &d, err);
        free(out);
        if (rc != MR_OK)
            return rc;
    }
    rec = *in; /* the caller's intent is not changed (but for chain_key, sender) */
    if (rec.gas_limit == 0 && (rc = estimate(t, in, &rec.gas_limit, err)) != MR_OK)
        return rc;
    rc = ethrpc_get_transaction_count(t->rpc, from, "pending", &chain_nonce, NULL, err);
    if (rc == MR_OK)
        rc = fees_for_intent(t, &max_fee, &tip, err);
    if (rc == MR_OK && t->next_known) {
        struct sign_new_ctx c = {t, &rec, &max_fee, &tip};
        /* Most likely the nonce after our last one: signed at it, then
         * recorded only if it is still the next one, in one statement. */
        rc = sign_new(&c, t->next_nonce, &signed_tx, err);
        if (rc == MR_OK)
            rc = txs_create_signed_at(t->db, &rec, chain_nonce, t->next_nonce, &signed_tx, id,
                                      err);
        if (rc == MR_OK) {
            nonce = t->next_nonce;
            fast = 1;
        } else if (rc == MR_ERR_NOTFOUND) {
            rc = MR_OK; /* not the next one: the signature is dropped, unsent */
        }
        if (!fast && signed_tx.raw != NULL) {
            mr_wipe(signed_tx.raw, signed_tx.raw_len);
            free(signed_tx.raw);
            memset(&signed_tx, 0, sizeof(signed_tx));
        }
    }
    if (rc == MR_OK && !fast) {
        struct sign_new_ctx c = {t, &rec, &max_fee, &tip};
        /* Nonce, signature, intent and attempt: one database transaction. */
        rc = txs_create_signed(t->db, &rec, chain_nonce, sign_new, &c, &signed_tx, id, &nonce,
                               err);
        if (rc == MR_ERR_PERM)
            key_refused(t, chain_nonce, err);
    }
    t->next_known = rc == MR_OK;
    t->next_nonce = rc == MR_OK ? nonce + 1 : 0;
    if (rc == MR_OK) {
        /* Stored: from here a crash re-sends these bytes (txm_poll). */
        struct mr_error e2;
        log_debug("txm", LOG_ID(.chain = t->cfg.chain_key, .nonce = nonce, .has_nonce = 1,
                                .tx_hash = signed_tx.hash),
                  "signed transaction %lld (attempt 1)", (long long)*id);
        txm_crash_point("after_sign_before_send");
        if (broadcast(t, *id, 1, signed_tx.raw, signed_tx.raw_len, &e2) != MR_OK)
            rc = MR_OK; /* txm_poll retries; the record is safe */
    }
    free(signed_tx.raw);
    return rc;
}

int txm_result(struct txm *t, int64_t id, struct txs_result *out, struct mr_error *err)
{
    return txs_result(t->db, id, out, err);
}

/* The receipt of any attempt of p, if mined.  Returns MR_OK (found),
 * MR_ERR_NOTFOUND, or an error. */
static int find_receipt(struct txm *t, const struct txs_pending *p, struct eth_receipt *r,
                        struct mr_error *err)
{
    int rc = MR_OK;

    /* The newest attempt first: the likeliest to be mined. */
    for (size_t i = p->n_hashes; rc == MR_OK && i-- > 0;) {
        rc = ethrpc_get_receipt(t->rpc, p->hashes[i], r, NULL, err);
        if (rc == MR_OK)
            return MR_OK;
        if (rc == MR_ERR_NOTFOUND)
            rc = MR_OK;
    }
    return rc == MR_OK ? MR_ERR_NOTFOUND : rc;
}

/* "origin nonce 7" for alerts and messages. */
static void tx_subject(const struct txm *t, uint64_t nonce, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s nonce %llu", t->cfg.chain_key, (unsigned long long)nonce);
}

/* Replaces p (stuck) at the same nonce with bumped fees.  At the fee cap
 * no replacement can be made: an alert is raised (once) and the same bytes
 * are sent again. */
static int replace(struct txm *t, const struct txs_pending *p, struct mr_error *err)
{
    struct u256 fee, tip, now_fee, now_tip;
    uint8_t *raw = NULL, hash[32];
    size_t raw_len = 0;
    int rc, capped, attempt = 0;

    capped = txm_bump(&p->max_fee, t->cfg.bump_percent, &t->cfg.max_fee_cap, &fee) != MR_OK;
    capped |= txm_bump(&p->tip, t->cfg.bump_percent, &t->cfg.tip_cap, &tip) != MR_OK;
    /* Never below what the chain asks now. */
    if (txm_fees(t, &now_fee, &now_tip, NULL) == MR_OK) {
        if (u256_cmp(&now_fee, &fee) > 0)
            fee = now_fee;
        if (u256_cmp(&now_tip, &tip) > 0)
            tip = now_tip;
    }
    if (capped && u256_cmp(&fee, &p->max_fee) <= 0) {
        char subject[96], msg[200], cap[U256_DEC_MAX];
        tx_subject(t, p->nonce, subject, sizeof(subject));
        u256_to_dec(&t->cfg.max_fee_cap, cap, sizeof(cap));
        snprintf(msg, sizeof(msg), "transaction %lld is stuck at the fee cap (max fee %s wei): "
                 "raise the cap or wait", (long long)p->id, cap);
        log_warn("txm", LOG_ID(.chain = t->cfg.chain_key, .nonce = p->nonce, .has_nonce = 1),
                 "%s", msg);
        rc = alert_raise(t->db, "warning", "txm", subject, msg, err);
        return rc == MR_OK ? broadcast(t, p->id, p->attempt, p->raw, p->raw_len, err) : rc;
    }
    for (int again = 0;; again++) {
        struct u256 fee2, tip2;
        rc = sign_pending(t, p, &fee, &tip, &raw, &raw_len, hash, &attempt, err);
        if (rc == MR_OK) {
            txm_crash_point("after_sign_before_send");
            rc = broadcast(t, p->id, attempt, raw, raw_len, err);
        }
        free(raw);
        raw = NULL;
        if (rc == MR_OK || t->send_kind != RPC_KIND_UNDERPRICED || again == TXM_UNDERPRICED_BUMPS)
            return rc;
        /* "Replacement transaction underpriced" (RELIABILITY.md row 11):
         * the pool wants more than that attempt; bump again at once, by at
         * least 10% on both fees, rather than wait for the next timeout. */
        (void)txm_bump(&fee, t->cfg.bump_percent > 10 ? t->cfg.bump_percent : 10,
                       &t->cfg.max_fee_cap, &fee2);
        (void)txm_bump(&tip, t->cfg.bump_percent > 10 ? t->cfg.bump_percent : 10,
                       &t->cfg.tip_cap, &tip2);
        if (u256_cmp(&fee2, &fee) <= 0 && u256_cmp(&tip2, &tip) <= 0)
            return rc; /* at the caps: the next stuck timeout raises the alert */
        log_info("txm", LOG_ID(.chain = t->cfg.chain_key, .nonce = p->nonce, .has_nonce = 1),
                 "transaction %lld: replacement refused as underpriced; bumping again",
                 (long long)p->id);
        fee = fee2;
        tip = tip2;
    }
}

/* ---- evidence that a nonce of ours was used by someone else ---- */

static struct txm_evidence *evidence_slot(struct txm *t, int64_t id, int create)
{
    struct txm_evidence *free_slot = NULL;

    for (size_t i = 0; i < TXM_EVIDENCE_SLOTS; i++) {
        if (t->evidence[i].id == id)
            return &t->evidence[i];
        if (t->evidence[i].id == 0 && free_slot == NULL)
            free_slot = &t->evidence[i];
    }
    if (create && free_slot == NULL)
        free_slot = &t->evidence[(size_t)id % TXM_EVIDENCE_SLOTS]; /* evict: count again */
    if (create && free_slot != NULL) {
        free_slot->id = id;
        free_slot->count = 0;
    }
    return create ? free_slot : NULL;
}

static void evidence_reset(struct txm *t, int64_t id)
{
    struct txm_evidence *e = evidence_slot(t, id, 0);

    if (e != NULL)
        memset(e, 0, sizeof(*e));
}

/* The chain's nonce is past p's and none of p's attempts was mined.  One
 * of our other transactions at that nonce may have been (an aborted one
 * that was in fact sent); otherwise this is one piece of evidence that
 * someone else used the nonce.  After TXM_NONCE_EVIDENCE in a row, p is
 * given up (failed) and the key is halted with an alert (RELIABILITY.md
 * rows 11 and 13). */
static int nonce_used(struct txm *t, const struct txs_pending *p, uint64_t chain_nonce,
                      struct mr_error *err)
{
    int64_t ids[32];
    uint8_t hashes[32][32];
    struct txm_evidence *e;
    struct eth_receipt r;
    char why[240], subject[96];
    size_t n = 0;
    int rc = txs_nonce_attempts(t->db, t->cfg.chain_key, signer_address(t->signer), p->nonce, ids,
                                hashes, 32, &n, err);

    for (size_t i = 0; rc == MR_OK && i < n; i++) {
        if (ids[i] == p->id)
            continue;
        rc = ethrpc_get_receipt(t->rpc, hashes[i], &r, NULL, err);
        ethrpc_receipt_free(&r);
        if (rc == MR_OK) {
            evidence_reset(t, p->id);
            snprintf(why, sizeof(why), "nonce %llu was used by our transaction %lld (given up "
                     "earlier, yet mined)", (unsigned long long)p->nonce, (long long)ids[i]);
            tx_subject(t, p->nonce, subject, sizeof(subject));
            log_warn("txm", LOG_ID(.chain = t->cfg.chain_key, .nonce = p->nonce, .has_nonce = 1),
                     "transaction %lld given up: %s", (long long)p->id, why);
            rc = txs_mark_failed(t->db, p->id, why, err);
            return rc == MR_OK ? alert_raise(t->db, "warning", "txm", subject, why, err) : rc;
        }
        if (rc == MR_ERR_NOTFOUND)
            rc = MR_OK;
    }
    if (rc != MR_OK)
        return rc;
    e = evidence_slot(t, p->id, 1);
    if (e->count++ == 0)
        e->first_ms = txm_now_ms();
    /* A node whose account state runs ahead of its receipts (one that
     * lags behind another of the chain's endpoints, or one still storing
     * the block it just mined) looks the same for a moment: evidence
     * counts only once it has lasted. */
    if (e->count < TXM_NONCE_EVIDENCE || txm_now_ms() - e->first_ms < t->cfg.nonce_evidence_ms)
        return MR_OK;
    evidence_reset(t, p->id);
    snprintf(why, sizeof(why), "chain %s: nonce %llu was used by a transaction that is not ours "
             "(the chain's nonce is %llu; none of our attempts was mined): the key was used "
             "elsewhere; stopped sending from it", t->cfg.chain_key, (unsigned long long)p->nonce,
             (unsigned long long)chain_nonce);
    log_error("txm", LOG_ID(.chain = t->cfg.chain_key, .nonce = p->nonce, .has_nonce = 1),
              "transaction %lld given up: %s", (long long)p->id, why);
    rc = txs_mark_failed(t->db, p->id, why, err);
    if (rc == MR_OK)
        rc = txs_halt_key(t->db, t->cfg.chain_key, signer_address(t->signer), chain_nonce, why,
                          err);
    if (rc == MR_OK)
        t->halted = 1;
    return rc;
}

/* ---- one pass ---- */

struct poll_ctx {
    int64_t final_at;       /* final when included at or below; < 0: nothing final yet */
    uint64_t chain_nonce;   /* eth_getTransactionCount "latest", read before the receipts */
    /* What the poll learnt, recorded at its end (txs_mark_many); each has
     * room for every pending transaction. */
    int64_t *reorged, *final;
    struct txs_inclusion *included;
    size_t n_reorged, n_final, n_included;
    int resend;             /* this poll sends the bytes of unmined transactions again */
};

/* An intent left by a crash before its signature: sign and send now. */
static int resume_intent(struct txm *t, const struct txs_pending *p, struct mr_error *err)
{
    struct u256 fee, tip;
    uint8_t *raw = NULL, hash[32];
    size_t len = 0;
    /* The fees of new intents (fee_cache_ms): the flows record intents
     * that the sender signs here, many at a time. */
    int attempt = 0, rc = fees_for_intent(t, &fee, &tip, err);

    if (rc == MR_OK)
        rc = sign_pending(t, p, &fee, &tip, &raw, &len, hash, &attempt, err);
    if (rc == MR_OK) {
        txm_crash_point("after_sign_before_send");
        rc = broadcast(t, p->id, attempt, raw, len, err);
    }
    free(raw);
    return rc;
}

/* Signs every intent of the list (recorded by the flows, or left by a
 * crash before its signature) and stores all their first attempts in one
 * statement: one synchronous commit for the batch instead of one each.
 * Each one recorded becomes "signed" in the list, with its bytes, so that
 * the pass below broadcasts it (after the commit: stored before sent).
 * One that cannot be signed or recorded here stays an intent for
 * resume_intent. */
static int sign_intents(struct txm *t, struct txs_pending *list, size_t n, struct mr_error *err)
{
    struct txs_first_attempt *a = NULL;
    struct u256 fee, tip;
    uint8_t **raw = NULL, (*hash)[32] = NULL;
    size_t *len = NULL, *idx = NULL, k = 0, want = 0;
    int *attempt = NULL, rc, any = 0;

    for (size_t i = 0; i < n; i++)
        want += strcmp(list[i].state, "intent") == 0;
    if (want < 2)
        return MR_OK; /* resume_intent: the same cost */
    if ((rc = fees_for_intent(t, &fee, &tip, err)) != MR_OK)
        return rc;
    a = calloc(want, sizeof(*a));
    raw = calloc(want, sizeof(*raw));
    hash = calloc(want, sizeof(*hash));
    len = calloc(want, sizeof(*len));
    idx = calloc(want, sizeof(*idx));
    attempt = calloc(want, sizeof(*attempt));
    if (a == NULL || raw == NULL || hash == NULL || len == NULL || idx == NULL || attempt == NULL)
        rc = mr_fail(err, MR_ERR_NOMEM, "out of memory");
    for (size_t i = 0; rc == MR_OK && i < n; i++) {
        const struct txs_pending *p = &list[i];
        if (strcmp(p->state, "intent") != 0)
            continue;
        rc = sign_tx(t, p->nonce, p->create ? NULL : p->to, p->calldata, p->calldata_len,
                     &p->value, p->gas_limit, &fee, &tip, &raw[k], &len[k], hash[k], err);
        if (rc != MR_OK)
            break;
        a[k].id = p->id;
        a[k].hash = hash[k];
        a[k].raw = raw[k];
        a[k].raw_len = len[k];
        idx[k++] = i;
    }
    if (k > 0) { /* those signed before a failure are stored and sent too */
        struct mr_error e2;
        int r2 = txs_record_first_attempts(t->db, a, k, &fee, &tip, attempt,
                                           rc == MR_OK ? err : &e2);
        if (rc == MR_OK)
            rc = r2;
    }
    for (size_t j = 0; j < k; j++) {
        struct txs_pending *p = &list[idx[j]];
        uint8_t(*hs)[32];
        if (attempt == NULL || attempt[j] <= 0)
            continue;
        hs = realloc(p->hashes, (p->n_hashes + 1) * sizeof(*hs));
        if (hs == NULL)
            continue; /* stays an intent here; the next poll sends the stored bytes */
        p->hashes = hs;
        memcpy(p->hashes[p->n_hashes++], hash[j], 32);
        snprintf(p->state, sizeof(p->state), "signed");
        p->attempt = attempt[j];
        free(p->raw);
        p->raw = raw[j];
        p->raw_len = len[j];
        raw[j] = NULL;
        memcpy(p->hash, hash[j], 32);
        p->max_fee = fee;
        p->tip = tip;
        p->age_ms = -1;
        any = 1;
        log_debug("txm", LOG_ID(.chain = t->cfg.chain_key, .nonce = p->nonce, .has_nonce = 1,
                                .tx_hash = p->hash),
                  "signed transaction %lld (attempt %d)", (long long)p->id, p->attempt);
    }
    if (any)
        txm_crash_point("after_sign_before_send");
    for (size_t j = 0; raw != NULL && j < want; j++)
        free(raw[j]);
    free(a);
    free(raw);
    free(hash);
    free(len);
    free(idx);
    free(attempt);
    return rc;
}

/* Included: final at the configured depth, or back to broadcast (and the
 * same bytes sent again) when its block left the chain. */
static int poll_included(struct txm *t, const struct txs_pending *p, struct poll_ctx *c,
                         int *final, struct mr_error *err)
{
    struct eth_block b;
    char id[ETHRPC_BLOCK_ID_LEN];
    int rc;

    ethrpc_block_id(p->included_block, id);
    rc = ethrpc_get_block(t->rpc, id, &b, NULL, err);
    if (rc == MR_ERR_NOTFOUND || (rc == MR_OK && memcmp(b.hash, p->included_hash, 32) != 0)) {
        log_warn("txm", LOG_ID(.chain = t->cfg.chain_key, .nonce = p->nonce, .has_nonce = 1),
                 "transaction %lld: block %llu left the chain; sending it again",
                 (long long)p->id, (unsigned long long)p->included_block);
        c->reorged[c->n_reorged++] = p->id; /* recorded before the send below */
        return t->halted ? MR_OK : broadcast(t, p->id, p->attempt, p->raw, p->raw_len, err);
    }
    if (rc == MR_OK && c->final_at >= 0 && p->included_block <= (uint64_t)c->final_at) {
        txm_crash_point("before_mark_final");
        c->final[c->n_final++] = p->id;
        *final = 1;
        log_debug("txm", LOG_ID(.chain = t->cfg.chain_key, .nonce = p->nonce, .has_nonce = 1),
                  "transaction %lld final", (long long)p->id);
    }
    return rc;
}

static int poll_one(struct txm *t, const struct txs_pending *p, struct poll_ctx *c,
                    int *final, struct mr_error *err)
{
    struct eth_receipt r;
    int rc;

    *final = 0;
    if (strcmp(p->state, "intent") == 0)
        return t->halted ? MR_OK : resume_intent(t, p, err);
    if (strcmp(p->state, "included") == 0)
        return poll_included(t, p, c, final, err);
    /* signed or broadcast: mined yet?  (With receipts_when_reached, not
     * asked while the chain has not reached its nonce: one receipt query per
     * transaction mined, not per one pending, when many are pipelined.) */
    memset(&r, 0, sizeof(r));
    rc = !t->cfg.receipts_when_reached || p->nonce < c->chain_nonce
             ? find_receipt(t, p, &r, err)
             : MR_ERR_NOTFOUND;
    if (rc == MR_OK) {
        struct txs_inclusion *in = &c->included[c->n_included++];
        evidence_reset(t, p->id);
        txm_crash_point("after_receipt_before_mark");
        in->id = p->id;
        in->block = r.block_number;
        memcpy(in->block_hash, r.block_hash, 32);
        in->status = r.status;
        in->gas_used = r.gas_used;
        in->has_tx_hash = 1;
        memcpy(in->tx_hash, r.tx_hash, 32);
        in->has_contract = p->create && r.status == 1 && r.has_contract_address;
        if (in->has_contract)
            memcpy(in->contract, r.contract_address, 20);
        log_at(r.status == 1 ? LOGL_INFO : LOGL_WARN, "txm",
               LOG_ID(.chain = t->cfg.chain_key, .nonce = p->nonce, .has_nonce = 1,
                      .tx_hash = r.tx_hash),
               "transaction %lld included in block %llu%s", (long long)p->id,
               (unsigned long long)r.block_number, r.status == 1 ? "" : ": it reverted");
        /* Deep enough already (the receipt, read after the finality point,
         * names the block on the chain now): final in the same batch, with
         * no second look at the block. */
        if (c->final_at >= 0 && r.block_number <= (uint64_t)c->final_at) {
            txm_crash_point("before_mark_final");
            c->final[c->n_final++] = p->id;
            *final = 1;
            log_debug("txm", LOG_ID(.chain = t->cfg.chain_key, .nonce = p->nonce, .has_nonce = 1),
                      "transaction %lld final", (long long)p->id);
        }
        ethrpc_receipt_free(&r);
        return MR_OK;
    }
    ethrpc_receipt_free(&r);
    if (rc != MR_ERR_NOTFOUND)
        return rc;
    if (p->nonce < c->chain_nonce) /* the nonce is used, and not by any attempt of p */
        return nonce_used(t, p, c->chain_nonce, err);
    evidence_reset(t, p->id);
    if (t->halted)
        return MR_OK;
    if (strcmp(p->state, "signed") == 0 || p->age_ms < 0) {
        rc = broadcast(t, p->id, p->attempt, p->raw, p->raw_len, err);
        /* Never taken, refused as underpriced (RELIABILITY.md row 11): it
         * would never be sent, so never stuck: replaced at once. */
        if (rc != MR_OK && t->send_kind == RPC_KIND_UNDERPRICED)
            rc = replace(t, p, err);
        return rc;
    }
    if (p->age_ms >= t->cfg.stuck_after_ms)
        return replace(t, p, err);
    /* Not mined yet: send the same bytes again (a node may have lost them,
     * e.g. after a reorg, a restart or a dropped lower nonce); "already
     * known" is fine.  At most every cfg.resend_ms when that is set. */
    if (!c->resend)
        return MR_OK;
    return broadcast(t, p->id, p->attempt, p->raw, p->raw_len, err);
}

/* Nonces allocated but held by no live transaction (an aborted intent)
 * keep every later one from being mined.  Seen on two polls in a row with
 * the chain's nonce not moving (and gap_after_ms apart), each is filled
 * with a 0-value self transaction (RELIABILITY.md row 12). */
static int fill_gaps(struct txm *t, uint64_t chain_nonce, struct mr_error *err)
{
    uint64_t gaps[16];
    size_t n = 0;
    int64_t now = txm_now_ms();
    int rc = txs_gaps(t->db, t->cfg.chain_key, signer_address(t->signer), chain_nonce, gaps, 16,
                      &n, err);

    if (rc != MR_OK || n == 0) {
        t->gap_polls = 0;
        return rc;
    }
    if (t->gap_polls == 0 || t->gap_chain_nonce != chain_nonce) {
        t->gap_chain_nonce = chain_nonce;
        t->gap_since_ms = now;
        t->gap_polls = 1;
        return MR_OK;
    }
    if (now - t->gap_since_ms < t->cfg.gap_after_ms)
        return MR_OK;
    t->gap_polls = 0;
    for (size_t i = 0; rc == MR_OK && i < n; i++) {
        struct txs_pending p;
        int64_t id;
        memset(&p, 0, sizeof(p));
        rc = txs_create_filler(t->db, t->cfg.chain_key, signer_address(t->signer), gaps[i], &id,
                               err);
        if (rc != MR_OK)
            break;
        p.id = id;
        p.nonce = gaps[i];
        memcpy(p.to, signer_address(t->signer), 20);
        p.gas_limit = 21000;
        rc = resume_intent(t, &p, err);
    }
    return rc;
}

/* cfg.min_balance (RELIABILITY.md row 14): the key's balance, read at most
 * every cfg.balance_check_ms, below it raises a warning alert, at or above
 * it resolves that alert.  A failed read is logged; it never fails a poll. */
static void check_balance(struct txm *t)
{
    char msg[200], min[U256_DEC_MAX], have[U256_DEC_MAX];
    struct mr_error e;
    struct u256 wei;
    int64_t now = txm_now_ms();
    int low;

    if (u256_is_zero(&t->cfg.min_balance) ||
        (t->balance_at_ms > 0 && now - t->balance_at_ms < t->cfg.balance_check_ms))
        return;
    t->balance_at_ms = now;
    if (ethrpc_get_balance(t->rpc, signer_address(t->signer), "latest", &wei, NULL, &e) != MR_OK) {
        log_warn("txm", LOG_ID(.chain = t->cfg.chain_key), "reading the key's balance: %s", e.msg);
        return;
    }
    low = u256_cmp(&wei, &t->cfg.min_balance) < 0;
    u256_to_dec(&t->cfg.min_balance, min, sizeof(min));
    if (low && t->balance_alert != 1) {
        u256_to_dec(&wei, have, sizeof(have));
        log_warn("txm", LOG_ID(.chain = t->cfg.chain_key),
                 "the key's balance %s wei is below min_balance %s wei: fund it", have, min);
    }
    snprintf(msg, sizeof(msg), TXM_LOW_BALANCE_ALERT " (%s wei): fund it before sends pause",
             min);
    key_alert(t, &t->balance_alert, low, "warning", msg, TXM_LOW_BALANCE_ALERT);
}

/* Reads the finality point: the node's "finalized" block, or head minus
 * the confirmations. */
static int final_point(struct txm *t, int64_t *final_at, struct mr_error *err)
{
    uint64_t head = 0;
    int rc;

    *final_at = -1;
    if (t->cfg.use_finalized_tag) {
        struct eth_block fb;
        rc = ethrpc_get_block(t->rpc, "finalized", &fb, NULL, err);
        if (rc == MR_OK)
            *final_at = (int64_t)fb.number;
        return rc == MR_ERR_NOTFOUND ? MR_OK : rc; /* nothing finalized yet */
    }
    rc = ethrpc_block_number(t->rpc, &head, NULL, err);
    if (rc == MR_OK && head >= t->cfg.confirmations)
        *final_at = (int64_t)(head - t->cfg.confirmations);
    return rc;
}

int txm_poll(struct txm *t, size_t *left, struct mr_error *err)
{
    const uint8_t *from = signer_address(t->signer);
    struct txs_pending *list = NULL;
    struct poll_ctx c;
    struct txs_marks m;
    struct txs_key key;
    struct mr_error e1;
    size_t n = 0, done = 0;
    int rc, r1, first = MR_OK;

    if (left != NULL)
        *left = 0;
    memset(&c, 0, sizeof(c));
    c.final_at = -1;
    /* The sends since the last poll first: this poll sees them as broadcast
     * (and since when). */
    if (t->n_sent > 0 && (rc = flush_marks(t, NULL, err)) != MR_OK) {
        if (rc != MR_ERR_INVALID)
            return rc;
        first = rc;
    }
    check_balance(t);
    rc = txs_key_state(t->db, t->cfg.chain_key, from, &key, first == MR_OK ? err : &e1);
    if (rc != MR_OK)
        return first != MR_OK ? first : rc;
    t->halted = key.halted;
    if (!key.exists)
        return first; /* nothing was ever sent from this key here */
    if ((rc = txs_load_pending(t->db, t->cfg.chain_key, from, &list, &n, err)) != MR_OK)
        return rc;
    c.reorged = calloc(n + 1, sizeof(*c.reorged));
    c.final = calloc(n + 1, sizeof(*c.final));
    c.included = calloc(n + 1, sizeof(*c.included));
    if (c.reorged == NULL || c.final == NULL || c.included == NULL)
        rc = mr_fail(err, MR_ERR_NOMEM, "out of memory");
    /* The chain's nonce first, then the receipts: a transaction mined in
     * between is found by its receipt, never mistaken for someone else's. */
    if (rc == MR_OK)
        rc = ethrpc_get_transaction_count(t->rpc, from, "latest", &c.chain_nonce, NULL, err);
    if (rc == MR_OK && c.chain_nonce > key.next_nonce && !t->halted) {
        char why[240];
        snprintf(why, sizeof(why), "chain %s: the key's nonce on chain (%llu) is past every nonce "
                 "we allocated (next %llu): the key was used elsewhere; stopped sending from it",
                 t->cfg.chain_key, (unsigned long long)c.chain_nonce,
                 (unsigned long long)key.next_nonce);
        log_error("txm", LOG_ID(.chain = t->cfg.chain_key), "%s", why);
        rc = txs_halt_key(t->db, t->cfg.chain_key, from, c.chain_nonce, why, err);
        t->halted = rc == MR_OK;
    }
    if (rc == MR_OK && n > 0)
        rc = final_point(t, &c.final_at, err);
    if (rc == MR_OK && n > 0 &&
        (t->paused || txm_now_ms() - t->resent_at_ms >= t->cfg.resend_ms)) {
        c.resend = 1;
        t->resent_at_ms = txm_now_ms();
    }
    /* New intents: signed and stored together, sent below. */
    if (rc == MR_OK && !t->halted) {
        r1 = sign_intents(t, list, n, first == MR_OK ? err : &e1);
        if (r1 != MR_OK && first == MR_OK)
            first = r1;
    }
    /* Each transaction on its own: one failing does not hold up the others. */
    for (size_t i = 0; rc == MR_OK && i < n; i++) {
        int final = 0;
        r1 = poll_one(t, &list[i], &c, &final, first == MR_OK ? err : &e1);
        if (r1 != MR_OK && first == MR_OK)
            first = r1;
        done += (size_t)final;
    }
    if (rc == MR_OK && !t->halted) {
        r1 = fill_gaps(t, c.chain_nonce, first == MR_OK ? err : &e1);
        if (r1 != MR_OK && first == MR_OK)
            first = r1;
    }
    /* What this poll learnt and sent, in one transaction. */
    memset(&m, 0, sizeof(m));
    m.reorged = c.reorged;
    m.n_reorged = c.n_reorged;
    m.included = c.included;
    m.n_included = c.n_included;
    m.final = c.final;
    m.n_final = c.n_final;
    r1 = flush_marks(t, &m, rc == MR_OK && first == MR_OK ? err : &e1);
    if (r1 != MR_OK) {
        done = 0; /* perhaps not recorded: the next poll sees them again */
        if (rc == MR_OK && first == MR_OK)
            first = r1;
    }
    free(c.reorged);
    free(c.final);
    free(c.included);
    txs_pending_free(list, n);
    if (left != NULL)
        *left = n - done;
    return rc != MR_OK ? rc : first;
}

int txm_resume(struct txm *t, struct mr_error *err)
{
    int rc = txs_resume_key(t->db, t->cfg.chain_key, signer_address(t->signer), err);

    if (rc == MR_OK)
        t->halted = 0;
    return rc;
}
