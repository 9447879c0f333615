/*
 * fuzz_config.c - arbitrary bytes as a configuration file, through
 * config_load_buffer() and config_database_url(), with properties:
 *   - a refusal is one line that starts with the file's name and a line
 *     number and says what was expected;
 *   - an accepted file keeps the invariants the rest of the relayer relies
 *     on (counts within their caps, references and quorum in range, roles
 *     of the gateway pairs, NUL-terminated strings).
 * Relative paths resolve into a private directory holding mode-0600 key
 * files (k.json, k.pass, keys/facilitator.*, keys/anchor.*), so that valid
 * inputs get past the keys section; $MOSAIC_DEVNET_DIR points there too.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "relayer/config.h"

static char base[64];
static int memfd = -1;

static void put(const char *name)
{
    char path[128];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", base, name);
    if ((f = fopen(path, "w")) == NULL)
        abort();
    fputs("{}\n", f);
    fclose(f);
    chmod(path, 0600);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char keys[96];

    (void)argc;
    (void)argv;
    snprintf(base, sizeof(base), "/tmp/mrfuzz.XXXXXX");
    if (mkdtemp(base) == NULL)
        abort();
    snprintf(keys, sizeof(keys), "%s/keys", base);
    mkdir(keys, 0700);
    put("k.json");
    put("k.pass");
    put("keys/facilitator.json");
    put("keys/facilitator.pass");
    put("keys/anchor.json");
    put("keys/anchor.pass");
    setenv("MOSAIC_DEVNET_DIR", base, 1);
    setenv("MOSAIC_DATABASE_URL", "host=127.0.0.1 dbname=fuzz", 1);
    memfd = memfd_create("fuzz.yaml", 0);
    return memfd < 0 ? 1 : 0;
}

static void check_message(const struct mr_error *err, const char *name)
{
    size_t n = strlen(name);

    if (err->msg[0] == '\0' || strchr(err->msg, '\n') != NULL)
        abort();
    if (err->code == MR_ERR_NOMEM)
        return;
    if (strncmp(err->msg, name, n) != 0 || err->msg[n] != ':' || err->msg[n + 1] < '1' ||
        err->msg[n + 1] > '9' || strstr(err->msg, "; expected ") == NULL)
        abort();
}

static void check_text(const char *s, size_t cap)
{
    if (memchr(s, '\0', cap) == NULL)
        abort();
}

static void check_chains(const struct config *c)
{
    if (c->n_chains < 1 || c->n_chains > CONFIG_MAX_CHAINS)
        abort();
    for (size_t i = 0; i < c->n_chains; i++) {
        const struct config_chain *ch = &c->chains[i];
        check_text(ch->key, sizeof(ch->key));
        if (ch->n_endpoints < 1 || ch->n_endpoints > CONFIG_MAX_ENDPOINTS || ch->quorum < 1 ||
            (size_t)ch->quorum > ch->n_endpoints || ch->chain_id == 0 ||
            (ch->role != CONFIG_ROLE_ORIGIN && ch->role != CONFIG_ROLE_AUXILIARY) ||
            config_chain_index(c, ch->key) != (int)i)
            abort();
        for (size_t j = 0; j < i; j++)
            if (c->chains[j].chain_id == ch->chain_id)
                abort();
    }
}

static void check_refs(const struct config *c)
{
    if (c->n_gateways > CONFIG_MAX_GATEWAYS || c->n_keys > CONFIG_MAX_KEYS)
        abort();
    for (size_t i = 0; i < c->n_gateways; i++) {
        const struct config_gateway *g = &c->gateways[i];
        if (g->origin.chain < 0 || (size_t)g->origin.chain >= c->n_chains ||
            g->auxiliary.chain < 0 || (size_t)g->auxiliary.chain >= c->n_chains ||
            c->chains[g->origin.chain].role != CONFIG_ROLE_ORIGIN ||
            c->chains[g->auxiliary.chain].role != CONFIG_ROLE_AUXILIARY)
            abort();
    }
    if (c->deploy.present) {
        if (c->deploy.deployer < 0 || (size_t)c->deploy.deployer >= c->n_keys ||
            c->deploy.admin >= (int)c->n_keys || c->deploy.n_pairs < 1 ||
            c->deploy.n_pairs > CONFIG_MAX_GATEWAYS)
            abort();
    }
    check_text(c->database_url, sizeof(c->database_url));
    if (c->database_url[0] == '\0' || c->relayer.flows == 0 || c->relayer.workers < 1)
        abort();
}

/* config_database_url() reads a path: the input goes through a memfd. */
static void database_url(const uint8_t *data, size_t size)
{
    char path[64], url[CONFIG_URL_LEN];
    struct mr_error err;
    int rc;

    if (ftruncate(memfd, 0) != 0 || pwrite(memfd, data, size, 0) != (ssize_t)size)
        abort();
    snprintf(path, sizeof(path), "/proc/self/fd/%d", memfd);
    rc = config_database_url(path, url, sizeof(url), &err);
    if (rc == MR_OK)
        check_text(url, sizeof(url));
    else if (err.msg[0] == '\0' || strchr(err.msg, '\n') != NULL)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct config *c = NULL;
    struct mr_error err;

    memset(&err, 0, sizeof(err));
    if (config_load_buffer((const char *)data, size, "fuzz.yaml", base, &c, &err) == MR_OK) {
        check_chains(c);
        check_refs(c);
        config_free(c);
    } else {
        if (c != NULL)
            abort();
        check_message(&err, "fuzz.yaml");
    }
    database_url(data, size);
    return 0;
}
