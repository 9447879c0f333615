/*
 * e2elib.c - the relayer end to end on chains of the test's own (see
 * e2elib.h).
 */
#include "tests/lib/e2elib.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "eth/hex.h"
#include "eth/keccak.h"
#include "eth/key.h"
#include "relayer/config.h"
#include "relayer/deploy.h"
#include "relayer/keyfile.h"
#include "relayer/log.h"
#include "relayer/sysrand.h"
#include "tests/lib/testlib.h"

#define CHAIN_ID_O 31337
#define CHAIN_ID_A 1405

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static void write_text(const char *path, const char *text, mode_t mode)
{
    FILE *f = fopen(path, "w");

    if (f == NULL)
        fail_msg("%s: %s", path, strerror(errno));
    fputs(text, f);
    fclose(f);
    chmod(path, mode);
}

static json_t *rpc(struct cl_chain *c, const char *method, json_t *params)
{
    json_t *res = NULL;
    struct mr_error err;

    if (rpc_call(c->ep, method, params, &res, NULL, &err) != MR_OK)
        fail_msg("%s %s: %s", c->label, method, err.msg);
    return res;
}

static void set_balance(struct cl_chain *c, const uint8_t addr[20])
{
    char a[43];

    hex_encode_data(addr, 20, a, sizeof(a));
    json_decref(rpc(c, "anvil_setBalance", json_pack("[ss]", a, "0xd3c21bcecceda1000000"))); /* 1e24 */
}

void e2e_selector(const char *sig, uint8_t out[4])
{
    uint8_t h[32];

    keccak256(sig, strlen(sig), h);
    memcpy(out, h, 4);
}

static void topic_of(const char *sig, uint8_t out[32])
{
    keccak256(sig, strlen(sig), out);
}

/* ---- chains ---- */

/* Starts one anvil with the harness; returns 0 when anvil is missing. */
static int start_anvil(struct e2e *e, const char *name, uint64_t chain_id, const char *args,
                       char *url, size_t cap, pid_t *pid)
{
    char cmd[1024], line[512];
    FILE *p;
    int st;

    snprintf(cmd, sizeof(cmd), "sh tests/anvil-harness.sh start '%s' %s %llu %s 2>&1",
             e->anvil_dir, name, (unsigned long long)chain_id, args != NULL ? args : "");
    p = popen(cmd, "r");
    assert_non_null(p);
    url[0] = '\0';
    *pid = 0;
    while (fgets(line, sizeof(line), p) != NULL) {
        char *v = strchr(line, '\'');
        char *end = v != NULL ? strchr(v + 1, '\'') : NULL;
        if (v == NULL || end == NULL)
            continue;
        *end = '\0';
        if (strstr(line, "_URL=") != NULL)
            snprintf(url, cap, "%s", v + 1);
        else if (strstr(line, "_PID=") != NULL)
            *pid = (pid_t)atol(v + 1);
    }
    st = pclose(p);
    if (WIFEXITED(st) && WEXITSTATUS(st) == 3)
        return 0;
    if (url[0] == '\0')
        fail_msg("anvil %s did not start (%s)", name, cmd);
    return 1;
}

/* A keystore with a fresh random key.  Out: its address. */
static void new_key(const char *dir, const char *name, uint8_t addr[20])
{
    uint8_t seed[32], sk[32];
    char path[512], pw[512];
    secp256k1_context *ctx;
    struct keyfile kf;
    struct mr_error err;

    assert_int_equal(sys_random(seed, 32), 0);
    assert_int_equal(sys_random(sk, 32), 0);
    ctx = key_ctx_create(seed);
    snprintf(path, sizeof(path), "%s/%s.json", dir, name);
    snprintf(pw, sizeof(pw), "%s/%s.pass", dir, name);
    if (keyfile_create(ctx, sk, (const uint8_t *)"pw", 2, KEYFILE_LIGHT_SCRYPT_N, &kf, &err) ||
        keyfile_write_new(path, &kf, &err))
        fail_msg("keystore: %s", err.msg);
    memcpy(addr, kf.address, 20);
    mr_wipe(sk, sizeof(sk));
    key_ctx_destroy(ctx);
    write_text(pw, "pw\n", 0600);
}

static void hex_lower(const uint8_t a[20], char out[43])
{
    hex_encode_data(a, 20, out, 43);
}

static void deploy_token(struct e2e *e, const char *sym, uint8_t out[20])
{
    struct abi_value args[4];
    struct u256 supply = cl_u256_e(1, 36);

    args[0] = abi_v_bytes(sym, strlen(sym));
    args[1] = abi_v_bytes(sym, strlen(sym));
    args[2] = abi_v_uint(18);
    args[3] = abi_v_u256(&supply);
    cl_deploy(&e->o, e->holder, "EIP20Token", NULL, 0, args, 4, out, NULL);
}

static void word_address(struct cl_chain *c, const uint8_t to[20], const char *sig,
                         uint8_t out[20])
{
    struct u256 v = cl_view_u256(c, to, sig, NULL, 0);
    uint8_t w[32];

    u256_to_be32(&v, w);
    memcpy(out, w + 12, 20);
}

