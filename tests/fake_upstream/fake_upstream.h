/* fake_upstream.h: internals shared by the fake model server's files.
 *
 * fake_upstream.c  command line, worker loops, signals, shutdown.
 * fake_chat.c      the HTTP handler: routes, chat completions, streaming,
 *                  knobs, reading request bodies (cJSON).
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
    const char *expect_key; /* NULL: key_ok is null in /stats */
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
    char last_auth[64]; /* "Bearer <redacted:N chars>", "" when absent */
    int last_key_ok;    /* 1, 0, or -1 when no --expect-key */
};
#define FAKE_STATS_MAX_MODELS 1024

/* What one chat request looked like, for fake_stats_record. */
struct fake_seen {
    struct allot_slice path;
    struct allot_slice body;
    struct allot_slice authorization; /* {NULL,0} when absent */
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
