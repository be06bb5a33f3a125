/* test_report_quality.c: the quality figures of `allot report` (report.h)
 * from a schema v3 ledger: checks, escalations and their rework cost,
 * audits and their cost, the floor's promotions, and the net saving. */
#include <cJSON.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "allot/buf.h"
#include "allot/error.h"
#include "allot/ledger.h"
#include "allot/report.h"
#include "test.h"
#include "tmpdir.h"

#define T0 1795946400000LL /* 2026-11-29 10:00 UTC */
#define MIN_MS 60000LL
#define HOUR_MS 3600000LL

struct row {
    const char *id;
    int64_t ts_ms;
    const char *endpoint, *tier, *category, *model, *status;
    const char *check, *escalated, *floor, *audit_of;
    double grade, escalation_usd, cost, counterfactual;
    int64_t in, out;
};

#define CHAT "/v1/chat/completions"

/* Window [T0, T0 + 2h). Audit rows (endpoint "audit", model "grader") carry
 * a bogus counterfactual that must count nowhere. */
static const struct row rows[] = {
    /* summarize: two passes, one escalated (refusal; the judgment answer is
     * unchecked), one failure returned as is */
    {"s1", T0 + 1 * MIN_MS, CHAT, "labour", "summarize", "local-b", "ok", "pass", "", "", "", -1, 0,
     0.0001, 0.0050, 1000, 100},
    {"s2", T0 + 2 * MIN_MS, CHAT, "labour", "summarize", "local-b", "ok", "pass", "", "", "", -1, 0,
     0.0002, 0.0060, 1200, 150},
    {"s3", T0 + 3 * MIN_MS, CHAT, "judgment", "summarize", "frontier-a", "ok", "", "refusal", "",
     "", -1, 0.0004, 0.0100, 0.0100, 1500, 300},
    {"s4", T0 + 4 * MIN_MS, CHAT, "labour", "summarize", "local-b", "ok", "empty", "", "", "", -1,
     0, 0.0001, 0.0040, 800, 0},
    {"a1", T0 + 5 * MIN_MS, "audit", "judgment", "summarize", "grader", "ok", "pass", "", "", "s1",
     1, 0, 0.0030, 0.5, 2000, 10},
    {"a2", T0 + 6 * MIN_MS, "audit", "judgment", "summarize", "grader", "ok", "fail", "", "", "s2",
     0, 0, 0.0020, 0.5, 1800, 10},
    /* extract: a pass, a promoted request (judgment, unchecked), a probe */
    {"e1", T0 + 7 * MIN_MS, CHAT, "labour", "extract", "local-b", "ok", "pass", "", "", "", -1, 0,
     0.0003, 0.0090, 900, 200},
    {"e2", T0 + 20 * MIN_MS, CHAT, "judgment", "extract", "frontier-a", "ok", "", "", "promoted",
     "", -1, 0, 0.0080, 0.0080, 700, 100},
    {"e3", T0 + 70 * MIN_MS, CHAT, "labour", "extract", "local-b", "ok", "pass", "", "probe", "",
     -1, 0, 0.0001, 0.0030, 300, 50},
    {"a3", T0 + 8 * MIN_MS, "audit", "judgment", "extract", "grader", "ok", "pass", "", "", "e1", 1,
     0, 0.0010, 0.5, 1000, 10},
    /* plan: judgment, unchecked */
    {"p1", T0 + 9 * MIN_MS, CHAT, "judgment", "plan", "frontier-a", "ok", "", "", "", "", -1, 0,
     0.0100, 0.0100, 1000, 500},
    /* rejected: counts as a request, not in tokens or money */
    {"r1", T0 + 10 * MIN_MS, CHAT, "", "", "", "rejected", "", "", "", "", -1, 0, 1.0, 1.0, 999,
     999},
    /* outside the window */
    {"s9", T0 + 3 * HOUR_MS, CHAT, "labour", "summarize", "local-b", "ok", "empty", "", "", "", -1,
     0, 0.5, 0.5, 1, 1},
    {"a9", T0 + 3 * HOUR_MS, "audit", "judgment", "summarize", "grader", "ok", "fail", "", "", "s9",
     0, 0, 0.5, 0.5, 1, 1},
};

