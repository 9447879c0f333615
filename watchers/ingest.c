/*
 * ingest.c - one block range: read the logs, check that they belong to the
 * chain that continues the cursor, decode them, validate declarations, and
 * write everything with the new cursor in one database transaction.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/db.h"
#include "eth/hex.h"
#include "watchers/watch_int.h"

/* Where a log came from, for the events we keep. */
enum role { ROLE_GATEWAY = 1, ROLE_ANCHOR };

struct pev {
    const struct eth_log *log;
    struct watch_event ev;
    enum role role;
    int pair;                  /* ROLE_GATEWAY: the pair; ROLE_ANCHOR: the first pair */
    int stored;                /* in the database already (a rescan) */
    int is_new;                /* inserted by this transaction */
    int known;                 /* its message has a messages row (touched by it) */
    int decl;                  /* index into the declarations, or -1 */
};

/* A declared stake or redeem and what validation said. */
struct decl {
    size_t ev;
    int exists;                /* already stored: validated when it was first seen */
    int accepted;
    int created;               /* its messages row was inserted now */
    struct watch_intent in;
    struct watch_stored_message sm;
    char why[MR_ERROR_MSG_LEN];
};

/* Everything one range carries between the phases: what was fetched (the
 * logs and headers, see fetch.c), the events and the declarations. */
struct range {
    struct watch_fetch f;
    struct pev *ev;
    size_t n_ev;
    struct decl *dl;
    size_t n_dl;
};

static void range_free(struct range *r)
{
    watch_fetch_free(&r->f);
    free(r->ev);
    free(r->dl);
}

/* ---- the range size ---- */

/* The chunk for the next range from what this one did.  The node's limit
 * on logs per answer is learned from its refusals (the most logs it did
 * answer with); the range then aims at min(target_logs, that limit) logs at
 * the density just seen, grows at most twofold per range, and stays below
 * the narrowest range the node refused. */
static void adapt_chunk(struct watcher *w, uint64_t span, size_t n,
                        const struct ethrpc_logs_stats *st)
{
    uint64_t max = w->cfg.max_range, next, dens;
    size_t target = w->cfg.target_logs;

    if (st->refused > 0 && st->most_logs > 0)
        w->log_cap = st->most_logs;
    if (w->log_cap > 0 && w->log_cap < target)
        target = w->log_cap;
    dens = n > 0 ? (uint64_t)((double)span * (double)target / (double)n) : UINT64_MAX;
    if (st->refused > 0 || n > target)
        next = dens;                              /* shrink to fit */
    else if (dens > w->chunk)
        next = dens > w->chunk * 2 ? w->chunk * 2 : dens; /* grow, at most twofold */
    else
        next = w->chunk;
    if (st->refused > 0 && st->narrowest_refused > 1 && next >= st->narrowest_refused)
        next = st->narrowest_refused - 1;
    if (next < 1)
        next = 1;
    if (next > max)
        next = max;
    if (next != w->chunk)
        watch_log(w, 3, "range size %llu -> %llu blocks (%zu logs in %llu blocks, %u refused)",
                  (unsigned long long)w->chunk, (unsigned long long)next, n,
                  (unsigned long long)span, st->refused);
    w->chunk = next;
}

/* Whether the range as read is one piece of the chain that continues the
 * cursor and did not change while it was read.  0: it moved (retry). */
static int range_consistent(struct watcher *w, const struct watch_fetch *r,
                            const struct watch_cursor *cur)
{
    const struct eth_block *first = watch_fetch_header(r, r->from);
    const struct eth_block *end = watch_fetch_header(r, r->to);

    if (r->moved || first == NULL || end == NULL || memcmp(end->hash, r->last.hash, 32) != 0) {
        watch_log(w, 2, "blocks %llu..%llu changed while read", (unsigned long long)r->from,
                  (unsigned long long)r->to);
        return 0;
    }
    if (cur->has && memcmp(first->parent_hash, cur->hash, 32) != 0) {
        watch_log(w, 2, "block %llu does not continue the cursor", (unsigned long long)r->from);
        return 0;
    }
    for (size_t i = 1; i < r->n_hdr; i++) {
        if (r->numbers[i] == r->numbers[i - 1] + 1 && r->found[i] && r->found[i - 1] &&
            memcmp(r->hdr[i].parent_hash, r->hdr[i - 1].hash, 32) != 0)
            return 0;
    }
    for (size_t i = 0; i < r->logs.n; i++) {
        const struct eth_log *l = &r->logs.v[i];
        const struct eth_block *b = watch_fetch_header(r, l->block_number);
        if (l->removed || b == NULL || memcmp(b->hash, l->block_hash, 32) != 0 ||
            l->block_number < r->from || l->block_number > r->to) {
            watch_log(w, 2, "a log of block %llu is not on the chain read",
                      (unsigned long long)l->block_number);
            return 0;
        }
        if (i > 0 && l->block_number == l[-1].block_number && l->log_index == l[-1].log_index)
            return 0; /* the same log twice: the node is confused */
    }
    return 1;
}

/* ---- decoding ---- */

static int kind_fits(const struct watch_kind_info *k, enum role role, int is_origin)
{
    if (role == ROLE_ANCHOR)
        return k->source == WATCH_FROM_ANCHOR;
    if (k->source == WATCH_FROM_BOTH)
        return 1;
    return k->source == (is_origin ? WATCH_FROM_GATEWAY : WATCH_FROM_COGATEWAY);
}

