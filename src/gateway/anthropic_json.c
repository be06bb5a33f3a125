/* anthropic_json.c: JSON writing for the Anthropic dialect
 * (anthropic_internal.h).
 *
 * All of the dialect's output is written straight into the caller's capped
 * buffer (and capped scratch buffers) rather than built as a cJSON tree
 * and printed: the caps bound the work, every string goes through
 * allot_buf_add_json_str (so the output is valid UTF-8 JSON whatever the
 * input held), and a failed translation is undone by cutting the buffer
 * back to where it started. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "anthropic_internal.h"

/* The last member of obj named name, or NULL (as chat_request.c: the last
 * duplicate counts, as in most upstreams' parsers). */
const cJSON *allot__anth_member(const cJSON *obj, const char *name)
{
    const cJSON *c, *found = NULL;

    if (!cJSON_IsObject(obj))
        return NULL;
    cJSON_ArrayForEach(c, obj)
    {
        if (c->string && strcmp(c->string, name) == 0)
            found = c;
    }
    return found;
}

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

/* A JSON number as cJSON would print it: integers exactly, others in the
 * shortest of %.15g / %.17g that reads back the same. */
int allot__anth_add_number(struct allot_buf *b, double d)
{
    char tmp[32];

    if (!isfinite(d))
        return allot_buf_adds(b, "null");
    if (d == floor(d) && fabs(d) <= EXACT_INT_MAX)
        return allot_buf_addf(b, "%.0f", d);
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
