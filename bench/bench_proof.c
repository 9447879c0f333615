/*
 * bench_proof.c - proof verification and RLP decoding throughput.
 *
 * Prints numbers, not pass/fail:
 *   rlp decode: X MB/s            full strict decode+validation of ~1 MB
 *   proof verify: Y proofs/s (N nodes)   the deepest storage proof recorded
 *                                        from geth in the Mosaic dumps
 *   generated proof verify: Z proofs/s (N nodes)   the deepest proof of
 *                                        generatedProofData.json
 * The fixtures are read from $MOSAIC_VECTORS (default ../shared/vectors) with
 * a small text scan, since benchmarks link only the pure library.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "eth/hex.h"
#include "eth/keccak.h"
#include "eth/mpt.h"
#include "eth/rlp.h"

#define MAXN 80

struct proof {
    uint8_t root[32];
    uint8_t key[64];
    size_t key_len;
    uint8_t *buf; /* the _rlpParentNodes bytes, owned */
    size_t buf_len;
    struct mpt_node nodes[MAXN];
    size_t n;
};

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static char *read_file(const char *dir, const char *rel)
{
    char path[512];
    FILE *f;
    long len;
    char *buf;

    snprintf(path, sizeof(path), "%s/%s", dir, rel);
    if ((f = fopen(path, "rb")) == NULL)
        return NULL;
    fseek(f, 0, SEEK_END);
    len = ftell(f);
    rewind(f);
    buf = malloc((size_t)len + 1);
    if (buf == NULL || fread(buf, 1, (size_t)len, f) != (size_t)len) {
        fclose(f);
        free(buf);
        return NULL;
    }
    buf[len] = '\0';
    fclose(f);
    return buf;
}

/* The hex string value of the next `"name": "0x..."` at or after p, decoded
 * into a new buffer.  Out: *end just past it.  NULL if none or bad. */
static uint8_t *next_hex(const char *p, const char *name, size_t *len, const char **end)
{
    char pat[64];
    const char *q, *s;
    uint8_t *out;
    size_t slen;

    snprintf(pat, sizeof(pat), "\"%s\"", name);
    if ((q = strstr(p, pat)) == NULL || (s = strstr(q + strlen(pat), "\"0x")) == NULL)
        return NULL;
    s++;
    slen = strcspn(s, "\"");
    out = malloc(slen / 2 + 1);
    if (out == NULL || hex_decode_data(s, slen, out, slen / 2 + 1, len, NULL) != MR_OK) {
        free(out);
        return NULL;
    }
    *end = s + slen;
    return out;
}

/* Takes ownership of buf (the node list) into *pr if it holds more nodes. */
static void keep_deeper(struct proof *pr, const uint8_t root[32], const uint8_t *key,
                        size_t key_len, uint8_t *buf, size_t blen)
{
    struct mpt_node nodes[MAXN];
    size_t n;

    if (key_len > sizeof(pr->key) ||
        mpt_proof_decode(buf, blen, nodes, MAXN, &n, NULL) != MR_OK || n <= pr->n) {
        free(buf);
        return;
    }
    free(pr->buf);
    memcpy(pr->root, root, 32);
    memcpy(pr->key, key, key_len);
    pr->key_len = key_len;
    pr->buf = buf;
    pr->buf_len = blen;
    memcpy(pr->nodes, nodes, n * sizeof(*nodes));
    pr->n = n;
}

/* Storage proofs of a dump: storageHash, then the entry's key and
 * serializedProof, in that order inside each proof_data object. */
static void scan_dump(const char *text, struct proof *pr)
{
    const char *p = text, *e;
    size_t rl, kl, bl;

    for (;;) {
        uint8_t *root = next_hex(p, "storageHash", &rl, &e), *key, *buf;
        uint8_t path[32];
        if (root == NULL)
            return;
        key = next_hex(e, "key", &kl, &e);
        buf = key ? next_hex(e, "serializedProof", &bl, &e) : NULL;
        if (buf != NULL && rl == 32 && kl == 32) {
            keccak256(key, 32, path);
            keep_deeper(pr, root, path, 32, buf, bl);
        } else {
            free(buf);
        }
        free(root);
        free(key);
        if (buf == NULL)
            return;
        p = e;
    }
}

