/* floor.c: the adaptive quality floor (see floor.h for the rules).
 *
 * Per category: a ring of the last `window` verdicts with a running pass
 * count, so a verdict costs O(1) and the Wilson bound is one sqrt; a
 * buffer of the current probe round, in order, so a demotion can replace
 * the window with exactly the probe verdicts; the promotion state and its
 * evidence. All rings and probe buffers are one allocation made by
 * allot_floor_new().
 *
 * DESIGN: one mutex per category, so categories never wait on each other,
 * held only to read or update a few integers. Wilson bounds of the events
 * and snapshots and all text are computed from copies after the unlock.
 * route() is on every labour request's path and almost always finds the
 * category on labour: `promoted` is an atomic read there without the lock
 * (written under the lock with release order). A route racing a promotion
 * may still say LABOUR, exactly as if it had locked first. */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "allot/error.h"
#include "allot/floor.h"

struct floor_cat {
    pthread_mutex_t mu;
    uint8_t *ring;   /* window slots: 1 pass, 0 fail */
    uint8_t *probes; /* probe_samples slots: the round in progress, in order */
    unsigned head;   /* ring slot of the next verdict */
    unsigned n, pass;
    _Atomic int promoted; /* written under mu; read without it by route() */
    int64_t since_ms;
    int64_t probe_from_ms;
    int64_t cooldown_ms; /* of the current promotion */
    unsigned probe_pass, probe_n;
    unsigned promotions, demotions, repromotions;
    uint64_t counted, ignored;
    /* the evidence of the current promotion, for route()'s reason */
    enum allot_floor_event_kind why_kind;
    unsigned why_pass, why_n;
};

struct allot_floor {
    struct allot_floor_conf conf;
    unsigned probe_need; /* ceil(min_pass * probe_samples) */
    uint8_t *slots;      /* every ring and probe buffer */
    struct floor_cat cat[ALLOT_CAT__COUNT];
};

/* What record() saw change, copied out of the lock. */
struct change {
    enum allot_floor_event_kind kind;
    unsigned pass, n;
    int64_t cooldown_ms;
};

void allot_floor_conf_default(struct allot_floor_conf *c)
{
    c->min_pass = 0.9;
    c->window = 50;
    c->min_samples = 20;
    c->cooldown_ms = 600000;
    c->cooldown_max_ms = 3600000;
    c->probe_share = 0.1;
    c->probe_samples = 20;
    c->z = 1.96;
}

int allot_floor_conf_check(const struct allot_floor_conf *c, char *why, size_t why_cap)
{
    char msg[128];
    int rc = ALLOT_EINVAL;

    /* written as !(in range) so NaN fails every test */
    if (!(c->min_pass > 0.0 && c->min_pass <= 1.0))
        snprintf(msg, sizeof msg, "min_pass %g: must be in (0, 1]", c->min_pass);
    else if (c->window < 1 || c->window > ALLOT_FLOOR_WINDOW_MAX)
        snprintf(msg, sizeof msg, "window %d: must be in [1, %d]", c->window,
                 ALLOT_FLOOR_WINDOW_MAX);
    else if (c->min_samples < 1 || c->min_samples > c->window)
        snprintf(msg, sizeof msg, "min_samples %d: must be in [1, window %d]", c->min_samples,
                 c->window);
    else if (!(c->probe_share >= 0.0 && c->probe_share <= 1.0))
        snprintf(msg, sizeof msg, "probe_share %g: must be in [0, 1]", c->probe_share);
    else if (c->probe_samples < 1 || c->probe_samples > ALLOT_FLOOR_WINDOW_MAX)
        snprintf(msg, sizeof msg, "probe_samples %d: must be in [1, %d]", c->probe_samples,
                 ALLOT_FLOOR_WINDOW_MAX);
    else if (!(c->z > 0.0 && c->z <= 10.0))
        snprintf(msg, sizeof msg, "z %g: must be in (0, 10]", c->z);
    else if (c->cooldown_ms < 0 || c->cooldown_ms > ALLOT_FLOOR_COOLDOWN_MAX_MS)
        snprintf(msg, sizeof msg, "cooldown_ms %lld: must be in [0, %lld]",
                 (long long)c->cooldown_ms, (long long)ALLOT_FLOOR_COOLDOWN_MAX_MS);
    else if (c->cooldown_max_ms < c->cooldown_ms ||
             c->cooldown_max_ms > ALLOT_FLOOR_COOLDOWN_MAX_MS)
        snprintf(msg, sizeof msg, "cooldown_max_ms %lld: must be in [cooldown_ms %lld, %lld]",
                 (long long)c->cooldown_max_ms, (long long)c->cooldown_ms,
                 (long long)ALLOT_FLOOR_COOLDOWN_MAX_MS);
    else
        rc = 0;
    if (rc && why && why_cap)
        snprintf(why, why_cap, "floor %s", msg);
    return rc;
}

