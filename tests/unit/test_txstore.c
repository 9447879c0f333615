/*
 * test_txstore.c - the transaction manager's records in a real PostgreSQL:
 * gapless nonces (also across processes), attempts stored before broadcast,
 * the state machine's refusals, reorgs, resume after a restart, and a key
 * used by someone else.
 */
#include "tests/lib/testlib.h"

#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "db/db.h"
#include "db/migrate.h"
#include "db/txstore.h"

static const uint8_t sender[20] = {0xf3, 0x9f, 0xd6};
static const uint8_t target[20] = {0x22};
static const uint8_t calldata[4] = {0x21, 0xea, 0x7e, 0xe1};

struct fx {
    char *ci;
    PGconn *c;
};

static int setup(void **state)
{
    struct fx *f;
    struct mr_error err;

    *state = NULL;
    if (tv_pg_base() == NULL)
        return 0;
    f = calloc(1, sizeof(*f));
    f->c = tv_pg_migrated(&f->ci);
    if (db_exec(f->c, "INSERT INTO chains (chain_key, chain_id, role) VALUES ('origin', 31337, "
                      "'origin'), ('aux', 1405, 'auxiliary')", &err))
        fail_msg("setup: %s", err.msg);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;

    if (f != NULL) {
        PQfinish(f->c);
        free(f->ci);
        free(f);
    }
    return 0;
}

static struct txs_intent intent(const char *chain)
{
    struct txs_intent in;

    memset(&in, 0, sizeof(in));
    in.chain_key = chain;
    in.sender = sender;
    in.purpose = "proveGateway";
    in.to = target;
    in.calldata = calldata;
    in.calldata_len = sizeof(calldata);
    in.gas_limit = 300000;
    return in;
}

