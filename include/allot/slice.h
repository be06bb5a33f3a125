/* slice.h: a non-owning view of bytes {ptr, len}. Never assumes a NUL. */
#ifndef ALLOT_SLICE_H
#define ALLOT_SLICE_H
#include <stddef.h>
#include <string.h>

struct allot_slice {
    const char *ptr;
    size_t len;
};

#define ALLOT_SLICE_LIT(s) ((struct allot_slice){(s), sizeof(s) - 1})

static inline struct allot_slice allot_slice_of(const char *ptr, size_t len)
{
    struct allot_slice s = {ptr, len};
    return s;
}

static inline struct allot_slice allot_slice_cstr(const char *s)
{
    struct allot_slice r = {s, s ? strlen(s) : 0};
    return r;
}

/* The first occurrence of needle (m bytes, m >= 2) in hay (n bytes), or
 * NULL: memmem for the short literals the gateway looks for in every
 * stream event. glibc's memmem builds a shift table on each call, more
 * work than the search itself in a 300-byte event; this filters 16
 * positions at a time on the needle's first and last bytes (SSE2: in JSON
 * a quote followed by a letter is every key, a quote and an 'l' eleven
 * bytes on are rare) and compares the rest only where both match. */
const char *allot_find(const char *hay, size_t n, const char *needle, size_t m);

/* Exact byte equality with a NUL-terminated string. */
static inline int allot_slice_eq(struct allot_slice s, const char *lit)
{
    size_t n = strlen(lit);
    return s.len == n && (n == 0 || memcmp(s.ptr, lit, n) == 0);
}

/* ASCII case-insensitive equality with a NUL-terminated string. */
int allot_slice_ieq(struct allot_slice s, const char *lit);

/* Make a NUL-terminated string safe for an HTTP header value in place:
 * every byte outside printable ASCII (0x20..0x7E) becomes '?'. */
void allot_str_header_safe(char *s);

/* The same for the n bytes at s (NULs among them become '?' too),
 * sixteen bytes at a time (SSE2): the gateway's reason header and the
 * classifier's names go through it on every routed request. */
void allot_mem_header_safe(char *s, size_t n);

/* Whether every one of the n bytes at s is printable ASCII already: a
 * value that can go into a header as it is, with nothing to make safe. */
int allot_mem_is_header_safe(const char *s, size_t n);

#endif
