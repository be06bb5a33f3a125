/* anthropic.h: the Anthropic Messages API (POST /v1/messages) as a client
 * dialect, translated to and from OpenAI chat completions.
 *
 * A client's Messages request becomes an OpenAI chat-completions body that
 * the gateway routes and forwards like any other; the upstream's answer,
 * a chat.completion object or a stream of chat.completion.chunk events,
 * is translated back into an Anthropic message or Anthropic SSE events.
 * Errors the gateway sends an Anthropic client take Anthropic's shape.
 *
 * Everything here is pure: no I/O, no global state, thread-safe. Output is
 * appended to caller-owned buffers, whose caps bound it; on any error a
 * function leaves its output buffer as it found it (and a stream's state
 * too), so a caller never forwards half an object or half an event. */
#ifndef ALLOT_ANTHROPIC_H
#define ALLOT_ANTHROPIC_H
#include <stddef.h>
#include "allot/buf.h"
#include "allot/slice.h"

/* Translate an Anthropic Messages request body into an OpenAI
 * chat-completions body, appended to out as JSON text (keys: model,
 * messages, max_tokens, then temperature, top_p, stop, stream, user,
 * tools, tool_choice, parallel_tool_calls when the request has them).
 *
 * The body must be strict JSON (RFC 8259). Returns 0; ALLOT_EINVAL when the
 * body is not valid JSON or not a valid Messages request, or uses what
 * allot cannot translate (server tools, file and PDF sources, ...), with a
 * one-line message for the client appended to err (when err is not NULL)
 * that names the field path as Anthropic does ("max_tokens: Field
 * required", "messages.0.content.1.type: content block type 'x' is not
 * supported by allot"); the gateway sends it as a 400
 * invalid_request_error. ALLOT_ENOMEM; ALLOT_ETOOBIG when out's cap is hit.
 * out is unchanged on error, err on success. */
int allot_anthropic_request(const char *body, size_t len, struct allot_buf *out,
                            struct allot_buf *err);

/* What a lenient translation read that the gateway needs later: the parts
 * it left out, which only Anthropic's own API takes (server tools, PDF and
 * file documents, content blocks chat completions has no form for, such
 * as a server tool's use and results in the history), and where the
 * body's model value is (the passthrough replaces it there). */
struct allot_anthropic_read {
    int n;            /* parts left out; the caller zeroes it first */
    char what[256];   /* the first, as the strict translation refuses it */
    size_t model_off; /* the last top-level "model" member's value: body + off, */
    size_t model_len; /* len bytes (set on success) */
};

/* allot_anthropic_request(), but what only Anthropic's API takes is left
 * out of the translation and counted in *rd instead of refused (rd NULL:
 * refused, as allot_anthropic_request does), and the model's place noted
 * there. The gateway routes on such a translation and serves the request
 * only with models of a kind: anthropic provider, which get the client's
 * body itself. */
int allot_anthropic_request_lenient(const char *body, size_t len, struct allot_buf *out,
                                    struct allot_buf *err, struct allot_anthropic_read *rd);

/* allot_anthropic_request_lenient(), and the translation's reading in
 * *chat as allot_chat_request_parse() of out gives it, built while
 * writing (allot_chat_build in chat_request.h) instead of read back: *built
 * is 1 when chat was filled (release it), 0 when the caller should parse
 * out itself (the translation failed, or could not be read as it was
 * written: a model name over 1 KB, or no memory for the texts). chat holds
 * no cJSON tree either way, so it need not be built in the caller's
 * arena. The translation in out starts at out's length on entry; chat's
 * spans are from there.
 *
 * text 0: the reading alone, for a request every model of which takes the
 * client's body as it is (kind: anthropic, passed through): the body is
 * read and checked as for the translation, with the same errors, but the
 * messages and tools are not written, and out gets nothing. chat's spans
 * are those of the translation allot_anthropic_request_lenient() would
 * write. When *built is 0 then, the caller translates with text 1. */
struct allot_chat_request;
int allot_anthropic_request_read(const char *body, size_t len, struct allot_buf *out,
                                 struct allot_buf *err, struct allot_anthropic_read *rd, int text,
                                 struct allot_chat_request *chat, int *built);

