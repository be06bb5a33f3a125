#include <cJSON.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
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
    const char *tier, *category, *model, *status;
    int64_t in, out;
    int estimated;
    double cost, counterfactual, latency;
    const char *client; /* auth.keys name; "" without auth */
};

/* Window [T0, T0 + 2h): r1..r6. r7 is after it. r5 was rejected: it counts
 * as a request but its (bogus) tokens and cost must not count. */
static const struct row rows[] = {
    {"r1", T0 + 1 * MIN_MS, "judgment", "plan", "frontier-a", "ok", 1000, 500, 0, 0.0125, 0.0125,
     100, "team-a"},
    {"r2", T0 + 2 * MIN_MS, "labour", "summarize", "local-b", "ok", 2000, 1000, 1, 0.0002, 0.025,
     50, "team-a"},
    {"r3", T0 + 3 * MIN_MS, "labour", "extract", "local-b", "failed", 300, 0, 0, 0, 0.0015, 30, ""},
    {"r4", T0 + 4 * MIN_MS, "code", "implement", "coder", "ok", 4000, 2000, 0, 0.006, 0.05, 200,
     "ci"},
    {"r5", T0 + 5 * MIN_MS, "", "", "", "rejected", 999, 999, 0, 1.0, 1.0, 1, ""},
    {"r6", T0 + 6 * MIN_MS, "labour", "summarize", "local-b", "ok", 1000, 100, 0, 0.0001, 0.0065,
     70, ""},
    {"r7", T0 + 3 * HOUR_MS, "judgment", "risk", "frontier-a", "ok", 100000, 100000, 0, 5.0, 5.0,
     900, "ci"},
};

static int build_ledger(const char *path)
{
    struct allot_ledger *l = NULL;
    struct allot_ledger_entry e;
    struct allot_buf err;
    size_t i;
    int rc;

    allot_buf_init(&err, 1024);
    if ((rc = allot_ledger_open(path, 10, &l, &err)))
        goto out;
    for (i = 0; i < sizeof rows / sizeof rows[0] && rc == 0; i++) {
        const struct row *r = &rows[i];
        memset(&e, 0, sizeof e);
        snprintf(e.id, sizeof e.id, "%s", r->id);
        e.ts_ms = r->ts_ms;
        snprintf(e.tier, sizeof e.tier, "%s", r->tier);
        snprintf(e.category, sizeof e.category, "%s", r->category);
        snprintf(e.model, sizeof e.model, "%s", r->model);
        snprintf(e.status, sizeof e.status, "%s", r->status);
        snprintf(e.client, sizeof e.client, "%s", r->client);
        e.prompt_tokens = r->in;
        e.completion_tokens = r->out;
        e.tokens_estimated = r->estimated;
        e.cost_usd = r->cost;
        e.counterfactual_usd = r->counterfactual;
        e.latency_ms = r->latency;
        e.ttft_ms = -1;
        rc = allot_ledger_append(l, &e);
    }
    allot_ledger_close(l);
out:
    allot_buf_release(&err);
    return rc;
}

static int run(const char *path, int64_t since, int64_t until, int json, struct allot_buf *out,
               struct allot_buf *err)
{
    struct allot_report_opts o = {since, until, json, NULL};
    allot_buf_reset(out);
    allot_buf_reset(err);
    return allot_report_run(path, &o, out, err);
}

static const char *jstr(const cJSON *v)
{
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static cJSON *find_group(cJSON *arr, const char *name_key, const char *name)
{
    size_t i;
    cJSON *g;
    for (i = 0; i < (size_t)cJSON_GetArraySize(arr) && (g = cJSON_GetArrayItem(arr, (int)i)); i++) {
        const char *v = jstr(cJSON_GetObjectItemCaseSensitive(g, name_key));
        if (v && strcmp(v, name) == 0)
            return g;
    }
    return NULL;
}

static int64_t jint(cJSON *o, const char *k)
{
    cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) && v->valuedouble == (double)(int64_t)v->valuedouble
               ? (int64_t)v->valuedouble
               : -999;
}

static double jnum(cJSON *o, const char *k)
{
    cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : -999.0;
}

