/*
 * test_artifact.c - relayer/artifact.c: loading, strict checks, linking,
 * constructor arguments; and the real artifacts of build/contracts.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eth/abi.h"
#include "eth/keccak.h"
#include "relayer/artifact.h"
#include "tests/lib/chainlib.h"
#include "tests/lib/testlib.h"

/* The placeholder of "L.sol:Lib" (first 34 hex digits of its keccak256). */
static void placeholder(char out[41])
{
    uint8_t h[32];

    keccak256("L.sol:Lib", 9, h);
    memcpy(out, "__$", 3);
    for (int i = 0; i < 17; i++)
        snprintf(out + 3 + 2 * i, 3, "%02x", h[i]);
    memcpy(out + 37, "$__", 4);
}

/* An artifact whose creation code is 60 01 <placeholder at 2> 00 and whose
 * constructor takes (address,uint256). */
static char *synthetic(const char *code_override, const char *refs_override)
{
    char ph[41], code[128], *json = malloc(2048);

    placeholder(ph);
    snprintf(code, sizeof(code), "0x6001%s00", ph);
    snprintf(json, 2048,
             "{\"contractName\":\"T\",\"abi\":["
             "{\"type\":\"constructor\",\"inputs\":[{\"name\":\"a\",\"type\":\"address\"},"
             "{\"name\":\"b\",\"type\":\"uint256\"}],\"stateMutability\":\"nonpayable\"},"
             "{\"type\":\"function\",\"name\":\"f\",\"inputs\":["
             "{\"name\":\"x\",\"type\":\"bytes\"},"
             "{\"name\":\"t\",\"type\":\"tuple[]\",\"components\":["
             "{\"name\":\"u\",\"type\":\"uint8\"},{\"name\":\"v\",\"type\":\"address\"}]}],"
             "\"outputs\":[],\"stateMutability\":\"view\"},"
             "{\"type\":\"event\",\"name\":\"E\",\"anonymous\":false,\"inputs\":"
             "[{\"indexed\":true,\"name\":\"h\",\"type\":\"bytes32\"}]}],"
             "\"bytecode\":\"%s\",\"deployedBytecode\":\"0x00\","
             "\"linkReferences\":%s}",
             code_override != NULL ? code_override : code,
             refs_override != NULL ? refs_override
                                   : "{\"L.sol\":{\"Lib\":[{\"start\":2,\"length\":20}]}}");
    return json;
}

static void test_parse_and_link(void **state)
{
    char *json = synthetic(NULL, NULL);
    struct artifact a;
    struct artifact_lib lib = {"Lib", {0}};
    struct mr_error err;
    uint8_t *out;
    size_t len;
    const struct artifact_entry *f, *e;

    (void)state;
    assert_int_equal(artifact_parse(json, strlen(json), "T.json", &a, &err), MR_OK);
    assert_string_equal(a.name, "T");
    assert_int_equal(a.code_len, 23);
    assert_int_equal(a.n_links, 1);
    assert_int_equal(a.links[0].offset, 2);
    assert_int_equal(a.n_entries, 3);
    f = artifact_find(&a, ARTIFACT_FUNCTION, "f");
    assert_non_null(f);
    assert_string_equal(f->signature, "f(bytes,(uint8,address)[])");
    assert_true(f->view);
    e = artifact_find(&a, ARTIFACT_EVENT, "E");
    assert_non_null(e);
    assert_string_equal(e->signature, "E(bytes32)");
    assert_non_null(artifact_find_signature(&a, "constructor(address,uint256)"));
    assert_null(artifact_find(&a, ARTIFACT_FUNCTION, "E"));

    /* Unlinked: the error names the library. */
    assert_int_equal(artifact_link(&a, 0, NULL, 0, &out, &len, &err), MR_ERR_NOTFOUND);
    assert_non_null(strstr(err.msg, "Lib (L.sol)"));

    memset(lib.address, 0xab, 20);
    assert_int_equal(artifact_link(&a, 0, &lib, 1, &out, &len, &err), MR_OK);
    assert_int_equal(len, 23);
    assert_int_equal(out[0], 0x60);
    assert_int_equal(out[2], 0xab);
    assert_int_equal(out[21], 0xab);
    assert_int_equal(out[22], 0x00);
    free(out);

    /* "<source>:<library>" names work too; constructor args are appended. */
    lib.name = "L.sol:Lib";
    {
        uint8_t addr[20];
        struct abi_value args[2];

        memset(addr, 0x11, 20);
        args[0] = abi_v_address(addr);
        args[1] = abi_v_uint(7);
        assert_int_equal(artifact_deploy_data(&a, &lib, 1, args, 2, &out, &len, &err), MR_OK);
        assert_int_equal(len, 23 + 64);
        assert_int_equal(out[23 + 12], 0x11);
        assert_int_equal(out[23 + 63], 7);
        free(out);
        /* Wrong argument count. */
        assert_int_not_equal(artifact_deploy_data(&a, &lib, 1, args, 1, &out, &len, &err), MR_OK);
        assert_null(out);
    }
    artifact_free(&a);
    free(json);
}

