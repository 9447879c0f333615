/*
 * test_config.c - the configuration file: broken files each give their own
 * one-line FILE:LINE: KEY: message; good files land in the struct as
 * written, with the documented defaults; `config check` against the test
 * chains and PostgreSQL.
 */
#include "tests/lib/testlib.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "chain/ethrpc.h"
#include "eth/address.h"
#include "eth/key.h"
#include "eth/u256.h"
#include "relayer/config.h"
#include "relayer/config_int.h"
#include "relayer/keyfile.h"

static char *dir; /* this test's directory, with k.json and k.pass */

static void put(const char *name, const char *text, size_t len, mode_t mode)
{
    char path[512];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, len, f), len);
    fclose(f);
    assert_int_equal(chmod(path, mode), 0);
}

static void put_text(const char *name, const char *text)
{
    put(name, text, strlen(text), 0644);
}

/* A real keystore (light scrypt) for dev key #0 at dir/name. */
static void put_keystore(const char *name)
{
    static const char *dev_sk = "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
    uint8_t seed[32] = {7}, *sk;
    secp256k1_context *ctx = key_ctx_create(seed);
    struct keyfile kf;
    struct mr_error err;
    char path[512];
    size_t n;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    sk = tv_hex(dev_sk, &n);
    if (keyfile_create(ctx, sk, (const uint8_t *)"pw", 2, KEYFILE_LIGHT_SCRYPT_N, &kf, &err) !=
            MR_OK ||
        keyfile_write_new(path, &kf, &err) != MR_OK)
        fail_msg("keystore: %s", err.msg);
    free(sk);
    key_ctx_destroy(ctx);
}

static int setup(void **state)
{
    (void)state;
    dir = tv_tmpdir();
    put("k.json", "{}", 2, 0600);
    put("k.pass", "pw\n", 3, 0600);
    put("open.pass", "pw\n", 3, 0644);
    put("group.json", "{}", 2, 0640);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tv_rmtree(dir);
    free(dir);
    dir = NULL;
    return 0;
}

/* Writes dir/relayer.yaml and loads it. */
static int load(const char *yaml, struct config **c, struct mr_error *err)
{
    char path[512];

    put_text("relayer.yaml", yaml);
    snprintf(path, sizeof(path), "%s/relayer.yaml", dir);
    return config_load(path, c, err);
}

/* Six lines every broken case starts from (they are valid together). */
#define HEAD                                                                                   \
    "database: { url: \"host=127.0.0.1 dbname=x\" }\n"                                      \
    "chains:\n"                                                                                \
    "  origin: { role: origin, chain_id: 1000, endpoints: [\"http://127.0.0.1:8545\"], "      \
    "finality: { tag: finalized } }\n"                                                         \
    "  aux1: { role: auxiliary, chain_id: 2001, endpoints: [\"http://127.0.0.1:9545\"], "    \
    "finality: { confirmations: 2 } }\n"                                                       \
    "keys:\n"                                                                                  \
    "  facilitator: { keystore: k.json, password_file: k.pass }\n"

#define ADDR1 "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
#define ADDR2 "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359"
#define ADDR3 "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB"
#define ADDR4 "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb"

#define GATEWAY(ochain, gw, achain)                                                            \
    "gateways:\n"                                                                              \
    "  - name: ost-aux1\n"                                                                     \
    "    origin: { chain: " ochain ", gateway: \"" gw "\", anchor: \"" ADDR2 "\" }\n"          \
    "    auxiliary: { chain: " achain ", cogateway: \"" ADDR3 "\", anchor: \"" ADDR4 "\" }\n"

struct broken {
    const char *yaml;
    const char *want; /* what follows "relayer.yaml:" */
};

