/* test_check.c: the checks on an answer (check.h): the resolved check sets,
 * each check's verdict and detail, and what a user pattern may cost. */
#include <cJSON.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "allot/buf.h"
#include "allot/check.h"
#include "allot/clock.h"
#include "allot/config.h"
#include "allot/error.h"
#include "allot/kinds.h"
#include "allot/utf8.h"
#include "test.h"

/* A valid config (as in test_config.c); tests append a quality section. */
#define MINIMAL                                                                                    \
    "providers:\n"                                                                                 \
    "  - name: p\n"                                                                                \
    "    base_url: http://127.0.0.1:9/v1\n"                                                        \
    "models:\n"                                                                                    \
    "  - name: m\n"                                                                                \
    "    provider: p\n"                                                                            \
    "tiers:\n"                                                                                     \
    "  judgment: [m]\n"                                                                            \
    "  labour: [m]\n"                                                                              \
    "  code: [m]\n"

struct fixture {
    struct allot_config *cfg;
    struct allot_checker *chk;
};

/* Load MINIMAL + extra and build its checker. 0, or -1 with the errors on
 * stderr. */
static int make(struct fixture *f, const char *extra)
{
    struct allot_buf yaml, err;
    int rc = -1;

    f->cfg = NULL;
    f->chk = NULL;
    allot_buf_init(&yaml, 1 << 20);
    allot_buf_init(&err, 1 << 16);
    if (allot_buf_adds(&yaml, MINIMAL) || allot_buf_adds(&yaml, extra))
        goto out;
    if (allot_config_load_mem("t.yaml", yaml.ptr, yaml.len, &f->cfg, &err)) {
        fprintf(stderr, "  config: %s", allot_buf_cstr(&err));
        goto out;
    }
    if (allot_checker_new(f->cfg, &f->chk, &err)) {
        fprintf(stderr, "  checker: %s\n", allot_buf_cstr(&err));
        goto out;
    }
    rc = 0;
out:
    allot_buf_release(&yaml);
    allot_buf_release(&err);
    return rc;
}

static void drop(struct fixture *f)
{
    allot_checker_free(f->chk);
    allot_config_free(f->cfg);
    f->chk = NULL;
    f->cfg = NULL;
}

/* drop(f), then make(f, extra). */
static int remake(struct fixture *f, const char *extra)
{
    drop(f);
    return make(f, extra);
}

/* A test on the checker of MINIMAL + extra. The body runs in a function of
 * its own, so that a failing ASSERT returns to the wrapper, which releases
 * the fixture all the same: a failing test leaks nothing. */
#define CHECK_TEST(name, extra)                                                                    \
    static void body_##name(struct fixture *f, int *allot_test_failed_);                           \
    TEST(name)                                                                                     \
    {                                                                                              \
        struct fixture fx;                                                                         \
        if (make(&fx, extra) == 0)                                                                 \
            body_##name(&fx, allot_test_failed_);                                                  \
        else                                                                                       \
            *allot_test_failed_ = 1;                                                               \
        drop(&fx);                                                                                 \
    }                                                                                              \
    static void body_##name(struct fixture *f, int *allot_test_failed_)

static const struct allot_check_set *tier_set(const struct fixture *f, enum allot_tier t)
{
    return allot_checker_set(f->chk, t, 0, (enum allot_category)0);
}

static const struct allot_check_set *cat_set(const struct fixture *f, enum allot_tier t,
                                             enum allot_category c)
{
    return allot_checker_set(f->chk, t, 1, c);
}

/* Check content[0..len) against set; rf is the response_format as JSON text
 * (NULL: none). The verdict's check id, or -1 when the call failed. */
static int check_n(const struct fixture *f, const struct allot_check_set *set, const char *rf,
                   const char *content, size_t len, const char *finish, int tools,
                   struct allot_check_verdict *v)
{
    struct allot_answer a = {content, len, tools, finish};
    cJSON *format = rf ? cJSON_Parse(rf) : NULL;
    int rc;

    if (rf && !format)
        return -1;
    memset(v, 0x55, sizeof *v); /* every field must be written */
    rc = allot_check_answer(f->chk, set, format, &a, v);
    cJSON_Delete(format);
    return rc ? -1 : (int)v->failed;
}

static int check_s(const struct fixture *f, const struct allot_check_set *set, const char *rf,
                   const char *content, struct allot_check_verdict *v)
{
    return check_n(f, set, rf, content, strlen(content), "stop", 0, v);
}

/* Header-safe text: valid UTF-8, no control character, no double quote,
 * no backslash. */
static int header_safe(const char *s)
{
    size_t i = 0, n = strlen(s), k;

    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f || c == '"' || c == '\\')
            return 0;
        if (!(k = allot_utf8_seq_len((const unsigned char *)s + i, n - i)))
            return 0;
        i += k;
    }
    return 1;
}

#define ALL_LABOUR_FLAGS                                                                           \
    (ALLOT_CHECK_F_NOT_EMPTY | ALLOT_CHECK_F_NOT_REFUSAL | ALLOT_CHECK_F_NOT_TRUNCATED |           \
     ALLOT_CHECK_F_JSON | ALLOT_CHECK_F_SCHEMA)

/* ---- the resolved sets ---- */

CHECK_TEST(check_labour_defaults_are_active_and_escalate_to_judgment, "")
{
    const struct allot_check_set *s = tier_set(f, ALLOT_TIER_LABOUR);
    int c;

    ASSERT(s != NULL);
    ASSERT_INT_EQ(s->active, 1);
    ASSERT_INT_EQ(s->flags, ALL_LABOUR_FLAGS);
    ASSERT_INT_EQ(s->escalate, 1);
    ASSERT_INT_EQ(s->escalate_to, ALLOT_TIER_JUDGMENT);
    ASSERT_INT_EQ(s->stream, ALLOT_STREAM_CHECK_AFTER);
    ASSERT_INT_EQ(s->min_chars, -1);
    ASSERT_INT_EQ(s->max_chars, -1);
    ASSERT(s->must_match == NULL);
    ASSERT(s->must_not_match == NULL);
    /* every category served by labour gets the same set */
    for (c = 0; c < ALLOT_CAT__COUNT; c++) {
        const struct allot_check_set *cs = cat_set(f, ALLOT_TIER_LABOUR, (enum allot_category)c);
        ASSERT_INT_EQ(cs->active, 1);
        ASSERT_INT_EQ(cs->flags, ALL_LABOUR_FLAGS);
        ASSERT_INT_EQ(cs->escalate, 1);
        ASSERT_INT_EQ(cs->escalate_to, ALLOT_TIER_JUDGMENT);
        ASSERT_INT_EQ(cs->stream, ALLOT_STREAM_CHECK_AFTER);
    }
    /* an out-of-range category falls back to the tier's own set */
    ASSERT(allot_checker_set(f->chk, ALLOT_TIER_LABOUR, 1, ALLOT_CAT__COUNT) == s);
}

