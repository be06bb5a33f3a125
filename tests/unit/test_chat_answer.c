/* test_chat_answer.c: a plain answer read off its text (chat_answer.h)
 * gives what exchange.c read of its cJSON tree. */
#include <stdlib.h>
#include <string.h>
#include <cJSON.h>
#include "allot/chat_answer.h"
#include "test.h"

/* exchange.c's reading of the tree, as it was before chat_answer.c. */
struct tree_reading {
    int object, has_usage, has_tool_calls;
    int64_t prompt, completion, cached, write;
    size_t content_bytes;
    const char *content, *finish_reason;
};

static int64_t json_int(const cJSON *n)
{
    if (!cJSON_IsNumber(n) || n->valuedouble < 0 || n->valuedouble > 9.0e15)
        return 0;
    return (int64_t)n->valuedouble;
}

static void read_tree(const cJSON *root, struct tree_reading *r)
{
    const cJSON *usage = cJSON_GetObjectItemCaseSensitive(root, "usage"), *c;
    const cJSON *choices = cJSON_GetObjectItemCaseSensitive(root, "choices");
    const cJSON *c0 = cJSON_GetArrayItem(choices, 0);
    const cJSON *msg = cJSON_GetObjectItemCaseSensitive(c0, "message");
    const cJSON *content = cJSON_GetObjectItemCaseSensitive(msg, "content");
    const cJSON *fr = cJSON_GetObjectItemCaseSensitive(c0, "finish_reason");

    memset(r, 0, sizeof *r);
    r->object = cJSON_IsObject(root);
    if (cJSON_IsObject(usage)) {
        const cJSON *d = cJSON_GetObjectItemCaseSensitive(usage, "prompt_tokens_details");
        r->has_usage = 1;
        r->prompt = json_int(cJSON_GetObjectItemCaseSensitive(usage, "prompt_tokens"));
        r->completion = json_int(cJSON_GetObjectItemCaseSensitive(usage, "completion_tokens"));
        r->cached = json_int(cJSON_GetObjectItemCaseSensitive(d, "cached_tokens"));
        r->write = json_int(cJSON_GetObjectItemCaseSensitive(d, "cache_write_tokens"));
    }
    cJSON_ArrayForEach(c, choices)
    {
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(c, "message");
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(m, "content");
        if (cJSON_IsString(t))
            r->content_bytes += strlen(t->valuestring);
    }
    r->content = cJSON_IsString(content) ? content->valuestring : NULL;
    r->has_tool_calls =
        cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(msg, "tool_calls")) > 0 ||
        cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(msg, "function_call"));
    r->finish_reason = cJSON_IsString(fr) ? fr->valuestring : NULL;
}

/* The text read both ways: they agree, or the reader declined and
 * may_decline allows it; else the test fails. */
static void agree(int *allot_test_failed_, const char *text, int may_decline)
{
    struct allot_chat_answer a;
    struct tree_reading r;
    cJSON *root = cJSON_Parse(text);
    char buf[512];
    int rc = allot_chat_answer_read(text, strlen(text), &a);

    if (rc != 0) {
        if (!may_decline && cJSON_IsObject(root))
            TEST_FAIL_("declined: %s", text);
        cJSON_Delete(root);
        return;
    }
    read_tree(root, &r);
    if (!r.object)
        TEST_FAIL_("read a text that is not an object: %s", text);
    if (a.has_usage != r.has_usage || a.prompt_tokens != r.prompt ||
        a.completion_tokens != r.completion || a.cached_tokens != r.cached ||
        a.cache_write_tokens != r.write)
        TEST_FAIL_("usage differs (%d %lld %lld %lld %lld): %s", a.has_usage,
                   (long long)a.prompt_tokens, (long long)a.completion_tokens,
                   (long long)a.cached_tokens, (long long)a.cache_write_tokens, text);
    if (a.content_bytes != r.content_bytes || a.has_tool_calls != r.has_tool_calls)
        TEST_FAIL_("content bytes %zu (tree %zu) or tool calls %d differ: %s", a.content_bytes,
                   r.content_bytes, a.has_tool_calls, text);
    if (!a.content.ptr != !r.content || !a.finish_reason.ptr != !r.finish_reason)
        TEST_FAIL_("content or finish_reason presence differs: %s", text);
    if (a.content.ptr) {
        size_t n = allot_chat_answer_unescape(a.content.ptr, a.content.len, buf);
        if (n != a.content_len || n != strlen(r.content) || strcmp(buf, r.content))
            TEST_FAIL_("content '%s' (tree '%s'): %s", buf, r.content, text);
    }
    if (a.finish_reason.ptr) {
        allot_chat_answer_unescape(a.finish_reason.ptr, a.finish_reason.len, buf);
        if (strcmp(buf, r.finish_reason))
            TEST_FAIL_("finish_reason '%s' (tree '%s'): %s", buf, r.finish_reason, text);
    }
    cJSON_Delete(root);
}

