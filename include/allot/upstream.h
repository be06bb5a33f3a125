/* upstream.h: HTTP calls to model providers, on a libuv loop.
 *
 * One struct allot_upstream per event loop: a libcurl multi handle driven
 * by the loop through curl's socket and timer callbacks (curl's
 * docs/examples/multi-uv.c). Connections to a provider are kept alive and
 * reused across requests by the multi handle's connection cache; easy
 * handles are pooled. Never blocks the loop.
 *
 * All functions must be called on the loop's thread. */
#ifndef ALLOT_UPSTREAM_H
#define ALLOT_UPSTREAM_H
#include <stddef.h>
#include <stdint.h>
#include <uv.h>
#include "allot/buf.h"
#include "allot/config.h"
#include "allot/slice.h"

/* The Messages API version sent to kind: anthropic providers. */
#define ALLOT_ANTHROPIC_VERSION "2023-06-01"

struct allot_upstream;
struct allot_upstream_xfer;

/* Returned by on_data to pause the transfer until allot_upstream_resume. */
#define ALLOT_UPSTREAM_PAUSE 1

/* on_head's retry_ms when the response carries no usable retry hint. */
#define ALLOT_UPSTREAM_NO_HINT (-1)
/* The longest retry hint reported (one day): a larger value is cut to it. */
#define ALLOT_UPSTREAM_HINT_MAX_MS (24LL * 3600 * 1000)

struct allot_upstream_callbacks {
    /* The final response head arrived. retry_ms is the provider's retry
     * hint, in milliseconds (0..ALLOT_UPSTREAM_HINT_MAX_MS), from its
     * retry-after-ms header, else its Retry-After (allot_upstream_retry_hint;
     * of a repeated header the last counts), whatever the status; or
     * ALLOT_UPSTREAM_NO_HINT when it sent neither or neither could be read.
     * Return 0 to go on, non-zero to abort the transfer (on_done follows
     * with ALLOT_ECLOSED). */
    int (*on_head)(void *ctx, long status, struct allot_slice content_type, int64_t retry_ms);
    /* Body bytes, as they arrive. Return 0, ALLOT_UPSTREAM_PAUSE, or
     * non-zero negative to abort (on_done follows with ALLOT_ECLOSED). */
    int (*on_data)(void *ctx, const char *p, size_t n);
    /* The transfer ended: err 0 when the whole response arrived, else
     * ALLOT_ETIMEDOUT, ALLOT_EUPSTREAM (message says why, naming the
     * provider and its URL, e.g. "upstream 'local' at
     * http://127.0.0.1:4102/v1: Couldn't connect to server") or
     * ALLOT_ECLOSED (a callback asked to abort). The xfer is gone after
     * this returns; on_done may start another transfer. */
    void (*on_done)(void *ctx, int err, const char *message);
};

/* What to send. body must stay valid until on_done or cancel. */
struct allot_upstream_request {
    const struct allot_model *model;
    const char *path; /* appended to the provider's base_url: "/chat/completions",
                       * "/messages" for kind: anthropic */
    const char *body;
    size_t body_len;
    /* One more header line for this request alone, "Name: value" without
     * CRLF (allot_slice, may be empty): the client's anthropic-beta on a
     * passed-through Messages request. At most ALLOT_UPSTREAM_EXTRA_MAX
     * bytes of printable ASCII; the caller checks. Copied by
     * allot_upstream_start(): it need not outlive the call. */
    struct allot_slice extra_header;
};

#define ALLOT_UPSTREAM_EXTRA_MAX 1024

/* Create the upstream for loop; cfg must outlive it (its providers' keys
 * are copied into per-provider header lists once, here). */
int allot_upstream_new(uv_loop_t *loop, const struct allot_config *cfg,
                       struct allot_upstream **out);

/* Cancel what is left, close the loop handles and free once they are
 * closed; the loop must run until then. */
void allot_upstream_free(struct allot_upstream *up);

/* Start a POST. *out identifies it for cancel/resume. Errors: ALLOT_ENOMEM,
 * ALLOT_EUPSTREAM (curl refused the handle; message in err). */
int allot_upstream_start(struct allot_upstream *up, const struct allot_upstream_request *req,
                         const struct allot_upstream_callbacks *cb, void *ctx,
                         struct allot_upstream_xfer **out, struct allot_buf *err);

/* Stop a transfer now; no callback follows. Must not be called from inside
 * that transfer's own on_head/on_data (return non-zero there instead). */
void allot_upstream_cancel(struct allot_upstream_xfer *x);

/* Resume a transfer paused by ALLOT_UPSTREAM_PAUSE. */
void allot_upstream_resume(struct allot_upstream_xfer *x);

/* A provider's retry hint: the value of a retry-after-ms header (unit_ms
 * 1: milliseconds, a fraction allowed: "1500", "20.5"), or of a
 * Retry-After header (unit_ms 0: delay-seconds, a fraction tolerated, or
 * an HTTP-date of RFC 9110 in any of its three forms, measured from now_ms,
 * the wall clock in milliseconds since the epoch). Blanks around the value
 * are allowed. Returns the milliseconds to wait, rounded up, 0 for a date
 * in the past, at most ALLOT_UPSTREAM_HINT_MAX_MS (a larger value, however
 * many digits, is cut to it); or ALLOT_UPSTREAM_NO_HINT for anything else
 * (empty, negative, garbage, an impossible date, over 63 bytes). Pure: no
 * allocation, no clock, no locale. */
int64_t allot_upstream_retry_hint(struct allot_slice value, int unit_ms, int64_t now_ms);

/* Transfers in flight. */
size_t allot_upstream_active(const struct allot_upstream *up);

#endif
