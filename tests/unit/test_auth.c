/* test_auth.c: client keys: auth.keys in allot.yaml, their digests, and
 * who a request's headers name (auth.h, sha256.h). */
#include <stdlib.h>
#include <string.h>
#include "allot/auth.h"
#include "allot/buf.h"
#include "allot/config.h"
#include "allot/error.h"
#include "allot/sha256.h"
#include "test.h"

/* A valid config of 3 lines; tests append auth from line 4 on. */
#define BASE                                                                                       \
    "providers: [{name: p, base_url: http://127.0.0.1:9/v1}]\n"                                    \
    "models: [{name: m, provider: p}]\n"                                                           \
    "tiers: {judgment: [m], labour: [m], code: [m]}\n"

/* SHA-256 of "sk-allot-test-key-number-two", as `allot config new-key`
 * would print it (checked against sha256sum). */
#define KEY2 "sk-allot-test-key-number-two"
#define KEY2_SHA "15b2d54f11100379dfb1f384de6630142672eff640aaf340d81ace86c4399b05"

static int load(const char *yaml, struct allot_config **c, struct allot_buf *err)
{
    allot_buf_init(err, 1 << 16);
    *c = NULL;
    return allot_config_load_mem("t.yaml", yaml, strlen(yaml), c, err);
}

static struct allot_slice s(const char *z)
{
    return allot_slice_cstr(z);
}

static const struct allot_slice none = {NULL, 0};

