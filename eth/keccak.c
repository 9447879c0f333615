/*
 * keccak.c - Keccak-f[1600] and the Keccak-256 sponge (see keccak.h).
 *
 * The permutation keeps the 25 lanes in local variables and computes two
 * rounds per loop iteration (state A -> E -> A), with theta, rho, pi, chi
 * and iota merged per output plane, the layout described in the Keccak team's
 * "Keccak implementation overview" (§2.4 and §3.2).  Lane names follow that
 * document: rows b,g,k,m,s are y = 0..4, columns a,e,i,o,u are x = 0..4.
 */
#include "keccak.h"

#include <string.h>

#include "error.h"

#define ROL64(a, n) (((a) << (n)) | ((a) >> ((64 - (n)) & 63)))

static const uint64_t keccak_rc[24] = {
    0x0000000000000001ULL, 0x0000000000008082ULL, 0x800000000000808aULL,
    0x8000000080008000ULL, 0x000000000000808bULL, 0x0000000080000001ULL,
    0x8000000080008081ULL, 0x8000000000008009ULL, 0x000000000000008aULL,
    0x0000000000000088ULL, 0x0000000080008009ULL, 0x000000008000000aULL,
    0x000000008000808bULL, 0x800000000000008bULL, 0x8000000000008089ULL,
    0x8000000000008003ULL, 0x8000000000008002ULL, 0x8000000000000080ULL,
    0x000000000000800aULL, 0x800000008000000aULL, 0x8000000080008081ULL,
    0x8000000000008080ULL, 0x0000000080000001ULL, 0x8000000080008008ULL,
};

