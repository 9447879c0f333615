/*
 * error.c - error names and the error-detail helpers (see error.h).
 */
#define _DEFAULT_SOURCE 1
#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *const mr_errnames[] = {
    "success",                              /* MR_OK */
    "invalid input",                        /* MR_ERR_INVALID */
    "value out of range",                   /* MR_ERR_RANGE */
    "too big",                              /* MR_ERR_TOOBIG */
    "out of memory",                        /* MR_ERR_NOMEM */
    "invalid hex",                          /* MR_ERR_HEX */
    "invalid RLP",                          /* MR_ERR_RLP */
    "invalid ABI data",                     /* MR_ERR_ABI */
    "invalid signature",                    /* MR_ERR_SIGNATURE */
    "invalid transaction",                  /* MR_ERR_TX */
    "proof does not verify",                /* MR_ERR_PROOF */
    "MAC mismatch (wrong password or tampered file)", /* MR_ERR_MAC */
    "unsupported or unsafe KDF",            /* MR_ERR_KDF */
    "crypto library failure",               /* MR_ERR_CRYPTO */
    "invalid private key",                  /* MR_ERR_KEY */
    "I/O error",                            /* MR_ERR_IO */
    "usage error",                          /* MR_ERR_USAGE */
    "invalid JSON",                         /* MR_ERR_JSON */
    "unsafe file permissions",              /* MR_ERR_PERM */
    "not found",                            /* MR_ERR_NOTFOUND */
    "the node refused the request",         /* MR_ERR_RPC */
    "independent sources disagree",         /* MR_ERR_MISMATCH */
};

const char *mr_strerror(int code)
{
    size_t idx = (size_t)(-(long)code);

    if (code > 0 || idx >= sizeof(mr_errnames) / sizeof(mr_errnames[0]))
        return "unknown error";
    return mr_errnames[idx];
}

int mr_fail(struct mr_error *err, int code, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL)
        return code;
    err->code = code;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    return code;
}

void mr_error_clear(struct mr_error *err)
{
    if (err == NULL)
        return;
    err->code = MR_OK;
    err->msg[0] = '\0';
}

int mr_error_prefix(struct mr_error *err, int code, const char *fmt, ...)
{
    char old[MR_ERROR_MSG_LEN];
    char pre[MR_ERROR_MSG_LEN];
    va_list ap;

    if (err == NULL)
        return code;
    memcpy(old, err->msg, sizeof(old));
    va_start(ap, fmt);
    vsnprintf(pre, sizeof(pre), fmt, ap);
    va_end(ap);
    {
        /* pre + old, truncated to the buffer (explicit to keep the
         * truncation visible to the reader and to -Wformat-truncation). */
        size_t pl = strlen(pre), ol = strlen(old);
        if (pl > sizeof(err->msg) - 1)
            pl = sizeof(err->msg) - 1;
        if (ol > sizeof(err->msg) - 1 - pl)
            ol = sizeof(err->msg) - 1 - pl;
        memcpy(err->msg, pre, pl);
        memcpy(err->msg + pl, old, ol);
        err->msg[pl + ol] = '\0';
    }
    if (err->code == MR_OK)
        err->code = code;
    return err->code;
}

void mr_wipe(void *p, size_t len)
{
    if (p != NULL && len > 0)
        explicit_bzero(p, len);
}
