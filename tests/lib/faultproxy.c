/*
 * faultproxy.c - see faultproxy.h.  One thread accepts, one thread per
 * client connection (clients keep connections alive), libcurl upstream.
 */
#define _GNU_SOURCE 1 /* memmem, strcasestr */
#include "faultproxy.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define FP_MAX_RULES 16
#define FP_MAX_BODY (8 * 1024 * 1024)

struct rule {
    char method[64];
    enum fp_action action;
    int param, times;
    char from[256], to[256];
    char match[128];             /* only requests whose body contains it ("": all) */
};

struct counter {
    char method[64];
    int n;
};

struct fproxy {
    char upstream[256];
    char url[64];
    int lfd;
    pthread_t acceptor;
    pthread_mutex_t mu;
    struct rule rules[FP_MAX_RULES];
    int nrules;
    struct counter counts[64];
    int ncounts;
    volatile int stopping;
    int fds[64];                 /* live client connections */
    int nlive;
};

struct buf {
    char *p;
    size_t n;
};

static size_t collect(char *data, size_t size, size_t nmemb, void *arg)
{
    struct buf *b = arg;
    size_t len = size * nmemb;
    char *np;

    if (b->n + len > FP_MAX_BODY)
        return 0;
    np = realloc(b->p, b->n + len + 1);
    if (np == NULL)
        return 0;
    memcpy(np + b->n, data, len);
    b->p = np;
    b->n += len;
    b->p[b->n] = '\0';
    return len;
}

/* Forwards body to the upstream; returns the reply (malloc'd) or NULL. */
static char *forward(struct fproxy *p, const char *body, size_t len, size_t *outlen)
{
    CURL *c = curl_easy_init();
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    struct buf b = {NULL, 0};
    CURLcode rc;

    curl_easy_setopt(c, CURLOPT_URL, p->upstream);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)len);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    rc = curl_easy_perform(c);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    if (rc != CURLE_OK) {
        free(b.p);
        return NULL;
    }
    *outlen = b.n;
    return b.p != NULL ? b.p : strdup("");
}

/* Counts one request of method; the caller holds p->mu. */
static void count_locked(struct fproxy *p, const char *method)
{
    for (int i = 0; i < p->ncounts + 1 && i < 64; i++) {
        if (i == p->ncounts) {
            snprintf(p->counts[i].method, sizeof(p->counts[i].method), "%s", method);
            p->counts[i].n = 1;
            p->ncounts++;
            break;
        }
        if (strcmp(p->counts[i].method, method) == 0) {
            p->counts[i].n++;
            break;
        }
    }
}

/* The rule for method (consuming one use), copied out; FP_PASS if none. */
static struct rule pick(struct fproxy *p, const char *method, const char *body)
{
    struct rule r;

    memset(&r, 0, sizeof(r));
    pthread_mutex_lock(&p->mu);
    count_locked(p, method);
    for (int i = 0; i < p->nrules; i++) {
        struct rule *q = &p->rules[i];
        if ((strcmp(q->method, method) == 0 || strcmp(q->method, "*") == 0) && q->times >= 0 &&
            (q->match[0] == '\0' || strstr(body, q->match) != NULL)) {
            r = *q;
            if (q->times > 0 && --q->times == 0)
                q->times = -1; /* used up */
            break;
        }
    }
    pthread_mutex_unlock(&p->mu);
    return r;
}

/* Whether the JSON-RPC answer body[len] has a result array longer than max. */
static int too_many(const char *body, size_t len, int max)
{
    json_t *v = json_loadb(body, len, 0, NULL);
    json_t *res = json_is_object(v) ? json_object_get(v, "result") : NULL;
    int over = json_is_array(res) && json_array_size(res) > (size_t)max;

    json_decref(v);
    return over;
}

/* The eth_blockNumber answer v (an object of reply) made `lag` lower. */
static void lag_one(json_t *v, int lag)
{
    json_t *res = json_object_get(v, "result");
    const char *h = json_string_value(res);
    unsigned long long n;
    char out[32];

    if (h == NULL || strncmp(h, "0x", 2) != 0)
        return;
    n = strtoull(h + 2, NULL, 16);
    n = n > (unsigned long long)lag ? n - (unsigned long long)lag : 0;
    snprintf(out, sizeof(out), "0x%llx", n);
    json_object_set_new(v, "result", json_string(out));
}

