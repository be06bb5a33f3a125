/* metrics.c: sharded counters and histograms, rendered for Prometheus.
 * See metrics.h for the design. Costs are kept in nano-USD integers so
 * sums are exact and atomic. */
#include <stdlib.h>
#include <string.h>
#include "allot/check.h"
#include "allot/cost.h"
#include "allot/error.h"
#include "allot/kinds.h"
#include "allot/metrics.h"

static const double latency_bounds[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                        0.5,   1,      2.5,   5,    10,    30,   60,  120};
#define N_BOUNDS (sizeof latency_bounds / sizeof latency_bounds[0])
/* allot's own time on a request: tens of microseconds to milliseconds */
static const double overhead_bounds[] = {0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005,
                                         0.001,   0.0025,   0.005,   0.01,   0.025,   0.1};
#define N_OVERHEAD_BOUNDS (sizeof overhead_bounds / sizeof overhead_bounds[0])
#define N_TIERS (ALLOT_TIER__COUNT + 1) /* slot 0: no tier */

static const char *const status_names[ALLOT_MSTATUS__COUNT] = {"ok", "failed", "client_closed",
                                                               "rejected"};
static const char *const attempt_names[ALLOT_MATTEMPT__COUNT] = {
    "ok",      "http_429",      "http_5xx",         "http_4xx",
    "timeout", "connect_error", "invalid_response", "check_failed"};

struct histogram {
    uint64_t buckets[N_BOUNDS + 1]; /* per-bucket (not cumulative) counts */
    uint64_t count;
    uint64_t sum_us;
};

struct per_model { /* slot 0: no model */
    uint64_t prompt_tokens, completion_tokens;
    uint64_t cached_tokens, cache_write_tokens; /* of prompt_tokens */
    uint64_t cost_nusd, counterfactual_nusd;
    uint64_t attempts[ALLOT_MATTEMPT__COUNT];
};

struct per_client { /* auth.keys: what each client used */
    uint64_t requests[ALLOT_MSTATUS__COUNT];
    uint64_t prompt_tokens, completion_tokens;
    uint64_t billed_nusd;
};

struct shard {
    uint64_t *requests; /* [N_TIERS][n_models + 1][status] */
    struct per_model *models;
    struct per_client *clients;           /* [ALLOT_MAX_CLIENT_SLOTS], by client slot */
    uint64_t auth_failures[2];            /* [invalid, missing] */
    uint64_t classified[2];               /* [by the model, copied from the memo] */
    struct histogram latency[N_TIERS][2]; /* [tier][stream] */
    struct histogram ttft[N_TIERS];
    struct histogram overhead[N_TIERS]; /* its first N_OVERHEAD_BOUNDS + 1 buckets */
    int64_t inflight;
    uint64_t checks[N_TIERS][ALLOT_CHECK__COUNT];
    uint64_t escalations[ALLOT_CAT__COUNT + 1]; /* slot 0: no category */
    uint64_t audits[ALLOT_CAT__COUNT + 1][3];   /* [category][fail, pass, none] */
    uint64_t audits_skipped;
    char pad[64];
};

struct allot_metrics {
    const struct allot_config *cfg;
    const struct allot_clients *clients;
    int n_shards;
    size_t n_slots; /* n_models + 1 */
    struct shard *shards;
    int promoted[ALLOT_CAT__COUNT]; /* the floor's state, written under its own order */
    uint64_t promotions[ALLOT_CAT__COUNT], demotions[ALLOT_CAT__COUNT];
    uint64_t repromotions[ALLOT_CAT__COUNT];
};

/* A shard's counter: only its own worker writes it (metrics.h), so the
 * add is an atomic load and an atomic store, which a scrape on another
 * thread reads whole, without the locked read-modify-write (a full
 * barrier, about 20 cycles) that no other writer calls for. About 20
 * adds a request. */
#define ADD(p, v)                                                                                  \
    __atomic_store_n((p), __atomic_load_n((p), __ATOMIC_RELAXED) + (v), __ATOMIC_RELAXED)
