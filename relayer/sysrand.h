/*
 * sysrand.h - the operating system's CSPRNG (getrandom(2)).
 */
#ifndef MR_SYSRAND_H
#define MR_SYSRAND_H

#include <stddef.h>

/* Fills buf[len] with random bytes.  Returns MR_OK or MR_ERR_IO. */
int sys_random(void *buf, size_t len);

#endif /* MR_SYSRAND_H */
