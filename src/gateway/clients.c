/* clients.c: client slots and the key lookup, replaceable while serving
 * (clients.h). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "allot/clients.h"
#include "allot/cost.h"
#include "allot/error.h"

struct slot {
    char *name;               /* set once, before the slot is published; never changed */
    uint64_t budget;          /* nano-USD per day; UINT64_MAX: none. Atomic */
    long rpm;                 /* 0: no limit. Atomic */
    unsigned tiers;           /* auth.keys[].tiers (allot_tier_list_*); 0: all. Atomic */
    int listed;               /* in the lookup now. Atomic */
    unsigned char digest[32]; /* its key's SHA-256 now: allot_clients_update's alone */
};

struct allot_clients {
    pthread_rwlock_t lock; /* guards auth (the pointer) */
    struct allot_auth *auth;
    int required;   /* keys listed now. Atomic */
    size_t n_slots; /* published with release order after the slot is written */
    struct slot slots[ALLOT_MAX_CLIENT_SLOTS];
};

#define LOAD(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)

static uint64_t budget_of(const struct allot_client_key *k)
{
    return k->has_budget ? allot_cost_nusd(k->daily_budget_usd) : UINT64_MAX;
}

/* The slot named name among the first n, or -1. */
static int find(const struct allot_clients *c, size_t n, const char *name)
{
    size_t i;
    for (i = 0; i < n; i++)
        if (!strcmp(c->slots[i].name, name))
            return (int)i;
    return -1;
}

int allot_clients_new(const struct allot_config *cfg, struct allot_clients **out)
{
    struct allot_clients *c = calloc(1, sizeof *c);
    struct allot_clients_change chg;
    size_t first;
    int rc;

    *out = NULL;
    if (!c)
        return ALLOT_ENOMEM;
    if (pthread_rwlock_init(&c->lock, NULL) != 0) {
        free(c);
        return ALLOT_ENOMEM;
    }
    rc = allot_clients_update(c, cfg, &chg, &first);
    if (rc) {
        allot_clients_free(c);
        return rc;
    }
    *out = c;
    return 0;
}

void allot_clients_free(struct allot_clients *c)
{
    size_t i;
    if (!c)
        return;
    for (i = 0; i < c->n_slots; i++)
        free(c->slots[i].name);
    allot_auth_free(c->auth);
    pthread_rwlock_destroy(&c->lock);
    free(c);
}

int allot_clients_update(struct allot_clients *c, const struct allot_config *cfg,
                         struct allot_clients_change *chg, size_t *first_new)
{
    size_t n = c->n_slots, fresh = 0, i;
    int *ids = NULL, rc = 0;
    unsigned char *was = NULL; /* [n] listed before this call */
    struct allot_auth *auth = NULL, *old;

    memset(chg, 0, sizeof *chg);
    *first_new = n;
    /* Slots first, so that nothing changes when one is refused. */
    ids = calloc(cfg->n_client_keys ? cfg->n_client_keys : 1, sizeof *ids);
    was = calloc(n ? n : 1, 1);
    if (!ids || !was) {
        rc = ALLOT_ENOMEM;
        goto out;
    }
    for (i = 0; i < cfg->n_client_keys; i++) {
        int s = find(c, n, cfg->client_keys[i].name);
        if (s < 0) {
            size_t j;
            for (j = 0; j < i && s < 0; j++) /* a name twice in one file: config.c refuses it */
                if (!strcmp(cfg->client_keys[j].name, cfg->client_keys[i].name))
                    s = ids[j];
            if (s < 0) {
                if (n + fresh >= ALLOT_MAX_CLIENT_SLOTS) {
                    rc = ALLOT_ETOOBIG;
                    goto out;
                }
                s = (int)(n + fresh++);
            }
        }
        ids[i] = s;
    }
    if ((rc = allot_auth_new(cfg, ids, &auth)))
        goto out;
    for (i = 0; i < fresh; i++) {
        size_t k;
        for (k = 0; k < cfg->n_client_keys && ids[k] != (int)(n + i); k++)
            ;
        if (!(c->slots[n + i].name = strdup(cfg->client_keys[k].name))) {
            while (i--)
                free(c->slots[n + i].name), c->slots[n + i].name = NULL;
            rc = ALLOT_ENOMEM;
            goto out;
        }
    }
    /* Committed from here on: nothing below fails. */
    for (i = 0; i < n; i++)
        was[i] = (unsigned char)LOAD(&c->slots[i].listed);
    for (i = 0; i < n + fresh; i++)
        STORE(&c->slots[i].listed, 0);
    for (i = 0; i < cfg->n_client_keys; i++) {
        struct slot *s = &c->slots[ids[i]];
        const struct allot_client_key *k = &cfg->client_keys[i];
        if ((size_t)ids[i] >= n || !was[ids[i]])
            chg->added++;
        else if (LOAD(&s->budget) != budget_of(k) || LOAD(&s->rpm) != k->requests_per_minute ||
                 LOAD(&s->tiers) != k->tiers || memcmp(s->digest, k->digest, sizeof s->digest))
            chg->changed++;
        memcpy(s->digest, k->digest, sizeof s->digest);
        STORE(&s->budget, budget_of(k));
        STORE(&s->rpm, k->requests_per_minute);
        STORE(&s->tiers, k->tiers);
        STORE(&s->listed, 1);
    }
    for (i = 0; i < n; i++)
        if (was[i] && !LOAD(&c->slots[i].listed)) {
            chg->removed++;
            explicit_bzero(c->slots[i].digest, sizeof c->slots[i].digest);
            STORE(&c->slots[i].budget, UINT64_MAX);
            STORE(&c->slots[i].rpm, 0);
            STORE(&c->slots[i].tiers, 0);
        }
    chg->listed = cfg->n_client_keys;
    __atomic_store_n(&c->n_slots, n + fresh, __ATOMIC_RELEASE);
    pthread_rwlock_wrlock(&c->lock);
    old = c->auth;
    c->auth = auth;
    STORE(&c->required, cfg->n_client_keys > 0);
    pthread_rwlock_unlock(&c->lock);
    allot_auth_free(old);
    auth = NULL;
out:
    allot_auth_free(auth);
    free(ids);
    free(was);
    return rc;
}

