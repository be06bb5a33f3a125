/* test_floor.c: the adaptive quality floor. Time is a plain int64 passed as
 * now_ms and randomness a fixed LCG: nothing sleeps, every run is the same.
 * Expected Wilson values were computed apart from floor.c, with the other
 * closed form (2k + z^2 -+ z sqrt(z^2 + 4k(n-k)/n)) / (2(n + z^2)). */
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include "allot/error.h"
#include "allot/floor.h"
#include "test.h"

#define COOL 600000 /* the default cool-down */

static uint64_t lcg(uint64_t *s)
{
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return *s;
}

/* Record `count` verdicts of one kind; the index (0-based) of the first
 * that changed the state, or -1. */
static int feed(struct allot_floor *f, enum allot_category cat, int pass, int probe, int count,
                int64_t now, struct allot_floor_event *ev)
{
    int i;
    for (i = 0; i < count; i++)
        if (allot_floor_record(f, cat, pass, probe, now, ev))
            return i;
    return -1;
}

/* Routes of `count` LCG draws that came out as `want`. */
static int count_routes(struct allot_floor *f, enum allot_category cat, int64_t now, int count,
                        enum allot_floor_route want)
{
    uint64_t s = 12345;
    int i, hits = 0;
    for (i = 0; i < count; i++)
        hits += allot_floor_route(f, cat, now, lcg(&s), NULL, 0) == want;
    return hits;
}

TEST(floor_wilson_known_values)
{
    unsigned n;

    ASSERT(allot_wilson_lower(0, 0, 1.96) == 0.0);
    ASSERT(allot_wilson_upper(0, 0, 1.96) == 1.0);
    ASSERT_DBL_NEAR(allot_wilson_lower(10, 10, 1.96), 0.722460, 1e-5);
    ASSERT(allot_wilson_upper(10, 10, 1.96) == 1.0);
    ASSERT_DBL_NEAR(allot_wilson_lower(45, 50, 1.96), 0.786395, 1e-5);
    ASSERT_DBL_NEAR(allot_wilson_upper(45, 50, 1.96), 0.956525, 1e-5);
    ASSERT_DBL_NEAR(allot_wilson_lower(90, 100, 1.96), 0.825633, 1e-5);
    ASSERT_DBL_NEAR(allot_wilson_upper(90, 100, 1.96), 0.944771, 1e-5);
    ASSERT_DBL_NEAR(allot_wilson_lower(950, 1000, 1.96), 0.934686, 1e-5);
    ASSERT_DBL_NEAR(allot_wilson_upper(950, 1000, 1.96), 0.961870, 1e-5);
    ASSERT_DBL_NEAR(allot_wilson_lower(20, 20, 1.96), 0.838870, 1e-5);
    ASSERT_DBL_NEAR(allot_wilson_lower(14, 25, 1.96), 0.370670, 1e-5);
    ASSERT_DBL_NEAR(allot_wilson_upper(14, 25, 1.96), 0.733346, 1e-5);
    ASSERT_DBL_NEAR(allot_wilson_upper(40, 50, 1.96), 0.887564, 1e-5);
    ASSERT_DBL_NEAR(allot_wilson_upper(41, 50, 1.96), 0.902299, 1e-5);
    ASSERT_DBL_NEAR(allot_wilson_upper(0, 20, 1.96), 0.161130, 1e-5);
    ASSERT_DBL_NEAR(allot_wilson_lower(5, 10, 1.96), 0.236590, 1e-5);
    ASSERT_DBL_NEAR(allot_wilson_upper(5, 10, 1.96), 0.763410, 1e-5);
    /* the bounds of all-fail and all-pass are exact, not a rounding off */
    for (n = 1; n <= 1000; n++) {
        ASSERT(allot_wilson_lower(0, n, 1.96) == 0.0);
        ASSERT(allot_wilson_upper(n, n, 1.96) == 1.0);
        ASSERT(allot_wilson_upper(n, n, 0.5) == 1.0);
    }
    /* pass > n counts as n */
    ASSERT(allot_wilson_lower(12, 10, 1.96) == allot_wilson_lower(10, 10, 1.96));
    /* a larger z widens the interval */
    ASSERT(allot_wilson_lower(45, 50, 2.58) < allot_wilson_lower(45, 50, 1.96));
    ASSERT(allot_wilson_upper(45, 50, 2.58) > allot_wilson_upper(45, 50, 1.96));
}

TEST(floor_defaults_are_valid)
{
    struct allot_floor_conf c;
    char why[128] = "untouched";
    allot_floor_conf_default(&c);
    ASSERT_DBL_NEAR(c.min_pass, 0.9, 0);
    ASSERT_INT_EQ(c.window, 50);
    ASSERT_INT_EQ(c.min_samples, 20);
    ASSERT_INT_EQ(c.cooldown_ms, COOL);
    ASSERT_INT_EQ(c.probe_samples, 20);
    ASSERT_INT_EQ(allot_floor_conf_check(&c, why, sizeof why), 0);
    ASSERT_STR_EQ(why, "untouched");
}

