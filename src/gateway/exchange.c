/* exchange.c: one chat completion, from the client's request to the last
 * byte of the answer and its ledger row.
 *
 * DESIGN: an exchange is an explicit state machine driven by the HTTP
 * server (request, abort, drain) and the upstream client (head, data,
 * done) on one loop thread:
 *
 *   ATTEMPT    an upstream attempt is in flight and the client has been
 *              sent nothing. A connect failure, timeout, 429 or 5xx (or an
 *              unparseable 200) moves to the next model of the decision,
 *              up to limits.max_attempts; a non-stream answer is buffered
 *              here (capped) to read its usage.
 *   STREAMING  the upstream answered 2xx with an event stream and the
 *              client has the SSE head: events are relayed one by one as
 *              they arrive, unchanged (the usage chunk allot asked for on
 *              the client's behalf is dropped if the client did not ask).
 *              A failure now reaches the client as an error event, never
 *              as a clean [DONE].
 *   FINISHED   the response ended or the client went away: memory freed
 *              (finish()). The ledger row is written, and metrics counted,
 *              by record() just before the response's last bytes go out
 *              (or at finish when none do), so a client never holds an
 *              answer whose row a kill could lose (docs/ledger.md).
 *
 * Nothing is freed inside a curl callback: on_head/on_data only return
 * codes that make curl end the transfer, and the exchange finishes in
 * on_done, which the upstream client calls after the transfer is released.
 * A client that goes away while an upstream callback runs (a write inside
 * on_data can discover it) is marked and finished in on_done the same way. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cJSON.h>
#include "allot/anthropic.h"
#include "allot/anthropic_up.h"
#include "allot/budget.h"
#include "allot/ratelimit.h"
#include "allot/responses.h"
#include "allot/chat_answer.h"
#include "allot/json_text.h"
#include "allot/chat_request.h"
#include "allot/check.h"
#include "allot/clock.h"
#include "allot/cooldown.h"
#include "allot/cost.h"
#include "allot/error.h"
#include "allot/fmt.h"
#include "allot/json_arena.h"
#include "allot/json_member.h"
#include "allot/json_check.h"
#include "allot/json_tree.h"
#include "allot/log.h"
#include "allot/sse.h"
#include "internal.h"

#define MAX_SSE_EVENT (4u << 20)
#define MAX_ERROR_BODY (64u << 10)

enum xstate { X_ATTEMPT, X_STREAMING, X_FINISHED };

struct allot__exchange {
    struct allot__worker *w;
    struct allot_http_request *req; /* NULL once the client is gone */
    struct allot__exchange *prev, *next;
    enum xstate state;
    char id[40];
    int64_t ts_ms;
    uint64_t start_us, first_byte_us;
    /* allot's own time on this request: the sum of the spans its handlers
     * ran (own_begin .. own_end), not the waits for the upstream or the
     * client; own_since: the open span's start, 0 when none is open */
    uint64_t own_us, own_since;
    struct allot_chat_request chat; /* its tree is in arena */
    struct allot_json_arena arena;  /* the trees of the request and its answers */
    struct allot_json_arena events; /* the tree of the stream event being read */
    struct allot_decision decision;
    int decided;
    size_t next_model; /* index in decision.models of the next attempt */
    int attempts;
    const struct allot_model *model; /* of the current or last attempt */
    int model_index;
    int client;                        /* client slot (clients.h); -1: auth off */
    unsigned tiers;                    /* the client's tiers (allot_tier_list_*); 0: all */
    int recorded;                      /* its ledger row is written (record()) */
    enum allot_metrics_status outcome; /* what record() wrote */
    struct allot_upstream_xfer *xfer;
    struct allot_buf up_body; /* what the current attempt sends */
    struct allot_buf resp;    /* buffered non-stream body */
    struct allot_sse sse;
    struct allot_buf scratch; /* an event being edited */
    long up_status;
    int64_t up_hint_ms; /* the current attempt's retry hint (upstream.h); -1: none */
    int64_t hint_ms;    /* the shortest hint of a failed attempt (429 or 503); -1: none */
    int last_hinted;    /* the last failed attempt carried it */
    int retry;          /* the attempt failed in a way that allows the next */
    int retry_kind;     /* enum allot_metrics_attempt of that failure */
    int pause_wanted;   /* the client's write queue is full */
    int paused;
    int done_seen, usage_seen, stream_error;
    int in_upstream_cb;
    int client_gone;
    int64_t prompt_tokens, completion_tokens;
    int64_t cached_tokens, cache_write_tokens; /* of prompt_tokens (read_usage) */
    size_t content_bytes;
    int http_status; /* sent to the client */
    int last_fail;   /* enum allot_metrics_attempt of the last failed attempt */
    char attempt_log[256];
    char error[256];
    int tokens_estimated;
    char conf_str[16];
    char own_str[24];
    char attempts_str[24];
    char budget_str[32];
    char retry_str[24];    /* Retry-After: a request over its key's rate, or a provider's hint */
    char retry_ms_str[24]; /* retry-after-ms: the same, in milliseconds */
    char rate_str[2][24];  /* x-ratelimit-limit / -remaining-requests */
    char cost_str[32];
    /* The quality floor (docs/quality.md). */
    int serving_tier;                     /* tier of decision.models now; -1: a named model */
    int attempt_base;                     /* attempts made before the current tier */
    const struct allot_check_set *checks; /* of serving_tier; NULL: nothing is checked */
    int collect;                          /* streamed content is gathered (checks or audit) */
    int holding;                          /* a checked stream is held until it passes */
    struct allot_buf content;             /* streamed content gathered */
    char finish_reason[24];
    int tool_calls_seen;
    char check[16];         /* "" unchecked, "pass", or the failed check */
    char check_detail[192]; /* the first failure's detail */
    char escalated[16];     /* the check that escalated the request */
    double escalation_usd;
    int64_t escalation_pt, escalation_ct;
    const char *floor_mark; /* "promoted", "probe" or NULL */
    int audit;              /* this answer is to be audited */
    /* The Anthropic dialect (POST /v1/messages, docs/anthropic.md): the
     * request is translated to a chat-completions body (abody) on the way
     * in, the answer back on the way out (aout). */
    int anthropic;
    struct allot_buf abody, aout;
    struct allot_anthropic_stream astream;
    /* The Responses dialect (POST /v1/responses, docs/responses.md), the
     * same way: abody and aout hold its translations; rstream, the state
     * of a streamed answer (it keeps the open item's text, bounded by
     * limits.max_response_bytes, for the done events). */
    int responses;
    int embeddings; /* POST /v1/embeddings: no routing by kind, no checks */
    struct allot_responses_stream rstream;
    struct allot_responses_custom rcustom; /* the request's custom tools */
    /* A provider of kind anthropic (docs/anthropic.md): the chat body is
     * translated to a Messages body (up_alt) for the attempt, and its
     * answer back to chat completions (up_alt again, once the transfer is
     * done, or ustream event by event) before anything else reads it. */
    int up_anthropic;
    int passthrough; /* a Messages client and a Messages provider: bytes relayed, not translated */
    struct allot_anthropic_read
        mread; /* what the Messages translation read: parts left out, the model */
    struct allot_buf up_alt;
    struct allot_anthropic_up_stream ustream;
};

static void try_next(struct allot__exchange *x);
static void fail_no_answer(struct allot__exchange *x);
static void escalate(struct allot__exchange *x);

/* ---- the per-worker pool -------------------------------------------- */

/* Finished exchanges are kept (up to POOL_MAX per worker) with their
 * buffers' allocations, so a steady stream of requests allocates nothing
 * here. Buffers that grew past POOL_KEEP_BYTES are freed, not kept. */
#define POOL_MAX 256
#define POOL_KEEP_BYTES (64u << 10)

static void buf_trim(struct allot_buf *b)
{
    if (b->cap > POOL_KEEP_BYTES)
        allot_buf_release(b);
    else
        allot_buf_reset(b);
}

static void exchange_free(struct allot__exchange *x)
{
    allot_buf_release(&x->up_body);
    allot_buf_release(&x->resp);
    allot_sse_release(&x->sse);
    allot_buf_release(&x->scratch);
    allot_buf_release(&x->content);
    allot_buf_release(&x->abody);
    allot_buf_release(&x->aout);
    allot_buf_release(&x->up_alt);
    allot_anthropic_up_stream_release(&x->ustream);
    allot_responses_stream_release(&x->rstream);
    allot_json_arena_release(&x->arena);
    allot_json_arena_release(&x->events);
    free(x);
}

static struct allot__exchange *exchange_get(struct allot__worker *w)
{
    const struct allot_config *cfg = w->gw->cfg;
    struct allot__exchange *x = w->exchange_pool;
    struct allot_buf up_body, resp, scratch, content, abody, aout, up_alt;
    struct allot_json_arena arena, events;
    struct allot_sse sse;

    if (x) {
        w->exchange_pool = x->next;
        w->exchange_pool_len--;
        up_body = x->up_body;
        resp = x->resp;
        scratch = x->scratch;
        content = x->content;
        abody = x->abody;
        aout = x->aout;
        up_alt = x->up_alt;
        sse = x->sse;
        arena = x->arena;
        events = x->events;
        memset(x, 0, sizeof *x);
        x->arena = arena;
        x->events = events;
        x->abody = abody;
        x->aout = aout;
        x->up_alt = up_alt;
        x->up_body = up_body;
        x->resp = resp;
        x->scratch = scratch;
        x->content = content;
        x->sse = sse;
        return x;
    }
    x = calloc(1, sizeof *x);
    if (!x)
        return NULL;
    allot_buf_init(&x->up_body, cfg->limits.max_body_bytes + 4096);
    allot_buf_init(&x->resp, cfg->limits.max_response_bytes);
    allot_sse_init(&x->sse, MAX_SSE_EVENT);
    allot_buf_init(&x->scratch, MAX_SSE_EVENT);
    allot_buf_init(&x->content, cfg->limits.max_response_bytes);
    allot_buf_init(&x->abody, 2 * cfg->limits.max_body_bytes + 4096);
    allot_buf_init(&x->aout, cfg->limits.max_response_bytes + MAX_SSE_EVENT);
    allot_buf_init(&x->up_alt, 2 * (cfg->limits.max_body_bytes > cfg->limits.max_response_bytes
                                        ? cfg->limits.max_body_bytes
                                        : cfg->limits.max_response_bytes) +
                                   4096);
    return x;
}

