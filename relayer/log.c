/*
 * log.c - structured log lines (see log.h): built in a stack buffer,
 * escaped, written with one write(2).
 */
#include "relayer/log.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "relayer/config.h"

_Static_assert((int)LOG_FORMAT_AUTO == (int)CONFIG_LOG_AUTO &&
                   (int)LOG_FORMAT_JSON == (int)CONFIG_LOG_JSON &&
                   (int)LOG_FORMAT_TEXT == (int)CONFIG_LOG_TEXT,
               "log formats follow config's numbering");

_Atomic int log_threshold_ = LOGL_INFO;
static _Atomic int log_fd = STDERR_FILENO;
static _Atomic int log_fmt = LOG_FORMAT_AUTO;

/* Longest identity string (component, flow, step, chain) kept. */
#define FIELD_MAX 64
static const char TRUNC_MARK[] = "...[truncated]";

void log_setup(enum log_level level, enum log_format format, int fd)
{
    assert(level >= LOGL_ERROR && level <= LOGL_DEBUG && fd >= 0);
    if (format == LOG_FORMAT_AUTO)
        format = isatty(fd) ? LOG_FORMAT_TEXT : LOG_FORMAT_JSON;
    atomic_store(&log_fd, fd);
    atomic_store(&log_fmt, (int)format);
    atomic_store(&log_threshold_, (int)level);
}

static const char *const level_names[] = {"error", "warn", "info", "debug"};

const char *log_level_name(int level)
{
    return level >= LOGL_ERROR && level <= LOGL_DEBUG ? level_names[level] : "?";
}

int log_level_parse(const char *name)
{
    for (int i = LOGL_ERROR; i <= LOGL_DEBUG; i++)
        if (strcmp(name, level_names[i]) == 0)
            return i;
    return strcmp(name, "warning") == 0 ? LOGL_WARN : -1;
}

/* ---------------------------------------------------------------- buffer -- */

/* A line being built: appends never split a unit and stop at `lim`. */
struct lbuf {
    char *p;
    size_t len, lim;
    int cut;                   /* something did not fit */
};

