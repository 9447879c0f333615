/*
 * test_e2e.c - the relayer end to end: `mosaic-relayer run` as a process
 * against two anvil chains of this test's own that mine a block every
 * second (tests/lib/e2elib.h), with the gateway set deployed by
 * `mosaic-relayer deploy`; every verdict is read from the chains (logs,
 * receipts, balances), the database only explains a failure.
 *
 *   - a burst of 100 stakes from 100 stakers declared at once while the
 *     daemon runs: each minted and progressed exactly once, one anchor and
 *     one proveGateway for each height a confirm used (and none unused),
 *     balances to the wei;
 *   - a burst of 30 stakes with the daemon killed (SIGKILL) 3 to 5 times at
 *     random moments and restarted: all complete, one StakeIntentConfirmed,
 *     one MintProgressed and one StakeProgressed per message, every
 *     transaction the relayer's key ever sent succeeded, nonces gapless;
 *   - the six flows of mosaic-protocol.md section 5 through the daemon:
 *     stake & mint by hashlock and by proof, stake revert, redeem & unstake
 *     by hashlock and by proof, redeem revert, balances to the wei
 *     (including the facilitator's native coin against its fees).
 *
 * test_flows covers the same flows driven handler by handler; this program
 * covers them through the process, its watchers, workers and sender.
 */
#include "tests/lib/testlib.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "eth/hex.h"
#include "relayer/sysrand.h"
#include "tests/lib/e2elib.h"

static struct e2e E;

static int group_setup(void **state)
{
    struct e2e_opts o;

    memset(&o, 0, sizeof(o));
    o.anvil_args = "--block-time 1";
    o.workers = 4;
    return e2e_group_setup(state, &E, &o);
}

/* Per message: one StakeIntentConfirmed, one MintProgressed, one
 * StakeProgressed in the windows; the beneficiary holds the minted amount,
 * minted + reward = amount.  Out: the sum of the rewards. */
static struct u256 check_stakes(const struct e2e_msg *m, size_t n, uint64_t from_o, uint64_t to_o,
                                uint64_t from_a, uint64_t to_a, struct eth_logs *confirmed)
{
    struct eth_logs minted, progressed;
    struct u256 rewards = cl_u256(0);

    e2e_logs(&E.a, E.cogw,
             "StakeIntentConfirmed(bytes32,address,uint256,address,uint256,uint256,bytes32)",
             from_a, to_a, confirmed);
    e2e_logs(&E.a, E.cogw, E2E_MINT_PROGRESSED, from_a, to_a, &minted);
    e2e_logs(&E.o, E.gw, "StakeProgressed(bytes32,address,uint256,uint256,bool,bytes32)", from_o,
             to_o, &progressed);
    assert_int_equal(confirmed->n, n);
    assert_int_equal(minted.n, n);
    assert_int_equal(progressed.n, n);
    for (size_t i = 0; i < n; i++) {
        const struct eth_log *mp;
        struct u256 got, reward;
        (void)e2e_one_log(confirmed, m[i].mh, "StakeIntentConfirmed");
        (void)e2e_one_log(&progressed, m[i].mh, "StakeProgressed");
        mp = e2e_one_log(&minted, m[i].mh, "MintProgressed");
        cl_assert_u256("MintProgressed stake amount", e2e_word(mp, 2), m[i].amount);
        reward = e2e_word(mp, 4);
        cl_assert_u256("minted + reward", cl_add(e2e_word(mp, 3), reward), m[i].amount);
        got = e2e_ut_of(&E, m[i].beneficiary);
        cl_assert_u256("beneficiary's utility tokens", got, e2e_word(mp, 3));
        rewards = cl_add(rewards, reward);
    }
    ethrpc_logs_free(&minted);
    ethrpc_logs_free(&progressed);
    return rewards;
}

/* One StateRootAvailable and one GatewayProven on the auxiliary chain for
 * each height the confirms in `confirmed` used, and none at another
 * height.  Out: how many heights. */
