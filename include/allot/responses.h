/* responses.h: OpenAI's Responses API (POST /v1/responses) as a client
 * dialect, translated to and from OpenAI chat completions.
 *
 * Newer OpenAI SDK code, the OpenAI Agents SDK and coding tools such as
 * Codex call /v1/responses instead of /v1/chat/completions. allot serves it
 * statelessly: a client's Responses request becomes a chat-completions body
 * that the gateway routes and forwards like any other; the upstream's
 * answer, a chat.completion object or a stream of chat.completion.chunk
 * events, is translated back into a Response object or Responses SSE
 * events. Nothing is stored, so what needs stored state
 * (previous_response_id, conversation, item_reference, background) is
 * refused with a message that says so. Errors keep OpenAI's error format,
 * which the two APIs share. docs/responses.md has the mapping.
 *
 * Everything here is pure: no I/O, no global state, thread-safe. Output is
 * appended to caller-owned buffers, whose caps bound it; on any error a
 * function leaves its output buffer as it found it (and a stream's state
 * too), so a caller never forwards half an object or half an event. */
#ifndef ALLOT_RESPONSES_H
#define ALLOT_RESPONSES_H
#include <stddef.h>
#include "allot/buf.h"
#include "allot/slice.h"

/* The custom tools of a request (type "custom": freeform text input, such
 * as Codex's apply_patch). Upstream they are function tools taking one
 * string argument, "input"; calls of them in the answer are translated
 * back into custom_tool_call items. */
#define ALLOT_RESPONSES_CUSTOM_MAX 16
struct allot_responses_custom {
    int n;
    char name[ALLOT_RESPONSES_CUSTOM_MAX][64];
};

/* Translate a Responses request body into an OpenAI chat-completions body,
 * appended to out as JSON text (keys: model, messages, then max_tokens,
 * temperature, top_p, stream, user, tools, tool_choice,
 * parallel_tool_calls, response_format, reasoning_effort, verbosity when
 * the request has them). instructions becomes the first (system) message;
 * input (a string, or a list of message, function_call,
 * function_call_output, custom_tool_call and custom_tool_call_output
 * items) the messages that follow; reasoning items are dropped.
 *
 * Custom tools become function tools with one required string parameter,
 * "input" (a grammar given as the tool's format is appended to its
 * description, cut to keep the two within 16 KB); a custom_tool_call item
 * becomes a tool call whose arguments are {"input": the item's input}. At
 * most ALLOT_RESPONSES_CUSTOM_MAX custom tools, each named in fewer than
 * 64 bytes. custom (may be NULL: the names are not wanted) gets the names
 * of the request's custom tools on success (n 0 when there are none), to
 * be given to the answer's translation; on error its n is 0.
 *
 * The body must be strict JSON (RFC 8259). Returns 0; ALLOT_EINVAL when the
 * body is not valid JSON or not a valid Responses request, or uses what
 * allot cannot translate (hosted tools, file inputs, stored state, ...),
 * with a one-line message for the client appended to err (when err is not
 * NULL) that names the parameter ("Missing required parameter: 'model'.",
 * "input[2].type: item type 'web_search_call' is not supported by allot",
 * "previous_response_id: allot stores no responses; send the whole
 * conversation in input"); the gateway sends it as a 400
 * invalid_request_error. ALLOT_ENOMEM; ALLOT_ETOOBIG when out's cap is hit.
 * out is unchanged on error, err on success. */
int allot_responses_request(const char *body, size_t len, struct allot_buf *out,
                            struct allot_buf *err, struct allot_responses_custom *custom);

/* allot_responses_request(), and the translation's reading in *chat as
 * allot_chat_request_parse() of out gives it, built while writing
 * (allot_chat_build in chat_request.h; anthropic.h has the same for the
 * Messages API): *built is 1 when chat was filled (release it), 0 when
 * the caller should parse out itself (the translation failed, or asks for
 * a response_format, a tree the reading does not build, or could not be
 * read as it was written). chat holds no cJSON tree. */