static void put(struct lbuf *b, const char *s, size_t n)
{
    if (b->cut || n > b->lim - b->len) {
        b->cut = 1;
        return;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

static void puts_(struct lbuf *b, const char *s)
{
    put(b, s, strlen(s));
}

static void putf(struct lbuf *b, const char *fmt, ...) MR_PRINTF(2, 3);
static void putf(struct lbuf *b, const char *fmt, ...)
{
    char tmp[96];
    va_list ap;

    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0)
        put(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* Length of the well-formed UTF-8 sequence at s[0..n) (RFC 3629: no
 * overlong forms, no surrogates, nothing above U+10FFFF), or 0. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t len;
    unsigned lo = 0x80, hi = 0xbf;

    if (c >= 0xc2 && c <= 0xdf)
        len = 2;
    else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        if (c == 0xe0)
            lo = 0xa0;
        else if (c == 0xed)
            hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        if (c == 0xf0)
            lo = 0x90;
        else if (c == 0xf4)
            hi = 0x8f;
    } else
        return 0;
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (s[i] < 0x80 || s[i] > 0xbf)
            return 0;
    return len;
}

enum esc_mode { ESC_JSON, ESC_TEXT, ESC_TEXT_FIELD };

/* Appends s[0..n) escaped for the mode: JSON string contents, or text where
 * control characters (C0, DEL, C1) and invalid bytes become \xNN and a
 * backslash is doubled (in a text field, a space is \x20 too). */
static void put_escaped(struct lbuf *b, const char *str, size_t n, enum esc_mode mode)
{
    const unsigned char *s = (const unsigned char *)str;
    char e[16];

    for (size_t i = 0; i < n && !b->cut;) {
        unsigned c = s[i];
        if (c >= 0x80) {
            size_t len = utf8_len(s + i, n - i);
            /* U+0080..U+009F (C2 80..C2 9F) are C1 controls: CSI on a terminal */
            if (len > 0 && !(len == 2 && c == 0xc2 && s[i + 1] <= 0x9f)) {
                put(b, str + i, len);
                i += len;
                continue;
            }
            if (len == 2) {            /* a C1 control */
                if (mode == ESC_JSON)
                    snprintf(e, sizeof e, "\\u%04x", s[i + 1]);
                else
                    snprintf(e, sizeof e, "\\xc2\\x%02x", s[i + 1]);
                puts_(b, e);
                i += 2;
                continue;
            }
            if (mode == ESC_JSON)
                puts_(b, "\\ufffd");
            else {
                snprintf(e, sizeof e, "\\x%02x", c);
                puts_(b, e);
            }
            i++;
            continue;
        }
        if (c == '\\')
            puts_(b, "\\\\");
        else if (c == '"' && mode == ESC_JSON)
            puts_(b, "\\\"");
        else if (mode == ESC_JSON && (c == '\n' || c == '\t' || c == '\r'))
            puts_(b, c == '\n' ? "\\n" : c == '\t' ? "\\t" : "\\r");
        else if (c < 0x20 || c == 0x7f || (c == ' ' && mode == ESC_TEXT_FIELD)) {
            snprintf(e, sizeof e, mode == ESC_JSON ? "\\u%04x" : "\\x%02x", c);
            puts_(b, e);
        } else
            put(b, str + i, 1);
        i++;
    }
}

static size_t bounded_len(const char *s, size_t max)
{
    const char *z = memchr(s, 0, max);
    return z ? (size_t)(z - s) : max;
}

static void put_hash(struct lbuf *b, const uint8_t h[32])
{
    static const char digits[] = "0123456789abcdef";
    char x[66];

    x[0] = '0';
    x[1] = 'x';
    for (int i = 0; i < 32; i++) {
        x[2 + 2 * i] = digits[h[i] >> 4];
        x[3 + 2 * i] = digits[h[i] & 15];
    }
    put(b, x, sizeof x);
}

/* ----------------------------------------------------------------- lines -- */

static void put_time(struct lbuf *b, int64_t now_ms)
{
    time_t sec = (time_t)(now_ms / 1000);
    struct tm tm;

    if (gmtime_r(&sec, &tm) == NULL)
        memset(&tm, 0, sizeof tm);
    putf(b, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
         tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(now_ms % 1000));
}

/* One string field: JSON ,"key":"value" or text " key=value". */
static void put_sfield(struct lbuf *b, int json, const char *key, const char *v)
{
    if (v == NULL)
        return;
    putf(b, json ? ",\"%s\":\"" : " %s=", key);
    put_escaped(b, v, bounded_len(v, FIELD_MAX), json ? ESC_JSON : ESC_TEXT_FIELD);
    if (json)
        put(b, "\"", 1);
}

static void put_hfield(struct lbuf *b, int json, const char *key, const uint8_t *h)
{
    if (h == NULL)
        return;
    putf(b, json ? ",\"%s\":\"" : " %s=", key);
    put_hash(b, h);
    if (json)
        put(b, "\"", 1);
}

static void put_identity(struct lbuf *b, int json, const struct log_id *id)
{
    if (id == NULL)
        return;
    if (id->job != 0)
        putf(b, json ? ",\"job\":%" PRId64 : " job=%" PRId64, id->job);
    put_sfield(b, json, "flow", id->flow);
    put_sfield(b, json, "step", id->step);
    put_sfield(b, json, "chain", id->chain);
    put_hfield(b, json, json ? "message_hash" : "mh", id->msg_hash);
    if (id->has_nonce)
        putf(b, json ? ",\"nonce\":%" PRIu64 : " nonce=%" PRIu64, id->nonce);
    put_hfield(b, json, json ? "tx_hash" : "tx", id->tx_hash);
}

size_t log_format_line(char *buf, size_t cap, enum log_format format, int64_t now_ms,
                       enum log_level level, const char *component, const struct log_id *id,
                       const char *fmt, va_list ap)
{
    char msg[LOG_LINE_MAX];
    int json = format != LOG_FORMAT_TEXT;
    size_t tail = json ? 3 : 1;    /* "}\n" after the message's closing quote, or "\n" */
    struct lbuf b = {buf, 0, 0, 0};

    assert(cap >= 512);
    if (cap > LOG_LINE_MAX + 1)
        cap = LOG_LINE_MAX + 1;
    b.lim = cap - 1 - tail - (sizeof TRUNC_MARK - 1);

    int n = vsnprintf(msg, sizeof msg, fmt, ap);
    int msg_cut = n >= (int)sizeof msg;
    if (n < 0) {
        snprintf(msg, sizeof msg, "(unformattable message: %s)", fmt);
        n = (int)strlen(msg);
    } else if (msg_cut)
        n = (int)sizeof msg - 1;

    if (json) {
        puts_(&b, "{\"time\":\"");
        put_time(&b, now_ms);
        putf(&b, "\",\"level\":\"%s\",\"component\":\"", log_level_name((int)level));
        put_escaped(&b, component, bounded_len(component, FIELD_MAX), ESC_JSON);
        put(&b, "\"", 1);
        put_identity(&b, 1, id);
        puts_(&b, ",\"msg\":\"");
        put_escaped(&b, msg, (size_t)n, ESC_JSON);
    } else {
        char lv[8];
        const char *name = log_level_name((int)level);
        size_t i;
        for (i = 0; name[i] && i < sizeof lv - 1; i++)
            lv[i] = (char)(name[i] - ('a' - 'A'));
        lv[i] = 0;
        put_time(&b, now_ms);
        putf(&b, " %-5s ", lv);
        put_escaped(&b, component, bounded_len(component, FIELD_MAX), ESC_TEXT_FIELD);
        put_identity(&b, 0, id);
        puts_(&b, ": ");
        put_escaped(&b, msg, (size_t)n, ESC_TEXT);
    }
    b.lim = cap - 1;
    if (b.cut || msg_cut) {
        b.cut = 0;
        puts_(&b, TRUNC_MARK);
    }
    puts_(&b, json ? "\"}\n" : "\n");
    assert(!b.cut);
    buf[b.len] = 0;
    return b.len;
}

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void log_vwrite(enum log_level level, const char *component, const struct log_id *id,
                const char *fmt, va_list ap)
{
    char line[LOG_LINE_MAX + 1];
    int saved = errno;         /* a log call never changes errno */
    int fd = atomic_load_explicit(&log_fd, memory_order_relaxed);
    int format = atomic_load_explicit(&log_fmt, memory_order_relaxed);

    if (format == LOG_FORMAT_AUTO) {
        format = isatty(fd) ? LOG_FORMAT_TEXT : LOG_FORMAT_JSON;
        atomic_store_explicit(&log_fmt, format, memory_order_relaxed);
    }
    size_t len = log_format_line(line, sizeof line, (enum log_format)format, now_ms(), level,
                                 component, id, fmt, ap);
    /* One write; the loop only finishes a write cut short by a signal. */
    for (const char *p = line; len > 0;) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        p += w;
        len -= (size_t)w;
    }
    errno = saved;
}

void log_write(enum log_level level, const char *component, const struct log_id *id,
               const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    log_vwrite(level, component, id, fmt, ap);
    va_end(ap);
}
