/* report.c: `allot report`, spend and savings from the ledger (report.h).
 *
 * The store does the adding up: one GROUP BY query per dimension (totals,
 * tier, category, model, client) over the window [since, until), which the ts_ms
 * index serves, and one ordered scan of the ok rows' latencies per
 * dimension for the median. The queries are written once for both stores,
 * SQLite and PostgreSQL (ledger_reader.h): a count is SUM(CASE ... THEN 1
 * ELSE 0 END) rather than SQLite's SUM(boolean), a sum that must be 0 over
 * no rows is COALESCE(SUM(x), 0) rather than SQLite's TOTAL(x), and any
 * order shown to the user is made here, in C, not by a collation. The
 * store is read in one read-only snapshot, so a report can run next to a
 * serving gateway.
 *
 * What counts: every row counts in the request numbers, by status; tokens,
 * spend and the judgment-tier counterfactual leave out rows with status
 * "rejected", which never reached an upstream (docs/ledger.md). The median
 * latency is over "ok" rows only: a failure's latency measures a timeout,
 * not the model.
 *
 * Audits (rows with endpoint "audit") are not requests: they are left out
 * of the request tables and reported with the quality figures, and their
 * cost is taken off the saving, as is the cost of escalated answers, which
 * cost_usd already includes: a saving that ignores rework is not one. A
 * ledger older than schema v3 has no quality columns; its report says so. */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "allot/buf.h"
#include "allot/clock.h"
#include "allot/error.h"
#include "allot/ledger_reader.h"
#include "allot/report.h"

struct group {
    char *key; /* "" for rows without one */
    int64_t requests, ok, failed, client_closed, rejected;
    int64_t prompt_tokens, completion_tokens, estimated_rows;
    int64_t cached_tokens, cache_write_tokens; /* of prompt_tokens (schema v6) */
    double cost_usd, counterfactual_usd;
    double p50_latency_ms; /* < 0: no ok rows */
};

struct dimension {
    const char *column; /* SQL expression grouped by */
    const char *name;   /* JSON key of the group name: "tier" */
    const char *json;   /* "by_tier" */
    const char *title;  /* "by tier" */
    struct group *groups;
    size_t n, cap;
};

/* Output with a sticky error, so the formatting code reads straight. */
struct writer {
    struct allot_buf *b;
    int rc;
};

__attribute__((format(printf, 2, 3))) static void put(struct writer *w, const char *fmt, ...)
{
    va_list ap;
    if (w->rc)
        return;
    va_start(ap, fmt);
    w->rc = allot_buf_vaddf(w->b, fmt, ap);
    va_end(ap);
}

static void put_json_str(struct writer *w, const char *s)
{
    if (!w->rc)
        w->rc = allot_buf_add_json_str(w->b, s, strlen(s));
}

/* A JSON number with enough digits for money; null for NaN or infinity,
 * which JSON cannot carry. */
static void put_json_num(struct writer *w, double v)
{
    if (isfinite(v))
        put(w, "%.10g", v);
    else
        put(w, "null");
}

/* SQL both stores read alike: a count of the rows where cond holds, a sum
 * that is 0 (not NULL) over no rows. */
#define COUNT_IF(cond) " SUM(CASE WHEN " cond " THEN 1 ELSE 0 END)"
#define TOTAL_OF(expr) " COALESCE(SUM(" expr "), 0)"
/* The window, with the two numbers formatted in, then the client filter
 * (client_clause(): a checked name, quotes doubled). Events have no client. */
#define WINDOW "ts_ms >= %" PRId64 " AND ts_ms < %" PRId64 "%s"
#define EVENTS_WINDOW "ts_ms >= %" PRId64 " AND ts_ms < %" PRId64

/* The select lists follow "SELECT COALESCE(column, '')". A ledger before
 * schema v6 has no cache columns: its cached counts are 0. */
/* clang-format off */
#define AGG_SQL(CACHE_COLUMNS) \
    ", COUNT(*)," \
    COUNT_IF("status = 'ok'") "," \
    COUNT_IF("status = 'failed'") "," \
    COUNT_IF("status = 'client_closed'") "," \
    COUNT_IF("status = 'rejected'") "," \
    " SUM(CASE WHEN status <> 'rejected' THEN prompt_tokens ELSE 0 END)," \
    " SUM(CASE WHEN status <> 'rejected' THEN completion_tokens ELSE 0 END)," \
    COUNT_IF("status <> 'rejected' AND tokens_estimated <> 0") "," \
    TOTAL_OF("CASE WHEN status <> 'rejected' THEN cost_usd END") "," \
    TOTAL_OF("CASE WHEN status <> 'rejected' THEN counterfactual_usd END") "," \
    CACHE_COLUMNS \
    " FROM requests WHERE " WINDOW " AND endpoint <> 'audit'"
