/*
 * test_contracts_paths.c - the other paths of mosaic-protocol.md section 5
 * on the suite's two anvils, and what must be refused:
 *   - stake & mint and redeem & unstake by proofs only (section 5.2 and the
 *     proof variants of 5.4), with a proveGateway replay;
 *   - stake revert (5.3) and redeem revert (5.5), penalties and bounties to
 *     a burner, to the wei;
 *   - negative cases: wrong secret, a proof for another message or another
 *     status, a tampered proof, the wrong nonce, the previous message not
 *     finished, anchoring by a non-organization key, a non-increasing
 *     anchor height, amount <= gasPrice x gasLimit, a state root evicted
 *     from the anchor's ring buffer, a revert by someone else, a wrong
 *     penalty, an unproven height, a deactivated gateway, bounty changes;
 *   - differential: tries built by our C trie builder (short keys, so inline
 *     nodes occur), proofs of present and absent keys and of every
 *     single-byte mutation of their root node (with the root recomputed):
 *     the contract's verifier and our C verifier give the same verdict.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eth/keccak.h"
#include "eth/mpt.h"
#include "relayer/sysrand.h"
#include "tests/lib/chainlib.h"
#include "tests/lib/mosaicnet.h"
#include "tests/lib/testlib.h"

static const uint8_t zero20[20];

static void random_address(uint8_t a[20])
{
    assert_int_equal(sys_random(a, 20), 0);
    a[0] |= 0x10;
}

/* Two arguments (mh, bytes32). */
static void mh_word_args(struct abi_value args[2], const uint8_t mh[32], const uint8_t w[32])
{
    args[0] = abi_v_bytes(mh, 32);
    args[1] = abi_v_bytes(w, 32);
}

/* Mints utility tokens to n->redeemer through a hashlock stake & mint
 * (origin side left Declared). */
static void mint_for_redeemer(struct mn_net *n, struct u256 amount)
{
    struct mn_msg m;
    struct abi_value args[2];
    uint64_t h;

    mn_new_msg(&m, 0, amount, 0, 0, n->redeemer);
    h = mn_stake(n, &m, NULL);
    mn_confirm_stake(n, &m, h, NULL);
    mh_word_args(args, m.mh, m.secret);
    mn_tx(&n->a, NULL, n->a_fac, n->cgw, NULL, "progressMint(bytes32,bytes32)", args, 2, NULL);
    cl_assert_u256("minted", cl_token_balance(&n->a, n->ut, n->redeemer), amount);
}

/* A progress by proof: sig(mh, p's storage proof, h, status) sent to `to`
 * on c by `from`; p is freed.  Out: *r (ethrpc_receipt_free). */
static void progress_with_proof(struct cl_chain *c, const uint8_t from[20], const uint8_t to[20],
                                const char *sig, const uint8_t mh[32], struct mn_proven *p,
                                uint64_t h, enum mosaic_status status, struct eth_receipt *r)
{
    char label[64];
    struct abi_value args[4];

    snprintf(label, sizeof(label), "%.*s", (int)strcspn(sig, "("), sig);
    args[0] = abi_v_bytes(mh, 32);
    args[1] = abi_v_bytes(p->storage_nodes, p->storage_nodes_len);
    args[2] = abi_v_uint(h);
    args[3] = abi_v_uint(status);
    mn_tx(c, label, from, to, NULL, sig, args, 4, r);
    mn_proven_free(p);
}

/* One proven step of a revert (5.3, 5.5): the status of mh in the outbox or
 * inbox (`inbox`) at height h relayed from the other chain, then sig(mh, h,
 * storage proof) sent by the facilitator to the gateway of the chain
 * relayed to (`to_origin`: the gateway, else the co-gateway), which logs
 * `event` and then holds `after` in its own box for mh (the other box).
 * Returns the call's block. */
