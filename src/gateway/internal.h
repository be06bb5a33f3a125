/* internal.h: what the gateway's files share: the process-wide gateway,
 * its workers, and the handlers each file provides. Not a public API. */
#ifndef ALLOT_GATEWAY_INTERNAL_H
#define ALLOT_GATEWAY_INTERNAL_H
#include <stdint.h>
#include <uv.h>
#include "allot/config.h"
#include "allot/decision.h"
#include "allot/http_server.h"
#include "allot/ledger.h"
#include "allot/metrics.h"
#include "allot/upstream.h"

struct allot__gateway;
struct allot__exchange;
struct allot__audit;
struct allot_checker;
struct allot_floor;
struct allot_chat_request;
struct allot_accept_model;
struct allot_instruction;
struct allot_clients;
struct allot_cooldowns;

struct allot__worker {
    int index;
    struct allot__gateway *gw;
    uv_loop_t loop;
    uv_async_t wake;  /* main thread -> worker: stop */
    uv_timer_t drain; /* polls in-flight count while stopping */
    struct allot_http_server *http;
    struct allot_upstream *up;
    uv_thread_t thread;
    uint64_t drain_deadline_us;
    uint64_t drain_idle_us; /* when idle keep-alive connections close (DRAIN_IDLE_MS) */
    int idle_closed;
    uint64_t id_counter;
    size_t exchanges;                      /* chat exchanges alive on this worker */
    struct allot__exchange *exchange_list; /* the same, linked */
    struct allot__exchange *exchange_pool; /* finished ones kept for reuse */
    size_t exchange_pool_len;
    size_t audits;                   /* audits in flight on this worker */
    struct allot__audit *audit_list; /* the same, linked */
    uint64_t rng; /* rand.h stream: audit sampling and probes; seeded per process and worker */
    void *accept_scratch; /* the acceptability model's features; lazily */
    int stopping;
    int start_rc; /* set by the worker before it signals ready */
    struct allot_buf start_err;
};

struct allot__gateway {
    const struct allot_config *cfg;
    struct allot_ledger *ledger;
    struct allot_metrics *metrics;
    struct allot__worker *workers;
    int n_workers;
    const char *host;
    int port;
    int quiet;
    uint32_t id_seed;                  /* random per process: request ids differ across runs */
    struct allot_checker *checker;     /* the answer checks; immutable */
    struct allot_floor *floor;         /* the adaptive floor; NULL when off */
    struct allot_accept_model *accept; /* routing.acceptability; NULL when off */
    struct allot_clients *clients;     /* auth.keys, replaced on SIGHUP; admits all when none */
    const char *store;                 /* the ledger's store, for seeding new budgets */
    struct allot_budgets *budgets;     /* auth.keys[].daily_budget_usd */
    struct allot_ratelimits *rates;    /* auth.keys[].requests_per_minute */
    struct allot_cooldowns *cooldowns; /* models resting after failures in a row */
    /* every configured model is of a kind: anthropic provider: a Messages
     * request is only ever passed through, its translation never sent */
    int messages_passed_through;
    /* GET /v1/models bodies, built once: [format][tiers], format 0 OpenAI's,
     * 1 Anthropic's; tiers a bit per tier a client key may use (auth.keys[].
     * tiers; 7: every tier): what that key's listing shows. */
    char *models_json[2][1u << ALLOT_TIER__COUNT];
    size_t models_json_len[2][1u << ALLOT_TIER__COUNT];
    uv_sem_t ready;
};

/* Headers of one response, at most: the decision's x-allot-* and rate and
 * budget headers (decision_headers() in exchange.c: 15) and the ones its
 * callers add. */
#define ALLOT__MAX_RESPONSE_HEADERS 24

/* A request id "req_" + 20 hex digits, unique per process run. */
void allot__gateway_request_id(struct allot__worker *w, char out[40]);

/* Send an OpenAI-style error: {"error":{"message","type","param":null,"code"}}.
 * extra headers (may be NULL/0) go out too. */
void allot__respond_error(struct allot_http_request *req, int status, const char *type,
                          const char *code, const char *message,
                          const struct allot_http_header *extra, size_t n_extra);