/* A counter of no shard, which any worker may add to. */
#define ADD_SHARED(p, v) __atomic_fetch_add((p), (v), __ATOMIC_RELAXED)
#define LOAD(p) __atomic_load_n((p), __ATOMIC_RELAXED)

int allot_metrics_new(const struct allot_config *cfg, const struct allot_clients *clients,
                      int n_shards, struct allot_metrics **out)
{
    struct allot_metrics *m = calloc(1, sizeof *m);
    int i;

    if (!m)
        return ALLOT_ENOMEM;
    m->cfg = cfg;
    m->clients = clients;
    m->n_shards = n_shards;
    m->n_slots = cfg->n_models + 1;
    m->shards = calloc((size_t)n_shards, sizeof *m->shards);
    if (!m->shards)
        goto fail;
    for (i = 0; i < n_shards; i++) {
        m->shards[i].requests =
            calloc(N_TIERS * m->n_slots * ALLOT_MSTATUS__COUNT, sizeof(uint64_t));
        m->shards[i].models = calloc(m->n_slots, sizeof(struct per_model));
        if (!m->shards[i].requests || !m->shards[i].models)
            goto fail;
        /* Untouched pages of it cost no memory: calloc maps zero pages. */
        if (!(m->shards[i].clients = calloc(ALLOT_MAX_CLIENT_SLOTS, sizeof(struct per_client))))
            goto fail;
    }
    *out = m;
    return 0;
fail:
    allot_metrics_free(m);
    return ALLOT_ENOMEM;
}

void allot_metrics_free(struct allot_metrics *m)
{
    int i;
    if (!m)
        return;
    for (i = 0; m->shards && i < m->n_shards; i++) {
        free(m->shards[i].requests);
        free(m->shards[i].models);
        free(m->shards[i].clients);
    }
    free(m->shards);
    free(m);
}

void allot_metrics_check(struct allot_metrics *m, int shard, int tier, int check)
{
    size_t t = (size_t)(tier + 1);
    if (t >= N_TIERS || check < 0 || check >= ALLOT_CHECK__COUNT)
        return;
    ADD(&m->shards[shard].checks[t][check], 1);
}

void allot_metrics_escalation(struct allot_metrics *m, int shard, int category)
{
    size_t c = (size_t)(category + 1);
    ADD(&m->shards[shard].escalations[c <= ALLOT_CAT__COUNT ? c : 0], 1);
}

void allot_metrics_audit(struct allot_metrics *m, int shard, int category, int grade, int skipped)
{
    size_t c = (size_t)(category + 1);
    if (skipped) {
        ADD(&m->shards[shard].audits_skipped, 1);
        return;
    }
    ADD(&m->shards[shard].audits[c <= ALLOT_CAT__COUNT ? c : 0][grade == 1   ? 1
                                                                : grade == 0 ? 0
                                                                             : 2],
        1);
}

void allot_metrics_floor(struct allot_metrics *m, int category, int change)
{
    if (category < 0 || category >= ALLOT_CAT__COUNT)
        return;
    __atomic_store_n(&m->promoted[category], change != ALLOT_MFLOOR_DEMOTE, __ATOMIC_RELAXED);
    ADD_SHARED(change == ALLOT_MFLOOR_PROMOTE  ? &m->promotions[category]
               : change == ALLOT_MFLOOR_DEMOTE ? &m->demotions[category]
                                               : &m->repromotions[category],
               1);
}

static const char *category_label(size_t slot)
{
    return slot == 0 ? "" : allot_category_name((enum allot_category)(slot - 1));
}

/* The quality floor's series. */
static const char *tier_label(size_t tier);

