/*
 * e2elib.h - the relayer end to end, for tests/unit/test_e2e*.c and
 * bench/e2e: two anvil chains of the test's own (started with
 * tests/anvil-harness.sh and any extra anvil arguments, e.g. --block-time 1),
 * a fresh database, the gateway set deployed by `mosaic-relayer deploy`
 * (deploy_run, in process) with tokens the test holds, and the daemon run
 * as a separate process ($MR_BIN run --config ...) that can be stopped,
 * killed with SIGKILL and restarted.
 *
 * Actors: the facilitator key (a keystore in the test directory) deploys,
 * is the organizations' admin (it anchors) and worker, and is the only key
 * the relayer sends with; `holder` (an impersonated account, the same
 * address on both chains) owns the organizations and holds the value and
 * base tokens; stakers and redeemers are fresh impersonated accounts.
 * Nothing but the relayer ever sends from the facilitator's address.
 *
 * Every helper fails the current cmocka test on an unexpected outcome.
 */
#ifndef MR_E2ELIB_H
#define MR_E2ELIB_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <libpq-fe.h>

#include "eth/mosaic.h"
#include "eth/u256.h"
#include "tests/lib/chainlib.h"

#define E2E_BOUNTY 100
#define E2E_GAS_PRICE 1
#define E2E_GAS_LIMIT 1000000

struct e2e_opts {
    const char *anvil_args;     /* extra anvil arguments ("--block-time 1"); NULL: none */
    int workers;                /* relayer.workers; 0: 4 */
    const char *poll_interval;  /* the watchers'; NULL: "200ms" */
    const char *log_level;      /* NULL: "info" */
    int use_ws;                 /* the chains' `ws` (newHeads) besides polling */
    const char *relayer_extra;  /* more lines of the `relayer:` section, each indented by two
                                   spaces and ending in a newline
                                   ("  min_bounty: \"1\"\n"); NULL: none */
    const char *contracts_dir;  /* the artifacts `deploy` uses; NULL: build/contracts
                                   (build/contracts/v010: Mosaic 0.10.0's layout) */
};

struct e2e {
    char *dir, *ci;
    PGconn *db;
    char anvil_dir[256];
    char url_o[128], url_a[128];
    pid_t anvil_pid_o, anvil_pid_a;
    struct cl_chain o, a;
    uint8_t fac[20], holder[20];
    uint8_t vt[20], bt[20], ut[20], gw[20], cogw[20], vault[20];
    uint8_t anchor_o[20], anchor_a[20], org_o[20], org_a[20];
    uint64_t deployed_o, deployed_a; /* the chains' heads after the deployment */
    char cfg[600];              /* the run config `deploy` wrote */
    char log[600];              /* the daemon's stdout and stderr, every run appended */
    pid_t pid;                  /* the daemon, 0 when not running */
    int starts;
};

/* One stake (or redeem) of a test. */
struct e2e_msg {
    enum mosaic_kind kind;
    uint8_t sender[20], beneficiary[20];
    struct u256 amount;
    uint64_t nonce;
    int register_secret;        /* hand the secret to the relayer (pending_secrets) */
    int set_gas;                /* use gas_price and gas_limit below instead of
                                   E2E_GAS_PRICE and E2E_GAS_LIMIT */
    uint64_t gas_price, gas_limit;
    uint8_t secret[32], hashlock[32], mh[32];
    uint64_t block;             /* of the declaration */
    uint8_t tx[32];
    uint64_t decl_gas;          /* the declaration's gas */
    uint64_t target_head;       /* the target chain's head when the declaration was seen */
};

/* Brings everything up.  Returns 0 (and prints why) when PostgreSQL or
 * anvil is not available: the caller skips. */
int e2e_up(struct e2e *e, const struct e2e_opts *o);
void e2e_down(struct e2e *e);

/* The daemon as a process.  start: spawns `$MR_BIN run` (the log is
 * appended); stop: SIGTERM, returns its exit status; kill: SIGKILL, reaped.
 * restart: start again after a kill, tolerating the short moment in which
 * PostgreSQL has not yet noticed that the killed process's sessions (and
 * the key's lock) are gone (the way a service manager restarts it). */
void e2e_daemon_start(struct e2e *e);
int e2e_daemon_stop(struct e2e *e);
void e2e_daemon_kill(struct e2e *e);
void e2e_daemon_restart(struct e2e *e);
/* Fails the test (with the log's tail) if the daemon died. */
void e2e_daemon_check(struct e2e *e);
/* The last `bytes` of the daemon's log, printed. */
void e2e_daemon_tail(const struct e2e *e, size_t bytes);

/* Stakes m[n] (kind, amount, beneficiary, register_secret set by the
 * caller; a zero sender means a new staker): stakers funded with tokens
 * and approvals in one burst, then every stake(...) sent at once (the
 * declarations pipelined into as few blocks as fit).  Secrets to register
 * are in pending_secrets before the declarations.  Out: each m's sender,
 * nonce, secret, hashlock, mh, block. */
void e2e_stake_burst(struct e2e *e, struct e2e_msg *m, size_t n);
/* The two halves of e2e_stake_burst: everything up to sending the stakes
 * (returns as soon as they are sent), then waiting for their receipts. */
void e2e_stake_send(struct e2e *e, struct e2e_msg *m, size_t n);
void e2e_stake_collect(struct e2e *e, struct e2e_msg *m, size_t n);
/* Redeems m[n] (sender = a holder of utility tokens, amount, beneficiary,
 * register_secret set), approvals then redeems, each at once. */
void e2e_redeem_burst(struct e2e *e, struct e2e_msg *m, size_t n);

