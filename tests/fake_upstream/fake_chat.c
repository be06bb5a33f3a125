/* fake_chat.c: the fake upstream's HTTP handler.
 *
 * Answers POST /v1/chat/completions like an OpenAI-compatible model server,
 * deterministically: the answer names the server and echoes the start of the
 * last user message, padded with filler words to an exact token count (one
 * word = one token). Knobs from flags, the model name and x-fake-* headers
 * (in that order, later wins) add latency, time to first token, token pacing,
 * error statuses, cut streams, malformed bodies and hangs, so that allot's
 * tests and benchmarks can provoke every upstream behaviour they care about.
 * Also serves /healthz, /v1/models, /stats and POST /stats/reset.
 *
 * DESIGN: each chat request gets an exchange from a per-worker free list;
 * the exchange holds the plan (what to answer and when), its own uv timer
 * and reusable buffers, so a steady load allocates nothing but jansson's
 * parse of the request. Responses are built in the worker's scratch buffer
 * and handed to the server, which copies them. An exchange is a small state
 * machine (enum exchange_state): the timer moves it along; on_abort (the
 * client left) returns it to the free list at once, unless we are inside a
 * call into the server for it (busy), in which case the caller does that
 * when the call returns. */
#include <http_parser.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "fake_upstream.h"
#include "allot/clock.h"
#include "allot/error.h"
#include "allot/log.h"

#define SCRATCH_MAX (64u << 20)
#define MODEL_MAX 1024
#define CONTENT_MAX (8u << 20)
#define PREFIX_MAX 2048
/* An exchange keeps buffer allocations up to this between requests. */
#define KEEP_BYTES (256u << 10)
#define SNIPPET_CHARS 40

enum exchange_state {
    EX_IDLE,   /* in the worker's free list */
    EX_DELAY,  /* timer: latency (non-stream: latency and generation time) */
    EX_TTFT,   /* stream: head and role delta sent; timer: first token */
    EX_TOKENS, /* stream: tokens going out, timer paces the next batch */
    EX_HANG,   /* never answers; waits for on_abort */
    EX_DEAD,   /* the server said the connection is gone; waits for on_abort */
};

struct fake_exchange {
    uv_timer_t timer; /* timer.data points back here */
    struct fake_worker *w;
    struct allot_http_request *req; /* NULL once the server dropped it */
    struct fake_exchange *next_idle;
    struct fake_exchange *next_all;
    enum exchange_state state;
    int busy; /* inside a call into the server for req */
    int gone; /* on_abort came while busy */

    /* The plan. */
    int stream;
    int include_usage; /* the request asked for the usage chunk */
    int usage;         /* usage is reported (not x-fake-no-usage) */
    int malformed;
    int status;     /* 2xx: answer; otherwise an error body */
    long cut_after; /* -1: never cut */
    long ttft_ms;
    long tps;
    uint64_t id;
    long long created;
    long prompt_tokens;
    long completion_tokens;
    struct allot_buf model;   /* JSON string literal, quotes included */
    struct allot_buf content; /* the answer text */
    struct allot_buf prefix;  /* stream chunks up to "choices": */

    /* Stream progress. */
    size_t pos;     /* next byte of content to send */
    long sent;      /* content events sent */
    uint64_t t0_us; /* when the first token went out */
};

/* Knobs for one request, from flags, then the model name, then headers. */
struct knobs {
    long latency_ms;
    long ttft_ms;
    long tps;
    long tokens;
    long status; /* -1: not forced; the run-level fail rate decides */
    long cut_after;
    int malformed;
    int hang;
    int no_usage;
    int empty;
    struct allot_slice content; /* ptr NULL: generate */
};

/* What handle_chat reads from the request body. */
struct chat_view {
    const char *model;
    size_t model_len;
    int stream;
    int include_usage;
    size_t content_bytes;
    json_t *last_user; /* the content of the last user message */
};

/* An appender with a sticky error: the first failure is kept and later
 * appends are skipped, so a response is built straight-line and checked
 * once. */
struct out {
    struct allot_buf *b;
    int rc;
};

static void emit(struct out *o, const char *p, size_t n)
{
    if (!o->rc)
        o->rc = allot_buf_add(o->b, p, n);
}

static void emits(struct out *o, const char *s)
{
    emit(o, s, strlen(s));
}

__attribute__((format(printf, 2, 3))) static void emitf(struct out *o, const char *fmt, ...)
{
    va_list ap;
    if (o->rc)
        return;
    va_start(ap, fmt);
    o->rc = allot_buf_vaddf(o->b, fmt, ap);
    va_end(ap);
}

static void emit_json(struct out *o, const char *p, size_t n)
{
    if (!o->rc)
        o->rc = allot_buf_add_json_str(o->b, p, n);
}

static int is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* End of the streaming piece that starts at pos: the first piece takes any
 * leading blanks, then a word and the blanks after it. Concatenating every
 * piece gives the content back byte for byte. */
