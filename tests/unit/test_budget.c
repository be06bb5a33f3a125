/* test_budget.c: daily budgets of client keys (budget.h): refused once
 * spent, a new UTC day starts again, seeded from the ledger at start. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "allot/budget.h"
#include "allot/buf.h"
#include "allot/clients.h"
#include "allot/config.h"
#include "allot/error.h"
#include "allot/ledger.h"
#include "min_config.h"
#include "test.h"
#include "tmpdir.h"

#define DAY 86400000LL
#define T0 (20000 * DAY + 3600000LL) /* 01:00 UTC of a day */

static const char keys[] = "auth:\n"
                           "  keys:\n"
                           "    - {name: capped, key: sk-test-capped-0001, daily_budget_usd: 0.5}\n"
                           "    - {name: free, key: sk-test-free-000001}\n"
                           "    - {name: zero, key: sk-test-zero-000001, daily_budget_usd: 0}\n";

TEST(budget_refuses_once_spent_and_starts_again_the_next_day)
{
    struct allot_config *c;
    struct allot_budgets *b;
    struct allot_clients *k;
    double spent, limit;

    struct tmpdir t;
    struct allot_ledger *l = NULL;

    ASSERT_INT_EQ(tmpdir_make(&t, "budget"), 0);
    ASSERT_INT_EQ(allot_ledger_open(t.path, 5, &l, NULL), 0); /* an empty ledger */
    allot_ledger_close(l);
    ASSERT_INT_EQ(min_config_load(keys, &c), 0);
    ASSERT(c->client_keys[0].has_budget && !c->client_keys[1].has_budget);
    ASSERT(c->client_keys[2].has_budget);
    ASSERT_INT_EQ(allot_clients_new(c, &k), 0);
    ASSERT_INT_EQ(allot_budgets_new(k, &b), 0);
    ASSERT_INT_EQ(allot_budgets_seed(b, t.path, 0, T0, NULL), 0);

    ASSERT_INT_EQ(allot_budgets_allows(b, 0, T0, &spent, &limit), 1);
    ASSERT_DBL_NEAR(limit, 0.5, 1e-12);
    ASSERT_DBL_NEAR(spent, 0, 0);
    allot_budgets_add(b, 0, T0, 0.3);
    ASSERT_INT_EQ(allot_budgets_allows(b, 0, T0 + 1000, &spent, &limit), 1);
    ASSERT_DBL_NEAR(spent, 0.3, 1e-9);
    allot_budgets_add(b, 0, T0 + 2000, 0.2); /* exactly the budget: spent */
    ASSERT_INT_EQ(allot_budgets_allows(b, 0, T0 + 3000, &spent, &limit), 0);
    ASSERT_DBL_NEAR(spent, 0.5, 1e-9);
    /* the next UTC day starts from nothing */
    ASSERT_INT_EQ(allot_budgets_allows(b, 0, T0 + DAY, &spent, &limit), 1);
    ASSERT_DBL_NEAR(spent, 0, 0);

    /* no budget: never refused, no limit reported; a budget of 0: always refused */
    allot_budgets_add(b, 1, T0, 1e6);
    ASSERT_INT_EQ(allot_budgets_allows(b, 1, T0, &spent, &limit), 1);
    ASSERT_DBL_NEAR(limit, -1, 0);
    ASSERT_INT_EQ(allot_budgets_allows(b, 2, T0, &spent, &limit), 0);
    /* no client (auth off) or a bad index: allowed */
    ASSERT_INT_EQ(allot_budgets_allows(b, -1, T0, &spent, &limit), 1);
    ASSERT_INT_EQ(allot_budgets_allows(b, 99, T0, &spent, &limit), 1);
    ASSERT_INT_EQ(allot_budgets_allows(NULL, 0, T0, &spent, &limit), 1);
    {
        /* /metrics: the budgeted keys only, today's spend */
        struct allot_buf m;
        allot_buf_init(&m, 1 << 16);
        allot_budgets_add(b, 0, T0 + DAY, 0.125);
        ASSERT_INT_EQ(allot_budgets_render(b, T0 + DAY, &m), 0);
        ASSERT_STR_CONTAINS(allot_buf_cstr(&m), "# TYPE allot_client_budget_usd gauge\n"
                                                "allot_client_budget_usd{client=\"capped\"} "
                                                "0.500000000\n"
                                                "allot_client_budget_usd{client=\"zero\"} "
                                                "0.000000000\n");
        ASSERT_STR_CONTAINS(allot_buf_cstr(&m),
                            "allot_client_budget_spent_usd{client=\"capped\"} 0.125000000\n");
        ASSERT(!strstr(allot_buf_cstr(&m), "free"));
        allot_buf_release(&m);
    }
    allot_budgets_free(b);
    allot_clients_free(k);
    allot_config_free(c);
    tmpdir_remove(&t);
}

