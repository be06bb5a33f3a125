/* test_slice.c: slice helpers (slice.h). */
#include <stdlib.h>
#include <string.h>
#include "allot/slice.h"
#include "test.h"

TEST(find_agrees_with_memmem)
{
    static const char *needles[] = {
        "\"usage\"", "\"usage\":null", ",\"usage\":null", "ab", "aab", "\"content\":\"",
        "zz",        "abcabcabd"};
    char hay[300];
    size_t t, k, n, start;
    unsigned seed = 12345;

    for (t = 0; t < 20000; t++) {
        const char *nd = needles[t % (sizeof needles / sizeof needles[0])];
        size_t m = strlen(nd);
        const char *want, *got;

        /* a small alphabet so partial and overlapping matches are common */
        n = (seed = seed * 1103515245u + 12345u) >> 16 & 255;
        for (k = 0; k < n; k++) {
            seed = seed * 1103515245u + 12345u;
            hay[k] = "ab\"usage:nl,ctz"[(seed >> 16) % 15];
        }
        if (n > m && (seed >> 8) % 3 == 0) { /* plant the needle somewhere, maybe at the end */
            start = (seed >> 4) % (n - m + 1);
            memcpy(hay + start, nd, m);
        }
        start = t % 7 < n ? t % 7 : 0; /* every alignment */
        want = memmem(hay + start, n - start, nd, m);
        got = allot_find(hay + start, n - start, nd, m);
        if (want != got) {
            TEST_FAIL_("case %zu: needle '%s' in %zu bytes: memmem %td, allot_find %td", t, nd,
                       n - start, want ? want - hay : -1, got ? got - hay : -1);
        }
    }
    ASSERT(allot_find("abc", 3, "c", 1) != NULL);
    ASSERT(allot_find("abc", 3, "abcd", 4) == NULL);
    ASSERT(allot_find("", 0, "ab", 2) == NULL);
}
