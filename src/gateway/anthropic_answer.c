/* anthropic_answer.c: OpenAI chat-completions answers translated to the
 * Anthropic Messages API's: the plain message, the stream of events, and
 * error bodies (anthropic.h).
 *
 * Answers come from our upstreams and are read leniently: cJSON as is,
 * missing fields taking defaults, so that a quirky OpenAI-compatible server
 * still gives the client an answer.
 *
 * DESIGN (stream): the translator is a small state machine over the
 * upstream's chunks, kept in plain data (struct allot_anthropic_stream):
 * not started -> message_start sent -> (a text or tool_use block open, or
 * none) ... -> finished. Anthropic content blocks are strictly sequential
 * (start, deltas, stop), while OpenAI may interleave text and tool-call
 * deltas, so a chunk that changes the kind of block (or the tool call)
 * closes the open block and opens the next. A call that fails restores the
 * state it was given, so the caller may report the error and the state
 * still matches what the client has seen. */
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cJSON.h>
#include "allot/anthropic.h"
#include "allot/error.h"
#include "allot/fmt.h"
#include "anthropic_internal.h"

/* OpenAI finish_reason -> Anthropic stop_reason. */
static const char *stop_reason_of(const cJSON *finish_reason)
{
    const char *f;

    if (!cJSON_IsString(finish_reason))
        return "end_turn";
    f = finish_reason->valuestring;
    if (strcmp(f, "length") == 0)
        return "max_tokens";
    if (strcmp(f, "tool_calls") == 0 || strcmp(f, "function_call") == 0)
        return "tool_use";
    if (strcmp(f, "content_filter") == 0)
        return "refusal";
    return "end_turn";
}

/* An Anthropic message id from an OpenAI completion id: "chatcmpl-X" ->
 * "msg_X", "msg_X" kept, anything else prefixed, none -> "msg_allot". */
static void message_id(char *dst, size_t cap, const char *id)
{
    static const char chatcmpl[] = "chatcmpl-";

    if (!id || !*id)
        id = "allot";
    else if (strncmp(id, chatcmpl, sizeof chatcmpl - 1) == 0)
        id += sizeof chatcmpl - 1;
    snprintf(dst, cap, "%s%s", strncmp(id, "msg_", 4) == 0 ? "" : "msg_", id);
}

/* ---- answers: OpenAI chat.completion -> Anthropic message ---- */

/* One tool_use content block. n: its position, for a made-up id. */
static int add_tool_use(struct allot_buf *out, const cJSON *id, const cJSON *fn, int n)
{
    const cJSON *name = allot_json_member(fn, "name");
    int rc;

    if ((rc = allot_buf_adds(out, "{\"type\":\"tool_use\",\"id\":")))
        return rc;
    if (cJSON_IsString(id) && *id->valuestring)
        rc = allot__anth_add_str(out, id->valuestring);
    else
        rc = allot_buf_addf(out, "\"toolu_allot_%d\"", n);
    if (rc || (rc = allot_buf_adds(out, ",\"name\":")) ||
        (rc = allot__anth_add_str(out, cJSON_IsString(name) ? name->valuestring : "")) ||
        (rc = allot_buf_adds(out, ",\"input\":")) ||
        (rc = allot__anth_add_tool_input(out, allot_json_member(fn, "arguments"))) ||
        (rc = allot_buf_add(out, "}", 1)))
        return rc;
    return 0;
}

/* The content blocks of an OpenAI message: its text (or refusal), then its
 * tool calls (or legacy function_call). */
static int add_content(struct allot_buf *out, const cJSON *message)
{
    const cJSON *text = allot_json_member(message, "content"),
                *calls = allot_json_member(message, "tool_calls");
    const cJSON *refusal = allot_json_member(message, "refusal"), *call, *fc;
    int rc, n = 0;

    if (!(cJSON_IsString(text) && *text->valuestring))
        text = cJSON_IsString(refusal) && *refusal->valuestring ? refusal : NULL;
    if (text &&
        ((rc = allot_buf_adds(out, "{\"type\":\"text\",\"text\":")) ||
         (rc = allot__anth_add_str(out, text->valuestring)) || (rc = allot_buf_add(out, "}", 1))))
        return rc;
    if (!cJSON_IsArray(calls))
        calls = NULL;
    cJSON_ArrayForEach(call, calls)
    {
        if (!cJSON_IsObject(call) || !cJSON_IsObject(allot_json_member(call, "function")))
            continue;
        if (((text || n) && (rc = allot_buf_add(out, ",", 1))) ||
            (rc = add_tool_use(out, allot_json_member(call, "id"),
                               allot_json_member(call, "function"), n)))
            return rc;
        n++;
    }
    fc = allot_json_member(message, "function_call");
    if (!n && cJSON_IsObject(fc) &&
        ((text && (rc = allot_buf_add(out, ",", 1))) || (rc = add_tool_use(out, NULL, fc, 0))))
        return rc;
    return 0;
}

