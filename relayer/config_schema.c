/*
 * config_schema.c - the configuration file, declared: one row per key with
 * its type, bounds, default and destination (config/README.md documents
 * the same rows), and the few rules that span several keys.
 */
#include "relayer/config_int.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "eth/u256.h"

#define AT(st, m) .off = offsetof(st, m), .size = sizeof(((st *)0)->m)
#define N(a) (sizeof(a) / sizeof((a)[0]))
#define SCHEMA(fields, oneof, check) {fields, N(fields), oneof, check}

/* ---- words ---- */

static const struct cfg_enum roles[] = {
    {"origin", CONFIG_ROLE_ORIGIN}, {"auxiliary", CONFIG_ROLE_AUXILIARY}, {NULL, 0}};
static const struct cfg_enum tags[] = {{"finalized", 1}, {NULL, 0}};
static const struct cfg_enum flows[] = {{"stake", CONFIG_FLOW_STAKE},
                                        {"redeem", CONFIG_FLOW_REDEEM},
                                        {"revert", CONFIG_FLOW_REVERT},
                                        {NULL, 0}};
static const struct cfg_enum levels[] = {
    {"error", 0}, {"warn", 1}, {"info", 2}, {"debug", 3}, {NULL, 0}};
static const struct cfg_enum formats[] = {{"auto", CONFIG_LOG_AUTO},
                                          {"json", CONFIG_LOG_JSON},
                                          {"text", CONFIG_LOG_TEXT},
                                          {NULL, 0}};

/* ---- rules across keys ---- */

/* The line of map.a.b (or of map.a, or of map). */
static int line_at(struct cfg_ctx *x, yaml_node_t *map, const char *a, const char *b)
{
    yaml_node_t *sub = cfg_lookup(x->doc, map, a);

    return sub != NULL ? cfg_line_of(x, sub, b, cfg_line(sub)) : cfg_line(map);
}

/* Fails at map.a[.b] with the key path extended accordingly. */
static int fail_at(struct cfg_ctx *x, int code, yaml_node_t *map, const char *a, const char *b,
                   const char *what, const char *expected)
{
    size_t kl = cfg_push_key(x, a);
    int line = b != NULL ? line_at(x, map, a, b) : cfg_line_of(x, map, a, 0), rc;

    if (b != NULL)
        cfg_push_key(x, b);
    rc = cfg_fail(x, code, line, "%s; expected %s", what, expected);
    cfg_pop(x, kl);
    return rc;
}

static int database_check(struct cfg_ctx *x, void *base, yaml_node_t *map, size_t index)
{
    struct config *c = base;
    const char *v;
    char what[96];

    (void)index;
    if (c->database_url_env[0] == '\0')
        return MR_OK;
    v = getenv(c->database_url_env);
    if (v != NULL && strlen(v) < sizeof(c->database_url)) {
        memcpy(c->database_url, v, strlen(v) + 1);
        return MR_OK;
    }
    snprintf(what, sizeof(what), "the value of $%s is too long", c->database_url_env);
    return fail_at(x, MR_ERR_TOOBIG, map, "url_env", NULL, what, "at most 511 characters");
}

static int chain_check(struct cfg_ctx *x, void *base, yaml_node_t *map, size_t index)
{
    struct config_chain *ch = base;
    char what[120];

    if ((size_t)ch->quorum > ch->n_endpoints) {
        snprintf(what, sizeof(what), "%d is more than the %zu endpoint%s", ch->quorum,
                 ch->n_endpoints, ch->n_endpoints == 1 ? "" : "s");
        return fail_at(x, MR_ERR_RANGE, map, "quorum", NULL, what,
                       "at most the number of endpoints");
    }
    if (u256_cmp(&ch->fees.max_tip, &ch->fees.max_fee) > 0)
        return fail_at(x, MR_ERR_RANGE, map, "fees", "max_tip_gwei", "above max_fee_gwei",
                       "a tip cap no higher than the fee cap");
    for (size_t j = 0; j < index; j++) {
        const struct config_chain *o = &x->c->chains[j];
        if (o->chain_id == ch->chain_id) {
            snprintf(what, sizeof(what), "chain id %llu is also chains.%s's (line %d)",
                     (unsigned long long)ch->chain_id, o->key, o->line);
            return fail_at(x, MR_ERR_INVALID, map, "chain_id", NULL, what,
                           "a distinct chain id per chain");
        }
    }
    return MR_OK;
}

