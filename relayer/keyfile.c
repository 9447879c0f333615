/*
 * keyfile.c - Web3 Secret Storage v3 files (see keyfile.h).
 */
#include "relayer/keyfile.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "eth/hex.h"
#include "eth/key.h"
#include "relayer/sysrand.h"

/* ---- reading the JSON ---- */

/* Where we are while parsing: the file's name, the parent object's path
 * ("crypto.kdfparams") and the error record. */
struct jctx {
    const char *name;
    const char *path;
    struct mr_error *err;
};

/* Looks up parent.key; MR_ERR_JSON naming the field when it is missing. */
static int jget(const struct jctx *c, json_t *parent, const char *key, json_t **out)
{
    *out = json_object_get(parent, key);
    if (*out == NULL)
        return mr_fail(c->err, MR_ERR_JSON, "%s: %s%s%s is missing", c->name, c->path,
                       c->path[0] ? "." : "", key);
    return MR_OK;
}

static int jtype_error(const struct jctx *c, const char *key, const char *what)
{
    return mr_fail(c->err, MR_ERR_JSON, "%s: %s%s%s must be %s", c->name, c->path,
                   c->path[0] ? "." : "", key, what);
}

static int jobject(const struct jctx *c, json_t *parent, const char *key, json_t **out)
{
    int rc = jget(c, parent, key, out);

    if (rc == MR_OK && !json_is_object(*out))
        rc = jtype_error(c, key, "an object");
    return rc;
}

static int jstring(const struct jctx *c, json_t *parent, const char *key, const char **out,
                   size_t *len)
{
    json_t *v;
    int rc = jget(c, parent, key, &v);

    if (rc != MR_OK)
        return rc;
    if (!json_is_string(v))
        return jtype_error(c, key, "a string");
    *out = json_string_value(v);
    *len = json_string_length(v);
    return MR_OK;
}

/* A string member that must equal `want` exactly; `code` if it does not. */
static int jexpect(const struct jctx *c, json_t *parent, const char *key, const char *want,
                   int code)
{
    const char *s;
    size_t len;
    int rc = jstring(c, parent, key, &s, &len);

    if (rc == MR_OK && (len != strlen(want) || memcmp(s, want, len) != 0))
        rc = mr_fail(c->err, code, "%s: %s.%s is not \"%s\", the only one supported", c->name,
                     c->path, key, want);
    return rc;
}

static int juint(const struct jctx *c, json_t *parent, const char *key, uint64_t *out)
{
    json_t *v;
    int rc = jget(c, parent, key, &v);

    if (rc != MR_OK)
        return rc;
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return jtype_error(c, key, "a non-negative integer");
    *out = (uint64_t)json_integer_value(v);
    return MR_OK;
}

/* A hex byte string member decoded into out[cap]; more than cap bytes is
 * `toobig` (MR_ERR_KDF for a salt, MR_ERR_INVALID for fixed sizes). */
