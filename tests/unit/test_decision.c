#include <string.h>
#include "allot/decision.h"
#include "allot/error.h"
#include "test.h"

/* A config built by hand (config.c is not needed): three models, "big" in
 * judgment, "small" then "big" in labour, "coder" in code, "orphan" in no
 * tier; alias "router". */
struct fixture {
    struct allot_config cfg;
    struct allot_provider prov;
    struct allot_model models[4];
    char *aliases[1];
};

static void fixture_init(struct fixture *f)
{
    static char big[] = "big", small[] = "small", coder[] = "coder", orphan[] = "orphan";
    static char router[] = "router", prov[] = "p";
    int c;

    memset(f, 0, sizeof *f);
    f->prov.name = prov;
    f->models[0].name = big;
    f->models[1].name = small;
    f->models[2].name = coder;
    f->models[3].name = orphan;
    for (c = 0; c < 4; c++) {
        f->models[c].provider = &f->prov;
        f->models[c].upstream_id = f->models[c].name;
    }
    f->cfg.providers = &f->prov;
    f->cfg.n_providers = 1;
    f->cfg.models = f->models;
    f->cfg.n_models = 4;
    f->cfg.tiers[ALLOT_TIER_JUDGMENT].models[0] = &f->models[0];
    f->cfg.tiers[ALLOT_TIER_JUDGMENT].n_models = 1;
    f->cfg.tiers[ALLOT_TIER_LABOUR].models[0] = &f->models[1];
    f->cfg.tiers[ALLOT_TIER_LABOUR].models[1] = &f->models[0];
    f->cfg.tiers[ALLOT_TIER_LABOUR].n_models = 2;
    f->cfg.tiers[ALLOT_TIER_CODE].models[0] = &f->models[2];
    f->cfg.tiers[ALLOT_TIER_CODE].n_models = 1;
    for (c = 0; c < ALLOT_CAT__COUNT; c++)
        f->cfg.routing.category_tier[c] = allot_category_default_tier((enum allot_category)c);
    f->cfg.routing.default_tier = ALLOT_TIER_JUDGMENT;
    f->cfg.routing.confidence_threshold = 0.5;
    f->aliases[0] = router;
    f->cfg.routing.aliases[0] = f->aliases[0];
    f->cfg.routing.n_aliases = 1;
}

static struct allot_instruction instruction(const char *user)
{
    struct allot_instruction in;
    memset(&in, 0, sizeof in);
    in.last_user = allot_slice_cstr(user);
    return in;
}

static int decide(struct fixture *f, const char *model, const char *header, const char *user,
                  struct allot_decision *d, struct allot_buf *err)
{
    struct allot_instruction in = instruction(user);
    struct allot_slice h = header ? allot_slice_cstr(header) : allot_slice_of(NULL, 0);
    allot_buf_init(err, 4096);
    return allot_decide(&f->cfg, allot_slice_cstr(model), h, &in, d, err);
}

static int header_safe(const char *s)
{
    for (; *s; s++)
        if (*s < 0x20 || *s > 0x7E)
            return 0;
    return 1;
}

TEST(decision_source_names)
{
    ASSERT_STR_EQ(allot_decision_source_name(ALLOT_SRC_MODEL), "model");
    ASSERT_STR_EQ(allot_decision_source_name(ALLOT_SRC_TIER), "tier");
    ASSERT_STR_EQ(allot_decision_source_name(ALLOT_SRC_HEADER), "header");
    ASSERT_STR_EQ(allot_decision_source_name(ALLOT_SRC_CLASSIFIER), "classifier");
    ASSERT_STR_EQ(allot_decision_source_name(ALLOT_SRC_DEFAULT), "default");
}

TEST(decision_named_model_gets_that_model_only)
{
    struct fixture f;
    struct allot_decision d;
    struct allot_buf err;

    fixture_init(&f);
    /* the header and the instruction do not matter when a model is named */
    ASSERT_INT_EQ(decide(&f, "big", "summarize", "Summarise this.", &d, &err), 0);
    ASSERT_INT_EQ(d.source, ALLOT_SRC_MODEL);
    ASSERT_INT_EQ(d.n_models, 1);
    ASSERT(d.models[0] == &f.models[0]);
    ASSERT_INT_EQ(d.has_tier, 1);
    ASSERT_INT_EQ(d.tier, ALLOT_TIER_JUDGMENT); /* the first tier holding it */
    ASSERT_INT_EQ(d.has_category, 0);
    ASSERT_DBL_NEAR(d.confidence, 1.0, 1e-9);
    ASSERT_STR_CONTAINS(d.reason, "big");
    allot_buf_release(&err);

    ASSERT_INT_EQ(decide(&f, "orphan", NULL, "", &d, &err), 0);
    ASSERT_INT_EQ(d.source, ALLOT_SRC_MODEL);
    ASSERT_INT_EQ(d.has_tier, 0);
    ASSERT(d.models[0] == &f.models[3]);
    allot_buf_release(&err);

    /* names are exact: "Big" is not "big" */
    ASSERT_INT_EQ(decide(&f, "Big", NULL, "", &d, &err), ALLOT_ENOTFOUND);
    allot_buf_release(&err);
}