static size_t piece_end(const char *s, size_t len, size_t pos)
{
    size_t i = pos;
    if (pos == 0)
        while (i < len && is_space((unsigned char)s[i]))
            i++;
    while (i < len && !is_space((unsigned char)s[i]))
        i++;
    while (i < len && is_space((unsigned char)s[i]))
        i++;
    return i;
}

static long count_pieces(const char *s, size_t len)
{
    size_t pos = 0;
    long n = 0;
    while (pos < len) {
        pos = piece_end(s, len, pos);
        n++;
    }
    return n;
}

/* ---- responses ------------------------------------------------------- */

static const struct allot_http_header json_headers[] = {
    {ALLOT_SLICE_LIT("Content-Type"), ALLOT_SLICE_LIT("application/json")},
    {ALLOT_SLICE_LIT("Retry-After"), ALLOT_SLICE_LIT("1")},
};

static const struct allot_http_header sse_headers[] = {
    {ALLOT_SLICE_LIT("Content-Type"), ALLOT_SLICE_LIT("text/event-stream")},
    {ALLOT_SLICE_LIT("Cache-Control"), ALLOT_SLICE_LIT("no-cache")},
};

/* An OpenAI-style error body. */
static int error_body(struct allot_buf *b, int status, const char *message, const char *type)
{
    struct out o = {b, 0};
    emits(&o, "{\"error\":{\"message\":");
    emit_json(&o, message, strlen(message));
    emitf(&o, ",\"type\":\"%s\",\"param\":null,\"code\":\"http_%d\"}}", type, status);
    return o.rc;
}

/* Answer a request that has no exchange: anything but chat completions,
 * and chat requests refused before planning. */
static void respond_now(struct fake_worker *w, struct allot_http_request *req, int status,
                        const char *content_type)
{
    struct allot_http_header h = {ALLOT_SLICE_LIT("Content-Type"), allot_slice_cstr(content_type)};
    (void)allot_http_respond(req, status, &h, 1, allot_buf_cstr(&w->scratch), w->scratch.len);
    allot_buf_reset(&w->scratch);
}

static void respond_error_now(struct fake_worker *w, struct allot_http_request *req, int status,
                              const char *message, const char *type)
{
    allot_buf_reset(&w->scratch);
    if (error_body(&w->scratch, status, message, type)) {
        allot_buf_reset(&w->scratch);
        (void)allot_buf_adds(&w->scratch, "{\"error\":{\"message\":\"out of memory\"}}");
    }
    respond_now(w, req, status, "application/json");
}

/* ---- exchanges ------------------------------------------------------- */

static struct fake_exchange *exchange_get(struct fake_worker *w)
{
    struct fake_exchange *ex = w->idle;

    if (ex) {
        w->idle = ex->next_idle;
        goto out;
    }
    ex = calloc(1, sizeof *ex);
    if (!ex)
        goto out;
    if (uv_timer_init(&w->loop, &ex->timer) != 0) {
        free(ex);
        ex = NULL;
        goto out;
    }
    ex->timer.data = ex;
    ex->w = w;
    allot_buf_init(&ex->model, MODEL_MAX);
    allot_buf_init(&ex->content, CONTENT_MAX);
    allot_buf_init(&ex->prefix, PREFIX_MAX);
    ex->next_all = w->all;
    w->all = ex;
out:
    return ex;
}

static void keep_small(struct allot_buf *b)
{
    if (b->cap > KEEP_BYTES)
        allot_buf_release(b);
    else
        allot_buf_reset(b);
}

/* Back to the free list. The request, if any, is no longer ours. */
static void exchange_put(struct fake_exchange *ex)
{
    struct fake_worker *w = ex->w;

    uv_timer_stop(&ex->timer);
    if (ex->req)
        ex->req->user = NULL;
    ex->req = NULL;
    ex->state = EX_IDLE;
    ex->busy = ex->gone = 0;
    keep_small(&ex->model);
    keep_small(&ex->content);
    keep_small(&ex->prefix);
    ex->next_idle = w->idle;
    w->idle = ex;
}

/* A call into the server reported the connection gone. */
static void exchange_lost(struct fake_exchange *ex)
{
    if (ex->gone) {
        exchange_put(ex);
        return;
    }
    uv_timer_stop(&ex->timer);
    ex->state = EX_DEAD; /* on_abort will come and free it */
}

static void on_timer(uv_timer_t *t);

static void exchange_wait(struct fake_exchange *ex, enum exchange_state state, uint64_t ms)
{
    ex->state = state;
    uv_timer_start(&ex->timer, on_timer, ms, 0);
}

