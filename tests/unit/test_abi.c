/*
 * test_abi.c - the contract ABI (eth/abi.h): type parsing, selectors and
 * topics, encoding against ethereum/tests ABITests, the Solidity ABI spec's
 * examples and the Mosaic call data vector, strict decoding of hostile
 * input, logs and revert data.
 */
#include "tests/lib/testlib.h"

#include <stdlib.h>
#include <string.h>

#include "eth/abi.h"
#include "eth/hex.h"
#include "eth/keccak.h"

#define LIT(s) (s), strlen(s)
#define NODES 256

/* ---- helpers ---- */

/* Hex (0x optional, spaces and newlines ignored) into out[cap]; fails the
 * test on bad hex.  Returns the length. */
static size_t unhex(const char *h, uint8_t *out, size_t cap)
{
    size_t n = 0;
    int hi = -1;

    if (h[0] == '0' && h[1] == 'x')
        h += 2;
    for (; *h; h++) {
        int d;
        if (*h == ' ' || *h == '\n')
            continue;
        d = hex_digit(*h);
        assert_true(d >= 0);
        if (hi < 0) {
            hi = d;
            continue;
        }
        assert_true(n < cap);
        out[n++] = (uint8_t)(hi << 4 | d);
        hi = -1;
    }
    assert_int_equal(hi, -1);
    return n;
}

static const struct abi_type *parse(struct abi_type *nodes, const char *s)
{
    struct mr_error err;

    mr_error_clear(&err);
    if (abi_parse_type(s, strlen(s), nodes, NODES, NULL, &err) != MR_OK)
        fail_msg("parse \"%s\": %s", s, err.msg);
    return &nodes[0];
}

static void parse_sig(struct abi_type *nodes, const char *s, struct abi_sig *sig)
{
    struct mr_error err;

    mr_error_clear(&err);
    if (abi_parse_signature(s, strlen(s), nodes, NODES, NULL, sig, &err) != MR_OK)
        fail_msg("parse signature \"%s\": %s", s, err.msg);
}

/* Deep comparison of two values of type t. */
static int value_equal(const struct abi_type *t, const struct abi_value *a,
                       const struct abi_value *b)
{
    const struct abi_type *c = t->child;

    switch (t->kind) {
    case ABI_UINT:
    case ABI_INT:
    case ABI_BOOL:
        return u256_cmp(&a->num, &b->num) == 0;
    case ABI_ADDRESS:
    case ABI_FIXED_BYTES:
    case ABI_BYTES:
    case ABI_STRING:
        return a->len == b->len && (a->len == 0 || memcmp(a->ptr, b->ptr, a->len) == 0);
    default:
        if (a->count != b->count)
            return 0;
        for (size_t i = 0; i < a->count; i++) {
            if (!value_equal(c, &a->items[i], &b->items[i]))
                return 0;
            if (t->kind == ABI_TUPLE)
                c = c->next;
        }
        return 1;
    }
}

/* Storage for values built by the tests. */
struct pool {
    struct abi_value v[4096];
    size_t nv;
    uint8_t b[1 << 16];
    size_t nb;
};

static struct pool pool;

static struct abi_value *pool_values(size_t n)
{
    assert_true(n <= 4096 - pool.nv);
    pool.nv += n;
    return pool.v + pool.nv - n;
}

static uint8_t *pool_bytes(size_t n)
{
    assert_true(n <= sizeof(pool.b) - pool.nb);
    pool.nb += n;
    return pool.b + pool.nb - n;
}

/* A value of type t from JSON: numbers as integers or decimal / 0x strings,
 * addresses as hex, bytes as raw strings (or hex when `hexbytes` and the
 * string starts with 0x), arrays and tuples as JSON arrays. */
static void from_json(const struct abi_type *t, json_t *j, int hexbytes, struct abi_value *out)
{
    const struct abi_type *c = t->child;
    struct abi_value *items;
    const char *s;
    uint8_t *p;

    memset(out, 0, sizeof(*out));
    switch (t->kind) {
    case ABI_UINT:
    case ABI_INT:
        if (json_is_integer(j)) {
            *out = abi_v_int((int64_t)json_integer_value(j));
        } else {
            assert_true(json_is_string(j));
            s = json_string_value(j);
            assert_int_equal(u256_parse(&out->num, s, strlen(s), NULL), MR_OK);
        }
        return;
    case ABI_BOOL:
        *out = abi_v_bool(json_is_true(j));
        return;
    case ABI_ADDRESS:
        p = pool_bytes(20);
        assert_int_equal(unhex(json_string_value(j), p, 20), 20);
        *out = abi_v_address(p);
        return;
    case ABI_FIXED_BYTES:
    case ABI_BYTES:
    case ABI_STRING:
        s = json_string_value(j);
        assert_non_null(s);
        if (hexbytes && strncmp(s, "0x", 2) == 0) {
            p = pool_bytes(strlen(s) / 2);
            out->len = unhex(s, p, strlen(s) / 2);
            out->ptr = p;
        } else {
            *out = abi_v_bytes(s, strlen(s));
        }
        return;
    default:
        assert_true(json_is_array(j));
        items = pool_values(json_array_size(j));
        for (size_t i = 0; i < json_array_size(j); i++) {
            from_json(c, json_array_get(j, i), hexbytes, &items[i]);
            if (t->kind == ABI_TUPLE)
                c = c->next;
        }
        *out = abi_v_list(items, json_array_size(j));
        return;
    }
}

/* Encodes v as t and compares with `hex`; decodes `hex` back, compares with
 * v, and re-encodes the decoded value to the same bytes. */
static void check_codec(const struct abi_type *t, const struct abi_value *v, const char *hex)
{
    static uint8_t want[8192], got[8192], again[8192];
    static struct abi_value nodes[1024];
    struct mr_error err;
    size_t wlen = unhex(hex, want, sizeof(want)), glen, n, used;

    mr_error_clear(&err);
    if (abi_encode(t, v, got, sizeof(got), &glen, &err) != MR_OK)
        fail_msg("encode: %s", err.msg);
    assert_int_equal(glen, wlen);
    assert_memory_equal(got, want, wlen);
    /* dry run gives the size */
    assert_int_equal(abi_encode(t, v, NULL, 0, &n, NULL), MR_ERR_TOOBIG);
    assert_int_equal(n, wlen);
    if (abi_decode(t, want, wlen, nodes, 1024, &used, &err) != MR_OK)
        fail_msg("decode: %s", err.msg);
    assert_true(value_equal(t, &nodes[0], v));
    assert_int_equal(abi_encode(t, &nodes[0], again, sizeof(again), &n, NULL), MR_OK);
    assert_int_equal(n, wlen);
    assert_memory_equal(again, want, wlen);
}

/* ---- type parsing ---- */