static const struct broken broken[] = {
    /* YAML itself */
    {"database: { url: x\nchains: [\n", "2: (syntax): did not find expected ',' or '}' while "
     "parsing a flow mapping; expected well-formed YAML"},
    {"database:\n  url: x\n   bad: indent\n", "3: (syntax): mapping values are not allowed in "
     "this context"},
    {"database:\n  url: \"x\n", "3: (syntax): found unexpected end of stream"},
    {"", "1: (file): empty; expected a mapping"},
    {"- a\n- b\n", "1: (top): not a mapping; expected a mapping with database"},
    {HEAD "---\nx: 1\n", "7: (file): a second YAML document; expected one document"},
    {HEAD "chains: {}\n", "7: chains: duplicate key (first at line 2); expected each key once"},
    {HEAD "<<: { a: 1 }\n", "7: <<: YAML merge keys are not supported"},
    /* keys */
    {HEAD "relayers: { workers: 2 }\n",
     "7: relayers: unknown key (did you mean 'relayer'?); expected one of database, chains"},
    {HEAD "zzzzzzzz: 1\n", "7: zzzzzzzz: unknown key; expected one of database, chains, keys"},
    {"database: { url: \"host=h\" }\nchains:\n  origin: { role: origin, chain_id: 1, "
     "endpoint: [\"http://h\"], finality: { tag: finalized } }\n",
     "3: chains.origin.endpoint: unknown key (did you mean 'endpoints'?)"},
    {"database: { url: \"h\" }\nchains:\n  origin:\n    role: origin\n    role: auxiliary\n",
     "5: chains.origin.role: duplicate key (first at line 4)"},
    {"database: { url: \"h\" }\nchains:\n  origin: { role: origin, chain_id: 1, endpoints: "
     "[\"http://h\"], finality: { tag: finalized } }\n  origin: { role: origin }\n",
     "4: chains.origin: duplicate name (first at line 3)"},
    {"database: { url: \"h\" }\nchains:\n  Origin: { role: origin }\n",
     "3: chains.Origin: 'Origin' is not a valid name; expected a lower-case letter"},
    /* required keys and one-of rules */
    {"chains:\n  origin: { role: origin }\n", "1: database: missing; expected { url: CONNINFO }"},
    {"database: { url: \"h\" }\nchains:\n  origin: { chain_id: 1 }\n",
     "3: chains.origin.role: missing; expected one of origin, auxiliary"},
    {"database: { url: \"h\" }\nchains:\n  origin: { role: origin, chain_id: 1, endpoints: "
     "[\"http://h\"], finality: {} }\n",
     "3: chains.origin.finality: neither confirmations nor tag is given; expected one of them"},
    {"database: { url: \"h\" }\nchains: {}\n", "2: chains: empty; expected at least 1 entry"},
    {HEAD "  anchor: { keystore: k.json, password_file: k.pass, password_env: HOME }\n",
     "7: keys.anchor: both password_file and password_env are given; expected only one"},
    /* types and ranges */
    {"database: { url: \"h\" }\nchains:\n  origin: { role: origin, chain_id: abc }\n",
     "3: chains.origin.chain_id: 'abc' is not a whole number; expected a whole number from 1 to "
     "9223372036854775807"},
    {"database: { url: \"h\" }\nchains:\n  origin: { role: origin, chain_id: 0 }\n",
     "3: chains.origin.chain_id: 0 is out of range; expected a whole number from 1"},
    {"database: { url: \"h\" }\nchains:\n  origin: { role: sidechain }\n",
     "3: chains.origin.role: 'sidechain' is not a known value; expected one of origin, auxiliary"},
    {"database: { url: \"h\" }\nchains:\n  origin: { role: origin, chain_id: 1, endpoints: "
     "{ a: 1 } }\n",
     "3: chains.origin.endpoints: got a mapping; expected a list of 1 to 8 http:// or https://"},
    {"database: { url: \"h\" }\nchains:\n  origin: { role: origin, chain_id: 1, endpoints: "
     "[\"http://a\",\"http://b\",\"http://c\",\"http://d\",\"http://e\",\"http://f\","
     "\"http://g\",\"http://h\",\"http://i\"] }\n",
     "3: chains.origin.endpoints: too many; expected a list of 1 to 8"},
    {HEAD "relayer: { workers: 0 }\n",
     "7: relayer.workers: 0 is out of range; expected a whole number from 1 to 256"},
    {HEAD "relayer: { workers: [1] }\n", "7: relayer.workers: got a list; expected a whole"},
    {HEAD "relayer: { anchor: { enabled: maybe } }\n",
     "7: relayer.anchor.enabled: not a boolean; expected true or false"},
    {HEAD "relayer: { flows: [stake, stake] }\n",
     "7: relayer.flows[1]: listed twice; expected each once"},
    {HEAD "relayer: { flows: [bridge] }\n",
     "7: relayer.flows[0]: 'bridge' is not a known value; expected one of stake, redeem, revert"},
    {HEAD "log: { level: verbose }\n", "7: log.level: 'verbose' is not a known value; expected "
                                       "one of error, warn, info, debug"},
    /* durations */
    {HEAD "relayer: { job_timeout: 5x }\n",
     "7: relayer.job_timeout: not a duration; expected a duration from 1s to 1h such as 250ms"},
    {HEAD "relayer: { job_timeout: 2h }\n",
     "7: relayer.job_timeout: out of range; expected a duration from 1s to 1h"},
    {"database: { url: \"h\" }\nchains:\n  origin: { role: origin, chain_id: 1, endpoints: "
     "[\"http://h\"], finality: { tag: finalized }, poll_interval: 10ms }\n",
     "3: chains.origin.poll_interval: out of range; expected a duration from 50ms to 1h"},
    /* amounts */
    {HEAD "relayer: { min_bounty: \"1.5\" }\n",
     "7: relayer.min_bounty: not a whole amount of wei; expected an amount of wei"},
    {HEAD "relayer: { limits: { per_hour: \"1e78\" } }\n",
     "7: relayer.limits.per_hour: larger than 2^256-1 wei"},
    {HEAD "relayer: { min_bounty: \"-1\" }\n", "7: relayer.min_bounty: not a whole amount"},
    {"database: { url: \"h\" }\nchains:\n  origin: { role: origin, chain_id: 1, endpoints: "
     "[\"http://h\"], finality: { tag: finalized }, fees: { max_fee_gwei: 0 } }\n",
     "3: chains.origin.fees.max_fee_gwei: zero; expected an amount of gwei"},
    {"database: { url: \"h\" }\nchains:\n  origin: { role: origin, chain_id: 1, endpoints: "
     "[\"http://h\"], finality: { tag: finalized }, fees: { max_fee_gwei: 1, max_tip_gwei: 2 } "
     "}\n",
     "3: chains.origin.fees.max_tip_gwei: above max_fee_gwei; expected a tip cap no higher"},
    /* addresses */
    {HEAD GATEWAY("origin", "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD", "aux1"),
     "9: gateways[0].origin.gateway: a mixed-case address whose EIP-55 checksum does not match"},
    {HEAD GATEWAY("origin", "0x5aaeb6053f3e94c9b9a09f33669435e7ef1bea", "aux1"),
     "9: gateways[0].origin.gateway: not an address; expected an address: 0x and 40 hex"},
    {HEAD GATEWAY("origin", "5aaeb6053f3e94c9b9a09f33669435e7ef1beaed", "aux1"),
     "9: gateways[0].origin.gateway: not an address (no 0x)"},
    {HEAD GATEWAY("origin", "0x0000000000000000000000000000000000000000", "aux1"),
     "9: gateways[0].origin.gateway: the zero address"},
    /* URLs */
    {"database: { url: \"h\" }\nchains:\n  origin: { role: origin, chain_id: 1, endpoints: "
     "[\"ftp://h\"] }\n",
     "3: chains.origin.endpoints[0]: scheme 'ftp' is not supported; expected an http:// or "
     "https:// URL"},
    {"database: { url: \"h\" }\nchains:\n  origin: { role: origin, chain_id: 1, endpoints: "
     "[\"http://h\", \"http://h:0\"] }\n",
     "3: chains.origin.endpoints[1]: not a valid URL (scheme://host[:port])"},
    {"database: { url: \"h\" }\nchains:\n  origin: { role: origin, chain_id: 1, endpoints: "
     "[\"http://h\", \"http://h\"] }\n",
     "3: chains.origin.endpoints[1]: the same URL as item 0; expected distinct endpoints"},
    {"database: { url: \"h\" }\nchains:\n  origin: { role: origin, chain_id: 1, endpoints: "
     "[\"http://h\"], ws: \"http://h\" }\n",
     "3: chains.origin.ws: scheme 'http' is not supported; expected a ws:// or wss:// URL"},
    {HEAD "metrics: { listen: \"localhost\" }\n",
     "7: metrics.listen: not a listen address; expected host:port"},
    /* references and rules across keys */
    {HEAD GATEWAY("origin", ADDR1, "aux9"),
     "10: gateways[0].auxiliary.chain: unknown chain 'aux9'; expected one defined under chains: "
     "origin, aux1"},
    {HEAD GATEWAY("aux1", ADDR1, "aux1"),
     "9: gateways[0].origin.chain: chain 'aux1' has role auxiliary; expected a chain with role "
     "origin"},
    {HEAD GATEWAY("origin", ADDR1, "aux1") "  - name: ost-aux1\n"
                                           "    origin: { chain: origin, gateway: \"" ADDR2
                                           "\", anchor: \"" ADDR2 "\" }\n"
                                           "    auxiliary: { chain: aux1, cogateway: \"" ADDR3
                                           "\", anchor: \"" ADDR4 "\" }\n",
     "11: gateways[1].name: 'ost-aux1' is also the name of gateways[0]; expected a distinct"},
    {HEAD "  anchor: { keystore: k.json, password_file: k.pass }\n"
          "  aux2: { keystore: k.json, password_file: k.pass }\n"
          "deploy: { deployer: payer, pairs: [] }\n",
     "9: deploy.deployer: unknown signing key 'payer'; expected one defined under keys: facilitator, "
     "anchor, aux2"},
    {HEAD "deploy:\n  deployer: facilitator\n  pairs:\n    - { name: p, origin: aux1, "
          "auxiliary: aux1 }\n",
     "10: deploy.pairs[0].origin: chain 'aux1' has role auxiliary; expected a chain with role "
     "origin"},
    {"database: { url: \"h\" }\nchains:\n  origin: { role: origin, chain_id: 7, endpoints: "
     "[\"http://a\"], finality: { tag: finalized } }\n  aux1: { role: auxiliary, chain_id: 7, "
     "endpoints: [\"http://b\"], finality: { tag: finalized } }\n",
     "4: chains.aux1.chain_id: chain id 7 is also chains.origin's (line 3); expected a distinct "
     "chain id"},
    {"database: { url: \"h\" }\nchains:\n  origin: { role: origin, chain_id: 1, endpoints: "
     "[\"http://a\"], quorum: 2, finality: { tag: finalized } }\n",
     "3: chains.origin.quorum: 2 is more than the 1 endpoint; expected at most the number of "
     "endpoints"},
    /* files and secrets */
    {HEAD "  anchor: { keystore: k.json, password_file: open.pass }\n",
     "7: keys.anchor.password_file: mode 0644 lets group or others access it; expected "
     "owner-only access: chmod 600 /tmp/mrtest."},
    {HEAD "  anchor: { keystore: group.json, password_file: k.pass }\n",
     "7: keys.anchor.keystore: mode 0640 lets group or others access it; expected owner-only "
     "access: chmod 600 /tmp/mrtest."},
    {HEAD "  anchor: { keystore: k.json, pasword_file: k.pass }\n",
     "7: keys.anchor.pasword_file: unknown key (did you mean 'password_file'?); expected one of "
     "keystore, password_file, password_env"},
    {HEAD "  anchor: { keystore: k.json, password_env: MR_TEST_UNSET_VARIABLE }\n",
     "7: keys.anchor.password_env: environment variable MR_TEST_UNSET_VARIABLE is not set"},
    {HEAD "  anchor: 5\n", "7: keys.anchor: not a mapping; expected a mapping of its settings"},
    {HEAD "  anchor: { keystore: k.json, password: hunter2 }\n",
     "7: keys.anchor.password: an inline secret is refused (its value is not shown); expected "
     "password_file: PATH"},
    {HEAD "private_key: \"0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80\"\n",
     "7: private_key: an inline secret is refused"},
    {"database: { url: \"postgresql://mr:hunter2@127.0.0.1/x\" }\n",
     "1: database.url: holds a password (not shown); expected no secret in the file: url_env"},
    {"database: { url: \"host=h password=hunter2\" }\n",
     "1: database.url: holds a password (not shown)"},
    /* the environment */
    {"database: { url_env: MR_TEST_UNSET_VARIABLE }\n",
     "1: database.url_env: environment variable MR_TEST_UNSET_VARIABLE is not set; expected it "
     "set"},
    {"database: { url: \"${MR_TEST_UNSET_VARIABLE}\" }\n",
     "1: database.url: environment variable MR_TEST_UNSET_VARIABLE is not set; expected it set, "
     "or a default: ${MR_TEST_UNSET_VARIABLE:-VALUE}"},
    {"database: { url: \"${BAD NAME}\" }\n", "1: database.url: a malformed ${...}"},
    {"database: { url: h }\nchains:\n  origin: { role: \"${MR_TEST_ROLE}\" }\n",
     "3: chains.origin.role: '(value not shown)' is not a known value; expected one of origin"},
    {"database: { url: h }\nchains:\n  origin: { role: \"${MR_TEST_UNSET_VARIABLE:-aux}\" }\n",
     "3: chains.origin.role: 'aux' is not a known value; expected one of origin"},
    {"database: { url: \"${HOME\" }\n", "1: database.url: a malformed ${...}"},
};

