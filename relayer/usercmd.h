/*
 * usercmd.h - what a user does through the relayer: stake value tokens on
 * the origin chain for utility tokens on an auxiliary chain, or redeem them
 * back (mosaic-protocol.md §5.1 and §5.4, steps 0-2).
 *
 *   1. A 32-byte secret from the OS CSPRNG; its hashlock keccak256(secret)
 *      goes into the message.  (hashlock, secret) is committed to
 *      mosaic.pending_secrets BEFORE anything is signed, so the relayer can
 *      reveal it once the declaration is seen (the watcher moves it to
 *      unlock_secrets); the secret is then wiped here and never printed.
 *   2. With the user's key (not the relayer's: refused if it is one of the
 *      config's keys): approve the gateway for the amount and, for a stake,
 *      the base-token bounty (skipped when the allowance already covers it).
 *   3. Declare: gateway.stake(amount, beneficiary, gasPrice, gasLimit,
 *      getNonce(sender), hashLock) or coGateway.redeem{value: bounty}(...).
 *
 * Transactions go through relayer/txm.h with the user's key: dry-run, the
 * nonce allocated with the intent, signed bytes stored before broadcast,
 * re-sent after a crash (a later run of the command first finishes what an
 * earlier one left unmined).  Because a user's key is also used elsewhere,
 * the nonce allocator of that key follows the chain between runs
 * (txs_adopt_nonce) instead of treating a higher chain nonce as a stolen
 * key, as it does for the relayer's own keys.
 */
#ifndef MR_USERCMD_H
#define MR_USERCMD_H

#include <stdint.h>
#include <stdio.h>

#include "eth/error.h"
#include "eth/mosaic.h"
#include "eth/u256.h"
#include "relayer/config.h"

/* Default of --timeout: how long to follow a message. */
#define USER_DEFAULT_TIMEOUT_MS (15 * 60 * 1000)

/* The command line of `stake` / `redeem`.  Strings borrow argv. */
struct user_args {
    enum mosaic_kind kind;
    int help;                       /* --help: print usage, do nothing */
    const char *config;             /* --config FILE (required) */
    const char *pair;               /* --pair NAME; NULL: the config's only pair */
    const char *key;                /* --key KEYSTORE (required) */
    const char *password_file;      /* --password-file F; NULL: stdin, if a pipe */
    struct u256 amount;             /* --amount N (> 0) */
    uint8_t beneficiary[20];        /* --beneficiary A (not zero) */
    struct u256 gas_price;          /* --gas-price P: the message's, in the delivered token */
    struct u256 gas_limit;          /* --gas-limit L: the message's */
    int no_wait;                    /* --no-wait */
    int64_t timeout_ms;             /* --timeout D */
};

/* Parses argv (argv[0] = "stake" or "redeem") into *a and checks what can
 * be checked without the config: required options, numbers, the address,
 * amount > gasPrice * gasLimit (§6; also no overflow).  Pure.  Returns
 * MR_OK or MR_ERR_USAGE with a one-line reason in err. */
int user_args_parse(enum mosaic_kind kind, int argc, char **argv, struct user_args *a,
                    struct mr_error *err);

/* Parses a duration: "250ms", "30s", "5m", "1h" or bare seconds; > 0 and at
 * most a week.  Out: *ms.  Returns MR_OK or MR_ERR_INVALID. */
int user_parse_duration(const char *s, int64_t *ms);

/* The gateway pair the user means: --pair, or the config's only one.
 * Returns its index, or -1 with err saying which names exist. */
int user_pick_pair(const struct config *c, const char *name, struct mr_error *err);

/* What the declaration produced. */
struct user_declared {
    uint8_t message_hash[32];
    uint8_t tx_hash[32];
    uint64_t block;
    const char *source_chain;       /* borrowed from the config */
    const char *target_chain;
};

struct user_session;

/* Opens what a stake or redeem needs: the pair (user_pick_pair), the
 * relayer's database (its schema checked, the pair's chains registered as
 * the daemon does), both chains' endpoints, and the user's key (refused if
 * it is one of the config's keys).  The --timeout clock starts here.
 * Out: *out (user_close).  Returns MR_OK, MR_ERR_USAGE, or the code of what
 * failed with err naming it. */
int user_open(const struct config *c, const struct user_args *a, struct user_session **out,
              struct mr_error *err);
void user_close(struct user_session *s);

/* Runs steps 1-3 of the top of this file, printing one line per mined
 * transaction on `info`.  Out: *d.  Returns MR_OK, MR_ERR_USAGE (a check
 * failed before anything was sent: balance, gas funds, inactive gateway)
 * or another code with err naming the chain, the call and the reason. */
int user_declare(struct user_session *s, FILE *info, struct user_declared *d,
                 struct mr_error *err);

/* Follows message mh to its end on the relayer's database, printing each
 * step as it is recorded on `out` (on a terminal, a status line says what
 * it waits for), then the statuses read from both gateways.  Out: *outcome
 * (enum progress_outcome).  Returns MR_OK (completed or reverted),
 * MR_ERR_INVALID (the relayer halted or refused it) or MR_ERR_IO with err
 * saying what it was waiting for when the timeout passed. */
int user_follow(struct user_session *s, const uint8_t mh[32], FILE *out, int *outcome,
                struct mr_error *err);

/* Prints, for `who`, the native balance on every chain of the pairs (or
 * of pair `pair` only) and the pairs' value token (origin) and utility
 * token (auxiliary) balances, one line each; a balance that cannot be read
 * says why on its line.  Returns MR_OK, MR_ERR_USAGE (unknown pair) or the
 * endpoints' setup error. */
int user_balances(const struct config *c, const char *pair, const uint8_t who[20], FILE *out,
                  struct mr_error *err);

#endif /* MR_USERCMD_H */
