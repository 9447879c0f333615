/*
 * config.c - loading the configuration file (see config.h); the walker and
 * the schema are in config_yaml.c, config_types.c and config_schema.c.
 */
#include "relayer/config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <yaml.h>

#include "relayer/config_int.h"

/* Enums are stored through int-sized copies (config_types.c). */
_Static_assert(sizeof(enum config_role) == sizeof(int), "enum config_role is an int");
_Static_assert(sizeof(enum config_log_format) == sizeof(int), "enum log format is an int");

/* Reads at most CONFIG_MAX_BYTES of `path`.  Out: *text (malloc'd,
 * NUL-terminated; caller frees), *len. */
static int read_config_file(const char *path, char **text, size_t *len, struct mr_error *err)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    size_t n;

    if (f == NULL)
        return mr_fail(err, MR_ERR_IO, "%s:1: (file): %s; expected a readable config file", path,
                       strerror(errno));
    if ((buf = malloc(CONFIG_MAX_BYTES + 2)) == NULL) {
        fclose(f);
        return mr_fail(err, MR_ERR_NOMEM, "%s: out of memory", path);
    }
    n = fread(buf, 1, CONFIG_MAX_BYTES + 1, f);
    if (ferror(f) || n > CONFIG_MAX_BYTES) {
        int big = !ferror(f), e = errno;
        fclose(f);
        free(buf);
        return big ? mr_fail(err, MR_ERR_TOOBIG, "%s:1: (file): larger than %d bytes; expected "
                             "at most %d bytes", path, CONFIG_MAX_BYTES, CONFIG_MAX_BYTES)
                   : mr_fail(err, MR_ERR_IO, "%s:1: (file): %s; expected a readable config file",
                             path, strerror(e));
    }
    fclose(f);
    buf[n] = '\0';
    *text = buf;
    *len = n;
    return MR_OK;
}

/* The absolute directory of `path` into out[cap]. */
static int dir_of(const char *path, char *out, size_t cap, struct mr_error *err)
{
    char *real = realpath(path, NULL), *slash;

    if (real == NULL)
        return mr_fail(err, MR_ERR_IO, "%s: %s", path, strerror(errno));
    slash = strrchr(real, '/');
    if (slash == real)
        slash[1] = '\0';
    else
        *slash = '\0';
    if (strlen(real) >= cap) {
        free(real);
        return mr_fail(err, MR_ERR_TOOBIG, "%s: the directory's path is too long", path);
    }
    memcpy(out, real, strlen(real) + 1);
    free(real);
    return MR_OK;
}

static int load_root(struct cfg_ctx *x)
{
    yaml_node_t *root = yaml_document_get_root_node(x->doc);

    if (root->type != YAML_MAPPING_NODE)
        return cfg_fail(x, MR_ERR_INVALID, cfg_line(root), "not a mapping; expected a mapping "
                        "with database, chains and the other sections");
    return cfg_section(x, &cfg_top_schema, root, cfg_line(root), x->c, 0);
}

static int load(const char *text, size_t len, const char *name, const char *dir,
                struct config **out, struct mr_error *err)
{
    yaml_document_t doc;
    struct cfg_ctx x;
    int rc;

    *out = NULL;
    memset(&x, 0, sizeof(x));
    if (strlen(dir) >= sizeof(x.base_dir) || strlen(name) >= sizeof(x.c->path))
        return mr_fail(err, MR_ERR_TOOBIG, "%s: the path is too long", name);
    if ((rc = cfg_load_doc(name, text, len, &doc, err)) != MR_OK)
        return rc;
    x.name = name;
    x.doc = &doc;
    x.err = err;
    memcpy(x.base_dir, dir, strlen(dir) + 1);
    if ((x.c = calloc(1, sizeof(*x.c))) == NULL) {
        yaml_document_delete(&doc);
        return mr_fail(err, MR_ERR_NOMEM, "%s: out of memory", name);
    }
    memcpy(x.c->path, name, strlen(name) + 1);
    rc = load_root(&x);
    yaml_document_delete(&doc);
    if (rc != MR_OK)
        free(x.c);
    else
        *out = x.c;
    return rc;
}

int config_load_buffer(const char *text, size_t len, const char *name, const char *base_dir,
                       struct config **out, struct mr_error *err)
{
    char cwd[CONFIG_PATH_LEN];

    *out = NULL;
    if (base_dir == NULL) {
        if (getcwd(cwd, sizeof(cwd)) == NULL)
            return mr_fail(err, MR_ERR_IO, "getcwd: %s", strerror(errno));
        base_dir = cwd;
    }
    return load(text, len, name, base_dir, out, err);
}

