/* fake_chat.c: the fake upstream's HTTP handler.
 *
 * Answers POST /v1/chat/completions like an OpenAI-compatible model server,
 * and POST /v1/messages like Anthropic's Messages API, deterministically:
 * the answer names the server and echoes the start of the last user
 * message, padded with filler words to an exact token count (one word = one
 * token). The answer, its knobs and its timing are the same for both; a
 * dialect (fake_openai.c, fake_anthropic.c) reads the request and writes
 * the bytes of the answer, its stream events and error bodies. Knobs from flags, the model id
 * ("sim-fail503", or "sim?status=503&tokens=3" for tests that go through allot, which forwards no
 * client headers) and x-fake-* headers (in that order, later wins) add latency, time to first
 * token, token pacing, error statuses, cut streams, malformed bodies and hangs, and answers of poor
 * quality (empty, refusals, finish_reason "length", broken JSON), always or for an exact share of
 * requests (bad-every, counted per model id in fake_stats.c), so that
 * allot's tests and benchmarks can provoke every upstream behaviour they
 * care about, the quality floor's included. Also serves /healthz,
 * /v1/models, /stats and POST /stats/reset.
 *
 * Bodies are read with cJSON (about five times cheaper than jansson for a
 * 1 KB body), behind liballot's strict check (json_check.h, the one the
 * gateway uses), which keeps the old strictness; see fake_json_parse.
 *
 * DESIGN: each chat or Messages request gets an exchange from a per-worker
 * free list; the exchange holds the plan (what to answer and when, and the
 * dialect that writes it), its own uv timer and reusable buffers, so a
 * steady load allocates nothing but cJSON's parse of the request. Responses are built in the
 * worker's scratch buffer and handed to the server, which copies them. An exchange is a small state
 * machine (enum exchange_state): the timer moves it along; on_abort (the
 * client left) returns it to the free list at once, unless we are inside a
 * call into the server for it (busy), in which case the caller does that
 * when the call returns. */
#include <stddef.h>
#include <llhttp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "fake_upstream.h"
#include "allot/clock.h"
#include "allot/json_member.h"
#include "allot/error.h"
#include "allot/json_check.h"
#include "allot/log.h"
#include "allot/utf8.h"

#define SCRATCH_MAX (64u << 20)
#define MODEL_MAX 1024
#define CONTENT_MAX (8u << 20)
#define PREFIX_MAX 2048
#define FINISH_MAX 256
/* An exchange keeps buffer allocations up to this between requests. */
#define KEEP_BYTES (256u << 10)
#define SNIPPET_CHARS 40
#define HINT_MAX 64 /* a retry-after or retry-after-ms knob's value, NUL included */

enum exchange_state {
    EX_IDLE,   /* in the worker's free list */
    EX_DELAY,  /* timer: latency (non-stream: latency and generation time) */
    EX_TTFT,   /* stream: head and opening events sent; timer: first token */
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
    const struct fake_dialect *d; /* the API the request came in */
    struct fake_answer a;
    int stream;
    int malformed;
    int status;     /* 2xx: answer; otherwise an error body */
    long cut_after; /* -1: never cut */
    long ttft_ms;
    long tps;
    int bad_header; /* x-fake-bad: -1 none, else 0 or 1 */
    /* Retry hints of an error answer (the retry-after and retry-after-ms
     * knobs), copied: the knobs' text does not outlive handle_answer. */
    char retry_after[HINT_MAX];    /* "": 429's default "1"; "none"; "date+N"; else as is */
    char retry_after_ms[HINT_MAX]; /* "": none */

    /* Stream progress. */
    size_t pos;     /* next byte of content to send */
    long sent;      /* content events sent */
    uint64_t t0_us; /* when the first token went out */
};

/* The bad answers of x-fake-bad, in the order of bad_names. */
enum bad_kind { BAD_EMPTY, BAD_REFUSAL, BAD_CUT, BAD_JSON, BAD_SCHEMA, BAD_TEXT };
static const char *const bad_names[] = {"empty", "refusal", "cut", "json", "schema", "text", NULL};
/* Their content; NULL: cut keeps the normal content, text takes
 * bad-content. Each fails one check of allot's quality floor. */
static const char *const bad_contents[] = {
    "",
    "I'm sorry, but I can't help with that request.",
    NULL,
    "{\"name\": \"Ada\", \"age\":", /* JSON cut short */
    "{\"unexpected\": true}",       /* JSON, but not what a schema wants */
    NULL,
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
    long cached_tokens;      /* of the prompt tokens, reported as cached */
    long cache_write_tokens; /* ... as written to the cache */
    int empty;
    int content_json;
    struct allot_slice content;        /* ptr NULL: generate */
    struct allot_slice finish;         /* ptr NULL: "stop" */
    struct allot_slice tool_call;      /* ptr NULL: answer with content */
    long bad_every;                    /* 0: off */
    int bad;                           /* enum bad_kind; -1: not given */
    struct allot_slice bad_content;    /* ptr NULL: not given */
    struct allot_slice retry_after;    /* ptr NULL: 429's default */
    struct allot_slice retry_after_ms; /* ptr NULL: none */
};

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

/* x-fake-bad: 0, then 1: whether a request with bad-every (or bad) got the
 * bad variant, for tests that call the fake directly. */
static const struct allot_http_header bad_headers[] = {
    {ALLOT_SLICE_LIT("x-fake-bad"), ALLOT_SLICE_LIT("0")},
    {ALLOT_SLICE_LIT("x-fake-bad"), ALLOT_SLICE_LIT("1")},
};

