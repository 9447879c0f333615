/*
 * cli_proof.c - `mosaic-relayer proof verify`: checks an eth_getProof answer
 * against a state root the caller trusts and prints what it proves.
 *
 * Only the proofs are believed: the node's own nonce, balance, storageHash,
 * codeHash and value fields are compared with the proven values, and any
 * disagreement fails the check.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eth/error.h"
#include "eth/hex.h"
#include "eth/mpt.h"
#include "eth/u256.h"
#include "relayer/cli.h"
#include "chain/proofjson.h"

#define CMD "proof"

static void proof_usage(void)
{
    printf(
        "usage: mosaic-relayer proof verify --root H --address A --proof FILE [--rlp]\n"
        "\n"
        "Verifies an eth_getProof answer against a state root and prints, one 'name: value'\n"
        "per line, what the proofs prove (never the node's own claims):\n"
        "  account       present, or absent (a valid proof of exclusion)\n"
        "  nonce, balance (decimal), storage_root, code_hash\n"
        "  storage[KEY]  each storage slot's proven value (0x-hex; 0x0 when absent)\n"
        "\n"
        "Options:\n"
        "  --root H      the state root to trust: 0x + 64 hex digits, e.g. the stateRoot of\n"
        "                the block header at the height the proof was taken, or the root an\n"
        "                anchor holds for that height\n"
        "  --address A   the account the proof is about (0x + 40 hex digits); its path in\n"
        "                the state trie is keccak(A)\n"
        "  --proof FILE  the answer of eth_getProof(A, [slots...], block): the bare result\n"
        "                object or the whole JSON-RPC response ({\"jsonrpc\",\"id\",\"result\"});\n"
        "                at most 16 MiB, %d nodes a proof, %d storage proofs\n"
        "  --rlp         also print account_rlp (the gateway's _rlpAccount),\n"
        "                account_proof_rlp and storage_proof_rlp[KEY] (_rlpParentNodes):\n"
        "                the bytes proveGateway and the confirm calls take\n"
        "\n"
        "Exit status: 0 the proofs verify; 1 they do not, with the reason on stderr (which\n"
        "proof, which node, which check: 'account proof: node 2: hash mismatch'), or the\n"
        "node's own fields disagree with the proofs; 2 bad usage or an unreadable file.\n"
        "\n"
        "Example:\n"
        "  curl -s -H 'Content-Type: application/json' -d '{\"jsonrpc\":\"2.0\",\"id\":1,\n"
        "    \"method\":\"eth_getProof\",\"params\":[\"0x45a2...\",[\"0xbe14...\"],\"0x40\"]}' \\\n"
        "    http://localhost:8545 > proof.json\n"
        "  mosaic-relayer proof verify --root 0x<stateRoot of block 0x40> \\\n"
        "    --address 0x45a2... --proof proof.json\n",
        MPT_MAX_PROOF_NODES, PROOFJSON_MAX_STORAGE);
}

struct proof_args {
    const char *root, *address, *file;
    int rlp;
};

static int parse_args(int argc, char **argv, struct proof_args *a)
{
    memset(a, 0, sizeof(*a));
    for (int i = 2; i < argc; i++) {
        const char **slot = NULL;

        if (strcmp(argv[i], "--rlp") == 0) {
            a->rlp = 1;
            continue;
        }
        if (strcmp(argv[i], "--root") == 0)
            slot = &a->root;
        else if (strcmp(argv[i], "--address") == 0)
            slot = &a->address;
        else if (strcmp(argv[i], "--proof") == 0)
            slot = &a->file;
        else
            return cli_usage_error(CMD, "unknown argument '%.40s' (see --help)", argv[i]);
        if (*slot != NULL)
            return cli_usage_error(CMD, "%s given twice", argv[i]);
        if (i + 1 >= argc)
            return cli_usage_error(CMD, "%s needs a value", argv[i]);
        *slot = argv[++i];
    }
    if (a->root == NULL || a->address == NULL || a->file == NULL)
        return cli_usage_error(CMD, "verify needs --root, --address and --proof (see --help)");
    return CLI_EXIT_OK;
}

static void hex32(const uint8_t *b, char out[67])
{
    hex_encode_data(b, 32, out, 67);
}

/* Reports that the answer's own `field` disagrees with the proofs. */
static int disagree(const char *field, const char *claimed, const char *proven)
{
    fprintf(stderr, "mosaic-relayer proof: the answer's %s field (%s) disagrees with the proven "
            "value (%s)\n", field, claimed, proven);
    return CLI_EXIT_FAIL;
}

