/* The shipped classifier (the built-in model trained from data/kinds/) on
 * requests whose kind of work is not in doubt, and the behaviour around it:
 * explanations, overrides, thread-safety of the model in use. */
#include <pthread.h>
#include <string.h>
#include "allot/chat_request.h"
#include "allot/classify.h"
#include "allot/config.h"
#include "allot/decision.h"
#include "allot/error.h"
#include "test.h"

static struct allot_classification classify2(const char *system, const char *user)
{
    struct allot_instruction in;
    struct allot_classification c;
    memset(&in, 0, sizeof in);
    in.system = allot_slice_cstr(system ? system : "");
    in.last_user = allot_slice_cstr(user ? user : "");
    in.n_messages = system ? 2 : 1;
    allot_classify(&in, &c);
    return c;
}

static struct allot_classification classify(const char *user)
{
    return classify2(NULL, user);
}

struct example {
    const char *text;
    enum allot_category want;
};

/* Run a table of (instruction, category) and report every miss. */
static size_t misses(const struct example *t, size_t n)
{
    size_t i, bad = 0;
    for (i = 0; i < n; i++) {
        struct allot_classification c = classify(t[i].text);
        if (c.category != t[i].want) {
            fprintf(stderr, "  \"%s\": want %s, got %s (%s)\n", t[i].text,
                    allot_category_name(t[i].want), allot_category_name(c.category), c.reason);
            bad++;
        }
    }
    return bad;
}

TEST(classify_shipped_model_one_clear_example_per_category)
{
    /* the "typical instruction" column of KINDS.md */
    static const struct example table[] = {
        {"Plan the migration of our billing service to Postgres.", ALLOT_CAT_PLAN},
        {"Which of these three libraries should we adopt?", ALLOT_CAT_DECIDE},
        {"Review this pull request for correctness.", ALLOT_CAT_REVIEW},
        {"What could go wrong if we ship this on Friday?", ALLOT_CAT_RISK},
        {"Compare event sourcing and CRUD for our ledger.", ALLOT_CAT_TRADEOFF},
        {"From these 20 summaries, write the briefing: what really changed this week?",
         ALLOT_CAT_SYNTHESIZE},
        {"Why does this deadlock happen only under load?", ALLOT_CAT_SOLVE},
        {"Mark each of these abstracts relevant or not to LLM routing.", ALLOT_CAT_SCAN},
        {"List every date and amount in this invoice as JSON.", ALLOT_CAT_EXTRACT},
        {"Summarise this article in five bullet points.", ALLOT_CAT_SUMMARIZE},
        {"Fix the grammar and turn this into a numbered list.", ALLOT_CAT_REFORMAT},
        {"Convert this YAML config to TOML.", ALLOT_CAT_CONVERT},
        {"Merge these meeting notes into one list of action items.", ALLOT_CAT_COLLECT},
        {"What port does PostgreSQL listen on by default?", ALLOT_CAT_ANSWER},
        {"Write a polite email declining the invitation.", ALLOT_CAT_COMPOSE},
        {"Write a C function that parses an ISO-8601 date.", ALLOT_CAT_IMPLEMENT},
    };
    ASSERT_INT_EQ(misses(table, sizeof table / sizeof table[0]), 0);
}

TEST(classify_hard_cases_from_kinds_md)
{
    static const struct example table[] = {
        /* the strongest kind of work wins */
        {"Summarise these three proposals, then tell me which option to pick.", ALLOT_CAT_DECIDE},
        /* the topic is security, the work is summarizing */
        {"Summarise this security audit.", ALLOT_CAT_SUMMARIZE},
        {"Is this design secure enough to ship?", ALLOT_CAT_RISK},
        /* grading another model's output is review, however simple */
        {"Grade this answer against the rubric: is it correct?", ALLOT_CAT_REVIEW},
        /* translation is reformat; translating code is implement */
        {"Translate this paragraph into French.", ALLOT_CAT_REFORMAT},
        {"Translate this Python script to Rust.", ALLOT_CAT_IMPLEMENT},
        /* a textbook explanation is answer */
        {"Explain how TCP congestion control works.", ALLOT_CAT_ANSWER},
    };
    ASSERT_INT_EQ(misses(table, sizeof table / sizeof table[0]), 0);
}

/* A request body parsed as the gateway parses it. */
static struct allot_classification classify_body(const char *body)
{
    struct allot_chat_request r;
    struct allot_instruction in;
    struct allot_classification c;
    struct allot_buf err;

    memset(&c, 0, sizeof c);
    c.category = ALLOT_CAT__COUNT;
    allot_buf_init(&err, 4096);
    if (allot_chat_request_parse(&r, body, strlen(body), &err) == 0) {
        allot_instruction_from_request(&r, &in);
        allot_classify(&in, &c);
    } else {
        fprintf(stderr, "  parse: %s\n", allot_buf_cstr(&err));
    }
    allot_chat_request_release(&r);
    allot_buf_release(&err);
    return c;
}

