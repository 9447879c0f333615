/*
 * tx.c - Ethereum transactions (see tx.h).
 *
 * One walk over the fields (put_fields) serves three purposes: counting the
 * payload length, absorbing it into keccak256 for the signing hash, and
 * writing the wire form.  Large fields (data, access list) are passed by
 * pointer, never copied to a temporary, so signing needs no buffer.
 */
#include "tx.h"

#include <assert.h>
#include <string.h>

#include "keccak.h"
#include "rlp.h"

/* Gas schedule (Yellow Paper Appendix G and the EIPs named). */
#define GAS_TX 21000
#define GAS_TX_CREATE 32000           /* EIP-2 (Homestead) */
#define GAS_DATA_ZERO 4
#define GAS_DATA_NONZERO_FRONTIER 68
#define GAS_DATA_NONZERO_EIP2028 16
#define GAS_ACCESS_ADDRESS 2400       /* EIP-2930 */
#define GAS_ACCESS_STORAGE_KEY 1900   /* EIP-2930 */
#define GAS_INITCODE_WORD 2           /* EIP-3860 */

/* Deepest list in a typed transaction: tx / access list / entry / keys. */
#define TX_RLP_DEPTH 4
/* Most fields a supported transaction has (type 2). */
#define TX_MAX_FIELDS 12

/* ---- fork rules: a declarative table ---- */

struct fork_entry {
    const char *name;
    int homestead, eip155, eip2028, eip2930, eip1559, eip3860;
};

static const struct fork_entry forks[] = {
    {"Frontier", 0, 0, 0, 0, 0, 0},
    {"Homestead", 1, 0, 0, 0, 0, 0},
    {"EIP150", 1, 0, 0, 0, 0, 0},            /* Tangerine Whistle */
    {"EIP158", 1, 1, 0, 0, 0, 0},            /* Spurious Dragon: EIP-155 */
    {"Byzantium", 1, 1, 0, 0, 0, 0},
    {"Constantinople", 1, 1, 0, 0, 0, 0},
    {"ConstantinopleFix", 1, 1, 0, 0, 0, 0}, /* Petersburg */
    {"Istanbul", 1, 1, 1, 0, 0, 0},
    {"Berlin", 1, 1, 1, 1, 0, 0},
    {"London", 1, 1, 1, 1, 1, 0},
    {"Paris", 1, 1, 1, 1, 1, 0},
    {"Shanghai", 1, 1, 1, 1, 1, 1},
    {"Cancun", 1, 1, 1, 1, 1, 1},            /* adds only type 3, unsupported */
};

int tx_rules_fork(struct tx_rules *rules, const char *fork, uint64_t chain_id)
{
    for (size_t i = 0; i < sizeof(forks) / sizeof(forks[0]); i++) {
        const struct fork_entry *f = &forks[i];
        if (strcmp(f->name, fork) != 0)
            continue;
        rules->chain_id = chain_id;
        rules->homestead = f->homestead;
        rules->eip155 = f->eip155;
        rules->eip2028 = f->eip2028;
        rules->eip2930 = f->eip2930;
        rules->eip1559 = f->eip1559;
        rules->eip3860 = f->eip3860;
        return MR_OK;
    }
    return MR_ERR_NOTFOUND;
}

void tx_rules_latest(struct tx_rules *rules, uint64_t chain_id)
{
    int rc = tx_rules_fork(rules, "Cancun", chain_id);

    assert(rc == MR_OK);
    (void)rc;
}

void tx_init(struct tx *tx, enum tx_type type, uint64_t chain_id)
{
    memset(tx, 0, sizeof(*tx));
    tx->type = type;
    tx->eip155 = type == TX_LEGACY;
    u256_from_u64(&tx->chain_id, chain_id);
}

/* ---- encoding ---- */

/* Where encoded bytes go: always counted, and absorbed into `hash` and/or
 * appended to `enc` when those are set. */
struct sink {
    size_t len;
    struct keccak256_ctx *hash;
    struct rlp_enc *enc;
};

