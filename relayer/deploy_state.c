/*
 * deploy_state.c - the deployment's state file and the run config it
 * writes (see deploy_state.h).
 */
#include "relayer/deploy_state.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "eth/address.h"
#include "eth/hex.h"
#include "relayer/cli.h"
#include "relayer/config_int.h"
#include "relayer/sysrand.h"

#define DSTATE_FORMAT "mosaic-relayer deploy state"

/* ---- reading ---- */

/* A string member that must fit `cap` (with its NUL); optional members
 * absent give "". */
static int get_str(json_t *o, const char *key, int required, char *out, size_t cap,
                   const char *where, struct mr_error *err)
{
    json_t *v = json_object_get(o, key);

    out[0] = '\0';
    if (v == NULL && !required)
        return MR_OK;
    if (!json_is_string(v))
        return mr_fail(err, MR_ERR_JSON, "%s: \"%s\" must be a string", where, key);
    if (json_string_length(v) >= cap || strlen(json_string_value(v)) != json_string_length(v))
        return mr_fail(err, MR_ERR_INVALID, "%s: \"%s\" is too long", where, key);
    memcpy(out, json_string_value(v), json_string_length(v) + 1);
    return MR_OK;
}

static int get_u64(json_t *o, const char *key, int required, uint64_t *out, const char *where,
                   struct mr_error *err)
{
    json_t *v = json_object_get(o, key);

    *out = 0;
    if (v == NULL && !required)
        return MR_OK;
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return mr_fail(err, MR_ERR_JSON, "%s: \"%s\" must be a non-negative integer", where, key);
    *out = (uint64_t)json_integer_value(v);
    return MR_OK;
}

/* A fixed-size hex member; *has says whether it was present. */
static int get_fixed(json_t *o, const char *key, uint8_t *out, size_t n, int *has,
                     const char *where, struct mr_error *err)
{
    json_t *v = json_object_get(o, key);
    const char *s;

    *has = 0;
    if (v == NULL)
        return MR_OK;
    s = json_string_value(v);
    if (s == NULL || hex_decode_fixed(s, strlen(s), out, n, NULL) != MR_OK)
        return mr_fail(err, MR_ERR_INVALID, "%s: \"%s\" must be 0x and %zu hex digits", where, key,
                       2 * n);
    *has = 1;
    return MR_OK;
}

static int parse_entry(json_t *o, const char *where, struct dstate_entry *e, struct mr_error *err)
{
    int rc;

    memset(e, 0, sizeof(*e));
    if (!json_is_object(o))
        return mr_fail(err, MR_ERR_JSON, "%s: not an object", where);
    rc = get_str(o, "name", 1, e->name, sizeof(e->name), where, err);
    if (rc == MR_OK)
        rc = get_str(o, "chain", 1, e->chain, sizeof(e->chain), where, err);
    if (rc == MR_OK)
        rc = get_u64(o, "chain_id", 1, &e->chain_id, where, err);
    if (rc == MR_OK)
        rc = get_str(o, "contract", 0, e->contract, sizeof(e->contract), where, err);
    if (rc == MR_OK)
        rc = get_fixed(o, "address", e->address, 20, &e->has_address, where, err);
    if (rc == MR_OK)
        rc = get_fixed(o, "tx", e->tx, 32, &e->has_tx, where, err);
    if (rc == MR_OK)
        rc = get_u64(o, "block", 0, &e->block, where, err);
    if (rc == MR_OK)
        rc = get_u64(o, "gas_used", 0, &e->gas_used, where, err);
    if (rc == MR_OK)
        rc = get_fixed(o, "seed_root", e->seed_root, 32, &e->has_seed, where, err);
    if (rc == MR_OK && e->has_seed)
        rc = get_u64(o, "seed_height", 1, &e->seed_height, where, err);
    if (rc == MR_OK && e->name[0] == '\0')
        rc = mr_fail(err, MR_ERR_INVALID, "%s: empty name", where);
    return rc;
}