/* An Anthropic usage object for prompt tokens p, of which cached were read
 * from and written were written to the prompt cache, and completion
 * tokens c: input_tokens counts only the rest of the prompt, as
 * Anthropic's does; the cache members only when there are some. */
static int add_usage(struct allot_buf *out, long long p, long long cached, long long written,
                     long long c)
{
    int rc;

    /* OpenAI-style counts need not add up: never a negative input */
    cached = cached < p ? cached : p;
    written = written < p - cached ? written : p - cached;
    if ((rc = allot_buf_adds(out, "{\"input_tokens\":")) ||
        (rc = allot__anth_add_count(out, p - cached - written)))
        return rc;
    if ((cached || written) && ((rc = allot_buf_adds(out, ",\"cache_creation_input_tokens\":")) ||
                                (rc = allot__anth_add_count(out, written)) ||
                                (rc = allot_buf_adds(out, ",\"cache_read_input_tokens\":")) ||
                                (rc = allot__anth_add_count(out, cached))))
        return rc;
    if ((rc = allot_buf_adds(out, ",\"output_tokens\":")) || (rc = allot__anth_add_count(out, c)))
        return rc;
    return allot_buf_add(out, "}", 1);
}

/* The cached and cache-written counts of an OpenAI-style usage object. */
static long long cached_of(const cJSON *usage, const char *name)
{
    return allot__anth_token_count(
        allot_json_member(allot_json_member(usage, "prompt_tokens_details"), name));
}

int allot_anthropic_response_tree(const cJSON *root, const char *model, struct allot_buf *out)
{
    const cJSON *choice, *usage;
    const char *id;
    char msg_id[160];
    size_t start = out->len;
    int rc;

    if (!(choice = allot__anth_first_choice(root, &id, &model))) {
        rc = ALLOT_EPARSE;
        goto out;
    }
    message_id(msg_id, sizeof msg_id, id);
    usage = allot_json_member(root, "usage");
    if ((rc = allot_buf_adds(out, "{\"id\":")) || (rc = allot__anth_add_str(out, msg_id)) ||
        (rc = allot_buf_adds(out, ",\"type\":\"message\",\"role\":\"assistant\",\"model\":")) ||
        (rc = allot__anth_add_str(out, model)) || (rc = allot_buf_adds(out, ",\"content\":[")) ||
        (rc = add_content(out, allot_json_member(choice, "message"))) ||
        (rc = allot_buf_adds(out, "],\"stop_reason\":\"")) ||
        (rc = allot_buf_adds(out, stop_reason_of(allot_json_member(choice, "finish_reason")))) ||
        (rc = allot_buf_adds(out, "\",\"stop_sequence\":null,\"usage\":")) ||
        (rc = add_usage(out, allot__anth_token_count(allot_json_member(usage, "prompt_tokens")),
                        cached_of(usage, "cached_tokens"), cached_of(usage, "cache_write_tokens"),
                        allot__anth_token_count(allot_json_member(usage, "completion_tokens")))) ||
        (rc = allot_buf_add(out, "}", 1)))
        goto out;
out:
    if (rc)
        allot__anth_buf_cut(out, start);
    return rc;
}

int allot_anthropic_response(const char *body, size_t len, const char *model, struct allot_buf *out)
{
    cJSON *root = body ? cJSON_ParseWithLength(body, len) : NULL;
    int rc = allot_anthropic_response_tree(root, model, out);
    cJSON_Delete(root);
    return rc;
}

/* ---- streams: chat.completion.chunk events -> Anthropic events ---- */

void allot_anthropic_stream_init(struct allot_anthropic_stream *s, const char *id,
                                 const char *model)
{
    memset(s, 0, sizeof *s);
    message_id(s->id, sizeof s->id, id);
    snprintf(s->model, sizeof s->model, "%s", model ? model : "");
    s->tool_index = -1;
}

static int message_start(struct allot_anthropic_stream *s, struct allot_buf *out)
{
    int rc;

    if ((rc = allot_buf_adds(out, "event: message_start\ndata: {\"type\":\"message_start\","
                                  "\"message\":{\"id\":")) ||
        (rc = allot__anth_add_str(out, s->id)) ||
        (rc = allot_buf_adds(out, ",\"type\":\"message\",\"role\":\"assistant\",\"model\":")) ||
        (rc = allot__anth_add_str(out, s->model)) ||
        (rc = allot_buf_adds(out, ",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,"
                                  "\"usage\":{\"input_tokens\":0,\"output_tokens\":0}}}\n\n")))
        return rc;
    s->started = 1;
    return 0;
}

