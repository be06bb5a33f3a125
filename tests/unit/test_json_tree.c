/* allot_json_tree() (json_tree.h) against cJSON_ParseWithLength(): on every
 * text the strict check passes, the two trees must be the same node for
 * node, links included. */
#include <cJSON.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "allot/buf.h"
#include "allot/json_check.h"
#include "allot/json_tree.h"
#include "edits.h"
#include "json_forms.h"
#include "same_tree.h"
#include "test.h"

/* For a text the check passes (NUL_OK: the widest), 1 when both readers
 * give the same tree. For any other text, the reader runs anyway (under
 * ASan it must stay inside the text) and 1 is returned. */
static size_t compared; /* texts agrees() compared */

static int agrees(const char *text, size_t len, const char **why)
{
    struct allot_json_check_error e;
    cJSON *mine, *theirs;
    int same;

    *why = "";
    if (allot_json_check(text, len, ALLOT_JSON_CHECK_NUL_OK, NULL, NULL, &e)) {
        cJSON_Delete(allot_json_tree(text, len));
        return 1;
    }
    compared++;
    mine = allot_json_tree(text, len);
    theirs = cJSON_ParseWithLength(text, len);
    same = mine && theirs && same_tree_list(mine, theirs, 1, why);
    if (!mine || !theirs)
        *why = mine ? "cJSON failed" : "allot_json_tree failed";
    cJSON_Delete(mine);
    cJSON_Delete(theirs);
    return same;
}

TEST(json_tree_is_cjsons_tree_on_edge_forms)
{
    /* beyond json_forms.h's: number edges, escapes at sixteen-byte steps */
    static const char *const texts[] = {
        "-1e999",
        "4.9e-324",
        "2147483647",
        "2147483648",
        "-2147483648",
        "-2147483649",
        "0.1",
        "{ \"k\" : [ true , false , null ] , \"\" : { } }",
        "\"\\b\\f\\n\\r\\t\\\"\\\\\\/\"",
        "\"\\u0041\\u00e9\\u20ac\\uD83D\\uDE00\\uffff\\u0080\"",
        "\"a\\u0000b\"",
        "\"\\u007F\\u07FF\\u0800\\uDBFF\\uDFFF\\uD800\\uDC00\"",
        "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"",
        /* escapes at and across sixteen-byte steps */
        "\"0123456789abcde\\n0123456789abcdef\\\"0123456789abcd\\\\\"",
        "\"0123456789abcdef0123456789abcdef\"",
        "\"0123456789abcdef\\\\\"",
        "{\"\\u006bey\":1,\"k\\\"\":2,\"long key 0123456789abcdef\":\"v\"}",
        "[1,[2,[3,[4,[]]]],{\"a\":{\"b\":{\"c\":{}}}},\"x\"]",
        "[{}, {}, []]",
        "[\"a\"]",
        "{\"model\":\"auto\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":"
        "1}",
    };
    for (size_t i = 0; i < JSON_VALID_FORMS_N; i++) {
        const char *why;
        if (!agrees(json_valid_forms[i], strlen(json_valid_forms[i]), &why))
            TEST_FAIL_("form %zu (%s): %s", i, json_valid_forms[i], why);
    }
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        const char *why;
        if (!agrees(texts[i], strlen(texts[i]), &why))
            TEST_FAIL_("text %zu (%s): %s", i, texts[i], why);
    }
}

TEST(json_tree_nests_to_the_checks_limit_and_no_further)
{
    struct allot_buf b;
    const char *why;
    cJSON *t;

    allot_buf_init(&b, 4096);
    /* objects and arrays in turn, the innermost an array */
    for (int i = 0; i < ALLOT_JSON_CHECK_MAX_DEPTH; i++)
        allot_buf_adds(&b, i % 2 && i < ALLOT_JSON_CHECK_MAX_DEPTH - 1 ? "{\"k\":" : "[");
    for (int i = ALLOT_JSON_CHECK_MAX_DEPTH - 1; i >= 0; i--)
        allot_buf_adds(&b, i % 2 && i < ALLOT_JSON_CHECK_MAX_DEPTH - 1 ? "}" : "]");
    {
        struct allot_json_check_error e;
        ASSERT_INT_EQ(allot_json_check(b.ptr, b.len, 0, NULL, NULL, &e), 0);
    }
    ASSERT(agrees(b.ptr, b.len, &why));
    t = allot_json_tree(b.ptr, b.len);
    ASSERT(t != NULL);
    cJSON_Delete(t);
    /* one level more: refused, as cJSON refuses it */
    allot_buf_reset(&b);
    for (int i = 0; i <= ALLOT_JSON_CHECK_MAX_DEPTH; i++)
        allot_buf_adds(&b, "[");
    for (int i = 0; i <= ALLOT_JSON_CHECK_MAX_DEPTH; i++)
        allot_buf_adds(&b, "]");
    ASSERT(allot_json_tree(b.ptr, b.len) == NULL);
    ASSERT(cJSON_ParseWithLength(b.ptr, b.len) == NULL);
    allot_buf_release(&b);
}

TEST(json_tree_reads_numbers_as_cjson_does)
{
    /* longer than cJSON's first 63 characters (Debian's cJSON reads it all),
     * past int, at the edges of double */
    static const char *const texts[] = {
        "[1234567890123456789012345678901234567890123456789012345678901234567890.5e-3,7]",
        "[2147483646.9,2147483647.5,-2147483648.5,-2147483647.9,1e308,2e308,-2e308,1e-400]",
        "[0.30000000000000004,9007199254740993,-0.0,0e0,1E-0,123.456e+78]",
    };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        const char *why;
        cJSON *t = allot_json_tree(texts[i], strlen(texts[i]));
        ASSERT(t != NULL && cJSON_GetArraySize(t) >= 2);
        cJSON_Delete(t);
        if (!agrees(texts[i], strlen(texts[i]), &why))
            TEST_FAIL_("text %zu: %s", i, why);
    }
}

