/*
 * test_flows.c - the relayer's flows on the suite's two anvil chains and a
 * real PostgreSQL, with our Mosaic contracts (build/contracts): stake &
 * mint and redeem & unstake by hashlock, the proof path when the secret is
 * not ours, a message whose source someone else progressed first (nothing
 * paid for a failing call), a message finished by someone else, a burst of
 * stakes served by one anchor and one proveGateway through the daemon, and
 * an anchored root that differs from our node's header (halt + alert).
 *
 * The first tests write the messages rows as the watcher would and drive
 * the handlers directly (claim, handle, and the facilitator's transaction
 * manager for sending); the burst runs the whole daemon (daemon_run:
 * watchers, workers, sender thread, anchorer) from the declarations on
 * chain until every message is completed.
 */
#include "tests/lib/testlib.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "db/db.h"
#include "db/queue.h"
#include "eth/hex.h"
#include "eth/keccak.h"
#include "eth/key.h"
#include "eth/mosaic.h"
#include "relayer/daemon.h"
#include "relayer/flows/flows_int.h"
#include "relayer/keyfile.h"
#include "relayer/log.h"
#include "relayer/signer.h"
#include "relayer/sysrand.h"
#include "relayer/txm.h"
#include "tests/lib/chainlib.h"
#include "tests/lib/faultproxy.h"

#define BOUNTY 100
#define GAS_PRICE 1
#define GAS_LIMIT 1000000

struct fx {
    int ready;
    char *dir, *ci;
    char key_path[512], pw_path[512];
    PGconn *db;
    struct cl_chain o, a;
    uint8_t fac[20];
    uint8_t dep_o[20], dep_a[20];
    uint8_t vt[20], bt[20], org_o[20], anchor_o[20], gw[20], vault[20];
    uint8_t org_a[20], anchor_a[20], ut[20], cogw[20];
    /* A second gateway pair on the same two chains, sharing the anchors. */
    uint8_t gw2[20], ut2[20], cogw2[20];
    struct config *cfg;
    struct flow_ctx ctx;
    struct signer *signer;
    struct txm txm[2];
};

static struct fx F;
static int cur_pair; /* the pair do_stake uses */
static int hold_sends; /* passes record intents but do not send them */

#define GW(m) ((m)->pair ? F.gw2 : F.gw)
#define COGW(m) ((m)->pair ? F.cogw2 : F.cogw)

/* A message made by the test. */
struct tmsg {
    int pair;                   /* 0: pair1, 1: pair2 */
    enum mosaic_kind kind;
    uint8_t hash[32], secret[32], hashlock[32];
    uint8_t sender[20], beneficiary[20];
    struct u256 amount, nonce;
    uint64_t block;
};

/* ------------------------------------------------------------ helpers -- */

static void rpc_do(struct cl_chain *c, const char *method, json_t *params)
{
    struct mr_error err;
    json_t *res = NULL;

    if (rpc_call(c->ep, method, params, &res, NULL, &err) != MR_OK)
        fail_msg("%s %s: %s", c->label, method, err.msg);
    json_decref(res);
}

static void fund(struct cl_chain *c, const uint8_t addr[20])
{
    char a[43];

    hex_encode_data(addr, 20, a, sizeof(a));
    rpc_do(c, "anvil_setBalance", json_pack("[ss]", a, "0x3635c9adc5dea00000")); /* 1000 ether */
}

static void send_call(struct cl_chain *c, const char *what, const uint8_t from[20],
                      const uint8_t to[20], const struct u256 *value, const char *sig,
                      const struct abi_value *args, size_t n, struct eth_receipt *r)
{
    uint8_t *cd = NULL;
    size_t len = 0;
    struct eth_receipt tmp;

    cl_calldata(sig, args, n, &cd, &len);
    cl_send(c, what, from, to, value, cd, len, r != NULL ? r : &tmp);
    if (r == NULL)
        ethrpc_receipt_free(&tmp);
    free(cd);
}

static struct u256 balance_of(struct cl_chain *c, const uint8_t token[20], const uint8_t who[20])
{
    return cl_token_balance(c, token, who);
}

static int status_of(struct cl_chain *c, const uint8_t gw[20], int inbox, const uint8_t mh[32])
{
    struct abi_value a = abi_v_bytes(mh, 32);
    struct u256 v = cl_view_u256(c, gw, inbox ? "getInboxMessageStatus(bytes32)"
                                              : "getOutboxMessageStatus(bytes32)", &a, 1);
    return (int)v.w[0];
}

static int64_t q64(const char *fmt, ...) MR_PRINTF(1, 2);