struct event {
    int64_t ts_ms;
    const char *kind, *subject;
};

static const struct event events[] = {
    {T0 + 10 * MIN_MS, "promote", "extract"},
    {T0 + 50 * MIN_MS, "demote", "extract"},
    {T0 + 60 * MIN_MS, "repromote", "extract"},
    {T0 + 3 * HOUR_MS, "promote", "summarize"}, /* outside the window */
};

static void to_entry(const struct row *r, struct allot_ledger_entry *e)
{
    memset(e, 0, sizeof *e);
    snprintf(e->id, sizeof e->id, "%s", r->id);
    e->ts_ms = r->ts_ms;
    snprintf(e->endpoint, sizeof e->endpoint, "%s", r->endpoint);
    snprintf(e->tier, sizeof e->tier, "%s", r->tier);
    snprintf(e->category, sizeof e->category, "%s", r->category);
    snprintf(e->model, sizeof e->model, "%s", r->model);
    snprintf(e->status, sizeof e->status, "%s", r->status);
    snprintf(e->check, sizeof e->check, "%s", r->check);
    snprintf(e->escalated, sizeof e->escalated, "%s", r->escalated);
    snprintf(e->floor, sizeof e->floor, "%s", r->floor);
    snprintf(e->audit_of, sizeof e->audit_of, "%s", r->audit_of);
    e->grade = r->grade;
    e->escalation_usd = r->escalation_usd;
    e->cost_usd = r->cost;
    e->counterfactual_usd = r->counterfactual;
    e->prompt_tokens = r->in;
    e->completion_tokens = r->out;
    e->latency_ms = 100;
    e->ttft_ms = -1;
}

/* Write rows[0..n) and events[0..n_ev) into a new ledger at path. */
static int build_ledger(const char *path, const struct row *rs, size_t n, const struct event *ev,
                        size_t n_ev)
{
    struct allot_ledger *l = NULL;
    struct allot_ledger_entry e;
    struct allot_buf err;
    size_t i;
    int rc;

    allot_buf_init(&err, 1024);
    if ((rc = allot_ledger_open(path, 10, &l, &err)))
        goto out;
    for (i = 0; i < n && rc == 0; i++) {
        to_entry(&rs[i], &e);
        rc = allot_ledger_append(l, &e);
    }
    for (i = 0; i < n_ev && rc == 0; i++)
        rc = allot_ledger_event(l, ev[i].ts_ms, ev[i].kind, ev[i].subject, "");
    allot_ledger_close(l);
out:
    allot_buf_release(&err);
    return rc;
}

static int run(const char *path, int json, struct allot_buf *out, struct allot_buf *err)
{
    struct allot_report_opts o = {T0, T0 + 2 * HOUR_MS, json, NULL};
    allot_buf_reset(out);
    allot_buf_reset(err);
    return allot_report_run(path, &o, out, err);
}

static const char *jstr(const cJSON *v)
{
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static cJSON *find_group(const cJSON *arr, const char *name_key, const char *name)
{
    const cJSON *g;
    cJSON_ArrayForEach(g, arr)
    {
        const char *v = jstr(cJSON_GetObjectItemCaseSensitive(g, name_key));
        if (v && strcmp(v, name) == 0)
            return (cJSON *)g;
    }
    return NULL;
}

static int64_t jint(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) && v->valuedouble == (double)(int64_t)v->valuedouble
               ? (int64_t)v->valuedouble
               : -999;
}

static double jnum(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : -999.0;
}

#define EPS 1e-12

/* The quality figures of one category or of the totals. */
struct want {
    int64_t checked, passed;
    double pass_rate; /* < 0: null */
    int64_t escalated;
    double escalation_usd;
    int64_t audits, audit_pass, audit_fail;
    double audit_usd;
    int64_t promoted, probes, promotions, demotions;
    double net_saving_usd;
};