TEST(decision_tier_prefix)
{
    struct fixture f;
    struct allot_decision d;
    struct allot_buf err;

    fixture_init(&f);
    ASSERT_INT_EQ(decide(&f, "allot:labor", NULL, "Prove the theorem.", &d, &err), 0);
    ASSERT_INT_EQ(d.source, ALLOT_SRC_TIER);
    ASSERT_INT_EQ(d.has_tier, 1);
    ASSERT_INT_EQ(d.tier, ALLOT_TIER_LABOUR);
    ASSERT_INT_EQ(d.has_category, 0);
    ASSERT_INT_EQ(d.n_models, 2);
    ASSERT(d.models[0] == &f.models[1]);
    ASSERT(d.models[1] == &f.models[0]);
    allot_buf_release(&err);

    ASSERT_INT_EQ(decide(&f, "allot:code", NULL, "", &d, &err), 0);
    ASSERT_INT_EQ(d.tier, ALLOT_TIER_CODE);
    ASSERT(d.models[0] == &f.models[2]);
    allot_buf_release(&err);

    ASSERT_INT_EQ(decide(&f, "allot:gold", NULL, "", &d, &err), ALLOT_ENOTFOUND);
    ASSERT_STR_CONTAINS(allot_buf_cstr(&err), "model 'allot:gold' does not exist");
    allot_buf_release(&err);
}

TEST(decision_header_category_and_tier)
{
    struct fixture f;
    struct allot_decision d;
    struct allot_buf err;

    fixture_init(&f);
    /* the header beats the classifier, case-insensitive, blanks trimmed */
    ASSERT_INT_EQ(decide(&f, "auto", " Summarise ", "Plan the migration.", &d, &err), 0);
    ASSERT_INT_EQ(d.source, ALLOT_SRC_HEADER);
    ASSERT_INT_EQ(d.has_category, 1);
    ASSERT_INT_EQ(d.category, ALLOT_CAT_SUMMARIZE);
    ASSERT_INT_EQ(d.tier, ALLOT_TIER_LABOUR);
    ASSERT_DBL_NEAR(d.confidence, 1.0, 1e-9);
    ASSERT_STR_CONTAINS(d.reason, "X-Allot-Work");
    allot_buf_release(&err);

    ASSERT_INT_EQ(decide(&f, "router", "CODE", "Summarise.", &d, &err), 0);
    ASSERT_INT_EQ(d.source, ALLOT_SRC_HEADER);
    ASSERT_INT_EQ(d.has_category, 0);
    ASSERT_INT_EQ(d.tier, ALLOT_TIER_CODE);
    allot_buf_release(&err);

    /* the deployment's category map is used, not KINDS.md's defaults */
    f.cfg.routing.category_tier[ALLOT_CAT_REVIEW] = ALLOT_TIER_CODE;
    ASSERT_INT_EQ(decide(&f, "auto", "review", "", &d, &err), 0);
    ASSERT_INT_EQ(d.tier, ALLOT_TIER_CODE);
    allot_buf_release(&err);
}

TEST(decision_bad_header_is_einval)
{
    struct fixture f;
    struct allot_decision d;
    struct allot_buf err;

    fixture_init(&f);
    ASSERT_INT_EQ(decide(&f, "auto", "cheap\r\nX-Evil: 1", "", &d, &err), ALLOT_EINVAL);
    ASSERT_STR_CONTAINS(allot_buf_cstr(&err), "X-Allot-Work 'cheap??X-Evil: 1' is neither");
    ASSERT_STR_CONTAINS(allot_buf_cstr(&err), "summarize");
    ASSERT_STR_CONTAINS(allot_buf_cstr(&err), "labour");
    allot_buf_release(&err);
}

