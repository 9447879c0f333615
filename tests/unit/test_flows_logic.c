/*
 * test_flows_logic.c - the pure parts of relayer/flows: the per-message
 * state machine as a table of (statuses, secret, in flight, reverted,
 * previous nonce) -> decision, the call data of every call against the
 * documented selectors and argument orders (mosaic-protocol.md §2, §10.5),
 * and the row check against the real contracts' message hashes.
 */
#include "tests/lib/testlib.h"

#include <stdlib.h>
#include <string.h>

#include "eth/hex.h"
#include "relayer/flows/flows_int.h"

#define D MOSAIC_DECLARED
#define P MOSAIC_PROGRESSED
#define R MOSAIC_DECLARED_REVOCATION
#define V MOSAIC_REVOKED
#define U MOSAIC_UNDECLARED
#define BIT(s) (1u << (s))

struct row {
    int line;
    int src, tgt, src_final, tgt_final;
    int secret;
    unsigned inflight;
    int failed_step, failed_n;
    int prev;
    int revert;
    enum flow_verdict_kind what;
    int n;
    enum flow_step s0, s1;
};

#define NONE FLOW_STEP_COUNT

static const struct row rows[] = {
    /* line   src tgt sf  tf sec  inflight       fail      prev rev  what       n  steps */
    /* Stake and mint by hashlock (§5.1). */
    {__LINE__, D, U, -1, -1, 1, 0, NONE, 0, 0, 1, FLOW_SEND, 1, FLOW_CONFIRM, NONE},
    /* Confirm in flight: both progress calls pipelined behind it, together. */
    {__LINE__, D, U, -1, -1, 1, BIT(FLOW_CONFIRM), NONE, 0, 0, 1, FLOW_SEND, 2,
     FLOW_PROGRESS_TARGET, FLOW_PROGRESS_SOURCE},
    {__LINE__, D, D, -1, -1, 1, 0, NONE, 0, 0, 1, FLOW_SEND, 2, FLOW_PROGRESS_TARGET,
     FLOW_PROGRESS_SOURCE},
    /* One of the two already in flight: only the other. */
    {__LINE__, D, D, -1, -1, 1, BIT(FLOW_PROGRESS_TARGET), NONE, 0, 0, 1, FLOW_SEND, 1,
     FLOW_PROGRESS_SOURCE, NONE},
    {__LINE__, D, P, -1, -1, 1, 0, NONE, 0, 0, 1, FLOW_SEND, 1, FLOW_PROGRESS_SOURCE, NONE},
    {__LINE__, P, D, -1, -1, 1, 0, NONE, 0, 0, 1, FLOW_SEND, 1, FLOW_PROGRESS_TARGET, NONE},
    /* Everything in flight: wait. */
    {__LINE__, D, D, -1, -1, 1, BIT(FLOW_PROGRESS_TARGET) | BIT(FLOW_PROGRESS_SOURCE), NONE, 0, 0,
     1, FLOW_WAIT, 0, NONE, NONE},
    /* Done at the head, not yet final: wait; final: completed. */
    {__LINE__, P, P, D, D, 1, 0, NONE, 0, 0, 1, FLOW_WAIT, 0, NONE, NONE},
    {__LINE__, P, P, P, P, 0, 0, NONE, 0, 0, 1, FLOW_DONE, 0, NONE, NONE},
    /* Someone else progressed both first: nothing to send, completed. */
    {__LINE__, P, P, P, P, 1, 0, NONE, 0, 0, 1, FLOW_DONE, 0, NONE, NONE},
    /* Proof path (§5.2): no secret. */
    {__LINE__, D, D, -1, -1, 0, 0, NONE, 0, 0, 1, FLOW_SEND, 2, FLOW_PROGRESS_TARGET_PROOF,
     FLOW_PROGRESS_SOURCE_PROOF},
    /* Confirm in flight, no secret: the target's progress by proof is
     * pipelined; the source's waits for the inbox to be on chain. */
    {__LINE__, D, U, -1, -1, 0, BIT(FLOW_CONFIRM), NONE, 0, 0, 1, FLOW_SEND, 1,
     FLOW_PROGRESS_TARGET_PROOF, NONE},
    {__LINE__, D, U, -1, -1, 0, BIT(FLOW_CONFIRM) | BIT(FLOW_PROGRESS_TARGET_PROOF), NONE, 0, 0, 1,
     FLOW_WAIT, 0, NONE, NONE},
    {__LINE__, D, P, -1, -1, 0, 0, NONE, 0, 0, 1, FLOW_SEND, 1, FLOW_PROGRESS_SOURCE_PROOF, NONE},
    {__LINE__, P, D, -1, -1, 0, 0, NONE, 0, 0, 1, FLOW_SEND, 1, FLOW_PROGRESS_TARGET_PROOF, NONE},
    /* The source was progressed before the confirmation: confirm at an
     * older height (the proof search handles it). */
    {__LINE__, P, U, -1, -1, 1, 0, NONE, 0, 0, 1, FLOW_SEND, 1, FLOW_CONFIRM, NONE},
    /* The sender's previous message is still open on the target. */
    {__LINE__, D, U, -1, -1, 1, 0, NONE, 0, 1, 1, FLOW_WAIT, 0, NONE, NONE},
    /* Reverts (§5.3, §5.5). */
    {__LINE__, R, D, -1, -1, 1, 0, NONE, 0, 0, 1, FLOW_SEND, 1, FLOW_CONFIRM_REVERT, NONE},
    {__LINE__, R, U, -1, -1, 1, 0, NONE, 0, 0, 1, FLOW_SEND, 1, FLOW_CONFIRM, NONE},
    {__LINE__, R, V, -1, -1, 1, 0, NONE, 0, 0, 1, FLOW_SEND, 1, FLOW_PROGRESS_REVERT, NONE},
    /* confirmRevert in flight: progressRevert needs the inbox on chain. */
    {__LINE__, R, D, -1, -1, 1, BIT(FLOW_CONFIRM_REVERT), NONE, 0, 0, 1, FLOW_WAIT, 0, NONE,
     NONE},
    /* The target won the race: progress the source by proof of 2. */
    {__LINE__, R, P, -1, -1, 1, 0, NONE, 0, 0, 1, FLOW_SEND, 1, FLOW_PROGRESS_SOURCE_PROOF, NONE},
    {__LINE__, V, V, V, V, 0, 0, NONE, 0, 0, 1, FLOW_DONE, 0, NONE, NONE},
    {__LINE__, V, V, R, V, 0, 0, NONE, 0, 0, 1, FLOW_WAIT, 0, NONE, NONE},
    /* Revert flow disabled: wait, never send. */
    {__LINE__, R, D, -1, -1, 1, 0, NONE, 0, 0, 0, FLOW_WAIT, 0, NONE, NONE},
    /* Inconsistent statuses halt (fail closed). */
    {__LINE__, U, U, -1, -1, 1, 0, NONE, 0, 0, 1, FLOW_HALT, 0, NONE, NONE},
    {__LINE__, D, V, -1, -1, 1, 0, NONE, 0, 0, 1, FLOW_HALT, 0, NONE, NONE},
    {__LINE__, P, V, -1, -1, 1, 0, NONE, 0, 0, 1, FLOW_HALT, 0, NONE, NONE},
    {__LINE__, V, D, -1, -1, 1, 0, NONE, 0, 0, 1, FLOW_HALT, 0, NONE, NONE},
    /* A step that reverted once is tried again; twice halts. */
    {__LINE__, D, U, -1, -1, 1, 0, FLOW_CONFIRM, 1, 0, 1, FLOW_SEND, 1, FLOW_CONFIRM, NONE},
    {__LINE__, D, U, -1, -1, 1, 0, FLOW_CONFIRM, 2, 0, 1, FLOW_HALT, 0, NONE, NONE},
    /* A failure of a step not needed any more does not matter. */
    {__LINE__, D, D, -1, -1, 1, 0, FLOW_CONFIRM, 5, 0, 1, FLOW_SEND, 2, FLOW_PROGRESS_TARGET,
     FLOW_PROGRESS_SOURCE},
};