/* Whether path is the Anthropic Messages API's (/v1/messages): its
 * errors and answers use Anthropic's format (endpoints.c). */
int allot__is_messages_path(struct allot_slice path);
/* The same, or POST /v1/messages/count_tokens's path (endpoints.c). */
int allot__is_anthropic_path(struct allot_slice path);
/* Whether path is OpenAI's Responses API's (/v1/responses): its requests
 * and answers are translated (responses.h), its errors are OpenAI's. */
int allot__is_responses_path(struct allot_slice path);

/* Whether path is /v1/embeddings (or /embeddings): its requests go to the
 * embeddings models (decision.h), unchecked, and are ledgered as such. */
int allot__is_embeddings_path(struct allot_slice path);

/* Every request's head, before its body is read (endpoints.c): with
 * auth.keys, everything but GET /healthz needs a client key; the caller
 * goes on in req->tag (its client slot, clients.h, plus one). */
void allot__endpoint_head(struct allot__worker *w, struct allot_http_request *req,
                          struct allot_http_refusal *refuse);

/* POST /v1/chat/completions, /v1/messages and /v1/responses (exchange.c).
 * client: the caller's client slot (clients.h), -1 when auth is off. */
void allot__exchange_start(struct allot__worker *w, struct allot_http_request *req, int client);
/* The client went away (exchange.c). */
void allot__exchange_abort(struct allot_http_request *req);
/* The client's write queue drained (exchange.c). */
void allot__exchange_drain(struct allot_http_request *req);
/* Free the worker's pool of finished exchanges (exchange.c). */
void allot__exchange_pool_free(struct allot__worker *w);
/* Fail what is still in flight at the drain deadline (exchange.c). */
void allot__exchange_fail_all(struct allot__worker *w);

/* The quality floor (quality.c). */
enum { ALLOT__FLOOR_LABOUR, ALLOT__FLOOR_PROMOTED, ALLOT__FLOOR_PROBE };
/* A uniform 64-bit random number from the worker's generator. */
uint64_t allot__worker_random(struct allot__worker *w);
/* What the floor says for a labour request of category cat (an
 * ALLOT__FLOOR_* value); reason gets the header-safe why when it is not
 * LABOUR. */
int allot__quality_route(struct allot__worker *w, enum allot_category cat, char *reason,
                         size_t cap);
/* The floor's say on a decision, for POST /v1/route: a labour decision of
 * a promoted category is shown going to judgment, with the floor's reason.
 * Nothing is consumed: no probe is drawn. */
void allot__quality_preview(struct allot__worker *w, struct allot_decision *d);
/* A verdict on a labour answer of cat (from "check" or "audit"); a
 * promotion or demotion it causes is logged, counted and ledgered. */
void allot__quality_verdict(struct allot__worker *w, enum allot_category cat, int pass, int probe,
                            const char *source);
/* Grade an answer with the judgment tier, off the request path: a ledger
 * row of its own (endpoint "audit", audit_of = request_id). The texts are
 * copied. Skipped (and counted) past quality.audit.max_in_flight. */
void allot__audit_start(struct allot__worker *w, const char *request_id,
                        const struct allot_chat_request *chat, int has_category,
                        enum allot_category cat, const char *answer, size_t answer_len, int probe);
/* Cancel the audits still running (drain deadline): each is ledgered as failed. */
void allot__audit_fail_all(struct allot__worker *w);

/* Routing by the acceptability model (acceptability.c). init loads it
 * (ALLOT_EIO/EPARSE/ECONFIG with err), route applies it to a decision of
 * kind of work in a configured category: returns 1 when it set the tier. */
int allot__acceptability_init(struct allot__gateway *gw, struct allot_buf *err);
void allot__acceptability_free(struct allot__gateway *gw);
int allot__acceptability_route(struct allot__worker *w, struct allot_decision *d,
                               const struct allot_instruction *in);

/* Everything else: /v1/models, /v1/route, /healthz, /metrics (endpoints.c). */
void allot__endpoint_dispatch(struct allot__worker *w, struct allot_http_request *req);
/* Build gw->models_json from the config (endpoints.c). */
int allot__endpoint_models_init(struct allot__gateway *gw);

#endif
