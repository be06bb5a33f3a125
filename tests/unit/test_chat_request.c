#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cJSON.h>
#include "allot/anthropic.h"
#include "allot/chat_request.h"
#include "allot/error.h"
#include "allot/responses.h"
#include "test.h"

#define LIT(s) (s), (sizeof(s) - 1)

/* Parse a literal body; the struct and err are the caller's to release. */
static int parse(struct allot_chat_request *r, const char *body, struct allot_buf *err)
{
    allot_buf_init(err, 4096);
    return allot_chat_request_parse(r, body, strlen(body), err);
}

TEST(chat_request_plain_request)
{
    const char *body = "{\"model\":\"auto\",\"messages\":["
                       "{\"role\":\"system\",\"content\":\"You are terse.\"},"
                       "{\"role\":\"user\",\"content\":\"Summarise this.\"}]}";
    struct allot_chat_request r;
    struct allot_buf err;
    ASSERT_INT_EQ(parse(&r, body, &err), 0);
    ASSERT_MEM_EQ(r.model.ptr, r.model.len, "auto");
    ASSERT_INT_EQ(r.stream, 0);
    ASSERT_INT_EQ(r.include_usage, 0);
    ASSERT_MEM_EQ(r.system.ptr, r.system.len, "You are terse.");
    ASSERT_MEM_EQ(r.last_user.ptr, r.last_user.len, "Summarise this.");
    ASSERT_INT_EQ(r.n_messages, 2);
    ASSERT_INT_EQ(r.n_tool_results, 0);
    ASSERT_INT_EQ(r.material_bytes, 0);
    ASSERT_INT_EQ(r.has_tools, 0);
    ASSERT_INT_EQ(r.has_response_format, 0);
    ASSERT_INT_EQ(r.stream_options_len, 0);
    ASSERT_MEM_EQ(body + r.model_off, r.model_len, "\"auto\"");
    allot_chat_request_release(&r);
    allot_buf_release(&err);
}

TEST(chat_request_stream_and_include_usage)
{
    const char *b1 = "{\"model\":\"m\",\"stream\":true,\"messages\":[{\"role\":\"user\","
                     "\"content\":\"hi\"}]}";
    const char *b2 = "{\"model\":\"m\",\"stream\":true,\"stream_options\":{\"include_usage\":"
                     "true},\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
    const char *b3 = "{\"model\":\"m\",\"stream\":false,\"stream_options\":{\"include_usage\":"
                     "false},\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
    struct allot_chat_request r;
    struct allot_buf err;

    ASSERT_INT_EQ(parse(&r, b1, &err), 0);
    ASSERT_INT_EQ(r.stream, 1);
    ASSERT_INT_EQ(r.include_usage, 0);
    allot_chat_request_release(&r);
    allot_buf_release(&err);

    ASSERT_INT_EQ(parse(&r, b2, &err), 0);
    ASSERT_INT_EQ(r.stream, 1);
    ASSERT_INT_EQ(r.include_usage, 1);
    ASSERT_MEM_EQ(b2 + r.stream_options_off, r.stream_options_len, "{\"include_usage\":true}");
    allot_chat_request_release(&r);
    allot_buf_release(&err);

    ASSERT_INT_EQ(parse(&r, b3, &err), 0);
    ASSERT_INT_EQ(r.stream, 0);
    ASSERT_INT_EQ(r.include_usage, 0);
    allot_chat_request_release(&r);
    allot_buf_release(&err);
}

TEST(chat_request_instruction_and_signals)
{
    /* developer counts as the system prompt; the last user turn wins; the
     * second system message, the assistant and tool turns are material */
    const char *body =
        "{\"model\":\"auto\",\"messages\":["
        "{\"role\":\"developer\",\"content\":[{\"type\":\"text\",\"text\":\"Be brief.\"},"
        "{\"type\":\"text\",\"text\":\"Use JSON.\"}]},"
        "{\"role\":\"system\",\"content\":\"12345\"},"
        "{\"role\":\"user\",\"content\":\"first question\"},"
        "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[]},"
        "{\"role\":\"tool\",\"tool_call_id\":\"1\",\"content\":\"abc\"},"
        "{\"role\":\"function\",\"name\":\"f\",\"content\":\"de\"},"
        "{\"role\":\"user\",\"content\":[{\"type\":\"image_url\",\"image_url\":{\"url\":\"x\"}},"
        "{\"type\":\"text\",\"text\":\"Which tool next?\"},{\"type\":\"text\",\"text\":\"Be "
        "quick.\"}]}],"
        "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\"}}],"
        "\"response_format\":{\"type\":\"json_object\"}}";
    struct allot_chat_request r;
    struct allot_buf err;

    ASSERT_INT_EQ(parse(&r, body, &err), 0);
    ASSERT_MEM_EQ(r.system.ptr, r.system.len, "Be brief.\nUse JSON.");
    ASSERT_MEM_EQ(r.last_user.ptr, r.last_user.len, "Which tool next?\nBe quick.");
    ASSERT_INT_EQ(r.n_messages, 7);
    ASSERT_INT_EQ(r.n_tool_results, 2);
    /* "12345" + "first question" + "abc" + "de" */
    ASSERT_INT_EQ(r.material_bytes, 5 + 14 + 3 + 2);
    ASSERT_INT_EQ(r.has_tools, 1);
    ASSERT_INT_EQ(r.has_response_format, 1);
    allot_chat_request_release(&r);
    allot_buf_release(&err);
}

TEST(chat_request_text_response_format_and_empty_tools)
{
    const char *body = "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
                       "\"tools\":[],\"functions\":[],\"response_format\":{\"type\":\"text\"}}";
    struct allot_chat_request r;
    struct allot_buf err;
    ASSERT_INT_EQ(parse(&r, body, &err), 0);
    ASSERT_INT_EQ(r.has_tools, 0);
    ASSERT_INT_EQ(r.has_response_format, 0);
    ASSERT_INT_EQ(r.system.len, 0);
    allot_chat_request_release(&r);
    allot_buf_release(&err);
}

TEST(chat_request_long_instruction_is_capped_on_a_char_boundary)
{
    /* 70,000 bytes of "é" (2 bytes each) preceded by one ASCII byte, so the
     * 64 KiB cap falls inside a character */
    size_t n = 1 + 2 * 35000, i;
    struct allot_buf body, err;
    struct allot_chat_request r;

    allot_buf_init(&body, 1 << 20);
    allot_buf_init(&err, 1024);
    ASSERT_INT_EQ(allot_buf_adds(&body, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\","
                                        "\"content\":\"x"),
                  0);
    for (i = 1; i < n; i += 2)
        ASSERT_INT_EQ(allot_buf_adds(&body, "\xc3\xa9"), 0);
    ASSERT_INT_EQ(allot_buf_adds(&body, "\"}]}"), 0);
    ASSERT_INT_EQ(allot_chat_request_parse(&r, body.ptr, body.len, &err), 0);
    ASSERT(r.last_user.len <= 64 * 1024);
    ASSERT(r.last_user.len >= 64 * 1024 - 1);
    ASSERT_INT_EQ(r.last_user.len % 2, 1); /* 'x' + whole characters */
    allot_chat_request_release(&r);
    allot_buf_release(&body);
    allot_buf_release(&err);
}