/* Send a whole response and end the exchange. */
static void exchange_respond(struct fake_exchange *ex, int status, const char *body, size_t len)
{
    size_t nh = status == 429 ? 2 : 1;

    ex->busy = 1;
    (void)allot_http_respond(ex->req, status, json_headers, nh, body, len);
    ex->busy = 0;
    ex->req = NULL; /* ended by respond, whatever happened */
    exchange_put(ex);
}

/* Close the connection mid-response, on purpose. */
static void exchange_cut(struct fake_exchange *ex)
{
    fake_stats_count(ex->w->stats, FAKE_CUT);
    allot_http_abort(ex->req);
    ex->req = NULL;
    exchange_put(ex);
}

/* Hand the scratch buffer to the server as one chunk. 0, or -1 when the
 * connection is gone (the exchange has been dealt with). */
static int exchange_flush(struct fake_exchange *ex)
{
    struct allot_buf *s = &ex->w->scratch;
    int rc = 0;

    if (s->len == 0)
        return 0;
    ex->busy = 1;
    rc = allot_http_chunk(ex->req, s->ptr, s->len);
    ex->busy = 0;
    allot_buf_reset(s);
    if (rc < 0 || ex->gone) {
        exchange_lost(ex);
        return -1;
    }
    return 0;
}

/* ---- building answers ------------------------------------------------ */

static void emit_usage(struct out *o, const struct fake_exchange *ex)
{
    emitf(o, "\"usage\":{\"prompt_tokens\":%ld,\"completion_tokens\":%ld,\"total_tokens\":%ld}",
          ex->prompt_tokens, ex->completion_tokens, ex->prompt_tokens + ex->completion_tokens);
}

static int build_completion(const struct fake_exchange *ex, struct allot_buf *b)
{
    struct out o = {b, 0};

    emitf(&o,
          "{\"id\":\"chatcmpl-fake-%" PRIu64 "\",\"object\":\"chat.completion\",\"created\":%lld,"
          "\"model\":",
          ex->id, ex->created);
    emit(&o, ex->model.ptr, ex->model.len);
    emits(&o, ",\"system_fingerprint\":\"fp_fake\",\"choices\":[{\"index\":0,\"message\":"
              "{\"role\":\"assistant\",\"content\":");
    emit_json(&o, allot_buf_cstr(&ex->content), ex->content.len);
    emits(&o, ",\"refusal\":null},\"logprobs\":null,\"finish_reason\":\"stop\"}]");
    if (ex->usage) {
        emits(&o, ",");
        emit_usage(&o, ex);
    }
    emits(&o, "}");
    return o.rc;
}

/* The bytes every chunk of this stream starts with, up to "choices":. */
static int build_prefix(struct fake_exchange *ex)
{
    struct out o = {&ex->prefix, 0};

    allot_buf_reset(&ex->prefix);
    emitf(&o,
          "data: {\"id\":\"chatcmpl-fake-%" PRIu64 "\",\"object\":\"chat.completion.chunk\","
          "\"created\":%lld,\"model\":",
          ex->id, ex->created);
    emit(&o, ex->model.ptr, ex->model.len);
    emits(&o, ",\"system_fingerprint\":\"fp_fake\",\"choices\":");
    return o.rc;
}

/* One chunk with choices[0].delta = delta (JSON text) and finish_reason. */
static void emit_chunk(struct out *o, const struct fake_exchange *ex, const char *delta,
                       const char *piece, size_t piece_len, const char *finish)
{
    emit(o, ex->prefix.ptr, ex->prefix.len);
    emits(o, "[{\"index\":0,\"delta\":");
    if (piece) {
        emits(o, "{\"content\":");
        emit_json(o, piece, piece_len);
        emits(o, "}");
    } else {
        emits(o, delta);
    }
    emits(o, ",\"logprobs\":null,\"finish_reason\":");
    emits(o, finish);
    emits(o, "}]");
    if (ex->include_usage && ex->usage)
        emits(o, ",\"usage\":null");
    emits(o, "}\n\n");
}

static void emit_malformed_event(struct out *o, const struct fake_exchange *ex)
{
    emitf(o,
          "data: {\"id\":\"chatcmpl-fake-%" PRIu64 "\",\"object\":\"chat.completion.chunk\","
          "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"oops\n\n",
          ex->id);
}

/* ---- the exchange state machine -------------------------------------- */

static void stream_tokens(struct fake_exchange *ex);

/* The head is due: send it with the role delta, then wait for the first
 * token or send the tokens now. */