static int close_block(struct allot_anthropic_stream *s, struct allot_buf *out)
{
    int rc;

    if (!s->block_open)
        return 0;
    if ((rc = allot_buf_addf(out,
                             "event: content_block_stop\ndata: {\"type\":\"content_block_stop\","
                             "\"index\":%d}\n\n",
                             s->block_index)))
        return rc;
    s->block_open = 0;
    s->block_index++;
    s->block_is_tool = 0;
    s->tool_index = -1;
    return 0;
}

static int start_block(struct allot_anthropic_stream *s, struct allot_buf *out)
{
    s->block_open = 1;
    return allot_buf_addf(out,
                          "event: content_block_start\ndata: {\"type\":\"content_block_start\","
                          "\"index\":%d,\"content_block\":",
                          s->block_index);
}

/* A delta of the open block: {"type":TYPE,FIELD:text}. */
static int block_delta(struct allot_anthropic_stream *s, struct allot_buf *out, const char *type,
                       const char *field, const char *text)
{
    static const char head[] =
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\","
        "\"index\":";
    char num[24];
    int rc;

    /* every event of a stream: no printf */
    if ((rc = allot_buf_add(out, head, sizeof head - 1)) ||
        (rc = allot_buf_add(out, num, allot_fmt_u64(num, (uint64_t)s->block_index))) ||
        (rc = allot_buf_adds(out, ",\"delta\":{\"type\":\"")) || (rc = allot_buf_adds(out, type)) ||
        (rc = allot_buf_adds(out, "\",\"")) || (rc = allot_buf_adds(out, field)) ||
        (rc = allot_buf_adds(out, "\":")) || (rc = allot__anth_add_str(out, text)) ||
        (rc = allot_buf_adds(out, "}}\n\n")))
        return rc;
    return 0;
}

static int stream_text(struct allot_anthropic_stream *s, struct allot_buf *out, const char *text)
{
    int rc;

    if (!s->block_open || s->block_is_tool) {
        if ((rc = close_block(s, out)) || (rc = start_block(s, out)) ||
            (rc = allot_buf_adds(out, "{\"type\":\"text\",\"text\":\"\"}}\n\n")))
            return rc;
    }
    return block_delta(s, out, "text_delta", "text", text);
}

/* One entry of delta.tool_calls. k: its position, the index when it has none. */
static int stream_tool_call(struct allot_anthropic_stream *s, struct allot_buf *out,
                            const cJSON *call, int k)
{
    const cJSON *index = allot_json_member(call, "index"), *id,
                *fn = allot_json_member(call, "function"), *name, *args;
    int idx = k, rc;

    if (cJSON_IsNumber(index) && index->valuedouble >= 0 && index->valuedouble <= INT_MAX)
        idx = (int)index->valuedouble;
    if (!s->block_open || !s->block_is_tool || s->tool_index != idx) {
        if ((rc = close_block(s, out)) || (rc = start_block(s, out)) ||
            (rc = allot_buf_adds(out, "{\"type\":\"tool_use\",\"id\":")))
            return rc;
        id = allot_json_member(call, "id");
        name = allot_json_member(fn, "name");
        if (cJSON_IsString(id) && *id->valuestring)
            rc = allot__anth_add_str(out, id->valuestring);
        else
            rc = allot_buf_addf(out, "\"toolu_allot_%d\"", s->block_index);
        if (rc || (rc = allot_buf_adds(out, ",\"name\":")) ||
            (rc = allot__anth_add_str(out, cJSON_IsString(name) ? name->valuestring : "")) ||
            (rc = allot_buf_adds(out, ",\"input\":{}}}\n\n")))
            return rc;
        s->block_is_tool = 1;
        s->tool_index = idx;
    }
    args = allot_json_member(fn, "arguments");
    if (cJSON_IsString(args) && *args->valuestring)
        return block_delta(s, out, "input_json_delta", "partial_json", args->valuestring);
    return 0;
}

static int stream_finish(struct allot_anthropic_stream *s, struct allot_buf *out)
{
    int rc;

    if ((!s->started && (rc = message_start(s, out))) || (rc = close_block(s, out)) ||
        (rc = allot_buf_addf(out,
                             "event: message_delta\ndata: {\"type\":\"message_delta\","
                             "\"delta\":{\"stop_reason\":\"%s\",\"stop_sequence\":null},"
                             "\"usage\":",
                             s->stop_reason[0] ? s->stop_reason : "end_turn")) ||
        (rc = add_usage(out, s->input_tokens, s->cache_read_tokens, s->cache_write_tokens,
                        s->output_tokens)) ||
        (rc = allot_buf_adds(out,
                             "}\n\nevent: message_stop\ndata: {\"type\":\"message_stop\"}\n\n")))
        return rc;
    s->finished = 1;
    return 0;
}

