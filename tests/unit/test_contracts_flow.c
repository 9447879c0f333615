/*
 * test_contracts_flow.c - our contracts on the suite's two anvil chains
 * (ORIGIN 31337 and AUX 1405), driven by our own C code:
 *   - the one-time setup of mosaic-protocol.md section 5.0 on both chains;
 *   - stake & mint by hashlock (section 5.1) and redeem & unstake by
 *     hashlock (section 5.4), twice each for the same sender (nonces 0 and
 *     1; the second round also gives steady-state gas figures),
 * with real eth_getProof answers: the account proof is checked by our C
 * verifier (eth/mpt.c) before it is sent, the storage proof too, and the
 * contract's MerklePatriciaProof library, called with eth_call, must agree
 * with the C verifier on each proof and on tampered copies.  Balances of
 * the value token, utility token, base-token bounty, native bounty and
 * reward are checked to the wei.
 *
 * Every run deploys its own contracts and uses fresh random accounts, so it
 * does not depend on what other test programs did on the shared chains.
 * The gas of each call is printed as "gas: <call> <n>".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chain/ethrpc.h"
#include "chain/proofjson.h"
#include "eth/abi.h"
#include "eth/keccak.h"
#include "eth/mosaic.h"
#include "eth/mpt.h"
#include "relayer/sysrand.h"
#include "tests/lib/chainlib.h"
#include "tests/lib/testlib.h"

#define MAX_STORAGE_ROOTS 100 /* the gateways' ring buffers (deploy tool default) */
#define MAX_STATE_ROOTS 10    /* the anchors' ring buffers (deploy tool default) */

/* Everything deployed by one run, and its actors. */
struct net {
    struct cl_chain o, a;
    /* actors (o_ on origin, a_ on auxiliary) */
    uint8_t o_owner[20], a_owner[20];      /* deployers, organization owners */
    uint8_t o_fac[20], a_fac[20];          /* the facilitator */
    uint8_t staker[20];                    /* origin */
    uint8_t redeemer[20];                  /* auxiliary: the mint's beneficiary */
    /* contracts */
    uint8_t o_mpp[20], a_mpp[20];
    uint8_t vt[20], bt[20], ut[20];
    uint8_t o_org[20], a_org[20];
    uint8_t o_anchor[20], a_anchor[20];
    uint8_t gw[20], cgw[20], vault[20];
    struct u256 bounty;
};

/* ---- small helpers ---- */

static void gas_line(const char *call, uint64_t gas)
{
    print_message("gas: %s %llu\n", call, (unsigned long long)gas);
}

static void rand32(uint8_t out[32])
{
    assert_int_equal(sys_random(out, 32), 0);
}

/* Sends `sig`(args) from `from` to `to` with `value`; prints the gas as
 * `label` when it is not NULL.  Out: *r (ethrpc_receipt_free) when r is
 * not NULL. */
static uint64_t tx(struct cl_chain *c, const char *label, const uint8_t from[20],
                   const uint8_t to[20], const struct u256 *value, const char *sig,
                   const struct abi_value *args, size_t n, struct eth_receipt *r)
{
    struct eth_receipt own;
    uint8_t *data;
    size_t len;
    uint64_t gas;

    cl_calldata(sig, args, n, &data, &len);
    cl_send(c, label != NULL ? label : sig, from, to, value, data, len, r != NULL ? r : &own);
    free(data);
    gas = r != NULL ? r->gas_used : own.gas_used;
    if (r == NULL)
        ethrpc_receipt_free(&own);
    if (label != NULL)
        gas_line(label, gas);
    return gas;
}

static struct u256 view(struct cl_chain *c, const uint8_t to[20], const char *sig,
                        const struct abi_value *args, size_t n)
{
    return cl_view_u256(c, to, sig, args, n);
}

static struct u256 view_mh(struct cl_chain *c, const uint8_t to[20], const char *sig,
                           const uint8_t mh[32])
{
    struct abi_value a = abi_v_bytes(mh, 32);

    return view(c, to, sig, &a, 1);
}

static uint64_t u64(struct u256 v)
{
    uint64_t x = 0;

    if (u256_to_u64(&v, &x) != 0)
        fail_msg("value does not fit 64 bits");
    return x;
}

static void word_address(const struct u256 *w, uint8_t out[20])
{
    uint8_t be[32];

    u256_to_be32(w, be);
    memcpy(out, be + 12, 20);
}

/* The i-th data word of a log, as a number. */
static struct u256 log_word(const struct eth_log *l, size_t i)
{
    struct u256 v;

    if (l->data_len < 32 * (i + 1))
        fail_msg("log data of %zu bytes has no word %zu", l->data_len, i);
    u256_from_be(&v, l->data + 32 * i, 32);
    return v;
}

static const struct eth_log *need_log(const struct eth_receipt *r, const uint8_t address[20],
                                      const char *event)
{
    uint8_t topic[32];
    struct mr_error err;
    const struct eth_log *l;

    assert_int_equal(abi_event_topic(event, strlen(event), topic, &err), MR_OK);
    l = cl_find_log(r, address, topic);
    if (l == NULL)
        fail_msg("no %s log in the receipt", event);
    return l;
}