static int64_t q64(const char *fmt, ...)
{
    char sql[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(sql, sizeof(sql), fmt, ap);
    va_end(ap);
    return tv_pg_int64(F.db, sql);
}

static int64_t max_tx_id(void)
{
    return q64("SELECT coalesce(max(id), 0) FROM transactions");
}

/* --------------------------------------------------------------- setup -- */

/* A new keystore `name`.json with password file `name`.pass in the test
 * directory.  Out: paths, addr[20]. */
static void new_key(const char *name, char *key, size_t kcap, char *pw, size_t pcap,
                    uint8_t addr[20])
{
    struct keyfile kf;
    struct mr_error err;
    uint8_t seed[32], sk[32];
    secp256k1_context *kc;
    FILE *fp;

    assert_int_equal(sys_random(seed, 32), 0);
    assert_int_equal(sys_random(sk, 32), 0);
    kc = key_ctx_create(seed);
    snprintf(key, kcap, "%s/%s.json", F.dir, name);
    snprintf(pw, pcap, "%s/%s.pass", F.dir, name);
    if (keyfile_create(kc, sk, (const uint8_t *)"pw", 2, KEYFILE_LIGHT_SCRYPT_N, &kf, &err) ||
        keyfile_write_new(key, &kf, &err))
        fail_msg("keystore: %s", err.msg);
    mr_wipe(sk, sizeof(sk));
    key_ctx_destroy(kc);
    memcpy(addr, kf.address, 20);
    fp = fopen(pw, "w");
    assert_non_null(fp);
    fputs("pw\n", fp);
    fclose(fp);
    chmod(pw, 0600);
}

static void make_key(void)
{
    new_key("fac", F.key_path, sizeof(F.key_path), F.pw_path, sizeof(F.pw_path), F.fac);
}

static void deploy_side(struct cl_chain *c, const uint8_t dep[20], const uint8_t remote_root[32],
                        uint64_t remote_height, uint64_t remote_chain_id, uint8_t org[20],
                        uint8_t anchor[20], struct artifact_lib *mpp)
{
    struct abi_value args[5], workers;

    cl_deploy(c, dep, "MerklePatriciaProof", NULL, 0, NULL, 0, mpp->address, NULL);
    /* Organization(owner, admin = the relayer's key, no workers, 0) */
    workers = abi_v_list(NULL, 0);
    args[0] = abi_v_address(dep);
    args[1] = abi_v_address(F.fac);
    args[2] = workers;
    args[3] = abi_v_uint(0);
    cl_deploy(c, dep, "Organization", NULL, 0, args, 4, org, NULL);
    /* Anchor(remoteChainId, seed height, seed root, maxStateRoots, org) */
    args[0] = abi_v_uint(remote_chain_id);
    args[1] = abi_v_uint(remote_height);
    args[2] = abi_v_bytes(remote_root, 32);
    args[3] = abi_v_uint(10);
    args[4] = abi_v_address(org);
    cl_deploy(c, dep, "Anchor", NULL, 0, args, 5, anchor, NULL);
}

/* EIP20Gateway and its vault on origin, UtilityToken and EIP20CoGateway on
 * the auxiliary chain, linked and activated (§5.0). */
static void deploy_pair(struct artifact_lib *mpp_o, struct artifact_lib *mpp_a, uint8_t gw[20],
                        uint8_t *vault, uint8_t ut[20], uint8_t cogw[20])
{
    struct abi_value args[8];
    struct u256 bounty = cl_u256(BOUNTY);
    uint8_t zero[20] = {0};

    /* EIP20Gateway(token, baseToken, provider, bounty, org, burner, maxStorageRootItems) */
    args[0] = abi_v_address(F.vt);
    args[1] = abi_v_address(F.bt);
    args[2] = abi_v_address(F.anchor_o);
    args[3] = abi_v_u256(&bounty);
    args[4] = abi_v_address(F.org_o);
    args[5] = abi_v_address(zero);
    args[6] = abi_v_uint(100);
    cl_deploy(&F.o, F.dep_o, "EIP20Gateway", mpp_o, 1, args, 7, gw, NULL);
    if (vault != NULL) {
        struct u256 v = cl_view_u256(&F.o, gw, "stakeVault()", NULL, 0);
        uint8_t w[32];
        u256_to_be32(&v, w);
        memcpy(vault, w + 12, 20);
    }
    /* UtilityToken(valueToken, symbol, name, decimals, org) */
    args[0] = abi_v_address(F.vt);
    args[1] = abi_v_bytes("UT", 2);
    args[2] = abi_v_bytes("Utility", 7);
    args[3] = abi_v_uint(18);
    args[4] = abi_v_address(F.org_a);
    cl_deploy(&F.a, F.dep_a, "UtilityToken", NULL, 0, args, 5, ut, NULL);
    /* EIP20CoGateway(valueToken, utilityToken, provider, bounty, org, gateway, burner, max) */
    args[0] = abi_v_address(F.vt);
    args[1] = abi_v_address(ut);
    args[2] = abi_v_address(F.anchor_a);
    args[3] = abi_v_u256(&bounty);
    args[4] = abi_v_address(F.org_a);
    args[5] = abi_v_address(gw);
    args[6] = abi_v_address(zero);
    args[7] = abi_v_uint(100);
    cl_deploy(&F.a, F.dep_a, "EIP20CoGateway", mpp_a, 1, args, 8, cogw, NULL);
    args[0] = abi_v_address(cogw);
    send_call(&F.a, "setCoGateway", F.dep_a, ut, NULL, "setCoGateway(address)", args, 1, NULL);
    send_call(&F.o, "activateGateway", F.dep_o, gw, NULL, "activateGateway(address)", args, 1,
              NULL);
}

static void deploy_all(void)
{
    struct artifact_lib mpp_o = {"MerklePatriciaProof", {0}}, mpp_a = {"MerklePatriciaProof", {0}};
    struct abi_value args[8];
    struct eth_block ho, ha;
    struct u256 supply = cl_u256_e(1, 30);

    cl_new_account(&F.o, 1000, F.dep_o);
    cl_new_account(&F.a, 1000, F.dep_a);
    cl_mine(&F.o, 1); /* never seed an anchor with the genesis block */
    cl_mine(&F.a, 1);
    cl_block(&F.o, cl_block_number(&F.o), &ho);
    cl_block(&F.a, cl_block_number(&F.a), &ha);
    assert_true(ho.number > 0 && ha.number > 0);
    deploy_side(&F.o, F.dep_o, ha.state_root, ha.number, 1405, F.org_o, F.anchor_o, &mpp_o);
    deploy_side(&F.a, F.dep_a, ho.state_root, ho.number, 31337, F.org_a, F.anchor_a, &mpp_a);
    args[0] = abi_v_bytes("VT", 2);
    args[1] = abi_v_bytes("Value", 5);
    args[2] = abi_v_uint(18);
    args[3] = abi_v_u256(&supply);
    cl_deploy(&F.o, F.dep_o, "EIP20Token", NULL, 0, args, 4, F.vt, NULL);
    args[0] = abi_v_bytes("BT", 2);
    args[1] = abi_v_bytes("Base", 4);
    cl_deploy(&F.o, F.dep_o, "EIP20Token", NULL, 0, args, 4, F.bt, NULL);
    deploy_pair(&mpp_o, &mpp_a, F.gw, F.vault, F.ut, F.cogw);
    deploy_pair(&mpp_o, &mpp_a, F.gw2, NULL, F.ut2, F.cogw2);
}

static void config_chain(struct config_chain *c, const char *key, enum config_role role,
                         uint64_t id, const char *url)
{
    memset(c, 0, sizeof(*c));
    snprintf(c->key, sizeof(c->key), "%s", key);
    c->role = role;
    c->chain_id = id;
    snprintf(c->endpoints[0], sizeof(c->endpoints[0]), "%s", url);
    c->n_endpoints = 1;
    c->quorum = 1;
    c->confirmations = 0;
    c->poll_interval_ms = 100;
}

static void make_config(void)
{
    struct config *c = calloc(1, sizeof(*c));
    struct config_gateway *g;

    assert_non_null(c);
    snprintf(c->path, sizeof(c->path), "test_flows");
    snprintf(c->database_url, sizeof(c->database_url), "%s", F.ci);
    config_chain(&c->chains[0], "origin", CONFIG_ROLE_ORIGIN, 31337, tv_anvil_url("ORIGIN"));
    config_chain(&c->chains[1], "aux", CONFIG_ROLE_AUXILIARY, 1405, tv_anvil_url("AUX"));
    c->n_chains = 2;
    g = &c->gateways[0];
    snprintf(g->name, sizeof(g->name), "pair1");
    g->origin.chain = 0;
    memcpy(g->origin.gateway, F.gw, 20);
    memcpy(g->origin.anchor, F.anchor_o, 20);
    g->auxiliary.chain = 1;
    memcpy(g->auxiliary.gateway, F.cogw, 20);
    memcpy(g->auxiliary.anchor, F.anchor_a, 20);
    g = &c->gateways[1];
    snprintf(g->name, sizeof(g->name), "pair2");
    g->origin.chain = 0;
    memcpy(g->origin.gateway, F.gw2, 20);
    memcpy(g->origin.anchor, F.anchor_o, 20);
    g->auxiliary.chain = 1;
    memcpy(g->auxiliary.gateway, F.cogw2, 20);
    memcpy(g->auxiliary.anchor, F.anchor_a, 20);
    c->n_gateways = 2;
    for (int i = 0; i < 2; i++) {
        snprintf(c->keys[i].name, sizeof(c->keys[i].name), "%s", i ? "anchor" : "facilitator");
        snprintf(c->keys[i].keystore, sizeof(c->keys[i].keystore), "%s", F.key_path);
        snprintf(c->keys[i].password_file, sizeof(c->keys[i].password_file), "%s", F.pw_path);
    }
    c->n_keys = 2;
    c->relayer.flows = CONFIG_FLOW_STAKE | CONFIG_FLOW_REDEEM | CONFIG_FLOW_REVERT;
    c->relayer.workers = 4;
    c->relayer.anchor_enabled = 1;
    c->relayer.anchor_max_interval_ms = 3600000;
    F.cfg = c;
}

static void txm_for(int i)
{
    const struct config_chain *c = &F.cfg->chains[i];
    struct txm *t = &F.txm[i];
    struct mr_error err;
    const char *url = c->endpoints[0];

    memset(t, 0, sizeof(*t));
    t->cfg.chain_key = c->key;
    t->cfg.chain_id = c->chain_id;
    t->cfg.confirmations = 0;
    u256_from_u64(&t->cfg.max_fee_cap, 500000000000ULL);
    u256_from_u64(&t->cfg.tip_cap, 10000000000ULL);
    t->cfg.stuck_after_ms = 60000;
    t->cfg.bump_percent = 12;
    t->cfg.gap_after_ms = 60000;
    t->db = F.db;
    t->signer = F.signer;
    if (rpc_endpoints_new(&url, 1, c->chain_id, NULL, &t->rpc, &err) != MR_OK)
        fail_msg("%s", err.msg);
}

static int group_setup(void **state)
{
    struct mr_error err;

    (void)state;
    if (tv_pg_base() == NULL || tv_anvil_url("ORIGIN") == NULL || tv_anvil_url("AUX") == NULL)
        return 0;
    /* The flows and the daemon log through relayer/log.h: errors only,
     * unless FLOWS_LOG asks for everything. */
    log_setup(getenv("FLOWS_LOG") != NULL ? LOGL_DEBUG : LOGL_ERROR, LOG_FORMAT_TEXT,
              STDERR_FILENO);
    F.dir = tv_tmpdir();
    F.db = tv_pg_migrated(&F.ci);
    cl_open(&F.o, "ORIGIN");
    cl_open(&F.a, "AUX");
    make_key();
    fund(&F.o, F.fac);
    fund(&F.a, F.fac);
    deploy_all();
    make_config();
    if (daemon_register_chains(F.cfg, F.db, &err) != MR_OK)
        fail_msg("%s", err.msg);
    if (signer_open(F.key_path, F.pw_path, F.ci, &F.signer, &err) != MR_OK)
        fail_msg("signer: %s", err.msg);
    flow_ctx_init(&F.ctx, F.cfg, F.fac, 1, F.fac);
    F.ctx.wait_min_ms = 20;
    F.ctx.wait_max_ms = 200;
    txm_for(0);
    txm_for(1);
    F.ready = 1;
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    flow_thread_release();
    if (F.ready)
        flow_ctx_destroy(&F.ctx);
    for (int i = 0; i < 2; i++)
        rpc_endpoints_free(F.txm[i].rpc);
    signer_close(F.signer);
    cl_close(&F.o);
    cl_close(&F.a);
    if (F.db != NULL)
        PQfinish(F.db);
    free(F.cfg);
    if (F.dir != NULL)
        tv_rmtree(F.dir);
    free(F.dir);
    free(F.ci);
    return 0;
}

#define REQUIRE()                                                              \
    do {                                                                       \
        (void)state;                                                           \
        TV_REQUIRE_PG();                                                       \
        TV_REQUIRE_ANVIL();                                                    \
        if (!F.ready)                                                          \
            fail_msg("setup did not complete");                                \
    } while (0)

/* ------------------------------------------------------------ messages -- */

/* The message's job, as the watcher enqueues it. */
static void enqueue_msg(const struct tmsg *m)
{
    char mh[67], args[128], dedup[80];
    struct queue_job_spec spec;
    struct mr_error err;
    int64_t id;

    flow_hex(m->hash, 32, mh);
    snprintf(args, sizeof(args), "{\"message_hash\":\"%s\"}", mh);
    snprintf(dedup, sizeof(dedup), "msg:%s", mh);
    memset(&spec, 0, sizeof(spec));
    spec.kind = FLOW_JOB_MSG;
    spec.args_json = args;
    spec.dedup_key = dedup;
    assert_int_equal(queue_enqueue(F.db, &spec, &id, &err), MR_OK);
}

/* Writes the row (and the secret, when `with_secret`) as the watcher
 * would, and enqueues the message's job. */
static void insert_message(const struct tmsg *m, int with_secret)
{
    char mh[67], ih[67], snd[43], ben[43], hl[67], am[80], nn[80], blk[24], sc[67];
    char gp[16], gl[16];
    const char *p[14];
    struct mosaic_message mm;
    uint8_t intent[32];
    PGresult *res;
    int stake = m->kind == MOSAIC_STAKE;

    mosaic_intent_hash(m->kind, &m->amount, m->beneficiary, stake ? GW(m) : COGW(m), intent);
    memcpy(mm.intent_hash, intent, 32);
    mm.nonce = m->nonce;
    u256_from_u64(&mm.gas_price, GAS_PRICE);
    u256_from_u64(&mm.gas_limit, GAS_LIMIT);
    memcpy(mm.sender, m->sender, 20);
    memcpy(mm.hashlock, m->hashlock, 32);
    {
        uint8_t h[32];
        mosaic_message_hash(&mm, h);
        assert_memory_equal(h, m->hash, 32);
    }
    flow_bytea_text(m->hash, 32, mh);
    flow_bytea_text(intent, 32, ih);
    flow_bytea_text(m->sender, 20, snd);
    flow_bytea_text(m->beneficiary, 20, ben);
    flow_bytea_text(m->hashlock, 32, hl);
    u256_to_dec(&m->amount, am, sizeof(am));
    u256_to_dec(&m->nonce, nn, sizeof(nn));
    snprintf(blk, sizeof(blk), "%llu", (unsigned long long)m->block);
    snprintf(gp, sizeof(gp), "%d", GAS_PRICE);
    snprintf(gl, sizeof(gl), "%d", GAS_LIMIT);
    p[0] = mh;
    p[1] = stake ? "stake" : "redeem";
    p[2] = stake ? "origin" : "aux";
    p[3] = stake ? "aux" : "origin";
    p[4] = ih;
    p[5] = snd;
    p[6] = nn;
    p[7] = ben;
    p[8] = am;
    p[9] = gp;
    p[10] = gl;
    p[11] = hl;
    p[12] = blk;
    p[13] = m->pair ? "pair2" : "pair1";
    res = PQexecParams(F.db,
                       "INSERT INTO messages (message_hash, flow, source_chain,"
                       " target_chain, intent_hash, sender, nonce, beneficiary, amount, gas_price,"
                       " gas_limit, hashlock, declared_block, gateway_pair) VALUES ($1::bytea, $2,"
                       " $3, $4, $5::bytea, $6::bytea, $7::numeric, $8::bytea, $9::numeric,"
                       " $10::numeric, $11::numeric, $12::bytea, $13::bigint, $14)",
                       14, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_COMMAND_OK)
        fail_msg("insert message: %s", PQerrorMessage(F.db));
    PQclear(res);
    if (with_secret) {
        flow_bytea_text(m->secret, 32, sc);
        p[1] = hl;
        p[2] = sc;
        res = PQexecParams(F.db,
                           "INSERT INTO unlock_secrets (message_hash, hashlock, secret) VALUES"
                           " ($1::bytea, $2::bytea, $3::bytea)",
                           3, NULL, p, NULL, NULL, 0);
        assert_int_equal(PQresultStatus(res), PGRES_COMMAND_OK);
        PQclear(res);
    }
    enqueue_msg(m);
}

/* The secret of a hashlock handed out before the declaration (as the
 * users' commands register it): the watcher attaches it to the message. */
static void pending_secret(const struct tmsg *m)
{
    char hl[67], sc[67];
    const char *p[2] = {hl, sc};
    PGresult *res;

    flow_bytea_text(m->hashlock, 32, hl);
    flow_bytea_text(m->secret, 32, sc);
    res = PQexecParams(F.db, "INSERT INTO pending_secrets (hashlock, secret) VALUES ($1::bytea,"
                             " $2::bytea)", 2, NULL, p, NULL, NULL, 0);
    assert_int_equal(PQresultStatus(res), PGRES_COMMAND_OK);
    PQclear(res);
}

/* A staker with value and base tokens declares a stake (§5.1 steps 1-2). */
static void do_stake_from(struct tmsg *m, uint64_t amount_units, const uint8_t *beneficiary,
                          const uint8_t *staker)
{
    struct abi_value args[6];
    struct u256 bounty = cl_u256(BOUNTY), gp = cl_u256(GAS_PRICE), gl = cl_u256(GAS_LIMIT);
    struct eth_receipt r;
    uint8_t topic[32];
    const struct eth_log *l;

    memset(m, 0, sizeof(*m));
    m->pair = cur_pair;
    m->kind = MOSAIC_STAKE;
    m->amount = cl_u256_e(amount_units, 18);
    if (staker != NULL)
        memcpy(m->sender, staker, 20);
    else
        cl_new_account(&F.o, 10, m->sender);
    if (beneficiary != NULL)
        memcpy(m->beneficiary, beneficiary, 20);
    else
        assert_int_equal(sys_random(m->beneficiary, 20), 0);
    assert_int_equal(sys_random(m->secret, 32), 0);
    mosaic_hashlock(m->secret, m->hashlock);
    args[0] = abi_v_address(m->sender);
    args[1] = abi_v_u256(&m->amount);
    send_call(&F.o, "vt.transfer", F.dep_o, F.vt, NULL, "transfer(address,uint256)", args, 2, NULL);
    args[1] = abi_v_u256(&bounty);
    send_call(&F.o, "bt.transfer", F.dep_o, F.bt, NULL, "transfer(address,uint256)", args, 2, NULL);
    args[0] = abi_v_address(GW(m));
    args[1] = abi_v_u256(&m->amount);
    send_call(&F.o, "vt.approve", m->sender, F.vt, NULL, "approve(address,uint256)", args, 2, NULL);
    args[1] = abi_v_u256(&bounty);
    send_call(&F.o, "bt.approve", m->sender, F.bt, NULL, "approve(address,uint256)", args, 2, NULL);
    args[0] = abi_v_address(m->sender);
    m->nonce = cl_view_u256(&F.o, GW(m), "getNonce(address)", args, 1);
    args[0] = abi_v_u256(&m->amount);
    args[1] = abi_v_address(m->beneficiary);
    args[2] = abi_v_u256(&gp);
    args[3] = abi_v_u256(&gl);
    args[4] = abi_v_u256(&m->nonce);
    args[5] = abi_v_bytes(m->hashlock, 32);
    send_call(&F.o, "stake", m->sender, GW(m), NULL,
              "stake(uint256,address,uint256,uint256,uint256,bytes32)", args, 6, &r);
    {
        static const char sig[] = "StakeIntentDeclared(bytes32,address,uint256,address,uint256)";
        keccak256(sig, strlen(sig), topic);
    }
    l = cl_find_log(&r, GW(m), topic);
    assert_non_null(l);
    memcpy(m->hash, l->topics[1], 32);
    m->block = r.block_number;
    ethrpc_receipt_free(&r);
}

static void do_stake(struct tmsg *m, uint64_t amount_units, const uint8_t *beneficiary)
{
    do_stake_from(m, amount_units, beneficiary, NULL);
}

/* A holder of utility tokens on the auxiliary chain redeems (§5.4 1-2). */
static void do_redeem(struct tmsg *m, const uint8_t redeemer[20], const struct u256 *amount,
                      const uint8_t beneficiary[20])
{
    struct abi_value args[6];
    struct u256 bounty = cl_u256(BOUNTY), gp = cl_u256(GAS_PRICE), gl = cl_u256(GAS_LIMIT);
    struct eth_receipt r;
    uint8_t topic[32];
    const struct eth_log *l;

    memset(m, 0, sizeof(*m));
    m->kind = MOSAIC_REDEEM;
    m->amount = *amount;
    memcpy(m->sender, redeemer, 20);
    memcpy(m->beneficiary, beneficiary, 20);
    assert_int_equal(sys_random(m->secret, 32), 0);
    mosaic_hashlock(m->secret, m->hashlock);
    args[0] = abi_v_address(F.cogw);
    args[1] = abi_v_u256(amount);
    send_call(&F.a, "ut.approve", redeemer, F.ut, NULL, "approve(address,uint256)", args, 2, NULL);
    args[0] = abi_v_address(redeemer);
    m->nonce = cl_view_u256(&F.a, F.cogw, "getNonce(address)", args, 1);
    args[0] = abi_v_u256(amount);
    args[1] = abi_v_address(beneficiary);
    args[2] = abi_v_u256(&gp);
    args[3] = abi_v_u256(&gl);
    args[4] = abi_v_u256(&m->nonce);
    args[5] = abi_v_bytes(m->hashlock, 32);
    send_call(&F.a, "redeem", redeemer, F.cogw, &bounty,
              "redeem(uint256,address,uint256,uint256,uint256,bytes32)", args, 6, &r);
    {
        static const char sig[] = "RedeemIntentDeclared(bytes32,address,uint256,address,uint256)";
        keccak256(sig, strlen(sig), topic);
    }
    l = cl_find_log(&r, F.cogw, topic);
    assert_non_null(l);
    memcpy(m->hash, l->topics[1], 32);
    m->block = r.block_number;
    ethrpc_receipt_free(&r);
}

static const char *state_of(const struct tmsg *m, char *buf, size_t cap)
{
    char mh[67], sql[256];
    PGresult *res;

    flow_bytea_text(m->hash, 32, mh);
    snprintf(sql, sizeof(sql),
             "SELECT state || coalesce(': ' || halted_reason, '') FROM messages WHERE"
             " message_hash = '%s'::bytea", mh);
    res = PQexec(F.db, sql);
    snprintf(buf, cap, "%s", PQntuples(res) == 1 ? PQgetvalue(res, 0, 0) : "?");
    PQclear(res);
    return buf;
}

/* One pass of what the daemon does: claim the due jobs, run the handlers,
 * let the facilitator's sender sign, send and follow the transactions. */
static void pass_with(struct flow_ctx *ctx)
{
    static const char *kinds[] = {FLOW_JOB_MSG, FLOW_JOB_ANCHOR};
    struct queue_job jobs[16];
    struct mr_error err;
    size_t n = 0, moved = 0, left = 0;

    assert_int_equal(queue_schedule(F.db, &moved, &err), MR_OK);
    if (queue_claim(F.db, "test", kinds, 2, jobs, 16, &n, &err) != MR_OK)
        fail_msg("claim: %s", err.msg);
    for (size_t i = 0; i < n; i++) {
        char msg[256] = "";
        enum queue_outcome o = flow_handle(ctx, F.db, &jobs[i], msg, sizeof(msg));
        struct queue_done dn = {jobs[i].id, jobs[i].attempt};
        size_t done = 0;
        int dead = 0;
        switch (o) {
        case QUEUE_DONE:
            assert_int_equal(queue_complete(F.db, "test", &dn, 1, &done, &err), MR_OK);
            break;
        case QUEUE_RETRY:
            assert_int_equal(queue_fail(F.db, &jobs[i], msg, 0, 0, &dead, &err), MR_OK);
            break;
        case QUEUE_DEAD:
            if (strcmp(jobs[i].kind, FLOW_JOB_MSG) == 0)
                fail_msg("job %s died: %s", jobs[i].args, msg);
            assert_int_equal(queue_fail(F.db, &jobs[i], msg, 1, 0, &dead, &err), MR_OK);
            break;
        case QUEUE_CANCEL:
            assert_int_equal(queue_cancel_owned(F.db, &jobs[i], msg, &err), MR_OK);
            break;
        default: break;
        }
        queue_job_clear(&jobs[i]);
    }
    for (int k = 0; k < 2 && !hold_sends; k++)
        for (int i = 0; i < 2; i++)
            if (txm_poll(&F.txm[i], &left, &err) != MR_OK)
                fail_msg("txm %d: %s", i, err.msg);
}

static void pass(void)
{
    pass_with(&F.ctx);
}

/* Runs passes until every message is in `want` (a terminal state). */
static void drive_with(struct flow_ctx *ctx, struct tmsg *ms, size_t n, const char *want)
{
    char buf[256];

    for (int round = 0; round < 400; round++) {
        size_t done = 0;
        pass_with(ctx);
        for (size_t i = 0; i < n; i++) {
            state_of(&ms[i], buf, sizeof(buf));
            if (strncmp(buf, "halted", 6) == 0)
                fail_msg("message %zu halted: %s", i, buf);
            done += strcmp(buf, want) == 0;
        }
        if (done == n)
            return;
        tv_sleep_ms(25);
    }
    fail_msg("messages not %s after 400 passes (first: %s)", want, state_of(&ms[0], buf, sizeof(buf)));
}

static void drive(struct tmsg *ms, size_t n, const char *want)
{
    drive_with(&F.ctx, ms, n, want);
}

static int64_t count_purpose(const char *purpose, int64_t after)
{
    return q64("SELECT count(*) FROM transactions WHERE purpose = '%s' AND id > %lld", purpose,
               (long long)after);
}

static void no_reverts(void)
{
    assert_int_equal(q64("SELECT count(*) FROM transactions WHERE receipt_status = 0"), 0);
}

/* How many transactions with `purpose` the relayer recorded after a
 * transaction id: one row of a test's table of expectations. */
struct sent {
    const char *purpose;
    int64_t n;
};

static void expect_sent(int64_t after, const struct sent *want, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int64_t got = count_purpose(want[i].purpose, after);
        if (got != want[i].n)
            fail_msg("%s: %lld sent, expected %lld", want[i].purpose, (long long)got,
                     (long long)want[i].n);
    }
}

