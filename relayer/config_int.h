/*
 * config_int.h - inside the configuration loader: the schema types and the
 * YAML walker shared by config.c, config_yaml.c, config_types.c and
 * config_schema.c.  Not for other modules (they read struct config).
 *
 * The file is described by tables (config_schema.c): one struct cfg_field
 * per key with its type, bounds, default and the offset where its value
 * lands.  The walker (config_yaml.c) matches a YAML mapping against a table:
 * unknown, duplicate and inline-secret keys first, then each field in table
 * order (so that `chains` and `keys` are known before anything refers to
 * them), then the table's one-of rules and its check callback.
 */
#ifndef MR_CONFIG_INT_H
#define MR_CONFIG_INT_H

#include <stddef.h>
#include <stdint.h>

#include <yaml.h>

#include "eth/error.h"
#include "relayer/config.h"

enum cfg_type {
    CT_STR,          /* printable text, 1..size-1 bytes */
    CT_NAME,         /* [a-z][a-z0-9_-]{0,31} */
    CT_INT,          /* whole number in min..max, stored in `size` bytes (1, 4 or 8) */
    CT_BOOL,         /* int 0/1 */
    CT_DURATION,     /* int64 milliseconds in min..max */
    CT_WEI,          /* struct u256 */
    CT_GWEI,         /* struct u256, given in gwei */
    CT_ADDR,         /* uint8_t[20], not zero; aux = has flag (int) or none */
    CT_ADDR_DEPLOY,  /* "deploy" (aux int = 1) or an address */
    CT_HTTP_URL,     /* http:// or https:// */
    CT_WS_URL,       /* ws:// or wss:// */
    CT_DB_URL,       /* libpq URI or key=value string without a password */
    CT_LISTEN,       /* host:port */
    CT_PATH,         /* resolved against the config file's directory */
    CT_SECRET_FILE,  /* CT_PATH that exists, regular, owner-only */
    CT_ENV,          /* an environment variable name (CF_ENV_SET: must be set) */
    CT_ENUM,         /* one word of `more` (const struct cfg_enum *), int */
    CT_FLAGS,        /* list of words of `more`, OR'ed into an unsigned */
    CT_CHAIN_REF,    /* a chain key -> int index (-1 when absent) */
    CT_KEY_REF,      /* a key name -> int index (-1 when absent) */
    CT_URLS,         /* list of http(s) URLs; aux = size_t count */
    CT_SECTION,      /* a mapping described by `more` (const struct cfg_schema *) */
    CT_NAMED_MAP,    /* name -> item mapping; `more` = const struct cfg_coll * */
    CT_LIST,         /* list of item mappings; `more` = const struct cfg_coll * */
    CT__COUNT
};

#define CF_REQUIRED 1u   /* absent or null is an error */
#define CF_HAS 2u        /* set the int at aux_off to 1 when given */
#define CF_ENV_SET 4u    /* CT_ENV: the variable must be set */
#define CF_NONZERO 8u    /* amounts: zero is refused */

#define CFG_NO_AUX ((size_t)-1)

struct cfg_enum {
    const char *word;
    int value;
};

struct cfg_field {
    const char *key;
    enum cfg_type type;
    unsigned flags;
    size_t off;           /* destination, relative to the section's base */
    size_t size;          /* bytes of the destination (strings, integers) */
    int64_t min, max;     /* numbers, durations (ms), list lengths */
    const char *def;      /* default as the text a user would write; NULL: zero */
    const void *more;     /* see enum cfg_type */
    size_t aux_off;       /* see enum cfg_type / CF_HAS; CFG_NO_AUX */
    const char *expect;   /* overrides the type's "expected ..." text */
};

struct cfg_ctx;
struct cfg_schema;

/* Called after a section's fields are read.  `map` is the section's YAML
 * mapping (NULL when absent), `index` its position in a collection. */
typedef int (*cfg_check_fn)(struct cfg_ctx *x, void *base, yaml_node_t *map, size_t index);

/* Two keys of which at most one (exactly one when `required`) is given. */
struct cfg_oneof {
    const char *a, *b;
    int required;
};

struct cfg_schema {
    const struct cfg_field *fields;
    size_t n_fields;
    const struct cfg_oneof *oneof; /* NULL-ended by a == NULL, or NULL */
    cfg_check_fn check;            /* or NULL */
};

