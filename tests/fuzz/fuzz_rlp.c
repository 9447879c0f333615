/*
 * fuzz_rlp.c - libFuzzer target for the RLP decoder.
 *
 * Any input that decodes must re-encode to exactly the same bytes (the
 * decoder accepts canonical RLP only), and the integer readers must agree
 * with the canonical-integer rule.  Anything else is a bug: abort().
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "eth/rlp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void reencode(struct rlp_enc *e, const struct rlp_item *it, size_t depth)
{
    if (depth > RLP_MAX_DEPTH)
        abort();
    if (it->is_list) {
        struct rlp_iter iter;
        struct rlp_item child;
        size_t mark = rlp_enc_list_begin(e);
        int rc;
        rlp_iter_init(&iter, it);
        while ((rc = rlp_iter_next(&iter, &child, NULL)) == 1)
            reencode(e, &child, depth + 1);
        if (rc != 0)
            abort(); /* validated input must iterate cleanly */
        rlp_enc_list_end(e, mark);
    } else {
        uint64_t v;
        struct u256 w;
        rlp_enc_bytes(e, it->payload, it->payload_len);
        /* Canonical-integer rule: no leading zero byte, width bound. */
        int ok64 = rlp_get_u64(it, &v, NULL) == MR_OK;
        int want64 = it->payload_len <= 8 && (it->payload_len == 0 || it->payload[0] != 0);
        int ok256 = rlp_get_u256(it, &w, NULL) == MR_OK;
        int want256 = it->payload_len <= 32 && (it->payload_len == 0 || it->payload[0] != 0);
        if (ok64 != want64 || ok256 != want256)
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct rlp_item it;
    struct rlp_enc e;
    uint8_t *out;
    size_t len;

    if (rlp_decode(data, size, RLP_MAX_DEPTH, &it, NULL) != MR_OK)
        return 0;
    out = malloc(size ? size : 1);
    if (out == NULL)
        return 0;
    rlp_enc_init(&e, out, size);
    reencode(&e, &it, 0);
    if (rlp_enc_finish(&e, &len) != MR_OK || len != size || memcmp(out, data, size) != 0)
        abort();
    free(out);
    return 0;
}
