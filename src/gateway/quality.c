/* quality.c: the gateway's side of the quality floor: the floor's say on
 * routing, verdicts fed to it, and audits (docs/quality.md).
 *
 * DESIGN: an audit is a small request of allot's own, on the worker loop
 * that served the answer: the judgment tier's models in order (a failed
 * attempt moves to the next), through the same upstream client as client
 * requests, and a ledger row of its own (endpoint "audit"). It holds copies
 * of what it grades, so the exchange it came from is long gone by then.
 * Audits never delay an answer: they start after the answer is sent, and
 * past quality.audit.max_in_flight on a worker a sampled answer is counted
 * as skipped instead. The drain on SIGTERM waits for them like requests. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <cJSON.h>
#include "allot/chat_request.h"
#include "allot/clock.h"
#include "allot/cost.h"
#include "allot/error.h"
#include "allot/floor.h"
#include "allot/log.h"
#include "allot/rand.h"
#include "internal.h"

#define AUDIT_PART_MAX (12u << 10) /* bytes of instruction or answer shown, at most */
#define AUDIT_HEAD (8u << 10)      /* of a longer text: its head ... */
#define AUDIT_TAIL (4u << 10)      /* ... and its tail */
#define AUDIT_MAX_TOKENS 300

uint64_t allot__worker_random(struct allot__worker *w)
{
    return allot_rand_next(&w->rng);
}

static int64_t floor_now_ms(void)
{
    return (int64_t)(allot_clock_mono_us() / 1000u);
}

int allot__quality_route(struct allot__worker *w, enum allot_category cat, char *reason, size_t cap)
{
    enum allot_floor_route r;

    if (!w->gw->floor)
        return ALLOT__FLOOR_LABOUR;
    r = allot_floor_route(w->gw->floor, cat, floor_now_ms(), allot__worker_random(w), reason, cap);
    return r == ALLOT_FLOOR_PROMOTED ? ALLOT__FLOOR_PROMOTED
           : r == ALLOT_FLOOR_PROBE  ? ALLOT__FLOOR_PROBE
                                     : ALLOT__FLOOR_LABOUR;
}

void allot__quality_preview(struct allot__worker *w, struct allot_decision *d)
{
    const struct allot_config *cfg = w->gw->cfg;
    struct allot_floor_state st;

    if (!w->gw->floor || !d->has_tier || d->tier != ALLOT_TIER_LABOUR || !d->has_category ||
        d->source == ALLOT_SRC_MODEL || d->source == ALLOT_SRC_TIER ||
        cfg->tiers[ALLOT_TIER_JUDGMENT].n_models == 0)
        return;
    allot_floor_snapshot(w->gw->floor, d->category, &st);
    if (!st.promoted)
        return;
    (void)allot_decision_use_tier(cfg, ALLOT_TIER_JUDGMENT, d, NULL); /* has models: above */
    snprintf(d->reason, sizeof d->reason,
             "%s promoted to judgment by the quality floor: %u/%u passed (Wilson upper bound "
             "%.3f)%s",
             allot_category_name(d->category), st.pass, st.n, st.upper,
             cfg->quality.floor_probe_share > 0 ? "; a share of requests probe labour" : "");
}

void allot__quality_verdict(struct allot__worker *w, enum allot_category cat, int pass, int probe,
                            const char *source)
{
    struct allot_floor_event ev;
    const char *kind;

    if (!w->gw->floor || !allot_floor_record(w->gw->floor, cat, pass, probe, floor_now_ms(), &ev))
        return;
    kind = ev.kind == ALLOT_FLOOR_EV_PROMOTE  ? "promote"
           : ev.kind == ALLOT_FLOOR_EV_DEMOTE ? "demote"
                                              : "repromote";
    allot_metrics_floor(w->gw->metrics, (int)cat,
                        ev.kind == ALLOT_FLOOR_EV_PROMOTE  ? ALLOT_MFLOOR_PROMOTE
                        : ev.kind == ALLOT_FLOOR_EV_DEMOTE ? ALLOT_MFLOOR_DEMOTE
                                                           : ALLOT_MFLOOR_REPROMOTE);
    allot_log_warn("quality floor: %s %s (after a %s verdict): %s", kind, allot_category_name(cat),
                   source, ev.detail);
    if (allot_ledger_event(w->gw->ledger, allot_clock_wall_ms(), kind, allot_category_name(cat),
                           ev.detail))
        allot_log_error("ledger: the %s event of %s was not queued", kind,
                        allot_category_name(cat));
}