/* exchange.c's reading of a stream chunk's tree (collect_event on what
 * chunk_choices gives: the last top-level choices member). */
struct chunk_tree_reading {
    const char *content, *finish_reason;
    int tool_calls;
    int has_usage, has_error; /* a top-level usage or error (any of duplicates) not null */
};

static void read_chunk_tree(const cJSON *root, struct chunk_tree_reading *r)
{
    const cJSON *choices = NULL, *c, *c0, *delta, *v;

    memset(r, 0, sizeof *r);
    cJSON_ArrayForEach(c, root)
    {
        if (c->string && strcmp(c->string, "choices") == 0)
            choices = c; /* the last one counts (json_member.h) */
        if (c->string && strcmp(c->string, "usage") == 0 && !cJSON_IsNull(c))
            r->has_usage = 1;
        if (c->string && strcmp(c->string, "error") == 0 && !cJSON_IsNull(c))
            r->has_error = 1;
    }
    c0 = cJSON_GetArrayItem(choices, 0);
    delta = cJSON_GetObjectItemCaseSensitive(c0, "delta");
    v = cJSON_GetObjectItemCaseSensitive(delta, "content");
    r->content = cJSON_IsString(v) ? v->valuestring : NULL;
    r->tool_calls = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(delta, "tool_calls")) > 0 ||
                    cJSON_GetObjectItemCaseSensitive(delta, "function_call") != NULL;
    v = cJSON_GetObjectItemCaseSensitive(c0, "finish_reason");
    r->finish_reason = cJSON_IsString(v) ? v->valuestring : NULL;
}

/* A string body read off the text is the tree's string (both NULL, or the
 * same bytes once decoded). */
static int same_string(struct allot_slice raw, const char *tree)
{
    char buf[512];

    if (!raw.ptr || !tree)
        return !raw.ptr && !tree;
    if (raw.len >= sizeof buf)
        return 0;
    allot_chat_answer_unescape(raw.ptr, raw.len, buf);
    return strcmp(buf, tree) == 0;
}

/* The chunk read both ways: they agree, or the reader declined and
 * may_decline allows it, or the text is not an object. */
static void chunk_agree(int *allot_test_failed_, const char *text, int may_decline)
{
    struct allot_chat_chunk k;
    struct chunk_tree_reading r;
    cJSON *root = cJSON_Parse(text);
    int rc = allot_chat_chunk_read(text, strlen(text), &k);

    if (rc != 0) {
        if (!may_decline && cJSON_IsObject(root))
            TEST_FAIL_("chunk declined: %s", text);
        cJSON_Delete(root);
        return;
    }
    if (!cJSON_IsObject(root))
        TEST_FAIL_("read a chunk that is not an object: %s", text);
    read_chunk_tree(root, &r);
    if (!same_string(k.content, r.content) || !same_string(k.finish_reason, r.finish_reason) ||
        k.tool_calls != r.tool_calls || k.has_usage != r.has_usage || k.has_error != r.has_error)
        TEST_FAIL_("chunk differs (content %d, finish_reason %d, tool calls %d against %d, "
                   "usage %d against %d, error %d against %d): %s",
                   !!k.content.ptr, !!k.finish_reason.ptr, k.tool_calls, r.tool_calls, k.has_usage,
                   r.has_usage, k.has_error, r.has_error, text);
    cJSON_Delete(root);
}

