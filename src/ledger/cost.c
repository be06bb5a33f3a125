/* cost.c: token cost arithmetic (see cost.h).
 *
 * The token counts are multiplied by the per-million prices and the sum is
 * divided by 1e6 once: for whole-cent prices the numerator is an exact
 * integer-valued double, so the result is the correctly rounded decimal
 * (1000 tokens at $5/M plus 500 at $15/M is exactly the double 0.0125).
 * Counts convert to double exactly up to 2^53 tokens.
 *
 * Cached prompt tokens are part of the prompt count in both providers'
 * bills once allot has read them (OpenAI's prompt_tokens includes
 * cached_tokens; Anthropic's three input counts are summed), so the
 * uncached rest is what is left after the cache reads and writes. */
#include <stddef.h>
#include <stdint.h>
#include "allot/config.h"
#include "allot/cost.h"

static int64_t at_least_zero(int64_t n)
{
    /* a negative count is a bug upstream of here; it must not earn money */
    return n > 0 ? n : 0;
}

double allot_cost_cached_usd(const struct allot_model *m, int64_t prompt_tokens,
                             int64_t cached_tokens, int64_t cache_write_tokens,
                             int64_t completion_tokens)
{
    int64_t prompt = at_least_zero(prompt_tokens), cached = at_least_zero(cached_tokens);
    int64_t write = at_least_zero(cache_write_tokens);

    if (!m)
        return 0.0;
    if (cached > prompt)
        cached = prompt;
    if (write > prompt - cached)
        write = prompt - cached;
    return ((double)(prompt - cached - write) * m->price_in + (double)cached * m->price_cached_in +
            (double)write * m->price_cache_write +
            (double)at_least_zero(completion_tokens) * m->price_out) /
           1e6;
}

uint64_t allot_cost_nusd(double usd)
{
    if (!(usd > 0)) /* also NaN */
        return 0;
    if (usd >= 9.2e9) /* past 2^63 nano-USD: a bug upstream, not money */
        return (uint64_t)INT64_MAX;
    return (uint64_t)(usd * 1e9 + 0.5);
}

int64_t allot_tokens_estimate(size_t n_bytes)
{
    /* ceil(n / 4) without the n + 3 that could wrap */
    return (int64_t)(n_bytes / 4 + (n_bytes % 4 != 0));
}