TEST(floor_bad_conf_is_einval)
{
    static const struct {
        const char *field;
        double min_pass, probe_share, z;
        int window, min_samples, probe_samples;
        int64_t cooldown_ms, cooldown_max_ms;
    } bad[] = {
        {"min_pass", 0.0, 0.1, 1.96, 50, 20, 20, COOL, 3600000},
        {"min_pass", -0.1, 0.1, 1.96, 50, 20, 20, COOL, 3600000},
        {"min_pass", 1.01, 0.1, 1.96, 50, 20, 20, COOL, 3600000},
        {"min_pass", NAN, 0.1, 1.96, 50, 20, 20, COOL, 3600000},
        {"window", 0.9, 0.1, 1.96, 0, 0, 20, COOL, 3600000},
        {"window", 0.9, 0.1, 1.96, -5, 1, 20, COOL, 3600000},
        {"window", 0.9, 0.1, 1.96, ALLOT_FLOOR_WINDOW_MAX + 1, 20, 20, COOL, 3600000},
        {"min_samples", 0.9, 0.1, 1.96, 50, 51, 20, COOL, 3600000},
        {"min_samples", 0.9, 0.1, 1.96, 50, 0, 20, COOL, 3600000},
        {"probe_share", 0.9, -0.01, 1.96, 50, 20, 20, COOL, 3600000},
        {"probe_share", 0.9, 1.01, 1.96, 50, 20, 20, COOL, 3600000},
        {"probe_share", 0.9, NAN, 1.96, 50, 20, 20, COOL, 3600000},
        {"probe_samples", 0.9, 0.1, 1.96, 50, 20, 0, COOL, 3600000},
        {"z", 0.9, 0.1, 0.0, 50, 20, 20, COOL, 3600000},
        {"z", 0.9, 0.1, NAN, 50, 20, 20, COOL, 3600000},
        {"cooldown_ms", 0.9, 0.1, 1.96, 50, 20, 20, -1, 3600000},
        {"cooldown_max_ms", 0.9, 0.1, 1.96, 50, 20, 20, COOL, COOL - 1},
        {"cooldown_max_ms", 0.9, 0.1, 1.96, 50, 20, 20, COOL, ALLOT_FLOOR_COOLDOWN_MAX_MS + 1},
    };
    size_t i;

    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct allot_floor_conf c;
        struct allot_floor *f = (struct allot_floor *)&c; /* a sentinel: must stay */
        char why[128] = "";
        allot_floor_conf_default(&c);
        c.min_pass = bad[i].min_pass;
        c.probe_share = bad[i].probe_share;
        c.z = bad[i].z;
        c.window = bad[i].window;
        c.min_samples = bad[i].min_samples;
        c.probe_samples = bad[i].probe_samples;
        c.cooldown_ms = bad[i].cooldown_ms;
        c.cooldown_max_ms = bad[i].cooldown_max_ms;
        ASSERT_INT_EQ(allot_floor_new(&c, &f), ALLOT_EINVAL);
        ASSERT(f == (struct allot_floor *)&c);
        ASSERT_INT_EQ(allot_floor_conf_check(&c, why, sizeof why), ALLOT_EINVAL);
        ASSERT_STR_CONTAINS(why, bad[i].field);
    }
}

TEST(floor_edge_conf_is_accepted)
{
    struct allot_floor_conf c;
    struct allot_floor *f = NULL;
    allot_floor_conf_default(&c);
    c.min_pass = 1.0;
    c.window = 1;
    c.min_samples = 1;
    c.probe_share = 0.0;
    c.cooldown_ms = 0;
    c.cooldown_max_ms = 0;
    ASSERT_INT_EQ(allot_floor_new(&c, &f), 0);
    ASSERT(f != NULL);
    allot_floor_free(f);
    allot_floor_free(NULL);
}

/* 50 passes fill the window; each failure then evicts a pass. 41/50 has an
 * upper bound of 0.902, 40/50 of 0.888 < 0.9: the 10th failure promotes. */
TEST(floor_failing_category_promoted_where_the_bound_crosses)
{
    struct allot_floor_conf c;
    struct allot_floor *f;
    struct allot_floor_event ev;
    struct allot_floor_state st;

    allot_floor_conf_default(&c);
    ASSERT_INT_EQ(allot_floor_new(&c, &f), 0);
    ASSERT_INT_EQ(feed(f, ALLOT_CAT_EXTRACT, 1, 0, 50, 1000, &ev), -1);
    ASSERT_INT_EQ(feed(f, ALLOT_CAT_EXTRACT, 0, 0, 9, 2000, &ev), -1);
    ASSERT_INT_EQ(allot_floor_route(f, ALLOT_CAT_EXTRACT, 2000, 0, NULL, 0), ALLOT_FLOOR_LABOUR);
    ASSERT_INT_EQ(allot_floor_record(f, ALLOT_CAT_EXTRACT, 0, 0, 3000, &ev), 1);

    ASSERT_INT_EQ(ev.kind, ALLOT_FLOOR_EV_PROMOTE);
    ASSERT_INT_EQ(ev.category, ALLOT_CAT_EXTRACT);
    ASSERT_INT_EQ(ev.ts_ms, 3000);
    ASSERT_INT_EQ(ev.pass, 40);
    ASSERT_INT_EQ(ev.n, 50);
    ASSERT_DBL_NEAR(ev.rate, 0.8, 1e-12);
    ASSERT_DBL_NEAR(ev.upper, 0.887564, 1e-5);
    ASSERT_DBL_NEAR(ev.lower, 0.669626, 1e-5);
    ASSERT_INT_EQ(ev.cooldown_ms, COOL);
    ASSERT_STR_EQ(ev.detail, "extract: 40/50 passed, Wilson upper bound 0.888 < floor 0.9; to "
                             "judgment, probes in 600 s");
    ASSERT_STR_EQ(allot_floor_event_kind_name(ev.kind), "promote");

    allot_floor_snapshot(f, ALLOT_CAT_EXTRACT, &st);
    ASSERT_INT_EQ(st.promoted, 1);
    ASSERT_INT_EQ(st.pass, 40);
    ASSERT_INT_EQ(st.n, 50);
    ASSERT_DBL_NEAR(st.upper, 0.887564, 1e-5);
    ASSERT_INT_EQ(st.since_ms, 3000);
    ASSERT_INT_EQ(st.probe_from_ms, 3000 + COOL);
    ASSERT_INT_EQ(st.promotions, 1);
    ASSERT_INT_EQ(st.counted, 60);
    ASSERT_INT_EQ(st.ignored, 0);
    allot_floor_free(f);
}