static void run_table(enum mosaic_kind kind)
{
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        const struct row *r = &rows[i];
        struct flow_facts f;
        struct flow_decision d;
        memset(&f, 0, sizeof(f));
        f.kind = kind;
        f.src_latest = r->src;
        f.tgt_latest = r->tgt;
        f.src_final = r->src_final;
        f.tgt_final = r->tgt_final;
        f.have_secret = r->secret;
        f.inflight = r->inflight;
        if (r->failed_step != NONE)
            f.failed[r->failed_step] = r->failed_n;
        f.prev_pending = r->prev;
        f.revert_enabled = r->revert;
        flow_decide(&f, &d);
        if (d.what != r->what || (int)d.n != r->n ||
            (r->n > 0 && d.steps[0] != r->s0) || (r->n > 1 && d.steps[1] != r->s1)) {
            print_message("row at line %d: got what=%d n=%zu s0=%s s1=%s why=%s\n", r->line,
                          d.what, d.n, d.n > 0 ? flow_step_name(d.steps[0]) : "-",
                          d.n > 1 ? flow_step_name(d.steps[1]) : "-", d.why);
            fail();
        }
        if (d.what == FLOW_WAIT || d.what == FLOW_HALT)
            assert_true(d.why[0] != '\0');
        if (d.what == FLOW_DONE)
            assert_string_equal(d.terminal, r->src_final == V ? "reverted" : "completed");
        assert_non_null(d.state);
    }
}