CHECK_TEST(check_judgment_and_code_sets_are_inactive_by_default, "")
{
    struct allot_check_verdict v;
    int c, t;

    for (t = 0; t < ALLOT_TIER__COUNT; t++) {
        if (t == ALLOT_TIER_LABOUR)
            continue;
        ASSERT_INT_EQ(tier_set(f, (enum allot_tier)t)->active, 0);
        ASSERT_INT_EQ(tier_set(f, (enum allot_tier)t)->flags, 0);
        ASSERT_INT_EQ(tier_set(f, (enum allot_tier)t)->escalate, 1); /* used once checks are on */
        for (c = 0; c < ALLOT_CAT__COUNT; c++)
            ASSERT_INT_EQ(cat_set(f, (enum allot_tier)t, (enum allot_category)c)->active, 0);
    }
    /* an inactive set passes anything, with no detail */
    ASSERT_INT_EQ(check_n(f, tier_set(f, ALLOT_TIER_JUDGMENT), NULL, "", 0, "length", 0, &v),
                  ALLOT_CHECK_PASS);
    ASSERT_STR_EQ(v.detail, "");
    /* the default quality.code_escalates_to is judgment; judgment has no
     * tier above it */
    ASSERT_INT_EQ(tier_set(f, ALLOT_TIER_CODE)->escalate_to, ALLOT_TIER_JUDGMENT);
    ASSERT_INT_EQ(tier_set(f, ALLOT_TIER_JUDGMENT)->escalate_to, -1);
}

CHECK_TEST(check_quality_disabled_makes_every_set_inactive,
           "quality:\n"
           "  enabled: false\n"
           "  checks:\n"
           "    judgment: {not_empty: true, min_chars: 5}\n"
           "    extract: {must_match: 'x'}\n")
{
    struct allot_check_verdict v;
    int c, t;

    for (t = 0; t < ALLOT_TIER__COUNT; t++) {
        ASSERT_INT_EQ(tier_set(f, (enum allot_tier)t)->active, 0);
        for (c = 0; c < ALLOT_CAT__COUNT; c++)
            ASSERT_INT_EQ(cat_set(f, (enum allot_tier)t, (enum allot_category)c)->active, 0);
    }
    ASSERT_INT_EQ(check_n(f, tier_set(f, ALLOT_TIER_LABOUR), NULL, "", 0, "length", 0, &v),
                  ALLOT_CHECK_PASS);
    ASSERT_INT_EQ(check_s(f, cat_set(f, ALLOT_TIER_LABOUR, ALLOT_CAT_EXTRACT), NULL,
                          "I'm sorry, but I can't help with that.", &v),
                  ALLOT_CHECK_PASS);
}

CHECK_TEST(check_overrides_fold_category_over_tier_over_defaults,
           "quality:\n"
           "  checks:\n"
           "    labour: {not_refusal: false}\n"
           "    extract: {must_match: '^\\{', escalate: false, stream: buffer}\n")
{
    const struct allot_check_set *ex, *su, *lab;
    struct allot_check_verdict v;

    lab = tier_set(f, ALLOT_TIER_LABOUR);
    ASSERT_INT_EQ(lab->flags, ALL_LABOUR_FLAGS & ~ALLOT_CHECK_F_NOT_REFUSAL);
    ASSERT_INT_EQ(lab->escalate, 1);
    ASSERT(lab->must_match == NULL);

    ex = cat_set(f, ALLOT_TIER_LABOUR, ALLOT_CAT_EXTRACT);
    ASSERT_INT_EQ(ex->active, 1);
    ASSERT(ex->must_match != NULL);
    ASSERT(ex->must_not_match == NULL);
    ASSERT_INT_EQ(ex->escalate, 0);
    ASSERT_INT_EQ(ex->stream, ALLOT_STREAM_CHECK_BUFFER);
    ASSERT_INT_EQ(ex->escalate_to, ALLOT_TIER_JUDGMENT); /* where it would go; escalate says no */
    ASSERT(!(ex->flags & ALLOT_CHECK_F_NOT_REFUSAL));    /* from the tier */
    ASSERT(ex->flags & ALLOT_CHECK_F_NOT_EMPTY);         /* from the defaults */
    ASSERT(ex->flags & ALLOT_CHECK_F_NOT_TRUNCATED);
    ASSERT(ex->flags & ALLOT_CHECK_F_JSON);

    /* what the extract set does with answers */
    ASSERT_INT_EQ(check_s(f, ex, NULL, "{\"a\": 1}", &v), ALLOT_CHECK_PASS);
    ASSERT_INT_EQ(check_s(f, ex, NULL, "Here: {\"a\": 1}", &v), ALLOT_CHECK_MUST_MATCH);
    ASSERT_STR_EQ(v.detail, "must_match: the pattern does not match");
    ASSERT_INT_EQ(check_s(f, ex, NULL, "   \n", &v), ALLOT_CHECK_EMPTY);
    /* not_refusal is off for labour, so a refusal fails only must_match */
    ASSERT_INT_EQ(check_s(f, ex, NULL, "I'm sorry, but I can't help with that.", &v),
                  ALLOT_CHECK_MUST_MATCH);

    su = cat_set(f, ALLOT_TIER_LABOUR, ALLOT_CAT_SUMMARIZE);
    ASSERT_INT_EQ(su->escalate, 1);
    ASSERT_INT_EQ(su->stream, ALLOT_STREAM_CHECK_AFTER);
    ASSERT(su->must_match == NULL);
    ASSERT_INT_EQ(su->flags, ALL_LABOUR_FLAGS & ~ALLOT_CHECK_F_NOT_REFUSAL);
    ASSERT_INT_EQ(check_s(f, su, NULL, "I'm sorry, but I can't help with that.", &v),
                  ALLOT_CHECK_PASS);

    /* extract served by judgment (promoted, say): judgment has no checks
     * of its own but extract's keys apply */
    ex = cat_set(f, ALLOT_TIER_JUDGMENT, ALLOT_CAT_EXTRACT);
    ASSERT_INT_EQ(ex->active, 1);
    ASSERT_INT_EQ(ex->flags, 0);
    ASSERT(ex->must_match != NULL);
    ASSERT_INT_EQ(ex->escalate, 0);
    ASSERT_INT_EQ(ex->escalate_to, -1);
    ASSERT_INT_EQ(check_s(f, ex, NULL, "", &v), ALLOT_CHECK_MUST_MATCH);
}