/* A pair's side on a chain of the wrong role. */
static int role_check(struct cfg_ctx *x, yaml_node_t *map, const char *side, const char *key,
                      int chain, enum config_role want)
{
    const struct config_chain *ch = &x->c->chains[chain];
    char what[96], expected[48];

    if (ch->role == want)
        return MR_OK;
    snprintf(what, sizeof(what), "chain '%s' has role %s", ch->key, config_role_name(ch->role));
    snprintf(expected, sizeof(expected), "a chain with role %s", config_role_name(want));
    return fail_at(x, MR_ERR_INVALID, map, side, key, what, expected);
}

static int gateway_check(struct cfg_ctx *x, void *base, yaml_node_t *map, size_t index)
{
    const struct config_gateway *g = base;
    int rc;

    if ((rc = role_check(x, map, "origin", "chain", g->origin.chain, CONFIG_ROLE_ORIGIN)) ||
        (rc = role_check(x, map, "auxiliary", "chain", g->auxiliary.chain,
                         CONFIG_ROLE_AUXILIARY)))
        return rc;
    for (size_t j = 0; j < index; j++) {
        const struct config_gateway *o = &x->c->gateways[j];
        char what[96];
        if (strcmp(o->name, g->name) == 0) {
            snprintf(what, sizeof(what), "'%s' is also the name of gateways[%zu]", g->name, j);
            return fail_at(x, MR_ERR_INVALID, map, "name", NULL, what, "a distinct name");
        }
        if (o->origin.chain == g->origin.chain && memcmp(o->origin.gateway, g->origin.gateway,
                                                         20) == 0) {
            snprintf(what, sizeof(what), "the gateway of gateways[%zu] (%s) again", j, o->name);
            return fail_at(x, MR_ERR_INVALID, map, "origin", "gateway", what,
                           "one pair per gateway");
        }
    }
    return MR_OK;
}

static int pair_check(struct cfg_ctx *x, void *base, yaml_node_t *map, size_t index)
{
    const struct config_deploy_pair *p = base;
    int rc;

    if ((rc = role_check(x, map, "origin", NULL, p->origin, CONFIG_ROLE_ORIGIN)) ||
        (rc = role_check(x, map, "auxiliary", NULL, p->auxiliary, CONFIG_ROLE_AUXILIARY)))
        return rc;
    for (size_t j = 0; j < index; j++) {
        if (strcmp(x->c->deploy.pairs[j].name, p->name) == 0) {
            char what[96];
            snprintf(what, sizeof(what), "'%s' is also the name of pairs[%zu]", p->name, j);
            return fail_at(x, MR_ERR_INVALID, map, "name", NULL, what, "a distinct name");
        }
    }
    return MR_OK;
}

/* ---- database ---- */

static const struct cfg_field database_fields[] = {
    {"url", CT_DB_URL, 0, AT(struct config, database_url)},
    {"url_env", CT_ENV, CF_ENV_SET, AT(struct config, database_url_env)},
};
static const struct cfg_oneof database_oneof[] = {{"url", "url_env", 1}, {NULL, NULL, 0}};
static const struct cfg_schema database_schema =
    SCHEMA(database_fields, database_oneof, database_check);

/* ---- chains ---- */

#define CH struct config_chain
static const struct cfg_field finality_fields[] = {
    {"confirmations", CT_INT, 0, AT(CH, confirmations), .min = 0, .max = 10000},
    {"tag", CT_ENUM, 0, AT(CH, use_finalized_tag), .more = tags},
};
static const struct cfg_oneof finality_oneof[] = {{"confirmations", "tag", 1}, {NULL, NULL, 0}};
static const struct cfg_schema finality_schema = SCHEMA(finality_fields, finality_oneof, NULL);

