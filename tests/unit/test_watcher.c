/*
 * test_watcher.c - the chain watchers against real anvil chains and a real
 * PostgreSQL, with the gateway-shaped test contracts of
 * tests/contracts/WatchTest.sol:
 *   - a stake and a redeem become messages (secrets moved, one `msg` job
 *     each), later status events update them, events from the wrong kind of
 *     contract are ignored; the same after a restart and a full rescan;
 *   - declarations without the token transfer or with a hash that does not
 *     recompute are refused and alerted; anchors rows from StateRootAvailable;
 *   - a backfill of 10,000 events through a node that refuses large answers;
 *   - kill -9 at random points of a backfill, and at each write point,
 *     repeated: the database ends equal to a clean run's;
 *   - a standby takes over when the lock holder is killed, with no gap and
 *     no duplicate;
 *   - anvil_reorg on a dedicated chain: what was not acted on disappears,
 *     what was acted on halts with an alert; the new chain is followed;
 *   - `events list` and `chain status`.
 */
#include "tests/lib/testlib.h"

#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "db/db.h"
#include "db/queue.h"
#include "eth/hex.h"
#include "eth/keccak.h"
#include "eth/mosaic.h"
#include "tests/lib/faultproxy.h"
#include "tests/lib/chainlib.h"
#include "watchers/watcher.h"

#define SOL "WatchTest.sol"
#define BULK_TXS 20
#define BULK_PER_TX 500

/* One chain with its test contracts. */
struct side {
    struct cl_chain c;
    uint8_t from[20];                   /* anvil dev account #2 */
    uint8_t token[20], gateway[20], anchor[20];
    uint64_t chain_id;
};

/* Shared by the tests: both chains, and a range of the origin chain that
 * holds 10,000 events and two stakes (one with a known secret). */
static struct world {
    int ready;
    struct side o, a;
    uint64_t bulk_from, bulk_to;
    uint8_t bulk_secret[32];
} W;

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void deploy_side(struct side *s, const char *label, const char *url, uint64_t chain_id)
{
    uint8_t arg[32];

    cl_open_url(&s->c, label, url, chain_id);
    cl_dev_account(&s->c, 2, s->from);
    s->chain_id = chain_id;
    cl_deploy_code(&s->c, s->from, cl_compile(SOL, "TestToken"), NULL, 0, s->token);
    cl_word_addr(arg, s->token);
    cl_deploy_code(&s->c, s->from, cl_compile(SOL, "TestGateway"), arg, 32, s->gateway);
    cl_deploy_code(&s->c, s->from, cl_compile(SOL, "TestAnchor"), NULL, 0, s->anchor);
}

/* A call from the side's account; returns its block. */
static uint64_t side_send(struct side *s, const uint8_t to[20], const uint8_t *data, size_t len)
{
    return cl_send_block(&s->c, "call", s->from, to, NULL, data, len);
}

/* Mints and approves `amount` for the sender, then stake() or redeem().
 * Out: the message hash the contract computed (from the event). */
static uint64_t declare(struct side *s, int redeem, uint64_t amount, uint64_t nonce,
                        const uint8_t hashlock[32], int mode, uint8_t mh[32])
{
    uint8_t w[7][32], data[4 + 7 * 32], benef[20];
    struct mosaic_message m;
    uint8_t ih[32];
    struct u256 amt;
    uint64_t bn;

    cl_word_addr(w[0], s->from);
    cl_word_u64(w[1], amount);
    bn = side_send(s, s->token, data, cl_calldata_words("mint(address,uint256)", w, 2, data));
    cl_word_addr(w[0], s->gateway);
    side_send(s, s->token, data, cl_calldata_words("approve(address,uint256)", w, 2, data));
    memset(benef, 0xbe, 20);
    cl_word_u64(w[0], amount);
    cl_word_addr(w[1], benef);
    cl_word_u64(w[2], 1);     /* gas price */
    cl_word_u64(w[3], 100);   /* gas limit */
    cl_word_u64(w[4], nonce);
    memcpy(w[5], hashlock, 32);
    cl_word_u64(w[6], (uint64_t)mode);
    bn = side_send(s, s->gateway, data,
                   cl_calldata_words(
                       redeem ? "redeem(uint256,address,uint256,uint256,uint256,bytes32,uint8)"
                              : "stake(uint256,address,uint256,uint256,uint256,bytes32,uint8)",
                       w, 7, data));
    /* The same hash, computed here (mosaic-protocol.md §3.2). */
    u256_from_u64(&amt, amount);
    mosaic_intent_hash(redeem ? MOSAIC_REDEEM : MOSAIC_STAKE, &amt, benef, s->gateway, ih);
    memcpy(m.intent_hash, ih, 32);
    u256_from_u64(&m.nonce, nonce);
    u256_from_u64(&m.gas_price, 1);
    u256_from_u64(&m.gas_limit, 100);
    memcpy(m.sender, s->from, 20);
    memcpy(m.hashlock, hashlock, 32);
    mosaic_message_hash(&m, mh);
    return bn;
}

/* gateway.emitKind(k, mh, x) */
static uint64_t emit_kind(struct side *s, int k, const uint8_t mh[32], uint64_t x)
{
    uint8_t w[3][32], data[4 + 3 * 32];

    cl_word_u64(w[0], (uint64_t)k);
    memcpy(w[1], mh, 32);
    cl_word_u64(w[2], x);
    return side_send(s, s->gateway, data,
                     cl_calldata_words("emitKind(uint256,bytes32,uint256)", w, 3, data));
}

static void random_secret(uint8_t secret[32], uint8_t hashlock[32], unsigned seed)
{
    for (int i = 0; i < 32; i++)
        secret[i] = (uint8_t)(seed * 31 + (unsigned)i * 7 + 1);
    mosaic_hashlock(secret, hashlock);
}