static void exchange_put(struct allot__worker *w, struct allot__exchange *x)
{
    if (w->exchange_pool_len >= POOL_MAX || w->stopping) {
        exchange_free(x);
        return;
    }
    buf_trim(&x->up_body);
    buf_trim(&x->resp);
    buf_trim(&x->scratch);
    buf_trim(&x->content);
    buf_trim(&x->abody);
    buf_trim(&x->aout);
    buf_trim(&x->up_alt);
    allot_anthropic_up_stream_release(&x->ustream);
    allot_responses_stream_release(&x->rstream);
    allot_json_arena_reset(&x->arena); /* the request's trees are gone (finish()) */
    buf_trim(&x->sse.pending);
    buf_trim(&x->sse.data);
    x->next = w->exchange_pool;
    w->exchange_pool = x;
    w->exchange_pool_len++;
}

void allot__exchange_pool_free(struct allot__worker *w)
{
    while (w->exchange_pool) {
        struct allot__exchange *x = w->exchange_pool;
        w->exchange_pool = x->next;
        exchange_free(x);
    }
    w->exchange_pool_len = 0;
}

/* ---- bookkeeping ------------------------------------------------------ */

static int model_index_of(const struct allot_config *cfg, const struct allot_model *m)
{
    return m ? (int)(m - cfg->models) : -1;
}

/* Append s to the attempt log at *len, as much as fits (as snprintf would
 * cut it). */
static void log_put(struct allot__exchange *x, size_t *len, const char *s)
{
    size_t room = sizeof x->attempt_log - 1 - *len, n = strlen(s);

    if (n > room)
        n = room;
    memcpy(x->attempt_log + *len, s, n);
    *len += n;
    x->attempt_log[*len] = '\0';
}

static void log_attempt(struct allot__exchange *x, const char *what)
{
    size_t len = strlen(x->attempt_log);

    if (len < sizeof x->attempt_log - 1) {
        if (len)
            log_put(x, &len, ",");
        log_put(x, &len, x->model ? x->model->name : "?");
        log_put(x, &len, ":");
        log_put(x, &len, what);
    }
}

/* Whether the model now answering is well (ok) or failed in a way that
 * moves requests on (cooldown.h); hint_ms > 0: its provider asked for that
 * much quiet. A failure that starts a rest is logged. */
static void note_health(struct allot__exchange *x, int ok, const char *what, int64_t hint_ms)
{
    const struct allot_config *cfg = x->w->gw->cfg;
    const char *name = x->model ? x->model->name : "?";
    uint64_t rest;

    if (!ok && hint_ms > 0) {
        rest = allot_cooldowns_told(x->w->gw->cooldowns, x->model_index, (uint64_t)hint_ms * 1000u,
                                    allot_clock_mono_us());
        if (rest)
            allot_log_warn("upstream: model '%s' rests for %.1f s: its provider answered %ld with "
                           "a retry hint of %.3f s%s; requests go to the next model of their "
                           "tier meanwhile",
                           name, (double)rest / 1e6, x->up_status, (double)hint_ms / 1e3,
                           (uint64_t)hint_ms * 1000u > rest ? " (capped at 16 x cooldown_ms)" : "");
        return;
    }
    rest = allot_cooldowns_record(x->w->gw->cooldowns, x->model_index, ok,
                                  ok ? 0 : allot_clock_mono_us());
    if (rest)
        allot_log_warn("upstream: model '%s' rests for %.1f s after %d or more failures in a "
                       "row (last: %s); requests go to the next model of their tier meanwhile",
                       name, (double)rest / 1e6, cfg->limits.cooldown_after, what);
}

/* Whether model m can take the request at all: a request with parts
 * only Anthropic's own API takes (mread.n, anthropic.h) only a model of
 * a kind: anthropic provider, which gets the body as sent. */
static int model_serves(const struct allot__exchange *x, const struct allot_model *m)
{
    return !x->mread.n || allot_provider_is_anthropic(m->provider);
}

/* Whether a model after the current one in the request's list is not
 * resting and could serve it: then a resting one is skipped (cooldown.h). */
static int another_awake(const struct allot__exchange *x, uint64_t now_us)
{
    const struct allot_config *cfg = x->w->gw->cfg;
    size_t i;
    for (i = x->next_model; i < x->decision.n_models; i++) {
        const struct allot_model *m = x->decision.models[i];
        if (model_serves(x, m) &&
            !allot_cooldowns_resting(x->w->gw->cooldowns, model_index_of(cfg, m), now_us))
            return 1;
    }
    return 0;
}

/* One attempt's outcome: counted in the metrics and written to the attempt
 * log as "model:what" (what NULL: the upstream's HTTP status). A failure
 * also becomes last_fail, which picks the status of fail_no_answer(). */
static void record_attempt(struct allot__exchange *x, enum allot_metrics_attempt kind,
                           const char *what)
{
    char status[48];
    /* A retry hint counts on a 429 or 503 (RFC 9110, RFC 6585), and only
     * for a failure that moves the request on. */
    int64_t hint = (kind == ALLOT_MATTEMPT_HTTP_429 || kind == ALLOT_MATTEMPT_HTTP_5XX) &&
                           (x->up_status == 429 || x->up_status == 503)
                       ? x->up_hint_ms
                       : -1;
    if (!what) {
        if (hint >= 0) /* the attempt log says the provider asked for a pause */
            snprintf(status, sizeof status, "%ld(retry-after=%lldms)", x->up_status,
                     (long long)hint);
        else
            snprintf(status, sizeof status, "%ld", x->up_status);
        what = status;
    }
    allot_metrics_attempt(x->w->gw->metrics, x->w->index, x->model_index, kind);
    log_attempt(x, what);
    if (kind != ALLOT_MATTEMPT_OK) {
        x->last_fail = kind;
        x->last_hinted = hint >= 0;
        if (hint >= 0 && (x->hint_ms < 0 || hint < x->hint_ms))
            x->hint_ms = hint;
    }
    if (kind == ALLOT_MATTEMPT_OK || kind == ALLOT_MATTEMPT_HTTP_429 ||
        kind == ALLOT_MATTEMPT_HTTP_5XX || kind == ALLOT_MATTEMPT_TIMEOUT ||
        kind == ALLOT_MATTEMPT_CONNECT)
        note_health(x, kind == ALLOT_MATTEMPT_OK, what, hint);
}

/* Retry-After (whole seconds, rounded up) and retry-after-ms for a client
 * told to come back in ms milliseconds. */
static void set_retry_after(struct allot__exchange *x, uint64_t ms)
{
    snprintf(x->retry_str, sizeof x->retry_str, "%llu", (unsigned long long)((ms + 999u) / 1000u));
    snprintf(x->retry_ms_str, sizeof x->retry_ms_str, "%llu", (unsigned long long)ms);
}

