/* chat_answer.h: what allot reads of a non-streamed chat completion it
 * relays as it is, read straight from the text.
 *
 * The gateway needs four things of such an answer: its usage counts, the
 * byte count of every choice's content, and the first choice's content,
 * tool calls and finish reason for the quality checks. A cJSON tree of the
 * whole answer (its id, model, created, fingerprint and every value as a
 * node) costs several times the strict check of the text; this reads the
 * few values off the member spans the check hands back, and gives exactly
 * what the tree would, looked up as cJSON_GetObjectItemCaseSensitive()
 * does (the first of duplicate keys). Whatever it does not read the way
 * cJSON would for certain (a count that is not a plain integer of at most
 * 15 digits, choices that are an object) makes it decline, and the
 * caller parses the tree as before.
 *
 * Nothing here allocates. Thread-safe: no global state. */
#ifndef ALLOT_CHAT_ANSWER_H
#define ALLOT_CHAT_ANSWER_H
#include <stddef.h>
#include <stdint.h>
#include "allot/slice.h"

struct allot_chat_answer {
    /* choices[0].message.content and choices[0].finish_reason when they
     * are strings: the raw text between the quotes, escapes not decoded
     * (allot_chat_answer_unescape()); ptr NULL otherwise. */
    struct allot_slice content, finish_reason;
    size_t content_len;    /* content decoded, in bytes */
    int has_tool_calls;    /* choices[0].message: non-empty tool_calls, or a function_call object */
    size_t content_bytes;  /* every choice's content decoded, in bytes */
    int has_usage;         /* usage is an object; the counts are 0 otherwise */
    int64_t prompt_tokens; /* usage.prompt_tokens; 0 when not a number or negative */
    int64_t completion_tokens;
    int64_t cached_tokens;      /* usage.prompt_tokens_details.cached_tokens */
    int64_t cache_write_tokens; /* usage.prompt_tokens_details.cache_write_tokens */
};

/* Read the answer in text[0..len) into *out. Returns 0; or -1, out
 * untouched, when the text fails allot_json_check() (flags 0), is not an
 * object, or holds something read here only by a full parse (see above).
 * The slices in *out point into text. */
int allot_chat_answer_read(const char *text, size_t len, struct allot_chat_answer *out);

/* What the quality floor collects of one event of a streamed chat
 * completion (its content, tool calls and finish reason), read from the
 * event's text as exchange.c's lookups on its tree would: the top-level
 * choices member, the last of duplicates (json_member.h); in its first
 * element, the first delta and finish_reason; in delta, the first content,
 * tool_calls and function_call. A chunk's tree costs several times the
 * strict check of its text, every chunk of every checked stream. */
struct allot_chat_chunk {
    /* choices[0].delta.content and choices[0].finish_reason when they are
     * strings: the raw text between the quotes, escapes not decoded; ptr
     * NULL otherwise */
    struct allot_slice content, finish_reason;
    int tool_calls; /* choices[0].delta: non-empty tool_calls, or a function_call at all */
    /* a top-level usage or error member (any of duplicates) is not null:
     * the chunk's tree is wanted for them */
    int has_usage, has_error;
};

/* Read the event in text[0..len) into *out. Returns 0; or -1, out
 * untouched, when the text fails allot_json_check() (flags 0), is not an
 * object, or its choices is an object (cJSON would walk its members as
 * elements): the caller reads the tree then. The slices in *out point
 * into text. */
int allot_chat_chunk_read(const char *text, size_t len, struct allot_chat_chunk *out);

/* Decode the JSON string body raw[0..n) (from a text allot_json_check()
 * passed, without \u0000) into out, which has room for n + 1 bytes, as
 * cJSON decodes strings; NUL-terminated. Returns the decoded length. */
size_t allot_chat_answer_unescape(const char *raw, size_t n, char *out);

#endif
