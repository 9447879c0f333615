/*
 * mosaicnet.c - a gateway pair on the suite's anvils and the steps of the
 * Mosaic flows, for the contract tests (see mosaicnet.h).
 */
#include "mosaicnet.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chain/proofjson.h"
#include "eth/keccak.h"
#include "eth/mpt.h"
#include "relayer/sysrand.h"
#include "tests/lib/testlib.h"



/* ---- small helpers ---- */

/* Deployment gas is printed by the first mn_setup() of a program only. */
static int deploys_printed;

static void deploy_gas_line(const char *call, uint64_t gas)
{
    if (!deploys_printed)
        mn_gas_line(call, gas);
}

void mn_gas_line(const char *call, uint64_t gas)
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
uint64_t mn_tx(struct cl_chain *c, const char *label, const uint8_t from[20],
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
        mn_gas_line(label, gas);
    return gas;
}

struct u256 mn_view(struct cl_chain *c, const uint8_t to[20], const char *sig,
                        const struct abi_value *args, size_t n)
{
    return cl_view_u256(c, to, sig, args, n);
}

struct u256 mn_view_mh(struct cl_chain *c, const uint8_t to[20], const char *sig,
                           const uint8_t mh[32])
{
    struct abi_value a = abi_v_bytes(mh, 32);

    return mn_view(c, to, sig, &a, 1);
}

uint64_t mn_u64(struct u256 v)
{
    uint64_t x = 0;

    if (u256_to_u64(&v, &x) != 0)
        fail_msg("value does not fit 64 bits");
    return x;
}

void mn_word_address(const struct u256 *w, uint8_t out[20])
{
    uint8_t be[32];

    u256_to_be32(w, be);
    memcpy(out, be + 12, 20);
}

/* The i-th data word of a log, as a number. */
struct u256 mn_log_word(const struct eth_log *l, size_t i)
{
    struct u256 v;

    if (l->data_len < 32 * (i + 1))
        fail_msg("log data of %zu bytes has no word %zu", l->data_len, i);
    u256_from_be(&v, l->data + 32 * i, 32);
    return v;
}

