/* curve.h: the quality/cost curve of a routing policy on recorded outcomes
 * (`allot eval`), as RouteLLM measures its routers.
 *
 * Each request i has the weak model's quality w[i], the strong model's
 * quality s[i] (1/0 for correct, or a judge score), optional costs cw[i] and
 * cs[i], and the router's score p[i] = P(the weak model is good enough). The
 * router sends i to the strong model when p[i] < threshold. Sweeping the
 * threshold gives a curve of strong share (the fraction of requests sent to
 * strong, 0..1) against quality (the mean quality of the answers chosen).
 *
 * Definitions (all curves here; pure arithmetic, no I/O, deterministic):
 *
 *   Q_weak, Q_strong  mean quality of always-weak and always-strong.
 *   PGR(point)        (quality - Q_weak) / (Q_strong - Q_weak), the share of
 *                     the gap recovered. Not clipped: a point worse than
 *                     always-weak has PGR < 0, one better than always-strong
 *                     has PGR > 1. Q_strong < Q_weak is allowed (the sign
 *                     of the gap carries through); Q_strong == Q_weak is not.
 *   APGR              the area under PGR against strong share over [0, 1],
 *                     by the trapezoid rule over the curve's points:
 *                     sum over k of (x[k+1] - x[k]) * (pgr[k] + pgr[k+1]) / 2.
 *                     Every curve runs from share 0 to share 1, so this is
 *                     RouteLLM's (AUC - weak AUC) / (strong AUC - weak AUC).
 *                     Random routing scores 0.5.
 *   CPT(x%)           the smallest strong share at which the curve, read as
 *                     straight segments between its points, reaches PGR >=
 *                     x/100: the first crossing (a later dip does not
 *                     matter), interpolated inside the segment that crosses.
 *                     NAN when no point reaches it. A share between two
 *                     points is reached, in expectation, by sending the
 *                     requests of the next step to strong at random.
 *
 * Ties. A threshold cannot split requests with equal scores: p < t sends
 * all of them or none. So the router's curve has one point per distinct
 * score (plus share 0), and across a group of tied requests it is the
 * straight segment between the points either side, which is exactly the
 * expected curve had the tie been broken at random. A router is neither
 * credited nor blamed for the order of the rows in the input: a constant
 * score gives the two-point curve (0, Q_weak) - (1, Q_strong), APGR 0.5,
 * the same as random routing. (Sorting request by request, with ties in row
 * order, would make a constant router look like an oracle on a data set
 * stored hardest first.) */
#ifndef ALLOT_CURVE_H
#define ALLOT_CURVE_H
#include <stddef.h>

struct allot_curve_point {
    double threshold;    /* p < threshold goes to strong; NAN on random/oracle */
    double strong_share; /* 0..1 */
    double quality;      /* mean quality of the answers chosen */
    double pgr;          /* performance gap recovered, not clipped */
    double cost;         /* total cost of the calls made */
};

struct allot_curve {
    struct allot_curve_point *pts; /* owned; strong share strictly ascending */
    size_t n;                      /* points; pts[0] is share 0, pts[n-1] share 1 */
    double q_weak, q_strong;       /* always-weak, always-strong mean quality */
    double cost_weak, cost_strong; /* total cost of always-weak / always-strong */
    double apgr;                   /* trapezoid area under PGR, see above */
    double cpt50, cpt80;           /* strong share for PGR 0.5 / 0.8; NAN if never */
};

/* Costs, for every function below that takes them: cw[i] is what request i
 * costs on the weak model, cs[i] on the strong one; a point's cost is the
 * total over all requests of the model each is sent to. cw == NULL means 0
 * per weak call, cs == NULL means 1 per strong call (so the cost counts the
 * strong calls). Costs must be finite.
 *
 * Errors, for the three builders: ALLOT_EINVAL when n == 0, when a pointer
 * that may not be NULL is, when a score, quality or cost is NAN or
 * infinite (the caller drops unknown outcomes first), or when Q_strong ==
 * Q_weak (within a relative 1e-12), where PGR is undefined; ALLOT_ENOMEM.
 * On error *out is left untouched and owns nothing. On success *out owns
 * its points: free them with allot_curve_release(). Quality at share 0 is
 * exactly Q_weak and at share 1 exactly Q_strong; PGR 0 and 1; cost
 * cost_weak and cost_strong. */

/* The router's curve: requests sorted by score p ascending (ties by index,
 * which changes no output), one point per distinct score plus share 0 (see
 * Ties above). pts[k].threshold is the smallest score still sent to weak,
 * so "p < threshold" gives exactly that point's share on these scores;
 * pts[0].threshold is the lowest score, the last point's is the next double
 * above the highest. */
int allot_curve_build(const double *p, const double *w, const double *s, const double *cw,
                      const double *cs, size_t n, struct allot_curve *out);

/* The expected curve of random routing, computed exactly (no simulation):
 * at share x, quality Q_weak + x (Q_strong - Q_weak), PGR x, cost
 * cost_weak + x (cost_strong - cost_weak); steps + 1 evenly spaced shares
 * 0, 1/steps, .., 1. APGR 0.5 and CPT(50%) 0.5 up to rounding. Thresholds
 * are NAN. ALLOT_EINVAL also when steps == 0. */