static void check_qrow(const cJSON *r, const struct want *w, int *allot_test_failed_)
{
    ASSERT(r != NULL);
    ASSERT_INT_EQ(jint(r, "checked"), w->checked);
    ASSERT_INT_EQ(jint(r, "passed"), w->passed);
    if (w->pass_rate < 0)
        ASSERT(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(r, "pass_rate")));
    else
        ASSERT_DBL_NEAR(jnum(r, "pass_rate"), w->pass_rate, 1e-9); /* 10 digits */
    ASSERT_INT_EQ(jint(r, "escalated"), w->escalated);
    ASSERT_DBL_NEAR(jnum(r, "escalation_usd"), w->escalation_usd, EPS);
    ASSERT_INT_EQ(jint(r, "audits"), w->audits);
    ASSERT_INT_EQ(jint(r, "audit_pass"), w->audit_pass);
    ASSERT_INT_EQ(jint(r, "audit_fail"), w->audit_fail);
    ASSERT_DBL_NEAR(jnum(r, "audit_usd"), w->audit_usd, EPS);
    ASSERT_INT_EQ(jint(r, "promoted_requests"), w->promoted);
    ASSERT_INT_EQ(jint(r, "probe_requests"), w->probes);
    ASSERT_INT_EQ(jint(r, "promotions"), w->promotions);
    ASSERT_INT_EQ(jint(r, "demotions"), w->demotions);
    ASSERT_DBL_NEAR(jnum(r, "net_saving_usd"), w->net_saving_usd, EPS);
}

static void check_json(const cJSON *root, int *allot_test_failed_)
{
    const cJSON *tot, *q, *arr, *g;
    /* summarize: saving (0.005-0.0001)+(0.006-0.0002)+(0.01-0.01)+(0.004-0.0001) = 0.0146,
     * less audits 0.003+0.002 */
    static const struct want summarize = {4, 2,      0.5, 1, 0.0004, 2, 1,
                                          1, 0.0050, 0,   0, 0,      0, 0.0146 - 0.0050};
    /* extract: saving (0.009-0.0003)+(0.008-0.008)+(0.003-0.0001) = 0.0116, less 0.001 */
    static const struct want extract = {2, 2,      1.0, 0, 0.0, 1, 1,
                                        0, 0.0010, 1,   1, 2,   1, 0.0116 - 0.0010};
    static const struct want plan = {0, 0, -1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    static const struct want total = {6, 4,      4.0 / 6.0, 1, 0.0004, 3, 2,
                                      1, 0.0060, 1,         1, 2,      1, 0.0262 - 0.0060};

    /* requests leave the audits out: 9 requests, not 12 */
    tot = cJSON_GetObjectItemCaseSensitive(root, "totals");
    ASSERT_INT_EQ(jint(tot, "requests"), 9);
    ASSERT_INT_EQ(jint(tot, "ok"), 8);
    ASSERT_INT_EQ(jint(tot, "rejected"), 1);
    ASSERT_INT_EQ(jint(tot, "prompt_tokens"), 1000 + 1200 + 1500 + 800 + 900 + 700 + 300 + 1000);
    ASSERT_INT_EQ(jint(tot, "completion_tokens"), 100 + 150 + 300 + 0 + 200 + 100 + 50 + 500);
    ASSERT_DBL_NEAR(jnum(tot, "cost_usd"), 0.0288, EPS);
    ASSERT_DBL_NEAR(jnum(tot, "counterfactual_usd"), 0.0550, EPS);
    ASSERT_DBL_NEAR(jnum(tot, "saving_usd"), 0.0262, EPS);

    arr = cJSON_GetObjectItemCaseSensitive(root, "by_tier");
    g = find_group(arr, "tier", "judgment");
    ASSERT(g != NULL);
    ASSERT_INT_EQ(jint(g, "requests"), 3); /* s3, e2, p1: no audits */
    ASSERT_DBL_NEAR(jnum(g, "cost_usd"), 0.0280, EPS);
    g = find_group(arr, "tier", "labour");
    ASSERT_INT_EQ(jint(g, "requests"), 5);
    arr = cJSON_GetObjectItemCaseSensitive(root, "by_category");
    g = find_group(arr, "category", "summarize");
    ASSERT(g != NULL);
    ASSERT_INT_EQ(jint(g, "requests"), 4);
    ASSERT_DBL_NEAR(jnum(g, "cost_usd"), 0.0104, EPS);
    ASSERT_DBL_NEAR(jnum(g, "counterfactual_usd"), 0.0250, EPS);
    ASSERT_INT_EQ(jint(find_group(arr, "category", "extract"), "requests"), 3);
    arr = cJSON_GetObjectItemCaseSensitive(root, "by_model");
    ASSERT(find_group(arr, "model", "grader") == NULL);
    ASSERT_INT_EQ(cJSON_GetArraySize(arr), 3); /* local-b, frontier-a, "" */

    q = cJSON_GetObjectItemCaseSensitive(root, "quality");
    ASSERT(cJSON_IsObject(q));
    /* counterfactual - cost - audit cost */
    ASSERT_DBL_NEAR(jnum(q, "net_saving_usd"), 0.0550 - 0.0288 - 0.0060, EPS);
    check_qrow(cJSON_GetObjectItemCaseSensitive(q, "totals"), &total, allot_test_failed_);
    ASSERT(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(q, "totals"),
                                            "category") == NULL);
    arr = cJSON_GetObjectItemCaseSensitive(q, "by_category");
    /* the three categories, and at most a "" group (r1) with nothing in it */
    ASSERT(cJSON_GetArraySize(arr) == 3 || cJSON_GetArraySize(arr) == 4);
    cJSON_ArrayForEach(g, arr)
    {
        const char *k = jstr(cJSON_GetObjectItemCaseSensitive(g, "category"));
        ASSERT(k != NULL);
        if (!strcmp(k, "summarize") || !strcmp(k, "extract") || !strcmp(k, "plan"))
            continue;
        ASSERT_STR_EQ(k, "");
        check_qrow(g, &plan, allot_test_failed_);
    }
    check_qrow(find_group(arr, "category", "summarize"), &summarize, allot_test_failed_);
    check_qrow(find_group(arr, "category", "extract"), &extract, allot_test_failed_);
    check_qrow(find_group(arr, "category", "plan"), &plan, allot_test_failed_);
}

