/*
 * deploy_state.h - what `mosaic-relayer deploy` has done, kept in a JSON
 * file (deploy.state_file), and the run config it writes at the end.
 *
 * The state file is the deployment's memory across runs: one entry per
 * completed step (a contract created, or a setup call made) with the chain,
 * the address, the transaction hash, its block and the gas it used.  It is
 * rewritten after every step, atomically (a temporary file in the same
 * directory, fsync, rename, fsync of the directory), so an interrupted
 * deploy leaves either the old or the new file, never a torn one.  It is
 * read as hostile input: a size cap, strict types and lengths, and errors
 * that name the file and the entry.
 *
 *   {"format": "mosaic-relayer deploy state", "version": 1,
 *    "deployment": "<16 hex digits>",
 *    "steps": [{"name": "origin.organization", "chain": "origin",
 *               "chain_id": 1000, "contract": "Organization",
 *               "address": "0x..", "tx": "0x..", "block": 12,
 *               "gas_used": 523411}, ...]}
 *
 * Anchors also record the seed ("seed_height", "seed_root").  "deployment"
 * is a random id chosen when the file is created: the transactions of this
 * deployment carry it in their purpose, so that a resumed run follows its
 * own unrecorded transactions and never adopts another deployment's.
 */
#ifndef MR_DEPLOY_STATE_H
#define MR_DEPLOY_STATE_H

#include <stddef.h>
#include <stdint.h>

#include "eth/error.h"
#include "relayer/config.h"

#define DSTATE_MAX_BYTES (4 * 1024 * 1024)
#define DSTATE_MAX_STEPS 4096
#define DSTATE_NAME_LEN 96
#define DSTATE_CONTRACT_LEN 64

struct dstate_entry {
    char name[DSTATE_NAME_LEN];
    char chain[CONFIG_KEY_LEN];
    uint64_t chain_id;
    char contract[DSTATE_CONTRACT_LEN];  /* artifact name; "" for a call */
    int has_address;
    uint8_t address[20];                 /* created contract, or the call's target */
    int has_tx;
    uint8_t tx[32];                      /* "" when found already done on chain */
    uint64_t block;
    uint64_t gas_used;
    int has_seed;                        /* anchors: the remote root they were seeded with */
    uint64_t seed_height;
    uint8_t seed_root[32];
};

#define DSTATE_ID_LEN 17   /* 16 hex digits + NUL */

/* Entries in completion order.  Owns v. */
struct dstate {
    char id[DSTATE_ID_LEN];       /* "" until dstate_new_id() */
    struct dstate_entry *v;
    size_t n, cap;
};

/* Reads `path` into *s (initialised here).  A missing file is an empty
 * state.  Errors name the path and the entry (MR_ERR_JSON, MR_ERR_INVALID,
 * MR_ERR_TOOBIG, MR_ERR_IO). */
int dstate_load(const char *path, struct dstate *s, struct mr_error *err);

/* Gives a state without an id a new random one. */
int dstate_new_id(struct dstate *s, struct mr_error *err);

/* The entry named `name`, or NULL.  Borrowed from s. */
struct dstate_entry *dstate_find(struct dstate *s, const char *name);

/* Replaces the entry of the same name or appends e (copied). */
int dstate_put(struct dstate *s, const struct dstate_entry *e, struct mr_error *err);

/* Removes the entry named `name` (nothing if absent). */
void dstate_remove(struct dstate *s, const char *name);

/* Writes s to `path` atomically (tmp + fsync + rename + fsync dir). */
int dstate_save(const struct dstate *s, const char *path, struct mr_error *err);

void dstate_free(struct dstate *s);

/* Writes `text` (len bytes) to `path` atomically with mode `mode`, as
 * dstate_save does. */
int dstate_write_file(const char *path, const char *text, size_t len, unsigned mode,
                      struct mr_error *err);

/* One deployed gateway pair, for the run config. */
struct dstate_pair {
    const char *name;
    const char *origin_chain, *aux_chain;
    uint8_t gateway[20], origin_anchor[20];
    uint8_t cogateway[20], aux_anchor[20];
    uint8_t value_token[20], base_token[20], utility_token[20];
    uint8_t origin_org[20], aux_org[20];
};

/* The run config: the text of the deploy config `src[len]` without its
 * top-level `deploy:` and `gateways:` sections, followed by a `gateways:`
 * section listing pairs[n].  Out: *out (malloc'd, NUL-terminated; caller
 * frees), *out_len. */
int dstate_run_config(const char *src, size_t len, const char *src_path,
                      const struct dstate_pair *pairs, size_t n, char **out, size_t *out_len,
                      struct mr_error *err);

#endif /* MR_DEPLOY_STATE_H */
