/* anthropic_up.h: Anthropic's Messages API (POST /v1/messages) as an
 * upstream dialect, for providers of kind "anthropic".
 *
 * allot speaks OpenAI chat completions inside; a request routed to an
 * Anthropic provider is translated into a Messages body, and the answer,
 * an Anthropic message or a stream of Anthropic events, is translated back
 * into a chat.completion or chat.completion.chunk events, so the rest of
 * the gateway (quality checks, usage, the client's own dialect) sees
 * OpenAI's shapes only. The opposite direction, Anthropic clients in front
 * of OpenAI upstreams, is anthropic.h.
 *
 * Everything here is pure: no I/O, no global state, thread-safe. Output is
 * appended to caller-owned buffers, whose caps bound it; on any error a
 * function leaves its output buffer as it found it. */
#ifndef ALLOT_ANTHROPIC_UP_H
#define ALLOT_ANTHROPIC_UP_H
#include <stddef.h>
#include "allot/buf.h"
#include "allot/slice.h"
#include "allot/sse.h"

/* Translate the OpenAI chat-completions body allot would send upstream
 * (already validated by allot's parser; "model" already the upstream id)
 * into an Anthropic Messages body appended to out. Keys, in order: model,
 * max_tokens, system, messages, then temperature, top_p, stop_sequences,
 * stream, metadata, tools, tool_choice when the body has them.
 *
 * - max_tokens: max_completion_tokens, else max_tokens, else
 *   default_max_tokens (Anthropic requires it; it must then be >= 1).
 * - system: the text of every system and developer message, wherever it
 *   stands, joined by a blank line (the text parts of one message by
 *   "\n"); absent when empty.
 * - messages: user, assistant and tool messages as alternating turns;
 *   consecutive messages of one role are merged, tool messages become
 *   tool_result blocks at the head of a user turn, assistant tool_calls
 *   become tool_use blocks, image_url parts become image blocks (base64
 *   data: URLs or plain URLs). Empty text is dropped, and so is a message
 *   left with nothing.
 * - temperature is clamped to Anthropic's [0, 1]; stop (a string or a list)
 *   becomes stop_sequences; user becomes metadata.user_id;
 *   parallel_tool_calls false becomes tool_choice.disable_parallel_tool_use.
 *   tool_choice is dropped when there are no tools (Anthropic refuses it).
 * - Ignored: stream_options, frequency_penalty, presence_penalty, seed,
 *   logprobs, top_logprobs, logit_bias, response_format, and keys Anthropic
 *   has no use for.
 *
 * Returns 0; ALLOT_EINVAL for what Anthropic cannot take (n > 1, content
 * parts other than text and image_url, non-function tools, legacy
 * functions, malformed fields), with a one-line reason naming the field
 * appended to err (when not NULL), e.g. "n: Anthropic providers answer one
 * choice"; ALLOT_EPARSE when body is not a JSON object (checked strictly,
 * json_check.h, with \u0000 allowed: the gateway's own bodies always pass);
 * ALLOT_ENOMEM;
 * ALLOT_ETOOBIG on out's cap. out is unchanged on error, err on success. */
int allot_anthropic_up_request(const char *body, size_t len, long default_max_tokens,
                               struct allot_buf *out, struct allot_buf *err);

/* A Messages request (a client's body on /v1/messages, which passed the
 * strict check and the Messages translation) for a Messages API provider:
 * appended to out as the client sent it, byte for byte, but for the value
 * of its top-level "model" member (the last one, as readers take it), at
 * body[model_off..model_off + model_len) as the translation found it
 * (allot_anthropic_read), which becomes model (a JSON string). Nothing is
 * translated, so what the chat-completions form has no place for reaches
 * the provider intact: cache_control, thinking and its signed blocks,
 * citations, metadata.
 *
 * Returns 0; ALLOT_EINVAL when the span is not inside body; ALLOT_ENOMEM;
 * ALLOT_ETOOBIG on out's cap. out is unchanged on error. */
int allot_anthropic_up_passthrough(const char *body, size_t len, size_t model_off, size_t model_len,
                                   const char *model, struct allot_buf *out);