static void test_parse_valid(void **state)
{
    static const struct {
        const char *in, *canon;
        int dynamic;
        size_t head;
    } cases[] = {
        {"uint256", "uint256", 0, 32},
        {"uint", "uint256", 0, 32},
        {"int", "int256", 0, 32},
        {"int8", "int8", 0, 32},
        {"uint8", "uint8", 0, 32},
        {"uint248", "uint248", 0, 32},
        {"address", "address", 0, 32},
        {"bool", "bool", 0, 32},
        {"bytes1", "bytes1", 0, 32},
        {"bytes32", "bytes32", 0, 32},
        {"bytes", "bytes", 1, 32},
        {"string", "string", 1, 32},
        {"uint32[]", "uint32[]", 1, 32},
        {"uint8[3]", "uint8[3]", 0, 96},
        {"uint8[3][]", "uint8[3][]", 1, 32},
        {"uint8[][3]", "uint8[][3]", 1, 32},
        {"(uint256,bytes)[2]", "(uint256,bytes)[2]", 1, 32},
        {"(uint256,bool)[2]", "(uint256,bool)[2]", 0, 128},
        {"(uint, (int, address[2])[] )", "(uint256,(int256,address[2])[])", 1, 32},
        {" bytes3 [ 2 ] ", "bytes3[2]", 0, 64},
        {"uint256[32768]", "uint256[32768]", 0, 1u << 20},
        {"((((uint8))))", "((((uint8))))", 0, 32},
    };
    struct abi_type nodes[NODES];
    char out[128];
    (void)state;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct abi_type *t = parse(nodes, cases[i].in);
        assert_int_equal(abi_type_format(t, out, sizeof(out)), strlen(cases[i].canon));
        assert_string_equal(out, cases[i].canon);
        assert_int_equal(t->dynamic, cases[i].dynamic);
        assert_int_equal(t->head, cases[i].head);
    }
    /* The array nesting is outermost-last: uint8[3][] is a T[] of uint8[3]. */
    parse(nodes, "uint8[3][]");
    assert_int_equal(nodes[0].kind, ABI_ARRAY);
    assert_int_equal(nodes[0].child->kind, ABI_FIXED_ARRAY);
    assert_int_equal(nodes[0].child->count, 3);
    assert_int_equal(nodes[0].child->child->kind, ABI_UINT);
    assert_int_equal(nodes[0].child->child->size, 8);
    /* a format that does not fit writes an empty string and returns the need */
    assert_int_equal(abi_type_format(&nodes[0], out, 4), 10);
    assert_string_equal(out, "");
}

static void test_parse_invalid(void **state)
{
    static const char *const bad[] = {
        "", " ", "uint7", "uint264", "uint0", "uint08", "int0", "int9", "int512", "bytes0",
        "bytes33", "bytes01", "byte", "fixed128x18", "ufixed", "function", "tuple", "Uint256",
        "uint256 x", "uint256,", "uint256)", "uint256[", "uint256[]]", "uint256[0]", "uint256[01]",
        "uint256[-1]", "uint256[x]", "uint256[32769]", "uint256[99999999999999999999999]",
        "()", "(uint256", "(uint256,)", "(,uint256)", "(uint256 bytes)", "(uint256))",
        "address payable", "uint256 indexed", "(uint8[1024])[1024]", "uint256[][][][][][][][][]"
        "[][][][][][][][][]",
    };
    struct abi_type nodes[NODES];
    struct mr_error err;
    (void)state;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        mr_error_clear(&err);
        if (abi_parse_type(bad[i], strlen(bad[i]), nodes, NODES, NULL, &err) != MR_ERR_ABI)
            fail_msg("\"%s\" was not rejected as MR_ERR_ABI (%s)", bad[i], err.msg);
        assert_true(strlen(err.msg) > 0);
    }
    /* 17 nested tuples are one too many; 16 are fine */
    assert_int_equal(abi_parse_type(LIT("((((((((((((((((uint8))))))))))))))))"), nodes, NODES,
                                    NULL, NULL), MR_OK);
    assert_int_equal(abi_parse_type(LIT("(((((((((((((((((uint8)))))))))))))))))"), nodes, NODES,
                                    NULL, NULL), MR_ERR_ABI);
    /* node capacity */
    assert_int_equal(abi_parse_type(LIT("(uint8,uint8,uint8)"), nodes, 3, NULL, &err),
                     MR_ERR_TOOBIG);
    assert_int_equal(abi_parse_type(LIT("uint8[2]"), nodes, 1, NULL, NULL), MR_ERR_TOOBIG);
    assert_int_equal(abi_parse_type(LIT("uint8"), nodes, 0, NULL, NULL), MR_ERR_TOOBIG);
}

static void test_signature(void **state)
{
    struct abi_type nodes[NODES];
    struct abi_sig sig;
    struct mr_error err;
    char out[256];
    size_t n, used;
    (void)state;

    assert_int_equal(abi_canonical_signature(LIT(" sam ( bytes memory a, bool, uint[] calldata c)"),
                                             out, sizeof(out), &n, NULL), MR_OK);
    assert_string_equal(out, "sam(bytes,bool,uint256[])");
    assert_int_equal(n, strlen(out));
    assert_int_equal(abi_canonical_signature(LIT("f(address payable _to, uint x)"), out, 12,
                                             &n, &err), MR_ERR_TOOBIG);
    assert_int_equal(n, strlen("f(address,uint256)"));
    assert_int_equal(abi_canonical_signature(LIT("f()"), out, sizeof(out), NULL, NULL), MR_OK);
    assert_string_equal(out, "f()");

    assert_int_equal(abi_parse_signature(LIT("Ev(bytes32 indexed h, address a, string indexed s)"),
                                         nodes, NODES, &used, &sig, NULL), MR_OK);
    assert_int_equal(used, 4);
    assert_int_equal(sig.name_len, 2);
    assert_memory_equal(sig.name, "Ev", 2);
    assert_int_equal(sig.params->count, 3);
    assert_int_equal(sig.params->child->indexed, 1);
    assert_int_equal(sig.params->child->next->indexed, 0);
    assert_int_equal(sig.params->child->next->next->indexed, 1);

    static const char *const bad[] = {
        "", "f", "f(", "f)", "(uint256)", "1f(uint256)", "f(uint256) returns (bool)",
        "f(uint256 indexed indexed)", "f((uint256 indexed a) s)", "f(uint256 a b)",
        "f(uint256 1a)", "f(uint7)", "f(uint256,)",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (abi_parse_signature(bad[i], strlen(bad[i]), nodes, NODES, NULL, &sig, &err) != MR_ERR_ABI)
            fail_msg("signature \"%s\" was not rejected", bad[i]);
    }
}

/* Selectors and topics: mosaic-protocol.md §2 (solc methodIdentifiers and
 * event topics of the real contracts), plus the well-known ERC-20 and
 * Solidity revert selectors. */
