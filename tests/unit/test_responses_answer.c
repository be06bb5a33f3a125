#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cJSON.h>
#include "allot/error.h"
#include "allot/responses.h"
#include "json_path.h"
#include "sse_events.h"
#include "test.h"

/* ---- helpers ---- */

/* Translate a chat.completion (written with ') for a request whose custom
 * tools are custom (NULL: none); the Response parsed, or NULL. */
static cJSON *response_custom(const char *sq, const char *model, long long created,
                              const struct allot_responses_custom *custom, int *rc)
{
    struct allot_buf out;
    const char *body = json_sq(sq);
    cJSON *root = NULL;

    allot_buf_init(&out, 1u << 20);
    *rc = allot_responses_response(body, strlen(body), model, created, custom, &out);
    if (*rc == 0)
        root = cJSON_Parse(allot_buf_cstr(&out));
    allot_buf_release(&out);
    return root;
}

/* The same without custom tools. */
static cJSON *response(const char *sq, const char *model, long long created, int *rc)
{
    return response_custom(sq, model, created, NULL, rc);
}

/* Feed a payload (written with ') to the stream. */
static int feed(struct allot_responses_stream *s, const char *sq, struct allot_buf *out)
{
    return allot_responses_stream_event(s, allot_slice_cstr(json_sq(sq)), out);
}

/* The keys every Response has, in order. */
#define RESPONSE_KEYS                                                                              \
    "id,object,created_at,status,error,incomplete_details,instructions,max_output_tokens,model,"   \
    "output,parallel_tool_calls,previous_response_id,reasoning,store,temperature,text,"            \
    "tool_choice,tools,top_p,truncation,usage,metadata"

/* ---- plain answers ---- */

TEST(responses_answer_text)
{
    int rc;
    cJSON *o = response(
        "{'id':'chatcmpl-abc123','object':'chat.completion','created':1700000000,"
        "'model':'gpt-x','choices':[{'index':0,'message':{'role':'assistant',"
        "'content':'Hello!'},'finish_reason':'stop'}],'usage':{'prompt_tokens':12,"
        "'completion_tokens':30,'total_tokens':42,'prompt_tokens_details':{'cached_tokens':4},"
        "'completion_tokens_details':{'reasoning_tokens':20}}}",
        "served-model", 5, &rc);
    ASSERT_INT_EQ(rc, 0);
    ASSERT(o);
    ASSERT_STR_EQ(json_keys(o), RESPONSE_KEYS);
    ASSERT_STR_EQ(json_str(o, "id"), "resp_abc123");
    ASSERT_STR_EQ(json_str(o, "object"), "response");
    ASSERT_INT_EQ(json_num(o, "created_at"), 1700000000);
    ASSERT_STR_EQ(json_str(o, "status"), "completed");
    ASSERT(cJSON_IsNull(json_at(o, "error")));
    ASSERT(cJSON_IsNull(json_at(o, "incomplete_details")));
    ASSERT(cJSON_IsNull(json_at(o, "instructions")));
    ASSERT(cJSON_IsNull(json_at(o, "max_output_tokens")));
    ASSERT_STR_EQ(json_str(o, "model"), "served-model");
    ASSERT(cJSON_IsTrue(json_at(o, "parallel_tool_calls")));
    ASSERT(cJSON_IsNull(json_at(o, "previous_response_id")));
    ASSERT(cJSON_IsNull(json_at(o, "reasoning.effort")));
    ASSERT(cJSON_IsNull(json_at(o, "reasoning.summary")));
    ASSERT(cJSON_IsFalse(json_at(o, "store")));
    ASSERT(cJSON_IsNull(json_at(o, "temperature")));
    ASSERT_STR_EQ(json_str(o, "text.format.type"), "text");
    ASSERT_STR_EQ(json_str(o, "tool_choice"), "auto");
    ASSERT(cJSON_IsArray(json_at(o, "tools")));
    ASSERT_INT_EQ(json_size(o, "tools"), 0);
    ASSERT(cJSON_IsNull(json_at(o, "top_p")));
    ASSERT_STR_EQ(json_str(o, "truncation"), "disabled");
    ASSERT(cJSON_IsObject(json_at(o, "metadata")));
    ASSERT_INT_EQ(json_size(o, "metadata"), 0);
    /* the one message item */
    ASSERT_INT_EQ(json_size(o, "output"), 1);
    ASSERT_STR_EQ(json_keys(json_at(o, "output.0")), "id,type,status,role,content");
    ASSERT_STR_EQ(json_str(o, "output.0.id"), "msg_abc123");
    ASSERT_STR_EQ(json_str(o, "output.0.type"), "message");
    ASSERT_STR_EQ(json_str(o, "output.0.status"), "completed");
    ASSERT_STR_EQ(json_str(o, "output.0.role"), "assistant");
    ASSERT_INT_EQ(json_size(o, "output.0.content"), 1);
    ASSERT_STR_EQ(json_keys(json_at(o, "output.0.content.0")), "type,text,annotations,logprobs");
    ASSERT_STR_EQ(json_str(o, "output.0.content.0.type"), "output_text");
    ASSERT_STR_EQ(json_str(o, "output.0.content.0.text"), "Hello!");
    ASSERT_INT_EQ(json_size(o, "output.0.content.0.annotations"), 0);
    ASSERT_INT_EQ(json_size(o, "output.0.content.0.logprobs"), 0);
    /* usage, with its details */
    ASSERT_STR_EQ(json_keys(json_at(o, "usage")), "input_tokens,input_tokens_details,output_tokens,"
                                                  "output_tokens_details,total_tokens");
    ASSERT_INT_EQ(json_num(o, "usage.input_tokens"), 12);
    ASSERT_INT_EQ(json_num(o, "usage.input_tokens_details.cached_tokens"), 4);
    ASSERT_INT_EQ(json_num(o, "usage.output_tokens"), 30);
    ASSERT_INT_EQ(json_num(o, "usage.output_tokens_details.reasoning_tokens"), 20);
    ASSERT_INT_EQ(json_num(o, "usage.total_tokens"), 42);
    cJSON_Delete(o);
}

TEST(responses_answer_ids_model_and_created)
{
    int rc;
    /* no model given: the completion's own; no created in it: the argument's */
    cJSON *o = response("{'id':'xyz','model':'gpt-x','choices':[{'message':{'content':'a'}}]}",
                        NULL, 77, &rc);
    ASSERT_INT_EQ(rc, 0);
    ASSERT(o);
    ASSERT_STR_EQ(json_str(o, "id"), "resp_xyz");
    ASSERT_STR_EQ(json_str(o, "output.0.id"), "msg_xyz");
    ASSERT_STR_EQ(json_str(o, "model"), "gpt-x");
    ASSERT_INT_EQ(json_num(o, "created_at"), 77);
    cJSON_Delete(o);

    /* an id already a response's is kept; none at all is made up; no model anywhere: "" */
    o = response("{'id':'resp_k','choices':[{'message':{'content':'a'}}]}", NULL, 0, &rc);
    ASSERT_INT_EQ(rc, 0);
    ASSERT(o);
    ASSERT_STR_EQ(json_str(o, "id"), "resp_k");
    ASSERT_STR_EQ(json_str(o, "output.0.id"), "msg_k");
    ASSERT_STR_EQ(json_str(o, "model"), "");
    cJSON_Delete(o);
    o = response("{'created':'soon','choices':[{'message':{'content':'a'}}]}", "m", 9, &rc);
    ASSERT_INT_EQ(rc, 0);
    ASSERT(o);
    ASSERT_STR_EQ(json_str(o, "id"), "resp_allot");
    ASSERT_INT_EQ(json_num(o, "created_at"), 9);
    cJSON_Delete(o);
}

