/*
 * artifact.c - loading, linking and deployment data of compiled contracts
 * (see artifact.h).
 */
#include "artifact.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "eth/hex.h"
#include "eth/keccak.h"
#include "relayer/cli.h"

/* Placeholder of a library address in solc's hex output. */
#define PLACEHOLDER_HEX 40
#define ABI_TYPE_DEPTH 8 /* nesting of tuple components in the ABI JSON */

/* Parsing context: names the artifact in every message. */
struct actx {
    const char *what;
    struct mr_error *err;
};

static int afail(const struct actx *c, const char *fmt, ...) MR_PRINTF(2, 3);

static int afail(const struct actx *c, const char *fmt, ...)
{
    char msg[200];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return mr_fail(c->err, MR_ERR_JSON, "%s: %s", c->what, msg);
}

/* A string member of obj, at most max - 1 bytes.  Missing: *out = NULL
 * when optional, else an error. */
static int get_string(const struct actx *c, json_t *obj, const char *key, const char *where,
                      int optional, size_t max, const char **out)
{
    json_t *v = json_object_get(obj, key);

    *out = NULL;
    if (v == NULL) {
        if (optional)
            return MR_OK;
        return afail(c, "%s.%s: missing", where, key);
    }
    if (!json_is_string(v))
        return afail(c, "%s.%s: not a string", where, key);
    if (json_string_length(v) >= max)
        return afail(c, "%s.%s: longer than %zu characters", where, key, max - 1);
    if (strlen(json_string_value(v)) != json_string_length(v))
        return afail(c, "%s.%s: contains a NUL", where, key);
    *out = json_string_value(v);
    return MR_OK;
}

/* ---- signatures ---- */

struct sigbuf {
    char *s;
    size_t len, cap;
    int overflow;
};

