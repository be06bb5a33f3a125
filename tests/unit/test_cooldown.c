/* test_cooldown.c: models resting after failures in a row (cooldown.h). */
#include <stdio.h>
#include <string.h>
#include "allot/buf.h"
#include "allot/config.h"
#include "allot/cooldown.h"
#include "test.h"

#define S 1000000ull /* a second in microseconds */

static int load(const char *limits, struct allot_config **c)
{
    char y[1024];
    struct allot_buf err;
    int rc, n = snprintf(y, sizeof y,
                         "providers: [{name: p, base_url: http://127.0.0.1:9/v1}]\n"
                         "models: [{name: a, provider: p}, {name: b, provider: p}]\n"
                         "tiers: {judgment: [a, b], labour: [b], code: [a]}\n%s",
                         limits);
    allot_buf_init(&err, 4096);
    rc = allot_config_load_mem("t.yaml", y, (size_t)n, c, &err);
    if (rc)
        fprintf(stderr, "%s", allot_buf_cstr(&err));
    allot_buf_release(&err);
    return rc;
}

TEST(cooldown_rests_after_failures_in_a_row_and_doubles)
{
    struct allot_config *c = NULL;
    struct allot_cooldowns *cd = NULL;
    uint64_t t = 1000 * S;
    struct allot_buf m;

    ASSERT_INT_EQ(load("limits: {cooldown_after: 3, cooldown_ms: 2000}\n", &c), 0);
    ASSERT_INT_EQ(allot_cooldowns_new(c, &cd), 0);
    /* two failures, a success: the count starts again */
    ASSERT_INT_EQ(allot_cooldowns_record(cd, 0, 0, t), 0);
    ASSERT_INT_EQ(allot_cooldowns_record(cd, 0, 0, t), 0);
    ASSERT_INT_EQ(allot_cooldowns_record(cd, 0, 1, t), 0);
    ASSERT_INT_EQ(allot_cooldowns_record(cd, 0, 0, t), 0);
    ASSERT_INT_EQ(allot_cooldowns_record(cd, 0, 0, t), 0);
    ASSERT_INT_EQ(allot_cooldowns_resting(cd, 0, t), 0);
    /* the third in a row: a rest of 2 s; failures during it start nothing */
    ASSERT_INT_EQ(allot_cooldowns_record(cd, 0, 0, t), 2 * S);
    ASSERT_INT_EQ(allot_cooldowns_resting(cd, 0, t + S / 2), 3 * S / 2);
    ASSERT_INT_EQ(allot_cooldowns_record(cd, 0, 0, t + S), 0);
    ASSERT_INT_EQ(allot_cooldowns_resting(cd, 1, t), 0); /* the other model is not touched */
    allot_buf_init(&m, 1 << 16);
    ASSERT_INT_EQ(allot_cooldowns_render(cd, t + S, &m), 0);
    ASSERT_STR_CONTAINS(allot_buf_cstr(&m), "allot_model_resting_seconds{model=\"a\"} 1.000\n"
                                            "allot_model_resting_seconds{model=\"b\"} 0.000\n");
    ASSERT_STR_CONTAINS(allot_buf_cstr(&m), "allot_model_rests_total{model=\"a\"} 1\n");
    allot_buf_release(&m);
    /* over: the first failure after it rests again, twice as long, up to 16x */
    t += 2 * S;
    ASSERT_INT_EQ(allot_cooldowns_resting(cd, 0, t), 0);
    ASSERT_INT_EQ(allot_cooldowns_record(cd, 0, 0, t), 4 * S);
    t += 4 * S;
    ASSERT_INT_EQ(allot_cooldowns_record(cd, 0, 0, t), 8 * S);
    t += 8 * S;
    ASSERT_INT_EQ(allot_cooldowns_record(cd, 0, 0, t), 16 * S);
    t += 16 * S;
    ASSERT_INT_EQ(allot_cooldowns_record(cd, 0, 0, t), 32 * S);
    t += 32 * S;
    ASSERT_INT_EQ(allot_cooldowns_record(cd, 0, 0, t), 32 * S);
    /* an answer ends the series: three failures again for the next, of 2 s */
    t += 32 * S;
    ASSERT_INT_EQ(allot_cooldowns_record(cd, 0, 1, t), 0);
    ASSERT_INT_EQ(allot_cooldowns_record(cd, 0, 0, t), 0);
    ASSERT_INT_EQ(allot_cooldowns_record(cd, 0, 0, t), 0);
    ASSERT_INT_EQ(allot_cooldowns_record(cd, 0, 0, t), 2 * S);
    /* models out of range, and no object: never resting */
    ASSERT_INT_EQ(allot_cooldowns_record(cd, 7, 0, t), 0);
    ASSERT_INT_EQ(allot_cooldowns_resting(cd, -1, t), 0);
    ASSERT_INT_EQ(allot_cooldowns_resting(NULL, 0, t), 0);
    allot_cooldowns_free(cd);
    allot_config_free(c);
}