const struct eth_log *mn_need_log(const struct eth_receipt *r, const uint8_t address[20],
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
void mn_token_transfer(struct cl_chain *c, const uint8_t token[20], const uint8_t from[20],
                           const uint8_t to[20], struct u256 amount)
{
    struct abi_value args[2] = {abi_v_address(to), abi_v_u256(&amount)};

    mn_tx(c, NULL, from, token, NULL, "transfer(address,uint256)", args, 2, NULL);
}

void mn_token_approve(struct cl_chain *c, const uint8_t token[20], const uint8_t owner[20],
                          const uint8_t spender[20], struct u256 amount)
{
    struct abi_value args[2] = {abi_v_address(spender), abi_v_u256(&amount)};

    mn_tx(c, NULL, owner, token, NULL, "approve(address,uint256)", args, 2, NULL);
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
    deploy_gas_line("deploy EIP20Token", gas);
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
    deploy_gas_line("deploy Organization", gas);
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
    args[3] = abi_v_uint(MN_MAX_STATE_ROOTS);
    args[4] = abi_v_address(org);
    cl_deploy(c, from, "Anchor", NULL, 0, args, 5, addr, &gas);
    deploy_gas_line("deploy Anchor", gas);
}

void mn_setup(struct mn_net *n, const uint8_t burner[20])
{
    struct artifact_lib o_lib = {"MerklePatriciaProof", {0}}, a_lib = o_lib;
    uint8_t word[32];
    struct u256 v;
    uint64_t gas;

    memset(n, 0, sizeof(*n));
    memcpy(n->burner, burner, 20);
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
    deploy_gas_line("deploy MerklePatriciaProof", gas);
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
                                    abi_v_address(n->o_org),  abi_v_address(n->burner),
                                    abi_v_uint(MN_MAX_STORAGE_ROOTS)};
        cl_deploy(&n->o, n->o_owner, "EIP20Gateway", &o_lib, 1, args, 7, n->gw, &gas);
        deploy_gas_line("deploy EIP20Gateway", gas);
    }
    {
        const char *sym = "UT";
        struct abi_value args[5] = {abi_v_address(n->vt), abi_v_bytes(sym, 2), abi_v_bytes(sym, 2),
                                    abi_v_uint(18), abi_v_address(n->a_org)};
        cl_deploy(&n->a, n->a_owner, "UtilityToken", NULL, 0, args, 5, n->ut, &gas);
        deploy_gas_line("deploy UtilityToken", gas);
    }
    {
        struct abi_value args[8] = {abi_v_address(n->vt),       abi_v_address(n->ut),
                                    abi_v_address(n->a_anchor), abi_v_u256(&n->bounty),
                                    abi_v_address(n->a_org),    abi_v_address(n->gw),
                                    abi_v_address(n->burner),   abi_v_uint(MN_MAX_STORAGE_ROOTS)};
        cl_deploy(&n->a, n->a_owner, "EIP20CoGateway", &a_lib, 1, args, 8, n->cgw, &gas);
        deploy_gas_line("deploy EIP20CoGateway", gas);
    }
    {
        struct abi_value a1 = abi_v_address(n->cgw);
        mn_tx(&n->a, deploys_printed ? NULL : "setCoGateway", n->a_owner, n->ut, NULL,
              "setCoGateway(address)", &a1, 1, NULL);
        mn_tx(&n->o, deploys_printed ? NULL : "activateGateway", n->o_owner, n->gw, NULL,
              "activateGateway(address)", &a1, 1, NULL);
    }
    /* The wiring, read back. */
    v = mn_view(&n->o, n->gw, "stakeVault()", NULL, 0);
    mn_word_address(&v, n->vault);
    u256_to_be32(&v, word);
    assert_false(u256_is_zero(&v));
    v = mn_view(&n->o, n->gw, "remoteGateway()", NULL, 0);
    u256_to_be32(&v, word);
    assert_memory_equal(word + 12, n->cgw, 20);
    v = mn_view(&n->a, n->cgw, "remoteGateway()", NULL, 0);
    u256_to_be32(&v, word);
    assert_memory_equal(word + 12, n->gw, 20);
    assert_int_equal(mn_u64(mn_view(&n->o, n->gw, "MESSAGE_BOX_OFFSET()", NULL, 0)), 9);
    assert_int_equal(mn_u64(mn_view(&n->a, n->cgw, "MESSAGE_BOX_OFFSET()", NULL, 0)), 9);
    assert_int_equal(mn_u64(mn_view(&n->o, n->gw, "activated()", NULL, 0)), 1);
    v = mn_view(&n->a, n->ut, "coGateway()", NULL, 0);
    u256_to_be32(&v, word);
    assert_memory_equal(word + 12, n->cgw, 20);
    deploys_printed = 1;
}

void mn_teardown(struct mn_net *n)
{
    cl_close(&n->o);
    cl_close(&n->a);
}

/* ---- proofs ---- */

/* The contract's verdict on a proof: MerklePatriciaProof.verify by eth_call
 * (a revert counts as false). */
