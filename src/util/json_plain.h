/* json_plain.h: the bytes a JSON string holds as they are, and how far a
 * run of them goes: printable ASCII and DEL, but '"' and the backslash.
 * The strict check (json_check.c) skips such runs inside strings, and the
 * writer of JSON strings (buf.c) copies them: one definition, so the two
 * cannot drift apart. Sixteen bytes a step with SSE2 where it exists. */
#ifndef ALLOT_JSON_PLAIN_H
#define ALLOT_JSON_PLAIN_H
#include <stddef.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

static inline int allot_json_plain(unsigned char c)
{
    return c >= 0x20 && c < 0x80 && c != '"' && c != '\\';
}

#if defined(__SSE2__)
/* How many of the 16 bytes at s are plain, from the first: a byte below
 * 0x20 or from 0x80 is below 0x20 as a signed byte, one compare for both. */
static inline size_t allot_json_plain16(const char *s)
{
    __m128i x = _mm_loadu_si128((const __m128i *)(const void *)s);
    __m128i stop = _mm_or_si128(_mm_cmplt_epi8(x, _mm_set1_epi8(0x20)),
                                _mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8('"')),
                                             _mm_cmpeq_epi8(x, _mm_set1_epi8('\\'))));
    unsigned m = (unsigned)_mm_movemask_epi8(stop);
    return m ? (size_t)__builtin_ctz(m) : 16;
}
#endif

/* The first index at or after j (<= n) whose byte of s is not plain, or n. */
static inline size_t allot_json_plain_end(const char *s, size_t j, size_t n)
{
#if defined(__SSE2__)
    while (n - j >= 16) {
        size_t k = allot_json_plain16(s + j);
        j += k;
        if (k < 16)
            return j;
    }
#endif
    while (j < n && allot_json_plain((unsigned char)s[j]))
        j++;
    return j;
}

#endif
