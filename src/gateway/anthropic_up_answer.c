/* anthropic_up_answer.c: Anthropic Messages API answers translated to
 * OpenAI chat completions, for upstreams of kind "anthropic": the plain
 * message and the stream of events (anthropic_up.h).
 *
 * Answers come from our upstreams and are read leniently, as
 * anthropic_answer.c reads OpenAI ones: cJSON as is, missing fields taking
 * defaults, blocks and events OpenAI has no place for skipped.
 *
 * DESIGN (stream): Anthropic streams a message as message_start, then
 * content blocks one at a time (content_block_start, deltas,
 * content_block_stop), then message_delta (stop reason, output tokens) and
 * message_stop. OpenAI chunks carry no block structure, so the state kept
 * between events (struct allot_anthropic_up_stream) is small: the id and
 * model for every chunk, whether the open block is a tool_use and which
 * tool_calls index it has, the finish reason and token counts for the
 * closing chunks, and whether [DONE] was sent. Each OpenAI event is built
 * whole in the stream's capped scratch buffer and handed to the callback,
 * which may relay it as is. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cJSON.h>
#include "allot/anthropic_up.h"
#include "allot/error.h"
#include "allot/json_tree.h"
#include "anthropic_internal.h"

/* The prompt tokens of an Anthropic usage object: input_tokens counts only
 * what was neither read from nor written to the prompt cache, so the
 * prompt is the sum and the cache counts are parts of it. */
struct prompt_usage {
    long long prompt, cache_read, cache_write;
};

static struct prompt_usage prompt_usage_of(const cJSON *usage)
{
    struct prompt_usage u;

    u.cache_read = allot__anth_token_count(allot_json_member(usage, "cache_read_input_tokens"));
    u.cache_write =
        allot__anth_token_count(allot_json_member(usage, "cache_creation_input_tokens"));
    u.prompt = allot__anth_token_count(allot_json_member(usage, "input_tokens")) + u.cache_read +
               u.cache_write;
    return u;
}

/* OpenAI-style usage members for u and completion tokens c, from
 * "prompt_tokens" to the end of the usage object. The cache counts go in
 * prompt_tokens_details only when there are some, as cached_tokens
 * (OpenAI's name) and cache_write_tokens (OpenRouter's; OpenAI has no
 * write count), which is where the exchange reads them to bill them at
 * the model's cache prices. */
static int add_usage(struct allot_buf *out, struct prompt_usage u, long long c)
{
    int rc;

    if ((rc = allot_buf_addf(out,
                             "\"prompt_tokens\":%lld,\"completion_tokens\":%lld,"
                             "\"total_tokens\":%lld",
                             u.prompt, c, u.prompt + c)))
        return rc;
    if ((u.cache_read || u.cache_write) &&
        (rc = allot_buf_addf(out,
                             ",\"prompt_tokens_details\":{\"cached_tokens\":%lld,"
                             "\"cache_write_tokens\":%lld}",
                             u.cache_read, u.cache_write)))
        return rc;
    return allot_buf_add(out, "}", 1);
}

/* Anthropic stop_reason -> OpenAI finish_reason. */
static const char *finish_reason_of(const cJSON *stop_reason)
{
    const char *s;

    if (!cJSON_IsString(stop_reason))
        return "stop";
    s = stop_reason->valuestring;
    if (strcmp(s, "max_tokens") == 0 || strcmp(s, "model_context_window_exceeded") == 0)
        return "length";
    if (strcmp(s, "tool_use") == 0)
        return "tool_calls";
    if (strcmp(s, "refusal") == 0)
        return "content_filter";
    return "stop"; /* end_turn, stop_sequence, pause_turn, and what comes next */
}

static const char *string_or(const cJSON *v, const char *dflt)
{
    return cJSON_IsString(v) ? v->valuestring : dflt;
}

/* ---- answers: Anthropic message -> OpenAI chat.completion ---- */

/* The text blocks, concatenated as one answer, as a JSON string; null
 * when there are none. */