TEST(report_json_totals_and_groups_are_exact)
{
    struct tmpdir t;
    struct allot_buf out, err;
    cJSON *root = NULL, *tot, *g, *arr;

    ASSERT_INT_EQ(tmpdir_make(&t, "report"), 0);
    allot_buf_init(&out, 1 << 20);
    allot_buf_init(&err, 1024);
    ASSERT_INT_EQ(build_ledger(t.path), 0);
    ASSERT_INT_EQ(run(t.path, T0, T0 + 2 * HOUR_MS, 1, &out, &err), 0);
    ASSERT_STR_EQ(allot_buf_cstr(&err), "");
    root = cJSON_Parse(allot_buf_cstr(&out));
    ASSERT(root != NULL);

    ASSERT_STR_EQ(jstr(cJSON_GetObjectItemCaseSensitive(root, "ledger")), t.path);
    ASSERT_INT_EQ(jint(cJSON_GetObjectItemCaseSensitive(root, "window"), "since_ms"), T0);
    ASSERT_INT_EQ(jint(cJSON_GetObjectItemCaseSensitive(root, "window"), "until_ms"),
                  T0 + 2 * HOUR_MS);

    tot = cJSON_GetObjectItemCaseSensitive(root, "totals");
    ASSERT_INT_EQ(jint(tot, "requests"), 6);
    ASSERT_INT_EQ(jint(tot, "ok"), 4);
    ASSERT_INT_EQ(jint(tot, "failed"), 1);
    ASSERT_INT_EQ(jint(tot, "client_closed"), 0);
    ASSERT_INT_EQ(jint(tot, "rejected"), 1);
    ASSERT_INT_EQ(jint(tot, "prompt_tokens"), 8300);
    ASSERT_INT_EQ(jint(tot, "completion_tokens"), 3600);
    ASSERT_INT_EQ(jint(tot, "estimated_rows"), 1);
    ASSERT_DBL_NEAR(jnum(tot, "cost_usd"), 0.0188, 1e-12);
    ASSERT_DBL_NEAR(jnum(tot, "counterfactual_usd"), 0.0955, 1e-12);
    ASSERT_DBL_NEAR(jnum(tot, "saving_usd"), 0.0767, 1e-12);
    ASSERT_DBL_NEAR(jnum(tot, "saving_pct"), 100.0 * 0.0767 / 0.0955, 1e-7);
    /* median of ok latencies 50, 70, 100, 200 by nearest rank */
    ASSERT_DBL_NEAR(jnum(tot, "p50_latency_ms"), 70, 1e-9);
    ASSERT(cJSON_GetObjectItemCaseSensitive(tot, "share_pct") == NULL);

    /* tiers in KINDS.md order, rows without a tier last */
    arr = cJSON_GetObjectItemCaseSensitive(root, "by_tier");
    ASSERT_INT_EQ((size_t)cJSON_GetArraySize(arr), 4);
    ASSERT_STR_EQ(jstr(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(arr, 0), "tier")),
                  "judgment");
    ASSERT_STR_EQ(jstr(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(arr, 1), "tier")),
                  "labour");
    ASSERT_STR_EQ(jstr(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(arr, 2), "tier")),
                  "code");
    ASSERT_STR_EQ(jstr(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(arr, 3), "tier")), "");
    g = find_group(arr, "tier", "labour");
    ASSERT(g != NULL);
    ASSERT_INT_EQ(jint(g, "requests"), 3);
    ASSERT_INT_EQ(jint(g, "ok"), 2);
    ASSERT_INT_EQ(jint(g, "failed"), 1);
    ASSERT_DBL_NEAR(jnum(g, "share_pct"), 50.0, 1e-9);
    ASSERT_INT_EQ(jint(g, "prompt_tokens"), 3300);
    ASSERT_INT_EQ(jint(g, "completion_tokens"), 1100);
    ASSERT_DBL_NEAR(jnum(g, "cost_usd"), 0.0003, 1e-12);
    ASSERT_DBL_NEAR(jnum(g, "counterfactual_usd"), 0.033, 1e-12);
    ASSERT_DBL_NEAR(jnum(g, "saving_usd"), 0.0327, 1e-12);
    ASSERT_DBL_NEAR(jnum(g, "p50_latency_ms"), 50, 1e-9);
    g = find_group(arr, "tier", "");
    ASSERT(g != NULL);
    ASSERT_INT_EQ(jint(g, "rejected"), 1);
    ASSERT_INT_EQ(jint(g, "prompt_tokens"), 0);
    ASSERT_DBL_NEAR(jnum(g, "cost_usd"), 0, 0);
    ASSERT(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(g, "saving_pct")));
    ASSERT(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(g, "p50_latency_ms")));

    /* most requests first, ties by name, "" last */
    arr = cJSON_GetObjectItemCaseSensitive(root, "by_category");
    ASSERT_INT_EQ((size_t)cJSON_GetArraySize(arr), 5);
    ASSERT_STR_EQ(jstr(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(arr, 0), "category")),
                  "summarize");
    ASSERT_STR_EQ(jstr(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(arr, 1), "category")),
                  "extract");
    ASSERT_STR_EQ(jstr(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(arr, 4), "category")),
                  "");
    g = find_group(arr, "category", "summarize");
    ASSERT_INT_EQ(jint(g, "requests"), 2);
    ASSERT_DBL_NEAR(jnum(g, "share_pct"), 100.0 * 2 / 6, 1e-7);

    arr = cJSON_GetObjectItemCaseSensitive(root, "by_model");
    ASSERT_INT_EQ((size_t)cJSON_GetArraySize(arr), 4);
    g = find_group(arr, "model", "frontier-a");
    ASSERT(g != NULL);
    ASSERT_INT_EQ(jint(g, "requests"), 1); /* r7 is outside the window */
    ASSERT_DBL_NEAR(jnum(g, "cost_usd"), 0.0125, 1e-12);
    ASSERT_DBL_NEAR(jnum(g, "saving_usd"), 0, 1e-12);
    ASSERT_DBL_NEAR(jnum(g, "saving_pct"), 0, 1e-12);

    /* by client key (auth.keys): most requests first, "" last */
    arr = cJSON_GetObjectItemCaseSensitive(root, "by_client");
    ASSERT_INT_EQ((size_t)cJSON_GetArraySize(arr), 3);
    ASSERT_STR_EQ(jstr(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(arr, 0), "client")), "");
    g = find_group(arr, "client", "team-a");
    ASSERT(g != NULL);
    ASSERT_INT_EQ(jint(g, "requests"), 2);
    ASSERT_INT_EQ(jint(g, "prompt_tokens"), 3000);
    ASSERT_DBL_NEAR(jnum(g, "cost_usd"), 0.0127, 1e-12);
    g = find_group(arr, "client", "ci");
    ASSERT(g != NULL);
    ASSERT_INT_EQ(jint(g, "requests"), 1); /* r7 is outside the window */
    ASSERT_DBL_NEAR(jnum(g, "cost_usd"), 0.006, 1e-12);

    cJSON_Delete(root);
    allot_buf_release(&out);
    allot_buf_release(&err);
    tmpdir_remove(&t);
}