static int render_quality(struct allot_metrics *m, struct allot_buf *o)
{
    static const char *const grades[3] = {"fail", "pass", "none"};
    size_t t, k, c, g;
    uint64_t v;
    int s, rc;

    rc = allot_buf_adds(o, "# HELP allot_checks_total Answers checked, by the tier that served "
                           "and the verdict (pass or the failed check).\n"
                           "# TYPE allot_checks_total counter\n");
    for (t = 0; t < N_TIERS && !rc; t++) {
        for (k = 0; k < ALLOT_CHECK__COUNT && !rc; k++) {
            for (v = 0, s = 0; s < m->n_shards; s++)
                v += LOAD(&m->shards[s].checks[t][k]);
            if (v)
                rc = allot_buf_addf(o, "allot_checks_total{tier=\"%s\",verdict=\"%s\"} %llu\n",
                                    tier_label(t), allot_check_name((enum allot_check_id)k),
                                    (unsigned long long)v);
        }
    }
    rc = rc ? rc
            : allot_buf_adds(o, "# HELP allot_escalations_total Requests whose answer failed a "
                                "check and went to the next tier up, by category.\n"
                                "# TYPE allot_escalations_total counter\n");
    for (c = 0; c <= ALLOT_CAT__COUNT && !rc; c++) {
        for (v = 0, s = 0; s < m->n_shards; s++)
            v += LOAD(&m->shards[s].escalations[c]);
        if (v)
            rc = allot_buf_addf(o, "allot_escalations_total{category=\"%s\"} %llu\n",
                                category_label(c), (unsigned long long)v);
    }
    rc = rc ? rc
            : allot_buf_adds(o, "# HELP allot_audits_total Labour answers graded by the "
                                "judgment tier, by category and grade.\n"
                                "# TYPE allot_audits_total counter\n");
    for (c = 0; c <= ALLOT_CAT__COUNT && !rc; c++) {
        for (g = 0; g < 3 && !rc; g++) {
            for (v = 0, s = 0; s < m->n_shards; s++)
                v += LOAD(&m->shards[s].audits[c][g]);
            if (v)
                rc = allot_buf_addf(o, "allot_audits_total{category=\"%s\",grade=\"%s\"} %llu\n",
                                    category_label(c), grades[g], (unsigned long long)v);
        }
    }
    for (v = 0, s = 0; s < m->n_shards; s++)
        v += LOAD(&m->shards[s].audits_skipped);
    rc = rc ? rc
            : allot_buf_addf(o,
                             "# HELP allot_audits_skipped_total Answers sampled for audit "
                             "but not audited (quality.audit.max_in_flight reached).\n"
                             "# TYPE allot_audits_skipped_total counter\n"
                             "allot_audits_skipped_total %llu\n",
                             (unsigned long long)v);
    rc = rc ? rc
            : allot_buf_adds(o, "# HELP allot_floor_promoted 1 when the quality floor has moved "
                                "the category from labour to judgment.\n"
                                "# TYPE allot_floor_promoted gauge\n");
    for (c = 0; c < ALLOT_CAT__COUNT && !rc; c++) {
        if (allot_category_default_tier((enum allot_category)c) != ALLOT_TIER_LABOUR &&
            !LOAD(&m->promotions[c]))
            continue;
        rc = allot_buf_addf(o, "allot_floor_promoted{category=\"%s\"} %d\n",
                            allot_category_name((enum allot_category)c), LOAD(&m->promoted[c]));
    }
    rc = rc ? rc
            : allot_buf_adds(o, "# HELP allot_floor_changes_total Promotions, demotions and "
                                "re-promotions (probes failed) by the quality floor.\n"
                                "# TYPE allot_floor_changes_total counter\n");
    for (c = 0; c < ALLOT_CAT__COUNT && !rc; c++) {
        uint64_t p = LOAD(&m->promotions[c]), d = LOAD(&m->demotions[c]);
        uint64_t r = LOAD(&m->repromotions[c]);
        const char *name = allot_category_name((enum allot_category)c);
        if (p || d || r)
            rc = allot_buf_addf(o,
                                "allot_floor_changes_total{category=\"%s\",change=\"promote\"} "
                                "%llu\nallot_floor_changes_total{category=\"%s\","
                                "change=\"demote\"} %llu\nallot_floor_changes_total{"
                                "category=\"%s\",change=\"repromote\"} %llu\n",
                                name, (unsigned long long)p, name, (unsigned long long)d, name,
                                (unsigned long long)r);
    }
    return rc;
}

static void observe_in(struct histogram *h, const double *bounds, size_t n_bounds, double seconds)
{
    size_t i = 0;
    while (i < n_bounds && seconds > bounds[i])
        i++;
    ADD(&h->buckets[i], 1);
    ADD(&h->count, 1);
    ADD(&h->sum_us, (uint64_t)(seconds * 1e6));
}

