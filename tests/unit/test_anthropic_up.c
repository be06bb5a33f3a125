#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cJSON.h>
#include "allot/anthropic.h"
#include "allot/anthropic_up.h"
#include "allot/error.h"
#include "json_path.h"
#include "test.h"

/* ---- helpers ---- */

/* Translate a request (written with '); the Anthropic body parsed, or NULL. */
static cJSON *request_dflt(const char *sq, long dflt, int *rc)
{
    struct allot_buf out, err;
    const char *body = json_sq(sq);
    cJSON *root = NULL;

    allot_buf_init(&out, 1u << 20);
    allot_buf_init(&err, 1024);
    *rc = allot_anthropic_up_request(body, strlen(body), dflt, &out, &err);
    if (*rc == 0)
        root = cJSON_Parse(allot_buf_cstr(&out));
    if (*rc == 0 && err.len)
        *rc = 999; /* err is unchanged on success */
    allot_buf_release(&out);
    allot_buf_release(&err);
    return root;
}

static cJSON *request(const char *sq, int *rc)
{
    return request_dflt(sq, 4096, rc);
}

/* Translate a request that must be refused: the reason, or a note of what
 * went wrong instead ("(rc N)", "(out changed)", "(two lines)"). */
static const char *request_error(const char *sq)
{
    static char msg[512];
    struct allot_buf out, err;
    const char *body = json_sq(sq);
    int rc;

    allot_buf_init(&out, 1u << 20);
    allot_buf_init(&err, 1024);
    if (allot_buf_adds(&out, "KEEP"))
        abort();
    rc = allot_anthropic_up_request(body, strlen(body), 4096, &out, &err);
    if (rc != ALLOT_EINVAL)
        snprintf(msg, sizeof msg, "(rc %d)", rc);
    else if (strcmp(allot_buf_cstr(&out), "KEEP") != 0)
        snprintf(msg, sizeof msg, "(out changed)");
    else if (strchr(allot_buf_cstr(&err), '\n'))
        snprintf(msg, sizeof msg, "(two lines)");
    else
        snprintf(msg, sizeof msg, "%s", allot_buf_cstr(&err));
    allot_buf_release(&out);
    allot_buf_release(&err);
    return msg;
}

/* Translate an Anthropic message (written with '); the completion parsed. */
static cJSON *response(const char *sq, int *rc)
{
    struct allot_buf out;
    const char *body = json_sq(sq);
    cJSON *root = NULL;

    allot_buf_init(&out, 1u << 20);
    *rc = allot_anthropic_up_response(body, strlen(body), &out);
    if (*rc == 0)
        root = cJSON_Parse(allot_buf_cstr(&out));
    allot_buf_release(&out);
    return root;
}

/* OpenAI events collected from the stream callback. */
#define MAX_EVENTS 32
struct events {
    int n;
    cJSON *data[MAX_EVENTS]; /* NULL for [DONE] */
    int done[MAX_EVENTS];    /* the event was data: [DONE] */
    int bad;                 /* an event's raw was not "data: " + data + "\n\n" */
    int stop_at;             /* return 7 from the stop_at-th call (1-based); 0 never */
};

static int collect(void *ctx, struct allot_slice raw, struct allot_slice data)
{
    struct events *ev = ctx;

    if (ev->n == MAX_EVENTS)
        return -100;
    if (raw.len != data.len + 8 || memcmp(raw.ptr, "data: ", 6) != 0 || data.ptr != raw.ptr + 6 ||
        memcmp(raw.ptr + raw.len - 2, "\n\n", 2) != 0 || memchr(data.ptr, '\n', data.len))
        ev->bad = 1;
    ev->done[ev->n] = allot_slice_eq(data, "[DONE]");
    ev->data[ev->n] = ev->done[ev->n] ? NULL : cJSON_ParseWithLength(data.ptr, data.len);
    if (!ev->done[ev->n] && !cJSON_IsObject(ev->data[ev->n]))
        ev->bad = 1;
    ev->n++;
    return ev->stop_at && ev->n == ev->stop_at ? 7 : 0;
}

static void events_release(struct events *ev)
{
    int i;

    for (i = 0; i < ev->n; i++)
        cJSON_Delete(ev->data[i]);
    ev->n = 0;
}

/* Feed an Anthropic event's data (written with '). */
static int feed(struct allot_anthropic_up_stream *s, const char *sq, struct events *ev)
{
    return allot_anthropic_up_stream_event(s, allot_slice_cstr(json_sq(sq)), collect, ev);
}

#define MSG_HI "'messages':[{'role':'user','content':'hi'}]"

/* ---- requests ---- */

TEST(anthropic_up_request_minimal)
{
    int rc;
    cJSON *o = request("{'model':'claude-x'," MSG_HI "}", &rc);

    ASSERT_INT_EQ(rc, 0);
    ASSERT(o);
    ASSERT_STR_EQ(json_keys(o), "model,max_tokens,messages");
    ASSERT_STR_EQ(json_str(o, "model"), "claude-x");
    ASSERT_INT_EQ(json_num(o, "max_tokens"), 4096);
    ASSERT_INT_EQ(json_size(o, "messages"), 1);
    ASSERT_STR_EQ(json_keys(json_at(o, "messages.0")), "role,content");
    ASSERT_STR_EQ(json_str(o, "messages.0.role"), "user");
    ASSERT_STR_EQ(json_str(o, "messages.0.content"), "hi");
    cJSON_Delete(o);
}

TEST(anthropic_up_request_system_and_developer_joined)
{
    int rc;
    cJSON *o = request("{'model':'m','messages':[{'role':'system','content':'Be terse.'},"
                       "{'role':'system','content':''},"
                       "{'role':'developer','content':[{'type':'text','text':'Use French.'},"
                       "{'type':'text','text':''},{'type':'text','text':'No lists.'}]},"
                       "{'role':'user','content':'hi'},"
                       "{'role':'system','content':'Late rule.'}]}",
                       &rc);

    ASSERT_INT_EQ(rc, 0);
    ASSERT(o);
    ASSERT_STR_EQ(json_keys(o), "model,max_tokens,system,messages");
    ASSERT_STR_EQ(json_str(o, "system"), "Be terse.\n\nUse French.\nNo lists.\n\nLate rule.");
    ASSERT_INT_EQ(json_size(o, "messages"), 1);
    ASSERT_STR_EQ(json_str(o, "messages.0.role"), "user");
    ASSERT_STR_EQ(json_str(o, "messages.0.content"), "hi");
    cJSON_Delete(o);

    /* only empty system text: no "system" */
    o = request("{'model':'m','messages':[{'role':'system','content':''},"
                "{'role':'user','content':'hi'}]}",
                &rc);
    ASSERT_INT_EQ(rc, 0);
    ASSERT(o);
    ASSERT_STR_EQ(json_keys(o), "model,max_tokens,messages");
    cJSON_Delete(o);

    ASSERT_STR_EQ(request_error("{'model':'m','messages':[{'role':'system','content':[{'type':"
                                "'image_url','image_url':{'url':'http://x/a.png'}}]},"
                                "{'role':'user','content':'hi'}]}"),
                  "messages.0.content.0.type: content part type 'image_url' is not allowed here");
}