/* A chunk's choice: text, tool calls, finish reason, in that order. */
static int stream_choice(struct allot_anthropic_stream *s, struct allot_buf *out,
                         const cJSON *choice)
{
    const cJSON *delta = allot_json_member(choice, "delta"),
                *text = allot_json_member(delta, "content");
    const cJSON *calls = allot_json_member(delta, "tool_calls"), *call, *fr;
    int rc, k = 0;

    if (cJSON_IsString(text) && *text->valuestring && (rc = stream_text(s, out, text->valuestring)))
        return rc;
    if (!cJSON_IsArray(calls))
        calls = NULL;
    cJSON_ArrayForEach(call, calls)
    {
        if (cJSON_IsObject(call) && (rc = stream_tool_call(s, out, call, k)))
            return rc;
        k++;
    }
    fr = allot_json_member(choice, "finish_reason");
    if (cJSON_IsString(fr))
        snprintf(s->stop_reason, sizeof s->stop_reason, "%s", stop_reason_of(fr));
    return 0;
}

int allot_anthropic_stream_event(struct allot_anthropic_stream *s, struct allot_slice data,
                                 struct allot_buf *out)
{
    cJSON *root = NULL;
    int rc;

    if (s->finished || !data.ptr)
        return 0;
    if (allot__anth_stream_payload(data, &root))
        return allot_anthropic_stream_feed(s, NULL, 1, out);
    rc = allot_anthropic_stream_feed(s, root, 0, out);
    cJSON_Delete(root);
    return rc;
}

int allot_anthropic_stream_feed(struct allot_anthropic_stream *s, const cJSON *root, int done,
                                struct allot_buf *out)
{
    struct allot_anthropic_stream saved = *s;
    const cJSON *choices, *usage;
    size_t start = out->len;
    int rc = 0;

    if (s->finished)
        goto out;
    if (done) {
        rc = stream_finish(s, out);
        goto out;
    }
    if (!cJSON_IsObject(root))
        goto out; /* not a chunk: keep-alives, comments, junk */
    if (!s->started && (rc = message_start(s, out)))
        goto out;
    choices = allot_json_member(root, "choices");
    if (cJSON_IsArray(choices) && cJSON_IsObject(choices->child) &&
        (rc = stream_choice(s, out, choices->child)))
        goto out;
    usage = allot_json_member(root, "usage");
    if (cJSON_IsObject(usage)) {
        if (cJSON_IsNumber(allot_json_member(usage, "prompt_tokens"))) {
            s->input_tokens = allot__anth_token_count(allot_json_member(usage, "prompt_tokens"));
            s->cache_read_tokens = cached_of(usage, "cached_tokens");
            s->cache_write_tokens = cached_of(usage, "cache_write_tokens");
        }
        if (cJSON_IsNumber(allot_json_member(usage, "completion_tokens")))
            s->output_tokens =
                allot__anth_token_count(allot_json_member(usage, "completion_tokens"));
    }
out:
    if (rc) {
        *s = saved;
        allot__anth_buf_cut(out, start);
    }
    return rc;
}

/* ---- errors ---- */

const char *allot_anthropic_error_type(int http_status)
{
    switch (http_status) {
    case 400:
        return "invalid_request_error";
    case 401:
        return "authentication_error";
    case 403:
        return "permission_error";
    case 404:
        return "not_found_error";
    case 413:
        return "request_too_large";
    case 429:
        return "rate_limit_error";
    case 503:
    case 529:
        return "overloaded_error";
    default:
        return http_status >= 400 && http_status < 500 ? "invalid_request_error" : "api_error";
    }
}

int allot_anthropic_error_body(int http_status, const char *message, struct allot_buf *out)
{
    const char *type = allot_anthropic_error_type(http_status);
    size_t start = out->len;
    int rc;

    if ((rc = allot_buf_addf(
             out, "{\"type\":\"error\",\"error\":{\"type\":\"%s\",\"message\":", type)) ||
        (rc = allot__anth_add_str(out, message ? message : type)) ||
        (rc = allot_buf_adds(out, "}}")))
        allot__anth_buf_cut(out, start);
    return rc;
}

int allot_anthropic_stream_error(int http_status, const char *message, struct allot_buf *out)
{
    size_t start = out->len;
    int rc;

    if ((rc = allot_buf_adds(out, "event: error\ndata: ")) ||
        (rc = allot_anthropic_error_body(http_status, message, out)) ||
        (rc = allot_buf_adds(out, "\n\n")))
        allot__anth_buf_cut(out, start);
    return rc;
}