/* Does the reader take the text (not decline it)? */
static int answer_reads(const char *text)
{
    struct allot_chat_answer a;
    return allot_chat_answer_read(text, strlen(text), &a) == 0;
}

static int chunk_reads(const char *text)
{
    struct allot_chat_chunk k;
    return allot_chat_chunk_read(text, strlen(text), &k) == 0;
}

/* What neither reader takes: texts the strict check refuses, or that are
 * not an object. */
static const char *const not_objects[] = {
    "[]", "\"text\"", "null", "", "{\"choices\":[}", "{\"choices\":[]} x", "\xEF\xBB\xBF{}",
};

/* Every text read both ways agrees (agree_fn), and every declined one, and
 * each of not_objects, is declined (reads). */
static void agree_or_decline(int *allot_test_failed_, const char *const *texts, size_t n,
                             const char *const *declined, size_t n_declined,
                             void (*agree_fn)(int *, const char *, int), int (*reads)(const char *))
{
    size_t i;

    for (i = 0; i < n && !*allot_test_failed_; i++)
        agree_fn(allot_test_failed_, texts[i], 0);
    for (i = 0; i < n_declined && !*allot_test_failed_; i++) {
        if (reads(declined[i]))
            TEST_FAIL_("read what it should decline: %s", declined[i]);
    }
    for (i = 0; i < sizeof not_objects / sizeof not_objects[0] && !*allot_test_failed_; i++) {
        if (reads(not_objects[i]))
            TEST_FAIL_("read what is not a checked object: %s", not_objects[i]);
    }
}

TEST(chat_chunk_reads_what_the_tree_gives)
{
    static const char *const texts[] = {
        "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,"
        "\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\"},"
        "\"finish_reason\":null}],\"usage\":null}",
        "{\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}",
        "{\"choices\":[{\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}",
        " {\n \"choices\" : [ { \"delta\" : { \"content\" : \"a\\nb\\\"c\\u00e9 \\ud83d\\ude00\" } "
        ","
        " \"finish_reason\" : \"le\\u006egth\" } ] } ",
        "{\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"c1\",\"function\":{"
        "\"name\":\"f\",\"arguments\":\"\"}}]}}]}",
        "{\"choices\":[{\"delta\":{\"tool_calls\":[ ]}}]}",
        "{\"choices\":[{\"delta\":{\"tool_calls\":{\"a\":1}}}]}",
        "{\"choices\":[{\"delta\":{\"function_call\":null}}]}",
        "{\"choices\":[{\"delta\":{\"content\":\"x\",\"content\":\"y\"},\"delta\":{\"content\":"
        "\"z\"}}]}",
        "{\"choices\":[{\"delta\":{\"content\":\"one\"}}],\"choices\":[{\"delta\":{\"content\":"
        "\"two\"}}]}",
        "{\"choices\":[{\"delta\":{\"content\":\"[{]}\\\"]\"}},{\"delta\":{\"content\":\"second\"}}"
        "]}",
        "{\"choices\":[\"x\",{\"delta\":{\"content\":\"y\"}}]}",
        "{\"choices\":[[{\"delta\":{\"content\":\"y\"}}]]}",
        "{\"choices\":[{\"delta\":\"s\",\"finish_reason\":7}]}",
        "{\"choices\":[{\"delta\":[{\"content\":\"y\"}]}]}",
        "{\"choices\":[]}",
        "{\"choices\":[ ]}",
        "{\"choices\":null}",
        "{\"choices\":7}",
        "{\"ch\\u006fices\":[{\"d\\u0065lta\":{\"c\\u006fntent\":\"escaped keys\"}}]}",
        "{\"Choices\":[{\"delta\":{\"content\":\"case\"}}]}",
        /* usage and error: null, not null, duplicated, nested, escaped */
        "{\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":4}}",
        "{\"choices\":[{\"delta\":{\"content\":\"x\"}}],\"usage\":null}",
        "{\"usage\":null,\"usage\":{}}",
        "{\"usage\":0}",
        "{\"error\":{\"message\":\"overloaded\"}}",
        "{\"error\":null,\"error\":\"x\",\"usage\":null}",
        "{\"choices\":[{\"delta\":{\"usage\":{},\"error\":1}}]}",
        "{\"\\u0075sage\":{\"prompt_tokens\":1},\"err\\u006fr\":[]}",
        "{}",
    };
    static const char *const declined[] = {
        "{\"choices\":{\"a\":{\"delta\":{\"content\":\"x\"}}}}",
        "{\"choices\":[{\"delta\":{\"content\":\"nul\\u0000\"}}]}",
        "{\"choices\":[{\"delta\":{\"content\":\"lone \\ud83d\"}}]}",
    };

    agree_or_decline(allot_test_failed_, texts, sizeof texts / sizeof texts[0], declined,
                     sizeof declined / sizeof declined[0], chunk_agree, chunk_reads);
}

