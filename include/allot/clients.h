/* clients.h: the gateway's client keys (auth.keys), replaceable while it
 * serves.
 *
 * DESIGN: every client name this process has been configured with owns a
 * slot for the life of the process, numbered from 0 in the order the names
 * first appeared. A request is identified by its slot, and the budgets, the
 * rates, the metrics and the ledger's client column all index by it. A
 * reload (allot_clients_update, on SIGHUP) gives a name still listed its old
 * slot, so its day's spend, its rate state and its counters carry on; a new
 * name gets a new slot; a name no longer listed keeps its slot (its figures
 * stay in /metrics) but its key leaves the lookup, so it is refused from the
 * next request head on. Slots are never freed or renamed: a slot's name is
 * read without a lock once the slot number was handed out.
 *
 * The key lookup (struct allot_auth: sorted SHA-256 digests) is immutable
 * and replaced whole under a read-write lock: a lookup holds the read side
 * for its binary search (readers never wait for each other), a reload takes
 * the write side only to swap the pointer, and frees the old table after.
 * Each slot's limits (daily budget, requests per minute, tiers) are atomics
 * that a reload overwrites.
 *
 * Ownership: copies what it needs from a config (names, digests, limits);
 * the config may be freed after allot_clients_new/update return. Thread
 * safety: allot_clients_update from one thread at a time (the main thread);
 * everything else from any thread. */
#ifndef ALLOT_CLIENTS_H
#define ALLOT_CLIENTS_H
#include <stddef.h>
#include <stdint.h>
#include "allot/auth.h"
#include "allot/config.h"
#include "allot/decision.h"
#include "allot/slice.h"

/* Client names a process can have seen since start. */
#define ALLOT_MAX_CLIENT_SLOTS ALLOT_MAX_CLIENT_KEYS

struct allot_clients;

/* The registry of cfg's auth.keys: slot i is cfg->client_keys[i].
 * ALLOT_ENOMEM. */
int allot_clients_new(const struct allot_config *cfg, struct allot_clients **out);
void allot_clients_free(struct allot_clients *c);

/* What a reload changed. */
struct allot_clients_change {
    size_t added;   /* names not listed before (new slots or slots listed again) */
    size_t removed; /* names no longer listed: their keys are refused */
    size_t changed; /* names listed before and now with another key or limits */
    size_t listed;  /* names listed now */
};

/* Serve cfg's auth.keys from now on. On error nothing changes:
 * ALLOT_ENOMEM, ALLOT_ETOOBIG (more than ALLOT_MAX_CLIENT_SLOTS names since
 * start). *first_new is the first slot created by this call (== the count
 * before it): slots from there on have no history yet. */
int allot_clients_update(struct allot_clients *c, const struct allot_config *cfg,
                         struct allot_clients_change *chg, size_t *first_new);

/* 1 when keys are listed now, i.e. requests must carry one. */
int allot_clients_required(const struct allot_clients *c);

/* allot_auth_identify() against the keys listed now; on ALLOT_AUTH_OK
 * *slot is the caller's slot, or -1 when no keys are listed. */
enum allot_auth_result allot_clients_identify(struct allot_clients *c,
                                              struct allot_slice authorization,
                                              struct allot_slice api_key, int *slot);

/* Slots handed out so far (listed or not): slot numbers are below it. */
size_t allot_clients_count(const struct allot_clients *c);

/* A slot's client name; "" for a number that is no slot. */
const char *allot_clients_name(const struct allot_clients *c, int slot);

/* A slot's daily budget in nano-USD, UINT64_MAX for none (or a name no
 * longer listed), and its requests per minute, 0 for no limit. */
uint64_t allot_clients_budget_nusd(const struct allot_clients *c, int slot);
long allot_clients_rpm(const struct allot_clients *c, int slot);

/* A slot's tiers (auth.keys[].tiers, allot_tier_list_* in config.h); 0
 * when it may use every tier. */
unsigned allot_clients_tiers(const struct allot_clients *c, int slot);

/* Keep decision d within tiers (a slot's allot_clients_tiers) for the
 * client named name. What the client chose itself, a model (ALLOT_SRC_MODEL)
 * or allot:<tier> (ALLOT_SRC_TIER), outside them is refused: ALLOT_EPERM,
 * msg says why. Routed work (auto, an alias, X-Allot-Work, the default
 * tier, the acceptability model) sent to a tier not listed moves to the
 * first tier listed, with d->reason saying so: returns 1. Else 0, d
 * unchanged. */
int allot_clients_keep_tiers(const struct allot_config *cfg, unsigned tiers, const char *name,
                             struct allot_decision *d, char *msg, size_t cap);

#endif
