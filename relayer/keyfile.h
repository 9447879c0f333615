/*
 * keyfile.h - Web3 Secret Storage v3 files: JSON <-> struct keystore_params,
 * file permissions, password files, atomic creation.
 *
 * The JSON is read strictly (a missing field, a wrong type or bad hex is an
 * error naming the file and the field, e.g. "k.json: crypto.kdfparams.n is
 * missing"):
 *   - the file is at most KEYFILE_MAX_SIZE bytes, checked before parsing;
 *     duplicate keys are refused;
 *   - "version" is the integer 3;
 *   - "crypto" (or "Crypto", which geth also accepts; not both) holds
 *     "cipher": "aes-128-ctr", "cipherparams": {"iv": 16 bytes},
 *     "ciphertext": 32 bytes (a secp256k1 private key), "mac": 32 bytes,
 *     "kdf": "scrypt" with kdfparams {n, r, p, dklen, salt} or "pbkdf2" with
 *     {c, dklen, prf: "hmac-sha256", salt}; numbers are non-negative JSON
 *     integers; salt is 1..64 bytes;
 *   - byte fields are hex with an even number of digits, either case; geth
 *     writes them without "0x", and we accept an optional "0x" prefix too
 *     (ethers does); we write them without it;
 *   - "address" is optional and untrusted: 40 hex digits, optional "0x",
 *     mixed case must be a valid EIP-55 checksum; keyfile_unlock() checks
 *     it against the decrypted key;
 *   - "id" is optional, a string of at most 64 characters;
 *   - other members are ignored (e.g. the "version": 1 some tools put inside
 *     "crypto").
 * The KDF parameters' policy bounds (struct keystore_limits) are applied when
 * unlocking, not when parsing.
 *
 * Files holding secrets must not be accessible by group or others and must
 * belong to the current user; the refusal says how to fix it (chmod 600).
 */
#ifndef MR_KEYFILE_H
#define MR_KEYFILE_H

#include <stddef.h>
#include <stdint.h>

#include <secp256k1.h>

#include "eth/address.h"
#include "eth/error.h"
#include "eth/keystore.h"

#define KEYFILE_MAX_SIZE (64 * 1024) /* bytes; real keystores are < 1 KiB */
#define KEYFILE_PASSWORD_MAX 1024    /* bytes in a password file, newline included */
#define KEYFILE_ID_MAX 64
#define KEYFILE_KEY_LEN 32

/* scrypt settings for new files: RELIABILITY.md §6.3 (geth's standard). */
#define KEYFILE_SCRYPT_N 262144
#define KEYFILE_SCRYPT_R 8
#define KEYFILE_SCRYPT_P 1
/* Light setting for tests only: 4 MiB and a few milliseconds. */
#define KEYFILE_LIGHT_SCRYPT_N 4096

/* A parsed keystore file.  Plain values; holds nothing secret (the key is
 * encrypted) and nothing to free. */
struct keyfile {
    struct keystore_params ks;
    int has_address;                /* the file had an "address" field */
    uint8_t address[ADDRESS_LEN];   /* ...untrusted until keyfile_unlock() */
    char id[KEYFILE_ID_MAX + 1];    /* "" if absent */
};

/* Parses the keystore JSON text[len] (need not be NUL-terminated); `name`
 * (a path, or any label) prefixes every error detail.  Out: *kf, zeroed on
 * failure.  Returns MR_OK; MR_ERR_TOOBIG (len > KEYFILE_MAX_SIZE);
 * MR_ERR_JSON (syntax, a missing member, a wrong type); MR_ERR_HEX;
 * MR_ERR_INVALID (version, cipher, a wrong byte length, a bad address);
 * MR_ERR_KDF (unknown kdf or prf, salt length). */
int keyfile_parse(const char *text, size_t len, const char *name, struct keyfile *kf,
                  struct mr_error *err);

/* Opens `path`, checks it with keyfile_check_fd() (a regular file), reads at
 * most KEYFILE_MAX_SIZE bytes and parses them.  Out: *kf.  Returns the codes
 * of keyfile_parse(), MR_ERR_IO or MR_ERR_PERM. */
int keyfile_load(const char *path, struct keyfile *kf, struct mr_error *err);

/* Checks the open file fd (named `path` in messages): a regular file (or,
 * when allow_fifo, a pipe such as bash's <(...)), owned by the effective
 * user, with no permission bits for group or others.  Returns MR_OK,
 * MR_ERR_PERM (the detail says "chmod 600 PATH") or MR_ERR_IO. */
int keyfile_check_fd(int fd, const char *path, int allow_fifo, struct mr_error *err);

/* Reads a password file: checked like a key file (a pipe is allowed), at
 * most KEYFILE_PASSWORD_MAX bytes, then one trailing line ending ("\n" or
 * "\r\n") is removed; the rest, other newlines included, is the password.
 * Out: buf[cap] (the caller's, to wipe), *len.  The password is never
 * copied elsewhere.  Returns MR_OK, MR_ERR_IO, MR_ERR_PERM or MR_ERR_TOOBIG
 * (the file does not fit in cap or KEYFILE_PASSWORD_MAX). */
int keyfile_read_password(const char *path, char *buf, size_t cap, size_t *len,
                          struct mr_error *err);

/* Decrypts kf with pw[pwlen] under the limits lim, checks that the result is
 * a valid secp256k1 private key and, if kf has an address field, that the
 * key's address equals it (a changed iv, which the MAC does not cover, or a
 * swapped key is caught here).  Out: sk[32] (the caller wipes it), addr[20].
 * Returns MR_OK; MR_ERR_MAC (wrong password or tampered); MR_ERR_KEY (not a
 * valid key, or the address does not match); the codes of
 * keystore_decrypt().  Nothing is written to sk unless MR_OK. */
int keyfile_unlock(const secp256k1_context *ctx, const struct keyfile *kf,
                   const struct keystore_limits *lim, const uint8_t *pw, size_t pwlen,
                   uint8_t sk[KEYFILE_KEY_LEN], uint8_t addr[ADDRESS_LEN], struct mr_error *err);

/* Builds a keystore for the private key sk[32] under pw[pwlen] with scrypt
 * (scrypt_n, r = 8, p = 1, dklen 32), a random 32-byte salt, random iv, a
 * random UUID v4 id (randomness from sys_random()) and the key's address.
 * Out: *kf.  Returns MR_OK, MR_ERR_KEY, MR_ERR_IO (no randomness), or the
 * codes of keystore_encrypt() (scrypt_n outside the default limits). */
int keyfile_create(const secp256k1_context *ctx, const uint8_t sk[KEYFILE_KEY_LEN],
                   const uint8_t *pw, size_t pwlen, uint64_t scrypt_n, struct keyfile *kf,
                   struct mr_error *err);

/* The JSON text of kf (geth's layout, members sorted, 2-space indent, no
 * trailing newline).  Returns a new malloc'd string (caller frees) or NULL if
 * out of memory or kf holds a value JSON cannot carry. */
char *keyfile_format(const struct keyfile *kf);

/* Writes kf to a new file `path`: to a temporary file in the same directory
 * created with mode 0600, fsync'd, then hard-linked to `path` (link(2)
 * fails if `path` exists, so an existing file is never replaced, which
 * rename(2) would do) and the temporary name removed; the directory is
 * fsync'd.  Returns MR_OK or MR_ERR_IO ("... already exists") or
 * MR_ERR_NOMEM; on failure no file is left behind. */
int keyfile_write_new(const char *path, const struct keyfile *kf, struct mr_error *err);

#endif /* MR_KEYFILE_H */
