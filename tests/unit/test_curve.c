/* test_curve.c: routing curves, APGR, CPT, calibration and the cascade
 * (src/eval/curve.c) on small tables worked out by hand. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include "allot/curve.h"
#include "allot/error.h"
#include "test.h"

#define EPS 1e-12
#define N_A 8

/* Table A: 8 requests, correct (1) or not (0), the router's scores in row
 * order.
 *
 *   i   p    w  s  s-w
 *   0  0.1   0  1  +1
 *   1  0.2   0  1  +1
 *   2  0.3   1  1   0
 *   3  0.4   0  0   0
 *   4  0.5   1  0  -1
 *   5  0.6   0  1  +1
 *   6  0.7   1  1   0
 *   7  0.8   1  1   0
 *
 * sum w = 4, Q_weak = 0.5; sum s = 6, Q_strong = 0.75; total gain 2.
 * Strong takes the k lowest scores; gain G(k) = 0 1 2 2 2 1 2 2 2,
 * quality (4 + G) / 8, PGR G / 2:
 *   k      0    1     2    3    4    5     6    7    8
 *   q     .5  .625  .75  .75  .75  .625  .75  .75  .75
 *   pgr    0   .5    1    1    1   .5     1    1    1
 * APGR = 1/8 * (.25 + .75 + 1 + 1 + .75 + .75 + 1 + 1) = 6.5/8 = 0.8125.
 * CPT50: PGR reaches .5 at k = 1: share 1/8 = 0.125.
 * CPT80: between k = 1 (.5) and k = 2 (1): 1/8 + (.3/.5)/8 = 0.2.
 * (The dip at k = 5 does not matter: CPT is the first crossing.) */
static const double pa[N_A] = {0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8};
static const double wa[N_A] = {0, 0, 1, 0, 1, 0, 1, 1};
static const double sa[N_A] = {1, 1, 1, 0, 0, 1, 1, 1};

TEST(curve_router_hand_table)
{
    static const double q[9] = {.5, .625, .75, .75, .75, .625, .75, .75, .75};
    static const double pgr[9] = {0, .5, 1, 1, 1, .5, 1, 1, 1};
    struct allot_curve c;
    size_t k;

    ASSERT_INT_EQ(allot_curve_build(pa, wa, sa, NULL, NULL, N_A, &c), 0);
    ASSERT_INT_EQ(c.n, 9);
    ASSERT_DBL_NEAR(c.q_weak, 0.5, 0);
    ASSERT_DBL_NEAR(c.q_strong, 0.75, 0);
    for (k = 0; k < 9; k++) {
        ASSERT_DBL_NEAR(c.pts[k].strong_share, k / 8.0, 0);
        ASSERT_DBL_NEAR(c.pts[k].quality, q[k], EPS);
        ASSERT_DBL_NEAR(c.pts[k].pgr, pgr[k], 0);
        /* the threshold is the smallest score left on weak */
        if (k < 8)
            ASSERT_DBL_NEAR(c.pts[k].threshold, pa[k], 0);
        /* no costs given: the cost counts the strong calls */
        ASSERT_DBL_NEAR(c.pts[k].cost, (double)k, 0);
    }
    ASSERT(c.pts[8].threshold > 0.8 && c.pts[8].threshold == nextafter(0.8, 1.0));
    ASSERT_DBL_NEAR(c.cost_weak, 0, 0);
    ASSERT_DBL_NEAR(c.cost_strong, 8, 0);
    ASSERT_DBL_NEAR(c.apgr, 0.8125, EPS);
    ASSERT_DBL_NEAR(c.cpt50, 0.125, EPS);
    ASSERT_DBL_NEAR(c.cpt80, 0.2, EPS);
    /* interpolation between k = 1 and k = 2 */
    ASSERT_DBL_NEAR(allot_curve_quality_at(&c, 0.1875), (.625 + .75) / 2, EPS);
    ASSERT_DBL_NEAR(allot_curve_quality_at(&c, 1.0), 0.75, 0);
    ASSERT(isnan(allot_curve_quality_at(&c, 1.5)));
    ASSERT(isnan(allot_curve_quality_at(&c, NAN)));
    /* at most that share: 0.3 lies between 2/8 and 3/8 */
    ASSERT_DBL_NEAR(allot_curve_threshold_at(&c, 0.3), 0.3, 0);
    ASSERT_DBL_NEAR(allot_curve_threshold_at(&c, 0.25), 0.3, 0);
    ASSERT_DBL_NEAR(allot_curve_threshold_at(&c, 0.0), 0.1, 0);
    allot_curve_release(&c);
    ASSERT(c.pts == NULL && c.n == 0);
    allot_curve_release(&c); /* twice is harmless */
}