TEST(chat_request_malformed_json_names_line_and_column)
{
    struct allot_chat_request r;
    struct allot_buf err;
    ASSERT_INT_EQ(parse(&r, "{\n  \"model\": \"m\",\n  \"messages\": [,]\n}", &err), ALLOT_EPARSE);
    ASSERT_STR_EQ(allot_buf_cstr(&err),
                  "invalid JSON at line 3 column 16: unexpected character ','");
    allot_chat_request_release(&r); /* allowed after an error */
    allot_buf_release(&err);

    ASSERT_INT_EQ(parse(&r, "", &err), ALLOT_EPARSE);
    ASSERT_STR_EQ(allot_buf_cstr(&err), "invalid JSON at line 1 column 1: unexpected end of input");
    allot_buf_release(&err);

    /* trailing garbage, NUL escapes and invalid UTF-8 are refused */
    ASSERT_INT_EQ(parse(&r, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\"}]} x", &err),
                  ALLOT_EPARSE);
    ASSERT_STR_CONTAINS(allot_buf_cstr(&err), "column 44: unexpected data after the JSON value");
    allot_buf_release(&err);
    ASSERT_INT_EQ(parse(&r, "{\"model\":\"m\\u0000\",\"messages\":[{\"role\":\"user\"}]}", &err),
                  ALLOT_EPARSE);
    ASSERT_STR_CONTAINS(allot_buf_cstr(&err), "column 12: \\u0000 is not allowed in strings");
    allot_buf_release(&err);
    ASSERT_INT_EQ(parse(&r, "{\"model\":\"m\xff\",\"messages\":[{\"role\":\"user\"}]}", &err),
                  ALLOT_EPARSE);
    ASSERT_STR_CONTAINS(allot_buf_cstr(&err), "column 12: invalid UTF-8 in string");
    allot_buf_release(&err);
}

TEST(chat_request_invalid_requests_name_the_field)
{
    static const struct {
        const char *body, *msg;
    } cases[] = {
        {"[1,2]", "must be a JSON object"},
        {"{\"messages\":[{\"role\":\"user\"}]}", "'model' is required and must be a string"},
        {"{\"model\":7,\"messages\":[{\"role\":\"user\"}]}",
         "'model' is required and must be a string"},
        {"{\"model\":\"m\"}", "'messages' must be a non-empty array"},
        {"{\"model\":\"m\",\"messages\":[]}", "'messages' must be a non-empty array"},
        {"{\"model\":\"m\",\"messages\":{}}", "'messages' must be a non-empty array"},
        {"{\"model\":\"m\",\"messages\":[{\"role\":\"user\"},\"hi\"]}",
         "'messages[1]' must be an object"},
        {"{\"model\":\"m\",\"messages\":[{\"content\":\"hi\"}]}",
         "'messages[0].role' is required and must be a string"},
        {"{\"model\":\"m\",\"messages\":[{\"role\":1}]}",
         "'messages[0].role' is required and must be a string"},
        {"{\"model\":\"m\",\"stream\":\"yes\",\"messages\":[{\"role\":\"user\"}]}",
         "'stream' must be a boolean"},
        {"{\"model\":\"a\",\"messages\":[{\"role\":\"user\"}],\"model\":\"b\"}",
         "duplicate top-level key 'model'"},
        {"{\"model\":\"a\",\"messages\":[{\"role\":\"user\"}],\"m\\u006fdel\":\"b\"}",
         "duplicate top-level key 'model'"},
        {"{\"stream_options\":{},\"model\":\"a\",\"messages\":[{\"role\":\"user\"}],"
         "\"stream_options\":null}",
         "duplicate top-level key 'stream_options'"},
    };
    size_t i;

    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct allot_chat_request r;
        struct allot_buf err;
        int rc = parse(&r, cases[i].body, &err);
        if (rc != ALLOT_EINVAL)
            fprintf(stderr, "  case %zu: %s\n", i, cases[i].body);
        ASSERT_INT_EQ(rc, ALLOT_EINVAL);
        ASSERT_STR_CONTAINS(allot_buf_cstr(&err), cases[i].msg);
        ASSERT(r.root == NULL);
        allot_chat_request_release(&r);
        allot_buf_release(&err);
    }
}

TEST(chat_request_spans_find_top_level_values_only)
{
    /* whitespace everywhere, a nested "model" inside messages and inside a
     * string, an escaped top-level key, the model key last */
    const char *body = " \n{ \"messages\" : [ {\"role\":\"user\",\"content\":\"\\\"model\\\": 1\","
                       "\"model\":\"inner\"} ],\n"
                       "  \"metadata\": {\"model\": \"nested\", \"x\": [\"model\", {\"model\":2}]},"
                       "  \"stream_\\u006fptions\"\t:\t{ \"include_usage\" : true } ,"
                       "  \"mod\\u0065l\" :  \"gpt-4o\"  \n} ";
    struct allot_chat_request r;
    struct allot_buf err;

    ASSERT_INT_EQ(parse(&r, body, &err), 0);
    ASSERT_MEM_EQ(r.model.ptr, r.model.len, "gpt-4o");
    ASSERT_MEM_EQ(body + r.model_off, r.model_len, "\"gpt-4o\"");
    ASSERT_MEM_EQ(body + r.stream_options_off, r.stream_options_len,
                  "{ \"include_usage\" : true }");
    ASSERT_INT_EQ(r.include_usage, 1);
    allot_chat_request_release(&r);
    allot_buf_release(&err);
}

TEST(chat_request_spans_with_escaped_model_value)
{
    const char *body = "{\"model\":\"a\\\"b\\\\c\\u00e9\",\"messages\":[{\"role\":\"user\"}]}";
    struct allot_chat_request r;
    struct allot_buf err;
    ASSERT_INT_EQ(parse(&r, body, &err), 0);
    ASSERT_MEM_EQ(r.model.ptr, r.model.len, "a\"b\\c\xc3\xa9");
    ASSERT_MEM_EQ(body + r.model_off, r.model_len, "\"a\\\"b\\\\c\\u00e9\"");
    allot_chat_request_release(&r);
    allot_buf_release(&err);
}

/* Parse body, rewrite it, check the output is a chat request with the new
 * model, and return the output (caller frees). */
