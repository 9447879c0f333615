/*
 * decide.c - the per-message state machine (mosaic-protocol.md §4.1, §5):
 * from the on-chain statuses on both sides, what the relayer already sent,
 * and whether it holds the secret, the next calls.  Pure.
 *
 *   source outbox  target inbox   hashlock path            proof path
 *   Declared       Undeclared     confirm                  confirm
 *   Declared       Declared       progress target+source   progress target+source by proof
 *   Declared       Progressed     progress source          progress source by proof
 *   Progressed     Undeclared     confirm (older height)   confirm (older height)
 *   Progressed     Declared       progress target          progress target by proof
 *   Progressed     Progressed     completed (once final)
 *   DeclaredRevoc. Undeclared     confirm (older height), then the revert path
 *   DeclaredRevoc. Declared       confirmRevert on the target (proof outbox = 3)
 *   DeclaredRevoc. Progressed     progress source by proof (inbox = 2): the target won
 *   DeclaredRevoc. Revoked        progressRevert on the source (proof inbox = 4)
 *   Revoked        Revoked        reverted (once final)
 * Anything else (an inbox ahead of its outbox) is inconsistent: halt.
 */
#include "relayer/flows/flows_int.h"

#include <stdio.h>
#include <string.h>

static const struct {
    const char *name;
    const char *stake_fn, *redeem_fn;
    int on_target;
    uint64_t gas;         /* pipelined gas bound */
    int from, from2, to;  /* the status transition on its chain */
} steps[FLOW_STEP_COUNT] = {
    /* confirm used up to 505k in a burst (ANVIL.md); 800k never ran out. */
    [FLOW_CONFIRM] = {"confirm", "confirmStakeIntent", "confirmRedeemIntent", 1, 800000,
                      MOSAIC_UNDECLARED, -1, MOSAIC_DECLARED},
    [FLOW_PROGRESS_SOURCE] = {"progress_source", "progressStake", "progressRedeem", 0, 250000,
                              MOSAIC_DECLARED, -1, MOSAIC_PROGRESSED},
    [FLOW_PROGRESS_TARGET] = {"progress_target", "progressMint", "progressUnstake", 1, 300000,
                              MOSAIC_DECLARED, -1, MOSAIC_PROGRESSED},
    [FLOW_PROGRESS_SOURCE_PROOF] = {"progress_source_proof", "progressStakeWithProof",
                                    "progressRedeemWithProof", 0, 500000, MOSAIC_DECLARED,
                                    MOSAIC_DECLARED_REVOCATION, MOSAIC_PROGRESSED},
    [FLOW_PROGRESS_TARGET_PROOF] = {"progress_target_proof", "progressMintWithProof",
                                    "progressUnstakeWithProof", 1, 500000, MOSAIC_DECLARED, -1,
                                    MOSAIC_PROGRESSED},
    [FLOW_CONFIRM_REVERT] = {"confirm_revert", "confirmRevertStakeIntent",
                             "confirmRevertRedeemIntent", 1, 400000, MOSAIC_DECLARED, -1,
                             MOSAIC_REVOKED},
    [FLOW_PROGRESS_REVERT] = {"progress_revert", "progressRevertStake", "progressRevertRedeem", 0,
                              500000, MOSAIC_DECLARED_REVOCATION, -1, MOSAIC_REVOKED},
};

const char *flow_step_name(enum flow_step s)
{
    return (unsigned)s < FLOW_STEP_COUNT ? steps[s].name : "?";
}

int flow_step_parse(const char *name)
{
    for (int i = 0; i < FLOW_STEP_COUNT; i++)
        if (strcmp(steps[i].name, name) == 0)
            return i;
    return -1;
}

const char *flow_step_function(enum mosaic_kind kind, enum flow_step s)
{
    if ((unsigned)s >= FLOW_STEP_COUNT)
        return "?";
    return kind == MOSAIC_STAKE ? steps[s].stake_fn : steps[s].redeem_fn;
}

int flow_step_on_target(enum flow_step s)
{
    return (unsigned)s < FLOW_STEP_COUNT ? steps[s].on_target : 0;
}

