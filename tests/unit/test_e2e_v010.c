/*
 * test_e2e_v010.c - the relayer against gateways in Mosaic 0.10.0's layout
 * (mosaic-protocol.md 1.3, 1.4): the message box at storage slots 7/8, a
 * sender's first nonce 1, no MESSAGE_BOX_OFFSET() getter (a call reverts),
 * constructors without _maxStorageRootItems.  The gateway set is the test
 * variant contracts/build.mjs compiles from the @v010 markers of the
 * contracts/ sources into build/contracts/v010, deployed by `mosaic-relayer
 * deploy` (e2elib, contracts_dir) on two anvil chains of this test's own at
 * one block a second; the daemon runs as a process.
 *
 *   - the layout: flow_box_offset() answers 7 for both variant gateways and
 *     9 for a default-layout gateway deployed next to them; the variant's
 *     MESSAGE_BOX_OFFSET() reverts; getNonce of a new account is 1;
 *   - stake & mint and redeem & unstake through the daemon, by hashlock and
 *     by proof (storage proofs of slots 7 and 8, which the contracts check
 *     against their own offset), and a sender's second stake (nonce 2, the
 *     previous one followed on the target): balances to the wei, and the
 *     statuses read straight from storage at slots 7/8 (nothing at 9/10).
 */
#include "tests/lib/testlib.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "chain/rpc.h"
#include "eth/hex.h"
#include "relayer/config.h"
#include "relayer/flows/flows_int.h"
#include "relayer/sysrand.h"
#include "tests/lib/e2elib.h"

static struct e2e E;

static int group_setup(void **state)
{
    struct e2e_opts o;

    memset(&o, 0, sizeof(o));
    o.anvil_args = "--block-time 1";
    o.workers = 2;
    o.contracts_dir = "build/contracts/v010";
    return e2e_group_setup(state, &E, &o);
}

/* The storage word at `slot` of `addr`. */
static void storage_word(struct cl_chain *c, const uint8_t addr[20], const uint8_t slot[32],
                         uint8_t w[32])
{
    char a[43], s[67];
    json_t *res = NULL;
    struct mr_error err;

    hex_encode_data(addr, 20, a, sizeof(a));
    hex_encode_data(slot, 32, s, sizeof(s));
    if (rpc_call(c->ep, "eth_getStorageAt", json_pack("[sss]", a, s, "latest"), &res, NULL, &err) !=
        MR_OK)
        fail_msg("%s eth_getStorageAt: %s", c->label, err.msg);
    if (!json_is_string(res) ||
        hex_decode_fixed(json_string_value(res), json_string_length(res), w, 32, NULL) != MR_OK)
        fail_msg("%s eth_getStorageAt: not a 32-byte word", c->label);
    json_decref(res);
}

static void assert_word(const char *what, const uint8_t w[32], const uint8_t want[32])
{
    if (memcmp(w, want, 32) != 0) {
        char h[67], x[67];
        hex_encode_data(w, 32, h, sizeof(h));
        hex_encode_data(want, 32, x, sizeof(x));
        fail_msg("%s: storage holds %s, expected %s", what, h, x);
    }
}

/* The message's statuses in storage: outbox on the source gateway at
 * keccak(mh . 7), inbox on the target at keccak(mh . 8), both `want`.
 * Where 0.11+ keeps them, this layout has other things: keccak(mh . 9) is
 * messages[mh] (its first word, the intent hash, while the entry lives),
 * keccak(mh . 10) storageRoots[uint(mh)], nothing. */
