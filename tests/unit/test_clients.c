/* test_clients.c: client slots and their reload (clients.h): a name keeps
 * its slot and its counters across reloads, a removed key is refused at
 * once, a new one admitted, limits change in place, and a refused reload
 * changes nothing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "allot/budget.h"
#include "allot/buf.h"
#include "allot/clients.h"
#include "allot/config.h"
#include "allot/error.h"
#include "allot/ledger.h"
#include "allot/ratelimit.h"
#include "min_config.h"
#include "test.h"
#include "tmpdir.h"

#define DAY 86400000LL
#define T0 (20000 * DAY + 3600000LL)

static int who(struct allot_clients *c, const char *key)
{
    char h[128];
    int slot = -2;
    snprintf(h, sizeof h, "Bearer %s", key);
    if (allot_clients_identify(c, allot_slice_cstr(h), (struct allot_slice){NULL, 0}, &slot) !=
        ALLOT_AUTH_OK)
        return -2;
    return slot;
}

TEST(clients_reload_keeps_slots_revokes_and_admits)
{
    struct allot_config *c1 = NULL, *c2 = NULL, *c3 = NULL;
    struct allot_clients *k = NULL;
    struct allot_budgets *b = NULL;
    struct allot_ratelimits *r = NULL;
    struct allot_clients_change chg;
    struct tmpdir t;
    struct allot_ledger *l = NULL;
    struct allot_ledger_entry e;
    double spent, limit;
    uint64_t retry;
    long rl, left;
    size_t first;

    ASSERT_INT_EQ(tmpdir_make(&t, "clients"), 0);
    ASSERT_INT_EQ(allot_ledger_open(t.path, 5, &l, NULL), 0);
    memset(&e, 0, sizeof e); /* "carol" spent today before she was listed */
    snprintf(e.id, sizeof e.id, "req_c_1");
    snprintf(e.client, sizeof e.client, "carol");
    e.ts_ms = T0 - 1000;
    e.cost_usd = 0.75;
    ASSERT_INT_EQ(allot_ledger_append(l, &e), 0);
    ASSERT_INT_EQ(allot_ledger_close(l), 0);

    ASSERT_INT_EQ(
        min_config_load("auth:\n  keys:\n"
                        "    - {name: alice, key: sk-test-alice-00001, daily_budget_usd: 1}\n"
                        "    - {name: bob, key: sk-test-bob-0000001, requests_per_minute: 60}\n",
                        &c1),
        0);
    ASSERT_INT_EQ(allot_clients_new(c1, &k), 0);
    ASSERT_INT_EQ(allot_budgets_new(k, &b), 0);
    ASSERT_INT_EQ(allot_ratelimits_new(k, &r), 0);
    ASSERT_INT_EQ(allot_budgets_seed(b, t.path, 0, T0, NULL), 0);
    allot_config_free(c1); /* the registry keeps what it needs */
    ASSERT(allot_clients_required(k));
    ASSERT_INT_EQ(allot_clients_count(k), 2);
    ASSERT_INT_EQ(who(k, "sk-test-alice-00001"), 0);
    ASSERT_INT_EQ(who(k, "sk-test-bob-0000001"), 1);
    ASSERT_INT_EQ(who(k, "sk-test-carol-00001"), -2);
    ASSERT_STR_EQ(allot_clients_name(k, 1), "bob");
    allot_budgets_add(b, 0, T0, 0.6);
    ASSERT_INT_EQ(allot_ratelimits_take(r, 1, 1000000, &retry, &rl, &left), 1);
    ASSERT_INT_EQ(rl, 60);

    /* bob is revoked, carol added, alice's budget lowered */
    ASSERT_INT_EQ(
        min_config_load("auth:\n  keys:\n"
                        "    - {name: carol, key: sk-test-carol-00001, daily_budget_usd: 1}\n"
                        "    - {name: alice, key: sk-test-alice-00001, daily_budget_usd: 0.5}\n",
                        &c2),
        0);
    ASSERT_INT_EQ(allot_clients_update(k, c2, &chg, &first), 0);
    ASSERT_INT_EQ(first, 2);
    ASSERT_INT_EQ(chg.added, 1);
    ASSERT_INT_EQ(chg.removed, 1);
    ASSERT_INT_EQ(chg.changed, 1);
    ASSERT_INT_EQ(chg.listed, 2);
    ASSERT_INT_EQ(allot_budgets_seed(b, t.path, first, T0, NULL), 0);
    allot_config_free(c2);
    ASSERT_INT_EQ(allot_clients_count(k), 3);
    ASSERT_INT_EQ(who(k, "sk-test-alice-00001"), 0); /* the same slot */
    ASSERT_INT_EQ(who(k, "sk-test-bob-0000001"), -2);
    ASSERT_INT_EQ(who(k, "sk-test-carol-00001"), 2);
    ASSERT_STR_EQ(allot_clients_name(k, 1), "bob"); /* kept for its figures */
    ASSERT_STR_EQ(allot_clients_name(k, 2), "carol");
    ASSERT_STR_EQ(allot_clients_name(k, 3), "");
    /* alice's spend carried over, against the new budget */
    ASSERT_INT_EQ(allot_budgets_allows(b, 0, T0, &spent, &limit), 0);
    ASSERT_DBL_NEAR(spent, 0.6, 1e-9);
    ASSERT_DBL_NEAR(limit, 0.5, 1e-12);
    /* carol's spend today came from the ledger */
    ASSERT_INT_EQ(allot_budgets_allows(b, 2, T0, &spent, &limit), 1);
    ASSERT_DBL_NEAR(spent, 0.75, 1e-9);
    /* bob has no limits any more (and no key to use them) */
    ASSERT_INT_EQ(allot_ratelimits_take(r, 1, 1000000, &retry, &rl, &left), 1);
    ASSERT_INT_EQ(rl, 0);

    /* bob again, with a new key: his old slot, listed again */
    ASSERT_INT_EQ(min_config_load("auth:\n  keys:\n"
                                  "    - {name: bob, key: sk-test-bob-0000002}\n",
                                  &c3),
                  0);
    ASSERT_INT_EQ(allot_clients_update(k, c3, &chg, &first), 0);
    allot_config_free(c3);
    ASSERT_INT_EQ(first, 3);
    ASSERT_INT_EQ(chg.added, 1);
    ASSERT_INT_EQ(chg.removed, 2);
    ASSERT_INT_EQ(who(k, "sk-test-bob-0000002"), 1);
    ASSERT_INT_EQ(who(k, "sk-test-bob-0000001"), -2);
    ASSERT_INT_EQ(who(k, "sk-test-alice-00001"), -2);
    ASSERT_INT_EQ(allot_clients_count(k), 3);

    /* no keys at all: auth off, every request admitted as no client */
    ASSERT_INT_EQ(min_config_load("", &c3), 0);
    ASSERT_INT_EQ(allot_clients_update(k, c3, &chg, &first), 0);
    allot_config_free(c3);
    ASSERT(!allot_clients_required(k));
    ASSERT_INT_EQ(who(k, "anything-at-all-000"), -1);

    allot_ratelimits_free(r);
    allot_budgets_free(b);
    allot_clients_free(k);
    tmpdir_remove(&t);
}

