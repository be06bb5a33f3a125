/* slice.c: slice helpers that are too big to inline. */
#include <strings.h>
#include "allot/slice.h"

int allot_slice_ieq(struct allot_slice s, const char *lit)
{
    size_t n = strlen(lit);
    return s.len == n && (n == 0 || strncasecmp(s.ptr, lit, n) == 0);
}

void allot_str_header_safe(char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7E)
            *s = '?';
}