static void test_selectors_and_topics(void **state)
{
    static const struct {
        const char *sig, *sel;
    } fns[] = {
        {"proveGateway(uint256 _blockHeight, bytes _rlpAccount, bytes _rlpParentNodes)", "21ea7ee1"},
        {"getNonce(address)", "2d0335ab"},
        {"getOutboxMessageStatus(bytes32)", "b0ab4dba"},
        {"messages(bytes32)", "2bbd59ca"},
        {"stake(uint256 _amount, address _beneficiary, uint256 _gasPrice, uint256 _gasLimit, "
         "uint256 _nonce, bytes32 _hashLock)", "6bb12049"},
        {"progressStake(bytes32 _messageHash, bytes32 _unlockSecret)", "4240760a"},
        {"progressStakeWithProof(bytes32 _messageHash, bytes _rlpParentNodes, uint256 _blockHeight, "
         "uint256 _messageStatus)", "e065c793"},
        {"confirmRedeemIntent(address _redeemer, uint256 _redeemerNonce, address _beneficiary, "
         "uint256 _amount, uint256 _gasPrice, uint256 _gasLimit, uint256 _blockHeight, "
         "bytes32 _hashLock, bytes _rlpParentNodes)", "51617b78"},
        {"confirmStakeIntent(address _staker, uint256 _stakerNonce, address _beneficiary, "
         "uint256 _amount, uint256 _gasPrice, uint256 _gasLimit, bytes32 _hashLock, "
         "uint256 _blockHeight, bytes _rlpParentNodes)", "4837e163"},
        {"progressMint(bytes32 _messageHash, bytes32 _unlockSecret)", "b0c349cc"},
        {"redeem(uint256 _amount, address _beneficiary, uint256 _gasPrice, uint256 _gasLimit, "
         "uint256 _nonce, bytes32 _hashLock)", "bf41b9d9"},
        {"anchorStateRoot(uint256 _blockHeight, bytes32 _stateRoot)", "5cf12c78"},
        {"getStateRoot(uint256)", "c3801938"},
        {"getLatestStateRootBlockHeight()", "2bb0e488"},
        {"acceptStakeRequest(uint256,address,uint256,uint256,uint256,address _staker,"
         "address _gateway,bytes32 _hashLock)", "861d3962"},
        {"transfer(address,uint256)", "a9059cbb"},
        {"Error(string)", "08c379a0"},
        {"Panic(uint256)", "4e487b71"},
    };
    static const struct {
        const char *sig, *topic;
    } evs[] = {
        {"StakeIntentDeclared(bytes32 indexed _messageHash, address _staker, uint256 _stakerNonce, "
         "address _beneficiary, uint256 _amount)",
         "1dc8ba34c8d75b6e750df7dadcf65dd6d6a7910483bcea2779971f587bade954"},
        {"StakeProgressed(bytes32 indexed _messageHash, address _staker, uint256 _stakerNonce, "
         "uint256 _amount, bool _proofProgress, bytes32 _unlockSecret)",
         "dad617859b2a7c1564706e0938a2689fb1e47e43494954d08b90fb7dff784a8b"},
        {"StakeIntentConfirmed(bytes32 indexed _messageHash, address _staker, uint256 _stakerNonce, "
         "address _beneficiary, uint256 _amount, uint256 _blockHeight, bytes32 _hashLock)",
         "09c429eb0c6ace051a7e464a0add3664c55a8482b93816fdcbdf92f5d7ceb81e"},
        {"MintProgressed(bytes32 indexed _messageHash, address _staker, address _beneficiary, "
         "uint256 _stakeAmount, uint256 _mintedAmount, uint256 _rewardAmount, bool _proofProgress, "
         "bytes32 _unlockSecret)",
         "bf81e8c456a7484e025395ab4e1492b688012d0f5256401f71d9d0a16b5d68d3"},
        {"GatewayProven(address _gateway, uint256 _blockHeight, bytes32 _storageRoot, "
         "bool _wasAlreadyProved)",
         "c8b086273f6873ca5eb46c33fc969bbe291c604753ae831ace47644e4362b2b8"},
        {"StateRootAvailable(uint256 _blockHeight, bytes32 _stateRoot)",
         "0a57f5c610ae4bcec0e406f2d350ddffa2fb3628fed5da3d7dac3a3c1cdb66c2"},
        {"ReleasedStake(address indexed _gateway, address indexed _to, uint256 _amount)",
         "bb9c3d63e9684d973fded27f355b4ab89505e3be60298380be985af025d5f111"},
        {"StakeRequested(uint256 amount, address beneficiary, uint256 gasPrice, uint256 gasLimit, "
         "uint256 nonce, address indexed staker, address stakerProxy, address gateway, "
         "bytes32 stakeRequestHash)",
         "c8cd5a617c440193489f91ebb148650e13cd86d2f72a19bdfdb17e363131eacd"},
        {"TokenWrapped(address indexed,uint256)",
         "2273a99739c31a37346636a3013c2cedebee7cd5b4c560faded39d298c1dd45c"},
        {"Transfer(address,address,uint256)",
         "ddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"},
    };
    uint8_t out[32];
    struct mr_error err;
    (void)state;

    for (size_t i = 0; i < sizeof(fns) / sizeof(fns[0]); i++) {
        if (abi_selector(fns[i].sig, strlen(fns[i].sig), out, &err) != MR_OK)
            fail_msg("%s: %s", fns[i].sig, err.msg);
        tv_assert_hex(out, 4, fns[i].sel);
    }
    for (size_t i = 0; i < sizeof(evs) / sizeof(evs[0]); i++) {
        if (abi_event_topic(evs[i].sig, strlen(evs[i].sig), out, &err) != MR_OK)
            fail_msg("%s: %s", evs[i].sig, err.msg);
        tv_assert_hex(out, 32, evs[i].topic);
    }
    assert_int_equal(abi_selector(LIT("f(uint7)"), out, NULL), MR_ERR_ABI);
}

/* ---- encoding against vectors ---- */

/* ethereum/tests ABITests/basic_abi_tests.json: types, args, result. */
static void test_abitests(void **state)
{
    json_t *root, *tc;
    const char *name;
    struct abi_type nodes[NODES];
    size_t ran = 0;
    (void)state;

    TV_LOAD_OR_SKIP(root, "ethereum-tests/ABITests/basic_abi_tests.json");
    json_object_foreach(root, name, tc) {
        json_t *types = json_object_get(tc, "types");
        char tuple[512] = "(";
        struct abi_value v;

        for (size_t i = 0; i < json_array_size(types); i++) {
            if (i > 0)
                strcat(tuple, ",");
            assert_true(strlen(tuple) + strlen(json_string_value(json_array_get(types, i))) < 500);
            strcat(tuple, json_string_value(json_array_get(types, i)));
        }
        strcat(tuple, ")");
        print_message("ABITests %s: %s\n", name, tuple);
        pool.nv = pool.nb = 0;
        from_json(parse(nodes, tuple), json_object_get(tc, "args"), 0, &v);
        check_codec(&nodes[0], &v, json_string_value(json_object_get(tc, "result")));
        ran++;
    }
    assert_int_equal(ran, 3);
    json_decref(root);
}

/* Checks call data: encode_call matches, decode_call gives the args back. */
static void check_call(const char *sig, const struct abi_value *args, size_t nargs, const char *hex)
{
    static uint8_t want[4096], got[4096];
    static struct abi_value dec[512];
    struct abi_type nodes[NODES];
    struct abi_sig fn;
    struct abi_value tuple = abi_v_list(args, nargs);
    struct mr_error err;
    size_t wlen = unhex(hex, want, sizeof(want)), glen;

    parse_sig(nodes, sig, &fn);
    if (abi_encode_call(&fn, args, nargs, got, sizeof(got), &glen, &err) != MR_OK)
        fail_msg("%s: %s", sig, err.msg);
    assert_int_equal(glen, wlen);
    assert_memory_equal(got, want, wlen);
    if (abi_decode_call(&fn, want, wlen, dec, 512, NULL, &err) != MR_OK)
        fail_msg("%s: %s", sig, err.msg);
    assert_true(value_equal(fn.params, &dec[0], &tuple));
    want[0] ^= 1;
    assert_int_equal(abi_decode_call(&fn, want, wlen, dec, 512, NULL, NULL), MR_ERR_ABI);
    assert_int_equal(abi_decode_call(&fn, want, 3, dec, 512, NULL, NULL), MR_ERR_ABI);
}

/* Solidity docs, Contract ABI Specification, §Examples and §Use of Dynamic
 * Types: the expected bytes are quoted from the spec. */