static uint64_t revert_step(struct mn_net *n, const uint8_t mh[32], int to_origin, int inbox,
                            enum mosaic_status status, uint64_t h, const char *sig,
                            const char *event, int after)
{
    struct cl_chain *c = to_origin ? &n->o : &n->a;
    const uint8_t *gw = to_origin ? n->gw : n->cgw;
    char label[64];
    struct mn_proven p;
    struct eth_receipt r;
    struct abi_value args[3];
    uint64_t block;

    if (to_origin)
        mn_relay_to_origin(n, mh, inbox, status, h, NULL, &p);
    else
        mn_relay_to_aux(n, mh, inbox, status, h, NULL, &p);
    snprintf(label, sizeof(label), "%.*s", (int)strcspn(sig, "("), sig);
    args[0] = abi_v_bytes(mh, 32);
    args[1] = abi_v_uint(h);
    args[2] = abi_v_bytes(p.storage_nodes, p.storage_nodes_len);
    mn_tx(c, label, to_origin ? n->o_fac : n->a_fac, gw, NULL, sig, args, 3, &r);
    mn_proven_free(&p);
    mn_need_log(&r, gw, event);
    block = r.block_number;
    ethrpc_receipt_free(&r);
    assert_int_equal(mn_u64(mn_view_mh(c, gw, inbox ? "getOutboxMessageStatus(bytes32)"
                                                    : "getInboxMessageStatus(bytes32)", mh)),
                     after);
    return block;
}

/* ---- 5.2: proofs only ---- */

static void test_proof_paths(void **state)
{
    struct mn_net n;
    struct mn_msg m;
    struct mn_proven p;
    struct eth_receipt r;
    const struct eth_log *l;
    struct abi_value args[4];
    uint8_t slot[32], unstake_ben[20];
    struct u256 reward, bt_fac, vt_fac, native_fac;
    uint64_t h, h2;

    (void)state;
    TV_REQUIRE_ANVIL();
    mn_setup(&n, zero20);
    random_address(unstake_ben);

    /* Stake, confirm; then mint with the proof of outbox = Declared at h. */
    mn_new_msg(&m, 0, cl_u256_e(500, 18), 1, 800000, n.redeemer);
    h = mn_stake(&n, &m, NULL);
    mn_confirm_stake(&n, &m, h, NULL);
    mosaic_outbox_slot(m.mh, MOSAIC_MESSAGE_BOX_OFFSET, slot);
    mn_fetch_proof(&n.o, n.gw, slot, h, MOSAIC_DECLARED, &p);
    /* Replaying proveGateway at a proven height only says so. */
    args[0] = abi_v_uint(h);
    args[1] = abi_v_bytes(p.account, p.account_len);
    args[2] = abi_v_bytes(p.account_nodes, p.account_nodes_len);
    mn_tx(&n.a, "proveGateway(replay)", n.a_fac, n.cgw, NULL, "proveGateway(uint256,bytes,bytes)",
          args, 3, &r);
    l = mn_need_log(&r, n.cgw, "GatewayProven(address,uint256,bytes32,bool)");
    assert_int_equal(mn_u64(mn_log_word(l, 3)), 1);
    ethrpc_receipt_free(&r);

    progress_with_proof(&n.a, n.a_fac, n.cgw,
                        "progressMintWithProof(bytes32,bytes,uint256,uint256)", m.mh, &p, h,
                        MOSAIC_DECLARED, &r);
    l = mn_need_log(&r, n.cgw,
                    "MintProgressed(bytes32,address,address,uint256,uint256,uint256,bool,bytes32)");
    reward = mn_expected_reward(&n.a, n.cgw, m.mh, m.gas_price, m.gas_limit);
    cl_assert_u256("proof mint reward", mn_log_word(l, 4), reward);
    assert_int_equal(mn_u64(mn_log_word(l, 5)), 1); /* _proofProgress */
    {
        struct u256 secret = mn_log_word(l, 6);
        assert_true(u256_is_zero(&secret)); /* no secret revealed */
    }
    h2 = r.block_number;
    ethrpc_receipt_free(&r);
    cl_assert_u256("beneficiary", cl_token_balance(&n.a, n.ut, n.redeemer),
                   cl_sub(m.amount, reward));
    cl_assert_u256("facilitator reward", cl_token_balance(&n.a, n.ut, n.a_fac), reward);

    /* Origin: the co-gateway's inbox = Progressed at h2, anchored in AnchorO. */
    bt_fac = cl_token_balance(&n.o, n.bt, n.o_fac);
    mn_relay_to_origin(&n, m.mh, 1, MOSAIC_PROGRESSED, h2, "(proof path)", &p);
    progress_with_proof(&n.o, n.o_fac, n.gw,
                        "progressStakeWithProof(bytes32,bytes,uint256,uint256)", m.mh, &p, h2,
                        MOSAIC_PROGRESSED, &r);
    l = mn_need_log(&r, n.gw, "StakeProgressed(bytes32,address,uint256,uint256,bool,bytes32)");
    assert_int_equal(mn_u64(mn_log_word(l, 3)), 1);
    ethrpc_receipt_free(&r);
    cl_assert_u256("vault", cl_token_balance(&n.o, n.vt, n.vault), m.amount);
    cl_assert_u256("bounty", cl_token_balance(&n.o, n.bt, n.o_fac), cl_add(bt_fac, n.bounty));
    assert_int_equal(mn_u64(mn_view_mh(&n.o, n.gw, "getOutboxMessageStatus(bytes32)", m.mh)), 2);

    /* Redeem, confirm; unstake with the proof of the co-gateway outbox = Declared. */
    mn_new_msg(&m, 0, cl_u256_e(200, 18), 2, 400000, unstake_ben);
    h = mn_redeem(&n, &m, NULL);
    mn_confirm_redeem(&n, &m, h, NULL);
    mosaic_outbox_slot(m.mh, MOSAIC_MESSAGE_BOX_OFFSET, slot);
    mn_fetch_proof(&n.a, n.cgw, slot, h, MOSAIC_DECLARED, &p);
    vt_fac = cl_token_balance(&n.o, n.vt, n.o_fac);
    progress_with_proof(&n.o, n.o_fac, n.gw,
                        "progressUnstakeWithProof(bytes32,bytes,uint256,uint256)", m.mh, &p, h,
                        MOSAIC_DECLARED, &r);
    reward = mn_expected_reward(&n.o, n.gw, m.mh, m.gas_price, m.gas_limit);
    l = mn_need_log(&r, n.gw, "UnstakeProgressed(bytes32,address,address,uint256,uint256,"
                          "uint256,bool,bytes32)");
    cl_assert_u256("proof unstake reward", mn_log_word(l, 4), reward);
    assert_int_equal(mn_u64(mn_log_word(l, 5)), 1); /* _proofProgress */
    h2 = r.block_number;
    ethrpc_receipt_free(&r);
    cl_assert_u256("unstaked", cl_token_balance(&n.o, n.vt, unstake_ben), cl_sub(m.amount, reward));
    cl_assert_u256("unstake reward", cl_token_balance(&n.o, n.vt, n.o_fac), cl_add(vt_fac, reward));

    /* Auxiliary: the gateway's inbox = Progressed at h2, anchored in AnchorA. */
    mn_relay_to_aux(&n, m.mh, 1, MOSAIC_PROGRESSED, h2, "(proof path)", &p);
    native_fac = cl_balance(&n.a, n.a_fac);
    progress_with_proof(&n.a, n.a_fac, n.cgw,
                        "progressRedeemWithProof(bytes32,bytes,uint256,uint256)", m.mh, &p, h2,
                        MOSAIC_PROGRESSED, &r);
    l = mn_need_log(&r, n.cgw, "RedeemProgressed(bytes32,address,uint256,uint256,bool,bytes32)");
    assert_int_equal(mn_u64(mn_log_word(l, 3)), 1);
    cl_assert_u256("redeem bounty", cl_balance(&n.a, n.a_fac),
                   cl_sub(cl_add(native_fac, n.bounty), mn_gas_cost(&r)));
    ethrpc_receipt_free(&r);
    cl_assert_u256("burnt", mn_view(&n.a, n.ut, "totalSupply()", NULL, 0),
                   cl_sub(cl_u256_e(500, 18), m.amount));
    mn_teardown(&n);
}