CHECK_TEST(check_category_key_applies_when_judgment_serves_it, "quality:\n"
                                                               "  checks:\n"
                                                               "    plan: {min_chars: 10}\n")
{
    const struct allot_check_set *plan, *risk;
    struct allot_check_verdict v;

    plan = cat_set(f, ALLOT_TIER_JUDGMENT, ALLOT_CAT_PLAN);
    ASSERT_INT_EQ(plan->active, 1);
    ASSERT_INT_EQ(plan->min_chars, 10);
    ASSERT_INT_EQ(plan->flags, 0);
    ASSERT_INT_EQ(plan->escalate, 1); /* on everywhere; judgment has nowhere to go */
    ASSERT_INT_EQ(plan->escalate_to, -1);
    ASSERT_INT_EQ(check_s(f, plan, NULL, "too short", &v), ALLOT_CHECK_TOO_SHORT);
    ASSERT_STR_EQ(v.detail, "too_short: 9 bytes, at least 10 wanted");
    ASSERT_INT_EQ(check_s(f, plan, NULL, "long enough", &v), ALLOT_CHECK_PASS);
    /* other judgment categories, and judgment itself, stay unchecked */
    risk = cat_set(f, ALLOT_TIER_JUDGMENT, ALLOT_CAT_RISK);
    ASSERT_INT_EQ(risk->active, 0);
    ASSERT_INT_EQ(tier_set(f, ALLOT_TIER_JUDGMENT)->active, 0);
    /* plan served by labour: the labour defaults plus min_chars */
    plan = cat_set(f, ALLOT_TIER_LABOUR, ALLOT_CAT_PLAN);
    ASSERT_INT_EQ(plan->flags, ALL_LABOUR_FLAGS);
    ASSERT_INT_EQ(plan->min_chars, 10);
}

CHECK_TEST(check_code_escalates_to_none_or_judgment,
           "quality:\n"
           "  code_escalates_to: none\n"
           "  checks:\n"
           "    code: {not_empty: true, escalate: true}\n")
{
    ASSERT_INT_EQ(tier_set(f, ALLOT_TIER_CODE)->active, 1);
    ASSERT_INT_EQ(tier_set(f, ALLOT_TIER_CODE)->escalate, 1);
    ASSERT_INT_EQ(tier_set(f, ALLOT_TIER_CODE)->escalate_to, -1);
    ASSERT_INT_EQ(cat_set(f, ALLOT_TIER_CODE, ALLOT_CAT_IMPLEMENT)->escalate_to, -1);
    /* labour is not affected */
    ASSERT_INT_EQ(tier_set(f, ALLOT_TIER_LABOUR)->escalate_to, ALLOT_TIER_JUDGMENT);

    ASSERT_INT_EQ(remake(f, "quality:\n"
                            "  code_escalates_to: judgment\n"
                            "  checks:\n"
                            "    code: {not_empty: true, escalate: true}\n"),
                  0);
    ASSERT_INT_EQ(tier_set(f, ALLOT_TIER_CODE)->escalate_to, ALLOT_TIER_JUDGMENT);
    ASSERT_INT_EQ(cat_set(f, ALLOT_TIER_CODE, ALLOT_CAT_IMPLEMENT)->escalate_to,
                  ALLOT_TIER_JUDGMENT);
}

CHECK_TEST(check_checker_new_refuses_a_bad_pattern_in_a_hand_built_config, "")
{
    struct allot_checker *chk = (struct allot_checker *)f; /* must stay untouched */
    struct allot_buf err;
    int rc;

    allot_checker_free(f->chk);
    f->chk = NULL;
    f->cfg->quality.category[ALLOT_CAT_EXTRACT].must_not_match = strdup("a(b");
    ASSERT(f->cfg->quality.category[ALLOT_CAT_EXTRACT].must_not_match != NULL);
    allot_buf_init(&err, 4096);
    rc = allot_checker_new(f->cfg, &chk, &err);
    if (rc != ALLOT_ECONFIG || chk != (struct allot_checker *)f ||
        !strstr(allot_buf_cstr(&err), "must_not_match") ||
        !strstr(allot_buf_cstr(&err), "offset 3")) {
        fprintf(stderr, "  rc %d, err \"%s\"\n", rc, allot_buf_cstr(&err));
        if (rc == 0)
            allot_checker_free(chk);
        allot_buf_release(&err);
        TEST_FAIL_("allot_checker_new accepted a bad pattern or said too little");
    }
    allot_buf_release(&err);
}

/* ---- each check ---- */

CHECK_TEST(check_empty_content, "")
{
    const struct allot_check_set *s = tier_set(f, ALLOT_TIER_LABOUR);
    struct allot_check_verdict v;

    ASSERT_INT_EQ(check_n(f, s, NULL, NULL, 0, "stop", 0, &v), ALLOT_CHECK_EMPTY);
    ASSERT_STR_EQ(v.detail, "empty: the answer has no content");
    ASSERT_INT_EQ(check_n(f, s, NULL, "", 0, NULL, 0, &v), ALLOT_CHECK_EMPTY);
    ASSERT_STR_EQ(v.detail, "empty: the answer has no content");
    ASSERT_INT_EQ(check_s(f, s, NULL, " \n\t\r\n  ", &v), ALLOT_CHECK_EMPTY);
    ASSERT_STR_EQ(v.detail, "empty: the answer has no content (only whitespace)");
    /* tool calls are an answer */
    ASSERT_INT_EQ(check_n(f, s, NULL, "", 0, "tool_calls", 1, &v), ALLOT_CHECK_PASS);
    ASSERT_STR_EQ(v.detail, "");
    ASSERT_INT_EQ(check_n(f, s, NULL, NULL, 0, "tool_calls", 1, &v), ALLOT_CHECK_PASS);
    /* tool calls with a JSON response_format: the content is not checked as JSON */
    ASSERT_INT_EQ(check_n(f, s, "{\"type\":\"json_object\"}", "", 0, "tool_calls", 1, &v),
                  ALLOT_CHECK_PASS);
    ASSERT_INT_EQ(check_s(f, s, NULL, " x ", &v), ALLOT_CHECK_PASS);
    /* not_empty off: empty is no failure */
    ASSERT_INT_EQ(remake(f, "quality: {checks: {labour: {not_empty: false}}}\n"), 0);
    ASSERT_INT_EQ(check_n(f, tier_set(f, ALLOT_TIER_LABOUR), NULL, "", 0, "stop", 0, &v),
                  ALLOT_CHECK_PASS);
}