static const struct cfg_field fees_fields[] = {
    {"max_fee_gwei", CT_GWEI, CF_NONZERO, AT(CH, fees.max_fee), .def = "500"},
    {"max_tip_gwei", CT_GWEI, 0, AT(CH, fees.max_tip), .def = "10"},
    {"bump_percent", CT_INT, 0, AT(CH, fees.bump_percent), .min = 10, .max = 1000, .def = "12"},
    {"stuck_after", CT_DURATION, 0, AT(CH, fees.stuck_after_ms), .min = 1000,
     .max = 86400000, .def = "30s"},
    {"legacy", CT_BOOL, 0, AT(CH, fees.legacy), .def = "false"},
};
static const struct cfg_schema fees_schema = SCHEMA(fees_fields, NULL, NULL);

static const struct cfg_field chain_fields[] = {
    {"role", CT_ENUM, CF_REQUIRED, AT(CH, role), .more = roles},
    {"chain_id", CT_INT, CF_REQUIRED, AT(CH, chain_id), .min = 1, .max = INT64_MAX},
    {"endpoints", CT_URLS, CF_REQUIRED, AT(CH, endpoints), .min = 1, .max = CONFIG_MAX_ENDPOINTS,
     .aux_off = offsetof(CH, n_endpoints)},
    {"ws", CT_WS_URL, 0, AT(CH, ws)},
    {"finality", CT_SECTION, CF_REQUIRED, 0, 0, .more = &finality_schema,
     .expect = "{ confirmations: N } or { tag: finalized }"},
    {"quorum", CT_INT, 0, AT(CH, quorum), .min = 1, .max = CONFIG_MAX_ENDPOINTS, .def = "1"},
    {"poll_interval", CT_DURATION, 0, AT(CH, poll_interval_ms), .min = 50, .max = 3600000,
     .def = "1s"},
    {"start_block", CT_INT, 0, AT(CH, start_block), .min = 0, .max = INT64_MAX, .def = "0"},
    {"fees", CT_SECTION, 0, 0, 0, .more = &fees_schema},
};
static const struct cfg_schema chain_schema = SCHEMA(chain_fields, NULL, chain_check);
static const struct cfg_coll chains_coll = {&chain_schema, sizeof(CH),
                                            offsetof(struct config, n_chains), offsetof(CH, key),
                                            offsetof(CH, line)};
#undef CH

/* ---- keys ---- */

#define KY struct config_key
static const struct cfg_field key_fields[] = {
    {"keystore", CT_SECRET_FILE, CF_REQUIRED, AT(KY, keystore),
     .expect = "a v3 keystore file only its owner can read (mode 0600)"},
    {"password_file", CT_SECRET_FILE, 0, AT(KY, password_file),
     .expect = "a password file only its owner can read (mode 0600)"},
    {"password_env", CT_ENV, CF_ENV_SET, AT(KY, password_env)},
};
static const struct cfg_oneof key_oneof[] = {{"password_file", "password_env", 1},
                                             {NULL, NULL, 0}};
static const struct cfg_schema key_schema = SCHEMA(key_fields, key_oneof, NULL);
static const struct cfg_coll keys_coll = {&key_schema, sizeof(KY),
                                          offsetof(struct config, n_keys), offsetof(KY, name),
                                          offsetof(KY, line)};
#undef KY

/* ---- gateways ---- */