/* While the window grows: 30 passes then failures; 30/38 is the first with
 * an upper bound under 0.9 (0.889), so the 8th failure promotes. */
TEST(floor_promotion_while_the_window_grows)
{
    struct allot_floor_conf c;
    struct allot_floor *f;
    struct allot_floor_event ev;

    allot_floor_conf_default(&c);
    ASSERT_INT_EQ(allot_floor_new(&c, &f), 0);
    ASSERT_INT_EQ(feed(f, ALLOT_CAT_SUMMARIZE, 1, 0, 30, 0, &ev), -1);
    ASSERT_INT_EQ(feed(f, ALLOT_CAT_SUMMARIZE, 0, 0, 20, 0, &ev), 7);
    ASSERT_INT_EQ(ev.pass, 30);
    ASSERT_INT_EQ(ev.n, 38);
    ASSERT_STR_CONTAINS(ev.detail, "summarize: 30/38 passed");
    allot_floor_free(f);
}

/* An 80% category (every 5th fails) is promoted: 28/35 at the 35th. */
TEST(floor_category_at_80_percent_is_promoted)
{
    struct allot_floor_conf c;
    struct allot_floor *f;
    struct allot_floor_event ev;
    int i, at = -1;

    allot_floor_conf_default(&c);
    ASSERT_INT_EQ(allot_floor_new(&c, &f), 0);
    for (i = 0; i < 1000 && at < 0; i++)
        if (allot_floor_record(f, ALLOT_CAT_SCAN, i % 5 != 4, 0, i, &ev))
            at = i;
    ASSERT_INT_EQ(at, 34);
    ASSERT_INT_EQ(ev.pass, 28);
    ASSERT_INT_EQ(ev.n, 35);
    allot_floor_free(f);
}

/* All-pass, 95% and exactly-at-the-floor 90% categories stay on labour,
 * whatever the phase of their failures in the window. */
TEST(floor_healthy_categories_never_promoted)
{
    struct allot_floor_conf c;
    struct allot_floor *f;
    struct allot_floor_state st;
    int i, changed = 0, phase;

    allot_floor_conf_default(&c);
    ASSERT_INT_EQ(allot_floor_new(&c, &f), 0);
    for (i = 0; i < 10000; i++) {
        changed += allot_floor_record(f, ALLOT_CAT_EXTRACT, 1, 0, i, NULL);
        changed += allot_floor_record(f, ALLOT_CAT_REFORMAT, i % 20 != 0, 0, i, NULL);
    }
    ASSERT_INT_EQ(changed, 0);
    ASSERT_INT_EQ(allot_floor_route(f, ALLOT_CAT_EXTRACT, 10000, 0, NULL, 0), ALLOT_FLOOR_LABOUR);
    allot_floor_snapshot(f, ALLOT_CAT_EXTRACT, &st);
    ASSERT_INT_EQ(st.promoted, 0);
    ASSERT_INT_EQ(st.n, 50);
    ASSERT_INT_EQ(st.pass, 50);
    ASSERT_INT_EQ(st.promotions, 0);
    ASSERT_INT_EQ(st.counted, 10000);
    allot_floor_snapshot(f, ALLOT_CAT_REFORMAT, &st);
    ASSERT_INT_EQ(st.promotions, 0);
    ASSERT(st.pass >= 47 && st.n == 50);
    allot_floor_free(f);

    /* 90%: the first failure at each of the ten phases, one category each */
    ASSERT_INT_EQ(allot_floor_new(&c, &f), 0);
    for (i = 0; i < 2000; i++)
        for (phase = 0; phase < 10; phase++)
            changed += allot_floor_record(f, (enum allot_category)phase, (i + phase) % 10 != 0, 0,
                                          i, NULL);
    ASSERT_INT_EQ(changed, 0);
    allot_floor_snapshot(f, (enum allot_category)3, &st);
    ASSERT_INT_EQ(st.pass, 45);
    ASSERT_INT_EQ(st.n, 50);
    allot_floor_free(f);
}

