/*
 * txstore.c - the transaction manager's records (see txstore.h).
 */
#include "db/txstore.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/alert.h"
#include "db/db.h"
#include "eth/hex.h"

/* Postgres text form of a bytea: "\x" + hex.  Caller frees. */
static char *bytea_text(const uint8_t *b, size_t n)
{
    static const char hx[] = "0123456789abcdef";
    char *s = malloc(2 * n + 3);

    if (s == NULL)
        return NULL;
    s[0] = '\\';
    s[1] = 'x';
    for (size_t i = 0; i < n; i++) {
        s[2 + 2 * i] = hx[b[i] >> 4];
        s[3 + 2 * i] = hx[b[i] & 15];
    }
    s[2 + 2 * n] = '\0';
    return s;
}

/* Parses "\x..." into out[cap]; returns the length or -1. */
static long bytea_parse(const char *s, uint8_t *out, size_t cap)
{
    size_t n;

    if (s[0] != '\\' || s[1] != 'x' || strlen(s + 2) % 2 != 0)
        return -1;
    n = strlen(s + 2) / 2;
    if (n > cap)
        return -1;
    for (size_t i = 0; i < n; i++) {
        int hi = hex_digit(s[2 + 2 * i]), lo = hex_digit(s[3 + 2 * i]);
        if (hi < 0 || lo < 0)
            return -1;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return (long)n;
}


/* ---- statement parameters ---- */

/* The text parameters of one statement, added in order ($1, $2, ...).
 * Numbers are formatted into the builder's own slots and byteas allocated
 * (freed by par_free, which may be called more than once); a failed
 * allocation is remembered, so a caller adds every parameter and then
 * checks once with par_check. */
#define PAR_MAX 16

struct par {
    const char *v[PAR_MAX];
    char num[PAR_MAX][U256_DEC_MAX];
    char *own[PAR_MAX];
    int n, nomem;
};

static void par_init(struct par *b)
{
    memset(b, 0, sizeof(*b));
}

static int par_next(struct par *b)
{
    assert(b->n < PAR_MAX);
    return b->n++;
}

/* A text parameter, borrowed (it must outlive the statement); NULL is SQL
 * NULL. */
static void par_text(struct par *b, const char *s)
{
    b->v[par_next(b)] = s;
}

/* Sets parameter i (already added) to a number. */
static void par_set_i64(struct par *b, int i, long long v)
{
    snprintf(b->num[i], sizeof(b->num[i]), "%lld", v);
    b->v[i] = b->num[i];
}

static void par_set_u64(struct par *b, int i, unsigned long long v)
{
    snprintf(b->num[i], sizeof(b->num[i]), "%llu", v);
    b->v[i] = b->num[i];
}

static void par_i64(struct par *b, long long v)
{
    par_set_i64(b, par_next(b), v);
}

static void par_u64(struct par *b, unsigned long long v)
{
    par_set_u64(b, par_next(b), v);
}

static void par_u256(struct par *b, const struct u256 *v)
{
    int i = par_next(b);

    u256_to_dec(v, b->num[i], sizeof(b->num[i]));
    b->v[i] = b->num[i];
}

/* A bytea parameter ("\x" + hex) of data[len]; data NULL is SQL NULL. */
static void par_bytea(struct par *b, const uint8_t *data, size_t len)
{
    int i = par_next(b);

    if (data == NULL)
        return;
    b->own[i] = bytea_text(data, len);
    b->v[i] = b->own[i];
    b->nomem |= b->own[i] == NULL;
}

/* A signing key's parameters: chain key, then the sender as a bytea. */
static void par_key(struct par *b, const char *chain_key, const uint8_t sender[20])
{
    par_text(b, chain_key);
    par_bytea(b, sender, 20);
}

static void par_free(struct par *b)
{
    for (int i = 0; i < b->n; i++) {
        free(b->own[i]);
        b->own[i] = NULL;
    }
}

/* MR_OK, or MR_ERR_NOMEM (the builder freed) when an allocation failed. */
static int par_check(struct par *b, struct mr_error *err)
{
    if (!b->nomem)
        return MR_OK;
    par_free(b);
    return mr_fail(err, MR_ERR_NOMEM, "out of memory");
}

/* Runs sql with the parameters of b. */
static PGresult *exec(PGconn *c, const char *sql, const struct par *b)
{
    return PQexecParams(c, sql, b->n, NULL, b->v, NULL, NULL, 0);
}

static void rollback(PGconn *c)
{
    PQclear(PQexec(c, "ROLLBACK"));
}

/* The nonce among an intent's parameters (intent_params). */
enum { PAR_NONCE = 2 };

/* Prepared statements of this file (db_exec_prepared ids, unique in the
 * program: db/queue.c uses 1..8). */
enum { PS_ALLOC = 16, PS_INTENT, PS_SIGNED, PS_SIGNED_AT };

static PGresult *pexec(PGconn *c, unsigned id, const char *name, const char *sql, int n,
                       const char *const *params)
{
    return db_exec_prepared(c, id, name, sql, n, params);
}

#define ALLOC_SQL                                                                             \
    "INSERT INTO " DB_SCHEMA ".signer_nonces AS k (chain_key, sender, next_nonce)"            \
    " VALUES ($1, $2::bytea, $3::bigint + 1) ON CONFLICT (chain_key, sender) DO UPDATE"       \
    " SET next_nonce = k.next_nonce + 1, updated_at = now()"                                  \
    " WHERE k.halted_reason IS NULL AND k.next_nonce >= $3::bigint"                           \
    " RETURNING k.next_nonce - 1"

/* The result of ALLOC_SQL (p: its parameters): the nonce, or why the key
 * was refused (the allocator row is locked then, and was not changed).
 * Does not clear res.  Out: *nonce. */
static int alloc_result(PGconn *conn, const struct txs_intent *in, const char *const *p,
                        uint64_t chain_nonce, const PGresult *res, int64_t *nonce,
                        struct mr_error *err)
{
    PGresult *why;
    int64_t next = -1;
    int rc = db_check(res, PGRES_TUPLES_OK, "allocating a nonce", err);

    if (rc != MR_OK)
        return rc;
    if (PQntuples(res) == 1) {
        *nonce = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
        return MR_OK;
    }
    why = PQexecParams(conn, "SELECT next_nonce, halted_reason FROM " DB_SCHEMA ".signer_nonces"
                             " WHERE chain_key = $1 AND sender = $2::bytea",
                       2, NULL, p, NULL, NULL, 0);
    rc = db_check(why, PGRES_TUPLES_OK, "allocating a nonce", err);
    if (rc == MR_OK && PQntuples(why) == 1) {
        next = strtoll(PQgetvalue(why, 0, 0), NULL, 10);
        if (!PQgetisnull(why, 0, 1))
            rc = mr_fail(err, MR_ERR_PERM, "chain %s: sending from this key is halted: %s",
                         in->chain_key, PQgetvalue(why, 0, 1));
    }
    PQclear(why);
    if (rc == MR_OK)
        rc = mr_fail(err, MR_ERR_PERM,
                     "chain %s: the key's nonce on chain (%llu) is ahead of ours (%lld): the key "
                     "was used by someone else; stop sending from it", in->chain_key,
                     (unsigned long long)chain_nonce, (long long)next);
    return rc;
}

/* Allocates the next nonce of (in->chain_key, in->sender) inside the open
 * transaction (ip: the intent's parameters; the first three, with $3 the
 * chain's nonce, are ALLOC_SQL's): one statement that seeds the allocator from chain_nonce the
 * first time, and otherwise moves it on only when the key is not halted and
 * the chain is not ahead of it (the row stays locked until the transaction
 * ends).  A refusal changes nothing.  Out: *nonce. */
static int allocate(PGconn *conn, const struct txs_intent *in, struct par *ip,
                    uint64_t chain_nonce, int64_t *nonce, struct mr_error *err)
{
    PGresult *res;
    int rc;

    par_set_u64(ip, PAR_NONCE, chain_nonce);
    res = pexec(conn, PS_ALLOC, "mr_txs_alloc", ALLOC_SQL, 3, ip->v);
    rc = alloc_result(conn, in, ip->v, chain_nonce, res, nonce, err);
    PQclear(res);
    return rc;
}

/* The parameters of an intent row, $1..$10 of the INSERT statements below
 * (chain_key, sender, nonce, job_id, purpose, to, calldata, value, gas,
 * is_create); the nonce ($3, PAR_NONCE) is SQL NULL until allocated. */
static int intent_params(const struct txs_intent *in, struct par *ip, struct mr_error *err)
{
    int rc;

    par_init(ip);
    if (!in->create && in->to == NULL)
        return mr_fail(err, MR_ERR_INVALID, "intent: a call needs a `to` address (or set create)");
    if (in->create && in->to != NULL)
        return mr_fail(err, MR_ERR_INVALID, "intent: a contract creation has no `to` address");
    par_key(ip, in->chain_key, in->sender);
    par_text(ip, NULL);
    if (in->job_id > 0)
        par_i64(ip, in->job_id);
    else
        par_text(ip, NULL);
    par_text(ip, in->purpose);
    par_bytea(ip, in->create ? NULL : in->to, 20);
    par_bytea(ip, in->calldata_len > 0 ? in->calldata : (const uint8_t *)"", in->calldata_len);
    par_u256(ip, &in->value);
    par_u64(ip, in->gas_limit);
    par_text(ip, in->create ? "true" : "false");
    rc = par_check(ip, err);
    return rc == MR_OK ? rc : mr_error_prefix(err, rc, "intent: ");
}

#define INTENT_COLUMNS                                                                        \
    "chain_key, sender, nonce, job_id, purpose, to_address, calldata, value, gas_limit, is_create"
#define INTENT_VALUES                                                                         \
    "$1, $2::bytea, $3::bigint, $4::bigint, $5, $6::bytea, $7::bytea, $8::numeric, $9::bigint," \
    " $10::boolean"

int txs_create_intent_in_tx(PGconn *conn, const struct txs_intent *in, uint64_t chain_nonce,
                            int64_t *id, uint64_t *nonce, struct mr_error *err)
{
    struct par ip;
    PGresult *res;
    int64_t next = -1;
    int rc = intent_params(in, &ip, err);

    if (rc != MR_OK)
        return rc;
    rc = allocate(conn, in, &ip, chain_nonce, &next, err);
    if (rc == MR_OK) {
        par_set_i64(&ip, PAR_NONCE, next);
        res = pexec(conn, PS_INTENT, "mr_txs_intent",
                    "INSERT INTO " DB_SCHEMA ".transactions (" INTENT_COLUMNS ") VALUES ("
                    INTENT_VALUES ") RETURNING id", ip.n, ip.v);
        rc = db_check(res, PGRES_TUPLES_OK, "recording the intent", err);
        if (rc == MR_OK) {
            *id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
            *nonce = (uint64_t)next;
        }
        PQclear(res);
    }
    par_free(&ip);
    return rc;
}

#define SIGNED_SQL                                                                            \
    "WITH t AS (INSERT INTO " DB_SCHEMA ".transactions (" INTENT_COLUMNS ", state)"            \
    " VALUES (" INTENT_VALUES ", 'signed') RETURNING id),"                                     \
    " a AS (INSERT INTO " DB_SCHEMA ".tx_attempts (tx_id, attempt, tx_hash, raw,"               \
    " max_fee, max_priority_fee) SELECT t.id, 1, $11::bytea, $12::bytea,"                      \
    " $13::numeric, $14::numeric FROM t RETURNING tx_id) SELECT tx_id FROM a"

int txs_create_signed(PGconn *conn, const struct txs_intent *in, uint64_t chain_nonce,
                      txs_sign_fn sign, void *arg, struct txs_signed *out, int64_t *id,
                      uint64_t *nonce, struct mr_error *err)
{
    struct par ip;
    PGresult *res[2] = {NULL, NULL};
    struct db_step st[2];
    int64_t next = -1;
    int rc = intent_params(in, &ip, err), pa = 0, ps = 0, open = 0;

    memset(out, 0, sizeof(*out));
    if (rc != MR_OK)
        return rc;
    if ((pa = db_prepare(conn, PS_ALLOC, "mr_txs_alloc", ALLOC_SQL, 3, err)) < 0 ||
        (ps = db_prepare(conn, PS_SIGNED, "mr_txs_signed", SIGNED_SQL, 14, err)) < 0) {
        par_free(&ip);
        return MR_ERR_IO;
    }
    /* One round trip: open the transaction and allocate the nonce. */
    par_set_u64(&ip, PAR_NONCE, chain_nonce);
    memset(st, 0, sizeof(st));
    st[0].sql = "BEGIN";
    st[1].sql = ALLOC_SQL;
    st[1].name = pa ? "mr_txs_alloc" : NULL;
    st[1].nparams = 3;
    st[1].params = ip.v;
    rc = db_pipeline(conn, st, 2, res, err);
    if (rc == MR_OK) {
        open = 1;
        rc = db_check(res[0], PGRES_COMMAND_OK, "database", err);
    }
    if (rc == MR_OK)
        rc = alloc_result(conn, in, ip.v, chain_nonce, res[1], &next, err);
    PQclear(res[0]);
    PQclear(res[1]);
    /* Signed while the allocator row is locked and nothing is committed. */
    if (rc == MR_OK)
        rc = sign(arg, (uint64_t)next, out, err);
    if (rc == MR_OK) {
        par_set_i64(&ip, PAR_NONCE, next);
        par_bytea(&ip, out->hash, 32);
        par_bytea(&ip, out->raw, out->raw_len);
        par_u256(&ip, &out->max_fee);
        par_u256(&ip, &out->tip);
        if ((rc = par_check(&ip, err)) != MR_OK)
            mr_error_prefix(err, rc, "attempt: ");
    }
    if (rc == MR_OK) {
        /* One round trip: the intent, already signed, with its first
         * attempt; and the commit. */
        memset(st, 0, sizeof(st));
        st[0].sql = SIGNED_SQL;
        st[0].name = ps ? "mr_txs_signed" : NULL;
        st[0].nparams = ip.n;
        st[0].params = ip.v;
        st[1].sql = "COMMIT";
        rc = db_pipeline(conn, st, 2, res, err);
        if (rc == MR_OK)
            rc = db_check(res[0], PGRES_TUPLES_OK, "recording the signed intent", err);
        if (rc == MR_OK && PQntuples(res[0]) != 1)
            rc = mr_fail(err, MR_ERR_IO, "recording the signed intent: no row");
        if (rc == MR_OK)
            *id = strtoll(PQgetvalue(res[0], 0, 0), NULL, 10);
        if (rc == MR_OK && (rc = db_check(res[1], PGRES_COMMAND_OK, "committing the signed intent",
                                          err)) == MR_OK)
            open = 0;
        PQclear(res[0]);
        PQclear(res[1]);
    }
    if (open)
        rollback(conn);
    if (rc == MR_OK)
        *nonce = (uint64_t)next;
    par_free(&ip);
    return rc;
}

/* SIGNED_SQL with the allocation folded in: only when `nonce` ($15) is the
 * allocator's next one, the key is not halted and the chain ($16) is not
 * ahead of it; otherwise nothing is changed and no row comes back. */
#define SIGNED_AT_SQL                                                                         \
    "WITH k AS (UPDATE " DB_SCHEMA ".signer_nonces SET next_nonce = next_nonce + 1,"          \
    " updated_at = now() WHERE chain_key = $1 AND sender = $2::bytea AND next_nonce ="          \
    " $15::bigint AND halted_reason IS NULL AND next_nonce >= $16::bigint RETURNING 1),"       \
    " t AS (INSERT INTO " DB_SCHEMA ".transactions (" INTENT_COLUMNS ", state)"                \
    " SELECT $1, $2::bytea, $3::bigint, $4::bigint, $5, $6::bytea, $7::bytea, $8::numeric,"     \
    " $9::bigint, $10::boolean, 'signed' FROM k RETURNING id),"                                \
    " a AS (INSERT INTO " DB_SCHEMA ".tx_attempts (tx_id, attempt, tx_hash, raw,"               \
    " max_fee, max_priority_fee) SELECT t.id, 1, $11::bytea, $12::bytea,"                      \
    " $13::numeric, $14::numeric FROM t RETURNING tx_id) SELECT tx_id FROM a"

int txs_create_signed_at(PGconn *conn, const struct txs_intent *in, uint64_t chain_nonce,
                         uint64_t nonce, const struct txs_signed *sig, int64_t *id,
                         struct mr_error *err)
{
    struct par ip;
    PGresult *res;
    int rc = intent_params(in, &ip, err);

    if (rc != MR_OK)
        return rc;
    if (nonce > INT64_MAX || chain_nonce > INT64_MAX) {
        par_free(&ip);
        return mr_fail(err, MR_ERR_RANGE, "intent: nonce out of range");
    }
    par_set_u64(&ip, PAR_NONCE, nonce);
    par_bytea(&ip, sig->hash, 32);
    par_bytea(&ip, sig->raw, sig->raw_len);
    par_u256(&ip, &sig->max_fee);
    par_u256(&ip, &sig->tip);
    par_u64(&ip, nonce);
    par_u64(&ip, chain_nonce);
    if ((rc = par_check(&ip, err)) != MR_OK)
        return mr_error_prefix(err, rc, "attempt: ");
    /* One statement in a transaction of its own: one round trip, one
     * synchronous commit. */
    res = pexec(conn, PS_SIGNED_AT, "mr_txs_signed_at", SIGNED_AT_SQL, ip.n, ip.v);
    rc = db_check(res, PGRES_TUPLES_OK, "recording the signed intent", err);
    if (rc == MR_OK && PQntuples(res) != 1)
        rc = mr_fail(err, MR_ERR_NOTFOUND, "intent: nonce %llu is not the next one",
                     (unsigned long long)nonce);
    if (rc == MR_OK)
        *id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    par_free(&ip);
    return rc;
}

int txs_create_intent(PGconn *conn, const struct txs_intent *in, uint64_t chain_nonce, int64_t *id,
                      uint64_t *nonce, struct mr_error *err)
{
    int rc = db_exec(conn, "BEGIN", err);

    if (rc != MR_OK)
        return rc;
    rc = txs_create_intent_in_tx(conn, in, chain_nonce, id, nonce, err);
    if (rc == MR_OK)
        rc = db_exec(conn, "COMMIT", err);
    else
        rollback(conn);
    return rc;
}

int txs_adopt_nonce(PGconn *conn, const char *chain_key, const uint8_t sender[20],
                    uint64_t chain_nonce, int *adopted, struct mr_error *err)
{
    struct par b;
    PGresult *res;
    int rc;

    par_init(&b);
    par_key(&b, chain_key, sender);
    par_u64(&b, chain_nonce);
    if ((rc = par_check(&b, err)) != MR_OK)
        return rc;
    res = exec(conn,
               "WITH busy AS (SELECT 1 FROM " DB_SCHEMA ".transactions WHERE chain_key = $1"
               " AND sender = $2::bytea AND state IN ('intent', 'signed', 'broadcast') LIMIT 1),"
               " up AS (INSERT INTO " DB_SCHEMA ".signer_nonces (chain_key, sender, next_nonce)"
               " SELECT $1, $2::bytea, $3::bigint WHERE NOT EXISTS (SELECT 1 FROM busy)"
               " ON CONFLICT (chain_key, sender) DO UPDATE SET next_nonce ="
               " greatest(" DB_SCHEMA ".signer_nonces.next_nonce, excluded.next_nonce),"
               " updated_at = now() RETURNING next_nonce) SELECT count(*) FROM up",
               &b);
    par_free(&b);
    rc = db_check(res, PGRES_TUPLES_OK, "adopting the chain's nonce", err);
    if (rc == MR_OK && adopted != NULL)
        *adopted = strcmp(PQgetvalue(res, 0, 0), "1") == 0;
    PQclear(res);
    return rc;
}

int txs_record_attempt(PGconn *conn, int64_t id, const uint8_t hash[32], const uint8_t *raw,
                       size_t raw_len, const struct u256 *max_fee, const struct u256 *tip,
                       int *attempt, struct mr_error *err)
{
    struct par b;
    PGresult *res;
    int rc;

    par_init(&b);
    par_i64(&b, id);
    par_bytea(&b, hash, 32);
    par_bytea(&b, raw, raw_len);
    par_u256(&b, max_fee);
    par_u256(&b, tip);
    if ((rc = par_check(&b, err)) != MR_OK)
        return mr_error_prefix(err, rc, "attempt: ");
    /* One statement: the state check, the attempt number and the insert
     * happen atomically (the row lock serializes concurrent signers). */
    res = exec(conn,
               "WITH t AS (UPDATE " DB_SCHEMA ".transactions SET state = 'signed', updated_at = now()"
               " WHERE id = $1::bigint AND state IN ('intent', 'signed', 'broadcast') RETURNING id),"
               " a AS (INSERT INTO " DB_SCHEMA ".tx_attempts (tx_id, attempt, tx_hash, raw, max_fee,"
               " max_priority_fee) SELECT t.id, (SELECT coalesce(max(attempt), 0) + 1 FROM "
               DB_SCHEMA ".tx_attempts WHERE tx_id = t.id), $2::bytea, $3::bytea, $4::numeric,"
               " $5::numeric FROM t RETURNING attempt) SELECT attempt FROM a",
               &b);
    rc = db_check(res, PGRES_TUPLES_OK, "recording a signed attempt", err);
    if (rc == MR_OK) {
        if (PQntuples(res) != 1)
            rc = mr_fail(err, MR_ERR_INVALID,
                         "transaction %lld cannot take a new signed attempt in its state",
                         (long long)id);
        else if (attempt != NULL)
            *attempt = atoi(PQgetvalue(res, 0, 0));
    }
    PQclear(res);
    par_free(&b);
    return rc;
}

/* Runs a one-row transition; MR_ERR_INVALID naming the current state when
 * the row is not in a state that allows it. */
static int transition(PGconn *conn, int64_t id, const char *what, const char *sql,
                      const struct par *b, struct mr_error *err)
{
    PGresult *res = exec(conn, sql, b);
    int rc = db_check(res, PGRES_COMMAND_OK, what, err);

    if (rc == MR_OK && strcmp(PQcmdTuples(res), "1") != 0) {
        char sql2[128];
        PQclear(res);
        snprintf(sql2, sizeof(sql2), "SELECT state FROM " DB_SCHEMA ".transactions WHERE id = %lld",
                 (long long)id);
        res = PQexec(conn, sql2);
        rc = mr_fail(err, MR_ERR_INVALID, "transaction %lld: cannot %s from state %s", (long long)id,
                     what, PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1
                               ? PQgetvalue(res, 0, 0) : "(no such transaction)");
    }
    PQclear(res);
    return rc;
}

/* A transition that records what the chain shows and can be learnt from it
 * again (broadcast, included, reorged, final): committed without waiting
 * for the WAL flush (synchronous_commit off for this transaction only).
 * If a crash loses it, the next poll finds the same again: the stored
 * bytes are sent again ("already known"), the receipt is read again.
 * Everything that must precede a broadcast stays synchronous. */
static int transition_async(PGconn *conn, int64_t id, const char *what, const char *sql,
                            const struct par *b, struct mr_error *err)
{
    int rc = db_exec(conn, "BEGIN", err);

    if (rc == MR_OK)
        rc = db_exec(conn, "SET LOCAL synchronous_commit TO off", err);
    if (rc == MR_OK)
        rc = transition(conn, id, what, sql, b, err);
    if (rc == MR_OK)
        return db_exec(conn, "COMMIT", err);
    rollback(conn);
    return rc;
}

/* ---- many transitions at once ---- */

/* A Postgres array literal being built: "{a,b,NULL}".  Sized up front. */
struct arr {
    char *p;
    size_t n, cap;
};

static int arr_init(struct arr *a, size_t elems, size_t each)
{
    a->cap = elems * (each + 1) + 3;
    a->p = malloc(a->cap);
    a->n = 0;
    if (a->p == NULL)
        return -1;
    a->p[a->n++] = '{';
    a->p[a->n] = '\0';
    return 0;
}

static void arr_sep(struct arr *a)
{
    if (a->n > 1)
        a->p[a->n++] = ',';
}

static void arr_int(struct arr *a, long long v)
{
    arr_sep(a);
    a->n += (size_t)snprintf(a->p + a->n, a->cap - a->n, "%lld", v);
}

/* Hex without a prefix (decode(x, 'hex') in SQL), or NULL when b is NULL. */
static void arr_hex(struct arr *a, const uint8_t *b, size_t len)
{
    static const char hx[] = "0123456789abcdef";

    arr_sep(a);
    if (b == NULL) {
        memcpy(a->p + a->n, "NULL", 4);
        a->n += 4;
    } else {
        for (size_t i = 0; i < len; i++) {
            a->p[a->n++] = hx[b[i] >> 4];
            a->p[a->n++] = hx[b[i] & 15];
        }
    }
    a->p[a->n] = '\0';
}

static void arr_end(struct arr *a)
{
    a->p[a->n++] = '}';
    a->p[a->n] = '\0';
}

static void arrs_free(struct arr *a, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(a[i].p);
}

/* Checks that each of want[n] (ids `stride` bytes apart) is among the ids
 * that a batched transition's RETURNING lists; else MR_ERR_INVALID in *bad
 * (if it is still MR_OK) naming the first that is not, with its state. */
static void check_moved(PGconn *conn, const char *what, const PGresult *res, const int64_t *want,
                        size_t n, size_t stride, int *bad, struct mr_error *err)
{
    for (size_t i = 0; *bad == MR_OK && i < n; i++) {
        int64_t id = *(const int64_t *)(const void *)((const char *)want + i * stride);
        int found = 0;
        for (int r = 0; !found && r < PQntuples(res); r++)
            found = strtoll(PQgetvalue(res, r, 0), NULL, 10) == id;
        if (!found) {
            char sql[128];
            PGresult *st;
            snprintf(sql, sizeof(sql), "SELECT state FROM " DB_SCHEMA ".transactions WHERE id = "
                     "%lld", (long long)id);
            st = PQexec(conn, sql);
            *bad = mr_fail(err, MR_ERR_INVALID, "transaction %lld: cannot %s from state %s",
                           (long long)id, what, PQresultStatus(st) == PGRES_TUPLES_OK &&
                           PQntuples(st) == 1 ? PQgetvalue(st, 0, 0) : "(no such transaction)");
            PQclear(st);
        }
    }
}

enum { MK_REORGED, MK_SENT, MK_INCLUDED, MK_FINAL, MK_N };

int txs_mark_many(PGconn *conn, const struct txs_marks *m, struct mr_error *err)
{
    static const char *const what[MK_N] = {"mark reorged", "mark broadcast", "mark included",
                                           "mark final"};
    struct arr a[12];
    const char *p[12];
    struct db_step st[MK_N + 3];
    PGresult *res[MK_N + 3];
    int at[MK_N];               /* the step of each kind, -1 if none */
    size_t ns = 0;
    int rc = MR_OK, bad = MR_OK;

    memset(a, 0, sizeof(a));
    memset(st, 0, sizeof(st));
    if (m->n_reorged + m->n_sent + m->n_included + m->n_final == 0)
        return MR_OK;
    if (arr_init(&a[0], m->n_reorged, 20) != 0 || arr_init(&a[1], m->n_sent, 20) != 0 ||
        arr_init(&a[2], m->n_sent, 11) != 0 || arr_init(&a[3], m->n_sent, 20) != 0 ||
        arr_init(&a[4], m->n_included, 20) != 0 || arr_init(&a[5], m->n_included, 20) != 0 ||
        arr_init(&a[6], m->n_included, 64) != 0 || arr_init(&a[7], m->n_included, 1) != 0 ||
        arr_init(&a[8], m->n_included, 20) != 0 || arr_init(&a[9], m->n_included, 64) != 0 ||
        arr_init(&a[10], m->n_included, 40) != 0 || arr_init(&a[11], m->n_final, 20) != 0) {
        arrs_free(a, 12);
        return mr_fail(err, MR_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < m->n_reorged; i++)
        arr_int(&a[0], m->reorged[i]);
    for (size_t i = 0; i < m->n_sent; i++) {
        arr_int(&a[1], m->sent[i].id);
        arr_int(&a[2], m->sent[i].attempt);
        arr_int(&a[3], m->sent[i].ago_ms > 0 ? m->sent[i].ago_ms : 0);
    }
    for (size_t i = 0; i < m->n_included; i++) {
        const struct txs_inclusion *in = &m->included[i];
        if (in->block > INT64_MAX || in->gas_used > INT64_MAX) {
            arrs_free(a, 12);
            return mr_fail(err, MR_ERR_RANGE, "transaction %lld: receipt numbers out of range",
                           (long long)in->id);
        }
        arr_int(&a[4], in->id);
        arr_int(&a[5], (long long)in->block);
        arr_hex(&a[6], in->block_hash, 32);
        arr_int(&a[7], in->status ? 1 : 0);
        arr_int(&a[8], (long long)in->gas_used);
        arr_hex(&a[9], in->has_tx_hash ? in->tx_hash : NULL, 32);
        arr_hex(&a[10], in->has_contract ? in->contract : NULL, 20);
    }
    for (size_t i = 0; i < m->n_final; i++)
        arr_int(&a[11], m->final[i]);
    for (int k = 0; k < 12; k++) {
        arr_end(&a[k]);
        p[k] = a[k].p;
    }
    /* One round trip: the transaction, committed without waiting for the
     * WAL flush (see transition_async), each kind of step, the commit. */
    st[ns++].sql = "BEGIN";
    st[ns++].sql = "SET LOCAL synchronous_commit TO off";
    for (int k = 0; k < MK_N; k++)
        at[k] = -1;
    if (m->n_reorged > 0) {
        at[MK_REORGED] = (int)ns;
        st[ns].sql = "UPDATE " DB_SCHEMA ".transactions SET state = 'broadcast',"
                     " included_block = NULL, included_block_hash = NULL, receipt_status = NULL,"
                     " gas_used = NULL, mined_tx_hash = NULL, contract_address = NULL,"
                     " updated_at = now() WHERE id = ANY($1::bigint[]) AND state = 'included'"
                     " RETURNING id";
        st[ns].nparams = 1;
        st[ns++].params = &p[0];
    }
    if (m->n_sent > 0) {
        at[MK_SENT] = (int)ns;
        st[ns].sql = "WITH s AS (SELECT * FROM unnest($1::bigint[], $2::int[], $3::bigint[])"
                     " AS u(id, attempt, ago)), a AS (UPDATE " DB_SCHEMA ".tx_attempts x"
                     " SET broadcast_at = coalesce(x.broadcast_at, now() - s.ago *"
                     " interval '1 millisecond') FROM s WHERE x.tx_id = s.id AND x.attempt ="
                     " s.attempt RETURNING x.tx_id) UPDATE " DB_SCHEMA ".transactions t SET"
                     " state = 'broadcast', updated_at = now() WHERE t.id IN (SELECT tx_id"
                     " FROM a) AND t.state IN ('signed', 'broadcast') RETURNING t.id";
        st[ns].nparams = 3;
        st[ns++].params = &p[1];
    }
    if (m->n_included > 0) {
        at[MK_INCLUDED] = (int)ns;
        st[ns].sql = "UPDATE " DB_SCHEMA ".transactions t SET state = 'included',"
                     " included_block = u.b, included_block_hash = decode(u.bh, 'hex'),"
                     " receipt_status = u.st, gas_used = u.g, mined_tx_hash = decode(u.th, 'hex'),"
                     " contract_address = decode(u.ca, 'hex'), updated_at = now()"
                     " FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::smallint[],"
                     " $5::bigint[], $6::text[], $7::text[]) AS u(id, b, bh, st, g, th, ca)"
                     " WHERE t.id = u.id AND t.state IN ('signed', 'broadcast') RETURNING t.id";
        st[ns].nparams = 7;
        st[ns++].params = &p[4];
    }
    if (m->n_final > 0) {
        at[MK_FINAL] = (int)ns;
        st[ns].sql = "UPDATE " DB_SCHEMA ".transactions SET state = 'final', updated_at = now()"
                     " WHERE id = ANY($1::bigint[]) AND state = 'included' RETURNING id";
        st[ns].nparams = 1;
        st[ns++].params = &p[11];
    }
    st[ns++].sql = "COMMIT";
    rc = db_pipeline(conn, st, ns, res, err);
    for (size_t i = 0; rc == MR_OK && i < ns; i++)
        rc = db_check(res[i], i < 2 || i == ns - 1 ? PGRES_COMMAND_OK : PGRES_TUPLES_OK,
                      i == 0 || i == ns - 1 ? "database" : "recording transitions", err);
    if (rc != MR_OK)
        rollback(conn); /* nothing was committed */
    for (int k = 0; rc == MR_OK && k < MK_N; k++) {
        static const size_t strides[MK_N] = {sizeof(int64_t), sizeof(struct txs_sent),
                                             sizeof(struct txs_inclusion), sizeof(int64_t)};
        const int64_t *want[MK_N] = {m->reorged, m->n_sent ? &m->sent[0].id : NULL,
                                     m->n_included ? &m->included[0].id : NULL, m->final};
        const size_t cnt[MK_N] = {m->n_reorged, m->n_sent, m->n_included, m->n_final};
        if (at[k] >= 0)
            check_moved(conn, what[k], res[at[k]], want[k], cnt[k], strides[k], &bad, err);
    }
    for (size_t i = 0; i < ns; i++)
        PQclear(res[i]);
    arrs_free(a, 12);
    return rc != MR_OK ? rc : bad;
}

int txs_mark_broadcast(PGconn *conn, int64_t id, int attempt, struct mr_error *err)
{
    struct par b;

    par_init(&b);
    par_i64(&b, id);
    par_i64(&b, attempt);
    return transition_async(conn, id, "mark broadcast",
                      "WITH a AS (UPDATE " DB_SCHEMA ".tx_attempts SET broadcast_at = coalesce("
                      "broadcast_at, now()) WHERE tx_id = $1::bigint AND attempt = $2::int RETURNING 1)"
                      " UPDATE " DB_SCHEMA ".transactions SET state = 'broadcast', updated_at = now()"
                      " WHERE id = $1::bigint AND state IN ('signed', 'broadcast')"
                      " AND EXISTS (SELECT 1 FROM a)", &b, err);
}

int txs_mark_included(PGconn *conn, int64_t id, uint64_t block, const uint8_t block_hash[32],
                      int status, uint64_t gas_used, const uint8_t *tx_hash,
                      const uint8_t *contract, struct mr_error *err)
{
    struct par b;
    int rc;

    par_init(&b);
    par_i64(&b, id);
    par_u64(&b, block);
    par_bytea(&b, block_hash, 32);
    par_i64(&b, status ? 1 : 0);
    par_u64(&b, gas_used);
    par_bytea(&b, tx_hash, 32);
    par_bytea(&b, contract, 20);
    if ((rc = par_check(&b, err)) != MR_OK)
        return rc;
    rc = transition_async(conn, id, "mark included",
                    "UPDATE " DB_SCHEMA ".transactions SET state = 'included', included_block ="
                    " $2::bigint, included_block_hash = $3::bytea, receipt_status = $4::smallint,"
                    " gas_used = $5::bigint, mined_tx_hash = $6::bytea, contract_address ="
                    " $7::bytea, updated_at = now() WHERE id = $1::bigint"
                    " AND state IN ('signed', 'broadcast')", &b, err);
    par_free(&b);
    return rc;
}

int txs_mark_reorged(PGconn *conn, int64_t id, struct mr_error *err)
{
    struct par b;

    par_init(&b);
    par_i64(&b, id);
    return transition_async(conn, id, "mark reorged",
                      "UPDATE " DB_SCHEMA ".transactions SET state = 'broadcast', included_block = NULL,"
                      " included_block_hash = NULL, receipt_status = NULL, gas_used = NULL,"
                      " mined_tx_hash = NULL, contract_address = NULL,"
                      " updated_at = now() WHERE id = $1::bigint AND state = 'included'", &b, err);
}

int txs_mark_final(PGconn *conn, int64_t id, struct mr_error *err)
{
    struct par b;

    par_init(&b);
    par_i64(&b, id);
    return transition_async(conn, id, "mark final",
                      "UPDATE " DB_SCHEMA ".transactions SET state = 'final', updated_at = now()"
                      " WHERE id = $1::bigint AND state = 'included'", &b, err);
}

static int mark_end(PGconn *conn, int64_t id, const char *state, const char *from, const char *why,
                    struct mr_error *err)
{
    char sql[320];
    struct par b;

    par_init(&b);
    par_i64(&b, id);
    par_text(&b, why != NULL ? why : state);
    snprintf(sql, sizeof(sql),
             "UPDATE " DB_SCHEMA ".transactions SET state = '%s', error = $2, updated_at = now()"
             " WHERE id = $1::bigint AND state IN (%s)", state, from);
    return transition(conn, id, state[0] == 'f' ? "mark failed" : "mark aborted", sql, &b, err);
}

int txs_mark_failed(PGconn *conn, int64_t id, const char *why, struct mr_error *err)
{
    return mark_end(conn, id, "failed", "'intent', 'signed', 'broadcast'", why, err);
}

int txs_mark_aborted(PGconn *conn, int64_t id, const char *why, struct mr_error *err)
{
    return mark_end(conn, id, "aborted", "'intent', 'signed'", why, err);
}

/* The concatenated hex of every attempt's hash (or "") into p->hashes. */
static int parse_hashes(const char *hex, struct txs_pending *p)
{
    size_t len = strlen(hex), n = len / 64;

    if (len % 64 != 0)
        return -1;
    p->n_hashes = 0;
    p->hashes = malloc(n ? n * 32 : 1);
    if (p->hashes == NULL)
        return -1;
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < 32; k++) {
            int hi = hex_digit(hex[64 * i + 2 * k]), lo = hex_digit(hex[64 * i + 2 * k + 1]);
            if (hi < 0 || lo < 0)
                return -1;
            p->hashes[i][k] = (uint8_t)(hi << 4 | lo);
        }
        p->n_hashes = i + 1;
    }
    return 0;
}

