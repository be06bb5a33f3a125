/* chat_request.c: read an OpenAI chat-completions body once, rewrite it by
 * splicing.
 *
 * jansson validates the body and gives us the tree routing reads (model,
 * stream flags, the instruction and a few structural signals). The body the
 * upstream gets is not a re-serialization of that tree: the gateway must
 * change the model (and sometimes stream_options) and leave every other
 * byte as the client sent it, because a round trip through jansson would
 * change number formats (1.0 -> 1, 1e2 -> 100.0), escapes, whitespace and,
 * for duplicate keys, content. So after jansson has accepted the body, a
 * second small pass over the same, now known-valid bytes finds the byte
 * spans of the top-level "model" and "stream_options" values; the rewrite
 * copies the body around those spans.
 *
 * The scanner trusts nothing it does not need to: it only walks depth 1 of
 * the top-level object, skips strings (honouring escapes) and nested values
 * by depth counting, and decodes a key only when it contains a backslash
 * ("mod\u0065l" is the key "model"). Every index is bounds-checked, so even a
 * caller passing a different body than the one parsed cannot make it read
 * out of bounds.
 *
 * Duplicate top-level "model" or "stream_options" keys are rejected: jansson
 * keeps the last one, and an upstream that keeps the first would otherwise
 * be sent a model the gateway never routed. */
#include <stdlib.h>
#include <string.h>
#include "allot/chat_request.h"
#include "allot/error.h"

/* Instruction text copied or sliced per message: bounds classifier work and
 * scratch memory regardless of body size. */
#define INSTRUCTION_MAX (64 * 1024)
#define SCRATCH_MAX (2 * INSTRUCTION_MAX + 16)
#define NO_INDEX ((size_t)-1)

/* ---- the span scanner (validated JSON, depth 1 only) ---- */

struct member {
    const char *name; /* key to look for, ASCII */
    size_t off, len;  /* value span; len 0 when absent */
    int count;        /* occurrences */
};

static size_t skip_ws(const char *s, size_t n, size_t i)
{
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
        i++;
    return i;
}

/* s[*i] is '"'. On return *i is just past the closing quote and *has_esc
 * says whether a backslash was seen. ALLOT_EPARSE when unterminated. */
static int skip_string(const char *s, size_t n, size_t *i, int *has_esc)
{
    size_t j = *i + 1;
    int esc = 0;

    while (j < n && s[j] != '"') {
        if (s[j] == '\\') {
            esc = 1;
            j++; /* the escaped byte can never end the string */
        }
        j++;
    }
    if (j >= n)
        return ALLOT_EPARSE;
    *i = j + 1;
    if (has_esc)
        *has_esc = esc;
    return 0;
}

