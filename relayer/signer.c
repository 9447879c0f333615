/*
 * signer.c - one signing key per process (see signer.h).
 */
#include "relayer/signer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include "db/db.h"
#include "eth/keccak.h"
#include "eth/key.h"
#include "relayer/keyfile.h"
#include "relayer/sysrand.h"

struct signer {
    uint8_t sk[32];               /* the private key; locked memory, wiped */
    uint8_t addr[ADDRESS_LEN];
    char addr_text[ADDRESS_TEXT_SIZE];
    secp256k1_context *ctx;
    char *conninfo;
    PGconn *lock_conn;            /* holds the per-key session advisory lock */
    int locked_memory;
};

int64_t signer_lock_key(const uint8_t addr[ADDRESS_LEN])
{
    static const char tag[] = "mosaic-relayer signer lock";
    struct keccak256_ctx k;
    uint8_t h[32];
    uint64_t v = 0;

    keccak256_init(&k);
    keccak256_update(&k, tag, sizeof(tag) - 1);
    keccak256_update(&k, addr, ADDRESS_LEN);
    keccak256_final(&k, h);
    for (int i = 0; i < 8; i++)
        v = v << 8 | h[i];
    return (int64_t)(v & 0x7fffffffffffffffULL);
}

/* Core dumps would write the key to disk. */
static void no_core_dumps(void)
{
    struct rlimit rl = {0, 0};

    (void)setrlimit(RLIMIT_CORE, &rl);
    (void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

/* Describes who holds the lock `key` (for the refusal message). */
static void describe_holder(PGconn *c, int64_t key, char *out, size_t cap)
{
    char k[24];
    const char *params[1] = {k};
    PGresult *res;

    snprintf(k, sizeof(k), "%lld", (long long)key);
    res = PQexecParams(c,
                       "SELECT a.application_name || ' (backend pid ' || a.pid || coalesce(', from ' ||"
                       " host(a.client_addr), '') || ', since ' || to_char(a.backend_start,"
                       " 'YYYY-MM-DD HH24:MI:SS') || ')' FROM pg_locks l JOIN pg_stat_activity a"
                       " ON a.pid = l.pid WHERE l.locktype = 'advisory' AND l.granted"
                       " AND l.classid = ($1::bigint >> 32)::oid"
                       " AND l.objid = ($1::bigint & 4294967295)::oid AND l.objsubid = 1",
                       1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) > 0)
        snprintf(out, cap, "%s", PQgetvalue(res, 0, 0));
    else
        snprintf(out, cap, "another session");
    PQclear(res);
}

/* Opens the lock connection (if needed) and takes the lock, trying again
 * every 200 ms for up to wait_ms: a process that just exited (or was
 * killed) holds its lock until its database session ends, which a loaded
 * server may take seconds to notice. */
static int take_lock_wait(struct signer *s, long wait_ms, struct mr_error *err)
{
    struct db_session_opts so = {NULL, 0, 0};
    char app[128], host[64] = "host", sql[96], who[256];
    int64_t key = signer_lock_key(s->addr), got = 0;
    int rc;

    if (s->lock_conn != NULL && db_conn_lost(s->lock_conn)) {
        PQfinish(s->lock_conn);
        s->lock_conn = NULL;
    }
    if (s->lock_conn == NULL) {
        gethostname(host, sizeof(host) - 1);
        snprintf(app, sizeof(app), "mosaic-relayer signer %.12s %.40s:%d", s->addr_text, host,
                 (int)getpid());
        so.application_name = app;
        s->lock_conn = db_connect(s->conninfo, &so, err);
        if (s->lock_conn == NULL)
            return MR_ERR_IO;
    }
    snprintf(sql, sizeof(sql), "SELECT pg_try_advisory_lock(%lld)::int", (long long)key);
    for (long waited = 0;; waited += 200) {
        rc = db_query_int64(s->lock_conn, sql, &got, err);
        if (rc != MR_OK || got == 1 || waited >= wait_ms)
            break;
        usleep(200 * 1000);
    }
    if (rc != MR_OK)
        return rc;
    if (got != 1) {
        describe_holder(s->lock_conn, key, who, sizeof(who));
        return mr_fail(err, MR_ERR_PERM,
                       "key %s is already in use by %s: one signer process per key", s->addr_text,
                       who);
    }
    return MR_OK;
}

static int take_lock(struct signer *s, struct mr_error *err)
{
    return take_lock_wait(s, 0, err);
}

/* Whether the lock connection still stands (no round trip: a connection
 * the server closed reads as EOF). */
static int lock_alive(struct signer *s)
{
    if (s->lock_conn == NULL || PQstatus(s->lock_conn) != CONNECTION_OK)
        return 0;
    if (PQconsumeInput(s->lock_conn) == 0 || PQstatus(s->lock_conn) != CONNECTION_OK)
        return 0;
    return 1;
}

/* The password in the variable `var`, copied into buf[cap] (the caller's,
 * to wipe).  The variable itself is left alone (signer_wipe_env). */
static int read_env_password(const char *var, char *buf, size_t cap, size_t *len,
                             struct mr_error *err)
{
    const char *v = getenv(var);
    size_t n;

    *len = 0;
    if (v == NULL)
        return mr_fail(err, MR_ERR_NOTFOUND, "password variable %.64s is not set", var);
    n = strlen(v);
    if (n >= cap || n > KEYFILE_PASSWORD_MAX)
        return mr_fail(err, MR_ERR_TOOBIG, "password variable %.64s is longer than %d bytes", var,
                       KEYFILE_PASSWORD_MAX);
    memcpy(buf, v, n);
    *len = n;
    return MR_OK;
}

/* A new signer without a key: locked memory, a signing context. */
static int signer_new(const char *conninfo, struct signer **out, struct mr_error *err)
{
    uint8_t seed[32];
    struct signer *s;

    *out = NULL;
    no_core_dumps();
    s = calloc(1, sizeof(*s));
    if (s == NULL)
        return mr_fail(err, MR_ERR_NOMEM, "signer: out of memory");
    s->locked_memory = mlock(s, sizeof(*s)) == 0;
    s->conninfo = strdup(conninfo != NULL ? conninfo : "");
    if (s->conninfo == NULL) {
        signer_close(s);
        return mr_fail(err, MR_ERR_NOMEM, "signer: out of memory");
    }
    if (sys_random(seed, sizeof(seed)) != MR_OK || (s->ctx = key_ctx_create(seed)) == NULL) {
        mr_wipe(seed, sizeof(seed));
        signer_close(s);
        return mr_fail(err, MR_ERR_CRYPTO, "signer: cannot create a signing context");
    }
    mr_wipe(seed, sizeof(seed));
    *out = s;
    return MR_OK;
}

/* Opens the key with the password from the file password_path, or else
 * from the variable password_env. */
static int signer_open_with(const char *keystore_path, const char *password_path,
                            const char *password_env, const char *conninfo, long wait_ms,
                            struct signer **out, struct mr_error *err)
{
    struct keyfile kf;
    char pw[KEYFILE_PASSWORD_MAX + 1];
    size_t pwlen = 0;
    struct signer *s;
    int rc = signer_new(conninfo, &s, err);

    if (rc != MR_OK)
        return rc;
    rc = keyfile_load(keystore_path, &kf, err);
    if (rc == MR_OK && password_path != NULL)
        rc = keyfile_read_password(password_path, pw, sizeof(pw), &pwlen, err);
    else if (rc == MR_OK)
        rc = read_env_password(password_env, pw, sizeof(pw), &pwlen, err);
    if (rc == MR_OK) {
        rc = keyfile_unlock(s->ctx, &kf, &keystore_limits_default, (const uint8_t *)pw, pwlen,
                            s->sk, s->addr, err);
        if (rc != MR_OK)
            mr_error_prefix(err, rc, "%s: ", keystore_path);
    }
    mr_wipe(pw, sizeof(pw));
    if (rc == MR_OK) {
        address_to_checksum(s->addr, s->addr_text);
        rc = take_lock_wait(s, wait_ms, err);
    }
    if (rc != MR_OK) {
        signer_close(s);
        return rc;
    }
    *out = s;
    return MR_OK;
}

int signer_open(const char *keystore_path, const char *password_path, const char *conninfo,
                struct signer **out, struct mr_error *err)
{
    *out = NULL;
    return signer_open_with(keystore_path, password_path, NULL, conninfo, 0, out, err);
}

int signer_open_wait(const char *keystore_path, const char *password_path, const char *conninfo,
                     long wait_ms, struct signer **out, struct mr_error *err)
{
    *out = NULL;
    return signer_open_with(keystore_path, password_path, NULL, conninfo, wait_ms, out, err);
}

int signer_open_env(const char *keystore_path, const char *password_env, const char *conninfo,
                    struct signer **out, struct mr_error *err)
{
    *out = NULL;
    return signer_open_with(keystore_path, NULL, password_env, conninfo, 0, out, err);
}

void signer_wipe_env(const char *var)
{
    char *v = getenv(var);

    /* In place: the string may be the process's initial environment block
     * (also what /proc/PID/environ shows) or putenv()'s caller's buffer. */
    if (v != NULL)
        mr_wipe(v, strlen(v));
    (void)unsetenv(var);
}

void signer_close(struct signer *s)
{
    if (s == NULL)
        return;
    if (s->lock_conn != NULL)
        PQfinish(s->lock_conn); /* ends the session: releases the lock */
    key_ctx_destroy(s->ctx);
    free(s->conninfo);
    mr_wipe(s->sk, sizeof(s->sk));
    if (s->locked_memory)
        munlock(s, sizeof(*s));
    free(s);
}

const uint8_t *signer_address(const struct signer *s)
{
    return s->addr;
}

int signer_sign_tx(struct signer *s, struct tx *tx, uint64_t chain_id, struct mr_error *err)
{
    struct tx_rules rules;
    uint8_t from[ADDRESS_LEN];
    uint64_t tx_chain = 0;
    int rc;

    if (u256_to_u64(&tx->chain_id, &tx_chain) != MR_OK || tx_chain != chain_id)
        return mr_fail(err, MR_ERR_TX, "signer %s: transaction for chain id %llu, expected %llu",
                       s->addr_text, (unsigned long long)tx_chain, (unsigned long long)chain_id);
    if (!lock_alive(s)) {
        rc = take_lock(s, err);
        if (rc != MR_OK)
            return mr_error_prefix(err, MR_ERR_PERM, "signer lock lost and not held again: ");
    }
    rc = tx_sign(s->ctx, tx, s->sk, err);
    if (rc != MR_OK)
        return rc;
    tx_rules_latest(&rules, chain_id);
    rc = tx_sender(s->ctx, tx, &rules, from, err);
    if (rc != MR_OK || memcmp(from, s->addr, ADDRESS_LEN) != 0)
        return mr_fail(err, MR_ERR_SIGNATURE,
                       "signer %s: the signature does not recover to this key on chain %llu",
                       s->addr_text, (unsigned long long)chain_id);
    return MR_OK;
}