int e2e_up(struct e2e *e, const struct e2e_opts *o)
{
    char yaml[8192], path[600], h[43], vt[43], bt[43];
    struct config *cfg = NULL, *run = NULL;
    struct deploy_opts dopts = {NULL, NULL, 0, 100};
    struct mr_error err;
    const char *tmp;

    memset(e, 0, sizeof(*e));
    /* The deployment runs in this process: its lines only when they matter
     * (the daemon's own log is a file, e2e_daemon_tail). */
    log_setup(LOGL_WARN, LOG_FORMAT_TEXT, STDERR_FILENO);
    if (tv_pg_base() == NULL) {
        print_message("SKIP: no test PostgreSQL: %s\n", tv_pg_skip_reason());
        return 0;
    }
    e->dir = tv_tmpdir();
    snprintf(e->anvil_dir, sizeof(e->anvil_dir), "%s/anvil", e->dir);
    if (!start_anvil(e, "E2EO", CHAIN_ID_O, o->anvil_args, e->url_o, sizeof(e->url_o),
                     &e->anvil_pid_o) ||
        !start_anvil(e, "E2EA", CHAIN_ID_A, o->anvil_args, e->url_a, sizeof(e->url_a),
                     &e->anvil_pid_a)) {
        print_message("SKIP: anvil is not installed (make deps)\n");
        e2e_down(e);
        return 0;
    }
    e->db = tv_pg_migrated(&e->ci);
    cl_open_url(&e->o, "origin", e->url_o, CHAIN_ID_O);
    cl_open_url(&e->a, "aux", e->url_a, CHAIN_ID_A);
    new_key(e->dir, "facilitator", e->fac);
    set_balance(&e->o, e->fac);
    set_balance(&e->a, e->fac);
    assert_int_equal(sys_random(e->holder, 20), 0);
    e->holder[0] |= 0x10;
    cl_fund_account(&e->o, 1000000, e->holder);
    cl_fund_account(&e->a, 1000000, e->holder);
    deploy_token(e, "VT", e->vt);
    deploy_token(e, "BT", e->bt);
    hex_lower(e->holder, h);
    hex_lower(e->vt, vt);
    hex_lower(e->bt, bt);
    snprintf(e->cfg, sizeof(e->cfg), "%s/relayer.yaml", e->dir);
    snprintf(e->log, sizeof(e->log), "%s/daemon.log", e->dir);
    tmp = e->dir;
    snprintf(yaml, sizeof(yaml),
             "database: { url: \"%s\" }\n"
             "chains:\n"
             "  origin: { role: origin, chain_id: %d, endpoints: [\"%s\"],%s%s%s"
             " finality: { confirmations: 0 }, poll_interval: %s }\n"
             "  aux: { role: auxiliary, chain_id: %d, endpoints: [\"%s\"],%s%s%s"
             " finality: { confirmations: 0 }, poll_interval: %s }\n"
             "keys:\n"
             "  facilitator: { keystore: \"%s/facilitator.json\", password_file: \"%s/facilitator.pass\" }\n"
             "  anchor: { keystore: \"%s/facilitator.json\", password_file: \"%s/facilitator.pass\" }\n"
             "relayer:\n"
             "  flows: [stake, redeem, revert]\n"
             "  workers: %d\n"
             "  anchor: { enabled: true, max_interval: 1h }\n"
             "%s"
             "log: { level: %s }\n"
             "deploy:\n"
             "  deployer: facilitator\n"
             "  owner: \"%s\"\n"
             "  admin: facilitator\n"
             "  bounty: \"%d\"\n"
             "  max_state_roots: 100\n"
             "  max_storage_root_items: 100\n"
             "  state_file: \"%s/state.json\"\n"
             "  output: \"%s\"\n"
             "  pairs:\n"
             "    - { name: pair1, origin: origin, auxiliary: aux, value_token: \"%s\","
             " base_token: \"%s\", token: { symbol: UT, name: \"Utility\", decimals: 18 } }\n",
             e->ci, CHAIN_ID_O, e->url_o, o->use_ws ? " ws: \"ws" : "",
             o->use_ws ? e->url_o + 4 : "", o->use_ws ? "\"," : "",
             o->poll_interval ? o->poll_interval : "200ms", CHAIN_ID_A, e->url_a,
             o->use_ws ? " ws: \"ws" : "", o->use_ws ? e->url_a + 4 : "", o->use_ws ? "\"," : "",
             o->poll_interval ? o->poll_interval : "200ms", tmp, tmp, tmp,
             tmp, o->workers > 0 ? o->workers : 4, o->relayer_extra ? o->relayer_extra : "",
             o->log_level ? o->log_level : "info", h,
             E2E_BOUNTY, tmp, e->cfg, vt, bt);
    snprintf(path, sizeof(path), "%s/deploy.yaml", e->dir);
    write_text(path, yaml, 0600);
    if (config_load(path, &cfg, &err) != MR_OK)
        fail_msg("deploy config: %s", err.msg);
    dopts.contracts_dir = o->contracts_dir;
    if (deploy_run(cfg, &dopts, NULL, &err) != MR_OK)
        fail_msg("deploy: %s", err.msg);
    config_free(cfg);
    if (config_load(e->cfg, &run, &err) != MR_OK)
        fail_msg("run config: %s", err.msg);
    memcpy(e->gw, run->gateways[0].origin.gateway, 20);
    memcpy(e->anchor_o, run->gateways[0].origin.anchor, 20);
    memcpy(e->cogw, run->gateways[0].auxiliary.gateway, 20);
    memcpy(e->anchor_a, run->gateways[0].auxiliary.anchor, 20);
    config_free(run);
    word_address(&e->o, e->gw, "stakeVault()", e->vault);
    word_address(&e->a, e->cogw, "utilityToken()", e->ut);
    e->deployed_o = cl_block_number(&e->o);
    e->deployed_a = cl_block_number(&e->a);
    return 1;
}

