/*
 * cli_config.c - `mosaic-relayer config check FILE`: validates the
 * configuration, then checks what it can reach, one line per check.
 *
 * Nothing secret is read: password files are checked for their mode only
 * (by config_load), keystores are parsed (their key stays encrypted).
 */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "chain/ethrpc.h"
#include "db/db.h"
#include "db/migrate.h"
#include "eth/address.h"
#include "relayer/cli.h"
#include "relayer/config.h"
#include "relayer/keyfile.h"

/* Endpoints of one chain that answered with the right chain id. */
struct reach {
    struct rpc_endpoints *e;   /* NULL: none did */
};

static void config_usage(void)
{
    printf("usage: mosaic-relayer config check [--offline] FILE\n"
           "\n"
           "Validates the relayer's YAML configuration (config/README.md documents every\n"
           "field): the first problem is printed as one line FILE:LINE: KEY: what is wrong;\n"
           "expected what. Then, unless --offline, checks what it can reach, one line per\n"
           "check, 'ok' or 'FAIL' and the reason:\n"
           "  - each endpoint answers eth_chainId with the configured chain id;\n"
           "  - each contract address of the gateways (and deploy tokens) holds code;\n"
           "  - the database is reachable and its schema version is this binary's;\n"
           "  - each keystore parses (its key is not unlocked: no password is read).\n"
           "\n"
           "  --offline   validate the file only\n"
           "\n"
           "Exit status: 0 all ok, 1 a check failed (or the file is invalid), 2 bad usage.\n");
}

static int report(int ok, const char *fmt, ...) MR_PRINTF(2, 3);

static int report(int ok, const char *fmt, ...)
{
    va_list ap;

    fputs(ok ? "ok   " : "FAIL ", stdout);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    fputc('\n', stdout);
    return ok ? 0 : 1;
}

/* The node client's messages start with the endpoint's redacted URL:
 * drop it (the line names the endpoint already). */
static const char *without_url(const char *msg, const char *url)
{
    char clean[RPC_URL_MAX];
    size_t n;

    rpc_redact_url(url, clean, sizeof(clean));
    n = strlen(clean);
    return strncmp(msg, clean, n) == 0 && msg[n] == ' ' ? msg + n + 1 : msg;
}

static struct rpc_endpoints *endpoint_new(const char *const *urls, size_t n, uint64_t chain_id,
                                          struct mr_error *err)
{
    struct rpc_opts o;
    struct rpc_endpoints *e = NULL;

    rpc_opts_default(&o);
    o.connect_timeout_ms = 3000;
    o.timeout_ms = 10000;
    if (rpc_endpoints_new(urls, n, chain_id, &o, &e, err) != MR_OK)
        return NULL;
    return e;
}

/* Asks each endpoint of ch for its chain id; keeps the good ones in *r. */
static int check_endpoints(const struct config_chain *ch, struct reach *r)
{
    const char *good[CONFIG_MAX_ENDPOINTS];
    size_t n_good = 0;
    int fails = 0;

    for (size_t i = 0; i < ch->n_endpoints; i++) {
        const char *url = ch->endpoints[i];
        struct mr_error err;
        struct rpc_endpoints *e = endpoint_new(&url, 1, ch->chain_id, &err);
        uint64_t id = 0;
        char shown[RPC_URL_MAX];
        int rc = e ? ethrpc_chain_id(e, &id, NULL, &err) : err.code;

        rpc_redact_url(url, shown, sizeof(shown));
        if (rc == MR_OK)
            good[n_good++] = url;
        fails += rc == MR_OK
                     ? report(1, "chains.%s.endpoints[%zu] %s: chain id %llu", ch->key, i, shown,
                              (unsigned long long)id)
                     : report(0, "chains.%s.endpoints[%zu] %s: %s", ch->key, i, shown,
                              without_url(err.msg, url));
        rpc_endpoints_free(e);
    }
    r->e = n_good > 0 ? endpoint_new(good, n_good, ch->chain_id, NULL) : NULL;
    return fails;
}

/* One contract address on one chain. */
static int check_code(const struct config *c, const struct reach *reach, int chain,
                      const char *what, const uint8_t addr[20])
{
    char text[ADDRESS_TEXT_SIZE];
    const char *key = c->chains[chain].key;
    struct mr_error err;
    uint8_t *code = NULL;
    size_t len = 0;
    int rc;

    address_to_checksum(addr, text);
    if (reach[chain].e == NULL)
        return report(0, "%s %s on %s: no endpoint of the chain answered", what, text, key);
    rc = ethrpc_get_code(reach[chain].e, addr, "latest", &code, &len, NULL, &err);
    free(code);
    if (rc != MR_OK)
        return report(0, "%s %s on %s: %s", what, text, key, err.msg);
    if (len == 0)
        return report(0, "%s %s on %s: no code at this address (not deployed on this chain?)",
                      what, text, key);
    return report(1, "%s %s on %s: %zu byte%s of code", what, text, key, len, len == 1 ? "" : "s");
}

