/* sse.h: an incremental parser for server-sent events (text/event-stream).
 *
 * Bytes go in as they arrive, in any split; each complete event (ended by a
 * blank line, LF or CRLF) comes out once, with its raw bytes (for relaying
 * unchanged) and its data field (data lines joined with "\n"). Partial
 * events are held in a capped buffer. */
#ifndef ALLOT_SSE_H
#define ALLOT_SSE_H
#include "allot/buf.h"
#include "allot/slice.h"

struct allot_sse {
    struct allot_buf pending; /* an incomplete event */
    struct allot_buf data;    /* scratch for multi-line data */
};

/* raw: the event's bytes including its closing blank line. data: the data
 * field, {NULL,0} for an event without data lines. Return 0 to go on; a
 * non-zero return stops allot_sse_feed, which returns that value. */
typedef int (*allot_sse_event_cb)(void *ctx, struct allot_slice raw, struct allot_slice data);

/* An event may be up to max_event bytes; past that feed returns ALLOT_ETOOBIG,
 * however the stream is split (in one piece too). */
void allot_sse_init(struct allot_sse *s, size_t max_event);
void allot_sse_release(struct allot_sse *s);
int allot_sse_feed(struct allot_sse *s, const char *p, size_t n, allot_sse_event_cb cb, void *ctx);
/* Bytes held of an unfinished event (non-zero at end of stream = cut). */
static inline size_t allot_sse_pending(const struct allot_sse *s)
{
    return s->pending.len;
}

#endif
