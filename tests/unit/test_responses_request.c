/* test_responses_request.c: a Responses API request translated to a
 * chat-completions body (responses.h, allot_responses_request). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cJSON.h>
#include "allot/chat_request.h"
#include "allot/error.h"
#include "allot/responses.h"
#include "edits.h"
#include "gateway/anthropic_internal.h"
#include "json_path.h"
#include "test.h"
#include "../fuzz/same_reading.h"

/* ---- helpers ---- */

/* Translate a request (written with '); the chat body parsed, or NULL.
 * custom (may be NULL) gets the custom tools' names. */
static cJSON *request_custom(const char *sq, struct allot_responses_custom *custom, int *rc)
{
    struct allot_buf out, err;
    const char *body = json_sq(sq);
    cJSON *root = NULL;

    allot_buf_init(&out, 1u << 20);
    allot_buf_init(&err, 1024);
    *rc = allot_responses_request(body, strlen(body), &out, &err, custom);
    if (*rc == 0)
        root = cJSON_Parse(allot_buf_cstr(&out));
    allot_buf_release(&out);
    allot_buf_release(&err);
    return root;
}

static cJSON *request(const char *sq, int *rc)
{
    return request_custom(sq, NULL, rc);
}

/* Translate a request that must be refused: the message for the client,
 * or a note of what went wrong instead ("(rc N)", "(out changed)",
 * "(custom not emptied)"). out starts with text of its own, which must
 * survive. */
static const char *request_error(const char *sq)
{
    static char msg[512];
    struct allot_buf out, err;
    struct allot_responses_custom custom = {.n = 3};
    const char *body = json_sq(sq);
    int rc;

    allot_buf_init(&out, 1u << 20);
    allot_buf_init(&err, 1024);
    if (allot_buf_adds(&out, "KEEP")) {
        snprintf(msg, sizeof msg, "(no memory)");
    } else {
        rc = allot_responses_request(body, strlen(body), &out, &err, &custom);
        if (rc != ALLOT_EINVAL)
            snprintf(msg, sizeof msg, "(rc %d)", rc);
        else if (strcmp(allot_buf_cstr(&out), "KEEP") != 0)
            snprintf(msg, sizeof msg, "(out changed)");
        else if (custom.n != 0)
            snprintf(msg, sizeof msg, "(custom not emptied)");
        else if (strchr(allot_buf_cstr(&err), '\n'))
            snprintf(msg, sizeof msg, "(newline in message)");
        else
            snprintf(msg, sizeof msg, "%s", allot_buf_cstr(&err));
    }
    allot_buf_release(&out);
    allot_buf_release(&err);
    return msg;
}

/* ---- the basics ---- */

TEST(responses_request_minimal_string_input)
{
    int rc;
    cJSON *o = request("{'model':'gpt-x','input':'hi'}", &rc);

    ASSERT_INT_EQ(rc, 0);
    ASSERT(o);
    ASSERT_STR_EQ(json_keys(o), "model,messages");
    ASSERT_STR_EQ(json_str(o, "model"), "gpt-x");
    ASSERT_INT_EQ(json_size(o, "messages"), 1);
    ASSERT_STR_EQ(json_keys(json_at(o, "messages.0")), "role,content");
    ASSERT_STR_EQ(json_str(o, "messages.0.role"), "user");
    ASSERT_STR_EQ(json_str(o, "messages.0.content"), "hi");
    cJSON_Delete(o);
}

TEST(responses_request_instructions_first)
{
    int rc;
    cJSON *o = request("{'model':'m','instructions':'Be terse.','input':[{'role':'user',"
                       "'content':'q'}]}",
                       &rc);

    ASSERT_INT_EQ(rc, 0);
    ASSERT(o);
    ASSERT_INT_EQ(json_size(o, "messages"), 2);
    ASSERT_STR_EQ(json_str(o, "messages.0.role"), "system");
    ASSERT_STR_EQ(json_str(o, "messages.0.content"), "Be terse.");
    ASSERT_STR_EQ(json_str(o, "messages.1.role"), "user");
    ASSERT_STR_EQ(json_str(o, "messages.1.content"), "q");
    cJSON_Delete(o);

    /* null or empty instructions add no message */
    o = request("{'model':'m','instructions':null,'input':'q'}", &rc);
    ASSERT_INT_EQ(rc, 0);
    ASSERT(o);
    ASSERT_INT_EQ(json_size(o, "messages"), 1);
    ASSERT_STR_EQ(json_str(o, "messages.0.role"), "user");
    cJSON_Delete(o);
    o = request("{'model':'m','instructions':'','input':'q'}", &rc);
    ASSERT_INT_EQ(rc, 0);
    ASSERT(o);
    ASSERT_INT_EQ(json_size(o, "messages"), 1);
    cJSON_Delete(o);

    /* instructions alone are a conversation */
    o = request("{'model':'m','instructions':'Say hi.','input':[]}", &rc);
    ASSERT_INT_EQ(rc, 0);
    ASSERT(o);
    ASSERT_INT_EQ(json_size(o, "messages"), 1);
    ASSERT_STR_EQ(json_str(o, "messages.0.role"), "system");
    cJSON_Delete(o);

    ASSERT_STR_EQ(request_error("{'model':'m','instructions':5,'input':'q'}"),
                  "Invalid type for 'instructions': expected a string.");
}

TEST(responses_request_message_items_all_roles)
{
    int rc;
    cJSON *o = request("{'model':'m','input':["
                       "{'role':'developer','content':'dev rules'},"
                       "{'type':'message','role':'system','content':[{'type':'input_text',"
                       "'text':'sys'}]},"
                       "{'type':'message','role':'user','content':[{'type':'input_text','text':"
                       "'one'},{'type':'input_text','text':'two'}]},"
                       "{'type':'message','role':'assistant','id':'msg_1','status':'completed',"
                       "'content':[{'type':'output_text','text':'answer','annotations':[]}]},"
                       "{'role':'assistant','content':[{'type':'refusal','refusal':'no'}]},"
                       "{'role':'user','content':'plain'}]}",
                       &rc);

    ASSERT_INT_EQ(rc, 0);
    ASSERT(o);
    ASSERT_INT_EQ(json_size(o, "messages"), 6);
    ASSERT_STR_EQ(json_str(o, "messages.0.role"), "developer");
    ASSERT_STR_EQ(json_str(o, "messages.0.content"), "dev rules");
    ASSERT_STR_EQ(json_str(o, "messages.1.role"), "system");
    ASSERT_STR_EQ(json_str(o, "messages.1.content"), "sys");
    ASSERT_STR_EQ(json_str(o, "messages.2.role"), "user");
    ASSERT_STR_EQ(json_str(o, "messages.2.content"), "one\n\ntwo");
    ASSERT_STR_EQ(json_str(o, "messages.3.role"), "assistant");
    ASSERT_STR_EQ(json_keys(json_at(o, "messages.3")), "role,content");
    ASSERT_STR_EQ(json_str(o, "messages.3.content"), "answer");
    ASSERT_STR_EQ(json_str(o, "messages.4.role"), "assistant");
    ASSERT_STR_EQ(json_str(o, "messages.4.content"), "no");
    ASSERT_STR_EQ(json_str(o, "messages.5.role"), "user");
    ASSERT_STR_EQ(json_str(o, "messages.5.content"), "plain");
    cJSON_Delete(o);

    /* an empty part list is an empty message */
    o = request("{'model':'m','input':[{'role':'user','content':[]}]}", &rc);
    ASSERT_INT_EQ(rc, 0);
    ASSERT(o);
    ASSERT_STR_EQ(json_str(o, "messages.0.content"), "");
    cJSON_Delete(o);
}

