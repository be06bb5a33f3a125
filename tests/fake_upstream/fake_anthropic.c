/* fake_anthropic.c: the fake upstream's Anthropic dialect, POST
 * /v1/messages (docs/fake_upstream.md, "Anthropic Messages").
 *
 * Lets a test stand the fake in for an upstream that speaks Anthropic's
 * Messages API: what a Messages request holds for the engine (fake_chat.c),
 * the key check (x-api-key and anthropic-version, refused with a 401 under
 * --expect-key, as Anthropic does), and the bytes of a message, of its
 * event stream and of Anthropic's error bodies. The answer itself (words,
 * pieces, token counts, timing, knobs) is the engine's, the same as chat
 * completions give, so a test can compare the two endpoints exactly.
 *
 * The engine keeps why an answer ended in OpenAI's words (stop, length,
 * tool_calls); they are spoken here as Anthropic's stop reasons (end_turn,
 * max_tokens, tool_use), so a model id like "sim?finish=length" means the
 * same to either endpoint. Error types come from liballot's table
 * (allot_anthropic_error_type), the one allot's own Messages endpoint
 * uses. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include "fake_upstream.h"
#include "allot/anthropic.h"
#include "allot/error.h"

/* Bytes of the text in a message's content: a string, text blocks, and
 * the content of tool_result blocks (what OpenAI carries in tool
 * messages, which chat completions count too). */
static size_t content_bytes(const cJSON *content)
{
    const cJSON *block;
    size_t n = 0;

    if (!cJSON_IsArray(content))
        return fake_text_bytes(content);
    cJSON_ArrayForEach(block, content)
    {
        const cJSON *text = fake_json_member(block, "text"),
                    *type = fake_json_member(block, "type");
        if (cJSON_IsString(text))
            n += strlen(text->valuestring);
        else if (cJSON_IsString(type) && strcmp(type->valuestring, "tool_result") == 0)
            n += fake_text_bytes(fake_json_member(block, "content"));
    }
    return n;
}

/* Problems are named by field path, the way Anthropic's API names them
 * ("messages.1.role: ..."). */
static int read_messages(const cJSON *root, struct fake_request_view *v, char *msg, size_t msz)
{
    const cJSON *model = fake_json_member(root, "model"),
                *max_tokens = fake_json_member(root, "max_tokens"),
                *messages = fake_json_member(root, "messages"),
                *system = fake_json_member(root, "system"), *m;
    size_t i = 0;

    if (!cJSON_IsString(model)) {
        snprintf(msg, msz, "model: %s",
                 model ? "Input should be a valid string" : "Field required");
        return ALLOT_EINVAL;
    }
    v->model = model->valuestring;
    v->model_len = strlen(model->valuestring);
    /* valueint saturates at INT_MAX, so it equals a whole number in range */
    if (!cJSON_IsNumber(max_tokens) || max_tokens->valuedouble < 1 ||
        max_tokens->valuedouble != (double)max_tokens->valueint) {
        snprintf(msg, msz, "max_tokens: %s",
                 !max_tokens ? "Field required" : "Input should be an integer of at least 1");
        return ALLOT_EINVAL;
    }
    if (!cJSON_IsArray(messages) || !messages->child) {
        snprintf(msg, msz, "messages: %s",
                 !messages ? "Field required" : "Input should be a non-empty list of messages");
        return ALLOT_EINVAL;
    }
    if (system && !cJSON_IsString(system) && !cJSON_IsArray(system) && !cJSON_IsNull(system)) {
        snprintf(msg, msz, "system: Input should be a valid string or list of text blocks");
        return ALLOT_EINVAL;
    }
    v->stream = cJSON_IsTrue(fake_json_member(root, "stream"));
    v->content_bytes = fake_text_bytes(system);
    cJSON_ArrayForEach(m, messages)
    {
        const cJSON *role = fake_json_member(m, "role"), *content = fake_json_member(m, "content");
        int user = cJSON_IsString(role) && strcmp(role->valuestring, "user") == 0;

        if (!user && !(cJSON_IsString(role) && strcmp(role->valuestring, "assistant") == 0)) {
            snprintf(msg, msz, "messages.%zu.role: Input should be 'user' or 'assistant'", i);
            return ALLOT_EINVAL;
        }
        if (!cJSON_IsString(content) && !cJSON_IsArray(content)) {
            snprintf(msg, msz, "messages.%zu.content: %s", i,
                     content ? "Input should be a valid string or list of content blocks"
                             : "Field required");
            return ALLOT_EINVAL;
        }
        v->content_bytes += content_bytes(content);
        if (user)
            v->last_user = content;
        i++;
    }
    return 0;
}

