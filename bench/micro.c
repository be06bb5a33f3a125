/* micro.c: per-stage cost of allot's request path, without sockets.
 * Times parse, classify+decide and rewrite of the benchmark's ~1 KB
 * request, the parse of a typical upstream answer, and (auth.keys) finding
 * the client of a bearer key among 1,000, in us per call; then the same
 * request's routing on the translated paths, a ~1 KB Anthropic Messages
 * request (POST /v1/messages) and a ~1 KB OpenAI Responses request (POST
 * /v1/responses): translate, read the translation, classify+decide.
 * classify+decide is timed for a new instruction each call (the calls go
 * round variants of the last user turn that differ in their first two
 * bytes, more than the classifier's memo keeps: classify_memo.h), as the first step of a
 * conversation meets it, and for the same instruction again, as the next
 * step of an agent's loop does (the memo's copy).
 * Usage: build/bench_micro [ITERATIONS]   (bench/run.sh prints it too) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cJSON.h>
#include "allot/anthropic.h"
#include "allot/auth.h"
#include "allot/chat_request.h"
#include "allot/classify.h"
#include "allot/classify_memo.h"
#include "allot/clock.h"
#include "allot/config.h"
#include "allot/decision.h"
#include "allot/json_arena.h"
#include "allot/responses.h"

static const char body[] =
    "{\"model\":\"auto\",\"stream\":false,\"temperature\":0.2,\"max_tokens\":300,\"messages\":[{"
    "\"role\":\"system\",\"content\":\"You are a careful assistant for a newsroom. Answer in "
    "plain English, keep to the facts given in the text, and do not add information that is not "
    "in it.\"},{\"role\":\"user\",\"content\":\"Summarise this article in five bullet "
    "points:\\n\\nThe city library on Harbour Street reopened on Monday after eighteen months of "
    "renovation work. The building, which dates from 1911, now has a new roof, step-free access "
    "at both entrances and a reading room on the top floor with views over the old port. The "
    "children's section has doubled in size and moved to the ground floor, next to a small cafe "
    "run by a local bakery. The library now opens from eight in the morning until nine at night "
    "on weekdays. More than four hundred people queued outside before the doors opened, and the "
    "head librarian said that about two thousand books were borrowed on the first day alone. The "
    "renovation cost 6.4 million euros, most of it paid by the regional government, with the "
    "rest raised by a public appeal.\"}]}";

static const char answer[] =
    "{\"id\":\"chatcmpl-fake-1\",\"object\":\"chat.completion\",\"created\":1700000000,\"model\":"
    "\"sim-local-8b\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":"
    "\"[local] answer to: Summarise this article in five bullet points with some filler words "
    "that make it sixteen tokens long\"},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":"
    "250,\"completion_tokens\":16,\"total_tokens\":266}}";

/* a Messages request as Claude Code sends one: system blocks, a tool, a
 * user turn of text blocks */
static const char messages_body[] =
    "{\"model\":\"auto\",\"max_tokens\":300,\"stream\":true,\"temperature\":0.2,\"system\":[{"
    "\"type\":\"text\",\"text\":\"You are a careful assistant for a newsroom. Answer in plain "
    "English and keep to the facts given.\",\"cache_control\":{\"type\":\"ephemeral\"}}],"
    "\"tools\":[{\"name\":\"lookup\",\"description\":\"Look a name up in the archive\","
    "\"input_schema\":{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\"}},"
    "\"required\":[\"name\"]}}],\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\","
    "\"text\":\"Summarise this article in five bullet points:\\n\\nThe city library on Harbour "
    "Street reopened on Monday after eighteen months of renovation work. The building, which "
    "dates from 1911, now has a new roof, step-free access at both entrances and a reading room "
    "on the top floor with views over the old port. The children's section has doubled in size "
    "and moved to the ground floor, next to a small cafe run by a local bakery. More than four "
    "hundred people queued outside before the doors opened, and the head librarian said that "
    "about two thousand books were borrowed on the first day alone.\"}]}],\"metadata\":{"
    "\"user_id\":\"user_1234\"}}";

/* a Responses request as the OpenAI SDK sends one: instructions, input
 * items, a function tool */
