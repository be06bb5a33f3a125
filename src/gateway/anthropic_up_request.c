/* anthropic_up_request.c: an OpenAI chat-completions body translated to an
 * Anthropic Messages body, for upstreams of kind "anthropic"
 * (anthropic_up.h).
 *
 * The body has passed allot's own parser (chat_request.c), so it is JSON
 * and has a model and messages; what is read here is checked only as far
 * as the translation needs. Anything the Messages API has no equivalent
 * for is refused with a one-line reason naming the field rather than
 * dropped, because a request that silently loses its audio or its second
 * choice would come back as a wrong answer instead of an error.
 *
 * The Messages API wants the system prompt apart, and user and assistant
 * turns strictly alternating with tool results at the head of the user
 * turn that follows the tool calls. So the messages are read in two
 * passes: system and developer text first, then the rest, each message
 * built on its own and then merged into the turn being assembled, which
 * is written out when a message of the other role arrives. A message left
 * with nothing (empty text) is dropped before it can split a turn.
 *
 * As in anthropic_request.c, JSON is written straight into the capped
 * output buffer and a failure cuts it back. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cJSON.h>
#include "allot/anthropic_up.h"
#include "allot/error.h"
#include "allot/fmt.h"
#include "allot/json_check.h"
#include "allot/json_tree.h"
#include "anthropic_internal.h"

/* Refuse the request: r->err gets one line, the caller gets ALLOT_EINVAL. */
#define invalid(r, ...) allot__anth_invalid((r)->err, __VA_ARGS__)

enum role { ROLE_NONE, ROLE_USER, ROLE_ASSISTANT };

/* Content blocks being gathered: tool_result blocks apart, as they must
 * lead a user turn. Both lists are JSON values, comma-separated. */
struct blocks {
    struct allot_buf results;
    int n_results;
    struct allot_buf other;
    int n_other;
    /* the blocks are a single message's string content: that string, which
     * is sent as the message's plain-string content */
    const char *lone;
};

struct req {
    struct allot_buf *out;
    struct allot_buf *err;    /* NULL: reasons are not wanted */
    struct allot_buf scratch; /* one value being assembled */
    struct blocks msg;        /* the message being read */
    struct blocks turn;       /* the turn it merges into */
    enum role turn_role;
    int n_turns; /* Anthropic messages written */
};

/* A member that is absent or JSON null counts as absent. */
static const cJSON *present(const cJSON *obj, const char *name)
{
    const cJSON *v = allot_json_member(obj, name);

    return v && !cJSON_IsNull(v) ? v : NULL;
}

