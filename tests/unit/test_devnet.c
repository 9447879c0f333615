/*
 * test_devnet.c - deploy/devnet and `mosaic-relayer deploy`, end to end:
 * a devnet with one auxiliary chain in a private directory (up, status, up
 * again), a full deployment and a second run that sends nothing, an
 * interrupted deployment that resumes without sending anything twice, the
 * deploy errors (unreachable endpoint, wrong chain id, a key without funds,
 * configured and recorded addresses holding other code), and down, which
 * stops exactly the devnet's processes.
 *
 * The tests run in order and share the devnet; each one after the first
 * skips when it is not up.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "chain/rpc.h"
#include "relayer/config.h"
#include "tests/lib/testlib.h"

static char *g_tmp;          /* private directory (removed at the end) */
static char g_dir[512];      /* the devnet's directory */
static int g_up;             /* devnet up */
static int g_deployed;       /* the first deployment is done */
static const char *g_skip;   /* why the whole program skips */

#define DEVNET "deploy/devnet"

#define REQUIRE_UP()                                                           \
    do {                                                                       \
        if (!g_up) {                                                           \
            print_message("SKIP: %s\n", g_skip ? g_skip : "the devnet is not up"); \
            skip();                                                            \
        }                                                                      \
    } while (0)

/* ---- helpers ---- */

static char *path_in(const char *dir, const char *name)
{
    char *p = malloc(strlen(dir) + strlen(name) + 2);

    assert_non_null(p);
    sprintf(p, "%s/%s", dir, name);
    return p;
}

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    long n;

    if (f == NULL)
        return NULL;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");

    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
    assert_int_equal(fclose(f), 0);
}

/* A copy of s with every `from` replaced by `to` (which must occur). */
static char *replace(const char *s, const char *from, const char *to)
{
    size_t n = 0, fl = strlen(from), tl = strlen(to);
    const char *p;
    char *out, *o;

    for (p = strstr(s, from); p != NULL; p = strstr(p + fl, from))
        n++;
    assert_true(n > 0);
    out = malloc(strlen(s) + n * tl + 1);
    assert_non_null(out);
    for (o = out, p = s;;) {
        const char *q = strstr(p, from);
        if (q == NULL) {
            strcpy(o, p);
            break;
        }
        memcpy(o, p, (size_t)(q - p));
        o += q - p;
        memcpy(o, to, tl);
        o += tl;
        p = q + fl;
    }
    return out;
}

static int count(const char *s, const char *needle)
{
    int n = 0;

    for (const char *p = strstr(s, needle); p != NULL; p = strstr(p + 1, needle))
        n++;
    return n;
}

static int devnet(const char *const *args, char **out, char **err)
{
    return tv_run_prog(DEVNET, args, NULL, out, err);
}

/* Value of NAME='...' in the devnet's env file (malloc'd). */
static char *env_value(const char *name)
{
    char *path = path_in(g_dir, "devnet.env"), *text = read_text(path), key[128], *p, *end, *v;

    assert_non_null(text);
    snprintf(key, sizeof(key), "\n%s='", name);
    p = strstr(text, key);
    assert_non_null(p);
    p += strlen(key);
    end = strchr(p, '\'');
    assert_non_null(end);
    v = strndup(p, (size_t)(end - p));
    free(text);
    free(path);
    return v;
}

static PGconn *devnet_db(void)
{
    char *url = env_value("MOSAIC_DATABASE_URL");
    PGconn *c = PQconnectdb(url);

    free(url);
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    return c;
}

static pid_t pid_of(const char *name)
{
    char file[64], *path, *text;
    pid_t pid;

    snprintf(file, sizeof(file), "run/%s.pid", name);
    path = path_in(g_dir, file);
    text = read_text(path);
    free(path);
    if (text == NULL)
        return 0;
    pid = (pid_t)atol(text);
    free(text);
    return pid;
}

/* Alive and not a zombie. */
static int alive(pid_t pid)
{
    char path[64], buf[512], *p;
    FILE *f;

    if (pid <= 0 || kill(pid, 0) != 0)
        return 0;
    snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
    f = fopen(path, "r");
    if (f == NULL)
        return 0;
    p = fgets(buf, sizeof(buf), f);
    fclose(f);
    p = p ? strrchr(buf, ')') : NULL;
    return p != NULL && p[1] == ' ' && p[2] != 'Z';
}

