/*
 * cli_keys.c - `mosaic-relayer keys new|address`: create a Web3 Secret
 * Storage v3 keystore, print (and optionally verify) a keystore's address.
 *
 * Secrets handling (RELIABILITY.md §6.3-6.4): passwords come from a file or
 * the terminal/stdin, never from argv (ps shows argv); core dumps are off
 * before any secret is read; the password and key live in one locked
 * buffer that is wiped before returning; error messages never contain them,
 * nor any argument that might be a mistyped password.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "eth/address.h"
#include "eth/key.h"
#include "relayer/cli.h"
#include "relayer/keyfile.h"
#include "relayer/sysrand.h"

/* Everything secret the commands hold, in one place to lock and wipe. */
struct keys_secrets {
    char pw[KEYFILE_PASSWORD_MAX];
    char pw2[KEYFILE_PASSWORD_MAX];
    size_t pwlen, pw2len;
    uint8_t sk[KEYFILE_KEY_LEN];
};

static void keys_usage(void)
{
    printf("usage: mosaic-relayer keys new --out FILE [--password-file F] [--light | --scrypt-n N]\n"
           "       mosaic-relayer keys address [--verify [--password-file F]] FILE\n"
           "\n"
           "Creates and inspects Web3 Secret Storage v3 keystores (geth's format).\n"
           "Run 'mosaic-relayer keys new --help' or 'keys address --help' for details.\n");
}

static void keys_password_help(void)
{
    printf("Password: never taken from the command line.  With --password-file F, the\n"
           "contents of F minus one trailing newline (\\n or \\r\\n); F must not be\n"
           "readable by group or others (chmod 600 F) and at most %d bytes.  Without it,\n"
           "a prompt if stdin is a terminal (no echo), else one line read from stdin.\n",
           KEYFILE_PASSWORD_MAX);
}

static void keys_new_usage(void)
{
    printf("usage: mosaic-relayer keys new --out FILE [--password-file F] [--light | --scrypt-n N]\n"
           "\n"
           "Generates a new secp256k1 key, encrypts it with the password (scrypt\n"
           "N=%d, r=%d, p=%d, AES-128-CTR) and writes it to FILE with mode 0600.\n"
           "FILE must not exist (it is never overwritten); it is written to a temporary\n"
           "file in the same directory and then linked into place.  Prints the new\n"
           "address (EIP-55 checksummed) on stdout.\n"
           "\n"
           "  --out FILE          the keystore to create\n"
           "  --password-file F   read the password from F (see below)\n"
           "  --light             scrypt N=%d: fast and weak, for tests only\n"
           "  --scrypt-n N        scrypt N, a power of two from 1024 to %d\n"
           "\n",
           KEYFILE_SCRYPT_N, KEYFILE_SCRYPT_R, KEYFILE_SCRYPT_P, KEYFILE_LIGHT_SCRYPT_N,
           KEYFILE_SCRYPT_N);
    keys_password_help();
    printf("When prompting, the password is asked twice.  An empty password is refused.\n");
}

static void keys_address_usage(void)
{
    printf("usage: mosaic-relayer keys address [--verify [--password-file F]] FILE\n"
           "\n"
           "Prints the address of keystore FILE (EIP-55 checksummed).  Without --verify\n"
           "it is the file's \"address\" field, read without a password: the field is not\n"
           "authenticated, so do not trust it for a file you did not create.  With\n"
           "--verify the key is decrypted and its address is printed after checking it\n"
           "against the field (if any).\n"
           "\n"
           "  --verify            decrypt with the password and check the address\n"
           "  --password-file F   read the password from F (see below)\n"
           "\n");
    keys_password_help();
    printf("\nExit status: 0 ok; 1 the key does not match the file's address field (or is\n"
           "not a valid key); 2 bad usage, unreadable or unsafe file, wrong password.\n");
}

/* Core dumps would write the key to disk; PR_SET_DUMPABLE 0 also keeps
 * other processes of the same user from ptrace-ing us. */
static int keys_harden(void)
{
    struct rlimit rl = {0, 0};

    return setrlimit(RLIMIT_CORE, &rl) == 0 && prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == 0 ? MR_OK
                                                                                       : MR_ERR_IO;
}

/* Reads one line from fd into buf[cap], without the line ending.  Byte by
 * byte, so nothing beyond the line is consumed or left in a stdio buffer. */