static void check_slots(const struct e2e_msg *m, int want)
{
    int stake = m->kind == MOSAIC_STAKE;
    struct cl_chain *src = stake ? &E.o : &E.a, *tgt = stake ? &E.a : &E.o;
    const uint8_t *sg = stake ? E.gw : E.cogw, *tg = stake ? E.cogw : E.gw;
    uint8_t slot[32], w[32], x[32] = {0}, *out = NULL;
    struct abi_value arg = abi_v_bytes(m->mh, 32);
    size_t len = 0;

    x[31] = (uint8_t)want;
    mosaic_outbox_slot(m->mh, MOSAIC_MESSAGE_BOX_OFFSET_V010, slot);
    storage_word(src, sg, slot, w);
    assert_word("the outbox at keccak(mh . 7)", w, x);
    mosaic_inbox_slot(m->mh, MOSAIC_MESSAGE_BOX_OFFSET_V010, slot);
    storage_word(tgt, tg, slot, w);
    assert_word("the inbox at keccak(mh . 8)", w, x);
    mosaic_outbox_slot(m->mh, MOSAIC_MESSAGE_BOX_OFFSET, slot);
    storage_word(src, sg, slot, w);
    {
        uint8_t *cd;
        size_t cl;
        cl_calldata("messages(bytes32)", &arg, 1, &cd, &cl);
        cl_call(src, NULL, sg, cd, cl, &out, &len);
        free(cd);
    }
    assert_true(len >= 32);
    assert_word("messages[mh].intentHash at keccak(mh . 9)", w, out);
    free(out);
    mosaic_inbox_slot(m->mh, MOSAIC_MESSAGE_BOX_OFFSET, slot);
    storage_word(tgt, tg, slot, w);
    memset(x, 0, 32);
    assert_word("keccak(mh . 10)", w, x);
}

/* e2e_no_halts, and no transaction failed. */
static void no_halts(void)
{
    e2e_no_halts(&E);
    assert_int_equal(tv_pg_int64(E.db, "SELECT count(*) FROM mosaic.transactions WHERE"
                                       " receipt_status = 0 OR state = 'failed'"), 0);
}

/* ------------------------------------------------------------- tests -- */

static void test_layout(void **state)
{
    struct config *cfg = NULL;
    struct flow_ctx ctx;
    struct mr_error err;
    struct abi_value args[7];
    struct artifact_lib lib;
    struct u256 bounty = cl_u256(E2E_BOUNTY), items = cl_u256(100), nonce, org;
    uint8_t sel[4], w[32], zero[20] = {0}, someone[20], def[20];
    int off = -1, o, a;

    E2E_REQUIRE(state);
    /* The variant answers no MESSAGE_BOX_OFFSET() and starts nonces at 1. */
    e2e_selector("MESSAGE_BOX_OFFSET()", sel);
    assert_int_equal(cl_call_word(&E.o, E.gw, sel, 4, w, NULL, 0), 0);
    assert_int_equal(cl_call_word(&E.a, E.cogw, sel, 4, w, NULL, 0), 0);
    assert_int_equal(sys_random(someone, 20), 0);
    args[0] = abi_v_address(someone);
    nonce = cl_view_u256(&E.o, E.gw, "getNonce(address)", args, 1);
    cl_assert_u256("the gateway's first nonce", nonce, cl_u256(1));
    nonce = cl_view_u256(&E.a, E.cogw, "getNonce(address)", args, 1);
    cl_assert_u256("the co-gateway's first nonce", nonce, cl_u256(1));

    /* A default-layout gateway next to it (build/contracts). */
    lib.name = "MerklePatriciaProof";
    cl_deploy(&E.o, E.holder, "MerklePatriciaProof", NULL, 0, NULL, 0, lib.address, NULL);
    args[0] = abi_v_address(E.vt);
    args[1] = abi_v_address(E.bt);
    args[2] = abi_v_address(E.anchor_o);
    args[3] = abi_v_u256(&bounty);
    org = cl_view_u256(&E.o, E.gw, "organization()", NULL, 0);
    u256_to_be32(&org, w);
    args[4] = abi_v_address(w + 12);
    args[5] = abi_v_address(zero);
    args[6] = abi_v_u256(&items);
    cl_deploy(&E.o, E.holder, "EIP20Gateway", &lib, 1, args, 7, def, NULL);
    assert_int_equal(cl_call_word(&E.o, def, sel, 4, w, NULL, 0), 1);
    assert_int_equal(w[31], MOSAIC_MESSAGE_BOX_OFFSET);

    /* What the relayer detects. */
    if (config_load(E.cfg, &cfg, &err) != MR_OK)
        fail_msg("run config: %s", err.msg);
    o = cfg->gateways[0].origin.chain;
    a = cfg->gateways[0].auxiliary.chain;
    flow_ctx_init(&ctx, cfg, E.fac, 0, NULL);
    assert_int_equal(flow_box_offset(&ctx, o, E.gw, &off, &err), MR_OK);
    assert_int_equal(off, MOSAIC_MESSAGE_BOX_OFFSET_V010);
    off = -1;
    assert_int_equal(flow_box_offset(&ctx, a, E.cogw, &off, &err), MR_OK);
    assert_int_equal(off, MOSAIC_MESSAGE_BOX_OFFSET_V010);
    off = -1;
    assert_int_equal(flow_box_offset(&ctx, o, def, &off, &err), MR_OK);
    assert_int_equal(off, MOSAIC_MESSAGE_BOX_OFFSET);
    /* Cached: the same answers again. */
    assert_int_equal(flow_box_offset(&ctx, o, E.gw, &off, &err), MR_OK);
    assert_int_equal(off, MOSAIC_MESSAGE_BOX_OFFSET_V010);
    flow_thread_release();
    flow_ctx_destroy(&ctx);
    config_free(cfg);
}