static void stream_start(struct fake_exchange *ex)
{
    struct out o = {&ex->w->scratch, 0};
    int rc;

    if (build_prefix(ex)) {
        ex->status = 500;
        goto fail;
    }
    ex->busy = 1;
    rc = allot_http_chunked_start(ex->req, ex->status, sse_headers, 2);
    ex->busy = 0;
    if (rc < 0 || ex->gone) {
        exchange_lost(ex);
        return;
    }
    allot_buf_reset(o.b);
    emit_chunk(&o, ex, "{\"role\":\"assistant\",\"content\":\"\"}", NULL, 0, "null");
    if (o.rc)
        goto cut;
    if (ex->ttft_ms > 0) {
        if (exchange_flush(ex) == 0)
            exchange_wait(ex, EX_TTFT, (uint64_t)ex->ttft_ms);
        return;
    }
    ex->t0_us = allot_clock_mono_us();
    stream_tokens(ex);
    return;
fail:
    allot_buf_reset(&ex->w->scratch);
    (void)error_body(&ex->w->scratch, ex->status, "fake upstream: out of memory", "server_error");
    exchange_respond(ex, ex->status, allot_buf_cstr(&ex->w->scratch), ex->w->scratch.len);
    allot_buf_reset(&ex->w->scratch);
    return;
cut: /* cannot build a chunk: nothing better than closing */
    allot_buf_reset(&ex->w->scratch);
    exchange_cut(ex);
}

/* Send the content events now due (all, when tps is 0), then either end the
 * stream, cut it, or sleep until the next token is due. Events due together
 * leave in one write. */
static void stream_tokens(struct fake_exchange *ex)
{
    struct out o = {&ex->w->scratch, 0};
    const char *content = allot_buf_cstr(&ex->content);
    long total = ex->completion_tokens, stop = total, due = total;
    uint64_t now = allot_clock_mono_us(), next_us;

    if (ex->cut_after >= 0 && ex->cut_after < stop)
        stop = ex->cut_after;
    if (ex->tps > 0) {
        uint64_t k = (now - ex->t0_us) * (uint64_t)ex->tps / 1000000u + 1;
        due = k < (uint64_t)total ? (long)k : total;
    }
    if (ex->malformed && ex->sent == 0 && ex->pos == 0) {
        emit_malformed_event(&o, ex);
        ex->malformed = 0;
    }
    while (ex->sent < due && ex->sent < stop) {
        size_t end = piece_end(content, ex->content.len, ex->pos);
        emit_chunk(&o, ex, NULL, content + ex->pos, end - ex->pos, "null");
        ex->pos = end;
        ex->sent++;
    }
    if (o.rc) {
        allot_buf_reset(o.b);
        exchange_cut(ex);
        return;
    }
    if (ex->cut_after >= 0 && ex->sent >= stop) {
        if (exchange_flush(ex) == 0)
            exchange_cut(ex);
        return;
    }
    if (ex->sent < total) {
        if (exchange_flush(ex) < 0)
            return;
        next_us =
            ex->t0_us + ((uint64_t)ex->sent * 1000000u + (uint64_t)ex->tps - 1) / (uint64_t)ex->tps;
        exchange_wait(ex, EX_TOKENS, next_us > now ? (next_us - now + 999) / 1000 : 0);
        return;
    }
    emit_chunk(&o, ex, "{}", NULL, 0, "\"stop\"");
    if (ex->include_usage && ex->usage) {
        emit(&o, ex->prefix.ptr, ex->prefix.len);
        emits(&o, "[],");
        emit_usage(&o, ex);
        emits(&o, "}\n\n");
    }
    emits(&o, "data: [DONE]\n\n");
    if (o.rc) {
        allot_buf_reset(o.b);
        exchange_cut(ex);
        return;
    }
    if (exchange_flush(ex) < 0)
        return;
    ex->busy = 1;
    (void)allot_http_chunked_end(ex->req);
    ex->busy = 0;
    ex->req = NULL; /* ended */
    exchange_put(ex);
}

/* The delay is over: answer. */
static void exchange_run(struct fake_exchange *ex)
{
    struct allot_buf *s = &ex->w->scratch;
    int rc;

    allot_buf_reset(s);
    if (ex->status < 200 || ex->status > 299) {
        fake_stats_count(ex->w->stats, FAKE_INJECTED);
        rc = error_body(s, ex->status, "fake upstream error", "server_error");
    } else if (ex->stream) {
        stream_start(ex);
        return;
    } else if (ex->cut_after >= 0) {
        exchange_cut(ex);
        return;
    } else if (ex->malformed) {
        struct out o = {s, 0};
        emitf(&o,
              "{\"id\":\"chatcmpl-fake-%" PRIu64 "\",\"object\":\"chat.completion\","
              "\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"oops",
              ex->id);
        rc = o.rc;
    } else {
        rc = build_completion(ex, s);
    }
    if (rc) {
        allot_buf_reset(s);
        ex->status = 500;
        (void)error_body(s, 500, "fake upstream: response too large", "server_error");
    }
    exchange_respond(ex, ex->status, allot_buf_cstr(s), s->len);
    allot_buf_reset(s);
}