#define EXPECT_SENT(after, ...)                                                \
    do {                                                                       \
        static const struct sent want_[] = {__VA_ARGS__};                      \
        expect_sent(after, want_, sizeof(want_) / sizeof(want_[0]));           \
    } while (0)

/* The message's status in the source's outbox and the target's inbox. */
static void expect_status(const struct tmsg *m, int outbox, int inbox)
{
    int stake = m->kind == MOSAIC_STAKE;

    assert_int_equal(status_of(stake ? &F.o : &F.a, stake ? GW(m) : COGW(m), 0, m->hash), outbox);
    assert_int_equal(status_of(stake ? &F.a : &F.o, stake ? COGW(m) : GW(m), 1, m->hash), inbox);
}

/* The organization's owner anchors `about`'s state root at `height` on the
 * other chain (as the organization may at any time, §3). */
static void owner_anchor(struct cl_chain *about, uint64_t height)
{
    int origin = about == &F.o;
    struct abi_value args[2];
    struct eth_block b;

    cl_block(about, height, &b);
    args[0] = abi_v_uint(height);
    args[1] = abi_v_bytes(b.state_root, 32);
    send_call(origin ? &F.a : &F.o, "anchorStateRoot (owner)", origin ? F.dep_a : F.dep_o,
              origin ? F.anchor_a : F.anchor_o, NULL, "anchorStateRoot(uint256,bytes32)", args, 2,
              NULL);
}