int txs_load_pending(PGconn *conn, const char *chain_key, const uint8_t sender[20],
                     struct txs_pending **list, size_t *n, struct mr_error *err)
{
    struct par b;
    PGresult *res;
    int rc;

    *list = NULL;
    *n = 0;
    par_init(&b);
    par_key(&b, chain_key, sender);
    if ((rc = par_check(&b, err)) != MR_OK)
        return rc;
    res = exec(conn,
               "SELECT t.id, t.nonce, t.state, coalesce(a.attempt, 0), a.tx_hash, a.raw,"
               " coalesce(a.max_fee, 0), coalesce(a.max_priority_fee, 0),"
               " coalesce((extract(epoch FROM now() - a.broadcast_at) * 1000)::bigint, -1),"
               " t.to_address, t.calldata, t.value, t.gas_limit, coalesce(t.included_block, 0),"
               " t.included_block_hash, (SELECT string_agg(encode(x.tx_hash, 'hex'), '' ORDER BY"
               " x.attempt) FROM " DB_SCHEMA ".tx_attempts x WHERE x.tx_id = t.id) FROM "
               DB_SCHEMA ".transactions t LEFT JOIN LATERAL (SELECT attempt, tx_hash, raw, max_fee,"
               " max_priority_fee, broadcast_at FROM "
               DB_SCHEMA ".tx_attempts WHERE tx_id = t.id ORDER BY attempt DESC LIMIT 1) a ON true"
               " WHERE t.chain_key = $1 AND t.sender = $2::bytea"
               " AND t.state IN ('intent', 'signed', 'broadcast', 'included') ORDER BY t.nonce",
               &b);
    par_free(&b);
    rc = db_check(res, PGRES_TUPLES_OK, "loading pending transactions", err);
    if (rc == MR_OK && PQntuples(res) > 0) {
        size_t rows = (size_t)PQntuples(res);
        struct txs_pending *l = calloc(rows, sizeof(*l));
        if (l == NULL) {
            PQclear(res);
            return mr_fail(err, MR_ERR_NOMEM, "out of memory");
        }
        for (size_t i = 0; i < rows; i++) {
            const char *raw = PQgetvalue(res, (int)i, 5);
            l[i].id = strtoll(PQgetvalue(res, (int)i, 0), NULL, 10);
            l[i].nonce = strtoull(PQgetvalue(res, (int)i, 1), NULL, 10);
            snprintf(l[i].state, sizeof(l[i].state), "%s", PQgetvalue(res, (int)i, 2));
            l[i].attempt = atoi(PQgetvalue(res, (int)i, 3));
            if (l[i].attempt > 0) {
                size_t cap = strlen(raw) / 2;
                long got = -1;
                l[i].raw = malloc(cap ? cap : 1);
                if (l[i].raw == NULL ||
                    bytea_parse(PQgetvalue(res, (int)i, 4), l[i].hash, 32) != 32 ||
                    (got = bytea_parse(raw, l[i].raw, cap)) < 0) {
                    txs_pending_free(l, rows);
                    PQclear(res);
                    return mr_fail(err, MR_ERR_INVALID, "transaction row %zu: bad attempt", i);
                }
                l[i].raw_len = (size_t)got;
            }
            if (u256_parse_dec(&l[i].max_fee, PQgetvalue(res, (int)i, 6),
                               strlen(PQgetvalue(res, (int)i, 6)), 0, NULL) != MR_OK ||
                u256_parse_dec(&l[i].tip, PQgetvalue(res, (int)i, 7),
                               strlen(PQgetvalue(res, (int)i, 7)), 0, NULL) != MR_OK ||
                u256_parse_dec(&l[i].value, PQgetvalue(res, (int)i, 11),
                               strlen(PQgetvalue(res, (int)i, 11)), 0, NULL) != MR_OK ||
                (!(l[i].create = PQgetisnull(res, (int)i, 9)) &&
                 bytea_parse(PQgetvalue(res, (int)i, 9), l[i].to, 20) != 20)) {
                txs_pending_free(l, rows);
                PQclear(res);
                return mr_fail(err, MR_ERR_INVALID, "transaction row %zu: bad fields", i);
            }
            l[i].age_ms = strtoll(PQgetvalue(res, (int)i, 8), NULL, 10);
            {
                const char *cd = PQgetvalue(res, (int)i, 10);
                size_t cap = strlen(cd) / 2;
                long got;
                l[i].calldata = malloc(cap ? cap : 1);
                if (l[i].calldata == NULL) {
                    txs_pending_free(l, rows);
                    PQclear(res);
                    return mr_fail(err, MR_ERR_NOMEM, "out of memory");
                }
                if ((got = bytea_parse(cd, l[i].calldata, cap)) < 0) {
                    txs_pending_free(l, rows);
                    PQclear(res);
                    return mr_fail(err, MR_ERR_INVALID, "transaction row %zu: bad calldata", i);
                }
                l[i].calldata_len = (size_t)got;
            }
            l[i].gas_limit = strtoull(PQgetvalue(res, (int)i, 12), NULL, 10);
            l[i].included_block = strtoull(PQgetvalue(res, (int)i, 13), NULL, 10);
            if (!PQgetisnull(res, (int)i, 14))
                (void)bytea_parse(PQgetvalue(res, (int)i, 14), l[i].included_hash, 32);
            if (parse_hashes(PQgetvalue(res, (int)i, 15), &l[i]) != 0) {
                txs_pending_free(l, rows);
                PQclear(res);
                return mr_fail(err, MR_ERR_INVALID, "transaction row %zu: bad attempt hashes", i);
            }
        }
        *list = l;
        *n = rows;
    }
    PQclear(res);
    return rc;
}

