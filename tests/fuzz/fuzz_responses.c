/* fuzz_responses.c: libFuzzer target for the Responses dialect's
 * translations (responses.h): a client's Responses request, and the
 * chat-completions answer and stream for it. The same input goes through
 * all three; the answer and the stream are translated for the custom tools
 * the request translation found, or, when it found none (the input is no
 * request), for a fixed set whose names the corpus's answers call, so
 * that custom_tool_call items are exercised too.
 *
 * - Request: a translation that succeeds must be a chat request that the
 *   gateway's parser accepts (allot_chat_request_parse, as the gateway
 *   reads it), read the same off its whole tree without the strict check
 *   (allot_chat_request_parse_tree), with
 *   nothing in err, and custom tool names that fit; one that fails must
 *   be ALLOT_EINVAL with a one-line message, nothing in out and no
 *   custom tools.
 * - Answer: success gives JSON that cJSON reads; failure is ALLOT_EPARSE
 *   with nothing in out.
 * - Stream: each line of the input is fed as one event's data, then
 *   [DONE]; no call may fail (out and the state's cap are large), every
 *   event written must be "event: NAME\ndata: JSON\n\n" with consecutive
 *   sequence numbers from 0, and the last one response.completed or
 *   response.incomplete.
 *
 * Anything else aborts.
 *
 * Build and run: `make fuzz` (tests/fuzz/run.sh), or replayed as a plain
 * test over tests/fuzz/corpus/responses/ by tests/fuzz/replay.sh. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cJSON.h>
#include "allot/chat_request.h"
#include "allot/error.h"
#include "own_text.h"
#include "same_reading.h"
#include "allot/responses.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok, const char *what, const struct allot_buf *b)
{
    if (!ok) {
        fprintf(stderr, "fuzz_responses: %s\n%.*s\n", what, (int)(b ? b->len : 0),
                b && b->ptr ? b->ptr : "");
        abort();
    }
}

/* The custom tools when the input is no request with any. */
static const struct allot_responses_custom fixed_custom = {2, {"apply_patch", "g"}};

/* The translation read as the gateway reads it must give what the strict
 * reading gives (own_text.h). */
static void same_as_strict(const struct allot_chat_request *a, const struct allot_buf *out)
{
    const char *why = own_text_differs(a, out);
    check(why == NULL, why ? why : "", out);
}

/* The reading the translator builds as it writes (when it builds one: not
 * with a response_format) is the parse of the translation, parsed, field
 * for field and rewrite for rewrite; the translation is the same. */
static void same_as_built(const char *p, size_t size, const struct allot_chat_request *parsed,
                          const struct allot_buf *out)
{
    struct allot_responses_custom c;
    struct allot_chat_request built;
    struct allot_buf out2, err;
    const char *why;
    int ok;

    allot_buf_init(&out2, 1u << 20);
    allot_buf_init(&err, 4096);
    check(allot_responses_request_read(p, size, &out2, &err, &c, &built, &ok) == 0 &&
              out2.len == out->len && (!out->len || memcmp(out2.ptr, out->ptr, out->len) == 0),
          "the translation that reads itself differs", &out2);
    check(ok || parsed->has_response_format,
          "a reading without a response_format was not built", &out2);
    if (ok) {
        why = readings_differ(&built, parsed);
        check(why == NULL, why ? why : "", &out2);
        why = rewrites_differ(&built, parsed, out->ptr, out->len);
        check(why == NULL, why ? why : "", &out2);
        allot_chat_request_release(&built);
    }
    allot_buf_release(&out2);
    allot_buf_release(&err);
}

static void request(const char *p, size_t size, struct allot_responses_custom *custom)
{
    struct allot_buf out, err, err2;
    struct allot_chat_request chat;
    int rc, i;

    allot_buf_init(&out, 1u << 20);
    allot_buf_init(&err, 4096);
    allot_buf_init(&err2, 4096);
    custom->n = -1;
    rc = allot_responses_request(p, size, &out, &err, custom);
    if (rc == 0) {
        check(err.len == 0, "success with an error message", &err);
        check(custom->n >= 0 && custom->n <= ALLOT_RESPONSES_CUSTOM_MAX,
              "a custom tool count out of range", &out);
        for (i = 0; i < custom->n; i++)
            check(memchr(custom->name[i], '\0', sizeof custom->name[i]) != NULL,
                  "a custom tool name that does not fit", &out);
        memset(&chat, 0, sizeof chat);
        check(allot_chat_request_parse(&chat, out.ptr, out.len, &err2) == 0,
              "the translation is not a chat request", &out);
        same_as_strict(&chat, &out);
        same_as_built(p, size, &chat, &out);
        allot_chat_request_release(&chat);
    } else {
        check(rc == ALLOT_EINVAL, "a failure other than EINVAL", &err);
        check(err.len > 0 && !memchr(err.ptr, '\n', err.len), "not a one-line message", &err);
        check(out.len == 0, "a failure left output", &out);
        check(custom->n == 0, "a failure left custom tools", &err);
    }
    /* again, twice: tool definitions remembered by the first translation
     * (or by an earlier input's) must translate the same, custom tools too */
    for (int again = 0; again < 2; again++) {
        struct allot_buf out2;
        struct allot_responses_custom c2;
        allot_buf_init(&out2, 1u << 20);
        allot_buf_reset(&err2);
        memset(&c2, 0, sizeof c2);
        c2.n = -1;
        check(allot_responses_request(p, size, &out2, &err2, &c2) == rc && out2.len == out.len &&
                  (out.len == 0 || memcmp(out2.ptr, out.ptr, out.len) == 0) &&
                  err2.len == err.len &&
                  (err.len == 0 || memcmp(err2.ptr, err.ptr, err.len) == 0) && c2.n == custom->n,
              "translated otherwise the second time", &out2);
        for (i = 0; i < c2.n; i++)
            check(strcmp(c2.name[i], custom->name[i]) == 0, "another custom tool the second time",
                  &out2);
        allot_buf_release(&out2);
    }
    allot_buf_release(&out);
    allot_buf_release(&err);
    allot_buf_release(&err2);
}

