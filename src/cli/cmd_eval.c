/* cmd_eval.c: `allot eval`, a routing policy replayed over recorded
 * outcomes without calling any model (docs/eval.md). */
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "allot/accept.h"
#include "allot/clock.h"
#include "allot/curve.h"
#include "allot/error.h"
#include "allot/eval.h"
#include "allot/outcomes.h"
#include "allot/plot.h"
#include "cli.h"

#define MAX_PRICES 32
#define MAX_CASCADE 16
#define JSON_CURVE_POINTS 101 /* the curve in --json, at every 1% of strong share */

struct eval_opts {
    const char *data, *weak, *strong, *model_path, *plot, *cascade;
    unsigned kfold;
    double share, quality; /* operating point target; NAN: not given */
    int json, quiet;
    struct allot_price prices[MAX_PRICES];
    size_t n_prices;
    int64_t completion;
    struct allot_accept_opts train;
};

/* "MODEL=IN,OUT" */
static int parse_price(char *s, struct allot_price *p)
{
    char *eq = strrchr(s, '='), *comma, *end;
    if (!eq || eq == s)
        return -1;
    *eq = '\0';
    p->model = s;
    p->in = strtod(eq + 1, &comma);
    if (*comma != ',' || p->in < 0)
        return -1;
    p->out = strtod(comma + 1, &end);
    return *end || p->out < 0 ? -1 : 0;
}

static int parse_double(const char *s, double lo, double hi, double *out)
{
    char *end;
    double v = strtod(s, &end);
    if (!*s || *end || !(v >= lo && v <= hi))
        return -1;
    *out = v;
    return 0;
}

/* The two models' qualities and costs on the rows where both are known,
 * with the router's scores. */
struct pair {
    double *a, *w, *s, *cw, *cs;
    unsigned *fold;
    size_t n;
};

static void pair_release(struct pair *p)
{
    free(p->a);
    free(p->w);
    free(p->s);
    free(p->cw);
    free(p->cs);
    free(p->fold);
}

static int pair_build(const struct allot_eval_data *d, const double *pred, const unsigned *fold,
                      int weak, int strong, struct pair *p)
{
    size_t i, n = d->set.n, H = d->n_heads;

    memset(p, 0, sizeof *p);
    if (!(p->a = malloc(n * sizeof *p->a)) || !(p->w = malloc(n * sizeof *p->w)) ||
        !(p->s = malloc(n * sizeof *p->s)) || !(p->cw = malloc(n * sizeof *p->cw)) ||
        !(p->cs = malloc(n * sizeof *p->cs)) || !(p->fold = malloc(n * sizeof *p->fold)))
        return ALLOT_ENOMEM;
    for (i = 0; i < n; i++) {
        double w = d->q[i * H + (size_t)weak], s = d->q[i * H + (size_t)strong];
        if (isnan(w) || isnan(s))
            continue;
        p->a[p->n] = allot_accept_score(pred + i * H, weak, strong);
        p->w[p->n] = w;
        p->s[p->n] = s;
        p->cw[p->n] = d->priced ? d->cost[i * H + (size_t)weak] : 0;
        p->cs[p->n] = d->priced ? d->cost[i * H + (size_t)strong] : 1;
        p->fold[p->n] = fold ? fold[i] : 0;
        p->n++;
    }
    return p->n ? 0 : ALLOT_EINVAL;
}

/* The operating point: per fold, a threshold calibrated on the other
 * folds' out-of-fold scores, applied to the fold's own (held out twice
 * over: its scores come from a model that did not see it, its threshold
 * from rows other than it, scored as new rows are). A model's scores of
 * its own training rows are over-confident and would give a threshold
 * that sends fewer new rows to the strong model than asked. With a
 * trained model, its own threshold or the target's on these rows. */
struct point {
    double threshold, share, quality, pgr, cost, cost_ratio;
    double fold_share_min, fold_share_max;
    int have;
};

/* The share of strong calls at which the routed quality first reaches
 * fraction of always-strong on these rows; NAN when it never does. */