void txs_pending_free(struct txs_pending *list, size_t n)
{
    if (list == NULL)
        return;
    for (size_t i = 0; i < n; i++) {
        free(list[i].raw);
        free(list[i].calldata);
        free(list[i].hashes);
    }
    free(list);
}

int txs_attempt_hashes(PGconn *conn, int64_t id, uint8_t (*hashes)[32], size_t max, size_t *n,
                       struct mr_error *err)
{
    struct par b;
    PGresult *res;
    int rc;

    *n = 0;
    par_init(&b);
    par_i64(&b, id);
    res = exec(conn, "SELECT tx_hash FROM " DB_SCHEMA ".tx_attempts WHERE tx_id = $1::bigint"
                     " ORDER BY attempt", &b);
    rc = db_check(res, PGRES_TUPLES_OK, "reading attempts", err);
    for (int i = 0; rc == MR_OK && i < PQntuples(res) && (size_t)i < max; i++) {
        if (bytea_parse(PQgetvalue(res, i, 0), hashes[i], 32) != 32)
            rc = mr_fail(err, MR_ERR_INVALID, "transaction %lld: bad attempt hash", (long long)id);
        else
            *n = (size_t)i + 1;
    }
    PQclear(res);
    return rc;
}

int txs_result(PGconn *conn, int64_t id, struct txs_result *out, struct mr_error *err)
{
    struct par b;
    PGresult *res;
    int rc;

    memset(out, 0, sizeof(*out));
    par_init(&b);
    par_i64(&b, id);
    res = exec(conn, "SELECT state, nonce, is_create, coalesce(receipt_status, 0),"
                     " coalesce(included_block, 0), included_block_hash, coalesce(gas_used, 0),"
                     " mined_tx_hash, contract_address, coalesce(error, '') FROM " DB_SCHEMA
                     ".transactions WHERE id = $1::bigint", &b);
    rc = db_check(res, PGRES_TUPLES_OK, "reading a transaction", err);
    if (rc == MR_OK && PQntuples(res) != 1)
        rc = mr_fail(err, MR_ERR_NOTFOUND, "no transaction %lld", (long long)id);
    if (rc == MR_OK) {
        out->id = id;
        snprintf(out->state, sizeof(out->state), "%s", PQgetvalue(res, 0, 0));
        out->nonce = strtoull(PQgetvalue(res, 0, 1), NULL, 10);
        out->is_create = PQgetvalue(res, 0, 2)[0] == 't';
        out->final = strcmp(out->state, "final") == 0;
        out->included = out->final || strcmp(out->state, "included") == 0;
        out->status = atoi(PQgetvalue(res, 0, 3));
        out->block = strtoull(PQgetvalue(res, 0, 4), NULL, 10);
        if (!PQgetisnull(res, 0, 5) && bytea_parse(PQgetvalue(res, 0, 5), out->block_hash, 32) != 32)
            rc = mr_fail(err, MR_ERR_INVALID, "transaction %lld: bad block hash", (long long)id);
        out->gas_used = strtoull(PQgetvalue(res, 0, 6), NULL, 10);
        if (!PQgetisnull(res, 0, 7)) {
            out->has_tx_hash = bytea_parse(PQgetvalue(res, 0, 7), out->tx_hash, 32) == 32;
            if (!out->has_tx_hash)
                rc = mr_fail(err, MR_ERR_INVALID, "transaction %lld: bad mined hash", (long long)id);
        }
        if (!PQgetisnull(res, 0, 8)) {
            out->has_contract = bytea_parse(PQgetvalue(res, 0, 8), out->contract, 20) == 20;
            if (!out->has_contract)
                rc = mr_fail(err, MR_ERR_INVALID, "transaction %lld: bad contract address",
                             (long long)id);
        }
        snprintf(out->error, sizeof(out->error), "%s", PQgetvalue(res, 0, 9));
    }
    PQclear(res);
    return rc;
}