static void sink_put(struct sink *k, const uint8_t *p, size_t n)
{
    k->len += n;
    if (k->hash != NULL)
        keccak256_update(k->hash, p, n);
    if (k->enc != NULL)
        rlp_enc_raw(k->enc, p, n);
}

/* Writes the RLP header of a `len`-byte payload (base 0x80 for a string,
 * 0xc0 for a list) to out[9]; returns its length (Yellow Paper App. B). */
static size_t rlp_header(uint8_t out[9], size_t len, uint8_t base)
{
    size_t n = rlp_header_len(len) - 1;

    if (n == 0) {
        out[0] = (uint8_t)(base + len);
        return 1;
    }
    out[0] = (uint8_t)(base + 55 + n);
    for (size_t i = 0; i < n; i++)
        out[n - i] = (uint8_t)(len >> (8 * i));
    return n + 1;
}

static void put_u64(struct sink *k, uint64_t v)
{
    uint8_t b[9];
    struct rlp_enc e;

    rlp_enc_init(&e, b, sizeof(b));
    rlp_enc_u64(&e, v);
    sink_put(k, b, e.len);
}

static void put_u256(struct sink *k, const struct u256 *v)
{
    uint8_t b[33];
    struct rlp_enc e;

    rlp_enc_init(&e, b, sizeof(b));
    rlp_enc_u256(&e, v);
    sink_put(k, b, e.len);
}

/* A byte string: the header, then the borrowed bytes themselves. */
static void put_bytes(struct sink *k, const uint8_t *p, size_t n)
{
    uint8_t h[9];

    assert(p != NULL || n == 0);
    if (n == 1 && p[0] < 0x80) {
        sink_put(k, p, 1);
        return;
    }
    sink_put(k, h, rlp_header(h, n, 0x80));
    if (n > 0)
        sink_put(k, p, n);
}

/* r or s: a 32-byte big-endian number written as a canonical integer. */
static void put_scalar(struct sink *k, const uint8_t x[32])
{
    size_t i = 0;

    while (i < 32 && x[i] == 0)
        i++;
    put_bytes(k, x + i, 32 - i);
}

static void put_access_list(struct sink *k, const struct tx *tx)
{
    static const uint8_t empty_list = 0xc0;

    if (tx->access_list == NULL || tx->access_list_len == 0)
        sink_put(k, &empty_list, 1);
    else
        sink_put(k, tx->access_list, tx->access_list_len);
}

/* The list payload: the signed fields when `with_sig`, else the fields the
 * signature commits to (EIP-155 appends [chainId, 0, 0] to legacy ones). */
static void put_fields(const struct tx *tx, int with_sig, struct sink *k)
{
    if (tx->type != TX_LEGACY)
        put_u256(k, &tx->chain_id);
    put_u64(k, tx->nonce);
    if (tx->type == TX_DYNAMIC_FEE) {
        put_u256(k, &tx->max_priority_fee);
        put_u256(k, &tx->max_fee);
    } else {
        put_u256(k, &tx->gas_price);
    }
    put_u64(k, tx->gas_limit);
    put_bytes(k, tx->to, tx->has_to ? KEY_ADDRESS_LEN : 0);
    put_u256(k, &tx->value);
    put_bytes(k, tx->data, tx->data_len);
    if (tx->type != TX_LEGACY)
        put_access_list(k, tx);
    if (with_sig) {
        put_u256(k, &tx->v);
        put_scalar(k, tx->r);
        put_scalar(k, tx->s);
    } else if (tx->type == TX_LEGACY && tx->eip155) {
        put_u256(k, &tx->chain_id);
        put_u64(k, 0);
        put_u64(k, 0);
    }
}

/* Type byte (typed only), list header, fields: the first pass only counts
 * the payload, to know the header. */
