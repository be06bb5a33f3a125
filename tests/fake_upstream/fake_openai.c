/* fake_openai.c: the fake upstream's OpenAI dialect, POST
 * /v1/chat/completions (docs/fake_upstream.md, "Chat completions").
 *
 * What a chat request holds for the engine (fake_chat.c), and the bytes of
 * a chat.completion, of its chat.completion.chunk stream and of OpenAI's
 * error bodies. Every chunk of a stream starts with the same bytes (id,
 * object, created, model), so they are built once per stream, in the
 * answer's prefix. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include "fake_upstream.h"
#include "allot/error.h"

static int read_chat(const cJSON *root, struct fake_request_view *v, char *msg, size_t msz)
{
    const cJSON *model, *messages, *m;
    size_t i = 0;

    model = fake_json_member(root, "model");
    if (!cJSON_IsString(model)) {
        snprintf(msg, msz, "'model' is required and must be a string");
        return ALLOT_EINVAL;
    }
    v->model = model->valuestring;
    v->model_len = strlen(model->valuestring);
    v->stream = cJSON_IsTrue(fake_json_member(root, "stream"));
    v->include_usage =
        cJSON_IsTrue(fake_json_member(fake_json_member(root, "stream_options"), "include_usage"));
    messages = fake_json_member(root, "messages");
    if (!cJSON_IsArray(messages) || !messages->child) {
        snprintf(msg, msz, "'messages' must be a non-empty array");
        return ALLOT_EINVAL;
    }
    cJSON_ArrayForEach(m, messages)
    {
        const cJSON *role = fake_json_member(m, "role"), *content = fake_json_member(m, "content");
        if (!cJSON_IsString(role)) {
            snprintf(msg, msz, "'messages[%zu].role' is required and must be a string", i);
            return ALLOT_EINVAL;
        }
        v->content_bytes += fake_text_bytes(content);
        if (strcmp(role->valuestring, "user") == 0)
            v->last_user = content;
        i++;
    }
    return 0;
}

/* {"error":{"message":"...","type":"...","param":null,"code":"http_STATUS"}} */
static int error_body(struct allot_buf *b, int status, const char *message, const char *type)
{
    struct fake_out o = {b, 0};
    fake_emits(&o, "{\"error\":{\"message\":");
    fake_emit_json(&o, message, strlen(message));
    fake_emitf(&o, ",\"type\":\"%s\",\"param\":null,\"code\":\"http_%d\"}}", type, status);
    return o.rc;
}

/* With the cache knobs, prompt_tokens_details as OpenAI gives it
 * (cached_tokens, a part of prompt_tokens) and, for writes, as OpenRouter
 * does (cache_write_tokens); without them, no details. */
static void emit_usage(struct fake_out *o, const struct fake_answer *a)
{
    fake_emitf(o, "\"usage\":{\"prompt_tokens\":%ld,\"completion_tokens\":%ld,\"total_tokens\":%ld",
               a->prompt_tokens, a->completion_tokens, a->prompt_tokens + a->completion_tokens);
    if (a->cached_tokens || a->cache_write_tokens) {
        fake_emitf(o, ",\"prompt_tokens_details\":{\"cached_tokens\":%ld", a->cached_tokens);
        if (a->cache_write_tokens)
            fake_emitf(o, ",\"cache_write_tokens\":%ld", a->cache_write_tokens);
        fake_emits(o, "}");
    }
    fake_emits(o, "}");
}

static void answer(struct fake_out *o, const struct fake_answer *a)
{
    fake_emitf(o,
               "{\"id\":\"chatcmpl-fake-%" PRIu64
               "\",\"object\":\"chat.completion\",\"created\":%lld,"
               "\"model\":",
               a->id, a->created);
    fake_emit(o, a->model.ptr, a->model.len);
    fake_emits(o, ",\"system_fingerprint\":\"fp_fake\",\"choices\":[{\"index\":0,\"message\":"
                  "{\"role\":\"assistant\",\"content\":");
    if (a->tool.len) { /* the content is the call's arguments */
        fake_emitf(o,
                   "null,\"tool_calls\":[{\"id\":\"call_fake_%" PRIu64
                   "\",\"type\":\"function\",\"function\":{\"name\":",
                   a->id);
        fake_emit(o, a->tool.ptr, a->tool.len);
        fake_emits(o, ",\"arguments\":");
        fake_emit_json(o, allot_buf_cstr(&a->content), a->content.len);
        fake_emits(o, "}}]");
    } else {
        fake_emit_json(o, allot_buf_cstr(&a->content), a->content.len);
    }
    fake_emits(o, ",\"refusal\":null},\"logprobs\":null,\"finish_reason\":");
    fake_emit_json(o, allot_buf_cstr(&a->finish), a->finish.len);
    fake_emits(o, "}]");
    if (a->usage) {
        fake_emits(o, ",");
        emit_usage(o, a);
    }
    fake_emits(o, "}");
}

