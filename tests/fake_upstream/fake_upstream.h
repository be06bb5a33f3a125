/* fake_upstream.h: internals shared by the fake model server's files.
 *
 * fake_upstream.c  command line, worker loops, signals, shutdown.
 * fake_chat.c      the HTTP handler: routes, knobs, the generated answer,
 *                  its timing (plain and streamed), reading request bodies
 *                  (cJSON); the same for every API.
 * fake_openai.c    the dialect of OpenAI's chat completions: what a request
 *                  holds, how answers, stream chunks and errors look.
 * fake_anthropic.c the dialect of Anthropic's Messages API, likewise.
 * fake_stats.c     counters and the last request, shared by all workers.
 *
 * This is a test tool, not part of liballot, so its cross-file names carry
 * a fake_ prefix instead of allot_. docs/fake_upstream.md is the manual. */
#ifndef FAKE_UPSTREAM_H
#define FAKE_UPSTREAM_H
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cJSON.h>
#include <uv.h>
#include "allot/buf.h"
#include "allot/http_server.h"
#include "allot/slice.h"

/* Caps on knob values, so that no header or flag can make the server hold
 * a timer for days or build an answer of gigabytes. */
#define FAKE_MAX_DELAY_MS 3600000L
#define FAKE_MAX_TOKENS 100000L
#define FAKE_MAX_TPS 100000000L
#define FAKE_MAX_BAD_EVERY 1000000L

/* The command line, read once in main and shared read-only by workers. */
struct fake_options {
    const char *listen; /* "HOST:PORT" as given */
    char host[256];
    long port;
    const char *name; /* shown in answers: "[NAME] answer to: ..." */
    long workers;
    long latency_ms;     /* before the head of every response */
    long ttft_ms;        /* after the head, before the first token */
    long tokens_per_sec; /* 0: all tokens at once */
    long tokens;         /* words per generated answer */
    long status;         /* injected error status; 0: none */
    double fail_rate;    /* share of chat requests given `status`; <0 unset */
    long seed;
    long quiet;
    long idle_timeout_ms;   /* keep-alive connections idle this long are closed */
    const char *expect_key; /* NULL: key_ok is null in /stats, no request refused */
};

/* One model name seen in chat requests and how often. */
struct fake_model_count {
    char *name; /* owned, NUL-terminated */
    size_t len;
    uint64_t count;
    uint64_t bad; /* in the bad-every table: of count, how many got the bad variant */
};

/* Model names with a count each, in order of first sight; searched
 * linearly, as a test uses few. At most FAKE_STATS_MAX_MODELS names. */
struct fake_model_table {
    struct fake_model_count *v;
    size_t n;
    size_t cap;
};

/* Counters and a copy of the last chat request, for GET /stats. One per
 * process, shared by all workers under one mutex: a few stores per request
 * cost nothing next to parsing its JSON. */
struct fake_stats {
    pthread_mutex_t lock;
    const char *expect_key;
    uint64_t requests;                 /* chat completion requests, valid or not */
    uint64_t streams;                  /* of which asked for "stream": true */
    uint64_t cancelled;                /* the client went away before the response ended */
    uint64_t cut;                      /* cut on purpose (x-fake-cut-after) */
    uint64_t injected;                 /* answered with an injected error status */
    uint64_t bad;                      /* given the bad variant (x-fake-bad-every, x-fake-bad) */
    struct fake_model_table models;    /* every chat request, by model */
    struct fake_model_table bad_every; /* requests with x-fake-bad-every, by model: the
                                        * counters that pick the bad ones */
    int have_last;
    struct allot_buf last_body;
    struct allot_buf last_path;
    struct allot_buf last_content_type;
    size_t last_body_bytes;
    const char *last_key_header; /* where the key was looked for: "authorization", "x-api-key" */
    char last_auth[64];          /* "Bearer <redacted:N chars>", "" when absent */
    int last_key_ok;             /* 1, 0, or -1 when no --expect-key */
    int have_last_version;       /* an anthropic-version header came */
    struct allot_buf last_version;
    int have_last_beta; /* an anthropic-beta header came */
    struct allot_buf last_beta;
};
#define FAKE_STATS_MAX_MODELS 1024

/* What one chat request looked like, for fake_stats_record. */
struct fake_seen {
    struct allot_slice path;
    struct allot_slice body;
    const char *key_header;     /* the header the API key comes in (static) */
    int bearer;                 /* ... as "Bearer KEY", else KEY alone */
    struct allot_slice key;     /* that header's value; {NULL,0} when absent */
    struct allot_slice version; /* anthropic-version; {NULL,0} when absent */
    struct allot_slice beta;    /* anthropic-beta; {NULL,0} when absent */
    struct allot_slice content_type;
    const char *model; /* NULL when the body has none */
    int stream;
};