void e2e_down(struct e2e *e)
{
    char cmd[600];

    if (e->pid > 0) {
        kill(e->pid, SIGKILL);
        waitpid(e->pid, NULL, 0);
        e->pid = 0;
    }
    if (e->o.ep != NULL)
        cl_close(&e->o);
    if (e->a.ep != NULL)
        cl_close(&e->a);
    if (e->db != NULL)
        PQfinish(e->db);
    if (e->anvil_dir[0] != '\0') {
        snprintf(cmd, sizeof(cmd), "sh tests/anvil-harness.sh stop '%s'", e->anvil_dir);
        if (system(cmd) != 0)
            print_error("stopping the test's anvils failed\n");
    }
    if (e->dir != NULL)
        tv_rmtree(e->dir);
    free(e->dir);
    free(e->ci);
    memset(e, 0, sizeof(*e));
}

/* ---- the daemon ---- */

static const char *bin(void)
{
    const char *b = getenv("MR_BIN");

    return b != NULL && b[0] != '\0' ? b : "build/mosaic-relayer";
}

void e2e_daemon_start(struct e2e *e)
{
    const char *argv[] = {bin(), "run", "--config", e->cfg, "--database", e->ci, NULL};
    pid_t pid;

    /* One left running by a test that failed half way is not this one's. */
    e2e_daemon_kill(e);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fd = open(e->log, O_WRONLY | O_CREAT | O_APPEND, 0600);
        int nul = open("/dev/null", O_RDONLY);
        if (fd < 0 || nul < 0)
            _exit(127);
        dup2(nul, 0);
        dup2(fd, 1);
        dup2(fd, 2);
        for (int i = 3; i < 1024; i++)
            close(i);
        execv(argv[0], (char *const *)(uintptr_t)argv);
        _exit(127);
    }
    e->pid = pid;
    e->starts++;
}

void e2e_daemon_tail(const struct e2e *e, size_t bytes)
{
    FILE *f = fopen(e->log, "r");
    char *buf;
    long n;

    if (f == NULL)
        return;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    if ((size_t)n > bytes)
        fseek(f, n - (long)bytes, SEEK_SET);
    else
        fseek(f, 0, SEEK_SET);
    buf = calloc(1, bytes + 1);
    if (buf != NULL && fread(buf, 1, bytes, f) > 0)
        print_message("---- daemon log (tail) ----\n%s\n---- end ----\n", buf);
    free(buf);
    fclose(f);
}

int e2e_daemon_stop(struct e2e *e)
{
    int st = 0;

    if (e->pid <= 0)
        return -1;
    kill(e->pid, SIGTERM);
    for (int i = 0; i < 1200; i++) {
        pid_t r = waitpid(e->pid, &st, WNOHANG);
        if (r == e->pid) {
            e->pid = 0;
            return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
        }
        sleep_ms(50);
    }
    kill(e->pid, SIGKILL);
    waitpid(e->pid, &st, 0);
    e->pid = 0;
    e2e_daemon_tail(e, 3000);
    fail_msg("the relayer did not stop within 60 s of SIGTERM");
    return -1;
}

void e2e_daemon_kill(struct e2e *e)
{
    if (e->pid <= 0)
        return;
    kill(e->pid, SIGKILL);
    waitpid(e->pid, NULL, 0);
    e->pid = 0;
}

void e2e_daemon_check(struct e2e *e)
{
    int st = 0;

    if (e->pid > 0 && waitpid(e->pid, &st, WNOHANG) == e->pid) {
        e->pid = 0;
        e2e_daemon_tail(e, 4000);
        fail_msg("the relayer exited (status %d)", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    }
}

void e2e_daemon_restart(struct e2e *e)
{
    for (int tries = 0; tries < 50; tries++) {
        int st = 0;
        e2e_daemon_start(e);
        /* Started when it is still running a moment later: a refusal
         * ("the key is in use") comes before anything else starts. */
        for (int i = 0; i < 10; i++) {
            sleep_ms(50);
            if (waitpid(e->pid, &st, WNOHANG) == e->pid) {
                e->pid = 0;
                break;
            }
        }
        if (e->pid > 0)
            return;
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 1) {
            e2e_daemon_tail(e, 3000);
            fail_msg("the relayer did not start again (status %d)",
                     WIFEXITED(st) ? WEXITSTATUS(st) : -1);
        }
        sleep_ms(200);
    }
    e2e_daemon_tail(e, 3000);
    fail_msg("the relayer was refused 50 times after a restart");
}