static double share_for_quality(const double *a, const double *w, const double *s, const double *cw,
                                const double *cs, size_t n, double fraction)
{
    struct allot_curve c;
    double share = NAN;
    if (allot_curve_build(a, w, s, cw, cs, n, &c) == 0) {
        share = allot_share_for_quality(&c, fraction);
        allot_curve_release(&c);
    }
    return share;
}

static int operating_point(const struct pair *p, unsigned k, double share, double quality,
                           double fixed_threshold, double q_weak, double q_strong, struct point *pt)
{
    double *ta = malloc(p->n * sizeof *ta), *tw = malloc(p->n * sizeof *tw),
           *ts = malloc(p->n * sizeof *ts), *tcw = malloc(p->n * sizeof *tcw),
           *tcs = malloc(p->n * sizeof *tcs);
    double strong = 0, q = 0, cost = 0, cost_strong = 0, tsum = 0;
    size_t i, m, fn;
    unsigned f;
    int rc = 0;

    memset(pt, 0, sizeof *pt);
    pt->fold_share_min = 1;
    if (!ta || !tw || !ts || !tcw || !tcs) {
        rc = ALLOT_ENOMEM;
        goto out;
    }
    for (f = 0; f < (k ? k : 1); f++) {
        double t, fstrong = 0;
        if (!isnan(fixed_threshold)) {
            t = fixed_threshold;
        } else {
            for (m = 0, i = 0; i < p->n; i++) {
                if (k && p->fold[i] == f)
                    continue;
                ta[m] = p->a[i];
                tw[m] = p->w[i];
                ts[m] = p->s[i];
                tcw[m] = p->cw[i];
                tcs[m++] = p->cs[i];
            }
            /* the share (for a quality target) and the threshold from the
             * other folds' out-of-fold scores; with a trained model (k =
             * 0), from all the rows */
            double want =
                !isnan(share) ? share : share_for_quality(ta, tw, ts, tcw, tcs, m, quality);
            t = isnan(want) ? NAN : allot_threshold_for_share(ta, m, want);
        }
        if (isnan(t)) {
            rc = ALLOT_EINVAL;
            goto out;
        }
        tsum += t;
        for (fn = 0, i = 0; i < p->n; i++) {
            int go_strong;
            if (k && p->fold[i] != f)
                continue;
            fn++;
            go_strong = p->a[i] < t;
            strong += go_strong;
            fstrong += go_strong;
            q += go_strong ? p->s[i] : p->w[i];
            cost += go_strong ? p->cs[i] : p->cw[i];
            cost_strong += p->cs[i];
        }
        if (fn) {
            double fs = fstrong / (double)fn;
            if (fs < pt->fold_share_min)
                pt->fold_share_min = fs;
            if (fs > pt->fold_share_max)
                pt->fold_share_max = fs;
        }
    }
    pt->threshold = tsum / (k ? k : 1);
    pt->share = strong / (double)p->n;
    pt->quality = q / (double)p->n;
    pt->pgr = q_strong != q_weak ? (pt->quality - q_weak) / (q_strong - q_weak) : NAN;
    pt->cost = cost;
    pt->cost_ratio = cost_strong > 0 ? cost / cost_strong : NAN;
    pt->have = 1;
out:
    free(ta);
    free(tw);
    free(ts);
    free(tcw);
    free(tcs);
    return rc;
}

static void json_num(struct allot_buf *b, double v)
{
    if (isfinite(v))
        allot_buf_addf(b, "%.6g", v);
    else
        allot_buf_adds(b, "null");
}

static void json_metrics(struct allot_buf *b, const struct allot_curve *c)
{
    allot_buf_adds(b, "{\"apgr\":");
    json_num(b, c->apgr);
    allot_buf_adds(b, ",\"cpt50\":");
    json_num(b, c->cpt50);
    allot_buf_adds(b, ",\"cpt80\":");
    json_num(b, c->cpt80);
    allot_buf_adds(b, "}");
}

static const char *pct(char *buf, size_t cap, double v)
{
    if (isfinite(v))
        snprintf(buf, cap, "%.1f%%", 100 * v);
    else
        snprintf(buf, cap, "never");
    return buf;
}

/* ---- the cascade over several models ---- */