static const char agg_sql[] =
    AGG_SQL(TOTAL_OF("CASE WHEN status <> 'rejected' THEN cached_tokens END") ","
            TOTAL_OF("CASE WHEN status <> 'rejected' THEN cache_write_tokens END"));
static const char agg_sql_v5[] = AGG_SQL(" 0, 0");
/* clang-format on */

static const char latency_sql[] = ", latency_ms FROM requests"
                                  " WHERE " WINDOW " AND status = 'ok'"
                                  " AND endpoint <> 'audit' ORDER BY 1, 2";

/* The quality figures per category (schema v3). A request counts as
 * checked when any of its answers was; it passed when the answer it got
 * was its first and passed. */
/* clang-format off */
static const char quality_sql[] =
    "SELECT category,"
    COUNT_IF("endpoint <> 'audit' AND (\"check\" <> '' OR escalated <> '')") ","
    COUNT_IF("endpoint <> 'audit' AND \"check\" = 'pass' AND escalated = ''") ","
    COUNT_IF("endpoint <> 'audit' AND escalated <> ''") ","
    TOTAL_OF("CASE WHEN endpoint <> 'audit' THEN escalation_usd END") ","
    COUNT_IF("endpoint <> 'audit' AND floor = 'promoted'") ","
    COUNT_IF("endpoint <> 'audit' AND floor = 'probe'") ","
    COUNT_IF("endpoint = 'audit'") ","
    COUNT_IF("endpoint = 'audit' AND grade = 1") ","
    COUNT_IF("endpoint = 'audit' AND grade = 0") ","
    TOTAL_OF("CASE WHEN endpoint = 'audit' THEN cost_usd END") ","
    TOTAL_OF("CASE WHEN endpoint <> 'audit' AND status <> 'rejected'"
             " THEN counterfactual_usd - cost_usd END")
    " FROM requests WHERE " WINDOW " GROUP BY 1 ORDER BY 1";

static const char events_sql[] =
    "SELECT subject,"
    COUNT_IF("kind = 'promote' OR kind = 'repromote'") ","
    COUNT_IF("kind = 'demote'")
    " FROM events WHERE " EVENTS_WINDOW " GROUP BY 1";
/* clang-format on */

struct qrow {
    char key[24];
    int64_t checked, passed, escalated, promoted, probes;
    double escalation_usd;
    int64_t audits, audit_pass, audit_fail;
    double audit_usd;
    double saving_usd; /* counterfactual - cost of the requests, before audits */
    int64_t promotions, demotions;
};

struct quality {
    int present; /* the ledger has the columns (schema v3 or later) */
    int version;
    struct qrow rows[64];
    size_t n;
    struct qrow total;
};

/* A client key's name as allot.yaml allows it: 1 to 128 bytes, no space
 * or control character. */
static int client_name_ok(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++)
        if ((unsigned char)s[n] <= ' ' || s[n] == 0x7f)
            return 0;
    return n > 0 && n <= 128;
}

/* " AND client = 'NAME'" for o's client filter, its quotes doubled; "" for
 * none. The name was checked by client_name_ok(). */
static void client_clause(const struct allot_report_opts *o, char *dst, size_t cap)
{
    size_t j = 0;
    const char *p;

    dst[0] = '\0';
    if (!o->client)
        return;
    j = (size_t)snprintf(dst, cap, " AND client = '");
    for (p = o->client; *p && j + 4 < cap; p++) {
        if (*p == '\'')
            dst[j++] = '\'';
        dst[j++] = *p;
    }
    dst[j++] = '\'';
    dst[j] = '\0';
}

/* Start sql, a format with the two numbers of the window and the client
 * filter (WINDOW): one of this file's constant queries, never text from
 * input. */
