/*
 * test_watch_mosaic.c - the watchers on the project's real gateway set
 * (contracts/, deployed with `mosaic-relayer deploy` onto the two test
 * chains): a real stake on the origin EIP20Gateway and a real redeem on the
 * auxiliary EIP20CoGateway are validated against the contracts' own
 * messages() and the value token's Transfer, and appear in the database
 * exactly once, also after a restart and after a full rescan.  The watcher
 * configs are made from the deploy's run config (relayer/watch_config.h).
 */
#include "tests/lib/testlib.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "db/db.h"
#include "eth/hex.h"
#include "eth/keccak.h"
#include "eth/key.h"
#include "eth/mosaic.h"
#include "relayer/config.h"
#include "relayer/deploy.h"
#include "relayer/keyfile.h"
#include "relayer/watch_config.h"
#include "tests/lib/chainlib.h"
#include "watchers/watcher.h"

static struct watcher *open_watcher(const struct config *run, const char *chain, uint64_t start)
{
    struct watcher_config wc;
    struct watcher *w;
    struct mr_error err;
    int idx = config_chain_index(run, chain);

    assert_true(idx >= 0);
    if (watch_config_from(run, (size_t)idx, &wc, &err) != MR_OK)
        fail_msg("watch_config_from: %s", err.msg);
    assert_int_equal(wc.n_pairs, 1);
    wc.start_block = start;
    if (watcher_open(&wc, &w, &err) != MR_OK)
        fail_msg("watcher_open: %s", err.msg);
    return w;
}

static void run_idle(struct watcher *w)
{
    struct watcher_result r;
    struct mr_error err;

    for (int i = 0; i < 10000; i++) {
        if (watcher_step(w, &r, &err) != MR_OK)
            fail_msg("watcher_step: %s", err.msg);
        if (r.outcome == WATCHER_IDLE)
            return;
    }
    fail_msg("the watcher did not catch up");
}

static char *pg_text(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    char *s;

    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
        fail_msg("%s: %s", sql, PQerrorMessage(c));
    s = strdup(PQgetvalue(r, 0, 0));
    PQclear(r);
    return s;
}

#define DUMP_SQL                                                                             \
    "SELECT md5(coalesce(string_agg(x, '|' ORDER BY x), '')) || ' ' || count(*) FROM ("     \
    " SELECT concat_ws(':', 'e', chain_key, block_number, encode(block_hash, 'hex'),"        \
    "  log_index, kind, encode(message_hash, 'hex'), fields::text, gateway_pair) AS x"       \
    "  FROM mosaic.events"                                                                   \
    " UNION ALL SELECT concat_ws(':', 'm', encode(message_hash, 'hex'), flow, gateway_pair," \
    "  source_chain, target_chain, state, source_status, target_status, declared_block,"     \
    "  nonce, amount, gas_price, gas_limit, encode(hashlock, 'hex')) FROM mosaic.messages"   \
    " UNION ALL SELECT concat_ws(':', 'j', kind, state, args::text, dedup_key) FROM mosaic.jobs" \
    " UNION ALL SELECT concat_ws(':', 's', encode(message_hash, 'hex')) FROM mosaic.unlock_secrets" \
    " UNION ALL SELECT concat_ws(':', 'al', component, subject, message) FROM mosaic.alerts) t"