/* Compares the node's claims with the proven account.  Returns CLI_EXIT_OK
 * or reports the first disagreement and returns CLI_EXIT_FAIL. */
static int check_claims(const struct proofjson *p, const struct mpt_account *acct)
{
    struct u256 nonce;
    char a[U256_DEC_MAX > 67 ? U256_DEC_MAX : 67], b[sizeof(a)];

    u256_from_u64(&nonce, acct->nonce);
    if (p->has_nonce && u256_cmp(&p->nonce, &nonce) != 0) {
        u256_to_dec(&p->nonce, a, sizeof(a));
        u256_to_dec(&nonce, b, sizeof(b));
        return disagree("nonce", a, b);
    }
    if (p->has_balance && u256_cmp(&p->balance, &acct->balance) != 0) {
        u256_to_dec(&p->balance, a, sizeof(a));
        u256_to_dec(&acct->balance, b, sizeof(b));
        return disagree("balance", a, b);
    }
    if (p->has_storage_hash && memcmp(p->storage_hash, acct->storage_root, 32) != 0) {
        hex32(p->storage_hash, a);
        hex32(acct->storage_root, b);
        return disagree("storageHash", a, b);
    }
    if (p->has_code_hash && memcmp(p->code_hash, acct->code_hash, 32) != 0) {
        hex32(p->code_hash, a);
        hex32(acct->code_hash, b);
        return disagree("codeHash", a, b);
    }
    return CLI_EXIT_OK;
}

/* Verifies every storage proof against the proven storage root.  Out:
 * values[n_storage]. */
static int verify_storage(const struct proofjson *p, const struct mpt_account *acct,
                          struct u256 *values)
{
    struct mr_error err;
    char key[67], a[67], b[67];

    for (size_t i = 0; i < p->n_storage; i++) {
        const struct proofjson_storage *s = &p->storage[i];
        hex32(s->key, key);
        if (mpt_verify_storage(acct->storage_root, s->key, s->nodes, s->n_nodes, &values[i], NULL,
                               &err) != MR_OK) {
            fprintf(stderr, "mosaic-relayer proof: storage proof %zu (key %s) does not verify: "
                    "%s\n", i, key, err.msg);
            return CLI_EXIT_FAIL;
        }
        if (s->has_value && u256_cmp(&s->value, &values[i]) != 0) {
            hex_encode_quantity(&s->value, a, sizeof(a));
            hex_encode_quantity(&values[i], b, sizeof(b));
            fprintf(stderr, "mosaic-relayer proof: storage proof %zu (key %s): ", i, key);
            return disagree("value", a, b);
        }
    }
    return CLI_EXIT_OK;
}

/* Prints an RLP byte string as "name: 0x..." (heap: proofs can be long). */
static void print_rlp(const char *name, const char *key, const uint8_t *b, size_t n)
{
    char *hex = malloc(2 * n + 3);

    if (hex == NULL) {
        fprintf(stderr, "mosaic-relayer proof: out of memory\n");
        return;
    }
    hex_encode_data(b, n, hex, 2 * n + 3);
    if (key != NULL)
        printf("%s[%s]: %s\n", name, key, hex);
    else
        printf("%s: %s\n", name, hex);
    free(hex);
}

static void print_proof_rlp(const char *name, const char *key, const struct mpt_node *nodes,
                            size_t n)
{
    uint8_t *buf;
    size_t len;

    mpt_proof_encode(nodes, n, NULL, 0, &len); /* dry run for the size */
    buf = malloc(len);
    if (buf == NULL || mpt_proof_encode(nodes, n, buf, len, &len) != MR_OK) {
        fprintf(stderr, "mosaic-relayer proof: out of memory\n");
        free(buf);
        return;
    }
    print_rlp(name, key, buf, len);
    free(buf);
}

