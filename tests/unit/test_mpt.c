/*
 * test_mpt.c - Merkle Patricia proofs, the trie builder, eth_getProof JSON
 * and `mosaic-relayer proof verify`.
 *
 * Vectors: ethereum-tests/TrieTests (roots, with deletions and inline
 * nodes), the proofs recorded from geth in mosaic-contracts-test-data (the
 * stake/redeem dumps, proof.json, generatedProofData.json), and mutations
 * of every recorded proof, all of which must fail.
 */
#include "tests/lib/testlib.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eth/hex.h"
#include "eth/keccak.h"
#include "eth/mpt.h"
#include "eth/rlp.h"
#include "chain/proofjson.h"

#define FIXDIR "mosaic/mosaic-contracts-test-data/"
#define MAXN 80

static const char *const dumps[] = {
    "stake_progressed_0.json", "stake_progressed_1.json", "stake_revoked_0.json",
    "stake_revoked_1.json", "redeem_progressed_0.json", "redeem_progressed_1.json",
    "redeem_progressed_reward_based_on_gas_consumption.json", "redeem_revoked_0.json",
    "redeem_revoked_1.json"};
#define NDUMPS (sizeof(dumps) / sizeof(dumps[0]))

static json_t *load_fixture(const char *name)
{
    char rel[160];

    snprintf(rel, sizeof(rel), FIXDIR "%s", name);
    return tv_load(rel);
}

static const char *jstr(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);

    assert_non_null(v);
    assert_true(json_is_string(v));
    return json_string_value(v);
}

static void hex32_into(const char *s, uint8_t out[32])
{
    size_t n;
    uint8_t *b = tv_hex(s, &n);

    assert_int_equal(n, 32);
    memcpy(out, b, 32);
    free(b);
}

/* ---- a proof case: owned, mutable copies of the nodes ---- */

struct pcase {
    char name[96];
    uint8_t root[32];
    uint8_t key[64];
    size_t key_len;
    uint8_t *node[MAXN];
    size_t len[MAXN];
    size_t n;
    uint8_t *value; /* expected leaf value (payload), or NULL if absent */
    size_t value_len;
};

struct pcases {
    struct pcase *c;
    size_t n, cap;
};

static struct pcase *pcases_add(struct pcases *ps, const char *name)
{
    struct pcase *c;

    if (ps->n == ps->cap) {
        ps->cap = ps->cap ? 2 * ps->cap : 64;
        ps->c = realloc(ps->c, ps->cap * sizeof(*ps->c));
        assert_non_null(ps->c);
    }
    c = &ps->c[ps->n++];
    memset(c, 0, sizeof(*c));
    snprintf(c->name, sizeof(c->name), "%s", name);
    return c;
}

static void pcases_free(struct pcases *ps)
{
    for (size_t i = 0; i < ps->n; i++) {
        for (size_t j = 0; j < ps->c[i].n; j++)
            free(ps->c[i].node[j]);
        free(ps->c[i].value);
    }
    free(ps->c);
    memset(ps, 0, sizeof(*ps));
}

static void pcase_nodes_json(struct pcase *c, json_t *arr)
{
    size_t i;
    json_t *v;

    assert_true(json_array_size(arr) <= MAXN);
    json_array_foreach(arr, i, v) {
        assert_true(json_is_string(v));
        c->node[i] = tv_hex(json_string_value(v), &c->len[i]);
    }
    c->n = json_array_size(arr);
}

/* Nodes from an `_rlpParentNodes` hex string. */
static void pcase_nodes_rlp(struct pcase *c, const char *hex)
{
    struct mpt_node nodes[MAXN];
    size_t blen, n;
    uint8_t *buf = tv_hex(hex, &blen);

    assert_int_equal(mpt_proof_decode(buf, blen, nodes, MAXN, &n, NULL), MR_OK);
    for (size_t i = 0; i < n; i++) {
        c->node[i] = malloc(nodes[i].len);
        assert_non_null(c->node[i]);
        memcpy(c->node[i], nodes[i].data, nodes[i].len);
        c->len[i] = nodes[i].len;
    }
    c->n = n;
    free(buf);
}

static void pcase_views(const struct pcase *c, struct mpt_node *nodes)
{
    for (size_t i = 0; i < c->n; i++) {
        nodes[i].data = c->node[i];
        nodes[i].len = c->len[i];
    }
}

/* Verifies c as it stands.  Out: found, value (borrowed). */
static int pcase_verify(const struct pcase *c, const uint8_t *key, size_t key_len, int *found,
                        const uint8_t **v, size_t *vlen, struct mr_error *err)
{
    struct mpt_node nodes[MAXN];

    pcase_views(c, nodes);
    return mpt_verify(c->root, key, key_len, nodes, c->n, v, vlen, found, err);
}

/* 1 if c, unmodified, proves its expected value. */
static void pcase_assert_ok(const struct pcase *c)
{
    struct mr_error err;
    const uint8_t *v;
    size_t vlen;
    int found, rc;

    rc = pcase_verify(c, c->key, c->key_len, &found, &v, &vlen, &err);
    if (rc != MR_OK)
        print_message("%s: %s\n", c->name, err.msg);
    assert_int_equal(rc, MR_OK);
    assert_int_equal(found, c->value != NULL);
    if (c->value != NULL) {
        assert_int_equal(vlen, c->value_len);
        assert_memory_equal(v, c->value, vlen);
    }
}

static void set_value_hex(struct pcase *c, const char *hex)
{
    c->value = tv_hex(hex, &c->value_len);
}

/* Account and storage proofs of one `proof_data` object of a dump.  The dumps
 * do not record the state root, so the account proof's root is keccak of its
 * first node; what it proves must still be the recorded account. */
static void add_proof_data(struct pcases *ps, const char *file, const char *where, json_t *pd)
{
    char name[96];
    uint8_t addr[20];
    struct pcase *c;
    size_t i;
    json_t *sp;

    snprintf(name, sizeof(name), "%s %s account", file, where);
    c = pcases_add(ps, name);
    pcase_nodes_json(c, json_object_get(pd, "accountProof"));
    keccak256(c->node[0], c->len[0], c->root);
    assert_int_equal(hex_decode_fixed(jstr(pd, "address"), strlen(jstr(pd, "address")), addr, 20,
                                      NULL), MR_OK);
    keccak256(addr, 20, c->key);
    c->key_len = 32;
    set_value_hex(c, jstr(pd, "encodedAccountValue"));
    json_array_foreach(json_object_get(pd, "storageProof"), i, sp) {
        uint8_t slot[32];
        struct rlp_enc e;
        struct u256 val;
        size_t n;

        snprintf(name, sizeof(name), "%s %s storage %zu", file, where, i);
        c = pcases_add(ps, name);
        pcase_nodes_json(c, json_object_get(sp, "proof"));
        hex32_into(jstr(pd, "storageHash"), c->root);
        hex32_into(jstr(sp, "key"), slot);
        keccak256(slot, 32, c->key);
        c->key_len = 32;
        /* The leaf holds RLP(value); the dumps record the value itself. */
        assert_int_equal(hex_decode_quantity(jstr(sp, "value"), strlen(jstr(sp, "value")), &val,
                                             NULL), MR_OK);
        c->value = malloc(40);
        rlp_enc_init(&e, c->value, 40);
        rlp_enc_u256(&e, &val);
        assert_int_equal(rlp_enc_finish(&e, &n), MR_OK);
        c->value_len = n;
    }
}

/* Every proof_data object in a dump, found wherever it sits. */
static void walk_dump(struct pcases *ps, const char *file, const char *where, json_t *o)
{
    const char *k;
    json_t *v;
    char sub[96];

    if (!json_is_object(o))
        return;
    if (json_object_get(o, "accountProof") != NULL) {
        add_proof_data(ps, file, where, o);
        return;
    }
    json_object_foreach(o, k, v) {
        snprintf(sub, sizeof(sub), "%s/%s", where, k);
        walk_dump(ps, file, sub, v);
    }
}

static void add_proof_json(struct pcases *ps, json_t *pj)
{
    static const char *const storage[][2] = {{"storage", "variable"}, {"storage", "mapping"},
                                             {"redemptionProof", "dataSet1"},
                                             {"redemptionProof", "dataSet2"}};
    json_t *acct = json_object_get(pj, "account"), *d;
    struct pcase *c;
    uint8_t h[32];

    c = pcases_add(ps, "proof.json account");
    pcase_nodes_rlp(c, jstr(acct, "rlpParentNodes"));
    hex32_into(jstr(acct, "stateRoot"), c->root);
    hex32_into(jstr(acct, "hashedPath"), c->key);
    c->key_len = 32;
    set_value_hex(c, jstr(acct, "rlpAccount"));
    keccak256(c->value, c->value_len, h);
    tv_assert_hex(h, 32, jstr(acct, "sha3EncodedAccount"));
    for (size_t i = 0; i < sizeof(storage) / sizeof(storage[0]); i++) {
        char name[64];
        d = json_object_get(json_object_get(pj, storage[i][0]), storage[i][1]);
        snprintf(name, sizeof(name), "proof.json %s.%s", storage[i][0], storage[i][1]);
        c = pcases_add(ps, name);
        pcase_nodes_rlp(c, jstr(d, "rlpParentNodes"));
        hex32_into(jstr(d, "storageRoot"), c->root);
        hex32_into(jstr(d, "path"), c->key);
        c->key_len = 32;
        set_value_hex(c, jstr(d, "valueAtStorage"));
    }
}