/* The oracle on table A: gains +1 for rows 0 1 5, 0 for 2 3 6 7, -1 for
 * row 4; equal gains are one step:
 *   share   0    3/8    7/8   1
 *   gain    0     3      3    2
 *   q      .5   .875   .875  .75
 *   pgr     0    1.5    1.5   1
 * APGR = 3/8 * .75 + 4/8 * 1.5 + 1/8 * 1.25 = .28125 + .75 + .15625 = 1.1875.
 * CPT50 = (.5 / 1.5) * 3/8 = 0.125, CPT80 = (.8 / 1.5) * 3/8 = 0.2. */
TEST(curve_oracle_hand_table)
{
    struct allot_curve c;

    ASSERT_INT_EQ(allot_curve_oracle(wa, sa, NULL, NULL, N_A, &c), 0);
    ASSERT_INT_EQ(c.n, 4);
    ASSERT_DBL_NEAR(c.pts[1].strong_share, 3 / 8.0, 0);
    ASSERT_DBL_NEAR(c.pts[2].strong_share, 7 / 8.0, 0);
    ASSERT_DBL_NEAR(c.pts[1].quality, 0.875, EPS);
    ASSERT_DBL_NEAR(c.pts[2].quality, 0.875, EPS);
    ASSERT_DBL_NEAR(c.pts[3].quality, 0.75, 0);
    ASSERT_DBL_NEAR(c.pts[1].pgr, 1.5, 0);
    ASSERT_DBL_NEAR(c.pts[3].pgr, 1.0, 0);
    ASSERT_DBL_NEAR(c.apgr, 1.1875, EPS);
    ASSERT_DBL_NEAR(c.cpt50, 0.125, EPS);
    ASSERT_DBL_NEAR(c.cpt80, 0.2, EPS);
    ASSERT(isnan(c.pts[1].threshold));
    ASSERT(isnan(allot_threshold_for_quality(&c, 0.9)));
    allot_curve_release(&c);
}

static int same_points(const struct allot_curve *a, const struct allot_curve *b)
{
    size_t k;
    if (a->n != b->n)
        return 0;
    for (k = 0; k < a->n; k++)
        if (a->pts[k].strong_share != b->pts[k].strong_share ||
            a->pts[k].quality != b->pts[k].quality || a->pts[k].pgr != b->pts[k].pgr ||
            a->pts[k].cost != b->pts[k].cost)
            return 0;
    return 1;
}

/* A router whose scores rank the requests by gain is the oracle: with the
 * scores w - s (ties within equal gains) the very same points; with
 * distinct scores in the same order more points on the same lines. */
TEST(curve_perfect_ranking_is_the_oracle)
{
    double p[N_A];
    struct allot_curve oracle, tied, distinct;
    size_t i;
    int k;

    ASSERT_INT_EQ(allot_curve_oracle(wa, sa, NULL, NULL, N_A, &oracle), 0);
    for (i = 0; i < N_A; i++)
        p[i] = wa[i] - sa[i];
    ASSERT_INT_EQ(allot_curve_build(p, wa, sa, NULL, NULL, N_A, &tied), 0);
    ASSERT(same_points(&tied, &oracle));
    ASSERT_DBL_NEAR(tied.apgr, oracle.apgr, 0);
    for (i = 0; i < N_A; i++)
        p[i] = wa[i] - sa[i] + 0.01 * (double)i;
    ASSERT_INT_EQ(allot_curve_build(p, wa, sa, NULL, NULL, N_A, &distinct), 0);
    ASSERT_INT_EQ(distinct.n, 9);
    for (k = 0; k <= 64; k++)
        ASSERT_DBL_NEAR(allot_curve_quality_at(&distinct, k / 64.0),
                        allot_curve_quality_at(&oracle, k / 64.0), EPS);
    ASSERT_DBL_NEAR(distinct.apgr, oracle.apgr, EPS);
    allot_curve_release(&oracle);
    allot_curve_release(&tied);
    allot_curve_release(&distinct);
}

/* A constant score is one tie: the two-point curve, APGR 0.5 like random.
 * Were the tie broken in row order, table A (whose rows happen to start
 * with the strong model's wins) would score the router's 0.8125. */