static void print_result(const struct proofjson *p, const struct mpt_account *acct, int exists,
                         const struct u256 *values, int rlp)
{
    char dec[U256_DEC_MAX], h[67], key[67];
    uint8_t arlp[128];
    size_t alen;

    printf("account: %s\n", exists ? "present" : "absent");
    printf("nonce: %llu\n", (unsigned long long)acct->nonce);
    u256_to_dec(&acct->balance, dec, sizeof(dec));
    printf("balance: %s\n", dec);
    hex32(acct->storage_root, h);
    printf("storage_root: %s\n", h);
    hex32(acct->code_hash, h);
    printf("code_hash: %s\n", h);
    for (size_t i = 0; i < p->n_storage; i++) {
        hex32(p->storage[i].key, key);
        hex_encode_quantity(&values[i], h, sizeof(h));
        printf("storage[%s]: %s\n", key, h);
    }
    if (!rlp)
        return;
    if (exists && mpt_account_encode(acct, arlp, sizeof(arlp), &alen) == MR_OK)
        print_rlp("account_rlp", NULL, arlp, alen);
    print_proof_rlp("account_proof_rlp", NULL, p->account_nodes, p->n_account_nodes);
    for (size_t i = 0; i < p->n_storage; i++) {
        hex32(p->storage[i].key, key);
        print_proof_rlp("storage_proof_rlp", key, p->storage[i].nodes, p->storage[i].n_nodes);
    }
}

/* Loads and parses the file; CLI_EXIT_USAGE on any problem with it. */
static int load(const struct proof_args *a, const uint8_t address[20], struct proofjson *p)
{
    struct mr_error err;
    char *text;
    size_t len;
    int rc;

    memset(p, 0, sizeof(*p));
    if (cli_read_file(a->file, PROOFJSON_MAX_TEXT, &text, &len, &err) != MR_OK)
        return cli_usage_error(CMD, "%s", err.msg);
    rc = proofjson_parse(text, len, p, &err);
    free(text);
    if (rc != MR_OK)
        return cli_usage_error(CMD, "%s: %s", a->file, err.msg);
    if (p->has_address && memcmp(p->address, address, 20) != 0)
        return cli_usage_error(CMD, "%s: the answer is about another address than --address",
                               a->file);
    return CLI_EXIT_OK;
}

static int proof_verify(const struct proof_args *a)
{
    struct proofjson p;
    struct mpt_account acct;
    struct mr_error err;
    struct u256 *values = NULL;
    uint8_t root[32], address[20];
    int exists, rc;

    if (cli_parse_hash(a->root, root, &err) != MR_OK)
        return cli_usage_error(CMD, "--root: not 32 bytes of 0x-hex: %s", err.msg);
    if (cli_parse_address(a->address, address, &err) != MR_OK)
        return cli_usage_error(CMD, "--address: not an address (0x + 40 hex digits): %s", err.msg);
    if ((rc = load(a, address, &p)) != CLI_EXIT_OK) {
        proofjson_free(&p);
        return rc;
    }
    if (mpt_verify_account(root, address, p.account_nodes, p.n_account_nodes, &acct, &exists,
                           &err) != MR_OK) {
        fprintf(stderr, "mosaic-relayer proof: account proof does not verify: %s\n", err.msg);
        rc = CLI_EXIT_FAIL;
    } else if ((values = calloc(p.n_storage + 1, sizeof(*values))) == NULL) {
        rc = cli_usage_error(CMD, "out of memory");
    } else if ((rc = check_claims(&p, &acct)) == CLI_EXIT_OK &&
               (rc = verify_storage(&p, &acct, values)) == CLI_EXIT_OK) {
        print_result(&p, &acct, exists, values, a->rlp);
    }
    free(values);
    proofjson_free(&p);
    return rc;
}

int cli_proof(int argc, char **argv)
{
    struct proof_args a;
    int rc;

    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        if (argc < 2)
            return cli_usage_error(CMD, "expected 'verify' (see --help)");
        proof_usage();
        return CLI_EXIT_OK;
    }
    if (strcmp(argv[1], "verify") != 0)
        return cli_usage_error(CMD, "unknown subcommand '%.40s' (only 'verify')", argv[1]);
    if (argc == 3 && (strcmp(argv[2], "--help") == 0 || strcmp(argv[2], "-h") == 0)) {
        proof_usage();
        return CLI_EXIT_OK;
    }
    if ((rc = parse_args(argc, argv, &a)) != CLI_EXIT_OK)
        return rc;
    return proof_verify(&a);
}
