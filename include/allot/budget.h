/* budget.h: daily spending limits of client keys (auth.keys[].daily_budget_usd).
 *
 * DESIGN: one counter of today's spend per client key, in nano-USD, shared
 * by every worker (relaxed atomic adds: no lock on the request path). A
 * request is refused before any upstream call once its key's spend has
 * reached its budget; the spend of what is already in flight is added when
 * it finishes, so a budget can be overshot by the requests in flight when
 * it is reached. "Today" is the UTC day: at midnight every counter starts
 * again from 0. At start the counters are seeded with today's spend in the
 * ledger, so a restart does not reset a budget; instances sharing one
 * PostgreSQL ledger each count their own spend after their start. Clients
 * are slots of struct allot_clients (clients.h), whose budgets a reload may
 * change: a slot's spend is counted whether it has a budget or not.
 *
 * Ownership: borrows the clients, which must outlive it. Any thread
 * may call every function but new/seed/free. */
#ifndef ALLOT_BUDGET_H
#define ALLOT_BUDGET_H
#include <stdint.h>
#include <stddef.h>
#include "allot/buf.h"
#include "allot/clients.h"

struct allot_budgets;

/* ALLOT_ENOMEM. Keys without a budget are never refused. */
int allot_budgets_new(const struct allot_clients *clients, struct allot_budgets **out);
void allot_budgets_free(struct allot_budgets *b);

/* Add today's spend of the slots from first on (the ledger's cost_usd
 * since 00:00 UTC of now_ms, by client name) from the store: at start,
 * before serving, and for the slots a reload created. Errors as
 * allot_ledger_reader_open() and its queries. */
int allot_budgets_seed(struct allot_budgets *b, const char *store, size_t first, int64_t now_ms,
                       struct allot_buf *err);

/* Whether client (a slot, or -1) may start a request
 * at now_ms: 1 yes, 0 its budget is spent. *spent and *limit (USD) are set
 * when the key has a budget; *limit is -1 when it has none. */
int allot_budgets_allows(struct allot_budgets *b, int client, int64_t now_ms, double *spent,
                         double *limit);

/* A finished request of client cost usd at now_ms. */
void allot_budgets_add(struct allot_budgets *b, int client, int64_t now_ms, double usd);

/* Append, for Prometheus, each budgeted key's budget and today's spend at
 * now_ms (gauges allot_client_budget_usd and allot_client_budget_spent_usd,
 * by client). Nothing when no key has a budget. ALLOT_ETOOBIG past out's cap. */
int allot_budgets_render(struct allot_budgets *b, int64_t now_ms, struct allot_buf *out);

#endif