static void observe(struct histogram *h, double seconds)
{
    observe_in(h, latency_bounds, N_BOUNDS, seconds);
}

void allot_metrics_request(struct allot_metrics *m, int shard, const struct allot_metrics_sample *s)
{
    struct shard *sh = &m->shards[shard];
    size_t tier = (size_t)(s->tier + 1), model = (size_t)(s->model + 1);
    struct per_model *pm = &sh->models[model];

    if (tier >= N_TIERS)
        tier = 0;
    if (model >= m->n_slots)
        model = 0;
    ADD(&sh->requests[(tier * m->n_slots + model) * ALLOT_MSTATUS__COUNT + s->status], 1);
    observe(&sh->latency[tier][s->stream ? 1 : 0], s->latency_s);
    if (s->ttft_s >= 0)
        observe(&sh->ttft[tier], s->ttft_s);
    if (s->overhead_s >= 0)
        observe_in(&sh->overhead[tier], overhead_bounds, N_OVERHEAD_BOUNDS, s->overhead_s);
    ADD(&pm->prompt_tokens, (uint64_t)(s->prompt_tokens > 0 ? s->prompt_tokens : 0));
    ADD(&pm->completion_tokens, (uint64_t)(s->completion_tokens > 0 ? s->completion_tokens : 0));
    ADD(&pm->cached_tokens, (uint64_t)(s->cached_tokens > 0 ? s->cached_tokens : 0));
    ADD(&pm->cache_write_tokens, (uint64_t)(s->cache_write_tokens > 0 ? s->cache_write_tokens : 0));
    ADD(&pm->cost_nusd, allot_cost_nusd(s->cost_usd));
    ADD(&pm->counterfactual_nusd, allot_cost_nusd(s->counterfactual_usd));
    if (s->client >= 0 && s->client < ALLOT_MAX_CLIENT_SLOTS) {
        struct per_client *pc = &sh->clients[s->client];
        ADD(&pc->requests[s->status], 1);
        ADD(&pc->prompt_tokens, (uint64_t)(s->prompt_tokens > 0 ? s->prompt_tokens : 0));
        ADD(&pc->completion_tokens,
            (uint64_t)(s->completion_tokens > 0 ? s->completion_tokens : 0));
        ADD(&pc->billed_nusd, allot_cost_nusd(s->billed_usd));
    }
}

void allot_metrics_auth_failure(struct allot_metrics *m, int shard, int missing)
{
    ADD(&m->shards[shard].auth_failures[missing ? 1 : 0], 1);
}

void allot_metrics_classified(struct allot_metrics *m, int shard, int remembered)
{
    ADD(&m->shards[shard].classified[remembered ? 1 : 0], 1);
}

void allot_metrics_spend(struct allot_metrics *m, int shard, int model, int64_t prompt_tokens,
                         int64_t completion_tokens, double cost_usd, double counterfactual_usd)
{
    size_t slot = (size_t)(model + 1);
    struct per_model *pm;

    if (slot >= m->n_slots)
        slot = 0;
    pm = &m->shards[shard].models[slot];
    ADD(&pm->prompt_tokens, (uint64_t)(prompt_tokens > 0 ? prompt_tokens : 0));
    ADD(&pm->completion_tokens, (uint64_t)(completion_tokens > 0 ? completion_tokens : 0));
    ADD(&pm->cost_nusd, allot_cost_nusd(cost_usd));
    ADD(&pm->counterfactual_nusd, allot_cost_nusd(counterfactual_usd));
}

void allot_metrics_attempt(struct allot_metrics *m, int shard, int model,
                           enum allot_metrics_attempt result)
{
    size_t slot = (size_t)(model + 1);
    if (slot >= m->n_slots)
        slot = 0;
    ADD(&m->shards[shard].models[slot].attempts[result], 1);
}

void allot_metrics_inflight(struct allot_metrics *m, int shard, int delta)
{
    ADD(&m->shards[shard].inflight, delta);
}

static const char *model_name(const struct allot_metrics *m, size_t slot)
{
    return slot == 0 ? "" : m->cfg->models[slot - 1].name;
}

