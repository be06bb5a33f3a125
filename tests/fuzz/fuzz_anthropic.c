/* fuzz_anthropic.c: libFuzzer target for the Anthropic dialect's
 * translations, both ways: a client's Messages request, and the
 * chat-completions answer and stream for it (anthropic.h); and, for
 * providers of kind anthropic, a chat-completions request for them and
 * their Messages answer and stream (anthropic_up.h). The same input goes
 * through all six.
 *
 * - Request: the reading the translator builds as it writes
 *   (allot_anthropic_request_read) is, field for field, the gateway's
 *   parse of the translation. Translating it again (the tool definitions remembered, by
 *   this input or an earlier one) gives the same. A translation that
 *   succeeds must be a chat request that the
 *   gateway's parser accepts (allot_chat_request_parse, as the gateway
 *   reads it), read the same off its whole tree without the strict check
 *   (allot_chat_request_parse_tree), with
 *   nothing in err; one that fails must be ALLOT_EINVAL with a one-line
 *   message and nothing in out.
 * - Answer: success gives JSON that cJSON reads; failure is ALLOT_EPARSE
 *   with nothing in out.
 * - Stream: each line of the input is fed as one event's data, then
 *   [DONE]; no call may fail (out is large), and every event written
 *   must be "event: NAME\ndata: JSON\n\n".
 * - Upstream request, answer and stream: success gives JSON (each event's
 *   data, or [DONE]); a failure leaves out unchanged.
 *
 * Anything else aborts.
 *
 * Build and run: `make fuzz` (tests/fuzz/run.sh), or replayed as a plain
 * test over tests/fuzz/corpus/anthropic/ by tests/fuzz/replay.sh. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cJSON.h>
#include "allot/anthropic.h"
#include "allot/anthropic_up.h"
#include "allot/chat_request.h"
#include "allot/error.h"
#include "own_text.h"
#include "same_reading.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok, const char *what, const struct allot_buf *b)
{
    if (!ok) {
        fprintf(stderr, "fuzz_anthropic: %s\n%.*s\n", what, (int)(b ? b->len : 0),
                b && b->ptr ? b->ptr : "");
        abort();
    }
}

/* The translation read as the gateway reads it must give what the strict
 * reading gives (own_text.h). */
static void same_as_strict(const struct allot_chat_request *a, const struct allot_buf *out)
{
    const char *why = own_text_differs(a, out);
    check(why == NULL, why ? why : "", out);
}

