/*
 * cli_util.c - helpers shared by the command groups (see cli.h).
 */
#include "relayer/cli.h"

#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/db.h"
#include "eth/hex.h"

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "mosaic-relayer %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return CLI_EXIT_USAGE;
}

int cli_read_file(const char *path, size_t cap, char **buf, size_t *len, struct mr_error *err)
{
    FILE *f = fopen(path, "rb");
    char *data;
    size_t n = 0;

    if (f == NULL)
        return mr_fail(err, errno == ENOENT ? MR_ERR_NOTFOUND : MR_ERR_IO, "%s: %s", path,
                       strerror(errno));
    data = malloc(cap + 1);
    if (data == NULL) {
        fclose(f);
        return mr_fail(err, MR_ERR_NOMEM, "%s: out of memory", path);
    }
    n = fread(data, 1, cap + 1, f);
    if (ferror(f)) {
        fclose(f);
        free(data);
        return mr_fail(err, MR_ERR_IO, "%s: read error", path);
    }
    fclose(f);
    if (n > cap) {
        free(data);
        return mr_fail(err, MR_ERR_TOOBIG, "%s: larger than %zu bytes", path, cap);
    }
    data[n] = '\0';
    *buf = data;
    *len = n;
    return MR_OK;
}

int cli_parse_address(const char *s, uint8_t out[20], struct mr_error *err)
{
    return hex_decode_fixed(s, strlen(s), out, 20, err);
}

int cli_parse_hash(const char *s, uint8_t out[32], struct mr_error *err)
{
    return hex_decode_fixed(s, strlen(s), out, 32, err);
}

int cli_check_rows(const char *cmd, const char *what, PGresult *res)
{
    struct mr_error err;
    int rc = db_check(res, PGRES_TUPLES_OK, what, &err);

    if (rc != MR_OK) {
        PQclear(res);
        fprintf(stderr, "mosaic-relayer %s: %s\n", cmd, err.msg);
    }
    return rc;
}

static void print_row(const char *const *v, const int *widths, int n)
{
    for (int i = 0; i + 1 < n; i++)
        printf("%-*s ", widths[i], v[i]);
    printf("%s\n", v[n - 1]);
}

void cli_print_table(const PGresult *res, const char *const *heads, const int *widths, int n,
                     const char *noun)
{
    const char *v[16];

    assert(n >= 1 && n <= 16 && PQnfields(res) >= n);
    print_row(heads, widths, n);
    for (int i = 0; i < PQntuples(res); i++) {
        for (int f = 0; f < n; f++)
            v[f] = PQgetvalue(res, i, f);
        print_row(v, widths, n);
    }
    printf("(%d %s%s)\n", PQntuples(res), noun, PQntuples(res) == 1 ? "" : "s");
}

int cli_one_subcommand(const char *cmd, const char *sub, int argc, char **argv, int first)
{
    if (first >= argc)
        return cli_usage_error(cmd, "expected a subcommand: %s (see --help)", sub);
    if (strcmp(argv[first], sub) != 0)
        return cli_usage_error(cmd, "unknown subcommand '%s' (see --help)", argv[first]);
    if (first + 1 != argc)
        return cli_usage_error(cmd, "unexpected argument '%s'", argv[first + 1]);
    return -1;
}
