/*
 * testlib.c - see testlib.h.
 */
#include "testlib.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

const char *tv_dir(void)
{
    static char dir[4096];
    const char *env = getenv("MOSAIC_VECTORS");
    struct stat st;

    snprintf(dir, sizeof(dir), "%s", env != NULL && env[0] != '\0' ? env : "../shared/vectors");
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "note: test vectors directory %s is absent\n", dir);
        return NULL;
    }
    return dir;
}

json_t *tv_load(const char *rel)
{
    const char *dir = tv_dir();
    char path[8192];
    json_error_t jerr;
    json_t *root;

    if (dir == NULL)
        return NULL;
    snprintf(path, sizeof(path), "%s/%s", dir, rel);
    root = json_load_file(path, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    if (root == NULL)
        fail_msg("cannot load vector file %s: %s (line %d)", path, jerr.text, jerr.line);
    return root;
}

uint8_t *tv_hex(const char *s, size_t *len)
{
    size_t n;
    uint8_t *out;

    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
        s += 2;
    n = strlen(s);
    if (n % 2 != 0)
        fail_msg("odd-length hex in a test vector: %s", s);
    out = malloc(n / 2 + 1);
    assert_non_null(out);
    for (size_t i = 0; i < n / 2; i++) {
        unsigned v;
        if (sscanf(s + 2 * i, "%2x", &v) != 1)
            fail_msg("bad hex in a test vector: %s", s);
        out[i] = (uint8_t)v;
    }
    *len = n / 2;
    return out;
}

char *tv_tohex(const uint8_t *data, size_t len)
{
    char *out = malloc(2 * len + 3);

    assert_non_null(out);
    out[0] = '0';
    out[1] = 'x';
    for (size_t i = 0; i < len; i++)
        sprintf(out + 2 + 2 * i, "%02x", data[i]);
    out[2 + 2 * len] = '\0';
    return out;
}

void tv_assert_hex(const uint8_t *data, size_t len, const char *hex)
{
    char *got = tv_tohex(data, len);
    const char *want = hex;

    if (want[0] == '0' && (want[1] == 'x' || want[1] == 'X'))
        want += 2;
    if (strcasecmp(got + 2, want) != 0) {
        print_error("want 0x%s\n got %s\n", want, got);
        free(got);
        fail();
    }
    free(got);
}

/* Appends what is readable on fd to *buf. */
static int drain(int fd, char **buf, size_t *len)
{
    char tmp[4096];
    ssize_t n = read(fd, tmp, sizeof(tmp));

    if (n <= 0)
        return (int)n;
    *buf = realloc(*buf, *len + (size_t)n + 1);
    assert_non_null(*buf);
    memcpy(*buf + *len, tmp, (size_t)n);
    *len += (size_t)n;
    (*buf)[*len] = '\0';
    return 1;
}

int tv_run_cli(const char *const *argv, const char *input, char **out, char **errout)
{
    const char *bin = getenv("MR_BIN");

    if (bin == NULL || bin[0] == '\0')
        bin = "build/mosaic-relayer";
    return tv_run_prog(bin, argv, input, out, errout);
}

int tv_run_prog(const char *bin, const char *const *argv, const char *input, char **out,
                char **errout)
{
    int pin[2], pout[2], perr[2], status;
    char *obuf = calloc(1, 1), *ebuf = calloc(1, 1);
    size_t olen = 0, elen = 0;
    pid_t pid;

    assert_int_equal(pipe(pin), 0);
    assert_int_equal(pipe(pout), 0);
    assert_int_equal(pipe(perr), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        size_t argc = 0;
        const char *args[64];
        dup2(pin[0], 0);
        dup2(pout[1], 1);
        dup2(perr[1], 2);
        /* Only 0, 1 and 2: a daemon the program starts must not keep the
         * pipes open (the reader would wait for it). */
        close(pin[0]);
        close(pin[1]);
        close(pout[0]);
        close(pout[1]);
        close(perr[0]);
        close(perr[1]);
        args[argc++] = bin;
        for (size_t i = 0; argv[i] != NULL && argc < 63; i++)
            args[argc++] = argv[i];
        args[argc] = NULL;
        execvp(bin, (char *const *)(uintptr_t)args);
        fprintf(stderr, "exec %s: %s\n", bin, strerror(errno));
        _exit(127);
    }
    close(pin[0]);
    close(pout[1]);
    close(perr[1]);
    if (input != NULL) {
        size_t left = strlen(input);
        const char *p = input;
        signal(SIGPIPE, SIG_IGN);
        while (left > 0) {
            ssize_t n = write(pin[1], p, left);
            if (n <= 0)
                break;
            p += n;
            left -= (size_t)n;
        }
    }
    close(pin[1]);
    for (int open_fds = 2; open_fds > 0;) {
        struct pollfd pf[2] = {{pout[0], POLLIN, 0}, {perr[0], POLLIN, 0}};
        if (poll(pf, 2, 30000) <= 0)
            break;
        if (pf[0].fd >= 0 && (pf[0].revents & (POLLIN | POLLHUP)) && drain(pout[0], &obuf, &olen) <= 0) {
            pout[0] = -1 - pout[0];
            open_fds--;
        }
        if (pf[1].fd >= 0 && (pf[1].revents & (POLLIN | POLLHUP)) && drain(perr[0], &ebuf, &elen) <= 0) {
            perr[0] = -1 - perr[0];
            open_fds--;
        }
        if (pout[0] < 0 && perr[0] < 0)
            break;
    }
    close(pout[0] < 0 ? -1 - pout[0] : pout[0]);
    close(perr[0] < 0 ? -1 - perr[0] : perr[0]);
    waitpid(pid, &status, 0);
    if (out != NULL)
        *out = obuf;
    else
        free(obuf);
    if (errout != NULL)
        *errout = ebuf;
    else
        free(ebuf);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

char *tv_tmpdir(void)
{
    char tmpl[] = "/tmp/mrtest.XXXXXX";
    char *d = mkdtemp(tmpl);

    assert_non_null(d);
    return strdup(d);
}

void tv_rmtree(const char *path)
{
    char cmd[4200];

    if (path == NULL || strncmp(path, "/tmp/mrtest.", 12) != 0)
        return;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
    if (system(cmd) != 0)
        fprintf(stderr, "warning: could not remove %s\n", path);
}

/* ---- processes ---- */

const char *tv_bin(void)
{
    const char *b = getenv("MR_BIN");

    return b != NULL && b[0] != '\0' ? b : "build/mosaic-relayer";
}

static int spawn(const char *const *argv, const char *log, int mode)
{
    pid_t pid = fork();

    assert_true(pid >= 0);
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | mode, 0600);
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
    return (int)pid;
}

int tv_spawn(const char *const *argv, const char *log)
{
    return spawn(argv, log, O_TRUNC);
}

int tv_spawn_append(const char *const *argv, const char *log)
{
    return spawn(argv, log, O_APPEND);
}

char *tv_slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    char *buf;
    long n;

    if (f == NULL)
        return NULL;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = calloc(1, n > 0 ? (size_t)n + 1 : 1);
    if (buf != NULL && n > 0 && fread(buf, 1, (size_t)n, f) != (size_t)n)
        buf[0] = '\0';
    fclose(f);
    return buf;
}

