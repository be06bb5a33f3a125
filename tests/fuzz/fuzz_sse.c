/* fuzz_sse.c: libFuzzer target for the server-sent-events splitter
 * (sse.h), which reads upstream bytes as they arrive.
 *
 * Input: byte 0 picks the event cap (max_event, 4..1024 bytes, so
 * ALLOT_ETOOBIG comes up often), byte 1 the event after which the callback
 * asks to stop (bit 7: never), byte 2 (low 4 bits) how many of the next
 * bytes are piece sizes (0..127, zero-length feeds included); the rest is
 * the stream. It is fed in one piece, in the pieces those sizes give
 * (cycled), and one byte at a time, each into a fresh splitter, stopping
 * at the first non-zero return. Oracles, beyond ASan/UBSan:
 * - every split gives exactly the same events (raw bytes, data bytes, data
 *   or none), the same return code, and unless that was ALLOT_ETOOBIG the
 *   same bytes pending at the end;
 * - fed in one piece, the raw events and then the pending tail are the
 *   input, byte for byte, up to where feeding stopped;
 * - each raw event ends with its first blank line ("\n\n", "\n\r\n");
 * - its data is its "data:" lines (one leading space and a trailing CR
 *   cut) joined with "\n", {NULL,0} when it has none;
 * - no event is longer than max_event, and ALLOT_ETOOBIG comes exactly when
 *   the next event, or the unfinished tail, is.
 *
 * Fuzz: `FUZZ_SECONDS=60 bash tests/fuzz/run.sh sse` (clang libFuzzer,
 * -dict=tests/fuzz/sse.dict, corpus tests/fuzz/corpus/sse/).
 * tests/fuzz/replay.sh replays the corpus with replay.c under ASan+UBSan. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "allot/error.h"
#include "allot/sse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX_INPUT 8192
#define STOP_RC 7 /* what the callback returns to stop */

struct run {
    struct allot_buf log; /* every event, length-prefixed */
    unsigned n_events, stop_after;
    size_t max_event;
    int rc;
    size_t pending;
};

static void fail(const char *what, const char *p, size_t n)
{
    fprintf(stderr, "fuzz_sse: %s\n%.*s\n", what, (int)n, p ? p : "");
    abort();
}

static void log_add(struct allot_buf *log, const void *p, size_t n)
{
    if (allot_buf_add(log, &n, sizeof n) || allot_buf_add(log, p, n))
        abort();
}

/* The blank line that ends an event: "\n\n" or "\n\r\n", first one wins. */
static size_t first_blank_line(const char *p, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        if (p[i] != '\n')
            continue;
        if (i + 1 < n && p[i + 1] == '\n')
            return i + 2;
        if (i + 2 < n && p[i + 1] == '\r' && p[i + 2] == '\n')
            return i + 3;
    }
    return 0;
}

/* What the data field of raw must be, written out byte by byte. */
static void check_data(struct allot_slice raw, struct allot_slice got)
{
    char want[FUZZ_MAX_INPUT];
    size_t i = 0, n = 0;
    int lines = 0;

    while (i < raw.len) {
        size_t end = i, len;
        while (end < raw.len && raw.ptr[end] != '\n')
            end++;
        len = end - i;
        if (len && raw.ptr[i + len - 1] == '\r')
            len--;
        /* "data" alone: the field with an empty value (no colon) */
        if ((len >= 5 && memcmp(raw.ptr + i, "data:", 5) == 0) ||
            (len == 4 && memcmp(raw.ptr + i, "data", 4) == 0)) {
            size_t v = i + (len == 4 ? 4 : 5), vl = len == 4 ? 0 : len - 5;
            if (vl && raw.ptr[v] == ' ')
                v++, vl--;
            if (lines++)
                want[n++] = '\n';
            memcpy(want + n, raw.ptr + v, vl);
            n += vl;
        }
        i = end + 1;
    }
    if (!lines && (got.ptr || got.len))
        fail("data for an event without data lines", raw.ptr, raw.len);
    if (lines && !got.ptr)
        fail("no data for an event with data lines", raw.ptr, raw.len);
    if (got.len != n || (n && memcmp(got.ptr, want, n) != 0))
        fail("data is not the data lines joined", raw.ptr, raw.len);
}

