/*
 * test_log.c - structured logs: the level checked before the arguments are
 * evaluated, JSON lines that parse, text lines that cannot be forged,
 * truncation, whole lines under concurrent writers, terminal detection.
 */
#define _XOPEN_SOURCE 600
#include "tests/lib/testlib.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "relayer/log.h"

/* Reads the whole file at fd (from offset 0) into a malloc'd string. */
static char *slurp(int fd)
{
    size_t cap = 1 << 16, len = 0;
    char *s = malloc(cap);
    ssize_t r;

    assert_non_null(s);
    assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
    while ((r = read(fd, s + len, cap - len - 1)) > 0) {
        len += (size_t)r;
        if (cap - len < 2) {
            cap *= 2;
            s = realloc(s, cap);
            assert_non_null(s);
        }
    }
    s[len] = 0;
    return s;
}

/* A fresh temporary file for the log, opened O_APPEND. */
static int tmp_log(void)
{
    char path[] = "/tmp/mrlogXXXXXX";
    int fd = mkstemp(path);

    assert_true(fd >= 0);
    unlink(path);
    assert_int_equal(fcntl(fd, F_SETFL, O_APPEND), 0);
    return fd;
}

static int evaluated;
static int side_effect(void)
{
    return ++evaluated;
}

static void test_level_checked_first(void **state)
{
    (void)state;
    int fd = tmp_log();

    log_setup(LOGL_WARN, LOG_FORMAT_JSON, fd);
    evaluated = 0;
    log_info("test", NULL, "never %d", side_effect());
    log_debug("test", NULL, "never %d", side_effect());
    assert_int_equal(evaluated, 0);
    assert_false(log_enabled(LOGL_INFO));
    assert_true(log_enabled(LOGL_WARN));
    log_warn("test", NULL, "once %d", side_effect());
    log_error("test", NULL, "twice %d", side_effect());
    assert_int_equal(evaluated, 2);

    char *s = slurp(fd);
    assert_non_null(strstr(s, "\"msg\":\"once 1\""));
    assert_non_null(strstr(s, "\"level\":\"error\""));
    assert_null(strstr(s, "never"));
    free(s);
    log_setup(LOGL_INFO, LOG_FORMAT_JSON, 2);
    close(fd);
}

static json_t *parse_line(const char *line)
{
    json_error_t je;
    json_t *j = json_loads(line, JSON_REJECT_DUPLICATES, &je);

    if (j == NULL)
        fail_msg("not JSON (%s): %s", je.text, line);
    return j;
}

static size_t format_cap(char *buf, size_t cap, enum log_format f, const struct log_id *id,
                         const char *fmt, ...) MR_PRINTF(5, 6);
static size_t format_cap(char *buf, size_t cap, enum log_format f, const struct log_id *id,
                         const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    size_t n = log_format_line(buf, cap, f, 1714564800123, LOGL_INFO, "txm", id, fmt, ap);
    va_end(ap);
    assert_true(n < cap);
    assert_int_equal(n, strlen(buf));
    assert_true(n <= LOG_LINE_MAX);
    assert_int_equal(buf[n - 1], '\n');
    assert_null(memchr(buf, '\n', n - 1));
    return n;
}

#define format(buf, ...) format_cap((buf), LOG_LINE_MAX + 1, __VA_ARGS__)

static const uint8_t MH[32] = {0x10, 0xb3, [31] = 0xff};
static const uint8_t TX[32] = {0xab, [30] = 1};