void tv_sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

void tv_wait_text(const char *path, const char *needle, int count)
{
    for (int i = 0; i < 1200; i++) {
        char *t = tv_slurp(path);
        int seen = 0;
        for (const char *p = t; p != NULL && (p = strstr(p, needle)) != NULL; p++)
            seen++;
        if (seen >= count) {
            free(t);
            return;
        }
        if (i == 1199)
            fail_msg("'%s' not in %s (x%d):\n%s", needle, path, count, t != NULL ? t : "");
        free(t);
        tv_sleep_ms(50);
    }
}

int tv_reap(int pid)
{
    int st = 0;

    for (int i = 0; i < 1200; i++) {
        pid_t r = waitpid((pid_t)pid, &st, WNOHANG);
        if (r == (pid_t)pid)
            return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
        tv_sleep_ms(50);
    }
    kill((pid_t)pid, SIGKILL);
    waitpid((pid_t)pid, &st, 0);
    fail_msg("process %d did not exit", pid);
    return -1;
}

/* ---- PostgreSQL ---- */

#include <libpq-fe.h>
#include <time.h>

#include "db/db.h"
#include "db/migrate.h"

const char *tv_pg_base(void)
{
    const char *s = getenv("MR_TEST_PG");

    return s != NULL && s[0] != '\0' ? s : NULL;
}

