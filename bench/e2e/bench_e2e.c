/*
 * bench_e2e.c - the relayer end to end against the protocol's floor
 * (make bench-e2e; ../shared/ANVIL.md): two anvils mining a block every
 * second (--slots-in-an-epoch 1), the gateway set deployed by
 * `mosaic-relayer deploy`, `mosaic-relayer run` as a process with one key
 * that also anchors (the floor's "relayer, fully pipelined" case), the
 * chains' finality at 0 confirmations.  Prints numbers; never pass/fail.
 *
 *   - single stakes, one at a time: per message, target-chain blocks from
 *     the declaration (final in its own block) to the mint, and origin
 *     blocks to the stake's progress, each against the floor of +1;
 *   - bursts of stakes from distinct stakers declared at once (50, and
 *     BENCH_E2E_BIG, default 1000; 0 skips it): blocks until all are
 *     minted, relay gas per message (and with the user's stake) against the
 *     floor's 640k (960k), the relayer's CPU milliseconds per message
 *     (/proc/PID/stat of the daemon) and its peak RSS (VmHWM).
 *
 * The floor's "+1" needs the relayer's calls in the target chain's pool
 * before its next block: how long that leaves depends on the phase between
 * the two chains' block clocks, so the auxiliary clock is set to run
 * BENCH_E2E_PHASE_MS (500; -1: as started) behind origin's, and the phase
 * measured is printed.
 *
 * Environment: BENCH_E2E_SINGLES (10), BENCH_E2E_BURST (50),
 * BENCH_E2E_BIG (1000), BENCH_E2E_WORKERS (4), BENCH_E2E_WS (1: the
 * newHeads subscription besides polling), BENCH_E2E_PHASE_MS (500),
 * BENCH_E2E_LOG (a path: the daemon's log at debug level is copied there).
 */
#include "tests/lib/testlib.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tests/lib/e2elib.h"

#define FLOOR_RELAY_GAS 640000.0
#define FLOOR_TOTAL_GAS 960000.0

static struct e2e E;

