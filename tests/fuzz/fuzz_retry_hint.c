/* fuzz_retry_hint.c: libFuzzer target for allot_upstream_retry_hint()
 * (upstream.h), which reads a provider's retry-after-ms and Retry-After
 * header values.
 *
 * Input: bytes 0..7 are "now" (an int64, milliseconds since the epoch,
 * any value), byte 8 a shift, the rest the header value, passed as an
 * exact-size heap copy (not NUL-terminated: ASan reports a read past it).
 * For both units (milliseconds, seconds or HTTP-date) the result must be
 * ALLOT_UPSTREAM_NO_HINT or within [0, ALLOT_UPSTREAM_HINT_MAX_MS], and:
 * - blanks added around the value change nothing;
 * - an empty value, or one over 63 bytes once its blanks are cut, is no hint;
 * - a plain decimal number ("120", "1.5", "007.0001") is worth number x unit
 *   rounded up to the millisecond and capped, worked out here digit by
 *   digit; anything else is no hint with milliseconds, nor with seconds
 *   unless it starts with a letter (a date);
 * - a value read as a date is a whole second: when the result is not cut
 *   (0 < result < max), the instant now + result, written out with gmtime()
 *   in each HTTP-date form that can hold it, reads back as the same result.
 * Independently of the value, the instant now/1000 + (bytes 9..12 as an
 * int32 >> the shift), when its year is 0..9999, written out in each form
 * (and, on a minute, as second 60 of the minute before), must read as that
 * instant minus now, capped.
 *
 * Fuzz: `FUZZ_SECONDS=60 bash tests/fuzz/run.sh retry_hint` (clang libFuzzer,
 * -dict=tests/fuzz/retry_hint.dict, corpus tests/fuzz/corpus/retry_hint/).
 * tests/fuzz/replay.sh replays the corpus with replay.c under ASan+UBSan. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "allot/upstream.h"
#include "exact_copy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_MS ALLOT_UPSTREAM_HINT_MAX_MS
#define NO_HINT ALLOT_UPSTREAM_NO_HINT

static void fail(const char *what, const char *p, size_t n, int64_t got, int64_t want)
{
    fprintf(stderr, "fuzz_retry_hint: %s: got %lld, want %lld for \"%.*s\"\n", what, (long long)got,
            (long long)want, (int)n, p);
    abort();
}

/* The hint for p[0..n) from an exact-size heap copy, checked for range. */
static int64_t hint(const char *p, size_t n, int unit_ms, int64_t now)
{
    char *copy = exact_copy(p, n);
    int64_t r;

    r = allot_upstream_retry_hint(allot_slice_of(n ? copy : NULL, n), unit_ms, now);
    free(copy);
    if (r != NO_HINT && (r < 0 || r > MAX_MS))
        fail("out of range", p, n, r, 0);
    return r;
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* digits[.digits]: number x unit in ms, rounded up, capped; or NO_HINT. */
static int64_t number_value(const char *p, size_t n, int unit_ms)
{
    size_t i = 0, dot = n, k;
    uint64_t whole = 0, ms;
    int sub_ms = 0;

    while (i < n && p[i] == '0')
        i++; /* leading zeros say nothing */
    for (; i < n && is_digit(p[i]); i++) {
        whole = whole * 10 + (uint64_t)(p[i] - '0');
        if (whole > (uint64_t)MAX_MS)
            return MAX_MS; /* a day or more in any unit, whatever follows */
    }
    if (i < n)
        dot = i;
    ms = whole * (unit_ms ? 1 : 1000);
    for (k = 1; dot < n && dot + k < n; k++) {
        unsigned d = (unsigned)(p[dot + k] - '0');
        if (!unit_ms && k <= 3)
            ms += d * (k == 1 ? 100 : k == 2 ? 10 : 1);
        else if (d)
            sub_ms = 1;
    }
    ms += (uint64_t)sub_ms;
    return ms > (uint64_t)MAX_MS ? MAX_MS : (int64_t)ms;
}

/* digits, or digits "." digits */
static int is_number(const char *p, size_t n)
{
    size_t i = 0, j;

    while (i < n && is_digit(p[i]))
        i++;
    if (i == 0)
        return 0;
    if (i == n)
        return 1;
    if (p[i] != '.')
        return 0;
    for (j = ++i; j < n && is_digit(p[j]); j++)
        ;
    return j > i && j == n;
}

static int64_t expected_for(int64_t at_ms, int64_t now)
{
    uint64_t d;

    if (at_ms <= now)
        return 0;
    d = (uint64_t)at_ms - (uint64_t)now;
    return d > (uint64_t)MAX_MS ? MAX_MS : (int64_t)d;
}

/* Write the instant t (seconds) in each HTTP-date form that can hold it;
 * each must read as want, measured from now. */
static void check_instant(int64_t t, int64_t now, int64_t want)
{
    static const char *const wday[7][2] = {
        {"Sun", "Sunday"},   {"Mon", "Monday"}, {"Tue", "Tuesday"},  {"Wed", "Wednesday"},
        {"Thu", "Thursday"}, {"Fri", "Friday"}, {"Sat", "Saturday"},
    };
    static const char mon[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    time_t tt = (time_t)t;
    struct tm tm, tm60;
    char s[4][64];
    long year;
    int64_t r;
    int n[4], k;

    if (!gmtime_r(&tt, &tm))
        return;
    year = (long)tm.tm_year + 1900;
    if (year < 0 || year > 9999)
        return;
    n[0] = snprintf(s[0], sizeof s[0], "%s, %02d %s %04ld %02d:%02d:%02d GMT", wday[tm.tm_wday][0],
                    tm.tm_mday, mon[tm.tm_mon], year, tm.tm_hour, tm.tm_min, tm.tm_sec);
    n[1] = snprintf(s[1], sizeof s[1], "%s %s %2d %02d:%02d:%02d %04ld", wday[tm.tm_wday][0],
                    mon[tm.tm_mon], tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, year);
    n[2] = snprintf(s[2], sizeof s[2], "%s, %02d-%s-%02ld %02d:%02d:%02d GMT", wday[tm.tm_wday][1],
                    tm.tm_mday, mon[tm.tm_mon], year % 100, tm.tm_hour, tm.tm_min, tm.tm_sec);
    /* on a minute: the previous minute's second 60 (a leap second, which
     * the grammar allows) is the same instant */
    tt = (time_t)(t - 60);
    if (tm.tm_sec == 0 && t - 60 >= -62167219200LL && gmtime_r(&tt, &tm60))
        n[3] = snprintf(s[3], sizeof s[3], "%s, %02d %s %04ld %02d:%02d:60 GMT",
                        wday[tm60.tm_wday][0], tm60.tm_mday, mon[tm60.tm_mon],
                        (long)tm60.tm_year + 1900, tm60.tm_hour, tm60.tm_min);
    else
        n[3] = snprintf(s[3], sizeof s[3], "%s", s[0]);
    for (k = 0; k < 4; k++) {
        if (k == 2 && (year < 1970 || year > 2069))
            continue; /* two-digit years: 1970..2069 */
        r = hint(s[k], (size_t)n[k], 0, now);
        if (r != want)
            fail("a date written by gmtime reads otherwise", s[k], (size_t)n[k], r, want);
        if (hint(s[k], (size_t)n[k], 1, now) != NO_HINT)
            fail("a date read as milliseconds", s[k], (size_t)n[k], r, NO_HINT);
    }
}

static void check_value(const char *p, size_t n, int unit_ms, int64_t now)
{
    static const char blanks[] = " \t \t";
    char padded[256];
    const char *t = p;
    size_t tn = n;
    int64_t r = hint(p, n, unit_ms, now), want;

    /* blanks around change nothing */
    if (n <= sizeof padded - 4) {
        memcpy(padded, blanks, 2);
        memcpy(padded + 2, p, n);
        memcpy(padded + 2 + n, blanks + 2, 2);
        if (hint(padded, n + 4, unit_ms, now) != r)
            fail("blanks around changed the hint", p, n, hint(padded, n + 4, unit_ms, now), r);
    }
    while (tn && (*t == ' ' || *t == '\t'))
        t++, tn--;
    while (tn && (t[tn - 1] == ' ' || t[tn - 1] == '\t'))
        tn--;
    if (tn == 0 || tn > 63) {
        if (r != NO_HINT)
            fail("a hint from an empty or long value", p, n, r, NO_HINT);
        return;
    }
    if (is_number(t, tn)) {
        want = number_value(t, tn, unit_ms);
        if (r != want)
            fail("a number read otherwise", p, n, r, want);
        return;
    }
    if ((unit_ms || !((*t >= 'A' && *t <= 'Z') || (*t >= 'a' && *t <= 'z'))) && r != NO_HINT)
        fail("a hint from a value that is neither a number nor a date", p, n, r, NO_HINT);
    if (unit_ms || r == NO_HINT || r == 0 || r == MAX_MS)
        return;
    /* read as a date, not cut: now + r is the instant, a whole second */
    want = now + r; /* now + r <= the date, which is a year 0..9999 */
    if (want % 1000 != 0)
        fail("a date that is not a whole second", p, n, r, want);
    check_instant(want / 1000, now, r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int64_t now, t;
    int32_t offset;

    if (size < 9 || size > 4096)
        return 0;
    memcpy(&now, data, sizeof now);
    check_value((const char *)data + 9, size - 9, 0, now);
    check_value((const char *)data + 9, size - 9, 1, now);
    if (size >= 13) {
        memcpy(&offset, data + 9, sizeof offset);
        offset >>= data[8] & 31;
        t = now / 1000 + offset;
        if (t > -100000000000LL && t < 300000000000LL)
            check_instant(t, now, expected_for(t * 1000, now));
    }
    return 0;
}
