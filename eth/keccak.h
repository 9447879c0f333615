/*
 * keccak.h - Keccak-256 as Ethereum uses it (the original Keccak padding
 * 0x01...0x80, not FIPS-202 SHA3-256's 0x06).
 *
 * Incremental (init/update/final) and one-shot.  The context is a plain
 * value owned by the caller; no allocation, no globals.
 */
#ifndef MR_KECCAK_H
#define MR_KECCAK_H

#include <stddef.h>
#include <stdint.h>

#define KECCAK256_RATE 136   /* bytes absorbed per permutation */
#define KECCAK256_LEN 32     /* digest size */

struct keccak256_ctx {
    uint64_t st[25];      /* the Keccak-f[1600] state, lane (x,y) at st[x+5y] */
    size_t pos;           /* bytes absorbed into the current block */
};

void keccak256_init(struct keccak256_ctx *ctx);
/* Absorbs data[len].  `data` may be NULL when len == 0. */
void keccak256_update(struct keccak256_ctx *ctx, const void *data, size_t len);
/* Writes the digest to out[32] and wipes the context. */
void keccak256_final(struct keccak256_ctx *ctx, uint8_t out[KECCAK256_LEN]);
/* One-shot digest of data[len] into out[32]. */
void keccak256(const void *data, size_t len, uint8_t out[KECCAK256_LEN]);

/* The Keccak-f[1600] permutation on st[25] (exposed for tests and benches). */
void keccak_f1600(uint64_t st[25]);

#endif /* MR_KECCAK_H */
