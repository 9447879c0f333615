/*
 * deploy.c - the Mosaic contract set, deployed step by step through the
 * transaction manager (see deploy.h).
 *
 * Layout: artifacts (relayer/artifact.h does loading, linking and
 * encoding; here, names and libraries as steps); the plan (steps
 * and their dependencies); chain and key set-up with the start-up checks;
 * one step's life (skip, adopt, send, finish); the run loop.
 */
#include "relayer/deploy.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "chain/ethrpc.h"
#include "chain/rpc.h"
#include "db/db.h"
#include "db/migrate.h"
#include "db/txstore.h"
#include "eth/abi.h"
#include "eth/address.h"
#include "eth/hex.h"
#include "relayer/artifact.h"
#include "relayer/cli.h"
#include "relayer/deploy_state.h"
#include "relayer/keyfile.h"
#include "relayer/signer.h"
#include "relayer/txm.h"

#define ART_MAX 64
#define MAX_STEPS 1024
#define MAX_DEPS 16
#define WORKER_EXPIRY UINT64_MAX   /* block height: "never" */

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int64_t ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static const char *hexs(const uint8_t *p, size_t n, char *out, size_t cap)
{
    hex_encode_data(p, n, out, cap);
    return out;
}

/* ================================================================ artifacts */

/* One compiled contract, build/contracts/<Name>.json (relayer/artifact.h). */
struct art {
    char path[CONFIG_PATH_LEN];
    struct artifact a;
};

static int valid_name(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n >= DSTATE_CONTRACT_LEN)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') ||
              (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
            return 0;
    return 1;
}

/* Loads <dir>/<name>.json; its contractName must be `name`. */
static int art_load(const char *dir, const char *name, struct art *a, struct mr_error *err)
{
    int n = snprintf(a->path, sizeof(a->path), "%s/%s.json", dir, name), rc;

    memset(&a->a, 0, sizeof(a->a));
    if (!valid_name(name) || n < 0 || (size_t)n >= sizeof(a->path))
        return mr_fail(err, MR_ERR_INVALID, "bad contract name \"%.64s\"", name);
    rc = artifact_load(a->path, &a->a, err);
    if (rc == MR_ERR_IO || rc == MR_ERR_NOTFOUND) {
        char why[MR_ERROR_MSG_LEN];

        snprintf(why, sizeof(why), "%s", err->msg);
        return mr_fail(err, MR_ERR_NOTFOUND, "%s (build the contracts: make contracts)", why);
    }
    if (rc == MR_OK && strcmp(a->a.name, name) != 0)
        rc = mr_fail(err, MR_ERR_INVALID, "%s: contractName is \"%s\", not %s", a->path,
                     a->a.name, name);
    return rc;
}

/* The library of the creation code's link i, or NULL when an earlier link
 * names it already: each library once. */
static const char *art_lib(const struct art *a, size_t i)
{
    const char *lib = a->a.links[i].library;

    for (size_t j = 0; j < i; j++)
        if (strcmp(a->a.links[j].library, lib) == 0)
            return NULL;
    return lib;
}

/* "(type,...)" of the constructor: "()" without one. */
static const char *art_ctor_params(const struct art *a)
{
    const struct artifact_entry *c = artifact_find(&a->a, ARTIFACT_CONSTRUCTOR, NULL);

    return c != NULL ? c->signature + strlen("constructor") : "()";
}

/* ===================================================================== plan */

enum role {
    R_LIB, R_TOKEN, R_ORG, R_ANCHOR, R_GATEWAY, R_UTILITY, R_COGATEWAY,
    R_SET_COGATEWAY, R_ACTIVATE, R_SET_COANCHOR
};

enum sstate { S_TODO, S_SENT, S_DONE };

struct step {
    char name[DSTATE_NAME_LEN];
    enum role role;
    int chain;                 /* config chain index */
    int remote;                /* anchors: the chain whose roots it stores */
    int pair;                  /* deploy pair index, -1: shared by the chain's pairs */
    int base;                  /* R_TOKEN: the base token (else the value token) */
    int external;              /* R_TOKEN: a configured address, nothing to deploy */
    int art;                   /* artifact index (creations and calls' targets), -1 */
    int deps[MAX_DEPS];
    size_t n_deps;
    int target, arg;           /* calls: the steps whose addresses are called / passed */
    int by_org;                /* sent by the organization key */
    /* progress */
    enum sstate st;
    int64_t tx_id;
    int64_t sent_at;
    uint8_t address[20];
    struct dstate_entry rec;
};

struct dchain {
    int used;
    const struct config_chain *cc;
    struct rpc_endpoints *rpc;
    struct txm txm;            /* the deployer's */
    struct txm txm_org;        /* the organization key's (== txm when the same key) */
    int funded_checked;
};

struct deploy {
    const struct config *cfg;
    const struct deploy_opts *o;
    FILE *out;
    const char *dir;
    PGconn *db;
    struct signer *deployer, *org;
    uint8_t deployer_addr[20], owner[20], admin[20], worker[20];
    struct dchain chains[CONFIG_MAX_CHAINS];
    struct art arts[ART_MAX];
    size_t n_arts;
    struct step *steps;
    size_t n_steps;
    struct dstate st;
    struct deploy_report rep;
    int64_t wait_ms, poll_ms;
};

static void progress(struct deploy *d, const char *fmt, ...) MR_PRINTF(2, 3);
static void progress(struct deploy *d, const char *fmt, ...)
{
    va_list ap;

    if (d->out == NULL)
        return;
    va_start(ap, fmt);
    fputs("deploy: ", d->out);
    vfprintf(d->out, fmt, ap);
    fputc('\n', d->out);
    fflush(d->out);
    va_end(ap);
}

static const char *chain_key(const struct deploy *d, int c)
{
    return d->cfg->chains[c].key;
}

static int art_get(struct deploy *d, const char *name, struct mr_error *err)
{
    for (size_t i = 0; i < d->n_arts; i++)
        if (strcmp(d->arts[i].a.name, name) == 0)
            return (int)i;
    if (d->n_arts == ART_MAX)
        return mr_fail(err, MR_ERR_TOOBIG, "more than %d contracts", ART_MAX);
    if (art_load(d->dir, name, &d->arts[d->n_arts], err) != MR_OK) {
        artifact_free(&d->arts[d->n_arts].a);
        return err ? err->code : MR_ERR_INVALID;
    }
    return (int)d->n_arts++;
}

/* A step name into out[DSTATE_NAME_LEN]; MR_ERR_TOOBIG if it does not fit. */
static int step_name(char *out, struct mr_error *err, const char *fmt, ...) MR_PRINTF(3, 4);
static int step_name(char *out, struct mr_error *err, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(out, DSTATE_NAME_LEN, fmt, ap);
    va_end(ap);
    if (n < 0 || n >= DSTATE_NAME_LEN)
        return mr_fail(err, MR_ERR_TOOBIG, "step name %s... is too long", out);
    return MR_OK;
}

static int find_step(const struct deploy *d, const char *name)
{
    for (size_t i = 0; i < d->n_steps; i++)
        if (strcmp(d->steps[i].name, name) == 0)
            return (int)i;
    return -1;
}

static int new_step(struct deploy *d, const char *name, enum role role, int chain,
                    struct mr_error *err)
{
    struct step *s;

    if (d->n_steps == MAX_STEPS)
        return mr_fail(err, MR_ERR_TOOBIG, "more than %d deployment steps", MAX_STEPS);
    s = &d->steps[d->n_steps];
    memset(s, 0, sizeof(*s));
    snprintf(s->name, sizeof(s->name), "%s", name);
    s->role = role;
    s->chain = chain;
    s->remote = s->pair = s->art = s->target = s->arg = -1;
    return (int)d->n_steps++;
}

static int add_dep(struct deploy *d, int s, int dep, struct mr_error *err)
{
    struct step *st = &d->steps[s];

    for (size_t i = 0; i < st->n_deps; i++)
        if (st->deps[i] == dep)
            return MR_OK;
    if (st->n_deps == MAX_DEPS)
        return mr_fail(err, MR_ERR_TOOBIG, "step %s: too many dependencies", st->name);
    st->deps[st->n_deps++] = dep;
    return MR_OK;
}

