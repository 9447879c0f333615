/*
 * metrics_http.c - the observability listener: /metrics, /healthz and
 * /readyz over plain HTTP/1.1 (libwebsockets), on a thread of its own.
 *
 * libwebsockets is single-threaded: the context is created here, then only
 * the service thread touches it, until metrics_server_stop wakes it with
 * lws_cancel_service (the one call lws allows from another thread), joins
 * it and destroys the context.
 */
#include <arpa/inet.h>
#include <netdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libwebsockets.h>

#include "relayer/log.h"
#include "relayer/metrics.h"
#include "relayer/metrics_int.h"

#define BODY_CHUNK 16384

struct metrics_server {
    struct lws_context *ctx;
    struct lws_vhost *vh;
    pthread_t thread;
    _Atomic int stop;
    metrics_ready_fn ready;
    void *ready_ctx;
    int port;
};

/* Per connection: the response being written. */
struct pss {
    char *body;                /* malloc'd */
    size_t len, off;
};

static const char TEXT_PLAIN[] = "text/plain; charset=utf-8";
static const char PROM_TEXT[] = "text/plain; version=0.0.4; charset=utf-8";

/* Starts a response: headers now, the body from the writeable callback.
 * Takes ownership of body. */
static int respond(struct lws *wsi, struct pss *p, unsigned status, const char *ctype, char *body,
                   size_t len)
{
    unsigned char hdr[LWS_PRE + 1024], *start = hdr + LWS_PRE, *pos = start,
                                       *end = hdr + sizeof hdr - 1;

    free(p->body);
    p->body = body;
    p->len = len;
    p->off = 0;
    if (lws_add_http_common_headers(wsi, status, ctype, (lws_filepos_t)len, &pos, end) ||
        lws_add_http_header_by_name(wsi, (const unsigned char *)"cache-control:",
                                    (const unsigned char *)"no-store", 8, &pos, end) ||
        lws_finalize_write_http_header(wsi, start, &pos, end))
        return 1;
    lws_callback_on_writable(wsi);
    return 0;
}

static int respond_text(struct lws *wsi, struct pss *p, unsigned status, const char *fmt, ...)
    MR_PRINTF(4, 5);
static int respond_text(struct lws *wsi, struct pss *p, unsigned status, const char *fmt, ...)
{
    char line[512];
    va_list ap;

    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line - 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    if ((size_t)n > sizeof line - 2)
        n = (int)sizeof line - 2;
    line[n++] = '\n';
    char *body = malloc((size_t)n);
    if (body == NULL)
        return 1;
    memcpy(body, line, (size_t)n);
    return respond(wsi, p, status, TEXT_PLAIN, body, (size_t)n);
}

static int route(struct lws *wsi, struct metrics_server *srv, struct pss *p, const char *path)
{
    /* Anything but GET (a body may follow): a complete status page at
     * once, then the connection is closed. */
    if (lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) <= 0) {
        lws_return_http_status(wsi, HTTP_STATUS_METHOD_NOT_ALLOWED, "GET only");
        return -1;
    }
    if (strcmp(path, "/metrics") == 0) {
        char *body;
        size_t len;
        struct mr_error err;
        if (metrics_render(&body, &len, &err) != MR_OK)
            return respond_text(wsi, p, 500, "%s", err.msg);
        return respond(wsi, p, 200, PROM_TEXT, body, len);
    }
    if (strcmp(path, "/healthz") == 0)
        return respond_text(wsi, p, 200, "ok");
    if (strcmp(path, "/readyz") == 0) {
        char why[256] = "ready";
        int ok = srv->ready == NULL || srv->ready(srv->ready_ctx, why, sizeof why);
        why[sizeof why - 1] = 0;
        return respond_text(wsi, p, ok ? 200 : 503, "%s", why);
    }
    return respond_text(wsi, p, 404, "not found: try /metrics, /healthz or /readyz");
}