TEST(floor_no_promotion_before_min_samples)
{
    struct allot_floor_conf c;
    struct allot_floor *f;
    struct allot_floor_event ev;
    struct allot_floor_state st;

    allot_floor_conf_default(&c);
    ASSERT_INT_EQ(allot_floor_new(&c, &f), 0);
    ASSERT_INT_EQ(feed(f, ALLOT_CAT_COLLECT, 0, 0, 19, 0, &ev), -1);
    ASSERT_INT_EQ(allot_floor_route(f, ALLOT_CAT_COLLECT, 0, 0, NULL, 0), ALLOT_FLOOR_LABOUR);
    allot_floor_snapshot(f, ALLOT_CAT_COLLECT, &st);
    ASSERT_INT_EQ(st.n, 19);
    ASSERT_INT_EQ(st.pass, 0);
    ASSERT_INT_EQ(st.promoted, 0);
    ASSERT_INT_EQ(allot_floor_record(f, ALLOT_CAT_COLLECT, 0, 0, 0, &ev), 1);
    ASSERT_INT_EQ(ev.n, 20);
    ASSERT_INT_EQ(ev.pass, 0);
    allot_floor_free(f);

    c.min_samples = 30;
    ASSERT_INT_EQ(allot_floor_new(&c, &f), 0);
    ASSERT_INT_EQ(feed(f, ALLOT_CAT_COLLECT, 0, 0, 40, 0, &ev), 29);
    allot_floor_free(f);
}

/* A floor of 1 tolerates no failure once min_samples are in. */
TEST(floor_of_one_promotes_on_any_failure)
{
    struct allot_floor_conf c;
    struct allot_floor *f;
    struct allot_floor_event ev;

    allot_floor_conf_default(&c);
    c.min_pass = 1.0;
    c.min_samples = 5;
    ASSERT_INT_EQ(allot_floor_new(&c, &f), 0);
    ASSERT_INT_EQ(feed(f, ALLOT_CAT_ANSWER, 1, 0, 100, 0, &ev), -1);
    ASSERT_INT_EQ(allot_floor_record(f, ALLOT_CAT_ANSWER, 0, 0, 1, &ev), 1);
    ASSERT_INT_EQ(ev.pass, 49);
    allot_floor_free(f);
}

/* Promote extract at t0 with 20 failures. */
static int promote_at(struct allot_floor *f, enum allot_category cat, int64_t t0)
{
    struct allot_floor_event ev;
    return feed(f, cat, 0, 0, 20, t0, &ev) == 19 && ev.kind == ALLOT_FLOOR_EV_PROMOTE;
}

TEST(floor_no_probes_during_cooldown_then_the_share)
{
    struct allot_floor_conf c;
    struct allot_floor *f;
    const int64_t t0 = 1000;
    char reason[256];
    int probes;

    allot_floor_conf_default(&c);
    ASSERT_INT_EQ(allot_floor_new(&c, &f), 0);
    ASSERT(promote_at(f, ALLOT_CAT_EXTRACT, t0));

    ASSERT_INT_EQ(count_routes(f, ALLOT_CAT_EXTRACT, t0, 10000, ALLOT_FLOOR_PROMOTED), 10000);
    ASSERT_INT_EQ(count_routes(f, ALLOT_CAT_EXTRACT, t0 + 300000, 10000, ALLOT_FLOOR_PROMOTED),
                  10000);
    ASSERT_INT_EQ(count_routes(f, ALLOT_CAT_EXTRACT, t0 + COOL - 1, 10000, ALLOT_FLOOR_PROMOTED),
                  10000);
    ASSERT_INT_EQ(allot_floor_route(f, ALLOT_CAT_EXTRACT, t0 + COOL - 1, 0, reason, sizeof reason),
                  ALLOT_FLOOR_PROMOTED);
    ASSERT_STR_EQ(reason, "extract promoted to judgment: 0/20 passed, Wilson upper bound 0.161 < "
                          "floor 0.9; probes in 1 ms");
    ASSERT_INT_EQ(allot_floor_route(f, ALLOT_CAT_EXTRACT, t0 + 100000, 0, reason, sizeof reason),
                  ALLOT_FLOOR_PROMOTED);
    ASSERT_STR_CONTAINS(reason, "probes in 500 s");

    probes = count_routes(f, ALLOT_CAT_EXTRACT, t0 + COOL, 10000, ALLOT_FLOOR_PROBE);
    ASSERT(probes >= 900 && probes <= 1100);
    ASSERT_INT_EQ(count_routes(f, ALLOT_CAT_EXTRACT, t0 + COOL, 10000, ALLOT_FLOOR_PROMOTED),
                  10000 - probes);
    ASSERT_INT_EQ(allot_floor_route(f, ALLOT_CAT_EXTRACT, t0 + COOL, 0, reason, sizeof reason),
                  ALLOT_FLOOR_PROBE);
    ASSERT_STR_EQ(reason, "probe for extract: promoted, probe round 0/20");
    ASSERT_INT_EQ(
        allot_floor_route(f, ALLOT_CAT_EXTRACT, t0 + COOL, UINT64_MAX, reason, sizeof reason),
        ALLOT_FLOOR_PROMOTED);
    ASSERT_STR_CONTAINS(reason, "; probing 10%, round 0/20");
    /* a short reason buffer is truncated, not overrun */
    ASSERT_INT_EQ(allot_floor_route(f, ALLOT_CAT_EXTRACT, t0 + COOL, 0, reason, 6),
                  ALLOT_FLOOR_PROBE);
    ASSERT_STR_EQ(reason, "probe");
    allot_floor_free(f);

    /* the share is the configured one, not a constant */
    c.probe_share = 0.25;
    ASSERT_INT_EQ(allot_floor_new(&c, &f), 0);
    ASSERT(promote_at(f, ALLOT_CAT_EXTRACT, t0));
    probes = count_routes(f, ALLOT_CAT_EXTRACT, t0 + COOL, 10000, ALLOT_FLOOR_PROBE);
    ASSERT(probes >= 2400 && probes <= 2600);
    allot_floor_free(f);

    c.probe_share = 1.0;
    ASSERT_INT_EQ(allot_floor_new(&c, &f), 0);
    ASSERT(promote_at(f, ALLOT_CAT_EXTRACT, t0));
    ASSERT_INT_EQ(count_routes(f, ALLOT_CAT_EXTRACT, t0 + COOL, 10000, ALLOT_FLOOR_PROBE), 10000);
    ASSERT_INT_EQ(allot_floor_route(f, ALLOT_CAT_EXTRACT, t0 + COOL, UINT64_MAX, NULL, 0),
                  ALLOT_FLOOR_PROBE);
    allot_floor_free(f);

    c.probe_share = 0.0;
    ASSERT_INT_EQ(allot_floor_new(&c, &f), 0);
    ASSERT(promote_at(f, ALLOT_CAT_EXTRACT, t0));
    ASSERT_INT_EQ(
        count_routes(f, ALLOT_CAT_EXTRACT, t0 + 100 * (int64_t)COOL, 10000, ALLOT_FLOOR_PROMOTED),
        10000);
    ASSERT_INT_EQ(allot_floor_route(f, ALLOT_CAT_EXTRACT, t0 + COOL, 0, reason, sizeof reason),
                  ALLOT_FLOOR_PROMOTED);
    ASSERT_STR_CONTAINS(reason, "; no probes");
    allot_floor_free(f);
}