static int add_create(struct deploy *d, const char *name, enum role role, int chain,
                      const char *contract, int depth, struct mr_error *err);

/* The function a setup call sends. */
static const char *call_sig(enum role r)
{
    switch (r) {
    case R_SET_COGATEWAY: return "setCoGateway(address)";
    case R_ACTIVATE: return "activateGateway(address)";
    case R_SET_COANCHOR: return "setCoAnchorAddress(address)";
    default: return NULL;
    }
}

/* The libraries artifact `a` links, as steps on `chain`, made dependencies
 * of step s. */
static int add_libs(struct deploy *d, int s, int a, int chain, int depth, struct mr_error *err)
{
    for (size_t i = 0; i < d->arts[a].a.n_links; i++) {
        const char *lib = art_lib(&d->arts[a], i);
        char name[DSTATE_NAME_LEN];
        int l;
        if (lib == NULL)
            continue;
        if (step_name(name, err, "%s.lib.%s", chain_key(d, chain), lib) != MR_OK)
            return err->code;
        l = add_create(d, name, R_LIB, chain, lib, depth + 1, err);
        if (l < 0 || add_dep(d, s, l, err) != MR_OK)
            return l < 0 ? l : err->code;
    }
    return MR_OK;
}

/* A creation step (once per name); its libraries come first. */
static int add_create(struct deploy *d, const char *name, enum role role, int chain,
                      const char *contract, int depth, struct mr_error *err)
{
    int s = find_step(d, name), a;

    if (s >= 0)
        return s;
    if (depth > 8)
        return mr_fail(err, MR_ERR_INVALID, "libraries nested too deep at %s", contract);
    a = art_get(d, contract, err);
    if (a < 0)
        return a;
    s = new_step(d, name, role, chain, err);
    if (s < 0)
        return s;
    d->steps[s].art = a;
    /* Libraries are added after the step (they land later in the list but
     * the loop follows dependencies, not list order). */
    if (add_libs(d, s, a, chain, depth, err) != MR_OK)
        return err->code;
    return s;
}

static int add_call(struct deploy *d, const char *name, enum role role, int target, int arg,
                    struct mr_error *err)
{
    int s = find_step(d, name);

    if (s >= 0)
        return s;
    s = new_step(d, name, role, d->steps[target].chain, err);
    if (s < 0)
        return s;
    d->steps[s].target = target;
    d->steps[s].arg = arg;
    d->steps[s].art = d->steps[target].art;
    d->steps[s].by_org = 1;
    if (add_dep(d, s, target, err) != MR_OK || add_dep(d, s, arg, err) != MR_OK)
        return err->code;
    return s;
}

static int deps(struct deploy *d, int s, const int *list, size_t n, struct mr_error *err)
{
    for (size_t i = 0; i < n; i++)
        if (add_dep(d, s, list[i], err) != MR_OK)
            return err->code;
    return MR_OK;
}

/* The chain-wide organization and the anchor of `remote` on `chain`. */
static int plan_chain(struct deploy *d, int chain, int remote, int *org, int *anchor,
                      struct mr_error *err)
{
    char name[DSTATE_NAME_LEN];

    snprintf(name, sizeof(name), "%s.organization", chain_key(d, chain));
    *org = add_create(d, name, R_ORG, chain, "Organization", 0, err);
    if (*org < 0)
        return *org;
    snprintf(name, sizeof(name), "%s.anchor.%s", chain_key(d, chain), chain_key(d, remote));
    *anchor = add_create(d, name, R_ANCHOR, chain, "Anchor", 0, err);
    if (*anchor < 0)
        return *anchor;
    d->steps[*anchor].remote = remote;
    return add_dep(d, *anchor, *org, err);
}

static int plan_token(struct deploy *d, size_t p, int base, int *out, struct mr_error *err)
{
    const struct config_deploy_pair *dp = &d->cfg->deploy.pairs[p];
    char name[DSTATE_NAME_LEN];
    int deploy_it = base ? dp->deploy_base_token : dp->deploy_value_token;

    snprintf(name, sizeof(name), "%s.%s", dp->name, base ? "base_token" : "value_token");
    if (deploy_it) {
        *out = add_create(d, name, R_TOKEN, dp->origin, "EIP20Token", 0, err);
    } else {
        *out = new_step(d, name, R_TOKEN, dp->origin, err);
        if (*out >= 0) {
            d->steps[*out].external = 1;
            memcpy(d->steps[*out].address, base ? dp->base_token : dp->value_token, 20);
        }
    }
    if (*out < 0)
        return *out;
    d->steps[*out].pair = (int)p;
    d->steps[*out].base = base;
    return MR_OK;
}

/* Optional: the anchors' informational link to each other, when the
 * Anchor has setCoAnchorAddress(address). */
static int plan_coanchors(struct deploy *d, int anc_o, int anc_x, struct mr_error *err)
{
    const struct art *a = &d->arts[d->steps[anc_o].art];
    char name[DSTATE_NAME_LEN];
    int s;

    if (artifact_find_signature(&a->a, call_sig(R_SET_COANCHOR)) == NULL)
        return MR_OK;
    if (step_name(name, err, "%s.setCoAnchorAddress", d->steps[anc_o].name) != MR_OK)
        return err->code;
    if ((s = add_call(d, name, R_SET_COANCHOR, anc_o, anc_x, err)) < 0)
        return s;
    if (step_name(name, err, "%s.setCoAnchorAddress", d->steps[anc_x].name) != MR_OK)
        return err->code;
    s = add_call(d, name, R_SET_COANCHOR, anc_x, anc_o, err);
    return s < 0 ? s : MR_OK;
}

static int plan_pair(struct deploy *d, size_t p, struct mr_error *err)
{
    const struct config_deploy_pair *dp = &d->cfg->deploy.pairs[p];
    int o = dp->origin, x = dp->auxiliary;
    int org_o, org_x, anc_o, anc_x, val, base, gw, ut, cgw, s;
    char name[DSTATE_NAME_LEN];

    if (plan_chain(d, o, x, &org_o, &anc_o, err) != MR_OK ||
        plan_chain(d, x, o, &org_x, &anc_x, err) != MR_OK ||
        plan_token(d, p, 0, &val, err) != MR_OK || plan_token(d, p, 1, &base, err) != MR_OK)
        return err->code;
    snprintf(name, sizeof(name), "%s.gateway", dp->name);
    gw = add_create(d, name, R_GATEWAY, o, "EIP20Gateway", 0, err);
    if (gw < 0 || deps(d, gw, (int[]){val, base, anc_o, org_o}, 4, err) != MR_OK)
        return err->code;
    snprintf(name, sizeof(name), "%s.utility_token", dp->name);
    ut = add_create(d, name, R_UTILITY, x, "UtilityToken", 0, err);
    if (ut < 0 || deps(d, ut, (int[]){val, org_x}, 2, err) != MR_OK)
        return err->code;
    snprintf(name, sizeof(name), "%s.cogateway", dp->name);
    cgw = add_create(d, name, R_COGATEWAY, x, "EIP20CoGateway", 0, err);
    if (cgw < 0 || deps(d, cgw, (int[]){val, ut, anc_x, org_x, gw}, 5, err) != MR_OK)
        return err->code;
    d->steps[gw].pair = d->steps[ut].pair = d->steps[cgw].pair = (int)p;
    snprintf(name, sizeof(name), "%s.setCoGateway", dp->name);
    if ((s = add_call(d, name, R_SET_COGATEWAY, ut, cgw, err)) < 0)
        return s;
    d->steps[s].pair = (int)p;
    snprintf(name, sizeof(name), "%s.activateGateway", dp->name);
    if ((s = add_call(d, name, R_ACTIVATE, gw, cgw, err)) < 0)
        return s;
    d->steps[s].pair = (int)p;
    return plan_coanchors(d, anc_o, anc_x, err);
}

/* The step of pair p with role r (and base flag for tokens). */
static int pair_step(const struct deploy *d, int p, enum role r, int base)
{
    for (size_t i = 0; i < d->n_steps; i++)
        if (d->steps[i].pair == p && d->steps[i].role == r && (r != R_TOKEN || d->steps[i].base == base))
            return (int)i;
    return -1;
}