int allot_curve_random(const double *w, const double *s, const double *cw, const double *cs,
                       size_t n, size_t steps, struct allot_curve *out);

/* The oracle, the best quality reachable at each strong share: requests
 * sent to strong in order of s - w descending, those where strong is better
 * first (best first), then the ties (s == w), then those where strong is
 * worse, so the curve rises to its peak, stays flat, and ends at Q_strong
 * at share 1. Equal gains are one step, as ties are for the router: a
 * router whose scores rank the requests by s - w gives exactly this curve.
 * The share is the share actually sent to strong: RouteLLM's "optimal"
 * line instead stays at the peak once the budget exceeds the requests
 * strong wins (a budget need not be spent); that line is this curve's
 * running maximum. Thresholds are NAN. */
int allot_curve_oracle(const double *w, const double *s, const double *cw, const double *cs,
                       size_t n, struct allot_curve *out);

/* Free the points; the curve is empty afterwards. NULL is a no-op. */
void allot_curve_release(struct allot_curve *c);

/* The quality and the cost at a strong share (0..1), interpolated linearly
 * between the curve's points. NAN when c is NULL or empty, or share is NAN
 * or outside [0, 1]. */
double allot_curve_quality_at(const struct allot_curve *c, double share);
double allot_curve_cost_at(const struct allot_curve *c, double share);
/* The threshold that gives at most that share on these scores: that of the
 * last point whose share is <= share. NAN as above, and on random and
 * oracle curves. */
double allot_curve_threshold_at(const struct allot_curve *c, double share);

/* Threshold calibration, as RouteLLM's calibrate_threshold (a quantile of
 * the scores): the threshold t such that the share of the n scores below t
 * is the target share, on the given scores (e.g. the training folds').
 * Ties cannot be split, so the share reached is the reachable one nearest
 * the target, the lower on a draw; with no ties it is within 1/(2n) of it,
 * with ties of at most k equal scores within k/(2n). t is the smallest
 * score sent to weak (as the curve's thresholds); share 1 gives the next
 * double above the highest score. NAN when p is NULL, n == 0, a score is
 * not finite, or share is NAN or outside [0, 1]. */
double allot_threshold_for_share(const double *p, size_t n, double share);

/* The threshold that reaches a target quality, fraction_of_strong *
 * Q_strong (e.g. 0.95), at the lowest strong share on the curve's data:
 * the threshold of the first point whose quality is >= the target (with a
 * relative slack of 1e-12 for rounding in the sums). Meant for non-negative
 * qualities. NAN when no point reaches the target, on random and oracle
 * curves (no thresholds), or on bad arguments. */
double allot_threshold_for_quality(const struct allot_curve *c, double fraction_of_strong);
/* The strong share of that same point: what a quality target costs in
 * strong calls (to turn into a threshold on other scores with
 * allot_threshold_for_share()). NAN as above, but on any curve. */
double allot_share_for_quality(const struct allot_curve *c, double fraction_of_strong);

/* A multi-model cascade (a tier of several models), models ordered
 * cheapest first. For model m and request i: p[m][i] = P(model m is good
 * enough), q[m][i] its quality (NAN when unknown), cost[m][i] its cost. The
 * policy sends i to the first model m with p[m][i] >= t (one threshold t
 * for all), else to the last model, whose p is never read (p[last] may be
 * NULL). Raising t moves requests towards the later models.
 *
 * The sweep takes t over the distinct scores of models 0..last-1, and a
 * point is kept only when some request moved: pts[0] (t = the lowest score)
 * sends everything to model 0, the last point (t = the next double above
 * the highest score) everything to the last model. A point's quality is
 * the mean over the requests whose chosen answer is known (known of
 * them; NAN when none is); its cost is the total over all requests.
 * Plot cost (x) against quality (y). */
struct allot_cascade_point {
    double threshold; /* send i to the first model with p >= threshold */
    double cost;      /* total cost of the calls made */
    double quality;   /* mean known quality of the answers chosen */
    size_t known;     /* requests whose chosen answer has a known quality */
};

struct allot_cascade {
    struct allot_cascade_point *pts; /* owned; threshold ascending */
    size_t n;
    size_t best_model;   /* the single model of highest mean known quality
                            (ties: the cheaper, earlier one) */
    double best_quality; /* its mean known quality */
    double best_cost;    /* its total cost, every request sent to it */
};

/* Build the cascade curve of n requests on n_models models. cost == NULL
 * means model m costs m per call (0 for the cheapest). Errors: ALLOT_EINVAL
 * when n == 0, n_models < 2, p, q, p[m] (m < last), q[m] or cost[m] is
 * NULL, a score is NAN or infinite, a cost not finite, or no model has a
 * known quality; ALLOT_ENOMEM. *out is set only on success; free it with
 * allot_cascade_release(). */
int allot_cascade_build(const double *const *p, const double *const *q, const double *const *cost,
                        size_t n_models, size_t n, struct allot_cascade *out);
/* Free the points; NULL is a no-op. */
void allot_cascade_release(struct allot_cascade *c);

#endif
