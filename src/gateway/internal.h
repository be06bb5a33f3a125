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
    uint64_t id_counter;
    size_t exchanges;                      /* chat exchanges alive on this worker */
    struct allot__exchange *exchange_list; /* the same, linked */
    struct allot__exchange *exchange_pool; /* finished ones kept for reuse */
    size_t exchange_pool_len;
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
    uint32_t id_seed;  /* random per process: request ids differ across runs */
    char *models_json; /* GET /v1/models body, built once */
    size_t models_json_len;
    uv_sem_t ready;
};

/* A request id "req_" + 20 hex digits, unique per process run. */
void allot__gateway_request_id(struct allot__worker *w, char out[40]);

/* Send an OpenAI-style error: {"error":{"message","type","param":null,"code"}}.
 * extra headers (may be NULL/0) go out too. */
void allot__respond_error(struct allot_http_request *req, int status, const char *type,
                          const char *code, const char *message,
                          const struct allot_http_header *extra, size_t n_extra);

/* POST /v1/chat/completions (exchange.c). */
void allot__exchange_start(struct allot__worker *w, struct allot_http_request *req);
/* The client went away (exchange.c). */
void allot__exchange_abort(struct allot_http_request *req);
/* The client's write queue drained (exchange.c). */
void allot__exchange_drain(struct allot_http_request *req);
/* Free the worker's pool of finished exchanges (exchange.c). */
void allot__exchange_pool_free(struct allot__worker *w);
/* Fail what is still in flight at the drain deadline (exchange.c). */
void allot__exchange_fail_all(struct allot__worker *w);

/* Everything else: /v1/models, /v1/route, /healthz, /metrics (endpoints.c). */
void allot__endpoint_dispatch(struct allot__worker *w, struct allot_http_request *req);
/* Build gw->models_json from the config (endpoints.c). */
int allot__endpoint_models_init(struct allot__gateway *gw);

#endif