uint64_t flow_step_gas_bound(enum flow_step s)
{
    return (unsigned)s < FLOW_STEP_COUNT ? steps[s].gas : 0;
}

int flow_step_needs_dry_run(enum mosaic_kind kind, enum flow_step s)
{
    /* progressUnstake pays from the stake vault, which only other messages'
     * progressStake calls fill: whether it succeeds depends on calls outside
     * this message, so it is never sent unchecked (make chaos, seed 606:
     * pipelined unstakes reverted with "Insufficient balance." when a
     * redeem outran the stake backing it). */
    return kind == MOSAIC_REDEEM && (s == FLOW_PROGRESS_TARGET || s == FLOW_PROGRESS_TARGET_PROOF);
}

int flow_step_effect(enum flow_step s, int *on_target)
{
    if ((unsigned)s >= FLOW_STEP_COUNT)
        return -1;
    if (on_target != NULL)
        *on_target = steps[s].on_target;
    return steps[s].to;
}

/* A step whose transaction is in flight: its effect, if it applies to the
 * current status (a transaction racing someone else's will just fail). */
static void apply_inflight(const struct flow_facts *f, int *src, int *tgt)
{
    for (int s = 0; s < FLOW_STEP_COUNT; s++) {
        int *st = steps[s].on_target ? tgt : src;
        if (!(f->inflight & (1u << s)))
            continue;
        if (*st == steps[s].from || *st == steps[s].from2)
            *st = steps[s].to;
    }
}

static int in_set(int v, int a, int b)
{
    return v == a || v == b;
}

/* Whether step s can be recorded now; else why it waits. */
static int ready(const struct flow_facts *f, int src, enum flow_step s, char *why, size_t cap)
{
    switch (s) {
    case FLOW_CONFIRM:
        if (f->prev_pending) {
            snprintf(why, cap, "waiting for the sender's previous message on the target");
            return 0;
        }
        return 1;
    case FLOW_PROGRESS_TARGET_PROOF:
        /* The proof is of the source outbox, which is on chain. */
        return in_set(f->src_latest, MOSAIC_DECLARED, MOSAIC_PROGRESSED);
    case FLOW_PROGRESS_SOURCE_PROOF:
        /* A proof of the target inbox: only once it is on chain. */
        if (src == MOSAIC_DECLARED_REVOCATION ? f->tgt_latest == MOSAIC_PROGRESSED
                                              : in_set(f->tgt_latest, MOSAIC_DECLARED,
                                                       MOSAIC_PROGRESSED))
            return 1;
        snprintf(why, cap, "waiting for the target inbox to be mined before proving it");
        return 0;
    case FLOW_CONFIRM_REVERT:
        return f->src_latest == MOSAIC_DECLARED_REVOCATION;
    case FLOW_PROGRESS_REVERT:
        if (f->tgt_latest == MOSAIC_REVOKED)
            return 1;
        snprintf(why, cap, "waiting for the revocation on the target to be mined");
        return 0;
    default:
        return 1;
    }
}

/* An inbox ahead of its outbox: something is wrong (a reorg below an
 * acted-on event, a foreign contract, a corrupt row). */
static void halt(struct flow_decision *d, int src, int tgt)
{
    d->what = FLOW_HALT;
    d->state = "halted";
    snprintf(d->why, sizeof(d->why), "inconsistent statuses: source outbox %s, target inbox %s",
             mosaic_status_name(src), mosaic_status_name(tgt));
}

/* The steps the statuses call for, before filtering.  Returns how many;
 * 0 with d halted or with *done_latest set. */
static size_t wanted(const struct flow_facts *f, int src, int tgt, enum flow_step *w,
                     struct flow_decision *d, int *done_latest)
{
    size_t n = 0;
    int s = f->have_secret;