/* ---- 5.3: stake revert ---- */

static void test_stake_revert(void **state)
{
    struct mn_net n;
    struct mn_msg m;
    struct eth_receipt r;
    struct abi_value args[3];
    uint8_t burner[20];
    struct u256 penalty, vt_staker;
    uint64_t h;

    (void)state;
    TV_REQUIRE_ANVIL();
    random_address(burner);
    mn_setup(&n, burner);
    mn_new_msg(&m, 0, cl_u256_e(300, 18), 1, 100000, n.redeemer);
    vt_staker = cl_token_balance(&n.o, n.vt, n.staker);
    h = mn_stake(&n, &m, NULL);
    mn_confirm_stake(&n, &m, h, NULL);

    /* 1. revertStake: only the staker; the penalty (1.5 x bounty) to the burner. */
    penalty = mn_view_mh(&n.o, n.gw, "penalty(bytes32)", m.mh);
    cl_assert_u256("penalty", penalty, cl_u256_e(45, 15));
    mn_token_transfer(&n.o, n.bt, n.o_owner, n.staker, penalty);
    mn_token_approve(&n.o, n.bt, n.staker, n.gw, penalty);
    args[0] = abi_v_bytes(m.mh, 32);
    mn_expect_revert(&n.o, "revertStake by another", n.o_fac, n.gw, NULL, "revertStake(bytes32)",
                     args, 1, "Only staker can revert stake.");
    mn_tx(&n.o, "revertStake", n.staker, n.gw, NULL, "revertStake(bytes32)", args, 1, &r);
    mn_need_log(&r, n.gw, "RevertStakeIntentDeclared(bytes32,address,uint256,uint256)");
    h = r.block_number;
    ethrpc_receipt_free(&r);
    cl_assert_u256("burner after revertStake", cl_token_balance(&n.o, n.bt, burner), penalty);
    assert_int_equal(mn_u64(mn_view_mh(&n.o, n.gw, "getOutboxMessageStatus(bytes32)", m.mh)), 3);

    /* 2-3. the outbox = DeclaredRevocation on the co-gateway: inbox -> Revoked. */
    h = revert_step(&n, m.mh, 0, 0, MOSAIC_DECLARED_REVOCATION, h,
                    "confirmRevertStakeIntent(bytes32,uint256,bytes)",
                    "RevertStakeIntentConfirmed(bytes32,address,uint256,uint256)", MOSAIC_REVOKED);
    cl_assert_u256("mint deleted", mn_view_mh(&n.a, n.cgw, "mints(bytes32)", m.mh), cl_u256(0));

    /* 4-5. the inbox = Revoked on the gateway: stake back, bounty burnt. */
    (void)revert_step(&n, m.mh, 1, 1, MOSAIC_REVOKED, h,
                      "progressRevertStake(bytes32,uint256,bytes)",
                      "StakeReverted(bytes32,address,uint256,uint256)", MOSAIC_REVOKED);
    cl_assert_u256("staker value tokens back", cl_token_balance(&n.o, n.vt, n.staker),
                   cl_add(vt_staker, m.amount));
    cl_assert_u256("staker base tokens", cl_token_balance(&n.o, n.bt, n.staker), cl_u256(0));
    cl_assert_u256("burner: 2.5 x bounty", cl_token_balance(&n.o, n.bt, burner),
                   cl_add(penalty, n.bounty));
    cl_assert_u256("gateway value tokens", cl_token_balance(&n.o, n.vt, n.gw), cl_u256(0));
    cl_assert_u256("gateway base tokens", cl_token_balance(&n.o, n.bt, n.gw), cl_u256(0));
    {
        struct abi_value a = abi_v_address(n.staker);
        assert_int_equal(mn_u64(mn_view(&n.o, n.gw, "getNonce(address)", &a, 1)), 1);
    }
    mn_teardown(&n);
}

