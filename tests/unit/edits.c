/* edits.c: bodies one byte away from a given one (edits.h). */
#include "edits.h"
#include <string.h>

void one_byte_edit(const struct allot_buf *src, int i, unsigned *seed, struct allot_buf *out)
{
    static const char bytes[] = "{}[]\",:\\ 0a-\x01\xc3\x80\xff";
    size_t at;
    char c;

    *seed = *seed * 1103515245u + 12345u;
    at = (*seed >> 8) % src->len;
    c = bytes[(*seed >> 4) % (sizeof bytes - 1)];
    allot_buf_reset(out);
    allot_buf_add(out, src->ptr, at);
    if (i % 3 != 2) /* changed, or put in */
        allot_buf_add(out, &c, 1);
    if (i % 3 == 1) /* put in: the byte at is kept */
        allot_buf_add(out, src->ptr + at, src->len - at);
    else /* changed, or taken out: the byte at is not */
        allot_buf_add(out, src->ptr + at + 1, src->len - at - 1);
}

int bufs_same(const struct allot_buf *a, const struct allot_buf *b)
{
    return a->len == b->len && (a->len == 0 || memcmp(a->ptr, b->ptr, a->len) == 0);
}

int edits_agree(const struct allot_buf *body, int n, unsigned seed,
                void (*prime)(const struct allot_buf *body),
                int (*same)(const struct allot_buf *edit, struct allot_buf *scratch))
{
    struct allot_buf e, scratch;
    int i, bad = -1;

    allot_buf_init(&e, body->len + 2);
    allot_buf_init(&scratch, 1u << 22);
    for (i = 0; i < n && bad < 0; i++) {
        one_byte_edit(body, i, &seed, &e);
        prime(body);
        if (!same(&e, &scratch))
            bad = i;
    }
    allot_buf_release(&e);
    allot_buf_release(&scratch);
    return bad;
}