/* Cases whose message holds this test's directory: want, then also. */
static const struct {
    const char *yaml, *want, *also;
} broken_paths[] = {
    {HEAD "  anchor: { keystore: nope.json, password_file: k.pass }\n",
     "7: keys.anchor.keystore: /tmp/mrtest.",
     "/nope.json: No such file or directory; expected a v3 keystore file only its owner can "
     "read (mode 0600)"},
    {HEAD "  anchor: { keystore: ., password_file: k.pass }\n",
     "7: keys.anchor.keystore: /tmp/mrtest.", "/. is not a regular file; expected a v3 keystore"},
    {HEAD "  anchor: { keystore: k.json, password_file: missing.pass }\n",
     "7: keys.anchor.password_file: /tmp/mrtest.",
     "/missing.pass: No such file or directory; expected a password file only its owner can "
     "read (mode 0600)"},
};

/* Loads one broken file: 1 if its message is not the one wanted (printed),
 * 0 if it is.  `also` (may be NULL) must appear too. */
static int broken_one(size_t i, const char *yaml, const char *want, const char *also)
{
    struct config *c = (struct config *)1;
    struct mr_error err;
    char prefix[600];
    size_t n = (size_t)snprintf(prefix, sizeof(prefix), "%s/relayer.yaml:", dir);

    if (load(yaml, &c, &err) == MR_OK)
        fail_msg("case %zu loaded; wanted %s", i, want);
    assert_null(c);
    if (getenv("MR_TEST_SHOW"))
        print_message("%s\n", err.msg + strlen(dir) + 1);
    assert_null(strchr(err.msg, '\n'));
    assert_null(strstr(err.msg, "hunter2"));
    assert_null(strstr(err.msg, "ac0974bec39a17e36ba4"));
    if (strncmp(err.msg, prefix, n) == 0 && strncmp(err.msg + n, want, strlen(want)) == 0 &&
        strstr(err.msg, "; expected ") != NULL && (also == NULL || strstr(err.msg, also)))
        return 0;
    print_message("case %zu:\n got: %s\nwant: %s%s ... %s\n", i, err.msg, prefix, want,
                  also ? also : "");
    return 1;
}

static void test_broken(void **state)
{
    size_t n = sizeof(broken) / sizeof(broken[0]), np = sizeof(broken_paths) /
                                                        sizeof(broken_paths[0]);
    int bad = 0;
    (void)state;

    setenv("MR_TEST_ROLE", "hunter2", 1);
    for (size_t i = 0; i < n; i++)
        bad += broken_one(i, broken[i].yaml, broken[i].want, NULL);
    for (size_t i = 0; i < np; i++)
        bad += broken_one(n + i, broken_paths[i].yaml, broken_paths[i].want, broken_paths[i].also);
    assert_int_equal(bad, 0);
    print_message("%zu broken configs, each with its message\n", n + np);
}

static void assert_dec(const struct u256 *v, const char *dec)
{
    char buf[U256_DEC_MAX];

    u256_to_dec(v, buf, sizeof(buf));
    assert_string_equal(buf, dec);
}

static void assert_addr(const uint8_t a[20], const char *text)
{
    uint8_t want[20];

    assert_int_equal(address_parse(text, strlen(text), want, NULL), MR_OK);
    assert_memory_equal(a, want, 20);
}