static void set_error(struct allot__exchange *x, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void set_error(struct allot__exchange *x, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(x->error, sizeof x->error, fmt, ap);
    va_end(ap);
}

static void copy_str(char *dst, size_t cap, const char *src, size_t n)
{
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

#define COPY_CSTR(field, src) copy_str((field), sizeof(field), (src), strlen(src))

/* The current answer's cost at model m's prices (the answering model, or
 * the judgment tier's for the counterfactual). */
static double answer_cost(const struct allot__exchange *x, const struct allot_model *m)
{
    return allot_cost_cached_usd(m, x->prompt_tokens, x->cached_tokens, x->cache_write_tokens,
                                 x->completion_tokens);
}

/* Final token counts: the upstream's usage, or an estimate marked so. */
static void settle_tokens(struct allot__exchange *x)
{
    /* Only an answer (2xx) is billed; a refused or failed attempt is not. */
    if (x->up_status >= 200 && x->up_status < 300 && !x->usage_seen && !x->tokens_estimated) {
        x->prompt_tokens = allot_tokens_estimate(x->chat.system.len + x->chat.last_user.len +
                                                 x->chat.material_bytes);
        x->completion_tokens = allot_tokens_estimate(x->content_bytes);
        x->tokens_estimated = 1;
    }
}

/* The instruction as the ledger keeps it (store.keep_prompts): the system
 * prompt and the last user turn, "\n\n" between, at most PROMPT_KEEP
 * bytes (not cutting a UTF-8 sequence). NULL when out of memory. */
#define PROMPT_KEEP (16u << 10)
static char *instruction_text(const struct allot_chat_request *c)
{
    size_t ns = c->system.len, nu = c->last_user.len, n, o = 0;
    char *t;

    if (ns > PROMPT_KEEP / 2)
        ns = PROMPT_KEEP / 2;
    if (nu > PROMPT_KEEP - ns)
        nu = PROMPT_KEEP - ns;
    while (ns > 0 && ns < c->system.len && ((unsigned char)c->system.ptr[ns] & 0xC0) == 0x80)
        ns--;
    while (nu > 0 && nu < c->last_user.len && ((unsigned char)c->last_user.ptr[nu] & 0xC0) == 0x80)
        nu--;
    n = ns + nu + 2;
    if (!(t = malloc(n + 1)))
        return NULL;
    if (ns) {
        memcpy(t, c->system.ptr, ns);
        o = ns;
        t[o++] = '\n';
        t[o++] = '\n';
    }
    if (nu)
        memcpy(t + o, c->last_user.ptr, nu);
    t[o + nu] = '\0';
    return t;
}

static const char *const status_names[ALLOT_MSTATUS__COUNT] = {
    [ALLOT_MSTATUS_OK] = "ok",
    [ALLOT_MSTATUS_FAILED] = "failed",
    [ALLOT_MSTATUS_CLIENT_CLOSED] = "client_closed",
    [ALLOT_MSTATUS_REJECTED] = "rejected",
};

/* ---- allot's own time ------------------------------------------------- */

/* A handler of this exchange starts / returns to the loop with the
 * exchange still waiting (for the upstream or the client). A span that ends
 * the exchange is read by record() while open. */
static void own_begin(struct allot__exchange *x)
{
    x->own_since = allot_clock_mono_us();
}

static void own_end(struct allot__exchange *x)
{
    if (x->own_since) {
        x->own_us += allot_clock_mono_us() - x->own_since;
        x->own_since = 0;
    }
}

static uint64_t own_now(const struct allot__exchange *x, uint64_t now_us)
{
    return x->own_us + (x->own_since && now_us > x->own_since ? now_us - x->own_since : 0);
}

/* The request's ledger row, metrics and log line. Called before the last
 * bytes of the response go to the client (the ledger keeps the row safe
 * from a kill at once: docs/ledger.md), or by finish() when no response
 * goes out. Once per request. */
static void record(struct allot__exchange *x, enum allot_metrics_status outcome)
{
    const char *status = status_names[outcome];
    struct allot__worker *w = x->w;
    const struct allot_config *cfg = w->gw->cfg;
    struct allot_ledger_entry e;
    struct allot_metrics_sample ms;
    const struct allot_model *judge = cfg->tiers[ALLOT_TIER_JUDGMENT].n_models
                                          ? cfg->tiers[ALLOT_TIER_JUDGMENT].models[0]
                                          : x->model;
    uint64_t now = allot_clock_mono_us();
    int rc;

    memset(&e, 0, sizeof e);
    COPY_CSTR(e.id, x->id);
    e.ts_ms = x->ts_ms;
    COPY_CSTR(e.endpoint, x->anthropic    ? "/v1/messages"
                          : x->responses  ? "/v1/responses"
                          : x->embeddings ? "/v1/embeddings"
                                          : "/v1/chat/completions");
    copy_str(e.requested_model, sizeof e.requested_model,
             x->chat.model.ptr ? x->chat.model.ptr : "", x->chat.model.len);
    e.tier_confidence = x->decided ? x->decision.tier_confidence : -1;
    if (x->decided) {
        if (x->decision.has_category) {
            const char *c = allot_category_name(x->decision.category);
            COPY_CSTR(e.category, c);
            e.confidence = x->decision.confidence;
        }
        if (x->serving_tier >= 0 || x->decision.has_tier) {
            const char *t = allot_tier_name(x->serving_tier >= 0 ? (enum allot_tier)x->serving_tier
                                                                 : x->decision.tier);
            COPY_CSTR(e.tier, t);
        }
        const char *src = allot_decision_source_name(x->decision.source);
        COPY_CSTR(e.source, src);
        COPY_CSTR(e.reason, x->decision.reason);
        if (x->decision.classified)
            allot_ledger_entry_explain(&e, &x->decision.classification);
    }
    if (x->model) {
        COPY_CSTR(e.model, x->model->name);
        COPY_CSTR(e.provider, x->model->provider->name);
    }
    e.attempts = x->attempts;
    COPY_CSTR(e.attempt_log, x->attempt_log);
    COPY_CSTR(e.status, status);
    e.http_status = x->http_status;
    COPY_CSTR(e.error, x->error);
    e.stream = x->chat.stream;
    settle_tokens(x);
    e.prompt_tokens = x->prompt_tokens;
    e.completion_tokens = x->completion_tokens;
    e.cached_tokens = x->cached_tokens;
    e.cache_write_tokens = x->cache_write_tokens;
    e.tokens_estimated = x->tokens_estimated;
    if (x->model) {
        e.cost_usd = answer_cost(x, x->model);
        /* embeddings have no judgment-tier equivalent: no saving claimed.
         * The judgment model would have hit the same cache: its cache
         * prices, not its full input price, for the cached share. */
        e.counterfactual_usd = x->embeddings ? e.cost_usd : answer_cost(x, judge);
    }
    e.cost_usd += x->escalation_usd;
    COPY_CSTR(e.check, x->check);
    COPY_CSTR(e.check_detail, x->check_detail);
    COPY_CSTR(e.escalated, x->escalated);
    e.escalation_usd = x->escalation_usd;
    e.escalation_prompt_tokens = x->escalation_pt;
    e.escalation_completion_tokens = x->escalation_ct;
    if (x->floor_mark)
        COPY_CSTR(e.floor, x->floor_mark);
    e.grade = -1;
    if ((cfg->store_keep_prompts == 2 && e.category[0]) ||
        (cfg->store_keep_prompts && (x->check[0] || x->escalated[0])))
        e.prompt = instruction_text(&x->chat);
    if (x->client >= 0) {
        COPY_CSTR(e.client, allot_clients_name(w->gw->clients, x->client));
        if (outcome != ALLOT_MSTATUS_REJECTED)
            allot_budgets_add(w->gw->budgets, x->client, x->ts_ms, e.cost_usd);
    }
    e.latency_ms = (double)(now - x->start_us) / 1000.0;
    e.ttft_ms = x->first_byte_us ? (double)(x->first_byte_us - x->start_us) / 1000.0 : -1;
    e.overhead_ms = (double)own_now(x, now) / 1000.0;
    rc = allot_ledger_append(w->gw->ledger, &e);
    if (rc) {
        allot_log_error("ledger: row for %s not queued: %s", x->id, allot_strerror(rc));
        free(e.prompt);
    }

    memset(&ms, 0, sizeof ms);
    ms.tier = x->serving_tier >= 0                 ? x->serving_tier
              : x->decided && x->decision.has_tier ? (int)x->decision.tier
                                                   : -1;
    ms.model = model_index_of(cfg, x->model);
    ms.status = outcome;
    ms.stream = x->chat.stream;
    ms.latency_s = e.latency_ms / 1000.0;
    ms.ttft_s = e.ttft_ms >= 0 ? e.ttft_ms / 1000.0 : -1;
    ms.overhead_s = e.overhead_ms / 1000.0;
    ms.prompt_tokens = e.prompt_tokens;
    ms.completion_tokens = e.completion_tokens;
    ms.cached_tokens = e.cached_tokens;
    ms.cache_write_tokens = e.cache_write_tokens;
    ms.cost_usd = e.cost_usd - x->escalation_usd; /* the discarded answers: escalate() */
    ms.counterfactual_usd = e.counterfactual_usd;
    ms.client = x->client;
    ms.billed_usd = e.cost_usd;
    allot_metrics_request(w->gw->metrics, w->index, &ms);
    allot_metrics_inflight(w->gw->metrics, w->index, -1);
    if (!w->gw->quiet)
        allot_log_info("%s %d %s %s %s model=%s tokens=%lld/%lld cost=$%.6f %.1fms%s%s%s%s", x->id,
                       x->http_status, status, e.category[0] ? e.category : "-",
                       e.tier[0] ? e.tier : "-", e.model[0] ? e.model : "-",
                       (long long)e.prompt_tokens, (long long)e.completion_tokens, e.cost_usd,
                       e.latency_ms, e.client[0] ? " client=" : "", e.client,
                       e.error[0] ? " error=" : "", e.error);

    x->recorded = 1;
    x->outcome = outcome;
}

/* The request is over: recorded (if it was not yet), its audit started,
 * the exchange back in the pool. */
static void finish(struct allot__exchange *x, enum allot_metrics_status outcome)
{
    struct allot__worker *w = x->w;

    if (!x->recorded)
        record(x, outcome);
    x->state = X_FINISHED;
    if (x->outcome == ALLOT_MSTATUS_OK && x->audit)
        allot__audit_start(w, x->id, &x->chat, x->decision.has_category, x->decision.category,
                           x->content.ptr, x->content.len,
                           x->floor_mark != NULL && !strcmp(x->floor_mark, "probe"));
    if (x->prev)
        x->prev->next = x->next;
    else
        w->exchange_list = x->next;
    if (x->next)
        x->next->prev = x->prev;
    w->exchanges--;
    if (x->req)
        x->req->user = NULL;
    allot_chat_request_release(&x->chat);
    exchange_put(w, x);
}

/* ---- what goes to the client ------------------------------------------ */

static size_t decision_headers(struct allot__exchange *x, struct allot_http_header *h,
                               const char *content_type)
{
    size_t n = 0;
#define HDR(k, v) (h[n].name = ALLOT_SLICE_LIT(k), h[n].value = allot_slice_cstr(v), n++)
    if (content_type)
        HDR("Content-Type", content_type);
    HDR("x-allot-request-id", x->id);
    if (x->decided) {
        HDR("x-allot-tier", x->serving_tier >= 0 ? allot_tier_name((enum allot_tier)x->serving_tier)
                            : x->decision.has_tier ? allot_tier_name(x->decision.tier)
                                                   : "");
        HDR("x-allot-category",
            x->decision.has_category ? allot_category_name(x->decision.category) : "");
        allot_fmt_fixed(x->conf_str, sizeof x->conf_str, x->decision.confidence, 2, 0);
        HDR("x-allot-confidence", x->conf_str);
        HDR("x-allot-reason", x->decision.reason);
        HDR("x-allot-source", allot_decision_source_name(x->decision.source));
    }
    /* allot's own time so far: the span that sends this head is open */
    allot_fmt_fixed(x->own_str, sizeof x->own_str,
                    (double)own_now(x, allot_clock_mono_us()) / 1000.0, 3, 0);
    HDR("x-allot-overhead-ms", x->own_str);
    if (x->model)
        HDR("x-allot-model", x->model->name);
    if (x->attempts) {
        x->attempts_str[allot_fmt_u64(x->attempts_str, (uint64_t)x->attempts)] = '\0';
        HDR("x-allot-attempts", x->attempts_str);
    }
    if (x->check[0])
        HDR("x-allot-check", x->check);
    if (x->escalated[0])
        HDR("x-allot-escalated", x->escalated);
    else if (x->check[0] && strcmp(x->check, "pass"))
        HDR("x-allot-check-failed", x->check);
    if (x->retry_str[0])
        HDR("Retry-After", x->retry_str);
    if (x->retry_ms_str[0])
        HDR("retry-after-ms", x->retry_ms_str);
    if (x->rate_str[0][0]) {
        HDR("x-ratelimit-limit-requests", x->rate_str[0]);
        HDR("x-ratelimit-remaining-requests", x->rate_str[1]);
    }
    if (x->client >= 0) {
        double spent, limit;
        allot_budgets_allows(x->w->gw->budgets, x->client, allot_clock_wall_ms(), &spent, &limit);
        if (limit >= 0) { /* what is left of today's budget, before this request's cost */
            allot_fmt_fixed(x->budget_str, sizeof x->budget_str, limit > spent ? limit - spent : 0,
                            6, 0);
            HDR("x-allot-budget-remaining-usd", x->budget_str);
        }
    }
#undef HDR
    return n;
}

/* Answer the client with an error in its API's format, with the decision
 * headers, and record the request as outcome. */
static void reply_error(struct allot__exchange *x, enum allot_metrics_status outcome, int status,
                        const char *type, const char *code, const char *message)
{
    struct allot_http_header h[ALLOT__MAX_RESPONSE_HEADERS];
    size_t n = decision_headers(x, h, NULL);
    x->http_status = status;
    if (!x->recorded)
        record(x, outcome);
    if (x->req)
        allot__respond_error(x->req, status, type, code, message, h, n);
    x->req = NULL; /* the request is ended */
}

/* The stream broke after the SSE head went out: an error event, no [DONE]. */
static void stream_fail(struct allot__exchange *x, const char *message)
{
    struct allot_buf ev;
    allot_buf_init(&ev, 4096);
    if (!x->error[0])
        set_error(x, "%s", message);
    if (!x->recorded)
        record(x, ALLOT_MSTATUS_FAILED);
    if (x->req && x->anthropic) {
        if (allot_anthropic_stream_error(502, message, &ev) == 0)
            allot_http_chunk(x->req, ev.ptr, ev.len);
        allot_http_chunked_end(x->req);
        x->req = NULL;
    } else if (x->req && x->responses) {
        if (allot_responses_stream_error(&x->rstream, "stream_interrupted", message, &ev) == 0)
            allot_http_chunk(x->req, ev.ptr, ev.len);
        allot_http_chunked_end(x->req);
        x->req = NULL;
    } else if (x->req) {
        if (allot_buf_adds(&ev, "data: {\"error\":{\"message\":") == 0 &&
            allot_buf_add_json_str(&ev, message, strlen(message)) == 0 &&
            allot_buf_adds(&ev, ",\"type\":\"upstream_error\",\"param\":null,"
                                "\"code\":\"stream_interrupted\"}}\n\n") == 0)
            allot_http_chunk(x->req, ev.ptr, ev.len);
        allot_http_chunked_end(x->req);
        x->req = NULL;
    }
    allot_buf_release(&ev);
    finish(x, ALLOT_MSTATUS_FAILED);
}

/* ---- the quality floor ------------------------------------------------ */

/* The first choice of a non-streamed answer (of its choices array), as
 * the checks see it. */
static void answer_of(const cJSON *choices, struct allot_answer *a)
{
    const cJSON *c = cJSON_GetArrayItem(choices, 0);
    const cJSON *msg = cJSON_GetObjectItemCaseSensitive(c, "message");
    const cJSON *content = cJSON_GetObjectItemCaseSensitive(msg, "content");
    const cJSON *tools = cJSON_GetObjectItemCaseSensitive(msg, "tool_calls");
    const cJSON *fr = cJSON_GetObjectItemCaseSensitive(c, "finish_reason");

    memset(a, 0, sizeof *a);
    if (cJSON_IsString(content)) {
        a->content = content->valuestring;
        a->content_len = strlen(content->valuestring);
    }
    a->has_tool_calls = cJSON_GetArraySize(tools) > 0 ||
                        cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(msg, "function_call"));
    a->finish_reason = cJSON_IsString(fr) ? fr->valuestring : NULL;
}

/* Is this answer to be audited? Only labour answers that passed (or had
 * nothing to fail), sampled at quality.audit.sample. */
static int audit_wanted(struct allot__exchange *x)
{
    const struct allot_quality *q = &x->w->gw->cfg->quality;
    uint64_t r;

    if (!q->enabled || q->audit_sample <= 0 || x->serving_tier != ALLOT_TIER_LABOUR ||
        (x->check[0] && strcmp(x->check, "pass")))
        return 0;
    if (q->audit_sample >= 1)
        return 1;
    r = allot__worker_random(x->w);
    return (double)(r >> 11) * 0x1.0p-53 < q->audit_sample;
}

/* Run the checks of the serving tier on an answer. Returns 1 when the
 * request is to be escalated (the caller cleans up, then calls
 * escalate()), 0 to deliver the answer as it is. */
static int judge(struct allot__exchange *x, const struct allot_answer *a)
{
    struct allot__gateway *gw = x->w->gw;
    struct allot_check_verdict v;
    int pass;

    if (!x->checks || !x->checks->active)
        return 0;
    if (allot_check_answer(gw->checker, x->checks, x->chat.response_format, a, &v))
        return 0; /* out of memory: unchecked, not failed */
    pass = v.failed == ALLOT_CHECK_PASS;
    COPY_CSTR(x->check, allot_check_name(v.failed));
    if (!x->check_detail[0] && v.detail[0])
        COPY_CSTR(x->check_detail, v.detail);
    allot_metrics_check(gw->metrics, x->w->index, x->serving_tier, (int)v.failed);
    if (x->serving_tier == ALLOT_TIER_LABOUR && x->decision.has_category)
        allot__quality_verdict(x->w, x->decision.category, pass,
                               x->floor_mark && !strcmp(x->floor_mark, "probe"), "check");
    if (pass)
        return 0;
    if (!x->checks->escalate || x->checks->escalate_to < 0 ||
        !allot_tier_list_has(x->tiers, (enum allot_tier)x->checks->escalate_to))
        return 0; /* no escalation, or not to a tier this client may use */
    if (x->state == X_STREAMING && !x->holding)
        return 0; /* "after": the client has it already */
    return 1;
}

/* The checks of the tier now serving. */
static void set_serving_tier(struct allot__exchange *x, int tier)
{
    struct allot__gateway *gw = x->w->gw;

    x->serving_tier = tier;
    x->checks = tier >= 0 && gw->checker
                    ? allot_checker_set(gw->checker, (enum allot_tier)tier,
                                        x->decision.has_category, x->decision.category)
                    : NULL;
}

/* Forget the answer of the current attempt, so the next starts clean. */
static void reset_answer(struct allot__exchange *x)
{
    x->prompt_tokens = x->completion_tokens = 0;
    x->cached_tokens = x->cache_write_tokens = 0;
    x->usage_seen = x->tokens_estimated = 0;
    x->content_bytes = 0;
    x->done_seen = x->stream_error = 0;
    x->first_byte_us = 0;
    x->finish_reason[0] = '\0';
    x->tool_calls_seen = 0;
    x->holding = 0;
    x->state = X_ATTEMPT;
    allot_buf_reset(&x->content);
    allot_buf_reset(&x->resp);
    allot_buf_reset(&x->sse.pending);
}

/* The answer failed a check: bill it as escalation, move to the tier the
 * check set names and start over there. Nothing has reached the client. */
static void escalate(struct allot__exchange *x)
{
    const struct allot_config *cfg = x->w->gw->cfg;
    int to = x->checks->escalate_to;
    double usd;

    settle_tokens(x);
    usd = answer_cost(x, x->model);
    allot_metrics_spend(x->w->gw->metrics, x->w->index, x->model_index, x->prompt_tokens,
                        x->completion_tokens, usd, 0);
    x->escalation_usd += usd;
    x->escalation_pt += x->prompt_tokens;
    x->escalation_ct += x->completion_tokens;
    record_attempt(x, ALLOT_MATTEMPT_CHECK, x->check);
    if (!x->escalated[0])
        COPY_CSTR(x->escalated, x->check);
    allot_metrics_escalation(x->w->gw->metrics, x->w->index,
                             x->decision.has_category ? (int)x->decision.category : -1);
    reset_answer(x);
    /* escalate_to is a tier with models (check.c) */
    (void)allot_decision_use_tier(cfg, (enum allot_tier)to, &x->decision, NULL);
    x->next_model = 0;
    x->attempt_base = x->attempts;
    x->check[0] = '\0';
    set_serving_tier(x, to);
    try_next(x);
}

/* A streamed chunk's share of the answer: the first choice's content,
 * tool calls and finish_reason, from the chunk's choices array. Read only
 * when the answer is checked or audited. */
static void collect_event(struct allot__exchange *x, const cJSON *choices)
{
    const cJSON *c, *delta, *v;

    c = cJSON_GetArrayItem(choices, 0);
    delta = cJSON_GetObjectItemCaseSensitive(c, "delta");
    v = cJSON_GetObjectItemCaseSensitive(delta, "content");
    if (cJSON_IsString(v)) /* past max_response_bytes the checks see the start only */
        (void)allot_buf_adds(&x->content, v->valuestring);
    v = cJSON_GetObjectItemCaseSensitive(delta, "tool_calls");
    if (cJSON_GetArraySize(v) > 0 || cJSON_GetObjectItemCaseSensitive(delta, "function_call"))
        x->tool_calls_seen = 1;
    v = cJSON_GetObjectItemCaseSensitive(c, "finish_reason");
    if (cJSON_IsString(v))
        COPY_CSTR(x->finish_reason, v->valuestring);
}

/* The same, read off the chunk's text (chat_answer.h): what
 * collect_event() gets from the tree, without building one. */
static void collect_chunk(struct allot__exchange *x, const struct allot_chat_chunk *k)
{
    if (k->content.ptr) { /* as allot_buf_adds() of the decoded string: whole or not at all */
        size_t n = allot_json_text_decoded_len(k->content.ptr, k->content.len);
        if (allot_buf_reserve(&x->content, n) == 0) {
            x->content.len += allot_json_text_unescape(k->content.ptr, k->content.len,
                                                       x->content.ptr + x->content.len, n);
            x->content.ptr[x->content.len] = '\0';
        }
    }
    if (k->tool_calls)
        x->tool_calls_seen = 1;
    if (k->finish_reason.ptr) {
        /* decoded a sequence past the field, so that the cut falls where
         * the whole string's would (an escape is at most 4 bytes) */
        char s[sizeof x->finish_reason + 4];
        copy_str(x->finish_reason, sizeof x->finish_reason, s,
                 allot_json_text_unescape(k->finish_reason.ptr, k->finish_reason.len, s, sizeof s));
    }
}

/* What the floor says before the first attempt: a labour request of a
 * promoted category goes to judgment, a probe stays on labour. Only for
 * requests routed by kind of work (not a named model or tier). */
static void floor_route(struct allot__exchange *x)
{
    const struct allot_config *cfg = x->w->gw->cfg;
    char reason[sizeof x->decision.reason];
    int r;

    if (x->serving_tier != ALLOT_TIER_LABOUR || !x->decision.has_category ||
        x->decision.source == ALLOT_SRC_MODEL || x->decision.source == ALLOT_SRC_TIER ||
        cfg->tiers[ALLOT_TIER_JUDGMENT].n_models == 0 ||
        !allot_tier_list_has(x->tiers, ALLOT_TIER_JUDGMENT))
        return; /* the floor moves labour work to judgment: not for a client kept off it */
    r = allot__quality_route(x->w, x->decision.category, reason, sizeof reason);
    if (r == ALLOT__FLOOR_PROMOTED) {
        (void)allot_decision_use_tier(cfg, ALLOT_TIER_JUDGMENT, &x->decision, NULL);
        x->floor_mark = "promoted";
        COPY_CSTR(x->decision.reason, reason);
        set_serving_tier(x, ALLOT_TIER_JUDGMENT);
    } else if (r == ALLOT__FLOOR_PROBE) {
        x->floor_mark = "probe";
        COPY_CSTR(x->decision.reason, reason);
    }
}

/* ---- upstream callbacks ----------------------------------------------- */

static enum allot_metrics_attempt http_fail_kind(long status)
{
    if (status == 429)
        return ALLOT_MATTEMPT_HTTP_429;
    return status >= 500 ? ALLOT_MATTEMPT_HTTP_5XX : ALLOT_MATTEMPT_HTTP_4XX;
}

static int more_attempts(const struct allot__exchange *x)
{
    return x->next_model < x->decision.n_models &&
           x->attempts - x->attempt_base < x->w->gw->cfg->limits.max_attempts;
}

static int on_head(void *ctx, long status, struct allot_slice ct, int64_t retry_ms)
{
    struct allot__exchange *x = ctx;
    int rc = 0;

    own_begin(x);
    x->in_upstream_cb = 1;
    x->up_status = status;
    x->up_hint_ms = retry_ms;
    allot_buf_reset(&x->resp);
    if (x->client_gone) {
        rc = -1;
    } else if (status >= 200 && status < 300) {
        if (x->chat.stream && ct.len >= 17 && strncasecmp(ct.ptr, "text/event-stream", 17) == 0) {
            struct allot_http_header h[ALLOT__MAX_RESPONSE_HEADERS];
            size_t n;

            x->state = X_STREAMING;
            if (x->up_anthropic) {
                allot_anthropic_up_stream_release(&x->ustream);
                allot_anthropic_up_stream_init(&x->ustream, (long long)(x->ts_ms / 1000));
            }
            if (x->anthropic)
                allot_anthropic_stream_init(&x->astream, x->id, x->model->upstream_id);
            if (x->responses) {
                allot_responses_stream_release(&x->rstream);
                allot_responses_stream_init(&x->rstream, x->id, x->model->upstream_id,
                                            (long long)(x->ts_ms / 1000),
                                            x->w->gw->cfg->limits.max_response_bytes, &x->rcustom);
            }
            x->collect =
                (x->checks && x->checks->active) ||
                (x->serving_tier == ALLOT_TIER_LABOUR && x->w->gw->cfg->quality.audit_sample > 0);
            if (x->checks && x->checks->active && x->checks->stream == ALLOT_STREAM_CHECK_BUFFER) {
                x->holding = 1; /* the head goes out once the answer passed */
                goto done;
            }
            n = decision_headers(x, h, "text/event-stream");
            h[n].name = ALLOT_SLICE_LIT("Cache-Control");
            h[n++].value = ALLOT_SLICE_LIT("no-cache");
            x->http_status = 200;
            if (allot_http_chunked_start(x->req, 200, h, n) != 0)
                rc = -1;
        }
    } else if ((status == 429 || status >= 500) && more_attempts(x)) {
        x->retry = 1; /* recorded in on_done, once curl has let go */
        x->retry_kind = http_fail_kind(status);
        rc = 1;
    }
done:
    x->in_upstream_cb = 0;
    own_end(x);
    return rc;
}

/* Count the bytes of "content" string values in an event, for a token
 * estimate when the upstream sends no usage. A scan, not a parse. */
static void count_content(struct allot__exchange *x, struct allot_slice d)
{
    static const char key[] = "\"content\":\"";
    const char *p = d.ptr, *end = d.ptr + d.len;
    while ((p = allot_find(p, (size_t)(end - p), key, sizeof key - 1))) {
        const char *q = p + sizeof key - 1;
        while (q < end && *q != '"') {
            if (*q == '\\' && q + 1 < end)
                q++;
            q++;
        }
        x->content_bytes += (size_t)(q - (p + sizeof key - 1));
        p = q;
    }
}

/* A token count from a JSON number; 0 when absent or not a number. */
static int64_t json_int(const cJSON *n)
{
    if (!cJSON_IsNumber(n) || n->valuedouble < 0 || n->valuedouble > 9.0e15)
        return 0;
    return (int64_t)n->valuedouble;
}

/* An OpenAI-style usage object's counts: prompt_tokens_details.cached_tokens
 * (OpenAI), and .cache_write_tokens, OpenRouter's name, which allot's
 * translation of Anthropic answers uses for cache_creation_input_tokens
 * (anthropic_up.h). Both are parts of prompt_tokens: capped so that
 * together they never exceed it, whatever the upstream says. */
static void set_usage(struct allot__exchange *x, int64_t prompt, int64_t completion, int64_t cached,
                      int64_t write)
{
    x->prompt_tokens = prompt;
    x->completion_tokens = completion;
    x->cached_tokens = cached < x->prompt_tokens ? cached : x->prompt_tokens;
    x->cache_write_tokens =
        write < x->prompt_tokens - x->cached_tokens ? write : x->prompt_tokens - x->cached_tokens;
    x->usage_seen = 1;
}

static void read_usage(struct allot__exchange *x, const cJSON *usage)
{
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(usage, "prompt_tokens_details");

    set_usage(x, json_int(cJSON_GetObjectItemCaseSensitive(usage, "prompt_tokens")),
              json_int(cJSON_GetObjectItemCaseSensitive(usage, "completion_tokens")),
              json_int(cJSON_GetObjectItemCaseSensitive(d, "cached_tokens")),
              json_int(cJSON_GetObjectItemCaseSensitive(d, "cache_write_tokens")));
}

/* cJSON's tree of p[0..n) with its memory from arena (json_arena.h). */
static cJSON *parse_in(struct allot_json_arena *arena, const char *p, size_t n)
{
    struct allot_json_arena *previous = allot_json_arena_enter(arena);
    cJSON *root = allot_json_parse(p, n);

    allot_json_arena_leave(previous);
    return root;
}

/* One upstream event's payload, parsed at most once, when a reader first
 * needs the tree (chunk_tree), into the exchange's event arena, which is
 * emptied when the event is done: no malloc per event of a long stream. */
struct chunk {
    struct allot_slice data;
    cJSON *root;
    int parsed;
    struct allot_json_arena *arena;
};

/* What the readers of an event's tree look up at its top level
 * (inspect_event, chunk_choices, the Messages and Responses translations):
 * the tree holds only these (json_member.h). */
static const char *const chunk_members[] = {"choices", "usage", "error", NULL};

static const cJSON *chunk_tree(struct chunk *c)
{
    if (!c->parsed) {
        c->parsed = 1;
        if (c->data.len) {
            struct allot_json_arena *previous = allot_json_arena_enter(c->arena);

            c->root = allot_json_parse_members(c->data.ptr, c->data.len, chunk_members);
            allot_json_arena_leave(previous);
        }
    }
    return c->root;
}

/* The event's choices array, for the checks, when the event is not read
 * off its text (allot_chat_chunk_read): the last "choices" member
 * (json_member.h) of its tree, which holds no more than three members. */
static const cJSON *chunk_choices(struct chunk *c)
{
    return allot_json_member(chunk_tree(c), "choices");
}

/* Whether member key (quoted) of an event has a value other than null.
 * Quotes inside JSON strings are escaped, so a quoted key followed by a
 * colon is a member; the only JSON value that starts with 'n' is null. An
 * OpenAI-style server asked for usage sends "usage":null in every chunk:
 * this keeps those chunks from being parsed only to find that out. */
static int has_value(struct allot_slice d, const char *key, size_t key_len)
{
    const char *hit;
    size_t i = 0;

    while ((hit = allot_find(d.ptr + i, d.len - i, key, key_len))) {
        i = allot_json_check_skip_ws(d.ptr, d.len, (size_t)(hit - d.ptr) + key_len);
        if (i == d.len || d.ptr[i] != ':')
            continue;
        i = allot_json_check_skip_ws(d.ptr, d.len, i + 1);
        if (i < d.len && d.ptr[i] != 'n')
            return 1;
    }
    return 0;
}

/* Read usage or an error out of one event. Returns 1 when the event is the
 * usage chunk allot asked for on its own account (not relayed). Only
 * events with a usage or an error that is not null are read. */
static int inspect_event(struct allot__exchange *x, struct chunk *ck, int has_usage, int has_error)
{
    const cJSON *root, *v;
    int skip = 0;

    if (!has_usage && !has_error)
        return 0;
    root = chunk_tree(ck);
    if (!root)
        return 0;
    v = cJSON_GetObjectItemCaseSensitive(root, "usage");
    if (cJSON_IsObject(v)) {
        const cJSON *choices = cJSON_GetObjectItemCaseSensitive(root, "choices");
        read_usage(x, v);
        if (!x->chat.include_usage && (!choices || cJSON_GetArraySize(choices) == 0))
            skip = 1;
    }
    v = cJSON_GetObjectItemCaseSensitive(root, "error");
    if (v && !cJSON_IsNull(v)) {
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(v, "message");
        x->stream_error = 1;
        set_error(x, "upstream '%s' sent an error event: %s", x->model->name,
                  cJSON_IsString(m) ? m->valuestring : "(no message)");
    }
    return skip;
}

/* With include_usage set (by allot, on the client's behalf) OpenAI-style
 * servers add "usage":null to every chunk. A client that did not ask gets
 * the chunk as the upstream would have sent it to it: without that member.
 * Quotes inside JSON strings are escaped, so an unescaped "usage":null can
 * only be a member. */
static struct allot_slice strip_usage_null(struct allot__exchange *x, struct allot_slice raw)
{
    static const char with_comma[] = ",\"usage\":null";
    static const char comma_after[] = "\"usage\":null,";
    const char *hit;
    size_t cut;

    allot_buf_reset(&x->scratch);
    if ((hit = allot_find(raw.ptr, raw.len, with_comma, sizeof with_comma - 1)))
        cut = sizeof with_comma - 1;
    else if ((hit = allot_find(raw.ptr, raw.len, comma_after, sizeof comma_after - 1)))
        cut = sizeof comma_after - 1;
    else
        return raw;
    if (allot_buf_add(&x->scratch, raw.ptr, (size_t)(hit - raw.ptr)) ||
        allot_buf_add(&x->scratch, hit + cut, raw.len - (size_t)(hit - raw.ptr) - cut))
        return raw;
    return allot_slice_of(x->scratch.ptr, x->scratch.len);
}

/* An event's bytes to the client, or to the held answer while the checks
 * hold it back. */
static int relay(struct allot__exchange *x, struct allot_slice raw)
{
    int rc;

    if (x->holding) {
        if (allot_buf_add(&x->resp, raw.ptr, raw.len) != 0) {
            set_error(x, "upstream '%s' answer is larger than limits.max_response_bytes (%zu)",
                      x->model->name, x->resp.max);
            return ALLOT_ETOOBIG;
        }
        return 0;
    }
    rc = allot_http_chunk(x->req, raw.ptr, raw.len);
    if (rc == 1)
        x->pause_wanted = 1;
    return rc < 0 ? ALLOT_EIO : 0;
}

/* An upstream event's payload: read (usage, errors, the checks' share) and
 * relayed, translated for the Messages and Responses dialects. The payload
 * is parsed once, and only when something reads it. */
static int on_event(void *ctx, struct allot_slice raw, struct allot_slice data)
{
    struct allot__exchange *x = ctx;
    struct chunk ck = {data, NULL, 0, &x->events};
    int rc = 0, done = allot_slice_eq(data, "[DONE]");

    if (!data.ptr)
        return 0; /* comments and keep-alives carry nothing for the client */
    if (!x->first_byte_us)
        x->first_byte_us = allot_clock_mono_us();
    if (done) {
        x->done_seen = 1;
    } else {
        /* a translation (not a passthrough, which relays the provider's
         * own event) reads the whole tree */
        int translated = (x->anthropic && !x->passthrough) || x->responses;
        struct allot_chat_chunk k;
        int read = x->collect && !translated ? allot_chat_chunk_read(data.ptr, data.len, &k) : -1;
        /* the check of a chunk read off its text saw its top-level
         * members; inspect_event() reads no others */
        int has_usage = read == 0 ? k.has_usage : has_value(data, "\"usage\"", 7);
        int has_error = read == 0 ? k.has_error : has_value(data, "\"error\"", 7);

        count_content(x, data);
        if (x->collect) { /* the whole tree when something else reads it too */
            if (read == 0 && !has_usage && !has_error)
                collect_chunk(x, &k);
            else
                collect_event(x, chunk_choices(&ck));
        }
        if (inspect_event(x, &ck, has_usage, has_error) && !x->anthropic && !x->responses)
            goto out;
    }
    if (x->passthrough)
        goto out; /* read only: on_messages_event relays the provider's own event */
    if (!x->req) {
        rc = ALLOT_EIO;
        goto out;
    }
    if (x->anthropic || x->responses) { /* the same event in the client's API: zero or more */
        allot_buf_reset(&x->aout);
        rc = x->anthropic ? allot_anthropic_stream_feed(&x->astream, done ? NULL : chunk_tree(&ck),
                                                        done, &x->aout)
                          : allot_responses_stream_feed(&x->rstream, done ? NULL : chunk_tree(&ck),
                                                        done, &x->aout);
        if (rc != 0) {
            set_error(x, "cannot translate upstream '%s' event for the %s API", x->model->name,
                      x->anthropic ? "Messages" : "Responses");
            rc = ALLOT_ETOOBIG;
            goto out;
        }
        if (x->aout.len == 0)
            goto out;
        raw = allot_slice_of(x->aout.ptr, x->aout.len);
    } else if (!x->chat.include_usage && allot_find(raw.ptr, raw.len, "\"usage\":null", 12)) {
        raw = strip_usage_null(x, raw);
    }
    rc = relay(x, raw);
out:
    cJSON_Delete(ck.root);
    if (ck.parsed)
        allot_json_arena_reset(&x->events);
    return rc;
}

/* An event of a kind: anthropic provider's stream: the chat-completions
 * events it stands for, each handled as if the upstream had sent it. A
 * Messages client (passthrough) gets the provider's event itself once
 * they are read: its thinking, signatures and citations intact. */
static int on_messages_event(void *ctx, struct allot_slice raw, struct allot_slice data)
{
    struct allot__exchange *x = ctx;
    int rc;

    if (!data.ptr)
        return 0;
    rc = allot_anthropic_up_stream_event(&x->ustream, data, on_event, x);
    if (rc || !x->passthrough)
        return rc;
    if (!x->req)
        return ALLOT_EIO;
    return relay(x, raw);
}

static int on_data(void *ctx, const char *p, size_t n)
{
    struct allot__exchange *x = ctx;
    int rc = 0;

    own_begin(x);
    x->in_upstream_cb = 1;
    if (x->client_gone) {
        rc = -1;
    } else if (x->state == X_STREAMING) {
        if (x->pause_wanted) {
            /* Not consumed: curl hands the same bytes over on resume. */
            x->paused = 1;
            rc = ALLOT_UPSTREAM_PAUSE;
        } else {
            rc = allot_sse_feed(&x->sse, p, n, x->up_anthropic ? on_messages_event : on_event, x);
            if (rc == ALLOT_ETOOBIG)
                set_error(x, "upstream '%s' sent an event larger than %u bytes", x->model->name,
                          MAX_SSE_EVENT);
            if (rc)
                rc = -1;
        }
    } else if (allot_buf_add(&x->resp, p, n) != 0) {
        set_error(x, "upstream '%s' answer is larger than limits.max_response_bytes (%zu)",
                  x->model->name, x->resp.max);
        rc = -1;
    }
    x->in_upstream_cb = 0;
    own_end(x);
    return rc;
}

/* A decoded copy of a string body read by allot_chat_answer_read(), in
 * the exchange's arena (gone with it); NULL when out of memory. */
static char *answer_string(struct allot__exchange *x, struct allot_slice raw, size_t *len)
{
    struct allot_json_arena *previous = allot_json_arena_enter(&x->arena);
    char *s = cJSON_malloc(raw.len + 1);

    allot_json_arena_leave(previous);
    if (s)
        *len = allot_chat_answer_unescape(raw.ptr, raw.len, s);
    return s;
}

/* An answer relayed as it is (no translation needs its tree): usage, the
 * content's size and the first choice for the checks, read off the text
 * (chat_answer.h) instead of a cJSON tree of it all. Returns -1, having
 * changed nothing, when the text is to be parsed whole: what is wrong
 * with it, if anything, is then decided as before. */
static int read_plain(struct allot__exchange *x, struct allot_answer *a)
{
    struct allot_chat_answer ca;
    size_t n = 0;

    if (x->anthropic || x->responses || allot_chat_answer_read(x->resp.ptr, x->resp.len, &ca))
        return -1;
    memset(a, 0, sizeof *a);
    if (ca.content.ptr && !(a->content = answer_string(x, ca.content, &a->content_len)))
        return -1;
    if (ca.finish_reason.ptr && !(a->finish_reason = answer_string(x, ca.finish_reason, &n)))
        return -1;
    a->has_tool_calls = ca.has_tool_calls;
    if (ca.has_usage)
        set_usage(x, ca.prompt_tokens, ca.completion_tokens, ca.cached_tokens,
                  ca.cache_write_tokens);
    x->content_bytes += ca.content_bytes;
    return 0;
}

/* A buffered 2xx answer: read usage, relay it unchanged. */
static void deliver_buffered(struct allot__exchange *x)
{
    cJSON *root = NULL, *usage, *choices, *c;
    struct allot_http_header h[ALLOT__MAX_RESPONSE_HEADERS];
    struct allot_answer a;
    const struct allot_buf *answer = &x->aout; /* what a Messages or Responses client gets */
    size_t n;
    int translated = 0;

    if (x->up_anthropic) { /* a Messages answer: read it as chat completions */
        allot_buf_reset(&x->up_alt);
        if (allot_anthropic_up_response(x->resp.ptr ? x->resp.ptr : "", x->resp.len, &x->up_alt) ==
            0) {
            struct allot_buf t = x->resp;
            x->resp = x->up_alt;
            x->up_alt = t;
        } else {
            allot_buf_reset(&x->resp); /* not a message: judged invalid below */
        }
    }
    if (read_plain(x, &a) != 0) {
        /* in the exchange's arena: root is deleted before this returns */
        root = parse_in(&x->arena, x->resp.ptr ? x->resp.ptr : "", x->resp.len);
        if (!cJSON_IsObject(root)) {
            cJSON_Delete(root);
            record_attempt(x, ALLOT_MATTEMPT_INVALID, "invalid");
            set_error(x, "upstream '%s' answered %ld with a body that is not a JSON object",
                      x->model->name, x->up_status);
            try_next(x);
            return;
        }
        usage = cJSON_GetObjectItemCaseSensitive(root, "usage");
        if (cJSON_IsObject(usage)) {
            read_usage(x, usage);
        }
        choices = cJSON_GetObjectItemCaseSensitive(root, "choices");
        cJSON_ArrayForEach(c, choices)
        {
            cJSON *msg = cJSON_GetObjectItemCaseSensitive(c, "message");
            cJSON *content = cJSON_GetObjectItemCaseSensitive(msg, "content");
            if (cJSON_IsString(content))
                x->content_bytes += strlen(content->valuestring);
        }
        answer_of(choices, &a);
    }
    if (judge(x, &a)) {
        cJSON_Delete(root);
        escalate(x);
        return;
    }
    record_attempt(x, ALLOT_MATTEMPT_OK, "ok");
    if ((x->audit = audit_wanted(x)) && allot_buf_add(&x->content, a.content, a.content_len))
        x->audit = 0;
    if (x->passthrough) { /* the provider's own message, as it sent it */
        answer = &x->up_alt;
    } else if (x->anthropic) { /* from the tree already parsed: no second parse */
        allot_buf_reset(&x->aout);
        translated = allot_anthropic_response_tree(root, x->model->upstream_id, &x->aout);
    } else if (x->responses) {
        allot_buf_reset(&x->aout);
        translated = allot_responses_response_tree(
            root, x->model->upstream_id, (long long)(x->ts_ms / 1000), &x->rcustom, &x->aout);
    }
    cJSON_Delete(root);
    x->first_byte_us = allot_clock_mono_us();
    x->http_status = (int)x->up_status;
    n = decision_headers(x, h, "application/json");
    settle_tokens(x);
    allot_fmt_fixed(x->cost_str, sizeof x->cost_str, answer_cost(x, x->model) + x->escalation_usd,
                    8, 0);
    h[n].name = ALLOT_SLICE_LIT("x-allot-cost-usd");
    h[n++].value = allot_slice_cstr(x->cost_str);
    if (x->anthropic || x->responses) {
        if (translated != 0) {
            set_error(x, "cannot translate upstream '%s' answer for the %s API", x->model->name,
                      x->anthropic ? "Messages" : "Responses");
            reply_error(x, ALLOT_MSTATUS_FAILED, 502, "upstream_error", "upstream_error", x->error);
            finish(x, ALLOT_MSTATUS_FAILED);
            return;
        }
        record(x, ALLOT_MSTATUS_OK);
        allot_http_respond(x->req, (int)x->up_status, h, n, answer->ptr, answer->len);
    } else {
        record(x, ALLOT_MSTATUS_OK);
        allot_http_respond(x->req, (int)x->up_status, h, n, x->resp.ptr, x->resp.len);
    }
    x->req = NULL;
    finish(x, ALLOT_MSTATUS_OK);
}

/* A 4xx the next model would not fix: relay the upstream's error. */
static void deliver_upstream_error(struct allot__exchange *x)
{
    cJSON *root = cJSON_ParseWithLength(x->resp.ptr ? x->resp.ptr : "", x->resp.len);
    cJSON *msg = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(root, "error"),
                                                  "message");
    struct allot_http_header h[ALLOT__MAX_RESPONSE_HEADERS];
    size_t n;

    set_error(x, "upstream '%s' answered %ld: %.180s", x->model->name, x->up_status,
              cJSON_IsString(msg) ? msg->valuestring : "(no error message)");
    record_attempt(x, http_fail_kind(x->up_status), NULL);
    x->http_status = (int)x->up_status;
    if (cJSON_IsObject(root) && (x->passthrough || (!x->anthropic && !x->up_anthropic))) {
        /* in the client's own API: relayed as it is */
        n = decision_headers(x, h, "application/json");
        record(x, ALLOT_MSTATUS_FAILED);
        allot_http_respond(x->req, (int)x->up_status, h, n, x->resp.ptr, x->resp.len);
        x->req = NULL;
    } else {
        /* not JSON, or one API's error for the other's client: our error, in the
         * client's format, with the upstream's message */
        reply_error(x, ALLOT_MSTATUS_FAILED, (int)x->up_status, "upstream_error", "upstream_error",
                    cJSON_IsString(msg) ? msg->valuestring : x->error);
    }
    cJSON_Delete(root);
    finish(x, ALLOT_MSTATUS_FAILED);
}