static int query_window(struct allot_ledger_reader *rd, const char *fmt, char *sql, size_t cap,
                        const struct allot_report_opts *o, int64_t until, struct allot_buf *err)
{
    char clause[300];
    int n;

    client_clause(o, clause, sizeof clause);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
#pragma GCC diagnostic ignored "-Wformat-extra-args"
    n = snprintf(sql, cap, fmt, o->since_ms, until, clause);
#pragma GCC diagnostic pop
    if (n < 0 || (size_t)n >= cap) {
        if (err)
            allot_buf_addf(err, "ledger '%s': internal error: a query too long",
                           allot_ledger_reader_name(rd));
        return ALLOT_ESTORE;
    }
    return allot_ledger_reader_query(rd, sql, err);
}

/* Start body (a select list's tail) for column, with the window formatted
 * in; column comes from the fixed dimension table, never from input. */
static int query(struct allot_ledger_reader *rd, const char *column, const char *body,
                 const char *tail, const struct allot_report_opts *o, int64_t until,
                 struct allot_buf *err)
{
    char sql[2048], fmt[2048];
    int n = snprintf(fmt, sizeof fmt, "SELECT COALESCE(%s, '')%s%s", column, body, tail);
    if (n < 0 || (size_t)n >= sizeof fmt)
        goto too_long;
    return query_window(rd, fmt, sql, sizeof sql, o, until, err);
too_long:
    if (err)
        allot_buf_addf(err, "ledger '%s': internal error: a query too long",
                       allot_ledger_reader_name(rd));
    return ALLOT_ESTORE;
}

static struct group *add_group(struct dimension *d, const char *key)
{
    struct group *g;
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 16;
        if (cap > SIZE_MAX / sizeof *g)
            return NULL;
        g = realloc(d->groups, cap * sizeof *g);
        if (!g)
            return NULL;
        d->groups = g;
        d->cap = cap;
    }
    g = &d->groups[d->n];
    memset(g, 0, sizeof *g);
    g->p50_latency_ms = -1;
    if (!(g->key = strdup(key)))
        return NULL;
    d->n++;
    return g;
}

static struct group *find_group(struct dimension *d, const char *key)
{
    size_t i;
    for (i = 0; i < d->n; i++)
        if (strcmp(d->groups[i].key, key) == 0)
            return &d->groups[i];
    return NULL;
}

static void release_dimension(struct dimension *d)
{
    size_t i;
    for (i = 0; i < d->n; i++)
        free(d->groups[i].key);
    free(d->groups);
    d->groups = NULL;
    d->n = d->cap = 0;
}

/* Fill d with one group per distinct value of d->column in the window;
 * version: the ledger's schema version. */
static int load_dimension(struct allot_ledger_reader *rd, const struct allot_report_opts *o,
                          int64_t until, int version, struct dimension *d, struct allot_buf *err)
{
    struct group *g = NULL;
    int64_t rank = 0;
    int rc, step;

    /* totals: one row even when the window is empty, so no GROUP BY */
    if ((rc = query(rd, d->column, version >= 6 ? agg_sql : agg_sql_v5,
                    d->name ? " GROUP BY 1" : "", o, until, err)))
        goto out;
    while ((step = allot_ledger_reader_next(rd, err)) == 1) {
        if (!(g = add_group(d, allot_ledger_reader_text(rd, 0)))) {
            rc = ALLOT_ENOMEM;
            goto oom;
        }
        g->requests = allot_ledger_reader_int64(rd, 1);
        g->ok = allot_ledger_reader_int64(rd, 2);
        g->failed = allot_ledger_reader_int64(rd, 3);
        g->client_closed = allot_ledger_reader_int64(rd, 4);
        g->rejected = allot_ledger_reader_int64(rd, 5);
        g->prompt_tokens = allot_ledger_reader_int64(rd, 6);
        g->completion_tokens = allot_ledger_reader_int64(rd, 7);
        g->estimated_rows = allot_ledger_reader_int64(rd, 8);
        g->cost_usd = allot_ledger_reader_double(rd, 9);
        g->counterfactual_usd = allot_ledger_reader_double(rd, 10);
        g->cached_tokens = allot_ledger_reader_int64(rd, 11);
        g->cache_write_tokens = allot_ledger_reader_int64(rd, 12);
    }
    if (step < 0) {
        rc = step;
        goto out;
    }

    /* The median by nearest rank: the ceil(n/2)-th smallest ok latency. */
    if ((rc = query(rd, d->column, latency_sql, "", o, until, err)))
        goto out;
    g = NULL;
    while ((step = allot_ledger_reader_next(rd, err)) == 1) {
        const char *key = allot_ledger_reader_text(rd, 0);
        if (!g || strcmp(g->key, key) != 0) {
            g = find_group(d, key);
            rank = 0;
        }
        if (g && ++rank == (g->ok + 1) / 2)
            g->p50_latency_ms = allot_ledger_reader_double(rd, 1);
    }
    rc = step < 0 ? step : 0;
    goto out;
oom:
    if (err)
        allot_buf_addf(err, "ledger '%s': out of memory", allot_ledger_reader_name(rd));
out:
    return rc;
}