TEST(anthropic_up_request_same_roles_merged)
{
    int rc;
    cJSON *o = request("{'model':'m','messages':["
                       "{'role':'user','content':'a'},"
                       "{'role':'user','content':[{'type':'text','text':'b'},"
                       "{'type':'text','text':''}]},"
                       "{'role':'assistant','content':'x'},"
                       "{'role':'assistant','content':''},"
                       "{'role':'assistant','content':null},"
                       "{'role':'assistant','content':[{'type':'text','text':'y'},"
                       "{'type':'refusal','refusal':'z'}]},"
                       "{'role':'user','content':'c'}]}",
                       &rc);

    ASSERT_INT_EQ(rc, 0);
    ASSERT(o);
    ASSERT_INT_EQ(json_size(o, "messages"), 3);
    ASSERT_STR_EQ(json_str(o, "messages.0.role"), "user");
    ASSERT_INT_EQ(json_size(o, "messages.0.content"), 2);
    ASSERT_STR_EQ(json_keys(json_at(o, "messages.0.content.0")), "type,text");
    ASSERT_STR_EQ(json_str(o, "messages.0.content.0.type"), "text");
    ASSERT_STR_EQ(json_str(o, "messages.0.content.0.text"), "a");
    ASSERT_STR_EQ(json_str(o, "messages.0.content.1.text"), "b");
    ASSERT_STR_EQ(json_str(o, "messages.1.role"), "assistant");
    ASSERT_INT_EQ(json_size(o, "messages.1.content"), 3);
    ASSERT_STR_EQ(json_str(o, "messages.1.content.0.text"), "x");
    ASSERT_STR_EQ(json_str(o, "messages.1.content.1.text"), "y");
    ASSERT_STR_EQ(json_str(o, "messages.1.content.2.text"), "z");
    ASSERT_STR_EQ(json_str(o, "messages.2.role"), "user");
    ASSERT_STR_EQ(json_str(o, "messages.2.content"), "c");
    cJSON_Delete(o);

    /* a dropped empty assistant message does not split the user turn */
    o = request("{'model':'m','messages':[{'role':'user','content':'a'},"
                "{'role':'assistant','content':''},{'role':'user','content':'b'}]}",
                &rc);
    ASSERT_INT_EQ(rc, 0);
    ASSERT(o);
    ASSERT_INT_EQ(json_size(o, "messages"), 1);
    ASSERT_STR_EQ(json_str(o, "messages.0.content.0.text"), "a");
    ASSERT_STR_EQ(json_str(o, "messages.0.content.1.text"), "b");
    cJSON_Delete(o);

    /* a lone text part stays a block list; a lone string stays a string */
    o = request("{'model':'m','messages':[{'role':'user','content':[{'type':'text','text':'a'}]},"
                "{'role':'assistant','content':'ok'}]}",
                &rc);
    ASSERT_INT_EQ(rc, 0);
    ASSERT(o);
    ASSERT_INT_EQ(json_size(o, "messages.0.content"), 1);
    ASSERT_STR_EQ(json_str(o, "messages.0.content.0.text"), "a");
    ASSERT_STR_EQ(json_str(o, "messages.1.content"), "ok");
    cJSON_Delete(o);

    /* nothing left for Anthropic */
    ASSERT_STR_EQ(request_error("{'model':'m','messages':[{'role':'system','content':'s'},"
                                "{'role':'user','content':''}]}"),
                  "messages: Anthropic providers need a user or assistant message with content");
}

TEST(anthropic_up_request_tool_call_history)
{
    int rc;
    cJSON *o = request(
        "{'model':'m','messages':["
        "{'role':'user','content':'weather in Paris and Rome?'},"
        "{'role':'assistant','content':'Checking.','tool_calls':["
        "{'id':'call_1','type':'function','function':{'name':'weather',"
        "'arguments':'{\\'city\\':\\'Paris\\',\\'days\\':[1,2]}'}},"
        "{'id':'call_2','type':'function','function':{'name':'weather','arguments':'{broken'}},"
        "{'id':'call_3','type':'function','function':{'name':'clock','arguments':'[1]'}}]},"
        "{'role':'tool','tool_call_id':'call_1','content':'sunny'},"
        "{'role':'tool','tool_call_id':'call_2','content':[{'type':'text','text':'rain'},"
        "{'type':'text','text':'cold'}]},"
        "{'role':'tool','tool_call_id':'call_3','content':''},"
        "{'role':'user','content':'thanks'},"
        "{'role':'assistant','content':null,'tool_calls':[{'id':'call_4','type':'function',"
        "'function':{'name':'clock','arguments':'{}'}}]},"
        "{'role':'tool','tool_call_id':'call_4','content':'noon'}]}",
        &rc);

    ASSERT_INT_EQ(rc, 0);
    ASSERT(o);
    ASSERT_INT_EQ(json_size(o, "messages"), 5);
    ASSERT_STR_EQ(json_str(o, "messages.0.content"), "weather in Paris and Rome?");

    /* text first, then one tool_use per call */
    ASSERT_STR_EQ(json_str(o, "messages.1.role"), "assistant");
    ASSERT_INT_EQ(json_size(o, "messages.1.content"), 4);
    ASSERT_STR_EQ(json_str(o, "messages.1.content.0.type"), "text");
    ASSERT_STR_EQ(json_str(o, "messages.1.content.0.text"), "Checking.");
    ASSERT_STR_EQ(json_keys(json_at(o, "messages.1.content.1")), "type,id,name,input");
    ASSERT_STR_EQ(json_str(o, "messages.1.content.1.type"), "tool_use");
    ASSERT_STR_EQ(json_str(o, "messages.1.content.1.id"), "call_1");
    ASSERT_STR_EQ(json_str(o, "messages.1.content.1.name"), "weather");
    ASSERT_STR_EQ(json_str(o, "messages.1.content.1.input.city"), "Paris");
    ASSERT_INT_EQ(json_num(o, "messages.1.content.1.input.days.1"), 2);
    /* arguments that are not a JSON object: {} */
    ASSERT_STR_EQ(json_str(o, "messages.1.content.2.id"), "call_2");
    ASSERT(cJSON_IsObject(json_at(o, "messages.1.content.2.input")));
    ASSERT_INT_EQ(json_size(o, "messages.1.content.2.input"), 0);
    ASSERT(cJSON_IsObject(json_at(o, "messages.1.content.3.input")));
    ASSERT_INT_EQ(json_size(o, "messages.1.content.3.input"), 0);

    /* the tool messages and the user message: one user turn, results first */
    ASSERT_STR_EQ(json_str(o, "messages.2.role"), "user");
    ASSERT_INT_EQ(json_size(o, "messages.2.content"), 4);
    ASSERT_STR_EQ(json_keys(json_at(o, "messages.2.content.0")), "type,tool_use_id,content");
    ASSERT_STR_EQ(json_str(o, "messages.2.content.0.type"), "tool_result");
    ASSERT_STR_EQ(json_str(o, "messages.2.content.0.tool_use_id"), "call_1");
    ASSERT_STR_EQ(json_str(o, "messages.2.content.0.content"), "sunny");
    ASSERT_STR_EQ(json_str(o, "messages.2.content.1.tool_use_id"), "call_2");
    ASSERT_STR_EQ(json_str(o, "messages.2.content.1.content"), "rain\ncold");
    /* empty content is left out */
    ASSERT_STR_EQ(json_keys(json_at(o, "messages.2.content.2")), "type,tool_use_id");
    ASSERT_STR_EQ(json_str(o, "messages.2.content.2.tool_use_id"), "call_3");
    ASSERT_STR_EQ(json_str(o, "messages.2.content.3.type"), "text");
    ASSERT_STR_EQ(json_str(o, "messages.2.content.3.text"), "thanks");

    /* tool calls only, and a closing tool result */
    ASSERT_STR_EQ(json_str(o, "messages.3.role"), "assistant");
    ASSERT_INT_EQ(json_size(o, "messages.3.content"), 1);
    ASSERT_STR_EQ(json_str(o, "messages.3.content.0.type"), "tool_use");
    ASSERT_STR_EQ(json_str(o, "messages.3.role"), "assistant");
    ASSERT_STR_EQ(json_str(o, "messages.4.role"), "user");
    ASSERT_INT_EQ(json_size(o, "messages.4.content"), 1);
    ASSERT_STR_EQ(json_str(o, "messages.4.content.0.content"), "noon");
    cJSON_Delete(o);

    /* a user message before tool messages: results still lead the turn */
    o = request("{'model':'m','messages':[{'role':'user','content':'q'},"
                "{'role':'assistant','tool_calls':[{'id':'c1','type':'function',"
                "'function':{'name':'f','arguments':'{}'}}]},"
                "{'role':'user','content':'also this'},"
                "{'role':'tool','tool_call_id':'c1','content':'r'}]}",
                &rc);
    ASSERT_INT_EQ(rc, 0);
    ASSERT(o);
    ASSERT_INT_EQ(json_size(o, "messages"), 3);
    ASSERT_STR_EQ(json_str(o, "messages.2.content.0.type"), "tool_result");
    ASSERT_STR_EQ(json_str(o, "messages.2.content.1.text"), "also this");
    cJSON_Delete(o);

    ASSERT_STR_EQ(request_error("{'model':'m','messages':[{'role':'tool','content':'r'}]}"),
                  "messages.0.tool_call_id: must be a string");
    ASSERT_STR_EQ(request_error("{'model':'m','messages':[{'role':'assistant','tool_calls':["
                                "{'id':'c','type':'custom','custom':{'name':'f','input':'x'}}]}]}"),
                  "messages.0.tool_calls.0.type: tool call type 'custom' has no Anthropic "
                  "equivalent");
}