/* With --expect-key, the key must come as x-api-key: KEY, and an
 * anthropic-version header with it, as Anthropic's API demands. */
static int refuse(const struct fake_options *opt, const struct allot_http_request *req, char *msg,
                  size_t msz)
{
    struct allot_slice key = allot_http_request_header(req, "x-api-key");

    if (!opt->expect_key)
        return 0;
    if (!key.ptr) {
        snprintf(msg, msz, "x-api-key header is required");
        return 401;
    }
    if (!fake_key_ok(opt->expect_key, key, 0)) {
        snprintf(msg, msz, "invalid x-api-key");
        return 401;
    }
    if (!allot_http_request_header(req, "anthropic-version").ptr) {
        snprintf(msg, msz, "anthropic-version: header is required");
        return 401;
    }
    return 0;
}

/* {"type":"error","error":{"type":T,"message":M}}; T follows the status,
 * whatever kind the engine names. */
static int error_body(struct allot_buf *b, int status, const char *message, const char *type)
{
    (void)type;
    return allot_anthropic_error_body(status, message, b);
}

/* The engine's finish, as a stop reason. */
static void emit_stop_reason(struct fake_out *o, const struct fake_answer *a)
{
    struct allot_slice f = allot_slice_of(allot_buf_cstr(&a->finish), a->finish.len);

    if (allot_slice_eq(f, "stop"))
        fake_emits(o, "\"end_turn\"");
    else if (allot_slice_eq(f, "length"))
        fake_emits(o, "\"max_tokens\"");
    else if (allot_slice_eq(f, "tool_calls"))
        fake_emits(o, "\"tool_use\"");
    else
        fake_emit_json(o, f.ptr, f.len);
}

/* "id":...,"type":"message","role":"assistant","model":..., shared by the
 * answer and message_start. */
static void emit_message_head(struct fake_out *o, const struct fake_answer *a)
{
    fake_emitf(o,
               "\"id\":\"msg_fake_%" PRIu64 "\",\"type\":\"message\",\"role\":\"assistant\","
               "\"model\":",
               a->id);
    fake_emit(o, a->model.ptr, a->model.len);
}

/* The tool_use block's head, up to "input":. */
static void emit_tool_head(struct fake_out *o, const struct fake_answer *a)
{
    fake_emitf(o, "{\"type\":\"tool_use\",\"id\":\"toolu_fake_%" PRIu64 "\",\"name\":", a->id);
    fake_emit(o, a->tool.ptr, a->tool.len);
    fake_emits(o, ",\"input\":");
}

/* Anthropic's input counts: input_tokens is what was neither read from
 * nor written to the cache; the cache members only with the knobs. */
static void emit_input_usage(struct fake_out *o, const struct fake_answer *a)
{
    fake_emitf(o, "\"input_tokens\":%ld",
               a->prompt_tokens - a->cached_tokens - a->cache_write_tokens);
    if (a->cached_tokens || a->cache_write_tokens)
        fake_emitf(o, ",\"cache_creation_input_tokens\":%ld,\"cache_read_input_tokens\":%ld",
                   a->cache_write_tokens, a->cached_tokens);
}