static int jhex(const struct jctx *c, json_t *parent, const char *key, uint8_t *out, size_t cap,
                size_t *outlen, int toobig)
{
    const char *s;
    size_t len;
    int rc = jstring(c, parent, key, &s, &len);

    if (rc != MR_OK)
        return rc;
    if (len >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        s += 2;
        len -= 2;
    }
    if (len % 2 != 0)
        return mr_fail(c->err, MR_ERR_HEX, "%s: %s.%s has an odd number of hex digits", c->name,
                       c->path, key);
    if (len / 2 > cap)
        return mr_fail(c->err, toobig, "%s: %s.%s is %zu bytes, at most %zu allowed", c->name,
                       c->path, key, len / 2, cap);
    for (size_t i = 0; i < len / 2; i++) {
        int hi = hex_digit(s[2 * i]), lo = hex_digit(s[2 * i + 1]);
        if ((hi | lo) < 0)
            return mr_fail(c->err, MR_ERR_HEX, "%s: %s.%s has a non-hex character", c->name,
                           c->path, key);
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    *outlen = len / 2;
    return MR_OK;
}

/* A hex member of exactly n bytes. */
static int jhex_exact(const struct jctx *c, json_t *parent, const char *key, uint8_t *out,
                      size_t n)
{
    size_t got = 0;
    int rc = jhex(c, parent, key, out, n, &got, MR_ERR_INVALID);

    if (rc == MR_OK && got != n)
        rc = mr_fail(c->err, MR_ERR_INVALID, "%s: %s.%s is %zu bytes, must be %zu", c->name,
                     c->path, key, got, n);
    return rc;
}

static int parse_salt(const struct jctx *c, json_t *kp, struct keystore_kdf_params *k)
{
    int rc = jhex(c, kp, "salt", k->salt, sizeof(k->salt), &k->salt_len, MR_ERR_KDF);

    if (rc == MR_OK && k->salt_len == 0)
        rc = mr_fail(c->err, MR_ERR_KDF, "%s: %s.salt is empty", c->name, c->path);
    return rc;
}

/* "kdf" and "kdfparams" of the crypto object (path in c). */
static int parse_kdf(const struct jctx *c, json_t *crypto, struct keystore_kdf_params *k)
{
    char path[64];
    struct jctx kc = *c;
    const char *kdf;
    size_t len;
    json_t *kp;
    int rc = jstring(c, crypto, "kdf", &kdf, &len);

    if (rc == MR_OK)
        rc = jobject(c, crypto, "kdfparams", &kp);
    if (rc != MR_OK)
        return rc;
    snprintf(path, sizeof(path), "%s.kdfparams", c->path);
    kc.path = path;
    if (len == 6 && memcmp(kdf, "scrypt", 6) == 0) {
        k->kdf = KEYSTORE_KDF_SCRYPT;
        rc = juint(&kc, kp, "n", &k->n);
        rc = rc != MR_OK ? rc : juint(&kc, kp, "r", &k->r);
        rc = rc != MR_OK ? rc : juint(&kc, kp, "p", &k->p);
    } else if (len == 6 && memcmp(kdf, "pbkdf2", 6) == 0) {
        k->kdf = KEYSTORE_KDF_PBKDF2;
        rc = juint(&kc, kp, "c", &k->c);
        rc = rc != MR_OK ? rc : jexpect(&kc, kp, "prf", "hmac-sha256", MR_ERR_KDF);
    } else {
        return mr_fail(c->err, MR_ERR_KDF, "%s: %s.kdf is neither \"scrypt\" nor \"pbkdf2\"",
                       c->name, c->path);
    }
    rc = rc != MR_OK ? rc : juint(&kc, kp, "dklen", &k->dklen);
    return rc != MR_OK ? rc : parse_salt(&kc, kp, k);
}

/* The "crypto" object; c->path is its name as found in the file. */
static int parse_crypto(const struct jctx *c, json_t *crypto, struct keystore_params *ks)
{
    char path[64];
    struct jctx pc = *c;
    json_t *cp;
    int rc = jexpect(c, crypto, "cipher", "aes-128-ctr", MR_ERR_INVALID);

    rc = rc != MR_OK ? rc : jobject(c, crypto, "cipherparams", &cp);
    if (rc != MR_OK)
        return rc;
    snprintf(path, sizeof(path), "%s.cipherparams", c->path);
    pc.path = path;
    rc = jhex_exact(&pc, cp, "iv", ks->iv, KEYSTORE_IV_LEN);
    rc = rc != MR_OK ? rc : jhex_exact(c, crypto, "ciphertext", ks->ciphertext, KEYFILE_KEY_LEN);
    rc = rc != MR_OK ? rc : jhex_exact(c, crypto, "mac", ks->mac, KEYSTORE_MAC_LEN);
    ks->ciphertext_len = KEYFILE_KEY_LEN;
    return rc != MR_OK ? rc : parse_kdf(c, crypto, &ks->kdf);
}

/* The optional "address" and "id" members. */
static int parse_optional(const struct jctx *c, json_t *root, struct keyfile *kf)
{
    json_t *v = json_object_get(root, "address");
    struct mr_error aerr;

    if (v != NULL) {
        if (!json_is_string(v))
            return jtype_error(c, "address", "a string");
        if (address_parse(json_string_value(v), json_string_length(v), kf->address, &aerr) !=
            MR_OK)
            return mr_fail(c->err, aerr.code, "%s: address: %s", c->name, aerr.msg);
        kf->has_address = 1;
    }
    v = json_object_get(root, "id");
    if (v != NULL) {
        if (!json_is_string(v) || json_string_length(v) > KEYFILE_ID_MAX)
            return jtype_error(c, "id", "a string of at most 64 characters");
        memcpy(kf->id, json_string_value(v), json_string_length(v) + 1);
    }
    return MR_OK;
}

static int parse_root(const struct jctx *c, json_t *root, struct keyfile *kf)
{
    json_t *lower = json_object_get(root, "crypto"), *upper = json_object_get(root, "Crypto");
    struct jctx cc = *c;
    uint64_t version;
    int rc = juint(c, root, "version", &version);

    if (rc != MR_OK)
        return rc;
    if (version != 3)
        return mr_fail(c->err, MR_ERR_INVALID, "%s: version is %llu; only version 3 is supported",
                       c->name, (unsigned long long)version);
    if (lower != NULL && upper != NULL)
        return mr_fail(c->err, MR_ERR_JSON, "%s: has both \"crypto\" and \"Crypto\"", c->name);
    cc.path = lower != NULL || upper == NULL ? "crypto" : "Crypto";
    rc = jobject(c, root, cc.path, &lower);
    rc = rc != MR_OK ? rc : parse_crypto(&cc, lower, &kf->ks);
    return rc != MR_OK ? rc : parse_optional(c, root, kf);
}

int keyfile_parse(const char *text, size_t len, const char *name, struct keyfile *kf,
                  struct mr_error *err)
{
    struct jctx c = {name, "", err};
    json_error_t jerr;
    json_t *root;
    int rc;

    memset(kf, 0, sizeof(*kf));
    if (len > KEYFILE_MAX_SIZE)
        return mr_fail(err, MR_ERR_TOOBIG, "%s: %zu bytes, larger than a keystore can be (%d)",
                       name, len, KEYFILE_MAX_SIZE);
    root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        /* jansson quotes the text "near" the error; that could be a
         * password file given by mistake, so it is cut off. */
        char *near = strstr(jerr.text, " near ");
        if (near != NULL)
            *near = '\0';
        return mr_fail(err, MR_ERR_JSON, "%s: not valid JSON: %s (line %d, column %d)", name,
                       jerr.text, jerr.line, jerr.column);
    }
    if (!json_is_object(root))
        rc = mr_fail(err, MR_ERR_JSON, "%s: not a JSON object", name);
    else
        rc = parse_root(&c, root, kf);
    json_decref(root);
    if (rc != MR_OK)
        memset(kf, 0, sizeof(*kf));
    return rc;
}

