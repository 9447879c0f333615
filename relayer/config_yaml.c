/*
 * config_yaml.c - the configuration walker: loads the YAML document and
 * matches mappings against the schema tables (see config_int.h).
 *
 * The document is walked only where a table leads, so the work is bounded
 * by the tables and the collection caps whatever the input holds (aliases,
 * even self-referencing ones, cannot make it loop).
 */
#include "relayer/config_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- loading ---- */

/* libyaml's reader errors carry an offset rather than a mark. */
static int syntax_line(const yaml_parser_t *p, const char *text, size_t len)
{
    int line = 1;

    if (p->error != YAML_READER_ERROR)
        return (int)p->problem_mark.line + 1;
    for (size_t i = 0; i < len && i < p->problem_offset; i++)
        line += text[i] == '\n';
    return line;
}

static int syntax_fail(const yaml_parser_t *p, const char *name, const char *text, size_t len,
                       struct mr_error *err)
{
    return mr_fail(err, MR_ERR_INVALID, "%s:%d: (syntax): %s%s%s; expected well-formed YAML",
                   name, syntax_line(p, text, len), p->problem ? p->problem : "YAML error",
                   p->context ? " " : "", p->context ? p->context : "");
}

/* After the first document: the stream must end. */
static int expect_end(yaml_parser_t *p, const char *name, const char *text, size_t len,
                      struct mr_error *err)
{
    yaml_document_t extra;
    yaml_node_t *root;
    int rc = MR_OK;

    if (!yaml_parser_load(p, &extra))
        return syntax_fail(p, name, text, len, err);
    root = yaml_document_get_root_node(&extra);
    if (root != NULL)
        rc = mr_fail(err, MR_ERR_INVALID, "%s:%d: (file): a second YAML document; expected one "
                     "document", name, (int)extra.start_mark.line + 1);
    yaml_document_delete(&extra);
    return rc;
}

int cfg_load_doc(const char *name, const char *text, size_t len, yaml_document_t *doc,
                 struct mr_error *err)
{
    yaml_parser_t p;
    int rc = MR_OK;

    if (len > CONFIG_MAX_BYTES)
        return mr_fail(err, MR_ERR_TOOBIG, "%s:1: (file): %zu bytes; expected at most %d bytes",
                       name, len, CONFIG_MAX_BYTES);
    if (!yaml_parser_initialize(&p))
        return mr_fail(err, MR_ERR_NOMEM, "%s: cannot start the YAML parser", name);
    yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
    if (!yaml_parser_load(&p, doc)) {
        rc = syntax_fail(&p, name, text, len, err);
        yaml_parser_delete(&p);
        return rc;
    }
    if (yaml_document_get_root_node(doc) == NULL)
        rc = mr_fail(err, MR_ERR_INVALID, "%s:1: (file): empty; expected a mapping with "
                     "database, chains and the other sections", name);
    else
        rc = expect_end(&p, name, text, len, err);
    yaml_parser_delete(&p);
    if (rc != MR_OK)
        yaml_document_delete(doc);
    return rc;
}

/* ---- messages and the key path ---- */

/* Shortens the part of `what` before "; expected" so that the whole line
 * fits in `room` bytes and what is expected stays readable. */
static void fit(char *what, size_t room)
{
    char *exp = strstr(what, "; expected ");
    size_t len = strlen(what), cut;

    if (len < room || exp == NULL || (size_t)(exp - what) < 8)
        return;
    cut = len - room + 1 + 3;            /* bytes to drop, "..." added */
    if (cut > (size_t)(exp - what) - 4)
        cut = (size_t)(exp - what) - 4;
    memmove(exp - cut + 3, exp, strlen(exp) + 1);
    memcpy(exp - cut, "...", 3);
}

int cfg_fail(struct cfg_ctx *x, int code, int line, const char *fmt, ...)
{
    char what[2 * MR_ERROR_MSG_LEN + CONFIG_PATH_LEN], head[MR_ERROR_MSG_LEN];
    va_list ap;
    int n;

    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    n = snprintf(head, sizeof(head), "%s:%d: %s: ", x->name, line > 0 ? line : 1,
                 x->kp_len > 0 ? x->kp : "(top)");
    if (n > 0 && (size_t)n < MR_ERROR_MSG_LEN)
        fit(what, MR_ERROR_MSG_LEN - (size_t)n);
    return mr_fail(x->err, code, "%s%s", head, what);
}