TEST(decision_classifier_and_default_by_threshold)
{
    struct fixture f;
    struct allot_decision d;
    struct allot_buf err;

    fixture_init(&f);
    ASSERT_INT_EQ(
        decide(&f, "auto", NULL, "Summarise this article in five bullet points.", &d, &err), 0);
    ASSERT_INT_EQ(d.source, ALLOT_SRC_CLASSIFIER);
    ASSERT_INT_EQ(d.has_category, 1);
    ASSERT_INT_EQ(d.category, ALLOT_CAT_SUMMARIZE);
    ASSERT(d.confidence >= 0.5);
    ASSERT_INT_EQ(d.tier, ALLOT_TIER_LABOUR);
    ASSERT_INT_EQ(d.n_models, 2);
    ASSERT(d.models[0] == &f.models[1]);
    ASSERT_STR_CONTAINS(d.reason, "summarize");
    ASSERT_STR_CONTAINS(d.reason, "labour");
    ASSERT(header_safe(d.reason));
    allot_buf_release(&err);

    /* the same request, with a threshold above its confidence */
    f.cfg.routing.confidence_threshold = 1.01;
    f.cfg.routing.default_tier = ALLOT_TIER_CODE;
    ASSERT_INT_EQ(
        decide(&f, "auto", NULL, "Summarise this article in five bullet points.", &d, &err), 0);
    ASSERT_INT_EQ(d.source, ALLOT_SRC_DEFAULT);
    ASSERT_INT_EQ(d.has_category, 1);
    ASSERT_INT_EQ(d.category, ALLOT_CAT_SUMMARIZE); /* the best guess is kept */
    ASSERT_INT_EQ(d.tier, ALLOT_TIER_CODE);
    ASSERT(d.models[0] == &f.models[2]);
    ASSERT_STR_CONTAINS(d.reason, "unsure (");
    ASSERT_STR_CONTAINS(d.reason, " < 1.01): default tier code; best guess summarize");
    allot_buf_release(&err);

    /* no instruction at all: unsure at the usual threshold */
    f.cfg.routing.confidence_threshold = 0.5;
    f.cfg.routing.default_tier = ALLOT_TIER_JUDGMENT;
    ASSERT_INT_EQ(decide(&f, "auto", NULL, "", &d, &err), 0);
    ASSERT_INT_EQ(d.source, ALLOT_SRC_DEFAULT);
    ASSERT_INT_EQ(d.tier, ALLOT_TIER_JUDGMENT);
    ASSERT(d.confidence < 0.5);
    allot_buf_release(&err);

    /* a NULL instruction is an empty one */
    allot_buf_init(&err, 1024);
    ASSERT_INT_EQ(
        allot_decide(&f.cfg, ALLOT_SLICE_LIT("auto"), allot_slice_of(NULL, 0), NULL, &d, &err), 0);
    ASSERT_INT_EQ(d.source, ALLOT_SRC_DEFAULT);
    allot_buf_release(&err);
}

TEST(decision_unknown_model_lists_valid_names)
{
    struct fixture f;
    struct allot_decision d;
    struct allot_buf err;

    fixture_init(&f);
    d.n_models = 99;
    ASSERT_INT_EQ(decide(&f, "gpt-5\n", NULL, "", &d, &err), ALLOT_ENOTFOUND);
    ASSERT_INT_EQ(d.n_models, 99); /* untouched on error */
    ASSERT_STR_EQ(allot_buf_cstr(&err),
                  "model 'gpt-5?' does not exist: use \"auto\", \"allot:judgment\", "
                  "\"allot:labour\", \"allot:code\", \"router\" or a configured model "
                  "(\"big\", \"small\", \"coder\", \"orphan\")");
    allot_buf_release(&err);
}

TEST(decision_tier_without_models_is_einval)
{
    struct fixture f;
    struct allot_decision d;
    struct allot_buf err;

    fixture_init(&f);
    f.cfg.tiers[ALLOT_TIER_CODE].n_models = 0;
    ASSERT_INT_EQ(decide(&f, "allot:code", NULL, "", &d, &err), ALLOT_EINVAL);
    ASSERT_STR_CONTAINS(allot_buf_cstr(&err), "tier 'code' has no models configured");
    allot_buf_release(&err);
    /* also when the classifier lands there */
    ASSERT_INT_EQ(
        decide(&f, "auto", NULL, "Write a Python function that reverses a list.", &d, &err),
        ALLOT_EINVAL);
    ASSERT_STR_CONTAINS(allot_buf_cstr(&err), "tier 'code' has no models configured");
    allot_buf_release(&err);
}

