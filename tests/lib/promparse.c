/*
 * promparse.c - a strict parser of the Prometheus text format 0.0.4 and
 * plain HTTP GETs for the tests (see promparse.h).
 */
#include "tests/lib/promparse.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "tests/lib/testlib.h"

/* The parser copies names and labels into fixed buffers on purpose. */
#pragma GCC diagnostic ignored "-Wformat-truncation"

/* ------------------------------------------------------------- parser -- */

static int name_ok(const char *s, size_t n, int metric)
{
    if (n == 0 || (!isalpha((unsigned char)s[0]) && s[0] != '_' && !(metric && s[0] == ':')))
        return 0;
    for (size_t i = 1; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '_' && !(metric && s[i] == ':'))
            return 0;
    return 1;
}

static int parse_value(const char *s, double *v)
{
    char *end;

    if (strcmp(s, "+Inf") == 0) {
        *v = INFINITY;
        return 1;
    }
    if (strcmp(s, "-Inf") == 0) {
        *v = -INFINITY;
        return 1;
    }
    if (strcmp(s, "NaN") == 0) {
        *v = NAN;
        return 1;
    }
    if (*s == 0 || isspace((unsigned char)*s))
        return 0;
    *v = strtod(s, &end);
    return *end == 0 && !isinf(*v) && !isnan(*v);
}

struct family_state {
    char name[128];
    char type[16];
    int help, typed;
};

/* The family a sample name belongs to (the histogram suffixes stripped). */
static int belongs(const char *sample, const struct family_state *f)
{
    size_t fl = strlen(f->name);

    if (strcmp(sample, f->name) == 0)
        return strcmp(f->type, "histogram") != 0;
    if (strcmp(f->type, "histogram") != 0 || strncmp(sample, f->name, fl) != 0)
        return 0;
    return strcmp(sample + fl, "_bucket") == 0 || strcmp(sample + fl, "_sum") == 0 ||
           strcmp(sample + fl, "_count") == 0;
}

/* Parses the labels at s ('{' ... '}'); checks names, escapes, duplicates.
 * Out: the value of `le` (if any) in le[64], the labels without le in
 * rest[].  Returns the length consumed, 0 on error. */
static size_t parse_labels(const char *s, char *le, char *rest, size_t restcap)
{
    const char *p = s + 1;
    char seen[8][64];
    int nseen = 0;
    size_t rl = 0;

    le[0] = 0;
    rest[0] = 0;
    if (*p == '}')
        return 0;              /* "{}" is legal but we never write it */
    for (;;) {
        const char *n0 = p;
        while (isalnum((unsigned char)*p) || *p == '_')
            p++;
        size_t nl = (size_t)(p - n0);
        if (!name_ok(n0, nl, 0) || nl >= 64 || p[0] != '=' || p[1] != '"')
            return 0;
        for (int i = 0; i < nseen; i++)
            if (strlen(seen[i]) == nl && strncmp(seen[i], n0, nl) == 0)
                return 0;      /* duplicate label */
        if (nseen == 8)
            return 0;
        memcpy(seen[nseen], n0, nl);
        seen[nseen++][nl] = 0;
        p += 2;
        char val[256];
        size_t vl = 0;
        while (*p != '"') {
            if (*p == 0 || *p == '\n' || vl + 1 >= sizeof val)
                return 0;
            if (*p == '\\') {
                p++;
                if (*p == 'n')
                    val[vl++] = '\n';
                else if (*p == '\\' || *p == '"')
                    val[vl++] = *p;
                else
                    return 0;  /* no other escape exists */
                p++;
            } else
                val[vl++] = *p++;
        }
        val[vl] = 0;
        p++;
        if (nl == 2 && strncmp(n0, "le", 2) == 0)
            snprintf(le, 64, "%s", val);
        else
            rl += (size_t)snprintf(rest + rl, restcap - rl, "%s%.*s=%s", rl ? "," : "", (int)nl,
                                   n0, val);
        if (*p == ',') {
            p++;
            continue;
        }
        if (*p != '}')
            return 0;
        return (size_t)(p + 1 - s);
    }
}

/* Histogram bookkeeping for one label set. */
struct hist {
    char family[128], labels[256];
    double last_le, last_cum, inf;
    int has_inf, has_sum, has_count;
    double count;
};

static char perr[512];
#define PFAIL(...)                                                             \
    do {                                                                       \
        snprintf(perr, sizeof perr, __VA_ARGS__);                              \
        free(out->v);                                                          \
        out->v = NULL;                                                         \
        return -1;                                                             \
    } while (0)

