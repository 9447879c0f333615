/*
 * watch_config.h - the watcher's settings for one chain, taken from the
 * relayer's config (watchers/ cannot include relayer/ headers, so the
 * daemon fills struct watcher_config through this).
 */
#ifndef MR_WATCH_CONFIG_H
#define MR_WATCH_CONFIG_H

#include <stddef.h>

#include "eth/error.h"
#include "relayer/config.h"
#include "watchers/watcher.h"

/* Fills *out for chain `chain` (an index into cfg->chains): its key, chain
 * id, endpoints, finality policy, poll interval and start block, the
 * database URL, and every gateway pair with a side on that chain (that
 * side's gateway and anchor; the remote chain is the other side's).  The
 * tuning fields and hooks stay 0 (the defaults).  MR_ERR_NOTFOUND when no
 * pair has a side on the chain (nothing to watch there). */
int watch_config_from(const struct config *cfg, size_t chain, struct watcher_config *out,
                      struct mr_error *err);

#endif /* MR_WATCH_CONFIG_H */