/* The role of a log's emitter for its event kind; 0 when it is none. */
static int classify(const struct watcher *w, const uint8_t addr[20],
                    const struct watch_kind_info *k, enum role *role, int *pair)
{
    for (size_t p = 0; p < w->cfg.n_pairs; p++) {
        const struct watcher_pair *wp = &w->cfg.pairs[p];
        if (memcmp(wp->gateway, addr, 20) == 0 && kind_fits(k, ROLE_GATEWAY, wp->is_origin)) {
            *role = ROLE_GATEWAY;
            *pair = (int)p;
            return 1;
        }
    }
    for (size_t p = 0; p < w->cfg.n_pairs; p++) {
        const struct watcher_pair *wp = &w->cfg.pairs[p];
        if (wp->has_anchor && memcmp(wp->anchor, addr, 20) == 0 &&
            kind_fits(k, ROLE_ANCHOR, wp->is_origin)) {
            *role = ROLE_ANCHOR;
            *pair = (int)p;
            return 1;
        }
    }
    return 0;
}

static int decode_all(struct watcher *w, struct range *r, struct mr_error *err)
{
    r->ev = calloc(r->f.logs.n + 1, sizeof(*r->ev));
    r->dl = calloc(r->f.logs.n + 1, sizeof(*r->dl));
    if (r->ev == NULL || r->dl == NULL)
        return mr_fail(err, MR_ERR_NOMEM, "events: out of memory");
    for (size_t i = 0; i < r->f.logs.n; i++) {
        const struct eth_log *l = &r->f.logs.v[i];
        struct pev *e = &r->ev[r->n_ev];
        struct mr_error derr;
        int rc = watch_decode_eth_log(l, &e->ev, &derr);
        if (rc == MR_ERR_NOTFOUND)
            continue;
        if (rc != MR_OK) {
            char tx[67];
            watch_hex(l->tx_hash, 32, tx);
            return mr_fail(err, rc, "chain %s block %llu tx %s log %llu: %s", w->cfg.chain_key,
                           (unsigned long long)l->block_number, tx,
                           (unsigned long long)l->log_index, derr.msg);
        }
        if (l->log_index > INT32_MAX || l->tx_index > INT32_MAX || l->block_number > INT64_MAX)
            return mr_fail(err, MR_ERR_RANGE, "chain %s block %llu: log position out of range",
                           w->cfg.chain_key, (unsigned long long)l->block_number);
        if (!classify(w, l->address, e->ev.info, &e->role, &e->pair)) {
            watch_log(w, 2, "%s from an address that does not emit it: ignored",
                      e->ev.info->name);
            continue;
        }
        e->log = l;
        e->decl = -1;
        if (e->ev.info->kind == WATCH_STAKE_INTENT_DECLARED ||
            e->ev.info->kind == WATCH_REDEEM_INTENT_DECLARED) {
            struct decl *d = &r->dl[r->n_dl];
            d->ev = r->n_ev;
            (void)watch_event_intent(&e->ev, &d->in, NULL);
            e->decl = (int)r->n_dl++;
        }
        r->n_ev++;
    }
    return MR_OK;
}

/* ---- validation of declarations ---- */

/* Marks the declarations whose events are stored already. */
static int mark_existing(struct watcher *w, struct range *r, struct mr_error *err)
{
    struct db_sbuf bh, li;
    const char *p[3];
    PGresult *res;

    if (r->n_dl == 0)
        return MR_OK;
    db_arr_begin(&bh);
    db_arr_begin(&li);
    for (size_t i = 0; i < r->n_dl; i++) {
        const struct eth_log *l = r->ev[r->dl[i].ev].log;
        db_arr_hex(&bh, l->block_hash, 32);
        db_arr_u64(&li, l->log_index);
    }
    db_arr_end(&bh);
    db_arr_end(&li);
    p[0] = w->cfg.chain_key;
    p[1] = bh.p;
    p[2] = li.p;
    if (bh.oom || li.oom) {
        db_sb_free(&bh);
        db_sb_free(&li);
        return mr_fail(err, MR_ERR_NOMEM, "declarations: out of memory");
    }
    res = watch_sql(w->db, "looking up stored declarations",
                    "SELECT encode(e.block_hash, 'hex'), e.log_index FROM " DB_SCHEMA ".events e"
                    " JOIN unnest($2::text[], $3::int[]) AS u(h, i)"
                    " ON e.block_hash = decode(u.h, 'hex') AND e.log_index = u.i"
                    " WHERE e.chain_key = $1",
                    3, p, PGRES_TUPLES_OK, err);
    db_sb_free(&bh);
    db_sb_free(&li);
    if (res == NULL)
        return MR_ERR_IO;
    for (int row = 0; row < PQntuples(res); row++) {
        uint8_t h[32];
        uint64_t idx = strtoull(PQgetvalue(res, row, 1), NULL, 10);
        if (watch_unhex(PQgetvalue(res, row, 0), h, 32) != MR_OK)
            continue;
        for (size_t i = 0; i < r->n_dl; i++) {
            const struct eth_log *l = r->ev[r->dl[i].ev].log;
            if (l->log_index == idx && memcmp(l->block_hash, h, 32) == 0)
                r->dl[i].exists = 1;
        }
    }
    PQclear(res);
    return MR_OK;
}