/* ---- files ---- */

int keyfile_check_fd(int fd, const char *path, int allow_fifo, struct mr_error *err)
{
    struct stat st;

    if (fstat(fd, &st) != 0)
        return mr_fail(err, MR_ERR_IO, "%s: %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode) && !(allow_fifo && S_ISFIFO(st.st_mode)))
        return mr_fail(err, MR_ERR_IO, "%s: not a regular file", path);
    if ((st.st_mode & 077) != 0)
        return mr_fail(err, MR_ERR_PERM, "%s is accessible by group or others (mode %04o); "
                       "fix it with: chmod 600 %s", path, (unsigned)(st.st_mode & 07777), path);
    if (st.st_uid != geteuid())
        return mr_fail(err, MR_ERR_PERM, "%s belongs to uid %u, not to the current user (uid "
                       "%u); fix it with chown", path, (unsigned)st.st_uid, (unsigned)geteuid());
    return MR_OK;
}

/* Reads fd until EOF or cap bytes.  Out: *n.  Returns 1 if more bytes
 * follow cap (one extra byte is read and discarded), 0 if not, -1 on error
 * (errno set). */
static int read_capped(int fd, char *buf, size_t cap, size_t *n)
{
    char extra;
    ssize_t r;

    *n = 0;
    for (;;) {
        r = *n < cap ? read(fd, buf + *n, cap - *n) : read(fd, &extra, 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        if (*n == cap) {
            mr_wipe(&extra, 1);
            return 1;
        }
        *n += (size_t)r;
    }
    return r < 0 ? -1 : 0;
}

int keyfile_load(const char *path, struct keyfile *kf, struct mr_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY), rc, more;
    size_t n;
    char *buf;

    memset(kf, 0, sizeof(*kf));
    if (fd < 0)
        return mr_fail(err, MR_ERR_IO, "%s: %s", path, strerror(errno));
    rc = keyfile_check_fd(fd, path, 0, err);
    buf = rc == MR_OK ? malloc(KEYFILE_MAX_SIZE) : NULL;
    if (rc == MR_OK && buf == NULL)
        rc = mr_fail(err, MR_ERR_NOMEM, "%s: out of memory", path);
    if (rc == MR_OK) {
        more = read_capped(fd, buf, KEYFILE_MAX_SIZE, &n);
        if (more < 0)
            rc = mr_fail(err, MR_ERR_IO, "%s: %s", path, strerror(errno));
        else if (more > 0)
            rc = mr_fail(err, MR_ERR_TOOBIG, "%s: larger than %d bytes, not a keystore", path,
                         KEYFILE_MAX_SIZE);
        else
            rc = keyfile_parse(buf, n, path, kf, err);
    }
    free(buf);
    close(fd);
    return rc;
}

int keyfile_read_password(const char *path, char *buf, size_t cap, size_t *len,
                          struct mr_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY), rc, more;
    size_t n = 0;

    *len = 0;
    if (fd < 0)
        return mr_fail(err, MR_ERR_IO, "%s: %s", path, strerror(errno));
    if (cap > KEYFILE_PASSWORD_MAX)
        cap = KEYFILE_PASSWORD_MAX;
    rc = keyfile_check_fd(fd, path, 1, err);
    if (rc == MR_OK) {
        more = read_capped(fd, buf, cap, &n);
        if (more < 0)
            rc = mr_fail(err, MR_ERR_IO, "%s: %s", path, strerror(errno));
        else if (more > 0)
            rc = mr_fail(err, MR_ERR_TOOBIG, "%s: password file longer than %zu bytes", path, cap);
    }
    close(fd);
    if (rc != MR_OK) {
        mr_wipe(buf, cap);
        return rc;
    }
    /* One trailing line ending, as `echo pw > file` writes it. */
    if (n > 0 && buf[n - 1] == '\n') {
        n--;
        if (n > 0 && buf[n - 1] == '\r')
            n--;
    }
    *len = n;
    return MR_OK;
}

