/* own_text.h: for the translators' fuzz targets (fuzz_anthropic.c,
 * fuzz_responses.c). The gateway reads a translation as it reads a
 * client's body (allot_chat_request_parse: the strict check, then only
 * what routing reads); the whole tree's reading of it
 * (allot_chat_request_parse_tree: no check) must give what that reading,
 * a, gave. Header-only: each target is built alone
 * (replay.sh, run.sh). */
#ifndef ALLOT_FUZZ_OWN_TEXT_H
#define ALLOT_FUZZ_OWN_TEXT_H
#include <string.h>
#include "allot/buf.h"
#include "allot/chat_request.h"

/* NULL when out read off its whole tree gives what a holds, else why not. */
static const char *own_text_differs(const struct allot_chat_request *a, const struct allot_buf *out)
{
    struct allot_chat_request b;
    struct allot_buf err;
    const char *why = NULL;

    allot_buf_init(&err, 4096);
    if (allot_chat_request_parse_tree(&b, out->ptr, out->len, &err) != 0) {
        why = "the translation's whole tree is not read";
    } else if (!(a->model.len == b.model.len && a->system.len == b.system.len &&
                 a->last_user.len == b.last_user.len && a->n_messages == b.n_messages &&
                 a->n_tool_results == b.n_tool_results && a->last_is_tool == b.last_is_tool &&
                 a->material_bytes == b.material_bytes && a->has_tools == b.has_tools &&
                 a->has_response_format == b.has_response_format && a->stream == b.stream &&
                 a->model_off == b.model_off && a->model_len == b.model_len &&
                 a->stream_options_len == b.stream_options_len &&
                 (!a->system.len || !memcmp(a->system.ptr, b.system.ptr, a->system.len)) &&
                 (!a->last_user.len ||
                  !memcmp(a->last_user.ptr, b.last_user.ptr, a->last_user.len)))) {
        why = "the translation read off its whole tree differs from the strict reading";
    }
    allot_chat_request_release(&b);
    allot_buf_release(&err);
    return why;
}

#endif