/* ---- messages ---- */

static void pending_secret(struct e2e *e, const struct e2e_msg *m)
{
    char hl[67], sc[67];
    const char *p[2] = {hl, sc};
    PGresult *res;

    snprintf(hl, sizeof(hl), "\\x");
    snprintf(sc, sizeof(sc), "\\x");
    for (int i = 0; i < 32; i++) {
        snprintf(hl + 2 + 2 * i, 3, "%02x", m->hashlock[i]);
        snprintf(sc + 2 + 2 * i, 3, "%02x", m->secret[i]);
    }
    res = PQexecParams(e->db, "INSERT INTO mosaic.pending_secrets (hashlock, secret) VALUES"
                              " ($1::bytea, $2::bytea)", 2, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_COMMAND_OK)
        fail_msg("pending secret: %s", PQerrorMessage(e->db));
    PQclear(res);
}

static void call_data(const char *sig, const struct abi_value *args, size_t n, uint8_t **cd,
                      size_t *len)
{
    cl_calldata(sig, args, n, cd, len);
}

static void send_async(struct cl_chain *c, const char *what, const uint8_t from[20],
                       const uint8_t to[20], const struct u256 *value, const char *sig,
                       const struct abi_value *args, size_t n, uint64_t gas, int64_t nonce,
                       uint8_t hash[32])
{
    uint8_t *cd;
    size_t len;

    call_data(sig, args, n, &cd, &len);
    cl_send_async(c, what, from, to, value, cd, len, gas, nonce, hash);
    free(cd);
}

static void new_secret(struct e2e_msg *m)
{
    assert_int_equal(sys_random(m->secret, 32), 0);
    mosaic_hashlock(m->secret, m->hashlock);
}

static void declared(struct cl_chain *c, struct cl_chain *other, const uint8_t gw[20],
                     const char *sig, struct e2e_msg *m, const char *what)
{
    struct eth_receipt r;
    uint8_t topic[32];
    const struct eth_log *l;

    cl_wait(c, what, m->tx, &r);
    m->target_head = cl_block_number(other);
    m->decl_gas = r.gas_used;
    topic_of(sig, topic);
    l = cl_find_log(&r, gw, topic);
    if (l == NULL || l->n_topics < 2)
        fail_msg("%s: no %s in the receipt", what, sig);
    memcpy(m->mh, l->topics[1], 32);
    m->block = r.block_number;
    ethrpc_receipt_free(&r);
}

/* The declaration half of a stake or redeem burst, the same for both: each
 * message's nonce read from the gateway (and its secret registered when
 * asked), then `fn` ("stake", "redeem") sent to gateway with value
 * (NULL: none) at the sender's nonce sn[i] (sn NULL: the node's count). */
static void send_intents(struct e2e *e, struct cl_chain *c, const uint8_t gateway[20],
                         const struct u256 *value, const char *fn, struct e2e_msg *m, size_t n,
                         const int64_t *sn)
{
    struct u256 gp = cl_u256(E2E_GAS_PRICE), gl = cl_u256(E2E_GAS_LIMIT);
    struct abi_value args[6];
    char sig[80];

    for (size_t i = 0; i < n; i++) {
        struct u256 nonce;
        args[0] = abi_v_address(m[i].sender);
        nonce = cl_view_u256(c, gateway, "getNonce(address)", args, 1);
        m[i].nonce = nonce.w[0];
        if (m[i].register_secret)
            pending_secret(e, &m[i]);
    }
    snprintf(sig, sizeof(sig), "%s(uint256,address,uint256,uint256,uint256,bytes32)", fn);
    for (size_t i = 0; i < n; i++) {
        struct u256 nonce = cl_u256(m[i].nonce);
        struct u256 mgp = m[i].set_gas ? cl_u256(m[i].gas_price) : gp;
        struct u256 mgl = m[i].set_gas ? cl_u256(m[i].gas_limit) : gl;
        args[0] = abi_v_u256(&m[i].amount);
        args[1] = abi_v_address(m[i].beneficiary);
        args[2] = abi_v_u256(&mgp);
        args[3] = abi_v_u256(&mgl);
        args[4] = abi_v_u256(&nonce);
        args[5] = abi_v_bytes(m[i].hashlock, 32);
        send_async(c, fn, m[i].sender, gateway, value, sig, args, 6, 400000,
                   sn != NULL ? sn[i] : (int64_t)cl_nonce(c, m[i].sender), m[i].tx);
    }
}