/* Keys are user text: anything but a plain word is shown as '?'. */
size_t cfg_push_key(struct cfg_ctx *x, const char *key)
{
    size_t old = x->kp_len, n = x->kp_len, i;

    if (n > 0 && n + 1 < sizeof(x->kp))
        x->kp[n++] = '.';
    for (i = 0; key[i] != '\0' && i < 40 && n + 1 < sizeof(x->kp); i++) {
        char ch = key[i];
        int plain = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                    (ch >= '0' && ch <= '9') || ch == '_' || ch == '-' || ch == '<';
        x->kp[n++] = plain ? ch : '?';
    }
    if (key[i] != '\0' && n + 3 < sizeof(x->kp)) {
        memcpy(x->kp + n, "...", 3);
        n += 3;
    }
    x->kp[n] = '\0';
    x->kp_len = n;
    return old;
}

size_t cfg_push_index(struct cfg_ctx *x, size_t i)
{
    size_t old = x->kp_len;
    int w = snprintf(x->kp + old, sizeof(x->kp) - old, "[%zu]", i);

    if (w > 0 && (size_t)w < sizeof(x->kp) - old)
        x->kp_len += (size_t)w;
    x->kp[x->kp_len] = '\0';
    return old;
}

void cfg_pop(struct cfg_ctx *x, size_t len)
{
    x->kp_len = len;
    x->kp[len] = '\0';
}

const char *cfg_echo(const struct cfg_ctx *x, const char *value)
{
    size_t n = strlen(value);

    if (x->from_env || n == 0 || n > 32)
        return "(value not shown)";
    for (size_t i = 0; i < n; i++) {
        char ch = value[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '_' || ch == '-' || ch == '.'))
            return "(value not shown)";
    }
    return value;
}

/* ---- nodes ---- */

int cfg_line(const yaml_node_t *n)
{
    return n != NULL ? (int)n->start_mark.line + 1 : 0;
}

static int scalar_is(const yaml_node_t *n, const char *s)
{
    size_t len = strlen(s);

    return n != NULL && n->type == YAML_SCALAR_NODE && n->data.scalar.length == len &&
           memcmp(n->data.scalar.value, s, len) == 0;
}

yaml_node_t *cfg_lookup(yaml_document_t *doc, yaml_node_t *map, const char *key)
{
    if (map == NULL || map->type != YAML_MAPPING_NODE)
        return NULL;
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        if (scalar_is(yaml_document_get_node(doc, p->key), key))
            return yaml_document_get_node(doc, p->value);
    }
    return NULL;
}

int cfg_line_of(struct cfg_ctx *x, yaml_node_t *map, const char *key, int fallback)
{
    yaml_node_t *v = cfg_lookup(x->doc, map, key);

    if (v != NULL)
        return cfg_line(v);
    return map != NULL ? cfg_line(map) : fallback;
}

/* ---- scalars and ${VAR} ---- */

static int put(char *out, size_t cap, size_t *o, const char *src, size_t n)
{
    if (*o + n >= cap)
        return -1;
    memcpy(out + *o, src, n);
    *o += n;
    return 0;
}

static int is_env_char(char ch, int first)
{
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || ch == '_' ||
           (!first && ch >= '0' && ch <= '9');
}

/* s[*i] is the '$' of "${NAME}" or "${NAME:-default}".  Appends the value
 * and moves *i past the '}'. */
static int expand_ref(struct cfg_ctx *x, int line, const char *s, size_t len, size_t *i,
                      char *out, size_t cap, size_t *o)
{
    size_t j = *i + 2, start = j, k, dstart = 0;
    char var[64];
    const char *v;

    while (j < len && is_env_char(s[j], j == start))
        j++;
    if (j == start || j - start >= sizeof(var) || j >= len || (s[j] != '}' && s[j] != ':'))
        return cfg_fail(x, MR_ERR_INVALID, line, "a malformed ${...}; expected ${NAME} or "
                        "${NAME:-default} with NAME of letters, digits and _");
    if (s[j] == ':' && (j + 1 >= len || s[j + 1] != '-'))
        return cfg_fail(x, MR_ERR_INVALID, line, "a malformed ${...}; expected ${NAME:-default}");
    if (s[j] == ':')
        dstart = j + 2;
    for (k = j; k < len && s[k] != '}'; k++)
        ;
    if (k >= len)
        return cfg_fail(x, MR_ERR_INVALID, line, "an unterminated ${; expected ${NAME}");
    memcpy(var, s + start, j - start);
    var[j - start] = '\0';
    v = getenv(var);
    if (v != NULL && (v[0] != '\0' || dstart == 0)) {
        x->from_env = 1;
        if (put(out, cap, o, v, strlen(v)) != 0)
            return cfg_fail(x, MR_ERR_TOOBIG, line, "the value of $%s is too long; expected at "
                            "most %zu characters", var, cap - 1);
    } else if (dstart != 0) {
        if (put(out, cap, o, s + dstart, k - dstart) != 0)
            return cfg_fail(x, MR_ERR_TOOBIG, line, "too long; expected at most %zu characters",
                            cap - 1);
    } else {
        return cfg_fail(x, MR_ERR_INVALID, line, "environment variable %s is not set; expected "
                        "it set, or a default: ${%s:-VALUE}", var, var);
    }
    *i = k + 1;
    return MR_OK;
}

