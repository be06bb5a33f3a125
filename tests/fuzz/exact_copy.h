/* exact_copy.h: a fuzz input copied to a heap block of exactly its size,
 * so that AddressSanitizer reports a read one byte past it (libFuzzer's
 * own buffer may have room after the input). Aborts on no memory; the
 * caller frees the copy. */
#ifndef ALLOT_FUZZ_EXACT_COPY_H
#define ALLOT_FUZZ_EXACT_COPY_H
#include <stdlib.h>
#include <string.h>

static inline char *exact_copy(const void *p, size_t n)
{
    char *c = malloc(n ? n : 1);
    if (!c)
        abort();
    if (n)
        memcpy(c, p, n);
    return c;
}

#endif