TEST(classify_tools_choose_versus_fill)
{
    struct allot_classification c = classify_body(
        "{\"model\":\"auto\",\"messages\":[{\"role\":\"system\",\"content\":\"You are a travel "
        "agent. Use the tools.\"},{\"role\":\"user\",\"content\":\"Book me a trip to Lisbon next "
        "week.\"},{\"role\":\"assistant\",\"tool_calls\":[{\"id\":\"c1\",\"type\":\"function\","
        "\"function\":{\"name\":\"search_flights\",\"arguments\":\"{}\"}}]},{\"role\":\"tool\","
        "\"tool_call_id\":\"c1\",\"content\":\"[{\\\"flight\\\":\\\"TP123\\\"}]\"},{\"role\":"
        "\"user\",\"content\":\"Decide which tool to call next to finish the booking.\"}],"
        "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"search_flights\"}},{\"type\":"
        "\"function\",\"function\":{\"name\":\"book_flight\"}}]}");
    ASSERT_INT_EQ(c.category, ALLOT_CAT_DECIDE);
    c = classify_body("{\"model\":\"auto\",\"messages\":[{\"role\":\"user\",\"content\":\"Fill in "
                      "the arguments of create_event from this email: lunch with Ana on May 3 at "
                      "noon.\"}],\"tools\":[{\"type\":\"function\",\"function\":{\"name\":"
                      "\"create_event\"}}]}");
    ASSERT_INT_EQ(c.category, ALLOT_CAT_EXTRACT);
}

/* A long report full of judgment words, with the instruction first or last. */
static void report(char *buf, size_t cap, const char *before, const char *after)
{
    const char *para = "The threat model lists risks: an attacker could exploit the "
                       "vulnerability; compare the two plans and weigh the tradeoff; what "
                       "could go wrong is a security failure mode. ";
    size_t n = (size_t)snprintf(buf, cap, "%s", before);
    int i;
    for (i = 0; i < 24 && n + strlen(para) + 3 < cap; i++)
        n += (size_t)snprintf(buf + n, cap - n, "%s%s", para, i % 3 == 2 ? "\n\n" : "");
    snprintf(buf + n, cap - n, "%s", after);
}

TEST(classify_material_topic_words_do_not_drive_it)
{
    char buf[8192];
    struct allot_classification c;

    report(buf, sizeof buf, "Summarise the following report in three bullets.\n\n", "");
    c = classify(buf);
    ASSERT_INT_EQ(c.category, ALLOT_CAT_SUMMARIZE);
    ASSERT(c.confidence >= 0.5);
    /* the instruction at the end, after the material */
    report(buf, sizeof buf, "", "\n\nExtract every named person as JSON.");
    c = classify(buf);
    ASSERT_INT_EQ(c.category, ALLOT_CAT_EXTRACT);
}

TEST(classify_ignores_code_inside_fences)
{
    struct allot_classification c =
        classify("Convert this snippet to YAML:\n```\nreview = risk(plan)\ncompare(a, b)\n```\n");
    ASSERT_INT_EQ(c.category, ALLOT_CAT_CONVERT);
}

TEST(classify_explains_itself)
{
    struct allot_classification c = classify("Summarise this article in five bullet points.");
    char full[512];
    size_t i;

    ASSERT_INT_EQ(c.category, ALLOT_CAT_SUMMARIZE);
    ASSERT(c.runner_up != c.category);
    ASSERT(c.runner_up_confidence <= c.confidence);
    ASSERT(c.n_pro >= 1);
    ASSERT_STR_CONTAINS(c.pro[0].name, "summarise");
    for (i = 0; i < c.n_pro; i++)
        ASSERT(c.pro[i].weight > 0);
    for (i = 0; i < c.n_con; i++)
        ASSERT(c.con[i].weight < 0);
    for (i = 1; i < c.n_pro; i++)
        ASSERT(c.pro[i].weight <= c.pro[i - 1].weight);
    ASSERT(c.override == NULL);
    /* short form: category, confidence, the strongest features */
    ASSERT(strncmp(c.reason, "summarize ", 10) == 0);
    ASSERT_STR_CONTAINS(c.reason, "'summarise' +");
    /* full form */
    allot_classification_explain(&c, full, sizeof full);
    ASSERT(strncmp(full, "summarize ", 10) == 0);
    ASSERT_STR_CONTAINS(full, "(next ");
    ASSERT_STR_CONTAINS(full, "; for: 'summarise' +");
    /* cut at a whole item when small */
    allot_classification_explain(&c, full, 40);
    ASSERT(strlen(full) < 40);
    ASSERT(strstr(full, "; for") == NULL || strstr(full, "'summarise' +") != NULL);
}

TEST(classify_probabilities_are_a_distribution)
{
    struct allot_classification c = classify("Write a haiku about autumn rain.");
    double sum = 0;
    int k;
    for (k = 0; k < ALLOT_CAT__COUNT; k++) {
        ASSERT(c.p[k] >= 0 && c.p[k] <= 1);
        ASSERT(c.p[k] <= c.confidence);
        sum += c.p[k];
    }
    ASSERT_DBL_NEAR(sum, 1.0, 1e-9);
    ASSERT_DBL_NEAR(c.p[c.category], c.confidence, 1e-12);
}