int mn_contract_verdict(struct cl_chain *c, const uint8_t mpp[20], const uint8_t value[32],
                        const uint8_t *path, size_t path_len, const uint8_t *proof,
                        size_t proof_len, const uint8_t root[32])
{
    struct abi_value args[4] = {abi_v_bytes(value, 32), abi_v_bytes(path, path_len),
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
int mn_c_verdict(const uint8_t value[32], const uint8_t *path, size_t path_len,
                 const uint8_t *proof, size_t proof_len, const uint8_t root[32])
{
    struct mpt_node nodes[MPT_MAX_PROOF_NODES];
    const uint8_t *v;
    size_t n, vlen;
    int found;
    uint8_t h[32];
    struct mr_error err;

    if (mpt_proof_decode(proof, proof_len, nodes, MPT_MAX_PROOF_NODES, &n, &err) != MR_OK)
        return 0;
    if (mpt_verify(root, path, path_len, nodes, n, &v, &vlen, &found, &err) != MR_OK || !found)
        return 0;
    keccak256(v, vlen, h);
    return memcmp(h, value, 32) == 0;
}

/* Both verifiers on a proof (which must verify) and on tampered copies:
 * a flipped byte in each node, a wrong value, a wrong root (must not). */
void mn_differential(struct cl_chain *c, const uint8_t mpp[20], const uint8_t value[32],
                         const uint8_t path[32], const uint8_t *proof, size_t proof_len,
                         const uint8_t root[32])
{
    uint8_t *copy = malloc(proof_len), other[32];
    int cv, kv;

    assert_non_null(copy);
    cv = mn_c_verdict(value, path, 32, proof, proof_len, root);
    kv = mn_contract_verdict(c, mpp, value, path, 32, proof, proof_len, root);
    if (!cv || !kv)
        fail_msg("a real proof: C verifier %d, contract %d (both must accept)", cv, kv);
    /* Flip a byte a third of the way into the list, then near the end. */
    for (size_t k = 1; k <= 2; k++) {
        size_t at = k == 1 ? proof_len / 3 : proof_len - 2;

        memcpy(copy, proof, proof_len);
        copy[at] ^= 0x01;
        cv = mn_c_verdict(value, path, 32, copy, proof_len, root);
        kv = mn_contract_verdict(c, mpp, value, path, 32, copy, proof_len, root);
        if (cv != kv || cv)
            fail_msg("byte %zu flipped: C verifier %d, contract %d (both must refuse)", at, cv, kv);
    }
    memcpy(other, value, 32);
    other[0] ^= 0x80;
    assert_int_equal(mn_c_verdict(other, path, 32, proof, proof_len, root), 0);
    assert_int_equal(mn_contract_verdict(c, mpp, other, path, 32, proof, proof_len, root), 0);
    memcpy(other, root, 32);
    other[31] ^= 0x01;
    assert_int_equal(mn_c_verdict(value, path, 32, proof, proof_len, other), 0);
    assert_int_equal(mn_contract_verdict(c, mpp, value, path, 32, proof, proof_len, other), 0);
    free(copy);
}


uint8_t *mn_encode_nodes(const struct mpt_node *nodes, size_t n, size_t *len)
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
void mn_fetch_proof(struct cl_chain *src, const uint8_t gateway[20], const uint8_t slot[32],
                        uint64_t height, enum mosaic_status status, struct mn_proven *p)
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
    if (!exists || mn_u64(value) != (uint64_t)status)
        fail_msg("the slot holds %llu, not status %d", (unsigned long long)mn_u64(value), status);
    assert_int_equal(mpt_account_encode(&acct, p->account, sizeof(p->account), &p->account_len),
                     MR_OK);
    p->account_nodes = mn_encode_nodes(pj.account_nodes, pj.n_account_nodes, &p->account_nodes_len);
    p->storage_nodes = mn_encode_nodes(pj.storage[0].nodes, pj.storage[0].n_nodes,
                                    &p->storage_nodes_len);
    proofjson_free(&pj);
}

void mn_proven_free(struct mn_proven *p)
{
    free(p->account_nodes);
    free(p->storage_nodes);
}

/* Anchors src's state root at p->height into `anchor` on dst (organization
 * owner), then proves the source gateway's account at that height into
 * `target_gw` (facilitator), after checking both proofs with both
 * verifiers. */
void mn_anchor_and_prove(struct cl_chain *dst, const uint8_t owner[20], const uint8_t fac[20],
                             const uint8_t anchor[20], const uint8_t target_gw[20],
                             const uint8_t mpp[20], const uint8_t source_gw[20],
                             const uint8_t slot[32], enum mosaic_status status,
                             const struct mn_proven *p, const char *suffix)
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
    mn_differential(dst, mpp, value, path, p->account_nodes, p->account_nodes_len, p->state_root);
    /* Storage proof: path keccak(slot), value keccak(uint8 status). */
    assert_int_equal(mpt_account_decode(p->account, p->account_len, &acct, &err), MR_OK);
    mosaic_storage_path(slot, path);
    assert_int_equal(mosaic_status_leaf_hash(status, value, &err), MR_OK);
    mn_differential(dst, mpp, value, path, p->storage_nodes, p->storage_nodes_len,
                    acct.storage_root);

    args[0] = abi_v_uint(p->height);
    args[1] = abi_v_bytes(p->state_root, 32);
    snprintf(label, sizeof(label), "anchorStateRoot%s", suffix);
    mn_tx(dst, suffix != NULL ? label : NULL, owner, anchor, NULL,
          "anchorStateRoot(uint256,bytes32)", args, 2, &r);
    l = mn_need_log(&r, anchor, "StateRootAvailable(uint256,bytes32)");
    assert_int_equal(mn_u64(mn_log_word(l, 0)), p->height);
    ethrpc_receipt_free(&r);

    args[1] = abi_v_bytes(p->account, p->account_len);
    args[2] = abi_v_bytes(p->account_nodes, p->account_nodes_len);
    snprintf(label, sizeof(label), "proveGateway%s", suffix);
    mn_tx(dst, suffix != NULL ? label : NULL, fac, target_gw, NULL,
          "proveGateway(uint256,bytes,bytes)", args, 3, &r);
    l = mn_need_log(&r, target_gw, "GatewayProven(address,uint256,bytes32,bool)");
    assert_memory_equal(l->data + 12, source_gw, 20);
    assert_int_equal(mn_u64(mn_log_word(l, 1)), p->height);
    assert_memory_equal(l->data + 64, acct.storage_root, 32);
    assert_int_equal(mn_u64(mn_log_word(l, 3)), 0); /* not already proven */
    ethrpc_receipt_free(&r);
}

