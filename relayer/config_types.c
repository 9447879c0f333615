/*
 * config_types.c - one reader per configuration value type (see enum
 * cfg_type): syntax, bounds and where the value lands.  Messages never show
 * a value that may be secret (see cfg_echo) and never show URLs.
 */
#include "relayer/config_int.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "eth/address.h"
#include "eth/u256.h"

/* Scalars up to a path's length (plus slack to say "too long"). */
#define SCALAR_CAP (CONFIG_PATH_LEN + 1)

typedef int (*scalar_fn)(struct cfg_ctx *x, const struct cfg_field *f, const char *s, int line,
                         void *dst);

static void *at(void *base, size_t off)
{
    return (char *)base + off;
}

static void set_int(void *base, size_t off, int v)
{
    memcpy(at(base, off), &v, sizeof(v));
}

static int fail_expect(struct cfg_ctx *x, const struct cfg_field *f, int code, int line,
                       const char *what)
{
    char exp[200];

    return cfg_fail(x, code, line, "%s; expected %s", what, cfg_expected(f, exp, sizeof(exp)));
}

/* ---- text ---- */

static int rd_str(struct cfg_ctx *x, const struct cfg_field *f, const char *s, int line,
                  void *dst)
{
    size_t n = strlen(s);

    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return fail_expect(x, f, MR_ERR_INVALID, line, "holds a control character");
    if (n == 0 || n >= f->size)
        return fail_expect(x, f, MR_ERR_RANGE, line, n == 0 ? "empty" : "too long");
    memcpy(dst, s, n + 1);
    return MR_OK;
}

