/* test_quality_config.c: the quality section of allot.yaml (config.h,
 * struct allot_quality): every key, the defaults, and the errors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "allot/buf.h"
#include "allot/config.h"
#include "allot/error.h"
#include "allot/kinds.h"
#include "test.h"

/* A valid config, 10 lines; tests append keys from line 11 on. */
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

/* Load yaml as "t.yaml"; the errors, if any, land in err (caller releases).
 * A config that loads is freed unless c is wanted. */
static int load(const char *yaml, struct allot_config **c, struct allot_buf *err)
{
    allot_buf_init(err, 1 << 16);
    *c = NULL;
    return allot_config_load_mem("t.yaml", yaml, strlen(yaml), c, err);
}

/* Load MINIMAL + quality and expect ALLOT_ECONFIG; the message text is
 * copied to msg. 0 when the load failed as expected. */
static int load_error(const char *quality, char *msg, size_t cap)
{
    struct allot_config *c = NULL;
    struct allot_buf yaml, err;
    int rc;

    allot_buf_init(&yaml, 1 << 20);
    allot_buf_adds(&yaml, MINIMAL);
    allot_buf_adds(&yaml, quality);
    rc = load(allot_buf_cstr(&yaml), &c, &err);
    snprintf(msg, cap, "%s", allot_buf_cstr(&err));
    allot_config_free(c);
    allot_buf_release(&yaml);
    allot_buf_release(&err);
    return rc == ALLOT_ECONFIG && c == NULL ? 0 : -1;
}

static int conf_unset(const struct allot_check_conf *k)
{
    return k->not_empty == -1 && k->not_refusal == -1 && k->not_truncated == -1 && k->json == -1 &&
           k->schema == -1 && k->escalate == -1 && k->min_chars == -1 && k->max_chars == -1 &&
           !k->stream && !k->must_match && !k->must_not_match;
}

TEST(quality_config_defaults)
{
    struct allot_config *c;
    struct allot_buf err;
    const struct allot_quality *q;
    int i;

    ASSERT_INT_EQ(load(MINIMAL, &c, &err), 0);
    q = &c->quality;
    ASSERT_INT_EQ(q->enabled, 1);
    for (i = 0; i < ALLOT_TIER__COUNT; i++)
        ASSERT(conf_unset(&q->tier[i]));
    for (i = 0; i < ALLOT_CAT__COUNT; i++)
        ASSERT(conf_unset(&q->category[i]));
    ASSERT_INT_EQ(q->n_refusals, 0);
    ASSERT_STR_EQ(q->code_escalates_to, "judgment");
    ASSERT_DBL_NEAR(q->audit_sample, 0.0, 0.0);
    ASSERT_INT_EQ(q->audit_max_in_flight, 16);
    ASSERT_INT_EQ(q->floor_enabled, 1);
    ASSERT_DBL_NEAR(q->floor_min_pass, 0.9, 1e-12);
    ASSERT_INT_EQ(q->floor_window, 50);
    ASSERT_INT_EQ(q->floor_min_samples, 20);
    ASSERT_INT_EQ(q->floor_cooldown_s, 600);
    ASSERT_DBL_NEAR(q->floor_probe_share, 0.1, 1e-12);
    ASSERT_INT_EQ(q->floor_probe_samples, 20);
    allot_config_free(c);
    allot_buf_release(&err);

    /* the built-in defaults agree */
    allot_buf_init(&err, 4096);
    ASSERT_INT_EQ(allot_config_default(&c, &err), 0);
    ASSERT_INT_EQ(c->quality.enabled, 1);
    ASSERT_STR_EQ(c->quality.code_escalates_to, "judgment");
    ASSERT(conf_unset(&c->quality.tier[ALLOT_TIER_LABOUR]));
    allot_config_free(c);
    allot_buf_release(&err);
}

