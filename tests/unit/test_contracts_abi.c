/*
 * test_contracts_abi.c - our compiled contracts (build/contracts) against
 * the wire interface of the Mosaic 0.12 contracts: every selector of
 * mosaic-protocol.md sections 2.1-2.4 and every event topic of section 2.6
 * (gateway, co-gateway, anchor, stake vault, utility token, organization)
 * must be in the ABI with exactly the value the document gives, and events
 * must index exactly the parameters the real ones index.
 *
 * The expected values are copied from the document; the signatures are
 * hashed twice, once by the artifact loader from the ABI JSON and once
 * here with eth/abi.h from the document's signature.
 */
#include <stdio.h>
#include <string.h>

#include "eth/abi.h"
#include "eth/hex.h"
#include "relayer/artifact.h"
#include "tests/lib/chainlib.h"
#include "tests/lib/testlib.h"

#define NO_MASK 0xffffffffu

struct expect {
    const char *contract;   /* artifact name */
    enum artifact_kind kind;
    const char *signature;  /* canonical */
    const char *hash;       /* selector (4 bytes) or topic0 (32 bytes), hex */
    uint32_t indexed;       /* events: indexed parameters, NO_MASK = not checked */
};

#define FN(c, sig, h) {c, ARTIFACT_FUNCTION, sig, h, 0}
#define EV(c, sig, h, m) {c, ARTIFACT_EVENT, sig, h, m}

/* Section 2.1: both gateways. */
static const struct expect base_fns[] = {
    FN(NULL, "proveGateway(uint256,bytes,bytes)", "0x21ea7ee1"),
    FN(NULL, "getNonce(address)", "0x2d0335ab"),
    FN(NULL, "getOutboxMessageStatus(bytes32)", "0xb0ab4dba"),
    FN(NULL, "getInboxMessageStatus(bytes32)", "0x417d9e4b"),
    FN(NULL, "getOutboxActiveProcess(address)", "0x0cd44fe1"),
    FN(NULL, "getInboxActiveProcess(address)", "0xaa916447"),
    FN(NULL, "messages(bytes32)", "0x2bbd59ca"),
    FN(NULL, "bounty()", "0x943dfef1"),
    FN(NULL, "initiateBountyAmountChange(uint256)", "0x0cb1d857"),
    FN(NULL, "confirmBountyAmountChange()", "0xdfa913bb"),
    FN(NULL, "remoteGateway()", "0x65b41e16"),
    FN(NULL, "stateRootProvider()", "0xd4d11185"),
    FN(NULL, "encodedGatewayPath()", "0xc3a47326"),
    FN(NULL, "organization()", "0x23bd4d7a"),
    FN(NULL, "MESSAGE_BOX_OFFSET()", "0x35c6cbe0"),
    FN(NULL, "REVOCATION_PENALTY()", "0xa3ea156d"),
    FN(NULL, "BOUNTY_CHANGE_UNLOCK_PERIOD()", "0x8ed9c5dc"),
    FN(NULL, "penalty(bytes32)", "0x26fc7590"),
    FN(NULL, "valueToken()", "0xeffff82f"),
    FN(NULL, "burner()", "0x27810b6e"),
    EV(NULL, "GatewayProven(address,uint256,bytes32,bool)",
       "0xc8b086273f6873ca5eb46c33fc969bbe291c604753ae831ace47644e4362b2b8", 0),
    EV(NULL, "BountyChangeInitiated(uint256,uint256,uint256)",
       "0xa9d65527bbb70e7c576f499d3a54f5eb8dc1e9502e13692d2db49c7177c0c24d", 0),
    EV(NULL, "BountyChangeConfirmed(uint256,uint256)",
       "0x2bc6c861f98712a6d2a053602d401de56c25e430d0530b26bcc12f1aaf3e586c", 0),
};

