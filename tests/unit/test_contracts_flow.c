/*
 * test_contracts_flow.c - our contracts on the suite's two anvil chains
 * (ORIGIN 31337 and AUX 1405), driven by our own C code:
 *   - the one-time setup of mosaic-protocol.md section 5.0 on both chains;
 *   - stake & mint by hashlock (section 5.1) and redeem & unstake by
 *     hashlock (section 5.4), twice each for the same senders (nonces 0 and
 *     1; the second round also gives steady-state gas figures),
 * with real eth_getProof answers: each account and storage proof is checked
 * by our C verifier (eth/mpt.c) before it is sent, and the contract's
 * MerklePatriciaProof library (eth_call) must agree with the C verifier on
 * it and on tampered copies (tests/lib/mosaicnet.c).  Balances of the value
 * token, the utility token, the base-token and native bounties and the
 * rewards are checked to the wei.
 *
 * The gas of each call is printed as "gas: <call> <n>" (#1 first round,
 * #2 second round).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relayer/sysrand.h"
#include "tests/lib/chainlib.h"
#include "tests/lib/mosaicnet.h"
#include "tests/lib/testlib.h"

/* ---- 5.1: stake and mint by hashlock ---- */

static void stake_and_mint(struct mn_net *n, struct mn_msg *m, const char *sfx)
{
    struct eth_receipt r;
    const struct eth_log *l;
    struct u256 vt_staker, bt_staker, bt_fac, vault, ut_ben, ut_fac, supply, reward;
    char label[64];
    uint64_t block;

    vt_staker = cl_token_balance(&n->o, n->vt, n->staker);
    bt_staker = cl_token_balance(&n->o, n->bt, n->staker);
    bt_fac = cl_token_balance(&n->o, n->bt, n->o_fac);
    vault = cl_token_balance(&n->o, n->vt, n->vault);
    ut_ben = cl_token_balance(&n->a, n->ut, m->beneficiary);
    ut_fac = cl_token_balance(&n->a, n->ut, n->a_fac);
    supply = mn_view(&n->a, n->ut, "totalSupply()", NULL, 0);
    {
        struct abi_value a = abi_v_address(n->staker);
        assert_int_equal(mn_u64(mn_view(&n->o, n->gw, "getNonce(address)", &a, 1)), m->nonce);
    }

    /* 1-2. approve and stake (origin); 3-5. anchor, prove, confirm (auxiliary). */
    block = mn_stake(n, m, sfx);
    cl_assert_u256("penalty", mn_view_mh(&n->o, n->gw, "penalty(bytes32)", m->mh),
                   cl_u256_e(45, 15)); /* 1.5 x 0.03 */
    mn_confirm_stake(n, m, block, sfx);

    /* 6. progressStake (origin): the stake into the vault, the bounty to the caller. */
    {
        struct abi_value args[2] = {abi_v_bytes(m->mh, 32), abi_v_bytes(m->secret, 32)};
        snprintf(label, sizeof(label), "progressStake%s", sfx);
        mn_tx(&n->o, label, n->o_fac, n->gw, NULL, "progressStake(bytes32,bytes32)", args, 2, &r);
    }
    l = mn_need_log(&r, n->gw, "StakeProgressed(bytes32,address,uint256,uint256,bool,bytes32)");
    assert_int_equal(mn_u64(mn_log_word(l, 3)), 0);
    assert_memory_equal(l->data + 4 * 32, m->secret, 32);
    ethrpc_receipt_free(&r);
    assert_int_equal(mn_u64(mn_view_mh(&n->o, n->gw, "getOutboxMessageStatus(bytes32)", m->mh)),
                     2);

    /* 7. progressMint (auxiliary): amount - reward to the beneficiary, the reward to the caller. */
    {
        struct abi_value args[2] = {abi_v_bytes(m->mh, 32), abi_v_bytes(m->secret, 32)};
        snprintf(label, sizeof(label), "progressMint%s", sfx);
        mn_tx(&n->a, label, n->a_fac, n->cgw, NULL, "progressMint(bytes32,bytes32)", args, 2, &r);
    }
    l = mn_need_log(&r, n->cgw,
                    "MintProgressed(bytes32,address,address,uint256,uint256,uint256,bool,bytes32)");
    reward = mn_expected_reward(&n->a, n->cgw, m->mh, m->gas_price, m->gas_limit);
    cl_assert_u256("MintProgressed stakeAmount", mn_log_word(l, 2), m->amount);
    cl_assert_u256("MintProgressed mintedAmount", mn_log_word(l, 3), cl_sub(m->amount, reward));
    cl_assert_u256("MintProgressed rewardAmount", mn_log_word(l, 4), reward);
    ethrpc_receipt_free(&r);
    assert_int_equal(mn_u64(mn_view_mh(&n->a, n->cgw, "getInboxMessageStatus(bytes32)", m->mh)),
                     2);

    /* Balances, to the wei (the staker was funded with exactly amount and bounty). */
    cl_assert_u256("staker value tokens", cl_token_balance(&n->o, n->vt, n->staker), vt_staker);
    cl_assert_u256("vault value tokens", cl_token_balance(&n->o, n->vt, n->vault),
                   cl_add(vault, m->amount));
    cl_assert_u256("gateway value tokens", cl_token_balance(&n->o, n->vt, n->gw), cl_u256(0));
    cl_assert_u256("staker base tokens", cl_token_balance(&n->o, n->bt, n->staker), bt_staker);
    cl_assert_u256("facilitator bounty", cl_token_balance(&n->o, n->bt, n->o_fac),
                   cl_add(bt_fac, n->bounty));
    cl_assert_u256("gateway base tokens", cl_token_balance(&n->o, n->bt, n->gw), cl_u256(0));
    cl_assert_u256("beneficiary utility tokens", cl_token_balance(&n->a, n->ut, m->beneficiary),
                   cl_add(ut_ben, cl_sub(m->amount, reward)));
    cl_assert_u256("facilitator reward", cl_token_balance(&n->a, n->ut, n->a_fac),
                   cl_add(ut_fac, reward));
    cl_assert_u256("utility supply", mn_view(&n->a, n->ut, "totalSupply()", NULL, 0),
                   cl_add(supply, m->amount));
    {
        struct abi_value a = abi_v_address(n->staker);
        assert_int_equal(mn_u64(mn_view(&n->o, n->gw, "getNonce(address)", &a, 1)), m->nonce + 1);
    }
}