/* generatedProofData.json: encodedPath, rlpParentNodes, root per entry. */
static void scan_generated(const char *text, struct proof *pr)
{
    const char *p = text, *e;
    size_t pl, bl, rl;

    for (;;) {
        uint8_t *path = next_hex(p, "encodedPath", &pl, &e), *buf = NULL, *root = NULL;
        if (path != NULL)
            buf = next_hex(e, "rlpParentNodes", &bl, &e);
        if (buf != NULL)
            root = next_hex(e, "root", &rl, &e);
        if (root == NULL) {
            free(path);
            free(buf);
            return;
        }
        if (rl == 32)
            keep_deeper(pr, root, path, pl, buf, bl);
        else
            free(buf);
        free(path);
        free(root);
        p = e;
    }
}

static int verify_once(const struct proof *pr)
{
    const uint8_t *v;
    size_t vlen;
    int found;

    return mpt_verify(pr->root, pr->key, pr->key_len, pr->nodes, pr->n, &v, &vlen, &found, NULL) ==
               MR_OK && found;
}

static void bench_verify(const char *label, const struct proof *pr)
{
    double t0, dt;
    long iters = 0;

    if (pr->n == 0 || !verify_once(pr)) {
        printf("%s: no verifiable proof found\n", label);
        return;
    }
    t0 = now();
    do {
        for (int i = 0; i < 1000; i++)
            iters += verify_once(pr);
        dt = now() - t0;
    } while (dt < 1.0);
    printf("%s: %.0f proofs/s (%zu nodes, %zu bytes)\n", label, (double)iters / dt, pr->n,
           pr->buf_len);
}

/* ~1 MB: one RLP list holding the proof's nodes over and over. */
static void bench_rlp(const struct proof *pr)
{
    struct rlp_enc e;
    struct rlp_item item;
    uint8_t *buf;
    size_t cap = (1u << 20) + 4096, len, mark;
    double t0, dt = 0, bytes = 0;

    if (pr->n == 0)
        return;
    buf = malloc(cap);
    if (buf == NULL)
        return;
    rlp_enc_init(&e, buf, cap);
    mark = rlp_enc_list_begin(&e);
    while (e.len + pr->buf_len + 16 < (1u << 20))
        for (size_t i = 0; i < pr->n; i++)
            rlp_enc_raw(&e, pr->nodes[i].data, pr->nodes[i].len);
    rlp_enc_list_end(&e, mark);
    if (rlp_enc_finish(&e, &len) != MR_OK || rlp_decode(buf, len, RLP_MAX_DEPTH, &item, NULL) != MR_OK) {
        printf("rlp decode: could not build the input\n");
        free(buf);
        return;
    }
    t0 = now();
    do {
        if (rlp_decode(buf, len, RLP_MAX_DEPTH, &item, NULL) != MR_OK)
            break;
        bytes += (double)len;
        dt = now() - t0;
    } while (dt < 1.0);
    printf("rlp decode: %.1f MB/s (%zu-byte list of proof nodes)\n", bytes / dt / 1e6, len);
    free(buf);
}

int main(void)
{
    static const char *const dumps[] = {
        "stake_progressed_0.json", "stake_progressed_1.json", "stake_revoked_0.json",
        "stake_revoked_1.json", "redeem_progressed_0.json", "redeem_progressed_1.json",
        "redeem_progressed_reward_based_on_gas_consumption.json", "redeem_revoked_0.json",
        "redeem_revoked_1.json"};
    const char *dir = getenv("MOSAIC_VECTORS");
    struct proof geth, gen;
    char rel[256], *text;

    memset(&geth, 0, sizeof(geth));
    memset(&gen, 0, sizeof(gen));
    if (dir == NULL || dir[0] == '\0')
        dir = "../shared/vectors";
    for (size_t i = 0; i < sizeof(dumps) / sizeof(dumps[0]); i++) {
        snprintf(rel, sizeof(rel), "mosaic/mosaic-contracts-test-data/%s", dumps[i]);
        if ((text = read_file(dir, rel)) != NULL) {
            scan_dump(text, &geth);
            free(text);
        }
    }
    if ((text = read_file(dir, "mosaic/mosaic-contracts-test-data/generatedProofData.json")) != NULL) {
        scan_generated(text, &gen);
        free(text);
    }
    if (geth.n == 0 && gen.n == 0) {
        printf("bench_proof: no fixtures under %s (set MOSAIC_VECTORS)\n", dir);
        return 0;
    }
    bench_rlp(geth.n ? &geth : &gen);
    /* The dumps hold no 8-node storage proof: their tries are tiny. */
    bench_verify("proof verify", &geth);
    bench_verify("generated proof verify", &gen);
    free(geth.buf);
    free(gen.buf);
    return 0;
}