/* One round reading lanes X##.. and writing lanes Y##.. */
#define KECCAK_ROUND(X, Y, rc)                                                  \
    do {                                                                        \
        uint64_t Ca = X##ba ^ X##ga ^ X##ka ^ X##ma ^ X##sa;                    \
        uint64_t Ce = X##be ^ X##ge ^ X##ke ^ X##me ^ X##se;                    \
        uint64_t Ci = X##bi ^ X##gi ^ X##ki ^ X##mi ^ X##si;                    \
        uint64_t Co = X##bo ^ X##go ^ X##ko ^ X##mo ^ X##so;                    \
        uint64_t Cu = X##bu ^ X##gu ^ X##ku ^ X##mu ^ X##su;                    \
        uint64_t Da = Cu ^ ROL64(Ce, 1);                                        \
        uint64_t De = Ca ^ ROL64(Ci, 1);                                        \
        uint64_t Di = Ce ^ ROL64(Co, 1);                                        \
        uint64_t Do = Ci ^ ROL64(Cu, 1);                                        \
        uint64_t Du = Co ^ ROL64(Ca, 1);                                        \
        uint64_t Ba, Be, Bi, Bo, Bu;                                            \
        Ba = X##ba ^ Da;                                                        \
        Be = ROL64(X##ge ^ De, 44);                                             \
        Bi = ROL64(X##ki ^ Di, 43);                                             \
        Bo = ROL64(X##mo ^ Do, 21);                                             \
        Bu = ROL64(X##su ^ Du, 14);                                             \
        Y##ba = Ba ^ (~Be & Bi) ^ (rc);                                         \
        Y##be = Be ^ (~Bi & Bo);                                                \
        Y##bi = Bi ^ (~Bo & Bu);                                                \
        Y##bo = Bo ^ (~Bu & Ba);                                                \
        Y##bu = Bu ^ (~Ba & Be);                                                \
        Ba = ROL64(X##bo ^ Do, 28);                                             \
        Be = ROL64(X##gu ^ Du, 20);                                             \
        Bi = ROL64(X##ka ^ Da, 3);                                              \
        Bo = ROL64(X##me ^ De, 45);                                             \
        Bu = ROL64(X##si ^ Di, 61);                                             \
        Y##ga = Ba ^ (~Be & Bi);                                                \
        Y##ge = Be ^ (~Bi & Bo);                                                \
        Y##gi = Bi ^ (~Bo & Bu);                                                \
        Y##go = Bo ^ (~Bu & Ba);                                                \
        Y##gu = Bu ^ (~Ba & Be);                                                \
        Ba = ROL64(X##be ^ De, 1);                                              \
        Be = ROL64(X##gi ^ Di, 6);                                              \
        Bi = ROL64(X##ko ^ Do, 25);                                             \
        Bo = ROL64(X##mu ^ Du, 8);                                              \
        Bu = ROL64(X##sa ^ Da, 18);                                             \
        Y##ka = Ba ^ (~Be & Bi);                                                \
        Y##ke = Be ^ (~Bi & Bo);                                                \
        Y##ki = Bi ^ (~Bo & Bu);                                                \
        Y##ko = Bo ^ (~Bu & Ba);                                                \
        Y##ku = Bu ^ (~Ba & Be);                                                \
        Ba = ROL64(X##bu ^ Du, 27);                                             \
        Be = ROL64(X##ga ^ Da, 36);                                             \
        Bi = ROL64(X##ke ^ De, 10);                                             \
        Bo = ROL64(X##mi ^ Di, 15);                                             \
        Bu = ROL64(X##so ^ Do, 56);                                             \
        Y##ma = Ba ^ (~Be & Bi);                                                \
        Y##me = Be ^ (~Bi & Bo);                                                \
        Y##mi = Bi ^ (~Bo & Bu);                                                \
        Y##mo = Bo ^ (~Bu & Ba);                                                \
        Y##mu = Bu ^ (~Ba & Be);                                                \
        Ba = ROL64(X##bi ^ Di, 62);                                             \
        Be = ROL64(X##go ^ Do, 55);                                             \
        Bi = ROL64(X##ku ^ Du, 39);                                             \
        Bo = ROL64(X##ma ^ Da, 41);                                             \
        Bu = ROL64(X##se ^ De, 2);                                              \
        Y##sa = Ba ^ (~Be & Bi);                                                \
        Y##se = Be ^ (~Bi & Bo);                                                \
        Y##si = Bi ^ (~Bo & Bu);                                                \
        Y##so = Bo ^ (~Bu & Ba);                                                \
        Y##su = Bu ^ (~Ba & Be);                                                \
    } while (0)

#define KECCAK_LANES(P)                                                         \
    uint64_t P##ba, P##be, P##bi, P##bo, P##bu, P##ga, P##ge, P##gi, P##go,     \
        P##gu, P##ka, P##ke, P##ki, P##ko, P##ku, P##ma, P##me, P##mi, P##mo,   \
        P##mu, P##sa, P##se, P##si, P##so, P##su

void keccak_f1600(uint64_t st[25])
{
    KECCAK_LANES(A);
    KECCAK_LANES(E);

    Aba = st[0];  Abe = st[1];  Abi = st[2];  Abo = st[3];  Abu = st[4];
    Aga = st[5];  Age = st[6];  Agi = st[7];  Ago = st[8];  Agu = st[9];
    Aka = st[10]; Ake = st[11]; Aki = st[12]; Ako = st[13]; Aku = st[14];
    Ama = st[15]; Ame = st[16]; Ami = st[17]; Amo = st[18]; Amu = st[19];
    Asa = st[20]; Ase = st[21]; Asi = st[22]; Aso = st[23]; Asu = st[24];

    for (int r = 0; r < 24; r += 2) {
        KECCAK_ROUND(A, E, keccak_rc[r]);
        KECCAK_ROUND(E, A, keccak_rc[r + 1]);
    }

    st[0] = Aba;  st[1] = Abe;  st[2] = Abi;  st[3] = Abo;  st[4] = Abu;
    st[5] = Aga;  st[6] = Age;  st[7] = Agi;  st[8] = Ago;  st[9] = Agu;
    st[10] = Aka; st[11] = Ake; st[12] = Aki; st[13] = Ako; st[14] = Aku;
    st[15] = Ama; st[16] = Ame; st[17] = Ami; st[18] = Amo; st[19] = Amu;
    st[20] = Asa; st[21] = Ase; st[22] = Asi; st[23] = Aso; st[24] = Asu;
}

static inline uint64_t load64_le(const uint8_t *p)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
#else
    return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 |
           (uint64_t)p[3] << 24 | (uint64_t)p[4] << 32 | (uint64_t)p[5] << 40 |
           (uint64_t)p[6] << 48 | (uint64_t)p[7] << 56;
#endif
}

/* XORs one byte into the state at byte offset `i` of the rate. */
static inline void xor_byte(uint64_t st[25], size_t i, uint8_t b)
{
    st[i / 8] ^= (uint64_t)b << (8 * (i % 8));
}

/* Absorbs one full 136-byte block. */
static inline void absorb_block(uint64_t st[25], const uint8_t *p)
{
    for (size_t i = 0; i < KECCAK256_RATE / 8; i++)
        st[i] ^= load64_le(p + 8 * i);
    keccak_f1600(st);
}

void keccak256_init(struct keccak256_ctx *ctx)
{
    memset(ctx, 0, sizeof(*ctx));
}

void keccak256_update(struct keccak256_ctx *ctx, const void *data, size_t len)
{
    const uint8_t *p = data;

    if (len == 0)
        return;
    /* Finish a partial block byte by byte. */
    if (ctx->pos != 0) {
        while (len > 0 && ctx->pos < KECCAK256_RATE) {
            xor_byte(ctx->st, ctx->pos++, *p++);
            len--;
        }
        if (ctx->pos < KECCAK256_RATE)
            return;
        keccak_f1600(ctx->st);
        ctx->pos = 0;
    }
    while (len >= KECCAK256_RATE) {
        absorb_block(ctx->st, p);
        p += KECCAK256_RATE;
        len -= KECCAK256_RATE;
    }
    for (size_t i = 0; i < len; i++)
        xor_byte(ctx->st, i, p[i]);
    ctx->pos = len;
}

void keccak256_final(struct keccak256_ctx *ctx, uint8_t out[KECCAK256_LEN])
{
    /* Keccak multi-rate padding pad10*1 with the 0x01 domain byte. */
    xor_byte(ctx->st, ctx->pos, 0x01);
    xor_byte(ctx->st, KECCAK256_RATE - 1, 0x80);
    keccak_f1600(ctx->st);
    for (size_t i = 0; i < KECCAK256_LEN; i++)
        out[i] = (uint8_t)(ctx->st[i / 8] >> (8 * (i % 8)));
    mr_wipe(ctx, sizeof(*ctx));
}

void keccak256(const void *data, size_t len, uint8_t out[KECCAK256_LEN])
{
    struct keccak256_ctx ctx;
    const uint8_t *p = data;
    size_t i;

    memset(ctx.st, 0, sizeof(ctx.st));
    while (len >= KECCAK256_RATE) {
        absorb_block(ctx.st, p);
        p += KECCAK256_RATE;
        len -= KECCAK256_RATE;
    }
    /* Last partial block: whole lanes first, then the tail bytes. */
    for (i = 0; i + 8 <= len; i += 8)
        ctx.st[i / 8] ^= load64_le(p + i);
    for (; i < len; i++)
        xor_byte(ctx.st, i, p[i]);
    ctx.pos = len;
    keccak256_final(&ctx, out);
}
