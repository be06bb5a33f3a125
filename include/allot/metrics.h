/* metrics.h: Prometheus metrics of the gateway.
 *
 * DESIGN: one shard per worker thread; a worker only writes its own shard
 * (relaxed atomic loads and stores, no locked adds, no locks, no false
 * sharing between shards), and a scrape sums all shards; the few counters
 * of no shard (the quality floor's promotions) take atomic adds. Label sets are fixed at start from
 * the config (tiers x models x statuses) and the client slots' room (clients.h), so recording never
 * allocates. */
#ifndef ALLOT_METRICS_H
#define ALLOT_METRICS_H
#include <stddef.h>
#include <stdint.h>
#include "allot/buf.h"
#include "allot/clients.h"
#include "allot/config.h"

enum allot_metrics_status {
    ALLOT_MSTATUS_OK,
    ALLOT_MSTATUS_FAILED,
    ALLOT_MSTATUS_CLIENT_CLOSED,
    ALLOT_MSTATUS_REJECTED,
    ALLOT_MSTATUS__COUNT,
};

enum allot_metrics_attempt {
    ALLOT_MATTEMPT_OK,
    ALLOT_MATTEMPT_HTTP_429,
    ALLOT_MATTEMPT_HTTP_5XX,
    ALLOT_MATTEMPT_HTTP_4XX,
    ALLOT_MATTEMPT_TIMEOUT,
    ALLOT_MATTEMPT_CONNECT,
    ALLOT_MATTEMPT_INVALID,
    ALLOT_MATTEMPT_CHECK, /* a 2xx answer that failed a check and was escalated */
    ALLOT_MATTEMPT__COUNT,
};

struct allot_metrics_sample {
    int tier;  /* enum allot_tier, or -1 when none was decided */
    int model; /* index into cfg->models, or -1 */
    enum allot_metrics_status status;
    int stream;
    double latency_s;
    double ttft_s;     /* < 0 when no byte of an answer was sent */
    double overhead_s; /* allot's own time on the request; < 0: not measured */
    int64_t prompt_tokens, completion_tokens;
    int64_t cached_tokens, cache_write_tokens; /* of prompt_tokens: the provider's prompt cache */
    double cost_usd, counterfactual_usd;
    int client;        /* client slot (clients.h), or -1 (auth off) */
    double billed_usd; /* the whole request's cost, discarded answers included */
};

struct allot_metrics;

/* cfg and clients must outlive the metrics. ALLOT_ENOMEM. */
int allot_metrics_new(const struct allot_config *cfg, const struct allot_clients *clients,
                      int n_shards, struct allot_metrics **out);
void allot_metrics_free(struct allot_metrics *m);
/* Record a finished request / one upstream attempt. Shard = worker index. */
void allot_metrics_request(struct allot_metrics *m, int shard,
                           const struct allot_metrics_sample *s);
void allot_metrics_attempt(struct allot_metrics *m, int shard, int model,
                           enum allot_metrics_attempt result);
/* Tokens and spend of an answer that is not a finished request of its own:
 * an escalated (discarded) attempt, an audit. Counted for model like
 * allot_metrics_request() counts a request's. */
void allot_metrics_spend(struct allot_metrics *m, int shard, int model, int64_t prompt_tokens,
                         int64_t completion_tokens, double cost_usd, double counterfactual_usd);
/* The quality floor: a checked answer (tier, enum allot_check_id), an
 * escalation (category or -1), an audit's grade (1 pass, 0 fail, -1 none
 * or failed; skipped: sampled but over max_in_flight), and a category's
 * floor state (promoted 1/0; promotions and demotions are counted). */
void allot_metrics_check(struct allot_metrics *m, int shard, int tier, int check);
void allot_metrics_escalation(struct allot_metrics *m, int shard, int category);
void allot_metrics_audit(struct allot_metrics *m, int shard, int category, int grade, int skipped);
enum { ALLOT_MFLOOR_PROMOTE, ALLOT_MFLOOR_DEMOTE, ALLOT_MFLOOR_REPROMOTE };
void allot_metrics_floor(struct allot_metrics *m, int category, int change);
/* A request refused for want of a valid client key (auth.keys):
 * missing 1 when it carried none, 0 when its key matched none. */
void allot_metrics_auth_failure(struct allot_metrics *m, int shard, int missing);
/* A request the classifier routed; remembered 1 when its classification
 * was the worker's memo's copy (classify_memo.h). */
void allot_metrics_classified(struct allot_metrics *m, int shard, int remembered);
/* In-flight gauge of a shard, +1 / -1. */
void allot_metrics_inflight(struct allot_metrics *m, int shard, int delta);
/* Append a label NAME="VALUE" (after a ',' unless first), the value
 * escaped per the exposition format. ALLOT_ETOOBIG past o's cap. */
int allot_metrics_add_label(struct allot_buf *o, const char *name, const char *v, int first);

/* Append the text exposition format (version 0.0.4) of all shards, plus
 * the ledger counters given (ledger.h: rows written, of them in idle
 * time, failed). */
int allot_metrics_render(struct allot_metrics *m, uint64_t ledger_written, uint64_t ledger_idle,
                         uint64_t ledger_failed, struct allot_buf *out);

#endif