/* Transfers `amount` of token from `from` to `to`. */
static void token_transfer(struct cl_chain *c, const uint8_t token[20], const uint8_t from[20],
                           const uint8_t to[20], struct u256 amount)
{
    struct abi_value args[2] = {abi_v_address(to), abi_v_u256(&amount)};

    tx(c, NULL, from, token, NULL, "transfer(address,uint256)", args, 2, NULL);
}

static void token_approve(struct cl_chain *c, const uint8_t token[20], const uint8_t owner[20],
                          const uint8_t spender[20], struct u256 amount)
{
    struct abi_value args[2] = {abi_v_address(spender), abi_v_u256(&amount)};

    tx(c, NULL, owner, token, NULL, "approve(address,uint256)", args, 2, NULL);
}

/* ---- setup (section 5.0) ---- */

static void deploy_token(struct cl_chain *c, const uint8_t from[20], const char *sym,
                         uint8_t addr[20])
{
    struct u256 supply = cl_u256_e(1, 27);
    struct abi_value args[4] = {abi_v_bytes(sym, strlen(sym)), abi_v_bytes(sym, strlen(sym)),
                                abi_v_uint(18), abi_v_u256(&supply)};
    uint64_t gas;

    cl_deploy(c, from, "EIP20Token", NULL, 0, args, 4, addr, &gas);
    gas_line("deploy EIP20Token", gas);
}

static void deploy_org(struct cl_chain *c, const uint8_t owner[20], const uint8_t worker[20],
                       uint8_t addr[20])
{
    uint8_t zero[20] = {0};
    struct abi_value workers = abi_v_address(worker);
    struct abi_value args[4] = {abi_v_address(owner), abi_v_address(zero), abi_v_list(&workers, 1),
                                abi_v_uint(cl_block_number(c) + 1000000)};
    uint64_t gas;

    cl_deploy(c, owner, "Organization", NULL, 0, args, 4, addr, &gas);
    gas_line("deploy Organization", gas);
}

/* An Anchor on `c` seeded with the current state root of `remote`. */
static void deploy_anchor(struct cl_chain *c, const uint8_t from[20], const uint8_t org[20],
                          struct cl_chain *remote, uint8_t addr[20])
{
    struct eth_block b;
    uint64_t h, gas;
    struct abi_value args[5];

    /* Never anchor height 0: its root is the empty trie's, not genesis state. */
    if (cl_block_number(remote) == 0)
        cl_mine(remote, 1);
    h = cl_block_number(remote);
    cl_block(remote, h, &b);
    args[0] = abi_v_uint(remote->chain_id);
    args[1] = abi_v_uint(h);
    args[2] = abi_v_bytes(b.state_root, 32);
    args[3] = abi_v_uint(MAX_STATE_ROOTS);
    args[4] = abi_v_address(org);
    cl_deploy(c, from, "Anchor", NULL, 0, args, 5, addr, &gas);
    gas_line("deploy Anchor", gas);
}

static void setup(struct net *n)
{
    struct artifact_lib o_lib = {"MerklePatriciaProof", {0}}, a_lib = o_lib;
    uint8_t zero[20] = {0}, word[32];
    struct u256 v;
    uint64_t gas;

    memset(n, 0, sizeof(*n));
    cl_open(&n->o, "ORIGIN");
    cl_open(&n->a, "AUX");
    cl_new_account(&n->o, 100, n->o_owner);
    cl_new_account(&n->a, 100, n->a_owner);
    cl_new_account(&n->o, 100, n->o_fac);
    cl_new_account(&n->a, 100, n->a_fac);
    cl_new_account(&n->o, 100, n->staker);
    cl_new_account(&n->a, 100, n->redeemer);
    n->bounty = cl_u256_e(3, 16); /* 0.03 base tokens / native coins */

    cl_deploy(&n->o, n->o_owner, "MerklePatriciaProof", NULL, 0, NULL, 0, n->o_mpp, &gas);
    gas_line("deploy MerklePatriciaProof", gas);
    cl_deploy(&n->a, n->a_owner, "MerklePatriciaProof", NULL, 0, NULL, 0, n->a_mpp, &gas);
    memcpy(o_lib.address, n->o_mpp, 20);
    memcpy(a_lib.address, n->a_mpp, 20);
    deploy_token(&n->o, n->o_owner, "VT", n->vt);
    deploy_token(&n->o, n->o_owner, "BT", n->bt);
    deploy_org(&n->o, n->o_owner, n->o_fac, n->o_org);
    deploy_org(&n->a, n->a_owner, n->a_fac, n->a_org);
    deploy_anchor(&n->o, n->o_owner, n->o_org, &n->a, n->o_anchor);
    deploy_anchor(&n->a, n->a_owner, n->a_org, &n->o, n->a_anchor);
    {
        struct abi_value args[7] = {abi_v_address(n->vt),     abi_v_address(n->bt),
                                    abi_v_address(n->o_anchor), abi_v_u256(&n->bounty),
                                    abi_v_address(n->o_org),  abi_v_address(zero),
                                    abi_v_uint(MAX_STORAGE_ROOTS)};
        cl_deploy(&n->o, n->o_owner, "EIP20Gateway", &o_lib, 1, args, 7, n->gw, &gas);
        gas_line("deploy EIP20Gateway", gas);
    }
    {
        const char *sym = "UT";
        struct abi_value args[5] = {abi_v_address(n->vt), abi_v_bytes(sym, 2), abi_v_bytes(sym, 2),
                                    abi_v_uint(18), abi_v_address(n->a_org)};
        cl_deploy(&n->a, n->a_owner, "UtilityToken", NULL, 0, args, 5, n->ut, &gas);
        gas_line("deploy UtilityToken", gas);
    }
    {
        struct abi_value args[8] = {abi_v_address(n->vt),       abi_v_address(n->ut),
                                    abi_v_address(n->a_anchor), abi_v_u256(&n->bounty),
                                    abi_v_address(n->a_org),    abi_v_address(n->gw),
                                    abi_v_address(zero),        abi_v_uint(MAX_STORAGE_ROOTS)};
        cl_deploy(&n->a, n->a_owner, "EIP20CoGateway", &a_lib, 1, args, 8, n->cgw, &gas);
        gas_line("deploy EIP20CoGateway", gas);
    }
    {
        struct abi_value a1 = abi_v_address(n->cgw);
        tx(&n->a, "setCoGateway", n->a_owner, n->ut, NULL, "setCoGateway(address)", &a1, 1, NULL);
        tx(&n->o, "activateGateway", n->o_owner, n->gw, NULL, "activateGateway(address)", &a1, 1,
           NULL);
    }
    /* The wiring, read back. */
    v = view(&n->o, n->gw, "stakeVault()", NULL, 0);
    word_address(&v, n->vault);
    u256_to_be32(&v, word);
    assert_false(u256_is_zero(&v));
    v = view(&n->o, n->gw, "remoteGateway()", NULL, 0);
    u256_to_be32(&v, word);
    assert_memory_equal(word + 12, n->cgw, 20);
    v = view(&n->a, n->cgw, "remoteGateway()", NULL, 0);
    u256_to_be32(&v, word);
    assert_memory_equal(word + 12, n->gw, 20);
    assert_int_equal(u64(view(&n->o, n->gw, "MESSAGE_BOX_OFFSET()", NULL, 0)), 9);
    assert_int_equal(u64(view(&n->a, n->cgw, "MESSAGE_BOX_OFFSET()", NULL, 0)), 9);
    assert_int_equal(u64(view(&n->o, n->gw, "activated()", NULL, 0)), 1);
    v = view(&n->a, n->ut, "coGateway()", NULL, 0);
    u256_to_be32(&v, word);
    assert_memory_equal(word + 12, n->cgw, 20);
}

