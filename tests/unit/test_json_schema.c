#include <cJSON.h>
#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "allot/buf.h"
#include "allot/error.h"
#include "allot/json_schema.h"
#include "test.h"

/* What run() returns when the schema does not compile. */
#define COMPILE_FAILED 1000

/* Validate the JSON text instance against the JSON text schema: the
 * validation's result, or COMPILE_FAILED (the reason in why). */
static int run(const char *schema, const char *instance, struct allot_buf *why)
{
    cJSON *sj = cJSON_Parse(schema), *ij = cJSON_Parse(instance);
    struct allot_json_schema *s = NULL;
    int rc = COMPILE_FAILED;

    if (!sj || !ij) {
        fprintf(stderr, "  bad test JSON: %s\n", !sj ? schema : instance);
        goto out;
    }
    if (allot_json_schema_compile(sj, &s, why) == 0)
        rc = allot_json_schema_validate(s, ij, why);
out:
    allot_json_schema_free(s);
    cJSON_Delete(sj);
    cJSON_Delete(ij);
    return rc;
}

/* Compile the JSON text schema and free it: the compile's result. */
static int compile_only(const char *schema, struct allot_buf *err)
{
    cJSON *sj = cJSON_Parse(schema);
    struct allot_json_schema *s = NULL;
    int rc;

    if (!sj) {
        fprintf(stderr, "  bad test JSON: %s\n", schema);
        return COMPILE_FAILED;
    }
    rc = allot_json_schema_compile(sj, &s, err);
    if (rc == 0 && !s)
        rc = COMPILE_FAILED;
    allot_json_schema_free(s);
    cJSON_Delete(sj);
    return rc;
}

static double now_sec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- the official JSON Schema Test Suite -------------------------------- */

#define SUITE_DIR "/usr/share/json-schema-test-suite/tests/draft7"

/* The draft-7 files whose semantics are the same in 2020-12. */
static const char *const suite_files[] = {
    "additionalProperties",
    "allOf",
    "anyOf",
    "boolean_schema",
    "const",
    "contains",
    "enum",
    "exclusiveMaximum",
    "exclusiveMinimum",
    "if-then-else",
    "maxItems",
    "maxLength",
    "maxProperties",
    "maximum",
    "minItems",
    "minLength",
    "minProperties",
    "minimum",
    "multipleOf",
    "not",
    "oneOf",
    "pattern",
    "patternProperties",
    "properties",
    "propertyNames",
    "required",
    "type",
    "uniqueItems",
    "ref",
    "definitions",
};

/* The cases left out, each by file, group and test description (NULL: the
 * whole group), with the reason. Every entry must match something. */
static const struct suite_skip {
    const char *file, *group, *test, *why;
} suite_skips[] = {
    {"ref", "relative pointer ref to array", NULL,
     "the draft-7 array form of items (prefixItems in 2020-12)"},
    {"ref", "ref overrides any sibling keywords", "ref valid, maxItems ignored",
     "draft-7 $ref ignores its siblings; in 2020-12 maxItems applies"},
    {"ref", "remote ref, containing refs itself", NULL, "remote $ref (the draft-7 meta-schema)"},
    {"ref", "Recursive references between schemas", NULL,
     "$id base-URI change with relative $refs"},
    {"definitions", "valid definition", NULL, "remote $ref (the draft-7 meta-schema)"},
    {"definitions", "invalid definition", NULL, "remote $ref (the draft-7 meta-schema)"},
};
#define N_SKIPS (sizeof suite_skips / sizeof suite_skips[0])

struct suite_totals {
    int run, passed, skipped, failed;
    int skip_used[N_SKIPS];
};

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *text = NULL;
    long n;

    if (!f)
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
        (text = malloc((size_t)n + 1)) != NULL) {
        if (fread(text, 1, (size_t)n, f) != (size_t)n) {
            free(text);
            text = NULL;
        } else {
            text[n] = '\0';
        }
    }
    fclose(f);
    return text;
}

static int find_skip(const char *file, const char *group, const char *test)
{
    size_t i;

    for (i = 0; i < N_SKIPS; i++)
        if (strcmp(suite_skips[i].file, file) == 0 && strcmp(suite_skips[i].group, group) == 0 &&
            (suite_skips[i].test == NULL ? test == NULL
                                         : test && strcmp(suite_skips[i].test, test) == 0))
            return (int)i;
    return -1;
}

static const char *desc_of(const cJSON *o)
{
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(o, "description");
    return cJSON_IsString(d) ? d->valuestring : "?";
}

static void run_suite_group(const char *file, const cJSON *group, struct suite_totals *t)
{
    const cJSON *schema = cJSON_GetObjectItemCaseSensitive(group, "schema");
    const cJSON *tests = cJSON_GetObjectItemCaseSensitive(group, "tests"), *tc;
    const char *gdesc = desc_of(group);
    struct allot_json_schema *s = NULL;
    struct allot_buf err;
    int k = find_skip(file, gdesc, NULL), n = cJSON_GetArraySize(tests);

    if (k >= 0) {
        t->skip_used[k]++;
        t->skipped += n;
        printf("  skip %s.json \"%s\" (%d cases): %s\n", file, gdesc, n, suite_skips[k].why);
        return;
    }
    allot_buf_init(&err, 4096);
    if (allot_json_schema_compile(schema, &s, &err) != 0) {
        fprintf(stderr, "  %s.json \"%s\": schema does not compile: %s\n", file, gdesc,
                allot_buf_cstr(&err));
        t->run += n;
        t->failed += n;
        allot_buf_release(&err);
        return;
    }
    cJSON_ArrayForEach(tc, tests)
    {
        const char *tdesc = desc_of(tc);
        const cJSON *data = cJSON_GetObjectItemCaseSensitive(tc, "data");
        int valid = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(tc, "valid")), rc;

        if ((k = find_skip(file, gdesc, tdesc)) >= 0) {
            t->skip_used[k]++;
            t->skipped++;
            printf("  skip %s.json \"%s\" / \"%s\": %s\n", file, gdesc, tdesc, suite_skips[k].why);
            continue;
        }
        t->run++;
        allot_buf_reset(&err);
        rc = allot_json_schema_validate(s, data, &err);
        if ((rc == 0) == valid && (rc == 0 || rc == ALLOT_EINVAL) && (rc == 0) == (err.len == 0)) {
            t->passed++;
        } else {
            t->failed++;
            fprintf(stderr, "  %s.json \"%s\" / \"%s\": expected %s, got %d (%s)\n", file, gdesc,
                    tdesc, valid ? "valid" : "invalid", rc, allot_buf_cstr(&err));
        }
    }
    allot_json_schema_free(s);
    allot_buf_release(&err);
}

