/*
 * fuzz_dbrow.c - the decoders of database text: what PQgetvalue() hands
 * back is input too (another writer, a restored dump, a DBA's settings).
 *
 * Input: byte 0 selects, the rest (up to its first NUL, as PQgetvalue
 * gives it) is the column text.
 *   0  bytea "\x..." into 32 bytes, and into a buffer of strlen / 2 bytes
 *      (db/txstore.c bytea_parse, as txs_load_pending uses it)
 *   1  the concatenated attempt hashes of txs_load_pending (parse_hashes)
 *   2  bytea "\x..." of exactly 20 and 32 bytes (flow_bytea_parse)
 *   3  plain hex of 32 bytes (watch_unhex, the watchers' encode(.., 'hex'))
 *   4  the args of a `msg` job (relayer/flows/msg.c parse_args)
 *   5  the args of an `anchor` job (relayer/flows/anchor.c parse)
 * Properties: a decoder either refuses or returns exactly the bytes whose
 * lower-case hex is the text (so encoding them again gives the text back
 * modulo case); nothing is read or written past the buffers (ASan).
 *
 * The decoders of db/txstore.c and the job-args parsers are static: this
 * file includes their sources, whose definitions take the place of the
 * archive's objects in this program.
 */
#include "db/txstore.c"
#include "relayer/flows/anchor.c"
#include "relayer/flows/msg.c"
#include "watchers/watch_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Whether text is the hex of b[n], in either case. */
static int is_hex_of(const char *text, const uint8_t *b, size_t n)
{
    static const char hx[] = "0123456789abcdef";

    if (strlen(text) != 2 * n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((text[2 * i] | 0x20) != hx[b[i] >> 4] || (text[2 * i + 1] | 0x20) != hx[b[i] & 15])
            return 0;
    return 1;
}

static void fuzz_bytea(const char *s)
{
    uint8_t h[32], *buf;
    size_t cap = strlen(s) / 2;
    long n;

    n = bytea_parse(s, h, 32);
    if (n >= 0 && (n > 32 || !is_hex_of(s + 2, h, (size_t)n)))
        abort();
    if ((buf = malloc(cap ? cap : 1)) == NULL)
        abort();
    n = bytea_parse(s, buf, cap);
    if (n >= 0 && ((size_t)n > cap || !is_hex_of(s + 2, buf, (size_t)n)))
        abort();
    free(buf);
}

static void fuzz_hashes(const char *s)
{
    struct txs_pending p;

    memset(&p, 0, sizeof(p));
    if (parse_hashes(s, &p) == 0) {
        if (p.n_hashes != strlen(s) / 64)
            abort();
        for (size_t i = 0; i < p.n_hashes; i++) {
            char one[65];
            memcpy(one, s + 64 * i, 64);
            one[64] = '\0';
            if (!is_hex_of(one, p.hashes[i], 32))
                abort();
        }
    }
    free(p.hashes);
}

static void fuzz_fixed(const char *s)
{
    uint8_t a[20], h[32];

    if (flow_bytea_parse(s, a, 20) == MR_OK && !is_hex_of(s + 2, a, 20))
        abort();
    if (flow_bytea_parse(s, h, 32) == MR_OK && !is_hex_of(s + 2, h, 32))
        abort();
}

static void fuzz_unhex(const char *s)
{
    uint8_t h[32];

    if (watch_unhex(s, h, 32) == MR_OK && !is_hex_of(s, h, 32))
        abort();
}

static void fuzz_msg_args(const char *s)
{
    struct queue_job job;
    struct run r;
    struct mr_error err;

    memset(&job, 0, sizeof(job));
    memset(&r, 0, sizeof(r));
    job.args = (char *)(uintptr_t)s;
    r.job = &job;
    err.msg[0] = '\0';
    if (parse_args(&r, &err) == MR_OK) {
        if (strlen(r.mh_hex) != 66 || r.waits < 0 || r.waits >= 64)
            abort();
    } else if (err.msg[0] == '\0') {
        abort();
    }
}

static void fuzz_anchor_args(const char *s)
{
    static struct config cfg;
    static struct flow_ctx ctx;
    struct mr_error err;
    int chain, remote;

    if (cfg.n_chains == 0) {
        snprintf(cfg.chains[0].key, sizeof(cfg.chains[0].key), "origin");
        snprintf(cfg.chains[1].key, sizeof(cfg.chains[1].key), "aux");
        snprintf(cfg.chains[2].key, sizeof(cfg.chains[2].key), "aux2");
        cfg.n_chains = 3;
        ctx.cfg = &cfg;
    }
    err.msg[0] = '\0';
    if (parse(&ctx, s, &chain, &remote, &err) == MR_OK) {
        if (chain < 0 || remote < 0 || chain >= 3 || remote >= 3 || chain == remote)
            abort();
    } else if (err.msg[0] == '\0') {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s;

    if (size == 0)
        return 0;
    /* A column's text: NUL-terminated, without NULs. */
    if ((s = malloc(size)) == NULL)
        abort();
    memcpy(s, data + 1, size - 1);
    s[size - 1] = '\0';
    switch (data[0] % 6) {
    case 0:
        fuzz_bytea(s);
        break;
    case 1:
        fuzz_hashes(s);
        break;
    case 2:
        fuzz_fixed(s);
        break;
    case 3:
        fuzz_unhex(s);
        break;
    case 4:
        fuzz_msg_args(s);
        break;
    default:
        fuzz_anchor_args(s);
        break;
    }
    free(s);
    return 0;
}