static void teardown(struct net *n)
{
    cl_close(&n->o);
    cl_close(&n->a);
}

/* ---- proofs ---- */

/* The contract's verdict on a proof: MerklePatriciaProof.verify by eth_call
 * (a revert counts as false). */
static int contract_verdict(struct cl_chain *c, const uint8_t mpp[20], const uint8_t value[32],
                            const uint8_t path[32], const uint8_t *proof, size_t proof_len,
                            const uint8_t root[32])
{
    struct abi_value args[4] = {abi_v_bytes(value, 32), abi_v_bytes(path, 32),
                                abi_v_bytes(proof, proof_len), abi_v_bytes(root, 32)};
    uint8_t *data, word[32];
    size_t len;
    int ok;

    cl_calldata("verify(bytes32,bytes,bytes,bytes32)", args, 4, &data, &len);
    ok = cl_call_word(c, mpp, data, len, word, NULL, 0);
    free(data);
    return ok && word[31] == 1;
}

/* Our C verifier's verdict on the same question: the proof verifies and
 * proves a value whose keccak256 is `value`. */
static int c_verdict(const uint8_t value[32], const uint8_t path[32], const uint8_t *proof,
                     size_t proof_len, const uint8_t root[32])
{
    struct mpt_node nodes[MPT_MAX_PROOF_NODES];
    const uint8_t *v;
    size_t n, vlen;
    int found;
    uint8_t h[32];
    struct mr_error err;

    if (mpt_proof_decode(proof, proof_len, nodes, MPT_MAX_PROOF_NODES, &n, &err) != MR_OK)
        return 0;
    if (mpt_verify(root, path, 32, nodes, n, &v, &vlen, &found, &err) != MR_OK || !found)
        return 0;
    keccak256(v, vlen, h);
    return memcmp(h, value, 32) == 0;
}

/* Both verifiers on a proof (which must verify) and on tampered copies:
 * a flipped byte in each node, a wrong value, a wrong root (must not). */
static void differential(struct cl_chain *c, const uint8_t mpp[20], const uint8_t value[32],
                         const uint8_t path[32], const uint8_t *proof, size_t proof_len,
                         const uint8_t root[32])
{
    uint8_t *copy = malloc(proof_len), other[32];
    int cv, kv;

    assert_non_null(copy);
    cv = c_verdict(value, path, proof, proof_len, root);
    kv = contract_verdict(c, mpp, value, path, proof, proof_len, root);
    if (!cv || !kv)
        fail_msg("a real proof: C verifier %d, contract %d (both must accept)", cv, kv);
    /* Flip a byte a third of the way into the list, then near the end. */
    for (size_t k = 1; k <= 2; k++) {
        size_t at = k == 1 ? proof_len / 3 : proof_len - 2;

        memcpy(copy, proof, proof_len);
        copy[at] ^= 0x01;
        cv = c_verdict(value, path, copy, proof_len, root);
        kv = contract_verdict(c, mpp, value, path, copy, proof_len, root);
        if (cv != kv || cv)
            fail_msg("byte %zu flipped: C verifier %d, contract %d (both must refuse)", at, cv, kv);
    }
    memcpy(other, value, 32);
    other[0] ^= 0x80;
    assert_int_equal(c_verdict(other, path, proof, proof_len, root), 0);
    assert_int_equal(contract_verdict(c, mpp, other, path, proof, proof_len, root), 0);
    memcpy(other, root, 32);
    other[31] ^= 0x01;
    assert_int_equal(c_verdict(value, path, proof, proof_len, other), 0);
    assert_int_equal(contract_verdict(c, mpp, value, path, proof, proof_len, other), 0);
    free(copy);
}

