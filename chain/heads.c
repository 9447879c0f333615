/*
 * heads.c - the head tracker (see heads.h): WebSocket heads handed over by
 * the subscription thread, polling on the caller's thread.
 */
#include "chain/heads.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chain/ws.h"

struct heads {
    struct rpc_endpoints *rpc;  /* borrowed */
    long poll_ms;
    struct ws_sub *ws;          /* NULL: polling only */
    /* Handed over by the subscription thread, under mu. */
    pthread_mutex_t mu;
    pthread_cond_t cond;        /* signalled on every WebSocket head */
    uint64_t ws_seq;            /* heads delivered so far */
    struct eth_block ws_head;   /* the newest of them */
    /* The caller's side. */
    uint64_t ws_seen;           /* ws_seq already looked at */
    int have_last;
    struct eth_block last;      /* returned last */
    int64_t next_poll_ms;
    uint64_t polls, returned_ws, returned_poll;
};

static int64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* On the subscription thread. */
static void on_ws_head(void *arg, const struct eth_block *b)
{
    struct heads *h = arg;

    pthread_mutex_lock(&h->mu);
    h->ws_head = *b;
    h->ws_seq++;
    pthread_cond_broadcast(&h->cond);
    pthread_mutex_unlock(&h->mu);
}

int heads_open(struct rpc_endpoints *rpc, const char *ws_url, long poll_ms, struct heads **out,
               struct mr_error *err)
{
    struct heads *h;
    pthread_condattr_t ca;
    int rc;

    *out = NULL;
    if (poll_ms <= 0)
        return mr_fail(err, MR_ERR_INVALID, "heads: poll interval %ld ms", poll_ms);
    if ((h = calloc(1, sizeof(*h))) == NULL)
        return mr_fail(err, MR_ERR_NOMEM, "heads: out of memory");
    h->rpc = rpc;
    h->poll_ms = poll_ms;
    pthread_mutex_init(&h->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&h->cond, &ca);
    pthread_condattr_destroy(&ca);
    if (ws_url != NULL && ws_url[0] != '\0' &&
        (rc = ws_sub_start(ws_url, on_ws_head, h, &h->ws, err)) != MR_OK) {
        heads_close(h);
        return rc;
    }
    *out = h;
    return MR_OK;
}

/* Whether b is worth returning after h->last. */
static int is_new(const struct heads *h, const struct eth_block *b, int authoritative)
{
    if (!h->have_last)
        return 1;
    if (memcmp(b->hash, h->last.hash, 32) == 0)
        return 0;
    return authoritative || b->number >= h->last.number;
}

static void take(struct heads *h, const struct eth_block *b, struct eth_block *out)
{
    h->last = *b;
    h->have_last = 1;
    *out = *b;
}

/* Sleeps until a WebSocket head arrives or the monotonic time `until`. */
static void wait_ws(struct heads *h, int64_t until)
{
    struct timespec ts;

    ts.tv_sec = (time_t)(until / 1000);
    ts.tv_nsec = (long)(until % 1000) * 1000000L;
    pthread_mutex_lock(&h->mu);
    if (h->ws_seq == h->ws_seen)
        pthread_cond_timedwait(&h->cond, &h->mu, &ts);
    pthread_mutex_unlock(&h->mu);
}

int heads_wait(struct heads *h, long timeout_ms, struct eth_block *head, struct mr_error *err)
{
    int64_t deadline = mono_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    int poll_rc = MR_OK;
    struct mr_error poll_err;

    mr_error_clear(&poll_err);
    for (;;) {
        struct eth_block b;
        int64_t now;
        int fresh = 0;

        pthread_mutex_lock(&h->mu);
        if (h->ws_seq != h->ws_seen) {
            h->ws_seen = h->ws_seq;
            b = h->ws_head;
            fresh = 1;
        }
        pthread_mutex_unlock(&h->mu);
        if (fresh && is_new(h, &b, 0)) {
            h->returned_ws++;
            take(h, &b, head);
            return MR_OK;
        }
        now = mono_ms();
        if (now >= h->next_poll_ms) {
            h->next_poll_ms = now + h->poll_ms;
            h->polls++;
            poll_rc = ethrpc_get_block(h->rpc, "latest", &b, NULL, &poll_err);
            if (poll_rc == MR_OK && is_new(h, &b, 1)) {
                h->returned_poll++;
                take(h, &b, head);
                return MR_OK;
            }
        }
        if (now >= deadline)
            break;
        wait_ws(h, deadline < h->next_poll_ms ? deadline : h->next_poll_ms);
    }
    if (h->have_last)
        *head = h->last;
    if (poll_rc != MR_OK)
        return mr_fail(err, poll_rc, "%s", poll_err.msg);
    return mr_fail(err, MR_ERR_NOTFOUND, "no new head within %ld ms", timeout_ms);
}

void heads_stats(struct heads *h, struct heads_stats *st)
{
    memset(st, 0, sizeof(*st));
    if (h->ws != NULL) {
        struct ws_stats w;
        ws_sub_stats(h->ws, &w);
        st->ws_configured = 1;
        st->ws_connected = w.connected;
        st->ws_subscribed = w.subscribed;
        st->ws_attempts = w.attempts;
        st->ws_connects = w.connects;
        st->ws_heads = w.heads;
    }
    st->polls = h->polls;
    st->returned_ws = h->returned_ws;
    st->returned_poll = h->returned_poll;
}

void heads_close(struct heads *h)
{
    if (h == NULL)
        return;
    ws_sub_stop(h->ws);
    pthread_cond_destroy(&h->cond);
    pthread_mutex_destroy(&h->mu);
    free(h);
}