static void test_json_fields(void **state)
{
    char buf[LOG_LINE_MAX + 1];
    (void)state;

    format(buf, LOG_FORMAT_JSON,
           LOG_ID(.job = 812, .flow = "stake", .step = "confirm", .chain = "aux", .msg_hash = MH,
                  .nonce = 0, .has_nonce = 1, .tx_hash = TX),
           "sent %s at %d", "confirmStakeIntent", 7);
    json_t *j = parse_line(buf);
    assert_string_equal(json_string_value(json_object_get(j, "time")), "2024-05-01T12:00:00.123Z");
    assert_string_equal(json_string_value(json_object_get(j, "level")), "info");
    assert_string_equal(json_string_value(json_object_get(j, "component")), "txm");
    assert_string_equal(json_string_value(json_object_get(j, "msg")), "sent confirmStakeIntent at 7");
    assert_int_equal(json_integer_value(json_object_get(j, "job")), 812);
    assert_string_equal(json_string_value(json_object_get(j, "flow")), "stake");
    assert_string_equal(json_string_value(json_object_get(j, "step")), "confirm");
    assert_string_equal(json_string_value(json_object_get(j, "chain")), "aux");
    assert_string_equal(json_string_value(json_object_get(j, "message_hash")),
                        "0x10b30000000000000000000000000000000000000000000000000000000000ff");
    assert_string_equal(json_string_value(json_object_get(j, "tx_hash")),
                        "0xab00000000000000000000000000000000000000000000000000000000000100");
    assert_int_equal(json_integer_value(json_object_get(j, "nonce")), 0);
    assert_int_equal(json_object_size(j), 11);
    json_decref(j);

    /* absent identity: no identity keys at all */
    format(buf, LOG_FORMAT_JSON, NULL, "plain");
    j = parse_line(buf);
    assert_int_equal(json_object_size(j), 4);
    json_decref(j);
    format(buf, LOG_FORMAT_JSON, LOG_ID(.job = 0, .nonce = 5), "nonce without has_nonce");
    j = parse_line(buf);
    assert_int_equal(json_object_size(j), 4);
    json_decref(j);
}

/* Hostile text from a node: quotes, newlines, escapes, invalid UTF-8. */
static const char HOSTILE[] =
    "a\"b\\c\nd\r\te\x01\x1b[31mred\x7f"    /* ASCII controls and an ANSI escape */
    "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"  /* é € 😀: valid */
    "\xff\xc0\x80\xed\xa0\x80\xf4\x90\x80\x80\xe2\x82" /* invalid, overlong, surrogate, > U+10FFFF, cut */
    "\xc2\x9b"                              /* U+009B, a C1 CSI */
    "end";

