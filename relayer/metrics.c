/*
 * metrics.c - the metric families (declared here, once), the fixed registry
 * of their series, and the Prometheus text format.
 *
 * Text format reference: Prometheus "Exposition formats", text format
 * 0.0.4: `# HELP name text` (backslash and newline escaped), `# TYPE name
 * counter|gauge|histogram`, samples `name{label="value",...} number`
 * (label values escape backslash, double quote and newline); a histogram
 * has cumulative `name_bucket{...,le="bound"}` lines ending with
 * le="+Inf", then `name_sum` and `name_count` (= the +Inf bucket).
 */
#include "relayer/metrics.h"
#include "relayer/metrics_int.h"

#include <assert.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct family {
    const char *name;
    enum metric_type type;
    const char *help;
    const char *labels[METRIC_MAX_LABELS];
    const double *bounds;      /* histograms: finite upper bounds, increasing */
    int n_bounds;
};

/* Seconds: node requests take milliseconds to seconds; jobs up to minutes. */
static const double rpc_bounds[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
static const double job_bounds[] = {0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300};

#define NB(a) (a), (int)(sizeof(a) / sizeof((a)[0]))

/* Every metric the relayer exports.  Order = enum metric_id. */
static const struct family families[MX__COUNT] = {
    [MX_CHAIN_HEAD] = {"mosaic_chain_head_block", METRIC_GAUGE,
                       "Latest block number the watcher saw on the chain.", {"chain"}, NULL, 0},
    [MX_CHAIN_FINALIZED] = {"mosaic_chain_finalized_block", METRIC_GAUGE,
                            "Latest block final by the chain's confirmation policy.", {"chain"},
                            NULL, 0},
    [MX_CHAIN_CURSOR] = {"mosaic_watcher_cursor_block", METRIC_GAUGE,
                         "Last block whose events the watcher stored.", {"chain"}, NULL, 0},
    [MX_WATCHER_LAG] = {"mosaic_watcher_lag_blocks", METRIC_GAUGE,
                        "Final blocks not yet ingested (finalized - cursor).", {"chain"}, NULL,
                        0},
    [MX_RPC_ERRORS] = {"mosaic_rpc_errors_total", METRIC_COUNTER,
                       "Failed node requests by chain, endpoint index and kind.",
                       {"chain", "endpoint", "kind"}, NULL, 0},
    [MX_RPC_LATENCY] = {"mosaic_rpc_request_duration_seconds", METRIC_HISTOGRAM,
                        "Duration of node requests by chain, endpoint index and method.",
                        {"chain", "endpoint", "method"}, NB(rpc_bounds)},
    [MX_QUEUE_JOBS] = {"mosaic_queue_jobs", METRIC_GAUGE,
                       "Jobs in the queue by kind and state (finished ones excluded).",
                       {"kind", "state"}, NULL, 0},
    [MX_JOB_DURATION] = {"mosaic_job_duration_seconds", METRIC_HISTOGRAM,
                         "Duration of job handler runs by kind and outcome.",
                         {"kind", "outcome"}, NB(job_bounds)},
    [MX_MESSAGES] = {"mosaic_messages", METRIC_GAUGE, "Messages by flow and relayer state.",
                     {"flow", "state"}, NULL, 0},
    [MX_MESSAGE_TRANSITIONS] = {"mosaic_message_transitions_total", METRIC_COUNTER,
                                "Messages that entered a state, by flow and state.",
                                {"flow", "state"}, NULL, 0},
    [MX_MESSAGES_STUCK] = {"mosaic_messages_stuck", METRIC_GAUGE,
                           "Open messages not updated for over 10 minutes.", {NULL}, NULL, 0},
    [MX_TX_PENDING] = {"mosaic_transactions_pending", METRIC_GAUGE,
                       "Transactions not yet final, by chain and state.", {"chain", "state"},
                       NULL, 0},
    [MX_TX_FAILED] = {"mosaic_transactions_failed_total", METRIC_COUNTER,
                      "Transactions given up as failed, by chain.", {"chain"}, NULL, 0},
    [MX_TX_REPLACED] = {"mosaic_transactions_replaced_total", METRIC_COUNTER,
                        "Fee-bumped replacements signed, by chain.", {"chain"}, NULL, 0},
    [MX_ANCHOR_AGE] = {"mosaic_anchor_age_seconds", METRIC_GAUGE,
                       "Seconds since a state root of the remote chain was last anchored on the chain.",
                       {"chain", "remote"}, NULL, 0},
    [MX_ANCHOR_HEIGHT] = {"mosaic_anchor_height", METRIC_GAUGE,
                          "Latest remote block height anchored on the chain.", {"chain", "remote"},
                          NULL, 0},
    [MX_SIGNER_BALANCE] = {"mosaic_signer_balance_ether", METRIC_GAUGE,
                           "Balance of a signing key in ether.", {"chain", "address"}, NULL, 0},
    [MX_SIGNER_NONCE] = {"mosaic_signer_next_nonce", METRIC_GAUGE,
                         "Next nonce the transaction manager will allocate for a key.",
                         {"chain", "address"}, NULL, 0},
    [MX_SIGNER_HALTED] = {"mosaic_signer_halted", METRIC_GAUGE,
                          "1 when sending from the key is halted for an operator.",
                          {"chain", "address"}, NULL, 0},
    [MX_PROOFS_REJECTED] = {"mosaic_proofs_rejected_total", METRIC_COUNTER,
                            "Proofs that did not verify, by chain and reason.",
                            {"chain", "reason"}, NULL, 0},
    [MX_LIMITS_HELD_MESSAGES] = {"mosaic_limits_held_messages", METRIC_GAUGE,
                                 "Messages held by the value limits for an operator.", {"pair"},
                                 NULL, 0},
    [MX_LIMITS_HELD_VALUE] = {"mosaic_limits_held_value_wei", METRIC_GAUGE,
                              "Value of the messages held by the value limits (base units).",
                              {"pair"}, NULL, 0},
    [MX_ALERTS_OPEN] = {"mosaic_alerts_open", METRIC_GAUGE, "Unacknowledged alerts by severity.",
                        {"severity"}, NULL, 0},
    [MX_CONSERVATION_TRIPPED] = {"mosaic_conservation_tripped", METRIC_GAUGE,
                                 "1 while the pair's conservation breaker stops its relaying.",
                                 {"pair"}, NULL, 0},
    [MX_CONSERVATION_CIRCULATING] = {"mosaic_conservation_circulating", METRIC_GAUGE,
                                     "Utility tokens circulating on the auxiliary chain at the "
                                     "last check (base units).", {"pair"}, NULL, 0},
    [MX_CONSERVATION_BACKING] = {"mosaic_conservation_backing", METRIC_GAUGE,
                                 "Value tokens backing them on origin at the last check (base "
                                 "units).", {"pair"}, NULL, 0},
    [MX_PROCESS_START] = {"process_start_time_seconds", METRIC_GAUGE,
                          "Start time of the process since the Unix epoch in seconds.", {NULL},
                          NULL, 0},
    [MX_COLLECT_ERRORS] = {"mosaic_metrics_collect_errors_total", METRIC_COUNTER,
                           "Failed refreshes of the database-backed metrics.", {NULL}, NULL, 0},
    [MX_SERIES_DROPPED] = {"mosaic_metrics_series_dropped_total", METRIC_COUNTER,
                           "Updates dropped because no series slot was left.", {NULL}, NULL, 0},
};

struct metric_series {
    int family;                                /* enum metric_id */
    char values[METRIC_MAX_LABELS][METRIC_LABEL_LEN];
    _Atomic uint64_t v;                        /* a double's bits: value, or histogram sum */
    _Atomic uint64_t buckets[METRIC_MAX_BUCKETS + 1]; /* histograms: per bucket, not cumulative */
};

static struct metric_series pool[METRIC_POOL_SERIES];
static _Atomic size_t pool_used;
static struct {
    struct metric_series *_Atomic s[METRIC_MAX_SERIES];
    _Atomic size_t n;
} reg[MX__COUNT];
static pthread_mutex_t create_lock = PTHREAD_MUTEX_INITIALIZER;

static int n_labels(enum metric_id id)
{
    int n = 0;

    while (n < METRIC_MAX_LABELS && families[id].labels[n] != NULL)
        n++;
    return n;
}

static uint64_t dbits(double d)
{
    uint64_t u;

    memcpy(&u, &d, sizeof u);
    return u;
}

static double bitsd(uint64_t u)
{
    double d;

    memcpy(&d, &u, sizeof d);
    return d;
}

static int matches(const struct metric_series *s, int nl, const char *const *values)
{
    for (int k = 0; k < nl; k++)
        if (strncmp(s->values[k], values[k] ? values[k] : "", METRIC_LABEL_LEN - 1) != 0)
            return 0;
    return 1;
}

/* Copies a label value, cut to fit, with bytes outside printable ASCII
 * replaced by '?' (label values are ours; this keeps the output UTF-8). */
static void copy_value(char *dst, const char *src)
{
    size_t i = 0;

    for (; src && src[i] && i < METRIC_LABEL_LEN - 1; i++) {
        unsigned char c = (unsigned char)src[i];
        dst[i] = c < 0x20 || c >= 0x7f ? '?' : (char)c;
    }
    dst[i] = 0;
}

int metric_series_index(enum metric_id id, const char *const *values)
{
    assert(id >= 0 && id < MX__COUNT);
    int nl = n_labels(id);
    size_t n = atomic_load_explicit(&reg[id].n, memory_order_acquire);

    for (size_t i = 0; i < n; i++)
        if (matches(atomic_load_explicit(&reg[id].s[i], memory_order_relaxed), nl, values))
            return (int)i;

    pthread_mutex_lock(&create_lock);
    n = atomic_load_explicit(&reg[id].n, memory_order_relaxed);
    for (size_t i = 0; i < n; i++) {
        if (matches(reg[id].s[i], nl, values)) {
            pthread_mutex_unlock(&create_lock);
            return (int)i;
        }
    }
    size_t slot = atomic_load_explicit(&pool_used, memory_order_relaxed);
    if (n >= METRIC_MAX_SERIES || slot >= METRIC_POOL_SERIES) {
        pthread_mutex_unlock(&create_lock);
        return -1;
    }
    struct metric_series *s = &pool[slot];
    atomic_store_explicit(&pool_used, slot + 1, memory_order_relaxed);
    s->family = (int)id;
    for (int k = 0; k < nl; k++)
        copy_value(s->values[k], values[k]);
    atomic_store_explicit(&reg[id].s[n], s, memory_order_relaxed);
    atomic_store_explicit(&reg[id].n, n + 1, memory_order_release);
    pthread_mutex_unlock(&create_lock);
    return (int)n;
}

size_t metric_family_size(enum metric_id id)
{
    return atomic_load_explicit(&reg[id].n, memory_order_acquire);
}

struct metric_series *metric_series_at(enum metric_id id, size_t i)
{
    return atomic_load_explicit(&reg[id].s[i], memory_order_relaxed);
}

struct metric_series *metric_series(enum metric_id id, const char *const *values)
{
    int i = metric_series_index(id, values);

    if (i >= 0)
        return metric_series_at(id, (size_t)i);
    if (id != MX_SERIES_DROPPED)
        metric_add(metric_series(MX_SERIES_DROPPED, NULL), 1);
    return NULL;
}

static void atomic_add_double(_Atomic uint64_t *p, double v)
{
    uint64_t old = atomic_load_explicit(p, memory_order_relaxed);

    while (!atomic_compare_exchange_weak_explicit(p, &old, dbits(bitsd(old) + v),
                                                  memory_order_relaxed, memory_order_relaxed))
        ;
}

void metric_add(struct metric_series *s, double v)
{
    if (s != NULL)
        atomic_add_double(&s->v, v);
}

void metric_set(struct metric_series *s, double v)
{
    if (s != NULL)
        atomic_store_explicit(&s->v, dbits(v), memory_order_relaxed);
}

static void observe_in(const struct family *f, struct metric_series *s, double v)
{
    int b = 0;

    if (isnan(v))
        return;
    while (b < f->n_bounds && v > f->bounds[b])
        b++;
    atomic_fetch_add_explicit(&s->buckets[b], 1, memory_order_relaxed);
    atomic_add_double(&s->v, v);
}

void metric_observe(struct metric_series *s, double v)
{
    if (s != NULL && families[s->family].type == METRIC_HISTOGRAM)
        observe_in(&families[s->family], s, v);
}

double metric_value(const struct metric_series *s)
{
    return s == NULL ? 0 : bitsd(atomic_load_explicit(&s->v, memory_order_relaxed));
}

const char *metric_name(enum metric_id id)
{
    assert(id >= 0 && id < MX__COUNT);
    return families[id].name;
}

void metrics_reset_for_tests(void)
{
    pthread_mutex_lock(&create_lock);
    for (int id = 0; id < MX__COUNT; id++)
        atomic_store(&reg[id].n, 0);
    memset(pool, 0, sizeof pool);
    atomic_store(&pool_used, 0);
    pthread_mutex_unlock(&create_lock);
}

/* ------------------------------------------------------ family functions -- */

static struct metric_series *S(enum metric_id id, const char *a, const char *b, const char *c)
{
    const char *v[METRIC_MAX_LABELS] = {a, b, c, NULL};

    return metric_series(id, v);
}

static const char *itoa_(int i, char buf[16])
{
    snprintf(buf, 16, "%d", i);
    return buf;
}

void metrics_chain(const char *chain, int64_t head, int64_t finalized, int64_t cursor)
{
    if (head >= 0)
        metric_set(S(MX_CHAIN_HEAD, chain, NULL, NULL), (double)head);
    if (finalized >= 0)
        metric_set(S(MX_CHAIN_FINALIZED, chain, NULL, NULL), (double)finalized);
    if (cursor >= 0)
        metric_set(S(MX_CHAIN_CURSOR, chain, NULL, NULL), (double)cursor);
    if (finalized >= 0 && cursor >= 0)
        metric_set(S(MX_WATCHER_LAG, chain, NULL, NULL),
                   finalized > cursor ? (double)(finalized - cursor) : 0);
}

void metrics_rpc_error(const char *chain, int endpoint, const char *kind)
{
    char e[16];

    metric_add(S(MX_RPC_ERRORS, chain, itoa_(endpoint, e), kind), 1);
}

void metrics_rpc_latency(const char *chain, int endpoint, const char *method, double seconds)
{
    char e[16];
    metric_observe(S(MX_RPC_LATENCY, chain, itoa_(endpoint, e), method), seconds);
}

void metrics_queue_depth(const char *kind, const char *state, double jobs)
{
    metric_set(S(MX_QUEUE_JOBS, kind, state, NULL), jobs);
}

void metrics_job_duration(const char *kind, const char *outcome, double seconds)
{
    metric_observe(S(MX_JOB_DURATION, kind, outcome, NULL), seconds);
}

void metrics_messages(const char *flow, const char *state, double messages)
{
    metric_set(S(MX_MESSAGES, flow, state, NULL), messages);
}

void metrics_message_transition(const char *flow, const char *state)
{
    metric_add(S(MX_MESSAGE_TRANSITIONS, flow, state, NULL), 1);
}

void metrics_messages_stuck(double messages)
{
    metric_set(S(MX_MESSAGES_STUCK, NULL, NULL, NULL), messages);
}

void metrics_tx_pending(const char *chain, const char *state, double txs)
{
    metric_set(S(MX_TX_PENDING, chain, state, NULL), txs);
}

void metrics_tx_failed(const char *chain, double total)
{
    metric_set(S(MX_TX_FAILED, chain, NULL, NULL), total);
}

void metrics_tx_replaced(const char *chain, double total)
{
    metric_set(S(MX_TX_REPLACED, chain, NULL, NULL), total);
}

void metrics_anchor(const char *chain, const char *remote, double age_seconds, int64_t height)
{
    metric_set(S(MX_ANCHOR_AGE, chain, remote, NULL), age_seconds);
    metric_set(S(MX_ANCHOR_HEIGHT, chain, remote, NULL), (double)height);
}

void metrics_signer_balance(const char *chain, const char *address, double ether)
{
    metric_set(S(MX_SIGNER_BALANCE, chain, address, NULL), ether);
}

void metrics_signer_nonce(const char *chain, const char *address, int64_t next_nonce, int halted)
{
    metric_set(S(MX_SIGNER_NONCE, chain, address, NULL), (double)next_nonce);
    metric_set(S(MX_SIGNER_HALTED, chain, address, NULL), halted ? 1 : 0);
}

void metrics_proof_rejected(const char *chain, const char *reason)
{
    metric_add(S(MX_PROOFS_REJECTED, chain, reason, NULL), 1);
}

void metrics_limits_held(const char *pair, double messages, double value_wei)
{
    metric_set(S(MX_LIMITS_HELD_MESSAGES, pair, NULL, NULL), messages);
    metric_set(S(MX_LIMITS_HELD_VALUE, pair, NULL, NULL), value_wei);
}

void metrics_conservation(const char *pair, int tripped, double circulating, double backing)
{
    metric_set(S(MX_CONSERVATION_TRIPPED, pair, NULL, NULL), tripped ? 1 : 0);
    metric_set(S(MX_CONSERVATION_CIRCULATING, pair, NULL, NULL), circulating);
    metric_set(S(MX_CONSERVATION_BACKING, pair, NULL, NULL), backing);
}

void metrics_alerts_open(const char *severity, double alerts)
{
    metric_set(S(MX_ALERTS_OPEN, severity, NULL, NULL), alerts);
}

/* ------------------------------------------------------------ rendering -- */

struct obuf {
    char *p;
    size_t len, cap;
    int oom;
};

#define OBUF_MAX (64u << 20)

static void ob_put(struct obuf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (n >= b->cap - b->len) {
        size_t cap = b->cap ? b->cap : 16384;
        while (n >= cap - b->len)
            cap *= 2;
        char *p = cap <= OBUF_MAX ? realloc(b->p, cap) : NULL;
        if (p == NULL) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}

static void ob_str(struct obuf *b, const char *s)
{
    ob_put(b, s, strlen(s));
}

/* HELP text: backslash and newline escaped.  Label values: also '"'. */
static void ob_escaped(struct obuf *b, const char *s, int label)
{
    for (; *s; s++) {
        if (*s == '\\')
            ob_str(b, "\\\\");
        else if (*s == '\n')
            ob_str(b, "\\n");
        else if (*s == '"' && label)
            ob_str(b, "\\\"");
        else
            ob_put(b, s, 1);
    }
}

/* A sample value: integers exactly, others with round-trip precision. */
void metric_format_number(char *out, size_t cap, double v)
{
    if (isnan(v))
        snprintf(out, cap, "NaN");
    else if (isinf(v))
        snprintf(out, cap, v > 0 ? "+Inf" : "-Inf");
    else if (v == floor(v) && fabs(v) < 9007199254740992.0)
        snprintf(out, cap, "%.0f", v);
    else {
        for (int prec = 1; prec <= 17; prec++) {
            snprintf(out, cap, "%.*g", prec, v);
            if (strtod(out, NULL) == v)
                break;
        }
    }
}

static void ob_labels(struct obuf *b, const struct family *f, const struct metric_series *s,
                      const char *le)
{
    int first = 1;

    for (int k = 0; k < METRIC_MAX_LABELS && f->labels[k]; k++) {
        ob_str(b, first ? "{" : ",");
        first = 0;
        ob_str(b, f->labels[k]);
        ob_str(b, "=\"");
        ob_escaped(b, s->values[k], 1);
        ob_str(b, "\"");
    }
    if (le != NULL) {
        ob_str(b, first ? "{le=\"" : ",le=\"");
        first = 0;
        ob_str(b, le);
        ob_str(b, "\"");
    }
    if (!first)
        ob_str(b, "}");
}

static void ob_sample(struct obuf *b, const char *name, const char *suffix,
                      const struct family *f, const struct metric_series *s, const char *le,
                      double v)
{
    char num[40];

    ob_str(b, name);
    ob_str(b, suffix);
    ob_labels(b, f, s, le);
    metric_format_number(num, sizeof num, v);
    ob_str(b, " ");
    ob_str(b, num);
    ob_str(b, "\n");
}

static void render_family(struct obuf *b, enum metric_id id)
{
    static const char *const type_names[] = {"counter", "gauge", "histogram"};
    const struct family *f = &families[id];
    size_t n = metric_family_size(id);

    ob_str(b, "# HELP ");
    ob_str(b, f->name);
    ob_str(b, " ");
    ob_escaped(b, f->help, 0);
    ob_str(b, "\n# TYPE ");
    ob_str(b, f->name);
    ob_str(b, " ");
    ob_str(b, type_names[f->type]);
    ob_str(b, "\n");
    /* A counter without labels exists from the start (rate() needs it). */
    if (n == 0 && f->type == METRIC_COUNTER && f->labels[0] == NULL) {
        static const struct metric_series zero;
        ob_sample(b, f->name, "", f, &zero, NULL, 0);
    }
    for (size_t i = 0; i < n; i++) {
        const struct metric_series *s = metric_series_at(id, i);
        if (f->type != METRIC_HISTOGRAM) {
            ob_sample(b, f->name, "", f, s, NULL, metric_value(s));
            continue;
        }
        /* Cumulative buckets; the count is the +Inf bucket, so the two
         * always agree even while observations land. */
        uint64_t cum = 0;
        char le[40];
        for (int k = 0; k <= f->n_bounds; k++) {
            cum += atomic_load_explicit(&s->buckets[k], memory_order_relaxed);
            if (k < f->n_bounds)
                metric_format_number(le, sizeof le, f->bounds[k]);
            else
                snprintf(le, sizeof le, "+Inf");
            ob_sample(b, f->name, "_bucket", f, s, le, (double)cum);
        }
        ob_sample(b, f->name, "_sum", f, s, NULL, metric_value(s));
        ob_sample(b, f->name, "_count", f, s, NULL, (double)cum);
    }
}

int metrics_render(char **out, size_t *len, struct mr_error *err)
{
    struct obuf b = {0};

    for (int id = 0; id < MX__COUNT; id++)
        render_family(&b, (enum metric_id)id);
    if (b.oom || b.p == NULL) {
        free(b.p);
        return mr_fail(err, MR_ERR_NOMEM, "metrics: out of memory rendering");
    }
    *out = b.p;
    *len = b.len;
    return MR_OK;
}