CHECK_TEST(check_truncated_answer, "")
{
    const struct allot_check_set *s = tier_set(f, ALLOT_TIER_LABOUR);
    struct allot_check_verdict v;
    const char *text = "The quarterly numbers show";

    ASSERT_INT_EQ(check_n(f, s, NULL, text, strlen(text), "length", 0, &v), ALLOT_CHECK_TRUNCATED);
    ASSERT(strncmp(v.detail, "truncated: finish_reason ", 25) == 0);
    ASSERT_STR_CONTAINS(v.detail, "length");
    ASSERT_STR_CONTAINS(v.detail, " after 26 bytes");
    ASSERT_INT_EQ(check_n(f, s, NULL, text, strlen(text), "stop", 0, &v), ALLOT_CHECK_PASS);
    ASSERT_INT_EQ(check_n(f, s, NULL, text, strlen(text), NULL, 0, &v), ALLOT_CHECK_PASS);
    ASSERT_INT_EQ(check_n(f, s, NULL, text, strlen(text), "content_filter", 0, &v),
                  ALLOT_CHECK_PASS);
    /* not_truncated off */
    ASSERT_INT_EQ(remake(f, "quality: {checks: {summarize: {not_truncated: false}}}\n"), 0);
    ASSERT_INT_EQ(check_n(f, cat_set(f, ALLOT_TIER_LABOUR, ALLOT_CAT_SUMMARIZE), NULL, text,
                          strlen(text), "length", 0, &v),
                  ALLOT_CHECK_PASS);
    ASSERT_INT_EQ(check_n(f, cat_set(f, ALLOT_TIER_LABOUR, ALLOT_CAT_EXTRACT), NULL, text,
                          strlen(text), "length", 0, &v),
                  ALLOT_CHECK_TRUNCATED);
}

/* Real refusal openings, as models write them. */
static const char *const refusals[] = {
    "I'm sorry, but I can't help with that.",
    "I\xE2\x80\x99m sorry, but I can\xE2\x80\x99t assist with that request.",
    "I cannot help with that.",
    "As an AI language model, I can't provide legal advice about this contract.",
    "Sorry, I can't do that.",
    "I apologize, but I cannot fulfil this request.",
    "I must decline to write that.",
    "  \n\nI'm sorry, but I can't help with that.",
    "I am sorry, but that's not something I can do.",
    "I'm afraid I can't do that.",
    "Unfortunately, I cannot provide that information.",
    "I won't help with that.",
    "i'm SORRY, BUT I CAN'T HELP WITH THAT.",
    "\"I'm sorry, but I can't help with that.\"",
    "This request violates our usage policies.",
};

CHECK_TEST(check_refusal_catches_real_openings, "")
{
    const struct allot_check_set *s = tier_set(f, ALLOT_TIER_LABOUR);
    struct allot_check_verdict v;
    size_t i;

    for (i = 0; i < sizeof refusals / sizeof refusals[0]; i++) {
        if (check_s(f, s, NULL, refusals[i], &v) != ALLOT_CHECK_REFUSAL)
            TEST_FAIL_("not caught as a refusal: \"%s\" (verdict %s)", refusals[i],
                       allot_check_name(v.failed));
        ASSERT(strncmp(v.detail, "refusal: the answer opens with '", 32) == 0);
        ASSERT(header_safe(v.detail));
        ASSERT_INT_EQ(allot_checker_is_refusal(f->chk, refusals[i], strlen(refusals[i])), 1);
    }
    ASSERT_INT_EQ(check_s(f, s, NULL, "I'm sorry, but I can't help with that.", &v),
                  ALLOT_CHECK_REFUSAL);
    ASSERT_STR_EQ(v.detail, "refusal: the answer opens with 'I'm sorry, but I can't help with "
                            "that.'");
    /* the snippet is the first 48 bytes */
    ASSERT_INT_EQ(check_s(f, s, NULL,
                          "I'm sorry, but I can't help with that request because it asks for "
                          "personal data.",
                          &v),
                  ALLOT_CHECK_REFUSAL);
    ASSERT_STR_EQ(v.detail, "refusal: the answer opens with 'I'm sorry, but I can't help with "
                            "that request be'");
}

/* A markdown-bold apology: START skips the leading "**" but nothing lets
 * the closing "**" sit between "sorry" and ", but". */
CHECK_TEST(check_refusal_catches_markdown_bold_apology, "")
{
    struct allot_check_verdict v;
    const char *text = "**I'm sorry**, but I can't help with that.";

    ASSERT_INT_EQ(check_s(f, tier_set(f, ALLOT_TIER_LABOUR), NULL, text, &v), ALLOT_CHECK_REFUSAL);
}

CHECK_TEST(check_refusal_passes_non_refusals, "")
{
    static const char *const ok[] = {
        "The contract says I cannot terminate early.",
        "Summary: the vendor can't deliver on time.",
        "Sorry for the delay in the shipment, the customer wrote; the summary follows.",
        "I can summarize it: revenue grew 4% while costs fell.",
        "As agreed, the parties will not renew.",
        "- I'm sorry, but I can't help with that. (a quote from the chat log, item 1)",
    };
    const struct allot_check_set *s = tier_set(f, ALLOT_TIER_LABOUR);
    struct allot_check_verdict v;
    char long_text[1024];
    size_t i;

    for (i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        if (check_s(f, s, NULL, ok[i], &v) != ALLOT_CHECK_PASS)
            TEST_FAIL_("\"%s\" failed: %s", ok[i], v.detail);
        ASSERT_STR_EQ(v.detail, "");
        ASSERT_INT_EQ(allot_checker_is_refusal(f->chk, ok[i], strlen(ok[i])), 0);
    }
    /* a refusal phrase after 500 bytes of normal text */
    memset(long_text, 0, sizeof long_text);
    for (i = 0; i < 500; i++)
        long_text[i] = "The quarterly report covers revenue. "[i % 37];
    snprintf(long_text + 500, sizeof long_text - 500, "I'm sorry, but I can't help with that.");
    ASSERT_INT_EQ(check_s(f, s, NULL, long_text, &v), ALLOT_CHECK_PASS);
    ASSERT_INT_EQ(allot_checker_is_refusal(f->chk, long_text, strlen(long_text)), 0);
}

