/*
 * test_usercmd.c - the users' commands: `stake` / `redeem` argument checks,
 * the progress display of a message (pure rendering on hand-made views),
 * the mosaic_dash views it reads (on the test PostgreSQL, with rows written
 * as the watcher writes them), and `message show|list` run as a process.
 */
#include "tests/lib/testlib.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/db.h"
#include "db/txstore.h"
#include "eth/hex.h"
#include "relayer/config.h"
#include "relayer/progress.h"
#include "relayer/usercmd.h"

#define BEN "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"

/* Parses argv (NULL-ended) as `stake` would. */
static int parse(enum mosaic_kind kind, const char *const *args, struct user_args *a,
                 struct mr_error *err)
{
    char *argv[32];
    int argc = 0;

    argv[argc++] = (char *)(uintptr_t)(kind == MOSAIC_STAKE ? "stake" : "redeem");
    while (*args != NULL && argc < 31)
        argv[argc++] = (char *)(uintptr_t)*args++; /* getopt permutes, never writes */
    argv[argc] = NULL;
    return user_args_parse(kind, argc, argv, a, err);
}

/* Expects a refusal whose message contains `want`. */
static void refused(const char *const *args, const char *want)
{
    struct user_args a;
    struct mr_error err;

    memset(&err, 0, sizeof(err));
    assert_int_equal(parse(MOSAIC_STAKE, args, &a, &err), MR_ERR_USAGE);
    if (strstr(err.msg, want) == NULL)
        fail_msg("expected '%s' in '%s'", want, err.msg);
}

static void test_args_ok(void **state)
{
    struct user_args a;
    struct mr_error err;
    uint64_t v = 0;
    (void)state;

    assert_int_equal(parse(MOSAIC_STAKE,
                           (const char *[]){"--config", "c.yaml", "--amount", "1000", "--beneficiary",
                                            BEN, "--key", "k.json", "--pair", "p1",
                                            "--password-file", "k.pass", "--gas-price", "0x2",
                                            "--gas-limit", "499", "--timeout", "90s", NULL},
                           &a, &err),
                     MR_OK);
    assert_int_equal(a.kind, MOSAIC_STAKE);
    assert_string_equal(a.config, "c.yaml");
    assert_string_equal(a.key, "k.json");
    assert_string_equal(a.pair, "p1");
    assert_string_equal(a.password_file, "k.pass");
    assert_int_equal(u256_to_u64(&a.amount, &v), MR_OK);
    assert_int_equal(v, 1000);
    assert_int_equal(u256_to_u64(&a.gas_price, &v), MR_OK);
    assert_int_equal(v, 2);
    assert_int_equal(u256_to_u64(&a.gas_limit, &v), MR_OK);
    assert_int_equal(v, 499);
    assert_int_equal(a.timeout_ms, 90000);
    assert_int_equal(a.no_wait, 0);
    assert_int_equal(a.beneficiary[0], 0x5a);
    assert_int_equal(a.beneficiary[19], 0xed);

    /* Defaults: no pair, stdin password, gas price and limit 0, 15 minutes. */
    assert_int_equal(parse(MOSAIC_REDEEM,
                           (const char *[]){"--no-wait", "--config", "c", "--key", "k", "--amount",
                                            "1", "--beneficiary", BEN, NULL},
                           &a, &err),
                     MR_OK);
    assert_int_equal(a.kind, MOSAIC_REDEEM);
    assert_null(a.pair);
    assert_null(a.password_file);
    assert_true(u256_is_zero(&a.gas_price) && u256_is_zero(&a.gas_limit));
    assert_int_equal(a.no_wait, 1);
    assert_int_equal(a.timeout_ms, USER_DEFAULT_TIMEOUT_MS);

    /* --help needs nothing else. */
    assert_int_equal(parse(MOSAIC_STAKE, (const char *[]){"--help", NULL}, &a, &err), MR_OK);
    assert_int_equal(a.help, 1);
}

