/*
 * progress.h - where one Mosaic message stands: every step with its chain,
 * transaction, block and time, read from the relayer's database, and how
 * to show it (`message show`, and the live display of `stake` / `redeem`).
 *
 * The steps of a message (mosaic-protocol.md §5.1, §5.4; reverts §5.3, §5.5),
 * for a stake (origin -> auxiliary) and a redeem (auxiliary -> origin):
 *
 *   step                 chain    stake event               redeem event
 *   declared             source   StakeIntentDeclared       RedeemIntentDeclared
 *   anchored             target   StateRootAvailable (the first source root at a height >= the
 *                                 declaration's block, or the message's anchor height)
 *   proven               target   GatewayProven at that height
 *   confirmed            target   StakeIntentConfirmed      RedeemIntentConfirmed
 *   progressed (source)  source   StakeProgressed           RedeemProgressed
 *   progressed (target)  target   MintProgressed            UnstakeProgressed
 *   revert declared      source   RevertStakeIntentDeclared RevertRedeemDeclared
 *   revert confirmed     target   RevertStakeIntentConfirmed RevertRedeemIntentConfirmed
 *   reverted             source   StakeReverted             RedeemReverted
 *
 * Everything is read from the views of mosaic_dash (0009_message_steps.sql),
 * so the commands work with the dashboards' read-only role too, and never
 * see a secret.  The rendering functions are pure (no I/O but the FILE the
 * caller gives) and tested on hand-made views.
 */
#ifndef MR_PROGRESS_H
#define MR_PROGRESS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <libpq-fe.h>

#include "eth/error.h"

enum progress_step {
    PSTEP_DECLARED = 0,
    PSTEP_ANCHORED,
    PSTEP_PROVEN,
    PSTEP_CONFIRMED,
    PSTEP_PROGRESSED_SOURCE,
    PSTEP_PROGRESSED_TARGET,
    PSTEP_REVERT_DECLARED,
    PSTEP_REVERT_CONFIRMED,
    PSTEP_REVERTED,
    PSTEP_COUNT
};

/* The forward steps (a message that completes normally has all six). */
#define PSTEP_FORWARD 6

#define PROGRESS_KEY_LEN 33    /* chain keys and pair names: 32 chars + NUL */
#define PROGRESS_TIME_LEN 32   /* "YYYY-MM-DD HH:MM:SS" */

struct progress_step_info {
    int done;
    char chain[PROGRESS_KEY_LEN];
    int has_tx;
    uint8_t tx_hash[32];
    int has_block;
    uint64_t block;
    char at[PROGRESS_TIME_LEN];    /* when the relayer recorded it; "" if unknown */
    int has_height;
    uint64_t height;               /* anchored / proven: the source height */
};

/* A message as the database knows it.  A plain value. */
struct progress_view {
    uint8_t message_hash[32];
    int found;                     /* the watcher has recorded the message */
    int is_redeem;                 /* flow: 0 stake, 1 redeem */
    char pair[PROGRESS_KEY_LEN];
    char source[PROGRESS_KEY_LEN];
    char target[PROGRESS_KEY_LEN];
    char state[16];                /* the relayer's state (messages.state) */
    int source_status, target_status; /* MessageBus statuses, §4.1 */
    uint64_t declared_block;
    char amount[80];               /* decimal wei */
    char halted_reason[160];       /* "" unless halted or refused */
    /* The value limits (0010_limits.sql): why it was (last) held, and its
     * release; "" when never held / released. */
    char held_reason[16];          /* per_message, per_hour, min_bounty, operator */
    char held_detail[400];
    char held_at[PROGRESS_TIME_LEN];
    char released_at[PROGRESS_TIME_LEN];
    char released_by[65];
    char release_note[201];
    /* The relayer's state says the message ended (completed, reverted)
     * from the statuses it read on chain, but the watcher of this chain has
     * not recorded the blocks up to `behind_block`, where our last call of
     * the message there was mined: its steps there are not all in the
     * views yet.  "" when every chain is recorded that far (or the blocks
     * are unknown: the calls were someone else's). */
    char behind_chain[PROGRESS_KEY_LEN];
    uint64_t behind_block;
    struct progress_step_info steps[PSTEP_COUNT];
};

/* How a message ended, or that it has not.  The relayer's state alone
 * ends it only once the watchers have recorded it (behind_chain ""): a
 * display that stopped earlier would never show the steps recorded later. */
enum progress_outcome {
    PROGRESS_PENDING = 0,
    PROGRESS_COMPLETED,            /* progressed on both chains */
    PROGRESS_REVERTED,             /* revoked on both chains */
    PROGRESS_STOPPED               /* the relayer halted or refused it */
};

/* ---- pure ---- */

/* The step's name for the flow: "declared", "anchored", "progressed (mint)".
 * Static string. */
const char *progress_step_name(enum progress_step step, int is_redeem);

/* The event (or "anchorStateRoot" / "proveGateway") that marks the step. */
const char *progress_step_event(enum progress_step step, int is_redeem);

/* Which step an event of kind `kind` is for this flow, or -1. */
int progress_step_of_event(const char *kind, int is_redeem);

enum progress_outcome progress_outcome(const struct progress_view *v);

/* One line (no newline) for a done step into out[cap]:
 *   "declared            origin  block 12       tx 0x<64>  2024-05-01 12:00:01  StakeIntentDeclared"
 * Returns the length (truncated to cap - 1). */
size_t progress_format_step(const struct progress_view *v, enum progress_step step, char *out,
                            size_t cap);

/* What the message waits for, in words, into out[cap] ("" when it has
 * ended): e.g. "an anchor of origin's state root at a height >= 12 on
 * aux1". */
size_t progress_waiting_for(const struct progress_view *v, char *out, size_t cap);

/* Prints the steps of v that are done and not yet in *shown (a bit per
 * step), in the order of the flow, and adds them to *shown.  Returns how
 * many were printed. */
int progress_print_new(const struct progress_view *v, unsigned *shown, FILE *out);

/* The whole message: fields, then every step (done or not). */
void progress_print_view(const struct progress_view *v, FILE *out);

/* ---- database ---- */

/* Loads message `mh` from the mosaic_dash views.  Out: *v (v->found = 0
 * when no such message is recorded yet).  Returns MR_OK or MR_ERR_IO. */
int progress_load(PGconn *conn, const uint8_t mh[32], struct progress_view *v,
                  struct mr_error *err);

#endif /* MR_PROGRESS_H */
