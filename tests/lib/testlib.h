/*
 * testlib.h - helpers shared by the cmocka test programs: locating and
 * loading the shared test vectors, hex conversion, running the CLI.
 *
 * Vectors are read in place from $MOSAIC_VECTORS (set by `make test`), else
 * ../shared/vectors.  When they are absent a test skips with a message that
 * says where it looked; it never passes silently.
 */
#ifndef MR_TESTLIB_H
#define MR_TESTLIB_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <jansson.h>
#include <libpq-fe.h>

/* The vectors directory, or NULL (and a note on stderr) when it is absent. */
const char *tv_dir(void);

/* Loads <vectors>/<rel> as JSON.  Returns a new reference, or NULL when the
 * vectors directory is absent (the caller skips).  A file that is missing
 * while the directory exists, or that does not parse, fails the test. */
json_t *tv_load(const char *rel);

/* Loads or skips the current test with a clear message. */
#define TV_LOAD_OR_SKIP(var, rel)                                              \
    do {                                                                       \
        (var) = tv_load(rel);                                                  \
        if ((var) == NULL) {                                                   \
            print_message("SKIP: test vectors %s not found (set MOSAIC_VECTORS)\n", (rel)); \
            skip();                                                            \
        }                                                                      \
    } while (0)

/* Decodes hex (with or without 0x, any case, even length) into a new malloc'd
 * buffer; *len gets its size.  Fails the test on bad hex.  Caller frees. */
uint8_t *tv_hex(const char *s, size_t *len);

/* Hex of data[len] as a new malloc'd "0x..." string.  Caller frees. */
char *tv_tohex(const uint8_t *data, size_t len);

/* Asserts that data[len] equals the hex string `hex` (0x optional). */
void tv_assert_hex(const uint8_t *data, size_t len, const char *hex);

/* Runs the CLI ($MR_BIN, else build/mosaic-relayer) with argv (NULL-ended),
 * feeding `input` (may be NULL) on stdin.  Out: captured stdout and stderr as
 * new malloc'd strings (caller frees; either may be NULL to discard).
 * Returns the exit status, or -1 if it died by a signal. */
int tv_run_cli(const char *const *argv, const char *input, char **out, char **errout);
/* The same for any program `bin` (a path, or a name looked up in PATH). */
int tv_run_prog(const char *bin, const char *const *argv, const char *input, char **out,
                char **errout);

/* A new temporary directory (malloc'd path); removed by tv_rmtree(). */
char *tv_tmpdir(void);
void tv_rmtree(const char *path);

/* ---- processes (the relayer run as a daemon) ---- */

/* The relayer binary: $MR_BIN, else build/mosaic-relayer. */
const char *tv_bin(void);
/* Starts argv[0] with argv (NULL-ended): stdin from /dev/null, stdout and
 * stderr to the file `log` (created or truncated, mode 0600), no other
 * descriptor inherited.  Returns its pid. */
int tv_spawn(const char *const *argv, const char *log);
/* The same, but appends to `log` (created if missing) instead of truncating
 * it: a daemon restarted by the test keeps one log of all its runs. */
int tv_spawn_append(const char *const *argv, const char *log);
/* The whole file as a new malloc'd NUL-terminated string, NULL if it
 * cannot be read. */
char *tv_slurp(const char *path);
/* Waits (at most 60 s) until the file holds `needle` at least `count`
 * times; fails the test with the file's text otherwise. */
void tv_wait_text(const char *path, const char *needle, int count);
/* Waits (at most 60 s) for the child to exit; returns its exit status, -1
 * when a signal ended it.  One that does not exit is killed and fails the
 * test. */
int tv_reap(int pid);
void tv_sleep_ms(long ms);
/* A loopback TCP port nobody listens on now (bound, then released). */
int tv_free_port(void);

/* ---- anvil (the chains started by tests/anvil-harness.sh) ---- */

/* Skips the current test when the test chains are not running. */
#define TV_REQUIRE_ANVIL()                                                     \
    do {                                                                       \
        if (tv_anvil_url("ORIGIN") == NULL) {                                  \
            print_message("SKIP: no test chains: %s\n", tv_anvil_skip_reason()); \
            skip();                                                            \
        }                                                                      \
    } while (0)

/* URL of the test chain NAME ("ORIGIN", "AUX"), or NULL. */
const char *tv_anvil_url(const char *name);
const char *tv_anvil_skip_reason(void);

/* Writes DIR/NAME.json, a light-scrypt keystore of the key keccak(NAME), and
 * DIR/NAME.pass (mode 0600, password "pw").  Out: addr, its address.
 * Fails the test on any error. */
void tv_make_keystore(const char *dir, const char *name, uint8_t addr[20]);

struct config;
/* Deploys one gateway pair "pair1" with the project's deploy command: origin
 * (chain 31337) on tv_anvil_url("ORIGIN"), aux (1405) on "AUX", database ci;
 * keys facilitator and anchor (the admin), and user when with_user, made
 * before by tv_make_keystore in dir; `deployer` names the deploying key (it
 * then holds the value and base tokens, deployed too).  Writes dir/deploy.yaml
 * and the run config at run_path; returns that loaded (config_free it).
 * Fails the test on any error. */
struct config *tv_deploy_pair1(const char *ci, const char *dir, const char *deployer,
                               int with_user, const char *run_path);

#endif /* MR_TESTLIB_H */

/* ---- PostgreSQL (the cluster started by tests/pg-harness.sh) ---- */

/* Skips the current test (with the harness's reason) when no test database
 * is available. */
#define TV_REQUIRE_PG()                                                        \
    do {                                                                       \
        if (tv_pg_base() == NULL) {                                            \
            print_message("SKIP: no test PostgreSQL: %s\n", tv_pg_skip_reason()); \
            skip();                                                            \
        }                                                                      \
    } while (0)

/* The harness's conninfo, or NULL. */
const char *tv_pg_base(void);
const char *tv_pg_skip_reason(void);
/* Creates a fresh, empty database and returns a new malloc'd conninfo for
 * it (caller frees). */
char *tv_pg_newdb(void);
/* A new connection to a fresh database with every migration applied.
 * Out: *conninfo (malloc'd, caller frees).  The caller PQfinish()es. */
PGconn *tv_pg_migrated(char **conninfo);
/* The single value of a one-row, one-column query; fails the test on error
 * (-1 for NULL). */
int64_t tv_pg_int64(PGconn *c, const char *sql);

/* Runs pg_ctl with `args` ("stop -m immediate", "start") on the harness's
 * cluster; returns its exit status. */
int tv_pg_ctl(const char *args);
