/* test_classify_explain.c: what the classifier outputs, pinned byte for
 * byte: the features of two requests (their count and a checksum of every
 * bucket, value and unit), and the reason and explanation a fixed,
 * hand-made model gives for them. A model file trained by one build must
 * score the same under the next, and the reason travels in a header and
 * the explanation into the ledger, so any change here is a change users
 * see; the strings were taken from the classifier before it was made
 * faster (names rendered by SSE2, logits by AVX2, numbers without
 * snprintf at ties) and must not move. Also: the AVX2 logits equal the
 * plain loop's to the bit on the built-in model. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "allot/classify.h"
#include "allot/features.h"
#include "allot/kinds_model.h"
#include "test.h"

/* The benchmark's request (bench/chat.lua), its article cut short. */
#define BENCH_SYSTEM                                                                               \
    "You are a careful assistant for a newsroom. Answer in plain English, keep to the facts "      \
    "given in the text, and do not add information that is not in it."
#define BENCH_USER                                                                                 \
    "Summarise this article in five bullet points:\n\nThe city library on Harbour Street "         \
    "reopened on Monday after eighteen months of renovation work. The building, which dates "      \
    "from 1911, now has a new roof, step-free access at both entrances and a reading room on "     \
    "the top floor with views over the old port."
/* Case, an apostrophe, digits, UTF-8 (Latin, Cyrillic, Chinese), '?', a cue. */
#define MIXED_USER                                                                                 \
    "Don't REWRITE the caf\xc3\xa9 menu; which of these 3 options, "                               \
    "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82 or \xe6\x9d\xb1\xe4\xba\xac, is better?? "   \
    "Compare \"pros\" -- and cons, step by step."

static struct allot_features feats; /* 64 KB: not on the stack */

static void instruction_of(const char *system, const char *user, struct allot_instruction *in)
{
    memset(in, 0, sizeof *in);
    in->system = allot_slice_cstr(system);
    in->last_user = allot_slice_cstr(user);
    in->n_messages = 2;
}

/* FNV-1a over (bucket, value bits, unit) of every feature, in order. */
static uint64_t features_checksum(const struct allot_features *f)
{
    uint64_t h = 0xcbf29ce484222325ull;
    size_t i;
    for (i = 0; i < f->n; i++) {
        uint32_t v;
        memcpy(&v, &f->f[i].value, sizeof v);
        h = (h ^ ((uint64_t)f->f[i].idx << 32 ^ v ^ (uint64_t)f->f[i].unit << 16)) *
            0x100000001b3ull;
    }
    return h;
}

static void extract(const char *system, const char *user)
{
    struct allot_instruction in;
    struct allot_instruction_view v;
    instruction_of(system, user, &in);
    allot_instruction_view(&in, &v);
    allot_features_extract(&in, &v, ALLOT_KINDS_HASH_BITS, &feats);
}

/* A model of every bucket weighted by a fixed pattern: its explanations
 * have signals, words, bigrams, merged names and both signs. NULL on
 * ENOMEM. */
static struct allot_kinds_model *patterned_model(void)
{
    struct allot_kinds_model *m = NULL;
    size_t b, n = (size_t)1 << ALLOT_KINDS_HASH_BITS;
    float *w = malloc(n * ALLOT_CAT__COUNT * sizeof *w);
    int c;

    if (w && allot_kinds_model_new(ALLOT_KINDS_HASH_BITS, &m) == 0) {
        for (b = 0; b < n; b++)
            for (c = 0; c < ALLOT_CAT__COUNT; c++)
                w[b * ALLOT_CAT__COUNT + c] =
                    (float)((int)((b * 7 + (size_t)c * 13) % 23) - 11) * 0.05f;
        allot_kinds_model_set_weights(m, w);
        m->temperature = 0.75f;
    }
    free(w);
    return m;
}

TEST(features_pinned_for_two_requests)
{
    extract(BENCH_SYSTEM, BENCH_USER);
    ASSERT_INT_EQ(feats.n, 356);
    ASSERT_INT_EQ(feats.n_units, 175);
    ASSERT(features_checksum(&feats) == 0xf0c9e81db69f9158ull);
    extract("", MIXED_USER);
    ASSERT_INT_EQ(feats.n, 140);
    ASSERT_INT_EQ(feats.n_units, 61);
    ASSERT(features_checksum(&feats) == 0xf9ce9879223edeb9ull);
}