static void test_real_stake_and_redeem(void **state)
{
    char *dir, *ci, run_path[600], sql[512];
    uint8_t fac[20], anc[20], red[20], benef[20], gw[20], cogw[20], vtok[20], btok[20], utok[20],
        w[7][32], data[4 + 7 * 32], word[32], sec_s[32], hl_s[32], sec_r[32], hl_r[32], mh[32];
    struct config *run = NULL;
    struct cl_chain o, a;
    struct u256 bounty = cl_u256(100);
    struct watcher *wo, *wa;
    uint64_t start_o, start_a;
    char *dump1, *dump2, *dump3, hx[67];
    PGconn *db;

    (void)state;
    TV_REQUIRE_PG();
    TV_REQUIRE_ANVIL();
    dir = tv_tmpdir();
    db = tv_pg_migrated(&ci);
    tv_make_keystore(dir, "facilitator", fac);
    tv_make_keystore(dir, "anchor", anc);
    cl_open(&o, "ORIGIN");
    cl_open(&a, "AUX");
    cl_fund_account(&o, 1000, fac);
    cl_fund_account(&a, 1000, fac);
    cl_fund_account(&o, 1000, anc);
    cl_fund_account(&a, 1000, anc);
    start_o = cl_block_number(&o) + 1;
    start_a = cl_block_number(&a) + 1;
    /* Deploy the gateway set with the project's own deploy command. */
    snprintf(run_path, sizeof(run_path), "%s/relayer.yaml", dir);
    run = tv_deploy_pair1(ci, dir, "facilitator", 0, run_path);
    memcpy(gw, run->gateways[0].origin.gateway, 20);
    memcpy(cogw, run->gateways[0].auxiliary.gateway, 20);
    assert_true(cl_call_word(&o, gw, data, cl_calldata_words("token()", NULL, 0, data), word,
                             NULL, 0));
    memcpy(vtok, word + 12, 20);
    assert_true(cl_call_word(&o, gw, data, cl_calldata_words("baseToken()", NULL, 0, data), word,
                             NULL, 0));
    memcpy(btok, word + 12, 20);
    assert_true(cl_call_word(&a, cogw, data, cl_calldata_words("utilityToken()", NULL, 0, data),
                             word, NULL, 0));
    memcpy(utok, word + 12, 20);
    memset(benef, 0xbe, 20);

    /* A stake by the deployer, who holds the value and base tokens. */
    for (int i = 0; i < 32; i++) {
        sec_s[i] = (uint8_t)(i + 1);
        sec_r[i] = (uint8_t)(i + 101);
    }
    mosaic_hashlock(sec_s, hl_s);
    mosaic_hashlock(sec_r, hl_r);
    {
        char s[67], h[67];
        hex_encode_data(sec_s, 32, s, sizeof(s));
        hex_encode_data(hl_s, 32, h, sizeof(h));
        snprintf(sql, sizeof(sql), "INSERT INTO mosaic.pending_secrets VALUES (decode('%s', 'hex'),"
                 " decode('%s', 'hex'))", h + 2, s + 2);
        assert_int_equal(db_exec(db, sql, NULL), MR_OK);
    }
    cl_word_addr(w[0], gw);
    cl_word_u64(w[1], 1000000);
    cl_send_block(&o, "approve", fac, vtok, NULL, data,
                  cl_calldata_words("approve(address,uint256)", w, 2, data));
    cl_word_u64(w[1], 100);
    cl_send_block(&o, "approve", fac, btok, NULL, data,
                  cl_calldata_words("approve(address,uint256)", w, 2, data));
    cl_word_addr(w[0], fac);
    assert_true(cl_call_word(&o, gw, data, cl_calldata_words("getNonce(address)", w, 1, data),
                             word, NULL, 0));
    cl_word_u64(w[0], 1000000);
    cl_word_addr(w[1], benef);
    cl_word_u64(w[2], 1);
    cl_word_u64(w[3], 1000);
    memcpy(w[4], word, 32);
    memcpy(w[5], hl_s, 32);
    cl_send_block(&o, "stake", fac, gw, NULL, data,
                  cl_calldata_words("stake(uint256,address,uint256,uint256,uint256,bytes32)", w, 6,
                                    data));
    /* A redeem: utility tokens minted to the redeemer (a dev account) by
     * the co-gateway itself (impersonated), then redeem() paying the
     * bounty. */
    cl_dev_account(&a, 3, red);
    cl_fund_account(&a, 1000, cogw);
    cl_word_addr(w[0], red);
    cl_word_u64(w[1], 2000000);
    cl_send_block(&a, "increaseSupply", cogw, utok, NULL, data,
                  cl_calldata_words("increaseSupply(address,uint256)", w, 2, data));
    cl_word_addr(w[0], cogw);
    cl_send_block(&a, "approve", red, utok, NULL, data,
                  cl_calldata_words("approve(address,uint256)", w, 2, data));
    cl_word_addr(w[0], red);
    assert_true(cl_call_word(&a, cogw, data, cl_calldata_words("getNonce(address)", w, 1, data),
                             word, NULL, 0));
    cl_word_u64(w[0], 2000000);
    cl_word_addr(w[1], benef);
    cl_word_u64(w[2], 1);
    cl_word_u64(w[3], 1000);
    memcpy(w[4], word, 32);
    memcpy(w[5], hl_r, 32);
    cl_send_block(&a, "redeem", red, cogw, &bounty, data,
                  cl_calldata_words("redeem(uint256,address,uint256,uint256,uint256,bytes32)", w, 6,
                                    data));

    /* The watchers, configured from the run config. */
    wo = open_watcher(run, "origin", start_o);
    wa = open_watcher(run, "aux", start_a);
    run_idle(wo);
    run_idle(wa);
    assert_int_equal(tv_pg_int64(db, "SELECT count(*) FROM mosaic.alerts"), 0);
    assert_int_equal(tv_pg_int64(db, "SELECT count(*) FROM mosaic.messages WHERE flow = 'stake'"
                                     " AND gateway_pair = 'pair1' AND source_chain = 'origin'"
                                     " AND target_chain = 'aux' AND amount = 1000000"
                                     " AND gas_price = 1 AND gas_limit = 1000 AND state = 'declared'"),
                     1);
    assert_int_equal(tv_pg_int64(db, "SELECT count(*) FROM mosaic.messages WHERE flow = 'redeem'"
                                     " AND source_chain = 'aux' AND target_chain = 'origin'"
                                     " AND amount = 2000000"),
                     1);
    assert_int_equal(tv_pg_int64(db, "SELECT count(*) FROM mosaic.unlock_secrets"), 1);
    assert_int_equal(tv_pg_int64(db, "SELECT count(*) FROM mosaic.jobs WHERE kind = 'msg'"), 2);
    /* The stored hash is the one recomputed from the fields (§3.2). */
    {
        struct mosaic_message m;
        struct u256 amt;
        uint8_t ih[32];
        u256_from_u64(&amt, 1000000);
        mosaic_intent_hash(MOSAIC_STAKE, &amt, benef, gw, ih);
        memcpy(m.intent_hash, ih, 32);
        u256_from_u64(&m.nonce, 0);
        u256_from_u64(&m.gas_price, 1);
        u256_from_u64(&m.gas_limit, 1000);
        memcpy(m.sender, fac, 20);
        memcpy(m.hashlock, hl_s, 32);
        mosaic_message_hash(&m, mh);
        hex_encode_data(mh, 32, hx, sizeof(hx));
        snprintf(sql, sizeof(sql), "SELECT count(*) FROM mosaic.unlock_secrets WHERE message_hash ="
                 " decode('%s', 'hex')", hx + 2);
        assert_int_equal(tv_pg_int64(db, sql), 1);
    }
    dump1 = pg_text(db, DUMP_SQL);
    /* A restart, then a full rescan: nothing new. */
    watcher_close(wo);
    watcher_close(wa);
    wo = open_watcher(run, "origin", start_o);
    wa = open_watcher(run, "aux", start_a);
    run_idle(wo);
    run_idle(wa);
    dump2 = pg_text(db, DUMP_SQL);
    assert_string_equal(dump1, dump2);
    assert_int_equal(db_exec(db, "UPDATE mosaic.chains SET cursor_block = NULL, cursor_hash = NULL;"
                                 " DELETE FROM mosaic.block_headers", NULL),
                     MR_OK);
    run_idle(wo);
    run_idle(wa);
    dump3 = pg_text(db, DUMP_SQL);
    assert_string_equal(dump1, dump3);
    watcher_close(wo);
    watcher_close(wa);
    free(dump1);
    free(dump2);
    free(dump3);
    config_free(run);
    cl_close(&o);
    cl_close(&a);
    PQfinish(db);
    free(ci);
    tv_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_real_stake_and_redeem),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