/* What the target chain needs to trust one status of the source gateway. */
struct proven {
    uint64_t height;
    uint8_t state_root[32];
    uint8_t account[128];     /* RLP([nonce, balance, storageRoot, codeHash]) */
    size_t account_len;
    uint8_t *account_nodes;   /* RLP list of the account proof's nodes (malloc'd) */
    size_t account_nodes_len;
    uint8_t *storage_nodes;   /* RLP list of the storage proof's nodes (malloc'd) */
    size_t storage_nodes_len;
};

static uint8_t *encode_nodes(const struct mpt_node *nodes, size_t n, size_t *len)
{
    uint8_t *buf;

    mpt_proof_encode(nodes, n, NULL, 0, len);
    buf = malloc(*len);
    assert_non_null(buf);
    assert_int_equal(mpt_proof_encode(nodes, n, buf, *len, len), MR_OK);
    return buf;
}

/* eth_getProof of `gateway`'s slot on `src` at `height`, checked with our
 * C verifier: the account against the block's state root, and the slot
 * holding `status` against the account's storage root. */
static void fetch_proof(struct cl_chain *src, const uint8_t gateway[20], const uint8_t slot[32],
                        uint64_t height, enum mosaic_status status, struct proven *p)
{
    char id[ETHRPC_BLOCK_ID_LEN];
    struct proofjson pj;
    struct eth_block b;
    struct mpt_account acct;
    struct u256 value;
    struct mr_error err;
    int exists;

    uint8_t slots[1][32];

    memcpy(slots[0], slot, 32);
    memset(p, 0, sizeof(*p));
    p->height = height;
    cl_block(src, height, &b);
    memcpy(p->state_root, b.state_root, 32);
    if (ethrpc_get_proof(src->ep, gateway, (const uint8_t(*)[32])slots, 1,
                         ethrpc_block_id(height, id), &pj, NULL, &err) != MR_OK)
        fail_msg("%s eth_getProof: %s", src->label, err.msg);
    assert_int_equal(pj.n_storage, 1);
    if (mpt_verify_account(p->state_root, gateway, pj.account_nodes, pj.n_account_nodes, &acct,
                           &exists, &err) != MR_OK || !exists)
        fail_msg("account proof of the gateway at %llu: %s", (unsigned long long)height,
                 exists ? err.msg : "absent");
    if (mpt_verify_storage(acct.storage_root, slot, pj.storage[0].nodes, pj.storage[0].n_nodes,
                           &value, &exists, &err) != MR_OK)
        fail_msg("storage proof: %s", err.msg);
    if (!exists || u64(value) != (uint64_t)status)
        fail_msg("the slot holds %llu, not status %d", (unsigned long long)u64(value), status);
    assert_int_equal(mpt_account_encode(&acct, p->account, sizeof(p->account), &p->account_len),
                     MR_OK);
    p->account_nodes = encode_nodes(pj.account_nodes, pj.n_account_nodes, &p->account_nodes_len);
    p->storage_nodes = encode_nodes(pj.storage[0].nodes, pj.storage[0].n_nodes,
                                    &p->storage_nodes_len);
    proofjson_free(&pj);
}

static void proven_free(struct proven *p)
{
    free(p->account_nodes);
    free(p->storage_nodes);
}

/* Anchors src's state root at p->height into `anchor` on dst (organization
 * owner), then proves the source gateway's account at that height into
 * `target_gw` (facilitator), after checking both proofs with both
 * verifiers. */