static void sb_put(struct sigbuf *b, const char *s, size_t n)
{
    if (b->len + n >= b->cap) {
        b->overflow = 1;
        return;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

static int put_params(const struct actx *c, json_t *params, const char *where, int depth,
                      struct sigbuf *b);

/* Appends the canonical type of one ABI parameter object: its "type", with
 * "tuple" replaced by the parenthesised components. */
static int put_type(const struct actx *c, json_t *param, const char *where, int depth,
                    struct sigbuf *b)
{
    const char *type;
    char sub[160];
    int rc;

    if (!json_is_object(param))
        return afail(c, "%s: not an object", where);
    if ((rc = get_string(c, param, "type", where, 0, 128, &type)) != MR_OK)
        return rc;
    if (strncmp(type, "tuple", 5) != 0) {
        sb_put(b, type, strlen(type));
        return MR_OK;
    }
    if (depth >= ABI_TYPE_DEPTH)
        return afail(c, "%s: tuples nested deeper than %d", where, ABI_TYPE_DEPTH);
    if (snprintf(sub, sizeof(sub), "%s.components", where) >= (int)sizeof(sub))
        return afail(c, "%s: nested too deep", where);
    sb_put(b, "(", 1);
    if ((rc = put_params(c, json_object_get(param, "components"), sub, depth + 1, b)) != MR_OK)
        return rc;
    sb_put(b, ")", 1);
    sb_put(b, type + 5, strlen(type + 5)); /* array suffixes */
    return MR_OK;
}

/* Appends "t1,t2,..." for an array of parameter objects. */
static int put_params(const struct actx *c, json_t *params, const char *where, int depth,
                      struct sigbuf *b)
{
    char sub[160];
    size_t i;
    json_t *p;
    int rc;

    if (!json_is_array(params))
        return afail(c, "%s: not an array", where);
    json_array_foreach(params, i, p) {
        if (snprintf(sub, sizeof(sub), "%s[%zu]", where, i) >= (int)sizeof(sub))
            return afail(c, "%s: nested too deep", where);
        if (i > 0)
            sb_put(b, ",", 1);
        if ((rc = put_type(c, p, sub, depth, b)) != MR_OK)
            return rc;
    }
    return MR_OK;
}

/* Builds e->signature from name and inputs, checks it with the ABI parser
 * (every type must be a valid ABI type) and hashes it. */
static int entry_signature(const struct actx *c, json_t *item, const char *where,
                           const char *name, struct artifact_entry *e)
{
    struct sigbuf b = {e->signature, 0, sizeof(e->signature), 0};
    char canon[ARTIFACT_SIG_MAX], sub[96];
    struct mr_error aerr;
    size_t clen;
    int rc;

    e->signature[0] = '\0';
    sb_put(&b, name, strlen(name));
    sb_put(&b, "(", 1);
    snprintf(sub, sizeof(sub), "%s.inputs", where);
    if ((rc = put_params(c, json_object_get(item, "inputs"), sub, 0, &b)) != MR_OK)
        return rc;
    sb_put(&b, ")", 1);
    if (b.overflow)
        return afail(c, "%s: signature longer than %d characters", where, ARTIFACT_SIG_MAX - 1);
    if (abi_canonical_signature(e->signature, b.len, canon, sizeof(canon), &clen, &aerr) != MR_OK)
        return afail(c, "%s: %s: %s", where, e->signature, aerr.msg);
    if (strcmp(canon, e->signature) != 0)
        return afail(c, "%s: %s is not canonical (%s)", where, e->signature, canon);
    keccak256(e->signature, b.len, e->hash);
    return MR_OK;
}

static int parse_kind(const struct actx *c, const char *type, const char *where,
                      enum artifact_kind *kind)
{
    static const struct {
        const char *name;
        enum artifact_kind kind;
    } kinds[] = {{"function", ARTIFACT_FUNCTION},     {"event", ARTIFACT_EVENT},
                 {"constructor", ARTIFACT_CONSTRUCTOR}, {"error", ARTIFACT_ERROR},
                 {"fallback", ARTIFACT_FALLBACK},     {"receive", ARTIFACT_FALLBACK}};

    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        if (strcmp(type, kinds[i].name) == 0) {
            *kind = kinds[i].kind;
            return MR_OK;
        }
    }
    return afail(c, "%s.type: unknown entry type \"%s\"", where, type);
}

/* Sets e->indexed from the "indexed" flags of an event's inputs. */
static int parse_indexed(const struct actx *c, json_t *item, const char *where,
                         struct artifact_entry *e)
{
    json_t *inputs = json_object_get(item, "inputs"), *p;
    size_t i;

    if (!json_is_array(inputs))
        return afail(c, "%s.inputs: not an array", where);
    json_array_foreach(inputs, i, p) {
        if (!json_is_true(json_object_get(p, "indexed")))
            continue;
        if (i >= 32)
            return afail(c, "%s.inputs[%zu]: an indexed parameter past the 32nd", where, i);
        e->indexed |= (uint32_t)1 << i;
    }
    return MR_OK;
}

static int parse_entry(const struct actx *c, json_t *item, size_t idx, struct artifact_entry *e)
{
    const char *type = NULL, *name = NULL, *mut = NULL;
    char where[32];
    int rc;

    snprintf(where, sizeof(where), "abi[%zu]", idx);
    if (!json_is_object(item))
        return afail(c, "%s: not an object", where);
    if ((rc = get_string(c, item, "type", where, 1, 32, &type)) != MR_OK)
        return rc;
    /* solc omits "type" for functions in old ABIs. */
    if ((rc = parse_kind(c, type != NULL ? type : "function", where, &e->kind)) != MR_OK)
        return rc;
    if ((rc = get_string(c, item, "stateMutability", where, 1, 32, &mut)) != MR_OK)
        return rc;
    e->payable = mut != NULL && strcmp(mut, "payable") == 0;
    e->view = mut != NULL && (strcmp(mut, "view") == 0 || strcmp(mut, "pure") == 0);
    e->anonymous = json_is_true(json_object_get(item, "anonymous"));
    if (e->kind == ARTIFACT_FALLBACK)
        return MR_OK;
    if (e->kind == ARTIFACT_EVENT && (rc = parse_indexed(c, item, where, e)) != MR_OK)
        return rc;
    if (e->kind == ARTIFACT_CONSTRUCTOR)
        name = "constructor";
    else if ((rc = get_string(c, item, "name", where, 0, ARTIFACT_NAME_MAX, &name)) != MR_OK)
        return rc;
    return entry_signature(c, item, where, name, e);
}

static int parse_abi(const struct actx *c, json_t *abi, struct artifact *a)
{
    size_t i, n;
    json_t *item;
    int rc;

    if (!json_is_array(abi))
        return afail(c, "abi: missing or not an array");
    n = json_array_size(abi);
    if (n > ARTIFACT_MAX_ENTRIES)
        return afail(c, "abi: %zu entries exceed %d", n, ARTIFACT_MAX_ENTRIES);
    if (n == 0)
        return MR_OK;
    a->entries = calloc(n, sizeof(*a->entries));
    if (a->entries == NULL)
        return mr_fail(c->err, MR_ERR_NOMEM, "%s: out of memory", c->what);
    json_array_foreach(abi, i, item) {
        if ((rc = parse_entry(c, item, i, &a->entries[i])) != MR_OK)
            return rc;
        a->n_entries = i + 1;
    }
    return MR_OK;
}

/* ---- code and link references ---- */

/* Appends the references of one link-reference object ({source: {library:
 * [{start, length}]}}) to *links, checking each against code_len. */
static int parse_links(const struct actx *c, json_t *refs, const char *member, size_t code_len,
                       struct artifact_link **links, size_t *n_links)
{
    const char *source, *library;
    json_t *libs, *list, *r;
    size_t i;

    if (refs == NULL)
        return MR_OK;
    if (!json_is_object(refs))
        return afail(c, "%s: not an object", member);
    json_object_foreach(refs, source, libs) {
        if (!json_is_object(libs))
            return afail(c, "%s.%s: not an object", member, source);
        json_object_foreach(libs, library, list) {
            if (strlen(source) >= ARTIFACT_NAME_MAX || strlen(library) >= ARTIFACT_NAME_MAX)
                return afail(c, "%s: a source or library name is too long", member);
            if (!json_is_array(list))
                return afail(c, "%s.%s.%s: not an array", member, source, library);
            json_array_foreach(list, i, r) {
                json_t *start = json_object_get(r, "start"), *length = json_object_get(r, "length");
                struct artifact_link *l;

                if (!json_is_integer(start) || !json_is_integer(length) ||
                    json_integer_value(length) != 20 || json_integer_value(start) < 0 ||
                    (size_t)json_integer_value(start) + 20 > code_len)
                    return afail(c, "%s.%s.%s[%zu]: need {start, length 20} inside the code",
                                 member, source, library, i);
                if (*n_links == ARTIFACT_MAX_LINKS)
                    return afail(c, "%s: more than %d link references", member, ARTIFACT_MAX_LINKS);
                l = &(*links)[(*n_links)++];
                snprintf(l->source, sizeof(l->source), "%s", source);
                snprintf(l->library, sizeof(l->library), "%s", library);
                l->offset = (size_t)json_integer_value(start);
            }
        }
    }
    return MR_OK;
}

/* Checks that the 40 characters at hex are the placeholder of link l. */
static int check_placeholder(const struct actx *c, const char *member, const char *hex,
                             const struct artifact_link *l)
{
    char fq[2 * ARTIFACT_NAME_MAX + 2], want[PLACEHOLDER_HEX + 1];
    uint8_t h[32];
    int n = snprintf(fq, sizeof(fq), "%s:%s", l->source, l->library);

    keccak256(fq, (size_t)n, h);
    memcpy(want, "__$", 3);
    for (int i = 0; i < 17; i++)
        snprintf(want + 3 + 2 * i, 3, "%02x", h[i]);
    memcpy(want + 37, "$__", 4);
    if (memcmp(hex, want, PLACEHOLDER_HEX) != 0)
        return afail(c, "%s: offset %zu does not hold the placeholder of %s", member, l->offset,
                     fq);
    return MR_OK;
}

/* Decodes the code member (hex with library placeholders).  Out: *code,
 * *len, *links / *n_links (allocated here). */
static int parse_code(const struct actx *c, json_t *root, const char *member,
                      const char *refs_member, uint8_t **code, size_t *len,
                      struct artifact_link **links, size_t *n_links)
{
    const char *hex;
    size_t hlen, n;
    char *copy;
    struct mr_error herr;
    int rc;

    if ((rc = get_string(c, root, member, "artifact", 0, 4 * ARTIFACT_MAX_CODE, &hex)) != MR_OK)
        return rc;
    hlen = strlen(hex);
    if (hlen < 2 || hex[0] != '0' || hex[1] != 'x' || hlen % 2 != 0)
        return afail(c, "%s: not 0x-prefixed hex of even length", member);
    n = (hlen - 2) / 2;
    if (n > ARTIFACT_MAX_CODE)
        return afail(c, "%s: %zu bytes exceed %d", member, n, ARTIFACT_MAX_CODE);
    *links = calloc(ARTIFACT_MAX_LINKS, sizeof(**links));
    copy = malloc(hlen + 1);
    *code = malloc(n > 0 ? n : 1);
    if (*links == NULL || copy == NULL || *code == NULL) {
        free(copy);
        return mr_fail(c->err, MR_ERR_NOMEM, "%s: out of memory", c->what);
    }
    rc = parse_links(c, json_object_get(root, refs_member), refs_member, n, links, n_links);
    memcpy(copy, hex, hlen + 1);
    /* Each placeholder must be where a reference says; it becomes zeros. */
    for (size_t i = 0; rc == MR_OK && i < *n_links; i++) {
        char *at = copy + 2 + 2 * (*links)[i].offset;

        if ((rc = check_placeholder(c, member, at, &(*links)[i])) == MR_OK)
            memset(at, '0', PLACEHOLDER_HEX);
    }
    if (rc == MR_OK && hex_decode_data(copy, hlen, *code, n > 0 ? n : 1, len, &herr) != MR_OK)
        rc = afail(c, "%s: %s%s", member, herr.msg,
                   strchr(copy, '_') != NULL ? " (a library placeholder without a link reference)"
                                             : "");
    free(copy);
    return rc;
}

/* ---- load ---- */

int artifact_parse(const char *text, size_t len, const char *what, struct artifact *a,
                   struct mr_error *err)
{
    struct actx c = {what, err};
    json_error_t jerr;
    const char *name;
    json_t *root;
    int rc;

    memset(a, 0, sizeof(*a));
    if (len > ARTIFACT_MAX_FILE)
        return mr_fail(err, MR_ERR_TOOBIG, "%s: larger than %u bytes", what, ARTIFACT_MAX_FILE);
    root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL)
        return mr_fail(err, MR_ERR_JSON, "%s:%d:%d: %s", what, jerr.line, jerr.column, jerr.text);
    if (!json_is_object(root))
        rc = afail(&c, "not a JSON object");
    else
        rc = get_string(&c, root, "contractName", "artifact", 0, ARTIFACT_NAME_MAX, &name);
    if (rc == MR_OK)
        snprintf(a->name, sizeof(a->name), "%s", name);
    if (rc == MR_OK)
        rc = parse_code(&c, root, "bytecode", "linkReferences", &a->code, &a->code_len, &a->links,
                        &a->n_links);
    if (rc == MR_OK)
        rc = parse_code(&c, root, "deployedBytecode", "deployedLinkReferences", &a->runtime,
                        &a->runtime_len, &a->runtime_links, &a->n_runtime_links);
    if (rc == MR_OK)
        rc = parse_abi(&c, json_object_get(root, "abi"), a);
    json_decref(root);
    /* Messages quote names and types from the file: one line, printable. */
    if (rc != MR_OK && err != NULL)
        for (char *p = err->msg; *p != '\0'; p++)
            if ((unsigned char)*p < 0x20 || *p == 0x7f)
                *p = '?';
    return rc;
}