TEST(curve_constant_score_is_random)
{
    double p[N_A];
    struct allot_curve c, r;
    size_t i;

    for (i = 0; i < N_A; i++)
        p[i] = 0.5;
    ASSERT_INT_EQ(allot_curve_build(p, wa, sa, NULL, NULL, N_A, &c), 0);
    ASSERT_INT_EQ(c.n, 2);
    ASSERT_DBL_NEAR(c.pts[0].strong_share, 0, 0);
    ASSERT_DBL_NEAR(c.pts[0].quality, 0.5, 0);
    ASSERT_DBL_NEAR(c.pts[0].threshold, 0.5, 0);
    ASSERT_DBL_NEAR(c.pts[1].strong_share, 1, 0);
    ASSERT_DBL_NEAR(c.pts[1].quality, 0.75, 0);
    ASSERT(c.pts[1].threshold > 0.5);
    ASSERT_DBL_NEAR(c.apgr, 0.5, 0);
    ASSERT_DBL_NEAR(c.cpt50, 0.5, 0);
    ASSERT_DBL_NEAR(c.cpt80, 0.8, 0);
    ASSERT_INT_EQ(allot_curve_random(wa, sa, NULL, NULL, N_A, 10, &r), 0);
    ASSERT_DBL_NEAR(c.apgr, r.apgr, EPS);
    allot_curve_release(&c);
    allot_curve_release(&r);
}

/* Scores s - w send the losses to strong first:
 *   share   0    1/8   5/8   1
 *   gain    0    -1    -1    2
 *   pgr     0   -.5   -.5    1     (not clipped)
 * APGR = 1/8 * -.25 + 4/8 * -.5 + 3/8 * .25 = -0.1875, below random.
 * CPT50 = 5/8 + (1/1.5) * 3/8 = 0.875, CPT80 = 5/8 + (1.3/1.5) * 3/8 = 0.95. */
TEST(curve_reversed_ranking_is_worse_than_random)
{
    double p[N_A];
    struct allot_curve c;
    size_t i;

    for (i = 0; i < N_A; i++)
        p[i] = sa[i] - wa[i];
    ASSERT_INT_EQ(allot_curve_build(p, wa, sa, NULL, NULL, N_A, &c), 0);
    ASSERT_INT_EQ(c.n, 4);
    ASSERT_DBL_NEAR(c.pts[1].pgr, -0.5, 0);
    ASSERT_DBL_NEAR(c.pts[2].pgr, -0.5, 0);
    ASSERT_DBL_NEAR(c.pts[1].quality, 0.375, EPS);
    ASSERT_DBL_NEAR(c.apgr, -0.1875, EPS);
    ASSERT(c.apgr < 0.5);
    ASSERT_DBL_NEAR(c.cpt50, 0.875, EPS);
    ASSERT_DBL_NEAR(c.cpt80, 0.95, EPS);
    allot_curve_release(&c);
}

/* Random routing, exactly: PGR = share, APGR 0.5, CPT50 0.5, quality and
 * cost linear in the share. Costs on table A: weak 1 each (8 in all),
 * strong 10 + i (108 in all), so at share x the cost is 8 + 100 x. */
TEST(curve_random_is_the_diagonal)
{
    static const double cw[N_A] = {1, 1, 1, 1, 1, 1, 1, 1};
    static const double cs[N_A] = {10, 11, 12, 13, 14, 15, 16, 17};
    struct allot_curve c, odd;
    size_t k;

    ASSERT_INT_EQ(allot_curve_random(wa, sa, cw, cs, N_A, 10, &c), 0);
    ASSERT_INT_EQ(c.n, 11);
    for (k = 0; k <= 10; k++) {
        ASSERT_DBL_NEAR(c.pts[k].strong_share, k / 10.0, 0);
        ASSERT_DBL_NEAR(c.pts[k].pgr, k / 10.0, 0);
        ASSERT_DBL_NEAR(c.pts[k].quality, 0.5 + 0.25 * (k / 10.0), EPS);
        ASSERT_DBL_NEAR(c.pts[k].cost, 8 + 100 * (k / 10.0), 1e-9);
        ASSERT(isnan(c.pts[k].threshold));
    }
    ASSERT_DBL_NEAR(c.apgr, 0.5, EPS);
    ASSERT_DBL_NEAR(c.cpt50, 0.5, 0);
    ASSERT_DBL_NEAR(c.cpt80, 0.8, EPS);
    ASSERT_DBL_NEAR(allot_curve_quality_at(&c, 0.35), 0.5875, EPS);
    ASSERT_DBL_NEAR(allot_curve_cost_at(&c, 0.35), 43, 1e-9);
    ASSERT_DBL_NEAR(c.pts[0].cost, c.cost_weak, 0);
    ASSERT_DBL_NEAR(c.pts[10].cost, c.cost_strong, 0);
    ASSERT(isnan(allot_curve_threshold_at(&c, 0.5)));
    /* an odd step count has no point at 0.5: CPT50 interpolates to it */
    ASSERT_INT_EQ(allot_curve_random(wa, sa, cw, cs, N_A, 3, &odd), 0);
    ASSERT_DBL_NEAR(odd.cpt50, 0.5, EPS);
    ASSERT_DBL_NEAR(odd.apgr, 0.5, EPS);
    allot_curve_release(&c);
    allot_curve_release(&odd);
}