/* The step of role r on chain c (organization) or on c for remote (anchor). */
static int chain_step(const struct deploy *d, int c, enum role r, int remote)
{
    for (size_t i = 0; i < d->n_steps; i++)
        if (d->steps[i].chain == c && d->steps[i].role == r && (r != R_ANCHOR || d->steps[i].remote == remote))
            return (int)i;
    return -1;
}

/* ======================================================== chains and keys */

static int open_chain(struct deploy *d, int c, struct mr_error *err)
{
    struct dchain *ch = &d->chains[c];
    const struct config_chain *cc = &d->cfg->chains[c];
    const char *urls[CONFIG_MAX_ENDPOINTS];
    struct rpc_opts ro;
    uint64_t id = 0;
    int rc;

    if (ch->used)
        return MR_OK;
    ch->cc = cc;
    for (size_t i = 0; i < cc->n_endpoints; i++)
        urls[i] = cc->endpoints[i];
    rpc_opts_default(&ro);
    ro.timeout_ms = 30000;
    rc = rpc_endpoints_new(urls, cc->n_endpoints, cc->chain_id, &ro, &ch->rpc, err);
    if (rc == MR_OK)
        rc = ethrpc_chain_id(ch->rpc, &id, NULL, err);
    if (rc != MR_OK)
        return mr_error_prefix(err, rc, "chain %s (%s:%d): ", cc->key,
                               d->cfg->path[0] ? d->cfg->path : "config", cc->line);
    if (id != cc->chain_id)
        return mr_fail(err, MR_ERR_INVALID, "chain %s: %s serves chain id %" PRIu64
                       ", the config says %" PRIu64, cc->key, rpc_endpoints_last(ch->rpc), id,
                       cc->chain_id);
    ch->used = 1;
    return MR_OK;
}

static void txm_setup(struct deploy *d, struct dchain *ch, struct txm *t, struct signer *s)
{
    const struct config_chain *cc = ch->cc;

    memset(t, 0, sizeof(*t));
    t->cfg.chain_key = cc->key;
    t->cfg.chain_id = cc->chain_id;
    t->cfg.confirmations = cc->confirmations;
    t->cfg.use_finalized_tag = cc->use_finalized_tag;
    t->cfg.max_fee_cap = cc->fees.max_fee;
    t->cfg.tip_cap = cc->fees.max_tip;
    t->cfg.stuck_after_ms = cc->fees.stuck_after_ms > 0 ? cc->fees.stuck_after_ms : 30000;
    t->cfg.bump_percent = cc->fees.bump_percent >= 10 ? cc->fees.bump_percent : 12;
    t->cfg.gas_margin_percent = 25;
    t->db = d->db;
    t->rpc = ch->rpc;
    t->signer = s;
}

/* Registers the chain in mosaic.chains (or checks the row that is there). */
static int register_chain(struct deploy *d, const struct config_chain *cc, struct mr_error *err)
{
    char id[24];
    const char *role = cc->role == CONFIG_ROLE_ORIGIN ? "origin" : "auxiliary";
    const char *pv[3] = {cc->key, id, role};
    PGresult *r;
    int rc;

    snprintf(id, sizeof(id), "%" PRIu64, cc->chain_id);
    r = PQexecParams(d->db, "INSERT INTO mosaic.chains (chain_key, chain_id, role) "
                     "VALUES ($1, $2, $3) ON CONFLICT DO NOTHING", 3, NULL, pv, NULL, NULL, 0);
    rc = db_check(r, PGRES_COMMAND_OK, "registering the chain", err);
    PQclear(r);
    if (rc != MR_OK)
        return rc;
    r = PQexecParams(d->db, "SELECT chain_id, role FROM mosaic.chains WHERE chain_key = $1", 1, NULL,
                     pv, NULL, NULL, 0);
    rc = db_check(r, PGRES_TUPLES_OK, "reading the chain", err);
    if (rc == MR_OK && PQntuples(r) != 1)
        rc = mr_fail(err, MR_ERR_INVALID, "chain %s: the database has chain id %s under another "
                     "key", cc->key, id);
    else if (rc == MR_OK && (strcmp(PQgetvalue(r, 0, 0), id) != 0 || strcmp(PQgetvalue(r, 0, 1), role) != 0))
        rc = mr_fail(err, MR_ERR_INVALID, "chain %s: the database has it as chain id %s (%s); "
                     "the config says %s (%s)", cc->key, PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1),
                     id, role);
    PQclear(r);
    return rc;
}

/* Opens the signer of key k, with its password file or variable. */
static int open_signer(struct deploy *d, int k, struct signer **out, struct mr_error *err)
{
    const struct config_key *key = &d->cfg->keys[k];
    int rc;

    if (key->password_file[0] != '\0')
        rc = signer_open(key->keystore, key->password_file, d->cfg->database_url, out, err);
    else if (key->password_env[0] != '\0')
        rc = signer_open_env(key->keystore, key->password_env, d->cfg->database_url, out, err);
    else
        rc = mr_fail(err, MR_ERR_INVALID, "key %s (%s:%d): no password_file or password_env",
                     key->name, d->cfg->path, key->line);
    return rc == MR_OK ? rc : mr_error_prefix(err, rc, "key %s: ", key->name);
}

/* The address of key k: from the keystore's "address" field, else by
 * unlocking it. */
static int key_address(struct deploy *d, int k, uint8_t out[20], struct mr_error *err)
{
    const struct config_key *key = &d->cfg->keys[k];
    struct keyfile kf;
    struct signer *s = NULL;
    int rc = keyfile_load(key->keystore, &kf, err);

    if (rc != MR_OK)
        return mr_error_prefix(err, rc, "key %s: ", key->name);
    if (kf.has_address) {
        memcpy(out, kf.address, 20);
        return MR_OK;
    }
    if ((rc = open_signer(d, k, &s, err)) != MR_OK)
        return rc;
    memcpy(out, signer_address(s), 20);
    signer_close(s);
    return MR_OK;
}

static int open_keys(struct deploy *d, struct mr_error *err)
{
    const struct config_deploy *dc = &d->cfg->deploy;
    int fac = config_key_index(d->cfg, "facilitator"), rc;

    if (dc->deployer < 0 || (size_t)dc->deployer >= d->cfg->n_keys)
        return mr_fail(err, MR_ERR_INVALID, "deploy.deployer names no key");
    rc = open_signer(d, dc->deployer, &d->deployer, err);
    if (rc != MR_OK)
        return rc;
    memcpy(d->deployer_addr, signer_address(d->deployer), 20);
    memcpy(d->owner, dc->has_owner ? dc->owner : d->deployer_addr, 20);
    memset(d->admin, 0, 20);
    if (dc->admin >= 0 && (rc = key_address(d, dc->admin, d->admin, err)) != MR_OK)
        return rc;
    memcpy(d->worker, d->deployer_addr, 20);
    if (fac >= 0 && fac != dc->deployer && (rc = key_address(d, fac, d->worker, err)) != MR_OK)
        return rc;
    /* Setup calls need an organization key: the owner if it is the
     * deployer, else the admin. */
    if (memcmp(d->owner, d->deployer_addr, 20) == 0 || memcmp(d->admin, d->deployer_addr, 20) == 0)
        d->org = d->deployer;
    else if (dc->admin >= 0)
        return open_signer(d, dc->admin, &d->org, err);
    else
        return mr_fail(err, MR_ERR_INVALID, "deploy.owner is not the deployer and there is no "
                       "deploy.admin key: nobody could activate the gateways");
    return MR_OK;
}

/* Opens the keys, then wipes every password variable (several keys may
 * share one, so only once all are open; also after a failure). */
static int setup_keys(struct deploy *d, struct mr_error *err)
{
    int rc = open_keys(d, err);

    for (size_t k = 0; k < d->cfg->n_keys; k++)
        if (d->cfg->keys[k].password_env[0] != '\0')
            signer_wipe_env(d->cfg->keys[k].password_env);
    return rc;
}

/* ================================================================ chain I/O */

static int get_code(struct dchain *ch, const uint8_t addr[20], uint8_t **code, size_t *len,
                    struct mr_error *err)
{
    return ethrpc_get_code(ch->rpc, addr, "latest", code, len, NULL, err);
}