static void on_timer(uv_timer_t *t)
{
    struct fake_exchange *ex = t->data;

    switch (ex->state) {
    case EX_DELAY:
        exchange_run(ex);
        break;
    case EX_TTFT:
        ex->t0_us = allot_clock_mono_us();
        stream_tokens(ex);
        break;
    case EX_TOKENS:
        stream_tokens(ex);
        break;
    case EX_IDLE:
    case EX_HANG:
    case EX_DEAD:
        break;
    }
}

/* ---- knobs ------------------------------------------------------------ */

/* Parse a decimal in [min, max]. */
static int parse_long(const char *p, size_t n, long min, long max, long *out)
{
    char tmp[32], *end;
    long v;

    if (n == 0 || n >= sizeof tmp)
        return ALLOT_EINVAL;
    memcpy(tmp, p, n);
    tmp[n] = '\0';
    v = strtol(tmp, &end, 10);
    if (*end != '\0' || v < min || v > max)
        return ALLOT_EINVAL;
    *out = v;
    return 0;
}

static int header_long(const struct allot_http_request *req, const char *name, long min, long max,
                       long *out, char *msg, size_t msg_size)
{
    struct allot_slice v = allot_http_request_header(req, name);

    if (!v.ptr)
        return 0;
    if (parse_long(v.ptr, v.len, min, max, out) == 0)
        return 0;
    snprintf(msg, msg_size, "header %s: '%.*s' is not a number from %ld to %ld", name,
             (int)(v.len > 40 ? 40 : v.len), v.ptr, min, max);
    return ALLOT_EINVAL;
}

static int header_flag(const struct allot_http_request *req, const char *name, int *out, char *msg,
                       size_t msg_size)
{
    struct allot_slice v = allot_http_request_header(req, name);

    if (!v.ptr)
        return 0;
    if (allot_slice_eq(v, "1") || allot_slice_ieq(v, "true") || allot_slice_ieq(v, "yes")) {
        *out = 1;
        return 0;
    }
    if (allot_slice_eq(v, "0") || allot_slice_ieq(v, "false") || allot_slice_ieq(v, "no")) {
        *out = 0;
        return 0;
    }
    snprintf(msg, msg_size, "header %s: '%.*s' is not 1 or 0", name, (int)(v.len > 40 ? 40 : v.len),
             v.ptr);
    return ALLOT_EINVAL;
}

static int is_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* A model-name segment "wordN" sets *out to N. */
static int segment_num(const char *seg, size_t n, const char *word, long max, long *out)
{
    size_t wl = strlen(word);
    if (n <= wl || strncmp(seg, word, wl) != 0)
        return 0;
    return parse_long(seg + wl, n - wl, 0, max, out) == 0;
}

/* Knobs in the model name, for tests that go through allot (which does not
 * forward client headers): "fail" and three digits anywhere sets the
 * status; segments between non-alphanumerics set the rest, e.g.
 * "sim-ttft200-tps50-cut3". */
static void knobs_from_model(struct knobs *k, const char *model, size_t len)
{
    size_t i, start;
    long n;

    for (i = 0; i + 7 <= len; i++) {
        if (memcmp(model + i, "fail", 4) == 0 && parse_long(model + i + 4, 3, 100, 599, &n) == 0) {
            k->status = n;
            break;
        }
    }
    for (i = 0; i < len;) {
        const char *seg;
        size_t sl;

        while (i < len && !is_alnum(model[i]))
            i++;
        start = i;
        while (i < len && is_alnum(model[i]))
            i++;
        seg = model + start;
        sl = i - start;
        if (sl == 0)
            break;
        if (sl == 4 && memcmp(seg, "hang", 4) == 0)
            k->hang = 1;
        else if (sl == 9 && memcmp(seg, "malformed", 9) == 0)
            k->malformed = 1;
        else if (sl == 7 && memcmp(seg, "nousage", 7) == 0)
            k->no_usage = 1;
        else if (sl == 5 && memcmp(seg, "empty", 5) == 0)
            k->empty = 1;
        else if (segment_num(seg, sl, "latency", FAKE_MAX_DELAY_MS, &n))
            k->latency_ms = n;
        else if (segment_num(seg, sl, "ttft", FAKE_MAX_DELAY_MS, &n))
            k->ttft_ms = n;
        else if (segment_num(seg, sl, "tps", FAKE_MAX_TPS, &n))
            k->tps = n;
        else if (segment_num(seg, sl, "tokens", FAKE_MAX_TOKENS, &n))
            k->tokens = n;
        else if (segment_num(seg, sl, "cut", FAKE_MAX_TOKENS, &n))
            k->cut_after = n;
    }
}