enum fake_counter { FAKE_CANCELLED, FAKE_CUT, FAKE_INJECTED, FAKE_BAD };

/* An appender with a sticky error: the first failure is kept and later
 * appends are skipped, so a response is built straight-line and checked
 * once. */
struct fake_out {
    struct allot_buf *b;
    int rc;
};

static inline void fake_emit(struct fake_out *o, const char *p, size_t n)
{
    if (!o->rc)
        o->rc = allot_buf_add(o->b, p, n);
}

static inline void fake_emits(struct fake_out *o, const char *s)
{
    fake_emit(o, s, strlen(s));
}

__attribute__((format(printf, 2, 3))) static inline void fake_emitf(struct fake_out *o,
                                                                    const char *fmt, ...)
{
    va_list ap;
    if (o->rc)
        return;
    va_start(ap, fmt);
    o->rc = allot_buf_vaddf(o->b, fmt, ap);
    va_end(ap);
}

/* s as a JSON string literal; bytes that are not UTF-8 become U+FFFD. */
static inline void fake_emit_json(struct fake_out *o, const char *s, size_t n)
{
    if (!o->rc)
        o->rc = allot_buf_add_json_str(o->b, s, n);
}

/* Parse a request body strictly (allot_json_check first, then cJSON):
 * a first pass refuses what cJSON alone lets through (bytes that are not
 * UTF-8, raw control characters in strings, bad \u escapes, numbers like
 * "01", stray bytes between tokens), and nothing but blanks may follow the
 * value. Thread-safe: the error position comes from cJSON's
 * return_parse_end, never the process-global cJSON_GetErrorPtr. Returns
 * the tree (the caller frees it with cJSON_Delete), or NULL when the text
 * is not JSON or memory ran out; then, when why is not NULL, it holds a
 * message like "line 1 column 10: the text ends before the JSON value
 * does". */
cJSON *fake_json_parse(const char *text, size_t len, char *why, size_t why_size);
/* The member `key` of obj, or NULL when obj is not an object or has no
 * such member. When the key repeats, the last one counts, as in most JSON
 * readers (cJSON's own lookup takes the first). Borrowed from obj. */
cJSON *fake_json_member(const cJSON *obj, const char *key);
/* Bytes of the text in a message's content: a string, or the `text` of
 * each part of an array. A string is read up to a \u0000 in it, where
 * cJSON ends it. */
size_t fake_text_bytes(const cJSON *content);

/* ---- dialects ----------------------------------------------------------
 *
 * The engine (fake_chat.c) reads knobs, makes the answer and paces it; a
 * dialect knows one API's shapes: what its requests hold, and the bytes of
 * its answers, stream events and error bodies. One answer, two dialects:
 * the same request gets the same words, pieces and token counts from
 * either endpoint. */

/* What the engine needs from a request body, read by a dialect. Borrowed
 * from the parsed body. */
struct fake_request_view {
    const char *model;
    size_t model_len;
    int stream;
    int include_usage;      /* OpenAI's stream_options.include_usage */
    size_t content_bytes;   /* text of every message, the system prompt's included */
    const cJSON *last_user; /* content of the last user message: a string, or
                             * an array of parts whose `text` counts */
    long inputs;            /* embeddings: how many inputs (vectors to answer) */
    int base64;             /* embeddings: encoding_format "base64" */
};

/* One planned answer, whatever the API. Owned by the exchange. */
struct fake_answer {
    uint64_t id; /* the request number, shown in ids */
    long long created;
    int include_usage; /* OpenAI stream: the usage chunk was asked for */
    int usage;         /* usage is reported (not x-fake-no-usage) */
    long prompt_tokens;
    long cached_tokens;      /* of prompt_tokens: read from the prompt cache (cached-tokens) */
    long cache_write_tokens; /* of prompt_tokens: written to it (cache-write-tokens) */
    long completion_tokens;
    struct allot_buf model;   /* JSON string literal, quotes included */
    struct allot_buf content; /* the answer text; with a tool call, its arguments (JSON text) */
    struct allot_buf finish;  /* why it ended, in OpenAI's words (stop, length, tool_calls)
                               * or the finish knob's text; plain text */
    struct allot_buf tool;    /* tool-call: the tool's name, a JSON string literal; empty: none */
    struct allot_buf prefix;  /* the dialect's own, for a stream: bytes every event starts with */
    long inputs;              /* embeddings: vectors to answer */
    int base64;               /* ... as base64 float32s, not JSON numbers */
};