static void test_args_refused(void **state)
{
    (void)state;
#define BASE "--config", "c", "--key", "k"
    refused((const char *[]){"--key", "k", "--amount", "1", "--beneficiary", BEN, NULL},
            "--config FILE is required");
    refused((const char *[]){"--config", "c", "--amount", "1", "--beneficiary", BEN, NULL},
            "--key KEYSTORE is required");
    refused((const char *[]){BASE, "--beneficiary", BEN, NULL}, "--amount N is required");
    refused((const char *[]){BASE, "--amount", "0", "--beneficiary", BEN, NULL},
            "greater than 0");
    refused((const char *[]){BASE, "--amount", "12x", "--beneficiary", BEN, NULL},
            "--amount '12x' is not a number");
    refused((const char *[]){BASE, "--amount", "-1", "--beneficiary", BEN, NULL},
            "is not a number");
    refused((const char *[]){BASE, "--amount",
                             "115792089237316195423570985008687907853269984665640564039457584007913129639936",
                             "--beneficiary", BEN, NULL},
            "is not a number");
    refused((const char *[]){BASE, "--amount", "5", NULL}, "--beneficiary ADDRESS is required");
    refused((const char *[]){BASE, "--amount", "5", "--beneficiary", "0x1234", NULL},
            "--beneficiary '0x1234'");
    /* A mixed-case address with a wrong checksum is a likely typo. */
    refused((const char *[]){BASE, "--amount", "5", "--beneficiary",
                             "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD", NULL},
            "--beneficiary");
    refused((const char *[]){BASE, "--amount", "5", "--beneficiary",
                             "0x0000000000000000000000000000000000000000", NULL},
            "zero address");
    /* amount > gasPrice * gasLimit, strictly (mosaic-protocol.md §6). */
    refused((const char *[]){BASE, "--amount", "10", "--beneficiary", BEN, "--gas-price", "2",
                             "--gas-limit", "5", NULL},
            "greater than --gas-price times --gas-limit");
    refused((const char *[]){BASE, "--amount", "10", "--beneficiary", BEN, "--gas-price",
                             "0x100000000000000000000000000000000", "--gas-limit",
                             "0x100000000000000000000000000000000", NULL},
            "greater than --gas-price times --gas-limit");
    refused((const char *[]){BASE, "--amount", "10", "--beneficiary", BEN, "--timeout", "0", NULL},
            "--timeout '0'");
    refused((const char *[]){BASE, "--amount", "10", "--beneficiary", BEN, "--timeout", "5 s",
                             NULL},
            "--timeout");
    refused((const char *[]){BASE, "--amount", "10", "--beneficiary", BEN, "extra", NULL},
            "unexpected argument");
    refused((const char *[]){BASE, "--amount", NULL}, "unknown or incomplete option");
    /* An unknown option is named, but a value that may be a password is not. */
    {
        struct user_args a;
        struct mr_error err;
        assert_int_equal(parse(MOSAIC_STAKE,
                               (const char *[]){BASE, "--password", "hunter2", NULL}, &a, &err),
                         MR_ERR_USAGE);
        assert_null(strstr(err.msg, "hunter2"));
        assert_int_equal(parse(MOSAIC_STAKE, (const char *[]){BASE, "--password=hunter2", NULL},
                               &a, &err),
                         MR_ERR_USAGE);
        assert_null(strstr(err.msg, "hunter2"));
    }
#undef BASE
}

static void test_duration(void **state)
{
    int64_t ms = 0;
    (void)state;

    assert_int_equal(user_parse_duration("250ms", &ms), MR_OK);
    assert_int_equal(ms, 250);
    assert_int_equal(user_parse_duration("30", &ms), MR_OK);
    assert_int_equal(ms, 30000);
    assert_int_equal(user_parse_duration("30s", &ms), MR_OK);
    assert_int_equal(ms, 30000);
    assert_int_equal(user_parse_duration("5m", &ms), MR_OK);
    assert_int_equal(ms, 300000);
    assert_int_equal(user_parse_duration("2h", &ms), MR_OK);
    assert_int_equal(ms, 7200000);
    assert_int_equal(user_parse_duration("168h", &ms), MR_OK);
    assert_int_equal(user_parse_duration("169h", &ms), MR_ERR_INVALID);
    assert_int_equal(user_parse_duration("0s", &ms), MR_ERR_INVALID);
    assert_int_equal(user_parse_duration("", &ms), MR_ERR_INVALID);
    assert_int_equal(user_parse_duration("s", &ms), MR_ERR_INVALID);
    assert_int_equal(user_parse_duration("-5", &ms), MR_ERR_INVALID);
    assert_int_equal(user_parse_duration("5d", &ms), MR_ERR_INVALID);
    assert_int_equal(user_parse_duration("99999999999999999999", &ms), MR_ERR_INVALID);
    assert_int_equal(user_parse_duration(NULL, &ms), MR_ERR_INVALID);
}