/* An apology that is not a refusal. "I'm sorry" is followed by "to", not
 * by ", but I" or "I", so the built-in list lets it through. */
CHECK_TEST(check_refusal_sorry_to_hear_is_not_a_refusal, "")
{
    struct allot_check_verdict v;
    const char *text = "I'm sorry to hear about your loss. Here is the summary: the estate passes "
                       "to the two children in equal shares.";

    ASSERT_INT_EQ(check_s(f, tier_set(f, ALLOT_TIER_LABOUR), NULL, text, &v), ALLOT_CHECK_PASS);
}

/* "(?:I|that's not)" after "sorry, " has no word boundary and the list is
 * case-insensitive, so the "i" of "in" or "it" counts as "I". */
CHECK_TEST(check_refusal_apology_followed_by_an_answer_is_not_a_refusal, "")
{
    struct allot_check_verdict v;
    const char *text = "I'm sorry, in my previous answer I swapped two rows. Corrected table: "
                       "Q1 4.1, Q2 3.9.";

    ASSERT_INT_EQ(check_s(f, tier_set(f, ALLOT_TIER_LABOUR), NULL, text, &v), ALLOT_CHECK_PASS);
}

/* A refusal followed, within the 400-byte window, by bytes that are not
 * UTF-8 (models do emit them): PCRE2 in UTF mode refuses the whole subject
 * and search() reads that as "no match". */
CHECK_TEST(check_refusal_is_caught_before_invalid_utf8, "")
{
    struct allot_check_verdict v;
    const char text[] = "I'm sorry, but I can't help with that. \xff\xfe";

    ASSERT_INT_EQ(
        check_n(f, tier_set(f, ALLOT_TIER_LABOUR), NULL, text, sizeof text - 1, "stop", 0, &v),
        ALLOT_CHECK_REFUSAL);
    ASSERT(header_safe(v.detail));
}

CHECK_TEST(check_user_refusal_patterns_at_the_start, "quality:\n"
                                                     "  refusals:\n"
                                                     "    - 'that is outside (?:my|our) remit'\n"
                                                     "    - 'je ne peux pas'\n")
{
    const struct allot_check_set *s = tier_set(f, ALLOT_TIER_LABOUR);
    struct allot_check_verdict v;

    ASSERT_INT_EQ(check_s(f, s, NULL, "That is outside my remit, please ask legal.", &v),
                  ALLOT_CHECK_REFUSAL);
    ASSERT_STR_EQ(v.detail, "refusal: the answer opens with 'That is outside my remit, please "
                            "ask legal.'");
    ASSERT_INT_EQ(check_s(f, s, NULL, "Je ne peux pas r\xC3\xA9pondre.", &v), ALLOT_CHECK_REFUSAL);
    /* the built-in list still applies */
    ASSERT_INT_EQ(check_s(f, s, NULL, "I cannot help with that.", &v), ALLOT_CHECK_REFUSAL);
    ASSERT_INT_EQ(check_s(f, s, NULL, "The remit is clear: invoices over $10k.", &v),
                  ALLOT_CHECK_PASS);
}

/* config_table.c and check.h: user refusal patterns are "matched at the
 * start of the answer", like the built-in ones; a phrase in the middle of
 * a summary is not a refusal. */
CHECK_TEST(check_user_refusal_patterns_do_not_match_mid_answer,
           "quality:\n"
           "  refusals: ['not something I can do']\n")
{
    struct allot_check_verdict v;
    const char *text = "Summary of the call: the supplier said the rush order is not something "
                       "I can do this quarter, so delivery moves to May.";

    ASSERT_INT_EQ(check_s(f, tier_set(f, ALLOT_TIER_LABOUR), NULL, "Not something I can do.", &v),
                  ALLOT_CHECK_REFUSAL);
    ASSERT_INT_EQ(check_s(f, tier_set(f, ALLOT_TIER_LABOUR), NULL, text, &v), ALLOT_CHECK_PASS);
}

/* Patterns with a capturing group: search() gives pcre2_match() match data
 * for one pair, so a match that sets a group returns 0 ("ovector too
 * small"), which search() counts as "could not be matched". */
CHECK_TEST(check_patterns_with_capturing_groups,
           "quality:\n"
           "  refusals: ['(outside|beyond) (my|our) remit']\n"
           "  checks:\n"
           "    extract: {must_match: '^(\\{|\\[)'}\n"
           "    summarize: {must_not_match: '(lorem|dolor) ipsum'}\n")
{
    struct allot_check_verdict v;

    ASSERT_INT_EQ(
        check_s(f, cat_set(f, ALLOT_TIER_LABOUR, ALLOT_CAT_EXTRACT), NULL, "{\"a\": 1}", &v),
        ALLOT_CHECK_PASS);
    ASSERT_INT_EQ(
        check_s(f, cat_set(f, ALLOT_TIER_LABOUR, ALLOT_CAT_SUMMARIZE), NULL, "- lorem ipsum", &v),
        ALLOT_CHECK_MUST_NOT_MATCH);
    ASSERT_STR_EQ(v.detail, "must_not_match: matched at byte 2: 'lorem ipsum'");
    ASSERT_INT_EQ(check_s(f, tier_set(f, ALLOT_TIER_LABOUR), NULL, "Beyond our remit, sorry.", &v),
                  ALLOT_CHECK_REFUSAL);
}