static void test_nonces_and_lifecycle(void **state)
{
    struct fx *f = *state;
    struct txs_intent in;
    struct mr_error err;
    struct u256 fee, tip;
    struct txs_pending *pend;
    uint8_t hash[32] = {0xaa}, hash2[32] = {0xbb}, bh[32] = {0xcc}, raw[100];
    int64_t id[3];
    uint64_t nonce;
    size_t n;
    int attempt;

    TV_REQUIRE_PG();
    assert_non_null(f);
    in = intent("origin");
    /* Seeded from the chain's nonce, then consecutive. */
    for (int i = 0; i < 3; i++) {
        assert_int_equal(txs_create_intent(f->c, &in, 5, &id[i], &nonce, &err), MR_OK);
        assert_int_equal(nonce, 5 + (uint64_t)i);
    }
    /* Another chain has its own sequence. */
    in = intent("aux");
    assert_int_equal(txs_create_intent(f->c, &in, 0, &id[2], &nonce, &err), MR_OK);
    assert_int_equal(nonce, 0);
    in = intent("origin");
    /* A chain nonce ahead of ours: someone else used the key. */
    assert_int_equal(txs_create_intent(f->c, &in, 42, &id[2], &nonce, &err), MR_ERR_PERM);
    assert_non_null(strstr(err.msg, "used by someone else"));
    assert_int_equal(tv_pg_int64(f->c, "SELECT next_nonce FROM signer_nonces WHERE chain_key = 'origin'"), 8);

    /* Signed bytes are stored before broadcast; a replacement is attempt 2. */
    memset(raw, 0x5a, sizeof(raw));
    u256_from_u64(&fee, 2000000000);
    u256_from_u64(&tip, 1000000000);
    assert_int_equal(txs_mark_broadcast(f->c, id[0], 1, &err), MR_ERR_INVALID); /* nothing signed */
    assert_int_equal(txs_record_attempt(f->c, id[0], hash, raw, sizeof(raw), &fee, &tip, &attempt,
                                        &err), MR_OK);
    assert_int_equal(attempt, 1);
    assert_int_equal(txs_mark_broadcast(f->c, id[0], 1, &err), MR_OK);
    assert_int_equal(txs_mark_broadcast(f->c, id[0], 1, &err), MR_OK); /* idempotent resend */
    u256_from_u64(&fee, 2200000000);
    assert_int_equal(txs_record_attempt(f->c, id[0], hash2, raw, 50, &fee, &tip, &attempt, &err),
                     MR_OK);
    assert_int_equal(attempt, 2);
    /* The same hash twice is refused by the schema (one row per signed tx). */
    assert_int_equal(txs_record_attempt(f->c, id[1], hash2, raw, 50, &fee, &tip, &attempt, &err),
                     MR_ERR_IO);
    assert_int_equal(txs_mark_broadcast(f->c, id[0], 2, &err), MR_OK);

    /* Resume: the unfinished ones, lowest nonce first, newest attempt. */
    assert_int_equal(txs_load_pending(f->c, "origin", sender, &pend, &n, &err), MR_OK);
    assert_int_equal(n, 3);
    assert_int_equal(pend[0].nonce, 5);
    assert_string_equal(pend[0].state, "broadcast");
    assert_int_equal(pend[0].attempt, 2);
    assert_memory_equal(pend[0].hash, hash2, 32);
    assert_int_equal(pend[0].raw_len, 50);
    assert_memory_equal(pend[0].raw, raw, 50);
    assert_string_equal(pend[1].state, "intent");
    assert_int_equal(pend[1].attempt, 0);
    txs_pending_free(pend, n);

    /* Included, reorged out, included again, final; late steps refused. */
    assert_int_equal(txs_mark_final(f->c, id[0], &err), MR_ERR_INVALID);
    assert_non_null(strstr(err.msg, "from state broadcast"));
    assert_int_equal(txs_mark_included(f->c, id[0], 17, bh, 1, 84000, hash, NULL, &err), MR_OK);
    assert_int_equal(txs_mark_reorged(f->c, id[0], &err), MR_OK);
    assert_int_equal(tv_pg_int64(f->c, "SELECT count(*) FROM transactions WHERE state = 'broadcast' AND "
                               "included_block IS NULL"), 1);
    assert_int_equal(txs_mark_included(f->c, id[0], 18, bh, 1, 84000, hash, NULL, &err), MR_OK);
    assert_int_equal(txs_mark_final(f->c, id[0], &err), MR_OK);
    assert_int_equal(txs_mark_reorged(f->c, id[0], &err), MR_ERR_INVALID);
    assert_int_equal(txs_mark_failed(f->c, id[0], "late", &err), MR_ERR_INVALID);
    /* Never-sent intents can be aborted; a broadcast one cannot. */
    assert_int_equal(txs_mark_aborted(f->c, id[1], "given up", &err), MR_OK);
    assert_int_equal(txs_mark_aborted(f->c, 999999, "x", &err), MR_ERR_INVALID);
    assert_non_null(strstr(err.msg, "no such transaction"));

    /* The operators' view of the same records. */
    {
        char *out, *er, idt[24];
        snprintf(idt, sizeof(idt), "%lld", (long long)id[0]);
        assert_int_equal(tv_run_cli((const char *[]){"tx", "list", "--chain", "origin", "--database",
                                                     f->ci, NULL}, NULL, &out, &er), 0);
        assert_non_null(strstr(out, "proveGateway"));
        assert_non_null(strstr(out, "final"));
        assert_non_null(strstr(out, "aborted"));
        assert_non_null(strstr(out, "(3 transactions)"));
        free(out);
        free(er);
        assert_int_equal(tv_run_cli((const char *[]){"tx", "show", idt, "--database", f->ci, NULL},
                                    NULL, &out, &er), 0);
        assert_non_null(strstr(out, "attempt 1"));
        assert_non_null(strstr(out, "attempt 2"));
        assert_non_null(strstr(out, "max_fee=2200000000"));
        assert_null(strstr(out, "5a5a5a")); /* raw bytes are not printed */
        free(out);
        free(er);
        assert_int_equal(tv_run_cli((const char *[]){"tx", "show",
                                    "0xbb00000000000000000000000000000000000000000000000000000000000000",
                                    "--database", f->ci, NULL}, NULL, &out, &er), 0);
        assert_non_null(strstr(out, "state           final"));
        free(out);
        free(er);
        assert_int_equal(tv_run_cli((const char *[]){"tx", "show", "0x12", "--database", f->ci, NULL},
                                    NULL, &out, &er), 2);
        free(out);
        free(er);
        assert_int_equal(tv_run_cli((const char *[]){"tx", "list", "--status", "mined", NULL}, NULL,
                                    &out, &er), 2);
        free(out);
        free(er);
    }
}