/* ---- 5.5: redeem revert ---- */

static void test_redeem_revert(void **state)
{
    struct mn_net n;
    struct mn_msg m;
    struct eth_receipt r;
    struct abi_value args[3];
    uint8_t burner[20], ben[20];
    struct u256 penalty, wrong;
    uint64_t h;

    (void)state;
    TV_REQUIRE_ANVIL();
    random_address(burner);
    random_address(ben);
    mn_setup(&n, burner);
    mint_for_redeemer(&n, cl_u256_e(100, 18));
    mn_new_msg(&m, 0, cl_u256_e(60, 18), 1, 100000, ben);
    h = mn_redeem(&n, &m, NULL);
    mn_confirm_redeem(&n, &m, h, NULL);

    /* 1. revertRedeem{value: 1.5 x bounty}: the penalty to the burner. */
    penalty = mn_view_mh(&n.a, n.cgw, "penalty(bytes32)", m.mh);
    cl_assert_u256("penalty", penalty, cl_u256_e(45, 15));
    args[0] = abi_v_bytes(m.mh, 32);
    wrong = n.bounty;
    mn_expect_revert(&n.a, "revertRedeem with the bounty", n.redeemer, n.cgw, &wrong,
                     "revertRedeem(bytes32)", args, 1, "msg.value must match the penalty amount.");
    mn_expect_revert(&n.a, "revertRedeem by another", n.a_fac, n.cgw, &penalty,
                     "revertRedeem(bytes32)", args, 1, "Only redeemer can revert redeem.");
    mn_tx(&n.a, "revertRedeem", n.redeemer, n.cgw, &penalty, "revertRedeem(bytes32)", args, 1, &r);
    mn_need_log(&r, n.cgw, "RevertRedeemDeclared(bytes32,address,uint256,uint256)");
    h = r.block_number;
    ethrpc_receipt_free(&r);
    cl_assert_u256("burner after revertRedeem", cl_balance(&n.a, burner), penalty);

    /* 2. the co-gateway outbox = DeclaredRevocation on the gateway: inbox -> Revoked. */
    h = revert_step(&n, m.mh, 1, 0, MOSAIC_DECLARED_REVOCATION, h,
                    "confirmRevertRedeemIntent(bytes32,uint256,bytes)",
                    "RevertRedeemIntentConfirmed(bytes32,address,uint256,uint256)", MOSAIC_REVOKED);

    /* 3. the gateway inbox = Revoked on the co-gateway: tokens back, bounty burnt. */
    (void)revert_step(&n, m.mh, 0, 1, MOSAIC_REVOKED, h,
                      "progressRevertRedeem(bytes32,uint256,bytes)",
                      "RedeemReverted(bytes32,address,uint256,uint256)", MOSAIC_REVOKED);
    cl_assert_u256("redeemer tokens back", cl_token_balance(&n.a, n.ut, n.redeemer),
                   cl_u256_e(100, 18));
    cl_assert_u256("burner: penalty + bounty", cl_balance(&n.a, burner),
                   cl_add(penalty, n.bounty));
    cl_assert_u256("co-gateway native", cl_balance(&n.a, n.cgw), cl_u256(0));
    cl_assert_u256("co-gateway tokens", cl_token_balance(&n.a, n.ut, n.cgw), cl_u256(0));
    cl_assert_u256("supply unchanged", mn_view(&n.a, n.ut, "totalSupply()", NULL, 0),
                   cl_u256_e(100, 18));
    mn_teardown(&n);
}