CHECK_TEST(check_json_when_response_format_asks_for_it, "")
{
    const struct allot_check_set *s = tier_set(f, ALLOT_TIER_LABOUR);
    struct allot_check_verdict v;
    const char *jo = "{\"type\":\"json_object\"}";

    ASSERT_INT_EQ(check_s(f, s, jo, "{\"name\": \"Ada\",\n \"age\": 36,}", &v), ALLOT_CHECK_JSON);
    ASSERT(strncmp(v.detail, "json: the answer is not JSON: ", 30) == 0);
    ASSERT_STR_CONTAINS(v.detail, " at line 2 column 12");
    ASSERT_INT_EQ(check_s(f, s, jo, "Here is the JSON: {\"a\": 1}", &v), ALLOT_CHECK_JSON);
    ASSERT_STR_EQ(v.detail, "json: the answer is not JSON: unexpected character 'H' at line 1 "
                            "column 1");
    ASSERT_INT_EQ(check_s(f, s, jo, "{\"a\": [1, 2", &v), ALLOT_CHECK_JSON);
    ASSERT_STR_EQ(v.detail, "json: the answer is not JSON: unexpected end of input at line 1 "
                            "column 12");
    ASSERT_INT_EQ(check_s(f, s, jo, "```json\n{\"a\": 1}\n```", &v), ALLOT_CHECK_JSON);
    /* valid JSON passes, with whitespace around it */
    ASSERT_INT_EQ(check_s(f, s, jo, "\n {\"name\": \"Ada\", \"tags\": [\"x\"]}\n", &v),
                  ALLOT_CHECK_PASS);
    ASSERT_STR_EQ(v.detail, "");
    ASSERT_INT_EQ(check_s(f, s, "{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"x\"}}",
                          "[1, 2, 3]", &v),
                  ALLOT_CHECK_PASS);
    ASSERT_INT_EQ(check_s(f, s, "{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"x\"}}",
                          "[1, 2, 3", &v),
                  ALLOT_CHECK_JSON);
    /* no response_format, or a text one: no JSON check */
    ASSERT_INT_EQ(check_s(f, s, NULL, "not { json", &v), ALLOT_CHECK_PASS);
    ASSERT_INT_EQ(check_s(f, s, "{\"type\":\"text\"}", "not { json", &v), ALLOT_CHECK_PASS);
    ASSERT_INT_EQ(check_s(f, s, "{}", "not { json", &v), ALLOT_CHECK_PASS);
    ASSERT_INT_EQ(check_s(f, s, "{\"type\":7}", "not { json", &v), ALLOT_CHECK_PASS);
    /* json: false */
    ASSERT_INT_EQ(remake(f, "quality: {checks: {labour: {json: false}}}\n"), 0);
    ASSERT_INT_EQ(check_s(f, tier_set(f, ALLOT_TIER_LABOUR), jo, "not { json", &v),
                  ALLOT_CHECK_PASS);
}

#define PRICE_SCHEMA                                                                               \
    "{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"item\",\"strict\":true,\"schema\":{"    \
    "\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\"},\"price\":{\"type\":"      \
    "\"number\"}},\"required\":[\"name\",\"price\"]}}}"

CHECK_TEST(check_schema_fails_an_answer_without_a_required_field, "")
{
    const struct allot_check_set *s = tier_set(f, ALLOT_TIER_LABOUR);
    struct allot_check_verdict v;

    ASSERT_INT_EQ(check_s(f, s, PRICE_SCHEMA, "{\"name\": \"pen\", \"price\": 1.5}", &v),
                  ALLOT_CHECK_PASS);
    ASSERT_STR_EQ(v.detail, "");
    /* invalid JSON is a json failure, before any schema */
    ASSERT_INT_EQ(check_s(f, s, PRICE_SCHEMA, "{\"name\": \"pen\"", &v), ALLOT_CHECK_JSON);
    ASSERT_INT_EQ(check_s(f, s, PRICE_SCHEMA, "{\"name\": \"pen\"}", &v), ALLOT_CHECK_SCHEMA);
    ASSERT(strncmp(v.detail, "schema: ", 8) == 0);
    ASSERT_STR_CONTAINS(v.detail, "price");
    ASSERT(header_safe(v.detail));
    ASSERT_INT_EQ(check_s(f, s, PRICE_SCHEMA, "{\"name\": \"pen\", \"price\": \"1.5\"}", &v),
                  ALLOT_CHECK_SCHEMA);
    ASSERT(strncmp(v.detail, "schema: ", 8) == 0);
    ASSERT(header_safe(v.detail));
}

/* schema: false keeps the JSON check and leaves the schema out. */
CHECK_TEST(check_schema_off_keeps_the_json_check, "quality: {checks: {labour: {schema: false}}}\n")
{
    const struct allot_check_set *s = tier_set(f, ALLOT_TIER_LABOUR);
    struct allot_check_verdict v;

    ASSERT(!(s->flags & ALLOT_CHECK_F_SCHEMA));
    ASSERT_INT_EQ(check_s(f, s, PRICE_SCHEMA, "{\"name\": \"pen\"}", &v), ALLOT_CHECK_PASS);
    ASSERT_STR_EQ(v.detail, "");
    ASSERT_INT_EQ(check_s(f, s, PRICE_SCHEMA, "{\"name\": ", &v), ALLOT_CHECK_JSON);
}

CHECK_TEST(check_must_match_and_must_not_match, "quality:\n"
                                                "  checks:\n"
                                                "    summarize:\n"
                                                "      must_match: '(?m)^- '\n"
                                                "      must_not_match: '(?i)lorem ipsum'\n")
{
    const struct allot_check_set *s = cat_set(f, ALLOT_TIER_LABOUR, ALLOT_CAT_SUMMARIZE);
    struct allot_check_verdict v;

    ASSERT_INT_EQ(check_s(f, s, NULL, "Points:\n- one\n- two\n", &v), ALLOT_CHECK_PASS);
    ASSERT_INT_EQ(check_s(f, s, NULL, "Points: one, two", &v), ALLOT_CHECK_MUST_MATCH);
    ASSERT_STR_EQ(v.detail, "must_match: the pattern does not match");
    ASSERT_INT_EQ(check_s(f, s, NULL, "Points:\n- one\n- Lorem Ipsum dolor sit amet\n", &v),
                  ALLOT_CHECK_MUST_NOT_MATCH);
    ASSERT_STR_EQ(v.detail, "must_not_match: matched at byte 16: 'Lorem Ipsum dolor sit amet '");
    /* the snippet is at most 40 bytes */
    ASSERT_INT_EQ(check_s(f, s, NULL,
                          "- ok\nlorem ipsum dolor sit amet, consectetur adipiscing elit, sed do",
                          &v),
                  ALLOT_CHECK_MUST_NOT_MATCH);
    ASSERT_STR_EQ(v.detail,
                  "must_not_match: matched at byte 5: 'lorem ipsum dolor sit amet, consectetur '");
    /* at byte 0 */
    ASSERT_INT_EQ(check_s(f, s, NULL, "lorem ipsum\n- x", &v), ALLOT_CHECK_MUST_NOT_MATCH);
    ASSERT_STR_EQ(v.detail, "must_not_match: matched at byte 0: 'lorem ipsum - x'");
    /* the other labour categories do not have them */
    ASSERT_INT_EQ(
        check_s(f, cat_set(f, ALLOT_TIER_LABOUR, ALLOT_CAT_EXTRACT), NULL, "lorem ipsum", &v),
        ALLOT_CHECK_PASS);
}