/* A stake by a new staker to `beneficiary` (NULL: a random one), carried
 * to completion by the relayer with the secret. */
static void stake_completed(struct tmsg *m, uint64_t amount_units, const uint8_t *beneficiary)
{
    do_stake(m, amount_units, beneficiary);
    insert_message(m, 1);
    drive(m, 1, "completed");
}

/* --------------------------------------------------------------- tests -- */

/* §5.1 by hashlock: anchor, prove, confirm, progressMint and progressStake
 * pipelined by one run; the beneficiary gets amount - reward, the
 * facilitator the reward (balances to the wei). */
static void test_stake_hashlock(void **state)
{
    struct tmsg m;
    struct u256 fac0, fac1, ben, vault0, vault1, bt0, bt1;
    int64_t first = 0;

    REQUIRE();
    first = max_tx_id();
    fac0 = balance_of(&F.a, F.ut, F.fac);
    bt0 = balance_of(&F.o, F.bt, F.fac);
    vault0 = balance_of(&F.o, F.vt, F.vault);
    do_stake(&m, 1000, NULL);
    insert_message(&m, 1);
    drive(&m, 1, "completed");
    expect_status(&m, MOSAIC_PROGRESSED, MOSAIC_PROGRESSED);
    fac1 = balance_of(&F.a, F.ut, F.fac);
    ben = balance_of(&F.a, F.ut, m.beneficiary);
    /* amount - reward to the beneficiary, the reward to the facilitator. */
    cl_assert_u256("minted", cl_add(ben, cl_sub(fac1, fac0)), m.amount);
    assert_true(u256_cmp(&fac1, &fac0) > 0);
    vault1 = balance_of(&F.o, F.vt, F.vault);
    cl_assert_u256("vault", cl_sub(vault1, vault0), m.amount);
    bt1 = balance_of(&F.o, F.bt, F.fac);
    cl_assert_u256("bounty", cl_sub(bt1, bt0), cl_u256(BOUNTY));
    EXPECT_SENT(first, {"anchorStateRoot", 1}, {"proveGateway", 1}, {"confirmStakeIntent", 1},
                {"progressMint", 1}, {"progressStake", 1});
    /* Every step recorded against the message, and the job ids set. */
    assert_int_equal(q64("SELECT count(*) FROM message_txs"), 3);
    assert_int_equal(q64("SELECT count(*) FROM transactions WHERE id > %lld AND job_id IS NULL",
                         (long long)first), 0);
    no_reverts();
}

/* eth_getProof calls of the process (rpc_set_observer). */
static unsigned long n_get_proof;

static void count_get_proof(uint64_t chain_id, size_t endpoint, const char *method, double seconds,
                            const struct rpc_detail *d)
{
    (void)chain_id;
    (void)endpoint;
    (void)seconds;
    (void)d;
    if (strcmp(method, "eth_getProof") == 0)
        __atomic_add_fetch(&n_get_proof, 1, __ATOMIC_RELAXED);
}

/* Three stakes waiting for their confirm at one height: the first run
 * fetches the proofs of all three source outbox slots in one eth_getProof
 * (each verified against our node's root), the other runs take theirs from
 * the cache.  One proof per message would be four calls (one more for the
 * height to anchor). */
static void test_confirm_proofs_shared(void **state)
{
    struct tmsg m[3];
    unsigned long calls;
    int64_t first = 0;

    REQUIRE();
    first = max_tx_id();
    for (int i = 0; i < 3; i++)
        do_stake(&m[i], 100 + (uint64_t)i, NULL);
    for (int i = 0; i < 3; i++)
        insert_message(&m[i], 1);
    __atomic_store_n(&n_get_proof, 0, __ATOMIC_RELAXED);
    rpc_set_observer(count_get_proof);
    drive(m, 3, "completed");
    rpc_set_observer(NULL);
    calls = __atomic_load_n(&n_get_proof, __ATOMIC_RELAXED);
    print_message("eth_getProof calls for 3 confirms: %lu\n", calls);
    assert_true(calls < 4);
    assert_int_equal(count_purpose("confirmStakeIntent", first), 3);
    assert_int_equal(count_purpose("proveGateway", first), 1);
    for (int i = 0; i < 3; i++)
        assert_int_equal(status_of(&F.a, F.cogw, 1, m[i].hash), MOSAIC_PROGRESSED);
    no_reverts();
}

/* §5.4: redeem & unstake by hashlock (anchoring the auxiliary chain on
 * origin, confirmRedeemIntent with the height before the hashlock). */
static void test_redeem_hashlock(void **state)
{
    struct tmsg s, m;
    uint8_t holder[20], ben_o[20];
    struct u256 half, got, fac0, fac1, vault0, vault1;
    int64_t first;

    REQUIRE();
    cl_new_account(&F.a, 10, holder);
    stake_completed(&s, 10, holder);
    first = max_tx_id();
    assert_int_equal(sys_random(ben_o, 20), 0);
    half = balance_of(&F.a, F.ut, holder);
    assert_int_equal(u256_divmod_u64(&half, &half, 2, NULL), MR_OK);
    fac0 = balance_of(&F.o, F.vt, F.fac);
    vault0 = balance_of(&F.o, F.vt, F.vault);
    do_redeem(&m, holder, &half, ben_o);
    insert_message(&m, 1);
    drive(&m, 1, "completed");
    expect_status(&m, MOSAIC_PROGRESSED, MOSAIC_PROGRESSED);
    got = balance_of(&F.o, F.vt, ben_o);
    fac1 = balance_of(&F.o, F.vt, F.fac);
    vault1 = balance_of(&F.o, F.vt, F.vault);
    cl_assert_u256("unstaked", cl_add(got, cl_sub(fac1, fac0)), half);
    cl_assert_u256("vault", cl_sub(vault0, vault1), half);
    EXPECT_SENT(first, {"anchorStateRoot", 1}, {"confirmRedeemIntent", 1}, {"progressUnstake", 1},
                {"progressRedeem", 1});
    no_reverts();
}

/* §5.2: the relayer does not hold the secret and nobody revealed it:
 * progressMintWithProof, then an auxiliary root anchored on origin and
 * progressStakeWithProof. */
static void test_stake_proof_path(void **state)
{
    struct tmsg m;
    struct u256 ben;
    int64_t first;

    REQUIRE();
    first = max_tx_id();
    do_stake(&m, 7, NULL);
    insert_message(&m, 0);
    drive(&m, 1, "completed");
    expect_status(&m, MOSAIC_PROGRESSED, MOSAIC_PROGRESSED);
    ben = balance_of(&F.a, F.ut, m.beneficiary);
    assert_true(!u256_is_zero(&ben) && u256_cmp(&ben, &m.amount) < 0);
    EXPECT_SENT(first, {"progressMintWithProof", 1}, {"progressStakeWithProof", 1},
                {"progressMint", 0}, {"progressStake", 0},
                /* One anchor each way, one proof of each gateway. */
                {"anchorStateRoot", 2}, {"proveGateway", 2});
    no_reverts();
}

/* The staker progressed the source with the secret before the relayer ran
 * (after an organization anchor at the stake's block): the relayer
 * confirms at that older height and mints, and never sends the
 * progressStake that would revert. */
static void test_progressed_by_someone_else(void **state)
{
    struct tmsg m;
    struct abi_value args[2];
    int64_t first;

    REQUIRE();
    first = max_tx_id();
    do_stake(&m, 3, NULL);
    owner_anchor(&F.o, m.block);
    args[0] = abi_v_bytes(m.hash, 32);
    args[1] = abi_v_bytes(m.secret, 32);
    send_call(&F.o, "progressStake (staker)", m.sender, F.gw, NULL,
              "progressStake(bytes32,bytes32)", args, 2, NULL);
    assert_int_equal(status_of(&F.o, F.gw, 0, m.hash), MOSAIC_PROGRESSED);
    insert_message(&m, 1);
    drive(&m, 1, "completed");
    assert_int_equal(status_of(&F.a, F.cogw, 1, m.hash), MOSAIC_PROGRESSED);
    EXPECT_SENT(first, {"progressStake", 0}, {"anchorStateRoot", 0}, {"confirmStakeIntent", 1},
                {"progressMint", 1});
    no_reverts();
}

/* Someone else carried the whole message: the relayer records it
 * completed and sends nothing at all. */
static void test_completed_by_someone_else(void **state)
{
    struct tmsg m;
    int64_t first;

    REQUIRE();
    /* Carried once (as another relayer would), then the row is set back to
     * a fresh declaration with no record of what was sent. */
    stake_completed(&m, 2, NULL);
    first = max_tx_id();
    {
        char mh[67], sql[256];
        flow_bytea_text(m.hash, 32, mh);
        snprintf(sql, sizeof(sql), "UPDATE messages SET state = 'declared', completed_at = NULL"
                                   " WHERE message_hash = '%s'::bytea", mh);
        PQclear(PQexec(F.db, sql));
        snprintf(sql, sizeof(sql), "DELETE FROM message_txs WHERE message_hash = '%s'::bytea", mh);
        PQclear(PQexec(F.db, sql));
    }
    enqueue_msg(&m);
    drive(&m, 1, "completed");
    assert_int_equal(max_tx_id(), first);
    no_reverts();
}

/* §5.3: the staker reverts before any confirmation.  The relayer confirms
 * at an older anchored height (the organization anchored the stake's
 * block), confirms the revocation on the auxiliary chain, anchors that back
 * on origin and completes progressRevertStake: the staker gets the stake
 * back; nothing is minted. */
static void test_stake_revert(void **state)
{
    struct tmsg m;
    struct abi_value args[2];
    struct u256 penalty = cl_u256(BOUNTY * 3 / 2), back;
    int64_t first;

    REQUIRE();
    first = max_tx_id();
    do_stake(&m, 4, NULL);
    owner_anchor(&F.o, m.block);
    args[0] = abi_v_address(m.sender);
    args[1] = abi_v_u256(&penalty);
    send_call(&F.o, "bt.transfer", F.dep_o, F.bt, NULL, "transfer(address,uint256)", args, 2, NULL);
    args[0] = abi_v_address(F.gw);
    send_call(&F.o, "bt.approve", m.sender, F.bt, NULL, "approve(address,uint256)", args, 2, NULL);
    args[0] = abi_v_bytes(m.hash, 32);
    send_call(&F.o, "revertStake", m.sender, F.gw, NULL, "revertStake(bytes32)", args, 1, NULL);
    assert_int_equal(status_of(&F.o, F.gw, 0, m.hash), MOSAIC_DECLARED_REVOCATION);
    insert_message(&m, 1);
    drive(&m, 1, "reverted");
    expect_status(&m, MOSAIC_REVOKED, MOSAIC_REVOKED);
    back = balance_of(&F.o, F.vt, m.sender);
    cl_assert_u256("stake returned", back, m.amount);
    EXPECT_SENT(first, {"confirmStakeIntent", 1}, {"confirmRevertStakeIntent", 1},
                {"progressRevertStake", 1}, {"progressMint", 0}, {"progressStake", 0});
    no_reverts();
}