/* ---- 5.4: redeem and unstake by hashlock ---- */

static void redeem_and_unstake(struct mn_net *n, struct mn_msg *m, const char *sfx)
{
    struct eth_receipt r;
    const struct eth_log *l;
    struct u256 ut_red, ut_supply, native_red, native_fac, vt_ben, vt_fac, vault, reward;
    char label[64];
    uint64_t block;

    ut_red = cl_token_balance(&n->a, n->ut, n->redeemer);
    ut_supply = mn_view(&n->a, n->ut, "totalSupply()", NULL, 0);
    native_fac = cl_balance(&n->a, n->a_fac);
    vt_ben = cl_token_balance(&n->o, n->vt, m->beneficiary);
    vt_fac = cl_token_balance(&n->o, n->vt, n->o_fac);
    vault = cl_token_balance(&n->o, n->vt, n->vault);

    /* 1-2. approve and redeem{value: bounty} (auxiliary). */
    native_red = cl_balance(&n->a, n->redeemer);
    block = mn_redeem(n, m, sfx);
    cl_assert_u256("co-gateway holds the redeemed tokens", cl_token_balance(&n->a, n->ut, n->cgw),
                   m->amount);
    cl_assert_u256("co-gateway holds the bounty", cl_balance(&n->a, n->cgw), n->bounty);
    assert_true(u256_cmp(&native_red, &n->bounty) > 0);

    /* 3-5. anchor, prove, confirmRedeemIntent (origin). */
    mn_confirm_redeem(n, m, block, sfx);

    /* 6. progressRedeem (auxiliary): burn, the native bounty to the caller. */
    {
        struct abi_value args[2] = {abi_v_bytes(m->mh, 32), abi_v_bytes(m->secret, 32)};
        snprintf(label, sizeof(label), "progressRedeem%s", sfx);
        mn_tx(&n->a, label, n->a_fac, n->cgw, NULL, "progressRedeem(bytes32,bytes32)", args, 2,
              &r);
    }
    mn_need_log(&r, n->cgw, "RedeemProgressed(bytes32,address,uint256,uint256,bool,bytes32)");
    cl_assert_u256("facilitator native bounty", cl_balance(&n->a, n->a_fac),
                   cl_sub(cl_add(native_fac, n->bounty), mn_gas_cost(&r)));
    ethrpc_receipt_free(&r);
    cl_assert_u256("co-gateway native", cl_balance(&n->a, n->cgw), cl_u256(0));
    cl_assert_u256("utility supply after burn", mn_view(&n->a, n->ut, "totalSupply()", NULL, 0),
                   cl_sub(ut_supply, m->amount));
    cl_assert_u256("redeemer utility tokens", cl_token_balance(&n->a, n->ut, n->redeemer),
                   cl_sub(ut_red, m->amount));
    cl_assert_u256("co-gateway utility tokens", cl_token_balance(&n->a, n->ut, n->cgw), cl_u256(0));
    assert_int_equal(mn_u64(mn_view_mh(&n->a, n->cgw, "getOutboxMessageStatus(bytes32)", m->mh)),
                     2);

    /* 7. progressUnstake (origin): amount - reward to the beneficiary, the reward to the caller. */
    {
        struct abi_value args[2] = {abi_v_bytes(m->mh, 32), abi_v_bytes(m->secret, 32)};
        snprintf(label, sizeof(label), "progressUnstake%s", sfx);
        mn_tx(&n->o, label, n->o_fac, n->gw, NULL, "progressUnstake(bytes32,bytes32)", args, 2,
              &r);
    }
    l = mn_need_log(&r, n->gw, "UnstakeProgressed(bytes32,address,address,uint256,uint256,"
                           "uint256,bool,bytes32)");
    reward = mn_expected_reward(&n->o, n->gw, m->mh, m->gas_price, m->gas_limit);
    cl_assert_u256("UnstakeProgressed redeemAmount", mn_log_word(l, 2), m->amount);
    cl_assert_u256("UnstakeProgressed unstakeAmount", mn_log_word(l, 3), cl_sub(m->amount, reward));
    cl_assert_u256("UnstakeProgressed rewardAmount", mn_log_word(l, 4), reward);
    ethrpc_receipt_free(&r);
    assert_int_equal(mn_u64(mn_view_mh(&n->o, n->gw, "getInboxMessageStatus(bytes32)", m->mh)),
                     2);
    cl_assert_u256("unstake beneficiary", cl_token_balance(&n->o, n->vt, m->beneficiary),
                   cl_add(vt_ben, cl_sub(m->amount, reward)));
    cl_assert_u256("facilitator reward", cl_token_balance(&n->o, n->vt, n->o_fac),
                   cl_add(vt_fac, reward));
    cl_assert_u256("vault after unstake", cl_token_balance(&n->o, n->vt, n->vault),
                   cl_sub(vault, m->amount));
}