static const struct expect others[] = {
    /* Section 2.2: EIP20Gateway. */
    FN("EIP20Gateway", "stake(uint256,address,uint256,uint256,uint256,bytes32)", "0x6bb12049"),
    FN("EIP20Gateway", "progressStake(bytes32,bytes32)", "0x4240760a"),
    FN("EIP20Gateway", "progressStakeWithProof(bytes32,bytes,uint256,uint256)", "0xe065c793"),
    FN("EIP20Gateway", "revertStake(bytes32)", "0x212dbdbe"),
    FN("EIP20Gateway", "progressRevertStake(bytes32,uint256,bytes)", "0xfecbbab5"),
    FN("EIP20Gateway",
       "confirmRedeemIntent(address,uint256,address,uint256,uint256,uint256,uint256,bytes32,bytes)",
       "0x51617b78"),
    FN("EIP20Gateway", "progressUnstake(bytes32,bytes32)", "0xcbc3ec97"),
    FN("EIP20Gateway", "progressUnstakeWithProof(bytes32,bytes,uint256,uint256)", "0xc818e2f0"),
    FN("EIP20Gateway", "confirmRevertRedeemIntent(bytes32,uint256,bytes)", "0x2d252d5b"),
    FN("EIP20Gateway", "activateGateway(address)", "0xe73ff964"),
    FN("EIP20Gateway", "deactivateGateway()", "0x2c0ba56a"),
    FN("EIP20Gateway", "activated()", "0x186601ca"),
    FN("EIP20Gateway", "stakeVault()", "0x2d788333"),
    FN("EIP20Gateway", "token()", "0xfc0c546a"),
    FN("EIP20Gateway", "baseToken()", "0xc55dae63"),
    /* Section 2.3: EIP20CoGateway. */
    FN("EIP20CoGateway",
       "confirmStakeIntent(address,uint256,address,uint256,uint256,uint256,bytes32,uint256,bytes)",
       "0x4837e163"),
    FN("EIP20CoGateway", "progressMint(bytes32,bytes32)", "0xb0c349cc"),
    FN("EIP20CoGateway", "progressMintWithProof(bytes32,bytes,uint256,uint256)", "0x05d59bae"),
    FN("EIP20CoGateway", "confirmRevertStakeIntent(bytes32,uint256,bytes)", "0xd470ce11"),
    FN("EIP20CoGateway", "redeem(uint256,address,uint256,uint256,uint256,bytes32)", "0xbf41b9d9"),
    FN("EIP20CoGateway", "progressRedeem(bytes32,bytes32)", "0x5e01b514"),
    FN("EIP20CoGateway", "progressRedeemWithProof(bytes32,bytes,uint256,uint256)", "0xc9814bfe"),
    FN("EIP20CoGateway", "revertRedeem(bytes32)", "0xde5b27db"),
    FN("EIP20CoGateway", "progressRevertRedeem(bytes32,uint256,bytes)", "0x94e9b992"),
    FN("EIP20CoGateway", "mints(bytes32)", "0x56dc63cb"),
    FN("EIP20CoGateway", "redeems(bytes32)", "0x6b9691a1"),
    FN("EIP20CoGateway", "utilityToken()", "0xae86ed89"),
    /* Section 2.4: Anchor. */
    FN("Anchor", "anchorStateRoot(uint256,bytes32)", "0x5cf12c78"),
    FN("Anchor", "getLatestStateRootBlockHeight()", "0x2bb0e488"),
    FN("Anchor", "getStateRoot(uint256)", "0xc3801938"),
    FN("Anchor", "getRemoteChainId()", "0x8f94ab7e"),
    FN("Anchor", "setCoAnchorAddress(address)", "0x04fdcc0b"),
    FN("Anchor", "coAnchor()", "0xbde060e9"),
    FN("Anchor", "organization()", "0x23bd4d7a"),
    /* Section 1.2: the proof library, called by tests with eth_call. */
    FN("MerklePatriciaProof", "verify(bytes32,bytes,bytes,bytes32)", "0xc5f81822"),
    /* Section 2.6: events. */
    EV("EIP20Gateway", "StakeIntentDeclared(bytes32,address,uint256,address,uint256)",
       "0x1dc8ba34c8d75b6e750df7dadcf65dd6d6a7910483bcea2779971f587bade954", 1),
    EV("EIP20Gateway", "StakeProgressed(bytes32,address,uint256,uint256,bool,bytes32)",
       "0xdad617859b2a7c1564706e0938a2689fb1e47e43494954d08b90fb7dff784a8b", 1),
    EV("EIP20Gateway", "RevertStakeIntentDeclared(bytes32,address,uint256,uint256)",
       "0x7db334432ffc05820ab5581a94da967946ca219ccb89a376bbfff75d7bf15592", 1),
    EV("EIP20Gateway", "StakeReverted(bytes32,address,uint256,uint256)",
       "0x4259cc74a1169febcb3cb858142524599da133401841e489e8add6adbb273b4a", 1),
    EV("EIP20Gateway",
       "RedeemIntentConfirmed(bytes32,address,uint256,address,uint256,uint256,bytes32)",
       "0xba4ac3e715e17f26685ca6074bc68752bdaf9c2ed6d196b7c8ebf0a445601a9c", 1),
    EV("EIP20Gateway",
       "UnstakeProgressed(bytes32,address,address,uint256,uint256,uint256,bool,bytes32)",
       "0x2c66eee0de9967ff72fb960370f68331f353fcd49c1cf2b39257616093a3c740", 1),
    EV("EIP20Gateway", "RevertRedeemIntentConfirmed(bytes32,address,uint256,uint256)",
       "0x12021c0985bb18bfab585272868c2e2ae2db7b7bae483560daa5b51788a5decc", 1),
    EV("EIP20Gateway", "RevertRedeemComplete(bytes32,address,uint256,uint256)",
       "0xe280faf7f01ec6833598731de2dbe6ac277b4838db5ba1041522943a24ba1c26", 1),
    EV("EIP20CoGateway",
       "StakeIntentConfirmed(bytes32,address,uint256,address,uint256,uint256,bytes32)",
       "0x09c429eb0c6ace051a7e464a0add3664c55a8482b93816fdcbdf92f5d7ceb81e", 1),
    EV("EIP20CoGateway",
       "MintProgressed(bytes32,address,address,uint256,uint256,uint256,bool,bytes32)",
       "0xbf81e8c456a7484e025395ab4e1492b688012d0f5256401f71d9d0a16b5d68d3", 1),
    EV("EIP20CoGateway", "RevertStakeIntentConfirmed(bytes32,address,uint256,uint256)",
       "0xa7b12d2cec2594d7704b4b4f947ef0c1fae37f5f4aeddbeccb980505b383171f", 1),
    EV("EIP20CoGateway", "RevertStakeProgressed(bytes32,address,uint256,uint256)",
       "0x38b46ad45ee3548a9c5c0e19bec8f2c48c5a9948cb57be47158b8a31bc8c9f6b", 1),
    EV("EIP20CoGateway", "RedeemIntentDeclared(bytes32,address,uint256,address,uint256)",
       "0xdd1352ae291d8132beec7e4442e4d982729cd2b7aade23ce1810bf36ccfa8559", 1),
    EV("EIP20CoGateway", "RedeemProgressed(bytes32,address,uint256,uint256,bool,bytes32)",
       "0xc8a2b315f4d996ac017ddcd7121d5223ecdc6708a97a76c628b391fa0529454e", 1),
    EV("EIP20CoGateway", "RevertRedeemDeclared(bytes32,address,uint256,uint256)",
       "0xeef4349a219b2fc35d071d8fd1b99b01f97f25d9f8338abb5e1f5fb11caef0c7", 1),
    EV("EIP20CoGateway", "RedeemReverted(bytes32,address,uint256,uint256)",
       "0x15322f88c2092febcece880691350cadb45196819c8604460adf4b0dcc426387", 1),
    EV("Anchor", "StateRootAvailable(uint256,bytes32)",
       "0x0a57f5c610ae4bcec0e406f2d350ddffa2fb3628fed5da3d7dac3a3c1cdb66c2", 0),
    EV("SimpleStake", "ReleasedStake(address,address,uint256)",
       "0xbb9c3d63e9684d973fded27f355b4ab89505e3be60298380be985af025d5f111", 3),
    EV("UtilityToken", "CoGatewaySet(address)",
       "0x95bef3949e28dc0675de862971632152312163efcf79d8d22314cae6bdd28f47", NO_MASK),
    EV("Organization", "WorkerSet(address,uint256)",
       "0x7a4238744ef0a84bc93273958cca94ecc9e1fa40cf18fc52eca877f3078eeb0c", 1),
    EV("Organization", "WorkerUnset(address)",
       "0x40311c754879c7ab9a3785519f6a08a4fbc64b3b7f4eec5ab201e784d48bb1e5", NO_MASK),
};