static void answer(const char *p, size_t size, const struct allot_responses_custom *custom)
{
    struct allot_buf out;
    cJSON *v;
    int rc;

    allot_buf_init(&out, 1u << 20);
    rc = allot_responses_response(p, size, "model", 1700000000, custom, &out);
    if (rc == 0) {
        v = cJSON_ParseWithLength(out.ptr, out.len);
        check(cJSON_IsObject(v), "the response is not a JSON object", &out);
        cJSON_Delete(v);
    } else {
        check(rc == ALLOT_EPARSE, "a failure other than EPARSE", &out);
        check(out.len == 0, "a failure left output", &out);
    }
    allot_buf_release(&out);
}

/* Every event in out is "event: NAME\ndata: JSON\n\n", its data's type is
 * NAME and its sequence_number the next one; the last event's name is
 * copied to last. */
static void check_events(const struct allot_buf *out, char *last, size_t cap)
{
    const char *q = out->ptr, *end = out->ptr + out->len;
    double seq = 0;

    while (q < end) {
        const char *nl = memchr(q, '\n', (size_t)(end - q)), *stop;
        const cJSON *type, *n;
        cJSON *v;
        check(strncmp(q, "event: ", 7) == 0 && nl, "an event without its name", out);
        check(strncmp(nl + 1, "data: ", 6) == 0, "an event without data", out);
        stop = strstr(nl + 7, "\n\n");
        check(stop != NULL, "an event without its blank line", out);
        v = cJSON_ParseWithLength(nl + 7, (size_t)(stop - (nl + 7)));
        check(v != NULL, "an event's data is not JSON", out);
        type = cJSON_GetObjectItemCaseSensitive(v, "type");
        check(cJSON_IsString(type) && strlen(type->valuestring) == (size_t)(nl - q - 7) &&
                  memcmp(type->valuestring, q + 7, (size_t)(nl - q - 7)) == 0,
              "an event's data type is not its name", out);
        n = cJSON_GetObjectItemCaseSensitive(v, "sequence_number");
        check(cJSON_IsNumber(n) && n->valuedouble == seq, "a sequence number out of order", out);
        seq++;
        snprintf(last, cap, "%s", type->valuestring);
        cJSON_Delete(v);
        q = stop + 2;
    }
}

static void stream(const char *p, size_t size, const struct allot_responses_custom *custom)
{
    struct allot_responses_stream s;
    struct allot_buf out;
    size_t i, start = 0;
    char last[64] = "";

    allot_buf_init(&out, 16u << 20);
    allot_responses_stream_init(&s, "chatcmpl-fuzz", "model", 1700000000, 4u << 20, custom);
    for (i = 0; i <= size; i++)
        if (i == size || p[i] == '\n') {
            check(allot_responses_stream_event(&s, allot_slice_of(p + start, i - start), &out) == 0,
                  "a stream event failed", &out);
            start = i + 1;
        }
    check(allot_responses_stream_event(&s, allot_slice_of("[DONE]", 6), &out) == 0, "[DONE] failed",
          &out);
    check(s.finished, "the stream did not finish at [DONE]", &out);
    check_events(&out, last, sizeof last);
    check(strcmp(last, "response.completed") == 0 || strcmp(last, "response.incomplete") == 0,
          "the stream does not end with the whole response", &out);
    allot_responses_stream_release(&s);
    allot_buf_release(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data;
    struct allot_responses_custom custom;

    request(p, size, &custom);
    answer(p, size, custom.n ? &custom : &fixed_custom);
    stream(p, size, custom.n ? &custom : &fixed_custom);
    return 0;
}