static int suite_present(void)
{
    DIR *d = opendir(SUITE_DIR);

    if (!d)
        return 0;
    closedir(d);
    return 1;
}

#define SUITE_MISSING                                                                              \
    "%s is missing: the JSON Schema Test Suite is a required test dependency; run "                \
    "scripts/install-deps.sh (Debian package json-schema-test-suite)"

TEST(json_schema_official_suite)
{
    struct suite_totals t;
    size_t i;

    if (!suite_present())
        TEST_FAIL_(SUITE_MISSING, SUITE_DIR);
    memset(&t, 0, sizeof t);
    for (i = 0; i < sizeof suite_files / sizeof suite_files[0]; i++) {
        char path[256];
        char *text;
        cJSON *root, *group;

        snprintf(path, sizeof path, "%s/%s.json", SUITE_DIR, suite_files[i]);
        if (!(text = read_file(path)) || !(root = cJSON_Parse(text))) {
            fprintf(stderr, "  cannot read %s\n", path);
            free(text);
            t.failed++;
            continue;
        }
        cJSON_ArrayForEach(group, root) run_suite_group(suite_files[i], group, &t);
        cJSON_Delete(root);
        free(text);
    }
    printf("  JSON Schema Test Suite (draft7 files, 2020-12 semantics): %d run, %d passed, %d "
           "skipped\n",
           t.run, t.passed, t.skipped);
    ASSERT_INT_EQ(t.failed, 0);
    ASSERT_INT_EQ(t.passed, t.run);
    ASSERT(t.run > 300);
    for (i = 0; i < N_SKIPS; i++)
        if (!t.skip_used[i])
            TEST_FAIL_("skip entry %s.json \"%s\" matched nothing", suite_skips[i].file,
                       suite_skips[i].group);
}

/* Every suite instance against every suite schema: no crash, no leak, no
 * result other than valid or invalid. */
TEST(json_schema_suite_cross_product_is_safe)
{
    cJSON *schemas = cJSON_CreateArray(), *data = cJSON_CreateArray();
    const cJSON *group, *tc, *sj, *dj;
    size_t i;
    int bad = 0, compiled = 0, checks = 0;

    if (!suite_present()) {
        cJSON_Delete(schemas);
        cJSON_Delete(data);
        TEST_FAIL_(SUITE_MISSING, SUITE_DIR);
    }
    ASSERT(schemas && data);
    for (i = 0; i < sizeof suite_files / sizeof suite_files[0]; i++) {
        char path[256];
        char *text;
        cJSON *root;

        snprintf(path, sizeof path, "%s/%s.json", SUITE_DIR, suite_files[i]);
        if (!(text = read_file(path)))
            continue;
        root = cJSON_Parse(text);
        free(text);
        cJSON_ArrayForEach(group, root)
        {
            cJSON_AddItemToArray(
                schemas, cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(group, "schema"), 1));
            cJSON_ArrayForEach(tc, cJSON_GetObjectItemCaseSensitive(group, "tests"))
                cJSON_AddItemToArray(
                    data, cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(tc, "data"), 1));
        }
        cJSON_Delete(root);
    }
    cJSON_ArrayForEach(sj, schemas)
    {
        struct allot_json_schema *s = NULL;
        if (allot_json_schema_compile(sj, &s, NULL) != 0)
            continue;
        compiled++;
        cJSON_ArrayForEach(dj, data)
        {
            int rc = allot_json_schema_validate(s, dj, NULL);
            checks++;
            bad += rc != 0 && rc != ALLOT_EINVAL;
        }
        allot_json_schema_free(s);
    }
    printf("  %d schemas x %d instances\n", compiled, cJSON_GetArraySize(data));
    cJSON_Delete(schemas);
    cJSON_Delete(data);
    ASSERT(compiled > 80);
    ASSERT(checks > 10000);
    ASSERT_INT_EQ(bad, 0);
}

/* ---- 2020-12 keywords --------------------------------------------------- */

struct vcase {
    const char *schema, *instance;
    int valid;
};

static int run_cases(const struct vcase *cases, size_t n)
{
    struct allot_buf why;
    size_t i;
    int failed = 0;

    allot_buf_init(&why, 4096);
    for (i = 0; i < n; i++) {
        int rc;
        allot_buf_reset(&why);
        rc = run(cases[i].schema, cases[i].instance, &why);
        if (rc != (cases[i].valid ? 0 : ALLOT_EINVAL)) {
            fprintf(stderr, "  case %zu: %s against %s: expected %s, got %d (%s)\n", i,
                    cases[i].instance, cases[i].schema, cases[i].valid ? "valid" : "invalid", rc,
                    allot_buf_cstr(&why));
            failed++;
        }
    }
    allot_buf_release(&why);
    return failed;
}

TEST(json_schema_prefix_items_and_items)
{
    static const struct vcase cases[] = {
        {"{\"prefixItems\":[{\"type\":\"string\"},{\"type\":\"integer\"}],\"items\":false}",
         "[\"a\",1]", 1},
        {"{\"prefixItems\":[{\"type\":\"string\"},{\"type\":\"integer\"}],\"items\":false}",
         "[\"a\"]", 1},
        {"{\"prefixItems\":[{\"type\":\"string\"},{\"type\":\"integer\"}],\"items\":false}", "[]",
         1},
        {"{\"prefixItems\":[{\"type\":\"string\"},{\"type\":\"integer\"}],\"items\":false}",
         "[\"a\",1,2]", 0},
        {"{\"prefixItems\":[{\"type\":\"string\"},{\"type\":\"integer\"}],\"items\":false}",
         "[\"a\",\"b\"]", 0},
        {"{\"prefixItems\":[{\"const\":\"x\"}],\"items\":{\"type\":\"number\"}}", "[\"x\",1,2.5]",
         1},
        {"{\"prefixItems\":[{\"const\":\"x\"}],\"items\":{\"type\":\"number\"}}", "[\"x\",1,\"y\"]",
         0},
        {"{\"prefixItems\":[{\"const\":\"x\"}]}", "[\"x\",1,\"y\"]", 1},
        {"{\"items\":{\"type\":\"integer\"}}", "[1,2,3.0]", 1},
        {"{\"items\":{\"type\":\"integer\"}}", "[1,2,3.5]", 0},
        {"{\"items\":{\"type\":\"integer\"}}", "{\"a\":\"not an array\"}", 1},
    };
    ASSERT_INT_EQ(run_cases(cases, sizeof cases / sizeof cases[0]), 0);
}