static void anchor_and_prove(struct cl_chain *dst, const uint8_t owner[20], const uint8_t fac[20],
                             const uint8_t anchor[20], const uint8_t target_gw[20],
                             const uint8_t mpp[20], const uint8_t source_gw[20],
                             const uint8_t slot[32], enum mosaic_status status,
                             const struct proven *p, const char *suffix)
{
    struct abi_value args[3];
    struct eth_receipt r;
    uint8_t path[32], value[32];
    struct mpt_account acct;
    struct mr_error err;
    const struct eth_log *l;
    char label[64];

    /* Account proof: path keccak(address), value keccak(rlpAccount). */
    keccak256(source_gw, 20, path);
    keccak256(p->account, p->account_len, value);
    differential(dst, mpp, value, path, p->account_nodes, p->account_nodes_len, p->state_root);
    /* Storage proof: path keccak(slot), value keccak(uint8 status). */
    assert_int_equal(mpt_account_decode(p->account, p->account_len, &acct, &err), MR_OK);
    mosaic_storage_path(slot, path);
    assert_int_equal(mosaic_status_leaf_hash(status, value, &err), MR_OK);
    differential(dst, mpp, value, path, p->storage_nodes, p->storage_nodes_len, acct.storage_root);

    args[0] = abi_v_uint(p->height);
    args[1] = abi_v_bytes(p->state_root, 32);
    snprintf(label, sizeof(label), "anchorStateRoot%s", suffix);
    tx(dst, label, owner, anchor, NULL, "anchorStateRoot(uint256,bytes32)", args, 2, &r);
    l = need_log(&r, anchor, "StateRootAvailable(uint256,bytes32)");
    assert_int_equal(u64(log_word(l, 0)), p->height);
    ethrpc_receipt_free(&r);

    args[1] = abi_v_bytes(p->account, p->account_len);
    args[2] = abi_v_bytes(p->account_nodes, p->account_nodes_len);
    snprintf(label, sizeof(label), "proveGateway%s", suffix);
    tx(dst, label, fac, target_gw, NULL, "proveGateway(uint256,bytes,bytes)", args, 3, &r);
    l = need_log(&r, target_gw, "GatewayProven(address,uint256,bytes32,bool)");
    assert_memory_equal(l->data + 12, source_gw, 20);
    assert_int_equal(u64(log_word(l, 1)), p->height);
    assert_memory_equal(l->data + 64, acct.storage_root, 32);
    assert_int_equal(u64(log_word(l, 3)), 0); /* not already proven */
    ethrpc_receipt_free(&r);
}

/* ---- reward ---- */

/* reward = gasPrice * min(gasConsumed, gasLimit), with gasConsumed the
 * total the target recorded in messages(mh) (field 6). */
static struct u256 expected_reward(struct cl_chain *c, const uint8_t target_gw[20],
                                   const uint8_t mh[32], struct u256 gp, struct u256 gl)
{
    struct abi_value a = abi_v_bytes(mh, 32);
    uint8_t *data, *out = NULL;
    size_t len, out_len = 0;
    struct u256 consumed;

    cl_calldata("messages(bytes32)", &a, 1, &data, &len);
    cl_call(c, NULL, target_gw, data, len, &out, &out_len);
    assert_int_equal(out_len, 7 * 32);
    u256_from_be(&consumed, out + 6 * 32, 32);
    free(data);
    free(out);
    assert_false(u256_is_zero(&consumed));
    return cl_mul(gp, u256_cmp(&consumed, &gl) < 0 ? consumed : gl);
}

/* ---- 5.1: stake and mint by hashlock ---- */

struct msg {
    struct u256 amount, gas_price, gas_limit;
    uint64_t nonce;
    uint8_t beneficiary[20];
    uint8_t secret[32], hashlock[32];
    uint8_t mh[32];
};

static void new_msg(struct msg *m, uint64_t nonce, struct u256 amount, uint64_t gp, uint64_t gl,
                    const uint8_t beneficiary[20])
{
    memset(m, 0, sizeof(*m));
    m->amount = amount;
    m->gas_price = cl_u256(gp);
    m->gas_limit = cl_u256(gl);
    m->nonce = nonce;
    memcpy(m->beneficiary, beneficiary, 20);
    rand32(m->secret);
    mosaic_hashlock(m->secret, m->hashlock);
}

/* The message hash as the relayer computes it (eth/mosaic.c). */
static void c_message_hash(enum mosaic_kind kind, const struct msg *m, const uint8_t gateway[20],
                           const uint8_t sender[20], uint8_t out[32])
{
    struct mosaic_message mm;

    mosaic_intent_hash(kind, &m->amount, m->beneficiary, gateway, mm.intent_hash);
    u256_from_u64(&mm.nonce, m->nonce);
    mm.gas_price = m->gas_price;
    mm.gas_limit = m->gas_limit;
    memcpy(mm.sender, sender, 20);
    memcpy(mm.hashlock, m->hashlock, 32);
    mosaic_message_hash(&mm, out);
}

