/* floor.h: the adaptive quality floor of the labour tier.
 *
 * allot grades labour answers (checks on every answer, audits by the strong
 * model on a sample); each grade is a verdict, pass or fail, for the
 * answer's category. Per category the floor keeps the last `window`
 * verdicts and moves the category to the judgment tier when they show that
 * labour's pass rate is below `min_pass`; later it sends a share of the
 * category back to labour as probes and moves it back when they pass.
 *
 * Time is injected: every call takes now_ms (any monotonic millisecond
 * clock; the floor never reads a clock), and route() takes the caller's
 * random number, so tests replay exactly.
 *
 * The state machine, per category:
 *
 *   LABOUR: every request goes to labour. Each verdict enters the rolling
 *     window (the last `window` verdicts). After a verdict, if the window
 *     holds n >= min_samples verdicts and the Wilson UPPER bound of its pass
 *     rate is < min_pass, the category is PROMOTED (event PROMOTE).
 *
 *   PROMOTED, cooling (now < promoted_at + cooldown): every request goes to
 *     judgment. The window is frozen as the evidence of the promotion.
 *
 *   PROMOTED, probing (after the cool-down): probe_share of the requests go
 *     to labour as probes, the rest to judgment. Probe verdicts are tallied
 *     apart. A round of probe_samples probes passes when at least
 *     need = ceil(min_pass * probe_samples) of them pass, and it is decided
 *     as soon as its outcome is certain:
 *       - need probes passed: DEMOTED back to LABOUR (event DEMOTE). The
 *         window is replaced by the probe verdicts, so the failures that
 *         caused the promotion cannot promote again at once.
 *       - more than probe_samples - need failed: the category stays
 *         promoted and cools again, with the cool-down doubled up to
 *         cooldown_max_ms (event REPROMOTE). A round that cannot pass stops
 *         at once: no more bad labour answers than the round could absorb.
 *     The cool-down returns to cooldown_ms on demotion.
 *
 * Why the upper bound for promotion and the observed rate for demotion:
 * a promotion moves a category onto the expensive model, so it waits for
 * evidence, at confidence z, that labour is below the floor: the Wilson
 * upper bound under min_pass. The lower bound cannot serve here: a perfect
 * 20/20 has a lower bound of 0.84 and 50/50 only 0.93 (z = 1.96), so a
 * "lower bound < 0.9" rule would promote every healthy category as soon as
 * it had 20 verdicts, and a 49/50 one. With the defaults a category at the
 * floor (45/50) stays on labour (upper bound 0.957), one at 80% (40/50,
 * upper bound 0.888) is promoted, and a sudden total failure after 50
 * passes is promoted at the 10th failure. Smaller z or window react faster.
 * For the same reason (20/20 probes have a lower bound of 0.84) demotion
 * asks the probes' observed rate to reach the floor: the probes are a fresh
 * sample taken after the cool-down, the round is short because every probe
 * risks a user's answer, and the upper-bound rule for promotion gives the
 * hysteresis: after a demotion on 18/20 the window's upper bound is 0.97,
 * and it takes a real run of failures to promote again.
 *
 * Verdicts that do not count (recorded in `ignored`, the state unchanged):
 *   - non-probe verdicts while PROMOTED: answers labour gave before the
 *     promotion, graded late (audits). The window stays the evidence of the
 *     promotion; the demotion replaces it anyway.
 *   - probe verdicts while PROMOTED and cooling: probes of a round already
 *     decided, graded late.
 * A probe verdict arriving when the category is back on LABOUR is a fresh
 * labour verdict and enters the window. (A probe graded later than a whole
 * new cool-down would count in the next round; the cool-down is minutes,
 * checks take milliseconds.)
 *
 * Thread-safety: route, record and snapshot may be called from any thread
 * at once. Each category has its own mutex, held for a few comparisons and
 * counter updates; text (reasons, event details) is formatted after the
 * lock is released. Nothing allocates after allot_floor_new(). */
#ifndef ALLOT_FLOOR_H
#define ALLOT_FLOOR_H
#include <stddef.h>
#include <stdint.h>
#include "allot/kinds.h"

#define ALLOT_FLOOR_WINDOW_MAX 100000            /* window, probe_samples */
#define ALLOT_FLOOR_COOLDOWN_MAX_MS 2592000000LL /* 30 days */

struct allot_floor_conf {
    double min_pass;         /* the floor, (0, 1]; default 0.9 */
    int window;              /* verdicts kept per category, last N; default 50 */
    int min_samples;         /* no promotion with fewer verdicts, [1, window]; default 20 */
    int64_t cooldown_ms;     /* promoted this long before probing; default 600000 (10 min) */
    int64_t cooldown_max_ms; /* cap of the doubling cool-down, >= cooldown_ms; default 3600000 */
    double probe_share;      /* share of requests probed after the cool-down, [0, 1]; 0.1.
                              * 0: a promotion lasts until restart. */
    int probe_samples;       /* probes in a round, >= 1; default 20 */
    double z;                /* Wilson z, (0, 10]; default 1.96 (97.5% one-sided) */
};

/* Fill c with the defaults above. */
void allot_floor_conf_default(struct allot_floor_conf *c);

