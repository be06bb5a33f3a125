/* test_config.c: allot.yaml loading, validation and error messages. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "allot/buf.h"
#include "allot/config.h"
#include "allot/error.h"
#include "allot/kinds.h"
#include "test.h"

/* A valid config, 10 lines; tests append keys from line 11 on. */
#define MINIMAL                                                                                    \
    "providers:\n"                                                                                 \
    "  - name: p\n"                                                                                \
    "    base_url: http://127.0.0.1:9/v1\n"                                                        \
    "models:\n"                                                                                    \
    "  - name: m\n"                                                                                \
    "    provider: p\n"                                                                            \
    "tiers:\n"                                                                                     \
    "  judgment: [m]\n"                                                                            \
    "  labour: [m]\n"                                                                              \
    "  code: [m]\n"

/* Load yaml as "t.yaml"; the errors, if any, land in err (caller releases). */
static int load(const char *yaml, struct allot_config **c, struct allot_buf *err)
{
    allot_buf_init(err, 1 << 16);
    *c = NULL;
    return allot_config_load_mem("t.yaml", yaml, strlen(yaml), c, err);
}

/* The 1-based line of the first line of file path containing needle; 0 if
 * none. */
static size_t line_of(const char *path, const char *needle)
{
    char line[512];
    size_t n = 0;
    FILE *f = fopen(path, "r");

    if (!f)
        return 0;
    while (fgets(line, sizeof line, f)) {
        n++;
        if (strstr(line, needle)) {
            fclose(f);
            return n;
        }
    }
    fclose(f);
    return 0;
}

