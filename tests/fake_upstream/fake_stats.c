/* fake_stats.c: what the fake upstream has seen, for tests to assert on.
 *
 * Tests of allot cannot see what allot sent upstream, so the fake keeps
 * counters, a per-model tally and a copy of the last chat request, and
 * serves them as GET /stats. The secret in an Authorization header is never
 * stored: only its shape ("Bearer <redacted:N chars>") and whether it matched
 * --expect-key.
 *
 * DESIGN: one struct for the whole process, one mutex. Workers take it once
 * per chat request to bump counters and copy the body into a buffer whose
 * allocation is kept between requests; /stats re-parses that copy (with
 * cJSON, like the chat handler), so the hot path builds no JSON. The
 * documents are written straight into the output buffer; cJSON prints only
 * the parts of the last body it holds. Models are few in any test, so the
 * per-model tally is a plain array searched linearly. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "fake_upstream.h"
#include "allot/error.h"

#define LAST_BODY_MAX (1u << 20)
#define SMALL_MAX 1024

int fake_stats_init(struct fake_stats *s, const char *expect_key)
{
    memset(s, 0, sizeof *s);
    if (pthread_mutex_init(&s->lock, NULL) != 0)
        return ALLOT_ENOMEM;
    s->expect_key = expect_key;
    s->last_key_ok = -1;
    allot_buf_init(&s->last_body, LAST_BODY_MAX);
    allot_buf_init(&s->last_path, SMALL_MAX);
    allot_buf_init(&s->last_content_type, SMALL_MAX);
    return 0;
}

static void forget_models(struct fake_stats *s)
{
    size_t i;

    for (i = 0; i < s->n_models; i++)
        free(s->models[i].name);
    s->n_models = 0;
}

void fake_stats_release(struct fake_stats *s)
{
    pthread_mutex_destroy(&s->lock);
    forget_models(s);
    free(s->models);
    s->models = NULL;
    s->models_cap = 0;
    allot_buf_release(&s->last_body);
    allot_buf_release(&s->last_path);
    allot_buf_release(&s->last_content_type);
}

/* Copy at most the buffer's cap; a truncated copy is still useful. */
static void copy_capped(struct allot_buf *b, struct allot_slice v)
{
    size_t n = v.len < b->max ? v.len : b->max;
    allot_buf_reset(b);
    if (n)
        (void)allot_buf_add(b, v.ptr, n);
}

/* Describe the Authorization header without its secret, and compare it
 * with the expected key in full. */
static void describe_auth(const struct fake_stats *s, struct allot_slice auth, char *desc,
                          size_t desc_size, int *key_ok)
{
    static const char bearer[] = "Bearer ";
    size_t blen = sizeof bearer - 1;

    *key_ok = -1;
    desc[0] = '\0';
    if (!auth.ptr)
        goto out;
    if (auth.len >= blen && memcmp(auth.ptr, bearer, blen) == 0)
        snprintf(desc, desc_size, "Bearer <redacted:%zu chars>", auth.len - blen);
    else
        snprintf(desc, desc_size, "<redacted:%zu chars>", auth.len);
out:
    if (s->expect_key) {
        size_t klen = strlen(s->expect_key);
        *key_ok = auth.ptr && auth.len == blen + klen && memcmp(auth.ptr, bearer, blen) == 0 &&
                  memcmp(auth.ptr + blen, s->expect_key, klen) == 0;
    }
}

/* Count one request for model; called with the lock held. Past
 * FAKE_STATS_MAX_MODELS names, or out of memory, new names go uncounted. */
static void count_model(struct fake_stats *s, const char *model)
{
    size_t len = strlen(model), i;
    struct fake_model_count *m;

    for (i = 0; i < s->n_models; i++) {
        m = &s->models[i];
        if (m->len == len && memcmp(m->name, model, len) == 0) {
            m->count++;
            return;
        }
    }
    if (s->n_models >= FAKE_STATS_MAX_MODELS)
        return;
    if (s->n_models == s->models_cap) {
        size_t cap = s->models_cap ? s->models_cap * 2 : 16;
        m = realloc(s->models, cap * sizeof *m); /* cap <= 2048: no overflow */
        if (!m)
            return;
        s->models = m;
        s->models_cap = cap;
    }
    m = &s->models[s->n_models];
    m->name = malloc(len + 1);
    if (!m->name)
        return;
    memcpy(m->name, model, len + 1);
    m->len = len;
    m->count = 1;
    s->n_models++;
}

void fake_stats_record(struct fake_stats *s, const struct fake_seen *seen)
{
    char desc[sizeof s->last_auth];
    int key_ok;

    describe_auth(s, seen->authorization, desc, sizeof desc, &key_ok);
    pthread_mutex_lock(&s->lock);
    s->requests++;
    if (seen->stream)
        s->streams++;
    if (seen->model)
        count_model(s, seen->model);
    s->have_last = 1;
    copy_capped(&s->last_body, seen->body);
    copy_capped(&s->last_path, seen->path);
    copy_capped(&s->last_content_type, seen->content_type);
    s->last_body_bytes = seen->body.len;
    memcpy(s->last_auth, desc, sizeof desc);
    s->last_key_ok = key_ok;
    pthread_mutex_unlock(&s->lock);
}

void fake_stats_count(struct fake_stats *s, enum fake_counter c)
{
    pthread_mutex_lock(&s->lock);
    switch (c) {
    case FAKE_CANCELLED:
        s->cancelled++;
        break;
    case FAKE_CUT:
        s->cut++;
        break;
    case FAKE_INJECTED:
        s->injected++;
        break;
    }
    pthread_mutex_unlock(&s->lock);
}