struct allot_chat_request;
int allot_responses_request_read(const char *body, size_t len, struct allot_buf *out,
                                 struct allot_buf *err, struct allot_responses_custom *custom,
                                 struct allot_chat_request *chat, int *built);

/* Whether a request body is a Responses request rather than a chat
 * completion: a JSON object with "input" and without "messages". For what
 * sees a body without its path (POST /v1/route, allot route --file). 1 or
 * 0. */
int allot_responses_body_is(const char *body, size_t len);

struct cJSON;
/* Translate an OpenAI chat.completion, already parsed (the gateway parses
 * it once, for usage and the checks), into a Response object appended to
 * out: id "resp_" + the completion id (without a "chatcmpl-" prefix),
 * object "response", created_at (the completion's "created", else
 * created), status "completed" ("incomplete" with incomplete_details when
 * finish_reason is "length" or "content_filter"), model (NULL: the
 * completion's own "model"), output (a message item with an output_text or
 * refusal part when there is content, then one function_call item per tool
 * call), usage (input_tokens, output_tokens, total_tokens and their
 * details), and the defaults the SDKs read (error null, tools [], ...).
 *
 * custom: the request's custom tools (allot_responses_request), or NULL for
 * none. A call of one becomes a custom_tool_call item ("ctc_" + its
 * call_id) whose input is the string member "input" of the call's
 * arguments, or the arguments text itself when they hold no such member
 * (a model that ignored the schema still reaches the client).
 *
 * Returns 0; ALLOT_EPARSE when root is NULL or not an object with a
 * non-empty "choices" array whose first entry is an object; ALLOT_ENOMEM;
 * ALLOT_ETOOBIG on out's cap. out is unchanged on error. */
int allot_responses_response_tree(const struct cJSON *root, const char *model, long long created,
                                  const struct allot_responses_custom *custom,
                                  struct allot_buf *out);

/* The same from JSON text (tests, tools). */
int allot_responses_response(const char *body, size_t len, const char *model, long long created,
                             const struct allot_responses_custom *custom, struct allot_buf *out);

/* Streaming: OpenAI chat.completion.chunk events in, Responses SSE events
 * out: response.created, response.in_progress, then per output item
 * response.output_item.added, its deltas (response.content_part.added,
 * response.output_text.delta ... or response.function_call_arguments.delta
 * ...) and its done events, and last response.completed (or
 * response.incomplete) carrying the whole Response with its usage. Every
 * event carries a sequence_number, counted from 0.
 *
 * A call of a custom tool is a custom_tool_call item. Its input is found
 * in the call's arguments, JSON that arrives in fragments, so nothing is
 * sent while they arrive: when the item closes, its whole input goes in
 * one response.custom_tool_call_input.delta, followed by
 * response.custom_tool_call_input.done and response.output_item.done.
 *
 * The done events and the final Response repeat what the deltas carried,
 * so the state keeps the text of the open item and the JSON of the items
 * already done, in buffers capped at the cap given to init (the gateway
 * gives limits.max_response_bytes): an answer larger than that fails with
 * ALLOT_ETOOBIG instead of growing without bound. */