TEST(floor_passing_probes_demote_and_reset_the_window)
{
    struct allot_floor_conf c;
    struct allot_floor *f;
    struct allot_floor_event ev;
    struct allot_floor_state st;
    const int64_t t1 = 1000 + COOL;
    char reason[256] = "x";

    allot_floor_conf_default(&c);
    ASSERT_INT_EQ(allot_floor_new(&c, &f), 0);
    ASSERT(promote_at(f, ALLOT_CAT_EXTRACT, 1000));
    /* need = ceil(0.9 * 20) = 18: the 18th pass settles the round */
    ASSERT_INT_EQ(feed(f, ALLOT_CAT_EXTRACT, 1, 1, 17, t1, &ev), -1);
    allot_floor_snapshot(f, ALLOT_CAT_EXTRACT, &st);
    ASSERT_INT_EQ(st.promoted, 1);
    ASSERT_INT_EQ(st.probe_n, 17);
    ASSERT_INT_EQ(st.probe_pass, 17);
    ASSERT_INT_EQ(st.n, 20); /* the frozen evidence */
    ASSERT_INT_EQ(st.pass, 0);
    ASSERT_INT_EQ(allot_floor_record(f, ALLOT_CAT_EXTRACT, 1, 1, t1 + 5, &ev), 1);
    ASSERT_INT_EQ(ev.kind, ALLOT_FLOOR_EV_DEMOTE);
    ASSERT_INT_EQ(ev.ts_ms, t1 + 5);
    ASSERT_INT_EQ(ev.pass, 18);
    ASSERT_INT_EQ(ev.n, 18);
    ASSERT_DBL_NEAR(ev.rate, 1.0, 0);
    ASSERT_DBL_NEAR(ev.lower, 0.824115, 1e-5);
    ASSERT_INT_EQ(ev.cooldown_ms, 0);
    ASSERT_STR_EQ(ev.detail,
                  "extract: probes 18/18 passed, at least 18 of 20 >= floor 0.9; back to labour");

    ASSERT_INT_EQ(count_routes(f, ALLOT_CAT_EXTRACT, t1 + 5, 10000, ALLOT_FLOOR_LABOUR), 10000);
    ASSERT_INT_EQ(allot_floor_route(f, ALLOT_CAT_EXTRACT, t1 + 5, 0, reason, sizeof reason),
                  ALLOT_FLOOR_LABOUR);
    ASSERT_STR_EQ(reason, "");
    allot_floor_snapshot(f, ALLOT_CAT_EXTRACT, &st);
    ASSERT_INT_EQ(st.promoted, 0);
    ASSERT_INT_EQ(st.n, 18);
    ASSERT_INT_EQ(st.pass, 18);
    ASSERT_INT_EQ(st.since_ms, t1 + 5);
    ASSERT_INT_EQ(st.demotions, 1);
    ASSERT_INT_EQ(st.probe_n, 0);

    /* the 20 old failures are gone: it takes 6 new ones (18/24, upper bound
     * 0.880) to promote again, and then with the base cool-down */
    ASSERT_INT_EQ(feed(f, ALLOT_CAT_EXTRACT, 0, 0, 10, t1 + 10, &ev), 5);
    ASSERT_INT_EQ(ev.kind, ALLOT_FLOOR_EV_PROMOTE);
    ASSERT_INT_EQ(ev.pass, 18);
    ASSERT_INT_EQ(ev.n, 24);
    ASSERT_INT_EQ(ev.cooldown_ms, COOL);
    allot_floor_free(f);
}

