/* header_safe16.h: sixteen bytes made header-safe at once, as
 * allot_mem_header_safe() (slice.h) makes them: a byte outside printable
 * ASCII becomes '?'. For slice.c's loop and for the classifier's reason
 * names (classify.c), which are short enough to take in a few vectors. */
#ifndef ALLOT_HEADER_SAFE16_H
#define ALLOT_HEADER_SAFE16_H
#if defined(__SSE2__)
#include <emmintrin.h>

/* v with its bytes below 0x20, 0x7F and from 0x80 turned to '?'; *changed
 * is set non-zero when any was. */
static inline __m128i allot_header_safe16(__m128i v, int *changed)
{
    /* signed, bytes below 0x20 and from 0x80 up are both less than 0x20 */
    __m128i bad = _mm_or_si128(_mm_cmplt_epi8(v, _mm_set1_epi8(0x20)),
                               _mm_cmpeq_epi8(v, _mm_set1_epi8(0x7F)));
    *changed = _mm_movemask_epi8(bad);
    return _mm_or_si128(_mm_andnot_si128(bad, v), _mm_and_si128(bad, _mm_set1_epi8('?')));
}
#endif

#endif