/* The address of step `name` in a state file (malloc'd "0x..."). */
static char *state_address(const char *state_path, const char *name)
{
    json_t *root = json_load_file(state_path, 0, NULL), *steps, *e;
    char *out = NULL;
    size_t i;

    assert_non_null(root);
    steps = json_object_get(root, "steps");
    json_array_foreach(steps, i, e) {
        if (strcmp(json_string_value(json_object_get(e, "name")), name) == 0)
            out = strdup(json_string_value(json_object_get(e, "address")));
    }
    json_decref(root);
    assert_non_null(out);
    return out;
}

/* A deploy config derived from the devnet's: its own state and output
 * files (tag), and one extra substitution (may be NULL). */
static char *config_variant(const char *tag, const char *from, const char *to)
{
    char *base = path_in(g_dir, "deploy.yaml"), *text = read_text(base), name[64], *a, *b, *c;
    char *path;

    assert_non_null(text);
    snprintf(name, sizeof(name), "deploy-state-%s.json", tag);
    a = replace(text, "deploy-state.json", name);
    snprintf(name, sizeof(name), "relayer-%s.yaml", tag);
    b = replace(a, "relayer.yaml", name);
    c = from ? replace(b, from, to) : strdup(b);
    snprintf(name, sizeof(name), "deploy-%s.yaml", tag);
    path = path_in(g_dir, name);
    write_text(path, c);
    free(base);
    free(text);
    free(a);
    free(b);
    free(c);
    return path;
}

/* A copy of `config` (same state file) in which key `key` takes its
 * password from the variable `var`, set here from the key's password file. */
static char *password_env_config(const char *config, const char *key, const char *var)
{
    char file[64], from[640], to[128], *pass_path, *pw, *text, *c, *path;

    snprintf(file, sizeof(file), "keys/%s.pass", key);
    pass_path = path_in(g_dir, file);
    pw = read_text(pass_path);
    assert_non_null(pw);
    pw[strcspn(pw, "\r\n")] = '\0';
    assert_int_equal(setenv(var, pw, 1), 0);
    snprintf(from, sizeof(from), "password_file: \"%s\"", pass_path);
    snprintf(to, sizeof(to), "password_env: %s", var);
    text = read_text(config);
    assert_non_null(text);
    c = replace(text, from, to);
    path = path_in(g_dir, "deploy-env.yaml");
    write_text(path, c);
    free(c);
    free(text);
    free(pw);
    free(pass_path);
    return path;
}

static int run_deploy(const char *config, char **out, char **err)
{
    const char *args[] = {"deploy", "--config", config, NULL};

    return tv_run_cli(args, NULL, out, err);
}

static void rpc(const char *url, uint64_t chain_id, const char *method, json_t *params)
{
    struct rpc_endpoints *e = NULL;
    struct mr_error err = {0};
    json_t *res = NULL;

    assert_int_equal(rpc_endpoints_new(&url, 1, chain_id, NULL, &e, &err), MR_OK);
    if (rpc_call(e, method, params, &res, NULL, &err) != MR_OK)
        fail_msg("%s: %s", method, err.msg);
    json_decref(res);
    rpc_endpoints_free(e);
}

/* ---- setup ---- */

static int group_setup(void **state)
{
    struct stat st;

    (void)state;
    if (getenv("MR_TEST_PG_SKIP") != NULL)
        g_skip = "no PostgreSQL (make deps)";
    else if (stat("deploy/node_modules/.bin/anvil", &st) != 0)
        g_skip = "anvil is not installed (make deps)";
    else if (stat("build/contracts/EIP20Gateway.json", &st) != 0)
        g_skip = "the contracts are not built (make contracts)";
    if (g_skip != NULL)
        return 0;
    g_tmp = tv_tmpdir();
    chmod(g_tmp, 0755); /* the postgres user must reach the cluster inside */
    snprintf(g_dir, sizeof(g_dir), "%s/devnet", g_tmp);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    if (g_tmp != NULL) {
        const char *args[] = {"down", "--purge", "--dir", g_dir, NULL};
        struct stat st;
        if (stat(g_dir, &st) == 0)
            devnet(args, NULL, NULL);
        tv_rmtree(g_tmp);
        free(g_tmp);
    }
    return 0;
}

/* ---- tests ---- */

