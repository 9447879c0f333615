/*
 * sqlbuf.c - growable strings and PostgreSQL array literals for batched
 * statements (see sqlbuf.h).
 */
#include "db/sqlbuf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void db_sb_init(struct db_sbuf *b)
{
    memset(b, 0, sizeof(*b));
}

void db_sb_free(struct db_sbuf *b)
{
    free(b->p);
    memset(b, 0, sizeof(*b));
}

void db_sb_add(struct db_sbuf *b, const char *s, size_t len)
{
    if (b->oom)
        return;
    if (b->n + len + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        char *np;
        while (cap < b->n + len + 1)
            cap *= 2;
        np = realloc(b->p, cap);
        if (np == NULL) {
            b->oom = 1;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, len);
    b->n += len;
    b->p[b->n] = '\0';
}

void db_sb_str(struct db_sbuf *b, const char *s)
{
    db_sb_add(b, s, strlen(s));
}

void db_arr_begin(struct db_sbuf *b)
{
    db_sb_init(b);
    db_sb_str(b, "{");
}

static void sep(struct db_sbuf *b)
{
    if (b->n > 1)
        db_sb_add(b, ",", 1);
}

void db_arr_text(struct db_sbuf *b, const char *s)
{
    const char *run;

    sep(b);
    if (s == NULL) {
        db_sb_str(b, "NULL");
        return;
    }
    db_sb_add(b, "\"", 1);
    for (run = s; *s != '\0'; s++) {
        if (*s == '"' || *s == '\\') {
            db_sb_add(b, run, (size_t)(s - run));
            db_sb_add(b, "\\", 1);
            run = s;
        }
    }
    db_sb_add(b, run, (size_t)(s - run));
    db_sb_add(b, "\"", 1);
}

void db_arr_hex(struct db_sbuf *b, const uint8_t *p, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    char tmp[128];

    sep(b);
    while (n > 0) {
        size_t k = n > sizeof(tmp) / 2 ? sizeof(tmp) / 2 : n;
        for (size_t i = 0; i < k; i++) {
            tmp[2 * i] = digits[p[i] >> 4];
            tmp[2 * i + 1] = digits[p[i] & 15];
        }
        db_sb_add(b, tmp, 2 * k);
        p += k;
        n -= k;
    }
}

void db_arr_u64(struct db_sbuf *b, uint64_t v)
{
    char num[24];

    sep(b);
    snprintf(num, sizeof(num), "%llu", (unsigned long long)v);
    db_sb_str(b, num);
}

void db_arr_i64(struct db_sbuf *b, int64_t v)
{
    char num[24];

    sep(b);
    snprintf(num, sizeof(num), "%lld", (long long)v);
    db_sb_str(b, num);
}

void db_arr_end(struct db_sbuf *b)
{
    db_sb_str(b, "}");
}
