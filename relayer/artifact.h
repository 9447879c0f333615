/*
 * artifact.h - compiled contract artifacts: build/contracts/<Name>.json as
 * contracts/build.mjs writes them (solc standard-JSON output, reshaped):
 *
 *   {"contractName": "EIP20Gateway", "abi": [...],
 *    "bytecode": "0x...", "deployedBytecode": "0x...",
 *    "linkReferences": {"MerklePatriciaProof.sol": {"MerklePatriciaProof":
 *                        [{"start": 1874, "length": 20}, ...]}},
 *    "deployedLinkReferences": {...}}          (optional)
 *
 * A library address that the code needs is a 40-character placeholder in
 * the hex, "__$" + the first 34 hex digits of keccak256("<source>:<library>")
 * + "$__", at each offset its link references list.  Loading checks every
 * placeholder against its reference (and refuses one that no reference
 * covers), keeps the code with zero bytes there, and records the offsets;
 * artifact_link() writes the addresses in.
 *
 * The ABI is read into a flat list of entries with canonical signatures and
 * their keccak256 (the selector of a function, the topic0 of an event), so
 * that tests can check them against the protocol document, and the
 * constructor's parameters are used to ABI-encode deployment arguments.
 *
 * Every input is bounded and checked; errors name the artifact and the
 * member ("EIP20Gateway.json: abi[3].inputs[1].type: ...").
 */
#ifndef MR_ARTIFACT_H
#define MR_ARTIFACT_H

#include <stddef.h>
#include <stdint.h>

#include "eth/abi.h"
#include "eth/error.h"

#define ARTIFACT_MAX_FILE (8u << 20)   /* bytes of one artifact file */
#define ARTIFACT_MAX_CODE 49152        /* EIP-3860 initcode limit, bytes */
#define ARTIFACT_MAX_ENTRIES 512       /* ABI entries */
#define ARTIFACT_MAX_LINKS 256         /* placeholders in one code */
#define ARTIFACT_NAME_MAX 128          /* contract, source and library names */
#define ARTIFACT_SIG_MAX 1024          /* one canonical signature */

enum artifact_kind {
    ARTIFACT_FUNCTION = 1,
    ARTIFACT_EVENT,
    ARTIFACT_CONSTRUCTOR,
    ARTIFACT_ERROR,
    ARTIFACT_FALLBACK,  /* fallback and receive: no signature */
};

/* One ABI entry.  A plain value. */
struct artifact_entry {
    enum artifact_kind kind;
    /* Canonical signature: "stake(uint256,address,uint256,uint256,uint256,bytes32)";
     * the constructor's is "constructor(...)"; "" for fallback/receive. */
    char signature[ARTIFACT_SIG_MAX];
    uint8_t hash[32];   /* keccak256(signature): selector = hash[0..4), topic0 = hash */
    int anonymous;      /* events */
    uint32_t indexed;   /* events: bit i set when parameter i is indexed (a topic) */
    int payable;        /* functions, constructor */
    int view;           /* functions: view or pure */
};

/* One library placeholder in a code. */
struct artifact_link {
    char source[ARTIFACT_NAME_MAX];   /* "MerklePatriciaProof.sol" */
    char library[ARTIFACT_NAME_MAX];  /* "MerklePatriciaProof" */
    size_t offset;                    /* of the 20-byte address in the code */
};

/* A loaded artifact; owns its arrays (artifact_free). */
struct artifact {
    char name[ARTIFACT_NAME_MAX];
    uint8_t *code;                    /* creation code, zeros at the placeholders */
    size_t code_len;
    uint8_t *runtime;                 /* deployed code, zeros at the placeholders */
    size_t runtime_len;
    struct artifact_link *links;      /* of the creation code */
    size_t n_links;
    struct artifact_link *runtime_links;
    size_t n_runtime_links;
    struct artifact_entry *entries;   /* in ABI order */
    size_t n_entries;
};

/* A library's deployed address, for linking.  `name` is the library name
 * ("MerklePatriciaProof") or "<source>:<library>" (borrowed). */
struct artifact_lib {
    const char *name;
    uint8_t address[20];
};

/* Loads the artifact file at `path` (at most ARTIFACT_MAX_FILE bytes).
 * Out: *a (release with artifact_free(), also after a failure).  Returns
 * MR_OK, MR_ERR_IO (unreadable), MR_ERR_TOOBIG, MR_ERR_JSON (malformed or
 * inconsistent artifact), MR_ERR_NOMEM. */
int artifact_load(const char *path, struct artifact *a, struct mr_error *err);

/* The same from text[len]; `what` names it in messages (a file name). */
int artifact_parse(const char *text, size_t len, const char *what, struct artifact *a,
                   struct mr_error *err);

/* Frees what *a owns and zeroes it.  NULL-safe. */
void artifact_free(struct artifact *a);

/* The first entry of `kind` named `name` (the signature up to '('), or the
 * constructor when kind is ARTIFACT_CONSTRUCTOR (name ignored).  Borrowed
 * from *a; NULL if there is none. */
const struct artifact_entry *artifact_find(const struct artifact *a, enum artifact_kind kind,
                                           const char *name);

/* The entry whose signature is exactly `signature` (canonical), or NULL. */
const struct artifact_entry *artifact_find_signature(const struct artifact *a,
                                                     const char *signature);

/* Links the creation code (runtime == 0) or the deployed code (runtime !=
 * 0): every placeholder gets the address of its library from libs[n_libs]
 * (extra libraries are ignored).  Out: *out (malloc'd, caller frees),
 * *out_len.  MR_ERR_NOTFOUND names the first library that is not given. */
int artifact_link(const struct artifact *a, int runtime, const struct artifact_lib *libs,
                  size_t n_libs, uint8_t **out, size_t *out_len, struct mr_error *err);

/* Deployment data: the linked creation code followed by args[n_args]
 * ABI-encoded as the constructor's parameters (none without a
 * constructor).  Out: *out (malloc'd, caller frees), *out_len.  Errors as
 * artifact_link, and MR_ERR_ABI / MR_ERR_RANGE when the arguments do not
 * match the constructor. */
int artifact_deploy_data(const struct artifact *a, const struct artifact_lib *libs,
                         size_t n_libs, const struct abi_value *args, size_t n_args,
                         uint8_t **out, size_t *out_len, struct mr_error *err);

/* Whether onchain[onchain_len] (eth_getCode of a deployed contract) is a's
 * deployed code linked with libs[n_libs]: the same length, and the same
 * bytes except inside runs of at least ARTIFACT_FILL_RUN zero bytes of the
 * linked code.  Deployment writes into such runs and the artifact does not
 * say where: immutables (32-byte PUSH32 words) and a library's own address
 * (its 20-byte call guard).  A shorter zero run (a STOP, a PUSH1 0) must
 * match.  Out: *match (1 or 0).  Returns MR_OK or the codes of
 * artifact_link(). */
#define ARTIFACT_FILL_RUN 20
int artifact_runtime_matches(const struct artifact *a, const struct artifact_lib *libs,
                             size_t n_libs, const uint8_t *onchain, size_t onchain_len,
                             int *match, struct mr_error *err);

#endif /* MR_ARTIFACT_H */