static int add_text(struct allot_buf *out, struct allot_buf *text, const cJSON *content)
{
    const cJSON *block;
    int rc, n = 0;

    allot_buf_reset(text);
    cJSON_ArrayForEach(block, content)
    {
        const char *type = string_or(allot_json_member(block, "type"), "");
        const cJSON *t = allot_json_member(block, "text");

        if (strcmp(type, "text") != 0 || !cJSON_IsString(t))
            continue;
        n++;
        if ((rc = allot_buf_adds(text, t->valuestring)))
            return rc;
    }
    if (!n)
        return allot_buf_adds(out, "null");
    return allot_buf_add_json_str(out, text->ptr ? text->ptr : "", text->len);
}

/* The tool_use blocks as ",\"tool_calls\":[...]"; nothing when none. */
static int add_tool_calls(struct allot_buf *out, struct allot_buf *args, const cJSON *content)
{
    const cJSON *block, *input;
    const char *id, *name;
    int rc, n = 0;

    cJSON_ArrayForEach(block, content)
    {
        if (strcmp(string_or(allot_json_member(block, "type"), ""), "tool_use") != 0)
            continue;
        id = string_or(allot_json_member(block, "id"), "");
        name = string_or(allot_json_member(block, "name"), "");
        input = allot_json_member(block, "input");
        allot_buf_reset(args);
        if ((rc = cJSON_IsObject(input) ? allot__anth_add_json(args, input)
                                        : allot_buf_adds(args, "{}")))
            return rc;
        if ((rc = allot_buf_adds(out, n++ ? ",{\"id\":" : ",\"tool_calls\":[{\"id\":")))
            return rc;
        if (*id)
            rc = allot__anth_add_str(out, id);
        else
            rc = allot_buf_addf(out, "\"call_allot_%d\"", n - 1);
        if (rc || (rc = allot_buf_adds(out, ",\"type\":\"function\",\"function\":{\"name\":")) ||
            (rc = allot__anth_add_str(out, name)) ||
            (rc = allot_buf_adds(out, ",\"arguments\":")) ||
            (rc = allot_buf_add_json_str(out, args->ptr, args->len)) ||
            (rc = allot_buf_adds(out, "}}")))
            return rc;
    }
    if (n && (rc = allot_buf_add(out, "]", 1)))
        return rc;
    return 0;
}

int allot_anthropic_up_response(const char *body, size_t len, struct allot_buf *out)
{
    struct allot_buf scratch;
    cJSON *root = NULL;
    const cJSON *content, *type, *usage;
    struct prompt_usage u;
    size_t start = out->len;
    long long c;
    int rc;

    allot_buf_init(&scratch, out->max);
    root = body ? cJSON_ParseWithLength(body, len) : NULL;
    content = allot_json_member(root, "content");
    type = allot_json_member(root, "type");
    if (!cJSON_IsArray(content) || (type && strcmp(string_or(type, ""), "message") != 0)) {
        rc = ALLOT_EPARSE;
        goto out;
    }
    usage = allot_json_member(root, "usage");
    u = prompt_usage_of(usage);
    c = allot__anth_token_count(allot_json_member(usage, "output_tokens"));
    if ((rc = allot_buf_adds(out, "{\"id\":")) || (rc = allot_buf_adds(&scratch, "chatcmpl-")) ||
        (rc = allot_buf_adds(&scratch, string_or(allot_json_member(root, "id"), "allot"))) ||
        (rc = allot_buf_add_json_str(out, scratch.ptr, scratch.len)) ||
        (rc = allot_buf_addf(out, ",\"object\":\"chat.completion\",\"created\":%lld,\"model\":",
                             (long long)time(NULL))) ||
        (rc = allot__anth_add_str(out, string_or(allot_json_member(root, "model"), ""))) ||
        (rc = allot_buf_adds(out, ",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
                                  "\"content\":")) ||
        (rc = add_text(out, &scratch, content)) || (rc = add_tool_calls(out, &scratch, content)) ||
        (rc = allot_buf_addf(out,
                             ",\"refusal\":null},\"logprobs\":null,\"finish_reason\":\"%s\"}],"
                             "\"usage\":{",
                             finish_reason_of(allot_json_member(root, "stop_reason")))) ||
        (rc = add_usage(out, u, c)) || (rc = allot_buf_add(out, "}", 1)))
        goto out;
out:
    if (rc)
        allot__anth_buf_cut(out, start);
    cJSON_Delete(root);
    allot_buf_release(&scratch);
    return rc;
}