static void test_solidity_spec_examples(void **state)
{
    struct abi_value a[4], inner[8], inner2[8], inner3[8];
    (void)state;

    /* baz(uint32,bool) with 69, true */
    a[0] = abi_v_uint(69);
    a[1] = abi_v_bool(1);
    check_call("baz(uint32 x, bool y)", a, 2,
               "0xcdcd77c0"
               "0000000000000000000000000000000000000000000000000000000000000045"
               "0000000000000000000000000000000000000000000000000000000000000001");
    /* bar(bytes3[2]) with ["abc", "def"] */
    inner[0] = abi_v_bytes("abc", 3);
    inner[1] = abi_v_bytes("def", 3);
    a[0] = abi_v_list(inner, 2);
    check_call("bar(bytes3[2])", a, 1,
               "0xfce353f6"
               "6162630000000000000000000000000000000000000000000000000000000000"
               "6465660000000000000000000000000000000000000000000000000000000000");
    /* sam(bytes,bool,uint[]) with "dave", true, [1,2,3] */
    inner[0] = abi_v_uint(1);
    inner[1] = abi_v_uint(2);
    inner[2] = abi_v_uint(3);
    a[0] = abi_v_bytes("dave", 4);
    a[1] = abi_v_bool(1);
    a[2] = abi_v_list(inner, 3);
    check_call("sam(bytes,bool,uint[])", a, 3,
               "0xa5643bf2"
               "0000000000000000000000000000000000000000000000000000000000000060"
               "0000000000000000000000000000000000000000000000000000000000000001"
               "00000000000000000000000000000000000000000000000000000000000000a0"
               "0000000000000000000000000000000000000000000000000000000000000004"
               "6461766500000000000000000000000000000000000000000000000000000000"
               "0000000000000000000000000000000000000000000000000000000000000003"
               "0000000000000000000000000000000000000000000000000000000000000001"
               "0000000000000000000000000000000000000000000000000000000000000002"
               "0000000000000000000000000000000000000000000000000000000000000003");
    /* f(uint,uint32[],bytes10,bytes) with (0x123, [0x456, 0x789], "1234567890",
     * "Hello, world!"), the GithubWikiTest vector */
    inner[0] = abi_v_uint(0x456);
    inner[1] = abi_v_uint(0x789);
    a[0] = abi_v_uint(0x123);
    a[1] = abi_v_list(inner, 2);
    a[2] = abi_v_bytes("1234567890", 10);
    a[3] = abi_v_bytes("Hello, world!", 13);
    check_call("f(uint,uint32[],bytes10,bytes)", a, 4,
               "0x8be65246"
               "0000000000000000000000000000000000000000000000000000000000000123"
               "0000000000000000000000000000000000000000000000000000000000000080"
               "3132333435363738393000000000000000000000000000000000000000000000"
               "00000000000000000000000000000000000000000000000000000000000000e0"
               "0000000000000000000000000000000000000000000000000000000000000002"
               "0000000000000000000000000000000000000000000000000000000000000456"
               "0000000000000000000000000000000000000000000000000000000000000789"
               "000000000000000000000000000000000000000000000000000000000000000d"
               "48656c6c6f2c20776f726c642100000000000000000000000000000000000000");
    /* g(uint[][],string[]) with ([[1, 2], [3]], ["one", "two", "three"]) */
    inner2[0] = abi_v_uint(1);
    inner2[1] = abi_v_uint(2);
    inner2[2] = abi_v_uint(3);
    inner[0] = abi_v_list(inner2, 2);
    inner[1] = abi_v_list(inner2 + 2, 1);
    inner3[0] = abi_v_bytes("one", 3);
    inner3[1] = abi_v_bytes("two", 3);
    inner3[2] = abi_v_bytes("three", 5);
    a[0] = abi_v_list(inner, 2);
    a[1] = abi_v_list(inner3, 3);
    check_call("g(uint[][],string[])", a, 2,
               "0x2289b18c"
               "0000000000000000000000000000000000000000000000000000000000000040"
               "0000000000000000000000000000000000000000000000000000000000000140"
               "0000000000000000000000000000000000000000000000000000000000000002"
               "0000000000000000000000000000000000000000000000000000000000000040"
               "00000000000000000000000000000000000000000000000000000000000000a0"
               "0000000000000000000000000000000000000000000000000000000000000002"
               "0000000000000000000000000000000000000000000000000000000000000001"
               "0000000000000000000000000000000000000000000000000000000000000002"
               "0000000000000000000000000000000000000000000000000000000000000001"
               "0000000000000000000000000000000000000000000000000000000000000003"
               "0000000000000000000000000000000000000000000000000000000000000003"
               "0000000000000000000000000000000000000000000000000000000000000060"
               "00000000000000000000000000000000000000000000000000000000000000a0"
               "00000000000000000000000000000000000000000000000000000000000000e0"
               "0000000000000000000000000000000000000000000000000000000000000003"
               "6f6e650000000000000000000000000000000000000000000000000000000000"
               "0000000000000000000000000000000000000000000000000000000000000003"
               "74776f0000000000000000000000000000000000000000000000000000000000"
               "0000000000000000000000000000000000000000000000000000000000000005"
               "7468726565000000000000000000000000000000000000000000000000000000");
}

/* A dynamic tuple inside a tuple and signed integers, worked out by hand from
 * the spec's formal rules: ((1, "ab"), true) as ((uint256,string),bool); and
 * int<N> sign extension (§Formal Specification: padded with 0xff bytes for
 * negative X). */
static void test_tuple_and_int_encoding(void **state)
{
    struct abi_type nodes[NODES];
    struct abi_value in[2], out[2], v;
    (void)state;

    in[0] = abi_v_uint(1);
    in[1] = abi_v_bytes("ab", 2);
    out[0] = abi_v_list(in, 2);
    out[1] = abi_v_bool(1);
    v = abi_v_list(out, 2);
    check_codec(parse(nodes, "((uint256,string),bool)"), &v,
                "0000000000000000000000000000000000000000000000000000000000000040"
                "0000000000000000000000000000000000000000000000000000000000000001"
                "0000000000000000000000000000000000000000000000000000000000000001"
                "0000000000000000000000000000000000000000000000000000000000000040"
                "0000000000000000000000000000000000000000000000000000000000000002"
                "6162000000000000000000000000000000000000000000000000000000000000");
    v = abi_v_int(-1);
    check_codec(parse(nodes, "int8"), &v,
                "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff");
    v = abi_v_int(-128);
    check_codec(parse(nodes, "int8"), &v,
                "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff80");
    v = abi_v_int(127);
    check_codec(parse(nodes, "int8"), &v,
                "000000000000000000000000000000000000000000000000000000000000007f");
    v = abi_v_int(-2);
    check_codec(parse(nodes, "int256"), &v,
                "fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffe");
    /* an empty bytes is just its zero length; an empty array too */
    v = abi_v_bytes(NULL, 0);
    check_codec(parse(nodes, "bytes"), &v,
                "0000000000000000000000000000000000000000000000000000000000000000");
    in[0] = abi_v_list(NULL, 0);
    v = abi_v_list(in, 1);
    check_codec(parse(nodes, "(uint8[])"), &v,
                "0000000000000000000000000000000000000000000000000000000000000020"
                "0000000000000000000000000000000000000000000000000000000000000000");
}

/* mosaic_vectors.json example_calldata: confirmStakeIntent call data from the
 * real contracts' toolchain, built three ways. */
static void test_mosaic_calldata(void **state)
{
    static uint8_t want[1024], got[1024];
    json_t *root, *ex;
    struct abi_type nodes[NODES];
    struct abi_sig fn;
    struct abi_value args;
    struct abi_builder b;
    struct mr_error err;
    const struct abi_value *a;
    size_t wlen, glen;
    uint8_t word[32];
    (void)state;

    TV_LOAD_OR_SKIP(root, "mosaic/mosaic_vectors.json");
    ex = json_object_get(root, "example_calldata");
    assert_non_null(ex);
    pool.nv = pool.nb = 0;
    parse_sig(nodes, json_string_value(json_object_get(ex, "function")), &fn);
    tv_assert_hex(fn.hash, 4, "4837e163");
    from_json(fn.params, json_object_get(ex, "args"), 1, &args);
    check_call(json_string_value(json_object_get(ex, "function")), args.items, args.count,
               json_string_value(json_object_get(ex, "data")));

    /* the builder, as the relayer's confirm step will use it */
    wlen = unhex(json_string_value(json_object_get(ex, "data")), want, sizeof(want));
    a = args.items;
    for (int pass = 0; pass < 2; pass++) {
        abi_builder_init(&b, pass ? got : NULL, pass ? sizeof(got) : 0, fn.hash, 9);
        abi_put_address(&b, a[0].ptr);
        abi_put_u256(&b, &a[1].num);
        abi_put_address(&b, a[2].ptr);
        abi_put_u256(&b, &a[3].num);
        abi_put_u256(&b, &a[4].num);
        abi_put_u64(&b, a[5].num.w[0]);
        memcpy(word, a[6].ptr, 32);
        abi_put_word(&b, word);
        abi_put_u256(&b, &a[7].num);
        abi_put_bytes(&b, a[8].ptr, a[8].len);
        assert_int_equal(abi_builder_finish(&b, &glen, &err), pass ? MR_OK : MR_ERR_TOOBIG);
        assert_int_equal(glen, wlen);
    }
    assert_memory_equal(got, want, wlen);
    json_decref(root);
}