/* The value token of pair p: from the config, or gateway.token() once. */
static int value_token(struct watcher *w, int p, uint8_t out[20], struct mr_error *err)
{
    static const uint8_t sel[4] = {0xfc, 0x0c, 0x54, 0x6a}; /* token() */
    uint8_t *ret = NULL;
    size_t len = 0;
    int rc;

    if (w->cfg.pairs[p].has_value_token) {
        memcpy(out, w->cfg.pairs[p].value_token, 20);
        return MR_OK;
    }
    if (w->token_known[p]) {
        memcpy(out, w->token[p], 20);
        return MR_OK;
    }
    rc = ethrpc_call(w->rpc, NULL, w->cfg.pairs[p].gateway, sel, 4, "latest", &ret, &len, NULL,
                     err);
    if (rc != MR_OK)
        return mr_error_prefix(err, rc, "reading the value token of pair %s: ",
                               w->cfg.pairs[p].name);
    if (len != 32 || ret == NULL || memcmp(ret, "\0\0\0\0\0\0\0\0\0\0\0\0", 12) != 0) {
        free(ret);
        return mr_fail(err, MR_ERR_ABI, "pair %s: token() returned %zu bytes, not an address",
                       w->cfg.pairs[p].name, len);
    }
    memcpy(w->token[p], ret + 12, 20);
    w->token_known[p] = 1;
    memcpy(out, w->token[p], 20);
    free(ret);
    return MR_OK;
}

/* Validates one new declaration.  MR_OK with d->accepted or d->why set;
 * *moved when the chain changed under us; an error when the node could not
 * answer (the step is retried). */
static int validate(struct watcher *w, struct range *r, struct decl *d, int *moved,
                    struct mr_error *err)
{
    const struct pev *e = &r->ev[d->ev];
    const struct watcher_pair *wp = &w->cfg.pairs[e->pair];
    struct rpc_detail det;
    struct mr_error verr;
    char blk[ETHRPC_BLOCK_ID_LEN];
    uint8_t call[36], *ret = NULL, token[20];
    size_t len = 0;
    int rc;

    watch_messages_calldata(d->in.message_hash, call);
    rc = ethrpc_call(w->rpc, NULL, wp->gateway, call, sizeof(call),
                     ethrpc_block_id(e->log->block_number, blk), &ret, &len, &det, err);
    if (rc == MR_ERR_RPC && det.kind == RPC_KIND_REVERTED) {
        snprintf(d->why, sizeof(d->why), "messages() reverted at block %llu",
                 (unsigned long long)e->log->block_number);
        return MR_OK;
    }
    if (rc != MR_OK)
        return mr_error_prefix(err, rc, "reading messages() of a declaration: ");
    rc = watch_decode_stored_message(ret, len, &d->sm, &verr);
    free(ret);
    if (rc == MR_OK)
        rc = watch_check_intent(&d->in, &d->sm, wp->gateway, &verr);
    if (rc != MR_OK) {
        snprintf(d->why, sizeof(d->why), "%s", verr.msg);
        return MR_OK;
    }
    if (d->in.kind == MOSAIC_STAKE) {
        struct eth_receipt rcpt;
        rc = ethrpc_get_receipt(w->rpc, e->log->tx_hash, &rcpt, NULL, err);
        if (rc == MR_ERR_NOTFOUND) {
            *moved = 1;
            return MR_OK;
        }
        if (rc != MR_OK) {
            ethrpc_receipt_free(&rcpt);
            return mr_error_prefix(err, rc, "reading the receipt of a stake: ");
        }
        if (memcmp(rcpt.block_hash, e->log->block_hash, 32) != 0)
            *moved = 1;
        else if (rcpt.status != 1)
            snprintf(d->why, sizeof(d->why), "the stake transaction failed (status 0)");
        else if ((rc = value_token(w, e->pair, token, err)) == MR_OK &&
                 watch_check_transfer(&rcpt.logs, token, d->in.sender, wp->gateway, &d->in.amount,
                                      &verr) != MR_OK)
            snprintf(d->why, sizeof(d->why), "%s", verr.msg);
        ethrpc_receipt_free(&rcpt);
        if (rc != MR_OK)
            return rc;
        if (*moved || d->why[0] != '\0')
            return MR_OK;
    }
    d->accepted = 1;
    return MR_OK;
}

/* ---- the transaction ---- */

#define HEADERS_SQL                                                                           \
    "INSERT INTO " DB_SCHEMA ".block_headers (chain_key, number, hash, parent_hash, state_root)" \
    " SELECT $1, u.n, decode(u.h, 'hex'), decode(u.p, 'hex'), decode(u.s, 'hex')"              \
    " FROM unnest($2::bigint[], $3::text[], $4::text[], $5::text[]) AS u(n, h, p, s)"           \
    " ON CONFLICT (chain_key, number) DO UPDATE SET hash = EXCLUDED.hash,"                      \
    " parent_hash = EXCLUDED.parent_hash, state_root = EXCLUDED.state_root, seen_at = now()"

/* The arrays of HEADERS_SQL ($2..$5) for the headers read with the range.
 * Returns 0, or -1 when out of memory (a[] freed either way by the
 * caller). */
static int headers_params(const struct range *r, struct db_sbuf a[4])
{
    int oom = 0;

    for (int k = 0; k < 4; k++)
        db_arr_begin(&a[k]);
    for (size_t i = 0; i < r->f.n_hdr; i++) {
        if (!r->f.found[i])
            continue;
        db_arr_u64(&a[0], r->f.hdr[i].number);
        db_arr_hex(&a[1], r->f.hdr[i].hash, 32);
        db_arr_hex(&a[2], r->f.hdr[i].parent_hash, 32);
        db_arr_hex(&a[3], r->f.hdr[i].state_root, 32);
    }
    for (int k = 0; k < 4; k++) {
        db_arr_end(&a[k]);
        oom |= a[k].oom;
    }
    return oom ? -1 : 0;
}