/* Translate an Anthropic message JSON (a 2xx answer) into an OpenAI
 * chat.completion JSON appended to out: id "chatcmpl-" + the message id,
 * created now (time(NULL)), the message's model, one choice whose content
 * is the text blocks concatenated (null when there are none) and whose
 * tool_calls are the tool_use blocks (input serialised as arguments),
 * finish_reason mapped from stop_reason (end_turn, stop_sequence,
 * pause_turn, null and unknown: stop; max_tokens and
 * model_context_window_exceeded: length; tool_use: tool_calls; refusal:
 * content_filter), and usage with prompt_tokens counting cache reads and
 * writes; when there were any, usage.prompt_tokens_details gives them as
 * cached_tokens (OpenAI's name for reads) and cache_write_tokens
 * (OpenRouter's name for writes), which allot prices apart. Thinking blocks and blocks OpenAI has
 * no place for are skipped.
 *
 * Returns 0; ALLOT_EPARSE when body is not a JSON object with a "content"
 * array (and a "type" of "message" if it has one); ALLOT_ENOMEM;
 * ALLOT_ETOOBIG on out's cap. out is unchanged on error. */
int allot_anthropic_up_response(const char *body, size_t len, struct allot_buf *out);

/* The default cap of a stream's scratch buffer: the largest OpenAI event
 * one Anthropic event may become. A caller may set scratch.max after
 * init. */
#define ALLOT_ANTHROPIC_UP_EVENT_MAX (16u << 20)

/* Streaming: Anthropic SSE event data in, OpenAI chat.completion.chunk
 * events out through a callback. Set up with _init, free with _release. */
struct allot_anthropic_up_stream {
    char id[64]; /* "chatcmpl-" + the message id */
    char model[128];
    long long created; /* unix seconds, set by init */
    long long input_tokens, output_tokens;
    long long cache_read_tokens, cache_write_tokens; /* of input_tokens */
    int tool_index;           /* OpenAI tool_calls index of the open tool_use block, -1 none */
    int n_tools;              /* tool_use blocks seen */
    int block_is_tool;        /* the open content block is a tool_use */
    char finish[24];          /* finish_reason once message_delta gave a stop_reason */
    int done;                 /* [DONE] sent */
    struct allot_buf scratch; /* one event being built */
};

/* Set up a stream: created is the chunks' "created" (unix seconds); id is
 * "chatcmpl-allot" and model "" until message_start names them; scratch
 * is capped at ALLOT_ANTHROPIC_UP_EVENT_MAX. No allocation. */
void allot_anthropic_up_stream_init(struct allot_anthropic_up_stream *s, long long created);

/* Free the scratch buffer. The stream may be set up again with _init. */
void allot_anthropic_up_stream_release(struct allot_anthropic_up_stream *s);

/* Feed one Anthropic event's data (a JSON object with its "type") and call
 * cb(ctx, raw, data) once per OpenAI event it becomes, in order: raw is the
 * whole "data: {...}\n\n" text, data the JSON between (both point into
 * s->scratch and live until the next call).
 *
 * message_start: a chunk with delta {"role":"assistant","content":""}.
 * text_delta: delta {"content":TEXT}. A tool_use block's start: delta
 * {"tool_calls":[{"index":K,"id","type":"function","function":{"name",
 * "arguments":""}}]}, K counting tool_use blocks from 0; its
 * input_json_delta: {"tool_calls":[{"index":K,"function":{"arguments"}}]}.
 * message_delta: a chunk with delta {} and the finish_reason (mapped as
 * allot_anthropic_up_response does). message_stop: a usage chunk (choices
 * [], usage prompt/completion/total tokens and, when the prompt cache was
 * used, prompt_tokens_details as allot_anthropic_up_response gives it),
 * then "data: [DONE]\n\n" (data
 * "[DONE]"), and the stream is done; a message_stop without a message_delta
 * before it sends the finish chunk (stop) first. error: data
 * {"error":{"message","type"}}. ping, content_block_stop, thinking and
 * signature deltas and unknown events: nothing.
 *
 * Returns 0; a non-zero return of cb, which stops the call at once;
 * ALLOT_ENOMEM or ALLOT_ETOOBIG from scratch. Data that is not a JSON
 * object, and everything after done, is ignored (0). */
int allot_anthropic_up_stream_event(struct allot_anthropic_up_stream *s, struct allot_slice data,
                                    allot_sse_event_cb cb, void *ctx);

#endif
