/* retry_hint.c: a provider's retry hint, from the value of its
 * retry-after-ms or Retry-After response header (upstream.h).
 *
 * Both upstream clients call this at the end of a response head that
 * carried one of those headers, so it costs nothing on a response without
 * them. OpenAI and Anthropic send retry-after-ms (milliseconds, sometimes
 * with a fraction) next to Retry-After (whole seconds); RFC 9110 allows
 * Retry-After to be an HTTP-date too, and a recipient must read all three
 * date forms. Dates are read by hand, not with strptime (locale) or timegm
 * (the TZ machinery): the calendar arithmetic is a few lines. */
#include <stdint.h>
#include <string.h>
#include "allot/upstream.h"

#define HINT_VALUE_MAX 63 /* longer values are not hints */

static int is_blank(char c)
{
    return c == ' ' || c == '\t';
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int64_t cap(uint64_t ms)
{
    return ms > (uint64_t)ALLOT_UPSTREAM_HINT_MAX_MS ? ALLOT_UPSTREAM_HINT_MAX_MS : (int64_t)ms;
}

/* "123", "1.5": a count of units (1 ms or 1000 ms), rounded up to the
 * millisecond. The integer part saturates, so a number of any length is
 * read as "huge" and capped. */
static int64_t parse_number(const char *p, size_t n, uint64_t unit)
{
    const uint64_t big = (uint64_t)ALLOT_UPSTREAM_HINT_MAX_MS + 1;
    uint64_t whole = 0, frac_ms = 0, scale = unit; /* the value of the next fraction digit, x10 */
    size_t i = 0;
    int round_up = 0;

    while (i < n && is_digit(p[i])) {
        if (whole < big)
            whole = whole * 10 + (uint64_t)(p[i] - '0');
        i++;
    }
    if (i == 0)
        return ALLOT_UPSTREAM_NO_HINT; /* no digit first: "", "-1", ".5", "soon" */
    if (i < n && p[i] == '.') {
        size_t start = ++i;
        while (i < n && is_digit(p[i])) {
            unsigned d = (unsigned)(p[i] - '0');
            if (scale >= 10) {
                scale /= 10;
                frac_ms += d * scale; /* scale is 100, 10, 1 for seconds */
            } else if (d) {
                round_up = 1; /* below a millisecond */
            }
            i++;
        }
        if (i == start)
            return ALLOT_UPSTREAM_NO_HINT; /* "1." */
    }
    if (i != n)
        return ALLOT_UPSTREAM_NO_HINT; /* "10s", "1,5", "1e3" */
    if (whole >= big)
        return ALLOT_UPSTREAM_HINT_MAX_MS;
    return cap(whole * unit + frac_ms + (uint64_t)round_up);
}

/* Read exactly k digits at *p (advancing it). -1 when they are not. */
static int digits(const char **p, const char *end, int k)
{
    int v = 0;

    if (end - *p < k)
        return -1;
    while (k--) {
        if (!is_digit(**p))
            return -1;
        v = v * 10 + (**p - '0');
        (*p)++;
    }
    return v;
}

static int lit(const char **p, const char *end, const char *s)
{
    size_t n = strlen(s);
    if ((size_t)(end - *p) < n || memcmp(*p, s, n) != 0)
        return 0;
    *p += n;
    return 1;
}

/* A month name "Jan".."Dec" (case-sensitive, as the grammar says): 1..12,
 * or -1. */
static int month(const char **p, const char *end)
{
    static const char names[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    int m;

    if (end - *p < 3)
        return -1;
    for (m = 0; m < 12; m++)
        if (memcmp(*p, names + 3 * m, 3) == 0) {
            *p += 3;
            return m + 1;
        }
    return -1;
}

/* "08:49:37": seconds since midnight, or -1. */
static long time_of_day(const char **p, const char *end)
{
    int h = digits(p, end, 2), m, s;

    if (h < 0 || !lit(p, end, ":") || (m = digits(p, end, 2)) < 0 || !lit(p, end, ":") ||
        (s = digits(p, end, 2)) < 0 || h > 23 || m > 59 || s > 60)
        return -1;
    return (long)h * 3600 + m * 60 + s;
}

/* Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's
 * days_from_civil). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    int64_t era, yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int days_in_month(int y, int m)
{
    static const int len[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : len[m - 1];
}

/* An HTTP-date (RFC 9110 section 5.6.7) to milliseconds since the epoch:
 *   IMF-fixdate  Sun, 06 Nov 1994 08:49:37 GMT
 *   rfc850-date  Sunday, 06-Nov-94 08:49:37 GMT
 *   asctime      Sun Nov  6 08:49:37 1994
 * Returns 0 and sets *out, or -1. The day name is not checked against the
 * date, only that it is one. */
static int parse_date(const char *p, size_t n, int64_t *out)
{
    static const char *const days[7][2] = {
        {"Mon", "Monday"}, {"Tue", "Tuesday"},  {"Wed", "Wednesday"}, {"Thu", "Thursday"},
        {"Fri", "Friday"}, {"Sat", "Saturday"}, {"Sun", "Sunday"},
    };
    const char *end = p + n, *q = p;
    int y = -1, m = -1, d = -1, i, form = -1; /* 0 IMF, 1 RFC 850, 2 asctime */
    long tod = -1;

    while (q < end && ((*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z')))
        q++;
    for (i = 0; i < 7 && form < 0; i++) {
        size_t len = (size_t)(q - p);
        if (len == 3 && memcmp(p, days[i][0], 3) == 0)
            form = q < end && *q == ',' ? 0 : 2;
        else if (len == strlen(days[i][1]) && memcmp(p, days[i][1], len) == 0)
            form = 1;
    }
    if (form < 0)
        return -1;
    if (form == 0 || form == 1) {
        if (!lit(&q, end, ", ") || (d = digits(&q, end, 2)) < 0)
            return -1;
        if (form == 0) {
            if (!lit(&q, end, " ") || (m = month(&q, end)) < 0 || !lit(&q, end, " ") ||
                (y = digits(&q, end, 4)) < 0)
                return -1;
        } else {
            if (!lit(&q, end, "-") || (m = month(&q, end)) < 0 || !lit(&q, end, "-") ||
                (y = digits(&q, end, 2)) < 0)
                return -1;
            y += y < 70 ? 2000 : 1900; /* two-digit years: 1970..2069 */
        }
        if (!lit(&q, end, " ") || (tod = time_of_day(&q, end)) < 0 || !lit(&q, end, " GMT"))
            return -1;
    } else {
        if (!lit(&q, end, " ") || (m = month(&q, end)) < 0 || !lit(&q, end, " "))
            return -1;
        if (q < end && *q == ' ') { /* "Nov  6" */
            q++;
            d = digits(&q, end, 1);
        } else {
            d = digits(&q, end, 2);
        }
        if (d < 0 || !lit(&q, end, " ") || (tod = time_of_day(&q, end)) < 0 || !lit(&q, end, " ") ||
            (y = digits(&q, end, 4)) < 0)
            return -1;
    }
    if (q != end || d < 1 || d > days_in_month(y, m))
        return -1;
    *out = (days_from_civil(y, m, d) * 86400 + tod) * 1000;
    return 0;
}

int64_t allot_upstream_retry_hint(struct allot_slice value, int unit_ms, int64_t now_ms)
{
    const char *p = value.ptr;
    size_t n = value.len;
    int64_t at;

    while (n && is_blank(*p))
        p++, n--;
    while (n && is_blank(p[n - 1]))
        n--;
    if (!p || n == 0 || n > HINT_VALUE_MAX)
        return ALLOT_UPSTREAM_NO_HINT;
    if (unit_ms || is_digit(*p))
        return parse_number(p, n, unit_ms ? 1 : 1000);
    if (parse_date(p, n, &at))
        return ALLOT_UPSTREAM_NO_HINT;
    /* at > now_ms, so the difference fits in uint64_t whatever now_ms is;
     * at - now_ms in int64_t would overflow for a now_ms far in the past */
    return at <= now_ms ? 0 : cap((uint64_t)at - (uint64_t)now_ms);
}