static void test_usage(void **state)
{
    const char *help[] = {"--help", NULL}, *bad[] = {"frobnicate", NULL};
    const char *badaux[] = {"up", "--aux", "0", NULL}, *dhelp[] = {"deploy", "--help", NULL};
    const char *noconf[] = {"deploy", NULL};
    char *out = NULL, *err = NULL;

    (void)state;
    assert_int_equal(devnet(help, &out, NULL), 0);
    assert_non_null(strstr(out, "down [--purge]"));
    free(out);
    assert_int_equal(devnet(bad, NULL, &err), 2);
    assert_non_null(strstr(err, "unknown command"));
    free(err);
    assert_int_equal(devnet(badaux, NULL, &err), 2);
    assert_non_null(strstr(err, "--aux must be"));
    free(err);
    assert_int_equal(tv_run_cli(dhelp, NULL, &out, NULL), 0);
    assert_non_null(strstr(out, "deploy.state_file"));
    free(out);
    assert_int_equal(tv_run_cli(noconf, NULL, NULL, &err), 2);
    assert_non_null(strstr(err, "--config FILE is required"));
    free(err);
}

static void test_up_status(void **state)
{
    const char *up[] = {"up", "--aux", "1", "--dir", g_dir, NULL};
    const char *status[] = {"status", "--dir", g_dir, NULL};
    char *out = NULL, *err = NULL, *p;
    struct stat st;

    (void)state;
    if (g_skip != NULL) {
        print_message("SKIP: %s\n", g_skip);
        skip();
    }
    if (devnet(up, &out, &err) != 0)
        fail_msg("devnet up: %s%s", out, err);
    g_up = 1;
    assert_non_null(strstr(out, "started origin (chain 1000)"));
    assert_non_null(strstr(out, "started aux1 (chain 2001)"));
    assert_non_null(strstr(out, "postgresql://relayer@127.0.0.1:"));
    free(out);
    free(err);
    assert_int_equal(devnet(status, &out, NULL), 0);
    assert_int_equal(count(out, " alive "), 3);
    assert_null(strstr(out, "dead"));
    free(out);
    /* Keys private, funded; the env file names everything. */
    p = path_in(g_dir, "keys/facilitator.pass");
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    free(p);
    p = env_value("MOSAIC_DEVNET_AUX1_URL");
    assert_non_null(strstr(p, "http://127.0.0.1:"));
    free(p);
    p = env_value("MOSAIC_DEVNET_ANCHOR_ADDRESS");
    assert_int_equal(strlen(p), 42);
    free(p);
}

static void test_up_again(void **state)
{
    const char *up[] = {"up", "--dir", g_dir, NULL};
    const char *up3[] = {"up", "--aux", "3", "--dir", g_dir, NULL};
    pid_t before[3] = {pid_of("origin"), pid_of("aux1"), pid_of("postgres")};
    char *out = NULL, *err = NULL;

    (void)state;
    REQUIRE_UP();
    assert_int_equal(devnet(up, &out, NULL), 0);
    assert_null(strstr(out, "started"));
    assert_int_equal(count(out, " alive "), 3);
    free(out);
    assert_int_equal(pid_of("origin"), before[0]);
    assert_int_equal(pid_of("aux1"), before[1]);
    assert_int_equal(pid_of("postgres"), before[2]);
    /* A different shape needs down --purge first. */
    assert_int_equal(devnet(up3, NULL, &err), 1);
    assert_non_null(strstr(err, "has 1 auxiliary chains"));
    free(err);
}

static void test_deploy_and_again(void **state)
{
    char *config = path_in(g_dir, "deploy.yaml"), *out = NULL, *err = NULL;
    char *run = path_in(g_dir, "relayer.yaml"), *env_config;
    struct config *cfg = NULL;
    struct mr_error e = {0};
    static const uint8_t zero[20];
    PGconn *db;
    int64_t txs;
    int sent;

    (void)state;
    REQUIRE_UP();
    if (run_deploy(config, &out, &err) != 0)
        fail_msg("deploy: %s%s", out, err);
    sent = count(out, ": sent (transaction ");
    assert_true(sent >= 15);
    assert_non_null(strstr(out, "EIP20Gateway at 0x"));
    assert_non_null(strstr(out, "origin-aux1.activateGateway: done"));
    free(out);
    free(err);
    db = devnet_db();
    txs = tv_pg_int64(db, "SELECT count(*) FROM mosaic.transactions");
    assert_int_equal(txs, sent);
    assert_int_equal(tv_pg_int64(db, "SELECT count(*) FROM mosaic.transactions WHERE state <> 'final'"), 0);
    /* The run config loads and names the pair. */
    assert_int_equal(config_load(run, &cfg, &e), MR_OK);
    assert_int_equal(cfg->n_gateways, 1);
    assert_string_equal(cfg->gateways[0].name, "origin-aux1");
    assert_memory_not_equal(cfg->gateways[0].origin.gateway, zero, 20);
    assert_memory_not_equal(cfg->gateways[0].auxiliary.anchor, zero, 20);
    assert_false(cfg->deploy.present);
    config_free(cfg);
    g_deployed = 1;
    /* Again, the deployer's password in a variable this time: everything is
     * found, nothing is sent. */
    env_config = password_env_config(config, "facilitator", "MR_TEST_DEPLOY_PW");
    if (run_deploy(env_config, &out, &err) != 0)
        fail_msg("deploy with password_env: %s%s", out, err);
    free(err);
    assert_int_equal(unsetenv("MR_TEST_DEPLOY_PW"), 0);
    assert_non_null(strstr(out, "0 transactions this run"));
    assert_null(strstr(out, "sent (transaction"));
    assert_int_equal(count(out, ": exists at 0x") + count(out, ": already done"), sent);
    free(out);
    assert_int_equal(tv_pg_int64(db, "SELECT count(*) FROM mosaic.transactions"), txs);
    PQfinish(db);
    free(env_config);
    free(config);
    free(run);
}

