/*
 * deploy.h - `mosaic-relayer deploy`: the Mosaic contract set for every
 * (origin, auxiliary) pair of the config's `deploy.pairs`, through the
 * transaction manager.
 *
 * The plan (mosaic-protocol.md §5.0), as named steps with dependencies:
 *   on each chain      libraries (as the artifacts' link references ask),
 *                      <chain>.organization: Organization(owner, admin,
 *                        [worker], far expiry), owner = deploy.owner or the
 *                        deployer, admin = the deploy.admin key, worker = the
 *                        `facilitator` key (else the deployer),
 *                      <chain>.anchor.<remote>: Anchor(remote chain id, h,
 *                        stateRoot(h), max_state_roots, organization) with h
 *                        the remote chain's finalized block (> 0);
 *   on origin          <pair>.value_token, <pair>.base_token (EIP20Token, or
 *                        the configured addresses), <pair>.gateway:
 *                        EIP20Gateway(value, base, anchor, bounty, org,
 *                        burner 0, max_storage_root_items);
 *   on the auxiliary   <pair>.utility_token: UtilityToken(value, symbol,
 *                        name, decimals, org), <pair>.cogateway:
 *                        EIP20CoGateway(value, utility, anchor, bounty, org,
 *                        gateway, burner 0, max_storage_root_items);
 *                      (gateway artifacts with Mosaic 0.10.0's constructors,
 *                        which lack max_storage_root_items, get no such
 *                        argument: see contracts/build.mjs, v010);
 *   then               <pair>.setCoGateway, <pair>.activateGateway and each
 *                        anchor's setCoAnchorAddress (sent by the owner when
 *                        it is the deployer, else by the admin key).
 * Steps whose dependencies are mined are sent together (consecutive nonces),
 * so the whole set takes a handful of blocks; the run ends when every
 * transaction it sent is final, then writes the run config.
 *
 * Idempotent and resumable: each completed step is recorded in the state
 * file (relayer/deploy_state.h) and skipped next time once its address is
 * found to hold the artifact's code (eth_getCode); a setup call is skipped
 * when the chain already shows its effect; a transaction that was sent but
 * not recorded (the process died) is found again in the transaction
 * manager's table by its purpose ("deploy <step>") and followed instead of
 * sending a new one.
 */
#ifndef MR_DEPLOY_H
#define MR_DEPLOY_H

#include <stdint.h>
#include <stdio.h>

#include "eth/error.h"
#include "relayer/config.h"

struct deploy_opts {
    const char *contracts_dir;  /* NULL: $MOSAIC_CONTRACTS_DIR, else build/contracts */
    FILE *progress;             /* one line per step; NULL: quiet */
    int64_t wait_ms;            /* longest wait for a transaction or a finalized block; 0: 600 s */
    int64_t poll_ms;            /* between polls; 0: 250 ms */
};

struct deploy_report {
    size_t steps;               /* in the plan */
    size_t sent;                /* transactions this run sent or followed */
    size_t skipped;             /* steps found done */
    uint64_t gas_used;          /* by the transactions of this run */
};

/* Deploys what cfg->deploy asks for (see above).  Out: *rep (may be NULL).
 * Errors are one line naming the chain, endpoint, key or step:
 * unreachable endpoint, wrong chain id, a key without enough funds, a
 * configured or recorded address that holds other code, a missing
 * artifact, a reverted transaction. */
int deploy_run(const struct config *cfg, const struct deploy_opts *opts, struct deploy_report *rep,
               struct mr_error *err);

#endif /* MR_DEPLOY_H */