/* ---- what must be refused ---- */

#define STAKE_SIG "stake(uint256,address,uint256,uint256,uint256,bytes32)"
#define CONFIRM_SIG \
    "confirmStakeIntent(address,uint256,address,uint256,uint256,uint256,bytes32,uint256,bytes)"

static void stake_args(struct abi_value a[6], const struct mn_msg *m)
{
    a[0] = abi_v_u256(&m->amount);
    a[1] = abi_v_address(m->beneficiary);
    a[2] = abi_v_u256(&m->gas_price);
    a[3] = abi_v_u256(&m->gas_limit);
    a[4] = abi_v_uint(m->nonce);
    a[5] = abi_v_bytes(m->hashlock, 32);
}

static void confirm_args(struct abi_value a[9], const struct mn_net *n, const struct mn_msg *m,
                         uint64_t nonce, const uint8_t *hashlock, uint64_t h, const uint8_t *proof,
                         size_t proof_len)
{
    a[0] = abi_v_address(n->staker);
    a[1] = abi_v_uint(nonce);
    a[2] = abi_v_address(m->beneficiary);
    a[3] = abi_v_u256(&m->amount);
    a[4] = abi_v_u256(&m->gas_price);
    a[5] = abi_v_u256(&m->gas_limit);
    a[6] = abi_v_bytes(hashlock, 32);
    a[7] = abi_v_uint(h);
    a[8] = abi_v_bytes(proof, proof_len);
}

