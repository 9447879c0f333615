/*
 * harden.c - no core dumps, no ptrace by peers, owner-only files
 * (see harden.h).
 */
#include "relayer/harden.h"

#include <errno.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>

int proc_harden(struct mr_error *err)
{
    const struct rlimit none = {0, 0};

    if (setrlimit(RLIMIT_CORE, &none) != 0)
        return mr_fail(err, MR_ERR_IO, "harden: setrlimit(RLIMIT_CORE, 0): %s", strerror(errno));
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
        return mr_fail(err, MR_ERR_IO, "harden: prctl(PR_SET_DUMPABLE, 0): %s", strerror(errno));
    umask(077);
    return MR_OK;
}