TEST(responses_request_images)
{
    int rc;
    cJSON *o = request("{'model':'m','input':[{'role':'user','content':["
                       "{'type':'input_text','text':'What is this?'},"
                       "{'type':'input_image','image_url':'https://x/cat.png','detail':'low'},"
                       "{'type':'input_image','image_url':'data:image/png;base64,AAAA'}]}]}",
                       &rc);

    ASSERT_INT_EQ(rc, 0);
    ASSERT(o);
    ASSERT_INT_EQ(json_size(o, "messages"), 1);
    ASSERT_INT_EQ(json_size(o, "messages.0.content"), 3);
    ASSERT_STR_EQ(json_str(o, "messages.0.content.0.type"), "text");
    ASSERT_STR_EQ(json_str(o, "messages.0.content.0.text"), "What is this?");
    ASSERT_STR_EQ(json_str(o, "messages.0.content.1.type"), "image_url");
    ASSERT_STR_EQ(json_str(o, "messages.0.content.1.image_url.url"), "https://x/cat.png");
    ASSERT_STR_EQ(json_str(o, "messages.0.content.1.image_url.detail"), "low");
    ASSERT_STR_EQ(json_str(o, "messages.0.content.2.image_url.url"), "data:image/png;base64,AAAA");
    ASSERT(!json_at(o, "messages.0.content.2.image_url.detail"));
    cJSON_Delete(o);

    ASSERT_STR_EQ(request_error("{'model':'m','input':[{'role':'user','content':[{'type':"
                                "'input_image','file_id':'file-1'}]}]}"),
                  "input[0].content[0].file_id: images stored as OpenAI files are not "
                  "supported by allot; send image_url");
    ASSERT_STR_EQ(request_error("{'model':'m','input':[{'role':'assistant','content':[{'type':"
                                "'input_image','image_url':'https://x/a.png'}]}]}"),
                  "input[0].content[0].type: input_image parts are only allowed in user "
                  "messages");
    ASSERT_STR_EQ(request_error("{'model':'m','input':[{'role':'user','content':[{'type':"
                                "'input_image','detail':'auto'}]}]}"),
                  "Missing required parameter: 'input[0].content[0].image_url'.");
}

/* ---- tool calls ---- */

TEST(responses_request_function_call_round_trip)
{
    int rc;
    cJSON *o =
        request("{'model':'m','input':["
                "{'role':'user','content':'weather in Paris and Rome?'},"
                "{'type':'reasoning','id':'rs_1','summary':[],'encrypted_content':'gAAA'},"
                "{'type':'message','role':'assistant','content':[{'type':'output_text','text':"
                "'Checking.'}]},"
                "{'type':'function_call','id':'fc_1','call_id':'call_a','name':'weather',"
                "'arguments':'{\\'city\\':\\'Paris\\'}','status':'completed'},"
                "{'type':'function_call','call_id':'call_b','name':'weather',"
                "'arguments':'{\\'city\\':\\'Rome\\'}'},"
                "{'type':'function_call_output','call_id':'call_a','output':'18C'},"
                "{'type':'function_call_output','call_id':'call_b','output':[{'type':'input_text',"
                "'text':'21C'},{'type':'input_text','text':'sunny'}]},"
                "{'type':'function_call','call_id':'call_c','name':'clock','arguments':'{}'},"
                "{'type':'function_call_output','call_id':'call_c','output':'noon'}]}",
                &rc);

    ASSERT_INT_EQ(rc, 0);
    ASSERT(o);
    ASSERT_INT_EQ(json_size(o, "messages"), 6);
    ASSERT_STR_EQ(json_str(o, "messages.0.role"), "user");

    /* the text and both calls: one assistant message */
    ASSERT_STR_EQ(json_keys(json_at(o, "messages.1")), "role,content,tool_calls");
    ASSERT_STR_EQ(json_str(o, "messages.1.role"), "assistant");
    ASSERT_STR_EQ(json_str(o, "messages.1.content"), "Checking.");
    ASSERT_INT_EQ(json_size(o, "messages.1.tool_calls"), 2);
    ASSERT_STR_EQ(json_str(o, "messages.1.tool_calls.0.id"), "call_a");
    ASSERT_STR_EQ(json_str(o, "messages.1.tool_calls.0.type"), "function");
    ASSERT_STR_EQ(json_str(o, "messages.1.tool_calls.0.function.name"), "weather");
    ASSERT_STR_EQ(json_str(o, "messages.1.tool_calls.0.function.arguments"),
                  "{\"city\":\"Paris\"}");
    ASSERT_STR_EQ(json_str(o, "messages.1.tool_calls.1.id"), "call_b");
    ASSERT_STR_EQ(json_str(o, "messages.1.tool_calls.1.function.arguments"), "{\"city\":\"Rome\"}");

    /* then the two tool messages, in order */
    ASSERT_STR_EQ(json_keys(json_at(o, "messages.2")), "role,tool_call_id,content");
    ASSERT_STR_EQ(json_str(o, "messages.2.role"), "tool");
    ASSERT_STR_EQ(json_str(o, "messages.2.tool_call_id"), "call_a");
    ASSERT_STR_EQ(json_str(o, "messages.2.content"), "18C");
    ASSERT_STR_EQ(json_str(o, "messages.3.role"), "tool");
    ASSERT_STR_EQ(json_str(o, "messages.3.tool_call_id"), "call_b");
    ASSERT_STR_EQ(json_str(o, "messages.3.content"), "21C\n\nsunny");

    /* a call after a tool message: a new assistant message with no text */
    ASSERT_STR_EQ(json_str(o, "messages.4.role"), "assistant");
    ASSERT(cJSON_IsNull(json_at(o, "messages.4.content")));
    ASSERT_INT_EQ(json_size(o, "messages.4.tool_calls"), 1);
    ASSERT_STR_EQ(json_str(o, "messages.4.tool_calls.0.id"), "call_c");
    ASSERT_STR_EQ(json_str(o, "messages.4.tool_calls.0.function.name"), "clock");
    ASSERT_STR_EQ(json_str(o, "messages.5.tool_call_id"), "call_c");
    cJSON_Delete(o);
}

TEST(responses_request_function_calls_do_not_join_other_messages)
{
    int rc;
    /* a user message between: the calls get their own assistant message;
     * two assistant texts stay two messages */
    cJSON *o = request("{'model':'m','input':["
                       "{'role':'assistant','content':'first'},"
                       "{'role':'assistant','content':'second'},"
                       "{'role':'user','content':'go'},"
                       "{'type':'function_call','call_id':'c1','name':'f','arguments':'{}'},"
                       "{'role':'assistant','content':'after'}]}",
                       &rc);

    ASSERT_INT_EQ(rc, 0);
    ASSERT(o);
    ASSERT_INT_EQ(json_size(o, "messages"), 5);
    ASSERT_STR_EQ(json_str(o, "messages.0.content"), "first");
    ASSERT(!json_at(o, "messages.0.tool_calls"));
    ASSERT_STR_EQ(json_str(o, "messages.1.content"), "second");
    ASSERT(!json_at(o, "messages.1.tool_calls"));
    ASSERT_STR_EQ(json_str(o, "messages.2.role"), "user");
    ASSERT_STR_EQ(json_str(o, "messages.3.role"), "assistant");
    ASSERT(cJSON_IsNull(json_at(o, "messages.3.content")));
    ASSERT_STR_EQ(json_str(o, "messages.3.tool_calls.0.id"), "c1");
    ASSERT_STR_EQ(json_str(o, "messages.4.content"), "after");
    ASSERT(!json_at(o, "messages.4.tool_calls"));
    cJSON_Delete(o);
}

TEST(responses_request_reasoning_items_dropped)
{
    int rc;
    cJSON *o = request("{'model':'m','input':[{'type':'reasoning','id':'rs_1','summary':[{"
                       "'type':'summary_text','text':'thinking'}]},{'role':'user','content':"
                       "'q'},{'type':'reasoning','id':'rs_2','encrypted_content':'x'}]}",
                       &rc);

    ASSERT_INT_EQ(rc, 0);
    ASSERT(o);
    ASSERT_INT_EQ(json_size(o, "messages"), 1);
    ASSERT_STR_EQ(json_str(o, "messages.0.role"), "user");
    ASSERT_STR_EQ(json_str(o, "messages.0.content"), "q");
    cJSON_Delete(o);

    /* reasoning alone is no conversation */
    ASSERT_STR_EQ(request_error("{'model':'m','input':[{'type':'reasoning','id':'rs_1',"
                                "'summary':[]}]}"),
                  "input: must contain at least one message");
}