/* The Wilson score interval: centre (p + z^2/2n) / (1 + z^2/n), half-width
 * z sqrt(p(1-p)/n + z^2/4n^2) / (1 + z^2/n). */
static void wilson(unsigned pass, unsigned n, double z, double *lower, double *upper)
{
    double nn, p, z2, denom, centre, half;

    if (n == 0) {
        *lower = 0.0;
        *upper = 1.0;
        return;
    }
    if (pass > n)
        pass = n;
    nn = (double)n;
    p = (double)pass / nn;
    z2 = z * z;
    denom = 1.0 + z2 / nn;
    centre = (p + z2 / (2.0 * nn)) / denom;
    half = z * sqrt(p * (1.0 - p) / nn + z2 / (4.0 * nn * nn)) / denom;
    /* exact at the ends: rounding must not put a perfect record under a
     * floor of 1, nor a hair above 0 */
    *lower = pass == 0 || centre - half < 0.0 ? 0.0 : centre - half;
    *upper = pass == n || centre + half > 1.0 ? 1.0 : centre + half;
}

double allot_wilson_lower(unsigned pass, unsigned n, double z)
{
    double lo, hi;
    wilson(pass, n, z, &lo, &hi);
    return lo;
}

double allot_wilson_upper(unsigned pass, unsigned n, double z)
{
    double lo, hi;
    wilson(pass, n, z, &lo, &hi);
    return hi;
}

const char *allot_floor_route_name(enum allot_floor_route r)
{
    switch (r) {
    case ALLOT_FLOOR_LABOUR:
        return "labour";
    case ALLOT_FLOOR_PROMOTED:
        return "promoted";
    case ALLOT_FLOOR_PROBE:
        return "probe";
    }
    return "?";
}

const char *allot_floor_event_kind_name(enum allot_floor_event_kind k)
{
    switch (k) {
    case ALLOT_FLOOR_EV_PROMOTE:
        return "promote";
    case ALLOT_FLOOR_EV_DEMOTE:
        return "demote";
    case ALLOT_FLOOR_EV_REPROMOTE:
        return "repromote";
    }
    return "?";
}

int allot_floor_new(const struct allot_floor_conf *conf, struct allot_floor **out)
{
    struct allot_floor *f = NULL;
    size_t per_cat;
    int rc, i, inited = 0;

    rc = allot_floor_conf_check(conf, NULL, 0);
    if (rc)
        goto out;
    rc = ALLOT_ENOMEM;
    f = calloc(1, sizeof *f);
    if (!f)
        goto out;
    f->conf = *conf;
    /* the epsilon keeps 0.9 * 20 = 18.000000000000004 from needing 19 */
    f->probe_need = (unsigned)ceil(conf->min_pass * conf->probe_samples - 1e-9);
    if (f->probe_need < 1)
        f->probe_need = 1;
    if (f->probe_need > (unsigned)conf->probe_samples)
        f->probe_need = (unsigned)conf->probe_samples;
    /* both bounded by ALLOT_FLOOR_WINDOW_MAX: no overflow */
    per_cat = (size_t)conf->window + (size_t)conf->probe_samples;
    f->slots = calloc(ALLOT_CAT__COUNT, per_cat);
    if (!f->slots)
        goto out;
    for (i = 0; i < ALLOT_CAT__COUNT; i++) {
        struct floor_cat *c = &f->cat[i];
        if (pthread_mutex_init(&c->mu, NULL) != 0)
            goto out;
        inited++;
        c->ring = f->slots + (size_t)i * per_cat;
        c->probes = c->ring + conf->window;
        c->cooldown_ms = conf->cooldown_ms;
        atomic_init(&c->promoted, 0);
    }
    *out = f;
    f = NULL;
    rc = 0;
out:
    if (f) {
        for (i = 0; i < inited; i++)
            pthread_mutex_destroy(&f->cat[i].mu);
        free(f->slots);
        free(f);
    }
    return rc;
}