/* generatedProofData.json: raw (not hashed) paths of any length; `value` is
 * keccak of the leaf value, or for a path ending at a branch keccak of the
 * value *with* its RLP header (MerklePatriciaProof.verify, protocol 4.4). */
static void add_generated(struct pcases *ps, json_t *g, int check_hashes)
{
    size_t i;
    json_t *o;

    json_array_foreach(g, i, o) {
        char name[96];
        struct pcase *c;
        uint8_t want[32], h[32];
        size_t plen;
        uint8_t *path;
        const char *pat = jstr(o, "pattern");

        snprintf(name, sizeof(name), "generated %zu (%.60s)", i, pat);
        c = pcases_add(ps, name);
        pcase_nodes_rlp(c, jstr(o, "rlpParentNodes"));
        hex32_into(jstr(o, "root"), c->root);
        path = tv_hex(jstr(o, "encodedPath"), &plen);
        assert_true(plen <= sizeof(c->key));
        memcpy(c->key, path, plen);
        c->key_len = plen;
        free(path);
        if (!check_hashes)
            continue;
        hex32_into(jstr(o, "value"), want);
        {
            const uint8_t *v;
            size_t vlen;
            int found;
            struct rlp_enc e;
            assert_int_equal(pcase_verify(c, c->key, c->key_len, &found, &v, &vlen, NULL), MR_OK);
            assert_true(found);
            if (pat[strlen(pat) - 1] == 'l') {
                keccak256(v, vlen, h);
            } else {
                uint8_t item[64];
                size_t ilen;
                rlp_enc_init(&e, item, sizeof(item));
                rlp_enc_bytes(&e, v, vlen);
                assert_int_equal(rlp_enc_finish(&e, &ilen), MR_OK);
                keccak256(item, ilen, h);
            }
            assert_memory_equal(h, want, 32);
            c->value = malloc(vlen);
            memcpy(c->value, v, vlen);
            c->value_len = vlen;
        }
    }
}

/* All recorded proofs: geth dumps, proof.json, generated (when asked). */
static int collect(struct pcases *ps, int with_generated)
{
    json_t *j;

    for (size_t f = 0; f < NDUMPS; f++) {
        j = load_fixture(dumps[f]);
        if (j == NULL)
            return 0;
        walk_dump(ps, dumps[f], "", j);
        json_decref(j);
    }
    j = load_fixture("proof.json");
    if (j == NULL)
        return 0;
    add_proof_json(ps, j);
    json_decref(j);
    if (with_generated) {
        j = load_fixture("generatedProofData.json");
        if (j == NULL)
            return 0;
        add_generated(ps, j, 1);
        json_decref(j);
    }
    return 1;
}

#define COLLECT_OR_SKIP(ps, gen)                                                   \
    do {                                                                           \
        if (!collect((ps), (gen))) {                                               \
            pcases_free(ps);                                                       \
            print_message("SKIP: mosaic fixtures not found (set MOSAIC_VECTORS)\n"); \
            skip();                                                                \
        }                                                                          \
    } while (0)

/* ---- recorded proofs verify ---- */

static void test_recorded_proofs_verify(void **state)
{
    struct pcases ps = {0};
    size_t geth = 0;
    (void)state;

    COLLECT_OR_SKIP(&ps, 1);
    for (size_t i = 0; i < ps.n; i++) {
        pcase_assert_ok(&ps.c[i]);
        geth += strstr(ps.c[i].name, "generated") == NULL;
    }
    /* 9 dumps with 40 proof_data objects (each an account and a storage
     * proof), 5 from proof.json, 60 generated. */
    assert_int_equal(geth, 40 * 2 + 5);
    assert_int_equal(ps.n, 40 * 2 + 5 + 60);
    pcases_free(&ps);
}

/* The dumps through the typed API: account fields and storage values equal
 * the recorded ones, serialized proofs equal mpt_proof_encode. */
static void check_proof_data(json_t *pd)
{
    struct mpt_node nodes[MAXN];
    struct pcase c;
    struct mpt_account acct;
    uint8_t addr[20], root[32], enc[128], *ser;
    size_t len, slen, i;
    int exists;
    json_t *sp;
    struct u256 v, want;
    char dec[U256_DEC_MAX];

    memset(&c, 0, sizeof(c));
    pcase_nodes_json(&c, json_object_get(pd, "accountProof"));
    pcase_views(&c, nodes);
    keccak256(c.node[0], c.len[0], root);
    hex_decode_fixed(jstr(pd, "address"), 42, addr, 20, NULL);
    assert_int_equal(mpt_verify_account(root, addr, nodes, c.n, &acct, &exists, NULL), MR_OK);
    assert_true(exists);
    assert_int_equal(mpt_account_encode(&acct, enc, sizeof(enc), &len), MR_OK);
    tv_assert_hex(enc, len, jstr(pd, "encodedAccountValue"));
    tv_assert_hex(acct.storage_root, 32, jstr(pd, "storageHash"));
    tv_assert_hex(acct.code_hash, 32, jstr(pd, "codeHash"));
    hex_decode_quantity(jstr(pd, "balance"), strlen(jstr(pd, "balance")), &want, NULL);
    assert_int_equal(u256_cmp(&acct.balance, &want), 0);
    hex_decode_quantity(jstr(pd, "nonce"), strlen(jstr(pd, "nonce")), &want, NULL);
    u256_to_dec(&want, dec, sizeof(dec));
    assert_int_equal(acct.nonce, strtoull(dec, NULL, 10));
    ser = malloc(8192);
    assert_int_equal(mpt_proof_encode(nodes, c.n, ser, 8192, &slen), MR_OK);
    tv_assert_hex(ser, slen, jstr(pd, "serializedAccountProof"));
    for (i = 0; i < c.n; i++)
        free(c.node[i]);
    json_array_foreach(json_object_get(pd, "storageProof"), i, sp) {
        uint8_t slot[32];
        struct pcase s;
        memset(&s, 0, sizeof(s));
        pcase_nodes_json(&s, json_object_get(sp, "proof"));
        pcase_views(&s, nodes);
        hex32_into(jstr(sp, "key"), slot);
        assert_int_equal(mpt_verify_storage(acct.storage_root, slot, nodes, s.n, &v, &exists, NULL),
                         MR_OK);
        assert_true(exists);
        hex_decode_quantity(jstr(sp, "value"), strlen(jstr(sp, "value")), &want, NULL);
        assert_int_equal(u256_cmp(&v, &want), 0);
        assert_int_equal(mpt_proof_encode(nodes, s.n, ser, 8192, &slen), MR_OK);
        tv_assert_hex(ser, slen, jstr(sp, "serializedProof"));
        for (size_t j = 0; j < s.n; j++)
            free(s.node[j]);
    }
    free(ser);
}

static void walk_typed(json_t *o, size_t *count)
{
    const char *k;
    json_t *v;

    if (!json_is_object(o))
        return;
    if (json_object_get(o, "accountProof") != NULL) {
        check_proof_data(o);
        (*count)++;
        return;
    }
    json_object_foreach(o, k, v)
        walk_typed(v, count);
}

static void test_dumps_typed(void **state)
{
    size_t count = 0;
    (void)state;

    for (size_t f = 0; f < NDUMPS; f++) {
        char rel[160];
        json_t *j;
        snprintf(rel, sizeof(rel), FIXDIR "%s", dumps[f]);
        TV_LOAD_OR_SKIP(j, rel);
        walk_typed(j, &count);
        json_decref(j);
    }
    assert_int_equal(count, 40);
}

/* proof.json through the typed API: the account proof against the recorded
 * state root proves the recorded storage root. */
static void test_proof_json_typed(void **state)
{
    struct mpt_node nodes[MAXN];
    struct mpt_account acct;
    struct pcase c;
    uint8_t root[32], addr[20], h[32];
    json_t *pj, *a;
    int exists;
    (void)state;

    TV_LOAD_OR_SKIP(pj, FIXDIR "proof.json");
    a = json_object_get(pj, "account");
    memset(&c, 0, sizeof(c));
    pcase_nodes_rlp(&c, jstr(a, "rlpParentNodes"));
    pcase_views(&c, nodes);
    hex32_into(jstr(a, "stateRoot"), root);
    hex_decode_fixed(jstr(a, "accountAddress"), 42, addr, 20, NULL);
    keccak256(addr, 20, h);
    tv_assert_hex(h, 32, jstr(a, "hashedPath"));
    assert_int_equal(mpt_verify_account(root, addr, nodes, c.n, &acct, &exists, NULL), MR_OK);
    assert_true(exists);
    tv_assert_hex(acct.storage_root, 32, jstr(a, "storageRoot"));
    for (size_t i = 0; i < c.n; i++)
        free(c.node[i]);
    json_decref(pj);
}