static struct pev *find_event(struct range *r, uint64_t block, uint64_t log_index)
{
    size_t lo = 0, hi = r->n_ev;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const struct eth_log *l = r->ev[mid].log;
        if (l->block_number == block && l->log_index == log_index)
            return &r->ev[mid];
        if (l->block_number < block || (l->block_number == block && l->log_index < log_index))
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* ---- the events: COPY in binary ---- */

static void put_be(struct db_sbuf *b, uint64_t v, size_t n)
{
    char x[8];

    for (size_t i = 0; i < n; i++)
        x[i] = (char)(uint8_t)(v >> (8 * (n - 1 - i)));
    db_sb_add(b, x, n);
}

/* One field of a binary COPY row: its length, then its bytes. */
static void put_field(struct db_sbuf *b, const void *p, size_t n)
{
    put_be(b, (uint32_t)n, 4);
    db_sb_add(b, p, n);
}

static void put_text(struct db_sbuf *b, const char *s)
{
    if (s == NULL)
        put_be(b, 0xffffffffu, 4); /* -1: NULL */
    else
        put_field(b, s, strlen(s));
}

/* Which events of the range are stored already (a rescan, or a retry after
 * the cursor moved): not inserted again.  Run inside the range's
 * transaction after the chain row was locked: every writer of a chain's
 * events holds that lock, so what it sees stays true until the commit (and
 * the unique index would refuse a duplicate anyway).  $1: the chain, $2:
 * the distinct block hashes of the events (stored_params). */
#define STORED_SQL                                                                            \
    "SELECT block_number, log_index, encode(block_hash, 'hex') FROM " DB_SCHEMA ".events"     \
    " WHERE chain_key = $1 AND block_hash = ANY (ARRAY(SELECT decode(x, 'hex')"                \
    " FROM unnest($2::text[]) AS x))"

/* Which messages of the range's events have messages rows (as the events
 * are written: before this range's own declarations).  $1: the distinct
 * message hashes (known_params). */
#define KNOWN_SQL                                                                             \
    "SELECT encode(message_hash, 'hex') FROM " DB_SCHEMA ".messages WHERE message_hash ="     \
    " ANY (ARRAY(SELECT decode(x, 'hex') FROM unnest($1::text[]) AS x))"

static void stored_params(const struct range *r, struct db_sbuf *bh)
{
    db_arr_begin(bh);
    for (size_t i = 0; i < r->n_ev; i++)
        if (i == 0 || memcmp(r->ev[i].log->block_hash, r->ev[i - 1].log->block_hash, 32) != 0)
            db_arr_hex(bh, r->ev[i].log->block_hash, 32);
    db_arr_end(bh);
}

static int hash_order(const void *a, const void *b)
{
    return memcmp(a, b, 32);
}

/* Returns the number of hashes in the array (0: no query needed), or -1
 * when out of memory. */
static long known_params(const struct range *r, struct db_sbuf *mh)
{
    uint8_t(*h)[32] = malloc((r->n_ev + 1) * 32);
    size_t n = 0, k = 0;

    db_arr_begin(mh);
    if (h == NULL)
        return -1;
    for (size_t i = 0; i < r->n_ev; i++)
        if (r->ev[i].ev.has_message_hash)
            memcpy(h[n++], r->ev[i].ev.message_hash, 32);
    qsort(h, n, 32, hash_order);
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && memcmp(h[i], h[i - 1], 32) == 0)
            continue;
        db_arr_hex(mh, h[i], 32);
        k++;
    }
    db_arr_end(mh);
    free(h);
    return mh->oom ? -1 : (long)k;
}

static int apply_stored(struct range *r, const PGresult *res, struct mr_error *err)
{
    int rc = db_check(res, PGRES_TUPLES_OK, "looking up stored events", err);

    for (int row = 0; rc == MR_OK && row < PQntuples(res); row++) {
        struct pev *e = find_event(r, strtoull(PQgetvalue(res, row, 0), NULL, 10),
                                   strtoull(PQgetvalue(res, row, 1), NULL, 10));
        uint8_t h[32];
        if (e != NULL && watch_unhex(PQgetvalue(res, row, 2), h, 32) == MR_OK &&
            memcmp(h, e->log->block_hash, 32) == 0)
            e->stored = 1;
    }
    return rc;
}

static int apply_known(struct range *r, const PGresult *res, struct mr_error *err)
{
    int rc = db_check(res, PGRES_TUPLES_OK, "looking up the messages of events", err);

    for (int row = 0; rc == MR_OK && row < PQntuples(res); row++) {
        uint8_t h[32];
        if (watch_unhex(PQgetvalue(res, row, 0), h, 32) != MR_OK)
            continue;
        for (size_t i = 0; i < r->n_ev; i++)
            if (r->ev[i].ev.has_message_hash && memcmp(r->ev[i].ev.message_hash, h, 32) == 0)
                r->ev[i].known = 1;
    }
    return rc;
}

#define EVENT_COLUMNS 11

/* The events not stored yet, with COPY ... FROM STDIN in binary (the
 * fastest way into a table: no text to parse, rows written in batches).
 * The rows go out in pieces as they are built, so that the server stores
 * the first while the next are built. */