void e2e_stake_send(struct e2e *e, struct e2e_msg *m, size_t n)
{
    uint8_t (*h)[32] = calloc(4 * n + 1, 32), zero[20] = {0};
    struct u256 bounty = cl_u256(E2E_BOUNTY);
    struct abi_value args[6];
    int64_t *sn = calloc(n + 1, sizeof(int64_t)), hn;
    size_t k = 0;

    assert_true(h != NULL && sn != NULL);
    hn = (int64_t)cl_nonce(&e->o, e->holder);
    for (size_t i = 0; i < n; i++) {
        /* anvil drops a sender's transactions that arrive while a block
         * with its earlier ones is mined (seen past ~500 pending): the
         * holder's transfers go in chunks, each mined before the next. */
        if (i > 0 && i % 150 == 0) {
            for (size_t j = 0; j < k; j++)
                cl_wait(&e->o, "funding a staker", h[j], NULL);
            k = 0;
        }
        m[i].kind = MOSAIC_STAKE;
        if (memcmp(m[i].sender, zero, 20) == 0)
            cl_new_account(&e->o, 10, m[i].sender);
        if (memcmp(m[i].beneficiary, zero, 20) == 0) {
            assert_int_equal(sys_random(m[i].beneficiary, 20), 0);
            m[i].beneficiary[0] |= 0x10;
        }
        new_secret(&m[i]);
        sn[i] = (int64_t)cl_nonce(&e->o, m[i].sender);
        args[0] = abi_v_address(m[i].sender);
        args[1] = abi_v_u256(&m[i].amount);
        send_async(&e->o, "vt.transfer", e->holder, e->vt, NULL, "transfer(address,uint256)",
                   args, 2, 100000, hn++, h[k++]);
        args[1] = abi_v_u256(&bounty);
        send_async(&e->o, "bt.transfer", e->holder, e->bt, NULL, "transfer(address,uint256)",
                   args, 2, 100000, hn++, h[k++]);
        args[0] = abi_v_address(e->gw);
        args[1] = abi_v_u256(&m[i].amount);
        send_async(&e->o, "vt.approve", m[i].sender, e->vt, NULL, "approve(address,uint256)",
                   args, 2, 100000, sn[i]++, h[k++]);
        args[1] = abi_v_u256(&bounty);
        send_async(&e->o, "bt.approve", m[i].sender, e->bt, NULL, "approve(address,uint256)",
                   args, 2, 100000, sn[i]++, h[k++]);
    }
    for (size_t i = 0; i < k; i++)
        cl_wait(&e->o, "funding a staker", h[i], NULL);
    free(h);
    send_intents(e, &e->o, e->gw, NULL, "stake", m, n, sn);
    free(sn);
}

void e2e_stake_collect(struct e2e *e, struct e2e_msg *m, size_t n)
{
    for (size_t i = 0; i < n; i++)
        declared(&e->o, &e->a, e->gw, "StakeIntentDeclared(bytes32,address,uint256,address,uint256)",
                 &m[i], "stake");
}

void e2e_stake_burst(struct e2e *e, struct e2e_msg *m, size_t n)
{
    e2e_stake_send(e, m, n);
    e2e_stake_collect(e, m, n);
}

void e2e_redeem_burst(struct e2e *e, struct e2e_msg *m, size_t n)
{
    uint8_t (*h)[32] = calloc(n + 1, 32), zero[20] = {0};
    struct u256 bounty = cl_u256(E2E_BOUNTY);
    struct abi_value args[6];

    assert_non_null(h);
    for (size_t i = 0; i < n; i++) {
        m[i].kind = MOSAIC_REDEEM;
        if (memcmp(m[i].beneficiary, zero, 20) == 0) {
            assert_int_equal(sys_random(m[i].beneficiary, 20), 0);
            m[i].beneficiary[0] |= 0x10;
        }
        new_secret(&m[i]);
        args[0] = abi_v_address(e->cogw);
        args[1] = abi_v_u256(&m[i].amount);
        send_async(&e->a, "ut.approve", m[i].sender, e->ut, NULL, "approve(address,uint256)",
                   args, 2, 100000, (int64_t)cl_nonce(&e->a, m[i].sender), h[i]);
    }
    for (size_t i = 0; i < n; i++)
        cl_wait(&e->a, "approving a redeem", h[i], NULL);
    free(h);
    send_intents(e, &e->a, e->cogw, &bounty, "redeem", m, n, NULL);
    for (size_t i = 0; i < n; i++)
        declared(&e->a, &e->o, e->cogw, "RedeemIntentDeclared(bytes32,address,uint256,address,uint256)",
                 &m[i], "redeem");
}

/* ---- the database ---- */

static void bytea(const uint8_t *p, size_t n, char *out)
{
    out[0] = '\\';
    out[1] = 'x';
    for (size_t i = 0; i < n; i++)
        snprintf(out + 2 + 2 * i, 3, "%02x", p[i]);
}

size_t e2e_count_state(struct e2e *e, const struct e2e_msg *m, size_t n, const char *want,
                       size_t *halted)
{
    size_t done = 0;
    int said = 0;

    if (halted != NULL)
        *halted = 0;
    for (size_t i = 0; i < n; i++) {
        char mh[67];
        const char *p[1] = {mh};
        PGresult *res;
        bytea(m[i].mh, 32, mh);
        res = PQexecParams(e->db, "SELECT state, coalesce(halted_reason, '') FROM"
                                  " mosaic.messages WHERE message_hash = $1::bytea",
                           1, NULL, p, NULL, NULL, 0);
        if (PQresultStatus(res) != PGRES_TUPLES_OK)
            fail_msg("reading a message: %s", PQerrorMessage(e->db));
        if (PQntuples(res) == 1) {
            done += strcmp(PQgetvalue(res, 0, 0), want) == 0;
            if (strcmp(PQgetvalue(res, 0, 0), "halted") == 0 && halted != NULL) {
                (*halted)++;
                if (!said++)
                    print_message("message %zu halted: %s\n", i, PQgetvalue(res, 0, 1));
            }
        }
        PQclear(res);
    }
    return done;
}

