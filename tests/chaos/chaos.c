/*
 * chaos.c - long runs of the relayer end to end (make chaos, make soak):
 * two anvils at 1 s blocks and a throwaway PostgreSQL (tests/chaos/run.sh),
 * the gateway set deployed by `mosaic-relayer deploy` and `mosaic-relayer
 * run` as a process (tests/lib/e2elib.h), a steady stream of stakes and
 * redeems from many users (half of them with the secret registered with the
 * relayer, half not: the proof path), then a bounded drain and the
 * invariants of RELIABILITY.md §0 checked on chain and in the database.
 *
 *   chaos (CHAOS_SECONDS, default 300; CHAOS_SEED, default from the clock,
 *   printed first so that a failing run can be replayed): the daemon talks
 *   to each chain through a loopback fault proxy (tests/lib/faultproxy.h),
 *   and a seeded schedule injects, one at a time: kill -9 of the daemon and
 *   a restart; SIGSTOP past the workers' heartbeat silence (10 s) and
 *   SIGCONT; SIGTERM and a restart; `pg_ctl stop -m immediate` and a start;
 *   pg_terminate_backend of the relayer's sessions; proxy faults (delays,
 *   some past the 15 s call timeout, 500s, 429s, replies dropped after an
 *   eth_sendRawTransaction was forwarded, truncated bodies, a head that
 *   lags, null receipts); and reorganisations of 1 or 2 blocks, no deeper
 *   than the finality the daemon runs with here (2 confirmations: a reorg
 *   of depth <= 2 never touches a block the watchers treat as final), and
 *   only over blocks that hold nothing but the relayer's own transactions
 *   (the users' are deeper), so what is reorganised away is our confirm,
 *   progress, anchor and prove calls (RELIABILITY.md fault 2).
 *
 *   soak (SOAK_SECONDS, default 600): no proxy and no faults, a steady
 *   moderate rate; samples the daemon's RSS and CPU (/proc), the database's
 *   size and the queue depth over time; reports throughput and each
 *   message's latency in target-chain blocks; fails on a stuck message or
 *   RSS growth beyond SOAK_RSS_GROWTH_MIB (default 16 MiB: the mean RSS of
 *   the last quarter of the run against that of the first quarter after a
 *   warm-up of a fifth of the run).
 *
 * The checks after the drain (any failure is listed, then the run fails):
 *   - every declared message is completed in the database, its outbox and
 *     inbox statuses on chain are Progressed, and its confirm, source
 *     progress and target progress events each appear exactly once;
 *   - value conserved to the wei: the utility token's supply grew by what
 *     the stake vault holds more, which is the stakes minus the redeems;
 *     nothing is left in the gateway or the co-gateway; every beneficiary,
 *     staker and redeemer holds exactly what its messages give it; the
 *     relayer's rewards and bounties are the sum of the events';
 *   - the relayer key's nonces on each chain gapless (0..n-1, each once, n
 *     the chain's count) and the database's next nonce equal to it; no
 *     relayer transaction reverted; the key not halted;
 *   - every job terminal, every relayer transaction final (or aborted), no
 *     step of a message with two live transactions (message_txs).
 *
 * Environment: CHAOS_SECONDS, CHAOS_SEED, CHAOS_DRAIN_SECONDS (600),
 * CHAOS_GAP_SECONDS (mean time between faults, 8), CHAOS_FAULTS (only
 * these, comma-separated: kill9, stop, term, pgcrash, pgkill, delay,
 * timeout, 500, 429, dropsend, truncate, lag, nullreceipt, reorg), SOAK_SECONDS,
 * SOAK_RSS_GROWTH_MIB, CHAOS_KEEP_LOG (a path: the daemon's log copied
 * there).
 */
#include "tests/lib/testlib.h"

#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "eth/hex.h"
#include "tests/lib/e2elib.h"
#include "tests/lib/faultproxy.h"

typedef unsigned __int128 u128;

#define CONFIRMATIONS 2        /* the daemon's finality on both chains (chaos) */
#define MAX_REWARD ((u128)E2E_GAS_PRICE * E2E_GAS_LIMIT)

static struct e2e E;
static int soak;                /* the mode */
static struct fproxy *px_o, *px_a;
static uint64_t rng_fault, rng_traffic;
static int64_t t_start;