TEST(floor_probes_may_fail_a_few_and_still_demote)
{
    struct allot_floor_conf c;
    struct allot_floor *f;
    struct allot_floor_event ev;
    struct allot_floor_state st;
    const int64_t t1 = COOL;

    allot_floor_conf_default(&c);
    ASSERT_INT_EQ(allot_floor_new(&c, &f), 0);
    ASSERT(promote_at(f, ALLOT_CAT_EXTRACT, 0));
    ASSERT_INT_EQ(feed(f, ALLOT_CAT_EXTRACT, 0, 1, 2, t1, &ev), -1);
    ASSERT_INT_EQ(feed(f, ALLOT_CAT_EXTRACT, 1, 1, 18, t1, &ev), 17);
    ASSERT_INT_EQ(ev.kind, ALLOT_FLOOR_EV_DEMOTE);
    ASSERT_INT_EQ(ev.pass, 18);
    ASSERT_INT_EQ(ev.n, 20);
    ASSERT_DBL_NEAR(ev.rate, 0.9, 1e-12);
    allot_floor_snapshot(f, ALLOT_CAT_EXTRACT, &st);
    ASSERT_INT_EQ(st.n, 20);
    ASSERT_INT_EQ(st.pass, 18);
    allot_floor_free(f);
}

TEST(floor_failing_probes_repromote_with_a_longer_cooldown)
{
    struct allot_floor_conf c;
    struct allot_floor *f;
    struct allot_floor_event ev;
    struct allot_floor_state st;
    static const int64_t next[] = {1200000, 2400000, 3600000, 3600000};
    int64_t t = 1000 + COOL;
    char reason[256];
    size_t i;

    allot_floor_conf_default(&c);
    ASSERT_INT_EQ(allot_floor_new(&c, &f), 0);
    ASSERT(promote_at(f, ALLOT_CAT_EXTRACT, 1000));

    /* 18 of 20 must pass: the 3rd failure settles the round */
    ASSERT_INT_EQ(allot_floor_record(f, ALLOT_CAT_EXTRACT, 1, 1, t, &ev), 0);
    ASSERT_INT_EQ(feed(f, ALLOT_CAT_EXTRACT, 0, 1, 5, t, &ev), 2);
    ASSERT_INT_EQ(ev.kind, ALLOT_FLOOR_EV_REPROMOTE);
    ASSERT_INT_EQ(ev.pass, 1);
    ASSERT_INT_EQ(ev.n, 4);
    ASSERT_INT_EQ(ev.cooldown_ms, 1200000);
    ASSERT_STR_EQ(ev.detail, "extract: probes 1/4 passed, 18 of 20 can no longer pass (floor "
                             "0.9); stays on judgment, probes again in 1200 s");
    /* probes graded after the decision fall in the new cool-down */
    ASSERT_INT_EQ(allot_floor_record(f, ALLOT_CAT_EXTRACT, 1, 1, t + 1, &ev), 0);
    ASSERT_INT_EQ(allot_floor_record(f, ALLOT_CAT_EXTRACT, 0, 1, t + 2, &ev), 0);
    allot_floor_snapshot(f, ALLOT_CAT_EXTRACT, &st);
    ASSERT_INT_EQ(st.promoted, 1);
    ASSERT_INT_EQ(st.since_ms, 1000); /* promoted since the first promotion */
    ASSERT_INT_EQ(st.repromotions, 1);
    ASSERT_INT_EQ(st.probe_n, 0);
    ASSERT_INT_EQ(st.ignored, 2);
    ASSERT_INT_EQ(st.cooldown_ms, 1200000);
    ASSERT_INT_EQ(st.probe_from_ms, t + 1200000);

    ASSERT_INT_EQ(count_routes(f, ALLOT_CAT_EXTRACT, t + 1199999, 10000, ALLOT_FLOOR_PROMOTED),
                  10000);
    ASSERT_INT_EQ(allot_floor_route(f, ALLOT_CAT_EXTRACT, t, UINT64_MAX, reason, sizeof reason),
                  ALLOT_FLOOR_PROMOTED);
    ASSERT_STR_EQ(reason, "extract promoted to judgment: probes 1/4 passed, 18 of 20 needed for "
                          "floor 0.9; probes in 1200 s");
    t += 1200000;
    ASSERT(count_routes(f, ALLOT_CAT_EXTRACT, t, 10000, ALLOT_FLOOR_PROBE) > 900);

    /* keep failing: 1200 s was the first doubling; then 2400, the cap 3600, 3600 */
    for (i = 1; i < sizeof next / sizeof next[0]; i++) {
        ASSERT_INT_EQ(feed(f, ALLOT_CAT_EXTRACT, 0, 1, 3, t, &ev), 2);
        ASSERT_INT_EQ(ev.kind, ALLOT_FLOOR_EV_REPROMOTE);
        ASSERT_INT_EQ(ev.cooldown_ms, next[i]);
        t += next[i];
    }
    /* a passing round demotes; the next promotion starts from the base cool-down */
    ASSERT_INT_EQ(feed(f, ALLOT_CAT_EXTRACT, 1, 1, 20, t, &ev), 17);
    ASSERT_INT_EQ(ev.kind, ALLOT_FLOOR_EV_DEMOTE);
    ASSERT_INT_EQ(feed(f, ALLOT_CAT_EXTRACT, 0, 0, 50, t, &ev), 5);
    ASSERT_INT_EQ(ev.kind, ALLOT_FLOOR_EV_PROMOTE);
    ASSERT_INT_EQ(ev.cooldown_ms, COOL);
    allot_floor_snapshot(f, ALLOT_CAT_EXTRACT, &st);
    ASSERT_INT_EQ(st.promotions, 2);
    ASSERT_INT_EQ(st.repromotions, 4);
    ASSERT_INT_EQ(st.demotions, 1);
    allot_floor_free(f);
}

