/*
 * bench_txm.c - the transaction manager measured against one anvil chain
 * (automine) and a real PostgreSQL.  Prints numbers, never a pass/fail:
 *
 *   1. transactions signed, recorded, sent and confirmed per second through
 *      txm_submit + txm_poll (with the dry run, and pipelined: no dry run,
 *      gas given), next to a bare loop that sends the same kind of
 *      pre-signed transactions with eth_sendRawTransaction and reads each
 *      receipt, as ratios;
 *   2. JSON-RPC requests per second (eth_blockNumber) through the client
 *      (rpc_call, keep-alive), with one reused libcurl handle, and with a
 *      fresh connection per request, as ratios.
 *
 * usage: bench-txm CONNINFO ANVIL_URL [TXS] [REQUESTS]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "chain/ethrpc.h"
#include "chain/rpc.h"
#include "db/db.h"
#include "eth/key.h"
#include "eth/tx.h"
#include "relayer/keyfile.h"
#include "relayer/signer.h"
#include "relayer/txm.h"

/* anvil's public dev accounts #4 (the manager's) and #5 (the bare loop's:
 * another key, since the manager halts a key that someone else uses). */
static const char dev_sk[] = "47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a";
static const char bare_sk[] = "8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba";
static const uint8_t target[20] = {0x11, 0x11};

#define ROUNDS 3 /* each figure is the best of this many runs */

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, const struct mr_error *err)
{
    fprintf(stderr, "bench-txm: %s: %s\n", what, err != NULL ? err->msg : "");
    exit(1);
}

static void unhex(const char *s, uint8_t *out, size_t n)
{
    for (size_t i = 0; i < n; i++)
        sscanf(s + 2 * i, "%2hhx", &out[i]);
}

/* A keystore (light scrypt) and 0600 password file for dev_sk in dir. */
static void make_key(const char *dir, char *key, char *pw, size_t cap)
{
    uint8_t seed[32] = {4}, sk[32];
    secp256k1_context *ctx = key_ctx_create(seed);
    struct keyfile kf;
    struct mr_error err;
    FILE *f;

    unhex(dev_sk, sk, 32);
    snprintf(key, cap, "%s/k.json", dir);
    snprintf(pw, cap, "%s/k.pass", dir);
    if (keyfile_create(ctx, sk, (const uint8_t *)"pw", 2, KEYFILE_LIGHT_SCRYPT_N, &kf, &err) ||
        keyfile_write_new(key, &kf, &err))
        die("keystore", &err);
    key_ctx_destroy(ctx);
    if ((f = fopen(pw, "w")) == NULL)
        die("password file", NULL);
    fputs("pw\n", f);
    fclose(f);
    chmod(pw, 0600);
}

/* Submits n transactions, then polls until all are final.  Returns tx/s. */
static double run_txm(struct txm *t, int n, int pipelined)
{
    struct mr_error err;
    size_t left = 1;
    double t0 = now_s(), t1;
    int polls = 0;

    for (int i = 0; i < n; i++) {
        struct txs_intent in;
        int64_t id;
        memset(&in, 0, sizeof(in));
        in.purpose = "bench";
        in.to = target;
        in.gas_limit = 21000;
        in.no_dry_run = pipelined;
        if (txm_submit(t, &in, &id, &err) != MR_OK)
            die("txm_submit", &err);
    }
    t1 = now_s();
    for (; left > 0; polls++)
        if (txm_poll(t, &left, &err) != MR_OK)
            die("txm_poll", &err);
    if (getenv("BENCH_VERBOSE") != NULL)
        printf("  (%s: submit %.2f s, %d polls %.2f s)\n", pipelined ? "pipelined" : "dry run",
               t1 - t0, polls, now_s() - t1);
    return n / (now_s() - t0);
}

/* Signs n plain transfers from bare_sk with the manager's fees (signing is
 * not timed), then sends them all and reads every receipt.  Returns tx/s. */
