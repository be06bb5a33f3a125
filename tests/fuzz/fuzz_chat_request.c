/* fuzz_chat_request.c: libFuzzer target for the chat request parser (the
 * strict check of json_check.h with its member spans, then cJSON), the
 * splice rewrite, and the classifier that reads what the parser extracted.
 *
 * The strict check on its own, with and without ALLOT_JSON_CHECK_NUL_OK:
 * whatever it accepts cJSON must read whole; whatever it refuses it must
 * place within the text, with a line, a column and a reason. The check
 * that remembers tools values must judge every input as the full check
 * does, with values kept from this input and the ones before it.
 *
 * Whenever the parser accepts a body, the reading of the whole tree
 * (allot_chat_request_parse_tree) must give the same fields and spans as
 * the parser's tree of only the members routing reads, and each rewrite
 * (with and without forcing include_usage, with a model name that needs
 * escaping) must be a
 * chat request again, carry the new model, and, when forced, include_usage
 * true, and cJSON on its own must read it whole with exactly one "model".
 * The parser must never report ALLOT_ENOMEM here: inputs are small, so
 * that would mean its validator let through something cJSON refuses.
 * Anything else aborts.
 *
 * The classifier's memo (classify_memo.h) must give what classifying again
 * with the model itself gives, byte for byte, the first time (kept) and
 * the second (found).
 *
 * As in the gateway, cJSON allocates through json_arena.h's hooks
 * (installed on the first input, before any cJSON call): the strict check's
 * cJSON runs from the heap, the parse, rewrites and classification inside
 * one arena that is reset after each input and so reused warm (a parsed
 * body must have taken its tree from it). Under ASan every arena
 * allocation is its own malloc, so a use after reset is reported.
 *
 * Build and run (from the repository root), e.g. for 60 seconds:
 *   clang -std=c17 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined
 *     -Iinclude -include src/util/banned.h src/util/[every .c] src/route/kinds.c
 *     src/route/chat_request.c src/route/classify.c tests/fuzz/fuzz_chat_request.c
 *     $(pkg-config --cflags --libs libcjson) -lpthread -lm -o /tmp/fuzz_chat_request
 *   mkdir -p /tmp/corpus && /tmp/fuzz_chat_request -dict=tests/fuzz/chat_request.dict
 *     -max_total_time=60 /tmp/corpus tests/fuzz/corpus/chat_request
 * Replayed as a plain test: /tmp/fuzz_chat_request tests/fuzz/corpus/chat_request/[every file] */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cJSON.h>
#include "allot/chat_request.h"
#include "allot/classify.h"
#include "allot/classify_memo.h"
#include "allot/kinds_model.h"
#include "allot/error.h"
#include "allot/json_arena.h"
#include "allot/json_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok, const char *what, const struct allot_buf *b)
{
    if (!ok) {
        fprintf(stderr, "fuzz_chat_request: %s\n%.*s\n", what, (int)(b ? b->len : 0),
                b && b->ptr ? b->ptr : "");
        abort();
    }
}

/* cJSON alone reads out whole, with one top-level "model" equal to model. */
static void check_with_cjson(const struct allot_buf *out, const char *model)
{
    const char *end = NULL;
    cJSON *v = cJSON_ParseWithLengthOpts(out->ptr, out->len, &end, 0), *c;
    int n_model = 0;

    check(v != NULL, "rewrite is not JSON to cJSON", out);
    while (end < out->ptr + out->len && strchr(" \t\r\n", *end) && *end)
        end++;
    check(end == out->ptr + out->len, "cJSON does not read the rewrite whole", out);
    for (c = v->child; c; c = c->next) {
        if (c->string && strcmp(c->string, "model") == 0) {
            n_model++;
            check(cJSON_IsString(c) && strcmp(c->valuestring, model) == 0,
                  "cJSON reads another model", out);
        }
    }
    check(n_model == 1, "rewrite has not exactly one model", out);
    cJSON_Delete(v);
}