TEST(responses_answer_tool_calls)
{
    int rc;
    cJSON *o = response(
        "{'id':'chatcmpl-t','choices':[{'message':{'role':'assistant','content':'Let me look.',"
        "'tool_calls':[{'id':'call_1','type':'function','function':{'name':'weather',"
        "'arguments':'{\\'city\\':\\'Paris\\'}'}},"
        "{'id':'call_2','type':'function','function':{'name':'clock',"
        "'arguments':{'tz':'UTC','n':[1,2.5]}}}]},"
        "'finish_reason':'tool_calls'}],'usage':{'prompt_tokens':5,'completion_tokens':9}}",
        "m", 0, &rc);
    cJSON *args;
    ASSERT_INT_EQ(rc, 0);
    ASSERT(o);
    ASSERT_STR_EQ(json_str(o, "status"), "completed");
    ASSERT_INT_EQ(json_size(o, "output"), 3);
    ASSERT_STR_EQ(json_str(o, "output.0.type"), "message");
    ASSERT_STR_EQ(json_str(o, "output.0.content.0.text"), "Let me look.");
    ASSERT_STR_EQ(json_keys(json_at(o, "output.1")), "id,type,status,call_id,name,arguments");
    ASSERT_STR_EQ(json_str(o, "output.1.id"), "fc_call_1");
    ASSERT_STR_EQ(json_str(o, "output.1.type"), "function_call");
    ASSERT_STR_EQ(json_str(o, "output.1.status"), "completed");
    ASSERT_STR_EQ(json_str(o, "output.1.call_id"), "call_1");
    ASSERT_STR_EQ(json_str(o, "output.1.name"), "weather");
    ASSERT_STR_EQ(json_str(o, "output.1.arguments"), "{\"city\":\"Paris\"}");
    ASSERT_STR_EQ(json_str(o, "output.2.id"), "fc_call_2");
    ASSERT_STR_EQ(json_str(o, "output.2.call_id"), "call_2");
    ASSERT_STR_EQ(json_str(o, "output.2.name"), "clock");
    /* arguments given as an object are serialised into the string */
    ASSERT(cJSON_IsString(json_at(o, "output.2.arguments")));
    ASSERT_STR_EQ(json_str(o, "output.2.arguments"), "{\"tz\":\"UTC\",\"n\":[1,2.5]}");
    args = cJSON_Parse(json_str(o, "output.2.arguments"));
    ASSERT(args);
    ASSERT_STR_EQ(json_str(args, "tz"), "UTC");
    cJSON_Delete(args);
    ASSERT_INT_EQ(json_num(o, "usage.total_tokens"), 14);
    cJSON_Delete(o);

    /* calls without text or ids; entries that are not function calls skipped */
    o = response("{'id':'c','choices':[{'message':{'content':null,'tool_calls':[7,"
                 "{'id':'','type':'function','function':{'name':'f'}},{'type':'custom'}]},"
                 "'finish_reason':'tool_calls'}]}",
                 "m", 0, &rc);
    ASSERT_INT_EQ(rc, 0);
    ASSERT(o);
    ASSERT_INT_EQ(json_size(o, "output"), 1);
    ASSERT_STR_EQ(json_str(o, "output.0.type"), "function_call");
    ASSERT_STR_EQ(json_str(o, "output.0.call_id"), "call_allot_0");
    ASSERT_STR_EQ(json_str(o, "output.0.id"), "fc_call_allot_0");
    ASSERT_STR_EQ(json_str(o, "output.0.arguments"), "{}");
    cJSON_Delete(o);

    /* the legacy function_call */
    o = response("{'id':'c','choices':[{'message':{'content':'x','function_call':{'name':'g',"
                 "'arguments':'{}'}}}]}",
                 "m", 0, &rc);
    ASSERT_INT_EQ(rc, 0);
    ASSERT(o);
    ASSERT_INT_EQ(json_size(o, "output"), 2);
    ASSERT_STR_EQ(json_str(o, "output.1.type"), "function_call");
    ASSERT_STR_EQ(json_str(o, "output.1.name"), "g");
    ASSERT_STR_EQ(json_str(o, "output.1.call_id"), "call_allot_1");
    cJSON_Delete(o);
}

/* The custom tools of the tests' requests. */
static const struct allot_responses_custom patch_tools = {2, {"apply_patch", "note"}};

TEST(responses_answer_custom_tool_call)
{
    int rc;
    cJSON *o = response_custom(
        "{'id':'chatcmpl-ct','choices':[{'message':{'role':'assistant','content':'Patching.',"
        "'tool_calls':["
        "{'id':'call_1','type':'function','function':{'name':'apply_patch',"
        "'arguments':'{\\'input\\':\\'*** Begin Patch\\\\n+say(\\\\\\'hi\\\\\\') \\\\\\\\ x"
        "\\\\n*** End Patch\\'}'}},"
        "{'id':'call_2','type':'function','function':{'name':'weather','arguments':'{}'}},"
        "{'id':'call_3','type':'function','function':{'name':'note','arguments':"
        "{'input':'as an object'}}}]},"
        "'finish_reason':'tool_calls'}]}",
        "m", 0, &patch_tools, &rc);

    ASSERT_INT_EQ(rc, 0);
    ASSERT(o);
    ASSERT_INT_EQ(json_size(o, "output"), 4);
    ASSERT_STR_EQ(json_str(o, "output.0.content.0.text"), "Patching.");
    /* the custom call: its input taken out of the arguments */
    ASSERT_STR_EQ(json_keys(json_at(o, "output.1")), "id,type,status,call_id,name,input");
    ASSERT_STR_EQ(json_str(o, "output.1.id"), "ctc_call_1");
    ASSERT_STR_EQ(json_str(o, "output.1.type"), "custom_tool_call");
    ASSERT_STR_EQ(json_str(o, "output.1.status"), "completed");
    ASSERT_STR_EQ(json_str(o, "output.1.call_id"), "call_1");
    ASSERT_STR_EQ(json_str(o, "output.1.name"), "apply_patch");
    ASSERT_STR_EQ(json_str(o, "output.1.input"),
                  "*** Begin Patch\n+say(\"hi\") \\ x\n*** End Patch");
    /* a function tool's call is as before */
    ASSERT_STR_EQ(json_keys(json_at(o, "output.2")), "id,type,status,call_id,name,arguments");
    ASSERT_STR_EQ(json_str(o, "output.2.type"), "function_call");
    ASSERT_STR_EQ(json_str(o, "output.2.id"), "fc_call_2");
    /* arguments sent as an object */
    ASSERT_STR_EQ(json_str(o, "output.3.type"), "custom_tool_call");
    ASSERT_STR_EQ(json_str(o, "output.3.name"), "note");
    ASSERT_STR_EQ(json_str(o, "output.3.input"), "as an object");
    cJSON_Delete(o);

    /* without the custom tools' names, the same calls are function calls */
    o = response("{'id':'c','choices':[{'message':{'tool_calls':[{'id':'call_1','function':"
                 "{'name':'apply_patch','arguments':'{\\'input\\':\\'x\\'}'}}]}}]}",
                 "m", 0, &rc);
    ASSERT_INT_EQ(rc, 0);
    ASSERT(o);
    ASSERT_STR_EQ(json_str(o, "output.0.type"), "function_call");
    ASSERT_STR_EQ(json_str(o, "output.0.arguments"), "{\"input\":\"x\"}");
    cJSON_Delete(o);
}

TEST(responses_answer_custom_tool_call_without_input)
{
    static const struct {
        const char *arguments, *input;
    } cases[] = {
        /* a model that ignored the schema: its arguments text is the input */
        {"'{\\'patch\\':\\'x\\'}'", "{\"patch\":\"x\"}"},
        {"'{\\'input\\':5}'", "{\"input\":5}"},
        {"'*** Begin Patch'", "*** Begin Patch"},
        {"'{\\'input\\':\\'a\\'} trailing'", "{\"input\":\"a\"} trailing"},
        {"'[\\'input\\']'", "[\"input\"]"},
        {"''", ""},
        {"{'other':1}", "{\"other\":1}"},
        {"null", ""},
    };
    char body[512];
    size_t i;
    int rc;

    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cJSON *o;
        snprintf(body, sizeof body,
                 "{'id':'c','choices':[{'message':{'tool_calls':[{'id':'k','function':"
                 "{'name':'apply_patch','arguments':%s}}]}}]}",
                 cases[i].arguments);
        o = response_custom(body, "m", 0, &patch_tools, &rc);
        ASSERT_INT_EQ(rc, 0);
        ASSERT(o);
        ASSERT_STR_EQ(json_str(o, "output.0.type"), "custom_tool_call");
        ASSERT_STR_EQ(json_str(o, "output.0.input"), cases[i].input);
        cJSON_Delete(o);
    }

    /* the legacy function_call, and a call without an id */
    {
        cJSON *o = response_custom("{'id':'c','choices':[{'message':{'content':'x',"
                                   "'function_call':{'name':'note','arguments':"
                                   "'{\\'input\\':\\'n\\'}'}}}]}",
                                   "m", 0, &patch_tools, &rc);
        ASSERT_INT_EQ(rc, 0);
        ASSERT(o);
        ASSERT_STR_EQ(json_str(o, "output.1.type"), "custom_tool_call");
        ASSERT_STR_EQ(json_str(o, "output.1.call_id"), "call_allot_1");
        ASSERT_STR_EQ(json_str(o, "output.1.id"), "ctc_call_allot_1");
        ASSERT_STR_EQ(json_str(o, "output.1.input"), "n");
        cJSON_Delete(o);
    }
}

TEST(responses_answer_refusal_and_parts)
{
    int rc;
    cJSON *o = response("{'id':'chatcmpl-r','choices':[{'message':{'content':null,"
                        "'refusal':'I cannot help with that.'},'finish_reason':'stop'}]}",
                        "m", 0, &rc);
    ASSERT_INT_EQ(rc, 0);
    ASSERT(o);
    ASSERT_INT_EQ(json_size(o, "output"), 1);
    ASSERT_INT_EQ(json_size(o, "output.0.content"), 1);
    ASSERT_STR_EQ(json_keys(json_at(o, "output.0.content.0")), "type,refusal");
    ASSERT_STR_EQ(json_str(o, "output.0.content.0.type"), "refusal");
    ASSERT_STR_EQ(json_str(o, "output.0.content.0.refusal"), "I cannot help with that.");
    cJSON_Delete(o);

    /* text and refusal: two parts, the text first */
    o = response("{'id':'r','choices':[{'message':{'content':'Partly.','refusal':'No more.'}}]}",
                 "m", 0, &rc);
    ASSERT_INT_EQ(rc, 0);
    ASSERT(o);
    ASSERT_INT_EQ(json_size(o, "output.0.content"), 2);
    ASSERT_STR_EQ(json_str(o, "output.0.content.0.text"), "Partly.");
    ASSERT_STR_EQ(json_str(o, "output.0.content.1.refusal"), "No more.");
    cJSON_Delete(o);

    /* content as parts: their texts joined */
    o = response("{'id':'p','choices':[{'message':{'content':[{'type':'text','text':'Hel'},"
                 "{'type':'image'},{'type':'text','text':'lo'}]}}]}",
                 "m", 0, &rc);
    ASSERT_INT_EQ(rc, 0);
    ASSERT(o);
    ASSERT_INT_EQ(json_size(o, "output.0.content"), 1);
    ASSERT_STR_EQ(json_str(o, "output.0.content.0.text"), "Hello");
    cJSON_Delete(o);

    /* escapes and non-ASCII survive */
    o = response("{'id':'e','choices':[{'message':{'content':'q \\' b \\\\ t \\t \\u00e9 "
                 "\\ud83d\\ude00'}}]}",
                 "m", 0, &rc);
    ASSERT_INT_EQ(rc, 0);
    ASSERT(o);
    ASSERT_STR_EQ(json_str(o, "output.0.content.0.text"),
                  "q \" b \\ t \t \xc3\xa9 \xf0\x9f\x98\x80");
    cJSON_Delete(o);
}