static void stake_and_mint(struct net *n, struct msg *m, const char *sfx)
{
    struct eth_receipt r;
    struct proven p;
    uint8_t slot[32], want_mh[32];
    const struct eth_log *l;
    struct u256 vt_staker, bt_staker, bt_fac, vault, ut_ben, ut_fac, supply, reward, nonce;
    char label[64];

    /* The staker's funds: amount value tokens, the bounty in base tokens. */
    token_transfer(&n->o, n->vt, n->o_owner, n->staker, m->amount);
    token_transfer(&n->o, n->bt, n->o_owner, n->staker, n->bounty);
    token_approve(&n->o, n->vt, n->staker, n->gw, m->amount);
    token_approve(&n->o, n->bt, n->staker, n->gw, n->bounty);
    vt_staker = cl_token_balance(&n->o, n->vt, n->staker);
    bt_staker = cl_token_balance(&n->o, n->bt, n->staker);
    bt_fac = cl_token_balance(&n->o, n->bt, n->o_fac);
    vault = cl_token_balance(&n->o, n->vt, n->vault);
    ut_ben = cl_token_balance(&n->a, n->ut, m->beneficiary);
    ut_fac = cl_token_balance(&n->a, n->ut, n->a_fac);
    supply = view(&n->a, n->ut, "totalSupply()", NULL, 0);
    {
        struct abi_value a = abi_v_address(n->staker);
        nonce = view(&n->o, n->gw, "getNonce(address)", &a, 1);
        assert_int_equal(u64(nonce), m->nonce);
    }

    /* 2. stake (origin). */
    {
        struct abi_value args[6] = {abi_v_u256(&m->amount),    abi_v_address(m->beneficiary),
                                    abi_v_u256(&m->gas_price), abi_v_u256(&m->gas_limit),
                                    abi_v_uint(m->nonce),      abi_v_bytes(m->hashlock, 32)};
        snprintf(label, sizeof(label), "stake%s", sfx);
        tx(&n->o, label, n->staker, n->gw, NULL,
           "stake(uint256,address,uint256,uint256,uint256,bytes32)", args, 6, &r);
    }
    l = need_log(&r, n->gw, "StakeIntentDeclared(bytes32,address,uint256,address,uint256)");
    memcpy(m->mh, l->topics[1], 32);
    c_message_hash(MOSAIC_STAKE, m, n->gw, n->staker, want_mh);
    assert_memory_equal(m->mh, want_mh, 32);
    assert_memory_equal(l->data + 12, n->staker, 20);
    assert_int_equal(u64(log_word(l, 1)), m->nonce);
    assert_memory_equal(l->data + 64 + 12, m->beneficiary, 20);
    cl_assert_u256("StakeIntentDeclared amount", log_word(l, 3), m->amount);
    assert_int_equal(u64(view_mh(&n->o, n->gw, "getOutboxMessageStatus(bytes32)", m->mh)), 1);
    cl_assert_u256("penalty", view_mh(&n->o, n->gw, "penalty(bytes32)", m->mh),
                   cl_u256_e(45, 15)); /* 1.5 x 0.03 */

    /* 3-4. anchor origin's root in AnchorA, prove the gateway on the co-gateway. */
    mosaic_outbox_slot(m->mh, MOSAIC_MESSAGE_BOX_OFFSET, slot);
    fetch_proof(&n->o, n->gw, slot, r.block_number, MOSAIC_DECLARED, &p);
    ethrpc_receipt_free(&r);
    anchor_and_prove(&n->a, n->a_owner, n->a_fac, n->a_anchor, n->cgw, n->a_mpp, n->gw, slot,
                     MOSAIC_DECLARED, &p, sfx);

    /* 5. confirmStakeIntent (auxiliary). */
    {
        struct abi_value args[9] = {abi_v_address(n->staker),   abi_v_uint(m->nonce),
                                    abi_v_address(m->beneficiary), abi_v_u256(&m->amount),
                                    abi_v_u256(&m->gas_price),  abi_v_u256(&m->gas_limit),
                                    abi_v_bytes(m->hashlock, 32), abi_v_uint(p.height),
                                    abi_v_bytes(p.storage_nodes, p.storage_nodes_len)};
        snprintf(label, sizeof(label), "confirmStakeIntent%s", sfx);
        tx(&n->a, label, n->a_fac, n->cgw, NULL,
           "confirmStakeIntent(address,uint256,address,uint256,uint256,uint256,bytes32,uint256,"
           "bytes)",
           args, 9, &r);
    }
    l = need_log(&r, n->cgw,
                 "StakeIntentConfirmed(bytes32,address,uint256,address,uint256,uint256,bytes32)");
    assert_memory_equal(l->topics[1], m->mh, 32);
    assert_int_equal(u64(log_word(l, 4)), p.height);
    assert_memory_equal(l->data + 5 * 32, m->hashlock, 32);
    ethrpc_receipt_free(&r);
    proven_free(&p);
    assert_int_equal(u64(view_mh(&n->a, n->cgw, "getInboxMessageStatus(bytes32)", m->mh)), 1);

    /* 6. progressStake (origin): stake into the vault, bounty to the caller. */
    {
        struct abi_value args[2] = {abi_v_bytes(m->mh, 32), abi_v_bytes(m->secret, 32)};
        snprintf(label, sizeof(label), "progressStake%s", sfx);
        tx(&n->o, label, n->o_fac, n->gw, NULL, "progressStake(bytes32,bytes32)", args, 2, &r);
    }
    l = need_log(&r, n->gw, "StakeProgressed(bytes32,address,uint256,uint256,bool,bytes32)");
    assert_int_equal(u64(log_word(l, 3)), 0);
    assert_memory_equal(l->data + 4 * 32, m->secret, 32);
    ethrpc_receipt_free(&r);
    assert_int_equal(u64(view_mh(&n->o, n->gw, "getOutboxMessageStatus(bytes32)", m->mh)), 2);

    /* 7. progressMint (auxiliary): amount - reward to the beneficiary, reward to the caller. */
    {
        struct abi_value args[2] = {abi_v_bytes(m->mh, 32), abi_v_bytes(m->secret, 32)};
        snprintf(label, sizeof(label), "progressMint%s", sfx);
        tx(&n->a, label, n->a_fac, n->cgw, NULL, "progressMint(bytes32,bytes32)", args, 2, &r);
    }
    l = need_log(&r, n->cgw,
                 "MintProgressed(bytes32,address,address,uint256,uint256,uint256,bool,bytes32)");
    reward = expected_reward(&n->a, n->cgw, m->mh, m->gas_price, m->gas_limit);
    cl_assert_u256("MintProgressed stakeAmount", log_word(l, 2), m->amount);
    cl_assert_u256("MintProgressed mintedAmount", log_word(l, 3), cl_sub(m->amount, reward));
    cl_assert_u256("MintProgressed rewardAmount", log_word(l, 4), reward);
    ethrpc_receipt_free(&r);
    assert_int_equal(u64(view_mh(&n->a, n->cgw, "getInboxMessageStatus(bytes32)", m->mh)), 2);

    /* Balances, to the wei. */
    cl_assert_u256("staker value tokens", cl_token_balance(&n->o, n->vt, n->staker),
                   cl_sub(vt_staker, m->amount));
    cl_assert_u256("vault value tokens", cl_token_balance(&n->o, n->vt, n->vault),
                   cl_add(vault, m->amount));
    cl_assert_u256("gateway value tokens", cl_token_balance(&n->o, n->vt, n->gw), cl_u256(0));
    cl_assert_u256("staker base tokens", cl_token_balance(&n->o, n->bt, n->staker),
                   cl_sub(bt_staker, n->bounty));
    cl_assert_u256("facilitator bounty", cl_token_balance(&n->o, n->bt, n->o_fac),
                   cl_add(bt_fac, n->bounty));
    cl_assert_u256("gateway base tokens", cl_token_balance(&n->o, n->bt, n->gw), cl_u256(0));
    cl_assert_u256("beneficiary utility tokens", cl_token_balance(&n->a, n->ut, m->beneficiary),
                   cl_add(ut_ben, cl_sub(m->amount, reward)));
    cl_assert_u256("facilitator reward", cl_token_balance(&n->a, n->ut, n->a_fac),
                   cl_add(ut_fac, reward));
    cl_assert_u256("utility supply", view(&n->a, n->ut, "totalSupply()", NULL, 0),
                   cl_add(supply, m->amount));
    {
        struct abi_value a = abi_v_address(n->staker);
        assert_int_equal(u64(view(&n->o, n->gw, "getNonce(address)", &a, 1)), m->nonce + 1);
    }
}