TEST(quality_config_every_key_round_trips)
{
    struct allot_config *c;
    struct allot_buf err;
    const struct allot_quality *q;
    const struct allot_check_conf *k;
    const char *y = MINIMAL "quality:\n"
                            "  enabled: true\n"
                            "  checks:\n"
                            "    labour:\n"
                            "      not_empty: true\n"
                            "      not_refusal: false\n"
                            "      not_truncated: true\n"
                            "      json: false\n"
                            "      schema: true\n"
                            "      escalate: false\n"
                            "      stream: buffer\n"
                            "      min_chars: 5\n"
                            "      max_chars: 10000\n"
                            "      must_match: '\\S'\n"
                            "      must_not_match: '(?i)lorem ipsum'\n"
                            "    extract:\n"
                            "      must_match: '^\\{'\n"
                            "      stream: after\n"
                            "    code: {not_empty: true, escalate: true}\n"
                            "    plan: {min_chars: 0}\n"
                            "    judgment: ~\n"
                            "  refusals:\n"
                            "    - '^nope\\b'\n"
                            "    - \"that is outside (?:my|our) remit\"\n"
                            "  code_escalates_to: none\n"
                            "  audit:\n"
                            "    sample: 0.05\n"
                            "    max_in_flight: 8\n"
                            "  floor:\n"
                            "    enabled: false\n"
                            "    min_pass: 0.85\n"
                            "    window: 40\n"
                            "    min_samples: 40\n"
                            "    cooldown_s: 300\n"
                            "    probe_share: 0.25\n"
                            "    probe_samples: 12\n";

    ASSERT_INT_EQ(load(y, &c, &err), 0);
    ASSERT_STR_EQ(allot_buf_cstr(&err), "");
    q = &c->quality;
    ASSERT_INT_EQ(q->enabled, 1);

    k = &q->tier[ALLOT_TIER_LABOUR];
    ASSERT_INT_EQ(k->not_empty, 1);
    ASSERT_INT_EQ(k->not_refusal, 0);
    ASSERT_INT_EQ(k->not_truncated, 1);
    ASSERT_INT_EQ(k->json, 0);
    ASSERT_INT_EQ(k->schema, 1);
    ASSERT_INT_EQ(k->escalate, 0);
    ASSERT_STR_EQ(k->stream, "buffer");
    ASSERT_INT_EQ(k->min_chars, 5);
    ASSERT_INT_EQ(k->max_chars, 10000);
    ASSERT_STR_EQ(k->must_match, "\\S");
    ASSERT_STR_EQ(k->must_not_match, "(?i)lorem ipsum");

    k = &q->category[ALLOT_CAT_EXTRACT];
    ASSERT_STR_EQ(k->must_match, "^\\{");
    ASSERT_STR_EQ(k->stream, "after");
    ASSERT_INT_EQ(k->not_empty, -1); /* unset: inherited when resolved */
    ASSERT_INT_EQ(k->escalate, -1);
    ASSERT_INT_EQ(k->min_chars, -1);
    ASSERT(k->must_not_match == NULL);

    k = &q->tier[ALLOT_TIER_CODE];
    ASSERT_INT_EQ(k->not_empty, 1);
    ASSERT_INT_EQ(k->escalate, 1);
    ASSERT_INT_EQ(k->json, -1);
    ASSERT(k->stream == NULL);

    ASSERT_INT_EQ(q->category[ALLOT_CAT_PLAN].min_chars, 0); /* 0 is set, not unset */
    ASSERT(conf_unset(&q->tier[ALLOT_TIER_JUDGMENT]));       /* null: nothing set */
    ASSERT(conf_unset(&q->category[ALLOT_CAT_SUMMARIZE]));

    ASSERT_INT_EQ(q->n_refusals, 2);
    ASSERT_STR_EQ(q->refusals[0], "^nope\\b");
    ASSERT_STR_EQ(q->refusals[1], "that is outside (?:my|our) remit");
    ASSERT_STR_EQ(q->code_escalates_to, "none");
    ASSERT_DBL_NEAR(q->audit_sample, 0.05, 1e-12);
    ASSERT_INT_EQ(q->audit_max_in_flight, 8);
    ASSERT_INT_EQ(q->floor_enabled, 0);
    ASSERT_DBL_NEAR(q->floor_min_pass, 0.85, 1e-12);
    ASSERT_INT_EQ(q->floor_window, 40);
    ASSERT_INT_EQ(q->floor_min_samples, 40); /* equal to window is allowed */
    ASSERT_INT_EQ(q->floor_cooldown_s, 300);
    ASSERT_DBL_NEAR(q->floor_probe_share, 0.25, 1e-12);
    ASSERT_INT_EQ(q->floor_probe_samples, 12);
    allot_config_free(c);
    allot_buf_release(&err);

    /* enabled: false; tier and category names in any case, "labor" */
    ASSERT_INT_EQ(load(MINIMAL "quality:\n"
                               "  enabled: false\n"
                               "  checks: {LABOR: {json: false}, Summarize: {max_chars: 7}}\n",
                       &c, &err),
                  0);
    ASSERT_INT_EQ(c->quality.enabled, 0);
    ASSERT_INT_EQ(c->quality.tier[ALLOT_TIER_LABOUR].json, 0);
    ASSERT_INT_EQ(c->quality.category[ALLOT_CAT_SUMMARIZE].max_chars, 7);
    allot_config_free(c);
    allot_buf_release(&err);
}