/* eth_call of a getter without arguments returning an address. */
static int call_address(struct dchain *ch, const uint8_t to[20], const char *sig, uint8_t out[20],
                        struct mr_error *err)
{
    uint8_t sel[4], *res = NULL;
    size_t n = 0;
    int rc = abi_selector(sig, strlen(sig), sel, err);

    if (rc == MR_OK)
        rc = ethrpc_call(ch->rpc, NULL, to, sel, 4, "latest", &res, &n, NULL, err);
    if (rc == MR_OK && n != 32)
        rc = mr_fail(err, MR_ERR_ABI, "%s: %s returned %zu bytes", ch->cc->key, sig, n);
    if (rc == MR_OK)
        memcpy(out, res + 12, 20);
    free(res);
    return rc;
}

/* The chain's final block (its "finalized" tag, or head - confirmations)
 * once it is above 0: anchoring height 0 would store the empty genesis
 * root (ANVIL.md). */
static int final_block(struct deploy *d, struct dchain *ch, struct eth_block *b,
                       struct mr_error *err)
{
    int64_t start = now_ms();
    int said = 0, rc;

    for (;;) {
        if (ch->cc->use_finalized_tag) {
            rc = ethrpc_get_block(ch->rpc, "finalized", b, NULL, err);
            if (rc == MR_ERR_NOTFOUND) {
                b->number = 0; /* nothing finalized yet */
                rc = MR_OK;
            }
        } else {
            uint64_t head = 0;
            char id[ETHRPC_BLOCK_ID_LEN];
            rc = ethrpc_block_number(ch->rpc, &head, NULL, err);
            if (rc == MR_OK && head > ch->cc->confirmations)
                rc = ethrpc_get_block(ch->rpc, ethrpc_block_id(head - ch->cc->confirmations, id), b,
                                      NULL, err);
            else if (rc == MR_OK)
                b->number = 0;
        }
        if (rc != MR_OK)
            return mr_error_prefix(err, rc, "chain %s: ", ch->cc->key);
        if (b->number > 0)
            return MR_OK;
        if (now_ms() - start > d->wait_ms)
            return mr_fail(err, MR_ERR_IO, "chain %s: no final block above 0 after %" PRId64
                           " s (is it producing blocks?)", ch->cc->key, d->wait_ms / 1000);
        if (!said++)
            progress(d, "%s: waiting for a final block above 0", ch->cc->key);
        sleep_ms(d->poll_ms);
    }
}

/* ============================================================ the run */

/* Expected constructor parameter types of each role. */
static const char *ctor_types(enum role r)
{
    switch (r) {
    case R_LIB: return "()";
    case R_TOKEN: return "(string,string,uint8,uint256)";
    case R_ORG: return "(address,address,address[],uint256)";
    case R_ANCHOR: return "(uint256,uint256,bytes32,uint256,address)";
    case R_GATEWAY: return "(address,address,address,uint256,address,address,uint256)";
    case R_UTILITY: return "(address,string,string,uint8,address)";
    case R_COGATEWAY: return "(address,address,address,uint256,address,address,address,uint256)";
    default: return NULL;
    }
}

/* Mosaic 0.10.0's gateway constructors, without _maxStorageRootItems (its
 * gateways keep every proven storage root; mosaic-protocol.md 1.3). */
static const char *ctor_types_v010(enum role r)
{
    switch (r) {
    case R_GATEWAY: return "(address,address,address,uint256,address,address)";
    case R_COGATEWAY: return "(address,address,address,uint256,address,address,address)";
    default: return NULL;
    }
}

/* Rough gas of each step, for the funds check before sending anything. */
static uint64_t gas_guess(enum role r)
{
    switch (r) {
    case R_LIB: return 2500000;
    case R_TOKEN: case R_UTILITY: return 2000000;
    case R_ORG: case R_ANCHOR: return 1500000;
    case R_GATEWAY: case R_COGATEWAY: return 6500000;
    default: return 150000;
    }
}

static int check_artifacts(struct deploy *d, struct mr_error *err)
{
    for (size_t i = 0; i < d->n_steps; i++) {
        const struct step *s = &d->steps[i];
        const char *want = ctor_types(s->role), *got;
        if (s->external || want == NULL)
            continue;
        got = art_ctor_params(&d->arts[s->art]);
        if (strcmp(got, want) != 0 &&
            (ctor_types_v010(s->role) == NULL || strcmp(got, ctor_types_v010(s->role)) != 0))
            return mr_fail(err, MR_ERR_INVALID, "%s: the constructor takes %s; deploy expects %s",
                           d->arts[s->art].path, got, want);
    }
    return MR_OK;
}

/* A configured token must be an EIP-20 contract: code, and totalSupply()
 * and decimals() answer. */
static int check_external_token(struct deploy *d, struct step *s, struct mr_error *err)
{
    struct dchain *ch = &d->chains[s->chain];
    static const uint8_t total_supply[4] = {0x18, 0x16, 0x0d, 0xdd}, decimals[4] = {0x31, 0x3c, 0xe5, 0x67};
    uint8_t *code = NULL, *res = NULL;
    size_t n = 0;
    char ah[ADDRESS_TEXT_SIZE];
    int rc = get_code(ch, s->address, &code, &n, err);

    free(code);
    address_to_checksum(s->address, ah);
    if (rc == MR_OK && n == 0)
        return mr_fail(err, MR_ERR_INVALID, "%s: the configured address %s holds no contract on "
                       "chain %s", s->name, ah, ch->cc->key);
    if (rc == MR_OK)
        rc = ethrpc_call(ch->rpc, NULL, s->address, total_supply, 4, "latest", &res, &n, NULL, err);
    free(res);
    res = NULL;
    if (rc == MR_OK && n == 32)
        rc = ethrpc_call(ch->rpc, NULL, s->address, decimals, 4, "latest", &res, &n, NULL, err);
    free(res);
    if (rc != MR_OK || n != 32)
        return mr_fail(err, MR_ERR_INVALID, "%s: the configured address %s on chain %s holds "
                       "other code (not an EIP-20 token: totalSupply()/decimals() %s)", s->name,
                       ah, ch->cc->key, rc != MR_OK ? err->msg : "answer no uint256");
    s->st = S_DONE;
    return MR_OK;
}

/* Before anything is sent on a chain: can each key pay for what is left? */
static int check_funds(struct deploy *d, struct mr_error *err)
{
    for (size_t c = 0; c < d->cfg->n_chains; c++) {
        struct dchain *ch = &d->chains[c];
        struct { struct txm *t; uint64_t gas; } who[2] = {{&ch->txm, 0}, {&ch->txm_org, 0}};
        if (!ch->used)
            continue;
        for (size_t i = 0; i < d->n_steps; i++) {
            const struct step *s = &d->steps[i];
            if ((size_t)s->chain != c || s->external || dstate_find(&d->st, s->name) != NULL)
                continue;
            who[s->by_org && d->org != d->deployer].gas += gas_guess(s->role);
        }
        for (int w = 0; w < 2; w++) {
            struct u256 fee, tip, need, bal, g;
            char a[ADDRESS_TEXT_SIZE], nb[U256_DEC_MAX], bb[U256_DEC_MAX];
            int rc;
            if (who[w].gas == 0)
                continue;
            rc = txm_fees(who[w].t, &fee, &tip, err);
            if (rc == MR_OK)
                rc = ethrpc_get_balance(ch->rpc, signer_address(who[w].t->signer), "latest", &bal,
                                        NULL, err);
            if (rc != MR_OK)
                return mr_error_prefix(err, rc, "chain %s: ", ch->cc->key);
            u256_from_u64(&g, who[w].gas);
            if (u256_mul(&need, &g, &fee) != MR_OK)
                need = fee;
            if (u256_cmp(&bal, &need) >= 0)
                continue;
            address_to_checksum(signer_address(who[w].t->signer), a);
            u256_to_dec(&need, nb, sizeof(nb));
            u256_to_dec(&bal, bb, sizeof(bb));
            return mr_fail(err, MR_ERR_PERM, "key %s (%s) on chain %s has %s wei; what is left "
                           "to deploy needs about %s wei (%" PRIu64 " gas); fund it first",
                           d->cfg->keys[w ? d->cfg->deploy.admin : d->cfg->deploy.deployer].name, a,
                           ch->cc->key, bb, nb, who[w].gas);
        }
    }
    return MR_OK;
}