struct allot_responses_stream {
    char id[72];      /* "resp_..." */
    char item_id[80]; /* the open item's id ("msg_...", "fc_..." or "ctc_...") */
    char model[128];
    char status[16]; /* "completed" or "incomplete" */
    char incomplete_reason[24];
    long long created;
    long long seq;       /* the next sequence_number */
    int started;         /* response.created and response.in_progress sent */
    int item_open;       /* 0 none, 1 a message item, 2 a function_call item, 3 a
                            custom_tool_call item */
    int part_is_refusal; /* the open message item's part is a refusal */
    int output_index;    /* index of the open item, or of the next one */
    int tool_index;      /* the OpenAI tool_calls index of the open call, -1 none */
    int finished;        /* response.completed (or .incomplete), or an error event, sent */
    long long input_tokens, output_tokens, cached_tokens, reasoning_tokens;
    struct allot_buf text;       /* from text_from: the open item's text or arguments so far */
    struct allot_buf head;       /* from head_from: the open call's call_id and name, as
                                    JSON members */
    struct allot_buf items;      /* the done items, comma-separated JSON objects */
    size_t text_from, head_from; /* where the open item's starts: 0 between calls; within
                                    one, what lies before is a closed item's, kept until
                                    the call has gone through so that a failed call is
                                    undone by cutting the buffers back */
    struct allot_responses_custom custom; /* the custom tools' names, copied at init */
};

/* Set up a stream. id: the OpenAI completion id or any id; "resp_" is put
 * in front unless it starts with it (a "chatcmpl-" prefix is dropped
 * first), and it is cut to fit. model: the model to report (NULL: ""), cut
 * to fit. created: the Response's created_at. cap: the most bytes the
 * text, head and items buffers may hold each. custom: the request's custom
 * tools (allot_responses_request), copied; NULL for none. Allocates
 * nothing until fed. */
void allot_responses_stream_init(struct allot_responses_stream *s, const char *id,
                                 const char *model, long long created, size_t cap,
                                 const struct allot_responses_custom *custom);

/* Free what the stream holds; s may be reused after init again. */
void allot_responses_stream_release(struct allot_responses_stream *s);

/* Feed one SSE data payload from the upstream (a JSON chunk, or "[DONE]")
 * and append zero or more complete Responses events
 * ("event: NAME\ndata: {...}\n\n", the data's "type" being NAME) to out.
 * The first JSON object fed sends response.created and
 * response.in_progress; "[DONE]" closes the open item and sends
 * response.completed (response.incomplete when finish_reason was "length"
 * or "content_filter"). A stream the upstream cuts without "[DONE]" is not
 * finished: the caller decides whether to feed "[DONE]" or to send
 * allot_responses_stream_error().
 *
 * Items: a message item ("msg_" + the response id's suffix, then "_I" for
 * one at output index I > 0) holds one part, output_text or refusal; a
 * delta of the other kind closes it and opens another message item. A
 * function_call item's id is "fc_" + its call_id (made up as
 * "call_allot_I" when the upstream sends none), a custom_tool_call item's
 * "ctc_" + its call_id.
 *
 * Payloads that are not JSON objects, and everything after "[DONE]", are
 * ignored (0). Returns 0, ALLOT_ENOMEM or ALLOT_ETOOBIG (on out, or on the
 * state's cap); on error neither out nor s changes as the client sees it
 * (sequence numbers and open items are as before the call). */
int allot_responses_stream_event(struct allot_responses_stream *s, struct allot_slice data,
                                 struct allot_buf *out);

/* The same for a payload already parsed (the gateway parses each upstream
 * chunk once, for all that reads it): chunk is the payload's JSON value
 * (NULL, or not an object: ignored), done is 1 for "[DONE]" (chunk then
 * unused). Results as allot_responses_stream_event. */
int allot_responses_stream_feed(struct allot_responses_stream *s, const struct cJSON *chunk,
                                int done, struct allot_buf *out);

/* The stream failed after events went out: an "error" event
 * ({"type":"error","code":code,"message":M,"param":null,
 * "sequence_number":N}) appended to out, so that a client never mistakes a
 * cut stream for a finished one. code NULL: null; message NULL: a generic
 * one. s may be NULL (sequence_number 0); else its sequence_number is
 * counted and the stream is finished: what is fed afterwards, "[DONE]"
 * included, is ignored. 0, ALLOT_ENOMEM, ALLOT_ETOOBIG; out (and s)
 * unchanged on error. */
int allot_responses_stream_error(struct allot_responses_stream *s, const char *code,
                                 const char *message, struct allot_buf *out);

#endif