void fake_stats_reset(struct fake_stats *s)
{
    pthread_mutex_lock(&s->lock);
    s->requests = s->streams = s->cancelled = s->cut = s->injected = 0;
    forget_models(s);
    s->have_last = 0;
    allot_buf_reset(&s->last_body);
    allot_buf_reset(&s->last_path);
    allot_buf_reset(&s->last_content_type);
    s->last_body_bytes = 0;
    s->last_auth[0] = '\0';
    s->last_key_ok = -1;
    pthread_mutex_unlock(&s->lock);
}

/* Bytes a peer sent, as a JSON string: they need not be UTF-8, and the
 * bytes that are not are shown as U+FFFD. */
static void emit_text(struct fake_out *o, const struct allot_buf *b)
{
    if (!o->rc)
        o->rc = allot_buf_add_json_str(o->b, allot_buf_cstr(b), b->len);
}

/* Print part of a parsed body; a NULL part prints as null. */
static void emit_tree(struct fake_out *o, const cJSON *part)
{
    char *text;

    if (!part) {
        fake_emits(o, "null");
        return;
    }
    text = cJSON_PrintUnformatted(part);
    if (!text) {
        if (!o->rc)
            o->rc = ALLOT_ENOMEM;
        return;
    }
    fake_emits(o, text);
    cJSON_free(text);
}

/* The last request as a JSON object; called with the lock held. */
static void emit_last_request(struct fake_out *o, const struct fake_stats *s)
{
    cJSON *body = fake_json_parse(allot_buf_cstr(&s->last_body), s->last_body.len, NULL, 0);
    const cJSON *model = fake_json_member(body, "model");
    const cJSON *messages = fake_json_member(body, "messages");

    fake_emits(o, "{\"path\":");
    emit_text(o, &s->last_path);
    fake_emits(o, ",\"model\":");
    emit_tree(o, cJSON_IsString(model) ? model : NULL);
    fake_emitf(o, ",\"stream\":%s,\"stream_options\":",
               cJSON_IsTrue(fake_json_member(body, "stream")) ? "true" : "false");
    emit_tree(o, fake_json_member(body, "stream_options"));
    fake_emitf(o, ",\"messages\":%d,\"authorization\":\"%s\",\"authorization_value\":",
               cJSON_IsArray(messages) ? cJSON_GetArraySize(messages) : 0,
               s->last_auth[0] ? "present" : "absent");
    if (s->last_auth[0])
        fake_emitf(o, "\"%s\"", s->last_auth); /* ASCII from describe_auth */
    else
        fake_emits(o, "null");
    fake_emitf(o, ",\"key_ok\":%s,\"content_type\":",
               s->last_key_ok < 0 ? "null"
               : s->last_key_ok   ? "true"
                                  : "false");
    emit_text(o, &s->last_content_type);
    fake_emitf(o, ",\"body_bytes\":%zu,\"body\":", s->last_body_bytes);
    /* The body itself, parsed when it was JSON, else as text. */
    if (body)
        emit_tree(o, body);
    else
        emit_text(o, &s->last_body);
    fake_emits(o, "}");
    cJSON_Delete(body);
}

int fake_stats_json(struct fake_stats *s, const char *name, struct allot_buf *out)
{
    struct fake_out o = {out, 0};
    size_t i;

    pthread_mutex_lock(&s->lock);
    fake_emits(&o, "{\"name\":");
    fake_emit_json(&o, name, strlen(name));
    fake_emitf(&o,
               ",\"requests\":%" PRIu64 ",\"streams\":%" PRIu64 ",\"cancelled\":%" PRIu64
               ",\"cut\":%" PRIu64 ",\"injected_errors\":%" PRIu64 ",\"by_model\":{",
               s->requests, s->streams, s->cancelled, s->cut, s->injected);
    for (i = 0; i < s->n_models; i++) {
        if (i)
            fake_emits(&o, ",");
        fake_emit_json(&o, s->models[i].name, s->models[i].len);
        fake_emitf(&o, ":%" PRIu64, s->models[i].count);
    }
    fake_emits(&o, "},\"last_request\":");
    if (s->have_last)
        emit_last_request(&o, s);
    else
        fake_emits(&o, "null");
    fake_emits(&o, "}");
    pthread_mutex_unlock(&s->lock);
    return o.rc;
}

static void emit_model(struct fake_out *o, const char *id, size_t len)
{
    fake_emits(o, "{\"id\":");
    fake_emit_json(o, id, len);
    fake_emits(o, ",\"object\":\"model\",\"created\":0,\"owned_by\":\"fake_upstream\"}");
}

int fake_stats_models_json(struct fake_stats *s, struct allot_buf *out)
{
    struct fake_out o = {out, 0};
    size_t i;

    fake_emits(&o, "{\"object\":\"list\",\"data\":[");
    emit_model(&o, "sim", 3);
    pthread_mutex_lock(&s->lock);
    for (i = 0; i < s->n_models; i++) {
        if (s->models[i].len == 3 && memcmp(s->models[i].name, "sim", 3) == 0)
            continue;
        fake_emits(&o, ",");
        emit_model(&o, s->models[i].name, s->models[i].len);
    }
    pthread_mutex_unlock(&s->lock);
    fake_emits(&o, "]}");
    return o.rc;
}