/* ---- keys ---- */

int keyfile_unlock(const secp256k1_context *ctx, const struct keyfile *kf,
                   const struct keystore_limits *lim, const uint8_t *pw, size_t pwlen,
                   uint8_t sk[KEYFILE_KEY_LEN], uint8_t addr[ADDRESS_LEN], struct mr_error *err)
{
    uint8_t key[KEYSTORE_CIPHERTEXT_MAX], a[ADDRESS_LEN];
    char got[ADDRESS_TEXT_SIZE], want[ADDRESS_TEXT_SIZE];
    size_t n = 0;
    int rc = keystore_decrypt(&kf->ks, lim, pw, pwlen, key, sizeof(key), &n, err);

    if (rc == MR_OK && (n != KEYFILE_KEY_LEN || key_check_private(ctx, key) != MR_OK))
        rc = mr_fail(err, MR_ERR_KEY, "the decrypted key is not a valid secp256k1 private key");
    if (rc == MR_OK)
        rc = key_private_to_address(ctx, key, a, err);
    if (rc == MR_OK && kf->has_address && memcmp(a, kf->address, ADDRESS_LEN) != 0) {
        address_to_checksum(a, got);
        address_to_checksum(kf->address, want);
        rc = mr_fail(err, MR_ERR_KEY, "the key's address %s does not match the file's address "
                     "field %s", got, want);
    }
    if (rc == MR_OK) {
        memcpy(sk, key, KEYFILE_KEY_LEN);
        memcpy(addr, a, ADDRESS_LEN);
    }
    mr_wipe(key, sizeof(key));
    return rc;
}