TEST(json_schema_defs_refs)
{
    static const char tree[] =
        "{\"$defs\":{\"node\":{\"type\":\"object\",\"properties\":{\"v\":{\"type\":\"integer\"},"
        "\"children\":{\"type\":\"array\",\"items\":{\"$ref\":\"#/$defs/node\"}}},"
        "\"required\":[\"v\"]}},\"$ref\":\"#/$defs/node\"}";
    static const struct vcase cases[] = {
        {"{\"$defs\":{\"pos\":{\"type\":\"integer\",\"minimum\":0}},\"items\":{\"$ref\":\"#/$defs/"
         "pos\"}}",
         "[1,2]", 1},
        {"{\"$defs\":{\"pos\":{\"type\":\"integer\",\"minimum\":0}},\"items\":{\"$ref\":\"#/$defs/"
         "pos\"}}",
         "[1,-1]", 0},
        {tree, "{\"v\":1,\"children\":[{\"v\":2},{\"v\":3,\"children\":[{\"v\":4}]}]}", 1},
        {tree, "{\"v\":1,\"children\":[{\"v\":2},{\"v\":3,\"children\":[{\"w\":4}]}]}", 0},
        /* $ref with siblings: both apply in 2020-12 */
        {"{\"$defs\":{\"a\":{\"type\":\"array\"}},\"$ref\":\"#/$defs/a\",\"maxItems\":1}", "[1,2]",
         0},
        /* ~1, ~0 and percent-escapes in the pointer */
        {"{\"$defs\":{\"a/b\":{\"const\":1},\"c~d\":{\"const\":2},\"e f\":{\"const\":3}},"
         "\"prefixItems\":[{\"$ref\":\"#/$defs/a~1b\"},{\"$ref\":\"#/$defs/c~0d\"},"
         "{\"$ref\":\"#/$defs/e%20f\"}]}",
         "[1,2,3]", 1},
        {"{\"$defs\":{\"a/b\":{\"const\":1},\"c~d\":{\"const\":2},\"e f\":{\"const\":3}},"
         "\"prefixItems\":[{\"$ref\":\"#/$defs/a~1b\"},{\"$ref\":\"#/$defs/c~0d\"},"
         "{\"$ref\":\"#/$defs/e%20f\"}]}",
         "[1,2,4]", 0},
        /* draft-7 definitions, a ref into an array, a ref to a ref */
        {"{\"definitions\":{\"s\":{\"type\":\"string\"},\"t\":{\"$ref\":\"#/definitions/s\"}},"
         "\"anyOf\":[{\"type\":\"null\"},{\"$ref\":\"#/definitions/t\"}],"
         "\"not\":{\"$ref\":\"#/anyOf/0\"}}",
         "\"x\"", 1},
        {"{\"definitions\":{\"s\":{\"type\":\"string\"},\"t\":{\"$ref\":\"#/definitions/s\"}},"
         "\"anyOf\":[{\"type\":\"null\"},{\"$ref\":\"#/definitions/t\"}],"
         "\"not\":{\"$ref\":\"#/anyOf/0\"}}",
         "null", 0},
        /* mutual recursion that descends into the instance is fine */
        {"{\"$defs\":{\"a\":{\"type\":\"array\",\"items\":{\"$ref\":\"#/$defs/b\"}},"
         "\"b\":{\"type\":\"object\",\"additionalProperties\":{\"$ref\":\"#/$defs/a\"}}},"
         "\"$ref\":\"#/$defs/a\"}",
         "[{\"x\":[{},{\"y\":[]}]}]", 1},
        {"{\"$defs\":{\"a\":{\"type\":\"array\",\"items\":{\"$ref\":\"#/$defs/b\"}},"
         "\"b\":{\"type\":\"object\",\"additionalProperties\":{\"$ref\":\"#/$defs/a\"}}},"
         "\"$ref\":\"#/$defs/a\"}",
         "[{\"x\":[{},{\"y\":7}]}]", 0},
    };
    ASSERT_INT_EQ(run_cases(cases, sizeof cases / sizeof cases[0]), 0);
}

TEST(json_schema_dependent_required_and_schemas)
{
    static const struct vcase cases[] = {
        {"{\"dependentRequired\":{\"card\":[\"billing\",\"name\"]}}", "{}", 1},
        {"{\"dependentRequired\":{\"card\":[\"billing\",\"name\"]}}",
         "{\"card\":1,\"billing\":2,\"name\":3}", 1},
        {"{\"dependentRequired\":{\"card\":[\"billing\",\"name\"]}}", "{\"card\":1,\"billing\":2}",
         0},
        {"{\"dependentRequired\":{\"card\":[\"billing\"]}}", "{\"billing\":2}", 1},
        {"{\"dependentRequired\":{\"card\":[\"billing\"]}}", "[\"card\"]", 1},
        {"{\"dependentSchemas\":{\"card\":{\"required\":[\"billing\"],"
         "\"properties\":{\"billing\":{\"type\":\"string\"}}}}}",
         "{\"card\":1,\"billing\":\"x\"}", 1},
        {"{\"dependentSchemas\":{\"card\":{\"required\":[\"billing\"],"
         "\"properties\":{\"billing\":{\"type\":\"string\"}}}}}",
         "{\"card\":1,\"billing\":5}", 0},
        {"{\"dependentSchemas\":{\"card\":{\"required\":[\"billing\"]}}}", "{\"card\":1}", 0},
        {"{\"dependentSchemas\":{\"card\":{\"required\":[\"billing\"]}}}", "{\"other\":1}", 1},
        {"{\"dependentSchemas\":{\"card\":false}}", "{\"card\":1}", 0},
    };
    ASSERT_INT_EQ(run_cases(cases, sizeof cases / sizeof cases[0]), 0);
}

TEST(json_schema_min_and_max_contains)
{
    static const struct vcase cases[] = {
        {"{\"contains\":{\"const\":1},\"minContains\":2,\"maxContains\":3}", "[1,1]", 1},
        {"{\"contains\":{\"const\":1},\"minContains\":2,\"maxContains\":3}", "[1,2,1,2,1]", 1},
        {"{\"contains\":{\"const\":1},\"minContains\":2,\"maxContains\":3}", "[1,2]", 0},
        {"{\"contains\":{\"const\":1},\"minContains\":2,\"maxContains\":3}", "[1,1,1,1]", 0},
        {"{\"contains\":{\"const\":1},\"minContains\":2,\"maxContains\":3}", "[]", 0},
        {"{\"contains\":{\"const\":1},\"minContains\":0}", "[]", 1},
        {"{\"contains\":{\"const\":1},\"minContains\":0}", "[2]", 1},
        {"{\"contains\":{\"const\":1},\"minContains\":0,\"maxContains\":1}", "[1,1]", 0},
        {"{\"contains\":{\"const\":1},\"maxContains\":1}", "[2]", 0}, /* minContains is 1 */
        {"{\"contains\":{\"const\":1},\"maxContains\":1}", "[1,2]", 1},
        {"{\"maxContains\":1,\"minContains\":5}", "[1,1]", 1}, /* no contains: ignored */
        {"{\"contains\":true}", "[]", 0},
        {"{\"contains\":{\"const\":1}}", "\"not an array\"", 1},
    };
    ASSERT_INT_EQ(run_cases(cases, sizeof cases / sizeof cases[0]), 0);
}

