/*
 * config.h - the relayer's YAML configuration (libyaml), read into one
 * plain struct and validated declaratively.
 *
 * Every error names file:line and says what was expected.  Secrets are never
 * inline: keys come from keystore files and password files (mode 0600) or
 * environment variables.  `config/README.md` documents every field.
 *
 * Shape of the file (see config/devnet.yaml and
 * config/production.example.yaml):
 *
 *   database: { url: "postgresql://..." }        # or url_env: VAR
 *   chains:
 *     origin:                                    # chain key: [a-z][a-z0-9_-]{0,31}
 *       role: origin                             # origin | auxiliary
 *       chain_id: 31337
 *       endpoints: ["http://127.0.0.1:8545"]     # 1..CONFIG_MAX_ENDPOINTS
 *       ws: "ws://127.0.0.1:8545"                # optional newHeads subscription
 *       finality: { confirmations: 2 }           # or { tag: finalized }
 *       quorum: 1                                # endpoints that must agree on anchored roots
 *       poll_interval: 1s
 *       start_block: 0                           # where the watcher starts on a new database
 *       fees: { max_fee_gwei: 500, max_tip_gwei: 10, bump_percent: 12,
 *               stuck_after: 30s, legacy: false }
 *   gateways:                                    # 0..CONFIG_MAX_GATEWAYS pairs
 *     - name: ost-aux1
 *       origin:    { chain: origin, gateway: "0x...", anchor: "0x..." }
 *       auxiliary: { chain: aux1, cogateway: "0x...", anchor: "0x..." }
 *   keys:
 *     facilitator: { keystore: PATH, password_file: PATH }   # or password_env: VAR
 *     anchor:      { keystore: PATH, password_file: PATH }   # organization admin key, optional
 *   relayer:
 *     flows: [stake, redeem, revert]
 *     workers: 4
 *     anchor: { enabled: true, max_interval: 60s }
 *     min_bounty: "0"                            # wei, decimal string
 *     limits: { per_message: "0", per_hour: "0" }  # value-token wei; 0 = no limit
 *     job_timeout: 120s
 *     conservation: { enabled: true, interval: 30s }  # the circuit breaker's monitor
 *   metrics: { listen: "127.0.0.1:9464" }        # optional
 *   log: { level: info, format: auto }           # auto | json | text
 *   deploy:                                      # only for `mosaic-relayer deploy`
 *     deployer: facilitator                      # key name that pays for deployment
 *     owner: "0x..."                             # organization owner (default: deployer)
 *     admin: anchor                              # key name made organization admin (may anchor)
 *     bounty: "100"                              # wei, per message
 *     max_state_roots: 10
 *     max_storage_root_items: 100
 *     state_file: PATH                           # what was deployed, for resuming
 *     output: PATH                               # run config written with the addresses
 *     pairs:
 *       - { name: ost-aux1, origin: origin, auxiliary: aux1,
 *           value_token: "0x..." | deploy, base_token: "0x..." | deploy,
 *           token: { symbol: MOST, name: "Mosaic OST", decimals: 18, supply: "1e27" } }
 *
 * Durations accept "250ms", "30s", "5m", "1h" or a bare number of seconds.
 * Wei amounts are decimal strings, optionally with an exponent when the
 * result is a whole number ("1e18", "2.5e9").  Any value (never a key) may
 * name environment variables: "${NAME}" or "${NAME:-default}"; "$$" is a
 * literal "$".
 */
#ifndef MR_CONFIG_H
#define MR_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "eth/error.h"
#include "eth/u256.h"

/* Largest config file accepted. */
#define CONFIG_MAX_BYTES (1024 * 1024)

#define CONFIG_MAX_CHAINS 16
#define CONFIG_MAX_ENDPOINTS 8
#define CONFIG_MAX_GATEWAYS 64
#define CONFIG_MAX_KEYS 8
#define CONFIG_KEY_LEN 33      /* chain keys, key names, gateway names: 32 chars + NUL */
#define CONFIG_URL_LEN 512
#define CONFIG_PATH_LEN 4096

enum config_role { CONFIG_ROLE_ORIGIN = 1, CONFIG_ROLE_AUXILIARY = 2 };

struct config_fees {
    struct u256 max_fee;       /* wei; maxFeePerGas (or gasPrice) never above */
    struct u256 max_tip;       /* wei; maxPriorityFeePerGas never above */
    int bump_percent;          /* replacement bump, >= 10 */
    int64_t stuck_after_ms;    /* replace when not mined this long */
    int legacy;                /* chain without EIP-1559: type-0 transactions */
};

struct config_chain {
    char key[CONFIG_KEY_LEN];
    enum config_role role;
    uint64_t chain_id;
    char endpoints[CONFIG_MAX_ENDPOINTS][CONFIG_URL_LEN];
    size_t n_endpoints;
    char ws[CONFIG_URL_LEN];   /* "" = poll only */
    uint64_t confirmations;    /* used when !use_finalized_tag */
    int use_finalized_tag;
    int quorum;                /* >= 1, <= n_endpoints */
    int64_t poll_interval_ms;
    uint64_t start_block;
    struct config_fees fees;
    int line;                  /* where the chain is defined, for messages */
};

