/*
 * bench_watch.c - make bench-watch: the watcher's backfill of 10,000 gateway
 * events from a local anvil into PostgreSQL, next to the bare eth_getLogs
 * calls for the same ranges (the fetching alone), as a ratio.  Numbers, not
 * pass/fail.  Needs the environment of bench/watch/run.sh (MR_TEST_PG,
 * MR_TEST_ANVIL_ORIGIN_URL).
 *
 * The events come from tests/contracts/WatchTest.sol (TestGateway.emitMany,
 * 500 per transaction, ten kinds of the origin gateway); the watcher runs
 * with ranges of RANGE_BLOCKS blocks, and the same ranges are then fetched
 * bare with ethrpc_get_logs.  Each side is measured ROUNDS times on a fresh
 * database, alternating, and the best time counts.
 */
#include "tests/lib/testlib.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chain/ethrpc.h"
#include "db/db.h"
#include "tests/lib/chainlib.h"
#include "watchers/watcher.h"

#define EVENTS_PER_TX 500
#define TXS 20
#define RANGE_BLOCKS 4
#define ROUNDS 5
#define MAX_RANGES 4096

static struct cl_chain chain;
static uint8_t sender[20];
static uint8_t gateway[20], anchor[20];
static uint64_t first_block, last_block;
static uint64_t range_from[MAX_RANGES], range_to[MAX_RANGES];
static size_t n_ranges;

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void setup_chain(void)
{
    uint8_t w[2][32], data[4 + 64], tok[20];

    cl_open(&chain, "ORIGIN");
    cl_dev_account(&chain, 2, sender);
    cl_deploy_code(&chain, sender, cl_compile("WatchTest.sol", "TestToken"), NULL, 0, tok);
    cl_word_addr(w[0], tok);
    cl_deploy_code(&chain, sender, cl_compile("WatchTest.sol", "TestGateway"), w[0], 32, gateway);
    cl_deploy_code(&chain, sender, cl_compile("WatchTest.sol", "TestAnchor"), NULL, 0, anchor);
    first_block = cl_block_number(&chain) + 1;
    for (int i = 0; i < TXS; i++) {
        cl_word_u64(w[0], EVENTS_PER_TX);
        cl_word_u64(w[1], 1000000u * (unsigned)(i + 1));
        cl_send_block(&chain, "emitMany", sender, gateway, NULL, data,
                      cl_calldata_words("emitMany(uint256,uint256)", w, 2, data));
    }
    last_block = cl_block_number(&chain);
    cl_mine(&chain, 3);
}

/* One watcher backfill of [first_block, ..] on a fresh database.  Records
 * the ranges it used.  Returns seconds; out: *events. */
static double backfill(int64_t *events)
{
    struct watcher_config c;
    struct watcher *w;
    struct watcher_result r;
    struct mr_error err;
    char *ci;
    PGconn *db = tv_pg_migrated(&ci);
    double t0, t;

    if (db_exec(db, "INSERT INTO mosaic.chains (chain_key, chain_id, role) VALUES"
                    " ('origin', 31337, 'origin'), ('aux', 1405, 'auxiliary')",
                &err) != MR_OK)
        fail_msg("%s", err.msg);
    memset(&c, 0, sizeof(c));
    snprintf(c.chain_key, sizeof(c.chain_key), "origin");
    c.chain_id = 31337;
    snprintf(c.endpoints[0], sizeof(c.endpoints[0]), "%s", chain.url);
    c.n_endpoints = 1;
    snprintf(c.database_url, sizeof(c.database_url), "%s", ci);
    c.use_finalized_tag = 1;
    c.start_block = first_block;
    c.max_range = RANGE_BLOCKS;
    c.target_logs = 1000000;
    c.n_pairs = 1;
    snprintf(c.pairs[0].name, sizeof(c.pairs[0].name), "bench");
    c.pairs[0].is_origin = 1;
    memcpy(c.pairs[0].gateway, gateway, 20);
    c.pairs[0].has_anchor = 1;
    memcpy(c.pairs[0].anchor, anchor, 20);
    snprintf(c.pairs[0].remote_chain, sizeof(c.pairs[0].remote_chain), "aux");
    if (watcher_open(&c, &w, &err) != MR_OK)
        fail_msg("watcher_open: %s", err.msg);
    n_ranges = 0;
    t0 = now_s();
    for (;;) {
        if (watcher_step(w, &r, &err) != MR_OK)
            fail_msg("watcher_step: %s", err.msg);
        if (r.outcome == WATCHER_IDLE)
            break;
        if (r.outcome == WATCHER_PROGRESS && n_ranges < MAX_RANGES) {
            range_from[n_ranges] = r.from;
            range_to[n_ranges++] = r.to;
        }
    }
    t = now_s() - t0;
    watcher_close(w);
    *events = tv_pg_int64(db, "SELECT count(*) FROM mosaic.events");
    PQfinish(db);
    free(ci);
    return t;
}

/* The same ranges, eth_getLogs only.  Returns seconds; out: *logs. */
static double bare(size_t *logs)
{
    struct eth_log_filter f;
    struct mr_error err;
    uint8_t addrs[2][20];
    double t0 = now_s();

    memcpy(addrs[0], gateway, 20);
    memcpy(addrs[1], anchor, 20);
    *logs = 0;
    for (size_t i = 0; i < n_ranges; i++) {
        struct eth_logs l = {0};
        memset(&f, 0, sizeof(f));
        f.from_block = range_from[i];
        f.to_block = range_to[i];
        f.addresses = (const uint8_t(*)[20])addrs;
        f.n_addresses = 2;
        f.max_logs = 1000000;
        if (ethrpc_get_logs(chain.ep, &f, &l, NULL, &err) != MR_OK)
            fail_msg("eth_getLogs: %s", err.msg);
        *logs += l.n;
        ethrpc_logs_free(&l);
    }
    return now_s() - t0;
}

static void bench(void **state)
{
    double best_w = 1e9, best_b = 1e9;
    int64_t events = 0;
    size_t logs = 0;

    (void)state;
    TV_REQUIRE_PG();
    TV_REQUIRE_ANVIL();
    setup_chain();
    for (int round = 0; round < ROUNDS; round++) {
        double tw = backfill(&events), tb = bare(&logs);
        printf("round %d: watcher %.3f s (%lld events, %zu ranges), bare eth_getLogs %.3f s"
               " (%zu logs)\n",
               round + 1, tw, (long long)events, n_ranges, tb, logs);
        if (tw < best_w)
            best_w = tw;
        if (tb < best_b)
            best_b = tb;
    }
    printf("\nbackfill of %lld events in blocks %llu..%llu, ranges of %d blocks:\n", (long long)events,
           (unsigned long long)first_block, (unsigned long long)last_block, RANGE_BLOCKS);
    printf("  watcher (fetch, check, decode, one transaction per range): %.3f s = %.0f events/s\n",
           best_w, (double)events / best_w);
    printf("  bare eth_getLogs of the same ranges:                       %.3f s = %.0f logs/s\n",
           best_b, (double)logs / best_b);
    printf("  ratio: %.2fx the time of fetching alone (ingestion adds %.0f%%)\n", best_w / best_b,
           (best_w / best_b - 1) * 100);
    cl_close(&chain);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(bench)};

    return cmocka_run_group_tests(tests, NULL, NULL);
}
