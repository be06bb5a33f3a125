/* fuzz_chat_answer.c: libFuzzer target for allot_chat_answer_read()
 * (chat_answer.h), which the gateway runs on every plain answer it relays
 * to an OpenAI client, instead of a cJSON tree of it.
 *
 * Input: the answer's text, on an exact-size heap copy (ASan reports a
 * read past it). When the reader does not decline, the text must be one
 * cJSON parses to an object, and the reading must equal what exchange.c
 * read of that tree before chat_answer.c (usage counts, every choice's
 * content bytes, the first choice's content, tool calls and finish
 * reason, each member the first of its name); decoded strings must equal
 * cJSON's.
 *
 * Fuzz: `FUZZ_SECONDS=60 bash tests/fuzz/run.sh chat_answer` (clang
 * libFuzzer, corpus tests/fuzz/corpus/chat_answer/, dictionary
 * tests/fuzz/chat_answer.dict). tests/fuzz/replay.sh replays the corpus
 * with replay.c under ASan+UBSan. */
#include <cJSON.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "allot/chat_answer.h"
#include "exact_copy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what, const char *text, size_t n)
{
    fprintf(stderr, "fuzz_chat_answer: %s: %.*s\n", what, (int)(n > 400 ? 400 : n), text);
    abort();
}

static int64_t json_int(const cJSON *n)
{
    if (!cJSON_IsNumber(n) || n->valuedouble < 0 || n->valuedouble > 9.0e15)
        return 0;
    return (int64_t)n->valuedouble;
}

/* A decoded string body equals cJSON's valuestring. */
static int same_string(struct allot_slice raw, const cJSON *v)
{
    char *s;
    int same;

    if (!raw.ptr || !cJSON_IsString(v))
        return !raw.ptr && !cJSON_IsString(v);
    if (!(s = malloc(raw.len + 1)))
        abort();
    allot_chat_answer_unescape(raw.ptr, raw.len, s);
    same = strcmp(s, v->valuestring) == 0;
    free(s);
    return same;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct allot_chat_answer a;
    const cJSON *usage, *choices, *c, *c0, *msg, *d;
    cJSON *root;
    size_t bytes = 0;
    char *text;

    if (size > 65536)
        return 0;
    text = exact_copy(data, size);
    if (allot_chat_answer_read(text, size, &a) != 0) {
        free(text);
        return 0;
    }
    root = cJSON_ParseWithLength(text, size);
    if (!cJSON_IsObject(root))
        fail("read a text cJSON does not take for an object", text, size);
    usage = cJSON_GetObjectItemCaseSensitive(root, "usage");
    if (a.has_usage != cJSON_IsObject(usage))
        fail("usage presence differs", text, size);
    d = cJSON_GetObjectItemCaseSensitive(usage, "prompt_tokens_details");
    if (a.has_usage &&
        (a.prompt_tokens != json_int(cJSON_GetObjectItemCaseSensitive(usage, "prompt_tokens")) ||
         a.completion_tokens !=
             json_int(cJSON_GetObjectItemCaseSensitive(usage, "completion_tokens")) ||
         a.cached_tokens != json_int(cJSON_GetObjectItemCaseSensitive(d, "cached_tokens")) ||
         a.cache_write_tokens !=
             json_int(cJSON_GetObjectItemCaseSensitive(d, "cache_write_tokens"))))
        fail("usage counts differ", text, size);
    choices = cJSON_GetObjectItemCaseSensitive(root, "choices");
    cJSON_ArrayForEach(c, choices)
    {
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(c, "message");
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(m, "content");
        if (cJSON_IsString(t))
            bytes += strlen(t->valuestring);
    }
    if (a.content_bytes != bytes)
        fail("content bytes differ", text, size);
    c0 = cJSON_GetArrayItem(choices, 0);
    msg = cJSON_GetObjectItemCaseSensitive(c0, "message");
    if (!same_string(a.content, cJSON_GetObjectItemCaseSensitive(msg, "content")) ||
        (a.content.ptr &&
         a.content_len != strlen(cJSON_GetObjectItemCaseSensitive(msg, "content")->valuestring)))
        fail("content differs", text, size);
    if (!same_string(a.finish_reason, cJSON_GetObjectItemCaseSensitive(c0, "finish_reason")))
        fail("finish_reason differs", text, size);
    if (a.has_tool_calls !=
        (cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(msg, "tool_calls")) > 0 ||
         cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(msg, "function_call"))))
        fail("tool calls differ", text, size);
    cJSON_Delete(root);
    free(text);
    return 0;
}
