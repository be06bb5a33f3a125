/* fmt.c: fixed-point number formatting (see fmt.h). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include "allot/copy.h"
#include "allot/fmt.h"

static const double pow10_tab[10] = {1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9};
static const uint64_t pow10_int[10] = {1,      10,      100,      1000,      10000,
                                       100000, 1000000, 10000000, 100000000, 1000000000};
/* "00" to "99", for two digits at a time */
static const char digit_pairs[201] = "00010203040506070809"
                                     "10111213141516171819"
                                     "20212223242526272829"
                                     "30313233343536373839"
                                     "40414243444546474849"
                                     "50515253545556575859"
                                     "60616263646566676869"
                                     "70717273747576777879"
                                     "80818283848586878889"
                                     "90919293949596979899";

/* Near a tie the rounding of |v| * 10^decimals is decided on the exact
 * binary value, as printf does: |v| = m * 2^-shift (m its 53-bit
 * significand), so |v| * 10^d = m * 10^d * 2^-shift, an integer (below
 * 2^63 for d <= 3) shifted right; what is shifted out says which way to
 * round, an exact half to the even neighbour (printf in the default
 * rounding mode). Sets *scaled to the rounded value; 0 when it cannot tell
 * (d > 3). v is finite. */
static int exact_round(double v, int decimals, uint64_t *scaled)
{
    uint64_t bits, m, big, half, rest, whole;
    int biased, shift;

    if (decimals > 3)
        return 0;
    memcpy(&bits, &v, sizeof bits);
    biased = (int)(bits >> 52 & 0x7ff);
    m = bits & ((1ull << 52) - 1);
    if (biased > 0) /* normal: the leading 1 is implied */
        m |= 1ull << 52;
    shift = biased > 0 ? 1075 - biased : 1074;
    big = m * pow10_int[decimals];
    if (shift <= 0) {
        *scaled = big << -shift; /* whole: below 1e12 here */
        return 1;
    }
    if (shift >= 64) { /* below 2^63 * 2^-64: under a half */
        *scaled = 0;
        return 1;
    }
    whole = big >> shift;
    rest = big & ((1ull << shift) - 1);
    half = 1ull << (shift - 1);
    *scaled = whole + (rest > half || (rest == half && (whole & 1)));
    return 1;
}

/* v's decimal digits written to end just before p, two at a time from the
 * table; returns where they start. */
static char *digits_before(char *p, uint64_t v)
{
    for (; v >= 100; v /= 100) {
        p -= 2;
        memcpy(p, digit_pairs + 2 * (v % 100), 2);
    }
    if (v >= 10) {
        p -= 2;
        memcpy(p, digit_pairs + 2 * v, 2);
    } else {
        *--p = (char)('0' + v);
    }
    return p;
}

size_t allot_fmt_fixed(char *out, size_t cap, double v, int decimals, int plus)
{
    char tmp[40], *p = tmp + sizeof tmp;
    uint64_t scaled = 0, whole, frac;
    double x;
    size_t n;
    int neg, d, fast;

    x = fabs(v) * pow10_tab[decimals < 0 || decimals > 9 ? 0 : decimals];
    /* x is within an ulp (< 2^-12 below 1e12) of |v| * 10^decimals, so
     * outside a window around .5 its rounding is printf's; near a tie,
     * printf decides from the exact binary value (exact_round) */
    fast = decimals >= 0 && decimals <= 9 && x < 1e12;
    if (fast) {
        uint64_t below = (uint64_t)x; /* floor(x): 0 <= x < 1e12 */
        double r = x - (double)below;
        if (fabs(r - 0.5) < 1e-3)
            fast = exact_round(v, decimals, &scaled);
        else
            scaled = below + (r > 0.5);
    }
    if (!fast) {
        int k = snprintf(out, cap, plus ? "%+.*f" : "%.*f", decimals, v);
        return k < 0 ? 0 : (size_t)k;
    }
    neg = signbit(v) != 0;
    whole = scaled / pow10_int[decimals];
    frac = scaled % pow10_int[decimals];
    for (d = decimals; d >= 2; d -= 2, frac /= 100) { /* two digits a step */
        p -= 2;
        memcpy(p, digit_pairs + 2 * (frac % 100), 2);
    }
    if (d > 0)
        *--p = (char)('0' + frac % 10);
    if (decimals > 0)
        *--p = '.';
    p = digits_before(p, whole);
    if (neg) /* printf keeps the sign of -0.001 at %.2f: "-0.00" */
        *--p = '-';
    else if (plus)
        *--p = '+';
    n = (size_t)(tmp + sizeof tmp - p);
    if (cap > 0) {
        size_t m = n < cap - 1 ? n : cap - 1;
        allot_copy_small(out, p, m); /* a library call costs more than the copy */
        out[m] = '\0';
    }
    return n;
}

/* Append s to out[*n..cap - 1), as far as it fits. */
static void path_add(char *out, size_t cap, size_t *n, const char *s, size_t len)
{
    if (len > cap - 1 - *n)
        len = cap - 1 - *n;
    memcpy(out + *n, s, len);
    *n += len;
}

size_t allot_fmt_path(char *out, size_t cap, const char *a, const char *b, int i, const char *c)
{
    char num[24];
    size_t n = 0, len = 0;

    if (i < 0)
        num[len++] = '-';
    len += allot_fmt_u64(num + len, i < 0 ? 0u - (uint64_t)(int64_t)i : (uint64_t)i);
    path_add(out, cap, &n, a, strlen(a));
    path_add(out, cap, &n, b, strlen(b));
    path_add(out, cap, &n, num, len);
    path_add(out, cap, &n, c, strlen(c));
    out[n] = '\0';
    return n;
}

size_t allot_fmt_u64(char *out, uint64_t v)
{
    char tmp[20], *p = tmp + sizeof tmp;
    size_t n;

    p = digits_before(p, v);
    n = (size_t)(tmp + sizeof tmp - p);
    memcpy(out, p, n);
    return n;
}
