/*
 * cli_message_hash.c - `mosaic-relayer message-hash`: the intent hash,
 * message hash and outbox/inbox storage keys of a Mosaic stake or redeem
 * (mosaic-protocol.md sections 3.2 and 4.2).
 */
#include <stdio.h>
#include <string.h>

#include "eth/error.h"
#include "eth/hex.h"
#include "eth/mosaic.h"
#include "eth/u256.h"
#include "relayer/cli.h"

#define CMD "message-hash"

static void message_hash_usage(void)
{
    printf(
        "usage: mosaic-relayer message-hash --kind stake|redeem --amount N --beneficiary A\n"
        "           --gateway A --nonce N --gas-price N --gas-limit N --sender A\n"
        "           (--hashlock H | --secret S | --secret -) [--message-box-offset 9|7]\n"
        "\n"
        "Computes what a Mosaic gateway computes for a stake or a redeem and prints, one\n"
        "'name: value' per line:\n"
        "  intent_hash   keccak(abi.encode(STAKE_INTENT_TYPEHASH or REDEEM_INTENT_TYPEHASH,\n"
        "                amount, beneficiary, gateway))\n"
        "  message_hash  keccak(abi.encode(MESSAGE_TYPEHASH, intent_hash, nonce, gas price,\n"
        "                gas limit, sender, hashlock)); the hash in every gateway event\n"
        "  hashlock      the hash lock used (keccak(secret) when --secret is given)\n"
        "  outbox_key    storage slot of outbox[message_hash] = keccak(mh || offset): pass it\n"
        "                to eth_getProof on the source gateway\n"
        "  inbox_key     storage slot of inbox[message_hash] = keccak(mh || offset + 1): pass\n"
        "                it to eth_getProof on the target gateway\n"
        "  outbox_path, inbox_path  keccak of those slots: their storage-trie paths\n"
        "\n"
        "Options (numbers are decimal or 0x-hex; addresses 0x + 40 hex digits):\n"
        "  --kind stake|redeem  stake (origin -> auxiliary) or redeem (auxiliary -> origin)\n"
        "  --amount N           tokens staked or redeemed, in the token's smallest unit\n"
        "  --beneficiary A      who receives the minted or unstaked tokens\n"
        "  --gateway A          for a stake the origin EIP20Gateway, for a redeem the\n"
        "                       auxiliary EIP20CoGateway (where the message was declared)\n"
        "  --nonce N            the sender's nonce (gateway.getNonce(sender) before declaring;\n"
        "                       the first is 0 on 0.11+, 1 on 0.10.0)\n"
        "  --gas-price N        the message's gas price, in the delivered token\n"
        "  --gas-limit N        the message's gas limit\n"
        "  --sender A           the staker or redeemer (msg.sender of stake/redeem: the\n"
        "                       StakerProxy or RedeemerProxy in composer flows)\n"
        "  --hashlock H         the 32-byte hash lock, 0x + 64 hex digits\n"
        "  --secret S           the 32-byte unlock secret instead; hashlock = keccak(S).\n"
        "                       '--secret -' reads it from the first line of stdin, which\n"
        "                       keeps it out of the process list.  It is never printed.\n"
        "  --message-box-offset 9|7  storage slot of the outbox: 9 on 0.11+ (default),\n"
        "                       7 on 0.10.0 deployments; the inbox is the next slot\n"
        "\n"
        "Example:\n"
        "  mosaic-relayer message-hash --kind stake --amount 100000000 \\\n"
        "      --beneficiary 0xbd355A7e5a7ADb23b51F54027E624BfE0e238DF6 \\\n"
        "      --gateway 0x45A2897792Afa20b95F7dCaF5c0Fb45b84Daf439 --nonce 0 \\\n"
        "      --gas-price 1 --gas-limit 10000 \\\n"
        "      --sender 0x913dA4198E6bE1D5f5E4a40D0667f70C0B5430Eb \\\n"
        "      --hashlock 0x6153123a3245a097b0fb93bc8b91efdccf2c330ca5b17f801631ed9ee31b9490\n"
        "  prints message_hash: 0x10b33e715c4ecc5d398d3fe86654fc4fc8c7d7815c546c49f7156b3d1b131453\n");
}