static size_t check_heights(const struct eth_logs *confirmed, uint64_t from_a, uint64_t to_a)
{
    struct eth_logs anchors, proven;
    uint64_t heights[256];
    size_t nh = 0;

    e2e_logs(&E.a, E.anchor_a, "StateRootAvailable(uint256,bytes32)", from_a, to_a, &anchors);
    e2e_logs(&E.a, E.cogw, "GatewayProven(address,uint256,bytes32,bool)", from_a, to_a, &proven);
    for (size_t i = 0; i < confirmed->n; i++) {
        uint64_t h = e2e_word_u64(&confirmed->v[i], 4);
        size_t k = 0;
        while (k < nh && heights[k] != h)
            k++;
        if (k == nh) {
            assert_true(nh < 256);
            heights[nh++] = h;
        }
    }
    for (size_t k = 0; k < nh; k++) {
        size_t a = 0, p = 0;
        for (size_t i = 0; i < anchors.n; i++)
            a += e2e_word_u64(&anchors.v[i], 0) == heights[k];
        for (size_t i = 0; i < proven.n; i++)
            p += e2e_word_u64(&proven.v[i], 1) == heights[k];
        if (a != 1 || p != 1)
            fail_msg("height %llu: %zu anchors and %zu proveGateway on chain, expected 1 and 1",
                     (unsigned long long)heights[k], a, p);
    }
    if (anchors.n != nh || proven.n != nh)
        fail_msg("%zu anchors and %zu proveGateway on chain for %zu heights used", anchors.n,
                 proven.n, nh);
    ethrpc_logs_free(&anchors);
    ethrpc_logs_free(&proven);
    return nh;
}

/* Gas of the facilitator's transactions in the windows. */
static uint64_t relay_gas(uint64_t from_o, uint64_t to_o, uint64_t from_a, uint64_t to_a,
                          size_t *txs)
{
    struct e2e_tx *v = NULL;
    uint64_t gas = 0;
    size_t n;

    *txs = 0;
    n = e2e_sent_by(&E.o, E.fac, from_o, to_o, &v);
    for (size_t i = 0; i < n; i++)
        gas += v[i].gas_used;
    *txs += n;
    free(v);
    n = e2e_sent_by(&E.a, E.fac, from_a, to_a, &v);
    for (size_t i = 0; i < n; i++)
        gas += v[i].gas_used;
    *txs += n;
    free(v);
    return gas;
}

/* ------------------------------------------------------------- tests -- */

static void test_burst_100(void **state)
{
    enum { N = 100 };
    struct e2e_msg *m;
    struct u256 fac_ut0, fac_bt0, vault0, sum = cl_u256(0), rewards;
    struct eth_logs confirmed;
    uint64_t from_o, from_a, to_o, to_a, first_decl = 0, last_decl = 0, last_mint = 0, gas;
    size_t heights, txs;

    E2E_REQUIRE(state);
    m = calloc(N, sizeof(*m));
    assert_non_null(m);
    e2e_quiet(&E);
    from_o = cl_block_number(&E.o) + 1;
    from_a = cl_block_number(&E.a) + 1;
    fac_ut0 = e2e_ut_of(&E, E.fac);
    fac_bt0 = e2e_bt_of(&E, E.fac);
    vault0 = e2e_vt_of(&E, E.vault);
    for (size_t i = 0; i < N; i++) {
        m[i].amount = cl_u256_e(1 + i % 10, 18);
        m[i].register_secret = 1;
        sum = cl_add(sum, m[i].amount);
    }
    e2e_daemon_start(&E);
    e2e_stake_burst(&E, m, N);
    e2e_wait_state(&E, m, N, "completed", 60);
    assert_int_equal(e2e_daemon_stop(&E), 0);
    to_o = cl_block_number(&E.o);
    to_a = cl_block_number(&E.a);
    rewards = check_stakes(m, N, from_o, to_o, from_a, to_a, &confirmed);
    heights = check_heights(&confirmed, from_a, to_a);
    cl_assert_u256("the facilitator's rewards", cl_sub(e2e_ut_of(&E, E.fac), fac_ut0), rewards);
    cl_assert_u256("the facilitator's bounties", cl_sub(e2e_bt_of(&E, E.fac), fac_bt0),
                   cl_u256(N * E2E_BOUNTY));
    cl_assert_u256("staked into the vault", cl_sub(e2e_vt_of(&E, E.vault), vault0), sum);
    for (size_t i = 0; i < N; i++) {
        first_decl = first_decl == 0 || m[i].block < first_decl ? m[i].block : first_decl;
        last_decl = m[i].block > last_decl ? m[i].block : last_decl;
    }
    for (size_t i = 0; i < confirmed.n; i++)
        last_mint = confirmed.v[i].block_number > last_mint ? confirmed.v[i].block_number
                                                            : last_mint;
    e2e_check_key(&E.o, E.fac);
    e2e_check_key(&E.a, E.fac);
    e2e_no_halts(&E);
    gas = relay_gas(from_o, to_o, from_a, to_a, &txs);
    print_message("burst of %d: declared in origin blocks %llu..%llu, confirmed by aux block "
                  "%llu; %zu height(s) anchored and proven; %zu relayer transactions, %llu relay "
                  "gas per message\n", N, (unsigned long long)first_decl,
                  (unsigned long long)last_decl, (unsigned long long)last_mint, heights, txs,
                  (unsigned long long)(gas / N));
    ethrpc_logs_free(&confirmed);
    free(m);
}