TEST(responses_request_tools_and_tool_choice)
{
    int rc;
    cJSON *o = request("{'model':'m','input':'q','tools':[{'type':'function','name':'weather',"
                       "'description':'Weather now','parameters':{'type':'object',"
                       "'properties':{'city':{'type':'string'}},'required':['city']},"
                       "'strict':true},{'type':'function','name':'clock','parameters':null,"
                       "'strict':null}],'tool_choice':{'type':'function','name':'weather'},"
                       "'parallel_tool_calls':false}",
                       &rc);

    ASSERT_INT_EQ(rc, 0);
    ASSERT(o);
    ASSERT_STR_EQ(json_keys(o), "model,messages,tools,tool_choice,parallel_tool_calls");
    ASSERT_INT_EQ(json_size(o, "tools"), 2);
    ASSERT_STR_EQ(json_keys(json_at(o, "tools.0")), "type,function");
    ASSERT_STR_EQ(json_str(o, "tools.0.type"), "function");
    ASSERT_STR_EQ(json_keys(json_at(o, "tools.0.function")), "name,description,parameters,strict");
    ASSERT_STR_EQ(json_str(o, "tools.0.function.name"), "weather");
    ASSERT_STR_EQ(json_str(o, "tools.0.function.description"), "Weather now");
    ASSERT_STR_EQ(json_str(o, "tools.0.function.parameters.properties.city.type"), "string");
    ASSERT_STR_EQ(json_str(o, "tools.0.function.parameters.required.0"), "city");
    ASSERT(cJSON_IsTrue(json_at(o, "tools.0.function.strict")));
    ASSERT_STR_EQ(json_keys(json_at(o, "tools.1.function")), "name");
    ASSERT_STR_EQ(json_str(o, "tool_choice.type"), "function");
    ASSERT_STR_EQ(json_str(o, "tool_choice.function.name"), "weather");
    ASSERT(cJSON_IsFalse(json_at(o, "parallel_tool_calls")));
    cJSON_Delete(o);

    o = request("{'model':'m','input':'q','tools':[{'type':'function','name':'f'}],"
                "'tool_choice':'required','parallel_tool_calls':true}",
                &rc);
    ASSERT_INT_EQ(rc, 0);
    ASSERT(o);
    ASSERT_STR_EQ(json_str(o, "tool_choice"), "required");
    ASSERT(cJSON_IsTrue(json_at(o, "parallel_tool_calls")));
    cJSON_Delete(o);

    /* without tools, chat completions refuses tool_choice and
     * parallel_tool_calls: they are checked, not sent */
    o = request("{'model':'m','input':'q','tools':[],'tool_choice':'auto',"
                "'parallel_tool_calls':true}",
                &rc);
    ASSERT_INT_EQ(rc, 0);
    ASSERT(o);
    ASSERT_STR_EQ(json_keys(o), "model,messages");
    cJSON_Delete(o);
    ASSERT_STR_EQ(request_error("{'model':'m','input':'q','tool_choice':'sometimes'}"),
                  "Invalid value for 'tool_choice': 'sometimes'. Supported values are: 'auto', "
                  "'none' and 'required'.");
    ASSERT_STR_EQ(request_error("{'model':'m','input':'q','parallel_tool_calls':'yes'}"),
                  "Invalid type for 'parallel_tool_calls': expected a boolean.");
}

/* ---- custom tools ---- */

/* The parameters every custom tool's function takes. */
#define CUSTOM_PARAMETERS                                                                          \
    "{\"type\":\"object\",\"properties\":{\"input\":{\"type\":\"string\",\"description\":"         \
    "\"The tool's input, as free text.\"}},\"required\":[\"input\"],"                              \
    "\"additionalProperties\":false}"

/* v serialised compactly (a static buffer), or "(none)". */
static const char *json_text(const cJSON *v)
{
    static char text[4096];
    char *p = v ? cJSON_PrintUnformatted(v) : NULL;

    snprintf(text, sizeof text, "%s", p ? p : "(none)");
    cJSON_free(p);
    return text;
}

TEST(responses_request_custom_tools)
{
    struct allot_responses_custom custom = {.n = 9};
    int rc;
    cJSON *o = request_custom(
        "{'model':'m','input':'q','tools':["
        "{'type':'custom','name':'apply_patch','description':'Edit files.','format':{'type':"
        "'grammar','syntax':'lark','definition':'start: begin_patch hunk+ end_patch\\n"
        "begin_patch: \\'*** Begin Patch\\''}},"
        "{'type':'function','name':'weather','parameters':{'type':'object'}},"
        "{'type':'custom','name':'note','description':'Write a note.','format':{'type':'text'}},"
        "{'type':'custom','name':'raw'},"
        "{'type':'custom','name':'bare','format':{'type':'grammar','syntax':'regex',"
        "'definition':'[a-z]+'}}]}",
        &custom, &rc);

    ASSERT_INT_EQ(rc, 0);
    ASSERT(o);
    ASSERT_STR_EQ(json_keys(o), "model,messages,tools");
    ASSERT_INT_EQ(json_size(o, "tools"), 5);
    /* a grammar is appended to the description */
    ASSERT_STR_EQ(json_keys(json_at(o, "tools.0")), "type,function");
    ASSERT_STR_EQ(json_str(o, "tools.0.type"), "function");
    ASSERT_STR_EQ(json_keys(json_at(o, "tools.0.function")), "name,description,parameters");
    ASSERT_STR_EQ(json_str(o, "tools.0.function.name"), "apply_patch");
    ASSERT_STR_EQ(json_str(o, "tools.0.function.description"),
                  "Edit files.\n\nInput: free text in this lark grammar:\n"
                  "start: begin_patch hunk+ end_patch\nbegin_patch: \"*** Begin Patch\"");
    ASSERT_STR_EQ(json_text(json_at(o, "tools.0.function.parameters")), CUSTOM_PARAMETERS);
    /* a function tool among them is as before */
    ASSERT_STR_EQ(json_str(o, "tools.1.function.name"), "weather");
    ASSERT_STR_EQ(json_text(json_at(o, "tools.1.function.parameters")), "{\"type\":\"object\"}");
    /* text format, or none: the description as it is, or none */
    ASSERT_STR_EQ(json_str(o, "tools.2.function.name"), "note");
    ASSERT_STR_EQ(json_str(o, "tools.2.function.description"), "Write a note.");
    ASSERT_STR_EQ(json_text(json_at(o, "tools.2.function.parameters")), CUSTOM_PARAMETERS);
    ASSERT_STR_EQ(json_keys(json_at(o, "tools.3.function")), "name,parameters");
    ASSERT_STR_EQ(json_str(o, "tools.3.function.name"), "raw");
    ASSERT_STR_EQ(json_str(o, "tools.4.function.description"),
                  "Input: free text in this regex grammar:\n[a-z]+");
    cJSON_Delete(o);

    /* the custom tools' names, in order, for the answer */
    ASSERT_INT_EQ(custom.n, 4);
    ASSERT_STR_EQ(custom.name[0], "apply_patch");
    ASSERT_STR_EQ(custom.name[1], "note");
    ASSERT_STR_EQ(custom.name[2], "raw");
    ASSERT_STR_EQ(custom.name[3], "bare");

    /* none: n 0 */
    custom.n = 9;
    o = request_custom("{'model':'m','input':'q','tools':[{'type':'function','name':'f'}]}",
                       &custom, &rc);
    ASSERT_INT_EQ(rc, 0);
    ASSERT(o);
    ASSERT_INT_EQ(custom.n, 0);
    cJSON_Delete(o);
}

/* Translate a body given as plain JSON text (too long for json_sq). */
static cJSON *request_raw(const char *body, int *rc)
{
    struct allot_buf out;
    cJSON *root = NULL;

    allot_buf_init(&out, 1u << 20);
    *rc = allot_responses_request(body, strlen(body), &out, NULL, NULL);
    if (*rc == 0)
        root = cJSON_Parse(allot_buf_cstr(&out));
    allot_buf_release(&out);
    return root;
}

/* A custom tool of a description of n_desc 'd's and a grammar of n_def
 * copies of unit, as a request body (malloc'd). */
static char *custom_tool_body(size_t n_desc, const char *unit, size_t n_def)
{
    size_t i, cap = n_desc + n_def * strlen(unit) + 256, len;
    char *b = malloc(cap);

    if (!b)
        return NULL;
    len = (size_t)snprintf(b, cap,
                           "{\"model\":\"m\",\"input\":\"q\",\"tools\":[{\"type\":\"custom\","
                           "\"name\":\"t\",\"description\":\"");
    memset(b + len, 'd', n_desc);
    len += n_desc;
    len += (size_t)snprintf(b + len, cap - len,
                            "\",\"format\":{\"type\":\"grammar\",\"syntax\":\"lark\","
                            "\"definition\":\"");
    for (i = 0; i < n_def; i++)
        len += (size_t)snprintf(b + len, cap - len, "%s", unit);
    snprintf(b + len, cap - len, "\"}}]}");
    return b;
}

