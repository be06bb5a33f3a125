#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cJSON.h>
#include "allot/anthropic.h"
#include "allot/chat_request.h"
#include "allot/error.h"
#include "edits.h"
#include "gateway/anthropic_internal.h"
#include "json_path.h"
#include "sse_events.h"
#include "../fuzz/same_reading.h"
#include "test.h"

/* ---- helpers ---- */

/* Translate a request (written with '); the OpenAI body parsed, or NULL. */
static cJSON *request(const char *sq, int *rc)
{
    struct allot_buf out, err;
    const char *body = json_sq(sq);
    cJSON *root = NULL;

    allot_buf_init(&out, 1u << 20);
    allot_buf_init(&err, 1024);
    *rc = allot_anthropic_request(body, strlen(body), &out, &err);
    if (*rc == 0)
        root = cJSON_Parse(allot_buf_cstr(&out));
    allot_buf_release(&out);
    allot_buf_release(&err);
    return root;
}

/* Translate a request that must be refused: the message for the client,
 * or a note of what went wrong instead ("(rc N)", "(out written)"). */
static const char *request_error(const char *sq)
{
    static char msg[512];
    struct allot_buf out, err;
    const char *body = json_sq(sq);
    int rc;

    allot_buf_init(&out, 1u << 20);
    allot_buf_init(&err, 1024);
    rc = allot_anthropic_request(body, strlen(body), &out, &err);
    if (rc != ALLOT_EINVAL)
        snprintf(msg, sizeof msg, "(rc %d)", rc);
    else if (out.len)
        snprintf(msg, sizeof msg, "(out written)");
    else
        snprintf(msg, sizeof msg, "%s", allot_buf_cstr(&err));
    allot_buf_release(&out);
    allot_buf_release(&err);
    return msg;
}

/* Translate a chat.completion (written with '); the message parsed, or NULL. */
static cJSON *response(const char *sq, const char *model, int *rc)
{
    struct allot_buf out;
    const char *body = json_sq(sq);
    cJSON *root = NULL;

    allot_buf_init(&out, 1u << 20);
    *rc = allot_anthropic_response(body, strlen(body), model, &out);
    if (*rc == 0)
        root = cJSON_Parse(allot_buf_cstr(&out));
    allot_buf_release(&out);
    return root;
}

/* Feed a payload (written with ') to the stream. */
static int feed(struct allot_anthropic_stream *s, const char *sq, struct allot_buf *out)
{
    return allot_anthropic_stream_event(s, allot_slice_cstr(json_sq(sq)), out);
}

#define MSG_HI "'messages':[{'role':'user','content':'hi'}]"

/* ---- requests ---- */

TEST(anthropic_request_minimal)
{
    int rc;
    cJSON *o = request("{'model':'claude-x','max_tokens':16," MSG_HI "}", &rc);

    ASSERT_INT_EQ(rc, 0);
    ASSERT(o);
    ASSERT_STR_EQ(json_keys(o), "model,messages,max_tokens");
    ASSERT_STR_EQ(json_str(o, "model"), "claude-x");
    ASSERT_INT_EQ(json_num(o, "max_tokens"), 16);
    ASSERT_INT_EQ(json_size(o, "messages"), 1);
    ASSERT_STR_EQ(json_keys(json_at(o, "messages.0")), "role,content");
    ASSERT_STR_EQ(json_str(o, "messages.0.role"), "user");
    ASSERT_STR_EQ(json_str(o, "messages.0.content"), "hi");
    cJSON_Delete(o);
}

TEST(anthropic_request_ignores_unknown_top_level_keys)
{
    int rc;
    cJSON *o = request("{'model':'m','max_tokens':8,'top_k':5,'thinking':{'type':'enabled',"
                       "'budget_tokens':1024},'service_tier':'auto','container':'c',"
                       "'mcp_servers':[],'metadata':{'other':1}," MSG_HI "}",
                       &rc);
    ASSERT_INT_EQ(rc, 0);
    ASSERT(o);
    ASSERT_STR_EQ(json_keys(o), "model,messages,max_tokens");
    cJSON_Delete(o);
}

TEST(anthropic_request_system_string_and_blocks)
{
    int rc;
    cJSON *o = request("{'model':'m','max_tokens':8,'system':'Be terse.'," MSG_HI "}", &rc);

    ASSERT_INT_EQ(rc, 0);
    ASSERT(o);
    ASSERT_INT_EQ(json_size(o, "messages"), 2);
    ASSERT_STR_EQ(json_str(o, "messages.0.role"), "system");
    ASSERT_STR_EQ(json_str(o, "messages.0.content"), "Be terse.");
    ASSERT_STR_EQ(json_str(o, "messages.1.role"), "user");
    cJSON_Delete(o);

    o = request("{'model':'m','max_tokens':8,'system':[{'type':'text','text':'One.'},"
                "{'type':'text','text':'Two.','cache_control':{'type':'ephemeral'}}]," MSG_HI "}",
                &rc);
    ASSERT_INT_EQ(rc, 0);
    ASSERT(o);
    ASSERT_STR_EQ(json_str(o, "messages.0.role"), "system");
    ASSERT_STR_EQ(json_str(o, "messages.0.content"), "One.\n\nTwo.");
    cJSON_Delete(o);

    ASSERT_STR_EQ(request_error("{'model':'m','max_tokens':8,'system':[{'type':'text','text':"
                                "'a'},{'type':'image'}]," MSG_HI "}"),
                  "system.1.type: Input should be 'text'");
    ASSERT_STR_EQ(request_error("{'model':'m','max_tokens':8,'system':5," MSG_HI "}"),
                  "system: Input should be a valid string or list of text blocks");
}

TEST(anthropic_request_tool_use_and_results_order)
{
    int rc;
    const char *args;
    cJSON *o, *parsed;

    o = request(
        "{'model':'m','max_tokens':100,'messages':["
        "{'role':'user','content':'weather in Paris and Rome?'},"
        "{'role':'assistant','content':[{'type':'thinking','thinking':'hmm','signature':'s'},"
        "{'type':'text','text':'Checking.'},"
        "{'type':'tool_use','id':'toolu_1','name':'weather','input':{'city':'Paris','days':[1,2]}},"
        "{'type':'tool_use','id':'toolu_2','name':'weather','input':{'city':'Rome'}}]},"
        "{'role':'user','content':[{'type':'text','text':'here you go'},"
        "{'type':'tool_result','tool_use_id':'toolu_1','content':'sunny'},"
        "{'type':'tool_result','tool_use_id':'toolu_2','is_error':true,'content':["
        "{'type':'text','text':'timeout'},{'type':'image','source':{'type':'url','url':'u'}},"
        "{'type':'text','text':'retry later'}]}]},"
        "{'role':'assistant','content':[{'type':'tool_use','id':'toolu_3','name':'clock',"
        "'input':{}}]},"
        "{'role':'user','content':[{'type':'tool_result','tool_use_id':'toolu_3'}]}]}",
        &rc);
    ASSERT_INT_EQ(rc, 0);
    ASSERT(o);
    ASSERT_INT_EQ(json_size(o, "messages"), 7);
    ASSERT_STR_EQ(json_str(o, "messages.0.role"), "user");

    /* the assistant turn: text joined, thinking dropped, two tool calls */
    ASSERT_STR_EQ(json_str(o, "messages.1.role"), "assistant");
    ASSERT_STR_EQ(json_str(o, "messages.1.content"), "Checking.");
    ASSERT_INT_EQ(json_size(o, "messages.1.tool_calls"), 2);
    ASSERT_STR_EQ(json_str(o, "messages.1.tool_calls.0.id"), "toolu_1");
    ASSERT_STR_EQ(json_str(o, "messages.1.tool_calls.0.type"), "function");
    ASSERT_STR_EQ(json_str(o, "messages.1.tool_calls.0.function.name"), "weather");
    args = json_str(o, "messages.1.tool_calls.0.function.arguments");
    ASSERT(args);
    parsed = cJSON_Parse(args);
    ASSERT(parsed);
    ASSERT_STR_EQ(json_str(parsed, "city"), "Paris");
    ASSERT_INT_EQ(json_num(parsed, "days.1"), 2);
    cJSON_Delete(parsed);
    ASSERT_STR_EQ(json_str(o, "messages.1.tool_calls.1.id"), "toolu_2");

    /* tool results first, in order, then the user text */
    ASSERT_STR_EQ(json_str(o, "messages.2.role"), "tool");
    ASSERT_STR_EQ(json_keys(json_at(o, "messages.2")), "role,tool_call_id,content");
    ASSERT_STR_EQ(json_str(o, "messages.2.tool_call_id"), "toolu_1");
    ASSERT_STR_EQ(json_str(o, "messages.2.content"), "sunny");
    ASSERT_STR_EQ(json_str(o, "messages.3.role"), "tool");
    ASSERT_STR_EQ(json_str(o, "messages.3.tool_call_id"), "toolu_2");
    ASSERT_STR_EQ(json_str(o, "messages.3.content"), "Error: timeout\nretry later");
    ASSERT_STR_EQ(json_str(o, "messages.4.role"), "user");
    ASSERT_STR_EQ(json_str(o, "messages.4.content"), "here you go");

    /* an assistant turn of tool calls only: content null; a user turn of
     * tool results only: no user message */
    ASSERT_STR_EQ(json_str(o, "messages.5.role"), "assistant");
    ASSERT(cJSON_IsNull(json_at(o, "messages.5.content")));
    ASSERT_STR_EQ(json_str(o, "messages.5.tool_calls.0.function.arguments"), "{}");
    ASSERT_STR_EQ(json_str(o, "messages.6.role"), "tool");
    ASSERT_STR_EQ(json_str(o, "messages.6.tool_call_id"), "toolu_3");
    ASSERT_STR_EQ(json_str(o, "messages.6.content"), "");
    cJSON_Delete(o);
}

TEST(anthropic_request_assistant_text_blocks_joined)
{
    int rc;
    cJSON *o = request("{'model':'m','max_tokens':8,'messages':[{'role':'user','content':'q'},"
                       "{'role':'assistant','content':[{'type':'text','text':'The answer '},"
                       "{'type':'text','text':'is 4.'}]}]}",
                       &rc);
    ASSERT_INT_EQ(rc, 0);
    ASSERT(o);
    ASSERT_STR_EQ(json_str(o, "messages.1.content"), "The answer is 4.");
    ASSERT(!json_at(o, "messages.1.tool_calls"));
    cJSON_Delete(o);
}