int cfg_scalar(struct cfg_ctx *x, const yaml_node_t *n, char *out, size_t cap)
{
    const char *s = (const char *)n->data.scalar.value;
    size_t len = n->data.scalar.length, i = 0, o = 0;
    int line = cfg_line(n), rc;

    x->from_env = 0;
    if (memchr(s, '\0', len) != NULL)
        return cfg_fail(x, MR_ERR_INVALID, line, "holds a NUL character; expected text");
    while (i < len) {
        if (s[i] == '$' && i + 1 < len && s[i + 1] == '{') {
            if ((rc = expand_ref(x, line, s, len, &i, out, cap, &o)) != MR_OK)
                return rc;
            continue;
        }
        if (put(out, cap, &o, s + i, 1) != 0)
            return cfg_fail(x, MR_ERR_TOOBIG, line, "too long; expected at most %zu characters",
                            cap - 1);
        i += s[i] == '$' && i + 1 < len && s[i + 1] == '$' ? 2 : 1;
    }
    out[o] = '\0';
    return MR_OK;
}

/* ---- keys of a mapping ---- */

static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b), prev[65], cur[65];

    if (la > 64 || lb > 64)
        return 99;
    for (size_t j = 0; j <= lb; j++)
        prev[j] = j;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t sub = prev[j - 1] + (a[i - 1] != b[j - 1]), del = prev[j] + 1,
                   ins = cur[j - 1] + 1;
            cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
        memcpy(prev, cur, sizeof(prev));
    }
    return prev[lb];
}

static const struct cfg_field *schema_field(const struct cfg_schema *s, const char *key)
{
    for (size_t i = 0; i < s->n_fields; i++)
        if (strcmp(s->fields[i].key, key) == 0)
            return &s->fields[i];
    return NULL;
}

static int looks_secret(const char *key)
{
    static const char *const words[] = {"password", "passwd", "passphrase", "private",
                                        "secret", "mnemonic", "seed", "token_key"};
    char low[64];
    size_t i;

    for (i = 0; key[i] != '\0' && i + 1 < sizeof(low); i++)
        low[i] = (char)(key[i] >= 'A' && key[i] <= 'Z' ? key[i] + 32 : key[i]);
    low[i] = '\0';
    for (i = 0; i < sizeof(words) / sizeof(words[0]); i++)
        if (strstr(low, words[i]) != NULL)
            return 1;
    return 0;
}

static int unknown_key(struct cfg_ctx *x, const struct cfg_schema *s, const char *key, int line)
{
    char list[160] = "";
    const char *best = NULL;
    size_t best_d = 99, n = 0;
    int close;

    for (size_t i = 0; i < s->n_fields; i++) {
        size_t d = edit_distance(key, s->fields[i].key);
        if (d < best_d) {
            best_d = d;
            best = s->fields[i].key;
        }
        if (n < sizeof(list))
            n += (size_t)snprintf(list + n, sizeof(list) - n, "%s%s", i ? ", " : "",
                                  s->fields[i].key);
    }
    close = best != NULL && (best_d <= 2 || best_d * 3 <= strlen(key));
    if (!close && looks_secret(key))
        return cfg_fail(x, MR_ERR_INVALID, line, "an inline secret is refused (its value is not "
                        "shown); expected password_file: PATH (mode 0600) or password_env: VAR "
                        "(for the database: url_env: VAR)");
    if (strcmp(key, "<<") == 0)
        return cfg_fail(x, MR_ERR_INVALID, line, "YAML merge keys are not supported; expected "
                        "the keys written out (anchors and aliases work)");
    if (close)
        return cfg_fail(x, MR_ERR_INVALID, line, "unknown key (did you mean '%s'?); expected "
                        "one of %s", best, list);
    return cfg_fail(x, MR_ERR_INVALID, line, "unknown key; expected one of %s", list);
}