/* Checks one expectation against artifact a; returns the number of failures. */
static int check(const struct artifact *a, const struct expect *x)
{
    uint8_t want[32], mine[32];
    size_t n = 0;
    struct mr_error err;
    const struct artifact_entry *e = artifact_find_signature(a, x->signature);

    assert_int_equal(hex_decode_data(x->hash, strlen(x->hash), want, sizeof(want), &n, &err),
                     MR_OK);
    /* The document's own consistency, with our keccak. */
    if (x->kind == ARTIFACT_FUNCTION)
        assert_int_equal(abi_selector(x->signature, strlen(x->signature), mine, &err), MR_OK);
    else
        assert_int_equal(abi_event_topic(x->signature, strlen(x->signature), mine, &err), MR_OK);
    if (memcmp(mine, want, n) != 0) {
        print_error("%s: the document's value %s is not keccak256 of the signature\n",
                    x->signature, x->hash);
        return 1;
    }
    if (e == NULL || e->kind != x->kind) {
        print_error("%s: %s %s is missing\n", a->name,
                    x->kind == ARTIFACT_EVENT ? "event" : "function", x->signature);
        return 1;
    }
    if (memcmp(e->hash, want, n) != 0) {
        print_error("%s: %s hashes differently from %s\n", a->name, x->signature, x->hash);
        return 1;
    }
    if (x->kind == ARTIFACT_EVENT && x->indexed != NO_MASK &&
        (e->indexed != x->indexed || e->anonymous)) {
        print_error("%s: event %s indexes parameters 0x%x, the protocol 0x%x\n", a->name,
                    x->signature, (unsigned)e->indexed, (unsigned)x->indexed);
        return 1;
    }
    return 0;
}

