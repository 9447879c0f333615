/*
 * mosaicnet.h - a gateway pair of our contracts on the suite's two anvil
 * chains, and the steps of the Mosaic flows (mosaic-protocol.md section 5)
 * for the contract tests: deployment (section 5.0), transactions with gas
 * lines, relaying a gateway status from one chain to the other (anchor the
 * source state root, prove the source gateway's account, keep the storage
 * proof for the confirm), and the C verifier against the contract's
 * MerklePatriciaProof library on every proof relayed.
 *
 * Every call fails the current cmocka test on an unexpected outcome.  Each
 * mn_setup() deploys fresh contracts and fresh random accounts, so tests do
 * not depend on each other or on other programs using the same chains.
 */
#ifndef MR_MOSAICNET_H
#define MR_MOSAICNET_H

#include <stddef.h>
#include <stdint.h>

#include "chain/ethrpc.h"
#include "eth/abi.h"
#include "eth/mosaic.h"
#include "eth/mpt.h"
#include "eth/u256.h"
#include "tests/lib/chainlib.h"

#define MN_MAX_STORAGE_ROOTS 100 /* the gateways' ring buffers (deploy tool default) */
#define MN_MAX_STATE_ROOTS 10    /* the anchors' ring buffers (deploy tool default) */

/* Everything deployed by one run, and its actors. */
struct mn_net {
    struct cl_chain o, a;
    /* actors (o_ on origin, a_ on auxiliary) */
    uint8_t o_owner[20], a_owner[20];      /* deployers, organization owners */
    uint8_t o_fac[20], a_fac[20];          /* the facilitator */
    uint8_t staker[20];                    /* origin */
    uint8_t redeemer[20];                  /* auxiliary: the mint's beneficiary */
    /* contracts */
    uint8_t o_mpp[20], a_mpp[20];
    uint8_t vt[20], bt[20], ut[20];
    uint8_t o_org[20], a_org[20];
    uint8_t o_anchor[20], a_anchor[20];
    uint8_t gw[20], cgw[20], vault[20];
    uint8_t burner[20];                    /* of both gateways */
    struct u256 bounty;
};

/* What the target chain needs to trust one status of the source gateway. */
struct mn_proven {
    uint64_t height;
    uint8_t state_root[32];
    uint8_t account[128];     /* RLP([nonce, balance, storageRoot, codeHash]) */
    size_t account_len;
    uint8_t *account_nodes;   /* RLP list of the account proof's nodes (malloc'd) */
    size_t account_nodes_len;
    uint8_t *storage_nodes;   /* RLP list of the storage proof's nodes (malloc'd) */
    size_t storage_nodes_len;
};

/* One message of a test: its fields, secret and hash. */
struct mn_msg {
    struct u256 amount, gas_price, gas_limit;
    uint64_t nonce;
    uint8_t beneficiary[20];
    uint8_t secret[32], hashlock[32];
    uint8_t mh[32];
};

/* Deploys the full set on both chains (burner: the gateways' burner, may
 * be all zeros) and checks the wiring. */
void mn_setup(struct mn_net *n, const uint8_t burner[20]);
void mn_teardown(struct mn_net *n);

/* Prints "gas: <call> <n>". */
void mn_gas_line(const char *call, uint64_t gas);

/* Sends sig(args) from `from` to `to` with value (may be NULL); prints the
 * gas as `label` unless NULL.  Out: *r (ethrpc_receipt_free) unless r is
 * NULL.  Returns the gas used. */
uint64_t mn_tx(struct cl_chain *c, const char *label, const uint8_t from[20],
               const uint8_t to[20], const struct u256 *value, const char *sig,
               const struct abi_value *args, size_t n, struct eth_receipt *r);
/* The same call must revert with a reason containing `reason`. */
void mn_expect_revert(struct cl_chain *c, const char *what, const uint8_t from[20],
                      const uint8_t to[20], const struct u256 *value, const char *sig,
                      const struct abi_value *args, size_t n, const char *reason);

/* Views returning one word; view_mh passes one bytes32. */
struct u256 mn_view(struct cl_chain *c, const uint8_t to[20], const char *sig,
                    const struct abi_value *args, size_t n);
struct u256 mn_view_mh(struct cl_chain *c, const uint8_t to[20], const char *sig,
                       const uint8_t mh[32]);
uint64_t mn_u64(struct u256 v);
void mn_word_address(const struct u256 *w, uint8_t out[20]);
/* Data word i of a log; the first log of `event` by `address` in r. */
struct u256 mn_log_word(const struct eth_log *l, size_t i);
const struct eth_log *mn_need_log(const struct eth_receipt *r, const uint8_t address[20],
                                  const char *event);
void mn_token_transfer(struct cl_chain *c, const uint8_t token[20], const uint8_t from[20],
                       const uint8_t to[20], struct u256 amount);