static int read_line(int fd, char *buf, size_t cap, size_t *len, struct mr_error *err)
{
    size_t n = 0;
    char ch = 0;
    int rc = MR_OK;

    for (;;) {
        ssize_t r = read(fd, &ch, 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = mr_fail(err, MR_ERR_IO, "cannot read the password from stdin: %s",
                         strerror(errno));
            break;
        }
        if (r == 0 || ch == '\n')
            break;
        if (n == cap) {
            rc = mr_fail(err, MR_ERR_TOOBIG, "password longer than %zu bytes", cap);
            break;
        }
        buf[n++] = ch;
    }
    mr_wipe(&ch, 1);
    if (n > 0 && buf[n - 1] == '\r')
        n--;
    *len = rc == MR_OK ? n : 0;
    return rc;
}

/* Prompts on stderr and reads a line from the terminal on stdin with echo
 * off.  Job-control and interrupt signals are held while echo is off, so
 * that ^C cannot leave the terminal without echo; they are delivered after
 * the terminal is restored. */
static int prompt_tty(const char *prompt, char *buf, size_t cap, size_t *len,
                      struct mr_error *err)
{
    struct termios old, quiet;
    sigset_t hold, saved;
    int rc;

    if (tcgetattr(STDIN_FILENO, &old) != 0)
        return mr_fail(err, MR_ERR_IO, "cannot read the terminal settings: %s", strerror(errno));
    sigemptyset(&hold);
    sigaddset(&hold, SIGINT);
    sigaddset(&hold, SIGQUIT);
    sigaddset(&hold, SIGTSTP);
    sigaddset(&hold, SIGTERM);
    sigaddset(&hold, SIGHUP);
    sigprocmask(SIG_BLOCK, &hold, &saved);
    quiet = old;
    quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHOE | ECHOK | ECHONL);
    quiet.c_lflag |= ICANON;
    fputs(prompt, stderr);
    fflush(stderr);
    if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) != 0)
        rc = mr_fail(err, MR_ERR_IO, "cannot turn off echo: %s", strerror(errno));
    else
        rc = read_line(STDIN_FILENO, buf, cap, len, err);
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
    fputc('\n', stderr);
    sigprocmask(SIG_SETMASK, &saved, NULL);
    return rc;
}

/* The password into s->pw: from pwfile, else a prompt (twice if confirm),
 * else one line of stdin. */
static int get_password(const char *pwfile, int confirm, struct keys_secrets *s,
                        struct mr_error *err)
{
    int rc;

    if (pwfile != NULL)
        return keyfile_read_password(pwfile, s->pw, sizeof(s->pw), &s->pwlen, err);
    if (!isatty(STDIN_FILENO))
        return read_line(STDIN_FILENO, s->pw, sizeof(s->pw), &s->pwlen, err);
    rc = prompt_tty("Password: ", s->pw, sizeof(s->pw), &s->pwlen, err);
    if (rc != MR_OK || !confirm)
        return rc;
    rc = prompt_tty("Repeat password: ", s->pw2, sizeof(s->pw2), &s->pw2len, err);
    if (rc == MR_OK && (s->pwlen != s->pw2len || memcmp(s->pw, s->pw2, s->pwlen) != 0))
        rc = mr_fail(err, MR_ERR_INVALID, "the passwords do not match");
    return rc;
}

/* A signing context blinded with fresh randomness. */
static secp256k1_context *new_ctx(void)
{
    uint8_t seed[32];
    secp256k1_context *ctx = NULL;

    if (sys_random(seed, sizeof(seed)) == MR_OK)
        ctx = key_ctx_create(seed);
    mr_wipe(seed, sizeof(seed));
    return ctx;
}

/* 32 random bytes until they are a valid key (fails with probability
 * ~2^-128 per draw). */
static int new_private_key(const secp256k1_context *ctx, uint8_t sk[KEYFILE_KEY_LEN])
{
    for (int i = 0; i < 64; i++) {
        if (sys_random(sk, KEYFILE_KEY_LEN) != MR_OK)
            return MR_ERR_IO;
        if (key_check_private(ctx, sk) == MR_OK)
            return MR_OK;
    }
    return MR_ERR_KEY;
}

