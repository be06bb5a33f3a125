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
#include "same_reading.h"

/* NULL when out read off its whole tree gives what a holds, else why not. */
static const char *own_text_differs(const struct allot_chat_request *a, const struct allot_buf *out)
{
    struct allot_chat_request b;
    struct allot_buf err;
    const char *why = NULL;

    allot_buf_init(&err, 4096);
    if (allot_chat_request_parse_tree(&b, out->ptr, out->len, &err) != 0)
        why = "the translation's whole tree is not read";
    else if (readings_differ(a, &b))
        why = "the translation read off its whole tree differs from the strict reading";
    allot_chat_request_release(&b);
    allot_buf_release(&err);
    return why;
}

#endif