TEST(anthropic_request_images_base64_and_url)
{
    int rc;
    cJSON *o = request(
        "{'model':'m','max_tokens':8,'messages':[{'role':'user','content':["
        "{'type':'text','text':'compare'},"
        "{'type':'image','source':{'type':'base64','media_type':'image/png','data':'iVBORw0K'}},"
        "{'type':'image','source':{'type':'url','url':'https://example.com/a.jpg'}}]},"
        "{'role':'assistant','content':'ok'},"
        "{'role':'user','content':[{'type':'image','source':{'type':'url','url':'https://x/b'}}]}"
        "]}",
        &rc);
    ASSERT_INT_EQ(rc, 0);
    ASSERT(o);
    ASSERT_INT_EQ(json_size(o, "messages.0.content"), 3);
    ASSERT_STR_EQ(json_str(o, "messages.0.content.0.type"), "text");
    ASSERT_STR_EQ(json_str(o, "messages.0.content.0.text"), "compare");
    ASSERT_STR_EQ(json_str(o, "messages.0.content.1.type"), "image_url");
    ASSERT_STR_EQ(json_str(o, "messages.0.content.1.image_url.url"),
                  "data:image/png;base64,iVBORw0K");
    ASSERT_STR_EQ(json_str(o, "messages.0.content.2.type"), "image_url");
    ASSERT_STR_EQ(json_str(o, "messages.0.content.2.image_url.url"), "https://example.com/a.jpg");
    ASSERT_STR_EQ(json_str(o, "messages.1.content"), "ok");
    /* a lone image is still an array of parts */
    ASSERT_INT_EQ(json_size(o, "messages.2.content"), 1);
    ASSERT_STR_EQ(json_str(o, "messages.2.content.0.image_url.url"), "https://x/b");
    cJSON_Delete(o);
}

TEST(anthropic_request_documents)
{
    int rc;
    cJSON *o = request("{'model':'m','max_tokens':8,'messages':[{'role':'user','content':["
                       "{'type':'document','source':{'type':'text','media_type':'text/plain',"
                       "'data':'Doc body.'},'title':'t'},{'type':'text','text':'Summarise.'}]}]}",
                       &rc);
    ASSERT_INT_EQ(rc, 0);
    ASSERT(o);
    ASSERT_INT_EQ(json_size(o, "messages.0.content"), 2);
    ASSERT_STR_EQ(json_str(o, "messages.0.content.0.type"), "text");
    ASSERT_STR_EQ(json_str(o, "messages.0.content.0.text"), "Doc body.");
    ASSERT_STR_EQ(json_str(o, "messages.0.content.1.text"), "Summarise.");
    cJSON_Delete(o);

    ASSERT_STR_EQ(request_error("{'model':'m','max_tokens':8,'messages':[{'role':'user',"
                                "'content':[{'type':'document','source':{'type':'base64',"
                                "'media_type':'application/pdf','data':'JVBER'}}]}]}"),
                  "messages.0.content.0.source.type: document source type 'base64' is not "
                  "supported by allot");
}

TEST(anthropic_request_single_text_block_is_a_string)
{
    int rc;
    cJSON *o = request("{'model':'m','max_tokens':8,'messages':[{'role':'user','content':["
                       "{'type':'text','text':'only','cache_control':{'type':'ephemeral'}}]}]}",
                       &rc);
    ASSERT_INT_EQ(rc, 0);
    ASSERT(o);
    ASSERT_STR_EQ(json_str(o, "messages.0.content"), "only");
    cJSON_Delete(o);
}

TEST(anthropic_request_tools_and_tool_choice)
{
    static const struct {
        const char *choice;
        const char *want; /* tool_choice as JSON text */
        int parallel_false;
    } cases[] = {
        {"{'type':'auto'}", "\"auto\"", 0},
        {"{'type':'any'}", "\"required\"", 0},
        {"{'type':'none'}", "\"none\"", 0},
        {"{'type':'tool','name':'get_time'}",
         "{\"type\":\"function\",\"function\":{\"name\":\"get_time\"}}", 0},
        {"{'type':'auto','disable_parallel_tool_use':true}", "\"auto\"", 1},
        {"{'type':'any','disable_parallel_tool_use':false}", "\"required\"", 0},
    };
    char body[2048];
    size_t i;
    int rc;

    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cJSON *o;
        char *choice;

        snprintf(body, sizeof body,
                 "{'model':'m','max_tokens':8,'tool_choice':%s,'temperature':0.5,"
                 "'tools':[{'name':'get_weather','description':'Weather by city',"
                 "'input_schema':{'type':'object','properties':{'city':{'type':'string'}},"
                 "'required':['city']}},"
                 "{'type':'custom','name':'get_time','input_schema':{'type':'object'}}]," MSG_HI
                 "}",
                 cases[i].choice);
        o = request(body, &rc);
        ASSERT_INT_EQ(rc, 0);
        ASSERT(o);
        ASSERT_STR_EQ(json_keys(o),
                      cases[i].parallel_false
                          ? "model,messages,max_tokens,temperature,tools,tool_choice,"
                            "parallel_tool_calls"
                          : "model,messages,max_tokens,temperature,tools,tool_choice");
        ASSERT_INT_EQ(json_size(o, "tools"), 2);
        ASSERT_STR_EQ(json_str(o, "tools.0.type"), "function");
        ASSERT_STR_EQ(json_str(o, "tools.0.function.name"), "get_weather");
        ASSERT_STR_EQ(json_str(o, "tools.0.function.description"), "Weather by city");
        ASSERT_STR_EQ(json_str(o, "tools.0.function.parameters.type"), "object");
        ASSERT_STR_EQ(json_str(o, "tools.0.function.parameters.properties.city.type"), "string");
        ASSERT_STR_EQ(json_str(o, "tools.0.function.parameters.required.0"), "city");
        ASSERT_STR_EQ(json_str(o, "tools.1.function.name"), "get_time");
        ASSERT(!json_at(o, "tools.1.function.description"));
        choice = cJSON_PrintUnformatted(json_at(o, "tool_choice"));
        ASSERT(choice);
        ASSERT_STR_EQ(choice, cases[i].want);
        cJSON_free(choice);
        if (cases[i].parallel_false)
            ASSERT(cJSON_IsFalse(json_at(o, "parallel_tool_calls")));
        cJSON_Delete(o);
    }
}

TEST(anthropic_request_tool_choice_without_tools_is_dropped)
{
    int rc;
    cJSON *o = request("{'model':'m','max_tokens':8,'tools':[],'tool_choice':{'type':'auto',"
                       "'disable_parallel_tool_use':true}," MSG_HI "}",
                       &rc);
    ASSERT_INT_EQ(rc, 0);
    ASSERT(o);
    ASSERT_STR_EQ(json_keys(o), "model,messages,max_tokens");
    cJSON_Delete(o);
    ASSERT_STR_EQ(request_error("{'model':'m','max_tokens':8,'tool_choice':{'type':'maybe'},"
                                "'tools':[{'name':'f','input_schema':{}}]," MSG_HI "}"),
                  "tool_choice.type: Input should be 'auto', 'any', 'tool' or 'none'");
    ASSERT_STR_EQ(request_error("{'model':'m','max_tokens':8,'tool_choice':{'type':'tool'},"
                                "'tools':[{'name':'f','input_schema':{}}]," MSG_HI "}"),
                  "tool_choice.name: Field required");
}

TEST(anthropic_request_server_tools_refused)
{
    ASSERT_STR_EQ(request_error("{'model':'m','max_tokens':8,'tools':[{'name':'f',"
                                "'input_schema':{}},{'type':'web_search_20250305','name':"
                                "'web_search','max_uses':5}]," MSG_HI "}"),
                  "tools.1: server tool type 'web_search_20250305' is not supported by allot");
    ASSERT_STR_EQ(request_error("{'model':'m','max_tokens':8,'tools':[{'type':'bash_20250124',"
                                "'name':'bash'}]," MSG_HI "}"),
                  "tools.0: server tool type 'bash_20250124' is not supported by allot");
    ASSERT_STR_EQ(request_error("{'model':'m','max_tokens':8,'tools':[{'name':'f'}]," MSG_HI "}"),
                  "tools.0.input_schema: Field required");
    ASSERT_STR_EQ(
        request_error("{'model':'m','max_tokens':8,'tools':[{'input_schema':{}}]," MSG_HI "}"),
        "tools.0.name: Field required");
}

TEST(anthropic_request_required_fields)
{
    static const struct {
        const char *body, *want;
    } cases[] = {
        {"{'max_tokens':8," MSG_HI "}", "model: Field required"},
        {"{'model':7,'max_tokens':8," MSG_HI "}", "model: Input should be a valid string"},
        {"{'model':'m'," MSG_HI "}", "max_tokens: Field required"},
        {"{'model':'m','max_tokens':'8'," MSG_HI "}",
         "max_tokens: Input should be a valid integer"},
        {"{'model':'m','max_tokens':1.5," MSG_HI "}",
         "max_tokens: Input should be a valid integer"},
        {"{'model':'m','max_tokens':0," MSG_HI "}",
         "max_tokens: Input should be greater than or equal to 1"},
        {"{'model':'m','max_tokens':8}", "messages: Field required"},
        {"{'model':'m','max_tokens':8,'messages':{}}", "messages: Input should be a valid list"},
        {"{'model':'m','max_tokens':8,'messages':[]}",
         "messages: at least one message is required"},
        {"{'model':'m','max_tokens':8,'messages':['hi']}",
         "messages.0: Input should be a valid dictionary"},
        {"{'model':'m','max_tokens':8,'messages':[{'content':'hi'}]}",
         "messages.0.role: Field required"},
        {"{'model':'m','max_tokens':8,'messages':[{'role':'user','content':'a'},"
         "{'role':'assistant','content':'b'},{'role':'system','content':'c'}]}",
         "messages.2.role: Input should be 'user' or 'assistant'"},
        {"{'model':'m','max_tokens':8,'messages':[{'role':'user'}]}",
         "messages.0.content: Field required"},
        {"{'model':'m','max_tokens':8,'messages':[{'role':'user','content':3}]}",
         "messages.0.content: Input should be a valid string or list"},
        {"{'model':'m','max_tokens':8,'messages':[{'role':'user','content':[{'text':'x'}]}]}",
         "messages.0.content.0.type: Field required"},
        {"{'model':'m','max_tokens':8,'messages':[{'role':'user','content':[{'type':'text'}]}]}",
         "messages.0.content.0.text: Field required"},
        {"{'model':'m','max_tokens':8,'messages':[{'role':'user','content':[{'type':'image',"
         "'source':{'type':'base64','data':'x'}}]}]}",
         "messages.0.content.0.source.media_type: Field required"},
        {"{'model':'m','max_tokens':8,'messages':[{'role':'assistant','content':[{'type':"
         "'tool_use','id':'t','name':'f'}]}]}",
         "messages.0.content.0.input: Field required"},
        {"{'model':'m','max_tokens':8,'messages':[{'role':'user','content':[{'type':"
         "'tool_result','content':'x'}]}]}",
         "messages.0.content.0.tool_use_id: Field required"},
        {"{'model':'m','max_tokens':8,'temperature':'hot'," MSG_HI "}",
         "temperature: Input should be a valid number"},
        {"{'model':'m','max_tokens':8,'stop_sequences':['a',1]," MSG_HI "}",
         "stop_sequences.1: Input should be a valid string"},
        {"{'model':'m','max_tokens':8,'stream':'yes'," MSG_HI "}",
         "stream: Input should be a valid boolean"},
        {"{'model':'m','max_tokens':8,'metadata':{'user_id':5}," MSG_HI "}",
         "metadata.user_id: Input should be a valid string"},
        {"[1,2]", "request body must be a JSON object"},
    };
    size_t i;

    for (i = 0; i < sizeof cases / sizeof cases[0]; i++)
        ASSERT_STR_EQ(request_error(cases[i].body), cases[i].want);
}