/* Translate an OpenAI chat.completion JSON body into an Anthropic message
 * JSON object appended to out: id "msg_" + the completion id (without a
 * "chatcmpl-" prefix), model (NULL: the completion's own "model"), content
 * (a text block, then one tool_use block per tool call), stop_reason
 * mapped from choices[0].finish_reason, usage. Cached prompt tokens
 * (usage.prompt_tokens_details.cached_tokens, and cache_write_tokens) are
 * reported as Anthropic does: cache_read_input_tokens and
 * cache_creation_input_tokens, with input_tokens the rest of the prompt;
 * both are left out when there are none.
 *
 * Returns 0; ALLOT_EPARSE when body is not a JSON object with a non-empty
 * "choices" array whose first entry is an object; ALLOT_ENOMEM;
 * ALLOT_ETOOBIG on out's cap. out is unchanged on error. */
int allot_anthropic_response(const char *body, size_t len, const char *model,
                             struct allot_buf *out);

struct cJSON;
/* The same from an answer already parsed by cJSON (the gateway parses it
 * once, for usage and the checks). root may be NULL (ALLOT_EPARSE). */
int allot_anthropic_response_tree(const struct cJSON *root, const char *model,
                                  struct allot_buf *out);

/* Streaming: OpenAI chat.completion.chunk events in, Anthropic SSE events
 * out (message_start, content_block_start/delta/stop, message_delta,
 * message_stop). The state is plain data: no allocation, nothing to
 * release. */
struct allot_anthropic_stream {
    char id[64]; /* "msg_..." */
    char model[128];
    int started;       /* message_start sent */
    int block_open;    /* a content block is open */
    int block_index;   /* index of the open block, or of the next one */
    int block_is_tool; /* the open block is a tool_use block */
    int tool_index;    /* the OpenAI tool_calls index of the open tool block, -1 none */
    char stop_reason[24];
    long long input_tokens, output_tokens;           /* input: the whole prompt, as OpenAI counts */
    long long cache_read_tokens, cache_write_tokens; /* of input_tokens */
    int finished;                                    /* message_stop sent */
};

/* Set up a stream. id: the OpenAI completion id or any id; "msg_" is put in
 * front unless it starts with it (a "chatcmpl-" prefix is dropped first),
 * and it is cut to fit. model: the model to report (NULL: ""), cut to fit.
 * No allocation. */
void allot_anthropic_stream_init(struct allot_anthropic_stream *s, const char *id,
                                 const char *model);

/* Feed one SSE data payload from the upstream (a JSON chunk, or "[DONE]")
 * and append zero or more complete Anthropic events
 * ("event: NAME\ndata: {...}\n\n") to out. The first JSON object fed sends
 * message_start; "[DONE]" closes the open block and sends message_delta
 * (stop_reason, usage as allot_anthropic_response gives it) and
 * message_stop. A stream the upstream cuts without
 * "[DONE]" is not finished: the caller decides whether to feed "[DONE]" or
 * to send allot_anthropic_stream_error().
 *
 * Payloads that are not JSON objects, and everything after "[DONE]", are
 * ignored (0). Returns 0, ALLOT_ENOMEM or ALLOT_ETOOBIG on out; on error
 * neither out nor s changes. */
int allot_anthropic_stream_event(struct allot_anthropic_stream *s, struct allot_slice data,
                                 struct allot_buf *out);

/* The same for a payload already parsed (the gateway parses each upstream
 * chunk once, for all that reads it): chunk is the payload's JSON value
 * (NULL, or not an object: ignored), done is 1 for "[DONE]" (chunk then
 * unused). Results as allot_anthropic_stream_event. */
int allot_anthropic_stream_feed(struct allot_anthropic_stream *s, const struct cJSON *chunk,
                                int done, struct allot_buf *out);

/* The Anthropic error type for an HTTP status: 400 invalid_request_error,
 * 401 authentication_error, 403 permission_error, 404 not_found_error, 413
 * request_too_large, 429 rate_limit_error, 503 and 529 overloaded_error,
 * other 4xx invalid_request_error, anything else api_error. A static
 * string, never NULL. */
const char *allot_anthropic_error_type(int http_status);

/* Append an error body in Anthropic's format,
 * {"type":"error","error":{"type":T,"message":M}}, to out. message NULL:
 * the error type stands in. 0, ALLOT_ENOMEM, ALLOT_ETOOBIG; out unchanged
 * on error. */
int allot_anthropic_error_body(int http_status, const char *message, struct allot_buf *out);

/* The same as an SSE event: "event: error\ndata: {...}\n\n". */
int allot_anthropic_stream_error(int http_status, const char *message, struct allot_buf *out);

#endif