TEST(json_schema_numbers_strings_and_equality)
{
    static const struct vcase cases[] = {
        {"{\"multipleOf\":0.01}", "19.99", 1},
        {"{\"multipleOf\":0.01}", "0.07", 1},
        {"{\"multipleOf\":0.01}", "19.999", 0},
        {"{\"multipleOf\":0.5}", "1e308", 1},
        {"{\"multipleOf\":3}", "-9", 1},
        {"{\"multipleOf\":3}", "10", 0},
        {"{\"type\":\"integer\"}", "1.0", 1},
        {"{\"type\":\"integer\"}", "1e2", 1},
        {"{\"type\":\"integer\"}", "1.5", 0},
        {"{\"const\":1}", "1.0", 1},
        {"{\"const\":{\"a\":[1,{\"b\":null}]}}", "{\"a\":[1.0,{\"b\":null}]}", 1},
        {"{\"const\":{\"a\":[1,{\"b\":null}]}}", "{\"a\":[1,{\"b\":false}]}", 0},
        {"{\"const\":false}", "0", 0},
        {"{\"enum\":[[1],{\"x\":2}]}", "{\"x\":2.0}", 1},
        {"{\"enum\":[]}", "1", 0},
        {"{\"maxLength\":2}", "\"\xC3\xA9\xE2\x82\xAC\"", 1},
        {"{\"maxLength\":2}", "\"\xC3\xA9\xC3\xA9\xE2\x82\xAC\"", 0},
        {"{\"minLength\":2}", "\"\xF0\x9F\x98\x80\"", 0},
        {"{\"minLength\":2}", "\"\xF0\x9F\x98\x80\xF0\x9F\x98\x80\"", 1},
        {"{\"pattern\":\"^\\\\d{3}$\"}", "\"123\"", 1},
        {"{\"pattern\":\"^\\\\d{3}$\"}", "\"123\\n\"", 0},    /* $ only at the very end */
        {"{\"pattern\":\"^\\\\u00e9$\"}", "\"\xC3\xA9\"", 1}, /* \uXXXX as in ECMA-262 */
        {"{\"pattern\":\"^.$\"}", "\"\xE2\x82\xAC\"", 1},     /* UTF mode: . is a character */
        {"{\"uniqueItems\":true}", "[1,\"1\",[1],{\"a\":1},{\"a\":1.0}]", 0},
        {"{\"uniqueItems\":true}", "[{\"a\":1,\"b\":2},{\"b\":2,\"a\":1}]", 0},
        {"{\"uniqueItems\":true}", "[0,false,null,\"\",[],{}]", 1},
        {"{\"propertyNames\":{\"pattern\":\"^[a-z]+$\"}}", "{\"abc\":1,\"de\":2}", 1},
        {"{\"propertyNames\":{\"pattern\":\"^[a-z]+$\"}}", "{\"abc\":1,\"dE\":2}", 0},
        {"{\"if\":{\"type\":\"string\"},\"then\":{\"minLength\":2},\"else\":{\"minimum\":5}}",
         "\"ab\"", 1},
        {"{\"if\":{\"type\":\"string\"},\"then\":{\"minLength\":2},\"else\":{\"minimum\":5}}", "4",
         0},
        {"{\"then\":{\"$ref\":\"#\"}}", "1", 1}, /* then without if: ignored, no cycle */
        {"{\"title\":\"x\",\"description\":\"y\",\"format\":\"email\",\"default\":1,"
         "\"examples\":[],\"$comment\":\"z\",\"$schema\":\"https://json-schema.org/draft/2020-12/"
         "schema\",\"$id\":\"https://example.com/s\",\"x-vendor\":{\"type\":\"string\"}}",
         "\"not an email\"", 1},
    };
    ASSERT_INT_EQ(run_cases(cases, sizeof cases / sizeof cases[0]), 0);
}

/* A typical OpenAI structured-output schema. */
static const char order_schema[] =
    "{\"type\":\"object\",\"properties\":{"
    "\"title\":{\"type\":\"string\",\"minLength\":1},"
    "\"currency\":{\"type\":\"string\",\"enum\":[\"USD\",\"EUR\"]},"
    "\"sku\":{\"type\":\"string\",\"pattern\":\"^[A-Z]{3}-[0-9]{4}$\"},"
    "\"items\":{\"type\":\"array\",\"minItems\":1,\"items\":{\"type\":\"object\",\"properties\":{"
    "\"name\":{\"type\":\"string\"},\"price\":{\"type\":\"number\",\"minimum\":0},"
    "\"qty\":{\"type\":\"integer\",\"minimum\":1}},"
    "\"required\":[\"name\",\"price\",\"qty\"],\"additionalProperties\":false}},"
    "\"note\":{\"type\":[\"string\",\"null\"]},"
    "\"status\":{\"anyOf\":[{\"const\":\"open\"},{\"const\":\"closed\"}]}},"
    "\"required\":[\"title\",\"currency\",\"sku\",\"items\",\"note\"],"
    "\"additionalProperties\":false}";

#define ORDER_ITEMS                                                                                \
    "[{\"name\":\"pen\",\"price\":1.5,\"qty\":2},{\"name\":\"ink\",\"price\":3,\"qty\":1}]"

TEST(json_schema_openai_structured_output)
{
    static const struct vcase cases[] = {
        {order_schema,
         "{\"title\":\"Order\",\"currency\":\"EUR\",\"sku\":\"ABC-1234\",\"items\":" ORDER_ITEMS
         ",\"note\":null}",
         1},
        {order_schema,
         "{\"note\":\"gift\",\"items\":" ORDER_ITEMS
         ",\"sku\":\"XYZ-0000\",\"currency\":\"USD\",\"title\":\"T\",\"status\":\"open\"}",
         1},
        {order_schema,
         "{\"title\":\"Order\",\"currency\":\"EUR\",\"sku\":\"ABC-1234\",\"items\":[],"
         "\"note\":null}",
         0},
        {order_schema,
         "{\"title\":\"\",\"currency\":\"EUR\",\"sku\":\"ABC-1234\",\"items\":" ORDER_ITEMS
         ",\"note\":null}",
         0},
        {order_schema, "[]", 0},
    };
    ASSERT_INT_EQ(run_cases(cases, sizeof cases / sizeof cases[0]), 0);
}

