/*
 * test_deploy_state.c - relayer/deploy_state.c: the run config that
 * `deploy` writes is the deploy config without its deploy: and gateways:
 * sections, found by parsing (fuzz_dstate found a flow mapping of the
 * deploy section going on at column 0 that a line filter kept), plus the
 * deployed gateways; and the state file round trip.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relayer/deploy_state.h"
#include "tests/lib/testlib.h"

static const struct dstate_pair pair = {
    .name = "p", .origin_chain = "origin", .aux_chain = "aux",
    .gateway = {1}, .cogateway = {2}, .origin_anchor = {3}, .aux_anchor = {4},
};

static char *run_config(const char *src, struct mr_error *err, int *rc)
{
    char *out = NULL;
    size_t len = 0;

    *rc = dstate_run_config(src, strlen(src), "d.yaml", &pair, 1, &out, &len, err);
    if (*rc == MR_OK)
        assert_int_equal(strlen(out), len);
    return out;
}

static void test_run_config_cut(void **state)
{
    struct mr_error err;
    int rc;
    char *out;
    (void)state;

    out = run_config("# head\n"
                     "database: { url: \"host=h\" }\n"
                     "deploy:\n"
                     "  deployer: k\n"
                     "  pairs:\n"
                     "    - { name: p, origin: origin\n"
                     ", auxiliary: aux }\n"         /* a flow mapping at column 0 */
                     "\"gateways\": []\n"           /* a quoted key */
                     "log: { level: info }\n",
                     &err, &rc);
    assert_int_equal(rc, MR_OK);
    assert_non_null(strstr(out, "# head\ndatabase: { url: \"host=h\" }\nlog: { level: info }\n"
                                "gateways:\n  - name: p\n"));
    assert_null(strstr(out, "deployer"));
    assert_null(strstr(out, "auxiliary: aux }"));
    assert_null(strstr(out, "\"gateways\""));
    free(out);

    /* The last section, without a final newline. */
    out = run_config("a: 1\ndeploy: { x: 1 }", &err, &rc);
    assert_int_equal(rc, MR_OK);
    assert_non_null(strstr(out, "\na: 1\ngateways:\n"));
    assert_null(strstr(out, "x: 1"));
    free(out);
}

static void test_run_config_refusals(void **state)
{
    struct mr_error err;
    int rc;
    char *out;
    (void)state;

    out = run_config("{ a: 1, deploy: { x: 1 } }\n", &err, &rc);
    assert_int_equal(rc, MR_ERR_INVALID);
    assert_null(out);
    assert_non_null(strstr(err.msg, "d.yaml:1: the top level is not a block mapping"));

    out = run_config("a: 1\ndeploy: &x { y: 1 }\nb: *x\n", &err, &rc);
    assert_int_not_equal(rc, MR_OK);
    assert_null(out);
    assert_non_null(strstr(err.msg, "d.yaml: "));
    assert_non_null(strstr(err.msg, "alias"));

    out = run_config("a: [\n", &err, &rc);
    assert_int_not_equal(rc, MR_OK);
    assert_null(out);
    assert_true(strncmp(err.msg, "d.yaml:", 7) == 0);
}

static void test_state_roundtrip(void **state)
{
    char *dir = tv_tmpdir(), path[600];
    struct dstate s, back;
    struct dstate_entry e;
    struct mr_error err;
    FILE *f;
    (void)state;

    snprintf(path, sizeof(path), "%s/state.json", dir);
    assert_int_equal(dstate_load(path, &s, &err), MR_OK); /* missing: empty */
    assert_int_equal(s.n, 0);
    assert_int_equal(dstate_new_id(&s, &err), MR_OK);
    memset(&e, 0, sizeof(e));
    snprintf(e.name, sizeof(e.name), "origin.anchor");
    snprintf(e.chain, sizeof(e.chain), "origin");
    e.chain_id = 31337;
    e.has_tx = 1;
    e.tx[31] = 7;
    e.block = 12;
    e.has_seed = 1;
    e.seed_height = 9;
    assert_int_equal(dstate_put(&s, &e, &err), MR_OK);
    assert_int_equal(dstate_save(&s, path, &err), MR_OK);
    assert_int_equal(dstate_load(path, &back, &err), MR_OK);
    assert_int_equal(back.n, 1);
    assert_string_equal(back.id, s.id);
    assert_int_equal(back.v[0].block, 12);
    assert_int_equal(back.v[0].seed_height, 9);
    assert_int_equal(back.v[0].tx[31], 7);
    dstate_free(&back);
    dstate_free(&s);

    /* A duplicate step name is refused, naming the file. */
    f = fopen(path, "w");
    assert_non_null(f);
    fputs("{\"format\": \"mosaic-relayer deploy state\", \"version\": 1, \"deployment\": "
          "\"0123456789abcdef\", \"steps\": [{\"name\": \"a\", \"chain\": \"o\", \"chain_id\": 1},"
          " {\"name\": \"a\", \"chain\": \"o\", \"chain_id\": 1}]}", f);
    fclose(f);
    assert_int_equal(dstate_load(path, &s, &err), MR_ERR_INVALID);
    assert_non_null(strstr(err.msg, "appears twice"));
    assert_true(strncmp(err.msg, path, strlen(path)) == 0);
    tv_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_run_config_cut),
        cmocka_unit_test(test_run_config_refusals),
        cmocka_unit_test(test_state_roundtrip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
