/* responses_answer.c: OpenAI chat-completions answers translated to the
 * Responses API's (responses.h): the Response object, the stream of
 * Responses events, and the stream's error event.
 *
 * Answers come from our upstreams and are read leniently, as in
 * anthropic_answer.c: cJSON as is, missing fields taking defaults. Output is
 * written straight into the caller's capped buffer with the Anthropic
 * dialect's JSON writers (anthropic_internal.h), and a failed translation is
 * undone by cutting the buffer back.
 *
 * DESIGN (stream): a small state machine over the upstream's chunks, kept in
 * plain data (struct allot_responses_stream): not started -> created and
 * in_progress sent -> (a message or function_call item open, or none) ...
 * -> finished. Responses output items are sequential (added, deltas, done),
 * while OpenAI may interleave text and tool-call deltas, so a chunk that
 * changes the kind of item (text, refusal, or the tool call) closes the open
 * item and opens the next.
 *
 * Unlike Anthropic's, Responses done events repeat what the deltas carried,
 * and the final event carries every item, so the state holds text: the open
 * item's text or arguments, its call_id and name, and the done items' JSON.
 * A call that fails must leave the state as it found it, so within a call
 * these buffers only grow: the open item's text starts at text_from, and
 * what a closed item left before it is dropped when the call has gone
 * through (commit()). On error the buffers are cut back to their lengths
 * at the start and the scalars restored.
 *
 * Calls of the request's custom tools (function tools upstream, taking
 * their input as the string argument "input") become custom_tool_call
 * items. In a stream their arguments arrive as fragments of JSON text,
 * which cannot be cut into fragments of the input they hold; so a custom
 * call's arguments are only kept while they arrive, and its input goes out
 * whole, in one delta, when the item closes. */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cJSON.h>
#include "allot/error.h"
#include "allot/fmt.h"
#include "allot/responses.h"
#include "anthropic_internal.h"

/* Token counts of a Response's usage. */
struct tokens {
    long long input, output, cached, reasoning;
};

/* Read an OpenAI usage object into t; counts it does not carry keep their
 * value (a stream's chunks may each carry part of it). */
static void tokens_read(struct tokens *t, const cJSON *usage)
{
    const cJSON *v;

    if (!cJSON_IsObject(usage))
        return;
    if (cJSON_IsNumber(v = allot_json_member(usage, "prompt_tokens")))
        t->input = allot__anth_token_count(v);
    if (cJSON_IsNumber(v = allot_json_member(usage, "completion_tokens")))
        t->output = allot__anth_token_count(v);
    if (cJSON_IsNumber(v = allot_json_member(allot_json_member(usage, "prompt_tokens_details"),
                                             "cached_tokens")))
        t->cached = allot__anth_token_count(v);
    if (cJSON_IsNumber(v = allot_json_member(allot_json_member(usage, "completion_tokens_details"),
                                             "reasoning_tokens")))
        t->reasoning = allot__anth_token_count(v);
}

/* OpenAI finish_reason -> the Response's incomplete_details.reason, or NULL
 * when the response is complete. */
static const char *incomplete_reason_of(const cJSON *finish_reason)
{
    if (!cJSON_IsString(finish_reason))
        return NULL;
    if (strcmp(finish_reason->valuestring, "length") == 0)
        return "max_output_tokens";
    if (strcmp(finish_reason->valuestring, "content_filter") == 0)
        return "content_filter";
    return NULL;
}

/* A Response id from an OpenAI completion id: "chatcmpl-X" -> "resp_X",
 * "resp_X" kept, anything else prefixed, none -> "resp_allot". */
static void response_id(char *dst, size_t cap, const char *id)
{
    static const char chatcmpl[] = "chatcmpl-";

    if (!id || !*id)
        id = "allot";
    else if (strncmp(id, chatcmpl, sizeof chatcmpl - 1) == 0)
        id += sizeof chatcmpl - 1;
    snprintf(dst, cap, "%s%s", strncmp(id, "resp_", 5) == 0 ? "" : "resp_", id);
}

/* An item id: prefix, then as much of base as fits, then the index n of the
 * item when it is not 0 (so that a stream's message items differ; the cut
 * falls on base, never on the suffix). */
static void item_id(char *dst, size_t cap, const char *prefix, const char *base, int n)
{
    char suffix[16] = "";
    size_t room = cap - 1 - strlen(prefix);

    if (n)
        snprintf(suffix, sizeof suffix, "_%d", n);
    room = room > strlen(suffix) ? room - strlen(suffix) : 0;
    snprintf(dst, cap, "%s%.*s%s", prefix, (int)(room < INT_MAX ? room : INT_MAX), base, suffix);
}