/* {"threshold","quality","cost"}, or null when the point was not reached. */
static void json_cascade_point(struct allot_buf *b, const struct allot_cascade_point *pt)
{
    if (!pt) {
        allot_buf_adds(b, "null");
        return;
    }
    allot_buf_adds(b, "{\"threshold\":");
    json_num(b, pt->threshold);
    allot_buf_adds(b, ",\"quality\":");
    json_num(b, pt->quality);
    allot_buf_adds(b, ",\"cost\":");
    json_num(b, pt->cost);
    allot_buf_adds(b, "}");
}

static int run_cascade(const struct eval_opts *o, const struct allot_outcomes *oc,
                       struct allot_buf *out, struct allot_buf *err)
{
    char *list = strdup(o->cascade), *tok, *save = NULL;
    const char *names[MAX_CASCADE];
    size_t n_models = 0, i, h, n;
    struct allot_eval_data d;
    double *pred = NULL, *p[MAX_CASCADE] = {0}, *q[MAX_CASCADE] = {0}, *c[MAX_CASCADE] = {0};
    unsigned *fold = NULL;
    struct allot_cascade cas;
    int rc = 0, have_cas = 0;

    memset(&d, 0, sizeof d);
    if (!list)
        return ALLOT_ENOMEM;
    for (tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (n_models == MAX_CASCADE) {
            allot_buf_addf(err, "--cascade takes at most %d models", MAX_CASCADE);
            rc = ALLOT_EINVAL;
            goto out;
        }
        names[n_models++] = tok;
    }
    if (n_models < 2) {
        allot_buf_addf(err, "--cascade needs at least two models, cheapest first");
        rc = ALLOT_EINVAL;
        goto out;
    }
    if ((rc = allot_eval_data_build(oc, names, n_models, ALLOT_ACCEPT_HASH_BITS, o->prices,
                                    o->n_prices, o->completion, &d, err)))
        goto out;
    if (!d.priced) {
        allot_buf_addf(err, "--cascade needs a --price for every model in it");
        rc = ALLOT_EINVAL;
        goto out;
    }
    n = d.set.n;
    if (!(pred = malloc(n * n_models * sizeof *pred)) || !(fold = malloc(n * sizeof *fold))) {
        rc = ALLOT_ENOMEM;
        goto out;
    }
    if ((rc = allot_eval_cross_predict(&d, o->kfold, o->train.seed, &o->train, pred, fold, -1, -1,
                                       NULL, NULL))) {
        allot_buf_addf(err, "cross-validation: %s", allot_strerror(rc));
        goto out;
    }
    for (h = 0; h < n_models; h++) {
        if (!(p[h] = malloc(n * sizeof **p)) || !(q[h] = malloc(n * sizeof **q)) ||
            !(c[h] = malloc(n * sizeof **c))) {
            rc = ALLOT_ENOMEM;
            goto out;
        }
    }
    /* A model is good enough for a request when it is expected within a
     * whisker of the best model's expected quality: its acceptability
     * against the best head. The last (dearest) model always takes what
     * is left. */
    for (i = 0; i < n; i++) {
        const double *pr = pred + i * n_models;
        size_t best = 0;
        for (h = 1; h < n_models; h++)
            if (pr[h] > pr[best])
                best = h;
        for (h = 0; h < n_models; h++) {
            p[h][i] = allot_accept_score(pr, (int)h, (int)best);
            q[h][i] = d.raw[i * n_models + h];
            c[h][i] = d.cost[i * n_models + h];
        }
    }
    if ((rc = allot_cascade_build((const double *const *)p, (const double *const *)q,
                                  (const double *const *)c, n_models, n, &cas))) {
        allot_buf_addf(err, "cascade: %s", allot_strerror(rc));
        goto out;
    }
    have_cas = 1;
    {
        /* the cheapest point at the best single model's quality, and at 95% of it */
        const struct allot_cascade_point *at100 = NULL, *at95 = NULL;
        for (i = 0; i < cas.n; i++) {
            const struct allot_cascade_point *pt = &cas.pts[i];
            if (pt->quality >= cas.best_quality && (!at100 || pt->cost < at100->cost))
                at100 = pt;
            if (pt->quality >= 0.95 * cas.best_quality && (!at95 || pt->cost < at95->cost))
                at95 = pt;
        }
        if (o->json) {
            allot_buf_adds(out, "{\"cascade\":[");
            for (h = 0; h < n_models; h++) {
                allot_buf_adds(out, h ? "," : "");
                allot_buf_add_json_str(out, names[h], strlen(names[h]));
            }
            allot_buf_adds(out, "],\"rows\":");
            allot_buf_addf(out, "%zu,\"best_model\":", n);
            allot_buf_add_json_str(out, names[cas.best_model], strlen(names[cas.best_model]));
            allot_buf_adds(out, ",\"best_quality\":");
            json_num(out, cas.best_quality);
            allot_buf_adds(out, ",\"best_cost\":");
            json_num(out, cas.best_cost);
            allot_buf_adds(out, ",\"at_best_quality\":");
            json_cascade_point(out, at100);
            allot_buf_adds(out, ",\"at_95pct_quality\":");
            json_cascade_point(out, at95);
            allot_buf_adds(out, "}\n");
        } else {
            allot_buf_addf(out,
                           "cascade over %zu models (cheapest first), %zu requests, %u-fold "
                           "cross-validation\n",
                           n_models, n, o->kfold);
            allot_buf_addf(out, "best single model: %s, quality %.3f, cost $%.4f\n",
                           names[cas.best_model], cas.best_quality, cas.best_cost);
            if (at100)
                allot_buf_addf(out,
                               "cascade at that quality: quality %.3f, cost $%.4f (%.1f%% of "
                               "the best model's)\n",
                               at100->quality, at100->cost, 100 * at100->cost / cas.best_cost);
            else
                allot_buf_addf(out, "cascade at that quality: not reached\n");
            if (at95)
                allot_buf_addf(out,
                               "cascade at 95%% of it: quality %.3f, cost $%.4f (%.1f%% of the "
                               "best model's)\n",
                               at95->quality, at95->cost, 100 * at95->cost / cas.best_cost);
        }
    }
out:
    if (have_cas)
        allot_cascade_release(&cas);
    for (h = 0; h < MAX_CASCADE; h++) {
        free(p[h]);
        free(q[h]);
        free(c[h]);
    }
    free(pred);
    free(fold);
    allot_eval_data_release(&d);
    free(list);
    return rc;
}