TEST(responses_request_custom_tool_grammar_cut)
{
    static const char head[] = "\n\nInput: free text in this lark grammar:\n";
    static const char note[] = "\n(grammar cut here: allot sends at most 16 KB of a custom "
                               "tool's description and grammar)";
    const size_t fits = 16384 - 1000 - (sizeof head - 1);
    const char *d;
    char *body;
    int rc;
    cJSON *o;

    /* description and grammar of 16 KB exactly: whole */
    body = custom_tool_body(1000, "g", fits);
    ASSERT(body);
    o = request_raw(body, &rc);
    free(body);
    ASSERT_INT_EQ(rc, 0);
    ASSERT(o);
    d = json_str(o, "tools.0.function.description");
    ASSERT(d);
    ASSERT_INT_EQ(strlen(d), 16384);
    ASSERT(d[strlen(d) - 1] == 'g');
    ASSERT(!strstr(d, "grammar cut"));
    cJSON_Delete(o);

    /* a byte more: the grammar is cut, and the cut said, within 16 KB */
    body = custom_tool_body(1000, "g", fits + 1);
    ASSERT(body);
    o = request_raw(body, &rc);
    free(body);
    ASSERT_INT_EQ(rc, 0);
    ASSERT(o);
    d = json_str(o, "tools.0.function.description");
    ASSERT(d);
    ASSERT_INT_EQ(strlen(d), 16384);
    ASSERT(strncmp(d, "ddd", 3) == 0);
    ASSERT_STR_CONTAINS(d, head);
    ASSERT_STR_EQ(d + strlen(d) - (sizeof note - 1), note);
    ASSERT(d[strlen(d) - (sizeof note - 1) - 1] == 'g');
    cJSON_Delete(o);

    /* the cut never falls inside a UTF-8 sequence */
    body = custom_tool_body(1001, "\xc3\xa9", 10000);
    ASSERT(body);
    o = request_raw(body, &rc);
    free(body);
    ASSERT_INT_EQ(rc, 0);
    ASSERT(o);
    d = json_str(o, "tools.0.function.description");
    ASSERT(d);
    ASSERT(strlen(d) <= 16384);
    ASSERT(!strstr(d, "\xef\xbf\xbd")); /* no U+FFFD for a broken character */
    ASSERT_STR_CONTAINS(d, "\xc3\xa9\n(grammar cut here");
    cJSON_Delete(o);

    /* a description of 16 KB alone: the grammar left out, and the cut said */
    body = custom_tool_body(16384, "g", 10);
    ASSERT(body);
    o = request_raw(body, &rc);
    free(body);
    ASSERT_INT_EQ(rc, 0);
    ASSERT(o);
    d = json_str(o, "tools.0.function.description");
    ASSERT(d);
    ASSERT_INT_EQ(strlen(d), 16384 + (sizeof head - 1) + (sizeof note - 1));
    ASSERT_STR_EQ(d + 16384, "\n\nInput: free text in this lark grammar:\n\n(grammar cut here: "
                             "allot sends at most 16 KB of a custom tool's description and "
                             "grammar)");
    cJSON_Delete(o);
}

TEST(responses_request_custom_tool_limits)
{
    char body[4096], name[80];
    size_t len;
    int i, rc;
    cJSON *o;

    /* ALLOT_RESPONSES_CUSTOM_MAX custom tools are fine, one more is not */
    len = (size_t)snprintf(body, sizeof body, "{'model':'m','input':'q','tools':[");
    for (i = 0; i < ALLOT_RESPONSES_CUSTOM_MAX; i++)
        len += (size_t)snprintf(body + len, sizeof body - len, "%s{'type':'custom','name':'t%d'}",
                                i ? "," : "", i);
    snprintf(body + len, sizeof body - len, "]}");
    o = request(body, &rc);
    ASSERT_INT_EQ(rc, 0);
    ASSERT(o);
    ASSERT_INT_EQ(json_size(o, "tools"), ALLOT_RESPONSES_CUSTOM_MAX);
    cJSON_Delete(o);
    snprintf(body + len, sizeof body - len,
             ",{'type':'function','name':'f'},{'type':'custom',"
             "'name':'one_more'}]}");
    ASSERT_STR_EQ(request_error(body), "tools: allot supports at most 16 custom tools");

    /* a name of 63 bytes is fine, of 64 is not */
    memset(name, 'n', 63);
    name[63] = '\0';
    snprintf(body, sizeof body, "{'model':'m','input':'q','tools':[{'type':'custom','name':'%s'}]}",
             name);
    o = request(body, &rc);
    ASSERT_INT_EQ(rc, 0);
    ASSERT(o);
    ASSERT_STR_EQ(json_str(o, "tools.0.function.name"), name);
    cJSON_Delete(o);
    snprintf(body, sizeof body,
             "{'model':'m','input':'q','tools':[{'type':'function','name':'f'},{'type':'custom',"
             "'name':'%sn'}]}",
             name);
    ASSERT_STR_EQ(request_error(body),
                  "tools[1].name: a custom tool's name must be shorter than 64 bytes");
}

TEST(responses_request_custom_tool_invalid)
{
    static const struct {
        const char *body, *want;
    } cases[] = {
        {"{'model':'m','input':'q','tools':[{'type':'custom'}]}",
         "Missing required parameter: 'tools[0].name'."},
        {"{'model':'m','input':'q','tools':[{'type':'custom','name':7}]}",
         "Invalid type for 'tools[0].name': expected a string."},
        {"{'model':'m','input':'q','tools':[{'type':'custom','name':'t','description':[]}]}",
         "Invalid type for 'tools[0].description': expected a string."},
        {"{'model':'m','input':'q','tools':[{'type':'custom','name':'t','format':'text'}]}",
         "Invalid type for 'tools[0].format': expected an object."},
        {"{'model':'m','input':'q','tools':[{'type':'custom','name':'t','format':{}}]}",
         "Missing required parameter: 'tools[0].format.type'."},
        {"{'model':'m','input':'q','tools':[{'type':'custom','name':'t','format':{'type':"
         "'json'}}]}",
         "Invalid value for 'tools[0].format.type': 'json'. Supported values are: 'text' and "
         "'grammar'."},
        {"{'model':'m','input':'q','tools':[{'type':'custom','name':'t','format':{'type':"
         "'grammar','syntax':'lark'}}]}",
         "Missing required parameter: 'tools[0].format.definition'."},
        {"{'model':'m','input':'q','tools':[{'type':'custom','name':'t','format':{'type':"
         "'grammar','definition':'x'}}]}",
         "Missing required parameter: 'tools[0].format.syntax'."},
        {"{'model':'m','input':[{'type':'custom_tool_call','call_id':'c','name':'t'}]}",
         "Missing required parameter: 'input[0].input'."},
        {"{'model':'m','input':[{'type':'custom_tool_call','call_id':'c','name':'t','input':{}}]}",
         "Invalid type for 'input[0].input': expected a string."},
        {"{'model':'m','input':[{'type':'custom_tool_call','name':'t','input':'x'}]}",
         "Missing required parameter: 'input[0].call_id'."},
        {"{'model':'m','input':[{'type':'custom_tool_call_output','call_id':'c'}]}",
         "Missing required parameter: 'input[0].output'."},
        {"{'model':'m','input':[{'type':'custom_tool_call_output','call_id':'c','output':"
         "[{'type':'input_image','image_url':'https://x/a.png'}]}]}",
         "input[0].output[0].type: content type 'input_image' is not supported by allot"},
        {"{'model':'m','input':'q','tools':[{'type':'custom','name':'t'}],'tool_choice':"
         "{'type':'custom'}}",
         "Missing required parameter: 'tool_choice.name'."},
        /* the other hosted tools stay refused */
        {"{'model':'m','input':'q','tools':[{'type':'custom','name':'t'},{'type':'local_shell'}]}",
         "tools[1].type: tool type 'local_shell' is not supported by allot"},
        {"{'model':'m','input':[{'type':'local_shell_call','call_id':'c'}]}",
         "input[0].type: item type 'local_shell_call' is not supported by allot"},
    };
    size_t i;

    for (i = 0; i < sizeof cases / sizeof cases[0]; i++)
        ASSERT_STR_EQ(request_error(cases[i].body), cases[i].want);
}

