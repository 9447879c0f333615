/*
 * txmfx.h - a transaction manager wired to a real anvil chain and a fresh
 * migrated PostgreSQL database, for the txm test programs: a keystore for
 * one of anvil's public dev keys, the signer, the endpoints (direct or
 * through a fault proxy) and struct txm with test settings.
 */
#ifndef MR_TXMFX_H
#define MR_TXMFX_H

#include "tests/lib/testlib.h"

#include "relayer/txm.h"

struct txmfx {
    char *dir;                  /* temporary: keystore and password file */
    char *key_path, *pw_path;
    char *ci;                   /* conninfo of the fresh database */
    PGconn *db;
    struct rpc_endpoints *rpc;
    struct signer *signer;
    struct txm t;               /* chain "origin" (31337), 2 confirmations */
};

/* Sets f up for anvil dev key sk_hex (64 hex digits) against url (NULL:
 * the ORIGIN test chain).  Returns 0, or -1 (and does nothing) when the
 * test database or chains are absent: the test then skips.  Fails the
 * test on any other error. */
int txmfx_open(struct txmfx *f, const char *sk_hex, const char *url);
/* Closes what txmfx_open made (automine back on). */
void txmfx_close(struct txmfx *f);

/* txmfx_open against the ORIGIN test chain behind a fault proxy started
 * here (*p, for the test's rules).  Returns 1 when ready; 0 when the test
 * database or chains are absent (*p then NULL: the test skips). */
struct fproxy;
int txmfx_open_proxied(struct txmfx *f, struct fproxy **p, const char *sk_hex);
/* Closes what txmfx_open_proxied made (the proxy's rules cleared first). */
void txmfx_close_proxied(struct txmfx *f, struct fproxy *p, int ready);

/* Opens the signer again (after txmfx_release): the per-key lock of a
 * killed process may take a moment to go; retried for up to 10 s. */
void txmfx_signer(struct txmfx *f);
/* Closes the signer (frees the per-key lock for another process). */
void txmfx_release(struct txmfx *f);

/* Calls an anvil_* / evm_* / eth_* method with a JSON params text on rpc;
 * fails the test on error.  The _str form returns a string result
 * (malloc'd). */
void txmfx_anvil(struct rpc_endpoints *rpc, const char *method, const char *params);
char *txmfx_anvil_str(struct rpc_endpoints *rpc, const char *method, const char *params);

/* Polls until nothing is left, mining a block after each round that left
 * something; fails the test if rounds are not enough. */
void txmfx_drain(struct txmfx *f, int rounds);

/* Prints on stderr what explains a failed txm test: the rows of
 * transactions, tx_attempts, signer_nonces and alerts, and the chain's
 * head, "finalized" block, automine setting and the key's "latest" and
 * "pending" nonces.  For a teardown after a failed test; never fails. */
void txmfx_dump(struct txmfx *f, const char *why);

/* A plain call intent: 50000 gas to 0x1111..., no calldata. */
struct txs_intent txmfx_call(void);

#endif /* MR_TXMFX_H */
