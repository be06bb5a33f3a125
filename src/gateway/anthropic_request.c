/* anthropic_request.c: an Anthropic Messages request translated to an
 * OpenAI chat-completions body (anthropic.h).
 *
 * Requests come from clients, so they are read as chat_request.c reads an
 * OpenAI body: the strict check of json_check.h first (a client gets
 * "invalid JSON at line L column C: why", and nothing cJSON would read
 * differently from a strict parser gets through), then cJSON, with the
 * last of duplicate keys counting. Every field the translation reads is
 * validated, and the first problem is reported with its field path the way
 * Anthropic's API reports it ("messages.2.role: ..."), because Anthropic
 * SDKs and the people reading their errors expect that shape. */
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cJSON.h>
#include "allot/anthropic.h"
#include "allot/chat_request.h"
#include "allot/error.h"
#include "allot/fmt.h"
#include "anthropic_internal.h"

/* Report a problem to the client: r->err gets one line, the caller gets
 * ALLOT_EINVAL. */
#define invalid(r, ...) allot__anth_invalid((r)->err, __VA_ARGS__)

struct req {
    struct allot_buf *out;
    struct allot_buf *err;           /* NULL: messages are not wanted */
    struct allot_buf scratch;        /* one value being assembled; out's cap */
    int n_messages;                  /* OpenAI messages written */
    struct allot_anthropic_read *rd; /* NULL: what chat cannot hold is refused */
    struct allot_chat_build *view;   /* the reading built as written; NULL: not wanted */
    int text;                        /* 0: the reading alone: everything is read and checked, the
                                      * messages and tools are not written (out gets nothing) */
};

/* One Anthropic message being translated. */
struct turn {
    int assistant;
    struct allot_chat_build *view; /* the request's */
    int write;                     /* the request's text: its parts are written */
    /* user: content parts (JSON, comma-separated); a first part that is
     * text is kept aside as first_text, and written to parts only when a
     * second part comes (a lone text part is sent as a plain string) */
    struct allot_buf parts;
    int n_parts;
    const char *first_text;
    int n_tool_results;
    /* assistant: text joined, and tool_calls entries (JSON) */
    struct allot_buf text;
    int has_text;
    struct allot_buf calls;
    int n_calls;
};

/* "path.name", or "name" at the top level. */
static const char *dot(const char *path)
{
    return *path ? "." : "";
}

/* obj.name, required, a string. */
static int need_string(struct req *r, const cJSON *obj, const char *path, const char *name,
                       const char **s)
{
    const cJSON *v = allot_json_member(obj, name);

    if (!v)
        return invalid(r, "%s%s%s: Field required", path, dot(path), name);
    if (!cJSON_IsString(v))
        return invalid(r, "%s%s%s: Input should be a valid string", path, dot(path), name);
    *s = v->valuestring;
    return 0;
}

/* obj.name, optional (absent or null: *s NULL), a string. */
static int opt_string(struct req *r, const cJSON *obj, const char *path, const char *name,
                      const char **s)
{
    const cJSON *v = allot_json_member(obj, name);

    *s = NULL;
    if (!v || cJSON_IsNull(v))
        return 0;
    if (!cJSON_IsString(v))
        return invalid(r, "%s%s%s: Input should be a valid string", path, dot(path), name);
    *s = v->valuestring;
    return 0;
}

/* obj.name, required, an object. */
static int need_object(struct req *r, const cJSON *obj, const char *path, const char *name,
                       const cJSON **o)
{
    const cJSON *v = allot_json_member(obj, name);

    if (!v)
        return invalid(r, "%s%s%s: Field required", path, dot(path), name);
    if (!cJSON_IsObject(v))
        return invalid(r, "%s%s%s: Input should be a valid dictionary", path, dot(path), name);
    *o = v;
    return 0;
}

/* The type of block at path, which must be an object with a string "type". */
static int block_type(struct req *r, const cJSON *block, const char *path, const char **type)
{
    if (!cJSON_IsObject(block))
        return invalid(r, "%s: Input should be a valid dictionary", path);
    return need_string(r, block, path, "type", type);
}