/* A held stream passed its checks: the SSE head, then every event held. */
static void release_held(struct allot__exchange *x)
{
    struct allot_http_header h[ALLOT__MAX_RESPONSE_HEADERS];
    size_t n = decision_headers(x, h, "text/event-stream");

    h[n].name = ALLOT_SLICE_LIT("Cache-Control");
    h[n++].value = ALLOT_SLICE_LIT("no-cache");
    x->http_status = 200;
    x->holding = 0;
    x->first_byte_us = allot_clock_mono_us(); /* the client's first byte */
    if (allot_http_chunked_start(x->req, 200, h, n) == 0 && x->resp.len)
        allot_http_chunk(x->req, x->resp.ptr, x->resp.len);
}

static void on_done(void *ctx, int err, const char *message)
{
    struct allot__exchange *x = ctx;

    own_begin(x); /* ended by the next attempt's start, or read by record() */
    x->xfer = NULL;
    if (x->client_gone) {
        set_error(x, "client closed the connection");
        finish(x, ALLOT_MSTATUS_CLIENT_CLOSED);
        return;
    }
    if (x->retry) {
        x->retry = 0;
        record_attempt(x, x->retry_kind, NULL);
        set_error(x, "upstream '%s' answered %ld", x->model->name, x->up_status);
        try_next(x);
        return;
    }
    if (x->state == X_STREAMING) {
        if (err == 0 && x->done_seen && !x->stream_error && allot_sse_pending(&x->sse) == 0) {
            struct allot_answer a;
            memset(&a, 0, sizeof a);
            a.content = x->content.ptr;
            a.content_len = x->content.len;
            a.has_tool_calls = x->tool_calls_seen;
            a.finish_reason = x->finish_reason[0] ? x->finish_reason : NULL;
            if (judge(x, &a)) {
                escalate(x);
                return;
            }
            record_attempt(x, ALLOT_MATTEMPT_OK, "ok");
            x->audit = audit_wanted(x);
            record(x, ALLOT_MSTATUS_OK);
            if (x->holding)
                release_held(x);
            allot_http_chunked_end(x->req);
            x->req = NULL;
            finish(x, ALLOT_MSTATUS_OK);
            return;
        }
        if (x->holding) {
            /* Nothing has reached the client: the next model may answer. */
            record_attempt(x, ALLOT_MATTEMPT_INVALID, "cut");
            if (!x->stream_error)
                set_error(x, "upstream '%s': %s", x->model->name,
                          err && message ? message : "the stream ended without [DONE]");
            reset_answer(x);
            try_next(x);
            return;
        }
        log_attempt(x, "cut");
        note_health(x, 0, "cut", -1);
        if (x->error[0])
            stream_fail(x, x->error);
        else if (err)
            stream_fail(x, message);
        else
            stream_fail(x, "upstream ended the stream without [DONE]");
        return;
    }
    if (err) {
        enum allot_metrics_attempt kind = err == ALLOT_ETIMEDOUT ? ALLOT_MATTEMPT_TIMEOUT
                                          : err == ALLOT_ECLOSED ? ALLOT_MATTEMPT_INVALID
                                                                 : ALLOT_MATTEMPT_CONNECT;
        record_attempt(x, kind,
                       kind == ALLOT_MATTEMPT_TIMEOUT   ? "timeout"
                       : kind == ALLOT_MATTEMPT_CONNECT ? "error"
                                                        : "too_large");
        if (err != ALLOT_ECLOSED)
            set_error(x, "%s", message);
        try_next(x);
        return;
    }
    if (x->up_status >= 200 && x->up_status < 300) {
        deliver_buffered(x);
    } else if (x->up_status == 429 || x->up_status >= 500) {
        /* The last model failed too: the client gets allot's account of
         * every attempt (502, or 429 when the last one was rate-limited,
         * so SDKs back off and retry), not the last upstream's body. */
        record_attempt(x, http_fail_kind(x->up_status), NULL);
        set_error(x, "upstream '%s' answered %ld", x->model->name, x->up_status);
        fail_no_answer(x);
    } else {
        deliver_upstream_error(x);
    }
}