int dstate_load(const char *path, struct dstate *s, struct mr_error *err)
{
    char *text = NULL, where[DSTATE_NAME_LEN + 64];
    size_t len = 0, i;
    json_error_t je;
    json_t *root, *steps, *v;
    int rc;

    memset(s, 0, sizeof(*s));
    rc = cli_read_file(path, DSTATE_MAX_BYTES, &text, &len, err);
    if (rc == MR_ERR_NOTFOUND) {
        mr_error_clear(err); /* no state yet: a fresh deployment */
        return MR_OK;
    }
    if (rc != MR_OK)
        return rc;
    root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    free(text);
    if (root == NULL)
        return mr_fail(err, MR_ERR_JSON, "%s:%d: %s", path, je.line, je.text);
    v = json_object_get(root, "format");
    steps = json_object_get(root, "steps");
    if (!json_is_string(v) || strcmp(json_string_value(v), DSTATE_FORMAT) != 0 ||
        !json_is_integer(json_object_get(root, "version")) ||
        json_integer_value(json_object_get(root, "version")) != 1 || !json_is_array(steps)) {
        json_decref(root);
        return mr_fail(err, MR_ERR_INVALID, "%s: not a deploy state file (version 1)", path);
    }
    if (json_array_size(steps) > DSTATE_MAX_STEPS) {
        json_decref(root);
        return mr_fail(err, MR_ERR_TOOBIG, "%s: more than %d steps", path, DSTATE_MAX_STEPS);
    }
    v = json_object_get(root, "deployment");
    if (!json_is_string(v) || json_string_length(v) != DSTATE_ID_LEN - 1 ||
        strspn(json_string_value(v), "0123456789abcdef") != DSTATE_ID_LEN - 1) {
        json_decref(root);
        return mr_fail(err, MR_ERR_INVALID, "%s: \"deployment\" must be %d hex digits", path,
                       DSTATE_ID_LEN - 1);
    }
    memcpy(s->id, json_string_value(v), DSTATE_ID_LEN);
    json_array_foreach(steps, i, v) {
        struct dstate_entry e;
        snprintf(where, sizeof(where), "%s: steps[%zu]", path, i);
        rc = parse_entry(v, where, &e, err);
        if (rc == MR_OK && dstate_find(s, e.name) != NULL)
            rc = mr_fail(err, MR_ERR_INVALID, "%s: step \"%s\" appears twice", where, e.name);
        if (rc == MR_OK)
            rc = dstate_put(s, &e, err);
        if (rc != MR_OK)
            break;
    }
    json_decref(root);
    if (rc != MR_OK)
        dstate_free(s);
    return rc;
}

int dstate_new_id(struct dstate *s, struct mr_error *err)
{
    uint8_t r[(DSTATE_ID_LEN - 1) / 2];
    char hx[DSTATE_ID_LEN + 2];

    if (s->id[0] != '\0')
        return MR_OK;
    if (sys_random(r, sizeof(r)) != 0)
        return mr_fail(err, MR_ERR_CRYPTO, "no random bytes for a deployment id");
    hex_encode_data(r, sizeof(r), hx, sizeof(hx));
    memcpy(s->id, hx + 2, DSTATE_ID_LEN);
    return MR_OK;
}

struct dstate_entry *dstate_find(struct dstate *s, const char *name)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->v[i].name, name) == 0)
            return &s->v[i];
    return NULL;
}

int dstate_put(struct dstate *s, const struct dstate_entry *e, struct mr_error *err)
{
    struct dstate_entry *old = dstate_find(s, e->name);

    if (old != NULL) {
        *old = *e;
        return MR_OK;
    }
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 32;
        struct dstate_entry *v = realloc(s->v, cap * sizeof(*v));
        if (v == NULL)
            return mr_fail(err, MR_ERR_NOMEM, "out of memory");
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n++] = *e;
    return MR_OK;
}