/* A model that emits one byte that is not UTF-8 must not slip a forbidden
 * phrase past must_not_match: PCRE2 in UTF mode refuses the subject, and
 * search() reads "could not be matched" as "no match". */
CHECK_TEST(check_must_not_match_holds_on_invalid_utf8,
           "quality: {checks: {summarize: {must_not_match: 'lorem ipsum'}}}\n")
{
    struct allot_check_verdict v;
    const char text[] = "- ok\nlorem ipsum \xC3 dolor";

    ASSERT_INT_EQ(check_n(f, cat_set(f, ALLOT_TIER_LABOUR, ALLOT_CAT_SUMMARIZE), NULL, text,
                          sizeof text - 1, "stop", 0, &v),
                  ALLOT_CHECK_MUST_NOT_MATCH);
    ASSERT(header_safe(v.detail));
}

CHECK_TEST(check_min_and_max_chars_count_bytes,
           "quality: {checks: {labour: {min_chars: 5, max_chars: 8}}}\n")
{
    const struct allot_check_set *s = tier_set(f, ALLOT_TIER_LABOUR);
    struct allot_check_verdict v;

    ASSERT_INT_EQ(check_s(f, s, NULL, "abcd", &v), ALLOT_CHECK_TOO_SHORT);
    ASSERT_STR_EQ(v.detail, "too_short: 4 bytes, at least 5 wanted");
    ASSERT_INT_EQ(check_s(f, s, NULL, "abcde", &v), ALLOT_CHECK_PASS);
    ASSERT_INT_EQ(check_s(f, s, NULL, "abcdefgh", &v), ALLOT_CHECK_PASS);
    ASSERT_INT_EQ(check_s(f, s, NULL, "abcdefghi", &v), ALLOT_CHECK_TOO_LONG);
    ASSERT_STR_EQ(v.detail, "too_long: 9 bytes, at most 8 wanted");
    /* bytes, not characters: 3 characters, 6 bytes */
    ASSERT_INT_EQ(check_s(f, s, NULL, "\xC3\xA9\xC3\xA9\xC3\xA9", &v), ALLOT_CHECK_PASS);

    /* 0 is a bound: max_chars 0 fails any content */
    ASSERT_INT_EQ(remake(f, "quality: {checks: {judgment: {max_chars: 0}}}\n"), 0);
    s = tier_set(f, ALLOT_TIER_JUDGMENT);
    ASSERT_INT_EQ(s->active, 1);
    ASSERT_INT_EQ(check_s(f, s, NULL, "x", &v), ALLOT_CHECK_TOO_LONG);
    ASSERT_STR_EQ(v.detail, "too_long: 1 bytes, at most 0 wanted");
    ASSERT_INT_EQ(check_s(f, s, NULL, "", &v), ALLOT_CHECK_PASS);
}

CHECK_TEST(check_order_reports_the_first_failure, "quality:\n"
                                                  "  checks:\n"
                                                  "    labour:\n"
                                                  "      must_match: 'needle'\n"
                                                  "      must_not_match: 'forbidden'\n"
                                                  "      min_chars: 30\n"
                                                  "      max_chars: 40\n")
{
    const struct allot_check_set *s = tier_set(f, ALLOT_TIER_LABOUR);
    struct allot_check_verdict v;
    const char *jo = "{\"type\":\"json_object\"}";
    const char *refusal = "I'm sorry, but I can't help with that.";

    /* empty before truncated (and before everything else) */
    ASSERT_INT_EQ(check_n(f, s, jo, "  ", 2, "length", 0, &v), ALLOT_CHECK_EMPTY);
    /* truncated before refusal */
    ASSERT_INT_EQ(check_n(f, s, jo, refusal, strlen(refusal), "length", 0, &v),
                  ALLOT_CHECK_TRUNCATED);
    /* refusal before json */
    ASSERT_INT_EQ(check_s(f, s, jo, refusal, &v), ALLOT_CHECK_REFUSAL);
    /* json before must_match */
    ASSERT_INT_EQ(check_s(f, s, jo, "no json and no n-e-e-d-l-e", &v), ALLOT_CHECK_JSON);
    /* must_match before must_not_match */
    ASSERT_INT_EQ(check_s(f, s, NULL, "forbidden text without the n-e-e-d-l-e", &v),
                  ALLOT_CHECK_MUST_MATCH);
    /* must_not_match before too_short */
    ASSERT_INT_EQ(check_s(f, s, NULL, "needle forbidden", &v), ALLOT_CHECK_MUST_NOT_MATCH);
    /* too_short, too_long */
    ASSERT_INT_EQ(check_s(f, s, NULL, "needle", &v), ALLOT_CHECK_TOO_SHORT);
    ASSERT_INT_EQ(check_s(f, s, NULL, "needle needle needle needle needle needle", &v),
                  ALLOT_CHECK_TOO_LONG);
    ASSERT_INT_EQ(check_s(f, s, NULL, "the needle is in this haystack, ok", &v), ALLOT_CHECK_PASS);
}

TEST(check_names_cover_every_id)
{
    static const char *const want[ALLOT_CHECK__COUNT] = {
        "pass",   "empty",      "truncated",      "refusal",   "json",
        "schema", "must_match", "must_not_match", "too_short", "too_long",
    };
    int i;

    for (i = 0; i < ALLOT_CHECK__COUNT; i++)
        ASSERT_STR_EQ(allot_check_name((enum allot_check_id)i), want[i]);
    ASSERT_STR_EQ(allot_check_name(ALLOT_CHECK__COUNT), "?");
    ASSERT_STR_EQ(allot_check_name((enum allot_check_id)(ALLOT_CHECK__COUNT + 7)), "?");
    ASSERT_STR_EQ(allot_check_name((enum allot_check_id) - 1), "?");
}

/* ---- detail text is header-safe ---- */