static size_t count_lines(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

TEST(config_defaults_load)
{
    struct allot_config *c = NULL;
    struct allot_buf err;
    const struct allot_model *m;
    const struct allot_provider *p;

    allot_buf_init(&err, 4096);
    ASSERT_INT_EQ(allot_config_default(&c, &err), 0);
    ASSERT_STR_EQ(allot_buf_cstr(&err), "");
    ASSERT(c->path == NULL);
    ASSERT_STR_EQ(c->listen_host, "127.0.0.1");
    ASSERT_INT_EQ(c->listen_port, 4000);
    ASSERT_INT_EQ(c->workers, 1);
    ASSERT_STR_EQ(c->store_path, "./allot.db");
    ASSERT_INT_EQ(c->store_commit_ms, 20);
    ASSERT_INT_EQ(c->n_providers, 2);
    p = allot_config_find_provider(c, "frontier");
    ASSERT(p != NULL);
    ASSERT_STR_EQ(p->base_url, "http://127.0.0.1:4101/v1");
    ASSERT_STR_EQ(p->kind, "openai");
    ASSERT(p->api_key == NULL);
    ASSERT_INT_EQ(p->connect_timeout_ms, 2000);
    ASSERT_INT_EQ(p->timeout_ms, 120000);
    p = allot_config_find_provider(c, "local");
    ASSERT(p != NULL);
    ASSERT_STR_EQ(p->base_url, "http://127.0.0.1:4102/v1");

    m = allot_config_find_model(c, "frontier-large", 14);
    ASSERT(m != NULL);
    ASSERT_STR_EQ(m->upstream_id, "sim-frontier-large");
    ASSERT_STR_EQ(m->provider->name, "frontier");
    ASSERT_DBL_NEAR(m->price_in, 5.0, 1e-12);
    ASSERT_DBL_NEAR(m->price_out, 15.0, 1e-12);
    ASSERT_INT_EQ(m->context_window, 128000);
    m = allot_config_find_model(c, "frontier-mini", 13);
    ASSERT(m != NULL);
    ASSERT_DBL_NEAR(m->price_in, 0.40, 1e-12);
    ASSERT_DBL_NEAR(m->price_out, 1.60, 1e-12);
    m = allot_config_find_model(c, "local-8b", 8);
    ASSERT(m != NULL);
    ASSERT_STR_EQ(m->provider->name, "local");
    ASSERT_STR_EQ(m->upstream_id, "sim-local-8b?bad-every=4&bad=refusal");
    ASSERT_DBL_NEAR(m->price_in + m->price_out, 0.0, 0.0);

    ASSERT_INT_EQ(c->tiers[ALLOT_TIER_JUDGMENT].n_models, 2);
    ASSERT_STR_EQ(c->tiers[ALLOT_TIER_JUDGMENT].models[0]->name, "frontier-large");
    ASSERT_STR_EQ(c->tiers[ALLOT_TIER_JUDGMENT].models[1]->name, "frontier-mini");
    ASSERT_INT_EQ(c->tiers[ALLOT_TIER_LABOUR].n_models, 2);
    ASSERT_STR_EQ(c->tiers[ALLOT_TIER_LABOUR].models[0]->name, "local-8b");
    ASSERT_STR_EQ(c->tiers[ALLOT_TIER_LABOUR].models[1]->name, "frontier-mini");
    ASSERT_INT_EQ(c->tiers[ALLOT_TIER_CODE].n_models, 1);
    ASSERT_STR_EQ(c->tiers[ALLOT_TIER_CODE].models[0]->name, "frontier-large");

    ASSERT_INT_EQ(c->routing.default_tier, ALLOT_TIER_JUDGMENT);
    ASSERT_DBL_NEAR(c->routing.confidence_threshold, 0.8, 1e-12);
    ASSERT_INT_EQ(c->routing.n_aliases, 1);
    ASSERT_STR_EQ(c->routing.aliases[0], "auto");
    ASSERT_INT_EQ(c->routing.category_tier[ALLOT_CAT_SUMMARIZE], ALLOT_TIER_LABOUR);
    ASSERT_INT_EQ(c->routing.category_tier[ALLOT_CAT_RISK], ALLOT_TIER_JUDGMENT);
    ASSERT_INT_EQ(c->routing.category_tier[ALLOT_CAT_IMPLEMENT], ALLOT_TIER_CODE);

    ASSERT_INT_EQ(c->limits.max_body_bytes, 4194304);
    ASSERT_INT_EQ(c->limits.max_header_bytes, 16384);
    ASSERT_INT_EQ(c->limits.header_timeout_ms, 10000);
    ASSERT_INT_EQ(c->limits.idle_timeout_ms, 60000);
    ASSERT_INT_EQ(c->limits.max_response_bytes, 33554432);
    ASSERT_INT_EQ(c->limits.max_attempts, 3);
    ASSERT_INT_EQ(c->limits.drain_timeout_ms, 10000);
    ASSERT_INT_EQ(c->limits.max_connections, 4096);
    ASSERT_INT_EQ(c->limits.send_timeout_ms, 60000);
    allot_config_free(c);
    allot_buf_release(&err);
}

TEST(config_example_loads_with_key_from_env)
{
    const char *path = "examples/allot.yaml";
    struct allot_config *c = NULL;
    struct allot_buf err;
    const struct allot_provider *p;
    const struct allot_model *m;
    char want[128], saved[512] = "";
    size_t key_line = line_of(path, "api_key: ${OPENAI_API_KEY}");
    int rc;

    ASSERT(key_line > 0);         /* run from the source root */
    if (getenv("OPENAI_API_KEY")) /* put back at the end */
        snprintf(saved, sizeof saved, "%s", getenv("OPENAI_API_KEY"));
    allot_buf_init(&err, 1 << 16);
    ASSERT_INT_EQ(setenv("OPENAI_API_KEY", "sk-test-0123456789", 1), 0);
    rc = allot_config_load(path, &c, &err);
    ASSERT_STR_EQ(allot_buf_cstr(&err), "");
    ASSERT_INT_EQ(rc, 0);
    ASSERT_STR_EQ(c->path, path);
    p = allot_config_find_provider(c, "openai");
    ASSERT(p != NULL);
    ASSERT_STR_EQ(p->api_key, "sk-test-0123456789");
    ASSERT_STR_EQ(p->base_url, "https://api.openai.com/v1");
    p = allot_config_find_provider(c, "ollama");
    ASSERT(p != NULL);
    ASSERT(p->api_key == NULL);
    ASSERT_STR_EQ(p->base_url, "http://127.0.0.1:11434/v1");
    m = allot_config_find_model(c, "gpt-4o", 6);
    ASSERT(m != NULL);
    ASSERT_DBL_NEAR(m->price_in, 2.50, 1e-12);
    ASSERT_DBL_NEAR(m->price_out, 10.00, 1e-12);
    ASSERT_DBL_NEAR(m->price_cached_in, 1.25, 1e-12);
    ASSERT_DBL_NEAR(m->price_cache_write, 2.50, 1e-12); /* unset: input */
    m = allot_config_find_model(c, "gpt-4o-mini", 11);
    ASSERT(m != NULL);
    ASSERT_DBL_NEAR(m->price_in, 0.15, 1e-12);
    ASSERT_DBL_NEAR(m->price_out, 0.60, 1e-12);
    ASSERT_DBL_NEAR(m->price_cached_in, 0.075, 1e-12);
    m = allot_config_find_model(c, "llama3.1-8b", 11);
    ASSERT(m != NULL);
    ASSERT_STR_EQ(m->upstream_id, "llama3.1:8b");
    ASSERT_STR_EQ(m->provider->name, "ollama");
    ASSERT_DBL_NEAR(m->price_in + m->price_out, 0.0, 0.0);
    /* every tier serves from a model of the right provider */
    ASSERT_STR_EQ(c->tiers[ALLOT_TIER_JUDGMENT].models[0]->provider->name, "openai");
    ASSERT_STR_EQ(c->tiers[ALLOT_TIER_LABOUR].models[0]->provider->name, "ollama");
    ASSERT_STR_EQ(c->tiers[ALLOT_TIER_CODE].models[0]->provider->name, "openai");
    ASSERT(c->tiers[ALLOT_TIER_LABOUR].n_models >= 2);
    allot_config_free(c);
    c = NULL;

    /* Without the variable the example is refused, naming it and the line. */
    allot_buf_reset(&err);
    ASSERT_INT_EQ(unsetenv("OPENAI_API_KEY"), 0);
    ASSERT_INT_EQ(allot_config_load(path, &c, &err), ALLOT_ECONFIG);
    ASSERT(c == NULL);
    snprintf(want, sizeof want,
             "examples/allot.yaml:%zu: key 'providers[0].api_key': environment variable "
             "OPENAI_API_KEY is not set\n",
             key_line);
    ASSERT_STR_EQ(allot_buf_cstr(&err), want);
    allot_buf_release(&err);
    if (saved[0])
        setenv("OPENAI_API_KEY", saved, 1);
}

TEST(config_bad_integer_names_file_line_key_and_bounds)
{
    struct allot_config *c;
    struct allot_buf err;
    const char *y = "listen: 127.0.0.1:4000\n"
                    "providers:\n"
                    "  - name: frontier\n"
                    "    base_url: https://api.openai.com/v1\n"
                    "    connect_timeout_ms: 2000\n"
                    "\n"
                    "    timeout_ms: fast\n"
                    "models: [{name: m, provider: frontier}]\n"
                    "tiers: {judgment: [m], labour: [m], code: [m]}\n";

    ASSERT_INT_EQ(load(y, &c, &err), ALLOT_ECONFIG);
    ASSERT(c == NULL);
    ASSERT_STR_EQ(allot_buf_cstr(&err), "t.yaml:7: key 'providers[0].timeout_ms': expected an "
                                        "integer between 1 and 3600000, got \"fast\"\n");
    allot_buf_release(&err);

    ASSERT_INT_EQ(load(MINIMAL "limits:\n  max_attempts: 0\n  max_body_bytes: 1.5\n", &c, &err),
                  ALLOT_ECONFIG);
    ASSERT_STR_EQ(allot_buf_cstr(&err),
                  "t.yaml:12: key 'limits.max_attempts': expected an integer between 1 and 10, "
                  "got \"0\"\n"
                  "t.yaml:13: key 'limits.max_body_bytes': expected an integer between 1024 and "
                  "1073741824, got \"1.5\"\n");
    allot_buf_release(&err);
}

TEST(config_unknown_key_lists_known_keys)
{
    struct allot_config *c;
    struct allot_buf err;

    ASSERT_INT_EQ(load(MINIMAL "limits:\n  max_bodyy: 5\n", &c, &err), ALLOT_ECONFIG);
    ASSERT_STR_EQ(allot_buf_cstr(&err),
                  "t.yaml:12: unknown key 'limits.max_bodyy'; known keys: max_body_bytes, "
                  "max_header_bytes, header_timeout_ms, idle_timeout_ms, max_response_bytes, "
                  "max_attempts, drain_timeout_ms, max_connections, send_timeout_ms, "
                  "cooldown_after, cooldown_ms\n");
    allot_buf_release(&err);

    ASSERT_INT_EQ(load(MINIMAL "listn: 1\n", &c, &err), ALLOT_ECONFIG);
    ASSERT_STR_CONTAINS(allot_buf_cstr(&err), "t.yaml:11: unknown key 'listn'; known keys: "
                                              "listen, workers, store, auth, providers, models, "
                                              "tiers, embeddings, "
                                              "routing, limits, quality, cors\n");
    allot_buf_release(&err);

    /* dotted keys are not shortcuts into sections or list items */
    ASSERT_INT_EQ(load(MINIMAL "providers[].name: x\nlimits.max_attempts: 3\n", &c, &err),
                  ALLOT_ECONFIG);
    ASSERT_STR_CONTAINS(allot_buf_cstr(&err), "t.yaml:11: unknown key 'providers[].name'");
    ASSERT_STR_CONTAINS(allot_buf_cstr(&err), "t.yaml:12: unknown key 'limits.max_attempts'");
    allot_buf_release(&err);

    /* inside a list item, and a tier that does not exist */
    ASSERT_INT_EQ(load("providers:\n  - name: p\n    base_url: http://h\n    apikey: x\n"
                       "models: [{name: m, provider: p}]\n"
                       "tiers: {judgment: [m], labour: [m], code: [m], gold: [m]}\n",
                       &c, &err),
                  ALLOT_ECONFIG);
    ASSERT_STR_CONTAINS(allot_buf_cstr(&err),
                        "t.yaml:4: unknown key 'providers[0].apikey'; known keys: name, kind, "
                        "base_url, api_key, connect_timeout_ms, timeout_ms, max_tokens, "
                        "http_client\n");
    ASSERT_STR_CONTAINS(allot_buf_cstr(&err), "t.yaml:6: unknown key 'tiers.gold'; known keys: "
                                              "judgment, labour, code\n");
    allot_buf_release(&err);
}

TEST(config_duplicate_names_and_keys)
{
    struct allot_config *c;
    struct allot_buf err;
    const char *y = "providers:\n"                 /* 1 */
                    "  - name: p\n"                /* 2 */
                    "    base_url: http://a\n"     /* 3 */
                    "  - name: p\n"                /* 4 */
                    "    base_url: http://b\n"     /* 5 */
                    "models:\n"                    /* 6 */
                    "  - {name: m, provider: p}\n" /* 7 */
                    "  - {name: m, provider: p}\n" /* 8 */
                    "tiers: {judgment: [m], labour: [m], code: [m]}\n"
                    "workers: 2\n"  /* 10 */
                    "workers: 3\n"; /* 11 */

    ASSERT_INT_EQ(load(y, &c, &err), ALLOT_ECONFIG);
    ASSERT_STR_EQ(allot_buf_cstr(&err),
                  "t.yaml:4: key 'providers[1].name': duplicate provider name 'p' (first on line "
                  "2)\n"
                  "t.yaml:8: key 'models[1].name': duplicate model name 'm' (first on line 7)\n"
                  "t.yaml:11: key 'workers': given twice (first on line 10)\n");
    allot_buf_release(&err);
}

TEST(config_unknown_provider_and_model)
{
    struct allot_config *c;
    struct allot_buf err;
    const char *y = "providers:\n"
                    "  - {name: frontier, base_url: http://a}\n"
                    "  - {name: local, base_url: http://b}\n"
                    "models:\n"
                    "  - {name: big, provider: frontierr}\n"
                    "  - {name: small, provider: local}\n"
                    "tiers:\n"
                    "  judgment: [big, gpt-5]\n"
                    "  labour: small\n"
                    "  code: [big]\n";

    ASSERT_INT_EQ(load(y, &c, &err), ALLOT_ECONFIG);
    ASSERT_STR_EQ(allot_buf_cstr(&err),
                  "t.yaml:5: key 'models[0].provider': unknown provider 'frontierr'; providers "
                  "are: frontier, local\n"
                  "t.yaml:8: key 'tiers.judgment[1]': unknown model 'gpt-5'; models are: big, "
                  "small\n");
    allot_buf_release(&err);
}

TEST(config_tier_model_limits)
{
    struct allot_config *c;
    struct allot_buf err;
    char y[2048];
    int i, n = 0;

    /* ALLOT_MAX_TIER_MODELS models fit, one more does not */
    n += snprintf(y + n, sizeof y - (size_t)n,
                  "providers: [{name: p, base_url: http://a}]\n"
                  "models:\n");
    for (i = 0; i <= ALLOT_MAX_TIER_MODELS; i++)
        n += snprintf(y + n, sizeof y - (size_t)n, "  - {name: m%d, provider: p}\n", i);
    n += snprintf(y + n, sizeof y - (size_t)n,
                  "tiers:\n  labour: [m0]\n  code: [m0]\n"
                  "  judgment: [");
    for (i = 0; i < ALLOT_MAX_TIER_MODELS; i++)
        n += snprintf(y + n, sizeof y - (size_t)n, "%sm%d", i ? ", " : "", i);
    snprintf(y + n, sizeof y - (size_t)n, "]\n");
    ASSERT_INT_EQ(load(y, &c, &err), 0);
    ASSERT_INT_EQ(c->tiers[ALLOT_TIER_JUDGMENT].n_models, ALLOT_MAX_TIER_MODELS);
    ASSERT_STR_EQ(c->tiers[ALLOT_TIER_JUDGMENT].models[ALLOT_MAX_TIER_MODELS - 1]->name, "m7");
    allot_config_free(c);
    allot_buf_release(&err);

    snprintf(y + n - 1, sizeof y - (size_t)n + 1, ", m%d]\n", ALLOT_MAX_TIER_MODELS);
    ASSERT_INT_EQ(load(y, &c, &err), ALLOT_ECONFIG);
    ASSERT_STR_CONTAINS(allot_buf_cstr(&err), "key 'tiers.judgment': expected at most 8 models, "
                                              "got 9\n");
    allot_buf_release(&err);

    /* the same model twice in one tier */
    ASSERT_INT_EQ(load("providers: [{name: p, base_url: http://a}]\n"
                       "models: [{name: m, provider: p}]\n"
                       "tiers: {judgment: [m, m], labour: [m], code: [m]}\n",
                       &c, &err),
                  ALLOT_ECONFIG);
    ASSERT_STR_EQ(allot_buf_cstr(&err),
                  "t.yaml:3: key 'tiers.judgment[1]': model 'm' is listed twice in tier "
                  "judgment\n");
    allot_buf_release(&err);
}

TEST(config_empty_tiers_and_no_models)
{
    struct allot_config *c;
    struct allot_buf err;
    const char *base = "providers: [{name: p, base_url: http://a}]\n"
                       "models: [{name: m, provider: p}]\n";
    char y[1024];

    /* code lists nothing but implement goes there by default: refused */
    snprintf(y, sizeof y, "%stiers:\n  judgment: [m]\n  labour: [m]\n", base);
    ASSERT_INT_EQ(load(y, &c, &err), ALLOT_ECONFIG);
    ASSERT_STR_EQ(allot_buf_cstr(&err),
                  "t.yaml:3: key 'tiers.code': lists no models, but routing sends work to it "
                  "(implement); list at least one model, or send that work to another tier with "
                  "routing.categories and routing.default_tier\n");
    allot_buf_release(&err);

    /* ... and accepted once nothing routes there */
    snprintf(y, sizeof y,
             "%stiers:\n  judgment: [m]\n  labour: [m]\n  code: []\n"
             "routing:\n  categories: {implement: judgment}\n",
             base);
    ASSERT_INT_EQ(load(y, &c, &err), 0);
    ASSERT_INT_EQ(c->tiers[ALLOT_TIER_CODE].n_models, 0);
    ASSERT_INT_EQ(c->routing.category_tier[ALLOT_CAT_IMPLEMENT], ALLOT_TIER_JUDGMENT);
    allot_config_free(c);
    allot_buf_release(&err);

    /* the default tier must have models even when no category uses it */
    snprintf(y, sizeof y,
             "%stiers: {labour: [m], code: [m]}\n"
             "routing:\n  categories: {plan: labour, decide: labour, review: labour, risk: "
             "labour, tradeoff: labour, synthesize: labour, solve: labour}\n",
             base);
    ASSERT_INT_EQ(load(y, &c, &err), ALLOT_ECONFIG);
    ASSERT_STR_CONTAINS(allot_buf_cstr(&err),
                        "key 'tiers.judgment': lists no models, but routing sends work to it "
                        "(routing.default_tier)");
    allot_buf_release(&err);

    /* no models at all */
    ASSERT_INT_EQ(load("listen: 127.0.0.1:4000\nmodels: []\n", &c, &err), ALLOT_ECONFIG);
    ASSERT_STR_EQ(allot_buf_cstr(&err),
                  "t.yaml:2: no models configured; list at least one under 'models' and put it "
                  "in a tier (see examples/allot.yaml)\n");
    allot_buf_release(&err);
    ASSERT_INT_EQ(load("", &c, &err), ALLOT_ECONFIG);
    ASSERT_STR_CONTAINS(allot_buf_cstr(&err), "t.yaml: no models configured");
    allot_buf_release(&err);
}

TEST(config_unknown_category_and_tier_names)
{
    struct allot_config *c;
    struct allot_buf err;

    ASSERT_INT_EQ(load(MINIMAL "routing:\n"
                               "  default_tier: platinum\n"
                               "  categories:\n"
                               "    dance: labour\n"
                               "    review: gold\n",
                       &c, &err),
                  ALLOT_ECONFIG);
    ASSERT_STR_EQ(allot_buf_cstr(&err),
                  "t.yaml:12: key 'routing.default_tier': expected a tier: judgment, labour or "
                  "code, got \"platinum\"\n"
                  "t.yaml:14: key 'routing.categories.dance': unknown category 'dance'; "
                  "categories are: plan, decide, review, risk, tradeoff, synthesize, solve, scan, "
                  "extract, summarize, reformat, convert, collect, answer, compose, implement\n"
                  "t.yaml:15: key 'routing.categories.review': unknown tier \"gold\"; tiers are: "
                  "judgment, labour, code\n");
    allot_buf_release(&err);
}

TEST(config_env_resolution)
{
    struct allot_config *c;
    struct allot_buf err;
    const char *y = "providers:\n"
                    "  - name: p\n"
                    "    base_url: http://${ALLOT_TEST_HOST}:11434/v1/\n"
                    "    api_key: ${ALLOT_TEST_KEY}\n"
                    "models:\n"
                    "  - {name: m, provider: p, model: \"cost$$5 $${NOT_A_VAR}\"}\n"
                    "tiers: {judgment: [m], labour: [m], code: [m]}\n";

    ASSERT_INT_EQ(setenv("ALLOT_TEST_HOST", "127.0.0.1", 1), 0);
    ASSERT_INT_EQ(setenv("ALLOT_TEST_KEY", "k-123", 1), 0);
    ASSERT_INT_EQ(load(y, &c, &err), 0);
    ASSERT_STR_EQ(c->providers[0].base_url, "http://127.0.0.1:11434/v1");
    ASSERT_STR_EQ(c->providers[0].api_key, "k-123");
    ASSERT_STR_EQ(c->models[0].upstream_id, "cost$$5 ${NOT_A_VAR}");
    allot_config_free(c);
    allot_buf_release(&err);

    ASSERT_INT_EQ(unsetenv("ALLOT_TEST_KEY"), 0);
    ASSERT_INT_EQ(load(y, &c, &err), ALLOT_ECONFIG);
    ASSERT_STR_EQ(allot_buf_cstr(&err), "t.yaml:4: key 'providers[0].api_key': environment "
                                        "variable ALLOT_TEST_KEY is not set\n");
    allot_buf_release(&err);

    ASSERT_INT_EQ(load(MINIMAL "store: ${1BAD}\n", &c, &err), ALLOT_ECONFIG);
    ASSERT_STR_CONTAINS(allot_buf_cstr(&err), "t.yaml:11: key 'store': malformed ${...}");
    allot_buf_release(&err);
    ASSERT_INT_EQ(unsetenv("ALLOT_TEST_HOST"), 0);
}

TEST(config_secrets_never_in_messages)
{
    struct allot_config *c;
    struct allot_buf err, keys;
    const char *y = "providers:\n"
                    "  - name: p\n"
                    "    base_url: http://a\n"
                    "    api_key: \"sk-LITERALSECRET with a space\"\n"
                    "  - name: q\n"
                    "    base_url: http://b\n"
                    "    api_key: ${ALLOT_TEST_SECRET}\n"
                    "  - name: r\n"
                    "    base_url: http://c\n"
                    "    api_key: [sk-LISTSECRET]\n"
                    "models: [{name: m, provider: p}]\n"
                    "tiers: {judgment: [m], labour: [m], code: [m]}\n";

    ASSERT_INT_EQ(setenv("ALLOT_TEST_SECRET", "sk-ENVSECRET\r\nX-Evil: 1", 1), 0);
    ASSERT_INT_EQ(load(y, &c, &err), ALLOT_ECONFIG);
    ASSERT_STR_CONTAINS(allot_buf_cstr(&err), "t.yaml:4: key 'providers[0].api_key': expected a "
                                              "non-empty API key without spaces or control "
                                              "characters (value not shown)\n");
    ASSERT_STR_CONTAINS(allot_buf_cstr(&err), "t.yaml:7: key 'providers[1].api_key'");
    ASSERT_STR_CONTAINS(allot_buf_cstr(&err), "t.yaml:10: key 'providers[2].api_key'");
    ASSERT(!strstr(allot_buf_cstr(&err), "SECRET"));
    allot_buf_release(&err);

    /* a valid key is not echoed by the errors of other keys either */
    ASSERT_INT_EQ(setenv("ALLOT_TEST_SECRET", "sk-ENVSECRET", 1), 0);
    ASSERT_INT_EQ(load("providers:\n"
                       "  - {name: p, base_url: http://a, api_key: sk-LITERALSECRET, timeout_ms: "
                       "\"${ALLOT_TEST_SECRET}\"}\n"
                       "  - {name: q, base_url: \"${ALLOT_TEST_SECRET}\"}\n",
                       &c, &err),
                  ALLOT_ECONFIG);
    ASSERT_STR_CONTAINS(allot_buf_cstr(&err),
                        "got \"${ALLOT_TEST_SECRET}\""); /* as written, not expanded */
    ASSERT(!strstr(allot_buf_cstr(&err), "sk-"));
    allot_buf_release(&err);
    ASSERT_INT_EQ(unsetenv("ALLOT_TEST_SECRET"), 0);

    allot_buf_init(&keys, 1 << 16);
    ASSERT_INT_EQ(allot_config_describe_keys(&keys), 0);
    ASSERT(!strstr(allot_buf_cstr(&keys), "sk-"));
    allot_buf_release(&keys);
}

TEST(config_yaml_syntax_errors_have_lines)
{
    struct allot_config *c;
    struct allot_buf err;

    ASSERT_INT_EQ(load(MINIMAL "limits: [1, 2\nworkers: 3\n", &c, &err), ALLOT_ECONFIG);
    ASSERT_STR_EQ(allot_buf_cstr(&err), "t.yaml:12: YAML syntax error: did not find expected ',' "
                                        "or ']' (while parsing a flow sequence on line 11)\n");
    allot_buf_release(&err);

    ASSERT_INT_EQ(load("providers:\n  - name: p\n\tbase_url: x\n", &c, &err), ALLOT_ECONFIG);
    ASSERT_STR_CONTAINS(allot_buf_cstr(&err), "t.yaml:3: YAML syntax error: ");
    allot_buf_release(&err);

    ASSERT_INT_EQ(load(MINIMAL "store: \"\xff\"\n", &c, &err), ALLOT_ECONFIG);
    ASSERT_STR_EQ(allot_buf_cstr(&err),
                  "t.yaml:11: YAML syntax error: invalid leading UTF-8 octet (byte 152)\n");
    allot_buf_release(&err);

    ASSERT_INT_EQ(load(MINIMAL "x: &a 1\ny: *a\n", &c, &err), ALLOT_ECONFIG);
    ASSERT_STR_EQ(allot_buf_cstr(&err),
                  "t.yaml:12: YAML aliases (*name) are not supported; repeat the value\n");
    allot_buf_release(&err);

    ASSERT_INT_EQ(load(MINIMAL "---\nworkers: 2\n", &c, &err), ALLOT_ECONFIG);
    ASSERT_STR_CONTAINS(allot_buf_cstr(&err), "t.yaml:11: a second YAML document");
    allot_buf_release(&err);

    ASSERT_INT_EQ(load("- a\n- b\n", &c, &err), ALLOT_ECONFIG);
    ASSERT_STR_CONTAINS(allot_buf_cstr(&err), "t.yaml:1: expected a mapping of keys");
    allot_buf_release(&err);
}

TEST(config_cache_prices_default_to_input)
{
    struct allot_config *c;
    struct allot_buf err;

    ASSERT_INT_EQ(load("providers: [{name: p, base_url: \"http://127.0.0.1:9/v1\"}]\n"
                       "models:\n"
                       /* cache prices before input: still input's value */
                       "  - {name: a, provider: p, price: {output: 8, input: 2}}\n"
                       "  - {name: b, provider: p, price: {cached_input: 0.5, input: 2, "
                       "cache_write: 2.5, output: 8}}\n"
                       "  - {name: c, provider: p, price: {input: 3, cached_input: 0}}\n"
                       "  - {name: d, provider: p}\n"
                       "tiers: {judgment: [a], labour: [b], code: [c]}\n",
                       &c, &err),
                  0);
    ASSERT_DBL_NEAR(c->models[0].price_cached_in, 2.0, 0.0);
    ASSERT_DBL_NEAR(c->models[0].price_cache_write, 2.0, 0.0);
    ASSERT_DBL_NEAR(c->models[1].price_in, 2.0, 0.0);
    ASSERT_DBL_NEAR(c->models[1].price_cached_in, 0.5, 0.0);
    ASSERT_DBL_NEAR(c->models[1].price_cache_write, 2.5, 0.0);
    /* an explicit 0 is free, not unset */
    ASSERT_DBL_NEAR(c->models[2].price_cached_in, 0.0, 0.0);
    ASSERT_DBL_NEAR(c->models[2].price_cache_write, 3.0, 0.0);
    ASSERT_DBL_NEAR(c->models[3].price_cached_in, 0.0, 0.0);
    ASSERT_DBL_NEAR(c->models[3].price_cache_write, 0.0, 0.0);
    allot_config_free(c);
    allot_buf_release(&err);

    ASSERT_INT_EQ(load("providers: [{name: p, base_url: \"http://127.0.0.1:9/v1\"}]\n"
                       "models:\n"
                       "  - {name: m, provider: p, price: {input: 1, cached_input: -0.1,\n"
                       "     cache_write: 1e7}}\n"
                       "  - {name: n, provider: p, price: {cached_input: cheap}}\n"
                       "tiers: {judgment: [m], labour: [m], code: [m]}\n",
                       &c, &err),
                  ALLOT_ECONFIG);
    ASSERT_STR_EQ(allot_buf_cstr(&err),
                  "t.yaml:3: key 'models[0].price.cached_input': expected a number between 0 "
                  "and 1000000, got \"-0.1\"\n"
                  "t.yaml:4: key 'models[0].price.cache_write': expected a number between 0 "
                  "and 1000000, got \"1e7\"\n"
                  "t.yaml:5: key 'models[1].price.cached_input': expected a number between 0 "
                  "and 1000000, got \"cheap\"\n");
    allot_buf_release(&err);
}

TEST(config_base_url_price_and_listen_checks)
{
    struct allot_config *c;
    struct allot_buf err;
    static const struct {
        const char *listen, *host;
        int port;
    } ok[] = {{"0.0.0.0:8080", "0.0.0.0", 8080},
              {"[::1]:4000", "::1", 4000},
              {"localhost:1", "localhost", 1},
              {"127.0.0.1:65535", "127.0.0.1", 65535}};
    static const char *const bad[] = {"localhost", "::1:4000",  "127.0.0.1:0",  "127.0.0.1:65536",
                                      ":4000",     "[::1]4000", "127.0.0.1:-1", "h:80x"};
    char y[512];
    size_t i;

    ASSERT_INT_EQ(load("providers:\n"
                       "  - {name: a, base_url: ftp://x/v1}\n"
                       "  - {name: b, base_url: \"https://\"}\n"
                       "  - {name: c, base_url: HTTPS://api.example.com/v1//}\n"
                       "models:\n"
                       "  - {name: m, provider: c, price: {input: -0.5, output: 1}}\n"
                       "tiers: {judgment: [m], labour: [m], code: [m]}\n",
                       &c, &err),
                  ALLOT_ECONFIG);
    ASSERT_STR_EQ(allot_buf_cstr(&err),
                  "t.yaml:2: key 'providers[0].base_url': expected an http:// or https:// URL, "
                  "got \"ftp://x/v1\"\n"
                  "t.yaml:3: key 'providers[1].base_url': expected an http:// or https:// URL, "
                  "got \"https://\"\n"
                  "t.yaml:6: key 'models[0].price.input': expected a number between 0 and "
                  "1000000, got \"-0.5\"\n");
    allot_buf_release(&err);

    ASSERT_INT_EQ(load("providers: [{name: c, base_url: \"https://api.example.com/v1//\"}]\n"
                       "models: [{name: m, provider: c}]\n"
                       "tiers: {judgment: [m], labour: [m], code: [m]}\n",
                       &c, &err),
                  0);
    ASSERT_STR_EQ(c->providers[0].base_url, "https://api.example.com/v1");
    allot_config_free(c);
    allot_buf_release(&err);

    for (i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        snprintf(y, sizeof y, MINIMAL "listen: \"%s\"\n", ok[i].listen);
        ASSERT_INT_EQ(load(y, &c, &err), 0);
        ASSERT_STR_EQ(c->listen_host, ok[i].host);
        ASSERT_INT_EQ(c->listen_port, ok[i].port);
        allot_config_free(c);
        allot_buf_release(&err);
    }
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(y, sizeof y, MINIMAL "listen: \"%s\"\n", bad[i]);
        ASSERT_INT_EQ(load(y, &c, &err), ALLOT_ECONFIG);
        ASSERT_STR_CONTAINS(allot_buf_cstr(&err), "t.yaml:11: key 'listen': expected ");
        ASSERT_STR_CONTAINS(allot_buf_cstr(&err), bad[i]);
        allot_buf_release(&err);
    }
}