static void test_json_escaping(void **state)
{
    char buf[LOG_LINE_MAX + 1];
    (void)state;

    format(buf, LOG_FORMAT_JSON, LOG_ID(.chain = "au\"x\n"), "%s", HOSTILE);
    json_t *j = parse_line(buf);
    const char *msg = json_string_value(json_object_get(j, "msg"));
    assert_non_null(msg);
    assert_string_equal(json_string_value(json_object_get(j, "chain")), "au\"x\n");
    /* the valid parts come back exactly, each invalid byte as U+FFFD */
    assert_non_null(strstr(msg, "a\"b\\c\nd\r\te\x01\x1b[31mred\x7f"));
    assert_non_null(strstr(msg, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"));
    assert_non_null(strstr(msg, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"));
    assert_non_null(strstr(msg, "\xc2\x9b" "end"));
    /* and nothing raw below 0x20, nor a raw C1, on the line itself */
    for (const unsigned char *p = (const unsigned char *)buf; *p != '\n'; p++) {
        assert_true(*p >= 0x20 && *p != 0x7f);
        assert_false(p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f);
    }
    json_decref(j);
}

static void test_text_format(void **state)
{
    char buf[LOG_LINE_MAX + 1];
    (void)state;

    format(buf, LOG_FORMAT_TEXT, LOG_ID(.job = 812, .chain = "aux", .nonce = 41, .has_nonce = 1),
           "sent %s", "x");
    assert_string_equal(buf, "2024-05-01T12:00:00.123Z INFO  txm job=812 chain=aux nonce=41: sent x\n");
    format(buf, LOG_FORMAT_TEXT, LOG_ID(.msg_hash = MH, .tx_hash = TX), "m");
    assert_string_equal(buf, "2024-05-01T12:00:00.123Z INFO  txm "
                             "mh=0x10b30000000000000000000000000000000000000000000000000000000000ff "
                             "tx=0xab00000000000000000000000000000000000000000000000000000000000100: m\n");
    /* a field value cannot forge another field */
    format(buf, LOG_FORMAT_TEXT, LOG_ID(.chain = "a job=1"), "m");
    assert_non_null(strstr(buf, " chain=a\\x20job=1: m\n"));

    format(buf, LOG_FORMAT_TEXT, NULL, "%s", HOSTILE);
    assert_non_null(strstr(buf, "a\"b\\\\c\\x0ad\\x0d\\x09e\\x01\\x1b[31mred\\x7f"));
    assert_non_null(strstr(buf, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"));
    assert_non_null(strstr(buf, "\\xff\\xc0\\x80\\xed\\xa0\\x80\\xf4\\x90\\x80\\x80\\xe2\\x82"));
    assert_non_null(strstr(buf, "\\xc2\\x9b" "end\n"));
    for (const unsigned char *p = (const unsigned char *)buf; *p != '\n'; p++)
        assert_true(*p >= 0x20 && *p != 0x7f);
}

static void test_truncation(void **state)
{
    char buf[LOG_LINE_MAX + 1];
    char *big = malloc(20000);
    (void)state;

    assert_non_null(big);
    /* a long message of multi-byte characters: never cut inside one */
    for (size_t i = 0; i + 2 < 20000; i += 2) {
        big[i] = (char)0xc3;
        big[i + 1] = (char)0xa9;
    }
    big[19998] = 0;
    size_t n = format(buf, LOG_FORMAT_JSON, LOG_ID(.job = 9, .chain = "origin"), "%s", big);
    assert_true(n > LOG_LINE_MAX - 40);
    json_t *j = parse_line(buf);
    const char *msg = json_string_value(json_object_get(j, "msg"));
    assert_non_null(msg);
    size_t ml = strlen(msg);
    assert_true(ml > 14 && strcmp(msg + ml - 14, "...[truncated]") == 0);
    assert_int_equal(json_integer_value(json_object_get(j, "job")), 9);
    json_decref(j);

    /* escapes that do not fit are not cut either */
    memset(big, '\n', 19999);
    big[19999] = 0;
    n = format(buf, LOG_FORMAT_TEXT, NULL, "%s", big);
    assert_non_null(strstr(buf, "\\x0a...[truncated]\n"));
    free(big);

    /* a small buffer still gives a whole line */
    char small[600];
    big = malloc(1000);
    assert_non_null(big);
    memset(big, 'y', 999);
    big[999] = 0;
    n = format_cap(small, sizeof small, LOG_FORMAT_JSON, LOG_ID(.job = 3), "%s", big);
    j = parse_line(small);
    assert_int_equal(json_integer_value(json_object_get(j, "job")), 3);
    json_decref(j);
    free(big);
}

/* Identity strings are capped: a hostile chain key cannot eat the line. */
static void test_field_caps(void **state)
{
    char buf[LOG_LINE_MAX + 1];
    char longkey[300];
    (void)state;

    memset(longkey, 'k', sizeof longkey - 1);
    longkey[sizeof longkey - 1] = 0;
    format(buf, LOG_FORMAT_JSON, LOG_ID(.chain = longkey, .flow = longkey, .step = longkey), "m");
    json_t *j = parse_line(buf);
    assert_int_equal(strlen(json_string_value(json_object_get(j, "chain"))), 64);
    assert_string_equal(json_string_value(json_object_get(j, "msg")), "m");
    json_decref(j);
}

struct writer {
    int id;
};

#define THREADS 8
#define LINES 500

static void *writer_main(void *arg)
{
    struct writer *w = arg;
    char pad[3000];

    for (int i = 0; i < LINES; i++) {
        size_t n = (size_t)((i * 7919 + w->id * 131) % 2900);
        memset(pad, 'a' + w->id, n);
        pad[n] = 0;
        log_info("thread", LOG_ID(.job = w->id + 1, .nonce = (uint64_t)i, .has_nonce = 1), "%d %s",
                 i, pad);
    }
    return NULL;
}

static void test_concurrent_lines(void **state)
{
    pthread_t t[THREADS];
    struct writer w[THREADS];
    int seen[THREADS][LINES];
    (void)state;

    int fd = tmp_log();
    log_setup(LOGL_INFO, LOG_FORMAT_JSON, fd);
    for (int i = 0; i < THREADS; i++) {
        w[i].id = i;
        assert_int_equal(pthread_create(&t[i], NULL, writer_main, &w[i]), 0);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    log_setup(LOGL_INFO, LOG_FORMAT_JSON, 2);

    char *s = slurp(fd);
    memset(seen, 0, sizeof seen);
    int lines = 0;
    for (char *line = s, *nl; (nl = strchr(line, '\n')) != NULL; line = nl + 1) {
        *nl = 0;
        json_t *j = parse_line(line);
        int job = (int)json_integer_value(json_object_get(j, "job"));
        int nonce = (int)json_integer_value(json_object_get(j, "nonce"));
        assert_true(job >= 1 && job <= THREADS && nonce >= 0 && nonce < LINES);
        const char *msg = json_string_value(json_object_get(j, "msg"));
        const char *sp = strchr(msg, ' ');
        assert_non_null(sp);
        for (sp++; *sp; sp++)
            assert_int_equal(*sp, 'a' + job - 1);  /* nobody else's bytes inside */
        seen[job - 1][nonce]++;
        json_decref(j);
        lines++;
    }
    assert_int_equal(lines, THREADS * LINES);
    for (int i = 0; i < THREADS; i++)
        for (int k = 0; k < LINES; k++)
            assert_int_equal(seen[i][k], 1);
    free(s);
    close(fd);
}

static void test_errno_and_names(void **state)
{
    (void)state;
    int fd = tmp_log();

    log_setup(LOGL_DEBUG, LOG_FORMAT_TEXT, fd);
    errno = ENOSPC;
    log_debug("x", NULL, "keeps errno");
    assert_int_equal(errno, ENOSPC);
    log_setup(LOGL_INFO, LOG_FORMAT_JSON, 2);
    close(fd);

    assert_string_equal(log_level_name(LOGL_WARN), "warn");
    assert_string_equal(log_level_name(7), "?");
    assert_int_equal(log_level_parse("debug"), LOGL_DEBUG);
    assert_int_equal(log_level_parse("warning"), LOGL_WARN);
    assert_int_equal(log_level_parse("loud"), -1);
}

/* auto: text on a terminal, JSON elsewhere. */
static void test_auto_format(void **state)
{
    (void)state;
    int fd = tmp_log();

    log_setup(LOGL_INFO, LOG_FORMAT_AUTO, fd);
    log_info("x", NULL, "to a file");
    char *s = slurp(fd);
    assert_true(s[0] == '{');
    free(s);
    close(fd);

    int m = posix_openpt(O_RDWR | O_NOCTTY);
    if (m < 0) {
        print_message("note: no pseudo-terminal, terminal detection not checked\n");
        log_setup(LOGL_INFO, LOG_FORMAT_JSON, 2);
        return;
    }
    assert_int_equal(grantpt(m), 0);
    assert_int_equal(unlockpt(m), 0);
    int sl = open(ptsname(m), O_RDWR | O_NOCTTY);
    assert_true(sl >= 0);
    log_setup(LOGL_INFO, LOG_FORMAT_AUTO, sl);
    log_info("x", NULL, "to a terminal");
    char got[256];
    ssize_t r = read(m, got, sizeof got - 1);
    assert_true(r > 0);
    got[r] = 0;
    assert_true(got[0] >= '0' && got[0] <= '9');   /* the text format starts with the time */
    assert_non_null(strstr(got, "INFO  x: to a terminal"));
    log_setup(LOGL_INFO, LOG_FORMAT_JSON, 2);
    close(sl);
    close(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_level_checked_first),
        cmocka_unit_test(test_json_fields),
        cmocka_unit_test(test_json_escaping),
        cmocka_unit_test(test_text_format),
        cmocka_unit_test(test_truncation),
        cmocka_unit_test(test_field_caps),
        cmocka_unit_test(test_concurrent_lines),
        cmocka_unit_test(test_errno_and_names),
        cmocka_unit_test(test_auto_format),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
