/* responses_request.c: an OpenAI Responses request (POST /v1/responses)
 * translated to an OpenAI chat-completions body (responses.h).
 *
 * Requests come from clients, so they are read as anthropic_request.c reads
 * an Anthropic body: the strict check of json_check.h first (a client gets
 * "invalid JSON at line L column C: why", and nothing cJSON would read
 * differently from a strict parser gets through), then cJSON, with the
 * last of duplicate keys counting. Every field the translation reads is
 * validated and the first problem is reported in OpenAI's words ("Missing
 * required parameter: 'input[1].call_id'.", "Invalid type for 'stream':
 * expected a boolean."), with parameter paths written the way OpenAI
 * writes them, because OpenAI SDKs and the people reading their errors
 * expect that shape. What allot cannot translate (stored state, hosted
 * tools, files) is refused with the path and the reason.
 *
 * Custom tools (freeform text input, such as Codex's apply_patch) have no
 * chat-completions form, so each becomes a function tool taking one string
 * argument, "input", with its grammar, if any, told in its description: a
 * model cannot be held to a grammar through chat completions, but it can
 * be shown one. Their calls in the conversation become tool calls whose
 * arguments wrap the input the same way, and their names go back to the
 * caller, which needs them to turn the answer's calls back into
 * custom_tool_call items.
 *
 * DESIGN: messages are written straight into out as the input items are
 * read. Chat completions wants an assistant turn as one message holding
 * its text and all its tool calls, followed by one tool message per call,
 * while the Responses API lists the text and each call as items of their
 * own. So an assistant message is left open (its closing brace not yet
 * written) while function_call items may still follow: they are added to
 * its tool_calls, and any other item closes it. Reasoning items are
 * dropped without closing it: they sit between an answer's text and its
 * calls, and encrypted reasoning cannot pass through chat completions. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cJSON.h>
#include "allot/error.h"
#include "allot/fmt.h"
#include "allot/chat_request.h"
#include "allot/responses.h"
#include "anthropic_internal.h"

/* Report a problem to the client: r->err gets one line, the caller gets
 * ALLOT_EINVAL. */
#define invalid(r, ...) allot__anth_invalid((r)->err, __VA_ARGS__)

/* A custom tool's description and grammar together: past this the grammar
 * is cut, with a note that says so. */
#define CUSTOM_DESCRIPTION_MAX 16384

/* The assistant message left open at the end of out, if any. */
enum open_message {
    OPEN_NONE,
    OPEN_TEXT,  /* {"role":"assistant","content":"..." */
    OPEN_CALLS, /* ...,"tool_calls":[{...} */
};

struct req {
    struct allot_buf *out;
    struct allot_buf *err;  /* NULL: messages are not wanted */
    struct allot_buf text;  /* a message's text parts, joined; out's cap */
    struct allot_buf parts; /* the same message's parts as JSON; out's cap */
    int n_messages;         /* chat messages written */
    enum open_message open;
    struct allot_responses_custom custom; /* the custom tools' names */
    struct allot_chat_build *view;        /* the reading built as written; NULL: not wanted */
};

/* ---- reading the request ---- */

/* Between path and name in a parameter's name: "input[0]" "." "role";
 * nothing when either is empty (a top-level name, or the item itself). */
static const char *sep(const char *path, const char *name)
{
    return *path && *name ? "." : "";
}

static int missing(struct req *r, const char *path, const char *name)
{
    return invalid(r, "Missing required parameter: '%s%s%s'.", path, sep(path, name), name);
}

/* want: "a string", "an object", ... */
static int wrong_type(struct req *r, const char *path, const char *name, const char *want)
{
    return invalid(r, "Invalid type for '%s%s%s': expected %s.", path, sep(path, name), name, want);
}

/* path.type names something allot cannot translate; what: "item", ... */
static int unsupported(struct req *r, const char *path, const char *what, const char *type)
{
    char q[QUOTE_MAX + 4];

    allot__anth_quote(q, type);
    return invalid(r, "%s.type: %s type '%s' is not supported by allot", path, what, q);
}

/* obj.name, required, a string. */
static int need_string(struct req *r, const cJSON *obj, const char *path, const char *name,
                       const char **s)
{
    const cJSON *v = allot_json_member(obj, name);

    if (!v)
        return missing(r, path, name);
    if (!cJSON_IsString(v))
        return wrong_type(r, path, name, "a string");
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
        return wrong_type(r, path, name, "a string");
    *s = v->valuestring;
    return 0;
}

/* obj.name, optional (absent or null: *b -1), a boolean (*b 0 or 1). */
static int opt_bool(struct req *r, const cJSON *obj, const char *path, const char *name, int *b)
{
    const cJSON *v = allot_json_member(obj, name);

    *b = -1;
    if (!v || cJSON_IsNull(v))
        return 0;
    if (!cJSON_IsBool(v))
        return wrong_type(r, path, name, "a boolean");
    *b = cJSON_IsTrue(v);
    return 0;
}