static long env_int(const char *name, long def)
{
    const char *v = getenv(name);

    return v != NULL && v[0] != '\0' ? strtol(v, NULL, 10) : def;
}

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* CPU time of the daemon so far, in ms (all its threads). */
static double cpu_ms(pid_t pid)
{
    char path[64], buf[2048], *p;
    unsigned long long ut = 0, st = 0;
    FILE *f;
    size_t n;

    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    f = fopen(path, "r");
    if (f == NULL)
        return -1;
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    p = strrchr(buf, ')'); /* the command may hold spaces */
    if (p == NULL ||
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return -1;
    return (double)(ut + st) * 1000.0 / (double)sysconf(_SC_CLK_TCK);
}

/* Peak resident set of the daemon, in MiB. */
static double peak_rss_mib(pid_t pid)
{
    char path[64], line[256];
    FILE *f;
    double kb = -1;

    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    f = fopen(path, "r");
    if (f == NULL)
        return -1;
    while (fgets(line, sizeof(line), f) != NULL)
        if (strncmp(line, "VmHWM:", 6) == 0)
            kb = strtod(line + 6, NULL);
    fclose(f);
    return kb / 1024.0;
}

/* When each chain's head moves: the phase between their block clocks. */
static long block_phase_ms(void)
{
    uint64_t ho = cl_block_number(&E.o), ha = cl_block_number(&E.a);
    int64_t to = 0, ta = 0, start = now_ms();

    while ((to == 0 || ta == 0) && now_ms() - start < 5000) {
        uint64_t o = cl_block_number(&E.o), a = cl_block_number(&E.a);
        if (to == 0 && o != ho)
            to = now_ms();
        if (ta == 0 && a != ha)
            ta = now_ms();
        sleep_ms(5);
    }
    return to && ta ? (long)(((ta - to) % 1000 + 1000) % 1000) : -1;
}

/* Moves the auxiliary chain's block clock to `ms` after origin's: its
 * interval miner starts anew when set (evm_setIntervalMining). */
static void align_phase(long ms)
{
    uint64_t ho = cl_block_number(&E.o);
    json_t *res = NULL;
    struct mr_error err;
    int64_t start = now_ms();

    while (cl_block_number(&E.o) == ho && now_ms() - start < 3000)
        sleep_ms(2);
    sleep_ms(ms);
    if (rpc_call(E.a.ep, "evm_setIntervalMining", json_pack("[i]", 1), &res, NULL, &err) != MR_OK)
        fail_msg("evm_setIntervalMining: %s", err.msg);
    json_decref(res);
}

/* The auxiliary head at the moment each origin block appeared, sampled by
 * a thread every 10 ms: a declaration's "target head".  (The receipts of a
 * burst are collected one after the other, by which time the relayer may
 * have minted the first ones already: the head read then is too late.) */
#define HEADS_MAX 65536
static struct {
    pthread_t th;
    int started;
    volatile int stop;
    pthread_mutex_t mu;
    uint64_t aux_at[HEADS_MAX];  /* +1: 0 = not seen */
} H = {.mu = PTHREAD_MUTEX_INITIALIZER};

static void *heads_main(void *arg)
{
    struct rpc_endpoints *eo = NULL, *ea = NULL;
    const char *uo[1] = {E.url_o}, *ua[1] = {E.url_a};
    struct mr_error err;
    uint64_t last = 0;

    (void)arg;
    if (rpc_endpoints_new(uo, 1, E.o.chain_id, NULL, &eo, &err) != MR_OK ||
        rpc_endpoints_new(ua, 1, E.a.chain_id, NULL, &ea, &err) != MR_OK) {
        rpc_endpoints_free(eo);
        return NULL;
    }
    while (!H.stop) {
        uint64_t ho = 0, ha = 0;
        if (ethrpc_block_number(eo, &ho, NULL, &err) == MR_OK &&
            ethrpc_block_number(ea, &ha, NULL, &err) == MR_OK) {
            pthread_mutex_lock(&H.mu);
            for (uint64_t b = last + 1; b <= ho && b < HEADS_MAX; b++)
                if (last > 0)
                    H.aux_at[b] = ha + 1;
            last = ho;
            pthread_mutex_unlock(&H.mu);
        }
        sleep_ms(10);
    }
    rpc_endpoints_free(eo);
    rpc_endpoints_free(ea);
    return NULL;
}

/* m's target head from the sampler, when it saw m's block appear. */
static void fix_target_heads(struct e2e_msg *m, size_t n)
{
    pthread_mutex_lock(&H.mu);
    for (size_t i = 0; i < n; i++)
        if (m[i].block < HEADS_MAX && H.aux_at[m[i].block] > 0)
            m[i].target_head = H.aux_at[m[i].block] - 1;
    pthread_mutex_unlock(&H.mu);
}

/* Blocks of the mint and the source progress of each m. */
static void outcome(const struct e2e_msg *m, size_t n, uint64_t from_o, uint64_t from_a,
                    uint64_t *mint, uint64_t *prog)
{
    uint64_t to_o = cl_block_number(&E.o), to_a = cl_block_number(&E.a);
    struct eth_logs lm, lp;

    e2e_logs(&E.a, E.cogw,
             "MintProgressed(bytes32,address,address,uint256,uint256,uint256,bool,bytes32)",
             from_a, to_a, &lm);
    e2e_logs(&E.o, E.gw, "StakeProgressed(bytes32,address,uint256,uint256,bool,bytes32)", from_o,
             to_o, &lp);
    for (size_t i = 0; i < n; i++) {
        mint[i] = prog[i] = 0;
        for (size_t k = 0; k < lm.n; k++)
            if (memcmp(lm.v[k].topics[1], m[i].mh, 32) == 0)
                mint[i] = lm.v[k].block_number;
        for (size_t k = 0; k < lp.n; k++)
            if (memcmp(lp.v[k].topics[1], m[i].mh, 32) == 0)
                prog[i] = lp.v[k].block_number;
    }
    ethrpc_logs_free(&lm);
    ethrpc_logs_free(&lp);
}

/* "+1: 9, +2: 1" of a list of block distances. */
static void histogram(const uint64_t *d, size_t n, char *out, size_t cap, double *mean,
                      double *at_floor)
{
    uint64_t max = 0;
    size_t k = 0, floor = 0;
    double sum = 0;

    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        max = d[i] > max ? d[i] : max;
        sum += (double)d[i];
        floor += d[i] <= 1;
    }
    for (uint64_t v = 0; v <= max && k < cap; v++) {
        size_t c = 0;
        for (size_t i = 0; i < n; i++)
            c += d[i] == v;
        if (c > 0)
            k += (size_t)snprintf(out + k, cap - k, "%s+%llu: %zu", k ? ", " : "",
                                  (unsigned long long)v, c);
    }
    *mean = n ? sum / (double)n : 0;
    *at_floor = n ? (double)floor / (double)n : 0;
}

struct burst_row {
    size_t n;
    uint64_t decl_blocks;       /* origin blocks the declarations took */
    uint64_t blocks_all;        /* aux blocks from the first declaration to the last mint */
    double p_floor;             /* messages minted in the first aux block */
    double relay_gas, total_gas, cpu_ms, seconds;
};

