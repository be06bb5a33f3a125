/* utf8.h: the one check of a UTF-8 sequence, shared by the JSON writer
 * (buf.c), the strict JSON checker (json_check.c) and the fake upstream.
 *
 * Inline because it sits in the inner loops of both; it reads at most 4
 * bytes and never past p + n. */
#ifndef ALLOT_UTF8_H
#define ALLOT_UTF8_H
#include <stddef.h>

/* Length (1-4) of the valid UTF-8 sequence at p, which has n >= 1 bytes
 * left; 0 when the bytes there are not UTF-8: a stray continuation byte,
 * an overlong form (C0, C1, E0 80..9F, F0 80..8F), an encoded surrogate
 * (ED A0..BF), a code point past U+10FFFF (F4 90.., F5..FF), or a sequence
 * cut short by the end. ASCII, NUL included, is 1. */
static inline size_t allot_utf8_seq_len(const unsigned char *p, size_t n)
{
    unsigned char c = p[0], lo = 0x80, hi = 0xBF;
    size_t len, k;

    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        len = 2;
    else if (c >= 0xE0 && c <= 0xEF)
        len = 3;
    else if (c >= 0xF0 && c <= 0xF4)
        len = 4;
    else
        return 0;
    /* the second byte's range is what rules out the overlong forms, the
     * surrogates and what lies past U+10FFFF (Unicode table 3-7) */
    if (c == 0xE0)
        lo = 0xA0;
    else if (c == 0xED)
        hi = 0x9F;
    else if (c == 0xF0)
        lo = 0x90;
    else if (c == 0xF4)
        hi = 0x8F;
    if (n < len || p[1] < lo || p[1] > hi)
        return 0;
    for (k = 2; k < len; k++)
        if ((p[k] & 0xC0) != 0x80)
            return 0;
    return len;
}

#endif