/* The addresses of the libraries creation step s links (deployed steps
 * "<chain>.lib.<Library>").  Out: libs[ARTIFACT_MAX_LINKS] (names borrowed
 * from the artifact), *n. */
static int step_libs(struct deploy *d, const struct step *s, struct artifact_lib *libs,
                     size_t *n, struct mr_error *err)
{
    const struct art *a = &d->arts[s->art];

    *n = 0;
    for (size_t i = 0; i < a->a.n_links; i++) {
        const char *lib = art_lib(a, i);
        char name[DSTATE_NAME_LEN];
        int l;
        if (lib == NULL)
            continue;
        if (step_name(name, err, "%s.lib.%s", chain_key(d, s->chain), lib) != MR_OK)
            return err->code;
        l = find_step(d, name);
        if (l < 0 || d->steps[l].st != S_DONE)
            return mr_fail(err, MR_ERR_INVALID, "%s: library %s is not deployed", s->name, name);
        libs[*n].name = lib;
        memcpy(libs[(*n)++].address, d->steps[l].address, 20);
    }
    return MR_OK;
}

/* Constructor arguments of one creation, and the storage they point into. */
struct ctor {
    struct abi_value v[10];
    size_t n;
    struct abi_value workers[1];
    char sym[CONFIG_KEY_LEN + 8], name[80];
};

#define ADDR_OF(step) abi_v_address(d->steps[(step)].address)

static void ctor_token(struct deploy *d, const struct step *s, struct ctor *c)
{
    const struct config_deploy_pair *dp = &d->cfg->deploy.pairs[s->pair];

    if (s->base) {
        snprintf(c->sym, sizeof(c->sym), "%sB", dp->token_symbol);
        snprintf(c->name, sizeof(c->name), "%.60s base", dp->token_name);
    } else {
        snprintf(c->sym, sizeof(c->sym), "%s", dp->token_symbol);
        snprintf(c->name, sizeof(c->name), "%s", dp->token_name);
    }
    c->v[c->n++] = abi_v_bytes(c->sym, strlen(c->sym));
    c->v[c->n++] = abi_v_bytes(c->name, strlen(c->name));
    c->v[c->n++] = abi_v_uint(dp->token_decimals);
    c->v[c->n++] = abi_v_u256(&dp->token_supply);
}

static void ctor_org(struct deploy *d, struct ctor *c)
{
    struct u256 expiry;

    u256_from_u64(&expiry, WORKER_EXPIRY);
    c->workers[0] = abi_v_address(d->worker);
    c->v[c->n++] = abi_v_address(d->owner);
    c->v[c->n++] = abi_v_address(d->admin);
    c->v[c->n++] = abi_v_list(c->workers, 1);
    c->v[c->n++] = abi_v_u256(&expiry);
}

/* The anchor is seeded with the remote chain's final block (recorded in
 * s->rec). */
static int ctor_anchor(struct deploy *d, struct step *s, struct ctor *c, struct mr_error *err)
{
    struct eth_block b;
    struct u256 max_roots;
    int rc = final_block(d, &d->chains[s->remote], &b, err);

    if (rc != MR_OK)
        return rc;
    s->rec.has_seed = 1;
    s->rec.seed_height = b.number;
    memcpy(s->rec.seed_root, b.state_root, 32);
    u256_from_u64(&max_roots, d->cfg->deploy.max_state_roots);
    c->v[c->n++] = abi_v_uint(d->cfg->chains[s->remote].chain_id);
    c->v[c->n++] = abi_v_uint(b.number);
    c->v[c->n++] = abi_v_bytes(s->rec.seed_root, 32);
    c->v[c->n++] = abi_v_u256(&max_roots);
    c->v[c->n++] = ADDR_OF(chain_step(d, s->chain, R_ORG, -1));
    return MR_OK;
}

/* EIP20Gateway (origin) and EIP20CoGateway (auxiliary). */
static void ctor_gateway(struct deploy *d, const struct step *s, struct ctor *c)
{
    const struct config_deploy *dc = &d->cfg->deploy;
    const struct config_deploy_pair *dp = &dc->pairs[s->pair];
    static const uint8_t zero[20]; /* no burner */
    struct u256 max_items;

    u256_from_u64(&max_items, dc->max_storage_root_items);
    c->v[c->n++] = ADDR_OF(pair_step(d, s->pair, R_TOKEN, 0));
    if (s->role == R_GATEWAY) {
        c->v[c->n++] = ADDR_OF(pair_step(d, s->pair, R_TOKEN, 1));
        c->v[c->n++] = ADDR_OF(chain_step(d, s->chain, R_ANCHOR, dp->auxiliary));
    } else {
        c->v[c->n++] = ADDR_OF(pair_step(d, s->pair, R_UTILITY, 0));
        c->v[c->n++] = ADDR_OF(chain_step(d, s->chain, R_ANCHOR, dp->origin));
    }
    c->v[c->n++] = abi_v_u256(&dc->bounty);
    c->v[c->n++] = ADDR_OF(chain_step(d, s->chain, R_ORG, -1));
    if (s->role == R_COGATEWAY)
        c->v[c->n++] = ADDR_OF(pair_step(d, s->pair, R_GATEWAY, 0));
    c->v[c->n++] = abi_v_address(zero);
    if (strcmp(art_ctor_params(&d->arts[s->art]), ctor_types_v010(s->role)) != 0)
        c->v[c->n++] = abi_v_u256(&max_items);
}

static void ctor_utility(struct deploy *d, const struct step *s, struct ctor *c)
{
    const struct config_deploy_pair *dp = &d->cfg->deploy.pairs[s->pair];

    c->v[c->n++] = ADDR_OF(pair_step(d, s->pair, R_TOKEN, 0));
    c->v[c->n++] = abi_v_bytes(dp->token_symbol, strlen(dp->token_symbol));
    c->v[c->n++] = abi_v_bytes(dp->token_name, strlen(dp->token_name));
    c->v[c->n++] = abi_v_uint(dp->token_decimals);
    c->v[c->n++] = ADDR_OF(chain_step(d, s->chain, R_ORG, -1));
}

#undef ADDR_OF

/* The constructor arguments of creation step s, in the order of
 * ctor_types(s->role).  Out: *c. */
static int ctor_args(struct deploy *d, struct step *s, struct ctor *c, struct mr_error *err)
{
    memset(c, 0, sizeof(*c));
    switch (s->role) {
    case R_LIB: return MR_OK;
    case R_TOKEN: ctor_token(d, s, c); return MR_OK;
    case R_ORG: ctor_org(d, c); return MR_OK;
    case R_ANCHOR: return ctor_anchor(d, s, c, err);
    case R_GATEWAY: case R_COGATEWAY: ctor_gateway(d, s, c); return MR_OK;
    case R_UTILITY: ctor_utility(d, s, c); return MR_OK;
    default: return mr_fail(err, MR_ERR_INVALID, "%s: not a creation", s->name);
    }
}

/* The getter that shows a setup call's effect. */
static const char *call_getter(enum role r)
{
    switch (r) {
    case R_SET_COGATEWAY: return "coGateway()";
    case R_ACTIVATE: return "remoteGateway()";
    default: return "coAnchor()";
    }
}

static struct txm *step_txm(struct deploy *d, const struct step *s)
{
    struct dchain *ch = &d->chains[s->chain];

    return s->by_org ? &ch->txm_org : &ch->txm;
}

/* "deploy <deployment id> <step>": how a resumed run finds its own
 * transactions. */
static void step_purpose(const struct deploy *d, const struct step *s, char *out, size_t cap)
{
    snprintf(out, cap, "deploy %s %s", d->st.id, s->name);
}

/* A transaction for s that an earlier run sent but did not record: still
 * open, or mined successfully.  Out: *id (0: none). */