/* obj.name, optional (absent or null: *o NULL), an object. */
static int opt_object(struct req *r, const cJSON *obj, const char *path, const char *name,
                      const cJSON **o)
{
    const cJSON *v = allot_json_member(obj, name);

    *o = NULL;
    if (!v || cJSON_IsNull(v))
        return 0;
    if (!cJSON_IsObject(v))
        return wrong_type(r, path, name, "an object");
    *o = v;
    return 0;
}

/* The parameters that need state allot does not keep. */
static int refuse_stored_state(struct req *r, const cJSON *root)
{
    const cJSON *v;
    int background, rc;

    if ((v = allot_json_member(root, "previous_response_id")) && !cJSON_IsNull(v))
        return invalid(r, "previous_response_id: allot stores no responses; send the whole "
                          "conversation in input");
    if ((v = allot_json_member(root, "conversation")) && !cJSON_IsNull(v))
        return invalid(r, "conversation: allot stores no conversations; send the whole "
                          "conversation in input");
    if ((v = allot_json_member(root, "prompt")) && !cJSON_IsNull(v))
        return invalid(r, "prompt: allot stores no prompt templates; send the prompt's text in "
                          "instructions and input");
    if ((rc = opt_bool(r, root, "", "background", &background)))
        return rc;
    if (background == 1)
        return invalid(r, "background: allot stores no responses to run in the background; "
                          "send the request without it");
    return 0;
}

/* ---- messages ---- */

/* Close the assistant message left open for tool calls. */
static int close_open(struct req *r)
{
    int rc = 0;

    if (r->open == OPEN_TEXT)
        rc = allot_buf_add(r->out, "}", 1);
    else if (r->open == OPEN_CALLS)
        rc = allot_buf_adds(r->out, "]}");
    if (rc)
        return rc;
    r->open = OPEN_NONE;
    return 0;
}

/* Start the next chat message, after closing an open one: a comma after
 * the previous message, then {"role":ROLE. role is one of ours, not the
 * client's text. */
static int begin_message(struct req *r, const char *role)
{
    int rc;

    if ((rc = close_open(r)))
        return rc;
    if (r->n_messages++ && (rc = allot_buf_add(r->out, ",", 1)))
        return rc;
    if ((rc = allot_buf_adds(r->out, "{\"role\":\"")) || (rc = allot_buf_adds(r->out, role)))
        return rc;
    return allot_buf_add(r->out, "\"", 1);
}

/* instructions -> the first (system) message; none when empty. */
static int write_instructions(struct req *r, const char *instructions)
{
    int rc;

    if (!instructions || !*instructions)
        return 0;
    if ((rc = begin_message(r, "system")) || (rc = allot_buf_adds(r->out, ",\"content\":")) ||
        (rc = allot__anth_add_str(r->out, instructions)) || (rc = allot_buf_add(r->out, "}", 1)))
        return rc;
    if (r->view)
        allot_chat_build_system(r->view, instructions, strlen(instructions));
    return 0;
}

/* A text part: into the joined text (blank lines between parts) and,
 * when the message has an image (the parts will be sent), the part list. */
static int add_text_part(struct req *r, const char *s, int n_text, int n_parts, int with_parts)
{
    int rc;

    if ((n_text && (rc = allot_buf_adds(&r->text, "\n\n"))) || (rc = allot_buf_adds(&r->text, s)))
        return rc;
    if (!with_parts)
        return 0;
    if (r->view) /* sent as parts: each is a text of the instruction */
        allot_chat_build_text(r->view, s, strlen(s));
    if ((n_parts && (rc = allot_buf_add(&r->parts, ",", 1))) ||
        (rc = allot_buf_adds(&r->parts, "{\"type\":\"text\",\"text\":")) ||
        (rc = allot__anth_add_str(&r->parts, s)) || (rc = allot_buf_add(&r->parts, "}", 1)))
        return rc;
    return 0;
}

/* An input_image part -> an image_url part. */
static int add_image_part(struct req *r, const cJSON *part, const char *path, int n_parts)
{
    const cJSON *file_id = allot_json_member(part, "file_id");
    const char *url, *detail;
    int rc;

    if (!allot_json_member(part, "image_url") && file_id && !cJSON_IsNull(file_id))
        return invalid(r,
                       "%s.file_id: images stored as OpenAI files are not supported by "
                       "allot; send image_url",
                       path);
    if ((rc = need_string(r, part, path, "image_url", &url)) ||
        (rc = opt_string(r, part, path, "detail", &detail)))
        return rc;
    if ((n_parts && (rc = allot_buf_add(&r->parts, ",", 1))) ||
        (rc = allot_buf_adds(&r->parts, "{\"type\":\"image_url\",\"image_url\":{\"url\":")) ||
        (rc = allot__anth_add_str(&r->parts, url)))
        return rc;
    if (detail && ((rc = allot_buf_adds(&r->parts, ",\"detail\":")) ||
                   (rc = allot__anth_add_str(&r->parts, detail))))
        return rc;
    return allot_buf_adds(&r->parts, "}}");
}

/* Does content, a message's parts, hold an image? Looked at before they
 * are read, so that the part list is written only for a message that
 * needs it; reading them still checks each part. */