/* An array of items in the struct (chains, keys, gateways, deploy pairs). */
struct cfg_coll {
    const struct cfg_schema *item;
    size_t stride;        /* sizeof the item struct */
    size_t count_off;     /* size_t count, relative to the parent base */
    size_t name_off;      /* CT_NAMED_MAP: char[CONFIG_KEY_LEN] in the item */
    size_t line_off;      /* int line in the item */
};

/* The walker's state.  Lives on the loader's stack. */
struct cfg_ctx {
    const char *name;              /* the file, for messages */
    yaml_document_t *doc;
    struct config *c;
    struct mr_error *err;
    char base_dir[CONFIG_PATH_LEN];
    char kp[256];                  /* the key path being read: chains.origin.quorum */
    size_t kp_len;
    int from_env;                  /* the scalar at hand came through ${...} */
    int defaults_only;             /* filling an absent optional section */
};

/* ---- config_yaml.c: the walker ---- */

/* Loads text[len] as one YAML document.  Syntax errors, a second document
 * and an empty file are errors naming name:line. */
int cfg_load_doc(const char *name, const char *text, size_t len, yaml_document_t *doc,
                 struct mr_error *err);

/* Records "NAME:LINE: KEYPATH: <fmt>" in x->err and returns `code`. */
int cfg_fail(struct cfg_ctx *x, int code, int line, const char *fmt, ...) MR_PRINTF(4, 5);

/* Pushes ".key" or "[i]" on the key path; returns the length to pop to. */
size_t cfg_push_key(struct cfg_ctx *x, const char *key);
size_t cfg_push_index(struct cfg_ctx *x, size_t i);
void cfg_pop(struct cfg_ctx *x, size_t len);

/* A plain empty, ~ or null scalar: the same as an absent key. */
int cfg_is_null(const yaml_node_t *n);
/* 1-based line of a node (0 for NULL). */
int cfg_line(const yaml_node_t *n);
/* The value of `key` in mapping `map` (NULL when absent). */
yaml_node_t *cfg_lookup(yaml_document_t *doc, yaml_node_t *map, const char *key);
/* The line of `key`'s value in `map`, else of `map`, else `fallback`. */
int cfg_line_of(struct cfg_ctx *x, yaml_node_t *map, const char *key, int fallback);

/* Copies the scalar n into out[cap] with ${VAR} expanded (x->from_env
 * tells whether anything came from the environment).  Refuses NUL bytes
 * and values that do not fit. */
int cfg_scalar(struct cfg_ctx *x, const yaml_node_t *n, char *out, size_t cap);

/* A short, harmless rendering of a user's value for a message: the value
 * when it is a plain word of at most 32 characters that did not come from
 * the environment, else "(value not shown)". */
const char *cfg_echo(const struct cfg_ctx *x, const char *value);

/* Reads mapping `map` (NULL: absent) into base by schema s.  `line` is
 * where the section is (for missing keys when map is NULL). */
int cfg_section(struct cfg_ctx *x, const struct cfg_schema *s, yaml_node_t *map, int line,
                void *base, size_t index);

/* ---- config_types.c: one reader per type ---- */

/* Reads node n (NULL: absent -> default or "missing") into base by f. */
int cfg_field_read(struct cfg_ctx *x, const struct cfg_field *f, yaml_node_t *n, int line,
                   void *base);
/* The "expected ..." text of f into buf[cap]; returns buf. */
const char *cfg_expected(const struct cfg_field *f, char *buf, size_t cap);
/* Parses a duration ("250ms", "30s", "5m", "1h", seconds) into *ms. */
int cfg_parse_duration(const char *s, int64_t *ms);
/* Writes ms as the largest exact unit ("90s", "5m", "250ms"). */
void cfg_format_duration(int64_t ms, char *out, size_t cap);
/* Parses a decimal amount, optionally "D.DeN", times 10^scale, exactly.
 * MR_ERR_INVALID (syntax or not whole), MR_ERR_RANGE (over 2^256-1). */
int cfg_parse_amount(const char *s, unsigned scale, struct u256 *out);

/* ---- config_yaml.c: collections ---- */
int cfg_read_named_map(struct cfg_ctx *x, const struct cfg_field *f, yaml_node_t *n, void *base);
int cfg_read_list(struct cfg_ctx *x, const struct cfg_field *f, yaml_node_t *n, void *base);

/* ---- config_schema.c ---- */
extern const struct cfg_schema cfg_top_schema;

#endif /* MR_CONFIG_INT_H */