TEST(anthropic_request_invalid_json)
{
    const char *msg = request_error("{'model':'m',");
    ASSERT_STR_CONTAINS(msg, "invalid JSON at line 1 column");
    msg = request_error("");
    ASSERT_STR_CONTAINS(msg, "invalid JSON");
}

TEST(anthropic_request_unsupported_blocks)
{
    static const struct {
        const char *body, *want;
    } cases[] = {
        {"{'model':'m','max_tokens':8,'messages':[{'role':'user','content':[{'type':'text',"
         "'text':'x'},{'type':'container_upload','file_id':'f'}]}]}",
         "messages.0.content.1.type: content block type 'container_upload' is not supported by "
         "allot"},
        {"{'model':'m','max_tokens':8,'messages':[{'role':'user','content':'q'},{'role':"
         "'assistant','content':[{'type':'server_tool_use','id':'s','name':'web_search',"
         "'input':{}}]}]}",
         "messages.1.content.0.type: content block type 'server_tool_use' is not supported by "
         "allot"},
        {"{'model':'m','max_tokens':8,'messages':[{'role':'user','content':[{'type':"
         "'tool_use','id':'t','name':'f','input':{}}]}]}",
         "messages.0.content.0.type: tool_use blocks are only allowed in assistant messages"},
        {"{'model':'m','max_tokens':8,'messages':[{'role':'assistant','content':[{'type':"
         "'tool_result','tool_use_id':'t'}]}]}",
         "messages.0.content.0.type: tool_result blocks are only allowed in user messages"},
        {"{'model':'m','max_tokens':8,'messages':[{'role':'assistant','content':[{'type':"
         "'image','source':{'type':'url','url':'u'}}]}]}",
         "messages.0.content.0.type: image blocks are only allowed in user messages"},
        {"{'model':'m','max_tokens':8,'messages':[{'role':'user','content':[{'type':'image',"
         "'source':{'type':'file','file_id':'f'}}]}]}",
         "messages.0.content.0.source.type: image source type 'file' is not supported by allot"},
        {"{'model':'m','max_tokens':8,'messages':[{'role':'user','content':[{'type':"
         "'tool_result','tool_use_id':'t','content':[{'type':'search_result'}]}]}]}",
         "messages.0.content.0.content.0.type: content block type 'search_result' is not "
         "supported by allot"},
        /* client text quoted in a message is kept on one line */
        {"{'model':'m','max_tokens':8,'messages':[{'role':'user','content':[{'type':'a\\nb'}]}]}",
         "messages.0.content.0.type: content block type 'a?b' is not supported by allot"},
    };
    size_t i;

    for (i = 0; i < sizeof cases / sizeof cases[0]; i++)
        ASSERT_STR_EQ(request_error(cases[i].body), cases[i].want);
}

TEST(anthropic_request_stop_metadata_stream_sampling)
{
    int rc;
    cJSON *o = request("{'stream':true,'metadata':{'user_id':'u-42'},'top_p':0.9,"
                       "'stop_sequences':['END','###'],'temperature':0.25,'model':'m',"
                       "'max_tokens':1024," MSG_HI "}",
                       &rc);
    ASSERT_INT_EQ(rc, 0);
    ASSERT(o);
    ASSERT_STR_EQ(json_keys(o), "model,messages,max_tokens,temperature,top_p,stop,stream,user");
    ASSERT_DBL_NEAR(json_num(o, "temperature"), 0.25, 1e-12);
    ASSERT_DBL_NEAR(json_num(o, "top_p"), 0.9, 1e-12);
    ASSERT_INT_EQ(json_size(o, "stop"), 2);
    ASSERT_STR_EQ(json_str(o, "stop.0"), "END");
    ASSERT_STR_EQ(json_str(o, "stop.1"), "###");
    ASSERT(cJSON_IsTrue(json_at(o, "stream")));
    ASSERT_STR_EQ(json_str(o, "user"), "u-42");
    ASSERT_INT_EQ(json_num(o, "max_tokens"), 1024);
    cJSON_Delete(o);

    o = request("{'stream':false,'stop_sequences':[],'metadata':{'user_id':null},'model':'m',"
                "'max_tokens':8," MSG_HI "}",
                &rc);
    ASSERT_INT_EQ(rc, 0);
    ASSERT(o);
    ASSERT_STR_EQ(json_keys(o), "model,messages,max_tokens,stream");
    ASSERT(cJSON_IsFalse(json_at(o, "stream")));
    cJSON_Delete(o);
}

TEST(anthropic_request_errors_leave_out_unchanged)
{
    const char *ok = json_sq("{'model':'m','max_tokens':8," MSG_HI "}");
    const char *bad =
        json_sq("{'model':'m','max_tokens':8,'messages':[{'role':'user','content':'a'},"
                "{'role':'bot','content':'b'}]}");
    struct allot_buf out, err;

    allot_buf_init(&out, 1024);
    allot_buf_init(&err, 1024);
    ASSERT_INT_EQ(allot_buf_adds(&out, "KEEP"), 0);
    ASSERT_INT_EQ(allot_anthropic_request(bad, strlen(bad), &out, &err), ALLOT_EINVAL);
    ASSERT_STR_EQ(allot_buf_cstr(&out), "KEEP");
    ASSERT_STR_EQ(allot_buf_cstr(&err), "messages.1.role: Input should be 'user' or 'assistant'");
    allot_buf_release(&out);
    allot_buf_release(&err);

    allot_buf_init(&out, 40); /* too small for the translation */
    allot_buf_init(&err, 1024);
    ASSERT_INT_EQ(allot_buf_adds(&out, "KEEP"), 0);
    ASSERT_INT_EQ(allot_anthropic_request(ok, strlen(ok), &out, &err), ALLOT_ETOOBIG);
    ASSERT_STR_EQ(allot_buf_cstr(&out), "KEEP");
    ASSERT_INT_EQ(err.len, 0);
    allot_buf_release(&out);
    allot_buf_release(&err);

    /* err may be NULL */
    allot_buf_init(&out, 1024);
    ASSERT_INT_EQ(allot_anthropic_request(bad, strlen(bad), &out, NULL), ALLOT_EINVAL);
    ASSERT_INT_EQ(out.len, 0);
    allot_buf_release(&out);
}

TEST(anthropic_request_output_is_valid_json_for_hostile_strings)
{
    /* escapes and non-ASCII survive the round trip */
    int rc;
    cJSON *o = request("{'model':'m','max_tokens':8,'messages':[{'role':'user','content':"
                       "'quote \\' backslash \\\\ tab \\t \\u00e9 \\ud83d\\ude00'}]}",
                       &rc);
    ASSERT_INT_EQ(rc, 0);
    ASSERT(o);
    ASSERT_STR_EQ(json_str(o, "messages.0.content"),
                  "quote \" backslash \\ tab \t \xc3\xa9 \xf0\x9f\x98\x80");
    cJSON_Delete(o);
}

/* ---- responses ---- */

TEST(anthropic_response_text)
{
    int rc;
    cJSON *o = response("{'id':'chatcmpl-abc123','object':'chat.completion','model':'gpt-x',"
                        "'choices':[{'index':0,'message':{'role':'assistant','content':'Hello!'},"
                        "'finish_reason':'stop'}],'usage':{'prompt_tokens':12,"
                        "'completion_tokens':3,'total_tokens':15}}",
                        "served-model", &rc);
    ASSERT_INT_EQ(rc, 0);
    ASSERT(o);
    ASSERT_STR_EQ(json_keys(o), "id,type,role,model,content,stop_reason,stop_sequence,usage");
    ASSERT_STR_EQ(json_str(o, "id"), "msg_abc123");
    ASSERT_STR_EQ(json_str(o, "type"), "message");
    ASSERT_STR_EQ(json_str(o, "role"), "assistant");
    ASSERT_STR_EQ(json_str(o, "model"), "served-model");
    ASSERT_INT_EQ(json_size(o, "content"), 1);
    ASSERT_STR_EQ(json_str(o, "content.0.type"), "text");
    ASSERT_STR_EQ(json_str(o, "content.0.text"), "Hello!");
    ASSERT_STR_EQ(json_str(o, "stop_reason"), "end_turn");
    ASSERT(cJSON_IsNull(json_at(o, "stop_sequence")));
    ASSERT_INT_EQ(json_num(o, "usage.input_tokens"), 12);
    ASSERT_INT_EQ(json_num(o, "usage.output_tokens"), 3);
    cJSON_Delete(o);

    /* no model given: the completion's own; an id without chatcmpl- */
    o = response("{'id':'xyz','model':'gpt-x','choices':[{'message':{'content':'a'}}]}", NULL, &rc);
    ASSERT_INT_EQ(rc, 0);
    ASSERT(o);
    ASSERT_STR_EQ(json_str(o, "id"), "msg_xyz");
    ASSERT_STR_EQ(json_str(o, "model"), "gpt-x");
    cJSON_Delete(o);
}

TEST(anthropic_response_tool_calls)
{
    int rc;
    cJSON *o = response(
        "{'id':'chatcmpl-t','choices':[{'message':{'role':'assistant','content':'Let me look.',"
        "'tool_calls':[{'id':'call_1','type':'function','function':{'name':'weather',"
        "'arguments':'{\\'city\\':\\'Paris\\',\\'n\\':[1,2]}'}},"
        "{'id':'call_2','type':'function','function':{'name':'broken',"
        "'arguments':'{\\'city\\':'}},"
        "{'id':'call_3','type':'function','function':{'name':'arr','arguments':'[1]'}}]},"
        "'finish_reason':'tool_calls'}],'usage':{'prompt_tokens':5,'completion_tokens':9}}",
        "m", &rc);
    ASSERT_INT_EQ(rc, 0);
    ASSERT(o);
    ASSERT_INT_EQ(json_size(o, "content"), 4);
    ASSERT_STR_EQ(json_str(o, "content.0.type"), "text");
    ASSERT_STR_EQ(json_str(o, "content.0.text"), "Let me look.");
    ASSERT_STR_EQ(json_keys(json_at(o, "content.1")), "type,id,name,input");
    ASSERT_STR_EQ(json_str(o, "content.1.type"), "tool_use");
    ASSERT_STR_EQ(json_str(o, "content.1.id"), "call_1");
    ASSERT_STR_EQ(json_str(o, "content.1.name"), "weather");
    ASSERT_STR_EQ(json_str(o, "content.1.input.city"), "Paris");
    ASSERT_INT_EQ(json_num(o, "content.1.input.n.1"), 2);
    ASSERT_STR_EQ(json_str(o, "content.2.name"), "broken");
    ASSERT(cJSON_IsObject(json_at(o, "content.2.input")));
    ASSERT_INT_EQ(json_size(o, "content.2.input"), 0);
    ASSERT_INT_EQ(json_size(o, "content.3.input"), 0);
    ASSERT_STR_EQ(json_str(o, "stop_reason"), "tool_use");
    cJSON_Delete(o);

    /* tool calls without text: the tool_use block comes first */
    o = response("{'id':'c','choices':[{'message':{'content':null,'tool_calls':[{'id':'k',"
                 "'type':'function','function':{'name':'f','arguments':'{}'}}]},"
                 "'finish_reason':'tool_calls'}]}",
                 "m", &rc);
    ASSERT_INT_EQ(rc, 0);
    ASSERT(o);
    ASSERT_INT_EQ(json_size(o, "content"), 1);
    ASSERT_STR_EQ(json_str(o, "content.0.type"), "tool_use");
    cJSON_Delete(o);
}

