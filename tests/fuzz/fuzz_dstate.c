/*
 * fuzz_dstate.c - the deploy command's own files (relayer/deploy_state.c).
 *
 * Input: byte 0 selects, the rest is the file.
 *   even  a deploy state file through dstate_load() (read from a memfd, as
 *         from its path): a refusal is one line naming the path; a loaded
 *         state has a 16-hex-digit id, unique non-empty step names, and
 *         dstate_save() then dstate_load() gives back the same steps (block
 *         and gas_used are written with a transaction hash only);
 *   odd   a deploy configuration through dstate_run_config(): a refusal
 *         is one line naming the file, and for a file that loads as a
 *         configuration only one of the layouts the cut refuses (a
 *         top-level key not first on its line, a flow mapping at the top,
 *         an alias into the deploy section, UTF-16); the output ends with
 *         one gateways: section and - when the input loads as a
 *         configuration with deploy pairs - loads itself, with one gateway
 *         per deployed pair and no deploy section.
 * Relative key paths resolve into a private directory holding mode-0600
 * key files, as in fuzz_config.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "relayer/config.h"
#include "relayer/deploy_state.h"

static char base[64], memfd_path[64], save_path[96];
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

/* The private directory goes at exit (/dev/shm is memory). */
static void cleanup(void)
{
    char cmd[96];

    if (strncmp(base, "/dev/shm/mrfuzz.", 16) == 0 || strncmp(base, "/tmp/mrfuzz.", 12) == 0) {
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", base);
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char keys[96];

    (void)argc;
    (void)argv;
    /* /dev/shm when there is one: dstate_save() fsyncs. */
    snprintf(base, sizeof(base), "%s/mrfuzz.XXXXXX",
             access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
    if (mkdtemp(base) == NULL)
        abort();
    atexit(cleanup);
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
    memfd = memfd_create("state.json", 0);
    snprintf(memfd_path, sizeof(memfd_path), "/proc/self/fd/%d", memfd);
    snprintf(save_path, sizeof(save_path), "%s/state.json", base);
    return memfd < 0 ? 1 : 0;
}

static void check_line(const struct mr_error *err)
{
    if (err->msg[0] == '\0' || strchr(err->msg, '\n') != NULL)
        abort();
}

static void same_entry(const struct dstate_entry *a, const struct dstate_entry *b)
{
    if (strcmp(a->name, b->name) != 0 || strcmp(a->chain, b->chain) != 0 ||
        a->chain_id != b->chain_id || strcmp(a->contract, b->contract) != 0 ||
        a->has_address != b->has_address || a->has_tx != b->has_tx ||
        a->has_seed != b->has_seed)
        abort();
    if (a->has_address && memcmp(a->address, b->address, 20) != 0)
        abort();
    if (a->has_tx && (memcmp(a->tx, b->tx, 32) != 0 || a->block != b->block ||
                      a->gas_used != b->gas_used))
        abort();
    if (a->has_seed && (a->seed_height != b->seed_height || memcmp(a->seed_root, b->seed_root, 32)))
        abort();
}

static void fuzz_state(const uint8_t *data, size_t size)
{
    struct dstate s, back;
    struct mr_error err;

    if (ftruncate(memfd, 0) != 0 || pwrite(memfd, data, size, 0) != (ssize_t)size)
        abort();
    err.msg[0] = '\0';
    if (dstate_load(memfd_path, &s, &err) != MR_OK) {
        check_line(&err);
        if (strncmp(err.msg, memfd_path, strlen(memfd_path)) != 0 && strcmp(err.msg, "out of memory"))
            abort();
        if (s.v != NULL || s.n != 0)
            abort();
        return;
    }
    if (s.n > DSTATE_MAX_STEPS || (s.n > 0 && strlen(s.id) != DSTATE_ID_LEN - 1))
        abort();
    for (size_t i = 0; i < s.n; i++) {
        if (s.v[i].name[0] == '\0' || dstate_find(&s, s.v[i].name) != &s.v[i])
            abort();
        if (memchr(s.v[i].chain, '\0', sizeof(s.v[i].chain)) == NULL ||
            memchr(s.v[i].contract, '\0', sizeof(s.v[i].contract)) == NULL)
            abort();
    }
    if (size == 0) { /* an empty file is not a missing one */
        abort();
    }
    if (dstate_save(&s, save_path, &err) != MR_OK)
        abort();
    if (dstate_load(save_path, &back, &err) != MR_OK || back.n != s.n ||
        strcmp(back.id, s.id) != 0)
        abort();
    for (size_t i = 0; i < s.n; i++)
        same_entry(&s.v[i], &back.v[i]);
    dstate_free(&back);
    dstate_free(&s);
}

static void fuzz_run_config(const uint8_t *data, size_t size)
{
    struct dstate_pair pairs[CONFIG_MAX_GATEWAYS];
    const char *src = (const char *)data;
    struct config *c = NULL, *c2 = NULL;
    struct mr_error err;
    size_t n = 0, out_len = 0, gw;
    char *out = NULL;
    int rc;

    memset(pairs, 0, sizeof(pairs));
    err.msg[0] = '\0';
    if (config_load_buffer(src, size, "deploy.yaml", base, &c, &err) == MR_OK) {
        if (c->deploy.present) {
            n = c->deploy.n_pairs;
            for (size_t i = 0; i < n; i++) {
                const struct config_deploy_pair *dp = &c->deploy.pairs[i];
                struct dstate_pair *p = &pairs[i];
                p->name = dp->name;
                p->origin_chain = c->chains[dp->origin].key;
                p->aux_chain = c->chains[dp->auxiliary].key;
                p->gateway[19] = p->cogateway[19] = (uint8_t)(1 + i);
                p->origin_anchor[19] = p->aux_anchor[19] = (uint8_t)(0x40 + i);
                p->value_token[0] = p->base_token[1] = p->utility_token[2] = 1;
                p->origin_org[3] = p->aux_org[4] = 1;
            }
        }
    } else {
        c = NULL;
        /* Names as the deploy would never have them: the text must not
         * break the filter either. */
        n = 1;
        pairs[0].name = pairs[0].origin_chain = pairs[0].aux_chain = "x";
    }
    rc = dstate_run_config(src, size, "deploy.yaml", pairs, n, &out, &out_len, &err);
    if (rc != MR_OK) {
        check_line(&err);
        if (strncmp(err.msg, "deploy.yaml:", 12) != 0 || out != NULL)
            abort();
        /* A configuration that loads is refused only for the layouts the
         * cut does not handle, each said so. */
        if (c != NULL && rc != MR_ERR_TOOBIG && strstr(err.msg, "does not start its line") == NULL &&
            strstr(err.msg, "not a block mapping") == NULL &&
            strstr(err.msg, "undefined alias") == NULL && strstr(err.msg, "UTF-16") == NULL) {
            fprintf(stderr, "refused: %s\n", err.msg);
            abort();
        }
        config_free(c);
        return;
    }
    if (strlen(out) > out_len || out_len == 0 || out[out_len - 1] != '\n')
        abort();
    if (c != NULL && n > 0) {
        err.msg[0] = '\0';
        if (config_load_buffer(out, out_len, "run.yaml", base, &c2, &err) != MR_OK) {
            fprintf(stderr, "the run config does not load: %s\n%s\n", err.msg, out);
            abort();
        }
        gw = c2->n_gateways;
        if (gw != n || c2->deploy.present)
            abort();
        for (size_t i = 0; i < n; i++)
            if (strcmp(c2->gateways[i].name, pairs[i].name) != 0 ||
                c2->gateways[i].origin.gateway[19] != (uint8_t)(1 + i))
                abort();
        config_free(c2);
    }
    free(out);
    config_free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    if (data[0] % 2 == 0)
        fuzz_state(data + 1, size - 1);
    else
        fuzz_run_config(data + 1, size - 1);
    return 0;
}