static int rd_name(struct cfg_ctx *x, const struct cfg_field *f, const char *s, int line,
                   void *dst)
{
    size_t n = strlen(s);
    int ok = n > 0 && n < CONFIG_KEY_LEN && s[0] >= 'a' && s[0] <= 'z';

    for (size_t i = 1; ok && i < n; i++)
        ok = (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_' ||
             s[i] == '-';
    if (!ok) {
        char what[96];
        snprintf(what, sizeof(what), "'%s' is not a valid name", cfg_echo(x, s));
        return fail_expect(x, f, MR_ERR_INVALID, line, what);
    }
    memcpy(dst, s, n + 1);
    return MR_OK;
}

static int rd_env(struct cfg_ctx *x, const struct cfg_field *f, const char *s, int line,
                  void *dst)
{
    size_t n = strlen(s);
    int ok = n > 0 && n < f->size;

    for (size_t i = 0; ok && i < n; i++)
        ok = (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') || s[i] == '_' ||
             (i > 0 && s[i] >= '0' && s[i] <= '9');
    if (!ok)
        return fail_expect(x, f, MR_ERR_INVALID, line, "not a variable name");
    if ((f->flags & CF_ENV_SET) && getenv(s) == NULL)
        return cfg_fail(x, MR_ERR_NOTFOUND, line, "environment variable %s is not set; expected "
                        "it set in the relayer's environment", s);
    memcpy(dst, s, n + 1);
    return MR_OK;
}

static int rd_enum(struct cfg_ctx *x, const struct cfg_field *f, const char *s, int line,
                   void *dst)
{
    char what[96];

    for (const struct cfg_enum *e = f->more; e->word != NULL; e++) {
        if (strcmp(e->word, s) == 0) {
            memcpy(dst, &e->value, sizeof(int));
            return MR_OK;
        }
    }
    snprintf(what, sizeof(what), "'%s' is not a known value", cfg_echo(x, s));
    return fail_expect(x, f, MR_ERR_INVALID, line, what);
}

static int rd_bool(struct cfg_ctx *x, const struct cfg_field *f, const char *s, int line,
                   void *dst)
{
    static const char *const yes[] = {"true", "True", "TRUE", "yes", "Yes", "on", NULL};
    static const char *const no[] = {"false", "False", "FALSE", "no", "No", "off", NULL};
    int v = -1;

    for (size_t i = 0; yes[i] != NULL; i++) {
        if (strcmp(s, yes[i]) == 0)
            v = 1;
        if (strcmp(s, no[i]) == 0)
            v = 0;
    }
    if (v < 0)
        return fail_expect(x, f, MR_ERR_INVALID, line, "not a boolean");
    memcpy(dst, &v, sizeof(v));
    return MR_OK;
}

/* ---- numbers ---- */

/* Decimal or 0x-hex, optional '-'.  -1: syntax; -2: beyond int64. */
static int parse_int(const char *s, int64_t *out)
{
    int neg = s[0] == '-', hex, base;
    const char *p = s + neg;
    uint64_t v = 0;

    hex = p[0] == '0' && (p[1] == 'x' || p[1] == 'X');
    p += hex ? 2 : 0;
    base = hex ? 16 : 10;
    if (*p == '\0')
        return -1;
    for (; *p != '\0'; p++) {
        int d = (*p >= '0' && *p <= '9') ? *p - '0'
                : (hex && *p >= 'a' && *p <= 'f') ? *p - 'a' + 10
                : (hex && *p >= 'A' && *p <= 'F') ? *p - 'A' + 10 : -1;
        if (d < 0)
            return -1;
        if (v > ((uint64_t)INT64_MAX - (uint64_t)d) / (uint64_t)base)
            return -2;
        v = v * (uint64_t)base + (uint64_t)d;
    }
    *out = neg ? -(int64_t)v : (int64_t)v;
    return 0;
}

static void store_int(void *dst, size_t size, int64_t v)
{
    if (size == 1) {
        uint8_t b = (uint8_t)v;
        memcpy(dst, &b, 1);
    } else if (size == sizeof(int)) {
        int i = (int)v;
        memcpy(dst, &i, sizeof(i));
    } else {
        memcpy(dst, &v, sizeof(v));
    }
}

static int rd_int(struct cfg_ctx *x, const struct cfg_field *f, const char *s, int line,
                  void *dst)
{
    int64_t v = 0;
    int r = parse_int(s, &v);
    char what[96];

    if (r == -1) {
        snprintf(what, sizeof(what), "'%s' is not a whole number", cfg_echo(x, s));
        return fail_expect(x, f, MR_ERR_INVALID, line, what);
    }
    if (r == -2 || v < f->min || v > f->max) {
        snprintf(what, sizeof(what), "%s is out of range", r == -2 ? "the number" : cfg_echo(x, s));
        return fail_expect(x, f, MR_ERR_RANGE, line, what);
    }
    store_int(dst, f->size, v);
    return MR_OK;
}

int cfg_parse_duration(const char *s, int64_t *ms)
{
    static const struct { const char *unit; int64_t ms; } units[] = {
        {"", 1000}, {"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}};
    size_t n = 0;
    int64_t v = 0;

    while (s[n] >= '0' && s[n] <= '9' && n < 12)
        v = v * 10 + (s[n++] - '0');
    if (n == 0 || (s[n] >= '0' && s[n] <= '9'))
        return MR_ERR_INVALID;
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (strcmp(s + n, units[i].unit) == 0) {
            *ms = v * units[i].ms;
            return MR_OK;
        }
    }
    return MR_ERR_INVALID;
}

void cfg_format_duration(int64_t ms, char *out, size_t cap)
{
    if (ms > 0 && ms % 3600000 == 0)
        snprintf(out, cap, "%" PRId64 "h", ms / 3600000);
    else if (ms > 0 && ms % 60000 == 0)
        snprintf(out, cap, "%" PRId64 "m", ms / 60000);
    else if (ms % 1000 == 0)
        snprintf(out, cap, "%" PRId64 "s", ms / 1000);
    else
        snprintf(out, cap, "%" PRId64 "ms", ms);
}

static int rd_duration(struct cfg_ctx *x, const struct cfg_field *f, const char *s, int line,
                       void *dst)
{
    int64_t ms = 0;

    if (cfg_parse_duration(s, &ms) != MR_OK)
        return fail_expect(x, f, MR_ERR_INVALID, line, "not a duration");
    if (ms < f->min || ms > f->max)
        return fail_expect(x, f, MR_ERR_RANGE, line, "out of range");
    memcpy(dst, &ms, sizeof(ms));
    return MR_OK;
}

/* Digits read on each side of an amount's decimal point (2^256 has 78). */
#define AMOUNT_DIGITS 100

/* Reads up to AMOUNT_DIGITS digits of s at *i into digits[*n].  Returns how
 * many there were, or -1 if more. */
static long take_digits(const char *s, size_t *i, char *digits, size_t *n)
{
    size_t start = *i;

    for (; s[*i] >= '0' && s[*i] <= '9'; (*i)++) {
        if (*i - start >= AMOUNT_DIGITS)
            return -1;
        digits[(*n)++] = s[*i];
    }
    return (long)(*i - start);
}

/* Splits "D[.D][eN]" into the digits (fraction's trailing zeros dropped)
 * and the power of ten they are to be multiplied by. */
static int split_amount(const char *s, char digits[2 * AMOUNT_DIGITS + 1], long *pow10)
{
    size_t n = 0, i = 0;
    long frac = 0, e = 0, k = take_digits(s, &i, digits, &n);

    if (k < 0)
        return MR_ERR_RANGE;
    if (k == 0)
        return MR_ERR_INVALID;
    if (s[i] == '.') {
        i++;
        if ((frac = take_digits(s, &i, digits, &n)) <= 0)
            return MR_ERR_INVALID;
        for (; frac > 0 && digits[n - 1] == '0'; frac--)
            n--;
    }
    if (s[i] == 'e' || s[i] == 'E') {
        size_t j = ++i;
        j += s[j] == '+';
        for (i = j; s[i] >= '0' && s[i] <= '9' && i - j < 4; i++)
            e = e * 10 + (s[i] - '0');
        if (i == j)
            return MR_ERR_INVALID;
    }
    digits[n] = '\0';
    *pow10 = e - frac;
    return s[i] == '\0' ? MR_OK : MR_ERR_INVALID;
}

int cfg_parse_amount(const char *s, unsigned scale, struct u256 *out)
{
    char digits[2 * AMOUNT_DIGITS + 1];
    long pow10 = 0;
    struct u256 v, ten;
    int rc = split_amount(s, digits, &pow10);

    if (rc != MR_OK)
        return rc;
    pow10 += (long)scale;
    if (u256_parse_dec(&v, digits, strlen(digits), 0, NULL) != MR_OK)
        return MR_ERR_RANGE;
    if (u256_is_zero(&v)) {
        *out = v;
        return MR_OK;
    }
    if (pow10 < 0)
        return MR_ERR_INVALID;
    u256_from_u64(&ten, 10);
    for (long i = 0; i < pow10; i++)
        if (u256_mul(&v, &v, &ten) != MR_OK)
            return MR_ERR_RANGE;
    *out = v;
    return MR_OK;
}

static int rd_amount(struct cfg_ctx *x, const struct cfg_field *f, const char *s, int line,
                     void *dst)
{
    struct u256 v;
    int rc = cfg_parse_amount(s, f->type == CT_GWEI ? 9 : 0, &v);

    if (rc == MR_ERR_RANGE)
        return fail_expect(x, f, rc, line, "larger than 2^256-1 wei");
    if (rc != MR_OK)
        return fail_expect(x, f, rc, line, "not a whole amount of wei");
    if ((f->flags & CF_NONZERO) && u256_is_zero(&v))
        return fail_expect(x, f, MR_ERR_RANGE, line, "zero");
    memcpy(dst, &v, sizeof(v));
    return MR_OK;
}

/* ---- addresses ---- */

static int parse_addr(struct cfg_ctx *x, const struct cfg_field *f, const char *s, int line,
                      uint8_t out[20])
{
    static const uint8_t zero[20];
    int rc;

    if (s[0] != '0' || (s[1] != 'x' && s[1] != 'X'))
        return fail_expect(x, f, MR_ERR_INVALID, line, "not an address (no 0x)");
    rc = address_parse(s, strlen(s), out, NULL);
    if (rc == MR_ERR_INVALID)
        return fail_expect(x, f, rc, line, "a mixed-case address whose EIP-55 checksum does not "
                           "match (a typo?)");
    if (rc != MR_OK)
        return fail_expect(x, f, MR_ERR_INVALID, line, "not an address");
    if (memcmp(out, zero, 20) == 0)
        return fail_expect(x, f, MR_ERR_INVALID, line, "the zero address");
    return MR_OK;
}

static int rd_addr(struct cfg_ctx *x, const struct cfg_field *f, const char *s, int line,
                   void *dst)
{
    return parse_addr(x, f, s, line, dst);
}

static int rd_addr_deploy(struct cfg_ctx *x, const struct cfg_field *f, const char *s, int line,
                          void *dst)
{
    if (strcmp(s, "deploy") == 0) {
        memset(dst, 0, 20);
        return MR_OK;
    }
    return parse_addr(x, f, s, line, dst);
}

/* ---- URLs, listen addresses, database ---- */

static int has_space(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s <= 0x20 || *s == 0x7f)
            return 1;
    return 0;
}

/* Checks "host[:port]" of length n (after any userinfo). */
static int host_port_ok(const char *h, size_t n, int need_port)
{
    const char *colon = NULL, *end = h + n;
    long port = 0;

    if (n > 0 && h[0] == '[') {
        const char *rb = memchr(h, ']', n);
        if (rb == NULL || rb == h + 1)
            return 0;
        colon = rb + 1 < end && rb[1] == ':' ? rb + 1 : NULL;
        if (colon == NULL && rb + 1 != end)
            return 0;
    } else {
        for (const char *p = h; p < end; p++)
            if (*p == ':')
                colon = p;
        if ((colon ? colon : end) == h)
            return need_port && colon == h;
    }
    if (colon == NULL)
        return !need_port;
    if (colon + 1 == end || end - colon > 6)
        return 0;
    for (const char *p = colon + 1; p < end; p++) {
        if (*p < '0' || *p > '9')
            return 0;
        port = port * 10 + (*p - '0');
    }
    return port >= 1 && port <= 65535;
}

static int url_ok(const char *s, const char *const schemes[2], char scheme[16])
{
    const char *sep = strstr(s, "://"), *auth, *end, *at;
    size_t n = sep ? (size_t)(sep - s) : 0;

    scheme[0] = '\0';
    if (sep == NULL || n == 0 || n >= 16)
        return 0;
    for (size_t i = 0; i < n; i++)
        scheme[i] = (char)(s[i] >= 'A' && s[i] <= 'Z' ? s[i] + 32 : s[i]);
    scheme[n] = '\0';
    if (strcmp(scheme, schemes[0]) != 0 && strcmp(scheme, schemes[1]) != 0)
        return -1;
    auth = sep + 3;
    end = auth + strcspn(auth, "/?#");
    at = memchr(auth, '@', (size_t)(end - auth));
    while (at != NULL && memchr(at + 1, '@', (size_t)(end - at - 1)) != NULL)
        at = memchr(at + 1, '@', (size_t)(end - at - 1));
    if (at != NULL)
        auth = at + 1;
    return end > auth && host_port_ok(auth, (size_t)(end - auth), 0);
}

static int rd_url(struct cfg_ctx *x, const struct cfg_field *f, const char *s, int line,
                  void *dst)
{
    static const char *const http[2] = {"http", "https"}, *const ws[2] = {"ws", "wss"};
    char scheme[16], what[80];
    int ok;

    if (strlen(s) >= CONFIG_URL_LEN)
        return fail_expect(x, f, MR_ERR_TOOBIG, line, "too long");
    if (has_space(s))
        return fail_expect(x, f, MR_ERR_INVALID, line, "holds a space or a control character");
    ok = url_ok(s, f->type == CT_WS_URL ? ws : http, scheme);
    if (ok == -1) {
        snprintf(what, sizeof(what), "scheme '%s' is not supported", cfg_echo(x, scheme));
        return fail_expect(x, f, MR_ERR_INVALID, line, what);
    }
    if (!ok)
        return fail_expect(x, f, MR_ERR_INVALID, line, "not a valid URL (scheme://host[:port])");
    memcpy(dst, s, strlen(s) + 1);
    return MR_OK;
}

static int rd_listen(struct cfg_ctx *x, const struct cfg_field *f, const char *s, int line,
                     void *dst)
{
    size_t n = strlen(s);

    if (n >= f->size || has_space(s) || strchr(s, ':') == NULL || !host_port_ok(s, n, 1))
        return fail_expect(x, f, MR_ERR_INVALID, line, "not a listen address");
    memcpy(dst, s, n + 1);
    return MR_OK;
}

/* A password in a libpq URI's userinfo or in a key=value "password=". */
static int db_url_has_password(const char *s)
{
    const char *sep = strstr(s, "://"), *p;

    if (sep != NULL) {
        const char *end = sep + 3 + strcspn(sep + 3, "/?#"), *at = memchr(sep + 3, '@',
                                                                        (size_t)(end - sep - 3));
        if (at != NULL && memchr(sep + 3, ':', (size_t)(at - sep - 3)) != NULL)
            return 1;
    }
    for (p = strstr(s, "password"); p != NULL; p = strstr(p + 1, "password")) {
        const char *q = p + 8;
        while (*q == ' ')
            q++;
        if (*q == '=' && (p == s || p[-1] == ' ' || p[-1] == '?' || p[-1] == '&'))
            return 1;
    }
    return 0;
}

static int rd_db_url(struct cfg_ctx *x, const struct cfg_field *f, const char *s, int line,
                     void *dst)
{
    size_t n = strlen(s);

    if (n == 0 || n >= f->size)
        return fail_expect(x, f, MR_ERR_INVALID, line, n ? "too long" : "empty");
    if (db_url_has_password(s))
        return cfg_fail(x, MR_ERR_INVALID, line, "holds a password (not shown); expected no "
                        "secret in the file: url_env: VAR naming a variable with the URL, or "
                        "the password in ~/.pgpass");
    memcpy(dst, s, n + 1);
    return MR_OK;
}

/* ---- paths ---- */

static int resolve(struct cfg_ctx *x, const struct cfg_field *f, const char *s, int line,
                   char *dst)
{
    int w;

    if (s[0] == '\0')
        return fail_expect(x, f, MR_ERR_INVALID, line, "empty");
    for (const char *p = s; *p != '\0'; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return fail_expect(x, f, MR_ERR_INVALID, line, "holds a control character");
    if (s[0] == '/')
        w = snprintf(dst, f->size, "%s", s);
    else
        w = snprintf(dst, f->size, "%s/%s", x->base_dir, s);
    if (w < 0 || (size_t)w >= f->size)
        return fail_expect(x, f, MR_ERR_TOOBIG, line, "the path is too long");
    return MR_OK;
}

static int rd_path(struct cfg_ctx *x, const struct cfg_field *f, const char *s, int line,
                   void *dst)
{
    return resolve(x, f, s, line, dst);
}

/* The file must exist, be regular, belong to us and be private. */
static int check_private(struct cfg_ctx *x, const struct cfg_field *f, const char *path,
                         int line)
{
    struct stat st;
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC), rc = MR_OK;
    char what[CONFIG_PATH_LEN + 64];

    if (fd < 0) {
        snprintf(what, sizeof(what), "%s: %s", path, strerror(errno));
        return fail_expect(x, f, MR_ERR_IO, line, what);
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(what, sizeof(what), "%s is not a regular file", path);
        rc = fail_expect(x, f, MR_ERR_IO, line, what);
    } else if ((st.st_mode & 077) != 0) {
        rc = cfg_fail(x, MR_ERR_PERM, line, "mode %04o lets group or others access it; expected "
                      "owner-only access: chmod 600 %s", (unsigned)(st.st_mode & 07777), path);
    } else if (st.st_uid != geteuid()) {
        rc = cfg_fail(x, MR_ERR_PERM, line, "owned by uid %u; expected a file of this user "
                      "(uid %u): chown it", (unsigned)st.st_uid, (unsigned)geteuid());
    }
    close(fd);
    return rc;
}

static int rd_secret_file(struct cfg_ctx *x, const struct cfg_field *f, const char *s, int line,
                          void *dst)
{
    int rc = resolve(x, f, s, line, dst);

    return rc != MR_OK ? rc : check_private(x, f, dst, line);
}

/* ---- references ---- */

static int rd_ref(struct cfg_ctx *x, const struct cfg_field *f, const char *s, int line,
                  void *dst)
{
    const struct config *c = x->c;
    int chain = f->type == CT_CHAIN_REF;
    int i = chain ? config_chain_index(c, s) : config_key_index(c, s);
    size_t n = chain ? c->n_chains : c->n_keys, w = 0;
    char names[120] = "";

    if (i >= 0) {
        memcpy(dst, &i, sizeof(i));
        return MR_OK;
    }
    for (size_t j = 0; j < n && w < sizeof(names); j++)
        w += (size_t)snprintf(names + w, sizeof(names) - w, "%s%s", j ? ", " : "",
                              chain ? c->chains[j].key : c->keys[j].name);
    return cfg_fail(x, MR_ERR_NOTFOUND, line, "unknown %s '%s'; expected one defined under %s: "
                    "%s", chain ? "chain" : "signing key", cfg_echo(x, s),
                    chain ? "chains" : "keys", n ? names : "(none)");
}

/* ---- the table of types ---- */

static const struct {
    scalar_fn scalar;   /* NULL: a container, read by node */
    const char *expect; /* NULL: composed in cfg_expected() */
} types[CT__COUNT] = {
    [CT_STR] = {rd_str, NULL},
    [CT_NAME] = {rd_name, "a name: a lower-case letter, then up to 31 of a-z, 0-9, _ and -"},
    [CT_INT] = {rd_int, NULL},
    [CT_BOOL] = {rd_bool, "true or false"},
    [CT_DURATION] = {rd_duration, NULL},
    [CT_WEI] = {rd_amount, "an amount of wei as a decimal string such as \"1000\" or \"1e18\""},
    [CT_GWEI] = {rd_amount, "an amount of gwei such as 500 or 1.5"},
    [CT_ADDR] = {rd_addr, "an address: 0x and 40 hex digits (EIP-55 checksum when mixed case), "
                          "not zero"},
    [CT_ADDR_DEPLOY] = {rd_addr_deploy, "deploy, or an address: 0x and 40 hex digits"},
    [CT_HTTP_URL] = {rd_url, "an http:// or https:// URL"},
    [CT_WS_URL] = {rd_url, "a ws:// or wss:// URL"},
    [CT_DB_URL] = {rd_db_url, "a libpq URI (postgresql://...) or key=value connection string"},
    [CT_LISTEN] = {rd_listen, "host:port, such as 127.0.0.1:9464"},
    [CT_PATH] = {rd_path, "a file path (relative to the config file's directory)"},
    [CT_SECRET_FILE] = {rd_secret_file, "a file only its owner can read (mode 0600)"},
    [CT_ENV] = {rd_env, "an environment variable name (letters, digits and _)"},
    [CT_ENUM] = {rd_enum, "one of "},
    [CT_FLAGS] = {NULL, "a list of "},
    [CT_CHAIN_REF] = {rd_ref, "a chain key defined under chains"},
    [CT_KEY_REF] = {rd_ref, "a key name defined under keys"},
    [CT_URLS] = {NULL, NULL},
    [CT_SECTION] = {NULL, "a mapping"},
    [CT_NAMED_MAP] = {NULL, "a mapping of names to settings"},
    [CT_LIST] = {NULL, "a list of mappings"},
};

static void append_words(const struct cfg_enum *e, char *buf, size_t cap, size_t w)
{
    for (size_t i = 0; e[i].word != NULL && w < cap; i++)
        w += (size_t)snprintf(buf + w, cap - w, "%s%s", i ? ", " : "", e[i].word);
}

const char *cfg_expected(const struct cfg_field *f, char *buf, size_t cap)
{
    char lo[24], hi[24];
    const char *t = f->expect != NULL ? f->expect : types[f->type].expect;

    cfg_format_duration(f->min, lo, sizeof(lo));
    cfg_format_duration(f->max, hi, sizeof(hi));
    if (f->expect == NULL && f->type == CT_DURATION) {
        snprintf(buf, cap, "a duration from %s to %s such as 250ms, 30s, 5m, 1h or seconds", lo,
                 hi);
    } else if (f->expect == NULL && f->type == CT_INT) {
        snprintf(buf, cap, "a whole number from %lld to %lld", (long long)f->min,
                 (long long)f->max);
    } else if (f->expect == NULL && f->type == CT_URLS) {
        snprintf(buf, cap, "a list of %lld to %lld http:// or https:// URLs", (long long)f->min,
                 (long long)f->max);
    } else if (f->expect == NULL && f->type == CT_STR) {
        snprintf(buf, cap, "text of 1 to %zu printable characters", f->size - 1);
    } else {
        snprintf(buf, cap, "%s", t);
    }
    if (f->expect == NULL && (f->type == CT_ENUM || f->type == CT_FLAGS))
        append_words(f->more, buf, cap, strlen(buf));
    return buf;
}

/* ---- containers ---- */

static const char *kind_name(const yaml_node_t *n)
{
    return n->type == YAML_MAPPING_NODE ? "a mapping"
           : n->type == YAML_SEQUENCE_NODE ? "a list" : "a single value";
}

static int wrong_kind(struct cfg_ctx *x, const struct cfg_field *f, const yaml_node_t *n)
{
    char what[48];

    snprintf(what, sizeof(what), "got %s", kind_name(n));
    return fail_expect(x, f, MR_ERR_INVALID, cfg_line(n), what);
}

/* Reads scalar node n with the type's reader. */
static int read_scalar(struct cfg_ctx *x, const struct cfg_field *f, yaml_node_t *n, void *dst)
{
    char *buf;
    int rc;

    if (n->type != YAML_SCALAR_NODE)
        return wrong_kind(x, f, n);
    if ((buf = malloc(SCALAR_CAP)) == NULL)
        return cfg_fail(x, MR_ERR_NOMEM, cfg_line(n), "out of memory; expected less");
    rc = cfg_scalar(x, n, buf, SCALAR_CAP);
    if (rc == MR_OK)
        rc = types[f->type].scalar(x, f, buf, cfg_line(n), dst);
    free(buf);
    return rc;
}

static int read_flags(struct cfg_ctx *x, const struct cfg_field *f, yaml_node_t *n, void *base)
{
    struct cfg_field one = *f;
    unsigned bits = 0;
    size_t i = 0;

    one.type = CT_ENUM;
    for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top;
         it++, i++) {
        yaml_node_t *v = yaml_document_get_node(x->doc, *it);
        size_t kl = cfg_push_index(x, i);
        int value = 0, rc = read_scalar(x, &one, v, &value);
        if (rc == MR_OK && (bits & (unsigned)value))
            rc = cfg_fail(x, MR_ERR_INVALID, cfg_line(v), "listed twice; expected each once");
        cfg_pop(x, kl);
        if (rc != MR_OK)
            return rc;
        bits |= (unsigned)value;
    }
    if ((int64_t)i < f->min)
        return fail_expect(x, f, MR_ERR_INVALID, cfg_line(n), "empty");
    memcpy(at(base, f->off), &bits, sizeof(bits));
    return MR_OK;
}

/* One URL of a list: read, and distinct from the ones before. */
static int read_url_item(struct cfg_ctx *x, const struct cfg_field *f, yaml_node_t *v,
                         char (*urls)[CONFIG_URL_LEN], size_t i)
{
    struct cfg_field one = *f;
    int rc;

    one.type = CT_HTTP_URL;
    one.expect = NULL;
    if ((rc = read_scalar(x, &one, v, urls[i])) != MR_OK)
        return rc;
    for (size_t j = 0; j < i; j++)
        if (strcmp(urls[j], urls[i]) == 0)
            return cfg_fail(x, MR_ERR_INVALID, cfg_line(v), "the same URL as item %zu; expected "
                            "distinct endpoints", j);
    return MR_OK;
}

static int read_urls(struct cfg_ctx *x, const struct cfg_field *f, yaml_node_t *n, void *base)
{
    char (*urls)[CONFIG_URL_LEN] = at(base, f->off);
    size_t count = 0;

    if (n->type == YAML_MAPPING_NODE)
        return wrong_kind(x, f, n);
    if (n->type == YAML_SCALAR_NODE) {
        int rc = read_url_item(x, f, n, urls, 0);
        if (rc != MR_OK)
            return rc;
        count = 1;
    } else {
        size_t total = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
        if ((int64_t)total < f->min || (int64_t)total > f->max)
            return fail_expect(x, f, MR_ERR_RANGE, cfg_line(n), total ? "too many" : "empty");
        for (; count < total; count++) {
            yaml_node_t *v = yaml_document_get_node(x->doc, n->data.sequence.items.start[count]);
            size_t kl = cfg_push_index(x, count);
            int rc = read_url_item(x, f, v, urls, count);
            cfg_pop(x, kl);
            if (rc != MR_OK)
                return rc;
        }
    }
    memcpy(at(base, f->aux_off), &count, sizeof(count));
    return MR_OK;
}

static int read_section(struct cfg_ctx *x, const struct cfg_field *f, yaml_node_t *n, int line,
                        void *base)
{
    int saved = x->defaults_only, rc;

    if (n == NULL) {
        x->defaults_only = 1;
        rc = cfg_section(x, f->more, NULL, line, base, 0);
        x->defaults_only = saved;
        return rc;
    }
    if (n->type != YAML_MAPPING_NODE)
        return wrong_kind(x, f, n);
    return cfg_section(x, f->more, n, cfg_line(n), base, 0);
}

/* "deploy" is stored as the zero address (which is refused otherwise)
 * and sets the flag at aux_off. */
static int read_addr_deploy(struct cfg_ctx *x, const struct cfg_field *f, yaml_node_t *n,
                            void *base)
{
    static const uint8_t zero[20];
    int rc = read_scalar(x, f, n, at(base, f->off));

    if (rc == MR_OK)
        set_int(base, f->aux_off, memcmp(at(base, f->off), zero, 20) == 0);
    return rc;
}

/* ---- absent keys ---- */

static int read_default(struct cfg_ctx *x, const struct cfg_field *f, int line, void *base)
{
    void *dst = at(base, f->off);

    switch (f->type) {
    case CT_SECTION:
        return read_section(x, f, NULL, line, base);
    case CT_CHAIN_REF:
    case CT_KEY_REF:
        set_int(base, f->off, -1);
        return MR_OK;
    case CT_FLAGS: {
        unsigned bits = 0;
        for (const struct cfg_enum *e = f->more; e->word != NULL; e++)
            if (f->def != NULL && strstr(f->def, e->word) != NULL)
                bits |= (unsigned)e->value;
        memcpy(dst, &bits, sizeof(bits));
        return MR_OK;
    }
    default:
        break;
    }
    if (f->def == NULL || types[f->type].scalar == NULL)
        return MR_OK;
    x->from_env = 0;
    if (f->type == CT_ADDR_DEPLOY)
        set_int(base, f->aux_off, strcmp(f->def, "deploy") == 0);
    return types[f->type].scalar(x, f, f->def, line, dst);
}

int cfg_field_read(struct cfg_ctx *x, const struct cfg_field *f, yaml_node_t *n, int line,
                   void *base)
{
    if (n != NULL && cfg_is_null(n))
        n = NULL;
    if (n == NULL && (f->flags & CF_REQUIRED) && !x->defaults_only) {
        char exp[200];
        return cfg_fail(x, MR_ERR_INVALID, line, "missing; expected %s",
                        cfg_expected(f, exp, sizeof(exp)));
    }
    if (n == NULL)
        return read_default(x, f, line, base);
    if (f->flags & CF_HAS)
        set_int(base, f->aux_off, 1);
    switch (f->type) {
    case CT_SECTION:
        return read_section(x, f, n, line, base);
    case CT_NAMED_MAP:
        return n->type == YAML_MAPPING_NODE ? cfg_read_named_map(x, f, n, base)
                                            : wrong_kind(x, f, n);
    case CT_LIST:
        return n->type == YAML_SEQUENCE_NODE ? cfg_read_list(x, f, n, base) : wrong_kind(x, f, n);
    case CT_FLAGS:
        return n->type == YAML_SEQUENCE_NODE ? read_flags(x, f, n, base) : wrong_kind(x, f, n);
    case CT_URLS:
        return read_urls(x, f, n, base);
    case CT_ADDR_DEPLOY:
        return read_addr_deploy(x, f, n, base);
    default:
        return read_scalar(x, f, n, at(base, f->off));
    }
}
