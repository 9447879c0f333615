/*
 * progress.c - where one message stands, and how to show it (see progress.h).
 */
#include "relayer/progress.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "db/db.h"
#include "eth/hex.h"
#include "eth/mosaic.h"

/* Per step: the name, and the stake / redeem event (or call) that marks it. */
static const struct {
    const char *stake_name, *redeem_name;
    const char *stake_event, *redeem_event;
} step_table[PSTEP_COUNT] = {
    [PSTEP_DECLARED] = {"declared", "declared", "StakeIntentDeclared", "RedeemIntentDeclared"},
    [PSTEP_ANCHORED] = {"anchored", "anchored", "StateRootAvailable", "StateRootAvailable"},
    [PSTEP_PROVEN] = {"proven", "proven", "GatewayProven", "GatewayProven"},
    [PSTEP_CONFIRMED] = {"confirmed", "confirmed", "StakeIntentConfirmed", "RedeemIntentConfirmed"},
    [PSTEP_PROGRESSED_SOURCE] = {"progressed (stake)", "progressed (redeem)", "StakeProgressed",
                                 "RedeemProgressed"},
    [PSTEP_PROGRESSED_TARGET] = {"progressed (mint)", "progressed (unstake)", "MintProgressed",
                                 "UnstakeProgressed"},
    [PSTEP_REVERT_DECLARED] = {"revert declared", "revert declared", "RevertStakeIntentDeclared",
                               "RevertRedeemDeclared"},
    [PSTEP_REVERT_CONFIRMED] = {"revert confirmed", "revert confirmed",
                                "RevertStakeIntentConfirmed", "RevertRedeemIntentConfirmed"},
    [PSTEP_REVERTED] = {"reverted", "reverted", "StakeReverted", "RedeemReverted"},
};

const char *progress_step_name(enum progress_step step, int is_redeem)
{
    if ((unsigned)step >= PSTEP_COUNT)
        return "?";
    return is_redeem ? step_table[step].redeem_name : step_table[step].stake_name;
}

const char *progress_step_event(enum progress_step step, int is_redeem)
{
    if ((unsigned)step >= PSTEP_COUNT)
        return "?";
    return is_redeem ? step_table[step].redeem_event : step_table[step].stake_event;
}

int progress_step_of_event(const char *kind, int is_redeem)
{
    for (int s = 0; s < PSTEP_COUNT; s++) {
        if (s == PSTEP_ANCHORED || s == PSTEP_PROVEN)
            continue; /* not events about the message */
        if (strcmp(kind, progress_step_event((enum progress_step)s, is_redeem)) == 0)
            return s;
    }
    return -1;
}

enum progress_outcome progress_outcome(const struct progress_view *v)
{
    if (!v->found)
        return PROGRESS_PENDING;
    if (strcmp(v->state, "halted") == 0 || strcmp(v->state, "refused") == 0)
        return PROGRESS_STOPPED;
    if ((v->steps[PSTEP_PROGRESSED_SOURCE].done && v->steps[PSTEP_PROGRESSED_TARGET].done) ||
        (strcmp(v->state, "completed") == 0 && !v->behind_chain[0]))
        return PROGRESS_COMPLETED;
    if (v->steps[PSTEP_REVERTED].done || (strcmp(v->state, "reverted") == 0 && !v->behind_chain[0]))
        return PROGRESS_REVERTED;
    return PROGRESS_PENDING;
}

/* Appends to out[cap] at *len, keeping it NUL-terminated and truncated. */
static void append(char *out, size_t cap, size_t *len, const char *fmt, ...) MR_PRINTF(4, 5);

