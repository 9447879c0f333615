/*
 * ws.c - the newHeads subscription over libwebsockets (see ws.h).
 *
 * Everything but ws_sub_start/stop/stats runs on the service thread: the
 * libwebsockets callbacks, the (re)connect timer and on_head.  The mutex
 * guards the counters and the stop flag, which the caller's thread reads.
 * JSON-RPC subscriptions: ethereum/execution-apis, eth_subscribe.
 */
#include "chain/ws.h"

#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libwebsockets.h>

#include "chain/rpc.h"

struct ws_sub {
    char host[RPC_URL_MAX];
    char path[RPC_URL_MAX];
    char name[RPC_URL_MAX];      /* rpc_redact_url form, for messages */
    int port, tls;
    struct lws_context *ctx;
    struct lws *wsi;             /* the live connection, or NULL */
    lws_sorted_usec_list_t sul;  /* the (re)connect timer */
    int retry_pending;
    long backoff_ms;
    pthread_t thread;
    pthread_mutex_t mu;
    int stop;
    ws_head_fn on_head;
    void *arg;
    char *msg;                   /* one message being received, WS_MAX_MESSAGE */
    size_t msg_len;
    int sent_subscribe;
    int close_now;               /* the node refused the subscription */
    char sub_id[80];             /* "0x..." from eth_subscribe */
    struct ws_stats st;
};

static struct ws_sub *of_sul(lws_sorted_usec_list_t *sul)
{
    return (struct ws_sub *)(void *)((char *)sul - offsetof(struct ws_sub, sul));
}

static void set_state(struct ws_sub *w, int connected, int subscribed)
{
    pthread_mutex_lock(&w->mu);
    w->st.connected = connected;
    w->st.subscribed = subscribed;
    pthread_mutex_unlock(&w->mu);
}

static void count(struct ws_sub *w, uint64_t *field)
{
    pthread_mutex_lock(&w->mu);
    (*field)++;
    pthread_mutex_unlock(&w->mu);
}

static void connect_now(lws_sorted_usec_list_t *sul);

/* Connects again after the backoff, which then doubles. */
static void schedule_retry(struct ws_sub *w)
{
    if (w->retry_pending)
        return;
    w->retry_pending = 1;
    lws_sul_schedule(w->ctx, 0, &w->sul, connect_now, (lws_usec_t)w->backoff_ms * 1000);
    w->backoff_ms *= 2;
    if (w->backoff_ms > WS_BACKOFF_MAX_MS)
        w->backoff_ms = WS_BACKOFF_MAX_MS;
}

static void connect_now(lws_sorted_usec_list_t *sul)
{
    struct ws_sub *w = of_sul(sul);
    struct lws_client_connect_info ci;

    w->retry_pending = 0;
    memset(&ci, 0, sizeof(ci));
    ci.context = w->ctx;
    ci.address = w->host;
    ci.port = w->port;
    ci.path = w->path;
    ci.host = w->host;
    ci.origin = w->host;
    ci.ssl_connection = w->tls ? LCCSCF_USE_SSL : 0;
    ci.pwsi = &w->wsi;
    count(w, &w->st.attempts);
    if (lws_client_connect_via_info(&ci) == NULL) {
        w->wsi = NULL;
        schedule_retry(w);
    }
}