TEST(report_table_shows_totals_and_aligned_rows)
{
    struct tmpdir t;
    struct allot_buf out, err, want;
    const char *s;

    ASSERT_INT_EQ(tmpdir_make(&t, "report"), 0);
    allot_buf_init(&out, 1 << 20);
    allot_buf_init(&err, 1024);
    allot_buf_init(&want, 1024);
    ASSERT_INT_EQ(build_ledger(t.path), 0);
    ASSERT_INT_EQ(run(t.path, T0, T0 + 2 * HOUR_MS, 0, &out, &err), 0);
    s = allot_buf_cstr(&out);
    allot_buf_addf(
        &want, "allot report \xE2\x80\x94 2026-11-29 10:00 to 2026-11-29 12:00 UTC (ledger %s)\n",
        t.path);
    ASSERT(strncmp(s, allot_buf_cstr(&want), want.len) == 0);
    ASSERT_STR_CONTAINS(s, "\nrequests 6 (4 ok, 1 failed, 1 rejected)   tokens 8,300 in / 3,600 "
                           "out (1 request estimated)\n");
    ASSERT_STR_CONTAINS(s,
                        "\nspend $0.0188   if all on judgment $0.0955   saved $0.0767 (80.3%)\n");
    ASSERT_STR_CONTAINS(s, "\nby tier      requests   share    tokens in  tokens out       spend"
                           "  judgment-cost       saved   p50 ms\n");
    ASSERT_STR_CONTAINS(s, "\njudgment            1   16.7%        1,000         500     $0.0125"
                           "        $0.0125     $0.0000      100\n");
    ASSERT_STR_CONTAINS(s, "\nlabour              3   50.0%        3,300       1,100   $0.000300"
                           "        $0.0330     $0.0327       50\n");
    ASSERT_STR_CONTAINS(s, "\n(none)              1   16.7%            0           0     $0.0000"
                           "        $0.0000     $0.0000        -\n");
    ASSERT_STR_CONTAINS(s, "\nby model     requests");
    ASSERT_STR_CONTAINS(s, "\nfrontier-a          1   16.7%");

    /* an empty window says so */
    ASSERT_INT_EQ(run(t.path, T0 - HOUR_MS, T0, 0, &out, &err), 0);
    ASSERT_STR_CONTAINS(allot_buf_cstr(&out), "UTC (ledger");
    ASSERT_STR_CONTAINS(allot_buf_cstr(&out), "\nno requests in this window\n");

    allot_buf_release(&out);
    allot_buf_release(&err);
    allot_buf_release(&want);
    tmpdir_remove(&t);
}