/* FP_LAG_HEAD: the reply out[olen] to req with every eth_blockNumber
 * result lowered by lag; a new body (malloc'd) or NULL to keep out. */
static char *lag_head(json_t *req, const char *out, size_t olen, int lag, size_t *nlen)
{
    json_t *rep = json_loadb(out, olen, 0, NULL);
    char *body = NULL;
    int hit = 0;

    if (json_is_object(req) && json_is_object(rep)) {
        const char *m = json_string_value(json_object_get(req, "method"));
        if (m != NULL && strcmp(m, "eth_blockNumber") == 0) {
            lag_one(rep, lag);
            hit = 1;
        }
    } else if (json_is_array(req) && json_is_array(rep)) {
        size_t i, j;
        json_t *q, *a;
        json_array_foreach(req, i, q) {
            const char *m = json_string_value(json_object_get(q, "method"));
            json_t *id = json_object_get(q, "id");
            if (m == NULL || strcmp(m, "eth_blockNumber") != 0 || id == NULL)
                continue;
            json_array_foreach(rep, j, a) {
                if (json_equal(json_object_get(a, "id"), id)) {
                    lag_one(a, lag);
                    hit = 1;
                }
            }
        }
    }
    if (hit)
        body = json_dumps(rep, JSON_COMPACT);
    json_decref(rep);
    if (body != NULL)
        *nlen = strlen(body);
    return body;
}

static int send_all(int fd, const char *s, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, s, n, MSG_NOSIGNAL);
        if (w <= 0)
            return -1;
        s += w;
        n -= (size_t)w;
    }
    return 0;
}

static int reply(int fd, int status, const char *body, size_t len, size_t declared)
{
    char head[256];
    int n = snprintf(head, sizeof(head),
                     "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                     "%sConnection: keep-alive\r\n\r\n",
                     status, status == 200 ? "OK" : "Error", declared,
                     status == 429 ? "Retry-After: 1\r\n" : "");

    if (send_all(fd, head, (size_t)n) != 0)
        return -1;
    return send_all(fd, body, len);
}

/* Reads one HTTP request; returns its body (malloc'd) or NULL at EOF. */
static char *read_request(int fd, char *pending, size_t *npending, size_t *blen)
{
    for (;;) {
        char *end = memmem(pending, *npending, "\r\n\r\n", 4);
        if (end != NULL) {
            size_t hlen = (size_t)(end - pending) + 4, clen = 0;
            const char *cl = strcasestr(pending, "Content-Length:");
            if (cl != NULL && cl < end)
                clen = strtoul(cl + 15, NULL, 10);
            if (clen > FP_MAX_BODY)
                return NULL;
            if (*npending >= hlen + clen) {
                char *body = malloc(clen + 1);
                if (body == NULL)
                    return NULL;
                memcpy(body, pending + hlen, clen);
                body[clen] = '\0';
                memmove(pending, pending + hlen + clen, *npending - hlen - clen);
                *npending -= hlen + clen;
                *blen = clen;
                return body;
            }
        }
        if (*npending >= FP_MAX_BODY)
            return NULL;
        {
            ssize_t r = recv(fd, pending + *npending, FP_MAX_BODY - *npending, 0);
            if (r <= 0)
                return NULL;
            *npending += (size_t)r;
            pending[*npending] = '\0';
        }
    }
}

struct conn_arg {
    struct fproxy *p;
    int fd;
};