/* How many of m[n] are in state `want`; *halted gets how many are halted
 * (the first one's reason printed). */
size_t e2e_count_state(struct e2e *e, const struct e2e_msg *m, size_t n, const char *want,
                       size_t *halted);
/* Waits (daemon checked alive) until every m is in `want`; fails when
 * nothing moved in the database (transactions, message states, jobs done,
 * cursors) for `seconds`, or after ten times that, printing what the
 * database says. */
void e2e_wait_state(struct e2e *e, const struct e2e_msg *m, size_t n, const char *want,
                    int seconds);
/* What the database knows: messages by state, jobs, transactions, halted
 * keys, the newest alerts. */
void e2e_diagnose(struct e2e *e);

/* Waits (at most 30 s) until nothing the facilitator sent is still in a
 * node's pool on either chain. */
void e2e_quiet(struct e2e *e);

/* Outbox (source) / inbox (target) status of a message on chain. */
int e2e_status(struct e2e *e, const struct e2e_msg *m, int on_target);

/* Logs of `address` with topic0 = keccak(sig) in [from, to] on c. */
void e2e_logs(struct cl_chain *c, const uint8_t address[20], const char *sig, uint64_t from,
              uint64_t to, struct eth_logs *out);
/* Data word i of a log as a number. */
struct u256 e2e_word(const struct eth_log *l, size_t i);
uint64_t e2e_word_u64(const struct eth_log *l, size_t i);

/* Every transaction `addr` sent in blocks [from, to] of c, with its
 * receipt. */
struct e2e_tx {
    uint64_t nonce, block, gas_used;
    uint8_t hash[32], to[20], selector[4];
    int has_to, status;
    struct u256 fee;            /* gas_used * effective gas price */
};
size_t e2e_sent_by(struct cl_chain *c, const uint8_t addr[20], uint64_t from, uint64_t to,
                   struct e2e_tx **out);
/* The account's transactions over the whole chain: nonces 0..count-1 each
 * exactly once (gapless, no duplicate), every receipt status 1 (nothing
 * reverted).  Returns count. */
size_t e2e_check_key(struct cl_chain *c, const uint8_t addr[20]);

/* The 4-byte selector of a signature. */
void e2e_selector(const char *sig, uint8_t out[4]);

/* ------------------------------------------------------------------------
 * Shared by the test programs (tests/unit/test_e2e*.c): the group fixture,
 * the test guard, and checks more than one program makes.
 * ---------------------------------------------------------------------- */

/* The body of a program's cmocka group setup: brings `e` up with `o`.
 * *state = e when it came up, NULL when PostgreSQL or anvil is not
 * available (E2E_REQUIRE then skips every test).  Returns 0. */
int e2e_group_setup(void **state, struct e2e *e, const struct e2e_opts *o);
/* A cmocka group teardown: takes down what e2e_group_setup brought up. */
int e2e_group_teardown(void **state);
/* Whether the test named `func` is to run: E2E_ONLY=name in the
 * environment runs only the tests whose name contains it (stress runs). */
int e2e_selected(const char *func);
/* Opens every e2e test: skipped when the group setup found no chains or
 * no database; returns at once (passes) when E2E_ONLY leaves it out. */
#define E2E_REQUIRE(state)                                                     \
    do {                                                                       \
        if (*(state) == NULL)                                                  \
            skip();                                                            \
        if (!e2e_selected(__func__))                                           \
            return;                                                            \
    } while (0)

/* Token balances of `who`: utility token (auxiliary chain), value and
 * base token (origin). */
struct u256 e2e_ut_of(struct e2e *e, const uint8_t who[20]);
struct u256 e2e_vt_of(struct e2e *e, const uint8_t who[20]);
struct u256 e2e_bt_of(struct e2e *e, const uint8_t who[20]);

/* The fees the facilitator paid in blocks [from, to] of c. */
struct u256 e2e_fees(struct e2e *e, struct cl_chain *c, uint64_t from, uint64_t to);

/* The log among l for message mh (topic 1); fails the test unless there is
 * exactly one.  Borrowed from l. */
const struct eth_log *e2e_one_log(const struct eth_logs *l, const uint8_t mh[32],
                                  const char *what);

#define E2E_MINT_PROGRESSED \
    "MintProgressed(bytes32,address,address,uint256,uint256,uint256,bool,bytes32)"
#define E2E_UNSTAKE_PROGRESSED \
    "UnstakeProgressed(bytes32,address,address,uint256,uint256,uint256,bool,bytes32)"

/* The target's one `sig` (...Progressed: MintProgressed, UnstakeProgressed)
 * event of m in [from, to] of c at gateway gw: the amount, paid + reward =
 * amount, the beneficiary's balance `beneficiary_got` = paid, the proof
 * flag = by_proof.  Returns the reward. */
struct u256 e2e_target_reward(struct cl_chain *c, const uint8_t gw[20], const char *sig,
                              const struct e2e_msg *m, uint64_t from, uint64_t to,
                              struct u256 beneficiary_got, int by_proof);

/* No signer key halted and no critical alert. */
void e2e_no_halts(struct e2e *e);

/* Sends sig(args[n]) from `from` to `to` with `value` (NULL: none) and
 * waits for it; it must succeed.  Out (each may be NULL): its hash and
 * block. */
void e2e_send_call(struct cl_chain *c, const char *what, const uint8_t from[20],
                   const uint8_t to[20], const struct u256 *value, const char *sig,
                   const struct abi_value *args, size_t n, uint8_t tx[32], uint64_t *block);

#endif /* MR_E2ELIB_H */