static int write_events(struct watcher *w, struct range *r, size_t *inserted,
                        struct mr_error *err)
{
    static const char sig[11] = {'P', 'G', 'C', 'O', 'P', 'Y', '\n', '\377', '\r', '\n', '\0'};
    struct db_sbuf b;
    char fields[WATCH_FIELDS_MAX + 1];
    const char *fail = NULL;
    PGresult *res;
    size_t n = 0;
    int rc;

    *inserted = 0;
    for (size_t i = 0; i < r->n_ev; i++)
        n += !r->ev[i].stored;
    if (n == 0)
        return MR_OK;
    res = PQexec(w->db, "COPY " DB_SCHEMA ".events (chain_key, block_number, block_hash, tx_hash,"
                        " tx_index, log_index, address, kind, message_hash, fields, gateway_pair)"
                        " FROM STDIN (FORMAT binary)");
    rc = db_check(res, PGRES_COPY_IN, "storing events", err);
    PQclear(res);
    if (rc != MR_OK)
        return rc;
    db_sb_init(&b);
    db_sb_add(&b, sig, sizeof(sig));
    put_be(&b, 0, 4); /* flags */
    put_be(&b, 0, 4); /* header extension */
    for (size_t i = 0; fail == NULL && i < r->n_ev; i++) {
        const struct pev *e = &r->ev[i];
        const struct eth_log *l = e->log;
        size_t flen;
        if (e->stored)
            continue;
        fields[0] = 1; /* jsonb's binary form: a version byte, then the text */
        flen = watch_fields_json(&e->ev, fields + 1, sizeof(fields) - 1);
        if (flen == 0) {
            fail = "fields too long";
            break;
        }
        put_be(&b, EVENT_COLUMNS, 2);
        put_text(&b, w->cfg.chain_key);
        put_be(&b, 8, 4);
        put_be(&b, l->block_number, 8);
        put_field(&b, l->block_hash, 32);
        put_field(&b, l->tx_hash, 32);
        put_be(&b, 4, 4);
        put_be(&b, l->tx_index, 4);
        put_be(&b, 4, 4);
        put_be(&b, l->log_index, 4);
        put_field(&b, l->address, 20);
        put_text(&b, e->ev.info->name);
        if (e->ev.has_message_hash)
            put_field(&b, e->ev.message_hash, 32);
        else
            put_text(&b, NULL);
        put_field(&b, fields, flen + 1);
        put_text(&b, e->role == ROLE_GATEWAY ? w->cfg.pairs[e->pair].name : NULL);
        if (b.oom)
            fail = "out of memory";
        else if (b.n >= 65536 && PQputCopyData(w->db, b.p, (int)b.n) != 1)
            fail = "could not send the rows";
        else if (b.n >= 65536)
            b.n = 0;
    }
    if (fail == NULL) {
        put_be(&b, 0xffff, 2); /* the end */
        if (b.oom)
            fail = "out of memory";
        else if (PQputCopyData(w->db, b.p, (int)b.n) != 1)
            fail = "could not send the rows";
    }
    db_sb_free(&b);
    /* With a reason, the server abandons the COPY (and says so below). */
    if (PQputCopyEnd(w->db, fail) != 1)
        rc = mr_fail(err, MR_ERR_IO, "storing events: %s", PQerrorMessage(w->db));
    res = PQgetResult(w->db);
    if (rc == MR_OK && fail != NULL)
        rc = mr_fail(err, MR_ERR_IO, "storing events: %s", fail);
    if (rc == MR_OK)
        rc = db_check(res, PGRES_COMMAND_OK, "storing events", err);
    if (rc == MR_OK && strtoull(PQcmdTuples(res), NULL, 10) != n)
        rc = mr_fail(err, MR_ERR_IO, "storing events: %s rows stored of %zu", PQcmdTuples(res), n);
    PQclear(res);
    while ((res = PQgetResult(w->db)) != NULL)
        PQclear(res);
    if (rc != MR_OK)
        return rc;
    for (size_t i = 0; i < r->n_ev; i++)
        if (!r->ev[i].stored)
            r->ev[i].is_new = 1;
    *inserted = n;
    return MR_OK;
}

/* The messages row of an accepted declaration, and its secret from
 * pending_secrets (moved in the database; it never passes through here). */