static const struct allot_upstream_callbacks upstream_cb = {on_head, on_data, on_done};

/* ---- attempts --------------------------------------------------------- */

static void fail_no_answer(struct allot__exchange *x)
{
    char msg[640];
    int status = x->last_fail == ALLOT_MATTEMPT_TIMEOUT    ? 504
                 : x->last_fail == ALLOT_MATTEMPT_HTTP_429 ? 429
                                                           : 502;
    /* The last model answered 429 or 503 with a retry hint: the client is
     * told when to come back (the shortest hint of this request's models,
     * when the first of them should be back), so the SDKs' retries wait
     * that long rather than their own back-off. */
    if (x->last_hinted && x->hint_ms >= 0)
        set_retry_after(x, (uint64_t)x->hint_ms);
    snprintf(msg, sizeof msg, "no upstream answered after %d attempt%s (%s): %s", x->attempts,
             x->attempts == 1 ? "" : "s", x->attempt_log, x->error);
    reply_error(x, ALLOT_MSTATUS_FAILED, status, "upstream_error",
                status == 504   ? "upstream_timeout"
                : status == 429 ? "rate_limited"
                                : "upstream_unavailable",
                msg);
    finish(x, ALLOT_MSTATUS_FAILED);
}

/* The client's anthropic-beta header as a header line in line[], for a
 * passed-through attempt: the betas its body may use (a field a beta adds
 * is refused without it). Not forwarded when it is not printable ASCII or
 * too long for one line. */
