/* cost.h: token cost arithmetic. Prices are USD per million tokens. */
#ifndef ALLOT_COST_H
#define ALLOT_COST_H
#include <stddef.h>
#include <stdint.h>
#include "allot/config.h"

/* The cost of an answer whose prompt_tokens include cached_tokens read
 * from the provider's prompt cache and cache_write_tokens written to it:
 * (prompt - cached - write) * price_in + cached * price_cached_in +
 * write * price_cache_write + completion * price_out, per million. Negative
 * counts count as 0; cached is capped at prompt and write at what is left,
 * so a provider's inconsistent usage never bills more than all its prompt
 * tokens at one of the prices. 0 when m is NULL. */
double allot_cost_cached_usd(const struct allot_model *m, int64_t prompt_tokens,
                             int64_t cached_tokens, int64_t cache_write_tokens,
                             int64_t completion_tokens);

/* usd in whole nano-USD, rounded, for sums that must be exact (metrics,
 * budgets): 0 for no cost (and NaN), at most 2^63 - 1. */
uint64_t allot_cost_nusd(double usd);

/* A token estimate for text of n bytes when the upstream reports no usage:
 * ceil(n / 4), the usual rule of thumb for English BPE tokenizers. */
int64_t allot_tokens_estimate(size_t n_bytes);

#endif
