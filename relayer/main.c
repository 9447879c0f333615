/*
 * main.c - the mosaic-relayer command: dispatches to the command groups.
 */
#include <stdio.h>
#include <string.h>

#include "relayer/cli.h"
#include "relayer/daemon.h"

static const struct cli_command commands[] = {
    {"keccak", "keccak-256 of hex data or of text", cli_keccak},
    {"message-hash", "Mosaic intent and message hashes, outbox/inbox storage keys", cli_message_hash},
    {"keys", "create a keystore, print a keystore's address", cli_keys},
    {"proof", "verify an eth_getProof answer against a state root", cli_proof},
    {"migrate", "apply the database schema migrations (or --status)", cli_migrate},
    {"jobs", "list, show, retry or cancel queued jobs", cli_jobs},
    {"tx", "list or show the transaction manager's transactions", cli_tx},
    {"config", "check a configuration file and what it points at", cli_config},
    {"status", "one screen: chains, lag, queue, stuck messages, alerts, signers, anchors", cli_status},
    {"run", "run the relayer (watchers, workers, anchorer; --role for one part)", cli_run},
    {"events", "list the gateway and anchor events the watchers ingested", cli_events},
    {"chain", "per chain: head, finalized head, cursor, lag, watcher holder", cli_chain},
    {"deploy", "deploy the Mosaic contracts for the config's gateway pairs", cli_deploy},
    {"stake", "stake value tokens for utility tokens on an auxiliary chain", cli_stake},
    {"redeem", "redeem utility tokens back to value tokens on the origin chain", cli_redeem},
    {"message", "show a message's steps, list messages, release or hold a message", cli_message},
    {"balance", "an address's token and native balances on the pairs' chains", cli_balance},
    {"breaker", "the conservation circuit breakers: status, log, reset", cli_breaker},
};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: mosaic-relayer COMMAND [ARGS...]\n"
            "\n"
            "A relayer (facilitator) for Mosaic gateways between Ethereum and auxiliary chains.\n"
            "\n"
            "Commands:\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(f, "  %-14s %s\n", commands[i].name, commands[i].summary);
    fprintf(f,
            "\n"
            "Run 'mosaic-relayer COMMAND --help' for a command's options.\n"
            "Exit status: 0 success, 1 a check failed (e.g. a proof does not verify),\n"
            "2 bad usage or bad input.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return CLI_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    }
    fprintf(stderr, "mosaic-relayer: unknown command '%s' (try --help)\n", argv[1]);
    return CLI_EXIT_USAGE;
}
