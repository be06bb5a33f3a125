/* cost.h: token cost arithmetic. Prices are USD per million tokens. */
#ifndef ALLOT_COST_H
#define ALLOT_COST_H
#include <stddef.h>
#include <stdint.h>
#include "allot/config.h"

/* prompt * price_in / 1e6 + completion * price_out / 1e6. */
double allot_cost_usd(const struct allot_model *m, int64_t prompt_tokens,
                      int64_t completion_tokens);

/* usd in whole nano-USD, rounded, for sums that must be exact (metrics,
 * budgets): 0 for no cost (and NaN), at most 2^63 - 1. */
uint64_t allot_cost_nusd(double usd);

/* A token estimate for text of n bytes when the upstream reports no usage:
 * ceil(n / 4), the usual rule of thumb for English BPE tokenizers. */
int64_t allot_tokens_estimate(size_t n_bytes);

#endif