TEST(quality_config_unknown_tier_or_category_lists_the_names)
{
    char msg[4096];

    ASSERT_INT_EQ(load_error("quality:\n"
                             "  checks:\n"
                             "    summarise_all: {not_empty: true}\n",
                             msg, sizeof msg),
                  0);
    ASSERT_STR_EQ(msg, "t.yaml:13: key 'quality.checks.summarise_all': expected a tier "
                       "(judgment, labour, code) or a category (plan, decide, review, risk, "
                       "tradeoff, synthesize, solve, scan, extract, summarize, reformat, convert, "
                       "collect, answer, compose, implement), got \"summarise_all\"\n");
    /* an unknown check name lists the check keys */
    ASSERT_INT_EQ(load_error("quality:\n"
                             "  checks:\n"
                             "    labour:\n"
                             "      not_emtpy: true\n",
                             msg, sizeof msg),
                  0);
    ASSERT_STR_EQ(msg, "t.yaml:14: unknown key 'quality.checks.labour.not_emtpy'; known keys: "
                       "not_empty, not_refusal, not_truncated, json, schema, must_match, "
                       "must_not_match, min_chars, max_chars, escalate, stream\n");
    /* a check set that is not a mapping */
    ASSERT_INT_EQ(load_error("quality:\n"
                             "  checks:\n"
                             "    labour: true\n",
                             msg, sizeof msg),
                  0);
    ASSERT_STR_EQ(msg, "t.yaml:13: key 'quality.checks.labour': expected a mapping of checks "
                       "(not_empty: true, ...), got \"true\"\n");
}

TEST(quality_config_bad_regex_names_key_and_offset)
{
    char msg[4096];

    ASSERT_INT_EQ(load_error("quality:\n"
                             "  checks:\n"
                             "    summarize:\n"
                             "      must_match: '^- '\n"
                             "      must_not_match: 'lorem (ipsum'\n",
                             msg, sizeof msg),
                  0);
    ASSERT_STR_EQ(msg, "t.yaml:15: key 'quality.checks.summarize.must_not_match': invalid regular "
                       "expression at offset 12: missing closing parenthesis\n");
    ASSERT_INT_EQ(load_error("quality:\n"
                             "  refusals:\n"
                             "    - 'fine'\n"
                             "    - '[unclosed'\n",
                             msg, sizeof msg),
                  0);
    ASSERT_STR_CONTAINS(msg, "t.yaml:14: key 'quality.refusals[1]': invalid regular expression "
                             "at offset 9: ");
    /* an empty pattern is no pattern */
    ASSERT_INT_EQ(load_error("quality: {checks: {labour: {must_match: ''}}}\n", msg, sizeof msg),
                  0);
    ASSERT_STR_CONTAINS(msg, "t.yaml:11: key 'quality.checks.labour.must_match': expected a "
                             "regular expression");
}

