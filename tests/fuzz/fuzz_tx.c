/*
 * fuzz_tx.c - libFuzzer target for tx_decode.
 *
 * Any input tx_decode accepts must re-encode to exactly the same bytes
 * (decoding is canonical, so the wire form is unique); then validation,
 * intrinsic gas and sender recovery run under the oldest and newest rules
 * and must not crash, whatever they answer.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "eth/tx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* One context for the whole run (fixed seed: blinding is not under test). */
static secp256k1_context *fuzz_ctx;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint8_t seed[32] = {1};
    static const char *const forks[] = {"Frontier", "Cancun"};
    struct tx tx;
    struct tx_rules rules;
    struct mr_error err;
    uint8_t *out, addr[20], hash[32];
    size_t len;
    uint64_t gas;

    if (fuzz_ctx == NULL && (fuzz_ctx = key_ctx_create(seed)) == NULL)
        abort();
    if (tx_decode(data, size, &tx, &err) != MR_OK)
        return 0;
    if (tx_encode(&tx, NULL, 0, &len, NULL) != MR_ERR_TOOBIG || len != size)
        abort();
    out = malloc(size);
    if (out == NULL)
        return 0;
    if (tx_encode(&tx, out, size, &len, &err) != MR_OK || len != size ||
        memcmp(out, data, size) != 0)
        abort();
    free(out);
    tx_signing_hash(&tx, hash);
    for (size_t i = 0; i < sizeof(forks) / sizeof(forks[0]); i++) {
        if (tx_rules_fork(&rules, forks[i], 1) != MR_OK)
            abort();
        (void)tx_intrinsic_gas(&tx, &rules, &gas, &err);
        (void)tx_validate(&tx, &rules, &err);
        (void)tx_sender(fuzz_ctx, &tx, &rules, addr, &err);
    }
    return 0;
}