static const char *tier_label(size_t tier)
{
    return tier == 0 ? "" : allot_tier_name((enum allot_tier)(tier - 1));
}

/* Label values come from the config; escape them per the exposition format. */
int allot_metrics_add_label(struct allot_buf *o, const char *name, const char *v, int first)
{
    int rc = allot_buf_addf(o, "%s%s=\"", first ? "" : ",", name);
    for (; !rc && *v; v++) {
        if (*v == '"' || *v == '\\')
            rc = allot_buf_addf(o, "\\%c", *v);
        else if (*v == '\n')
            rc = allot_buf_adds(o, "\\n");
        else
            rc = allot_buf_add(o, v, 1);
    }
    return rc ? rc : allot_buf_add(o, "\"", 1);
}

enum hist_kind { H_LATENCY, H_TTFT, H_OVERHEAD }; /* H_LATENCY: with the stream label */

static int render_histogram(struct allot_metrics *m, struct allot_buf *o, const char *name,
                            enum hist_kind kind, size_t tier, int stream)
{
    uint64_t cum = 0, count = 0, sum_us = 0, b[N_BOUNDS + 1] = {0};
    const double *bounds = kind == H_OVERHEAD ? overhead_bounds : latency_bounds;
    size_t i, n_bounds = kind == H_OVERHEAD ? N_OVERHEAD_BOUNDS : N_BOUNDS;
    int s, rc = 0, stream_label = kind == H_LATENCY;

    for (s = 0; s < m->n_shards; s++) {
        const struct histogram *h = kind == H_LATENCY ? &m->shards[s].latency[tier][stream]
                                    : kind == H_TTFT  ? &m->shards[s].ttft[tier]
                                                      : &m->shards[s].overhead[tier];
        for (i = 0; i <= n_bounds; i++)
            b[i] += LOAD(&h->buckets[i]);
        count += LOAD(&h->count);
        sum_us += LOAD(&h->sum_us);
    }
    if (!count)
        return 0;
    for (i = 0; i <= n_bounds && !rc; i++) {
        cum += b[i];
        rc = allot_buf_addf(o, "%s_bucket{", name);
        rc = rc ? rc : allot_metrics_add_label(o, "tier", tier_label(tier), 1);
        if (!rc && stream_label)
            rc = allot_metrics_add_label(o, "stream", stream ? "true" : "false", 0);
        if (!rc && i < n_bounds)
            rc = allot_buf_addf(o, ",le=\"%g\"} %llu\n", bounds[i], (unsigned long long)cum);
        else if (!rc)
            rc = allot_buf_addf(o, ",le=\"+Inf\"} %llu\n", (unsigned long long)cum);
    }
    rc = rc ? rc : allot_buf_addf(o, "%s_sum{", name);
    rc = rc ? rc : allot_metrics_add_label(o, "tier", tier_label(tier), 1);
    if (!rc && stream_label)
        rc = allot_metrics_add_label(o, "stream", stream ? "true" : "false", 0);
    rc = rc ? rc : allot_buf_addf(o, "} %.6f\n%s_count{", (double)sum_us / 1e6, name);
    rc = rc ? rc : allot_metrics_add_label(o, "tier", tier_label(tier), 1);
    if (!rc && stream_label)
        rc = allot_metrics_add_label(o, "stream", stream ? "true" : "false", 0);
    return rc ? rc : allot_buf_addf(o, "} %llu\n", (unsigned long long)count);
}

static uint64_t sum_model(struct allot_metrics *m, size_t slot, size_t offset)
{
    uint64_t v = 0;
    int s;
    for (s = 0; s < m->n_shards; s++)
        v += LOAD((uint64_t *)((char *)&m->shards[s].models[slot] + offset));
    return v;
}

/* A per-model USD counter kept in nano-USD at offset in struct per_model. */
/* A counter of two series a model: name{model, label="v1"} and ...="v2"},
 * the per_model fields at off1 and off2 summed over the shards. */