static void print_rows(PGconn *db, const char *title, const char *sql)
{
    PGresult *res = PQexec(db, sql);

    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        print_message("%s: %s", title, PQerrorMessage(db));
        PQclear(res);
        return;
    }
    for (int i = 0; i < PQntuples(res); i++) {
        char line[1024];
        size_t k = 0;
        for (int j = 0; j < PQnfields(res) && k < sizeof(line) - 2; j++)
            k += (size_t)snprintf(line + k, sizeof(line) - k, "%s%s", j ? " | " : "",
                                  PQgetvalue(res, i, j));
        print_message("%s: %s\n", title, line);
    }
    PQclear(res);
}

void e2e_diagnose(struct e2e *e)
{
    print_rows(e->db, "messages", "SELECT flow, state, count(*), max(coalesce(halted_reason, ''))"
                                  " FROM mosaic.messages GROUP BY 1, 2 ORDER BY 1, 2");
    print_rows(e->db, "jobs", "SELECT kind, state, count(*), max(coalesce(last_error, ''))"
                              " FROM mosaic.jobs GROUP BY 1, 2 ORDER BY 1, 2");
    print_rows(e->db, "transactions", "SELECT chain_key, purpose, state, count(*),"
                                      " min(nonce), max(nonce) FROM mosaic.transactions"
                                      " GROUP BY 1, 2, 3 ORDER BY 1, 2, 3");
    print_rows(e->db, "keys", "SELECT chain_key, next_nonce, coalesce(halted_reason, '')"
                              " FROM mosaic.signer_nonces");
    print_rows(e->db, "chains", "SELECT chain_key, coalesce(cursor_block, -1),"
                                " coalesce(head_block, -1) FROM mosaic.chains");
    print_rows(e->db, "alerts", "SELECT severity, component, message FROM mosaic.alerts"
                                " ORDER BY id DESC LIMIT 8");
}

/* Everything that moves while the relayer works, as one string. */
static void progress_mark(struct e2e *e, char *out, size_t cap)
{
    PGresult *res = PQexec(e->db, "SELECT concat_ws(':', (SELECT count(*) FROM"
                                  " mosaic.transactions), (SELECT string_agg(state || count, ','"
                                  " ORDER BY state) FROM (SELECT state, count(*) FROM"
                                  " mosaic.transactions GROUP BY 1) t), (SELECT string_agg(state"
                                  " || count, ',' ORDER BY state) FROM (SELECT state, count(*)"
                                  " FROM mosaic.messages GROUP BY 1) m), (SELECT count(*) FROM"
                                  " mosaic.jobs WHERE state IN ('completed', 'cancelled',"
                                  " 'failed')), (SELECT sum(coalesce(cursor_block, 0)) FROM"
                                  " mosaic.chains))");

    snprintf(out, cap, "%s", PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1
                                 ? PQgetvalue(res, 0, 0) : "");
    PQclear(res);
}

void e2e_wait_state(struct e2e *e, const struct e2e_msg *m, size_t n, const char *want,
                    int seconds)
{
    size_t done = 0, halted = 0;
    char mark[512] = "", now_mark[512];
    int64_t start = 0, moved = 0;

    for (;;) {
        struct timespec ts;
        int64_t now;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        now = (int64_t)ts.tv_sec;
        if (start == 0)
            start = moved = now;
        done = e2e_count_state(e, m, n, want, &halted);
        if (done == n || halted > 0)
            break;
        e2e_daemon_check(e);
        progress_mark(e, now_mark, sizeof(now_mark));
        if (strcmp(now_mark, mark) != 0) {
            snprintf(mark, sizeof(mark), "%s", now_mark);
            moved = now;
        }
        /* A slow machine is no failure: only `seconds` without anything
         * moving, or ten times that in all. */
        if (now - moved >= seconds || now - start >= 10 * (int64_t)seconds) {
            print_message("nothing moved for %lld s (%lld s in all): %s\n",
                          (long long)(now - moved), (long long)(now - start), mark);
            break;
        }
        sleep_ms(250);
    }
    if (done == n)
        return;
    e2e_diagnose(e);
    e2e_daemon_tail(e, 6000);
    fail_msg("%zu of %zu messages %s (%zu halted)", done, n, want, halted);
}

void e2e_quiet(struct e2e *e)
{
    struct mr_error err;

    for (int i = 0; i < 300; i++) {
        uint64_t po = 0, lo = 0, pa = 0, la = 0;
        if (ethrpc_get_transaction_count(e->o.ep, e->fac, "pending", &po, NULL, &err) != MR_OK ||
            ethrpc_get_transaction_count(e->o.ep, e->fac, "latest", &lo, NULL, &err) != MR_OK ||
            ethrpc_get_transaction_count(e->a.ep, e->fac, "pending", &pa, NULL, &err) != MR_OK ||
            ethrpc_get_transaction_count(e->a.ep, e->fac, "latest", &la, NULL, &err) != MR_OK)
            fail_msg("reading the facilitator's nonces: %s", err.msg);
        if (po == lo && pa == la)
            return;
        sleep_ms(100);
    }
    fail_msg("the facilitator's transactions are still pending after 30 s");
}

