/* cli_message_hash.c - placeholder while the command is being written. */
#include "relayer/cli.h"

int cli_message_hash(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    return cli_usage_error("message-hash", "not implemented yet");
}
