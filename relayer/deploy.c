/*
 * deploy.c - the Mosaic contract set, deployed step by step through the
 * transaction manager (see deploy.h).
 *
 * Layout: artifacts (loading, linking, constructor checks); the plan (steps
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

#include <jansson.h>
#include <libpq-fe.h>

#include "chain/ethrpc.h"
#include "chain/rpc.h"
#include "db/db.h"
#include "db/migrate.h"
#include "db/txstore.h"
#include "eth/abi.h"
#include "eth/address.h"
#include "eth/hex.h"
#include "eth/keccak.h"
#include "relayer/deploy_state.h"
#include "relayer/keyfile.h"
#include "relayer/signer.h"
#include "relayer/txm.h"

#define ART_MAX_BYTES (16u << 20)
#define ART_MAX_LIBS 16
#define ART_MAX 64
#define CODE_MAX ETHRPC_MAX_CODE   /* runtime code; EIP-170 caps it at 24 KiB */
#define INIT_MAX (128u * 1024)     /* init code and arguments */
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

/* One compiled contract, build/contracts/<Name>.json:
 * {"contractName", "abi": [...], "bytecode": "0x...", "deployedBytecode":
 * "0x...", "linkReferences": {"<file>": {"<Lib>": [{start, length}]}}}.
 * Library placeholders are solc's "__$" + 34 hex digits of
 * keccak256("<file>:<Lib>") + "$__". */
