/*
 * cli_user.c - the users' commands: `stake`, `redeem` and `balance`.
 *
 * The work is in relayer/usercmd.c; this file parses, loads the config,
 * and maps failures to the exit statuses of relayer/cli.h.
 */
#include <stdio.h>
#include <string.h>

#include "eth/address.h"
#include "eth/hex.h"
#include "relayer/cli.h"
#include "relayer/config.h"
#include "relayer/progress.h"
#include "relayer/usercmd.h"

static void user_usage(enum mosaic_kind kind)
{
    int stake = kind == MOSAIC_STAKE;

    printf("usage: mosaic-relayer %s --config FILE [--pair NAME] --amount N --beneficiary ADDRESS\n"
           "           --key KEYSTORE [--password-file F] [--gas-price P] [--gas-limit L]\n"
           "           [--no-wait] [--timeout D]\n"
           "\n",
           stake ? "stake" : "redeem");
    if (stake)
        printf("Stakes N wei of the pair's value token on the origin chain; the relayer mints\n"
               "the same amount (less its reward) of the utility token to ADDRESS on the\n"
               "auxiliary chain (mosaic-protocol.md 5.1).\n");
    else
        printf("Redeems N wei of the pair's utility token on the auxiliary chain; the relayer\n"
               "unstakes the same amount (less its reward) of the value token to ADDRESS on the\n"
               "origin chain (mosaic-protocol.md 5.4).\n");
    printf("\n"
           "A 32-byte secret is drawn from the OS random generator and handed to the relayer\n"
           "(its database) before anything is signed; only its hash, the hashlock, goes into\n"
           "the message. The secret is never printed. Then, with the user's key: approve\n"
           "the gateway (%s; skipped when the allowance\n"
           "covers it), and declare with gateway.%s(amount, beneficiary, gasPrice, gasLimit,\n"
           "nonce, hashLock). Then the message is followed to its end, one line per step.\n"
           "\n"
           "  --config FILE        the relayer's config (chains, gateway pairs, database)\n"
           "  --pair NAME          the gateway pair (needed when the config has several)\n"
           "  --amount N           wei, decimal or 0x-hex, > 0\n"
           "  --beneficiary A      who receives the tokens on the %s chain\n"
           "  --key KEYSTORE       the user's v3 keystore (not one of the relayer's keys)\n"
           "  --password-file F    the keystore's password (mode 0600); without it, the\n"
           "                       password is read from stdin when stdin is a pipe\n"
           "  --gas-price P        the message's gas price, in %s wei per gas\n"
           "                       (default 0: no reward for the relayer)\n"
           "  --gas-limit L        the message's gas limit (default 0); the relayer's reward\n"
           "                       is at most P * L, and N must be greater than P * L\n"
           "  --no-wait            print the message hash (alone on stdout) once declared\n"
           "                       and exit; follow it later with `message show HASH`\n"
           "  --timeout D          how long to wait in all, e.g. 90s, 10m, 1h (default 15m)\n"
           "\n"
           "Exit status: 0 completed (or declared, with --no-wait) or reverted; 1 a\n"
           "transaction failed, the relayer stopped the message, or the timeout passed (the\n"
           "message says what it was waiting for); 2 bad usage or input, a balance too low.\n",
           stake ? "value token for N, base token for the bounty" : "utility token for N",
           stake ? "stake" : "redeem{value: bounty}", stake ? "auxiliary" : "origin",
           stake ? "utility-token" : "value-token");
}

static int user_cmd(enum mosaic_kind kind, int argc, char **argv)
{
    const char *cmd = kind == MOSAIC_STAKE ? "stake" : "redeem";
    struct user_session *s = NULL;
    struct user_declared d;
    struct user_args a;
    struct config *c = NULL;
    struct mr_error err;
    char mh[67];
    int rc, outcome = 0;
    FILE *info;

    if (user_args_parse(kind, argc, argv, &a, &err) != MR_OK)
        return cli_usage_error(cmd, "%s", err.msg);
    if (a.help) {
        user_usage(kind);
        return CLI_EXIT_OK;
    }
    if (config_load(a.config, &c, &err) != MR_OK)
        return cli_usage_error(cmd, "%s", err.msg);
    info = a.no_wait ? stderr : stdout;
    rc = user_open(c, &a, &s, &err);
    if (rc == MR_OK)
        rc = user_declare(s, info, &d, &err);
    if (rc == MR_OK && a.no_wait) {
        hex_encode_data(d.message_hash, 32, mh, sizeof(mh));
        printf("%s\n", mh);
    } else if (rc == MR_OK) {
        rc = user_follow(s, d.message_hash, stdout, &outcome, &err);
    }
    user_close(s);
    config_free(c);
    if (rc == MR_OK)
        return CLI_EXIT_OK;
    fflush(stdout);
    fprintf(stderr, "mosaic-relayer %s: %s\n", cmd, err.msg);
    return rc == MR_ERR_USAGE || rc == MR_ERR_PERM || rc == MR_ERR_MAC ? CLI_EXIT_USAGE
                                                                      : CLI_EXIT_FAIL;
}

int cli_stake(int argc, char **argv)
{
    return user_cmd(MOSAIC_STAKE, argc, argv);
}

int cli_redeem(int argc, char **argv)
{
    return user_cmd(MOSAIC_REDEEM, argc, argv);
}

static void balance_usage(void)
{
    printf("usage: mosaic-relayer balance --config FILE --address A [--pair NAME]\n"
           "\n"
           "The balances of A on every chain of the config's gateway pairs (or of one pair),\n"
           "in wei, one line each: CHAIN PAIR TOKEN ADDRESS BALANCE, where TOKEN is native\n"
           "(the chain's coin), value and base (the gateway's value token and bounty token,\n"
           "origin) or utility (the co-gateway's utility token, auxiliary). The token\n"
           "addresses are read from the gateways.\n"
           "\n"
           "Exit status: 0 printed (a balance that cannot be read says why on its line),\n"
           "2 bad usage, a config that does not load, or an unknown pair.\n");
}

int cli_balance(int argc, char **argv)
{
    const char *config = NULL, *address = NULL, *pair = NULL;
    struct config *c = NULL;
    struct mr_error err;
    uint8_t who[20];
    int rc;

    for (int i = 1; i < argc; i += 2) {   /* every option takes a value */
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(argv[i], "--help") == 0) {
            balance_usage();
            return CLI_EXIT_OK;
        } else if (v != NULL && strcmp(argv[i], "--config") == 0) {
            config = v;
        } else if (v != NULL && strcmp(argv[i], "--address") == 0) {
            address = v;
        } else if (v != NULL && strcmp(argv[i], "--pair") == 0) {
            pair = v;
        } else {
            return cli_usage_error("balance", "unknown or incomplete option '%s' (see --help)",
                                   argv[i]);
        }
    }
    if (config == NULL || address == NULL)
        return cli_usage_error("balance", "--config FILE and --address A are required");
    if (address_parse(address, strlen(address), who, &err) != MR_OK)
        return cli_usage_error("balance", "--address '%s': %s", address, err.msg);
    if (config_load(config, &c, &err) != MR_OK)
        return cli_usage_error("balance", "%s", err.msg);
    rc = user_balances(c, pair, who, stdout, &err);
    config_free(c);
    if (rc != MR_OK)
        return cli_usage_error("balance", "%s", err.msg);
    return CLI_EXIT_OK;
}