static int render_token_pair(struct allot_metrics *m, struct allot_buf *o, const char *name,
                             const char *help, const char *label, const char *v1, size_t off1,
                             const char *v2, size_t off2)
{
    size_t slot;
    int rc = allot_buf_addf(o, "# HELP %s %s\n# TYPE %s counter\n", name, help, name);

    for (slot = 1; slot < m->n_slots && !rc; slot++) {
        const char *mn = model_name(m, slot);
        rc = allot_buf_addf(o, "%s{", name);
        rc = rc ? rc : allot_metrics_add_label(o, "model", mn, 1);
        rc = rc ? rc
                : allot_buf_addf(o, ",%s=\"%s\"} %llu\n%s{", label, v1,
                                 (unsigned long long)sum_model(m, slot, off1), name);
        rc = rc ? rc : allot_metrics_add_label(o, "model", mn, 1);
        rc = rc ? rc
                : allot_buf_addf(o, ",%s=\"%s\"} %llu\n", label, v2,
                                 (unsigned long long)sum_model(m, slot, off2));
    }
    return rc;
}

static int render_usd(struct allot_metrics *m, struct allot_buf *o, const char *name,
                      const char *help, size_t offset)
{
    size_t slot;
    int rc = allot_buf_addf(o, "# HELP %s %s\n# TYPE %s counter\n", name, help, name);
    for (slot = 1; slot < m->n_slots && !rc; slot++) {
        rc = allot_buf_addf(o, "%s{", name);
        rc = rc ? rc : allot_metrics_add_label(o, "model", model_name(m, slot), 1);
        rc = rc ? rc : allot_buf_addf(o, "} %.9f\n", (double)sum_model(m, slot, offset) / 1e9);
    }
    return rc;
}

/* The sum over shards of the per_client counter at offset. */
static uint64_t sum_client(struct allot_metrics *m, size_t c, size_t offset)
{
    uint64_t v = 0;
    int s;
    for (s = 0; s < m->n_shards; s++)
        v += LOAD((uint64_t *)((char *)&m->shards[s].clients[c] + offset));
    return v;
}

/* A counter of two labelled values, each summed over the shards: the
 * uint64_t pair at offset in struct shard. */
static int render_pair(struct allot_metrics *m, struct allot_buf *o, const char *name,
                       const char *help, const char *label, const char *const values[2],
                       size_t offset)
{
    int s, r, rc = allot_buf_addf(o, "# HELP %s %s\n# TYPE %s counter\n", name, help, name);

    for (r = 0; r < 2 && !rc; r++) {
        uint64_t v = 0;
        for (s = 0; s < m->n_shards; s++)
            v += LOAD((uint64_t *)((char *)&m->shards[s] + offset) + r);
        rc = allot_buf_addf(o, "%s{%s=\"%s\"} %llu\n", name, label, values[r],
                            (unsigned long long)v);
    }
    return rc;
}

/* Requests the classifier routed, by where their classification came from. */
static int render_classified(struct allot_metrics *m, struct allot_buf *o)
{
    static const char *const from[2] = {"model", "memo"};
    return render_pair(m, o, "allot_classifications_total",
                       "Requests the classifier routed: classified by the model, or a copy of the "
                       "worker's recent classification of the same instruction (memo).",
                       "from", from, offsetof(struct shard, classified));
}