static int knobs_from_headers(struct knobs *k, const struct allot_http_request *req, char *msg,
                              size_t msz)
{
    int rc;

    if ((rc = header_long(req, "x-fake-latency-ms", 0, FAKE_MAX_DELAY_MS, &k->latency_ms, msg,
                          msz)) ||
        (rc = header_long(req, "x-fake-ttft-ms", 0, FAKE_MAX_DELAY_MS, &k->ttft_ms, msg, msz)) ||
        (rc = header_long(req, "x-fake-tokens-per-sec", 0, FAKE_MAX_TPS, &k->tps, msg, msz)) ||
        (rc = header_long(req, "x-fake-tokens", 0, FAKE_MAX_TOKENS, &k->tokens, msg, msz)) ||
        (rc = header_long(req, "x-fake-status", 100, 599, &k->status, msg, msz)) ||
        (rc = header_long(req, "x-fake-cut-after", 0, FAKE_MAX_TOKENS, &k->cut_after, msg, msz)) ||
        (rc = header_flag(req, "x-fake-malformed", &k->malformed, msg, msz)) ||
        (rc = header_flag(req, "x-fake-hang", &k->hang, msg, msz)) ||
        (rc = header_flag(req, "x-fake-no-usage", &k->no_usage, msg, msz)) ||
        (rc = header_flag(req, "x-fake-empty", &k->empty, msg, msz)))
        return rc;
    k->content = allot_http_request_header(req, "x-fake-content");
    if (k->content.ptr)
        k->empty = 0;
    return 0;
}

/* splitmix64: the --fail-rate dice, a pure function of seed and request
 * number so that a run is reproducible. */
static int run_fails(const struct fake_options *opt, uint64_t seq)
{
    uint64_t z = (uint64_t)opt->seed + seq * 0x9E3779B97F4A7C15u;

    if (opt->status == 0 || opt->fail_rate <= 0)
        return 0;
    if (opt->fail_rate >= 1)
        return 1;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
    z ^= z >> 31;
    return (double)(z >> 11) * 0x1.0p-53 < opt->fail_rate;
}

/* ---- chat completions ------------------------------------------------- */

/* Bytes of the text in a message's content: a string, or text parts. */
static size_t content_bytes(const json_t *content)
{
    size_t i, n = 0;
    json_t *part;

    if (json_is_string(content))
        return json_string_length(content);
    json_array_foreach(content, i, part)
    {
        json_t *text = json_object_get(part, "text");
        if (json_is_string(text))
            n += json_string_length(text);
    }
    return n;
}

static int read_chat(json_t *root, struct chat_view *v, char *msg, size_t msz)
{
    json_t *model, *messages, *m, *opts;
    size_t i;

    model = json_object_get(root, "model");
    if (!json_is_string(model)) {
        snprintf(msg, msz, "'model' is required and must be a string");
        return ALLOT_EINVAL;
    }
    v->model = json_string_value(model);
    v->model_len = json_string_length(model);
    v->stream = json_is_true(json_object_get(root, "stream"));
    opts = json_object_get(root, "stream_options");
    v->include_usage = json_is_true(json_object_get(opts, "include_usage"));
    messages = json_object_get(root, "messages");
    if (!json_is_array(messages) || json_array_size(messages) == 0) {
        snprintf(msg, msz, "'messages' must be a non-empty array");
        return ALLOT_EINVAL;
    }
    json_array_foreach(messages, i, m)
    {
        json_t *role = json_object_get(m, "role"), *content = json_object_get(m, "content");
        if (!json_is_string(role)) {
            snprintf(msg, msz, "'messages[%zu].role' is required and must be a string", i);
            return ALLOT_EINVAL;
        }
        v->content_bytes += content_bytes(content);
        if (strcmp(json_string_value(role), "user") == 0)
            v->last_user = content;
    }
    return 0;
}

/* Append up to *left characters of s (UTF-8 aware; a stray byte counts as
 * one) to o. */
static void emit_chars(struct out *o, const char *s, size_t n, size_t *left)
{
    size_t i = 0;

    while (i<n && * left> 0) {
        size_t l = 1;
        unsigned char c = (unsigned char)s[i];
        if (c >= 0xC0)
            while (i + l < n && l < 4 && ((unsigned char)s[i + l] & 0xC0) == 0x80)
                l++;
        i += l;
        (*left)--;
    }
    emit(o, s, i);
}

/* The generated answer: the words of "[NAME] answer to: SNIPPET", then
 * filler, cut or padded to exactly `tokens` words, each followed by a
 * space. */
