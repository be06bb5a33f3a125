/* anthropic_json.c: what the Anthropic dialect's translations and the
 * Responses API's share (anthropic_internal.h): JSON writing, tool-call
 * arguments, reasons for refused requests, the strict reading of a client's
 * body, token counts, and a stream payload's trimming and parsing.
 *
 * All of the dialect's output is written straight into the caller's capped
 * buffer (and capped scratch buffers) rather than built as a cJSON tree
 * and printed: the caps bound the work, every string goes through
 * allot_buf_add_json_str (so the output is valid UTF-8 JSON whatever the
 * input held), and a failed translation is undone by cutting the buffer
 * back to where it started. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "allot/error.h"
#include "allot/fmt.h"
#include "allot/json_check.h"
#include "allot/json_tree.h"
#include "allot/chat_request.h"
#include "anthropic_internal.h"

/* Undo appends: cut b back to len bytes. */
void allot__anth_buf_cut(struct allot_buf *b, size_t len)
{
    b->len = len;
    if (b->ptr)
        b->ptr[len] = '\0';
}

int allot__anth_add_str(struct allot_buf *b, const char *s)
{
    return allot_buf_add_json_str(b, s, strlen(s));
}

int allot__anth_open_body(struct allot_buf *out, size_t start, const char *model,
                          struct allot_chat_build *view)
{
    static const char head[] = "{\"model\":";
    size_t at = start + sizeof head - 1;
    int rc;

    if ((rc = allot_buf_adds(out, head)) || (rc = allot__anth_add_str(out, model)))
        return rc;
    if (view)
        allot_chat_build_model(view, model, strlen(model), at - start, out->len - at);
    return 0;
}

int allot__anth_add_int(struct allot_buf *b, int sign, unsigned long long magnitude)
{
    char tmp[24];
    size_t n = 0;
    if (sign < 0)
        tmp[n++] = '-';
    n += allot_fmt_u64(tmp + n, magnitude);
    return allot_buf_add(b, tmp, n);
}

int allot__anth_add_count(struct allot_buf *b, long long v)
{
    return v < 0 ? allot__anth_add_int(b, -1, 0ull - (unsigned long long)v)
                 : allot__anth_add_int(b, 1, (unsigned long long)v);
}

/* A JSON number as cJSON would print it: integers exactly, others in the
 * shortest of %.15g / %.17g that reads back the same. */
int allot__anth_add_number(struct allot_buf *b, double d)
{
    char tmp[32];

    if (!isfinite(d))
        return allot_buf_adds(b, "null");
    if (d == floor(d) && fabs(d) <= EXACT_INT_MAX) /* as "%.0f" prints it, "-0" too */
        return d < 0 || (d == 0 && signbit(d)) ? allot__anth_add_int(b, -1, (unsigned long long)-d)
                                               : allot__anth_add_int(b, 1, (unsigned long long)d);
    snprintf(tmp, sizeof tmp, "%.15g", d);
    if (strtod(tmp, NULL) != d)
        snprintf(tmp, sizeof tmp, "%.17g", d);
    return allot_buf_adds(b, tmp);
}

/* Serialise a cJSON value. Depth is bounded by the parser's nesting limit. */
int allot__anth_add_json(struct allot_buf *b, const cJSON *v)
{
    const cJSON *c;
    int rc, obj, first = 1;

    if (cJSON_IsString(v))
        return allot__anth_add_str(b, v->valuestring);
    if (cJSON_IsNumber(v))
        return allot__anth_add_number(b, v->valuedouble);
    if (cJSON_IsTrue(v))
        return allot_buf_adds(b, "true");
    if (cJSON_IsFalse(v))
        return allot_buf_adds(b, "false");
    if (!cJSON_IsArray(v) && !cJSON_IsObject(v))
        return allot_buf_adds(b, "null");
    obj = cJSON_IsObject(v);
    if ((rc = allot_buf_add(b, obj ? "{" : "[", 1)))
        return rc;
    cJSON_ArrayForEach(c, v)
    {
        if (!first && (rc = allot_buf_add(b, ",", 1)))
            return rc;
        first = 0;
        if (obj && ((rc = allot__anth_add_str(b, c->string ? c->string : "")) ||
                    (rc = allot_buf_add(b, ":", 1))))
            return rc;
        if ((rc = allot__anth_add_json(b, c)))
            return rc;
    }
    return allot_buf_add(b, obj ? "}" : "]", 1);
}

int allot__anth_add_tool_input(struct allot_buf *b, const cJSON *arguments)
{
    cJSON *parsed = NULL;
    int rc;

    if (cJSON_IsObject(arguments)) /* some servers and clients send the object itself */
        return allot__anth_add_json(b, arguments);
    if (cJSON_IsString(arguments))
        parsed = cJSON_Parse(arguments->valuestring);
    rc = cJSON_IsObject(parsed) ? allot__anth_add_json(b, parsed) : allot_buf_adds(b, "{}");
    cJSON_Delete(parsed);
    return rc;
}