TEST(anthropic_response_finish_reasons)
{
    static const struct {
        const char *finish, *want;
    } cases[] = {
        {"'stop'", "end_turn"},
        {"'length'", "max_tokens"},
        {"'tool_calls'", "tool_use"},
        {"'function_call'", "tool_use"},
        {"'content_filter'", "refusal"},
        {"'eos'", "end_turn"},
        {"null", "end_turn"},
    };
    char body[512];
    size_t i;
    int rc;

    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cJSON *o;
        snprintf(body, sizeof body,
                 "{'id':'chatcmpl-1','choices':[{'message':{'content':'x'},'finish_reason':%s}]}",
                 cases[i].finish);
        o = response(body, "m", &rc);
        ASSERT_INT_EQ(rc, 0);
        ASSERT(o);
        ASSERT_STR_EQ(json_str(o, "stop_reason"), cases[i].want);
        cJSON_Delete(o);
    }
    /* finish_reason absent */
    {
        cJSON *o =
            response("{'id':'chatcmpl-1','choices':[{'message':{'content':'x'}}]}", "m", &rc);
        ASSERT_INT_EQ(rc, 0);
        ASSERT(o);
        ASSERT_STR_EQ(json_str(o, "stop_reason"), "end_turn");
        cJSON_Delete(o);
    }
}

TEST(anthropic_response_usage_absent_and_empty_content)
{
    int rc;
    cJSON *o = response("{'id':'chatcmpl-e','choices':[{'message':{'role':'assistant',"
                        "'content':''},'finish_reason':'length'}]}",
                        "m", &rc);
    ASSERT_INT_EQ(rc, 0);
    ASSERT(o);
    ASSERT(cJSON_IsArray(json_at(o, "content")));
    ASSERT_INT_EQ(json_size(o, "content"), 0);
    ASSERT_STR_EQ(json_str(o, "stop_reason"), "max_tokens");
    ASSERT_INT_EQ(json_num(o, "usage.input_tokens"), 0);
    ASSERT_INT_EQ(json_num(o, "usage.output_tokens"), 0);
    cJSON_Delete(o);
}

TEST(anthropic_response_not_a_completion)
{
    static const char *const bodies[] = {
        "not json",
        "[]",
        "{}",
        "{'choices':[]}",
        "{'choices':{}}",
        "{'choices':[1]}",
        "{'error':{'message':'bad'}}",
    };
    struct allot_buf out;
    size_t i;

    allot_buf_init(&out, 4096);
    ASSERT_INT_EQ(allot_buf_adds(&out, "KEEP"), 0);
    for (i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        const char *b = json_sq(bodies[i]);
        ASSERT_INT_EQ(allot_anthropic_response(b, strlen(b), "m", &out), ALLOT_EPARSE);
        ASSERT_STR_EQ(allot_buf_cstr(&out), "KEEP");
    }
    allot_buf_release(&out);
}

TEST(anthropic_response_cap_leaves_out_unchanged)
{
    const char *b = json_sq("{'id':'chatcmpl-1','choices':[{'message':{'content':'a long enough "
                            "answer to pass the cap'}}]}");
    struct allot_buf out;

    allot_buf_init(&out, 64);
    ASSERT_INT_EQ(allot_buf_adds(&out, "KEEP"), 0);
    ASSERT_INT_EQ(allot_anthropic_response(b, strlen(b), "m", &out), ALLOT_ETOOBIG);
    ASSERT_STR_EQ(allot_buf_cstr(&out), "KEEP");
    allot_buf_release(&out);
}

/* ---- streams ---- */

TEST(anthropic_stream_init_ids)
{
    struct allot_anthropic_stream s;
    char long_id[200];

    allot_anthropic_stream_init(&s, "chatcmpl-abc", "mod");
    ASSERT_STR_EQ(s.id, "msg_abc");
    ASSERT_STR_EQ(s.model, "mod");
    ASSERT_INT_EQ(s.tool_index, -1);
    ASSERT_INT_EQ(s.started, 0);
    ASSERT_INT_EQ(s.block_index, 0);
    allot_anthropic_stream_init(&s, "msg_kept", NULL);
    ASSERT_STR_EQ(s.id, "msg_kept");
    ASSERT_STR_EQ(s.model, "");
    allot_anthropic_stream_init(&s, "other", "m");
    ASSERT_STR_EQ(s.id, "msg_other");
    memset(long_id, 'x', sizeof long_id - 1);
    long_id[sizeof long_id - 1] = '\0';
    allot_anthropic_stream_init(&s, long_id, "m");
    ASSERT_INT_EQ(strlen(s.id), sizeof s.id - 1);
}

TEST(anthropic_response_cached_tokens)
{
    int rc;
    /* OpenAI counts cached tokens in prompt_tokens, Anthropic apart */
    cJSON *o = response("{'id':'c','choices':[{'message':{'content':'a'},'finish_reason':'stop'}],"
                        "'usage':{'prompt_tokens':1000,'completion_tokens':3,"
                        "'prompt_tokens_details':{'cached_tokens':800,'cache_write_tokens':150}}}",
                        "m", &rc);
    ASSERT_INT_EQ(rc, 0);
    ASSERT(o);
    ASSERT_STR_EQ(json_keys(json_at(o, "usage")),
                  "input_tokens,cache_creation_input_tokens,cache_read_input_tokens,output_tokens");
    ASSERT_INT_EQ(json_num(o, "usage.input_tokens"), 50);
    ASSERT_INT_EQ(json_num(o, "usage.cache_read_input_tokens"), 800);
    ASSERT_INT_EQ(json_num(o, "usage.cache_creation_input_tokens"), 150);
    ASSERT_INT_EQ(json_num(o, "usage.output_tokens"), 3);
    cJSON_Delete(o);

    /* more cached than prompt: never a negative input */
    o = response("{'id':'c','choices':[{'message':{'content':'a'}}],'usage':{'prompt_tokens':10,"
                 "'completion_tokens':1,'prompt_tokens_details':{'cached_tokens':99}}}",
                 "m", &rc);
    ASSERT_INT_EQ(rc, 0);
    ASSERT(o);
    ASSERT_INT_EQ(json_num(o, "usage.input_tokens"), 0);
    ASSERT_INT_EQ(json_num(o, "usage.cache_read_input_tokens"), 10);
    ASSERT_INT_EQ(json_num(o, "usage.cache_creation_input_tokens"), 0);
    cJSON_Delete(o);

    /* zero cached: no cache members, as before */
    o = response("{'id':'c','choices':[{'message':{'content':'a'}}],'usage':{'prompt_tokens':10,"
                 "'completion_tokens':1,'prompt_tokens_details':{'cached_tokens':0}}}",
                 "m", &rc);
    ASSERT_INT_EQ(rc, 0);
    ASSERT(o);
    ASSERT_STR_EQ(json_keys(json_at(o, "usage")), "input_tokens,output_tokens");
    cJSON_Delete(o);
}

TEST(anthropic_stream_cached_tokens)
{
    struct allot_anthropic_stream s;
    struct allot_buf out;
    struct events ev;

    allot_buf_init(&out, 1u << 16);
    allot_anthropic_stream_init(&s, "chatcmpl-s2", "m");
    ASSERT_INT_EQ(feed(&s, "{'choices':[{'index':0,'delta':{'content':'Hi'}}]}", &out), 0);
    ASSERT_INT_EQ(feed(&s,
                       "{'choices':[],'usage':{'prompt_tokens':2000,'completion_tokens':5,"
                       "'prompt_tokens_details':{'cached_tokens':1536}}}",
                       &out),
                  0);
    ASSERT_INT_EQ(allot_anthropic_stream_event(&s, ALLOT_SLICE_LIT("[DONE]"), &out), 0);
    ASSERT_INT_EQ(events_parse(allot_buf_cstr(&out), &ev, 0), 0);
    ASSERT_STR_EQ(ev.name[ev.n - 2], "message_delta");
    ASSERT_INT_EQ(json_num(ev.data[ev.n - 2], "usage.input_tokens"), 464);
    ASSERT_INT_EQ(json_num(ev.data[ev.n - 2], "usage.cache_read_input_tokens"), 1536);
    ASSERT_INT_EQ(json_num(ev.data[ev.n - 2], "usage.cache_creation_input_tokens"), 0);
    ASSERT_INT_EQ(json_num(ev.data[ev.n - 2], "usage.output_tokens"), 5);
    events_release(&ev);
    allot_buf_release(&out);
}