static void run_burst(size_t n, struct burst_row *row)
{
    struct e2e_msg *m = calloc(n, sizeof(*m));
    uint64_t *mint = calloc(n, sizeof(uint64_t)), *prog = calloc(n, sizeof(uint64_t)),
             *d = calloc(n, sizeof(uint64_t));
    uint64_t from_o, from_a, to_o, to_a, first = UINT64_MAX, last = 0, dmin = UINT64_MAX,
             dmax = 0, last_mint = 0, relay = 0, stake = 0;
    struct e2e_tx *v = NULL;
    double cpu0, mean, at_floor;
    int64_t t0;
    size_t k;
    char hist[256];

    assert_true(m != NULL && mint != NULL && prog != NULL && d != NULL);
    e2e_quiet(&E);
    from_o = cl_block_number(&E.o) + 1;
    from_a = cl_block_number(&E.a) + 1;
    for (size_t i = 0; i < n; i++) {
        m[i].amount = cl_u256_e(1 + i % 10, 18);
        m[i].register_secret = 1;
    }
    cpu0 = cpu_ms(E.pid);
    t0 = now_ms();
    e2e_stake_burst(&E, m, n);
    fix_target_heads(m, n);
    e2e_wait_state(&E, m, n, "completed", 120);
    row->seconds = (double)(now_ms() - t0) / 1000.0;
    row->cpu_ms = cpu_ms(E.pid) - cpu0;
    e2e_quiet(&E);
    outcome(m, n, from_o, from_a, mint, prog);
    for (size_t i = 0; i < n; i++) {
        first = m[i].target_head < first ? m[i].target_head : first;
        dmin = m[i].block < dmin ? m[i].block : dmin;
        dmax = m[i].block > dmax ? m[i].block : dmax;
        last_mint = mint[i] > last_mint ? mint[i] : last_mint;
        /* A mint not found, or before the head we know (never seen so far):
         * counted as +0 rather than wrapping around. */
        d[i] = mint[i] > m[i].target_head ? mint[i] - m[i].target_head : 0;
        stake += m[i].decl_gas;
    }
    (void)last;
    histogram(d, n, hist, sizeof(hist), &mean, &at_floor);
    to_o = cl_block_number(&E.o);
    to_a = cl_block_number(&E.a);
    k = e2e_sent_by(&E.o, E.fac, from_o, to_o, &v);
    for (size_t i = 0; i < k; i++)
        relay += v[i].gas_used;
    free(v);
    k = e2e_sent_by(&E.a, E.fac, from_a, to_a, &v);
    for (size_t i = 0; i < k; i++)
        relay += v[i].gas_used;
    free(v);
    row->n = n;
    row->decl_blocks = dmax - dmin + 1;
    row->blocks_all = last_mint - first;
    row->p_floor = at_floor;
    row->relay_gas = (double)relay / (double)n;
    row->total_gas = (double)(relay + stake) / (double)n;
    print_message("burst of %zu: target blocks per message %s\n", n, hist);
    if (getenv("BENCH_E2E_LOG") != NULL) {
        PGresult *r = PQexec(E.db,
                             "SELECT t.chain_key, count(*), to_char(min(t.created_at), 'SS.MS'),"
                             " to_char(max(t.created_at), 'SS.MS'), to_char(min(a.broadcast_at),"
                             " 'SS.MS'), to_char(max(a.broadcast_at), 'SS.MS') FROM"
                             " mosaic.transactions t JOIN mosaic.tx_attempts a ON a.tx_id = t.id"
                             " AND a.attempt = 1 WHERE t.created_at > now() - interval '60 s'"
                             " GROUP BY 1");
        for (int i = 0; i < PQntuples(r); i++)
            print_message("  %s: %s transactions, intents %s..%s, sent %s..%s\n",
                          PQgetvalue(r, i, 0), PQgetvalue(r, i, 1), PQgetvalue(r, i, 2),
                          PQgetvalue(r, i, 3), PQgetvalue(r, i, 4), PQgetvalue(r, i, 5));
        PQclear(r);
    }
    free(m);
    free(mint);
    free(prog);
    free(d);
}