/* A string member, or NULL (absent, null, or not a string). */
static const char *string_of(const cJSON *obj, const char *name)
{
    const cJSON *v = allot_json_member(obj, name);

    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void blocks_init(struct blocks *b, size_t max)
{
    memset(b, 0, sizeof *b);
    allot_buf_init(&b->results, max);
    allot_buf_init(&b->other, max);
}

static void blocks_reset(struct blocks *b)
{
    allot_buf_reset(&b->results);
    allot_buf_reset(&b->other);
    b->n_results = b->n_other = 0;
    b->lone = NULL;
}

static void blocks_release(struct blocks *b)
{
    allot_buf_release(&b->results);
    allot_buf_release(&b->other);
}

static int blocks_empty(const struct blocks *b)
{
    return b->n_results == 0 && b->n_other == 0;
}

/* Open the next block of list (a comma after the previous one). */
static int next_block(struct allot_buf *list, int *n)
{
    return (*n)++ ? allot_buf_add(list, ",", 1) : 0;
}

/* A text block; empty text is dropped (Anthropic refuses it). */
static int add_text(struct blocks *b, const char *text)
{
    int rc;

    if (!*text)
        return 0;
    b->lone = NULL;
    if ((rc = next_block(&b->other, &b->n_other)) ||
        (rc = allot_buf_adds(&b->other, "{\"type\":\"text\",\"text\":")) ||
        (rc = allot__anth_add_str(&b->other, text)) || (rc = allot_buf_add(&b->other, "}", 1)))
        return rc;
    return 0;
}

/* An image_url part -> an image block: a base64 source from a data: URL,
 * a url source from anything else. */
static int add_image(struct req *r, struct blocks *b, const cJSON *part, const char *path)
{
    const cJSON *iu = allot_json_member(part, "image_url");
    const char *url = cJSON_IsString(iu) ? iu->valuestring : string_of(iu, "url");
    const char *comma, *semi, *params;
    int rc;

    if (!url)
        return invalid(r, "%s.image_url.url: must be a string", path);
    b->lone = NULL;
    if ((rc = next_block(&b->other, &b->n_other)) ||
        (rc = allot_buf_adds(&b->other, "{\"type\":\"image\",\"source\":{\"type\":")))
        return rc;
    if (strncmp(url, "data:", 5) == 0) {
        /* data:MEDIA_TYPE[;param...];base64,DATA */
        url += 5;
        comma = strchr(url, ',');
        semi = strchr(url, ';');
        params = semi && comma && semi < comma ? semi : comma;
        if (!comma || comma - url < 8 || strncmp(comma - 7, ";base64", 7) != 0 || params == url)
            return invalid(r,
                           "%s.image_url.url: Anthropic providers take base64 data: URLs "
                           "(data:TYPE;base64,...) only",
                           path);
        if ((rc = allot_buf_adds(&b->other, "\"base64\",\"media_type\":")) ||
            (rc = allot_buf_add_json_str(&b->other, url, (size_t)(params - url))) ||
            (rc = allot_buf_adds(&b->other, ",\"data\":")) ||
            (rc = allot__anth_add_str(&b->other, comma + 1)))
            return rc;
    } else if ((rc = allot_buf_adds(&b->other, "\"url\",\"url\":")) ||
               (rc = allot__anth_add_str(&b->other, url))) {
        return rc;
    }
    return allot_buf_adds(&b->other, "}}");
}

/* The text of content that may only hold text: a string, text parts
 * joined by "\n" (non-empty ones), or null. Into r->scratch. */
static int text_only(struct req *r, const cJSON *content, const char *path)
{
    const cJSON *part;
    const char *type, *text;
    char q[QUOTE_MAX + 4];
    int rc, k = 0;

    allot_buf_reset(&r->scratch);
    if (!content || cJSON_IsNull(content))
        return 0;
    if (cJSON_IsString(content))
        return allot_buf_adds(&r->scratch, content->valuestring);
    if (!cJSON_IsArray(content))
        return invalid(r, "%s.content: must be a string, an array of parts or null", path);
    cJSON_ArrayForEach(part, content)
    {
        if (!(type = string_of(part, "type")))
            return invalid(r, "%s.content.%d.type: must be a string", path, k);
        if (strcmp(type, "text") != 0) {
            allot__anth_quote(q, type);
            return invalid(r, "%s.content.%d.type: content part type '%s' is not allowed here",
                           path, k, q);
        }
        if (!(text = string_of(part, "text")))
            return invalid(r, "%s.content.%d.text: must be a string", path, k);
        if (*text && ((r->scratch.len && (rc = allot_buf_add(&r->scratch, "\n", 1))) ||
                      (rc = allot_buf_adds(&r->scratch, text))))
            return rc;
        k++;
    }
    return 0;
}

/* A user or assistant message's content -> blocks of r->msg. */
static int read_content(struct req *r, const cJSON *content, int assistant, const char *path)
{
    const cJSON *part;
    const char *type, *text;
    char ppath[64], q[QUOTE_MAX + 4];
    int rc, k = 0;

    if (!content || cJSON_IsNull(content))
        return 0;
    if (cJSON_IsString(content)) {
        if ((rc = add_text(&r->msg, content->valuestring)))
            return rc;
        if (r->msg.n_other == 1)
            r->msg.lone = content->valuestring;
        return 0;
    }
    if (!cJSON_IsArray(content))
        return invalid(r, "%s.content: must be a string, an array of parts or null", path);
    cJSON_ArrayForEach(part, content)
    {
        allot_fmt_path(ppath, sizeof ppath, path, ".content.", k++, "");
        if (!(type = string_of(part, "type")))
            return invalid(r, "%s.type: must be a string", ppath);
        if (strcmp(type, "text") == 0 || (assistant && strcmp(type, "refusal") == 0)) {
            if (!(text = string_of(part, type)))
                return invalid(r, "%s.%s: must be a string", ppath, type);
            rc = add_text(&r->msg, text);
        } else if (!assistant && strcmp(type, "image_url") == 0) {
            rc = add_image(r, &r->msg, part, ppath);
        } else {
            allot__anth_quote(q, type);
            return invalid(r, "%s.type: content part type '%s' has no Anthropic equivalent", ppath,
                           q);
        }
        if (rc)
            return rc;
    }
    return 0;
}

/* An assistant message's tool_calls -> tool_use blocks of r->msg. */
static int read_tool_calls(struct req *r, const cJSON *calls, const char *path)
{
    struct allot_buf *b = &r->msg.other;
    const cJSON *call, *fn;
    const char *type, *id, *name;
    char q[QUOTE_MAX + 4];
    int rc, k = 0;

    if (!calls || cJSON_IsNull(calls))
        return 0;
    if (!cJSON_IsArray(calls))
        return invalid(r, "%s.tool_calls: must be an array", path);
    cJSON_ArrayForEach(call, calls)
    {
        if ((type = string_of(call, "type")) && strcmp(type, "function") != 0) {
            allot__anth_quote(q, type);
            return invalid(r,
                           "%s.tool_calls.%d.type: tool call type '%s' has no Anthropic "
                           "equivalent",
                           path, k, q);
        }
        fn = allot_json_member(call, "function");
        if (!(id = string_of(call, "id")))
            return invalid(r, "%s.tool_calls.%d.id: must be a string", path, k);
        if (!(name = string_of(fn, "name")))
            return invalid(r, "%s.tool_calls.%d.function.name: must be a string", path, k);
        r->msg.lone = NULL;
        if ((rc = next_block(b, &r->msg.n_other)) ||
            (rc = allot_buf_adds(b, "{\"type\":\"tool_use\",\"id\":")) ||
            (rc = allot__anth_add_str(b, id)) || (rc = allot_buf_adds(b, ",\"name\":")) ||
            (rc = allot__anth_add_str(b, name)) || (rc = allot_buf_adds(b, ",\"input\":")) ||
            (rc = allot__anth_add_tool_input(b, allot_json_member(fn, "arguments"))) ||
            (rc = allot_buf_add(b, "}", 1)))
            return rc;
        k++;
    }
    return 0;
}

/* A tool message -> a tool_result block of r->msg. Empty content is left
 * out (it is optional in a tool_result, and empty text is refused). */
static int read_tool_result(struct req *r, const cJSON *msg, const char *path)
{
    struct allot_buf *b = &r->msg.results;
    const char *id = string_of(msg, "tool_call_id");
    int rc;

    if (!id)
        return invalid(r, "%s.tool_call_id: must be a string", path);
    if ((rc = text_only(r, allot_json_member(msg, "content"), path)))
        return rc;
    if ((rc = next_block(b, &r->msg.n_results)) ||
        (rc = allot_buf_adds(b, "{\"type\":\"tool_result\",\"tool_use_id\":")) ||
        (rc = allot__anth_add_str(b, id)))
        return rc;
    if (r->scratch.len && ((rc = allot_buf_adds(b, ",\"content\":")) ||
                           (rc = allot_buf_add_json_str(b, r->scratch.ptr, r->scratch.len))))
        return rc;
    return allot_buf_add(b, "}", 1);
}

/* Write the assembled turn as one Anthropic message and empty it. */
static int flush_turn(struct req *r)
{
    struct blocks *t = &r->turn;
    struct allot_buf *out = r->out;
    int rc;

    if (r->turn_role == ROLE_NONE || blocks_empty(t))
        return 0;
    if ((r->n_turns++ && (rc = allot_buf_add(out, ",", 1))) ||
        (rc = allot_buf_adds(out, r->turn_role == ROLE_USER ? "{\"role\":\"user\",\"content\":"
                                                            : "{\"role\":\"assistant\","
                                                              "\"content\":")))
        return rc;
    if (t->lone && !t->n_results && t->n_other == 1) {
        rc = allot__anth_add_str(out, t->lone);
    } else if (!(rc = allot_buf_add(out, "[", 1)) &&
               !(rc = allot_buf_add(out, t->results.ptr, t->results.len)) &&
               !(t->n_results && t->n_other && (rc = allot_buf_add(out, ",", 1))) &&
               !(rc = allot_buf_add(out, t->other.ptr, t->other.len))) {
        rc = allot_buf_add(out, "]", 1);
    }
    if (rc || (rc = allot_buf_add(out, "}", 1)))
        return rc;
    blocks_reset(t);
    r->turn_role = ROLE_NONE;
    return 0;
}

/* Move r->msg's blocks into the turn, writing the turn out first when the
 * message is of the other role. A message with no blocks changes nothing. */
static int merge_message(struct req *r, enum role role)
{
    struct blocks *m = &r->msg, *t = &r->turn;
    int rc, was_empty;

    if (blocks_empty(m))
        return 0;
    if (r->turn_role != role && (rc = flush_turn(r)))
        return rc;
    r->turn_role = role;
    was_empty = blocks_empty(t);
    if (m->n_results && ((t->n_results && (rc = allot_buf_add(&t->results, ",", 1))) ||
                         (rc = allot_buf_add(&t->results, m->results.ptr, m->results.len))))
        return rc;
    if (m->n_other && ((t->n_other && (rc = allot_buf_add(&t->other, ",", 1))) ||
                       (rc = allot_buf_add(&t->other, m->other.ptr, m->other.len))))
        return rc;
    t->n_results += m->n_results;
    t->n_other += m->n_other;
    t->lone = was_empty ? m->lone : NULL;
    return 0;
}

/* messages[i], other than system and developer ones. */
static int read_message(struct req *r, int i, const cJSON *msg, const char *role)
{
    char path[32], q[QUOTE_MAX + 4];
    int rc;

    allot_fmt_path(path, sizeof path, "messages.", "", i, "");
    blocks_reset(&r->msg);
    if (strcmp(role, "user") == 0) {
        if ((rc = read_content(r, allot_json_member(msg, "content"), 0, path)))
            return rc;
        return merge_message(r, ROLE_USER);
    }
    if (strcmp(role, "assistant") == 0) {
        if (present(msg, "function_call"))
            return invalid(r,
                           "%s.function_call: legacy function calls are not supported for "
                           "Anthropic providers; use tool_calls",
                           path);
        if ((rc = read_content(r, allot_json_member(msg, "content"), 1, path)) ||
            (rc = read_tool_calls(r, allot_json_member(msg, "tool_calls"), path)))
            return rc;
        return merge_message(r, ROLE_ASSISTANT);
    }
    if (strcmp(role, "tool") == 0) {
        if ((rc = read_tool_result(r, msg, path)))
            return rc;
        return merge_message(r, ROLE_USER);
    }
    allot__anth_quote(q, role);
    return invalid(r, "%s.role: role '%s' has no Anthropic equivalent", path, q);
}

/* The text of every system and developer message, joined by blank lines,
 * as the "system" member; nothing when there is none. */
static int write_system(struct req *r, const cJSON *messages)
{
    struct allot_buf system;
    const cJSON *msg;
    const char *role;
    char path[32];
    int rc = 0, i = 0;

    allot_buf_init(&system, r->out->max);
    cJSON_ArrayForEach(msg, messages)
    {
        allot_fmt_path(path, sizeof path, "messages.", "", i++, "");
        role = string_of(msg, "role");
        if (!role || (strcmp(role, "system") != 0 && strcmp(role, "developer") != 0))
            continue;
        if ((rc = text_only(r, allot_json_member(msg, "content"), path)))
            goto out;
        if (r->scratch.len && ((system.len && (rc = allot_buf_adds(&system, "\n\n"))) ||
                               (rc = allot_buf_add(&system, r->scratch.ptr, r->scratch.len))))
            goto out;
    }
    if (system.len && ((rc = allot_buf_adds(r->out, ",\"system\":")) ||
                       (rc = allot_buf_add_json_str(r->out, system.ptr, system.len))))
        goto out;
out:
    allot_buf_release(&system);
    return rc;
}

static int write_messages(struct req *r, const cJSON *messages)
{
    const cJSON *msg;
    const char *role;
    int rc, i = 0;

    if ((rc = allot_buf_adds(r->out, ",\"messages\":[")))
        return rc;
    cJSON_ArrayForEach(msg, messages)
    {
        if (!(role = string_of(msg, "role")))
            return invalid(r, "messages.%d.role: must be a string", i);
        if (strcmp(role, "system") != 0 && strcmp(role, "developer") != 0 &&
            (rc = read_message(r, i, msg, role)))
            return rc;
        i++;
    }
    if ((rc = flush_turn(r)))
        return rc;
    if (!r->n_turns)
        return invalid(r, "messages: Anthropic providers need a user or assistant message with "
                          "content");
    return allot_buf_add(r->out, "]", 1);
}

/* max_completion_tokens, else max_tokens, else the default. */
static int write_max_tokens(struct req *r, const cJSON *root, long default_max_tokens)
{
    const char *name = "max_completion_tokens";
    const cJSON *v = present(root, name);

    if (!v)
        v = present(root, name = "max_tokens");
    if (!v) {
        if (default_max_tokens < 1)
            return invalid(r, "max_tokens: Anthropic providers require max_tokens and no "
                              "default is configured");
        return allot_buf_addf(r->out, ",\"max_tokens\":%ld", default_max_tokens);
    }
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || v->valuedouble < 1 ||
        v->valuedouble > EXACT_INT_MAX)
        return invalid(r, "%s: must be a positive integer", name);
    return allot_buf_addf(r->out, ",\"max_tokens\":%.0f", v->valuedouble);
}