TEST(floor_late_verdicts_do_not_flip_the_state)
{
    struct allot_floor_conf c;
    struct allot_floor *f;
    struct allot_floor_event ev;
    struct allot_floor_state st;

    allot_floor_conf_default(&c);
    ASSERT_INT_EQ(allot_floor_new(&c, &f), 0);
    ASSERT(promote_at(f, ALLOT_CAT_EXTRACT, 0));
    /* late audits of answers from before the promotion, all passing */
    ASSERT_INT_EQ(feed(f, ALLOT_CAT_EXTRACT, 1, 0, 100, 10, &ev), -1);
    /* probe verdicts inside the cool-down belong to no round */
    ASSERT_INT_EQ(feed(f, ALLOT_CAT_EXTRACT, 1, 1, 30, COOL - 1, &ev), -1);
    /* after the cool-down, non-probe passes still do not demote */
    ASSERT_INT_EQ(feed(f, ALLOT_CAT_EXTRACT, 1, 0, 100, COOL, &ev), -1);
    allot_floor_snapshot(f, ALLOT_CAT_EXTRACT, &st);
    ASSERT_INT_EQ(st.promoted, 1);
    ASSERT_INT_EQ(st.n, 20);
    ASSERT_INT_EQ(st.pass, 0);
    ASSERT_INT_EQ(st.probe_n, 0);
    ASSERT_INT_EQ(st.ignored, 230);
    ASSERT_INT_EQ(st.counted, 20);

    /* probes count; once demoted, a late probe verdict is a labour verdict */
    ASSERT_INT_EQ(feed(f, ALLOT_CAT_EXTRACT, 1, 1, 18, COOL, &ev), 17);
    ASSERT_INT_EQ(allot_floor_record(f, ALLOT_CAT_EXTRACT, 0, 1, COOL + 1, &ev), 0);
    allot_floor_snapshot(f, ALLOT_CAT_EXTRACT, &st);
    ASSERT_INT_EQ(st.promoted, 0);
    ASSERT_INT_EQ(st.n, 19);
    ASSERT_INT_EQ(st.pass, 18);
    ASSERT_INT_EQ(st.counted, 39);
    allot_floor_free(f);
}

TEST(floor_categories_are_independent)
{
    struct allot_floor_conf c;
    struct allot_floor *f;
    struct allot_floor_event ev;
    struct allot_floor_state st;
    int i;

    allot_floor_conf_default(&c);
    ASSERT_INT_EQ(allot_floor_new(&c, &f), 0);
    for (i = 0; i < 19; i++) {
        ASSERT_INT_EQ(allot_floor_record(f, ALLOT_CAT_EXTRACT, 0, 0, i, &ev), 0);
        ASSERT_INT_EQ(allot_floor_record(f, ALLOT_CAT_SUMMARIZE, 1, 0, i, &ev), 0);
    }
    ASSERT_INT_EQ(allot_floor_record(f, ALLOT_CAT_EXTRACT, 0, 0, 19, &ev), 1);
    ASSERT_INT_EQ(ev.category, ALLOT_CAT_EXTRACT);
    ASSERT_INT_EQ(allot_floor_route(f, ALLOT_CAT_EXTRACT, 19, 0, NULL, 0), ALLOT_FLOOR_PROMOTED);
    ASSERT_INT_EQ(count_routes(f, ALLOT_CAT_SUMMARIZE, 19 + COOL, 1000, ALLOT_FLOOR_LABOUR), 1000);
    for (i = 0; i < ALLOT_CAT__COUNT; i++) {
        allot_floor_snapshot(f, (enum allot_category)i, &st);
        ASSERT_INT_EQ(st.promoted, i == ALLOT_CAT_EXTRACT);
        ASSERT_INT_EQ(st.n, i == ALLOT_CAT_EXTRACT ? 20 : i == ALLOT_CAT_SUMMARIZE ? 19 : 0);
    }
    /* summarize's failures are its own: one does not join extract's */
    ASSERT_INT_EQ(allot_floor_record(f, ALLOT_CAT_SUMMARIZE, 0, 0, 20, &ev), 0);
    allot_floor_snapshot(f, ALLOT_CAT_SUMMARIZE, &st);
    ASSERT_INT_EQ(st.pass, 19);
    ASSERT_INT_EQ(st.n, 20);
    /* extract's probes do not touch summarize */
    ASSERT_INT_EQ(feed(f, ALLOT_CAT_EXTRACT, 1, 1, 18, 19 + COOL, &ev), 17);
    allot_floor_snapshot(f, ALLOT_CAT_SUMMARIZE, &st);
    ASSERT_INT_EQ(st.n, 20);
    ASSERT_INT_EQ(st.demotions, 0);
    allot_floor_free(f);
}