static double run_bare(struct txm *t, int n)
{
    struct mr_error err;
    struct u256 fee, tip;
    uint8_t (*raw)[256] = malloc((size_t)n * 256), (*hash)[32] = malloc((size_t)n * 32);
    uint8_t seed[32] = {5}, sk[32], addr[20];
    size_t *len = malloc((size_t)n * sizeof(size_t));
    secp256k1_context *ctx = key_ctx_create(seed);
    uint64_t nonce;
    double t0;

    unhex(bare_sk, sk, 32);
    if (raw == NULL || hash == NULL || len == NULL || ctx == NULL ||
        key_private_to_address(ctx, sk, addr, &err) != MR_OK ||
        ethrpc_get_transaction_count(t->rpc, addr, "pending", &nonce, NULL, &err) != MR_OK ||
        txm_fees(t, &fee, &tip, &err) != MR_OK)
        die("bare loop setup", &err);
    for (int i = 0; i < n; i++) {
        struct tx tx;
        tx_init(&tx, TX_DYNAMIC_FEE, t->cfg.chain_id);
        tx.nonce = nonce + (uint64_t)i;
        tx.gas_limit = 21000;
        tx.max_fee = fee;
        tx.max_priority_fee = tip;
        tx.has_to = 1;
        memcpy(tx.to, target, 20);
        if (tx_sign(ctx, &tx, sk, &err) != MR_OK ||
            tx_encode(&tx, raw[i], 256, &len[i], &err) != MR_OK)
            die("signing", &err);
    }
    t0 = now_s();
    for (int i = 0; i < n; i++)
        if (ethrpc_send_raw_transaction(t->rpc, raw[i], len[i], hash[i], NULL, &err) != MR_OK)
            die("eth_sendRawTransaction", &err);
    for (int i = 0; i < n; i++) {
        struct eth_receipt r;
        int rc;
        while ((rc = ethrpc_get_receipt(t->rpc, hash[i], &r, NULL, &err)) == MR_ERR_NOTFOUND)
            usleep(1000); /* anvil mines just after it answers the send: ask again */
        if (rc != MR_OK)
            die("eth_getTransactionReceipt", &err);
        ethrpc_receipt_free(&r);
    }
    t0 = n / (now_s() - t0);
    mr_wipe(sk, sizeof(sk));
    key_ctx_destroy(ctx);
    free(raw);
    free(hash);
    free(len);
    return t0;
}

static size_t sink(char *data, size_t size, size_t nmemb, void *arg)
{
    (void)data;
    (void)arg;
    return size * nmemb;
}

/* n eth_blockNumber POSTs with raw libcurl: one handle reused (keep-alive)
 * or a new handle (a new TCP connection) for each.  Returns requests/s. */
static double run_curl(const char *url, int n, int fresh)
{
    static const char body[] = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"eth_blockNumber\",\"params\":[]}";
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    CURL *c = NULL;
    double t0 = now_s();

    for (int i = 0; i < n; i++) {
        if (c == NULL) {
            c = curl_easy_init();
            curl_easy_setopt(c, CURLOPT_URL, url);
            curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
            curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
            curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
        }
        if (curl_easy_perform(c) != CURLE_OK)
            die("curl", NULL);
        if (fresh) {
            curl_easy_cleanup(c);
            c = NULL;
        }
    }
    t0 = n / (now_s() - t0);
    if (c != NULL)
        curl_easy_cleanup(c);
    curl_slist_free_all(h);
    return t0;
}

static double run_client(struct rpc_endpoints *e, int n)
{
    struct mr_error err;
    uint64_t head;
    double t0 = now_s();

    for (int i = 0; i < n; i++)
        if (ethrpc_block_number(e, &head, NULL, &err) != MR_OK)
            die("eth_blockNumber", &err);
    return n / (now_s() - t0);
}