/* Table C: six requests, three tied at 0.5 and two at 0.9.
 *   i   p    w  s  s-w
 *   0  0.2   0  1  +1
 *   1  0.5   1  1   0
 *   2  0.5   0  1  +1
 *   3  0.5   0  0   0
 *   4  0.9   1  1   0
 *   5  0.9   1  0  -1
 * Q_weak = 3/6, Q_strong = 4/6, total gain 1. One point per distinct
 * score plus share 0; nothing at 2/6 or 3/6, where a threshold would have
 * to split the tie:
 *   share   0    1/6   4/6   1
 *   gain    0     1     2    1
 *   q     3/6   4/6   5/6   4/6
 *   pgr     0     1     2    1
 * APGR = 1/6 * .5 + 3/6 * 1.5 + 2/6 * 1.5 = 16/12; CPT50 = 1/12,
 * CPT80 = .8/6. Inside the tie the curve is the straight segment, the
 * expectation under a random tie-break: at share 2.5/6, PGR 1.5, quality
 * 3/6 + 1.5/6 = 0.75. */
TEST(curve_ties_are_one_step)
{
    static const double p[6] = {0.2, 0.5, 0.5, 0.5, 0.9, 0.9};
    static const double w[6] = {0, 1, 0, 0, 1, 1};
    static const double s[6] = {1, 1, 1, 0, 1, 0};
    /* the same requests, rows reversed: the tie order changes */
    static const double pr[6] = {0.9, 0.9, 0.5, 0.5, 0.5, 0.2};
    static const double wr[6] = {1, 1, 0, 0, 1, 0};
    static const double sr[6] = {0, 1, 0, 1, 1, 1};
    struct allot_curve c, r;

    ASSERT_INT_EQ(allot_curve_build(p, w, s, NULL, NULL, 6, &c), 0);
    ASSERT_INT_EQ(c.n, 4);
    ASSERT_DBL_NEAR(c.pts[1].strong_share, 1 / 6.0, 0);
    ASSERT_DBL_NEAR(c.pts[2].strong_share, 4 / 6.0, 0);
    ASSERT_DBL_NEAR(c.pts[1].pgr, 1, 0);
    ASSERT_DBL_NEAR(c.pts[2].pgr, 2, 0);
    ASSERT_DBL_NEAR(c.pts[2].quality, 5 / 6.0, EPS);
    ASSERT_DBL_NEAR(c.pts[1].threshold, 0.5, 0);
    ASSERT_DBL_NEAR(c.pts[2].threshold, 0.9, 0);
    ASSERT_DBL_NEAR(c.apgr, 16 / 12.0, EPS);
    ASSERT_DBL_NEAR(c.cpt50, 1 / 12.0, EPS);
    ASSERT_DBL_NEAR(c.cpt80, 0.8 / 6, EPS);
    ASSERT_DBL_NEAR(allot_curve_quality_at(&c, 2.5 / 6), 0.75, EPS);
    /* a share inside the tie cannot be had with a threshold: at most it */
    ASSERT_DBL_NEAR(allot_curve_threshold_at(&c, 3 / 6.0), 0.5, 0);
    ASSERT_INT_EQ(allot_curve_build(pr, wr, sr, NULL, NULL, 6, &r), 0);
    ASSERT(same_points(&c, &r));
    ASSERT_DBL_NEAR(r.apgr, c.apgr, 0);
    allot_curve_release(&c);
    allot_curve_release(&r);
}

/* Costs on table A: weak 1 each, strong 10 + i. cost_weak 8, cost_strong
 * 108; the router takes rows in order, so its cost at k is 8 + the extra
 * (9 + i) of rows 0..k-1: 8, 17, 27, ... The oracle takes rows 0 1 5
 * (extra 9 + 10 + 14 = 33: 41), then 2 3 6 7 (+54: 95), then 4 (+13). */