static void test_decide_stake(void **state)
{
    (void)state;
    run_table(MOSAIC_STAKE);
}

static void test_decide_redeem(void **state)
{
    (void)state;
    run_table(MOSAIC_REDEEM);
}

/* The functions, per kind and step, and their round trip. */
static void test_step_names(void **state)
{
    (void)state;
    assert_string_equal(flow_step_function(MOSAIC_STAKE, FLOW_CONFIRM), "confirmStakeIntent");
    assert_string_equal(flow_step_function(MOSAIC_REDEEM, FLOW_CONFIRM), "confirmRedeemIntent");
    assert_string_equal(flow_step_function(MOSAIC_STAKE, FLOW_PROGRESS_TARGET), "progressMint");
    assert_string_equal(flow_step_function(MOSAIC_REDEEM, FLOW_PROGRESS_TARGET), "progressUnstake");
    assert_string_equal(flow_step_function(MOSAIC_REDEEM, FLOW_PROGRESS_SOURCE), "progressRedeem");
    assert_string_equal(flow_step_function(MOSAIC_STAKE, FLOW_PROGRESS_REVERT),
                        "progressRevertStake");
    for (int s = 0; s < FLOW_STEP_COUNT; s++) {
        assert_int_equal(flow_step_parse(flow_step_name((enum flow_step)s)), s);
        assert_true(flow_step_gas_bound((enum flow_step)s) >= 250000);
    }
    assert_int_equal(flow_step_parse("nope"), -1);
    /* ANVIL.md: a confirm used up to 505k in a burst. */
    assert_true(flow_step_gas_bound(FLOW_CONFIRM) > 505000);
    /* Only a redeem's unstake pays from a balance other messages fill. */
    for (int s = 0; s < FLOW_STEP_COUNT; s++) {
        int unstake = s == FLOW_PROGRESS_TARGET || s == FLOW_PROGRESS_TARGET_PROOF;
        assert_int_equal(flow_step_needs_dry_run(MOSAIC_REDEEM, (enum flow_step)s), unstake);
        assert_int_equal(flow_step_needs_dry_run(MOSAIC_STAKE, (enum flow_step)s), 0);
    }
}

static void sel_is(const char *sig, const char *hex)
{
    uint8_t s[4];
    flow_selector(sig, s);
    tv_assert_hex(s, 4, hex);
}