/* 0 when c is usable, else ALLOT_EINVAL with a message naming the field
 * and the cause in why (e.g. "floor min_samples 60: must be in [1, window
 * 50]"; why may be NULL). Rules: min_pass in (0, 1]; window in [1, ALLOT_FLOOR_WINDOW_MAX];
 * min_samples in [1, window]; probe_share in [0, 1]; probe_samples in
 * [1, ALLOT_FLOOR_WINDOW_MAX]; z in (0, 10]; 0 <= cooldown_ms <=
 * cooldown_max_ms <= ALLOT_FLOOR_COOLDOWN_MAX_MS. NaN is rejected. */
int allot_floor_conf_check(const struct allot_floor_conf *c, char *why, size_t why_cap);

/* The Wilson score interval of pass successes in n trials at z: its lower
 * bound is 0 and its upper bound 1 when n == 0. pass > n counts as n. */
double allot_wilson_lower(unsigned pass, unsigned n, double z);
double allot_wilson_upper(unsigned pass, unsigned n, double z);

enum allot_floor_route {
    ALLOT_FLOOR_LABOUR = 0, /* send to labour as usual */
    ALLOT_FLOOR_PROMOTED,   /* send to judgment: the category is promoted */
    ALLOT_FLOOR_PROBE,      /* send to labour as a probe; record its verdict with probe = 1 */
};

/* "labour", "promoted", "probe". */
const char *allot_floor_route_name(enum allot_floor_route r);

enum allot_floor_event_kind {
    ALLOT_FLOOR_EV_PROMOTE = 1, /* labour -> judgment: the window fell below the floor */
    ALLOT_FLOOR_EV_DEMOTE,      /* judgment -> labour: the probes passed */
    ALLOT_FLOOR_EV_REPROMOTE,   /* the probes failed: stays on judgment, cools again */
};

/* "promote", "demote", "repromote". */
const char *allot_floor_event_kind_name(enum allot_floor_event_kind k);

/* A change of state, with its evidence. */
struct allot_floor_event {
    int64_t ts_ms; /* now_ms of the verdict that caused it */
    enum allot_floor_event_kind kind;
    enum allot_category category;
    unsigned pass, n;    /* PROMOTE: the window; DEMOTE, REPROMOTE: the probes */
    double rate;         /* pass / n */
    double lower, upper; /* Wilson interval of pass / n at z */
    int64_t cooldown_ms; /* PROMOTE, REPROMOTE: until probes start; DEMOTE: 0 */
    char detail[160];    /* one line, e.g. "extract: 14/25 passed, Wilson upper
                          * bound 0.733 < floor 0.9; to judgment, probes in 600 s" */
};

struct allot_floor;

/* A floor for every category, all on LABOUR. Allocates the windows of all
 * categories now; nothing later. Errors: ALLOT_EINVAL when conf fails
 * allot_floor_conf_check(), ALLOT_ENOMEM. *out is set only on success and
 * owned by the caller: free with allot_floor_free(). */
int allot_floor_new(const struct allot_floor_conf *conf, struct allot_floor **out);

/* Free f (NULL is fine). No other call on f may be running. */
void allot_floor_free(struct allot_floor *f);

/* Where a request of category cat that would go to labour goes now. rnd is
 * a uniform 64-bit random value from the caller: the request is a probe
 * when rnd / 2^64 < probe_share (only after the cool-down). When the route
 * is not LABOUR, reason (if not NULL) gets a short line, truncated to
 * reason_cap, e.g. "extract promoted to judgment: 14/25 passed, Wilson
 * upper bound 0.733 < floor 0.9; probes in 412 s" or "probe for extract:
 * promoted, probe round 3/20"; "" for LABOUR. A cat out of range gives
 * LABOUR. */
enum allot_floor_route allot_floor_route(struct allot_floor *f, enum allot_category cat,
                                         int64_t now_ms, uint64_t rnd, char *reason,
                                         size_t reason_cap);

/* A verdict on a labour answer of category cat: pass 1 (non-zero) or 0;
 * probe 1 when route() gave PROBE for that request. Returns 1 and fills
 * *ev (if not NULL) when this verdict changed the state (PROMOTE, DEMOTE,
 * REPROMOTE), else 0 and *ev is untouched. A cat out of range is ignored
 * (returns 0, not counted). */
int allot_floor_record(struct allot_floor *f, enum allot_category cat, int pass, int probe,
                       int64_t now_ms, struct allot_floor_event *ev);

/* One category's state, a consistent copy (for /metrics and reports). */
struct allot_floor_state {
    int promoted;                 /* 1 on judgment */
    unsigned pass, n;             /* the window (frozen while promoted) */
    double lower, upper;          /* its Wilson interval at z */
    int64_t since_ms;             /* last promotion or demotion (0 before the first) */
    int64_t probe_from_ms;        /* promoted: probes start then */
    int64_t cooldown_ms;          /* the current cool-down (doubles on failed rounds) */
    unsigned probe_pass, probe_n; /* the probe round in progress */
    unsigned promotions, demotions, repromotions;
    uint64_t counted; /* verdicts that entered the window or a probe round */
    uint64_t ignored; /* verdicts that did not count (see above) */
};

/* Copy cat's state into *out; a cat out of range gives all zeros. */
void allot_floor_snapshot(struct allot_floor *f, enum allot_category cat,
                          struct allot_floor_state *out);

#endif