TEST(responses_request_custom_tool_call_round_trip)
{
    int rc;
    cJSON *o = request(
        "{'model':'m','input':["
        "{'role':'user','content':'fix the bug'},"
        "{'type':'message','role':'assistant','content':[{'type':'output_text','text':"
        "'Patching.'}]},"
        "{'type':'custom_tool_call','id':'ctc_1','status':'completed','call_id':'call_1',"
        "'name':'apply_patch','input':'*** Begin Patch\\n+say(\\'hi\\') \\\\ done\\t\\u00e9\\n"
        "*** End Patch'},"
        "{'type':'function_call','call_id':'call_2','name':'ls','arguments':'{}'},"
        "{'type':'custom_tool_call_output','call_id':'call_1','output':'Done'},"
        "{'type':'function_call_output','call_id':'call_2','output':'a.c'},"
        "{'type':'custom_tool_call','call_id':'call_3','name':'apply_patch','input':''},"
        "{'type':'custom_tool_call_output','call_id':'call_3','output':[{'type':'input_text',"
        "'text':'Failed'},{'type':'input_text','text':'no hunk'}]}]}",
        &rc);
    cJSON *args;

    ASSERT_INT_EQ(rc, 0);
    ASSERT(o);
    ASSERT_INT_EQ(json_size(o, "messages"), 6);
    /* the text, the custom call and the function call: one assistant message */
    ASSERT_STR_EQ(json_keys(json_at(o, "messages.1")), "role,content,tool_calls");
    ASSERT_STR_EQ(json_str(o, "messages.1.content"), "Patching.");
    ASSERT_INT_EQ(json_size(o, "messages.1.tool_calls"), 2);
    ASSERT_STR_EQ(json_keys(json_at(o, "messages.1.tool_calls.0")), "id,type,function");
    ASSERT_STR_EQ(json_str(o, "messages.1.tool_calls.0.id"), "call_1");
    ASSERT_STR_EQ(json_str(o, "messages.1.tool_calls.0.type"), "function");
    ASSERT_STR_EQ(json_str(o, "messages.1.tool_calls.0.function.name"), "apply_patch");
    /* the input wrapped as the function's one argument, escaped as JSON inside the
     * arguments string */
    args = cJSON_Parse(json_str(o, "messages.1.tool_calls.0.function.arguments"));
    ASSERT(args);
    ASSERT_STR_EQ(json_keys(args), "input");
    ASSERT_STR_EQ(json_str(args, "input"),
                  "*** Begin Patch\n+say(\"hi\") \\ done\t\xc3\xa9\n*** End Patch");
    cJSON_Delete(args);
    ASSERT_STR_EQ(json_str(o, "messages.1.tool_calls.1.id"), "call_2");
    ASSERT_STR_EQ(json_str(o, "messages.1.tool_calls.1.function.arguments"), "{}");
    /* the outputs: tool messages */
    ASSERT_STR_EQ(json_keys(json_at(o, "messages.2")), "role,tool_call_id,content");
    ASSERT_STR_EQ(json_str(o, "messages.2.role"), "tool");
    ASSERT_STR_EQ(json_str(o, "messages.2.tool_call_id"), "call_1");
    ASSERT_STR_EQ(json_str(o, "messages.2.content"), "Done");
    ASSERT_STR_EQ(json_str(o, "messages.3.tool_call_id"), "call_2");
    /* a custom call after a tool message: an assistant message of its own */
    ASSERT_STR_EQ(json_str(o, "messages.4.role"), "assistant");
    ASSERT(cJSON_IsNull(json_at(o, "messages.4.content")));
    ASSERT_STR_EQ(json_str(o, "messages.4.tool_calls.0.function.arguments"), "{\"input\":\"\"}");
    ASSERT_STR_EQ(json_str(o, "messages.5.tool_call_id"), "call_3");
    ASSERT_STR_EQ(json_str(o, "messages.5.content"), "Failed\n\nno hunk");
    cJSON_Delete(o);
}

TEST(responses_request_custom_tool_choice)
{
    int rc;
    cJSON *o = request("{'model':'m','input':'q','tools':[{'type':'custom','name':'apply_patch'}],"
                       "'tool_choice':{'type':'custom','name':'apply_patch'}}",
                       &rc);

    ASSERT_INT_EQ(rc, 0);
    ASSERT(o);
    ASSERT_STR_EQ(json_keys(o), "model,messages,tools,tool_choice");
    ASSERT_STR_EQ(json_text(json_at(o, "tool_choice")),
                  "{\"type\":\"function\",\"function\":{\"name\":\"apply_patch\"}}");
    cJSON_Delete(o);
}

TEST(responses_request_custom_errors_leave_out_unchanged)
{
    const char *ok = json_sq("{'model':'m','input':[{'type':'custom_tool_call','call_id':'c',"
                             "'name':'p','input':'x\\'y'}],'tools':[{'type':'custom','name':'p',"
                             "'description':'d','format':{'type':'grammar','syntax':'lark',"
                             "'definition':'start: /.+/'}}]}");
    struct allot_responses_custom custom;
    struct allot_buf out;
    size_t cap;
    int rc = -1;

    /* out's cap hit at every length short of the whole translation: out and
     * custom as if nothing happened */
    for (cap = 4; cap < 1000; cap++) {
        allot_buf_init(&out, cap);
        ASSERT_INT_EQ(allot_buf_adds(&out, "KEEP"), 0);
        custom.n = 7;
        rc = allot_responses_request(ok, strlen(ok), &out, NULL, &custom);
        if (rc == 0) {
            cJSON *o = cJSON_Parse(allot_buf_cstr(&out) + 4);

            ASSERT(o);
            ASSERT_STR_EQ(json_str(o, "messages.0.tool_calls.0.function.arguments"),
                          "{\"input\":\"x\\\"y\"}");
            ASSERT_STR_EQ(json_str(o, "tools.0.function.description"),
                          "d\n\nInput: free text in this lark grammar:\nstart: /.+/");
            cJSON_Delete(o);
            ASSERT_INT_EQ(custom.n, 1);
            ASSERT_STR_EQ(custom.name[0], "p");
            allot_buf_release(&out);
            break;
        }
        ASSERT_INT_EQ(rc, ALLOT_ETOOBIG);
        ASSERT_STR_EQ(allot_buf_cstr(&out), "KEEP");
        ASSERT_INT_EQ(custom.n, 0);
        allot_buf_release(&out);
    }
    ASSERT_INT_EQ(rc, 0);
    ASSERT(cap > 200);
}

/* ---- what allot refuses ---- */

TEST(responses_request_refuses_stored_state)
{
    static const struct {
        const char *body, *want;
    } cases[] = {
        {"{'model':'m','previous_response_id':'resp_1','input':'more'}",
         "previous_response_id: allot stores no responses; send the whole conversation in "
         "input"},
        /* refused before input is missed */
        {"{'model':'m','previous_response_id':'resp_1'}",
         "previous_response_id: allot stores no responses; send the whole conversation in "
         "input"},
        {"{'model':'m','conversation':'conv_1','input':'q'}",
         "conversation: allot stores no conversations; send the whole conversation in input"},
        {"{'model':'m','conversation':{'id':'conv_1'},'input':'q'}",
         "conversation: allot stores no conversations; send the whole conversation in input"},
        {"{'model':'m','background':true,'input':'q'}",
         "background: allot stores no responses to run in the background; send the request "
         "without it"},
        {"{'model':'m','background':'yes','input':'q'}",
         "Invalid type for 'background': expected a boolean."},
        {"{'model':'m','prompt':{'id':'pmpt_1'},'input':'q'}",
         "prompt: allot stores no prompt templates; send the prompt's text in instructions and "
         "input"},
        {"{'model':'m','input':[{'role':'user','content':'q'},{'type':'item_reference',"
         "'id':'msg_1'}]}",
         "input[1]: item_reference needs stored items; allot stores none: send the item itself"},
    };
    size_t i;
    int rc;
    cJSON *o;

    for (i = 0; i < sizeof cases / sizeof cases[0]; i++)
        ASSERT_STR_EQ(request_error(cases[i].body), cases[i].want);

    /* null or false is no request for state */
    o = request("{'model':'m','previous_response_id':null,'conversation':null,"
                "'background':false,'prompt':null,'input':'q'}",
                &rc);
    ASSERT_INT_EQ(rc, 0);
    ASSERT(o);
    ASSERT_STR_EQ(json_keys(o), "model,messages");
    cJSON_Delete(o);
}

TEST(responses_request_refuses_what_allot_cannot_translate)
{
    static const struct {
        const char *body, *want;
    } cases[] = {
        {"{'model':'m','input':'q','tools':[{'type':'function','name':'f'},"
         "{'type':'web_search_preview'}]}",
         "tools[1].type: tool type 'web_search_preview' is not supported by allot"},
        {"{'model':'m','input':'q','tools':[{'type':'mcp','server_label':'x'}]}",
         "tools[0].type: tool type 'mcp' is not supported by allot"},
        {"{'model':'m','input':'q','tools':[{'type':'function','name':'f'}],"
         "'tool_choice':{'type':'web_search_preview'}}",
         "tool_choice.type: tool choice type 'web_search_preview' is not supported by allot"},
        {"{'model':'m','input':'q','tools':[{'type':'function','name':'f'}],"
         "'tool_choice':{'type':'allowed_tools','mode':'auto','tools':[]}}",
         "tool_choice.type: tool choice type 'allowed_tools' is not supported by allot"},
        {"{'model':'m','input':[{'role':'user','content':[{'type':'input_file','file_id':"
         "'file-1'}]}]}",
         "input[0].content[0].type: content type 'input_file' is not supported by allot"},
        {"{'model':'m','input':[{'role':'user','content':[{'type':'input_text','text':'a'},"
         "{'type':'input_audio','input_audio':{}}]}]}",
         "input[0].content[1].type: content type 'input_audio' is not supported by allot"},
        {"{'model':'m','input':[{'role':'user','content':'q'},{'type':'web_search_call',"
         "'id':'ws_1','status':'completed'}]}",
         "input[1].type: item type 'web_search_call' is not supported by allot"},
        {"{'model':'m','input':[{'type':'computer_call_output','call_id':'c'}]}",
         "input[0].type: item type 'computer_call_output' is not supported by allot"},
        {"{'model':'m','input':[{'type':'function_call_output','call_id':'c','output':"
         "[{'type':'input_image','image_url':'https://x/a.png'}]}]}",
         "input[0].output[0].type: content type 'input_image' is not supported by allot"},
    };
    size_t i;

    for (i = 0; i < sizeof cases / sizeof cases[0]; i++)
        ASSERT_STR_EQ(request_error(cases[i].body), cases[i].want);
}

