/* curve.c: routing curves, APGR, CPT and threshold calibration (curve.h).
 *
 * The router's and the oracle's curves are the same computation with a
 * different order: sort the requests by a key (the router's score, or the
 * oracle's loss from going strong, w - s), walk the sorted requests in
 * groups of equal keys, and emit one point at the end of each group. A
 * point's numbers come from running sums in that order: the gain s - w of
 * the requests sent to strong so far, and their extra cost cs - cw.
 *
 * PGR is the running gain over the total gain, both summed in the same
 * order, rather than (quality - Q_weak) / (Q_strong - Q_weak): for 0/1
 * outcomes the sums are exact integers, so PGR is one correctly rounded
 * division (2/4 is exactly 0.5) and CPT lands exactly where a hand count
 * says. The end points are then pinned to the exact always-weak and
 * always-strong figures, summed in row order, so every curve built from
 * the same data agrees on them to the last bit.
 *
 * The sort breaks ties by row index so that the order, and so the rounding
 * of the running sums, does not depend on qsort; no point is ever emitted
 * inside a tie, so the tie order changes nothing else. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "allot/curve.h"
#include "allot/error.h"

/* relative slack for "Q_strong == Q_weak" and for a quality target */
#define REL_EPS 1e-12

struct ranked {
    double key;
    size_t i;
};

static int by_key_then_index(const void *a, const void *b)
{
    const struct ranked *x = a, *y = b;
    if (x->key < y->key)
        return -1;
    if (x->key > y->key)
        return 1;
    return (x->i > y->i) - (x->i < y->i);
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The always-weak and always-strong figures, summed in row order. */
struct totals {
    double sum_w, sum_s, cost_weak, cost_strong;
};

static double weak_cost(const double *cw, size_t i)
{
    return cw ? cw[i] : 0.0;
}

static double strong_cost(const double *cs, size_t i)
{
    return cs ? cs[i] : 1.0;
}

static int all_finite(const double *v, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++)
        if (!isfinite(v[i]))
            return 0;
    return 1;
}

/* Check the outcome arrays shared by the three builders and sum them. */
static int outcome_totals(const double *w, const double *s, const double *cw, const double *cs,
                          size_t n, struct totals *t)
{
    size_t i;

    if (!w || !s || n == 0 || !all_finite(w, n) || !all_finite(s, n))
        return ALLOT_EINVAL;
    if ((cw && !all_finite(cw, n)) || (cs && !all_finite(cs, n)))
        return ALLOT_EINVAL;
    memset(t, 0, sizeof *t);
    for (i = 0; i < n; i++) {
        t->sum_w += w[i];
        t->sum_s += s[i];
        t->cost_weak += weak_cost(cw, i);
        t->cost_strong += strong_cost(cs, i);
    }
    if (fabs(t->sum_s - t->sum_w) <= REL_EPS * (fabs(t->sum_s) + fabs(t->sum_w)))
        return ALLOT_EINVAL; /* no gap: PGR is undefined */
    return 0;
}

/* The first share at which PGR reaches target on the piecewise-linear
 * curve; NAN if it never does. */
static double crossing(const struct allot_curve *c, double target)
{
    size_t k;
    const struct allot_curve_point *a, *b;

    if (c->pts[0].pgr >= target)
        return c->pts[0].strong_share;
    for (k = 1; k < c->n; k++) {
        if (c->pts[k].pgr < target)
            continue;
        a = &c->pts[k - 1];
        b = &c->pts[k];
        /* a->pgr < target <= b->pgr, so the division is by a positive rise */
        return a->strong_share +
               (target - a->pgr) / (b->pgr - a->pgr) * (b->strong_share - a->strong_share);
    }
    return NAN;
}

/* Fill in the header's APGR and CPT from the points. */
static void summarise(struct allot_curve *c)
{
    size_t k;
    double area = 0.0;

    for (k = 0; k + 1 < c->n; k++)
        area += (c->pts[k + 1].strong_share - c->pts[k].strong_share) *
                (c->pts[k].pgr + c->pts[k + 1].pgr) / 2.0;
    c->apgr = area;
    c->cpt50 = crossing(c, 0.5);
    c->cpt80 = crossing(c, 0.8);
}

static void set_totals(struct allot_curve *c, const struct totals *t, size_t n)
{
    c->q_weak = t->sum_w / (double)n;
    c->q_strong = t->sum_s / (double)n;
    c->cost_weak = t->cost_weak;
    c->cost_strong = t->cost_strong;
}

/* The curve of sending requests to strong in the order of r (sorted by
 * key), one point per group of equal keys. With thresholds, a point's
 * threshold is the key of the first request left on weak. */