/* auth.keys: requests, tokens and spend by client, and the refusals. */
static int render_clients(struct allot_metrics *m, struct allot_buf *o)
{
    static const char *const reasons[2] = {"invalid", "missing"};
    size_t c, st, n = allot_clients_count(m->clients);
    int r, rc;

    if (n == 0)
        return 0;
    rc =
        allot_buf_adds(o, "# HELP allot_client_requests_total Requests finished, by client key "
                          "(auth.keys) and outcome.\n# TYPE allot_client_requests_total counter\n");
    for (c = 0; c < n && !rc; c++) {
        for (st = 0; st < ALLOT_MSTATUS__COUNT && !rc; st++) {
            uint64_t v =
                sum_client(m, c, offsetof(struct per_client, requests) + st * sizeof(uint64_t));
            if (!v)
                continue;
            rc = allot_buf_adds(o, "allot_client_requests_total{");
            rc = rc ? rc
                    : allot_metrics_add_label(o, "client", allot_clients_name(m->clients, (int)c),
                                              1);
            rc = rc ? rc : allot_metrics_add_label(o, "status", status_names[st], 0);
            rc = rc ? rc : allot_buf_addf(o, "} %llu\n", (unsigned long long)v);
        }
    }
    rc = rc ? rc
            : allot_buf_adds(o, "# HELP allot_client_tokens_total Tokens by client key and "
                                "direction.\n# TYPE allot_client_tokens_total counter\n");
    for (c = 0; c < n && !rc; c++) {
        for (r = 0; r < 2 && !rc; r++) {
            rc = allot_buf_adds(o, "allot_client_tokens_total{");
            rc = rc ? rc
                    : allot_metrics_add_label(o, "client", allot_clients_name(m->clients, (int)c),
                                              1);
            rc = rc ? rc
                    : allot_buf_addf(o, ",direction=\"%s\"} %llu\n", r ? "completion" : "prompt",
                                     (unsigned long long)sum_client(
                                         m, c,
                                         r ? offsetof(struct per_client, completion_tokens)
                                           : offsetof(struct per_client, prompt_tokens)));
        }
    }
    rc = rc ? rc
            : allot_buf_adds(o, "# HELP allot_client_cost_usd_total Spend in USD by client key, "
                                "discarded (escalated) answers included.\n# TYPE "
                                "allot_client_cost_usd_total counter\n");
    for (c = 0; c < n && !rc; c++) {
        rc = allot_buf_adds(o, "allot_client_cost_usd_total{");
        rc = rc ? rc
                : allot_metrics_add_label(o, "client", allot_clients_name(m->clients, (int)c), 1);
        rc = rc ? rc
                : allot_buf_addf(
                      o, "} %.9f\n",
                      (double)sum_client(m, c, offsetof(struct per_client, billed_nusd)) / 1e9);
    }
    return rc ? rc
              : render_pair(m, o, "allot_auth_failures_total",
                            "Requests refused with 401: no client key, or one that matches none.",
                            "reason", reasons, offsetof(struct shard, auth_failures));
}

