/*
 * error.h - the project's one error enum and the error-detail record.
 *
 * Every fallible function in the project returns an `int`: MR_OK (0) on
 * success or one of the negative MR_ERR_* codes below.  A function that can
 * say more also takes a `struct mr_error *` (which may be NULL) and fills it
 * with mr_fail(); the detail names the thing that failed ("rlp: list header at
 * offset 3 claims 33 bytes, 2 left").  Caller bugs (a NULL handle, a broken
 * invariant) are assertions, not error codes.
 *
 * This module is pure: no I/O, no globals, no allocation.
 */
#ifndef MR_ERROR_H
#define MR_ERROR_H

#include <stddef.h>

#if defined(__GNUC__) || defined(__clang__)
#define MR_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#define MR_WARN_UNUSED __attribute__((warn_unused_result))
#else
#define MR_PRINTF(fmt, args)
#define MR_WARN_UNUSED
#endif

enum mr_err {
    MR_OK = 0,
    MR_ERR_INVALID = -1,   /* malformed input (syntax, encoding, field) */
    MR_ERR_RANGE = -2,     /* a number out of range, an overflow */
    MR_ERR_TOOBIG = -3,    /* input or output exceeds a size cap */
    MR_ERR_NOMEM = -4,     /* allocation failed */
    MR_ERR_HEX = -5,       /* bad hex string */
    MR_ERR_RLP = -6,       /* bad or non-canonical RLP */
    MR_ERR_ABI = -7,       /* bad ABI type or encoding */
    MR_ERR_SIGNATURE = -8, /* bad signature, unrecoverable sender */
    MR_ERR_TX = -9,        /* transaction invalid by the protocol rules */
    MR_ERR_PROOF = -10,    /* a Merkle Patricia proof does not verify */
    MR_ERR_MAC = -11,      /* keystore MAC mismatch: wrong password or tampered */
    MR_ERR_KDF = -12,      /* keystore KDF unsupported or parameters hostile */
    MR_ERR_CRYPTO = -13,   /* a crypto library call failed */
    MR_ERR_KEY = -14,      /* a private key out of range */
    MR_ERR_IO = -15,       /* file or socket I/O */
    MR_ERR_USAGE = -16,    /* bad command-line usage */
    MR_ERR_JSON = -17,     /* bad JSON document */
    MR_ERR_PERM = -18,     /* unsafe file permissions */
    MR_ERR_NOTFOUND = -19, /* a thing looked up does not exist */
    MR_ERR_RPC = -20,      /* a JSON-RPC node refused the request (an error answer) */
    MR_ERR_MISMATCH = -21, /* independent sources disagree (e.g. two nodes on a block) */
    MR_ERR__LAST = -22
};

/* Length of the detail message kept in struct mr_error, NUL included. */
#define MR_ERROR_MSG_LEN 256

/* Detail of the last failure.  Owned by the caller, usually on the stack. */
struct mr_error {
    int code;                      /* one of enum mr_err */
    char msg[MR_ERROR_MSG_LEN];    /* "" or a one-line description */
};

/* Returns a static, human-readable name for `code` ("invalid RLP").  Never
 * NULL; unknown codes give "unknown error". */
const char *mr_strerror(int code);

/* Records `code` and the formatted message in `err` (if not NULL) and returns
 * `code`, so that callers write `return mr_fail(err, MR_ERR_RLP, "...")`.
 * The message is truncated to fit. */
int mr_fail(struct mr_error *err, int code, const char *fmt, ...) MR_PRINTF(3, 4);

/* Resets `err` (if not NULL) to MR_OK with an empty message. */
void mr_error_clear(struct mr_error *err);

/* Prefixes the message already in `err` with a formatted context ("account
 * proof: " + old message) and returns err->code.  `err` may be NULL, in which
 * case `code` is returned. */
int mr_error_prefix(struct mr_error *err, int code, const char *fmt, ...) MR_PRINTF(3, 4);

/* Wipes `len` bytes at `p` so that the compiler cannot elide it. */
void mr_wipe(void *p, size_t len);

#endif /* MR_ERROR_H */
