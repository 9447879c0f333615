/*
 * sysrand.c - getrandom(2) in a loop (see sysrand.h).
 */
#include "relayer/sysrand.h"

#include <errno.h>
#include <sys/random.h>

#include "eth/error.h"

int sys_random(void *buf, size_t len)
{
    unsigned char *p = buf;

    while (len > 0) {
        ssize_t n = getrandom(p, len, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return MR_ERR_IO;
        }
        p += n;
        len -= (size_t)n;
    }
    return MR_OK;
}
