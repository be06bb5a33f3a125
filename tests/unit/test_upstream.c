/* test_upstream.c: which providers the native HTTP/1.1 client serves
 * (src/upstream/h1.c) and when a proxy from the environment applies
 * (src/upstream/client.c). The client's traffic itself is driven by
 * tests/integration/upstream_h1.test.mjs. */
#include <stdlib.h>
#include <string.h>
#include <uv.h>
#include "allot/config.h"
#include "test.h"
#include "upstream/internal.h"

static const char *const proxy_vars[] = {"http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY",
                                         "all_proxy",  "ALL_PROXY",  "no_proxy",    "NO_PROXY"};

/* Save and clear the proxy variables; restore them. */
struct saved_env {
    char *v[sizeof proxy_vars / sizeof proxy_vars[0]];
};

static void env_save(struct saved_env *s)
{
    size_t i;
    for (i = 0; i < sizeof proxy_vars / sizeof proxy_vars[0]; i++) {
        const char *v = getenv(proxy_vars[i]);
        s->v[i] = v ? strdup(v) : NULL;
        unsetenv(proxy_vars[i]);
    }
}

static void env_restore(struct saved_env *s)
{
    size_t i;
    for (i = 0; i < sizeof proxy_vars / sizeof proxy_vars[0]; i++) {
        if (s->v[i])
            setenv(proxy_vars[i], s->v[i], 1);
        else
            unsetenv(proxy_vars[i]);
        free(s->v[i]);
    }
}

static int applies_with(const char *var, const char *val, const char *no_proxy, const char *host)
{
    struct saved_env s;
    int r;
    env_save(&s);
    if (var)
        setenv(var, val, 1);
    if (no_proxy)
        setenv("no_proxy", no_proxy, 1);
    r = allot__proxy_applies(host);
    env_restore(&s);
    return r;
}

TEST(upstream_proxy_applies_as_curl_would)
{
    ASSERT_INT_EQ(applies_with(NULL, NULL, NULL, "127.0.0.1"), 0);
    ASSERT_INT_EQ(applies_with("http_proxy", "http://p:3128", NULL, "127.0.0.1"), 1);
    ASSERT_INT_EQ(applies_with("HTTP_PROXY", "http://p:3128", NULL, "127.0.0.1"), 1);
    ASSERT_INT_EQ(applies_with("ALL_PROXY", "http://p:3128", NULL, "box"), 1);
    /* https_proxy is for https:// URLs: not this client's */
    ASSERT_INT_EQ(applies_with("https_proxy", "http://p:3128", NULL, "box"), 0);
    ASSERT_INT_EQ(applies_with("http_proxy", "", NULL, "box"), 0);
    /* no_proxy: *, the host, a domain it is in, with spaces and dots */
    ASSERT_INT_EQ(applies_with("http_proxy", "http://p", "*", "box"), 0);
    ASSERT_INT_EQ(applies_with("http_proxy", "http://p", "localhost, 127.0.0.1", "127.0.0.1"), 0);
    ASSERT_INT_EQ(applies_with("http_proxy", "http://p", "example.com", "llm.example.com"), 0);
    ASSERT_INT_EQ(applies_with("http_proxy", "http://p", ".Example.com", "LLM.example.COM"), 0);
    ASSERT_INT_EQ(applies_with("http_proxy", "http://p", "example.com", "badexample.com"), 1);
    ASSERT_INT_EQ(applies_with("http_proxy", "http://p", "[::1]", "::1"), 0);
    /* a CIDR range is left to libcurl, which understands it */
    ASSERT_INT_EQ(applies_with("http_proxy", "http://p", "10.0.0.0/8", "10.1.2.3"), 1);
}

TEST(upstream_native_client_serves_plain_http_only)
{
    static const struct {
        const char *url;
        const char *client;
        int native;
    } cases[] = {
        {"http://127.0.0.1:11434/v1", "auto", 1},
        {"http://localhost:8000", "auto", 1},
        {"http://[::1]:8080/v1", "auto", 1},
        {"HTTP://box/v1", "auto", 1},
        {"http://127.0.0.1:11434/v1", "curl", 0},
        {"https://api.openai.com/v1", "auto", 0},
        {"http://user:pw@box/v1", "auto", 0},
        {"http://box/v1?x=1", "auto", 0},
        {"http://box:99999/v1", "auto", 0},
        {"http://box:/v1", "auto", 0},
        {"http://[::1/v1", "auto", 0},
    };
    struct allot_provider prov[sizeof cases / sizeof cases[0]];
    struct allot_config cfg;
    struct allot__h1 *h1 = NULL;
    struct saved_env s;
    uv_loop_t loop;
    size_t i;
    int rc;

    memset(&cfg, 0, sizeof cfg);
    memset(prov, 0, sizeof prov);
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        prov[i].name = (char *)"p";
        prov[i].kind = (char *)"openai";
        prov[i].base_url = (char *)cases[i].url;
        prov[i].http_client = (char *)cases[i].client;
        prov[i].connect_timeout_ms = 1000;
        prov[i].timeout_ms = 1000;
    }
    cfg.providers = prov;
    cfg.n_providers = sizeof cases / sizeof cases[0];
    ASSERT_INT_EQ(uv_loop_init(&loop), 0);
    env_save(&s);
    rc = allot__h1_new(&loop, &cfg, &h1);
    env_restore(&s);
    ASSERT_INT_EQ(rc, 0);
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (allot__h1_serves(h1, &prov[i]) != cases[i].native)
            TEST_FAIL_("%s (http_client %s): served natively %d, want %d", cases[i].url,
                       cases[i].client, !cases[i].native, cases[i].native);
    ASSERT_INT_EQ(allot__h1_active(h1), 0);
    allot__h1_free(h1);
    uv_run(&loop, UV_RUN_DEFAULT);
    ASSERT_INT_EQ(uv_loop_close(&loop), 0);

    /* with a proxy that applies, libcurl serves it */
    ASSERT_INT_EQ(uv_loop_init(&loop), 0);
    env_save(&s);
    setenv("http_proxy", "http://proxy:3128", 1);
    rc = allot__h1_new(&loop, &cfg, &h1);
    env_restore(&s);
    ASSERT_INT_EQ(rc, 0);
    ASSERT_INT_EQ(allot__h1_serves(h1, &prov[0]), 0);
    allot__h1_free(h1);
    uv_run(&loop, UV_RUN_DEFAULT);
    ASSERT_INT_EQ(uv_loop_close(&loop), 0);
}
