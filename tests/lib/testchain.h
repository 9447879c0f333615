/*
 * testchain.h - driving the test chains from cmocka tests: compiling the
 * test-only contracts of tests/contracts/ with the pinned solc-js, deploying
 * and calling them from an anvil dev account (unlocked: eth_sendTransaction),
 * mining, and reorganising (anvil_reorg).  Every failure fails the test.
 */
#ifndef MR_TESTCHAIN_H
#define MR_TESTCHAIN_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "chain/rpc.h"

/* Creation bytecode ("0x...") of `contract` in tests/contracts/<file>,
 * compiled once per process (solc-js from deploy/node_modules).  Borrowed;
 * valid until the process ends. */
const char *tc_bytecode(const char *file, const char *contract);

/* A chain and the dev account that sends (anvil's account #account). */
struct tc {
    struct rpc_endpoints *rpc;
    uint8_t from[20];
    char url[256];
};

void tc_open(struct tc *c, const char *url, uint64_t chain_id, int account);
void tc_close(struct tc *c);

/* Calls method with params given as JSON text; returns the result (new
 * reference). */
json_t *tc_rpc(struct tc *c, const char *method, const char *params);

/* Deploys bytecode with ABI-encoded constructor arguments args[len].
 * Out: addr[20]. */
void tc_deploy(struct tc *c, const char *bytecode, const uint8_t *args, size_t len,
               uint8_t addr[20]);

/* Sends a call, waits for its receipt (automine) and checks it succeeded.
 * Returns the block number; out: txhash (may be NULL). */
uint64_t tc_send(struct tc *c, const uint8_t to[20], const uint8_t *data, size_t len,
                 uint8_t txhash[32]);

/* The same with `value` wei attached. */
uint64_t tc_send_value(struct tc *c, const uint8_t to[20], const uint8_t *data, size_t len,
                       uint64_t value, uint8_t txhash[32]);
/* eth_call of data at "latest"; returns the 32-byte word at `word` of the
 * answer into out[32]. */
void tc_call_word(struct tc *c, const uint8_t to[20], const uint8_t *data, size_t len,
                  size_t word, uint8_t out[32]);
/* Sends from `addr` from now on (anvil_impersonateAccount), with a
 * balance to pay for gas (anvil_setBalance). */
void tc_impersonate(struct tc *c, const uint8_t addr[20]);
void tc_set_balance(struct tc *c, const uint8_t addr[20], const char *wei_hex);

/* Call data of `sig` ("stake(uint256,address,...)") with words[n] as its
 * static arguments (each already a 32-byte word).  Out: out[4 + 32n]. */
size_t tc_calldata(const char *sig, const uint8_t (*words)[32], size_t n, uint8_t *out);
void tc_word_u64(uint8_t w[32], uint64_t v);
void tc_word_addr(uint8_t w[32], const uint8_t a[20]);

uint64_t tc_head(struct tc *c);
void tc_mine(struct tc *c, unsigned n);
/* anvil_reorg [depth, []]: replaces the last depth blocks with empty ones. */
void tc_reorg(struct tc *c, unsigned depth);

/* A dedicated anvil started with tests/anvil-harness.sh (e.g. for reorgs).
 * Out: url[256]; returns the harness directory (malloc'd) for tc_anvil_stop,
 * or NULL when anvil cannot start (the caller skips). */
char *tc_anvil_start(const char *name, uint64_t chain_id, char url[256]);
void tc_anvil_stop(char *dir);

#endif /* MR_TESTCHAIN_H */