TEST(anthropic_up_request_images)
{
    int rc;
    cJSON *o = request("{'model':'m','messages':[{'role':'user','content':["
                       "{'type':'text','text':'compare'},"
                       "{'type':'image_url','image_url':{'url':'data:image/png;base64,iVBORw0K',"
                       "'detail':'high'}},"
                       "{'type':'image_url','image_url':{'url':'https://example.com/cat.jpg'}},"
                       "{'type':'image_url','image_url':"
                       "{'url':'data:image/webp;name=a.webp;base64,UklGR'}}]}]}",
                       &rc);

    ASSERT_INT_EQ(rc, 0);
    ASSERT(o);
    ASSERT_INT_EQ(json_size(o, "messages.0.content"), 4);
    ASSERT_STR_EQ(json_str(o, "messages.0.content.0.text"), "compare");
    ASSERT_STR_EQ(json_keys(json_at(o, "messages.0.content.1")), "type,source");
    ASSERT_STR_EQ(json_str(o, "messages.0.content.1.type"), "image");
    ASSERT_STR_EQ(json_keys(json_at(o, "messages.0.content.1.source")), "type,media_type,data");
    ASSERT_STR_EQ(json_str(o, "messages.0.content.1.source.type"), "base64");
    ASSERT_STR_EQ(json_str(o, "messages.0.content.1.source.media_type"), "image/png");
    ASSERT_STR_EQ(json_str(o, "messages.0.content.1.source.data"), "iVBORw0K");
    ASSERT_STR_EQ(json_str(o, "messages.0.content.2.type"), "image");
    ASSERT_STR_EQ(json_keys(json_at(o, "messages.0.content.2.source")), "type,url");
    ASSERT_STR_EQ(json_str(o, "messages.0.content.2.source.type"), "url");
    ASSERT_STR_EQ(json_str(o, "messages.0.content.2.source.url"), "https://example.com/cat.jpg");
    ASSERT_STR_EQ(json_str(o, "messages.0.content.3.source.media_type"), "image/webp");
    ASSERT_STR_EQ(json_str(o, "messages.0.content.3.source.data"), "UklGR");
    cJSON_Delete(o);

    ASSERT_STR_EQ(request_error("{'model':'m','messages':[{'role':'user','content':[{'type':"
                                "'image_url','image_url':{'url':'data:text/plain,hello'}}]}]}"),
                  "messages.0.content.0.image_url.url: Anthropic providers take base64 data: "
                  "URLs (data:TYPE;base64,...) only");
    ASSERT_STR_EQ(request_error("{'model':'m','messages':[{'role':'user','content':[{'type':"
                                "'image_url','image_url':{}}]}]}"),
                  "messages.0.content.0.image_url.url: must be a string");
    ASSERT_STR_EQ(request_error("{'model':'m','messages':[{'role':'assistant','content':[{'type':"
                                "'image_url','image_url':{'url':'http://x'}}]}]}"),
                  "messages.0.content.0.type: content part type 'image_url' has no Anthropic "
                  "equivalent");
}

TEST(anthropic_up_request_max_tokens_sources)
{
    int rc;
    cJSON *o;

    o = request("{'model':'m','max_tokens':100,'max_completion_tokens':200," MSG_HI "}", &rc);
    ASSERT_INT_EQ(rc, 0);
    ASSERT(o);
    ASSERT_INT_EQ(json_num(o, "max_tokens"), 200);
    cJSON_Delete(o);

    o = request("{'model':'m','max_tokens':100," MSG_HI "}", &rc);
    ASSERT_INT_EQ(rc, 0);
    ASSERT(o);
    ASSERT_INT_EQ(json_num(o, "max_tokens"), 100);
    cJSON_Delete(o);

    o = request("{'model':'m','max_completion_tokens':null,'max_tokens':300," MSG_HI "}", &rc);
    ASSERT_INT_EQ(rc, 0);
    ASSERT(o);
    ASSERT_INT_EQ(json_num(o, "max_tokens"), 300);
    cJSON_Delete(o);

    o = request_dflt("{'model':'m'," MSG_HI "}", 1234, &rc);
    ASSERT_INT_EQ(rc, 0);
    ASSERT(o);
    ASSERT_INT_EQ(json_num(o, "max_tokens"), 1234);
    cJSON_Delete(o);

    o = request_dflt("{'model':'m'," MSG_HI "}", 0, &rc);
    ASSERT_INT_EQ(rc, ALLOT_EINVAL);
    ASSERT(!o);
    ASSERT_STR_EQ(request_error("{'model':'m','max_tokens':0," MSG_HI "}"),
                  "max_tokens: must be a positive integer");
    ASSERT_STR_EQ(request_error("{'model':'m','max_completion_tokens':1.5," MSG_HI "}"),
                  "max_completion_tokens: must be a positive integer");
}

TEST(anthropic_up_request_sampling_stop_user_stream)
{
    int rc;
    cJSON *o;

    o = request("{'model':'m','temperature':1.7,'top_p':0.9,'stop':'END','stream':true,"
                "'user':'u-42'," MSG_HI "}",
                &rc);
    ASSERT_INT_EQ(rc, 0);
    ASSERT(o);
    ASSERT_STR_EQ(json_keys(o), "model,max_tokens,messages,temperature,top_p,stop_sequences,stream,"
                                "metadata");
    ASSERT_DBL_NEAR(json_num(o, "temperature"), 1.0, 1e-12);
    ASSERT_DBL_NEAR(json_num(o, "top_p"), 0.9, 1e-12);
    ASSERT_INT_EQ(json_size(o, "stop_sequences"), 1);
    ASSERT_STR_EQ(json_str(o, "stop_sequences.0"), "END");
    ASSERT(cJSON_IsTrue(json_at(o, "stream")));
    ASSERT_STR_EQ(json_keys(json_at(o, "metadata")), "user_id");
    ASSERT_STR_EQ(json_str(o, "metadata.user_id"), "u-42");
    cJSON_Delete(o);

    o = request("{'model':'m','temperature':-0.5,'stop':['a','','b'],'stream':false," MSG_HI "}",
                &rc);
    ASSERT_INT_EQ(rc, 0);
    ASSERT(o);
    ASSERT_DBL_NEAR(json_num(o, "temperature"), 0.0, 1e-12);
    ASSERT_INT_EQ(json_size(o, "stop_sequences"), 2);
    ASSERT_STR_EQ(json_str(o, "stop_sequences.0"), "a");
    ASSERT_STR_EQ(json_str(o, "stop_sequences.1"), "b");
    ASSERT(cJSON_IsFalse(json_at(o, "stream")));
    cJSON_Delete(o);

    o = request("{'model':'m','temperature':0.3,'stop':null,'user':null," MSG_HI "}", &rc);
    ASSERT_INT_EQ(rc, 0);
    ASSERT(o);
    ASSERT_STR_EQ(json_keys(o), "model,max_tokens,messages,temperature");
    ASSERT_DBL_NEAR(json_num(o, "temperature"), 0.3, 1e-12);
    cJSON_Delete(o);

    ASSERT_STR_EQ(request_error("{'model':'m','stop':[1]," MSG_HI "}"), "stop.0: must be a string");
}

TEST(anthropic_up_request_ignored_keys)
{
    int rc;
    cJSON *o = request("{'model':'m','stream_options':{'include_usage':true},"
                       "'frequency_penalty':0.5,'presence_penalty':0.1,'seed':7,'logprobs':true,"
                       "'top_logprobs':3,'logit_bias':{'50256':-100},"
                       "'response_format':{'type':'json_object'},'n':1,'parallel_tool_calls':false,"
                       "'store':false,'reasoning_effort':'low'," MSG_HI "}",
                       &rc);

    ASSERT_INT_EQ(rc, 0);
    ASSERT(o);
    /* parallel_tool_calls without tools: nothing */
    ASSERT_STR_EQ(json_keys(o), "model,max_tokens,messages");
    cJSON_Delete(o);
}