/* temperature (clamped to Anthropic's [0, 1]), top_p, stop, stream, user. */
static int write_options(struct req *r, const cJSON *root)
{
    const cJSON *v, *s;
    double t;
    int rc, k = 0, i = 0;

    if ((v = present(root, "temperature"))) {
        if (!cJSON_IsNumber(v))
            return invalid(r, "temperature: must be a number");
        t = v->valuedouble < 0 ? 0 : v->valuedouble > 1 ? 1 : v->valuedouble;
        if ((rc = allot_buf_adds(r->out, ",\"temperature\":")) ||
            (rc = allot__anth_add_number(r->out, t)))
            return rc;
    }
    if ((v = present(root, "top_p"))) {
        if (!cJSON_IsNumber(v))
            return invalid(r, "top_p: must be a number");
        if ((rc = allot_buf_adds(r->out, ",\"top_p\":")) ||
            (rc = allot__anth_add_number(r->out, v->valuedouble)))
            return rc;
    }
    if ((v = present(root, "stop"))) {
        if (!cJSON_IsString(v) && !cJSON_IsArray(v))
            return invalid(r, "stop: must be a string or an array of strings");
        s = cJSON_IsString(v) ? v : v->child;
        for (; s; s = cJSON_IsString(v) ? NULL : s->next, i++) {
            if (!cJSON_IsString(s))
                return invalid(r, "stop.%d: must be a string", i);
            if (!*s->valuestring)
                continue; /* matches everywhere; OpenAI servers ignore it */
            if ((rc = allot_buf_adds(r->out, k++ ? "," : ",\"stop_sequences\":[")) ||
                (rc = allot__anth_add_str(r->out, s->valuestring)))
                return rc;
        }
        if (k && (rc = allot_buf_add(r->out, "]", 1)))
            return rc;
    }
    if ((v = present(root, "stream"))) {
        if (!cJSON_IsBool(v))
            return invalid(r, "stream: must be a boolean");
        if ((rc = allot_buf_adds(r->out,
                                 cJSON_IsTrue(v) ? ",\"stream\":true" : ",\"stream\":false")))
            return rc;
    }
    if ((v = present(root, "user"))) {
        if (!cJSON_IsString(v))
            return invalid(r, "user: must be a string");
        if (*v->valuestring && ((rc = allot_buf_adds(r->out, ",\"metadata\":{\"user_id\":")) ||
                                (rc = allot__anth_add_str(r->out, v->valuestring)) ||
                                (rc = allot_buf_add(r->out, "}", 1))))
            return rc;
    }
    return 0;
}