static struct allot_slice passthrough_beta(struct allot__exchange *x,
                                           char line[ALLOT_UPSTREAM_EXTRA_MAX])
{
    static const char name[] = "anthropic-beta: ";
    struct allot_slice v = allot_http_request_header(x->req, "anthropic-beta");

    if (!v.len || v.len > ALLOT_UPSTREAM_EXTRA_MAX - (sizeof name - 1) ||
        !allot_mem_is_header_safe(v.ptr, v.len))
        return allot_slice_of(NULL, 0);
    memcpy(line, name, sizeof name - 1);
    memcpy(line + sizeof name - 1, v.ptr, v.len);
    return allot_slice_of(line, sizeof name - 1 + v.len);
}

/* Whether a model of the decision, from the next on, could serve it. */
static int a_model_serves(const struct allot__exchange *x)
{
    for (size_t i = x->next_model; i < x->decision.n_models; i++)
        if (model_serves(x, x->decision.models[i]))
            return 1;
    return 0;
}

/* The request of an attempt on x->model into *ur: the client's Messages
 * body with its model changed (passthrough), or the chat body rewritten
 * for the model (up_body), translated for a kind: anthropic provider
 * (up_alt). Returns 0, or an error with x->error set. */
static int attempt_request(struct allot__exchange *x, struct allot_upstream_request *ur,
                           char beta[ALLOT_UPSTREAM_EXTRA_MAX])
{
    struct allot_json_arena *previous;
    struct allot_buf err;
    int rc;

    ur->model = x->model;
    x->up_anthropic = allot_provider_is_anthropic(x->model->provider);
    x->passthrough = x->anthropic && x->up_anthropic;
    if (x->passthrough) {
        allot_buf_reset(&x->up_alt);
        rc = allot_anthropic_up_passthrough(x->req->body.ptr, x->req->body.len, x->mread.model_off,
                                            x->mread.model_len, x->model->upstream_id, &x->up_alt);
        ur->path = "/messages";
        ur->body = x->up_alt.ptr;
        ur->body_len = x->up_alt.len;
        ur->extra_header = passthrough_beta(x, beta);
    } else {
        rc = x->anthropic || x->responses
                 ? allot_chat_request_rewrite(&x->chat, x->abody.ptr, x->abody.len,
                                              x->model->upstream_id, x->chat.stream, &x->up_body)
                 : allot_chat_request_rewrite(&x->chat, x->req->body.ptr, x->req->body.len,
                                              x->model->upstream_id, x->chat.stream, &x->up_body);
        ur->path = x->embeddings ? "/embeddings" : "/chat/completions";
        ur->body = x->up_body.ptr;
        ur->body_len = x->up_body.len;
    }
    if (rc) {
        set_error(x, "cannot rewrite the request for '%s': %s", x->model->name, allot_strerror(rc));
        return rc;
    }
    if (!x->up_anthropic || x->passthrough)
        return 0;
    allot_buf_init(&err, 512);
    allot_buf_reset(&x->up_alt);
    /* the body's tree, gone before the translation returns, from the
     * request's arena (one per attempt at most, all freed at finish) */
    previous = allot_json_arena_enter(&x->arena);
    rc = allot_anthropic_up_request(x->up_body.ptr, x->up_body.len, x->model->provider->max_tokens,
                                    &x->up_alt, &err);
    allot_json_arena_leave(previous);
    if (rc)
        set_error(x, "cannot translate the request for '%s' (kind anthropic): %s", x->model->name,
                  err.len ? err.ptr : allot_strerror(rc));
    ur->path = "/messages";
    ur->body = x->up_alt.ptr;
    ur->body_len = x->up_alt.len;
    allot_buf_release(&err);
    return rc;
}