int allot_metrics_render(struct allot_metrics *m, uint64_t ledger_written, uint64_t ledger_idle,
                         uint64_t ledger_failed, struct allot_buf *o)
{
    size_t t, slot, st, a;
    int64_t inflight = 0;
    int s, rc;

    rc = allot_buf_adds(o, "# HELP allot_requests_total Chat completion requests finished, by "
                           "tier, model and outcome.\n# TYPE allot_requests_total counter\n");
    for (t = 0; t < N_TIERS && !rc; t++) {
        for (slot = 0; slot < m->n_slots && !rc; slot++) {
            for (st = 0; st < ALLOT_MSTATUS__COUNT && !rc; st++) {
                uint64_t v = 0;
                for (s = 0; s < m->n_shards; s++)
                    v += LOAD(&m->shards[s]
                                   .requests[(t * m->n_slots + slot) * ALLOT_MSTATUS__COUNT + st]);
                if (!v)
                    continue;
                rc = allot_buf_adds(o, "allot_requests_total{");
                rc = rc ? rc : allot_metrics_add_label(o, "tier", tier_label(t), 1);
                rc = rc ? rc : allot_metrics_add_label(o, "model", model_name(m, slot), 0);
                rc = rc ? rc : allot_metrics_add_label(o, "status", status_names[st], 0);
                rc = rc ? rc : allot_buf_addf(o, "} %llu\n", (unsigned long long)v);
            }
        }
    }
    rc = rc ? rc
            : allot_buf_adds(o, "# HELP allot_request_duration_seconds Time from request "
                                "arrival to the end of the response.\n# TYPE "
                                "allot_request_duration_seconds histogram\n");
    for (t = 0; t < N_TIERS && !rc; t++)
        for (s = 0; s < 2 && !rc; s++)
            rc = render_histogram(m, o, "allot_request_duration_seconds", H_LATENCY, t, s);
    rc = rc ? rc
            : allot_buf_adds(o, "# HELP allot_time_to_first_token_seconds Time from request "
                                "arrival to the first answer byte sent.\n# TYPE "
                                "allot_time_to_first_token_seconds histogram\n");
    for (t = 0; t < N_TIERS && !rc; t++)
        rc = render_histogram(m, o, "allot_time_to_first_token_seconds", H_TTFT, t, 0);
    rc = rc ? rc
            : allot_buf_adds(o, "# HELP allot_overhead_seconds allot's own time on a request "
                                "(routing, parsing, checks, the ledger row), without the "
                                "upstream's and the client's.\n# TYPE "
                                "allot_overhead_seconds histogram\n");
    for (t = 0; t < N_TIERS && !rc; t++)
        rc = render_histogram(m, o, "allot_overhead_seconds", H_OVERHEAD, t, 0);

    rc = rc ? rc
            : render_token_pair(m, o, "allot_tokens_total", "Tokens by model and direction.",
                                "direction", "prompt", offsetof(struct per_model, prompt_tokens),
                                "completion", offsetof(struct per_model, completion_tokens));
    rc = rc ? rc
            : render_token_pair(m, o, "allot_cached_prompt_tokens_total",
                                "Prompt tokens the provider read from its prompt cache "
                                "(kind=\"read\") or wrote to it (kind=\"write\"), by model: "
                                "part of allot_tokens_total's prompt, priced apart.",
                                "kind", "read", offsetof(struct per_model, cached_tokens), "write",
                                offsetof(struct per_model, cache_write_tokens));
    rc = rc ? rc
            : render_usd(m, o, "allot_cost_usd_total", "Spend in USD by model.",
                         offsetof(struct per_model, cost_nusd));
    rc = rc ? rc
            : render_usd(m, o, "allot_counterfactual_cost_usd_total",
                         "What the same tokens would have cost on the judgment tier's "
                         "first model.",
                         offsetof(struct per_model, counterfactual_nusd));
    rc =
        rc ? rc
           : allot_buf_adds(o, "# HELP allot_upstream_attempts_total Upstream attempts by "
                               "model and result.\n# TYPE allot_upstream_attempts_total counter\n");
    for (slot = 1; slot < m->n_slots && !rc; slot++) {
        for (a = 0; a < ALLOT_MATTEMPT__COUNT && !rc; a++) {
            uint64_t v =
                sum_model(m, slot, offsetof(struct per_model, attempts) + a * sizeof(uint64_t));
            if (!v)
                continue;
            rc = allot_buf_adds(o, "allot_upstream_attempts_total{");
            rc = rc ? rc : allot_metrics_add_label(o, "model", model_name(m, slot), 1);
            rc = rc ? rc
                    : allot_buf_addf(o, ",result=\"%s\"} %llu\n", attempt_names[a],
                                     (unsigned long long)v);
        }
    }
    rc = rc ? rc : render_quality(m, o);
    rc = rc ? rc : render_classified(m, o);
    rc = rc ? rc : render_clients(m, o);
    for (s = 0; s < m->n_shards; s++)
        inflight += LOAD(&m->shards[s].inflight);
    rc = rc ? rc
            : allot_buf_addf(o,
                             "# HELP allot_inflight_requests Chat requests in flight.\n"
                             "# TYPE allot_inflight_requests gauge\nallot_inflight_requests %lld\n",
                             (long long)inflight);
    rc = rc ? rc
            : allot_buf_addf(
                  o,
                  "# HELP allot_ledger_rows_written_total Ledger rows committed.\n"
                  "# TYPE allot_ledger_rows_written_total counter\n"
                  "allot_ledger_rows_written_total %llu\n"
                  "# HELP allot_ledger_rows_written_idle_total Ledger rows committed in idle "
                  "CPU time (the rest waited for the writer at normal priority: the machine "
                  "had none to spare).\n"
                  "# TYPE allot_ledger_rows_written_idle_total counter\n"
                  "allot_ledger_rows_written_idle_total %llu\n"
                  "# HELP allot_ledger_rows_failed_total Ledger rows that failed to write.\n"
                  "# TYPE allot_ledger_rows_failed_total counter\n"
                  "allot_ledger_rows_failed_total %llu\n",
                  (unsigned long long)ledger_written, (unsigned long long)ledger_idle,
                  (unsigned long long)ledger_failed);
    return rc;
}