/* ---- reward ---- */

/* reward = gasPrice * min(gasConsumed, gasLimit), with gasConsumed the
 * total the target recorded in messages(mh) (field 6). */
struct u256 mn_expected_reward(struct cl_chain *c, const uint8_t target_gw[20],
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


void mn_new_msg(struct mn_msg *m, uint64_t nonce, struct u256 amount, uint64_t gp, uint64_t gl,
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
void mn_c_message_hash(enum mosaic_kind kind, const struct mn_msg *m, const uint8_t gateway[20],
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

/* Native coins spent on gas by a receipt. */
struct u256 mn_gas_cost(const struct eth_receipt *r)
{
    return cl_mul(cl_u256(r->gas_used), r->effective_gas_price);
}


void mn_expect_revert(struct cl_chain *c, const char *what, const uint8_t from[20],
                      const uint8_t to[20], const struct u256 *value, const char *sig,
                      const struct abi_value *args, size_t n, const char *reason)
{
    struct eth_receipt r;
    uint8_t *data;
    size_t len;
    char got[200] = "";

    cl_calldata(sig, args, n, &data, &len);
    if (cl_send_try(c, what, from, to, value, data, len, &r, got, sizeof(got))) {
        ethrpc_receipt_free(&r);
        fail_msg("%s: succeeded, but must revert (\"%s\")", what, reason);
    }
    free(data);
    if (strstr(got, reason) == NULL)
        fail_msg("%s: reverted with \"%s\", expected \"%s\"", what, got, reason);
}

/* ---- relaying statuses ---- */

static void status_slot(const uint8_t mh[32], int inbox, uint8_t slot[32])
{
    if (inbox)
        mosaic_inbox_slot(mh, MOSAIC_MESSAGE_BOX_OFFSET, slot);
    else
        mosaic_outbox_slot(mh, MOSAIC_MESSAGE_BOX_OFFSET, slot);
}

void mn_relay_to_aux(struct mn_net *n, const uint8_t mh[32], int inbox, enum mosaic_status status,
                     uint64_t height, const char *suffix, struct mn_proven *p)
{
    uint8_t slot[32];

    status_slot(mh, inbox, slot);
    mn_fetch_proof(&n->o, n->gw, slot, height, status, p);
    mn_anchor_and_prove(&n->a, n->a_owner, n->a_fac, n->a_anchor, n->cgw, n->a_mpp, n->gw, slot,
                        status, p, suffix);
}

void mn_relay_to_origin(struct mn_net *n, const uint8_t mh[32], int inbox,
                        enum mosaic_status status, uint64_t height, const char *suffix,
                        struct mn_proven *p)
{
    uint8_t slot[32];

    status_slot(mh, inbox, slot);
    mn_fetch_proof(&n->a, n->cgw, slot, height, status, p);
    mn_anchor_and_prove(&n->o, n->o_owner, n->o_fac, n->o_anchor, n->gw, n->o_mpp, n->cgw, slot,
                        status, p, suffix);
}

/* ---- flow steps ---- */

static const char *label(char *buf, size_t cap, const char *call, const char *suffix)
{
    if (suffix == NULL)
        return NULL;
    snprintf(buf, cap, "%s%s", call, suffix);
    return buf;
}

/* The declaration shared by stake and redeem: `fn` (their arguments are
 * the same) sent from `sender` to `gateway` on c with `value`, then the
 * declared event checked against the message (hash recomputed, sender,
 * nonce, beneficiary, amount) and the outbox status.  Out: m->mh.
 * Returns the block. */
static uint64_t declare(struct cl_chain *c, enum mosaic_kind kind, const uint8_t gateway[20],
                        const uint8_t sender[20], const struct u256 *value, struct mn_msg *m,
                        const char *fn, const char *event, const char *suffix)
{
    struct eth_receipt r;
    const struct eth_log *l;
    uint8_t want[32];
    char lb[64], sig[80];
    uint64_t block;
    struct abi_value args[6] = {abi_v_u256(&m->amount),    abi_v_address(m->beneficiary),
                                abi_v_u256(&m->gas_price), abi_v_u256(&m->gas_limit),
                                abi_v_uint(m->nonce),      abi_v_bytes(m->hashlock, 32)};

    snprintf(sig, sizeof(sig), "%s(uint256,address,uint256,uint256,uint256,bytes32)", fn);
    mn_tx(c, label(lb, sizeof(lb), fn, suffix), sender, gateway, value, sig, args, 6, &r);
    l = mn_need_log(&r, gateway, event);
    memcpy(m->mh, l->topics[1], 32);
    mn_c_message_hash(kind, m, gateway, sender, want);
    assert_memory_equal(m->mh, want, 32);
    assert_memory_equal(l->data + 12, sender, 20);
    assert_int_equal(mn_u64(mn_log_word(l, 1)), m->nonce);
    assert_memory_equal(l->data + 64 + 12, m->beneficiary, 20);
    cl_assert_u256(event, mn_log_word(l, 3), m->amount);
    block = r.block_number;
    ethrpc_receipt_free(&r);
    assert_int_equal(mn_u64(mn_view_mh(c, gateway, "getOutboxMessageStatus(bytes32)", m->mh)), 1);
    return block;
}

/* The confirmation's event (the same layout for stake and redeem: hash,
 * sender, nonce, beneficiary, amount, height, hashlock) and the target's
 * inbox status.  Frees *r. */
static void confirmed(struct cl_chain *c, const uint8_t gateway[20], const char *event,
                      const struct mn_msg *m, const uint8_t sender[20], uint64_t height,
                      struct eth_receipt *r)
{
    const struct eth_log *l = mn_need_log(r, gateway, event);

    assert_memory_equal(l->topics[1], m->mh, 32);
    assert_memory_equal(l->data + 12, sender, 20);
    assert_int_equal(mn_u64(mn_log_word(l, 4)), height);
    assert_memory_equal(l->data + 5 * 32, m->hashlock, 32);
    ethrpc_receipt_free(r);
    assert_int_equal(mn_u64(mn_view_mh(c, gateway, "getInboxMessageStatus(bytes32)", m->mh)), 1);
}

uint64_t mn_stake(struct mn_net *n, struct mn_msg *m, const char *suffix)
{
    mn_token_transfer(&n->o, n->vt, n->o_owner, n->staker, m->amount);
    mn_token_transfer(&n->o, n->bt, n->o_owner, n->staker, n->bounty);
    mn_token_approve(&n->o, n->vt, n->staker, n->gw, m->amount);
    mn_token_approve(&n->o, n->bt, n->staker, n->gw, n->bounty);
    return declare(&n->o, MOSAIC_STAKE, n->gw, n->staker, NULL, m, "stake",
                   "StakeIntentDeclared(bytes32,address,uint256,address,uint256)", suffix);
}

uint64_t mn_redeem(struct mn_net *n, struct mn_msg *m, const char *suffix)
{
    mn_token_approve(&n->a, n->ut, n->redeemer, n->cgw, m->amount);
    return declare(&n->a, MOSAIC_REDEEM, n->cgw, n->redeemer, &n->bounty, m, "redeem",
                   "RedeemIntentDeclared(bytes32,address,uint256,address,uint256)", suffix);
}

/* The target side's confirm of a declared message: relays the source's
 * outbox DECLARED at `height`, calls confirmStakeIntent on the co-gateway or
 * confirmRedeemIntent on the gateway, and checks its Confirmed event. */
static void confirm_intent(struct mn_net *n, enum mosaic_kind kind, const struct mn_msg *m,
                           uint64_t height, const char *suffix)
{
    int stake = kind == MOSAIC_STAKE;
    struct cl_chain *dst = stake ? &n->a : &n->o;
    const uint8_t *sender = stake ? n->staker : n->redeemer;
    const uint8_t *gateway = stake ? n->cgw : n->gw;
    const char *fn = stake ? "confirmStakeIntent" : "confirmRedeemIntent";
    struct mn_proven p;
    struct eth_receipt r;
    char lb[64];

    if (stake)
        mn_relay_to_aux(n, m->mh, 0, MOSAIC_DECLARED, height, suffix, &p);
    else
        mn_relay_to_origin(n, m->mh, 0, MOSAIC_DECLARED, height, suffix, &p);
    {
        /* confirmRedeemIntent takes blockHeight before hashLock. */
        struct abi_value hl = abi_v_bytes(m->hashlock, 32), bh = abi_v_uint(p.height);
        struct abi_value args[9] = {abi_v_address(sender),         abi_v_uint(m->nonce),
                                    abi_v_address(m->beneficiary), abi_v_u256(&m->amount),
                                    abi_v_u256(&m->gas_price),     abi_v_u256(&m->gas_limit),
                                    stake ? hl : bh,               stake ? bh : hl,
                                    abi_v_bytes(p.storage_nodes, p.storage_nodes_len)};
        mn_tx(dst, label(lb, sizeof(lb), fn, suffix), stake ? n->a_fac : n->o_fac, gateway, NULL,
              stake ? "confirmStakeIntent(address,uint256,address,uint256,uint256,uint256,"
                      "bytes32,uint256,bytes)"
                    : "confirmRedeemIntent(address,uint256,address,uint256,uint256,uint256,"
                      "uint256,bytes32,bytes)",
              args, 9, &r);
    }
    confirmed(dst, gateway,
              stake ? "StakeIntentConfirmed(bytes32,address,uint256,address,uint256,uint256,"
                      "bytes32)"
                    : "RedeemIntentConfirmed(bytes32,address,uint256,address,uint256,uint256,"
                      "bytes32)",
              m, sender, p.height, &r);
    mn_proven_free(&p);
}

void mn_confirm_stake(struct mn_net *n, const struct mn_msg *m, uint64_t height,
                      const char *suffix)
{
    confirm_intent(n, MOSAIC_STAKE, m, height, suffix);
}

void mn_confirm_redeem(struct mn_net *n, const struct mn_msg *m, uint64_t height,
                       const char *suffix)
{
    confirm_intent(n, MOSAIC_REDEEM, m, height, suffix);
}