TEST(floor_out_of_range_category_is_harmless)
{
    struct allot_floor_conf c;
    struct allot_floor *f;
    struct allot_floor_state st;
    char reason[32] = "x";

    allot_floor_conf_default(&c);
    ASSERT_INT_EQ(allot_floor_new(&c, &f), 0);
    ASSERT_INT_EQ(allot_floor_route(f, ALLOT_CAT__COUNT, 0, 0, reason, sizeof reason),
                  ALLOT_FLOOR_LABOUR);
    ASSERT_STR_EQ(reason, "");
    ASSERT_INT_EQ(allot_floor_record(f, (enum allot_category) - 1, 0, 0, 0, NULL), 0);
    st.n = 7;
    allot_floor_snapshot(f, ALLOT_CAT__COUNT, &st);
    ASSERT_INT_EQ(st.n, 0);
    ASSERT_STR_EQ(allot_floor_route_name(ALLOT_FLOOR_PROBE), "probe");
    ASSERT_STR_EQ(allot_floor_event_kind_name(ALLOT_FLOOR_EV_REPROMOTE), "repromote");
    allot_floor_free(f);
}

/* Four threads route and record on the same floor at once. Pass rates swing
 * between 40% and 97% so categories keep moving; a short cool-down and a
 * high probe share keep the probe rounds busy. Each thread counts its calls
 * and the events it got; the floor's counters must agree with the sums. */
#define TH_N 4
#define TH_ITERS 40000
#define TH_CATS 4

struct th_tally {
    struct allot_floor *f;
    uint64_t seed;
    uint64_t calls[TH_CATS];
    unsigned ev[TH_CATS][4]; /* by event kind */
    unsigned bad_events;
};

static void *th_run(void *arg)
{
    struct th_tally *t = arg;
    int i;

    for (i = 0; i < TH_ITERS; i++) {
        uint64_t r = lcg(&t->seed);
        int k = (int)((r >> 33) % TH_CATS), pass, good = (i / 1500) % 2 == 0;
        enum allot_category cat = (enum allot_category)(ALLOT_CAT_EXTRACT + k);
        struct allot_floor_event ev;
        struct allot_floor_state st;
        char reason[128];
        int64_t now = i; /* each thread's clock; the floor sees them interleaved */
        enum allot_floor_route route =
            allot_floor_route(t->f, cat, now, lcg(&t->seed), reason, sizeof reason);

        pass = (int)((lcg(&t->seed) >> 33) % 100) < (good ? 97 : 40);
        if (allot_floor_record(t->f, cat, pass, route == ALLOT_FLOOR_PROBE, now, &ev)) {
            if (ev.category != cat || ev.kind < ALLOT_FLOOR_EV_PROMOTE ||
                ev.kind > ALLOT_FLOOR_EV_REPROMOTE)
                t->bad_events++;
            else
                t->ev[k][ev.kind]++;
        }
        t->calls[k]++;
        if (i % 256 == 0) {
            allot_floor_snapshot(t->f, cat, &st);
            if (st.n > 20 || st.pass > st.n)
                t->bad_events++;
        }
    }
    return NULL;
}

TEST(floor_threads_keep_consistent_totals)
{
    struct allot_floor_conf c;
    struct allot_floor *f;
    struct th_tally tally[TH_N];
    pthread_t th[TH_N];
    unsigned moves = 0;
    int i, k;

    allot_floor_conf_default(&c);
    c.window = 20;
    c.min_samples = 10;
    c.cooldown_ms = 50;
    c.cooldown_max_ms = 400;
    c.probe_share = 0.5;
    c.probe_samples = 10;
    ASSERT_INT_EQ(allot_floor_new(&c, &f), 0);
    memset(tally, 0, sizeof tally);
    for (i = 0; i < TH_N; i++) {
        tally[i].f = f;
        tally[i].seed = 0x9e3779b97f4a7c15ULL * (uint64_t)(i + 1);
        ASSERT_INT_EQ(pthread_create(&th[i], NULL, th_run, &tally[i]), 0);
    }
    for (i = 0; i < TH_N; i++)
        pthread_join(th[i], NULL);

    for (k = 0; k < TH_CATS; k++) {
        struct allot_floor_state st;
        uint64_t calls = 0;
        unsigned ev[4] = {0, 0, 0, 0};
        for (i = 0; i < TH_N; i++) {
            ASSERT_INT_EQ(tally[i].bad_events, 0);
            calls += tally[i].calls[k];
            ev[1] += tally[i].ev[k][1];
            ev[2] += tally[i].ev[k][2];
            ev[3] += tally[i].ev[k][3];
        }
        allot_floor_snapshot(f, (enum allot_category)(ALLOT_CAT_EXTRACT + k), &st);
        ASSERT_INT_EQ(st.counted + st.ignored, calls);
        ASSERT_INT_EQ(st.promotions, ev[ALLOT_FLOOR_EV_PROMOTE]);
        ASSERT_INT_EQ(st.demotions, ev[ALLOT_FLOOR_EV_DEMOTE]);
        ASSERT_INT_EQ(st.repromotions, ev[ALLOT_FLOOR_EV_REPROMOTE]);
        ASSERT_INT_EQ(st.promoted, (int)(st.promotions - st.demotions));
        ASSERT(st.n <= 20 && st.pass <= st.n);
        moves += st.promotions + st.demotions;
    }
    ASSERT_INT_EQ(tally[0].calls[0] + tally[0].calls[1] + tally[0].calls[2] + tally[0].calls[3],
                  TH_ITERS);
    ASSERT(moves > 20); /* the states did move while the threads raced */
    allot_floor_free(f);
}