static void try_next(struct allot__exchange *x)
{
    const struct allot_config *cfg = x->w->gw->cfg;

    while (more_attempts(x)) {
        struct allot_upstream_request ur = {0};
        struct allot_buf err;
        char beta[ALLOT_UPSTREAM_EXTRA_MAX]; /* copied by allot_upstream_start */
        int rc;

        x->model = x->decision.models[x->next_model++];
        x->model_index = model_index_of(cfg, x->model);
        if (!model_serves(x, x->model)) {
            log_attempt(x, "anthropic-only"); /* not an attempt: nothing was sent */
            continue;
        }
        if (x->w->gw->cooldowns) { /* rests by count (cooldown_after) or by hint */
            uint64_t now = allot_clock_mono_us();
            if (allot_cooldowns_resting(x->w->gw->cooldowns, x->model_index, now) &&
                another_awake(x, now)) {
                log_attempt(x, "resting"); /* not an attempt: nothing was sent */
                continue;
            }
        }
        x->attempts++;
        x->up_status = 0;
        x->up_hint_ms = ALLOT_UPSTREAM_NO_HINT;
        allot_buf_reset(&x->up_body);
        allot_buf_reset(&x->sse.pending);
        if (attempt_request(x, &ur, beta)) {
            log_attempt(x, "rewrite");
            continue;
        }
        allot_buf_init(&err, 512);
        rc = allot_upstream_start(x->w->up, &ur, &upstream_cb, x, &x->xfer, &err);
        if (rc == 0) {
            allot_buf_release(&err);
            own_end(x); /* now the upstream's time */
            return;
        }
        set_error(x, "%s", err.len ? err.ptr : allot_strerror(rc));
        allot_buf_release(&err);
        log_attempt(x, "start");
        x->last_fail = ALLOT_MATTEMPT_CONNECT;
        x->last_hinted = 0;
        note_health(x, 0, "start", -1);
    }
    fail_no_answer(x);
}

