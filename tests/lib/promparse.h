/*
 * promparse.h - for tests of the metrics: a strict parser of the
 * Prometheus text exposition format 0.0.4 (every family has HELP and TYPE
 * before its samples and is not split; names and label names are valid;
 * label values use only the \\ \" \n escapes; no duplicate labels or
 * series; no timestamps; counters are not negative; histogram buckets are
 * cumulative, end with le="+Inf", then _sum and _count = the +Inf bucket),
 * and plain HTTP GETs with libcurl.
 */
#ifndef MR_PROMPARSE_H
#define MR_PROMPARSE_H

#include <stddef.h>

struct prom_sample {
    char key[256];             /* name{labels} exactly as written */
    char name[128];
    double value;
};

/* Every sample of one document, in order.  Free with prom_free. */
struct prom_scrape {
    struct prom_sample *v;
    size_t n, cap;
};

/* Parses text into *out.  Returns 0, or -1 with the reason in why[cap]
 * (why may be NULL) and nothing in *out. */
int prom_parse(const char *text, struct prom_scrape *out, char *why, size_t cap);
/* The same; a document that does not parse fails the current test. */
void prom_parse_or_fail(const char *text, struct prom_scrape *out);
/* The value of the series written exactly as `key` ("name{a=\"b\"}");
 * prom_val fails the test when it is absent, prom_val_or returns `absent`. */
double prom_val(const struct prom_scrape *s, const char *key);
double prom_val_or(const struct prom_scrape *s, const char *key, double absent);
int prom_has(const struct prom_scrape *s, const char *key);
void prom_free(struct prom_scrape *s);

/* GET url (POST of `post` when not NULL) without any proxy, 20 s at most.
 * Returns the HTTP status; *out gets the body (malloc'd, NUL-terminated),
 * ctype[ctcap] the Content-Type (ctype may be NULL).  A transport failure
 * fails the test. */
long tv_http_get(const char *url, const char *post, char **out, char *ctype, size_t ctcap);
/* The same GET, but a transport failure (nothing listening) returns 0
 * instead; else 1 with *code and *out. */
int tv_http_try(const char *url, long *code, char **out);

#endif /* MR_PROMPARSE_H */