static void test_pick_pair(void **state)
{
    struct config *c = calloc(1, sizeof(*c));
    struct mr_error err;
    (void)state;

    snprintf(c->path, sizeof(c->path), "relayer.yaml");
    assert_int_equal(user_pick_pair(c, NULL, &err), -1);
    assert_non_null(strstr(err.msg, "no gateway pairs"));
    snprintf(c->gateways[0].name, sizeof(c->gateways[0].name), "ost-aux1");
    c->n_gateways = 1;
    assert_int_equal(user_pick_pair(c, NULL, &err), 0);
    assert_int_equal(user_pick_pair(c, "ost-aux1", &err), 0);
    assert_int_equal(user_pick_pair(c, "ost-aux2", &err), -1);
    assert_non_null(strstr(err.msg, "no gateway pair 'ost-aux2' in relayer.yaml"));
    snprintf(c->gateways[1].name, sizeof(c->gateways[1].name), "ost-aux2");
    c->n_gateways = 2;
    assert_int_equal(user_pick_pair(c, NULL, &err), -1);
    assert_non_null(strstr(err.msg, "choose one with --pair (ost-aux1, ost-aux2)"));
    assert_int_equal(user_pick_pair(c, "ost-aux2", &err), 1);
    free(c);
}

/* ---- progress rendering ---- */

static void set_step(struct progress_view *v, enum progress_step s, const char *chain,
                     uint64_t block, uint8_t txbyte)
{
    struct progress_step_info *p = &v->steps[s];

    p->done = 1;
    snprintf(p->chain, sizeof(p->chain), "%s", chain);
    p->has_block = 1;
    p->block = block;
    p->has_tx = 1;
    memset(p->tx_hash, txbyte, 32);
    snprintf(p->at, sizeof(p->at), "2024-05-01 12:00:%02u", (unsigned)(block % 60));
}

static void stake_view(struct progress_view *v)
{
    memset(v, 0, sizeof(*v));
    memset(v->message_hash, 0xab, 32);
    v->found = 1;
    snprintf(v->pair, sizeof(v->pair), "ost-aux1");
    snprintf(v->source, sizeof(v->source), "origin");
    snprintf(v->target, sizeof(v->target), "aux1");
    snprintf(v->state, sizeof(v->state), "declared");
    snprintf(v->amount, sizeof(v->amount), "1000");
    v->source_status = 1;
    v->declared_block = 12;
    set_step(v, PSTEP_DECLARED, "origin", 12, 0x11);
}

static void waiting(const struct progress_view *v, const char *want)
{
    char w[256];

    progress_waiting_for(v, w, sizeof(w));
    if (strcmp(w, want) != 0)
        fail_msg("waiting for '%s', expected '%s'", w, want);
}

static void test_progress_steps(void **state)
{
    struct progress_view v;
    char line[320];
    (void)state;

    stake_view(&v);
    assert_string_equal(progress_step_name(PSTEP_PROGRESSED_TARGET, 0), "progressed (mint)");
    assert_string_equal(progress_step_name(PSTEP_PROGRESSED_TARGET, 1), "progressed (unstake)");
    assert_string_equal(progress_step_event(PSTEP_CONFIRMED, 1), "RedeemIntentConfirmed");
    assert_int_equal(progress_step_of_event("MintProgressed", 0), PSTEP_PROGRESSED_TARGET);
    assert_int_equal(progress_step_of_event("MintProgressed", 1), -1);
    assert_int_equal(progress_step_of_event("RevertRedeemDeclared", 1), PSTEP_REVERT_DECLARED);
    assert_int_equal(progress_step_of_event("GatewayProven", 0), -1);

    progress_format_step(&v, PSTEP_DECLARED, line, sizeof(line));
    assert_non_null(strstr(line, "declared"));
    assert_non_null(strstr(line, "origin"));
    assert_non_null(strstr(line, "block 12 "));
    assert_non_null(strstr(line, "tx 0x1111111111111111111111111111111111111111111111111111111111111111"));
    assert_non_null(strstr(line, "2024-05-01 12:00:12"));
    assert_non_null(strstr(line, "StakeIntentDeclared"));
    /* Truncation keeps a terminated string. */
    assert_int_equal(progress_format_step(&v, PSTEP_DECLARED, line, 10), 9);
    assert_int_equal(strlen(line), 9);

    set_step(&v, PSTEP_ANCHORED, "aux1", 7, 0x22);
    v.steps[PSTEP_ANCHORED].has_height = 1;
    v.steps[PSTEP_ANCHORED].height = 14;
    v.steps[PSTEP_ANCHORED].has_tx = 0;
    progress_format_step(&v, PSTEP_ANCHORED, line, sizeof(line));
    assert_non_null(strstr(line, "(origin at height 14)"));
    assert_non_null(strstr(line, "tx -"));
}