/* A process holds ALLOT_MAX_CLIENT_SLOTS names since start: a reload past
 * that is refused whole, and the keys served stay as they were. */
TEST(clients_reload_past_the_slots_changes_nothing)
{
    struct allot_config *c = NULL;
    struct allot_clients *k = NULL;
    struct allot_clients_change chg;
    struct allot_buf y;
    size_t first, i;

    allot_buf_init(&y, 1 << 22);
    allot_buf_adds(&y, "auth:\n  keys:\n");
    for (i = 0; i < ALLOT_MAX_CLIENT_SLOTS; i++)
        allot_buf_addf(&y, "    - {name: a%zu, key_sha256: %064zx}\n", i, i + 1);
    i = (size_t)min_config_load(allot_buf_cstr(&y), &c);
    allot_buf_release(&y);
    ASSERT_INT_EQ(i, 0);
    ASSERT_INT_EQ(allot_clients_new(c, &k), 0);
    allot_config_free(c);
    ASSERT_INT_EQ(allot_clients_count(k), ALLOT_MAX_CLIENT_SLOTS);

    ASSERT_INT_EQ(
        min_config_load("auth:\n  keys:\n    - {name: newcomer, key: sk-test-newcomer-01}\n", &c),
        0);
    ASSERT_INT_EQ(allot_clients_update(k, c, &chg, &first), ALLOT_ETOOBIG);
    allot_config_free(c);
    ASSERT_INT_EQ(allot_clients_count(k), ALLOT_MAX_CLIENT_SLOTS);
    ASSERT(allot_clients_required(k));
    ASSERT_INT_EQ(who(k, "sk-test-newcomer-01"), -2);
    ASSERT_STR_EQ(allot_clients_name(k, 7), "a7");
    allot_clients_free(k);
}