/* Tiers in the order of KINDS.md, anything unknown after, "" last. */
static void qrow_add(struct qrow *t, const struct qrow *r)
{
    t->checked += r->checked;
    t->passed += r->passed;
    t->escalated += r->escalated;
    t->promoted += r->promoted;
    t->probes += r->probes;
    t->escalation_usd += r->escalation_usd;
    t->audits += r->audits;
    t->audit_pass += r->audit_pass;
    t->audit_fail += r->audit_fail;
    t->audit_usd += r->audit_usd;
    t->saving_usd += r->saving_usd; /* promotions: from the events, not the rows */
}

static int by_key(const void *a, const void *b)
{
    return strcmp(((const struct qrow *)a)->key, ((const struct qrow *)b)->key);
}

static int load_quality(struct allot_ledger_reader *rd, const struct allot_report_opts *o,
                        int64_t until, struct quality *q, struct allot_buf *err)
{
    char sql[4096];
    int rc = 0, step;
    size_t i;

    if (q->version < 3) /* q->version: read first, by allot_report_run() */
        goto out;
    q->present = 1;
    if ((rc = query_window(rd, quality_sql, sql, sizeof sql, o, until, err)))
        goto out;
    while ((step = allot_ledger_reader_next(rd, err)) == 1) {
        struct qrow *r;
        if (q->n == sizeof q->rows / sizeof q->rows[0])
            continue; /* read to the end: a query left half-way is no error */
        r = &q->rows[q->n++];
        snprintf(r->key, sizeof r->key, "%s", allot_ledger_reader_text(rd, 0));
        r->checked = allot_ledger_reader_int64(rd, 1);
        r->passed = allot_ledger_reader_int64(rd, 2);
        r->escalated = allot_ledger_reader_int64(rd, 3);
        r->escalation_usd = allot_ledger_reader_double(rd, 4);
        r->promoted = allot_ledger_reader_int64(rd, 5);
        r->probes = allot_ledger_reader_int64(rd, 6);
        r->audits = allot_ledger_reader_int64(rd, 7);
        r->audit_pass = allot_ledger_reader_int64(rd, 8);
        r->audit_fail = allot_ledger_reader_int64(rd, 9);
        r->audit_usd = allot_ledger_reader_double(rd, 10);
        r->saving_usd = allot_ledger_reader_double(rd, 11);
    }
    if (step < 0) {
        rc = step;
        goto out;
    }
    /* the same order from either store, whatever its collation */
    if (q->n > 1)
        qsort(q->rows, q->n, sizeof q->rows[0], by_key);
    if ((rc = query_window(rd, events_sql, sql, sizeof sql, o, until, err)))
        goto out;
    while ((step = allot_ledger_reader_next(rd, err)) == 1) {
        const char *subject = allot_ledger_reader_text(rd, 0);
        /* a category may be promoted on verdicts from before the window */
        q->total.promotions += allot_ledger_reader_int64(rd, 1);
        q->total.demotions += allot_ledger_reader_int64(rd, 2);
        for (i = 0; i < q->n && strcmp(q->rows[i].key, subject); i++)
            ;
        if (i == q->n)
            continue;
        q->rows[i].promotions = allot_ledger_reader_int64(rd, 1);
        q->rows[i].demotions = allot_ledger_reader_int64(rd, 2);
    }
    if (step < 0) {
        rc = step;
        goto out;
    }
    for (i = 0; i < q->n; i++)
        qrow_add(&q->total, &q->rows[i]);
out:
    return rc;
}

static int tier_rank(const char *t)
{
    static const char *order[] = {"judgment", "labour", "code"};
    int i;
    for (i = 0; i < 3; i++)
        if (strcmp(t, order[i]) == 0)
            return i;
    return *t ? 3 : 4;
}

