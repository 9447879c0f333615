/*
 * chainlib.h - test helpers for driving contracts on the suite's anvil
 * chains: fresh funded accounts (impersonated, so eth_sendTransaction works
 * without keys), transactions and their receipts, deployments of
 * build/contracts artifacts with library linking, eth_call, mining.
 *
 * Every helper fails the current cmocka test (with the chain, the call and
 * the node's message) instead of returning an error, except the *_try
 * variants, which report a revert to the caller.
 *
 * The artifacts are read from $MR_CONTRACTS_DIR, else build/contracts
 * (make test builds them first); a missing artifact fails the test.  The
 * test-only contracts of tests/contracts/ (the watcher tests') are compiled
 * here with the pinned solc-js (cl_compile) and deployed as bytecode; a
 * chain of a test's own (e.g. for anvil_reorg) comes from cl_anvil_start.
 */
#ifndef MR_CHAINLIB_H
#define MR_CHAINLIB_H

#include <stddef.h>
#include <stdint.h>

#include "chain/ethrpc.h"
#include "chain/rpc.h"
#include "eth/abi.h"
#include "eth/u256.h"
#include "relayer/artifact.h"

/* One test chain.  Owns its endpoints (cl_close). */
struct cl_chain {
    char label[16];              /* "ORIGIN", "AUX" */
    struct rpc_endpoints *ep;
    uint64_t chain_id;
    char url[256];               /* its node, e.g. for a watcher's config */
};

/* The artifacts directory. */
const char *cl_contracts_dir(void);
/* Loads <dir>/<name>.json into *a (artifact_free) or fails the test. */
void cl_artifact(const char *name, struct artifact *a);

/* Connects to the suite chain `label` (tv_anvil_url(label)); the caller
 * has checked TV_REQUIRE_ANVIL. */
void cl_open(struct cl_chain *c, const char *label);
/* The same for a chain of the test's own at `url` with `chain_id`. */
void cl_open_url(struct cl_chain *c, const char *label, const char *url, uint64_t chain_id);
void cl_close(struct cl_chain *c);

/* A dedicated anvil started with tests/anvil-harness.sh (e.g. for reorgs).
 * Out: url[256]; returns the harness directory (malloc'd) for
 * cl_anvil_stop, or NULL when anvil cannot start (the caller skips). */
char *cl_anvil_start(const char *name, uint64_t chain_id, char url[256]);
void cl_anvil_stop(char *dir);

/* Address of anvil's unlocked dev account number `index` (eth_accounts). */
void cl_dev_account(struct cl_chain *c, int index, uint8_t addr[20]);

/* A new random account holding `ether` whole ether, impersonated so that
 * it can send.  Out: addr[20]. */
void cl_new_account(struct cl_chain *c, uint64_t ether, uint8_t addr[20]);
/* The same for a given address (the same account on several chains). */
void cl_fund_account(struct cl_chain *c, uint64_t ether, const uint8_t addr[20]);

/* Sends a transaction from an unlocked or impersonated account (to NULL:
 * a creation; value NULL: none) with a fixed gas limit, waits for the
 * receipt and requires success (a failure gives the revert reason of the
 * same call replayed with eth_call).  `what` names the call in messages.
 * Out: *r (ethrpc_receipt_free). */
void cl_send(struct cl_chain *c, const char *what, const uint8_t from[20], const uint8_t *to,
             const struct u256 *value, const uint8_t *data, size_t len, struct eth_receipt *r);

/* The same, but a transaction that reverts is not a failure: returns 1 if
 * it succeeded (receipt in *r), 0 if it reverted (reason, possibly empty,
 * in reason[cap]; nothing in *r). */
int cl_send_try(struct cl_chain *c, const char *what, const uint8_t from[20], const uint8_t *to,
                const struct u256 *value, const uint8_t *data, size_t len, struct eth_receipt *r,
                char *reason, size_t cap);

/* Pipelined sends (a burst in one block on a chain that mines by time):
 * cl_send_async sends with gas limit `gas` at `nonce` and returns at once
 * with the hash; cl_wait waits for its receipt and requires success.  Out:
 * *r (ethrpc_receipt_free), or NULL to discard it.  nonce < 0 lets the node
 * pick it, which anvil gets wrong for a sender whose transactions are being
 * mined while more arrive (some are dropped): give the nonces of a burst
 * from one account (cl_nonce). */
void cl_send_async(struct cl_chain *c, const char *what, const uint8_t from[20],
                   const uint8_t *to, const struct u256 *value, const uint8_t *data, size_t len,
                   uint64_t gas, int64_t nonce, uint8_t hash[32]);
