#include <string.h>
#include "allot/chat_request.h"
#include "allot/classify.h"
#include "allot/error.h"
#include "test.h"

static struct allot_classification classify2(const char *system, const char *user)
{
    struct allot_instruction in;
    struct allot_classification c;
    memset(&in, 0, sizeof in);
    in.system = allot_slice_cstr(system ? system : "");
    in.last_user = allot_slice_cstr(user ? user : "");
    allot_classify(&in, &c);
    return c;
}

static struct allot_classification classify(const char *user)
{
    return classify2(NULL, user);
}

/* Run a table of (instruction, category) and report every miss. */
#define CHECK_TABLE(table)                                                                         \
    do {                                                                                           \
        size_t i_, bad_ = 0;                                                                       \
        for (i_ = 0; i_ < sizeof(table) / sizeof((table)[0]); i_++) {                              \
            struct allot_classification c_ = classify((table)[i_].text);                           \
            if (c_.category != (table)[i_].want || c_.confidence < 0.5) {                          \
                fprintf(stderr, "  \"%s\": want %s, got %s (%s)\n", (table)[i_].text,              \
                        allot_category_name((table)[i_].want), allot_category_name(c_.category),   \
                        c_.reason);                                                                \
                bad_++;                                                                            \
            }                                                                                      \
        }                                                                                          \
        ASSERT_INT_EQ(bad_, 0);                                                                    \
    } while (0)

struct example {
    const char *text;
    enum allot_category want;
};

TEST(classify_one_clear_example_per_category)
{
    /* the typical instructions of KINDS.md */
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
    CHECK_TABLE(table);
}

TEST(classify_more_phrasings)
{
    static const struct example table[] = {
        {"Write a plan for moving our auth to OAuth.", ALLOT_CAT_PLAN},
        {"Can you review my essay?", ALLOT_CAT_REVIEW},
        {"What are the pros and cons of microservices?", ALLOT_CAT_TRADEOFF},
        {"Prove that the square root of 2 is irrational.", ALLOT_CAT_SOLVE},
        {"Tag each ticket with a priority label.", ALLOT_CAT_SCAN},
        {"Extract the names and emails from this text.", ALLOT_CAT_EXTRACT},
        {"Give me a TL;DR of this thread.", ALLOT_CAT_SUMMARIZE},
        {"Deduplicate this list of URLs.", ALLOT_CAT_COLLECT},
        {"Who wrote Dune?", ALLOT_CAT_ANSWER},
        {"Draft a LinkedIn post announcing our launch.", ALLOT_CAT_COMPOSE},
        {"Please refactor this function to use iterators.", ALLOT_CAT_IMPLEMENT},
        {"SUMMARIZE   THE\nFOLLOWING  in one paragraph", ALLOT_CAT_SUMMARIZE},
        {"\xe2\x80\x9cWhat\xe2\x80\x99s the capital of Peru?\xe2\x80\x9d", ALLOT_CAT_ANSWER},
    };
    CHECK_TABLE(table);
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
        /* a noun after a determiner names the topic, not the work */
        {"Summarize this plan for the board.", ALLOT_CAT_SUMMARIZE},
        {"Fix the typos in this review.", ALLOT_CAT_REFORMAT},
    };
    CHECK_TABLE(table);
}

TEST(classify_strongest_work_wins_and_says_so)
{
    /* summarise scores more than pick on its own, but deciding is the
     * stronger kind of work */
    struct allot_classification c = classify("Summarise the three proposals, then pick one.");
    ASSERT_INT_EQ(c.category, ALLOT_CAT_DECIDE);
    ASSERT_STR_CONTAINS(c.reason, "cue \"pick\" (decide ");
    ASSERT_STR_CONTAINS(c.reason, "over summarize");
    /* ... unless the judgment cue is much weaker: three labour cues against
     * one "pick" */
    c = classify("Summarise the report, condense the key points, then pick one vendor.");
    ASSERT_INT_EQ(c.category, ALLOT_CAT_SUMMARIZE);
    /* ... or only a topic word: "security" does not outrank summarise */
    c = classify("Summarise the key points of the attached note on vendor security.");
    ASSERT_INT_EQ(c.category, ALLOT_CAT_SUMMARIZE);
}

TEST(classify_tools_choose_versus_fill)
{
    struct allot_instruction in;
    struct allot_classification c;

    memset(&in, 0, sizeof in);
    in.has_tools = 1;
    in.n_messages = 4;
    in.n_tool_results = 1;
    in.last_user = ALLOT_SLICE_LIT("Decide which tool to call next to book the trip.");
    allot_classify(&in, &c);
    ASSERT_INT_EQ(c.category, ALLOT_CAT_DECIDE);
    ASSERT(c.confidence >= 0.5);

    in.last_user = ALLOT_SLICE_LIT(
        "Fill in the arguments of create_event from this email: lunch with Ana on May 3 at noon.");
    allot_classify(&in, &c);
    ASSERT_INT_EQ(c.category, ALLOT_CAT_EXTRACT);
    ASSERT(c.confidence >= 0.5);
}