static void append(char *out, size_t cap, size_t *len, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (cap == 0 || *len >= cap - 1)
        return;
    va_start(ap, fmt);
    n = vsnprintf(out + *len, cap - *len, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    *len += (size_t)n;
    if (*len > cap - 1)
        *len = cap - 1;
}

size_t progress_format_step(const struct progress_view *v, enum progress_step step, char *out,
                            size_t cap)
{
    const struct progress_step_info *s = &v->steps[step];
    char blk[24] = "-", tx[67] = "-";
    size_t len = 0;

    if (cap > 0)
        out[0] = '\0';
    if (s->has_block)
        snprintf(blk, sizeof(blk), "%llu", (unsigned long long)s->block);
    if (s->has_tx)
        hex_encode_data(s->tx_hash, 32, tx, sizeof(tx));
    append(out, cap, &len, "%-20s %-10s block %-9s tx %-66s %-19s %s",
           progress_step_name(step, v->is_redeem), s->chain[0] ? s->chain : "-", blk, tx,
           s->at[0] ? s->at : "-", progress_step_event(step, v->is_redeem));
    if ((step == PSTEP_ANCHORED || step == PSTEP_PROVEN) && s->has_height)
        append(out, cap, &len, " (%s at height %llu)", v->source[0] ? v->source : "source",
               (unsigned long long)s->height);
    return len;
}

/* The call that makes a step happen, for "waiting for" messages. */
static const char *step_call(enum progress_step step, int is_redeem)
{
    static const char *const stake[PSTEP_COUNT] = {
        "stake", "anchorStateRoot", "proveGateway", "confirmStakeIntent", "progressStake",
        "progressMint", "revertStake", "confirmRevertStakeIntent", "progressRevertStake"};
    static const char *const redeem[PSTEP_COUNT] = {
        "redeem", "anchorStateRoot", "proveGateway", "confirmRedeemIntent", "progressRedeem",
        "progressUnstake", "revertRedeem", "confirmRevertRedeemIntent", "progressRevertRedeem"};

    return is_redeem ? redeem[step] : stake[step];
}

size_t progress_waiting_for(const struct progress_view *v, char *out, size_t cap)
{
    const struct progress_step_info *st = v->steps;
    int r = v->is_redeem;
    size_t len = 0;

    if (cap > 0)
        out[0] = '\0';
    if (!v->found) {
        append(out, cap, &len, "the relayer to record the declaration (is `mosaic-relayer run` "
               "running?)");
        return len;
    }
    if (progress_outcome(v) != PROGRESS_PENDING)
        return 0;
    if (strcmp(v->state, "held") == 0) {
        append(out, cap, &len, "an operator: held (%s); `mosaic-relayer message release` lets it "
               "go on", v->held_reason[0] ? v->held_reason : "?");
        return len;
    }
    if (v->behind_chain[0]) {
        append(out, cap, &len, "the watcher of %s to record block %llu (the message %s on chain)",
               v->behind_chain, (unsigned long long)v->behind_block,
               strcmp(v->state, "reverted") == 0 ? "was reverted" : "completed");
        return len;
    }
    if (st[PSTEP_REVERT_DECLARED].done) {
        if (!st[PSTEP_REVERT_CONFIRMED].done && !st[PSTEP_PROGRESSED_TARGET].done)
            append(out, cap, &len, "%s on %s", step_call(PSTEP_REVERT_CONFIRMED, r), v->target);
        else if (st[PSTEP_REVERT_CONFIRMED].done)
            append(out, cap, &len, "%s on %s", step_call(PSTEP_REVERTED, r), v->source);
        else
            append(out, cap, &len, "%s on %s", step_call(PSTEP_PROGRESSED_SOURCE, r), v->source);
        return len;
    }
    if (st[PSTEP_CONFIRMED].done || st[PSTEP_PROGRESSED_SOURCE].done ||
        st[PSTEP_PROGRESSED_TARGET].done) {
        if (!st[PSTEP_PROGRESSED_SOURCE].done && !st[PSTEP_PROGRESSED_TARGET].done)
            append(out, cap, &len, "%s on %s and %s on %s", step_call(PSTEP_PROGRESSED_SOURCE, r),
                   v->source, step_call(PSTEP_PROGRESSED_TARGET, r), v->target);
        else if (!st[PSTEP_PROGRESSED_SOURCE].done)
            append(out, cap, &len, "%s on %s", step_call(PSTEP_PROGRESSED_SOURCE, r), v->source);
        else
            append(out, cap, &len, "%s on %s", step_call(PSTEP_PROGRESSED_TARGET, r), v->target);
    } else if (st[PSTEP_PROVEN].done) {
        append(out, cap, &len, "%s on %s", step_call(PSTEP_CONFIRMED, r), v->target);
    } else if (st[PSTEP_ANCHORED].done) {
        append(out, cap, &len, "proveGateway on %s at height %llu", v->target,
               (unsigned long long)st[PSTEP_ANCHORED].height);
    } else {
        append(out, cap, &len, "an anchor of %s's state root at a height >= %llu on %s "
               "(once that block is final)", v->source, (unsigned long long)v->declared_block,
               v->target);
    }
    return len;
}

int progress_print_new(const struct progress_view *v, unsigned *shown, FILE *out)
{
    char line[320];
    int n = 0;

    for (int s = 0; s < PSTEP_COUNT; s++) {
        if (!v->steps[s].done || (*shown & (1u << s)))
            continue;
        progress_format_step(v, (enum progress_step)s, line, sizeof(line));
        fprintf(out, "  %s\n", line);
        *shown |= 1u << s;
        n++;
    }
    return n;
}

void progress_print_view(const struct progress_view *v, FILE *out)
{
    char hash[67], line[320];
    int reverting = 0;

    hex_encode_data(v->message_hash, 32, hash, sizeof(hash));
    fprintf(out, "message        %s\n", hash);
    if (!v->found) {
        fprintf(out, "not recorded by the relayer (yet)\n");
        return;
    }
    fprintf(out, "flow           %s (pair %s: %s -> %s)\n", v->is_redeem ? "redeem" : "stake",
            v->pair, v->source, v->target);
    fprintf(out, "amount         %s\n", v->amount);
    fprintf(out, "state          %s\n", v->state);
    fprintf(out, "on chain       %s outbox %s, %s inbox %s\n", v->source,
            mosaic_status_name(v->source_status), v->target, mosaic_status_name(v->target_status));
    fprintf(out, "declared at    block %llu on %s\n", (unsigned long long)v->declared_block,
            v->source);
    if (v->halted_reason[0])
        fprintf(out, "stopped        %s\n", v->halted_reason);
    if (v->held_reason[0])
        fprintf(out, "%-14s %s since %s: %s\n", strcmp(v->state, "held") == 0 ? "held" : "was held",
                v->held_reason, v->held_at, v->held_detail);
    if (v->released_at[0])
        fprintf(out, "released       %s by %s%s%s\n", v->released_at, v->released_by,
                v->release_note[0] ? ": " : "", v->release_note);
    fprintf(out, "steps:\n");
    for (int s = PSTEP_REVERT_DECLARED; s < PSTEP_COUNT; s++)
        reverting |= v->steps[s].done;
    for (int s = 0; s < PSTEP_COUNT; s++) {
        if (s >= PSTEP_FORWARD && !reverting)
            break;
        if (v->steps[s].done) {
            progress_format_step(v, (enum progress_step)s, line, sizeof(line));
            fprintf(out, "  %s\n", line);
        } else {
            fprintf(out, "  %-20s (not yet)\n", progress_step_name((enum progress_step)s,
                                                               v->is_redeem));
        }
    }
    progress_waiting_for(v, line, sizeof(line));
    if (line[0])
        fprintf(out, "waiting for    %s\n", line);
}

/* ---- database ---- */

/* Copies a text column into out[cap] (truncated). */
static void col_text(const PGresult *res, int row, int col, char *out, size_t cap)
{
    snprintf(out, cap, "%s", PQgetisnull(res, row, col) ? "" : PQgetvalue(res, row, col));
}

/* A non-negative bigint column; 0 and *has = 0 if NULL or malformed. */
static uint64_t col_u64(const PGresult *res, int row, int col, int *has)
{
    const char *s = PQgetvalue(res, row, col);
    char *end;
    unsigned long long v;

    *has = 0;
    if (PQgetisnull(res, row, col) || s[0] < '0' || s[0] > '9')
        return 0;
    v = strtoull(s, &end, 10);
    if (*end != '\0')
        return 0;
    *has = 1;
    return (uint64_t)v;
}

static int load_message(PGconn *conn, const char *const *params, const int *lens,
                        const int *fmts, struct progress_view *v, struct mr_error *err)
{
    PGresult *res = PQexecParams(
        conn,
        "SELECT m.flow, m.gateway_pair, m.source_chain, m.target_chain, m.state,"
        " m.source_status, m.target_status, m.declared_block, m.amount::text,"
        " coalesce(m.halted_reason, ''),"
        /* Where the watchers stand against the blocks of our last calls. */
        " m.source_done_block, (SELECT c.cursor_block FROM mosaic_dash.chains c"
        "  WHERE c.chain_key = m.source_chain),"
        " greatest(m.confirmed_block, m.target_done_block), (SELECT c.cursor_block"
        "  FROM mosaic_dash.chains c WHERE c.chain_key = m.target_chain),"
        " coalesce(m.held_reason, ''), coalesce(m.held_detail, ''),"
        " coalesce(to_char(m.held_at, 'YYYY-MM-DD HH24:MI:SS'), ''),"
        " coalesce(to_char(m.released_at, 'YYYY-MM-DD HH24:MI:SS'), ''),"
        " coalesce(m.released_by, ''), coalesce(m.release_note, '')"
        " FROM mosaic_dash.messages m WHERE m.message_hash = $1::bytea",
        1, NULL, params, lens, fmts, 0);
    int rc = db_check(res, PGRES_TUPLES_OK, "reading the message", err), has;

    if (rc == MR_OK && PQntuples(res) == 1) {
        v->found = 1;
        v->is_redeem = strcmp(PQgetvalue(res, 0, 0), "redeem") == 0;
        col_text(res, 0, 1, v->pair, sizeof(v->pair));
        col_text(res, 0, 2, v->source, sizeof(v->source));
        col_text(res, 0, 3, v->target, sizeof(v->target));
        col_text(res, 0, 4, v->state, sizeof(v->state));
        v->source_status = (int)col_u64(res, 0, 5, &has);
        v->target_status = (int)col_u64(res, 0, 6, &has);
        v->declared_block = col_u64(res, 0, 7, &has);
        col_text(res, 0, 8, v->amount, sizeof(v->amount));
        col_text(res, 0, 9, v->halted_reason, sizeof(v->halted_reason));
        col_text(res, 0, 14, v->held_reason, sizeof(v->held_reason));
        col_text(res, 0, 15, v->held_detail, sizeof(v->held_detail));
        col_text(res, 0, 16, v->held_at, sizeof(v->held_at));
        col_text(res, 0, 17, v->released_at, sizeof(v->released_at));
        col_text(res, 0, 18, v->released_by, sizeof(v->released_by));
        col_text(res, 0, 19, v->release_note, sizeof(v->release_note));
        if (strcmp(v->state, "completed") == 0 || strcmp(v->state, "reverted") == 0) {
            /* Source first: its declaration's side is read first too. */
            for (int side = 0; side < 2 && !v->behind_chain[0]; side++) {
                int has_done = 0, has_cursor = 0;
                uint64_t done = col_u64(res, 0, 10 + 2 * side, &has_done);
                uint64_t cursor = col_u64(res, 0, 11 + 2 * side, &has_cursor);
                if (has_done && (!has_cursor || cursor < done)) {
                    snprintf(v->behind_chain, sizeof(v->behind_chain), "%s",
                             side == 0 ? v->source : v->target);
                    v->behind_block = done;
                }
            }
        }
    }
    PQclear(res);
    return rc;
}

static int load_steps(PGconn *conn, const char *const *params, const int *lens, const int *fmts,
                      struct progress_view *v, struct mr_error *err)
{
    PGresult *res = PQexecParams(
        conn,
        "SELECT step_order, chain_key, tx_hash, block_number, height,"
        " coalesce(to_char(at, 'YYYY-MM-DD HH24:MI:SS'), '')"
        " FROM mosaic_dash.message_steps WHERE message_hash = $1::bytea"
        " ORDER BY step_order, block_number NULLS LAST",
        1, NULL, params, lens, fmts, 0);
    int rc = db_check(res, PGRES_TUPLES_OK, "reading the message's steps", err);

    for (int i = 0; rc == MR_OK && i < PQntuples(res); i++) {
        int has = 0;
        uint64_t order = col_u64(res, i, 0, &has);
        struct progress_step_info *s;
        const char *tx;
        if (!has || order < 1 || order > PSTEP_COUNT)
            continue;
        s = &v->steps[order - 1];
        if (s->done)
            continue; /* the first (lowest block) of a step counts */
        s->done = 1;
        col_text(res, i, 1, s->chain, sizeof(s->chain));
        tx = PQgetvalue(res, i, 2);
        s->has_tx = !PQgetisnull(res, i, 2) &&
                    hex_decode_fixed(tx, strlen(tx), s->tx_hash, 32, NULL) == MR_OK;
        s->block = col_u64(res, i, 3, &s->has_block);
        s->height = col_u64(res, i, 4, &s->has_height);
        col_text(res, i, 5, s->at, sizeof(s->at));
    }
    PQclear(res);
    return rc;
}

int progress_load(PGconn *conn, const uint8_t mh[32], struct progress_view *v,
                  struct mr_error *err)
{
    const char *params[1] = {(const char *)mh};
    const int lens[1] = {32}, fmts[1] = {1};
    int rc;

    memset(v, 0, sizeof(*v));
    memcpy(v->message_hash, mh, 32);
    rc = load_message(conn, params, lens, fmts, v, err);
    if (rc == MR_OK && v->found)
        rc = load_steps(conn, params, lens, fmts, v, err);
    return rc;
}