/* §5.5: a redeem reverted by its redeemer after the relayer could not see
 * it yet: the utility tokens come back. */
static void test_redeem_revert(void **state)
{
    struct tmsg s, m;
    struct abi_value args[2];
    struct u256 all, penalty = cl_u256(BOUNTY * 3 / 2), back;
    uint8_t holder[20], ben_o[20];
    int64_t first;

    REQUIRE();
    cl_new_account(&F.a, 10, holder);
    stake_completed(&s, 5, holder);
    first = max_tx_id();
    all = balance_of(&F.a, F.ut, holder);
    assert_int_equal(sys_random(ben_o, 20), 0);
    do_redeem(&m, holder, &all, ben_o);
    back = balance_of(&F.a, F.ut, holder);
    assert_true(u256_is_zero(&back));
    owner_anchor(&F.a, m.block);
    args[0] = abi_v_bytes(m.hash, 32);
    send_call(&F.a, "revertRedeem", holder, F.cogw, &penalty, "revertRedeem(bytes32)", args, 1,
              NULL);
    insert_message(&m, 1);
    drive(&m, 1, "reverted");
    expect_status(&m, MOSAIC_REVOKED, MOSAIC_REVOKED);
    back = balance_of(&F.a, F.ut, holder);
    cl_assert_u256("redeem returned", back, all);
    EXPECT_SENT(first, {"confirmRedeemIntent", 1}, {"confirmRevertRedeemIntent", 1},
                {"progressRevertRedeem", 1}, {"progressUnstake", 0});
    no_reverts();
}

/* RELIABILITY.md row 26: the anchored height's state is gone from our node
 * (a pruned geth answers eth_getProof with "missing trie node").  The
 * organization anchored the stake's block; our origin endpoint (a fault
 * proxy) refuses every proof at that height.  The relayer counts the height
 * as tried, anchors a newer final one and confirms there: one anchor, one
 * confirm, nothing failed or reverted. */
static void test_pruned_height_reanchored(void **state)
{
    struct config *c2 = malloc(sizeof(*c2));
    struct flow_ctx x;
    struct fproxy *px;
    struct tmsg m;
    struct abi_value args[2];
    struct eth_block b;
    struct u256 latest;
    char blk[40];
    int64_t first;

    REQUIRE();
    assert_non_null(c2);
    memcpy(c2, F.cfg, sizeof(*c2));
    px = fproxy_start(tv_anvil_url("ORIGIN"));
    assert_non_null(px);
    snprintf(c2->chains[0].endpoints[0], sizeof(c2->chains[0].endpoints[0]), "%s",
             fproxy_url(px));
    flow_ctx_init(&x, c2, F.fac, 1, F.fac);
    x.wait_min_ms = 20;
    x.wait_max_ms = 200;
    first = max_tx_id();
    do_stake(&m, 6, NULL);
    cl_block(&F.o, m.block, &b);
    args[0] = abi_v_uint(m.block);
    args[1] = abi_v_bytes(b.state_root, 32);
    send_call(&F.a, "anchorStateRoot (owner)", F.dep_a, F.anchor_a, NULL,
              "anchorStateRoot(uint256,bytes32)", args, 2, NULL);
    latest = cl_view_u256(&F.a, F.anchor_a, "getLatestStateRootBlockHeight()", NULL, 0);
    assert_int_equal(latest.w[0], m.block);
    snprintf(blk, sizeof(blk), "\"0x%llx\"", (unsigned long long)m.block);
    fproxy_node_error(px, "eth_getProof", blk, -32000,
                      "missing trie node 5f1b0c3ad9e8f2a64c7b19e0d3f5a2c8 (path ) <nil>", 0);
    cl_mine(&F.o, 1); /* a newer final block to anchor */
    insert_message(&m, 1);
    drive_with(&x, &m, 1, "completed");
    /* The refused height was asked for, and a newer one anchored instead. */
    assert_true(fproxy_count(px, "(node error)") >= 1);
    latest = cl_view_u256(&F.a, F.anchor_a, "getLatestStateRootBlockHeight()", NULL, 0);
    assert_true(latest.w[0] > m.block);
    assert_int_equal(status_of(&F.o, F.gw, 0, m.hash), MOSAIC_PROGRESSED);
    assert_int_equal(status_of(&F.a, F.cogw, 1, m.hash), MOSAIC_PROGRESSED);
    assert_int_equal(count_purpose("anchorStateRoot", first), 1);
    assert_int_equal(q64("SELECT count(*) FROM transactions WHERE id > %lld AND purpose ="
                         " 'anchorStateRoot' AND chain_key = 'aux'", (long long)first), 1);
    assert_int_equal(count_purpose("confirmStakeIntent", first), 1);
    assert_int_equal(count_purpose("progressMint", first), 1);
    assert_int_equal(q64("SELECT count(*) FROM transactions WHERE id > %lld AND state NOT IN"
                         " ('final')", (long long)first), 0);
    no_reverts();
    fproxy_stop(px);
    flow_thread_release();
    flow_ctx_destroy(&x);
    free(c2);
}

/* The organization anchors origin's block h on the auxiliary chain. */
static void org_anchor_origin(uint64_t h)
{
    struct abi_value args[2];
    struct eth_block b;

    cl_block(&F.o, h, &b);
    args[0] = abi_v_uint(h);
    args[1] = abi_v_bytes(b.state_root, 32);
    send_call(&F.a, "anchorStateRoot (owner)", F.dep_a, F.anchor_a, NULL,
              "anchorStateRoot(uint256,bytes32)", args, 2, NULL);
}

/* The message's job, due now: a new one, or the live one moved to now.
 * Returns the id queue_enqueue gave (0: a live job had the key). */
static int64_t msg_job_now(const struct tmsg *m)
{
    char mh[67], a[128], d[80];
    struct queue_job_spec spec;
    struct mr_error err;
    int64_t id = 0;

    flow_hex(m->hash, 32, mh);
    snprintf(a, sizeof(a), "{\"message_hash\":\"%s\"}", mh);
    snprintf(d, sizeof(d), "msg:%s", mh);
    memset(&spec, 0, sizeof(spec));
    spec.kind = FLOW_JOB_MSG;
    spec.args_json = a;
    spec.dedup_key = d;
    assert_int_equal(queue_enqueue(F.db, &spec, &id, &err), MR_OK);
    q64("WITH u AS (UPDATE jobs SET run_at = now() WHERE dedup_key = '%s' AND state IN"
        " ('available', 'scheduled', 'retryable') RETURNING 1) SELECT count(*) FROM u", d);
    return id;
}

/* RELIABILITY.md row 6 (Polygon Plasma): duplicates are keyed on the
 * message and its step, never on the proof.  The stake is provable at two
 * heights (the organization anchored its block, and later a newer one):
 * one job for the message however often it is enqueued; with the confirm
 * recorded at the first height and still in flight, the job runs again
 * when the newer height (another valid proof) is there: no second confirm.
 * Then carried to the end: one confirm, one mint, nothing reverted. */
static void test_two_proofs_one_tx(void **state)
{
    struct tmsg m;
    char mh[67], dk[80];
    int64_t first, runs;

    REQUIRE();
    first = max_tx_id();
    do_stake(&m, 5, NULL);
    org_anchor_origin(m.block);
    insert_message(&m, 1);
    assert_int_equal(msg_job_now(&m), 0); /* the same message again: the same job */
    flow_bytea_text(m.hash, 32, mh);
    flow_hex(m.hash, 32, dk);
    assert_int_equal(q64("SELECT count(*) FROM jobs WHERE dedup_key = 'msg:%s'", dk), 1);
    hold_sends = 1;
    pass();
    assert_int_equal(count_purpose("confirmStakeIntent", first), 1);
    assert_int_equal(q64("SELECT height FROM message_txs WHERE message_hash = '%s'::bytea AND"
                         " step = 'confirm'", mh), (int64_t)m.block);
    /* A second valid proof: origin's next block anchored too. */
    cl_mine(&F.o, 1);
    org_anchor_origin(cl_block_number(&F.o));
    runs = q64("SELECT coalesce(sum(attempt), 0) FROM jobs WHERE dedup_key = 'msg:%s'", dk);
    for (int i = 0; i < 3; i++) {
        msg_job_now(&m);
        pass();
    }
    hold_sends = 0;
    assert_true(q64("SELECT coalesce(sum(attempt), 0) FROM jobs WHERE dedup_key = 'msg:%s'", dk) >
                runs); /* the job did run again */
    assert_int_equal(count_purpose("confirmStakeIntent", first), 1);
    assert_int_equal(q64("SELECT count(*) FROM message_txs WHERE message_hash = '%s'::bytea AND"
                         " step = 'confirm'", mh), 1);
    drive(&m, 1, "completed");
    assert_int_equal(status_of(&F.a, F.cogw, 1, m.hash), MOSAIC_PROGRESSED);
    assert_int_equal(count_purpose("confirmStakeIntent", first), 1);
    assert_int_equal(count_purpose("progressMint", first), 1);
    assert_int_equal(count_purpose("progressStake", first), 1);
    assert_int_equal(count_purpose("anchorStateRoot", first), 0);
    no_reverts();
}

/* Relayer nonces on `chain_key` (one key) without a gap, and the chain's
 * nonce right after the highest. */
static void nonces_gapless(int chain)
{
    const char *k = F.cfg->chains[chain].key;
    struct mr_error err;
    uint64_t on_chain = 0;
    int64_t lo, hi, n;

    char who[43];

    flow_bytea_text(F.fac, 20, who);
#define OURS "FROM transactions WHERE chain_key = '%s' AND sender = '%s'::bytea"
    lo = q64("SELECT min(nonce) " OURS, k, who);
    hi = q64("SELECT max(nonce) " OURS, k, who);
    n = q64("SELECT count(DISTINCT nonce) " OURS, k, who);
    assert_int_equal(n, hi - lo + 1);
    assert_int_equal(q64("SELECT count(*) " OURS, k, who), n);
#undef OURS
    if (ethrpc_get_transaction_count(F.txm[chain].rpc, F.fac, "latest", &on_chain, NULL, &err) !=
        MR_OK)
        fail_msg("%s", err.msg);
    assert_int_equal((int64_t)on_chain, hi + 1);
}

/* RELIABILITY.md row 2: our own confirm reorged out after it was mined.
 * The auxiliary chain is final 4 blocks deep (for the flows and the
 * sender).  Once the confirm (and the mint pipelined behind it) are
 * included, anvil_reorg replaces the blocks from the confirm's on: the
 * transactions are gone and the key's nonce rolled back.  The sender sees
 * the block hash changed and sends the same rows again at the same nonces;
 * the message's job, run before the sender noticed, records nothing again
 * (the confirm is in flight until final); the message completes only when
 * that is final: one confirm, one mint (the beneficiary paid once), no
 * nonce gap, nothing reverted. */