static int build_content(struct fake_exchange *ex, const char *name, const json_t *last_user,
                         long tokens, struct allot_buf *tmp)
{
    static const char *const filler[] = {
        "lorem",  "ipsum", "dolor",  "sit",     "amet",   "consectetur", "adipiscing",
        "elit",   "sed",   "do",     "eiusmod", "tempor", "incididunt",  "ut",
        "labore", "et",    "dolore", "magna",   "aliqua"};
    struct out seed = {tmp, 0}, o = {&ex->content, 0};
    size_t left = SNIPPET_CHARS, pos = 0, i;
    long n = 0;

    allot_buf_reset(tmp);
    emitf(&seed, "[%s] answer to: ", name);
    if (json_is_string(last_user)) {
        emit_chars(&seed, json_string_value(last_user), json_string_length(last_user), &left);
    } else if (json_is_array(last_user)) {
        json_t *part;
        int first = 1;
        json_array_foreach(last_user, i, part)
        {
            json_t *text = json_object_get(part, "text");
            if (!json_is_string(text))
                continue;
            if (!first && left > 0) {
                emit(&seed, "\n", 1);
                left--;
            }
            first = 0;
            emit_chars(&seed, json_string_value(text), json_string_length(text), &left);
        }
    }
    if (seed.rc)
        return seed.rc;
    while (n < tokens) {
        size_t start;

        while (pos < tmp->len && is_space((unsigned char)tmp->ptr[pos]))
            pos++;
        if (pos >= tmp->len)
            break;
        start = pos;
        while (pos < tmp->len && !is_space((unsigned char)tmp->ptr[pos]))
            pos++;
        emit(&o, tmp->ptr + start, pos - start);
        emit(&o, " ", 1);
        n++;
    }
    for (i = 0; n < tokens; n++, i++) {
        emits(&o, filler[i % (sizeof filler / sizeof filler[0])]);
        emit(&o, " ", 1);
    }
    allot_buf_reset(tmp);
    return o.rc;
}

static void log_request(const struct fake_worker *w, const struct allot_http_request *req,
                        const struct fake_exchange *ex, const struct knobs *k)
{
    if (w->opt->quiet)
        return;
    allot_log_info("%s %.*s model=%.*s stream=%d status=%d%s%s%s", w->opt->name, (int)req->path.len,
                   req->path.ptr, (int)(ex->model.len > 2 ? ex->model.len - 2 : 0),
                   ex->model.len > 2 ? ex->model.ptr + 1 : "", ex->stream, ex->status,
                   k->hang ? " hang" : "", ex->cut_after >= 0 ? " cut" : "",
                   ex->malformed ? " malformed" : "");
}

static void handle_chat(struct fake_worker *w, struct allot_http_request *req)
{
    const struct fake_options *opt = w->opt;
    struct knobs k = {
        opt->latency_ms, opt->ttft_ms, opt->tokens_per_sec, opt->tokens, -1, -1, 0, 0, 0, 0,
        {NULL, 0}};
    struct chat_view v = {0};
    struct fake_seen seen;
    struct fake_exchange *ex = NULL;
    struct allot_buf tmp;
    json_error_t jerr;
    json_t *root;
    char msg[256];
    uint64_t delay_ms;
    int rc;

    allot_buf_init(&tmp, 4096);
    root = json_loadb(req->body.ptr ? req->body.ptr : "", req->body.len, JSON_ALLOW_NUL, &jerr);
    if (root && json_is_object(root)) {
        rc = read_chat(root, &v, msg, sizeof msg);
    } else if (root) {
        rc = ALLOT_EINVAL;
        snprintf(msg, sizeof msg, "the request body must be a JSON object");
    } else {
        rc = ALLOT_EPARSE;
        snprintf(msg, sizeof msg, "the request body is not JSON: line %d column %d: %s", jerr.line,
                 jerr.column, jerr.text);
    }
    seen.path = req->path;
    seen.body = allot_slice_of(req->body.ptr, req->body.len);
    seen.authorization = allot_http_request_header(req, "authorization");
    seen.content_type = allot_http_request_header(req, "content-type");
    seen.model = v.model;
    seen.stream = v.stream;
    fake_stats_record(w->stats, &seen);
    if (rc) {
        respond_error_now(w, req, 400, msg, "invalid_request_error");
        goto out;
    }
    knobs_from_model(&k, v.model, v.model_len);
    if ((rc = knobs_from_headers(&k, req, msg, sizeof msg))) {
        respond_error_now(w, req, 400, msg, "invalid_request_error");
        goto out;
    }
    ex = exchange_get(w);
    if (!ex) {
        respond_error_now(w, req, 500, "fake upstream: out of memory", "server_error");
        goto out;
    }
    ex->req = req;
    req->user = ex;
    ex->id = atomic_fetch_add(w->seq, 1) + 1;
    ex->created = (long long)time(NULL);
    ex->stream = v.stream;
    ex->include_usage = v.include_usage;
    ex->usage = !k.no_usage;
    ex->malformed = k.malformed;
    ex->cut_after = k.cut_after;
    ex->ttft_ms = k.ttft_ms;
    ex->tps = k.tps;
    ex->status = k.status >= 0 ? (int)k.status : run_fails(opt, ex->id) ? (int)opt->status : 200;
    ex->pos = 0;
    ex->sent = 0;
    ex->prompt_tokens = (long)((v.content_bytes + 3) / 4);
    if (k.content.ptr)
        rc = allot_buf_add(&ex->content, k.content.ptr, k.content.len);
    else if (!k.empty)
        rc = build_content(ex, opt->name, v.last_user, k.tokens, &tmp);
    if (!rc)
        rc = allot_buf_add_json_str(&ex->model, v.model, v.model_len);
    if (rc) {
        snprintf(msg, sizeof msg, "cannot build the answer: %s (model name or content too long)",
                 allot_strerror(rc));
        exchange_put(ex);
        respond_error_now(w, req, 400, msg, "invalid_request_error");
        goto out;
    }
    ex->completion_tokens = count_pieces(allot_buf_cstr(&ex->content), ex->content.len);
    log_request(w, req, ex, &k);
    if (k.hang) {
        ex->state = EX_HANG;
        goto out;
    }
    /* A non-stream answer waits as long as its stream would have taken. */
    delay_ms = (uint64_t)k.latency_ms;
    if (!ex->stream && ex->status >= 200 && ex->status <= 299) {
        delay_ms += (uint64_t)k.ttft_ms;
        if (k.tps > 0 && ex->completion_tokens > 1)
            delay_ms += ((uint64_t)(ex->completion_tokens - 1) * 1000u) / (uint64_t)k.tps;
    }
    if (delay_ms > 0)
        exchange_wait(ex, EX_DELAY, delay_ms);
    else
        exchange_run(ex);
out:
    allot_buf_release(&tmp);
    json_decref(root);
}