static int write_message(struct watcher *w, const struct range *r, const struct decl *d,
                         int *created, struct mr_error *err)
{
    const struct pev *e = &r->ev[d->ev];
    const struct watcher_pair *wp = &w->cfg.pairs[e->pair];
    char mh[67], intent[67], sender[43], benef[43], hl[67], nonce[U256_DEC_MAX],
        amount[U256_DEC_MAX], gp[U256_DEC_MAX], gl[U256_DEC_MAX], blk[24];
    uint8_t ih[32];
    const char *p[14] = {mh + 2, d->in.kind == MOSAIC_STAKE ? "stake" : "redeem", wp->name,
                         w->cfg.chain_key, wp->remote_chain, intent + 2, sender + 2, nonce,
                         benef + 2, amount, gp, gl, hl + 2, blk};
    PGresult *res;

    mosaic_intent_hash(d->in.kind, &d->in.amount, d->in.beneficiary, wp->gateway, ih);
    watch_hex(d->in.message_hash, 32, mh);
    watch_hex(ih, 32, intent);
    watch_hex(d->in.sender, 20, sender);
    watch_hex(d->in.beneficiary, 20, benef);
    watch_hex(d->sm.hashlock, 32, hl);
    u256_to_dec(&d->in.nonce, nonce, sizeof(nonce));
    u256_to_dec(&d->in.amount, amount, sizeof(amount));
    u256_to_dec(&d->sm.gas_price, gp, sizeof(gp));
    u256_to_dec(&d->sm.gas_limit, gl, sizeof(gl));
    snprintf(blk, sizeof(blk), "%llu", (unsigned long long)e->log->block_number);
    res = watch_sql(
        w->db, "storing a declared message",
        "WITH ins AS (INSERT INTO " DB_SCHEMA ".messages (message_hash, flow, gateway_pair,"
        " source_chain, target_chain, intent_hash, sender, nonce, beneficiary, amount, gas_price,"
        " gas_limit, hashlock, source_status, target_status, state, declared_block)"
        " VALUES (decode($1, 'hex'), $2, $3, $4, $5, decode($6, 'hex'), decode($7, 'hex'), $8,"
        " decode($9, 'hex'), $10, $11, $12, decode($13, 'hex'), 1, 0, 'declared', $14)"
        " ON CONFLICT (message_hash) DO NOTHING RETURNING message_hash, hashlock),"
        " mv AS (DELETE FROM " DB_SCHEMA ".pending_secrets s USING ins"
        " WHERE s.hashlock = ins.hashlock RETURNING ins.message_hash, s.hashlock, s.secret),"
        " sec AS (INSERT INTO " DB_SCHEMA ".unlock_secrets (message_hash, hashlock, secret)"
        " SELECT message_hash, hashlock, secret FROM mv RETURNING 1)"
        " SELECT (SELECT count(*) FROM ins), (SELECT count(*) FROM sec)",
        14, p, PGRES_TUPLES_OK, err);
    if (res == NULL)
        return MR_ERR_IO;
    *created = atoi(PQgetvalue(res, 0, 0)) == 1;
    if (*created)
        watch_log(w, 2, "%s %s declared in block %s (pair %s)%s",
                  d->in.kind == MOSAIC_STAKE ? "stake" : "redeem", mh, blk, wp->name,
                  atoi(PQgetvalue(res, 0, 1)) == 1 ? ", secret known" : "");
    PQclear(res);
    return MR_OK;
}

static int write_refusal(struct watcher *w, const struct range *r, const struct decl *d,
                         struct mr_error *err)
{
    const struct pev *e = &r->ev[d->ev];
    char mh[67], tx[67], msg[512];

    watch_hex(d->in.message_hash, 32, mh);
    watch_hex(e->log->tx_hash, 32, tx);
    snprintf(msg, sizeof(msg), "%s in block %llu tx %s log %llu (pair %s) refused: %s",
             e->ev.info->name, (unsigned long long)e->log->block_number, tx,
             (unsigned long long)e->log->log_index, w->cfg.pairs[e->pair].name, d->why);
    watch_log(w, 1, "%s", msg);
    return watch_alert(w->db, "critical", w->cfg.chain_key, mh, msg, err);
}

/* anchors rows of the new StateRootAvailable events: one per pair that
 * uses the emitting Anchor (remote chain = that pair's other chain). */
static int write_anchors(struct watcher *w, const struct range *r, struct mr_error *err)
{
    struct db_sbuf a[4];
    const char *p[5];
    PGresult *res = NULL;
    size_t n = 0;
    int oom = 0;

    for (int k = 0; k < 4; k++)
        db_arr_begin(&a[k]);
    for (size_t i = 0; i < r->n_ev; i++) {
        const struct pev *e = &r->ev[i];
        struct u256 h;
        uint64_t height;
        if (!e->is_new || e->ev.info->kind != WATCH_STATE_ROOT_AVAILABLE)
            continue;
        watch_word_u256(&e->ev, 0, &h);
        if (u256_to_u64(&h, &height) != MR_OK || height == 0 || height > INT64_MAX) {
            watch_log(w, 1, "StateRootAvailable with block height out of range: no anchor row");
            continue;
        }
        for (size_t q = 0; q < w->cfg.n_pairs; q++) {
            const struct watcher_pair *wp = &w->cfg.pairs[q];
            if (!wp->has_anchor || memcmp(wp->anchor, e->log->address, 20) != 0)
                continue;
            db_arr_text(&a[0], wp->remote_chain);
            db_arr_u64(&a[1], height);
            db_arr_hex(&a[2], e->ev.words[1], 32);
            db_arr_hex(&a[3], e->log->tx_hash, 32);
            n++;
        }
    }
    p[0] = w->cfg.chain_key;
    for (int k = 0; k < 4; k++) {
        db_arr_end(&a[k]);
        oom |= a[k].oom;
        p[k + 1] = a[k].p;
    }
    if (n > 0 && !oom)
        res = watch_sql(w->db, "storing anchors",
                        "INSERT INTO " DB_SCHEMA ".anchors (chain_key, remote_chain, block_height,"
                        " state_root, tx_hash) SELECT $1, u.r, u.h, decode(u.s, 'hex'),"
                        " decode(u.t, 'hex') FROM unnest($2::text[], $3::bigint[], $4::text[],"
                        " $5::text[]) AS u(r, h, s, t) WHERE EXISTS (SELECT 1 FROM " DB_SCHEMA
                        ".chains c WHERE c.chain_key = u.r) ON CONFLICT DO NOTHING",
                        5, p, PGRES_COMMAND_OK, err);
    for (int k = 0; k < 4; k++)
        db_sb_free(&a[k]);
    if (oom)
        return mr_fail(err, MR_ERR_NOMEM, "anchors: out of memory");
    if (n == 0)
        return MR_OK;
    PQclear(res);
    return res != NULL ? MR_OK : MR_ERR_IO;
}

