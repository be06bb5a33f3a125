/* chat_request.h: an OpenAI chat-completions request body, read once.
 *
 * allot_chat_request_parse() validates the JSON (cJSON) and pulls out what
 * routing needs: the model, stream flags, the instruction (system prompt and
 * last user turn) and structural signals. It also records the byte spans of
 * the top-level "model" and "stream_options" values in the original body, so
 * allot_chat_request_rewrite() can splice the upstream model id in and leave
 * every other byte as the client sent it.
 *
 * For a client's body the tree holds only the top-level members routing
 * reads ("model", "messages", "stream", "stream_options",
 * "response_format"; the last of each name): the rest, the tools' schemas
 * above all, is checked but never built. "tools" and "functions" are only
 * looked at, in the text, for has_tools.
 *
 * Ownership: the struct owns the cJSON tree and a scratch buffer; slices
 * point into them and live until allot_chat_request_release(). */
#ifndef ALLOT_CHAT_REQUEST_H
#define ALLOT_CHAT_REQUEST_H
#include <stddef.h>
#include <cJSON.h>
#include "allot/buf.h"
#include "allot/slice.h"

struct allot_chat_request {
    cJSON *root;
    struct allot_slice model; /* the "model" string */
    int stream;               /* "stream": true */
    int include_usage;        /* "stream_options": {"include_usage": true} */
    /* The instruction: text of the first system/developer message and of the
     * last user message (string content, or the text parts joined by "\n").
     * Empty when absent. */
    struct allot_slice system;
    struct allot_slice last_user;
    size_t n_messages;
    size_t n_tool_results;        /* messages with role "tool" or "function" */
    int last_is_tool;             /* the last message is one of them */
    size_t material_bytes;        /* text bytes of all messages but the two above */
    int has_tools;                /* non-empty "tools" or "functions" */
    int has_response_format;      /* "response_format" present and not "text" */
    const cJSON *response_format; /* that object, in root; NULL when absent or "text" */
    /* Spans in the original body (offset, length) of the values of the
     * top-level "model" and "stream_options" keys; len 0 when absent. */
    size_t model_off, model_len;
    size_t stream_options_off, stream_options_len;
    struct allot_buf scratch; /* owns joined multi-part texts */
};

/* Parse body. Errors: ALLOT_EPARSE when it is not JSON (err: "invalid JSON
 * at line L column C: why"), ALLOT_EINVAL when it is JSON but not a chat
 * request (err names the field: "'messages' must be a non-empty array",
 * "'model' is required and must be a string", ...), ALLOT_ENOMEM. On error
 * the struct holds nothing to release (releasing it is still allowed). */
int allot_chat_request_parse(struct allot_chat_request *r, const char *body, size_t len,
                             struct allot_buf *err);

/* The same fields read off the whole cJSON tree of body, without the
 * strict check (the spans found by a plain scan): the reading allot gave
 * its own translations (of Messages and Responses requests) until the
 * reading of allot_chat_request_parse(), which builds only what routing
 * reads, was held to it. The request path no longer calls it; the unit
 * tests and the fuzz targets (chat_request, anthropic, responses) hold
 * allot_chat_request_parse() to it, field by field. A text cJSON or the
 * scan cannot read (too deep, out of memory) is read again by
 * allot_chat_request_parse(), so the error is the one it gives. Only for
 * text known to be strict JSON: what is skipped is what refuses a text
 * cJSON reads differently from the upstreams. */
int allot_chat_request_parse_tree(struct allot_chat_request *r, const char *body, size_t len,
                                  struct allot_buf *err);

/* A translation's reading, built by the translator as it writes the
 * text (anthropic_request.c, responses_request.c), instead of read back
 * from the text by allot_chat_request_parse(): the translator knows each
 * message it writes, its role and its texts, decoded. The result is,
 * field for field, what allot_chat_request_parse() of the text gives (the
 * unit tests, fuzz_anthropic and fuzz_responses hold it to that), with no
 * tree (root NULL; a translation with a response_format, which the checks
 * read as a tree, is not built: allot_chat_build_fail()). On a 126 KB
 * coding agent's Messages request, reading the translation back was a
 * third of the request's work.
 *
 * Use: begin; model; then, in the order the messages are written, system,
 * and for each other message either its texts and user (a user message:
 * text for each of its text parts, or its string content, then user), or
 * other (an assistant or tool message, with its content's text bytes);
 * then end. The texts of a user message may be added before the messages
 * written ahead of it (a Messages user turn's tool results come first),
 * so long as no other user message comes between. A failure (the model's
 * name over 1 KB, or no memory) sticks, and end returns it: the caller
 * then reads the text with allot_chat_request_parse() instead. Releasing r
 * is allowed at any point. */
struct allot_chat_build {
    struct allot_chat_request *r;
    size_t model_at, model_n;   /* the model's name in r->scratch */
    size_t system_at, system_n; /* the system text there; system_at (size_t)-1: none */
    size_t turn_at;             /* where a user message's text goes: after those two */
    size_t user_n;              /* the last user message's text, at turn_at */
    size_t user_bytes;          /* its texts' bytes, uncut */
    int have_user;
    /* the user message being built */
    int turn_open;     /* a text of it was added */
    int turn_first;    /* the next text is its first */
    int turn_full;     /* its text reached the cap */
    size_t room;       /* left for its text */
    size_t turn_bytes; /* its texts' bytes, uncut */
    int rc;
};

void allot_chat_build_begin(struct allot_chat_build *b, struct allot_chat_request *r);
/* The model's name (decoded) and its value's span in the text. */
void allot_chat_build_model(struct allot_chat_build *b, const char *name, size_t n, size_t off,
                            size_t len);
/* The system message, its text decoded (a string content). */
void allot_chat_build_system(struct allot_chat_build *b, const char *text, size_t n);
/* A text part (or the string content) of the next user message. */
void allot_chat_build_text(struct allot_chat_build *b, const char *text, size_t n);
/* The user message whose texts were added (none: an empty instruction). */
void allot_chat_build_user(struct allot_chat_build *b);
/* An assistant or (tool set) tool message with bytes of text. */
void allot_chat_build_other(struct allot_chat_build *b, size_t bytes, int tool);
/* The text asks for what the reading cannot hold (a response_format, a
 * tree): end then fails, and the caller parses the text. */
void allot_chat_build_fail(struct allot_chat_build *b);
/* Finish: 0 and r filled, or the failure (r then holds nothing to keep). */
int allot_chat_build_end(struct allot_chat_build *b, int stream, int has_tools);

/* Parse an embeddings request body (POST /v1/embeddings) into r: "model"
 * (a string) and "input" (a string, or a non-empty array of strings or of
 * token arrays, or one token array) are required. Sets model, model_off and
 * model_len (for the rewrite), and material_bytes (the input's text bytes,
 * 4 a token) for a token estimate; the rest stays empty. Errors as
 * allot_chat_request_parse(). */
int allot_chat_request_parse_embeddings(struct allot_chat_request *r, const char *body, size_t len,
                                        struct allot_buf *err);

/* Write body to out with the model value replaced by upstream_model (a JSON
 * string) and, when force_include_usage is set, stream_options set so that
 * include_usage is true (the value replaced, or the key added after the
 * opening brace). All other bytes are copied unchanged. */
int allot_chat_request_rewrite(const struct allot_chat_request *r, const char *body, size_t len,
                               const char *upstream_model, int force_include_usage,
                               struct allot_buf *out);

void allot_chat_request_release(struct allot_chat_request *r);

#endif