static void put_pending_secret(PGconn *db, const uint8_t secret[32])
{
    uint8_t hl[32];
    char s[67], h[67];
    const char *p[2] = {s + 2, h + 2};
    PGresult *r;

    mosaic_hashlock(secret, hl);
    hex_encode_data(secret, 32, s, sizeof(s));
    hex_encode_data(hl, 32, h, sizeof(h));
    r = PQexecParams(db, "INSERT INTO mosaic.pending_secrets (hashlock, secret) VALUES"
                         " (decode($2, 'hex'), decode($1, 'hex'))", 2, NULL, p, NULL, NULL, 0);
    assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
    PQclear(r);
}

static int world_setup(void **state)
{
    uint8_t w[2][32], data[4 + 64], hl[32], mh[32], secret2[32];

    (void)state;
    if (tv_pg_base() == NULL || tv_anvil_url("ORIGIN") == NULL)
        return 0;
    deploy_side(&W.o, "ORIGIN", tv_anvil_url("ORIGIN"), 31337);
    deploy_side(&W.a, "AUX", tv_anvil_url("AUX"), 1405);
    /* The bulk range: 20 x 500 events, then two stakes. */
    W.bulk_from = cl_block_number(&W.o.c) + 1;
    for (int i = 0; i < BULK_TXS; i++) {
        cl_word_u64(w[0], BULK_PER_TX);
        cl_word_u64(w[1], 1000000u * (unsigned)(i + 1));
        side_send(&W.o, W.o.gateway, data,
                  cl_calldata_words("emitMany(uint256,uint256)", w, 2, data));
    }
    random_secret(W.bulk_secret, hl, 77);
    declare(&W.o, 0, 5000, 0, hl, 0, mh);
    random_secret(secret2, hl, 78);
    W.bulk_to = declare(&W.o, 0, 6000, 1, hl, 0, mh);
    cl_mine(&W.o.c, 3); /* final by the tag (head - 2) */
    W.ready = 1;
    return 0;
}

static int world_teardown(void **state)
{
    (void)state;
    if (W.o.c.ep != NULL)
        cl_close(&W.o.c);
    if (W.a.c.ep != NULL)
        cl_close(&W.a.c);
    return 0;
}

#define REQUIRE_WORLD()                                                        \
    do {                                                                       \
        TV_REQUIRE_PG();                                                       \
        TV_REQUIRE_ANVIL();                                                    \
        assert_true(W.ready);                                                  \
    } while (0)

/* ---- databases and watchers ---- */

static PGconn *fresh_db(char **ci)
{
    PGconn *db = tv_pg_migrated(ci);
    struct mr_error err;

    if (db_exec(db, "INSERT INTO mosaic.chains (chain_key, chain_id, role) VALUES"
                    " ('origin', 31337, 'origin'), ('aux', 1405, 'auxiliary')",
                &err) != MR_OK)
        fail_msg("chains: %s", err.msg);
    return db;
}

/* The watcher config of side s ("origin" or "aux") on database ci. */
static void config_for(struct watcher_config *c, const char *chain, const char *url,
                       const char *ci, uint64_t start)
{
    int origin = strcmp(chain, "origin") == 0;
    struct side *s = origin ? &W.o : &W.a, *r = origin ? &W.a : &W.o;

    memset(c, 0, sizeof(*c));
    snprintf(c->chain_key, sizeof(c->chain_key), "%s", chain);
    c->chain_id = s->chain_id;
    snprintf(c->endpoints[0], sizeof(c->endpoints[0]), "%s", url);
    c->n_endpoints = 1;
    snprintf(c->database_url, sizeof(c->database_url), "%s", ci);
    /* origin: the finalized tag (anvil: head - 2); aux: 1 confirmation */
    c->use_finalized_tag = origin;
    c->confirmations = 1;
    c->start_block = start;
    c->n_pairs = 1;
    snprintf(c->pairs[0].name, sizeof(c->pairs[0].name), "pair1");
    c->pairs[0].is_origin = origin;
    memcpy(c->pairs[0].gateway, s->gateway, 20);
    memcpy(c->pairs[0].remote_gateway, r->gateway, 20);
    c->pairs[0].has_anchor = 1;
    memcpy(c->pairs[0].anchor, s->anchor, 20);
    snprintf(c->pairs[0].remote_chain, sizeof(c->pairs[0].remote_chain), "%s",
             origin ? "aux" : "origin");
}

static struct watcher *open_watcher(const struct watcher_config *c)
{
    struct watcher *w;
    struct mr_error err;

    if (watcher_open(c, &w, &err) != MR_OK)
        fail_msg("watcher_open: %s", err.msg);
    return w;
}

/* Steps until caught up.  Returns the number of ranges ingested. */
static int run_idle(struct watcher *w)
{
    struct watcher_result r;
    struct mr_error err;
    int ranges = 0;

    for (int i = 0; i < 100000; i++) {
        if (watcher_step(w, &r, &err) != MR_OK)
            fail_msg("watcher_step: %s", err.msg);
        if (r.outcome == WATCHER_IDLE)
            return ranges;
        if (r.outcome == WATCHER_STANDBY) /* a killed holder's session is ending */
            sleep_ms(50);
        ranges += r.outcome == WATCHER_PROGRESS;
    }
    fail_msg("the watcher did not catch up");
    return ranges;
}

/* Mines both sides past finality (origin: 3 blocks, its finalized tag is
 * head - 2; aux: 2 blocks, 1 confirmation), opens a watcher per side on ci
 * from start_o / start_a (configs in *co / *ca) and runs both until caught
 * up. */
static void watch_both(struct watcher_config *co, struct watcher_config *ca, const char *ci,
                       uint64_t start_o, uint64_t start_a, struct watcher **wo,
                       struct watcher **wa)
{
    cl_mine(&W.o.c, 3);
    cl_mine(&W.a.c, 2);
    config_for(co, "origin", W.o.c.url, ci, start_o);
    config_for(ca, "aux", W.a.c.url, ci, start_a);
    *wo = open_watcher(co);
    *wa = open_watcher(ca);
    run_idle(*wo);
    run_idle(*wa);
}

static void step_ok(struct watcher *w, struct watcher_result *r)
{
    struct mr_error err;

    if (watcher_step(w, r, &err) != MR_OK)
        fail_msg("watcher_step: %s", err.msg);
}

