/*
 * test_heads.c - the head tracker against a real anvil chain (which serves
 * WebSockets on its HTTP port): the same heads, one by one, with a working
 * newHeads subscription, with the WebSocket refused (polling), and with
 * none; a subscription cut in the middle reconnects and delivers again.
 */
#include "tests/lib/testlib.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "chain/ethrpc.h"
#include "chain/heads.h"
#include "chain/rpc.h"

#define ORIGIN_ID 31337

static struct rpc_endpoints *open_origin(void)
{
    const char *url = tv_anvil_url("ORIGIN");
    struct rpc_endpoints *e;
    struct mr_error err;

    assert_int_equal(rpc_endpoints_new(&url, 1, ORIGIN_ID, NULL, &e, &err), MR_OK);
    return e;
}

static void mine(struct rpc_endpoints *e)
{
    struct mr_error err;
    json_t *res = NULL;

    if (rpc_call(e, "anvil_mine", json_pack("[i]", 1), &res, NULL, &err) != MR_OK)
        fail_msg("anvil_mine: %s", err.msg);
    json_decref(res);
}

static int anvil_port(void)
{
    const char *url = tv_anvil_url("ORIGIN"), *colon = strrchr(url, ':');

    assert_non_null(colon);
    return atoi(colon + 1);
}

/* Waits (up to 10 s) until the subscription has been answered `connects`
 * times in all; fails the test otherwise. */
static void await_subscribed(struct heads *h, uint64_t connects)
{
    struct heads_stats st;

    for (int i = 0; i < 1000; i++) {
        heads_stats(h, &st);
        if (st.ws_subscribed && st.ws_connects >= connects)
            return;
        usleep(10000);
    }
    fail_msg("no subscription (attempts %llu, connects %llu)", (unsigned long long)st.ws_attempts,
             (unsigned long long)st.ws_connects);
}

/* The scenario every configuration must pass alike: the current head at
 * once, then each mined block in turn, then nothing. */
static void scenario(struct heads *h, struct rpc_endpoints *e, int subscribed)
{
    struct eth_block head, b;
    struct mr_error err;

    assert_int_equal(heads_wait(h, 10000, &head, &err), MR_OK);
    assert_int_equal(ethrpc_get_block(e, "latest", &b, NULL, &err), MR_OK);
    assert_int_equal(head.number, b.number);
    if (subscribed)
        await_subscribed(h, 1);
    for (int i = 1; i <= 3; i++) {
        mine(e);
        assert_int_equal(heads_wait(h, 10000, &head, &err), MR_OK);
        assert_int_equal(head.number, b.number + (uint64_t)i);
    }
    assert_int_equal(ethrpc_get_block(e, "latest", &b, NULL, &err), MR_OK);
    assert_memory_equal(head.hash, b.hash, 32);
    assert_int_equal(heads_wait(h, 50, &head, &err), MR_ERR_NOTFOUND);
    assert_memory_equal(head.hash, b.hash, 32); /* still the newest */
}

/* Runs the scenario on origin with heads polling every poll_ms and, when
 * ws_port is not 0, a websocket endpoint at that port; its statistics in *st. */
static void scenario_stats(int ws_port, long poll_ms, int subscribed, struct heads_stats *st)
{
    struct rpc_endpoints *e = open_origin();
    struct heads *h;
    struct mr_error err;
    char ws[64];

    snprintf(ws, sizeof(ws), "ws://127.0.0.1:%d", ws_port);
    assert_int_equal(heads_open(e, ws_port != 0 ? ws : NULL, poll_ms, &h, &err), MR_OK);
    scenario(h, e, subscribed);
    heads_stats(h, st);
    heads_close(h);
    rpc_endpoints_free(e);
}

static void test_ws_subscription(void **state)
{
    struct heads_stats st;
    (void)state;

    TV_REQUIRE_ANVIL();
    /* Polling so slow that only the subscription can deliver in time. */
    scenario_stats(anvil_port(), 600000, 1, &st);
    assert_int_equal(st.polls, 1);        /* the first head only */
    assert_int_equal(st.returned_ws, 3);
    assert_true(st.ws_heads >= 3);
}

static void test_ws_refused_polls(void **state)
{
    struct heads_stats st;
    (void)state;

    TV_REQUIRE_ANVIL();
    scenario_stats(tv_free_port(), 50, 0, &st);
    assert_true(st.ws_configured);
    assert_true(st.ws_attempts >= 1);
    assert_int_equal(st.ws_connects, 0);
    assert_int_equal(st.ws_heads, 0);
    assert_int_equal(st.returned_poll, 4);
}