static void put_envelope(const struct tx *tx, int with_sig, struct sink *k)
{
    struct sink count = {0, NULL, NULL};
    uint8_t h[10];
    size_t n = 0;

    assert(tx->type == TX_LEGACY || tx->type == TX_ACCESS_LIST || tx->type == TX_DYNAMIC_FEE);
    put_fields(tx, with_sig, &count);
    if (tx->type != TX_LEGACY)
        h[n++] = (uint8_t)tx->type;
    n += rlp_header(h + n, count.len, 0xc0);
    sink_put(k, h, n);
    put_fields(tx, with_sig, k);
}

int tx_encode(const struct tx *tx, uint8_t *out, size_t cap, size_t *len, struct mr_error *err)
{
    struct sink size = {0, NULL, NULL};
    struct rlp_enc e;
    struct sink k = {0, NULL, &e};

    put_fields(tx, 1, &size);
    *len = (tx->type != TX_LEGACY) + rlp_header_len(size.len) + size.len;
    if (*len > cap)
        return mr_fail(err, MR_ERR_TOOBIG, "encoded transaction needs %zu bytes, buffer has %zu",
                       *len, cap);
    rlp_enc_init(&e, out, cap);
    put_envelope(tx, 1, &k);
    assert(!e.overflow && e.len == *len);
    return MR_OK;
}

void tx_signing_hash(const struct tx *tx, uint8_t hash[32])
{
    struct keccak256_ctx kc;
    struct sink k = {0, &kc, NULL};

    keccak256_init(&kc);
    put_envelope(tx, 0, &k);
    keccak256_final(&kc, hash);
}

void tx_hash(const uint8_t *raw, size_t len, uint8_t hash[32])
{
    keccak256(raw, len, hash);
}

/* ---- decoding ---- */

int tx_access_list_check(const uint8_t *raw, size_t len, size_t *addresses, size_t *keys,
                         struct mr_error *err)
{
    struct rlp_item list, entry, f[2], key;
    struct rlp_iter it, kit;
    size_t na = 0, nk = 0, n;
    int rc;

    /* Depth: access list / entry / keys. */
    rc = rlp_decode(raw, len, 3, &list, err);
    if (rc != MR_OK)
        return rc;
    if (!list.is_list)
        return mr_fail(err, MR_ERR_RLP, "access list is not a list");
    rlp_iter_init(&it, &list);
    while ((rc = rlp_iter_next(&it, &entry, err)) == 1) {
        if (!entry.is_list || rlp_list(&entry, f, 2, &n, NULL) != MR_OK || n != 2)
            return mr_fail(err, MR_ERR_RLP, "access list entry %zu is not [address, keys]", na);
        if (f[0].is_list || f[0].payload_len != KEY_ADDRESS_LEN)
            return mr_fail(err, MR_ERR_RLP, "access list entry %zu: address of %zu bytes, not 20",
                           na, f[0].payload_len);
        if (!f[1].is_list)
            return mr_fail(err, MR_ERR_RLP, "access list entry %zu: keys are not a list", na);
        rlp_iter_init(&kit, &f[1]);
        while ((rc = rlp_iter_next(&kit, &key, err)) == 1) {
            if (key.is_list || key.payload_len != 32)
                return mr_fail(err, MR_ERR_RLP,
                               "access list entry %zu: storage key of %zu bytes, not 32", na,
                               key.payload_len);
            nk++;
        }
        if (rc < 0)
            return rc;
        na++;
    }
    if (rc < 0)
        return rc;
    *addresses = na;
    *keys = nk;
    return MR_OK;
}

int tx_set_access_list(struct tx *tx, const uint8_t *raw, size_t len, struct mr_error *err)
{
    size_t na = 0, nk = 0;
    int rc;

    if (len > 0) {
        rc = tx_access_list_check(raw, len, &na, &nk, err);
        if (rc != MR_OK)
            return rc;
    }
    tx->access_list = len > 0 ? raw : NULL;
    tx->access_list_len = len;
    tx->access_list_addresses = na;
    tx->access_list_keys = nk;
    return MR_OK;
}

