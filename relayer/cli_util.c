/*
 * cli_util.c - helpers shared by the command groups (see cli.h).
 */
#include "relayer/cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
