/* test_slice.c: slice helpers (slice.h). */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include "allot/slice.h"
#include "test.h"

TEST(find_agrees_with_memmem)
{
    static const char *needles[] = {
        "\"usage\"", "\"usage\":null", ",\"usage\":null", "ab", "aab", "\"content\":\"",
        "zz",        "abcabcabd"};
    char hay[300], *exact;
    size_t t, k, n, start;
    unsigned seed = 12345;

    for (t = 0; t < 20000; t++) {
        const char *nd = needles[t % (sizeof needles / sizeof needles[0])];
        size_t m = strlen(nd);
        const char *want, *got;
        ptrdiff_t at_want, at_got;

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
        /* searched in a copy of exactly its size: ASan sees a read past it */
        exact = malloc(n > start ? n - start : 1);
        ASSERT(exact != NULL);
        memcpy(exact, hay + start, n - start);
        want = memmem(exact, n - start, nd, m);
        got = allot_find(exact, n - start, nd, m);
        at_want = want ? want - exact : -1;
        at_got = got ? got - exact : -1;
        free(exact);
        if (at_want != at_got) {
            TEST_FAIL_("case %zu: needle '%s' in %zu bytes: memmem %td, allot_find %td", t, nd,
                       n - start, at_want, at_got);
        }
    }
    ASSERT(allot_find("abc", 3, "c", 1) != NULL);
    ASSERT(allot_find("abc", 3, "abcd", 4) == NULL);
    ASSERT(allot_find("", 0, "ab", 2) == NULL);
}

/* Random bytes of every value, every length to 70 and several alignments:
 * the SSE2 blocks and the byte tail must agree with a byte loop. */
TEST(header_safe_agrees_with_a_byte_loop)
{
    unsigned char buf[80], want[80];
    size_t t, k, n, start;
    unsigned seed = 777;

    for (t = 0; t < 20000; t++) {
        int rare = t % 2 == 0; /* half the cases: few special bytes, so most say no */
        n = t % 71;
        start = t % 5;
        for (k = 0; k < start + n; k++) {
            seed = seed * 1103515245u + 12345u;
            buf[k] = rare ? (unsigned char)('a' + (seed >> 16) % 26) : (unsigned char)(seed >> 16);
        }
        if (rare && n && (seed >> 8) % 4 == 0) /* one special byte, anywhere */
            buf[start + (seed >> 4) % n] =
                (unsigned char)"\x7f\x80\x01 ~\x1f\xff\x20"[(seed >> 12) % 8];

        for (k = 0; k < n; k++) {
            unsigned char c = buf[start + k];
            want[k] = c < 0x20 || c > 0x7E ? '?' : c;
        }
        allot_mem_header_safe((char *)buf + start, n);
        if (memcmp(buf + start, want, n) != 0)
            TEST_FAIL_("case %zu: header_safe over %zu bytes differs from the byte loop", t, n);
    }
    char s[] = "caf\xc3\xa9 \x7f ok";
    allot_str_header_safe(s);
    ASSERT_STR_EQ(s, "caf?? ? ok");
}