/* ---- the weak/strong pair ---- */

static int run_pair(const struct eval_opts *o, const struct allot_outcomes *oc,
                    struct allot_buf *out, struct allot_buf *err)
{
    const char *names[2] = {o->weak, o->strong};
    struct allot_accept_model *m = NULL;
    struct allot_eval_data d;
    struct allot_curve router, random, oracle;
    struct pair p;
    struct point pt;
    double *pred = NULL, fixed = NAN, share = o->share, quality = o->quality;
    unsigned *fold = NULL, k = o->kfold;
    int weak = 0, strong = 1, rc = 0, have_curves = 0;
    uint64_t t0 = allot_clock_mono_us(), t_train = 0;
    size_t i, n;
    char b1[32], b2[32], b3[32];

    memset(&d, 0, sizeof d);
    memset(&p, 0, sizeof p);
    if (o->model_path) {
        if ((rc = allot_accept_model_load(o->model_path, &m, err)))
            goto out;
        weak = allot_accept_head(m, o->weak);
        strong = allot_accept_head(m, o->strong);
        if (weak < 0 || strong < 0) {
            allot_buf_addf(err, "model '%s' has no head for '%s'", o->model_path,
                           weak < 0 ? o->weak : o->strong);
            rc = ALLOT_EINVAL;
            goto out;
        }
        k = 0;
        if (isnan(share) && isnan(quality))
            fixed = m->threshold;
    }
    if (isnan(share) && isnan(quality) && isnan(fixed))
        share = 0.3;
    if ((rc = allot_eval_data_build(oc, names, 2, m ? m->hash_bits : ALLOT_ACCEPT_HASH_BITS,
                                    o->prices, o->n_prices, o->completion, &d, err)))
        goto out;
    n = d.set.n;
    if (!(pred = malloc(n * 2 * sizeof *pred)) || !(fold = calloc(n, sizeof *fold))) {
        rc = ALLOT_ENOMEM;
        goto out;
    }
    if (m) {
        double q[ALLOT_ACCEPT_MAX_HEADS];
        for (i = 0; i < n; i++) {
            allot_accept_predict_row(m, &d.set, i, q);
            pred[i * 2] = q[weak];
            pred[i * 2 + 1] = q[strong];
        }
    } else {
        uint64_t t1 = allot_clock_mono_us();
        if ((rc = allot_eval_cross_predict(&d, k, o->train.seed, &o->train, pred, fold, -1, -1,
                                           NULL, NULL))) {
            allot_buf_addf(err, "cross-validation: %s", allot_strerror(rc));
            goto out;
        }
        t_train = allot_clock_mono_us() - t1;
    }
    if ((rc = pair_build(&d, pred, fold, 0, 1, &p))) {
        if (rc == ALLOT_EINVAL)
            allot_buf_addf(err, "no request has a quality for both '%s' and '%s'", o->weak,
                           o->strong);
        goto out;
    }
    if ((rc = allot_curve_build(p.a, p.w, p.s, p.cw, p.cs, p.n, &router)) ||
        (rc = allot_curve_random(p.w, p.s, p.cw, p.cs, p.n, 100, &random)) ||
        (rc = allot_curve_oracle(p.w, p.s, p.cw, p.cs, p.n, &oracle))) {
        allot_buf_addf(err, "the curve: %s (the two models' qualities are equal?)",
                       allot_strerror(rc));
        goto out;
    }
    have_curves = 1;
    if ((rc = operating_point(&p, k, share, quality, fixed, router.q_weak, router.q_strong, &pt))) {
        allot_buf_addf(err, "no threshold reaches the target");
        goto out;
    }