/* Statuses of the messages the new events are about, and their jobs. */
static int write_statuses(struct watcher *w, const struct range *r, struct mr_error *err)
{
    uint8_t(*h)[32] = calloc(r->n_ev + r->n_dl + 1, sizeof(*h));
    size_t n = 0;
    int rc;

    if (h == NULL)
        return mr_fail(err, MR_ERR_NOMEM, "statuses: out of memory");
    /* Only messages that exist: those of earlier declarations (known when
     * the events were inserted) and those declared in this range. */
    for (size_t i = 0; i < r->n_ev; i++)
        if (r->ev[i].is_new && r->ev[i].known)
            memcpy(h[n++], r->ev[i].ev.message_hash, 32);
    for (size_t i = 0; i < r->n_dl; i++)
        if (r->dl[i].created)
            memcpy(h[n++], r->dl[i].in.message_hash, 32);
    rc = n == 0 ? MR_OK : watch_update_messages(w->db, (const uint8_t(*)[32])h, n, 0, NULL, err);
    free(h);
    return rc;
}

static int write_cursor(struct watcher *w, const struct range *r, const struct watch_heads *hd,
                        struct mr_error *err)
{
    const struct eth_block *last = watch_fetch_header(&r->f, r->f.to);
    char to[24], hash[67], head[24], fin[24], keep[24];
    const char *p[6] = {w->cfg.chain_key, to, hash + 2, head, hd->h.has_finalized ? fin : NULL,
                        keep};
    uint64_t k = w->cfg.keep_headers;
    PGresult *res;

    snprintf(to, sizeof(to), "%llu", (unsigned long long)r->f.to);
    watch_hex(last->hash, 32, hash);
    snprintf(head, sizeof(head), "%llu", (unsigned long long)hd->h.head);
    snprintf(fin, sizeof(fin), "%llu", (unsigned long long)hd->h.finalized);
    snprintf(keep, sizeof(keep), "%llu", (unsigned long long)(r->f.to > k ? r->f.to - k : 0));
    res = watch_sql(w->db, "advancing the cursor",
                    "WITH c AS (UPDATE " DB_SCHEMA ".chains SET cursor_block = $2::bigint,"
                    " cursor_hash = decode($3, 'hex'), head_block = $4::bigint,"
                    " finalized_block = coalesce($5::bigint, finalized_block), updated_at = now()"
                    " WHERE chain_key = $1 RETURNING 1)"
                    " DELETE FROM " DB_SCHEMA ".block_headers WHERE chain_key = $1"
                    " AND number < $6::bigint",
                    6, p, PGRES_COMMAND_OK, err);
    if (res == NULL)
        return MR_ERR_IO;
    PQclear(res);
    w->written_head = (int64_t)hd->h.head;
    w->written_finalized = hd->h.has_finalized ? (int64_t)hd->h.finalized : -1;
    return MR_OK;
}

/* Prepared statements of the range's transaction (db_prepare ids, unique
 * in the program: db/queue.c uses 1..8, db/txstore.c 16..19). */
enum { PS_CURSOR = 24, PS_STORED, PS_KNOWN, PS_HEADERS };

/* The name to send sql by once it is prepared on the watcher's connection
 * (NULL: send the text). */
static const char *prepared(struct watcher *w, unsigned id, const char *name, const char *sql,
                            int nparams)
{
    struct mr_error e;

    return db_prepare(w->db, id, name, sql, nparams, &e) == 1 ? name : NULL;
}

/* The one transaction of a range.  *moved: the cursor changed under us. */
static int write_range(struct watcher *w, struct range *r, const struct watch_cursor *cur,
                       const struct watch_heads *hd, struct watcher_result *res, int *moved,
                       struct mr_error *err)
{
    struct watch_cursor now;
    struct db_sbuf hd_a[4], bh, mh;
    const char *hd_p[5], *bh_p[2], *mh_p[1], *ck_p[1] = {w->cfg.chain_key};
    struct db_step st[5];
    PGresult *pr[5];
    size_t ns = 0;
    long n_known = 0;
    int rc = MR_OK, at_stored = -1, at_known = -1;