static void test_file_too_big(void **state)
{
    size_t n = CONFIG_MAX_BYTES + 1;
    char *big = malloc(n + 1), want[600];
    struct config *c;
    struct mr_error err;
    (void)state;

    memset(big, '#', n);
    big[n] = '\0';
    assert_int_not_equal(load(big, &c, &err), MR_OK);
    snprintf(want, sizeof(want), "%s/relayer.yaml:1: (file): larger than %d bytes; expected at "
             "most", dir, CONFIG_MAX_BYTES);
    assert_memory_equal(err.msg, want, strlen(want));
    assert_int_equal(config_load(dir, &c, &err), MR_ERR_IO);
    assert_non_null(strstr(err.msg, ":1: (file): Is a directory; expected a readable config"));
    assert_int_equal(config_load("/nonexistent/relayer.yaml", &c, &err), MR_ERR_IO);
    assert_string_equal(err.msg, "/nonexistent/relayer.yaml:1: (file): No such file or "
                                 "directory; expected a readable config file");
    assert_int_equal(config_load_buffer(big, n, "mem.yaml", NULL, &c, &err), MR_ERR_TOOBIG);
    assert_non_null(strstr(err.msg, "mem.yaml:1: (file):"));
    /* Exactly the cap is fine as far as size goes (a comment). */
    big[CONFIG_MAX_BYTES - 1] = '\n';
    assert_int_equal(config_load_buffer(big, CONFIG_MAX_BYTES, "mem.yaml", NULL, &c, &err),
                     MR_ERR_INVALID);
    assert_non_null(strstr(err.msg, "mem.yaml:1: (file): empty"));
    free(big);
}

/* Aliases of aliases (a "billion laughs") cost nothing: the walker only
 * goes where the schema leads. */
static void test_alias_bomb(void **state)
{
    char yaml[4096];
    struct config *c;
    struct mr_error err;
    size_t n;
    (void)state;

    n = (size_t)snprintf(yaml, sizeof(yaml), HEAD "x0: &a0 [lol, lol, lol, lol, lol, lol]\n");
    for (int i = 1; i < 20; i++)
        n += (size_t)snprintf(yaml + n, sizeof(yaml) - n,
                              "x%d: &a%d [*a%d, *a%d, *a%d, *a%d, *a%d, *a%d]\n", i, i, i - 1,
                              i - 1, i - 1, i - 1, i - 1, i - 1);
    assert_int_not_equal(load(yaml, &c, &err), MR_OK);
    assert_non_null(strstr(err.msg, "relayer.yaml:7: x0: unknown key"));
    /* Under a known key: still one look at the first item. */
    n = (size_t)snprintf(yaml, sizeof(yaml), HEAD "relayer:\n  flows: [&a0 [lol, lol, lol]");
    for (int i = 1; i < 20; i++)
        n += (size_t)snprintf(yaml + n, sizeof(yaml) - n, ", &a%d [*a%d, *a%d, *a%d, *a%d]", i,
                              i - 1, i - 1, i - 1, i - 1);
    snprintf(yaml + n, sizeof(yaml) - n, "]\n");
    assert_int_not_equal(load(yaml, &c, &err), MR_OK);
    assert_non_null(strstr(err.msg, "relayer.yaml:8: relayer.flows[0]: got a list"));
    /* A mapping that contains itself. */
    assert_int_not_equal(load("database: { url: h }\nchains: &c\n  origin: *c\n", &c, &err),
                         MR_OK);
    assert_non_null(strstr(err.msg, "relayer.yaml:3: chains.origin.origin: unknown key"));
}

static const char full_yaml[] =
    "# every key set, none to its default\n"
    "database:\n"
    "  url_env: MR_TEST_DB_URL\n"
    "chains:\n"
    "  origin:\n"
    "    role: origin\n"
    "    chain_id: 0x3e8\n"
    "    endpoints: [\"http://127.0.0.1:8545\", \"https://user@node.example.com:8443/rpc\"]\n"
    "    ws: \"wss://node.example.com/ws\"\n"
    "    finality: { confirmations: 12 }\n"
    "    quorum: 2\n"
    "    poll_interval: 250ms\n"
    "    start_block: 123456\n"
    "    fees: &fees { max_fee_gwei: 1.5, max_tip_gwei: \"0.25\", bump_percent: 25,\n"
    "                  stuck_after: 5m, legacy: yes }\n"
    "  aux1:\n"
    "    role: auxiliary\n"
    "    chain_id: 2001\n"
    "    endpoints: \"${MR_TEST_AUX_URL:-http://127.0.0.1:9545}\"\n"
    "    finality: { tag: finalized }\n"
    "    fees: *fees\n"
    "keys:\n"
    "  facilitator: { keystore: k.json, password_file: k.pass }\n"
    "  anchor: { keystore: \"${MR_TEST_DIR}/k.json\", password_env: MR_TEST_PW }\n"
    "gateways:\n"
    "  - name: ost-aux1\n"
    "    origin: { chain: origin, gateway: \"" ADDR1 "\", anchor: \"" ADDR2 "\" }\n"
    "    auxiliary: { chain: aux1, cogateway: \"" ADDR3 "\", anchor: \"" ADDR4 "\" }\n"
    "relayer:\n"
    "  flows: [redeem, revert]\n"
    "  workers: 16\n"
    "  anchor: { enabled: false, max_interval: 1h }\n"
    "  min_bounty: \"1e15\"\n"
    "  limits: { per_message: \"2.5e18\", per_hour: \"100000000000000000000\" }\n"
    "  job_timeout: 90\n"
    "metrics: { listen: \"0.0.0.0:9464\" }\n"
    "log: { level: debug, format: json }\n"
    "deploy:\n"
    "  deployer: facilitator\n"
    "  owner: \"0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed\"\n"
    "  admin: anchor\n"
    "  bounty: \"0\"\n"
    "  max_state_roots: 10\n"
    "  max_storage_root_items: 50\n"
    "  state_file: state/deploy.json\n"
    "  output: /var/tmp/relayer.yaml\n"
    "  pairs:\n"
    "    - name: origin-aux1\n"
    "      origin: origin\n"
    "      auxiliary: aux1\n"
    "      value_token: \"" ADDR3 "\"\n"
    "      base_token: deploy\n"
    "      token: { symbol: WETH, name: \"Wrapped Ether\", decimals: 6, supply: \"1e24\" }\n";

static void check_full_chains(const struct config *c)
{
    const struct config_chain *o = &c->chains[0], *a = &c->chains[1];

    assert_int_equal(c->n_chains, 2);
    assert_string_equal(o->key, "origin");
    assert_int_equal(o->role, CONFIG_ROLE_ORIGIN);
    assert_int_equal(o->chain_id, 1000);
    assert_int_equal(o->n_endpoints, 2);
    assert_string_equal(o->endpoints[1], "https://user@node.example.com:8443/rpc");
    assert_string_equal(o->ws, "wss://node.example.com/ws");
    assert_int_equal(o->confirmations, 12);
    assert_int_equal(o->use_finalized_tag, 0);
    assert_int_equal(o->quorum, 2);
    assert_int_equal(o->poll_interval_ms, 250);
    assert_int_equal(o->start_block, 123456);
    assert_dec(&o->fees.max_fee, "1500000000");
    assert_dec(&o->fees.max_tip, "250000000");
    assert_int_equal(o->fees.bump_percent, 25);
    assert_int_equal(o->fees.stuck_after_ms, 300000);
    assert_int_equal(o->fees.legacy, 1);
    assert_int_equal(o->line, 5);
    assert_string_equal(a->key, "aux1");
    assert_int_equal(a->role, CONFIG_ROLE_AUXILIARY);
    assert_int_equal(a->n_endpoints, 1);
    assert_string_equal(a->endpoints[0], "http://127.0.0.1:9545");
    assert_int_equal(a->use_finalized_tag, 1);
    assert_int_equal(a->fees.bump_percent, 25); /* through the alias */
    assert_int_equal(config_chain_index(c, "aux1"), 1);
    assert_int_equal(config_chain_index(c, "aux2"), -1);
}