/* A function's parameters as an input_schema, which Anthropic wants to
 * be an object schema with a "type". */
static int write_schema(struct req *r, const cJSON *params)
{
    const cJSON *m;
    int rc;

    if (!cJSON_IsObject(params) || !params->child)
        return allot_buf_adds(r->out, "{\"type\":\"object\",\"properties\":{}}");
    if (allot_json_member(params, "type"))
        return allot__anth_add_json(r->out, params);
    if ((rc = allot_buf_adds(r->out, "{\"type\":\"object\"")))
        return rc;
    cJSON_ArrayForEach(m, params)
    {
        if ((rc = allot_buf_add(r->out, ",", 1)) ||
            (rc = allot__anth_add_str(r->out, m->string ? m->string : "")) ||
            (rc = allot_buf_add(r->out, ":", 1)) || (rc = allot__anth_add_json(r->out, m)))
            return rc;
    }
    return allot_buf_add(r->out, "}", 1);
}

/* "tools" -> Anthropic custom tools. *n: how many. */
static int write_tools(struct req *r, const cJSON *tools, int *n)
{
    const cJSON *tool, *fn, *params;
    const char *type, *name, *description;
    char q[QUOTE_MAX + 4];
    int rc, i = 0;

    *n = 0;
    if (!tools)
        return 0;
    if (!cJSON_IsArray(tools))
        return invalid(r, "tools: must be an array");
    cJSON_ArrayForEach(tool, tools)
    {
        if (!(type = string_of(tool, "type")))
            return invalid(r, "tools.%d.type: must be a string", i);
        if (strcmp(type, "function") != 0) {
            allot__anth_quote(q, type);
            return invalid(r, "tools.%d.type: tool type '%s' has no Anthropic equivalent", i, q);
        }
        fn = allot_json_member(tool, "function");
        if (!(name = string_of(fn, "name")))
            return invalid(r, "tools.%d.function.name: must be a string", i);
        description = string_of(fn, "description");
        params = present(fn, "parameters");
        if (params && !cJSON_IsObject(params))
            return invalid(r, "tools.%d.function.parameters: must be an object", i);
        if ((rc = allot_buf_adds(r->out, (*n)++ ? ",{\"name\":" : ",\"tools\":[{\"name\":")) ||
            (rc = allot__anth_add_str(r->out, name)))
            return rc;
        if (description && *description &&
            ((rc = allot_buf_adds(r->out, ",\"description\":")) ||
             (rc = allot__anth_add_str(r->out, description))))
            return rc;
        if ((rc = allot_buf_adds(r->out, ",\"input_schema\":")) || (rc = write_schema(r, params)) ||
            (rc = allot_buf_add(r->out, "}", 1)))
            return rc;
        i++;
    }
    if (*n && (rc = allot_buf_add(r->out, "]", 1)))
        return rc;
    return 0;
}

