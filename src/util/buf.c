/* buf.c: the capped growable buffer (see buf.h). Growth doubles, so appends
 * are amortised O(1); the cap is checked before any allocation. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "allot/buf.h"
#include "allot/error.h"
#include "allot/utf8.h"
#include "util/json_plain.h"

void allot_buf_init(struct allot_buf *b, size_t max)
{
    b->ptr = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
}

void allot_buf_release(struct allot_buf *b)
{
    free(b->ptr);
    b->ptr = NULL;
    b->len = 0;
    b->cap = 0;
}

void allot_buf_reset(struct allot_buf *b)
{
    b->len = 0;
    if (b->ptr)
        b->ptr[0] = '\0';
}

int allot_buf_reserve(struct allot_buf *b, size_t n)
{
    size_t need, cap;
    char *p;

    if (n > b->max || b->len > b->max - n)
        return ALLOT_ETOOBIG;
    need = b->len + n + 1; /* cannot overflow: len + n <= max < SIZE_MAX */
    if (need <= b->cap)
        return 0;
    cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    if (cap > b->max + 1)
        cap = b->max + 1;
    p = realloc(b->ptr, cap);
    if (!p)
        return ALLOT_ENOMEM;
    b->ptr = p;
    b->cap = cap;
    return 0;
}

int allot_buf_add(struct allot_buf *b, const void *p, size_t n)
{
    int rc = allot_buf_reserve(b, n);
    if (rc)
        return rc;
    if (n)
        memcpy(b->ptr + b->len, p, n);
    b->len += n;
    b->ptr[b->len] = '\0';
    return 0;
}

int allot_buf_adds(struct allot_buf *b, const char *s)
{
    return allot_buf_add(b, s, strlen(s));
}

/* Most formatted appends are short: they are written in one vsnprintf()
 * into the room there is (made up to ADDF_ROOM bytes), and measured first
 * only when they do not fit. */
#define ADDF_ROOM 256

int allot_buf_vaddf(struct allot_buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    int n, rc;

    if (b->len < b->max) {
        size_t want = b->max - b->len < ADDF_ROOM ? b->max - b->len : ADDF_ROOM, room;

        if ((rc = allot_buf_reserve(b, want)))
            return rc;
        room = b->cap - b->len; /* at most max - len + 1: the NUL's byte included */
        va_copy(ap2, ap);
        n = vsnprintf(b->ptr + b->len, room, fmt, ap2);
        va_end(ap2);
        if (n < 0)
            return ALLOT_EINVAL;
        if ((size_t)n < room) {
            b->len += (size_t)n;
            return 0;
        }
        b->ptr[b->len] = '\0'; /* what was cut off is written again below */
    }
    va_copy(ap2, ap);
    n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return ALLOT_EINVAL;
    rc = allot_buf_reserve(b, (size_t)n);
    if (rc)
        return rc;
    vsnprintf(b->ptr + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return 0;
}

int allot_buf_addf(struct allot_buf *b, const char *fmt, ...)
{
    va_list ap;
    int rc;
    va_start(ap, fmt);
    rc = allot_buf_vaddf(b, fmt, ap);
    va_end(ap);
    return rc;
}

int allot_buf_add_json_str(struct allot_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    static const char short_escs['\\' + 1] = {
        ['"'] = '"', ['\\'] = '\\', ['\n'] = 'n', ['\r'] = 'r', ['\t'] = 't'};
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, start = b->len, at;
    char *o;
    int rc;

    /* Every byte gives at least one: room for n and the quotes up front,
     * more only when an escape needs it; written in place, no call a run. */
    if ((rc = allot_buf_reserve(b, n + 2)))
        return rc;
    o = b->ptr + b->len;
    *o++ = '"';
    while (i < n) {
        unsigned char c = p[i];
        char esc[8], short_esc;
        size_t elen, sl;

        if (allot_json_plain(c)) { /* most of a text, taken in one run */
            size_t j = allot_json_plain_end(s, i + 1, n);
            memcpy(o, p + i, j - i);
            o += j - i;
            i = j;
            continue;
        }
        if (c >= 0x80 && (sl = allot_utf8_seq_len(p + i, n - i)) != 0) {
            memcpy(o, p + i, sl);
            o += sl;
            i += sl;
            continue;
        }
        /* Two-character escapes where JSON has them, \u00XX for the other
         * control characters, U+FFFD for a byte that is not UTF-8. */
        if ((short_esc = c < sizeof short_escs ? short_escs[c] : 0) != 0) {
            esc[0] = '\\';
            esc[1] = short_esc;
            elen = 2;
        } else if (c < 0x20) {
            memcpy(esc, "\\u00", 4);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            elen = 6;
        } else {
            memcpy(esc, "\xEF\xBF\xBD", 3);
            elen = 3;
        }
        /* room for this escape, the rest of the input and the quote */
        at = (size_t)(o - b->ptr);
        if (b->cap - 1 - at < elen + (n - i - 1) + 1) {
            b->len = at;
            if ((rc = allot_buf_reserve(b, elen + (n - i - 1) + 1))) {
                b->len = start; /* unchanged, as buf.h promises */
                b->ptr[start] = '\0';
                return rc;
            }
            o = b->ptr + at;
        }
        memcpy(o, esc, elen);
        o += elen;
        i++;
    }
    *o++ = '"';
    b->len = (size_t)(o - b->ptr);
    b->ptr[b->len] = '\0';
    return 0;
}

char *allot_buf_detach(struct allot_buf *b)
{
    char *p = b->ptr;
    if (!p)
        p = calloc(1, 1);
    b->ptr = NULL;
    b->len = 0;
    b->cap = 0;
    return p;
}