/* A made-up call_id for a tool call the upstream gave none; n: its output
 * index. */
static void made_up_call_id(char *dst, size_t cap, int n)
{
    snprintf(dst, cap, "call_allot_%d", n);
}

/* ---- the Response object ---- */

/* The Response up to and including "output":[. reason: NULL, or the
 * incomplete_details reason. */
static int add_response_open(struct allot_buf *out, const char *id, long long created,
                             const char *status, const char *reason, const char *model)
{
    int rc;

    if ((rc = allot_buf_adds(out, "{\"id\":")) || (rc = allot__anth_add_str(out, id)) ||
        (rc = allot_buf_adds(out, ",\"object\":\"response\",\"created_at\":")) ||
        (rc = allot__anth_add_count(out, created)) ||
        (rc = allot_buf_adds(out, ",\"status\":\"")) || (rc = allot_buf_adds(out, status)) ||
        (rc = allot_buf_adds(out, "\",\"error\":null,\"incomplete_details\":")))
        return rc;
    if (!reason)
        rc = allot_buf_adds(out, "null");
    else if (!(rc = allot_buf_adds(out, "{\"reason\":\"")) && !(rc = allot_buf_adds(out, reason)))
        rc = allot_buf_adds(out, "\"}");
    if (rc ||
        (rc =
             allot_buf_adds(out, ",\"instructions\":null,\"max_output_tokens\":null,\"model\":")) ||
        (rc = allot__anth_add_str(out, model)) || (rc = allot_buf_adds(out, ",\"output\":[")))
        return rc;
    return 0;
}

/* The rest of the Response after its output items. t: NULL for usage null. */
static int add_response_close(struct allot_buf *out, const struct tokens *t)
{
    int rc;

    if ((rc = allot_buf_adds(out, "],\"parallel_tool_calls\":true,\"previous_response_id\":null,"
                                  "\"reasoning\":{\"effort\":null,\"summary\":null},"
                                  "\"store\":false,\"temperature\":null,"
                                  "\"text\":{\"format\":{\"type\":\"text\"}},"
                                  "\"tool_choice\":\"auto\",\"tools\":[],\"top_p\":null,"
                                  "\"truncation\":\"disabled\",\"usage\":")))
        return rc;
    if (t) {
        if ((rc = allot_buf_adds(out, "{\"input_tokens\":")) ||
            (rc = allot__anth_add_count(out, t->input)) ||
            (rc = allot_buf_adds(out, ",\"input_tokens_details\":{\"cached_tokens\":")) ||
            (rc = allot__anth_add_count(out, t->cached)) ||
            (rc = allot_buf_adds(out, "},\"output_tokens\":")) ||
            (rc = allot__anth_add_count(out, t->output)) ||
            (rc = allot_buf_adds(out, ",\"output_tokens_details\":{\"reasoning_tokens\":")) ||
            (rc = allot__anth_add_count(out, t->reasoning)) ||
            (rc = allot_buf_adds(out, "},\"total_tokens\":")) ||
            (rc = allot__anth_add_count(out, t->input + t->output)))
            return rc;
        rc = allot_buf_add(out, "}", 1);
    } else
        rc = allot_buf_adds(out, "null");
    if (rc || (rc = allot_buf_adds(out, ",\"metadata\":{}}")))
        return rc;
    return 0;
}

/* A message's content part: output_text, or refusal. */
static int add_part(struct allot_buf *out, int refusal, const char *text, size_t len)
{
    int rc;

    if ((rc = allot_buf_adds(out, refusal ? "{\"type\":\"refusal\",\"refusal\":"
                                          : "{\"type\":\"output_text\",\"text\":")) ||
        (rc = allot_buf_add_json_str(out, text, len)) ||
        (rc = allot_buf_adds(out, refusal ? "}" : ",\"annotations\":[],\"logprobs\":[]}")))
        return rc;
    return 0;
}

/* A message item up to and including "content":[. */
static int add_message_open(struct allot_buf *out, const char *id, const char *status)
{
    int rc;

    if ((rc = allot_buf_adds(out, "{\"id\":")) || (rc = allot__anth_add_str(out, id)) ||
        (rc = allot_buf_adds(out, ",\"type\":\"message\",\"status\":\"")) ||
        (rc = allot_buf_adds(out, status)) ||
        (rc = allot_buf_adds(out, "\",\"role\":\"assistant\",\"content\":[")))
        return rc;
    return 0;
}