/* ---- audits ---------------------------------------------------------- */

struct allot__audit {
    struct allot__worker *w;
    struct allot__audit *prev, *next;
    char id[40], of[40];
    int has_category;
    enum allot_category category;
    int probe;
    int64_t ts_ms;
    uint64_t start_us;
    struct allot_buf prompt; /* the user message of the grading request */
    struct allot_buf body;   /* the request of the current attempt */
    struct allot_buf resp;
    size_t next_model;
    int attempts;
    const struct allot_model *model;
    struct allot_upstream_xfer *xfer;
    long status;
    char attempt_log[256];
    char error[256];
};

/* What a passing answer of each labour category must do. */
static const char *rubric_of(int has_category, enum allot_category c)
{
    if (!has_category)
        return "It does what was asked, correctly and completely.";
    switch (c) {
    case ALLOT_CAT_SCAN:
        return "It reports every occurrence in the material that the request asks about and "
               "invents none.";
    case ALLOT_CAT_EXTRACT:
        return "Every field or item asked for is present and copied faithfully from the "
               "material; nothing is invented; the requested structure is respected.";
    case ALLOT_CAT_SUMMARIZE:
        return "It covers the main points of the material faithfully, adds no claim the "
               "material does not make, and respects any requested length or form.";
    case ALLOT_CAT_REFORMAT:
        return "The content is unchanged; only its form changed, exactly as requested.";
    case ALLOT_CAT_CONVERT:
        return "The output is equivalent to the input in the target format or language, "
               "complete and valid.";
    case ALLOT_CAT_COLLECT:
        return "It gathers every item asked for from the material, without duplicates or "
               "inventions.";
    case ALLOT_CAT_ANSWER:
        return "The answer is correct, direct and addresses the question asked.";
    case ALLOT_CAT_COMPOSE:
        return "The text serves the stated purpose, audience and constraints, without factual "
               "errors.";
    default:
        return "It does what was asked, correctly and completely.";
    }
}

/* text, or its head and tail around a marker when it is long. */
static int add_part(struct allot_buf *b, const char *text, size_t len)
{
    if (len <= AUDIT_PART_MAX)
        return allot_buf_add(b, text, len);
    return allot_buf_add(b, text, AUDIT_HEAD) ||
           allot_buf_addf(b, "\n[... %zu bytes left out ...]\n", len - AUDIT_HEAD - AUDIT_TAIL) ||
           allot_buf_add(b, text + len - AUDIT_TAIL, AUDIT_TAIL);
}

static int build_prompt(struct allot__audit *a, const struct allot_chat_request *chat,
                        const char *answer, size_t answer_len)
{
    struct allot_buf *b = &a->prompt;
    int rc = allot_buf_adds(b, "<request>\n");

    if (!rc && chat->system.len)
        rc = add_part(b, chat->system.ptr, chat->system.len) || allot_buf_adds(b, "\n---\n");
    rc = rc ? rc : add_part(b, chat->last_user.ptr ? chat->last_user.ptr : "", chat->last_user.len);
    rc = rc ? rc : allot_buf_adds(b, "\n</request>\n\n<answer>\n");
    rc = rc ? rc : add_part(b, answer ? answer : "", answer_len);
    rc = rc ? rc
            : allot_buf_adds(b, "\n</answer>\n\nGrade the answer. Reply with one line "
                                "\"VERDICT: PASS\" or \"VERDICT: FAIL\", then one sentence "
                                "saying why.");
    return rc ? ALLOT_ENOMEM : 0;
}