TEST(config_round_trip_of_values)
{
    struct allot_config *c;
    struct allot_buf err;
    const char *y = "listen: \"[::1]:4100\"\n"
                    "workers: 4\n"
                    "store: {path: /var/lib/allot/ledger.db, commit_ms: 50}\n"
                    "providers:\n"
                    "  - name: cloud\n"
                    "    kind: openai\n"
                    "    base_url: https://api.openai.com/v1\n"
                    "    connect_timeout_ms: 1500\n"
                    "    timeout_ms: 90000\n"
                    "    http_client: curl\n"
                    "  - name: box\n"
                    "    base_url: http://10.0.0.2:8000/v1\n"
                    "models:\n"
                    "  - name: gpt-4o\n"
                    "    provider: cloud\n"
                    "    price: {input: 2.50, output: 10.00}\n"
                    "    context_window: 128000\n"
                    "  - name: gpt-4.1\n"
                    "    provider: cloud\n"
                    "    price: {input: 2, output: 8}\n"
                    "  - name: qwen\n"
                    "    provider: box\n"
                    "    model: Qwen/Qwen2.5-7B-Instruct\n"
                    "tiers:\n"
                    "  judgment: [gpt-4.1, gpt-4o]\n"
                    "  labour: [qwen, gpt-4o, gpt-4.1]\n"
                    "  code: gpt-4.1\n"
                    "routing:\n"
                    "  default_tier: labor\n"
                    "  confidence_threshold: 0.75\n"
                    "  aliases: [allot, router]\n"
                    "  categories: {summarise: judgment, review: labour, implement: judgment}\n"
                    "limits:\n"
                    "  max_body_bytes: 1048576\n"
                    "  max_header_bytes: 8192\n"
                    "  header_timeout_ms: 5000\n"
                    "  idle_timeout_ms: 30000\n"
                    "  max_response_bytes: 2097152\n"
                    "  max_attempts: 5\n"
                    "  drain_timeout_ms: 0\n";

    ASSERT_INT_EQ(load(y, &c, &err), 0);
    ASSERT_STR_EQ(c->listen_host, "::1");
    ASSERT_INT_EQ(c->listen_port, 4100);
    ASSERT_INT_EQ(c->workers, 4);
    ASSERT_STR_EQ(c->store_path, "/var/lib/allot/ledger.db");
    ASSERT_INT_EQ(c->store_commit_ms, 50);
    ASSERT_INT_EQ(c->providers[0].connect_timeout_ms, 1500);
    ASSERT_INT_EQ(c->providers[0].timeout_ms, 90000);
    ASSERT_INT_EQ(c->providers[1].connect_timeout_ms, 2000); /* defaults per item */
    ASSERT_INT_EQ(c->providers[1].timeout_ms, 120000);
    ASSERT_STR_EQ(c->providers[1].kind, "openai");
    ASSERT_STR_EQ(c->providers[0].http_client, "curl");
    ASSERT(allot_provider_forces_curl(&c->providers[0]));
    ASSERT_STR_EQ(c->providers[1].http_client, "auto"); /* the default */
    ASSERT(!allot_provider_forces_curl(&c->providers[1]));
    ASSERT_DBL_NEAR(c->models[0].price_in, 2.50, 1e-12);
    ASSERT_DBL_NEAR(c->models[0].price_out, 10.00, 1e-12);
    ASSERT_INT_EQ(c->models[0].context_window, 128000);
    ASSERT_STR_EQ(c->models[0].upstream_id, "gpt-4o"); /* defaults to the name */
    ASSERT_DBL_NEAR(c->models[1].price_out, 8.0, 1e-12);
    ASSERT_INT_EQ(c->models[1].context_window, 0);
    ASSERT_STR_EQ(c->models[2].upstream_id, "Qwen/Qwen2.5-7B-Instruct");
    ASSERT(c->models[2].provider == &c->providers[1]);
    ASSERT_DBL_NEAR(c->models[2].price_in, 0.0, 0.0);

    ASSERT_INT_EQ(c->tiers[ALLOT_TIER_JUDGMENT].n_models, 2);
    ASSERT(c->tiers[ALLOT_TIER_JUDGMENT].models[0] == &c->models[1]);
    ASSERT(c->tiers[ALLOT_TIER_JUDGMENT].models[1] == &c->models[0]);
    ASSERT_INT_EQ(c->tiers[ALLOT_TIER_LABOUR].n_models, 3);
    ASSERT_STR_EQ(c->tiers[ALLOT_TIER_LABOUR].models[0]->name, "qwen");
    ASSERT_STR_EQ(c->tiers[ALLOT_TIER_LABOUR].models[1]->name, "gpt-4o");
    ASSERT_STR_EQ(c->tiers[ALLOT_TIER_LABOUR].models[2]->name, "gpt-4.1");
    ASSERT_INT_EQ(c->tiers[ALLOT_TIER_CODE].n_models, 1);
    ASSERT_STR_EQ(c->tiers[ALLOT_TIER_CODE].models[0]->name, "gpt-4.1");

    ASSERT_INT_EQ(c->routing.default_tier, ALLOT_TIER_LABOUR);
    ASSERT_DBL_NEAR(c->routing.confidence_threshold, 0.75, 1e-12);
    ASSERT_INT_EQ(c->routing.n_aliases, 3); /* "auto" is always one */
    ASSERT_STR_EQ(c->routing.aliases[0], "auto");
    ASSERT_STR_EQ(c->routing.aliases[1], "allot");
    ASSERT_STR_EQ(c->routing.aliases[2], "router");
    ASSERT_INT_EQ(c->routing.category_tier[ALLOT_CAT_SUMMARIZE], ALLOT_TIER_JUDGMENT);
    ASSERT_INT_EQ(c->routing.category_tier[ALLOT_CAT_REVIEW], ALLOT_TIER_LABOUR);
    ASSERT_INT_EQ(c->routing.category_tier[ALLOT_CAT_IMPLEMENT], ALLOT_TIER_JUDGMENT);
    ASSERT_INT_EQ(c->routing.category_tier[ALLOT_CAT_EXTRACT], ALLOT_TIER_LABOUR); /* kept */
    ASSERT_INT_EQ(c->routing.category_tier[ALLOT_CAT_PLAN], ALLOT_TIER_JUDGMENT);

    ASSERT_INT_EQ(c->limits.max_body_bytes, 1048576);
    ASSERT_INT_EQ(c->limits.max_header_bytes, 8192);
    ASSERT_INT_EQ(c->limits.header_timeout_ms, 5000);
    ASSERT_INT_EQ(c->limits.idle_timeout_ms, 30000);
    ASSERT_INT_EQ(c->limits.max_response_bytes, 2097152);
    ASSERT_INT_EQ(c->limits.max_attempts, 5);
    ASSERT_INT_EQ(c->limits.drain_timeout_ms, 0);

    ASSERT(allot_config_find_model(c, "gpt-4.1", 7) == &c->models[1]);
    ASSERT(allot_config_find_model(c, "gpt-4.1x", 7) == &c->models[1]); /* by length */
    ASSERT(allot_config_find_model(c, "gpt-4", 5) == NULL);
    ASSERT(allot_config_find_provider(c, "box") == &c->providers[1]);
    ASSERT(allot_config_find_provider(c, "Box") == NULL);
    allot_config_free(c);
    allot_buf_release(&err);
}