static int has_image_part(const cJSON *content)
{
    const cJSON *part, *type;

    cJSON_ArrayForEach(part, content)
    {
        type = allot_json_member(part, "type");
        if (cJSON_IsString(type) && strcmp(type->valuestring, "input_image") == 0)
            return 1;
    }
    return 0;
}

/* The chat message just written for a message item of role, its text in
 * r->text (joined by blank lines) or, with_parts, given part by part. */
static void view_message(struct req *r, const char *role, int with_parts)
{
    if (strcmp(role, "assistant") == 0) {
        allot_chat_build_other(r->view, r->text.len, 0);
    } else if (strcmp(role, "user") == 0) {
        if (!with_parts)
            allot_chat_build_text(r->view, allot_buf_cstr(&r->text), r->text.len);
        allot_chat_build_user(r->view);
    } else { /* system, developer: the first is the instruction */
        allot_chat_build_system(r->view, allot_buf_cstr(&r->text), r->text.len);
    }
}

/* A message item: a string, or parts -> one chat message. All-text
 * content is sent as one string; with an image, as a list of parts. An
 * assistant message is left open for the function_call items that may
 * follow. */
static int write_message_item(struct req *r, const cJSON *item, const char *path)
{
    const cJSON *content, *part;
    const char *role, *type, *s;
    char ppath[80];
    int rc, k = 0, n_text = 0, n_parts = 0, has_image = 0, with_parts = 0, assistant;

    if ((rc = need_string(r, item, path, "role", &role)))
        return rc;
    if (strcmp(role, "user") != 0 && strcmp(role, "assistant") != 0 &&
        strcmp(role, "system") != 0 && strcmp(role, "developer") != 0) {
        char q[QUOTE_MAX + 4];

        allot__anth_quote(q, role);
        return invalid(r,
                       "Invalid value for '%s.role': '%s'. Supported values are: 'user', "
                       "'assistant', 'system' and 'developer'.",
                       path, q);
    }
    assistant = strcmp(role, "assistant") == 0;
    if (!(content = allot_json_member(item, "content")))
        return missing(r, path, "content");
    allot_buf_reset(&r->text);
    allot_buf_reset(&r->parts);
    if (cJSON_IsString(content)) {
        if ((rc = allot_buf_adds(&r->text, content->valuestring)))
            return rc;
    } else if (cJSON_IsArray(content)) {
        with_parts = has_image_part(content);
        cJSON_ArrayForEach(part, content)
        {
            allot_fmt_path(ppath, sizeof ppath, path, ".content[", k++, "]");
            if (!cJSON_IsObject(part))
                return wrong_type(r, ppath, "", "an object");
            if ((rc = need_string(r, part, ppath, "type", &type)))
                return rc;
            if (strcmp(type, "input_text") == 0 || strcmp(type, "output_text") == 0) {
                if ((rc = need_string(r, part, ppath, "text", &s)) ||
                    (rc = add_text_part(r, s, n_text++, n_parts++, with_parts)))
                    return rc;
            } else if (strcmp(type, "refusal") == 0) {
                if ((rc = need_string(r, part, ppath, "refusal", &s)) ||
                    (rc = add_text_part(r, s, n_text++, n_parts++, with_parts)))
                    return rc;
            } else if (strcmp(type, "input_image") == 0) {
                if (strcmp(role, "user") != 0)
                    return invalid(r,
                                   "%s.type: input_image parts are only allowed in user "
                                   "messages",
                                   ppath);
                if ((rc = add_image_part(r, part, ppath, n_parts++)))
                    return rc;
                has_image = 1;
            } else {
                return unsupported(r, ppath, "content", type);
            }
        }
    } else {
        return wrong_type(r, path, "content", "a string or an array");
    }

    if ((rc = begin_message(r, role)) || (rc = allot_buf_adds(r->out, ",\"content\":")))
        return rc;
    if (has_image) {
        if ((rc = allot_buf_add(r->out, "[", 1)) ||
            (rc = allot_buf_add(r->out, r->parts.ptr, r->parts.len)) ||
            (rc = allot_buf_add(r->out, "]", 1)))
            return rc;
    } else if ((rc = allot_buf_add_json_str(r->out, allot_buf_cstr(&r->text), r->text.len))) {
        return rc;
    }
    if (r->view)
        view_message(r, role, with_parts);
    if (assistant) {
        r->open = OPEN_TEXT;
        return 0;
    }
    return allot_buf_add(r->out, "}", 1);
}

/* A tool call -> an entry of the open assistant message's tool_calls,
 * opening one (with null content) when none is open. arguments: len bytes
 * of JSON text, written as a JSON string. */