void dstate_remove(struct dstate *s, const char *name)
{
    struct dstate_entry *e = dstate_find(s, name);

    if (e != NULL) {
        size_t i = (size_t)(e - s->v);
        memmove(&s->v[i], &s->v[i + 1], (s->n - i - 1) * sizeof(*e));
        s->n--;
    }
}

void dstate_free(struct dstate *s)
{
    free(s->v);
    memset(s, 0, sizeof(*s));
}

/* ---- writing ---- */

static json_t *hex_json(const uint8_t *p, size_t n)
{
    char buf[2 * 32 + 3];

    hex_encode_data(p, n, buf, sizeof(buf));
    return json_string(buf);
}

static json_t *entry_json(const struct dstate_entry *e)
{
    json_t *o = json_object();

    if (o == NULL)
        return NULL;
    json_object_set_new(o, "name", json_string(e->name));
    json_object_set_new(o, "chain", json_string(e->chain));
    json_object_set_new(o, "chain_id", json_integer((json_int_t)e->chain_id));
    if (e->contract[0] != '\0')
        json_object_set_new(o, "contract", json_string(e->contract));
    if (e->has_address)
        json_object_set_new(o, "address", hex_json(e->address, 20));
    if (e->has_tx) {
        json_object_set_new(o, "tx", hex_json(e->tx, 32));
        json_object_set_new(o, "block", json_integer((json_int_t)e->block));
        json_object_set_new(o, "gas_used", json_integer((json_int_t)e->gas_used));
    }
    if (e->has_seed) {
        json_object_set_new(o, "seed_height", json_integer((json_int_t)e->seed_height));
        json_object_set_new(o, "seed_root", hex_json(e->seed_root, 32));
    }
    return o;
}

/* fsync of the directory holding `path`, so that a rename survives a crash. */
static int sync_dir(const char *path, struct mr_error *err)
{
    char dir[CONFIG_PATH_LEN];
    const char *slash = strrchr(path, '/');
    int fd;

    if (slash == NULL) {
        strcpy(dir, ".");
    } else if (slash == path) {
        strcpy(dir, "/");
    } else {
        size_t n = (size_t)(slash - path);
        if (n >= sizeof(dir))
            return mr_fail(err, MR_ERR_TOOBIG, "%s: path too long", path);
        memcpy(dir, path, n);
        dir[n] = '\0';
    }
    fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0)
        return mr_fail(err, MR_ERR_IO, "%s: %s", dir, strerror(errno));
    if (fsync(fd) != 0 && errno != EINVAL) {
        close(fd);
        return mr_fail(err, MR_ERR_IO, "%s: fsync: %s", dir, strerror(errno));
    }
    close(fd);
    return MR_OK;
}

int dstate_write_file(const char *path, const char *text, size_t len, unsigned mode,
                      struct mr_error *err)
{
    char tmp[CONFIG_PATH_LEN + 32];
    size_t off = 0;
    int fd, n = snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());

    if (n < 0 || (size_t)n >= sizeof(tmp))
        return mr_fail(err, MR_ERR_TOOBIG, "%s: path too long", path);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, (mode_t)mode);
    if (fd < 0)
        return mr_fail(err, MR_ERR_IO, "%s: %s", tmp, strerror(errno));
    while (off < len) {
        ssize_t w = write(fd, text + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            int e = errno;
            close(fd);
            unlink(tmp);
            return mr_fail(err, MR_ERR_IO, "%s: write: %s", tmp, strerror(e));
        }
        off += (size_t)w;
    }
    if (fsync(fd) != 0 || close(fd) != 0) {
        int e = errno;
        unlink(tmp);
        return mr_fail(err, MR_ERR_IO, "%s: fsync: %s", tmp, strerror(e));
    }
    if (rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return mr_fail(err, MR_ERR_IO, "%s: rename: %s", path, strerror(e));
    }
    return sync_dir(path, err);
}

