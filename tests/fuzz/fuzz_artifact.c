/*
 * fuzz_artifact.c - arbitrary bytes as a contract artifact
 * (build/contracts/<Name>.json) through artifact_parse(), then linking,
 * deployment data and the deployed-code comparison (relayer/artifact.c),
 * with properties:
 *   - a refusal names the artifact ("fuzz.json: ..."), on one line, and
 *     artifact_free() after it releases everything (LeakSanitizer);
 *   - every ABI entry's hash is keccak256 of its signature, the signature
 *     finds its (first) entry, and a named kind finds an entry of that name;
 *   - linking without libraries fails exactly when there are placeholders;
 *     linking with every library named writes each address at its offsets
 *     and leaves the rest of the code as loaded;
 *   - the linked deployed code matches itself (artifact_runtime_matches),
 *     and a copy of other length does not;
 *   - deployment data without arguments is the linked creation code when the
 *     constructor takes none, and a clean error otherwise.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eth/keccak.h"
#include "relayer/artifact.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_message(const struct mr_error *err, int rc)
{
    if (err->msg[0] == '\0' || strchr(err->msg, '\n') != NULL ||
        (rc != MR_ERR_NOMEM && strncmp(err->msg, "fuzz.json:", 10) != 0)) {
        fprintf(stderr, "refusal: %s\n", err->msg);
        abort();
    }
}

static void check_entries(const struct artifact *a)
{
    for (size_t i = 0; i < a->n_entries; i++) {
        const struct artifact_entry *e = &a->entries[i];
        const struct artifact_entry *f;
        uint8_t h[32];
        const char *paren;

        if (memchr(e->signature, '\0', sizeof(e->signature)) == NULL)
            abort();
        if (e->kind == ARTIFACT_FALLBACK) {
            if (e->signature[0] != '\0')
                abort();
            continue;
        }
        keccak256(e->signature, strlen(e->signature), h);
        if (memcmp(h, e->hash, 32) != 0)
            abort();
        f = artifact_find_signature(a, e->signature);
        if (f == NULL || f > e || strcmp(f->signature, e->signature) != 0)
            abort();
        if ((paren = strchr(e->signature, '(')) == NULL)
            abort();
        if (e->kind != ARTIFACT_CONSTRUCTOR) {
            char name[ARTIFACT_SIG_MAX];
            memcpy(name, e->signature, (size_t)(paren - e->signature));
            name[paren - e->signature] = '\0';
            f = artifact_find(a, e->kind, name);
            if (f == NULL || f > e || f->kind != e->kind)
                abort();
        } else if (artifact_find(a, ARTIFACT_CONSTRUCTOR, NULL) == NULL) {
            abort();
        }
    }
}

/* One library per placeholder, named "<source>:<library>" or "<library>";
 * address byte 0 is the index of the link + 1. */
static void check_link(const struct artifact *a, int runtime)
{
    const uint8_t *code = runtime ? a->runtime : a->code;
    size_t len = runtime ? a->runtime_len : a->code_len;
    const struct artifact_link *links = runtime ? a->runtime_links : a->links;
    size_t n = runtime ? a->n_runtime_links : a->n_links;
    static char names[ARTIFACT_MAX_LINKS][2 * ARTIFACT_NAME_MAX + 2];
    static struct artifact_lib libs[ARTIFACT_MAX_LINKS];
    uint8_t *out = NULL, *other;
    size_t out_len = 0;
    struct mr_error err;
    int rc, match;

    if (n > ARTIFACT_MAX_LINKS)
        abort();
    err.msg[0] = '\0';
    rc = artifact_link(a, runtime, NULL, 0, &out, &out_len, &err);
    if (len == 0) {
        if (rc != MR_ERR_INVALID || out != NULL)
            abort();
        return;
    }
    if ((n > 0) != (rc == MR_ERR_NOTFOUND) || (rc != MR_OK && rc != MR_ERR_NOTFOUND))
        abort();
    if (rc == MR_OK && (out_len != len || memcmp(out, code, len) != 0))
        abort();
    free(out);
    for (size_t i = 0; i < n; i++) {
        if (links[i].offset + 20 > len)
            abort();
        libs[i].name = names[i];
        if (i % 2)
            memcpy(names[i], links[i].library, strlen(links[i].library) + 1);
        else
            snprintf(names[i], sizeof(names[i]), "%s:%s", links[i].source, links[i].library);
        memset(libs[i].address, 0, 20);
        libs[i].address[0] = (uint8_t)(i + 1);
    }
    if (artifact_link(a, runtime, libs, n, &out, &out_len, &err) != MR_OK || out_len != len)
        abort();
    /* Outside the placeholders, the code is unchanged; inside, an address
     * of a library with the link's names. */
    for (size_t i = 0; i < n; i++) {
        const uint8_t *at = out + links[i].offset;
        const struct artifact_lib *lib;
        if (at[0] == 0 || at[0] > n || memcmp(at + 1, libs[0].address + 1, 19) != 0)
            abort();
        lib = &libs[at[0] - 1];
        if (strcmp(lib->name, links[i].library) != 0 &&
            (strncmp(lib->name, links[i].source, strlen(links[i].source)) != 0 ||
             strcmp(lib->name + strlen(links[i].source) + 1, links[i].library) != 0))
            abort();
    }
    other = malloc(len);
    if (other == NULL)
        abort();
    memcpy(other, code, len);
    for (size_t i = 0; i < n; i++)
        memcpy(other + links[i].offset, out + links[i].offset, 20);
    if (memcmp(other, out, len) != 0)
        abort();
    free(other);
    if (runtime) {
        if (artifact_runtime_matches(a, libs, n, out, out_len, &match, &err) != MR_OK || !match)
            abort();
        if (artifact_runtime_matches(a, libs, n, out, out_len - 1, &match, &err) != MR_OK ||
            match)
            abort();
    } else {
        const struct artifact_entry *ctor = artifact_find(a, ARTIFACT_CONSTRUCTOR, NULL);
        uint8_t *dd = NULL;
        size_t dd_len = 0;
        err.msg[0] = '\0';
        rc = artifact_deploy_data(a, libs, n, NULL, 0, &dd, &dd_len, &err);
        if (ctor == NULL || strcmp(ctor->signature, "constructor()") == 0) {
            if (rc != MR_OK || dd_len != len || memcmp(dd, out, len) != 0)
                abort();
        } else if (rc == MR_OK) {
            abort();
        } else if (dd != NULL || err.msg[0] == '\0') {
            abort();
        }
        free(dd);
    }
    free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct artifact a;
    struct mr_error err;
    int rc;

    err.msg[0] = '\0';
    rc = artifact_parse((const char *)data, size, "fuzz.json", &a, &err);
    if (rc != MR_OK) {
        check_message(&err, rc);
        artifact_free(&a);
        return 0;
    }
    if (memchr(a.name, '\0', sizeof(a.name)) == NULL || a.code_len > ARTIFACT_MAX_CODE ||
        a.runtime_len > ARTIFACT_MAX_CODE || a.n_entries > ARTIFACT_MAX_ENTRIES)
        abort();
    check_entries(&a);
    check_link(&a, 0);
    check_link(&a, 1);
    artifact_free(&a);
    return 0;
}