static char *pg_text(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    char *s;

    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
        fail_msg("%s: %s", sql, PQerrorMessage(c));
    s = strdup(PQgetisnull(r, 0, 0) ? "" : PQgetvalue(r, 0, 0));
    PQclear(r);
    return s;
}

/* Everything the watchers write, without ids and times: equal dumps mean
 * equal databases (duplicates included, since rows are not merged). */
#define DUMP_SQL                                                                             \
    "SELECT md5(coalesce(string_agg(x, '|' ORDER BY x), '')) || ' ' || count(*) FROM ("     \
    " SELECT concat_ws(':', 'e', chain_key, block_number, encode(block_hash, 'hex'),"        \
    "  log_index, tx_index, encode(tx_hash, 'hex'), encode(address, 'hex'), kind,"           \
    "  encode(message_hash, 'hex'), fields::text, gateway_pair) AS x FROM mosaic.events"     \
    " UNION ALL SELECT concat_ws(':', 'm', encode(message_hash, 'hex'), flow, gateway_pair," \
    "  source_chain, target_chain, state, source_status, target_status, declared_block,"     \
    "  confirmed_block, source_done_block, target_done_block, nonce, amount, gas_price,"     \
    "  gas_limit, encode(hashlock, 'hex'), encode(sender, 'hex')) FROM mosaic.messages"      \
    " UNION ALL SELECT concat_ws(':', 'j', kind, state, args::text, dedup_key) FROM mosaic.jobs" \
    " UNION ALL SELECT concat_ws(':', 's', encode(message_hash, 'hex'), encode(secret, 'hex'))" \
    "  FROM mosaic.unlock_secrets"                                                           \
    " UNION ALL SELECT concat_ws(':', 'p', encode(hashlock, 'hex')) FROM mosaic.pending_secrets" \
    " UNION ALL SELECT concat_ws(':', 'a', chain_key, remote_chain, block_height,"           \
    "  encode(state_root, 'hex')) FROM mosaic.anchors"                                       \
    " UNION ALL SELECT concat_ws(':', 'al', severity, component, subject, message)"          \
    "  FROM mosaic.alerts"                                                                   \
    " UNION ALL SELECT concat_ws(':', 'c', chain_key, cursor_block, encode(cursor_hash, 'hex'))" \
    "  FROM mosaic.chains) t"

/* ---- stake and redeem, exactly once ---- */