static char *rewrite(const char *body, const char *model, int usage)
{
    struct allot_chat_request r, r2;
    struct allot_buf err, out;
    char *res = NULL;

    allot_buf_init(&out, 1 << 20);
    if (parse(&r, body, &err) != 0)
        goto out;
    if (allot_chat_request_rewrite(&r, body, strlen(body), model, usage, &out) != 0)
        goto out;
    allot_buf_reset(&err);
    if (allot_chat_request_parse(&r2, out.ptr, out.len, &err) != 0) {
        fprintf(stderr, "  rewrite is not a chat request: %s\n  %s\n", allot_buf_cstr(&err),
                out.ptr);
        goto out;
    }
    if (!allot_slice_eq(r2.model, model) || (usage && !r2.include_usage)) {
        fprintf(stderr, "  rewrite lost the model or include_usage: %s\n", out.ptr);
        allot_chat_request_release(&r2);
        goto out;
    }
    allot_chat_request_release(&r2);
    res = allot_buf_detach(&out);
out:
    allot_chat_request_release(&r);
    allot_buf_release(&err);
    allot_buf_release(&out);
    return res;
}

TEST(chat_request_rewrite_keeps_other_bytes)
{
    const char *body = "{ \"temperature\": 1.0, \"model\" : \"auto\" ,\n \"n\": 1e0,"
                       " \"messages\":[{\"role\":\"user\",\"content\":\"caf\\u00e9 \\/ x\"}] }";
    const char *want = "{ \"temperature\": 1.0, \"model\" : \"qwen\\\"2.5\" ,\n \"n\": 1e0,"
                       " \"messages\":[{\"role\":\"user\",\"content\":\"caf\\u00e9 \\/ x\"}] }";
    char *got = rewrite(body, "qwen\"2.5", 0);
    ASSERT(got != NULL);
    ASSERT_STR_EQ(got, want);
    free(got);
}

TEST(chat_request_rewrite_inserts_stream_options)
{
    const char *body = "  {\"model\":\"auto\",\"stream\":true,\"messages\":[{\"role\":\"user\","
                       "\"content\":\"hi\"}]}";
    const char *want = "  {\"stream_options\":{\"include_usage\":true},\"model\":\"gpt-4o-mini\","
                       "\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
    const char *min = "{\"messages\":[{\"role\":\"user\"}],\"model\":\"\"}";
    const char *min_want = "{\"stream_options\":{\"include_usage\":true},\"messages\":[{\"role\":"
                           "\"user\"}],\"model\":\"x\"}";
    char *got = rewrite(body, "gpt-4o-mini", 1);
    ASSERT(got != NULL);
    ASSERT_STR_EQ(got, want);
    free(got);
    got = rewrite(min, "x", 1);
    ASSERT(got != NULL);
    ASSERT_STR_EQ(got, min_want);
    free(got);
}

TEST(chat_request_rewrite_updates_existing_stream_options)
{
    static const struct {
        const char *body, *want;
    } cases[] = {
        /* include_usage false -> true, other keys and bytes kept */
        {"{\"model\":\"a\",\"stream_options\": {\"x\": 1.50, \"include_usage\" : false },"
         "\"messages\":[{\"role\":\"user\"}]}",
         "{\"model\":\"b\",\"stream_options\": {\"x\": 1.50, \"include_usage\" : true },"
         "\"messages\":[{\"role\":\"user\"}]}"},
        /* no include_usage: added first, the rest kept */
        {"{\"stream_options\":{ \"x\":1e2},\"model\":\"a\",\"messages\":[{\"role\":\"user\"}]}",
         "{\"stream_options\":{\"include_usage\":true, \"x\":1e2},\"model\":\"b\","
         "\"messages\":[{\"role\":\"user\"}]}"},
        /* empty object */
        {"{\"model\":\"a\",\"stream_options\":{ },\"messages\":[{\"role\":\"user\"}]}",
         "{\"model\":\"b\",\"stream_options\":{\"include_usage\":true },"
         "\"messages\":[{\"role\":\"user\"}]}"},
        /* not an object */
        {"{\"model\":\"a\",\"stream_options\":null,\"messages\":[{\"role\":\"user\"}]}",
         "{\"model\":\"b\",\"stream_options\":{\"include_usage\":true},"
         "\"messages\":[{\"role\":\"user\"}]}"},
        /* already true: only the model changes */
        {"{\"model\":\"a\",\"stream_options\":{\"include_usage\":true},\"messages\":[{\"role\":"
         "\"user\"}]}",
         "{\"model\":\"b\",\"stream_options\":{\"include_usage\":true},\"messages\":[{\"role\":"
         "\"user\"}]}"},
        /* duplicate include_usage keys: rebuilt from the tree */
        {"{\"model\":\"a\",\"stream_options\":{\"include_usage\":true,\"include_usage\":false},"
         "\"messages\":[{\"role\":\"user\"}]}",
         "{\"model\":\"b\",\"stream_options\":{\"include_usage\":true},\"messages\":[{\"role\":"
         "\"user\"}]}"},
    };
    size_t i;

    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *got = rewrite(cases[i].body, "b", 1);
        ASSERT(got != NULL);
        if (strcmp(got, cases[i].want) != 0)
            fprintf(stderr, "  case %zu\n", i);
        ASSERT_STR_EQ(got, cases[i].want);
        free(got);
    }
}

TEST(chat_request_rewrite_without_usage_leaves_stream_options)
{
    const char *body = "{\"stream_options\":{\"include_usage\":false},\"model\":\"a\","
                       "\"messages\":[{\"role\":\"user\"}]}";
    char *got = rewrite(body, "bb", 0);
    ASSERT(got != NULL);
    ASSERT_STR_EQ(got, "{\"stream_options\":{\"include_usage\":false},\"model\":\"bb\","
                       "\"messages\":[{\"role\":\"user\"}]}");
    free(got);
}

TEST(chat_request_rewrite_is_valid_json_with_new_model)
{
    const char *body = "{\"model\":\"auto\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],"
                       "\"stream\":true}";
    struct allot_chat_request r;
    struct allot_buf err, out;
    const char *end = NULL;
    cJSON *v, *c;
    int n_model = 0, n_options = 0;

    ASSERT_INT_EQ(parse(&r, body, &err), 0);
    allot_buf_init(&out, 4096);
    ASSERT_INT_EQ(allot_chat_request_rewrite(&r, body, strlen(body), "a\\b\"\n\xc3\xa9", 1, &out),
                  0);
    /* checked by cJSON itself, not through the parser under test */
    v = cJSON_ParseWithLengthOpts(out.ptr, out.len, &end, 0);
    ASSERT(v != NULL);
    ASSERT(end == out.ptr + out.len);
    for (c = v->child; c; c = c->next) {
        n_model += strcmp(c->string, "model") == 0;
        n_options += strcmp(c->string, "stream_options") == 0;
    }
    ASSERT_INT_EQ(n_model, 1);
    ASSERT_INT_EQ(n_options, 1);
    ASSERT_STR_EQ(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(v, "model")),
                  "a\\b\"\n\xc3\xa9");
    ASSERT(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(v, "stream_options"), "include_usage")));
    ASSERT(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(v, "stream")));
    cJSON_Delete(v);
    allot_buf_release(&out);
    allot_chat_request_release(&r);
    allot_buf_release(&err);
}