TEST(config_store_shorthand_and_null_keeps_default)
{
    struct allot_config *c;
    struct allot_buf err;

    ASSERT_INT_EQ(load(MINIMAL "store: /tmp/x.db\nworkers:\nlimits: ~\n", &c, &err), 0);
    ASSERT_STR_EQ(c->store_path, "/tmp/x.db");
    ASSERT_INT_EQ(c->store_commit_ms, 20);
    ASSERT_INT_EQ(c->workers, 1);
    ASSERT_INT_EQ(c->limits.max_attempts, 3);
    allot_config_free(c);
    allot_buf_release(&err);
}

TEST(config_required_keys_and_reserved_names)
{
    struct allot_config *c;
    struct allot_buf err;

    ASSERT_INT_EQ(load("providers:\n"
                       "  - name: p\n"
                       "models:\n"
                       "  - name: \"allot:judgment\"\n"
                       "    provider: p\n"
                       "  - model: x\n"
                       "  - {name: auto, provider: p}\n"
                       "tiers: {judgment: [auto], labour: [auto], code: [auto]}\n",
                       &c, &err),
                  ALLOT_ECONFIG);
    ASSERT_STR_EQ(allot_buf_cstr(&err),
                  "t.yaml:2: key 'providers[0]': missing 'base_url'\n"
                  "t.yaml:4: key 'models[0].name': model names cannot start with \"allot:\", "
                  "which names a tier\n"
                  "t.yaml:6: key 'models[1]': missing 'name'\n"
                  "t.yaml:6: key 'models[1]': missing 'provider'\n"
                  "t.yaml:7: key 'models[2].name': 'auto' is a routing alias (routing.aliases), "
                  "so it cannot name a model\n");
    allot_buf_release(&err);

    ASSERT_INT_EQ(load(MINIMAL "routing: {aliases: [m]}\n", &c, &err), ALLOT_ECONFIG);
    ASSERT_STR_CONTAINS(allot_buf_cstr(&err), "t.yaml:5: key 'models[0].name': 'm' is a routing "
                                              "alias");
    allot_buf_release(&err);

    /* '*' only at the end: a prefix */
    ASSERT_INT_EQ(load(MINIMAL "routing: {aliases: [claude-*, '*x']}\n", &c, &err), ALLOT_ECONFIG);
    ASSERT_STR_CONTAINS(allot_buf_cstr(&err), "key 'routing.aliases[1]': '*' may only end an "
                                              "alias (a prefix: \"claude-*\"), got \"*x\"");
    ASSERT(!strstr(allot_buf_cstr(&err), "aliases[0]"));
    allot_buf_release(&err);
}