TEST(budget_config_bounds)
{
    struct allot_config *c = NULL;
    struct allot_buf err;
    const char *y = "providers: [{name: p, base_url: http://127.0.0.1:9/v1}]\n"
                    "models: [{name: m, provider: p}]\n"
                    "tiers: {judgment: [m], labour: [m], code: [m]}\n"
                    "auth: {keys: [{name: a, key: sk-test-aaaaaaaaaa, daily_budget_usd: -1}]}\n";

    allot_buf_init(&err, 4096);
    ASSERT_INT_EQ(allot_config_load_mem("t.yaml", y, strlen(y), &c, &err), ALLOT_ECONFIG);
    ASSERT_STR_CONTAINS(allot_buf_cstr(&err), "t.yaml:4: key 'auth.keys[0].daily_budget_usd': "
                                              "expected a number between 0 and 1000000000");
    allot_buf_release(&err);
}

/* Today's spend in the ledger counts at start; yesterday's and other
 * clients' do not. */
TEST(budget_seeded_from_the_ledger)
{
    struct tmpdir t;
    struct allot_config *c;
    struct allot_budgets *b;
    struct allot_clients *k;
    struct allot_ledger *l = NULL;
    struct allot_ledger_entry e;
    struct allot_buf err;
    double spent, limit;
    static const struct {
        const char *client;
        int64_t ts;
        double cost;
    } rows[] = {{"capped", T0 - 2 * 3600000LL, 9.0}, /* yesterday, 23:00 */
                {"capped", T0 - 1000, 0.25},
                {"capped", T0 + 5000, 0.2},
                {"free", T0, 5.0},
                {"", T0, 7.0}};
    size_t i;

    ASSERT_INT_EQ(tmpdir_make(&t, "budget"), 0);
    allot_buf_init(&err, 4096);
    ASSERT_INT_EQ(allot_ledger_open(t.path, 5, &l, &err), 0);
    for (i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        memset(&e, 0, sizeof e);
        snprintf(e.id, sizeof e.id, "req_b_%zu", i);
        snprintf(e.client, sizeof e.client, "%s", rows[i].client);
        e.ts_ms = rows[i].ts;
        e.cost_usd = rows[i].cost;
        ASSERT_INT_EQ(allot_ledger_append(l, &e), 0);
    }
    ASSERT_INT_EQ(allot_ledger_close(l), 0);

    ASSERT_INT_EQ(min_config_load(keys, &c), 0);
    ASSERT_INT_EQ(allot_clients_new(c, &k), 0);
    ASSERT_INT_EQ(allot_budgets_new(k, &b), 0);
    ASSERT_INT_EQ(allot_budgets_seed(b, t.path, 0, T0 + 10000, &err), 0);
    ASSERT_INT_EQ(allot_budgets_allows(b, 0, T0 + 10000, &spent, &limit), 1);
    ASSERT_DBL_NEAR(spent, 0.45, 1e-9);
    allot_budgets_add(b, 0, T0 + 20000, 0.05);
    ASSERT_INT_EQ(allot_budgets_allows(b, 0, T0 + 30000, &spent, &limit), 0);
    allot_budgets_free(b);
    allot_clients_free(k);
    allot_config_free(c);
    allot_buf_release(&err);
    tmpdir_remove(&t);
}
