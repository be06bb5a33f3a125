/* budget.c: today's spend per client key against its daily budget
 * (budget.h). Amounts are nano-USD integers, so concurrent adds are exact. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "allot/budget.h"
#include "allot/clients.h"
#include "allot/cost.h"
#include "allot/error.h"
#include "allot/ledger_reader.h"
#include "allot/metrics.h"

#define DAY_MS 86400000LL
#define LOAD(p) __atomic_load_n((p), __ATOMIC_RELAXED)

struct allot_budgets {
    const struct allot_clients *clients;    /* the limits, by slot */
    int64_t day;                            /* UTC day (ms / DAY_MS) the counters are for */
    uint64_t spent[ALLOT_MAX_CLIENT_SLOTS]; /* by slot, nano-USD today */
};

int allot_budgets_new(const struct allot_clients *clients, struct allot_budgets **out)
{
    struct allot_budgets *b = calloc(1, sizeof *b);

    *out = b;
    if (!b)
        return ALLOT_ENOMEM;
    b->clients = clients;
    return 0;
}

void allot_budgets_free(struct allot_budgets *b)
{
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
        for (i = 0; i < ALLOT_MAX_CLIENT_SLOTS; i++)
            __atomic_store_n(&b->spent[i], 0, __ATOMIC_RELAXED);
}

int allot_budgets_seed(struct allot_budgets *b, const char *store, size_t first, int64_t now_ms,
                       struct allot_buf *err)
{
    struct allot_ledger_reader *rd = NULL;
    char sql[256];
    int64_t start = now_ms / DAY_MS * DAY_MS;
    int rc, version = 0, r;
    size_t i, n = allot_clients_count(b->clients);

    roll(b, now_ms);
    if (first >= n)
        return 0; /* no slot to seed: no need to read */
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
        for (i = first; i < n; i++)
            if (!strcmp(allot_clients_name(b->clients, (int)i), name))
                __atomic_fetch_add(&b->spent[i], allot_cost_nusd(allot_ledger_reader_double(rd, 1)),
                                   __ATOMIC_RELAXED);
    }
    rc = r < 0 ? r : 0;
out:
    allot_ledger_reader_close(rd);
    return rc;
}

int allot_budgets_allows(struct allot_budgets *b, int client, int64_t now_ms, double *spent,
                         double *limit)
{
    uint64_t s, l;

    *spent = 0;
    *limit = -1;
    if (!b || (l = allot_clients_budget_nusd(b->clients, client)) == UINT64_MAX)
        return 1;
    roll(b, now_ms);
    s = LOAD(&b->spent[client]);
    *spent = (double)s / 1e9;
    *limit = (double)l / 1e9;
    return s < l;
}

void allot_budgets_add(struct allot_budgets *b, int client, int64_t now_ms, double usd)
{
    if (!b || client < 0 || (size_t)client >= allot_clients_count(b->clients))
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
    size_t i, n = b ? allot_clients_count(b->clients) : 0;
    int rc = 0, any = 0, g;

    for (i = 0; i < n; i++)
        any |= allot_clients_budget_nusd(b->clients, (int)i) != UINT64_MAX;
    if (!any)
        return 0;
    roll(b, now_ms);
    for (g = 0; g < 2 && !rc; g++) {
        rc = allot_buf_addf(out, "# HELP %s %s\n# TYPE %s gauge\n", names[g], help[g], names[g]);
        for (i = 0; i < n && !rc; i++) {
            uint64_t l = allot_clients_budget_nusd(b->clients, (int)i);
            uint64_t v = g ? LOAD(&b->spent[i]) : l;
            if (l == UINT64_MAX)
                continue;
            rc = allot_buf_addf(out, "%s{", names[g]);
            rc = rc ? rc
                    : allot_metrics_add_label(out, "client", allot_clients_name(b->clients, (int)i),
                                              1);
            rc = rc ? rc : allot_buf_addf(out, "} %.9f\n", (double)v / 1e9);
        }
    }
    return rc;
}