void allot_floor_free(struct allot_floor *f)
{
    int i;

    if (!f)
        return;
    for (i = 0; i < ALLOT_CAT__COUNT; i++)
        pthread_mutex_destroy(&f->cat[i].mu);
    free(f->slots);
    free(f);
}

static int cat_ok(enum allot_category cat)
{
    return (int)cat >= 0 && (int)cat < ALLOT_CAT__COUNT;
}

static int64_t add_sat(int64_t t, int64_t d)
{
    return t > INT64_MAX - d ? INT64_MAX : t + d;
}

/* "600 s" or "250 ms". */
static void fmt_duration(char *dst, size_t cap, int64_t ms)
{
    if (ms % 1000 == 0)
        snprintf(dst, cap, "%lld s", (long long)(ms / 1000));
    else
        snprintf(dst, cap, "%lld ms", (long long)ms);
}

/* Under c->mu. */
static void ring_push(struct floor_cat *c, unsigned window, int pass)
{
    if (c->n == window)
        c->pass -= c->ring[c->head];
    else
        c->n++;
    c->ring[c->head] = (uint8_t)pass;
    c->pass += (unsigned)pass;
    c->head = c->head + 1 == window ? 0 : c->head + 1;
}

/* Under c->mu: the state of LABOUR after a verdict entered the window. */
static int maybe_promote(struct allot_floor *f, struct floor_cat *c, int64_t now, struct change *ch)
{
    if (c->n < (unsigned)f->conf.min_samples ||
        !(allot_wilson_upper(c->pass, c->n, f->conf.z) < f->conf.min_pass))
        return 0;
    atomic_store_explicit(&c->promoted, 1, memory_order_release);
    c->since_ms = now;
    c->cooldown_ms = f->conf.cooldown_ms;
    c->probe_from_ms = add_sat(now, c->cooldown_ms);
    c->probe_pass = c->probe_n = 0;
    c->promotions++;
    c->why_kind = ALLOT_FLOOR_EV_PROMOTE;
    c->why_pass = c->pass;
    c->why_n = c->n;
    ch->kind = ALLOT_FLOOR_EV_PROMOTE;
    ch->pass = c->pass;
    ch->n = c->n;
    ch->cooldown_ms = c->cooldown_ms;
    return 1;
}

/* Under c->mu: a probe verdict of the round in progress; decide the round
 * as soon as its outcome is certain. */
static int probe_verdict(struct allot_floor *f, struct floor_cat *c, int pass, int64_t now,
                         struct change *ch)
{
    unsigned samples = (unsigned)f->conf.probe_samples, i;