static const char responses_body[] =
    "{\"model\":\"auto\",\"stream\":true,\"temperature\":0.2,\"max_output_tokens\":300,"
    "\"instructions\":\"You are a careful assistant for a newsroom. Answer in plain English and "
    "keep to the facts given.\",\"tools\":[{\"type\":\"function\",\"name\":\"lookup\","
    "\"description\":\"Look a name up in the archive\",\"parameters\":{\"type\":\"object\","
    "\"properties\":{\"name\":{\"type\":\"string\"}},\"required\":[\"name\"]}}],\"input\":[{"
    "\"type\":\"message\",\"role\":\"user\",\"content\":[{\"type\":\"input_text\",\"text\":"
    "\"Summarise this article in five bullet points:\\n\\nThe city library on Harbour Street "
    "reopened on Monday after eighteen months of renovation work. The building, which dates "
    "from 1911, now has a new roof, step-free access at both entrances and a reading room on "
    "the top floor with views over the old port. The children's section has doubled in size "
    "and moved to the ground floor, next to a small cafe run by a local bakery. More than four "
    "hundred people queued outside before the doors opened, and the head librarian said that "
    "about two thousand books were borrowed on the first day alone.\"}]}]}";

#define N_KEYS 1000

/* Mean ns of allot_auth_identify() for a bearer key among N_KEYS client
 * keys, or -1 when the config does not load. */
static double time_auth(long n)
{
    struct allot_config *cfg = NULL;
    struct allot_auth *a = NULL;
    struct allot_buf y, err;
    char h[64];
    uint64_t t0, t = 0;
    double ns = -1;
    long i;
    int c, ok = 1;

    allot_buf_init(&y, 1 << 20);
    allot_buf_init(&err, 4096);
    allot_buf_adds(&y, "providers: [{name: p, base_url: http://127.0.0.1:9/v1}]\n"
                       "models: [{name: m, provider: p}]\n"
                       "tiers: {judgment: [m], labour: [m], code: [m]}\nauth:\n  keys:\n");
    for (i = 0; i < N_KEYS; i++)
        allot_buf_addf(&y, "    - {name: c%ld, key: sk-allot-bench-client-key-%ld}\n", i, i);
    if (allot_config_load_mem("bench", y.ptr, y.len, &cfg, &err) || allot_auth_new(cfg, NULL, &a))
        goto out;
    for (i = 0; i < n && ok; i++) {
        snprintf(h, sizeof h, "Bearer sk-allot-bench-client-key-%ld", i % N_KEYS);
        t0 = allot_clock_mono_us();
        ok = allot_auth_identify(a, allot_slice_cstr(h), (struct allot_slice){NULL, 0}, &c) ==
                 ALLOT_AUTH_OK &&
             c == (int)(i % N_KEYS);
        t += allot_clock_mono_us() - t0;
    }
    if (ok)
        ns = (double)t * 1000.0 / (double)n;
out:
    allot_auth_free(a);
    allot_config_free(cfg);
    allot_buf_release(&y);
    allot_buf_release(&err);
    return ns;
}

#define VARIANTS (ALLOT_MEMO_ENTRIES + 1)
#define VARIANT_MAX 8192

/* Point in's last user turn at a copy whose first two bytes are letters
 * of variant i % VARIANTS, in place in one buffer (outside the timing);
 * texts past VARIANT_MAX bytes are left as they are. */
static void vary(struct allot_instruction *in, long i)
{
    static char text[VARIANT_MAX];
    size_t n = in->last_user.len, v = (size_t)(i % VARIANTS);

    if (n < 2 || n > VARIANT_MAX)
        return;
    if (in->last_user.ptr != text)
        memcpy(text, in->last_user.ptr, n);
    text[0] = (char)('A' + v % 26);
    text[1] = (char)('a' + v / 26);
    in->last_user.ptr = text;
}

/* Time n calls of allot_decide() on in: a new instruction each call
 * (vary()), or the same one again (repeated). Returns us per call. */
static double time_decide(const struct allot_config *cfg, struct allot_slice model,
                          const struct allot_instruction *in, int repeated, long n)
{
    struct allot_buf err;
    uint64_t t = 0, t0;
    long i;

    allot_buf_init(&err, 4096);
    for (i = 0; i < n; i++) {
        struct allot_instruction x = *in;
        struct allot_decision d;
        if (!repeated)
            vary(&x, i);
        t0 = allot_clock_mono_us();
        if (allot_decide(cfg, model, (struct allot_slice){NULL, 0}, &x, &d, &err)) {
            fprintf(stderr, "decide: %s\n", allot_buf_cstr(&err));
            exit(1);
        }
        t += allot_clock_mono_us() - t0;
    }
    allot_buf_release(&err);
    return (double)t / (double)n;
}

/* Print the stages of n routings of a translated request: body in the
 * dialect named by what, translated by the dialect's translator. */