static void test_builder(void **state)
{
    uint8_t buf[512], sel[4];
    struct abi_builder b;
    struct mr_error err;
    size_t len;
    (void)state;

    /* proveGateway(1, 0xaa, 0xbbcc): heads 1, 0x60, 0xa0, then two tails */
    assert_int_equal(abi_selector(LIT("proveGateway(uint256,bytes,bytes)"), sel, NULL), MR_OK);
    abi_builder_init(&b, buf, sizeof(buf), sel, 3);
    abi_put_u64(&b, 1);
    abi_put_bytes(&b, (const uint8_t *)"\xaa", 1);
    abi_put_bytes(&b, (const uint8_t *)"\xbb\xcc", 2);
    assert_int_equal(abi_builder_finish(&b, &len, NULL), MR_OK);
    tv_assert_hex(buf, len,
                  "21ea7ee1"
                  "0000000000000000000000000000000000000000000000000000000000000001"
                  "0000000000000000000000000000000000000000000000000000000000000060"
                  "00000000000000000000000000000000000000000000000000000000000000a0"
                  "0000000000000000000000000000000000000000000000000000000000000001"
                  "aa00000000000000000000000000000000000000000000000000000000000000"
                  "0000000000000000000000000000000000000000000000000000000000000002"
                  "bbcc000000000000000000000000000000000000000000000000000000000000");
    /* too few, too many, too small */
    abi_builder_init(&b, buf, sizeof(buf), NULL, 2);
    abi_put_bool(&b, 1);
    assert_int_equal(abi_builder_finish(&b, &len, &err), MR_ERR_INVALID);
    abi_put_bool(&b, 0);
    assert_int_equal(abi_builder_finish(&b, &len, &err), MR_OK);
    assert_int_equal(len, 64);
    abi_put_bool(&b, 0);
    assert_int_equal(abi_builder_finish(&b, &len, &err), MR_ERR_INVALID);
    abi_builder_init(&b, buf, 40, NULL, 1);
    abi_put_bytes(&b, buf, 100);
    assert_int_equal(abi_builder_finish(&b, &len, &err), MR_ERR_TOOBIG);
    assert_int_equal(len, 32 + 32 + 128);
}

/* ---- round trips of every type class (values generated from the type) ---- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static void gen_value(const struct abi_type *t, struct abi_value *v)
{
    const struct abi_type *c = t->child;
    uint8_t w[32], *p;
    struct abi_value *items;
    size_t n, pad;

    memset(v, 0, sizeof(*v));
    switch (t->kind) {
    case ABI_UINT:
    case ABI_INT:
    case ABI_BOOL:
        for (int i = 0; i < 32; i++)
            w[i] = (uint8_t)rnd();
        pad = t->kind == ABI_BOOL ? 31 : 32 - t->size / 8;
        if (t->kind == ABI_BOOL)
            w[31] &= 1;
        memset(w, t->kind == ABI_INT && pad < 32 && (w[pad] & 0x80) ? 0xff : 0, pad);
        u256_from_be(&v->num, w, 32);
        return;
    case ABI_ADDRESS:
    case ABI_FIXED_BYTES:
    case ABI_BYTES:
    case ABI_STRING:
        n = t->kind == ABI_ADDRESS ? 20 : t->kind == ABI_FIXED_BYTES ? t->size : rnd() % 70;
        p = pool_bytes(n);
        for (size_t i = 0; i < n; i++)
            p[i] = (uint8_t)rnd();
        *v = abi_v_bytes(p, n);
        return;
    default:
        n = t->kind == ABI_ARRAY ? rnd() % 4 : t->count;
        items = pool_values(n);
        for (size_t i = 0; i < n; i++) {
            gen_value(c, &items[i]);
            if (t->kind == ABI_TUPLE)
                c = c->next;
        }
        *v = abi_v_list(items, n);
        return;
    }
}

static void test_roundtrip(void **state)
{
    static const char *const types[] = {
        "uint8", "uint64", "uint256", "int8", "int24", "int256", "address", "bool", "bytes1",
        "bytes10", "bytes32", "bytes", "string", "uint32[]", "uint8[3]", "uint8[3][]",
        "uint8[][3]", "(uint256,bytes)[2]", "string[]", "bytes[][2]",
        "(bool,(int16,bytes3)[],string)[]", "((uint256[],address)[2],int64[][3])",
        "uint256[][][]", "(bytes,(string,(bytes2,uint8[]))[])[3][]",
        "(address,uint256,address,uint256,uint256,uint256,bytes32,uint256,bytes)",
    };
    static uint8_t enc[1 << 16], again[1 << 16];
    static struct abi_value dec[4096];
    struct abi_type nodes[NODES];
    struct abi_value v;
    struct mr_error err;
    size_t len, len2, used;
    (void)state;

    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        const struct abi_type *t = parse(nodes, types[i]);
        for (int round = 0; round < 40; round++) {
            pool.nv = pool.nb = 0;
            gen_value(t, &v);
            if (abi_encode(t, &v, enc, sizeof(enc), &len, &err) != MR_OK)
                fail_msg("%s: encode: %s", types[i], err.msg);
            assert_int_equal(len % 32, 0);
            if (abi_decode(t, enc, len, dec, 4096, &used, &err) != MR_OK)
                fail_msg("%s: decode: %s", types[i], err.msg);
            assert_true(value_equal(t, &dec[0], &v));
            assert_int_equal(abi_encode(t, &dec[0], again, sizeof(again), &len2, NULL), MR_OK);
            assert_int_equal(len2, len);
            assert_memory_equal(again, enc, len);
            /* any truncation or extension is refused */
            if (len > 0)
                assert_int_equal(abi_decode(t, enc, len - 1, dec, 4096, NULL, NULL), MR_ERR_ABI);
            if (len >= 32)
                assert_int_equal(abi_decode(t, enc, len - 32, dec, 4096, NULL, NULL), MR_ERR_ABI);
            memset(enc + len, 0, 32);
            assert_int_equal(abi_decode(t, enc, len + 32, dec, 4096, NULL, NULL), MR_ERR_ABI);
            /* a node array one short is refused as too small */
            assert_int_equal(abi_decode(t, enc, len, dec, used - 1, NULL, NULL), MR_ERR_TOOBIG);
        }
    }
}

/* ---- encoder refusals ---- */

