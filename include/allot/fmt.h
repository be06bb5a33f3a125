/* fmt.h: fixed-point number formatting for the request path.
 *
 * snprintf("%.2f") goes through glibc's multi-precision float printer, a
 * few hundred nanoseconds a call; the gateway formats a dozen numbers a
 * request (confidence, cost, the explanation's weights). This one prints
 * exactly what "%.*f" prints: below 1e12 after scaling it does integer
 * arithmetic, near a rounding tie on the exact binary value (up to 3
 * decimals); otherwise (near ties with more decimals, huge values, NaN,
 * infinities, decimals outside 0..9) it calls snprintf.
 *
 * Errors: none. Output is always NUL-terminated when cap > 0, cut at
 * cap - 1 like snprintf; the return value is the length the full text
 * needs, like snprintf, so the caller can detect a cut. */
#ifndef ALLOT_FMT_H
#define ALLOT_FMT_H
#include <stddef.h>
#include <stdint.h>

/* Write v with `decimals` digits after the point ("%.*f"); with plus set,
 * a '+' before non-negative values ("%+.*f"). */
size_t allot_fmt_fixed(char *out, size_t cap, double v, int decimals, int plus);
/* Write v in decimal ("%llu") into out, which has room for 20 bytes; not
 * NUL-terminated. Returns the length. */
size_t allot_fmt_u64(char *out, uint64_t v);

#endif