/* The options, each given once; values are borrowed from argv. */
enum opt { O_KIND, O_AMOUNT, O_BENEFICIARY, O_GATEWAY, O_NONCE, O_GAS_PRICE, O_GAS_LIMIT,
           O_SENDER, O_HASHLOCK, O_SECRET, O_OFFSET, O_COUNT };

static const char *const opt_names[O_COUNT] = {
    "kind", "amount", "beneficiary", "gateway", "nonce", "gas-price", "gas-limit",
    "sender", "hashlock", "secret", "message-box-offset"};

/* Splits argv into vals[] ("--name value" or "--name=value").  Returns
 * CLI_EXIT_OK, or reports and returns CLI_EXIT_USAGE. */
static int parse_args(int argc, char **argv, const char *vals[O_COUNT])
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *eq, *v;
        size_t nlen;
        int k;

        if (strncmp(a, "--", 2) != 0)
            return cli_usage_error(CMD, "unexpected argument '%.40s' (see --help)", a);
        eq = strchr(a + 2, '=');
        nlen = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
        for (k = 0; k < O_COUNT; k++) {
            if (strlen(opt_names[k]) == nlen && strncmp(a + 2, opt_names[k], nlen) == 0)
                break;
        }
        if (k == O_COUNT)
            return cli_usage_error(CMD, "unknown option '%.*s' (see --help)", (int)(nlen + 2), a);
        if (vals[k] != NULL)
            return cli_usage_error(CMD, "--%s given twice", opt_names[k]);
        if (eq == NULL && i + 1 >= argc)
            return cli_usage_error(CMD, "--%s needs a value", opt_names[k]);
        v = eq ? eq + 1 : argv[++i];
        vals[k] = v;
    }
    return CLI_EXIT_OK;
}

static int get_number(const char *vals[O_COUNT], int k, struct u256 *out)
{
    struct mr_error err;

    if (vals[k] == NULL)
        return cli_usage_error(CMD, "--%s is required (see --help)", opt_names[k]);
    if (u256_parse(out, vals[k], strlen(vals[k]), &err) != MR_OK)
        return cli_usage_error(CMD, "--%s: not a 256-bit number: %s", opt_names[k], err.msg);
    return CLI_EXIT_OK;
}

static int get_address(const char *vals[O_COUNT], int k, uint8_t out[20])
{
    struct mr_error err;

    if (vals[k] == NULL)
        return cli_usage_error(CMD, "--%s is required (see --help)", opt_names[k]);
    if (cli_parse_address(vals[k], out, &err) != MR_OK)
        return cli_usage_error(CMD, "--%s: not an address (0x + 40 hex digits): %s",
                               opt_names[k], err.msg);
    return CLI_EXIT_OK;
}

/* Reads the secret from --secret S or, with '-', the first line of stdin;
 * hashes it into hashlock[32] and wipes every copy. */
static int secret_to_hashlock(const char *arg, uint8_t hashlock[32])
{
    char line[160];
    uint8_t secret[32];
    struct mr_error err;
    const char *s = arg;
    size_t n;
    int rc;

    if (strcmp(arg, "-") == 0) {
        if (fgets(line, sizeof(line), stdin) == NULL)
            return cli_usage_error(CMD, "--secret -: nothing on stdin");
        n = strcspn(line, "\r\n");
        line[n] = '\0';
        s = line;
    }
    rc = hex_decode_fixed(s, strlen(s), secret, 32, &err);
    mr_wipe(line, sizeof(line));
    if (rc != MR_OK) {
        mr_wipe(secret, sizeof(secret));
        /* err.msg describes the syntax only, never the digits. */
        return cli_usage_error(CMD, "--secret: not 32 bytes of 0x-hex");
    }
    mosaic_hashlock(secret, hashlock);
    mr_wipe(secret, sizeof(secret));
    return CLI_EXIT_OK;
}