static int on_event(void *ctx, struct allot_slice raw, struct allot_slice data)
{
    struct run *r = ctx;

    if (raw.len == 0 || raw.len > r->max_event)
        fail("event empty or past max_event", raw.ptr, raw.len);
    if (first_blank_line(raw.ptr, raw.len) != raw.len)
        fail("event does not end at its first blank line", raw.ptr, raw.len);
    check_data(raw, data);
    log_add(&r->log, raw.ptr, raw.len);
    log_add(&r->log, data.ptr ? "d" : "-", 1);
    log_add(&r->log, data.ptr, data.len);
    return ++r->n_events == r->stop_after ? STOP_RC : 0;
}

/* Feed p[0..n) in pieces of sizes[0..n_sizes) (cycled; n_sizes 0: whole). */
static void run(struct run *r, const char *p, size_t n, const uint8_t *sizes, size_t n_sizes)
{
    struct allot_sse s;
    size_t off = 0, k = 0, idle = 0;

    allot_sse_init(&s, r->max_event);
    allot_buf_init(&r->log, (size_t)1 << 24);
    r->n_events = 0;
    r->rc = 0;
    do {
        size_t piece = n_sizes ? sizes[k++ % n_sizes] & 0x7f : n - off;
        if (piece == 0 && ++idle > n_sizes)
            piece = 1; /* every size was 0: still get on */
        else if (piece)
            idle = 0;
        if (piece > n - off)
            piece = n - off;
        r->rc = allot_sse_feed(&s, p + off, piece, on_event, r);
        off += piece;
    } while (r->rc == 0 && off < n);
    r->pending = allot_sse_pending(&s);
    allot_sse_release(&s);
}

static void compare(const struct run *whole, const struct run *split, const char *how)
{
    if (split->rc != whole->rc || split->n_events != whole->n_events ||
        split->log.len != whole->log.len ||
        (whole->log.len && memcmp(split->log.ptr, whole->log.ptr, whole->log.len) != 0)) {
        fprintf(stderr, "fuzz_sse: %s: rc %d vs %d, %u vs %u events\n", how, split->rc, whole->rc,
                split->n_events, whole->n_events);
        abort();
    }
    if (whole->rc != ALLOT_ETOOBIG && split->pending != whole->pending) {
        fprintf(stderr, "fuzz_sse: %s: %zu bytes pending vs %zu\n", how, split->pending,
                whole->pending);
        abort();
    }
}

/* Fed whole: the events, then the pending tail, are the input itself; the
 * return code says why feeding stopped. */
static void check_whole(const struct run *r, const char *p, size_t n)
{
    size_t off = 0, i = 0, len, next;

    while (i < r->log.len) {
        memcpy(&len, r->log.ptr + i, sizeof len);
        if (len > n - off || memcmp(r->log.ptr + i + sizeof len, p + off, len) != 0)
            fail("events are not the input in order", p, n);
        off += len;
        i += sizeof len + len; /* the raw bytes; skip the data flag and data */
        memcpy(&len, r->log.ptr + i, sizeof len);
        i += sizeof len + len;
        memcpy(&len, r->log.ptr + i, sizeof len);
        i += sizeof len + len;
    }
    next = first_blank_line(p + off, n - off);
    if (r->rc == STOP_RC) {
        if (r->n_events != r->stop_after)
            fail("stopped without the callback asking", p, n);
    } else if (r->rc == ALLOT_ETOOBIG) {
        if ((next ? next : n - off) <= r->max_event)
            fail("ALLOT_ETOOBIG for an event within max_event", p, n);
    } else if (r->rc != 0) {
        fail("unexpected return code", p, n);
    } else if (next || r->pending != n - off) {
        fail("the unfinished tail is not what is pending", p, n);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct run whole, split, bytes;
    static const uint8_t one = 1;
    const uint8_t *sizes;
    size_t n_sizes, head;
    const char *p;

    if (size < 3 || size > FUZZ_MAX_INPUT)
        return 0;
    memset(&whole, 0, sizeof whole);
    whole.max_event = 4 + (size_t)data[0] * 4;
    whole.stop_after = data[1] & 0x80 ? 0 : data[1];
    n_sizes = data[2] & 15;
    head = 3 + n_sizes;
    if (head > size)
        return 0;
    sizes = data + 3;
    p = (const char *)data + head;
    split = bytes = whole;

    run(&whole, p, size - head, NULL, 0);
    check_whole(&whole, p, size - head);
    if (n_sizes) {
        run(&split, p, size - head, sizes, n_sizes);
        compare(&whole, &split, "split by the input's sizes");
    }
    run(&bytes, p, size - head, &one, 1);
    compare(&whole, &bytes, "one byte at a time");
    allot_buf_release(&whole.log);
    allot_buf_release(&split.log);
    allot_buf_release(&bytes.log);
    return 0;
}