    if (o->json) {
        allot_buf_adds(out, "{\"apgr\":");
        json_num(out, router.apgr);
        allot_buf_adds(out, ",\"cpt50\":");
        json_num(out, router.cpt50);
        allot_buf_adds(out, ",\"cpt80\":");
        json_num(out, router.cpt80);
        allot_buf_adds(out, ",\"strong_share\":");
        json_num(out, pt.share);
        allot_buf_adds(out, ",\"quality\":");
        json_num(out, pt.quality);
        allot_buf_adds(out, ",\"pgr\":");
        json_num(out, pt.pgr);
        allot_buf_adds(out, ",\"cost\":");
        json_num(out, pt.cost);
        allot_buf_adds(out, ",\"cost_vs_strong\":");
        json_num(out, pt.cost_ratio);
        allot_buf_adds(out, ",\"threshold\":");
        json_num(out, pt.threshold);
        allot_buf_adds(out, ",\"target\":{\"strong_share\":");
        json_num(out, share);
        allot_buf_adds(out, ",\"quality\":");
        json_num(out, quality);
        allot_buf_adds(out, "},\"weak\":");
        allot_buf_add_json_str(out, o->weak, strlen(o->weak));
        allot_buf_adds(out, ",\"strong\":");
        allot_buf_add_json_str(out, o->strong, strlen(o->strong));
        allot_buf_addf(out, ",\"rows\":%zu,\"excluded\":%zu,\"kfold\":%u,\"priced\":%s", p.n,
                       oc->n_excluded, k, d.priced ? "true" : "false");
        allot_buf_adds(out, ",\"quality_weak\":");
        json_num(out, router.q_weak);
        allot_buf_adds(out, ",\"quality_strong\":");
        json_num(out, router.q_strong);
        allot_buf_adds(out, ",\"cost_weak\":");
        json_num(out, router.cost_weak);
        allot_buf_adds(out, ",\"cost_strong\":");
        json_num(out, router.cost_strong);
        allot_buf_adds(out, ",\"fold_strong_share\":{\"min\":");
        json_num(out, pt.fold_share_min);
        allot_buf_adds(out, ",\"max\":");
        json_num(out, pt.fold_share_max);
        allot_buf_adds(out, "},\"baselines\":{\"random\":");
        json_metrics(out, &random);
        allot_buf_adds(out, ",\"oracle\":");
        json_metrics(out, &oracle);
        allot_buf_adds(out, "},\"curve\":[");
        for (i = 0; i < JSON_CURVE_POINTS; i++) {
            double s = (double)i / (JSON_CURVE_POINTS - 1), qv = allot_curve_quality_at(&router, s);
            allot_buf_adds(out, i ? ",{\"strong_share\":" : "{\"strong_share\":");
            json_num(out, s);
            allot_buf_adds(out, ",\"quality\":");
            json_num(out, qv);
            allot_buf_adds(out, ",\"pgr\":");
            json_num(out, (qv - router.q_weak) / (router.q_strong - router.q_weak));
            allot_buf_adds(out, ",\"cost\":");
            json_num(out, allot_curve_cost_at(&router, s));
            allot_buf_adds(out, "}");
        }
        allot_buf_addf(out, "],\"seconds\":{\"train\":%.3f,\"total\":%.3f}}\n", t_train / 1e6,
                       (double)(allot_clock_mono_us() - t0) / 1e6);
    } else {
        allot_buf_addf(out,
                       "allot eval: %zu requests (%zu left out as contaminated), weak '%s' "
                       "%.3f, strong '%s' %.3f\n",
                       p.n, oc->n_excluded, o->weak, router.q_weak, o->strong, router.q_strong);
        if (m)
            allot_buf_addf(out, "policy: acceptability model %s (trained on %u requests)\n",
                           o->model_path, m->n_examples);
        else
            allot_buf_addf(out,
                           "policy: acceptability model, %u-fold cross-validation (each request "
                           "scored by a model that did not see it)\n",
                           k);
        allot_buf_addf(out, "\n%-10s %8s %10s %10s\n", "", "APGR", "CPT(50%)", "CPT(80%)");
        allot_buf_addf(out, "%-10s %8.3f %10s %10s\n", "router", router.apgr,
                       pct(b1, sizeof b1, router.cpt50), pct(b2, sizeof b2, router.cpt80));
        allot_buf_addf(out, "%-10s %8.3f %10s %10s\n", "random", random.apgr,
                       pct(b1, sizeof b1, random.cpt50), pct(b2, sizeof b2, random.cpt80));
        allot_buf_addf(out, "%-10s %8.3f %10s %10s\n", "oracle", oracle.apgr,
                       pct(b1, sizeof b1, oracle.cpt50), pct(b2, sizeof b2, oracle.cpt80));
        allot_buf_addf(out, "\n%12s %9s %6s %14s\n", "strong calls", "quality", "PGR",
                       d.priced ? "cost vs strong" : "");
        for (i = 0; i <= 10; i++) {
            double s = i / 10.0, qv = allot_curve_quality_at(&router, s);
            allot_buf_addf(out, "%11.0f%% %9.3f %6.2f", 100 * s, qv,
                           (qv - router.q_weak) / (router.q_strong - router.q_weak));
            if (d.priced)
                allot_buf_addf(out, " %13.1f%%",
                               100 * allot_curve_cost_at(&router, s) / router.cost_strong);
            allot_buf_adds(out, "\n");
        }
        allot_buf_addf(out, "\noperating point (%s): threshold %.4f, strong calls %s",
                       !isnan(fixed)   ? "the model's threshold"
                       : !isnan(share) ? "target strong share"
                                       : "target quality",
                       pt.threshold, pct(b1, sizeof b1, pt.share));
        if (k)
            allot_buf_addf(out, " (folds %s to %s)", pct(b2, sizeof b2, pt.fold_share_min),
                           pct(b3, sizeof b3, pt.fold_share_max));
        allot_buf_addf(out, ", quality %.3f (PGR %.2f)", pt.quality, pt.pgr);
        if (d.priced)
            allot_buf_addf(out, ", cost $%.4f = %.1f%% of always-strong", pt.cost,
                           100 * pt.cost_ratio);
        allot_buf_adds(out, "\n");
        if (d.priced && d.estimated_prompts)
            allot_buf_addf(out,
                           "(prompt tokens estimated as bytes / 4 for %zu requests; completion "
                           "tokens assumed %lld where unknown)\n",
                           d.estimated_prompts, (long long)d.assumed_completion);
        if (!o->quiet)
            allot_buf_addf(out, "(%.2f s, of which training %.2f s)\n",
                           (double)(allot_clock_mono_us() - t0) / 1e6, t_train / 1e6);
    }
    if (o->plot) {
        struct allot_plot_series series[3] = {
            {"router", "allot (acceptability model)", &router, ALLOT_PLOT_SOLID},
            {"random", "random", &random, ALLOT_PLOT_DASHED},
            {"oracle", "oracle", &oracle, ALLOT_PLOT_DOTTED},
        };
        struct allot_plot pl;
        struct allot_buf svg;
        char title[512], label[128];
        FILE *fp;

        memset(&pl, 0, sizeof pl);
        snprintf(title, sizeof title, "Routing curve: APGR %.3f, CPT(50%%) %s, CPT(80%%) %s",
                 router.apgr, pct(b1, sizeof b1, router.cpt50), pct(b2, sizeof b2, router.cpt80));
        snprintf(label, sizeof label, "threshold %.3f: %.0f%% strong, quality %.3f", pt.threshold,
                 100 * pt.share, pt.quality);
        pl.title = title;
        pl.series = series;
        pl.n_series = 3;
        pl.q_weak = router.q_weak;
        pl.q_strong = router.q_strong;
        pl.weak_label = o->weak;
        pl.strong_label = o->strong;
        pl.has_point = 1;
        pl.point_x = pt.share;
        pl.point_y = pt.quality;
        pl.point_label = label;
        allot_buf_init(&svg, 16u << 20);
        rc = allot_plot_svg(&pl, &svg);
        if (!rc && (!(fp = fopen(o->plot, "w")) || fwrite(svg.ptr, 1, svg.len, fp) != svg.len ||
                    fclose(fp) != 0)) {
            allot_buf_addf(err, "--plot '%s': cannot write", o->plot);
            rc = ALLOT_EIO;
        }
        allot_buf_release(&svg);
    }
out:
    if (have_curves) {
        allot_curve_release(&router);
        allot_curve_release(&random);
        allot_curve_release(&oracle);
    }
    pair_release(&p);
    free(pred);
    free(fold);
    allot_eval_data_release(&d);
    allot_accept_model_free(m);
    return rc;
}