static int add_tool_call(struct req *r, const char *call_id, const char *name,
                         const char *arguments, size_t len)
{
    int rc = 0;

    if (r->open == OPEN_NONE) {
        rc = begin_message(r, "assistant");
        if (r->view) /* content null */
            allot_chat_build_other(r->view, 0, 0);
    }
    if (rc)
        return rc;
    if (r->open == OPEN_NONE)
        rc = allot_buf_adds(r->out, ",\"content\":null,\"tool_calls\":[");
    else if (r->open == OPEN_TEXT)
        rc = allot_buf_adds(r->out, ",\"tool_calls\":[");
    else
        rc = allot_buf_add(r->out, ",", 1);
    if (rc || (rc = allot_buf_adds(r->out, "{\"id\":")) ||
        (rc = allot__anth_add_str(r->out, call_id)) ||
        (rc = allot_buf_adds(r->out, ",\"type\":\"function\",\"function\":{\"name\":")) ||
        (rc = allot__anth_add_str(r->out, name)) ||
        (rc = allot_buf_adds(r->out, ",\"arguments\":")) ||
        (rc = allot_buf_add_json_str(r->out, arguments, len)) ||
        (rc = allot_buf_adds(r->out, "}}")))
        return rc;
    r->open = OPEN_CALLS;
    return 0;
}

/* A function_call item -> a tool call of the open assistant message. */
static int write_function_call(struct req *r, const cJSON *item, const char *path)
{
    const char *call_id, *name, *arguments;
    int rc;

    if ((rc = need_string(r, item, path, "call_id", &call_id)) ||
        (rc = need_string(r, item, path, "name", &name)) ||
        (rc = need_string(r, item, path, "arguments", &arguments)))
        return rc;
    return add_tool_call(r, call_id, name, arguments, strlen(arguments));
}

/* A custom_tool_call item -> a tool call of the open assistant message,
 * its input wrapped as the function tool it became takes it:
 * {"input":INPUT}. */
static int write_custom_tool_call(struct req *r, const cJSON *item, const char *path)
{
    const char *call_id, *name, *input;
    int rc;

    if ((rc = need_string(r, item, path, "call_id", &call_id)) ||
        (rc = need_string(r, item, path, "name", &name)) ||
        (rc = need_string(r, item, path, "input", &input)))
        return rc;
    allot_buf_reset(&r->text);
    if ((rc = allot_buf_adds(&r->text, "{\"input\":")) ||
        (rc = allot__anth_add_str(&r->text, input)) || (rc = allot_buf_add(&r->text, "}", 1)))
        return rc;
    return add_tool_call(r, call_id, name, allot_buf_cstr(&r->text), r->text.len);
}

/* A function_call_output (or custom_tool_call_output) item -> a tool
 * message; an output given as parts must be text, joined by blank lines. */
static int write_function_call_output(struct req *r, const cJSON *item, const char *path)
{
    const cJSON *output, *part;
    const char *call_id, *type, *s;
    char ppath[80];
    int rc, k = 0, n_text = 0;

    if ((rc = need_string(r, item, path, "call_id", &call_id)))
        return rc;
    if (!(output = allot_json_member(item, "output")))
        return missing(r, path, "output");
    allot_buf_reset(&r->text);
    if (cJSON_IsString(output)) {
        if ((rc = allot_buf_adds(&r->text, output->valuestring)))
            return rc;
    } else if (cJSON_IsArray(output)) {
        cJSON_ArrayForEach(part, output)
        {
            allot_fmt_path(ppath, sizeof ppath, path, ".output[", k++, "]");
            if (!cJSON_IsObject(part))
                return wrong_type(r, ppath, "", "an object");
            if ((rc = need_string(r, part, ppath, "type", &type)))
                return rc;
            if (strcmp(type, "input_text") != 0)
                return unsupported(r, ppath, "content", type);
            if ((rc = need_string(r, part, ppath, "text", &s)))
                return rc;
            if ((n_text++ && (rc = allot_buf_adds(&r->text, "\n\n"))) ||
                (rc = allot_buf_adds(&r->text, s)))
                return rc;
        }
    } else {
        return wrong_type(r, path, "output", "a string or an array");
    }
    if ((rc = begin_message(r, "tool")) || (rc = allot_buf_adds(r->out, ",\"tool_call_id\":")) ||
        (rc = allot__anth_add_str(r->out, call_id)) ||
        (rc = allot_buf_adds(r->out, ",\"content\":")) ||
        (rc = allot_buf_add_json_str(r->out, allot_buf_cstr(&r->text), r->text.len)) ||
        (rc = allot_buf_add(r->out, "}", 1)))
        return rc;
    if (r->view)
        allot_chat_build_other(r->view, r->text.len, 1);
    return 0;
}

/* input[i] -> zero or one chat message, or tool calls for the open one. */
static int write_item(struct req *r, int i, const cJSON *item)
{
    const char *type;
    char path[32];
    int rc;

    allot_fmt_path(path, sizeof path, "input[", "", i, "]");
    if (!cJSON_IsObject(item))
        return wrong_type(r, path, "", "an object");
    if ((rc = opt_string(r, item, path, "type", &type)))
        return rc;
    if (!type || strcmp(type, "message") == 0) /* easy input messages have no type */
        return write_message_item(r, item, path);
    if (strcmp(type, "function_call") == 0)
        return write_function_call(r, item, path);
    if (strcmp(type, "function_call_output") == 0 || strcmp(type, "custom_tool_call_output") == 0)
        return write_function_call_output(r, item, path);
    if (strcmp(type, "custom_tool_call") == 0)
        return write_custom_tool_call(r, item, path);
    if (strcmp(type, "reasoning") == 0)
        return 0; /* encrypted reasoning cannot pass through chat completions */
    if (strcmp(type, "item_reference") == 0)
        return invalid(r,
                       "%s: item_reference needs stored items; allot stores none: send the "
                       "item itself",
                       path);
    return unsupported(r, path, "item", type);
}