int artifact_load(const char *path, struct artifact *a, struct mr_error *err)
{
    const char *base = strrchr(path, '/');
    char *text = NULL;
    size_t len = 0;
    int rc;

    memset(a, 0, sizeof(*a));
    if ((rc = cli_read_file(path, ARTIFACT_MAX_FILE, &text, &len, err)) != MR_OK)
        return rc;
    rc = artifact_parse(text, len, base != NULL ? base + 1 : path, a, err);
    free(text);
    return rc;
}

void artifact_free(struct artifact *a)
{
    if (a == NULL)
        return;
    free(a->code);
    free(a->runtime);
    free(a->links);
    free(a->runtime_links);
    free(a->entries);
    memset(a, 0, sizeof(*a));
}

/* ---- lookups ---- */

const struct artifact_entry *artifact_find(const struct artifact *a, enum artifact_kind kind,
                                           const char *name)
{
    size_t n = name != NULL ? strlen(name) : 0;

    for (size_t i = 0; i < a->n_entries; i++) {
        const struct artifact_entry *e = &a->entries[i];

        if (e->kind != kind)
            continue;
        if (kind == ARTIFACT_CONSTRUCTOR)
            return e;
        if (name != NULL && strncmp(e->signature, name, n) == 0 && e->signature[n] == '(')
            return e;
    }
    return NULL;
}

