/*
 * usercmd.c - a user's stake or redeem through the relayer (see usercmd.h).
 */
#include "relayer/usercmd.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "chain/ethrpc.h"
#include "db/db.h"
#include "db/migrate.h"
#include "db/txstore.h"
#include "eth/abi.h"
#include "eth/address.h"
#include "eth/hex.h"
#include "eth/keccak.h"
#include "relayer/keyfile.h"
#include "relayer/progress.h"
#include "relayer/signer.h"
#include "relayer/sysrand.h"
#include "relayer/txm.h"

#define WEEK_MS ((int64_t)7 * 24 * 3600 * 1000)
#define POLL_MS 400

/* ---- arguments ---- */

int user_parse_duration(const char *s, int64_t *ms)
{
    char *end;
    unsigned long long v;
    int64_t unit;

    if (s == NULL || s[0] < '0' || s[0] > '9')
        return MR_ERR_INVALID;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno != 0 || v > (unsigned long long)WEEK_MS)
        return MR_ERR_INVALID;
    if (strcmp(end, "ms") == 0)
        unit = 1;
    else if (strcmp(end, "s") == 0 || *end == '\0')
        unit = 1000;
    else if (strcmp(end, "m") == 0)
        unit = 60 * 1000;
    else if (strcmp(end, "h") == 0)
        unit = 3600 * 1000;
    else
        return MR_ERR_INVALID;
    if (v == 0 || (int64_t)v > WEEK_MS / unit)
        return MR_ERR_INVALID;
    *ms = (int64_t)v * unit;
    return MR_OK;
}

/* Parses a token amount: decimal or 0x-hex wei. */
static int parse_amount(const char *opt, const char *s, struct u256 *out, struct mr_error *err)
{
    struct mr_error e;

    if (u256_parse(out, s, strlen(s), &e) != MR_OK)
        return mr_fail(err, MR_ERR_USAGE, "%s '%s' is not a number of wei (decimal or 0x-hex): %s",
                       opt, s, e.msg);
    return MR_OK;
}

/* The checks that need all options at once. */
static int check_args(const struct user_args *a, int have_amount, int have_beneficiary,
                      struct mr_error *err)
{
    static const uint8_t zero[20];
    struct u256 fee;

    if (a->config == NULL)
        return mr_fail(err, MR_ERR_USAGE, "--config FILE is required");
    if (a->key == NULL)
        return mr_fail(err, MR_ERR_USAGE, "--key KEYSTORE is required (the user's own key)");
    if (!have_amount)
        return mr_fail(err, MR_ERR_USAGE, "--amount N is required");
    if (u256_is_zero(&a->amount))
        return mr_fail(err, MR_ERR_USAGE, "--amount must be greater than 0");
    if (!have_beneficiary)
        return mr_fail(err, MR_ERR_USAGE, "--beneficiary ADDRESS is required (who receives "
                       "the tokens on the %s chain)", a->kind == MOSAIC_STAKE ? "auxiliary" : "origin");
    if (memcmp(a->beneficiary, zero, 20) == 0)
        return mr_fail(err, MR_ERR_USAGE, "--beneficiary must not be the zero address");
    /* Every declare and confirm requires amount > gasPrice * gasLimit (§6). */
    if (u256_mul(&fee, &a->gas_price, &a->gas_limit) != MR_OK || u256_cmp(&a->amount, &fee) <= 0)
        return mr_fail(err, MR_ERR_USAGE, "--amount must be greater than --gas-price times "
                       "--gas-limit (the most the relayer's reward can take)");
    return MR_OK;
}