TEST(anthropic_up_request_tools)
{
    int rc;
    cJSON *o = request("{'model':'m','tools':["
                       "{'type':'function','function':{'name':'weather','description':'Forecast',"
                       "'parameters':{'type':'object','properties':{'city':{'type':'string'}},"
                       "'required':['city']},'strict':true}},"
                       "{'type':'function','function':{'name':'clock'}},"
                       "{'type':'function','function':{'name':'echo','parameters':"
                       "{'properties':{'s':{'type':'string'}}}}}]," MSG_HI "}",
                       &rc);

    ASSERT_INT_EQ(rc, 0);
    ASSERT(o);
    ASSERT_STR_EQ(json_keys(o), "model,max_tokens,messages,tools");
    ASSERT_INT_EQ(json_size(o, "tools"), 3);
    ASSERT_STR_EQ(json_keys(json_at(o, "tools.0")), "name,description,input_schema");
    ASSERT_STR_EQ(json_str(o, "tools.0.name"), "weather");
    ASSERT_STR_EQ(json_str(o, "tools.0.description"), "Forecast");
    ASSERT_STR_EQ(json_str(o, "tools.0.input_schema.type"), "object");
    ASSERT_STR_EQ(json_str(o, "tools.0.input_schema.properties.city.type"), "string");
    ASSERT_STR_EQ(json_str(o, "tools.0.input_schema.required.0"), "city");
    ASSERT_STR_EQ(json_keys(json_at(o, "tools.1")), "name,input_schema");
    ASSERT_STR_EQ(json_keys(json_at(o, "tools.1.input_schema")), "type,properties");
    ASSERT_STR_EQ(json_str(o, "tools.1.input_schema.type"), "object");
    ASSERT_INT_EQ(json_size(o, "tools.1.input_schema.properties"), 0);
    /* a schema without a type gets Anthropic's required "type":"object" */
    ASSERT_STR_EQ(json_keys(json_at(o, "tools.2.input_schema")), "type,properties");
    ASSERT_STR_EQ(json_str(o, "tools.2.input_schema.properties.s.type"), "string");
    cJSON_Delete(o);
}

#define TOOLS "'tools':[{'type':'function','function':{'name':'f'}}],"

TEST(anthropic_up_request_tool_choice_forms)
{
    static const struct {
        const char *in;   /* extra request keys */
        const char *want; /* tool_choice printed, or "" for none */
    } cases[] = {
        {"'tool_choice':'auto',", "{\"type\":\"auto\"}"},
        {"'tool_choice':'required',", "{\"type\":\"any\"}"},
        {"'tool_choice':'none',", "{\"type\":\"none\"}"},
        {"'tool_choice':{'type':'function','function':{'name':'f'}},",
         "{\"type\":\"tool\",\"name\":\"f\"}"},
        {"'tool_choice':'auto','parallel_tool_calls':false,",
         "{\"type\":\"auto\",\"disable_parallel_tool_use\":true}"},
        {"'tool_choice':'required','parallel_tool_calls':false,",
         "{\"type\":\"any\",\"disable_parallel_tool_use\":true}"},
        {"'tool_choice':{'type':'function','function':{'name':'f'}},'parallel_tool_calls':false,",
         "{\"type\":\"tool\",\"name\":\"f\",\"disable_parallel_tool_use\":true}"},
        {"'tool_choice':'none','parallel_tool_calls':false,", "{\"type\":\"none\"}"},
        {"'parallel_tool_calls':false,", "{\"type\":\"auto\",\"disable_parallel_tool_use\":true}"},
        {"'parallel_tool_calls':true,", ""},
        {"'tool_choice':'required','parallel_tool_calls':true,", "{\"type\":\"any\"}"},
        {"", ""},
    };
    char body[1024];
    size_t i;
    int rc;

    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cJSON *o;
        char *printed;

        snprintf(body, sizeof body, "{'model':'m'," TOOLS "%s" MSG_HI "}", cases[i].in);
        o = request(body, &rc);
        ASSERT_INT_EQ(rc, 0);
        ASSERT(o);
        if (!*cases[i].want) {
            ASSERT_STR_EQ(json_keys(o), "model,max_tokens,messages,tools");
            cJSON_Delete(o);
            continue;
        }
        ASSERT_STR_EQ(json_keys(o), "model,max_tokens,messages,tools,tool_choice");
        printed = cJSON_PrintUnformatted(json_at(o, "tool_choice"));
        cJSON_Delete(o);
        ASSERT(printed);
        if (strcmp(printed, cases[i].want) != 0) {
            fprintf(stderr, "  case %zu: %s != %s\n", i, printed, cases[i].want);
            cJSON_free(printed);
            ASSERT(0);
        }
        cJSON_free(printed);
    }

    /* no tools: tool_choice is dropped (Anthropic refuses it) */
    {
        cJSON *o = request("{'model':'m','tool_choice':'required'," MSG_HI "}", &rc);
        ASSERT_INT_EQ(rc, 0);
        ASSERT(o);
        ASSERT_STR_EQ(json_keys(o), "model,max_tokens,messages");
        cJSON_Delete(o);
    }
    ASSERT_STR_EQ(request_error("{'model':'m'," TOOLS "'tool_choice':'sometimes'," MSG_HI "}"),
                  "tool_choice: must be 'auto', 'required', 'none' or a function");
    ASSERT_STR_EQ(
        request_error("{'model':'m'," TOOLS "'tool_choice':{'type':'allowed_tools'}," MSG_HI "}"),
        "tool_choice.type: tool choice type 'allowed_tools' has no Anthropic "
        "equivalent");
}

TEST(anthropic_up_request_refused)
{
    ASSERT_STR_EQ(request_error("{'model':'m','n':2," MSG_HI "}"),
                  "n: Anthropic providers answer one choice");
    ASSERT_STR_EQ(request_error("{'model':'m','messages':[{'role':'user','content':[{'type':"
                                "'text','text':'listen'},{'type':'input_audio','input_audio':{"
                                "'data':'AAA','format':'wav'}}]}]}"),
                  "messages.0.content.1.type: content part type 'input_audio' has no Anthropic "
                  "equivalent");
    ASSERT_STR_EQ(request_error("{'model':'m','messages':[{'role':'user','content':'a'},"
                                "{'role':'assistant','content':'b'},{'role':'user','content':"
                                "[{'type':'file','file':{'file_id':'f1'}}]}]}"),
                  "messages.2.content.0.type: content part type 'file' has no Anthropic "
                  "equivalent");
    ASSERT_STR_EQ(request_error("{'model':'m','tools':[{'type':'web_search_preview'}]," MSG_HI "}"),
                  "tools.0.type: tool type 'web_search_preview' has no Anthropic equivalent");
    ASSERT_STR_EQ(
        request_error("{'model':'m','tools':[{'type':'function','function':{}}]," MSG_HI "}"),
        "tools.0.function.name: must be a string");
    ASSERT_STR_EQ(request_error("{'model':'m','functions':[{'name':'f'}]," MSG_HI "}"),
                  "functions: legacy functions are not supported for Anthropic providers; use "
                  "tools");
    ASSERT_STR_EQ(request_error("{'model':'m','messages':[{'role':'function','name':'f',"
                                "'content':'x'}]}"),
                  "messages.0.role: role 'function' has no Anthropic equivalent");
    ASSERT_STR_EQ(
        request_error("{'model':'m','audio':{'voice':'alloy','format':'mp3'}," MSG_HI "}"),
        "audio: Anthropic providers answer in text only");
    ASSERT_STR_EQ(request_error("{'model':'m','messages':[{'role':'user','content':5}]}"),
                  "messages.0.content: must be a string, an array of parts or null");
}