static void rewrite_and_check(const struct allot_chat_request *r, const char *body, size_t len,
                              const char *model, int usage)
{
    struct allot_chat_request again;
    struct allot_buf out, err;
    int rc;

    allot_buf_init(&out, 2 * len + 256);
    allot_buf_init(&err, 4096);
    rc = allot_chat_request_rewrite(r, body, len, model, usage, &out);
    check(rc == 0, "rewrite failed on a parsed body", &out);
    rc = allot_chat_request_parse(&again, out.ptr, out.len, &err);
    check(rc == 0, "rewrite is not a chat request", &out);
    check(allot_slice_eq(again.model, model), "rewrite lost the model", &out);
    check(!usage || again.include_usage, "rewrite lost include_usage", &out);
    check(usage || again.include_usage == r->include_usage, "rewrite changed include_usage", &out);
    check(again.stream == r->stream && again.n_messages == r->n_messages,
          "rewrite changed the request", &out);
    check_with_cjson(&out, model);
    allot_chat_request_release(&again);
    allot_buf_release(&out);
    allot_buf_release(&err);
}

/* The strict check alone: a subset of cJSON, errors placed in the text. */
static void check_json_check(const char *text, size_t size, unsigned flags)
{
    struct allot_json_check_error e;
    const char *end = NULL;
    cJSON *v;

    memset(&e, 0, sizeof e);
    if (allot_json_check(text, size, flags, NULL, NULL, &e) == 0) {
        v = cJSON_ParseWithLengthOpts(text, size, &end, 0);
        check(v != NULL, "strict check accepted what cJSON refuses", NULL);
        while (end < text + size && strchr(" \t\r\n", *end) && *end)
            end++;
        check(end == text + size, "cJSON does not read whole what the check accepted", NULL);
        cJSON_Delete(v);
        return;
    }
    check(e.kind != ALLOT_JSON_CHECK_OK && e.why[0] != '\0', "refusal without a reason", NULL);
    check(e.pos <= size && e.line >= 1 && e.column >= 1 && e.column <= e.byte_column &&
              e.byte_column <= e.pos + 1,
          "refusal placed outside the text", NULL);
}

/* The check that remembers tools values (as the parser's does) judges as
 * the full one, each of three times (noted, kept, passed over), and with
 * values kept from earlier inputs that this one may start alike. */
static void check_remembering(const char *text, size_t size, unsigned flags)
{
    static const char *const keep[] = {"tools", "functions", "response_format", NULL};
    struct allot_json_check_error full, kept;
    int rc, i;

    memset(&full, 0, sizeof full);
    rc = allot_json_check(text, size, flags, NULL, NULL, &full);
    for (i = 0; i < 3; i++) {
        memset(&kept, 0, sizeof kept);
        check(allot_json_check_remembering(text, size, flags, keep, NULL, NULL, &kept) == rc &&
                  kept.kind == full.kind && kept.pos == full.pos,
              "the remembering check judges otherwise than the full one", NULL);
    }
}

