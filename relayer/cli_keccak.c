/*
 * cli_keccak.c - `mosaic-relayer keccak HEX | --text STRING`.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eth/hex.h"
#include "eth/keccak.h"
#include "relayer/cli.h"

static void keccak_usage(void)
{
    printf("usage: mosaic-relayer keccak HEX\n"
           "       mosaic-relayer keccak --text STRING\n"
           "\n"
           "Prints the Keccak-256 digest (Ethereum's keccak256, not SHA3-256) as 0x-hex.\n"
           "HEX is 0x-prefixed data with an even number of digits (\"0x\" is empty input);\n"
           "--text hashes the UTF-8 bytes of STRING as given, e.g. a function signature:\n"
           "  mosaic-relayer keccak --text 'transfer(address,uint256)'\n");
}

int cli_keccak(int argc, char **argv)
{
    struct mr_error err;
    uint8_t digest[32];
    char out[67];
    const char *arg;

    if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        keccak_usage();
        return CLI_EXIT_OK;
    }
    if (argc == 3 && strcmp(argv[1], "--text") == 0) {
        keccak256(argv[2], strlen(argv[2]), digest);
    } else if (argc == 2 && strncmp(argv[1], "--", 2) != 0) {
        uint8_t *data;
        size_t len, n;
        arg = argv[1];
        n = strlen(arg) / 2 + 1;
        data = malloc(n);
        if (data == NULL)
            return cli_usage_error("keccak", "out of memory");
        if (hex_decode_data(arg, strlen(arg), data, n, &len, &err) != MR_OK) {
            free(data);
            return cli_usage_error("keccak", "argument is not 0x-hex data: %s "
                                   "(use --text to hash a string)", err.msg);
        }
        keccak256(data, len, digest);
        free(data);
    } else {
        return cli_usage_error("keccak", "expected HEX or --text STRING (see --help)");
    }
    hex_encode_data(digest, 32, out, sizeof(out));
    printf("%s\n", out);
    return CLI_EXIT_OK;
}