TEST(report_quality_json_is_exact)
{
    struct tmpdir t;
    struct allot_buf out, err;
    cJSON *root = NULL;
    int rc;

    ASSERT_INT_EQ(tmpdir_make(&t, "report-q"), 0);
    allot_buf_init(&out, 1 << 20);
    allot_buf_init(&err, 1024);
    rc = build_ledger(t.path, rows, sizeof rows / sizeof rows[0], events,
                      sizeof events / sizeof events[0]);
    if (rc == 0)
        rc = run(t.path, 1, &out, &err);
    if (rc == 0 && !(root = cJSON_Parse(allot_buf_cstr(&out))))
        rc = -1;
    if (rc)
        fprintf(stderr, "  rc %d: %s%s\n", rc, allot_buf_cstr(&err), allot_buf_cstr(&out));
    if (root)
        check_json(root, allot_test_failed_);
    cJSON_Delete(root);
    allot_buf_release(&out);
    allot_buf_release(&err);
    tmpdir_remove(&t);
    ASSERT_INT_EQ(rc, 0);
}

static void check_table(const char *s, int *allot_test_failed_)
{
    char want[256];

    ASSERT_STR_CONTAINS(s, "\nrequests 9 (8 ok, 0 failed, 1 rejected)");
    ASSERT_STR_CONTAINS(s,
                        "\nspend $0.0288   if all on judgment $0.0550   saved $0.0262 (47.6%)\n");
    ASSERT_STR_CONTAINS(s, "  after rework $0.000400 (included in spend) and 3 audits $0.006000: "
                           "net saved $0.0202 (36.7%)\n");
    snprintf(want, sizeof want, "\n%-12s%9s%7s%10s%12s%8s%7s%12s%10s%12s\n", "quality", "checked",
             "pass", "escalated", "rework", "audits", "pass", "audit cost", "promoted",
             "net saved");
    ASSERT_STR_CONTAINS(s, want);
    ASSERT_STR_CONTAINS(s, "\nsummarize           4    50%         1   $0.000400       2    50%"
                           "   $0.005000         0   $0.009600\n");
    ASSERT_STR_CONTAINS(s, "\nextract             2   100%         0     $0.0000       1   100%"
                           "   $0.001000         1     $0.0106\n");
    ASSERT_STR_CONTAINS(s, "\ntotal               6    67%         1   $0.000400       3    67%"
                           "   $0.006000         1     $0.0202\n");
    /* in the quality section, a category with nothing to show has no line */
    ASSERT((s = strstr(s, "\nquality ")) != NULL);
    ASSERT(strstr(s, "\nplan ") == NULL);
    ASSERT(strstr(s, "grader") == NULL);
}