TEST(cooldown_off)
{
    struct allot_config *c = NULL;
    struct allot_cooldowns *cd = NULL;
    struct allot_buf m;
    int i;

    ASSERT_INT_EQ(load("limits: {cooldown_after: 0}\n", &c), 0);
    ASSERT_INT_EQ(allot_cooldowns_new(c, &cd), 0);
    for (i = 0; i < 100; i++)
        ASSERT_INT_EQ(allot_cooldowns_record(cd, 0, 0, S), 0);
    ASSERT_INT_EQ(allot_cooldowns_resting(cd, 0, S), 0);
    allot_buf_init(&m, 1 << 16);
    ASSERT_INT_EQ(allot_cooldowns_render(cd, S, &m), 0);
    /* the gauges are there (a provider's hint still rests a model), all 0 */
    ASSERT_STR_CONTAINS(allot_buf_cstr(&m), "allot_model_resting_seconds{model=\"a\"} 0.000\n");
    ASSERT_STR_CONTAINS(allot_buf_cstr(&m), "allot_model_rests_total{model=\"a\"} 0\n");
    allot_buf_release(&m);
    /* counted rests are off, but a provider's hint is its word: it rests */
    ASSERT_INT_EQ(allot_cooldowns_told(cd, 0, 3 * S, S), 3 * S);
    ASSERT_INT_EQ(allot_cooldowns_resting(cd, 0, 2 * S), 2 * S);
    ASSERT_INT_EQ(allot_cooldowns_resting(cd, 0, 4 * S), 0);
    for (i = 0; i < 100; i++) /* and failures after it still start nothing */
        ASSERT_INT_EQ(allot_cooldowns_record(cd, 0, 0, 5 * S), 0);
    ASSERT_INT_EQ(allot_cooldowns_resting(cd, 0, 5 * S), 0);
    allot_cooldowns_free(cd);
    allot_config_free(c);
    /* the defaults: 3 failures, 5 s */
    ASSERT_INT_EQ(load("", &c), 0);
    ASSERT_INT_EQ(c->limits.cooldown_after, 3);
    ASSERT_INT_EQ(c->limits.cooldown_ms, 5000);
    allot_config_free(c);
}