/* ---- mutations: every one must fail ---- */

static void test_mutation_flip_bytes(void **state)
{
    static const uint8_t xors[] = {0x01, 0x80, 0xff};
    struct pcases ps = {0};
    size_t tried = 0;
    (void)state;

    COLLECT_OR_SKIP(&ps, 1);
    for (size_t i = 0; i < ps.n; i++) {
        struct pcase *c = &ps.c[i];
        /* Geth's proofs get three xor values; the 60 large generated ones
         * one, to keep the sanitizer run short. */
        size_t nx = strstr(c->name, "generated") ? 1 : sizeof(xors);
        for (size_t k = 0; k < c->n; k++) {
            for (size_t b = 0; b < c->len[k]; b++) {
                for (size_t x = 0; x < nx; x++) {
                    const uint8_t *v;
                    size_t vlen;
                    int found, rc;
                    c->node[k][b] ^= xors[x];
                    rc = pcase_verify(c, c->key, c->key_len, &found, &v, &vlen, NULL);
                    c->node[k][b] ^= xors[x];
                    if (rc == MR_OK)
                        print_message("%s: flip node %zu byte %zu ^%02x verified\n", c->name, k, b,
                                      xors[x]);
                    assert_int_not_equal(rc, MR_OK);
                    tried++;
                }
            }
        }
    }
    print_message("%zu single-byte flips, all rejected\n", tried);
    pcases_free(&ps);
}

static int verify_nodes(const struct pcase *c, const struct mpt_node *nodes, size_t n)
{
    const uint8_t *v;
    size_t vlen;
    int found;

    return mpt_verify(c->root, c->key, c->key_len, nodes, n, &v, &vlen, &found, NULL);
}

static void test_mutation_structure(void **state)
{
    struct pcases ps = {0};
    struct mpt_node base[MAXN], m[MAXN + 1];
    static const uint8_t junk[] = {0xc2, 0x80, 0x80};
    (void)state;

    COLLECT_OR_SKIP(&ps, 1);
    for (size_t i = 0; i < ps.n; i++) {
        const struct pcase *c = &ps.c[i];
        size_t n = c->n;

        pcase_views(c, base);
        /* truncation: drop the last node; cut a byte off any node */
        assert_int_not_equal(verify_nodes(c, base, n - 1), MR_OK);
        for (size_t k = 0; k < n; k++) {
            memcpy(m, base, n * sizeof(*m));
            m[k].len--;
            assert_int_not_equal(verify_nodes(c, m, n), MR_OK);
        }
        for (size_t k = 0; k < n; k++) {
            /* removal of node k */
            memcpy(m, base, k * sizeof(*m));
            memcpy(m + k, base + k + 1, (n - k - 1) * sizeof(*m));
            assert_int_not_equal(verify_nodes(c, m, n - 1), MR_OK);
            /* duplication of node k */
            memcpy(m, base, (k + 1) * sizeof(*m));
            memcpy(m + k + 1, base + k, (n - k) * sizeof(*m));
            assert_int_not_equal(verify_nodes(c, m, n + 1), MR_OK);
            /* swap with the next node */
            if (k + 1 < n) {
                memcpy(m, base, n * sizeof(*m));
                m[k] = base[k + 1];
                m[k + 1] = base[k];
                assert_int_not_equal(verify_nodes(c, m, n), MR_OK);
            }
        }
        /* a junk node appended */
        memcpy(m, base, n * sizeof(*m));
        m[n].data = junk;
        m[n].len = sizeof(junk);
        assert_int_not_equal(verify_nodes(c, m, n + 1), MR_OK);
        /* no nodes at all */
        assert_int_not_equal(verify_nodes(c, m, 0), MR_OK);
    }
    pcases_free(&ps);
}

/* A wrong root always fails; a wrong key never proves the same value (it may
 * legitimately prove the key absent: the leaf's path then differs). */
static void test_mutation_root_and_key(void **state)
{
    struct pcases ps = {0};
    size_t absent = 0;
    (void)state;

    COLLECT_OR_SKIP(&ps, 0);
    for (size_t i = 0; i < ps.n; i++) {
        struct pcase *c = &ps.c[i];
        for (size_t b = 0; b < 32; b++) {
            const uint8_t *v;
            size_t vlen;
            int found;
            c->root[b] ^= 0x10;
            assert_int_not_equal(pcase_verify(c, c->key, c->key_len, &found, &v, &vlen, NULL), MR_OK);
            c->root[b] ^= 0x10;
        }
        for (size_t bit = 0; bit < 8 * c->key_len; bit++) {
            uint8_t key[64];
            const uint8_t *v;
            size_t vlen;
            int found, rc;
            memcpy(key, c->key, c->key_len);
            key[bit / 8] ^= (uint8_t)(1u << (bit % 8));
            rc = pcase_verify(c, key, c->key_len, &found, &v, &vlen, NULL);
            assert_false(rc == MR_OK && found);
            absent += rc == MR_OK;
        }
        /* a shorter or longer key does not prove the value either */
        {
            const uint8_t *v;
            size_t vlen;
            int found, rc;
            rc = pcase_verify(c, c->key, c->key_len - 1, &found, &v, &vlen, NULL);
            assert_false(rc == MR_OK && found);
        }
    }
    /* Flipping a bit inside a leaf's own path gives a valid exclusion proof. */
    assert_true(absent > 0);
    pcases_free(&ps);
}

/* ---- TrieTests ---- */

struct kvstore {
    uint8_t *bufs[256];
    size_t n;
};

static uint8_t *kv_bytes(struct kvstore *s, const char *str, size_t *len)
{
    uint8_t *b;

    assert_true(s->n < 256);
    if (strncmp(str, "0x", 2) == 0) {
        b = tv_hex(str, len);
    } else {
        *len = strlen(str);
        b = malloc(*len + 1);
        memcpy(b, str, *len + 1);
    }
    s->bufs[s->n++] = b;
    return b;
}

static void kv_free(struct kvstore *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->bufs[i]);
    s->n = 0;
}

/* Puts one pair (val NULL: delete); secure tries key by keccak(key). */
static void put_pair(struct mpt_builder *b, struct kvstore *s, const char *k, json_t *val,
                     int secure)
{
    size_t klen, vlen = 0;
    uint8_t *key = kv_bytes(s, k, &klen), *v = NULL;

    if (secure) {
        uint8_t *h = malloc(32);
        keccak256(key, klen, h);
        s->bufs[s->n++] = h;
        key = h;
        klen = 32;
    }
    if (json_is_string(val))
        v = kv_bytes(s, json_string_value(val), &vlen);
    assert_int_equal(mpt_builder_put(b, key, klen, v, vlen, NULL), MR_OK);
}

/* Every key in the set and every deleted key gets a proof that verifies. */
static void check_builder_proofs(const struct mpt_builder *b, const uint8_t root[32],
                                 const uint8_t *const *gone, const size_t *gone_len, size_t ngone)
{
    static uint8_t scratch[1 << 16], out[1 << 16];
    struct mpt_node nodes[MAXN];
    uint8_t r2[32];
    const uint8_t *v;
    size_t n, vlen;
    int found;

    for (size_t i = 0; i < b->count; i++) {
        const struct mpt_kv *kv = &b->kv[i];
        assert_int_equal(mpt_builder_prove(b, kv->key, kv->key_len, scratch, sizeof(scratch), out,
                                           sizeof(out), nodes, MAXN, &n, r2, NULL), MR_OK);
        assert_memory_equal(r2, root, 32);
        assert_int_equal(mpt_verify(root, kv->key, kv->key_len, nodes, n, &v, &vlen, &found, NULL),
                         MR_OK);
        assert_true(found);
        assert_int_equal(vlen, kv->val_len);
        assert_memory_equal(v, kv->val, vlen);
    }
    for (size_t i = 0; i < ngone; i++) {
        assert_int_equal(mpt_builder_prove(b, gone[i], gone_len[i], scratch, sizeof(scratch), out,
                                           sizeof(out), nodes, MAXN, &n, r2, NULL), MR_OK);
        assert_int_equal(mpt_verify(root, gone[i], gone_len[i], nodes, n, &v, &vlen, &found, NULL),
                         MR_OK);
        assert_false(found);
    }
}