static void test_kill9_burst(void **state)
{
    size_t N = getenv("E2E_KILL_STAKES") != NULL ? strtoul(getenv("E2E_KILL_STAKES"), NULL, 10) : 30;
    struct e2e_msg *m;
    struct eth_logs confirmed;
    uint64_t from_o, from_a, to_o, to_a;
    unsigned seed, kills;

    E2E_REQUIRE(state);
    m = calloc(N, sizeof(*m));
    assert_non_null(m);
    assert_int_equal(sys_random(&seed, sizeof(seed)), 0);
    if (getenv("E2E_SEED") != NULL)
        seed = (unsigned)strtoul(getenv("E2E_SEED"), NULL, 10);
    srand(seed);
    kills = 3 + (unsigned)rand() % 3;
    if (getenv("E2E_KILLS") != NULL)
        kills = (unsigned)strtoul(getenv("E2E_KILLS"), NULL, 10);
    print_message("kill -9 test: %zu stakes, seed %u (E2E_SEED=%u repeats it), %u kills\n", N, seed,
                  seed, kills);
    from_o = cl_block_number(&E.o) + 1;
    from_a = cl_block_number(&E.a) + 1;
    for (size_t i = 0; i < N; i++) {
        m[i].amount = cl_u256_e(2 + i % 5, 18);
        m[i].register_secret = 1;
    }
    e2e_daemon_start(&E);
    /* The kills fall while the stakes are declared and relayed (the whole
     * burst takes a few one-second blocks). */
    e2e_stake_send(&E, m, N);
    for (unsigned k = 0; k < kills; k++) {
        long wait = 50 + rand() % 1200, pause = rand() % 300;
        size_t done, txs;
        tv_sleep_ms(wait);
        e2e_daemon_check(&E);
        done = k == 0 ? 0 : e2e_count_state(&E, m, N, "completed", NULL);
        txs = (size_t)tv_pg_int64(E.db, "SELECT count(*) FROM mosaic.transactions");
        print_message("kill %u after %ld ms (%zu messages completed, %zu transactions recorded),"
                      " restart after %ld ms\n", k + 1, wait, done, txs, pause);
        e2e_daemon_kill(&E);
        tv_sleep_ms(pause);
        e2e_daemon_restart(&E);
        if (k == 0)
            e2e_stake_collect(&E, m, N);
    }
    e2e_wait_state(&E, m, N, "completed", 60);
    assert_int_equal(e2e_daemon_stop(&E), 0);
    to_o = cl_block_number(&E.o);
    to_a = cl_block_number(&E.a);
    (void)check_stakes(m, N, from_o, to_o, from_a, to_a, &confirmed);
    for (size_t i = 0; i < N; i++) {
        assert_int_equal(e2e_status(&E, &m[i], 0), MOSAIC_PROGRESSED);
        assert_int_equal(e2e_status(&E, &m[i], 1), MOSAIC_PROGRESSED);
    }
    e2e_check_key(&E.o, E.fac);
    e2e_check_key(&E.a, E.fac);
    e2e_no_halts(&E);
    ethrpc_logs_free(&confirmed);
    free(m);
}

/* The organization owner anchors `c`'s state root at `height` into
 * `anchor` on the other chain. */
static void owner_anchor(struct cl_chain *on, const uint8_t anchor[20], struct cl_chain *about,
                         uint64_t height)
{
    struct abi_value args[2];
    struct eth_block b;
    struct eth_receipt r;
    uint8_t *cd;
    size_t len;

    cl_block(about, height, &b);
    args[0] = abi_v_uint(height);
    args[1] = abi_v_bytes(b.state_root, 32);
    cl_calldata("anchorStateRoot(uint256,bytes32)", args, 2, &cd, &len);
    cl_send(on, "anchorStateRoot (owner)", E.holder, anchor, NULL, cd, len, &r);
    ethrpc_receipt_free(&r);
    free(cd);
}