/* ---- the other parameters ---- */

/* A custom tool's description for the function tool it becomes: its own,
 * then, when its format is a grammar, the grammar, cut when the two would
 * pass CUSTOM_DESCRIPTION_MAX. Into r->text. */
static int custom_description(struct req *r, const cJSON *tool, const char *path,
                              const char *description)
{
    static const char cut[] = "\n(grammar cut here: allot sends at most 16 KB of a custom "
                              "tool's description and grammar)";
    const cJSON *format;
    const char *type, *syntax, *definition;
    char fpath[48], q[QUOTE_MAX + 4];
    size_t head, room, len;
    int rc;

    allot_buf_reset(&r->text);
    if (description && (rc = allot_buf_adds(&r->text, description)))
        return rc;
    snprintf(fpath, sizeof fpath, "%s.format", path);
    if ((rc = opt_object(r, tool, path, "format", &format)) || !format)
        return rc;
    if ((rc = need_string(r, format, fpath, "type", &type)))
        return rc;
    if (strcmp(type, "text") == 0)
        return 0;
    if (strcmp(type, "grammar") != 0) {
        allot__anth_quote(q, type);
        return invalid(r,
                       "Invalid value for '%s.type': '%s'. Supported values are: 'text' and "
                       "'grammar'.",
                       fpath, q);
    }
    if ((rc = need_string(r, format, fpath, "syntax", &syntax)) ||
        (rc = need_string(r, format, fpath, "definition", &definition)))
        return rc;
    if ((r->text.len && (rc = allot_buf_adds(&r->text, "\n\n"))) ||
        (rc = allot_buf_addf(&r->text, "Input: free text in this %s grammar:\n", syntax)))
        return rc;
    head = r->text.len;
    len = strlen(definition);
    if (head + len <= CUSTOM_DESCRIPTION_MAX)
        return allot_buf_add(&r->text, definition, len);
    room = head + sizeof cut - 1 < CUSTOM_DESCRIPTION_MAX
               ? CUSTOM_DESCRIPTION_MAX - head - (sizeof cut - 1)
               : 0;
    while (room && ((unsigned char)definition[room] & 0xC0) == 0x80)
        room--; /* not inside a UTF-8 sequence */
    if ((rc = allot_buf_add(&r->text, definition, room)) || (rc = allot_buf_adds(&r->text, cut)))
        return rc;
    return 0;
}

/* A custom tool -> a function tool taking its input as one string
 * argument; its name kept in r->custom. */
static int write_custom_tool(struct req *r, const cJSON *tool, const char *path)
{
    const char *name, *description;
    int rc;

    if ((rc = need_string(r, tool, path, "name", &name)) ||
        (rc = opt_string(r, tool, path, "description", &description)))
        return rc;
    if (strlen(name) >= sizeof r->custom.name[0])
        return invalid(r, "%s.name: a custom tool's name must be shorter than %zu bytes", path,
                       sizeof r->custom.name[0]);
    if (r->custom.n == ALLOT_RESPONSES_CUSTOM_MAX)
        return invalid(r, "tools: allot supports at most %d custom tools",
                       ALLOT_RESPONSES_CUSTOM_MAX);
    if ((rc = custom_description(r, tool, path, description)))
        return rc;
    if ((rc = allot_buf_adds(r->out, "{\"type\":\"function\",\"function\":{\"name\":")) ||
        (rc = allot__anth_add_str(r->out, name)))
        return rc;
    if (r->text.len &&
        ((rc = allot_buf_adds(r->out, ",\"description\":")) ||
         (rc = allot_buf_add_json_str(r->out, allot_buf_cstr(&r->text), r->text.len))))
        return rc;
    if ((rc = allot_buf_adds(
             r->out, ",\"parameters\":{\"type\":\"object\",\"properties\":{\"input\":"
                     "{\"type\":\"string\",\"description\":\"The tool's input, as free "
                     "text.\"}},\"required\":[\"input\"],\"additionalProperties\":false}}}")))
        return rc;
    snprintf(r->custom.name[r->custom.n++], sizeof r->custom.name[0], "%s", name);
    return 0;
}

/* The tools' translations this translator remembers, each with its
 * custom tools' names (tools_memo.c). */
ALLOT__TOOLS_MEMO(tools_memo);

size_t allot__responses_tools_remembered(void)
{
    return allot__tools_hits(&tools_memo);
}

void allot__responses_tools_forget(void)
{
    allot_thread_block_drop(&tools_memo);
}