static void test_own_confirm_reorged(void **state)
{
    enum { DEPTH = 4 };
    struct tmsg m;
    struct u256 fac0, fac1, ben;
    char mh[67], old_hash[67], buf[256];
    int64_t first, confirm_id, nonce0, cb, head;
    int round;

    REQUIRE();
    F.cfg->chains[1].confirmations = DEPTH;
    F.txm[1].cfg.confirmations = DEPTH;
    first = max_tx_id();
    fac0 = balance_of(&F.a, F.ut, F.fac);
    do_stake(&m, 9, NULL);
    insert_message(&m, 1);
    flow_bytea_text(m.hash, 32, mh);
    /* Until the confirm is included (not final: no blocks after it). */
    for (round = 0; round < 100; round++) {
        pass();
        if (q64("SELECT count(*) FROM transactions t JOIN message_txs mt ON mt.tx_id = t.id WHERE"
                " mt.message_hash = '%s'::bytea AND mt.step = 'confirm' AND t.state ="
                " 'included'", mh) == 1)
            break;
        tv_sleep_ms(20);
    }
    assert_true(round < 100);
    confirm_id = q64("SELECT tx_id FROM message_txs WHERE message_hash = '%s'::bytea AND step ="
                     " 'confirm'", mh);
    nonce0 = q64("SELECT nonce FROM transactions WHERE id = %lld", (long long)confirm_id);
    cb = q64("SELECT included_block FROM transactions WHERE id = %lld", (long long)confirm_id);
    {
        PGresult *res;
        char sql[160];
        snprintf(sql, sizeof(sql), "SELECT encode(included_block_hash, 'hex') FROM transactions"
                                   " WHERE id = %lld", (long long)confirm_id);
        res = PQexec(F.db, sql);
        assert_int_equal(PQntuples(res), 1);
        snprintf(old_hash, sizeof(old_hash), "%s", PQgetvalue(res, 0, 0));
        PQclear(res);
    }
    head = (int64_t)cl_block_number(&F.a);
    assert_true(head - cb < DEPTH); /* within the finality depth */
    assert_int_equal(status_of(&F.a, F.cogw, 1, m.hash) != MOSAIC_UNDECLARED, 1);
    assert_string_not_equal(state_of(&m, buf, sizeof(buf)), "completed");
    /* Replace the blocks from the confirm's on. */
    rpc_do(&F.a, "anvil_reorg", json_pack("[I[]]", (json_int_t)(head - cb + 1)));
    assert_int_equal(status_of(&F.a, F.cogw, 1, m.hash), MOSAIC_UNDECLARED);
    /* The message's job runs before the sender notices: the confirm it
     * recorded is still in flight (mined, not final), not recorded again. */
    hold_sends = 1;
    msg_job_now(&m);
    pass();
    hold_sends = 0;
    assert_int_equal(count_purpose("confirmStakeIntent", first), 1);
    /* The flows and the sender carry on; blocks come to make them final. */
    for (round = 0; round < 200; round++) {
        pass();
        state_of(&m, buf, sizeof(buf));
        if (strncmp(buf, "halted", 6) == 0)
            fail_msg("halted: %s", buf);
        if (strcmp(buf, "completed") == 0)
            break;
        cl_mine(&F.a, 1);
        tv_sleep_ms(20);
    }
    F.cfg->chains[1].confirmations = 0;
    F.txm[1].cfg.confirmations = 0;
    assert_string_equal(buf, "completed");
    expect_status(&m, MOSAIC_PROGRESSED, MOSAIC_PROGRESSED);
    /* The same row at the same nonce, final in a block of the new chain. */
    assert_int_equal(q64("SELECT tx_id FROM message_txs WHERE message_hash = '%s'::bytea AND step"
                         " = 'confirm'", mh), confirm_id);
    assert_int_equal(q64("SELECT nonce FROM transactions WHERE id = %lld", (long long)confirm_id),
                     nonce0);
    assert_int_equal(q64("SELECT count(*) FROM transactions WHERE id = %lld AND state = 'final'"
                         " AND encode(included_block_hash, 'hex') <> '%s'", (long long)confirm_id,
                         old_hash), 1);
    EXPECT_SENT(first, {"confirmStakeIntent", 1}, {"progressMint", 1}, {"progressStake", 1});
    /* Minted once: amount - reward to the beneficiary, the reward to us. */
    fac1 = balance_of(&F.a, F.ut, F.fac);
    ben = balance_of(&F.a, F.ut, m.beneficiary);
    cl_assert_u256("minted once", cl_add(ben, cl_sub(fac1, fac0)), m.amount);
    assert_int_equal(q64("SELECT count(*) FROM transactions WHERE id > %lld AND state <> 'final'",
                         (long long)first), 0);
    nonces_gapless(1);
    no_reverts();
}

/* RELIABILITY.md row 26, the Anchor's ring buffer (maxStateRoots 10 here)
 * dropping a height.  The organization anchored origin's block h, where
 * two stakes are declared; the relayer carries the first (proveGateway(h),
 * confirm at h).  The second's staker progresses it on origin, so that only
 * heights up to h show it Declared, and the organization anchors ten newer
 * heights: h leaves the ring buffer (its root reads as zero).  The
 * relayer passes over the newer heights (Progressed there) and the dropped
 * one's missing root, and confirms at h with the storage root the gateway
 * holds from our proveGateway: one confirm, one mint, no anchor, no second
 * prove, nothing reverted. */
static void test_ring_buffer_dropped_height(void **state)
{
    struct tmsg m[2];
    struct abi_value a[2];
    struct u256 root;
    char mh[67];
    int64_t first;
    uint64_t h;
    uint8_t staker[20];

    REQUIRE();
    cl_new_account(&F.o, 10, staker);
    do_stake(&m[0], 2, NULL);
    do_stake_from(&m[1], 3, NULL, staker);
    h = m[1].block;
    org_anchor_origin(h);
    insert_message(&m[0], 1);
    drive(&m[0], 1, "completed");
    flow_bytea_text(m[0].hash, 32, mh);
    assert_int_equal(q64("SELECT height FROM message_txs WHERE message_hash = '%s'::bytea AND"
                         " step = 'confirm'", mh), (int64_t)h);
    /* The staker reveals the secret on origin: newer heights show Progressed. */
    a[0] = abi_v_bytes(m[1].hash, 32);
    a[1] = abi_v_bytes(m[1].secret, 32);
    send_call(&F.o, "progressStake (staker)", staker, F.gw, NULL,
              "progressStake(bytes32,bytes32)", a, 2, NULL);
    /* Ten newer roots: h leaves the ring buffer. */
    cl_mine(&F.o, 10);
    for (uint64_t i = 1; i <= 10; i++)
        org_anchor_origin(h + 1 + i);
    a[0] = abi_v_uint(h);
    root = cl_view_u256(&F.a, F.anchor_a, "getStateRoot(uint256)", a, 1);
    assert_true(u256_is_zero(&root));
    first = max_tx_id();
    insert_message(&m[1], 1);
    drive(&m[1], 1, "completed");
    assert_int_equal(status_of(&F.a, F.cogw, 1, m[1].hash), MOSAIC_PROGRESSED);
    flow_bytea_text(m[1].hash, 32, mh);
    assert_int_equal(q64("SELECT height FROM message_txs WHERE message_hash = '%s'::bytea AND"
                         " step = 'confirm'", mh), (int64_t)h);
    EXPECT_SENT(first, {"anchorStateRoot", 0}, {"proveGateway", 0}, {"confirmStakeIntent", 1},
                {"progressMint", 1}, {"progressStake", 0});
    no_reverts();
}

/* A root anchored by the organization that differs from our node's header
 * at that height: the relayer halts the message and raises a critical
 * alert, and sends nothing (fail closed). */
static void test_bad_anchor_halts(void **state)
{
    struct tmsg m;
    struct abi_value args[2];
    uint8_t bogus[32];
    char buf[256];
    int64_t first, alerts0;

    REQUIRE();
    do_stake(&m, 1, NULL);
    first = max_tx_id();
    alerts0 = q64("SELECT count(*) FROM alerts WHERE severity = 'critical'");
    memset(bogus, 0x5a, 32);
    args[0] = abi_v_uint(cl_block_number(&F.o));
    args[1] = abi_v_bytes(bogus, 32);
    send_call(&F.a, "anchorStateRoot (bogus)", F.dep_a, F.anchor_a, NULL,
              "anchorStateRoot(uint256,bytes32)", args, 2, NULL);
    insert_message(&m, 1);
    for (int i = 0; i < 20 && strncmp(state_of(&m, buf, sizeof(buf)), "halted", 6) != 0; i++)
        pass();
    assert_true(strncmp(state_of(&m, buf, sizeof(buf)), "halted", 6) == 0);
    assert_non_null(strstr(buf, "differs"));
    assert_int_equal(max_tx_id(), first);
    assert_true(q64("SELECT count(*) FROM alerts WHERE severity = 'critical'") > alerts0);
    /* Later messages must not be stuck behind the bogus root for ever: an
     * honest anchor above it serves them. */
}

/* A sender's messages in nonce order (§4.1): the staker progressed nonce 0
 * on origin and declared nonce 1 before the relayer ran.  Nonce 1 is not
 * confirmed before nonce 0 is progressed on the target. */
static void test_sender_nonce_order(void **state)
{
    struct tmsg m[2];
    struct abi_value args[2];
    uint8_t staker[20];
    int64_t first, mint0, confirm1;
    char mh[67];

    REQUIRE();
    first = max_tx_id();
    cl_new_account(&F.o, 10, staker);
    do_stake_from(&m[0], 2, NULL, staker);
    owner_anchor(&F.o, m[0].block);
    args[0] = abi_v_bytes(m[0].hash, 32);
    args[1] = abi_v_bytes(m[0].secret, 32);
    send_call(&F.o, "progressStake (staker)", staker, F.gw, NULL,
              "progressStake(bytes32,bytes32)", args, 2, NULL);
    do_stake_from(&m[1], 3, NULL, staker);
    assert_int_equal(m[1].nonce.w[0], 1);
    /* The later one first: it must wait for the earlier one. */
    insert_message(&m[1], 1);
    pass();
    {
        char buf[256];
        state_of(&m[1], buf, sizeof(buf));
        assert_string_equal(buf, "confirming");
    }
    assert_int_equal(count_purpose("confirmStakeIntent", first), 0);
    insert_message(&m[0], 1);
    drive(m, 2, "completed");
    flow_bytea_text(m[0].hash, 32, mh);
    mint0 = q64("SELECT t.id FROM transactions t JOIN message_txs mt ON mt.tx_id = t.id WHERE"
                " mt.message_hash = '%s'::bytea AND mt.step = 'progress_target'", mh);
    flow_bytea_text(m[1].hash, 32, mh);
    confirm1 = q64("SELECT t.id FROM transactions t JOIN message_txs mt ON mt.tx_id = t.id WHERE"
                   " mt.message_hash = '%s'::bytea AND mt.step = 'confirm'", mh);
    assert_true(confirm1 > mint0);
    no_reverts();
}

/* Without the organization key the relayer does not anchor: the message
 * waits ("anchoring") until the organization anchors a root, then goes on
 * with it, and the relayer has sent no anchor. */