static int eval_main(int argc, char **argv)
{
    static const struct option opts[] = {{"data", required_argument, NULL, 'd'},
                                         {"weak", required_argument, NULL, 'w'},
                                         {"strong", required_argument, NULL, 's'},
                                         {"kfold", required_argument, NULL, 'k'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"plot", required_argument, NULL, 'p'},
                                         {"model", required_argument, NULL, 'm'},
                                         {"strong-share", required_argument, NULL, 'S'},
                                         {"quality", required_argument, NULL, 'Q'},
                                         {"price", required_argument, NULL, 'P'},
                                         {"cascade", required_argument, NULL, 'c'},
                                         {"completion-tokens", required_argument, NULL, 'C'},
                                         {"epochs", required_argument, NULL, 'e'},
                                         {"seed", required_argument, NULL, 'r'},
                                         {"quiet", no_argument, NULL, 'q'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    struct eval_opts o;
    struct allot_outcomes *oc = NULL;
    struct allot_buf out, err;
    double v;
    int c, rc = 1;

    memset(&o, 0, sizeof o);
    o.kfold = 5;
    o.share = o.quality = NAN;
    allot_accept_opts_default(&o.train);
    allot_buf_init(&out, 64u << 20);
    allot_buf_init(&err, 1 << 16);
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            o.data = optarg;
            break;
        case 'w':
            o.weak = optarg;
            break;
        case 's':
            o.strong = optarg;
            break;
        case 'k':
            if (parse_double(optarg, 2, 100, &v) || v != (unsigned)v)
                goto usage;
            o.kfold = (unsigned)v;
            break;
        case 'j':
            o.json = 1;
            break;
        case 'p':
            o.plot = optarg;
            break;
        case 'm':
            o.model_path = optarg;
            break;
        case 'S':
            if (parse_double(optarg, 0, 1, &o.share))
                goto usage;
            break;
        case 'Q':
            if (parse_double(optarg, 0, 1, &o.quality))
                goto usage;
            break;
        case 'P':
            if (o.n_prices == MAX_PRICES || parse_price(optarg, &o.prices[o.n_prices]))
                goto usage;
            o.n_prices++;
            break;
        case 'c':
            o.cascade = optarg;
            break;
        case 'C':
            if (parse_double(optarg, 0, 1e7, &v) || v != (double)(int64_t)v)
                goto usage;
            o.completion = (int64_t)v;
            break;
        case 'e':
            if (parse_double(optarg, 1, 1000, &v) || v != (unsigned)v)
                goto usage;
            o.train.epochs = (unsigned)v;
            break;
        case 'r':
            if (parse_double(optarg, 0, 1e18, &v) || v != (double)(uint64_t)v)
                goto usage;
            o.train.seed = (uint64_t)v;
            break;
        case 'q':
            o.quiet = 1;
            break;
        case 'h':
            allot_cli_usage(&allot_cli_eval);
            rc = 0;
            goto done;
        default:
            goto usage;
        }
    }
    if (optind != argc || !o.data || (!o.cascade && (!o.weak || !o.strong)) ||
        (!isnan(o.share) && !isnan(o.quality)))
        goto usage;
    if ((rc = allot_outcomes_load(o.data, NULL, &oc, &err))) {
        fprintf(stderr, "allot eval: %s\n", allot_buf_cstr(&err));
        rc = 1;
        goto done;
    }
    rc = o.cascade ? run_cascade(&o, oc, &out, &err) : run_pair(&o, oc, &out, &err);
    if (rc) {
        fprintf(stderr, "allot eval: %s\n", err.len ? allot_buf_cstr(&err) : allot_strerror(rc));
        rc = 1;
        goto done;
    }
    fwrite(out.ptr, 1, out.len, stdout);
    rc = 0;
    goto done;
usage:
    fprintf(stderr, "allot eval: bad arguments (see allot eval --help)\n");
    rc = 2;
done:
    allot_outcomes_free(oc);
    allot_buf_release(&out);
    allot_buf_release(&err);
    return rc;
}