/* The account's next nonce, counting its transactions in the node's pool. */
uint64_t cl_nonce(struct cl_chain *c, const uint8_t addr[20]);
void cl_wait(struct cl_chain *c, const char *what, const uint8_t hash[32], struct eth_receipt *r);

/* cl_send, returning the block that included it (the receipt dropped). */
uint64_t cl_send_block(struct cl_chain *c, const char *what, const uint8_t from[20],
                       const uint8_t *to, const struct u256 *value, const uint8_t *data,
                       size_t len);

/* Deploys artifact `name` linked with libs[n_libs], constructor args[n_args].
 * Out: addr[20]; *gas (may be NULL) the gas used. */
void cl_deploy(struct cl_chain *c, const uint8_t from[20], const char *name,
               const struct artifact_lib *libs, size_t n_libs, const struct abi_value *args,
               size_t n_args, uint8_t addr[20], uint64_t *gas);

/* Creation bytecode ("0x...") of `contract` in tests/contracts/<file>,
 * compiled once per process (solc-js from deploy/node_modules).  Borrowed;
 * valid until the process ends. */
const char *cl_compile(const char *file, const char *contract);
/* Deploys bytecode (hex, as cl_compile gives it) with ABI-encoded
 * constructor arguments args[len].  Out: addr[20]. */
void cl_deploy_code(struct cl_chain *c, const uint8_t from[20], const char *bytecode,
                    const uint8_t *args, size_t len, uint8_t addr[20]);

/* eth_call at "latest" (from may be NULL).  Out: *out (malloc'd, caller
 * frees), *out_len.  A revert fails the test. */
void cl_call(struct cl_chain *c, const uint8_t *from, const uint8_t to[20], const uint8_t *data,
             size_t len, uint8_t **out, size_t *out_len);
/* eth_call returning one word; *word[32] out.  Returns 1, or 0 if the call
 * reverted (reason in reason[cap] when reason is not NULL). */
int cl_call_word(struct cl_chain *c, const uint8_t to[20], const uint8_t *data, size_t len,
                 uint8_t word[32], char *reason, size_t cap);

/* Call data of `sig` ("transfer(address,uint256)") with a flat argument
 * list of value types and bytes (abi_builder); args[n].  Types are taken
 * from the signature.  Out: *out (malloc'd), *len. */
void cl_calldata(const char *sig, const struct abi_value *args, size_t n, uint8_t **out,
                 size_t *len);
/* The same for static arguments only, given as 32-byte words[n], into a
 * buffer of the caller's: out[4 + 32n].  Returns 4 + 32n. */
size_t cl_calldata_words(const char *sig, const uint8_t (*words)[32], size_t n, uint8_t *out);
/* One word of such arguments: a number, an address. */
void cl_word_u64(uint8_t w[32], uint64_t v);
void cl_word_addr(uint8_t w[32], const uint8_t a[20]);

/* A view returning one uint256 (or address, bytes32: the whole word as a
 * number), called with args[n]. */
struct u256 cl_view_u256(struct cl_chain *c, const uint8_t to[20], const char *sig,
                         const struct abi_value *args, size_t n);
/* balanceOf(owner) of an EIP-20 token, and the native balance. */
struct u256 cl_token_balance(struct cl_chain *c, const uint8_t token[20], const uint8_t owner[20]);
struct u256 cl_balance(struct cl_chain *c, const uint8_t addr[20]);

/* Mines n empty blocks (anvil_mine). */
void cl_mine(struct cl_chain *c, uint64_t n);
/* anvil_reorg [depth, []]: replaces the last depth blocks with empty ones. */
void cl_reorg(struct cl_chain *c, unsigned depth);
uint64_t cl_block_number(struct cl_chain *c);
void cl_block(struct cl_chain *c, uint64_t number, struct eth_block *b);

/* The first log in r emitted by `address` with topic0 `topic` (32 bytes),
 * or NULL. */
const struct eth_log *cl_find_log(const struct eth_receipt *r, const uint8_t address[20],
                                  const uint8_t topic[32]);

/* u256 helpers for tests. */
struct u256 cl_u256(uint64_t v);
/* a * 10^e (fails the test on overflow). */
struct u256 cl_u256_e(uint64_t a, unsigned e);
struct u256 cl_add(struct u256 a, struct u256 b);
struct u256 cl_sub(struct u256 a, struct u256 b);
struct u256 cl_mul(struct u256 a, struct u256 b);
/* Asserts a == b, printing both in decimal with `what` on failure. */
void cl_assert_u256(const char *what, struct u256 a, struct u256 b);

#endif /* MR_CHAINLIB_H */