/* Field readers: name the field in the error. */
static int get_u64(const struct rlp_item *it, const char *name, uint64_t *out,
                   struct mr_error *err)
{
    int rc = rlp_get_u64(it, out, err);

    return rc == MR_OK ? MR_OK : mr_error_prefix(err, rc, "%s: ", name);
}

static int get_u256(const struct rlp_item *it, const char *name, struct u256 *out,
                    struct mr_error *err)
{
    int rc = rlp_get_u256(it, out, err);

    return rc == MR_OK ? MR_OK : mr_error_prefix(err, rc, "%s: ", name);
}

static int get_scalar(const struct rlp_item *it, const char *name, uint8_t out[32],
                      struct mr_error *err)
{
    struct u256 x;
    int rc = get_u256(it, name, &x, err);

    if (rc == MR_OK)
        u256_to_be32(&x, out);
    return rc;
}

static int get_to(const struct rlp_item *it, struct tx *tx, struct mr_error *err)
{
    if (it->is_list)
        return mr_fail(err, MR_ERR_RLP, "to: a list, not an address");
    if (it->payload_len == 0) {
        tx->has_to = 0;
        return MR_OK;
    }
    if (it->payload_len != KEY_ADDRESS_LEN)
        return mr_fail(err, MR_ERR_RLP, "to: address of %zu bytes, not 20", it->payload_len);
    memcpy(tx->to, it->payload, KEY_ADDRESS_LEN);
    tx->has_to = 1;
    return MR_OK;
}

static int get_data(const struct rlp_item *it, struct tx *tx, struct mr_error *err)
{
    if (it->is_list)
        return mr_fail(err, MR_ERR_RLP, "data: a list, not a byte string");
    tx->data = it->payload;
    tx->data_len = it->payload_len;
    return MR_OK;
}

/* nonce, gas, to, value, data at f[0..5) (after the fee fields). */
static int get_common(const struct rlp_item *nonce, const struct rlp_item *f, struct tx *tx,
                      struct mr_error *err)
{
    int rc = get_u64(nonce, "nonce", &tx->nonce, err);

    if (rc == MR_OK)
        rc = get_u64(&f[0], "gas limit", &tx->gas_limit, err);
    if (rc == MR_OK)
        rc = get_to(&f[1], tx, err);
    if (rc == MR_OK)
        rc = get_u256(&f[2], "value", &tx->value, err);
    if (rc == MR_OK)
        rc = get_data(&f[3], tx, err);
    return rc;
}

/* v, r, s at f[0..3). */
static int get_signature(const struct rlp_item *f, struct tx *tx, struct mr_error *err)
{
    int rc = get_u256(&f[0], tx->type == TX_LEGACY ? "v" : "y parity", &tx->v, err);

    if (rc == MR_OK)
        rc = get_scalar(&f[1], "r", tx->r, err);
    if (rc == MR_OK)
        rc = get_scalar(&f[2], "s", tx->s, err);
    return rc;
}

/* EIP-155: v >= 35 carries the chain id, (v - 35) / 2. */
static void legacy_chain_id(struct tx *tx)
{
    struct u256 c, k35;

    u256_from_u64(&k35, 35);
    tx->eip155 = u256_sub(&c, &tx->v, &k35) == MR_OK;
    if (tx->eip155) {
        int rc = u256_divmod_u64(&tx->chain_id, &c, 2, NULL);
        assert(rc == MR_OK);
        (void)rc;
    } else {
        u256_zero(&tx->chain_id);
    }
}

static int decode_legacy(const struct rlp_item *f, struct tx *tx, struct mr_error *err)
{
    int rc = get_u256(&f[1], "gas price", &tx->gas_price, err);

    if (rc == MR_OK)
        rc = get_common(&f[0], &f[2], tx, err);
    if (rc == MR_OK)
        rc = get_signature(&f[6], tx, err);
    if (rc == MR_OK)
        legacy_chain_id(tx);
    return rc;
}

/* Types 1 and 2: [chainId, nonce, fee(s)..., gas, to, value, data,
 * accessList, yParity, r, s]. */