const struct artifact_entry *artifact_find_signature(const struct artifact *a,
                                                     const char *signature)
{
    for (size_t i = 0; i < a->n_entries; i++) {
        if (strcmp(a->entries[i].signature, signature) == 0)
            return &a->entries[i];
    }
    return NULL;
}

/* ---- linking and deployment ---- */

static const struct artifact_lib *find_lib(const struct artifact_link *l,
                                           const struct artifact_lib *libs, size_t n_libs)
{
    size_t sl = strlen(l->source);

    for (size_t i = 0; i < n_libs; i++) {
        const char *nm = libs[i].name;

        if (strcmp(nm, l->library) == 0)
            return &libs[i];
        if (strncmp(nm, l->source, sl) == 0 && nm[sl] == ':' &&
            strcmp(nm + sl + 1, l->library) == 0)
            return &libs[i];
    }
    return NULL;
}

int artifact_link(const struct artifact *a, int runtime, const struct artifact_lib *libs,
                  size_t n_libs, uint8_t **out, size_t *out_len, struct mr_error *err)
{
    const uint8_t *code = runtime ? a->runtime : a->code;
    size_t len = runtime ? a->runtime_len : a->code_len;
    const struct artifact_link *links = runtime ? a->runtime_links : a->links;
    size_t n_links = runtime ? a->n_runtime_links : a->n_links;
    uint8_t *buf;

    *out = NULL;
    *out_len = 0;
    if (code == NULL || len == 0)
        return mr_fail(err, MR_ERR_INVALID, "%s: no %s code (an interface or abstract contract?)",
                       a->name, runtime ? "deployed" : "creation");
    buf = malloc(len);
    if (buf == NULL)
        return mr_fail(err, MR_ERR_NOMEM, "%s: out of memory", a->name);
    memcpy(buf, code, len);
    for (size_t i = 0; i < n_links; i++) {
        const struct artifact_lib *lib = find_lib(&links[i], libs, n_libs);

        if (lib == NULL) {
            free(buf);
            return mr_fail(err, MR_ERR_NOTFOUND,
                           "%s: library %s (%s) is not linked: no address given", a->name,
                           links[i].library, links[i].source);
        }
        memcpy(buf + links[i].offset, lib->address, 20);
    }
    *out = buf;
    *out_len = len;
    return MR_OK;
}

