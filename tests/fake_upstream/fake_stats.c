/* fake_stats.c: what the fake upstream has seen, for tests to assert on.
 *
 * Tests of allot cannot see what allot sent upstream, so the fake keeps
 * counters, a per-model tally and a copy of the last chat request, and
 * serves them as GET /stats. The secret in an Authorization (or, for
 * /v1/messages, x-api-key) header is never stored: only its shape ("Bearer
 * <redacted:N chars>", "<redacted:N chars>") and whether it matched
 * --expect-key.
 *
 * DESIGN: one struct for the whole process, one mutex. Workers take it once
 * per chat request to bump counters and copy the body into a buffer whose
 * allocation is kept between requests; /stats re-parses that copy (with
 * cJSON, like the chat handler), so the hot path builds no JSON. The
 * documents are written straight into the output buffer; cJSON prints only
 * the parts of the last body it holds. Models are few in any test, so the
 * per-model tallies are plain arrays searched linearly. The bad-every
 * counters live here too, under the same lock, because they must be exact
 * across workers: which request of a model gets the bad answer is decided
 * by its place in that model's count. */
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
    allot_buf_init(&s->last_version, SMALL_MAX);
    allot_buf_init(&s->last_beta, SMALL_MAX);
    return 0;
}

static void table_forget(struct fake_model_table *t)
{
    size_t i;

    for (i = 0; i < t->n; i++)
        free(t->v[i].name);
    t->n = 0;
}

static void table_release(struct fake_model_table *t)
{
    table_forget(t);
    free(t->v);
    t->v = NULL;
    t->cap = 0;
}

void fake_stats_release(struct fake_stats *s)
{
    pthread_mutex_destroy(&s->lock);
    table_release(&s->models);
    table_release(&s->bad_every);
    allot_buf_release(&s->last_body);
    allot_buf_release(&s->last_path);
    allot_buf_release(&s->last_content_type);
    allot_buf_release(&s->last_version);
    allot_buf_release(&s->last_beta);
}

/* Copy at most the buffer's cap; a truncated copy is still useful. */
static void copy_capped(struct allot_buf *b, struct allot_slice v)
{
    size_t n = v.len < b->max ? v.len : b->max;
    allot_buf_reset(b);
    if (n)
        (void)allot_buf_add(b, v.ptr, n);
}

static const char bearer_word[] = "Bearer ";
#define BEARER_LEN (sizeof bearer_word - 1)

int fake_key_ok(const char *expect_key, struct allot_slice key, int bearer)
{
    size_t klen = strlen(expect_key), skip = bearer ? BEARER_LEN : 0;

    return key.ptr && key.len == skip + klen && memcmp(key.ptr, bearer_word, skip) == 0 &&
           memcmp(key.ptr + skip, expect_key, klen) == 0;
}

/* Describe the key header without its secret, and compare it with the
 * expected key in full. */
static void describe_auth(const struct fake_stats *s, struct allot_slice auth, int bearer,
                          char *desc, size_t desc_size, int *key_ok)
{
    *key_ok = -1;
    desc[0] = '\0';
    if (!auth.ptr)
        goto out;
    if (auth.len >= BEARER_LEN && memcmp(auth.ptr, bearer_word, BEARER_LEN) == 0)
        snprintf(desc, desc_size, "Bearer <redacted:%zu chars>", auth.len - BEARER_LEN);
    else
        snprintf(desc, desc_size, "<redacted:%zu chars>", auth.len);
out:
    if (s->expect_key)
        *key_ok = fake_key_ok(s->expect_key, auth, bearer);
}

/* The entry for name[0..len) in t, added with zero counts when new;
 * called with the lock held. NULL past FAKE_STATS_MAX_MODELS names or out
 * of memory. */
static struct fake_model_count *table_slot(struct fake_model_table *t, const char *name, size_t len)
{
    struct fake_model_count *m;
    size_t i;

    for (i = 0; i < t->n; i++) {
        m = &t->v[i];
        if (m->len == len && memcmp(m->name, name, len) == 0)
            return m;
    }
    if (t->n >= FAKE_STATS_MAX_MODELS)
        return NULL;
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 16;
        m = realloc(t->v, cap * sizeof *m); /* cap <= 2048: no overflow */
        if (!m)
            return NULL;
        t->v = m;
        t->cap = cap;
    }
    m = &t->v[t->n];
    m->name = malloc(len + 1);
    if (!m->name)
        return NULL;
    memcpy(m->name, name, len);
    m->name[len] = '\0';
    m->len = len;
    m->count = 0;
    m->bad = 0;
    t->n++;
    return m;
}