/* One side of a gateway pair. */
struct config_gateway_side {
    int chain;                 /* index into config.chains */
    uint8_t gateway[20];       /* EIP20Gateway on origin, EIP20CoGateway on auxiliary */
    uint8_t anchor[20];        /* the Anchor on this chain (stores the other chain's roots) */
};

struct config_gateway {
    char name[CONFIG_KEY_LEN];
    struct config_gateway_side origin;
    struct config_gateway_side auxiliary;
    int line;
};

struct config_key {
    char name[CONFIG_KEY_LEN];
    char keystore[CONFIG_PATH_LEN];
    char password_file[CONFIG_PATH_LEN];  /* "" when password_env is used */
    char password_env[CONFIG_KEY_LEN * 2];
    int line;
};

enum config_flow { CONFIG_FLOW_STAKE = 1, CONFIG_FLOW_REDEEM = 2, CONFIG_FLOW_REVERT = 4 };
enum config_log_format { CONFIG_LOG_AUTO = 0, CONFIG_LOG_JSON, CONFIG_LOG_TEXT };

struct config_relayer {
    unsigned flows;            /* CONFIG_FLOW_* bits */
    int workers;
    int anchor_enabled;
    int64_t anchor_max_interval_ms;
    struct u256 min_bounty;
    struct u256 limit_per_message;   /* zero = unlimited */
    struct u256 limit_per_hour;
    int64_t job_timeout_ms;
    /* The conservation monitor (RELIABILITY.md row 24): per pair, utility
     * tokens circulating on auxiliary <= value tokens backing them on
     * origin, checked every interval; a violation trips the pair's breaker. */
    int conservation_enabled;
    int64_t conservation_interval_ms;
};

struct config_deploy_pair {
    char name[CONFIG_KEY_LEN];
    int origin;                /* chain index */
    int auxiliary;
    int deploy_value_token;    /* 1: deploy a new EIP20 token; 0: use value_token */
    uint8_t value_token[20];
    int deploy_base_token;
    uint8_t base_token[20];
    char token_symbol[CONFIG_KEY_LEN];
    char token_name[64];
    uint8_t token_decimals;
    struct u256 token_supply;
    int line;
};

struct config_deploy {
    int present;
    int deployer;              /* key index */
    int admin;                 /* key index, -1 = none */
    int has_owner;
    uint8_t owner[20];
    struct u256 bounty;
    uint64_t max_state_roots;
    uint64_t max_storage_root_items;
    char state_file[CONFIG_PATH_LEN];
    char output[CONFIG_PATH_LEN];
    struct config_deploy_pair pairs[CONFIG_MAX_GATEWAYS];
    size_t n_pairs;
};

struct config {
    char path[CONFIG_PATH_LEN];        /* the file it was read from */
    char database_url[CONFIG_URL_LEN]; /* resolved (url or url_env) */
    char database_url_env[CONFIG_KEY_LEN * 2]; /* the variable it came from, "" = url */
    struct config_chain chains[CONFIG_MAX_CHAINS];
    size_t n_chains;
    struct config_gateway gateways[CONFIG_MAX_GATEWAYS];
    size_t n_gateways;
    struct config_key keys[CONFIG_MAX_KEYS];
    size_t n_keys;
    struct config_relayer relayer;
    char metrics_listen[64];           /* "" = no listener */
    int log_level;                     /* 0 error .. 3 debug */
    enum config_log_format log_format;
    struct config_deploy deploy;
};

/* Reads and validates the file at `path`.  Out: *out (malloc'd; free with
 * config_free).  Errors name path:line and what was expected; nothing
 * secret is read or printed (password files are checked for mode only). */
int config_load(const char *path, struct config **out, struct mr_error *err);

/* The same from text[len] (need not be NUL-terminated, at most
 * CONFIG_MAX_BYTES).  `name` is used in messages and as c->path; relative
 * paths in the text are resolved against `base_dir` (NULL: the current
 * directory).  The fuzzed entry point. */
int config_load_buffer(const char *text, size_t len, const char *name, const char *base_dir,
                       struct config **out, struct mr_error *err);

/* Frees what config_load* returned.  NULL-safe. */
void config_free(struct config *c);

/* Lookups: the index, or -1. */
int config_chain_index(const struct config *c, const char *key);
int config_key_index(const struct config *c, const char *name);
int config_gateway_index(const struct config *c, const char *name);

/* "origin" / "auxiliary" (static). */
const char *config_role_name(enum config_role role);

/* Reads `database.url` (or the variable named by `database.url_env`) from
 * the YAML file at `path` into out[cap], without validating the rest of the
 * file.  Returns MR_OK, MR_ERR_NOTFOUND when the file has neither, or an
 * error naming path:line (syntax, a non-scalar url, an unset variable, a
 * file too big). */
int config_database_url(const char *path, char *out, size_t cap, struct mr_error *err);

#endif /* MR_CONFIG_H */