int user_args_parse(enum mosaic_kind kind, int argc, char **argv, struct user_args *a,
                    struct mr_error *err)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"pair", required_argument, NULL, 'p'},
        {"amount", required_argument, NULL, 'a'},
        {"beneficiary", required_argument, NULL, 'b'},
        {"key", required_argument, NULL, 'k'},
        {"password-file", required_argument, NULL, 'P'},
        {"gas-price", required_argument, NULL, 'g'},
        {"gas-limit", required_argument, NULL, 'l'},
        {"no-wait", no_argument, NULL, 'n'},
        {"timeout", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int ch, have_amount = 0, have_beneficiary = 0, rc = MR_OK;
    struct mr_error e;

    memset(a, 0, sizeof(*a));
    a->kind = kind;
    a->timeout_ms = USER_DEFAULT_TIMEOUT_MS;
    optind = 0; /* 0: glibc re-initializes getopt */
    opterr = 0;
    while (rc == MR_OK && (ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (ch) {
        case 'c': a->config = optarg; break;
        case 'p': a->pair = optarg; break;
        case 'k': a->key = optarg; break;
        case 'P': a->password_file = optarg; break;
        case 'n': a->no_wait = 1; break;
        case 'h': a->help = 1; return MR_OK;
        case 'a':
            rc = parse_amount("--amount", optarg, &a->amount, err);
            have_amount = 1;
            break;
        case 'g': rc = parse_amount("--gas-price", optarg, &a->gas_price, err); break;
        case 'l': rc = parse_amount("--gas-limit", optarg, &a->gas_limit, err); break;
        case 'b':
            if (address_parse(optarg, strlen(optarg), a->beneficiary, &e) != MR_OK)
                rc = mr_fail(err, MR_ERR_USAGE, "--beneficiary '%s': %s", optarg, e.msg);
            have_beneficiary = 1;
            break;
        case 't':
            if (user_parse_duration(optarg, &a->timeout_ms) != MR_OK)
                rc = mr_fail(err, MR_ERR_USAGE, "--timeout '%s': expected a duration such as "
                             "90s, 10m or 1h (at most a week)", optarg);
            break;
        default:
            /* Never echo an unknown argument's value: it may be a password. */
            return mr_fail(err, MR_ERR_USAGE, "unknown or incomplete option %.40s (see --help)",
                           optind > 0 && optind - 1 < argc && argv[optind - 1][0] == '-'
                               ? argv[optind - 1] : "");
        }
    }
    if (rc != MR_OK)
        return rc;
    if (optind < argc)
        return mr_fail(err, MR_ERR_USAGE, "unexpected argument #%d (options only; see --help)",
                       optind);
    return check_args(a, have_amount, have_beneficiary, err);
}

int user_pick_pair(const struct config *c, const char *name, struct mr_error *err)
{
    char names[256] = "";
    size_t len = 0;

    if (c->n_gateways == 0) {
        mr_fail(err, MR_ERR_USAGE, "%s has no gateway pairs", c->path);
        return -1;
    }
    if (name == NULL && c->n_gateways == 1)
        return 0;
    for (size_t i = 0; i < c->n_gateways; i++) {
        if (name != NULL && strcmp(c->gateways[i].name, name) == 0)
            return (int)i;
        if (len < sizeof(names))
            len += (size_t)snprintf(names + len, sizeof(names) - len, "%s%s", i ? ", " : "",
                                    c->gateways[i].name);
    }
    if (name == NULL)
        mr_fail(err, MR_ERR_USAGE, "%s has several gateway pairs: choose one with --pair (%s)",
                c->path, names);
    else
        mr_fail(err, MR_ERR_USAGE, "no gateway pair '%s' in %s (there are: %s)", name, c->path,
                names);
    return -1;
}

/* ---- the session ---- */

struct user_session {
    const struct config *cfg;
    const struct user_args *args;
    const struct config_gateway *gw;
    const struct config_chain *src, *dst;
    const uint8_t *src_gateway, *dst_gateway;  /* where the message is declared / confirmed */
    PGconn *db;
    struct rpc_endpoints *src_rpc, *dst_rpc;
    struct signer *signer;
    struct txm txm;
    char who[ADDRESS_TEXT_SIZE];               /* the user's address, checksummed */
    int64_t deadline_ms;                       /* monotonic */
};

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* Registers the chain in mosaic.chains as the daemon does, and checks that
 * the row agrees with the config (a database of another devnet is refused). */
static int register_chain(PGconn *db, const struct config_chain *ch, struct mr_error *err)
{
    char id[24];
    const char *p[3] = {ch->key, id, ch->role == CONFIG_ROLE_ORIGIN ? "origin" : "auxiliary"};
    PGresult *res;
    int rc;

    snprintf(id, sizeof(id), "%llu", (unsigned long long)ch->chain_id);
    res = PQexecParams(db, "INSERT INTO " DB_SCHEMA ".chains (chain_key, chain_id, role)"
                           " VALUES ($1, $2::bigint, $3) ON CONFLICT DO NOTHING",
                       3, NULL, p, NULL, NULL, 0);
    rc = db_check(res, PGRES_COMMAND_OK, "registering the chain", err);
    PQclear(res);
    if (rc != MR_OK)
        return rc;
    res = PQexecParams(db, "SELECT count(*) FROM " DB_SCHEMA ".chains WHERE chain_key = $1"
                           " AND chain_id = $2::bigint AND role = $3",
                       3, NULL, p, NULL, NULL, 0);
    rc = db_check(res, PGRES_TUPLES_OK, "checking the chain", err);
    if (rc == MR_OK && strcmp(PQgetvalue(res, 0, 0), "1") != 0)
        rc = mr_fail(err, MR_ERR_INVALID, "the database knows chain '%s' (or chain id %s) "
                     "differently from the config: is it the database of another deployment?",
                     ch->key, id);
    PQclear(res);
    return rc;
}

static int open_rpc(const struct config_chain *ch, struct rpc_endpoints **out,
                    struct mr_error *err)
{
    const char *urls[CONFIG_MAX_ENDPOINTS];

    for (size_t i = 0; i < ch->n_endpoints; i++)
        urls[i] = ch->endpoints[i];
    return rpc_endpoints_new(urls, ch->n_endpoints, ch->chain_id, NULL, out, err);
}

/* The password file: the option, else stdin when it is a pipe or a file. */
static int password_path(const char *opt, const char **out, struct mr_error *err)
{
    struct stat st;

    if (opt != NULL) {
        *out = opt;
        return MR_OK;
    }
    if (fstat(STDIN_FILENO, &st) == 0 && (S_ISFIFO(st.st_mode) || S_ISREG(st.st_mode))) {
        *out = "/dev/stdin";
        return MR_OK;
    }
    return mr_fail(err, MR_ERR_USAGE, "no --password-file: give the keystore's password file, "
                   "or pipe the password on stdin");
}

/* Refuses the keys the daemon signs with (config.h: `facilitator`, and
 * `anchor` for the organization admin): the user's transactions must not
 * take the relayer's nonces, whose allocator treats any other use as a
 * stolen key.  (A running daemon holds their signer lock anyway.)  Other
 * keys of the config, e.g. a deployer, may be users. */
static int refuse_relayer_key(const struct user_session *s, struct mr_error *err)
{
    const uint8_t *me = signer_address(s->signer);

    for (size_t i = 0; i < s->cfg->n_keys; i++) {
        struct keyfile kf;
        if (strcmp(s->cfg->keys[i].name, "facilitator") != 0 &&
            strcmp(s->cfg->keys[i].name, "anchor") != 0)
            continue;
        if (keyfile_load(s->cfg->keys[i].keystore, &kf, NULL) != MR_OK || !kf.has_address)
            continue;
        if (memcmp(kf.address, me, 20) == 0)
            return mr_fail(err, MR_ERR_USAGE, "--key %s is the relayer's '%s' key: stake and "
                           "redeem with the user's own key", s->args->key, s->cfg->keys[i].name);
    }
    return MR_OK;
}

static void session_free(struct user_session *s)
{
    if (s == NULL)
        return;
    signer_close(s->signer);
    rpc_endpoints_free(s->src_rpc);
    rpc_endpoints_free(s->dst_rpc);
    if (s->db != NULL)
        PQfinish(s->db);
    free(s);
}

static int session_open(const struct config *c, const struct user_args *a,
                        struct user_session **out, struct mr_error *err)
{
    struct db_session_opts so = {a->kind == MOSAIC_STAKE ? "mosaic-relayer stake"
                                                         : "mosaic-relayer redeem", 0, 0};
    struct user_session *s = calloc(1, sizeof(*s));
    const char *pw = NULL;
    int pair, rc;

    *out = NULL;
    if (s == NULL)
        return mr_fail(err, MR_ERR_NOMEM, "out of memory");
    s->cfg = c;
    s->args = a;
    s->deadline_ms = now_ms() + a->timeout_ms;
    pair = user_pick_pair(c, a->pair, err);
    if (pair < 0) {
        free(s);
        return MR_ERR_USAGE;
    }
    s->gw = &c->gateways[pair];
    if (a->kind == MOSAIC_STAKE) {
        s->src = &c->chains[s->gw->origin.chain];
        s->dst = &c->chains[s->gw->auxiliary.chain];
        s->src_gateway = s->gw->origin.gateway;
        s->dst_gateway = s->gw->auxiliary.gateway;
    } else {
        s->src = &c->chains[s->gw->auxiliary.chain];
        s->dst = &c->chains[s->gw->origin.chain];
        s->src_gateway = s->gw->auxiliary.gateway;
        s->dst_gateway = s->gw->origin.gateway;
    }
    rc = password_path(a->password_file, &pw, err);
    if (rc == MR_OK && (s->db = db_connect(c->database_url, &so, err)) == NULL)
        rc = MR_ERR_IO;
    if (rc == MR_OK)
        rc = db_check_schema(s->db, err);
    if (rc == MR_OK)
        rc = register_chain(s->db, s->src, err);
    if (rc == MR_OK)
        rc = register_chain(s->db, s->dst, err);
    if (rc == MR_OK)
        rc = open_rpc(s->src, &s->src_rpc, err);
    if (rc == MR_OK)
        rc = open_rpc(s->dst, &s->dst_rpc, err);
    if (rc == MR_OK)
        rc = signer_open(a->key, pw, c->database_url, &s->signer, err);
    if (rc == MR_OK)
        rc = refuse_relayer_key(s, err);
    if (rc != MR_OK) {
        session_free(s);
        return rc;
    }
    address_to_checksum(signer_address(s->signer), s->who);
    s->txm.cfg.chain_key = s->src->key;
    s->txm.cfg.chain_id = s->src->chain_id;
    s->txm.cfg.confirmations = s->src->confirmations;
    s->txm.cfg.use_finalized_tag = s->src->use_finalized_tag;
    s->txm.cfg.max_fee_cap = s->src->fees.max_fee;
    s->txm.cfg.tip_cap = s->src->fees.max_tip;
    s->txm.cfg.stuck_after_ms = s->src->fees.stuck_after_ms;
    s->txm.cfg.bump_percent = s->src->fees.bump_percent;
    s->txm.cfg.gap_after_ms = 30000; /* as the daemon: a hole seen that long is filled */
    s->txm.db = s->db;
    s->txm.rpc = s->src_rpc;
    s->txm.signer = s->signer;
    *out = s;
    return MR_OK;
}

/* ---- contract calls ---- */

/* Calls the view `sig` (up to two address arguments, or one bytes32) on
 * `to` and returns its one 32-byte word. */
static int view_word(struct rpc_endpoints *rpc, const char *chain, const uint8_t to[20],
                     const char *sig, const uint8_t *arg1, const uint8_t *arg2, int arg1_word,
                     uint8_t word[32], struct mr_error *err)
{
    uint8_t sel[4], data[4 + 64], *out = NULL;
    size_t nargs = (arg1 != NULL) + (arg2 != NULL), len = 0, out_len = 0;
    struct abi_builder b;
    char addr[ADDRESS_TEXT_SIZE];
    int rc = abi_selector(sig, strlen(sig), sel, err);

    if (rc != MR_OK)
        return rc;
    abi_builder_init(&b, data, sizeof(data), sel, nargs);
    if (arg1 != NULL) {
        if (arg1_word)
            abi_put_word(&b, arg1);
        else
            abi_put_address(&b, arg1);
    }
    if (arg2 != NULL)
        abi_put_address(&b, arg2);
    rc = abi_builder_finish(&b, &len, err);
    if (rc == MR_OK)
        rc = ethrpc_call(rpc, NULL, to, data, len, "latest", &out, &out_len, NULL, err);
    address_to_checksum(to, addr);
    if (rc == MR_OK && out_len != 32)
        rc = mr_fail(err, MR_ERR_ABI, "%zu bytes where one word was due", out_len);
    if (rc == MR_OK)
        memcpy(word, out, 32);
    free(out);
    if (rc != MR_OK)
        mr_error_prefix(err, rc, "%s: %s.%s: ", chain, addr, sig);
    return rc;
}

static int view_u256(struct rpc_endpoints *rpc, const char *chain, const uint8_t to[20],
                     const char *sig, const uint8_t *arg1, const uint8_t *arg2, struct u256 *v,
                     struct mr_error *err)
{
    uint8_t w[32];
    int rc = view_word(rpc, chain, to, sig, arg1, arg2, 0, w, err);

    if (rc == MR_OK)
        rc = u256_from_be(v, w, 32);
    return rc;
}

static int view_address(struct rpc_endpoints *rpc, const char *chain, const uint8_t to[20],
                        const char *sig, uint8_t addr[20], struct mr_error *err)
{
    static const uint8_t zero[12];
    uint8_t w[32];
    int rc = view_word(rpc, chain, to, sig, NULL, NULL, 0, w, err);

    if (rc == MR_OK && memcmp(w, zero, 12) != 0)
        rc = mr_fail(err, MR_ERR_ABI, "%s: %s returned a word that is not an address", chain, sig);
    if (rc == MR_OK)
        memcpy(addr, w + 12, 20);
    return rc;
}

/* A status of the message box (getOutboxMessageStatus / getInbox...). */
static int view_status(struct rpc_endpoints *rpc, const char *chain, const uint8_t gw[20],
                       int inbox, const uint8_t mh[32], int *status, struct mr_error *err)
{
    uint8_t w[32];
    int rc = view_word(rpc, chain, gw, inbox ? "getInboxMessageStatus(bytes32)"
                                             : "getOutboxMessageStatus(bytes32)",
                       mh, NULL, 1, w, err);

    if (rc == MR_OK)
        *status = w[31] <= 4 && w[30] == 0 ? w[31] : -1;
    return rc;
}

/* ---- transactions with the user's key ---- */

/* The hash of transaction id's newest attempt, for messages. */
static void newest_attempt(struct user_session *s, int64_t id, char hx[67])
{
    uint8_t hashes[32][32];
    size_t n = 0;

    if (txs_attempt_hashes(s->db, id, hashes, 32, &n, NULL) == MR_OK && n > 0)
        hex_encode_data(hashes[n - 1], 32, hx, 67);
    else
        snprintf(hx, 67, "(not signed yet)");
}

/* One round of the manager for the user's key.  The key is also spent
 * elsewhere, so first the allocator follows the chain (when nothing of ours
 * is unmined): the manager would otherwise take the higher nonce on chain
 * for a stolen key and halt it. */
static int poll_user_key(struct user_session *s, struct mr_error *err)
{
    uint64_t nonce = 0;
    int rc = ethrpc_get_transaction_count(s->src_rpc, signer_address(s->signer), "latest", &nonce,
                                          NULL, err);

    if (rc == MR_OK)
        rc = txs_adopt_nonce(s->db, s->src->key, signer_address(s->signer), nonce, NULL, err);
    if (rc == MR_OK)
        rc = txm_poll(&s->txm, NULL, err);
    return rc;
}

/* Polls the manager until transaction id is mined.  Out: *res. */
static int wait_mined(struct user_session *s, int64_t id, const char *what,
                      struct txs_result *res, struct mr_error *err)
{
    char hx[67];
    int rc;

    for (;;) {
        struct mr_error pe;
        int prc = poll_user_key(s, &pe);
        rc = txm_result(&s->txm, id, res, err);
        if (rc != MR_OK)
            return rc;
        if (res->included)
            break;
        if (strcmp(res->state, "failed") == 0 || strcmp(res->state, "aborted") == 0)
            return mr_fail(err, MR_ERR_TX, "%s: the %s transaction %s: %s", s->src->key, what,
                           res->state, res->error);
        if (s->txm.paused)
            return mr_fail(err, MR_ERR_TX, "%s: %s cannot pay for gas: the signed %s transaction "
                           "is stored and is sent again by the next stake or redeem with this key "
                           "once it is funded", s->src->key, s->who, what);
        if (now_ms() > s->deadline_ms) {
            newest_attempt(s, id, hx);
            return mr_fail(err, MR_ERR_IO, "timed out waiting for the %s transaction %s to be "
                           "mined on %s%s%s%s", what, hx, s->src->key,
                           prc != MR_OK ? " (last error: " : "", prc != MR_OK ? pe.msg : "",
                           prc != MR_OK ? ")" : "");
        }
        sleep_ms(POLL_MS);
    }
    if (res->status != 1) {
        if (res->has_tx_hash)
            hex_encode_data(res->tx_hash, 32, hx, sizeof(hx));
        else
            newest_attempt(s, id, hx);
        return mr_fail(err, MR_ERR_TX, "%s: the %s transaction %s failed (reverted) in block %llu",
                       s->src->key, what, hx, (unsigned long long)res->block);
    }
    return MR_OK;
}

/* Finishes transactions an earlier run left unmined (same bytes again),
 * then lets the allocator follow the chain's nonce of the user's key and
 * lifts a halt an earlier run may have left: for a user's key, a nonce
 * used elsewhere is the normal case, not a stolen key. */
static int resume_and_adopt(struct user_session *s, FILE *info, struct mr_error *err)
{
    const uint8_t *me = signer_address(s->signer);
    struct txs_key key;
    uint64_t nonce = 0;
    int adopted = 0, rc, said = 0;

    for (;;) {
        rc = ethrpc_get_transaction_count(s->src_rpc, me, "pending", &nonce, NULL, err);
        if (rc == MR_OK)
            rc = txs_adopt_nonce(s->db, s->src->key, me, nonce, &adopted, err);
        if (rc != MR_OK)
            return rc;
        if (adopted)
            break;
        if (!said++)
            fprintf(info, "finishing the transactions an earlier run of this key left on %s\n",
                    s->src->key);
        rc = txm_poll(&s->txm, NULL, err);
        if (rc != MR_OK)
            return rc;
        if (now_ms() > s->deadline_ms)
            return mr_fail(err, MR_ERR_IO, "timed out finishing the earlier transactions of %s "
                           "on %s (see `mosaic-relayer tx list --chain %s`)", s->who, s->src->key,
                           s->src->key);
        sleep_ms(POLL_MS);
    }
    rc = txs_key_state(s->db, s->src->key, me, &key, err);
    if (rc == MR_OK && key.halted)
        rc = txm_resume(&s->txm, err);
    return rc;
}

/* Estimates, checks the funds, submits through the manager, waits until
 * mined and prints one line.  Out: hash[32], *block; *r (may be NULL) the
 * receipt (caller frees). */
static int send_tx(struct user_session *s, const char *what, const uint8_t to[20],
                   const uint8_t *data, size_t len, const struct u256 *value, FILE *info,
                   uint8_t hash[32], uint64_t *block, struct eth_receipt *r, struct mr_error *err)
{
    const uint8_t *me = signer_address(s->signer);
    struct txs_intent in;
    struct txs_result res;
    struct u256 fee, tip, need, bal, g;
    char hx[67], needs[U256_DEC_MAX], has[U256_DEC_MAX];
    uint64_t gas = 0;
    int64_t id = 0;
    int rc;

    rc = ethrpc_estimate_gas(s->src_rpc, me, to, value, data, len, &gas, NULL, err);
    if (rc != MR_OK)
        return mr_error_prefix(err, rc, "%s: %s would fail: ", s->src->key, what);
    gas += gas / 4 + 10000; /* estimates miss refunds and warm/cold differences */
    rc = txm_fees(&s->txm, &fee, &tip, err);
    if (rc == MR_OK)
        rc = ethrpc_get_balance(s->src_rpc, me, "latest", &bal, NULL, err);
    if (rc != MR_OK)
        return rc;
    u256_from_u64(&g, gas);
    if (u256_mul(&need, &fee, &g) != MR_OK || u256_add(&need, &need, value) != MR_OK ||
        u256_cmp(&bal, &need) < 0) {
        u256_to_dec(&need, needs, sizeof(needs));
        u256_to_dec(&bal, has, sizeof(has));
        return mr_fail(err, MR_ERR_USAGE, "%s: %s has %s wei, and the %s transaction may need "
                       "%s (gas%s)", s->src->key, s->who, has, what, needs,
                       u256_is_zero(value) ? "" : " and the bounty");
    }
    memset(&in, 0, sizeof(in));
    in.purpose = what;
    in.to = to;
    in.calldata = data;
    in.calldata_len = len;
    in.value = *value;
    in.gas_limit = gas;
    rc = txm_submit(&s->txm, &in, &id, err);
    if (rc != MR_OK)
        return mr_error_prefix(err, rc, "%s: %s: ", s->src->key, what);
    rc = wait_mined(s, id, what, &res, err);
    if (rc == MR_OK && !res.has_tx_hash)
        rc = mr_fail(err, MR_ERR_NOTFOUND, "%s: the mined %s transaction has no hash recorded",
                     s->src->key, what);
    if (rc != MR_OK)
        return rc;
    memcpy(hash, res.tx_hash, 32);
    *block = res.block;
    if (r != NULL) {
        memset(r, 0, sizeof(*r));
        rc = ethrpc_get_receipt(s->src_rpc, hash, r, NULL, err);
        if (rc != MR_OK)
            return mr_error_prefix(err, rc, "%s: the receipt of the %s transaction: ",
                                   s->src->key, what);
    }
    hex_encode_data(hash, 32, hx, sizeof(hx));
    fprintf(info, "  %-10s %-10s block %-9llu tx %s\n", what, s->src->key,
            (unsigned long long)*block, hx);
    fflush(info);
    return MR_OK;
}

/* approve(spender, amount) unless the allowance covers it already. */
static int approve(struct user_session *s, const uint8_t token[20], const char *token_name,
                   const struct u256 *amount, FILE *info, struct mr_error *err)
{
    const uint8_t *me = signer_address(s->signer);
    uint8_t data[4 + 64], sel[4], hash[32];
    struct u256 allowance, zero;
    struct abi_builder b;
    uint64_t block;
    size_t len = 0;
    int rc = view_u256(s->src_rpc, s->src->key, token, "allowance(address,address)", me,
                       s->src_gateway, &allowance, err);

    if (rc != MR_OK || u256_cmp(&allowance, amount) >= 0)
        return rc;
    rc = abi_selector("approve(address,uint256)", 24, sel, err);
    abi_builder_init(&b, data, sizeof(data), sel, 2);
    abi_put_address(&b, s->src_gateway);
    abi_put_u256(&b, amount);
    if (rc == MR_OK)
        rc = abi_builder_finish(&b, &len, err);
    u256_zero(&zero);
    if (rc == MR_OK)
        rc = send_tx(s, "approve", token, data, len, &zero, info, hash, &block, NULL, err);
    if (rc != MR_OK)
        mr_error_prefix(err, rc, "approving the %s: ", token_name);
    return rc;
}

/* Checks that balanceOf(user) on token covers `need`. */
static int check_balance(struct user_session *s, const uint8_t token[20], const char *name,
                         const struct u256 *need, struct mr_error *err)
{
    const uint8_t *me = signer_address(s->signer);
    char has[U256_DEC_MAX], needs[U256_DEC_MAX], addr[ADDRESS_TEXT_SIZE];
    struct u256 bal;
    int rc = view_u256(s->src_rpc, s->src->key, token, "balanceOf(address)", me, NULL, &bal, err);

    if (rc != MR_OK || u256_cmp(&bal, need) >= 0)
        return rc;
    u256_to_dec(&bal, has, sizeof(has));
    u256_to_dec(need, needs, sizeof(needs));
    address_to_checksum(token, addr);
    return mr_fail(err, MR_ERR_USAGE, "%s: %s holds %s of the %s (%s) and needs %s", s->src->key,
                   s->who, has, name, addr, needs);
}

/* One active process per sender and direction (§4.1): the previous
 * message must be Progressed or Revoked before the next is declared.  Read
 * before anything is approved, so that a refusal costs nothing. */
static int check_previous(struct user_session *s, struct mr_error *err)
{
    static const uint8_t zero[32];
    const char *sig = "getOutboxActiveProcess(address)";
    uint8_t sel[4], data[4 + 32], *out = NULL;
    struct abi_builder b;
    char hx[67];
    size_t len = 0, out_len = 0;
    int rc = abi_selector(sig, strlen(sig), sel, err), status;

    if (rc != MR_OK)
        return rc;
    abi_builder_init(&b, data, sizeof(data), sel, 1);
    abi_put_address(&b, signer_address(s->signer));
    rc = abi_builder_finish(&b, &len, err);
    if (rc == MR_OK)
        rc = ethrpc_call(s->src_rpc, NULL, s->src_gateway, data, len, "latest", &out, &out_len,
                         NULL, err);
    if (rc == MR_OK && out_len != 64)
        rc = mr_fail(err, MR_ERR_ABI, "%s: %s returned %zu bytes, not 64", s->src->key, sig,
                     out_len);
    if (rc != MR_OK) {
        free(out);
        return rc;
    }
    status = out[63];
    if (memcmp(out, zero, 32) != 0 && (status == MOSAIC_DECLARED ||
                                       status == MOSAIC_DECLARED_REVOCATION)) {
        hex_encode_data(out, 32, hx, sizeof(hx));
        rc = mr_fail(err, MR_ERR_USAGE, "%s: %s's previous %s, message %s, is still %s (one at "
                     "a time per sender; see `mosaic-relayer message show`)", s->src->key, s->who,
                     s->args->kind == MOSAIC_STAKE ? "stake" : "redeem", hx,
                     mosaic_status_name(status));
    }
    free(out);
    return rc;
}

/* What the gateway asks for: the tokens to approve and the bounty. */
struct user_terms {
    uint8_t token[20];        /* stake: value token; redeem: utility token */
    uint8_t base_token[20];   /* stake only: the bounty's token */
    struct u256 bounty;       /* stake: base-token wei; redeem: native wei */
    struct u256 nonce;        /* getNonce(sender) */
};

static int read_terms(struct user_session *s, struct user_terms *t, struct mr_error *err)
{
    const char *ch = s->src->key;
    const uint8_t *me = signer_address(s->signer);
    struct u256 active;
    int rc;

    if (s->args->kind == MOSAIC_STAKE) {
        rc = view_u256(s->src_rpc, ch, s->src_gateway, "activated()", NULL, NULL, &active, err);
        if (rc == MR_OK && u256_is_zero(&active))
            return mr_fail(err, MR_ERR_USAGE, "%s: the gateway of pair %s is not activated (no "
                           "stake is accepted)", ch, s->gw->name);
        /* valueToken() on 0.11+, token() on 0.10.0 (§1.3). */
        if (rc == MR_OK && view_address(s->src_rpc, ch, s->src_gateway, "valueToken()", t->token,
                                        NULL) != MR_OK)
            rc = view_address(s->src_rpc, ch, s->src_gateway, "token()", t->token, err);
        if (rc == MR_OK)
            rc = view_address(s->src_rpc, ch, s->src_gateway, "baseToken()", t->base_token, err);
    } else {
        rc = view_address(s->src_rpc, ch, s->src_gateway, "utilityToken()", t->token, err);
    }
    if (rc == MR_OK)
        rc = view_u256(s->src_rpc, ch, s->src_gateway, "bounty()", NULL, NULL, &t->bounty, err);
    if (rc == MR_OK)
        rc = view_u256(s->src_rpc, ch, s->src_gateway, "getNonce(address)", me, NULL, &t->nonce,
                       err);
    if (rc == MR_OK)
        rc = check_previous(s, err);
    return rc;
}

/* Balances and approvals for the declaration. */
static int prepare_funds(struct user_session *s, const struct user_terms *t, FILE *info,
                         struct mr_error *err)
{
    const struct u256 *amount = &s->args->amount;
    struct u256 both;
    int rc;

    if (s->args->kind == MOSAIC_REDEEM) {
        rc = check_balance(s, t->token, "utility token", amount, err);
        return rc == MR_OK ? approve(s, t->token, "utility token", amount, info, err) : rc;
    }
    if (memcmp(t->token, t->base_token, 20) == 0) {
        /* One token for the stake and the bounty: one approval of both. */
        if (u256_add(&both, amount, &t->bounty) != MR_OK)
            return mr_fail(err, MR_ERR_USAGE, "amount plus bounty overflows");
        rc = check_balance(s, t->token, "value token", &both, err);
        return rc == MR_OK ? approve(s, t->token, "value token", &both, info, err) : rc;
    }
    rc = check_balance(s, t->token, "value token", amount, err);
    if (rc == MR_OK && !u256_is_zero(&t->bounty))
        rc = check_balance(s, t->base_token, "base token (the bounty)", &t->bounty, err);
    if (rc == MR_OK)
        rc = approve(s, t->token, "value token", amount, info, err);
    if (rc == MR_OK && !u256_is_zero(&t->bounty))
        rc = approve(s, t->base_token, "base token", &t->bounty, info, err);
    return rc;
}

/* A fresh secret; its (hashlock, secret) committed to pending_secrets.
 * Out: hashlock[32].  The secret never leaves this function. */
static int register_secret(struct user_session *s, uint8_t hashlock[32], struct mr_error *err)
{
    uint8_t secret[32];
    const char *p[2] = {(const char *)hashlock, (const char *)secret};
    const int lens[2] = {32, 32}, fmts[2] = {1, 1};
    PGresult *res;
    int rc;

    if (sys_random(secret, sizeof(secret)) != MR_OK)
        return mr_fail(err, MR_ERR_IO, "no randomness from the operating system");
    mosaic_hashlock(secret, hashlock);
    res = PQexecParams(s->db, "INSERT INTO " DB_SCHEMA ".pending_secrets (hashlock, secret)"
                              " VALUES ($1::bytea, $2::bytea)", 2, NULL, p, lens, fmts, 0);
    mr_wipe(secret, sizeof(secret));
    rc = db_check(res, PGRES_COMMAND_OK, "registering the hashlock with the relayer", err);
    PQclear(res);
    return rc;
}

/* Removes a pending secret whose message was never signed. */
static void drop_secret(struct user_session *s, const uint8_t hashlock[32])
{
    const char *p[1] = {(const char *)hashlock};
    const int lens[1] = {32}, fmts[1] = {1};

    PQclear(PQexecParams(s->db, "DELETE FROM " DB_SCHEMA ".pending_secrets WHERE hashlock ="
                                " $1::bytea", 1, NULL, p, lens, fmts, 0));
}

/* stake(...) or redeem(...) calldata. */
static int declare_calldata(const struct user_session *s, const struct user_terms *t,
                            const uint8_t hashlock[32], uint8_t *data, size_t cap, size_t *len,
                            struct mr_error *err)
{
    const char *sig = s->args->kind == MOSAIC_STAKE
                          ? "stake(uint256,address,uint256,uint256,uint256,bytes32)"
                          : "redeem(uint256,address,uint256,uint256,uint256,bytes32)";
    struct abi_builder b;
    uint8_t sel[4];
    int rc = abi_selector(sig, strlen(sig), sel, err);

    if (rc != MR_OK)
        return rc;
    abi_builder_init(&b, data, cap, sel, 6);
    abi_put_u256(&b, &s->args->amount);
    abi_put_address(&b, s->args->beneficiary);
    abi_put_u256(&b, &s->args->gas_price);
    abi_put_u256(&b, &s->args->gas_limit);
    abi_put_u256(&b, &t->nonce);
    abi_put_word(&b, hashlock);
    return abi_builder_finish(&b, len, err);
}

/* The message hash the gateway will compute (§3.2). */
static void expected_hash(const struct user_session *s, const struct user_terms *t,
                          const uint8_t hashlock[32], uint8_t mh[32])
{
    struct mosaic_message m;

    memset(&m, 0, sizeof(m));
    mosaic_intent_hash(s->args->kind, &s->args->amount, s->args->beneficiary, s->src_gateway,
                       m.intent_hash);
    m.nonce = t->nonce;
    m.gas_price = s->args->gas_price;
    m.gas_limit = s->args->gas_limit;
    memcpy(m.sender, signer_address(s->signer), 20);
    memcpy(m.hashlock, hashlock, 32);
    mosaic_message_hash(&m, mh);
}

/* The receipt must hold the gateway's declaration event for mh (topic1). */
static int check_declared(const struct user_session *s, const struct eth_receipt *r,
                          const uint8_t mh[32], struct mr_error *err)
{
    const char *ev = s->args->kind == MOSAIC_STAKE
                         ? "StakeIntentDeclared(bytes32,address,uint256,address,uint256)"
                         : "RedeemIntentDeclared(bytes32,address,uint256,address,uint256)";
    uint8_t topic[32];
    int rc = abi_event_topic(ev, strlen(ev), topic, err);

    for (size_t i = 0; rc == MR_OK && i < r->logs.n; i++) {
        const struct eth_log *l = &r->logs.v[i];
        if (memcmp(l->address, s->src_gateway, 20) == 0 && l->n_topics >= 2 &&
            memcmp(l->topics[0], topic, 32) == 0 && memcmp(l->topics[1], mh, 32) == 0)
            return MR_OK;
    }
    return rc != MR_OK ? rc
                       : mr_fail(err, MR_ERR_INVALID, "%s: the declaration's receipt has no %.*s "
                                 "event for the expected message hash", s->src->key,
                                 (int)(strchr(ev, '(') - ev), ev);
}

static int declare(struct user_session *s, FILE *info, struct user_declared *d,
                   struct mr_error *err)
{
    const char *what = s->args->kind == MOSAIC_STAKE ? "stake" : "redeem";
    struct user_terms t;
    struct eth_receipt r;
    struct u256 value;
    uint8_t hashlock[32], data[4 + 6 * 32];
    char amt[U256_DEC_MAX], ben[ADDRESS_TEXT_SIZE], mh[67];
    size_t len = 0;
    int rc;

    memset(&t, 0, sizeof(t));
    memset(&r, 0, sizeof(r));
    u256_to_dec(&s->args->amount, amt, sizeof(amt));
    address_to_checksum(s->args->beneficiary, ben);
    fprintf(info, "%s of %s wei from %s on %s for %s on %s (pair %s)\n", what, amt, s->who,
            s->src->key, ben, s->dst->key, s->gw->name);
    rc = resume_and_adopt(s, info, err);
    if (rc == MR_OK)
        rc = read_terms(s, &t, err);
    if (rc == MR_OK)
        rc = prepare_funds(s, &t, info, err);
    if (rc != MR_OK)
        return rc;
    /* The secret is the relayer's before anything that uses its hashlock
     * is signed. */
    rc = register_secret(s, hashlock, err);
    if (rc != MR_OK)
        return rc;
    rc = declare_calldata(s, &t, hashlock, data, sizeof(data), &len, err);
    if (s->args->kind == MOSAIC_STAKE)
        u256_zero(&value);
    else
        value = t.bounty; /* redeem{value: bounty} (§2.3) */
    expected_hash(s, &t, hashlock, d->message_hash);
    if (rc == MR_OK)
        rc = send_tx(s, what, s->src_gateway, data, len, &value, info, d->tx_hash, &d->block, &r,
                     err);
    /* Refused before the manager recorded anything (the estimate, the funds
     * check, the dry run): nothing with this hashlock exists. */
    if (rc == MR_ERR_USAGE || rc == MR_ERR_RPC)
        drop_secret(s, hashlock);
    if (rc == MR_OK)
        rc = check_declared(s, &r, d->message_hash, err);
    ethrpc_receipt_free(&r);
    if (rc == MR_OK) {
        hex_encode_data(d->message_hash, 32, mh, sizeof(mh));
        fprintf(info, "message %s declared on %s in block %llu\n", mh, s->src->key,
                (unsigned long long)d->block);
        fflush(info);
    }
    d->source_chain = s->src->key;
    d->target_chain = s->dst->key;
    return rc;
}

int user_open(const struct config *c, const struct user_args *a, struct user_session **out,
              struct mr_error *err)
{
    return session_open(c, a, out, err);
}

void user_close(struct user_session *s)
{
    session_free(s);
}

int user_declare(struct user_session *s, FILE *info, struct user_declared *d,
                 struct mr_error *err)
{
    memset(d, 0, sizeof(*d));
    return declare(s, info, d, err);
}

/* ---- following the message ---- */

/* The last word: the statuses on both chains, read from the gateways. */
static void print_onchain(struct user_session *s, const uint8_t mh[32], FILE *out)
{
    int so = -1, ti = -1;

    if (view_status(s->src_rpc, s->src->key, s->src_gateway, 0, mh, &so, NULL) == MR_OK &&
        view_status(s->dst_rpc, s->dst->key, s->dst_gateway, 1, mh, &ti, NULL) == MR_OK)
        fprintf(out, "on chain: %s outbox %s, %s inbox %s\n", s->src->key,
                mosaic_status_name(so), s->dst->key, mosaic_status_name(ti));
}

/* Shows what the message waits for: a status line redrawn in place on a
 * terminal, else one line each time it changes. */
static void show_waiting(const struct progress_view *v, int tty, int64_t waited_ms,
                         char *last, size_t cap, FILE *out)
{
    char w[256];

    progress_waiting_for(v, w, sizeof(w));
    if (tty) {
        fprintf(out, "\r\033[K  ... waiting for %s (%llds)", w, (long long)(waited_ms / 1000));
    } else if (strcmp(w, last) != 0) {
        fprintf(out, "  ... waiting for %s\n", w);
    }
    snprintf(last, cap, "%s", w);
    fflush(out);
}

int user_follow(struct user_session *s, const uint8_t mh[32], FILE *out, int *outcome,
                struct mr_error *err)
{
    struct progress_view v;
    char last[256] = "", hx[67];
    int64_t start = now_ms();
    unsigned shown = 0;
    int tty = isatty(fileno(out)), rc;

    hex_encode_data(mh, 32, hx, sizeof(hx));
    *outcome = PROGRESS_PENDING;
    for (;;) {
        rc = progress_load(s->db, mh, &v, err);
        if (rc != MR_OK && db_conn_lost(s->db)) {
            PQreset(s->db); /* the next round reads again */
        } else if (rc != MR_OK) {
            return rc;
        } else {
            if (tty && v.found && last[0])
                fprintf(out, "\r\033[K");
            if (progress_print_new(&v, &shown, out) > 0)
                last[0] = '\0';
            *outcome = progress_outcome(&v);
            if (*outcome != PROGRESS_PENDING)
                break;
            show_waiting(&v, tty, now_ms() - start, last, sizeof(last), out);
        }
        /* The user's own transactions: on to final (or re-sent after a reorg). */
        (void)poll_user_key(s, NULL);
        if (now_ms() > s->deadline_ms) {
            fprintf(out, "%smessage %s goes on without this command: mosaic-relayer message show "
                    "%s\n", tty ? "\n" : "", hx, hx);
            return mr_fail(err, MR_ERR_IO, "timed out after %llds waiting for %s",
                           (long long)(s->args->timeout_ms / 1000),
                           last[0] ? last : "the relayer");
        }
        sleep_ms(POLL_MS * 2);
    }
    if (*outcome == PROGRESS_STOPPED)
        return mr_fail(err, MR_ERR_INVALID, "the relayer stopped message %s (%s): %s", hx,
                       v.state, v.halted_reason[0] ? v.halted_reason : "no reason recorded");
    fprintf(out, "%s in %llds\n", *outcome == PROGRESS_COMPLETED ? "completed" : "reverted",
            (long long)((now_ms() - start) / 1000));
    print_onchain(s, mh, out);
    return MR_OK;
}

/* ---- balances ---- */

static void print_native(struct rpc_endpoints *rpc, const struct config_chain *ch,
                         const uint8_t who[20], FILE *out)
{
    struct u256 bal;
    char dec[U256_DEC_MAX];
    struct mr_error e;

    if (ethrpc_get_balance(rpc, who, "latest", &bal, NULL, &e) == MR_OK) {
        u256_to_dec(&bal, dec, sizeof(dec));
        fprintf(out, "%-10s %-14s %-8s %-42s %s\n", ch->key, "-", "native", "-", dec);
    } else {
        fprintf(out, "%-10s %-14s %-8s %-42s ? (%s)\n", ch->key, "-", "native", "-", e.msg);
    }
}

/* One token line: its address from the gateway's getter, then balanceOf. */
static void print_token(struct rpc_endpoints *rpc, const struct config_chain *ch,
                        const char *pair, const uint8_t gateway[20], const char *getter,
                        const char *fallback, const char *label, const uint8_t who[20],
                        FILE *out)
{
    uint8_t token[20];
    char addr[ADDRESS_TEXT_SIZE], dec[U256_DEC_MAX];
    struct u256 bal;
    struct mr_error e;
    int rc = view_address(rpc, ch->key, gateway, getter, token, &e);

    if (rc != MR_OK && fallback != NULL)
        rc = view_address(rpc, ch->key, gateway, fallback, token, &e);
    if (rc == MR_OK)
        rc = view_u256(rpc, ch->key, token, "balanceOf(address)", who, NULL, &bal, &e);
    if (rc != MR_OK) {
        fprintf(out, "%-10s %-14s %-8s %-42s ? (%s)\n", ch->key, pair, label, "-", e.msg);
        return;
    }
    address_to_checksum(token, addr);
    u256_to_dec(&bal, dec, sizeof(dec));
    fprintf(out, "%-10s %-14s %-8s %-42s %s\n", ch->key, pair, label, addr, dec);
}

int user_balances(const struct config *c, const char *pair, const uint8_t who[20], FILE *out,
                  struct mr_error *err)
{
    struct rpc_endpoints *rpc[CONFIG_MAX_CHAINS] = {0};
    int only = -1, used[CONFIG_MAX_CHAINS] = {0}, rc = MR_OK;

    if (pair != NULL && (only = user_pick_pair(c, pair, err)) < 0)
        return MR_ERR_USAGE;
    for (size_t i = 0; i < c->n_gateways; i++) {
        if (only < 0 || (size_t)only == i) {
            used[c->gateways[i].origin.chain] = 1;
            used[c->gateways[i].auxiliary.chain] = 1;
        }
    }
    for (size_t i = 0; rc == MR_OK && i < c->n_chains; i++) {
        if (used[i])
            rc = open_rpc(&c->chains[i], &rpc[i], err);
    }
    if (rc == MR_OK) {
        fprintf(out, "%-10s %-14s %-8s %-42s %s\n", "CHAIN", "PAIR", "TOKEN", "ADDRESS",
                "BALANCE (wei)");
        for (size_t i = 0; i < c->n_chains; i++) {
            if (!used[i])
                continue;
            print_native(rpc[i], &c->chains[i], who, out);
            for (size_t g = 0; g < c->n_gateways; g++) {
                const struct config_gateway *gw = &c->gateways[g];
                if (only >= 0 && (size_t)only != g)
                    continue;
                if (gw->origin.chain == (int)i) {
                    print_token(rpc[i], &c->chains[i], gw->name, gw->origin.gateway,
                                "valueToken()", "token()", "value", who, out);
                    print_token(rpc[i], &c->chains[i], gw->name, gw->origin.gateway,
                                "baseToken()", NULL, "base", who, out);
                }
                if (gw->auxiliary.chain == (int)i)
                    print_token(rpc[i], &c->chains[i], gw->name, gw->auxiliary.gateway,
                                "utilityToken()", NULL, "utility", who, out);
            }
        }
    }
    for (size_t i = 0; i < c->n_chains; i++)
        rpc_endpoints_free(rpc[i]);
    return rc;
}