/* mosaic-protocol.md §2 selectors. */
static void test_selectors(void **state)
{
    (void)state;
    sel_is("proveGateway(uint256,bytes,bytes)", "0x21ea7ee1");
    sel_is("getOutboxMessageStatus(bytes32)", "0xb0ab4dba");
    sel_is("getInboxMessageStatus(bytes32)", "0x417d9e4b");
    sel_is("MESSAGE_BOX_OFFSET()", "0x35c6cbe0");
    sel_is("progressStake(bytes32,bytes32)", "0x4240760a");
    sel_is("progressStakeWithProof(bytes32,bytes,uint256,uint256)", "0xe065c793");
    sel_is("progressRevertStake(bytes32,uint256,bytes)", "0xfecbbab5");
    sel_is("confirmRedeemIntent(address,uint256,address,uint256,uint256,uint256,uint256,bytes32,"
           "bytes)", "0x51617b78");
    sel_is("progressUnstake(bytes32,bytes32)", "0xcbc3ec97");
    sel_is("progressUnstakeWithProof(bytes32,bytes,uint256,uint256)", "0xc818e2f0");
    sel_is("confirmRevertRedeemIntent(bytes32,uint256,bytes)", "0x2d252d5b");
    sel_is("confirmStakeIntent(address,uint256,address,uint256,uint256,uint256,bytes32,uint256,"
           "bytes)", "0x4837e163");
    sel_is("progressMint(bytes32,bytes32)", "0xb0c349cc");
    sel_is("progressMintWithProof(bytes32,bytes,uint256,uint256)", "0x05d59bae");
    sel_is("confirmRevertStakeIntent(bytes32,uint256,bytes)", "0xd470ce11");
    sel_is("progressRedeem(bytes32,bytes32)", "0x5e01b514");
    sel_is("progressRedeemWithProof(bytes32,bytes,uint256,uint256)", "0xc9814bfe");
    sel_is("progressRevertRedeem(bytes32,uint256,bytes)", "0x94e9b992");
    sel_is("anchorStateRoot(uint256,bytes32)", "0x5cf12c78");
    sel_is("getLatestStateRootBlockHeight()", "0x2bb0e488");
    sel_is("getStateRoot(uint256)", "0xc3801938");
}

static void fill_case(json_t *c, struct flow_message *m, uint8_t gateway[20], enum mosaic_kind k)
{
    json_t *in = json_object_get(c, "inputs");
    const char *s;

    memset(m, 0, sizeof(*m));
    m->kind = k;
#define HEX(obj, key, out, n)                                                  \
    s = json_string_value(json_object_get(obj, key));                         \
    assert_non_null(s);                                                        \
    assert_int_equal(hex_decode_fixed(s, strlen(s), out, n, NULL), MR_OK)
#define DEC(obj, key, out)                                                     \
    s = json_string_value(json_object_get(obj, key));                         \
    assert_non_null(s);                                                        \
    assert_int_equal(u256_parse_dec(out, s, strlen(s), 1, NULL), MR_OK)
    HEX(in, "beneficiary", m->beneficiary, 20);
    HEX(in, "gateway", gateway, 20);
    HEX(in, "sender", m->sender, 20);
    HEX(c, "hashLock", m->hashlock, 32);
    DEC(in, "amount", &m->amount);
    DEC(in, "gasPrice", &m->gas_price);
    DEC(in, "gasLimit", &m->gas_limit);
    u256_from_u64(&m->nonce, (uint64_t)json_integer_value(json_object_get(in, "nonce")));
    HEX(c, k == MOSAIC_STAKE ? "stakeIntentHash" : "redeemIntentHash", m->intent_hash, 32);
    HEX(c, k == MOSAIC_STAKE ? "stakeMessageHash" : "redeemMessageHash", m->hash, 32);
#undef HEX
#undef DEC
}

/* A row hashes to its message hash (hashes computed by the real contracts);
 * any changed field is refused. */
static void test_message_check(void **state)
{
    json_t *v, *cases;
    struct mr_error err;
    (void)state;

    TV_LOAD_OR_SKIP(v, "mosaic/mosaic_vectors.json");
    cases = json_object_get(v, "cases");
    for (size_t i = 0; i < json_array_size(cases); i++) {
        for (int k = 0; k < 2; k++) {
            struct flow_message m;
            uint8_t gw[20];
            fill_case(json_array_get(cases, i), &m, gw, k ? MOSAIC_REDEEM : MOSAIC_STAKE);
            assert_int_equal(flow_message_check(&m, gw, &err), MR_OK);
            m.beneficiary[3] ^= 1;
            assert_int_equal(flow_message_check(&m, gw, &err), MR_ERR_INVALID);
            m.beneficiary[3] ^= 1;
            m.gas_price.w[0] ^= 1;
            assert_int_equal(flow_message_check(&m, gw, &err), MR_ERR_INVALID);
            m.gas_price.w[0] ^= 1;
            gw[0] ^= 1;
            assert_int_equal(flow_message_check(&m, gw, &err), MR_ERR_INVALID);
        }
    }
    json_decref(v);
}