static void expect_bad(const char *code, const char *refs, const char *needle)
{
    char *json = synthetic(code, refs);
    struct artifact a;
    struct mr_error err;

    assert_int_equal(artifact_parse(json, strlen(json), "T.json", &a, &err), MR_ERR_JSON);
    if (strstr(err.msg, needle) == NULL)
        fail_msg("error \"%s\" does not mention \"%s\"", err.msg, needle);
    artifact_free(&a);
    free(json);
}

static void test_strict(void **state)
{
    (void)state;
    /* A placeholder no reference covers. */
    expect_bad(NULL, "{}", "placeholder");
    /* A reference to the wrong library. */
    expect_bad(NULL, "{\"L.sol\":{\"Other\":[{\"start\":2,\"length\":20}]}}", "L.sol:Other");
    /* A reference outside the code, or with another length. */
    expect_bad(NULL, "{\"L.sol\":{\"Lib\":[{\"start\":20,\"length\":20}]}}", "inside the code");
    expect_bad(NULL, "{\"L.sol\":{\"Lib\":[{\"start\":2,\"length\":19}]}}", "length 20");
    /* Bad hex. */
    expect_bad("0x6g", "{}", "bytecode");
    expect_bad("6001", "{}", "0x-prefixed");
    {
        struct artifact a;
        struct mr_error err;
        const char *bad[] = {
            "[]",
            "{\"contractName\":1}",
            "{\"contractName\":\"X\",\"bytecode\":\"0x\",\"deployedBytecode\":\"0x\",\"abi\":{}}",
            "{\"contractName\":\"X\",\"bytecode\":\"0x\",\"deployedBytecode\":\"0x\","
            "\"abi\":[{\"type\":\"function\",\"name\":\"f\",\"inputs\":[{\"type\":\"uint7\"}]}]}",
            "{\"contractName\":\"X\",\"bytecode\":\"0x\",\"deployedBytecode\":\"0x\","
            "\"abi\":[{\"type\":\"wat\"}]}",
            "{\"contractName\":\"X\",\"contractName\":\"Y\"}",
            "{\"contractName\":\"X\"",
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
            assert_int_equal(artifact_parse(bad[i], strlen(bad[i]), "X.json", &a, &err),
                             MR_ERR_JSON);
            assert_non_null(strstr(err.msg, "X.json"));
            artifact_free(&a);
        }
    }
}

/* Deployed code as eth_getCode returns it: a library's call guard
 * (PUSH20 of its own address) and an immutable (a PUSH32 word) are zeros in
 * the artifact and filled at deployment; everything else must match. */