    *done_latest = 0;
    switch (src) {
    case MOSAIC_DECLARED:
        d->state = tgt == MOSAIC_UNDECLARED ? "confirming" : "progressing";
        if (tgt == MOSAIC_UNDECLARED) {
            w[n++] = FLOW_CONFIRM;
        } else if (tgt == MOSAIC_DECLARED) {
            /* Both progress calls together (§5.1: the first one reveals S). */
            w[n++] = s ? FLOW_PROGRESS_TARGET : FLOW_PROGRESS_TARGET_PROOF;
            w[n++] = s ? FLOW_PROGRESS_SOURCE : FLOW_PROGRESS_SOURCE_PROOF;
        } else if (tgt == MOSAIC_PROGRESSED) {
            w[n++] = s ? FLOW_PROGRESS_SOURCE : FLOW_PROGRESS_SOURCE_PROOF;
        } else {
            halt(d, src, tgt);
        }
        break;
    case MOSAIC_PROGRESSED:
        d->state = tgt == MOSAIC_UNDECLARED ? "confirming" : "progressing";
        if (tgt == MOSAIC_UNDECLARED)
            w[n++] = FLOW_CONFIRM;
        else if (tgt == MOSAIC_DECLARED)
            w[n++] = s ? FLOW_PROGRESS_TARGET : FLOW_PROGRESS_TARGET_PROOF;
        else if (tgt == MOSAIC_PROGRESSED)
            *done_latest = 1;
        else
            halt(d, src, tgt);
        break;
    case MOSAIC_DECLARED_REVOCATION:
        d->state = "reverting";
        if (!f->revert_enabled) {
            d->what = FLOW_WAIT;
            snprintf(d->why, sizeof(d->why), "revocation declared; the revert flow is disabled");
            return 0;
        }
        if (tgt == MOSAIC_UNDECLARED)
            w[n++] = FLOW_CONFIRM;
        else if (tgt == MOSAIC_DECLARED)
            w[n++] = FLOW_CONFIRM_REVERT;
        else if (tgt == MOSAIC_PROGRESSED)
            w[n++] = FLOW_PROGRESS_SOURCE_PROOF; /* the target won the race (§5.3) */
        else if (tgt == MOSAIC_REVOKED)
            w[n++] = FLOW_PROGRESS_REVERT;
        else
            halt(d, src, tgt);
        break;
    case MOSAIC_REVOKED:
        d->state = "reverting";
        if (tgt == MOSAIC_REVOKED)
            *done_latest = 1;
        else
            halt(d, src, tgt);
        break;
    default:
        halt(d, src, tgt);
        break;
    }
    return n;
}

void flow_decide(const struct flow_facts *f, struct flow_decision *d)
{
    enum flow_step w[4];
    char why[160] = "";
    int src = f->src_latest, tgt = f->tgt_latest, done_latest = 0;
    size_t n;

    memset(d, 0, sizeof(*d));
    if (f->src_final == MOSAIC_PROGRESSED && f->tgt_final == MOSAIC_PROGRESSED) {
        d->what = FLOW_DONE;
        d->terminal = d->state = "completed";
        return;
    }
    if (f->src_final == MOSAIC_REVOKED && f->tgt_final == MOSAIC_REVOKED) {
        d->what = FLOW_DONE;
        d->terminal = d->state = "reverted";
        return;
    }
    apply_inflight(f, &src, &tgt);
    d->what = FLOW_WAIT;
    n = wanted(f, src, tgt, w, d, &done_latest);
    if (d->what == FLOW_HALT || (n == 0 && d->why[0] != '\0'))
        return;
    if (done_latest) {
        snprintf(d->why, sizeof(d->why), "%s",
                 f->inflight ? "waiting for our transactions to be mined"
                             : "done at the head; waiting for finality");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (f->inflight & (1u << w[i]))
            continue;
        if (f->failed[w[i]] >= FLOW_MAX_FAILS) {
            d->what = FLOW_HALT;
            d->state = "halted";
            d->n = 0;
            snprintf(d->why, sizeof(d->why), "%s reverted %d times",
                     flow_step_function(f->kind, w[i]), f->failed[w[i]]);
            return;
        }
        if (!ready(f, src, w[i], why, sizeof(why)))
            continue;
        d->steps[d->n++] = w[i];
    }
    if (d->n > 0) {
        d->what = FLOW_SEND;
        return;
    }
    if (why[0] != '\0')
        snprintf(d->why, sizeof(d->why), "%s", why);
    else
        snprintf(d->why, sizeof(d->why), "waiting for our transactions to be mined");
}