static int parse_(const char *text, struct prom_scrape *out)
{
    struct family_state fams[64];
    struct hist hs[256];
    int nf = 0, nh = 0;
    struct family_state *cur = NULL;
    const char *line = text;

    memset(out, 0, sizeof *out);
    if (strlen(text) == 0 || text[strlen(text) - 1] != '\n')
        PFAIL("does not end with a newline");
    while (*line) {
        const char *nl = strchr(line, '\n');
        char buf[1024];
        size_t len = (size_t)(nl - line);
        if (len >= sizeof buf)
            PFAIL("line too long");
        memcpy(buf, line, len);
        buf[len] = 0;
        line = nl + 1;
        if (len == 0)
            PFAIL("empty line");
        if (strncmp(buf, "# HELP ", 7) == 0 || strncmp(buf, "# TYPE ", 7) == 0) {
            const char *n0 = buf + 7, *sp = strchr(n0, ' ');
            if (sp == NULL || !name_ok(n0, (size_t)(sp - n0), 1))
                PFAIL("bad comment line: %s", buf);
            char name[128];
            snprintf(name, sizeof name, "%.*s", (int)(sp - n0), n0);
            struct family_state *f = NULL;
            for (int i = 0; i < nf; i++)
                if (strcmp(fams[i].name, name) == 0)
                    f = &fams[i];
            if (f == NULL) {
                assert_true(nf < 64);
                f = &fams[nf++];
                memset(f, 0, sizeof *f);
                snprintf(f->name, sizeof f->name, "%s", name);
            } else if (f != cur)
                PFAIL("family %s split in two", name);
            cur = f;
            if (buf[2] == 'H') {
                if (f->help || f->typed)
                    PFAIL("HELP of %s twice or after TYPE", name);
                f->help = 1;
                for (const char *q = sp + 1; *q; q++)  /* only \\ and \n escapes */
                    if (*q == '\\' && (q[1] != '\\' && q[1] != 'n'))
                        PFAIL("bad escape in HELP: %s", buf);
                    else if (*q == '\\')
                        q++;
            } else {
                if (f->typed)
                    PFAIL("TYPE of %s twice", name);
                f->typed = 1;
                snprintf(f->type, sizeof f->type, "%s", sp + 1);
                if (strcmp(f->type, "counter") && strcmp(f->type, "gauge") &&
                    strcmp(f->type, "histogram"))
                    PFAIL("unknown type: %s", buf);
            }
            continue;
        }
        if (buf[0] == '#')
            PFAIL("unexpected comment: %s", buf);
        /* a sample */
        size_t nlen = 0;
        while (buf[nlen] && buf[nlen] != '{' && buf[nlen] != ' ')
            nlen++;
        if (!name_ok(buf, nlen, 1))
            PFAIL("bad metric name: %s", buf);
        char name[128];
        snprintf(name, sizeof name, "%.*s", (int)nlen, buf);
        if (cur == NULL || !cur->typed || !belongs(name, cur))
            PFAIL("sample %s outside its family (current %s)", name, cur ? cur->name : "none");
        char le[64], labels[256];
        size_t ll = 0;
        le[0] = labels[0] = 0;
        if (buf[nlen] == '{') {
            ll = parse_labels(buf + nlen, le, labels, sizeof labels);
            if (ll == 0)
                PFAIL("bad labels: %s", buf);
        }
        if (buf[nlen + ll] != ' ')
            PFAIL("no value: %s", buf);
        double v;
        if (!parse_value(buf + nlen + ll + 1, &v))
            PFAIL("bad value (or a timestamp): %s", buf);
        size_t klen = nlen + ll;
        for (size_t i = 0; i < out->n; i++)
            if (strlen(out->v[i].key) == klen && strncmp(out->v[i].key, buf, klen) == 0)
                PFAIL("duplicate series: %s", buf);
        if (out->n == out->cap) {
            out->cap = out->cap ? out->cap * 2 : 256;
            out->v = realloc(out->v, out->cap * sizeof *out->v);
            assert_non_null(out->v);
        }
        struct prom_sample *s = &out->v[out->n++];
        snprintf(s->key, sizeof s->key, "%.*s", (int)klen, buf);
        snprintf(s->name, sizeof s->name, "%s", name);
        s->value = v;

        int is_bucket = strstr(name, "_bucket") && strcmp(cur->type, "histogram") == 0;
        if (!is_bucket && le[0])
            PFAIL("le outside a bucket: %s", buf);
        if (strcmp(cur->type, "counter") == 0 && !(v >= 0))
            PFAIL("negative counter: %s", buf);
        if (strcmp(cur->type, "histogram") != 0)
            continue;
        struct hist *h = NULL;
        for (int i = 0; i < nh; i++)
            if (strcmp(hs[i].family, cur->name) == 0 && strcmp(hs[i].labels, labels) == 0)
                h = &hs[i];
        if (h == NULL) {
            assert_true(nh < 256);
            h = &hs[nh++];
            memset(h, 0, sizeof *h);
            snprintf(h->family, sizeof h->family, "%s", cur->name);
            snprintf(h->labels, sizeof h->labels, "%s", labels);
            h->last_le = -INFINITY;
            if (!is_bucket)
                PFAIL("histogram %s starts without buckets", buf);
        }
        if (is_bucket) {
            double b;
            if (le[0] == 0 || !parse_value(le, &b) || isnan(b) || h->has_inf || h->has_sum)
                PFAIL("bad bucket: %s", buf);
            if (b <= h->last_le || v < h->last_cum)
                PFAIL("buckets not increasing / not cumulative: %s", buf);
            h->last_le = b;
            h->last_cum = v;
            if (isinf(b)) {
                h->has_inf = 1;
                h->inf = v;
            }
        } else if (strstr(name, "_sum")) {
            if (!h->has_inf || h->has_sum)
                PFAIL("_sum before +Inf or twice: %s", buf);
            h->has_sum = 1;
        } else {
            if (!h->has_sum || h->has_count)
                PFAIL("_count before _sum or twice: %s", buf);
            h->has_count = 1;
            h->count = v;
            if (v != h->inf)
                PFAIL("_count %g != +Inf bucket %g: %s", v, h->inf, buf);
        }
    }
    for (int i = 0; i < nf; i++)
        if (!fams[i].help || !fams[i].typed)
            PFAIL("family %s lacks HELP or TYPE", fams[i].name);
    for (int i = 0; i < nh; i++)
        if (!hs[i].has_count)
            PFAIL("histogram %s{%s} incomplete", hs[i].family, hs[i].labels);
    return 0;
}