static int find_sent(struct deploy *d, const struct step *s, int64_t *id, struct mr_error *err)
{
    char purpose[DSTATE_NAME_LEN + DSTATE_ID_LEN + 8], sender[2 * 20 + 3], hx[2 * 20 + 3];
    const char *pv[3];
    PGresult *r;
    int rc;

    *id = 0;
    step_purpose(d, s, purpose, sizeof(purpose));
    hex_encode_data(signer_address(step_txm(d, s)->signer), 20, hx, sizeof(hx));
    snprintf(sender, sizeof(sender), "\\x%s", hx + 2); /* bytea text form */
    pv[0] = d->cfg->chains[s->chain].key;
    pv[1] = sender;
    pv[2] = purpose;
    r = PQexecParams(d->db, "SELECT id FROM mosaic.transactions WHERE chain_key = $1 AND "
                     "sender = $2::bytea AND purpose = $3 AND (state IN ('intent', 'signed', "
                     "'broadcast') OR (state IN ('included', 'final') AND receipt_status = 1)) "
                     "ORDER BY id DESC LIMIT 1", 3, NULL, pv, NULL, NULL, 0);
    rc = db_check(r, PGRES_TUPLES_OK, "looking for an earlier deploy transaction", err);
    if (rc == MR_OK && PQntuples(r) == 1)
        *id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return rc;
}

/* Records a finished step in the state file. */
static int record(struct deploy *d, struct step *s, struct mr_error *err)
{
    const struct config_chain *cc = &d->cfg->chains[s->chain];
    int rc;

    snprintf(s->rec.name, sizeof(s->rec.name), "%s", s->name);
    snprintf(s->rec.chain, sizeof(s->rec.chain), "%s", cc->key);
    s->rec.chain_id = cc->chain_id;
    s->rec.contract[0] = '\0';
    if (s->target < 0)
        snprintf(s->rec.contract, sizeof(s->rec.contract), "%s", d->arts[s->art].a.name);
    s->rec.has_address = 1;
    memcpy(s->rec.address, s->target < 0 ? s->address : d->steps[s->target].address, 20);
    rc = dstate_put(&d->st, &s->rec, err);
    if (rc == MR_OK)
        rc = dstate_save(&d->st, d->cfg->deploy.state_file, err);
    s->st = S_DONE;
    return rc;
}

/* A recorded contract still there?  1: yes; 0: no code (a reset chain:
 * deploy again); error: other code. */
static int verify_code(struct deploy *d, struct step *s, const uint8_t addr[20], int *ok,
                       struct mr_error *err)
{
    struct artifact_lib libs[ARTIFACT_MAX_LINKS];
    uint8_t *got = NULL;
    size_t n_libs = 0, glen = 0;
    char a[ADDRESS_TEXT_SIZE];
    int rc = get_code(&d->chains[s->chain], addr, &got, &glen, err);

    *ok = 0;
    if (rc == MR_OK && glen > 0)
        rc = step_libs(d, s, libs, &n_libs, err);
    if (rc == MR_OK && glen > 0) {
        rc = artifact_runtime_matches(&d->arts[s->art].a, libs, n_libs, got, glen, ok, err);
        if (rc == MR_OK && !*ok) {
            address_to_checksum(addr, a);
            rc = mr_fail(err, MR_ERR_INVALID, "%s: %s on chain %s holds other code than %s "
                         "(built from other sources?  remove the step from %s to deploy anew)",
                         s->name, a, d->cfg->chains[s->chain].key, d->arts[s->art].path,
                         d->cfg->deploy.state_file);
        }
    }
    free(got);
    return rc;
}

/* A recorded creation: is its code still there?  No code (a reset chain):
 * forget the record and deploy again. */
static int creation_done(struct deploy *d, struct step *s, struct dstate_entry *e, int *done,
                         struct mr_error *err)
{
    char a[ADDRESS_TEXT_SIZE];
    int ok = 0, rc;

    if (e == NULL || !e->has_address)
        return MR_OK;
    rc = verify_code(d, s, e->address, &ok, err);
    if (rc != MR_OK)
        return rc;
    if (!ok) {
        address_to_checksum(e->address, a);
        progress(d, "%s: %s: recorded at %s but there is no code there (a new chain?): "
                 "deploying again", chain_key(d, s->chain), s->name, a);
        dstate_remove(&d->st, s->name);
        return MR_OK;
    }
    memcpy(s->address, e->address, 20);
    s->rec = *e;
    *done = 1;
    return MR_OK;
}

/* A setup call: does the chain show its effect (the getter returns the
 * argument)?  Another value set there is an error. */
static int call_done(struct deploy *d, struct step *s, const struct dstate_entry *e, int *done,
                     struct mr_error *err)
{
    static const uint8_t zero[20];
    const uint8_t *want = d->steps[s->arg].address;
    uint8_t cur[20];
    char a[ADDRESS_TEXT_SIZE];
    int rc = call_address(&d->chains[s->chain], d->steps[s->target].address,
                          call_getter(s->role), cur, err);

    if (rc != MR_OK)
        return mr_error_prefix(err, rc, "%s: ", s->name);
    if (memcmp(cur, zero, 20) == 0)
        return MR_OK;
    if (memcmp(cur, want, 20) != 0) {
        address_to_checksum(cur, a);
        return mr_fail(err, MR_ERR_INVALID, "%s: %s already returns %s, not the address "
                       "this deployment made", s->name, call_getter(s->role), a);
    }
    if (e != NULL)
        s->rec = *e;
    *done = 1;
    return MR_OK;
}

/* Before sending s: is it done already?  Creations: recorded and the code
 * is there.  Calls: the chain shows the effect. */
static int already_done(struct deploy *d, struct step *s, int *done, struct mr_error *err)
{
    struct dstate_entry *e = dstate_find(&d->st, s->name);
    const struct config_chain *cc = &d->cfg->chains[s->chain];

    *done = 0;
    if (e != NULL && e->chain_id != cc->chain_id)
        return mr_fail(err, MR_ERR_INVALID, "%s: step %s was recorded for chain id %" PRIu64
                       "; the config's chain %s has %" PRIu64, d->cfg->deploy.state_file, s->name,
                       e->chain_id, cc->key, cc->chain_id);
    if (s->target < 0)
        return creation_done(d, s, e, done, err);
    return call_done(d, s, e, done, err);
}

/* Deployment data of creation step s: linked code and constructor
 * arguments.  Out: *data (malloc'd), *len. */
static int creation_data(struct deploy *d, struct step *s, uint8_t **data, size_t *len,
                         struct mr_error *err)
{
    struct artifact_lib libs[ARTIFACT_MAX_LINKS];
    struct ctor c;
    size_t n_libs = 0;
    int rc = step_libs(d, s, libs, &n_libs, err);

    if (rc == MR_OK)
        rc = ctor_args(d, s, &c, err);
    if (rc == MR_OK)
        rc = artifact_deploy_data(&d->arts[s->art].a, libs, n_libs, c.v, c.n, data, len, err);
    return rc;
}

/* Calldata of setup call s: call_sig(role) with the arg step's address. */
static int call_data(struct deploy *d, const struct step *s, uint8_t **data, size_t *len,
                     struct mr_error *err)
{
    const char *sig = call_sig(s->role);
    uint8_t *buf = calloc(1, 4 + 32);
    int rc;

    if (buf == NULL)
        return mr_fail(err, MR_ERR_NOMEM, "out of memory");
    rc = abi_selector(sig, strlen(sig), buf, err);
    memcpy(buf + 16, d->steps[s->arg].address, 20);
    *data = buf;
    *len = 4 + 32;
    return rc;
}

static int send_step(struct deploy *d, struct step *s, struct mr_error *err)
{
    struct txs_intent in;
    char purpose[DSTATE_NAME_LEN + DSTATE_ID_LEN + 8];
    uint8_t *data = NULL;
    size_t len = 0;
    int rc;

    memset(&in, 0, sizeof(in));
    memset(&s->rec, 0, sizeof(s->rec));
    step_purpose(d, s, purpose, sizeof(purpose));
    in.purpose = purpose;
    in.create = s->target < 0;
    in.to = in.create ? NULL : d->steps[s->target].address;
    if (in.create)
        rc = creation_data(d, s, &data, &len, err);
    else
        rc = call_data(d, s, &data, &len, err);
    in.calldata = data;
    in.calldata_len = len;
    if (rc == MR_OK)
        rc = txm_submit(step_txm(d, s), &in, &s->tx_id, err);
    free(data);
    if (rc != MR_OK)
        return mr_error_prefix(err, rc, "%s: %s: ", chain_key(d, s->chain), s->name);
    s->st = S_SENT;
    s->sent_at = now_ms();
    progress(d, "%s: %s: sent (transaction %" PRId64 ")", chain_key(d, s->chain), s->name, s->tx_id);
    return MR_OK;
}