int dstate_save(const struct dstate *s, const char *path, struct mr_error *err)
{
    json_t *root = json_object(), *steps = json_array();
    char *text;
    int rc;

    if (root == NULL || steps == NULL) {
        json_decref(root);
        json_decref(steps);
        return mr_fail(err, MR_ERR_NOMEM, "out of memory");
    }
    json_object_set_new(root, "format", json_string(DSTATE_FORMAT));
    json_object_set_new(root, "version", json_integer(1));
    json_object_set_new(root, "deployment", json_string(s->id));
    for (size_t i = 0; i < s->n; i++)
        json_array_append_new(steps, entry_json(&s->v[i]));
    json_object_set_new(root, "steps", steps);
    text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(root);
    if (text == NULL)
        return mr_fail(err, MR_ERR_NOMEM, "out of memory");
    rc = dstate_write_file(path, text, strlen(text), 0644, err);
    free(text);
    return rc;
}

/* ---- the run config ---- */

/* Grows a string buffer; MR_ERR_NOMEM on failure. */
struct sbuf {
    char *p;
    size_t len, cap;
    int bad;
};

static void sb_add(struct sbuf *b, const char *s, size_t n)
{
    if (b->bad)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        char *p;
        while (cap < b->len + n + 1)
            cap *= 2;
        p = realloc(b->p, cap);
        if (p == NULL) {
            b->bad = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void sb_printf(struct sbuf *b, const char *fmt, ...) MR_PRINTF(2, 3);
static void sb_printf(struct sbuf *b, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(tmp))
        b->bad = 1;
    else
        sb_add(b, tmp, (size_t)n);
}

static const char *addr_text(const uint8_t a[20], char out[ADDRESS_TEXT_SIZE])
{
    address_to_checksum(a, out);
    return out;
}

/* The byte offset of character `index` of text[len] (libyaml's marks count
 * characters; the text is UTF-8, as libyaml checked, after an optional BOM). */
static size_t byte_offset(const char *text, size_t len, size_t index)
{
    size_t i = len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0;

    for (; i < len; i++) {
        if (((unsigned char)text[i] & 0xC0) == 0x80)
            continue;
        if (index-- == 0)
            return i;
    }
    return len;
}

/* The start of the line holding the top-level key node k: only blanks may
 * precede it on its line.  (size_t)-1 when something else does. */
static size_t key_line_start(const char *text, size_t len, const yaml_node_t *k)
{
    size_t at = byte_offset(text, len, k->start_mark.index);

    while (at > 0 && (text[at - 1] == ' ' || text[at - 1] == '\t'))
        at--;
    if (at == 0 || text[at - 1] == '\n' || text[at - 1] == '\r' ||
        (at == 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0))
        return at;
    return (size_t)-1;
}

/* Copies src[len] without its top-level `deploy` and `gateways` sections
 * into b.  The sections are found by parsing (a flow collection may go on
 * at column 0, a key may be quoted); each is cut from the start of its
 * key's line to the start of the next top-level key's line. */
static int copy_without_deploy(struct sbuf *b, const char *src, size_t len, const char *src_path,
                               struct mr_error *err)
{
    yaml_document_t doc;
    yaml_node_t *root;
    yaml_node_pair_t *pr;
    size_t from = len >= 3 && memcmp(src, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0; /* no BOM mid-file */
    int rc;

    if (len >= 2 && ((unsigned char)src[0] == 0xFE || (unsigned char)src[0] == 0xFF))
        return mr_fail(err, MR_ERR_INVALID, "%s:1: a UTF-16 file; expected UTF-8 for the run "
                       "config", src_path);
    if ((rc = cfg_load_doc(src_path, src, len, &doc, err)) != MR_OK)
        return rc;
    root = yaml_document_get_root_node(&doc);
    if (root->type != YAML_MAPPING_NODE || root->data.mapping.style == YAML_FLOW_MAPPING_STYLE) {
        rc = mr_fail(err, MR_ERR_INVALID, "%s:%d: the top level is not a block mapping; expected "
                     "one key per line for the run config", src_path,
                     (int)root->start_mark.line + 1);
        yaml_document_delete(&doc);
        return rc;
    }
    for (pr = root->data.mapping.pairs.start; pr < root->data.mapping.pairs.top; pr++) {
        yaml_node_t *k = yaml_document_get_node(&doc, pr->key);
        const char *name = k != NULL && k->type == YAML_SCALAR_NODE
                               ? (const char *)k->data.scalar.value : NULL;
        size_t start, end;

        if (name == NULL || (strcmp(name, "deploy") != 0 && strcmp(name, "gateways") != 0))
            continue;
        start = key_line_start(src, len, k);
        end = len;
        if (pr + 1 < root->data.mapping.pairs.top)
            end = key_line_start(src, len, yaml_document_get_node(&doc, pr[1].key));
        if (start == (size_t)-1 || end == (size_t)-1 || start < from || end < start) {
            rc = mr_fail(err, MR_ERR_INVALID, "%s:%d: the top-level key %s or the one after it "
                         "does not start its line; expected it to for the run config", src_path,
                         (int)k->start_mark.line + 1, name);
            yaml_document_delete(&doc);
            return rc;
        }
        sb_add(b, src + from, start - from);
        from = end;
    }
    sb_add(b, src + from, len - from);
    yaml_document_delete(&doc);
    return MR_OK;
}

int dstate_run_config(const char *src, size_t len, const char *src_path,
                      const struct dstate_pair *pairs, size_t n, char **out, size_t *out_len,
                      struct mr_error *err)
{
    struct sbuf b = {0};
    char a1[ADDRESS_TEXT_SIZE], a2[ADDRESS_TEXT_SIZE], a3[ADDRESS_TEXT_SIZE];
    yaml_document_t doc;
    int rc;

    sb_printf(&b, "# Written by `mosaic-relayer deploy` from %s: that file without its\n"
                  "# deploy: section, and the gateways it deployed.\n",
              src_path);
    if ((rc = copy_without_deploy(&b, src, len, src_path, err)) != MR_OK) {
        free(b.p);
        return rc;
    }
    if (b.len > 0 && b.p[b.len - 1] != '\n')
        sb_add(&b, "\n", 1);
    sb_printf(&b, "gateways:\n");
    for (size_t i = 0; i < n; i++) {
        const struct dstate_pair *p = &pairs[i];
        sb_printf(&b, "  - name: %s\n", p->name);
        sb_printf(&b, "    origin: { chain: %s, gateway: \"%s\", anchor: \"%s\" }\n", p->origin_chain,
                  addr_text(p->gateway, a1), addr_text(p->origin_anchor, a2));
        sb_printf(&b, "    auxiliary: { chain: %s, cogateway: \"%s\", anchor: \"%s\" }\n",
                  p->aux_chain, addr_text(p->cogateway, a1), addr_text(p->aux_anchor, a2));
        sb_printf(&b, "    # value token %s, base token %s,\n", addr_text(p->value_token, a1),
                  addr_text(p->base_token, a2));
        sb_printf(&b, "    # utility token %s; organizations %s (%s), ", addr_text(p->utility_token, a3),
                  addr_text(p->origin_org, a1), p->origin_chain);
        sb_printf(&b, "%s (%s)\n", addr_text(p->aux_org, a2), p->aux_chain);
    }
    if (b.bad) {
        free(b.p);
        return mr_fail(err, MR_ERR_NOMEM, "out of memory");
    }
    /* What is left must still be YAML (an alias to an anchor of the deploy
     * section, say, is not). */
    if ((rc = cfg_load_doc("the run config", b.p, b.len, &doc, err)) != MR_OK) {
        free(b.p);
        return mr_error_prefix(err, rc, "%s: ", src_path);
    }
    yaml_document_delete(&doc);
    *out = b.p;
    *out_len = b.len;
    return MR_OK;
}
