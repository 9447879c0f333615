/*
 * config.h - reading the relayer's YAML configuration (libyaml).
 *
 * For now this reads what the database commands need: the database URL
 * (`database: { url: ... }`).  The full declarative config table comes with
 * the daemon.  Errors name file:line.
 */
#ifndef MR_CONFIG_H
#define MR_CONFIG_H

#include <stddef.h>

#include "eth/error.h"

/* Largest config file accepted. */
#define CONFIG_MAX_BYTES (1024 * 1024)

/* Reads `database.url` from the YAML file at `path` into out[cap].
 * Returns MR_OK, MR_ERR_NOTFOUND when the file has no database.url, or an
 * error naming path:line (syntax, a non-scalar url, a file too big). */
int config_database_url(const char *path, char *out, size_t cap, struct mr_error *err);

#endif /* MR_CONFIG_H */