/* Moves one ready step on: done already, adopted from an earlier run, or
 * sent. */
static int start_step(struct deploy *d, struct step *s, struct mr_error *err)
{
    int done = 0, rc;
    int64_t id = 0;
    char a[ADDRESS_TEXT_SIZE];

    if (s->external)
        return check_external_token(d, s, err);
    rc = already_done(d, s, &done, err);
    if (rc != MR_OK)
        return rc;
    if (done) {
        s->st = S_DONE;
        d->rep.skipped++;
        if (s->target < 0) {
            address_to_checksum(s->address, a);
            progress(d, "%s: %s: exists at %s", chain_key(d, s->chain), s->name, a);
        } else {
            progress(d, "%s: %s: already done", chain_key(d, s->chain), s->name);
            if (dstate_find(&d->st, s->name) == NULL)
                return record(d, s, err);
        }
        return MR_OK;
    }
    rc = find_sent(d, s, &id, err);
    if (rc != MR_OK)
        return rc;
    if (id > 0) {
        s->st = S_SENT;
        s->tx_id = id;
        s->sent_at = now_ms();
        progress(d, "%s: %s: following transaction %" PRId64 " of an earlier run",
                 chain_key(d, s->chain), s->name, id);
        return MR_OK;
    }
    return send_step(d, s, err);
}

/* The anchor's seed as the chain has it (also for adopted transactions). */
static int read_seed(struct deploy *d, struct step *s, struct mr_error *err)
{
    struct dchain *ch = &d->chains[s->chain];
    uint8_t sel[4], *res = NULL, data[36];
    size_t n = 0;
    int rc = abi_selector("getLatestStateRootBlockHeight()", 31, sel, err);

    if (rc == MR_OK)
        rc = ethrpc_call(ch->rpc, NULL, s->address, sel, 4, "latest", &res, &n, NULL, err);
    if (rc == MR_OK && n == 32 && memcmp(res, (uint8_t[24]){0}, 24) == 0) {
        uint64_t h = 0;
        for (int i = 24; i < 32; i++)
            h = h << 8 | res[i];
        s->rec.seed_height = h;
        free(res);
        res = NULL;
        rc = abi_selector("getStateRoot(uint256)", 21, sel, err);
        memcpy(data, sel, 4);
        memset(data + 4, 0, 32);
        for (int i = 0; i < 8; i++)
            data[35 - i] = (uint8_t)(h >> (8 * i));
        if (rc == MR_OK)
            rc = ethrpc_call(ch->rpc, NULL, s->address, data, 36, "latest", &res, &n, NULL, err);
        if (rc == MR_OK && n == 32) {
            memcpy(s->rec.seed_root, res, 32);
            s->rec.has_seed = 1;
        }
    }
    free(res);
    return rc;
}

/* A creation mined: the new contract's address, its code checked, an
 * anchor's seed read back. */
static int created(struct deploy *d, struct step *s, const struct txs_result *r,
                   struct mr_error *err)
{
    int ok = 0, rc;

    if (!r->has_contract)
        return mr_fail(err, MR_ERR_TX, "%s: %s: the receipt names no contract",
                       chain_key(d, s->chain), s->name);
    memcpy(s->address, r->contract, 20);
    rc = verify_code(d, s, s->address, &ok, err);
    if (rc == MR_OK && !ok)
        rc = mr_fail(err, MR_ERR_TX, "%s: %s: no code at the new contract's address",
                     chain_key(d, s->chain), s->name);
    if (rc == MR_OK && s->role == R_ANCHOR)
        rc = read_seed(d, s, err);
    return rc;
}

/* A sent step: mined?  Then record it. */
static int finish_step(struct deploy *d, struct step *s, struct mr_error *err)
{
    struct txs_result r;
    char a[ADDRESS_TEXT_SIZE], th[67];
    int rc = txm_result(step_txm(d, s), s->tx_id, &r, err);

    if (rc != MR_OK)
        return rc;
    if (strcmp(r.state, "failed") == 0 || strcmp(r.state, "aborted") == 0)
        return mr_fail(err, MR_ERR_TX, "%s: %s: transaction %" PRId64 " %s: %s",
                       chain_key(d, s->chain), s->name, s->tx_id, r.state, r.error);
    if (!r.included) {
        if (now_ms() - s->sent_at > d->wait_ms)
            return mr_fail(err, MR_ERR_IO, "%s: %s: transaction %" PRId64 " not mined after %" PRId64
                           " s (mosaic-relayer tx show %" PRId64 ")", chain_key(d, s->chain),
                           s->name, s->tx_id, d->wait_ms / 1000, s->tx_id);
        return MR_OK;
    }
    if (r.status != 1)
        return mr_fail(err, MR_ERR_TX, "%s: %s: transaction %s reverted in block %" PRIu64
                       " (gas used %" PRIu64 ")", chain_key(d, s->chain), s->name,
                       r.has_tx_hash ? hexs(r.tx_hash, 32, th, sizeof(th)) : "?", r.block,
                       r.gas_used);
    if (s->target < 0 && (rc = created(d, s, &r, err)) != MR_OK)
        return rc;
    s->rec.has_tx = r.has_tx_hash;
    memcpy(s->rec.tx, r.tx_hash, 32);
    s->rec.block = r.block;
    s->rec.gas_used = r.gas_used;
    d->rep.sent++;
    d->rep.gas_used += r.gas_used;
    address_to_checksum(s->address, a);
    if (s->target < 0)
        progress(d, "%s: %s: %s at %s, gas %" PRIu64 ", block %" PRIu64, chain_key(d, s->chain),
                 s->name, d->arts[s->art].a.name, a, r.gas_used, r.block);
    else
        progress(d, "%s: %s: done, gas %" PRIu64 ", block %" PRIu64, chain_key(d, s->chain),
                 s->name, r.gas_used, r.block);
    return record(d, s, err);
}

static int deps_done(const struct deploy *d, const struct step *s)
{
    for (size_t i = 0; i < s->n_deps; i++)
        if (d->steps[s->deps[i]].st != S_DONE)
            return 0;
    return 1;
}

static int poll_all(struct deploy *d, size_t *left, struct mr_error *err)
{
    *left = 0;
    for (size_t c = 0; c < d->cfg->n_chains; c++) {
        struct dchain *ch = &d->chains[c];
        size_t l = 0;
        int rc;
        if (!ch->used)
            continue;
        rc = txm_poll(&ch->txm, &l, err);
        *left += l;
        if (rc == MR_OK && ch->txm_org.signer != ch->txm.signer) {
            rc = txm_poll(&ch->txm_org, &l, err);
            *left += l;
        }
        if (rc != MR_OK)
            return mr_error_prefix(err, rc, "chain %s: ", ch->cc->key);
    }
    return MR_OK;
}

/* Starts every step whose dependencies are done, until none is left. */
static int start_ready(struct deploy *d, struct mr_error *err)
{
    int moved = 1, rc;

    while (moved) {
        moved = 0;
        for (size_t i = 0; i < d->n_steps; i++) {
            struct step *s = &d->steps[i];
            if (s->st != S_TODO || !deps_done(d, s))
                continue;
            if ((rc = start_step(d, s, err)) != MR_OK)
                return rc;
            moved = 1;
        }
    }
    return MR_OK;
}

/* Waits until every transaction sent is final. */
static int wait_final(struct deploy *d, struct mr_error *err)
{
    int64_t start = now_ms();
    size_t left = 0;
    int rc;

    for (int said = 0;; said = 1) {
        rc = poll_all(d, &left, err);
        if (rc != MR_OK || left == 0)
            return rc;
        if (!said)
            progress(d, "waiting for %zu transactions to be final", left);
        if (now_ms() - start > d->wait_ms)
            return mr_fail(err, MR_ERR_IO, "%zu transactions not final after %" PRId64 " s", left,
                           d->wait_ms / 1000);
        sleep_ms(d->poll_ms);
    }
}

