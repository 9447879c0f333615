/*
 * config_pending.c - stand-ins for config_load()/config_free() until the
 * configuration reader lands (weak symbols: the real ones in config.c win
 * at link time).  Delete this file once config.c defines them.
 */
#include <stdlib.h>

#include "relayer/config.h"

__attribute__((weak)) int config_load(const char *path, struct config **out,
                                      struct mr_error *err)
{
    *out = NULL;
    return mr_fail(err, MR_ERR_INVALID, "%s: this build cannot read config files yet", path);
}

__attribute__((weak)) void config_free(struct config *c)
{
    free(c);
}