int allot_clients_required(const struct allot_clients *c)
{
    return c && LOAD(&c->required);
}

enum allot_auth_result allot_clients_identify(struct allot_clients *c,
                                              struct allot_slice authorization,
                                              struct allot_slice api_key, int *slot)
{
    enum allot_auth_result r;

    pthread_rwlock_rdlock(&c->lock);
    r = allot_auth_identify(c->auth, authorization, api_key, slot);
    pthread_rwlock_unlock(&c->lock);
    return r;
}

size_t allot_clients_count(const struct allot_clients *c)
{
    return c ? __atomic_load_n(&c->n_slots, __ATOMIC_ACQUIRE) : 0;
}

const char *allot_clients_name(const struct allot_clients *c, int slot)
{
    return slot >= 0 && (size_t)slot < allot_clients_count(c) ? c->slots[slot].name : "";
}

uint64_t allot_clients_budget_nusd(const struct allot_clients *c, int slot)
{
    return slot >= 0 && (size_t)slot < allot_clients_count(c) ? LOAD(&c->slots[slot].budget)
                                                              : UINT64_MAX;
}

long allot_clients_rpm(const struct allot_clients *c, int slot)
{
    return slot >= 0 && (size_t)slot < allot_clients_count(c) ? LOAD(&c->slots[slot].rpm) : 0;
}

unsigned allot_clients_tiers(const struct allot_clients *c, int slot)
{
    return slot >= 0 && (size_t)slot < allot_clients_count(c) ? LOAD(&c->slots[slot].tiers) : 0;
}

/* Whether model m serves one of tiers. */
static int model_in(const struct allot_config *cfg, unsigned tiers, const struct allot_model *m)
{
    int t;
    size_t i;
    for (t = 0; t < ALLOT_TIER__COUNT; t++)
        if (allot_tier_list_has(tiers, (enum allot_tier)t))
            for (i = 0; i < cfg->tiers[t].n_models; i++)
                if (cfg->tiers[t].models[i] == m)
                    return 1;
    return 0;
}

int allot_clients_keep_tiers(const struct allot_config *cfg, unsigned tiers, const char *name,
                             struct allot_decision *d, char *msg, size_t cap)
{
    char list[64], was[sizeof d->reason];
    int n;
    enum allot_tier to;

    if (!tiers)
        return 0;
    allot_tier_list_format(tiers, list, sizeof list);
    if (d->source == ALLOT_SRC_MODEL) {
        if (d->n_models && model_in(cfg, tiers, d->models[0]))
            return 0;
        snprintf(msg, cap,
                 "client '%s' may not use model '%s': it may use the models of the tiers %s "
                 "(auth.keys[].tiers); send \"auto\" or one of those",
                 name, d->n_models ? d->models[0]->name : "?", list);
        return ALLOT_EPERM;
    }
    if (!d->has_tier || allot_tier_list_has(tiers, d->tier))
        return 0;
    if (d->source == ALLOT_SRC_TIER) {
        snprintf(msg, cap,
                 "client '%s' may not use the tier '%s': it may use %s (auth.keys[].tiers)", name,
                 allot_tier_name(d->tier), list);
        return ALLOT_EPERM;
    }
    to = allot_tier_list_first(tiers);
    memcpy(was, d->reason, sizeof was);
    n = snprintf(d->reason, sizeof d->reason, "client '%.64s' is limited to %.40s, not %s: %s",
                 name, list, allot_tier_name(d->tier), was);
    if (n >= (int)sizeof d->reason) /* the old reason was cut: the reason is bounded */
        memcpy(d->reason + sizeof d->reason - 4, "...", 4);
    if (allot_decision_use_tier(cfg, to, d, NULL)) /* config.c checks the tiers have models */
        return 0;
    return 1;
}