int txs_key_state(PGconn *conn, const char *chain_key, const uint8_t sender[20],
                  struct txs_key *out, struct mr_error *err)
{
    struct par b;
    PGresult *res;
    int rc;

    memset(out, 0, sizeof(*out));
    par_init(&b);
    par_key(&b, chain_key, sender);
    if ((rc = par_check(&b, err)) != MR_OK)
        return rc;
    res = exec(conn, "SELECT next_nonce, halted_reason FROM " DB_SCHEMA ".signer_nonces"
                     " WHERE chain_key = $1 AND sender = $2::bytea", &b);
    par_free(&b);
    rc = db_check(res, PGRES_TUPLES_OK, "reading the nonce allocator", err);
    if (rc == MR_OK && PQntuples(res) == 1) {
        out->exists = 1;
        out->next_nonce = strtoull(PQgetvalue(res, 0, 0), NULL, 10);
        out->halted = !PQgetisnull(res, 0, 1);
        snprintf(out->halted_reason, sizeof(out->halted_reason), "%s", PQgetvalue(res, 0, 1));
    }
    PQclear(res);
    return rc;
}

int txs_halt_key(PGconn *conn, const char *chain_key, const uint8_t sender[20],
                 uint64_t chain_nonce, const char *reason, struct mr_error *err)
{
    char subject[96];
    struct par b;
    PGresult *res;
    int rc;

    par_init(&b);
    par_key(&b, chain_key, sender);
    par_u64(&b, chain_nonce);
    par_text(&b, reason);
    if ((rc = par_check(&b, err)) != MR_OK)
        return rc;
    /* "origin 0x<sender>" names the key without any secret. */
    snprintf(subject, sizeof(subject), "%s 0x%s", chain_key, b.v[1] + 2);
    rc = db_exec(conn, "BEGIN", err);
    if (rc == MR_OK) {
        res = exec(conn, "INSERT INTO " DB_SCHEMA ".signer_nonces (chain_key, sender, next_nonce,"
                         " halted_reason, halted_at) VALUES ($1, $2::bytea, $3::bigint, $4, now())"
                         " ON CONFLICT (chain_key, sender) DO UPDATE SET next_nonce ="
                         " greatest(signer_nonces.next_nonce, excluded.next_nonce), halted_reason ="
                         " coalesce(signer_nonces.halted_reason, excluded.halted_reason), halted_at ="
                         " coalesce(signer_nonces.halted_at, excluded.halted_at), updated_at = now()",
                   &b);
        rc = db_check(res, PGRES_COMMAND_OK, "halting a key", err);
        PQclear(res);
    }
    if (rc == MR_OK)
        rc = alert_raise(conn, "critical", "txm", subject, reason, err);
    if (rc == MR_OK)
        rc = db_exec(conn, "COMMIT", err);
    else
        rollback(conn);
    par_free(&b);
    return rc;
}