/* The grading request for one judgment model. */
static int build_body(struct allot__audit *a)
{
    char system[1024];
    int rc;

    snprintf(system, sizeof system,
             "You audit answers written by a low-cost model. The kind of work is %s. %s An "
             "answer passes when a careful expert would accept it as it is for this request: "
             "it does what was asked, is correct against the material given, is complete "
             "enough, and is in the requested format. Style alone never fails an answer.",
             a->has_category ? allot_category_name(a->category) : "not known",
             rubric_of(a->has_category, a->category));
    allot_buf_reset(&a->body);
    rc = allot_buf_adds(&a->body, "{\"model\":");
    rc =
        rc ? rc
           : allot_buf_add_json_str(&a->body, a->model->upstream_id, strlen(a->model->upstream_id));
    rc = rc ? rc : allot_buf_adds(&a->body, ",\"messages\":[{\"role\":\"system\",\"content\":");
    rc = rc ? rc : allot_buf_add_json_str(&a->body, system, strlen(system));
    rc = rc ? rc : allot_buf_adds(&a->body, "},{\"role\":\"user\",\"content\":");
    rc = rc ? rc : allot_buf_add_json_str(&a->body, a->prompt.ptr, a->prompt.len);
    rc = rc ? rc
            : allot_buf_addf(&a->body, "}],\"temperature\":0,\"max_tokens\":%d}", AUDIT_MAX_TOKENS);
    return rc ? ALLOT_ENOMEM : 0;
}

/* 1 pass, 0 fail, -1 no verdict found. why gets what follows the verdict. */
static int read_grade(const char *text, char *why, size_t cap)
{
    const char *p = text, *hit = NULL;
    int grade = -1;

    why[0] = '\0';
    while ((p = strcasestr(p, "verdict"))) {
        const char *q = p + 7;
        while (*q == ':' || *q == ' ' || *q == '*' || *q == '"')
            q++;
        if (!strncasecmp(q, "pass", 4)) {
            grade = 1;
            hit = q + 4;
            break;
        }
        if (!strncasecmp(q, "fail", 4)) {
            grade = 0;
            hit = q + 4;
            break;
        }
        p = q;
    }
    if (hit) {
        size_t i, o = 0;
        while (*hit == '*' || *hit == '"' || *hit == '.' || *hit == ' ' || *hit == '\n')
            hit++;
        for (i = 0; hit[i] && o + 1 < cap; i++)
            why[o++] = (unsigned char)hit[i] < 0x20 ? ' ' : hit[i];
        why[o] = '\0';
    }
    return grade;
}

static void audit_try_next(struct allot__audit *a);

/* pt, ct: the grader's prompt and completion tokens; cached, written: the
 * parts of pt read from and written to its prompt cache. */
static void audit_finish(struct allot__audit *a, int ok, int grade, const char *why, int64_t pt,
                         int64_t cached, int64_t written, int64_t ct, int estimated)
{
    struct allot__worker *w = a->w;
    struct allot_ledger_entry *e = calloc(1, sizeof *e);

    if (e) {
        snprintf(e->id, sizeof e->id, "%s", a->id);
        e->ts_ms = a->ts_ms;
        snprintf(e->endpoint, sizeof e->endpoint, "audit");
        if (a->has_category)
            snprintf(e->category, sizeof e->category, "%s", allot_category_name(a->category));
        e->confidence = 1;
        snprintf(e->tier, sizeof e->tier, "judgment");
        if (a->model) {
            snprintf(e->model, sizeof e->model, "%s", a->model->name);
            snprintf(e->provider, sizeof e->provider, "%s", a->model->provider->name);
            e->cost_usd = allot_cost_cached_usd(a->model, pt, cached, written, ct);
            /* no audit in an all-judgment world: it is all extra */
            e->counterfactual_usd = 0;
        }
        snprintf(e->source, sizeof e->source, "audit");
        e->attempts = a->attempts;
        snprintf(e->attempt_log, sizeof e->attempt_log, "%s", a->attempt_log);
        snprintf(e->status, sizeof e->status, "%s", ok ? "ok" : "failed");
        e->http_status = (int)a->status;
        snprintf(e->error, sizeof e->error, "%s", ok ? "" : a->error);
        e->prompt_tokens = pt;
        e->completion_tokens = ct;
        e->cached_tokens = cached;
        e->cache_write_tokens = written;
        e->tokens_estimated = estimated;
        e->latency_ms = (double)(allot_clock_mono_us() - a->start_us) / 1000.0;
        e->ttft_ms = -1;
        e->overhead_ms = -1; /* not a request allot served */
        e->tier_confidence = -1;
        snprintf(e->reason, sizeof e->reason, "audit of %s", a->of);
        snprintf(e->check_detail, sizeof e->check_detail, "%s", why ? why : "");
        snprintf(e->check, sizeof e->check, "%s", grade == 1 ? "pass" : grade == 0 ? "fail" : "");
        snprintf(e->audit_of, sizeof e->audit_of, "%s", a->of);
        e->grade = grade;
        if (allot_ledger_append(w->gw->ledger, e))
            allot_log_error("ledger: audit row %s not queued", a->id);
        if (a->model)
            allot_metrics_spend(w->gw->metrics, w->index, (int)(a->model - w->gw->cfg->models), pt,
                                ct, e->cost_usd, e->counterfactual_usd);
        free(e);
    }
    allot_metrics_audit(w->gw->metrics, w->index, a->has_category ? (int)a->category : -1, grade,
                        0);
    if (grade >= 0 && a->has_category)
        allot__quality_verdict(w, a->category, grade, a->probe, "audit");
    if (!w->gw->quiet)
        allot_log_info("%s audit of %s: %s%s%s", a->id, a->of,
                       grade == 1   ? "pass"
                       : grade == 0 ? "fail"
                                    : "no grade",
                       ok ? "" : " error=", ok ? "" : a->error);

    if (a->prev)
        a->prev->next = a->next;
    else
        w->audit_list = a->next;
    if (a->next)
        a->next->prev = a->prev;
    w->audits--;
    allot_buf_release(&a->prompt);
    allot_buf_release(&a->body);
    allot_buf_release(&a->resp);
    free(a);
}

