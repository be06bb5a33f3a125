/* same_reading.h: two readings of one chat request, field for field: for
 * the fuzz targets and unit tests that hold one way of reading a
 * translation to another (own_text.h; the reading the Anthropic
 * translator builds as it writes, allot_anthropic_request_read). Header
 * only: each fuzz target is built alone (replay.sh, run.sh). */
#ifndef ALLOT_FUZZ_SAME_READING_H
#define ALLOT_FUZZ_SAME_READING_H
#include <string.h>
#include "allot/buf.h"
#include "allot/chat_request.h"

static int same_slice(struct allot_slice a, struct allot_slice b)
{
    return a.len == b.len && (!a.len || memcmp(a.ptr, b.ptr, a.len) == 0);
}

/* NULL when a and b say the same of their request, else the first field
 * that differs. */
static const char *readings_differ(const struct allot_chat_request *a,
                                   const struct allot_chat_request *b)
{
    if (!same_slice(a->model, b->model))
        return "model";
    if (!same_slice(a->system, b->system))
        return "system";
    if (!same_slice(a->last_user, b->last_user))
        return "last_user";
    if (a->stream != b->stream || a->include_usage != b->include_usage)
        return "stream";
    if (a->n_messages != b->n_messages)
        return "n_messages";
    if (a->n_tool_results != b->n_tool_results || a->last_is_tool != b->last_is_tool)
        return "tool results";
    if (a->material_bytes != b->material_bytes)
        return "material_bytes";
    if (a->has_tools != b->has_tools)
        return "has_tools";
    if (a->has_response_format != b->has_response_format ||
        (a->response_format == NULL) != (b->response_format == NULL))
        return "response_format";
    if (a->model_off != b->model_off || a->model_len != b->model_len)
        return "model span";
    if (a->stream_options_off != b->stream_options_off ||
        a->stream_options_len != b->stream_options_len)
        return "stream_options span";
    return NULL;
}

/* NULL when the two readings a and b of body rewrite it the same, for an
 * upstream model and with include_usage forced or not, else why not. */
static const char *rewrites_differ(const struct allot_chat_request *a,
                                   const struct allot_chat_request *b, const char *body,
                                   size_t len)
{
    struct allot_buf x, y;
    const char *why = NULL;
    int force, ra, rb;

    allot_buf_init(&x, (size_t)-1 / 2);
    allot_buf_init(&y, (size_t)-1 / 2);
    for (force = 0; force < 2 && !why; force++) {
        allot_buf_reset(&x);
        allot_buf_reset(&y);
        ra = allot_chat_request_rewrite(a, body, len, "up\"model", force, &x);
        rb = allot_chat_request_rewrite(b, body, len, "up\"model", force, &y);
        if (ra != rb || x.len != y.len || (x.len && memcmp(x.ptr, y.ptr, x.len) != 0))
            why = "the two readings rewrite the body differently";
    }
    allot_buf_release(&x);
    allot_buf_release(&y);
    return why;
}

#endif