TEST(chat_request_rewrite_failure_leaves_output_unchanged)
{
    const char *body = "{\"model\":\"auto\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
    struct allot_chat_request r;
    struct allot_buf err, out;

    ASSERT_INT_EQ(parse(&r, body, &err), 0);
    allot_buf_init(&out, 20);
    ASSERT_INT_EQ(allot_buf_adds(&out, "keep"), 0);
    ASSERT_INT_EQ(allot_chat_request_rewrite(&r, body, strlen(body), "m", 0, &out), ALLOT_ETOOBIG);
    ASSERT_STR_EQ(allot_buf_cstr(&out), "keep");
    /* a body shorter than the parsed one is refused, not read past */
    ASSERT_INT_EQ(allot_chat_request_rewrite(&r, body, 5, "m", 0, &out), ALLOT_EINVAL);
    ASSERT_STR_EQ(allot_buf_cstr(&out), "keep");
    allot_buf_release(&out);
    allot_chat_request_release(&r);
    allot_buf_release(&err);
}

TEST(chat_request_hostile_nesting_is_refused)
{
    /* 100,000 nested arrays: refused at cJSON's depth limit (1000) with a
     * parse error, before cJSON (which recurses) sees them */
    size_t depth = 100000, i;
    struct allot_buf body, err;
    struct allot_chat_request r;

    allot_buf_init(&body, 1 << 20);
    allot_buf_init(&err, 1024);
    ASSERT_INT_EQ(
        allot_buf_adds(&body, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\"}],\"x\":"), 0);
    for (i = 0; i < depth; i++)
        ASSERT_INT_EQ(allot_buf_add(&body, "[", 1), 0);
    for (i = 0; i < depth; i++)
        ASSERT_INT_EQ(allot_buf_add(&body, "]", 1), 0);
    ASSERT_INT_EQ(allot_buf_adds(&body, "}"), 0);
    ASSERT_INT_EQ(allot_chat_request_parse(&r, body.ptr, body.len, &err), ALLOT_EPARSE);
    /* the top-level object and 999 arrays are open at the 1,000th '[' */
    ASSERT_STR_EQ(allot_buf_cstr(&err),
                  "invalid JSON at line 1 column 1046: nesting deeper than 1000 levels");
    ASSERT(r.root == NULL);
    allot_chat_request_release(&r);
    allot_buf_release(&body);
    allot_buf_release(&err);
}

TEST(chat_request_nesting_within_limit_keeps_spans)
{
    /* exactly 1,000 levels (the top-level object, 499 objects and 500
     * arrays) is accepted, and the spans skip it all */
    size_t depth = 499, i;
    struct allot_buf body, err, out;
    struct allot_chat_request r;

    allot_buf_init(&body, 1 << 20);
    allot_buf_init(&err, 1024);
    allot_buf_init(&out, 1 << 20);
    ASSERT_INT_EQ(allot_buf_adds(&body, "{\"messages\":[{\"role\":\"user\"}],\"x\":"), 0);
    for (i = 0; i < depth; i++)
        ASSERT_INT_EQ(allot_buf_adds(&body, "{\"model\":["), 0);
    ASSERT_INT_EQ(allot_buf_adds(&body, "[]"), 0);
    for (i = 0; i < depth; i++)
        ASSERT_INT_EQ(allot_buf_adds(&body, "]}"), 0);
    ASSERT_INT_EQ(allot_buf_adds(&body, ",\"model\":\"outer\"}"), 0);
    ASSERT_INT_EQ(allot_chat_request_parse(&r, body.ptr, body.len, &err), 0);
    ASSERT_MEM_EQ(body.ptr + r.model_off, r.model_len, "\"outer\"");
    ASSERT_INT_EQ(allot_chat_request_rewrite(&r, body.ptr, body.len, "new", 0, &out), 0);
    ASSERT_INT_EQ(out.len, body.len - 2);
    ASSERT_MEM_EQ(out.ptr + out.len - 14, 14, "\"model\":\"new\"}");
    ASSERT(memcmp(out.ptr, body.ptr, body.len - 9) == 0);
    allot_chat_request_release(&r);
    allot_buf_release(&body);
    allot_buf_release(&err);
    allot_buf_release(&out);
}

TEST(chat_request_strict_json_refuses_what_cjson_would_let_through)
{
    /* cJSON alone accepts each of these; an upstream with a strict parser
     * would not, so the gateway refuses them itself, saying where and why */
    static const struct {
        const char *body, *msg;
    } cases[] = {
        {"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"a\tb\"}]}",
         "line 1 column 53: unescaped control character in string"},
        {"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"a\nb\"}]}",
         "line 1 column 53: unescaped control character in string"},
        {"{\"model\":\"m\",\"temperature\":01,\"messages\":[{\"role\":\"user\"}]}",
         "column 28: invalid number"},
        {"{\"model\":\"m\",\"temperature\":1.,\"messages\":[{\"role\":\"user\"}]}",
         "column 28: invalid number"},
        {"{\"model\":\"m\",\"temperature\":-,\"messages\":[{\"role\":\"user\"}]}",
         "column 28: invalid number"},
        {"{\"model\":\"m\",\"temperature\":1e,\"messages\":[{\"role\":\"user\"}]}",
         "column 28: invalid number"},
        {"{\"model\":\"m\",\"temperature\":.5,\"messages\":[{\"role\":\"user\"}]}",
         "column 28: unexpected character '.'"},
        {"{\"model\":\"m\",\"temperature\":0x1,\"messages\":[{\"role\":\"user\"}]}",
         "column 29: unexpected character 'x'"},
        {"{\"model\":\"m\",\f\"messages\":[{\"role\":\"user\"}]}",
         "column 14: unexpected byte 0x0C"},
        {"\xEF\xBB\xBF{\"model\":\"m\",\"messages\":[{\"role\":\"user\"}]}",
         "line 1 column 1: byte order mark"},
        {"{\"model\":\"\\ud800\",\"messages\":[{\"role\":\"user\"}]}",
         "column 11: unpaired UTF-16 surrogate in string"},
        {"{\"model\":\"\\ud800\\u0041\",\"messages\":[{\"role\":\"user\"}]}",
         "unpaired UTF-16 surrogate in string"},
        {"{\"model\":\"\\udc00\",\"messages\":[{\"role\":\"user\"}]}",
         "unpaired UTF-16 surrogate in string"},
        {"{\"model\":\"\\x41\",\"messages\":[{\"role\":\"user\"}]}",
         "column 11: invalid escape in string"},
        {"{\"model\":\"\\u00g1\",\"messages\":[{\"role\":\"user\"}]}",
         "invalid \\u escape in string"},
        {"{\"model\":\"\xc0\xaf\",\"messages\":[{\"role\":\"user\"}]}", "invalid UTF-8 in string"},
        {"{\"model\":\"\xed\xa0\x80\",\"messages\":[{\"role\":\"user\"}]}",
         "invalid UTF-8 in string"},
        {"{\"model\":\"\xf4\x90\x80\x80\",\"messages\":[{\"role\":\"user\"}]}",
         "invalid UTF-8 in string"},
        {"{\"model\":\"m\",\"messages\":[{\"role\":\"user\"},]}",
         "column 42: unexpected character ']'"},
        {"{\"model\":\"m\",\"messages\":[{\"role\":\"user\"}],}",
         "column 43: unexpected character '}'"},
        {"{\"model\":\"m\",\"stream\":tru,\"messages\":[{\"role\":\"user\"}]}",
         "column 23: unexpected character 't'"},
        {"{\"model\":\"m\",\"messages\":[{\"role\":\"user\"}]",
         "column 42: unexpected end of input"},
        {"{\"model\":\"m", "column 12: unterminated string"},
    };
    size_t i;

    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct allot_chat_request r;
        struct allot_buf err;
        int rc = parse(&r, cases[i].body, &err);
        if (rc != ALLOT_EPARSE || !strstr(allot_buf_cstr(&err), cases[i].msg))
            fprintf(stderr, "  case %zu: %s\n", i, allot_buf_cstr(&err));
        ASSERT_INT_EQ(rc, ALLOT_EPARSE);
        ASSERT_STR_CONTAINS(allot_buf_cstr(&err), "invalid JSON at ");
        ASSERT_STR_CONTAINS(allot_buf_cstr(&err), cases[i].msg);
        ASSERT(r.root == NULL);
        allot_chat_request_release(&r);
        allot_buf_release(&err);
    }
}