void allot__anth_quote(char dst[QUOTE_MAX + 4], const char *s)
{
    size_t n = strlen(s), i;

    if (n > QUOTE_MAX)
        n = QUOTE_MAX;
    for (i = 0; i < n; i++)
        dst[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
    if (strlen(s) > QUOTE_MAX) {
        memcpy(dst + n, "...", 3);
        n += 3;
    }
    dst[n] = '\0';
}

int allot__anth_vinvalid(struct allot_buf *err, const char *fmt, va_list ap)
{
    if (err)
        (void)allot_buf_vaddf(err, fmt, ap); /* a lost reason still refuses the request */
    return ALLOT_EINVAL;
}

int allot__anth_invalid(struct allot_buf *err, const char *fmt, ...)
{
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = allot__anth_vinvalid(err, fmt, ap);
    va_end(ap);
    return rc;
}

/* The last top-level member named find->name, and the last "model", as
 * the check passes them. */
struct member_find {
    const char *text, *name;
    struct allot_slice value, model;
};

static void find_member(void *ctx, const struct allot_json_check_member *m)
{
    struct member_find *f = ctx;
    if (f->name && allot_json_check_key_is(f->text, m, f->name))
        f->value = allot_slice_of(f->text + m->value_off, m->value_len);
    else if (allot_json_check_key_is(f->text, m, "model"))
        f->model = allot_slice_of(f->text + m->value_off, m->value_len);
}

cJSON *allot__anth_parse_request_known(const char *body, size_t len, struct allot_buf *err, int *rc,
                                       const char *name, allot__anth_known_cb known, void *ctx,
                                       struct allot_slice *span, struct allot_slice *model)
{
    struct allot_json_check_error jerr;
    struct member_find find = {body, name, {NULL, 0}, {NULL, 0}};
    struct allot_buf copy = {0};
    cJSON *root = NULL;
    /* tools come the same with every request of an agent: the check passes
     * over them once it has seen them twice (json_check.h) */
    static const char *const keep[] = {"tools", NULL};

    if (!body)
        len = 0;
    if (allot_json_check_remembering(body, len, 0, keep, name || model ? find_member : NULL, &find,
                                     &jerr)) {
        *rc = allot__anth_invalid(err, "invalid JSON at line %zu column %zu: %s", jerr.line,
                                  jerr.column, jerr.why);
        return NULL;
    }
    if (span)
        *span = find.value;
    if (model)
        *model = find.model;
    if (find.value.ptr && known && known(ctx, find.value.ptr, find.value.len)) {
        size_t at = (size_t)(find.value.ptr - body);
        allot_buf_init(&copy, len + 4);
        if (allot_buf_add(&copy, body, at) || allot_buf_adds(&copy, "null") ||
            allot_buf_add(&copy, body + at + find.value.len, len - at - find.value.len)) {
            allot_buf_release(&copy);
            *rc = ALLOT_ENOMEM;
            return NULL;
        }
        body = copy.ptr;
        len = copy.len;
    }
    /* checked: read without validating again (json_tree.h), the same tree
     * cJSON would build at a twentieth of its cost a byte */
    root = allot_json_tree(body, len);
    allot_buf_release(&copy); /* the tree copied what it keeps */
    if (!root) {
        *rc = ALLOT_ENOMEM; /* the strict check passed: the reader fails only for memory */
        return NULL;
    }
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        *rc = allot__anth_invalid(err, "request body must be a JSON object");
        return NULL;
    }
    *rc = 0;
    return root;
}

cJSON *allot__anth_parse_request(const char *body, size_t len, struct allot_buf *err, int *rc)
{
    return allot__anth_parse_request_known(body, len, err, rc, NULL, NULL, NULL, NULL, NULL);
}

long long allot__anth_token_count(const cJSON *v)
{
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0) || v->valuedouble > EXACT_INT_MAX)
        return 0;
    return (long long)v->valuedouble;
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

int allot__anth_stream_payload(struct allot_slice data, cJSON **root)
{
    *root = NULL;
    while (data.len && is_space(*data.ptr)) {
        data.ptr++;
        data.len--;
    }
    while (data.len && is_space(data.ptr[data.len - 1]))
        data.len--;
    if (allot_slice_eq(data, "[DONE]"))
        return 1;
    if (data.len)
        *root = cJSON_ParseWithLength(data.ptr, data.len);
    return 0;
}

const cJSON *allot__anth_first_choice(const cJSON *root, const char **id, const char **model)
{
    const cJSON *choices = allot_json_member(root, "choices"), *v;
    const cJSON *choice = cJSON_IsArray(choices) ? choices->child : NULL;

    v = allot_json_member(root, "id");
    *id = cJSON_IsString(v) ? v->valuestring : NULL;
    if (!*model)
        *model = cJSON_IsString(v = allot_json_member(root, "model")) ? v->valuestring : "";
    return cJSON_IsObject(choice) ? choice : NULL;
}