/* "tool_choice" and "parallel_tool_calls" -> "tool_choice"; written only
 * when there are tools, as Anthropic refuses a tool_choice without them. */
static int write_tool_choice(struct req *r, const cJSON *root, int n_tools)
{
    const cJSON *choice = present(root, "tool_choice"), *pc = present(root, "parallel_tool_calls");
    struct allot_buf *value = &r->scratch;
    const char *type, *name;
    char q[QUOTE_MAX + 4];
    int rc, none = 0;

    allot_buf_reset(value);
    if (!choice || (cJSON_IsString(choice) && strcmp(choice->valuestring, "auto") == 0)) {
        rc = allot_buf_adds(value, "{\"type\":\"auto\"");
    } else if (cJSON_IsString(choice) && strcmp(choice->valuestring, "required") == 0) {
        rc = allot_buf_adds(value, "{\"type\":\"any\"");
    } else if (cJSON_IsString(choice) && strcmp(choice->valuestring, "none") == 0) {
        rc = allot_buf_adds(value, "{\"type\":\"none\"");
        none = 1;
    } else if (cJSON_IsObject(choice)) {
        if (!(type = string_of(choice, "type")) || strcmp(type, "function") != 0) {
            allot__anth_quote(q, type ? type : "");
            return invalid(r,
                           "tool_choice.type: tool choice type '%s' has no Anthropic "
                           "equivalent",
                           q);
        }
        if (!(name = string_of(allot_json_member(choice, "function"), "name")))
            return invalid(r, "tool_choice.function.name: must be a string");
        if (!(rc = allot_buf_adds(value, "{\"type\":\"tool\",\"name\":")))
            rc = allot__anth_add_str(value, name);
    } else {
        return invalid(r, "tool_choice: must be 'auto', 'required', 'none' or a function");
    }
    if (rc)
        return rc;
    if (pc && !cJSON_IsBool(pc))
        return invalid(r, "parallel_tool_calls: must be a boolean");
    if (!n_tools || (!choice && !cJSON_IsFalse(pc)))
        return 0;
    if (cJSON_IsFalse(pc) && !none &&
        (rc = allot_buf_adds(value, ",\"disable_parallel_tool_use\":true")))
        return rc;
    if ((rc = allot_buf_adds(r->out, ",\"tool_choice\":")) ||
        (rc = allot_buf_add(r->out, value->ptr, value->len)) ||
        (rc = allot_buf_add(r->out, "}", 1)))
        return rc;
    return 0;
}