int txs_resume_key(PGconn *conn, const char *chain_key, const uint8_t sender[20],
                   struct mr_error *err)
{
    struct par b;
    PGresult *res;
    int rc;

    par_init(&b);
    par_key(&b, chain_key, sender);
    if ((rc = par_check(&b, err)) != MR_OK)
        return rc;
    res = exec(conn, "UPDATE " DB_SCHEMA ".signer_nonces SET halted_reason = NULL, halted_at = NULL,"
                     " updated_at = now() WHERE chain_key = $1 AND sender = $2::bytea", &b);
    par_free(&b);
    rc = db_check(res, PGRES_COMMAND_OK, "resuming a key", err);
    PQclear(res);
    return rc;
}

int txs_gaps(PGconn *conn, const char *chain_key, const uint8_t sender[20], uint64_t from,
             uint64_t *nonces, size_t max, size_t *n, struct mr_error *err)
{
    struct par b;
    PGresult *res;
    int rc;

    *n = 0;
    par_init(&b);
    par_key(&b, chain_key, sender);
    par_u64(&b, from);
    par_u64(&b, max);
    if ((rc = par_check(&b, err)) != MR_OK)
        return rc;
    res = exec(conn, "SELECT g FROM " DB_SCHEMA ".signer_nonces k, generate_series($3::bigint,"
                     " k.next_nonce - 1) g WHERE k.chain_key = $1 AND k.sender = $2::bytea AND NOT"
                     " EXISTS (SELECT 1 FROM " DB_SCHEMA ".transactions t WHERE t.chain_key = $1"
                     " AND t.sender = $2::bytea AND t.nonce = g AND t.state NOT IN ('aborted',"
                     " 'failed')) ORDER BY g LIMIT $4::int", &b);
    par_free(&b);
    rc = db_check(res, PGRES_TUPLES_OK, "looking for nonce gaps", err);
    for (int i = 0; rc == MR_OK && i < PQntuples(res) && (size_t)i < max; i++)
        nonces[(*n)++] = strtoull(PQgetvalue(res, i, 0), NULL, 10);
    PQclear(res);
    return rc;
}

