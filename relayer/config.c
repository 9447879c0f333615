/*
 * config.c - YAML configuration access (see config.h).
 */
#include "relayer/config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "relayer/cli.h"

/* Skips the node that starts with `ev` (already consumed), nested or not. */
static int skip_node(yaml_parser_t *p, const yaml_event_t *ev, const char *path,
                     struct mr_error *err)
{
    int depth = 0;

    if (ev->type != YAML_SEQUENCE_START_EVENT && ev->type != YAML_MAPPING_START_EVENT)
        return MR_OK;
    depth = 1;
    while (depth > 0) {
        yaml_event_t e;
        if (!yaml_parser_parse(p, &e))
            return mr_fail(err, MR_ERR_INVALID, "%s:%zu: %s", path, p->problem_mark.line + 1,
                           p->problem ? p->problem : "YAML error");
        if (e.type == YAML_SEQUENCE_START_EVENT || e.type == YAML_MAPPING_START_EVENT)
            depth++;
        else if (e.type == YAML_SEQUENCE_END_EVENT || e.type == YAML_MAPPING_END_EVENT)
            depth--;
        yaml_event_delete(&e);
    }
    return MR_OK;
}

/* Walks the top-level mapping, descending into `database`, to find `url`. */
static int find_url(yaml_parser_t *p, const char *path, char *out, size_t cap,
                    struct mr_error *err)
{
    int depth = 0, in_db = 0, want_value = 0, rc = MR_ERR_NOTFOUND;
    char key[64] = "";

    for (;;) {
        yaml_event_t e;
        if (!yaml_parser_parse(p, &e))
            return mr_fail(err, MR_ERR_INVALID, "%s:%zu: %s", path, p->problem_mark.line + 1,
                           p->problem ? p->problem : "YAML error");
        if (e.type == YAML_STREAM_END_EVENT) {
            yaml_event_delete(&e);
            break;
        }
        if (e.type == YAML_MAPPING_START_EVENT) {
            if (depth == 1 && want_value && strcmp(key, "database") == 0)
                in_db = 1;
            else if (depth >= 1 && want_value) {
                rc = skip_node(p, &e, path, err);
                yaml_event_delete(&e);
                if (rc != MR_OK && rc != MR_ERR_NOTFOUND)
                    return rc;
                rc = MR_ERR_NOTFOUND;
                want_value = 0;
                continue;
            }
            depth++;
            want_value = 0;
        } else if (e.type == YAML_MAPPING_END_EVENT) {
            depth--;
            if (depth == 1)
                in_db = 0;
        } else if (e.type == YAML_SEQUENCE_START_EVENT) {
            int r = skip_node(p, &e, path, err);
            yaml_event_delete(&e);
            if (r != MR_OK)
                return r;
            want_value = 0;
            continue;
        } else if (e.type == YAML_SCALAR_EVENT) {
            const char *v = (const char *)e.data.scalar.value;
            if (!want_value) {
                snprintf(key, sizeof(key), "%s", v);
                want_value = 1;
            } else {
                if (in_db && depth == 2 && strcmp(key, "url") == 0) {
                    if (e.data.scalar.length >= cap) {
                        rc = mr_fail(err, MR_ERR_TOOBIG, "%s:%zu: database.url is too long", path,
                                     e.start_mark.line + 1);
                        yaml_event_delete(&e);
                        return rc;
                    }
                    memcpy(out, v, e.data.scalar.length);
                    out[e.data.scalar.length] = '\0';
                    rc = MR_OK;
                }
                want_value = 0;
            }
        }
        yaml_event_delete(&e);
    }
    if (rc == MR_ERR_NOTFOUND)
        mr_fail(err, MR_ERR_NOTFOUND, "%s: no database.url", path);
    return rc;
}

int config_database_url(const char *path, char *out, size_t cap, struct mr_error *err)
{
    yaml_parser_t parser;
    char *text;
    size_t len;
    int rc = cli_read_file(path, CONFIG_MAX_BYTES, &text, &len, err);

    if (rc != MR_OK)
        return rc;
    if (!yaml_parser_initialize(&parser)) {
        free(text);
        return mr_fail(err, MR_ERR_NOMEM, "%s: cannot start the YAML parser", path);
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    rc = find_url(&parser, path, out, cap, err);
    yaml_parser_delete(&parser);
    free(text);
    return rc;
}
