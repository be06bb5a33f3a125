/* cooldown.c: models resting after failures in a row, or for as long as
 * their provider's retry hint says (cooldown.h). */
#include <stdlib.h>
#include "allot/cooldown.h"
#include "allot/error.h"
#include "allot/metrics.h"

#define MAX_DOUBLINGS 4 /* a rest is at most 16 times the first */

struct model_state {
    uint32_t failures; /* in a row */
    uint32_t rests;    /* rests in a row (each doubles the next) */
    uint64_t until_us; /* resting until then; 0: not resting */
    uint64_t total;    /* rests since start */
    uint64_t hinted;   /* ... of them started by a provider's retry hint */
    char pad[32];      /* a cache line each: workers write them */
};

struct allot_cooldowns {
    const struct allot_config *cfg;
    uint32_t after;
    uint64_t first_us;
    size_t n;
    struct model_state *m;
};

#define LOAD(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)

int allot_cooldowns_new(const struct allot_config *cfg, struct allot_cooldowns **out)
{
    struct allot_cooldowns *c = calloc(1, sizeof *c);

    *out = NULL;
    if (!c || !(c->m = calloc(cfg->n_models ? cfg->n_models : 1, sizeof *c->m))) {
        free(c);
        return ALLOT_ENOMEM;
    }
    c->cfg = cfg;
    c->after = (uint32_t)cfg->limits.cooldown_after;
    c->first_us = (uint64_t)cfg->limits.cooldown_ms * 1000u;
    c->n = cfg->n_models;
    *out = c;
    return 0;
}

void allot_cooldowns_free(struct allot_cooldowns *c)
{
    if (c) {
        free(c->m);
        free(c);
    }
}

uint64_t allot_cooldowns_resting(const struct allot_cooldowns *c, int model, uint64_t now_us)
{
    uint64_t until;

    if (!c || model < 0 || (size_t)model >= c->n)
        return 0; /* with after 0 only a hint sets until_us */
    until = LOAD(&c->m[model].until_us);
    return until > now_us ? until - now_us : 0;
}

uint64_t allot_cooldowns_record(struct allot_cooldowns *c, int model, int ok, uint64_t now_us)
{
    struct model_state *s;
    uint32_t failures, rests;
    uint64_t len, until;

    if (!c || !c->after || model < 0 || (size_t)model >= c->n)
        return 0;
    s = &c->m[model];
    if (ok) {
        if (LOAD(&s->failures)) /* no write on the common path */
            STORE(&s->failures, 0);
        if (LOAD(&s->rests))
            STORE(&s->rests, 0);
        return 0;
    }
    failures = __atomic_add_fetch(&s->failures, 1, __ATOMIC_RELAXED);
    until = LOAD(&s->until_us);
    if (failures < c->after || until > now_us)
        return 0; /* not yet, or already resting (a request that started before) */
    /* The failure that reaches `after` starts a rest; so does the first
     * failure after a rest ended (failures stays at or above after until a
     * success). Of failures at the same moment, one starts it. */
    rests = LOAD(&s->rests);
    len = c->first_us << (rests < MAX_DOUBLINGS ? rests : MAX_DOUBLINGS);
    if (!__atomic_compare_exchange_n(&s->until_us, &until, now_us + len, 0, __ATOMIC_RELAXED,
                                     __ATOMIC_RELAXED))
        return 0;
    STORE(&s->rests, rests + 1);
    __atomic_fetch_add(&s->total, 1, __ATOMIC_RELAXED);
    return len;
}

uint64_t allot_cooldowns_max_us(const struct allot_cooldowns *c)
{
    return c ? c->first_us << MAX_DOUBLINGS : 0;
}

uint64_t allot_cooldowns_told(struct allot_cooldowns *c, int model, uint64_t hint_us,
                              uint64_t now_us)
{
    struct model_state *s;
    uint64_t len, until, want;

    if (!c || !hint_us || model < 0 || (size_t)model >= c->n)
        return 0;
    s = &c->m[model];
    len = hint_us < allot_cooldowns_max_us(c) ? hint_us : allot_cooldowns_max_us(c);
    want = now_us + len;
    if (c->after) /* a failure in a row all the same: the count goes on after the rest */
        __atomic_add_fetch(&s->failures, 1, __ATOMIC_RELAXED);
    until = LOAD(&s->until_us);
    do {
        if (until >= want)
            return 0; /* already resting as long (another request was told so) */
    } while (!__atomic_compare_exchange_n(&s->until_us, &until, want, 0, __ATOMIC_RELAXED,
                                          __ATOMIC_RELAXED));
    if (until <= now_us) { /* a new rest, not a longer one */
        __atomic_fetch_add(&s->total, 1, __ATOMIC_RELAXED);
        __atomic_fetch_add(&s->hinted, 1, __ATOMIC_RELAXED);
    }
    return len;
}

/* One per-model series for Prometheus: the head (HELP and TYPE lines),
 * then a sample per model: what value() gives, with that many decimals. */
static int render_series(const struct allot_cooldowns *c, const char *name, const char *head,
                         int decimals,
                         double (*value)(const struct allot_cooldowns *, size_t, uint64_t),
                         uint64_t now_us, struct allot_buf *out)
{
    size_t i;
    int rc = allot_buf_adds(out, head);

    for (i = 0; i < c->n && !rc; i++) {
        rc = allot_buf_addf(out, "%s{", name);
        rc = rc ? rc : allot_metrics_add_label(out, "model", c->cfg->models[i].name, 1);
        rc = rc ? rc : allot_buf_addf(out, "} %.*f\n", decimals, value(c, i, now_us));
    }
    return rc;
}

static double resting_seconds(const struct allot_cooldowns *c, size_t i, uint64_t now_us)
{
    return (double)allot_cooldowns_resting(c, (int)i, now_us) / 1e6;
}

static double rests(const struct allot_cooldowns *c, size_t i, uint64_t now_us)
{
    (void)now_us;
    return (double)LOAD(&c->m[i].total);
}

static double hinted_rests(const struct allot_cooldowns *c, size_t i, uint64_t now_us)
{
    (void)now_us;
    return (double)LOAD(&c->m[i].hinted);
}

int allot_cooldowns_render(const struct allot_cooldowns *c, uint64_t now_us, struct allot_buf *out)
{
    int rc;

    if (!c || !c->n)
        return 0;
    rc = render_series(c, "allot_model_resting_seconds",
                       "# HELP allot_model_resting_seconds What is left of a model's rest "
                       "(after limits.cooldown_after failures in a row, or a provider's "
                       "retry hint); 0: in use.\n"
                       "# TYPE allot_model_resting_seconds gauge\n",
                       3, resting_seconds, now_us, out);
    rc = rc ? rc
            : render_series(c, "allot_model_rests_total",
                            "# HELP allot_model_rests_total Rests a model was sent to, "
                            "after failures in a row or by a provider's retry hint.\n"
                            "# TYPE allot_model_rests_total counter\n",
                            0, rests, now_us, out);
    rc = rc ? rc
            : render_series(c, "allot_model_hinted_rests_total",
                            "# HELP allot_model_hinted_rests_total Rests a provider's retry "
                            "hint (retry-after-ms, Retry-After on a 429 or 503) started; "
                            "also in allot_model_rests_total.\n"
                            "# TYPE allot_model_hinted_rests_total counter\n",
                            0, hinted_rests, now_us, out);
    return rc;
}