/* ---- small things ---- */

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static double elapsed_s(void)
{
    return (double)(now_ms() - t_start) / 1000.0;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static long env_long(const char *name, long def)
{
    const char *v = getenv(name);

    return v != NULL && v[0] != '\0' ? strtol(v, NULL, 10) : def;
}

/* splitmix64 */
static uint64_t rnd(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* A number in [lo, hi]. */
static long rnd_in(uint64_t *s, long lo, long hi)
{
    return lo + (long)(rnd(s) % (uint64_t)(hi - lo + 1));
}

static u128 to128(struct u256 v)
{
    if (v.w[2] != 0 || v.w[3] != 0)
        fail_msg("an amount above 2^128");
    return (u128)v.w[1] << 64 | v.w[0];
}

static struct u256 from128(u128 v)
{
    struct u256 r;

    memset(&r, 0, sizeof(r));
    r.w[0] = (uint64_t)v;
    r.w[1] = (uint64_t)(v >> 64);
    return r;
}

/* Decimal of v in one of four rotating buffers. */
static const char *dec(u128 v)
{
    static char buf[4][48];
    static int k;
    char *b = buf[k++ & 3], tmp[48];
    int n = 0;

    do {
        tmp[n++] = (char)('0' + (int)(v % 10));
        v /= 10;
    } while (v > 0);
    for (int i = 0; i < n; i++)
        b[i] = tmp[n - 1 - i];
    b[n] = '\0';
    return b;
}

static const char *hex20(const uint8_t a[20])
{
    static char buf[4][43];
    static int k;
    char *b = buf[k++ & 3];

    hex_encode_data(a, 20, b, 43);
    return b;
}

static const char *hex32(const uint8_t a[32])
{
    static char buf[4][67];
    static int k;
    char *b = buf[k++ & 3];

    hex_encode_data(a, 32, b, 67);
    return b;
}

/* ---- violations ---- */

static int n_violations;

static void violation(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void violation(const char *fmt, ...)
{
    va_list ap;

    n_violations++;
    printf("VIOLATION: ");
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
}

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
    va_list ap;

    printf("[%6.1fs] ", elapsed_s());
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
}

/* ---- the database ---- */

static PGresult *q(const char *sql)
{
    PGresult *r = PQexec(E.db, sql);

    if (PQresultStatus(r) != PGRES_TUPLES_OK && PQresultStatus(r) != PGRES_COMMAND_OK)
        fail_msg("%s: %s", sql, PQerrorMessage(E.db));
    return r;
}

static long long q_int(const char *sql)
{
    PGresult *r = q(sql);
    long long v = PQntuples(r) == 1 && !PQgetisnull(r, 0, 0) ? atoll(PQgetvalue(r, 0, 0)) : 0;

    PQclear(r);
    return v;
}

/* After PostgreSQL restarted: the driver's own session again. */
static void db_reconnect(void)
{
    for (int i = 0; i < 120; i++) {
        PQreset(E.db);
        if (PQstatus(E.db) == CONNECTION_OK)
            return;
        sleep_ms(500);
    }
    fail_msg("the test's database session did not come back: %s", PQerrorMessage(E.db));
}

/* ---- messages of the run ---- */

struct cmsg {
    struct e2e_msg m;
    int stake;                  /* redeem: index of the stake whose beneficiary redeems; -1 */
    int redeem;                 /* stake: index of the redeem its beneficiary made; -1 */
    int minted;                 /* stake: the inbox on aux is Progressed (seen) */
    u128 ut_before;             /* redeem: the redeemer's utility balance when it redeemed */
};

static struct cmsg *msgs;
static size_t n_msgs, cap_msgs, n_stakes, n_redeems, n_secret;
static uint64_t last_user_block_o, last_user_block_a;
static size_t next_mint_check;

static struct cmsg *new_msgs(size_t k)
{
    if (n_msgs + k > cap_msgs) {
        cap_msgs = (n_msgs + k) * 2;
        msgs = realloc(msgs, cap_msgs * sizeof(*msgs));
        assert_non_null(msgs);
    }
    memset(msgs + n_msgs, 0, k * sizeof(*msgs));
    for (size_t i = 0; i < k; i++)
        msgs[n_msgs + i].stake = msgs[n_msgs + i].redeem = -1;
    return msgs + n_msgs;
}

static void traffic_stakes(size_t k)
{
    struct cmsg *c = new_msgs(k);
    struct e2e_msg *m = calloc(k, sizeof(*m));

    assert_non_null(m);
    for (size_t i = 0; i < k; i++) {
        /* 0.1 .. 9.9 tokens plus an odd number of wei. */
        m[i].amount = from128((u128)rnd_in(&rng_traffic, 1, 99) * 100000000000000000ULL +
                              (u128)rnd_in(&rng_traffic, 1, 999999));
        m[i].register_secret = (int)(rnd(&rng_traffic) & 1);
    }
    e2e_stake_burst(&E, m, k);
    for (size_t i = 0; i < k; i++) {
        c[i].m = m[i];
        n_secret += m[i].register_secret != 0;
        if (m[i].block > last_user_block_o)
            last_user_block_o = m[i].block;
    }
    n_msgs += k;
    n_stakes += k;
    free(m);
}

/* Beneficiaries of minted stakes redeem part of what they got. */
static void traffic_redeems(size_t k)
{
    size_t idx[8], n = 0;
    struct e2e_msg *m;
    struct cmsg *c;

    /* Which stakes minted (a few looked at per round). */
    for (size_t looked = 0; looked < 12 && next_mint_check < n_msgs; looked++) {
        struct cmsg *s = &msgs[next_mint_check];
        if (s->m.kind == MOSAIC_STAKE && !s->minted) {
            if (e2e_status(&E, &s->m, 1) != 2)
                break;
            s->minted = 1;
        }
        next_mint_check++;
    }
    for (size_t i = 0; i < next_mint_check && n < k && n < 8; i++)
        if (msgs[i].m.kind == MOSAIC_STAKE && msgs[i].minted && msgs[i].redeem < 0 &&
            rnd_in(&rng_traffic, 0, 2) != 0)
            idx[n++] = i;
    if (n == 0)
        return;
    c = new_msgs(n);
    m = calloc(n, sizeof(*m));
    assert_non_null(m);
    for (size_t i = 0; i < n; i++) {
        struct cmsg *s = &msgs[idx[i]];
        u128 bal = to128(cl_token_balance(&E.a, E.ut, s->m.beneficiary));
        memcpy(m[i].sender, s->m.beneficiary, 20);
        cl_fund_account(&E.a, 10, m[i].sender);
        /* Between a tenth and all of it, never below what a reward may take. */
        m[i].amount = from128(bal / 10 + (u128)(rnd(&rng_traffic) % (uint64_t)(bal - bal / 10)) + 1);
        if (to128(m[i].amount) > bal)
            m[i].amount = from128(bal);
        m[i].register_secret = (int)(rnd(&rng_traffic) & 1);
        c[i].ut_before = bal;
        c[i].stake = (int)idx[i];
    }
    e2e_redeem_burst(&E, m, n);
    for (size_t i = 0; i < n; i++) {
        c[i].m = m[i];
        msgs[idx[i]].redeem = (int)(n_msgs + i);
        n_secret += m[i].register_secret != 0;
        if (m[i].block > last_user_block_a)
            last_user_block_a = m[i].block;
    }
    n_msgs += n;
    n_redeems += n;
    free(m);
}

/* ---- the daemon ---- */

static int daemon_stopped;      /* SIGSTOP in force */
static int unexpected_exits;

static void daemon_watch(void)
{
    int st = 0;

    if (E.pid > 0 && waitpid(E.pid, &st, WNOHANG) == E.pid) {
        E.pid = 0;
        unexpected_exits++;
        violation("the daemon exited on its own at %.0f s (%s %d); restarted", elapsed_s(),
                  WIFEXITED(st) ? "status" : "signal",
                  WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
        e2e_daemon_tail(&E, 3000);
        e2e_daemon_restart(&E);
    }
}

/* The run config `deploy` wrote, pointed at the proxies and made to wait
 * CONFIRMATIONS blocks (chaos). */
static void rewrite_config(void)
{
    FILE *f = fopen(E.cfg, "r");
    char *text, *out;
    size_t n, k = 0, cap;
    int reps = 0, conf = 0;

    assert_non_null(f);
    text = calloc(1, 65536);
    assert_non_null(text);
    n = fread(text, 1, 65535, f);
    fclose(f);
    text[n] = '\0';
    cap = n * 2 + 1024;
    out = calloc(1, cap);
    assert_non_null(out);
    for (const char *p = text; *p != '\0';) {
        if (strncmp(p, E.url_o, strlen(E.url_o)) == 0 && !isalnum((unsigned char)p[strlen(E.url_o)])) {
            k += (size_t)snprintf(out + k, cap - k, "%s", fproxy_url(px_o));
            p += strlen(E.url_o);
            reps++;
        } else if (strncmp(p, E.url_a, strlen(E.url_a)) == 0 &&
                   !isalnum((unsigned char)p[strlen(E.url_a)])) {
            k += (size_t)snprintf(out + k, cap - k, "%s", fproxy_url(px_a));
            p += strlen(E.url_a);
            reps++;
        } else if (strncmp(p, "confirmations: 0", 16) == 0) {
            k += (size_t)snprintf(out + k, cap - k, "confirmations: %d", CONFIRMATIONS);
            p += 16;
            conf++;
        } else {
            out[k++] = *p++;
        }
    }
    if (reps < 2 || conf != 2)
        fail_msg("the run config %s: %d endpoints and %d finality settings rewritten, want 2 and 2",
                 E.cfg, reps, conf);
    f = fopen(E.cfg, "w");
    assert_non_null(f);
    fwrite(out, 1, k, f);
    fclose(f);
    free(text);
    free(out);
}

/* ---- faults (chaos) ---- */

enum fault {
    F_KILL9, F_STOPCONT, F_TERM, F_PG_CRASH, F_PG_KILL, F_PX_DELAY, F_PX_TIMEOUT, F_PX_500,
    F_PX_429, F_PX_DROP_SEND, F_PX_TRUNCATE, F_PX_LAG, F_PX_NULL_RECEIPT, F_REORG, F_COUNT
};

static const char *const fault_name[F_COUNT] = {
    "kill -9 + restart", "SIGSTOP 11-16 s + SIGCONT", "SIGTERM + restart",
    "pg_ctl stop -m immediate + start", "pg_terminate_backend (relayer sessions)",
    "proxy: delay 0.2-3 s", "proxy: delay 16 s (past the call timeout)", "proxy: HTTP 500",
    "proxy: HTTP 429", "proxy: reply dropped after eth_sendRawTransaction",
    "proxy: truncated bodies", "proxy: head lagging 1-6 blocks", "proxy: null receipts",
    "anvil_reorg depth 1-2 (relayer txs only)",
};
/* Short names for CHAOS_FAULTS (a comma-separated subset). */
static const char *const fault_short[F_COUNT] = {
    "kill9", "stop", "term", "pgcrash", "pgkill", "delay", "timeout", "500", "429", "dropsend",
    "truncate", "lag", "nullreceipt", "reorg",
};
/* Relative weights of the schedule (CHAOS_FAULTS zeroes the others). */
static int fault_weight[F_COUNT] = {4, 2, 3, 2, 2, 2, 1, 2, 2, 3, 2, 2, 2, 3};

static void select_faults(const char *list)
{
    int any = 0;

    if (list == NULL || list[0] == '\0')
        return;
    for (int i = 0; i < F_COUNT; i++) {
        const char *p = list;
        size_t n = strlen(fault_short[i]);
        int on = 0;
        while ((p = strstr(p, fault_short[i])) != NULL) {
            if ((p == list || p[-1] == ',') && (p[n] == ',' || p[n] == '\0'))
                on = 1;
            p += n;
        }
        if (!on)
            fault_weight[i] = 0;
        any += on;
    }
    if (!any)
        fail_msg("CHAOS_FAULTS=%s names no fault (kill9, stop, term, pgcrash, pgkill, delay,"
                 " timeout, 500, 429, dropsend, truncate, lag, nullreceipt, reorg)", list);
}

static int fault_count[F_COUNT];
static size_t reorged_txs;        /* relayer transactions in the blocks reorgs replaced */
static int64_t next_fault_at, undo_at;
static int undo_kind = -1;

static struct fproxy *pick_proxy(int *both)
{
    long r = rnd_in(&rng_fault, 0, 3);

    *both = r == 3;
    return r & 1 ? px_a : px_o;
}

static void proxy_fault(enum fault f)
{
    int both;
    struct fproxy *p = pick_proxy(&both);
    struct fproxy *ps[2] = {p, both ? (p == px_o ? px_a : px_o) : NULL};
    long dur = rnd_in(&rng_fault, 4, 20), param = 0, times = 0;
    const char *method = "*";
    enum fp_action a = FP_PASS;

    switch (f) {
    case F_PX_DELAY: a = FP_DELAY; param = rnd_in(&rng_fault, 200, 3000); break;
    case F_PX_TIMEOUT: a = FP_DELAY; param = 16000; times = rnd_in(&rng_fault, 1, 3); break;
    case F_PX_500: a = FP_STATUS; param = 500; times = rnd_in(&rng_fault, 5, 60); break;
    case F_PX_429: a = FP_STATUS; param = 429; times = rnd_in(&rng_fault, 5, 60); break;
    case F_PX_DROP_SEND:
        a = FP_DROP_REPLY;
        method = "eth_sendRawTransaction";
        times = rnd_in(&rng_fault, 1, 4);
        break;
    case F_PX_TRUNCATE: a = FP_TRUNCATE; times = rnd_in(&rng_fault, 2, 20); break;
    case F_PX_LAG: a = FP_LAG_HEAD; param = rnd_in(&rng_fault, 1, 6); break;
    case F_PX_NULL_RECEIPT:
        a = FP_NULL_RESULT;
        method = "eth_getTransactionReceipt";
        times = rnd_in(&rng_fault, 3, 30);
        break;
    default: break;
    }
    for (int i = 0; i < 2; i++)
        if (ps[i] != NULL)
            fproxy_rule(ps[i], method, a, (int)param, (int)times, NULL, NULL);
    say("fault: %s on %s (param %ld, times %ld, for %ld s)", fault_name[f],
        both ? "both chains" : p == px_o ? "origin" : "aux", param, times, dur);
    undo_at = now_ms() + dur * 1000;
    undo_kind = (int)f;
}

static void undo_fault(void)
{
    if (undo_kind < 0)
        return;
    if (undo_kind == F_STOPCONT) {
        if (E.pid > 0)
            kill(E.pid, SIGCONT);
        daemon_stopped = 0;
        say("SIGCONT");
    } else {
        fproxy_clear(px_o);
        fproxy_clear(px_a);
        say("proxy faults cleared");
    }
    undo_kind = -1;
}

static void reorg(void)
{
    int aux = (int)rnd_in(&rng_fault, 0, 1);
    struct cl_chain *c = aux ? &E.a : &E.o;
    uint64_t last = aux ? last_user_block_a : last_user_block_o;
    unsigned depth = (unsigned)rnd_in(&rng_fault, 1, CONFIRMATIONS);
    uint64_t head = cl_block_number(c);
    int64_t t0 = now_ms();
    size_t ours = 0;

    /* Only blocks above every user transaction (nothing else is sent while
     * this runs, so they hold nothing but the relayer's), and preferably
     * while the relayer's own calls are in them: those are what a reorg of
     * this depth removes (anvil drops them and rolls the nonce back). */
    for (;;) {
        head = cl_block_number(c);
        if (head >= last + depth) {
            struct e2e_tx *v = NULL;
            ours = e2e_sent_by(c, E.fac, head - depth + 1, head, &v);
            free(v);
            if (ours > 0)
                break;
        }
        if (now_ms() - t0 > 10000)
            break;
        sleep_ms(150);
    }
    if (head < last + depth) {
        say("fault: reorg of %s skipped (no block above the users' yet)", c->label);
        return;
    }
    cl_reorg(c, depth);
    reorged_txs += ours;
    say("fault: %s on %s at head %llu, depth %u (%zu relayer transactions in the blocks replaced)",
        fault_name[F_REORG], c->label, (unsigned long long)head, depth, ours);
}

static enum fault pick_fault(void)
{
    int total = 0;
    long r;

    for (int i = 0; i < F_COUNT; i++)
        total += fault_weight[i];
    r = rnd_in(&rng_fault, 0, total - 1);
    for (int i = 0; i < F_COUNT; i++) {
        if (r < fault_weight[i])
            return (enum fault)i;
        r -= fault_weight[i];
    }
    return F_KILL9;
}

static void inject(void)
{
    enum fault f = pick_fault();
    long ms;

    fault_count[f]++;
    switch (f) {
    case F_KILL9:
        ms = rnd_in(&rng_fault, 0, 3000);
        say("fault: %s (down %ld ms)", fault_name[f], ms);
        e2e_daemon_kill(&E);
        sleep_ms(ms);
        e2e_daemon_restart(&E);
        break;
    case F_STOPCONT:
        say("fault: SIGSTOP");
        kill(E.pid, SIGSTOP);
        daemon_stopped = 1;
        undo_at = now_ms() + rnd_in(&rng_fault, 11000, 16000);
        undo_kind = F_STOPCONT;
        break;
    case F_TERM: {
        int64_t t0 = now_ms();
        int rc = e2e_daemon_stop(&E);
        say("fault: %s (exit status %d after %lld ms)", fault_name[f], rc,
            (long long)(now_ms() - t0));
        if (rc != 0)
            violation("the daemon exited with status %d after SIGTERM", rc);
        e2e_daemon_restart(&E);
        break;
    }
    case F_PG_CRASH:
        ms = rnd_in(&rng_fault, 500, 6000);
        say("fault: %s (down %ld ms)", fault_name[f], ms);
        if (tv_pg_ctl("stop -m immediate") != 0)
            fail_msg("pg_ctl stop failed");
        sleep_ms(ms);
        if (tv_pg_ctl("start") != 0)
            fail_msg("pg_ctl start failed");
        db_reconnect();
        break;
    case F_PG_KILL: {
        long long k = q_int("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                            " WHERE pid <> pg_backend_pid() AND datname = current_database()");
        say("fault: %s: %lld sessions", fault_name[f], k);
        break;
    }
    case F_REORG:
        reorg();
        break;
    default:
        proxy_fault(f);
        break;
    }
}

/* Between traffic rounds: ends a fault whose time is up, starts the next
 * when none is in force. */
static void fault_tick(long gap_s)
{
    int64_t now = now_ms();

    if (undo_kind >= 0 && now >= undo_at) {
        undo_fault();
        /* A moment without faults before the next one. */
        if (next_fault_at < now + 2000)
            next_fault_at = now + rnd_in(&rng_fault, 2000, gap_s * 500 + 2000);
    }
    if (undo_kind < 0 && now >= next_fault_at) {
        inject();
        next_fault_at = now_ms() + rnd_in(&rng_fault, gap_s * 500, gap_s * 1500);
    }
}

/* ---- samples (soak) ---- */

struct sample {
    double t, rss_mib, cpu_pct, db_mib;
    long long queue, open, completed;
};

static struct sample *samples;
static size_t n_samples;
static double last_cpu_ms = -1, last_cpu_t;

static double proc_cpu_ms(pid_t pid)
{
    char path[64], buf[2048], *p;
    unsigned long long ut = 0, st = 0;
    FILE *f;
    size_t n;

    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    if ((f = fopen(path, "r")) == NULL)
        return -1;
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    p = strrchr(buf, ')');
    if (p == NULL ||
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return -1;
    return (double)(ut + st) * 1000.0 / (double)sysconf(_SC_CLK_TCK);
}

static double proc_status_mib(pid_t pid, const char *field)
{
    char path[64], line[256];
    size_t fl = strlen(field);
    double kb = -1;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    if ((f = fopen(path, "r")) == NULL)
        return -1;
    while (fgets(line, sizeof(line), f) != NULL)
        if (strncmp(line, field, fl) == 0 && line[fl] == ':')
            kb = strtod(line + fl + 1, NULL);
    fclose(f);
    return kb / 1024.0;
}

static void sample_now(void)
{
    struct sample s;
    double cpu = E.pid > 0 ? proc_cpu_ms(E.pid) : -1;

    memset(&s, 0, sizeof(s));
    s.t = elapsed_s();
    s.rss_mib = E.pid > 0 ? proc_status_mib(E.pid, "VmRSS") : -1;
    s.cpu_pct = last_cpu_ms >= 0 && cpu >= 0 && s.t > last_cpu_t
                    ? (cpu - last_cpu_ms) / 10.0 / (s.t - last_cpu_t) : 0;
    last_cpu_ms = cpu;
    last_cpu_t = s.t;
    s.db_mib = (double)q_int("SELECT pg_database_size(current_database())") / 1048576.0;
    s.queue = q_int("SELECT count(*) FROM mosaic.jobs WHERE state NOT IN"
                    " ('completed', 'failed', 'cancelled')");
    s.open = q_int("SELECT count(*) FROM mosaic.messages WHERE state <> 'completed'");
    s.completed = q_int("SELECT count(*) FROM mosaic.messages WHERE state = 'completed'");
    samples = realloc(samples, (n_samples + 1) * sizeof(*samples));
    assert_non_null(samples);
    samples[n_samples++] = s;
    say("sample: RSS %.1f MiB, CPU %.1f%%, db %.1f MiB, queue %lld, open messages %lld,"
        " completed %lld", s.rss_mib, s.cpu_pct, s.db_mib, s.queue, s.open, s.completed);
}

/* ---- the drain ---- */

static double drain_seconds;

static void drain(void)
{
    int64_t t0 = now_ms(), moved = t0, last_print = 0;
    long limit = env_long("CHAOS_DRAIN_SECONDS", 600), stall = 180;
    char mark[256] = "";

    say("drain: faults stopped, no new messages; waiting for %zu messages and every relayer"
        " transaction to be final (at most %ld s, %ld s without progress)", n_msgs, limit, stall);
    for (;;) {
        long long done = q_int("SELECT count(*) FROM mosaic.messages WHERE state = 'completed'");
        long long halted = q_int("SELECT count(*) FROM mosaic.messages WHERE state = 'halted'");
        long long jobs = q_int("SELECT count(*) FROM mosaic.jobs WHERE state NOT IN"
                               " ('completed', 'failed', 'cancelled', 'scheduled')");
        long long txs = q_int("SELECT count(*) FROM mosaic.transactions WHERE state IN"
                              " ('intent', 'signed', 'broadcast', 'included')");
        long long ntx = q_int("SELECT count(*) FROM mosaic.transactions");
        int64_t now = now_ms();
        char m2[256];

        daemon_watch();
        snprintf(m2, sizeof(m2), "%lld/%lld/%lld/%lld/%lld", done, halted, jobs, txs, ntx);
        if (strcmp(m2, mark) != 0) {
            snprintf(mark, sizeof(mark), "%s", m2);
            moved = now;
        }
        if (now - last_print >= 5000 || (done == (long long)n_msgs && txs == 0)) {
            say("drain: %lld/%zu messages completed, %lld halted, %lld jobs open, %lld relayer"
                " transactions not final (of %lld)", done, n_msgs, halted, jobs, txs, ntx);
            last_print = now;
        }
        if (done == (long long)n_msgs && txs == 0 && jobs == 0)
            break;
        if (halted > 0 && done + halted == (long long)n_msgs && txs == 0) {
            violation("%lld messages halted", halted);
            break;
        }
        if (now - moved > stall * 1000 || now - t0 > limit * 1000) {
            violation("drain: stuck after %.0f s (%lld/%zu completed, %lld halted, %lld jobs open,"
                      " %lld transactions not final)", (double)(now - t0) / 1000.0, done, n_msgs,
                      halted, jobs, txs);
            e2e_diagnose(&E);
            e2e_daemon_tail(&E, 4000);
            break;
        }
        sleep_ms(1000);
    }
    drain_seconds = (double)(now_ms() - t0) / 1000.0;
}

/* ---- the invariants ---- */

#define SIG_STAKE_CONFIRMED "StakeIntentConfirmed(bytes32,address,uint256,address,uint256,uint256,bytes32)"
#define SIG_REDEEM_CONFIRMED "RedeemIntentConfirmed(bytes32,address,uint256,address,uint256,uint256,bytes32)"
#define SIG_STAKE_PROGRESSED "StakeProgressed(bytes32,address,uint256,uint256,bool,bytes32)"
#define SIG_REDEEM_PROGRESSED "RedeemProgressed(bytes32,address,uint256,uint256,bool,bytes32)"
#define SIG_MINT_PROGRESSED \
    "MintProgressed(bytes32,address,address,uint256,uint256,uint256,bool,bytes32)"
#define SIG_UNSTAKE_PROGRESSED \
    "UnstakeProgressed(bytes32,address,address,uint256,uint256,uint256,bool,bytes32)"

/* The logs of one event over the whole run. */
struct evlist {
    const char *name;
    struct eth_logs l;
};

static void fetch(struct evlist *ev, struct cl_chain *c, const uint8_t addr[20], const char *sig,
                  uint64_t from)
{
    ev->name = sig;
    e2e_logs(c, addr, sig, from, cl_block_number(c), &ev->l);
}

/* The logs in ev about message mh: how many, and the first. */
static size_t about(const struct evlist *ev, const uint8_t mh[32], const struct eth_log **first)
{
    size_t n = 0;

    *first = NULL;
    for (size_t i = 0; i < ev->l.n; i++)
        if (ev->l.v[i].n_topics >= 2 && memcmp(ev->l.v[i].topics[1], mh, 32) == 0) {
            if (n++ == 0)
                *first = &ev->l.v[i];
        }
    return n;
}

static void once(const struct evlist *ev, const struct cmsg *c, size_t i, const struct eth_log **l)
{
    size_t n = about(ev, c->m.mh, l);
    char nm[64];

    snprintf(nm, sizeof(nm), "%s", ev->name);
    *strchr(nm, '(') = '\0';
    if (n != 1)
        violation("message %zu (%s %s): %zu %s events, want exactly 1", i,
                  c->m.kind == MOSAIC_STAKE ? "stake" : "redeem", hex32(c->m.mh), n, nm);
}

static void expect_balance(const char *what, struct cl_chain *ch, const uint8_t token[20],
                           const uint8_t owner[20], u128 want)
{
    u128 got = to128(cl_token_balance(ch, token, owner));

    if (got != want)
        violation("%s %s holds %s, expected %s (difference %s%s)", what, hex20(owner), dec(got),
                  dec(want), got > want ? "+" : "-", dec(got > want ? got - want : want - got));
}

struct relayer_txs {
    size_t n, reverted;
    uint64_t gas;
};

/* Gapless nonces and no revert for the facilitator on chain c. */
static void check_key(struct cl_chain *c, const char *chain_key, struct relayer_txs *out)
{
    struct e2e_tx *v = NULL;
    size_t n = e2e_sent_by(c, E.fac, 0, cl_block_number(c), &v);
    uint64_t count = cl_nonce(c, E.fac);
    char sql[512];
    long long next;

    memset(out, 0, sizeof(*out));
    out->n = n;
    for (size_t i = 0; i < n; i++) {
        out->gas += v[i].gas_used;
        for (size_t j = i + 1; j < n; j++)
            if (v[j].nonce < v[i].nonce) {
                struct e2e_tx t = v[i];
                v[i] = v[j];
                v[j] = t;
            }
    }
    for (size_t i = 0; i < n; i++) {
        if (v[i].nonce != i) {
            violation("%s: the relayer's transaction %zu (by nonce) has nonce %llu: a gap or a"
                      " duplicate", c->label, i, (unsigned long long)v[i].nonce);
            break;
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (v[i].status == 1)
            continue;
        out->reverted++;
        snprintf(sql, sizeof(sql), "SELECT coalesce(max(t.purpose), '(not in the database)')"
                 " FROM mosaic.tx_attempts a JOIN mosaic.transactions t ON t.id = a.tx_id"
                 " WHERE a.tx_hash = '\\x%s'::bytea", hex32(v[i].hash) + 2);
        {
            PGresult *r = q(sql);
            violation("%s: the relayer's transaction %s (nonce %llu, block %llu, %s) reverted",
                      c->label, hex32(v[i].hash), (unsigned long long)v[i].nonce,
                      (unsigned long long)v[i].block, PQgetvalue(r, 0, 0));
            PQclear(r);
        }
    }
    if (count != n)
        violation("%s: %zu relayer transactions on chain, its nonce is %llu", c->label, n,
                  (unsigned long long)count);
    snprintf(sql, sizeof(sql), "SELECT coalesce(max(next_nonce), -1) FROM mosaic.signer_nonces"
             " WHERE chain_key = '%s'", chain_key);
    next = q_int(sql);
    if (next != (long long)count)
        violation("%s: the database's next nonce is %lld, the chain's %llu", c->label, next,
                  (unsigned long long)count);
    free(v);
}

static void list_rows(const char *title, const char *sql, int is_violation)
{
    PGresult *r = q(sql);

    for (int i = 0; i < PQntuples(r); i++) {
        char line[1024];
        size_t k = 0;
        for (int j = 0; j < PQnfields(r) && k < sizeof(line) - 2; j++)
            k += (size_t)snprintf(line + k, sizeof(line) - k, "%s%s", j ? " | " : "",
                                  PQgetvalue(r, i, j));
        if (is_violation)
            violation("%s: %s", title, line);
        else
            printf("  %s: %s\n", title, line);
    }
    PQclear(r);
}

struct totals {
    struct relayer_txs o, a;
    size_t proof_target, proof_source;
    u128 staked, redeemed;
    double lat_mean;
    long lat_p50, lat_p95, lat_max;
};

static int by_long(const void *x, const void *y)
{
    long a = *(const long *)x, b = *(const long *)y;

    return a < b ? -1 : a > b;
}

/* Declaration seen (final at CONFIRMATIONS) -> completed (the target's
 * progress), in target-chain blocks. */
static void latency(struct totals *t)
{
    long *d = calloc(n_msgs + 1, sizeof(long));
    size_t n = 0;
    double sum = 0;

    assert_non_null(d);
    for (size_t i = 0; i < n_msgs; i++) {
        char sql[256];
        long long b;
        snprintf(sql, sizeof(sql), "SELECT coalesce(target_done_block, -1) FROM mosaic.messages"
                 " WHERE message_hash = '\\x%s'::bytea", hex32(msgs[i].m.mh) + 2);
        b = q_int(sql);
        if (b < 0)
            continue;
        d[n] = (long)(b - (long long)msgs[i].m.target_head);
        sum += (double)d[n++];
    }
    qsort(d, n, sizeof(long), by_long);
    t->lat_mean = n ? sum / (double)n : 0;
    t->lat_p50 = n ? d[n / 2] : 0;
    t->lat_p95 = n ? d[(n * 95) / 100 < n ? (n * 95) / 100 : n - 1] : 0;
    t->lat_max = n ? d[n - 1] : 0;
    free(d);
}

static void check_all(struct totals *t, const u128 start[6])
{
    struct evlist sc, rc, sp, rp, mp, up;
    u128 mint_rewards = 0, unstake_rewards = 0, supply, vault, fac_ut, fac_vt, fac_bt;

    memset(t, 0, sizeof(*t));
    say("checking the invariants");
    /* The database. */
    if (q_int("SELECT count(*) FROM mosaic.messages") != (long long)n_msgs)
        violation("the database has %lld messages, the run declared %zu",
                  q_int("SELECT count(*) FROM mosaic.messages"), n_msgs);
    list_rows("a message not completed",
              "SELECT '0x' || encode(message_hash, 'hex'), flow, state,"
              " coalesce(halted_reason, '') FROM mosaic.messages WHERE state <> 'completed'", 1);
    list_rows("a job not terminal",
              "SELECT id, kind, state, attempt, coalesce(last_error, '') FROM mosaic.jobs"
              " WHERE state NOT IN ('completed', 'failed', 'cancelled')"
              " AND NOT (kind = 'anchor' AND state = 'scheduled')", 1);
    list_rows("a relayer transaction not final",
              "SELECT id, chain_key, nonce, purpose, state FROM mosaic.transactions"
              " WHERE state NOT IN ('final', 'aborted')", 1);
    list_rows("a step with two live transactions",
              "SELECT '0x' || encode(mt.message_hash, 'hex'), mt.step, count(*)"
              " FROM mosaic.message_txs mt JOIN mosaic.transactions t ON t.id = mt.tx_id"
              " WHERE t.state NOT IN ('aborted', 'failed') GROUP BY 1, 2 HAVING count(*) > 1", 1);
    list_rows("a halted key", "SELECT chain_key, halted_reason FROM mosaic.signer_nonces"
                              " WHERE halted_reason IS NOT NULL", 1);
    /* The chains: statuses and each effect exactly once. */
    fetch(&sc, &E.a, E.cogw, SIG_STAKE_CONFIRMED, E.deployed_a);
    fetch(&mp, &E.a, E.cogw, SIG_MINT_PROGRESSED, E.deployed_a);
    fetch(&rp, &E.a, E.cogw, SIG_REDEEM_PROGRESSED, E.deployed_a);
    fetch(&rc, &E.o, E.gw, SIG_REDEEM_CONFIRMED, E.deployed_o);
    fetch(&sp, &E.o, E.gw, SIG_STAKE_PROGRESSED, E.deployed_o);
    fetch(&up, &E.o, E.gw, SIG_UNSTAKE_PROGRESSED, E.deployed_o);
    for (size_t i = 0; i < n_msgs; i++) {
        struct cmsg *c = &msgs[i];
        int stake = c->m.kind == MOSAIC_STAKE;
        int so = e2e_status(&E, &c->m, 0), ti = e2e_status(&E, &c->m, 1);
        const struct eth_log *conf, *src, *tgt;
        u128 amount = to128(c->m.amount);
        if (so != 2 || ti != 2)
            violation("message %zu (%s %s): outbox %d, inbox %d on chain, want 2 and 2", i,
                      stake ? "stake" : "redeem", hex32(c->m.mh), so, ti);
        once(stake ? &sc : &rc, c, i, &conf);
        once(stake ? &sp : &rp, c, i, &src);
        once(stake ? &mp : &up, c, i, &tgt);
        if (stake)
            t->staked += amount;
        else
            t->redeemed += amount;
        if (tgt == NULL)
            continue;
        {
            u128 whole = to128(e2e_word(tgt, 2)), got = to128(e2e_word(tgt, 3)),
                 reward = to128(e2e_word(tgt, 4));
            if (whole != amount || got + reward != amount || reward > MAX_REWARD)
                violation("message %zu (%s): amount %s, the target paid %s + reward %s", i,
                          hex32(c->m.mh), dec(amount), dec(got), dec(reward));
            if (stake)
                mint_rewards += reward;
            else
                unstake_rewards += reward;
            if (e2e_word_u64(tgt, 5) != 0) {
                if (c->m.register_secret)
                    printf("  note: message %zu was progressed with a proof although its secret"
                           " was registered\n", i);
                t->proof_target++;
            }
            if (src != NULL && e2e_word_u64(src, 3) != 0)
                t->proof_source++;
            /* What the users hold. */
            if (stake) {
                u128 want = got;
                if (c->redeem >= 0)
                    want = got - to128(msgs[c->redeem].m.amount);
                expect_balance("beneficiary (aux, utility token)", &E.a, E.ut, c->m.beneficiary,
                               want);
                expect_balance("staker (origin, value token)", &E.o, E.vt, c->m.sender, 0);
                expect_balance("staker (origin, base token)", &E.o, E.bt, c->m.sender, 0);
            } else {
                expect_balance("redeem beneficiary (origin, value token)", &E.o, E.vt,
                               c->m.beneficiary, got);
                if (c->ut_before < amount)
                    violation("redeem %zu: more than the redeemer held", i);
            }
        }
    }
    /* Conservation. */
    supply = to128(cl_view_u256(&E.a, E.ut, "totalSupply()", NULL, 0));
    vault = to128(cl_token_balance(&E.o, E.vt, E.vault));
    if (supply - start[0] != t->staked - t->redeemed || vault - start[1] != t->staked - t->redeemed)
        violation("conservation: utility supply grew by %s, the stake vault by %s; stakes %s"
                  " minus redeems %s = %s", dec(supply - start[0]), dec(vault - start[1]),
                  dec(t->staked), dec(t->redeemed), dec(t->staked - t->redeemed));
    expect_balance("the gateway (origin, value token)", &E.o, E.vt, E.gw, start[2]);
    expect_balance("the co-gateway (aux, utility token)", &E.a, E.ut, E.cogw, 0);
    fac_ut = to128(cl_token_balance(&E.a, E.ut, E.fac));
    fac_vt = to128(cl_token_balance(&E.o, E.vt, E.fac));
    fac_bt = to128(cl_token_balance(&E.o, E.bt, E.fac));
    if (fac_ut - start[3] != mint_rewards)
        violation("the relayer's utility tokens grew by %s, the mint rewards are %s",
                  dec(fac_ut - start[3]), dec(mint_rewards));
    if (fac_vt - start[4] != unstake_rewards)
        violation("the relayer's value tokens grew by %s, the unstake rewards are %s",
                  dec(fac_vt - start[4]), dec(unstake_rewards));
    if (fac_bt - start[5] != (u128)n_stakes * E2E_BOUNTY)
        violation("the relayer's base tokens grew by %s, the stake bounties are %s",
                  dec(fac_bt - start[5]), dec((u128)n_stakes * E2E_BOUNTY));
    /* The key. */
    check_key(&E.o, "origin", &t->o);
    check_key(&E.a, "aux", &t->a);
    latency(t);
    ethrpc_logs_free(&sc.l);
    ethrpc_logs_free(&rc.l);
    ethrpc_logs_free(&sp.l);
    ethrpc_logs_free(&rp.l);
    ethrpc_logs_free(&mp.l);
    ethrpc_logs_free(&up.l);
}

/* ---- the run ---- */

static void summary(const struct totals *t, double run_s, long seed)
{
    int faults = 0;

    printf("\n== %s: %.0f s of traffic%s, seed %ld\n", soak ? "soak" : "chaos", run_s,
           soak ? "" : " and faults", seed);
    printf("| messages | stakes | redeems | secret registered | proof path (target / source) |\n");
    printf("|---|---|---|---|---|\n");
    printf("| %zu | %zu | %zu | %zu | %zu / %zu |\n", n_msgs, n_stakes, n_redeems, n_secret,
           t->proof_target, t->proof_source);
    printf("value: staked %s, redeemed %s (wei)\n", dec(t->staked), dec(t->redeemed));
    if (!soak) {
        printf("\n| fault | injected |\n|---|---|\n");
        for (int i = 0; i < F_COUNT; i++) {
            printf("| %s | %d |\n", fault_name[i], fault_count[i]);
            faults += fault_count[i];
        }
        printf("| all | %d |\n", faults);
        printf("relayer transactions in blocks replaced by reorgs: %zu\n", reorged_txs);
    }
    printf("\n| chain | relayer txs | reverted | gas |\n|---|---|---|---|\n");
    printf("| origin | %zu | %zu | %llu |\n", t->o.n, t->o.reverted, (unsigned long long)t->o.gas);
    printf("| aux | %zu | %zu | %llu |\n", t->a.n, t->a.reverted, (unsigned long long)t->a.gas);
    printf("relay gas per message: %.0f\n",
           n_msgs ? (double)(t->o.gas + t->a.gas) / (double)n_msgs : 0.0);
    printf("drain: %.1f s; daemon starts: %d, exits on its own: %d\n", drain_seconds, E.starts,
           unexpected_exits);
    printf("latency, declaration seen -> target progress, in target blocks: mean %.1f, p50 %ld,"
           " p95 %ld, max %ld\n", t->lat_mean, t->lat_p50, t->lat_p95, t->lat_max);
    printf("throughput: %.2f messages/s over the traffic phase\n", run_s > 0 ? (double)n_msgs / run_s : 0);
    fflush(stdout);
}

/* The soak's verdict on memory: mean RSS of the last quarter against that of
 * the first quarter after the warm-up (a fifth of the run). */
static void soak_report(double run_s)
{
    double warm = run_s / 5, q1 = warm + (run_s - warm) / 4, q4 = run_s - (run_s - warm) / 4;
    double a = 0, b = 0, bound = (double)env_long("SOAK_RSS_GROWTH_MIB", 16), peak = 0;
    int na = 0, nb = 0;

    printf("\n| t (s) | RSS MiB | CPU %% | DB MiB | queue | open msgs | completed |\n");
    printf("|---|---|---|---|---|---|---|\n");
    for (size_t i = 0; i < n_samples; i++) {
        const struct sample *s = &samples[i];
        printf("| %.0f | %.1f | %.1f | %.1f | %lld | %lld | %lld |\n", s->t, s->rss_mib,
               s->cpu_pct, s->db_mib, s->queue, s->open, s->completed);
        if (s->t >= warm && s->t < q1) {
            a += s->rss_mib;
            na++;
        }
        if (s->t >= q4 && s->t <= run_s) {
            b += s->rss_mib;
            nb++;
        }
        peak = s->rss_mib > peak ? s->rss_mib : peak;
    }
    if (na == 0 || nb == 0) {
        printf("RSS trend: too few samples to judge\n");
        return;
    }
    a /= na;
    b /= nb;
    printf("RSS: %.1f MiB after the warm-up, %.1f MiB in the last quarter (bound +%.0f MiB),"
           " peak %.1f MiB; database %.1f -> %.1f MiB\n", a, b, bound, peak, samples[0].db_mib,
           samples[n_samples - 1].db_mib);
    if (b > a + bound)
        violation("RSS grew from %.1f to %.1f MiB (more than %.0f MiB)", a, b, bound);
}

static void run(void **state)
{
    struct e2e_opts o;
    long seconds, seed, gap;
    int64_t t_end, next_sample = 0, next_report = 0;
    u128 start[6];
    struct totals t;
    double run_s;

    (void)state;
    soak = getenv("CHAOS_MODE") != NULL && strcmp(getenv("CHAOS_MODE"), "soak") == 0;
    seconds = soak ? env_long("SOAK_SECONDS", 600) : env_long("CHAOS_SECONDS", 300);
    seed = env_long("CHAOS_SEED", (long)(time(NULL) % 1000000));
    gap = env_long("CHAOS_GAP_SECONDS", 8);
    if (gap < 2)
        gap = 2;
    printf("== %s: %ld s, seed %ld (replay: CHAOS_SEED=%ld make %s)\n", soak ? "soak" : "chaos",
           seconds, seed, seed, soak ? "soak" : "chaos");
    fflush(stdout);
    select_faults(getenv("CHAOS_FAULTS"));
    rng_fault = (uint64_t)seed * 0x100000001b3ULL + 1;
    rng_traffic = (uint64_t)seed ^ 0x5eed5eed5eedULL;
    memset(&o, 0, sizeof(o));
    o.anvil_args = "--block-time 1";
    o.workers = 4;
    o.poll_interval = "200ms";
    o.log_level = "info";
    t_start = now_ms();
    if (!e2e_up(&E, &o))
        skip();
    if (!soak) {
        px_o = fproxy_start(E.url_o);
        px_a = fproxy_start(E.url_a);
        assert_true(px_o != NULL && px_a != NULL);
        rewrite_config();
    }
    start[0] = to128(cl_view_u256(&E.a, E.ut, "totalSupply()", NULL, 0));
    start[1] = to128(cl_token_balance(&E.o, E.vt, E.vault));
    start[2] = to128(cl_token_balance(&E.o, E.vt, E.gw));
    start[3] = to128(cl_token_balance(&E.a, E.ut, E.fac));
    start[4] = to128(cl_token_balance(&E.o, E.vt, E.fac));
    start[5] = to128(cl_token_balance(&E.o, E.bt, E.fac));
    e2e_daemon_start(&E);
    sleep_ms(1500);
    daemon_watch();
    say("up: origin %s, aux %s%s; the daemon's finality: %d confirmations; log %s",
        E.url_o, E.url_a, soak ? "" : " (the daemon through fault proxies)",
        soak ? 0 : CONFIRMATIONS, E.log);
    t_start = now_ms();
    t_end = t_start + seconds * 1000;
    next_fault_at = t_start + gap * 1000;
    while (now_ms() < t_end) {
        int64_t r0 = now_ms();
        traffic_stakes((size_t)rnd_in(&rng_traffic, 1, soak ? 2 : 4));
        traffic_redeems((size_t)rnd_in(&rng_traffic, 0, 2));
        daemon_watch();
        if (!soak)
            fault_tick(gap);
        if (soak && now_ms() >= next_sample) {
            sample_now();
            next_sample = now_ms() + 10000;
        }
        if (soak && now_ms() - r0 < 3000)
            sleep_ms(3000 - (long)(now_ms() - r0));
        if (now_ms() >= next_report) {
            say("traffic: %zu messages (%zu stakes, %zu redeems)", n_msgs, n_stakes, n_redeems);
            next_report = now_ms() + 20000;
        }
    }
    run_s = elapsed_s();
    if (!soak) {
        undo_fault();
        fproxy_clear(px_o);
        fproxy_clear(px_a);
    }
    drain();
    if (soak)
        sample_now();
    {
        int rc = e2e_daemon_stop(&E);
        if (rc != 0)
            violation("the daemon exited with status %d after the final SIGTERM", rc);
    }
    check_all(&t, start);
    list_rows("dead-lettered job", "SELECT kind, count(*), max(coalesce(last_error, ''))"
              " FROM mosaic.jobs WHERE state = 'failed' GROUP BY 1", 0);
    list_rows("open alert", "SELECT severity, component, message FROM mosaic.alerts"
              " WHERE acknowledged_at IS NULL ORDER BY id DESC LIMIT 10", 0);
    summary(&t, run_s, seed);
    if (soak)
        soak_report(run_s);
    if (getenv("CHAOS_KEEP_LOG") != NULL) {
        char cmd[1400];
        snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", E.log, getenv("CHAOS_KEEP_LOG"));
        if (system(cmd) != 0)
            printf("copying the daemon's log failed\n");
    }
    if (n_violations > 0) {
        printf("\n%s FAILED: %d invariant violations (seed %ld; the lines marked VIOLATION above)\n",
               soak ? "soak" : "chaos", n_violations, seed);
        fflush(stdout);
        e2e_daemon_tail(&E, 3000);
        fail_msg("%d violations", n_violations);
    }
    printf("\n%s passed: every invariant held (seed %ld)\n", soak ? "soak" : "chaos", seed);
    fproxy_stop(px_o);
    fproxy_stop(px_a);
    e2e_down(&E);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(run)};

    signal(SIGPIPE, SIG_IGN);
    setvbuf(stdout, NULL, _IOLBF, 0);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
