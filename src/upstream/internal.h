/* internal.h: what client.c (the libcurl path and the public API of
 * upstream.h) and h1.c (the native HTTP/1.1 client) share. Private to
 * src/upstream/.
 *
 * allot_upstream_start dispatches per provider: a provider the native
 * client serves (allot__h1_serves) goes to h1.c, every other to libcurl.
 * Both kinds of transfer are handed out as struct allot_upstream_xfer *;
 * the first member of either struct is an enum allot__xfer_kind, which is
 * how allot_upstream_cancel/resume tell them apart. */
#ifndef ALLOT_UPSTREAM_INTERNAL_H
#define ALLOT_UPSTREAM_INTERNAL_H
#include <stddef.h>
#include <uv.h>
#include "allot/buf.h"
#include "allot/config.h"
#include "allot/upstream.h"

enum allot__xfer_kind {
    ALLOT__XFER_CURL = 1,
    ALLOT__XFER_H1 = 2,
};

/* The kind of a transfer handed out by allot_upstream_start. */
static inline enum allot__xfer_kind allot__xfer_kind_of(const struct allot_upstream_xfer *x)
{
    return *(const enum allot__xfer_kind *)(const void *)x;
}

/* Whether a proxy named in the environment (http_proxy, HTTP_PROXY,
 * all_proxy, ALL_PROXY) applies to an http:// request to host (a name or
 * an IP literal without brackets), after no_proxy/NO_PROXY. Errs towards
 * 1: a no_proxy entry this does not understand (a CIDR range) counts as
 * not matching, so libcurl, which does understand it, makes the call.
 * Reads the environment; call at start-up, not per request. */
int allot__proxy_applies(const char *host);

struct allot__h1;
struct allot__h1_xfer;

/* The native client for loop and cfg's providers: works out which
 * providers it serves (http:// base_url, http_client auto, no proxy),
 * and builds each one's constant request head. Errors: ALLOT_ENOMEM. */
int allot__h1_new(uv_loop_t *loop, const struct allot_config *cfg, struct allot__h1 **out);

/* Whether p is served by the native client. */
int allot__h1_serves(const struct allot__h1 *h1, const struct allot_provider *p);

/* As allot_upstream_start, for a provider allot__h1_serves. No callback
 * runs before this returns. Errors: ALLOT_ENOMEM, ALLOT_EUPSTREAM (message
 * in err: the path is too long). */
int allot__h1_start(struct allot__h1 *h1, const struct allot_upstream_request *req,
                    const struct allot_upstream_callbacks *cb, void *ctx,
                    struct allot_upstream_xfer **out, struct allot_buf *err);

/* As allot_upstream_cancel and allot_upstream_resume. */
void allot__h1_cancel(struct allot_upstream_xfer *x);
void allot__h1_resume(struct allot_upstream_xfer *x);

/* Transfers in flight. */
size_t allot__h1_active(const struct allot__h1 *h1);

/* Cancel what is left, close every connection and handle, free h1 once
 * libuv has closed them (the loop must run until then). */
void allot__h1_free(struct allot__h1 *h1);

#endif