TEST(config_errors_are_capped)
{
    struct allot_config *c;
    struct allot_buf err;
    char y[4096];
    int i, n = 0;

    n += snprintf(y + n, sizeof y - (size_t)n, "limits:\n");
    for (i = 0; i < 30; i++)
        n += snprintf(y + n, sizeof y - (size_t)n, "  bad%d: 1\n", i);
    ASSERT_INT_EQ(load(y, &c, &err), ALLOT_ECONFIG);
    /* 20 lines, then a count of the rest (30 + "no models configured") */
    ASSERT_INT_EQ(count_lines(allot_buf_cstr(&err)), 21);
    ASSERT_STR_CONTAINS(allot_buf_cstr(&err), "t.yaml:2: unknown key 'limits.bad0'");
    ASSERT_STR_CONTAINS(allot_buf_cstr(&err), "t.yaml: 11 more errors not shown\n");
    allot_buf_release(&err);
}

TEST(config_missing_file_is_eio)
{
    struct allot_config *c = (struct allot_config *)&c; /* must stay untouched */
    struct allot_buf err;

    allot_buf_init(&err, 4096);
    ASSERT_INT_EQ(allot_config_load("/nonexistent/allot.yaml", &c, &err), ALLOT_EIO);
    ASSERT(c == (struct allot_config *)&c);
    ASSERT_STR_EQ(allot_buf_cstr(&err),
                  "/nonexistent/allot.yaml: cannot open: No such file or directory\n");
    allot_buf_release(&err);
}

