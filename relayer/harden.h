/*
 * harden.h - what the relayer process does to itself before it reads a key.
 */
#ifndef MR_HARDEN_H
#define MR_HARDEN_H

#include "eth/error.h"

/* Makes the process refuse to leave its memory behind, for `run` to call
 * first thing (before any keystore is decrypted):
 *   - RLIMIT_CORE 0, soft and hard: no core file, and it cannot be raised
 *     again (deploy/mosaic-relayer.service also sets LimitCORE=0);
 *   - prctl(PR_SET_DUMPABLE, 0): no core through a core_pattern pipe
 *     either, no ptrace attach and no /proc/PID/mem by other processes of
 *     the same user;
 *   - umask 077: files it creates (state, temporary files) are owner-only.
 * Returns MR_OK, or MR_ERR_IO naming the call that failed (the caller
 * should refuse to start). */
int proc_harden(struct mr_error *err);

#endif /* MR_HARDEN_H */