TEST(curve_costs_run_from_weak_to_strong)
{
    static const double cw[N_A] = {1, 1, 1, 1, 1, 1, 1, 1};
    static const double cs[N_A] = {10, 11, 12, 13, 14, 15, 16, 17};
    struct allot_curve c, o;

    ASSERT_INT_EQ(allot_curve_build(pa, wa, sa, cw, cs, N_A, &c), 0);
    ASSERT_DBL_NEAR(c.cost_weak, 8, 0);
    ASSERT_DBL_NEAR(c.cost_strong, 108, 0);
    ASSERT_DBL_NEAR(c.pts[0].cost, 8, 0);
    ASSERT_DBL_NEAR(c.pts[1].cost, 17, 0);
    ASSERT_DBL_NEAR(c.pts[2].cost, 27, 0);
    ASSERT_DBL_NEAR(c.pts[8].cost, 108, 0);
    ASSERT_DBL_NEAR(allot_curve_cost_at(&c, 0.0), 8, 0);
    ASSERT_DBL_NEAR(allot_curve_cost_at(&c, 1.0), 108, 0);
    ASSERT_DBL_NEAR(allot_curve_cost_at(&c, 1 / 16.0), 12.5, EPS);
    ASSERT_INT_EQ(allot_curve_oracle(wa, sa, cw, cs, N_A, &o), 0);
    ASSERT_DBL_NEAR(o.pts[0].cost, 8, 0);
    ASSERT_DBL_NEAR(o.pts[1].cost, 41, 0);
    ASSERT_DBL_NEAR(o.pts[2].cost, 95, 0);
    ASSERT_DBL_NEAR(o.pts[3].cost, 108, 0);
    /* only strong costs given: weak calls are free */
    allot_curve_release(&c);
    ASSERT_INT_EQ(allot_curve_build(pa, wa, sa, NULL, cs, N_A, &c), 0);
    ASSERT_DBL_NEAR(c.pts[0].cost, 0, 0);
    ASSERT_DBL_NEAR(c.pts[2].cost, 21, 0);
    ASSERT_DBL_NEAR(c.cost_strong, 108, 0);
    allot_curve_release(&c);
    allot_curve_release(&o);
}

/* On table A (Q_strong 0.75): 100% of strong is 0.75, first reached at
 * k = 2, threshold 0.3; 80% is 0.6, at k = 1, threshold 0.2; 50% at k = 0
 * (the lowest score: nothing to strong); 120% never. */
TEST(curve_threshold_for_quality)
{
    struct allot_curve c;

    ASSERT_INT_EQ(allot_curve_build(pa, wa, sa, NULL, NULL, N_A, &c), 0);
    ASSERT_DBL_NEAR(allot_threshold_for_quality(&c, 1.0), 0.3, 0);
    ASSERT_DBL_NEAR(allot_threshold_for_quality(&c, 0.8), 0.2, 0);
    ASSERT_DBL_NEAR(allot_threshold_for_quality(&c, 0.5), 0.1, 0);
    ASSERT(isnan(allot_threshold_for_quality(&c, 1.2)));
    ASSERT(isnan(allot_threshold_for_quality(&c, NAN)));
    ASSERT(isnan(allot_threshold_for_quality(NULL, 0.9)));
    /* the same points' shares: what each target costs in strong calls */
    ASSERT_DBL_NEAR(allot_share_for_quality(&c, 1.0), c.pts[2].strong_share, 0);
    ASSERT_DBL_NEAR(allot_share_for_quality(&c, 0.8), c.pts[1].strong_share, 0);
    ASSERT_DBL_NEAR(allot_share_for_quality(&c, 0.5), 0, 0);
    ASSERT(c.pts[1].strong_share > 0 && c.pts[2].strong_share > c.pts[1].strong_share);
    ASSERT(isnan(allot_share_for_quality(&c, 1.2)));
    ASSERT(isnan(allot_share_for_quality(NULL, 0.9)));
    allot_curve_release(&c);
}

static size_t count_below(const double *p, size_t n, double t)
{
    size_t i, k = 0;
    for (i = 0; i < n; i++)
        k += p[i] < t;
    return k;
}

