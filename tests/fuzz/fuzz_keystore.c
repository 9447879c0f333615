/*
 * fuzz_keystore.c - arbitrary bytes as a keystore JSON document through
 * keyfile_parse() and keystore_check(), with properties:
 *   - every refusal comes with a detail message;
 *   - keyfile_format() then keyfile_parse() gives back the same values;
 *   - when the KDF is cheap (limits far below production, so every input
 *     runs in microseconds) decryption ends in MR_OK or MR_ERR_MAC, and
 *     re-encrypting the ciphertext bytes as a key under the same parameters
 *     decrypts back to them.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "eth/keystore.h"
#include "relayer/keyfile.h"

static const struct keystore_limits fuzz_limits = {
    .scrypt_max_mem = 1 << 20, /* 1 MiB */
    .scrypt_max_p = 4,
    .scrypt_max_work = 256,    /* N*r*p: e.g. N=16 with r=8 */
    .pbkdf2_max_c = 16,
};

static void check_roundtrip(const struct keyfile *kf)
{
    struct keyfile back;
    char *text = keyfile_format(kf);

    if (text == NULL)
        abort();
    if (keyfile_parse(text, strlen(text), "fuzz", &back, NULL) != MR_OK ||
        memcmp(kf, &back, sizeof(back)) != 0)
        abort();
    free(text);
}

static void check_crypto(const struct keystore_params *ks)
{
    static const uint8_t pw[] = "fuzz";
    struct keystore_params again;
    uint8_t out[KEYSTORE_CIPHERTEXT_MAX];
    size_t n = 0;
    int rc = keystore_decrypt(ks, &fuzz_limits, pw, 4, out, sizeof(out), &n, NULL);

    if (rc != MR_OK && rc != MR_ERR_MAC)
        abort();
    if (keystore_encrypt(ks->ciphertext, ks->ciphertext_len, pw, 4, &ks->kdf, ks->iv,
                         &fuzz_limits, &again, NULL) != MR_OK)
        abort();
    if (keystore_decrypt(&again, &fuzz_limits, pw, 4, out, sizeof(out), &n, NULL) != MR_OK ||
        n != ks->ciphertext_len || memcmp(out, ks->ciphertext, n) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct keyfile kf;
    struct mr_error err;

    err.msg[0] = '\0';
    if (keyfile_parse((const char *)data, size, "fuzz", &kf, &err) != MR_OK) {
        if (err.msg[0] == '\0')
            abort();
        return 0;
    }
    check_roundtrip(&kf);
    err.msg[0] = '\0';
    if (keystore_check(&kf.ks, &keystore_limits_default, &err) != MR_OK && err.msg[0] == '\0')
        abort();
    if (keystore_check(&kf.ks, &fuzz_limits, NULL) == MR_OK)
        check_crypto(&kf.ks);
    return 0;
}