static void test_refused(void **state)
{
    struct mn_net n;
    struct mn_msg m, bad;
    struct mn_proven p;
    struct abi_value args[9];
    uint8_t slot[32], other[32], root[32], *tampered;
    uint64_t h, latest;

    (void)state;
    TV_REQUIRE_ANVIL();
    mn_setup(&n, zero20);

    /* Declaring: amount <= gasPrice x gasLimit, the wrong nonce. */
    mn_new_msg(&bad, 0, cl_u256(1000), 1, 1000, n.redeemer);
    stake_args(args, &bad);
    mn_expect_revert(&n.o, "stake amount = gasPrice x gasLimit", n.staker, n.gw, NULL, STAKE_SIG,
                     args, 6, "Maximum possible reward must be less than the stake amount.");
    mn_new_msg(&bad, 1, cl_u256_e(1, 18), 1, 1000, n.redeemer);
    stake_args(args, &bad);
    mn_expect_revert(&n.o, "stake with nonce 1 first", n.staker, n.gw, NULL, STAKE_SIG, args, 6,
                     "Invalid nonce.");

    /* A real stake; the next one before it finishes. */
    mn_new_msg(&m, 0, cl_u256_e(10, 18), 1, 100000, n.redeemer);
    h = mn_stake(&n, &m, NULL);
    mn_token_transfer(&n.o, n.vt, n.o_owner, n.staker, bad.amount);
    mn_token_transfer(&n.o, n.bt, n.o_owner, n.staker, n.bounty);
    mn_token_approve(&n.o, n.vt, n.staker, n.gw, bad.amount);
    mn_token_approve(&n.o, n.bt, n.staker, n.gw, n.bounty);
    stake_args(args, &bad);
    mn_expect_revert(&n.o, "stake before the previous one finished", n.staker, n.gw, NULL,
                     STAKE_SIG, args, 6, "Previous process is not completed.");

    /* Anchoring: by a worker (not the organization); the proof at a height
     * that nothing proved yet. */
    mosaic_outbox_slot(m.mh, MOSAIC_MESSAGE_BOX_OFFSET, slot);
    mn_fetch_proof(&n.o, n.gw, slot, h, MOSAIC_DECLARED, &p);
    args[0] = abi_v_uint(h);
    args[1] = abi_v_bytes(p.state_root, 32);
    mn_expect_revert(&n.a, "anchor by a worker", n.a_fac, n.a_anchor, NULL,
                     "anchorStateRoot(uint256,bytes32)", args, 2,
                     "Only the organization is allowed to call this method.");
    confirm_args(args, &n, &m, 0, m.hashlock, h, p.storage_nodes, p.storage_nodes_len);
    mn_expect_revert(&n.a, "confirm at an unproven height", n.a_fac, n.cgw, NULL, CONFIRM_SIG,
                     args, 9, "Storage root must not be zero.");
    mn_proven_free(&p);
    mn_relay_to_aux(&n, m.mh, 0, MOSAIC_DECLARED, h, NULL, &p);
    latest = mn_u64(mn_view(&n.a, n.a_anchor, "getLatestStateRootBlockHeight()", NULL, 0));
    assert_int_equal(latest, h);
    args[0] = abi_v_uint(h);
    args[1] = abi_v_bytes(p.state_root, 32);
    mn_expect_revert(&n.a, "anchor at the same height", n.a_owner, n.a_anchor, NULL,
                     "anchorStateRoot(uint256,bytes32)", args, 2,
                     "Given block height is lower or equal");

    /* Confirming: a tampered proof, a proof for another message, the wrong nonce. */
    tampered = malloc(p.storage_nodes_len);
    assert_non_null(tampered);
    memcpy(tampered, p.storage_nodes, p.storage_nodes_len);
    tampered[p.storage_nodes_len - 3] ^= 0x40;
    confirm_args(args, &n, &m, 0, m.hashlock, h, tampered, p.storage_nodes_len);
    mn_expect_revert(&n.a, "confirm with a tampered proof", n.a_fac, n.cgw, NULL, CONFIRM_SIG,
                     args, 9, "Merkle proof verification failed.");
    free(tampered);
    memcpy(other, m.hashlock, 32);
    other[5] ^= 1;
    confirm_args(args, &n, &m, 0, other, h, p.storage_nodes, p.storage_nodes_len);
    mn_expect_revert(&n.a, "confirm another message with this proof", n.a_fac, n.cgw, NULL,
                     CONFIRM_SIG, args, 9, "Merkle proof verification failed.");
    confirm_args(args, &n, &m, 1, m.hashlock, h, p.storage_nodes, p.storage_nodes_len);
    mn_expect_revert(&n.a, "confirm with nonce 1", n.a_fac, n.cgw, NULL, CONFIRM_SIG, args, 9,
                     "Invalid nonce.");
    confirm_args(args, &n, &m, 0, m.hashlock, h, p.storage_nodes, p.storage_nodes_len);
    mn_tx(&n.a, NULL, n.a_fac, n.cgw, NULL, CONFIRM_SIG, args, 9, NULL);
    mn_expect_revert(&n.a, "confirm twice", n.a_fac, n.cgw, NULL, CONFIRM_SIG, args, 9,
                     "Invalid nonce.");

    /* A proof of another status: the outbox holds Declared, not Progressed
     * nor DeclaredRevocation. */
    args[0] = abi_v_bytes(m.mh, 32);
    args[1] = abi_v_bytes(p.storage_nodes, p.storage_nodes_len);
    args[2] = abi_v_uint(h);
    args[3] = abi_v_uint(MOSAIC_PROGRESSED);
    mn_expect_revert(&n.a, "mint with a proof claiming Progressed", n.a_fac, n.cgw, NULL,
                     "progressMintWithProof(bytes32,bytes,uint256,uint256)", args, 4,
                     "Merkle proof verification failed.");
    args[3] = abi_v_uint(MOSAIC_DECLARED_REVOCATION);
    mn_expect_revert(&n.a, "mint with status 3", n.a_fac, n.cgw, NULL,
                     "progressMintWithProof(bytes32,bytes,uint256,uint256)", args, 4,
                     "Message on source must be Declared or Progressed.");
    args[1] = abi_v_uint(h);
    args[2] = abi_v_bytes(p.storage_nodes, p.storage_nodes_len);
    mn_expect_revert(&n.a, "revert-confirm with a proof of Declared", n.a_fac, n.cgw, NULL,
                     "confirmRevertStakeIntent(bytes32,uint256,bytes)", args, 3,
                     "Merkle proof verification failed.");

    /* Progressing with the wrong secret, on both sides. */
    args[0] = abi_v_bytes(m.mh, 32);
    args[1] = abi_v_bytes(other, 32);
    mn_expect_revert(&n.o, "progressStake, wrong secret", n.o_fac, n.gw, NULL,
                     "progressStake(bytes32,bytes32)", args, 2, "Invalid unlock secret.");
    mn_expect_revert(&n.a, "progressMint, wrong secret", n.a_fac, n.cgw, NULL,
                     "progressMint(bytes32,bytes32)", args, 2, "Invalid unlock secret.");

    /* A state root evicted from AnchorA's ring buffer (10 roots): proving
     * at that height is refused even though its storage root was proven. */
    for (uint64_t i = 1; i <= MN_MAX_STATE_ROOTS; i++) {
        assert_int_equal(sys_random(root, 32), 0);
        args[0] = abi_v_uint(latest + i);
        args[1] = abi_v_bytes(root, 32);
        mn_tx(&n.a, NULL, n.a_owner, n.a_anchor, NULL, "anchorStateRoot(uint256,bytes32)", args, 2,
              NULL);
    }
    {
        struct abi_value a = abi_v_uint(h);
        cl_assert_u256("evicted root", mn_view(&n.a, n.a_anchor, "getStateRoot(uint256)", &a, 1),
                       cl_u256(0));
    }
    args[0] = abi_v_uint(h);
    args[1] = abi_v_bytes(p.account, p.account_len);
    args[2] = abi_v_bytes(p.account_nodes, p.account_nodes_len);
    mn_expect_revert(&n.a, "proveGateway at an evicted height", n.a_fac, n.cgw, NULL,
                     "proveGateway(uint256,bytes,bytes)", args, 3, "State root must not be zero");
    mn_proven_free(&p);

    /* Bounty changes: organization only, and only after the unlock period. */
    args[0] = abi_v_uint(1);
    mn_expect_revert(&n.o, "bounty change by a worker", n.o_fac, n.gw, NULL,
                     "initiateBountyAmountChange(uint256)", args, 1,
                     "Only the organization is allowed to call this method.");
    mn_tx(&n.o, NULL, n.o_owner, n.gw, NULL, "initiateBountyAmountChange(uint256)", args, 1, NULL);
    mn_expect_revert(&n.o, "bounty change before the unlock height", n.o_owner, n.gw, NULL,
                     "confirmBountyAmountChange()", NULL, 0,
                     "Confirm bounty amount change can only be done after unlock period.");

    /* A deactivated gateway takes no stakes; there is no way back. */
    mn_tx(&n.o, NULL, n.o_owner, n.gw, NULL, "deactivateGateway()", NULL, 0, NULL);
    mn_new_msg(&bad, 0, cl_u256_e(1, 18), 0, 0, n.redeemer);
    stake_args(args, &bad);
    mn_expect_revert(&n.o, "stake when deactivated", n.o_fac, n.gw, NULL, STAKE_SIG, args, 6,
                     "Gateway is not activated.");
    args[0] = abi_v_address(n.cgw);
    mn_expect_revert(&n.o, "activate again", n.o_owner, n.gw, NULL, "activateGateway(address)",
                     args, 1, "Gateway was already activated once.");
    mn_teardown(&n);
}