TEST(curve_threshold_for_share)
{
    static const double targets[] = {0,   0.0004, 0.001, 0.0015, 0.25,   1 / 3.0,
                                     0.5, 0.7777, 0.999, 0.9995, 0.9999, 1};
    double *distinct = malloc(1000 * sizeof *distinct), *pairs = malloc(1000 * sizeof *pairs);
    double *tens = malloc(1000 * sizeof *tens);
    size_t i, k;

    ASSERT(distinct && pairs && tens);
    for (i = 0; i < 1000; i++) {
        distinct[i] = (double)((i * 7919) % 1000) / 1000.0; /* a permutation */
        pairs[i] = (double)((i * 7919) % 500) / 500.0;      /* each value twice */
        tens[i] = (double)(i % 10) / 10.0;                  /* ten values, 100 each */
    }
    for (k = 0; k < sizeof targets / sizeof targets[0]; k++) {
        double want = targets[k] * 1000, t;
        /* no ties: the nearest count, within 1/(2n) */
        t = allot_threshold_for_share(distinct, 1000, targets[k]);
        ASSERT(fabs((double)count_below(distinct, 1000, t) - want) <= 0.5);
        /* ties of two: within 1/n */
        t = allot_threshold_for_share(pairs, 1000, targets[k]);
        ASSERT(fabs((double)count_below(pairs, 1000, t) - want) <= 1.0);
    }
    ASSERT_INT_EQ(count_below(distinct, 1000, allot_threshold_for_share(distinct, 1000, 0)), 0);
    ASSERT_INT_EQ(count_below(pairs, 1000, allot_threshold_for_share(pairs, 1000, 1)), 1000);
    /* the threshold is the smallest score left on weak */
    ASSERT_DBL_NEAR(allot_threshold_for_share(distinct, 1000, 0.25), 0.25, 0);
    /* big ties: reachable shares are multiples of 0.1; nearest, lower on a
     * draw */
    ASSERT_INT_EQ(count_below(tens, 1000, allot_threshold_for_share(tens, 1000, 0.33)), 300);
    ASSERT_INT_EQ(count_below(tens, 1000, allot_threshold_for_share(tens, 1000, 0.35)), 300);
    ASSERT_INT_EQ(count_below(tens, 1000, allot_threshold_for_share(tens, 1000, 0.36)), 400);
    ASSERT_INT_EQ(count_below(tens, 1000, allot_threshold_for_share(tens, 1000, 0.97)), 1000);
    ASSERT_INT_EQ(count_below(tens, 1000, allot_threshold_for_share(tens, 1000, 0.0)), 0);
    /* bad arguments */
    ASSERT(isnan(allot_threshold_for_share(distinct, 1000, -0.01)));
    ASSERT(isnan(allot_threshold_for_share(distinct, 1000, 1.01)));
    ASSERT(isnan(allot_threshold_for_share(distinct, 1000, NAN)));
    ASSERT(isnan(allot_threshold_for_share(distinct, 0, 0.5)));
    ASSERT(isnan(allot_threshold_for_share(NULL, 10, 0.5)));
    distinct[17] = NAN;
    ASSERT(isnan(allot_threshold_for_share(distinct, 1000, 0.5)));
    free(distinct);
    free(pairs);
    free(tens);
}

TEST(curve_errors_leave_out_untouched)
{
    static const double w[4] = {1, 0, 1, 0}, s[4] = {0, 1, 1, 0}; /* Q equal: 0.5 */
    static const double p[4] = {0.1, 0.2, 0.3, 0.4};
    double bad[N_A];
    struct allot_curve c;
    size_t i;

    c.n = 12345;
    c.pts = NULL;
    ASSERT_INT_EQ(allot_curve_build(pa, wa, sa, NULL, NULL, 0, &c), ALLOT_EINVAL);
    ASSERT_INT_EQ(allot_curve_random(wa, sa, NULL, NULL, 0, 10, &c), ALLOT_EINVAL);
    ASSERT_INT_EQ(allot_curve_oracle(wa, sa, NULL, NULL, 0, &c), ALLOT_EINVAL);
    ASSERT_INT_EQ(allot_curve_build(p, w, s, NULL, NULL, 4, &c), ALLOT_EINVAL);
    ASSERT_INT_EQ(allot_curve_random(w, s, NULL, NULL, 4, 10, &c), ALLOT_EINVAL);
    ASSERT_INT_EQ(allot_curve_oracle(w, s, NULL, NULL, 4, &c), ALLOT_EINVAL);
    ASSERT_INT_EQ(allot_curve_random(wa, sa, NULL, NULL, N_A, 0, &c), ALLOT_EINVAL);
    ASSERT_INT_EQ(allot_curve_build(NULL, wa, sa, NULL, NULL, N_A, &c), ALLOT_EINVAL);
    ASSERT_INT_EQ(allot_curve_build(pa, NULL, sa, NULL, NULL, N_A, &c), ALLOT_EINVAL);
    ASSERT_INT_EQ(allot_curve_build(pa, wa, sa, NULL, NULL, N_A, NULL), ALLOT_EINVAL);
    for (i = 0; i < N_A; i++)
        bad[i] = wa[i];
    bad[3] = NAN; /* an unknown outcome the caller should have dropped */
    ASSERT_INT_EQ(allot_curve_build(pa, bad, sa, NULL, NULL, N_A, &c), ALLOT_EINVAL);
    ASSERT_INT_EQ(allot_curve_oracle(wa, sa, bad, NULL, N_A, &c), ALLOT_EINVAL);
    bad[3] = INFINITY;
    ASSERT_INT_EQ(allot_curve_build(bad, wa, sa, NULL, NULL, N_A, &c), ALLOT_EINVAL);
    ASSERT_INT_EQ(c.n, 12345);
    ASSERT(c.pts == NULL);
}