/* A function_call item's "call_id" and "name" members. */
static int add_call_head(struct allot_buf *out, const char *call_id, const char *name)
{
    int rc;

    if ((rc = allot_buf_adds(out, "\"call_id\":")) || (rc = allot__anth_add_str(out, call_id)) ||
        (rc = allot_buf_adds(out, ",\"name\":")) || (rc = allot__anth_add_str(out, name)))
        return rc;
    return 0;
}

/* A function_call (or custom_tool_call) item up to and including
 * "status":"STATUS",. */
static int add_call_open(struct allot_buf *out, const char *id, int custom, const char *status)
{
    int rc;

    if ((rc = allot_buf_adds(out, "{\"id\":")) || (rc = allot__anth_add_str(out, id)) ||
        (rc = allot_buf_adds(out, custom ? ",\"type\":\"custom_tool_call\",\"status\":\""
                                         : ",\"type\":\"function_call\",\"status\":\"")) ||
        (rc = allot_buf_adds(out, status)) || (rc = allot_buf_adds(out, "\",")))
        return rc;
    return 0;
}

/* Whether name is one of the custom tools' (custom may be NULL). */
static int is_custom(const struct allot_responses_custom *custom, const char *name)
{
    int i;

    for (i = 0; custom && i < custom->n && i < ALLOT_RESPONSES_CUSTOM_MAX; i++)
        if (strncmp(custom->name[i], name, sizeof custom->name[i]) == 0 &&
            strlen(name) < sizeof custom->name[i])
            return 1;
    return 0;
}

/* A custom tool call's input, appended to out as a JSON string: the string
 * member "input" of its arguments (len bytes of text) when they are a JSON
 * object holding one, else the arguments text itself, so that what a model
 * that ignored the schema sent still reaches the client. */
