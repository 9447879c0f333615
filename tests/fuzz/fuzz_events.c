/*
 * fuzz_events.c - libFuzzer target for the watchers' decoders
 * (watchers/events.c): Mosaic event logs into typed fields, the return data
 * of messages(bytes32), and the declared-intent and Transfer checks.
 *
 * Input: byte 0 picks the topic0 (an entry of the event table, or the raw
 * bytes that follow when it is past the table), byte 1 the number of topics
 * (mod 5; bit 7 set: the last 224 bytes are a messages() return value);
 * then the other topics, 32 bytes each; the rest is the log's data.
 * Decoded events are rendered as JSON, which must parse with one member per
 * parameter; a declaration with a return value that decodes goes through
 * watch_check_intent; the data is also fed to watch_decode_stored_message.
 */
#include <stdint.h>
#include <string.h>

#include <jansson.h>

#include "eth/hex.h"
#include "watchers/events.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t topics[4][32];
    size_t nt, need, ret_len = 0;
    const uint8_t *ret = NULL;
    struct watch_event ev;
    struct watch_stored_message m;
    struct watch_intent in;
    char json[WATCH_FIELDS_MAX];
    const struct watch_kind_info *ki;

    if (size < 2)
        return 0;
    ki = watch_kind_info((enum watch_kind)(data[0] % (WATCH_KIND_COUNT + 1)));
    nt = (data[1] & 0x7f) % 5;
    if ((data[1] & 0x80) && size >= 2 + 224) {
        ret = data + size - 224;
        ret_len = 224;
        size -= 224;
    }
    data += 2;
    size -= 2;
    memset(topics, 0, sizeof(topics));
    need = nt == 0 ? 0 : (ki != NULL ? nt - 1 : nt) * 32;
    if (size < need)
        return 0;
    for (size_t i = 0; i < nt; i++) {
        if (i == 0 && ki != NULL) {
            (void)hex_decode_fixed(ki->topic0, 66, topics[0], 32, NULL);
            continue;
        }
        memcpy(topics[i], data, 32);
        data += 32;
        size -= 32;
    }
    if (watch_decode_log((const uint8_t(*)[32])topics, nt, size ? data : NULL, size, &ev, NULL) ==
        MR_OK) {
        size_t n = watch_fields_json(&ev, json, sizeof(json));
        json_t *j = json_loads(json, 0, NULL);
        if (n == 0 || j == NULL || json_object_size(j) != ev.info->n_params)
            __builtin_trap();
        json_decref(j);
        if (watch_event_intent(&ev, &in, NULL) == MR_OK && ret != NULL &&
            watch_decode_stored_message(ret, ret_len, &m, NULL) == MR_OK)
            (void)watch_check_intent(&in, &m, topics[0] + 12, NULL);
    }
    (void)watch_decode_stored_message(size ? data : NULL, size, &m, NULL);
    return 0;
}