/* What Anthropic cannot take at the top level, before anything is written. */
static int refuse_unsupported(struct req *r, const cJSON *root)
{
    const cJSON *n = present(root, "n");

    if (cJSON_IsNumber(n) && n->valuedouble > 1)
        return invalid(r, "n: Anthropic providers answer one choice");
    if (present(root, "functions") || present(root, "function_call"))
        return invalid(r,
                       "%s: legacy functions are not supported for Anthropic providers; use "
                       "tools",
                       present(root, "functions") ? "functions" : "function_call");
    if (present(root, "audio"))
        return invalid(r, "audio: Anthropic providers answer in text only");
    return 0;
}

int allot_anthropic_up_request(const char *body, size_t len, long default_max_tokens,
                               struct allot_buf *out, struct allot_buf *err)
{
    struct req r;
    const cJSON *model, *messages;
    cJSON *root = NULL;
    size_t start = out->len;
    int rc, n_tools;

    memset(&r, 0, sizeof r);
    r.out = out;
    r.err = err;
    allot_buf_init(&r.scratch, out->max);
    blocks_init(&r.msg, out->max);
    blocks_init(&r.turn, out->max);
    /* body is a chat request the gateway wrote or checked: checked here as
     * strictly (json_check.h; \u0000 allowed, as cJSON allows it) and read
     * without validating again (json_tree.h), a fraction of cJSON's cost */
    if (body && !allot_json_check(body, len, ALLOT_JSON_CHECK_NUL_OK, NULL, NULL, NULL))
        root = allot_json_tree(body, len);
    if (!cJSON_IsObject(root)) {
        rc = ALLOT_EPARSE;
        goto out;
    }
    model = allot_json_member(root, "model");
    messages = allot_json_member(root, "messages");
    if (!cJSON_IsString(model)) {
        rc = invalid(&r, "model: must be a string");
        goto out;
    }
    if (!cJSON_IsArray(messages)) {
        rc = invalid(&r, "messages: must be an array");
        goto out;
    }
    if ((rc = refuse_unsupported(&r, root)))
        goto out;
    if ((rc = allot_buf_adds(out, "{\"model\":")) ||
        (rc = allot__anth_add_str(out, model->valuestring)) ||
        (rc = write_max_tokens(&r, root, default_max_tokens)) ||
        (rc = write_system(&r, messages)) || (rc = write_messages(&r, messages)) ||
        (rc = write_options(&r, root)) ||
        (rc = write_tools(&r, present(root, "tools"), &n_tools)) ||
        (rc = write_tool_choice(&r, root, n_tools)) || (rc = allot_buf_add(out, "}", 1)))
        goto out;
out:
    if (rc)
        allot__anth_buf_cut(out, start);
    cJSON_Delete(root);
    allot_buf_release(&r.scratch);
    blocks_release(&r.msg);
    blocks_release(&r.turn);
    return rc;
}

int allot_anthropic_up_passthrough(const char *body, size_t len, size_t model_off, size_t model_len,
                                   const char *model, struct allot_buf *out)
{
    size_t start = out->len;
    int rc;

    if (!body || model_off > len || model_len > len - model_off || !model_len)
        return ALLOT_EINVAL;
    if ((rc = allot_buf_add(out, body, model_off)) ||
        (rc = allot_buf_add_json_str(out, model, strlen(model))) ||
        (rc = allot_buf_add(out, body + model_off + model_len, len - model_off - model_len)))
        allot__anth_buf_cut(out, start);
    return rc;
}