int txs_create_filler(PGconn *conn, const char *chain_key, const uint8_t sender[20],
                      uint64_t nonce, int64_t *id, struct mr_error *err)
{
    struct par b;
    PGresult *res;
    int rc;

    par_init(&b);
    par_key(&b, chain_key, sender);
    par_u64(&b, nonce);
    if ((rc = par_check(&b, err)) != MR_OK)
        return rc;
    /* Only an allocated nonce; the partial unique index refuses a held one. */
    res = exec(conn, "INSERT INTO " DB_SCHEMA ".transactions (chain_key, sender, nonce, purpose,"
                     " to_address, calldata, value, gas_limit) SELECT $1, $2::bytea, $3::bigint,"
                     " 'nonce-gap-fill', $2::bytea, ''::bytea, 0, 21000 FROM " DB_SCHEMA
                     ".signer_nonces WHERE chain_key = $1 AND sender = $2::bytea AND next_nonce >"
                     " $3::bigint RETURNING id", &b);
    par_free(&b);
    rc = db_check(res, PGRES_TUPLES_OK, "recording a gap filler", err);
    if (rc == MR_OK && PQntuples(res) != 1)
        rc = mr_fail(err, MR_ERR_INVALID, "chain %s: nonce %llu was never allocated", chain_key,
                     (unsigned long long)nonce);
    if (rc == MR_OK)
        *id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    return rc == MR_ERR_IO ? mr_error_prefix(err, MR_ERR_INVALID, "nonce %llu: ",
                                             (unsigned long long)nonce) : rc;
}