static int by_tier(const void *a, const void *b)
{
    const struct group *x = a, *y = b;
    int rx = tier_rank(x->key), ry = tier_rank(y->key);
    return rx != ry ? (rx < ry ? -1 : 1) : strcmp(x->key, y->key);
}

/* Most requests first; ties by name so the order is stable, "" last. */
static int by_requests(const void *a, const void *b)
{
    const struct group *x = a, *y = b;
    if (x->requests != y->requests)
        return x->requests > y->requests ? -1 : 1;
    if (!*x->key || !*y->key)
        return (int)!*x->key - (int)!*y->key;
    return strcmp(x->key, y->key);
}

static double pct(double part, double whole)
{
    return whole > 0 ? 100.0 * part / whole : 0.0;
}

/* ---- JSON ---- */

static void json_group(struct writer *w, const struct group *g, const char *name,
                       int64_t total_requests)
{
    double saving = g->counterfactual_usd - g->cost_usd;

    put(w, "{");
    if (name) {
        put_json_str(w, name);
        put(w, ":");
        put_json_str(w, g->key);
        put(w, ",");
    }
    put(w,
        "\"requests\":%" PRId64 ",\"ok\":%" PRId64 ",\"failed\":%" PRId64
        ",\"client_closed\":%" PRId64 ",\"rejected\":%" PRId64 ",",
        g->requests, g->ok, g->failed, g->client_closed, g->rejected);
    if (name) {
        put(w, "\"share_pct\":");
        put_json_num(w, pct((double)g->requests, (double)total_requests));
        put(w, ",");
    }
    put(w,
        "\"prompt_tokens\":%" PRId64 ",\"cached_tokens\":%" PRId64
        ",\"cache_write_tokens\":%" PRId64 ",\"completion_tokens\":%" PRId64
        ",\"estimated_rows\":%" PRId64 ",\"cost_usd\":",
        g->prompt_tokens, g->cached_tokens, g->cache_write_tokens, g->completion_tokens,
        g->estimated_rows);
    put_json_num(w, g->cost_usd);
    put(w, ",\"counterfactual_usd\":");
    put_json_num(w, g->counterfactual_usd);
    put(w, ",\"saving_usd\":");
    put_json_num(w, saving);
    put(w, ",\"saving_pct\":");
    if (g->counterfactual_usd > 0)
        put_json_num(w, pct(saving, g->counterfactual_usd));
    else
        put(w, "null");
    put(w, ",\"p50_latency_ms\":");
    if (g->p50_latency_ms >= 0)
        put_json_num(w, g->p50_latency_ms);
    else
        put(w, "null");
    put(w, "}");
}

static void json_qrow(struct writer *w, const struct qrow *r, int with_key)
{
    put(w, "{");
    if (with_key) {
        put(w, "\"category\":");
        put_json_str(w, r->key);
        put(w, ",");
    }
    put(w, "\"checked\":%" PRId64 ",\"passed\":%" PRId64 ",\"pass_rate\":", r->checked, r->passed);
    if (r->checked)
        put_json_num(w, (double)r->passed / (double)r->checked);
    else
        put(w, "null");
    put(w, ",\"escalated\":%" PRId64 ",\"escalation_usd\":", r->escalated);
    put_json_num(w, r->escalation_usd);
    put(w,
        ",\"audits\":%" PRId64 ",\"audit_pass\":%" PRId64 ",\"audit_fail\":%" PRId64
        ",\"audit_usd\":",
        r->audits, r->audit_pass, r->audit_fail);
    put_json_num(w, r->audit_usd);
    put(w,
        ",\"promoted_requests\":%" PRId64 ",\"probe_requests\":%" PRId64 ",\"promotions\":%" PRId64
        ",\"demotions\":%" PRId64 ",\"net_saving_usd\":",
        r->promoted, r->probes, r->promotions, r->demotions);
    put_json_num(w, r->saving_usd - r->audit_usd);
    put(w, "}");
}