static void run_trie_file(const char *rel, int secure, int ordered)
{
    static uint8_t scratch[1 << 16];
    struct mpt_kv slots[128];
    struct mpt_builder b;
    struct kvstore s = {{0}, 0};
    const char *name, *k;
    json_t *j, *t, *in, *v;
    size_t cases = 0;

    TV_LOAD_OR_SKIP(j, rel);
    json_object_foreach(j, name, t) {
        const uint8_t *gone[64];
        size_t gone_len[64], ngone = 0, i;
        uint8_t root[32];

        mpt_builder_init(&b, slots, 128);
        in = json_object_get(t, "in");
        if (ordered) {
            json_array_foreach(in, i, v) {
                put_pair(&b, &s, json_string_value(json_array_get(v, 0)), json_array_get(v, 1),
                         secure);
                if (json_is_null(json_array_get(v, 1)) && ngone < 64) {
                    gone[ngone] = s.bufs[s.n - 1];
                    gone_len[ngone++] = secure ? 32 : strlen(json_string_value(json_array_get(v, 0)));
                }
            }
        } else {
            json_object_foreach(in, k, v)
                put_pair(&b, &s, k, v, secure);
        }
        assert_int_equal(mpt_builder_root(&b, scratch, sizeof(scratch), root, NULL), MR_OK);
        {
            size_t rl;
            uint8_t *want = tv_hex(jstr(t, "root"), &rl);
            if (memcmp(root, want, 32) != 0)
                print_message("%s %s: root differs\n", rel, name);
            assert_memory_equal(root, want, 32);
            free(want);
        }
        /* deleted keys that were not re-inserted are absent */
        for (size_t g = 0; g < ngone;) {
            long p, nx;
            mpt_builder_neighbors(&b, gone[g], gone_len[g], &p, &nx);
            if (p + 1 < (long)b.count && p + 1 >= 0 &&
                b.kv[p + 1].key_len == gone_len[g] &&
                memcmp(b.kv[p + 1].key, gone[g], gone_len[g]) == 0) {
                gone[g] = gone[--ngone];
                gone_len[g] = gone_len[ngone];
            } else {
                g++;
            }
        }
        check_builder_proofs(&b, root, gone, gone_len, ngone);
        kv_free(&s);
        cases++;
    }
    assert_true(cases > 0);
    json_decref(j);
}

static void test_trietest(void **state)
{
    (void)state;
    run_trie_file("ethereum-tests/TrieTests/trietest.json", 0, 1);
}

static void test_trietest_secure(void **state)
{
    (void)state;
    run_trie_file("ethereum-tests/TrieTests/trietest_secureTrie.json", 1, 1);
}

static void test_trieanyorder(void **state)
{
    (void)state;
    run_trie_file("ethereum-tests/TrieTests/trieanyorder.json", 0, 0);
}

static void test_trieanyorder_secure(void **state)
{
    (void)state;
    run_trie_file("ethereum-tests/TrieTests/trieanyorder_secureTrie.json", 1, 0);
}

static void test_hex_encoded_securetrie(void **state)
{
    (void)state;
    run_trie_file("ethereum-tests/TrieTests/hex_encoded_securetrie_test.json", 1, 0);
}

/* trietestnextprev.json: the builder's key order (bytewise, prefix first) is
 * the trie's nibble order, which the next/prev walk follows. */
static void test_trie_nextprev(void **state)
{
    struct mpt_kv slots[16];
    struct mpt_builder b;
    const char *name;
    json_t *j, *t, *v;
    size_t i;
    (void)state;

    TV_LOAD_OR_SKIP(j, "ethereum-tests/TrieTests/trietestnextprev.json");
    json_object_foreach(j, name, t) {
        mpt_builder_init(&b, slots, 16);
        json_array_foreach(json_object_get(t, "in"), i, v) {
            const char *k = json_string_value(v);
            assert_int_equal(mpt_builder_put(&b, (const uint8_t *)k, strlen(k),
                                             (const uint8_t *)k, strlen(k), NULL), MR_OK);
        }
        json_array_foreach(json_object_get(t, "tests"), i, v) {
            const char *k = json_string_value(json_array_get(v, 0));
            const char *prev = json_string_value(json_array_get(v, 1));
            const char *next = json_string_value(json_array_get(v, 2));
            long p, n;
            mpt_builder_neighbors(&b, (const uint8_t *)k, strlen(k), &p, &n);
            if (prev[0] == '\0') {
                assert_int_equal(p, -1);
            } else {
                assert_true(p >= 0);
                assert_int_equal(b.kv[p].key_len, strlen(prev));
                assert_memory_equal(b.kv[p].key, prev, strlen(prev));
            }
            if (next[0] == '\0') {
                assert_int_equal(n, -1);
            } else {
                assert_true(n >= 0);
                assert_int_equal(b.kv[n].key_len, strlen(next));
                assert_memory_equal(b.kv[n].key, next, strlen(next));
            }
        }
    }
    json_decref(j);
}

/* ---- builder with random contents ---- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static void test_builder_random(void **state)
{
    static uint8_t keys[400][8], vals[400][40], scratch[1 << 16];
    static struct mpt_kv slots[400];
    const uint8_t *gone[200];
    size_t gone_len[200], ngone = 0, klen[400];
    struct mpt_builder b;
    uint8_t root[32], root2[32];
    (void)state;

    for (int round = 0; round < 20; round++) {
        mpt_builder_init(&b, slots, 400);
        ngone = 0;
        for (size_t i = 0; i < 400; i++) {
            /* short keys over a small alphabet: shared prefixes, inline nodes */
            klen[i] = 1 + rng() % 4;
            for (size_t k = 0; k < klen[i]; k++)
                keys[i][k] = (uint8_t)(0x10 * (rng() % 3) + rng() % 3);
            for (size_t k = 0; k < 40; k++)
                vals[i][k] = (uint8_t)rng();
            assert_int_equal(mpt_builder_put(&b, keys[i], klen[i], vals[i], 1 + rng() % 40, NULL),
                             MR_OK);
        }
        for (size_t i = 0; i < 400; i += 3) {
            assert_int_equal(mpt_builder_put(&b, keys[i], klen[i], NULL, 0, NULL), MR_OK);
            if (ngone < 200) {
                gone[ngone] = keys[i];
                gone_len[ngone++] = klen[i];
            }
        }
        /* a deleted key equal to a kept one (duplicates) is not "gone" */
        for (size_t g = 0; g < ngone;) {
            long p, n;
            mpt_builder_neighbors(&b, gone[g], gone_len[g], &p, &n);
            if (p + 1 < (long)b.count && b.kv[p + 1].key_len == gone_len[g] &&
                memcmp(b.kv[p + 1].key, gone[g], gone_len[g]) == 0) {
                gone[g] = gone[--ngone];
                gone_len[g] = gone_len[ngone];
            } else {
                g++;
            }
        }
        assert_int_equal(mpt_builder_root(&b, scratch, sizeof(scratch), root, NULL), MR_OK);
        check_builder_proofs(&b, root, gone, gone_len, ngone);
        /* deleting everything gives the empty root */
        for (size_t i = 0; i < 400; i++)
            assert_int_equal(mpt_builder_put(&b, keys[i], klen[i], NULL, 0, NULL), MR_OK);
        assert_int_equal(b.count, 0);
        assert_int_equal(mpt_builder_root(&b, scratch, sizeof(scratch), root2, NULL), MR_OK);
        assert_memory_equal(root2, mpt_empty_root, 32);
        check_builder_proofs(&b, root2, gone, gone_len, ngone);
    }
}

static void test_builder_limits(void **state)
{
    struct mpt_kv slots[2];
    struct mpt_builder b;
    uint8_t key[MPT_BUILDER_MAX_KEY + 1] = {0}, scratch[64], root[32], out[8];
    struct mpt_node nodes[1];
    struct mr_error err;
    size_t n;
    (void)state;

    mpt_builder_init(&b, slots, 2);
    assert_int_equal(mpt_builder_put(&b, key, sizeof(key), key, 1, &err), MR_ERR_TOOBIG);
    assert_int_equal(mpt_builder_put(&b, (const uint8_t *)"a", 1, key, 40, NULL), MR_OK);
    assert_int_equal(mpt_builder_put(&b, (const uint8_t *)"b", 1, key, 40, NULL), MR_OK);
    assert_int_equal(mpt_builder_put(&b, (const uint8_t *)"c", 1, key, 40, &err), MR_ERR_TOOBIG);
    /* replacing needs no slot */
    assert_int_equal(mpt_builder_put(&b, (const uint8_t *)"b", 1, key, 41, NULL), MR_OK);
    assert_int_equal(mpt_builder_root(&b, scratch, sizeof(scratch), root, &err), MR_ERR_TOOBIG);
    assert_non_null(strstr(err.msg, "scratch"));
    assert_int_equal(mpt_builder_prove(&b, (const uint8_t *)"a", 1, scratch, sizeof(scratch), out,
                                       sizeof(out), nodes, 1, &n, root, &err), MR_ERR_TOOBIG);
}

/* ---- the verifier's structural checks, on hand-made nodes ---- */