struct art {
    char name[DSTATE_CONTRACT_LEN];
    char path[CONFIG_PATH_LEN];
    json_t *root;                      /* owned */
    const char *bytecode, *runtime;    /* borrowed from root */
    size_t n_libs;
    char libs[ART_MAX_LIBS][DSTATE_CONTRACT_LEN];
    char placeholder[ART_MAX_LIBS][41];
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

static int art_load(const char *dir, const char *name, struct art *a, struct mr_error *err)
{
    json_error_t je;
    json_t *refs, *libs;
    const char *file, *lib;
    FILE *f;
    char *text;
    size_t len;
    int n;

    memset(a, 0, sizeof(*a));
    snprintf(a->name, sizeof(a->name), "%s", name);
    n = snprintf(a->path, sizeof(a->path), "%s/%s.json", dir, name);
    if (!valid_name(name) || n < 0 || (size_t)n >= sizeof(a->path))
        return mr_fail(err, MR_ERR_INVALID, "bad contract name \"%.64s\"", name);
    f = fopen(a->path, "rb");
    if (f == NULL)
        return mr_fail(err, MR_ERR_NOTFOUND, "%s: %s (build the contracts: make contracts)",
                       a->path, strerror(errno));
    text = malloc(ART_MAX_BYTES + 1);
    len = text ? fread(text, 1, ART_MAX_BYTES + 1, f) : 0;
    fclose(f);
    if (text == NULL)
        return mr_fail(err, MR_ERR_NOMEM, "out of memory");
    if (len > ART_MAX_BYTES) {
        free(text);
        return mr_fail(err, MR_ERR_TOOBIG, "%s: larger than %u bytes", a->path, ART_MAX_BYTES);
    }
    a->root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    free(text);
    if (a->root == NULL)
        return mr_fail(err, MR_ERR_JSON, "%s:%d: %s", a->path, je.line, je.text);
    a->bytecode = json_string_value(json_object_get(a->root, "bytecode"));
    a->runtime = json_string_value(json_object_get(a->root, "deployedBytecode"));
    if (a->bytecode == NULL || a->runtime == NULL || strncmp(a->bytecode, "0x", 2) != 0 ||
        strncmp(a->runtime, "0x", 2) != 0 || strlen(a->bytecode) < 4 ||
        !json_is_array(json_object_get(a->root, "abi")))
        return mr_fail(err, MR_ERR_INVALID, "%s: needs \"abi\", \"bytecode\" and "
                       "\"deployedBytecode\" (0x...)", a->path);
    if (strlen(a->bytecode) > 2 * INIT_MAX || strlen(a->runtime) > 2 * CODE_MAX)
        return mr_fail(err, MR_ERR_TOOBIG, "%s: code too large", a->path);
    refs = json_object_get(a->root, "linkReferences");
    if (refs != NULL && !json_is_object(refs))
        return mr_fail(err, MR_ERR_INVALID, "%s: linkReferences is not an object", a->path);
    json_object_foreach(refs, file, libs) {
        json_t *unused;
        if (!json_is_object(libs))
            return mr_fail(err, MR_ERR_INVALID, "%s: linkReferences[\"%.64s\"] is not an object",
                           a->path, file);
        json_object_foreach(libs, lib, unused) {
            uint8_t h[32];
            char hx[67];
            struct keccak256_ctx k;
            if (a->n_libs == ART_MAX_LIBS || !valid_name(lib))
                return mr_fail(err, MR_ERR_INVALID, "%s: link reference \"%.64s\" (a name, at "
                               "most %d libraries)", a->path, lib, ART_MAX_LIBS);
            snprintf(a->libs[a->n_libs], sizeof(a->libs[0]), "%s", lib);
            keccak256_init(&k);
            keccak256_update(&k, file, strlen(file));
            keccak256_update(&k, ":", 1);
            keccak256_update(&k, lib, strlen(lib));
            keccak256_final(&k, h);
            hex_encode_data(h, 32, hx, sizeof(hx));
            snprintf(a->placeholder[a->n_libs], sizeof(a->placeholder[0]), "__$%.34s$__", hx + 2);
            a->n_libs++;
        }
    }
    return MR_OK;
}

static void art_free(struct art *a)
{
    json_decref(a->root);
    a->root = NULL;
}

/* The code hex[] with every library placeholder replaced by libaddr[i]
 * (20 bytes each, in a->libs order).  Out: *out (malloc'd), *len. */
static int art_link(const struct art *a, const char *hex, const uint8_t (*libaddr)[20],
                    uint8_t **out, size_t *len, struct mr_error *err)
{
    size_t n = strlen(hex);
    char *copy = malloc(n + 1);
    int rc;

    *out = NULL;
    if (copy == NULL)
        return mr_fail(err, MR_ERR_NOMEM, "out of memory");
    memcpy(copy, hex, n + 1);
    for (size_t i = 0; i < a->n_libs; i++) {
        char ah[43];
        hex_encode_data(libaddr[i], 20, ah, sizeof(ah));
        for (char *p = strstr(copy, a->placeholder[i]); p != NULL; p = strstr(p + 40, a->placeholder[i]))
            memcpy(p, ah + 2, 40);
    }
    *out = malloc(n / 2 + 1);
    if (*out == NULL) {
        free(copy);
        return mr_fail(err, MR_ERR_NOMEM, "out of memory");
    }
    rc = hex_decode_data(copy, n, *out, n / 2 + 1, len, NULL);
    free(copy);
    if (rc != MR_OK) {
        free(*out);
        *out = NULL;
        return mr_fail(err, MR_ERR_INVALID, "%s: code is not hex after linking (an unresolved "
                       "library placeholder?)", a->path);
    }
    return MR_OK;
}

/* "(type,type,...)" of the ABI entry of `kind` ("constructor" or
 * "function") named `name` (NULL for the constructor).  Returns MR_OK,
 * MR_ERR_NOTFOUND (none; a missing constructor is "()"). */
static int art_inputs(const struct art *a, const char *kind, const char *name, char *out,
                      size_t cap)
{
    json_t *abi = json_object_get(a->root, "abi"), *e;
    size_t i;

    snprintf(out, cap, "()");
    json_array_foreach(abi, i, e) {
        json_t *in = json_object_get(e, "inputs"), *p;
        size_t j, len = 1;
        const char *t = json_string_value(json_object_get(e, "type"));
        const char *nm = json_string_value(json_object_get(e, "name"));
        if (t == NULL || strcmp(t, kind) != 0 || (name != NULL && (nm == NULL || strcmp(nm, name) != 0)))
            continue;
        out[0] = '(';
        json_array_foreach(in, j, p) {
            const char *pt = json_string_value(json_object_get(p, "type"));
            int w = snprintf(out + len, cap - len, "%s%s", j ? "," : "", pt ? pt : "?");
            if (w < 0 || (size_t)w >= cap - len)
                return MR_ERR_TOOBIG;
            len += (size_t)w;
        }
        snprintf(out + len, cap - len, ")");
        return MR_OK;
    }
    return name == NULL ? MR_OK : MR_ERR_NOTFOUND;
}

/* Runtime code as deployed: equal length, and equal wherever the artifact's
 * (linked) runtime code is not zero; immutables and a library's own address
 * are zero in the artifact and filled in at deployment. */
static int code_matches(const uint8_t *want, size_t wlen, const uint8_t *got, size_t glen)
{
    if (wlen != glen || wlen == 0)
        return 0;
    for (size_t i = 0; i < wlen; i++)
        if (want[i] != 0 && want[i] != got[i])
            return 0;
    return 1;
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
        if (strcmp(d->arts[i].name, name) == 0)
            return (int)i;
    if (d->n_arts == ART_MAX)
        return mr_fail(err, MR_ERR_TOOBIG, "more than %d contracts", ART_MAX);
    if (art_load(d->dir, name, &d->arts[d->n_arts], err) != MR_OK) {
        art_free(&d->arts[d->n_arts]);
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

/* The libraries artifact `a` links, as steps on `chain`, made dependencies
 * of step s. */
static int add_libs(struct deploy *d, int s, int a, int chain, int depth, struct mr_error *err)
{
    for (size_t i = 0; i < d->arts[a].n_libs; i++) {
        char name[DSTATE_NAME_LEN];
        int l;
        snprintf(name, sizeof(name), "%s.lib.%s", chain_key(d, chain), d->arts[a].libs[i]);
        l = add_create(d, name, R_LIB, chain, d->arts[a].libs[i], depth + 1, err);
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
    /* Optional: the anchors' informational link to each other. */
    {
        char in[64];
        if (art_inputs(&d->arts[d->steps[anc_o].art], "function", "setCoAnchorAddress", in,
                       sizeof(in)) == MR_OK && strcmp(in, "(address)") == 0) {
            if (step_name(name, err, "%s.setCoAnchorAddress", d->steps[anc_o].name) != MR_OK)
                return err->code;
            if ((s = add_call(d, name, R_SET_COANCHOR, anc_o, anc_x, err)) < 0)
                return s;
            if (step_name(name, err, "%s.setCoAnchorAddress", d->steps[anc_x].name) != MR_OK)
                return err->code;
            if ((s = add_call(d, name, R_SET_COANCHOR, anc_x, anc_o, err)) < 0)
                return s;
        }
    }
    return MR_OK;
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
    if (key->password_file[0] == '\0')
        return mr_fail(err, MR_ERR_INVALID, "key %s: %s has no address field and no "
                       "password_file", key->name, key->keystore);
    rc = signer_open(key->keystore, key->password_file, d->cfg->database_url, &s, err);
    if (rc != MR_OK)
        return mr_error_prefix(err, rc, "key %s: ", key->name);
    memcpy(out, signer_address(s), 20);
    signer_close(s);
    return MR_OK;
}

static int open_signer(struct deploy *d, int k, struct signer **out, struct mr_error *err)
{
    const struct config_key *key = &d->cfg->keys[k];
    int rc;

    if (key->password_file[0] == '\0')
        return mr_fail(err, MR_ERR_INVALID, "key %s (%s:%d): deploy needs a password_file",
                       key->name, d->cfg->path, key->line);
    rc = signer_open(key->keystore, key->password_file, d->cfg->database_url, out, err);
    return rc == MR_OK ? rc : mr_error_prefix(err, rc, "key %s: ", key->name);
}

static int setup_keys(struct deploy *d, struct mr_error *err)
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
    if (memcmp(d->owner, d->deployer_addr, 20) == 0 || memcmp(d->admin, d->deployer_addr, 20) == 0) {
        d->org = d->deployer;
    } else if (dc->admin >= 0) {
        rc = open_signer(d, dc->admin, &d->org, err);
        if (rc != MR_OK)
            return rc;
    } else {
        return mr_fail(err, MR_ERR_INVALID, "deploy.owner is not the deployer and there is no "
                       "deploy.admin key: nobody could activate the gateways");
    }
    return MR_OK;
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
        const char *want = ctor_types(s->role);
        char got[256];
        if (s->external || want == NULL)
            continue;
        if (art_inputs(&d->arts[s->art], "constructor", NULL, got, sizeof(got)) != MR_OK ||
            strcmp(got, want) != 0)
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

/* The linked init code of creation step s (without arguments). */
static int step_code(struct deploy *d, const struct step *s, int runtime, uint8_t **code,
                     size_t *len, struct mr_error *err)
{
    const struct art *a = &d->arts[s->art];
    uint8_t libaddr[ART_MAX_LIBS][20];

    for (size_t i = 0; i < a->n_libs; i++) {
        char name[DSTATE_NAME_LEN];
        int l;
        snprintf(name, sizeof(name), "%s.lib.%s", chain_key(d, s->chain), a->libs[i]);
        l = find_step(d, name);
        if (l < 0 || d->steps[l].st != S_DONE)
            return mr_fail(err, MR_ERR_INVALID, "%s: library %s is not deployed", s->name, name);
        memcpy(libaddr[i], d->steps[l].address, 20);
    }
    return art_link(a, runtime ? a->runtime : a->bytecode, (const uint8_t (*)[20])libaddr, code,
                    len, err);
}

/* Constructor arguments of step s, ABI-encoded into out[cap]. */
static int ctor_args(struct deploy *d, struct step *s, uint8_t *out, size_t cap, size_t *len,
                     struct mr_error *err)
{
    const struct config_deploy *dc = &d->cfg->deploy;
    const struct config_deploy_pair *dp = s->pair >= 0 ? &dc->pairs[s->pair] : NULL;
    struct abi_type nodes[64];
    struct abi_value v[10], list, workers[1];
    const char *types = ctor_types(s->role);
    static const uint8_t zero[20];
    struct u256 max_roots, max_items, expiry, supply;
    char base_sym[CONFIG_KEY_LEN + 8], base_name[80];
    size_t n = 0;
    int rc;

    u256_from_u64(&max_roots, dc->max_state_roots);
    u256_from_u64(&max_items, dc->max_storage_root_items);
    u256_from_u64(&expiry, WORKER_EXPIRY);
#define ADDR_OF(step) abi_v_address(d->steps[(step)].address)
    switch (s->role) {
    case R_LIB:
        *len = 0;
        return MR_OK;
    case R_TOKEN:
        supply = dp->token_supply;
        if (s->base) {
            snprintf(base_sym, sizeof(base_sym), "%sB", dp->token_symbol);
            snprintf(base_name, sizeof(base_name), "%.60s base", dp->token_name);
            v[n++] = abi_v_bytes(base_sym, strlen(base_sym));
            v[n++] = abi_v_bytes(base_name, strlen(base_name));
        } else {
            v[n++] = abi_v_bytes(dp->token_symbol, strlen(dp->token_symbol));
            v[n++] = abi_v_bytes(dp->token_name, strlen(dp->token_name));
        }
        v[n++] = abi_v_uint(dp->token_decimals);
        v[n++] = abi_v_u256(&supply);
        break;
    case R_ORG:
        workers[0] = abi_v_address(d->worker);
        v[n++] = abi_v_address(d->owner);
        v[n++] = abi_v_address(d->admin);
        v[n++] = abi_v_list(workers, 1);
        v[n++] = abi_v_u256(&expiry);
        break;
    case R_ANCHOR: {
        struct eth_block b;
        rc = final_block(d, &d->chains[s->remote], &b, err);
        if (rc != MR_OK)
            return rc;
        s->rec.has_seed = 1;
        s->rec.seed_height = b.number;
        memcpy(s->rec.seed_root, b.state_root, 32);
        v[n++] = abi_v_uint(d->cfg->chains[s->remote].chain_id);
        v[n++] = abi_v_uint(b.number);
        v[n++] = abi_v_bytes(s->rec.seed_root, 32);
        v[n++] = abi_v_u256(&max_roots);
        v[n++] = ADDR_OF(chain_step(d, s->chain, R_ORG, -1));
        break;
    }
    case R_GATEWAY:
        v[n++] = ADDR_OF(pair_step(d, s->pair, R_TOKEN, 0));
        v[n++] = ADDR_OF(pair_step(d, s->pair, R_TOKEN, 1));
        v[n++] = ADDR_OF(chain_step(d, s->chain, R_ANCHOR, dp->auxiliary));
        v[n++] = abi_v_u256(&dc->bounty);
        v[n++] = ADDR_OF(chain_step(d, s->chain, R_ORG, -1));
        v[n++] = abi_v_address(zero);
        v[n++] = abi_v_u256(&max_items);
        break;
    case R_UTILITY:
        v[n++] = ADDR_OF(pair_step(d, s->pair, R_TOKEN, 0));
        v[n++] = abi_v_bytes(dp->token_symbol, strlen(dp->token_symbol));
        v[n++] = abi_v_bytes(dp->token_name, strlen(dp->token_name));
        v[n++] = abi_v_uint(dp->token_decimals);
        v[n++] = ADDR_OF(chain_step(d, s->chain, R_ORG, -1));
        break;
    case R_COGATEWAY:
        v[n++] = ADDR_OF(pair_step(d, s->pair, R_TOKEN, 0));
        v[n++] = ADDR_OF(pair_step(d, s->pair, R_UTILITY, 0));
        v[n++] = ADDR_OF(chain_step(d, s->chain, R_ANCHOR, dp->origin));
        v[n++] = abi_v_u256(&dc->bounty);
        v[n++] = ADDR_OF(chain_step(d, s->chain, R_ORG, -1));
        v[n++] = ADDR_OF(pair_step(d, s->pair, R_GATEWAY, 0));
        v[n++] = abi_v_address(zero);
        v[n++] = abi_v_u256(&max_items);
        break;
    default:
        return mr_fail(err, MR_ERR_INVALID, "%s: not a creation", s->name);
    }
#undef ADDR_OF
    rc = abi_parse_type(types, strlen(types), nodes, 64, NULL, err);
    list = abi_v_list(v, n);
    if (rc == MR_OK)
        rc = abi_encode(&nodes[0], &list, out, cap, len, err);
    return rc == MR_OK ? rc : mr_error_prefix(err, rc, "%s: constructor arguments: ", s->name);
}

static const char *call_sig(enum role r)
{
    switch (r) {
    case R_SET_COGATEWAY: return "setCoGateway(address)";
    case R_ACTIVATE: return "activateGateway(address)";
    case R_SET_COANCHOR: return "setCoAnchorAddress(address)";
    default: return NULL;
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
        snprintf(s->rec.contract, sizeof(s->rec.contract), "%s", d->arts[s->art].name);
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
    uint8_t *want = NULL, *got = NULL;
    size_t wlen = 0, glen = 0;
    char a[ADDRESS_TEXT_SIZE];
    int rc = get_code(&d->chains[s->chain], addr, &got, &glen, err);

    *ok = 0;
    if (rc == MR_OK && glen > 0)
        rc = step_code(d, s, 1, &want, &wlen, err);
    if (rc == MR_OK && glen > 0) {
        *ok = code_matches(want, wlen, got, glen);
        if (!*ok) {
            address_to_checksum(addr, a);
            rc = mr_fail(err, MR_ERR_INVALID, "%s: %s on chain %s holds other code than %s "
                         "(built from other sources?  remove the step from %s to deploy anew)",
                         s->name, a, d->cfg->chains[s->chain].key, d->arts[s->art].path,
                         d->cfg->deploy.state_file);
        }
    }
    free(want);
    free(got);
    return rc;
}

/* Before sending s: is it done already?  Creations: recorded and the code
 * is there.  Calls: the chain shows the effect (the getter returns the
 * argument); another value set there is an error. */
static int already_done(struct deploy *d, struct step *s, int *done, struct mr_error *err)
{
    struct dstate_entry *e = dstate_find(&d->st, s->name);
    int rc, ok = 0;

    *done = 0;
    if (e != NULL && e->chain_id != d->cfg->chains[s->chain].chain_id)
        return mr_fail(err, MR_ERR_INVALID, "%s: step %s was recorded for chain id %" PRIu64
                       "; the config's chain %s has %" PRIu64, d->cfg->deploy.state_file, s->name,
                       e->chain_id, d->cfg->chains[s->chain].key, d->cfg->chains[s->chain].chain_id);
    if (s->target < 0) {
        if (e == NULL || !e->has_address)
            return MR_OK;
        rc = verify_code(d, s, e->address, &ok, err);
        if (rc != MR_OK)
            return rc;
        if (!ok) {
            char a[ADDRESS_TEXT_SIZE];
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
    } else {
        uint8_t cur[20];
        static const uint8_t zero[20];
        const uint8_t *want = d->steps[s->arg].address;
        char a[ADDRESS_TEXT_SIZE];
        rc = call_address(&d->chains[s->chain], d->steps[s->target].address, call_getter(s->role),
                          cur, err);
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
}

static int send_step(struct deploy *d, struct step *s, struct mr_error *err)
{
    struct txs_intent in;
    char purpose[DSTATE_NAME_LEN + DSTATE_ID_LEN + 8];
    uint8_t *code = NULL, *data = NULL;
    size_t clen = 0, alen = 0;
    int rc;

    memset(&in, 0, sizeof(in));
    memset(&s->rec, 0, sizeof(s->rec));
    step_purpose(d, s, purpose, sizeof(purpose));
    in.purpose = purpose;
    if (s->target < 0) {
        rc = step_code(d, s, 0, &code, &clen, err);
        if (rc != MR_OK)
            return rc;
        data = malloc(clen + INIT_MAX);
        if (data == NULL) {
            free(code);
            return mr_fail(err, MR_ERR_NOMEM, "out of memory");
        }
        memcpy(data, code, clen);
        free(code);
        rc = ctor_args(d, s, data + clen, INIT_MAX, &alen, err);
        in.create = 1;
    } else {
        const char *sig = call_sig(s->role);
        uint8_t sel[4];
        data = malloc(4 + 32);
        if (data == NULL)
            return mr_fail(err, MR_ERR_NOMEM, "out of memory");
        rc = abi_selector(sig, strlen(sig), sel, err);
        memcpy(data, sel, 4);
        memset(data + 4, 0, 12);
        memcpy(data + 16, d->steps[s->arg].address, 20);
        clen = 36;
        in.to = d->steps[s->target].address;
    }
    in.calldata = data;
    in.calldata_len = clen + alen;
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

/* A sent step: mined?  Then record it. */
static int finish_step(struct deploy *d, struct step *s, struct mr_error *err)
{
    struct txs_result r;
    char a[ADDRESS_TEXT_SIZE], th[67];
    int rc = txm_result(step_txm(d, s), s->tx_id, &r, err), ok = 0;

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
    if (s->target < 0) {
        if (!r.has_contract)
            return mr_fail(err, MR_ERR_TX, "%s: %s: the receipt names no contract", chain_key(d, s->chain), s->name);
        memcpy(s->address, r.contract, 20);
        rc = verify_code(d, s, s->address, &ok, err);
        if (rc == MR_OK && !ok)
            rc = mr_fail(err, MR_ERR_TX, "%s: %s: no code at the new contract's address",
                         chain_key(d, s->chain), s->name);
        if (rc == MR_OK && s->role == R_ANCHOR)
            rc = read_seed(d, s, err);
        if (rc != MR_OK)
            return rc;
    }
    s->rec.has_tx = r.has_tx_hash;
    memcpy(s->rec.tx, r.tx_hash, 32);
    s->rec.block = r.block;
    s->rec.gas_used = r.gas_used;
    d->rep.sent++;
    d->rep.gas_used += r.gas_used;
    address_to_checksum(s->address, a);
    if (s->target < 0)
        progress(d, "%s: %s: %s at %s, gas %" PRIu64 ", block %" PRIu64, chain_key(d, s->chain),
                 s->name, d->arts[s->art].name, a, r.gas_used, r.block);
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

/* Sends every step whose dependencies are done, waits for mined ones, and
 * again, until all are done; then waits until every transaction is final. */
static int run_steps(struct deploy *d, struct mr_error *err)
{
    int64_t start;
    size_t left = 0;
    int rc;

    for (;;) {
        size_t todo = 0, sent = 0;
        int moved = 1;
        while (moved) {
            moved = 0;
            for (size_t i = 0; i < d->n_steps; i++) {
                struct step *s = &d->steps[i];
                if (s->st != S_TODO || !deps_done(d, s))
                    continue;
                rc = start_step(d, s, err);
                if (rc != MR_OK)
                    return rc;
                moved = 1;
            }
        }
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
    start = now_ms();
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

static int write_output(struct deploy *d, struct mr_error *err)
{
    const struct config_deploy *dc = &d->cfg->deploy;
    struct dstate_pair pairs[CONFIG_MAX_GATEWAYS];
    char *src = NULL, *text = NULL;
    size_t len = 0, tlen = 0;
    FILE *f;
    int rc;

    if (dc->output[0] == '\0')
        return MR_OK;
    f = fopen(d->cfg->path, "rb");
    if (f == NULL)
        return mr_fail(err, MR_ERR_IO, "%s: %s", d->cfg->path, strerror(errno));
    src = malloc(CONFIG_MAX_BYTES + 1);
    len = src ? fread(src, 1, CONFIG_MAX_BYTES + 1, f) : 0;
    fclose(f);
    if (src == NULL)
        return mr_fail(err, MR_ERR_NOMEM, "out of memory");
    if (len > CONFIG_MAX_BYTES) {
        free(src);
        return mr_fail(err, MR_ERR_TOOBIG, "%s: too large", d->cfg->path);
    }
    for (size_t p = 0; p < dc->n_pairs; p++) {
        const struct config_deploy_pair *dp = &dc->pairs[p];
        struct dstate_pair *o = &pairs[p];
#define A(step) d->steps[(step)].address
        o->name = dp->name;
        o->origin_chain = chain_key(d, dp->origin);
        o->aux_chain = chain_key(d, dp->auxiliary);
        memcpy(o->gateway, A(pair_step(d, (int)p, R_GATEWAY, 0)), 20);
        memcpy(o->cogateway, A(pair_step(d, (int)p, R_COGATEWAY, 0)), 20);
        memcpy(o->origin_anchor, A(chain_step(d, dp->origin, R_ANCHOR, dp->auxiliary)), 20);
        memcpy(o->aux_anchor, A(chain_step(d, dp->auxiliary, R_ANCHOR, dp->origin)), 20);
        memcpy(o->value_token, A(pair_step(d, (int)p, R_TOKEN, 0)), 20);
        memcpy(o->base_token, A(pair_step(d, (int)p, R_TOKEN, 1)), 20);
        memcpy(o->utility_token, A(pair_step(d, (int)p, R_UTILITY, 0)), 20);
        memcpy(o->origin_org, A(chain_step(d, dp->origin, R_ORG, -1)), 20);
        memcpy(o->aux_org, A(chain_step(d, dp->auxiliary, R_ORG, -1)), 20);
#undef A
    }
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
        art_free(&d->arts[i]);
    dstate_free(&d->st);
    free(d->steps);
    free(d);
    return rc;
}
