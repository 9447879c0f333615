/*
 * test_cli.c - the command dispatcher and the keccak command, run as a
 * real process (tests/lib tv_run_cli).
 */
#include "tests/lib/testlib.h"

#include <stdlib.h>
#include <string.h>

/* Counts the lines of s. */
static int lines(const char *s)
{
    int n = 0;

    for (; *s; s++)
        n += *s == '\n';
    return n;
}

static void test_help_and_unknown(void **state)
{
    char *out, *err;
    (void)state;

    assert_int_equal(tv_run_cli((const char *[]){"--help", NULL}, NULL, &out, &err), 0);
    assert_non_null(strstr(out, "keccak"));
    assert_non_null(strstr(out, "message-hash"));
    free(out);
    free(err);
    assert_int_equal(tv_run_cli((const char *[]){"frobnicate", NULL}, NULL, &out, &err), 2);
    assert_int_equal(lines(err), 1);
    assert_non_null(strstr(err, "unknown command 'frobnicate'"));
    free(out);
    free(err);
    assert_int_equal(tv_run_cli((const char *[]){NULL}, NULL, NULL, NULL), 2);
}

static void test_keccak_cmd(void **state)
{
    char *out, *err;
    (void)state;

    assert_int_equal(tv_run_cli((const char *[]){"keccak", "--text", "transfer(address,uint256)", NULL},
                                NULL, &out, NULL), 0);
    assert_string_equal(out, "0xa9059cbb2ab09eb219583f4a59a5d0623ade346d962bcd4e46b11da047c9049b\n");
    free(out);
    assert_int_equal(tv_run_cli((const char *[]){"keccak", "0x", NULL}, NULL, &out, NULL), 0);
    assert_string_equal(out, "0xc5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470\n");
    free(out);
    assert_int_equal(tv_run_cli((const char *[]){"keccak", "0x616263", NULL}, NULL, &out, NULL), 0);
    assert_string_equal(out, "0x4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45\n");
    free(out);
    /* bad input: one line on stderr, exit 2, nothing on stdout */
    static const char *bad[][3] = {{"keccak", "0x616", NULL}, {"keccak", "abc", NULL},
                                   {"keccak", NULL, NULL}, {"keccak", "--text", NULL}};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(tv_run_cli(bad[i], NULL, &out, &err), 2);
        assert_string_equal(out, "");
        assert_int_equal(lines(err), 1);
        assert_non_null(strstr(err, "mosaic-relayer keccak: "));
        free(out);
        free(err);
    }
    assert_int_equal(tv_run_cli((const char *[]){"keccak", "--help", NULL}, NULL, &out, NULL), 0);
    assert_non_null(strstr(out, "usage: mosaic-relayer keccak"));
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_help_and_unknown),
        cmocka_unit_test(test_keccak_cmd),
    };
    return cmocka_run_group_tests_name("cli: dispatch and keccak", tests, NULL, NULL);
}