/* Four processes allocate nonces for one key at once: no duplicates, no
 * gaps. */
static void test_concurrent_allocation(void **state)
{
    struct fx *f = *state;
    pid_t pids[4];

    TV_REQUIRE_PG();
    assert_non_null(f);
    for (int i = 0; i < 4; i++) {
        pids[i] = fork();
        assert_true(pids[i] >= 0);
        if (pids[i] == 0) {
            struct mr_error err;
            PGconn *c = db_connect(f->ci, NULL, &err);
            struct txs_intent in = intent("origin");
            int ok = c != NULL;
            for (int k = 0; ok && k < 50; k++) {
                int64_t id;
                uint64_t nonce;
                ok = txs_create_intent(c, &in, 0, &id, &nonce, &err) == MR_OK;
            }
            if (c != NULL)
                PQfinish(c);
            _exit(ok ? 0 : 1);
        }
    }
    for (int i = 0; i < 4; i++) {
        int st;
        assert_int_equal(waitpid(pids[i], &st, 0), pids[i]);
        assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    assert_int_equal(tv_pg_int64(f->c, "SELECT count(DISTINCT nonce) FROM transactions"), 200);
    assert_int_equal(tv_pg_int64(f->c, "SELECT max(nonce) - min(nonce) + 1 FROM transactions"), 200);
}

/* The signing callback of txs_create_signed for the tests: "signs" with
 * the hash given in arg (NULL: fails), records the nonce it was given. */
struct fake {
    const uint8_t *hash;
    uint64_t nonce;
    int calls;
};

static int fake_sign(void *arg, uint64_t nonce, struct txs_signed *out, struct mr_error *err)
{
    struct fake *fk = arg;

    fk->calls++;
    fk->nonce = nonce;
    if (fk->hash == NULL)
        return mr_fail(err, MR_ERR_INVALID, "cannot sign");
    out->raw = malloc(40);
    memset(out->raw, 0x5a, 40);
    out->raw[0] = (uint8_t)nonce;
    out->raw_len = 40;
    memcpy(out->hash, fk->hash, 32);
    u256_from_u64(&out->max_fee, 3000000000);
    u256_from_u64(&out->tip, 1000000000);
    return MR_OK;
}

/* Intent and first signed attempt in one transaction: stored together;
 * any failure (the store, the signature, a refused key) commits nothing
 * and uses no nonce; the connection stays usable. */
static void test_create_signed(void **state)
{
    struct fx *f = *state;
    struct txs_intent in;
    struct txs_signed out;
    struct mr_error err;
    struct txs_pending *pend;
    uint8_t h1[32] = {0x01}, h2[32] = {0x02};
    struct fake fk = {h1, 0, 0};
    int64_t id, id2;
    uint64_t nonce;
    size_t n;

    TV_REQUIRE_PG();
    assert_non_null(f);
    in = intent("origin");
    assert_int_equal(txs_create_signed(f->c, &in, 5, fake_sign, &fk, &out, &id, &nonce, &err),
                     MR_OK);
    assert_int_equal(nonce, 5);
    assert_int_equal(fk.nonce, 5);
    free(out.raw);
    assert_int_equal(tv_pg_int64(f->c, "SELECT count(*) FROM transactions WHERE state = 'signed' "
                                       "AND nonce = 5"), 1);
    assert_int_equal(txs_load_pending(f->c, "origin", sender, &pend, &n, &err), MR_OK);
    assert_int_equal(n, 1);
    assert_int_equal(pend[0].attempt, 1);
    assert_memory_equal(pend[0].hash, h1, 32);
    assert_int_equal(pend[0].raw_len, 40);
    assert_int_equal(pend[0].raw[0], 5);
    assert_int_equal(pend[0].age_ms, -1); /* never broadcast */
    assert_int_equal(pend[0].n_hashes, 1);
    assert_memory_equal(pend[0].hashes[0], h1, 32);
    txs_pending_free(pend, n);

    /* The store fails (the same signed hash again): nothing committed. */
    assert_int_equal(txs_create_signed(f->c, &in, 5, fake_sign, &fk, &out, &id2, &nonce, &err),
                     MR_ERR_IO);
    free(out.raw);
    assert_int_equal(fk.nonce, 6);
    /* The signature fails: nothing committed. */
    fk.hash = NULL;
    assert_int_equal(txs_create_signed(f->c, &in, 5, fake_sign, &fk, &out, &id2, &nonce, &err),
                     MR_ERR_INVALID);
    free(out.raw);
    /* The chain is ahead: refused before signing. */
    fk.calls = 0;
    assert_int_equal(txs_create_signed(f->c, &in, 9, fake_sign, &fk, &out, &id2, &nonce, &err),
                     MR_ERR_PERM);
    assert_non_null(strstr(err.msg, "used by someone else"));
    assert_int_equal(fk.calls, 0);
    assert_int_equal(tv_pg_int64(f->c, "SELECT next_nonce FROM signer_nonces"), 6);
    assert_int_equal(tv_pg_int64(f->c, "SELECT count(*) FROM transactions"), 1);
    /* The next one takes nonce 6: no gap. */
    fk.hash = h2;
    assert_int_equal(txs_create_signed(f->c, &in, 5, fake_sign, &fk, &out, &id2, &nonce, &err),
                     MR_OK);
    free(out.raw);
    assert_int_equal(nonce, 6);
    assert_int_equal(tv_pg_int64(f->c, "SELECT count(*) FROM tx_attempts"), 2);
    /* At a nonce known in advance, in one statement: only the next one. */
    {
        struct txs_signed sig;
        uint8_t h3[32] = {0x03}, raw[40] = {0x5a};
        memset(&sig, 0, sizeof(sig));
        memcpy(sig.hash, h3, 32);
        sig.raw = raw;
        sig.raw_len = sizeof(raw);
        u256_from_u64(&sig.max_fee, 3000000000);
        u256_from_u64(&sig.tip, 1000000000);
        assert_int_equal(txs_create_signed_at(f->c, &in, 5, 8, &sig, &id2, &err), MR_ERR_NOTFOUND);
        assert_int_equal(txs_create_signed_at(f->c, &in, 9, 7, &sig, &id2, &err), MR_ERR_NOTFOUND);
        assert_int_equal(tv_pg_int64(f->c, "SELECT next_nonce FROM signer_nonces"), 7);
        assert_int_equal(txs_create_signed_at(f->c, &in, 5, 7, &sig, &id2, &err), MR_OK);
        assert_int_equal(tv_pg_int64(f->c, "SELECT next_nonce FROM signer_nonces"), 8);
        assert_int_equal(tv_pg_int64(f->c, "SELECT count(*) FROM transactions t JOIN tx_attempts a ON "
                                           "a.tx_id = t.id WHERE t.nonce = 7 AND t.state = 'signed' "
                                           "AND a.attempt = 1"), 1);
    }
    /* A halted key: refused with the reason, nothing used. */
    assert_int_equal(txs_halt_key(f->c, "origin", sender, 0, "test halt", &err), MR_OK);
    assert_int_equal(txs_create_signed(f->c, &in, 5, fake_sign, &fk, &out, &id2, &nonce, &err),
                     MR_ERR_PERM);
    assert_non_null(strstr(err.msg, "test halt"));
    assert_int_equal(tv_pg_int64(f->c, "SELECT next_nonce FROM signer_nonces"), 8);
    {
        struct txs_signed sig;
        uint8_t raw[40] = {0x5a};
        memset(&sig, 0, sizeof(sig));
        sig.hash[0] = 0x04;
        sig.raw = raw;
        sig.raw_len = sizeof(raw);
        assert_int_equal(txs_create_signed_at(f->c, &in, 5, 8, &sig, &id2, &err), MR_ERR_NOTFOUND);
    }
    assert_int_equal(tv_pg_int64(f->c, "SELECT next_nonce FROM signer_nonces"), 8);
}

/* Many transitions in one transaction; a row in the wrong state is named
 * and left alone, the others are applied. */
static void test_mark_many(void **state)
{
    struct fx *f = *state;
    struct txs_intent in;
    struct txs_signed out;
    struct mr_error err;
    struct txs_pending *pend;
    struct txs_marks m;
    struct txs_sent sent[2];
    struct txs_inclusion inc[2];
    int64_t ids[3], fin[1], reo[1];
    uint8_t h[3][32] = {{0x11}, {0x12}, {0x13}};
    uint64_t nonce;
    size_t n;

    TV_REQUIRE_PG();
    assert_non_null(f);
    in = intent("origin");
    for (int i = 0; i < 3; i++) {
        struct fake fk = {h[i], 0, 0};
        assert_int_equal(txs_create_signed(f->c, &in, 0, fake_sign, &fk, &out, &ids[i], &nonce,
                                           &err), MR_OK);
        free(out.raw);
    }
    /* Sent 5 s ago and just now. */
    memset(&m, 0, sizeof(m));
    sent[0] = (struct txs_sent){ids[0], 1, 5000};
    sent[1] = (struct txs_sent){ids[1], 1, 0};
    m.sent = sent;
    m.n_sent = 2;
    assert_int_equal(txs_mark_many(f->c, &m, &err), MR_OK);
    assert_int_equal(txs_load_pending(f->c, "origin", sender, &pend, &n, &err), MR_OK);
    assert_int_equal(n, 3);
    assert_string_equal(pend[0].state, "broadcast");
    assert_true(pend[0].age_ms >= 4900);
    assert_string_equal(pend[1].state, "broadcast");
    assert_true(pend[1].age_ms >= 0 && pend[1].age_ms < 4900);
    assert_string_equal(pend[2].state, "signed");
    txs_pending_free(pend, n);

    /* Included (one of them a second time: refused, named), then final
     * and reorged in one go. */
    memset(&m, 0, sizeof(m));
    memset(inc, 0, sizeof(inc));
    inc[0].id = ids[0];
    inc[0].block = 17;
    inc[0].block_hash[0] = 0xcc;
    inc[0].status = 1;
    inc[0].gas_used = 21000;
    inc[0].has_tx_hash = 1;
    memcpy(inc[0].tx_hash, h[0], 32);
    inc[1] = inc[0];
    inc[1].id = ids[1];
    inc[1].block = 18;
    inc[1].has_tx_hash = 0;
    m.included = inc;
    m.n_included = 2;
    assert_int_equal(txs_mark_many(f->c, &m, &err), MR_OK);
    assert_int_equal(tv_pg_int64(f->c, "SELECT count(*) FROM transactions WHERE state = 'included' "
                                       "AND receipt_status = 1 AND gas_used = 21000 AND "
                                       "included_block IN (17, 18)"), 2);
    assert_int_equal(tv_pg_int64(f->c, "SELECT count(*) FROM transactions WHERE mined_tx_hash = "
                                       "'\\x11000000000000000000000000000000000000000000000000000000"
                                       "00000000'::bytea"), 1);
    fin[0] = ids[0];
    reo[0] = ids[1];
    m.final = fin;
    m.n_final = 1;
    m.reorged = reo;
    m.n_reorged = 1;
    m.n_included = 1; /* ids[0] again: it is no longer signed or broadcast */
    assert_int_equal(txs_mark_many(f->c, &m, &err), MR_ERR_INVALID);
    assert_non_null(strstr(err.msg, "cannot mark included from state final"));
    assert_int_equal(tv_pg_int64(f->c, "SELECT count(*) FROM transactions WHERE state = 'final'"), 1);
    assert_int_equal(tv_pg_int64(f->c, "SELECT count(*) FROM transactions WHERE state = 'broadcast' "
                                       "AND included_block IS NULL"), 1);
    /* Nothing to do is nothing. */
    memset(&m, 0, sizeof(m));
    assert_int_equal(txs_mark_many(f->c, &m, &err), MR_OK);
}

/* The first attempts of many intents in one statement: each recorded as
 * attempt 1 with its own bytes; a row that is no longer an intent is left
 * alone (attempt 0), the others are recorded all the same. */
static void test_first_attempts_together(void **state)
{
    struct fx *f = *state;
    struct txs_intent in;
    struct mr_error err;
    struct u256 fee, tip;
    struct txs_first_attempt a[3];
    uint8_t hash[3][32], raw[3][40];
    int64_t id[3];
    uint64_t nonce;
    int attempt[3], one;

    TV_REQUIRE_PG();
    assert_non_null(f);
    in = intent("origin");
    u256_from_u64(&fee, 3000000000);
    u256_from_u64(&tip, 1000000000);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(txs_create_intent(f->c, &in, 0, &id[i], &nonce, &err), MR_OK);
        memset(hash[i], 0x10 + i, 32);
        memset(raw[i], 0x20 + i, sizeof(raw[i]));
        a[i].id = id[i];
        a[i].hash = hash[i];
        a[i].raw = raw[i];
        a[i].raw_len = (size_t)(20 + 10 * i);
    }
    /* The second was signed meanwhile (another poll): not signed twice. */
    assert_int_equal(txs_record_attempt(f->c, id[1], hash[1], raw[1], 30, &fee, &tip, &one, &err),
                     MR_OK);
    memset(hash[1], 0x7f, 32);
    assert_int_equal(txs_record_first_attempts(f->c, a, 3, &fee, &tip, attempt, &err), MR_OK);
    assert_int_equal(attempt[0], 1);
    assert_int_equal(attempt[1], 0);
    assert_int_equal(attempt[2], 1);
    assert_int_equal(tv_pg_int64(f->c, "SELECT count(*) FROM transactions WHERE state = 'signed'"),
                     3);
    assert_int_equal(tv_pg_int64(f->c, "SELECT count(*) FROM tx_attempts"), 3);
    assert_int_equal(tv_pg_int64(f->c, "SELECT count(*) FROM tx_attempts WHERE tx_hash ="
                                 " '\\x7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f'"), 0);
    assert_int_equal(tv_pg_int64(f->c, "SELECT sum(octet_length(raw)) FROM tx_attempts"), 20 + 30 + 40);
    assert_int_equal(tv_pg_int64(f->c, "SELECT count(*) FROM tx_attempts WHERE max_fee = 3000000000"
                                 " AND max_priority_fee = 1000000000"), 3);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_nonces_and_lifecycle),
        T(test_concurrent_allocation),
        T(test_create_signed),
        T(test_mark_many),
        T(test_first_attempts_together),
    };
    return cmocka_run_group_tests_name("txstore: nonces and transaction records", tests, NULL, NULL);
}