static void check_full_rest(const struct config *c)
{
    char path[600];

    assert_string_equal(c->database_url, "host=127.0.0.1 dbname=full");
    assert_string_equal(c->database_url_env, "MR_TEST_DB_URL");
    assert_int_equal(c->n_keys, 2);
    snprintf(path, sizeof(path), "%s/k.json", dir);
    assert_string_equal(c->keys[0].keystore, path);
    assert_string_equal(c->keys[1].keystore, path);
    snprintf(path, sizeof(path), "%s/k.pass", dir);
    assert_string_equal(c->keys[0].password_file, path);
    assert_string_equal(c->keys[1].password_file, "");
    assert_string_equal(c->keys[1].password_env, "MR_TEST_PW");
    assert_int_equal(c->n_gateways, 1);
    assert_string_equal(c->gateways[0].name, "ost-aux1");
    assert_int_equal(c->gateways[0].origin.chain, 0);
    assert_int_equal(c->gateways[0].auxiliary.chain, 1);
    assert_addr(c->gateways[0].origin.gateway, ADDR1);
    assert_addr(c->gateways[0].origin.anchor, ADDR2);
    assert_addr(c->gateways[0].auxiliary.gateway, ADDR3);
    assert_addr(c->gateways[0].auxiliary.anchor, ADDR4);
    assert_int_equal(c->gateways[0].line, 26);
    assert_int_equal(config_gateway_index(c, "ost-aux1"), 0);
    assert_int_equal(c->relayer.flows, CONFIG_FLOW_REDEEM | CONFIG_FLOW_REVERT);
    assert_int_equal(c->relayer.workers, 16);
    assert_int_equal(c->relayer.anchor_enabled, 0);
    assert_int_equal(c->relayer.anchor_max_interval_ms, 3600000);
    assert_dec(&c->relayer.min_bounty, "1000000000000000");
    assert_dec(&c->relayer.limit_per_message, "2500000000000000000");
    assert_dec(&c->relayer.limit_per_hour, "100000000000000000000");
    assert_int_equal(c->relayer.job_timeout_ms, 90000);
    assert_string_equal(c->metrics_listen, "0.0.0.0:9464");
    assert_int_equal(c->log_level, 3);
    assert_int_equal(c->log_format, CONFIG_LOG_JSON);
}

static void check_full_deploy(const struct config *c)
{
    const struct config_deploy *d = &c->deploy;
    const struct config_deploy_pair *p = &d->pairs[0];
    char path[600];

    assert_int_equal(d->present, 1);
    assert_int_equal(d->deployer, 0);
    assert_int_equal(d->admin, 1);
    assert_int_equal(d->has_owner, 1);
    assert_addr(d->owner, ADDR1);
    assert_true(u256_is_zero(&d->bounty));
    assert_int_equal(d->max_state_roots, 10);
    assert_int_equal(d->max_storage_root_items, 50);
    snprintf(path, sizeof(path), "%s/state/deploy.json", dir);
    assert_string_equal(d->state_file, path);
    assert_string_equal(d->output, "/var/tmp/relayer.yaml");
    assert_int_equal(d->n_pairs, 1);
    assert_string_equal(p->name, "origin-aux1");
    assert_int_equal(p->origin, 0);
    assert_int_equal(p->auxiliary, 1);
    assert_int_equal(p->deploy_value_token, 0);
    assert_addr(p->value_token, ADDR3);
    assert_int_equal(p->deploy_base_token, 1);
    assert_string_equal(p->token_symbol, "WETH");
    assert_string_equal(p->token_name, "Wrapped Ether");
    assert_int_equal(p->token_decimals, 6);
    assert_dec(&p->token_supply, "1000000000000000000000000");
}

static void test_full(void **state)
{
    struct config *c;
    struct mr_error err;
    (void)state;

    setenv("MR_TEST_DB_URL", "host=127.0.0.1 dbname=full", 1);
    setenv("MR_TEST_PW", "not read", 1);
    setenv("MR_TEST_DIR", dir, 1);
    unsetenv("MR_TEST_AUX_URL");
    if (load(full_yaml, &c, &err) != MR_OK)
        fail_msg("%s", err.msg);
    check_full_chains(c);
    check_full_rest(c);
    check_full_deploy(c);
    config_free(c);
    /* ${VAR} wins over its default when set. */
    setenv("MR_TEST_AUX_URL", "https://aux.example.com", 1);
    assert_int_equal(load(full_yaml, &c, &err), MR_OK);
    assert_string_equal(c->chains[1].endpoints[0], "https://aux.example.com");
    config_free(c);
    unsetenv("MR_TEST_AUX_URL");
}

static void test_defaults(void **state)
{
    struct config *c;
    struct mr_error err;
    const struct config_chain *o;
    char path[600];
    (void)state;

    if (load(HEAD "deploy: { deployer: facilitator, pairs: [{ name: p, origin: origin, "
                  "auxiliary: aux1 }] }\n", &c, &err) != MR_OK)
        fail_msg("%s", err.msg);
    o = &c->chains[0];
    assert_string_equal(c->database_url, "host=127.0.0.1 dbname=x");
    assert_string_equal(c->database_url_env, "");
    assert_string_equal(o->ws, "");
    assert_int_equal(o->use_finalized_tag, 1);
    assert_int_equal(c->chains[1].confirmations, 2);
    assert_int_equal(o->quorum, 1);
    assert_int_equal(o->poll_interval_ms, 1000);
    assert_int_equal(o->start_block, 0);
    assert_dec(&o->fees.max_fee, "500000000000");
    assert_dec(&o->fees.max_tip, "10000000000");
    assert_int_equal(o->fees.bump_percent, 12);
    assert_int_equal(o->fees.stuck_after_ms, 30000);
    assert_int_equal(o->fees.legacy, 0);
    assert_int_equal(c->n_gateways, 0);
    assert_int_equal(c->relayer.flows, CONFIG_FLOW_STAKE | CONFIG_FLOW_REDEEM | CONFIG_FLOW_REVERT);
    assert_int_equal(c->relayer.workers, 4);
    assert_int_equal(c->relayer.anchor_enabled, 1);
    assert_int_equal(c->relayer.anchor_max_interval_ms, 60000);
    assert_true(u256_is_zero(&c->relayer.min_bounty));
    assert_true(u256_is_zero(&c->relayer.limit_per_message));
    assert_true(u256_is_zero(&c->relayer.limit_per_hour));
    assert_int_equal(c->relayer.job_timeout_ms, 120000);
    assert_string_equal(c->metrics_listen, "");
    assert_int_equal(c->log_level, 2);
    assert_int_equal(c->log_format, CONFIG_LOG_AUTO);
    assert_int_equal(c->deploy.present, 1);
    assert_int_equal(c->deploy.admin, -1);
    assert_int_equal(c->deploy.has_owner, 0);
    assert_dec(&c->deploy.bounty, "100");
    assert_int_equal(c->deploy.max_state_roots, 100);
    assert_int_equal(c->deploy.max_storage_root_items, 100);
    snprintf(path, sizeof(path), "%s/deploy-state.json", dir);
    assert_string_equal(c->deploy.state_file, path);
    snprintf(path, sizeof(path), "%s/deployed.yaml", dir);
    assert_string_equal(c->deploy.output, path);
    assert_int_equal(c->deploy.pairs[0].deploy_value_token, 1);
    assert_int_equal(c->deploy.pairs[0].deploy_base_token, 1);
    assert_string_equal(c->deploy.pairs[0].token_symbol, "MOST");
    assert_string_equal(c->deploy.pairs[0].token_name, "Mosaic OST");
    assert_int_equal(c->deploy.pairs[0].token_decimals, 18);
    assert_dec(&c->deploy.pairs[0].token_supply, "1000000000000000000000000000");
    config_free(c);
    /* Without a deploy section: not present, and no key index 0 by accident. */
    assert_int_equal(load(HEAD, &c, &err), MR_OK);
    assert_int_equal(c->deploy.present, 0);
    assert_int_equal(c->deploy.admin, -1);
    assert_int_equal(c->deploy.deployer, -1);
    assert_int_equal(c->n_keys, 1);
    config_free(c);
}