/* "tools" -> chat function tools. *n: how many. */
static int write_tools(struct req *r, const cJSON *tools, int *n)
{
    const cJSON *tool, *parameters;
    const char *type, *name, *description;
    char path[32];
    int rc, i = 0, strict;

    *n = 0;
    if (!tools || cJSON_IsNull(tools))
        return 0;
    if (!cJSON_IsArray(tools))
        return wrong_type(r, "", "tools", "an array");
    cJSON_ArrayForEach(tool, tools)
    {
        allot_fmt_path(path, sizeof path, "tools[", "", i++, "]");
        if (!cJSON_IsObject(tool))
            return wrong_type(r, path, "", "an object");
        if ((rc = need_string(r, tool, path, "type", &type)))
            return rc;
        if (strcmp(type, "custom") == 0) {
            if ((rc = allot_buf_adds(r->out, *n ? "," : ",\"tools\":[")) ||
                (rc = write_custom_tool(r, tool, path)))
                return rc;
            (*n)++;
            continue;
        }
        if (strcmp(type, "function") != 0)
            return unsupported(r, path, "tool", type);
        if ((rc = need_string(r, tool, path, "name", &name)) ||
            (rc = opt_string(r, tool, path, "description", &description)) ||
            (rc = opt_object(r, tool, path, "parameters", &parameters)) ||
            (rc = opt_bool(r, tool, path, "strict", &strict)))
            return rc;
        if ((rc = allot_buf_adds(r->out, *n ? "," : ",\"tools\":[")) ||
            (rc = allot_buf_adds(r->out, "{\"type\":\"function\",\"function\":{\"name\":")) ||
            (rc = allot__anth_add_str(r->out, name)))
            return rc;
        if (description && ((rc = allot_buf_adds(r->out, ",\"description\":")) ||
                            (rc = allot__anth_add_str(r->out, description))))
            return rc;
        if (parameters && ((rc = allot_buf_adds(r->out, ",\"parameters\":")) ||
                           (rc = allot__anth_add_json(r->out, parameters))))
            return rc;
        if (strict >= 0 &&
            (rc = allot_buf_adds(r->out, strict ? ",\"strict\":true" : ",\"strict\":false")))
            return rc;
        if ((rc = allot_buf_adds(r->out, "}}")))
            return rc;
        (*n)++;
    }
    if (*n && (rc = allot_buf_add(r->out, "]", 1)))
        return rc;
    return 0;
}

/* "tool_choice" and "parallel_tool_calls": checked always, written only
 * when there are tools, as chat completions refuses them without. */