static void test_encode_invalid(void **state)
{
    struct abi_type nodes[NODES];
    struct abi_value v, items[3];
    struct mr_error err;
    uint8_t buf[256];
    size_t len;
    (void)state;

    v = abi_v_uint(256);
    assert_int_equal(abi_encode(parse(nodes, "uint8"), &v, buf, sizeof(buf), &len, &err),
                     MR_ERR_RANGE);
    v = abi_v_uint(255);
    assert_int_equal(abi_encode(parse(nodes, "uint8"), &v, buf, sizeof(buf), &len, NULL), MR_OK);
    v = abi_v_int(128);
    assert_int_equal(abi_encode(parse(nodes, "int8"), &v, buf, sizeof(buf), &len, NULL),
                     MR_ERR_RANGE);
    v = abi_v_int(-129);
    assert_int_equal(abi_encode(parse(nodes, "int8"), &v, buf, sizeof(buf), &len, NULL),
                     MR_ERR_RANGE);
    v = abi_v_uint(2);
    assert_int_equal(abi_encode(parse(nodes, "bool"), &v, buf, sizeof(buf), &len, NULL),
                     MR_ERR_RANGE);
    v = abi_v_bytes("0123456789012345678", 19);
    assert_int_equal(abi_encode(parse(nodes, "address"), &v, buf, sizeof(buf), &len, NULL),
                     MR_ERR_ABI);
    v = abi_v_bytes("ab", 2);
    assert_int_equal(abi_encode(parse(nodes, "bytes3"), &v, buf, sizeof(buf), &len, NULL),
                     MR_ERR_ABI);
    v = abi_v_bytes(NULL, 5);
    assert_int_equal(abi_encode(parse(nodes, "bytes"), &v, buf, sizeof(buf), &len, NULL),
                     MR_ERR_INVALID);
    items[0] = items[1] = items[2] = abi_v_uint(1);
    v = abi_v_list(items, 3);
    assert_int_equal(abi_encode(parse(nodes, "uint8[2]"), &v, buf, sizeof(buf), &len, NULL),
                     MR_ERR_ABI);
    assert_int_equal(abi_encode(parse(nodes, "(uint8,uint8)"), &v, buf, sizeof(buf), &len, NULL),
                     MR_ERR_ABI);
    v = abi_v_list(NULL, 2);
    assert_int_equal(abi_encode(parse(nodes, "uint8[]"), &v, buf, sizeof(buf), &len, NULL),
                     MR_ERR_INVALID);
    /* too small a buffer: the size is still reported, nothing written */
    v = abi_v_list(items, 3);
    memset(buf, 0x5a, sizeof(buf));
    assert_int_equal(abi_encode(parse(nodes, "uint8[]"), &v, buf, 127, &len, NULL),
                     MR_ERR_TOOBIG);
    assert_int_equal(len, 128);
    assert_int_equal(buf[0], 0x5a);
}

/* ---- hostile input to the decoder ---- */

/* Decodes `hex` as type `ty` and expects `code`; the message must name the
 * problem with `needle` when given. */
static void expect_decode(const char *ty, const char *hex, int code, const char *needle)
{
    static uint8_t data[16384];
    static struct abi_value nodes[256];
    struct abi_type tn[NODES];
    struct mr_error err;
    size_t len = unhex(hex, data, sizeof(data));
    int rc;

    mr_error_clear(&err);
    rc = abi_decode(parse(tn, ty), data, len, nodes, 256, NULL, &err);
    if (rc != code)
        fail_msg("%s / %.40s...: got %d (%s), want %d", ty, hex, rc, err.msg, code);
    if (needle != NULL && strstr(err.msg, needle) == NULL)
        fail_msg("%s: message \"%s\" lacks \"%s\"", ty, err.msg, needle);
}

#define W0 "0000000000000000000000000000000000000000000000000000000000000000"
#define W1 "0000000000000000000000000000000000000000000000000000000000000001"
#define W2 "0000000000000000000000000000000000000000000000000000000000000002"
#define W3 "0000000000000000000000000000000000000000000000000000000000000003"
#define W5 "0000000000000000000000000000000000000000000000000000000000000005"
#define W7 "0000000000000000000000000000000000000000000000000000000000000007"
#define W20 "0000000000000000000000000000000000000000000000000000000000000020"
#define W40 "0000000000000000000000000000000000000000000000000000000000000040"
#define W60 "0000000000000000000000000000000000000000000000000000000000000060"
#define WBIG "8000000000000000000000000000000000000000000000000000000000000000"
#define W2_64 "0000000000000000000000000000000000000000000000010000000000000000"
#define WFF "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
#define ABC "6162630000000000000000000000000000000000000000000000000000000000"

static void test_decode_offsets(void **state)
{
    (void)state;

    /* (uint256,bytes) = (5, "abc"): the valid form first */
    expect_decode("(uint256,bytes)", W1 W40 W3 ABC, MR_OK, NULL);
    expect_decode("(uint256,bytes)", W1 W60 W3 ABC W0, MR_ERR_ABI, "strict encoding");
    expect_decode("(uint256,bytes)", W1 W20 W3 ABC, MR_ERR_ABI, "strict encoding");
    expect_decode("(uint256,bytes)",
                  W1 "0000000000000000000000000000000000000000000000000000000000000041" W3 ABC,
                  MR_ERR_ABI, "word-aligned");
    expect_decode("(uint256,bytes)",
                  W1 "0000000000000000000000000000000000000000000000000000000000000100" W3 ABC,
                  MR_ERR_ABI, "past the end");
    expect_decode("(uint256,bytes)", W1 WBIG W3 ABC, MR_ERR_ABI, "2^64");
    expect_decode("(uint256,bytes)", W1 W2_64 W3 ABC, MR_ERR_ABI, "2^64");
    expect_decode("(uint256,bytes)",
                  W1 "000000000000000000000000000000000000000000000000ffffffffffffffff" W3 ABC,
                  MR_ERR_ABI, "past the end");
    /* the offset word itself missing */
    expect_decode("(uint256,bytes)", W1, MR_ERR_ABI, "head");
    /* two dynamic components pointing at the same tail (aliasing) */
    expect_decode("(bytes,bytes)", W40 W40 W3 ABC, MR_ERR_ABI, "strict encoding");
    expect_decode("(bytes,bytes)", W40 "0000000000000000000000000000000000000000000000000000000000000080"
                  W3 ABC W3 ABC, MR_OK, NULL);
    /* tails out of order */
    expect_decode("(bytes,bytes)", "0000000000000000000000000000000000000000000000000000000000000080"
                  W40 W3 ABC W3 ABC, MR_ERR_ABI, "strict encoding");
    /* a gap between the heads and the tail */
    expect_decode("(bytes)", W40 W0 W3 ABC, MR_ERR_ABI, "strict encoding");
    /* uint256[][] with every inner offset aliasing the same array: the
     * "many references to one big array" blow-up is refused at once */
    expect_decode("uint256[][]", W3 W60 W60 W60 W1 W1, MR_ERR_ABI, "strict encoding");
}

static void test_decode_lengths(void **state)
{
    (void)state;

    /* bytes */
    expect_decode("bytes", W3 ABC, MR_OK, NULL);
    expect_decode("bytes", "0000000000000000000000000000000000000000000000000000000000000021" ABC,
                  MR_ERR_ABI, "past the end");
    expect_decode("bytes", WBIG ABC, MR_ERR_ABI, "2^64");
    expect_decode("bytes", WFF ABC, MR_ERR_ABI, "2^64");
    expect_decode("bytes", W3 "6162630000000000000000000000000000000000000000000000000000000001",
                  MR_ERR_ABI, "padding");
    expect_decode("string", W3 "6162630100000000000000000000000000000000000000000000000000000000",
                  MR_ERR_ABI, "padding");
    expect_decode("bytes", W3 "616263", MR_ERR_ABI, "padding");
    expect_decode("bytes", W3, MR_ERR_ABI, "past the end");
    expect_decode("bytes", "00", MR_ERR_ABI, "past the end");
    expect_decode("bytes", "", MR_ERR_ABI, NULL);
    expect_decode("bytes", W0, MR_OK, NULL);
    expect_decode("string", W0 W0, MR_ERR_ABI, "trailing");
    /* arrays: a hostile length fails before any allocation or loop */
    expect_decode("uint256[]", W2 W1 W2, MR_OK, NULL);
    expect_decode("uint256[]", W3 W1 W2, MR_ERR_ABI, "exceeds");
    expect_decode("uint256[]", WBIG W1 W2, MR_ERR_ABI, "2^64");
    expect_decode("uint256[]", "0000000000000000000000000000000000000000000000007fffffffffffffff" W1,
                  MR_ERR_ABI, "exceeds");
    expect_decode("uint8[3][]", W1 W1 W2, MR_ERR_ABI, "exceeds");
    expect_decode("bytes[]", W2 W40 W60 W0, MR_ERR_ABI, "past the end");
    expect_decode("bytes[]", W2 W40 W60 W0 W0, MR_OK, NULL);
    /* static parts that do not fit */
    expect_decode("uint256[2]", W1, MR_ERR_ABI, "head");
    expect_decode("(uint256,uint256)", W1 "00", MR_ERR_ABI, "head");
    expect_decode("uint256[32768]", W1, MR_ERR_ABI, "head");
    /* NULL data with a length is a caller bug, not an empty input */
    {
        struct abi_type tn[NODES];
        struct abi_value v[4];
        assert_int_equal(abi_decode(parse(tn, "(uint256)"), NULL, 32, v, 4, NULL,
                                    NULL), MR_ERR_INVALID);
    }
    /* node budget: 300 elements fit the data but not 256 value nodes */
    {
        static char hex[64 * 320];
        strcpy(hex, "000000000000000000000000000000000000000000000000000000000000012c");
        for (int i = 0; i < 300; i++)
            strcat(hex, W1);
        expect_decode("uint256[]", hex, MR_ERR_TOOBIG, "nodes");
    }
}