/* A password file at 0600 loads; chmod 644 is refused with the fix; back
 * to 0600 loads again. */
static void test_password_mode(void **state)
{
    char path[600];
    struct config *c;
    struct mr_error err;
    (void)state;

    snprintf(path, sizeof(path), "%s/k.pass", dir);
    assert_int_equal(load(HEAD, &c, &err), MR_OK);
    config_free(c);
    assert_int_equal(chmod(path, 0644), 0);
    assert_int_equal(load(HEAD, &c, &err), MR_ERR_PERM);
    assert_non_null(strstr(err.msg, "relayer.yaml:6: keys.facilitator.password_file: mode 0644"));
    assert_non_null(strstr(err.msg, "chmod 600 "));
    assert_non_null(strstr(err.msg, path));
    assert_int_equal(chmod(path, 0604), 0);
    assert_int_equal(load(HEAD, &c, &err), MR_ERR_PERM);
    assert_int_equal(chmod(path, 0400), 0);
    assert_int_equal(load(HEAD, &c, &err), MR_OK);
    config_free(c);
}

/* The db commands read database.url (or url_env) from a file whose rest
 * may be anything. */
static void test_database_url(void **state)
{
    char path[600], url[128];
    struct mr_error err;
    (void)state;

    snprintf(path, sizeof(path), "%s/relayer.yaml", dir);
    put_text("relayer.yaml", "chains: nonsense\ndatabase:\n  url: \"host=a dbname=b\"\n");
    assert_int_equal(config_database_url(path, url, sizeof(url), &err), MR_OK);
    assert_string_equal(url, "host=a dbname=b");
    setenv("MR_TEST_DB_URL", "postgresql://x@y/z", 1);
    put_text("relayer.yaml", "database: { url_env: MR_TEST_DB_URL }\nunknown: 1\n");
    assert_int_equal(config_database_url(path, url, sizeof(url), &err), MR_OK);
    assert_string_equal(url, "postgresql://x@y/z");
    put_text("relayer.yaml", "database: { url: \"${MR_TEST_DB_URL}\" }\n");
    assert_int_equal(config_database_url(path, url, sizeof(url), &err), MR_OK);
    assert_string_equal(url, "postgresql://x@y/z");
    put_text("relayer.yaml", "database: { url_env: MR_TEST_UNSET_VARIABLE }\n");
    assert_int_equal(config_database_url(path, url, sizeof(url), &err), MR_ERR_NOTFOUND);
    assert_non_null(strstr(err.msg, "relayer.yaml:1: database.url_env: environment variable "
                                    "MR_TEST_UNSET_VARIABLE is not set"));
    put_text("relayer.yaml", "chains: {}\n");
    assert_int_equal(config_database_url(path, url, sizeof(url), &err), MR_ERR_NOTFOUND);
    put_text("relayer.yaml", "database:\n  url: [a]\n");
    assert_int_equal(config_database_url(path, url, sizeof(url), &err), MR_ERR_INVALID);
    assert_non_null(strstr(err.msg, "relayer.yaml:2: database.url: not a single value"));
    put_text("relayer.yaml", "database:\n  url: \"0123456789\"\n");
    assert_int_equal(config_database_url(path, url, 5, &err), MR_ERR_TOOBIG);
}

static void test_buffer(void **state)
{
    static const char text[] = HEAD;
    struct config *c;
    struct mr_error err;
    (void)state;

    /* Relative paths land in base_dir. */
    assert_int_equal(config_load_buffer(text, strlen(text), "inline", dir, &c, &err), MR_OK);
    assert_string_equal(c->path, "inline");
    assert_non_null(strstr(c->keys[0].keystore, dir));
    config_free(c);
    assert_int_equal(config_load_buffer(text, strlen(text), "inline", "/nonexistent", &c, &err),
                     MR_ERR_IO);
    assert_null(c);
    assert_non_null(strstr(err.msg, "inline:6: keys.facilitator.keystore: /nonexistent/k.json"));
    /* Not NUL-terminated: only len bytes count. */
    assert_int_equal(config_load_buffer("database: { url: h }\nXX", 21, "n", dir, &c, &err),
                     MR_ERR_INVALID);
    assert_non_null(strstr(err.msg, "n:1: chains: missing"));
    assert_int_equal(config_load_buffer("a: \"\\0\"\n", 8, "n", dir, &c, &err), MR_ERR_INVALID);
    assert_non_null(strstr(err.msg, "n:1: a: unknown key"));
    assert_int_equal(config_load_buffer("database: { url: \"a\\0b\" }\n", 26, "n", dir, &c, &err),
                     MR_ERR_INVALID);
    assert_non_null(strstr(err.msg, "n:1: database.url: holds a NUL character"));
}

/* The example configs in config/ load (with their keys and environment
 * provided). */
