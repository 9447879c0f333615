/*
 * signer.h - the relayer's signing key: one process per key.
 *
 * A signer is unlocked from a v3 keystore and a password file (both must
 * be private to the service user: mode 0600 or stricter; the refusal says
 * how to fix it) or a password in an environment variable, holds the private key in locked memory, and holds a
 * Postgres session advisory lock named after the key's address for as long
 * as it lives, so that a second process with the same key is refused with
 * a message naming the holder (RELIABILITY.md invariant 4, row 13).  Before
 * each signature it makes sure the lock is still held (a Postgres restart
 * drops session locks): if it cannot hold it again, it refuses to sign.
 * Every signature is checked by recovering its sender and chain id
 * (RELIABILITY.md §6.2).  The key, the password and signed transactions
 * never reach a message.
 */
#ifndef MR_SIGNER_H
#define MR_SIGNER_H

#include <stdint.h>

#include "eth/address.h"
#include "eth/error.h"
#include "eth/tx.h"

struct signer;

/* Opens the key.  `conninfo` is the database the lock lives in (a
 * dedicated connection is opened and owned by the signer).  Also disables
 * core dumps for the process.  Out: *out (close with signer_close).
 * Returns MR_OK; MR_ERR_PERM (a file readable by others, or the key is in
 * use by another process); MR_ERR_MAC (wrong password); the codes of
 * keyfile_load/keyfile_unlock; MR_ERR_IO (no database). */
int signer_open(const char *keystore_path, const char *password_path, const char *conninfo,
                struct signer **out, struct mr_error *err);

/* signer_open(), but a key in use is tried again every 200 ms for up to
 * wait_ms before MR_ERR_PERM: the daemon starting right after a previous
 * process of its own stopped or was killed, whose database session (and so
 * its lock) the server has not ended yet. */
int signer_open_wait(const char *keystore_path, const char *password_path, const char *conninfo,
                     long wait_ms, struct signer **out, struct mr_error *err);

/* The same with the password in the environment variable `password_env`
 * (config key password_env).  The password is copied into a buffer that is
 * wiped before this returns; the variable itself is left for the caller to
 * wipe with signer_wipe_env() once it has opened every key that uses it
 * (several keys may share one variable).  Neither the value nor its length
 * reaches a message.  Returns the codes of signer_open(), with
 * MR_ERR_NOTFOUND (the variable is not set) and MR_ERR_TOOBIG (longer than
 * KEYFILE_PASSWORD_MAX bytes) in place of the password file's. */
int signer_open_env(const char *keystore_path, const char *password_env, const char *conninfo,
                    struct signer **out, struct mr_error *err);

/* Overwrites the value of the environment variable `var` in place with
 * zeros and removes the variable (a no-op if it is not set).  Copies made
 * before (a parent shell, another process) are out of reach. */
void signer_wipe_env(const char *var);

/* Wipes the key, releases the lock, frees. */
void signer_close(struct signer *s);

/* The key's address (borrowed from s). */
const uint8_t *signer_address(const struct signer *s);

/* Signs *tx (its chain id must be `chain_id`) in place, then recovers the
 * sender from the signature and checks it is this key and this chain.
 * Returns MR_OK; MR_ERR_TX (wrong chain id); MR_ERR_PERM (the per-key lock
 * is lost and cannot be held again); MR_ERR_SIGNATURE (the check failed). */
int signer_sign_tx(struct signer *s, struct tx *tx, uint64_t chain_id, struct mr_error *err);

/* The advisory lock key of an address (exposed for tests and operators). */
int64_t signer_lock_key(const uint8_t addr[ADDRESS_LEN]);

#endif /* MR_SIGNER_H */