static void test_decode_values(void **state)
{
    (void)state;

    expect_decode("address", "000000000000000000000000cd2a3d9f938e13cd947ec05abc7fe734df8dd826",
                  MR_OK, NULL);
    expect_decode("address", "000000000000000000000001cd2a3d9f938e13cd947ec05abc7fe734df8dd826",
                  MR_ERR_ABI, "padding");
    expect_decode("address", "100000000000000000000000cd2a3d9f938e13cd947ec05abc7fe734df8dd826",
                  MR_ERR_ABI, "padding");
    expect_decode("bool", W0, MR_OK, NULL);
    expect_decode("bool", W1, MR_OK, NULL);
    expect_decode("bool", W2, MR_ERR_ABI, "neither 0 nor 1");
    expect_decode("bool", "0000000000000000000000000000000000000000000000000000000000000101",
                  MR_ERR_ABI, "neither");
    expect_decode("bool", WFF, MR_ERR_ABI, "neither");
    expect_decode("uint8", "00000000000000000000000000000000000000000000000000000000000000ff",
                  MR_OK, NULL);
    expect_decode("uint8", "0000000000000000000000000000000000000000000000000000000000000100",
                  MR_ERR_ABI, "above its width");
    expect_decode("uint248", "0100000000000000000000000000000000000000000000000000000000000000",
                  MR_ERR_ABI, "above its width");
    expect_decode("uint256", WFF, MR_OK, NULL);
    expect_decode("int8", "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff80",
                  MR_OK, NULL);
    expect_decode("int8", "000000000000000000000000000000000000000000000000000000000000007f",
                  MR_OK, NULL);
    expect_decode("int8", "0000000000000000000000000000000000000000000000000000000000000080",
                  MR_ERR_ABI, "sign-extended");
    expect_decode("int8", "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
                  MR_ERR_ABI, "sign-extended");
    expect_decode("int16", "00000000000000000000000000000000000000000000000000000000ffff8000",
                  MR_ERR_ABI, "sign-extended");
    expect_decode("int256", WBIG, MR_OK, NULL);
    expect_decode("bytes3", ABC, MR_OK, NULL);
    expect_decode("bytes3", "6162636400000000000000000000000000000000000000000000000000000000",
                  MR_ERR_ABI, "padding");
    expect_decode("bytes32", WFF, MR_OK, NULL);
    /* a bad value deep inside a dynamic structure is found too */
    expect_decode("(bool,bool)[]", W1 W1 W2, MR_ERR_ABI, "neither");
    expect_decode("uint256", W1 "01", MR_ERR_ABI, "trailing");
}

/* The decoded int<N> reads back as int64 */
static void test_decode_int_value(void **state)
{
    static const uint8_t m128[32] = {
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0x80};
    struct abi_type nodes[NODES];
    struct abi_value v;
    int64_t x;
    (void)state;

    assert_int_equal(abi_decode(parse(nodes, "int8"), m128, 32, &v, 1, NULL, NULL), MR_OK);
    assert_int_equal(abi_value_i64(&v, &x), MR_OK);
    assert_int_equal(x, -128);
    v.num.w[2] = 0;
    assert_int_equal(abi_value_i64(&v, &x), MR_ERR_RANGE);
}

/* ---- logs ---- */

/* StakeIntentDeclared as the origin gateway emits it (mosaic-protocol.md
 * §2.6; values from the recorded stake_progressed_0 run), log written out
 * by hand: topic1 = messageHash, data = staker, nonce, beneficiary, amount. */
static void test_log_stake_intent_declared(void **state)
{
    static const char *sig =
        "StakeIntentDeclared(bytes32 indexed _messageHash, address _staker, "
        "uint256 _stakerNonce, address _beneficiary, uint256 _amount)";
    uint8_t topics[4][32], data[256], topics2[4][32], data2[256], addr[20];
    struct abi_type nodes[NODES];
    struct abi_value vals[16];
    struct abi_sig ev;
    struct mr_error err;
    size_t dlen, n, len;
    const struct abi_value *f;
    (void)state;

    parse_sig(nodes, sig, &ev);
    unhex("1dc8ba34c8d75b6e750df7dadcf65dd6d6a7910483bcea2779971f587bade954", topics[0], 32);
    unhex("10b33e715c4ecc5d398d3fe86654fc4fc8c7d7815c546c49f7156b3d1b131453", topics[1], 32);
    dlen = unhex("000000000000000000000000913dA4198E6bE1D5f5E4a40D0667f70C0B5430Eb"
                 W0
                 "000000000000000000000000bd355A7e5a7ADb23b51F54027E624BfE0e238DF6"
                 "0000000000000000000000000000000000000000000000000000000005f5e100",
                 data, sizeof(data));
    mr_error_clear(&err);
    if (abi_decode_log(&ev, 0, &topics[0][0], 2, data, dlen, vals, 16, NULL, &err) != MR_OK)
        fail_msg("%s", err.msg);
    f = vals[0].items;
    assert_int_equal(vals[0].count, 5);
    unhex("913dA4198E6bE1D5f5E4a40D0667f70C0B5430Eb", addr, 20);
    assert_int_equal(f[1].len, 20);
    assert_memory_equal(f[1].ptr, addr, 20);
    assert_true(u256_is_zero(&f[2].num));
    tv_assert_hex(f[3].ptr, f[3].len, "bd355a7e5a7adb23b51f54027e624bfe0e238df6");
    assert_int_equal(f[4].num.w[0], 100000000);
    assert_int_equal(f[4].num.w[1], 0);

    /* bytes32 indexed is a value type: decoded from the topic itself */
    assert_int_equal(f[0].len, 32);
    assert_memory_equal(f[0].ptr, topics[1], 32);

    /* encoding the decoded fields gives the same log back */
    assert_int_equal(abi_encode_log(&ev, 0, f, 5, topics2, &n, data2, sizeof(data2), &len, NULL),
                     MR_OK);
    assert_int_equal(n, 2);
    assert_memory_equal(topics2, topics, 64);
    assert_int_equal(len, dlen);
    assert_memory_equal(data2, data, dlen);

    /* wrong event, wrong topic count, bad data */
    topics[0][5] ^= 1;
    assert_int_equal(abi_decode_log(&ev, 0, &topics[0][0], 2, data, dlen, vals, 16, NULL, &err),
                     MR_ERR_ABI);
    assert_non_null(strstr(err.msg, "topic0"));
    topics[0][5] ^= 1;
    assert_int_equal(abi_decode_log(&ev, 0, &topics[0][0], 1, data, dlen, vals, 16, NULL, &err),
                     MR_ERR_ABI);
    assert_int_equal(abi_decode_log(&ev, 0, &topics[0][0], 3, data, dlen, vals, 16, NULL, NULL),
                     MR_ERR_ABI);
    assert_int_equal(abi_decode_log(&ev, 0, NULL, 0, data, dlen, vals, 16, NULL, NULL),
                     MR_ERR_ABI);
    assert_int_equal(abi_decode_log(&ev, 0, &topics[0][0], 2, data, dlen - 32, vals, 16, NULL,
                                    NULL), MR_ERR_ABI);
    assert_int_equal(abi_decode_log(&ev, 0, &topics[0][0], 2, data, dlen + 1, vals, 16, NULL,
                                    NULL), MR_ERR_ABI);
    data[0] = 1;  /* dirty address padding */
    assert_int_equal(abi_decode_log(&ev, 0, &topics[0][0], 2, data, dlen, vals, 16, NULL, &err),
                     MR_ERR_ABI);
    assert_non_null(strstr(err.msg, "padding"));
    data[0] = 0;
    assert_int_equal(abi_decode_log(&ev, 0, &topics[0][0], 2, data, dlen, vals, 5, NULL, NULL),
                     MR_ERR_TOOBIG);
}