/* 0: not a duplicate; else the line of the first one. */
static int first_line_of(yaml_document_t *doc, yaml_node_pair_t *start, yaml_node_pair_t *p)
{
    yaml_node_t *k = yaml_document_get_node(doc, p->key);

    for (yaml_node_pair_t *q = start; q < p; q++) {
        yaml_node_t *kq = yaml_document_get_node(doc, q->key);
        if (kq->type == YAML_SCALAR_NODE && kq->data.scalar.length == k->data.scalar.length &&
            memcmp(kq->data.scalar.value, k->data.scalar.value, k->data.scalar.length) == 0)
            return cfg_line(kq);
    }
    return 0;
}

/* Every key must be text, known and given once.  Stops at the first bad
 * one, so the quadratic duplicate scan sees at most n_fields + 1 keys. */
static int check_keys(struct cfg_ctx *x, const struct cfg_schema *s, yaml_node_t *map)
{
    yaml_node_pair_t *start = map->data.mapping.pairs.start;

    for (yaml_node_pair_t *p = start; p < map->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(x->doc, p->key);
        const char *key;
        int first, rc = MR_OK;
        size_t kl;

        if (k->type != YAML_SCALAR_NODE ||
            memchr(k->data.scalar.value, '\0', k->data.scalar.length) != NULL)
            return cfg_fail(x, MR_ERR_INVALID, cfg_line(k), "a key that is not plain text; "
                            "expected a key name");
        key = (const char *)k->data.scalar.value;
        kl = cfg_push_key(x, key);
        if ((first = first_line_of(x->doc, start, p)) != 0)
            rc = cfg_fail(x, MR_ERR_INVALID, cfg_line(k), "duplicate key (first at line %d); "
                          "expected each key once", first);
        else if (schema_field(s, key) == NULL)
            rc = unknown_key(x, s, key, cfg_line(k));
        cfg_pop(x, kl);
        if (rc != MR_OK)
            return rc;
    }
    return MR_OK;
}

/* ---- sections ---- */

int cfg_is_null(const yaml_node_t *n)
{
    return n->type == YAML_SCALAR_NODE && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
           (n->data.scalar.length == 0 || scalar_is(n, "~") || scalar_is(n, "null") ||
            scalar_is(n, "Null") || scalar_is(n, "NULL"));
}

static int is_given(struct cfg_ctx *x, yaml_node_t *map, const char *key)
{
    yaml_node_t *v = cfg_lookup(x->doc, map, key);

    return v != NULL && !cfg_is_null(v);
}

static int check_oneof(struct cfg_ctx *x, const struct cfg_oneof *o, yaml_node_t *map, int line)
{
    for (; o != NULL && o->a != NULL; o++) {
        int a = is_given(x, map, o->a), b = is_given(x, map, o->b);
        if (a && b)
            return cfg_fail(x, MR_ERR_INVALID, cfg_line_of(x, map, o->b, line), "both %s and %s "
                            "are given; expected only one of them", o->a, o->b);
        if (!a && !b && o->required)
            return cfg_fail(x, MR_ERR_INVALID, line, "neither %s nor %s is given; expected one "
                            "of them", o->a, o->b);
    }
    return MR_OK;
}

int cfg_section(struct cfg_ctx *x, const struct cfg_schema *s, yaml_node_t *map, int line,
                void *base, size_t index)
{
    int rc;

    if (map != NULL && (rc = check_keys(x, s, map)) != MR_OK)
        return rc;
    for (size_t i = 0; i < s->n_fields; i++) {
        const struct cfg_field *f = &s->fields[i];
        size_t kl = cfg_push_key(x, f->key);
        rc = cfg_field_read(x, f, cfg_lookup(x->doc, map, f->key), line, base);
        cfg_pop(x, kl);
        if (rc != MR_OK)
            return rc;
    }
    if (x->defaults_only)
        return MR_OK;
    if ((rc = check_oneof(x, s->oneof, map, line)) != MR_OK)
        return rc;
    return s->check != NULL ? s->check(x, base, map, index) : MR_OK;
}

/* ---- collections ---- */

static int name_ok(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n >= CONFIG_KEY_LEN || s[0] < 'a' || s[0] > 'z')
        return 0;
    for (size_t i = 1; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_' ||
              s[i] == '-'))
            return 0;
    return 1;
}

static int count_ok(struct cfg_ctx *x, const struct cfg_field *f, size_t n, int line,
                    int max_line)
{
    if ((int64_t)n < f->min)
        return cfg_fail(x, MR_ERR_INVALID, line, "empty; expected at least %lld entr%s",
                        (long long)f->min, f->min == 1 ? "y" : "ies");
    if ((int64_t)n > f->max)
        return cfg_fail(x, MR_ERR_RANGE, max_line, "more than %lld entries; expected at most "
                        "%lld", (long long)f->max, (long long)f->max);
    return MR_OK;
}