static void bench(void **state)
{
    struct e2e_opts o;
    long singles = env_int("BENCH_E2E_SINGLES", 10), burst = env_int("BENCH_E2E_BURST", 50),
         big = env_int("BENCH_E2E_BIG", 1000), phase;
    struct burst_row rows[2];
    size_t nrows = 0;
    uint64_t *dt, *ds;
    double cpu0, single_cpu, mt, ms, ft, fs, rss;
    char ht[256], hs[256];

    (void)state;
    memset(&o, 0, sizeof(o));
    o.anvil_args = "--block-time 1";
    o.workers = (int)env_int("BENCH_E2E_WORKERS", 4);
    o.poll_interval = "100ms";
    o.log_level = getenv("BENCH_E2E_LOG") != NULL ? "debug" : "warn";
    o.use_ws = (int)env_int("BENCH_E2E_WS", 1);
    if (!e2e_up(&E, &o))
        skip();
    if (env_int("BENCH_E2E_PHASE_MS", 500) >= 0)
        align_phase(env_int("BENCH_E2E_PHASE_MS", 500));
    phase = block_phase_ms();
    H.started = pthread_create(&H.th, NULL, heads_main, NULL) == 0;
    e2e_daemon_start(&E);
    sleep_ms(2000);
    e2e_daemon_check(&E);

    /* Single messages, one at a time. */
    dt = calloc((size_t)singles + 1, sizeof(uint64_t));
    ds = calloc((size_t)singles + 1, sizeof(uint64_t));
    assert_true(dt != NULL && ds != NULL);
    cpu0 = cpu_ms(E.pid);
    for (long i = 0; i < singles; i++) {
        struct e2e_msg m;
        uint64_t from_o = cl_block_number(&E.o) + 1, from_a = cl_block_number(&E.a) + 1, mint,
                 prog;
        memset(&m, 0, sizeof(m));
        m.amount = cl_u256_e(5, 18);
        m.register_secret = 1;
        /* Declarations at various moments of the block clock. */
        sleep_ms(137 * i % 1000);
        e2e_stake_burst(&E, &m, 1);
        fix_target_heads(&m, 1);
        e2e_wait_state(&E, &m, 1, "completed", 120);
        outcome(&m, 1, from_o, from_a, &mint, &prog);
        dt[i] = mint > m.target_head ? mint - m.target_head : 0;
        ds[i] = prog - m.block;
    }
    single_cpu = singles > 0 ? (cpu_ms(E.pid) - cpu0) / (double)singles : 0;
    histogram(dt, (size_t)singles, ht, sizeof(ht), &mt, &ft);
    histogram(ds, (size_t)singles, hs, sizeof(hs), &ms, &fs);

    if (burst > 0)
        run_burst((size_t)burst, &rows[nrows++]);
    if (big > 0)
        run_burst((size_t)big, &rows[nrows++]);
    rss = peak_rss_mib(E.pid);
    H.stop = 1;
    if (H.started)
        pthread_join(H.th, NULL);
    assert_int_equal(e2e_daemon_stop(&E), 0);

    printf("\n== bench-e2e: two anvils at 1 s blocks (--slots-in-an-epoch 1), finality 0 "
           "confirmations,\n   one relayer key that also anchors, %d workers, watchers %s; "
           "aux blocks come %ld ms after origin's\n",
           o.workers, o.use_ws ? "on newHeads + 100 ms polls" : "polling every 100 ms", phase);
    printf("\nsingle stakes, one at a time (%ld): blocks after the declaration's block "
           "(final at once)\n", singles);
    printf("| chain | floor | per message | mean | ratio to floor | at the floor |\n");
    printf("|---|---|---|---|---|---|\n");
    printf("| auxiliary (mint) | +1 | %s | %.2f | %.2fx | %.0f%% |\n", ht, mt, mt, ft * 100);
    printf("| origin (progressStake) | +1 | %s | %.2f | %.2fx | %.0f%% |\n", hs, ms, ms, fs * 100);
    printf("relayer CPU per single message: %.1f ms\n", single_cpu);
    printf("\nbursts of stakes from distinct stakers, declared at once\n");
    printf("| stakes | origin blocks declaring | aux blocks until all minted | minted at +1 | "
           "relay gas/msg | vs 640k | with the stake | vs 960k | CPU ms/msg | wall s |\n");
    printf("|---|---|---|---|---|---|---|---|---|---|\n");
    for (size_t i = 0; i < nrows; i++)
        printf("| %zu | %llu | %llu | %.0f%% | %.0f | %.2fx | %.0f | %.2fx | %.1f | %.1f |\n",
               rows[i].n, (unsigned long long)rows[i].decl_blocks,
               (unsigned long long)rows[i].blocks_all, rows[i].p_floor * 100, rows[i].relay_gas,
               rows[i].relay_gas / FLOOR_RELAY_GAS, rows[i].total_gas,
               rows[i].total_gas / FLOOR_TOTAL_GAS, rows[i].cpu_ms / (double)rows[i].n,
               rows[i].seconds);
    printf("relayer peak RSS: %.1f MiB\n", rss);
    fflush(stdout);
    free(dt);
    free(ds);
    if (getenv("BENCH_E2E_LOG") != NULL) {
        char cmd[1400];
        snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", E.log, getenv("BENCH_E2E_LOG"));
        if (system(cmd) != 0)
            printf("copying the daemon's log failed\n");
    }
    e2e_down(&E);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(bench)};

    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