/* ---- streams: Anthropic events -> chat.completion.chunk events ---- */

void allot_anthropic_up_stream_init(struct allot_anthropic_up_stream *s, long long created)
{
    memset(s, 0, sizeof *s);
    snprintf(s->id, sizeof s->id, "chatcmpl-allot");
    s->created = created;
    s->tool_index = -1;
    allot_buf_init(&s->scratch, ALLOT_ANTHROPIC_UP_EVENT_MAX);
}

void allot_anthropic_up_stream_release(struct allot_anthropic_up_stream *s)
{
    allot_buf_release(&s->scratch);
}

/* Hand the event in scratch ("data: JSON\n\n") to cb. */
static int emit(struct allot_anthropic_up_stream *s, allot_sse_event_cb cb, void *ctx)
{
    struct allot_buf *b = &s->scratch;

    return cb(ctx, allot_slice_of(b->ptr, b->len), allot_slice_of(b->ptr + 6, b->len - 8));
}

/* Start a chunk in scratch, up to the choice's delta value. */
static int chunk_begin(struct allot_anthropic_up_stream *s)
{
    struct allot_buf *b = &s->scratch;
    int rc;

    allot_buf_reset(b);
    /* every event of a stream: no printf */
    if ((rc = allot_buf_adds(b, "data: {\"id\":")) || (rc = allot__anth_add_str(b, s->id)) ||
        (rc = allot_buf_adds(b, ",\"object\":\"chat.completion.chunk\",\"created\":")) ||
        (rc = allot__anth_add_int(b, s->created < 0 ? -1 : 1,
                                  s->created < 0 ? 0ull - (unsigned long long)s->created
                                                 : (unsigned long long)s->created)) ||
        (rc = allot_buf_adds(b, ",\"model\":")) || (rc = allot__anth_add_str(b, s->model)))
        return rc;
    return 0;
}

/* A chunk with one choice: delta_json (a JSON object's text, or NULL to
 * be completed by the caller before chunk_end) and finish_reason. */
static int chunk_choice(struct allot_anthropic_up_stream *s, const char *delta_json)
{
    int rc;

    if ((rc = chunk_begin(s)) ||
        (rc = allot_buf_adds(&s->scratch, ",\"choices\":[{\"index\":0,\"delta\":")))
        return rc;
    return delta_json ? allot_buf_adds(&s->scratch, delta_json) : 0;
}

/* Close a chunk_choice chunk. finish: NULL for null. */
static int chunk_end(struct allot_anthropic_up_stream *s, const char *finish)
{
    if (finish)
        return allot_buf_addf(&s->scratch, ",\"logprobs\":null,\"finish_reason\":\"%s\"}]}\n\n",
                              finish);
    return allot_buf_adds(&s->scratch, ",\"logprobs\":null,\"finish_reason\":null}]}\n\n");
}

static int send_role(struct allot_anthropic_up_stream *s, allot_sse_event_cb cb, void *ctx)
{
    int rc;

    if ((rc = chunk_choice(s, "{\"role\":\"assistant\",\"content\":\"\"}")) ||
        (rc = chunk_end(s, NULL)))
        return rc;
    return emit(s, cb, ctx);
}

static int send_text(struct allot_anthropic_up_stream *s, const char *text, allot_sse_event_cb cb,
                     void *ctx)
{
    int rc;

    if (!*text)
        return 0;
    if ((rc = chunk_choice(s, "{\"content\":")) || (rc = allot__anth_add_str(&s->scratch, text)) ||
        (rc = allot_buf_add(&s->scratch, "}", 1)) || (rc = chunk_end(s, NULL)))
        return rc;
    return emit(s, cb, ctx);
}

static int send_finish(struct allot_anthropic_up_stream *s, allot_sse_event_cb cb, void *ctx)
{
    int rc;

    if ((rc = chunk_choice(s, "{}")) || (rc = chunk_end(s, s->finish[0] ? s->finish : "stop")))
        return rc;
    return emit(s, cb, ctx);
}