int config_load(const char *path, struct config **out, struct mr_error *err)
{
    char *text, dir[CONFIG_PATH_LEN];
    size_t len;
    int rc;

    *out = NULL;
    if ((rc = read_config_file(path, &text, &len, err)) != MR_OK)
        return rc;
    rc = dir_of(path, dir, sizeof(dir), err);
    if (rc == MR_OK)
        rc = load(text, len, path, dir, out, err);
    free(text);
    return rc;
}

void config_free(struct config *c)
{
    free(c);
}

int config_chain_index(const struct config *c, const char *key)
{
    for (size_t i = 0; i < c->n_chains; i++)
        if (strcmp(c->chains[i].key, key) == 0)
            return (int)i;
    return -1;
}

int config_key_index(const struct config *c, const char *name)
{
    for (size_t i = 0; i < c->n_keys; i++)
        if (strcmp(c->keys[i].name, name) == 0)
            return (int)i;
    return -1;
}

int config_gateway_index(const struct config *c, const char *name)
{
    for (size_t i = 0; i < c->n_gateways; i++)
        if (strcmp(c->gateways[i].name, name) == 0)
            return (int)i;
    return -1;
}

const char *config_role_name(enum config_role role)
{
    return role == CONFIG_ROLE_ORIGIN ? "origin" : role == CONFIG_ROLE_AUXILIARY ? "auxiliary"
                                                                                  : "(none)";
}

/* ---- database.url alone ---- */

/* Copies the scalar `key` of the database mapping (expanded) into out. */
static int database_value(struct cfg_ctx *x, yaml_node_t *db, const char *key, char *out,
                          size_t cap)
{
    yaml_node_t *v = cfg_lookup(x->doc, db, key);
    size_t kl;
    int rc;

    if (v == NULL || cfg_is_null(v))
        return MR_ERR_NOTFOUND;
    kl = cfg_push_key(x, key);
    rc = v->type == YAML_SCALAR_NODE
             ? cfg_scalar(x, v, out, cap)
             : cfg_fail(x, MR_ERR_INVALID, cfg_line(v), "not a single value; expected text");
    cfg_pop(x, kl);
    return rc;
}

static int find_database_url(struct cfg_ctx *x, char *out, size_t cap)
{
    yaml_node_t *db = cfg_lookup(x->doc, yaml_document_get_root_node(x->doc), "database");
    char var[CONFIG_KEY_LEN * 2];
    const char *v;
    int rc;

    if (db == NULL || db->type != YAML_MAPPING_NODE)
        return mr_fail(x->err, MR_ERR_NOTFOUND, "%s: no database.url", x->name);
    cfg_push_key(x, "database");
    if ((rc = database_value(x, db, "url", out, cap)) != MR_ERR_NOTFOUND)
        return rc;
    if ((rc = database_value(x, db, "url_env", var, sizeof(var))) == MR_ERR_NOTFOUND)
        return mr_fail(x->err, MR_ERR_NOTFOUND, "%s: no database.url", x->name);
    if (rc != MR_OK)
        return rc;
    cfg_push_key(x, "url_env");
    if (var[strspn(var, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")] != '\0')
        return cfg_fail(x, MR_ERR_INVALID, cfg_line_of(x, db, "url_env", 1), "not a variable "
                        "name; expected letters, digits and _");
    if ((v = getenv(var)) == NULL)
        return cfg_fail(x, MR_ERR_NOTFOUND, cfg_line_of(x, db, "url_env", 1), "environment "
                        "variable %s is not set; expected it set to the database URL", var);
    if (strlen(v) >= cap)
        return cfg_fail(x, MR_ERR_TOOBIG, cfg_line_of(x, db, "url_env", 1), "$%s is too long; "
                        "expected at most %zu characters", var, cap - 1);
    memcpy(out, v, strlen(v) + 1);
    return MR_OK;
}

int config_database_url(const char *path, char *out, size_t cap, struct mr_error *err)
{
    yaml_document_t doc;
    struct cfg_ctx x;
    char *text;
    size_t len;
    int rc;

    if ((rc = read_config_file(path, &text, &len, err)) != MR_OK)
        return rc;
    rc = cfg_load_doc(path, text, len, &doc, err);
    free(text);
    if (rc != MR_OK)
        return rc;
    memset(&x, 0, sizeof(x));
    x.name = path;
    x.doc = &doc;
    x.err = err;
    rc = find_database_url(&x, out, cap);
    yaml_document_delete(&doc);
    return rc;
}