/* An option name for an error message: up to '=' (so that "--password=x"
 * does not echo x) and at most 32 characters. */
static int optname_len(const char *arg)
{
    size_t n = strcspn(arg, "=");

    return (int)(n > 32 ? 32 : n);
}

struct keys_new_opts {
    const char *out, *pwfile;
    uint64_t scrypt_n;
};

static int parse_scrypt_n(const char *s, uint64_t *n)
{
    char *end;
    unsigned long long v;

    if (s[0] < '0' || s[0] > '9')
        return MR_ERR_USAGE;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < 1024 || v > KEYFILE_SCRYPT_N || (v & (v - 1)) != 0)
        return MR_ERR_USAGE;
    *n = v;
    return MR_OK;
}

static int keys_new_args(int argc, char **argv, struct keys_new_opts *o)
{
    const char *cmd = "keys new";
    int light = 0, custom = 0;

    o->scrypt_n = KEYFILE_SCRYPT_N;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has_value = i + 1 < argc;
        if (strcmp(a, "--out") == 0 && has_value) {
            o->out = argv[++i];
        } else if (strcmp(a, "--password-file") == 0 && has_value) {
            o->pwfile = argv[++i];
        } else if (strcmp(a, "--light") == 0) {
            light = 1;
            o->scrypt_n = KEYFILE_LIGHT_SCRYPT_N;
        } else if (strcmp(a, "--scrypt-n") == 0 && has_value) {
            custom = 1;
            if (parse_scrypt_n(argv[++i], &o->scrypt_n) != MR_OK)
                return cli_usage_error(cmd, "--scrypt-n must be a power of two from 1024 to %d",
                                       KEYFILE_SCRYPT_N);
        } else if (a[0] == '-' && a[1] == '-') {
            return cli_usage_error(cmd, "unknown option or missing value: %.*s (see --help)",
                                   optname_len(a), a);
        } else {
            return cli_usage_error(cmd, "unexpected argument (see --help; passwords are never "
                                   "given on the command line)");
        }
    }
    if (o->out == NULL)
        return cli_usage_error(cmd, "--out FILE is required (see --help)");
    if (light && custom)
        return cli_usage_error(cmd, "--light and --scrypt-n exclude each other");
    return CLI_EXIT_OK;
}

/* Generates, encrypts and writes the key; s holds the password. */
static int keys_new_write(const struct keys_new_opts *o, struct keys_secrets *s,
                          char addr[ADDRESS_TEXT_SIZE], struct mr_error *err)
{
    secp256k1_context *ctx = new_ctx();
    struct keyfile kf;
    int rc;

    if (ctx == NULL)
        return mr_fail(err, MR_ERR_CRYPTO, "cannot create a secp256k1 context");
    rc = new_private_key(ctx, s->sk);
    if (rc != MR_OK)
        mr_fail(err, rc, "cannot generate a private key from the system's randomness");
    else
        rc = keyfile_create(ctx, s->sk, (const uint8_t *)s->pw, s->pwlen, o->scrypt_n, &kf, err);
    if (rc == MR_OK)
        rc = keyfile_write_new(o->out, &kf, err);
    if (rc == MR_OK)
        address_to_checksum(kf.address, addr);
    key_ctx_destroy(ctx);
    return rc;
}

static int keys_new(int argc, char **argv, struct keys_secrets *s)
{
    struct keys_new_opts o = {NULL, NULL, 0};
    char addr[ADDRESS_TEXT_SIZE];
    struct mr_error err;
    struct stat st;
    int rc;

    if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        keys_new_usage();
        return CLI_EXIT_OK;
    }
    rc = keys_new_args(argc, argv, &o);
    if (rc != CLI_EXIT_OK)
        return rc;
    /* Early, friendly refusal; keyfile_write_new() refuses atomically too. */
    if (lstat(o.out, &st) == 0)
        return cli_usage_error("keys new", "%s already exists; refusing to overwrite it", o.out);
    if (get_password(o.pwfile, 1, s, &err) != MR_OK)
        return cli_usage_error("keys new", "%s", err.msg);
    if (s->pwlen == 0)
        return cli_usage_error("keys new", "empty password refused");
    if (keys_new_write(&o, s, addr, &err) != MR_OK)
        return cli_usage_error("keys new", "%s", err.msg);
    printf("%s\n", addr);
    return CLI_EXIT_OK;
}

