#include <math.h>
#include <stdint.h>
#include "allot/config.h"
#include "allot/cost.h"
#include "test.h"

TEST(cost_exact_for_whole_cent_prices)
{
    struct allot_model m = {.price_in = 5.0, .price_out = 15.0};
    /* 1000 * 5/M + 500 * 15/M = 0.005 + 0.0075 */
    ASSERT(allot_cost_cached_usd(&m, 1000, 0, 0, 500) == 0.0125);
    ASSERT(allot_cost_cached_usd(&m, 1, 0, 0, 0) == 0.000005);
    ASSERT(allot_cost_cached_usd(&m, 0, 0, 0, 0) == 0.0);
}

TEST(cost_zero_price_and_no_model_cost_nothing)
{
    struct allot_model local = {.price_in = 0.0, .price_out = 0.0};
    ASSERT(allot_cost_cached_usd(&local, 123456, 0, 0, 7890) == 0.0);
    ASSERT(allot_cost_cached_usd(NULL, 1000, 0, 0, 1000) == 0.0);
}

TEST(cost_fractional_prices)
{
    struct allot_model m = {.price_in = 0.15, .price_out = 0.6};
    ASSERT_DBL_NEAR(allot_cost_cached_usd(&m, 1000000, 0, 0, 1000000), 0.75, 1e-15);
    ASSERT_DBL_NEAR(allot_cost_cached_usd(&m, 2500, 0, 0, 400), 0.000615, 1e-18);
}

TEST(cost_large_counts_keep_precision)
{
    struct allot_model m = {.price_in = 2.5, .price_out = 15.0};
    /* past 2^31 and 2^32: no int overflow on the way */
    ASSERT(allot_cost_cached_usd(&m, 3000000000LL, 0, 0, 0) == 7500.0);
    ASSERT(allot_cost_cached_usd(&m, 0, 0, 0, 1000000000000LL) == 15000000.0);
    /* 2^53 tokens is still exact in a double */
    ASSERT(allot_cost_cached_usd(&m, 9007199254740992LL, 0, 0, 0) ==
           9007199254740992.0 * 2.5 / 1e6);
    /* a tiny count next to a huge one is not lost */
    ASSERT(allot_cost_cached_usd(&m, 4000000000LL, 0, 0, 1) == (4000000000.0 * 2.5 + 15.0) / 1e6);
}

TEST(cost_negative_counts_count_as_zero)
{
    struct allot_model m = {.price_in = 5.0, .price_out = 15.0};
    ASSERT(allot_cost_cached_usd(&m, -1000, 0, 0, 500) == 0.0075);
    ASSERT(allot_cost_cached_usd(&m, 1000, 0, 0, INT64_MIN) == 0.005);
}

TEST(cost_cached_tokens_at_their_prices)
{
    /* gpt-4.1: input 2.00, cached 0.50, output 8.00; writes at 2.50 */
    struct allot_model m = {
        .price_in = 2.0, .price_cached_in = 0.5, .price_cache_write = 2.5, .price_out = 8.0};
    /* 10000 prompt of which 8000 cached: 2000 * 2 + 8000 * 0.5 + 100 * 8 */
    ASSERT(allot_cost_cached_usd(&m, 10000, 8000, 0, 100) == 0.0088);
    /* 1000 written, 8000 read, 1000 plain */
    ASSERT(allot_cost_cached_usd(&m, 10000, 8000, 1000, 100) == 0.0093);
    /* nothing cached: every prompt token at the input price */
    ASSERT(allot_cost_cached_usd(&m, 10000, 0, 0, 100) == 0.0208);
    ASSERT(allot_cost_cached_usd(NULL, 10000, 8000, 1000, 100) == 0.0);
}

TEST(cost_cached_counts_are_capped_by_the_prompt)
{
    struct allot_model m = {
        .price_in = 3.0, .price_cached_in = 0.3, .price_cache_write = 3.75, .price_out = 15.0};
    /* more cached than prompt: all the prompt at the cached price */
    ASSERT(allot_cost_cached_usd(&m, 1000, 5000, 0, 0) ==
           allot_cost_cached_usd(&m, 1000, 1000, 0, 0));
    ASSERT_DBL_NEAR(allot_cost_cached_usd(&m, 1000, 5000, 0, 0), 0.0003, 1e-18);
    /* writes take what reads left */
    ASSERT_DBL_NEAR(allot_cost_cached_usd(&m, 1000, 600, 900, 0), (600 * 0.3 + 400 * 3.75) / 1e6,
                    1e-18);
    /* negative counts count as 0 */
    ASSERT(allot_cost_cached_usd(&m, 1000, -5, -5, 0) == 0.003);
    ASSERT(allot_cost_cached_usd(&m, -1000, 500, 500, 0) == 0.0);
    ASSERT(allot_cost_cached_usd(&m, 1000, INT64_MIN, INT64_MIN, INT64_MIN) == 0.003);
}

TEST(cost_estimate_rounds_up)
{
    ASSERT_INT_EQ(allot_tokens_estimate(0), 0);
    ASSERT_INT_EQ(allot_tokens_estimate(1), 1);
    ASSERT_INT_EQ(allot_tokens_estimate(3), 1);
    ASSERT_INT_EQ(allot_tokens_estimate(4), 1);
    ASSERT_INT_EQ(allot_tokens_estimate(5), 2);
    ASSERT_INT_EQ(allot_tokens_estimate(8), 2);
    ASSERT_INT_EQ(allot_tokens_estimate(4001), 1001);
    ASSERT_INT_EQ(allot_tokens_estimate(SIZE_MAX), (int64_t)(SIZE_MAX / 4 + 1));
}

TEST(cost_nusd_rounds_and_saturates)
{
    ASSERT_INT_EQ(allot_cost_nusd(0), 0);
    ASSERT_INT_EQ(allot_cost_nusd(-1), 0);
    ASSERT_INT_EQ(allot_cost_nusd(NAN), 0);
    ASSERT_INT_EQ(allot_cost_nusd(0.0125), 12500000);
    ASSERT_INT_EQ(allot_cost_nusd(1.6e-5), 16000);
    ASSERT_INT_EQ(allot_cost_nusd(4.9e-10), 0);
    ASSERT_INT_EQ(allot_cost_nusd(5.1e-10), 1);
    ASSERT(allot_cost_nusd(1e300) == (uint64_t)INT64_MAX);
}