/* The subscription's answer, or one notification. */
static void on_message(struct ws_sub *w)
{
    json_t *v = NULL, *id, *params, *res;
    struct eth_block b;
    const char *sub;

    if (rpc_json_load(w->msg, w->msg_len, WS_MAX_MESSAGE, &v, NULL) != MR_OK ||
        !json_is_object(v)) {
        json_decref(v);
        count(w, &w->st.bad_messages);
        return;
    }
    id = json_object_get(v, "id");
    params = json_object_get(v, "params");
    if (id != NULL && json_is_integer(id) && json_integer_value(id) == 1 && w->sub_id[0] == '\0') {
        res = json_object_get(v, "result");
        if (json_is_string(res) && json_string_length(res) > 0 &&
            json_string_length(res) < sizeof(w->sub_id) &&
            strlen(json_string_value(res)) == json_string_length(res)) {
            snprintf(w->sub_id, sizeof(w->sub_id), "%s", json_string_value(res));
            w->backoff_ms = WS_BACKOFF_MIN_MS;
            set_state(w, 1, 1);
        } else {
            count(w, &w->st.bad_messages); /* refused: close, try again later */
            w->close_now = 1;
        }
    } else if (json_is_string(json_object_get(v, "method")) &&
               strcmp(json_string_value(json_object_get(v, "method")), "eth_subscription") == 0 &&
               json_is_object(params) &&
               (sub = json_string_value(json_object_get(params, "subscription"))) != NULL &&
               w->sub_id[0] != '\0' && strcmp(sub, w->sub_id) == 0 &&
               ethrpc_decode_block(json_object_get(params, "result"), &b, NULL) == MR_OK) {
        count(w, &w->st.heads);
        w->on_head(w->arg, &b);
    } else {
        count(w, &w->st.bad_messages);
    }
    json_decref(v);
}

static int send_subscribe(struct ws_sub *w, struct lws *wsi)
{
    static const char req[] =
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"eth_subscribe\",\"params\":[\"newHeads\"]}";
    unsigned char buf[LWS_PRE + sizeof(req)];

    memcpy(buf + LWS_PRE, req, sizeof(req) - 1);
    if (lws_write(wsi, buf + LWS_PRE, sizeof(req) - 1, LWS_WRITE_TEXT) < (int)sizeof(req) - 1)
        return -1;
    w->sent_subscribe = 1;
    return 0;
}

static int on_event(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
    struct ws_sub *w = lws_context_user(lws_get_context(wsi));

    (void)user;
    if (w == NULL)
        return 0;
    switch (reason) {
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        w->msg_len = 0;
        w->sent_subscribe = 0;
        w->close_now = 0;
        w->sub_id[0] = '\0';
        count(w, &w->st.connects);
        set_state(w, 1, 0);
        lws_callback_on_writable(wsi);
        break;
    case LWS_CALLBACK_CLIENT_WRITEABLE:
        if (!w->sent_subscribe)
            return send_subscribe(w, wsi);
        break;
    case LWS_CALLBACK_CLIENT_RECEIVE:
        if (len > WS_MAX_MESSAGE - w->msg_len) {
            count(w, &w->st.bad_messages);
            return -1; /* too big: close, connect again */
        }
        memcpy(w->msg + w->msg_len, in, len);
        w->msg_len += len;
        if (lws_is_final_fragment(wsi) && lws_remaining_packet_payload(wsi) == 0) {
            on_message(w);
            w->msg_len = 0;
        }
        return w->close_now ? -1 : 0;
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
    case LWS_CALLBACK_CLIENT_CLOSED:
        w->wsi = NULL;
        set_state(w, 0, 0);
        pthread_mutex_lock(&w->mu);
        if (!w->stop) {
            pthread_mutex_unlock(&w->mu);
            schedule_retry(w);
        } else {
            pthread_mutex_unlock(&w->mu);
        }
        break;
    default:
        break;
    }
    return 0;
}

static const struct lws_protocols protocols[] = {
    {.name = "mosaic-heads", .callback = on_event, .rx_buffer_size = 0},
    {.name = NULL, .callback = NULL},
};

static int stopping(struct ws_sub *w)
{
    int s;

    pthread_mutex_lock(&w->mu);
    s = w->stop;
    pthread_mutex_unlock(&w->mu);
    return s;
}

static void *service(void *arg)
{
    struct ws_sub *w = arg;

    while (!stopping(w))
        if (lws_service(w->ctx, 0) < 0)
            break;
    return NULL;
}