static int audit_on_head(void *ctx, long status, struct allot_slice ct, int64_t retry_ms)
{
    struct allot__audit *a = ctx;
    (void)ct;
    (void)retry_ms; /* an audit is not retried later: the next grader is asked */
    a->status = status;
    allot_buf_reset(&a->resp);
    return 0;
}

static int audit_on_data(void *ctx, const char *p, size_t n)
{
    struct allot__audit *a = ctx;
    return allot_buf_add(&a->resp, p, n) ? -1 : 0;
}

static void log_attempt(struct allot__audit *a, const char *what)
{
    size_t len = strlen(a->attempt_log);
    if (len < sizeof a->attempt_log - 1)
        snprintf(a->attempt_log + len, sizeof a->attempt_log - len, "%s%s:%s", len ? "," : "",
                 a->model->name, what);
}

/* A token count from a JSON number; 0 when absent, not a number or not
 * positive. */
static int64_t token_count(const cJSON *n)
{
    return cJSON_IsNumber(n) && n->valuedouble > 0 && n->valuedouble < 9.0e15
               ? (int64_t)n->valuedouble
               : 0;
}

static void audit_on_done(void *ctx, int err, const char *message)
{
    struct allot__audit *a = ctx;
    cJSON *root = NULL;
    const cJSON *usage, *content;
    char why[192], st[24];
    int64_t pt = 0, ct = 0, cached = 0, written = 0;
    int grade, estimated = 0;

    a->xfer = NULL;
    if (err || a->status < 200 || a->status >= 300 ||
        !(root = cJSON_ParseWithLength(a->resp.ptr ? a->resp.ptr : "", a->resp.len))) {
        snprintf(st, sizeof st, "%ld", a->status);
        log_attempt(a, err ? (err == ALLOT_ETIMEDOUT ? "timeout" : "error") : st);
        snprintf(a->error, sizeof a->error, "%s",
                 err ? (message ? message : allot_strerror(err))
                     : "the grader's answer was not a JSON object");
        audit_try_next(a);
        return;
    }
    log_attempt(a, "ok");
    content = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(
            cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(root, "choices"), 0), "message"),
        "content");
    usage = cJSON_GetObjectItemCaseSensitive(root, "usage");
    if (cJSON_IsObject(usage)) {
        const cJSON *p = cJSON_GetObjectItemCaseSensitive(usage, "prompt_tokens");
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(usage, "completion_tokens");
        const cJSON *d = cJSON_GetObjectItemCaseSensitive(usage, "prompt_tokens_details");
        pt = token_count(p);
        ct = token_count(c);
        /* as the exchange reads them (read_usage): parts of pt, capped */
        cached = token_count(cJSON_GetObjectItemCaseSensitive(d, "cached_tokens"));
        cached = cached < pt ? cached : pt;
        written = token_count(cJSON_GetObjectItemCaseSensitive(d, "cache_write_tokens"));
        written = written < pt - cached ? written : pt - cached;
    } else {
        pt = allot_tokens_estimate(a->body.len);
        ct = allot_tokens_estimate(cJSON_IsString(content) ? strlen(content->valuestring) : 0);
        estimated = 1;
    }
    grade = cJSON_IsString(content) ? read_grade(content->valuestring, why, sizeof why) : -1;
    if (grade < 0)
        snprintf(why, sizeof why, "the grader gave no VERDICT line");
    cJSON_Delete(root);
    audit_finish(a, 1, grade, why, pt, cached, written, ct, estimated);
}