TEST(responses_answer_finish_reasons)
{
    static const struct {
        const char *finish, *status, *reason; /* reason NULL: incomplete_details null */
    } cases[] = {
        {"'stop'", "completed", NULL},
        {"'length'", "incomplete", "max_output_tokens"},
        {"'content_filter'", "incomplete", "content_filter"},
        {"'tool_calls'", "completed", NULL},
        {"null", "completed", NULL},
    };
    char body[512];
    size_t i;
    int rc;

    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cJSON *o;
        snprintf(body, sizeof body,
                 "{'id':'chatcmpl-1','choices':[{'message':{'content':'x'},'finish_reason':%s}]}",
                 cases[i].finish);
        o = response(body, "m", 0, &rc);
        ASSERT_INT_EQ(rc, 0);
        ASSERT(o);
        ASSERT_STR_EQ(json_str(o, "status"), cases[i].status);
        if (cases[i].reason) {
            ASSERT_STR_EQ(json_keys(json_at(o, "incomplete_details")), "reason");
            ASSERT_STR_EQ(json_str(o, "incomplete_details.reason"), cases[i].reason);
        } else {
            ASSERT(cJSON_IsNull(json_at(o, "incomplete_details")));
        }
        /* the item itself is whole even when the response is not */
        ASSERT_STR_EQ(json_str(o, "output.0.status"), "completed");
        cJSON_Delete(o);
    }
}

TEST(responses_answer_no_usage_and_no_content)
{
    int rc;
    cJSON *o = response("{'id':'chatcmpl-e','choices':[{'message':{'role':'assistant',"
                        "'content':''},'finish_reason':'length'}]}",
                        "m", 0, &rc);
    ASSERT_INT_EQ(rc, 0);
    ASSERT(o);
    ASSERT(cJSON_IsArray(json_at(o, "output")));
    ASSERT_INT_EQ(json_size(o, "output"), 0);
    ASSERT_INT_EQ(json_num(o, "usage.input_tokens"), 0);
    ASSERT_INT_EQ(json_num(o, "usage.input_tokens_details.cached_tokens"), 0);
    ASSERT_INT_EQ(json_num(o, "usage.output_tokens"), 0);
    ASSERT_INT_EQ(json_num(o, "usage.output_tokens_details.reasoning_tokens"), 0);
    ASSERT_INT_EQ(json_num(o, "usage.total_tokens"), 0);
    cJSON_Delete(o);

    /* insane counts read as 0; a choice without a message is an empty answer */
    o = response("{'choices':[{}],'usage':{'prompt_tokens':-3,'completion_tokens':1e300,"
                 "'prompt_tokens_details':{'cached_tokens':'2'}}}",
                 "m", 0, &rc);
    ASSERT_INT_EQ(rc, 0);
    ASSERT(o);
    ASSERT_INT_EQ(json_size(o, "output"), 0);
    ASSERT_INT_EQ(json_num(o, "usage.input_tokens"), 0);
    ASSERT_INT_EQ(json_num(o, "usage.output_tokens"), 0);
    ASSERT_INT_EQ(json_num(o, "usage.input_tokens_details.cached_tokens"), 0);
    cJSON_Delete(o);
}

TEST(responses_answer_not_a_completion)
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
        ASSERT_INT_EQ(allot_responses_response(b, strlen(b), "m", 0, NULL, &out), ALLOT_EPARSE);
        ASSERT_STR_EQ(allot_buf_cstr(&out), "KEEP");
    }
    ASSERT_INT_EQ(allot_responses_response(NULL, 0, "m", 0, NULL, &out), ALLOT_EPARSE);
    ASSERT_INT_EQ(allot_responses_response_tree(NULL, "m", 0, NULL, &out), ALLOT_EPARSE);
    ASSERT_STR_EQ(allot_buf_cstr(&out), "KEEP");
    allot_buf_release(&out);
}

TEST(responses_answer_cap_leaves_out_unchanged)
{
    const char *b = json_sq("{'id':'chatcmpl-1','choices':[{'message':{'content':'text',"
                            "'tool_calls':[{'id':'c','function':{'name':'f','arguments':"
                            "{'a':[1,2,3]}}}]}}],'usage':{'prompt_tokens':1}}");
    struct allot_buf out;
    size_t need, cap;

    allot_buf_init(&out, 1u << 16);
    ASSERT_INT_EQ(allot_buf_adds(&out, "KEEP"), 0);
    ASSERT_INT_EQ(allot_responses_response(b, strlen(b), "m", 0, NULL, &out), 0);
    need = out.len;
    allot_buf_release(&out);
    /* every cap short of the whole answer fails and leaves out as it was */
    for (cap = 4; cap < need; cap++) {
        allot_buf_init(&out, cap);
        ASSERT_INT_EQ(allot_buf_adds(&out, "KEEP"), 0);
        ASSERT_INT_EQ(allot_responses_response(b, strlen(b), "m", 0, NULL, &out), ALLOT_ETOOBIG);
        ASSERT_STR_EQ(allot_buf_cstr(&out), "KEEP");
        allot_buf_release(&out);
    }
    allot_buf_init(&out, need);
    ASSERT_INT_EQ(allot_buf_adds(&out, "KEEP"), 0);
    ASSERT_INT_EQ(allot_responses_response(b, strlen(b), "m", 0, NULL, &out), 0);
    allot_buf_release(&out);
}

/* ---- streams ---- */

TEST(responses_answer_stream_init)
{
    struct allot_responses_stream s;
    char long_id[200];

    allot_responses_stream_init(&s, "chatcmpl-abc", "mod", 42, 1000, NULL);
    ASSERT_STR_EQ(s.id, "resp_abc");
    ASSERT_STR_EQ(s.model, "mod");
    ASSERT_INT_EQ(s.created, 42);
    ASSERT_INT_EQ(s.tool_index, -1);
    ASSERT_INT_EQ(s.seq, 0);
    ASSERT_INT_EQ(s.started, 0);
    ASSERT_INT_EQ(s.text.max, 1000);
    ASSERT_INT_EQ(s.items.max, 1000);
    /* nothing allocated */
    ASSERT(s.text.ptr == NULL && s.head.ptr == NULL && s.items.ptr == NULL);
    allot_responses_stream_release(&s);
    allot_responses_stream_init(&s, "resp_kept", NULL, 0, 10, NULL);
    ASSERT_STR_EQ(s.id, "resp_kept");
    ASSERT_STR_EQ(s.model, "");
    allot_responses_stream_init(&s, "other", "m", 0, 10, NULL);
    ASSERT_STR_EQ(s.id, "resp_other");
    allot_responses_stream_init(&s, NULL, "m", 0, 10, NULL);
    ASSERT_STR_EQ(s.id, "resp_allot");
    memset(long_id, 'x', sizeof long_id - 1);
    long_id[sizeof long_id - 1] = '\0';
    allot_responses_stream_init(&s, long_id, long_id, 0, 10, NULL);
    ASSERT_INT_EQ(strlen(s.id), sizeof s.id - 1);
    ASSERT(strncmp(s.id, "resp_xxx", 8) == 0);
    ASSERT_INT_EQ(strlen(s.model), sizeof s.model - 1);
    ASSERT_INT_EQ(s.custom.n, 0);
    /* the custom tools' names are copied; a count out of range is none */
    {
        struct allot_responses_custom c = {1, {"apply_patch"}};

        allot_responses_stream_init(&s, "x", "m", 0, 10, &c);
        c.name[0][0] = 'X';
        ASSERT_INT_EQ(s.custom.n, 1);
        ASSERT_STR_EQ(s.custom.name[0], "apply_patch");
        c.n = ALLOT_RESPONSES_CUSTOM_MAX + 1;
        allot_responses_stream_init(&s, "x", "m", 0, 10, &c);
        ASSERT_INT_EQ(s.custom.n, 0);
        c.n = -1;
        allot_responses_stream_init(&s, "x", "m", 0, 10, &c);
        ASSERT_INT_EQ(s.custom.n, 0);
    }
}