TEST(report_quality_table_has_the_section_and_net_saved)
{
    struct tmpdir t;
    struct allot_buf out, err;
    int rc;

    ASSERT_INT_EQ(tmpdir_make(&t, "report-q"), 0);
    allot_buf_init(&out, 1 << 20);
    allot_buf_init(&err, 1024);
    rc = build_ledger(t.path, rows, sizeof rows / sizeof rows[0], events,
                      sizeof events / sizeof events[0]);
    if (rc == 0)
        rc = run(t.path, 0, &out, &err);
    if (rc == 0)
        check_table(allot_buf_cstr(&out), allot_test_failed_);
    else
        fprintf(stderr, "  rc %d: %s\n", rc, allot_buf_cstr(&err));
    allot_buf_release(&out);
    allot_buf_release(&err);
    tmpdir_remove(&t);
    ASSERT_INT_EQ(rc, 0);
}

/* A v3 ledger where nothing was checked or audited: quality is an object of
 * zeros, the table has no quality section and no "net saved" line. */
TEST(report_quality_without_checks_is_zero_and_quiet)
{
    static const struct row plain[] = {
        {"x1", T0 + MIN_MS, CHAT, "judgment", "plan", "frontier-a", "ok", "", "", "", "", -1, 0,
         0.01, 0.01, 10, 10},
    };
    struct tmpdir t;
    struct allot_buf out, err;
    cJSON *root = NULL;
    const cJSON *q;
    int rc;

    ASSERT_INT_EQ(tmpdir_make(&t, "report-q"), 0);
    allot_buf_init(&out, 1 << 20);
    allot_buf_init(&err, 1024);
    rc = build_ledger(t.path, plain, 1, NULL, 0);
    if (rc == 0 && (rc = run(t.path, 1, &out, &err)) == 0)
        root = cJSON_Parse(allot_buf_cstr(&out));
    q = cJSON_GetObjectItemCaseSensitive(root, "quality");
    if (rc == 0 && cJSON_IsObject(q)) {
        q = cJSON_GetObjectItemCaseSensitive(q, "totals");
        rc = jint(q, "checked") == 0 && jint(q, "audits") == 0 &&
                     cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(q, "pass_rate"))
                 ? 0
                 : -2;
    } else if (rc == 0) {
        rc = -3;
    }
    cJSON_Delete(root);
    if (rc == 0 && (rc = run(t.path, 0, &out, &err)) == 0)
        rc = !strstr(allot_buf_cstr(&out), "net saved") &&
                     !strstr(allot_buf_cstr(&out), "\nquality ")
                 ? 0
                 : -4;
    allot_buf_release(&out);
    allot_buf_release(&err);
    tmpdir_remove(&t);
    ASSERT_INT_EQ(rc, 0);
}

/* A request routed by tier ("allot:labour") or by model name has no
 * category, and neither has its audit. Its checks, escalation and audit
 * cost are quality figures all the same: the audit cost is in no request
 * total (audits are left out of them), so a quality total that leaves it
 * out loses it from the report altogether. */
