/* fmt.h: fixed-point number formatting for the request path.
 *
 * snprintf("%.2f") goes through glibc's multi-precision float printer, a
 * few hundred nanoseconds a call; the gateway formats a dozen numbers a
 * request (confidence, cost, the explanation's weights). This one prints
 * exactly what "%.*f" prints: below 1e12 after scaling it does integer
 * arithmetic, near a rounding tie on the exact binary value (up to 3
 * decimals); otherwise (near ties with more decimals, huge values, NaN,
 * infinities, decimals outside 0..9) it calls snprintf. The classifier's
 * few small numbers a request take allot_fmt_fixed_small(), the same
 * arithmetic inline, first.
 *
 * Errors: none. Output is always NUL-terminated when cap > 0, cut at
 * cap - 1 like snprintf; the return value is the length the full text
 * needs, like snprintf, so the caller can detect a cut. */
#ifndef ALLOT_FMT_H
#define ALLOT_FMT_H
#include <math.h>
#include <stddef.h>
#include <stdint.h>

/* Write v with `decimals` digits after the point ("%.*f"); with plus set,
 * a '+' before non-negative values ("%+.*f"). */
size_t allot_fmt_fixed(char *out, size_t cap, double v, int decimals, int plus);
/* allot_fmt_fixed()'s text for 1 or 2 decimals when |v| * 10^decimals is
 * below 9999 and not near a rounding tie, as the classifier's weights and
 * confidences are, inline: the same double product, the same floor and
 * the same test of the rest as allot_fmt_fixed(), so the same bytes
 * (test_fmt.c compares the two over many values, ties among them), without
 * the call and its general digit loop. Writes at most ALLOT_FMT_SMALL_MAX
 * bytes, not NUL-terminated, and returns how many; returns 0, writing
 * nothing, for any other v or decimals: then call allot_fmt_fixed(). */
#define ALLOT_FMT_SMALL_MAX 7 /* "+999.8", "-99.99" */
static inline size_t allot_fmt_fixed_small(char *out, double v, int decimals, int plus)
{
    double x = fabs(v) * (decimals == 1 ? 10.0 : 100.0), r;
    unsigned below, scaled, whole, frac;
    char *p = out;

    if ((decimals != 1 && decimals != 2) || !(x < 9999.0)) /* also NaN */
        return 0;
    below = (unsigned)x;
    r = x - (double)below;
    if (fabs(r - 0.5) < 1e-3) /* near a tie: allot_fmt_fixed() reads the exact value */
        return 0;
    scaled = below + (r > 0.5);
    whole = decimals == 1 ? scaled / 10 : scaled / 100;
    frac = decimals == 1 ? scaled % 10 : scaled % 100;
    if (signbit(v))
        *p++ = '-';
    else if (plus)
        *p++ = '+';
    if (whole >= 100)
        *p++ = (char)('0' + whole / 100);
    if (whole >= 10)
        *p++ = (char)('0' + whole / 10 % 10);
    *p++ = (char)('0' + whole % 10);
    *p++ = '.';
    if (decimals == 2)
        *p++ = (char)('0' + frac / 10);
    *p++ = (char)('0' + frac % 10);
    return (size_t)(p - out);
}

/* Write v in decimal ("%llu") into out, which has room for 20 bytes; not
 * NUL-terminated. Returns the length. */
size_t allot_fmt_u64(char *out, uint64_t v);

/* snprintf(out, cap, "%s%s%d%s", a, b, i, c) without stdio: the paths of
 * request parts ("messages.12", "messages.3.content.0", "input[4]") that
 * the translators name in their errors, made for every part of every
 * request. Truncated and NUL-terminated as snprintf does (cap > 0);
 * returns the length written. */
size_t allot_fmt_path(char *out, size_t cap, const char *a, const char *b, int i, const char *c);

#endif