static void test_runtime_matches(void **state)
{
    char ph[41], code[256], json[1024];
    struct artifact a;
    struct artifact_lib lib = {"Lib", {0}};
    struct mr_error err;
    uint8_t got[80];
    int match = -1;

    (void)state;
    placeholder(ph);
    /* 73 <20 zeros> 30 14 60 00 7f <32 zeros> 73 <Lib at 59> 00 */
    snprintf(code, sizeof(code), "0x73%040d30146000" "7f%064d73%s00", 0, 0, ph);
    snprintf(json, sizeof(json),
             "{\"contractName\":\"R\",\"abi\":[],\"bytecode\":\"0x00\","
             "\"deployedBytecode\":\"%s\",\"deployedLinkReferences\":"
             "{\"L.sol\":{\"Lib\":[{\"start\":59,\"length\":20}]}}}", code);
    assert_int_equal(artifact_parse(json, strlen(json), "R.json", &a, &err), MR_OK);
    assert_int_equal(a.runtime_len, 80);
    memset(lib.address, 0xab, 20);
    memset(got, 0, sizeof(got));
    got[0] = 0x73;
    memset(got + 1, 0xcc, 20);   /* the library's own address */
    memcpy(got + 21, "\x30\x14\x60\x00\x7f", 5);
    got[57] = 0x05;              /* the immutable's value */
    got[58] = 0x73;
    memset(got + 59, 0xab, 20);  /* linked */
    assert_int_equal(artifact_runtime_matches(&a, &lib, 1, got, 80, &match, &err), MR_OK);
    assert_int_equal(match, 1);
    /* Not linked: an error, not a mismatch. */
    assert_int_equal(artifact_runtime_matches(&a, NULL, 0, got, 80, &match, &err),
                     MR_ERR_NOTFOUND);
    assert_int_equal(match, 0);
    /* Another length; another library address; a short zero run changed. */
    assert_int_equal(artifact_runtime_matches(&a, &lib, 1, got, 79, &match, &err), MR_OK);
    assert_int_equal(match, 0);
    got[60] = 0xac;
    assert_int_equal(artifact_runtime_matches(&a, &lib, 1, got, 80, &match, &err), MR_OK);
    assert_int_equal(match, 0);
    got[60] = 0xab;
    got[24] = 0x01;              /* PUSH1 0 -> PUSH1 1 */
    assert_int_equal(artifact_runtime_matches(&a, &lib, 1, got, 80, &match, &err), MR_OK);
    assert_int_equal(match, 0);
    got[24] = 0x00;
    got[79] = 0x01;              /* the final STOP */
    assert_int_equal(artifact_runtime_matches(&a, &lib, 1, got, 80, &match, &err), MR_OK);
    assert_int_equal(match, 0);
    artifact_free(&a);
}

/* The real gateway: linked against MerklePatriciaProof, seven constructor
 * parameters, the stake selector of the protocol. */
static void test_real_gateway(void **state)
{
    struct artifact a;
    struct artifact_lib lib = {"MerklePatriciaProof", {0}};
    struct abi_value args[7];
    uint8_t addr[20], *out;
    size_t len;
    struct mr_error err;
    const struct artifact_entry *stake;

    (void)state;
    cl_artifact("EIP20Gateway", &a);
    assert_true(a.n_links >= 1);
    for (size_t i = 0; i < a.n_links; i++)
        assert_string_equal(a.links[i].library, "MerklePatriciaProof");
    stake = artifact_find(&a, ARTIFACT_FUNCTION, "stake");
    assert_non_null(stake);
    assert_memory_equal(stake->hash, "\x6b\xb1\x20\x49", 4);
    assert_int_equal(artifact_link(&a, 1, NULL, 0, &out, &len, &err), MR_ERR_NOTFOUND);
    assert_non_null(strstr(err.msg, "MerklePatriciaProof"));

    memset(addr, 0x22, 20);
    for (int i = 0; i < 7; i++)
        args[i] = i == 3 || i == 6 ? abi_v_uint(100) : abi_v_address(addr);
    memset(lib.address, 0x33, 20);
    assert_int_equal(artifact_deploy_data(&a, &lib, 1, args, 7, &out, &len, &err), MR_OK);
    assert_int_equal(len, a.code_len + 7 * 32);
    for (size_t i = 0; i < a.n_links; i++)
        assert_int_equal(out[a.links[i].offset], 0x33);
    free(out);
    artifact_free(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_and_link),
        cmocka_unit_test(test_strict),
        cmocka_unit_test(test_runtime_matches),
        cmocka_unit_test(test_real_gateway),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