static void test_six_flows(void **state)
{
    struct e2e_msg s[4], r[3];
    struct u256 penalty = cl_u256(E2E_BOUNTY * 3 / 2), bounty = cl_u256(E2E_BOUNTY);
    struct u256 fac_ut0, fac_bt0, vault0, fac_vt0, fac_eth_a0, fac_eth_o0, red_ut[3], rw;
    struct abi_value args[2];
    uint8_t red[3][20];
    uint64_t b_o, b_a, e_o, e_a;

    E2E_REQUIRE(state);
    e2e_quiet(&E);
    memset(s, 0, sizeof(s));
    memset(r, 0, sizeof(r));
    for (int i = 0; i < 3; i++)
        cl_new_account(&E.a, 10, red[i]);
    b_o = cl_block_number(&E.o) + 1;
    b_a = cl_block_number(&E.a) + 1;
    fac_ut0 = e2e_ut_of(&E, E.fac);
    fac_bt0 = e2e_bt_of(&E, E.fac);
    vault0 = e2e_vt_of(&E, E.vault);

    /* Phase A, the relayer stopped: a stake that its staker reverts after
     * the organization anchored the stake's block (§5.3). */
    s[3].amount = cl_u256_e(4, 18);
    s[3].register_secret = 1;
    e2e_stake_burst(&E, &s[3], 1);
    owner_anchor(&E.a, E.anchor_a, &E.o, s[3].block);
    args[0] = abi_v_address(s[3].sender);
    args[1] = abi_v_u256(&penalty);
    e2e_send_call(&E.o, "bt.transfer (penalty)", E.holder, E.bt, NULL, "transfer(address,uint256)",
                  args, 2, NULL, NULL);
    args[0] = abi_v_address(E.gw);
    e2e_send_call(&E.o, "bt.approve (penalty)", s[3].sender, E.bt, NULL,
                  "approve(address,uint256)", args, 2, NULL, NULL);
    args[0] = abi_v_bytes(s[3].mh, 32);
    e2e_send_call(&E.o, "revertStake", s[3].sender, E.gw, NULL, "revertStake(bytes32)", args, 1,
                  NULL, NULL);
    assert_int_equal(e2e_status(&E, &s[3], 0), MOSAIC_DECLARED_REVOCATION);

    /* Phase B, the relayer running: §5.1 (secret registered) twice, §5.2
     * (the secret is not the relayer's), each to a future redeemer. */
    e2e_daemon_start(&E);
    for (int i = 0; i < 3; i++) {
        s[i].amount = cl_u256_e(10 + (uint64_t)i, 18);
        s[i].register_secret = i != 1;
        memcpy(s[i].beneficiary, red[i], 20);
    }
    e2e_stake_burst(&E, s, 3);
    e2e_wait_state(&E, s, 3, "completed", 60);
    e2e_wait_state(&E, &s[3], 1, "reverted", 60);
    assert_int_equal(e2e_daemon_stop(&E), 0);
    e2e_quiet(&E);
    e_o = cl_block_number(&E.o);
    e_a = cl_block_number(&E.a);
    rw = cl_u256(0);
    for (int i = 0; i < 3; i++) {
        red_ut[i] = e2e_ut_of(&E, red[i]);
        rw = cl_add(rw, e2e_target_reward(&E.a, E.cogw, E2E_MINT_PROGRESSED, &s[i], b_a, e_a,
                                          red_ut[i], i == 1));
        assert_int_equal(e2e_status(&E, &s[i], 0), MOSAIC_PROGRESSED);
        assert_int_equal(e2e_status(&E, &s[i], 1), MOSAIC_PROGRESSED);
    }
    cl_assert_u256("the facilitator's rewards", cl_sub(e2e_ut_of(&E, E.fac), fac_ut0), rw);
    /* Three bounties (progressStake twice, progressStakeWithProof); the
     * reverted stake's bounty is burned. */
    cl_assert_u256("the facilitator's bounties", cl_sub(e2e_bt_of(&E, E.fac), fac_bt0),
                   cl_mul(bounty, cl_u256(3)));
    cl_assert_u256("the reverted stake back", e2e_vt_of(&E, s[3].sender), s[3].amount);
    cl_assert_u256("the reverted staker's base tokens", e2e_bt_of(&E, s[3].sender), cl_u256(0));
    cl_assert_u256("the vault", cl_sub(e2e_vt_of(&E, E.vault), vault0),
                   cl_add(cl_add(s[0].amount, s[1].amount), s[2].amount));
    assert_int_equal(e2e_status(&E, &s[3], 0), MOSAIC_REVOKED);
    assert_int_equal(e2e_status(&E, &s[3], 1), MOSAIC_REVOKED);

    /* Phase C, the relayer stopped: a redeem that its redeemer reverts
     * after the organization anchored the redeem's block (§5.5). */
    b_o = cl_block_number(&E.o) + 1;
    b_a = cl_block_number(&E.a) + 1;
    fac_vt0 = e2e_vt_of(&E, E.fac);
    vault0 = e2e_vt_of(&E, E.vault);
    fac_eth_a0 = cl_balance(&E.a, E.fac);
    fac_eth_o0 = cl_balance(&E.o, E.fac);
    memcpy(r[2].sender, red[2], 20);
    r[2].amount = red_ut[2];
    r[2].register_secret = 1;
    e2e_redeem_burst(&E, &r[2], 1);
    owner_anchor(&E.o, E.anchor_o, &E.a, r[2].block);
    args[0] = abi_v_bytes(r[2].mh, 32);
    e2e_send_call(&E.a, "revertRedeem", red[2], E.cogw, &penalty, "revertRedeem(bytes32)", args, 1,
                  NULL, NULL);
    assert_int_equal(e2e_status(&E, &r[2], 0), MOSAIC_DECLARED_REVOCATION);

    /* Phase D, the relayer running: §5.4 by hashlock (half of the tokens)
     * and by proof (all of them). */
    e2e_daemon_start(&E);
    memcpy(r[0].sender, red[0], 20);
    assert_int_equal(u256_divmod_u64(&r[0].amount, &red_ut[0], 2, NULL), MR_OK);
    r[0].register_secret = 1;
    memcpy(r[1].sender, red[1], 20);
    r[1].amount = red_ut[1];
    r[1].register_secret = 0;
    e2e_redeem_burst(&E, r, 2);
    e2e_wait_state(&E, r, 2, "completed", 60);
    e2e_wait_state(&E, &r[2], 1, "reverted", 60);
    assert_int_equal(e2e_daemon_stop(&E), 0);
    e2e_quiet(&E);
    e_o = cl_block_number(&E.o);
    e_a = cl_block_number(&E.a);
    rw = cl_u256(0);
    for (int i = 0; i < 2; i++) {
        rw = cl_add(rw, e2e_target_reward(&E.o, E.gw, E2E_UNSTAKE_PROGRESSED, &r[i], b_o, e_o,
                                          e2e_vt_of(&E, r[i].beneficiary), i == 1));
        assert_int_equal(e2e_status(&E, &r[i], 0), MOSAIC_PROGRESSED);
        assert_int_equal(e2e_status(&E, &r[i], 1), MOSAIC_PROGRESSED);
    }
    cl_assert_u256("the facilitator's unstake rewards", cl_sub(e2e_vt_of(&E, E.fac), fac_vt0), rw);
    cl_assert_u256("the vault", cl_sub(vault0, e2e_vt_of(&E, E.vault)),
                   cl_add(r[0].amount, r[1].amount));
    cl_assert_u256("the first redeemer's rest", e2e_ut_of(&E, red[0]),
                   cl_sub(red_ut[0], r[0].amount));
    cl_assert_u256("the second redeemer's rest", e2e_ut_of(&E, red[1]), cl_u256(0));
    cl_assert_u256("the reverted redeem back", e2e_ut_of(&E, red[2]), red_ut[2]);
    assert_int_equal(e2e_status(&E, &r[2], 0), MOSAIC_REVOKED);
    assert_int_equal(e2e_status(&E, &r[2], 1), MOSAIC_REVOKED);
    /* Native coin: two redeem bounties (progressRedeem and
     * progressRedeemWithProof) minus the fees of every transaction the
     * facilitator sent on the auxiliary chain; only fees on origin. */
    cl_assert_u256("the facilitator's coin on aux",
                   cl_add(cl_balance(&E.a, E.fac), e2e_fees(&E, &E.a, b_a, e_a)),
                   cl_add(fac_eth_a0, cl_mul(bounty, cl_u256(2))));
    cl_assert_u256("the facilitator's coin on origin",
                   cl_add(cl_balance(&E.o, E.fac), e2e_fees(&E, &E.o, b_o, e_o)), fac_eth_o0);
    e2e_check_key(&E.o, E.fac);
    e2e_check_key(&E.a, E.fac);
    e2e_no_halts(&E);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_burst_100),
        cmocka_unit_test(test_kill9_burst),
        cmocka_unit_test(test_six_flows),
    };
    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, group_setup, e2e_group_teardown);
}