const char *tv_pg_skip_reason(void)
{
    const char *s = getenv("MR_TEST_PG_SKIP");

    return s != NULL ? s : "MR_TEST_PG is not set (run the tests through make test)";
}

char *tv_pg_newdb(void)
{
    static unsigned counter;
    char name[64], sql[128], *out;
    PGconn *c = PQconnectdb(tv_pg_base());
    PGresult *r;

    if (PQstatus(c) != CONNECTION_OK)
        fail_msg("cannot connect to the test PostgreSQL: %s", PQerrorMessage(c));
    snprintf(name, sizeof(name), "t_%d_%ld_%u", (int)getpid(), (long)time(NULL), counter++);
    snprintf(sql, sizeof(sql), "CREATE DATABASE %s", name);
    r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        fail_msg("CREATE DATABASE failed: %s", PQerrorMessage(c));
    PQclear(r);
    PQfinish(c);
    out = malloc(strlen(tv_pg_base()) + 80);
    assert_non_null(out);
    /* Later key=value pairs override earlier ones in a libpq conninfo. */
    sprintf(out, "%s dbname=%s", tv_pg_base(), name);
    return out;
}

PGconn *tv_pg_migrated(char **conninfo)
{
    struct mr_error err;
    PGconn *c;
    int applied;

    *conninfo = tv_pg_newdb();
    c = db_connect(*conninfo, NULL, &err);
    if (c == NULL || db_migrate(c, db_migrations, db_migrations_count, NULL, &applied, &err) != MR_OK)
        fail_msg("test database: %s", err.msg);
    return c;
}

int64_t tv_pg_int64(PGconn *c, const char *sql)
{
    struct mr_error err;
    int64_t v;

    if (db_query_int64(c, sql, &v, &err) != MR_OK)
        fail_msg("%s: %s", sql, err.msg);
    return v;
}

int tv_pg_ctl(const char *args)
{
    const char *ctl = getenv("MR_TEST_PGCTL");
    char cmd[2048];
    int st;

    if (ctl == NULL)
        return -1;
    snprintf(cmd, sizeof(cmd), "%s %s >/tmp/mrtest-pgctl.log 2>&1", ctl, args);
    st = system(cmd);
    st = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    if (st != 0) {
        print_error("pg_ctl %s failed with status %d:\n", args, st);
        if (system("cat /tmp/mrtest-pgctl.log >&2") != 0)
            print_error("(no pg_ctl output)\n");
    }
    return st;
}

/* ---- anvil ---- */

const char *tv_anvil_url(const char *name)
{
    char var[64];
    const char *v;

    snprintf(var, sizeof(var), "MR_TEST_ANVIL_%s_URL", name);
    v = getenv(var);
    return v != NULL && v[0] != '\0' ? v : NULL;
}

const char *tv_anvil_skip_reason(void)
{
    const char *s = getenv("MR_TEST_ANVIL_SKIP");

    return s != NULL ? s : "MR_TEST_ANVIL_ORIGIN_URL is not set (run the tests through make test)";
}

/* ---- keystores for tests ---- */

#include "eth/keccak.h"
#include "eth/key.h"
#include "relayer/keyfile.h"