    c->probes[c->probe_n++] = (uint8_t)pass;
    c->probe_pass += (unsigned)pass;
    ch->pass = c->probe_pass;
    ch->n = c->probe_n;
    if (c->probe_pass >= f->probe_need) {
        /* the probes become the window, stale failures go */
        c->head = c->n = c->pass = 0;
        for (i = 0; i < c->probe_n; i++)
            ring_push(c, (unsigned)f->conf.window, c->probes[i]);
        atomic_store_explicit(&c->promoted, 0, memory_order_release);
        c->since_ms = now;
        c->cooldown_ms = f->conf.cooldown_ms;
        c->probe_pass = c->probe_n = 0;
        c->demotions++;
        ch->kind = ALLOT_FLOOR_EV_DEMOTE;
        ch->cooldown_ms = 0;
        return 1;
    }
    if (c->probe_n - c->probe_pass > samples - f->probe_need) {
        /* the round cannot pass: cool again, for longer */
        int64_t max = f->conf.cooldown_max_ms;
        c->cooldown_ms = c->cooldown_ms > max / 2 ? max : c->cooldown_ms * 2;
        c->probe_from_ms = add_sat(now, c->cooldown_ms);
        c->why_kind = ALLOT_FLOOR_EV_REPROMOTE;
        c->why_pass = c->probe_pass;
        c->why_n = c->probe_n;
        c->probe_pass = c->probe_n = 0;
        c->repromotions++;
        ch->kind = ALLOT_FLOOR_EV_REPROMOTE;
        ch->cooldown_ms = c->cooldown_ms;
        return 1;
    }
    return 0;
}

static void fill_event(const struct allot_floor *f, enum allot_category cat, int64_t now,
                       const struct change *ch, struct allot_floor_event *ev)
{
    const char *name = allot_category_name(cat);
    double floor = f->conf.min_pass;
    char cd[32];

    memset(ev, 0, sizeof *ev);
    ev->ts_ms = now;
    ev->kind = ch->kind;
    ev->category = cat;
    ev->pass = ch->pass;
    ev->n = ch->n;
    ev->rate = ch->n ? (double)ch->pass / ch->n : 0.0;
    wilson(ch->pass, ch->n, f->conf.z, &ev->lower, &ev->upper);
    ev->cooldown_ms = ch->cooldown_ms;
    fmt_duration(cd, sizeof cd, ch->cooldown_ms);
    switch (ch->kind) {
    case ALLOT_FLOOR_EV_PROMOTE:
        if (f->conf.probe_share > 0.0)
            snprintf(ev->detail, sizeof ev->detail,
                     "%s: %u/%u passed, Wilson upper bound %.3f < floor %g; to judgment, "
                     "probes in %s",
                     name, ch->pass, ch->n, ev->upper, floor, cd);
        else
            snprintf(ev->detail, sizeof ev->detail,
                     "%s: %u/%u passed, Wilson upper bound %.3f < floor %g; to judgment, "
                     "no probes (probe_share 0)",
                     name, ch->pass, ch->n, ev->upper, floor);
        break;
    case ALLOT_FLOOR_EV_DEMOTE:
        snprintf(ev->detail, sizeof ev->detail,
                 "%s: probes %u/%u passed, at least %u of %d >= floor %g; back to labour", name,
                 ch->pass, ch->n, f->probe_need, f->conf.probe_samples, floor);
        break;
    case ALLOT_FLOOR_EV_REPROMOTE:
        snprintf(ev->detail, sizeof ev->detail,
                 "%s: probes %u/%u passed, %u of %d can no longer pass (floor %g); stays on "
                 "judgment, probes again in %s",
                 name, ch->pass, ch->n, f->probe_need, f->conf.probe_samples, floor, cd);
        break;
    }
}

int allot_floor_record(struct allot_floor *f, enum allot_category cat, int pass, int probe,
                       int64_t now_ms, struct allot_floor_event *ev)
{
    struct floor_cat *c;
    struct change ch;
    int changed = 0;

    if (!cat_ok(cat))
        return 0;
    c = &f->cat[cat];
    pass = pass != 0;
    pthread_mutex_lock(&c->mu);
    if (!atomic_load_explicit(&c->promoted, memory_order_relaxed)) {
        /* a probe verdict arriving after a demotion is a fresh labour verdict too */
        ring_push(c, (unsigned)f->conf.window, pass);
        c->counted++;
        changed = maybe_promote(f, c, now_ms, &ch);
    } else if (probe && now_ms >= c->probe_from_ms) {
        c->counted++;
        changed = probe_verdict(f, c, pass, now_ms, &ch);
    } else {
        /* graded late: an answer from before the promotion or a decided round */
        c->ignored++;
    }
    pthread_mutex_unlock(&c->mu);
    if (changed && ev)
        fill_event(f, cat, now_ms, &ch, ev);
    return changed;
}

