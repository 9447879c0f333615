/*
 * sqlbuf.h - growable strings and PostgreSQL array literals, the text
 * parameters of batched statements (unnest($1::text[], ...)).  Pure: no
 * connection, no I/O.  Used by the job queue and the watchers.
 */
#ifndef MR_DB_SQLBUF_H
#define MR_DB_SQLBUF_H

#include <stddef.h>
#include <stdint.h>

/* A growable, NUL-terminated string.  oom is sticky: after a failed
 * allocation every append does nothing and the caller reports it once.
 * Zero-initialised or db_sb_init'd; db_sb_free releases p. */
struct db_sbuf {
    char *p;
    size_t n, cap;
    int oom;
};
void db_sb_init(struct db_sbuf *b);
void db_sb_free(struct db_sbuf *b);
void db_sb_add(struct db_sbuf *b, const char *s, size_t len);
void db_sb_str(struct db_sbuf *b, const char *s);

/* Array literals: db_arr_begin (which initialises b), then elements
 * (separated by commas), then db_arr_end. */
void db_arr_begin(struct db_sbuf *b);
void db_arr_text(struct db_sbuf *b, const char *s);   /* NULL -> NULL; " and \ escaped */
void db_arr_hex(struct db_sbuf *b, const uint8_t *p, size_t n); /* hex without 0x */
void db_arr_u64(struct db_sbuf *b, uint64_t v);
void db_arr_i64(struct db_sbuf *b, int64_t v);
void db_arr_end(struct db_sbuf *b);

#endif /* MR_DB_SQLBUF_H */