TEST(anthropic_stream_text_full_sequence)
{
    struct allot_anthropic_stream s;
    struct allot_buf out;
    struct events ev;

    allot_buf_init(&out, 1u << 16);
    allot_anthropic_stream_init(&s, "chatcmpl-s1", "gpt-small");
    ASSERT_INT_EQ(feed(&s,
                       "{'id':'chatcmpl-s1','object':'chat.completion.chunk','choices':[{'index':0,"
                       "'delta':{'role':'assistant','content':''},'finish_reason':null}]}",
                       &out),
                  0);
    ASSERT_INT_EQ(feed(&s, "{'choices':[{'index':0,'delta':{'content':'Hel'}}]}", &out), 0);
    ASSERT_INT_EQ(feed(&s, "{'choices':[{'index':0,'delta':{'content':'lo \\'you\\''}}]}", &out),
                  0);
    ASSERT_INT_EQ(feed(&s, "{'choices':[{'index':0,'delta':{},'finish_reason':'length'}]}", &out),
                  0);
    ASSERT_INT_EQ(feed(&s,
                       "{'choices':[],'usage':{'prompt_tokens':21,'completion_tokens':7,"
                       "'total_tokens':28}}",
                       &out),
                  0);
    ASSERT_INT_EQ(s.finished, 0);
    ASSERT_INT_EQ(allot_anthropic_stream_event(&s, ALLOT_SLICE_LIT("[DONE]"), &out), 0);
    ASSERT_INT_EQ(s.finished, 1);

    ASSERT_INT_EQ(events_parse(allot_buf_cstr(&out), &ev, 0), 0);
    ASSERT_STR_EQ(event_names(&ev), "message_start,content_block_start,content_block_delta,"
                                    "content_block_delta,content_block_stop,message_delta,"
                                    "message_stop");
    ASSERT_STR_EQ(json_str(ev.data[0], "message.id"), "msg_s1");
    ASSERT_STR_EQ(json_str(ev.data[0], "message.type"), "message");
    ASSERT_STR_EQ(json_str(ev.data[0], "message.role"), "assistant");
    ASSERT_STR_EQ(json_str(ev.data[0], "message.model"), "gpt-small");
    ASSERT_INT_EQ(json_size(ev.data[0], "message.content"), 0);
    ASSERT(cJSON_IsNull(json_at(ev.data[0], "message.stop_reason")));
    ASSERT_INT_EQ(json_num(ev.data[0], "message.usage.input_tokens"), 0);
    ASSERT_INT_EQ(json_num(ev.data[1], "index"), 0);
    ASSERT_STR_EQ(json_str(ev.data[1], "content_block.type"), "text");
    ASSERT_STR_EQ(json_str(ev.data[1], "content_block.text"), "");
    ASSERT_INT_EQ(json_num(ev.data[2], "index"), 0);
    ASSERT_STR_EQ(json_str(ev.data[2], "delta.type"), "text_delta");
    ASSERT_STR_EQ(json_str(ev.data[2], "delta.text"), "Hel");
    ASSERT_STR_EQ(json_str(ev.data[3], "delta.text"), "lo \"you\"");
    ASSERT_INT_EQ(json_num(ev.data[4], "index"), 0);
    ASSERT_STR_EQ(json_str(ev.data[5], "delta.stop_reason"), "max_tokens");
    ASSERT(cJSON_IsNull(json_at(ev.data[5], "delta.stop_sequence")));
    ASSERT_INT_EQ(json_num(ev.data[5], "usage.input_tokens"), 21);
    ASSERT_INT_EQ(json_num(ev.data[5], "usage.output_tokens"), 7);
    events_release(&ev);
    allot_buf_release(&out);
}

TEST(anthropic_stream_text_then_two_tool_calls)
{
    struct allot_anthropic_stream s;
    struct allot_buf out;
    struct events ev;
    cJSON *args;
    int i;
    static const char *const chunks[] = {
        "{'choices':[{'delta':{'role':'assistant','content':'Checking both.'}}]}",
        "{'choices':[{'delta':{'tool_calls':[{'index':0,'id':'call_a','type':'function',"
        "'function':{'name':'weather','arguments':''}}]}}]}",
        "{'choices':[{'delta':{'tool_calls':[{'index':0,'function':{'arguments':'{\\'ci'}}]}}]}",
        "{'choices':[{'delta':{'tool_calls':[{'index':0,'function':{'arguments':"
        "'ty\\':\\'Paris\\'}'}}]}}]}",
        "{'choices':[{'delta':{'tool_calls':[{'index':1,'id':'call_b','type':'function',"
        "'function':{'name':'clock','arguments':'{}'}}]}}]}",
        "{'choices':[{'delta':{},'finish_reason':'tool_calls'}],'usage':{'prompt_tokens':3,"
        "'completion_tokens':4}}",
        "[DONE]",
    };

    allot_buf_init(&out, 1u << 16);
    allot_anthropic_stream_init(&s, "chatcmpl-t", "m");
    for (i = 0; i < (int)(sizeof chunks / sizeof chunks[0]); i++)
        ASSERT_INT_EQ(feed(&s, chunks[i], &out), 0);
    ASSERT_INT_EQ(events_parse(allot_buf_cstr(&out), &ev, 0), 0);
    ASSERT_STR_EQ(event_names(&ev),
                  "message_start,"
                  "content_block_start,content_block_delta,content_block_stop,"
                  "content_block_start,content_block_delta,content_block_delta,content_block_stop,"
                  "content_block_start,content_block_delta,content_block_stop,"
                  "message_delta,message_stop");
    /* block 0: text */
    ASSERT_INT_EQ(json_num(ev.data[1], "index"), 0);
    ASSERT_STR_EQ(json_str(ev.data[1], "content_block.type"), "text");
    ASSERT_STR_EQ(json_str(ev.data[2], "delta.text"), "Checking both.");
    ASSERT_INT_EQ(json_num(ev.data[3], "index"), 0);
    /* block 1: the first tool call, its arguments in two fragments */
    ASSERT_INT_EQ(json_num(ev.data[4], "index"), 1);
    ASSERT_STR_EQ(json_str(ev.data[4], "content_block.type"), "tool_use");
    ASSERT_STR_EQ(json_str(ev.data[4], "content_block.id"), "call_a");
    ASSERT_STR_EQ(json_str(ev.data[4], "content_block.name"), "weather");
    ASSERT(cJSON_IsObject(json_at(ev.data[4], "content_block.input")));
    ASSERT_INT_EQ(json_size(ev.data[4], "content_block.input"), 0);
    ASSERT_INT_EQ(json_num(ev.data[5], "index"), 1);
    ASSERT_STR_EQ(json_str(ev.data[5], "delta.type"), "input_json_delta");
    ASSERT_STR_EQ(json_str(ev.data[5], "delta.partial_json"), "{\"ci");
    ASSERT_STR_EQ(json_str(ev.data[6], "delta.partial_json"), "ty\":\"Paris\"}");
    ASSERT_INT_EQ(json_num(ev.data[7], "index"), 1);
    /* block 2: the second tool call */
    ASSERT_INT_EQ(json_num(ev.data[8], "index"), 2);
    ASSERT_STR_EQ(json_str(ev.data[8], "content_block.id"), "call_b");
    ASSERT_STR_EQ(json_str(ev.data[8], "content_block.name"), "clock");
    ASSERT_INT_EQ(json_num(ev.data[9], "index"), 2);
    ASSERT_STR_EQ(json_str(ev.data[9], "delta.partial_json"), "{}");
    ASSERT_INT_EQ(json_num(ev.data[10], "index"), 2);
    ASSERT_STR_EQ(json_str(ev.data[11], "delta.stop_reason"), "tool_use");
    ASSERT_INT_EQ(json_num(ev.data[11], "usage.input_tokens"), 3);
    ASSERT_INT_EQ(json_num(ev.data[11], "usage.output_tokens"), 4);
    /* the fragments join into the call's JSON */
    {
        char joined[64];
        snprintf(joined, sizeof joined, "%s%s", json_str(ev.data[5], "delta.partial_json"),
                 json_str(ev.data[6], "delta.partial_json"));
        args = cJSON_Parse(joined);
        ASSERT(args);
        ASSERT_STR_EQ(json_str(args, "city"), "Paris");
        cJSON_Delete(args);
    }
    events_release(&ev);
    allot_buf_release(&out);
}

TEST(anthropic_stream_text_after_tool_opens_new_block)
{
    struct allot_anthropic_stream s;
    struct allot_buf out;
    struct events ev;

    allot_buf_init(&out, 1u << 16);
    allot_anthropic_stream_init(&s, "x", "m");
    ASSERT_INT_EQ(feed(&s,
                       "{'choices':[{'delta':{'tool_calls':[{'index':0,'id':'c',"
                       "'function':{'name':'f','arguments':'{}'}}]}}]}",
                       &out),
                  0);
    ASSERT_INT_EQ(feed(&s, "{'choices':[{'delta':{'content':'after'}}]}", &out), 0);
    ASSERT_INT_EQ(feed(&s, "[DONE]", &out), 0);
    ASSERT_INT_EQ(events_parse(allot_buf_cstr(&out), &ev, 0), 0);
    ASSERT_STR_EQ(event_names(&ev), "message_start,content_block_start,content_block_delta,"
                                    "content_block_stop,content_block_start,content_block_delta,"
                                    "content_block_stop,message_delta,message_stop");
    ASSERT_STR_EQ(json_str(ev.data[1], "content_block.type"), "tool_use");
    ASSERT_INT_EQ(json_num(ev.data[4], "index"), 1);
    ASSERT_STR_EQ(json_str(ev.data[4], "content_block.type"), "text");
    ASSERT_STR_EQ(json_str(ev.data[5], "delta.text"), "after");
    ASSERT_STR_EQ(json_str(ev.data[7], "delta.stop_reason"), "end_turn");
    events_release(&ev);
    allot_buf_release(&out);
}

TEST(anthropic_stream_ignores_non_json_and_after_done)
{
    struct allot_anthropic_stream s;
    struct allot_buf out;
    struct events ev;
    size_t len;

    allot_buf_init(&out, 1u << 16);
    allot_anthropic_stream_init(&s, "chatcmpl-n", "m");
    /* nothing is sent for payloads that are not JSON objects, not even message_start */
    ASSERT_INT_EQ(feed(&s, "not json", &out), 0);
    ASSERT_INT_EQ(feed(&s, "[1,2]", &out), 0);
    ASSERT_INT_EQ(feed(&s, "\"text\"", &out), 0);
    ASSERT_INT_EQ(feed(&s, "", &out), 0);
    ASSERT_INT_EQ(allot_anthropic_stream_event(&s, allot_slice_of(NULL, 0), &out), 0);
    ASSERT_INT_EQ(out.len, 0);
    ASSERT_INT_EQ(s.started, 0);
    ASSERT_INT_EQ(feed(&s, "{'choices':[{'delta':{'content':'a'}}]}", &out), 0);
    ASSERT_INT_EQ(feed(&s, "{'choices':[{'delta':{'content'", &out), 0);
    ASSERT_INT_EQ(feed(&s, " [DONE]\n", &out), 0);
    len = out.len;
    ASSERT_INT_EQ(s.finished, 1);
    /* after [DONE]: nothing */
    ASSERT_INT_EQ(feed(&s, "{'choices':[{'delta':{'content':'late'}}]}", &out), 0);
    ASSERT_INT_EQ(feed(&s, "[DONE]", &out), 0);
    ASSERT_INT_EQ(out.len, len);
    ASSERT_INT_EQ(events_parse(allot_buf_cstr(&out), &ev, 0), 0);
    ASSERT_STR_EQ(event_names(&ev), "message_start,content_block_start,content_block_delta,"
                                    "content_block_stop,message_delta,message_stop");
    events_release(&ev);
    allot_buf_release(&out);
}

TEST(anthropic_stream_done_without_chunks)
{
    struct allot_anthropic_stream s;
    struct allot_buf out;
    struct events ev;

    allot_buf_init(&out, 1u << 16);
    allot_anthropic_stream_init(&s, "chatcmpl-e", "m");
    ASSERT_INT_EQ(feed(&s, "[DONE]", &out), 0);
    ASSERT_INT_EQ(events_parse(allot_buf_cstr(&out), &ev, 0), 0);
    ASSERT_STR_EQ(event_names(&ev), "message_start,message_delta,message_stop");
    ASSERT_STR_EQ(json_str(ev.data[0], "message.id"), "msg_e");
    ASSERT_STR_EQ(json_str(ev.data[1], "delta.stop_reason"), "end_turn");
    ASSERT_INT_EQ(json_num(ev.data[1], "usage.output_tokens"), 0);
    events_release(&ev);
    allot_buf_release(&out);
}