/* Verifies the single node node[len] under root keccak(node) for key. */
static int verify_one(const uint8_t *node, size_t len, const char *key, struct mr_error *err,
                      int *found)
{
    struct mpt_node n = {node, len};
    uint8_t root[32];
    const uint8_t *v;
    size_t vlen;

    keccak256(node, len, root);
    return mpt_verify(root, (const uint8_t *)key, strlen(key), &n, 1, &v, &vlen, found, err);
}

static void expect_fail(const uint8_t *node, size_t len, const char *key, const char *reason)
{
    struct mr_error err;
    int found;

    assert_int_equal(verify_one(node, len, key, &err, &found), MR_ERR_PROOF);
    if (strstr(err.msg, reason) == NULL)
        print_message("wanted '%s', got '%s'\n", reason, err.msg);
    assert_non_null(strstr(err.msg, reason));
}

/* rlp list of string items (hex each) into out; returns the length. */
static size_t mk_list(uint8_t *out, size_t cap, const char *const *items, size_t n)
{
    struct rlp_enc e;
    size_t mark, len;

    rlp_enc_init(&e, out, cap);
    mark = rlp_enc_list_begin(&e);
    for (size_t i = 0; i < n; i++) {
        size_t bl;
        uint8_t *b = tv_hex(items[i], &bl);
        rlp_enc_bytes(&e, b, bl);
        free(b);
    }
    rlp_enc_list_end(&e, mark);
    assert_int_equal(rlp_enc_finish(&e, &len), MR_OK);
    return len;
}

static void test_verify_structure(void **state)
{
    uint8_t node[1024], inner[64];
    struct rlp_enc e;
    size_t len, mark, ilen;
    int found;
    (void)state;

    /* key "ab" = nibbles 6 1 6 2 */
    {
        const char *leaf[] = {"0x206162", "0x76"};
        len = mk_list(node, sizeof(node), leaf, 2);
        assert_int_equal(verify_one(node, len, "ab", NULL, &found), MR_OK);
        assert_true(found);
        assert_int_equal(verify_one(node, len, "ac", NULL, &found), MR_OK);
        assert_false(found);
        assert_int_equal(verify_one(node, len, "a", NULL, &found), MR_OK); /* key shorter */
        assert_false(found);
        assert_int_equal(verify_one(node, len, "abc", NULL, &found), MR_OK); /* key longer */
        assert_false(found);
    }
    {
        const char *bad_flag[] = {"0x406162", "0x76"};
        const char *bad_pad[] = {"0x216162", "0x76"};
        const char *empty_val[] = {"0x206162", "0x"};
        const char *three[] = {"0x206162", "0x76", "0x76"};
        const char *empty_path[] = {"0x", "0x76"};
        len = mk_list(node, sizeof(node), bad_flag, 2);
        expect_fail(node, len, "ab", "node 0: bad hex-prefix");
        len = mk_list(node, sizeof(node), bad_pad, 2);
        expect_fail(node, len, "ab", "bad hex-prefix");
        len = mk_list(node, sizeof(node), empty_val, 2);
        expect_fail(node, len, "ab", "leaf with an empty value");
        len = mk_list(node, sizeof(node), three, 3);
        expect_fail(node, len, "ab", "not a trie node");
        len = mk_list(node, sizeof(node), empty_path, 2);
        expect_fail(node, len, "ab", "bad hex-prefix");
    }
    /* a string, not a list */
    node[0] = 0x83;
    node[1] = 1;
    node[2] = 2;
    node[3] = 3;
    expect_fail(node, 4, "ab", "not a trie node");
    /* non-canonical RLP: long form for a 3-byte list */
    {
        const uint8_t nc[] = {0xf8, 0x03, 0x82, 0x20, 0x61};
        expect_fail(nc, sizeof(nc), "a", "bad RLP");
    }
    /* extension with an empty path, and one pointing at an inline leaf */
    {
        const char *leaf[] = {"0x3162", "0x76"}; /* odd leaf: nibble 1, then 6 2 */
        ilen = mk_list(inner, sizeof(inner), leaf, 2);
        rlp_enc_init(&e, node, sizeof(node));
        mark = rlp_enc_list_begin(&e);
        rlp_enc_bytes(&e, (const uint8_t *)"\x00", 1); /* even extension, no nibbles */
        rlp_enc_raw(&e, inner, ilen);
        rlp_enc_list_end(&e, mark);
        rlp_enc_finish(&e, &len);
        expect_fail(node, len, "ab", "extension with an empty path");
        rlp_enc_init(&e, node, sizeof(node));
        mark = rlp_enc_list_begin(&e);
        rlp_enc_bytes(&e, (const uint8_t *)"\x16", 1); /* odd extension: nibble 6 */
        rlp_enc_raw(&e, inner, ilen);
        rlp_enc_list_end(&e, mark);
        rlp_enc_finish(&e, &len);
        expect_fail(node, len, "ab", "node 0 (inline child 1): an extension must point to a branch");
    }
    /* branches: a bad slot, an oversized inline child, a list as value */
    {
        uint8_t big[40];
        memset(big, 0x11, sizeof(big));
        for (int variant = 0; variant < 4; variant++) {
            rlp_enc_init(&e, node, sizeof(node));
            mark = rlp_enc_list_begin(&e);
            for (int s = 0; s < 16; s++) {
                if (s == 3 && variant == 0) {
                    rlp_enc_bytes(&e, big, 5);
                } else if (s == 6 && variant == 1) {
                    size_t m2 = rlp_enc_list_begin(&e);
                    rlp_enc_bytes(&e, big, 33);
                    rlp_enc_list_end(&e, m2);
                } else {
                    rlp_enc_bytes(&e, NULL, 0);
                }
            }
            if (variant == 2) {
                size_t m2 = rlp_enc_list_begin(&e);
                rlp_enc_list_end(&e, m2);
            } else {
                rlp_enc_bytes(&e, NULL, 0);
            }
            rlp_enc_list_end(&e, mark);
            rlp_enc_finish(&e, &len);
            if (variant == 0)
                expect_fail(node, len, "a", "branch slot 3 is a 5-byte string");
            else if (variant == 1)
                expect_fail(node, len, "a", "branch slot 6 is an inline node of");
            else if (variant == 2)
                expect_fail(node, len, "a", "branch value slot holds a list");
            else {
                /* all slots empty: key absent, and the empty key reads the value slot */
                assert_int_equal(verify_one(node, len, "a", NULL, &found), MR_OK);
                assert_false(found);
                assert_int_equal(verify_one(node, len, "", NULL, &found), MR_OK);
                assert_false(found);
            }
        }
    }
}

/* Multi-node failure reasons name the node. */
static void test_verify_reasons(void **state)
{
    static uint8_t scratch[1 << 14], out[1 << 14];
    struct mpt_kv slots[64];
    struct mpt_builder b;
    struct mpt_node nodes[MAXN], m[MAXN];
    uint8_t keys[64][32], val[40], root[32], bad[1024];
    struct mr_error err;
    const uint8_t *v;
    size_t n, vlen;
    int found;
    (void)state;

    memset(val, 0x42, sizeof(val));
    mpt_builder_init(&b, slots, 64);
    for (int i = 0; i < 64; i++) {
        uint8_t x = (uint8_t)i;
        keccak256(&x, 1, keys[i]);
        assert_int_equal(mpt_builder_put(&b, keys[i], 32, val, sizeof(val), NULL), MR_OK);
    }
    assert_int_equal(mpt_builder_prove(&b, keys[5], 32, scratch, sizeof(scratch), out, sizeof(out),
                                       nodes, MAXN, &n, root, NULL), MR_OK);
    assert_true(n >= 3);
    assert_int_equal(mpt_verify(root, keys[5], 32, nodes, n, &v, &vlen, &found, &err), MR_OK);
    assert_true(found);
    /* node 2 altered */
    memcpy(m, nodes, n * sizeof(*m));
    memcpy(bad, nodes[2].data, nodes[2].len);
    bad[nodes[2].len - 1] ^= 1;
    m[2].data = bad;
    assert_int_equal(mpt_verify(root, keys[5], 32, m, n, &v, &vlen, &found, &err), MR_ERR_PROOF);
    assert_string_equal(err.msg,
                        "node 2: hash mismatch (the node does not hash to the reference in its parent)");
    /* truncated */
    assert_int_equal(mpt_verify(root, keys[5], 32, nodes, n - 1, &v, &vlen, &found, &err),
                     MR_ERR_PROOF);
    assert_non_null(strstr(err.msg, "the proof ends"));
    /* an extra node */
    memcpy(m, nodes, n * sizeof(*m));
    m[n] = nodes[0];
    assert_int_equal(mpt_verify(root, keys[5], 32, m, n + 1, &v, &vlen, &found, &err),
                     MR_ERR_PROOF);
    assert_non_null(strstr(err.msg, "extra node"));
    /* too many nodes */
    for (size_t i = 0; i < MAXN; i++)
        m[i] = nodes[0];
    assert_int_equal(mpt_verify(root, keys[5], 32, m, MPT_MAX_PROOF_NODES + 1, &v, &vlen, &found,
                                &err), MR_ERR_TOOBIG);
    /* an absent key: proven absent, and its proof does not prove key 5 */
    {
        uint8_t absent[32];
        uint8_t x = 200;
        keccak256(&x, 1, absent);
        assert_int_equal(mpt_builder_prove(&b, absent, 32, scratch, sizeof(scratch), out,
                                           sizeof(out), nodes, MAXN, &n, root, NULL), MR_OK);
        assert_int_equal(mpt_verify(root, absent, 32, nodes, n, &v, &vlen, &found, &err), MR_OK);
        assert_false(found);
        assert_int_not_equal(mpt_verify(root, keys[5], 32, nodes, n, &v, &vlen, &found, &err) ==
                             MR_OK && found, 1);
    }
}