TEST(classify_no_instruction_is_overridden_to_unsure)
{
    struct allot_instruction in;
    struct allot_classification c;

    memset(&in, 0, sizeof in); /* NULL slices */
    allot_classify(&in, &c);
    ASSERT(c.confidence == 0.0);
    ASSERT_STR_EQ(c.override, "no instruction text");
    ASSERT_STR_CONTAINS(c.reason, "no instruction text");
    /* a turn that is only material */
    c = classify("```\nint main(void) { return 0; }\n```\n");
    ASSERT(c.confidence == 0.0);
    ASSERT(c.override != NULL);
}

TEST(classify_without_a_model_is_uniform)
{
    struct allot_instruction in;
    struct allot_classification c;
    memset(&in, 0, sizeof in);
    in.last_user = ALLOT_SLICE_LIT("Summarise this.");
    allot_classify_with(NULL, &in, &c);
    ASSERT_DBL_NEAR(c.confidence, 1.0 / ALLOT_CAT__COUNT, 1e-12);
    ASSERT_STR_EQ(c.override, "no model loaded");
}

TEST(classify_decision_takes_the_tier_with_the_most_probability)
{
    struct allot_config *cfg = NULL;
    struct allot_buf err;
    struct allot_decision d;
    struct allot_instruction in;
    double mass = 0;
    int k;

    allot_buf_init(&err, 4096);
    ASSERT_INT_EQ(allot_config_default(&cfg, &err), 0);
    memset(&in, 0, sizeof in);
    in.last_user = ALLOT_SLICE_LIT("Summarise this article in five bullet points.");
    ASSERT_INT_EQ(
        allot_decide(cfg, ALLOT_SLICE_LIT("auto"), allot_slice_of(NULL, 0), &in, &d, &err), 0);
    ASSERT(d.classified);
    ASSERT_INT_EQ(d.source, ALLOT_SRC_CLASSIFIER);
    ASSERT_INT_EQ(d.tier, ALLOT_TIER_LABOUR);
    for (k = 0; k < ALLOT_CAT__COUNT; k++)
        if (cfg->routing.category_tier[k] == ALLOT_TIER_LABOUR)
            mass += d.classification.p[k];
    ASSERT_DBL_NEAR(d.tier_confidence, mass, 1e-9);
    ASSERT_STR_CONTAINS(d.reason, "-> labour tier");
    /* a request with no instruction is unsure: the default tier */
    in.last_user = allot_slice_of("", 0);
    ASSERT_INT_EQ(
        allot_decide(cfg, ALLOT_SLICE_LIT("auto"), allot_slice_of(NULL, 0), &in, &d, &err), 0);
    ASSERT_INT_EQ(d.source, ALLOT_SRC_DEFAULT);
    ASSERT_INT_EQ(d.tier, cfg->routing.default_tier);
    ASSERT_STR_CONTAINS(d.reason, "unsure");
    ASSERT(d.tier_confidence == 0.0); /* the ledger's 0: the classifier read nothing */
    allot_config_free(cfg);
    allot_buf_release(&err);
}

TEST(classify_reason_is_header_safe)
{
    struct allot_config *cfg = NULL;
    struct allot_buf err;
    struct allot_decision d;
    struct allot_instruction in;
    const char *p;

    allot_buf_init(&err, 4096);
    ASSERT_INT_EQ(allot_config_default(&cfg, &err), 0);
    memset(&in, 0, sizeof in);
    in.last_user = ALLOT_SLICE_LIT("R\xc3\xa9sum\xc3\xa9\r\nsummarise\t\"this\" caf\xc3\xa9 text");
    ASSERT_INT_EQ(
        allot_decide(cfg, ALLOT_SLICE_LIT("auto"), allot_slice_of(NULL, 0), &in, &d, &err), 0);
    for (p = d.reason; *p; p++)
        ASSERT((unsigned char)*p >= 0x20 && (unsigned char)*p <= 0x7e);
    allot_config_free(cfg);
    allot_buf_release(&err);
}

static void *classify_many(void *arg)
{
    int i, *wrong = arg;
    for (i = 0; i < 300; i++) {
        struct allot_classification c = classify("Convert this YAML config to TOML.");
        if (c.category != ALLOT_CAT_CONVERT)
            (*wrong)++;
    }
    return NULL;
}

TEST(classify_is_thread_safe)
{
    pthread_t th[4];
    int wrong[4] = {0}, i;
    for (i = 0; i < 4; i++)
        ASSERT_INT_EQ(pthread_create(&th[i], NULL, classify_many, &wrong[i]), 0);
    for (i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    ASSERT_INT_EQ(wrong[0] + wrong[1] + wrong[2] + wrong[3], 0);
}
