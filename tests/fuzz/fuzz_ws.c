/*
 * fuzz_ws.c - the newHeads subscription's message handling (chain/ws.c):
 * what a WebSocket node sends, one message at a time, through on_message()
 * on a subscription that is not connected to anything.
 *
 * Input: messages separated by 0xff bytes (never part of UTF-8 text), each
 * handled in turn by the same subscription, as frames of one connection.
 * Properties: every message is counted exactly once (the subscription
 * answer, a head, or a bad message); a head reaches on_head only after the
 * subscription was answered and only with its id; the subscription id is
 * NUL-terminated and never changes once set; a refusal asks for the
 * connection to close.
 *
 * chain/ws.c's message handling is static: this file includes it, and its
 * definitions take the place of the archive's ws.o in this program.
 */
#include "chain/ws.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t heads_seen;

static void on_head(void *arg, const struct eth_block *b)
{
    struct ws_sub *w = arg;

    if (w->sub_id[0] == '\0' || b == NULL)
        abort();
    heads_seen++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char msg[WS_MAX_MESSAGE];
    struct ws_sub w;
    size_t n_msgs = 0, answers = 0;
    char id[sizeof(w.sub_id)];

    memset(&w, 0, sizeof(w));
    pthread_mutex_init(&w.mu, NULL);
    w.msg = msg;
    w.on_head = on_head;
    w.arg = &w;
    w.backoff_ms = 400;
    heads_seen = 0;
    while (size > 0 && !w.close_now) {
        const uint8_t *end = memchr(data, 0xff, size);
        size_t len = end != NULL ? (size_t)(end - data) : size;
        int had_id = w.sub_id[0] != '\0';

        memcpy(id, w.sub_id, sizeof(id));
        memcpy(w.msg, data, len);
        w.msg_len = len;
        on_message(&w);
        n_msgs++;
        if (memchr(w.sub_id, '\0', sizeof(w.sub_id)) == NULL)
            abort();
        if (had_id && strcmp(id, w.sub_id) != 0)
            abort();
        if (!had_id && w.sub_id[0] != '\0') {
            answers++;
            if (!w.st.subscribed || w.backoff_ms != WS_BACKOFF_MIN_MS)
                abort();
        }
        if (w.close_now && (had_id || w.sub_id[0] != '\0'))
            abort();
        data += len;
        size -= len;
        if (size > 0) { /* the separator */
            data++;
            size--;
        }
    }
    if (w.st.heads != heads_seen || answers > 1 ||
        w.st.heads + w.st.bad_messages + answers != n_msgs) {
        fprintf(stderr, "messages %zu: heads %llu (on_head %llu), bad %llu, answers %zu\n", n_msgs,
                (unsigned long long)w.st.heads, (unsigned long long)heads_seen,
                (unsigned long long)w.st.bad_messages, answers);
        abort();
    }
    pthread_mutex_destroy(&w.mu);
    return 0;
}