static void check_uncategorized(const cJSON *root, int *allot_test_failed_)
{
    const cJSON *q = cJSON_GetObjectItemCaseSensitive(root, "quality");
    const cJSON *tot = cJSON_GetObjectItemCaseSensitive(q, "totals");

    ASSERT(cJSON_IsObject(tot));
    /* saving 0.0110 - 0.0061 = 0.0049, less the audit 0.0040 */
    ASSERT_DBL_NEAR(jnum(q, "net_saving_usd"), 0.0009, EPS);
    ASSERT_INT_EQ(jint(tot, "audits"), 1);
    ASSERT_DBL_NEAR(jnum(tot, "audit_usd"), 0.0040, EPS);
    ASSERT_INT_EQ(jint(tot, "checked"), 2);
    ASSERT_INT_EQ(jint(tot, "escalated"), 1);
    ASSERT_DBL_NEAR(jnum(tot, "escalation_usd"), 0.0002, EPS);
    ASSERT_DBL_NEAR(jnum(tot, "net_saving_usd"), 0.0009, EPS);
}

TEST(report_quality_counts_rows_without_a_category)
{
    static const struct row uncategorized[] = {
        {"u1", T0 + 1 * MIN_MS, CHAT, "labour", "", "local-b", "ok", "pass", "", "", "", -1, 0,
         0.0001, 0.0050, 100, 10},
        {"u2", T0 + 2 * MIN_MS, CHAT, "judgment", "", "frontier-a", "ok", "", "truncated", "", "",
         -1, 0.0002, 0.0060, 0.0060, 100, 10},
        {"ua", T0 + 3 * MIN_MS, "audit", "judgment", "", "grader", "ok", "pass", "", "", "u1", 1, 0,
         0.0040, 0, 100, 10},
    };
    struct tmpdir t;
    struct allot_buf out, err;
    cJSON *root = NULL;
    int rc;

    ASSERT_INT_EQ(tmpdir_make(&t, "report-q"), 0);
    allot_buf_init(&out, 1 << 20);
    allot_buf_init(&err, 1024);
    rc = build_ledger(t.path, uncategorized, 3, NULL, 0);
    if (rc == 0 && (rc = run(t.path, 1, &out, &err)) == 0 &&
        (root = cJSON_Parse(allot_buf_cstr(&out))))
        check_uncategorized(root, allot_test_failed_);
    cJSON_Delete(root);
    allot_buf_release(&out);
    allot_buf_release(&err);
    tmpdir_remove(&t);
    ASSERT_INT_EQ(rc, 0);
}

/* A promotion in the window counts in the totals even when the category
 * had no request in the window (it was promoted on verdicts from before). */
TEST(report_quality_counts_events_of_categories_without_rows)
{
    static const struct row one[] = {
        {"x1", T0 + MIN_MS, CHAT, "labour", "summarize", "local-b", "ok", "pass", "", "", "", -1, 0,
         0.0001, 0.001, 10, 10},
    };
    static const struct event ev[] = {
        {T0 + 2 * MIN_MS, "promote", "reformat"},
        {T0 + 3 * MIN_MS, "promote", "summarize"},
    };
    struct tmpdir t;
    struct allot_buf out, err;
    cJSON *root = NULL;
    const cJSON *tot;
    int64_t promotions = -1;
    int rc;

    ASSERT_INT_EQ(tmpdir_make(&t, "report-q"), 0);
    allot_buf_init(&out, 1 << 20);
    allot_buf_init(&err, 1024);
    rc = build_ledger(t.path, one, 1, ev, 2);
    if (rc == 0 && (rc = run(t.path, 1, &out, &err)) == 0)
        root = cJSON_Parse(allot_buf_cstr(&out));
    tot = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(root, "quality"),
                                           "totals");
    promotions = jint(tot, "promotions");
    cJSON_Delete(root);
    allot_buf_release(&out);
    allot_buf_release(&err);
    tmpdir_remove(&t);
    ASSERT_INT_EQ(rc, 0);
    ASSERT_INT_EQ(promotions, 2);
}