static void request(const char *p, size_t size)
{
    struct allot_buf out, err, err2;
    struct allot_chat_request chat;
    int rc;

    allot_buf_init(&out, 1u << 20);
    allot_buf_init(&err, 4096);
    allot_buf_init(&err2, 4096);
    rc = allot_anthropic_request(p, size, &out, &err);
    if (rc == 0) {
        check(err.len == 0, "success with an error message", &err);
        memset(&chat, 0, sizeof chat);
        check(allot_chat_request_parse(&chat, out.ptr, out.len, &err2) == 0,
              "the translation is not a chat request", &out);
        same_as_strict(&chat, &out);
        allot_chat_request_release(&chat);
    } else {
        check(rc == ALLOT_EINVAL, "a failure other than EINVAL", &err);
        check(err.len > 0 && !memchr(err.ptr, '\n', err.len), "not a one-line message", &err);
        check(out.len == 0, "a failure left output", &out);
    }
    /* again, twice: tool definitions remembered by the first translation
     * (or by an earlier input's) must translate the same */
    for (int again = 0; again < 2; again++) {
        struct allot_buf out2;
        allot_buf_init(&out2, 1u << 20);
        allot_buf_reset(&err2);
        check(allot_anthropic_request(p, size, &out2, &err2) == rc && out2.len == out.len &&
                  (out.len == 0 || memcmp(out2.ptr, out.ptr, out.len) == 0) &&
                  err2.len == err.len && (err.len == 0 || memcmp(err2.ptr, err.ptr, err.len) == 0),
              "translated otherwise the second time", &out2);
        allot_buf_release(&out2);
    }
    /* lenient: the same where the strict translation succeeds (nothing left
     * out); where it refuses, either the same refusal or a translation that
     * left something out, noted with a one-line message, and a chat request */
    {
        struct allot_anthropic_read only = {0, "", 0, 0};
        struct allot_buf out3;
        int rc3;

        allot_buf_init(&out3, 1u << 20);
        allot_buf_reset(&err2);
        rc3 = allot_anthropic_request_lenient(p, size, &out3, &err2, &only);
        if (rc == 0) {
            check(rc3 == 0 && only.n == 0 && out3.len == out.len &&
                      (out.len == 0 || memcmp(out3.ptr, out.ptr, out.len) == 0),
                  "lenient differs where strict succeeds", &out3);
            /* the model span the passthrough replaces: a JSON string in the body */
            check(only.model_len >= 2 && only.model_off + only.model_len <= size &&
                      p[only.model_off] == '"' && p[only.model_off + only.model_len - 1] == '"',
                  "the model span is not the model's string", &out3);
        } else if (rc3 == 0) {
            check(only.n > 0 && only.what[0] && !strchr(only.what, '\n') && err2.len == 0,
                  "lenient succeeded where strict refused, noting nothing", &out3);
            memset(&chat, 0, sizeof chat);
            check(allot_chat_request_parse(&chat, out3.ptr, out3.len, &err2) == 0,
                  "the lenient translation is not a chat request", &out3);
            allot_chat_request_release(&chat);
        } else {
            check(rc3 == rc && out3.len == 0, "lenient failed otherwise", &err2);
        }
        /* the reading built while translating is the one read back */
        {
            struct allot_anthropic_read only4 = {0, "", 0, 0};
            struct allot_chat_request built, parsed;
            struct allot_buf out4, err4;
            const char *why;
            int rc4, ok;

            allot_buf_init(&out4, 1u << 20);
            allot_buf_init(&err4, 4096);
            rc4 = allot_anthropic_request_read(p, size, &out4, &err4, &only4, 1, &built, &ok);
            check(rc4 == rc3 && out4.len == out3.len &&
                      (!out3.len || memcmp(out4.ptr, out3.ptr, out3.len) == 0),
                  "the translation that reads itself differs", &out4);
            check(rc4 != 0 || ok, "a translation's reading was not built", &out4);
            if (ok) {
                allot_buf_reset(&err2);
                check(allot_chat_request_parse(&parsed, out4.ptr, out4.len, &err2) == 0,
                      "the translation is not a chat request", &out4);
                why = readings_differ(&built, &parsed);
                check(why == NULL, why ? why : "", &out4);
                why = rewrites_differ(&built, &parsed, out4.ptr, out4.len);
                check(why == NULL, why ? why : "", &out4);
            }
            /* the reading alone (text 0): the same result and notes,
             * nothing written, the reading of the text it did not write */
            {
                struct allot_anthropic_read only5 = {0, "", 0, 0};
                struct allot_chat_request alone;
                struct allot_buf out5, err5;
                int rc5, ok5;

                allot_buf_init(&out5, 1u << 20);
                allot_buf_init(&err5, 4096);
                rc5 = allot_anthropic_request_read(p, size, &out5, &err5, &only5, 0, &alone, &ok5);
                check(rc5 == rc4 && out5.len == 0 && only5.n == only4.n &&
                          !strcmp(only5.what, only4.what) && err5.len == err4.len &&
                          (!err4.len || memcmp(err5.ptr, err4.ptr, err4.len) == 0),
                      "the reading alone fails otherwise, or wrote", &out5);
                check(rc5 != 0 || ok5, "the reading alone was not built", &out5);
                if (ok && ok5) {
                    why = readings_differ(&alone, &parsed);
                    check(why == NULL, why ? why : "", &out4);
                    why = rewrites_differ(&alone, &parsed, out4.ptr, out4.len);
                    check(why == NULL, why ? why : "", &out4);
                }
                if (ok5)
                    allot_chat_request_release(&alone);
                allot_buf_release(&out5);
                allot_buf_release(&err5);
            }
            if (ok) {
                allot_chat_request_release(&parsed);
                allot_chat_request_release(&built);
            }
            allot_buf_release(&out4);
            allot_buf_release(&err4);
        }
        allot_buf_release(&out3);
    }
    allot_buf_release(&out);
    allot_buf_release(&err);
    allot_buf_release(&err2);
}

