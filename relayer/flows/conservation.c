/*
 * conservation.c - the conservation monitor (RELIABILITY.md row 24,
 * "nothing unbacked"): per gateway pair, the utility tokens circulating on
 * the auxiliary chain never exceed the value tokens backing them on origin.
 * A check that finds otherwise trips the pair's circuit breaker (db/
 * breaker.h): the flows record no call for the pair until an operator
 * resets it.
 *
 * The two figures (where the tokens sit: contracts/EIP20Gateway.sol,
 * EIP20CoGateway.sol, UtilityToken.sol; mosaic-protocol.md §2.2-§2.3):
 *
 *   circulating C(A) = utility.totalSupply() - utility.balanceOf(coGateway)
 *       at auxiliary block A.  redeem() moves the redeemer's tokens into the
 *       co-gateway (the redeem escrow); progressRedeem burns them from there
 *       (decreaseSupply of the co-gateway's own balance); progressRevertRedeem
 *       gives them back.  progressMint mints exactly the stake's amount
 *       (amount - reward to the beneficiary, reward to the caller).
 *   backing B(O) = value.balanceOf(stakeVault) + value.balanceOf(gateway)
 *       at origin block O.  stake() moves the amount into the gateway (the
 *       stake escrow); progressStake moves it on into the vault;
 *       progressRevertStake gives it back from the gateway; progressUnstake
 *       releases exactly the redeem's amount from the vault (unstaked amount
 *       to the beneficiary, reward to the caller).
 *
 * Tokens given to these contracts outside the protocol only raise B or
 * lower C (a false "all is well", never a false alarm); so does a base
 * token equal to the value token (escrowed bounties count as backing).
 *
 * Why messages in flight cannot make C(A) > B(O) when nothing is wrong.
 * Write LA(A) for the origin height anchored last on the auxiliary chain's
 * Anchor (the co-gateway's stateRootProvider) as of block A, and LO(O) for
 * the auxiliary height anchored last on origin as of O.  Anchored heights
 * only increase (Anchor.anchorStateRoot), so every origin height ever
 * anchored on auxiliary by block A is <= LA(A), and likewise for LO(O).  We
 * read at a pair (A, O) with LA(A) <= O and LO(O) <= A.  Then, with
 * M = stakes minted by A and U = redeems unstaken by O:
 *   C(A) = sum(M) - (redeems declared by A and not reverted by A),
 *   B(O) = (stakes declared by O and not reverted by O) - sum(U).
 *   - Stake: a mint needs the inbox Declared, i.e. a confirmStakeIntent
 *     that proved the gateway's outbox Declared at an origin height h
 *     anchored on auxiliary before the mint, so h <= LA(A) <= O: the stake
 *     was declared (its tokens in the gateway) at a block <= O.  It cannot
 *     have been reverted on origin: progressRevertStake needs the
 *     co-gateway's inbox Revoked, and a minted message's inbox is
 *     Progressed for good.  Whether progressStake already ran does not
 *     matter (gateway -> vault, both in B); the mint may come before it.
 *     So every stake in M is in B(O).
 *   - Redeem: an unstake needs confirmRedeemIntent, which proved the
 *     co-gateway's outbox Declared at an auxiliary height h' <= LO(O) <= A:
 *     the redeemer's tokens had left circulation (into the co-gateway) at a
 *     block <= A; they are not back (progressRevertRedeem needs the
 *     gateway's inbox Revoked, and an unstaken message's inbox is
 *     Progressed); whether progressRedeem already burnt them does not
 *     matter (it changes totalSupply and the escrow alike); the unstake may
 *     come before it.  So every redeem in U is subtracted from C(A).
 *   Hence C(A) <= sum(stakes declared by O, not reverted) - sum(U) = B(O).
 * Stakes declared but not yet minted and redeems declared but not yet
 * unstaken only make B(O) - C(A) larger.  Reading both sides at a fixed
 * block (never "latest" twice) makes each side one state; reading final
 * blocks (the chain's finality policy) keeps reorganisations out.
 *
 * Finding the pair: take each chain's final block; if LA(A) > O (an origin
 * root anchored on auxiliary that our origin view has not reached) take a
 * newer final block on origin, and if LO(O) > A a newer one on auxiliary;
 * a few times, then give up this round (recorded as the check's error, no
 * trip): the next round tries again.
 */