TEST(chat_answer_reads_what_the_tree_gives)
{
    static const char *const texts[] = {
        "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion\",\"created\":1700000000,"
        "\"model\":\"m\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
        "\"content\":\"Hello there\"},\"finish_reason\":\"stop\"}],"
        "\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":16,\"total_tokens\":28},"
        "\"system_fingerprint\":\"fp\"}",
        " {\n \"choices\" : [ { \"message\" : { \"content\" : \"a\\nb\\\"c\\\\d\\/e\\t\" } } ] } ",
        "{\"choices\":[{\"message\":{\"content\":\"caf\\u00e9 \\u20ac \\ud83d\\ude00 \\u0041\"}}]}",
        "{\"choices\":[{\"message\":{\"content\":\"x\\b\\f\\r\"},\"finish_reason\":"
        "\"le\\u006egth\"}]}",
        "{\"choices\":[{\"message\":{\"content\":\"first\"}},{\"message\":{\"content\":\"second!\"}"
        "},"
        "{\"message\":{\"content\":null}},3,[],{\"message\":[1]},{\"message\":\"s\"}]}",
        "{\"choices\":[]}",
        "{\"choices\":null,\"usage\":null}",
        "{\"choices\":\"none\",\"usage\":[1,2]}",
        "{\"choices\":7}",
        "{\"choices\":[\"x\",{\"message\":{\"content\":\"y\"}}]}",
        "{\"choices\":[{\"message\":{\"content\":\"one\"}}],\"choices\":[{\"message\":{\"content\":"
        "\"two\"}}]}",
        "{\"choices\":[{\"message\":{\"content\":1,\"content\":\"later\"}}]}",
        "{\"ch\\u006fices\":[{\"message\":{\"c\\u006fntent\":\"escaped keys\"}}]}",
        "{\"Choices\":[{\"message\":{\"content\":\"case\"}}]}",
        "{\"choices\":[{\"message\":{\"content\":\"t\",\"tool_calls\":[{\"id\":\"c1\"}]}}]}",
        "{\"choices\":[{\"message\":{\"content\":null,\"tool_calls\":[]}}]}",
        "{\"choices\":[{\"message\":{\"tool_calls\":{\"a\":1}}}]}",
        "{\"choices\":[{\"message\":{\"tool_calls\":{ }}}]}",
        "{\"choices\":[{\"message\":{\"tool_calls\":\"x\",\"function_call\":{}}}]}",
        "{\"choices\":[{\"message\":{\"function_call\":\"x\"}}]}",
        "{\"choices\":[{\"message\":{\"tool_calls\":[ ]},\"finish_reason\":null}]}",
        "{\"choices\":[{\"finish_reason\":\"stop\",\"finish_reason\":\"length\"}]}",
        "{\"choices\":[{\"message\":{\"content\":\"[{]}\\\"]\"}},{\"message\":{\"content\":\"z\"}}]"
        "}",
        "{\"usage\":{\"prompt_tokens\":0,\"completion_tokens\":999999999999999}}",
        "{\"usage\":{\"prompt_tokens\":-5,\"completion_tokens\":-0}}",
        "{\"usage\":{\"prompt_tokens\":\"12\",\"completion_tokens\":true,\"prompt_tokens\":3}}",
        "{\"usage\":{\"prompt_tokens\":100,\"prompt_tokens_details\":{\"cached_tokens\":40,"
        "\"cache_write_tokens\":7}}}",
        "{\"usage\":{\"prompt_tokens\":100,\"prompt_tokens_details\":[40]}}",
        "{\"usage\":{\"prompt_tokens\":100,\"prompt_tokens_details\":null}}",
        "{\"usage\":{\"prompt_tokens\":1},\"usage\":{\"prompt_tokens\":2}}",
        "{\"usage\":5,\"usage\":{\"prompt_tokens\":2}}",
        "{}",
    };
    static const char *const declined[] = {
        "{\"choices\":{\"a\":{\"message\":{\"content\":\"x\"}}}}",
        "{\"usage\":{\"prompt_tokens\":1.5}}",
        "{\"usage\":{\"prompt_tokens\":1e3}}",
        "{\"usage\":{\"completion_tokens\":1000000000000000}}",
        "{\"usage\":{\"prompt_tokens_details\":{\"cached_tokens\":2.0}}}",
        "{\"choices\":[{\"message\":{\"content\":\"nul\\u0000\"}}]}",
        "{\"choices\":[{\"message\":{\"content\":\"lone \\ud83d\"}}]}",
    };

    agree_or_decline(allot_test_failed_, texts, sizeof texts / sizeof texts[0], declined,
                     sizeof declined / sizeof declined[0], agree, answer_reads);
}