static void test_progress_waiting(void **state)
{
    struct progress_view v;
    (void)state;

    memset(&v, 0, sizeof(v));
    waiting(&v, "the relayer to record the declaration (is `mosaic-relayer run` running?)");
    assert_int_equal(progress_outcome(&v), PROGRESS_PENDING);
    stake_view(&v);
    waiting(&v, "an anchor of origin's state root at a height >= 12 on aux1 (once that block is "
                "final)");
    set_step(&v, PSTEP_ANCHORED, "aux1", 7, 0x22);
    v.steps[PSTEP_ANCHORED].height = 14;
    waiting(&v, "proveGateway on aux1 at height 14");
    set_step(&v, PSTEP_PROVEN, "aux1", 8, 0x33);
    waiting(&v, "confirmStakeIntent on aux1");
    set_step(&v, PSTEP_CONFIRMED, "aux1", 8, 0x44);
    waiting(&v, "progressStake on origin and progressMint on aux1");
    set_step(&v, PSTEP_PROGRESSED_TARGET, "aux1", 9, 0x66);
    waiting(&v, "progressStake on origin");
    assert_int_equal(progress_outcome(&v), PROGRESS_PENDING);
    set_step(&v, PSTEP_PROGRESSED_SOURCE, "origin", 15, 0x55);
    waiting(&v, "");
    assert_int_equal(progress_outcome(&v), PROGRESS_COMPLETED);

    /* A redeem names its own calls and goes the other way. */
    stake_view(&v);
    v.is_redeem = 1;
    snprintf(v.source, sizeof(v.source), "aux1");
    snprintf(v.target, sizeof(v.target), "origin");
    set_step(&v, PSTEP_CONFIRMED, "origin", 20, 0x44);
    set_step(&v, PSTEP_PROGRESSED_SOURCE, "aux1", 21, 0x55);
    waiting(&v, "progressUnstake on origin");

    /* Reverts. */
    stake_view(&v);
    set_step(&v, PSTEP_REVERT_DECLARED, "origin", 13, 0x77);
    waiting(&v, "confirmRevertStakeIntent on aux1");
    set_step(&v, PSTEP_REVERT_CONFIRMED, "aux1", 9, 0x88);
    waiting(&v, "progressRevertStake on origin");
    set_step(&v, PSTEP_REVERTED, "origin", 16, 0x99);
    assert_int_equal(progress_outcome(&v), PROGRESS_REVERTED);
    /* The target progressed first: the source can only progress too (§5.3). */
    stake_view(&v);
    set_step(&v, PSTEP_REVERT_DECLARED, "origin", 13, 0x77);
    set_step(&v, PSTEP_PROGRESSED_TARGET, "aux1", 9, 0x66);
    waiting(&v, "progressStake on origin");

    /* The relayer's state decides too. */
    stake_view(&v);
    snprintf(v.state, sizeof(v.state), "halted");
    assert_int_equal(progress_outcome(&v), PROGRESS_STOPPED);
    waiting(&v, "");
    snprintf(v.state, sizeof(v.state), "completed");
    assert_int_equal(progress_outcome(&v), PROGRESS_COMPLETED);
    snprintf(v.state, sizeof(v.state), "reverted");
    assert_int_equal(progress_outcome(&v), PROGRESS_REVERTED);
    /* ... once the watchers have recorded it: before, the display goes on,
     * or the steps recorded later would never be shown. */
    stake_view(&v);
    set_step(&v, PSTEP_ANCHORED, "aux1", 7, 0x22);
    v.steps[PSTEP_ANCHORED].height = 14;
    snprintf(v.state, sizeof(v.state), "completed");
    snprintf(v.behind_chain, sizeof(v.behind_chain), "aux1");
    v.behind_block = 9;
    assert_int_equal(progress_outcome(&v), PROGRESS_PENDING);
    waiting(&v, "the watcher of aux1 to record block 9 (the message completed on chain)");
    snprintf(v.state, sizeof(v.state), "reverted");
    assert_int_equal(progress_outcome(&v), PROGRESS_PENDING);
    waiting(&v, "the watcher of aux1 to record block 9 (the message was reverted on chain)");
    snprintf(v.state, sizeof(v.state), "halted");
    assert_int_equal(progress_outcome(&v), PROGRESS_STOPPED);
}

/* Runs fn(v, arg) with a FILE into a string; returns it (caller frees). */
static char *capture_new(const struct progress_view *v, unsigned *shown, int *printed)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    assert_non_null(f);
    *printed = progress_print_new(v, shown, f);
    fclose(f);
    return buf;
}