/* Mining on origin paused: four origin steps sent and certainly not
 * recorded when the deploy is killed; the next run must follow those
 * transactions instead of sending new ones. */
static void test_deploy_interrupted(void **state)
{
    char *config = config_variant("b", NULL, NULL), *out = NULL, *err = NULL, line[512];
    char *url = env_value("MOSAIC_DEVNET_ORIGIN_URL"), *statef, sql[256], *id;
    const char *bin = getenv("MR_BIN") ? getenv("MR_BIN") : "build/mosaic-relayer";
    int p[2], origin_sent = 0, status;
    FILE *f;
    pid_t pid;
    PGconn *db;
    json_t *root;

    (void)state;
    REQUIRE_UP();
    rpc(url, 1000, "evm_setIntervalMining", json_pack("[i]", 0));
    assert_int_equal(pipe(p), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        dup2(p[1], 1);
        dup2(devnull, 2);
        close(p[0]);
        close(p[1]);
        execl(bin, bin, "deploy", "--config", config, (char *)NULL);
        _exit(127);
    }
    close(p[1]);
    f = fdopen(p[0], "r");
    assert_non_null(f);
    while (origin_sent < 4 && fgets(line, sizeof(line), f) != NULL)
        if (strncmp(line, "deploy: origin: ", 16) == 0 && strstr(line, ": sent (transaction"))
            origin_sent++;
    kill(pid, SIGKILL);
    fclose(f);
    waitpid(pid, &status, 0);
    assert_int_equal(origin_sent, 4);
    rpc(url, 1000, "evm_setIntervalMining", json_pack("[i]", 1));
    if (run_deploy(config, &out, &err) != 0)
        fail_msg("resumed deploy: %s%s", out, err);
    assert_true(count(out, "following transaction") >= 4);
    free(out);
    free(err);
    /* Every step of this deployment has exactly one transaction. */
    statef = path_in(g_dir, "deploy-state-b.json");
    root = json_load_file(statef, 0, NULL);
    assert_non_null(root);
    assert_int_equal(json_array_size(json_object_get(root, "steps")), 15);
    id = strdup(json_string_value(json_object_get(root, "deployment")));
    json_decref(root);
    db = devnet_db();
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM mosaic.transactions WHERE purpose LIKE 'deploy %s %%'", id);
    assert_int_equal(tv_pg_int64(db, sql), 15);
    snprintf(sql, sizeof(sql), "SELECT count(DISTINCT purpose) FROM mosaic.transactions WHERE purpose LIKE 'deploy %s %%'", id);
    assert_int_equal(tv_pg_int64(db, sql), 15);
    PQfinish(db);
    free(id);
    free(statef);
    free(url);
    free(config);
}

static void expect_deploy_error(const char *config, const char *what)
{
    char *out = NULL, *err = NULL;
    int rc = run_deploy(config, &out, &err);

    if (rc != 1 || strstr(err, what) == NULL)
        fail_msg("deploy %s: exit %d, wanted 1 and \"%s\": %s%s", config, rc, what, out, err);
    assert_int_equal(count(err, "\n"), 1); /* one line */
    free(out);
    free(err);
}