TEST(quality_config_booleans_enums_and_bounds)
{
    char msg[4096];

    ASSERT_INT_EQ(load_error("quality:\n"
                             "  checks:\n"
                             "    labour:\n"
                             "      not_empty: yes\n",
                             msg, sizeof msg),
                  0);
    ASSERT_STR_EQ(msg, "t.yaml:14: key 'quality.checks.labour.not_empty': expected true or false, "
                       "got \"yes\"\n");
    ASSERT_INT_EQ(load_error("quality:\n"
                             "  checks:\n"
                             "    labour: {stream: sometimes}\n",
                             msg, sizeof msg),
                  0);
    ASSERT_STR_CONTAINS(msg, "t.yaml:13: key 'quality.checks.labour.stream': expected one of: ");
    ASSERT_STR_CONTAINS(msg, "after");
    ASSERT_STR_CONTAINS(msg, "buffer");
    ASSERT_STR_CONTAINS(msg, "got \"sometimes\"\n");
    ASSERT_INT_EQ(load_error("quality:\n"
                             "  code_escalates_to: code\n",
                             msg, sizeof msg),
                  0);
    ASSERT_STR_CONTAINS(msg, "t.yaml:12: key 'quality.code_escalates_to': expected one of: ");
    ASSERT_STR_CONTAINS(msg, "got \"code\"\n");
    ASSERT_INT_EQ(load_error("quality:\n"
                             "  checks: {extract: {min_chars: -1}}\n"
                             "  audit: {sample: 1.5, max_in_flight: 0}\n"
                             "  floor: {min_pass: 0, probe_share: 2}\n",
                             msg, sizeof msg),
                  0);
    ASSERT_STR_CONTAINS(msg, "t.yaml:12: key 'quality.checks.extract.min_chars': expected an "
                             "integer between 0 and 1073741824, got \"-1\"\n");
    ASSERT_STR_CONTAINS(msg, "t.yaml:13: key 'quality.audit.sample': expected a number between 0 "
                             "and 1, got \"1.5\"\n");
    ASSERT_STR_CONTAINS(msg, "t.yaml:13: key 'quality.audit.max_in_flight': expected an integer "
                             "between 1 and 4096, got \"0\"\n");
    ASSERT_STR_CONTAINS(msg, "t.yaml:14: key 'quality.floor.min_pass': ");
    ASSERT_STR_CONTAINS(msg, "t.yaml:14: key 'quality.floor.probe_share': ");
}

/* The rule spans two keys; the message points at the one named in it. */
TEST(quality_config_min_samples_over_window)
{
    char msg[4096];

    ASSERT_INT_EQ(load_error("quality:\n"             /* 11 */
                             "  enabled: true\n"      /* 12 */
                             "  floor:\n"             /* 13 */
                             "    window: 10\n"       /* 14 */
                             "    min_samples: 20\n", /* 15 */
                             msg, sizeof msg),
                  0);
    ASSERT_STR_CONTAINS(msg, "key 'quality.floor.min_samples': expected at most "
                             "quality.floor.window (10), got 20\n");
    ASSERT_STR_EQ(msg, "t.yaml:15: key 'quality.floor.min_samples': expected at most "
                       "quality.floor.window (10), got 20\n");
}