/* confirmStakeIntent's call data equals the recorded one (hashlock before
 * the height); confirmRedeemIntent puts the height first. */
static void test_confirm_calldata(void **state)
{
    json_t *v, *ex;
    struct flow_message m;
    struct mr_error err;
    uint8_t gw[20], *cd = NULL, *want, proof[1] = {0xc0};
    size_t len = 0, wlen = 0;
    (void)state;

    TV_LOAD_OR_SKIP(v, "mosaic/mosaic_vectors.json");
    fill_case(json_array_get(json_object_get(v, "cases"), 0), &m, gw, MOSAIC_STAKE);
    ex = json_object_get(v, "example_calldata");
    want = tv_hex(json_string_value(json_object_get(ex, "data")), &wlen);
    assert_int_equal(flow_cd_confirm(&m, 1234, proof, 1, &cd, &len, &err), MR_OK);
    assert_int_equal(len, wlen);
    assert_memory_equal(cd, want, len);
    free(cd);
    m.kind = MOSAIC_REDEEM;
    assert_int_equal(flow_cd_confirm(&m, 1234, proof, 1, &cd, &len, &err), MR_OK);
    tv_assert_hex(cd, 4, "0x51617b78");
    /* words: 1+6 = height, 1+7 = hashlock */
    assert_int_equal(cd[4 + 6 * 32 + 31], 1234 & 0xff);
    assert_memory_equal(cd + 4 + 7 * 32, m.hashlock, 32);
    free(cd);
    free(want);
    json_decref(v);
}

/* The other calls: selectors and argument order. */
static void test_other_calldata(void **state)
{
    uint8_t mh[32], secret[32], proof[3] = {0xc2, 0x01, 0x02}, *cd = NULL, a68[68];
    size_t len = 0;
    struct mr_error err;
    (void)state;

    memset(mh, 0xab, 32);
    memset(secret, 0x5e, 32);
    assert_int_equal(flow_cd_progress_secret(MOSAIC_STAKE, 1, mh, secret, &cd, &len, &err), MR_OK);
    assert_int_equal(len, 68);
    tv_assert_hex(cd, 4, "0xb0c349cc");
    assert_memory_equal(cd + 4, mh, 32);
    assert_memory_equal(cd + 36, secret, 32);
    free(cd);
    /* (hash, proof, height, status) */
    assert_int_equal(flow_cd_progress_proof(MOSAIC_REDEEM, 0, mh, proof, 3, 77, 2, &cd, &len, &err),
                     MR_OK);
    tv_assert_hex(cd, 4, "0xc9814bfe");
    assert_int_equal(cd[4 + 32 + 31], 0x80); /* offset of the bytes: 4 words */
    assert_int_equal(cd[4 + 64 + 31], 77);
    assert_int_equal(cd[4 + 96 + 31], 2);
    assert_int_equal(len, 4 + 4 * 32 + 32 + 32);
    free(cd);
    /* (hash, height, proof) */
    assert_int_equal(flow_cd_revert(MOSAIC_STAKE, 1, mh, 99, proof, 3, &cd, &len, &err), MR_OK);
    tv_assert_hex(cd, 4, "0xd470ce11");
    assert_int_equal(cd[4 + 32 + 31], 99);
    assert_int_equal(cd[4 + 64 + 31], 0x60);
    free(cd);
    assert_int_equal(flow_cd_prove(5, proof, 3, proof, 2, &cd, &len, &err), MR_OK);
    tv_assert_hex(cd, 4, "0x21ea7ee1");
    assert_int_equal(cd[4 + 31], 5);
    free(cd);
    flow_cd_anchor(300, mh, a68);
    tv_assert_hex(a68, 4, "0x5cf12c78");
    assert_int_equal(a68[4 + 30], 1);
    assert_int_equal(a68[4 + 31], 300 & 0xff);
    assert_memory_equal(a68 + 36, mh, 32);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decide_stake),     cmocka_unit_test(test_decide_redeem),
        cmocka_unit_test(test_step_names),       cmocka_unit_test(test_selectors),
        cmocka_unit_test(test_message_check),    cmocka_unit_test(test_confirm_calldata),
        cmocka_unit_test(test_other_calldata),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