TEST(responses_answer_stream_text)
{
    struct allot_responses_stream s;
    struct allot_buf out;
    struct events ev;
    cJSON *r;
    int i;

    allot_buf_init(&out, 1u << 16);
    allot_responses_stream_init(&s, "chatcmpl-s1", "gpt-small", 1234, 1u << 16, NULL);
    ASSERT_INT_EQ(feed(&s,
                       "{'id':'chatcmpl-s1','object':'chat.completion.chunk','choices':[{'index':0,"
                       "'delta':{'role':'assistant','content':''},'finish_reason':null}]}",
                       &out),
                  0);
    ASSERT_INT_EQ(feed(&s, "{'choices':[{'index':0,'delta':{'content':'Hel'}}]}", &out), 0);
    ASSERT_INT_EQ(feed(&s, "{'choices':[{'index':0,'delta':{'content':'lo \\'you\\''}}]}", &out),
                  0);
    ASSERT_INT_EQ(feed(&s, "{'choices':[{'index':0,'delta':{'content':'!'}}]}", &out), 0);
    ASSERT_INT_EQ(feed(&s, "{'choices':[{'index':0,'delta':{},'finish_reason':'stop'}]}", &out), 0);
    ASSERT_INT_EQ(feed(&s,
                       "{'choices':[],'usage':{'prompt_tokens':21,'completion_tokens':7,"
                       "'total_tokens':28,'prompt_tokens_details':{'cached_tokens':16},"
                       "'completion_tokens_details':{'reasoning_tokens':2}}}",
                       &out),
                  0);
    ASSERT_INT_EQ(s.finished, 0);
    ASSERT_INT_EQ(allot_responses_stream_event(&s, ALLOT_SLICE_LIT("[DONE]"), &out), 0);
    ASSERT_INT_EQ(s.finished, 1);

    ASSERT_INT_EQ(events_parse(allot_buf_cstr(&out), &ev, 1), 0);
    ASSERT_STR_EQ(event_names(&ev),
                  "response.created,response.in_progress,response.output_item.added,"
                  "response.content_part.added,response.output_text.delta,"
                  "response.output_text.delta,response.output_text.delta,"
                  "response.output_text.done,response.content_part.done,"
                  "response.output_item.done,response.completed");
    ASSERT_INT_EQ(json_num(ev.data[0], "sequence_number"), 0);
    ASSERT_INT_EQ(s.seq, ev.n);
    for (i = 0; i < 2; i++) {
        ASSERT_STR_EQ(json_keys(ev.data[i]), "type,response,sequence_number");
        ASSERT_STR_EQ(json_keys(json_at(ev.data[i], "response")), RESPONSE_KEYS);
        ASSERT_STR_EQ(json_str(ev.data[i], "response.id"), "resp_s1");
        ASSERT_STR_EQ(json_str(ev.data[i], "response.object"), "response");
        ASSERT_STR_EQ(json_str(ev.data[i], "response.status"), "in_progress");
        ASSERT_STR_EQ(json_str(ev.data[i], "response.model"), "gpt-small");
        ASSERT_INT_EQ(json_num(ev.data[i], "response.created_at"), 1234);
        ASSERT(cJSON_IsArray(json_at(ev.data[i], "response.output")));
        ASSERT_INT_EQ(json_size(ev.data[i], "response.output"), 0);
        ASSERT(cJSON_IsNull(json_at(ev.data[i], "response.usage")));
    }
    /* the item opened */
    ASSERT_INT_EQ(json_num(ev.data[2], "output_index"), 0);
    ASSERT_STR_EQ(json_keys(json_at(ev.data[2], "item")), "id,type,status,role,content");
    ASSERT_STR_EQ(json_str(ev.data[2], "item.id"), "msg_s1");
    ASSERT_STR_EQ(json_str(ev.data[2], "item.type"), "message");
    ASSERT_STR_EQ(json_str(ev.data[2], "item.status"), "in_progress");
    ASSERT_INT_EQ(json_size(ev.data[2], "item.content"), 0);
    ASSERT_STR_EQ(json_str(ev.data[3], "item_id"), "msg_s1");
    ASSERT_INT_EQ(json_num(ev.data[3], "content_index"), 0);
    ASSERT_STR_EQ(json_str(ev.data[3], "part.type"), "output_text");
    ASSERT_STR_EQ(json_str(ev.data[3], "part.text"), "");
    /* the deltas */
    ASSERT_STR_EQ(json_keys(ev.data[4]),
                  "type,item_id,output_index,content_index,delta,logprobs,sequence_number");
    ASSERT_STR_EQ(json_str(ev.data[4], "item_id"), "msg_s1");
    ASSERT_STR_EQ(json_str(ev.data[4], "delta"), "Hel");
    ASSERT_STR_EQ(json_str(ev.data[5], "delta"), "lo \"you\"");
    ASSERT_STR_EQ(json_str(ev.data[6], "delta"), "!");
    /* done: all the text, three times */
    ASSERT_STR_EQ(json_str(ev.data[7], "text"), "Hello \"you\"!");
    ASSERT_INT_EQ(json_size(ev.data[7], "logprobs"), 0);
    ASSERT_STR_EQ(json_str(ev.data[8], "part.text"), "Hello \"you\"!");
    ASSERT_INT_EQ(json_size(ev.data[8], "part.annotations"), 0);
    ASSERT_INT_EQ(json_num(ev.data[9], "output_index"), 0);
    ASSERT_STR_EQ(json_str(ev.data[9], "item.status"), "completed");
    ASSERT_STR_EQ(json_str(ev.data[9], "item.content.0.text"), "Hello \"you\"!");
    /* the whole Response */
    r = cJSON_GetObjectItemCaseSensitive(ev.data[10], "response");
    ASSERT_STR_EQ(json_keys(r), RESPONSE_KEYS);
    ASSERT_STR_EQ(json_str(r, "id"), "resp_s1");
    ASSERT_STR_EQ(json_str(r, "status"), "completed");
    ASSERT(cJSON_IsNull(json_at(r, "incomplete_details")));
    ASSERT_INT_EQ(json_size(r, "output"), 1);
    ASSERT_STR_EQ(json_str(r, "output.0.id"), "msg_s1");
    ASSERT_STR_EQ(json_str(r, "output.0.content.0.text"), "Hello \"you\"!");
    ASSERT_INT_EQ(json_num(r, "usage.input_tokens"), 21);
    ASSERT_INT_EQ(json_num(r, "usage.input_tokens_details.cached_tokens"), 16);
    ASSERT_INT_EQ(json_num(r, "usage.output_tokens"), 7);
    ASSERT_INT_EQ(json_num(r, "usage.output_tokens_details.reasoning_tokens"), 2);
    ASSERT_INT_EQ(json_num(r, "usage.total_tokens"), 28);
    events_release(&ev);
    allot_responses_stream_release(&s);
    allot_buf_release(&out);
}

static const char *const text_and_tools[] = {
    "{'choices':[{'delta':{'role':'assistant','content':'Checking both.'}}]}",
    "{'choices':[{'delta':{'tool_calls':[{'index':0,'id':'call_a','type':'function',"
    "'function':{'name':'weather','arguments':''}}]}}]}",
    "{'choices':[{'delta':{'tool_calls':[{'index':0,'function':{'arguments':'{\\'ci'}}]}}]}",
    "{'choices':[{'delta':{'tool_calls':[{'index':0,'function':{'arguments':"
    "'ty\\':\\'Paris\\'}'}}]}}]}",
    "{'choices':[{'delta':{'tool_calls':[{'index':1,'id':'call_b','type':'function',"
    "'function':{'name':'clock','arguments':'{}'}}]}}]}",
    "{'choices':[{'delta':{},'finish_reason':'tool_calls'}]}",
    "{'choices':[],'usage':{'prompt_tokens':3,'completion_tokens':4}}",
    "[DONE]",
};