int e2e_status(struct e2e *e, const struct e2e_msg *m, int on_target)
{
    int stake = m->kind == MOSAIC_STAKE;
    struct cl_chain *c = stake == !on_target ? &e->o : &e->a;
    const uint8_t *g = c == &e->o ? e->gw : e->cogw;
    struct abi_value a = abi_v_bytes(m->mh, 32);
    struct u256 v = cl_view_u256(c, g, on_target ? "getInboxMessageStatus(bytes32)"
                                                 : "getOutboxMessageStatus(bytes32)", &a, 1);
    return (int)v.w[0];
}

/* ---- the chains' records ---- */

void e2e_logs(struct cl_chain *c, const uint8_t address[20], const char *sig, uint64_t from,
              uint64_t to, struct eth_logs *out)
{
    uint8_t addr[1][20], topic[1][32];
    struct eth_log_filter f;
    struct mr_error err;

    memcpy(addr[0], address, 20);
    topic_of(sig, topic[0]);
    memset(&f, 0, sizeof(f));
    memset(out, 0, sizeof(*out));
    f.from_block = from;
    f.to_block = to;
    f.addresses = (const uint8_t(*)[20])addr;
    f.n_addresses = 1;
    f.n_topics = 1;
    f.topics[0] = (const uint8_t(*)[32])topic;
    f.n_alts[0] = 1;
    f.max_logs = 100000;
    if (ethrpc_get_logs(c->ep, &f, out, NULL, &err) != MR_OK)
        fail_msg("%s eth_getLogs %s: %s", c->label, sig, err.msg);
}

struct u256 e2e_word(const struct eth_log *l, size_t i)
{
    struct u256 v;

    if (l->data_len < 32 * (i + 1))
        fail_msg("a log has %zu bytes of data, word %zu wanted", l->data_len, i);
    u256_from_be(&v, l->data + 32 * i, 32);
    return v;
}

uint64_t e2e_word_u64(const struct eth_log *l, size_t i)
{
    struct u256 v = e2e_word(l, i);

    return v.w[0];
}

static int json_hex(json_t *v, uint8_t *out, size_t n)
{
    return json_is_string(v) &&
           hex_decode_fixed(json_string_value(v), json_string_length(v), out, n, NULL) == MR_OK;
}

size_t e2e_sent_by(struct cl_chain *c, const uint8_t addr[20], uint64_t from, uint64_t to,
                   struct e2e_tx **out)
{
    struct e2e_tx *v = NULL;
    size_t n = 0, cap = 0;

    for (uint64_t b = from; b <= to; b++) {
        char id[ETHRPC_BLOCK_ID_LEN];
        json_t *blk = rpc(c, "eth_getBlockByNumber", json_pack("[sb]", ethrpc_block_id(b, id), 1));
        json_t *txs = json_object_get(blk, "transactions");
        size_t i;
        json_t *tx;

        json_array_foreach(txs, i, tx) {
            uint8_t f[20], buf[4];
            struct e2e_tx *t;
            struct eth_receipt r;
            struct mr_error err;
            const char *input;
            json_t *to_v;
            if (!json_hex(json_object_get(tx, "from"), f, 20) || memcmp(f, addr, 20) != 0)
                continue;
            if (n == cap) {
                cap = cap ? cap * 2 : 256;
                v = realloc(v, cap * sizeof(*v));
                assert_non_null(v);
            }
            t = &v[n++];
            memset(t, 0, sizeof(*t));
            t->block = b;
            if (!json_hex(json_object_get(tx, "hash"), t->hash, 32) ||
                ethrpc_quantity_u64(json_object_get(tx, "nonce"), "nonce", &t->nonce, &err) != MR_OK)
                fail_msg("%s block %llu: a transaction without hash or nonce", c->label,
                         (unsigned long long)b);
            to_v = json_object_get(tx, "to");
            t->has_to = json_hex(to_v, t->to, 20);
            input = json_string_value(json_object_get(tx, "input"));
            if (input != NULL && strlen(input) >= 10 &&
                hex_decode_fixed(input, 10, buf, 4, NULL) == MR_OK)
                memcpy(t->selector, buf, 4);
            if (ethrpc_get_receipt(c->ep, t->hash, &r, NULL, &err) != MR_OK)
                fail_msg("%s receipt: %s", c->label, err.msg);
            t->status = r.status;
            t->gas_used = r.gas_used;
            t->fee = cl_mul(cl_u256(r.gas_used), r.effective_gas_price);
            ethrpc_receipt_free(&r);
        }
        json_decref(blk);
    }
    *out = v;
    return n;
}

static int by_nonce(const void *x, const void *y)
{
    const struct e2e_tx *a = x, *b = y;

    return a->nonce < b->nonce ? -1 : a->nonce > b->nonce;
}