TEST(quality_config_duplicate_check_keys)
{
    char msg[4096];

    ASSERT_INT_EQ(load_error("quality:\n"
                             "  checks:\n"
                             "    labour: {not_empty: true}\n"
                             "    extract: {json: true}\n"
                             "    labour: {json: false}\n",
                             msg, sizeof msg),
                  0);
    ASSERT_STR_EQ(msg, "t.yaml:15: key 'quality.checks.labour': given twice (first on line 13)\n");
    /* two spellings of one tier are one key */
    ASSERT_INT_EQ(load_error("quality:\n"
                             "  checks:\n"
                             "    labour: {not_empty: true}\n"
                             "    labor: {json: false}\n",
                             msg, sizeof msg),
                  0);
    ASSERT_STR_EQ(msg, "t.yaml:14: key 'quality.checks.labor': given twice (first on line 13)\n");
    /* a key twice inside one check set */
    ASSERT_INT_EQ(load_error("quality:\n"
                             "  checks:\n"
                             "    labour:\n"
                             "      json: true\n"
                             "      json: false\n",
                             msg, sizeof msg),
                  0);
    ASSERT_STR_CONTAINS(msg, "t.yaml:15: key 'quality.checks.labour.json': given twice (first on "
                             "line 14)\n");
}

TEST(quality_config_at_most_64_refusals)
{
    struct allot_buf y;
    struct allot_config *c;
    struct allot_buf err;
    char msg[4096];
    int i, rc;

    allot_buf_init(&y, 1 << 20);
    allot_buf_adds(&y, "quality:\n  refusals:\n");
    for (i = 0; i < 64; i++)
        allot_buf_addf(&y, "    - 'no way number %d'\n", i);
    {
        struct allot_buf full;
        allot_buf_init(&full, 1 << 20);
        allot_buf_adds(&full, MINIMAL);
        allot_buf_adds(&full, allot_buf_cstr(&y));
        rc = load(allot_buf_cstr(&full), &c, &err);
        allot_buf_release(&full);
    }
    if (rc == 0) {
        ASSERT_INT_EQ(c->quality.n_refusals, 64);
        ASSERT_STR_EQ(c->quality.refusals[63], "no way number 63");
    }
    allot_config_free(c);
    allot_buf_release(&err);
    ASSERT_INT_EQ(rc, 0);

    allot_buf_adds(&y, "    - 'one too many'\n");
    rc = load_error(allot_buf_cstr(&y), msg, sizeof msg);
    allot_buf_release(&y);
    ASSERT_INT_EQ(rc, 0);
    ASSERT_STR_EQ(msg, "t.yaml:13: key 'quality.refusals': expected at most 64 patterns, got 65\n");
}

/* Every error in the quality section names the file, a line and the full
 * key path. */
TEST(quality_config_every_error_names_file_line_and_key)
{
    char msg[8192], *line, *save = NULL;
    size_t n = 0;
    static const char *const paths[] = {
        "quality.checks.summarize.must_not_match",
        "quality.checks.labour.not_empty",
        "quality.checks.extract.stream",
        "quality.checks.gold",
        "quality.checks.plan.max_chars",
        "quality.refusals[0]",
        "quality.audit.sample",
        "quality.floor.window",
    };
    size_t i;

    ASSERT_INT_EQ(load_error("quality:\n"
                             "  checks:\n"
                             "    summarize: {must_not_match: '(('}\n"
                             "    labour: {not_empty: 1}\n"
                             "    extract: {stream: later}\n"
                             "    gold: {}\n"
                             "    plan: {max_chars: lots}\n"
                             "  refusals: ['*x']\n"
                             "  audit: {sample: half}\n"
                             "  floor: {window: 0}\n",
                             msg, sizeof msg),
                  0);
    for (i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        char want[128];
        snprintf(want, sizeof want, "key '%s': ", paths[i]);
        ASSERT_STR_CONTAINS(msg, want);
    }
    for (line = strtok_r(msg, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        unsigned long ln = 0;
        int used = 0;
        if (sscanf(line, "t.yaml:%lu: %n", &ln, &used) != 1 || used == 0 || ln < 11 || ln > 20)
            TEST_FAIL_("no file:line in \"%s\"", line);
        if (strncmp(line + used, "key 'quality.", 13) != 0)
            TEST_FAIL_("no key path in \"%s\"", line);
        n++;
    }
    ASSERT(n >= sizeof paths / sizeof paths[0]);
}