TEST(config_describe_keys_and_docs_cover_every_key)
{
    struct allot_buf keys;
    const char *k, *eol;
    char *doc = NULL;
    size_t doc_len = 0;
    FILE *f;
    int n_keys = 0;

    allot_buf_init(&keys, 1 << 16);
    ASSERT_INT_EQ(allot_config_describe_keys(&keys), 0);
    ASSERT_STR_CONTAINS(allot_buf_cstr(&keys), "providers[].timeout_ms: an integer between 1 and "
                                               "3600000 (default 120000)\n");
    ASSERT_STR_CONTAINS(allot_buf_cstr(&keys), "providers[].base_url: an http:// or https:// URL "
                                               "(required)\n");
    ASSERT_STR_CONTAINS(allot_buf_cstr(&keys), "limits.max_body_bytes: an integer between 1024 "
                                               "and 1073741824 (default 4194304)\n");

    /* docs/config.md documents every key of the table */
    f = fopen("docs/config.md", "r");
    ASSERT(f != NULL);
    doc = malloc(1 << 20);
    if (doc)
        doc_len = fread(doc, 1, (1 << 20) - 1, f);
    fclose(f);
    ASSERT(doc != NULL);
    doc[doc_len] = '\0';
    for (k = allot_buf_cstr(&keys); *k; k = eol + 1) {
        char want[128];
        size_t n;
        eol = strchr(k, '\n');
        if (!eol)
            break;
        if (*k == ' ')
            continue;
        n = strcspn(k, ":");
        snprintf(want, sizeof want, "`%.*s`", (int)n, k);
        n_keys++;
        if (!strstr(doc, want)) {
            free(doc);
            allot_buf_release(&keys);
            TEST_FAIL_("docs/config.md does not document %s", want);
        }
    }
    free(doc);
    allot_buf_release(&keys);
    ASSERT(n_keys >= 30);
}