enum allot_floor_route allot_floor_route(struct allot_floor *f, enum allot_category cat,
                                         int64_t now_ms, uint64_t rnd, char *reason,
                                         size_t reason_cap)
{
    struct floor_cat *c;
    enum allot_floor_route route;
    enum allot_floor_event_kind why_kind;
    unsigned why_pass, why_n, probe_n;
    int64_t probe_from;
    const char *name;
    char evidence[96], tail[64];

    if (reason && reason_cap)
        reason[0] = '\0';
    if (!cat_ok(cat))
        return ALLOT_FLOOR_LABOUR;
    c = &f->cat[cat];
    if (!atomic_load_explicit(&c->promoted, memory_order_acquire))
        return ALLOT_FLOOR_LABOUR;
    pthread_mutex_lock(&c->mu);
    if (!atomic_load_explicit(&c->promoted, memory_order_relaxed)) {
        pthread_mutex_unlock(&c->mu); /* demoted since the first look */
        return ALLOT_FLOOR_LABOUR;
    }
    probe_from = c->probe_from_ms;
    probe_n = c->probe_n;
    why_kind = c->why_kind;
    why_pass = c->why_pass;
    why_n = c->why_n;
    pthread_mutex_unlock(&c->mu);

    /* the top 53 bits as a uniform double in [0, 1): share 1 always probes */
    if (now_ms >= probe_from && (double)(rnd >> 11) * 0x1p-53 < f->conf.probe_share)
        route = ALLOT_FLOOR_PROBE;
    else
        route = ALLOT_FLOOR_PROMOTED;
    if (!reason || !reason_cap)
        return route;

    name = allot_category_name(cat);
    if (route == ALLOT_FLOOR_PROBE) {
        snprintf(reason, reason_cap, "probe for %s: promoted, probe round %u/%d", name, probe_n,
                 f->conf.probe_samples);
        return route;
    }
    if (why_kind == ALLOT_FLOOR_EV_PROMOTE)
        snprintf(evidence, sizeof evidence, "%u/%u passed, Wilson upper bound %.3f < floor %g",
                 why_pass, why_n, allot_wilson_upper(why_pass, why_n, f->conf.z), f->conf.min_pass);
    else
        snprintf(evidence, sizeof evidence, "probes %u/%u passed, %u of %d needed for floor %g",
                 why_pass, why_n, f->probe_need, f->conf.probe_samples, f->conf.min_pass);
    if (f->conf.probe_share <= 0.0) {
        snprintf(tail, sizeof tail, "no probes");
    } else if (now_ms < probe_from) {
        char cd[32];
        fmt_duration(cd, sizeof cd, probe_from - now_ms);
        snprintf(tail, sizeof tail, "probes in %s", cd);
    } else {
        snprintf(tail, sizeof tail, "probing %g%%, round %u/%d", f->conf.probe_share * 100.0,
                 probe_n, f->conf.probe_samples);
    }
    snprintf(reason, reason_cap, "%s promoted to judgment: %s; %s", name, evidence, tail);
    return route;
}

void allot_floor_snapshot(struct allot_floor *f, enum allot_category cat,
                          struct allot_floor_state *out)
{
    struct floor_cat *c;

    memset(out, 0, sizeof *out);
    if (!cat_ok(cat))
        return;
    c = &f->cat[cat];
    pthread_mutex_lock(&c->mu);
    out->promoted = atomic_load_explicit(&c->promoted, memory_order_relaxed);
    out->pass = c->pass;
    out->n = c->n;
    out->since_ms = c->since_ms;
    out->probe_from_ms = out->promoted ? c->probe_from_ms : 0;
    out->cooldown_ms = c->cooldown_ms;
    out->probe_pass = c->probe_pass;
    out->probe_n = c->probe_n;
    out->promotions = c->promotions;
    out->demotions = c->demotions;
    out->repromotions = c->repromotions;
    out->counted = c->counted;
    out->ignored = c->ignored;
    pthread_mutex_unlock(&c->mu);
    wilson(out->pass, out->n, f->conf.z, &out->lower, &out->upper);
}
