/*
 * cli.h - the operators' command groups and the helpers they share.
 *
 * Every command: `--help` prints its usage on stdout and exits 0; bad usage
 * or bad input prints one line "mosaic-relayer CMD: reason" on stderr and
 * exits CLI_EXIT_USAGE; a check that fails (a proof that does not verify)
 * exits CLI_EXIT_FAIL.
 */
#ifndef MR_CLI_H
#define MR_CLI_H

#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "eth/error.h"

#define CLI_EXIT_OK 0
#define CLI_EXIT_FAIL 1
#define CLI_EXIT_USAGE 2

struct cli_command {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv); /* argv[0] is the command name */
};

int cli_keccak(int argc, char **argv);
int cli_message_hash(int argc, char **argv);
int cli_keys(int argc, char **argv);
int cli_proof(int argc, char **argv);
int cli_migrate(int argc, char **argv);
int cli_jobs(int argc, char **argv);
int cli_tx(int argc, char **argv);
int cli_config(int argc, char **argv);
int cli_deploy(int argc, char **argv);
int cli_status(int argc, char **argv);
int cli_stake(int argc, char **argv);
int cli_redeem(int argc, char **argv);
int cli_balance(int argc, char **argv);
int cli_message(int argc, char **argv);
int cli_breaker(int argc, char **argv);

/* The database options of every database command, for --help texts. */
#define DB_OPTIONS_HELP                                                                    \
    "Database options (every database command finds the database the same way):\n"      \
    "  --database CONNINFO  a libpq URI (postgresql://user@host:port/db) or key=value\n"  \
    "                       string; else --config FILE's database.url; else\n"           \
    "                       $MOSAIC_DATABASE_URL; else libpq's PG* variables.\n"          \
    "  --config FILE        the relayer's YAML config (only database.url is read here)\n"

int cli_events(int argc, char **argv);
int cli_chain(int argc, char **argv);

/* Connects to the database found by the usual rules (--database, the
 * config's database.url, $MOSAIC_DATABASE_URL, PG*) and checks that its
 * schema is this binary's.  NULL after one line on stderr. */
PGconn *cli_db_connect(const char *cmd, const char *database, const char *config);
/* The same without the schema check, for commands that read only the
 * mosaic_dash views and so work with the dashboards' read-only role. */
PGconn *cli_db_open(const char *cmd, const char *database, const char *config);

/* Prints "mosaic-relayer <cmd>: <message>\n" on stderr and returns
 * CLI_EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...) MR_PRINTF(2, 3);

/* Reads a whole file into a new malloc'd, NUL-terminated buffer of at most
 * `cap` bytes.  Out: *buf (caller frees), *len.  Returns MR_OK;
 * MR_ERR_NOTFOUND (no such file), MR_ERR_TOOBIG (larger than cap),
 * MR_ERR_IO, MR_ERR_NOMEM, with err naming the path and the reason. */
int cli_read_file(const char *path, size_t cap, char **buf, size_t *len, struct mr_error *err);

/* Parses a 20-byte address (0x + 40 hex digits) or a 32-byte hash. */
int cli_parse_address(const char *s, uint8_t out[20], struct mr_error *err);
int cli_parse_hash(const char *s, uint8_t out[32], struct mr_error *err);

/* Checks that a read returned rows (db_check for PGRES_TUPLES_OK, `what`
 * naming it).  Returns MR_OK; else clears res and prints
 * "mosaic-relayer <cmd>: <reason>" on stderr, returning the error code. */
int cli_check_rows(const char *cmd, const char *what, PGresult *res);

/* Prints the rows of res as a table under heads[n]: every column but the
 * last padded to widths[i] and followed by one space, then "(N noun)"
 * ("nouns" unless N is 1). */
void cli_print_table(const PGresult *res, const char *const *heads, const int *widths, int n,
                     const char *noun);

/* For a command group with one subcommand and no arguments: checks that
 * argv[first..argc) is exactly `sub` (one line on stderr if not).  Returns
 * -1 to go on, else the exit status to return. */
int cli_one_subcommand(const char *cmd, const char *sub, int argc, char **argv, int first);

#endif /* MR_CLI_H */