TEST(classify_material_topic_words_do_not_drive_it)
{
    /* an instruction followed by a long document about risks, threats,
     * comparisons and plans: the material sits in the middle and must not
     * outvote the instruction */
    char buf[6000];
    size_t n = 0;
    const char *para = "The threat model lists risks: an attacker could exploit the "
                       "vulnerability; compare the two plans and weigh the tradeoff; "
                       "what could go wrong is a security failure mode. ";
    struct allot_classification c;

    n += (size_t)snprintf(buf, sizeof buf, "Summarise the following report in three bullets.\n\n");
    while (n + strlen(para) + 1 < 4000) {
        memcpy(buf + n, para, strlen(para));
        n += strlen(para);
    }
    buf[n] = '\0';
    c = classify(buf);
    ASSERT_INT_EQ(c.category, ALLOT_CAT_SUMMARIZE);
    ASSERT(c.confidence >= 0.5);

    /* the same with the instruction at the end, past the head window */
    n = 0;
    while (n + strlen(para) + 1 < 4000) {
        memcpy(buf + n, para, strlen(para));
        n += strlen(para);
    }
    n += (size_t)snprintf(buf + n, sizeof buf - n, "\n\nExtract every named person as JSON.");
    c = classify(buf);
    ASSERT_INT_EQ(c.category, ALLOT_CAT_EXTRACT);
}

TEST(classify_ignores_code_inside_fences)
{
    /* "review" and "risk" appear only inside the fenced code */
    struct allot_classification c =
        classify("Convert this snippet to YAML:\n```\nreview = risk(plan)\ncompare(a, b)\n```\n");
    ASSERT_INT_EQ(c.category, ALLOT_CAT_CONVERT);
    c = classify("```\nint main(void) { return 0; }\n```\nWrite a unit test for this.");
    ASSERT_INT_EQ(c.category, ALLOT_CAT_IMPLEMENT);
}

TEST(classify_system_prompt_is_secondary)
{
    /* a neutral user turn: the system prompt decides */
    struct allot_classification c = classify2(
        "You are a code reviewer. Review every diff for correctness.", "Here is the diff.");
    ASSERT_INT_EQ(c.category, ALLOT_CAT_REVIEW);
    ASSERT_STR_CONTAINS(c.reason, "system cue");
    /* the user's own instruction outweighs it */
    c = classify2("You review documents.", "Summarise this document in two sentences.");
    ASSERT_INT_EQ(c.category, ALLOT_CAT_SUMMARIZE);
}

TEST(classify_empty_or_cueless_input_is_unsure)
{
    struct allot_instruction in;
    struct allot_classification c;

    memset(&in, 0, sizeof in); /* NULL slices */
    allot_classify(&in, &c);
    ASSERT(c.confidence < 0.5);
    ASSERT(c.confidence >= 0.0);
    ASSERT_STR_CONTAINS(c.reason, "no instruction");

    c = classify("hello there");
    ASSERT(c.confidence < 0.5);
    ASSERT_STR_CONTAINS(c.reason, "no cue");

    /* a lone weak topic word is not enough to be sure */
    c = classify("security");
    ASSERT(c.confidence < 0.5);
}

TEST(classify_confidence_tracks_margin)
{
    struct allot_classification strong = classify("Summarise this article in five bullet points.");
    struct allot_classification split = classify("Summarise and translate this article.");
    ASSERT(strong.confidence > 0.9);
    ASSERT(strong.confidence <= 1.0);
    ASSERT(split.confidence < strong.confidence);
}

TEST(classify_reason_is_short_and_header_safe)
{
    /* non-ASCII inside the quoted word becomes '?'; the quote stops at the
     * end of the word, so CR, LF and quotes from the client never enter */
    const char *user = "Summari\xc3\xa9z\"e\r\nthis text";
    struct allot_classification c = classify(user);
    const char *p;
    ASSERT_INT_EQ(c.category, ALLOT_CAT_SUMMARIZE);
    ASSERT_STR_CONTAINS(c.reason, "cue \"summari??z\" (summarize ");
    for (p = c.reason; *p; p++)
        ASSERT(*p >= 0x20 && *p <= 0x7E);
    ASSERT(strlen(c.reason) < 80);
}

