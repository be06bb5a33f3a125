/* copy.h: copies of a few bytes without a library call.
 *
 * The request path copies many short strings (the classifier's reason
 * names, numbers being formatted); for those a call to memcpy costs more
 * than the copy. allot_copy_small() does it in at most two fixed-size
 * moves, which the compiler turns into plain loads and stores. */
#ifndef ALLOT_COPY_H
#define ALLOT_COPY_H
#include <stddef.h>
#include <string.h>

/* dst[0..n) = src[0..n) for n <= 64 (not overlapping), in fixed-size
 * moves that may overlap each other. */
static inline void allot_copy_small(char *dst, const char *src, size_t n)
{
    if (n >= 32) {
        memcpy(dst, src, 32);
        memcpy(dst + n - 32, src + n - 32, 32);
    } else if (n >= 16) {
        memcpy(dst, src, 16);
        memcpy(dst + n - 16, src + n - 16, 16);
    } else if (n >= 8) {
        memcpy(dst, src, 8);
        memcpy(dst + n - 8, src + n - 8, 8);
    } else if (n >= 4) {
        memcpy(dst, src, 4);
        memcpy(dst + n - 4, src + n - 4, 4);
    } else if (n > 0) {
        dst[0] = src[0];
        dst[n / 2] = src[n / 2];
        dst[n - 1] = src[n - 1];
    }
}

#endif