TEST(responses_answer_stream_text_then_two_tool_calls)
{
    struct allot_responses_stream s;
    struct allot_buf out;
    struct events ev;
    const cJSON *r;
    int i;

    allot_buf_init(&out, 1u << 16);
    allot_responses_stream_init(&s, "chatcmpl-t", "m", 0, 1u << 16, NULL);
    for (i = 0; i < (int)(sizeof text_and_tools / sizeof text_and_tools[0]); i++)
        ASSERT_INT_EQ(feed(&s, text_and_tools[i], &out), 0);
    ASSERT_INT_EQ(events_parse(allot_buf_cstr(&out), &ev, 1), 0);
    ASSERT_STR_EQ(event_names(&ev),
                  "response.created,response.in_progress,"
                  /* 2..8: the message */
                  "response.output_item.added,response.content_part.added,"
                  "response.output_text.delta,response.output_text.done,"
                  "response.content_part.done,response.output_item.done,"
                  /* 8..12: the first call, its arguments in two fragments */
                  "response.output_item.added,response.function_call_arguments.delta,"
                  "response.function_call_arguments.delta,"
                  "response.function_call_arguments.done,response.output_item.done,"
                  /* 13..16: the second call */
                  "response.output_item.added,response.function_call_arguments.delta,"
                  "response.function_call_arguments.done,response.output_item.done,"
                  "response.completed");
    ASSERT_INT_EQ(json_num(ev.data[2], "output_index"), 0);
    ASSERT_INT_EQ(json_num(ev.data[7], "output_index"), 0);
    ASSERT_STR_EQ(json_str(ev.data[7], "item.content.0.text"), "Checking both.");
    /* the first call */
    ASSERT_INT_EQ(json_num(ev.data[8], "output_index"), 1);
    ASSERT_STR_EQ(json_keys(json_at(ev.data[8], "item")), "id,type,status,call_id,name,arguments");
    ASSERT_STR_EQ(json_str(ev.data[8], "item.id"), "fc_call_a");
    ASSERT_STR_EQ(json_str(ev.data[8], "item.type"), "function_call");
    ASSERT_STR_EQ(json_str(ev.data[8], "item.status"), "in_progress");
    ASSERT_STR_EQ(json_str(ev.data[8], "item.call_id"), "call_a");
    ASSERT_STR_EQ(json_str(ev.data[8], "item.name"), "weather");
    ASSERT_STR_EQ(json_str(ev.data[8], "item.arguments"), "");
    ASSERT_STR_EQ(json_keys(ev.data[9]), "type,item_id,output_index,delta,sequence_number");
    ASSERT_STR_EQ(json_str(ev.data[9], "item_id"), "fc_call_a");
    ASSERT_INT_EQ(json_num(ev.data[9], "output_index"), 1);
    ASSERT_STR_EQ(json_str(ev.data[9], "delta"), "{\"ci");
    ASSERT_STR_EQ(json_str(ev.data[10], "delta"), "ty\":\"Paris\"}");
    ASSERT_STR_EQ(json_str(ev.data[11], "arguments"), "{\"city\":\"Paris\"}");
    ASSERT_INT_EQ(json_num(ev.data[12], "output_index"), 1);
    ASSERT_STR_EQ(json_str(ev.data[12], "item.status"), "completed");
    ASSERT_STR_EQ(json_str(ev.data[12], "item.arguments"), "{\"city\":\"Paris\"}");
    ASSERT_STR_EQ(json_str(ev.data[12], "item.name"), "weather");
    /* the second call */
    ASSERT_INT_EQ(json_num(ev.data[13], "output_index"), 2);
    ASSERT_STR_EQ(json_str(ev.data[13], "item.call_id"), "call_b");
    ASSERT_INT_EQ(json_num(ev.data[14], "output_index"), 2);
    ASSERT_STR_EQ(json_str(ev.data[15], "arguments"), "{}");
    ASSERT_STR_EQ(json_str(ev.data[16], "item.id"), "fc_call_b");
    /* the whole Response: three items */
    r = json_at(ev.data[17], "response");
    ASSERT_STR_EQ(json_str(r, "status"), "completed");
    ASSERT_INT_EQ(json_size(r, "output"), 3);
    ASSERT_STR_EQ(json_str(r, "output.0.type"), "message");
    ASSERT_STR_EQ(json_str(r, "output.0.content.0.text"), "Checking both.");
    ASSERT_STR_EQ(json_str(r, "output.1.type"), "function_call");
    ASSERT_STR_EQ(json_str(r, "output.1.call_id"), "call_a");
    ASSERT_STR_EQ(json_str(r, "output.1.arguments"), "{\"city\":\"Paris\"}");
    ASSERT_STR_EQ(json_str(r, "output.2.call_id"), "call_b");
    ASSERT_STR_EQ(json_str(r, "output.2.name"), "clock");
    ASSERT_STR_EQ(json_str(r, "output.2.arguments"), "{}");
    ASSERT_INT_EQ(json_num(r, "usage.input_tokens"), 3);
    ASSERT_INT_EQ(json_num(r, "usage.output_tokens"), 4);
    ASSERT_INT_EQ(json_num(r, "usage.total_tokens"), 7);
    events_release(&ev);
    allot_responses_stream_release(&s);
    allot_buf_release(&out);
}

/* A custom call whose arguments come in fragments that cut the input's
 * escapes apart. */
static const char *const custom_call[] = {
    "{'choices':[{'delta':{'role':'assistant','tool_calls':[{'index':0,'id':'call_p',"
    "'type':'function','function':{'name':'apply_patch','arguments':''}}]}}]}",
    "{'choices':[{'delta':{'tool_calls':[{'index':0,'function':{'arguments':'{\\'inp'}}]}}]}",
    "{'choices':[{'delta':{'tool_calls':[{'index':0,'function':{'arguments':"
    "'ut\\': \\'*** Begin Patch\\\\'}}]}}]}",
    "{'choices':[{'delta':{'tool_calls':[{'index':0,'function':{'arguments':"
    "'n+say(\\\\\\'hi\\\\\\') \\\\\\\\ \\\\u00e9\\\\n*** End Patch\\'}'}}]}}]}",
    "{'choices':[{'delta':{},'finish_reason':'tool_calls'}]}",
    "[DONE]",
};

TEST(responses_answer_stream_custom_tool_call)
{
    static const char input[] = "*** Begin Patch\n+say(\"hi\") \\ \xc3\xa9\n*** End Patch";
    struct allot_responses_stream s;
    struct allot_buf out;
    struct events ev;
    const cJSON *r;
    size_t len;
    int i;

    allot_buf_init(&out, 1u << 16);
    allot_responses_stream_init(&s, "chatcmpl-p", "m", 0, 1u << 16, &patch_tools);
    ASSERT_INT_EQ(s.custom.n, 2);
    ASSERT_STR_EQ(s.custom.name[0], "apply_patch");
    ASSERT_INT_EQ(feed(&s, custom_call[0], &out), 0);
    /* the fragments send nothing */
    len = out.len;
    for (i = 1; i < 4; i++)
        ASSERT_INT_EQ(feed(&s, custom_call[i], &out), 0);
    ASSERT_INT_EQ(out.len, len);
    for (; i < (int)(sizeof custom_call / sizeof custom_call[0]); i++)
        ASSERT_INT_EQ(feed(&s, custom_call[i], &out), 0);
    ASSERT_INT_EQ(events_parse(allot_buf_cstr(&out), &ev, 1), 0);
    ASSERT_STR_EQ(event_names(&ev),
                  "response.created,response.in_progress,response.output_item.added,"
                  "response.custom_tool_call_input.delta,response.custom_tool_call_input.done,"
                  "response.output_item.done,response.completed");
    /* opened */
    ASSERT_INT_EQ(json_num(ev.data[2], "output_index"), 0);
    ASSERT_STR_EQ(json_keys(json_at(ev.data[2], "item")), "id,type,status,call_id,name,input");
    ASSERT_STR_EQ(json_str(ev.data[2], "item.id"), "ctc_call_p");
    ASSERT_STR_EQ(json_str(ev.data[2], "item.type"), "custom_tool_call");
    ASSERT_STR_EQ(json_str(ev.data[2], "item.status"), "in_progress");
    ASSERT_STR_EQ(json_str(ev.data[2], "item.call_id"), "call_p");
    ASSERT_STR_EQ(json_str(ev.data[2], "item.name"), "apply_patch");
    ASSERT_STR_EQ(json_str(ev.data[2], "item.input"), "");
    /* the whole input in one delta, then done */
    ASSERT_STR_EQ(json_keys(ev.data[3]), "type,item_id,output_index,delta,sequence_number");
    ASSERT_STR_EQ(json_str(ev.data[3], "item_id"), "ctc_call_p");
    ASSERT_INT_EQ(json_num(ev.data[3], "output_index"), 0);
    ASSERT_STR_EQ(json_str(ev.data[3], "delta"), input);
    ASSERT_STR_EQ(json_keys(ev.data[4]), "type,item_id,output_index,input,sequence_number");
    ASSERT_STR_EQ(json_str(ev.data[4], "item_id"), "ctc_call_p");
    ASSERT_STR_EQ(json_str(ev.data[4], "input"), input);
    ASSERT_INT_EQ(json_num(ev.data[5], "output_index"), 0);
    ASSERT_STR_EQ(json_keys(json_at(ev.data[5], "item")), "id,type,status,call_id,name,input");
    ASSERT_STR_EQ(json_str(ev.data[5], "item.status"), "completed");
    ASSERT_STR_EQ(json_str(ev.data[5], "item.input"), input);
    /* the whole Response */
    r = json_at(ev.data[6], "response");
    ASSERT_STR_EQ(json_str(r, "status"), "completed");
    ASSERT_INT_EQ(json_size(r, "output"), 1);
    ASSERT_STR_EQ(json_keys(json_at(r, "output.0")), "id,type,status,call_id,name,input");
    ASSERT_STR_EQ(json_str(r, "output.0.id"), "ctc_call_p");
    ASSERT_STR_EQ(json_str(r, "output.0.type"), "custom_tool_call");
    ASSERT_STR_EQ(json_str(r, "output.0.name"), "apply_patch");
    ASSERT_STR_EQ(json_str(r, "output.0.input"), input);
    events_release(&ev);
    allot_responses_stream_release(&s);
    allot_buf_release(&out);

    /* arguments without an input: the arguments text is the input */
    allot_buf_init(&out, 1u << 16);
    allot_responses_stream_init(&s, "chatcmpl-q", "m", 0, 1u << 16, &patch_tools);
    ASSERT_INT_EQ(feed(&s,
                       "{'choices':[{'delta':{'tool_calls':[{'index':0,'function':{'name':"
                       "'note','arguments':'plain '}}]}}]}",
                       &out),
                  0);
    ASSERT_INT_EQ(feed(&s,
                       "{'choices':[{'delta':{'tool_calls':[{'index':0,'function':{'arguments':"
                       "'text'}}]}}]}",
                       &out),
                  0);
    ASSERT_INT_EQ(feed(&s, "[DONE]", &out), 0);
    ASSERT_INT_EQ(events_parse(allot_buf_cstr(&out), &ev, 1), 0);
    ASSERT_STR_EQ(json_str(ev.data[2], "item.id"), "ctc_call_allot_0");
    ASSERT_STR_EQ(json_str(ev.data[3], "delta"), "plain text");
    ASSERT_STR_EQ(json_str(ev.data[4], "input"), "plain text");
    ASSERT_STR_EQ(json_str(ev.data[ev.n - 1], "response.output.0.input"), "plain text");
    events_release(&ev);
    allot_responses_stream_release(&s);
    allot_buf_release(&out);
}