TEST(report_window_filters_rows)
{
    struct tmpdir t;
    struct allot_buf out, err;
    cJSON *root, *tot;

    ASSERT_INT_EQ(tmpdir_make(&t, "report"), 0);
    allot_buf_init(&out, 1 << 20);
    allot_buf_init(&err, 1024);
    ASSERT_INT_EQ(build_ledger(t.path), 0);

    /* since is inclusive, until exclusive: r2 at exactly T0+2min is in
     * [T0+2min, T0+3min), r3 at T0+3min is not */
    ASSERT_INT_EQ(run(t.path, T0 + 2 * MIN_MS, T0 + 3 * MIN_MS, 1, &out, &err), 0);
    ASSERT((root = cJSON_Parse(allot_buf_cstr(&out))) != NULL);
    tot = cJSON_GetObjectItemCaseSensitive(root, "totals");
    ASSERT_INT_EQ(jint(tot, "requests"), 1);
    ASSERT_INT_EQ(jint(tot, "prompt_tokens"), 2000);
    ASSERT_STR_EQ(
        jstr(cJSON_GetObjectItemCaseSensitive(
            cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(root, "by_model"), 0), "model")),
        "local-b");
    cJSON_Delete(root);

    /* since 0 and until 0: everything up to now, r7 included */
    ASSERT_INT_EQ(run(t.path, 0, 0, 1, &out, &err), 0);
    ASSERT((root = cJSON_Parse(allot_buf_cstr(&out))) != NULL);
    tot = cJSON_GetObjectItemCaseSensitive(root, "totals");
    ASSERT_INT_EQ(jint(tot, "requests"), 7);
    ASSERT_DBL_NEAR(jnum(tot, "cost_usd"), 5.0188, 1e-12);
    ASSERT(jint(cJSON_GetObjectItemCaseSensitive(root, "window"), "until_ms") > T0 + 3 * HOUR_MS);
    cJSON_Delete(root);

    /* an empty window gives zeros, not an error */
    ASSERT_INT_EQ(run(t.path, T0 + 10 * HOUR_MS, T0 + 11 * HOUR_MS, 1, &out, &err), 0);
    ASSERT((root = cJSON_Parse(allot_buf_cstr(&out))) != NULL);
    ASSERT_INT_EQ(jint(cJSON_GetObjectItemCaseSensitive(root, "totals"), "requests"), 0);
    ASSERT_DBL_NEAR(jnum(cJSON_GetObjectItemCaseSensitive(root, "totals"), "cost_usd"), 0, 0);
    ASSERT_INT_EQ((size_t)cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(root, "by_tier")), 0);
    cJSON_Delete(root);

    /* a backwards window is refused */
    ASSERT_INT_EQ(run(t.path, T0, T0, 1, &out, &err), ALLOT_EINVAL);
    ASSERT_STR_CONTAINS(allot_buf_cstr(&err), "is not before until");
    ASSERT_INT_EQ(out.len, 0);

    allot_buf_release(&out);
    allot_buf_release(&err);
    tmpdir_remove(&t);
}