TEST(decision_reason_is_header_safe)
{
    struct fixture f;
    struct allot_decision d;
    struct allot_buf err;

    fixture_init(&f);
    ASSERT_INT_EQ(decide(&f, "auto", NULL, "Summari\xc3\xa9ze\r\nthis \x01 please.", &d, &err), 0);
    ASSERT(header_safe(d.reason));
    ASSERT(strlen(d.reason) < sizeof d.reason);
    allot_buf_release(&err);
}

/* The decision's category is the likeliest of the likeliest tier, which
 * need not be the classifier's top category ("answer 0.30, solve 0.25,
 * review 0.25" is judgment work, category solve). The reason starts with
 * the classifier's top category; when the two differ it must name the
 * decision's too, or x-allot-category and x-allot-reason disagree. Short
 * and foreign prompts are where the shipped model splits them. */
TEST(decision_reason_names_the_category_it_chose)
{
    static const char *prompts[] = {
        "\xe8\xaf\xb7\xe6\x80\xbb\xe7\xbb\x93\xe8\xbf\x99\xe7\xaf\x87\xe6\x96\x87\xe7\xab\xa0"
        "\xe7\x9a\x84\xe8\xa6\x81\xe7\x82\xb9", /* "summarise the points of this article" */
        "no",
        "risk",
        "ok",
        "hmm",
        "fix",
        "this",
        "Data.",
        "more",
        "maybe",
        "x = 3",
        "???",
        "review",
        "why",
        "and then?",
        "idk what to do here",
        "compare",
        "list",
        "\xe6\xaf\x94\xe8\xbe\x83\xe4\xb8\xa4\xe7\xa7\x8d\xe6\x96\xb9\xe6\xa1\x88", /* compare */
    };
    struct fixture f;
    struct allot_decision d;
    struct allot_buf err;
    size_t i, split = 0;
    double thresholds[2] = {0.5, 0.99};

    fixture_init(&f);
    for (i = 0; i < 2 * (sizeof prompts / sizeof prompts[0]); i++) {
        const char *p = prompts[i / 2];
        char want[64];
        f.cfg.routing.confidence_threshold = thresholds[i % 2];
        ASSERT_INT_EQ(decide(&f, "auto", NULL, p, &d, &err), 0);
        allot_buf_release(&err);
        ASSERT_INT_EQ(d.classified, 1);
        ASSERT_INT_EQ(d.has_category, 1);
        if (d.category == d.classification.category) {
            ASSERT(strstr(d.reason, "likeliest") == NULL);
            continue;
        }
        split++;
        if (d.source == ALLOT_SRC_CLASSIFIER)
            snprintf(want, sizeof want, "; category %s ", allot_category_name(d.category));
        else
            snprintf(want, sizeof want, "best guess %s ", allot_category_name(d.category));
        ASSERT_STR_CONTAINS(d.reason, want);
        ASSERT_STR_CONTAINS(d.reason, "likeliest");
        ASSERT(header_safe(d.reason));
    }
    ASSERT(split > 0); /* the list must keep a prompt the model splits */
}

TEST(decision_to_json_is_the_route_answer)
{
    struct fixture f;
    struct allot_decision d;
    struct allot_buf err, out;

    fixture_init(&f);
    ASSERT_INT_EQ(decide(&f, "allot:labour", NULL, "anything", &d, &err), 0);
    allot_buf_init(&out, 4096);
    ASSERT_INT_EQ(allot_decision_to_json(&d, &out), 0);
    ASSERT_STR_CONTAINS(out.ptr, "{\"category\":null,\"tier\":\"labour\",\"model\":\"small\","
                                 "\"models\":[\"small\",\"big\"],\"confidence\":1.0000,"
                                 "\"tier_confidence\":1.0000,\"source\":\"tier\",\"reason\":\"");
    ASSERT(out.ptr[out.len - 1] == '}');
    allot_buf_release(&out);
    allot_buf_release(&err);
}

/* An alias ending in '*' is a prefix: every name it begins routes by kind
 * of work, while configured model names still win. */