TEST(anthropic_stream_cap_restores_state)
{
    struct allot_anthropic_stream s, before;
    struct allot_buf out;

    allot_buf_init(&out, 1u << 16);
    allot_anthropic_stream_init(&s, "chatcmpl-c", "m");
    ASSERT_INT_EQ(feed(&s, "{'choices':[{'delta':{'content':'a'}}]}", &out), 0);
    before = s;
    /* room for the content_block_stop the next chunk starts with, not for the rest */
    out.max = out.len + 120;
    ASSERT_INT_EQ(feed(&s,
                       "{'choices':[{'delta':{'tool_calls':[{'index':0,'id':'c','function':{"
                       "'name':'f','arguments':'{\\'padding\\':\\'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                       "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\\'}'}}"
                       "]}}]}",
                       &out),
                  ALLOT_ETOOBIG);
    ASSERT(memcmp(&s, &before, sizeof s) == 0);
    ASSERT(strstr(allot_buf_cstr(&out), "content_block_stop") == NULL);
    /* with room again, the same chunk goes through from the same state */
    out.max = 1u << 16;
    ASSERT_INT_EQ(feed(&s,
                       "{'choices':[{'delta':{'tool_calls':[{'index':0,'id':'c','function':{"
                       "'name':'f','arguments':'{}'}}]}}]}",
                       &out),
                  0);
    ASSERT_INT_EQ(s.block_index, 1);
    ASSERT_INT_EQ(s.block_is_tool, 1);
    ASSERT_INT_EQ(s.tool_index, 0);
    allot_buf_release(&out);
}

/* ---- errors ---- */

TEST(anthropic_error_types)
{
    ASSERT_STR_EQ(allot_anthropic_error_type(400), "invalid_request_error");
    ASSERT_STR_EQ(allot_anthropic_error_type(401), "authentication_error");
    ASSERT_STR_EQ(allot_anthropic_error_type(403), "permission_error");
    ASSERT_STR_EQ(allot_anthropic_error_type(404), "not_found_error");
    ASSERT_STR_EQ(allot_anthropic_error_type(413), "request_too_large");
    ASSERT_STR_EQ(allot_anthropic_error_type(422), "invalid_request_error");
    ASSERT_STR_EQ(allot_anthropic_error_type(429), "rate_limit_error");
    ASSERT_STR_EQ(allot_anthropic_error_type(500), "api_error");
    ASSERT_STR_EQ(allot_anthropic_error_type(502), "api_error");
    ASSERT_STR_EQ(allot_anthropic_error_type(503), "overloaded_error");
    ASSERT_STR_EQ(allot_anthropic_error_type(529), "overloaded_error");
}

TEST(anthropic_error_bodies)
{
    static const struct {
        int status;
        const char *type;
    } cases[] = {
        {400, "invalid_request_error"}, {404, "not_found_error"}, {413, "request_too_large"},
        {429, "rate_limit_error"},      {500, "api_error"},       {529, "overloaded_error"},
    };
    struct allot_buf out;
    size_t i;

    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cJSON *o;
        allot_buf_init(&out, 1024);
        ASSERT_INT_EQ(allot_anthropic_error_body(cases[i].status, "model \"x\" said\nno", &out), 0);
        o = cJSON_Parse(allot_buf_cstr(&out));
        ASSERT(o);
        ASSERT_STR_EQ(json_keys(o), "type,error");
        ASSERT_STR_EQ(json_str(o, "type"), "error");
        ASSERT_STR_EQ(json_keys(json_at(o, "error")), "type,message");
        ASSERT_STR_EQ(json_str(o, "error.type"), cases[i].type);
        ASSERT_STR_EQ(json_str(o, "error.message"), "model \"x\" said\nno");
        cJSON_Delete(o);
        allot_buf_release(&out);
    }
}

TEST(anthropic_error_stream_event)
{
    struct allot_buf out;
    struct events ev;

    allot_buf_init(&out, 1024);
    ASSERT_INT_EQ(allot_anthropic_stream_error(529, "upstream overloaded", &out), 0);
    ASSERT(strncmp(allot_buf_cstr(&out), "event: error\ndata: {", 20) == 0);
    ASSERT_INT_EQ(events_parse(allot_buf_cstr(&out), &ev, 0), 0);
    ASSERT_STR_EQ(event_names(&ev), "error");
    ASSERT_STR_EQ(json_str(ev.data[0], "error.type"), "overloaded_error");
    ASSERT_STR_EQ(json_str(ev.data[0], "error.message"), "upstream overloaded");
    events_release(&ev);
    allot_buf_release(&out);

    /* a cap that cannot hold it leaves out unchanged */
    allot_buf_init(&out, 30);
    ASSERT_INT_EQ(allot_buf_adds(&out, "KEEP"), 0);
    ASSERT_INT_EQ(allot_anthropic_stream_error(500, "boom", &out), ALLOT_ETOOBIG);
    ASSERT_STR_EQ(allot_buf_cstr(&out), "KEEP");
    allot_buf_release(&out);
}

/* The gateway parses each chunk once and feeds the tree: the same events,
 * byte for byte, as feeding the text; NULL and non-objects are ignored. */
TEST(anthropic_stream_feed_tree_equals_text)
{
    static const char *const chunks[] = {
        "{'choices':[{'index':0,'delta':{'role':'assistant','content':'Hi'}}]}",
        "{'choices':[{'index':0,'delta':{'tool_calls':[{'index':0,'id':'call_1','type':'function',"
        "'function':{'name':'f','arguments':'{\\'a\\':'}}]}}]}",
        "{'choices':[{'index':0,'delta':{'tool_calls':[{'index':0,'function':{'arguments':'1}'}}]}}"
        "]}",
        "{'choices':[{'index':0,'delta':{},'finish_reason':'tool_calls'}]}",
        "{'choices':[],'usage':{'prompt_tokens':3,'completion_tokens':4}}",
    };
    struct allot_anthropic_stream a, b;
    struct allot_buf ta, tb;
    size_t i;

    allot_buf_init(&ta, 1u << 16);
    allot_buf_init(&tb, 1u << 16);
    allot_anthropic_stream_init(&a, "chatcmpl-f", "m");
    allot_anthropic_stream_init(&b, "chatcmpl-f", "m");
    for (i = 0; i < sizeof chunks / sizeof chunks[0]; i++) {
        cJSON *tree = cJSON_Parse(json_sq(chunks[i]));
        ASSERT(tree != NULL);
        ASSERT_INT_EQ(feed(&a, chunks[i], &ta), 0);
        ASSERT_INT_EQ(allot_anthropic_stream_feed(&b, tree, 0, &tb), 0);
        cJSON_Delete(tree);
    }
    ASSERT_INT_EQ(allot_anthropic_stream_feed(&b, NULL, 0, &tb), 0); /* not JSON: nothing */
    ASSERT_INT_EQ(allot_anthropic_stream_event(&a, ALLOT_SLICE_LIT("[DONE]"), &ta), 0);
    ASSERT_INT_EQ(allot_anthropic_stream_feed(&b, NULL, 1, &tb), 0);
    ASSERT(b.finished);
    ASSERT(ta.len > 0);
    ASSERT_INT_EQ(ta.len, tb.len);
    ASSERT(memcmp(ta.ptr, tb.ptr, ta.len) == 0);
    allot_buf_release(&ta);
    allot_buf_release(&tb);
}

/* Numbers and counts are written without printf: they must read as
 * "%.0f" / "%lld" print them, "-0", 2^53 and the extremes included. */
TEST(anthropic_numbers_print_as_printf_would)
{
    static const double ds[] = {
        0.0,   -0.0,        1.0, -1.0,  42.0, 1e15, -1e15, 9007199254740992.0, -9007199254740992.0,
        300.0, 123456789.0, 0.5, -2.25, 1e300};
    static const long long ls[] = {
        0, 1, -1, 16, 1234567890123LL, -9223372036854775807LL - 1, 9223372036854775807LL};
    struct allot_buf b;
    char want[64];
    size_t i;

    allot_buf_init(&b, 4096);
    for (i = 0; i < sizeof ds / sizeof ds[0]; i++) {
        allot_buf_reset(&b);
        ASSERT_INT_EQ(allot__anth_add_number(&b, ds[i]), 0);
        if (ds[i] == floor(ds[i]) && fabs(ds[i]) <= 9007199254740992.0)
            snprintf(want, sizeof want, "%.0f", ds[i]);
        else
            snprintf(want, sizeof want, "%.15g", ds[i]);
        ASSERT_STR_EQ(allot_buf_cstr(&b), want);
    }
    for (i = 0; i < sizeof ls / sizeof ls[0]; i++) {
        allot_buf_reset(&b);
        ASSERT_INT_EQ(allot__anth_add_count(&b, ls[i]), 0);
        snprintf(want, sizeof want, "%lld", ls[i]);
        ASSERT_STR_EQ(allot_buf_cstr(&b), want);
    }
    allot_buf_release(&b);
}

/* ---- tool translations remembered per thread (anthropic_request.c) ---- */

/* A Messages body with n tools (about 180 bytes each) in the tools member
 * written as key (a JSON string, escapes allowed), then rest (members
 * without the braces). */
static void tools_body(struct allot_buf *b, const char *key, int n, const char *rest)
{
    int i;
    allot_buf_reset(b);
    allot_buf_addf(b, "{%s:[", key);
    for (i = 0; i < n; i++)
        allot_buf_addf(b,
                       "%s{\"name\":\"tool_%d\",\"description\":\"Reads a file \\u00e9 %d.\","
                       "\"input_schema\":{\"type\":\"object\",\"properties\":{\"p\":{\"type\":"
                       "\"string\",\"minLength\":1.5e1}},\"required\":[\"p\"]}}",
                       i ? "," : "", i, i);
    allot_buf_addf(b, "],%s}", rest);
}

#define TOOLS_REST                                                                                 \
    "\"model\":\"auto\",\"max_tokens\":64,\"tool_choice\":{\"type\":\"any\"},"                     \
    "\"messages\":[{\"role\":\"user\",\"content\":\"list the files\"}]"

/* Translate body with what the thread remembers, then afresh (nothing
 * remembered): the same code, text and error. *out gets the former. */
static int same_as_fresh(const struct allot_buf *body, struct allot_buf *out)
{
    struct allot_buf fresh, e1, e2;
    int r1, r2, same;

    allot_buf_init(&fresh, 1 << 22);
    allot_buf_init(&e1, 4096);
    allot_buf_init(&e2, 4096);
    allot_buf_reset(out);
    r1 = allot_anthropic_request(body->ptr, body->len, out, &e1);
    allot__anth_tools_forget();
    r2 = allot_anthropic_request(body->ptr, body->len, &fresh, &e2);
    same = r1 == r2 && bufs_same(out, &fresh) && bufs_same(&e1, &e2);
    allot_buf_release(&fresh);
    allot_buf_release(&e1);
    allot_buf_release(&e2);
    return same;
}

