/* cost.c: token cost arithmetic (see cost.h).
 *
 * The token counts are multiplied by the per-million prices and the sum is
 * divided by 1e6 once: for whole-cent prices the numerator is an exact
 * integer-valued double, so the result is the correctly rounded decimal
 * (1000 tokens at $5/M plus 500 at $15/M is exactly the double 0.0125).
 * Counts convert to double exactly up to 2^53 tokens. */
#include <stddef.h>
#include <stdint.h>
#include "allot/config.h"
#include "allot/cost.h"

double allot_cost_usd(const struct allot_model *m, int64_t prompt_tokens, int64_t completion_tokens)
{
    double in, out;

    if (!m)
        return 0.0;
    /* a negative count is a bug upstream of here; it must not earn money */
    in = prompt_tokens > 0 ? (double)prompt_tokens : 0.0;
    out = completion_tokens > 0 ? (double)completion_tokens : 0.0;
    return (in * m->price_in + out * m->price_out) / 1e6;
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