static void set_prompt_usage(struct allot_anthropic_up_stream *s, const cJSON *usage)
{
    struct prompt_usage u = prompt_usage_of(usage);

    s->input_tokens = u.prompt;
    s->cache_read_tokens = u.cache_read;
    s->cache_write_tokens = u.cache_write;
}

/* message_start: the id, model and prompt tokens, and the role chunk. */
static int on_message_start(struct allot_anthropic_up_stream *s, const cJSON *root,
                            allot_sse_event_cb cb, void *ctx)
{
    const cJSON *msg = allot_json_member(root, "message"), *v;

    if (cJSON_IsString(v = allot_json_member(msg, "id")))
        snprintf(s->id, sizeof s->id, "chatcmpl-%s", v->valuestring);
    if (cJSON_IsString(v = allot_json_member(msg, "model")))
        snprintf(s->model, sizeof s->model, "%s", v->valuestring);
    v = allot_json_member(msg, "usage");
    set_prompt_usage(s, v);
    s->output_tokens = allot__anth_token_count(allot_json_member(v, "output_tokens"));
    return send_role(s, cb, ctx);
}

/* content_block_start: a tool_use block opens tool call K; a text block
 * that starts with text sends it. */
static int on_block_start(struct allot_anthropic_up_stream *s, const cJSON *root,
                          allot_sse_event_cb cb, void *ctx)
{
    const cJSON *block = allot_json_member(root, "content_block");
    const char *type = string_or(allot_json_member(block, "type"), "");
    struct allot_buf *b = &s->scratch;
    int rc;

    s->block_is_tool = 0;
    s->tool_index = -1;
    if (strcmp(type, "text") == 0)
        return send_text(s, string_or(allot_json_member(block, "text"), ""), cb, ctx);
    if (strcmp(type, "tool_use") != 0)
        return 0; /* thinking, server tools and their results: OpenAI has no place */
    if ((rc = chunk_choice(s, NULL)) ||
        (rc = allot_buf_addf(b, "{\"tool_calls\":[{\"index\":%d,\"id\":", s->n_tools)) ||
        (rc = allot__anth_add_str(b, string_or(allot_json_member(block, "id"), ""))) ||
        (rc = allot_buf_adds(b, ",\"type\":\"function\",\"function\":{\"name\":")) ||
        (rc = allot__anth_add_str(b, string_or(allot_json_member(block, "name"), ""))) ||
        (rc = allot_buf_adds(b, ",\"arguments\":\"\"}}]}")) || (rc = chunk_end(s, NULL)))
        return rc;
    s->block_is_tool = 1;
    s->tool_index = s->n_tools++;
    return emit(s, cb, ctx);
}

/* content_block_delta: text, or a tool call's arguments. */
static int on_block_delta(struct allot_anthropic_up_stream *s, const cJSON *root,
                          allot_sse_event_cb cb, void *ctx)
{
    const cJSON *delta = allot_json_member(root, "delta");
    const char *type = string_or(allot_json_member(delta, "type"), ""), *json;
    struct allot_buf *b = &s->scratch;
    int rc;

    if (strcmp(type, "text_delta") == 0)
        return send_text(s, string_or(allot_json_member(delta, "text"), ""), cb, ctx);
    if (strcmp(type, "input_json_delta") != 0 || !s->block_is_tool)
        return 0; /* thinking, signatures, citations, server tools' input */
    json = string_or(allot_json_member(delta, "partial_json"), "");
    if (!*json)
        return 0;
    if ((rc = chunk_choice(s, NULL)) ||
        (rc = allot_buf_addf(
             b, "{\"tool_calls\":[{\"index\":%d,\"function\":{\"arguments\":", s->tool_index)) ||
        (rc = allot__anth_add_str(b, json)) || (rc = allot_buf_adds(b, "}}]}")) ||
        (rc = chunk_end(s, NULL)))
        return rc;
    return emit(s, cb, ctx);
}