/* ---- entry points ----------------------------------------------------- */

void allot__exchange_start(struct allot__worker *w, struct allot_http_request *req, int client)
{
    const struct allot_config *cfg = w->gw->cfg;
    struct allot__exchange *x = exchange_get(w);
    struct allot_json_arena *arena;
    struct allot_instruction in;
    struct allot_buf err;
    double spent, limit;
    uint64_t retry_us;
    long rate_limit, rate_left;
    int rc, read_built = 0, text;

    if (!x) {
        allot__respond_error(req, 500, "server_error", "out_of_memory", "out of memory", NULL, 0);
        return;
    }
    x->w = w;
    x->req = req;
    x->start_us = req->start_us;
    own_begin(x);
    x->ts_ms = allot_clock_wall_ms();
    x->model_index = -1;
    x->serving_tier = -1;
    x->client = client;
    x->up_hint_ms = x->hint_ms = ALLOT_UPSTREAM_NO_HINT;
    allot__gateway_request_id(w, x->id);
    req->user = x;
    x->next = w->exchange_list;
    if (x->next)
        x->next->prev = x;
    w->exchange_list = x;
    w->exchanges++;
    allot_metrics_inflight(w->gw->metrics, w->index, 1);

    allot_buf_init(&err, 1024);
    x->anthropic = allot__is_messages_path(req->path);
    x->responses = !x->anthropic && allot__is_responses_path(req->path);
    x->embeddings = allot__is_embeddings_path(req->path);
    if (!allot_ratelimits_take(w->gw->rates, client, x->start_us, &retry_us, &rate_limit,
                               &rate_left)) {
        /* ceil(ceil(us / 1000) / 1000) = ceil(us / 1e6): the same seconds as before */
        set_retry_after(x, (retry_us + 999u) / 1000u);
        snprintf(x->rate_str[0], sizeof x->rate_str[0], "%ld", rate_limit);
        snprintf(x->rate_str[1], sizeof x->rate_str[1], "0");
        set_error(x,
                  "client '%s' is over its %ld requests per minute "
                  "(auth.keys[].requests_per_minute); retry in %s s",
                  allot_clients_name(w->gw->clients, client), rate_limit, x->retry_str);
        reply_error(x, ALLOT_MSTATUS_REJECTED, 429, "requests", "rate_limit_exceeded", x->error);
        finish(x, ALLOT_MSTATUS_REJECTED);
        goto out;
    }
    if (rate_limit) {
        snprintf(x->rate_str[0], sizeof x->rate_str[0], "%ld", rate_limit);
        snprintf(x->rate_str[1], sizeof x->rate_str[1], "%ld", rate_left);
    }
    if (!allot_budgets_allows(w->gw->budgets, client, x->ts_ms, &spent, &limit)) {
        set_error(x,
                  "client '%s' has spent $%.*f of its daily budget of $%.*f "
                  "(auth.keys[].daily_budget_usd); it starts again at 00:00 UTC",
                  allot_clients_name(w->gw->clients, client), spent < 1 ? 6 : 2, spent,
                  limit < 1 ? 6 : 2, limit);
        reply_error(x, ALLOT_MSTATUS_REJECTED, 429, "insufficient_quota", "budget_exceeded",
                    x->error);
        finish(x, ALLOT_MSTATUS_REJECTED);
        goto out;
    }
    if (x->anthropic || x->responses) {
        const char *body = req->body.ptr ? req->body.ptr : "";

        allot_buf_reset(&x->abody);
        /* the client's tree, gone before the translation returns, from the
         * events' arena (no event yet): no malloc and free for each node */
        arena = allot_json_arena_enter(&x->events);
        /* a translation comes with its reading, built as it is written:
         * it is not read back below; and, for a Messages request, when every
         * model passes the client's body through, only the reading is
         * made (attempt_request() never asks for the text then) */
        text = !x->anthropic || !w->gw->messages_passed_through;
        rc = x->anthropic ? allot_anthropic_request_read(body, req->body.len, &x->abody, &err,
                                                         &x->mread, text, &x->chat, &read_built)
                          : allot_responses_request_read(body, req->body.len, &x->abody, &err,
                                                         &x->rcustom, &x->chat, &read_built);
        if (rc == 0 && x->anthropic && !read_built && !text) { /* the text, to read back */
            memset(&x->mread, 0, sizeof x->mread);
            rc = allot_anthropic_request_lenient(body, req->body.len, &x->abody, &err, &x->mread);
        }
        allot_json_arena_leave(arena);
        allot_json_arena_reset(&x->events);
        if (rc) {
            set_error(x, "%s",
                      rc == ALLOT_ETOOBIG  ? "request too large to translate"
                      : rc == ALLOT_ENOMEM ? "out of memory"
                                           : allot_buf_cstr(&err));
            reply_error(x, ALLOT_MSTATUS_REJECTED, rc == ALLOT_ENOMEM ? 500 : 400,
                        "invalid_request_error", "invalid_request", x->error);
            finish(x, ALLOT_MSTATUS_REJECTED);
            goto out;
        }
    }
    /* the tree lives in the exchange's arena until finish() releases it */
    arena = allot_json_arena_enter(&x->arena);
    if (read_built)
        rc = 0;
    else if (x->anthropic || x->responses) /* the translation, read like a client's body */
        rc = allot_chat_request_parse(&x->chat, x->abody.ptr, x->abody.len, &err);
    else if (x->embeddings)
        rc = allot_chat_request_parse_embeddings(&x->chat, req->body.ptr ? req->body.ptr : "",
                                                 req->body.len, &err);
    else
        rc = allot_chat_request_parse(&x->chat, req->body.ptr ? req->body.ptr : "", req->body.len,
                                      &err);
    allot_json_arena_leave(arena);
    if (rc) {
        set_error(x, "%s", allot_buf_cstr(&err));
        reply_error(x, ALLOT_MSTATUS_REJECTED, rc == ALLOT_ENOMEM ? 500 : 400,
                    "invalid_request_error",
                    rc == ALLOT_EPARSE ? "invalid_json" : "invalid_request", x->error);
        finish(x, ALLOT_MSTATUS_REJECTED);
        goto out;
    }
    if (x->embeddings) { /* no kind of work to route by: the named model or the list */
        rc = allot_decide_embeddings(cfg, x->chat.model, &x->decision, &err);
        if (rc == 0) {
            x->decided = 1;
            set_serving_tier(x, -1);
            try_next(x);
            goto out;
        }
    } else {
        allot_instruction_from_request(&x->chat, &in);
        rc = allot_decide(cfg, x->chat.model, allot_http_request_header(req, "x-allot-work"), &in,
                          &x->decision, &err);
    }
    if (rc) {
        set_error(x, "%s", allot_buf_cstr(&err));
        reply_error(x, ALLOT_MSTATUS_REJECTED, rc == ALLOT_ENOTFOUND ? 404 : 400,
                    "invalid_request_error",
                    rc == ALLOT_ENOTFOUND ? "model_not_found" : "invalid_request", x->error);
        finish(x, ALLOT_MSTATUS_REJECTED);
        goto out;
    }
    x->decided = 1;
    if (x->decision.classified)
        allot_metrics_classified(w->gw->metrics, w->index, x->decision.remembered);
    allot__acceptability_route(w, &x->decision, &in);
    x->tiers = allot_clients_tiers(w->gw->clients, client);
    if (allot_clients_keep_tiers(cfg, x->tiers, allot_clients_name(w->gw->clients, client),
                                 &x->decision, x->error, sizeof x->error) < 0) {
        reply_error(x, ALLOT_MSTATUS_REJECTED, 403, "invalid_request_error", "model_not_allowed",
                    x->error);
        finish(x, ALLOT_MSTATUS_REJECTED);
        goto out;
    }
    set_serving_tier(x, x->decision.has_tier && x->decision.source != ALLOT_SRC_MODEL
                            ? (int)x->decision.tier
                            : -1);
    floor_route(x);
    if (x->mread.n && !a_model_serves(x)) {
        /* only Anthropic's own API takes it, and no such model would serve */
        set_error(x,
                  "%s (a model of a kind: anthropic provider takes it as it is; none serves "
                  "this request)",
                  x->mread.what);
        reply_error(x, ALLOT_MSTATUS_REJECTED, 400, "invalid_request_error", "invalid_request",
                    x->error);
        finish(x, ALLOT_MSTATUS_REJECTED);
        goto out;
    }
    try_next(x);
out:
    allot_buf_release(&err);
}

void allot__exchange_abort(struct allot_http_request *req)
{
    struct allot__exchange *x = req->user;
    if (!x)
        return;
    x->req = NULL;
    x->client_gone = 1;
    if (x->in_upstream_cb)
        return; /* the callback returns an abort code; on_done finishes */
    if (x->xfer) {
        allot_upstream_cancel(x->xfer);
        x->xfer = NULL;
    }
    set_error(x, "client closed the connection");
    finish(x, ALLOT_MSTATUS_CLIENT_CLOSED);
}

void allot__exchange_drain(struct allot_http_request *req)
{
    struct allot__exchange *x = req->user;
    if (!x)
        return;
    x->pause_wanted = 0;
    if (x->paused && x->xfer) {
        x->paused = 0;
        allot_upstream_resume(x->xfer);
    }
}

void allot__exchange_fail_all(struct allot__worker *w)
{
    while (w->exchange_list) {
        struct allot__exchange *x = w->exchange_list;
        if (x->xfer) {
            allot_upstream_cancel(x->xfer);
            x->xfer = NULL;
        }
        set_error(x, "allot was stopped before the upstream answered (drain deadline)");
        if (x->state == X_STREAMING && !x->holding) {
            stream_fail(x, x->error);
        } else {
            reply_error(x, ALLOT_MSTATUS_FAILED, 503, "server_error", "shutting_down", x->error);
            finish(x, ALLOT_MSTATUS_FAILED);
        }
    }
}