TEST(json_schema_why_names_the_instance_pointer)
{
    static const struct {
        const char *schema, *instance, *why;
    } cases[] = {
        {order_schema,
         "{\"title\":\"O\",\"currency\":\"EUR\",\"sku\":\"ABC-1234\",\"items\":[{\"name\":\"pen\","
         "\"price\":1,\"qty\":2},{\"name\":\"ink\",\"price\":\"12\",\"qty\":1}],\"note\":null}",
         "at /items/1/price: expected a number, got a string"},
        {order_schema,
         "{\"title\":\"O\",\"currency\":\"EUR\",\"sku\":\"ABC-1234\",\"items\":[{\"name\":\"pen\","
         "\"price\":1}],\"note\":null}",
         "at /items/0: missing required property \"qty\""},
        {order_schema,
         "{\"title\":\"O\",\"currency\":\"EUR\",\"sku\":\"ABC-1234\",\"items\":[{\"name\":\"pen\","
         "\"price\":1,\"qty\":1.5}],\"note\":null}",
         "at /items/0/qty: expected an integer, got a number"},
        {order_schema,
         "{\"title\":\"O\",\"currency\":\"EUR\",\"sku\":\"ABC-1234\",\"items\":[{\"name\":\"pen\","
         "\"price\":-2,\"qty\":1}],\"note\":null}",
         "at /items/0/price: expected a number >= 0, got -2"},
        {order_schema,
         "{\"title\":\"O\",\"currency\":\"GBP\",\"sku\":\"ABC-1234\",\"items\":" ORDER_ITEMS
         ",\"note\":null}",
         "at /currency: expected one of \"USD\", \"EUR\""},
        {order_schema,
         "{\"title\":\"O\",\"currency\":\"EUR\",\"sku\":\"abc-1234\",\"items\":" ORDER_ITEMS
         ",\"note\":null}",
         "at /sku: does not match the pattern \"^[A-Z]{3}-[0-9]{4}$\""},
        {order_schema,
         "{\"title\":\"O\",\"currency\":\"EUR\",\"sku\":\"ABC-1234\",\"items\":" ORDER_ITEMS
         ",\"note\":5}",
         "at /note: expected a string or null, got a number"},
        {order_schema,
         "{\"title\":\"O\",\"currency\":\"EUR\",\"sku\":\"ABC-1234\",\"items\":" ORDER_ITEMS
         ",\"note\":null,\"extra/x~\":1}",
         "at /extra~1x~0: property not allowed (additionalProperties is false)"},
        {order_schema,
         "{\"title\":\"O\",\"currency\":\"EUR\",\"sku\":\"ABC-1234\",\"items\":" ORDER_ITEMS
         ",\"note\":null,\"status\":\"lost\"}",
         "at /status: matches none of the 2 schemas in anyOf"},
        {order_schema, "{\"title\":\"O\"}", "at the root: missing required property \"currency\""},
        {order_schema, "[1]", "at the root: expected an object, got an array"},
        {"{\"prefixItems\":[{\"type\":\"string\"}],\"items\":false}", "[\"a\",1]",
         "at /1: no value is allowed here (the schema is false)"},
        {"{\"maxLength\":2}", "\"\xC3\xA9\xC3\xA9\xE2\x82\xAC\"",
         "at the root: expected at most 2 characters, got 3"},
        {"{\"multipleOf\":0.01}", "19.999", "at the root: expected a multiple of 0.01, got 19.999"},
        {"{\"exclusiveMinimum\":0,\"maximum\":10}", "0",
         "at the root: expected a number > 0 and <= 10, got 0"},
        {"{\"const\":{\"a\":[1,\"x\"]}}", "{}", "at the root: expected {\"a\":[1,\"x\"]} (const)"},
        {"{\"uniqueItems\":true}", "[1,2,{\"a\":1},2]",
         "at the root: items 1 and 3 are equal, but uniqueItems is true"},
        {"{\"oneOf\":[{\"type\":\"integer\"},{\"minimum\":0}]}", "3",
         "at the root: matches schemas 0 and 1 of oneOf, but must match exactly one"},
        {"{\"not\":{\"type\":\"string\"}}", "\"s\"", "at the root: matches the schema in not"},
        {"{\"contains\":{\"type\":\"string\"}}", "[1,2]",
         "at the root: no item matches the schema in contains"},
        {"{\"contains\":{\"type\":\"string\"},\"maxContains\":1}", "[\"a\",\"b\"]",
         "at the root: expected at most 1 items matching contains, got 2 or more"},
        {"{\"dependentRequired\":{\"card\":[\"billing\"]}}", "{\"card\":1}",
         "at the root: missing property \"billing\" (required when \"card\" is present)"},
        {"{\"propertyNames\":{\"maxLength\":3}}", "{\"ok\":1,\"toolong\":2}",
         "at /toolong: property name: expected at most 3 characters, got 7"},
        {"{\"properties\":{\"a\":{\"items\":{\"properties\":{\"b\":{\"enum\":[1]}}}}}}",
         "{\"a\":[{},{\"b\":2}]}", "at /a/1/b: expected 1"},
    };
    struct allot_buf why;
    size_t i;
    int failed = 0;

    allot_buf_init(&why, 4096);
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc;
        allot_buf_reset(&why);
        rc = run(cases[i].schema, cases[i].instance, &why);
        if (rc != ALLOT_EINVAL || strcmp(allot_buf_cstr(&why), cases[i].why) != 0) {
            fprintf(stderr, "  case %zu: got %d \"%s\"\n            expected \"%s\"\n", i, rc,
                    allot_buf_cstr(&why), cases[i].why);
            failed++;
        }
    }
    allot_buf_release(&why);
    ASSERT_INT_EQ(failed, 0);
}

TEST(json_schema_why_is_appended_and_capped)
{
    struct allot_buf why;

    /* appended after what is there; untouched when valid */
    allot_buf_init(&why, 4096);
    ASSERT_INT_EQ(allot_buf_adds(&why, "answer: "), 0);
    ASSERT_INT_EQ(run("{\"type\":\"string\"}", "\"ok\"", &why), 0);
    ASSERT_STR_EQ(allot_buf_cstr(&why), "answer: ");
    ASSERT_INT_EQ(run("{\"type\":\"string\"}", "1", &why), ALLOT_EINVAL);
    ASSERT_STR_EQ(allot_buf_cstr(&why), "answer: at the root: expected a string, got a number");
    allot_buf_release(&why);

    /* a small cap cuts the message, not the verdict */
    allot_buf_init(&why, 10);
    ASSERT_INT_EQ(run("{\"type\":\"string\"}", "1", &why), ALLOT_EINVAL);
    ASSERT_STR_EQ(allot_buf_cstr(&why), "at the roo");
    allot_buf_release(&why);

    /* no why at all */
    ASSERT_INT_EQ(run("{\"type\":\"string\"}", "1", NULL), ALLOT_EINVAL);
}