TEST(responses_request_invalid_requests)
{
    static const struct {
        const char *body, *want;
    } cases[] = {
        {"{'input':'q'}", "Missing required parameter: 'model'."},
        {"{'model':5,'input':'q'}", "Invalid type for 'model': expected a string."},
        {"{'model':'m'}", "Missing required parameter: 'input'."},
        {"{'model':'m','input':{'role':'user'}}",
         "Invalid type for 'input': expected a string or an array."},
        {"{'model':'m','input':[]}", "input: must contain at least one message"},
        {"{'model':'m','input':'q','stream':'yes'}",
         "Invalid type for 'stream': expected a boolean."},
        {"{'model':'m','input':'q','stream':1}", "Invalid type for 'stream': expected a boolean."},
        {"{'model':'m','input':[5]}", "Invalid type for 'input[0]': expected an object."},
        {"{'model':'m','input':[{'content':'q'}]}", "Missing required parameter: 'input[0].role'."},
        {"{'model':'m','input':[{'role':'bot','content':'q'}]}",
         "Invalid value for 'input[0].role': 'bot'. Supported values are: 'user', 'assistant', "
         "'system' and 'developer'."},
        {"{'model':'m','input':[{'role':'user'}]}",
         "Missing required parameter: 'input[0].content'."},
        {"{'model':'m','input':[{'role':'user','content':5}]}",
         "Invalid type for 'input[0].content': expected a string or an array."},
        {"{'model':'m','input':[{'role':'user','content':[{'type':'input_text'}]}]}",
         "Missing required parameter: 'input[0].content[0].text'."},
        {"{'model':'m','input':[{'type':'function_call','name':'f','arguments':'{}'}]}",
         "Missing required parameter: 'input[0].call_id'."},
        {"{'model':'m','input':[{'type':'function_call','call_id':'c','name':'f',"
         "'arguments':{}}]}",
         "Invalid type for 'input[0].arguments': expected a string."},
        {"{'model':'m','input':[{'type':'function_call_output','call_id':'c'}]}",
         "Missing required parameter: 'input[0].output'."},
        {"{'model':'m','input':'q','max_output_tokens':0}",
         "Invalid 'max_output_tokens': integer below minimum value. Expected a value >= 1."},
        {"{'model':'m','input':'q','max_output_tokens':1.5}",
         "Invalid type for 'max_output_tokens': expected an integer."},
        {"{'model':'m','input':'q','temperature':'hot'}",
         "Invalid type for 'temperature': expected a number."},
        {"{'model':'m','input':'q','user':7}", "Invalid type for 'user': expected a string."},
        {"{'model':'m','input':'q','tools':{}}", "Invalid type for 'tools': expected an array."},
        {"{'model':'m','input':'q','tools':[{'type':'function'}]}",
         "Missing required parameter: 'tools[0].name'."},
        {"{'model':'m','input':'q','tools':[{'name':'f'}]}",
         "Missing required parameter: 'tools[0].type'."},
        {"{'model':'m','input':'q','text':{'format':{'type':'json_schema','schema':{}}}}",
         "Missing required parameter: 'text.format.name'."},
        {"{'model':'m','input':'q','text':{'format':{'type':'json_schema','name':'n'}}}",
         "Missing required parameter: 'text.format.schema'."},
        {"{'model':'m','input':'q','text':{'format':{'type':'yaml'}}}",
         "Invalid value for 'text.format.type': 'yaml'. Supported values are: 'text', "
         "'json_object' and 'json_schema'."},
        {"{'model':'m','input':'q','reasoning':{'effort':3}}",
         "Invalid type for 'reasoning.effort': expected a string."},
        {"[1,2]", "request body must be a JSON object"},
    };
    size_t i;

    for (i = 0; i < sizeof cases / sizeof cases[0]; i++)
        ASSERT_STR_EQ(request_error(cases[i].body), cases[i].want);
}

TEST(responses_request_invalid_json)
{
    ASSERT_STR_EQ(request_error("{'model':'m',"),
                  "invalid JSON at line 1 column 14: unexpected end of input");
    ASSERT_STR_EQ(request_error("{'model':'m','input':'q'} x"),
                  "invalid JSON at line 1 column 27: unexpected data after the JSON value");
    ASSERT_STR_CONTAINS(request_error(""), "invalid JSON at line 1 column 1");
}

TEST(responses_request_quotes_client_text_on_one_line)
{
    /* control characters from the request never reach the message */
    ASSERT_STR_EQ(request_error("{'model':'m','input':[{'type':'evil\\nline\\u0001'}]}"),
                  "input[0].type: item type 'evil?line?' is not supported by allot");
    ASSERT_STR_EQ(
        request_error("{'model':'m','input':'q','tools':[{'type':'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'}]}"),
        "tools[0].type: tool type 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
        "...' is not supported by allot");
}

/* ---- the other parameters ---- */

TEST(responses_request_scalar_parameters)
{
    int rc;
    cJSON *o = request("{'model':'m','input':'q','max_output_tokens':256,'temperature':0.7,"
                       "'top_p':1,'stream':true,'user':'u-1','reasoning':{'effort':'high',"
                       "'summary':'auto'},'text':{'verbosity':'low'}}",
                       &rc);

    ASSERT_INT_EQ(rc, 0);
    ASSERT(o);
    ASSERT_STR_EQ(json_keys(o), "model,messages,max_tokens,temperature,top_p,stream,user,"
                                "reasoning_effort,verbosity");
    ASSERT_INT_EQ(json_num(o, "max_tokens"), 256);
    ASSERT_DBL_NEAR(json_num(o, "temperature"), 0.7, 1e-12);
    ASSERT_DBL_NEAR(json_num(o, "top_p"), 1, 0);
    ASSERT(cJSON_IsTrue(json_at(o, "stream")));
    ASSERT_STR_EQ(json_str(o, "user"), "u-1");
    ASSERT_STR_EQ(json_str(o, "reasoning_effort"), "high");
    ASSERT_STR_EQ(json_str(o, "verbosity"), "low");
    cJSON_Delete(o);

    /* nulls are absent; stream false is sent */
    o = request("{'model':'m','input':'q','max_output_tokens':null,'temperature':null,"
                "'top_p':null,'stream':false,'user':null,'reasoning':{'effort':null},"
                "'text':null}",
                &rc);
    ASSERT_INT_EQ(rc, 0);
    ASSERT(o);
    ASSERT_STR_EQ(json_keys(o), "model,messages,stream");
    ASSERT(cJSON_IsFalse(json_at(o, "stream")));
    cJSON_Delete(o);
}

TEST(responses_request_integers_print_as_integers)
{
    struct allot_buf out;
    const char *body = json_sq("{'model':'m','input':'q','max_output_tokens':1e3}");

    allot_buf_init(&out, 4096);
    ASSERT_INT_EQ(allot_responses_request(body, strlen(body), &out, NULL, NULL), 0);
    ASSERT_STR_CONTAINS(allot_buf_cstr(&out), "\"max_tokens\":1000}");
    allot_buf_release(&out);
}

TEST(responses_request_safety_identifier_as_user)
{
    int rc;
    cJSON *o = request("{'model':'m','input':'q','safety_identifier':'hash-1'}", &rc);

    ASSERT_INT_EQ(rc, 0);
    ASSERT(o);
    ASSERT_STR_EQ(json_str(o, "user"), "hash-1");
    cJSON_Delete(o);

    /* user wins */
    o = request("{'model':'m','input':'q','user':'u','safety_identifier':'hash-1'}", &rc);
    ASSERT_INT_EQ(rc, 0);
    ASSERT(o);
    ASSERT_STR_EQ(json_str(o, "user"), "u");
    cJSON_Delete(o);
}