int prom_parse(const char *text, struct prom_scrape *out, char *why, size_t cap)
{
    int rc = parse_(text, out);

    if (why != NULL && cap > 0)
        snprintf(why, cap, "%s", rc == 0 ? "" : perr);
    return rc;
}

void prom_parse_or_fail(const char *text, struct prom_scrape *out)
{
    if (parse_(text, out) != 0)
        fail_msg("bad exposition: %s", perr);
}

double prom_val(const struct prom_scrape *s, const char *key)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->v[i].key, key) == 0)
            return s->v[i].value;
    fail_msg("no series %s", key);
    return NAN;
}

double prom_val_or(const struct prom_scrape *s, const char *key, double absent)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->v[i].key, key) == 0)
            return s->v[i].value;
    return absent;
}

int prom_has(const struct prom_scrape *s, const char *key)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->v[i].key, key) == 0)
            return 1;
    return 0;
}

void prom_free(struct prom_scrape *s)
{
    free(s->v);
    memset(s, 0, sizeof(*s));
}

/* --------------------------------------------------------------- HTTP -- */

struct body {
    char *p;
    size_t n;
};

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *ud)
{
    struct body *b = ud;
    size_t n = size * nmemb;

    b->p = realloc(b->p, b->n + n + 1);
    assert_non_null(b->p);
    memcpy(b->p + b->n, ptr, n);
    b->n += n;
    b->p[b->n] = 0;
    return n;
}

long tv_http_get(const char *url, const char *post, char **out, char *ctype, size_t ctcap)
{
    CURL *c = curl_easy_init();
    struct body b = {calloc(1, 1), 0};
    long code = 0;
    char *ct = NULL;

    assert_non_null(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    if (post)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, post);
    CURLcode rc = curl_easy_perform(c);
    if (rc != CURLE_OK)
        fail_msg("%s: %s (%zu bytes)", url, curl_easy_strerror(rc), b.n);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct);
    if (ctype)
        snprintf(ctype, ctcap, "%s", ct ? ct : "");
    curl_easy_cleanup(c);
    *out = b.p;
    return code;
}

int tv_http_try(const char *url, long *code, char **out)
{
    CURL *c = curl_easy_init();
    struct body b = {calloc(1, 1), 0};
    CURLcode rc;

    assert_non_null(c);
    assert_non_null(b.p);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    rc = curl_easy_perform(c);
    *code = 0;
    if (rc == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, code);
    curl_easy_cleanup(c);
    if (rc != CURLE_OK) {
        free(b.p);
        *out = NULL;
        return 0;
    }
    *out = b.p;
    return 1;
}
