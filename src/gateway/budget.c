/* budget.c: today's spend per client key against its daily budget
 * (budget.h). Amounts are nano-USD integers, so concurrent adds are exact. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "allot/budget.h"
#include "allot/cost.h"
#include "allot/error.h"
#include "allot/ledger_reader.h"
#include "allot/metrics.h"

#define DAY_MS 86400000LL
#define LOAD(p) __atomic_load_n((p), __ATOMIC_RELAXED)

struct allot_budgets {
    const struct allot_config *cfg;
    int64_t day;     /* UTC day (ms / DAY_MS) the counters are for */
    uint64_t *spent; /* [n_client_keys], nano-USD today */
    uint64_t *limit; /* [n_client_keys], nano-USD; UINT64_MAX: none */
};

int allot_budgets_new(const struct allot_config *cfg, struct allot_budgets **out)
{
    struct allot_budgets *b = calloc(1, sizeof *b);
    size_t i, n = cfg->n_client_keys;

    *out = NULL;
    if (!b)
        return ALLOT_ENOMEM;
    b->cfg = cfg;
    b->spent = calloc(n ? n : 1, sizeof *b->spent);
    b->limit = calloc(n ? n : 1, sizeof *b->limit);
    if (!b->spent || !b->limit) {
        allot_budgets_free(b);
        return ALLOT_ENOMEM;
    }
    for (i = 0; i < n; i++)
        b->limit[i] = cfg->client_keys[i].has_budget
                          ? allot_cost_nusd(cfg->client_keys[i].daily_budget_usd)
                          : UINT64_MAX;
    *out = b;
    return 0;
}

void allot_budgets_free(struct allot_budgets *b)
{
    if (!b)
        return;
    free(b->spent);
    free(b->limit);
    free(b);
}

/* Move the counters to now's day: a new day starts them from 0. A request
 * finishing just across midnight may land on either side. */
static void roll(struct allot_budgets *b, int64_t now_ms)
{
    int64_t day = now_ms / DAY_MS, old = LOAD(&b->day);
    size_t i;

    if (day != old &&
        __atomic_compare_exchange_n(&b->day, &old, day, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
        for (i = 0; i < b->cfg->n_client_keys; i++)
            __atomic_store_n(&b->spent[i], 0, __ATOMIC_RELAXED);
}

int allot_budgets_seed(struct allot_budgets *b, const char *store, int64_t now_ms,
                       struct allot_buf *err)
{
    struct allot_ledger_reader *rd = NULL;
    char sql[256];
    int64_t start = now_ms / DAY_MS * DAY_MS;
    int rc, version = 0, any = 0, r;
    size_t i;

    b->day = now_ms / DAY_MS;
    for (i = 0; i < b->cfg->n_client_keys; i++)
        any |= b->limit[i] != UINT64_MAX;
    if (!any)
        return 0; /* nothing to enforce: no need to read */
    if ((rc = allot_ledger_reader_open(store, &rd, err)) ||
        (rc = allot_ledger_reader_version(rd, &version, err)))
        goto out;
    if (version < 5) /* no client column yet: nothing spent by a key */
        goto out;
    snprintf(sql, sizeof sql,
             "SELECT client, COALESCE(SUM(cost_usd), 0) FROM requests WHERE ts_ms >= %lld "
             "AND client <> '' GROUP BY client",
             (long long)start);
    if ((rc = allot_ledger_reader_query(rd, sql, err)))
        goto out;
    while ((r = allot_ledger_reader_next(rd, err)) == 1) {
        const char *name = allot_ledger_reader_text(rd, 0);
        for (i = 0; i < b->cfg->n_client_keys; i++)
            if (!strcmp(b->cfg->client_keys[i].name, name))
                b->spent[i] += allot_cost_nusd(allot_ledger_reader_double(rd, 1));
    }
    rc = r < 0 ? r : 0;
out:
    allot_ledger_reader_close(rd);
    return rc;
}

int allot_budgets_allows(struct allot_budgets *b, int client, int64_t now_ms, double *spent,
                         double *limit)
{
    uint64_t s;

    *spent = 0;
    *limit = -1;
    if (!b || client < 0 || (size_t)client >= b->cfg->n_client_keys ||
        b->limit[client] == UINT64_MAX)
        return 1;
    roll(b, now_ms);
    s = LOAD(&b->spent[client]);
    *spent = (double)s / 1e9;
    *limit = (double)b->limit[client] / 1e9;
    return s < b->limit[client];
}

void allot_budgets_add(struct allot_budgets *b, int client, int64_t now_ms, double usd)
{
    if (!b || client < 0 || (size_t)client >= b->cfg->n_client_keys)
        return;
    roll(b, now_ms);
    __atomic_fetch_add(&b->spent[client], allot_cost_nusd(usd), __ATOMIC_RELAXED);
}

int allot_budgets_render(struct allot_budgets *b, int64_t now_ms, struct allot_buf *out)
{
    static const char *const names[2] = {"allot_client_budget_usd",
                                         "allot_client_budget_spent_usd"};
    static const char *const help[2] = {
        "Daily budget of a client key (auth.keys[].daily_budget_usd).",
        "What a client key has spent of its budget today (UTC)."};
    size_t i, n = b ? b->cfg->n_client_keys : 0;
    int rc = 0, any = 0, g;

    for (i = 0; i < n; i++)
        any |= b->limit[i] != UINT64_MAX;
    if (!any)
        return 0;
    roll(b, now_ms);
    for (g = 0; g < 2 && !rc; g++) {
        rc = allot_buf_addf(out, "# HELP %s %s\n# TYPE %s gauge\n", names[g], help[g], names[g]);
        for (i = 0; i < n && !rc; i++) {
            uint64_t v = g ? LOAD(&b->spent[i]) : b->limit[i];
            if (b->limit[i] == UINT64_MAX)
                continue;
            rc = allot_buf_addf(out, "%s{", names[g]);
            rc = rc ? rc : allot_metrics_add_label(out, "client", b->cfg->client_keys[i].name, 1);
            rc = rc ? rc : allot_buf_addf(out, "} %.9f\n", (double)v / 1e9);
        }
    }
    return rc;
}