static int decode_typed(const struct rlp_item *f, struct tx *tx, struct mr_error *err)
{
    size_t fees = tx->type == TX_DYNAMIC_FEE ? 2 : 1;
    const struct rlp_item *al = &f[2 + fees + 4];
    int rc = get_u256(&f[0], "chain id", &tx->chain_id, err);

    if (rc == MR_OK && tx->type == TX_DYNAMIC_FEE) {
        rc = get_u256(&f[2], "max priority fee", &tx->max_priority_fee, err);
        if (rc == MR_OK)
            rc = get_u256(&f[3], "max fee", &tx->max_fee, err);
    } else if (rc == MR_OK) {
        rc = get_u256(&f[2], "gas price", &tx->gas_price, err);
    }
    if (rc == MR_OK)
        rc = get_common(&f[1], &f[2 + fees], tx, err);
    if (rc == MR_OK && !al->is_list)
        rc = mr_fail(err, MR_ERR_RLP, "access list: a string, not a list");
    if (rc == MR_OK)
        rc = tx_set_access_list(tx, al->raw, al->raw_len, err);
    if (rc == MR_OK)
        rc = get_signature(al + 1, tx, err);
    return rc;
}

int tx_decode(const uint8_t *raw, size_t len, struct tx *tx, struct mr_error *err)
{
    static const size_t nfields[] = {9, 11, 12};
    struct rlp_item list, f[TX_MAX_FIELDS];
    size_t n, skip = 0;
    int rc;

    memset(tx, 0, sizeof(*tx));
    if (len == 0)
        return mr_fail(err, MR_ERR_RLP, "empty transaction");
    /* EIP-2718: a first byte >= 0xc0 starts a legacy RLP list, one <= 0x7f
     * is a transaction type; 0x80..0xbf (an RLP string) is neither. */
    if (raw[0] >= 0x80 && raw[0] < 0xc0)
        return mr_fail(err, MR_ERR_RLP, "transaction is an RLP string, not a list or a type");
    if (raw[0] < 0x80) {
        if (raw[0] != TX_ACCESS_LIST && raw[0] != TX_DYNAMIC_FEE)
            return mr_fail(err, MR_ERR_TX, "transaction type 0x%02x not supported", raw[0]);
        tx->type = (enum tx_type)raw[0];
        skip = 1;
    }
    rc = rlp_decode(raw + skip, len - skip, TX_RLP_DEPTH, &list, err);
    if (rc != MR_OK)
        return mr_error_prefix(err, rc, "transaction: ");
    if (!list.is_list)
        return mr_fail(err, MR_ERR_RLP, "type %d transaction payload is not a list", tx->type);
    rc = rlp_list(&list, f, TX_MAX_FIELDS, &n, err);
    if (rc != MR_OK)
        return mr_error_prefix(err, rc, "transaction: ");
    if (n != nfields[tx->type])
        return mr_fail(err, MR_ERR_RLP, "type %d transaction has %zu fields, not %zu", tx->type, n,
                       nfields[tx->type]);
    return tx->type == TX_LEGACY ? decode_legacy(f, tx, err) : decode_typed(f, tx, err);
}

/* ---- signing and recovery ---- */

/* v for a legacy signature: 27 + recid, or chainId * 2 + 35 + recid
 * (EIP-155).  MR_ERR_RANGE if that overflows 256 bits. */
static int legacy_v(const struct tx *tx, int recid, struct u256 *v)
{
    struct u256 k;

    if (!tx->eip155) {
        u256_from_u64(v, 27 + (uint64_t)recid);
        return MR_OK;
    }
    u256_from_u64(&k, 35 + (uint64_t)recid);
    if (u256_add(v, &tx->chain_id, &tx->chain_id) != MR_OK || u256_add(v, v, &k) != MR_OK)
        return MR_ERR_RANGE;
    return MR_OK;
}