static const struct allot_upstream_callbacks audit_cb = {audit_on_head, audit_on_data,
                                                         audit_on_done};

static void audit_try_next(struct allot__audit *a)
{
    const struct allot_tier_conf *t = &a->w->gw->cfg->tiers[ALLOT_TIER_JUDGMENT];

    while (a->next_model < t->n_models && a->attempts < a->w->gw->cfg->limits.max_attempts) {
        struct allot_upstream_request ur = {0};
        struct allot_buf err;
        int rc;

        a->model = t->models[a->next_model++];
        a->attempts++;
        a->status = 0;
        if (build_body(a)) {
            snprintf(a->error, sizeof a->error, "out of memory");
            break;
        }
        ur.model = a->model;
        ur.path = "/chat/completions";
        ur.body = a->body.ptr;
        ur.body_len = a->body.len;
        allot_buf_init(&err, 512);
        rc = allot_upstream_start(a->w->up, &ur, &audit_cb, a, &a->xfer, &err);
        if (rc == 0) {
            allot_buf_release(&err);
            return;
        }
        snprintf(a->error, sizeof a->error, "%s", err.len ? err.ptr : allot_strerror(rc));
        allot_buf_release(&err);
        log_attempt(a, "start");
    }
    audit_finish(a, 0, -1, NULL, 0, 0, 0, 0, 0);
}

void allot__audit_start(struct allot__worker *w, const char *request_id,
                        const struct allot_chat_request *chat, int has_category,
                        enum allot_category cat, const char *answer, size_t answer_len, int probe)
{
    const struct allot_config *cfg = w->gw->cfg;
    struct allot__audit *a;

    if (w->stopping || cfg->tiers[ALLOT_TIER_JUDGMENT].n_models == 0)
        return;
    if (w->audits >= (size_t)cfg->quality.audit_max_in_flight) {
        allot_metrics_audit(w->gw->metrics, w->index, has_category ? (int)cat : -1, -1, 1);
        return;
    }
    if (!(a = calloc(1, sizeof *a)))
        return;
    a->w = w;
    allot__gateway_request_id(w, a->id);
    snprintf(a->of, sizeof a->of, "%s", request_id);
    a->has_category = has_category;
    a->category = cat;
    a->probe = probe;
    a->ts_ms = allot_clock_wall_ms();
    a->start_us = allot_clock_mono_us();
    allot_buf_init(&a->prompt, 3 * AUDIT_PART_MAX + 4096);
    allot_buf_init(&a->body, 4 * AUDIT_PART_MAX + 8192);
    allot_buf_init(&a->resp, 1u << 20);
    a->next = w->audit_list;
    if (a->next)
        a->next->prev = a;
    w->audit_list = a;
    w->audits++;
    if (build_prompt(a, chat, answer, answer_len)) {
        snprintf(a->error, sizeof a->error, "out of memory");
        audit_finish(a, 0, -1, NULL, 0, 0, 0, 0, 0);
        return;
    }
    audit_try_next(a);
}

void allot__audit_fail_all(struct allot__worker *w)
{
    while (w->audit_list) {
        struct allot__audit *a = w->audit_list;
        if (a->xfer) {
            allot_upstream_cancel(a->xfer);
            a->xfer = NULL;
        }
        snprintf(a->error, sizeof a->error,
                 "allot was stopped before the grader answered (drain deadline)");
        audit_finish(a, 0, -1, NULL, 0, 0, 0, 0, 0);
    }
}