TEST(chat_request_accepts_every_valid_json_form)
{
    /* escapes, surrogate pairs, raw UTF-8, all number forms (range is the
     * upstream's business), the four whitespace bytes everywhere */
    const char *body = "\r\n\t {\"temperature\":-0.0,\"top_p\":1E+2,\"n\":1e999,\"seed\":"
                       "123456789012345678901234567890,\"x\":[true,false,null,{},[],\"\"],\r\n"
                       "\"model\" :\t\"m\\u00e9\",\"messages\":[{\"role\":\"user\",\"content\":"
                       "\"\\ud83d\\ude00 \xf0\x9f\x98\x80 \\\"q\\\" \\/ \\b\\f\\n\\r\\t\"}]}\n";
    struct allot_chat_request r;
    struct allot_buf err;

    ASSERT_INT_EQ(parse(&r, body, &err), 0);
    ASSERT_MEM_EQ(r.model.ptr, r.model.len, "m\xc3\xa9");
    ASSERT_MEM_EQ(r.last_user.ptr, r.last_user.len,
                  "\xf0\x9f\x98\x80 \xf0\x9f\x98\x80 \"q\" / \b\f\n\r\t");
    ASSERT_MEM_EQ(body + r.model_off, r.model_len, "\"m\\u00e9\"");
    allot_chat_request_release(&r);
    allot_buf_release(&err);
}

TEST(chat_request_duplicate_members_last_one_counts)
{
    /* as in Python's json (and jansson before): the last duplicate wins,
     * so the gateway routes on what most upstreams will read */
    const char *body = "{\"messages\":[{\"role\":\"user\",\"content\":\"first\"}],\"model\":\"m\","
                       "\"stream\":true,\"stream\":false,"
                       "\"messages\":[{\"role\":\"system\",\"role\":\"user\",\"content\":\"a\","
                       "\"content\":\"second\"}]}";
    struct allot_chat_request r;
    struct allot_buf err;

    ASSERT_INT_EQ(parse(&r, body, &err), 0);
    ASSERT_MEM_EQ(r.last_user.ptr, r.last_user.len, "second");
    ASSERT_INT_EQ(r.system.len, 0);
    ASSERT_INT_EQ(r.n_messages, 1);
    ASSERT_INT_EQ(r.stream, 0);
    allot_chat_request_release(&r);
    allot_buf_release(&err);
}

TEST(chat_request_error_column_counts_characters)
{
    /* "é" is two bytes but one column, as an editor shows it */
    struct allot_chat_request r;
    struct allot_buf err;
    ASSERT_INT_EQ(parse(&r, "{\"model\":\"\xc3\xa9\xc3\xa9\"\n,\"a\" x}", &err), ALLOT_EPARSE);
    ASSERT_STR_EQ(allot_buf_cstr(&err),
                  "invalid JSON at line 2 column 6: unexpected character 'x'");
    allot_chat_request_release(&r);
    allot_buf_release(&err);
}

/* POST /v1/embeddings bodies: model and input, the model's span for the
 * rewrite, the input's bytes for a token estimate. */
TEST(chat_request_embeddings)
{
    static const struct {
        const char *body;
        int rc;
        size_t bytes;
        const char *err;
    } cases[] = {
        {"{\"model\":\"auto\",\"input\":\"hello world\"}", 0, 11, NULL},
        {"{\"input\":[\"ab\",\"cde\"],\"model\":\"e\",\"encoding_format\":\"base64\"}", 0, 5, NULL},
        {"{\"model\":\"e\",\"input\":[1,2,3]}", 0, 12, NULL},
        {"{\"model\":\"e\",\"input\":[[1,2],[3]]}", 0, 12, NULL},
        {"{\"model\":\"e\",\"input\":\"x\",\"stream\":true}", 0, 1, NULL},
        {"{\"model\":\"e\"}", ALLOT_EINVAL, 0, "'input' is required"},
        {"{\"model\":\"e\",\"input\":[]}", ALLOT_EINVAL, 0, "'input' is required"},
        {"{\"model\":\"e\",\"input\":[\"a\",{}]}", ALLOT_EINVAL, 0, "'input' must be a string"},
        {"{\"input\":\"x\"}", ALLOT_EINVAL, 0, "'model' is required"},
        {"{\"model\":\"e\",\"model\":\"f\",\"input\":\"x\"}", ALLOT_EINVAL, 0, "duplicate"},
        {"[1]", ALLOT_EINVAL, 0, "must be a JSON object"},
        {"{\"model\":", ALLOT_EPARSE, 0, "invalid JSON at line 1"},
    };
    size_t i;

    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct allot_chat_request r;
        struct allot_buf err, out;
        int rc, ok;
        allot_buf_init(&err, 4096);
        rc = allot_chat_request_parse_embeddings(&r, cases[i].body, strlen(cases[i].body), &err);
        ok = rc == cases[i].rc &&
             (rc ? strstr(allot_buf_cstr(&err), cases[i].err) != NULL
                 : r.material_bytes == cases[i].bytes && r.stream == 0 && r.n_messages == 0);
        if (!ok)
            fprintf(stderr, "  case %zu: rc %d, bytes %zu, %s\n", i, rc, r.material_bytes,
                    allot_buf_cstr(&err));
        allot_buf_init(&out, 4096);
        if (ok && rc == 0) { /* the rewrite replaces the model and nothing else */
            ok = allot_chat_request_rewrite(&r, cases[i].body, strlen(cases[i].body), "up", 0,
                                            &out) == 0 &&
                 strstr(allot_buf_cstr(&out), "\"model\":\"up\"") != NULL &&
                 out.len == strlen(cases[i].body) - r.model_len + 4;
        }
        allot_buf_release(&out);
        allot_chat_request_release(&r);
        allot_buf_release(&err);
        ASSERT(ok);
    }
}

