/* test_retry_hint.c: a provider's retry hint read from a retry-after-ms
 * or Retry-After value (src/upstream/retry_hint.c). Both upstream clients
 * hand their header values to it; tests/integration/retry_after.test.mjs
 * drives them end to end. */
#include <stdint.h>
#include <string.h>
#include "allot/upstream.h"
#include "test.h"

#define NONE ALLOT_UPSTREAM_NO_HINT
#define HINT_MAX ALLOT_UPSTREAM_HINT_MAX_MS

/* 1994-11-06 08:49:37 UTC, RFC 9110's example date, in ms. */
#define EXAMPLE_MS (784111777LL * 1000)

static int64_t ms(const char *v)
{
    return allot_upstream_retry_hint(allot_slice_cstr(v), 1, 0);
}

static int64_t secs(const char *v, int64_t now_ms)
{
    return allot_upstream_retry_hint(allot_slice_cstr(v), 0, now_ms);
}

TEST(retry_hint_milliseconds)
{
    ASSERT_INT_EQ(ms("1500"), 1500);
    ASSERT_INT_EQ(ms("0"), 0);
    ASSERT_INT_EQ(ms("  250\t"), 250); /* blanks around the value */
    /* fractions, as OpenAI sends them: rounded up to the millisecond */
    ASSERT_INT_EQ(ms("20.5"), 21);
    ASSERT_INT_EQ(ms("20.0"), 20);
    ASSERT_INT_EQ(ms("0.001"), 1);
    ASSERT_INT_EQ(ms("999.999999999999999999999"), 1000);
    /* garbage: no hint */
    ASSERT_INT_EQ(ms(""), NONE);
    ASSERT_INT_EQ(ms("   "), NONE);
    ASSERT_INT_EQ(ms("-5"), NONE);
    ASSERT_INT_EQ(ms("+5"), NONE);
    ASSERT_INT_EQ(ms("5ms"), NONE);
    ASSERT_INT_EQ(ms("1e3"), NONE);
    ASSERT_INT_EQ(ms("1."), NONE);
    ASSERT_INT_EQ(ms(".5"), NONE);
    ASSERT_INT_EQ(ms("1 2"), NONE);
    ASSERT_INT_EQ(ms("0x10"), NONE);
    ASSERT_INT_EQ(ms("Sun, 06 Nov 1994 08:49:37 GMT"), NONE); /* no dates in milliseconds */
    ASSERT_INT_EQ(allot_upstream_retry_hint(allot_slice_of(NULL, 0), 1, 0), NONE);
    /* not NUL-terminated: only len bytes count */
    ASSERT_INT_EQ(allot_upstream_retry_hint(allot_slice_of("12345", 2), 1, 0), 12);
    /* huge: capped at a day, however many digits */
    ASSERT_INT_EQ(ms("86400000"), HINT_MAX);
    ASSERT_INT_EQ(ms("86400001"), HINT_MAX);
    ASSERT_INT_EQ(ms("18446744073709551616"), HINT_MAX);
    ASSERT_INT_EQ(ms("999999999999999999999999999999999999999999999999.5"), HINT_MAX);
    /* longer than 63 bytes: not a hint */
    ASSERT_INT_EQ(ms("1.000000000000000000000000000000000000000000000000000000000000000"), NONE);
}

TEST(retry_hint_seconds)
{
    ASSERT_INT_EQ(secs("1", 0), 1000);
    ASSERT_INT_EQ(secs("120", 0), 120000);
    ASSERT_INT_EQ(secs("0", 0), 0);
    ASSERT_INT_EQ(secs(" 7 ", 0), 7000);
    /* a fraction is not in RFC 9110's grammar, but some servers send one */
    ASSERT_INT_EQ(secs("1.5", 0), 1500);
    ASSERT_INT_EQ(secs("0.0001", 0), 1);
    ASSERT_INT_EQ(secs("2.25", 0), 2250);
    ASSERT_INT_EQ(secs("86400", 0), HINT_MAX);
    ASSERT_INT_EQ(secs("86401", 0), HINT_MAX);
    ASSERT_INT_EQ(secs("99999999999999999999999999", 0), HINT_MAX);
    ASSERT_INT_EQ(secs("-1", 0), NONE);
    ASSERT_INT_EQ(secs("soon", 0), NONE);
    ASSERT_INT_EQ(secs("1 s", 0), NONE);
    ASSERT_INT_EQ(secs("", 0), NONE);
}

