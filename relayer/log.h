/*
 * log.h - structured logs: one line per event, JSON (for collectors) or
 * text (for a terminal), with a level, the component that speaks and the
 * identity of what it speaks of.
 *
 *   log_info("txm", LOG_ID(.job = 812, .chain = "aux", .nonce = 41, .has_nonce = 1),
 *            "sent %s", purpose);
 *
 * JSON:  {"time":"2024-05-01T12:00:00.123Z","level":"info","component":"txm",
 *         "msg":"sent confirmStakeIntent","job":812,"chain":"aux","nonce":41}
 * text:  2024-05-01T12:00:00.123Z info  txm job=812 chain=aux nonce=41: sent confirmStakeIntent
 *
 * Cost when off: the log_* macros compare the level with one relaxed atomic
 * load BEFORE anything else; the format arguments are not even evaluated.
 *
 * Each line is built in a fixed stack buffer (LOG_LINE_MAX bytes, a longer
 * message is cut and marked "...[truncated]") and written with one write(2),
 * so lines of concurrent threads never interleave (a pipe takes PIPE_BUF =
 * 4096 bytes atomically; O_APPEND files and the journal take whole writes).
 * No allocation, no lock.
 *
 * Hostile text is safe to log: in JSON every control character is escaped
 * and invalid UTF-8 becomes U+FFFD; in text, control characters and invalid
 * bytes become \xNN, so a node's error string cannot forge a line.
 *
 * SECRETS NEVER GO TO A LOG.  Private keys, keystore passwords, derived keys
 * and unlock secrets must not be passed to these functions in any form,
 * not even hashed or truncated.  This module deliberately has no call that
 * takes bytes to print (no "log this buffer as hex"); the identity fields
 * are public values (job ids, message hashes, chain keys, nonces,
 * transaction hashes).  Do not log endpoint URLs or database conninfo
 * either: hosted RPC URLs carry API keys and conninfo may carry a password;
 * name the chain (and the endpoint's index) instead.
 *
 * Not thread-safe: log_setup() (call it once at start, before threads).
 * Thread-safe: everything else.
 */
#ifndef MR_LOG_H
#define MR_LOG_H

#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>

#include "eth/error.h"

/* Levels, in config's numbering (log.level: error 0 .. debug 3). */
enum log_level { LOGL_ERROR = 0, LOGL_WARN = 1, LOGL_INFO = 2, LOGL_DEBUG = 3 };

/* Formats, in config's numbering (enum config_log_format). */
enum log_format { LOG_FORMAT_AUTO = 0, LOG_FORMAT_JSON = 1, LOG_FORMAT_TEXT = 2 };

/* Longest line written, newline included; a longer one is truncated. */
#define LOG_LINE_MAX 4096

/* What a line speaks of.  Every field is optional: 0 / NULL = absent (a
 * nonce needs has_nonce, since 0 is a nonce).  All borrowed for the call. */
struct log_id {
    int64_t job;               /* queue job id; 0 = none */
    const char *flow;          /* "stake", "redeem", "revert", "anchor" */
    const char *step;          /* e.g. "confirm", "progress" */
    const char *chain;         /* chain key from the config */
    const uint8_t *msg_hash;   /* 32 bytes, the Mosaic message hash */
    const uint8_t *tx_hash;    /* 32 bytes, a transaction hash */
    uint64_t nonce;            /* a signer's transaction nonce */
    int has_nonce;
};

/* A struct log_id built in place; usable as a macro argument (the commas
 * are inside its parentheses).  NULL where there is no identity. */
#define LOG_ID(...) (&(const struct log_id){__VA_ARGS__})

/* Sets the threshold (messages above `level` are dropped), the format and
 * the file descriptor lines go to (not closed by this module).  AUTO picks
 * text when fd is a terminal, JSON otherwise.  Before any call: info, auto,
 * stderr. */
void log_setup(enum log_level level, enum log_format format, int fd);

/* The current threshold. */
extern _Atomic int log_threshold_;

/* Whether a message at `level` would be written: for callers that must
 * compute something before logging. */
#define log_enabled(level) \
    ((int)(level) <= atomic_load_explicit(&log_threshold_, memory_order_relaxed))

/* Writes one line at `level` now (no level check: use the macros).
 * `component` is a short static name ("watcher", "flow", "txm", "queue",
 * "main"); `id` may be NULL. */
void log_write(enum log_level level, const char *component, const struct log_id *id,
               const char *fmt, ...) MR_PRINTF(4, 5);
void log_vwrite(enum log_level level, const char *component, const struct log_id *id,
                const char *fmt, va_list ap) MR_PRINTF(4, 0);

/* The logging calls: the level is checked before the arguments are even
 * evaluated. */
#define log_at(level, component, id, ...)                                      \
    do {                                                                       \
        if (log_enabled(level))                                                \
            log_write((level), (component), (id), __VA_ARGS__);                \
    } while (0)
#define log_error(component, id, ...) log_at(LOGL_ERROR, component, id, __VA_ARGS__)
#define log_warn(component, id, ...) log_at(LOGL_WARN, component, id, __VA_ARGS__)
#define log_info(component, id, ...) log_at(LOGL_INFO, component, id, __VA_ARGS__)
#define log_debug(component, id, ...) log_at(LOGL_DEBUG, component, id, __VA_ARGS__)

/* "error", "warn", "info", "debug" (static); "?" for anything else. */
const char *log_level_name(int level);

/* Parses a level name (as above, or "warning"); -1 when unknown. */
int log_level_parse(const char *name);

/* Formats one line into buf[cap] exactly as log_write would write it
 * (format AUTO counts as JSON), with `now_ms` milliseconds since the epoch
 * as its time.  Returns the length (newline included, no NUL counted; the
 * buffer is NUL-terminated when cap > length).  For tests and for the
 * daemon's crash reports; cap should be LOG_LINE_MAX. */
size_t log_format_line(char *buf, size_t cap, enum log_format format, int64_t now_ms,
                       enum log_level level, const char *component, const struct log_id *id,
                       const char *fmt, va_list ap) MR_PRINTF(8, 0);

#endif /* MR_LOG_H */