static int curve_from_order(const struct ranked *r, size_t n, const double *w, const double *s,
                            const double *cw, const double *cs, const struct totals *t,
                            int thresholds, struct allot_curve *out)
{
    struct allot_curve c;
    size_t groups = 1, j, k;
    double gain = 0.0, extra = 0.0;

    for (j = 1; j < n; j++)
        if (r[j].key != r[j - 1].key)
            groups++;
    memset(&c, 0, sizeof c);
    c.pts = calloc(groups + 1, sizeof *c.pts); /* groups <= n < SIZE_MAX / size */
    if (!c.pts)
        return ALLOT_ENOMEM;
    c.n = groups + 1;
    set_totals(&c, t, n);

    c.pts[0].threshold = thresholds ? r[0].key : NAN;
    c.pts[0].strong_share = 0.0;
    c.pts[0].quality = c.q_weak;
    c.pts[0].pgr = 0.0;
    c.pts[0].cost = c.cost_weak;
    for (j = 0, k = 1; j < n; k++) {
        size_t g = j;
        for (; j < n && r[j].key == r[g].key; j++) {
            size_t i = r[j].i;
            gain += s[i] - w[i];
            extra += strong_cost(cs, i) - weak_cost(cw, i);
        }
        c.pts[k].threshold = !thresholds ? NAN
                             : j < n     ? r[j].key
                                         : nextafter(r[n - 1].key, INFINITY);
        c.pts[k].strong_share = (double)j / (double)n;
        c.pts[k].quality = (t->sum_w + gain) / (double)n;
        c.pts[k].pgr = gain; /* divided by the total gain below */
        c.pts[k].cost = t->cost_weak + extra;
    }
    /* gain is now the total, summed in this order; the caller checked
     * Q_strong != Q_weak on the row-order sums, which differ from it only
     * by rounding, but a zero here would still make PGR infinite */
    if (gain == 0.0) {
        free(c.pts);
        return ALLOT_EINVAL;
    }
    for (k = 1; k < c.n; k++)
        c.pts[k].pgr /= gain;
    c.pts[c.n - 1].quality = c.q_strong;
    c.pts[c.n - 1].pgr = 1.0;
    c.pts[c.n - 1].cost = c.cost_strong;
    summarise(&c);
    *out = c;
    return 0;
}

int allot_curve_build(const double *p, const double *w, const double *s, const double *cw,
                      const double *cs, size_t n, struct allot_curve *out)
{
    struct totals t;
    struct ranked *r = NULL;
    size_t i;
    int rc;

    if (!p || !out)
        return ALLOT_EINVAL;
    rc = outcome_totals(w, s, cw, cs, n, &t);
    if (rc)
        goto out;
    if (!all_finite(p, n)) {
        rc = ALLOT_EINVAL;
        goto out;
    }
    r = calloc(n, sizeof *r);
    if (!r) {
        rc = ALLOT_ENOMEM;
        goto out;
    }
    for (i = 0; i < n; i++) {
        r[i].key = p[i];
        r[i].i = i;
    }
    qsort(r, n, sizeof *r, by_key_then_index);
    rc = curve_from_order(r, n, w, s, cw, cs, &t, 1, out);
out:
    free(r);
    return rc;
}

int allot_curve_oracle(const double *w, const double *s, const double *cw, const double *cs,
                       size_t n, struct allot_curve *out)
{
    struct totals t;
    struct ranked *r = NULL;
    size_t i;
    int rc;

    if (!out)
        return ALLOT_EINVAL;
    rc = outcome_totals(w, s, cw, cs, n, &t);
    if (rc)
        goto out;
    r = calloc(n, sizeof *r);
    if (!r) {
        rc = ALLOT_ENOMEM;
        goto out;
    }
    for (i = 0; i < n; i++) {
        /* ascending w - s is descending gain s - w; computed as one
         * subtraction so equal gains compare equal */
        r[i].key = w[i] - s[i];
        r[i].i = i;
    }
    qsort(r, n, sizeof *r, by_key_then_index);
    rc = curve_from_order(r, n, w, s, cw, cs, &t, 0, out);
out:
    free(r);
    return rc;
}

int allot_curve_random(const double *w, const double *s, const double *cw, const double *cs,
                       size_t n, size_t steps, struct allot_curve *out)
{
    struct allot_curve c;
    struct totals t;
    size_t k;
    int rc;

    if (!out || steps == 0 || steps >= SIZE_MAX / sizeof *c.pts)
        return ALLOT_EINVAL;
    rc = outcome_totals(w, s, cw, cs, n, &t);
    if (rc)
        return rc;
    memset(&c, 0, sizeof c);
    c.pts = calloc(steps + 1, sizeof *c.pts);
    if (!c.pts)
        return ALLOT_ENOMEM;
    c.n = steps + 1;
    set_totals(&c, &t, n);
    for (k = 0; k <= steps; k++) {
        double x = (double)k / (double)steps;
        c.pts[k].threshold = NAN;
        c.pts[k].strong_share = x;
        c.pts[k].pgr = x;
        c.pts[k].quality = c.q_weak + x * (c.q_strong - c.q_weak);
        c.pts[k].cost = c.cost_weak + x * (c.cost_strong - c.cost_weak);
    }
    c.pts[steps].quality = c.q_strong;
    c.pts[steps].cost = c.cost_strong;
    summarise(&c);
    *out = c;
    return 0;
}