/* Answer a request that has no exchange: anything but chat completions
 * and messages, and those refused before planning. */
static void respond_now(struct fake_worker *w, struct allot_http_request *req, int status,
                        const char *content_type)
{
    struct allot_http_header h = {ALLOT_SLICE_LIT("Content-Type"), allot_slice_cstr(content_type)};
    (void)allot_http_respond(req, status, &h, 1, allot_buf_cstr(&w->scratch), w->scratch.len);
    allot_buf_reset(&w->scratch);
}

/* An error body in the dialect's form: OpenAI's for unknown routes. */
static void respond_error_now(struct fake_worker *w, struct allot_http_request *req,
                              const struct fake_dialect *d, int status, const char *message,
                              const char *type)
{
    allot_buf_reset(&w->scratch);
    if (d->error_body(&w->scratch, status, message, type)) {
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
    allot_buf_init(&ex->a.model, MODEL_MAX);
    allot_buf_init(&ex->a.content, CONTENT_MAX);
    allot_buf_init(&ex->a.prefix, PREFIX_MAX);
    allot_buf_init(&ex->a.finish, FINISH_MAX);
    allot_buf_init(&ex->a.tool, MODEL_MAX);
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
    keep_small(&ex->a.model);
    keep_small(&ex->a.content);
    keep_small(&ex->a.prefix);
    keep_small(&ex->a.finish);
    keep_small(&ex->a.tool);
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

static int parse_long(const char *p, size_t n, long min, long max, long *out);

/* The HTTP-date (IMF-fixdate, RFC 9110) of now + secs, by hand: strftime's
 * day and month names follow the locale. */
static void http_date(char *out, size_t size, long secs)
{
    static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    time_t t = time(NULL) + secs;
    struct tm tm;

    gmtime_r(&t, &tm);
    snprintf(out, size, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday], tm.tm_mday,
             months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* Check a retry-after / retry-after-ms knob's value and copy it into out:
 * at most HINT_MAX - 1 printable ASCII bytes; for retry-after, "date+N"
 * and "date-N" need N from 0 to 86400000. A message and ALLOT_EINVAL
 * otherwise. */
static int hint_knob(const char *knob, struct allot_slice v, int dated, char *out, char *msg,
                     size_t msz)
{
    size_t i;
    long n;

    out[0] = '\0';
    if (!v.ptr)
        return 0;
    for (i = 0; i < v.len && v.ptr[i] >= 0x20 && v.ptr[i] < 0x7f; i++)
        ;
    if (i < v.len || v.len >= HINT_MAX) {
        snprintf(msg, msz, "knob %s: at most %d printable ASCII bytes", knob, HINT_MAX - 1);
        return ALLOT_EINVAL;
    }
    if (dated && v.len >= 5 && memcmp(v.ptr, "date", 4) == 0 &&
        (v.ptr[4] == '+' || v.ptr[4] == '-') &&
        parse_long(v.ptr + 5, v.len - 5, 0, 86400000L, &n) != 0) {
        snprintf(msg, msz, "knob %s: '%.*s': date+N or date-N needs N from 0 to 86400000 seconds",
                 knob, (int)v.len, v.ptr);
        return ALLOT_EINVAL;
    }
    memcpy(out, v.ptr, v.len);
    out[v.len] = '\0';
    return 0;
}

/* Send a whole response and end the exchange. An error answer carries the
 * retry hints the knobs asked for; a 429 carries Retry-After: 1 unless
 * they say otherwise. */
static void exchange_respond(struct fake_exchange *ex, int status, const char *body, size_t len)
{
    struct allot_http_header h[4] = {json_headers[0]};
    char date[40];
    size_t nh = 1;

    if (status < 200 || status > 299) {
        const char *ra = ex->retry_after;
        if (!strncmp(ra, "date+", 5) || !strncmp(ra, "date-", 5)) {
            http_date(date, sizeof date, (ra[4] == '-' ? -1 : 1) * strtol(ra + 5, NULL, 10));
            h[nh].name = json_headers[1].name;
            h[nh++].value = allot_slice_cstr(date);
        } else if (ra[0] && strcmp(ra, "none") != 0) {
            h[nh].name = json_headers[1].name;
            h[nh++].value = allot_slice_cstr(ra);
        } else if (!ra[0] && status == 429) {
            h[nh++] = json_headers[1];
        }
        if (ex->retry_after_ms[0]) {
            h[nh].name = ALLOT_SLICE_LIT("retry-after-ms");
            h[nh++].value = allot_slice_cstr(ex->retry_after_ms);
        }
    }
    if (ex->bad_header >= 0)
        h[nh++] = bad_headers[ex->bad_header > 0];
    ex->busy = 1;
    (void)allot_http_respond(ex->req, status, h, nh, body, len);
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

/* ---- the exchange state machine -------------------------------------- */

static void stream_tokens(struct fake_exchange *ex);

/* The head is due: send it with the dialect's opening events (OpenAI's
 * role delta; Anthropic's message_start, content_block_start and ping),
 * then wait for the first token or send the tokens now. */
static void stream_start(struct fake_exchange *ex)
{
    struct fake_out o = {&ex->w->scratch, 0};
    struct allot_http_header h[3] = {sse_headers[0], sse_headers[1]};
    size_t nh = 2;
    int rc;

    if (ex->bad_header >= 0)
        h[nh++] = bad_headers[ex->bad_header > 0];
    ex->busy = 1;
    rc = allot_http_chunked_start(ex->req, ex->status, h, nh);
    ex->busy = 0;
    if (rc < 0 || ex->gone) {
        exchange_lost(ex);
        return;
    }
    allot_buf_reset(o.b);
    ex->d->stream_open(&o, &ex->a);
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
cut: /* cannot build an event: nothing better than closing */
    allot_buf_reset(&ex->w->scratch);
    exchange_cut(ex);
}

/* Send the content events now due (all, when tps is 0), then either end the
 * stream, cut it, or sleep until the next token is due. Events due together
 * leave in one write. */
static void stream_tokens(struct fake_exchange *ex)
{
    struct fake_out o = {&ex->w->scratch, 0};
    const char *content = allot_buf_cstr(&ex->a.content);
    long total = ex->a.completion_tokens, stop = total, due = total;
    uint64_t now = allot_clock_mono_us(), next_us;

    if (ex->cut_after >= 0 && ex->cut_after < stop)
        stop = ex->cut_after;
    if (ex->tps > 0) {
        uint64_t k = (now - ex->t0_us) * (uint64_t)ex->tps / 1000000u + 1;
        due = k < (uint64_t)total ? (long)k : total;
    }
    if (ex->malformed && ex->sent == 0 && ex->pos == 0) {
        ex->d->stream_malformed(&o, &ex->a);
        ex->malformed = 0;
    }
    while (ex->sent < due && ex->sent < stop) {
        size_t end = piece_end(content, ex->a.content.len, ex->pos);
        ex->d->stream_piece(&o, &ex->a, content + ex->pos, end - ex->pos);
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
    ex->d->stream_close(&o, &ex->a);
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
    struct fake_out o = {s, 0};
    int rc;

    allot_buf_reset(s);
    if (ex->status < 200 || ex->status > 299) {
        fake_stats_count(ex->w->stats, FAKE_INJECTED);
        rc = ex->d->error_body(s, ex->status, "fake upstream error", "server_error");
    } else if (ex->stream) {
        stream_start(ex);
        return;
    } else if (ex->cut_after >= 0) {
        exchange_cut(ex);
        return;
    } else if (ex->malformed) {
        ex->d->malformed_answer(&o, &ex->a);
        rc = o.rc;
    } else {
        ex->d->answer(&o, &ex->a);
        rc = o.rc;
    }
    if (rc) {
        allot_buf_reset(s);
        ex->status = 500;
        (void)ex->d->error_body(s, 500, "fake upstream: response too large", "server_error");
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

enum knob_type { KNOB_NUM, KNOB_FLAG, KNOB_TEXT, KNOB_ENUM };

/* Every per-request knob: its name in a model id's query ("sim?tokens=3"),
 * its header, its bounds, and where it lands in struct knobs. One table, so
 * that the headers and the model-id form cannot drift apart. */
struct knob_spec {
    const char *name;
    const char *header;
    enum knob_type type;
    long min, max;
    size_t offset; /* into struct knobs: a long (NUM), an int (FLAG, ENUM), a slice (TEXT) */
    const char *const *choices; /* ENUM: the values, NULL-terminated; the int is the index */
};

#define KOFF(f) offsetof(struct knobs, f)
static const struct knob_spec knob_table[] = {
    {"latency-ms", "x-fake-latency-ms", KNOB_NUM, 0, FAKE_MAX_DELAY_MS, KOFF(latency_ms), NULL},
    {"ttft-ms", "x-fake-ttft-ms", KNOB_NUM, 0, FAKE_MAX_DELAY_MS, KOFF(ttft_ms), NULL},
    {"tokens-per-sec", "x-fake-tokens-per-sec", KNOB_NUM, 0, FAKE_MAX_TPS, KOFF(tps), NULL},
    {"tokens", "x-fake-tokens", KNOB_NUM, 0, FAKE_MAX_TOKENS, KOFF(tokens), NULL},
    {"status", "x-fake-status", KNOB_NUM, 100, 599, KOFF(status), NULL},
    {"cut-after", "x-fake-cut-after", KNOB_NUM, 0, FAKE_MAX_TOKENS, KOFF(cut_after), NULL},
    {"malformed", "x-fake-malformed", KNOB_FLAG, 0, 1, KOFF(malformed), NULL},
    {"hang", "x-fake-hang", KNOB_FLAG, 0, 1, KOFF(hang), NULL},
    {"no-usage", "x-fake-no-usage", KNOB_FLAG, 0, 1, KOFF(no_usage), NULL},
    {"cached-tokens", "x-fake-cached-tokens", KNOB_NUM, 0, FAKE_MAX_TOKENS, KOFF(cached_tokens),
     NULL},
    {"cache-write-tokens", "x-fake-cache-write-tokens", KNOB_NUM, 0, FAKE_MAX_TOKENS,
     KOFF(cache_write_tokens), NULL},
    {"empty", "x-fake-empty", KNOB_FLAG, 0, 1, KOFF(empty), NULL},
    {"content", "x-fake-content", KNOB_TEXT, 0, 0, KOFF(content), NULL},
    {"content-json", "x-fake-content-json", KNOB_FLAG, 0, 1, KOFF(content_json), NULL},
    {"finish", "x-fake-finish", KNOB_TEXT, 0, 0, KOFF(finish), NULL},
    {"tool-call", "x-fake-tool-call", KNOB_TEXT, 0, 0, KOFF(tool_call), NULL},
    {"bad-every", "x-fake-bad-every", KNOB_NUM, 0, FAKE_MAX_BAD_EVERY, KOFF(bad_every), NULL},
    {"bad", "x-fake-bad", KNOB_ENUM, 0, 0, KOFF(bad), bad_names},
    {"bad-content", "x-fake-bad-content", KNOB_TEXT, 0, 0, KOFF(bad_content), NULL},
    {"retry-after", "x-fake-retry-after", KNOB_TEXT, 0, 0, KOFF(retry_after), NULL},
    {"retry-after-ms", "x-fake-retry-after-ms", KNOB_TEXT, 0, 0, KOFF(retry_after_ms), NULL},
};
#define N_KNOBS (sizeof knob_table / sizeof knob_table[0])
#define KNOB_NAMES                                                                                 \
    "latency-ms, ttft-ms, tokens-per-sec, tokens, status, cut-after, malformed, hang, no-usage, "  \
    "cached-tokens, cache-write-tokens, empty, content, content-json, finish, tool-call, "         \
    "bad-every, bad, bad-content, retry-after, "                                                   \
    "retry-after-ms"

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

/* Set one knob from its text. `where` names the source for the message
 * ("header x-fake-tokens"). */
static int knob_set(struct knobs *k, const struct knob_spec *spec, struct allot_slice v,
                    const char *where, char *msg, size_t msz)
{
    char *field = (char *)k + spec->offset;
    int shown = (int)(v.len > 40 ? 40 : v.len);
    char list[128] = "";
    size_t i, used = 0;
    long n;

    switch (spec->type) {
    case KNOB_NUM:
        if (parse_long(v.ptr, v.len, spec->min, spec->max, &n) == 0) {
            *(long *)(void *)field = n;
            return 0;
        }
        snprintf(msg, msz, "%s: '%.*s' is not a number from %ld to %ld", where, shown, v.ptr,
                 spec->min, spec->max);
        return ALLOT_EINVAL;
    case KNOB_FLAG:
        if (allot_slice_eq(v, "1") || allot_slice_ieq(v, "true") || allot_slice_ieq(v, "yes")) {
            *(int *)(void *)field = 1;
            return 0;
        }
        if (allot_slice_eq(v, "0") || allot_slice_ieq(v, "false") || allot_slice_ieq(v, "no")) {
            *(int *)(void *)field = 0;
            return 0;
        }
        snprintf(msg, msz, "%s: '%.*s' is not 1/true/yes or 0/false/no", where, shown, v.ptr);
        return ALLOT_EINVAL;
    case KNOB_TEXT:
        *(struct allot_slice *)(void *)field = v;
        return 0;
    case KNOB_ENUM:
        for (i = 0; spec->choices[i]; i++) {
            if (allot_slice_eq(v, spec->choices[i])) {
                *(int *)(void *)field = (int)i;
                return 0;
            }
            if (used < sizeof list)
                used += (size_t)snprintf(list + used, sizeof list - used, "%s%s", i ? ", " : "",
                                         spec->choices[i]);
        }
        snprintf(msg, msz, "%s: '%.*s' is not one of %s", where, shown, v.ptr, list);
        return ALLOT_EINVAL;
    }
    return ALLOT_EINVAL;
}

static int knobs_from_headers(struct knobs *k, const struct allot_http_request *req, char *msg,
                              size_t msz)
{
    char where[64];
    size_t i;
    int rc;

    for (i = 0; i < N_KNOBS; i++) {
        struct allot_slice v = allot_http_request_header(req, knob_table[i].header);
        if (!v.ptr)
            continue;
        snprintf(where, sizeof where, "header %s", knob_table[i].header);
        if ((rc = knob_set(k, &knob_table[i], v, where, msg, msz)))
            return rc;
    }
    return 0;
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

/* A model-name segment "badWORD", WORD a bad answer that needs no
 * bad-content: its enum bad_kind, or -1. */
static int segment_bad(const char *seg, size_t n)
{
    int i;

    if (n <= 3 || memcmp(seg, "bad", 3) != 0)
        return -1;
    for (i = 0; i < BAD_TEXT; i++)
        if (strlen(bad_names[i]) == n - 3 && memcmp(seg + 3, bad_names[i], n - 3) == 0)
            return i;
    return -1;
}

/* Knobs in the name part of a model id (before any '?'): "fail" and three
 * digits anywhere sets the status; segments between non-alphanumerics set
 * the rest, e.g. "sim-ttft200-tps50-cut3". Words that are not knobs are
 * part of the name, so nothing here is an error. */
static void knobs_from_name(struct knobs *k, const char *model, size_t len)
{
    size_t i, start;
    long n;
    int b;

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
        else if (sl == 11 && memcmp(seg, "contentjson", 11) == 0)
            k->content_json = 1;
        else if (sl > 6 && memcmp(seg, "finish", 6) == 0)
            k->finish = allot_slice_of(seg + 6, sl - 6);
        else if (segment_num(seg, sl, "badevery", FAKE_MAX_BAD_EVERY, &n))
            k->bad_every = n;
        else if ((b = segment_bad(seg, sl)) >= 0)
            k->bad = b;
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

/* Percent-decode p[0..n) into out[0..out_size); '+' stays a plus. The
 * decoded length, or -1 on a '%' without two hex digits after it, -2 when
 * out is too small. */
static long percent_decode(const char *p, size_t n, char *out, size_t out_size)
{
    size_t i, o = 0;

    for (i = 0; i < n; i++) {
        char c = p[i];
        if (c == '%') {
            int hi = i + 2 < n ? allot_json_check_hex(p[i + 1]) : -1,
                lo = hi >= 0 ? allot_json_check_hex(p[i + 2]) : -1;
            if (lo < 0)
                return -1;
            c = (char)(hi * 16 + lo);
            i += 2;
        }
        if (o >= out_size)
            return -2;
        out[o++] = c;
    }
    return (long)o;
}

/* Knobs in the query part of a model id, for tests that go through allot
 * (which forwards no client headers): "sim?status=500&tokens=3" takes the
 * names of the x-fake-* headers without the prefix, with percent-decoded
 * values; a flag alone ("sim?hang") means 1. Unlike a name segment, a
 * query is meant as knobs, so an unknown name or a bad value is an error.
 * Decoded values are kept in text[0..text_size), which must outlive k. */
static int knobs_from_query(struct knobs *k, const char *model, size_t len, size_t start,
                            char *text, size_t text_size, char *msg, size_t msz)
{
    int shown = (int)(len > 80 ? 80 : len);
    size_t i = start, used = 0;
    char where[160];
    int rc;

    while (i <= len) {
        const char *param = model + i, *eq;
        const struct knob_spec *spec = NULL;
        size_t end = i, plen, nlen, j;
        struct allot_slice v;
        long dl;

        while (end < len && model[end] != '&')
            end++;
        plen = end - i;
        i = end + 1;
        if (plen == 0)
            continue;
        eq = memchr(param, '=', plen);
        nlen = eq ? (size_t)(eq - param) : plen;
        for (j = 0; j < N_KNOBS && !spec; j++)
            if (strlen(knob_table[j].name) == nlen && memcmp(knob_table[j].name, param, nlen) == 0)
                spec = &knob_table[j];
        if (!spec) {
            snprintf(msg, msz, "model '%.*s': unknown knob '%.*s' (known: " KNOB_NAMES ")", shown,
                     model, (int)(nlen > 40 ? 40 : nlen), param);
            return ALLOT_EINVAL;
        }
        snprintf(where, sizeof where, "model '%.*s': knob %s", shown, model, spec->name);
        if (!eq && spec->type != KNOB_FLAG) {
            snprintf(msg, msz, "%s: needs a value (%s=...)", where, spec->name);
            return ALLOT_EINVAL;
        }
        if (!eq) {
            v = allot_slice_of("1", 1);
        } else {
            dl = percent_decode(eq + 1, plen - nlen - 1, text + used, text_size - used);
            if (dl < 0) {
                snprintf(msg, msz, "%s: %s", where,
                         dl == -1 ? "a '%' not followed by two hex digits"
                                  : "the model id is too long for knobs");
                return ALLOT_EINVAL;
            }
            v = allot_slice_of(text + used, (size_t)dl);
            if (spec->type == KNOB_TEXT)
                used += (size_t)dl; /* keep it; other values are read at once */
        }
        if ((rc = knob_set(k, spec, v, where, msg, msz)))
            return rc;
    }
    return 0;
}

/* Knobs in a model id: the name part, then the query part (so that
 * "sim-tokens4?tokens=2" gives 2). Only the query can be in error. */
static int knobs_from_model(struct knobs *k, const char *model, size_t len, char *text,
                            size_t text_size, char *msg, size_t msz)
{
    const char *q = memchr(model, '?', len);
    size_t name_len = q ? (size_t)(q - model) : len;

    knobs_from_name(k, model, name_len);
    if (!q)
        return 0;
    return knobs_from_query(k, model, len, name_len + 1, text, text_size, msg, msz);
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

/* ---- JSON ------------------------------------------------------------- */

/* The words for a problem the strict check found: the fake's own where
 * docs/fake_upstream.md and smoke.sh promise them, the check's otherwise. */
static const char *json_reason(const struct allot_json_check_error *e, const char *text, size_t len)
{
    switch (e->kind) {
    case ALLOT_JSON_CHECK_END:
        if (allot_json_check_skip_ws(text, len, 0) == len)
            return len ? "there is no JSON value, only blanks" : "the text is empty";
        return "the text ends before the JSON value does";
    case ALLOT_JSON_CHECK_UNTERMINATED:
        return "the text ends before the JSON value does";
    case ALLOT_JSON_CHECK_TRAILING:
        return "more text after the JSON value";
    case ALLOT_JSON_CHECK_UTF8:
        return "bytes that are not UTF-8";
    default:
        return e->why;
    }
}

cJSON *fake_json_parse(const char *text, size_t len, char *why, size_t why_size)
{
    struct allot_json_check_error e;
    const char *end = NULL;
    char near[24];
    cJSON *root = NULL;
    size_t i, n = 0;

    /* the strict check first: cJSON alone lets through what a real
     * upstream refuses; \u0000 stays allowed (the manual says a string
     * ends there, as cJSON reads it) */
    if (allot_json_check(text, len, ALLOT_JSON_CHECK_NUL_OK, NULL, NULL, &e) == 0) {
        /* return_parse_end, not cJSON_GetErrorPtr: that one is a process
         * global, shared by every worker thread */
        root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
        if (root)
            return root;
        /* cJSON reads all the check passes, so it ran out of memory */
        if (why && why_size)
            snprintf(why, why_size, "out of memory reading it");
        return NULL;
    }
    if (why && why_size) {
        for (i = e.pos; i < len && n < 16 && text[i] != '\n'; i++)
            near[n++] =
                (unsigned char)text[i] < 0x20 || (unsigned char)text[i] >= 0x7F ? '?' : text[i];
        near[n] = '\0';
        /* columns in bytes, as the manual says */
        if (n)
            snprintf(why, why_size, "line %zu column %zu: %s, at '%s'", e.line, e.byte_column,
                     json_reason(&e, text, len), near);
        else
            snprintf(why, why_size, "line %zu column %zu: %s", e.line, e.byte_column,
                     json_reason(&e, text, len));
    }
    return NULL;
}

cJSON *fake_json_member(const cJSON *obj, const char *key)
{
    return allot_json_member(obj, key); /* the last duplicate counts, as in allot */
}

/* ---- the answer ------------------------------------------------------ */

size_t fake_text_bytes(const cJSON *content)
{
    const cJSON *part;
    size_t n = 0;

    if (cJSON_IsString(content))
        return strlen(content->valuestring);
    if (!cJSON_IsArray(content))
        return 0;
    cJSON_ArrayForEach(part, content)
    {
        const cJSON *text = fake_json_member(part, "text");
        if (cJSON_IsString(text))
            n += strlen(text->valuestring);
    }
    return n;
}

/* Append up to *left characters of s (UTF-8 aware; a stray byte counts as
 * one) to o. */
static void emit_chars(struct fake_out *o, const char *s, size_t n, size_t *left)
{
    size_t i = 0;

    while (i<n && * left> 0) {
        size_t l = allot_utf8_seq_len((const unsigned char *)s + i, n - i);
        i += l ? l : 1;
        (*left)--;
    }
    fake_emit(o, s, i);
}

/* The generated answer: the words of "[NAME] answer to: SNIPPET", then
 * filler, cut or padded to exactly `tokens` words, each followed by a
 * space. */
static int build_content(struct allot_buf *content, const char *name, const cJSON *last_user,
                         long tokens, struct allot_buf *tmp)
{
    static const char *const filler[] = {
        "lorem",  "ipsum", "dolor",  "sit",     "amet",   "consectetur", "adipiscing",
        "elit",   "sed",   "do",     "eiusmod", "tempor", "incididunt",  "ut",
        "labore", "et",    "dolore", "magna",   "aliqua"};
    struct fake_out seed = {tmp, 0}, o = {content, 0};
    size_t left = SNIPPET_CHARS, pos = 0, i;
    long n = 0;

    allot_buf_reset(tmp);
    fake_emitf(&seed, "[%s] answer to: ", name);
    if (cJSON_IsString(last_user)) {
        emit_chars(&seed, last_user->valuestring, strlen(last_user->valuestring), &left);
    } else if (cJSON_IsArray(last_user)) {
        const cJSON *part;
        int first = 1;
        cJSON_ArrayForEach(part, last_user)
        {
            const cJSON *text = fake_json_member(part, "text");
            if (!cJSON_IsString(text))
                continue;
            if (!first && left > 0) {
                fake_emit(&seed, "\n", 1);
                left--;
            }
            first = 0;
            emit_chars(&seed, text->valuestring, strlen(text->valuestring), &left);
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
        fake_emit(&o, tmp->ptr + start, pos - start);
        fake_emit(&o, " ", 1);
        n++;
    }
    for (i = 0; n < tokens; n++, i++) {
        fake_emits(&o, filler[i % (sizeof filler / sizeof filler[0])]);
        fake_emit(&o, " ", 1);
    }
    allot_buf_reset(tmp);
    return o.rc;
}

/* content-json: the words as {"answer": "WORDS", "ok": true}, for tests
 * where JSON was asked for and the good answer must be valid JSON. WORDS
 * lose their trailing space; tmp is scratch space. */
static int wrap_in_json(struct allot_buf *content, struct allot_buf *tmp)
{
    struct fake_out o = {content, 0};
    size_t n = content->len;
    int rc;

    allot_buf_reset(tmp);
    if ((rc = allot_buf_add(tmp, allot_buf_cstr(content), n)))
        return rc;
    while (n > 0 && tmp->ptr[n - 1] == ' ')
        n--;
    allot_buf_reset(content);
    fake_emits(&o, "{\"answer\": ");
    fake_emit_json(&o, tmp->ptr, n);
    fake_emits(&o, ", \"ok\": true}");
    allot_buf_reset(tmp);
    return o.rc;
}

/* Whether this request gets the bad variant: with bad-every, by its turn
 * in its model id's count (process-wide, see fake_stats_bad_turn); with
 * bad alone, always. ALLOT_ENOMEM when the count cannot be kept. */
static int pick_bad(struct fake_stats *stats, const struct fake_request_view *v,
                    const struct knobs *k, int *is_bad)
{
    int bad = 0, rc = 0;

    if (k->bad_every > 0)
        rc = fake_stats_bad_turn(stats, v->model, v->model_len, k->bad_every, &bad);
    else if (k->bad >= 0)
        bad = 1;
    if (rc)
        return rc;
    if (bad && k->bad_every == 0)
        fake_stats_count(stats, FAKE_BAD);
    *is_bad = bad;
    return 0;
}

/* The content and finish_reason of the answer. A bad one replaces the
 * content (cut keeps it and says "length"); a good one is the content knob,
 * else nothing for empty, else the generated words, as JSON for
 * content-json. */
static int build_answer(struct fake_exchange *ex, const char *name,
                        const struct fake_request_view *v, const struct knobs *k, int is_bad,
                        struct allot_buf *tmp)
{
    int bad = k->bad >= 0 ? k->bad : k->bad_content.ptr ? BAD_TEXT : BAD_EMPTY;
    struct allot_slice finish = k->finish.ptr      ? k->finish
                                : k->tool_call.ptr ? allot_slice_of("tool_calls", 10)
                                                   : allot_slice_of("stop", 4);
    int rc;

    if (is_bad && bad == BAD_CUT)
        finish = allot_slice_of("length", 6);
    if ((rc = allot_buf_add(&ex->a.finish, finish.ptr, finish.len)))
        return rc;
    if (is_bad && bad == BAD_TEXT)
        return allot_buf_add(&ex->a.content, k->bad_content.ptr, k->bad_content.len);
    if (is_bad && bad_contents[bad])
        return allot_buf_adds(&ex->a.content, bad_contents[bad]);
    if (k->content.ptr)
        return allot_buf_add(&ex->a.content, k->content.ptr, k->content.len);
    if (k->empty)
        return 0;
    rc = build_content(&ex->a.content, name, v->last_user, k->tokens, tmp);
    if (!rc && (k->content_json || k->tool_call.ptr))
        rc = wrap_in_json(&ex->a.content, tmp);
    if (!rc && k->tool_call.ptr)
        rc = allot_buf_add_json_str(&ex->a.tool, k->tool_call.ptr, k->tool_call.len);
    return rc;
}

static void log_request(const struct fake_worker *w, const struct allot_http_request *req,
                        const struct fake_exchange *ex, const struct knobs *k)
{
    if (w->opt->quiet)
        return;
    allot_log_info("%s %.*s model=%.*s stream=%d status=%d%s%s%s%s", w->opt->name,
                   (int)req->path.len, req->path.ptr,
                   (int)(ex->a.model.len > 2 ? ex->a.model.len - 2 : 0),
                   ex->a.model.len > 2 ? ex->a.model.ptr + 1 : "", ex->stream, ex->status,
                   k->hang ? " hang" : "", ex->cut_after >= 0 ? " cut" : "",
                   ex->malformed ? " malformed" : "", ex->bad_header > 0 ? " bad" : "");
}

/* A chat completion or a message, d saying which: read, record, check the
 * key (Messages), plan the answer from the knobs, then wait or answer. */
static void handle_answer(struct fake_worker *w, struct allot_http_request *req,
                          const struct fake_dialect *d)
{
    const struct fake_options *opt = w->opt;
    struct knobs k = {.latency_ms = opt->latency_ms,
                      .ttft_ms = opt->ttft_ms,
                      .tps = opt->tokens_per_sec,
                      .tokens = opt->tokens,
                      .status = -1,
                      .cut_after = -1,
                      .bad = -1};
    struct fake_request_view v = {0};
    struct fake_seen seen;
    struct fake_exchange *ex = NULL;
    struct allot_buf tmp;
    cJSON *root;
    char msg[512], why[200]; /* msg: an unknown knob lists every knob */
    char decoded[MODEL_MAX]; /* text knobs from the model id */
    char hint[2][HINT_MAX];  /* the retry-after and retry-after-ms knobs */
    uint64_t delay_ms;
    int rc, is_bad = 0, refused;

    allot_buf_init(&tmp, CONTENT_MAX);
    root = fake_json_parse(req->body.ptr ? req->body.ptr : "", req->body.len, why, sizeof why);
    if (cJSON_IsObject(root)) {
        rc = d->read(root, &v, msg, sizeof msg);
    } else if (root) {
        rc = ALLOT_EINVAL;
        snprintf(msg, sizeof msg, "the request body must be a JSON object");
    } else {
        rc = ALLOT_EPARSE;
        snprintf(msg, sizeof msg, "the request body is not JSON: %s", why);
    }
    seen.path = req->path;
    seen.body = allot_slice_of(req->body.ptr, req->body.len);
    seen.key_header = d->key_header;
    seen.bearer = d->bearer;
    seen.key = allot_http_request_header(req, d->key_header);
    seen.version = allot_http_request_header(req, "anthropic-version");
    seen.beta = allot_http_request_header(req, "anthropic-beta");
    seen.content_type = allot_http_request_header(req, "content-type");
    seen.model = v.model;
    seen.stream = v.stream;
    fake_stats_record(w->stats, &seen);
    /* credentials before the body, as real APIs check them */
    if (d->refuse && (refused = d->refuse(opt, req, msg, sizeof msg))) {
        respond_error_now(w, req, d, refused, msg, "authentication_error");
        goto out;
    }
    if (rc) {
        respond_error_now(w, req, d, 400, msg, "invalid_request_error");
        goto out;
    }
    if ((rc = knobs_from_model(&k, v.model, v.model_len, decoded, sizeof decoded, msg,
                               sizeof msg)) ||
        (rc = knobs_from_headers(&k, req, msg, sizeof msg))) {
        respond_error_now(w, req, d, 400, msg, "invalid_request_error");
        goto out;
    }
    if (k.content.ptr)
        k.empty = 0; /* content overrides empty, whichever came first */
    if ((rc = hint_knob("retry-after", k.retry_after, 1, hint[0], msg, sizeof msg)) ||
        (rc = hint_knob("retry-after-ms", k.retry_after_ms, 0, hint[1], msg, sizeof msg))) {
        respond_error_now(w, req, d, 400, msg, "invalid_request_error");
        goto out;
    }
    if (k.bad == BAD_TEXT && !k.bad_content.ptr) {
        respond_error_now(w, req, d, 400,
                          "knob bad=text needs bad-content (x-fake-bad-content, or bad-content= "
                          "in the model id's query): the content of the bad answer",
                          "invalid_request_error");
        goto out;
    }
    if (pick_bad(w->stats, &v, &k, &is_bad)) {
        snprintf(msg, sizeof msg,
                 "fake upstream: cannot count bad-every for model '%.*s': out of memory or "
                 "%d model ids counted already (POST /stats/reset forgets them)",
                 (int)(v.model_len > 80 ? 80 : v.model_len), v.model, FAKE_STATS_MAX_MODELS);
        respond_error_now(w, req, d, 500, msg, "server_error");
        goto out;
    }
    ex = exchange_get(w);
    if (!ex) {
        respond_error_now(w, req, d, 500, "fake upstream: out of memory", "server_error");
        goto out;
    }
    ex->req = req;
    req->user = ex;
    ex->d = d;
    ex->a.id = atomic_fetch_add(w->seq, 1) + 1;
    ex->a.created = (long long)time(NULL);
    ex->stream = v.stream;
    ex->a.include_usage = v.include_usage;
    ex->a.inputs = v.inputs;
    ex->a.base64 = v.base64;
    ex->a.usage = !k.no_usage;
    ex->malformed = k.malformed;
    ex->cut_after = k.cut_after;
    ex->ttft_ms = k.ttft_ms;
    ex->tps = k.tps;
    ex->status = k.status >= 0 ? (int)k.status : run_fails(opt, ex->a.id) ? (int)opt->status : 200;
    ex->pos = 0;
    ex->sent = 0;
    ex->bad_header = k.bad_every > 0 || k.bad >= 0 ? is_bad : -1;
    memcpy(ex->retry_after, hint[0], sizeof ex->retry_after);
    memcpy(ex->retry_after_ms, hint[1], sizeof ex->retry_after_ms);
    ex->a.prompt_tokens = (long)((v.content_bytes + 3) / 4);
    /* parts of the prompt: capped by it, reads first */
    ex->a.cached_tokens =
        k.cached_tokens < ex->a.prompt_tokens ? k.cached_tokens : ex->a.prompt_tokens;
    ex->a.cache_write_tokens = k.cache_write_tokens < ex->a.prompt_tokens - ex->a.cached_tokens
                                   ? k.cache_write_tokens
                                   : ex->a.prompt_tokens - ex->a.cached_tokens;
    rc = build_answer(ex, opt->name, &v, &k, is_bad, &tmp);
    if (!rc)
        rc = allot_buf_add_json_str(&ex->a.model, v.model, v.model_len);
    if (rc) {
        snprintf(msg, sizeof msg,
                 "cannot build the answer: %s (model name, content or finish too long)",
                 allot_strerror(rc));
        exchange_put(ex);
        respond_error_now(w, req, d, 400, msg, "invalid_request_error");
        goto out;
    }
    ex->a.completion_tokens = count_pieces(allot_buf_cstr(&ex->a.content), ex->a.content.len);
    log_request(w, req, ex, &k);
    if (k.hang) {
        ex->state = EX_HANG;
        goto out;
    }
    /* A non-stream answer waits as long as its stream would have taken. */
    delay_ms = (uint64_t)k.latency_ms;
    if (!ex->stream && ex->status >= 200 && ex->status <= 299) {
        delay_ms += (uint64_t)k.ttft_ms;
        if (k.tps > 0 && ex->a.completion_tokens > 1)
            delay_ms += ((uint64_t)(ex->a.completion_tokens - 1) * 1000u) / (uint64_t)k.tps;
    }
    if (delay_ms > 0)
        exchange_wait(ex, EX_DELAY, delay_ms);
    else
        exchange_run(ex);
out:
    allot_buf_release(&tmp);
    cJSON_Delete(root);
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
        handle_answer(w, req, &fake_openai);
    } else if (req->method == HTTP_POST &&
               (allot_slice_eq(p, "/v1/messages") || allot_slice_eq(p, "/messages"))) {
        handle_answer(w, req, &fake_anthropic);
    } else if (req->method == HTTP_POST &&
               (allot_slice_eq(p, "/v1/embeddings") || allot_slice_eq(p, "/embeddings"))) {
        handle_answer(w, req, &fake_embeddings);
    } else if (req->method == HTTP_GET && allot_slice_eq(p, "/healthz")) {
        (void)allot_buf_adds(&w->scratch, "ok\n");
        respond_now(w, req, 200, "text/plain");
    } else if (req->method == HTTP_GET &&
               (allot_slice_eq(p, "/v1/models") || allot_slice_eq(p, "/models"))) {
        if (fake_stats_models_json(w->stats, &w->scratch))
            respond_error_now(w, req, &fake_openai, 500, "fake upstream: out of memory",
                              "server_error");
        else
            respond_now(w, req, 200, "application/json");
    } else if (req->method == HTTP_GET && allot_slice_eq(p, "/stats")) {
        if (fake_stats_json(w->stats, w->opt->name, &w->scratch))
            respond_error_now(w, req, &fake_openai, 500, "fake upstream: out of memory",
                              "server_error");
        else
            respond_now(w, req, 200, "application/json");
    } else if (req->method == HTTP_POST && allot_slice_eq(p, "/stats/reset")) {
        fake_stats_reset(w->stats);
        (void)allot_buf_adds(&w->scratch, "{\"ok\":true}");
        respond_now(w, req, 200, "application/json");
    } else {
        snprintf(msg, sizeof msg, "fake upstream: no route for %s %.*s",
                 allot_http_method_name(req->method), (int)(p.len > 100 ? 100 : p.len), p.ptr);
        respond_error_now(w, req, &fake_openai, 404, msg, "invalid_request_error");
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
    allot_buf_release(&ex->a.model);
    allot_buf_release(&ex->a.content);
    allot_buf_release(&ex->a.prefix);
    allot_buf_release(&ex->a.finish);
    allot_buf_release(&ex->a.tool);
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