/* Judge scores (not 0/1) on 2,000 synthetic requests: the invariants the
 * hand tables cannot show at scale. */
TEST(curve_invariants_on_judge_scores)
{
    enum { N = 2000 };
    double *p = malloc(N * sizeof *p), *w = malloc(N * sizeof *w), *s = malloc(N * sizeof *s);
    struct allot_curve c, o, r;
    uint32_t x = 12345;
    size_t i, k;

    ASSERT(p && w && s);
    for (i = 0; i < N; i++) {
        x = x * 1664525u + 1013904223u;
        w[i] = (double)((x >> 8) & 0xff) / 25.5; /* 0..10 */
        x = x * 1664525u + 1013904223u;
        s[i] = fmin(10.0, w[i] + (double)((x >> 8) & 0xff) / 64.0 - 1.0);
        x = x * 1664525u + 1013904223u;
        /* a noisy router, scores on a 0.01 grid (so there are ties) */
        p[i] =
            round(100.0 * (0.5 - (s[i] - w[i]) / 10.0 + (double)((x >> 8) & 0xff) / 900.0)) / 100.0;
    }
    ASSERT_INT_EQ(allot_curve_build(p, w, s, NULL, NULL, N, &c), 0);
    ASSERT_INT_EQ(allot_curve_oracle(w, s, NULL, NULL, N, &o), 0);
    ASSERT_INT_EQ(allot_curve_random(w, s, NULL, NULL, N, 100, &r), 0);
    ASSERT(c.n < N + 1); /* the ties merged */
    ASSERT_DBL_NEAR(c.pts[0].quality, c.q_weak, 0);
    ASSERT_DBL_NEAR(c.pts[c.n - 1].quality, c.q_strong, 0);
    ASSERT_DBL_NEAR(o.q_strong, c.q_strong, 0);
    for (k = 0; k < c.n; k++) {
        const struct allot_curve_point *pt = &c.pts[k];
        if (k)
            ASSERT(pt->strong_share > c.pts[k - 1].strong_share);
        ASSERT_DBL_NEAR(pt->pgr, (pt->quality - c.q_weak) / (c.q_strong - c.q_weak), 1e-9);
        /* "p < threshold" gives exactly the point's share */
        ASSERT_DBL_NEAR((double)count_below(p, N, pt->threshold) / N, pt->strong_share, 0);
    }
    for (k = 0; k <= 200; k++) {
        double x1 = k / 200.0;
        ASSERT(allot_curve_quality_at(&o, x1) >= allot_curve_quality_at(&c, x1) - 1e-9);
    }
    ASSERT(o.apgr > c.apgr && c.apgr > r.apgr);
    ASSERT_DBL_NEAR(r.apgr, 0.5, EPS);
    allot_curve_release(&c);
    allot_curve_release(&o);
    allot_curve_release(&r);
    free(p);
    free(w);
    free(s);
}

/* The cascade on three models (cheapest first), four requests:
 *
 *   req  p0   p1   q0 q1  q2   costs 1, 3, 10 for every request
 *    0   .9   .8    1  1   1
 *    1   .3   .7    0  1   1
 *    2   .6   .2    1  0   1
 *    3   .1   .5    0  ?   1       (? = unknown)
 *
 * Request i goes to the first model with p >= t, else model 2:
 *   req 0: model 0 while t <= .9, then 2 (p1 = .8 < t)
 *   req 1: 0 while t <= .3, 1 while t <= .7, then 2
 *   req 2: 0 while t <= .6, then 2 (p1 = .2 < t)
 *   req 3: 0 while t <= .1, 1 while t <= .5, then 2
 * Points where a request moves (t = .3 and .9 move nobody):
 *   t      choices   cost               known  quality
 *   .1     0 0 0 0   4                  4      2/4
 *   .2     0 0 0 1   1+1+1+3 = 6        3      2/3
 *   .5     0 1 0 1   1+3+1+3 = 8        3      3/3
 *   .6     0 1 0 2   1+3+1+10 = 15      4      1
 *   .7     0 1 2 2   24                 4      1
 *   .8     0 2 2 2   31                 4      1
 *   >.9    2 2 2 2   40                 4      1
 * Single models: 0 has 2/4 at cost 4, 1 has 2/3 at 12, 2 has 1 at 40. */