/* A one-value query built with printf (formats checked). */
static int64_t count_where(PGconn *db, const char *fmt, ...) MR_PRINTF(2, 3);
static int64_t count_where(PGconn *db, const char *fmt, ...)
{
    char sql[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(sql, sizeof(sql), fmt, ap);
    va_end(ap);
    return tv_pg_int64(db, sql);
}

/* Bare hex of a hash, in one of four rotating buffers. */
static const char *hx(const uint8_t h[32])
{
    static char buf[4][67];
    static int i;
    char *b = buf[i++ % 4];

    hex_encode_data(h, 32, b, 67);
    return b + 2;
}

static void test_stake_and_redeem(void **state)
{
    struct watcher_config co, ca;
    struct watcher *wo, *wa;
    uint8_t so[32], sa[32], hlo[32], hla[32], mhs[32], mhr[32];
    uint64_t start_o, start_a;
    char *ci, *dump1, *dump2, *dump3;
    PGconn *db;

    (void)state;
    REQUIRE_WORLD();
    db = fresh_db(&ci);
    start_o = cl_block_number(&W.o.c) + 1;
    start_a = cl_block_number(&W.a.c) + 1;
    random_secret(so, hlo, 1);
    random_secret(sa, hla, 2);
    put_pending_secret(db, so);
    put_pending_secret(db, sa);
    declare(&W.o, 0, 1000000, 0, hlo, 0, mhs);
    declare(&W.a, 1, 2000000, 0, hla, 0, mhr);
    /* Events of the other side's kind, from the wrong contract: ignored. */
    emit_kind(&W.o, 9, mhs, 1);  /* MintProgressed from the origin gateway */
    emit_kind(&W.a, 1, mhr, 1);  /* StakeProgressed from the co-gateway */
    watch_both(&co, &ca, ci, start_o, start_a, &wo, &wa);
    assert_int_equal(tv_pg_int64(db, "SELECT count(*) FROM mosaic.messages"), 2);
    assert_int_equal(count_where(db, "SELECT count(*) FROM mosaic.messages WHERE message_hash ="
                                     " decode('%s', 'hex') AND flow = 'stake' AND source_chain ="
                                     " 'origin' AND target_chain = 'aux' AND state = 'declared'"
                                     " AND source_status = 1 AND target_status = 0"
                                     " AND gateway_pair = 'pair1' AND amount = 1000000"
                                     " AND gas_price = 1 AND gas_limit = 100", hx(mhs)),
                     1);
    assert_int_equal(count_where(db, "SELECT count(*) FROM mosaic.messages WHERE message_hash ="
                                     " decode('%s', 'hex') AND flow = 'redeem' AND source_chain ="
                                     " 'aux' AND target_chain = 'origin'", hx(mhr)),
                     1);
    /* The secrets moved with their messages; one msg job each. */
    assert_int_equal(tv_pg_int64(db, "SELECT count(*) FROM mosaic.pending_secrets"), 0);
    assert_int_equal(count_where(db, "SELECT count(*) FROM mosaic.unlock_secrets WHERE"
                                     " message_hash = decode('%s', 'hex')", hx(mhs)),
                     1);
    assert_int_equal(count_where(db, "SELECT count(*) FROM mosaic.jobs WHERE kind = 'msg' AND"
                                     " dedup_key = 'msg:0x%s' AND state = 'available'", hx(mhr)),
                     1);
    assert_int_equal(tv_pg_int64(db, "SELECT count(*) FROM mosaic.jobs"), 2);
    /* The ignored events were not stored. */
    assert_int_equal(tv_pg_int64(db, "SELECT count(*) FROM mosaic.events"), 2);
    assert_int_equal(tv_pg_int64(db, "SELECT count(*) FROM mosaic.alerts"), 0);
    /* Later events about the messages move their statuses. */
    emit_kind(&W.a, 8, mhs, 5);  /* StakeIntentConfirmed */
    emit_kind(&W.a, 9, mhs, 5);  /* MintProgressed */
    emit_kind(&W.o, 1, mhs, 5);  /* StakeProgressed */
    emit_kind(&W.o, 4, mhr, 5);  /* RedeemIntentConfirmed */
    cl_mine(&W.o.c, 3);
    cl_mine(&W.a.c, 2);
    run_idle(wa);
    run_idle(wo);
    assert_int_equal(count_where(db, "SELECT count(*) FROM mosaic.messages WHERE message_hash ="
                                     " decode('%s', 'hex') AND source_status = 2 AND"
                                     " target_status = 2 AND confirmed_block IS NOT NULL AND"
                                     " source_done_block IS NOT NULL AND target_done_block IS NOT NULL", hx(mhs)),
                     1);
    assert_int_equal(count_where(db, "SELECT count(*) FROM mosaic.messages WHERE message_hash ="
                                     " decode('%s', 'hex') AND source_status = 1 AND"
                                     " target_status = 1 AND confirmed_block IS NOT NULL", hx(mhr)),
                     1);
    assert_int_equal(tv_pg_int64(db, "SELECT count(*) FROM mosaic.jobs"), 2); /* deduplicated */
    assert_int_equal(tv_pg_int64(db, "SELECT count(*) FROM mosaic.events"), 6);
    dump1 = pg_text(db, DUMP_SQL);
    /* A restart changes nothing. */
    watcher_close(wo);
    watcher_close(wa);
    wo = open_watcher(&co);
    wa = open_watcher(&ca);
    assert_int_equal(run_idle(wo), 0);
    assert_int_equal(run_idle(wa), 0);
    dump2 = pg_text(db, DUMP_SQL);
    assert_string_equal(dump1, dump2);
    /* Nor does a full rescan from the start blocks. */
    assert_int_equal(db_exec(db, "UPDATE mosaic.chains SET cursor_block = NULL, cursor_hash = NULL;"
                                 " DELETE FROM mosaic.block_headers", NULL),
                     MR_OK);
    assert_true(run_idle(wo) > 0);
    assert_true(run_idle(wa) > 0);
    dump3 = pg_text(db, DUMP_SQL);
    assert_string_equal(dump1, dump3);
    watcher_close(wo);
    watcher_close(wa);
    free(dump1);
    free(dump2);
    free(dump3);
    PQfinish(db);
    free(ci);
}

/* ---- refusals and anchors ---- */

static void test_refusals(void **state)
{
    struct watcher_config co, ca;
    struct watcher *wo, *wa;
    uint8_t s[32], hl[32], mh1[32], mh2[32], mh3[32], w[2][32], data[4 + 64];
    uint64_t start_o, start_a;
    char *ci;
    PGconn *db;

    (void)state;
    REQUIRE_WORLD();
    db = fresh_db(&ci);
    start_o = cl_block_number(&W.o.c) + 1;
    start_a = cl_block_number(&W.a.c) + 1;
    random_secret(s, hl, 3);
    declare(&W.o, 0, 1000, 0, hl, 1, mh1);   /* no token transfer */
    declare(&W.o, 0, 1000, 1, hl, 2, mh2);   /* event amount differs */
    declare(&W.a, 1, 1000, 0, hl, 2, mh3);   /* the same for a redeem */
    /* Anchors: height 7, and height 0 which cannot be an anchors row. */
    cl_word_u64(w[0], 7);
    memset(w[1], 0x5a, 32);
    side_send(&W.o, W.o.anchor, data,
              cl_calldata_words("anchorStateRoot(uint256,bytes32)", w, 2, data));
    cl_word_u64(w[0], 0);
    side_send(&W.o, W.o.anchor, data,
              cl_calldata_words("anchorStateRoot(uint256,bytes32)", w, 2, data));
    watch_both(&co, &ca, ci, start_o, start_a, &wo, &wa);
    assert_int_equal(tv_pg_int64(db, "SELECT count(*) FROM mosaic.messages"), 0);
    assert_int_equal(tv_pg_int64(db, "SELECT count(*) FROM mosaic.jobs"), 0);
    assert_int_equal(tv_pg_int64(db, "SELECT count(*) FROM mosaic.events WHERE kind IN"
                                     " ('StakeIntentDeclared', 'RedeemIntentDeclared')"),
                     3);
    assert_int_equal(tv_pg_int64(db, "SELECT count(*) FROM mosaic.alerts WHERE severity ="
                                     " 'critical'"),
                     3);
    (void)mh2;
    assert_int_equal(count_where(db, "SELECT count(*) FROM mosaic.alerts WHERE subject ="
                                     " '0x%s' AND message LIKE '%%no Transfer%%'", hx(mh1)),
                     1);
    assert_int_equal(tv_pg_int64(db, "SELECT count(*) FROM mosaic.alerts WHERE component ="
                                     " 'watcher:aux' AND message LIKE '%intent hash%'"),
                     1);
    (void)mh3;
    assert_int_equal(tv_pg_int64(db, "SELECT count(*) FROM mosaic.anchors WHERE chain_key ="
                                     " 'origin' AND remote_chain = 'aux' AND block_height = 7"),
                     1);
    assert_int_equal(tv_pg_int64(db, "SELECT count(*) FROM mosaic.anchors"), 1);
    assert_int_equal(tv_pg_int64(db, "SELECT count(*) FROM mosaic.events WHERE kind ="
                                     " 'StateRootAvailable' AND gateway_pair IS NULL"),
                     2);
    /* A rescan raises no alert twice. */
    assert_int_equal(db_exec(db, "UPDATE mosaic.chains SET cursor_block = NULL, cursor_hash = NULL",
                             NULL),
                     MR_OK);
    run_idle(wo);
    run_idle(wa);
    assert_int_equal(tv_pg_int64(db, "SELECT count(*) FROM mosaic.alerts"), 3);
    watcher_close(wo);
    watcher_close(wa);
    PQfinish(db);
    free(ci);
}

/* ---- the bulk range: backfill, kill -9, standby ---- */

static void bulk_config(struct watcher_config *c, const char *url, const char *ci)
{
    config_for(c, "origin", url, ci, W.bulk_from);
}

/* A clean run of the bulk range on a fresh database.  Out: its dump. */
static char *clean_bulk_dump(void)
{
    struct watcher_config c;
    struct watcher *w;
    char *ci, *dump;
    PGconn *db = fresh_db(&ci);

    put_pending_secret(db, W.bulk_secret);
    bulk_config(&c, W.o.c.url, ci);
    w = open_watcher(&c);
    run_idle(w);
    watcher_close(w);
    dump = pg_text(db, DUMP_SQL);
    PQfinish(db);
    free(ci);
    return dump;
}

static void test_backfill_refusing_node(void **state)
{
    struct watcher_config c;
    struct watcher *w;
    struct fproxy *px;
    char *ci, *dump, *dump2;
    int ranges, refused, calls;
    PGconn *db;

    (void)state;
    REQUIRE_WORLD();
    db = fresh_db(&ci);
    put_pending_secret(db, W.bulk_secret);
    px = fproxy_start(W.o.c.url);
    assert_non_null(px);
    /* The node answers at most 1,200 logs per call ("query returned more
     * than 1200 results"); the watcher starts with ranges far too large. */
    fproxy_rule(px, "eth_getLogs", FP_LOG_LIMIT, 1200, 0, NULL, NULL);
    bulk_config(&c, fproxy_url(px), ci);
    c.max_range = 100000;
    c.target_logs = 5000;
    w = open_watcher(&c);
    ranges = run_idle(w);
    print_message("backfill: %d ranges, %d eth_getLogs calls, %d refused\n", ranges,
                  fproxy_count(px, "eth_getLogs"), fproxy_count(px, "(refused)"));
    assert_int_equal(tv_pg_int64(db, "SELECT count(*) FROM mosaic.events"),
                     BULK_TXS * BULK_PER_TX + 2);
    assert_int_equal(tv_pg_int64(db, "SELECT count(DISTINCT kind) FROM mosaic.events"), 11);
    assert_int_equal(tv_pg_int64(db, "SELECT count(*) FROM mosaic.messages"), 2);
    assert_int_equal(tv_pg_int64(db, "SELECT count(*) FROM mosaic.unlock_secrets"), 1);
    /* The first range was refused and split into many calls. */
    refused = fproxy_count(px, "(refused)");
    assert_true(refused > 0);
    assert_true(fproxy_count(px, "eth_getLogs") >= 10);
    dump = pg_text(db, DUMP_SQL);
    /* The same range again (a rescan) inserts nothing, and the watcher has
     * learned the node's limit: many ranges, no refusal. */
    assert_int_equal(db_exec(db, "UPDATE mosaic.chains SET cursor_block = NULL, cursor_hash = NULL",
                             NULL),
                     MR_OK);
    calls = fproxy_count(px, "eth_getLogs");
    ranges = run_idle(w);
    print_message("rescan: %d ranges, %d eth_getLogs calls, %d refused\n", ranges,
                  fproxy_count(px, "eth_getLogs") - calls, fproxy_count(px, "(refused)") - refused);
    assert_true(ranges >= 5);
    assert_int_equal(fproxy_count(px, "(refused)"), refused);
    dump2 = pg_text(db, DUMP_SQL);
    assert_string_equal(dump, dump2);
    watcher_close(w);
    fproxy_stop(px);
    free(dump);
    free(dump2);
    PQfinish(db);
    free(ci);
}

/* The crash hook of a child: SIGKILL at the n-th passage of `point`. */
struct crash {
    const char *point;
    int n;
    long delay_ms;   /* or: sleep this long at every commit */
};

static void crash_hook(void *ctx, const char *point)
{
    struct crash *cr = ctx;

    if (cr->point != NULL && strcmp(point, cr->point) == 0 && --cr->n == 0)
        raise(SIGKILL);
    if (cr->delay_ms > 0 && strcmp(point, "committed") == 0)
        sleep_ms(cr->delay_ms);
}

/* A child that backfills until caught up, then exits 0. */
static pid_t spawn_backfill(const struct watcher_config *cfg, struct crash cr)
{
    pid_t pid = fork();

    assert_true(pid >= 0);
    if (pid == 0) {
        struct watcher_config c = *cfg;
        struct watcher *w;
        struct watcher_result r;
        struct mr_error err;
        c.hook = crash_hook;
        c.hook_ctx = &cr;
        if (watcher_open(&c, &w, &err) != MR_OK)
            _exit(3);
        for (;;) {
            if (watcher_step(w, &r, &err) != MR_OK)
                _exit(4);
            if (r.outcome == WATCHER_IDLE)
                break;
            if (r.outcome == WATCHER_STANDBY)
                sleep_ms(50);
        }
        watcher_close(w);
        _exit(0);
    }
    return pid;
}

static void test_kill9_backfill(void **state)
{
    static const char *points[] = {"range_fetched", "tx_written", "committed"};
    struct watcher_config c;
    struct watcher *w;
    char *ci, *clean, *dump;
    int killed = 0, st;
    PGconn *db;

    (void)state;
    REQUIRE_WORLD();
    clean = clean_bulk_dump();
    db = fresh_db(&ci);
    put_pending_secret(db, W.bulk_secret);
    bulk_config(&c, W.o.c.url, ci);
    c.max_range = 1; /* one block per range: many transactions to interrupt */
    /* Killed at each write point in turn (the 2nd time it is reached). */
    for (size_t i = 0; i < sizeof(points) / sizeof(points[0]); i++) {
        struct crash cr = {points[i], 2, 0};
        pid_t pid = spawn_backfill(&c, cr);
        assert_int_equal(waitpid(pid, &st, 0), pid);
        assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
        killed++;
    }
    /* Then at random: a random write point and passage, or a random
     * moment from outside, until a child gets to the end. */
    srand((unsigned)getpid());
    for (int round = 0; round < 60; round++) {
        struct crash cr = {NULL, 0, 0};
        pid_t pid;
        if (round % 2 == 0) {
            cr.point = points[rand() % 3];
            cr.n = 1 + rand() % 4;
        }
        pid = spawn_backfill(&c, cr);
        if (round % 2 == 1) {
            sleep_ms(20 + rand() % 250);
            kill(pid, SIGKILL);
        }
        assert_int_equal(waitpid(pid, &st, 0), pid);
        if (WIFEXITED(st)) {
            assert_int_equal(WEXITSTATUS(st), 0);
            break;
        }
        assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
        killed++;
    }
    print_message("kill -9: %d watchers killed during the backfill\n", killed);
    /* Whatever is left, a last run finishes it. */
    w = open_watcher(&c);
    run_idle(w);
    watcher_close(w);
    dump = pg_text(db, DUMP_SQL);
    assert_string_equal(dump, clean);
    free(dump);
    free(clean);
    PQfinish(db);
    free(ci);
}

/* A child running watcher_run until killed. */
static pid_t spawn_runner(const struct watcher_config *cfg, long delay_ms)
{
    pid_t pid = fork();

    assert_true(pid >= 0);
    if (pid == 0) {
        static struct crash cr;
        static atomic_int stop;
        struct watcher_config c = *cfg;
        struct mr_error err;
        cr.delay_ms = delay_ms;
        c.hook = crash_hook;
        c.hook_ctx = &cr;
        c.poll_interval_ms = 100;
        c.standby_poll_ms = 100;
        c.log = NULL;
        _exit(watcher_run(&c, &stop, &err) == MR_OK ? 0 : 5);
    }
    return pid;
}

/* The pid in the application_name of the session holding the lock, or 0. */
static pid_t lock_holder(PGconn *db, const char *chain)
{
    char sql[512], *s, *colon;
    pid_t pid = 0;

    snprintf(sql, sizeof(sql),
             "SELECT coalesce(max(a.application_name), '') FROM pg_locks l JOIN pg_stat_activity a"
             " ON a.pid = l.pid WHERE l.locktype = 'advisory' AND l.granted"
             " AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
             " AND l.classid = (%lld >> 32)::oid AND l.objid = (%lld & 4294967295)::oid",
             (long long)watcher_lock_key(chain), (long long)watcher_lock_key(chain));
    s = pg_text(db, sql);
    colon = strrchr(s, ':');
    if (strncmp(s, WATCHER_APP_PREFIX, strlen(WATCHER_APP_PREFIX)) == 0 && colon != NULL)
        pid = (pid_t)atoi(colon + 1);
    free(s);
    return pid;
}

static int64_t cursor_of(PGconn *db)
{
    return tv_pg_int64(db, "SELECT coalesce(cursor_block, -1) FROM mosaic.chains WHERE"
                           " chain_key = 'origin'");
}

static void test_standby_takeover(void **state)
{
    struct watcher_config c;
    char *ci, *clean, *dump;
    pid_t a, b, leader, other;
    int64_t at_kill, target;
    int st, i;
    PGconn *db;

    (void)state;
    REQUIRE_WORLD();
    clean = clean_bulk_dump();
    db = fresh_db(&ci);
    put_pending_secret(db, W.bulk_secret);
    bulk_config(&c, W.o.c.url, ci);
    c.max_range = 1;
    target = (int64_t)cl_block_number(&W.o.c) - 2; /* the finalized block */
    a = spawn_runner(&c, 60);
    b = spawn_runner(&c, 60);
    /* Wait until one of them leads and has ingested a few blocks. */
    for (i = 0; i < 600 && cursor_of(db) < (int64_t)W.bulk_from + 3; i++)
        sleep_ms(50);
    leader = lock_holder(db, "origin");
    assert_true(leader == a || leader == b);
    other = leader == a ? b : a;
    at_kill = cursor_of(db);
    assert_true(at_kill < target); /* the backfill is not over */
    kill(leader, SIGKILL);
    assert_int_equal(waitpid(leader, &st, 0), leader);
    /* The standby takes the lock and carries on from the cursor. */
    for (i = 0; i < 1200 && cursor_of(db) < target; i++)
        sleep_ms(50);
    assert_int_equal(lock_holder(db, "origin"), other);
    assert_true(cursor_of(db) >= target);
    kill(other, SIGKILL);
    assert_int_equal(waitpid(other, &st, 0), other);
    print_message("standby: leader killed at block %lld of %llu..%lld, the other finished\n",
                  (long long)at_kill, (unsigned long long)W.bulk_from, (long long)target);
    dump = pg_text(db, DUMP_SQL);
    assert_string_equal(dump, clean);
    free(dump);
    free(clean);
    PQfinish(db);
    free(ci);
}

/* ---- reorganisations, on a chain of their own ---- */

static void test_reorg(void **state)
{
    char url[256], *dir, *ci;
    struct side saved = W.o;
    struct watcher_config c;
    struct watcher *w;
    struct watcher_result r;
    struct mr_error err;
    uint8_t s1[32], h1[32], m1[32], s2[32], h2[32], m2[32], s3[32], h3[32], m3[32], s4[32], h4[32],
        m4[32];
    struct queue_job job;
    size_t n;
    uint64_t b1, head;
    PGconn *db;
    char sql[512], h[67];

    (void)state;
    REQUIRE_WORLD();
    dir = cl_anvil_start("REORG", 31337, url);
    if (dir == NULL) {
        print_message("SKIP: could not start a dedicated anvil\n");
        skip();
    }
    memset(&W.o, 0, sizeof(W.o));
    deploy_side(&W.o, "REORG", url, 31337);
    db = fresh_db(&ci);
    config_for(&c, "origin", url, ci, cl_block_number(&W.o.c) + 1);
    w = open_watcher(&c);
    /* A stake, final by the tag, ingested. */
    random_secret(s1, h1, 11);
    put_pending_secret(db, s1);
    b1 = declare(&W.o, 0, 1000, 0, h1, 0, m1);
    cl_mine(&W.o.c, 3);
    run_idle(w);
    assert_int_equal(count_where(db, "SELECT count(*) FROM mosaic.messages WHERE message_hash ="
                                     " decode('%s', 'hex')", hx(m1)), 1);
    assert_int_equal(tv_pg_int64(db, "SELECT count(*) FROM mosaic.jobs"), 1);
    assert_int_equal(tv_pg_int64(db, "SELECT count(*) FROM mosaic.unlock_secrets"), 1);
    /* The chain reorganises below the stake: the stake is gone. */
    head = cl_block_number(&W.o.c);
    cl_reorg(&W.o.c, (unsigned)(head - b1 + 1));
    step_ok(w, &r);
    assert_int_equal(r.outcome, WATCHER_REORG);
    assert_true(r.ancestor < b1);
    assert_int_equal(r.dropped_messages, 1);
    assert_int_equal(r.halted_messages, 0);
    assert_int_equal(tv_pg_int64(db, "SELECT count(*) FROM mosaic.messages"), 0);
    assert_int_equal(tv_pg_int64(db, "SELECT count(*) FROM mosaic.jobs"), 0);
    assert_int_equal(tv_pg_int64(db, "SELECT count(*) FROM mosaic.events"), 0);
    assert_int_equal(tv_pg_int64(db, "SELECT count(*) FROM mosaic.unlock_secrets"), 0);
    assert_int_equal(tv_pg_int64(db, "SELECT count(*) FROM mosaic.pending_secrets"), 1);
    assert_int_equal(tv_pg_int64(db, "SELECT count(*) FROM mosaic.alerts WHERE severity ="
                                     " 'critical'"), 0);
    /* The new chain: another stake; once final, only it is kept. */
    random_secret(s2, h2, 12);
    declare(&W.o, 0, 2000, 0, h2, 0, m2);
    cl_mine(&W.o.c, 3);
    run_idle(w);
    assert_int_equal(tv_pg_int64(db, "SELECT count(*) FROM mosaic.messages"), 1);
    assert_int_equal(count_where(db, "SELECT count(*) FROM mosaic.messages WHERE message_hash ="
                                     " decode('%s', 'hex')", hx(m2)), 1);
    assert_int_equal(tv_pg_int64(db, "SELECT count(*) FROM mosaic.events"), 1);
    /* Two stakes the relayer acted on: one's job ran (claimed), the other
     * has a transaction.  A reorganisation halts both, with alerts. */
    random_secret(s3, h3, 13);
    random_secret(s4, h4, 14);
    b1 = declare(&W.o, 0, 3000, 1, h3, 0, m3);
    declare(&W.o, 0, 4000, 2, h4, 0, m4);
    cl_mine(&W.o.c, 3);
    run_idle(w);
    assert_int_equal(tv_pg_int64(db, "SELECT count(*) FROM mosaic.messages"), 3);
    hex_encode_data(m3, 32, h, sizeof(h));
    snprintf(sql, sizeof(sql), "UPDATE mosaic.jobs SET priority = 1 WHERE dedup_key = 'msg:%s'", h);
    assert_int_equal(db_exec(db, sql, NULL), MR_OK);
    assert_int_equal(queue_claim(db, "test-worker", NULL, 0, &job, 1, &n, &err), MR_OK);
    assert_int_equal(n, 1);
    assert_non_null(strstr(job.args, h));
    queue_job_clear(&job);
    hex_encode_data(m4, 32, h, sizeof(h));
    snprintf(sql, sizeof(sql),
             "INSERT INTO mosaic.transactions (chain_key, sender, nonce, job_id, purpose,"
             " to_address, calldata, gas_limit) SELECT 'aux', decode(repeat('11', 20), 'hex'), 0,"
             " id, 'confirmStakeIntent', decode(repeat('22', 20), 'hex'), '\\x00', 100000"
             " FROM mosaic.jobs WHERE dedup_key = 'msg:%s'", h);
    assert_int_equal(db_exec(db, sql, NULL), MR_OK);
    head = cl_block_number(&W.o.c);
    cl_reorg(&W.o.c, (unsigned)(head - b1 + 1));
    step_ok(w, &r);
    assert_int_equal(r.outcome, WATCHER_REORG);
    assert_int_equal(r.halted_messages, 2);
    assert_int_equal(r.dropped_messages, 0);
    assert_int_equal(tv_pg_int64(db, "SELECT count(*) FROM mosaic.messages WHERE state = 'halted'"
                                     " AND halted_reason LIKE '%reorganised%'"), 2);
    assert_int_equal(count_where(db, "SELECT count(*) FROM mosaic.alerts WHERE severity ="
                                     " 'critical' AND subject = '0x%s'", hx(m3)), 1);
    assert_int_equal(count_where(db, "SELECT count(*) FROM mosaic.alerts WHERE severity ="
                                     " 'critical' AND subject = '0x%s'", hx(m4)), 1);
    /* the running job stays (its worker decides); the waiting one is cancelled */
    assert_int_equal(count_where(db, "SELECT count(*) FROM mosaic.jobs WHERE dedup_key ="
                                     " 'msg:0x%s' AND state = 'cancelled'", hx(m4)), 1);
    assert_int_equal(count_where(db, "SELECT count(*) FROM mosaic.jobs WHERE dedup_key ="
                                     " 'msg:0x%s' AND state = 'running'", hx(m3)), 1);
    /* The message of the surviving stake is untouched; the new chain is
     * followed on. */
    assert_int_equal(count_where(db, "SELECT count(*) FROM mosaic.messages WHERE message_hash ="
                                     " decode('%s', 'hex') AND state = 'declared'", hx(m2)), 1);
    cl_mine(&W.o.c, 3);
    run_idle(w);
    assert_int_equal(tv_pg_int64(db, "SELECT count(*) FROM mosaic.events"), 1);
    assert_int_equal(tv_pg_int64(db, "SELECT count(*) FROM mosaic.messages WHERE state = 'halted'"),
                     2);
    watcher_close(w);
    cl_close(&W.o.c);
    W.o = saved;
    cl_anvil_stop(dir);
    PQfinish(db);
    free(ci);
}

/* ---- watcher_run with a newHeads subscription ---- */

struct runner {
    struct watcher_config c;
    atomic_int stop;
    int rc;
};

static void *run_thread(void *arg)
{
    struct runner *r = arg;
    struct mr_error err;

    r->rc = watcher_run(&r->c, &r->stop, &err);
    return NULL;
}

/* With a poll interval of a minute, only the subscription can wake the
 * caught-up watcher in time: the event must be stored well before that. */
static void test_run_with_subscription(void **state)
{
    static struct runner r;
    pthread_t th;
    uint8_t mh[32];
    char *ci;
    PGconn *db;
    int i;

    (void)state;
    REQUIRE_WORLD();
    db = fresh_db(&ci);
    memset(&r, 0, sizeof(r));
    config_for(&r.c, "origin", W.o.c.url, ci, cl_block_number(&W.o.c) + 1);
    r.c.poll_interval_ms = 60000;
    snprintf(r.c.ws_url, sizeof(r.c.ws_url), "ws://%s", strstr(W.o.c.url, "://") + 3);
    atomic_init(&r.stop, 0);
    assert_int_equal(pthread_create(&th, NULL, run_thread, &r), 0);
    for (i = 0; i < 600 && tv_pg_int64(db, "SELECT count(*) FROM mosaic.chains WHERE"
                                           " chain_key = 'origin' AND head_block IS NOT NULL") == 0; i++)
        sleep_ms(50);
    memset(mh, 0x42, 32);
    emit_kind(&W.o, 1, mh, 1);
    cl_mine(&W.o.c, 2);
    for (i = 0; i < 800 && tv_pg_int64(db, "SELECT count(*) FROM mosaic.events") == 0; i++)
        sleep_ms(50);
    assert_int_equal(tv_pg_int64(db, "SELECT count(*) FROM mosaic.events WHERE kind ="
                                     " 'StakeProgressed'"), 1);
    atomic_store(&r.stop, 1);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(r.rc, MR_OK);
    PQfinish(db);
    free(ci);
}

/* ---- the CLI ---- */

static void test_cli(void **state)
{
    struct watcher_config c;
    struct watcher *w;
    struct watcher_result r;
    uint8_t s[32], hl[32], mh[32];
    char mhx[67], *out = NULL, *eout = NULL, *ci;
    PGconn *db;

    (void)state;
    REQUIRE_WORLD();
    db = fresh_db(&ci);
    config_for(&c, "origin", W.o.c.url, ci, cl_block_number(&W.o.c) + 1);
    random_secret(s, hl, 21);
    declare(&W.o, 0, 1234, 0, hl, 0, mh);
    cl_mine(&W.o.c, 3);
    w = open_watcher(&c);
    run_idle(w);
    hex_encode_data(mh, 32, mhx, sizeof(mhx));
    {
        const char *argv[] = {"events", "list", "--database", ci, "--chain", "origin", "--kind",
                              "StakeIntentDeclared", NULL};
        assert_int_equal(tv_run_cli(argv, NULL, &out, &eout), 0);
        assert_non_null(strstr(out, mhx));
        assert_non_null(strstr(out, "\"amount\": \"1234\""));
        assert_non_null(strstr(out, "(1 event)"));
        free(out);
        free(eout);
    }
    {
        const char *argv[] = {"events", "list", "--database", ci, "--message", mhx, NULL};
        assert_int_equal(tv_run_cli(argv, NULL, &out, &eout), 0);
        assert_non_null(strstr(out, "StakeIntentDeclared"));
        free(out);
        free(eout);
    }
    {
        const char *argv[] = {"events", "list", "--database", ci, "--kind", "Nope", NULL};
        assert_int_equal(tv_run_cli(argv, NULL, &out, &eout), 2);
        assert_non_null(strstr(eout, "Nope"));
        free(out);
        free(eout);
    }
    {
        const char *argv[] = {"events", "list", "--database", ci, "--message", "0x12", NULL};
        assert_int_equal(tv_run_cli(argv, NULL, &out, &eout), 2);
        free(out);
        free(eout);
    }
    /* chain status: the open watcher holds the lock of origin. */
    step_ok(w, &r);
    {
        const char *argv[] = {"chain", "status", "--database", ci, NULL};
        char me[32];
        assert_int_equal(tv_run_cli(argv, NULL, &out, &eout), 0);
        snprintf(me, sizeof(me), ":%d", (int)getpid());
        assert_non_null(strstr(out, "origin"));
        assert_non_null(strstr(out, "aux"));
        assert_non_null(strstr(out, me));
        assert_non_null(strstr(out, "LAG"));
        free(out);
        free(eout);
    }
    watcher_close(w);
    {
        const char *argv[] = {"chain", "status", "--database", ci, NULL};
        char me[32];
        assert_int_equal(tv_run_cli(argv, NULL, &out, &eout), 0);
        snprintf(me, sizeof(me), ":%d", (int)getpid());
        assert_null(strstr(out, me));
        free(out);
        free(eout);
    }
    {
        const char *argv[] = {"chain", "bogus", "--database", ci, NULL};
        assert_int_equal(tv_run_cli(argv, NULL, &out, &eout), 2);
        free(out);
        free(eout);
    }
    PQfinish(db);
    free(ci);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        /* first: the bulk range must hold only the bulk events */
        cmocka_unit_test(test_backfill_refusing_node),
        cmocka_unit_test(test_kill9_backfill),
        cmocka_unit_test(test_standby_takeover),
        cmocka_unit_test(test_stake_and_redeem),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_reorg),
        cmocka_unit_test(test_run_with_subscription),
        cmocka_unit_test(test_cli),
    };

    return cmocka_run_group_tests(tests, world_setup, world_teardown);
}
