/* edits.h: bodies one byte away from a given one (and a byte compare of
 * two buffers), for the tests that hold
 * a remembered reading (of JSON values, of tool translations) to a fresh
 * one: the byte may be changed, put in or taken out, anywhere. */
#ifndef ALLOT_TEST_EDITS_H
#define ALLOT_TEST_EDITS_H
#include "allot/buf.h"

/* The i-th edit of src into out (reset first): i % 3 says which kind
 * (changed, put in, taken out); *seed (any start) picks the place and the
 * byte, from bytes that matter to JSON and UTF-8. src must not be empty. */
void one_byte_edit(const struct allot_buf *src, int i, unsigned *seed, struct allot_buf *out);

/* Whether a and b hold the same bytes (both empty counts). */
int bufs_same(const struct allot_buf *a, const struct allot_buf *b);

/* For n edits of body (from seed): prime(body), then same(edit, scratch)
 * must say 1. Returns -1, or the first edit where same said 0. */
int edits_agree(const struct allot_buf *body, int n, unsigned seed,
                void (*prime)(const struct allot_buf *body),
                int (*same)(const struct allot_buf *edit, struct allot_buf *scratch));

#endif
