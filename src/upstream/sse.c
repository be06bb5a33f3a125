/* sse.c: incremental server-sent-events framing (see sse.h).
 *
 * The gateway relays an upstream stream event by event: it must see each
 * event whole (to read usage and errors, and to drop the usage chunk a
 * client did not ask for) but must not hold more than one event. Bytes that
 * complete an event in the caller's buffer are handed out without a copy;
 * only the tail of an unfinished event is kept in `pending`. */
#include <string.h>
#include "allot/error.h"
#include "allot/sse.h"

void allot_sse_init(struct allot_sse *s, size_t max_event)
{
    allot_buf_init(&s->pending, max_event);
    allot_buf_init(&s->data, max_event);
}

void allot_sse_release(struct allot_sse *s)
{
    allot_buf_release(&s->pending);
    allot_buf_release(&s->data);
}

/* End of the first event in p[0..n): index just past its blank line, or 0.
 * A blank line is "\n\n", "\r\n\r\n" or "\n\r\n" (mixed endings). */
static size_t event_end(const char *p, size_t n)
{
    const char *q = p, *end = p + n;

    /* memchr, not a byte loop: an event is a few hundred bytes, one line */
    while ((q = memchr(q, '\n', (size_t)(end - q)))) {
        size_t i = (size_t)(q - p);
        if (i + 1 < n && p[i + 1] == '\n')
            return i + 2;
        if (i + 2 < n && p[i + 1] == '\r' && p[i + 2] == '\n')
            return i + 3;
        q++;
    }
    return 0;
}

/* Collect the data field of one raw event. Single data line: a slice into
 * raw. Several: joined with "\n" in s->data. */
static int event_data(struct allot_sse *s, const char *p, size_t n, struct allot_slice *out)
{
    size_t i = 0, lines = 0;
    struct allot_slice first = {NULL, 0};
    int rc;

    allot_buf_reset(&s->data);
    while (i < n) {
        const char *nl = memchr(p + i, '\n', n - i);
        size_t end = nl ? (size_t)(nl - p) : n, len = end - i;
        const char *line = p + i;

        if (len && line[len - 1] == '\r')
            len--;
        /* "data" alone is the field with an empty value (a line without a
         * colon is all name, per the SSE spec); "data:x" needs no space */
        if ((len >= 5 && memcmp(line, "data:", 5) == 0) ||
            (len == 4 && memcmp(line, "data", 4) == 0)) {
            const char *v = line + (len == 4 ? 4 : 5);
            size_t vl = len == 4 ? 0 : len - 5;
            if (vl && *v == ' ') {
                v++;
                vl--;
            }
            if (lines == 0) {
                first.ptr = v;
                first.len = vl;
            } else {
                if (lines == 1 && (rc = allot_buf_add(&s->data, first.ptr, first.len)))
                    return rc;
                if ((rc = allot_buf_add(&s->data, "\n", 1)) ||
                    (rc = allot_buf_add(&s->data, v, vl)))
                    return rc;
            }
            lines++;
        }
        i = end + 1;
    }
    if (lines > 1) {
        out->ptr = s->data.ptr;
        out->len = s->data.len;
    } else {
        *out = first;
    }
    return 0;
}

static int emit(struct allot_sse *s, const char *p, size_t n, allot_sse_event_cb cb, void *ctx)
{
    struct allot_slice data;
    int rc = event_data(s, p, n, &data);
    if (rc)
        return rc;
    return cb(ctx, allot_slice_of(p, n), data);
}

int allot_sse_feed(struct allot_sse *s, const char *p, size_t n, allot_sse_event_cb cb, void *ctx)
{
    size_t end;
    int rc = 0;

    if (s->pending.len) {
        /* Complete the held event. Search from a little before the old end
         * so a blank line split across calls is found. */
        size_t back = s->pending.len < 2 ? s->pending.len : 2;
        size_t old = s->pending.len;
        size_t take;
        const char *q;

        end = 0;
        /* Look for the terminator across the seam without copying all of p. */
        {
            char seam[6];
            size_t sl = 0, k, tail = n < 3 ? n : 3;
            memcpy(seam, s->pending.ptr + old - back, back);
            sl = back;
            memcpy(seam + sl, p, tail);
            sl += tail;
            k = event_end(seam, sl);
            if (k > back)
                end = k - back;
            else if (k)
                end = 0; /* terminator wholly in pending: cannot happen */
        }
        if (!end) {
            q = p;
            end = event_end(q, n);
        }
        take = end ? end : n;
        if ((rc = allot_buf_add(&s->pending, p, take)))
            return rc;
        if (!end)
            return 0;
        rc = emit(s, s->pending.ptr, s->pending.len, cb, ctx);
        allot_buf_reset(&s->pending);
        if (rc)
            return rc;
        p += end;
        n -= end;
    }
    while (n && (end = event_end(p, n)) != 0) {
        /* the cap holds for an event that arrived in one piece too, as it
         * does for one pieced together in pending: the same stream must
         * give the same events however it is split */
        if (end > s->pending.max)
            return ALLOT_ETOOBIG;
        if ((rc = emit(s, p, end, cb, ctx)))
            return rc;
        p += end;
        n -= end;
    }
    if (n)
        rc = allot_buf_add(&s->pending, p, n);
    return rc;
}
