/*
 * flows.c - the flows' context, the queue handler that dispatches the two
 * job kinds, and logging.
 */
#include "relayer/flows/flows_int.h"

#include <stdarg.h>
#include <string.h>
#include <time.h>

static uint64_t next_gen = 1;
static pthread_mutex_t gen_mu = PTHREAD_MUTEX_INITIALIZER;

void flow_ctx_init(struct flow_ctx *ctx, const struct config *cfg, const uint8_t facilitator[20],
                   int has_anchorer, const uint8_t anchorer[20])
{
    memset(ctx, 0, sizeof(*ctx));
    ctx->cfg = cfg;
    memcpy(ctx->facilitator, facilitator, 20);
    ctx->has_anchorer = has_anchorer;
    if (has_anchorer)
        memcpy(ctx->anchorer, anchorer, 20);
    pthread_mutex_init(&ctx->mu, NULL);
    pthread_mutex_lock(&gen_mu);
    ctx->gen = next_gen++;
    pthread_mutex_unlock(&gen_mu);
}

void flow_ctx_destroy(struct flow_ctx *ctx)
{
    pthread_mutex_destroy(&ctx->mu);
}

enum queue_outcome flow_handle(void *arg, PGconn *conn, const struct queue_job *job, char *errmsg,
                               size_t errcap)
{
    struct flow_ctx *ctx = arg;

    if (strcmp(job->kind, FLOW_JOB_MSG) == 0)
        return flow_msg_run(ctx, conn, job, errmsg, errcap);
    if (strcmp(job->kind, FLOW_JOB_ANCHOR) == 0)
        return flow_anchor_run(ctx, conn, job, errmsg, errcap);
    snprintf(errmsg, errcap, "unknown job kind '%s'", job->kind);
    return QUEUE_CANCEL;
}

enum flow_res flow_waitf(struct mr_error *err, const char *fmt, ...)
{
    char buf[MR_ERROR_MSG_LEN];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    mr_fail(err, MR_ERR_NOTFOUND, "%s", buf);
    return FLOW_R_WAIT;
}

void flow_log(const struct flow_ctx *ctx, const char *fmt, ...)
{
    char line[512];
    struct timespec ts;
    struct tm tm;
    va_list ap;

    if (ctx->log == NULL)
        return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    fprintf(ctx->log, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ flows: %s\n", tm.tm_year + 1900,
            tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000,
            line);
    fflush(ctx->log);
}