/* What only Anthropic's own API takes, at a path: refused (ALLOT_EINVAL,
 * the message in err), or, when the caller takes such parts (r->rd),
 * left out of the translation and noted (the first one's message kept): 0. */
static int only_anthropic(struct req *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int only_anthropic(struct req *r, const char *fmt, ...)
{
    struct allot_anthropic_read *o = r->rd;
    va_list ap;
    int rc = 0;

    va_start(ap, fmt);
    if (!o)
        rc = allot__anth_vinvalid(r->err, fmt, ap);
    else if (!o->n++)
        vsnprintf(o->what, sizeof o->what, fmt, ap);
    va_end(ap);
    return rc;
}

static int unsupported_block(struct req *r, const char *path, const char *type)
{
    char q[QUOTE_MAX + 4];

    allot__anth_quote(q, type);
    return only_anthropic(r, "%s.type: content block type '%s' is not supported by allot", path, q);
}

/* Start the next OpenAI message: a comma after the previous one. */
static int begin_message(struct req *r, const char *role)
{
    int rc;

    if (r->n_messages++ && (rc = allot_buf_add(r->out, ",", 1)))
        return rc;
    if ((rc = allot_buf_adds(r->out, "{\"role\":\"")) || (rc = allot_buf_adds(r->out, role)))
        return rc;
    return allot_buf_adds(r->out, "\",\"content\":");
}

/* "system": a string, or text blocks joined by blank lines. An empty
 * system prompt adds no message. */
static int write_system(struct req *r, const cJSON *system)
{
    struct allot_buf *text = &r->scratch;
    const cJSON *block;
    const char *type, *s;
    char path[64];
    int rc, i = 0;

    allot_buf_reset(text);
    if (cJSON_IsString(system)) {
        if ((rc = allot_buf_adds(text, system->valuestring)))
            return rc;
    } else if (cJSON_IsArray(system)) {
        cJSON_ArrayForEach(block, system)
        {
            allot_fmt_path(path, sizeof path, "system.", "", i, "");
            if ((rc = block_type(r, block, path, &type)))
                return rc;
            if (strcmp(type, "text") != 0)
                return invalid(r, "%s.type: Input should be 'text'", path);
            if ((rc = need_string(r, block, path, "text", &s)))
                return rc;
            if ((i && (rc = allot_buf_adds(text, "\n\n"))) || (rc = allot_buf_adds(text, s)))
                return rc;
            i++;
        }
    } else if (!cJSON_IsNull(system)) {
        return invalid(r, "system: Input should be a valid string or list of text blocks");
    }
    if (text->len == 0)
        return 0;
    if (r->text && ((rc = begin_message(r, "system")) ||
                    (rc = allot_buf_add_json_str(r->out, text->ptr, text->len)) ||
                    (rc = allot_buf_add(r->out, "}", 1))))
        return rc;
    if (r->view)
        allot_chat_build_system(r->view, text->ptr, text->len);
    return 0;
}

static int add_text_part(struct allot_buf *parts, const char *s)
{
    int rc;

    if ((rc = allot_buf_adds(parts, "{\"type\":\"text\",\"text\":")) ||
        (rc = allot__anth_add_str(parts, s)) || (rc = allot_buf_add(parts, "}", 1)))
        return rc;
    return 0;
}

/* Before a user content part other than the first: the first, when it is
 * a text kept aside (a lone text is sent as a plain string, so it is
 * written as a part only once a second part comes), then the comma. */
static int next_part(struct turn *t)
{
    int rc;

    if (!t->write)
        return 0;
    if (t->n_parts == 1 && t->first_text && (rc = add_text_part(&t->parts, t->first_text)))
        return rc;
    return t->n_parts ? allot_buf_add(&t->parts, ",", 1) : 0;
}

/* A user content part, or assistant text. */
static int turn_add_text(struct turn *t, const char *s)
{
    int rc;

    if (t->assistant) {
        t->has_text = 1;
        return allot_buf_adds(&t->text, s); /* one string: blocks were one answer */
    }
    if (t->view)
        allot_chat_build_text(t->view, s, strlen(s));
    if (!t->n_parts) {
        t->first_text = s; /* kept aside: next_part() */
        t->n_parts = 1;
        return 0;
    }
    if ((rc = next_part(t)) || (t->write && (rc = add_text_part(&t->parts, s))))
        return rc;
    t->n_parts++;
    return 0;
}

/* An image block -> an image_url part with a data: or https: URL. */
static int turn_add_image(struct req *r, struct turn *t, const cJSON *block, const char *path)
{
    struct allot_buf *url = &r->scratch;
    const cJSON *source;
    const char *type, *media_type, *data, *u;
    char spath[96], q[QUOTE_MAX + 4];
    int rc;

    if (t->assistant)
        return invalid(r, "%s.type: image blocks are only allowed in user messages", path);
    snprintf(spath, sizeof spath, "%s.source", path);
    if ((rc = need_object(r, block, path, "source", &source)) ||
        (rc = need_string(r, source, spath, "type", &type)))
        return rc;
    allot_buf_reset(url);
    if (strcmp(type, "base64") == 0) {
        if ((rc = need_string(r, source, spath, "media_type", &media_type)) ||
            (rc = need_string(r, source, spath, "data", &data)))
            return rc;
        if (t->write && ((rc = allot_buf_addf(url, "data:%s;base64,", media_type)) ||
                         (rc = allot_buf_adds(url, data))))
            return rc;
    } else if (strcmp(type, "url") == 0) {
        if ((rc = need_string(r, source, spath, "url", &u)) ||
            (t->write && (rc = allot_buf_adds(url, u))))
            return rc;
    } else {
        allot__anth_quote(q, type);
        return only_anthropic(r, "%s.type: image source type '%s' is not supported by allot", spath,
                              q);
    }
    if (t->write &&
        ((rc = next_part(t)) ||
         (rc = allot_buf_adds(&t->parts, "{\"type\":\"image_url\",\"image_url\":{\"url\":")) ||
         (rc = allot_buf_add_json_str(&t->parts, url->ptr ? url->ptr : "", url->len)) ||
         (rc = allot_buf_adds(&t->parts, "}}"))))
        return rc;
    t->n_parts++;
    return 0;
}

/* A document block: plain-text documents become text; PDFs, files and
 * URLs would need fetching or decoding allot does not do. */
static int turn_add_document(struct req *r, struct turn *t, const cJSON *block, const char *path)
{
    const cJSON *source;
    const char *type, *data;
    char spath[96], q[QUOTE_MAX + 4];
    int rc;

    snprintf(spath, sizeof spath, "%s.source", path);
    if ((rc = need_object(r, block, path, "source", &source)) ||
        (rc = need_string(r, source, spath, "type", &type)))
        return rc;
    if (strcmp(type, "text") != 0) {
        allot__anth_quote(q, type);
        return only_anthropic(r, "%s.type: document source type '%s' is not supported by allot",
                              spath, q);
    }
    if ((rc = need_string(r, source, spath, "data", &data)))
        return rc;
    return turn_add_text(t, data);
}

/* A tool_use block -> an entry of the assistant message's tool_calls, the
 * input serialised into the arguments string. */
static int turn_add_tool_use(struct req *r, struct turn *t, const cJSON *block, const char *path)
{
    struct allot_buf *args = &r->scratch;
    const cJSON *input;
    const char *id, *name;
    int rc;

    if (!t->assistant)
        return invalid(r, "%s.type: tool_use blocks are only allowed in assistant messages", path);
    if ((rc = need_string(r, block, path, "id", &id)) ||
        (rc = need_string(r, block, path, "name", &name)) ||
        (rc = need_object(r, block, path, "input", &input)))
        return rc;
    if (!t->write) {
        t->n_calls++;
        return 0;
    }
    allot_buf_reset(args);
    if ((rc = allot__anth_add_json(args, input)))
        return rc;
    if ((t->n_calls++ && (rc = allot_buf_add(&t->calls, ",", 1))) ||
        (rc = allot_buf_adds(&t->calls, "{\"id\":")) || (rc = allot__anth_add_str(&t->calls, id)) ||
        (rc = allot_buf_adds(&t->calls, ",\"type\":\"function\",\"function\":{\"name\":")) ||
        (rc = allot__anth_add_str(&t->calls, name)) ||
        (rc = allot_buf_adds(&t->calls, ",\"arguments\":")) ||
        (rc = allot_buf_add_json_str(&t->calls, args->ptr, args->len)) ||
        (rc = allot_buf_adds(&t->calls, "}}")))
        return rc;
    return 0;
}

/* A tool_result block -> a "tool" message, written at once: tool messages
 * must follow the assistant's tool_calls message directly, so they go
 * before the user message made of the turn's other blocks. */
static int write_tool_result(struct req *r, struct turn *t, const cJSON *block, const char *path)
{
    struct allot_buf *text = &r->scratch;
    const cJSON *content = allot_json_member(block, "content"), *part;
    const char *id, *type, *s;
    char ppath[96];
    int rc, k = 0, n_text = 0;

    if (t->assistant)
        return invalid(r, "%s.type: tool_result blocks are only allowed in user messages", path);
    if ((rc = need_string(r, block, path, "tool_use_id", &id)))
        return rc;
    allot_buf_reset(text);
    if (cJSON_IsTrue(allot_json_member(block, "is_error")) &&
        (rc = allot_buf_adds(text, "Error: ")))
        return rc;
    if (cJSON_IsString(content)) {
        if ((rc = allot_buf_adds(text, content->valuestring)))
            return rc;
    } else if (cJSON_IsArray(content)) {
        cJSON_ArrayForEach(part, content)
        {
            allot_fmt_path(ppath, sizeof ppath, path, ".content.", k++, "");
            if ((rc = block_type(r, part, ppath, &type)))
                return rc;
            if (strcmp(type, "image") == 0)
                continue; /* OpenAI tool messages hold text only */
            if (strcmp(type, "text") != 0) {
                if ((rc = unsupported_block(r, ppath, type)))
                    return rc;
                continue; /* left out (r->rd) */
            }
            if ((rc = need_string(r, part, ppath, "text", &s)))
                return rc;
            if ((n_text++ && (rc = allot_buf_add(text, "\n", 1))) || (rc = allot_buf_adds(text, s)))
                return rc;
        }
    } else if (content && !cJSON_IsNull(content)) {
        return invalid(r, "%s.content: Input should be a valid string or list", path);
    }
    t->n_tool_results++;
    if (r->text &&
        ((r->n_messages++ && (rc = allot_buf_add(r->out, ",", 1))) ||
         (rc = allot_buf_adds(r->out, "{\"role\":\"tool\",\"tool_call_id\":")) ||
         (rc = allot__anth_add_str(r->out, id)) || (rc = allot_buf_adds(r->out, ",\"content\":")) ||
         (rc = allot_buf_add_json_str(r->out, text->ptr ? text->ptr : "", text->len)) ||
         (rc = allot_buf_add(r->out, "}", 1))))
        return rc;
    if (r->view)
        allot_chat_build_other(r->view, text->len, 1);
    return 0;
}

/* The OpenAI message for a turn's blocks other than tool results. */
static int write_turn(struct req *r, struct turn *t)
{
    int rc;

    if (!t->assistant && !t->n_parts && t->n_tool_results)
        return 0; /* the turn was all tool results */
    if (r->view && t->assistant)
        allot_chat_build_other(r->view, t->has_text ? t->text.len : 0, 0);
    else if (r->view)
        allot_chat_build_user(r->view);
    if (!r->text)
        return 0;
    if (t->assistant) {
        if ((rc = begin_message(r, "assistant")))
            return rc;
        if (t->has_text)
            rc = allot_buf_add_json_str(r->out, t->text.ptr ? t->text.ptr : "", t->text.len);
        else
            rc = allot_buf_adds(r->out, t->n_calls ? "null" : "\"\"");
        if (rc)
            return rc;
        if (t->n_calls && ((rc = allot_buf_adds(r->out, ",\"tool_calls\":[")) ||
                           (rc = allot_buf_add(r->out, t->calls.ptr, t->calls.len)) ||
                           (rc = allot_buf_add(r->out, "]", 1))))
            return rc;
        return allot_buf_add(r->out, "}", 1);
    }
    if ((rc = begin_message(r, "user")))
        return rc;
    if (t->n_parts == 0)
        rc = allot_buf_adds(r->out, "\"\"");
    else if (t->n_parts == 1 && t->first_text)
        rc = allot__anth_add_str(r->out, t->first_text);
    else if (!(rc = allot_buf_add(r->out, "[", 1)) &&
             !(rc = allot_buf_add(r->out, t->parts.ptr, t->parts.len)))
        rc = allot_buf_add(r->out, "]", 1);
    if (rc)
        return rc;
    return allot_buf_add(r->out, "}", 1);
}

/* messages[i] -> zero or more OpenAI messages. */
static int write_message(struct req *r, int i, const cJSON *msg)
{
    struct turn t;
    const cJSON *content, *block;
    const char *role, *type;
    char path[32], bpath[64];
    int rc, k = 0;

    memset(&t, 0, sizeof t);
    t.view = r->view;
    t.write = r->text;
    allot_buf_init(&t.parts, r->out->max);
    allot_buf_init(&t.text, r->out->max);
    allot_buf_init(&t.calls, r->out->max);
    allot_fmt_path(path, sizeof path, "messages.", "", i, "");
    if (!cJSON_IsObject(msg)) {
        rc = invalid(r, "%s: Input should be a valid dictionary", path);
        goto out;
    }
    if ((rc = need_string(r, msg, path, "role", &role)))
        goto out;
    if (strcmp(role, "assistant") != 0 && strcmp(role, "user") != 0) {
        rc = invalid(r, "%s.role: Input should be 'user' or 'assistant'", path);
        goto out;
    }
    t.assistant = role[0] == 'a';
    content = allot_json_member(msg, "content");
    if (!content) {
        rc = invalid(r, "%s.content: Field required", path);
        goto out;
    }
    if (cJSON_IsString(content)) {
        if (r->text && ((rc = begin_message(r, role)) ||
                        (rc = allot__anth_add_str(r->out, content->valuestring)) ||
                        (rc = allot_buf_add(r->out, "}", 1))))
            goto out;
        if (r->view && t.assistant) {
            allot_chat_build_other(r->view, strlen(content->valuestring), 0);
        } else if (r->view) {
            allot_chat_build_text(r->view, content->valuestring, strlen(content->valuestring));
            allot_chat_build_user(r->view);
        }
        goto out; /* a string is the whole message */
    }
    if (!cJSON_IsArray(content)) {
        rc = invalid(r, "%s.content: Input should be a valid string or list", path);
        goto out;
    }
    cJSON_ArrayForEach(block, content)
    {
        const char *s;

        allot_fmt_path(bpath, sizeof bpath, path, ".content.", k++, "");
        if ((rc = block_type(r, block, bpath, &type)))
            goto out;
        if (strcmp(type, "text") == 0) {
            if ((rc = need_string(r, block, bpath, "text", &s)) || (rc = turn_add_text(&t, s)))
                goto out;
        } else if (strcmp(type, "image") == 0) {
            rc = turn_add_image(r, &t, block, bpath);
        } else if (strcmp(type, "document") == 0) {
            rc = turn_add_document(r, &t, block, bpath);
        } else if (strcmp(type, "tool_use") == 0) {
            rc = turn_add_tool_use(r, &t, block, bpath);
        } else if (strcmp(type, "tool_result") == 0) {
            rc = write_tool_result(r, &t, block, bpath);
        } else if (strcmp(type, "thinking") == 0 || strcmp(type, "redacted_thinking") == 0) {
            rc = 0; /* the upstream cannot verify Anthropic's thinking signatures */
        } else {
            rc = unsupported_block(r, bpath, type);
        }
        if (rc)
            goto out;
    }
    rc = write_turn(r, &t);
out:
    allot_buf_release(&t.parts);
    allot_buf_release(&t.text);
    allot_buf_release(&t.calls);
    return rc;
}

/* "tools" -> OpenAI function tools. *n: how many. */
static int write_tools(struct req *r, const cJSON *tools, int *n)
{
    const cJSON *tool, *schema;
    const char *type, *name, *description;
    char path[64], q[QUOTE_MAX + 4];
    int rc, i = 0;

    *n = 0;
    if (!tools || cJSON_IsNull(tools))
        return 0;
    if (!cJSON_IsArray(tools))
        return invalid(r, "tools: Input should be a valid list");
    cJSON_ArrayForEach(tool, tools)
    {
        allot_fmt_path(path, sizeof path, "tools.", "", i++, "");
        if (!cJSON_IsObject(tool))
            return invalid(r, "%s: Input should be a valid dictionary", path);
        if ((rc = opt_string(r, tool, path, "type", &type)))
            return rc;
        if (type && strcmp(type, "custom") != 0) {
            allot__anth_quote(q, type);
            if ((rc = only_anthropic(r, "%s: server tool type '%s' is not supported by allot", path,
                                     q)))
                return rc;
            continue; /* left out (r->rd) */
        }
        if ((rc = need_string(r, tool, path, "name", &name)) ||
            (rc = opt_string(r, tool, path, "description", &description)) ||
            (rc = need_object(r, tool, path, "input_schema", &schema)))
            return rc;
        if (!r->text) {
            (*n)++;
            continue;
        }
        if ((rc = allot_buf_adds(r->out, *n ? "," : ",\"tools\":[")) ||
            (rc = allot_buf_adds(r->out, "{\"type\":\"function\",\"function\":{\"name\":")) ||
            (rc = allot__anth_add_str(r->out, name)))
            return rc;
        if (description && ((rc = allot_buf_adds(r->out, ",\"description\":")) ||
                            (rc = allot__anth_add_str(r->out, description))))
            return rc;
        if ((rc = allot_buf_adds(r->out, ",\"parameters\":")) ||
            (rc = allot__anth_add_json(r->out, schema)) || (rc = allot_buf_adds(r->out, "}}")))
            return rc;
        (*n)++;
    }
    if (*n && (rc = allot_buf_add(r->out, "]", 1)))
        return rc;
    return 0;
}

/* The tools' translations this translator remembers (tools_memo.c). */
ALLOT__TOOLS_MEMO(tools_memo);

size_t allot__anth_tools_remembered(void)
{
    return allot__tools_hits(&tools_memo);
}

void allot__anth_tools_forget(void)
{
    allot_thread_block_drop(&tools_memo);
}

/* "tool_choice" -> tool_choice and parallel_tool_calls; written only when
 * there are tools, as OpenAI refuses a tool_choice without them. */
static int write_tool_choice(struct req *r, const cJSON *choice, int n_tools)
{
    struct allot_buf *value = &r->scratch;
    const cJSON *dp;
    const char *type, *name;
    int rc;

    if (!choice || cJSON_IsNull(choice))
        return 0;
    if (!cJSON_IsObject(choice))
        return invalid(r, "tool_choice: Input should be a valid dictionary");
    if ((rc = need_string(r, choice, "tool_choice", "type", &type)))
        return rc;
    allot_buf_reset(value);
    if (strcmp(type, "auto") == 0)
        rc = allot_buf_adds(value, "\"auto\"");
    else if (strcmp(type, "any") == 0)
        rc = allot_buf_adds(value, "\"required\"");
    else if (strcmp(type, "none") == 0)
        rc = allot_buf_adds(value, "\"none\"");
    else if (strcmp(type, "tool") == 0) {
        if ((rc = need_string(r, choice, "tool_choice", "name", &name)))
            return rc;
        if (!(rc = allot_buf_adds(value, "{\"type\":\"function\",\"function\":{\"name\":")) &&
            !(rc = allot__anth_add_str(value, name)))
            rc = allot_buf_adds(value, "}}");
    } else
        return invalid(r, "tool_choice.type: Input should be 'auto', 'any', 'tool' or 'none'");
    if (rc)
        return rc;
    dp = allot_json_member(choice, "disable_parallel_tool_use");
    if (dp && !cJSON_IsBool(dp) && !cJSON_IsNull(dp))
        return invalid(r, "tool_choice.disable_parallel_tool_use: Input should be a valid boolean");
    if (!n_tools)
        return 0;
    if ((rc = allot_buf_adds(r->out, ",\"tool_choice\":")) ||
        (rc = allot_buf_add(r->out, value->ptr, value->len)))
        return rc;
    if (cJSON_IsTrue(dp) && (rc = allot_buf_adds(r->out, ",\"parallel_tool_calls\":false")))
        return rc;
    return 0;
}

/* The optional scalars, in output order after max_tokens. */
static int write_options(struct req *r, const cJSON *root)
{
    static const char *const numbers[] = {"temperature", "top_p"};
    const cJSON *v, *s;
    const char *user;
    size_t i;
    int rc, k = 0;

    for (i = 0; i < sizeof numbers / sizeof numbers[0]; i++) {
        if (!(v = allot_json_member(root, numbers[i])) || cJSON_IsNull(v))
            continue;
        if (!cJSON_IsNumber(v))
            return invalid(r, "%s: Input should be a valid number", numbers[i]);
        if ((rc = allot_buf_adds(r->out, ",\"")) || (rc = allot_buf_adds(r->out, numbers[i])) ||
            (rc = allot_buf_adds(r->out, "\":")) ||
            (rc = allot__anth_add_number(r->out, v->valuedouble)))
            return rc;
    }
    if ((v = allot_json_member(root, "stop_sequences")) && !cJSON_IsNull(v)) {
        if (!cJSON_IsArray(v))
            return invalid(r, "stop_sequences: Input should be a valid list");
        cJSON_ArrayForEach(s, v)
        {
            if (!cJSON_IsString(s))
                return invalid(r, "stop_sequences.%d: Input should be a valid string", k);
            if ((rc = allot_buf_adds(r->out, k++ ? "," : ",\"stop\":[")) ||
                (rc = allot__anth_add_str(r->out, s->valuestring)))
                return rc;
        }
        if (k && (rc = allot_buf_add(r->out, "]", 1)))
            return rc;
    }
    if ((v = allot_json_member(root, "stream")) && !cJSON_IsNull(v)) {
        if (!cJSON_IsBool(v))
            return invalid(r, "stream: Input should be a valid boolean");
        if ((rc = allot_buf_adds(r->out,
                                 cJSON_IsTrue(v) ? ",\"stream\":true" : ",\"stream\":false")))
            return rc;
    }
    if ((v = allot_json_member(root, "metadata")) && !cJSON_IsNull(v)) {
        if (!cJSON_IsObject(v))
            return invalid(r, "metadata: Input should be a valid dictionary");
        if ((rc = opt_string(r, v, "metadata", "user_id", &user)))
            return rc;
        if (user && ((rc = allot_buf_adds(r->out, ",\"user\":")) ||
                     (rc = allot__anth_add_str(r->out, user))))
            return rc;
    }
    return 0;
}

int allot_anthropic_request(const char *body, size_t len, struct allot_buf *out,
                            struct allot_buf *err)
{
    return allot_anthropic_request_lenient(body, len, out, err, NULL);
}

/* The translation, with the reading built in *view when it is not NULL
 * (its result in *view_rc: 0 when built). */
static int translate(const char *body, size_t len, struct allot_buf *out, struct allot_buf *err,
                     struct allot_anthropic_read *rd, struct allot_chat_build *view, int text,
                     int *view_rc)
{
    struct req r = {out, err, {0}, 0, rd, view, text};
    int left_out = 0;
    const cJSON *model, *max_tokens, *messages, *msg;
    cJSON *root;
    struct allot__tools_lookup known = {&tools_memo, NULL}; /* found: the tools' translation */
    struct allot_slice tools_raw, model_raw;
    struct allot_buf tools_aside; /* the reading alone: the tools' translation, to remember */
    size_t start = out->len, tools_at;
    int rc, i = 0, n_tools;

    allot_buf_init(&r.scratch, out->max);
    if (!(root = allot__anth_parse_request_known(body, len, err, &rc, "tools", allot__tools_known,
                                                 &known, &tools_raw, &model_raw)))
        goto out;

    /* the required fields, before anything is written */
    model = allot_json_member(root, "model");
    max_tokens = allot_json_member(root, "max_tokens");
    messages = allot_json_member(root, "messages");
    if (!model) {
        rc = invalid(&r, "model: Field required");
        goto out;
    }
    if (!cJSON_IsString(model)) {
        rc = invalid(&r, "model: Input should be a valid string");
        goto out;
    }
    if (!max_tokens) {
        rc = invalid(&r, "max_tokens: Field required");
        goto out;
    }
    if (!cJSON_IsNumber(max_tokens) || max_tokens->valuedouble != floor(max_tokens->valuedouble) ||
        max_tokens->valuedouble > EXACT_INT_MAX) {
        rc = invalid(&r, "max_tokens: Input should be a valid integer");
        goto out;
    }
    if (max_tokens->valuedouble < 1) {
        rc = invalid(&r, "max_tokens: Input should be greater than or equal to 1");
        goto out;
    }
    if (!messages) {
        rc = invalid(&r, "messages: Field required");
        goto out;
    }
    if (!cJSON_IsArray(messages)) {
        rc = invalid(&r, "messages: Input should be a valid list");
        goto out;
    }
    if (!messages->child) {
        rc = invalid(&r, "messages: at least one message is required");
        goto out;
    }

    if ((rc = allot__anth_open_body(out, start, model->valuestring, view)))
        goto out;
    if ((rc = allot_buf_adds(out, ",\"messages\":[")))
        goto out;
    if ((msg = allot_json_member(root, "system")) && (rc = write_system(&r, msg)))
        goto out;
    cJSON_ArrayForEach(msg, messages)
    {
        if ((rc = write_message(&r, i++, msg)))
            goto out;
    }
    if ((rc = allot_buf_adds(out, "],\"max_tokens\":")) ||
        (rc = allot__anth_add_number(out, max_tokens->valuedouble)) ||
        (rc = write_options(&r, root)))
        goto out;
    left_out = rd ? rd->n : 0;
    if (known.found) { /* the tree holds null for them */
        n_tools = known.found->n;
        if (text && (rc = allot_buf_add(out, known.found->out.ptr, known.found->out.len)))
            goto out;
    } else {
        /* the tools are written even for the reading alone, aside, so
         * that their translation is remembered and the next request with
         * the same tools skips their check and tree */
        allot_buf_init(&tools_aside, out->max);
        r.out = text ? out : &tools_aside;
        r.text = 1;
        tools_at = r.out->len;
        rc = write_tools(&r, allot_json_member(root, "tools"), &n_tools);
        if (!rc && tools_raw.ptr && (!rd || rd->n == left_out))
            /* tools with parts left out are not kept: a request with
             * them must say so again (r->rd) */
            allot__tools_keep(&tools_memo, tools_raw, r.out->ptr ? r.out->ptr + tools_at : "",
                              r.out->len - tools_at, n_tools, NULL, 0);
        r.out = out;
        r.text = text;
        allot_buf_release(&tools_aside);
        if (rc)
            goto out;
    }
    if ((rc = write_tool_choice(&r, allot_json_member(root, "tool_choice"), n_tools)) ||
        (rc = allot_buf_add(out, "}", 1)))
        goto out;
    if (view) /* stream was checked a boolean by write_options() */
        *view_rc = allot_chat_build_end(view, cJSON_IsTrue(allot_json_member(root, "stream")),
                                        n_tools > 0);
out:
    if (rc || !text) /* the reading alone: what was written of the frame goes */
        allot__anth_buf_cut(out, start);
    if (!rc && rd) { /* checked text: model_raw lies in body (a string, see above) */
        rd->model_off = (size_t)(model_raw.ptr - body);
        rd->model_len = model_raw.len;
    }
    cJSON_Delete(root);
    allot_buf_release(&r.scratch);
    return rc;
}

int allot_anthropic_request_lenient(const char *body, size_t len, struct allot_buf *out,
                                    struct allot_buf *err, struct allot_anthropic_read *rd)
{
    return translate(body, len, out, err, rd, NULL, 1, NULL);
}

int allot_anthropic_request_read(const char *body, size_t len, struct allot_buf *out,
                                 struct allot_buf *err, struct allot_anthropic_read *rd, int text,
                                 struct allot_chat_request *chat, int *built)
{
    struct allot_chat_build view;
    int rc, view_rc = ALLOT_EINVAL;

    allot_chat_build_begin(&view, chat);
    rc = translate(body, len, out, err, rd, &view, text, &view_rc);
    *built = rc == 0 && view_rc == 0;
    if (!*built) /* what was built goes: the caller reads out, or fails */
        allot_chat_request_release(chat);
    return rc;
}