TEST(responses_answer_stream_text_function_and_custom_calls)
{
    static const char *const chunks[] = {
        "{'choices':[{'delta':{'role':'assistant','content':'Two steps.'}}]}",
        "{'choices':[{'delta':{'tool_calls':[{'index':0,'id':'call_f','type':'function',"
        "'function':{'name':'ls','arguments':'{\\'di'}}]}}]}",
        "{'choices':[{'delta':{'tool_calls':[{'index':0,'function':{'arguments':"
        "'r\\':\\'.\\'}'}}]}}]}",
        "{'choices':[{'delta':{'tool_calls':[{'index':1,'id':'call_c','type':'function',"
        "'function':{'name':'apply_patch','arguments':'{\\'input\\''}}]}}]}",
        "{'choices':[{'delta':{'tool_calls':[{'index':1,'function':{'arguments':"
        "':\\'*** Begin Patch\\\\n\\''}}]}}]}",
        "{'choices':[{'delta':{'tool_calls':[{'index':1,'function':{'arguments':'}'}}]}}]}",
        "{'choices':[{'delta':{'content':'Done.'},'finish_reason':'tool_calls'}],"
        "'usage':{'prompt_tokens':5,'completion_tokens':6}}",
        "[DONE]",
    };
    struct allot_responses_stream s;
    struct allot_buf out;
    struct events ev;
    const cJSON *r;
    int i;

    allot_buf_init(&out, 1u << 16);
    allot_responses_stream_init(&s, "chatcmpl-m", "m", 0, 1u << 16, &patch_tools);
    for (i = 0; i < (int)(sizeof chunks / sizeof chunks[0]); i++)
        ASSERT_INT_EQ(feed(&s, chunks[i], &out), 0);
    ASSERT_INT_EQ(events_parse(allot_buf_cstr(&out), &ev, 1), 0);
    ASSERT_STR_EQ(event_names(&ev),
                  "response.created,response.in_progress,"
                  /* 2..7: the message */
                  "response.output_item.added,response.content_part.added,"
                  "response.output_text.delta,response.output_text.done,"
                  "response.content_part.done,response.output_item.done,"
                  /* 8..12: the function call */
                  "response.output_item.added,response.function_call_arguments.delta,"
                  "response.function_call_arguments.delta,"
                  "response.function_call_arguments.done,response.output_item.done,"
                  /* 13..16: the custom call */
                  "response.output_item.added,response.custom_tool_call_input.delta,"
                  "response.custom_tool_call_input.done,response.output_item.done,"
                  /* 17..22: text after it, a message of its own */
                  "response.output_item.added,response.content_part.added,"
                  "response.output_text.delta,response.output_text.done,"
                  "response.content_part.done,response.output_item.done,"
                  "response.completed");
    ASSERT_STR_EQ(json_str(ev.data[8], "item.type"), "function_call");
    ASSERT_STR_EQ(json_str(ev.data[11], "arguments"), "{\"dir\":\".\"}");
    ASSERT_INT_EQ(json_num(ev.data[13], "output_index"), 2);
    ASSERT_STR_EQ(json_str(ev.data[13], "item.type"), "custom_tool_call");
    ASSERT_STR_EQ(json_str(ev.data[14], "item_id"), "ctc_call_c");
    ASSERT_INT_EQ(json_num(ev.data[14], "output_index"), 2);
    ASSERT_STR_EQ(json_str(ev.data[14], "delta"), "*** Begin Patch\n");
    ASSERT_STR_EQ(json_str(ev.data[15], "input"), "*** Begin Patch\n");
    ASSERT_INT_EQ(json_num(ev.data[16], "output_index"), 2);
    ASSERT_INT_EQ(json_num(ev.data[17], "output_index"), 3);
    ASSERT_STR_EQ(json_str(ev.data[17], "item.id"), "msg_m_3");
    r = json_at(ev.data[23], "response");
    ASSERT_INT_EQ(json_size(r, "output"), 4);
    ASSERT_STR_EQ(json_str(r, "output.0.content.0.text"), "Two steps.");
    ASSERT_STR_EQ(json_str(r, "output.1.type"), "function_call");
    ASSERT_STR_EQ(json_str(r, "output.1.arguments"), "{\"dir\":\".\"}");
    ASSERT_STR_EQ(json_str(r, "output.2.type"), "custom_tool_call");
    ASSERT_STR_EQ(json_str(r, "output.2.call_id"), "call_c");
    ASSERT_STR_EQ(json_str(r, "output.2.input"), "*** Begin Patch\n");
    ASSERT_STR_EQ(json_str(r, "output.3.content.0.text"), "Done.");
    ASSERT_INT_EQ(json_num(r, "usage.total_tokens"), 11);
    events_release(&ev);
    allot_responses_stream_release(&s);
    allot_buf_release(&out);
}

TEST(responses_answer_stream_items_interleaved)
{
    /* text after a call opens a second message item with its own id; two
     * calls in one chunk; a call without an id gets one made up */
    struct allot_responses_stream s;
    struct allot_buf out;
    struct events ev;
    const cJSON *r;

    allot_buf_init(&out, 1u << 16);
    allot_responses_stream_init(&s, "chatcmpl-i", "m", 0, 1u << 16, NULL);
    ASSERT_INT_EQ(feed(&s,
                       "{'choices':[{'delta':{'tool_calls':[{'index':0,'id':'c0',"
                       "'function':{'name':'f','arguments':'{}'}},{'index':1,"
                       "'function':{'name':'g','arguments':'[1]'}}]}}]}",
                       &out),
                  0);
    ASSERT_INT_EQ(feed(&s, "{'choices':[{'delta':{'content':'after'}}]}", &out), 0);
    ASSERT_INT_EQ(feed(&s, "[DONE]", &out), 0);
    ASSERT_INT_EQ(events_parse(allot_buf_cstr(&out), &ev, 1), 0);
    ASSERT_STR_EQ(event_names(&ev),
                  "response.created,response.in_progress,"
                  "response.output_item.added,response.function_call_arguments.delta,"
                  "response.function_call_arguments.done,response.output_item.done,"
                  "response.output_item.added,response.function_call_arguments.delta,"
                  "response.function_call_arguments.done,response.output_item.done,"
                  "response.output_item.added,response.content_part.added,"
                  "response.output_text.delta,response.output_text.done,"
                  "response.content_part.done,response.output_item.done,response.completed");
    ASSERT_STR_EQ(json_str(ev.data[6], "item.call_id"), "call_allot_1");
    ASSERT_STR_EQ(json_str(ev.data[6], "item.id"), "fc_call_allot_1");
    ASSERT_STR_EQ(json_str(ev.data[8], "arguments"), "[1]");
    ASSERT_INT_EQ(json_num(ev.data[10], "output_index"), 2);
    ASSERT_STR_EQ(json_str(ev.data[10], "item.id"), "msg_i_2");
    ASSERT_STR_EQ(json_str(ev.data[12], "item_id"), "msg_i_2");
    r = json_at(ev.data[16], "response");
    ASSERT_INT_EQ(json_size(r, "output"), 3);
    ASSERT_STR_EQ(json_str(r, "output.0.arguments"), "{}");
    ASSERT_STR_EQ(json_str(r, "output.1.name"), "g");
    ASSERT_STR_EQ(json_str(r, "output.2.content.0.text"), "after");
    /* usage never sent: zeros */
    ASSERT_INT_EQ(json_num(r, "usage.input_tokens"), 0);
    ASSERT_INT_EQ(json_num(r, "usage.total_tokens"), 0);
    events_release(&ev);
    allot_responses_stream_release(&s);
    allot_buf_release(&out);
}

TEST(responses_answer_stream_incomplete)
{
    static const struct {
        const char *finish, *reason;
    } cases[] = {{"length", "max_output_tokens"}, {"content_filter", "content_filter"}};
    char chunk[128];
    size_t i;

    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct allot_responses_stream s;
        struct allot_buf out;
        struct events ev;
        const cJSON *r;

        allot_buf_init(&out, 1u << 16);
        allot_responses_stream_init(&s, "chatcmpl-l", "m", 0, 1u << 16, NULL);
        ASSERT_INT_EQ(feed(&s, "{'choices':[{'delta':{'content':'cut sh'}}]}", &out), 0);
        snprintf(chunk, sizeof chunk, "{'choices':[{'delta':{},'finish_reason':'%s'}]}",
                 cases[i].finish);
        ASSERT_INT_EQ(feed(&s, chunk, &out), 0);
        ASSERT_INT_EQ(feed(&s, "[DONE]", &out), 0);
        ASSERT_INT_EQ(events_parse(allot_buf_cstr(&out), &ev, 1), 0);
        ASSERT_STR_EQ(ev.name[ev.n - 1], "response.incomplete");
        ASSERT(!strstr(event_names(&ev), "response.completed"));
        r = json_at(ev.data[ev.n - 1], "response");
        ASSERT_STR_EQ(json_str(r, "status"), "incomplete");
        ASSERT_STR_EQ(json_str(r, "incomplete_details.reason"), cases[i].reason);
        ASSERT_STR_EQ(json_str(r, "output.0.content.0.text"), "cut sh");
        events_release(&ev);
        allot_responses_stream_release(&s);
        allot_buf_release(&out);
    }
}

