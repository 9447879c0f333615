/*
 * cli_deploy.c - `mosaic-relayer deploy --config FILE`: the Mosaic
 * contracts for every pair of the config's deploy.pairs (relayer/deploy.h).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "relayer/cli.h"
#include "relayer/config.h"
#include "relayer/deploy.h"

/* <directory of this program>/contracts when it exists (build/mosaic-relayer
 * next to build/contracts), so that deploy works from any directory. */
static const char *default_contracts(char *buf, size_t cap)
{
    ssize_t n = readlink("/proc/self/exe", buf, cap - 16);
    char *slash;

    if (n <= 0 || (size_t)n >= cap - 16)
        return NULL;
    buf[n] = '\0';
    slash = strrchr(buf, '/');
    if (slash == NULL)
        return NULL;
    strcpy(slash, "/contracts");
    return access(buf, R_OK | X_OK) == 0 ? buf : NULL;
}

static void deploy_usage(void)
{
    printf("usage: mosaic-relayer deploy --config FILE [--contracts DIR] [--wait SECONDS] [--quiet]\n"
           "\n"
           "Deploys the Mosaic gateway set for every pair in the config's deploy.pairs,\n"
           "through the transaction manager (so the database of database.url must be\n"
           "migrated), signed by the deploy.deployer key:\n"
           "  on every chain: the linked libraries, an Organization (owner: deploy.owner or\n"
           "  the deployer; admin: the deploy.admin key, which may then anchor; worker: the\n"
           "  'facilitator' key), an Anchor per remote chain seeded with that chain's\n"
           "  finalized state root; on origin: value and base tokens (or the configured\n"
           "  ones) and the EIP20Gateway; on the auxiliary chain: the UtilityToken and the\n"
           "  EIP20CoGateway; then setCoGateway, activateGateway and setCoAnchorAddress.\n"
           "Each finished step is recorded in deploy.state_file (JSON); a step already\n"
           "recorded whose address holds the contract's code, or a setup call whose effect\n"
           "is on chain, is skipped, and an interrupted deploy resumes (a transaction sent\n"
           "but not recorded is followed, not sent again).  At the end, when every\n"
           "transaction is final, writes deploy.output: the config without its deploy:\n"
           "section and with the gateways: section filled in, for 'mosaic-relayer run'.\n"
           "\n"
           "  --config FILE     the configuration (see config/README.md)\n"
           "  --contracts DIR   the compiled contracts (default $MOSAIC_CONTRACTS_DIR, else\n"
           "                    'contracts' next to this program, i.e. build/contracts:\n"
           "                    make contracts)\n"
           "  --wait SECONDS    longest wait for one transaction or block (default 600)\n"
           "  --quiet           no progress lines\n"
           "\n"
           "Exit status: 0 deployed; 1 the deployment stopped (the line says where; run\n"
           "again to resume); 2 bad usage or an invalid config.\n");
}

int cli_deploy(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"contracts", required_argument, NULL, 'C'},
        {"wait", required_argument, NULL, 'w'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *path = NULL;
    struct deploy_opts o = {0};
    struct deploy_report rep;
    struct config *cfg = NULL;
    struct mr_error err = {0};
    char exe_dir[4096];
    int quiet = 0, c, rc;

    o.progress = stdout;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "+", longopts, NULL)) != -1) {
        switch (c) {
        case 'c': path = optarg; break;
        case 'C': o.contracts_dir = optarg; break;
        case 'w': {
            char *end;
            long v = strtol(optarg, &end, 10);
            if (*optarg == '\0' || *end != '\0' || v < 1 || v > 86400)
                return cli_usage_error("deploy", "--wait takes 1 to 86400 seconds");
            o.wait_ms = v * 1000;
            break;
        }
        case 'q': quiet = 1; break;
        case 'h': deploy_usage(); return CLI_EXIT_OK;
        default:
            return cli_usage_error("deploy", "unknown option '%s' (try --help)", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return cli_usage_error("deploy", "unexpected argument '%s' (try --help)", argv[optind]);
    if (path == NULL)
        return cli_usage_error("deploy", "--config FILE is required (try --help)");
    if (quiet)
        o.progress = NULL;
    if (o.contracts_dir == NULL && getenv("MOSAIC_CONTRACTS_DIR") == NULL)
        o.contracts_dir = default_contracts(exe_dir, sizeof(exe_dir));
    rc = config_load(path, &cfg, &err);
    if (rc != MR_OK)
        return cli_usage_error("deploy", "%s", err.msg);
    if (!cfg->deploy.present) {
        config_free(cfg);
        return cli_usage_error("deploy", "%s has no deploy: section", path);
    }
    rc = deploy_run(cfg, &o, &rep, &err);
    if (rc != MR_OK) {
        fprintf(stderr, "mosaic-relayer deploy: %s\n", err.msg);
        config_free(cfg);
        return CLI_EXIT_FAIL;
    }
    if (!quiet)
        printf("deploy: done: %zu steps; %zu transactions this run (%llu gas), %zu found done\n",
               rep.steps, rep.sent, (unsigned long long)rep.gas_used, rep.skipped);
    config_free(cfg);
    return CLI_EXIT_OK;
}