    /* One round trip: the transaction, the chain row locked and the cursor
     * read, which events and messages are stored already, the headers. */
    memset(st, 0, sizeof(st));
    db_sb_init(&bh);
    db_sb_init(&mh);
    if (headers_params(r, hd_a) != 0 || (n_known = known_params(r, &mh)) < 0)
        rc = mr_fail(err, MR_ERR_NOMEM, "range: out of memory");
    if (rc == MR_OK && r->n_ev > 0) {
        stored_params(r, &bh);
        if (bh.oom)
            rc = mr_fail(err, MR_ERR_NOMEM, "range: out of memory");
    }
    if (rc == MR_OK) {
        st[ns++].sql = "BEGIN";
        st[ns].name = prepared(w, PS_CURSOR, "mr_watch_cursor", WATCH_CURSOR_SQL " FOR UPDATE", 1);
        st[ns].sql = WATCH_CURSOR_SQL " FOR UPDATE";
        st[ns].nparams = 1;
        st[ns++].params = ck_p;
        if (r->n_ev > 0) {
            bh_p[0] = w->cfg.chain_key;
            bh_p[1] = bh.p;
            at_stored = (int)ns;
            st[ns].name = prepared(w, PS_STORED, "mr_watch_stored", STORED_SQL, 2);
            st[ns].sql = STORED_SQL;
            st[ns].nparams = 2;
            st[ns++].params = bh_p;
        }
        if (n_known > 0) {
            mh_p[0] = mh.p;
            at_known = (int)ns;
            st[ns].name = prepared(w, PS_KNOWN, "mr_watch_known", KNOWN_SQL, 1);
            st[ns].sql = KNOWN_SQL;
            st[ns].nparams = 1;
            st[ns++].params = mh_p;
        }
        hd_p[0] = w->cfg.chain_key;
        for (int k = 0; k < 4; k++)
            hd_p[k + 1] = hd_a[k].p;
        st[ns].name = prepared(w, PS_HEADERS, "mr_watch_headers", HEADERS_SQL, 5);
        st[ns].sql = HEADERS_SQL;
        st[ns].nparams = 5;
        st[ns++].params = hd_p;
        rc = db_pipeline(w->db, st, ns, pr, err);
        if (rc == MR_OK) {
            rc = db_check(pr[0], PGRES_COMMAND_OK, "database", err);
            if (rc == MR_OK)
                rc = watch_cursor_from(pr[1], w->cfg.chain_key, &now, err);
            if (rc == MR_OK && at_stored >= 0)
                rc = apply_stored(r, pr[at_stored], err);
            if (rc == MR_OK && at_known >= 0)
                rc = apply_known(r, pr[at_known], err);
            if (rc == MR_OK)
                rc = db_check(pr[ns - 1], PGRES_COMMAND_OK, "storing block headers", err);
            for (size_t i = 0; i < ns; i++)
                PQclear(pr[i]);
        }
    }
    for (int k = 0; k < 4; k++)
        db_sb_free(&hd_a[k]);
    db_sb_free(&bh);
    db_sb_free(&mh);
    if (rc == MR_OK && (now.has != cur->has || (now.has && (now.block != cur->block ||
                                                            memcmp(now.hash, cur->hash, 32)))))
        *moved = 1;
    if (rc == MR_OK && !*moved)
        rc = write_events(w, r, &res->events_new, err);
    for (size_t i = 0; rc == MR_OK && !*moved && i < r->n_dl; i++) {
        const struct decl *d = &r->dl[i];
        int created = 0;
        if (!r->ev[d->ev].is_new)
            continue;
        if (d->accepted) {
            rc = write_message(w, r, d, &created, err);
            r->dl[i].created = created;
            res->messages_new += (size_t)created;
        } else {
            rc = write_refusal(w, r, d, err);
            res->refused++;
        }
    }
    if (rc == MR_OK && !*moved)
        rc = write_anchors(w, r, err);
    if (rc == MR_OK && !*moved)
        rc = write_statuses(w, r, err);
    if (rc == MR_OK && !*moved)
        rc = write_cursor(w, r, hd, err);
    if (rc == MR_OK && !*moved) {
        watch_hook(w, "tx_written");
        rc = db_exec(w->db, "COMMIT", err);
        if (rc == MR_OK)
            watch_hook(w, "committed");
        return rc;
    }
    PQclear(PQexec(w->db, "ROLLBACK"));
    return rc;
}

/* The range [from, to]: the prefetched one when it is that range, else
 * fetched now.  Out: *r->f. */
static int fetch(struct watcher *w, uint64_t from, uint64_t to, uint64_t safe, struct range *r,
                 struct mr_error *err)
{
    int rc;

    if (watch_prefetch_take(w, from, safe, &r->f))
        rc = r->f.rc == MR_OK ? MR_OK : mr_fail(err, r->f.rc, "%s", r->f.err.msg);
    else
        rc = watch_fetch_range(w->rpc, (const uint8_t(*)[20])w->addresses, w->n_addresses, from,
                               to, &r->f, err);
    if (rc == MR_OK && !r->f.moved)
        adapt_chunk(w, r->f.to - r->f.from + 1, r->f.logs.n, &r->f.st);
    return rc;
}

int watch_ingest(struct watcher *w, const struct watch_cursor *cur, const struct watch_heads *hd,
                 uint64_t from, uint64_t to, struct watcher_result *res, struct mr_error *err)
{
    struct range r;
    int rc, moved = 0;

    memset(&r, 0, sizeof(r));
    rc = fetch(w, from, to, hd->safe, &r, err);
    to = r.f.to;
    /* While this range is checked and written, the next one is fetched. */
    if (rc == MR_OK && !r.f.moved && to < hd->safe)
        watch_prefetch_start(w, to + 1, hd->safe - to > w->chunk ? to + w->chunk : hd->safe);
    if (rc == MR_OK && !range_consistent(w, &r.f, cur))
        moved = 1;
    if (rc == MR_OK && !moved)
        rc = decode_all(w, &r, err);
    if (rc == MR_OK && !moved)
        rc = mark_existing(w, &r, err);
    for (size_t i = 0; rc == MR_OK && !moved && i < r.n_dl; i++)
        if (!r.dl[i].exists)
            rc = validate(w, &r, &r.dl[i], &moved, err);
    if (rc == MR_OK && !moved) {
        watch_hook(w, "range_fetched");
        rc = write_range(w, &r, cur, hd, res, &moved, err);
    }
    if (rc != MR_OK || moved)
        watch_prefetch_stop(w);
    if (rc == MR_OK) {
        res->outcome = moved ? WATCHER_RETRY : WATCHER_PROGRESS;
        res->from = from;
        res->to = to;
        res->logs = r.f.logs.n;
        if (!moved) {
            res->has_cursor = 1;
            res->cursor = to;
        }
    }
    range_free(&r);
    return rc;
}