static int check_gateways(const struct config *c, const struct reach *reach)
{
    int fails = 0;
    char what[96];

    for (size_t i = 0; i < c->n_gateways; i++) {
        const struct config_gateway *g = &c->gateways[i];
        snprintf(what, sizeof(what), "gateways[%zu].origin.gateway", i);
        fails += check_code(c, reach, g->origin.chain, what, g->origin.gateway);
        snprintf(what, sizeof(what), "gateways[%zu].origin.anchor", i);
        fails += check_code(c, reach, g->origin.chain, what, g->origin.anchor);
        snprintf(what, sizeof(what), "gateways[%zu].auxiliary.cogateway", i);
        fails += check_code(c, reach, g->auxiliary.chain, what, g->auxiliary.gateway);
        snprintf(what, sizeof(what), "gateways[%zu].auxiliary.anchor", i);
        fails += check_code(c, reach, g->auxiliary.chain, what, g->auxiliary.anchor);
    }
    return fails;
}

static int check_deploy_tokens(const struct config *c, const struct reach *reach)
{
    int fails = 0;
    char what[96];

    for (size_t i = 0; c->deploy.present && i < c->deploy.n_pairs; i++) {
        const struct config_deploy_pair *p = &c->deploy.pairs[i];
        snprintf(what, sizeof(what), "deploy.pairs[%zu].value_token", i);
        if (!p->deploy_value_token)
            fails += check_code(c, reach, p->origin, what, p->value_token);
        snprintf(what, sizeof(what), "deploy.pairs[%zu].base_token", i);
        if (!p->deploy_base_token)
            fails += check_code(c, reach, p->origin, what, p->base_token);
    }
    return fails;
}

static int check_database(const struct config *c)
{
    struct mr_error err;
    char where[256];
    PGconn *conn = db_connect(c->database_url, NULL, &err);
    int rc;

    if (conn == NULL)
        return report(0, "database: %s", err.msg);
    db_describe(conn, where, sizeof(where));
    rc = db_check_schema(conn, &err);
    PQfinish(conn);
    if (rc != MR_OK)
        return report(0, "database %s: %s", where, err.msg);
    return report(1, "database %s: schema version %d", where, db_schema_known_version());
}

static int check_key(const struct config_key *k)
{
    struct keyfile kf;
    struct mr_error err;
    char addr[ADDRESS_TEXT_SIZE] = "(no address field: known once unlocked)";
    char pw[CONFIG_KEY_LEN * 2 + 32];

    if (keyfile_load(k->keystore, &kf, &err) != MR_OK)
        return report(0, "keys.%s: %s", k->name, err.msg);
    if (kf.has_address)
        address_to_checksum(kf.address, addr);
    if (k->password_file[0] != '\0')
        snprintf(pw, sizeof(pw), "password file private");
    else
        snprintf(pw, sizeof(pw), "password in $%s", k->password_env);
    return report(1, "keys.%s: keystore parses, address %s; %s (not read)", k->name, addr, pw);
}

static int check_all(const struct config *c)
{
    struct reach reach[CONFIG_MAX_CHAINS];
    int fails = 0;

    memset(reach, 0, sizeof(reach));
    for (size_t i = 0; i < c->n_chains; i++)
        fails += check_endpoints(&c->chains[i], &reach[i]);
    fails += check_gateways(c, reach);
    fails += check_deploy_tokens(c, reach);
    fails += check_database(c);
    for (size_t i = 0; i < c->n_keys; i++)
        fails += check_key(&c->keys[i]);
    for (size_t i = 0; i < c->n_chains; i++)
        rpc_endpoints_free(reach[i].e);
    return fails;
}

static int config_check(int argc, char **argv)
{
    static const struct option opts[] = {
        {"offline", no_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int offline = 0, ch, fails;
    struct config *c;
    struct mr_error err;

    optind = 1;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (ch == 'o')
            offline = 1;
        else if (ch == 'h')
            return config_usage(), CLI_EXIT_OK;
        else
            return cli_usage_error("config", "unknown or incomplete option '%s' (see --help)",
                                   argv[optind - 1]);
    }
    if (argc - optind != 1)
        return cli_usage_error("config", "check needs exactly one FILE (see --help)");
    if (config_load(argv[optind], &c, &err) != MR_OK) {
        fprintf(stderr, "mosaic-relayer config: %s\n", err.msg);
        return CLI_EXIT_FAIL;
    }
    report(1, "%s: valid (%zu chains, %zu gateways, %zu keys%s)", argv[optind], c->n_chains,
           c->n_gateways, c->n_keys, c->deploy.present ? ", deploy" : "");
    fflush(stdout);
    fails = offline ? 0 : check_all(c);
    config_free(c);
    return fails ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}

int cli_config(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        if (argc < 2)
            return cli_usage_error("config", "missing subcommand: check (see --help)");
        config_usage();
        return CLI_EXIT_OK;
    }
    if (strcmp(argv[1], "check") == 0)
        return config_check(argc - 1, argv + 1);
    return cli_usage_error("config", "unknown subcommand '%s' (see --help)", argv[1]);
}
