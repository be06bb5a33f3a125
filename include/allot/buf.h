/* buf.h: an owning, growable byte buffer with a per-instance size cap.
 *
 * After any successful append the content is NUL-terminated (the NUL is not
 * counted in len). An append that would take len past max fails with
 * ALLOT_ETOOBIG and leaves the buffer unchanged (curl's dynbuf). Every
 * buffer a network peer can fill has a cap. */
#ifndef ALLOT_BUF_H
#define ALLOT_BUF_H
#include <stdarg.h>
#include <stddef.h>

struct allot_buf {
    char *ptr;  /* NULL until the first append */
    size_t len; /* bytes used, excluding the NUL */
    size_t cap; /* bytes allocated */
    size_t max; /* largest len allowed */
};

/* Set up an empty buffer that may grow to max bytes. No allocation. */
void allot_buf_init(struct allot_buf *b, size_t max);
/* Free the contents; the buffer is empty and reusable afterwards. */
void allot_buf_release(struct allot_buf *b);
/* Forget the contents but keep the allocation. */
void allot_buf_reset(struct allot_buf *b);
/* Make room for n more bytes. ALLOT_ETOOBIG past max, ALLOT_ENOMEM. */
int allot_buf_reserve(struct allot_buf *b, size_t n);
/* Append n bytes. ALLOT_ETOOBIG past max, ALLOT_ENOMEM. */
int allot_buf_add(struct allot_buf *b, const void *p, size_t n);
/* Append a NUL-terminated string. */
int allot_buf_adds(struct allot_buf *b, const char *s);
/* Append printf-formatted text. */
int allot_buf_addf(struct allot_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int allot_buf_vaddf(struct allot_buf *b, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
/* Append s as a JSON string literal, quotes included, escaping as needed.
 * Invalid UTF-8 bytes are replaced with U+FFFD so the output is valid JSON. */
int allot_buf_add_json_str(struct allot_buf *b, const char *s, size_t n);
/* Take ownership of the contents (NUL-terminated, never NULL: an empty
 * buffer gives a fresh ""). The buffer is left empty. NULL on ENOMEM. */
char *allot_buf_detach(struct allot_buf *b);
/* The content as a C string: "" when nothing was appended. */
static inline const char *allot_buf_cstr(const struct allot_buf *b)
{
    return b->ptr ? b->ptr : "";
}

#endif