int main(int argc, char **argv)
{
    char dir[] = "/tmp/bench-txm.XXXXXX", key[256], pw[256];
    int n = argc > 3 ? atoi(argv[3]) : 300, reqs = argc > 4 ? atoi(argv[4]) : 2000;
    const char *ci, *url;
    struct rpc_endpoints *rpc;
    struct signer *signer;
    struct mr_error err;
    struct txm t;
    double txm_rate, pipe_rate, bare_rate, client, reuse, fresh;
    PGconn *db;

    if (argc < 3 || n <= 0 || reqs <= 0) {
        fprintf(stderr, "usage: bench-txm CONNINFO ANVIL_URL [TXS] [REQUESTS]\n");
        return 2;
    }
    ci = argv[1];
    url = argv[2];
    if (mkdtemp(dir) == NULL)
        die("mkdtemp", NULL);
    make_key(dir, key, pw, sizeof(key));
    if ((db = db_connect(ci, NULL, &err)) == NULL)
        die("database", &err);
    if (db_exec(db, "INSERT INTO mosaic.chains (chain_key, chain_id, role) VALUES ('origin', "
                    "31337, 'origin') ON CONFLICT DO NOTHING", &err) ||
        rpc_endpoints_new(&url, 1, 31337, NULL, &rpc, &err) ||
        signer_open(key, pw, ci, &signer, &err))
        die("setup", &err);
    memset(&t, 0, sizeof(t));
    t.cfg.chain_key = "origin";
    t.cfg.chain_id = 31337;
    t.cfg.confirmations = 0; /* final once mined: "confirmed" = receipt */
    u256_from_u64(&t.cfg.max_fee_cap, 500000000000ULL);
    u256_from_u64(&t.cfg.tip_cap, 100000000000ULL);
    t.cfg.stuck_after_ms = 600000;
    t.cfg.bump_percent = 12;
    t.db = db;
    t.rpc = rpc;
    t.signer = signer;

    setvbuf(stdout, NULL, _IONBF, 0);
    printf("== transactions: %d per run, best of %d runs, one anvil (automine), 21000-gas "
           "transfers\n", n, ROUNDS);
    (void)run_txm(&t, 20, 0); /* warm-up: connections, prepared caches */
    /* Best of ROUNDS, interleaved: the machine may be shared. */
    txm_rate = pipe_rate = bare_rate = 0;
    for (int r = 0; r < ROUNDS; r++) {
        double a = run_txm(&t, n, 0), b = run_txm(&t, n, 1), c = run_bare(&t, n);
        txm_rate = a > txm_rate ? a : txm_rate;
        pipe_rate = b > pipe_rate ? b : pipe_rate;
        bare_rate = c > bare_rate ? c : bare_rate;
    }
    printf("txm submit+poll (dry run, fees, record, send, receipt, final): %8.1f tx/s\n", txm_rate);
    printf("txm pipelined (no dry run, gas given):                        %8.1f tx/s\n", pipe_rate);
    printf("bare loop (pre-signed; send, then each receipt):              %8.1f tx/s\n", bare_rate);
    printf("ratio txm / bare: %.2f   pipelined / bare: %.2f\n", txm_rate / bare_rate,
           pipe_rate / bare_rate);

    printf("== JSON-RPC eth_blockNumber: %d requests per run, best of %d\n", reqs, ROUNDS);
    client = reuse = fresh = 0;
    for (int r = 0; r < ROUNDS; r++) {
        double a = run_client(rpc, reqs), b = run_curl(url, reqs, 0), c = run_curl(url, reqs, 1);
        client = a > client ? a : client;
        reuse = b > reuse ? b : reuse;
        fresh = c > fresh ? c : fresh;
    }
    printf("rpc_call (keep-alive):           %8.0f req/s\n", client);
    printf("libcurl, one handle (keep-alive): %8.0f req/s\n", reuse);
    printf("libcurl, new connection each:    %8.0f req/s\n", fresh);
    printf("ratio keep-alive / fresh connection: %.2f   rpc_call / fresh: %.2f\n", reuse / fresh,
           client / fresh);

    signer_close(signer);
    rpc_endpoints_free(rpc);
    PQfinish(db);
    unlink(key);
    unlink(pw);
    rmdir(dir);
    return 0;
}