int artifact_deploy_data(const struct artifact *a, const struct artifact_lib *libs,
                         size_t n_libs, const struct abi_value *args, size_t n_args,
                         uint8_t **out, size_t *out_len, struct mr_error *err)
{
    const struct artifact_entry *ctor = artifact_find(a, ARTIFACT_CONSTRUCTOR, NULL);
    struct abi_type nodes[ABI_SIG_MAX_NODES];
    struct abi_value tuple = abi_v_list(args, n_args);
    struct abi_sig sig;
    uint8_t *code, *buf;
    size_t code_len, enc_len = 0;
    int rc;

    *out = NULL;
    *out_len = 0;
    if (ctor == NULL && n_args != 0)
        return mr_fail(err, MR_ERR_ABI, "%s: no constructor, but %zu argument(s) given", a->name,
                       n_args);
    if (ctor != NULL) {
        rc = abi_parse_signature(ctor->signature, strlen(ctor->signature), nodes,
                                 ABI_SIG_MAX_NODES, NULL, &sig, err);
        if (rc == MR_OK)
            rc = abi_encode(sig.params, &tuple, NULL, 0, &enc_len, err);
        if (rc != MR_OK && rc != MR_ERR_TOOBIG)
            return mr_error_prefix(err, rc, "%s %s: ", a->name, ctor->signature);
    }
    if ((rc = artifact_link(a, 0, libs, n_libs, &code, &code_len, err)) != MR_OK)
        return rc;
    buf = realloc(code, code_len + enc_len + 1);
    if (buf == NULL) {
        free(code);
        return mr_fail(err, MR_ERR_NOMEM, "%s: out of memory", a->name);
    }
    if (ctor != NULL &&
        (rc = abi_encode(sig.params, &tuple, buf + code_len, enc_len, &enc_len, err)) != MR_OK) {
        free(buf);
        return mr_error_prefix(err, rc, "%s %s: ", a->name, ctor->signature);
    }
    *out = buf;
    *out_len = code_len + enc_len;
    return MR_OK;
}

/* Whether got[len] equals want[len] outside want's zero runs of at least
 * ARTIFACT_FILL_RUN bytes. */
static int same_but_fills(const uint8_t *want, const uint8_t *got, size_t len)
{
    size_t i = 0;

    while (i < len) {
        size_t run = 0;

        while (i + run < len && want[i + run] == 0)
            run++;
        if (run >= ARTIFACT_FILL_RUN) {
            i += run;
            continue;
        }
        for (size_t end = i + run + 1; i < end && i < len; i++)
            if (want[i] != got[i])
                return 0;
    }
    return 1;
}

int artifact_runtime_matches(const struct artifact *a, const struct artifact_lib *libs,
                             size_t n_libs, const uint8_t *onchain, size_t onchain_len,
                             int *match, struct mr_error *err)
{
    uint8_t *want;
    size_t len;
    int rc;

    *match = 0;
    if ((rc = artifact_link(a, 1, libs, n_libs, &want, &len, err)) != MR_OK)
        return rc;
    *match = len == onchain_len && same_but_fills(want, onchain, len);
    free(want);
    return MR_OK;
}
