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

struct allot_upstream_callbacks {
    /* The final response head arrived. Return 0 to go on, non-zero to
     * abort the transfer (on_done follows with ALLOT_ECLOSED). */
    int (*on_head)(void *ctx, long status, struct allot_slice content_type);
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
};

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

/* Transfers in flight. */
size_t allot_upstream_active(const struct allot_upstream *up);

#endif