static void test_progress_print(void **state)
{
    struct progress_view v;
    unsigned shown = 0;
    int printed = 0;
    char *out, *buf = NULL;
    size_t len = 0;
    FILE *f;
    (void)state;

    stake_view(&v);
    out = capture_new(&v, &shown, &printed);
    assert_int_equal(printed, 1);
    assert_non_null(strstr(out, "declared"));
    free(out);
    out = capture_new(&v, &shown, &printed);
    assert_int_equal(printed, 0);
    assert_string_equal(out, "");
    free(out);
    /* Two steps recorded at once come out in the flow's order. */
    set_step(&v, PSTEP_CONFIRMED, "aux1", 8, 0x44);
    set_step(&v, PSTEP_ANCHORED, "aux1", 7, 0x22);
    out = capture_new(&v, &shown, &printed);
    assert_int_equal(printed, 2);
    assert_true(strstr(out, "anchored") < strstr(out, "confirmed"));
    free(out);

    /* The whole view: steps not yet done say so; revert steps only once
     * a revert began. */
    f = open_memstream(&buf, &len);
    progress_print_view(&v, f);
    fclose(f);
    assert_non_null(strstr(buf, "message        0xabababab"));
    assert_non_null(strstr(buf, "flow           stake (pair ost-aux1: origin -> aux1)"));
    assert_non_null(strstr(buf, "on chain       origin outbox Declared, aux1 inbox Undeclared"));
    assert_non_null(strstr(buf, "proven               (not yet)"));
    assert_non_null(strstr(buf, "waiting for    progressStake on origin and progressMint on aux1"));
    assert_null(strstr(buf, "revert"));
    free(buf);
    set_step(&v, PSTEP_REVERT_DECLARED, "origin", 13, 0x77);
    buf = NULL;
    f = open_memstream(&buf, &len);
    progress_print_view(&v, f);
    fclose(f);
    assert_non_null(strstr(buf, "revert declared"));
    assert_non_null(strstr(buf, "reverted             (not yet)"));
    free(buf);
    /* A message the relayer has not recorded. */
    v.found = 0;
    buf = NULL;
    f = open_memstream(&buf, &len);
    progress_print_view(&v, f);
    fclose(f);
    assert_non_null(strstr(buf, "not recorded"));
    free(buf);
}

/* ---- the views, on the test PostgreSQL ---- */

static void exec_ok(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);

    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQerrorMessage(c));
    PQclear(r);
}

#define MH "'\\x" "abababababababababababababababababababababababababababababababab" "'"
#define MH_HEX "0xabababababababababababababababababababababababababababababababab"

/* A stake as the watcher records it: declared at origin block 12, anchored
 * on aux1 at origin height 14 (tx 0x22.. in aux1 block 7), proven (block 8),
 * confirmed (block 8), progressed on both sides. */
static void fill_stake(PGconn *c, int complete)
{
    exec_ok(c, "INSERT INTO mosaic.chains (chain_key, chain_id, role) VALUES"
               " ('origin', 31337, 'origin'), ('aux1', 1405, 'auxiliary')");
    exec_ok(c, "INSERT INTO mosaic.messages (message_hash, flow, gateway_pair, source_chain,"
               " target_chain, intent_hash, sender, nonce, beneficiary, amount, gas_price,"
               " gas_limit, hashlock, declared_block) VALUES (" MH ", 'stake', 'ost-aux1',"
               " 'origin', 'aux1', '\\x" "0101010101010101010101010101010101010101010101010101010101010101',"
               " '\\x0202020202020202020202020202020202020202', 0,"
               " '\\x0303030303030303030303030303030303030303', 1000, 0, 0,"
               " '\\x0404040404040404040404040404040404040404040404040404040404040404', 12)");
#define EV(chain, blk, tx, idx, kind, mh, fields)                                               \
    "INSERT INTO mosaic.events (chain_key, block_number, block_hash, tx_hash, tx_index,"         \
    " log_index, address, kind, message_hash, fields) VALUES ('" chain "', " #blk ", '\\x"       \
    "00000000000000000000000000000000000000000000000000000000000000" #blk "', '\\x" tx "', 0, " \
    #idx ", '\\x0505050505050505050505050505050505050505', '" kind "', " mh ", '" fields "')"
#define TX(b) b b b b b b b b b b b b b b b b b b b b b b b b b b b b b b b b
    exec_ok(c, EV("origin", 12, TX("11"), 0, "StakeIntentDeclared", MH, "{}"));
    /* An older anchor below the declaration, and the one that counts. */
    exec_ok(c, "INSERT INTO mosaic.anchors (chain_key, remote_chain, block_height, state_root,"
               " tx_hash) VALUES ('aux1', 'origin', 10, '\\x" TX("99") "', '\\x" TX("98") "'),"
               " ('aux1', 'origin', 14, '\\x" TX("99") "', '\\x" TX("22") "')");
    exec_ok(c, EV("aux1", 07, TX("22"), 0, "StateRootAvailable", "NULL",
                  "{\"blockHeight\": \"14\"}"));
    /* A proof at another height is not this message's. */
    exec_ok(c, EV("aux1", 06, TX("97"), 0, "GatewayProven", "NULL", "{\"blockHeight\": \"10\"}"));
    exec_ok(c, EV("aux1", 08, TX("33"), 0, "GatewayProven", "NULL", "{\"blockHeight\": \"14\"}"));
    exec_ok(c, EV("aux1", 08, TX("44"), 1, "StakeIntentConfirmed", MH, "{}"));
    if (complete) {
        exec_ok(c, EV("aux1", 09, TX("66"), 0, "MintProgressed", MH, "{}"));
        exec_ok(c, EV("origin", 15, TX("55"), 0, "StakeProgressed", MH, "{}"));
        exec_ok(c, "UPDATE mosaic.messages SET state = 'completed', source_status = 2,"
                   " target_status = 2, completed_at = now()");
    }
#undef EV
}