/* ---- differential: the two verifiers on built and mutated tries ---- */

#define DIFF_KEYS 24

static void test_differential(void **state)
{
    struct cl_chain c;
    uint8_t mpp[20], from[20];
    struct mpt_kv slots[DIFF_KEYS];
    struct mpt_builder b;
    uint8_t keys[DIFF_KEYS + 4][3], vals[DIFF_KEYS][8];
    uint8_t scratch[16384], out[16384], root[32], value[32], *proof, *mut;
    struct mpt_node nodes[MPT_MAX_PROOF_NODES];
    size_t n, proof_len;
    struct mr_error err;
    int compared = 0, accepted = 0;

    (void)state;
    TV_REQUIRE_ANVIL();
    cl_open(&c, "ORIGIN");
    cl_new_account(&c, 10, from);
    cl_deploy(&c, from, "MerklePatriciaProof", NULL, 0, NULL, 0, mpp, NULL);
    /* Keys of 1 to 3 bytes and short values: nodes under 32 bytes sit
     * inline in their parents. */
    assert_int_equal(sys_random(keys, sizeof(keys)), 0);
    assert_int_equal(sys_random(vals, sizeof(vals)), 0);
    mpt_builder_init(&b, slots, DIFF_KEYS);
    for (size_t i = 0; i < DIFF_KEYS; i++)
        assert_int_equal(mpt_builder_put(&b, keys[i], 1 + i % 3, vals[i], 1 + i % 8, &err), MR_OK);
    for (size_t i = 0; i < DIFF_KEYS + 4; i++) {
        size_t klen = 1 + i % 3;
        int present = 0, cv, kv;

        assert_int_equal(mpt_builder_prove(&b, keys[i], klen, scratch, sizeof(scratch), out,
                                           sizeof(out), nodes, MPT_MAX_PROOF_NODES, &n, root,
                                           &err),
                         MR_OK);
        proof = mn_encode_nodes(nodes, n, &proof_len);
        /* The value of the last pair stored under this key, if any (the
         * last four keys were not stored, unless one repeats a stored key). */
        keccak256(vals[0], 1, value);
        for (size_t j = 0; j < DIFF_KEYS; j++) {
            if (1 + j % 3 == klen && memcmp(keys[j], keys[i], klen) == 0) {
                keccak256(vals[j], 1 + j % 8, value);
                present = 1;
            }
        }
        cv = mn_c_verdict(value, keys[i], klen, proof, proof_len, root);
        kv = mn_contract_verdict(&c, mpp, value, keys[i], klen, proof, proof_len, root);
        if (cv != kv || cv != present)
            fail_msg("key %zu (%s): C verifier %d, contract %d", i, present ? "present" : "absent",
                     cv, kv);
        accepted += cv;
        compared++;
        /* Every byte of the root node mutated, the root recomputed: both
         * verifiers must still agree, whatever the verdict. */
        mut = malloc(proof_len);
        assert_non_null(mut);
        for (size_t k = 0; k < nodes[0].len && k < 40; k++) {
            struct mpt_node mn[MPT_MAX_PROOF_NODES];
            size_t mlen;
            uint8_t *enc;

            memcpy(mn, nodes, n * sizeof(nodes[0]));
            memcpy(mut, nodes[0].data, nodes[0].len);
            mut[k] ^= (uint8_t)(1u << (k % 8));
            mn[0].data = mut;
            keccak256(mut, nodes[0].len, root);
            enc = mn_encode_nodes(mn, n, &mlen);
            cv = mn_c_verdict(value, keys[i], klen, enc, mlen, root);
            kv = mn_contract_verdict(&c, mpp, value, keys[i], klen, enc, mlen, root);
            if (cv != kv)
                fail_msg("key %zu, root node byte %zu flipped: C verifier %d, contract %d", i, k,
                         cv, kv);
            accepted += cv;
            compared++;
            free(enc);
        }
        free(mut);
        free(proof);
    }
    print_message("differential: %d proofs compared, %d accepted by both\n", compared, accepted);
    cl_close(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_proof_paths),   cmocka_unit_test(test_stake_revert),
        cmocka_unit_test(test_redeem_revert), cmocka_unit_test(test_refused),
        cmocka_unit_test(test_differential),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
