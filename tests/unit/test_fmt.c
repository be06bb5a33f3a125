#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include "allot/fmt.h"
#include "allot/rand.h"
#include "test.h"

/* allot_fmt_fixed must print exactly what snprintf("%.*f") prints. */
static int same_as_printf(double v, int decimals, int plus, char *got, char *want, size_t cap)
{
    size_t n = allot_fmt_fixed(got, cap, v, decimals, plus);
    int k = snprintf(want, cap, plus ? "%+.*f" : "%.*f", decimals, v);
    return k >= 0 && n == (size_t)k && strcmp(got, want) == 0;
}

TEST(fmt_fixed_known_values)
{
    char b[64];
    allot_fmt_fixed(b, sizeof b, 0.93, 2, 0);
    ASSERT_STR_EQ(b, "0.93");
    allot_fmt_fixed(b, sizeof b, 0.125, 2, 0); /* an exact tie: half to even */
    ASSERT_STR_EQ(b, "0.12");
    allot_fmt_fixed(b, sizeof b, 0.375, 2, 0);
    ASSERT_STR_EQ(b, "0.38");
    allot_fmt_fixed(b, sizeof b, 0.995, 2, 0); /* 0.99499999... in binary */
    ASSERT_STR_EQ(b, "0.99");
    allot_fmt_fixed(b, sizeof b, -0.001, 2, 0);
    ASSERT_STR_EQ(b, "-0.00");
    allot_fmt_fixed(b, sizeof b, 2.1, 1, 1);
    ASSERT_STR_EQ(b, "+2.1");
    allot_fmt_fixed(b, sizeof b, -1.25, 2, 1);
    ASSERT_STR_EQ(b, "-1.25");
    allot_fmt_fixed(b, sizeof b, 0.000615, 8, 0);
    ASSERT_STR_EQ(b, "0.00061500");
    allot_fmt_fixed(b, sizeof b, 7.0, 0, 0);
    ASSERT_STR_EQ(b, "7");
    allot_fmt_fixed(b, sizeof b, NAN, 2, 0);
    ASSERT_STR_EQ(b, "nan");
    ASSERT_INT_EQ(allot_fmt_fixed(b, sizeof b, 1e300, 2, 0), 304); /* past the fast path */
    ASSERT_INT_EQ(strlen(b), 63);
}

TEST(fmt_fixed_cuts_like_snprintf)
{
    char b[5];
    ASSERT_INT_EQ(allot_fmt_fixed(b, sizeof b, 123.456, 2, 0), 6);
    ASSERT_STR_EQ(b, "123.");
    ASSERT_INT_EQ(allot_fmt_fixed(b, 0, 1.5, 1, 0), 3); /* cap 0 writes nothing */
}

TEST(fmt_fixed_matches_printf_on_random_values)
{
    char got[400], want[400];
    uint64_t state = 42;
    int i, d, bad = 0;
    for (i = 0; i < 200000; i++) {
        uint64_t r = allot_rand_next(&state);
        double mag = pow(10.0, (double)(r % 13) - 4.0); /* 1e-4 .. 1e8 */
        double v = ((double)(allot_rand_next(&state) >> 11) / 9007199254740992.0 - 0.5) * mag;
        d = (int)((r >> 8) % 10);
        if (i % 7 == 0) /* values on a decimal grid: ties and near-ties */
            v = (double)(int64_t)(allot_rand_next(&state) % 2000001 - 1000000) / 1000.0 + 0.0005;
        if (!same_as_printf(v, d, (int)((r >> 16) & 1), got, want, sizeof got)) {
            if (bad++ < 5)
                fprintf(stderr, "  %.17g at %d: got %s, printf %s\n", v, d, got, want);
        }
    }
    ASSERT_INT_EQ(bad, 0);
}

/* allot_fmt_fixed_small must write what allot_fmt_fixed writes wherever
 * it answers, and answer for the classifier's numbers: values on the
 * decimal grids (ties and near-ties at 1 and 2 decimals, both signs, -0),
 * the neighbours of each in binary, random values; and refuse the rest. */
static int small_same(double v, int decimals, int plus, int *answered)
{
    char got[16], want[64];
    size_t n = allot_fmt_fixed_small(got, v, decimals, plus);
    size_t k = allot_fmt_fixed(want, sizeof want, v, decimals, plus);
    if (n == 0)
        return 1;
    (*answered)++;
    return n <= ALLOT_FMT_SMALL_MAX && n == k && memcmp(got, want, n) == 0;
}

