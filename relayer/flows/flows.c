/*
 * flows.c - the flows' context and the queue handler that dispatches the
 * two job kinds.
 */
#include "relayer/flows/flows_int.h"

#include <stdarg.h>
#include <string.h>

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
    (void)flow_proof_cache_init(ctx); /* none: every proof is fetched on its own */
}

void flow_ctx_destroy(struct flow_ctx *ctx)
{
    flow_proof_cache_free(ctx);
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