TEST(responses_request_text_format)
{
    int rc;
    cJSON *o = request("{'model':'m','input':'q','text':{'format':{'type':'json_schema',"
                       "'name':'answer','description':'The answer','strict':true,'schema':{"
                       "'type':'object','properties':{'n':{'type':'integer'}},"
                       "'required':['n'],'additionalProperties':false}},'verbosity':'medium'}}",
                       &rc);

    ASSERT_INT_EQ(rc, 0);
    ASSERT(o);
    ASSERT_STR_EQ(json_keys(o), "model,messages,response_format,verbosity");
    ASSERT_STR_EQ(json_str(o, "response_format.type"), "json_schema");
    ASSERT_STR_EQ(json_keys(json_at(o, "response_format.json_schema")),
                  "name,schema,description,strict");
    ASSERT_STR_EQ(json_str(o, "response_format.json_schema.name"), "answer");
    ASSERT_STR_EQ(json_str(o, "response_format.json_schema.description"), "The answer");
    ASSERT(cJSON_IsTrue(json_at(o, "response_format.json_schema.strict")));
    ASSERT_STR_EQ(json_str(o, "response_format.json_schema.schema.properties.n.type"), "integer");
    ASSERT(cJSON_IsFalse(json_at(o, "response_format.json_schema.schema.additionalProperties")));
    ASSERT_STR_EQ(json_str(o, "verbosity"), "medium");
    cJSON_Delete(o);

    o = request("{'model':'m','input':'q','text':{'format':{'type':'json_object'}}}", &rc);
    ASSERT_INT_EQ(rc, 0);
    ASSERT(o);
    ASSERT_STR_EQ(json_keys(o), "model,messages,response_format");
    ASSERT_STR_EQ(json_keys(json_at(o, "response_format")), "type");
    ASSERT_STR_EQ(json_str(o, "response_format.type"), "json_object");
    cJSON_Delete(o);

    /* plain text is chat completions' default: nothing to send */
    o = request("{'model':'m','input':'q','text':{'format':{'type':'text'}}}", &rc);
    ASSERT_INT_EQ(rc, 0);
    ASSERT(o);
    ASSERT_STR_EQ(json_keys(o), "model,messages");
    cJSON_Delete(o);
}

TEST(responses_request_key_order_with_everything)
{
    int rc;
    cJSON *o = request("{'verbosity':'x','text':{'verbosity':'high','format':{'type':"
                       "'json_object'}},'reasoning':{'effort':'low'},'parallel_tool_calls':true,"
                       "'tool_choice':'auto','tools':[{'type':'function','name':'f'}],"
                       "'user':'u','stream':true,'top_p':0.5,'temperature':0,"
                       "'max_output_tokens':9,'input':'q','instructions':'i','model':'m'}",
                       &rc);

    ASSERT_INT_EQ(rc, 0);
    ASSERT(o);
    ASSERT_STR_EQ(json_keys(o), "model,messages,max_tokens,temperature,top_p,stream,user,tools,"
                                "tool_choice,parallel_tool_calls,response_format,"
                                "reasoning_effort,verbosity");
    ASSERT_STR_EQ(json_str(o, "verbosity"), "high");
    ASSERT_INT_EQ(json_num(o, "temperature"), 0);
    cJSON_Delete(o);
}

TEST(responses_request_ignores_unknown_and_unforwarded_keys)
{
    int rc;
    cJSON *o = request("{'model':'m','input':'q','store':true,'include':['reasoning."
                       "encrypted_content'],'metadata':{'k':'v'},'truncation':'auto',"
                       "'service_tier':'auto','top_logprobs':3,'max_tool_calls':4,"
                       "'prompt_cache_key':'p','stream_options':{'include_obfuscation':false},"
                       "'safety_identifier':5,'future_thing':{'a':[1]}}",
                       &rc);

    ASSERT_INT_EQ(rc, 0);
    ASSERT(o);
    ASSERT_STR_EQ(json_keys(o), "model,messages");
    cJSON_Delete(o);
}

TEST(responses_request_last_duplicate_key_wins)
{
    int rc;
    cJSON *o = request("{'model':'a','model':'b','input':'x','input':'y'}", &rc);

    ASSERT_INT_EQ(rc, 0);
    ASSERT(o);
    ASSERT_STR_EQ(json_str(o, "model"), "b");
    ASSERT_STR_EQ(json_str(o, "messages.0.content"), "y");
    cJSON_Delete(o);
}

TEST(responses_request_errors_leave_out_unchanged)
{
    const char *ok = json_sq("{'model':'m','input':[{'role':'user','content':'hello there'},"
                             "{'type':'function_call','call_id':'c','name':'f','arguments':"
                             "'{}'}]}");
    const char *late = json_sq("{'model':'m','input':'q','tools':[{'type':'function','name':"
                               "'f'},{'type':'file_search'}]}");
    struct allot_buf out, err;
    size_t cap;

    /* an error found after messages were written */
    allot_buf_init(&out, 1024);
    allot_buf_init(&err, 1024);
    ASSERT_INT_EQ(allot_buf_adds(&out, "KEEP"), 0);
    ASSERT_INT_EQ(allot_responses_request(late, strlen(late), &out, &err, NULL), ALLOT_EINVAL);
    ASSERT_STR_EQ(allot_buf_cstr(&out), "KEEP");
    ASSERT_STR_EQ(allot_buf_cstr(&err),
                  "tools[1].type: tool type 'file_search' is not supported by allot");
    allot_buf_release(&out);
    allot_buf_release(&err);

    /* out's cap hit at every length short of the whole translation */
    for (cap = 4; cap < 200; cap++) {
        int rc;

        allot_buf_init(&out, cap);
        allot_buf_init(&err, 1024);
        ASSERT_INT_EQ(allot_buf_adds(&out, "KEEP"), 0);
        rc = allot_responses_request(ok, strlen(ok), &out, &err, NULL);
        if (rc == 0) {
            cJSON *o = cJSON_Parse(allot_buf_cstr(&out) + 4);

            ASSERT(o);
            ASSERT_STR_EQ(json_str(o, "messages.1.tool_calls.0.id"), "c");
            cJSON_Delete(o);
            allot_buf_release(&out);
            allot_buf_release(&err);
            break;
        }
        ASSERT_INT_EQ(rc, ALLOT_ETOOBIG);
        ASSERT_STR_EQ(allot_buf_cstr(&out), "KEEP");
        ASSERT_INT_EQ(err.len, 0);
        allot_buf_release(&out);
        allot_buf_release(&err);
    }
    ASSERT(cap > 100 && cap < 200); /* some caps were too small, and one fit */

    /* err may be NULL */
    allot_buf_init(&out, 1024);
    ASSERT_INT_EQ(allot_responses_request(late, strlen(late), &out, NULL, NULL), ALLOT_EINVAL);
    ASSERT_INT_EQ(out.len, 0);
    allot_buf_release(&out);
}

TEST(responses_request_output_is_valid_json_for_hostile_strings)
{
    int rc;
    cJSON *o = request("{'model':'m','input':[{'role':'user','content':[{'type':'input_text',"
                       "'text':'quote \\' backslash \\\\ tab \\t \\u00e9 \\ud83d\\ude00'}]}]}",
                       &rc);

    ASSERT_INT_EQ(rc, 0);
    ASSERT(o);
    ASSERT_STR_EQ(json_str(o, "messages.0.content"),
                  "quote \" backslash \\ tab \t \xc3\xa9 \xf0\x9f\x98\x80");
    cJSON_Delete(o);
}

/* ---- tool translations remembered per thread (tools_memo.c) ---- */

/* A Responses body with n function tools and one custom tool, then rest
 * (members without the braces). */
static void responses_tools_body(struct allot_buf *b, int n, const char *rest)
{
    int i;
    allot_buf_reset(b);
    allot_buf_adds(b, "{\"tools\":[{\"type\":\"custom\",\"name\":\"apply_patch\","
                      "\"description\":\"Use the apply_patch tool to edit files.\"}");
    for (i = 0; i < n; i++)
        allot_buf_addf(b,
                       ",{\"type\":\"function\",\"name\":\"tool_%d\",\"description\":\"Reads "
                       "file %d.\",\"strict\":true,\"parameters\":{\"type\":\"object\","
                       "\"properties\":{\"p\":{\"type\":\"string\"}},\"required\":[\"p\"]}}",
                       i, i);
    allot_buf_addf(b, "],%s}", rest);
}

