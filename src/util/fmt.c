/* fmt.c: fixed-point number formatting (see fmt.h). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include "allot/fmt.h"

static const double pow10_tab[10] = {1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9};

size_t allot_fmt_fixed(char *out, size_t cap, double v, int decimals, int plus)
{
    char tmp[40], *p = tmp + sizeof tmp;
    uint64_t scaled, whole, frac;
    double x, r;
    size_t n;
    int neg, d;

    x = fabs(v) * pow10_tab[decimals < 0 || decimals > 9 ? 0 : decimals];
    r = x - floor(x);
    /* x is within an ulp (< 2^-12 below 1e12) of |v| * 10^decimals, so
     * outside a window around .5 its rounding is printf's; near a tie,
     * printf decides from the exact binary value */
    if (decimals < 0 || decimals > 9 || !(x < 1e12) || fabs(r - 0.5) < 1e-3) {
        int k = snprintf(out, cap, plus ? "%+.*f" : "%.*f", decimals, v);
        return k < 0 ? 0 : (size_t)k;
    }
    neg = signbit(v) != 0;
    scaled = (uint64_t)floor(x) + (r > 0.5);
    whole = scaled / (uint64_t)pow10_tab[decimals];
    frac = scaled % (uint64_t)pow10_tab[decimals];
    for (d = 0; d < decimals; d++, frac /= 10)
        *--p = (char)('0' + frac % 10);
    if (decimals > 0)
        *--p = '.';
    do
        *--p = (char)('0' + whole % 10);
    while (whole /= 10);
    if (neg) /* printf keeps the sign of -0.001 at %.2f: "-0.00" */
        *--p = '-';
    else if (plus)
        *--p = '+';
    n = (size_t)(tmp + sizeof tmp - p);
    if (cap > 0) {
        size_t m = n < cap - 1 ? n : cap - 1;
        memcpy(out, p, m);
        out[m] = '\0';
    }
    return n;
}