/* auth.keys[].tiers: kept in order; routed work moves to the first tier
 * listed, a chosen tier or model outside them is refused. */
TEST(clients_keep_tiers)
{
    struct allot_config *c = NULL;
    struct allot_decision d;
    struct allot_buf y, err;
    char msg[256], list[64];
    unsigned t;

    allot_buf_init(&y, 1 << 16);
    allot_buf_init(&err, 1 << 16);
    allot_buf_adds(&y, "providers: [{name: p, base_url: http://127.0.0.1:9/v1}]\n"
                       "models: [{name: j, provider: p}, {name: l, provider: p}, "
                       "{name: k, provider: p}]\n"
                       "tiers: {judgment: [j], labour: [l], code: [k, j]}\n"
                       "auth:\n  keys:\n"
                       "    - {name: batch, key: sk-test-batch-00001, tiers: [code, labour]}\n");
    ASSERT_INT_EQ(allot_config_load_mem("t.yaml", y.ptr, y.len, &c, &err), 0);
    allot_buf_release(&y);
    allot_buf_release(&err);
    t = c->client_keys[0].tiers;
    ASSERT(allot_tier_list_has(t, ALLOT_TIER_CODE) && allot_tier_list_has(t, ALLOT_TIER_LABOUR));
    ASSERT(!allot_tier_list_has(t, ALLOT_TIER_JUDGMENT));
    ASSERT(allot_tier_list_has(0, ALLOT_TIER_JUDGMENT));
    ASSERT_INT_EQ(allot_tier_list_first(t), ALLOT_TIER_CODE);
    allot_tier_list_format(t, list, sizeof list);
    ASSERT_STR_EQ(list, "code, labour");

    /* routed to judgment: moved to code, the first listed */
    memset(&d, 0, sizeof d);
    d.source = ALLOT_SRC_CLASSIFIER;
    snprintf(d.reason, sizeof d.reason, "risk (0.91)");
    ASSERT_INT_EQ(allot_decision_use_tier(c, ALLOT_TIER_JUDGMENT, &d, NULL), 0);
    ASSERT_INT_EQ(allot_clients_keep_tiers(c, t, "batch", &d, msg, sizeof msg), 1);
    ASSERT_INT_EQ(d.tier, ALLOT_TIER_CODE);
    ASSERT_INT_EQ(d.n_models, 2);
    ASSERT_STR_EQ(d.reason, "client 'batch' is limited to code, labour, not judgment: risk (0.91)");
    /* a listed tier, or no limit: unchanged */
    ASSERT_INT_EQ(allot_clients_keep_tiers(c, t, "batch", &d, msg, sizeof msg), 0);
    ASSERT_INT_EQ(allot_decision_use_tier(c, ALLOT_TIER_JUDGMENT, &d, NULL), 0);
    ASSERT_INT_EQ(allot_clients_keep_tiers(c, 0, "batch", &d, msg, sizeof msg), 0);
    ASSERT_INT_EQ(d.tier, ALLOT_TIER_JUDGMENT);
    /* a long reason is cut, never overrun */
    memset(d.reason, 'r', sizeof d.reason - 1);
    d.reason[sizeof d.reason - 1] = '\0';
    ASSERT_INT_EQ(allot_clients_keep_tiers(c, t, "batch", &d, msg, sizeof msg), 1);
    ASSERT_INT_EQ(strlen(d.reason), sizeof d.reason - 1);
    ASSERT(!strcmp(d.reason + sizeof d.reason - 4, "..."));

    /* chosen: allot:judgment refused; model j is in code, so allowed; l too */
    ASSERT_INT_EQ(allot_decision_use_tier(c, ALLOT_TIER_JUDGMENT, &d, NULL), 0);
    d.source = ALLOT_SRC_TIER;
    ASSERT_INT_EQ(allot_clients_keep_tiers(c, t, "batch", &d, msg, sizeof msg), ALLOT_EPERM);
    ASSERT_STR_EQ(msg, "client 'batch' may not use the tier 'judgment': it may use code, labour "
                       "(auth.keys[].tiers)");
    d.source = ALLOT_SRC_MODEL;
    d.models[0] = &c->models[0]; /* j */
    d.n_models = 1;
    ASSERT_INT_EQ(allot_clients_keep_tiers(c, t, "batch", &d, msg, sizeof msg), 0);
    ASSERT_INT_EQ(allot_clients_keep_tiers(c, 1u << 0 /* judgment+1 = 1: judgment only */, "b", &d,
                                           msg, sizeof msg),
                  0);
    d.models[0] = &c->models[1]; /* l */
    ASSERT_INT_EQ(allot_clients_keep_tiers(c, 1u, "b", &d, msg, sizeof msg), ALLOT_EPERM);
    ASSERT_STR_CONTAINS(msg, "client 'b' may not use model 'l'");
    allot_config_free(c);
}

