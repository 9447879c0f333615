/*
 * test_faultproxy.c - the test suite's fault-injecting JSON-RPC proxy, in
 * front of a real anvil: each fault does what the RPC tests will rely on.
 */
#include "tests/lib/testlib.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

#include "tests/lib/faultproxy.h"

struct resp {
    char body[65536];
    size_t n;
};

static size_t sink(char *d, size_t s, size_t m, void *arg)
{
    struct resp *r = arg;
    size_t len = s * m;

    if (r->n + len >= sizeof(r->body))
        return 0;
    memcpy(r->body + r->n, d, len);
    r->n += len;
    r->body[r->n] = '\0';
    return len;
}

/* POSTs a JSON-RPC call with params (a JSON array); returns the curl code;
 * *status the HTTP status. */
static CURLcode call_p(CURL *c, const char *url, const char *method, const char *params,
                       struct resp *r, long *status)
{
    char body[512];
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    CURLcode rc;

    snprintf(body, sizeof(body), "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"%s\",\"params\":%s}",
             method, params);
    r->n = 0;
    r->body[0] = '\0';
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
    rc = curl_easy_perform(c);
    *status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
    curl_slist_free_all(h);
    return rc;
}

static CURLcode call(CURL *c, const char *url, const char *method, struct resp *r, long *status)
{
    return call_p(c, url, method, "[]", r, status);
}

static void test_faults(void **state)
{
    struct fproxy *p;
    struct resp r;
    long st;
    CURL *c;
    (void)state;

    TV_REQUIRE_ANVIL();
    p = fproxy_start(tv_anvil_url("ORIGIN"));
    assert_non_null(p);
    c = curl_easy_init();
    /* Passing through: anvil's answer (chain id 31337 = 0x7a69). */
    assert_int_equal(call(c, fproxy_url(p), "eth_chainId", &r, &st), CURLE_OK);
    assert_int_equal(st, 200);
    assert_non_null(strstr(r.body, "\"0x7a69\""));
    /* HTTP 429 once, then normal again. */
    fproxy_rule(p, "eth_chainId", FP_STATUS, 429, 1, NULL, NULL);
    assert_int_equal(call(c, fproxy_url(p), "eth_chainId", &r, &st), CURLE_OK);
    assert_int_equal(st, 429);
    assert_int_equal(call(c, fproxy_url(p), "eth_chainId", &r, &st), CURLE_OK);
    assert_int_equal(st, 200);
    /* A null result; a truncated body; a lying node. */
    fproxy_rule(p, "eth_blockNumber", FP_NULL_RESULT, 0, 1, NULL, NULL);
    assert_int_equal(call(c, fproxy_url(p), "eth_blockNumber", &r, &st), CURLE_OK);
    assert_non_null(strstr(r.body, "\"result\":null"));
    assert_non_null(strstr(r.body, "\"id\":7"));
    fproxy_rule(p, "eth_gasPrice", FP_TRUNCATE, 0, 1, NULL, NULL);
    assert_int_equal(call(c, fproxy_url(p), "eth_gasPrice", &r, &st), CURLE_OK);
    assert_null(strchr(r.body, '}'));
    fproxy_rule(p, "net_version", FP_REWRITE, 0, 1, "31337", "31338");
    assert_int_equal(call(c, fproxy_url(p), "net_version", &r, &st), CURLE_OK);
    assert_non_null(strstr(r.body, "31338"));
    /* Forwarded, but the reply is dropped: the client sees no answer.
     * (libcurl silently retries a request once when a reused connection
     * closes: the node receives it twice.  Callers must treat every send as
     * possibly repeated: RELIABILITY.md row 9.) */
    fproxy_rule(p, "eth_accounts", FP_DROP_REPLY, 0, 0, NULL, NULL);
    assert_int_not_equal(call(c, fproxy_url(p), "eth_accounts", &r, &st), CURLE_OK);
    assert_true(fproxy_count(p, "eth_accounts") >= 1);
    fproxy_clear(p);
    assert_int_equal(call(c, fproxy_url(p), "eth_accounts", &r, &st), CURLE_OK);
    /* A node error in the node's place, only for the block it names, twice
     * (geth's answer for a pruned state: RELIABILITY.md row 26). */
    fproxy_node_error(p, "eth_getBlockByNumber", "\"0x1\"", -32000,
                      "missing trie node 0b5e (path ) <nil>", 2);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(call_p(c, fproxy_url(p), "eth_getBlockByNumber", "[\"0x0\", false]", &r,
                                &st), CURLE_OK);
        assert_null(strstr(r.body, "\"error\""));
        assert_int_equal(call_p(c, fproxy_url(p), "eth_getBlockByNumber", "[\"0x1\", false]", &r,
                                &st), CURLE_OK);
        assert_int_equal(st, 200);
        if (i < 2) {
            assert_non_null(strstr(r.body, "\"code\":-32000"));
            assert_non_null(strstr(r.body, "missing trie node"));
            assert_non_null(strstr(r.body, "\"id\":7"));
        } else {
            assert_null(strstr(r.body, "\"error\""));
        }
    }
    fproxy_clear(p);
    assert_int_equal(fproxy_count(p, "eth_chainId"), 3);
    assert_int_equal(fproxy_count(p, "eth_getBlockByNumber"), 6);
    assert_int_equal(fproxy_count(p, "(node error)"), 2);
    assert_true(fproxy_count(p, "*") >= 15);
    curl_easy_cleanup(c);
    fproxy_stop(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_faults),
    };
    curl_global_init(CURL_GLOBAL_DEFAULT);
    return cmocka_run_group_tests_name("faultproxy: injected RPC faults", tests, NULL, NULL);
}