static void test_empty_trie(void **state)
{
    const uint8_t e80[] = {0x80};
    struct mpt_node one = {e80, 1};
    struct mpt_account acct;
    struct u256 val;
    struct mr_error err;
    uint8_t addr[20] = {1}, slot[32] = {2}, root[32];
    const uint8_t *v;
    size_t vlen;
    int found, exists;
    (void)state;

    keccak256(e80, 1, root);
    assert_memory_equal(root, mpt_empty_root, 32);
    keccak256("", 0, root);
    assert_memory_equal(root, mpt_empty_code_hash, 32);
    assert_int_equal(mpt_verify(mpt_empty_root, slot, 32, NULL, 0, &v, &vlen, &found, NULL), MR_OK);
    assert_false(found);
    assert_int_equal(mpt_verify(mpt_empty_root, slot, 32, &one, 1, &v, &vlen, &found, NULL), MR_OK);
    assert_false(found);
    assert_int_equal(mpt_verify_storage(mpt_empty_root, slot, &one, 1, &val, &exists, NULL), MR_OK);
    assert_true(u256_is_zero(&val));
    assert_false(exists);
    assert_int_equal(mpt_verify_account(mpt_empty_root, addr, &one, 1, &acct, &exists, NULL), MR_OK);
    assert_false(exists);
    assert_memory_equal(acct.storage_root, mpt_empty_root, 32);
    assert_memory_equal(acct.code_hash, mpt_empty_code_hash, 32);
    /* two 0x80 nodes, or a non-empty root without nodes: refused */
    {
        struct mpt_node two[2] = {{e80, 1}, {e80, 1}};
        assert_int_equal(mpt_verify(mpt_empty_root, slot, 32, two, 2, &v, &vlen, &found, &err),
                         MR_ERR_PROOF);
        root[0] ^= 1;
        assert_int_equal(mpt_verify(root, slot, 32, NULL, 0, &v, &vlen, &found, &err),
                         MR_ERR_PROOF);
        assert_int_equal(mpt_verify(root, slot, 32, &one, 1, &v, &vlen, &found, &err),
                         MR_ERR_PROOF);
    }
}

/* Storage leaves must hold canonical non-zero integers; account leaves
 * canonical accounts. */
static void test_leaf_values(void **state)
{
    static uint8_t scratch[4096], out[4096];
    struct mpt_kv slots[4];
    struct mpt_builder b;
    struct mpt_node nodes[8];
    struct mr_error err;
    struct mpt_account acct;
    struct u256 val;
    uint8_t slot[32] = {0}, path[32], root[32], addr[20] = {0xaa}, apath[32];
    size_t n;
    int exists;
    static const struct {
        const char *leaf;
        int ok;
    } cases[] = {
        {"0x01", 1}, {"0x8180", 1}, {"0x820100", 1}, {"0x81", 0} /* truncated */,
        {"0x8101", 0} /* 1 must be a bare byte */, {"0x820001", 0} /* leading zero */,
        {"0x80", 0} /* zero */, {"0xc101", 0} /* a list */, {"0x0101", 0} /* trailing */,
        {"0xa1010000000000000000000000000000000000000000000000000000000000000000", 0} /* 33 bytes */,
    };
    (void)state;

    keccak256(slot, 32, path);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t vl;
        uint8_t *leaf = tv_hex(cases[i].leaf, &vl);
        mpt_builder_init(&b, slots, 4);
        assert_int_equal(mpt_builder_put(&b, path, 32, leaf, vl, NULL), MR_OK);
        assert_int_equal(mpt_builder_prove(&b, path, 32, scratch, sizeof(scratch), out, sizeof(out),
                                           nodes, 8, &n, root, NULL), MR_OK);
        assert_int_equal(mpt_verify_storage(root, slot, nodes, n, &val, &exists, &err),
                         cases[i].ok ? MR_OK : MR_ERR_PROOF);
        if (!cases[i].ok)
            assert_non_null(strstr(err.msg, "storage leaf"));
        free(leaf);
    }
    /* accounts: a good one, a non-canonical nonce, a 3-field list */
    keccak256(addr, 20, apath);
    {
        static const char *const accts[] = {
            "0xf8440180a056e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421a0c5d2460186"
            "f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470",
            "0xf845820001" "80a056e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421a0c5d2460186"
            "f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470",
            "0xe30180a056e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421",
        };
        for (size_t i = 0; i < 3; i++) {
            size_t vl;
            uint8_t *leaf = tv_hex(accts[i], &vl);
            mpt_builder_init(&b, slots, 4);
            assert_int_equal(mpt_builder_put(&b, apath, 32, leaf, vl, NULL), MR_OK);
            assert_int_equal(mpt_builder_prove(&b, apath, 32, scratch, sizeof(scratch), out,
                                               sizeof(out), nodes, 8, &n, root, NULL), MR_OK);
            assert_int_equal(mpt_verify_account(root, addr, nodes, n, &acct, &exists, &err),
                             i == 0 ? MR_OK : MR_ERR_PROOF);
            assert_int_equal(exists, i == 0);
            if (i == 0)
                assert_int_equal(acct.nonce, 1);
            else
                assert_non_null(strstr(err.msg, "account leaf"));
            free(leaf);
        }
    }
}

static void test_account_codec(void **state)
{
    struct mpt_account a, b2;
    uint8_t buf[128];
    size_t len;
    (void)state;

    memset(&a, 0, sizeof(a));
    a.nonce = UINT64_MAX;
    memset(&a.balance, 0xff, sizeof(a.balance));
    memset(a.storage_root, 0x11, 32);
    memset(a.code_hash, 0x22, 32);
    assert_int_equal(mpt_account_encode(&a, buf, sizeof(buf), &len), MR_OK);
    assert_true(len <= 111);
    assert_int_equal(mpt_account_decode(buf, len, &b2, NULL), MR_OK);
    assert_memory_equal(&a, &b2, sizeof(a));
    assert_int_equal(mpt_account_encode(&a, buf, 10, &len), MR_ERR_TOOBIG);
    assert_int_equal(mpt_account_decode(buf, 1, &b2, NULL), MR_ERR_RLP);
    mpt_account_empty(&a);
    assert_int_equal(mpt_account_encode(&a, buf, sizeof(buf), &len), MR_OK);
    /* the empty account as TrieTests' hex_encoded_securetrie spells one */
    tv_assert_hex(buf, len, "0xf8448080a056e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b4"
                            "21a0c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470");
}

static void test_proof_codec(void **state)
{
    struct mpt_node nodes[4];
    uint8_t out[16];
    size_t n, len;
    struct mr_error err;
    static const uint8_t list[] = {0xc4, 0xc1, 0x01, 0xc1, 0x02};
    static const uint8_t trail[] = {0xc2, 0xc1, 0x01, 0x00};
    static const uint8_t str[] = {0x82, 0x01, 0x02};
    (void)state;

    assert_int_equal(mpt_proof_decode(list, sizeof(list), nodes, 4, &n, NULL), MR_OK);
    assert_int_equal(n, 2);
    assert_int_equal(nodes[1].len, 2);
    assert_int_equal(mpt_proof_encode(nodes, n, out, sizeof(out), &len), MR_OK);
    assert_memory_equal(out, list, sizeof(list));
    assert_int_equal(mpt_proof_encode(nodes, n, out, 2, &len), MR_ERR_TOOBIG);
    assert_int_equal(len, sizeof(list));
    assert_int_equal(mpt_proof_decode(list, sizeof(list), nodes, 1, &n, &err), MR_ERR_TOOBIG);
    assert_int_equal(mpt_proof_decode(trail, sizeof(trail), nodes, 4, &n, &err), MR_ERR_RLP);
    assert_int_equal(mpt_proof_decode(str, sizeof(str), nodes, 4, &n, &err), MR_ERR_RLP);
    assert_int_equal(mpt_proof_decode(list, 3, nodes, 4, &n, &err), MR_ERR_RLP);
}

/* ---- eth_getProof JSON ---- */