/* ---- routing ---------------------------------------------------------- */

static void on_request(struct allot_http_request *req, void *ctx)
{
    struct fake_worker *w = ctx;
    struct allot_slice p = req->path;
    char msg[160];

    req->user = NULL;
    allot_buf_reset(&w->scratch);
    if (req->method == HTTP_POST &&
        (allot_slice_eq(p, "/v1/chat/completions") || allot_slice_eq(p, "/chat/completions"))) {
        handle_chat(w, req);
    } else if (req->method == HTTP_GET && allot_slice_eq(p, "/healthz")) {
        (void)allot_buf_adds(&w->scratch, "ok\n");
        respond_now(w, req, 200, "text/plain");
    } else if (req->method == HTTP_GET &&
               (allot_slice_eq(p, "/v1/models") || allot_slice_eq(p, "/models"))) {
        if (fake_stats_models_json(w->stats, &w->scratch))
            respond_error_now(w, req, 500, "fake upstream: out of memory", "server_error");
        else
            respond_now(w, req, 200, "application/json");
    } else if (req->method == HTTP_GET && allot_slice_eq(p, "/stats")) {
        if (fake_stats_json(w->stats, w->opt->name, &w->scratch))
            respond_error_now(w, req, 500, "fake upstream: out of memory", "server_error");
        else
            respond_now(w, req, 200, "application/json");
    } else if (req->method == HTTP_POST && allot_slice_eq(p, "/stats/reset")) {
        fake_stats_reset(w->stats);
        (void)allot_buf_adds(&w->scratch, "{\"ok\":true}");
        respond_now(w, req, 200, "application/json");
    } else {
        snprintf(msg, sizeof msg, "fake upstream: no route for %s %.*s",
                 http_method_str((enum http_method)req->method), (int)(p.len > 100 ? 100 : p.len),
                 p.ptr);
        respond_error_now(w, req, 404, msg, "invalid_request_error");
    }
}

static void on_abort(struct allot_http_request *req, void *ctx)
{
    struct fake_exchange *ex = req->user;
    struct fake_worker *w = ctx;

    if (!ex)
        return;
    fake_stats_count(w->stats, FAKE_CANCELLED);
    ex->req = NULL;
    req->user = NULL;
    if (ex->busy) {
        ex->gone = 1;
        return;
    }
    exchange_put(ex);
}

const struct allot_http_handler fake_handler_template = {
    .on_request = on_request,
    .on_abort = on_abort,
    .on_drain = NULL,
    .format_error = NULL,
    .ctx = NULL,
};

void fake_worker_init(struct fake_worker *w, const struct fake_options *opt,
                      struct fake_stats *stats, atomic_uint_fast64_t *seq)
{
    memset(w, 0, sizeof *w);
    w->opt = opt;
    w->stats = stats;
    w->seq = seq;
    allot_buf_init(&w->scratch, SCRATCH_MAX);
}

static void on_exchange_closed(uv_handle_t *h)
{
    struct fake_exchange *ex = h->data;
    allot_buf_release(&ex->model);
    allot_buf_release(&ex->content);
    allot_buf_release(&ex->prefix);
    free(ex);
}

void fake_worker_close_pool(struct fake_worker *w)
{
    struct fake_exchange *ex = w->all, *next;

    for (; ex; ex = next) {
        next = ex->next_all;
        uv_close((uv_handle_t *)&ex->timer, on_exchange_closed);
    }
    w->all = NULL;
    w->idle = NULL;
}

void fake_worker_release(struct fake_worker *w)
{
    allot_buf_release(&w->scratch);
}