static void test_polling_only(void **state)
{
    struct rpc_endpoints *e;
    struct heads *h;
    struct heads_stats st;
    struct mr_error err;
    (void)state;

    TV_REQUIRE_ANVIL();
    scenario_stats(0, 50, 0, &st);
    assert_false(st.ws_configured);
    assert_int_equal(st.returned_poll, 4);
    e = open_origin();
    assert_int_equal(heads_open(e, "http://x", 50, &h, &err), MR_ERR_INVALID);
    assert_int_equal(heads_open(e, NULL, 0, &h, &err), MR_ERR_INVALID);
    rpc_endpoints_free(e);
}

/* ---- a TCP forwarder whose connections the test can cut ---- */

struct fwd {
    int lfd, port, upstream_port;
    pthread_t acceptor;
    pthread_mutex_t mu;
    int fds[32], n;
};

struct pump {
    struct fwd *f;
    int a, b;
};

static void *pump_main(void *arg)
{
    struct pump *p = arg;
    struct pollfd pf[2] = {{p->a, POLLIN, 0}, {p->b, POLLIN, 0}};
    char buf[8192];

    while (poll(pf, 2, -1) > 0) {
        int from = (pf[0].revents != 0) ? 0 : 1;
        ssize_t r = recv(pf[from].fd, buf, sizeof(buf), 0);
        if (r <= 0 || send(pf[1 - from].fd, buf, (size_t)r, MSG_NOSIGNAL) != r)
            break;
    }
    close(p->a);
    close(p->b);
    free(p);
    return NULL;
}

static void *fwd_main(void *arg)
{
    struct fwd *f = arg;
    int c;

    while ((c = accept(f->lfd, NULL, NULL)) >= 0) {
        struct sockaddr_in a = {0};
        struct pump *p = malloc(sizeof(*p));
        pthread_t t;
        int u = socket(AF_INET, SOCK_STREAM, 0);
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        a.sin_port = htons((uint16_t)f->upstream_port);
        if (p == NULL || connect(u, (struct sockaddr *)&a, sizeof(a)) != 0) {
            close(c);
            close(u);
            free(p);
            continue;
        }
        p->f = f;
        p->a = c;
        p->b = u;
        pthread_mutex_lock(&f->mu);
        if (f->n < 32)
            f->fds[f->n++] = c;
        pthread_mutex_unlock(&f->mu);
        pthread_create(&t, NULL, pump_main, p);
        pthread_detach(t);
    }
    return NULL;
}

static void fwd_start(struct fwd *f, int upstream_port)
{
    struct sockaddr_in a = {0};
    socklen_t len = sizeof(a);

    memset(f, 0, sizeof(*f));
    pthread_mutex_init(&f->mu, NULL);
    f->upstream_port = upstream_port;
    f->lfd = socket(AF_INET, SOCK_STREAM, 0);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(f->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(f->lfd, 8), 0);
    assert_int_equal(getsockname(f->lfd, (struct sockaddr *)&a, &len), 0);
    f->port = ntohs(a.sin_port);
    assert_int_equal(pthread_create(&f->acceptor, NULL, fwd_main, f), 0);
}

/* Cuts every connection made so far (the pumps see EOF and close). */
static void fwd_cut(struct fwd *f)
{
    pthread_mutex_lock(&f->mu);
    for (int i = 0; i < f->n; i++)
        shutdown(f->fds[i], SHUT_RDWR);
    f->n = 0;
    pthread_mutex_unlock(&f->mu);
}

static void fwd_stop(struct fwd *f)
{
    fwd_cut(f);
    shutdown(f->lfd, SHUT_RDWR);
    close(f->lfd);
    pthread_join(f->acceptor, NULL);
}

static void test_ws_reconnects(void **state)
{
    struct rpc_endpoints *e;
    struct heads *h;
    struct heads_stats st;
    struct eth_block head, first;
    struct mr_error err;
    struct fwd f;
    char ws[64];
    (void)state;

    TV_REQUIRE_ANVIL();
    e = open_origin();
    fwd_start(&f, anvil_port());
    snprintf(ws, sizeof(ws), "ws://127.0.0.1:%d", f.port);
    assert_int_equal(heads_open(e, ws, 600000, &h, &err), MR_OK);
    assert_int_equal(heads_wait(h, 10000, &first, &err), MR_OK);
    await_subscribed(h, 1);
    fwd_cut(&f);
    await_subscribed(h, 2); /* connected and subscribed again */
    mine(e);
    assert_int_equal(heads_wait(h, 10000, &head, &err), MR_OK);
    assert_int_equal(head.number, first.number + 1);
    heads_stats(h, &st);
    assert_int_equal(st.returned_ws, 1);
    assert_int_equal(st.polls, 1);
    heads_close(h);
    fwd_stop(&f);
    rpc_endpoints_free(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ws_subscription),
        cmocka_unit_test(test_ws_refused_polls),
        cmocka_unit_test(test_polling_only),
        cmocka_unit_test(test_ws_reconnects),
    };

    return cmocka_run_group_tests_name("heads: newHeads over WebSocket, polling fallback", tests,
                                       NULL, NULL);
}