static void emit_json(struct writer *w, const char *path, const char *client, int64_t since,
                      int64_t until, const struct group *t, const struct dimension *dims,
                      size_t n_dims, const struct quality *q)
{
    size_t i, j;

    put(w, "{\"ledger\":");
    put_json_str(w, path);
    put(w, ",\"client\":");
    if (client)
        put_json_str(w, client);
    else
        put(w, "null");
    put(w, ",\"window\":{\"since_ms\":%" PRId64 ",\"until_ms\":%" PRId64 "},\"totals\":", since,
        until);
    json_group(w, t, NULL, t->requests);
    for (i = 0; i < n_dims; i++) {
        put(w, ",\"%s\":[", dims[i].json);
        for (j = 0; j < dims[i].n; j++) {
            if (j)
                put(w, ",");
            json_group(w, &dims[i].groups[j], dims[i].name, t->requests);
        }
        put(w, "]");
    }
    put(w, ",\"quality\":");
    if (!q->present) {
        put(w, "null");
    } else {
        put(w, "{\"totals\":");
        json_qrow(w, &q->total, 0);
        put(w, ",\"net_saving_usd\":");
        put_json_num(w, t->counterfactual_usd - t->cost_usd - q->total.audit_usd);
        put(w, ",\"by_category\":[");
        for (i = 0; i < q->n; i++) {
            if (i)
                put(w, ",");
            json_qrow(w, &q->rows[i], 1);
        }
        put(w, "]}");
    }
    put(w, "}\n");
}

/* ---- table ---- */

/* 45210 -> "45,210". */
static const char *fmt_count(char *buf, size_t size, int64_t v)
{
    char digits[32];
    size_t n, i, o = 0;
    int neg = v < 0;
    uint64_t u = neg ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;

    n = (size_t)snprintf(digits, sizeof digits, "%" PRIu64, u);
    if (neg && o + 1 < size)
        buf[o++] = '-';
    for (i = 0; i < n && o + 2 < size; i++) {
        if (i && (n - i) % 3 == 0)
            buf[o++] = ',';
        buf[o++] = digits[i];
    }
    buf[o] = '\0';
    return buf;
}

/* "$0.1234"; six decimals below a cent so small spends do not show as 0. */
static const char *fmt_usd(char *buf, size_t size, double v)
{
    double a = fabs(v);
    const char *sign = v < 0 ? "-" : "";
    if (!isfinite(v))
        snprintf(buf, size, "?");
    else if (a > 0 && a < 0.01)
        snprintf(buf, size, "%s$%.6f", sign, a);
    else
        snprintf(buf, size, "%s$%.4f", sign, a);
    return buf;
}

/* "2026-11-29 10:00"; seconds only when the time has some. */
static const char *fmt_time(char *buf, size_t size, int64_t ms)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    if (!gmtime_r(&t, &tm) ||
        !strftime(buf, size, ms % 60000 ? "%Y-%m-%d %H:%M:%S" : "%Y-%m-%d %H:%M", &tm))
        snprintf(buf, size, "%" PRId64 " ms", ms);
    return buf;
}

/* A group name for the table: "(none)" for "", control bytes shown as '?',
 * long names cut, so a stray value cannot wreck the terminal or layout. */
#define KEY_MAX 40
static const char *fmt_key(char *buf, size_t size, const char *key)
{
    size_t i;
    if (!*key)
        key = "(none)";
    for (i = 0; key[i] && i < KEY_MAX && i + 1 < size; i++) {
        unsigned char c = (unsigned char)key[i];
        buf[i] = c < 0x20 || c == 0x7f ? '?' : (char)c;
    }
    buf[i] = '\0';
    return buf;
}

static void table_dimension(struct writer *w, const struct dimension *d, int64_t total)
{
    char key[KEY_MAX + 1], in[32], out[32], spend[32], cf[32], saved[32];
    int width = 12;
    size_t i;

    for (i = 0; i < d->n; i++) {
        int n = (int)strlen(fmt_key(key, sizeof key, d->groups[i].key)) + 2;
        if (n > width)
            width = n;
    }
    put(w, "\n%-*s%9s%8s%13s%12s%12s%15s%12s%9s\n", width, d->title, "requests", "share",
        "tokens in", "tokens out", "spend", "judgment-cost", "saved", "p50 ms");
    for (i = 0; i < d->n; i++) {
        const struct group *g = &d->groups[i];
        put(w, "%-*s%9" PRId64 "%7.1f%%%13s%12s%12s%15s%12s", width,
            fmt_key(key, sizeof key, g->key), g->requests, pct((double)g->requests, (double)total),
            fmt_count(in, sizeof in, g->prompt_tokens),
            fmt_count(out, sizeof out, g->completion_tokens),
            fmt_usd(spend, sizeof spend, g->cost_usd),
            fmt_usd(cf, sizeof cf, g->counterfactual_usd),
            fmt_usd(saved, sizeof saved, g->counterfactual_usd - g->cost_usd));
        if (g->p50_latency_ms >= 0)
            put(w, "%9.0f\n", g->p50_latency_ms);
        else
            put(w, "%9s\n", "-");
    }
}