TEST(anthropic_up_request_not_an_object_and_caps)
{
    struct allot_buf out, err;
    const char *ok = json_sq("{'model':'m'," MSG_HI "}");
    int rc;
    cJSON *o;

    allot_buf_init(&out, 1024);
    allot_buf_init(&err, 1024);
    ASSERT_INT_EQ(allot_buf_adds(&out, "KEEP"), 0);
    ASSERT_INT_EQ(allot_anthropic_up_request("[1]", 3, 100, &out, &err), ALLOT_EPARSE);
    ASSERT_INT_EQ(allot_anthropic_up_request("{nope", 5, 100, &out, &err), ALLOT_EPARSE);
    ASSERT_INT_EQ(allot_anthropic_up_request(NULL, 0, 100, &out, &err), ALLOT_EPARSE);
    ASSERT_STR_EQ(allot_buf_cstr(&out), "KEEP");
    allot_buf_release(&out);

    /* out's cap: ETOOBIG, out unchanged */
    allot_buf_init(&out, 30);
    ASSERT_INT_EQ(allot_buf_adds(&out, "KEEP"), 0);
    ASSERT_INT_EQ(allot_anthropic_up_request(ok, strlen(ok), 100, &out, &err), ALLOT_ETOOBIG);
    ASSERT_STR_EQ(allot_buf_cstr(&out), "KEEP");
    ASSERT_INT_EQ(err.len, 0);
    allot_buf_release(&out);

    /* err may be NULL */
    allot_buf_init(&out, 1024);
    ok = json_sq("{'model':'m','n':3," MSG_HI "}");
    ASSERT_INT_EQ(allot_anthropic_up_request(ok, strlen(ok), 100, &out, NULL), ALLOT_EINVAL);
    ASSERT_INT_EQ(out.len, 0);
    allot_buf_release(&out);
    allot_buf_release(&err);

    /* escapes and non-ASCII survive the round trip */
    o = request("{'model':'m','messages':[{'role':'user','content':"
                "'quote \\' backslash \\\\ tab \\t nl \\n \\u00e9 \\ud83d\\ude00'}]}",
                &rc);
    ASSERT_INT_EQ(rc, 0);
    ASSERT(o);
    ASSERT_STR_EQ(json_str(o, "messages.0.content"),
                  "quote \" backslash \\ tab \t nl \n \xc3\xa9 \xf0\x9f\x98\x80");
    cJSON_Delete(o);
}

/* ---- responses ---- */

TEST(anthropic_up_response_text)
{
    int rc;
    long long now = (long long)time(NULL);
    cJSON *o = response("{'id':'msg_01','type':'message','role':'assistant','model':'claude-x',"
                        "'content':[{'type':'text','text':'Hello, '},{'type':'text','text':"
                        "'world \\'q\\''}],'stop_reason':'end_turn','stop_sequence':null,"
                        "'usage':{'input_tokens':12,'output_tokens':5}}",
                        &rc);

    ASSERT_INT_EQ(rc, 0);
    ASSERT(o);
    ASSERT_STR_EQ(json_keys(o), "id,object,created,model,choices,usage");
    ASSERT_STR_EQ(json_str(o, "id"), "chatcmpl-msg_01");
    ASSERT_STR_EQ(json_str(o, "object"), "chat.completion");
    ASSERT(json_num(o, "created") >= now && json_num(o, "created") <= now + 5);
    ASSERT_STR_EQ(json_str(o, "model"), "claude-x");
    ASSERT_INT_EQ(json_size(o, "choices"), 1);
    ASSERT_STR_EQ(json_keys(json_at(o, "choices.0")), "index,message,logprobs,finish_reason");
    ASSERT_INT_EQ(json_num(o, "choices.0.index"), 0);
    ASSERT_STR_EQ(json_keys(json_at(o, "choices.0.message")), "role,content,refusal");
    ASSERT_STR_EQ(json_str(o, "choices.0.message.role"), "assistant");
    ASSERT_STR_EQ(json_str(o, "choices.0.message.content"), "Hello, world \"q\"");
    ASSERT(cJSON_IsNull(json_at(o, "choices.0.message.refusal")));
    ASSERT(cJSON_IsNull(json_at(o, "choices.0.logprobs")));
    ASSERT_STR_EQ(json_str(o, "choices.0.finish_reason"), "stop");
    ASSERT_STR_EQ(json_keys(json_at(o, "usage")), "prompt_tokens,completion_tokens,total_tokens");
    ASSERT_INT_EQ(json_num(o, "usage.prompt_tokens"), 12);
    ASSERT_INT_EQ(json_num(o, "usage.completion_tokens"), 5);
    ASSERT_INT_EQ(json_num(o, "usage.total_tokens"), 17);
    cJSON_Delete(o);
}

TEST(anthropic_up_response_tool_use_and_thinking)
{
    int rc;
    cJSON *o, *args;

    o = response("{'id':'msg_02','type':'message','model':'m','content':["
                 "{'type':'thinking','thinking':'let me see','signature':'sig'},"
                 "{'type':'redacted_thinking','data':'xx'},"
                 "{'type':'text','text':'Looking up.'},"
                 "{'type':'tool_use','id':'toolu_1','name':'weather','input':{'city':'Paris',"
                 "'days':[1,2]}},"
                 "{'type':'tool_use','id':'toolu_2','name':'clock','input':{}}],"
                 "'stop_reason':'tool_use','usage':{'input_tokens':3,'output_tokens':4}}",
                 &rc);
    ASSERT_INT_EQ(rc, 0);
    ASSERT(o);
    ASSERT_STR_EQ(json_keys(json_at(o, "choices.0.message")), "role,content,tool_calls,refusal");
    ASSERT_STR_EQ(json_str(o, "choices.0.message.content"), "Looking up.");
    ASSERT_INT_EQ(json_size(o, "choices.0.message.tool_calls"), 2);
    ASSERT_STR_EQ(json_keys(json_at(o, "choices.0.message.tool_calls.0")), "id,type,function");
    ASSERT_STR_EQ(json_str(o, "choices.0.message.tool_calls.0.id"), "toolu_1");
    ASSERT_STR_EQ(json_str(o, "choices.0.message.tool_calls.0.type"), "function");
    ASSERT_STR_EQ(json_keys(json_at(o, "choices.0.message.tool_calls.0.function")),
                  "name,arguments");
    ASSERT_STR_EQ(json_str(o, "choices.0.message.tool_calls.0.function.name"), "weather");
    ASSERT(json_str(o, "choices.0.message.tool_calls.0.function.arguments"));
    args = cJSON_Parse(json_str(o, "choices.0.message.tool_calls.0.function.arguments"));
    ASSERT(args);
    ASSERT_STR_EQ(json_str(args, "city"), "Paris");
    ASSERT_INT_EQ(json_num(args, "days.1"), 2);
    cJSON_Delete(args);
    ASSERT_STR_EQ(json_str(o, "choices.0.message.tool_calls.1.id"), "toolu_2");
    ASSERT_STR_EQ(json_str(o, "choices.0.message.tool_calls.1.function.arguments"), "{}");
    ASSERT_STR_EQ(json_str(o, "choices.0.finish_reason"), "tool_calls");
    cJSON_Delete(o);

    /* no text block: content null; thinking alone gives no text */
    o = response("{'id':'msg_03','type':'message','model':'m','content':["
                 "{'type':'thinking','thinking':'hmm','signature':'s'},"
                 "{'type':'tool_use','id':'t','name':'f','input':{'a':1}}],"
                 "'stop_reason':'tool_use','usage':{'input_tokens':1,'output_tokens':1}}",
                 &rc);
    ASSERT_INT_EQ(rc, 0);
    ASSERT(o);
    ASSERT(cJSON_IsNull(json_at(o, "choices.0.message.content")));
    ASSERT_STR_EQ(json_str(o, "choices.0.message.tool_calls.0.function.arguments"), "{\"a\":1}");
    cJSON_Delete(o);

    /* empty content: null, and no tool_calls */
    o = response("{'id':'msg_04','type':'message','model':'m','content':[],'stop_reason':null}",
                 &rc);
    ASSERT_INT_EQ(rc, 0);
    ASSERT(o);
    ASSERT(cJSON_IsNull(json_at(o, "choices.0.message.content")));
    ASSERT_STR_EQ(json_keys(json_at(o, "choices.0.message")), "role,content,refusal");
    ASSERT_STR_EQ(json_str(o, "choices.0.finish_reason"), "stop");
    ASSERT_INT_EQ(json_num(o, "usage.total_tokens"), 0);
    cJSON_Delete(o);
}