/* ---- allot_chat_request_parse_tree: the whole tree, read without the check ---- */

/* Slices equal, text and all (either may be empty with a NULL ptr). */
static int slice_same(struct allot_slice a, struct allot_slice b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

/* body read both ways gives the same rc, err, fields, spans and rewrites
 * (a failed assert returns early, leaving what it held: the test fails). */
static void same_both_ways(int *allot_test_failed_, const char *body, size_t len)
{
    struct allot_chat_request a, b;
    struct allot_buf ea, eb, ra, rb;
    int rca, rcb, force;

    allot_buf_init(&ea, 4096);
    allot_buf_init(&eb, 4096);
    allot_buf_init(&ra, 1 << 20);
    allot_buf_init(&rb, 1 << 20);
    rca = allot_chat_request_parse(&a, body, len, &ea);
    rcb = allot_chat_request_parse_tree(&b, body, len, &eb);
    ASSERT_INT_EQ(rcb, rca);
    ASSERT_STR_EQ(allot_buf_cstr(&eb), allot_buf_cstr(&ea));
    ASSERT(slice_same(b.model, a.model));
    ASSERT_INT_EQ(b.stream, a.stream);
    ASSERT_INT_EQ(b.include_usage, a.include_usage);
    ASSERT(slice_same(b.system, a.system));
    ASSERT(slice_same(b.last_user, a.last_user));
    ASSERT_INT_EQ(b.n_messages, a.n_messages);
    ASSERT_INT_EQ(b.n_tool_results, a.n_tool_results);
    ASSERT_INT_EQ(b.last_is_tool, a.last_is_tool);
    ASSERT_INT_EQ(b.material_bytes, a.material_bytes);
    ASSERT_INT_EQ(b.has_tools, a.has_tools);
    ASSERT_INT_EQ(b.has_response_format, a.has_response_format);
    ASSERT_INT_EQ(b.response_format != NULL, a.response_format != NULL);
    if (a.response_format)
        ASSERT(cJSON_Compare(b.response_format, a.response_format, 1));
    ASSERT_INT_EQ(b.model_off, a.model_off);
    ASSERT_INT_EQ(b.model_len, a.model_len);
    ASSERT_INT_EQ(b.stream_options_off, a.stream_options_off);
    ASSERT_INT_EQ(b.stream_options_len, a.stream_options_len);
    for (force = 0; rca == 0 && force < 2; force++) {
        allot_buf_reset(&ra);
        allot_buf_reset(&rb);
        ASSERT_INT_EQ(allot_chat_request_rewrite(&a, body, len, "up-model", force, &ra), 0);
        ASSERT_INT_EQ(allot_chat_request_rewrite(&b, body, len, "up-model", force, &rb), 0);
        ASSERT_STR_EQ(allot_buf_cstr(&rb), allot_buf_cstr(&ra));
    }
    allot_chat_request_release(&a);
    allot_chat_request_release(&b);
    allot_buf_release(&ea);
    allot_buf_release(&eb);
    allot_buf_release(&ra);
    allot_buf_release(&rb);
}

#define SAME_BOTH_WAYS(body, len)                                                                  \
    do {                                                                                           \
        same_both_ways(allot_test_failed_, (body), (len));                                         \
        if (*allot_test_failed_)                                                                   \
            return;                                                                                \
    } while (0)

TEST(chat_request_own_text_reads_as_the_strict_parse)
{
    static const char *const messages[] = {
        /* system as blocks, text blocks, a tool, stream, metadata */
        "{\"model\":\"auto\",\"max_tokens\":300,\"stream\":true,\"system\":[{\"type\":\"text\","
        "\"text\":\"Be brief.\"},{\"type\":\"text\",\"text\":\"Cite.\",\"cache_control\":{"
        "\"type\":\"ephemeral\"}}],\"tools\":[{\"name\":\"lookup\",\"input_schema\":{\"type\":"
        "\"object\",\"properties\":{\"q\":{\"type\":\"string\"}}}}],\"tool_choice\":{\"type\":"
        "\"auto\"},\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":"
        "\"Find \\\"x\\\"\\n\\u00e9\"}]}],\"metadata\":{\"user_id\":\"u1\"}}",
        /* images, two text parts, a tool call and its result, a document */
        "{\"model\":\"claude-x\",\"max_tokens\":10,\"system\":\"You are terse.\",\"messages\":["
        "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"What is this?\"},{\"type\":"
        "\"image\",\"source\":{\"type\":\"base64\",\"media_type\":\"image/"
        "png\",\"data\":\"iVBO\"}},"
        "{\"type\":\"text\",\"text\":\"And this?\"}]},{\"role\":\"assistant\",\"content\":[{"
        "\"type\":\"text\",\"text\":\"Let me "
        "look.\"},{\"type\":\"tool_use\",\"id\":\"t1\",\"name\":"
        "\"lookup\",\"input\":{\"q\":\"cat\"}}]},{\"role\":\"user\",\"content\":[{\"type\":"
        "\"tool_result\",\"tool_use_id\":\"t1\",\"content\":\"a cat\"},{\"type\":\"document\","
        "\"source\":{\"type\":\"text\",\"data\":\"notes\"}}]}],\"temperature\":0.5}",
        /* an image first, then text; a conversation ending with tool results only */
        "{\"model\":\"m\",\"max_tokens\":1,\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":"
        "\"image\",\"source\":{\"type\":\"url\",\"url\":\"https://x/y.png\"}},{\"type\":\"text\","
        "\"text\":\"hi\"}]},{\"role\":\"assistant\",\"content\":[{\"type\":\"tool_use\",\"id\":"
        "\"t\",\"name\":\"f\",\"input\":{}}]},{\"role\":\"user\",\"content\":[{\"type\":"
        "\"tool_result\",\"tool_use_id\":\"t\",\"content\":[{\"type\":\"text\",\"text\":\"r\"}]}]}]"
        ",\"stream\":false}",
    };
    static const char *const responses[] = {
        "{\"model\":\"auto\",\"stream\":true,\"instructions\":\"Be brief.\",\"input\":\"hi\"}",
        /* parts with an image, a developer message, a function call and output, text.format */
        "{\"model\":\"gpt-x\",\"input\":[{\"role\":\"developer\",\"content\":\"Rules.\"},{\"type\":"
        "\"message\",\"role\":\"user\",\"content\":[{\"type\":\"input_text\",\"text\":\"Look:\"},"
        "{\"type\":\"input_image\",\"image_url\":\"https://x/i.png\",\"detail\":\"low\"},{\"type\":"
        "\"input_text\",\"text\":\"what?\"}]},{\"role\":\"assistant\",\"content\":[{\"type\":"
        "\"output_text\",\"text\":\"Checking.\"}]},{\"type\":\"function_call\",\"call_id\":\"c1\","
        "\"name\":\"f\",\"arguments\":\"{\\\"a\\\":1}\"},{\"type\":\"function_call_output\","
        "\"call_id\":\"c1\",\"output\":\"done\"}],\"tools\":[{\"type\":\"function\",\"name\":\"f\","
        "\"parameters\":{\"type\":\"object\"}},{\"type\":\"custom\",\"name\":\"apply_patch\"}],"
        "\"text\":{\"format\":{\"type\":\"json_schema\",\"name\":\"s\",\"schema\":{\"type\":"
        "\"object\"},\"strict\":true}},\"max_output_tokens\":50,\"reasoning\":{\"effort\":\"low\"}"
        "}",
        /* text parts only, joined; json_object */
        "{\"model\":\"m\",\"input\":[{\"role\":\"user\",\"content\":[{\"type\":\"input_text\","
        "\"text\":\"one\"},{\"type\":\"input_text\",\"text\":\"two\"}]}],\"text\":{\"format\":{"
        "\"type\":\"json_object\"}}}",
    };
    struct allot_buf out, err;
    size_t i;

    allot_buf_init(&out, 1 << 20);
    allot_buf_init(&err, 4096);
    for (i = 0; i < sizeof messages / sizeof messages[0]; i++) {
        allot_buf_reset(&out);
        ASSERT_INT_EQ(allot_anthropic_request(messages[i], strlen(messages[i]), &out, &err), 0);
        SAME_BOTH_WAYS(out.ptr, out.len);
    }
    for (i = 0; i < sizeof responses / sizeof responses[0]; i++) {
        allot_buf_reset(&out);
        ASSERT_INT_EQ(allot_responses_request(responses[i], strlen(responses[i]), &out, &err, NULL),
                      0);
        SAME_BOTH_WAYS(out.ptr, out.len);
    }
    allot_buf_release(&out);
    allot_buf_release(&err);
}

TEST(chat_request_own_text_spans_wherever_the_members_are)
{
    /* what the translators do not write, but the reading must get right */
    static const char *const bodies[] = {
        "{\"messages\":[{\"role\":\"user\",\"content\":\"a \\\"}\\\" b\\\\\"}],\"stream\":true,"
        "\"stream_options\":{\"include_usage\":false},\"model\":\"m\"}",
        " { \"stream_options\" : { \"include_usage\" : true } , \"model\" : \"m\" , "
        "\"messages\" : [ { \"role\" : \"user\" , \"content\" : [ ] } ] } ",
        /* elements spaced out, objects empty and not objects among the
         * parts, the members of a message in any order: each element's end
         * is where its members walk stopped */
        "{\"model\":\"m\",\"messages\":[ {\"content\":[ \"x\" , {\"type\":\"text\",\"text\":"
        "\"one\"} ,{ } , 3,{\"text\":\"two\" , \"type\":\"text\"} ,[ ] ],\"role\":\"system\"} ,"
        "\n\t{\"role\":\"assistant\",\"content\":[ {\"text\":\"mat\"} , null, {\"text\":\"{]\"}]}"
        " , {\"role\":\"user\",\"content\":\"first\"},{\"role\":\"tool\",\"content\":[{} ]} ,"
        "{ \"role\" : \"user\" , \"content\" : [{\"type\":\"text\",\"text\":\"last\"}] , \"x\":{}"
        " } ] }",
        "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"} , { } ]}",
        "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"} , [ ] ]}",
        "{\"mod\\u0065l\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
        "\"stream_options\":{\"include_usage\":true,\"include_usage\":false}}",
        /* refused alike: duplicates, not a chat request, not an object */
        "{\"model\":\"a\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"model\":\"b\"}",
        "{\"model\":\"a\",\"messages\":[],\"stream_options\":{},\"stream_options\":{}}",
        "{\"model\":1,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
        "[1,2]",
        "",
    };
    size_t i;

    for (i = 0; i < sizeof bodies / sizeof bodies[0]; i++)
        SAME_BOTH_WAYS(bodies[i], strlen(bodies[i]));
}