TEST(responses_answer_stream_refusal)
{
    struct allot_responses_stream s;
    struct allot_buf out;
    struct events ev;
    const cJSON *r;

    allot_buf_init(&out, 1u << 16);
    allot_responses_stream_init(&s, "chatcmpl-r", "m", 0, 1u << 16, NULL);
    ASSERT_INT_EQ(feed(&s, "{'choices':[{'delta':{'role':'assistant','refusal':'I can'}}]}", &out),
                  0);
    ASSERT_INT_EQ(feed(&s, "{'choices':[{'delta':{'refusal':'not.'}}]}", &out), 0);
    ASSERT_INT_EQ(feed(&s, "[DONE]", &out), 0);
    ASSERT_INT_EQ(events_parse(allot_buf_cstr(&out), &ev, 1), 0);
    ASSERT_STR_EQ(event_names(&ev),
                  "response.created,response.in_progress,response.output_item.added,"
                  "response.content_part.added,response.refusal.delta,response.refusal.delta,"
                  "response.refusal.done,response.content_part.done,response.output_item.done,"
                  "response.completed");
    ASSERT_STR_EQ(json_keys(json_at(ev.data[3], "part")), "type,refusal");
    ASSERT_STR_EQ(json_str(ev.data[3], "part.type"), "refusal");
    ASSERT_STR_EQ(json_str(ev.data[3], "part.refusal"), "");
    ASSERT_STR_EQ(json_keys(ev.data[4]),
                  "type,item_id,output_index,content_index,delta,sequence_number");
    ASSERT_STR_EQ(json_str(ev.data[4], "delta"), "I can");
    ASSERT_STR_EQ(json_str(ev.data[6], "refusal"), "I cannot.");
    ASSERT_STR_EQ(json_str(ev.data[7], "part.refusal"), "I cannot.");
    r = json_at(ev.data[9], "response");
    ASSERT_INT_EQ(json_size(r, "output"), 1);
    ASSERT_STR_EQ(json_str(r, "output.0.content.0.type"), "refusal");
    ASSERT_STR_EQ(json_str(r, "output.0.content.0.refusal"), "I cannot.");
    events_release(&ev);
    allot_responses_stream_release(&s);
    allot_buf_release(&out);
}

TEST(responses_answer_stream_ignores_non_json_and_after_done)
{
    struct allot_responses_stream s;
    struct allot_buf out;
    struct events ev;
    size_t len;

    allot_buf_init(&out, 1u << 16);
    allot_responses_stream_init(&s, "chatcmpl-n", "m", 0, 1u << 16, NULL);
    /* nothing is sent for payloads that are not JSON objects, not even response.created */
    ASSERT_INT_EQ(feed(&s, "not json", &out), 0);
    ASSERT_INT_EQ(feed(&s, "[1,2]", &out), 0);
    ASSERT_INT_EQ(feed(&s, "\"text\"", &out), 0);
    ASSERT_INT_EQ(feed(&s, "", &out), 0);
    ASSERT_INT_EQ(allot_responses_stream_event(&s, allot_slice_of(NULL, 0), &out), 0);
    ASSERT_INT_EQ(out.len, 0);
    ASSERT_INT_EQ(s.started, 0);
    ASSERT_INT_EQ(s.seq, 0);
    ASSERT_INT_EQ(feed(&s, "{'choices':[{'delta':{'content':'a'}}]}", &out), 0);
    /* a chunk that opens nothing sends nothing */
    len = out.len;
    ASSERT_INT_EQ(feed(&s, "{'choices':[{'delta':{'content':''}}]}", &out), 0);
    ASSERT_INT_EQ(feed(&s, "{'choices':[{'delta':{'content'", &out), 0);
    ASSERT_INT_EQ(out.len, len);
    ASSERT_INT_EQ(feed(&s, " [DONE]\n", &out), 0);
    len = out.len;
    ASSERT_INT_EQ(s.finished, 1);
    /* after [DONE]: nothing */
    ASSERT_INT_EQ(feed(&s, "{'choices':[{'delta':{'content':'late'}}]}", &out), 0);
    ASSERT_INT_EQ(feed(&s, "[DONE]", &out), 0);
    ASSERT_INT_EQ(out.len, len);
    ASSERT_INT_EQ(events_parse(allot_buf_cstr(&out), &ev, 1), 0);
    ASSERT_STR_EQ(event_names(&ev),
                  "response.created,response.in_progress,response.output_item.added,"
                  "response.content_part.added,response.output_text.delta,"
                  "response.output_text.done,response.content_part.done,"
                  "response.output_item.done,response.completed");
    ASSERT_STR_EQ(json_str(ev.data[8], "response.output.0.content.0.text"), "a");
    events_release(&ev);
    allot_responses_stream_release(&s);
    allot_buf_release(&out);
}

TEST(responses_answer_stream_done_without_chunks)
{
    struct allot_responses_stream s;
    struct allot_buf out;
    struct events ev;

    allot_buf_init(&out, 1u << 16);
    allot_responses_stream_init(&s, "chatcmpl-e", "m", 0, 1u << 16, NULL);
    ASSERT_INT_EQ(feed(&s, "[DONE]", &out), 0);
    ASSERT_INT_EQ(events_parse(allot_buf_cstr(&out), &ev, 1), 0);
    ASSERT_STR_EQ(event_names(&ev), "response.created,response.in_progress,response.completed");
    ASSERT_STR_EQ(json_str(ev.data[2], "response.id"), "resp_e");
    ASSERT_INT_EQ(json_size(ev.data[2], "response.output"), 0);
    ASSERT_INT_EQ(json_num(ev.data[2], "response.usage.output_tokens"), 0);
    events_release(&ev);
    allot_responses_stream_release(&s);
    allot_buf_release(&out);
}

/* A stream of every kind of item, fed whole. */
static const char *const every_kind[] = {
    "{'choices':[{'delta':{'content':'Text \\u00e9.'}}]}",
    "{'choices':[{'delta':{'tool_calls':[{'index':0,'id':'call_a','function':{'name':'w',"
    "'arguments':'{\\'a\\':'}}]}}]}",
    "{'choices':[{'delta':{'tool_calls':[{'index':0,'function':{'arguments':'1}'}},"
    "{'index':1,'id':'call_b','function':{'name':'v','arguments':'{}'}}]}}]}",
    "{'choices':[{'delta':{'content':'More.','refusal':'No.'},'finish_reason':'length'}],"
    "'usage':{'prompt_tokens':1,'completion_tokens':2}}",
    "[DONE]",
};
#define EVERY_KIND_N (int)(sizeof every_kind / sizeof every_kind[0])

/* Feed every_kind: each chunk first with every out cap too small for what
 * it sends. Each try fails, and leaves out and the state as they were, so
 * the next try (and at last the one with room) goes on from the same
 * place; what comes out in the end is what a run with room gives. custom:
 * the custom tools (NULL: none). */
static void restores_state(int *allot_test_failed_, const struct allot_responses_custom *custom)
{
    struct allot_responses_stream s, fresh, before;
    struct allot_buf out, want;
    struct events ev;
    size_t cap, start;
    int i, failures = 0;

    /* the reference: a run with room */
    allot_buf_init(&want, 1u << 16);
    allot_responses_stream_init(&fresh, "chatcmpl-x", "m", 0, 1u << 16, custom);
    for (i = 0; i < EVERY_KIND_N; i++)
        ASSERT_INT_EQ(feed(&fresh, every_kind[i], &want), 0);
    ASSERT_INT_EQ(events_parse(allot_buf_cstr(&want), &ev, 1), 0);
    ASSERT_STR_EQ(ev.name[ev.n - 1], "response.incomplete");
    ASSERT_INT_EQ(json_size(ev.data[ev.n - 1], "response.output"), 5);
    ASSERT_STR_EQ(json_str(ev.data[ev.n - 1], "response.output.2.type"),
                  custom ? "custom_tool_call" : "function_call");
    events_release(&ev);

    allot_buf_init(&out, 1u << 16);
    allot_responses_stream_init(&s, "chatcmpl-x", "m", 0, 1u << 16, custom);
    for (i = 0; i < EVERY_KIND_N; i++) {
        start = out.len;
        for (cap = 0;; cap++) {
            int rc;
            before = s;
            out.max = start + cap;
            rc = feed(&s, every_kind[i], &out);
            if (rc == 0)
                break;
            failures++;
            ASSERT_INT_EQ(rc, ALLOT_ETOOBIG);
            ASSERT_INT_EQ(out.len, start);
            ASSERT_INT_EQ(allot_buf_cstr(&out)[start], '\0');
            ASSERT_INT_EQ(s.seq, before.seq);
            ASSERT_INT_EQ(s.started, before.started);
            ASSERT_INT_EQ(s.item_open, before.item_open);
            ASSERT_INT_EQ(s.output_index, before.output_index);
            ASSERT_INT_EQ(s.tool_index, before.tool_index);
            ASSERT_INT_EQ(s.finished, before.finished);
            ASSERT_INT_EQ(s.text.len, before.text.len);
            ASSERT_INT_EQ(s.head.len, before.head.len);
            ASSERT_INT_EQ(s.items.len, before.items.len);
            ASSERT_STR_EQ(s.item_id, before.item_id);
            ASSERT_STR_EQ(s.status, before.status);
        }
    }
    ASSERT(failures > 1000); /* every chunk failed many times before it went through */
    ASSERT_INT_EQ(out.len, want.len);
    ASSERT_STR_EQ(allot_buf_cstr(&out), allot_buf_cstr(&want));
    allot_responses_stream_release(&s);
    allot_responses_stream_release(&fresh);
    allot_buf_release(&out);
    allot_buf_release(&want);
}

TEST(responses_answer_stream_error_restores_state)
{
    /* the second call of every_kind, "v", as a custom tool */
    static const struct allot_responses_custom v_custom = {1, {"v"}};

    restores_state(allot_test_failed_, NULL);
    if (*allot_test_failed_)
        return;
    restores_state(allot_test_failed_, &v_custom);
}