static int write_body(struct lws *wsi, struct pss *p)
{
    static unsigned char buf[LWS_PRE + BODY_CHUNK]; /* only the service thread writes */
    size_t n = p->len - p->off < BODY_CHUNK ? p->len - p->off : BODY_CHUNK;
    int last = p->off + n == p->len;

    if (p->body == NULL)
        return 0;
    memcpy(buf + LWS_PRE, p->body + p->off, n);
    if (lws_write(wsi, buf + LWS_PRE, n, last ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) != (int)n)
        return -1;
    p->off += n;
    if (!last) {
        lws_callback_on_writable(wsi);
        return 0;
    }
    free(p->body);
    p->body = NULL;
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
    struct pss *p = user;
    struct metrics_server *srv = lws_context_user(lws_get_context(wsi));

    switch (reason) {
    case LWS_CALLBACK_HTTP:
        return route(wsi, srv, p, in ? (const char *)in : "");
    case LWS_CALLBACK_HTTP_WRITEABLE:
        return write_body(wsi, p);
    case LWS_CALLBACK_CLOSED_HTTP:
        if (p != NULL) {
            free(p->body);
            p->body = NULL;
        }
        break;
    default:
        break;
    }
    return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static const struct lws_protocols protocols[] = {
    {"http", callback, sizeof(struct pss), 0, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

/* libwebsockets' own messages (errors and warnings only) as our log lines. */
static void lws_emit(int level, const char *line)
{
    size_t n = strlen(line);

    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        n--;
    log_at(level == LLL_ERR ? LOGL_ERROR : LOGL_WARN, "http", NULL, "libwebsockets: %.*s",
           (int)n, line);
}

/* "host:port" or "[v6]:port" -> a numeric address and a port. */
static int parse_listen(const char *listen, char *host, size_t cap, int *port, int *v6,
                        struct mr_error *err)
{
    const char *colon, *h = listen;
    size_t hl;

    if (listen[0] == '[') {
        const char *close = strchr(listen, ']');
        if (close == NULL || close[1] != ':')
            return mr_fail(err, MR_ERR_INVALID, "metrics listen '%s': expected [v6 address]:port",
                           listen);
        h = listen + 1;
        hl = (size_t)(close - h);
        colon = close + 1;
    } else {
        colon = strrchr(listen, ':');
        if (colon == NULL)
            return mr_fail(err, MR_ERR_INVALID, "metrics listen '%s': expected host:port", listen);
        hl = (size_t)(colon - listen);
    }
    char *end;
    long p = strtol(colon + 1, &end, 10);
    if (colon[1] == 0 || *end != 0 || p < 0 || p > 65535)
        return mr_fail(err, MR_ERR_INVALID, "metrics listen '%s': bad port", listen);
    if (hl == 0 || hl >= 256)
        return mr_fail(err, MR_ERR_INVALID, "metrics listen '%s': expected a host", listen);

    char name[256];
    struct addrinfo hints = {0}, *ai = NULL;
    memcpy(name, h, hl);
    name[hl] = 0;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    int rc = getaddrinfo(name, NULL, &hints, &ai);
    if (rc != 0 || ai == NULL)
        return mr_fail(err, MR_ERR_INVALID, "metrics listen '%s': %s", listen,
                       rc ? gai_strerror(rc) : "no address");
    rc = getnameinfo(ai->ai_addr, ai->ai_addrlen, host, (socklen_t)cap, NULL, 0, NI_NUMERICHOST);
    *v6 = ai->ai_family == AF_INET6;
    freeaddrinfo(ai);
    if (rc != 0)
        return mr_fail(err, MR_ERR_INVALID, "metrics listen '%s': %s", listen, gai_strerror(rc));
    *port = (int)p;
    return MR_OK;
}

static void *service_main(void *arg)
{
    struct metrics_server *srv = arg;

    while (!atomic_load(&srv->stop))
        if (lws_service(srv->ctx, 0) < 0)
            break;
    return NULL;
}

int metrics_server_start(const char *listen, metrics_ready_fn ready, void *ctx,
                         struct metrics_server **out, struct mr_error *err)
{
    char host[NI_MAXHOST];
    int port = 0, v6 = 0;
    struct lws_context_creation_info ci;
    struct timespec now;

    int rc = parse_listen(listen, host, sizeof host, &port, &v6, err);
    if (rc != MR_OK)
        return rc;
    struct metrics_server *srv = calloc(1, sizeof *srv);
    if (srv == NULL)
        return mr_fail(err, MR_ERR_NOMEM, "metrics: out of memory");
    srv->ready = ready;
    srv->ready_ctx = ctx;

    lws_set_log_level(LLL_ERR | LLL_WARN, lws_emit);
    memset(&ci, 0, sizeof ci);
    ci.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
    ci.port = CONTEXT_PORT_NO_LISTEN_SERVER;
    ci.gid = -1;
    ci.uid = -1;
    ci.user = srv;
    ci.server_string = "mosaic-relayer";
    srv->ctx = lws_create_context(&ci);
    if (srv->ctx == NULL) {
        free(srv);
        return mr_fail(err, MR_ERR_IO, "metrics: cannot create the HTTP context");
    }
    memset(&ci, 0, sizeof ci);
    ci.vhost_name = "metrics";
    ci.iface = host;
    ci.port = port;
    ci.protocols = protocols;
    ci.keepalive_timeout = 5;
    ci.options = v6 ? LWS_SERVER_OPTION_IPV6_V6ONLY_MODIFY | LWS_SERVER_OPTION_IPV6_V6ONLY_VALUE
                    : LWS_SERVER_OPTION_DISABLE_IPV6;
    srv->vh = lws_create_vhost(srv->ctx, &ci);
    if (srv->vh == NULL || (srv->port = lws_get_vhost_listen_port(srv->vh)) <= 0) {
        lws_context_destroy(srv->ctx);
        free(srv);
        return mr_fail(err, MR_ERR_IO, "metrics: cannot listen on %s (address in use or not local?)",
                       listen);
    }
    if (pthread_create(&srv->thread, NULL, service_main, srv) != 0) {
        lws_context_destroy(srv->ctx);
        free(srv);
        return mr_fail(err, MR_ERR_IO, "metrics: cannot start the listener thread");
    }
    struct metric_series *start = metric_series(MX_PROCESS_START, NULL);
    if (metric_value(start) == 0 && clock_gettime(CLOCK_REALTIME, &now) == 0)
        metric_set(start, (double)now.tv_sec);
    *out = srv;
    return MR_OK;
}

int metrics_server_port(const struct metrics_server *srv)
{
    return srv->port;
}

void metrics_server_stop(struct metrics_server *srv)
{
    if (srv == NULL)
        return;
    atomic_store(&srv->stop, 1);
    lws_cancel_service(srv->ctx);
    pthread_join(srv->thread, NULL);
    lws_context_destroy(srv->ctx);
    free(srv);
}