void allot_curve_release(struct allot_curve *c)
{
    if (!c)
        return;
    free(c->pts);
    c->pts = NULL;
    c->n = 0;
}

/* The index of the last point whose share is <= share, or SIZE_MAX when
 * the arguments are bad. */
static size_t segment_at(const struct allot_curve *c, double share)
{
    size_t lo = 0, hi;

    if (!c || !c->pts || c->n == 0 || !(share >= 0.0 && share <= 1.0))
        return SIZE_MAX;
    hi = c->n; /* invariant: pts[lo].share <= share, pts[hi] (if any) > it */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (c->pts[mid].strong_share <= share)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

enum point_field { QUALITY, COST };

static double field(const struct allot_curve_point *pt, enum point_field f)
{
    return f == QUALITY ? pt->quality : pt->cost;
}

static double interpolate(const struct allot_curve *c, double share, enum point_field f)
{
    size_t k = segment_at(c, share);
    const struct allot_curve_point *a, *b;
    double x;

    if (k == SIZE_MAX)
        return NAN;
    a = &c->pts[k];
    if (k + 1 == c->n || share == a->strong_share)
        return field(a, f);
    b = &c->pts[k + 1];
    x = (share - a->strong_share) / (b->strong_share - a->strong_share);
    return field(a, f) + x * (field(b, f) - field(a, f));
}

double allot_curve_quality_at(const struct allot_curve *c, double share)
{
    return interpolate(c, share, QUALITY);
}

double allot_curve_cost_at(const struct allot_curve *c, double share)
{
    return interpolate(c, share, COST);
}

double allot_curve_threshold_at(const struct allot_curve *c, double share)
{
    size_t k = segment_at(c, share);
    return k == SIZE_MAX ? NAN : c->pts[k].threshold;
}

double allot_threshold_for_share(const double *p, size_t n, double share)
{
    double *v, target, t;
    size_t j, lo = 0, hi = SIZE_MAX, pick;

    if (!p || n == 0 || !(share >= 0.0 && share <= 1.0) || !all_finite(p, n))
        return NAN;
    v = malloc(n * sizeof *v); /* n doubles are already in memory: no overflow */
    if (!v)
        return NAN;
    memcpy(v, p, n * sizeof *v);
    qsort(v, n, sizeof *v, by_value);
    target = share * (double)n;
    /* the reachable counts of scores below t are 0, the start of each tie
     * group, and n; find the two either side of the target */
    for (j = 0; j <= n; j++) {
        if (j > 0 && j < n && v[j] == v[j - 1])
            continue; /* inside a tie group */
        if ((double)j <= target) {
            lo = j;
        } else {
            hi = j;
            break;
        }
    }
    pick = hi == SIZE_MAX || target - (double)lo <= (double)hi - target ? lo : hi;
    t = pick < n ? v[pick] : nextafter(v[n - 1], INFINITY);
    free(v);
    return t;
}

/* The first point whose quality reaches fraction_of_strong * Q_strong;
 * NULL when none does or on bad arguments. */
static const struct allot_curve_point *first_at_quality(const struct allot_curve *c,
                                                        double fraction_of_strong)
{
    double target;
    size_t k;

    if (!c || !c->pts || c->n == 0 || !isfinite(fraction_of_strong))
        return NULL;
    target = fraction_of_strong * c->q_strong;
    target -= REL_EPS * fabs(target);
    for (k = 0; k < c->n; k++)
        if (c->pts[k].quality >= target)
            return &c->pts[k];
    return NULL;
}

double allot_threshold_for_quality(const struct allot_curve *c, double fraction_of_strong)
{
    const struct allot_curve_point *pt = first_at_quality(c, fraction_of_strong);
    return pt ? pt->threshold : NAN;
}

double allot_share_for_quality(const struct allot_curve *c, double fraction_of_strong)
{
    const struct allot_curve_point *pt = first_at_quality(c, fraction_of_strong);
    return pt ? pt->strong_share : NAN;
}

/* ---- the cascade ---- */

struct score_event {
    double v; /* p[m][i]: model m stops taking request i once t > v */
    size_t m, i;
};

static int by_event(const void *a, const void *b)
{
    const struct score_event *x = a, *y = b;
    if (x->v != y->v)
        return x->v < y->v ? -1 : 1;
    if (x->m != y->m)
        return x->m < y->m ? -1 : 1;
    return (x->i > y->i) - (x->i < y->i);
}

static double cascade_cost(const double *const *cost, size_t m, size_t i)
{
    return cost ? cost[m][i] : (double)m;
}

/* The running state of the sweep: the sums over the current choices. */
struct cascade_sums {
    double cost, quality;
    size_t known;
};

static void cascade_add(struct cascade_sums *u, const double *const *q, const double *const *cost,
                        size_t m, size_t i, int sign)
{
    u->cost += sign * cascade_cost(cost, m, i);
    if (!isnan(q[m][i])) {
        u->quality += sign * q[m][i];
        u->known = sign > 0 ? u->known + 1 : u->known - 1;
    }
}

static void cascade_emit(struct allot_cascade *c, double t, const struct cascade_sums *u)
{
    struct allot_cascade_point *pt = &c->pts[c->n++];
    pt->threshold = t;
    pt->cost = u->cost;
    pt->known = u->known;
    pt->quality = u->known ? u->quality / (double)u->known : NAN;
}

int allot_cascade_build(const double *const *p, const double *const *q, const double *const *cost,
                        size_t n_models, size_t n, struct allot_cascade *out)
{
    struct allot_cascade c;
    struct score_event *ev = NULL;
    struct cascade_sums u = {0.0, 0.0, 0};
    size_t *choice = NULL, last = n_models - 1, n_ev, m, i, j;
    double best = NAN;
    int rc = ALLOT_EINVAL;

    memset(&c, 0, sizeof c);
    if (!p || !q || !out || n == 0 || n_models < 2 || n > SIZE_MAX / sizeof *ev / (n_models - 1))
        goto out;
    for (m = 0; m < n_models; m++) {
        size_t known = 0;
        double sum = 0.0;

        if (!q[m] || (cost && (!cost[m] || !all_finite(cost[m], n))))
            goto out;
        if (m < last && (!p[m] || !all_finite(p[m], n)))
            goto out;
        for (i = 0; i < n; i++) {
            if (isinf(q[m][i]))
                goto out;
            if (!isnan(q[m][i])) {
                sum += q[m][i];
                known++;
            }
        }
        if (known && (isnan(best) || sum / (double)known > best)) {
            best = sum / (double)known;
            c.best_model = m;
        }
    }
    if (isnan(best))
        goto out; /* no model has a known quality */
    c.best_quality = best;
    for (i = 0; i < n; i++)
        c.best_cost += cascade_cost(cost, c.best_model, i);

    rc = ALLOT_ENOMEM;
    n_ev = n * last;
    ev = malloc(n_ev * sizeof *ev);
    choice = calloc(n, sizeof *choice);
    c.pts = calloc(n_ev + 1, sizeof *c.pts); /* at most one per distinct score, + 1 */
    if (!ev || !choice || !c.pts)
        goto out;
    for (m = 0, j = 0; m < last; m++)
        for (i = 0; i < n; i++, j++) {
            ev[j].v = p[m][i];
            ev[j].m = m;
            ev[j].i = i;
        }
    qsort(ev, n_ev, sizeof *ev, by_event);

    /* t = the lowest score: every model takes every request, so all go to
     * model 0 */
    for (i = 0; i < n; i++)
        cascade_add(&u, q, cost, 0, i, +1);
    cascade_emit(&c, ev[0].v, &u);
    /* Raise t past each distinct score v in turn: the models whose score
     * is v stop taking those requests, which move to the next model that
     * still takes them (choices only ever move later). */
    for (j = 0; j < n_ev;) {
        size_t g = j;
        double t;
        int moved = 0;

        while (j < n_ev && ev[j].v == ev[g].v)
            j++;
        t = j < n_ev ? ev[j].v : nextafter(ev[g].v, INFINITY);
        for (; g < j; g++) {
            size_t r = ev[g].i, to = choice[r];
            while (to < last && !(p[to][r] >= t))
                to++;
            if (to == choice[r])
                continue;
            cascade_add(&u, q, cost, choice[r], r, -1);
            cascade_add(&u, q, cost, to, r, +1);
            choice[r] = to;
            moved = 1;
        }
        if (moved)
            cascade_emit(&c, t, &u);
    }
    *out = c;
    c.pts = NULL;
    rc = 0;
out:
    free(c.pts);
    free(choice);
    free(ev);
    return rc;
}

void allot_cascade_release(struct allot_cascade *c)
{
    if (!c)
        return;
    free(c->pts);
    c->pts = NULL;
    c->n = 0;
}
