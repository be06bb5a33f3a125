/* anthropic_internal.h: what the Anthropic dialect's files share
 * (anthropic_json.c; anthropic_request.c and anthropic_answer.c for
 * clients, anthropic_up_request.c and anthropic_up_answer.c for providers):
 * JSON writing straight into a capped allot_buf, tool-call arguments, and
 * one-line reasons for refused requests. Not a public API. */
#ifndef ALLOT_ANTHROPIC_INTERNAL_H
#define ALLOT_ANTHROPIC_INTERNAL_H
#include <stdarg.h>
#include <cJSON.h>
#include "allot/buf.h"
#include "allot/json_member.h"
#include "allot/slice.h"
#include "allot/thread_block.h"

/* Integers print as integers up to 2^53, the exactly representable range. */
#define EXACT_INT_MAX 9007199254740992.0
/* The longest piece of request text (a block, part or tool type) quoted in
 * a reason. */
#define QUOTE_MAX 64

/* Undo appends: cut b back to len bytes (len <= b->len). */
void allot__anth_buf_cut(struct allot_buf *b, size_t len);
/* Append s as a JSON string. Errors as allot_buf_add_json_str. */
int allot__anth_add_str(struct allot_buf *b, const char *s);

/* Open a chat body translated into out (whose length was start):
 * {"model":MODEL, and, when view is not NULL, tell it the model and where
 * its value lies in the body (chat_request.h). Returns allot_buf_add()'s
 * error. Both request translators open their bodies so. */
struct allot_chat_build;
int allot__anth_open_body(struct allot_buf *out, size_t start, const char *model,
                          struct allot_chat_build *view);
/* Append d as a JSON number (null when not finite). */
int allot__anth_add_number(struct allot_buf *b, double d);
/* An integer, sign (-1 or 1) and magnitude apart so that "-0" can be
 * written; allot__anth_add_count the same for a count. Without printf:
 * the translations write several a request. */
int allot__anth_add_int(struct allot_buf *b, int sign, unsigned long long magnitude);
int allot__anth_add_count(struct allot_buf *b, long long v);
/* Append v serialised as JSON. ALLOT_ENOMEM, ALLOT_ETOOBIG. */
int allot__anth_add_json(struct allot_buf *b, const cJSON *v);

/* A tool call's arguments as a tool_use input: the JSON object they hold
 * (an object as it is, or a string holding one), or {} when they hold
 * anything else (a model's broken JSON). ALLOT_ENOMEM, ALLOT_ETOOBIG. */
int allot__anth_add_tool_input(struct allot_buf *b, const cJSON *arguments);
/* Request text quoted in a reason: at most QUOTE_MAX bytes and "...",
 * control bytes as '?', so the reason stays on one line. */
void allot__anth_quote(char dst[QUOTE_MAX + 4], const char *s);
/* Refuse a request: err (may be NULL: no reason wanted) gets one line;
 * returns ALLOT_EINVAL. A reason that does not fit is lost, and the
 * request is refused all the same. */
int allot__anth_invalid(struct allot_buf *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int allot__anth_vinvalid(struct allot_buf *err, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

/* A client's request body read strictly (json_check.h first, so nothing a
 * strict parser would read differently gets through, then cJSON): the root
 * object, which the caller frees; or NULL with *rc ALLOT_EINVAL and one
 * line in err ("invalid JSON at line L column C: why", "request body must
 * be a JSON object"), or ALLOT_ENOMEM. */
cJSON *allot__anth_parse_request(const char *body, size_t len, struct allot_buf *err, int *rc);

/* Whether the value v[0..n) of the member the parse was asked about is
 * one whose translation the caller already has (so the tree need not hold
 * it). */
typedef int (*allot__anth_known_cb)(void *ctx, const char *v, size_t n);

/* allot__anth_parse_request(), and *span gets the value of the last
 * top-level member named name ({NULL, 0}: none), as the check saw it, and
 * *model (when not NULL) the last "model" member's value, in body. When
 * known(ctx, value) says so, the tree holds null in its place: the body
 * is copied with that value replaced, and the copy parsed. Errors as
 * allot__anth_parse_request(). */
cJSON *allot__anth_parse_request_known(const char *body, size_t len, struct allot_buf *err, int *rc,
                                       const char *name, allot__anth_known_cb known, void *ctx,
                                       struct allot_slice *span, struct allot_slice *model);

/* --- a translator's tools text, remembered per thread (tools_memo.c) ---
 * A translator declares its memory with ALLOT__TOOLS_MEMO(name), parses
 * with allot__anth_parse_request_known(..., "tools", allot__tools_known,
 * &lookup, &raw), and then either uses lookup.found (its text, tool count
 * and extra: the tree holds null for the tools) or translates the tools
 * and keeps the result with allot__tools_keep(). */
#define ALLOT__TOOLS_KEPT 2
#define ALLOT__TOOLS_MIN 512
#define ALLOT__TOOLS_MAX (256u * 1024u)

struct allot__tools_kept {
    struct allot_buf raw;   /* the tools value as sent */
    struct allot_buf out;   /* the translator's text for it */
    struct allot_buf extra; /* what else the translator kept of it */
    int n;                  /* tools in it */
    unsigned used;          /* the memory's clock when last kept or found */
};

struct allot__tools_memory {
    struct allot__tools_kept kept[ALLOT__TOOLS_KEPT];
    unsigned clock;
    size_t hits;
};

void allot__tools_memory_release(void *p);

#define ALLOT__TOOLS_MEMO(name)                                                                    \
    static struct allot_thread_block name =                                                        \
        ALLOT_THREAD_BLOCK_INIT(sizeof(struct allot__tools_memory), allot__tools_memory_release)

/* What allot__tools_known() looks in, and what it found (NULL: nothing). */
struct allot__tools_lookup {
    struct allot_thread_block *memo;
    const struct allot__tools_kept *found;
};

/* The kept translation of the tools value v[0..n), or NULL. */
const struct allot__tools_kept *allot__tools_find(struct allot_thread_block *memo, const char *v,
                                                  size_t n);

/* allot__anth_known_cb over a struct allot__tools_lookup. */
int allot__tools_known(void *ctx, const char *v, size_t n);

/* Keep text[0..len) (n tools, and extra) as the translation of the tools
 * value raw; one too small or too large, or no memory, keeps nothing. */
void allot__tools_keep(struct allot_thread_block *memo, struct allot_slice raw, const char *text,
                       size_t len, int n, const void *extra, size_t extra_len);

/* How many translations the calling thread found in memo (tests). */
size_t allot__tools_hits(struct allot_thread_block *memo);

/* The Messages and Responses translators' counts of tools found, and
 * dropping what they remember: for tests. */
size_t allot__anth_tools_remembered(void);
void allot__anth_tools_forget(void);
size_t allot__responses_tools_remembered(void);
void allot__responses_tools_forget(void);

/* A non-negative token count, 0 when absent or not a sane number. */
long long allot__anth_token_count(const cJSON *v);

/* One upstream SSE data payload for a stream translator: whitespace
 * trimmed, then "[DONE]" (returns 1, *root NULL) or parsed (returns 0,
 * *root the value, which the caller frees; NULL when empty or not JSON). */
int allot__anth_stream_payload(struct allot_slice data, cJSON **root);

/* What both answer translators read first from a chat completion root: its
 * first choice (returned; NULL when there is none, which is ALLOT_EPARSE to
 * them), its "id" (NULL when not a string) and, when *model is NULL, its
 * "model" ("" when absent). */
const cJSON *allot__anth_first_choice(const cJSON *root, const char **id, const char **model);

#endif