TEST(sha256_known_vectors_and_hex)
{
    unsigned char d[ALLOT_SHA256_LEN], e[ALLOT_SHA256_LEN];
    char hex[2 * ALLOT_SHA256_LEN + 1];

    allot_sha256("abc", 3, d); /* FIPS 180-2, appendix B.1 */
    allot_sha256_hex(d, hex);
    ASSERT_STR_EQ(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    allot_sha256("", 0, d);
    allot_sha256_hex(d, hex);
    ASSERT_STR_EQ(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    ASSERT_INT_EQ(allot_sha256_parse_hex(hex, strlen(hex), e), 0);
    ASSERT(allot_sha256_equal(d, e));
    ASSERT_INT_EQ(allot_sha256_parse_hex("E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B"
                                         "7852B855",
                                         64, e),
                  0);
    ASSERT(allot_sha256_equal(d, e));
    e[31] ^= 1;
    ASSERT(!allot_sha256_equal(d, e));
    ASSERT_INT_EQ(allot_sha256_parse_hex(hex, 63, e), -1);
    ASSERT_INT_EQ(allot_sha256_parse_hex("g3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b"
                                         "7852b855",
                                         64, e),
                  -1);
}

TEST(auth_config_loads_keys_as_digests_only)
{
    struct allot_config *c;
    struct allot_buf err;
    unsigned char d[ALLOT_SHA256_LEN];
    char hex[2 * ALLOT_SHA256_LEN + 1];

    ASSERT_INT_EQ(setenv("ALLOT_TEST_CLIENT_KEY", "sk-from-the-environment-1", 1), 0);
    ASSERT_INT_EQ(load(BASE "auth:\n"
                            "  keys:\n"
                            "    - {name: team-a, key: \"${ALLOT_TEST_CLIENT_KEY}\"}\n"
                            "    - {name: ci, key_sha256: " KEY2_SHA "}\n",
                       &c, &err),
                  0);
    ASSERT_STR_EQ(allot_buf_cstr(&err), "");
    ASSERT_INT_EQ(c->n_client_keys, 2);
    ASSERT_STR_EQ(c->client_keys[0].name, "team-a");
    ASSERT(c->client_keys[0].key == NULL); /* hashed, zeroed and freed at load */
    allot_sha256("sk-from-the-environment-1", 25, d);
    ASSERT(allot_sha256_equal(c->client_keys[0].digest, d));
    allot_sha256(KEY2, strlen(KEY2), d);
    allot_sha256_hex(d, hex);
    ASSERT_STR_EQ(hex, KEY2_SHA);
    ASSERT(allot_sha256_equal(c->client_keys[1].digest, d));
    allot_config_free(c);
    allot_buf_release(&err);
    ASSERT_INT_EQ(unsetenv("ALLOT_TEST_CLIENT_KEY"), 0);

    /* no auth section, or an empty list: the gateway is open */
    ASSERT_INT_EQ(load(BASE "auth: {keys: []}\n", &c, &err), 0);
    ASSERT_INT_EQ(c->n_client_keys, 0);
    allot_config_free(c);
    allot_buf_release(&err);
}

TEST(auth_config_errors_name_the_key_and_never_show_it)
{
    struct allot_config *c;
    struct allot_buf err;
    const char *y = BASE "auth:\n"                                         /* 4 */
                         "  keys:\n"                                       /* 5 */
                         "    - {name: short, key: sk-SHORTSECRET}\n"      /* 6 */
                         "    - {name: both, key: sk-BOTHSECRET-123456,\n" /* 7 */
                         "       key_sha256: " KEY2_SHA "}\n"              /* 8 */
                         "    - {name: neither}\n"                         /* 9 */
                         "    - {name: badhex, key_sha256: abc123}\n"      /* 10 */
                         "    - {key: sk-NONAMESECRET-123456}\n"           /* 11 */
                         "    - {name: a, key: sk-SAMESECRET-1234567}\n"   /* 12 */
                         "    - {name: a, key: sk-OTHERSECRET-123456}\n"   /* 13 */
                         "    - {name: b, key: sk-SAMESECRET-1234567}\n"   /* 14 */
                         "    - {name: c, key: \"sk-SPACE SECRET-123\"}\n" /* 15 */
                         "    - {name: d, kee: x}\n";                      /* 16 */

    ASSERT_INT_EQ(load(y, &c, &err), ALLOT_ECONFIG);
    ASSERT_STR_CONTAINS(allot_buf_cstr(&err),
                        "t.yaml:6: key 'auth.keys[0].key': expected a key of at least 16 "
                        "characters, got 14 (value not shown); `allot config new-key NAME` makes "
                        "one\n");
    ASSERT_STR_CONTAINS(allot_buf_cstr(&err),
                        "t.yaml:7: key 'auth.keys[1]': give 'key' or 'key_sha256', not both\n");
    ASSERT_STR_CONTAINS(allot_buf_cstr(&err),
                        "t.yaml:9: key 'auth.keys[2]': missing 'key' or 'key_sha256'\n");
    ASSERT_STR_CONTAINS(allot_buf_cstr(&err), "t.yaml:10: key 'auth.keys[3].key_sha256': expected "
                                              "64 hex digits (a SHA-256), got \"abc123\"\n");
    ASSERT_STR_CONTAINS(allot_buf_cstr(&err), "t.yaml:11: key 'auth.keys[4]': missing 'name'\n");
    ASSERT_STR_CONTAINS(allot_buf_cstr(&err), "t.yaml:13: key 'auth.keys[6].name': duplicate "
                                              "client name 'a' (first on line 12)\n");
    ASSERT_STR_CONTAINS(allot_buf_cstr(&err),
                        "t.yaml:14: key 'auth.keys[7]': the same key as auth.keys[5] (line 12); "
                        "each client needs its own\n");
    ASSERT_STR_CONTAINS(allot_buf_cstr(&err),
                        "t.yaml:15: key 'auth.keys[8].key': expected a non-empty API key without "
                        "spaces or control characters (value not shown)\n");
    ASSERT_STR_CONTAINS(allot_buf_cstr(&err), "t.yaml:16: unknown key 'auth.keys[9].kee'; known "
                                              "keys: name, key, key_sha256, daily_budget_usd, "
                                              "requests_per_minute, tiers\n"
                                              "t.yaml:16: key 'auth.keys[9]': missing 'key' or "
                                              "'key_sha256'\n");
    /* a refused value is not also reported missing */
    ASSERT(!strstr(allot_buf_cstr(&err), "'auth.keys[8]': missing"));
    ASSERT(!strstr(allot_buf_cstr(&err), "SECRET"));
    allot_buf_release(&err);

    ASSERT_INT_EQ(load(BASE "auth: {keys: {name: x}}\n", &c, &err), ALLOT_ECONFIG);
    ASSERT_STR_CONTAINS(allot_buf_cstr(&err), "t.yaml:4: key 'auth.keys': expected a list of at "
                                              "most 4096 mappings");
    allot_buf_release(&err);
    ASSERT_INT_EQ(load(BASE "auth:\n  keys:\n    - just-a-key-string-here\n", &c, &err),
                  ALLOT_ECONFIG);
    ASSERT_STR_CONTAINS(allot_buf_cstr(&err), "t.yaml:6: key 'auth.keys[0]': expected a mapping "
                                              "with name and key");
    allot_buf_release(&err);
}

/* A config with n keys "sk-test-client-key-<i>" named "c<i>". */
static int load_n(size_t n, struct allot_config **c)
{
    struct allot_buf y, err;
    size_t i;
    int rc;

    allot_buf_init(&y, 1 << 20);
    rc = allot_buf_adds(&y, BASE "auth:\n  keys:\n");
    for (i = 0; i < n && !rc; i++)
        rc = allot_buf_addf(&y, "    - {name: c%zu, key: sk-test-client-key-%zu}\n", i, i);
    rc = rc ? rc : load(allot_buf_cstr(&y), c, &err);
    allot_buf_release(&y);
    allot_buf_release(&err);
    return rc;
}

TEST(auth_identifies_the_client_by_bearer_or_x_api_key)
{
    struct allot_config *c;
    struct allot_auth *a;
    int client = 99;
    char key[64];
    size_t i;

    ASSERT_INT_EQ(load_n(300, &c), 0);
    ASSERT_INT_EQ(allot_auth_new(c, NULL, &a), 0);
    ASSERT(allot_auth_required(a));
    for (i = 0; i < 300; i += 37) {
        char h[80];
        snprintf(key, sizeof key, "sk-test-client-key-%zu", i);
        snprintf(h, sizeof h, "Bearer %s", key);
        client = -5;
        ASSERT_INT_EQ(allot_auth_identify(a, s(h), none, &client), ALLOT_AUTH_OK);
        ASSERT_INT_EQ(client, (int)i);
        client = -5;
        ASSERT_INT_EQ(allot_auth_identify(a, none, s(key), &client), ALLOT_AUTH_OK);
        ASSERT_INT_EQ(client, (int)i);
    }
    /* the scheme in any case, blanks around the key */
    ASSERT_INT_EQ(allot_auth_identify(a, s("bEaReR \t sk-test-client-key-7 "), none, &client),
                  ALLOT_AUTH_OK);
    ASSERT_INT_EQ(client, 7);
    ASSERT_INT_EQ(allot_auth_identify(a, none, s(" sk-test-client-key-8\t"), &client),
                  ALLOT_AUTH_OK);
    ASSERT_INT_EQ(client, 8);
    /* either header may carry it: a placeholder in the other does not matter */
    ASSERT_INT_EQ(
        allot_auth_identify(a, s("Bearer placeholder"), s("sk-test-client-key-9"), &client),
        ALLOT_AUTH_OK);
    ASSERT_INT_EQ(client, 9);

    /* refused: nothing, other schemes, near misses */
    ASSERT_INT_EQ(allot_auth_identify(a, none, none, &client), ALLOT_AUTH_MISSING);
    ASSERT_INT_EQ(client, -1);
    ASSERT_INT_EQ(allot_auth_identify(a, s(""), s(""), &client), ALLOT_AUTH_MISSING);
    ASSERT_INT_EQ(allot_auth_identify(a, s("Bearer"), none, &client), ALLOT_AUTH_MISSING);
    ASSERT_INT_EQ(allot_auth_identify(a, s("Bearer    "), none, &client), ALLOT_AUTH_MISSING);
    ASSERT_INT_EQ(allot_auth_identify(a, s("Basic c2stdGVzdC1jbGllbnQta2V5LTc="), none, &client),
                  ALLOT_AUTH_MISSING);
    ASSERT_INT_EQ(allot_auth_identify(a, s("sk-test-client-key-7"), none, &client),
                  ALLOT_AUTH_MISSING); /* no scheme */
    ASSERT_INT_EQ(allot_auth_identify(a, s("Bearer sk-test-client-key-300"), none, &client),
                  ALLOT_AUTH_INVALID);
    ASSERT_INT_EQ(client, -1);
    ASSERT_INT_EQ(allot_auth_identify(a, s("Bearer sk-test-client-key-7x"), none, &client),
                  ALLOT_AUTH_INVALID);
    ASSERT_INT_EQ(allot_auth_identify(a, s("Bearer SK-TEST-CLIENT-KEY-7"), none, &client),
                  ALLOT_AUTH_INVALID); /* keys are case-sensitive */
    ASSERT_INT_EQ(allot_auth_identify(a, none, s("sk-test-client-key-"), &client),
                  ALLOT_AUTH_INVALID);
    {
        char big[2100];
        memset(big, 'k', sizeof big - 1);
        big[sizeof big - 1] = '\0';
        ASSERT_INT_EQ(allot_auth_identify(a, none, s(big), &client), ALLOT_AUTH_INVALID);
    }
    allot_auth_free(a);
    allot_config_free(c);
}

TEST(auth_without_keys_admits_everyone)
{
    struct allot_config *c;
    struct allot_buf err;
    struct allot_auth *a;
    int client = 5;

    ASSERT_INT_EQ(load(BASE, &c, &err), 0);
    allot_buf_release(&err);
    ASSERT_INT_EQ(allot_auth_new(c, NULL, &a), 0);
    ASSERT(!allot_auth_required(a));
    ASSERT_INT_EQ(allot_auth_identify(a, none, none, &client), ALLOT_AUTH_OK);
    ASSERT_INT_EQ(client, -1);
    ASSERT_INT_EQ(allot_auth_identify(a, s("Bearer anything"), none, &client), ALLOT_AUTH_OK);
    ASSERT_INT_EQ(client, -1);
    allot_auth_free(a);
    allot_config_free(c);
}
