/*
 * fetch.c - reading one block range from the node (the last block, the
 * logs, the headers to check them against), and reading the next range in
 * a thread of its own while the current one is written, so that fetching
 * and the database overlap during a backfill.
 *
 * What a prefetch read is only memory: it is used by the next step if it
 * is exactly the range that step wants, and checked against the cursor
 * then like any other read (ingest.c, range_consistent).
 */
#include <stdlib.h>
#include <string.h>

#include "watchers/watch_int.h"

static int log_order(const void *a, const void *b)
{
    const struct eth_log *x = a, *y = b;

    if (x->block_number != y->block_number)
        return x->block_number < y->block_number ? -1 : 1;
    return x->log_index < y->log_index ? -1 : x->log_index > y->log_index;
}

static int u64_order(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

void watch_fetch_free(struct watch_fetch *f)
{
    ethrpc_logs_free(&f->logs);
    free(f->numbers);
    free(f->hdr);
    free(f->found);
    f->numbers = NULL;
    f->hdr = NULL;
    f->found = NULL;
    f->n_hdr = 0;
}

/* Which headers to read: every block of a short range (live following:
 * dense headers for reorg detection), else the first, the last and each
 * block with logs. */
static int pick_headers(struct watch_fetch *f, struct mr_error *err)
{
    uint64_t span = f->to - f->from + 1;
    size_t cap = span <= WATCHER_DENSE_HEADERS ? (size_t)span : f->logs.n + 2, n = 0, k = 0;

    f->numbers = calloc(cap, sizeof(*f->numbers));
    f->hdr = calloc(cap, sizeof(*f->hdr));
    f->found = calloc(cap, sizeof(*f->found));
    if (f->numbers == NULL || f->hdr == NULL || f->found == NULL)
        return mr_fail(err, MR_ERR_NOMEM, "headers: out of memory");
    if (span <= WATCHER_DENSE_HEADERS) {
        for (uint64_t b = f->from; b <= f->to; b++)
            f->numbers[n++] = b;
    } else {
        f->numbers[n++] = f->from;
        for (size_t i = 0; i < f->logs.n; i++)
            f->numbers[n++] = f->logs.v[i].block_number;
        f->numbers[n++] = f->to;
        qsort(f->numbers, n, sizeof(*f->numbers), u64_order);
        for (size_t i = 0; i < n; i++)
            if (k == 0 || f->numbers[k - 1] != f->numbers[i])
                f->numbers[k++] = f->numbers[i];
        n = k;
    }
    f->n_hdr = n;
    return MR_OK;
}

const struct eth_block *watch_fetch_header(const struct watch_fetch *f, uint64_t number)
{
    size_t lo = 0, hi = f->n_hdr;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (f->numbers[mid] == number)
            return f->found[mid] ? &f->hdr[mid] : NULL;
        if (f->numbers[mid] < number)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

int watch_fetch_range(struct rpc_endpoints *rpc, const uint8_t (*addrs)[20], size_t n,
                      uint64_t from, uint64_t to, struct watch_fetch *f, struct mr_error *err)
{
    struct eth_log_filter filt;
    char id[ETHRPC_BLOCK_ID_LEN];
    int rc;

    memset(f, 0, sizeof(*f));
    f->from = from;
    f->to = to;
    /* The last block before the logs, and (with the headers) after them:
     * a reorganisation inside the range while it was read changes it. */
    rc = ethrpc_get_block(rpc, ethrpc_block_id(to, id), &f->last, NULL, err);
    if (rc == MR_ERR_NOTFOUND) {
        f->moved = 1;
        return MR_OK;
    }
    if (rc != MR_OK)
        return rc;
    memset(&filt, 0, sizeof(filt));
    filt.from_block = from;
    filt.to_block = to;
    filt.addresses = addrs;
    filt.n_addresses = n;
    filt.max_logs = 1000000;
    rc = ethrpc_get_logs_stats(rpc, &filt, &f->logs, &f->st, NULL, err);
    if (rc != MR_OK)
        return rc;
    if (f->logs.n > 1) /* qsort(NULL, 0, ...) is undefined behaviour (UBSan) */
        qsort(f->logs.v, f->logs.n, sizeof(f->logs.v[0]), log_order);
    rc = pick_headers(f, err);
    if (rc != MR_OK)
        return rc;
    return watch_fetch_headers(rpc, f->numbers, f->n_hdr, f->hdr, f->found, err);
}

/* ---- the prefetch thread ---- */

static void *prefetch_main(void *arg)
{
    struct watch_prefetch *pf = arg;
    uint64_t from = pf->f.from, to = pf->f.to;

    pf->f.rc = watch_fetch_range(pf->rpc, pf->addresses, pf->n_addresses, from, to, &pf->f,
                                 &pf->f.err);
    return NULL;
}

void watch_prefetch_start(struct watcher *w, uint64_t from, uint64_t to)
{
    struct watch_prefetch *pf = &w->pf;

    if (pf->running || pf->rpc == NULL || from > to)
        return;
    memset(&pf->f, 0, sizeof(pf->f));
    pf->f.from = from;
    pf->f.to = to;
    pf->addresses = (const uint8_t(*)[20])w->addresses;
    pf->n_addresses = w->n_addresses;
    if (pthread_create(&pf->thread, NULL, prefetch_main, pf) == 0)
        pf->running = 1;
}

static void join(struct watch_prefetch *pf)
{
    if (pf->running) {
        pthread_join(pf->thread, NULL);
        pf->running = 0;
    }
}

int watch_prefetch_take(struct watcher *w, uint64_t from, uint64_t max_to, struct watch_fetch *f)
{
    struct watch_prefetch *pf = &w->pf;

    if (!pf->running)
        return 0;
    join(pf);
    if (pf->f.from != from || pf->f.to > max_to) {
        watch_fetch_free(&pf->f);
        return 0;
    }
    *f = pf->f;
    memset(&pf->f, 0, sizeof(pf->f));
    return 1;
}

void watch_prefetch_stop(struct watcher *w)
{
    join(&w->pf);
    watch_fetch_free(&w->pf.f);
}
