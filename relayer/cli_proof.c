/* cli_proof.c - placeholder while the command is being written. */
#include "relayer/cli.h"

int cli_proof(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    return cli_usage_error("proof", "not implemented yet");
}