static void answer(struct fake_out *o, const struct fake_answer *a)
{
    fake_emits(o, "{");
    emit_message_head(o, a);
    fake_emits(o, ",\"content\":[");
    if (a->tool.len) { /* the content is the call's input, a JSON object's text */
        emit_tool_head(o, a);
        fake_emit(o, a->content.ptr, a->content.len);
        fake_emits(o, "}");
    } else {
        fake_emits(o, "{\"type\":\"text\",\"text\":");
        fake_emit_json(o, allot_buf_cstr(&a->content), a->content.len);
        fake_emits(o, "}");
    }
    fake_emits(o, "],\"stop_reason\":");
    emit_stop_reason(o, a);
    fake_emits(o, ",\"stop_sequence\":null");
    if (a->usage) {
        fake_emits(o, ",\"usage\":{");
        emit_input_usage(o, a);
        fake_emitf(o, ",\"output_tokens\":%ld}", a->completion_tokens);
    }
    fake_emits(o, "}");
}

static void malformed_answer(struct fake_out *o, const struct fake_answer *a)
{
    fake_emits(o, "{");
    emit_message_head(o, a);
    fake_emits(o, ",\"content\":[{\"type\":\"text\",\"text\":\"oops");
}

/* message_start (with an empty message), content_block_start, ping. */
static void stream_open(struct fake_out *o, struct fake_answer *a)
{
    fake_emits(o, "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{");
    emit_message_head(o, a);
    fake_emits(o, ",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null");
    if (a->usage) {
        fake_emits(o, ",\"usage\":{");
        emit_input_usage(o, a);
        fake_emits(o, ",\"output_tokens\":1}");
    }
    fake_emits(o, "}}\n\nevent: content_block_start\ndata: {\"type\":\"content_block_start\","
                  "\"index\":0,\"content_block\":");
    if (a->tool.len) {
        emit_tool_head(o, a);
        fake_emits(o, "{}}");
    } else {
        fake_emits(o, "{\"type\":\"text\",\"text\":\"\"}");
    }
    fake_emits(o, "}\n\nevent: ping\ndata: {\"type\":\"ping\"}\n\n");
}

static void stream_malformed(struct fake_out *o, const struct fake_answer *a)
{
    (void)a;
    fake_emits(o, "event: content_block_delta\ndata: {\"type\":\"content_block_delta\","
                  "\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"oops\n\n");
}

/* A text_delta, or with a tool call an input_json_delta of its input. */
static void stream_piece(struct fake_out *o, const struct fake_answer *a, const char *piece,
                         size_t len)
{
    fake_emits(o, "event: content_block_delta\ndata: {\"type\":\"content_block_delta\","
                  "\"index\":0,\"delta\":");
    fake_emits(o, a->tool.len ? "{\"type\":\"input_json_delta\",\"partial_json\":"
                              : "{\"type\":\"text_delta\",\"text\":");
    fake_emit_json(o, piece, len);
    fake_emits(o, "}}\n\n");
}

/* content_block_stop, message_delta (stop reason, usage), message_stop. */
static void stream_close(struct fake_out *o, const struct fake_answer *a)
{
    fake_emits(o, "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}"
                  "\n\nevent: message_delta\ndata: {\"type\":\"message_delta\","
                  "\"delta\":{\"stop_reason\":");
    emit_stop_reason(o, a);
    fake_emits(o, ",\"stop_sequence\":null}");
    if (a->usage)
        fake_emitf(o, ",\"usage\":{\"output_tokens\":%ld}", a->completion_tokens);
    fake_emits(o, "}\n\nevent: message_stop\ndata: {\"type\":\"message_stop\"}\n\n");
}

const struct fake_dialect fake_anthropic = {
    .key_header = "x-api-key",
    .bearer = 0,
    .read = read_messages,
    .refuse = refuse,
    .error_body = error_body,
    .answer = answer,
    .malformed_answer = malformed_answer,
    .stream_open = stream_open,
    .stream_malformed = stream_malformed,
    .stream_piece = stream_piece,
    .stream_close = stream_close,
};