TEST(config_store_is_a_file_or_a_postgres_url)
{
    struct allot_config *c = NULL;
    struct allot_buf err;

    ASSERT_INT_EQ(load(MINIMAL, &c, &err), 0);
    ASSERT_STR_EQ(allot_config_store(c), "./allot.db");
    ASSERT(c->store_url == NULL);
    allot_config_free(c);
    allot_buf_release(&err);

    ASSERT_INT_EQ(load(MINIMAL "store: /var/lib/allot/ledger.db\n", &c, &err), 0);
    ASSERT_STR_EQ(allot_config_store(c), "/var/lib/allot/ledger.db");
    allot_config_free(c);
    allot_buf_release(&err);

    /* the short form picks the store by what it is */
    ASSERT_INT_EQ(load(MINIMAL "store: postgresql://allot@db:5432/allot\n", &c, &err), 0);
    ASSERT_STR_EQ(allot_config_store(c), "postgresql://allot@db:5432/allot");
    allot_config_free(c);
    allot_buf_release(&err);

    ASSERT_INT_EQ(load(MINIMAL "store:\n  url: postgres://allot@db/allot?sslmode=require\n"
                               "  commit_ms: 50\n",
                       &c, &err),
                  0);
    ASSERT_STR_EQ(allot_config_store(c), "postgres://allot@db/allot?sslmode=require");
    ASSERT_INT_EQ(c->store_commit_ms, 50);
    allot_config_free(c);
    allot_buf_release(&err);
}