TEST(report_missing_or_foreign_file_is_a_clear_error)
{
    struct tmpdir t;
    struct allot_buf out, err, want;
    FILE *f;

    ASSERT_INT_EQ(tmpdir_make(&t, "report"), 0);
    allot_buf_init(&out, 1 << 20);
    allot_buf_init(&err, 1024);
    allot_buf_init(&want, 1024);
    ASSERT_INT_EQ(run(t.path, 0, 0, 0, &out, &err), ALLOT_ESTORE);
    allot_buf_addf(&want, "ledger '%s' does not exist (run `allot serve` first)", t.path);
    ASSERT_STR_EQ(allot_buf_cstr(&err), allot_buf_cstr(&want));
    ASSERT_INT_EQ(out.len, 0);
    /* the read-only report does not create it */
    ASSERT(access(t.path, F_OK) != 0);

    ASSERT((f = fopen(t.path, "w")) != NULL);
    fclose(f); /* an empty file is a valid, empty SQLite database */
    ASSERT_INT_EQ(run(t.path, 0, 0, 0, &out, &err), ALLOT_ESTORE);
    allot_buf_reset(&want);
    allot_buf_addf(&want, "ledger '%s': no such table: requests", t.path);
    ASSERT_STR_EQ(allot_buf_cstr(&err), allot_buf_cstr(&want));

    allot_buf_release(&out);
    allot_buf_release(&err);
    allot_buf_release(&want);
    tmpdir_remove(&t);
}

TEST(report_reads_a_ledger_that_is_being_written)
{
    struct tmpdir t;
    struct allot_buf out, err;
    struct allot_ledger *l = NULL;
    struct allot_ledger_entry e;
    cJSON *root;
    int i;

    ASSERT_INT_EQ(tmpdir_make(&t, "report"), 0);
    allot_buf_init(&out, 1 << 20);
    allot_buf_init(&err, 1024);
    ASSERT_INT_EQ(allot_ledger_open(t.path, 5, &l, &err), 0);
    memset(&e, 0, sizeof e);
    snprintf(e.status, sizeof e.status, "ok");
    snprintf(e.tier, sizeof e.tier, "code");
    e.ts_ms = T0;
    e.cost_usd = 0.25;
    for (i = 0; i < 4; i++) {
        snprintf(e.id, sizeof e.id, "live%d", i);
        ASSERT_INT_EQ(allot_ledger_append(l, &e), 0);
    }
    for (i = 0; i < 200 && allot_ledger_rows_written(l) < 4; i++)
        usleep(5000);
    ASSERT_INT_EQ(allot_ledger_rows_written(l), 4);
    ASSERT_INT_EQ(run(t.path, 0, 0, 1, &out, &err), 0);
    ASSERT((root = cJSON_Parse(allot_buf_cstr(&out))) != NULL);
    ASSERT_INT_EQ(jint(cJSON_GetObjectItemCaseSensitive(root, "totals"), "requests"), 4);
    ASSERT_DBL_NEAR(jnum(cJSON_GetObjectItemCaseSensitive(root, "totals"), "cost_usd"), 1.0, 1e-12);
    cJSON_Delete(root);
    allot_ledger_close(l);
    allot_buf_release(&out);
    allot_buf_release(&err);
    tmpdir_remove(&t);
}

/* --client: the report of one client key's requests; a name is checked and
 * its quotes escaped, never pasted into SQL as it is. */