static int time_translated(const char *what, const char *in, size_t in_len, int responses,
                           const struct allot_config *cfg, long n)
{
    struct allot_buf err, chat_body;
    uint64_t t0, t_translate = 0, t_read = 0;
    double t_new = 0, t_again = 0;
    long i;
    int rc = 1;

    allot_buf_init(&err, 4096);
    allot_buf_init(&chat_body, 1 << 20);
    for (i = 0; i < n; i++) {
        struct allot_chat_request r;
        struct allot_instruction ins;

        allot_buf_reset(&chat_body);
        t0 = allot_clock_mono_us();
        if (responses ? allot_responses_request(in, in_len, &chat_body, &err, NULL)
                      : allot_anthropic_request(in, in_len, &chat_body, &err))
            goto out;
        t_translate += allot_clock_mono_us() - t0;
        t0 = allot_clock_mono_us();
        if (allot_chat_request_parse(&r, chat_body.ptr, chat_body.len, &err))
            goto out;
        t_read += allot_clock_mono_us() - t0;
        if (i == n - 1) { /* the last reading, routed new and again */
            allot_instruction_from_request(&r, &ins);
            t_new = time_decide(cfg, r.model, &ins, 0, n);
            t_again = time_decide(cfg, r.model, &ins, 1, n);
        }
        allot_chat_request_release(&r);
    }
    printf("%s, %zu-byte request (%zu bytes translated):\n", what, in_len, chat_body.len);
    printf("  translate         %8.2f us\n", (double)t_translate / (double)n);
    printf("  read translation  %8.2f us\n", (double)t_read / (double)n);
    printf("  classify + decide %8.2f us (a new instruction; %.2f us the same again)\n", t_new,
           t_again);
    printf("  total             %8.2f us\n", (double)(t_translate + t_read) / (double)n + t_new);
    rc = 0;
out:
    if (rc)
        fprintf(stderr, "%s: %s\n", what, allot_buf_cstr(&err));
    allot_buf_release(&err);
    allot_buf_release(&chat_body);
    return rc;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 20000, i;
    struct allot_config *cfg;
    struct allot_buf err, out;
    struct allot_json_arena arena, *prev;
    uint64_t t0, t_parse = 0, t_rewrite = 0, t_answer = 0;
    double t_new = 0, t_again = 0;

    /* as allot serve: the trees of a request and its answer in an arena */
    allot_json_arena_install();
    allot_json_arena_init(&arena);
    allot_buf_init(&err, 4096);
    allot_buf_init(&out, 1 << 20);
    if (allot_config_default(&cfg, &err)) {
        fprintf(stderr, "%s\n", err.ptr);
        return 1;
    }
    for (i = 0; i < n; i++) {
        struct allot_chat_request r;
        struct allot_instruction in;
        cJSON *root;

        t0 = allot_clock_mono_us();
        prev = allot_json_arena_enter(&arena);
        if (allot_chat_request_parse(&r, body, sizeof body - 1, &err))
            return 1;
        allot_json_arena_leave(prev);
        t_parse += allot_clock_mono_us() - t0;
        if (i == n - 1) { /* the last reading, routed new and again */
            allot_instruction_from_request(&r, &in);
            t_new = time_decide(cfg, r.model, &in, 0, n);
            t_again = time_decide(cfg, r.model, &in, 1, n);
        }
        t0 = allot_clock_mono_us();
        allot_buf_reset(&out);
        allot_chat_request_rewrite(&r, body, sizeof body - 1, "sim-local-8b", 0, &out);
        t_rewrite += allot_clock_mono_us() - t0;
        t0 = allot_clock_mono_us();
        prev = allot_json_arena_enter(&arena);
        root = cJSON_ParseWithLength(answer, sizeof answer - 1);
        allot_json_arena_leave(prev);
        cJSON_Delete(root);
        t_answer += allot_clock_mono_us() - t0;
        allot_chat_request_release(&r);
        allot_json_arena_reset(&arena);
    }
    printf("per call, %ld iterations, %zu-byte request:\n", n, sizeof body - 1);
    printf("  parse request     %8.2f us\n", (double)t_parse / (double)n);
    printf("  classify + decide %8.2f us (a new instruction; %.2f us the same again)\n", t_new,
           t_again);
    printf("  rewrite           %8.2f us\n", (double)t_rewrite / (double)n);
    printf("  parse answer      %8.2f us\n", (double)t_answer / (double)n);
    printf("  client key (auth.keys, %d keys) %8.2f us\n", N_KEYS, time_auth(n) / 1000.0);
    if (time_translated("POST /v1/messages", messages_body, sizeof messages_body - 1, 0, cfg, n) ||
        time_translated("POST /v1/responses", responses_body, sizeof responses_body - 1, 1, cfg, n))
        return 1;
    allot_buf_release(&err);
    allot_buf_release(&out);
    allot_config_free(cfg);
    allot_json_arena_release(&arena);
    return 0;
}