static int same_slice(struct allot_slice a, struct allot_slice b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

/* A client's body r was read from a tree of only the members routing
 * reads; the whole tree (the own-text reading) must give the same. */
static void same_as_whole_tree(const struct allot_chat_request *a, const char *body, size_t size)
{
    struct allot_chat_request b;
    struct allot_buf err;

    allot_buf_init(&err, 4096);
    check(allot_chat_request_parse_tree(&b, body, size, &err) == 0, "whole tree refused it", &err);
    check(same_slice(a->model, b.model) && a->stream == b.stream &&
              a->include_usage == b.include_usage && same_slice(a->system, b.system) &&
              same_slice(a->last_user, b.last_user) && a->n_messages == b.n_messages &&
              a->n_tool_results == b.n_tool_results && a->last_is_tool == b.last_is_tool &&
              a->material_bytes == b.material_bytes && a->has_tools == b.has_tools &&
              a->has_response_format == b.has_response_format &&
              (a->response_format == NULL) == (b.response_format == NULL) &&
              (!a->response_format || cJSON_Compare(a->response_format, b.response_format, 1)) &&
              a->model_off == b.model_off && a->model_len == b.model_len &&
              a->stream_options_off == b.stream_options_off &&
              a->stream_options_len == b.stream_options_len,
          "the selected tree reads differently from the whole one", NULL);
    allot_chat_request_release(&b);
    allot_buf_release(&err);
}

/* Classify in with the model in use, twice (the memo keeps it, then finds
 * it), and with the built-in model alone: all three the same bytes. */
static void same_as_fresh(const struct allot_instruction *in, struct allot_classification *c)
{
    static struct allot_kinds_model *model;
    struct allot_classification again, fresh;
    struct allot_instruction_view v;
    size_t hits, i, text = 0;

    if (!model && allot_kinds_model_from_bytes(allot__kinds_builtin, allot__kinds_builtin_size,
                                               "built-in", &model, NULL) != 0)
        check(0, "the built-in model does not load", NULL);
    allot_classify(in, c);
    hits = allot_classify_memo_hits();
    allot_classify(in, &again);
    allot_classify_with(model, in, &fresh);
    check(memcmp(c, &fresh, sizeof fresh) == 0, "a kept classification differs", NULL);
    check(memcmp(&again, &fresh, sizeof fresh) == 0, "a found classification differs", NULL);
    allot_instruction_view(in, &v);
    for (i = 0; i < v.n_spans; i++)
        text += v.spans[i].len;
    check(allot_classify_memo_hits() == hits + (text <= ALLOT_MEMO_TEXT),
          text <= ALLOT_MEMO_TEXT ? "not found again" : "found, though too long to keep", NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct allot_json_arena arena; /* zeroed: an empty arena */
    struct allot_json_arena *previous;
    struct allot_chat_request r;
    struct allot_instruction in;
    struct allot_classification c;
    struct allot_buf err;
    const char *body = (const char *)data;
    size_t n;
    int rc;

    allot_json_arena_install(); /* the first call does it, before any cJSON call */
    /* the classifier on raw bytes: any text may reach it */
    memset(&in, 0, sizeof in);
    in.last_user = allot_slice_of(body, size);
    in.system = allot_slice_of(body, size / 2);
    same_as_fresh(&in, &c);
    check(c.confidence >= 0.0 && c.confidence <= 1.0, "confidence out of range", NULL);
    for (n = 0; c.reason[n]; n++)
        check(c.reason[n] >= 0x20 && c.reason[n] <= 0x7E, "reason not header-safe", NULL);

    check_json_check(body, size, 0);
    check_json_check(body, size, ALLOT_JSON_CHECK_NUL_OK);
    check_remembering(body, size, 0);
    check_remembering(body, size, ALLOT_JSON_CHECK_NUL_OK);

    allot_buf_init(&err, 4096);
    previous = allot_json_arena_enter(&arena);
    rc = allot_chat_request_parse(&r, body, size, &err);
    if (rc == 0) {
        check(allot_json_arena_used(&arena) > 0, "parsed tree not from the arena", NULL);
        same_as_whole_tree(&r, body, size);
        rewrite_and_check(&r, body, size, "m", 0);
        rewrite_and_check(&r, body, size, "up\"str\\eam/\xc3\xa9\n", 1);
        allot_instruction_from_request(&r, &in);
        same_as_fresh(&in, &c);
        check(c.confidence >= 0.0 && c.confidence <= 1.0, "confidence out of range", NULL);
        check((unsigned)c.category < ALLOT_CAT__COUNT, "category out of range", NULL);
    } else {
        check(r.root == NULL, "error left a tree behind", NULL);
        check(rc != ALLOT_ENOMEM, "validator accepted what cJSON refused", &err);
        check(err.len > 0, "error without a message", NULL);
    }
    allot_chat_request_release(&r); /* the tree goes before the arena is reset */
    allot_json_arena_leave(previous);
    allot_json_arena_reset(&arena);
    allot_buf_release(&err);
    return 0;
}