static void *serve(void *arg)
{
    struct conn_arg *ca = arg;
    struct fproxy *p = ca->p;
    int fd = ca->fd;
    char *pending = malloc(FP_MAX_BODY + 1);
    size_t npending = 0, blen;
    char *body;

    free(ca);
    while (pending != NULL && (body = read_request(fd, pending, &npending, &blen)) != NULL) {
        json_t *req = json_loadb(body, blen, 0, NULL);
        const char *m = json_is_object(req) ? json_string_value(json_object_get(req, "method")) : NULL;
        struct rule r = pick(p, m != NULL ? m : "(batch)", body);
        char *out = NULL;
        size_t olen = 0;
        int ok = 0;

        if (r.action == FP_DELAY)
            usleep((useconds_t)r.param * 1000);
        if (r.action == FP_STATUS) {
            static const char e[] = "{\"error\":\"injected\"}";
            ok = reply(fd, r.param, e, sizeof(e) - 1, sizeof(e) - 1) == 0;
        } else if (r.action == FP_NODE_ERROR) {
            json_t *id = json_is_object(req) ? json_object_get(req, "id") : NULL;
            json_t *ans = json_pack("{s:s, s:O, s:{s:i, s:s}}", "jsonrpc", "2.0", "id",
                                    id != NULL ? id : json_null(), "error", "code", r.param,
                                    "message", r.to);
            char *txt = ans != NULL ? json_dumps(ans, JSON_COMPACT) : NULL;
            pthread_mutex_lock(&p->mu);
            count_locked(p, "(node error)");
            pthread_mutex_unlock(&p->mu);
            ok = txt != NULL && reply(fd, 200, txt, strlen(txt), strlen(txt)) == 0;
            free(txt);
            json_decref(ans);
        } else {
            out = forward(p, body, blen, &olen);
            if (out == NULL) {
                static const char e[] = "upstream unavailable";
                ok = reply(fd, 502, e, sizeof(e) - 1, sizeof(e) - 1) == 0;
            } else if (r.action == FP_DROP_REPLY) {
                ok = 0;
            } else if (r.action == FP_TRUNCATE) {
                ok = reply(fd, 200, out, olen / 2, olen / 2) == 0;
            } else if (r.action == FP_NULL_RESULT) {
                json_t *id = json_is_object(req) ? json_object_get(req, "id") : NULL;
                char *idtxt = id != NULL ? json_dumps(id, JSON_ENCODE_ANY) : strdup("null");
                char nb[128];
                int n = snprintf(nb, sizeof(nb), "{\"jsonrpc\":\"2.0\",\"id\":%s,\"result\":null}",
                                 idtxt != NULL ? idtxt : "null");
                free(idtxt);
                ok = reply(fd, 200, nb, (size_t)n, (size_t)n) == 0;
            } else if (r.action == FP_LOG_LIMIT && too_many(out, olen, r.param)) {
                json_t *id = json_is_object(req) ? json_object_get(req, "id") : NULL;
                char *idtxt = id != NULL ? json_dumps(id, JSON_ENCODE_ANY) : strdup("null");
                char nb[256];
                int n = snprintf(nb, sizeof(nb),
                                 "{\"jsonrpc\":\"2.0\",\"id\":%s,\"error\":{\"code\":-32005,"
                                 "\"message\":\"query returned more than %d results\"}}",
                                 idtxt != NULL ? idtxt : "null", r.param);
                free(idtxt);
                pthread_mutex_lock(&p->mu);
                count_locked(p, "(refused)");
                pthread_mutex_unlock(&p->mu);
                ok = reply(fd, 200, nb, (size_t)n, (size_t)n) == 0;
            } else if (r.action == FP_LAG_HEAD) {
                size_t nlen = 0;
                char *nb = lag_head(req, out, olen, r.param, &nlen);
                ok = nb != NULL ? reply(fd, 200, nb, nlen, nlen) == 0
                                : reply(fd, 200, out, olen, olen) == 0;
                free(nb);
            } else if (r.action == FP_REWRITE && r.from[0] != '\0') {
                char *hit = strstr(out, r.from);
                if (hit != NULL && strlen(r.from) == strlen(r.to))
                    memcpy(hit, r.to, strlen(r.to));
                ok = reply(fd, 200, out, olen, olen) == 0;
            } else {
                ok = reply(fd, 200, out, olen, olen) == 0;
            }
        }
        json_decref(req);
        free(out);
        free(body);
        if (!ok)
            break;
    }
    free(pending);
    pthread_mutex_lock(&p->mu);
    for (int i = 0; i < p->nlive; i++) {
        if (p->fds[i] == fd) {
            p->fds[i] = p->fds[--p->nlive];
            break;
        }
    }
    close(fd);
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

static void *acceptor(void *arg)
{
    struct fproxy *p = arg;

    while (!p->stopping) {
        int fd = accept(p->lfd, NULL, NULL);
        struct conn_arg *ca;
        pthread_t t;
        if (fd < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        ca = malloc(sizeof(*ca));
        if (ca == NULL) {
            close(fd);
            continue;
        }
        ca->p = p;
        ca->fd = fd;
        pthread_mutex_lock(&p->mu);
        if (p->nlive == 64) {
            pthread_mutex_unlock(&p->mu);
            close(fd);
            free(ca);
            continue;
        }
        p->fds[p->nlive++] = fd;
        pthread_mutex_unlock(&p->mu);
        if (pthread_create(&t, NULL, serve, ca) != 0) {
            pthread_mutex_lock(&p->mu);
            p->nlive--;
            pthread_mutex_unlock(&p->mu);
            close(fd);
            free(ca);
            continue;
        }
        pthread_detach(t);
    }
    return NULL;
}

struct fproxy *fproxy_start(const char *upstream_url)
{
    struct fproxy *p = calloc(1, sizeof(*p));
    struct sockaddr_in a;
    socklen_t alen = sizeof(a);
    int one = 1;

    if (p == NULL)
        return NULL;
    snprintf(p->upstream, sizeof(p->upstream), "%s", upstream_url);
    pthread_mutex_init(&p->mu, NULL);
    p->lfd = socket(AF_INET, SOCK_STREAM, 0);
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(p->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (p->lfd < 0 || bind(p->lfd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        listen(p->lfd, 64) != 0 || getsockname(p->lfd, (struct sockaddr *)&a, &alen) != 0) {
        if (p->lfd >= 0)
            close(p->lfd);
        free(p);
        return NULL;
    }
    snprintf(p->url, sizeof(p->url), "http://127.0.0.1:%d", ntohs(a.sin_port));
    if (pthread_create(&p->acceptor, NULL, acceptor, p) != 0) {
        close(p->lfd);
        free(p);
        return NULL;
    }
    return p;
}

const char *fproxy_url(const struct fproxy *p)
{
    return p->url;
}

void fproxy_rule(struct fproxy *p, const char *method, enum fp_action action, int param,
                 int times, const char *from, const char *to)
{
    fproxy_rule_if(p, method, NULL, action, param, times, from, to);
}

void fproxy_node_error(struct fproxy *p, const char *method, const char *match, int code,
                       const char *message, int times)
{
    fproxy_rule_if(p, method, match, FP_NODE_ERROR, code, times, NULL, message);
}

void fproxy_rule_if(struct fproxy *p, const char *method, const char *match,
                    enum fp_action action, int param, int times, const char *from,
                    const char *to)
{
    pthread_mutex_lock(&p->mu);
    if (p->nrules < FP_MAX_RULES) {
        struct rule *r = &p->rules[p->nrules++];
        memset(r, 0, sizeof(*r));
        snprintf(r->method, sizeof(r->method), "%s", method);
        r->action = action;
        r->param = param;
        r->times = times;
        snprintf(r->from, sizeof(r->from), "%s", from != NULL ? from : "");
        snprintf(r->to, sizeof(r->to), "%s", to != NULL ? to : "");
        snprintf(r->match, sizeof(r->match), "%s", match != NULL ? match : "");
    }
    pthread_mutex_unlock(&p->mu);
}

void fproxy_clear(struct fproxy *p)
{
    pthread_mutex_lock(&p->mu);
    p->nrules = 0;
    pthread_mutex_unlock(&p->mu);
}

int fproxy_count(struct fproxy *p, const char *method)
{
    int n = 0;

    pthread_mutex_lock(&p->mu);
    for (int i = 0; i < p->ncounts; i++) {
        if (strcmp(method, "*") == 0 || strcmp(p->counts[i].method, method) == 0)
            n += p->counts[i].n;
    }
    pthread_mutex_unlock(&p->mu);
    return n;
}

void fproxy_stop(struct fproxy *p)
{
    if (p == NULL)
        return;
    p->stopping = 1;
    shutdown(p->lfd, SHUT_RDWR);
    close(p->lfd);
    pthread_join(p->acceptor, NULL);
    /* Wake the connection threads (recv returns 0) and wait for them. */
    for (int tries = 0; tries < 500; tries++) {
        int live;
        pthread_mutex_lock(&p->mu);
        for (int i = 0; i < p->nlive; i++)
            shutdown(p->fds[i], SHUT_RDWR);
        live = p->nlive;
        pthread_mutex_unlock(&p->mu);
        if (live == 0)
            break;
        usleep(10000);
    }
    pthread_mutex_destroy(&p->mu);
    free(p);
}
