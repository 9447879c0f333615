/*
 * bench_sign.c - signed transactions per second against bare libsecp256k1.
 *
 * In one run and on one context: ECDSA signing of a 32-byte hash with bare
 * secp256k1_ecdsa_sign_recoverable, then tx_sign + tx_encode of an EIP-1559
 * transaction carrying 356 bytes of calldata (the size of a Mosaic
 * confirmStakeIntent call: selector + 11 words); then the same for recovery.
 * Each loop runs for about one second.  Prints numbers, never pass/fail.
 */
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <secp256k1_recovery.h>

#include "eth/keccak.h"
#include "eth/tx.h"

#define CALLDATA_LEN 356
#define SECONDS 1.0

struct bench {
    secp256k1_context *ctx;
    uint8_t sk[32];
    uint8_t hash[32];
    uint8_t calldata[CALLDATA_LEN];
    struct tx tx;
    uint8_t raw[1024];
    size_t raw_len;
    secp256k1_ecdsa_recoverable_signature sig;
    volatile unsigned long sink; /* keeps results observable */
};

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Runs op until SECONDS have passed; returns operations per second. */
static double rate(struct bench *b, int (*op)(struct bench *, unsigned long))
{
    unsigned long n = 0;
    double t0 = now(), t;

    do {
        for (int i = 0; i < 64; i++, n++)
            if (op(b, n) != 0) {
                fprintf(stderr, "bench_sign: operation failed\n");
                return 0;
            }
        t = now() - t0;
    } while (t < SECONDS);
    return (double)n / t;
}

static int bare_sign(struct bench *b, unsigned long i)
{
    memcpy(b->hash, &i, sizeof(i)); /* a new message each time */
    if (secp256k1_ecdsa_sign_recoverable(b->ctx, &b->sig, b->hash, b->sk, NULL, NULL) != 1)
        return -1;
    b->sink += b->sig.data[0];
    return 0;
}

static int tx_sign_encode(struct bench *b, unsigned long i)
{
    b->tx.nonce = i;
    if (tx_sign(b->ctx, &b->tx, b->sk, NULL) != MR_OK ||
        tx_encode(&b->tx, b->raw, sizeof(b->raw), &b->raw_len, NULL) != MR_OK)
        return -1;
    b->sink += b->raw[b->raw_len - 1];
    return 0;
}

static int bare_recover(struct bench *b, unsigned long i)
{
    secp256k1_pubkey pk;

    (void)i;
    if (secp256k1_ecdsa_recover(b->ctx, &pk, &b->sig, b->hash) != 1)
        return -1;
    b->sink += pk.data[0];
    return 0;
}

static int tx_decode_sender(struct bench *b, unsigned long i)
{
    struct tx tx;
    struct tx_rules rules;
    uint8_t addr[20];

    (void)i;
    tx_rules_latest(&rules, 1);
    if (tx_decode(b->raw, b->raw_len, &tx, NULL) != MR_OK ||
        tx_sender(b->ctx, &tx, &rules, addr, NULL) != MR_OK)
        return -1;
    b->sink += addr[0];
    return 0;
}

static void setup(struct bench *b)
{
    uint8_t seed[32];

    memset(b, 0, sizeof(*b));
    if (getrandom(seed, sizeof(seed), 0) != (ssize_t)sizeof(seed))
        memset(seed, 0x5e, sizeof(seed));
    b->ctx = key_ctx_create(seed);
    memset(b->sk, 0x42, sizeof(b->sk));
    /* confirmStakeIntent-shaped calldata: selector, then 11 words of
     * addresses, amounts and hashes. */
    for (size_t i = 0; i < CALLDATA_LEN; i++)
        b->calldata[i] = (uint8_t)((i % 32) < 12 ? 0 : i * 31 + 7);
    tx_init(&b->tx, TX_DYNAMIC_FEE, 1);
    b->tx.gas_limit = 300000;
    u256_from_u64(&b->tx.max_priority_fee, 1500000000);
    u256_from_u64(&b->tx.max_fee, 40000000000ull);
    b->tx.has_to = 1;
    memset(b->tx.to, 0x22, sizeof(b->tx.to));
    b->tx.data = b->calldata;
    b->tx.data_len = CALLDATA_LEN;
}

int main(void)
{
    struct bench b;
    double bare, full;

    setup(&b);
    if (b.ctx == NULL)
        return 1;
    bare = rate(&b, bare_sign);
    full = rate(&b, tx_sign_encode);
    printf("sign: bare libsecp256k1 %.0f/s, tx_sign+encode %.0f/s (%zu-byte type-2 tx), "
           "ratio %.3f\n", bare, full, b.raw_len, full / bare);
    bare = rate(&b, bare_recover);
    full = rate(&b, tx_decode_sender);
    printf("recover: bare libsecp256k1 %.0f/s, tx_decode+tx_sender %.0f/s, ratio %.3f\n", bare,
           full, full / bare);
    key_ctx_destroy(b.ctx);
    return 0;
}