/* One name -> mapping entry of a named map. */
static int named_item(struct cfg_ctx *x, const struct cfg_coll *co, yaml_node_pair_t *p,
                      char *array, size_t i)
{
    yaml_node_t *k = yaml_document_get_node(x->doc, p->key);
    yaml_node_t *v = yaml_document_get_node(x->doc, p->value);
    char *item = array + i * co->stride;
    const char *name = k->type == YAML_SCALAR_NODE ? (const char *)k->data.scalar.value : "";
    int line = cfg_line(k);

    x->from_env = 0;
    if (k->type != YAML_SCALAR_NODE || memchr(name, '\0', k->data.scalar.length) != NULL ||
        !name_ok(name))
        return cfg_fail(x, MR_ERR_INVALID, line, "'%s' is not a valid name; expected a "
                        "lower-case letter, then up to 31 of a-z, 0-9, _ and -",
                        k->type == YAML_SCALAR_NODE ? cfg_echo(x, name) : "(not text)");
    for (size_t j = 0; j < i; j++) {
        const char *other = array + j * co->stride;
        if (strcmp(other + co->name_off, name) == 0)
            return cfg_fail(x, MR_ERR_INVALID, line, "duplicate name (first at line %d); "
                            "expected each name once", *(const int *)(other + co->line_off));
    }
    memcpy(item + co->name_off, name, strlen(name) + 1);
    memcpy(item + co->line_off, &line, sizeof(line));
    if (v->type != YAML_MAPPING_NODE)
        return cfg_fail(x, MR_ERR_INVALID, cfg_line(v), "not a mapping; expected a mapping of "
                        "its settings");
    return cfg_section(x, co->item, v, line, item, i);
}

int cfg_read_named_map(struct cfg_ctx *x, const struct cfg_field *f, yaml_node_t *n, void *base)
{
    const struct cfg_coll *co = f->more;
    yaml_node_pair_t *start = n->data.mapping.pairs.start;
    size_t count = (size_t)(n->data.mapping.pairs.top - start), *out;
    int rc, max_line = count > 0 ? cfg_line(yaml_document_get_node(x->doc, start[0].key)) : 0;

    if ((int64_t)count > f->max)
        max_line = cfg_line(yaml_document_get_node(x->doc, start[f->max].key));
    if ((rc = count_ok(x, f, count, cfg_line(n), max_line)) != MR_OK)
        return rc;
    out = (size_t *)(void *)((char *)base + co->count_off);
    for (size_t i = 0; i < count; i++) {
        yaml_node_t *k = yaml_document_get_node(x->doc, start[i].key);
        size_t kl = cfg_push_key(x, k->type == YAML_SCALAR_NODE ? (const char *)k->data.scalar.value
                                                                : "?");
        rc = named_item(x, co, &start[i], (char *)base + f->off, i);
        cfg_pop(x, kl);
        if (rc != MR_OK)
            return rc;
        *out = i + 1;
    }
    return MR_OK;
}

int cfg_read_list(struct cfg_ctx *x, const struct cfg_field *f, yaml_node_t *n, void *base)
{
    const struct cfg_coll *co = f->more;
    yaml_node_item_t *start = n->data.sequence.items.start;
    size_t count = (size_t)(n->data.sequence.items.top - start), *out;
    int rc, max_line = 0;

    if ((int64_t)count > f->max)
        max_line = cfg_line(yaml_document_get_node(x->doc, start[f->max]));
    if ((rc = count_ok(x, f, count, cfg_line(n), max_line)) != MR_OK)
        return rc;
    out = (size_t *)(void *)((char *)base + co->count_off);
    for (size_t i = 0; i < count; i++) {
        yaml_node_t *v = yaml_document_get_node(x->doc, start[i]);
        char *item = (char *)base + f->off + i * co->stride;
        int line = cfg_line(v);
        size_t kl = cfg_push_index(x, i);
        memcpy(item + co->line_off, &line, sizeof(line));
        rc = v->type == YAML_MAPPING_NODE
                 ? cfg_section(x, co->item, v, line, item, i)
                 : cfg_fail(x, MR_ERR_INVALID, line, "not a mapping; expected a mapping of its "
                            "settings");
        cfg_pop(x, kl);
        if (rc != MR_OK)
            return rc;
        *out = i + 1;
    }
    return MR_OK;
}