TEST(anthropic_up_response_stop_reasons)
{
    static const struct {
        const char *stop, *finish;
    } cases[] = {
        {"'end_turn'", "stop"},
        {"'stop_sequence'", "stop"},
        {"'pause_turn'", "stop"},
        {"'max_tokens'", "length"},
        {"'model_context_window_exceeded'", "length"},
        {"'tool_use'", "tool_calls"},
        {"'refusal'", "content_filter"},
        {"null", "stop"},
        {"'something_new'", "stop"},
    };
    char body[512];
    size_t i;
    int rc;

    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cJSON *o;

        snprintf(body, sizeof body,
                 "{'id':'msg','type':'message','model':'m','content':[{'type':'text','text':"
                 "'x'}],'stop_reason':%s}",
                 cases[i].stop);
        o = response(body, &rc);
        ASSERT_INT_EQ(rc, 0);
        ASSERT(o);
        if (!json_str(o, "choices.0.finish_reason") ||
            strcmp(json_str(o, "choices.0.finish_reason"), cases[i].finish) != 0)
            fprintf(stderr, "  stop_reason %s\n", cases[i].stop);
        ASSERT_STR_EQ(json_str(o, "choices.0.finish_reason"), cases[i].finish);
        cJSON_Delete(o);
    }
}

TEST(anthropic_up_response_cache_usage)
{
    int rc;
    cJSON *o = response("{'id':'msg','type':'message','model':'m','content':[{'type':'text',"
                        "'text':'x'}],'stop_reason':'end_turn','usage':{'input_tokens':10,"
                        "'cache_creation_input_tokens':200,'cache_read_input_tokens':3000,"
                        "'output_tokens':40}}",
                        &rc);

    ASSERT_INT_EQ(rc, 0);
    ASSERT(o);
    ASSERT_INT_EQ(json_num(o, "usage.prompt_tokens"), 3210);
    ASSERT_INT_EQ(json_num(o, "usage.completion_tokens"), 40);
    ASSERT_INT_EQ(json_num(o, "usage.total_tokens"), 3250);
    ASSERT_INT_EQ(json_num(o, "usage.prompt_tokens_details.cached_tokens"), 3000);
    ASSERT_INT_EQ(json_num(o, "usage.prompt_tokens_details.cache_write_tokens"), 200);
    cJSON_Delete(o);
}

TEST(anthropic_up_response_not_a_message)
{
    static const char *const bodies[] = {
        "{'type':'error','error':{'type':'overloaded_error','message':'busy'}}",
        "{'id':'msg','type':'message'}",
        "{'content':'text'}",
        "[{'content':[]}]",
        "not json",
        "",
    };
    struct allot_buf out;
    size_t i;

    allot_buf_init(&out, 1024);
    ASSERT_INT_EQ(allot_buf_adds(&out, "KEEP"), 0);
    for (i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        const char *b = json_sq(bodies[i]);
        ASSERT_INT_EQ(allot_anthropic_up_response(b, strlen(b), &out), ALLOT_EPARSE);
    }
    ASSERT_INT_EQ(allot_anthropic_up_response(NULL, 0, &out), ALLOT_EPARSE);
    ASSERT_STR_EQ(allot_buf_cstr(&out), "KEEP");
    allot_buf_release(&out);

    /* out's cap */
    allot_buf_init(&out, 64);
    ASSERT_INT_EQ(allot_buf_adds(&out, "KEEP"), 0);
    {
        const char *b =
            json_sq("{'id':'msg','type':'message','model':'m','content':[{'type':'text',"
                    "'text':'hello'}]}");
        ASSERT_INT_EQ(allot_anthropic_up_response(b, strlen(b), &out), ALLOT_ETOOBIG);
    }
    ASSERT_STR_EQ(allot_buf_cstr(&out), "KEEP");
    allot_buf_release(&out);
}

/* ---- streams ---- */

/* Check the envelope every chunk shares. */
#define ASSERT_CHUNK(ev, i, s)                                                                     \
    do {                                                                                           \
        ASSERT(!(ev).done[i]);                                                                     \
        ASSERT_STR_EQ(json_keys((ev).data[i]),                                                     \
                      cJSON_GetArraySize(json_at((ev).data[i], "choices"))                         \
                          ? "id,object,created,model,choices"                                      \
                          : "id,object,created,model,choices,usage");                              \
        ASSERT_STR_EQ(json_str((ev).data[i], "id"), (s).id);                                       \
        ASSERT_STR_EQ(json_str((ev).data[i], "object"), "chat.completion.chunk");                  \
        ASSERT_INT_EQ(json_num((ev).data[i], "created"), (s).created);                             \
        ASSERT_STR_EQ(json_str((ev).data[i], "model"), (s).model);                                 \
    } while (0)

TEST(anthropic_up_stream_text)
{
    struct allot_anthropic_up_stream s;
    struct events ev = {0};
    int i;

    allot_anthropic_up_stream_init(&s, 1700000000);
    ASSERT_INT_EQ(s.tool_index, -1);
    ASSERT_INT_EQ(feed(&s,
                       "{'type':'message_start','message':{'id':'msg_s1','type':'message',"
                       "'role':'assistant','model':'claude-x','content':[],'stop_reason':null,"
                       "'usage':{'input_tokens':21,'cache_read_input_tokens':100,"
                       "'cache_creation_input_tokens':4,'output_tokens':1}}}",
                       &ev),
                  0);
    ASSERT_INT_EQ(feed(&s, "{'type':'ping'}", &ev), 0);
    ASSERT_INT_EQ(feed(&s,
                       "{'type':'content_block_start','index':0,'content_block':{'type':'text',"
                       "'text':''}}",
                       &ev),
                  0);
    ASSERT_INT_EQ(feed(&s,
                       "{'type':'content_block_delta','index':0,'delta':{'type':'text_delta',"
                       "'text':'Hel'}}",
                       &ev),
                  0);
    ASSERT_INT_EQ(feed(&s, "{'type':'ping'}", &ev), 0);
    ASSERT_INT_EQ(feed(&s,
                       "{'type':'content_block_delta','index':0,'delta':{'type':'text_delta',"
                       "'text':'lo \\'you\\'\\n'}}",
                       &ev),
                  0);
    ASSERT_INT_EQ(feed(&s, "{'type':'content_block_stop','index':0}", &ev), 0);
    ASSERT_INT_EQ(feed(&s,
                       "{'type':'message_delta','delta':{'stop_reason':'max_tokens',"
                       "'stop_sequence':null},'usage':{'output_tokens':7}}",
                       &ev),
                  0);
    ASSERT_INT_EQ(s.done, 0);
    ASSERT_STR_EQ(s.finish, "length");
    ASSERT_INT_EQ(feed(&s, "{'type':'message_stop'}", &ev), 0);
    ASSERT_INT_EQ(s.done, 1);

    ASSERT_INT_EQ(ev.bad, 0);
    ASSERT_INT_EQ(ev.n, 6);
    ASSERT_STR_EQ(s.id, "chatcmpl-msg_s1");
    ASSERT_STR_EQ(s.model, "claude-x");
    for (i = 0; i < 5; i++)
        ASSERT_CHUNK(ev, i, s);
    /* the role chunk */
    ASSERT_INT_EQ(json_size(ev.data[0], "choices"), 1);
    ASSERT_STR_EQ(json_keys(json_at(ev.data[0], "choices.0")),
                  "index,delta,logprobs,finish_reason");
    ASSERT_INT_EQ(json_num(ev.data[0], "choices.0.index"), 0);
    ASSERT_STR_EQ(json_keys(json_at(ev.data[0], "choices.0.delta")), "role,content");
    ASSERT_STR_EQ(json_str(ev.data[0], "choices.0.delta.role"), "assistant");
    ASSERT_STR_EQ(json_str(ev.data[0], "choices.0.delta.content"), "");
    ASSERT(cJSON_IsNull(json_at(ev.data[0], "choices.0.finish_reason")));
    /* text */
    ASSERT_STR_EQ(json_keys(json_at(ev.data[1], "choices.0.delta")), "content");
    ASSERT_STR_EQ(json_str(ev.data[1], "choices.0.delta.content"), "Hel");
    ASSERT(cJSON_IsNull(json_at(ev.data[1], "choices.0.finish_reason")));
    ASSERT_STR_EQ(json_str(ev.data[2], "choices.0.delta.content"), "lo \"you\"\n");
    /* finish */
    ASSERT_INT_EQ(json_size(ev.data[3], "choices.0.delta"), 0);
    ASSERT_STR_EQ(json_str(ev.data[3], "choices.0.finish_reason"), "length");
    /* usage: cache reads and writes count as prompt tokens, and are given
     * apart in prompt_tokens_details for their prices */
    ASSERT_INT_EQ(json_size(ev.data[4], "choices"), 0);
    ASSERT_STR_EQ(json_keys(json_at(ev.data[4], "usage")),
                  "prompt_tokens,completion_tokens,total_tokens,prompt_tokens_details");
    ASSERT_INT_EQ(json_num(ev.data[4], "usage.prompt_tokens"), 125);
    ASSERT_INT_EQ(json_num(ev.data[4], "usage.completion_tokens"), 7);
    ASSERT_INT_EQ(json_num(ev.data[4], "usage.total_tokens"), 132);
    ASSERT_INT_EQ(json_num(ev.data[4], "usage.prompt_tokens_details.cached_tokens"), 100);
    ASSERT_INT_EQ(json_num(ev.data[4], "usage.prompt_tokens_details.cache_write_tokens"), 4);
    ASSERT(ev.done[5]);

    /* everything after message_stop is ignored */
    ASSERT_INT_EQ(feed(&s,
                       "{'type':'content_block_delta','index':0,'delta':{'type':'text_delta',"
                       "'text':'late'}}",
                       &ev),
                  0);
    ASSERT_INT_EQ(feed(&s, "{'type':'message_stop'}", &ev), 0);
    ASSERT_INT_EQ(ev.n, 6);
    events_release(&ev);
    allot_anthropic_up_stream_release(&s);
}