TEST(decision_prefix_alias_routes_names_it_begins)
{
    static char pattern[] = "claude-*", bigpat[] = "big*";
    struct fixture f;
    struct allot_decision d;
    struct allot_buf err;

    fixture_init(&f);
    f.cfg.routing.aliases[1] = pattern;
    f.cfg.routing.aliases[2] = bigpat;
    f.cfg.routing.n_aliases = 3;
    ASSERT_INT_EQ(decide(&f, "claude-sonnet-4-5", "labour", "", &d, &err), 0);
    ASSERT_INT_EQ(d.source, ALLOT_SRC_HEADER);
    ASSERT_INT_EQ(d.tier, ALLOT_TIER_LABOUR);
    allot_buf_release(&err);
    ASSERT_INT_EQ(decide(&f, "claude-", "labour", "", &d, &err), 0); /* the bare prefix too */
    allot_buf_release(&err);
    ASSERT_INT_EQ(decide(&f, "claude", NULL, "", &d, &err), ALLOT_ENOTFOUND);
    allot_buf_release(&err);
    ASSERT_INT_EQ(decide(&f, "Claude-x", NULL, "", &d, &err), ALLOT_ENOTFOUND); /* case counts */
    allot_buf_release(&err);
    /* "big" is a configured model: the model, not the pattern */
    ASSERT_INT_EQ(decide(&f, "big", NULL, "", &d, &err), 0);
    ASSERT_INT_EQ(d.source, ALLOT_SRC_MODEL);
    allot_buf_release(&err);
    ASSERT_INT_EQ(decide(&f, "bigger", "labour", "", &d, &err), 0);
    ASSERT_INT_EQ(d.source, ALLOT_SRC_HEADER);
    allot_buf_release(&err);
}

TEST(decision_embeddings)
{
    struct fixture f;
    struct allot_decision d;
    struct allot_buf err;
    static char anth[] = "anthropic", claude[] = "claude";
    struct allot_provider pa;

    fixture_init(&f);
    allot_buf_init(&err, 4096);
    /* no list: auto is not found, a model by name is fine */
    ASSERT_INT_EQ(allot_decide_embeddings(&f.cfg, allot_slice_cstr("auto"), &d, &err),
                  ALLOT_ENOTFOUND);
    ASSERT_STR_CONTAINS(allot_buf_cstr(&err), "no embeddings models are configured");
    allot_buf_reset(&err);
    ASSERT_INT_EQ(allot_decide_embeddings(&f.cfg, allot_slice_cstr("orphan"), &d, &err), 0);
    ASSERT_INT_EQ(d.source, ALLOT_SRC_MODEL);
    ASSERT_INT_EQ(d.n_models, 1);
    ASSERT_INT_EQ(d.has_tier, 0);
    ASSERT_INT_EQ(d.has_category, 0);
    /* with a list: auto, the aliases and allot:embeddings take it in order */
    f.cfg.embeddings.models[0] = &f.models[3];
    f.cfg.embeddings.models[1] = &f.models[1];
    f.cfg.embeddings.n_models = 2;
    ASSERT_INT_EQ(allot_decide_embeddings(&f.cfg, allot_slice_cstr("router"), &d, &err), 0);
    ASSERT_INT_EQ(d.source, ALLOT_SRC_TIER);
    ASSERT_INT_EQ(d.n_models, 2);
    ASSERT(d.models[0] == &f.models[3] && d.models[1] == &f.models[1]);
    ASSERT_INT_EQ(d.has_tier, 0);
    ASSERT_STR_EQ(d.reason, "embeddings: the configured list");
    ASSERT_INT_EQ(allot_decide_embeddings(&f.cfg, allot_slice_cstr("allot:Embeddings"), &d, &err),
                  0);
    ASSERT_INT_EQ(d.n_models, 2);
    /* unknown names, and models of an Anthropic provider */
    ASSERT_INT_EQ(allot_decide_embeddings(&f.cfg, allot_slice_cstr("ada"), &d, &err),
                  ALLOT_ENOTFOUND);
    ASSERT_STR_CONTAINS(allot_buf_cstr(&err), "model 'ada' does not exist: use \"auto\", "
                                              "\"allot:embeddings\" or a configured model");
    allot_buf_reset(&err);
    memset(&pa, 0, sizeof pa);
    pa.name = claude;
    pa.kind = anth;
    f.models[2].provider = &pa;
    ASSERT_INT_EQ(allot_decide_embeddings(&f.cfg, allot_slice_cstr("coder"), &d, &err),
                  ALLOT_EINVAL);
    ASSERT_STR_CONTAINS(allot_buf_cstr(&err), "provider 'claude' of kind anthropic");
    allot_buf_release(&err);
}