TEST(cooldown_hint_rests_at_once_capped_and_never_shorter)
{
    struct allot_config *c = NULL;
    struct allot_cooldowns *cd = NULL;
    uint64_t t = 1000 * S;
    struct allot_buf m;

    ASSERT_INT_EQ(load("limits: {cooldown_after: 3, cooldown_ms: 1000}\n", &c), 0);
    ASSERT_INT_EQ(allot_cooldowns_new(c, &cd), 0);
    ASSERT_INT_EQ(allot_cooldowns_max_us(cd), 16 * S);
    /* the first failure, with a hint of 2.5 s: resting at once, for that */
    ASSERT_INT_EQ(allot_cooldowns_told(cd, 0, 2500000, t), 2500000);
    ASSERT_INT_EQ(allot_cooldowns_resting(cd, 0, t), 2500000);
    ASSERT_INT_EQ(allot_cooldowns_resting(cd, 0, t + 2 * S), S / 2);
    ASSERT_INT_EQ(allot_cooldowns_resting(cd, 1, t), 0); /* the other model is not touched */
    /* a shorter hint meanwhile does not cut it short; a longer one lengthens it */
    ASSERT_INT_EQ(allot_cooldowns_told(cd, 0, S, t + S), 0);
    ASSERT_INT_EQ(allot_cooldowns_resting(cd, 0, t + S), 3 * S / 2);
    ASSERT_INT_EQ(allot_cooldowns_told(cd, 0, 4 * S, t + S), 4 * S);
    ASSERT_INT_EQ(allot_cooldowns_resting(cd, 0, t + S), 4 * S);
    /* a counted failure during it starts nothing */
    ASSERT_INT_EQ(allot_cooldowns_record(cd, 0, 0, t + 2 * S), 0);
    ASSERT_INT_EQ(allot_cooldowns_resting(cd, 0, t + 2 * S), 3 * S);
    /* one rest in the counters, however often it was lengthened */
    allot_buf_init(&m, 1 << 16);
    ASSERT_INT_EQ(allot_cooldowns_render(cd, t + 2 * S, &m), 0);
    ASSERT_STR_CONTAINS(allot_buf_cstr(&m), "allot_model_resting_seconds{model=\"a\"} 3.000\n");
    ASSERT_STR_CONTAINS(allot_buf_cstr(&m), "allot_model_rests_total{model=\"a\"} 1\n");
    ASSERT_STR_CONTAINS(allot_buf_cstr(&m), "allot_model_hinted_rests_total{model=\"a\"} 1\n");
    ASSERT_STR_CONTAINS(allot_buf_cstr(&m), "allot_model_hinted_rests_total{model=\"b\"} 0\n");
    allot_buf_release(&m);
    /* over: the failures in a row went on counting (hinted 3, counted 1),
     * so the next failure without a hint starts a counted rest of 1 s */
    t += 5 * S;
    ASSERT_INT_EQ(allot_cooldowns_resting(cd, 0, t), 0);
    ASSERT_INT_EQ(allot_cooldowns_record(cd, 0, 0, t), S);
    /* an absurd hint is capped at 16 x cooldown_ms */
    t += S;
    ASSERT_INT_EQ(allot_cooldowns_told(cd, 1, 3600 * S, t), 16 * S);
    ASSERT_INT_EQ(allot_cooldowns_resting(cd, 1, t), 16 * S);
    /* a hint of 0, a model out of range, no object: nothing */
    ASSERT_INT_EQ(allot_cooldowns_told(cd, 0, 0, t), 0);
    ASSERT_INT_EQ(allot_cooldowns_told(cd, 7, S, t), 0);
    ASSERT_INT_EQ(allot_cooldowns_told(cd, -1, S, t), 0);
    ASSERT_INT_EQ(allot_cooldowns_told(NULL, 0, S, t), 0);
    allot_buf_init(&m, 1 << 16);
    ASSERT_INT_EQ(allot_cooldowns_render(cd, t, &m), 0);
    ASSERT_STR_CONTAINS(allot_buf_cstr(&m), "allot_model_rests_total{model=\"a\"} 2\n");
    ASSERT_STR_CONTAINS(allot_buf_cstr(&m), "allot_model_hinted_rests_total{model=\"a\"} 1\n");
    ASSERT_STR_CONTAINS(allot_buf_cstr(&m), "allot_model_hinted_rests_total{model=\"b\"} 1\n");
    allot_buf_release(&m);
    allot_cooldowns_free(cd);
    allot_config_free(c);
}