static void malformed_answer(struct fake_out *o, const struct fake_answer *a)
{
    fake_emitf(o,
               "{\"id\":\"chatcmpl-fake-%" PRIu64 "\",\"object\":\"chat.completion\","
               "\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"oops",
               a->id);
}

/* The bytes every chunk of this stream starts with, up to "choices":. */
static int build_prefix(struct fake_answer *a)
{
    struct fake_out o = {&a->prefix, 0};

    allot_buf_reset(&a->prefix);
    fake_emitf(&o,
               "data: {\"id\":\"chatcmpl-fake-%" PRIu64 "\",\"object\":\"chat.completion.chunk\","
               "\"created\":%lld,\"model\":",
               a->id, a->created);
    fake_emit(&o, a->model.ptr, a->model.len);
    fake_emits(&o, ",\"system_fingerprint\":\"fp_fake\",\"choices\":");
    return o.rc;
}

/* One chunk with choices[0].delta = delta (JSON text), or a piece of the
 * content (of the tool call's arguments with tool-call), or with neither
 * the tool call's head (id, name); finish_reason is finish, or null when
 * finish is NULL. */
static void emit_chunk(struct fake_out *o, const struct fake_answer *a, const char *delta,
                       const char *piece, size_t piece_len, const struct allot_buf *finish)
{
    fake_emit(o, a->prefix.ptr, a->prefix.len);
    fake_emits(o, "[{\"index\":0,\"delta\":");
    if (piece && a->tool.len) {
        fake_emits(o, "{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":");
        fake_emit_json(o, piece, piece_len);
        fake_emits(o, "}}]}");
    } else if (!piece && !delta) {
        fake_emitf(o,
                   "{\"tool_calls\":[{\"index\":0,\"id\":\"call_fake_%" PRIu64
                   "\",\"type\":\"function\",\"function\":{\"name\":",
                   a->id);
        fake_emit(o, a->tool.ptr, a->tool.len);
        fake_emits(o, ",\"arguments\":\"\"}}]}");
    } else if (piece) {
        fake_emits(o, "{\"content\":");
        fake_emit_json(o, piece, piece_len);
        fake_emits(o, "}");
    } else {
        fake_emits(o, delta);
    }
    fake_emits(o, ",\"logprobs\":null,\"finish_reason\":");
    if (finish)
        fake_emit_json(o, allot_buf_cstr(finish), finish->len);
    else
        fake_emits(o, "null");
    fake_emits(o, "}]");
    if (a->include_usage && a->usage)
        fake_emits(o, ",\"usage\":null");
    fake_emits(o, "}\n\n");
}

/* The role delta, and the tool call's head when there is one. */
static void stream_open(struct fake_out *o, struct fake_answer *a)
{
    if (build_prefix(a)) {
        if (!o->rc)
            o->rc = ALLOT_ENOMEM;
        return;
    }
    emit_chunk(o, a, "{\"role\":\"assistant\",\"content\":\"\"}", NULL, 0, NULL);
    if (a->tool.len)
        emit_chunk(o, a, NULL, NULL, 0, NULL);
}

static void stream_malformed(struct fake_out *o, const struct fake_answer *a)
{
    fake_emitf(o,
               "data: {\"id\":\"chatcmpl-fake-%" PRIu64 "\",\"object\":\"chat.completion.chunk\","
               "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"oops\n\n",
               a->id);
}

static void stream_piece(struct fake_out *o, const struct fake_answer *a, const char *piece,
                         size_t len)
{
    emit_chunk(o, a, NULL, piece, len, NULL);
}

/* The finish chunk, the usage chunk when asked for, [DONE]. */
static void stream_close(struct fake_out *o, const struct fake_answer *a)
{
    emit_chunk(o, a, "{}", NULL, 0, &a->finish);
    if (a->include_usage && a->usage) {
        fake_emit(o, a->prefix.ptr, a->prefix.len);
        fake_emits(o, "[],");
        emit_usage(o, a);
        fake_emits(o, "}\n\n");
    }
    fake_emits(o, "data: [DONE]\n\n");
}

/* No refuse: a wrong key is only reported in /stats (key_ok), as it
 * always was for chat completions. */
const struct fake_dialect fake_openai = {
    .key_header = "authorization",
    .bearer = 1,
    .read = read_chat,
    .refuse = NULL,
    .error_body = error_body,
    .answer = answer,
    .malformed_answer = malformed_answer,
    .stream_open = stream_open,
    .stream_malformed = stream_malformed,
    .stream_piece = stream_piece,
    .stream_close = stream_close,
};