TEST(json_tree_trees_take_appends_as_cjsons_do)
{
    /* cJSON_AddItemToArray appends after child->prev: the last child */
    static const char text[] = "{\"a\":[1,2,3],\"b\":{}}";
    cJSON *t = allot_json_tree(text, sizeof text - 1);
    char *out;
    ASSERT(t != NULL);
    cJSON_AddItemToArray(cJSON_GetObjectItem(t, "a"), cJSON_CreateNumber(4));
    cJSON_AddItemToObject(t, "c", cJSON_CreateTrue());
    cJSON_AddItemToObject(cJSON_GetObjectItem(t, "b"), "d", cJSON_CreateNull());
    out = cJSON_PrintUnformatted(t);
    ASSERT_STR_EQ(out, "{\"a\":[1,2,3,4],\"b\":{\"d\":null},\"c\":true}");
    cJSON_free(out);
    cJSON_Delete(t);
}

static struct allot_buf edit_base;

static void prime_nothing(const struct allot_buf *body)
{
    (void)body;
}

static int edit_agrees(const struct allot_buf *edit, struct allot_buf *scratch)
{
    const char *why;
    (void)scratch;
    if (agrees(edit->ptr, edit->len, &why))
        return 1;
    fprintf(stderr, "  differs (%s) on: %.*s\n", why, (int)edit->len, edit->ptr);
    return 0;
}

TEST(json_tree_agrees_with_cjson_on_one_byte_edits)
{
    static const char *const bodies[] = {
        "{\"model\":\"auto\",\"max_tokens\":300,\"system\":\"You are terse.\\nBe \\\"brief\\\".\","
        "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"Caf\xc3\xa9 "
        "\\u00e9\\uD83D\\uDE00 0123456789abcdef\\\\ tab\\tend\"}]},{\"role\":\"assistant\","
        "\"content\":\"ok\"}],\"temperature\":0.25,\"stream\":false,\"metadata\":{\"n\":[1,-2e3,"
        "true,null,{}]}}",
        "[{\"a\":\"\\/\\b\\f\\r\"},[],[[-0.0]],\"\",{\"\":\"\"},12345678901234567890,\"x\"]",
    };
    compared = 0;
    for (size_t k = 0; k < sizeof bodies / sizeof bodies[0]; k++) {
        allot_buf_init(&edit_base, 1024);
        allot_buf_adds(&edit_base, bodies[k]);
        int bad = edits_agree(&edit_base, 3000, 7u + (unsigned)k, prime_nothing, edit_agrees);
        allot_buf_release(&edit_base);
        if (bad >= 0)
            TEST_FAIL_("body %zu, edit %d", k, bad);
    }
    if (compared < 1000) /* most edits break the JSON; enough must not */
        TEST_FAIL_("only %zu of 6000 edits were JSON to compare", compared);
}

TEST(json_tree_agrees_with_cjson_on_every_labelled_request)
{
    /* data/kinds: 10,000 real-looking request lines, every script and escape */
    glob_t g;
    char *line = NULL;
    size_t cap = 0, lines = 0;
    ssize_t n;

    ASSERT_INT_EQ(glob("data/kinds/*.jsonl", 0, NULL, &g), 0);
    for (size_t f = 0; f < g.gl_pathc; f++) {
        FILE *fp = fopen(g.gl_pathv[f], "r");
        ASSERT(fp != NULL);
        while ((n = getline(&line, &cap, fp)) > 0) {
            const char *why;
            if (!agrees(line, (size_t)n, &why)) {
                fclose(fp);
                TEST_FAIL_("%s line %zu: %s", g.gl_pathv[f], lines, why);
            }
            lines++;
        }
        fclose(fp);
    }
    free(line);
    globfree(&g);
    ASSERT(lines >= 10000);
}

TEST(json_parse_is_cjsons_parse_for_text_not_checked)
{
    /* what the strict check refuses but cJSON reads, what neither reads,
     * and checked text */
    static const struct {
        const char *text;
        size_t len; /* 0: strlen */
    } cases[] = {
        {"{\"a\":\"tab\there\"}", 0},      /* a raw control byte */
        {"{\"a\":\"\xff\xfe\"}", 0},       /* not UTF-8 */
        {"{\"a\":1} trailing", 0},         /* bytes after the value */
        {"{\"a\":\"x\\u0000y\"}", 0},      /* \u0000 */
        {"[01]", 0},                       /* a leading zero */
        {"\xef\xbb\xbf{\"bom\":true}", 0}, /* a byte order mark */
        {"{\"a\":", 0},                    /* cut */
        {"", 0},
        {"{\"a\":[1,2,{\"b\":null}],\"c\":\"d\"}", 0},
        {"{\"n\":-0,\"m\":123456789012345,\"k\":1234567890123456}", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t len = cases[i].len ? cases[i].len : strlen(cases[i].text);
        cJSON *mine = allot_json_parse(cases[i].text, len);
        cJSON *theirs = cJSON_ParseWithLength(cases[i].text, len);
        const char *why = "";
        int same = !mine == !theirs && (!mine || same_tree_list(mine, theirs, 1, &why));

        cJSON_Delete(mine);
        cJSON_Delete(theirs);
        if (!same)
            TEST_FAIL_("case %zu (%s): %s", i, cases[i].text, mine ? why : "one is NULL");
    }
    ASSERT(allot_json_parse(NULL, 0) == NULL);
}