static int add_custom_input(struct allot_buf *out, const char *args, size_t len)
{
    const char *end = NULL;
    cJSON *root = len ? cJSON_ParseWithLengthOpts(args, len, &end, 0) : NULL;
    const cJSON *input = NULL;
    int rc;

    while (root && end < args + len &&
           (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n'))
        end++;
    if (cJSON_IsObject(root) && end == args + len)
        input = allot_json_member(root, "input"); /* else not one JSON object */
    if (cJSON_IsString(input))
        rc = allot__anth_add_str(out, input->valuestring);
    else
        rc = allot_buf_add_json_str(out, args, len);
    cJSON_Delete(root);
    return rc;
}

/* ---- answers: OpenAI chat.completion -> Response ---- */

/* One function_call item, or custom_tool_call item when the function is
 * one of the custom tools. n: its output index, for a made-up call_id. */
static int add_call_item(struct allot_buf *out, const cJSON *id, const cJSON *fn, int n,
                         const struct allot_responses_custom *custom)
{
    const cJSON *name = allot_json_member(fn, "name"), *args = allot_json_member(fn, "arguments");
    const char *fn_name = cJSON_IsString(name) ? name->valuestring : "";
    int is_ctc = is_custom(custom, fn_name), rc;
    char call_id[80], fc_id[80];
    struct allot_buf tmp;

    if (cJSON_IsString(id) && *id->valuestring)
        snprintf(call_id, sizeof call_id, "%s", id->valuestring);
    else
        made_up_call_id(call_id, sizeof call_id, n);
    item_id(fc_id, sizeof fc_id, is_ctc ? "ctc_" : "fc_", call_id, 0);
    if ((rc = add_call_open(out, fc_id, is_ctc, "completed")) ||
        (rc = add_call_head(out, call_id, fn_name)) ||
        (rc = allot_buf_adds(out, is_ctc ? ",\"input\":" : ",\"arguments\":")))
        return rc;
    allot_buf_init(&tmp, out->max);
    if (cJSON_IsString(args)) {
        rc = is_ctc ? add_custom_input(out, args->valuestring, strlen(args->valuestring))
                    : allot__anth_add_str(out, args->valuestring);
    } else if (cJSON_IsObject(args) || cJSON_IsArray(args)) {
        /* some servers send the arguments as the object itself */
        if ((rc = allot__anth_add_json(&tmp, args)) == 0)
            rc = is_ctc ? add_custom_input(out, allot_buf_cstr(&tmp), tmp.len)
                        : allot_buf_add_json_str(out, allot_buf_cstr(&tmp), tmp.len);
    } else {
        rc = allot_buf_adds(out, is_ctc ? "\"\"" : "\"{}\"");
    }
    allot_buf_release(&tmp);
    if (rc || (rc = allot_buf_add(out, "}", 1)))
        return rc;
    return 0;
}

/* The output items of an OpenAI message: a message item with its text
 * and/or refusal, then one function_call (or custom_tool_call) item per
 * tool call (or the legacy function_call). base: the response id without
 * "resp_". */
static int add_output(struct allot_buf *out, const char *base, const cJSON *message,
                      const struct allot_responses_custom *custom)
{
    const cJSON *content = allot_json_member(message, "content"),
                *refusal = allot_json_member(message, "refusal"),
                *calls = allot_json_member(message, "tool_calls"), *call, *fc;
    struct allot_buf joined;
    const char *text = NULL;
    char msg_id[80];
    size_t len = 0;
    int rc = 0, n = 0, had_call = 0;

    allot_buf_init(&joined, out->max);
    if (cJSON_IsArray(content)) { /* some servers send parts: their texts joined */
        const cJSON *part, *t;
        cJSON_ArrayForEach(part, content)
        {
            if (cJSON_IsString(t = allot_json_member(part, "text")) &&
                (rc = allot_buf_adds(&joined, t->valuestring)))
                goto out;
        }
        text = allot_buf_cstr(&joined);
        len = joined.len;
    } else if (cJSON_IsString(content)) {
        text = content->valuestring;
        len = strlen(text);
    }
    if (!cJSON_IsString(refusal) || !*refusal->valuestring)
        refusal = NULL;
    if (len || refusal) {
        item_id(msg_id, sizeof msg_id, "msg_", base, 0);
        if ((rc = add_message_open(out, msg_id, "completed")) ||
            (len && (rc = add_part(out, 0, text, len))) ||
            (len && refusal && (rc = allot_buf_add(out, ",", 1))) ||
            (refusal &&
             (rc = add_part(out, 1, refusal->valuestring, strlen(refusal->valuestring)))) ||
            (rc = allot_buf_adds(out, "]}")))
            goto out;
        n++;
    }
    if (!cJSON_IsArray(calls))
        calls = NULL;
    cJSON_ArrayForEach(call, calls)
    {
        if (!cJSON_IsObject(call) || !cJSON_IsObject(allot_json_member(call, "function")))
            continue;
        if ((n && (rc = allot_buf_add(out, ",", 1))) ||
            (rc = add_call_item(out, allot_json_member(call, "id"),
                                allot_json_member(call, "function"), n, custom)))
            goto out;
        n++;
        had_call = 1;
    }
    fc = allot_json_member(message, "function_call");
    if (!had_call && cJSON_IsObject(fc) &&
        ((n && (rc = allot_buf_add(out, ",", 1))) ||
         (rc = add_call_item(out, NULL, fc, n, custom))))
        goto out;
out:
    allot_buf_release(&joined);
    return rc;
}

int allot_responses_response_tree(const cJSON *root, const char *model, long long created,
                                  const struct allot_responses_custom *custom,
                                  struct allot_buf *out)
{
    const cJSON *choice, *c;
    const char *reason, *id;
    struct tokens t = {0, 0, 0, 0};
    char resp_id[72];
    size_t start = out->len;
    int rc;

    if (!(choice = allot__anth_first_choice(root, &id, &model))) {
        rc = ALLOT_EPARSE;
        goto out;
    }
    response_id(resp_id, sizeof resp_id, id);
    c = allot_json_member(root, "created");
    if (cJSON_IsNumber(c) && c->valuedouble >= -EXACT_INT_MAX && c->valuedouble <= EXACT_INT_MAX)
        created = (long long)c->valuedouble;
    reason = incomplete_reason_of(allot_json_member(choice, "finish_reason"));
    tokens_read(&t, allot_json_member(root, "usage"));
    if ((rc = add_response_open(out, resp_id, created, reason ? "incomplete" : "completed", reason,
                                model)) ||
        (rc = add_output(out, resp_id + 5, allot_json_member(choice, "message"), custom)) ||
        (rc = add_response_close(out, &t)))
        goto out;
out:
    if (rc)
        allot__anth_buf_cut(out, start);
    return rc;
}

int allot_responses_response(const char *body, size_t len, const char *model, long long created,
                             const struct allot_responses_custom *custom, struct allot_buf *out)
{
    cJSON *root = body ? cJSON_ParseWithLength(body, len) : NULL;
    int rc = allot_responses_response_tree(root, model, created, custom, out);
    cJSON_Delete(root);
    return rc;
}

/* ---- streams: chat.completion.chunk events -> Responses events ---- */

void allot_responses_stream_init(struct allot_responses_stream *s, const char *id,
                                 const char *model, long long created, size_t cap,
                                 const struct allot_responses_custom *custom)
{
    memset(s, 0, sizeof *s);
    response_id(s->id, sizeof s->id, id);
    snprintf(s->model, sizeof s->model, "%s", model ? model : "");
    snprintf(s->status, sizeof s->status, "completed");
    s->created = created;
    s->tool_index = -1;
    if (custom) {
        s->custom = *custom;
        if (s->custom.n < 0 || s->custom.n > ALLOT_RESPONSES_CUSTOM_MAX)
            s->custom.n = 0;
    }
    allot_buf_init(&s->text, cap);
    allot_buf_init(&s->head, cap);
    allot_buf_init(&s->items, cap);
}

void allot_responses_stream_release(struct allot_responses_stream *s)
{
    allot_buf_release(&s->text);
    allot_buf_release(&s->head);
    allot_buf_release(&s->items);
}

/* Drop what closed items left before the open item's text in b. */
static void compact(struct allot_buf *b, size_t *from)
{
    if (!*from)
        return;
    memmove(b->ptr, b->ptr + *from, b->len - *from);
    allot__anth_buf_cut(b, b->len - *from);
    *from = 0;
}

/* A call went through: what closed items left behind goes, so that between
 * calls text and head hold the open item's alone (from 0). */
static void commit(struct allot_responses_stream *s)
{
    if (!s->item_open) {
        allot_buf_reset(&s->text);
        allot_buf_reset(&s->head);
        s->text_from = s->head_from = 0;
    }
    compact(&s->text, &s->text_from);
    compact(&s->head, &s->head_from);
}

/* Undo a failed call: saved is the state at its start. The buffers keep
 * their (maybe moved) allocations, cut back to their lengths then; within
 * a call they only grow, so what lies below those lengths is unchanged. */
static void restore(struct allot_responses_stream *s, const struct allot_responses_stream *saved)
{
    struct allot_buf text = s->text, head = s->head, items = s->items;

    *s = *saved;
    s->text = text;
    s->head = head;
    s->items = items;
    allot__anth_buf_cut(&s->text, saved->text.len);
    allot__anth_buf_cut(&s->head, saved->head.len);
    allot__anth_buf_cut(&s->items, saved->items.len);
}

/* "event: TYPE\ndata: {"type":"TYPE"": an event's start; its members follow. */
static int event_open(struct allot_buf *out, const char *type)
{
    int rc;

    /* every event of a stream: no printf */
    if ((rc = allot_buf_adds(out, "event: ")) || (rc = allot_buf_adds(out, type)) ||
        (rc = allot_buf_adds(out, "\ndata: {\"type\":\"")) || (rc = allot_buf_adds(out, type)))
        return rc;
    return allot_buf_adds(out, "\"");
}

/* A number in decimal ("%lld"), appended. */
static int add_int(struct allot_buf *out, long long v)
{
    char num[24];
    size_t n = 0;

    if (v < 0)
        num[n++] = '-';
    n += allot_fmt_u64(num + n, v < 0 ? 0u - (uint64_t)v : (uint64_t)v);
    return allot_buf_add(out, num, n);
}

/* An event's end: its sequence_number, the next one counted. */
static int event_close(struct allot_responses_stream *s, struct allot_buf *out)
{
    int rc;

    if ((rc = allot_buf_adds(out, ",\"sequence_number\":")) || (rc = add_int(out, s->seq)) ||
        (rc = allot_buf_adds(out, "}\n\n")))
        return rc;
    s->seq++;
    return 0;
}

/* ,"item_id":ID,"output_index":I: the open item, in its events. */
static int add_item_ref(struct allot_responses_stream *s, struct allot_buf *out)
{
    int rc;

    if ((rc = allot_buf_adds(out, ",\"item_id\":")) ||
        (rc = allot__anth_add_str(out, s->item_id)) ||
        (rc = allot_buf_adds(out, ",\"output_index\":")) || (rc = add_int(out, s->output_index)))
        return rc;
    return 0;
}

/* An event carrying the whole Response: in progress (no items, usage null)
 * until final. */
static int response_event(struct allot_responses_stream *s, struct allot_buf *out, const char *type,
                          int final)
{
    struct tokens t = {s->input_tokens, s->output_tokens, s->cached_tokens, s->reasoning_tokens};
    int rc;

    if ((rc = event_open(out, type)) || (rc = allot_buf_adds(out, ",\"response\":")) ||
        (rc = add_response_open(out, s->id, s->created, final ? s->status : "in_progress",
                                final && s->incomplete_reason[0] ? s->incomplete_reason : NULL,
                                s->model)) ||
        (final && (rc = allot_buf_add(out, allot_buf_cstr(&s->items), s->items.len))) ||
        (rc = add_response_close(out, final ? &t : NULL)) || (rc = event_close(s, out)))
        return rc;
    return 0;
}

static int stream_start(struct allot_responses_stream *s, struct allot_buf *out)
{
    int rc;

    if ((rc = response_event(s, out, "response.created", 0)) ||
        (rc = response_event(s, out, "response.in_progress", 0)))
        return rc;
    s->started = 1;
    return 0;
}

/* Close the open item: its done events, and its JSON kept in items. */
static int close_item(struct allot_responses_stream *s, struct allot_buf *out)
{
    const char *text = allot_buf_cstr(&s->text) + s->text_from;
    size_t len = s->text.len - s->text_from, item;
    int refusal = s->part_is_refusal, rc;

    if (!s->item_open)
        return 0;
    if (s->items.len && (rc = allot_buf_add(&s->items, ",", 1)))
        return rc;
    item = s->items.len;
    if (s->item_open == 1) {
        if ((rc = event_open(out,
                             refusal ? "response.refusal.done" : "response.output_text.done")) ||
            (rc = add_item_ref(s, out)) ||
            (rc = allot_buf_adds(out, refusal ? ",\"content_index\":0,\"refusal\":"
                                              : ",\"content_index\":0,\"text\":")) ||
            (rc = allot_buf_add_json_str(out, text, len)) ||
            (!refusal && (rc = allot_buf_adds(out, ",\"logprobs\":[]"))) ||
            (rc = event_close(s, out)) || (rc = event_open(out, "response.content_part.done")) ||
            (rc = add_item_ref(s, out)) ||
            (rc = allot_buf_adds(out, ",\"content_index\":0,\"part\":")) ||
            (rc = add_part(out, refusal, text, len)) || (rc = event_close(s, out)) ||
            (rc = add_message_open(&s->items, s->item_id, "completed")) ||
            (rc = add_part(&s->items, refusal, text, len)) ||
            (rc = allot_buf_adds(&s->items, "]}")))
            return rc;
    } else if (s->item_open == 3) {
        /* the input, extracted from the whole arguments: once into items,
         * then copied from there into the delta and done events */
        size_t input;

        if ((rc = add_call_open(&s->items, s->item_id, 1, "completed")) ||
            (rc = allot_buf_add(&s->items, allot_buf_cstr(&s->head) + s->head_from,
                                s->head.len - s->head_from)) ||
            (rc = allot_buf_adds(&s->items, ",\"input\":")))
            return rc;
        input = s->items.len;
        if ((rc = add_custom_input(&s->items, text, len)) ||
            (rc = event_open(out, "response.custom_tool_call_input.delta")) ||
            (rc = add_item_ref(s, out)) || (rc = allot_buf_adds(out, ",\"delta\":")) ||
            (rc = allot_buf_add(out, s->items.ptr + input, s->items.len - input)) ||
            (rc = event_close(s, out)) ||
            (rc = event_open(out, "response.custom_tool_call_input.done")) ||
            (rc = add_item_ref(s, out)) || (rc = allot_buf_adds(out, ",\"input\":")) ||
            (rc = allot_buf_add(out, s->items.ptr + input, s->items.len - input)) ||
            (rc = event_close(s, out)) || (rc = allot_buf_add(&s->items, "}", 1)))
            return rc;
    } else {
        if ((rc = event_open(out, "response.function_call_arguments.done")) ||
            (rc = add_item_ref(s, out)) || (rc = allot_buf_adds(out, ",\"arguments\":")) ||
            (rc = allot_buf_add_json_str(out, text, len)) || (rc = event_close(s, out)) ||
            (rc = add_call_open(&s->items, s->item_id, 0, "completed")) ||
            (rc = allot_buf_add(&s->items, allot_buf_cstr(&s->head) + s->head_from,
                                s->head.len - s->head_from)) ||
            (rc = allot_buf_adds(&s->items, ",\"arguments\":")) ||
            (rc = allot_buf_add_json_str(&s->items, text, len)) ||
            (rc = allot_buf_add(&s->items, "}", 1)))
            return rc;
    }
    if ((rc = event_open(out, "response.output_item.done")) ||
        (rc = allot_buf_addf(out, ",\"output_index\":%d,\"item\":", s->output_index)) ||
        (rc = allot_buf_add(out, s->items.ptr + item, s->items.len - item)) ||
        (rc = event_close(s, out)))
        return rc;
    s->item_open = 0;
    s->part_is_refusal = 0;
    s->tool_index = -1;
    s->output_index++;
    return 0;
}

/* Open a message item whose one part is output_text, or refusal. Its id is
 * "msg_" and the response's, with the output index after the first. */
static int open_message(struct allot_responses_stream *s, struct allot_buf *out, int refusal)
{
    int rc;

    if ((rc = close_item(s, out)))
        return rc;
    item_id(s->item_id, sizeof s->item_id, "msg_", s->id + 5, s->output_index);
    if ((rc = event_open(out, "response.output_item.added")) ||
        (rc = allot_buf_addf(out, ",\"output_index\":%d,\"item\":", s->output_index)) ||
        (rc = add_message_open(out, s->item_id, "in_progress")) ||
        (rc = allot_buf_adds(out, "]}")) || (rc = event_close(s, out)) ||
        (rc = event_open(out, "response.content_part.added")) || (rc = add_item_ref(s, out)) ||
        (rc = allot_buf_adds(out, ",\"content_index\":0,\"part\":")) ||
        (rc = add_part(out, refusal, "", 0)) || (rc = event_close(s, out)))
        return rc;
    s->item_open = 1;
    s->part_is_refusal = refusal;
    s->text_from = s->text.len;
    return 0;
}

/* A text (or refusal) delta: into the open message item, or a new one when
 * none is open or the open one holds the other kind of part. */
static int stream_text(struct allot_responses_stream *s, struct allot_buf *out, const char *text,
                       int refusal)
{
    int rc;

    if ((s->item_open != 1 || s->part_is_refusal != refusal) &&
        (rc = open_message(s, out, refusal)))
        return rc;
    if ((rc = allot_buf_adds(&s->text, text)) ||
        (rc = event_open(out, refusal ? "response.refusal.delta" : "response.output_text.delta")) ||
        (rc = add_item_ref(s, out)) ||
        (rc = allot_buf_adds(out, ",\"content_index\":0,\"delta\":")) ||
        (rc = allot__anth_add_str(out, text)) ||
        (!refusal && (rc = allot_buf_adds(out, ",\"logprobs\":[]"))) || (rc = event_close(s, out)))
        return rc;
    return 0;
}

/* One entry of delta.tool_calls. k: its position, the index when it has none. */
static int stream_tool_call(struct allot_responses_stream *s, struct allot_buf *out,
                            const cJSON *call, int k)
{
    const cJSON *index = allot_json_member(call, "index"), *id,
                *fn = allot_json_member(call, "function"), *name, *args;
    const char *fn_name;
    char call_id[80];
    int idx = k, rc, is_ctc;

    if (cJSON_IsNumber(index) && index->valuedouble >= 0 && index->valuedouble <= INT_MAX)
        idx = (int)index->valuedouble;
    if ((s->item_open != 2 && s->item_open != 3) || s->tool_index != idx) {
        if ((rc = close_item(s, out)))
            return rc;
        id = allot_json_member(call, "id");
        name = allot_json_member(fn, "name");
        fn_name = cJSON_IsString(name) ? name->valuestring : "";
        is_ctc = is_custom(&s->custom, fn_name);
        if (cJSON_IsString(id) && *id->valuestring)
            snprintf(call_id, sizeof call_id, "%s", id->valuestring);
        else
            made_up_call_id(call_id, sizeof call_id, s->output_index);
        item_id(s->item_id, sizeof s->item_id, is_ctc ? "ctc_" : "fc_", call_id, 0);
        s->head_from = s->head.len;
        if ((rc = add_call_head(&s->head, call_id, fn_name)) ||
            (rc = event_open(out, "response.output_item.added")) ||
            (rc = allot_buf_addf(out, ",\"output_index\":%d,\"item\":", s->output_index)) ||
            (rc = add_call_open(out, s->item_id, is_ctc, "in_progress")) ||
            (rc = allot_buf_add(out, s->head.ptr + s->head_from, s->head.len - s->head_from)) ||
            (rc = allot_buf_adds(out, is_ctc ? ",\"input\":\"\"}" : ",\"arguments\":\"\"}")) ||
            (rc = event_close(s, out)))
            return rc;
        s->item_open = is_ctc ? 3 : 2;
        s->tool_index = idx;
        s->text_from = s->text.len;
    }
    args = allot_json_member(fn, "arguments");
    if (!cJSON_IsString(args) || !*args->valuestring)
        return 0;
    if (s->item_open == 3) /* JSON fragments, not input: sent whole at close_item() */
        return allot_buf_adds(&s->text, args->valuestring);
    if ((rc = allot_buf_adds(&s->text, args->valuestring)) ||
        (rc = event_open(out, "response.function_call_arguments.delta")) ||
        (rc = add_item_ref(s, out)) || (rc = allot_buf_adds(out, ",\"delta\":")) ||
        (rc = allot__anth_add_str(out, args->valuestring)) || (rc = event_close(s, out)))
        return rc;
    return 0;
}

/* "[DONE]": close the open item, then the whole Response. */
static int stream_finish(struct allot_responses_stream *s, struct allot_buf *out)
{
    int rc;

    if ((!s->started && (rc = stream_start(s, out))) || (rc = close_item(s, out)) ||
        (rc = response_event(
             s, out, s->incomplete_reason[0] ? "response.incomplete" : "response.completed", 1)))
        return rc;
    s->finished = 1;
    return 0;
}

/* A chunk's choice: text, refusal, tool calls, finish reason, in that order. */
static int stream_choice(struct allot_responses_stream *s, struct allot_buf *out,
                         const cJSON *choice)
{
    const cJSON *delta = allot_json_member(choice, "delta"),
                *text = allot_json_member(delta, "content"),
                *refusal = allot_json_member(delta, "refusal");
    const cJSON *calls = allot_json_member(delta, "tool_calls"), *call, *part, *t;
    const char *reason;
    int rc, k = 0;

    if (cJSON_IsString(text) && *text->valuestring &&
        (rc = stream_text(s, out, text->valuestring, 0)))
        return rc;
    if (cJSON_IsArray(text)) { /* some servers send parts */
        cJSON_ArrayForEach(part, text)
        {
            if (cJSON_IsString(t = allot_json_member(part, "text")) && *t->valuestring &&
                (rc = stream_text(s, out, t->valuestring, 0)))
                return rc;
        }
    }
    if (cJSON_IsString(refusal) && *refusal->valuestring &&
        (rc = stream_text(s, out, refusal->valuestring, 1)))
        return rc;
    if (!cJSON_IsArray(calls))
        calls = NULL;
    cJSON_ArrayForEach(call, calls)
    {
        if (cJSON_IsObject(call) && (rc = stream_tool_call(s, out, call, k)))
            return rc;
        k++;
    }
    if (cJSON_IsString(allot_json_member(choice, "finish_reason"))) {
        reason = incomplete_reason_of(allot_json_member(choice, "finish_reason"));
        snprintf(s->status, sizeof s->status, "%s", reason ? "incomplete" : "completed");
        snprintf(s->incomplete_reason, sizeof s->incomplete_reason, "%s", reason ? reason : "");
    }
    return 0;
}

int allot_responses_stream_event(struct allot_responses_stream *s, struct allot_slice data,
                                 struct allot_buf *out)
{
    cJSON *root = NULL;
    int rc;

    if (s->finished || !data.ptr)
        return 0;
    if (allot__anth_stream_payload(data, &root))
        return allot_responses_stream_feed(s, NULL, 1, out);
    rc = allot_responses_stream_feed(s, root, 0, out);
    cJSON_Delete(root);
    return rc;
}

int allot_responses_stream_feed(struct allot_responses_stream *s, const cJSON *root, int done,
                                struct allot_buf *out)
{
    struct allot_responses_stream saved;
    struct tokens t;
    const cJSON *choices;
    size_t start = out->len;
    int rc = 0;

    if (s->finished)
        return 0;
    saved = *s;
    if (done) {
        rc = stream_finish(s, out);
        goto out;
    }
    if (!cJSON_IsObject(root))
        goto out; /* not a chunk: keep-alives, comments, junk */
    if (!s->started && (rc = stream_start(s, out)))
        goto out;
    choices = allot_json_member(root, "choices");
    if (cJSON_IsArray(choices) && cJSON_IsObject(choices->child) &&
        (rc = stream_choice(s, out, choices->child)))
        goto out;
    t = (struct tokens){s->input_tokens, s->output_tokens, s->cached_tokens, s->reasoning_tokens};
    tokens_read(&t, allot_json_member(root, "usage"));
    s->input_tokens = t.input;
    s->output_tokens = t.output;
    s->cached_tokens = t.cached;
    s->reasoning_tokens = t.reasoning;
out:
    if (rc) {
        restore(s, &saved);
        allot__anth_buf_cut(out, start);
    } else {
        commit(s);
    }
    return rc;
}

int allot_responses_stream_error(struct allot_responses_stream *s, const char *code,
                                 const char *message, struct allot_buf *out)
{
    size_t start = out->len;
    int rc;

    if ((rc = allot_buf_adds(out, "event: error\ndata: {\"type\":\"error\",\"code\":")) ||
        (rc = code ? allot__anth_add_str(out, code) : allot_buf_adds(out, "null")) ||
        (rc = allot_buf_adds(out, ",\"message\":")) ||
        (rc = allot__anth_add_str(out, message ? message : "the stream failed")) ||
        (rc = allot_buf_addf(out, ",\"param\":null,\"sequence_number\":%lld}\n\n",
                             s ? s->seq : 0))) {
        allot__anth_buf_cut(out, start);
        return rc;
    }
    if (s) {
        s->seq++;
        s->finished = 1; /* nothing may follow the error, not even response.completed */
    }
    return 0;
}
