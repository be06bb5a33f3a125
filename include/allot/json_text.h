/* json_text.h: values read straight off a JSON text that
 * allot_json_check() has passed, without building a tree.
 *
 * The check guarantees the shape these walks trust: every string closed,
 * with valid escapes and surrogate pairs and no \u0000 (flags 0), every
 * bracket matched. On any other text they stay inside text[0..n) but what
 * they say is meaningless. Strings are decoded as cJSON decodes them, so a
 * reader built on these gives what the tree would.
 *
 * Nothing here allocates. Thread-safe: no global state. */
#ifndef ALLOT_JSON_TEXT_H
#define ALLOT_JSON_TEXT_H
#include <stddef.h>
#include "allot/slice.h"

/* The index just past the value that starts at t[i] (a string, object,
 * array or scalar); n when the text ends first. */
size_t allot_json_text_value_end(const char *t, size_t n, size_t i);

/* The body of the string value v (its text without the quotes); ptr NULL
 * when v is not a string. */
struct allot_slice allot_json_text_string_body(struct allot_slice v);

/* Has the value v elements (an array) or members (an object)? */
int allot_json_text_has_children(struct allot_slice v);

/* The length in bytes of the string body s[0..n) once decoded: \uXXXX as
 * UTF-8, a surrogate pair as one 4-byte sequence. */
size_t allot_json_text_decoded_len(const char *s, size_t n);

/* Decode the string body raw[0..n) into out, at most cap bytes: an escape
 * whose bytes do not all fit is left out, with everything after it, so
 * the output is always a prefix of the whole decoding that ends on an
 * escape's boundary. Not NUL-terminated. Returns the bytes written. */
size_t allot_json_text_unescape(const char *raw, size_t n, char *out, size_t cap);

/* The next element of the array whose text is t[0..n) (t[0] is '['):
 * *i is 0 before the first call and is moved on; *elem gets the
 * element's value span. Returns 0 at the end of the array. */
int allot_json_text_next_element(const char *t, size_t n, size_t *i, struct allot_slice *elem);

#endif