int tx_sign(const secp256k1_context *ctx, struct tx *tx, const uint8_t sk[32],
            struct mr_error *err)
{
    uint8_t hash[32];
    struct u256 v;
    int recid, rc;

    /* Fail on an unusable chain id before producing a signature. */
    if (tx->type == TX_LEGACY && legacy_v(tx, 1, &v) != MR_OK)
        return mr_fail(err, MR_ERR_RANGE, "chain id too large for an EIP-155 v");
    tx_signing_hash(tx, hash);
    rc = key_sign(ctx, sk, hash, tx->r, tx->s, &recid, err);
    if (rc != MR_OK)
        return rc;
    /* Recovery ids 2 and 3 mean r overflowed n (probability ~2^-128); no
     * Ethereum v can say so. */
    if (recid > 1) {
        memset(tx->r, 0, 32);
        memset(tx->s, 0, 32);
        return mr_fail(err, MR_ERR_SIGNATURE, "recovery id %d cannot be expressed in v", recid);
    }
    if (tx->type == TX_LEGACY)
        (void)legacy_v(tx, recid, &tx->v);
    else
        u256_from_u64(&tx->v, (uint64_t)recid);
    return MR_OK;
}

/* The recovery id v implies and, for legacy, the signing form (EIP-155 or
 * not, which chain id).  Out: *as (a copy of tx with those set), *recid. */
static int signature_form(const struct tx *tx, const struct tx_rules *rules, struct tx *as,
                          int *recid, struct mr_error *err)
{
    char dec[U256_DEC_MAX];
    uint64_t v = UINT64_MAX;
    int small = u256_to_u64(&tx->v, &v) == MR_OK;

    *as = *tx;
    if (tx->type != TX_LEGACY) {
        if (!small || v > 1)
            goto bad_v;
        *recid = (int)v;
        return MR_OK;
    }
    if (small && (v == 27 || v == 28)) {
        as->eip155 = 0;
        *recid = (int)(v - 27);
        return MR_OK;
    }
    if (small && v < 35)
        goto bad_v;
    if (!rules->eip155)
        return mr_fail(err, MR_ERR_SIGNATURE, "EIP-155 signature (v >= 35) before Spurious Dragon");
    legacy_chain_id(as);
    *recid = (int)(tx->v.w[0] & 1) ^ 1; /* v = 35 + 2c + recid: v odd <=> recid 0 */
    return MR_OK;
bad_v:
    u256_to_dec(&tx->v, dec, sizeof(dec));
    return mr_fail(err, MR_ERR_SIGNATURE, "%s %s out of range",
                   tx->type == TX_LEGACY ? "v" : "y parity", dec);
}

int tx_sender(const secp256k1_context *ctx, const struct tx *tx, const struct tx_rules *rules,
              uint8_t addr[KEY_ADDRESS_LEN], struct mr_error *err)
{
    struct tx as;
    uint8_t hash[32];
    int recid = 0;
    int rc = signature_form(tx, rules, &as, &recid, err);

    if (rc != MR_OK)
        return rc;
    tx_signing_hash(&as, hash);
    return key_recover(ctx, hash, tx->r, tx->s, recid, rules->homestead, addr, NULL, err);
}

/* ---- protocol checks ---- */

/* *g += n * cost; 0 on overflow. */
static int gas_add(uint64_t *g, uint64_t n, uint64_t cost)
{
    if (n > (UINT64_MAX - *g) / cost)
        return 0;
    *g += n * cost;
    return 1;
}

int tx_intrinsic_gas(const struct tx *tx, const struct tx_rules *rules, uint64_t *gas,
                     struct mr_error *err)
{
    uint64_t g = GAS_TX, zeros = 0, nonzero;
    int ok = 1;