/* A client's body is built into a tree of only what routing reads; it must
 * read as the whole tree (the own-text reading) does, whatever else the
 * body holds and wherever, duplicates and escaped keys included. */
TEST(chat_request_client_tree_holds_only_what_routing_reads)
{
    static const char *const bodies[] = {
        /* tools: present, empty, blank, duplicated (the last counts), functions */
        "{\"model\":\"m\",\"temperature\":0.2,\"tools\":[{\"type\":\"function\",\"function\":{"
        "\"name\":\"f\",\"parameters\":{\"type\":\"object\",\"properties\":{\"q\":{\"type\":"
        "\"string\"}}}}}],\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":9}",
        "{\"model\":\"m\",\"tools\":[],\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
        "{\"model\":\"m\",\"tools\":[ \n\t ],\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
        "{\"model\":\"m\",\"tools\":[1],\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
        "\"tools\":[]}",
        "{\"model\":\"m\",\"tools\":[],\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
        "\"tools\":[ {} ]}",
        "{\"model\":\"m\",\"tools\":{},\"functions\":[{\"name\":\"f\"}],\"messages\":[{\"role\":"
        "\"user\",\"content\":\"x\"}]}",
        "{\"model\":\"m\",\"tools\":null,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
        /* duplicated messages, stream and response_format; escaped keys */
        "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"first\"}],\"stream\":"
        "true,\"messages\":[{\"role\":\"system\",\"content\":\"s\"},{\"role\":\"user\",\"content\":"
        "\"second\"}],\"stream\":false}",
        "{\"model\":\"m\",\"response_format\":{\"type\":\"json_object\"},\"messages\":[{\"role\":"
        "\"user\",\"content\":\"x\"}],\"response_format\":{\"type\":\"text\"}}",
        "{\"m\\u006fdel\":\"m\",\"m\\u0065ssages\":[{\"role\":\"user\",\"content\":\"x\"}],"
        "\"t\\u006fols\":[{}],\"r\\u0065sponse_format\":{\"type\":\"json_schema\",\"json_schema\":"
        "{\"name\":\"s\",\"schema\":{\"type\":\"object\"}}}}",
        /* refused alike: no messages, messages not an array, stream not a
         * boolean, not an object */
        "{\"model\":\"m\",\"tools\":[{}]}",
        "{\"model\":\"m\",\"messages\":{\"role\":\"user\"}}",
        "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"stream\":1}",
        "  \n[{\"model\":\"m\"}]",
        "\"model\"",
    };
    struct allot_chat_request r;
    struct allot_buf err;
    size_t i;

    for (i = 0; i < sizeof bodies / sizeof bodies[0]; i++)
        SAME_BOTH_WAYS(bodies[i], strlen(bodies[i]));

    /* what is not read is not built */
    allot_buf_init(&err, 4096);
    ASSERT_INT_EQ(allot_chat_request_parse(&r, bodies[0], strlen(bodies[0]), &err), 0);
    ASSERT(r.has_tools);
    ASSERT(cJSON_GetObjectItemCaseSensitive(r.root, "model") != NULL);
    ASSERT(cJSON_GetObjectItemCaseSensitive(r.root, "messages") == NULL); /* read off the text */
    ASSERT(cJSON_GetObjectItemCaseSensitive(r.root, "tools") == NULL);
    ASSERT(cJSON_GetObjectItemCaseSensitive(r.root, "temperature") == NULL);
    ASSERT(cJSON_GetObjectItemCaseSensitive(r.root, "max_tokens") == NULL);
    allot_chat_request_release(&r);
    ASSERT_INT_EQ(allot_chat_request_parse(&r, bodies[3], strlen(bodies[3]), &err), 0);
    ASSERT(!r.has_tools);
    allot_chat_request_release(&r);
    allot_buf_release(&err);
}