static void test_progress_load(void **state)
{
    uint8_t mh[32];
    struct progress_view v;
    struct mr_error err;
    char *ci = NULL;
    PGconn *c;
    (void)state;

    TV_REQUIRE_PG();
    c = tv_pg_migrated(&ci);
    memset(mh, 0xab, 32);
    assert_int_equal(progress_load(c, mh, &v, &err), MR_OK);
    assert_int_equal(v.found, 0);
    fill_stake(c, 0);
    assert_int_equal(progress_load(c, mh, &v, &err), MR_OK);
    assert_int_equal(v.found, 1);
    assert_int_equal(v.is_redeem, 0);
    assert_string_equal(v.pair, "ost-aux1");
    assert_string_equal(v.source, "origin");
    assert_string_equal(v.target, "aux1");
    assert_string_equal(v.amount, "1000");
    assert_int_equal(v.declared_block, 12);
    assert_true(v.steps[PSTEP_DECLARED].done);
    assert_string_equal(v.steps[PSTEP_DECLARED].chain, "origin");
    assert_int_equal(v.steps[PSTEP_DECLARED].block, 12);
    assert_int_equal(v.steps[PSTEP_DECLARED].tx_hash[31], 0x11);
    assert_true(v.steps[PSTEP_ANCHORED].done);
    assert_string_equal(v.steps[PSTEP_ANCHORED].chain, "aux1");
    assert_int_equal(v.steps[PSTEP_ANCHORED].height, 14);
    assert_int_equal(v.steps[PSTEP_ANCHORED].block, 7);
    assert_int_equal(v.steps[PSTEP_ANCHORED].tx_hash[0], 0x22);
    assert_true(v.steps[PSTEP_PROVEN].done);
    assert_int_equal(v.steps[PSTEP_PROVEN].block, 8);
    assert_int_equal(v.steps[PSTEP_PROVEN].tx_hash[0], 0x33);
    assert_true(v.steps[PSTEP_CONFIRMED].done);
    assert_false(v.steps[PSTEP_PROGRESSED_SOURCE].done);
    assert_int_equal(progress_outcome(&v), PROGRESS_PENDING);
    assert_int_not_equal(v.steps[PSTEP_DECLARED].at[0], '\0');
    assert_string_equal(v.behind_chain, "");

    /* The relayer read the end on chain (its calls mined in origin block 15
     * and aux1 block 9) before the watchers recorded those blocks: not
     * ended for the display until they have. */
    exec_ok(c, "UPDATE mosaic.messages SET state = 'completed', completed_at = now(),"
               " confirmed_block = 8, target_done_block = 9, source_done_block = 15");
    exec_ok(c, "UPDATE mosaic.chains SET cursor_block = 14, cursor_hash = '\\x" TX("01") "'");
    assert_int_equal(progress_load(c, mh, &v, &err), MR_OK);
    assert_string_equal(v.behind_chain, "origin");
    assert_int_equal(v.behind_block, 15);
    assert_int_equal(progress_outcome(&v), PROGRESS_PENDING);
    exec_ok(c, "UPDATE mosaic.chains SET cursor_block = 15 WHERE chain_key = 'origin'");
    exec_ok(c, "UPDATE mosaic.chains SET cursor_block = 8 WHERE chain_key = 'aux1'");
    assert_int_equal(progress_load(c, mh, &v, &err), MR_OK);
    assert_string_equal(v.behind_chain, "aux1");
    assert_int_equal(v.behind_block, 9);
    exec_ok(c, "UPDATE mosaic.chains SET cursor_block = 9 WHERE chain_key = 'aux1'");
    assert_int_equal(progress_load(c, mh, &v, &err), MR_OK);
    assert_string_equal(v.behind_chain, "");
    assert_int_equal(progress_outcome(&v), PROGRESS_COMPLETED);
    exec_ok(c, "UPDATE mosaic.chains SET cursor_block = 8 WHERE chain_key = 'aux1'");

    /* The dashboards' read-only role reads the same through the views, and
     * no secret table. */
    if (tv_pg_int64(c, "SELECT count(*) FROM pg_roles WHERE rolname = 'mosaic_readonly'") == 1) {
        PGresult *r;
        exec_ok(c, "SET ROLE mosaic_readonly");
        assert_int_equal(progress_load(c, mh, &v, &err), MR_OK);
        assert_true(v.found && v.steps[PSTEP_PROVEN].done);
        assert_string_equal(v.behind_chain, "aux1"); /* the chains view is readable too */
        r = PQexec(c, "SELECT * FROM mosaic.pending_secrets");
        assert_int_equal(PQresultStatus(r), PGRES_FATAL_ERROR);
        PQclear(r);
        exec_ok(c, "RESET ROLE");
    }
    PQfinish(c);
    free(ci);
}

