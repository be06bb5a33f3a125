/* fake_embeddings.c: the fake upstream's embeddings, POST /v1/embeddings
 * (docs/fake_upstream.md, "Embeddings").
 *
 * OpenAI's shape: one vector of FAKE_EMBED_DIMS numbers per input, in
 * order, and usage with prompt_tokens (a token per 4 bytes of input text;
 * a token array counts its numbers). The vectors are deterministic: input
 * i of a request gets the same numbers whatever the text. The engine's
 * knobs (status, latency, malformed, no-usage, hang) apply as to chat. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include "fake_upstream.h"
#include "allot/error.h"

#define FAKE_EMBED_DIMS 8

/* Bytes of text, or tokens times 4, of one input. */
static size_t input_bytes(const cJSON *in)
{
    const cJSON *t;
    size_t n = 0;

    if (cJSON_IsString(in))
        return strlen(in->valuestring);
    cJSON_ArrayForEach(t, in) n += cJSON_IsNumber(t) ? 4 : 0;
    return n;
}

static int read_embeddings(const cJSON *root, struct fake_request_view *v, char *msg, size_t msz)
{
    const cJSON *model = fake_json_member(root, "model"), *input = fake_json_member(root, "input");
    const cJSON *it;

    if (!cJSON_IsString(model)) {
        snprintf(msg, msz, "'model' is required and must be a string");
        return ALLOT_EINVAL;
    }
    v->model = model->valuestring;
    v->model_len = strlen(model->valuestring);
    it = fake_json_member(root, "encoding_format");
    v->base64 = cJSON_IsString(it) && strcmp(it->valuestring, "base64") == 0;
    if (cJSON_IsString(input)) {
        v->inputs = 1;
        v->content_bytes = input_bytes(input);
    } else if (cJSON_IsArray(input) && input->child) {
        /* strings, or token arrays; an array of numbers is one input */
        if (cJSON_IsNumber(input->child)) {
            v->inputs = 1;
            v->content_bytes = input_bytes(input);
        } else {
            cJSON_ArrayForEach(it, input)
            {
                if (!cJSON_IsString(it) && !cJSON_IsArray(it)) {
                    snprintf(msg, msz,
                             "'input' must be a string or an array of strings or of "
                             "token arrays");
                    return ALLOT_EINVAL;
                }
                v->inputs++;
                v->content_bytes += input_bytes(it);
            }
        }
    } else {
        snprintf(msg, msz, "'input' is required: a string or a non-empty array");
        return ALLOT_EINVAL;
    }
    return 0;
}

static int error_body(struct allot_buf *b, int status, const char *message, const char *type)
{
    return fake_openai.error_body(b, status, message, type);
}

/* Component d of input i's vector: exact in binary, so text and base64
 * give the same numbers. */
static float component(long i, int d)
{
    return (float)((i + 1) * (d + 1) % 17) / 16.0f - 0.5f;
}

/* The vector as base64 of little-endian float32s (encoding_format: base64). */
static void emit_base64(struct fake_out *o, long i)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    unsigned char raw[FAKE_EMBED_DIMS * 4];
    char enc[(sizeof raw + 2) / 3 * 4 + 1];
    size_t k, n = 0;
    int d;

    for (d = 0; d < FAKE_EMBED_DIMS; d++) {
        float f = component(i, d);
        uint32_t u;
        memcpy(&u, &f, 4);
        raw[d * 4] = (unsigned char)u;
        raw[d * 4 + 1] = (unsigned char)(u >> 8);
        raw[d * 4 + 2] = (unsigned char)(u >> 16);
        raw[d * 4 + 3] = (unsigned char)(u >> 24);
    }
    for (k = 0; k < sizeof raw; k += 3) {
        uint32_t v = (uint32_t)raw[k] << 16 | (k + 1 < sizeof raw ? (uint32_t)raw[k + 1] << 8 : 0) |
                     (k + 2 < sizeof raw ? raw[k + 2] : 0);
        enc[n++] = tab[v >> 18 & 63];
        enc[n++] = tab[v >> 12 & 63];
        enc[n++] = k + 1 < sizeof raw ? tab[v >> 6 & 63] : '=';
        enc[n++] = k + 2 < sizeof raw ? tab[v & 63] : '=';
    }
    enc[n] = '\0';
    fake_emitf(o, "\"%s\"", enc);
}

static void answer(struct fake_out *o, const struct fake_answer *a)
{
    long i;
    int d;

    fake_emits(o, "{\"object\":\"list\",\"data\":[");
    for (i = 0; i < a->inputs; i++) {
        fake_emitf(o, "%s{\"object\":\"embedding\",\"index\":%ld,\"embedding\":", i ? "," : "", i);
        if (a->base64) {
            emit_base64(o, i);
        } else {
            for (d = 0; d < FAKE_EMBED_DIMS; d++)
                fake_emitf(o, "%s%.4f", d ? "," : "[", (double)component(i, d));
            fake_emits(o, "]");
        }
        fake_emits(o, "}");
    }
    fake_emits(o, "],\"model\":");
    fake_emit(o, a->model.ptr, a->model.len);
    if (a->usage)
        fake_emitf(o, ",\"usage\":{\"prompt_tokens\":%ld,\"total_tokens\":%ld}", a->prompt_tokens,
                   a->prompt_tokens);
    fake_emits(o, "}");
}

static void malformed_answer(struct fake_out *o, const struct fake_answer *a)
{
    (void)a;
    fake_emits(o, "{\"object\":\"list\",\"data\":[{\"object\":\"embedding\",\"embedding\":[0.1,");
}

/* Embeddings never stream: read_embeddings leaves stream 0. */
static void no_stream(struct fake_out *o, struct fake_answer *a)
{
    (void)o;
    (void)a;
}

static void no_stream_c(struct fake_out *o, const struct fake_answer *a)
{
    (void)o;
    (void)a;
}

static void no_piece(struct fake_out *o, const struct fake_answer *a, const char *piece, size_t len)
{
    (void)o;
    (void)a;
    (void)piece;
    (void)len;
}

const struct fake_dialect fake_embeddings = {
    .key_header = "authorization",
    .bearer = 1,
    .read = read_embeddings,
    .refuse = NULL,
    .error_body = error_body,
    .answer = answer,
    .malformed_answer = malformed_answer,
    .stream_open = no_stream,
    .stream_malformed = no_stream_c,
    .stream_piece = no_piece,
    .stream_close = no_stream_c,
};