/* The messages of a client's body are read off its text: the same fields
 * as the tree gives, for every shape of content and role, escapes
 * decoded, and the 64 KB cut of an instruction in the same place. */
TEST(chat_request_client_messages_read_off_the_text)
{
    static const char *const bodies[] = {
        /* parts: text, image, escaped type, non-object parts, text not a string */
        "{\"model\":\"m\",\"messages\":[{\"role\":\"system\",\"content\":[{\"type\":\"text\","
        "\"text\":\"Be \\\"brief\\\"\"},{\"type\":\"image_url\",\"image_url\":{\"url\":\"u\"},"
        "\"text\":\"alt\"},{\"type\":\"t\\u0065xt\",\"text\":\"two\\n\"},1,\"s\",[],{\"type\":"
        "\"text\",\"text\":5},{\"type\":\"text\"}]},{\"role\":\"user\",\"content\":[{\"text\":"
        "\"no type\"},{\"type\":\"text\",\"text\":\"\\u00e9\\ud83d\\ude00\\u20ac\"}]}]}",
        /* several users and systems, tools, escaped roles, odd contents */
        "{\"model\":\"m\",\"messages\":[{\"role\":\"developer\",\"content\":\"first\"},{\"role\":"
        "\"system\",\"content\":\"second system\"},{\"role\":\"us\\u0065r\",\"content\":\"u1\"},"
        "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"c\",\"type\":"
        "\"function\",\"function\":{\"name\":\"f\",\"arguments\":\"{}\"}}]},{\"role\":\"tool\","
        "\"tool_call_id\":\"c\",\"content\":\"result \\u00e9\"},{\"role\":\"user\",\"content\":"
        "[{\"type\":\"text\",\"text\":\"u2\"}]},{\"role\":\"function\",\"name\":\"f\",\"content\":"
        "7},{\"role\":\"user\",\"content\":\"\"},{\"role\":\"assistant\",\"content\":{\"text\":"
        "\"x\"}},{\"role\":\"tool\",\"content\":[{\"type\":\"text\",\"text\":\"r2\"}]}]}",
        /* duplicate role and content keys: the last counts */
        "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"a\",\"role\":\"system\","
        "\"content\":\"b\"},{\"content\":\"c\",\"role\":\"assistant\",\"role\":\"user\"}]}",
        /* no content at all; a role that only starts like one */
        "{\"model\":\"m\",\"messages\":[{\"role\":\"user\"},{\"role\":\"users\",\"content\":\"x\"},"
        "{\"role\":\"s\\u0079stems\",\"content\":\"y\"}]}",
        /* refused alike: not an object, no role, a role not a string */
        "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"},[1]]}",
        "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"},{\"content\":\"y\"}]"
        "}",
        "{\"model\":\"m\",\"messages\":[{\"role\":[\"user\"],\"content\":\"x\"}]}",
    };
    /* before the 64 KB cut: n plain bytes, then a character of 1-4 bytes
     * written raw or as an escape, then more */
    static const char *const tails[] = {
        "\\u00e9", "\\u20ac", "\\ud83d\\ude00", "\xc3\xa9", "\xe2\x82\xac", "\\n", "x",
    };
    struct allot_buf b;
    size_t i, k, n, pad;

    for (i = 0; i < sizeof bodies / sizeof bodies[0]; i++)
        SAME_BOTH_WAYS(bodies[i], strlen(bodies[i]));
    allot_buf_init(&b, 1 << 20);
    for (k = 0; k < sizeof tails / sizeof tails[0]; k++) {
        for (pad = 65530; pad <= 65537; pad++) {
            for (n = 0; n < 2; n++) { /* a string, then the same as the second of two parts */
                allot_buf_reset(&b);
                allot_buf_adds(&b,
                               n ? "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
                                   "[{\"type\":\"text\",\"text\":\"ab\"},{\"type\":\"text\","
                                   "\"text\":\""
                                 : "{\"model\":\"m\",\"messages\":[{\"role\":\"user\","
                                   "\"content\":\"");
                for (i = 0; i < pad - (n ? 3 : 0); i++)
                    allot_buf_add(&b, "a", 1);
                allot_buf_adds(&b, tails[k]);
                allot_buf_adds(&b, tails[k]);
                allot_buf_adds(&b, "tail");
                allot_buf_adds(&b, n ? "\"}]}]}" : "\"}]}");
                SAME_BOTH_WAYS(b.ptr, b.len);
            }
        }
    }
    allot_buf_release(&b);
}

TEST(chat_request_own_text_that_is_not_valid_gets_the_strict_error)
{
    /* truncated, trailing bytes, a trailing comma; then too deep for cJSON */
    static const char *const bodies[] = {
        "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]",
        "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]} x",
        "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],}",
    };
    struct allot_buf deep, err;
    struct allot_chat_request r;
    size_t i;

    for (i = 0; i < sizeof bodies / sizeof bodies[0]; i++)
        SAME_BOTH_WAYS(bodies[i], strlen(bodies[i]));
    allot_buf_init(&deep, 1 << 20);
    allot_buf_adds(&deep, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
                          "\"tools\":[{\"p\":");
    for (i = 0; i < 1000; i++)
        allot_buf_add(&deep, "[", 1);
    for (i = 0; i < 1000; i++)
        allot_buf_add(&deep, "]", 1);
    allot_buf_adds(&deep, "}]}");
    SAME_BOTH_WAYS(deep.ptr, deep.len);
    allot_buf_init(&err, 4096);
    ASSERT_INT_EQ(allot_chat_request_parse_tree(&r, deep.ptr, deep.len, &err), ALLOT_EPARSE);
    ASSERT_STR_CONTAINS(allot_buf_cstr(&err), "invalid JSON at line 1 column");
    allot_chat_request_release(&r);
    allot_buf_release(&err);
    allot_buf_release(&deep);
}