void tv_make_keystore(const char *dir, const char *name, uint8_t addr[20])
{
    uint8_t seed[32] = {9}, sk[32];
    char path[600], pw[600];
    secp256k1_context *ctx = key_ctx_create(seed);
    struct keyfile kf;
    struct mr_error err;
    FILE *f;

    keccak256(name, strlen(name), sk);
    snprintf(path, sizeof(path), "%s/%s.json", dir, name);
    snprintf(pw, sizeof(pw), "%s/%s.pass", dir, name);
    if (keyfile_create(ctx, sk, (const uint8_t *)"pw", 2, KEYFILE_LIGHT_SCRYPT_N, &kf, &err) ||
        keyfile_write_new(path, &kf, &err))
        fail_msg("keystore: %s", err.msg);
    assert_int_equal(key_private_to_address(ctx, sk, addr, NULL), MR_OK);
    mr_wipe(sk, sizeof(sk));
    key_ctx_destroy(ctx);
    f = fopen(pw, "w");
    assert_non_null(f);
    fputs("pw\n", f);
    fclose(f);
    chmod(pw, 0600);
}

/* ---- a deployed gateway pair ---- */

#include "relayer/config.h"
#include "relayer/deploy.h"

struct config *tv_deploy_pair1(const char *ci, const char *dir, const char *deployer,
                               int with_user, const char *run_path)
{
    struct deploy_opts opts = {"build/contracts", NULL, 0, 0};
    struct config *cfg = NULL, *run = NULL;
    struct mr_error err;
    char user[700] = "", yaml[8192], path[600];
    FILE *f;

    if (with_user)
        snprintf(user, sizeof(user),
                 "  user: { keystore: \"%s/user.json\", password_file: \"%s/user.pass\" }\n", dir,
                 dir);
    snprintf(yaml, sizeof(yaml),
             "database: { url: \"%s\" }\n"
             "chains:\n"
             "  origin: { role: origin, chain_id: 31337, endpoints: [\"%s\"],"
             " finality: { confirmations: 0 }, poll_interval: 1s }\n"
             "  aux: { role: auxiliary, chain_id: 1405, endpoints: [\"%s\"],"
             " finality: { confirmations: 0 }, poll_interval: 1s }\n"
             "keys:\n"
             "  facilitator: { keystore: \"%s/facilitator.json\", password_file: \"%s/facilitator.pass\" }\n"
             "  anchor: { keystore: \"%s/anchor.json\", password_file: \"%s/anchor.pass\" }\n"
             "%s"
             "deploy:\n"
             "  deployer: %s\n"
             "  admin: anchor\n"
             "  bounty: \"100\"\n"
             "  max_state_roots: 10\n"
             "  max_storage_root_items: 100\n"
             "  state_file: \"%s/state.json\"\n"
             "  output: \"%s\"\n"
             "  pairs:\n"
             "    - { name: pair1, origin: origin, auxiliary: aux, value_token: deploy,"
             " base_token: deploy, token: { symbol: MOST, name: \"Mosaic OST\", decimals: 18,"
             " supply: \"1000000000000000000000000000\" } }\n",
             ci, tv_anvil_url("ORIGIN"), tv_anvil_url("AUX"), dir, dir, dir, dir, user, deployer,
             dir, run_path);
    snprintf(path, sizeof(path), "%s/deploy.yaml", dir);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs(yaml, f);
    fclose(f);
    if (config_load(path, &cfg, &err) != MR_OK)
        fail_msg("config: %s", err.msg);
    if (deploy_run(cfg, &opts, NULL, &err) != MR_OK)
        fail_msg("deploy: %s", err.msg);
    config_free(cfg);
    if (config_load(run_path, &run, &err) != MR_OK)
        fail_msg("run config: %s", err.msg);
    return run;
}

int tv_free_port(void)
{
    struct sockaddr_in a;
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0), port;

    assert_true(fd >= 0);
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    port = ntohs(a.sin_port);
    close(fd);
    return port;
}