TEST(responses_answer_stream_cap)
{
    struct allot_responses_stream s;
    struct allot_buf out;
    struct events ev;
    char big[260], chunk[512];
    size_t len;
    long long seq;

    allot_buf_init(&out, 1u << 16);
    allot_responses_stream_init(&s, "chatcmpl-c", "m", 0, 16, NULL);
    ASSERT_INT_EQ(feed(&s, "{'choices':[{'delta':{'content':'0123456789'}}]}", &out), 0);
    len = out.len;
    seq = s.seq;
    /* the text would pass the cap: nothing sent, nothing kept */
    ASSERT_INT_EQ(feed(&s, "{'choices':[{'delta':{'content':'0123456789'}}]}", &out),
                  ALLOT_ETOOBIG);
    ASSERT_INT_EQ(out.len, len);
    ASSERT_INT_EQ(s.seq, seq);
    ASSERT_INT_EQ(s.text.len, 10);
    /* what fits still goes */
    ASSERT_INT_EQ(feed(&s, "{'choices':[{'delta':{'content':'abc'}}]}", &out), 0);
    ASSERT_INT_EQ(s.seq, seq + 1);
    ASSERT_INT_EQ(s.text.len, 13);
    /* the done item, text and all, does not fit in the items' cap either */
    len = out.len;
    ASSERT_INT_EQ(feed(&s, "[DONE]", &out), ALLOT_ETOOBIG);
    ASSERT_INT_EQ(out.len, len);
    ASSERT_INT_EQ(s.finished, 0);
    ASSERT_INT_EQ(s.item_open, 1);
    ASSERT_INT_EQ(events_parse(allot_buf_cstr(&out), &ev, 1), 0);
    ASSERT_STR_EQ(event_names(&ev),
                  "response.created,response.in_progress,response.output_item.added,"
                  "response.content_part.added,response.output_text.delta,"
                  "response.output_text.delta");
    ASSERT_STR_EQ(json_str(ev.data[4], "delta"), "0123456789");
    ASSERT_STR_EQ(json_str(ev.data[5], "delta"), "abc");
    events_release(&ev);
    allot_responses_stream_release(&s);
    allot_buf_release(&out);

    /* a chunk that closes a call and fails on the next one's arguments leaves the
     * first call open and whole */
    allot_buf_init(&out, 1u << 16);
    allot_responses_stream_init(&s, "chatcmpl-c", "m", 0, 256, NULL);
    ASSERT_INT_EQ(feed(&s,
                       "{'choices':[{'delta':{'tool_calls':[{'index':0,'id':'a','function':"
                       "{'name':'f','arguments':'{\\'k\\':1}'}}]}}]}",
                       &out),
                  0);
    len = out.len;
    seq = s.seq;
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    snprintf(chunk, sizeof chunk,
             "{'choices':[{'delta':{'tool_calls':[{'index':1,'id':'b','function':"
             "{'name':'g','arguments':'%s'}}]}}]}",
             big);
    ASSERT_INT_EQ(feed(&s, chunk, &out), ALLOT_ETOOBIG);
    ASSERT_INT_EQ(out.len, len);
    ASSERT_INT_EQ(s.seq, seq);
    ASSERT_INT_EQ(s.item_open, 2);
    ASSERT_INT_EQ(s.tool_index, 0);
    ASSERT_INT_EQ(s.items.len, 0);
    ASSERT_STR_EQ(s.item_id, "fc_a");
    ASSERT_INT_EQ(feed(&s,
                       "{'choices':[{'delta':{'tool_calls':[{'index':1,'id':'b','function':"
                       "{'name':'g','arguments':'{}'}}]}}]}",
                       &out),
                  0);
    ASSERT_INT_EQ(feed(&s, "[DONE]", &out), 0);
    ASSERT_INT_EQ(events_parse(allot_buf_cstr(&out), &ev, 1), 0);
    ASSERT_INT_EQ(json_size(ev.data[ev.n - 1], "response.output"), 2);
    ASSERT_STR_EQ(json_str(ev.data[ev.n - 1], "response.output.0.call_id"), "a");
    ASSERT_STR_EQ(json_str(ev.data[ev.n - 1], "response.output.0.name"), "f");
    ASSERT_STR_EQ(json_str(ev.data[ev.n - 1], "response.output.0.arguments"), "{\"k\":1}");
    ASSERT_STR_EQ(json_str(ev.data[ev.n - 1], "response.output.1.call_id"), "b");
    ASSERT_STR_EQ(json_str(ev.data[ev.n - 1], "response.output.1.arguments"), "{}");
    events_release(&ev);
    allot_responses_stream_release(&s);
    allot_buf_release(&out);
}

TEST(responses_answer_stream_error_event)
{
    struct allot_responses_stream s;
    struct allot_buf out;
    struct events ev;
    long long seq;

    allot_buf_init(&out, 1u << 16);
    allot_responses_stream_init(&s, "chatcmpl-x", "m", 0, 1u << 16, NULL);
    ASSERT_INT_EQ(feed(&s, "{'choices':[{'delta':{'content':'half'}}]}", &out), 0);
    seq = s.seq;
    ASSERT_INT_EQ(
        allot_responses_stream_error(&s, "upstream_error", "upstream \"x\" cut\nout", &out), 0);
    ASSERT_INT_EQ(s.seq, seq + 1);
    ASSERT_INT_EQ(events_parse(allot_buf_cstr(&out), &ev, 1), 0);
    ASSERT_STR_EQ(ev.name[ev.n - 1], "error");
    ASSERT_STR_EQ(json_keys(ev.data[ev.n - 1]), "type,code,message,param,sequence_number");
    ASSERT_STR_EQ(json_str(ev.data[ev.n - 1], "code"), "upstream_error");
    ASSERT_STR_EQ(json_str(ev.data[ev.n - 1], "message"), "upstream \"x\" cut\nout");
    ASSERT(cJSON_IsNull(json_at(ev.data[ev.n - 1], "param")));
    ASSERT_INT_EQ(json_num(ev.data[ev.n - 1], "sequence_number"), seq);
    events_release(&ev);
    /* nothing follows the error */
    seq = (long long)out.len;
    ASSERT_INT_EQ(feed(&s, "[DONE]", &out), 0);
    ASSERT_INT_EQ(out.len, seq);
    allot_responses_stream_release(&s);
    allot_buf_release(&out);

    /* no stream: sequence_number 0; no code: null */
    allot_buf_init(&out, 1024);
    ASSERT_INT_EQ(allot_responses_stream_error(NULL, NULL, "boom", &out), 0);
    ASSERT(strncmp(allot_buf_cstr(&out), "event: error\ndata: {", 20) == 0);
    ASSERT_INT_EQ(events_parse(allot_buf_cstr(&out), &ev, 1), 0);
    ASSERT_INT_EQ(ev.n, 1);
    ASSERT(cJSON_IsNull(json_at(ev.data[0], "code")));
    ASSERT_STR_EQ(json_str(ev.data[0], "message"), "boom");
    ASSERT_INT_EQ(json_num(ev.data[0], "sequence_number"), 0);
    events_release(&ev);
    allot_buf_release(&out);

    /* a cap that cannot hold it leaves out and the stream unchanged */
    allot_buf_init(&out, 30);
    allot_responses_stream_init(&s, "chatcmpl-x", "m", 0, 100, NULL);
    s.seq = 5;
    ASSERT_INT_EQ(allot_buf_adds(&out, "KEEP"), 0);
    ASSERT_INT_EQ(allot_responses_stream_error(&s, "c", "boom", &out), ALLOT_ETOOBIG);
    ASSERT_STR_EQ(allot_buf_cstr(&out), "KEEP");
    ASSERT_INT_EQ(s.seq, 5);
    ASSERT_INT_EQ(s.finished, 0);
    allot_responses_stream_release(&s);
    allot_buf_release(&out);
}

/* The gateway parses each chunk once and feeds the tree: the same events,
 * byte for byte, as feeding the text; NULL and non-objects are ignored. */
TEST(responses_answer_stream_feed_tree_equals_text)
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
    struct allot_responses_stream a, b;
    struct allot_buf ta, tb;
    size_t i;

    allot_buf_init(&ta, 1u << 16);
    allot_buf_init(&tb, 1u << 16);
    allot_responses_stream_init(&a, "chatcmpl-f", "m", 1, 1u << 16, NULL);
    allot_responses_stream_init(&b, "chatcmpl-f", "m", 1, 1u << 16, NULL);
    for (i = 0; i < sizeof chunks / sizeof chunks[0]; i++) {
        cJSON *tree = cJSON_Parse(json_sq(chunks[i]));
        ASSERT(tree != NULL);
        ASSERT_INT_EQ(feed(&a, chunks[i], &ta), 0);
        ASSERT_INT_EQ(allot_responses_stream_feed(&b, tree, 0, &tb), 0);
        cJSON_Delete(tree);
    }
    ASSERT_INT_EQ(allot_responses_stream_feed(&b, NULL, 0, &tb), 0); /* not JSON: nothing */
    ASSERT_INT_EQ(allot_responses_stream_event(&a, ALLOT_SLICE_LIT("[DONE]"), &ta), 0);
    ASSERT_INT_EQ(allot_responses_stream_feed(&b, NULL, 1, &tb), 0);
    ASSERT(b.finished);
    ASSERT(ta.len > 0);
    ASSERT_INT_EQ(ta.len, tb.len);
    ASSERT(memcmp(ta.ptr, tb.ptr, ta.len) == 0);
    allot_responses_stream_release(&a);
    allot_responses_stream_release(&b);
    allot_buf_release(&ta);
    allot_buf_release(&tb);
}