int txs_nonce_attempts(PGconn *conn, const char *chain_key, const uint8_t sender[20],
                       uint64_t nonce, int64_t *ids, uint8_t (*hashes)[32], size_t max,
                       size_t *n, struct mr_error *err)
{
    struct par b;
    PGresult *res;
    int rc;

    *n = 0;
    par_init(&b);
    par_key(&b, chain_key, sender);
    par_u64(&b, nonce);
    if ((rc = par_check(&b, err)) != MR_OK)
        return rc;
    res = exec(conn, "SELECT t.id, a.tx_hash FROM " DB_SCHEMA ".transactions t JOIN " DB_SCHEMA
                     ".tx_attempts a ON a.tx_id = t.id WHERE t.chain_key = $1 AND t.sender ="
                     " $2::bytea AND t.nonce = $3::bigint ORDER BY t.id, a.attempt DESC", &b);
    par_free(&b);
    rc = db_check(res, PGRES_TUPLES_OK, "reading attempts", err);
    for (int i = 0; rc == MR_OK && i < PQntuples(res) && (size_t)i < max; i++) {
        ids[i] = strtoll(PQgetvalue(res, i, 0), NULL, 10);
        if (bytea_parse(PQgetvalue(res, i, 1), hashes[i], 32) != 32)
            rc = mr_fail(err, MR_ERR_INVALID, "transaction %lld: bad attempt hash",
                         (long long)ids[i]);
        else
            *n = (size_t)i + 1;
    }
    PQclear(res);
    return rc;
}