static void test_hashlock_flows(void **state)
{
    struct mn_net n;
    struct mn_msg m;
    uint8_t unstake_ben[20], zero[20] = {0};

    (void)state;
    TV_REQUIRE_ANVIL();
    mn_setup(&n, zero); /* burner 0, as the deploy tool has it */
    assert_int_equal(sys_random(unstake_ben, 20), 0);

    /* Round 1: fresh contracts and accounts; nonzero gas prices (rewards). */
    mn_new_msg(&m, 0, cl_u256_e(1000, 18), 1, 1000000, n.redeemer);
    stake_and_mint(&n, &m, "#1");
    mn_new_msg(&m, 0, cl_u256_e(400, 18), 2, 600000, unstake_ben);
    redeem_and_unstake(&n, &m, "#1");

    /* Round 2: the same senders again (nonce 1: the previous message is
     * finished) with warm storage; a zero gas price (no reward), and a gas
     * limit below the gas used (the reward is capped). */
    mn_new_msg(&m, 1, cl_u256_e(250, 18), 0, 0, n.redeemer);
    stake_and_mint(&n, &m, "#2");
    mn_new_msg(&m, 1, cl_u256_e(100, 18), 3, 50000, unstake_ben);
    redeem_and_unstake(&n, &m, "#2");
    mn_teardown(&n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hashlock_flows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