    if (!tx->has_to && rules->homestead)
        g += GAS_TX_CREATE;
    for (size_t i = 0; i < tx->data_len; i++)
        zeros += tx->data[i] == 0;
    nonzero = tx->data_len - zeros;
    ok &= gas_add(&g, zeros, GAS_DATA_ZERO);
    ok &= gas_add(&g, nonzero,
                  rules->eip2028 ? GAS_DATA_NONZERO_EIP2028 : GAS_DATA_NONZERO_FRONTIER);
    ok &= gas_add(&g, tx->access_list_addresses, GAS_ACCESS_ADDRESS);
    ok &= gas_add(&g, tx->access_list_keys, GAS_ACCESS_STORAGE_KEY);
    if (!tx->has_to && rules->eip3860)
        ok &= gas_add(&g, tx->data_len / 32 + (tx->data_len % 32 != 0), GAS_INITCODE_WORD);
    if (!ok)
        return mr_fail(err, MR_ERR_RANGE, "intrinsic gas exceeds 2^64");
    *gas = g;
    return MR_OK;
}

static int check_chain_id(const struct tx *tx, const struct tx_rules *rules, struct mr_error *err)
{
    struct u256 want;
    char got[U256_DEC_MAX];

    if (tx->type == TX_LEGACY && !tx->eip155)
        return MR_OK;
    if (tx->type == TX_LEGACY && !rules->eip155)
        return mr_fail(err, MR_ERR_TX, "EIP-155 transaction before Spurious Dragon");
    u256_from_u64(&want, rules->chain_id);
    if (u256_cmp(&tx->chain_id, &want) == 0)
        return MR_OK;
    u256_to_dec(&tx->chain_id, got, sizeof(got));
    return mr_fail(err, MR_ERR_TX, "chain id %s, expected %llu", got,
                   (unsigned long long)rules->chain_id);
}

/* EIP-1559 fee caps and the gas * price product (a node rejects a product
 * that overflows 256 bits before it looks at the balance). */
static int check_fees(const struct tx *tx, struct mr_error *err)
{
    const struct u256 *cap = tx->type == TX_DYNAMIC_FEE ? &tx->max_fee : &tx->gas_price;
    struct u256 gas, product;

    if (tx->type == TX_DYNAMIC_FEE && u256_cmp(&tx->max_priority_fee, &tx->max_fee) > 0)
        return mr_fail(err, MR_ERR_TX, "max priority fee above max fee (EIP-1559)");
    u256_from_u64(&gas, tx->gas_limit);
    if (u256_mul(&product, &gas, cap) != MR_OK)
        return mr_fail(err, MR_ERR_TX, "gas limit * fee cap overflows 256 bits");
    return MR_OK;
}

int tx_validate(const struct tx *tx, const struct tx_rules *rules, struct mr_error *err)
{
    uint64_t intrinsic;
    int rc;

    if ((tx->type == TX_ACCESS_LIST && !rules->eip2930) ||
        (tx->type == TX_DYNAMIC_FEE && !rules->eip1559))
        return mr_fail(err, MR_ERR_TX, "transaction type %d not active under these rules",
                       tx->type);
    rc = check_chain_id(tx, rules, err);
    if (rc == MR_OK && tx->nonce == UINT64_MAX)
        rc = mr_fail(err, MR_ERR_TX, "nonce 2^64-1 not allowed (EIP-2681)");
    if (rc == MR_OK)
        rc = check_fees(tx, err);
    if (rc == MR_OK && rules->eip3860 && !tx->has_to && tx->data_len > TX_MAX_INITCODE_SIZE)
        rc = mr_fail(err, MR_ERR_TX, "initcode of %zu bytes exceeds %d (EIP-3860)", tx->data_len,
                     TX_MAX_INITCODE_SIZE);
    if (rc != MR_OK)
        return rc;
    if (tx_intrinsic_gas(tx, rules, &intrinsic, err) != MR_OK)
        return mr_fail(err, MR_ERR_TX, "intrinsic gas exceeds 2^64");
    if (tx->gas_limit < intrinsic)
        return mr_fail(err, MR_ERR_TX, "gas limit %llu below intrinsic gas %llu",
                       (unsigned long long)tx->gas_limit, (unsigned long long)intrinsic);
    return MR_OK;
}