static int write_tool_choice(struct req *r, const cJSON *root, int n_tools)
{
    const cJSON *choice = allot_json_member(root, "tool_choice");
    const char *type, *name = NULL, *mode = NULL;
    char q[QUOTE_MAX + 4];
    int rc, parallel;

    if (cJSON_IsString(choice)) {
        mode = choice->valuestring;
        if (strcmp(mode, "auto") != 0 && strcmp(mode, "none") != 0 &&
            strcmp(mode, "required") != 0) {
            allot__anth_quote(q, mode);
            return invalid(r,
                           "Invalid value for 'tool_choice': '%s'. Supported values are: "
                           "'auto', 'none' and 'required'.",
                           q);
        }
    } else if (cJSON_IsObject(choice)) {
        if ((rc = need_string(r, choice, "tool_choice", "type", &type)))
            return rc;
        if (strcmp(type, "function") != 0 && strcmp(type, "custom") != 0)
            return unsupported(r, "tool_choice", "tool choice", type);
        if ((rc = need_string(r, choice, "tool_choice", "name", &name)))
            return rc;
    } else if (choice && !cJSON_IsNull(choice)) {
        return wrong_type(r, "", "tool_choice", "a string or an object");
    }
    if ((rc = opt_bool(r, root, "", "parallel_tool_calls", &parallel)))
        return rc;
    if (!n_tools)
        return 0;
    if (mode && ((rc = allot_buf_adds(r->out, ",\"tool_choice\":")) ||
                 (rc = allot__anth_add_str(r->out, mode))))
        return rc;
    if (name && ((rc = allot_buf_adds(
                      r->out, ",\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":")) ||
                 (rc = allot__anth_add_str(r->out, name)) || (rc = allot_buf_adds(r->out, "}}"))))
        return rc;
    if (parallel >= 0 && (rc = allot_buf_adds(r->out, parallel ? ",\"parallel_tool_calls\":true"
                                                               : ",\"parallel_tool_calls\":false")))
        return rc;
    return 0;
}

/* "text": format -> response_format; *verbosity: text.verbosity, written
 * last. */
static int write_text(struct req *r, const cJSON *root, const char **verbosity)
{
    const cJSON *text, *format, *schema;
    const char *type, *name, *description;
    char q[QUOTE_MAX + 4];
    int rc, strict;

    *verbosity = NULL;
    if ((rc = opt_object(r, root, "", "text", &text)) || !text)
        return rc;
    if ((rc = opt_string(r, text, "text", "verbosity", verbosity)) ||
        (rc = opt_object(r, text, "text", "format", &format)) || !format)
        return rc;
    if ((rc = need_string(r, format, "text.format", "type", &type)))
        return rc;
    if (strcmp(type, "text") == 0)
        return 0; /* chat completions' default */
    if (r->view)  /* a response_format is a tree the reading does not build */
        allot_chat_build_fail(r->view);
    if (strcmp(type, "json_object") == 0)
        return allot_buf_adds(r->out, ",\"response_format\":{\"type\":\"json_object\"}");
    if (strcmp(type, "json_schema") != 0) {
        allot__anth_quote(q, type);
        return invalid(r,
                       "Invalid value for 'text.format.type': '%s'. Supported values are: "
                       "'text', 'json_object' and 'json_schema'.",
                       q);
    }
    if ((rc = need_string(r, format, "text.format", "name", &name)))
        return rc;
    if (!(schema = allot_json_member(format, "schema")))
        return missing(r, "text.format", "schema");
    if (!cJSON_IsObject(schema))
        return wrong_type(r, "text.format", "schema", "an object");
    if ((rc = opt_string(r, format, "text.format", "description", &description)) ||
        (rc = opt_bool(r, format, "text.format", "strict", &strict)))
        return rc;
    if ((rc = allot_buf_adds(r->out,
                             ",\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{"
                             "\"name\":")) ||
        (rc = allot__anth_add_str(r->out, name)) || (rc = allot_buf_adds(r->out, ",\"schema\":")) ||
        (rc = allot__anth_add_json(r->out, schema)))
        return rc;
    if (description && ((rc = allot_buf_adds(r->out, ",\"description\":")) ||
                        (rc = allot__anth_add_str(r->out, description))))
        return rc;
    if (strict >= 0 &&
        (rc = allot_buf_adds(r->out, strict ? ",\"strict\":true" : ",\"strict\":false")))
        return rc;
    return allot_buf_adds(r->out, "}}");
}

/* Everything after messages, in output order; the tools' text is known's
 * find when there is one (the tree holds null for them), else made from
 * the tree and kept as the translation of tools_raw. */
static int write_options(struct req *r, const cJSON *root, const struct allot__tools_lookup *known,
                         struct allot_slice tools_raw, int *n_tools_out)
{
    static const char *const numbers[] = {"temperature", "top_p"};
    const cJSON *v, *reasoning;
    const char *user, *effort = NULL, *verbosity;
    size_t i, tools_at;
    int rc, stream, n_tools;

    if ((v = allot_json_member(root, "max_output_tokens")) && !cJSON_IsNull(v)) {
        if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) ||
            fabs(v->valuedouble) > EXACT_INT_MAX)
            return wrong_type(r, "", "max_output_tokens", "an integer");
        if (v->valuedouble < 1)
            return invalid(r, "Invalid 'max_output_tokens': integer below minimum value. "
                              "Expected a value >= 1.");
        if ((rc = allot_buf_adds(r->out, ",\"max_tokens\":")) ||
            (rc = allot__anth_add_number(r->out, v->valuedouble)))
            return rc;
    }
    for (i = 0; i < sizeof numbers / sizeof numbers[0]; i++) {
        if (!(v = allot_json_member(root, numbers[i])) || cJSON_IsNull(v))
            continue;
        if (!cJSON_IsNumber(v))
            return wrong_type(r, "", numbers[i], "a number");
        if ((rc = allot_buf_adds(r->out, ",\"")) || (rc = allot_buf_adds(r->out, numbers[i])) ||
            (rc = allot_buf_adds(r->out, "\":")) ||
            (rc = allot__anth_add_number(r->out, v->valuedouble)))
            return rc;
    }
    if ((rc = opt_bool(r, root, "", "stream", &stream)))
        return rc;
    if (stream >= 0 &&
        (rc = allot_buf_adds(r->out, stream ? ",\"stream\":true" : ",\"stream\":false")))
        return rc;
    if ((rc = opt_string(r, root, "", "user", &user)))
        return rc;
    if (!user && cJSON_IsString(v = allot_json_member(root, "safety_identifier")))
        user = v->valuestring; /* the parameter that replaces user */
    if (user &&
        ((rc = allot_buf_adds(r->out, ",\"user\":")) || (rc = allot__anth_add_str(r->out, user))))
        return rc;
    tools_at = r->out->len;
    if (known->found) {
        const struct allot__tools_kept *k = known->found;
        n_tools = k->n;
        if (k->extra.len == sizeof r->custom)
            memcpy(&r->custom, k->extra.ptr, sizeof r->custom);
        if ((rc = allot_buf_add(r->out, k->out.ptr, k->out.len)))
            return rc;
    } else if ((rc = write_tools(r, allot_json_member(root, "tools"), &n_tools))) {
        return rc;
    } else if (tools_raw.ptr) {
        allot__tools_keep(&tools_memo, tools_raw, r->out->ptr + tools_at, r->out->len - tools_at,
                          n_tools, &r->custom, sizeof r->custom);
    }
    *n_tools_out = n_tools;
    if ((rc = write_tool_choice(r, root, n_tools)) || (rc = write_text(r, root, &verbosity)))
        return rc;
    if ((rc = opt_object(r, root, "", "reasoning", &reasoning)) ||
        (reasoning && (rc = opt_string(r, reasoning, "reasoning", "effort", &effort))))
        return rc;
    if (reasoning && effort &&
        ((rc = allot_buf_adds(r->out, ",\"reasoning_effort\":")) ||
         (rc = allot__anth_add_str(r->out, effort))))
        return rc;
    if (verbosity && ((rc = allot_buf_adds(r->out, ",\"verbosity\":")) ||
                      (rc = allot__anth_add_str(r->out, verbosity))))
        return rc;
    return 0;
}