TEST(anthropic_up_stream_tools)
{
    static const char *const in[] = {
        "{'type':'message_start','message':{'id':'msg_t','model':'claude-y','content':[],"
        "'usage':{'input_tokens':50,'output_tokens':1}}}",
        "{'type':'content_block_start','index':0,'content_block':{'type':'thinking',"
        "'thinking':''}}",
        "{'type':'content_block_delta','index':0,'delta':{'type':'thinking_delta',"
        "'thinking':'Let me check.'}}",
        "{'type':'content_block_delta','index':0,'delta':{'type':'signature_delta',"
        "'signature':'EqQB'}}",
        "{'type':'content_block_stop','index':0}",
        "{'type':'content_block_start','index':1,'content_block':{'type':'text','text':''}}",
        "{'type':'content_block_delta','index':1,'delta':{'type':'text_delta','text':'On it.'}}",
        "{'type':'content_block_stop','index':1}",
        "{'type':'content_block_start','index':2,'content_block':{'type':'tool_use',"
        "'id':'toolu_a','name':'weather','input':{}}}",
        "{'type':'content_block_delta','index':2,'delta':{'type':'input_json_delta',"
        "'partial_json':''}}",
        "{'type':'content_block_delta','index':2,'delta':{'type':'input_json_delta',"
        "'partial_json':'{\\'city\\': '}}",
        "{'type':'content_block_delta','index':2,'delta':{'type':'input_json_delta',"
        "'partial_json':'\\'Paris\\'}'}}",
        "{'type':'content_block_stop','index':2}",
        "{'type':'content_block_start','index':3,'content_block':{'type':'tool_use',"
        "'id':'toolu_b','name':'clock','input':{}}}",
        "{'type':'content_block_delta','index':3,'delta':{'type':'input_json_delta',"
        "'partial_json':'{}'}}",
        "{'type':'content_block_stop','index':3}",
        "{'type':'message_delta','delta':{'stop_reason':'tool_use'},'usage':{'output_tokens':"
        "30}}",
        "{'type':'message_stop'}",
    };
    struct allot_anthropic_up_stream s;
    struct events ev = {0};
    size_t i;
    int k;

    allot_anthropic_up_stream_init(&s, 42);
    for (i = 0; i < sizeof in / sizeof in[0]; i++) {
        ASSERT_INT_EQ(feed(&s, in[i], &ev), 0);
        if (i == 9) { /* inside the first tool_use block */
            ASSERT_INT_EQ(s.block_is_tool, 1);
            ASSERT_INT_EQ(s.tool_index, 0);
        }
    }
    ASSERT_INT_EQ(s.n_tools, 2);
    ASSERT_INT_EQ(s.block_is_tool, 0);
    ASSERT_INT_EQ(s.tool_index, -1);
    ASSERT_INT_EQ(ev.bad, 0);
    /* role, text, tool a start, 2 args, tool b start, args, finish, usage, DONE */
    ASSERT_INT_EQ(ev.n, 10);
    for (k = 0; k < 9; k++)
        ASSERT_CHUNK(ev, k, s);
    ASSERT_STR_EQ(json_str(ev.data[0], "id"), "chatcmpl-msg_t");
    ASSERT_STR_EQ(json_str(ev.data[0], "choices.0.delta.role"), "assistant");
    ASSERT_STR_EQ(json_str(ev.data[1], "choices.0.delta.content"), "On it.");

    ASSERT_STR_EQ(json_keys(json_at(ev.data[2], "choices.0.delta")), "tool_calls");
    ASSERT_INT_EQ(json_size(ev.data[2], "choices.0.delta.tool_calls"), 1);
    ASSERT_STR_EQ(json_keys(json_at(ev.data[2], "choices.0.delta.tool_calls.0")),
                  "index,id,type,function");
    ASSERT_INT_EQ(json_num(ev.data[2], "choices.0.delta.tool_calls.0.index"), 0);
    ASSERT_STR_EQ(json_str(ev.data[2], "choices.0.delta.tool_calls.0.id"), "toolu_a");
    ASSERT_STR_EQ(json_str(ev.data[2], "choices.0.delta.tool_calls.0.type"), "function");
    ASSERT_STR_EQ(json_str(ev.data[2], "choices.0.delta.tool_calls.0.function.name"), "weather");
    ASSERT_STR_EQ(json_str(ev.data[2], "choices.0.delta.tool_calls.0.function.arguments"), "");

    ASSERT_STR_EQ(json_keys(json_at(ev.data[3], "choices.0.delta.tool_calls.0")), "index,function");
    ASSERT_STR_EQ(json_keys(json_at(ev.data[3], "choices.0.delta.tool_calls.0.function")),
                  "arguments");
    ASSERT_INT_EQ(json_num(ev.data[3], "choices.0.delta.tool_calls.0.index"), 0);
    ASSERT_STR_EQ(json_str(ev.data[3], "choices.0.delta.tool_calls.0.function.arguments"),
                  "{\"city\": ");
    ASSERT_STR_EQ(json_str(ev.data[4], "choices.0.delta.tool_calls.0.function.arguments"),
                  "\"Paris\"}");

    ASSERT_INT_EQ(json_num(ev.data[5], "choices.0.delta.tool_calls.0.index"), 1);
    ASSERT_STR_EQ(json_str(ev.data[5], "choices.0.delta.tool_calls.0.id"), "toolu_b");
    ASSERT_STR_EQ(json_str(ev.data[5], "choices.0.delta.tool_calls.0.function.name"), "clock");
    ASSERT_INT_EQ(json_num(ev.data[6], "choices.0.delta.tool_calls.0.index"), 1);
    ASSERT_STR_EQ(json_str(ev.data[6], "choices.0.delta.tool_calls.0.function.arguments"), "{}");

    ASSERT_STR_EQ(json_str(ev.data[7], "choices.0.finish_reason"), "tool_calls");
    ASSERT_INT_EQ(json_num(ev.data[8], "usage.prompt_tokens"), 50);
    ASSERT_INT_EQ(json_num(ev.data[8], "usage.completion_tokens"), 30);
    ASSERT_INT_EQ(json_num(ev.data[8], "usage.total_tokens"), 80);
    ASSERT(ev.done[9]);
    events_release(&ev);
    allot_anthropic_up_stream_release(&s);
}