#define RESPONSES_REST                                                                             \
    "\"model\":\"auto\",\"tool_choice\":{\"type\":\"custom\",\"name\":\"apply_patch\"},"           \
    "\"input\":[{\"role\":\"user\",\"content\":\"fix the bug\"},{\"type\":\"custom_tool_call\","   \
    "\"call_id\":\"c1\",\"name\":\"apply_patch\",\"input\":\"*** Begin Patch\"}]"

/* The same code, text, message and custom tools as a fresh translation. */
static int responses_same_as_fresh(const struct allot_buf *body, struct allot_buf *out)
{
    struct allot_buf fresh, e1, e2;
    struct allot_responses_custom c1, c2;
    int r1, r2, same, i;

    allot_buf_init(&fresh, 1 << 22);
    allot_buf_init(&e1, 4096);
    allot_buf_init(&e2, 4096);
    memset(&c1, 0, sizeof c1);
    memset(&c2, 0, sizeof c2);
    allot_buf_reset(out);
    r1 = allot_responses_request(body->ptr, body->len, out, &e1, &c1);
    allot__responses_tools_forget();
    r2 = allot_responses_request(body->ptr, body->len, &fresh, &e2, &c2);
    same = r1 == r2 && bufs_same(out, &fresh) && bufs_same(&e1, &e2) && c1.n == c2.n;
    for (i = 0; same && i < c1.n; i++)
        same = strcmp(c1.name[i], c2.name[i]) == 0;
    allot_buf_release(&fresh);
    allot_buf_release(&e1);
    allot_buf_release(&e2);
    return same;
}

static void responses_prime(const struct allot_buf *body)
{
    struct allot_buf out;
    int i;
    allot_buf_init(&out, 1 << 22);
    for (i = 0; i < 2; i++) {
        allot_buf_reset(&out);
        allot_responses_request(body->ptr, body->len, &out, NULL, NULL);
    }
    allot_buf_release(&out);
}

TEST(responses_request_tools_remembered_translate_the_same)
{
    struct allot_buf body, other, out;
    struct allot_responses_custom custom;
    size_t hits;

    allot_buf_init(&body, 1 << 22);
    allot_buf_init(&other, 1 << 22);
    allot_buf_init(&out, 1 << 22);
    allot__responses_tools_forget();
    responses_tools_body(&body, 10, RESPONSES_REST);
    responses_prime(&body);
    hits = allot__responses_tools_remembered();
    ASSERT(hits > 0);
    /* remembered: the custom tool's name comes back with the text */
    memset(&custom, 0, sizeof custom);
    allot_buf_reset(&out);
    ASSERT_INT_EQ(allot_responses_request(body.ptr, body.len, &out, NULL, &custom), 0);
    ASSERT_INT_EQ(allot__responses_tools_remembered(), hits + 1);
    ASSERT_INT_EQ(custom.n, 1);
    ASSERT_STR_EQ(custom.name[0], "apply_patch");
    ASSERT_STR_CONTAINS(out.ptr, "\"name\":\"tool_9\"");
    ASSERT_STR_CONTAINS(out.ptr, "\"tool_choice\":{\"type\":\"function\"");
    ASSERT(responses_same_as_fresh(&body, &out));

    /* other input and no tool_choice under the same tools */
    responses_prime(&body);
    responses_tools_body(&other, 10, "\"model\":\"m\",\"input\":\"hello\"");
    ASSERT(responses_same_as_fresh(&other, &out));
    /* refused tools are never kept */
    allot__responses_tools_forget();
    responses_tools_body(&other, 10, RESPONSES_REST);
    memcpy(strstr(other.ptr, "\"type\":\"function\""), "\"type\":\"funktion\"", 17);
    responses_prime(&other);
    ASSERT_INT_EQ(allot__responses_tools_remembered(), 0);
    ASSERT(responses_same_as_fresh(&other, &out));
    allot__responses_tools_forget();
    allot_buf_release(&body);
    allot_buf_release(&other);
    allot_buf_release(&out);
}

TEST(responses_request_tools_remembered_agree_on_edits)
{
    struct allot_buf body;

    allot_buf_init(&body, 1 << 22);
    responses_tools_body(&body, 4, RESPONSES_REST);
    ASSERT_INT_EQ(edits_agree(&body, 600, 4242, responses_prime, responses_same_as_fresh), -1);
    allot__responses_tools_forget();
    allot_buf_release(&body);
}

/* ---- the reading built while translating ---- */

/* allot_responses_request_read() of body (written with '): the same
 * translation, and its reading built (1) and the gateway's parse of it,
 * field for field and rewrite for rewrite; or not built (0); -1 when
 * anything differs. */
static int responses_built_agrees(const char *sq)
{
    const char *body = json_sq(sq);
    struct allot_responses_custom c1, c2;
    struct allot_chat_request built, parsed;
    struct allot_buf a, b, err;
    const char *why;
    int ok = -1, rc = 0;

    allot_buf_init(&a, 1u << 22);
    allot_buf_init(&b, 1u << 22);
    allot_buf_init(&err, 1024);
    if (allot_responses_request_read(body, strlen(body), &a, &err, &c1, &built, &ok) != 0 ||
        allot_responses_request(body, strlen(body), &b, &err, &c2) != 0 || a.len != b.len ||
        memcmp(a.ptr, b.ptr, a.len) != 0) {
        fprintf(stderr, "  the translations fail or differ: %s\n", allot_buf_cstr(&err));
        rc = -1;
    } else if (ok) {
        if (allot_chat_request_parse(&parsed, a.ptr, a.len, &err) != 0) {
            rc = -1;
        } else {
            if ((why = readings_differ(&built, &parsed)) ||
                (why = rewrites_differ(&built, &parsed, a.ptr, a.len))) {
                fprintf(stderr, "  differs: %s\n", why);
                rc = -1;
            }
            allot_chat_request_release(&parsed);
        }
        allot_chat_request_release(&built);
    }
    allot_buf_release(&a);
    allot_buf_release(&b);
    allot_buf_release(&err);
    return rc ? rc : ok;
}

TEST(responses_request_read_builds_what_the_parse_reads)
{
    static const char *const bodies[] = {
        "{'model':'m','input':'hello'}",
        "{'model':'m\\u00e9','instructions':'be brief','input':'hello','stream':true}",
        "{'model':'m','instructions':'','stream':false,'input':[{'role':'developer','content':"
        "'rules'},{'role':'system','content':'more rules'},{'role':'user','content':'one'},"
        "{'role':'assistant','content':[{'type':'output_text','text':'two'},{'type':"
        "'refusal','refusal':'no'}]},{'role':'user','content':[{'type':'input_text','text':"
        "'three'},{'type':'input_text','text':'four'}]}]}",
        /* an image: the parts are sent, the instruction joins their texts */
        "{'model':'m','input':[{'role':'user','content':[{'type':'input_text','text':'look'},"
        "{'type':'input_image','image_url':'https://x/y.png'},{'type':'input_text','text':"
        "'here'}]}]}",
        "{'model':'m','input':[{'role':'user','content':[{'type':'input_image','image_url':"
        "'https://x/y.png'}]}]}",
        /* a coding agent's turn: calls and their outputs after the instruction */
        "{'model':'m','instructions':'You are Codex.','tools':[{'type':'function','name':"
        "'shell','parameters':{'type':'object'}},{'type':'custom','name':'apply_patch'}],"
        "'input':[{'role':'user','content':'fix the test'},{'type':'reasoning','summary':[]},"
        "{'type':'function_call','call_id':'c1','name':'shell','arguments':'{}'},"
        "{'type':'function_call_output','call_id':'c1','output':'a.c\\nb.c'},{'role':"
        "'assistant','content':'patching'},{'type':'custom_tool_call','call_id':'c2','name':"
        "'apply_patch','input':'*** Begin Patch'},{'type':'custom_tool_call_output','call_id':"
        "'c2','output':[{'type':'input_text','text':'done'},{'type':'input_text','text':'ok'}]}]}",
        "{'model':'m','tools':[],'input':[{'type':'message','role':'user','content':'q'}]}",
    };
    size_t i;

    for (i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        if (responses_built_agrees(bodies[i]) != 1)
            fprintf(stderr, "  body %zu\n", i);
        ASSERT_INT_EQ(responses_built_agrees(bodies[i]), 1);
    }
    /* a response_format is a tree the reading does not build: parsed */
    ASSERT_INT_EQ(responses_built_agrees("{'model':'m','input':'q','text':{'format':{'type':"
                                         "'json_object'}}}"),
                  0);
    ASSERT_INT_EQ(responses_built_agrees("{'model':'m','input':'q','text':{'format':{'type':"
                                         "'text'}}}"),
                  1);
}