void mn_token_approve(struct cl_chain *c, const uint8_t token[20], const uint8_t owner[20],
                      const uint8_t spender[20], struct u256 amount);
/* Native coins a receipt spent on gas. */
struct u256 mn_gas_cost(const struct eth_receipt *r);

/* ---- proofs ---- */

/* MerklePatriciaProof.verify by eth_call (a revert counts as false), and
 * our C verifier on the same question. */
int mn_contract_verdict(struct cl_chain *c, const uint8_t mpp[20], const uint8_t value[32],
                        const uint8_t *path, size_t path_len, const uint8_t *proof,
                        size_t proof_len, const uint8_t root[32]);
int mn_c_verdict(const uint8_t value[32], const uint8_t *path, size_t path_len,
                 const uint8_t *proof, size_t proof_len, const uint8_t root[32]);
/* nodes[n] as an RLP list of raw nodes (the contracts' _rlpParentNodes).
 * Out: *len.  Returns a malloc'd buffer (caller frees). */
uint8_t *mn_encode_nodes(const struct mpt_node *nodes, size_t n, size_t *len);
/* Both verifiers accept the proof and refuse tampered copies. */
void mn_differential(struct cl_chain *c, const uint8_t mpp[20], const uint8_t value[32],
                     const uint8_t path[32], const uint8_t *proof, size_t proof_len,
                     const uint8_t root[32]);
/* eth_getProof of gateway's slot on src at height, checked by the C
 * verifier to hold `status`.  Out: *p (mn_proven_free). */
void mn_fetch_proof(struct cl_chain *src, const uint8_t gateway[20], const uint8_t slot[32],
                    uint64_t height, enum mosaic_status status, struct mn_proven *p);
void mn_proven_free(struct mn_proven *p);
/* Anchors p's state root into `anchor` on dst (as `owner`) and proves the
 * source gateway's account into `target_gw` (as `fac`); both proofs go
 * through mn_differential first.  `suffix` is appended to the gas labels. */
void mn_anchor_and_prove(struct cl_chain *dst, const uint8_t owner[20], const uint8_t fac[20],
                         const uint8_t anchor[20], const uint8_t target_gw[20],
                         const uint8_t mpp[20], const uint8_t source_gw[20],
                         const uint8_t slot[32], enum mosaic_status status,
                         const struct mn_proven *p, const char *suffix);

/* Relays the status of mh in the origin gateway's outbox (slot 9) or inbox
 * (slot 10) at `height` to the co-gateway (mn_relay_to_aux), or the
 * co-gateway's to the gateway (mn_relay_to_origin).  Out: *p with the
 * storage proof for the call that uses it. */
void mn_relay_to_aux(struct mn_net *n, const uint8_t mh[32], int inbox, enum mosaic_status status,
                     uint64_t height, const char *suffix, struct mn_proven *p);
void mn_relay_to_origin(struct mn_net *n, const uint8_t mh[32], int inbox,
                        enum mosaic_status status, uint64_t height, const char *suffix,
                        struct mn_proven *p);

/* ---- messages ---- */

/* reward = gasPrice * min(gasConsumed recorded in messages(mh), gasLimit). */
struct u256 mn_expected_reward(struct cl_chain *c, const uint8_t target_gw[20],
                               const uint8_t mh[32], struct u256 gp, struct u256 gl);
/* A message with a fresh random secret. */
void mn_new_msg(struct mn_msg *m, uint64_t nonce, struct u256 amount, uint64_t gp, uint64_t gl,
                const uint8_t beneficiary[20]);
/* The message hash as the relayer computes it (eth/mosaic.c). */
void mn_c_message_hash(enum mosaic_kind kind, const struct mn_msg *m, const uint8_t gateway[20],
                       const uint8_t sender[20], uint8_t out[32]);

/* Funds and approves the staker, stakes (origin) and checks the event and
 * the message hash; m->mh is set.  Returns the stake's block. */
uint64_t mn_stake(struct mn_net *n, struct mn_msg *m, const char *suffix);
/* Relays the stake's outbox Declared at `height` and confirms it on the
 * co-gateway. */
void mn_confirm_stake(struct mn_net *n, const struct mn_msg *m, uint64_t height,
                      const char *suffix);
/* Approves and redeems (auxiliary) with msg.value = bounty; m->mh is set.
 * Returns the redeem's block. */
uint64_t mn_redeem(struct mn_net *n, struct mn_msg *m, const char *suffix);
/* Relays the redeem's outbox Declared at `height` and confirms it on the
 * gateway. */
void mn_confirm_redeem(struct mn_net *n, const struct mn_msg *m, uint64_t height,
                       const char *suffix);

#endif /* MR_MOSAICNET_H */