/* Sends every step whose dependencies are done, waits for mined ones, and
 * again, until all are done; then waits until every transaction is final. */
static int run_steps(struct deploy *d, struct mr_error *err)
{
    size_t left = 0;
    int rc;

    for (;;) {
        size_t todo = 0, sent = 0;
        if ((rc = start_ready(d, err)) != MR_OK)
            return rc;
        for (size_t i = 0; i < d->n_steps; i++) {
            todo += d->steps[i].st != S_DONE;
            sent += d->steps[i].st == S_SENT;
        }
        if (todo == 0)
            break;
        if (sent == 0)
            return mr_fail(err, MR_ERR_INVALID, "deploy: %zu steps wait on each other", todo);
        sleep_ms(d->poll_ms);
        rc = poll_all(d, &left, err);
        for (size_t i = 0; rc == MR_OK && i < d->n_steps; i++)
            if (d->steps[i].st == S_SENT)
                rc = finish_step(d, &d->steps[i], err);
        if (rc != MR_OK)
            return rc;
    }
    return wait_final(d, err);
}

/* The addresses of deploy pair p for the run config. */
static void pair_output(const struct deploy *d, int p, struct dstate_pair *o)
{
    const struct config_deploy_pair *dp = &d->cfg->deploy.pairs[p];

#define A(step) d->steps[(step)].address
    o->name = dp->name;
    o->origin_chain = chain_key(d, dp->origin);
    o->aux_chain = chain_key(d, dp->auxiliary);
    memcpy(o->gateway, A(pair_step(d, p, R_GATEWAY, 0)), 20);
    memcpy(o->cogateway, A(pair_step(d, p, R_COGATEWAY, 0)), 20);
    memcpy(o->origin_anchor, A(chain_step(d, dp->origin, R_ANCHOR, dp->auxiliary)), 20);
    memcpy(o->aux_anchor, A(chain_step(d, dp->auxiliary, R_ANCHOR, dp->origin)), 20);
    memcpy(o->value_token, A(pair_step(d, p, R_TOKEN, 0)), 20);
    memcpy(o->base_token, A(pair_step(d, p, R_TOKEN, 1)), 20);
    memcpy(o->utility_token, A(pair_step(d, p, R_UTILITY, 0)), 20);
    memcpy(o->origin_org, A(chain_step(d, dp->origin, R_ORG, -1)), 20);
    memcpy(o->aux_org, A(chain_step(d, dp->auxiliary, R_ORG, -1)), 20);
#undef A
}

static int write_output(struct deploy *d, struct mr_error *err)
{
    const struct config_deploy *dc = &d->cfg->deploy;
    struct dstate_pair pairs[CONFIG_MAX_GATEWAYS];
    char *src = NULL, *text = NULL;
    size_t len = 0, tlen = 0;
    int rc;

    if (dc->output[0] == '\0')
        return MR_OK;
    if ((rc = cli_read_file(d->cfg->path, CONFIG_MAX_BYTES, &src, &len, err)) != MR_OK)
        return rc;
    for (size_t p = 0; p < dc->n_pairs; p++)
        pair_output(d, (int)p, &pairs[p]);
    rc = dstate_run_config(src, len, d->cfg->path, pairs, dc->n_pairs, &text, &tlen, err);
    free(src);
    if (rc == MR_OK)
        rc = dstate_write_file(dc->output, text, tlen, 0644, err);
    free(text);
    if (rc == MR_OK)
        progress(d, "wrote the run config %s", dc->output);
    return rc;
}

static int prepare(struct deploy *d, struct mr_error *err)
{
    const struct config_deploy *dc = &d->cfg->deploy;
    int rc;

    if (!dc->present || dc->n_pairs == 0)
        return mr_fail(err, MR_ERR_INVALID, "%s: no deploy.pairs: nothing to deploy", d->cfg->path);
    if (dc->state_file[0] == '\0')
        return mr_fail(err, MR_ERR_INVALID, "%s: deploy.state_file is required", d->cfg->path);
    for (size_t p = 0; p < dc->n_pairs; p++) {
        const struct config_deploy_pair *dp = &dc->pairs[p];
        if (dp->origin < 0 || (size_t)dp->origin >= d->cfg->n_chains || dp->auxiliary < 0 ||
            (size_t)dp->auxiliary >= d->cfg->n_chains || dp->origin == dp->auxiliary)
            return mr_fail(err, MR_ERR_INVALID, "deploy pair %s: needs two different chains", dp->name);
        if ((rc = open_chain(d, dp->origin, err)) != MR_OK ||
            (rc = open_chain(d, dp->auxiliary, err)) != MR_OK)
            return rc;
    }
    d->db = db_connect(d->cfg->database_url, NULL, err);
    if (d->db == NULL)
        return err->code;
    if ((rc = db_check_schema(d->db, err)) != MR_OK)
        return rc;
    for (size_t c = 0; c < d->cfg->n_chains; c++)
        if (d->chains[c].used && (rc = register_chain(d, &d->cfg->chains[c], err)) != MR_OK)
            return rc;
    if ((rc = setup_keys(d, err)) != MR_OK)
        return rc;
    for (size_t c = 0; c < d->cfg->n_chains; c++) {
        if (!d->chains[c].used)
            continue;
        txm_setup(d, &d->chains[c], &d->chains[c].txm, d->deployer);
        txm_setup(d, &d->chains[c], &d->chains[c].txm_org, d->org);
    }
    if ((rc = dstate_load(dc->state_file, &d->st, err)) != MR_OK)
        return rc;
    d->steps = calloc(MAX_STEPS, sizeof(*d->steps));
    if (d->steps == NULL)
        return mr_fail(err, MR_ERR_NOMEM, "out of memory");
    for (size_t p = 0; p < dc->n_pairs; p++)
        if ((rc = plan_pair(d, p, err)) != MR_OK)
            return rc;
    d->rep.steps = d->n_steps;
    if ((rc = check_artifacts(d, err)) != MR_OK || (rc = check_funds(d, err)) != MR_OK)
        return rc;
    /* The id goes to disk before the first transaction that carries it. */
    if (d->st.id[0] == '\0' && ((rc = dstate_new_id(&d->st, err)) != MR_OK ||
                                 (rc = dstate_save(&d->st, dc->state_file, err)) != MR_OK))
        return rc;
    return MR_OK;
}

int deploy_run(const struct config *cfg, const struct deploy_opts *opts, struct deploy_report *rep,
               struct mr_error *err)
{
    static const struct deploy_opts defaults;
    struct deploy *d = calloc(1, sizeof(*d));
    struct mr_error local;
    int rc;

    if (err == NULL)
        err = &local; /* the steps read err->code */
    mr_error_clear(err);
    if (d == NULL)
        return mr_fail(err, MR_ERR_NOMEM, "out of memory");
    d->cfg = cfg;
    d->o = opts ? opts : &defaults;
    d->out = d->o->progress;
    d->dir = d->o->contracts_dir;
    if (d->dir == NULL)
        d->dir = getenv("MOSAIC_CONTRACTS_DIR");
    if (d->dir == NULL || d->dir[0] == '\0')
        d->dir = "build/contracts";
    d->wait_ms = d->o->wait_ms > 0 ? d->o->wait_ms : 600000;
    d->poll_ms = d->o->poll_ms > 0 ? d->o->poll_ms : 250;
    rc = prepare(d, err);
    if (rc == MR_OK)
        rc = run_steps(d, err);
    if (rc == MR_OK)
        rc = write_output(d, err);
    if (rep != NULL)
        *rep = d->rep;
    for (size_t c = 0; c < CONFIG_MAX_CHAINS; c++)
        rpc_endpoints_free(d->chains[c].rpc);
    if (d->org != NULL && d->org != d->deployer)
        signer_close(d->org);
    if (d->deployer != NULL)
        signer_close(d->deployer);
    if (d->db != NULL)
        PQfinish(d->db);
    for (size_t i = 0; i < d->n_arts; i++)
        artifact_free(&d->arts[i].a);
    dstate_free(&d->st);
    free(d->steps);
    free(d);
    return rc;
}