/* The translation, with the reading built in *view when it is not NULL
 * (its result in *view_rc: 0 when built). */
static int translate(const char *body, size_t len, struct allot_buf *out, struct allot_buf *err,
                     struct allot_responses_custom *custom, struct allot_chat_build *view,
                     int *view_rc)
{
    struct req r;
    const cJSON *model, *input, *item;
    const char *instructions;
    struct allot__tools_lookup known = {&tools_memo, NULL};
    struct allot_slice tools_raw;
    cJSON *root;
    size_t start = out->len;
    int rc, i = 0, n_tools = 0;

    memset(&r, 0, sizeof r);
    if (custom)
        custom->n = 0;
    r.out = out;
    r.err = err;
    r.view = view;
    allot_buf_init(&r.text, out->max);
    allot_buf_init(&r.parts, out->max);
    if (!(root = allot__anth_parse_request_known(body, len, err, &rc, "tools", allot__tools_known,
                                                 &known, &tools_raw, NULL)))
        goto out;

    /* the required fields and what allot refuses, before anything is
     * written */
    model = allot_json_member(root, "model");
    input = allot_json_member(root, "input");
    if (!model) {
        rc = missing(&r, "", "model");
        goto out;
    }
    if (!cJSON_IsString(model)) {
        rc = wrong_type(&r, "", "model", "a string");
        goto out;
    }
    if ((rc = refuse_stored_state(&r, root)))
        goto out;
    if (!input) {
        rc = missing(&r, "", "input");
        goto out;
    }
    if (!cJSON_IsString(input) && !cJSON_IsArray(input)) {
        rc = wrong_type(&r, "", "input", "a string or an array");
        goto out;
    }
    if ((rc = opt_string(&r, root, "", "instructions", &instructions)))
        goto out;

    if ((rc = allot__anth_open_body(out, start, model->valuestring, view)))
        goto out;
    if ((rc = allot_buf_adds(out, ",\"messages\":[")) ||
        (rc = write_instructions(&r, instructions)))
        goto out;
    if (cJSON_IsString(input)) {
        if ((rc = begin_message(&r, "user")) || (rc = allot_buf_adds(out, ",\"content\":")) ||
            (rc = allot__anth_add_str(out, input->valuestring)) ||
            (rc = allot_buf_add(out, "}", 1)))
            goto out;
        if (view) {
            allot_chat_build_text(view, input->valuestring, strlen(input->valuestring));
            allot_chat_build_user(view);
        }
    } else {
        cJSON_ArrayForEach(item, input)
        {
            if ((rc = write_item(&r, i++, item)))
                goto out;
        }
    }
    if ((rc = close_open(&r)))
        goto out;
    if (!r.n_messages) {
        rc = invalid(&r, "input: must contain at least one message");
        goto out;
    }
    if ((rc = allot_buf_add(out, "]", 1)) ||
        (rc = write_options(&r, root, &known, tools_raw, &n_tools)) ||
        (rc = allot_buf_add(out, "}", 1)))
        goto out;
    if (view) /* stream was checked a boolean by write_options() */
        *view_rc = allot_chat_build_end(view, cJSON_IsTrue(allot_json_member(root, "stream")),
                                        n_tools > 0);
out:
    if (rc)
        allot__anth_buf_cut(out, start);
    else if (custom)
        *custom = r.custom;
    cJSON_Delete(root);
    allot_buf_release(&r.text);
    allot_buf_release(&r.parts);
    return rc;
}

int allot_responses_request(const char *body, size_t len, struct allot_buf *out,
                            struct allot_buf *err, struct allot_responses_custom *custom)
{
    return translate(body, len, out, err, custom, NULL, NULL);
}

int allot_responses_request_read(const char *body, size_t len, struct allot_buf *out,
                                 struct allot_buf *err, struct allot_responses_custom *custom,
                                 struct allot_chat_request *chat, int *built)
{
    struct allot_chat_build view;
    int rc, view_rc = ALLOT_EINVAL;

    allot_chat_build_begin(&view, chat);
    rc = translate(body, len, out, err, custom, &view, &view_rc);
    *built = rc == 0 && view_rc == 0;
    if (!*built) /* what was built goes: the caller reads out, or fails */
        allot_chat_request_release(chat);
    return rc;
}

int allot_responses_body_is(const char *body, size_t len)
{
    cJSON *root = cJSON_ParseWithLength(body ? body : "", len);
    int is = cJSON_IsObject(root) && allot_json_member(root, "input") &&
             !allot_json_member(root, "messages");

    cJSON_Delete(root);
    return is;
}