struct fake_dialect {
    const char *key_header; /* where the API key comes, lower case */
    int bearer;             /* ... as "Bearer KEY" (else KEY alone) */
    /* Read the body (an object) into v; on a problem, a message for the
     * 400 in msg and a negative ALLOT_E*. */
    int (*read)(const cJSON *root, struct fake_request_view *v, char *msg, size_t msz);
    /* NULL, or: with --expect-key, the status (401) and message that
     * refuse a request whose credentials are wrong; 0 to let it through. */
    int (*refuse)(const struct fake_options *opt, const struct allot_http_request *req, char *msg,
                  size_t msz);
    /* An error body for status; type is the kind of error in OpenAI's
     * words ("invalid_request_error", "server_error"). */
    int (*error_body)(struct allot_buf *b, int status, const char *message, const char *type);
    /* The non-stream answer, and its malformed (truncated) variant. */
    void (*answer)(struct fake_out *o, const struct fake_answer *a);
    void (*malformed_answer)(struct fake_out *o, const struct fake_answer *a);
    /* Stream: the events that go with the head (may fill a->prefix), a
     * broken event, one event per piece of the content, and the end. */
    void (*stream_open)(struct fake_out *o, struct fake_answer *a);
    void (*stream_malformed)(struct fake_out *o, const struct fake_answer *a);
    void (*stream_piece)(struct fake_out *o, const struct fake_answer *a, const char *piece,
                         size_t len);
    void (*stream_close)(struct fake_out *o, const struct fake_answer *a);
};

extern const struct fake_dialect fake_openai;     /* POST /v1/chat/completions */
extern const struct fake_dialect fake_anthropic;  /* POST /v1/messages */
extern const struct fake_dialect fake_embeddings; /* POST /v1/embeddings */

/* Whether the header value `key` carries exactly expect_key: as
 * "Bearer KEY" when bearer, else as KEY alone. 0 when key is absent. */
int fake_key_ok(const char *expect_key, struct allot_slice key, int bearer);

/* expect_key may be NULL; it must outlive the stats. ALLOT_ENOMEM. */
int fake_stats_init(struct fake_stats *s, const char *expect_key);
void fake_stats_release(struct fake_stats *s);
void fake_stats_record(struct fake_stats *s, const struct fake_seen *seen);
void fake_stats_count(struct fake_stats *s, enum fake_counter c);
/* Count one chat request that carries bad-every=every for the model id
 * model[0..len) and say whether it gets the bad variant: the every-th,
 * 2*every-th, ... such request for that exact id since the start or the
 * last fake_stats_reset, across all workers (under the lock, so the share
 * is exact however the requests interleave). A bad turn also counts in
 * `bad`. Sets *is_bad only on success; ALLOT_ENOMEM when out of memory or
 * when FAKE_STATS_MAX_MODELS ids are already counted. */
int fake_stats_bad_turn(struct fake_stats *s, const char *model, size_t len, long every,
                        int *is_bad);
/* Forget all counters (bad-every's too), models and the last request. */
void fake_stats_reset(struct fake_stats *s);
/* Append the /stats document, or the /v1/models list, to out. */
int fake_stats_json(struct fake_stats *s, const char *name, struct allot_buf *out);
int fake_stats_models_json(struct fake_stats *s, struct allot_buf *out);

struct fake_exchange;

/* One event loop on one thread with its own server bound to the shared
 * port. Everything here is touched only by that thread, except stop
 * (uv_async_send from main). */
struct fake_worker {
    uv_loop_t loop;
    uv_async_t stop;
    struct allot_http_server *server;
    const struct fake_options *opt;
    struct fake_stats *stats;
    atomic_uint_fast64_t *seq;  /* process-wide request number */
    struct allot_buf scratch;   /* responses are built here, then copied */
    struct fake_exchange *idle; /* free list */
    struct fake_exchange *all;  /* every exchange allocated, for shutdown */
    pthread_t thread;
    int thread_ok; /* thread is running the loop */
    int closing;   /* server close has begun */
};

/* The handler table for allot_http_server_new; ctx is the worker. */
extern const struct allot_http_handler fake_handler_template;

/* Initialise w's scratch and pools (no allocation). */
void fake_worker_init(struct fake_worker *w, const struct fake_options *opt,
                      struct fake_stats *stats, atomic_uint_fast64_t *seq);
/* Close every idle exchange's timer; call after the server is closed, on
 * w's loop. Exchanges are freed from their close callbacks. */
void fake_worker_close_pool(struct fake_worker *w);
/* Free w's scratch, once its loop has ended. */
void fake_worker_release(struct fake_worker *w);

#endif
