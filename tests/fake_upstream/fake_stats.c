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
 * allocation is kept between requests; /stats re-parses that copy, so the hot
 * path builds no JSON. */
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
    s->by_model = json_object();
    if (!s->by_model)
        return ALLOT_ENOMEM;
    if (pthread_mutex_init(&s->lock, NULL) != 0) {
        json_decref(s->by_model);
        return ALLOT_ENOMEM;
    }
    s->expect_key = expect_key;
    s->last_key_ok = -1;
    allot_buf_init(&s->last_body, LAST_BODY_MAX);
    allot_buf_init(&s->last_path, SMALL_MAX);
    allot_buf_init(&s->last_content_type, SMALL_MAX);
    return 0;
}

void fake_stats_release(struct fake_stats *s)
{
    pthread_mutex_destroy(&s->lock);
    json_decref(s->by_model);
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

void fake_stats_record(struct fake_stats *s, const struct fake_seen *seen)
{
    char desc[sizeof s->last_auth];
    int key_ok;

    describe_auth(s, seen->authorization, desc, sizeof desc, &key_ok);
    pthread_mutex_lock(&s->lock);
    s->requests++;
    if (seen->stream)
        s->streams++;
    if (seen->model) {
        json_t *n = json_object_get(s->by_model, seen->model);
        if (n)
            json_integer_set(n, json_integer_value(n) + 1);
        else if (json_object_size(s->by_model) < FAKE_STATS_MAX_MODELS)
            json_object_set_new(s->by_model, seen->model, json_integer(1));
    }
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
    json_object_clear(s->by_model);
    s->have_last = 0;
    allot_buf_reset(&s->last_body);
    allot_buf_reset(&s->last_path);
    allot_buf_reset(&s->last_content_type);
    s->last_body_bytes = 0;
    s->last_auth[0] = '\0';
    s->last_key_ok = -1;
    pthread_mutex_unlock(&s->lock);
}

/* A JSON string of bytes a peer sent, which need not be UTF-8: bytes that
 * jansson refuses are shown as '?'. */
static json_t *text_json(const struct allot_buf *b)
{
    json_t *j = json_stringn(allot_buf_cstr(b), b->len);
    char *copy;
    size_t i;

    if (j || b->len == 0)
        return j ? j : json_string("");
    copy = malloc(b->len);
    if (!copy)
        return NULL;
    for (i = 0; i < b->len; i++)
        copy[i] = (b->ptr[i] & 0x80) || b->ptr[i] == '\0' ? '?' : b->ptr[i];
    j = json_stringn(copy, b->len);
    free(copy);
    return j;
}

/* The last request as a JSON object; called with the lock held. */
static json_t *last_request_json(const struct fake_stats *s)
{
    json_t *o = json_object(), *body, *v;
    json_error_t jerr;

    if (!o)
        return NULL;
    body = json_loadb(allot_buf_cstr(&s->last_body), s->last_body.len, JSON_ALLOW_NUL, &jerr);
    v = body ? json_object_get(body, "model") : NULL;
    json_object_set_new(o, "path", text_json(&s->last_path));
    json_object_set_new(o, "model", json_is_string(v) ? json_copy(v) : json_null());
    v = body ? json_object_get(body, "stream") : NULL;
    json_object_set_new(o, "stream", json_boolean(json_is_true(v)));
    v = body ? json_object_get(body, "stream_options") : NULL;
    json_object_set_new(o, "stream_options", v ? json_deep_copy(v) : json_null());
    v = body ? json_object_get(body, "messages") : NULL;
    json_object_set_new(o, "messages", json_integer((json_int_t)json_array_size(v)));
    json_object_set_new(o, "authorization", json_string(s->last_auth[0] ? "present" : "absent"));
    json_object_set_new(o, "authorization_value",
                        s->last_auth[0] ? json_string(s->last_auth) : json_null());
    json_object_set_new(o, "key_ok",
                        s->last_key_ok < 0 ? json_null() : json_boolean(s->last_key_ok));
    json_object_set_new(o, "content_type", text_json(&s->last_content_type));
    json_object_set_new(o, "body_bytes", json_integer((json_int_t)s->last_body_bytes));
    /* The body itself, parsed when it was JSON, else as text. */
    if (body)
        json_object_set_new(o, "body", body);
    else
        json_object_set_new(o, "body", text_json(&s->last_body));
    return o;
}

static int dump_into(json_t *doc, struct allot_buf *out)
{
    char *text;
    int rc;

    if (!doc)
        return ALLOT_ENOMEM;
    text = json_dumps(doc, JSON_COMPACT | JSON_ENSURE_ASCII);
    json_decref(doc);
    if (!text)
        return ALLOT_ENOMEM;
    rc = allot_buf_adds(out, text);
    free(text);
    return rc;
}

int fake_stats_json(struct fake_stats *s, const char *name, struct allot_buf *out)
{
    json_t *doc = json_object();

    if (!doc)
        return ALLOT_ENOMEM;
    pthread_mutex_lock(&s->lock);
    json_object_set_new(doc, "name", json_string(name));
    json_object_set_new(doc, "requests", json_integer((json_int_t)s->requests));
    json_object_set_new(doc, "streams", json_integer((json_int_t)s->streams));
    json_object_set_new(doc, "cancelled", json_integer((json_int_t)s->cancelled));
    json_object_set_new(doc, "cut", json_integer((json_int_t)s->cut));
    json_object_set_new(doc, "injected_errors", json_integer((json_int_t)s->injected));
    json_object_set_new(doc, "by_model", json_deep_copy(s->by_model));
    json_object_set_new(doc, "last_request", s->have_last ? last_request_json(s) : json_null());
    pthread_mutex_unlock(&s->lock);
    return dump_into(doc, out);
}

int fake_stats_models_json(struct fake_stats *s, struct allot_buf *out)
{
    json_t *doc = json_object(), *data = json_array();
    const char *key;
    json_t *v;

    if (!doc || !data) {
        json_decref(doc);
        json_decref(data);
        return ALLOT_ENOMEM;
    }
    json_array_append_new(data, json_pack("{s:s,s:s,s:i,s:s}", "id", "sim", "object", "model",
                                          "created", 0, "owned_by", "fake_upstream"));
    pthread_mutex_lock(&s->lock);
    json_object_foreach(s->by_model, key, v)
    {
        if (strcmp(key, "sim") != 0)
            json_array_append_new(data, json_pack("{s:s,s:s,s:i,s:s}", "id", key, "object", "model",
                                                  "created", 0, "owned_by", "fake_upstream"));
    }
    pthread_mutex_unlock(&s->lock);
    json_object_set_new(doc, "object", json_string("list"));
    json_object_set_new(doc, "data", data);
    return dump_into(doc, out);
}