static void table_quality(struct writer *w, const struct quality *q)
{
    char esc[32], aud[32], net[32], rate[16], arate[16];
    size_t i;

    if (!q->present) {
        put(w, "\nquality: not recorded in this ledger (schema v%d; allot records it from v3)\n",
            q->version);
        return;
    }
    if (!q->total.checked && !q->total.audits && !q->total.escalated)
        return;
    put(w, "\n%-12s%9s%7s%10s%12s%8s%7s%12s%10s%12s\n", "quality", "checked", "pass", "escalated",
        "rework", "audits", "pass", "audit cost", "promoted", "net saved");
    for (i = 0; i <= q->n; i++) {
        const struct qrow *r = i < q->n ? &q->rows[i] : &q->total;
        if (i < q->n && !r->checked && !r->audits && !r->escalated && !r->promoted)
            continue;
        if (r->checked)
            snprintf(rate, sizeof rate, "%.0f%%", 100.0 * (double)r->passed / (double)r->checked);
        else
            snprintf(rate, sizeof rate, "-");
        if (r->audit_pass + r->audit_fail)
            snprintf(arate, sizeof arate, "%.0f%%",
                     100.0 * (double)r->audit_pass / (double)(r->audit_pass + r->audit_fail));
        else
            snprintf(arate, sizeof arate, "-");
        put(w, "%-12s%9" PRId64 "%7s%10" PRId64 "%12s%8" PRId64 "%7s%12s%10" PRId64 "%12s\n",
            i < q->n ? (r->key[0] ? r->key : "(none)") : "total", r->checked, rate, r->escalated,
            fmt_usd(esc, sizeof esc, r->escalation_usd), r->audits, arate,
            fmt_usd(aud, sizeof aud, r->audit_usd), r->promoted,
            fmt_usd(net, sizeof net, r->saving_usd - r->audit_usd));
    }
}

static void emit_table(struct writer *w, const char *path, const char *client, int64_t since,
                       int64_t until, const struct group *t, const struct dimension *dims,
                       size_t n_dims, const struct quality *q)
{
    char a[64], b[64], c[32];
    double saving = t->counterfactual_usd - t->cost_usd;
    size_t i;

    put(w, "allot report \xE2\x80\x94 %s to %s UTC (ledger %s%s%s)\n",
        since ? fmt_time(a, sizeof a, since) : "the beginning", fmt_time(b, sizeof b, until), path,
        client ? ", client " : "", client ? client : "");
    if (t->requests == 0) {
        put(w, "no requests in this window\n");
        return;
    }
    put(w, "requests %s (%" PRId64 " ok, %" PRId64 " failed", fmt_count(a, sizeof a, t->requests),
        t->ok, t->failed);
    if (t->client_closed)
        put(w, ", %" PRId64 " client closed", t->client_closed);
    if (t->rejected)
        put(w, ", %" PRId64 " rejected", t->rejected);
    put(w, ")   tokens %s in", fmt_count(a, sizeof a, t->prompt_tokens));
    if (t->cached_tokens || t->cache_write_tokens) /* prompt caching: billed apart */
        put(w, " (%s from cache, %s written to it)", fmt_count(a, sizeof a, t->cached_tokens),
            fmt_count(b, sizeof b, t->cache_write_tokens));
    put(w, " / %s out", fmt_count(b, sizeof b, t->completion_tokens));
    if (t->estimated_rows)
        put(w, " (%" PRId64 " request%s estimated)", t->estimated_rows,
            t->estimated_rows == 1 ? "" : "s");
    put(w, "\nspend %s   if all on judgment %s   saved %s", fmt_usd(a, sizeof a, t->cost_usd),
        fmt_usd(b, sizeof b, t->counterfactual_usd), fmt_usd(c, sizeof c, saving));
    if (t->counterfactual_usd > 0)
        put(w, " (%.1f%%)", pct(saving, t->counterfactual_usd));
    if (q->present && (q->total.escalation_usd > 0 || q->total.audits)) {
        put(w, "\n  after rework %s (included in spend) and %" PRId64 " audit%s %s: net saved %s",
            fmt_usd(a, sizeof a, q->total.escalation_usd), q->total.audits,
            q->total.audits == 1 ? "" : "s", fmt_usd(b, sizeof b, q->total.audit_usd),
            fmt_usd(c, sizeof c, saving - q->total.audit_usd));
        if (t->counterfactual_usd > 0)
            put(w, " (%.1f%%)", pct(saving - q->total.audit_usd, t->counterfactual_usd));
    }
    put(w, "\n");
    for (i = 0; i < n_dims; i++) {
        /* by client only when the ledger knows clients (auth.keys) */
        if (!strcmp(dims[i].name, "client") &&
            (dims[i].n == 0 || (dims[i].n == 1 && dims[i].groups[0].key[0] == '\0')))
            continue;
        table_dimension(w, &dims[i], t->requests);
    }
    table_quality(w, q);
}