/* ---- refusals at compile time ------------------------------------------- */

TEST(json_schema_compile_errors_name_the_schema_pointer)
{
    static const struct {
        const char *schema;
        int rc;
        const char *err; /* the whole message, or a prefix ending in '*' */
    } cases[] = {
        {"{\"properties\":{\"a\":{\"pattern\":\"(\"}}}", ALLOT_EINVAL,
         "schema at /properties/a/pattern: invalid regex: missing closing parenthesis at offset "
         "1"},
        {"{\"patternProperties\":{\"[a-\":true}}", ALLOT_EINVAL,
         "schema at /patternProperties/[a-: invalid regex: *"},
        {"{\"$ref\":\"https://example.com/s.json\"}", ALLOT_EINVAL,
         "schema at /$ref: only local references (#...) are supported"},
        {"{\"properties\":{\"a\":{\"$ref\":\"#/$defs/nope\"}}}", ALLOT_EINVAL,
         "schema at /properties/a/$ref: $ref \"#/$defs/nope\" points to nothing in the schema"},
        {"{\"$ref\":\"#foo\"}", ALLOT_EINVAL,
         "schema at /$ref: only JSON pointer references (#/...) are supported, not anchors"},
        {"{\"$ref\":\"#/a%zz\"}", ALLOT_EINVAL,
         "schema at /$ref: $ref has an invalid percent-escape"},
        {"{\"$ref\":\"#/a~2\"}", ALLOT_EINVAL, "schema at /$ref: $ref has an invalid ~ escape"},
        {"{\"unevaluatedProperties\":false}", ALLOT_EINVAL,
         "schema at /unevaluatedProperties: unevaluatedProperties is not supported"},
        {"{\"items\":{\"unevaluatedItems\":false}}", ALLOT_EINVAL,
         "schema at /items/unevaluatedItems: unevaluatedItems is not supported"},
        {"{\"$dynamicRef\":\"#meta\"}", ALLOT_EINVAL,
         "schema at /$dynamicRef: $dynamicRef is not supported"},
        {"{\"items\":[{},{}]}", ALLOT_EINVAL,
         "schema at /items: items must be a schema: its array form is draft 7 and not supported "
         "(in draft 2020-12, use prefixItems)"},
        {"{\"$defs\":{\"x\":{\"$id\":\"other.json\",\"$ref\":\"#/$defs/y\"}}}", ALLOT_EINVAL,
         "schema at /$defs/x/$ref: $ref under a subschema with its own $id (a change of base URI) "
         "is not supported"},
        {"{\"type\":\"text\"}", ALLOT_EINVAL,
         "schema at /type: unknown type \"text\" (expected null, boolean, integer, number, "
         "string, array or object)"},
        {"{\"type\":[\"string\",3]}", ALLOT_EINVAL, "schema at /type/1: unknown type a number*"},
        {"{\"minLength\":-1}", ALLOT_EINVAL,
         "schema at /minLength: minLength must be a non-negative integer"},
        {"{\"maxItems\":1.5}", ALLOT_EINVAL,
         "schema at /maxItems: maxItems must be a non-negative integer"},
        {"{\"multipleOf\":0}", ALLOT_EINVAL,
         "schema at /multipleOf: multipleOf must be a number greater than 0"},
        {"{\"exclusiveMaximum\":true}", ALLOT_EINVAL,
         "schema at /exclusiveMaximum: exclusiveMaximum must be a number, got a boolean"},
        {"{\"required\":[\"a\",1]}", ALLOT_EINVAL,
         "schema at /required/1: expected a property name (a string), got a number"},
        {"{\"allOf\":[]}", ALLOT_EINVAL,
         "schema at /allOf: allOf must be a non-empty array of schemas"},
        {"{\"properties\":{\"a\":1}}", ALLOT_EINVAL,
         "schema at /properties/a: expected a schema (an object or a boolean), got a number"},
        {"5", ALLOT_EINVAL,
         "schema at the root: expected a schema (an object or a boolean), got a "
         "number"},
        {"\"x\"", ALLOT_EINVAL, "schema at the root: expected a schema *"},
        {"null", ALLOT_EINVAL, "schema at the root: expected a schema *"},
        {"[{}]", ALLOT_EINVAL, "schema at the root: expected a schema *"},
    };
    struct allot_buf err;
    size_t i;
    int failed = 0;

    allot_buf_init(&err, 4096);
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *want = cases[i].err, *star = strchr(want, '*');
        size_t n = star ? (size_t)(star - want) : strlen(want) + 1;
        int rc;
        allot_buf_reset(&err);
        rc = compile_only(cases[i].schema, &err);
        if (rc != cases[i].rc || strncmp(allot_buf_cstr(&err), want, n) != 0) {
            fprintf(stderr, "  case %zu: %s\n    got %d \"%s\"\n    expected %d \"%s\"\n", i,
                    cases[i].schema, rc, allot_buf_cstr(&err), cases[i].rc, want);
            failed++;
        }
    }
    allot_buf_release(&err);
    ASSERT_INT_EQ(failed, 0);
}

/* ---- hostile schemas and instances -------------------------------------- */

/* "{"key":" repeated n times, then mid, then n closing braces. */
static char *nest(const char *open, const char *mid, const char *close, int n)
{
    struct allot_buf b;
    int i, rc = 0;

    allot_buf_init(&b, 1 << 24);
    for (i = 0; i < n && !rc; i++)
        rc = allot_buf_adds(&b, open);
    rc = rc ? rc : allot_buf_adds(&b, mid);
    for (i = 0; i < n && !rc; i++)
        rc = allot_buf_adds(&b, close);
    if (rc) {
        allot_buf_release(&b);
        return NULL;
    }
    return allot_buf_detach(&b);
}