TEST(curve_cascade_three_models)
{
    static const double p0[4] = {.9, .3, .6, .1}, p1[4] = {.8, .7, .2, .5};
    static const double q0[4] = {1, 0, 1, 0}, q1[4] = {1, 1, 0, NAN}, q2[4] = {1, 1, 1, 1};
    static const double c0[4] = {1, 1, 1, 1}, c1[4] = {3, 3, 3, 3}, c2[4] = {10, 10, 10, 10};
    static const double t[7] = {.1, .2, .5, .6, .7, .8, 0};
    static const double cost[7] = {4, 6, 8, 15, 24, 31, 40};
    static const double qual[7] = {.5, 2 / 3.0, 1, 1, 1, 1, 1};
    static const size_t known[7] = {4, 3, 3, 4, 4, 4, 4};
    const double *p[3] = {p0, p1, NULL}, *q[3] = {q0, q1, q2}, *c[3] = {c0, c1, c2};
    const double *q_none[3] = {q1, q1, q1};
    double q_unknown[4] = {NAN, NAN, NAN, NAN};
    struct allot_cascade a;
    size_t k;

    ASSERT_INT_EQ(allot_cascade_build(p, q, c, 3, 4, &a), 0);
    ASSERT_INT_EQ(a.n, 7);
    for (k = 0; k < 7; k++) {
        if (k < 6)
            ASSERT_DBL_NEAR(a.pts[k].threshold, t[k], 0);
        ASSERT_DBL_NEAR(a.pts[k].cost, cost[k], EPS);
        ASSERT_DBL_NEAR(a.pts[k].quality, qual[k], EPS);
        ASSERT_INT_EQ(a.pts[k].known, known[k]);
    }
    ASSERT(a.pts[6].threshold > 0.9);
    ASSERT_INT_EQ(a.best_model, 2);
    ASSERT_DBL_NEAR(a.best_quality, 1, 0);
    ASSERT_DBL_NEAR(a.best_cost, 40, 0);
    allot_cascade_release(&a);
    ASSERT(a.pts == NULL);

    /* no costs: model m costs m per call */
    ASSERT_INT_EQ(allot_cascade_build(p, q, NULL, 3, 4, &a), 0);
    ASSERT_DBL_NEAR(a.pts[0].cost, 0, 0);
    ASSERT_DBL_NEAR(a.pts[2].cost, 2, 0);
    ASSERT_DBL_NEAR(a.pts[6].cost, 8, 0);
    ASSERT_DBL_NEAR(a.best_cost, 8, 0);
    allot_cascade_release(&a);

    /* errors */
    ASSERT_INT_EQ(allot_cascade_build(p, q, c, 1, 4, &a), ALLOT_EINVAL);
    ASSERT_INT_EQ(allot_cascade_build(p, q, c, 3, 0, &a), ALLOT_EINVAL);
    p[0] = NULL;
    ASSERT_INT_EQ(allot_cascade_build(p, q, c, 3, 4, &a), ALLOT_EINVAL);
    p[0] = p0;
    q_none[0] = q_none[1] = q_none[2] = q_unknown;
    ASSERT_INT_EQ(allot_cascade_build(p, q_none, c, 3, 4, &a), ALLOT_EINVAL);
}

/* With two models the cascade is the router's curve read against cost:
 * the same thresholds, costs and qualities, point for point. */
TEST(curve_cascade_of_two_is_the_router)
{
    static const double cw[N_A] = {1, 1, 1, 1, 1, 1, 1, 1};
    static const double cs[N_A] = {10, 11, 12, 13, 14, 15, 16, 17};
    const double *p[2] = {pa, NULL}, *q[2] = {wa, sa}, *c[2] = {cw, cs};
    struct allot_cascade a;
    struct allot_curve r;
    size_t k;

    ASSERT_INT_EQ(allot_curve_build(pa, wa, sa, cw, cs, N_A, &r), 0);
    ASSERT_INT_EQ(allot_cascade_build(p, q, c, 2, N_A, &a), 0);
    ASSERT_INT_EQ(a.n, r.n);
    for (k = 0; k < r.n; k++) {
        ASSERT_DBL_NEAR(a.pts[k].threshold, r.pts[k].threshold, 0);
        ASSERT_DBL_NEAR(a.pts[k].cost, r.pts[k].cost, EPS);
        ASSERT_DBL_NEAR(a.pts[k].quality, r.pts[k].quality, EPS);
    }
    ASSERT_INT_EQ(a.best_model, 1);
    allot_cascade_release(&a);
    allot_curve_release(&r);
}