/* A user's key is spent elsewhere too: its allocator follows the chain,
 * but never past transactions of ours that are not mined yet. */
static void test_adopt_nonce(void **state)
{
    uint8_t who[20], to[20], data[4] = {1, 2, 3, 4};
    struct txs_intent in;
    struct mr_error err;
    char *ci = NULL;
    uint64_t nonce = 0;
    int64_t id = 0;
    int adopted = -1;
    PGconn *c;
    (void)state;

    TV_REQUIRE_PG();
    c = tv_pg_migrated(&ci);
    exec_ok(c, "INSERT INTO mosaic.chains (chain_key, chain_id, role) VALUES ('origin', 31337,"
               " 'origin')");
    memset(who, 0x42, 20);
    memset(to, 0x43, 20);
    assert_int_equal(txs_adopt_nonce(c, "origin", who, 5, &adopted, &err), MR_OK);
    assert_int_equal(adopted, 1);
    assert_int_equal(tv_pg_int64(c, "SELECT next_nonce FROM mosaic.signer_nonces"), 5);
    /* Used elsewhere meanwhile: nonce 9 on chain. */
    assert_int_equal(txs_adopt_nonce(c, "origin", who, 9, &adopted, &err), MR_OK);
    assert_int_equal(tv_pg_int64(c, "SELECT next_nonce FROM mosaic.signer_nonces"), 9);
    /* Never backwards. */
    assert_int_equal(txs_adopt_nonce(c, "origin", who, 3, &adopted, &err), MR_OK);
    assert_int_equal(adopted, 1);
    assert_int_equal(tv_pg_int64(c, "SELECT next_nonce FROM mosaic.signer_nonces"), 9);
    /* An intent of ours not yet mined holds the allocator where it is. */
    memset(&in, 0, sizeof(in));
    in.chain_key = "origin";
    in.sender = who;
    in.purpose = "stake";
    in.to = to;
    in.calldata = data;
    in.calldata_len = sizeof(data);
    in.gas_limit = 100000;
    assert_int_equal(txs_create_intent(c, &in, 9, &id, &nonce, &err), MR_OK);
    assert_int_equal(nonce, 9);
    assert_int_equal(txs_adopt_nonce(c, "origin", who, 12, &adopted, &err), MR_OK);
    assert_int_equal(adopted, 0);
    assert_int_equal(tv_pg_int64(c, "SELECT next_nonce FROM mosaic.signer_nonces"), 10);
    assert_int_equal(txs_mark_aborted(c, id, "test", &err), MR_OK);
    assert_int_equal(txs_adopt_nonce(c, "origin", who, 12, &adopted, &err), MR_OK);
    assert_int_equal(adopted, 1);
    assert_int_equal(tv_pg_int64(c, "SELECT next_nonce FROM mosaic.signer_nonces"), 12);
    PQfinish(c);
    free(ci);
}