TEST(config_store_errors_never_show_a_password)
{
    struct allot_config *c = NULL;
    struct allot_buf err;

    /* store.url must be PostgreSQL's */
    ASSERT_INT_EQ(load(MINIMAL "store:\n  url: mysql://u:hunter2@db/allot\n", &c, &err),
                  ALLOT_ECONFIG);
    ASSERT_STR_CONTAINS(allot_buf_cstr(&err),
                        "t.yaml:12: key 'store.url': expected a postgresql://");
    ASSERT(strstr(allot_buf_cstr(&err), "hunter2") == NULL);
    allot_buf_release(&err);

    /* a mistyped scheme is not taken for a file name */
    ASSERT_INT_EQ(load(MINIMAL "store: postgre://u:hunter2@db/allot\n", &c, &err), ALLOT_ECONFIG);
    ASSERT_STR_CONTAINS(allot_buf_cstr(&err), "key 'store': expected a postgresql://");
    ASSERT(strstr(allot_buf_cstr(&err), "hunter2") == NULL);
    allot_buf_release(&err);

    ASSERT_INT_EQ(load(MINIMAL "store: \"postgresql://u:hunter2@db/al lot\"\n", &c, &err),
                  ALLOT_ECONFIG);
    ASSERT(strstr(allot_buf_cstr(&err), "hunter2") == NULL);
    allot_buf_release(&err);

    ASSERT_INT_EQ(load(MINIMAL "store:\n  path: ./a.db\n  url: postgresql://db/allot\n", &c, &err),
                  ALLOT_ECONFIG);
    ASSERT_STR_CONTAINS(allot_buf_cstr(&err), "store.url': give store.path");
    allot_buf_release(&err);
}

TEST(config_cors_allow_origins)
{
    struct allot_config *c = NULL;
    struct allot_buf err;

    ASSERT_INT_EQ(load(MINIMAL, &c, &err), 0);
    ASSERT_INT_EQ(c->n_cors_origins, 0); /* off by default */
    allot_config_free(c);
    allot_buf_release(&err);

    ASSERT_INT_EQ(load(MINIMAL
                       "cors:\n"
                       "  allow_origins: [https://app.example.com, 'http://localhost:3000',\n"
                       "                  chrome-extension://abcdef, '*']\n",
                       &c, &err),
                  0);
    ASSERT_INT_EQ(c->n_cors_origins, 4);
    ASSERT_STR_EQ(c->cors_origins[0], "https://app.example.com");
    ASSERT_STR_EQ(c->cors_origins[1], "http://localhost:3000");
    ASSERT_STR_EQ(c->cors_origins[2], "chrome-extension://abcdef");
    ASSERT_STR_EQ(c->cors_origins[3], "*");
    allot_config_free(c);
    allot_buf_release(&err);

    /* one origin may be written without the list */
    ASSERT_INT_EQ(load(MINIMAL "cors: {allow_origins: https://a.example}\n", &c, &err), 0);
    ASSERT_INT_EQ(c->n_cors_origins, 1);
    allot_config_free(c);
    allot_buf_release(&err);

    ASSERT_INT_EQ(load(MINIMAL "cors:\n"
                               "  allow_origins:\n"
                               "    - https://app.example.com/\n"
                               "    - app.example.com\n"
                               "    - https://App.example.com\n"
                               "    - https://a.example\n"
                               "    - https://a.example\n"
                               "    - {x: 1}\n"
                               "    - 'https://'\n",
                       &c, &err),
                  ALLOT_ECONFIG);
    ASSERT_STR_EQ(allot_buf_cstr(&err),
                  "t.yaml:13: key 'cors.allow_origins[0]': an origin has no path: drop what "
                  "follows the host (a trailing '/' too), got \"https://app.example.com/\"\n"
                  "t.yaml:14: key 'cors.allow_origins[1]': expected scheme://host[:port] (lower "
                  "case), e.g. https://app.example.com, got \"app.example.com\"\n"
                  "t.yaml:15: key 'cors.allow_origins[2]': expected scheme://host[:port] in lower "
                  "case ASCII without spaces, got \"https://App.example.com\"\n"
                  "t.yaml:17: key 'cors.allow_origins[4]': origin \"https://a.example\" is listed "
                  "twice\n"
                  "t.yaml:18: key 'cors.allow_origins[5]': expected an origin, got a mapping\n"
                  "t.yaml:19: key 'cors.allow_origins[6]': expected a host after \"://\", got "
                  "\"https://\"\n");
    allot_buf_release(&err);
}

/* The list keys share their item checks (list_item_text, append_unique):
 * each still names its own kind of item. */
TEST(config_list_items_name_their_kind)
{
    struct allot_config *c = NULL;
    struct allot_buf err;

    ASSERT_INT_EQ(load(MINIMAL "routing: {aliases: [x, x, {a: 1}]}\n"
                               "quality: {refusals: ['^no', {a: 1}]}\n"
                               "cors: {allow_origins: ['https://a.b', 'https://a.b']}\n",
                       &c, &err),
                  ALLOT_ECONFIG);
    ASSERT_STR_EQ(allot_buf_cstr(&err),
                  "t.yaml:11: key 'routing.aliases[1]': alias \"x\" is listed twice\n"
                  "t.yaml:11: key 'routing.aliases[2]': expected a name, got a mapping\n"
                  "t.yaml:12: key 'quality.refusals[1]': expected a regular expression, got a "
                  "mapping\n"
                  "t.yaml:13: key 'cors.allow_origins[1]': origin \"https://a.b\" is listed "
                  "twice\n");
    allot_buf_release(&err);
}