TEST(json_schema_ref_cycles_are_refused_or_bounded)
{
    struct allot_buf why;
    char *deep;
    int rc;

    allot_buf_init(&why, 4096);
    /* cycles that never descend into the instance: refused at compile */
    ASSERT_INT_EQ(compile_only("{\"$ref\":\"#\"}", &why), ALLOT_EINVAL);
    ASSERT_STR_EQ(allot_buf_cstr(&why), "schema at /$ref: $ref cycle that never descends into "
                                        "the instance (it would recurse forever)");
    allot_buf_reset(&why);
    ASSERT_INT_EQ(compile_only("{\"$defs\":{\"a\":{\"$ref\":\"#/$defs/b\"},\"b\":{\"$ref\":\"#/"
                               "$defs/a\"}},\"$ref\":\"#/$defs/a\"}",
                               &why),
                  ALLOT_EINVAL);
    ASSERT_STR_CONTAINS(allot_buf_cstr(&why), "$ref cycle that never descends into the instance");
    allot_buf_reset(&why);
    ASSERT_INT_EQ(compile_only("{\"$defs\":{\"a\":{\"allOf\":[{\"$ref\":\"#/$defs/b\"}]},"
                               "\"b\":{\"anyOf\":[{\"type\":\"null\"},{\"not\":{\"$ref\":\"#/"
                               "$defs/a\"}}]}},\"properties\":{\"x\":{\"$ref\":\"#/$defs/a\"}}}",
                               &why),
                  ALLOT_EINVAL);
    ASSERT_STR_CONTAINS(allot_buf_cstr(&why), "never descends into the instance");
    allot_buf_reset(&why);

    /* a recursive schema that does descend: bounded by the recursion cap */
    deep = nest("{\"a\":", "1", "}", 300);
    ASSERT(deep != NULL);
    rc = run("{\"properties\":{\"a\":{\"$ref\":\"#\"}}}", deep, &why);
    free(deep);
    ASSERT_INT_EQ(rc, ALLOT_ETOOBIG);
    ASSERT_STR_CONTAINS(allot_buf_cstr(&why), "the schema recurses more than 128 levels deep");
    ASSERT_STR_CONTAINS(allot_buf_cstr(&why), "at /a/a/a/");
    allot_buf_reset(&why);
    /* each level costs two: the property's schema, then the $ref */
    deep = nest("{\"a\":", "1", "}", 60);
    ASSERT(deep != NULL);
    rc = run("{\"properties\":{\"a\":{\"$ref\":\"#\"}},\"type\":[\"object\",\"integer\"]}", deep,
             &why);
    free(deep);
    ASSERT_INT_EQ(rc, 0);
    allot_buf_release(&why);
}

TEST(json_schema_size_and_depth_caps)
{
    struct allot_buf err;
    char *deep;
    int rc;

    allot_buf_init(&err, 4096);
    /* nesting: 64 levels compile, 65 do not */
    deep = nest("{\"not\":", "{}", "}", ALLOT_JSON_SCHEMA_MAX_DEPTH);
    ASSERT(deep != NULL);
    rc = compile_only(deep, &err);
    free(deep);
    ASSERT_INT_EQ(rc, 0);
    deep = nest("{\"properties\":{\"a\":", "{}", "}}", ALLOT_JSON_SCHEMA_MAX_DEPTH + 1);
    ASSERT(deep != NULL);
    rc = compile_only(deep, &err);
    free(deep);
    ASSERT_INT_EQ(rc, ALLOT_ETOOBIG);
    ASSERT_STR_CONTAINS(allot_buf_cstr(&err), "subschemas nested deeper than 64 levels");
    ASSERT_STR_CONTAINS(allot_buf_cstr(&err), "schema at /properties/a/properties/a/");
    allot_buf_reset(&err);
    deep = nest("{\"not\":", "{}", "}", 900);
    ASSERT(deep != NULL);
    rc = compile_only(deep, &err);
    free(deep);
    ASSERT_INT_EQ(rc, ALLOT_ETOOBIG);
    allot_buf_reset(&err);
    /* const values nest no deeper than subschemas */
    deep = nest("[", "1", "]", 100);
    ASSERT(deep != NULL);
    {
        char *schema = malloc(strlen(deep) + 16);
        ASSERT(schema != NULL);
        snprintf(schema, strlen(deep) + 16, "{\"const\":%s}", deep);
        rc = compile_only(schema, &err);
        free(schema);
    }
    free(deep);
    ASSERT_INT_EQ(rc, ALLOT_ETOOBIG);
    allot_buf_reset(&err);

    /* node count */
    {
        struct allot_buf b;
        int i;
        allot_buf_init(&b, 1 << 20);
        ASSERT_INT_EQ(allot_buf_adds(&b, "{\"anyOf\":[{}"), 0);
        for (i = 0; i < ALLOT_JSON_SCHEMA_MAX_NODES; i++)
            ASSERT_INT_EQ(allot_buf_adds(&b, ",true"), 0);
        ASSERT_INT_EQ(allot_buf_adds(&b, "]}"), 0);
        rc = compile_only(allot_buf_cstr(&b), &err);
        allot_buf_release(&b);
        ASSERT_INT_EQ(rc, ALLOT_ETOOBIG);
        ASSERT_STR_CONTAINS(allot_buf_cstr(&err), "more than 10000 subschemas");
    }
    allot_buf_release(&err);
}

TEST(json_schema_catastrophic_regex_returns_promptly)
{
    struct allot_buf why, inst;
    double t0, dt;
    int i, rc;

    allot_buf_init(&inst, 1 << 20);
    ASSERT_INT_EQ(allot_buf_adds(&inst, "\""), 0);
    for (i = 0; i < 5000; i++)
        ASSERT_INT_EQ(allot_buf_adds(&inst, "a"), 0);
    ASSERT_INT_EQ(allot_buf_adds(&inst, "b\""), 0);
    allot_buf_init(&why, 4096);
    t0 = now_sec();
    rc = run("{\"pattern\":\"(a+)+$\"}", allot_buf_cstr(&inst), &why);
    dt = now_sec() - t0;
    if (rc == ALLOT_EINVAL) /* PCRE2 saw through it: a plain no-match is fine too */
        ASSERT_STR_CONTAINS(allot_buf_cstr(&why), "does not match the pattern");
    else
        ASSERT_INT_EQ(rc, ALLOT_ETOOBIG);
    ASSERT(dt < 1.0);
    allot_buf_reset(&why);
    t0 = now_sec();
    rc = run("{\"pattern\":\"^(a|a)*(a|a)*(a|a)*c$\"}", allot_buf_cstr(&inst), &why);
    dt = now_sec() - t0;
    ASSERT_INT_EQ(rc, ALLOT_ETOOBIG);
    ASSERT_STR_CONTAINS(allot_buf_cstr(&why),
                        "at the root: the regex \"^(a|a)*(a|a)*(a|a)*c$\" is too costly to match");
    ASSERT(dt < 1.0);

    /* a pattern that backtracks a little (2^9) on each of many short
     * strings: every match is charged its limit, so the budget ends it */
    allot_buf_reset(&inst);
    ASSERT_INT_EQ(allot_buf_adds(&inst, "["), 0);
    for (i = 0; i < 50000; i++)
        ASSERT_INT_EQ(allot_buf_adds(&inst, i ? ",\"aaaaaaaaab\"" : "\"aaaaaaaaab\""), 0);
    ASSERT_INT_EQ(allot_buf_adds(&inst, "]"), 0);
    allot_buf_reset(&why);
    t0 = now_sec();
    rc = run("{\"items\":{\"not\":{\"pattern\":\"(a+)+$\"}}}", allot_buf_cstr(&inst), &why);
    dt = now_sec() - t0;
    ASSERT_INT_EQ(rc, ALLOT_ETOOBIG);
    ASSERT_STR_CONTAINS(allot_buf_cstr(&why), "validation would take more than");
    ASSERT(dt < 2.0);
    /* while a linear pattern passes on a long string */
    allot_buf_reset(&inst);
    ASSERT_INT_EQ(allot_buf_adds(&inst, "\""), 0);
    for (i = 0; i < 5000; i++)
        ASSERT_INT_EQ(allot_buf_adds(&inst, "ab"), 0);
    ASSERT_INT_EQ(allot_buf_adds(&inst, "\""), 0);
    ASSERT_INT_EQ(run("{\"pattern\":\"^(a|b)*$\"}", allot_buf_cstr(&inst), NULL), 0);
    allot_buf_release(&why);
    allot_buf_release(&inst);
}

