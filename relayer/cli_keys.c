/* cli_keys.c - placeholder while the command is being written. */
#include "relayer/cli.h"

int cli_keys(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    return cli_usage_error("keys", "not implemented yet");
}