/* Skip one value starting at s[*i] (no leading whitespace). */
static int skip_value(const char *s, size_t n, size_t *i)
{
    size_t j = *i, depth = 0;
    int rc;

    if (j >= n)
        return ALLOT_EPARSE;
    if (s[j] == '"')
        return skip_string(s, n, i, NULL);
    if (s[j] != '{' && s[j] != '[') { /* number, true, false, null */
        while (j < n && !strchr(",}] \t\r\n", s[j]) && s[j] != '\0')
            j++;
        if (j == *i)
            return ALLOT_EPARSE;
        *i = j;
        return 0;
    }
    while (j < n) {
        char c = s[j];
        if (c == '"') {
            if ((rc = skip_string(s, n, &j, NULL)))
                return rc;
            continue;
        }
        if (c == '{' || c == '[') {
            depth++;
        } else if (c == '}' || c == ']') {
            if (depth == 0)
                return ALLOT_EPARSE;
            if (--depth == 0) {
                *i = j + 1;
                return 0;
            }
        }
        j++;
    }
    return ALLOT_EPARSE;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Does the raw key k[0..n) (between the quotes) decode to name? Only ASCII
 * names are looked for, so any escape decoding to a non-ASCII code point is
 * a mismatch. */
static int key_is(const char *k, size_t n, int has_esc, const char *name)
{
    static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
    size_t nl = strlen(name), i = 0, o = 0;
    const char *e;

    if (!has_esc)
        return n == nl && memcmp(k, name, n) == 0;
    while (i < n) {
        char c = k[i];
        if (c == '\\') {
            if (i + 1 >= n)
                return 0;
            if (k[i + 1] == 'u') {
                int v = 0, h, d;
                if (i + 6 > n)
                    return 0;
                for (d = 2; d < 6; d++) {
                    if ((h = hexval(k[i + d])) < 0)
                        return 0;
                    v = v * 16 + h;
                }
                if (v == 0 || v >= 0x80)
                    return 0;
                c = (char)v;
                i += 4;
            } else if (k[i + 1] != '\0' && (e = strchr(from, k[i + 1]))) {
                c = to[e - from];
            } else {
                return 0;
            }
            i += 2;
        } else {
            i++;
        }
        if (o >= nl || name[o] != c)
            return 0;
        o++;
    }
    return o == nl;
}

/* Walk the members of the object whose '{' is at s[start], recording the
 * value span of each wanted key. *end is set past the closing '}'. */
static int scan_members(const char *s, size_t n, size_t start, struct member *m, size_t nm,
                        size_t *end)
{
    size_t i = start, k;
    int rc;

    if (i >= n || s[i] != '{')
        return ALLOT_EPARSE;
    i = skip_ws(s, n, i + 1);
    if (i < n && s[i] == '}') {
        *end = i + 1;
        return 0;
    }
    for (;;) {
        size_t key_off, key_end, val_off;
        int esc = 0;

        if (i >= n || s[i] != '"')
            return ALLOT_EPARSE;
        key_off = i + 1;
        if ((rc = skip_string(s, n, &i, &esc)))
            return rc;
        key_end = i - 1;
        i = skip_ws(s, n, i);
        if (i >= n || s[i] != ':')
            return ALLOT_EPARSE;
        i = skip_ws(s, n, i + 1);
        val_off = i;
        if ((rc = skip_value(s, n, &i)))
            return rc;
        for (k = 0; k < nm; k++) {
            if (key_is(s + key_off, key_end - key_off, esc, m[k].name)) {
                m[k].off = val_off;
                m[k].len = i - val_off;
                m[k].count++;
            }
        }
        i = skip_ws(s, n, i);
        if (i < n && s[i] == ',') {
            i = skip_ws(s, n, i + 1);
            continue;
        }
        if (i < n && s[i] == '}') {
            *end = i + 1;
            return 0;
        }
        return ALLOT_EPARSE;
    }
}

/* ---- extraction ---- */

/* Shorten n to at most cap bytes without splitting a UTF-8 sequence. */
static size_t utf8_cut(const char *p, size_t n, size_t cap)
{
    if (n <= cap)
        return n;
    while (cap > 0 && ((unsigned char)p[cap] & 0xC0) == 0x80)
        cap--;
    return cap;
}

static size_t add_sat(size_t a, size_t b)
{
    return a > (size_t)-1 - b ? (size_t)-1 : a + b;
}

/* Text bytes of a message content: a string, or the text parts of an array. */
static size_t content_bytes(json_t *content)
{
    size_t i, total = 0;
    json_t *part;

    if (json_is_string(content))
        return json_string_length(content);
    if (!json_is_array(content))
        return 0;
    json_array_foreach(content, i, part)
    {
        json_t *text = json_object_get(part, "text");
        if (json_is_string(text))
            total = add_sat(total, json_string_length(text));
    }
    return total;
}

static int is_text_part(json_t *part)
{
    json_t *type = json_object_get(part, "type");
    return json_is_string(type) && strcmp(json_string_value(type), "text") == 0 &&
           json_is_string(json_object_get(part, "text"));
}

/* Set *slice to the instruction text of content: a string is sliced in
 * place, text parts are joined with "\n" into scratch (*scratch_off tells
 * where, as scratch may move while the other text is appended). */
static int instruction_text(json_t *content, struct allot_buf *scratch, struct allot_slice *slice,
                            size_t *scratch_off)
{
    size_t i, start = scratch->len, room = INSTRUCTION_MAX;
    json_t *part;
    int rc, first = 1;

    *scratch_off = NO_INDEX;
    if (json_is_string(content)) {
        const char *p = json_string_value(content);
        *slice = allot_slice_of(p, utf8_cut(p, json_string_length(content), INSTRUCTION_MAX));
        return 0;
    }
    *slice = allot_slice_of("", 0);
    if (!json_is_array(content))
        return 0;
    json_array_foreach(content, i, part)
    {
        const char *p;
        size_t n;

        if (!is_text_part(part))
            continue;
        if (!first) {
            if (room < 1)
                break;
            if ((rc = allot_buf_add(scratch, "\n", 1)))
                return rc;
            room--;
        }
        first = 0;
        p = json_string_value(json_object_get(part, "text"));
        n = utf8_cut(p, json_string_length(json_object_get(part, "text")), room);
        if ((rc = allot_buf_add(scratch, p, n)))
            return rc;
        room -= n;
    }
    if (!first) {
        *scratch_off = start;
        slice->len = scratch->len - start;
    }
    return 0;
}

static int role_is(json_t *msg, const char *role)
{
    return strcmp(json_string_value(json_object_get(msg, "role")), role) == 0;
}

static int nonempty_array(json_t *v)
{
    return json_is_array(v) && json_array_size(v) > 0;
}

int allot_chat_request_parse(struct allot_chat_request *r, const char *body, size_t len,
                             struct allot_buf *err)
{
    struct allot_chat_request t;
    struct member top[2] = {{"model", 0, 0, 0}, {"stream_options", 0, 0, 0}};
    json_error_t jerr;
    json_t *model, *messages, *stream, *opts, *rf, *msg;
    size_t i, sys_idx = NO_INDEX, user_idx = NO_INDEX, sys_off, user_off, end;
    int rc;

    memset(&t, 0, sizeof t);
    allot_buf_init(&t.scratch, SCRATCH_MAX);
    if (!body)
        body = "";

    t.root = json_loadb(body, len, 0, &jerr);
    if (!t.root) {
        if (json_error_code(&jerr) == json_error_out_of_memory) {
            rc = ALLOT_ENOMEM;
        } else {
            allot_buf_addf(err, "invalid JSON at line %d column %d: %s", jerr.line, jerr.column,
                           jerr.text);
            rc = ALLOT_EPARSE;
        }
        goto out;
    }
    rc = ALLOT_EINVAL;
    if (!json_is_object(t.root)) {
        allot_buf_adds(err, "the request body must be a JSON object");
        goto out;
    }

    model = json_object_get(t.root, "model");
    if (!json_is_string(model)) {
        allot_buf_adds(err, "'model' is required and must be a string");
        goto out;
    }
    t.model = allot_slice_of(json_string_value(model), json_string_length(model));

    messages = json_object_get(t.root, "messages");
    if (!nonempty_array(messages)) {
        allot_buf_adds(err, "'messages' must be a non-empty array");
        goto out;
    }

    stream = json_object_get(t.root, "stream");
    if (stream && !json_is_boolean(stream) && !json_is_null(stream)) {
        allot_buf_adds(err, "'stream' must be a boolean");
        goto out;
    }
    t.stream = json_is_true(stream);
    opts = json_object_get(t.root, "stream_options");
    t.include_usage = json_is_object(opts) && json_is_true(json_object_get(opts, "include_usage"));

    json_array_foreach(messages, i, msg)
    {
        if (!json_is_object(msg)) {
            allot_buf_addf(err, "'messages[%zu]' must be an object", i);
            goto out;
        }
        if (!json_is_string(json_object_get(msg, "role"))) {
            allot_buf_addf(err, "'messages[%zu].role' is required and must be a string", i);
            goto out;
        }
        if (sys_idx == NO_INDEX && (role_is(msg, "system") || role_is(msg, "developer")))
            sys_idx = i;
        if (role_is(msg, "user"))
            user_idx = i;
        if (role_is(msg, "tool") || role_is(msg, "function"))
            t.n_tool_results++;
    }
    t.n_messages = json_array_size(messages);
    json_array_foreach(messages, i, msg)
    {
        if (i != sys_idx && i != user_idx)
            t.material_bytes =
                add_sat(t.material_bytes, content_bytes(json_object_get(msg, "content")));
    }

    t.system = t.last_user = allot_slice_of("", 0);
    sys_off = user_off = NO_INDEX;
    if (sys_idx != NO_INDEX &&
        (rc = instruction_text(json_object_get(json_array_get(messages, sys_idx), "content"),
                               &t.scratch, &t.system, &sys_off)))
        goto out;
    if (user_idx != NO_INDEX &&
        (rc = instruction_text(json_object_get(json_array_get(messages, user_idx), "content"),
                               &t.scratch, &t.last_user, &user_off)))
        goto out;
    /* scratch has stopped moving: point the joined texts into it */
    if (sys_off != NO_INDEX)
        t.system.ptr = t.scratch.ptr + sys_off;
    if (user_off != NO_INDEX)
        t.last_user.ptr = t.scratch.ptr + user_off;

    t.has_tools = nonempty_array(json_object_get(t.root, "tools")) ||
                  nonempty_array(json_object_get(t.root, "functions"));
    rf = json_object_get(t.root, "response_format");
    if (rf && !json_is_null(rf)) {
        json_t *type = json_object_get(rf, "type");
        t.has_response_format =
            !(json_is_string(type) && strcmp(json_string_value(type), "text") == 0);
    }

    rc = ALLOT_EINVAL;
    if (scan_members(body, len, skip_ws(body, len, 0), top, 2, &end) || top[0].count == 0) {
        /* cannot happen for a body jansson accepted; refuse rather than guess */
        allot_buf_adds(err, "request body could not be scanned for 'model'");
        goto out;
    }
    for (i = 0; i < 2; i++) {
        if (top[i].count > 1) {
            allot_buf_addf(err, "duplicate top-level key '%s'", top[i].name);
            goto out;
        }
    }
    t.model_off = top[0].off;
    t.model_len = top[0].len;
    t.stream_options_off = top[1].off;
    t.stream_options_len = top[1].len;
    rc = 0;

out:
    if (rc) {
        json_decref(t.root);
        allot_buf_release(&t.scratch);
        memset(r, 0, sizeof *r);
        allot_buf_init(&r->scratch, SCRATCH_MAX);
        return rc;
    }
    *r = t;
    return 0;
}

/* ---- rewrite ---- */

static int is_empty_object(const char *s, size_t n, size_t brace)
{
    size_t i = skip_ws(s, n, brace + 1);
    return i < n && s[i] == '}';
}

/* The new value of stream_options with include_usage true, into so. Sets
 * *unchanged when the client's value already says so. */
static int usage_options(const struct allot_chat_request *r, const char *body, struct allot_buf *so,
                         int *unchanged)
{
    size_t off = r->stream_options_off, end = off + r->stream_options_len, obj_end;
    struct member iu = {"include_usage", 0, 0, 0};
    json_t *v = json_object_get(r->root, "stream_options"), *copy;
    char *dump;
    int rc;

    *unchanged = 0;
    if (!json_is_object(v) || body[off] != '{')
        return allot_buf_adds(so, "{\"include_usage\":true}");
    if ((rc = scan_members(body, end, off, &iu, 1, &obj_end)))
        return ALLOT_EINVAL;
    if (iu.count == 1) {
        if (iu.len == 4 && memcmp(body + iu.off, "true", 4) == 0) {
            *unchanged = 1;
            return 0;
        }
        if ((rc = allot_buf_add(so, body + off, iu.off - off)) || (rc = allot_buf_adds(so, "true")))
            return rc;
        return allot_buf_add(so, body + iu.off + iu.len, end - (iu.off + iu.len));
    }
    if (iu.count == 0) {
        if ((rc = allot_buf_adds(so, "{\"include_usage\":true")) ||
            (rc = allot_buf_adds(so, is_empty_object(body, end, off) ? "" : ",")))
            return rc;
        return allot_buf_add(so, body + off + 1, end - (off + 1));
    }
    /* duplicate include_usage keys: the byte-preserving edit would leave one
     * behind, so rebuild this one small object from the tree instead */
    copy = json_copy(v);
    if (!copy || json_object_set_new(copy, "include_usage", json_true())) {
        json_decref(copy);
        return ALLOT_ENOMEM;
    }
    dump = json_dumps(copy, JSON_COMPACT);
    json_decref(copy);
    if (!dump)
        return ALLOT_ENOMEM;
    rc = allot_buf_adds(so, dump);
    free(dump);
    return rc;
}

int allot_chat_request_rewrite(const struct allot_chat_request *r, const char *body, size_t len,
                               const char *upstream_model, int force_include_usage,
                               struct allot_buf *out)
{
    struct allot_buf so;
    size_t len0 = out->len, pos = 0, so_off = 0, so_len = 0, brace;
    int rc, have_so = 0, unchanged = 0;

    /* so holds text built here from the body's own bytes; out has the cap */
    allot_buf_init(&so, (size_t)-1 / 2);
    if (!r->root || !body || !upstream_model || r->model_len == 0 || r->model_off > len ||
        r->model_len > len - r->model_off || r->stream_options_off > len ||
        r->stream_options_len > len - r->stream_options_off) {
        rc = ALLOT_EINVAL;
        goto out;
    }
    if (force_include_usage) {
        if (r->stream_options_len) {
            if ((rc = usage_options(r, body, &so, &unchanged)))
                goto out;
            so_off = r->stream_options_off;
            so_len = r->stream_options_len;
        } else {
            brace = skip_ws(body, len, 0);
            if (brace >= len || body[brace] != '{') {
                rc = ALLOT_EINVAL;
                goto out;
            }
            if ((rc = allot_buf_adds(&so, "\"stream_options\":{\"include_usage\":true}")) ||
                (rc = allot_buf_adds(&so, is_empty_object(body, len, brace) ? "" : ",")))
                goto out;
            so_off = brace + 1;
            so_len = 0;
        }
        have_so = !unchanged;
    }

    /* at most two splices, in body order; they never overlap (distinct
     * top-level values, or an insertion right after the opening brace) */
    if (have_so && so_off < r->model_off) {
        if ((rc = allot_buf_add(out, body, so_off)) || (rc = allot_buf_add(out, so.ptr, so.len)))
            goto out;
        pos = so_off + so_len;
        have_so = 0;
    }
    if ((rc = allot_buf_add(out, body + pos, r->model_off - pos)) ||
        (rc = allot_buf_add_json_str(out, upstream_model, strlen(upstream_model))))
        goto out;
    pos = r->model_off + r->model_len;
    if (have_so) {
        if ((rc = allot_buf_add(out, body + pos, so_off - pos)) ||
            (rc = allot_buf_add(out, so.ptr, so.len)))
            goto out;
        pos = so_off + so_len;
    }
    rc = allot_buf_add(out, body + pos, len - pos);

out:
    allot_buf_release(&so);
    if (rc && out->ptr) {
        out->len = len0;
        out->ptr[len0] = '\0';
    }
    return rc;
}

void allot_chat_request_release(struct allot_chat_request *r)
{
    json_decref(r->root);
    allot_buf_release(&r->scratch);
    memset(r, 0, sizeof *r);
    allot_buf_init(&r->scratch, SCRATCH_MAX);
}