TEST(anthropic_up_stream_error_and_junk)
{
    struct allot_anthropic_up_stream s;
    struct events ev = {0};

    allot_anthropic_up_stream_init(&s, 1);
    /* not JSON objects: ignored */
    ASSERT_INT_EQ(feed(&s, "not json", &ev), 0);
    ASSERT_INT_EQ(feed(&s, "[1,2]", &ev), 0);
    ASSERT_INT_EQ(feed(&s, "", &ev), 0);
    ASSERT_INT_EQ(allot_anthropic_up_stream_event(&s, allot_slice_of(NULL, 0), collect, &ev), 0);
    ASSERT_INT_EQ(feed(&s, "{'type':'something_new','x':1}", &ev), 0);
    ASSERT_INT_EQ(ev.n, 0);

    ASSERT_INT_EQ(feed(&s,
                       "{'type':'error','error':{'type':'overloaded_error','message':"
                       "'Overloaded \\'now\\''}}",
                       &ev),
                  0);
    ASSERT_INT_EQ(ev.n, 1);
    ASSERT_INT_EQ(ev.bad, 0);
    ASSERT_STR_EQ(json_keys(ev.data[0]), "error");
    ASSERT_STR_EQ(json_keys(json_at(ev.data[0], "error")), "message,type");
    ASSERT_STR_EQ(json_str(ev.data[0], "error.message"), "Overloaded \"now\"");
    ASSERT_STR_EQ(json_str(ev.data[0], "error.type"), "overloaded_error");

    /* an error without details still reads as one */
    ASSERT_INT_EQ(feed(&s, "{'type':'error'}", &ev), 0);
    ASSERT_INT_EQ(ev.n, 2);
    ASSERT_STR_EQ(json_str(ev.data[1], "error.type"), "api_error");
    ASSERT_STR_EQ(json_str(ev.data[1], "error.message"), "api_error");
    events_release(&ev);
    allot_anthropic_up_stream_release(&s);
}

TEST(anthropic_up_stream_stop_without_message_delta)
{
    struct allot_anthropic_up_stream s;
    struct events ev = {0};

    allot_anthropic_up_stream_init(&s, 5);
    ASSERT_INT_EQ(feed(&s, "{'type':'message_start','message':{'id':'m1','model':'x'}}", &ev), 0);
    ASSERT_INT_EQ(feed(&s, "{'type':'message_stop'}", &ev), 0);
    ASSERT_INT_EQ(ev.n, 4);
    ASSERT_STR_EQ(json_str(ev.data[1], "choices.0.finish_reason"), "stop");
    ASSERT_INT_EQ(json_num(ev.data[2], "usage.total_tokens"), 0);
    ASSERT(ev.done[3]);
    events_release(&ev);
    allot_anthropic_up_stream_release(&s);
}

TEST(anthropic_up_stream_callback_stops)
{
    struct allot_anthropic_up_stream s;
    struct events ev = {0};

    allot_anthropic_up_stream_init(&s, 5);
    ASSERT_INT_EQ(feed(&s, "{'type':'message_start','message':{'id':'m1','model':'x'}}", &ev), 0);
    ASSERT_INT_EQ(feed(&s, "{'type':'message_delta','delta':{'stop_reason':'end_turn'}}", &ev), 0);
    /* message_stop becomes two events: the callback refuses the first */
    ev.stop_at = 3;
    ASSERT_INT_EQ(feed(&s, "{'type':'message_stop'}", &ev), 7);
    ASSERT_INT_EQ(ev.n, 3);
    ASSERT(!ev.done[2]);
    ASSERT_INT_EQ(s.done, 0);
    events_release(&ev);

    /* a refused text chunk is returned as is */
    ev.stop_at = 1;
    ASSERT_INT_EQ(feed(&s,
                       "{'type':'content_block_delta','index':0,'delta':{'type':'text_delta',"
                       "'text':'x'}}",
                       &ev),
                  7);
    ASSERT_INT_EQ(ev.n, 1);
    events_release(&ev);
    allot_anthropic_up_stream_release(&s);
}

TEST(anthropic_up_stream_scratch_cap)
{
    struct allot_anthropic_up_stream s;
    struct events ev = {0};

    allot_anthropic_up_stream_init(&s, 5);
    s.scratch.max = 200; /* the role chunk fits, not 100 more bytes of text */
    ASSERT_INT_EQ(feed(&s, "{'type':'message_start','message':{'id':'m1','model':'x'}}", &ev), 0);
    ASSERT_INT_EQ(ev.n, 1);
    ASSERT_INT_EQ(feed(&s,
                       "{'type':'content_block_delta','index':0,'delta':{'type':'text_delta',"
                       "'text':'0123456789012345678901234567890123456789012345678901234567890123"
                       "4567890123456789012345678901234567890123456789'}}",
                       &ev),
                  ALLOT_ETOOBIG);
    ASSERT_INT_EQ(ev.n, 1);
    events_release(&ev);
    allot_anthropic_up_stream_release(&s);
}

TEST(anthropic_up_passthrough_replaces_only_the_model)
{
    static const char body[] =
        "{\"model\":\"first\",\"max_tokens\":9,\"system\":[{\"type\":\"text\",\"text\":\"S\","
        "\"cache_control\":{\"type\":\"ephemeral\"}}],\"messages\":[{\"role\":\"user\",\"content\":"
        "\"model \\\"x\\\"\"}],\"thinking\":{\"type\":\"enabled\",\"budget_tokens\":1024},"
        "\"mod\\u0065l\" : \"claude-*\" }";
    static const char want[] =
        "{\"model\":\"first\",\"max_tokens\":9,\"system\":[{\"type\":\"text\",\"text\":\"S\","
        "\"cache_control\":{\"type\":\"ephemeral\"}}],\"messages\":[{\"role\":\"user\",\"content\":"
        "\"model \\\"x\\\"\"}],\"thinking\":{\"type\":\"enabled\",\"budget_tokens\":1024},"
        "\"mod\\u0065l\" : \"up-\\\"id\\\"\" }";
    struct allot_anthropic_read read = {0, "", 0, 0};
    struct allot_buf out, chat;

    /* the translation finds the model: the last member (its key escaped),
     * the one readers take, whose value the translation uses */
    allot_buf_init(&chat, 1 << 16);
    ASSERT_INT_EQ(allot_anthropic_request_lenient(body, sizeof body - 1, &chat, NULL, &read), 0);
    ASSERT(strstr(allot_buf_cstr(&chat), "\"model\":\"claude-*\"") != NULL);
    ASSERT_INT_EQ(read.model_len, 10);
    ASSERT(memcmp(body + read.model_off, "\"claude-*\"", 10) == 0);
    allot_buf_release(&chat);
    allot_buf_init(&out, 4096);
    allot_buf_adds(&out, "kept|");
    ASSERT_INT_EQ(allot_anthropic_up_passthrough(body, sizeof body - 1, read.model_off,
                                                 read.model_len, "up-\"id\"", &out),
                  0);
    ASSERT_INT_EQ(out.len, 5 + sizeof want - 1);
    ASSERT(memcmp(out.ptr, "kept|", 5) == 0 && memcmp(out.ptr + 5, want, sizeof want - 1) == 0);
    /* a span outside the body: refused, out unchanged */
    allot_buf_reset(&out);
    ASSERT_INT_EQ(allot_anthropic_up_passthrough(body, sizeof body - 1, sizeof body, 1, "m", &out),
                  ALLOT_EINVAL);
    ASSERT_INT_EQ(allot_anthropic_up_passthrough(body, sizeof body - 1, 2, sizeof body, "m", &out),
                  ALLOT_EINVAL);
    ASSERT_INT_EQ(out.len, 0);
    allot_buf_release(&out);
    /* past out's cap: ALLOT_ETOOBIG, out as it was */
    allot_buf_init(&out, 64);
    allot_buf_adds(&out, "kept");
    ASSERT_INT_EQ(allot_anthropic_up_passthrough(body, sizeof body - 1, read.model_off,
                                                 read.model_len, "m", &out),
                  ALLOT_ETOOBIG);
    ASSERT_INT_EQ(out.len, 4);
    allot_buf_release(&out);
}