static void answer(const char *p, size_t size)
{
    struct allot_buf out;
    cJSON *v;
    int rc;

    allot_buf_init(&out, 1u << 20);
    rc = allot_anthropic_response(p, size, "model", &out);
    if (rc == 0) {
        v = cJSON_ParseWithLength(out.ptr, out.len);
        check(v != NULL, "the message is not JSON", &out);
        cJSON_Delete(v);
    } else {
        check(rc == ALLOT_EPARSE, "a failure other than EPARSE", &out);
        check(out.len == 0, "a failure left output", &out);
    }
    allot_buf_release(&out);
}

/* Every event in out is "event: NAME\ndata: JSON\n\n". */
static void check_events(const struct allot_buf *out)
{
    const char *q = out->ptr, *end = out->ptr + out->len;
    while (q < end) {
        const char *nl = memchr(q, '\n', (size_t)(end - q)), *stop;
        cJSON *v;
        check(strncmp(q, "event: ", 7) == 0 && nl, "an event without its name", out);
        check(strncmp(nl + 1, "data: ", 6) == 0, "an event without data", out);
        stop = strstr(nl + 7, "\n\n");
        check(stop != NULL, "an event without its blank line", out);
        v = cJSON_ParseWithLength(nl + 7, (size_t)(stop - (nl + 7)));
        check(v != NULL, "an event's data is not JSON", out);
        cJSON_Delete(v);
        q = stop + 2;
    }
}

static void stream(const char *p, size_t size)
{
    struct allot_anthropic_stream s;
    struct allot_buf out;
    size_t i, start = 0;

    allot_buf_init(&out, 8u << 20);
    allot_anthropic_stream_init(&s, "chatcmpl-fuzz", "model");
    for (i = 0; i <= size; i++)
        if (i == size || p[i] == '\n') {
            check(allot_anthropic_stream_event(&s, allot_slice_of(p + start, i - start), &out) == 0,
                  "a stream event failed", &out);
            start = i + 1;
        }
    check(allot_anthropic_stream_event(&s, allot_slice_of("[DONE]", 6), &out) == 0, "[DONE] failed",
          &out);
    check(s.finished, "the stream did not finish at [DONE]", &out);
    check_events(&out);
    allot_buf_release(&out);
}

static void is_json(const char *p, size_t n, const char *what, const struct allot_buf *b)
{
    cJSON *v = cJSON_ParseWithLength(p, n);
    check(v != NULL, what, b);
    cJSON_Delete(v);
}

static int up_event(void *ctx, struct allot_slice raw, struct allot_slice data)
{
    const struct allot_buf *b = ctx;
    check(raw.len == data.len + 8 && memcmp(raw.ptr, "data: ", 6) == 0, "a chunk's framing", b);
    if (!(data.len == 6 && memcmp(data.ptr, "[DONE]", 6) == 0))
        is_json(data.ptr, data.len, "a chunk is not JSON", b);
    return 0;
}

static void upstream(const char *p, size_t size)
{
    struct allot_anthropic_up_stream s;
    struct allot_buf out, err;
    size_t i, start = 0;

    allot_buf_init(&out, 1u << 20);
    allot_buf_init(&err, 4096);
    if (allot_anthropic_up_request(p, size, 1024, &out, &err) == 0)
        is_json(out.ptr, out.len, "the Messages request is not JSON", &out);
    else
        check(out.len == 0, "a failure left output", &out);
    allot_buf_reset(&out);
    if (allot_anthropic_up_response(p, size, &out) == 0)
        is_json(out.ptr, out.len, "the chat completion is not JSON", &out);
    else
        check(out.len == 0, "a failure left output", &out);
    allot_anthropic_up_stream_init(&s, 0);
    for (i = 0; i <= size; i++)
        if (i == size || p[i] == '\n') {
            check(allot_anthropic_up_stream_event(&s, allot_slice_of(p + start, i - start),
                                                  up_event, &out) == 0,
                  "an upstream event failed", &out);
            start = i + 1;
        }
    allot_anthropic_up_stream_release(&s);
    allot_buf_release(&out);
    allot_buf_release(&err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data;
    request(p, size);
    answer(p, size);
    stream(p, size);
    upstream(p, size);
    return 0;
}