static void test_stake_and_redeem(void **state)
{
    struct e2e_msg s[3], r[2];
    struct u256 fac_ut0, fac_bt0, vault0, fac_vt0, fac_eth_a0, fac_eth_o0, red_ut[2], rw;
    struct u256 bounty = cl_u256(E2E_BOUNTY);
    uint8_t red[2][20];
    uint64_t b_o, b_a, e_o, e_a;

    E2E_REQUIRE(state);
    e2e_quiet(&E);
    memset(s, 0, sizeof(s));
    memset(r, 0, sizeof(r));
    for (int i = 0; i < 2; i++)
        cl_new_account(&E.a, 10, red[i]);
    b_o = cl_block_number(&E.o) + 1;
    b_a = cl_block_number(&E.a) + 1;
    fac_ut0 = e2e_ut_of(&E, E.fac);
    fac_bt0 = e2e_bt_of(&E, E.fac);
    vault0 = e2e_vt_of(&E, E.vault);

    /* Two stakes, by hashlock and by proof (the secret is not the
     * relayer's), each the sender's first message: nonce 1. */
    e2e_daemon_start(&E);
    for (int i = 0; i < 2; i++) {
        s[i].amount = cl_u256_e(10 + (uint64_t)i, 18);
        s[i].register_secret = i == 0;
        memcpy(s[i].beneficiary, red[i], 20);
    }
    e2e_stake_burst(&E, s, 2);
    assert_int_equal(s[0].nonce, 1);
    assert_int_equal(s[1].nonce, 1);
    e2e_wait_state(&E, s, 2, "completed", 60);
    /* The first staker's second stake: nonce 2, after the first on the
     * target. */
    memcpy(s[2].sender, s[0].sender, 20);
    memcpy(s[2].beneficiary, red[0], 20);
    s[2].amount = cl_u256_e(3, 18);
    s[2].register_secret = 1;
    e2e_stake_burst(&E, &s[2], 1);
    assert_int_equal(s[2].nonce, 2);
    e2e_wait_state(&E, &s[2], 1, "completed", 60);
    assert_int_equal(e2e_daemon_stop(&E), 0);
    e2e_quiet(&E);
    e_o = cl_block_number(&E.o);
    e_a = cl_block_number(&E.a);
    rw = cl_u256(0);
    {
        struct eth_logs l;
        struct u256 got0 = cl_u256(0);
        e2e_logs(&E.a, E.cogw, E2E_MINT_PROGRESSED, b_a, e_a, &l);
        assert_int_equal(l.n, 3);
        for (int i = 0; i < 3; i++) {
            const struct eth_log *e = e2e_one_log(&l, s[i].mh, E2E_MINT_PROGRESSED);
            cl_assert_u256("amount", e2e_word(e, 2), s[i].amount);
            cl_assert_u256("minted + reward", cl_add(e2e_word(e, 3), e2e_word(e, 4)),
                           s[i].amount);
            assert_int_equal(e2e_word_u64(e, 5), i == 1);
            rw = cl_add(rw, e2e_word(e, 4));
            if (i != 1)
                got0 = cl_add(got0, e2e_word(e, 3));
            else
                cl_assert_u256("the second beneficiary", e2e_ut_of(&E, red[1]), e2e_word(e, 3));
            check_slots(&s[i], MOSAIC_PROGRESSED);
        }
        cl_assert_u256("the first beneficiary (two mints)", e2e_ut_of(&E, red[0]), got0);
        ethrpc_logs_free(&l);
    }
    cl_assert_u256("the facilitator's rewards", cl_sub(e2e_ut_of(&E, E.fac), fac_ut0), rw);
    cl_assert_u256("the facilitator's bounties", cl_sub(e2e_bt_of(&E, E.fac), fac_bt0),
                   cl_mul(bounty, cl_u256(3)));
    cl_assert_u256("the vault", cl_sub(e2e_vt_of(&E, E.vault), vault0),
                   cl_add(cl_add(s[0].amount, s[1].amount), s[2].amount));

    /* Two redeems back, by hashlock (half) and by proof (all). */
    b_o = cl_block_number(&E.o) + 1;
    b_a = cl_block_number(&E.a) + 1;
    fac_vt0 = e2e_vt_of(&E, E.fac);
    vault0 = e2e_vt_of(&E, E.vault);
    fac_eth_a0 = cl_balance(&E.a, E.fac);
    fac_eth_o0 = cl_balance(&E.o, E.fac);
    for (int i = 0; i < 2; i++)
        red_ut[i] = e2e_ut_of(&E, red[i]);
    e2e_daemon_start(&E);
    memcpy(r[0].sender, red[0], 20);
    assert_int_equal(u256_divmod_u64(&r[0].amount, &red_ut[0], 2, NULL), MR_OK);
    r[0].register_secret = 1;
    memcpy(r[1].sender, red[1], 20);
    r[1].amount = red_ut[1];
    r[1].register_secret = 0;
    e2e_redeem_burst(&E, r, 2);
    assert_int_equal(r[0].nonce, 1);
    assert_int_equal(r[1].nonce, 1);
    e2e_wait_state(&E, r, 2, "completed", 60);
    assert_int_equal(e2e_daemon_stop(&E), 0);
    e2e_quiet(&E);
    e_o = cl_block_number(&E.o);
    e_a = cl_block_number(&E.a);
    rw = cl_u256(0);
    for (int i = 0; i < 2; i++) {
        rw = cl_add(rw, e2e_target_reward(&E.o, E.gw, E2E_UNSTAKE_PROGRESSED, &r[i], b_o, e_o,
                                          e2e_vt_of(&E, r[i].beneficiary), i == 1));
        check_slots(&r[i], MOSAIC_PROGRESSED);
    }
    cl_assert_u256("the facilitator's unstake rewards", cl_sub(e2e_vt_of(&E, E.fac), fac_vt0), rw);
    cl_assert_u256("the vault", cl_sub(vault0, e2e_vt_of(&E, E.vault)),
                   cl_add(r[0].amount, r[1].amount));
    cl_assert_u256("the first redeemer's rest", e2e_ut_of(&E, red[0]),
                   cl_sub(red_ut[0], r[0].amount));
    cl_assert_u256("the second redeemer's rest", e2e_ut_of(&E, red[1]), cl_u256(0));
    cl_assert_u256("the facilitator's coin on aux",
                   cl_add(cl_balance(&E.a, E.fac), e2e_fees(&E, &E.a, b_a, e_a)),
                   cl_add(fac_eth_a0, cl_mul(bounty, cl_u256(2))));
    cl_assert_u256("the facilitator's coin on origin",
                   cl_add(cl_balance(&E.o, E.fac), e2e_fees(&E, &E.o, b_o, e_o)), fac_eth_o0);
    e2e_check_key(&E.o, E.fac);
    e2e_check_key(&E.a, E.fac);
    no_halts();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layout),
        cmocka_unit_test(test_stake_and_redeem),
    };
    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, group_setup, e2e_group_teardown);
}