/* Indexed dynamic parameters are their hash; indexed addresses are checked
 * like data words; anonymous events have no topic0. */
static void test_log_indexed_kinds(void **state)
{
    uint8_t topics[4][32], data[512], t2[4][32], d2[512];
    struct abi_type nodes[NODES];
    struct abi_value args[4], vals[16];
    struct abi_sig ev;
    struct mr_error err;
    size_t n, len, len2;
    static const uint8_t addr[20] = {0xde, 0xad, 0xbe, 0xef};
    (void)state;

    parse_sig(nodes, "Ev(string indexed s, address indexed a, uint256 v, bytes b)", &ev);
    keccak256("hello", 5, topics[1]);  /* what the EVM puts for a string topic */
    args[0] = abi_v_bytes(topics[1], 32);
    args[1] = abi_v_address(addr);
    args[2] = abi_v_uint(7);
    args[3] = abi_v_bytes("xyz", 3);
    assert_int_equal(abi_encode_log(&ev, 0, args, 4, topics, &n, data, sizeof(data), &len, &err),
                     MR_OK);
    assert_int_equal(n, 3);
    assert_memory_equal(topics[0], ev.hash, 32);
    tv_assert_hex(topics[2], 32, "000000000000000000000000deadbeef00000000000000000000000000000000");
    /* data is enc((uint256 v, bytes b)) */
    tv_assert_hex(data, len, W7 W40
                  "0000000000000000000000000000000000000000000000000000000000000003"
                  "78797a0000000000000000000000000000000000000000000000000000000000");
    assert_int_equal(abi_decode_log(&ev, 0, &topics[0][0], 3, data, len, vals, 16, NULL, &err),
                     MR_OK);
    assert_ptr_equal(vals[0].items[0].ptr, topics[1]);
    assert_int_equal(vals[0].items[0].len, 32);
    assert_memory_equal(vals[0].items[1].ptr, addr, 20);
    assert_int_equal(vals[0].items[2].num.w[0], 7);
    assert_memory_equal(vals[0].items[3].ptr, "xyz", 3);
    topics[2][0] = 1;
    assert_int_equal(abi_decode_log(&ev, 0, &topics[0][0], 3, data, len, vals, 16, NULL, &err),
                     MR_ERR_ABI);
    assert_non_null(strstr(err.msg, "topic 2"));

    /* anonymous: the indexed parameter is topic 0 */
    parse_sig(nodes, "Anon(uint256 indexed x, bool y)", &ev);
    args[0] = abi_v_uint(5);
    args[1] = abi_v_bool(1);
    assert_int_equal(abi_encode_log(&ev, 1, args, 2, t2, &n, d2, sizeof(d2), &len2, NULL), MR_OK);
    assert_int_equal(n, 1);
    tv_assert_hex(t2[0], 32, W5);
    tv_assert_hex(d2, len2, W1);
    assert_int_equal(abi_decode_log(&ev, 1, &t2[0][0], 1, d2, len2, vals, 16, NULL, NULL), MR_OK);
    assert_int_equal(vals[0].items[0].num.w[0], 5);
    assert_int_equal(vals[0].items[1].num.w[0], 1);
    assert_int_equal(abi_decode_log(&ev, 0, &t2[0][0], 1, d2, len2, vals, 16, NULL, NULL),
                     MR_ERR_ABI);
    /* an event with only indexed parameters has empty data */
    parse_sig(nodes, "Only(address indexed a)", &ev);
    args[0] = abi_v_address(addr);
    assert_int_equal(abi_encode_log(&ev, 0, args, 1, t2, &n, NULL, 0, &len2, NULL), MR_OK);
    assert_int_equal(len2, 0);
    assert_int_equal(abi_decode_log(&ev, 0, &t2[0][0], 2, NULL, 0, vals, 16, NULL, NULL), MR_OK);
    assert_int_equal(abi_decode_log(&ev, 0, &t2[0][0], 2, d2, 32, vals, 16, NULL, NULL),
                     MR_ERR_ABI);
}

/* ---- revert data ---- */

/* Solidity docs, "Error handling: Assert, Require, Revert and Exceptions":
 * revert("Not enough Ether provided.") returns this data. */
static void test_revert(void **state)
{
    uint8_t data[256];
    struct abi_revert r;
    struct mr_error err;
    size_t len;
    (void)state;

    len = unhex("0x08c379a0"
                "0000000000000000000000000000000000000000000000000000000000000020"
                "000000000000000000000000000000000000000000000000000000000000001a"
                "4e6f7420656e6f7567682045746865722070726f76696465642e000000000000",
                data, sizeof(data));
    assert_int_equal(abi_decode_revert(data, len, &r, NULL), MR_OK);
    assert_int_equal(r.kind, ABI_REVERT_ERROR);
    assert_int_equal(r.msg_len, 26);
    assert_memory_equal(r.msg, "Not enough Ether provided.", 26);
    /* a corrupt Error payload is an error, not a message */
    data[4 + 31] = 0x40;
    assert_int_equal(abi_decode_revert(data, len, &r, &err), MR_ERR_ABI);
    assert_non_null(strstr(err.msg, "revert data"));
    assert_int_equal(abi_decode_revert(data, len - 1, &r, NULL), MR_ERR_ABI);

    /* Panic(0x11): arithmetic overflow */
    len = unhex("4e487b71" "0000000000000000000000000000000000000000000000000000000000000011",
                data, sizeof(data));
    assert_int_equal(abi_decode_revert(data, len, &r, NULL), MR_OK);
    assert_int_equal(r.kind, ABI_REVERT_PANIC);
    assert_int_equal(r.code.w[0], 0x11);
    assert_int_equal(abi_decode_revert(data, 4, &r, NULL), MR_ERR_ABI);

    assert_int_equal(abi_decode_revert(NULL, 0, &r, NULL), MR_OK);
    assert_int_equal(r.kind, ABI_REVERT_EMPTY);
    assert_int_equal(abi_decode_revert((const uint8_t *)"\x12\x34\x56\x78\x00", 5, &r, NULL),
                     MR_OK);
    assert_int_equal(r.kind, ABI_REVERT_CUSTOM);
    tv_assert_hex(r.selector, 4, "12345678");
    assert_int_equal(abi_decode_revert((const uint8_t *)"\x08\xc3\x79", 3, &r, NULL), MR_ERR_ABI);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_valid),
        cmocka_unit_test(test_parse_invalid),
        cmocka_unit_test(test_signature),
        cmocka_unit_test(test_selectors_and_topics),
        cmocka_unit_test(test_abitests),
        cmocka_unit_test(test_solidity_spec_examples),
        cmocka_unit_test(test_tuple_and_int_encoding),
        cmocka_unit_test(test_mosaic_calldata),
        cmocka_unit_test(test_builder),
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_encode_invalid),
        cmocka_unit_test(test_decode_offsets),
        cmocka_unit_test(test_decode_lengths),
        cmocka_unit_test(test_decode_values),
        cmocka_unit_test(test_decode_int_value),
        cmocka_unit_test(test_log_stake_intent_declared),
        cmocka_unit_test(test_log_indexed_kinds),
        cmocka_unit_test(test_revert),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