const struct allot_cli_cmd allot_cli_eval = {
    "eval",
    "replay a routing policy over recorded outcomes: APGR, CPT, cost, a plot",
    "usage: allot eval --data PATH --weak MODEL --strong MODEL [options]\n"
    "       allot eval --data PATH --cascade M1,M2,... --price M=IN,OUT ... [options]\n"
    "\n"
    "Replay the acceptability policy over recorded outcomes without calling any model\n"
    "(docs/eval.md). PATH: a .csv or .jsonl file, or a directory of files of one format\n"
    "(docs/outcomes.md), e.g. ../shared/data/routellm_mmlu. Each request is scored by a\n"
    "model trained on the other folds (k-fold cross-validation), or by --model FILE.\n"
    "Prints APGR, CPT(50%) and CPT(80%) for the policy, random routing and the oracle,\n"
    "quality against the share of strong calls, and the operating point.\n"
    "\n"
    "  --data PATH            the outcomes\n"
    "  --weak M, --strong M   the two models (names as in the data)\n"
    "  --kfold K              cross-validation folds (default 5)\n"
    "  --model FILE           a model from `allot train outcomes` instead of cross-validation\n"
    "  --strong-share S       operating point: this share of strong calls (default 0.3)\n"
    "  --quality Q            operating point: this fraction of the strong model's quality\n"
    "  --price M=IN,OUT       USD per million input/output tokens of model M (repeatable);\n"
    "                         with prices for both, costs are in USD, else strong calls\n"
    "  --completion-tokens N  completion tokens assumed where the data has none (default 0)\n"
    "  --cascade M1,M2,...    a tier of models, cheapest first: each request goes to the first\n"
    "                         one predicted good enough; quality and cost against the best\n"
    "                         single model (needs --price for each)\n"
    "  --plot FILE.svg        write the curve as an SVG chart\n"
    "  --json                 one JSON object: apgr, cpt50, cpt80, strong_share, quality,\n"
    "                         cost, ... with baselines.random and baselines.oracle\n"
    "  --epochs N, --seed N   training (defaults 8, 1)\n"
    "  --quiet                no timing line\n",
    eval_main,
};