static void test_selectors_and_topics(void **state)
{
    static const char *const gateways[] = {"EIP20Gateway", "EIP20CoGateway"};
    struct artifact a;
    int failures = 0, checked = 0;

    (void)state;
    for (size_t g = 0; g < 2; g++) {
        cl_artifact(gateways[g], &a);
        for (size_t i = 0; i < sizeof(base_fns) / sizeof(base_fns[0]); i++, checked++)
            failures += check(&a, &base_fns[i]);
        artifact_free(&a);
    }
    for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++, checked++) {
        cl_artifact(others[i].contract, &a);
        failures += check(&a, &others[i]);
        artifact_free(&a);
    }
    print_message("checked %d selectors and topics\n", checked);
    assert_int_equal(failures, 0);
}

/* The artifacts the deployment needs have code, and only the gateways need
 * a library (MerklePatriciaProof, linked). */
static void test_deployables(void **state)
{
    static const char *const names[] = {"EIP20Token",  "UtilityToken",   "Organization",
                                        "Anchor",      "EIP20Gateway",   "EIP20CoGateway",
                                        "SimpleStake", "MerklePatriciaProof"};
    struct artifact a;

    (void)state;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        int gateway = strstr(names[i], "Gateway") != NULL;

        cl_artifact(names[i], &a);
        assert_true(a.code_len > 0 && a.runtime_len > 0);
        assert_true(a.code_len <= ARTIFACT_MAX_CODE && a.runtime_len <= 24576); /* EIP-170 */
        if (gateway) {
            assert_true(a.n_links > 0);
            for (size_t j = 0; j < a.n_links; j++)
                assert_string_equal(a.links[j].library, "MerklePatriciaProof");
        } else {
            assert_int_equal(a.n_links, 0);
        }
        artifact_free(&a);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_selectors_and_topics),
        cmocka_unit_test(test_deployables),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