struct keys_address_opts {
    const char *file, *pwfile;
    int verify;
};

static int keys_address_args(int argc, char **argv, struct keys_address_opts *o)
{
    const char *cmd = "keys address";

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--verify") == 0) {
            o->verify = 1;
        } else if (strcmp(a, "--password-file") == 0 && i + 1 < argc) {
            o->pwfile = argv[++i];
        } else if (a[0] == '-' && a[1] == '-') {
            return cli_usage_error(cmd, "unknown option or missing value: %.*s (see --help)",
                                   optname_len(a), a);
        } else if (o->file != NULL) {
            return cli_usage_error(cmd, "expected one FILE (see --help)");
        } else {
            o->file = a;
        }
    }
    if (o->file == NULL)
        return cli_usage_error(cmd, "expected a keystore FILE (see --help)");
    if (o->pwfile != NULL && !o->verify)
        return cli_usage_error(cmd, "--password-file is only used with --verify");
    return CLI_EXIT_OK;
}

/* keys address --verify: decrypt and check.  Exit 1 if the key does not
 * match (MR_ERR_KEY), 2 on any other failure. */
static int keys_address_verify(const struct keys_address_opts *o, const struct keyfile *kf,
                               struct keys_secrets *s)
{
    uint8_t addr[ADDRESS_LEN];
    char text[ADDRESS_TEXT_SIZE];
    secp256k1_context *ctx;
    struct mr_error err;
    int rc;

    if (get_password(o->pwfile, 0, s, &err) != MR_OK)
        return cli_usage_error("keys address", "%s", err.msg);
    ctx = new_ctx();
    if (ctx == NULL)
        return cli_usage_error("keys address", "cannot create a secp256k1 context");
    rc = keyfile_unlock(ctx, kf, &keystore_limits_default, (const uint8_t *)s->pw, s->pwlen,
                        s->sk, addr, &err);
    key_ctx_destroy(ctx);
    if (rc == MR_ERR_KEY) {
        fprintf(stderr, "mosaic-relayer keys address: %s: %s\n", o->file, err.msg);
        return CLI_EXIT_FAIL;
    }
    if (rc != MR_OK)
        return cli_usage_error("keys address", "%s: %s", o->file, err.msg);
    address_to_checksum(addr, text);
    printf("%s\n", text);
    return CLI_EXIT_OK;
}

static int keys_address(int argc, char **argv, struct keys_secrets *s)
{
    struct keys_address_opts o = {NULL, NULL, 0};
    char text[ADDRESS_TEXT_SIZE];
    struct mr_error err;
    struct keyfile kf;
    int rc;

    if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        keys_address_usage();
        return CLI_EXIT_OK;
    }
    rc = keys_address_args(argc, argv, &o);
    if (rc != CLI_EXIT_OK)
        return rc;
    if (keyfile_load(o.file, &kf, &err) != MR_OK)
        return cli_usage_error("keys address", "%s", err.msg);
    if (o.verify)
        return keys_address_verify(&o, &kf, s);
    if (!kf.has_address)
        return cli_usage_error("keys address", "%s has no \"address\" field; use --verify to "
                               "derive it from the key (needs the password)", o.file);
    address_to_checksum(kf.address, text);
    printf("%s\n", text);
    return CLI_EXIT_OK;
}

int cli_keys(int argc, char **argv)
{
    struct keys_secrets s;
    int rc, locked;

    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        keys_usage();
        return CLI_EXIT_OK;
    }
    if (argc < 2 || (strcmp(argv[1], "new") != 0 && strcmp(argv[1], "address") != 0))
        return cli_usage_error("keys", "expected 'new' or 'address' (see --help)");
    if (keys_harden() != MR_OK)
        return cli_usage_error("keys", "cannot disable core dumps: %s", strerror(errno));
    memset(&s, 0, sizeof(s));
    locked = mlock(&s, sizeof(s)) == 0; /* best effort: RLIMIT_MEMLOCK may forbid it */
    if (strcmp(argv[1], "new") == 0)
        rc = keys_new(argc - 1, argv + 1, &s);
    else
        rc = keys_address(argc - 1, argv + 1, &s);
    mr_wipe(&s, sizeof(s));
    if (locked)
        munlock(&s, sizeof(s));
    return rc;
}