/* Formats 16 random bytes as a version 4 UUID (RFC 4122 §4.4). */
static void format_uuid4(uint8_t u[16], char out[37])
{
    u[6] = (uint8_t)((u[6] & 0x0f) | 0x40);
    u[8] = (uint8_t)((u[8] & 0x3f) | 0x80);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[0],
             u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13],
             u[14], u[15]);
}

int keyfile_create(const secp256k1_context *ctx, const uint8_t sk[KEYFILE_KEY_LEN],
                   const uint8_t *pw, size_t pwlen, uint64_t scrypt_n, struct keyfile *kf,
                   struct mr_error *err)
{
    struct keystore_kdf_params k = {.kdf = KEYSTORE_KDF_SCRYPT, .n = scrypt_n,
                                    .r = KEYFILE_SCRYPT_R, .p = KEYFILE_SCRYPT_P, .dklen = 32,
                                    .salt_len = 32};
    uint8_t iv[KEYSTORE_IV_LEN], uuid[16];
    int rc;

    memset(kf, 0, sizeof(*kf));
    if (key_check_private(ctx, sk) != MR_OK)
        return mr_fail(err, MR_ERR_KEY, "not a valid secp256k1 private key");
    if (sys_random(k.salt, k.salt_len) != MR_OK || sys_random(iv, sizeof(iv)) != MR_OK ||
        sys_random(uuid, sizeof(uuid)) != MR_OK)
        return mr_fail(err, MR_ERR_IO, "cannot read random bytes from the system");
    rc = key_private_to_address(ctx, sk, kf->address, err);
    if (rc == MR_OK)
        rc = keystore_encrypt(sk, KEYFILE_KEY_LEN, pw, pwlen, &k, iv, &keystore_limits_default,
                              &kf->ks, err);
    if (rc != MR_OK) {
        memset(kf, 0, sizeof(*kf));
        return rc;
    }
    kf->has_address = 1;
    format_uuid4(uuid, kf->id);
    return MR_OK;
}

/* ---- writing ---- */

/* Lowercase hex of data[len] without "0x" as a new JSON string. */
static json_t *jhex_new(const uint8_t *data, size_t len)
{
    char buf[2 * KEYSTORE_CIPHERTEXT_MAX + 1];
    static const char digits[] = "0123456789abcdef";

    if (2 * len >= sizeof(buf))
        return NULL;
    for (size_t i = 0; i < len; i++) {
        buf[2 * i] = digits[data[i] >> 4];
        buf[2 * i + 1] = digits[data[i] & 0x0f];
    }
    buf[2 * len] = '\0';
    return json_string(buf);
}

#if JSON_INTEGER_IS_LONG_LONG
#define KEYFILE_JSON_INT_MAX LLONG_MAX
#else
#define KEYFILE_JSON_INT_MAX LONG_MAX
#endif

/* A JSON integer, or NULL if v does not fit json_int_t. */
static json_t *juint_new(uint64_t v)
{
    return v > (uint64_t)KEYFILE_JSON_INT_MAX ? NULL : json_integer((json_int_t)v);
}

static json_t *format_kdfparams(const struct keystore_kdf_params *k)
{
    if (k->kdf == KEYSTORE_KDF_SCRYPT)
        return json_pack("{s:o, s:o, s:o, s:o, s:o}", "dklen", juint_new(k->dklen), "n",
                         juint_new(k->n), "r", juint_new(k->r), "p", juint_new(k->p), "salt",
                         jhex_new(k->salt, k->salt_len));
    return json_pack("{s:o, s:o, s:s, s:o}", "c", juint_new(k->c), "dklen",
                     juint_new(k->dklen), "prf", "hmac-sha256", "salt",
                     jhex_new(k->salt, k->salt_len));
}