TEST(retry_hint_http_dates)
{
    /* the three forms RFC 9110 makes a recipient read, 5 s ahead */
    int64_t now = EXAMPLE_MS - 5000;
    ASSERT_INT_EQ(secs("Sun, 06 Nov 1994 08:49:37 GMT", now), 5000);
    ASSERT_INT_EQ(secs("Sunday, 06-Nov-94 08:49:37 GMT", now), 5000);
    ASSERT_INT_EQ(secs("Sun Nov  6 08:49:37 1994", now), 5000);
    ASSERT_INT_EQ(secs("Sun Nov 16 08:49:37 1994", EXAMPLE_MS + 9 * 86400000LL), 86400000);
    /* the date's second is a whole one: now inside it rounds up */
    ASSERT_INT_EQ(secs("Sun, 06 Nov 1994 08:49:37 GMT", EXAMPLE_MS - 1234), 1234);
    /* in the past, or now: come back at once */
    ASSERT_INT_EQ(secs("Sun, 06 Nov 1994 08:49:37 GMT", EXAMPLE_MS), 0);
    ASSERT_INT_EQ(secs("Sun, 06 Nov 1994 08:49:37 GMT", EXAMPLE_MS + 3600000), 0);
    ASSERT_INT_EQ(secs("Thu, 01 Jan 1970 00:00:00 GMT", EXAMPLE_MS), 0);
    /* far ahead: capped at a day */
    ASSERT_INT_EQ(secs("Fri, 31 Dec 9999 23:59:59 GMT", EXAMPLE_MS), HINT_MAX);
    ASSERT_INT_EQ(secs("Tue, 07 Nov 1994 08:49:37 GMT", EXAMPLE_MS - 5000), HINT_MAX);
    /* calendar: a leap day, the end of a year, two-digit years up to 2069 */
    ASSERT_INT_EQ(secs("Tue, 29 Feb 2000 12:00:01 GMT", 951825600LL * 1000), 1000);
    ASSERT_INT_EQ(secs("Tuesday, 31-Dec-69 23:59:59 GMT", 3155759999LL * 1000 - 2000), 2000);
    ASSERT_INT_EQ(secs("Sun, 06 Nov 1994 08:49:37 GMT\t", now), 5000);
    /* garbage: no hint */
    ASSERT_INT_EQ(secs("Sun, 06 Nov 1994 08:49:37 UTC", now), NONE);
    ASSERT_INT_EQ(secs("Sun, 06 Nov 1994 08:49:37", now), NONE);
    ASSERT_INT_EQ(secs("Sun, 6 Nov 1994 08:49:37 GMT", now), NONE);
    ASSERT_INT_EQ(secs("Sun, 06 nov 1994 08:49:37 GMT", now), NONE);
    ASSERT_INT_EQ(secs("Sun, 06 Nov 1994 24:00:00 GMT", now), NONE);
    ASSERT_INT_EQ(secs("Sun, 06 Nov 1994 08:60:00 GMT", now), NONE);
    ASSERT_INT_EQ(secs("Mon, 29 Feb 1999 08:49:37 GMT", now), NONE); /* not a leap year */
    ASSERT_INT_EQ(secs("Sun, 31 Nov 1994 08:49:37 GMT", now), NONE);
    ASSERT_INT_EQ(secs("Sun, 00 Nov 1994 08:49:37 GMT", now), NONE);
    ASSERT_INT_EQ(secs("Xyz, 06 Nov 1994 08:49:37 GMT", now), NONE);
    ASSERT_INT_EQ(secs("Sun, 06 Nov 1994 08:49:37 GMT x", now), NONE);
    ASSERT_INT_EQ(secs("Sunday, 06 Nov 1994 08:49:37 GMT", now), NONE);
    ASSERT_INT_EQ(secs("Sun Nov 6 08:49:37 1994", now), NONE);
    ASSERT_INT_EQ(secs("Sun,", now), NONE);
    ASSERT_INT_EQ(secs("Sun", now), NONE);
    ASSERT_INT_EQ(secs("GMT", now), NONE);
    /* any now, however far off, without overflow */
    ASSERT_INT_EQ(secs("Sun, 06 Nov 1994 08:49:37 GMT", INT64_MIN), HINT_MAX);
    ASSERT_INT_EQ(secs("Sun, 06 Nov 1994 08:49:37 GMT", INT64_MAX), 0);
}