#include "relayer/flows/flows_int.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#include "db/breaker.h"

#define CONS_ATTEMPTS 5
#define CONS_RETRY_MS 500

static void sleep_ms(int64_t ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* eth_call of a view with at most one address argument, at `block`. */
static int view(const struct flow_ctx *ctx, int chain, const uint8_t to[20], const char *sig,
                const uint8_t *arg, const char *block, uint8_t word[32], struct mr_error *err)
{
    uint8_t cd[36] = {0};
    size_t len = 4;
    int rc;

    flow_selector(sig, cd);
    if (arg != NULL) {
        memcpy(cd + 16, arg, 20);
        len = 36;
    }
    rc = flow_call_word(ctx, chain, to, cd, len, block, word, NULL, err);
    return rc == MR_OK ? MR_OK : mr_error_prefix(err, rc, "%s: ", sig);
}

static int view_address(const struct flow_ctx *ctx, int chain, const uint8_t to[20],
                        const char *sig, const char *block, uint8_t out[20],
                        struct mr_error *err)
{
    uint8_t w[32];
    int rc = view(ctx, chain, to, sig, NULL, block, w, err);

    if (rc != MR_OK)
        return rc;
    for (int i = 0; i < 12; i++)
        if (w[i] != 0)
            return mr_fail(err, MR_ERR_JSON, "%s: not an address", sig);
    memcpy(out, w + 12, 20);
    return MR_OK;
}

static int view_u256(const struct flow_ctx *ctx, int chain, const uint8_t to[20], const char *sig,
                     const uint8_t *arg, const char *block, struct u256 *out,
                     struct mr_error *err)
{
    uint8_t w[32];
    int rc = view(ctx, chain, to, sig, arg, block, w, err);

    return rc == MR_OK ? u256_from_be(out, w, 32) : rc;
}

/* The latest height anchored in the state root provider of `gateway`. */
static int anchored(const struct flow_ctx *ctx, int chain, const uint8_t gateway[20],
                    const char *block, uint64_t *h, struct mr_error *err)
{
    uint8_t provider[20], w[32];
    struct u256 v;
    int rc = view_address(ctx, chain, gateway, "stateRootProvider()", block, provider, err);

    if (rc == MR_OK)
        rc = view(ctx, chain, provider, "getLatestStateRootBlockHeight()", NULL, block, w, err);
    if (rc == MR_OK && (u256_from_be(&v, w, 32) != MR_OK || u256_to_u64(&v, h) != MR_OK ||
                        *h > INT64_MAX))
        rc = mr_fail(err, MR_ERR_RANGE, "the anchored height is out of range");
    return rc;
}

int flow_conservation_measure(struct flow_ctx *ctx, const struct config_gateway *gw,
                              uint64_t aux_block, uint64_t origin_block,
                              struct flow_conservation *out, struct mr_error *err)
{
    int a = gw->auxiliary.chain, o = gw->origin.chain, rc;
    char ab[ETHRPC_BLOCK_ID_LEN], ob[ETHRPC_BLOCK_ID_LEN];
    uint8_t ut[20], vt[20], vault[20];

    memset(out, 0, sizeof(*out));
    out->aux_block = aux_block;
    out->origin_block = origin_block;
    ethrpc_block_id(aux_block, ab);
    ethrpc_block_id(origin_block, ob);
    rc = anchored(ctx, a, gw->auxiliary.gateway, ab, &out->aux_anchored, err);
    if (rc == MR_OK)
        rc = anchored(ctx, o, gw->origin.gateway, ob, &out->origin_anchored, err);
    if (rc != MR_OK)
        return rc;
    if (out->aux_anchored > origin_block || out->origin_anchored > aux_block)
        return mr_fail(err, MR_ERR_NOTFOUND,
                       "pair %s: blocks %s %llu and %s %llu are not a consistent pair (origin "
                       "height %llu anchored on %s, %s height %llu anchored on %s)",
                       gw->name, ctx->cfg->chains[a].key, (unsigned long long)aux_block,
                       ctx->cfg->chains[o].key, (unsigned long long)origin_block,
                       (unsigned long long)out->aux_anchored, ctx->cfg->chains[a].key,
                       ctx->cfg->chains[a].key, (unsigned long long)out->origin_anchored,
                       ctx->cfg->chains[o].key);
    rc = view_address(ctx, a, gw->auxiliary.gateway, "utilityToken()", ab, ut, err);
    if (rc == MR_OK)
        rc = view_u256(ctx, a, ut, "totalSupply()", NULL, ab, &out->supply, err);
    if (rc == MR_OK)
        rc = view_u256(ctx, a, ut, "balanceOf(address)", gw->auxiliary.gateway, ab,
                       &out->redeem_escrow, err);
    if (rc == MR_OK)
        rc = view_address(ctx, o, gw->origin.gateway, "token()", ob, vt, err);
    if (rc == MR_OK)
        rc = view_address(ctx, o, gw->origin.gateway, "stakeVault()", ob, vault, err);
    if (rc == MR_OK)
        rc = view_u256(ctx, o, vt, "balanceOf(address)", vault, ob, &out->vault, err);
    if (rc == MR_OK)
        rc = view_u256(ctx, o, vt, "balanceOf(address)", gw->origin.gateway, ob,
                       &out->stake_escrow, err);
    if (rc != MR_OK)
        return mr_error_prefix(err, rc, "pair %s: ", gw->name);
    if (u256_sub(&out->circulating, &out->supply, &out->redeem_escrow) != MR_OK)
        return mr_fail(err, MR_ERR_RANGE, "pair %s: the co-gateway holds more utility tokens "
                       "than their total supply", gw->name);
    if (u256_add(&out->backing, &out->vault, &out->stake_escrow) != MR_OK)
        return mr_fail(err, MR_ERR_RANGE, "pair %s: the backing overflows", gw->name);
    return MR_OK;
}

/* Measures at a consistent pair of final blocks (see the top). */
static int measure_final(struct flow_ctx *ctx, const struct config_gateway *gw,
                         struct flow_conservation *out, struct mr_error *err)
{
    struct eth_block b;
    uint64_t ab = 0, ob = 0;
    int need_a = 1, need_o = 1, rc = MR_OK;

    for (int i = 0; i < CONS_ATTEMPTS; i++) {
        if (i > 0)
            sleep_ms(CONS_RETRY_MS);
        if (need_a) {
            rc = flow_final_block(ctx, gw->auxiliary.chain, &b, err);
            if (rc != MR_OK)
                return rc;
            ab = b.number;
        }
        if (need_o) {
            rc = flow_final_block(ctx, gw->origin.chain, &b, err);
            if (rc != MR_OK)
                return rc;
            ob = b.number;
        }
        rc = flow_conservation_measure(ctx, gw, ab, ob, out, err);
        out->attempts = i + 1;
        if (rc != MR_ERR_NOTFOUND)
            return rc;
        need_a = out->origin_anchored > ab;
        need_o = out->aux_anchored > ob;
    }
    return rc;
}

int flow_conservation_check(struct flow_ctx *ctx, PGconn *conn, const struct config_gateway *gw,
                            const char *actor, struct flow_conservation *out,
                            struct mr_error *err)
{
    const struct config *cfg = ctx->cfg;
    char c[80], b[80];
    struct breaker_check bc;
    int rc = measure_final(ctx, gw, out, err);

    if (rc != MR_OK) {
        struct mr_error e2;
        (void)breaker_record_error(conn, gw->name, err->msg, &e2);
        return rc;
    }
    u256_to_dec(&out->circulating, c, sizeof(c));
    u256_to_dec(&out->backing, b, sizeof(b));
    memset(&bc, 0, sizeof(bc));
    bc.pair = gw->name;
    bc.circulating = c;
    bc.backing = b;
    bc.aux_chain = cfg->chains[gw->auxiliary.chain].key;
    bc.origin_chain = cfg->chains[gw->origin.chain].key;
    bc.aux_block = out->aux_block;
    bc.origin_block = out->origin_block;
    bc.actor = actor;
    return breaker_record(conn, &bc, &out->tripped, &out->newly, err);
}