TEST(clients_tiers_config_errors)
{
    static const struct {
        const char *tiers, *msg;
    } cases[] = {
        {"[labour, premium]", "t.yaml:6: key 'auth.keys[0].tiers[1]': expected a tier (judgment, "
                              "labour, code), got \"premium\""},
        {"[code, code]", "key 'auth.keys[0].tiers[1]': tier 'code' is listed twice"},
        {"[]", "key 'auth.keys[0].tiers': expected a list of tiers (judgment, labour, code)"},
        {"labour", "key 'auth.keys[0].tiers': expected a list of tiers"},
        {"[code]", "key 'auth.keys[0].tiers': tier 'code' lists no models (tiers.code)"},
    };
    size_t i;

    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct allot_config *c = NULL;
        struct allot_buf y, err;
        int rc, found;
        allot_buf_init(&y, 1 << 16);
        allot_buf_init(&err, 1 << 16);
        allot_buf_addf(&y,
                       "providers: [{name: p, base_url: http://127.0.0.1:9/v1}]\n"
                       "models: [{name: m, provider: p}]\n"
                       "tiers: {judgment: [m], labour: [m], code: []}\n"
                       "auth:\n  keys:\n    - {name: a, key: sk-test-aaaaaaaaaa, tiers: %s}\n"
                       "routing: {categories: {implement: judgment}}\n",
                       cases[i].tiers);
        rc = allot_config_load_mem("t.yaml", y.ptr, y.len, &c, &err);
        allot_buf_release(&y);
        found = strstr(allot_buf_cstr(&err), cases[i].msg) != NULL;
        if (rc != ALLOT_ECONFIG || !found)
            fprintf(stderr, "  case %zu: rc %d, %s\n", i, rc, allot_buf_cstr(&err));
        allot_buf_release(&err);
        allot_config_free(c);
        ASSERT_INT_EQ(rc, ALLOT_ECONFIG);
        ASSERT(found);
    }
}