/* ---- 5.4: redeem and unstake by hashlock ---- */

/* Native coins spent on gas by a receipt. */
static struct u256 gas_cost(const struct eth_receipt *r)
{
    return cl_mul(cl_u256(r->gas_used), r->effective_gas_price);
}

static void redeem_and_unstake(struct net *n, struct msg *m, const char *sfx)
{
    struct eth_receipt r;
    struct proven p;
    uint8_t slot[32], want_mh[32];
    const struct eth_log *l;
    struct u256 ut_red, ut_supply, native_red, native_fac, vt_ben, vt_fac, vault, reward;
    char label[64];

    token_approve(&n->a, n->ut, n->redeemer, n->cgw, m->amount);
    ut_red = cl_token_balance(&n->a, n->ut, n->redeemer);
    ut_supply = view(&n->a, n->ut, "totalSupply()", NULL, 0);
    native_red = cl_balance(&n->a, n->redeemer);
    native_fac = cl_balance(&n->a, n->a_fac);
    vt_ben = cl_token_balance(&n->o, n->vt, m->beneficiary);
    vt_fac = cl_token_balance(&n->o, n->vt, n->o_fac);
    vault = cl_token_balance(&n->o, n->vt, n->vault);

    /* 2. redeem{value: bounty} (auxiliary). */
    {
        struct abi_value args[6] = {abi_v_u256(&m->amount),    abi_v_address(m->beneficiary),
                                    abi_v_u256(&m->gas_price), abi_v_u256(&m->gas_limit),
                                    abi_v_uint(m->nonce),      abi_v_bytes(m->hashlock, 32)};
        snprintf(label, sizeof(label), "redeem%s", sfx);
        tx(&n->a, label, n->redeemer, n->cgw, &n->bounty,
           "redeem(uint256,address,uint256,uint256,uint256,bytes32)", args, 6, &r);
    }
    l = need_log(&r, n->cgw, "RedeemIntentDeclared(bytes32,address,uint256,address,uint256)");
    memcpy(m->mh, l->topics[1], 32);
    c_message_hash(MOSAIC_REDEEM, m, n->cgw, n->redeemer, want_mh);
    assert_memory_equal(m->mh, want_mh, 32);
    cl_assert_u256("redeemer native after redeem", cl_balance(&n->a, n->redeemer),
                   cl_sub(cl_sub(native_red, n->bounty), gas_cost(&r)));
    cl_assert_u256("co-gateway holds the redeemed tokens", cl_token_balance(&n->a, n->ut, n->cgw),
                   m->amount);

    /* 3-4. anchor auxiliary's root in AnchorO, prove the co-gateway on the gateway. */
    mosaic_outbox_slot(m->mh, MOSAIC_MESSAGE_BOX_OFFSET, slot);
    fetch_proof(&n->a, n->cgw, slot, r.block_number, MOSAIC_DECLARED, &p);
    ethrpc_receipt_free(&r);
    anchor_and_prove(&n->o, n->o_owner, n->o_fac, n->o_anchor, n->gw, n->o_mpp, n->cgw, slot,
                     MOSAIC_DECLARED, &p, sfx);

    /* 5. confirmRedeemIntent (origin): blockHeight before hashLock. */
    {
        struct abi_value args[9] = {abi_v_address(n->redeemer),  abi_v_uint(m->nonce),
                                    abi_v_address(m->beneficiary), abi_v_u256(&m->amount),
                                    abi_v_u256(&m->gas_price),   abi_v_u256(&m->gas_limit),
                                    abi_v_uint(p.height),        abi_v_bytes(m->hashlock, 32),
                                    abi_v_bytes(p.storage_nodes, p.storage_nodes_len)};
        snprintf(label, sizeof(label), "confirmRedeemIntent%s", sfx);
        tx(&n->o, label, n->o_fac, n->gw, NULL,
           "confirmRedeemIntent(address,uint256,address,uint256,uint256,uint256,uint256,bytes32,"
           "bytes)",
           args, 9, &r);
    }
    l = need_log(&r, n->gw,
                 "RedeemIntentConfirmed(bytes32,address,uint256,address,uint256,uint256,bytes32)");
    assert_memory_equal(l->topics[1], m->mh, 32);
    ethrpc_receipt_free(&r);
    proven_free(&p);
    assert_int_equal(u64(view_mh(&n->o, n->gw, "getInboxMessageStatus(bytes32)", m->mh)), 1);

    /* 6. progressRedeem (auxiliary): burn, native bounty to the caller. */
    {
        struct abi_value args[2] = {abi_v_bytes(m->mh, 32), abi_v_bytes(m->secret, 32)};
        snprintf(label, sizeof(label), "progressRedeem%s", sfx);
        tx(&n->a, label, n->a_fac, n->cgw, NULL, "progressRedeem(bytes32,bytes32)", args, 2, &r);
    }
    need_log(&r, n->cgw, "RedeemProgressed(bytes32,address,uint256,uint256,bool,bytes32)");
    cl_assert_u256("facilitator native bounty", cl_balance(&n->a, n->a_fac),
                   cl_sub(cl_add(native_fac, n->bounty), gas_cost(&r)));
    ethrpc_receipt_free(&r);
    cl_assert_u256("utility supply after burn", view(&n->a, n->ut, "totalSupply()", NULL, 0),
                   cl_sub(ut_supply, m->amount));
    cl_assert_u256("redeemer utility tokens", cl_token_balance(&n->a, n->ut, n->redeemer),
                   cl_sub(ut_red, m->amount));
    cl_assert_u256("co-gateway utility tokens", cl_token_balance(&n->a, n->ut, n->cgw), cl_u256(0));
    assert_int_equal(u64(view_mh(&n->a, n->cgw, "getOutboxMessageStatus(bytes32)", m->mh)), 2);

    /* 7. progressUnstake (origin): amount - reward to the beneficiary, reward to the caller. */
    {
        struct abi_value args[2] = {abi_v_bytes(m->mh, 32), abi_v_bytes(m->secret, 32)};
        snprintf(label, sizeof(label), "progressUnstake%s", sfx);
        tx(&n->o, label, n->o_fac, n->gw, NULL, "progressUnstake(bytes32,bytes32)", args, 2, &r);
    }
    l = need_log(&r, n->gw,
                 "UnstakeProgressed(bytes32,address,address,uint256,uint256,uint256,bool,bytes32)");
    reward = expected_reward(&n->o, n->gw, m->mh, m->gas_price, m->gas_limit);
    cl_assert_u256("UnstakeProgressed redeemAmount", log_word(l, 2), m->amount);
    cl_assert_u256("UnstakeProgressed unstakeAmount", log_word(l, 3), cl_sub(m->amount, reward));
    cl_assert_u256("UnstakeProgressed rewardAmount", log_word(l, 4), reward);
    ethrpc_receipt_free(&r);
    assert_int_equal(u64(view_mh(&n->o, n->gw, "getInboxMessageStatus(bytes32)", m->mh)), 2);
    cl_assert_u256("unstake beneficiary", cl_token_balance(&n->o, n->vt, m->beneficiary),
                   cl_add(vt_ben, cl_sub(m->amount, reward)));
    cl_assert_u256("facilitator reward", cl_token_balance(&n->o, n->vt, n->o_fac),
                   cl_add(vt_fac, reward));
    cl_assert_u256("vault after unstake", cl_token_balance(&n->o, n->vt, n->vault),
                   cl_sub(vault, m->amount));
}

/* ---- the tests ---- */

static void test_hashlock_flows(void **state)
{
    struct net n;
    struct msg m;
    uint8_t unstake_ben[20];

    (void)state;
    TV_REQUIRE_ANVIL();
    setup(&n);
    assert_int_equal(sys_random(unstake_ben, 20), 0);

    /* Round 1: fresh contracts and accounts. */
    new_msg(&m, 0, cl_u256_e(1000, 18), 1, 1000000, n.redeemer);
    stake_and_mint(&n, &m, "#1");
    new_msg(&m, 0, cl_u256_e(400, 18), 2, 600000, unstake_ben);
    redeem_and_unstake(&n, &m, "#1");

    /* Round 2: the same senders again (nonce 1: the previous message is
     * finished), with warm storage (steady-state gas). */
    new_msg(&m, 1, cl_u256_e(250, 18), 0, 0, n.redeemer);
    stake_and_mint(&n, &m, "#2");
    new_msg(&m, 1, cl_u256_e(100, 18), 1, 2000000, unstake_ben);
    redeem_and_unstake(&n, &m, "#2");
    teardown(&n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hashlock_flows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