TEST(classify_reason_and_explanation_pinned)
{
    struct allot_kinds_model *m = patterned_model();
    struct allot_instruction in;
    struct allot_classification c;
    char ex[1024];

    ASSERT(m != NULL);
    instruction_of(BENCH_SYSTEM, BENCH_USER, &in);
    allot_classify_with(m, &in, &c);
    ASSERT_STR_EQ(c.reason, "convert 0.52: [numbers 1] +1.5, [system prompt] +1.5, 'room on' +0.1");
    ASSERT_INT_EQ(allot_classification_explain(&c, ex, sizeof ex), strlen(ex));
    ASSERT_STR_EQ(ex, "convert 0.52 (next tradeoff 0.33); for: [numbers 1] +1.46, [system "
                      "prompt] +1.46, 'room on' +0.14, 'building' +0.06, 'reading' +0.05; "
                      "against: 'the' -0.81, 'plain' -0.19, 'article' -0.16, 'over the' -0.14, "
                      "'reading room' -0.14");
    allot_classification_explain(&c, ex, 120); /* cut at a whole item */
    ASSERT_STR_EQ(ex, "convert 0.52 (next tradeoff 0.33); for: [numbers 1] +1.46, [system "
                      "prompt] +1.46, 'room on' +0.14, 'building' +0.06");

    instruction_of("", MIXED_USER, &in);
    allot_classify_with(m, &in, &c);
    /* in the header, UTF-8 is '?' */
    ASSERT_STR_EQ(c.reason,
                  "collect 0.37: [instruction <256 B] +1.5, 'caf?\?' +0.1, 'compare' +0.1");
    allot_classification_explain(&c, ex, sizeof ex);
    ASSERT_STR_EQ(ex, "collect 0.37 (next synthesize 0.15); for: [instruction <256 B] +1.46, "
                      "'caf\xc3\xa9' +0.07, 'compare' +0.06, 'pros' +0.02, '\xe6\x9d\xb1' +0.02; "
                      "against: [numbers 1] -0.07, 'compare' -0.07, [messages 2-3] -0.07, "
                      "[documents 0] -0.07, 'pros and cons' -0.07");
    allot_kinds_model_free(m);
}

/* A model that pushes every word and bigram of user toward one category
 * (its buckets weighted by their features' signs), no structural signal:
 * its explanations are lists of text units, to merge by name. NULL on
 * ENOMEM. */
static struct allot_kinds_model *words_model(const char *user)
{
    struct allot_kinds_model *m = NULL;
    size_t i, n = (size_t)1 << ALLOT_KINDS_HASH_BITS;
    float *w = calloc(n * ALLOT_CAT__COUNT, sizeof *w);

    extract("", user);
    if (w && allot_kinds_model_new(ALLOT_KINDS_HASH_BITS, &m) == 0) {
        for (i = 0; i < feats.n; i++)
            if (feats.f[i].unit != ALLOT_NO_UNIT &&
                feats.units[feats.f[i].unit].kind != ALLOT_UNIT_SIGNAL)
                w[feats.f[i].idx * ALLOT_CAT__COUNT] = feats.f[i].value > 0 ? 1.0f : -1.0f;
        allot_kinds_model_set_weights(m, w);
        m->temperature = 1.0f;
    }
    free(w);
    return m;
}

/* Units of one name are one reason, whatever their case, apostrophes or
 * the spaces and punctuation between their words; units of names that
 * only start or end alike, or differ in a UTF-8 byte, are not. (The
 * explanation tells names apart without rendering most of them; the
 * strings are those of the classifier that rendered every one.) */
TEST(classify_explanation_merges_units_by_name)
{
    static const char *const users[] = {
        "Don't DONT dont. Plain  English, plain english; PLAIN-English. "
        "Caf\xc3\xa9 CAF\xc3\xa9 caf\xc3\xa9.",
        "don dont do. Plain Englishes, plain englis. caf\xc3\xa9 caf\xc3\xa8",
    };
    static const char *const want[] = {
        "plan 1.00 (next decide 0.00); for: 'plain english' +2.70, 'english' +1.73, 'plain' "
        "+1.53, 'caf\xc3\xa9' +0.54, 'dont' +0.48",
        "plan 0.98 (next decide 0.00); for: 'plain' +1.14, 'englishes' +0.82, 'caf\xc3\xa9' "
        "+0.63, 'englis' +0.59, 'caf\xc3\xa8' +0.52",
    };
    struct allot_instruction in;
    struct allot_classification c;
    char ex[1024];
    size_t i;

    for (i = 0; i < sizeof users / sizeof users[0]; i++) {
        struct allot_kinds_model *m = words_model(users[i]);
        ASSERT(m != NULL);
        instruction_of("", users[i], &in);
        allot_classify_with(m, &in, &c);
        allot_classification_explain(&c, ex, sizeof ex);
        ASSERT_STR_EQ(ex, want[i]);
        allot_kinds_model_free(m);
    }
}

TEST(kinds_model_logits_same_bits_as_the_plain_loop)
{
    static const char *const users[] = {BENCH_USER, MIXED_USER, "Which is better?", ""};
    struct allot_kinds_model *m = NULL;
    float got[ALLOT_CAT__COUNT], want[ALLOT_CAT__COUNT];
    size_t i, k;

    ASSERT_INT_EQ(allot_kinds_model_from_bytes(allot__kinds_builtin, allot__kinds_builtin_size,
                                               "built-in", &m, NULL),
                  0);
    for (i = 0; i < sizeof users / sizeof users[0]; i++) {
        extract(BENCH_SYSTEM, users[i]);
        allot_kinds_model_logits(m, &feats, got);
        memcpy(want, m->bias, sizeof want);
        for (k = 0; k < feats.n; k++)
            allot_kinds_model_add(m, feats.f[k].idx, feats.f[k].value, want);
        ASSERT(memcmp(got, want, sizeof got) == 0);
    }
    allot_kinds_model_free(m);
}