/* message_delta: the finish chunk; the token counts so far. */
static int on_message_delta(struct allot_anthropic_up_stream *s, const cJSON *root,
                            allot_sse_event_cb cb, void *ctx)
{
    const cJSON *usage = allot_json_member(root, "usage");

    snprintf(s->finish, sizeof s->finish, "%s",
             finish_reason_of(allot_json_member(allot_json_member(root, "delta"), "stop_reason")));
    if (cJSON_IsNumber(allot_json_member(usage, "output_tokens")))
        s->output_tokens = allot__anth_token_count(allot_json_member(usage, "output_tokens"));
    /* newer API versions repeat the (cumulative) input counts here */
    if (cJSON_IsNumber(allot_json_member(usage, "input_tokens")))
        set_prompt_usage(s, usage);
    return send_finish(s, cb, ctx);
}

/* message_stop: the usage chunk, then [DONE]. */
static int on_message_stop(struct allot_anthropic_up_stream *s, allot_sse_event_cb cb, void *ctx)
{
    static const char done[] = "data: [DONE]\n\n";
    struct prompt_usage u;
    int rc;

    if (!s->finish[0]) { /* no message_delta: the client still gets a finish_reason */
        snprintf(s->finish, sizeof s->finish, "stop");
        if ((rc = send_finish(s, cb, ctx)))
            return rc;
    }
    u.prompt = s->input_tokens;
    u.cache_read = s->cache_read_tokens;
    u.cache_write = s->cache_write_tokens;
    if ((rc = chunk_begin(s)) ||
        (rc = allot_buf_adds(&s->scratch, ",\"choices\":[],\"usage\":{")) ||
        (rc = add_usage(&s->scratch, u, s->output_tokens)) ||
        (rc = allot_buf_adds(&s->scratch, "}\n\n")) || (rc = emit(s, cb, ctx)))
        return rc;
    s->done = 1;
    return cb(ctx, allot_slice_of(done, sizeof done - 1), allot_slice_of(done + 6, 6));
}

/* error: OpenAI's error shape, which allot's stream code takes as failure. */
static int on_error(struct allot_anthropic_up_stream *s, const cJSON *root, allot_sse_event_cb cb,
                    void *ctx)
{
    const cJSON *e = allot_json_member(root, "error");
    const char *type = string_or(allot_json_member(e, "type"), "api_error");
    struct allot_buf *b = &s->scratch;
    int rc;

    allot_buf_reset(b);
    if ((rc = allot_buf_adds(b, "data: {\"error\":{\"message\":")) ||
        (rc = allot__anth_add_str(b, string_or(allot_json_member(e, "message"), type))) ||
        (rc = allot_buf_adds(b, ",\"type\":")) || (rc = allot__anth_add_str(b, type)) ||
        (rc = allot_buf_adds(b, "}}\n\n")))
        return rc;
    return emit(s, cb, ctx);
}

int allot_anthropic_up_stream_event(struct allot_anthropic_up_stream *s, struct allot_slice data,
                                    allot_sse_event_cb cb, void *ctx)
{
    cJSON *root = NULL;
    const char *type;
    int rc = 0;

    if (s->done || !data.ptr || !data.len)
        return 0;
    root = allot_json_parse(data.ptr, data.len);
    if (!cJSON_IsObject(root))
        goto out; /* not an event: junk, or a keep-alive */
    type = string_or(allot_json_member(root, "type"), "");
    if (strcmp(type, "message_start") == 0)
        rc = on_message_start(s, root, cb, ctx);
    else if (strcmp(type, "content_block_start") == 0)
        rc = on_block_start(s, root, cb, ctx);
    else if (strcmp(type, "content_block_delta") == 0)
        rc = on_block_delta(s, root, cb, ctx);
    else if (strcmp(type, "content_block_stop") == 0) {
        s->block_is_tool = 0;
        s->tool_index = -1;
    } else if (strcmp(type, "message_delta") == 0)
        rc = on_message_delta(s, root, cb, ctx);
    else if (strcmp(type, "message_stop") == 0)
        rc = on_message_stop(s, cb, ctx);
    else if (strcmp(type, "error") == 0)
        rc = on_error(s, root, cb, ctx);
    /* ping and events added later: nothing */
out:
    cJSON_Delete(root);
    return rc;
}