#define GW struct config_gateway
static const struct cfg_field origin_side_fields[] = {
    {"chain", CT_CHAIN_REF, CF_REQUIRED, AT(GW, origin.chain)},
    {"gateway", CT_ADDR, CF_REQUIRED, AT(GW, origin.gateway)},
    {"anchor", CT_ADDR, CF_REQUIRED, AT(GW, origin.anchor)},
};
static const struct cfg_schema origin_side_schema = SCHEMA(origin_side_fields, NULL, NULL);
static const struct cfg_field aux_side_fields[] = {
    {"chain", CT_CHAIN_REF, CF_REQUIRED, AT(GW, auxiliary.chain)},
    {"cogateway", CT_ADDR, CF_REQUIRED, AT(GW, auxiliary.gateway)},
    {"anchor", CT_ADDR, CF_REQUIRED, AT(GW, auxiliary.anchor)},
};
static const struct cfg_schema aux_side_schema = SCHEMA(aux_side_fields, NULL, NULL);
static const struct cfg_field gateway_fields[] = {
    {"name", CT_NAME, CF_REQUIRED, AT(GW, name)},
    {"origin", CT_SECTION, CF_REQUIRED, 0, 0, .more = &origin_side_schema,
     .expect = "{ chain: KEY, gateway: ADDRESS, anchor: ADDRESS }"},
    {"auxiliary", CT_SECTION, CF_REQUIRED, 0, 0, .more = &aux_side_schema,
     .expect = "{ chain: KEY, cogateway: ADDRESS, anchor: ADDRESS }"},
};
static const struct cfg_schema gateway_schema = SCHEMA(gateway_fields, NULL, gateway_check);
static const struct cfg_coll gateways_coll = {&gateway_schema, sizeof(GW),
                                              offsetof(struct config, n_gateways), 0,
                                              offsetof(GW, line)};
#undef GW

/* ---- relayer, metrics, log ---- */

#define RL struct config
static const struct cfg_field anchor_fields[] = {
    {"enabled", CT_BOOL, 0, AT(RL, relayer.anchor_enabled), .def = "true"},
    {"max_interval", CT_DURATION, 0, AT(RL, relayer.anchor_max_interval_ms), .min = 1000,
     .max = 86400000, .def = "60s"},
};
static const struct cfg_schema anchor_schema = SCHEMA(anchor_fields, NULL, NULL);
static const struct cfg_field limits_fields[] = {
    {"per_message", CT_WEI, 0, AT(RL, relayer.limit_per_message), .def = "0"},
    {"per_hour", CT_WEI, 0, AT(RL, relayer.limit_per_hour), .def = "0"},
};
static const struct cfg_schema limits_schema = SCHEMA(limits_fields, NULL, NULL);
static const struct cfg_field conservation_fields[] = {
    {"enabled", CT_BOOL, 0, AT(RL, relayer.conservation_enabled), .def = "true"},
    {"interval", CT_DURATION, 0, AT(RL, relayer.conservation_interval_ms), .min = 200,
     .max = 86400000, .def = "30s"},
};
static const struct cfg_schema conservation_schema = SCHEMA(conservation_fields, NULL, NULL);
static const struct cfg_field relayer_fields[] = {
    {"flows", CT_FLAGS, 0, AT(RL, relayer.flows), .min = 1, .more = flows,
     .def = "stake,redeem,revert"},
    {"workers", CT_INT, 0, AT(RL, relayer.workers), .min = 1, .max = 256, .def = "4"},
    {"anchor", CT_SECTION, 0, 0, 0, .more = &anchor_schema},
    {"min_bounty", CT_WEI, 0, AT(RL, relayer.min_bounty), .def = "0"},
    {"limits", CT_SECTION, 0, 0, 0, .more = &limits_schema},
    {"job_timeout", CT_DURATION, 0, AT(RL, relayer.job_timeout_ms), .min = 1000, .max = 3600000,
     .def = "120s"},
    {"conservation", CT_SECTION, 0, 0, 0, .more = &conservation_schema},
};
static const struct cfg_schema relayer_schema = SCHEMA(relayer_fields, NULL, NULL);

static const struct cfg_field metrics_fields[] = {
    {"listen", CT_LISTEN, 0, AT(RL, metrics_listen)},
};
static const struct cfg_schema metrics_schema = SCHEMA(metrics_fields, NULL, NULL);

static const struct cfg_field log_fields[] = {
    {"level", CT_ENUM, 0, AT(RL, log_level), .more = levels, .def = "info"},
    {"format", CT_ENUM, 0, AT(RL, log_format), .more = formats, .def = "auto"},
};
static const struct cfg_schema log_schema = SCHEMA(log_fields, NULL, NULL);
#undef RL

/* ---- deploy ---- */