/* A ledger written before schema v3 has no quality columns. */
static const char v2_ledger[] =
    "CREATE TABLE requests (\n"
    "  id TEXT PRIMARY KEY NOT NULL, ts_ms INTEGER NOT NULL DEFAULT 0,\n"
    "  endpoint TEXT NOT NULL DEFAULT '', requested_model TEXT NOT NULL DEFAULT '',\n"
    "  category TEXT NOT NULL DEFAULT '', confidence REAL NOT NULL DEFAULT 0,\n"
    "  tier TEXT NOT NULL DEFAULT '', model TEXT NOT NULL DEFAULT '',\n"
    "  provider TEXT NOT NULL DEFAULT '', source TEXT NOT NULL DEFAULT '',\n"
    "  attempts INTEGER NOT NULL DEFAULT 0, attempt_log TEXT NOT NULL DEFAULT '',\n"
    "  status TEXT NOT NULL DEFAULT '', http_status INTEGER NOT NULL DEFAULT 0,\n"
    "  error TEXT NOT NULL DEFAULT '', stream INTEGER NOT NULL DEFAULT 0,\n"
    "  prompt_tokens INTEGER NOT NULL DEFAULT 0, completion_tokens INTEGER NOT NULL DEFAULT 0,\n"
    "  tokens_estimated INTEGER NOT NULL DEFAULT 0, cost_usd REAL NOT NULL DEFAULT 0,\n"
    "  counterfactual_usd REAL NOT NULL DEFAULT 0, latency_ms REAL NOT NULL DEFAULT 0,\n"
    "  ttft_ms REAL NOT NULL DEFAULT -1, reason TEXT NOT NULL DEFAULT '',\n"
    "  explain TEXT NOT NULL DEFAULT '');\n"
    "CREATE INDEX requests_ts_ms ON requests(ts_ms);\n"
    "CREATE TABLE events (id INTEGER PRIMARY KEY, ts_ms INTEGER NOT NULL DEFAULT 0,\n"
    "  kind TEXT NOT NULL DEFAULT '', subject TEXT NOT NULL DEFAULT '',\n"
    "  detail TEXT NOT NULL DEFAULT '');\n"
    "INSERT INTO requests (id, ts_ms, endpoint, tier, category, model, status, prompt_tokens,"
    " completion_tokens, cost_usd, counterfactual_usd, latency_ms)"
    " VALUES ('v1', 1795946460000, '/v1/chat/completions', 'labour', 'summarize', 'local-b',"
    " 'ok', 1000, 100, 0.0001, 0.005, 50),"
    " ('v2', 1795946520000, '/v1/chat/completions', 'judgment', 'plan', 'frontier-a',"
    " 'ok', 1000, 500, 0.0125, 0.0125, 100);\n"
    "PRAGMA user_version = 2;\n";

TEST(report_quality_of_a_v2_ledger_is_null)
{
    struct tmpdir t;
    struct allot_buf out, err;
    sqlite3 *db = NULL;
    cJSON *root = NULL;
    int rc;

    ASSERT_INT_EQ(tmpdir_make(&t, "report-q"), 0);
    allot_buf_init(&out, 1 << 20);
    allot_buf_init(&err, 1024);
    rc = sqlite3_open(t.path, &db) == SQLITE_OK &&
                 sqlite3_exec(db, v2_ledger, NULL, NULL, NULL) == SQLITE_OK
             ? 0
             : -1;
    sqlite3_close(db);
    if (rc == 0 && (rc = run(t.path, 1, &out, &err)) == 0) {
        root = cJSON_Parse(allot_buf_cstr(&out));
        if (!root || !cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(root, "quality")) ||
            jint(cJSON_GetObjectItemCaseSensitive(root, "totals"), "requests") != 2)
            rc = -2;
        cJSON_Delete(root);
    }
    if (rc == 0 && (rc = run(t.path, 0, &out, &err)) == 0) {
        if (!strstr(allot_buf_cstr(&out), "\nquality: not recorded in this ledger (schema v2; "
                                          "allot records it from v3)\n") ||
            !strstr(allot_buf_cstr(&out), "\nspend $0.0126   if all on judgment $0.0175") ||
            strstr(allot_buf_cstr(&out), "net saved"))
            rc = -3;
    }
    if (rc)
        fprintf(stderr, "  rc %d: %s%s\n", rc, allot_buf_cstr(&err), allot_buf_cstr(&out));
    allot_buf_release(&out);
    allot_buf_release(&err);
    tmpdir_remove(&t);
    ASSERT_INT_EQ(rc, 0);
}