/* Random answers and chunks from pieces, including the odd shapes above:
 * whenever a reader does not decline, it agrees with the tree. */
TEST(chat_answer_agrees_on_random_answers)
{
    static const char *const values[] = {
        "null", "1", "-2", "\"s\"", "\"a\\u00e9\\n\"", "[]", "{}", "[1,{\"a\":[]}]", "true", "1.5",
    };
    static const char *const keys[] = {"choices",
                                       "usage",
                                       "message",
                                       "content",
                                       "tool_calls",
                                       "function_call",
                                       "finish_reason",
                                       "prompt_tokens",
                                       "completion_tokens",
                                       "prompt_tokens_details",
                                       "cached_tokens",
                                       "cache_write_tokens",
                                       "delta",
                                       "error",
                                       "x"};
    unsigned seed = 7;
    char text[4096], closers[8];
    size_t t;

    for (t = 0; t < 20000; t++) {
        size_t o = 0, depth = 0, k, steps;
        int need_comma = 0;

        /* a random object of random members, objects and arrays of one
         * object nested up to 4 deep */
        text[o++] = '{';
        closers[depth++] = '}';
        for (steps = 0; steps < 24 && depth > 0; steps++) {
            seed = seed * 1103515245u + 12345u;
            k = (seed >> 16) % 10;
            if (k < 2 && depth > 1) {
                o += (size_t)snprintf(text + o, sizeof text - o, "%s",
                                      closers[--depth] == ']' ? "}]" : "}");
                need_comma = 1;
                continue;
            }
            if (need_comma)
                text[o++] = ',';
            o += (size_t)snprintf(text + o, sizeof text - o,
                                  "\"%s\":", keys[(seed >> 8) % (sizeof keys / sizeof keys[0])]);
            need_comma = 1;
            if (k < 5 && depth < 4) {
                o += (size_t)snprintf(text + o, sizeof text - o, "%s", k == 4 ? "[{" : "{");
                closers[depth++] = k == 4 ? ']' : '}';
                need_comma = 0;
                continue;
            }
            o += (size_t)snprintf(text + o, sizeof text - o, "%s",
                                  values[(seed >> 4) % (sizeof values / sizeof values[0])]);
        }
        while (depth > 0)
            o += (size_t)snprintf(text + o, sizeof text - o, "%s",
                                  closers[--depth] == ']' ? "}]" : "}");
        text[o] = '\0';
        agree(allot_test_failed_, text, 1);
        chunk_agree(allot_test_failed_, text, 1);
        if (*allot_test_failed_)
            return;
    }
}