TEST(report_of_one_client)
{
    struct tmpdir t;
    struct allot_buf out, err;
    struct allot_report_opts o = {T0, T0 + 2 * HOUR_MS, 1, "team-a"};
    cJSON *root, *tot;

    ASSERT_INT_EQ(tmpdir_make(&t, "report"), 0);
    ASSERT_INT_EQ(build_ledger(t.path), 0);
    allot_buf_init(&out, 1 << 20);
    allot_buf_init(&err, 4096);
    ASSERT_INT_EQ(allot_report_run(t.path, &o, &out, &err), 0);
    root = cJSON_Parse(allot_buf_cstr(&out));
    ASSERT(root != NULL);
    ASSERT_STR_EQ(jstr(cJSON_GetObjectItemCaseSensitive(root, "client")), "team-a");
    tot = cJSON_GetObjectItemCaseSensitive(root, "totals");
    ASSERT_INT_EQ(jint(tot, "requests"), 2);
    ASSERT_DBL_NEAR(jnum(tot, "cost_usd"), 0.0127, 1e-12);
    ASSERT_INT_EQ((size_t)cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(root, "by_client")),
                  1);
    cJSON_Delete(root);

    /* a quote in a name is data, not SQL */
    allot_buf_reset(&out);
    o.client = "o'brien";
    ASSERT_INT_EQ(allot_report_run(t.path, &o, &out, &err), 0);
    root = cJSON_Parse(allot_buf_cstr(&out));
    ASSERT(root != NULL);
    ASSERT_INT_EQ(jint(cJSON_GetObjectItemCaseSensitive(root, "totals"), "requests"), 0);
    cJSON_Delete(root);

    /* the table says whose report it is */
    allot_buf_reset(&out);
    o.client = "ci";
    o.json = 0;
    ASSERT_INT_EQ(allot_report_run(t.path, &o, &out, &err), 0);
    ASSERT_STR_CONTAINS(allot_buf_cstr(&out), ", client ci)\n");
    ASSERT_STR_CONTAINS(allot_buf_cstr(&out), "requests 1 (1 ok");

    o.client = "two words";
    ASSERT_INT_EQ(allot_report_run(t.path, &o, &out, &err), ALLOT_EINVAL);
    ASSERT_STR_CONTAINS(allot_buf_cstr(&err), "expected the name of a client key");
    allot_buf_release(&out);
    allot_buf_release(&err);
    tmpdir_remove(&t);
}

/* Prompt caching: the cached and cache-written shares of the prompt tokens
 * are summed like the other counts, in JSON and in the text's header. */
TEST(report_counts_cached_prompt_tokens)
{
    struct tmpdir t;
    struct allot_buf out, err;
    struct allot_ledger *l = NULL;
    struct allot_ledger_entry e;
    cJSON *root, *tot, *g;
    int i;

    ASSERT_INT_EQ(tmpdir_make(&t, "report-cache"), 0);
    allot_buf_init(&out, 1 << 20);
    allot_buf_init(&err, 1024);
    ASSERT_INT_EQ(allot_ledger_open(t.path, 10, &l, &err), 0);
    for (i = 0; i < 3; i++) {
        memset(&e, 0, sizeof e);
        snprintf(e.id, sizeof e.id, "c%d", i);
        e.ts_ms = T0 + i;
        snprintf(e.tier, sizeof e.tier, "%s", i < 2 ? "judgment" : "labour");
        snprintf(e.model, sizeof e.model, "%s", i < 2 ? "frontier-a" : "local-b");
        snprintf(e.status, sizeof e.status, "%s", i < 2 ? "ok" : "rejected");
        e.prompt_tokens = 10000;
        e.cached_tokens = 8000; /* counted for ok rows, not the rejected one */
        e.cache_write_tokens = i ? 0 : 1500;
        e.completion_tokens = 100;
        e.ttft_ms = -1;
        ASSERT_INT_EQ(allot_ledger_append(l, &e), 0);
    }
    allot_ledger_close(l);

    ASSERT_INT_EQ(run(t.path, T0, T0 + HOUR_MS, 1, &out, &err), 0);
    root = cJSON_Parse(allot_buf_cstr(&out));
    ASSERT(root != NULL);
    tot = cJSON_GetObjectItemCaseSensitive(root, "totals");
    ASSERT_INT_EQ(jint(tot, "prompt_tokens"), 20000);
    ASSERT_INT_EQ(jint(tot, "cached_tokens"), 16000);
    ASSERT_INT_EQ(jint(tot, "cache_write_tokens"), 1500);
    g = find_group(cJSON_GetObjectItemCaseSensitive(root, "by_tier"), "tier", "judgment");
    ASSERT(g != NULL);
    ASSERT_INT_EQ(jint(g, "cached_tokens"), 16000);
    cJSON_Delete(root);

    ASSERT_INT_EQ(run(t.path, T0, T0 + HOUR_MS, 0, &out, &err), 0);
    ASSERT_STR_CONTAINS(allot_buf_cstr(&out),
                        "tokens 20,000 in (16,000 from cache, 1,500 written to it) / 200 out");
    allot_buf_release(&out);
    allot_buf_release(&err);
    tmpdir_remove(&t);
}