static void test_deploy_errors(void **state)
{
    char *url = env_value("MOSAIC_DEVNET_ORIGIN_URL"), *cfgs[6], *sa, *org, *val, *from;
    char *poor_json = path_in(g_tmp, "poor.json"), *poor_pass = path_in(g_tmp, "poor.pass");
    char *anchor = env_value("MOSAIC_DEVNET_ANCHOR_ADDRESS"), keyline[1200], *state_a, *tampered;
    const char *keys_new[] = {"keys", "new", "--light", "--out", poor_json, "--password-file",
                              poor_pass, NULL};
    int fd;

    (void)state;
    REQUIRE_UP();
    if (!g_deployed)
        skip();
    /* Unreachable endpoint; wrong chain id. */
    from = strdup(url);
    cfgs[0] = config_variant("c0", from, "http://127.0.0.1:1");
    expect_deploy_error(cfgs[0], "origin");
    expect_deploy_error(cfgs[0], "127.0.0.1:1");
    cfgs[1] = config_variant("c1", "chain_id: 2001", "chain_id: 2999");
    expect_deploy_error(cfgs[1], "serves chain id 2001, configured 2999");
    /* A new key without funds as the deployer. */
    fd = open(poor_pass, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "not-a-secret-1\n", 15), 15);
    close(fd);
    assert_int_equal(tv_run_cli(keys_new, NULL, NULL, NULL), 0);
    snprintf(keyline, sizeof(keyline), "keys:\n  poor: { keystore: \"%s\", password_file: \"%s\" }\n",
             poor_json, poor_pass);
    {
        char *c = config_variant("c2", "keys:\n", keyline), *text = read_text(c);
        char *t2 = replace(text, "deployer: facilitator", "deployer: poor");
        write_text(c, t2);
        free(text);
        free(t2);
        cfgs[2] = c;
    }
    expect_deploy_error(cfgs[2], "key poor (0x");
    expect_deploy_error(cfgs[2], "fund it first");
    /* A configured value token that is no contract, or another contract. */
    state_a = path_in(g_dir, "deploy-state.json");
    org = state_address(state_a, "origin.organization");
    snprintf(keyline, sizeof(keyline), "value_token: \"%s\"", anchor);
    cfgs[3] = config_variant("c3", "value_token: deploy", keyline);
    expect_deploy_error(cfgs[3], "holds no contract");
    snprintf(keyline, sizeof(keyline), "value_token: \"%s\"", org);
    cfgs[4] = config_variant("c4", "value_token: deploy", keyline);
    expect_deploy_error(cfgs[4], "holds other code");
    /* A recorded address that now holds other code. */
    val = state_address(state_a, "origin-aux1.value_token");
    sa = read_text(state_a);
    tampered = replace(sa, val, org);
    cfgs[5] = config_variant("c5", NULL, NULL);
    {
        char *p = path_in(g_dir, "deploy-state-c5.json");
        write_text(p, tampered);
        free(p);
    }
    expect_deploy_error(cfgs[5], "holds other code");
    for (int i = 0; i < 6; i++)
        free(cfgs[i]);
    free(sa);
    free(tampered);
    free(val);
    free(org);
    free(state_a);
    free(from);
    free(url);
    free(anchor);
    free(poor_json);
    free(poor_pass);
}

static void test_down(void **state)
{
    const char *down[] = {"down", "--dir", g_dir, NULL};
    const char *status[] = {"status", "--dir", g_dir, NULL};
    const char *purge[] = {"down", "--purge", "--dir", g_dir, NULL};
    const char *suite_anvil = getenv("MR_TEST_ANVIL_ORIGIN_PID");
    pid_t pids[3] = {pid_of("origin"), pid_of("aux1"), pid_of("postgres")};
    char *out = NULL;
    struct stat st;

    (void)state;
    REQUIRE_UP();
    assert_int_equal(devnet(down, &out, NULL), 0);
    assert_int_equal(count(out, "stopping "), 3);
    free(out);
    g_up = 0;
    for (int i = 0; i < 3; i++)
        assert_false(alive(pids[i]));
    /* The suite's own chain is still there: only the devnet's pids. */
    if (suite_anvil != NULL)
        assert_true(alive((pid_t)atol(suite_anvil)));
    assert_int_equal(devnet(status, &out, NULL), 1);
    assert_int_equal(count(out, " dead "), 3);
    free(out);
    assert_int_equal(stat(g_dir, &st), 0); /* kept without --purge */
    assert_int_equal(devnet(purge, NULL, NULL), 0);
    assert_int_not_equal(stat(g_dir, &st), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage),
        cmocka_unit_test(test_up_status),
        cmocka_unit_test(test_up_again),
        cmocka_unit_test(test_deploy_and_again),
        cmocka_unit_test(test_deploy_interrupted),
        cmocka_unit_test(test_deploy_errors),
        cmocka_unit_test(test_down),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