static char *read_all(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf = calloc(1, 1 << 20);
    size_t n;

    if (f == NULL)
        fail_msg("%s: cannot open (run from the repository root)", path);
    n = fread(buf, 1, (1 << 20) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static void test_examples(void **state)
{
    char keys[600], *text, *p;
    struct config *c;
    struct mr_error err;
    (void)state;

    /* devnet.yaml: keys under $MOSAIC_DEVNET_DIR/keys. */
    snprintf(keys, sizeof(keys), "%s/keys", dir);
    assert_int_equal(mkdir(keys, 0700), 0);
    put("keys/facilitator.json", "{}", 2, 0600);
    put("keys/facilitator.pass", "x", 1, 0600);
    put("keys/anchor.json", "{}", 2, 0600);
    put("keys/anchor.pass", "x", 1, 0600);
    setenv("MOSAIC_DEVNET_DIR", dir, 1);
    setenv("MOSAIC_DATABASE_URL", "host=127.0.0.1 dbname=mosaic", 1);
    if (config_load("config/devnet.yaml", &c, &err) != MR_OK)
        fail_msg("%s", err.msg);
    assert_int_equal(c->n_chains, 3);
    assert_int_equal(c->chains[0].chain_id, 1000);
    assert_int_equal(c->chains[2].chain_id, 2002);
    assert_string_equal(c->database_url, "host=127.0.0.1 dbname=mosaic");
    assert_int_equal(c->deploy.n_pairs, 2);
    config_free(c);
    /* production.example.yaml: /etc/mosaic-relayer/ moved to our dir. */
    text = read_all("config/production.example.yaml");
    while ((p = strstr(text, "/etc/mosaic-relayer/keys")) != NULL) {
        memmove(p + strlen(dir) + 5, p + 24, strlen(p + 24) + 1);
        memcpy(p, dir, strlen(dir));
        memcpy(p + strlen(dir), "/keys", 5);
    }
    setenv("MOSAIC_DATABASE_URL", "postgresql://relayer@db.internal/mosaic", 1);
    if (config_load_buffer(text, strlen(text), "production.example.yaml", dir, &c, &err) != MR_OK)
        fail_msg("%s", err.msg);
    assert_int_equal(c->n_gateways, 2);
    assert_int_equal(c->chains[0].quorum, 2);
    config_free(c);
    free(text);
}

/* Amounts and durations, at their edges. */
static void test_values(void **state)
{
    static const struct {
        const char *text;
        unsigned scale;
        int rc;
        const char *dec;
    } amounts[] = {
        {"0", 0, MR_OK, "0"},
        {"00012", 0, MR_OK, "12"},
        {"1e18", 0, MR_OK, "1000000000000000000"},
        {"1E+3", 0, MR_OK, "1000"},
        {"2.5e18", 0, MR_OK, "2500000000000000000"},
        {"1.50", 1, MR_OK, "15"},
        {"1.5", 0, MR_ERR_INVALID, NULL},
        {"1.5", 9, MR_OK, "1500000000"},
        {"0.000000001", 9, MR_OK, "1"},
        {"0.0000000001", 9, MR_ERR_INVALID, NULL},
        {"0e9999", 0, MR_OK, "0"},
        {"1e10000", 0, MR_ERR_INVALID, NULL},
        {"1e78", 0, MR_ERR_RANGE, NULL},
        {"115792089237316195423570985008687907853269984665640564039457584007913129639935", 0,
         MR_OK, "115792089237316195423570985008687907853269984665640564039457584007913129639935"},
        {"115792089237316195423570985008687907853269984665640564039457584007913129639936", 0,
         MR_ERR_RANGE, NULL},
        {"", 0, MR_ERR_INVALID, NULL},
        {"1.", 0, MR_ERR_INVALID, NULL},
        {".5", 9, MR_ERR_INVALID, NULL},
        {"1e", 0, MR_ERR_INVALID, NULL},
        {"-1", 0, MR_ERR_INVALID, NULL},
        {"0x10", 0, MR_ERR_INVALID, NULL},
        {"1 000", 0, MR_ERR_INVALID, NULL},
    };
    static const struct {
        const char *text;
        int ok;
        int64_t ms;
    } durations[] = {
        {"250ms", 1, 250}, {"30s", 1, 30000}, {"5m", 1, 300000}, {"1h", 1, 3600000},
        {"90", 1, 90000}, {"0", 1, 0}, {"999999999999h", 1, 999999999999LL * 3600000},
        {"1d", 0, 0}, {"", 0, 0}, {"1.5s", 0, 0}, {"s", 0, 0}, {"9999999999999", 0, 0},
        {"-1s", 0, 0}, {"1 s", 0, 0},
    };
    char big[400];
    struct u256 v;
    int64_t ms;
    (void)state;

    for (size_t i = 0; i < sizeof(amounts) / sizeof(amounts[0]); i++) {
        int rc = cfg_parse_amount(amounts[i].text, amounts[i].scale, &v);
        if (rc != amounts[i].rc)
            fail_msg("amount '%s': %d, want %d", amounts[i].text, rc, amounts[i].rc);
        if (rc == MR_OK)
            assert_dec(&v, amounts[i].dec);
    }
    /* 100 digits on each side is the most read; zeros are not special. */
    memset(big, '0', 201);
    big[99] = '7';
    big[100] = '.';
    big[201] = '\0';
    assert_int_equal(cfg_parse_amount(big, 0, &v), MR_OK);
    assert_dec(&v, "7");
    big[201] = '0'; /* 101 digits after the point */
    big[202] = '\0';
    assert_int_equal(cfg_parse_amount(big, 0, &v), MR_ERR_INVALID);
    memmove(big + 1, big, 203); /* 101 before it */
    assert_int_equal(cfg_parse_amount(big, 0, &v), MR_ERR_RANGE);
    memset(big, '2', 300);
    big[300] = '\0';
    assert_int_equal(cfg_parse_amount(big, 0, &v), MR_ERR_RANGE);
    big[150] = '.';
    assert_int_not_equal(cfg_parse_amount(big, 9, &v), MR_OK);
    for (size_t i = 0; i < sizeof(durations) / sizeof(durations[0]); i++) {
        int rc = cfg_parse_duration(durations[i].text, &ms);
        if ((rc == MR_OK) != durations[i].ok || (rc == MR_OK && ms != durations[i].ms))
            fail_msg("duration '%s'", durations[i].text);
    }
}

/* ---- config check, against the test chains and PostgreSQL ---- */

/* Deploys a contract whose code is one STOP byte, from anvil's unlocked
 * dev account #0.  Out: addr[20]. */
static void deploy_stub(const char *url, uint64_t chain_id, uint8_t addr[20])
{
    struct rpc_endpoints *e;
    struct eth_receipt r;
    struct mr_error err;
    json_t *res;
    uint8_t hash[32];
    int rc = MR_ERR_NOTFOUND;

    if (rpc_endpoints_new(&url, 1, chain_id, NULL, &e, &err) != MR_OK)
        fail_msg("%s", err.msg);
    if (rpc_call(e, "eth_sendTransaction",
                 json_pack("[{s:s, s:s}]", "from", "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266",
                           "data", "0x6001600c60003960016000f300"),
                 &res, NULL, &err) != MR_OK)
        fail_msg("%s", err.msg);
    assert_int_equal(ethrpc_fixed(res, "hash", hash, 32, &err), MR_OK);
    json_decref(res);
    for (int i = 0; i < 100 && rc == MR_ERR_NOTFOUND; i++) {
        memset(&r, 0, sizeof(r));
        if ((rc = ethrpc_get_receipt(e, hash, &r, NULL, &err)) == MR_ERR_NOTFOUND)
            usleep(100000);
    }
    if (rc != MR_OK)
        fail_msg("receipt: %s", err.msg);
    assert_true(r.has_contract_address);
    memcpy(addr, r.contract_address, 20);
    ethrpc_receipt_free(&r);
    rpc_endpoints_free(e);
}

/* Writes dir/check.yaml for the test chains. */
static void put_check_config(const char *db, uint64_t aux_id, const uint8_t og[20],
                             const uint8_t ag[20])
{
    char text[4096], a1[ADDRESS_TEXT_SIZE], a2[ADDRESS_TEXT_SIZE];

    address_to_checksum(og, a1);
    address_to_checksum(ag, a2);
    snprintf(text, sizeof(text),
             "database: { url: \"%s\" }\n"
             "chains:\n"
             "  origin: { role: origin, chain_id: 31337, endpoints: [\"%s\"], "
             "finality: { tag: finalized } }\n"
             "  aux: { role: auxiliary, chain_id: %llu, endpoints: [\"%s\"], "
             "finality: { confirmations: 0 } }\n"
             "keys:\n"
             "  facilitator: { keystore: real.json, password_file: k.pass }\n"
             "gateways:\n"
             "  - name: g\n"
             "    origin: { chain: origin, gateway: \"%s\", anchor: \"%s\" }\n"
             "    auxiliary: { chain: aux, cogateway: \"%s\", anchor: \"%s\" }\n",
             db, tv_anvil_url("ORIGIN"), (unsigned long long)aux_id, tv_anvil_url("AUX"), a1, a1,
             a2, a2);
    put_text("check.yaml", text);
}

static int run_check(char **out, char **errout)
{
    char path[600];

    snprintf(path, sizeof(path), "%s/check.yaml", dir);
    return tv_run_cli((const char *[]){"config", "check", path, NULL}, NULL, out, errout);
}

static int count(const char *s, const char *what)
{
    int n = 0;

    for (const char *p = strstr(s, what); p != NULL; p = strstr(p + 1, what))
        n++;
    return n;
}

static void test_check_cmd(void **state)
{
    uint8_t og[20], ag[20], none[20];
    char *ci, *fresh, *out, *err;
    PGconn *conn;
    (void)state;

    TV_REQUIRE_ANVIL();
    TV_REQUIRE_PG();
    conn = tv_pg_migrated(&ci);
    PQfinish(conn);
    fresh = tv_pg_newdb();
    put_keystore("real.json");
    deploy_stub(tv_anvil_url("ORIGIN"), 31337, og);
    deploy_stub(tv_anvil_url("AUX"), 1405, ag);
    /* All reachable and right. */
    put_check_config(ci, 1405, og, ag);
    if (run_check(&out, &err) != 0)
        fail_msg("stdout:\n%s\nstderr:\n%s", out, err);
    assert_int_equal(count(out, "FAIL"), 0);
    assert_int_equal(count(out, "\nok   "), 8); /* 2 endpoints, 4 contracts, database, key */
    assert_non_null(strstr(out, "ok   chains.origin.endpoints[0] http://127.0.0.1:"));
    assert_non_null(strstr(out, ": chain id 31337\n"));
    assert_non_null(strstr(out, "ok   gateways[0].auxiliary.cogateway "));
    assert_non_null(strstr(out, " on aux: 1 byte of code\n"));
    assert_non_null(strstr(out, "ok   database host 127.0.0.1 port "));
    assert_non_null(strstr(out, "ok   keys.facilitator: keystore parses, address "
                                "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"));
    free(out);
    free(err);
    /* The aux endpoint serves another chain than configured: that line
     * fails, and so do the contract checks on that chain. */
    put_check_config(ci, 1406, og, ag);
    assert_int_equal(run_check(&out, &err), 1);
    assert_non_null(strstr(out, "ok   chains.origin.endpoints[0]"));
    assert_non_null(strstr(out, "FAIL chains.aux.endpoints[0] http://127.0.0.1:"));
    assert_non_null(strstr(out, "serves chain id 1405, configured 1406"));
    assert_non_null(strstr(out, "FAIL gateways[0].auxiliary.anchor "));
    assert_non_null(strstr(out, "ok   gateways[0].origin.anchor "));
    if (getenv("MR_TEST_SHOW"))
        print_message("%s", out);
    assert_int_equal(count(out, "FAIL"), 3);
    free(out);
    free(err);
    /* No code at the origin gateway's address; an unmigrated database. */
    memset(none, 0x42, sizeof(none));
    put_check_config(fresh, 1405, none, ag);
    assert_int_equal(run_check(&out, &err), 1);
    assert_non_null(strstr(out, "FAIL gateways[0].origin.gateway 0x4242"));
    assert_non_null(strstr(out, "no code at this address"));
    assert_non_null(strstr(out, "FAIL database "));
    assert_non_null(strstr(out, "migrate"));
    if (getenv("MR_TEST_SHOW"))
        print_message("%s", out);
    assert_int_equal(count(out, "FAIL"), 3);
    free(out);
    free(err);
    free(ci);
    free(fresh);
}

static void test_check_usage(void **state)
{
    char *out, *err, path[600];
    (void)state;

    assert_int_equal(tv_run_cli((const char *[]){"config", "--help", NULL}, NULL, &out, &err), 0);
    assert_non_null(strstr(out, "usage: mosaic-relayer config check"));
    free(out);
    free(err);
    assert_int_equal(tv_run_cli((const char *[]){"config", "check", "--help", NULL}, NULL, &out,
                                &err), 0);
    free(out);
    free(err);
    assert_int_equal(tv_run_cli((const char *[]){"config", NULL}, NULL, &out, &err), 2);
    free(out);
    free(err);
    assert_int_equal(tv_run_cli((const char *[]){"config", "check", NULL}, NULL, &out, &err), 2);
    assert_non_null(strstr(err, "exactly one FILE"));
    free(out);
    free(err);
    assert_int_equal(tv_run_cli((const char *[]){"config", "lint", "x", NULL}, NULL, &out, &err),
                     2);
    free(out);
    free(err);
    assert_int_equal(tv_run_cli((const char *[]){"config", "check", "--bogus", "x", NULL}, NULL,
                                &out, &err), 2);
    free(out);
    free(err);
    /* An invalid file: exit 1, its one line on stderr, nothing checked. */
    put_text("bad.yaml", HEAD "relayer: { workers: 0 }\n");
    snprintf(path, sizeof(path), "%s/bad.yaml", dir);
    assert_int_equal(tv_run_cli((const char *[]){"config", "check", path, NULL}, NULL, &out,
                                &err), 1);
    assert_non_null(strstr(err, "bad.yaml:7: relayer.workers: 0 is out of range"));
    assert_int_equal(count(err, "\n"), 1);
    assert_string_equal(out, "");
    free(out);
    free(err);
    /* --offline validates only. */
    put_text("good.yaml", HEAD);
    snprintf(path, sizeof(path), "%s/good.yaml", dir);
    assert_int_equal(tv_run_cli((const char *[]){"config", "check", "--offline", path, NULL}, NULL,
                                &out, &err), 0);
    assert_non_null(strstr(out, "ok   "));
    assert_non_null(strstr(out, "good.yaml: valid (2 chains, 0 gateways, 1 keys)"));
    assert_int_equal(count(out, "\n"), 1);
    free(out);
    free(err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_broken, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_too_big, setup, teardown),
        cmocka_unit_test_setup_teardown(test_alias_bomb, setup, teardown),
        cmocka_unit_test_setup_teardown(test_full, setup, teardown),
        cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_password_mode, setup, teardown),
        cmocka_unit_test_setup_teardown(test_database_url, setup, teardown),
        cmocka_unit_test_setup_teardown(test_buffer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_examples, setup, teardown),
        cmocka_unit_test(test_values),
        cmocka_unit_test_setup_teardown(test_check_usage, setup, teardown),
        cmocka_unit_test_setup_teardown(test_check_cmd, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