/* Translate body twice, so that its tools are remembered after. */
static void prime(const struct allot_buf *body)
{
    struct allot_buf out;
    allot_buf_init(&out, 1 << 22);
    allot_anthropic_request(body->ptr, body->len, &out, NULL);
    allot_buf_reset(&out);
    allot_anthropic_request(body->ptr, body->len, &out, NULL);
    allot_buf_release(&out);
}

/* body with 12 tools, translated twice from nothing remembered (so its
 * tools are now), and two empty buffers; returns the count of tools
 * found so far. */
static size_t tools_fixture(struct allot_buf *body, struct allot_buf *other, struct allot_buf *out)
{
    allot_buf_init(body, 1 << 22);
    allot_buf_init(other, 1 << 22);
    allot_buf_init(out, 1 << 22);
    allot__anth_tools_forget();
    tools_body(body, "\"tools\"", 12, TOOLS_REST);
    prime(body);
    return allot__anth_tools_remembered();
}

TEST(anthropic_request_tools_remembered_translate_the_same)
{
    struct allot_buf body, other, out;
    size_t hits = tools_fixture(&body, &other, &out);

    ASSERT(hits > 0);
    ASSERT(same_as_fresh(&body, &out));
    ASSERT_STR_CONTAINS(out.ptr, "\"tool_choice\":\"required\"");
    ASSERT_STR_CONTAINS(out.ptr, "\"name\":\"tool_11\"");

    /* the same tools with other messages and tool_choice: remembered */
    prime(&body);
    hits = allot__anth_tools_remembered();
    tools_body(
        &other, "\"tools\"", 12,
        "\"model\":\"m\",\"max_tokens\":9,\"tool_choice\":{\"type\":\"none\"},"
        "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"x\"}]}]");
    allot_buf_reset(&out);
    ASSERT_INT_EQ(allot_anthropic_request(other.ptr, other.len, &out, NULL), 0);
    ASSERT_INT_EQ(allot__anth_tools_remembered(), hits + 1);
    prime(&body);
    ASSERT(same_as_fresh(&other, &out));

    /* an error elsewhere is still found, in its place */
    prime(&body);
    tools_body(&other, "\"tools\"", 12, "\"model\":\"m\",\"max_tokens\":0,\"messages\":[]");
    ASSERT(same_as_fresh(&other, &out));
    allot__anth_tools_forget();
    allot_buf_release(&body);
    allot_buf_release(&other);
    allot_buf_release(&out);
}

TEST(anthropic_request_tools_remembered_only_when_the_same)
{
    struct allot_buf body, other, out;
    size_t hits = tools_fixture(&body, &other, &out);

    /* one tool fewer: translated afresh, not the remembered text */
    tools_body(&other, "\"tools\"", 11, TOOLS_REST);
    allot_buf_reset(&out);
    ASSERT_INT_EQ(allot_anthropic_request(other.ptr, other.len, &out, NULL), 0);
    ASSERT_INT_EQ(allot__anth_tools_remembered(), hits);
    ASSERT(strstr(out.ptr, "tool_11") == NULL);

    /* a second tools member after the remembered one: the last counts */
    prime(&body);
    allot_buf_reset(&other);
    allot_buf_add(&other, body.ptr, body.len - 1);
    allot_buf_adds(&other, ",\"tools\":[]}");
    ASSERT(same_as_fresh(&other, &out));
    ASSERT(strstr(out.ptr, "tool_0") == NULL);

    /* the key written with an escape is the same member */
    prime(&body);
    hits = allot__anth_tools_remembered();
    tools_body(&other, "\"t\\u006fols\"", 12, TOOLS_REST);
    allot_buf_reset(&out);
    ASSERT_INT_EQ(allot_anthropic_request(other.ptr, other.len, &out, NULL), 0);
    ASSERT_STR_CONTAINS(out.ptr, "\"name\":\"tool_11\"");

    /* tools that are refused are never remembered, and refused each time */
    allot__anth_tools_forget();
    tools_body(&other, "\"tools\"", 12, TOOLS_REST);
    memcpy(strstr(other.ptr, "\"name\":\"tool_3\""), "\"nome\"", 6);
    prime(&other);
    ASSERT_INT_EQ(allot__anth_tools_remembered(), 0);
    ASSERT(same_as_fresh(&other, &out));
    ASSERT_INT_EQ(allot_anthropic_request(other.ptr, other.len, &out, NULL), ALLOT_EINVAL);
    allot__anth_tools_forget();
    allot_buf_release(&body);
    allot_buf_release(&other);
    allot_buf_release(&out);
}

/* Every body one byte away from one whose tools are remembered translates
 * (or is refused) as it would afresh. */
TEST(anthropic_request_tools_remembered_agree_on_edits)
{
    struct allot_buf body;

    allot_buf_init(&body, 1 << 22);
    tools_body(&body, "\"tools\"", 6, TOOLS_REST);
    ASSERT_INT_EQ(edits_agree(&body, 600, 777, prime, same_as_fresh), -1);
    allot__anth_tools_forget();
    allot_buf_release(&body);
}

/* The lenient translation (what only Anthropic takes left out and noted)
 * of a body, against the strict one of the same body without those parts:
 * the same output, and the strict refusal's message as the note. */
TEST(anthropic_request_lenient_leaves_out_only_what_chat_cannot_hold)
{
    static const struct {
        const char *with, *without, *what;
        int n;
    } cases[] = {
        {"{'model':'m','max_tokens':8,'tools':[{'type':'web_search_20250305','name':'web_search'},"
         "{'name':'f','input_schema':{}},{'type':'bash_20250124','name':'bash'}]," MSG_HI "}",
         "{'model':'m','max_tokens':8,'tools':[{'name':'f','input_schema':{}}]," MSG_HI "}",
         "tools.0: server tool type 'web_search_20250305' is not supported by allot", 2},
        {"{'model':'m','max_tokens':8,'messages':[{'role':'user','content':'q'},{'role':"
         "'assistant','content':[{'type':'server_tool_use','id':'s','name':'web_search',"
         "'input':{}},{'type':'web_search_tool_result','tool_use_id':'s','content':[]},"
         "{'type':'text','text':'a'}]},{'role':'user','content':'r'}]}",
         "{'model':'m','max_tokens':8,'messages':[{'role':'user','content':'q'},{'role':"
         "'assistant','content':[{'type':'text','text':'a'}]},{'role':'user','content':'r'}]}",
         "messages.1.content.0.type: content block type 'server_tool_use' is not supported by "
         "allot",
         2},
        {"{'model':'m','max_tokens':8,'messages':[{'role':'user','content':[{'type':'document',"
         "'source':{'type':'base64','media_type':'application/pdf','data':'JVBE'}},{'type':"
         "'image','source':{'type':'file','file_id':'f'}},{'type':'text','text':'sum'}]}]}",
         "{'model':'m','max_tokens':8,'messages':[{'role':'user','content':[{'type':'text',"
         "'text':'sum'}]}]}",
         "messages.0.content.0.source.type: document source type 'base64' is not supported by "
         "allot",
         2},
        {"{'model':'m','max_tokens':8,'messages':[{'role':'user','content':[{'type':"
         "'tool_result','tool_use_id':'t','content':[{'type':'search_result'},{'type':'text',"
         "'text':'x'}]}]}]}",
         "{'model':'m','max_tokens':8,'messages':[{'role':'user','content':[{'type':"
         "'tool_result','tool_use_id':'t','content':[{'type':'text','text':'x'}]}]}]}",
         "messages.0.content.0.content.0.type: content block type 'search_result' is not "
         "supported by allot",
         1},
    };
    struct allot_buf a, b, err;

    allot_buf_init(&a, 1u << 20);
    allot_buf_init(&b, 1u << 20);
    allot_buf_init(&err, 1024);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct allot_anthropic_read only = {0, "", 0, 0};
        char *with;
        const char *without;

        ASSERT_STR_EQ(request_error(cases[i].with), cases[i].what); /* strict: refused */
        with = strdup(json_sq(cases[i].with));
        without = json_sq(cases[i].without);
        allot_buf_reset(&a);
        allot_buf_reset(&b);
        allot_buf_reset(&err);
        ASSERT_INT_EQ(allot_anthropic_request_lenient(with, strlen(with), &a, &err, &only), 0);
        ASSERT_INT_EQ(allot_anthropic_request(without, strlen(without), &b, &err), 0);
        ASSERT_STR_EQ(allot_buf_cstr(&a), allot_buf_cstr(&b));
        ASSERT_INT_EQ(only.n, cases[i].n);
        ASSERT_STR_EQ(only.what, cases[i].what);
        /* a second time (the tools translation is not remembered with parts
         * left out): noted again */
        only.n = 0;
        allot_buf_reset(&a);
        ASSERT_INT_EQ(allot_anthropic_request_lenient(with, strlen(with), &a, &err, &only), 0);
        ASSERT_INT_EQ(only.n, cases[i].n);
        free(with);
    }
    /* what chat completions cannot hold and no provider takes: still refused */
    {
        struct allot_anthropic_read only = {0, "", 0, 0};
        const char *bad =
            json_sq("{'model':'m','max_tokens':8,'messages':[{'role':'user',"
                    "'content':[{'type':'tool_use','id':'t','name':'f','input':{}}]}]}");
        allot_buf_reset(&a);
        allot_buf_reset(&err);
        ASSERT_INT_EQ(allot_anthropic_request_lenient(bad, strlen(bad), &a, &err, &only),
                      ALLOT_EINVAL);
        ASSERT_INT_EQ(only.n, 0);
    }
    allot_buf_release(&a);
    allot_buf_release(&b);
    allot_buf_release(&err);
}

/* ---- the reading built while translating ---- */

/* The reading alone (text 0) of body: nothing in out, the same notes,
 * and the reading and rewrite of the translation the text would have
 * been (full, read back as parsed). NULL, or what differs. */
static const char *reading_alone_differs(const char *body, size_t len,
                                         const struct allot_chat_request *parsed,
                                         const struct allot_buf *full,
                                         const struct allot_anthropic_read *rd_full)
{
    static char why[96];
    struct allot_anthropic_read rd = {0, "", 0, 0};
    struct allot_chat_request alone;
    struct allot_buf out, err;
    const char *d = NULL;
    int ok = 0;

    allot_buf_init(&out, 1u << 22);
    allot_buf_init(&err, 1024);
    allot_buf_adds(&out, "kept"); /* what out held before is left alone */
    if (allot_anthropic_request_read(body, len, &out, &err, &rd, 0, &alone, &ok) != 0)
        d = "failed";
    else if (!ok)
        d = "not built";
    else if (out.len != 4 || memcmp(out.ptr, "kept", 4) != 0)
        d = "out was written";
    else if (rd.n != rd_full->n || rd.model_off != rd_full->model_off ||
             strcmp(rd.what, rd_full->what) != 0)
        d = "other notes";
    else if (!(d = readings_differ(&alone, parsed)))
        d = rewrites_differ(&alone, parsed, full->ptr, full->len);
    if (ok)
        allot_chat_request_release(&alone);
    allot_buf_release(&out);
    allot_buf_release(&err);
    if (!d)
        return NULL;
    snprintf(why, sizeof why, "%s", d);
    return why;
}