CHECK_TEST(check_detail_is_header_safe_for_refusal_and_must_not_match,
           "quality: {checks: {labour: {must_not_match: 'BAD'}}}\n")
{
    const struct allot_check_set *s = tier_set(f, ALLOT_TIER_LABOUR);
    struct allot_check_verdict v;
    char text[128];
    size_t i;

    ASSERT_INT_EQ(check_s(f, s, NULL, "I'm sorry, but I can't \"help\":\r\n\tC:\\tmp\x7f", &v),
                  ALLOT_CHECK_REFUSAL);
    ASSERT(header_safe(v.detail));
    ASSERT_STR_EQ(v.detail, "refusal: the answer opens with 'I'm sorry, but I can't  help :   C: "
                            "tmp '");
    /* a 48-byte snippet that would cut a 3-byte character, at each of the
     * two places inside it, and one that ends right after it */
    for (i = 0; i < 3; i++) {
        size_t n = (size_t)snprintf(text, sizeof text, "I'm sorry, but I can't help with that");
        while (n < 45 + i)
            text[n++] = '.';
        snprintf(text + n, sizeof text - n, "\xE2\x80\x99\xE2\x80\x99 more");
        ASSERT_INT_EQ(check_s(f, s, NULL, text, &v), ALLOT_CHECK_REFUSAL);
        if (!header_safe(v.detail))
            TEST_FAIL_("character at byte %zu: detail not header-safe: %s", 45 + i, v.detail);
    }
    /* must_not_match snippet with quotes, backslashes, controls and cut
     * 4-byte characters */
    ASSERT_INT_EQ(check_s(f, s, NULL,
                          "ok BAD \"quoted\"\\path\x01\x7f\n\xF0\x9F\x98\x80\xF0\x9F\x98\x80"
                          "\xF0\x9F\x98\x80\xF0\x9F\x98\x80\xF0\x9F\x98\x80\xF0\x9F\x98\x80",
                          &v),
                  ALLOT_CHECK_MUST_NOT_MATCH);
    ASSERT(header_safe(v.detail));
    ASSERT_STR_CONTAINS(v.detail, "matched at byte 3: 'BAD  quoted  path   ");
}

/* check.h: "detail is short, header-safe text". finish_reason is put in
 * double quotes. */
CHECK_TEST(check_detail_is_header_safe_for_truncated, "")
{
    struct allot_check_verdict v;

    ASSERT_INT_EQ(check_n(f, tier_set(f, ALLOT_TIER_LABOUR), NULL, "abc", 3, "length", 0, &v),
                  ALLOT_CHECK_TRUNCATED);
    if (!header_safe(v.detail))
        TEST_FAIL_("detail not header-safe: %s", v.detail);
}

/* The JSON checker's reasons quote the offending character and name the
 * \u escape: both may put '"' or '\' in the detail. */
CHECK_TEST(check_detail_is_header_safe_for_json, "")
{
    static const char *const bad[] = {
        "[\"a\tb\"]",          /* raw control character */
        "\"unterminated",      /* end of input */
        "{\"a\": 1 \"b\": 2}", /* unexpected character '"' */
        "{\\}",                /* unexpected character '\' */
        "[\"\\u12\"]",         /* invalid \u escape */
        "[\"\\u0000\"]",       /* \u0000 */
    };
    struct allot_check_verdict v;
    size_t i, unsafe = 0;

    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ASSERT_INT_EQ(
            check_s(f, tier_set(f, ALLOT_TIER_LABOUR), "{\"type\":\"json_object\"}", bad[i], &v),
            ALLOT_CHECK_JSON);
        if (!header_safe(v.detail)) { /* say which, then go on to show them all */
            fprintf(stderr, "  content %s: detail not header-safe: %s\n", bad[i], v.detail);
            unsafe++;
        }
    }
    ASSERT_INT_EQ(unsafe, 0);
}

/* ---- cost ---- */

/* Catastrophic backtracking: PCRE2's match limit stops it. Timed, not
 * bounded tightly: ASan builds are slow. */
static int time_pattern(struct fixture *f, const char *text, size_t n, uint64_t *us,
                        struct allot_check_verdict *v)
{
    uint64_t t0 = allot_clock_mono_us();
    int r = check_n(f, tier_set(f, ALLOT_TIER_LABOUR), NULL, text, n, "stop", 0, v);
    *us = allot_clock_mono_us() - t0;
    return r;
}

CHECK_TEST(check_catastrophic_user_pattern_returns_promptly,
           "quality: {checks: {labour: {must_match: '(a+)+$'}}}\n")
{
    static char text[30 * 1024 + 2];
    size_t n = 30 * 1024 + 1;
    struct allot_check_verdict v;
    uint64_t us;
    int r;

    memset(text, 'a', n - 1);
    text[n - 1] = 'b';
    r = time_pattern(f, text, n, &us, &v);
    fprintf(stderr, "  (a+)+$ on 30 KB: %.1f ms: %s\n", (double)us / 1000.0, v.detail);
    ASSERT_INT_EQ(r, ALLOT_CHECK_MUST_MATCH);
    ASSERT(strcmp(v.detail, "must_match: the pattern does not match") == 0 ||
           strstr(v.detail, "could not be matched") != NULL);
    ASSERT(us < 2000000);
    /* the same without a capturing group, so that the match limit (not
     * the one-pair match data) is what stops it */
    ASSERT_INT_EQ(remake(f, "quality: {checks: {labour: {must_match: '(?:a+)+$'}}}\n"), 0);
    r = time_pattern(f, text, n, &us, &v);
    fprintf(stderr, "  (?:a+)+$ on 30 KB: %.1f ms: %s\n", (double)us / 1000.0, v.detail);
    ASSERT_INT_EQ(r, ALLOT_CHECK_MUST_MATCH);
    ASSERT(us < 2000000);
    /* and a must_not_match that cannot finish lets the answer through */
    ASSERT_INT_EQ(remake(f, "quality: {checks: {labour: {must_not_match: '(?:a+)+$'}}}\n"), 0);
    r = time_pattern(f, text, n, &us, &v);
    ASSERT_INT_EQ(r, ALLOT_CHECK_PASS);
    ASSERT(us < 2000000);
}

CHECK_TEST(check_speed_of_the_default_set, "")
{
    static char text[4096 + 1];
    const char *para = "The supplier confirmed delivery for the second quarter; invoices follow "
                       "the usual terms and the audit found no exceptions. ";
    struct allot_check_verdict v;
    size_t i, plen = strlen(para);
    uint64_t t0, us;
    int k, bad = 0;

    for (i = 0; i < 4096; i++)
        text[i] = para[i % plen];
    t0 = allot_clock_mono_us();
    for (k = 0; k < 10000; k++)
        bad += check_n(f, tier_set(f, ALLOT_TIER_LABOUR), NULL, text, 4096, "stop", 0, &v) !=
               ALLOT_CHECK_PASS;
    us = allot_clock_mono_us() - t0;
    fprintf(stderr, "  default set, 4 KB answer: %.2f us a check\n", (double)us / 10000.0);
    ASSERT_INT_EQ(bad, 0);
    ASSERT(us < 3000000);
}