static void test_no_anchor_key_waits(void **state)
{
    struct flow_ctx c2;
    struct tmsg m;
    char buf[256];
    int64_t first;

    REQUIRE();
    flow_ctx_init(&c2, F.cfg, F.fac, 0, NULL);
    c2.wait_min_ms = 20;
    c2.wait_max_ms = 100;
    first = max_tx_id();
    do_stake(&m, 2, NULL);
    insert_message(&m, 1);
    for (int i = 0; i < 5; i++) {
        pass_with(&c2);
        tv_sleep_ms(30);
    }
    state_of(&m, buf, sizeof(buf));
    assert_string_equal(buf, "anchoring");
    assert_int_equal(max_tx_id(), first);
    owner_anchor(&F.o, cl_block_number(&F.o));
    drive_with(&c2, &m, 1, "completed");
    EXPECT_SENT(first, {"anchorStateRoot", 0}, {"confirmStakeIntent", 1});
    no_reverts();
    flow_ctx_destroy(&c2);
}

static void anvil_time(struct cl_chain *c, uint64_t seconds)
{
    rpc_do(c, "evm_increaseTime", json_pack("[I]", (json_int_t)seconds));
    cl_mine(c, 1);
}

static void enqueue_anchor_jobs(const struct config *cfg)
{
    struct mr_error err;
    size_t n = 0;

    assert_int_equal(flow_enqueue_anchor_jobs(cfg, F.db, &n, &err), MR_OK);
    assert_int_equal(n, 2); /* one per direction of the one pair */
}

/* The anchorer: nothing to do while the newest anchored root is fresh; at
 * max_interval (in the remote chain's time) it anchors the latest final
 * block once; with a second endpoint that lies about that block's state
 * root (quorum 2) it anchors nothing and raises a critical alert. */
static void test_anchorer_interval_and_quorum(void **state)
{
    struct config *c2 = malloc(sizeof(*c2));
    struct flow_ctx x;
    struct fproxy *px;
    struct eth_block b;
    char root[67];
    int64_t first, alerts0;

    REQUIRE();
    assert_non_null(c2);
    memcpy(c2, F.cfg, sizeof(*c2));
    c2->relayer.anchor_max_interval_ms = 60000;
    px = fproxy_start(tv_anvil_url("ORIGIN"));
    assert_non_null(px);
    snprintf(c2->chains[0].endpoints[1], sizeof(c2->chains[0].endpoints[1]), "%s",
             fproxy_url(px));
    c2->chains[0].n_endpoints = 2;
    c2->chains[0].quorum = 2;
    flow_ctx_init(&x, c2, F.fac, 1, F.fac);
    /* Make the newest root on each side fresh, then nothing is due. */
    anvil_time(&F.o, 120);
    anvil_time(&F.a, 120);
    first = max_tx_id();
    enqueue_anchor_jobs(c2);
    pass_with(&x);
    assert_int_equal(count_purpose("anchorStateRoot", first), 2);
    pass_with(&x); /* mined */
    first = max_tx_id();
    cl_mine(&F.o, 1);
    enqueue_anchor_jobs(c2);
    pass_with(&x);
    assert_int_equal(count_purpose("anchorStateRoot", first), 0);
    /* Two minutes later on origin: due on aux (origin's roots). */
    anvil_time(&F.o, 120);
    enqueue_anchor_jobs(c2);
    pass_with(&x);
    assert_int_equal(count_purpose("anchorStateRoot", first), 1);
    assert_int_equal(q64("SELECT count(*) FROM transactions WHERE id > %lld AND purpose ="
                         " 'anchorStateRoot' AND chain_key = 'aux'", (long long)first), 1);
    pass_with(&x);
    /* Later again, but the second endpoint lies about the state root. */
    first = max_tx_id();
    alerts0 = q64("SELECT count(*) FROM alerts WHERE severity = 'critical'");
    anvil_time(&F.o, 120);
    cl_block(&F.o, cl_block_number(&F.o), &b);
    hex_encode_data(b.state_root, 32, root, sizeof(root));
    fproxy_rule(px, "eth_getBlockByNumber", FP_REWRITE, 0, 0, root,
                "0x1111111111111111111111111111111111111111111111111111111111111111");
    enqueue_anchor_jobs(c2);
    pass_with(&x);
    assert_int_equal(count_purpose("anchorStateRoot", first), 0);
    assert_true(q64("SELECT count(*) FROM alerts WHERE severity = 'critical'") > alerts0);
    assert_true(q64("SELECT count(*) FROM alerts WHERE message LIKE '%%disagree%%' OR message"
                    " LIKE '%%differ%%'") > 0);
    fproxy_stop(px);
    flow_thread_release();
    flow_ctx_destroy(&x);
    free(c2);
    no_reverts();
}

/* A node that cannot be reached says nothing about a message: its run comes
 * back like a waiting message's (a new job scheduled within the wait cap),
 * not through the queue's doubling backoff (up to an hour, then a dead
 * letter).  make chaos (seed 101) saw messages whose calls were all mined
 * sit for minutes after an RPC outage. */
static void test_node_outage_waits(void **state)
{
    struct config *c2 = malloc(sizeof(*c2));
    struct flow_ctx x;
    struct fproxy *px;
    struct tmsg m;
    char mh[67];

    REQUIRE();
    assert_non_null(c2);
    memcpy(c2, F.cfg, sizeof(*c2));
    px = fproxy_start(tv_anvil_url("ORIGIN"));
    assert_non_null(px);
    snprintf(c2->chains[0].endpoints[0], sizeof(c2->chains[0].endpoints[0]), "%s",
             fproxy_url(px));
    c2->chains[0].n_endpoints = 1;
    c2->chains[0].quorum = 1;
    flow_ctx_init(&x, c2, F.fac, 1, F.fac);
    do_stake(&m, 1000, NULL);
    insert_message(&m, 1);
    hex_encode_data(m.hash, 32, mh, sizeof(mh));
    fproxy_rule(px, "*", FP_STATUS, 500, 0, NULL, NULL);
    pass_with(&x);
    tv_sleep_ms(1300);
    pass_with(&x);
    assert_true(fproxy_count(px, "*") > 0);
    assert_int_equal(q64("SELECT count(*) FROM jobs WHERE kind = 'msg' AND args->>'message_hash'"
                         " = '%s' AND state IN ('retryable', 'failed')", mh), 0);
    assert_int_equal(q64("SELECT count(*) FROM jobs WHERE kind = 'msg' AND args->>'message_hash'"
                         " = '%s' AND state = 'scheduled' AND attempt = 0"
                         " AND run_at <= now() + interval '31 s'", mh), 1);
    fproxy_clear(px);
    drive(&m, 1, "completed");
    fproxy_stop(px);
    flow_thread_release();
    flow_ctx_destroy(&x);
    free(c2);
    no_reverts();
}

/* Two gateway pairs on the same chains (sharing the anchors): a stake on
 * each, carried together; one anchor serves both, each co-gateway proves its
 * own gateway. */
static void test_two_pairs(void **state)
{
    struct tmsg m[2];
    struct u256 b0, b1;
    int64_t first;

    REQUIRE();
    first = max_tx_id();
    cur_pair = 0;
    do_stake(&m[0], 3, NULL);
    cur_pair = 1;
    do_stake(&m[1], 4, NULL);
    cur_pair = 0;
    insert_message(&m[0], 1);
    insert_message(&m[1], 1);
    drive(m, 2, "completed");
    assert_int_equal(status_of(&F.a, F.cogw, 1, m[0].hash), MOSAIC_PROGRESSED);
    assert_int_equal(status_of(&F.a, F.cogw2, 1, m[1].hash), MOSAIC_PROGRESSED);
    assert_int_equal(status_of(&F.a, F.cogw, 1, m[1].hash), MOSAIC_UNDECLARED);
    b0 = balance_of(&F.a, F.ut, m[0].beneficiary);
    b1 = balance_of(&F.a, F.ut2, m[1].beneficiary);
    assert_true(!u256_is_zero(&b0) && !u256_is_zero(&b1));
    EXPECT_SENT(first, {"anchorStateRoot", 1}, {"proveGateway", 2});
    assert_int_equal(q64("SELECT count(DISTINCT to_address) FROM transactions WHERE id > %lld AND"
                         " purpose = 'proveGateway'", (long long)first), 2);
    no_reverts();
}

/* How long a daemon test waits: as long as the relayer moves (a slow,
 * loaded machine is no failure), but no more than WATCHDOG_IDLE_S without
 * anything new in the database (a transaction recorded or changing state, a
 * message changing state, a job done, a cursor moving), and never more
 * than WATCHDOG_MAX_S in all. */
#define WATCHDOG_IDLE_S 90
#define WATCHDOG_MAX_S 900

struct watchdog {
    time_t start, moved;
    char mark[512];
};

static int watchdog_expired(struct watchdog *wd)
{
    PGresult *res = PQexec(F.db, "SELECT concat_ws(':', (SELECT count(*) FROM transactions),"
                                 " (SELECT string_agg(state || count, ',' ORDER BY state) FROM"
                                 " (SELECT state, count(*) FROM transactions GROUP BY 1) t),"
                                 " (SELECT string_agg(state || count, ',' ORDER BY state) FROM"
                                 " (SELECT state, count(*) FROM messages GROUP BY 1) m),"
                                 " (SELECT count(*) FROM jobs WHERE state IN ('completed',"
                                 " 'cancelled', 'failed')),"
                                 " (SELECT sum(coalesce(cursor_block, 0)) FROM chains))");
    time_t now = time(NULL);
    const char *mark = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1
                           ? PQgetvalue(res, 0, 0) : "";

    if (wd->start == 0)
        wd->start = now;
    if (wd->moved == 0 || strcmp(mark, wd->mark) != 0) {
        wd->moved = now;
        snprintf(wd->mark, sizeof(wd->mark), "%s", mark);
    }
    PQclear(res);
    if (now - wd->moved < WATCHDOG_IDLE_S && now - wd->start < WATCHDOG_MAX_S)
        return 0;
    print_message("no progress for %lld s (%lld s in all): %s\n", (long long)(now - wd->moved),
                  (long long)(now - wd->start), wd->mark);
    return 1;
}

