/* slice.c: slice helpers that are too big to inline. */
#include <string.h>
#include <strings.h>
#include "allot/slice.h"
#include "util/header_safe16.h"

int allot_slice_ieq(struct allot_slice s, const char *lit)
{
    size_t n = strlen(lit);
    return s.len == n && (n == 0 || strncasecmp(s.ptr, lit, n) == 0);
}

static int header_unsafe(unsigned char c)
{
    return c < 0x20 || c > 0x7E;
}

void allot_mem_header_safe(char *s, size_t n)
{
    size_t i = 0;
#if defined(__SSE2__)
    for (; i + 16 <= n; i += 16) {
        int changed;
        __m128i v =
            allot_header_safe16(_mm_loadu_si128((const __m128i *)(const void *)(s + i)), &changed);
        if (changed) /* most text has nothing to change: no store then */
            _mm_storeu_si128((__m128i *)(void *)(s + i), v);
    }
#endif
    for (; i < n; i++)
        if (header_unsafe((unsigned char)s[i]))
            s[i] = '?';
}

int allot_mem_is_header_safe(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (header_unsafe((unsigned char)s[i]))
            return 0;
    return 1;
}

void allot_str_header_safe(char *s)
{
    allot_mem_header_safe(s, strlen(s));
}

const char *allot_find(const char *hay, size_t n, const char *needle, size_t m)
{
    size_t i = 0, last;

    if (m == 0)
        return hay;
    if (n < m)
        return NULL;
    if (m == 1)
        return memchr(hay, needle[0], n);
    last = n - m; /* the last position a match may start at */
#if defined(__SSE2__)
    {
        const __m128i a = _mm_set1_epi8(needle[0]), b = _mm_set1_epi8(needle[m - 1]);
        /* positions i..i+15 (all <= last) read bytes up to i+15+m-1 <= n-1 */
        for (; i + 16 <= last + 1; i += 16) {
            __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(hay + i));
            __m128i y = _mm_loadu_si128((const __m128i *)(const void *)(hay + i + m - 1));
            unsigned bits = (unsigned)_mm_movemask_epi8(
                _mm_and_si128(_mm_cmpeq_epi8(x, a), _mm_cmpeq_epi8(y, b)));
            while (bits) {
                size_t at = i + (size_t)__builtin_ctz(bits);
                if (memcmp(hay + at + 1, needle + 1, m - 2) == 0)
                    return hay + at;
                bits &= bits - 1;
            }
        }
    }
#endif
    for (; i <= last; i++)
        if (hay[i] == needle[0] && hay[i + m - 1] == needle[m - 1] &&
            memcmp(hay + i + 1, needle + 1, m - 2) == 0)
            return hay + i;
    return NULL;
}