static void test_message_cmd(void **state)
{
    char *ci = NULL, *out = NULL, *err = NULL;
    PGconn *c;
    (void)state;

    TV_REQUIRE_PG();
    c = tv_pg_migrated(&ci);
    fill_stake(c, 1);
    assert_int_equal(tv_run_cli((const char *[]){"message", "show", MH_HEX, "--database", ci,
                                                 NULL},
                                NULL, &out, &err), 0);
    assert_non_null(strstr(out, "state          completed"));
    assert_non_null(strstr(out, "on chain       origin outbox Progressed, aux1 inbox Progressed"));
    assert_non_null(strstr(out, "progressed (mint)    aux1       block 9 "));
    assert_non_null(strstr(out, "progressed (stake)   origin     block 15 "));
    assert_non_null(strstr(out, "(origin at height 14)"));
    assert_null(strstr(out, "not yet"));
    assert_null(strstr(out, "waiting for"));
    free(out);
    free(err);
    assert_int_equal(tv_run_cli((const char *[]){"message", "list", "--database", ci, NULL}, NULL,
                                &out, &err), 0);
    assert_non_null(strstr(out, MH_HEX " stake  ost-aux1       completed"));
    assert_non_null(strstr(out, "6/6"));
    assert_non_null(strstr(out, "(1 message)"));
    free(out);
    free(err);
    assert_int_equal(tv_run_cli((const char *[]){"message", "list", "--status", "open",
                                                 "--database", ci, NULL},
                                NULL, &out, &err), 0);
    assert_non_null(strstr(out, "(0 messages)"));
    free(out);
    free(err);
    /* Not found, and bad usage. */
    assert_int_equal(tv_run_cli((const char *[]){"message", "show", "0x" TX("cd"), "--database",
                                                 ci, NULL},
                                NULL, &out, &err), 1);
    assert_non_null(strstr(err, "no message 0xcdcd"));
    free(out);
    free(err);
    assert_int_equal(tv_run_cli((const char *[]){"message", "show", "0x1234", NULL}, NULL, &out,
                                &err), 2);
    assert_non_null(strstr(err, "is not a message hash"));
    free(out);
    free(err);
    assert_int_equal(tv_run_cli((const char *[]){"message", "list", "--status", "bogus", NULL},
                                NULL, &out, &err), 2);
    free(out);
    free(err);
    assert_int_equal(tv_run_cli((const char *[]){"message", "list", "--limit", "0", NULL}, NULL,
                                &out, &err), 2);
    free(out);
    free(err);
    assert_int_equal(tv_run_cli((const char *[]){"message", NULL}, NULL, &out, &err), 2);
    free(out);
    free(err);
    assert_int_equal(tv_run_cli((const char *[]){"message", "--help", NULL}, NULL, &out, &err), 0);
    assert_non_null(strstr(out, "usage: mosaic-relayer message show HASH"));
    free(out);
    free(err);
    PQfinish(c);
    free(ci);
}

/* The commands' usage errors, run as a process: one line, exit 2. */
static void test_user_cli_usage(void **state)
{
    char *out = NULL, *err = NULL;
    (void)state;

    assert_int_equal(tv_run_cli((const char *[]){"stake", "--help", NULL}, NULL, &out, &err), 0);
    assert_non_null(strstr(out, "usage: mosaic-relayer stake"));
    free(out);
    free(err);
    assert_int_equal(tv_run_cli((const char *[]){"redeem", "--help", NULL}, NULL, &out, &err), 0);
    assert_non_null(strstr(out, "redeem{value: bounty}"));
    free(out);
    free(err);
    assert_int_equal(tv_run_cli((const char *[]){"stake", "--amount", "1", NULL}, NULL, &out, &err),
                     2);
    assert_non_null(strstr(err, "mosaic-relayer stake: --config FILE is required"));
    assert_null(strchr(err, '\n') == NULL ? NULL : strchr(strchr(err, '\n') + 1, '\n'));
    free(out);
    free(err);
    assert_int_equal(tv_run_cli((const char *[]){"balance", "--config", "x", NULL}, NULL, &out,
                                &err), 2);
    free(out);
    free(err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_args_ok),
        cmocka_unit_test(test_args_refused),
        cmocka_unit_test(test_duration),
        cmocka_unit_test(test_pick_pair),
        cmocka_unit_test(test_progress_steps),
        cmocka_unit_test(test_progress_waiting),
        cmocka_unit_test(test_progress_print),
        cmocka_unit_test(test_progress_load),
        cmocka_unit_test(test_adopt_nonce),
        cmocka_unit_test(test_message_cmd),
        cmocka_unit_test(test_user_cli_usage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