TEST(classify_instruction_from_request)
{
    const char *body = "{\"model\":\"auto\",\"messages\":[{\"role\":\"system\",\"content\":\"S\"},"
                       "{\"role\":\"tool\",\"content\":\"xyz\"},{\"role\":\"user\",\"content\":"
                       "\"Review this.\"}],\"tools\":[{\"type\":\"function\"}]}";
    struct allot_chat_request r;
    struct allot_instruction in;
    struct allot_classification c;
    struct allot_buf err;

    allot_buf_init(&err, 1024);
    ASSERT_INT_EQ(allot_chat_request_parse(&r, body, strlen(body), &err), 0);
    allot_instruction_from_request(&r, &in);
    ASSERT_MEM_EQ(in.system.ptr, in.system.len, "S");
    ASSERT_MEM_EQ(in.last_user.ptr, in.last_user.len, "Review this.");
    ASSERT_INT_EQ(in.n_messages, 3);
    ASSERT_INT_EQ(in.n_tool_results, 1);
    ASSERT_INT_EQ(in.material_bytes, 3);
    ASSERT_INT_EQ(in.has_tools, 1);
    allot_classify(&in, &c);
    ASSERT_INT_EQ(c.category, ALLOT_CAT_REVIEW);
    allot_chat_request_release(&r);
    allot_buf_release(&err);
}

/* The benchmark's ~1 KB article request. */
static const char article[] =
    "Summarise this article in five bullet points:\n\nThe city library on Harbour Street "
    "reopened on Monday after eighteen months of renovation work. The building, which dates "
    "from 1911, now has a new roof, step-free access at both entrances and a reading room on "
    "the top floor with views over the old port. The children's section has doubled in size "
    "and moved to the ground floor, next to a small cafe run by a local bakery. The library now "
    "opens from eight in the morning until nine at night on weekdays. More than four hundred "
    "people queued outside before the doors opened, and the head librarian said that about two "
    "thousand books were borrowed on the first day alone. The renovation cost 6.4 million "
    "euros, most of it paid by the regional government, with the rest raised by a public "
    "appeal.";

TEST(classify_1kb_is_deterministic)
{
    /* the same instruction gives bit-identical output every time, from any
     * address and alignment, whatever was classified in between: the cue
     * index is built once and nothing of one call leaks into the next */
    static const char *const others[] = {
        "Which option should we pick?",
        "```\ncode\n```",
        "",
        "x",
        "What could go wrong?\n\nDraft a plan, then review it.",
    };
    const char *sys = "You are a careful assistant for a newsroom.";
    char buf[sizeof article + 16];
    struct allot_classification first = classify2(sys, article), c;
    size_t i, shift;

    ASSERT_INT_EQ(first.category, ALLOT_CAT_SUMMARIZE);
    ASSERT_STR_EQ(first.reason, "cue \"summarise\" (summarize 1.00)");
    ASSERT(first.confidence > 0.99);
    for (i = 0; i < 40; i++) {
        shift = i % 16;
        memcpy(buf + shift, article, sizeof article);
        (void)classify(others[i % (sizeof others / sizeof others[0])]);
        c = classify2(sys, buf + shift);
        ASSERT_INT_EQ(c.category, first.category);
        ASSERT(memcmp(&c.confidence, &first.confidence, sizeof c.confidence) == 0);
        ASSERT_STR_EQ(c.reason, first.reason);
    }
}

TEST(classify_finds_every_form_of_cue)
{
    /* each way a cue is indexed: one word, a stem, two words with a space,
     * a newline or punctuation between, a stem as the second word, a cue
     * that continues past its second word, a cue last in the text, and
     * words that straddle the 64-byte blocks the matcher reads */
    static const struct {
        const char *text, *reason;
    } cases[] = {
        {"Review it.", "cue \"review\" (review "},
        {"Categorise these tickets.", "cue \"categorise\" (scan "},
        {"Which\noption is cheaper?", "cue \"which option\" (decide "},
        {"TL;DR of this thread.", "cue \"tl;dr\" (summarize "},
        {"Give me the pros/cons of Rust.", "cue \"pros/cons\" (tradeoff "},
        {"Please de-duplicate these rows.", "cue \"de-duplicate\" (collect "},
        {"List the failure modes of this design.", "cue \"failure modes\" (risk "},
        {"What could go wrong with this?", "cue \"what could go wrong\" (risk "},
        {"Port it to C++ now: in C++ please", "cue \"in c++\" (implement "},
        {"Then summarise", "cue \"summarise\" (summarize "},
        {"zz zz zz zz zz zz zz zz zz zz zz zz zz zz zz zz zz zz zz zz. Which option wins",
         "cue \"which option\" (decide "},
        {"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx. Summarise it",
         "cue \"summarise\" (summarize "},
    };
    size_t i, bad = 0;

    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct allot_classification c = classify(cases[i].text);
        if (!strstr(c.reason, cases[i].reason)) {
            fprintf(stderr, "  \"%s\": want %s..., got %s\n", cases[i].text, cases[i].reason,
                    c.reason);
            bad++;
        }
    }
    ASSERT_INT_EQ(bad, 0);
}