/* Translate body with allot_anthropic_request_read(): the translation is
 * the lenient one, and the reading built is the gateway's parse of it.
 * Returns built (1), or 0 when the caller was told to parse. */
static int built_reading_agrees(const char *body, size_t len)
{
    struct allot_anthropic_read rd1 = {0, "", 0, 0}, rd2 = {0, "", 0, 0};
    struct allot_chat_request built, parsed;
    struct allot_buf a, b, err;
    const char *why;
    int ok = -1, rc;

    allot_buf_init(&a, 1u << 22);
    allot_buf_init(&b, 1u << 22);
    allot_buf_init(&err, 1024);
    rc = allot_anthropic_request_read(body, len, &a, &err, &rd1, 1, &built, &ok);
    if (rc != 0) {
        fprintf(stderr, "  translation failed: %s\n", allot_buf_cstr(&err));
        ok = -1;
        goto out;
    }
    if (allot_anthropic_request_lenient(body, len, &b, &err, &rd2) != 0 || a.len != b.len ||
        memcmp(a.ptr, b.ptr, a.len) != 0 || rd1.n != rd2.n || rd1.model_off != rd2.model_off) {
        fprintf(stderr, "  the translation differs from the lenient one\n");
        ok = -1;
        goto out;
    }
    if (!ok)
        goto out;
    if (allot_chat_request_parse(&parsed, a.ptr, a.len, &err) != 0) {
        fprintf(stderr, "  the translation is not a chat request\n");
        ok = -1;
    } else if ((why = readings_differ(&built, &parsed)) != NULL) {
        fprintf(stderr, "  differs in %s: built %zu/%zu, parsed %zu/%zu\n", why,
                built.last_user.len, built.material_bytes, parsed.last_user.len,
                parsed.material_bytes);
        ok = -1;
    } else if ((why = rewrites_differ(&built, &parsed, a.ptr, a.len)) != NULL) {
        fprintf(stderr, "  %s\n", why);
        ok = -1;
    } else if ((why = reading_alone_differs(body, len, &parsed, &a, &rd1)) != NULL) {
        fprintf(stderr, "  the reading alone: %s\n", why);
        ok = -1;
    }
    allot_chat_request_release(&parsed);
    allot_chat_request_release(&built);
out:
    allot_buf_release(&a);
    allot_buf_release(&b);
    allot_buf_release(&err);
    return ok;
}

TEST(anthropic_request_read_builds_what_the_parse_reads)
{
    static const char *const bodies[] = {
        "{'model':'m','max_tokens':8," MSG_HI "}",
        "{'model':'m\\u00e9\\n','max_tokens':8,'stream':true,'system':'be brief'," MSG_HI "}",
        "{'model':'m','max_tokens':8,'stream':false,'system':[{'type':'text','text':'a'},"
        "{'type':'text','text':'b'}]," MSG_HI "}",
        "{'model':'m','max_tokens':8,'system':''," MSG_HI "}",
        "{'model':'m','max_tokens':8,'messages':[{'role':'user','content':'one'},"
        "{'role':'assistant','content':'two'},{'role':'user','content':[{'type':'text','text':"
        "'three'},{'type':'text','text':'four'}]}]}",
        /* the last user turn is all tool results: the user turn before it
         * is the instruction */
        "{'model':'m','max_tokens':8,'messages':[{'role':'user','content':'fix it'},"
        "{'role':'assistant','content':[{'type':'text','text':'looking'},{'type':'tool_use',"
        "'id':'t1','name':'read','input':{'p':'a.c'}},{'type':'tool_use','id':'t2','name':"
        "'read','input':{}}]},{'role':'user','content':[{'type':'tool_result','tool_use_id':"
        "'t1','content':'int x;'},{'type':'tool_result','tool_use_id':'t2','is_error':true,"
        "'content':[{'type':'text','text':'no'},{'type':'image','source':{'type':'url','url':"
        "'https://x/y.png'}},{'type':'text','text':'such file'}]}]}]}",
        /* tool results and text in one turn, text between them */
        "{'model':'m','max_tokens':8,'messages':[{'role':'user','content':'q'},"
        "{'role':'assistant','content':[{'type':'tool_use','id':'t','name':'f','input':{}}]},"
        "{'role':'user','content':[{'type':'text','text':'before'},{'type':'tool_result',"
        "'tool_use_id':'t'},{'type':'text','text':'after'}]}]}",
        /* images only, an empty turn, thinking, a document */
        "{'model':'m','max_tokens':8,'messages':[{'role':'user','content':'first'},"
        "{'role':'assistant','content':[{'type':'thinking','thinking':'hm','signature':'s'}]},"
        "{'role':'user','content':[{'type':'image','source':{'type':'base64','media_type':"
        "'image/png','data':'iVBO'}}]}]}",
        "{'model':'m','max_tokens':8,'messages':[{'role':'user','content':'first'},"
        "{'role':'assistant','content':'ok'},{'role':'user','content':[]}]}",
        "{'model':'m','max_tokens':8,'messages':[{'role':'user','content':[{'type':'document',"
        "'source':{'type':'text','media_type':'text/plain','data':'the doc'}},{'type':'text',"
        "'text':'summarise it'}]}]}",
        "{'model':'m','max_tokens':8,'messages':[{'role':'assistant','content':'a'}]}",
        /* tools: some, none, only server tools (left out) */
        "{'model':'m','max_tokens':8,'tools':[{'name':'f','input_schema':{}}]," MSG_HI "}",
        "{'model':'m','max_tokens':8,'tools':[]," MSG_HI "}",
        "{'model':'m','max_tokens':8,'tools':[{'type':'web_search_20250305','name':'w'}],"
        "'messages':[{'role':'user','content':[{'type':'text','text':'q'}]},{'role':"
        "'assistant','content':[{'type':'server_tool_use','id':'s','name':'w','input':{}},"
        "{'type':'text','text':'a'}]},{'role':'user','content':'r'}]}",
    };
    size_t i;

    for (i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        const char *body = json_sq(bodies[i]);
        if (built_reading_agrees(body, strlen(body)) != 1)
            fprintf(stderr, "  body %zu\n", i);
        ASSERT_INT_EQ(built_reading_agrees(body, strlen(body)), 1);
    }
}

/* Instructions past the 64 KB cap, cut inside a UTF-8 sequence and in the
 * joins of many parts; a model name too long to keep (the caller parses). */
TEST(anthropic_request_read_builds_long_instructions_and_falls_back)
{
    struct allot_buf body;
    size_t i, k;
    /* each sizes: one part of 70,000 two-byte characters; many parts
     * filling the cap at a join; a part ending exactly at it */
    static const size_t part_chars[] = {70000, 1000, 32767};
    static const size_t parts[] = {1, 80, 3};

    allot_buf_init(&body, 1u << 23);
    for (k = 0; k < 3; k++) {
        allot_buf_reset(&body);
        /* one ASCII byte first: the cap at 65,536 falls inside a character */
        allot_buf_adds(&body, "{\"model\":\"m\",\"max_tokens\":8,\"system\":\"s");
        for (i = 0; i < 40000; i++)
            allot_buf_adds(&body, "\xc3\xa9");
        allot_buf_adds(&body, "\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"},"
                              "{\"role\":\"user\",\"content\":[");
        for (size_t p = 0; p < parts[k]; p++) {
            allot_buf_adds(&body, p ? ",{\"type\":\"text\",\"text\":\"a"
                                    : "{\"type\":\"text\",\"text\":\"a");
            for (i = 0; i < part_chars[k]; i++)
                allot_buf_adds(&body, "\xc3\xa9");
            allot_buf_adds(&body, "\"}");
        }
        allot_buf_adds(&body, "]}]}");
        ASSERT_INT_EQ(built_reading_agrees(body.ptr, body.len), 1);
    }
    /* a model name over 1 KB: not built, the translation still made */
    allot_buf_reset(&body);
    allot_buf_adds(&body, "{\"model\":\"");
    for (i = 0; i < 1100; i++)
        allot_buf_add(&body, "m", 1);
    allot_buf_adds(&body,
                   "\",\"max_tokens\":8,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}");
    ASSERT_INT_EQ(built_reading_agrees(body.ptr, body.len), 0);
    allot_buf_release(&body);
}

/* The reading alone remembers the tools it read as a translation would:
 * the next request with the same tools, read alone or translated, finds
 * them (and reads and translates as afresh). */
TEST(anthropic_request_read_alone_remembers_the_tools)
{
    struct allot_anthropic_read rd = {0, "", 0, 0};
    struct allot_chat_request chat;
    struct allot_buf body, out, err;
    size_t hits;
    int ok;

    allot_buf_init(&body, 1 << 22);
    allot_buf_init(&out, 1 << 22);
    allot_buf_init(&err, 1024);
    allot__anth_tools_forget();
    tools_body(&body, "\"tools\"", 12, TOOLS_REST);
    hits = allot__anth_tools_remembered();
    ASSERT_INT_EQ(allot_anthropic_request_read(body.ptr, body.len, &out, &err, &rd, 0, &chat, &ok),
                  0);
    ASSERT_INT_EQ(ok, 1);
    ASSERT_INT_EQ(out.len, 0);
    ASSERT_INT_EQ(chat.has_tools, 1);
    allot_chat_request_release(&chat);
    ASSERT_INT_EQ(allot__anth_tools_remembered(), hits); /* the first time: kept, not found */
    /* read alone again: found */
    ASSERT_INT_EQ(allot_anthropic_request_read(body.ptr, body.len, &out, &err, &rd, 0, &chat, &ok),
                  0);
    ASSERT_INT_EQ(ok, 1);
    ASSERT_INT_EQ(chat.has_tools, 1);
    allot_chat_request_release(&chat);
    ASSERT_INT_EQ(allot__anth_tools_remembered(), hits + 1);
    /* and read, remembered, as the translation is */
    ASSERT_INT_EQ(built_reading_agrees(body.ptr, body.len), 1);
    /* translated: found too, and the same text as afresh */
    hits = allot__anth_tools_remembered();
    allot_buf_reset(&out);
    ASSERT_INT_EQ(allot_anthropic_request(body.ptr, body.len, &out, NULL), 0);
    ASSERT_INT_EQ(allot__anth_tools_remembered(), hits + 1);
    ASSERT(same_as_fresh(&body, &out));
    allot__anth_tools_forget();
    allot_buf_release(&body);
    allot_buf_release(&out);
    allot_buf_release(&err);
}