static json_t *fixture_proof_data(void)
{
    json_t *d = load_fixture("stake_progressed_0.json"), *pd;

    if (d == NULL)
        return NULL;
    pd = json_deep_copy(json_object_get(json_object_get(json_object_get(d, "gateway"), "stake"),
                                        "proof_data"));
    json_decref(d);
    return pd;
}

static int parse_text(const char *text, struct proofjson *p, struct mr_error *err)
{
    int rc = proofjson_parse(text, strlen(text), p, err);
    if (rc != MR_OK)
        proofjson_free(p);
    return rc;
}

static void test_proofjson(void **state)
{
    struct proofjson p;
    struct mr_error err;
    json_t *pd, *wrap;
    char *text;
    (void)state;

    pd = fixture_proof_data();
    if (pd == NULL) {
        print_message("SKIP: mosaic fixtures not found\n");
        skip();
    }
    /* the bare result, then the JSON-RPC response */
    text = json_dumps(pd, 0);
    assert_int_equal(parse_text(text, &p, &err), MR_OK);
    free(text);
    assert_int_equal(p.n_account_nodes, 3);
    assert_int_equal(p.n_storage, 1);
    assert_int_equal(p.storage[0].n_nodes, 3);
    assert_true(p.has_address && p.has_nonce && p.has_balance && p.has_storage_hash &&
                p.has_code_hash && p.storage[0].has_value);
    tv_assert_hex(p.storage[0].key, 32,
                  "0xbe1482d3e95a56dc807189ce1750b46a053ef5c6ce536e0de9c5dba2749ea188");
    tv_assert_hex(p.account_nodes[2].data, p.account_nodes[2].len,
                  json_string_value(json_array_get(json_object_get(pd, "accountProof"), 2)));
    proofjson_free(&p);
    wrap = json_pack("{s:s, s:i, s:O}", "jsonrpc", "2.0", "id", 1, "result", pd);
    text = json_dumps(wrap, 0);
    assert_int_equal(parse_text(text, &p, &err), MR_OK);
    assert_int_equal(p.n_account_nodes, 3);
    proofjson_free(&p);
    free(text);
    json_decref(wrap);
    json_decref(pd);

    /* short storage keys are slots as numbers; claims may be padded */
    assert_int_equal(parse_text("{\"accountProof\":[],\"storageProof\":[{\"key\":\"0x9\","
                                "\"value\":\"0x0001\",\"proof\":[\"0x80\"]}]}", &p, &err), MR_OK);
    assert_int_equal(p.storage[0].key[31], 9);
    assert_int_equal(p.storage[0].value.w[0], 1);
    proofjson_free(&p);

    /* errors */
    static const struct {
        const char *text;
        int rc;
        const char *msg;
    } bad[] = {
        {"{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":-32000,\"message\":\"header not found\"}}",
         MR_ERR_JSON, "header not found"},
        {"{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":null}", MR_ERR_JSON, "result"},
        {"{\"jsonrpc\":\"2.0\",\"id\":1}", MR_ERR_JSON, "without a result"},
        {"[1]", MR_ERR_JSON, "object"},
        {"{\"storageProof\":[]}", MR_ERR_JSON, "accountProof: missing"},
        {"{\"accountProof\":\"0x80\"}", MR_ERR_JSON, "accountProof"},
        {"{\"accountProof\":[\"0x8\"]}", MR_ERR_JSON, "accountProof[0]"},
        {"{\"accountProof\":[\"80\"]}", MR_ERR_JSON, "accountProof[0]"},
        {"{\"accountProof\":[1]}", MR_ERR_JSON, "accountProof[0]"},
        {"{\"accountProof\":[\"0xzz\"]}", MR_ERR_JSON, "accountProof[0]"},
        {"{\"accountProof\":[],\"nonce\":\"1\"}", MR_ERR_JSON, "nonce"},
        {"{\"accountProof\":[],\"storageHash\":\"0x01\"}", MR_ERR_JSON, "storageHash"},
        {"{\"accountProof\":[],\"address\":\"0x01\"}", MR_ERR_JSON, "address"},
        {"{\"accountProof\":[],\"storageProof\":[{\"proof\":[]}]}", MR_ERR_JSON, "key: missing"},
        {"{\"accountProof\":[],\"storageProof\":[{\"key\":\"0x1\"}]}", MR_ERR_JSON, "proof: missing"},
        {"{\"accountProof\":[],\"storageProof\":[{\"key\":\"0x" "11111111111111111111111111111111"
         "111111111111111111111111111111111\",\"proof\":[]}]}", MR_ERR_JSON, "key"},
        {"{\"accountProof\":[],\"storageProof\":[7]}", MR_ERR_JSON, "storageProof[0]"},
        {"{\"accountProof\":[],\"accountProof\":[]}", MR_ERR_JSON, "duplicate"},
        {"{\"accountProof\":[", MR_ERR_JSON, "line 1"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int rc = parse_text(bad[i].text, &p, &err);
        if (rc != bad[i].rc || strstr(err.msg, bad[i].msg) == NULL)
            print_message("case %zu: rc %d msg '%s'\n", i, rc, err.msg);
        assert_int_equal(rc, bad[i].rc);
        assert_non_null(strstr(err.msg, bad[i].msg));
    }
}

static void test_proofjson_caps(void **state)
{
    struct proofjson p;
    struct mr_error err;
    char *text = malloc(1 << 16), *q;
    (void)state;

    /* 66 nodes */
    q = text + sprintf(text, "{\"accountProof\":[");
    for (int i = 0; i < MPT_MAX_PROOF_NODES + 1; i++)
        q += sprintf(q, "%s\"0x80\"", i ? "," : "");
    sprintf(q, "]}");
    assert_int_equal(parse_text(text, &p, &err), MR_ERR_TOOBIG);
    /* a node of MPT_MAX_NODE_LEN + 1 bytes */
    q = text + sprintf(text, "{\"accountProof\":[\"0x");
    for (int i = 0; i < MPT_MAX_NODE_LEN + 1; i++)
        q += sprintf(q, "aa");
    sprintf(q, "\"]}");
    assert_int_equal(parse_text(text, &p, &err), MR_ERR_TOOBIG);
    /* 257 storage proofs */
    q = text + sprintf(text, "{\"accountProof\":[],\"storageProof\":[");
    for (int i = 0; i < PROOFJSON_MAX_STORAGE + 1; i++)
        q += sprintf(q, "%s{\"key\":\"0x1\",\"proof\":[]}", i ? "," : "");
    sprintf(q, "]}");
    assert_int_equal(parse_text(text, &p, &err), MR_ERR_TOOBIG);
    /* the text itself */
    assert_int_equal(proofjson_parse(text, PROOFJSON_MAX_TEXT + 1, &p, &err), MR_ERR_TOOBIG);
    proofjson_free(&p);
    free(text);
}

/* ---- the CLI ---- */

static char *write_json(const char *dir, const char *name, json_t *j)
{
    char *path = malloc(strlen(dir) + strlen(name) + 2);

    sprintf(path, "%s/%s", dir, name);
    assert_int_equal(json_dump_file(j, path, 0), 0);
    return path;
}

static int run_verify(const char *root, const char *addr, const char *file, char **out, char **err)
{
    const char *argv[] = {"proof", "verify", "--root", root, "--address", addr, "--proof", file,
                          NULL};
    return tv_run_cli(argv, NULL, out, err);
}

/* A recorded answer written as a JSON-RPC response, and its root. */
struct cli_fix {
    json_t *pd;
    char *dir, *file;
    char root[67];
};

static const char cli_addr[] = "0x45a2897792afa20b95f7dcaf5c0fb45b84daf439";

static void cli_fix_setup(struct cli_fix *f)
{
    json_t *wrap;
    uint8_t *n0, r[32];
    size_t len;

    memset(f, 0, sizeof(*f));
    f->pd = fixture_proof_data();
    if (f->pd == NULL) {
        print_message("SKIP: mosaic fixtures not found\n");
        skip();
    }
    n0 = tv_hex(json_string_value(json_array_get(json_object_get(f->pd, "accountProof"), 0)), &len);
    keccak256(n0, len, r);
    free(n0);
    hex_encode_data(r, 32, f->root, sizeof(f->root));
    f->dir = tv_tmpdir();
    wrap = json_pack("{s:s, s:i, s:O}", "jsonrpc", "2.0", "id", 7, "result", f->pd);
    f->file = write_json(f->dir, "ok.json", wrap);
    json_decref(wrap);
}

static void cli_fix_free(struct cli_fix *f)
{
    json_decref(f->pd);
    free(f->file);
    tv_rmtree(f->dir);
    free(f->dir);
}

static void test_cli_proof_ok(void **state)
{
    struct cli_fix f;
    char *out, *err, line[8192];
    (void)state;

    cli_fix_setup(&f);
    assert_int_equal(run_verify(f.root, cli_addr, f.file, &out, &err), 0);
    assert_non_null(strstr(out, "account: present\n"));
    assert_non_null(strstr(out, "nonce: 2\n"));
    assert_non_null(strstr(out, "balance: 0\n"));
    assert_non_null(strstr(out, "storage_root: "
                                "0x659c36bfccae46afb07db5d422a3e7b467cd13c44dd0d02497e3196d07c4ce0c\n"));
    assert_non_null(strstr(out, "code_hash: "
                                "0x50733ed822fcc089cd41a3350b0796f5ea18996f3f236f52ec0a0603e05bde03\n"));
    assert_non_null(strstr(out, "storage[0xbe1482d3e95a56dc807189ce1750b46a053ef5c6ce536e0de9c5dba27"
                                "49ea188]: 0x1\n"));
    free(out);
    free(err);
    /* --rlp gives the bytes the gateway takes, as recorded */
    {
        const char *argv[] = {"proof", "verify", "--root", f.root, "--address", cli_addr,
                              "--proof", f.file, "--rlp", NULL};
        assert_int_equal(tv_run_cli(argv, NULL, &out, &err), 0);
        snprintf(line, sizeof(line), "account_rlp: %s\n", jstr(f.pd, "encodedAccountValue"));
        assert_non_null(strstr(out, line));
        snprintf(line, sizeof(line), "account_proof_rlp: %s\n", jstr(f.pd, "serializedAccountProof"));
        assert_non_null(strstr(out, line));
        free(out);
        free(err);
    }
    /* --help answers */
    {
        const char *argv1[] = {"proof", "--help", NULL};
        const char *argv2[] = {"proof", "verify", "--help", NULL};
        assert_int_equal(tv_run_cli(argv1, NULL, &out, &err), 0);
        assert_non_null(strstr(out, "--root"));
        assert_non_null(strstr(out, "Exit status"));
        free(out);
        free(err);
        assert_int_equal(tv_run_cli(argv2, NULL, &out, &err), 0);
        assert_non_null(strstr(out, "eth_getProof"));
        free(out);
        free(err);
    }
    cli_fix_free(&f);
}

static void test_cli_proof_fails(void **state)
{
    struct cli_fix f;
    json_t *mod, *proof;
    char *out, *err, *path, *s;
    (void)state;

    cli_fix_setup(&f);
    /* one flipped byte in storage node 1: exit 1, the reason names it */
    mod = json_deep_copy(f.pd);
    proof = json_object_get(json_array_get(json_object_get(mod, "storageProof"), 0), "proof");
    s = strdup(json_string_value(json_array_get(proof, 1)));
    s[20] = s[20] == '0' ? '1' : '0';
    json_array_set_new(proof, 1, json_string(s));
    free(s);
    path = write_json(f.dir, "flip.json", mod);
    assert_int_equal(run_verify(f.root, cli_addr, path, &out, &err), 1);
    assert_string_equal(out, "");
    assert_non_null(strstr(err, "storage proof 0"));
    assert_non_null(strstr(err, "node 1: hash mismatch"));
    free(out);
    free(err);
    free(path);
    json_decref(mod);
    /* the answer lies about its balance: exit 1 */
    mod = json_deep_copy(f.pd);
    json_object_set_new(mod, "balance", json_string("0x64"));
    path = write_json(f.dir, "lie.json", mod);
    assert_int_equal(run_verify(f.root, cli_addr, path, &out, &err), 1);
    assert_non_null(strstr(err, "balance field (100) disagrees with the proven value (0)"));
    free(out);
    free(err);
    free(path);
    json_decref(mod);
    /* a wrong root: account node 0 */
    f.root[10] = f.root[10] == 'a' ? 'b' : 'a';
    assert_int_equal(run_verify(f.root, cli_addr, f.file, &out, &err), 1);
    assert_non_null(strstr(err, "account proof does not verify: node 0: hash mismatch"));
    free(out);
    free(err);
    cli_fix_free(&f);
}

static void test_cli_proof_usage(void **state)
{
    struct cli_fix f;
    char *out, *err, *junk;
    json_t *j;
    (void)state;

    cli_fix_setup(&f);
    j = json_pack("{s:s}", "hello", "world");
    junk = write_json(f.dir, "junk.json", j);
    json_decref(j);
    {
        const char *const cases[][9] = {
            {"proof", NULL},
            {"proof", "check", NULL},
            {"proof", "verify", "--root", f.root, "--address", cli_addr, NULL},
            {"proof", "verify", "--root", "0x12", "--address", cli_addr, "--proof", f.file, NULL},
            {"proof", "verify", "--root", f.root, "--address", "0x1234", "--proof", f.file, NULL},
            {"proof", "verify", "--root", f.root, "--address", cli_addr, "--proof",
             "/nonexistent/x", NULL},
            {"proof", "verify", "--root", f.root, "--address",
             "0x45a2897792afa20b95f7dcaf5c0fb45b84daf438", "--proof", f.file, NULL},
            {"proof", "verify", "--root", f.root, "--bogus", cli_addr, "--proof", f.file, NULL},
            {"proof", "verify", "--root", f.root, "--address", cli_addr, "--proof", junk, NULL},
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
            assert_int_equal(tv_run_cli(cases[i], NULL, &out, &err), 2);
            assert_string_equal(out, "");
            assert_non_null(strstr(err, "mosaic-relayer proof: "));
            assert_non_null(strchr(err, '\n'));
            assert_string_equal(strchr(err, '\n'), "\n"); /* one line */
            if (i == 8)
                assert_non_null(strstr(err, "accountProof: missing"));
            free(out);
            free(err);
        }
    }
    free(junk);
    cli_fix_free(&f);
}

/* An absent account: a proof built with the builder, through the CLI. */
static void test_cli_proof_absent(void **state)
{
    static uint8_t scratch[1 << 14], out_nodes[1 << 14];
    struct mpt_kv slots[8];
    struct mpt_builder b;
    struct mpt_node nodes[8];
    uint8_t paths[3][32], addr[20], root[32], leaf[] = {0xc4, 0x01, 0x02, 0x03, 0x04};
    char rhex[67], ahex[43], *dir, *f, *out, *err;
    size_t n;
    json_t *arr, *res;
    (void)state;

    mpt_builder_init(&b, slots, 8);
    for (int i = 0; i < 3; i++) {
        uint8_t a[20];
        memset(a, i + 1, 20);
        keccak256(a, 20, paths[i]);
        mpt_builder_put(&b, paths[i], 32, leaf, sizeof(leaf), NULL);
    }
    memset(addr, 0x77, 20);
    keccak256(addr, 20, paths[0]); /* reuse as the absent path */
    assert_int_equal(mpt_builder_prove(&b, paths[0], 32, scratch, sizeof(scratch), out_nodes,
                                       sizeof(out_nodes), nodes, 8, &n, root, NULL), MR_OK);
    arr = json_array();
    for (size_t i = 0; i < n; i++) {
        char *h = tv_tohex(nodes[i].data, nodes[i].len);
        json_array_append_new(arr, json_string(h));
        free(h);
    }
    res = json_pack("{s:o, s:[]}", "accountProof", arr, "storageProof");
    dir = tv_tmpdir();
    f = write_json(dir, "absent.json", res);
    hex_encode_data(root, 32, rhex, sizeof(rhex));
    hex_encode_data(addr, 20, ahex, sizeof(ahex));
    assert_int_equal(run_verify(rhex, ahex, f, &out, &err), 0);
    assert_non_null(strstr(out, "account: absent\n"));
    assert_non_null(strstr(out, "nonce: 0\n"));
    assert_non_null(strstr(out, "storage_root: "
                                "0x56e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421\n"));
    free(out);
    free(err);
    free(f);
    json_decref(res);
    tv_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_recorded_proofs_verify),
        cmocka_unit_test(test_dumps_typed),
        cmocka_unit_test(test_proof_json_typed),
        cmocka_unit_test(test_mutation_flip_bytes),
        cmocka_unit_test(test_mutation_structure),
        cmocka_unit_test(test_mutation_root_and_key),
        cmocka_unit_test(test_trietest),
        cmocka_unit_test(test_trietest_secure),
        cmocka_unit_test(test_trieanyorder),
        cmocka_unit_test(test_trieanyorder_secure),
        cmocka_unit_test(test_hex_encoded_securetrie),
        cmocka_unit_test(test_trie_nextprev),
        cmocka_unit_test(test_builder_random),
        cmocka_unit_test(test_builder_limits),
        cmocka_unit_test(test_verify_structure),
        cmocka_unit_test(test_verify_reasons),
        cmocka_unit_test(test_empty_trie),
        cmocka_unit_test(test_leaf_values),
        cmocka_unit_test(test_account_codec),
        cmocka_unit_test(test_proof_codec),
        cmocka_unit_test(test_proofjson),
        cmocka_unit_test(test_proofjson_caps),
        cmocka_unit_test(test_cli_proof_ok),
        cmocka_unit_test(test_cli_proof_fails),
        cmocka_unit_test(test_cli_proof_usage),
        cmocka_unit_test(test_cli_proof_absent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