int allot_report_run(const char *store, const struct allot_report_opts *opts, struct allot_buf *out,
                     struct allot_buf *err)
{
    struct dimension totals = {"''", NULL, NULL, NULL, NULL, 0, 0};
    struct dimension dims[] = {
        {"tier", "tier", "by_tier", "by tier", NULL, 0, 0},
        {"category", "category", "by_category", "by category", NULL, 0, 0},
        {"model", "model", "by_model", "by model", NULL, 0, 0},
        {"client", "client", "by_client", "by client", NULL, 0, 0}, /* schema v5 */
    };
    const size_t n_dims = sizeof dims / sizeof dims[0];
    struct writer w = {out, 0};
    struct quality *q = calloc(1, sizeof *q);
    struct allot_ledger_reader *rd = NULL;
    int64_t until;
    size_t i, mark = out->len;
    int rc;

    if (!q) {
        rc = ALLOT_ENOMEM;
        goto out;
    }
    until = opts->until_ms ? opts->until_ms : allot_clock_wall_ms();
    if (opts->since_ms >= until) {
        if (err)
            allot_buf_addf(
                err, "report window: since (%" PRId64 " ms) is not before until (%" PRId64 " ms)",
                opts->since_ms, until);
        rc = ALLOT_EINVAL;
        goto out;
    }
    if (opts->client && !client_name_ok(opts->client)) {
        if (err)
            allot_buf_addf(err, "report: client: expected the name of a client key (auth.keys), "
                                "1 to 128 bytes without spaces");
        rc = ALLOT_EINVAL;
        goto out;
    }
    /* One snapshot: the totals agree with the groups while the gateway
     * keeps writing. */
    if ((rc = allot_ledger_reader_open(store, &rd, err)) ||
        (rc = allot_ledger_reader_version(rd, &q->version, err)))
        goto out;
    if (opts->client && q->version < 5) {
        if (err)
            allot_buf_addf(err,
                           "ledger '%s': no client column (schema version %d; allot records "
                           "clients from version 5)",
                           allot_ledger_reader_name(rd), q->version);
        rc = ALLOT_EINVAL;
        goto out;
    }
    if ((rc = load_dimension(rd, opts, until, q->version, &totals, err)))
        goto out;
    if (q->version < 5) /* no client column: every row is "" */
        dims[n_dims - 1].column = "''";
    for (i = 0; i < n_dims; i++)
        if ((rc = load_dimension(rd, opts, until, q->version, &dims[i], err)))
            goto out;
    if ((rc = load_quality(rd, opts, until, q, err)))
        goto out;
    for (i = 0; i < n_dims; i++)
        if (dims[i].n > 1) /* qsort may not be given NULL */
            qsort(dims[i].groups, dims[i].n, sizeof *dims[i].groups,
                  i == 0 ? by_tier : by_requests);

    if (opts->json)
        emit_json(&w, allot_ledger_reader_name(rd), opts->client, opts->since_ms, until,
                  &totals.groups[0], dims, n_dims, q);
    else
        emit_table(&w, allot_ledger_reader_name(rd), opts->client, opts->since_ms, until,
                   &totals.groups[0], dims, n_dims, q);
    if ((rc = w.rc)) {
        if (err)
            allot_buf_addf(err, "report of ledger '%s': output: %s", allot_ledger_reader_name(rd),
                           allot_strerror(rc));
        /* no half report */
        out->len = mark;
        if (out->ptr)
            out->ptr[mark] = '\0';
    }
out:
    allot_ledger_reader_close(rd);
    release_dimension(&totals);
    for (i = 0; i < n_dims; i++)
        release_dimension(&dims[i]);
    free(q);
    return rc;
}