/* What the database says when a daemon test did not finish. */
static void diagnose(const struct tmsg *m, int n)
{
    PGresult *res;
    char buf[256];

    for (int i = 0; i < n; i++)
        print_message("message %d: %s\n", i, state_of(&m[i], buf, sizeof(buf)));
    res = PQexec(F.db, "SELECT kind, state, count(*), max(coalesce(last_error, '')) FROM jobs"
                       " GROUP BY 1, 2 ORDER BY 1, 2");
    for (int i = 0; i < PQntuples(res); i++)
        print_message("jobs %s %s: %s %s\n", PQgetvalue(res, i, 0), PQgetvalue(res, i, 1),
                      PQgetvalue(res, i, 2), PQgetvalue(res, i, 3));
    PQclear(res);
    res = PQexec(F.db, "SELECT chain_key, coalesce(cursor_block, -1), coalesce(head_block, -1)"
                       " FROM chains");
    for (int i = 0; i < PQntuples(res); i++)
        print_message("chain %s: cursor %s head %s\n", PQgetvalue(res, i, 0),
                      PQgetvalue(res, i, 1), PQgetvalue(res, i, 2));
    PQclear(res);
    res = PQexec(F.db, "SELECT chain_key, purpose, state, count(*), min(nonce), max(nonce) FROM"
                       " transactions GROUP BY 1, 2, 3 ORDER BY 1, 2, 3");
    for (int i = 0; i < PQntuples(res); i++)
        print_message("transactions %s %s %s: %s (nonces %s..%s)\n", PQgetvalue(res, i, 0),
                      PQgetvalue(res, i, 1), PQgetvalue(res, i, 2), PQgetvalue(res, i, 3),
                      PQgetvalue(res, i, 4), PQgetvalue(res, i, 5));
    PQclear(res);
    res = PQexec(F.db, "SELECT chain_key, next_nonce, coalesce(halted_reason, 'not halted') FROM"
                       " signer_nonces");
    for (int i = 0; i < PQntuples(res); i++)
        print_message("key on %s: next nonce %s, %s\n", PQgetvalue(res, i, 0),
                      PQgetvalue(res, i, 1), PQgetvalue(res, i, 2));
    PQclear(res);
    res = PQexec(F.db, "SELECT id, now() - heartbeat_at FROM workers");
    for (int i = 0; i < PQntuples(res); i++)
        print_message("worker %s: last heartbeat %s ago\n", PQgetvalue(res, i, 0),
                      PQgetvalue(res, i, 1));
    PQclear(res);
    res = PQexec(F.db, "SELECT component, message FROM alerts ORDER BY id DESC LIMIT 5");
    for (int i = 0; i < PQntuples(res); i++)
        print_message("alert %s: %s\n", PQgetvalue(res, i, 0), PQgetvalue(res, i, 1));
    PQclear(res);
}

struct drun {
    volatile sig_atomic_t stop;
    struct daemon_stats stats;
    int rc;
    struct mr_error err;
};

static void *daemon_thread(void *arg)
{
    struct drun *d = arg;
    struct daemon_opts o;

    memset(&o, 0, sizeof(o));
    o.conninfo = F.ci;
    o.role = DAEMON_ALL;
    o.sender_idle_ms = 100;
    o.sender_busy_ms = 20;
    o.wait_min_ms = 50;
    d->rc = daemon_run(F.cfg, &o, &d->stop, &d->stats, &d->err);
    return NULL;
}

/* A burst of 12 stakes from 12 stakers, declared before the relayer runs,
 * found by the daemon's watchers (with the secrets registered beforehand)
 * and carried by its workers (4 handler threads, one sender): every one
 * minted exactly once, with one anchor and one proveGateway in all. */
static void test_burst_through_daemon(void **state)
{
    enum { N = 12 };
    struct tmsg m[N];
    struct drun d;
    pthread_t th;
    char buf[256];
    int64_t first;
    int done = 0;

    REQUIRE();
    /* This test's signer runs in the daemon: release ours (one holder per key). */
    signer_close(F.signer);
    F.signer = NULL;
    first = max_tx_id();
    /* The watchers start at the current heads: they ingest the burst. */
    F.cfg->chains[0].start_block = cl_block_number(&F.o) + 1;
    F.cfg->chains[1].start_block = cl_block_number(&F.a) + 1;
    for (int i = 0; i < N; i++) {
        do_stake(&m[i], 1 + (uint64_t)i, NULL);
        pending_secret(&m[i]);
    }
    memset(&d, 0, sizeof(d));
    assert_int_equal(pthread_create(&th, NULL, daemon_thread, &d), 0);
    for (struct watchdog wd = {0}; done < N && !watchdog_expired(&wd);) {
        tv_sleep_ms(100);
        done = 0;
        for (int i = 0; i < N; i++) {
            state_of(&m[i], buf, sizeof(buf));
            if (strncmp(buf, "halted", 6) == 0) {
                d.stop = 1;
                pthread_join(th, NULL);
                fail_msg("message %d halted: %s", i, buf);
            }
            done += strcmp(buf, "completed") == 0;
        }
    }
    d.stop = 1; /* as SIGTERM: stop claiming, finish, last send pass */
    pthread_join(th, NULL);
    if (d.rc != MR_OK)
        fail_msg("daemon: %s", d.err.msg);
    if (done != N)
        diagnose(m, N);
    assert_int_equal(done, N);
    for (int i = 0; i < N; i++) {
        struct u256 ben = balance_of(&F.a, F.ut, m[i].beneficiary);
        expect_status(&m[i], MOSAIC_PROGRESSED, MOSAIC_PROGRESSED);
        assert_true(!u256_is_zero(&ben) && u256_cmp(&ben, &m[i].amount) < 0);
    }
    print_message("burst of %d: %lld anchor(s), %lld proveGateway(s), %lld confirms, "
                  "%lld mints\n", N, (long long)count_purpose("anchorStateRoot", first),
                  (long long)count_purpose("proveGateway", first),
                  (long long)count_purpose("confirmStakeIntent", first),
                  (long long)count_purpose("progressMint", first));
    EXPECT_SENT(first, {"anchorStateRoot", 1}, {"proveGateway", 1}, {"confirmStakeIntent", N},
                {"progressMint", N}, {"progressStake", N});
    assert_int_equal(d.stats.anchors, 1);
    assert_int_equal(d.stats.proves, 1);
    no_reverts();
    /* Stopped cleanly: nothing left running or unsent. */
    assert_int_equal(q64("SELECT count(*) FROM jobs WHERE state = 'running'"), 0);
    assert_int_equal(q64("SELECT count(*) FROM transactions WHERE state IN ('intent', 'signed')"),
                     0);
}

struct drun_role {
    struct drun d;
    const struct config *cfg;
    enum daemon_role role;
};

static void *role_thread(void *arg)
{
    struct drun_role *r = arg;
    struct daemon_opts o;

    memset(&o, 0, sizeof(o));
    o.conninfo = F.ci;
    o.role = r->role;
    o.sender_idle_ms = 100;
    o.sender_busy_ms = 20;
    o.wait_min_ms = 50;
    o.anchor_tick_ms = 500;
    r->d.rc = daemon_run(r->cfg, &o, &r->d.stop, &r->d.stats, &r->d.err);
    return NULL;
}

/* The roles in three daemons sharing the database, with the anchor
 * (organization admin) key apart from the facilitator's: the watcher role
 * finds the stakes, the worker role relays them and records anchors for the
 * anchor key, which only the anchor role holds and sends (its prove then
 * waits for the anchor to be mined, the keys' orders being independent). */
static void test_roles_apart(void **state)
{
    enum { N = 3 };
    struct config *c2 = malloc(sizeof(*c2));
    struct drun_role r[3];
    struct tmsg m[N];
    struct abi_value args[1];
    char key[512], pw[512], buf[256];
    uint8_t anc[20];
    pthread_t th[3];
    int64_t first;
    int done = 0;

    REQUIRE();
    assert_non_null(c2);
    new_key("anc", key, sizeof(key), pw, sizeof(pw), anc);
    fund(&F.o, anc);
    fund(&F.a, anc);
    args[0] = abi_v_address(anc);
    send_call(&F.o, "setAdmin", F.dep_o, F.org_o, NULL, "setAdmin(address)", args, 1, NULL);
    send_call(&F.a, "setAdmin", F.dep_a, F.org_a, NULL, "setAdmin(address)", args, 1, NULL);
    memcpy(c2, F.cfg, sizeof(*c2));
    snprintf(c2->keys[1].keystore, sizeof(c2->keys[1].keystore), "%s", key);
    snprintf(c2->keys[1].password_file, sizeof(c2->keys[1].password_file), "%s", pw);
    c2->chains[0].start_block = cl_block_number(&F.o) + 1;
    c2->chains[1].start_block = cl_block_number(&F.a) + 1;
    /* The watchers keep their cursors in the database: start them anew. */
    PQclear(PQexec(F.db, "UPDATE chains SET cursor_block = NULL, cursor_hash = NULL"));
    first = max_tx_id();
    for (int i = 0; i < N; i++) {
        do_stake(&m[i], 1, NULL);
        pending_secret(&m[i]);
    }
    memset(r, 0, sizeof(r));
    r[0].role = DAEMON_WATCHER;
    r[1].role = DAEMON_WORKER;
    r[2].role = DAEMON_ANCHOR;
    for (int i = 0; i < 3; i++) {
        r[i].cfg = c2;
        assert_int_equal(pthread_create(&th[i], NULL, role_thread, &r[i]), 0);
    }
    for (struct watchdog wd = {0}; done < N && !watchdog_expired(&wd);) {
        tv_sleep_ms(100);
        done = 0;
        for (int i = 0; i < N; i++) {
            state_of(&m[i], buf, sizeof(buf));
            done += strcmp(buf, "completed") == 0;
            if (strncmp(buf, "halted", 6) == 0)
                break;
        }
    }
    for (int i = 0; i < 3; i++) {
        r[i].d.stop = 1;
        pthread_join(th[i], NULL);
        if (r[i].d.rc != MR_OK)
            fail_msg("daemon %d: %s", i, r[i].d.err.msg);
    }
    if (done != N)
        diagnose(m, N);
    assert_int_equal(done, N);
    {
        char a[43];
        flow_bytea_text(anc, 20, a);
        assert_int_equal(q64("SELECT count(*) FROM transactions WHERE id > %lld AND purpose ="
                             " 'anchorStateRoot' AND sender = '%s'::bytea", (long long)first, a),
                         1);
        assert_int_equal(q64("SELECT count(*) FROM transactions WHERE id > %lld AND purpose <>"
                             " 'anchorStateRoot' AND sender = '%s'::bytea", (long long)first, a),
                         0);
    }
    EXPECT_SENT(first, {"proveGateway", 1}, {"progressMint", N});
    assert_int_equal(r[1].d.stats.calls, 3 * N); /* the worker recorded the message calls */
    assert_int_equal(r[2].d.stats.calls, 0);
    no_reverts();
    free(c2);
}

int main(void)
{
    /* FLOWS_ONLY=<glob>: run only the matching tests (while developing). */
    if (getenv("FLOWS_ONLY") != NULL)
        cmocka_set_test_filter(getenv("FLOWS_ONLY"));
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stake_hashlock),
        cmocka_unit_test(test_confirm_proofs_shared),
        cmocka_unit_test(test_redeem_hashlock),
        cmocka_unit_test(test_stake_proof_path),
        cmocka_unit_test(test_progressed_by_someone_else),
        cmocka_unit_test(test_completed_by_someone_else),
        cmocka_unit_test(test_stake_revert),
        cmocka_unit_test(test_redeem_revert),
        cmocka_unit_test(test_two_pairs),
        cmocka_unit_test(test_pruned_height_reanchored),
        cmocka_unit_test(test_two_proofs_one_tx),
        cmocka_unit_test(test_own_confirm_reorged),
        cmocka_unit_test(test_ring_buffer_dropped_height),
        cmocka_unit_test(test_sender_nonce_order),
        cmocka_unit_test(test_no_anchor_key_waits),
        cmocka_unit_test(test_anchorer_interval_and_quorum),
        cmocka_unit_test(test_bad_anchor_halts),
        cmocka_unit_test(test_node_outage_waits),
        cmocka_unit_test(test_burst_through_daemon),
        cmocka_unit_test(test_roles_apart),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