TEST(fmt_fixed_small_same_as_fmt_fixed)
{
    uint64_t state = 7;
    int i, d, plus, bad = 0, answered = 0, tries = 0;
    char b[16];

    for (i = -120000; i <= 120000; i++)
        for (d = 1; d <= 2; d++)
            for (plus = 0; plus <= 1; plus++) {
                double grid = (double)i / 2000.0; /* every tie of both: .x5, .xx5 */
                double near[3] = {grid, nextafter(grid, -INFINITY), nextafter(grid, INFINITY)};
                int k;
                for (k = 0; k < 3; k++, tries++)
                    if (!small_same(near[k], d, plus, &answered) && bad++ < 5)
                        fprintf(stderr, "  %.17g at %d\n", near[k], d);
            }
    for (i = 0; i < 200000; i++, tries++) {
        uint64_t r = allot_rand_next(&state);
        double v = ((double)(allot_rand_next(&state) >> 11) / 9007199254740992.0 - 0.5) *
                   pow(10.0, (double)(r % 7) - 3.0); /* 1e-3 .. 1e3 */
        if (!small_same(v, 1 + (int)(r >> 8 & 1), (int)(r >> 9 & 1), &answered) && bad++ < 5)
            fprintf(stderr, "  %.17g\n", v);
    }
    ASSERT_INT_EQ(bad, 0);
    ASSERT(answered > tries * 9 / 10); /* the fast path is the common one */
    ASSERT_INT_EQ(allot_fmt_fixed_small(b, -0.0, 2, 1), 5);
    ASSERT(memcmp(b, "-0.00", 5) == 0);
    ASSERT_INT_EQ(allot_fmt_fixed_small(b, 0.125, 2, 0), 0); /* a tie: not decided here */
    ASSERT_INT_EQ(allot_fmt_fixed_small(b, 999.84, 1, 1), 6);
    ASSERT(memcmp(b, "+999.8", 6) == 0);
    ASSERT_INT_EQ(allot_fmt_fixed_small(b, 1000.0, 1, 0), 0);
    ASSERT_INT_EQ(allot_fmt_fixed_small(b, NAN, 1, 0), 0);
    ASSERT_INT_EQ(allot_fmt_fixed_small(b, INFINITY, 2, 0), 0);
    ASSERT_INT_EQ(allot_fmt_fixed_small(b, 0.5, 3, 0), 0);
}

/* allot_fmt_u64 must print what snprintf("%llu") prints, every length. */
TEST(fmt_u64_matches_printf)
{
    static const uint64_t known[] = {0, 9, 10, 99, 100, 101, 999, 1000, 1081, UINT64_MAX};
    char got[24], want[24];
    uint64_t v;
    size_t i, n;

    for (i = 0; i < sizeof known / sizeof known[0]; i++) {
        n = allot_fmt_u64(got, known[i]);
        got[n] = '\0';
        snprintf(want, sizeof want, "%llu", (unsigned long long)known[i]);
        ASSERT_STR_EQ(got, want);
    }
    for (v = 1; v < UINT64_MAX / 7; v = v * 7 + 3) { /* every length from 1 to 20 */
        n = allot_fmt_u64(got, v);
        got[n] = '\0';
        snprintf(want, sizeof want, "%llu", (unsigned long long)v);
        ASSERT_STR_EQ(got, want);
    }
}

TEST(fmt_path_matches_snprintf_and_its_truncation)
{
    static const int known[] = {INT_MIN, -2147483647, -10, -1, 0, 7, 10, 61, 99999, INT_MAX};
    static const char *const parts[][3] = {
        {"messages.", "", ""}, {"messages.12", ".content.", ""}, {"input[", "", "]"},
        {"", "", ""},          {"tools[", "", "].function"},
    };
    char got[48], want[48];

    for (size_t p = 0; p < sizeof parts / sizeof parts[0]; p++)
        for (size_t k = 0; k < sizeof known / sizeof known[0]; k++)
            for (size_t cap = 1; cap <= sizeof got; cap++) {
                int wn = snprintf(want, cap, "%s%s%d%s", parts[p][0], parts[p][1], known[k],
                                  parts[p][2]);
                size_t gn =
                    allot_fmt_path(got, cap, parts[p][0], parts[p][1], known[k], parts[p][2]);
                ASSERT_STR_EQ(got, want);
                ASSERT_INT_EQ(gn, (size_t)wn < cap ? (size_t)wn : cap - 1);
            }
}