static int get_hashlock(const char *vals[O_COUNT], uint8_t hashlock[32])
{
    struct mr_error err;

    if ((vals[O_HASHLOCK] == NULL) == (vals[O_SECRET] == NULL))
        return cli_usage_error(CMD, "give exactly one of --hashlock and --secret");
    if (vals[O_SECRET] != NULL)
        return secret_to_hashlock(vals[O_SECRET], hashlock);
    if (cli_parse_hash(vals[O_HASHLOCK], hashlock, &err) != MR_OK)
        return cli_usage_error(CMD, "--hashlock: not 32 bytes of 0x-hex: %s", err.msg);
    return CLI_EXIT_OK;
}

static int get_kind_offset(const char *vals[O_COUNT], enum mosaic_kind *kind, uint64_t *offset)
{
    const char *o = vals[O_OFFSET];

    if (vals[O_KIND] == NULL)
        return cli_usage_error(CMD, "--kind is required: stake or redeem");
    if (strcmp(vals[O_KIND], "stake") == 0)
        *kind = MOSAIC_STAKE;
    else if (strcmp(vals[O_KIND], "redeem") == 0)
        *kind = MOSAIC_REDEEM;
    else
        return cli_usage_error(CMD, "--kind: '%.40s' is neither stake nor redeem", vals[O_KIND]);
    *offset = MOSAIC_MESSAGE_BOX_OFFSET;
    if (o != NULL && strcmp(o, "7") == 0)
        *offset = MOSAIC_MESSAGE_BOX_OFFSET_V010;
    else if (o != NULL && strcmp(o, "9") != 0)
        return cli_usage_error(CMD, "--message-box-offset: 9 (0.11+) or 7 (0.10.0), not '%.20s'",
                               o);
    return CLI_EXIT_OK;
}

static void print_hash(const char *name, const uint8_t h[32])
{
    char hex[67];

    hex_encode_data(h, 32, hex, sizeof(hex));
    printf("%s: %s\n", name, hex);
}

int cli_message_hash(int argc, char **argv)
{
    const char *vals[O_COUNT] = {NULL};
    struct mosaic_message msg;
    enum mosaic_kind kind = MOSAIC_STAKE;
    struct u256 amount;
    uint8_t beneficiary[20], gateway[20], mh[32], slot[32], path[32];
    uint64_t offset = MOSAIC_MESSAGE_BOX_OFFSET;
    int rc;

    if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        message_hash_usage();
        return CLI_EXIT_OK;
    }
    if ((rc = parse_args(argc, argv, vals)) != CLI_EXIT_OK ||
        (rc = get_kind_offset(vals, &kind, &offset)) != CLI_EXIT_OK ||
        (rc = get_number(vals, O_AMOUNT, &amount)) != CLI_EXIT_OK ||
        (rc = get_address(vals, O_BENEFICIARY, beneficiary)) != CLI_EXIT_OK ||
        (rc = get_address(vals, O_GATEWAY, gateway)) != CLI_EXIT_OK ||
        (rc = get_number(vals, O_NONCE, &msg.nonce)) != CLI_EXIT_OK ||
        (rc = get_number(vals, O_GAS_PRICE, &msg.gas_price)) != CLI_EXIT_OK ||
        (rc = get_number(vals, O_GAS_LIMIT, &msg.gas_limit)) != CLI_EXIT_OK ||
        (rc = get_address(vals, O_SENDER, msg.sender)) != CLI_EXIT_OK ||
        (rc = get_hashlock(vals, msg.hashlock)) != CLI_EXIT_OK)
        return rc;
    mosaic_intent_hash(kind, &amount, beneficiary, gateway, msg.intent_hash);
    mosaic_message_hash(&msg, mh);
    print_hash("intent_hash", msg.intent_hash);
    print_hash("message_hash", mh);
    print_hash("hashlock", msg.hashlock);
    mosaic_outbox_slot(mh, offset, slot);
    mosaic_storage_path(slot, path);
    print_hash("outbox_key", slot);
    print_hash("outbox_path", path);
    mosaic_inbox_slot(mh, offset, slot);
    mosaic_storage_path(slot, path);
    print_hash("inbox_key", slot);
    print_hash("inbox_path", path);
    return CLI_EXIT_OK;
}