#define DP struct config_deploy_pair
static const struct cfg_field token_fields[] = {
    {"symbol", CT_STR, 0, AT(DP, token_symbol), .def = "MOST"},
    {"name", CT_STR, 0, AT(DP, token_name), .def = "Mosaic OST"},
    {"decimals", CT_INT, 0, AT(DP, token_decimals), .min = 0, .max = 77, .def = "18"},
    {"supply", CT_WEI, CF_NONZERO, AT(DP, token_supply), .def = "1e27"},
};
static const struct cfg_schema token_schema = SCHEMA(token_fields, NULL, NULL);
static const struct cfg_field pair_fields[] = {
    {"name", CT_NAME, CF_REQUIRED, AT(DP, name)},
    {"origin", CT_CHAIN_REF, CF_REQUIRED, AT(DP, origin)},
    {"auxiliary", CT_CHAIN_REF, CF_REQUIRED, AT(DP, auxiliary)},
    {"value_token", CT_ADDR_DEPLOY, 0, AT(DP, value_token), .def = "deploy",
     .aux_off = offsetof(DP, deploy_value_token)},
    {"base_token", CT_ADDR_DEPLOY, 0, AT(DP, base_token), .def = "deploy",
     .aux_off = offsetof(DP, deploy_base_token)},
    {"token", CT_SECTION, 0, 0, 0, .more = &token_schema},
};
static const struct cfg_schema pair_schema = SCHEMA(pair_fields, NULL, pair_check);
static const struct cfg_coll pairs_coll = {&pair_schema, sizeof(DP),
                                           offsetof(struct config, deploy.n_pairs),
                                           offsetof(DP, name), offsetof(DP, line)};
#undef DP

#define DE struct config
static const struct cfg_field deploy_fields[] = {
    {"deployer", CT_KEY_REF, CF_REQUIRED, AT(DE, deploy.deployer)},
    {"owner", CT_ADDR, CF_HAS, AT(DE, deploy.owner), .aux_off = offsetof(DE, deploy.has_owner)},
    {"admin", CT_KEY_REF, 0, AT(DE, deploy.admin)},
    {"bounty", CT_WEI, 0, AT(DE, deploy.bounty), .def = "100"},
    {"max_state_roots", CT_INT, 0, AT(DE, deploy.max_state_roots), .min = 1, .max = 100000,
     .def = "100"},
    {"max_storage_root_items", CT_INT, 0, AT(DE, deploy.max_storage_root_items), .min = 1,
     .max = 100000, .def = "100"},
    {"state_file", CT_PATH, 0, AT(DE, deploy.state_file), .def = "deploy-state.json"},
    {"output", CT_PATH, 0, AT(DE, deploy.output), .def = "deployed.yaml"},
    {"pairs", CT_LIST, CF_REQUIRED, AT(DE, deploy.pairs), .min = 1, .max = CONFIG_MAX_GATEWAYS,
     .more = &pairs_coll},
};
static const struct cfg_schema deploy_schema = SCHEMA(deploy_fields, NULL, NULL);
#undef DE

/* ---- the file ---- */

static const struct cfg_field top_fields[] = {
    {"database", CT_SECTION, CF_REQUIRED, 0, 0, .more = &database_schema,
     .expect = "{ url: CONNINFO } or { url_env: VAR }"},
    {"chains", CT_NAMED_MAP, CF_REQUIRED, AT(struct config, chains), .min = 1,
     .max = CONFIG_MAX_CHAINS, .more = &chains_coll},
    {"keys", CT_NAMED_MAP, 0, AT(struct config, keys), .min = 0, .max = CONFIG_MAX_KEYS,
     .more = &keys_coll},
    {"gateways", CT_LIST, 0, AT(struct config, gateways), .min = 0, .max = CONFIG_MAX_GATEWAYS,
     .more = &gateways_coll},
    {"relayer", CT_SECTION, 0, 0, 0, .more = &relayer_schema},
    {"metrics", CT_SECTION, 0, 0, 0, .more = &metrics_schema},
    {"log", CT_SECTION, 0, 0, 0, .more = &log_schema},
    {"deploy", CT_SECTION, CF_HAS, 0, 0, .more = &deploy_schema,
     .aux_off = offsetof(struct config, deploy.present)},
};
const struct cfg_schema cfg_top_schema = SCHEMA(top_fields, NULL, NULL);