TEST(json_schema_exponential_applicators_hit_the_step_cap)
{
    /* a DAG of anyOf pairs, 40 deep: 2^40 paths, each failing at the end */
    struct allot_buf b, why;
    double t0, dt;
    int i, rc;

    allot_buf_init(&b, 1 << 20);
    allot_buf_init(&why, 4096);
    ASSERT_INT_EQ(allot_buf_adds(&b, "{\"$ref\":\"#/$defs/a0\",\"$defs\":{"), 0);
    for (i = 0; i < 40; i++)
        ASSERT_INT_EQ(allot_buf_addf(&b,
                                     "\"a%d\":{\"anyOf\":[{\"$ref\":\"#/$defs/a%d\"},"
                                     "{\"$ref\":\"#/$defs/a%d\"}]},",
                                     i, i + 1, i + 1),
                      0);
    ASSERT_INT_EQ(allot_buf_adds(&b, "\"a40\":{\"type\":\"string\"}}}"), 0);
    t0 = now_sec();
    rc = run(allot_buf_cstr(&b), "1", &why);
    dt = now_sec() - t0;
    ASSERT_INT_EQ(rc, ALLOT_ETOOBIG);
    ASSERT_STR_CONTAINS(allot_buf_cstr(&why), "validation would take more than 10000000 steps");
    ASSERT(dt < 2.0);
    ASSERT_INT_EQ(run(allot_buf_cstr(&b), "\"s\"", NULL), 0);
    allot_buf_release(&b);
    allot_buf_release(&why);
}

TEST(json_schema_unique_items_on_long_arrays)
{
    struct allot_buf b, why;
    int i;

    allot_buf_init(&b, 1 << 22);
    allot_buf_init(&why, 4096);
    ASSERT_INT_EQ(allot_buf_adds(&b, "["), 0);
    for (i = 0; i < 20000; i++)
        ASSERT_INT_EQ(
            allot_buf_addf(&b, "%s{\"id\":%d,\"tags\":[\"t%d\"]}", i ? "," : "", i, i % 7), 0);
    ASSERT_INT_EQ(allot_buf_adds(&b, "]"), 0);
    ASSERT_INT_EQ(run("{\"uniqueItems\":true}", allot_buf_cstr(&b), &why), 0);
    b.len--; /* drop the "]" */
    ASSERT_INT_EQ(allot_buf_adds(&b, ",{\"tags\":[\"t3\"],\"id\":17.0}]"), 0);
    ASSERT_INT_EQ(run("{\"uniqueItems\":true}", allot_buf_cstr(&b), &why), ALLOT_EINVAL);
    ASSERT_STR_EQ(allot_buf_cstr(&why),
                  "at the root: items 17 and 20000 are equal, but uniqueItems is true");

    /* two large objects, equal but for the order of their members */
    allot_buf_reset(&b);
    allot_buf_reset(&why);
    ASSERT_INT_EQ(allot_buf_adds(&b, "[{"), 0);
    for (i = 0; i < 20000; i++)
        ASSERT_INT_EQ(allot_buf_addf(&b, "%s\"k%d\":%d", i ? "," : "", i, i), 0);
    ASSERT_INT_EQ(allot_buf_adds(&b, "},{"), 0);
    for (i = 20000; i-- > 0;)
        ASSERT_INT_EQ(allot_buf_addf(&b, "\"k%d\":%d%s", i, i, i ? "," : ""), 0);
    ASSERT_INT_EQ(allot_buf_adds(&b, "}]"), 0);
    {
        double t0 = now_sec();
        int rc = run("{\"uniqueItems\":true}", allot_buf_cstr(&b), &why);
        ASSERT(now_sec() - t0 < 2.0);
        ASSERT_INT_EQ(rc, ALLOT_ETOOBIG); /* the square of 20000 lookups: over the budget */
    }
    allot_buf_release(&b);
    allot_buf_release(&why);
}

struct thread_job {
    const struct allot_json_schema *s;
    const cJSON *good, *bad;
    int errors;
};

static void *validate_many(void *arg)
{
    struct thread_job *job = arg;
    struct allot_buf why;
    int i;

    allot_buf_init(&why, 1024);
    for (i = 0; i < 200; i++) {
        allot_buf_reset(&why);
        job->errors += allot_json_schema_validate(job->s, job->good, &why) != 0;
        job->errors += allot_json_schema_validate(job->s, job->bad, &why) != ALLOT_EINVAL;
    }
    allot_buf_release(&why);
    return NULL;
}

TEST(json_schema_is_shared_between_threads)
{
    cJSON *sj = cJSON_Parse(order_schema);
    cJSON *good = cJSON_Parse("{\"title\":\"O\",\"currency\":\"EUR\",\"sku\":\"ABC-1234\","
                              "\"items\":" ORDER_ITEMS ",\"note\":null}");
    cJSON *bad = cJSON_Parse("{\"title\":\"O\",\"currency\":\"EUR\",\"sku\":\"ABC-12345\","
                             "\"items\":" ORDER_ITEMS ",\"note\":null}");
    struct allot_json_schema *s = NULL;
    struct thread_job jobs[4];
    pthread_t th[4];
    int i, errors = 0;

    ASSERT(sj && good && bad);
    ASSERT_INT_EQ(allot_json_schema_compile(sj, &s, NULL), 0);
    cJSON_Delete(sj); /* the compiled schema keeps nothing of it */
    for (i = 0; i < 4; i++) {
        jobs[i].s = s;
        jobs[i].good = good;
        jobs[i].bad = bad;
        jobs[i].errors = 0;
        ASSERT_INT_EQ(pthread_create(&th[i], NULL, validate_many, &jobs[i]), 0);
    }
    for (i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        errors += jobs[i].errors;
    }
    allot_json_schema_free(s);
    cJSON_Delete(good);
    cJSON_Delete(bad);
    ASSERT_INT_EQ(errors, 0);
}