char *keyfile_format(const struct keyfile *kf)
{
    const struct keystore_params *ks = &kf->ks;
    json_t *root;
    char *text;

    if (ks->kdf.kdf != KEYSTORE_KDF_SCRYPT && ks->kdf.kdf != KEYSTORE_KDF_PBKDF2)
        return NULL;
    /* "o" steals each new reference, also when json_pack fails (jansson
     * >= 2.12), and fails on a NULL value (an unrepresentable field). */
    root = json_pack("{s:i, s:{s:s, s:{s:o}, s:o, s:s, s:o, s:o}}", "version", 3, "crypto",
                     "cipher", "aes-128-ctr", "cipherparams", "iv",
                     jhex_new(ks->iv, KEYSTORE_IV_LEN), "ciphertext",
                     jhex_new(ks->ciphertext, ks->ciphertext_len), "kdf",
                     ks->kdf.kdf == KEYSTORE_KDF_SCRYPT ? "scrypt" : "pbkdf2", "kdfparams",
                     format_kdfparams(&ks->kdf), "mac", jhex_new(ks->mac, KEYSTORE_MAC_LEN));
    if (root == NULL)
        return NULL;
    if ((kf->has_address &&
         json_object_set_new(root, "address", jhex_new(kf->address, ADDRESS_LEN)) != 0) ||
        (kf->id[0] != '\0' && json_object_set_new(root, "id", json_string(kf->id)) != 0)) {
        json_decref(root);
        return NULL;
    }
    text = json_dumps(root, JSON_INDENT(2) | JSON_SORT_KEYS);
    json_decref(root);
    return text;
}

static int write_all(int fd, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Makes a directory entry durable (best effort: some file systems refuse
 * fsync on a directory). */
static void fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
}

/* Writes text + "\n" to a new 0600 temporary file next to `path`.  Out:
 * tmp[cap] its name.  MR_OK or MR_ERR_IO (nothing left behind). */
static int write_temp(const char *path, const char *dir, const char *text, char *tmp, size_t cap,
                      struct mr_error *err)
{
    const char *base = strrchr(path, '/') != NULL ? strrchr(path, '/') + 1 : path;
    int fd, ok;

    if ((size_t)snprintf(tmp, cap, "%s/.%s.tmp-XXXXXX", dir, base) >= cap)
        return mr_fail(err, MR_ERR_IO, "%s: path too long", path);
    fd = mkstemp(tmp); /* O_EXCL, mode 0600 */
    if (fd < 0)
        return mr_fail(err, MR_ERR_IO, "%s: cannot create a temporary file in %s: %s", path, dir,
                       strerror(errno));
    ok = fchmod(fd, 0600) == 0 && write_all(fd, text, strlen(text)) == 0 &&
         write_all(fd, "\n", 1) == 0 && fsync(fd) == 0;
    if (ok) {
        ok = close(fd) == 0;
    } else {
        int e = errno;
        close(fd);
        errno = e;
    }
    if (!ok) {
        int e = errno;
        unlink(tmp);
        return mr_fail(err, MR_ERR_IO, "%s: cannot write %s: %s", path, tmp, strerror(e));
    }
    return MR_OK;
}

int keyfile_write_new(const char *path, const struct keyfile *kf, struct mr_error *err)
{
    char dir[4096], tmp[4096 + 64];
    const char *slash = strrchr(path, '/');
    char *text;
    int rc, e;

    if (slash == NULL)
        snprintf(dir, sizeof(dir), ".");
    else if ((size_t)(slash - path) >= sizeof(dir))
        return mr_fail(err, MR_ERR_IO, "%s: path too long", path);
    else
        snprintf(dir, sizeof(dir), "%.*s", slash == path ? 1 : (int)(slash - path), path);
    text = keyfile_format(kf);
    if (text == NULL)
        return mr_fail(err, MR_ERR_NOMEM, "%s: cannot format the keystore", path);
    rc = write_temp(path, dir, text, tmp, sizeof(tmp), err);
    free(text);
    if (rc != MR_OK)
        return rc;
    /* link(2), unlike rename(2), refuses to replace an existing file. */
    rc = link(tmp, path);
    e = errno;
    unlink(tmp);
    if (rc != 0 && e == EEXIST)
        return mr_fail(err, MR_ERR_IO, "%s already exists; refusing to overwrite it", path);
    if (rc != 0)
        return mr_fail(err, MR_ERR_IO, "%s: %s", path, strerror(e));
    fsync_dir(dir);
    return MR_OK;
}