size_t e2e_check_key(struct cl_chain *c, const uint8_t addr[20])
{
    struct e2e_tx *v = NULL;
    struct mr_error err;
    uint64_t count = 0;
    size_t n = e2e_sent_by(c, addr, 0, cl_block_number(c), &v);

    if (ethrpc_get_transaction_count(c->ep, addr, "latest", &count, NULL, &err) != MR_OK)
        fail_msg("%s: %s", c->label, err.msg);
    qsort(v, n, sizeof(*v), by_nonce);
    for (size_t i = 0; i < n; i++) {
        char h[67];
        hex_encode_data(v[i].hash, 32, h, sizeof(h));
        if (v[i].nonce != i)
            fail_msg("%s: the key's transaction %zu has nonce %llu (a gap or a duplicate)",
                     c->label, i, (unsigned long long)v[i].nonce);
        if (v[i].status != 1)
            fail_msg("%s: the key's transaction %s (nonce %llu, block %llu) reverted", c->label,
                     h, (unsigned long long)v[i].nonce, (unsigned long long)v[i].block);
    }
    if (n != count)
        fail_msg("%s: %zu transactions found for the key, its nonce is %llu", c->label, n,
                 (unsigned long long)count);
    free(v);
    return n;
}

/* ------------------------------------------------------------------------
 * Shared by the test programs (see e2elib.h).
 * ---------------------------------------------------------------------- */

int e2e_group_setup(void **state, struct e2e *e, const struct e2e_opts *o)
{
    *state = e2e_up(e, o) ? e : NULL;
    return 0;
}

int e2e_group_teardown(void **state)
{
    if (*state != NULL)
        e2e_down(*state);
    return 0;
}

int e2e_selected(const char *func)
{
    const char *only = getenv("E2E_ONLY");

    return only == NULL || strstr(func, only) != NULL;
}

struct u256 e2e_ut_of(struct e2e *e, const uint8_t who[20])
{
    return cl_token_balance(&e->a, e->ut, who);
}

struct u256 e2e_vt_of(struct e2e *e, const uint8_t who[20])
{
    return cl_token_balance(&e->o, e->vt, who);
}

struct u256 e2e_bt_of(struct e2e *e, const uint8_t who[20])
{
    return cl_token_balance(&e->o, e->bt, who);
}

struct u256 e2e_fees(struct e2e *e, struct cl_chain *c, uint64_t from, uint64_t to)
{
    struct e2e_tx *v = NULL;
    struct u256 fee = cl_u256(0);
    size_t n = e2e_sent_by(c, e->fac, from, to, &v);

    for (size_t i = 0; i < n; i++)
        fee = cl_add(fee, v[i].fee);
    free(v);
    return fee;
}

const struct eth_log *e2e_one_log(const struct eth_logs *l, const uint8_t mh[32],
                                  const char *what)
{
    const struct eth_log *found = NULL;
    size_t k = 0;

    for (size_t i = 0; i < l->n; i++) {
        if (l->v[i].n_topics >= 2 && memcmp(l->v[i].topics[1], mh, 32) == 0) {
            found = &l->v[i];
            k++;
        }
    }
    if (k != 1) {
        char h[67];
        hex_encode_data(mh, 32, h, sizeof(h));
        fail_msg("%s for %s: %zu events on chain, expected exactly 1", what, h, k);
    }
    return found;
}

struct u256 e2e_target_reward(struct cl_chain *c, const uint8_t gw[20], const char *sig,
                              const struct e2e_msg *m, uint64_t from, uint64_t to,
                              struct u256 beneficiary_got, int by_proof)
{
    struct eth_logs l;
    const struct eth_log *ev;
    struct u256 reward;

    e2e_logs(c, gw, sig, from, to, &l);
    ev = e2e_one_log(&l, m->mh, sig);
    cl_assert_u256("amount", e2e_word(ev, 2), m->amount);
    reward = e2e_word(ev, 4);
    cl_assert_u256("paid + reward", cl_add(e2e_word(ev, 3), reward), m->amount);
    cl_assert_u256("the beneficiary's balance", beneficiary_got, e2e_word(ev, 3));
    assert_int_equal(e2e_word_u64(ev, 5), by_proof);
    ethrpc_logs_free(&l);
    return reward;
}

void e2e_no_halts(struct e2e *e)
{
    assert_int_equal(tv_pg_int64(e->db, "SELECT count(*) FROM mosaic.signer_nonces WHERE"
                                        " halted_reason IS NOT NULL"), 0);
    assert_int_equal(tv_pg_int64(e->db, "SELECT count(*) FROM mosaic.alerts WHERE severity ="
                                        " 'critical'"), 0);
}

void e2e_send_call(struct cl_chain *c, const char *what, const uint8_t from[20],
                   const uint8_t to[20], const struct u256 *value, const char *sig,
                   const struct abi_value *args, size_t n, uint8_t tx[32], uint64_t *block)
{
    struct eth_receipt r;
    uint8_t *cd;
    size_t len;

    cl_calldata(sig, args, n, &cd, &len);
    cl_send(c, what, from, to, value, cd, len, &r);
    if (tx != NULL)
        memcpy(tx, r.tx_hash, 32);
    if (block != NULL)
        *block = r.block_number;
    ethrpc_receipt_free(&r);
    free(cd);
}