/* Splits url into host, port, path and whether it is TLS. */
static int parse_url(struct ws_sub *w, const char *url, struct mr_error *err)
{
    char buf[RPC_URL_MAX];
    const char *prot = NULL, *ads = NULL, *path = NULL;
    int port = 0;

    rpc_redact_url(url, w->name, sizeof(w->name));
    if (strlen(url) >= sizeof(buf) ||
        (strncmp(url, "ws://", 5) != 0 && strncmp(url, "wss://", 6) != 0))
        return mr_fail(err, MR_ERR_INVALID, "%s: not a ws:// or wss:// URL", w->name);
    snprintf(buf, sizeof(buf), "%s", url);
    if (lws_parse_uri(buf, &prot, &ads, &port, &path) != 0 || ads == NULL || ads[0] == '\0' ||
        port <= 0 || port > 65535)
        return mr_fail(err, MR_ERR_INVALID, "%s: cannot parse the URL", w->name);
    w->tls = strcmp(prot, "wss") == 0;
    w->port = port;
    snprintf(w->host, sizeof(w->host), "%s", ads);
    /* lws_parse_uri drops the path's leading '/', but gives "/" for none. */
    if (path == NULL)
        path = "";
    snprintf(w->path, sizeof(w->path), "%s%s", path[0] == '/' ? "" : "/", path);
    return MR_OK;
}

int ws_sub_start(const char *url, ws_head_fn on_head, void *arg, struct ws_sub **out,
                 struct mr_error *err)
{
    struct lws_context_creation_info info;
    struct ws_sub *w;
    int rc;

    *out = NULL;
    if ((w = calloc(1, sizeof(*w))) == NULL || (w->msg = malloc(WS_MAX_MESSAGE)) == NULL) {
        free(w);
        return mr_fail(err, MR_ERR_NOMEM, "ws: out of memory");
    }
    if ((rc = parse_url(w, url, err)) != MR_OK) {
        free(w->msg);
        free(w);
        return rc;
    }
    pthread_mutex_init(&w->mu, NULL);
    w->on_head = on_head;
    w->arg = arg;
    w->backoff_ms = WS_BACKOFF_MIN_MS;
    lws_set_log_level(getenv("MR_WS_DEBUG") ? 0xff : 0, NULL); /* failures show in the counters, not on stderr */
    memset(&info, 0, sizeof(info));
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = protocols;
    info.user = w;
    info.gid = -1;
    info.uid = -1;
    if (w->tls)
        info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    if ((w->ctx = lws_create_context(&info)) == NULL) {
        rc = mr_fail(err, MR_ERR_IO, "%s: cannot create the libwebsockets context", w->name);
        goto fail;
    }
    /* The first connection is made on the service thread, right away. */
    w->retry_pending = 1;
    lws_sul_schedule(w->ctx, 0, &w->sul, connect_now, 1);
    if (pthread_create(&w->thread, NULL, service, w) != 0) {
        lws_context_destroy(w->ctx);
        rc = mr_fail(err, MR_ERR_IO, "%s: cannot start the service thread", w->name);
        goto fail;
    }
    *out = w;
    return MR_OK;
fail:
    pthread_mutex_destroy(&w->mu);
    free(w->msg);
    free(w);
    return rc;
}

void ws_sub_stop(struct ws_sub *w)
{
    if (w == NULL)
        return;
    pthread_mutex_lock(&w->mu);
    w->stop = 1;
    pthread_mutex_unlock(&w->mu);
    lws_cancel_service(w->ctx);
    pthread_join(w->thread, NULL);
    lws_sul_cancel(&w->sul);
    lws_context_destroy(w->ctx);
    pthread_mutex_destroy(&w->mu);
    free(w->msg);
    free(w);
}

void ws_sub_stats(struct ws_sub *w, struct ws_stats *st)
{
    pthread_mutex_lock(&w->mu);
    *st = w->st;
    pthread_mutex_unlock(&w->mu);
}