void fake_stats_record(struct fake_stats *s, const struct fake_seen *seen)
{
    char desc[sizeof s->last_auth];
    int key_ok;

    describe_auth(s, seen->key, seen->bearer, desc, sizeof desc, &key_ok);
    pthread_mutex_lock(&s->lock);
    s->requests++;
    if (seen->stream)
        s->streams++;
    if (seen->model) {
        /* past FAKE_STATS_MAX_MODELS names, new ones go uncounted */
        struct fake_model_count *m = table_slot(&s->models, seen->model, strlen(seen->model));
        if (m)
            m->count++;
    }
    s->have_last = 1;
    copy_capped(&s->last_body, seen->body);
    copy_capped(&s->last_path, seen->path);
    copy_capped(&s->last_content_type, seen->content_type);
    s->last_body_bytes = seen->body.len;
    s->last_key_header = seen->key_header;
    memcpy(s->last_auth, desc, sizeof desc);
    s->last_key_ok = key_ok;
    s->have_last_version = seen->version.ptr != NULL;
    copy_capped(&s->last_version, seen->version);
    s->have_last_beta = seen->beta.ptr != NULL;
    copy_capped(&s->last_beta, seen->beta);
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
    case FAKE_BAD:
        s->bad++;
        break;
    }
    pthread_mutex_unlock(&s->lock);
}

int fake_stats_bad_turn(struct fake_stats *s, const char *model, size_t len, long every,
                        int *is_bad)
{
    struct fake_model_count *m;
    int rc = 0;

    pthread_mutex_lock(&s->lock);
    m = table_slot(&s->bad_every, model, len);
    if (!m) {
        rc = ALLOT_ENOMEM;
        goto out;
    }
    m->count++;
    /* the every-th, 2*every-th, ...: after k requests exactly k / every
     * were bad, the share a benchmark expects */
    *is_bad = every > 0 && m->count % (uint64_t)every == 0;
    if (*is_bad) {
        m->bad++;
        s->bad++;
    }
out:
    pthread_mutex_unlock(&s->lock);
    return rc;
}

void fake_stats_reset(struct fake_stats *s)
{
    pthread_mutex_lock(&s->lock);
    s->requests = s->streams = s->cancelled = s->cut = s->injected = s->bad = 0;
    table_forget(&s->models);
    table_forget(&s->bad_every);
    s->have_last = 0;
    allot_buf_reset(&s->last_body);
    allot_buf_reset(&s->last_path);
    allot_buf_reset(&s->last_content_type);
    s->last_body_bytes = 0;
    s->last_key_header = NULL;
    s->last_auth[0] = '\0';
    s->last_key_ok = -1;
    s->have_last_version = 0;
    allot_buf_reset(&s->last_version);
    s->have_last_beta = 0;
    allot_buf_reset(&s->last_beta);
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
    fake_emitf(o,
               ",\"messages\":%d,\"key_header\":\"%s\",\"authorization\":\"%s\","
               "\"authorization_value\":",
               cJSON_IsArray(messages) ? cJSON_GetArraySize(messages) : 0,
               s->last_key_header ? s->last_key_header : "authorization",
               s->last_auth[0] ? "present" : "absent");
    if (s->last_auth[0])
        fake_emitf(o, "\"%s\"", s->last_auth); /* ASCII from describe_auth */
    else
        fake_emits(o, "null");
    fake_emitf(o, ",\"key_ok\":%s,\"anthropic_version\":",
               s->last_key_ok < 0 ? "null"
               : s->last_key_ok   ? "true"
                                  : "false");
    if (s->have_last_version)
        emit_text(o, &s->last_version);
    else
        fake_emits(o, "null");
    fake_emits(o, ",\"anthropic_beta\":");
    if (s->have_last_beta)
        emit_text(o, &s->last_beta);
    else
        fake_emits(o, "null");
    fake_emits(o, ",\"content_type\":");
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
               ",\"cut\":%" PRIu64 ",\"injected_errors\":%" PRIu64 ",\"bad\":%" PRIu64
               ",\"by_model\":{",
               s->requests, s->streams, s->cancelled, s->cut, s->injected, s->bad);
    for (i = 0; i < s->models.n; i++) {
        if (i)
            fake_emits(&o, ",");
        fake_emit_json(&o, s->models.v[i].name, s->models.v[i].len);
        fake_emitf(&o, ":%" PRIu64, s->models.v[i].count);
    }
    fake_emits(&o, "},\"bad_every\":{");
    for (i = 0; i < s->bad_every.n; i++) {
        const struct fake_model_count *m = &s->bad_every.v[i];
        if (i)
            fake_emits(&o, ",");
        fake_emit_json(&o, m->name, m->len);
        fake_emitf(&o, ":{\"requests\":%" PRIu64 ",\"bad\":%" PRIu64 "}", m->count, m->bad);
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
    for (i = 0; i < s->models.n; i++) {
        if (s->models.v[i].len == 3 && memcmp(s->models.v[i].name, "sim", 3) == 0)
            continue;
        fake_emits(&o, ",");
        emit_model(&o, s->models.v[i].name, s->models.v[i].len);
    }
    pthread_mutex_unlock(&s->lock);
    fake_emits(&o, "]}");
    return o.rc;
}
