/* test_features.c: the classifier's hashed features (features.h). The hash
 * values themselves are not pinned (that would only restate the code);
 * what is checked is what the model relies on: the same request always
 * gives the same features, buckets stay in range, text features have unit
 * length, folding makes trivial variants equal, and structural signals are
 * there when the request has the structure. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "allot/buf.h"
#include "allot/features.h"
#include "allot/instruction.h"
#include "test.h"

/* ~620 bytes of ordinary English: words of every length, sentences. */
#define ENGLISH                                                                                    \
    "You are reviewing the onboarding guide that new engineers read during their first "           \
    "week. Point out any steps that are out of date, anything that contradicts the "               \
    "deployment runbook, and places where a newcomer would likely get stuck because a "            \
    "prerequisite is mentioned only later. Suggest concrete rewordings where the text is "         \
    "ambiguous, keep the existing structure of headings, and flag sections that should "           \
    "move to the internal wiki instead. Finally, estimate how long the whole guide takes "         \
    "to follow for someone without access to production systems, and list the permissions "        \
    "they must request beforehand. "

/* ~350 bytes, one paragraph of several sentences. */
#define PARA400                                                                                    \
    "Check the figures in the attached budget against last year. Note where travel "               \
    "and hiring costs moved by more than ten percent, and say whether the change was "             \
    "planned in the spring review. Keep the wording neutral so the finance team can "              \
    "forward it unchanged. Mention the two largest line items by name and give their "             \
    "totals rounded to the nearest thousand"

struct req {
    struct allot_instruction in;
    struct allot_instruction_view v;
};

static void req_init(struct req *q, const char *system, const char *user)
{
    memset(q, 0, sizeof *q);
    q->in.system = allot_slice_cstr(system ? system : "");
    q->in.last_user = allot_slice_cstr(user ? user : "");
    q->in.n_messages = system ? 2 : 1;
}

static struct allot_features *extract(struct req *q, unsigned bits)
{
    struct allot_features *f = malloc(sizeof *f);
    if (!f)
        abort();
    memset(f, 0x5a, sizeof *f); /* garbage: extraction must not read it */
    allot_instruction_view(&q->in, &q->v);
    allot_features_extract(&q->in, &q->v, bits, f);
    return f;
}

static int is_signal(const struct allot_features *f, size_t i)
{
    uint16_t u = f->f[i].unit;
    return u != ALLOT_NO_UNIT && u < f->n_units && f->units[u].kind == ALLOT_UNIT_SIGNAL;
}

/* 1 when a signal feature named name is present. */
static int has_signal(const struct allot_features *f, const char *name)
{
    char buf[64];
    size_t i;
    for (i = 0; i < f->n; i++)
        if (is_signal(f, i) &&
            strcmp(allot_unit_name(&f->units[f->f[i].unit], buf, sizeof buf), name) == 0)
            return 1;
    return 0;
}

/* 1 when a unit of kind k renders as name. */
static int has_unit(const struct allot_features *f, enum allot_unit_kind k, const char *name)
{
    char buf[128];
    size_t i;
    for (i = 0; i < f->n_units; i++)
        if (f->units[i].kind == k &&
            strcmp(allot_unit_name(&f->units[i], buf, sizeof buf), name) == 0)
            return 1;
    return 0;
}

/* The features [0, n_text) that are not structural signals. */
static size_t n_text_features(const struct allot_features *f)
{
    size_t i, n = 0;
    for (i = 0; i < f->n; i++)
        n += !is_signal(f, i);
    return n;
}

static int same_features(const struct allot_features *a, const struct allot_features *b)
{
    size_t i;
    if (a->n != b->n)
        return 0;
    for (i = 0; i < a->n; i++)
        if (a->f[i].idx != b->f[i].idx ||
            memcmp(&a->f[i].value, &b->f[i].value, sizeof a->f[i].value) != 0)
            return 0;
    return 1;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* 1 when the two have the same multiset of text-feature buckets. */
static int same_text_buckets(const struct allot_features *a, const struct allot_features *b)
{
    uint32_t *x = calloc(ALLOT_FEATURES_MAX, sizeof *x), *y = calloc(ALLOT_FEATURES_MAX, sizeof *y);
    size_t i, nx = 0, ny = 0;
    int same;
    if (!x || !y)
        abort();
    for (i = 0; i < a->n; i++)
        if (!is_signal(a, i))
            x[nx++] = a->f[i].idx;
    for (i = 0; i < b->n; i++)
        if (!is_signal(b, i))
            y[ny++] = b->f[i].idx;
    qsort(x, nx, sizeof *x, cmp_u32);
    qsort(y, ny, sizeof *y, cmp_u32);
    same = nx == ny && memcmp(x, y, nx * sizeof *x) == 0;
    free(x);
    free(y);
    return same;
}

TEST(features_are_deterministic)
{
    struct req q1, q2, q3;
    struct allot_features *a, *b, *c;
    char n1[64], n2[64];
    size_t i;

    req_init(&q1, "You are terse.", "Summarise this article in five bullet points.");
    req_init(&q2, "You are terse.", "Summarise this article in five bullet points.");
    a = extract(&q1, 15);
    b = extract(&q2, 15);
    ASSERT(a->n > 10);
    ASSERT(same_features(a, b));
    ASSERT_INT_EQ(a->n_units, b->n_units);
    for (i = 0; i < a->n; i++) {
        ASSERT_INT_EQ(a->f[i].unit, b->f[i].unit);
        if (a->f[i].unit != ALLOT_NO_UNIT)
            ASSERT_STR_EQ(allot_unit_name(&a->units[a->f[i].unit], n1, sizeof n1),
                          allot_unit_name(&b->units[b->f[i].unit], n2, sizeof n2));
    }
    /* the same struct again, refilled */
    allot_features_extract(&q1.in, &q1.v, 15, b);
    ASSERT(same_features(a, b));

    /* one word changed: another set of buckets */
    req_init(&q3, "You are terse.", "Translate this article in five bullet points.");
    c = extract(&q3, 15);
    ASSERT(!same_text_buckets(a, c));
    free(a);
    free(b);
    free(c);
}

TEST(features_buckets_are_within_hash_bits)
{
    static const unsigned bits[] = {ALLOT_HASH_BITS_MIN, 15, ALLOT_HASH_BITS_MAX};
    struct req q;
    size_t k, i, n0 = 0;

    req_init(&q, ENGLISH, ENGLISH "Which of these should we fix first?");
    q.in.has_tools = 1;
    for (k = 0; k < sizeof bits / sizeof bits[0]; k++) {
        struct allot_features *f = extract(&q, bits[k]);
        ASSERT(f->n > 100);
        for (i = 0; i < f->n; i++)
            if (f->f[i].idx >= (1u << bits[k]))
                TEST_FAIL_("hash_bits %u: feature %zu has idx %u", bits[k], i,
                           (unsigned)f->f[i].idx);
        if (k == 0)
            n0 = f->n;
        ASSERT_INT_EQ(f->n, n0); /* the bucket count changes where, not how many */
        free(f);
    }
}

/* The sum of squares of the text (non-signal) features; -1 when a value
 * is not finite or a signal is not 1. */
static double text_norm2(const char *system, const char *user)
{
    struct req q;
    struct allot_features *f;
    double ss = 0;
    size_t i;

    req_init(&q, system, user);
    f = extract(&q, 15);
    for (i = 0; i < f->n; i++) {
        if (!isfinite(f->f[i].value) || (is_signal(f, i) && f->f[i].value != 1.0f)) {
            ss = -1;
            break;
        }
        if (!is_signal(f, i))
            ss += (double)f->f[i].value * f->f[i].value;
    }
    free(f);
    return ss;
}

/* Text features are scaled to a fixed length (per zone of the view): a
 * long instruction does not outweigh a short one. Unscaled, every n-gram
 * counts about 1 and the sum of squares grows with the text (hundreds for
 * the long inputs here); scaled, it stays small whatever the length. The
 * bound leaves room for the fixed-weight extras (cues, the last sentence's
 * lead word) that are added after scaling. */
TEST(features_text_length_does_not_grow_with_the_text)
{
    static const struct {
        const char *system, *user;
    } cases[] = {
        {NULL, "Hi"},
        {NULL, "Summarise this article."},
        {NULL, ENGLISH ENGLISH "Which of these should we fix first?"},
        {ENGLISH, "Hi"},
        {ENGLISH ENGLISH, ENGLISH ENGLISH},
        {"Be brief.", "Write a poem.\n\nAbout autumn, the harvest and rain.\n\nKeep it short."},
        {NULL, PARA400 "\n\n" PARA400 "\n\n" PARA400},
    };
    size_t k;

    for (k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        double ss = text_norm2(cases[k].system, cases[k].user);
        if (!(ss > 0 && ss <= 16))
            TEST_FAIL_("case %zu: sum of squares of the text features %.3f, want (0, 16]", k, ss);
    }
}

TEST(features_empty_request_has_only_signals)
{
    struct req q;
    struct allot_features *f;
    size_t i;

    req_init(&q, NULL, "");
    f = extract(&q, 15);
    ASSERT(f->n > 0);
    ASSERT_INT_EQ(n_text_features(f), 0);
    for (i = 0; i < f->n; i++)
        ASSERT(isfinite(f->f[i].value));
    ASSERT(has_signal(f, "instruction none"));
    ASSERT(has_signal(f, "material none"));
    ASSERT(!has_signal(f, "question"));
    free(f);
}

TEST(features_fold_case_and_digits)
{
    struct req q1, q2, q3;
    struct allot_features *a, *b, *c;

    req_init(&q1, NULL, "Summarise the 2024 figures");
    req_init(&q2, NULL, "SUMMARISE THE 1999 FIGURES");
    a = extract(&q1, 15);
    b = extract(&q2, 15);
    ASSERT(same_features(a, b));
    /* but folding is not so coarse that different words meet */
    req_init(&q3, NULL, "Summarize the 2024 figures");
    c = extract(&q3, 15);
    ASSERT(!same_text_buckets(a, c));
    free(a);
    free(b);
    free(c);
}

TEST(features_structural_signals)
{
    struct req q;
    struct allot_features *f;

    req_init(&q, "You are an agent.", "Which file defines the config parser?");
    q.in.has_tools = 1;
    q.in.has_response_format = 1;
    q.in.last_is_tool = 1;
    q.in.n_tool_results = 3;
    q.in.n_messages = 12;
    f = extract(&q, 15);
    ASSERT(has_signal(f, "tools defined"));
    ASSERT(has_signal(f, "response_format"));
    ASSERT(has_signal(f, "tool result last"));
    ASSERT(has_signal(f, "tool results"));
    ASSERT(has_signal(f, "system prompt"));
    ASSERT(has_signal(f, "question"));
    ASSERT(has_signal(f, "messages 10+"));
    free(f);

    req_init(&q, NULL, "Write a haiku about rain.");
    f = extract(&q, 15);
    ASSERT(!has_signal(f, "tools defined"));
    ASSERT(!has_signal(f, "response_format"));
    ASSERT(!has_signal(f, "tool result last"));
    ASSERT(!has_signal(f, "tool results"));
    ASSERT(!has_signal(f, "system prompt"));
    ASSERT(!has_signal(f, "question"));
    ASSERT(has_signal(f, "messages 1"));
    ASSERT(has_signal(f, "documents 0"));
    free(f);

    req_init(&q, NULL, "Summarise this:\n```\nint main(void) { return 0; }\n```\n");
    f = extract(&q, 15);
    ASSERT(has_signal(f, "code fence"));
    ASSERT(has_signal(f, "documents 1"));
    free(f);
}

TEST(features_count_is_capped_for_huge_input)
{
    struct allot_buf sys, user;
    struct req q;
    struct allot_features *f;
    size_t i;

    allot_buf_init(&sys, 1 << 20);
    allot_buf_init(&user, 1 << 22);
    while (sys.len < 64 * 1024)
        allot_buf_adds(&sys, "ab cd ef gh ij kl ");
    while (user.len < 1024 * 1024)
        allot_buf_adds(&user, "x1 y2 z3 ab cd ef gh ij kl mn op qr st uv wx yz ");
    req_init(&q, sys.ptr, user.ptr);
    f = extract(&q, 15);
    ASSERT(f->n <= ALLOT_FEATURES_MAX);
    ASSERT(f->n_units <= ALLOT_UNITS_MAX);
    for (i = 0; i < f->n; i++)
        ASSERT(f->f[i].unit == ALLOT_NO_UNIT || f->f[i].unit < f->n_units);
    free(f);
    allot_buf_release(&sys);
    allot_buf_release(&user);
}

/* A realistic agent request: a 1.2 KB system prompt and a 1.3 KB
 * instruction, tools defined. features.h says a 4 KB instruction stays well
 * under ALLOT_FEATURES_MAX; the structural signals, added after the text
 * features, must still be there. */
TEST(features_signals_survive_a_long_instruction)
{
    struct allot_buf sys, user;
    struct req q;
    struct allot_features *f;
    int tools, question;
    size_t read;

    allot_buf_init(&sys, 1 << 20);
    allot_buf_init(&user, 1 << 20);
    allot_buf_adds(&sys, ENGLISH ENGLISH);
    allot_buf_adds(&user, ENGLISH ENGLISH "Which of these should we fix first?");
    req_init(&q, sys.ptr, user.ptr);
    q.in.has_tools = 1;
    f = extract(&q, 15);
    read = q.v.instruction_bytes + q.v.spans[0].len;
    tools = has_signal(f, "tools defined");
    question = has_signal(f, "question");
    free(f);
    allot_buf_release(&sys);
    allot_buf_release(&user);
    ASSERT(user.len <= ALLOT_VIEW_SHORT_TURN);
    ASSERT(read < 4096);
    ASSERT(tools);
    ASSERT(question);
}

TEST(features_lead_word_is_the_instructions_first_word)
{
    struct req q;
    struct allot_features *f;

    req_init(&q, "You are a helpful assistant.", "Summarise the thread. Then list owners.");
    f = extract(&q, 15);
    ASSERT(has_unit(f, ALLOT_UNIT_LEAD, "summarise"));
    ASSERT(!has_unit(f, ALLOT_UNIT_LEAD, "you"));  /* not the system prompt's */
    ASSERT(!has_unit(f, ALLOT_UNIT_LEAD, "then")); /* only one lead */
    ASSERT(has_unit(f, ALLOT_UNIT_WORD, "then"));
    free(f);
}

TEST(features_bigrams_stay_within_sentences)
{
    struct req q;
    struct allot_features *f;

    req_init(&q, NULL, "Which   OF these\tLibraries? Stop. Go now, don't wait");
    f = extract(&q, 15);
    ASSERT(has_unit(f, ALLOT_UNIT_BIGRAM, "which of"));
    ASSERT(has_unit(f, ALLOT_UNIT_BIGRAM, "of these"));
    ASSERT(has_unit(f, ALLOT_UNIT_BIGRAM, "these libraries"));
    ASSERT(has_unit(f, ALLOT_UNIT_BIGRAM, "go now"));
    ASSERT(has_unit(f, ALLOT_UNIT_BIGRAM, "now dont")); /* a comma does not end a sentence */
    ASSERT(has_unit(f, ALLOT_UNIT_WORD, "dont"));
    ASSERT(!has_unit(f, ALLOT_UNIT_BIGRAM, "stop go")); /* "." ends one */
    free(f);
}

/* Chinese and Japanese have no spaces: each character is a word, pairs
 * are bigrams, their punctuation separates words and ends sentences. */
TEST(features_cjk_characters_are_words)
{
    struct req q, q2;
    struct allot_features *f, *g;

    req_init(&q, NULL,
             "\xe5\xa6\x82\xe4\xbd\x95\xe8\xaf\x81\xe6\x98\x8e"   /* 如何证明 */
             "\xef\xbc\x9f\xe8\xaf\xb7\xe5\x9b\x9e\xe7\xad\x94"); /* ？请回答 */
    f = extract(&q, 15);
    ASSERT(has_unit(f, ALLOT_UNIT_WORD, "\xe5\xa6\x82"));               /* 如 */
    ASSERT(has_unit(f, ALLOT_UNIT_WORD, "\xe6\x98\x8e"));               /* 明 */
    ASSERT(has_unit(f, ALLOT_UNIT_BIGRAM, "\xe5\xa6\x82\xe4\xbd\x95")); /* 如何 */
    ASSERT(has_unit(f, ALLOT_UNIT_LEAD, "\xe5\xa6\x82"));
    ASSERT(has_unit(f, ALLOT_UNIT_BIGRAM, "\xe8\xaf\xb7\xe5\x9b\x9e")); /* 请回 */
    ASSERT(!has_unit(f, ALLOT_UNIT_WORD, "\xe5\xa6\x82\xe4\xbd\x95"));
    /* the full-width question mark is the token '?' */
    req_init(&q2, NULL,
             "\xe5\xa6\x82\xe4\xbd\x95\xe8\xaf\x81\xe6\x98\x8e"
             "?\xe8\xaf\xb7\xe5\x9b\x9e\xe7\xad\x94");
    g = extract(&q2, 15);
    ASSERT(same_text_buckets(f, g));
    free(f);
    free(g);
}

TEST(features_cyrillic_capitals_fold)
{
    struct req q1, q2;
    struct allot_features *a, *b;

    req_init(&q1, NULL, "\xd0\x9a\xd0\xb0\xd0\xba\xd0\xb0\xd1\x8f \xd0\x81\xd0\x96"); /* Какая ЁЖ */
    req_init(&q2, NULL, "\xd0\xba\xd0\xb0\xd0\xba\xd0\xb0\xd1\x8f \xd1\x91\xd0\xb6"); /* какая ёж */
    a = extract(&q1, 15);
    b = extract(&q2, 15);
    ASSERT(same_features(a, b));
    free(a);
    free(b);
}

/* The instruction's first two words are a unit of their own, beside the
 * bigram they also make; numbers and sentences are counted. */
static size_t count_units(const struct allot_features *f, enum allot_unit_kind k, const char *name)
{
    char buf[64];
    size_t i, n = 0;
    for (i = 0; i < f->n_units; i++)
        n += f->units[i].kind == k &&
             strcmp(allot_unit_name(&f->units[i], buf, sizeof buf), name) == 0;
    return n;
}

TEST(features_lead_pair_and_counts)
{
    struct req q1, q2;
    struct allot_features *a, *b;

    req_init(&q1, "Be brief.", "How many legs do 12 spiders and 7 ants have. Say it");
    req_init(&q2, "Be brief.", "So how many legs do 12 spiders and 7 ants have. Say it");
    a = extract(&q1, 15);
    b = extract(&q2, 15);
    /* the bigram (and its cue) in both, the lead pair in the first only */
    ASSERT_INT_EQ(count_units(a, ALLOT_UNIT_BIGRAM, "how many"),
                  count_units(b, ALLOT_UNIT_BIGRAM, "how many") + 1);
    ASSERT_INT_EQ(count_units(b, ALLOT_UNIT_BIGRAM, "so how"), 2);
    ASSERT(has_signal(a, "numbers 2-3"));
    ASSERT(has_signal(a, "sentences 2")); /* not the system prompt's */
    free(a);
    free(b);
}

TEST(features_unit_name_renders_normalised_text)
{
    struct allot_unit u;
    char buf[64];

    u.ptr = "Which \t OF";
    u.len = (uint32_t)strlen(u.ptr);
    u.kind = ALLOT_UNIT_BIGRAM;
    ASSERT_STR_EQ(allot_unit_name(&u, buf, sizeof buf), "which of");
    u.ptr = "  Don't!! ";
    u.len = (uint32_t)strlen(u.ptr);
    u.kind = ALLOT_UNIT_WORD;
    ASSERT_STR_EQ(allot_unit_name(&u, buf, sizeof buf), "dont");
    /* a signal's name is copied as it is, cut to the buffer */
    u.ptr = "tool result last";
    u.len = (uint32_t)strlen(u.ptr);
    u.kind = ALLOT_UNIT_SIGNAL;
    ASSERT_STR_EQ(allot_unit_name(&u, buf, sizeof buf), "tool result last");
    ASSERT_STR_EQ(allot_unit_name(&u, buf, 5), "tool");
    /* the returned pointer is buf */
    ASSERT(allot_unit_name(&u, buf, sizeof buf) == buf);
}

/* 1 when s is well-formed UTF-8 (no cut sequence). */
static int valid_utf8(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        size_t need = *p < 0x80             ? 0
                      : (*p & 0xe0) == 0xc0 ? 1
                      : (*p & 0xf0) == 0xe0 ? 2
                      : (*p & 0xf8) == 0xf0 ? 3
                                            : 9;
        size_t k;
        if (need == 9)
            return 0;
        for (k = 1; k <= need; k++)
            if ((p[k] & 0xc0) != 0x80)
                return 0;
        p += need + 1;
    }
    return 1;
}

TEST(features_unit_name_never_ends_inside_utf8)
{
    /* "Résumé über 東京 naïve", mixed 2- and 3-byte sequences */
    static const char text[] = "R\xc3\xa9sum\xc3\xa9 \xc3\xbc"
                               "ber \xe6\x9d\xb1\xe4\xba\xac na\xc3\xafve";
    struct allot_unit u;
    char full[128], buf[128];
    size_t cap;

    u.ptr = text;
    u.len = (uint32_t)(sizeof text - 1);
    u.kind = ALLOT_UNIT_BIGRAM;
    allot_unit_name(&u, full, sizeof full);
    ASSERT(valid_utf8(full));
    for (cap = 1; cap <= sizeof text + 2; cap++) {
        allot_unit_name(&u, buf, cap);
        if (strlen(buf) >= cap)
            TEST_FAIL_("cap %zu: wrote %zu bytes", cap, strlen(buf));
        if (!valid_utf8(buf))
            TEST_FAIL_("cap %zu: \"%s\" ends inside a UTF-8 sequence", cap, buf);
        if (strncmp(full, buf, strlen(buf)) != 0)
            TEST_FAIL_("cap %zu: \"%s\" is not a prefix of \"%s\"", cap, buf, full);
    }
}

/* A word that ends in a non-ASCII letter is shown whole: the UTF-8 guard
 * must drop only an incomplete sequence cut by the buffer, not a complete
 * last character ("café" must not be explained as "caf"). */
TEST(features_unit_name_keeps_a_final_multibyte_letter)
{
    struct allot_unit u;
    char buf[64];

    u.ptr = "Caf\xc3\xa9";
    u.len = (uint32_t)strlen(u.ptr);
    u.kind = ALLOT_UNIT_WORD;
    ASSERT_STR_EQ(allot_unit_name(&u, buf, sizeof buf), "caf\xc3\xa9");
    u.ptr = "\xe6\x9d\xb1\xe4\xba\xac"; /* 東京 */
    u.len = (uint32_t)strlen(u.ptr);
    ASSERT_STR_EQ(allot_unit_name(&u, buf, sizeof buf), "\xe6\x9d\xb1\xe4\xba\xac");
}

/* Every feature (bucket, value bits, unit) and every unit (kind, text)
 * the same, and each unit pointing into its own request's text. */
static int identical(const struct allot_features *a, const struct allot_features *b,
                     const struct req *qb)
{
    size_t i;
    if (!same_features(a, b) || a->n_units != b->n_units)
        return 0;
    for (i = 0; i < a->n; i++)
        if (a->f[i].unit != b->f[i].unit)
            return 0;
    for (i = 0; i < a->n_units; i++) {
        const struct allot_unit *x = &a->units[i], *y = &b->units[i];
        if (x->kind != y->kind || x->len != y->len || memcmp(x->ptr, y->ptr, x->len) != 0)
            return 0;
        if (y->kind != ALLOT_UNIT_SIGNAL &&
            !(y->ptr >= qb->in.system.ptr &&
              y->ptr + y->len <= qb->in.system.ptr + qb->in.system.len) &&
            !(y->ptr >= qb->in.last_user.ptr &&
              y->ptr + y->len <= qb->in.last_user.ptr + qb->in.last_user.len))
            return 0;
    }
    return 1;
}

/* q's features read afresh, and then with its system prompt remembered
 * from a request with another user turn (primer): identical, and the
 * second time copied, not read. */
static int same_remembered(struct req *q, const char *primer, unsigned bits)
{
    struct req p;
    struct allot_features *fresh, *primed, *again;
    size_t before;
    int ok;

    allot_features_forget();
    fresh = extract(q, bits);
    allot_features_forget();
    req_init(&p, q->in.system.ptr, primer);
    free(extract(&p, bits));
    before = allot_features_replayed();
    primed = extract(q, bits);
    again = extract(q, bits);
    ok = identical(fresh, primed, q) && identical(fresh, again, q) &&
         allot_features_replayed() == before + 2;
    free(fresh);
    free(primed);
    free(again);
    return ok;
}

TEST(features_system_prompt_remembered_gives_the_same_features)
{
    static const char *const users[] = {
        "Summarise this article in five bullet points:\n\n" PARA400,
        "Which is better for a small team, Postgres or MySQL? Weigh the tradeoffs.",
        "Go",
        "",
        "\xe8\xaf\xb7\xe6\x80\xbb\xe7\xbb\x93\xe8\xbf\x99\xe7\xaf\x87\xe6\x96\x87\xe7\xab\xa0",
        "Extract every date.\n\n" PARA400 "\n\n" PARA400 "\n\nReturn them as JSON.",
    };
    /* cues over their per-zone cap, numbers, '?', an apostrophe, CJK */
    static const char *const systems[] = {
        "You are a careful assistant for a newsroom. Answer in plain English.",
        "Review the code. Review the code. Review the code. Is it safe? Don't guess: "
        "check 3 things, then 12 more. \xe4\xbd\xa0\xe5\xa5\xbd.",
        ENGLISH,
    };
    struct req q;
    size_t i, j;

    for (i = 0; i < sizeof systems / sizeof systems[0]; i++)
        for (j = 0; j < sizeof users / sizeof users[0]; j++) {
            req_init(&q, systems[i], users[j]);
            ASSERT(same_remembered(&q, "Write a haiku about rain.", 17));
            ASSERT(same_remembered(&q, users[(j + 1) % (sizeof users / sizeof users[0])], 12));
        }
}

/* A system prompt that fits what is kept (about 500 units), after a user
 * turn dense enough that the two together pass ALLOT_UNITS_MAX: copying it
 * would not fit, so it is read again (and cut) as if never seen. */
TEST(features_system_prompt_remembered_not_copied_past_the_caps)
{
    char sys[501], user[1401];
    struct req q;
    struct allot_features *fresh, *got;
    size_t i, before;

    for (i = 0; i + 1 < sizeof sys; i += 2) {
        sys[i] = (char)('a' + i / 2 % 26);
        sys[i + 1] = ' ';
    }
    sys[sizeof sys - 1] = '\0';
    for (i = 0; i + 1 < sizeof user; i += 2) {
        user[i] = (char)('a' + i / 2 % 26);
        user[i + 1] = ' ';
    }
    user[sizeof user - 1] = '\0';
    allot_features_forget();
    req_init(&q, sys, "Go");
    free(extract(&q, 17)); /* kept */
    req_init(&q, sys, "Go on");
    before = allot_features_replayed();
    free(extract(&q, 17));
    ASSERT_INT_EQ(allot_features_replayed(), before + 1);

    req_init(&q, sys, user);
    got = extract(&q, 17);
    ASSERT_INT_EQ(allot_features_replayed(), before + 1); /* read, not copied */
    ASSERT_INT_EQ(got->n_units, ALLOT_UNITS_MAX);
    allot_features_forget();
    fresh = extract(&q, 17);
    ASSERT(identical(fresh, got, &q));
    free(fresh);
    free(got);
}

/* More system prompts than are kept, in turn; hash bits changed; one too
 * dense to keep (1200 bytes of one-letter words): always as if read. */
TEST(features_system_prompts_replaced_and_uncacheable_read_again)
{
    char names[6][48], dense[1300];
    struct req q;
    struct allot_features *fresh, *got;
    size_t i, round;

    for (i = 0; i + 2 < sizeof dense; i += 2) {
        dense[i] = (char)('a' + i % 26);
        dense[i + 1] = ' ';
    }
    dense[sizeof dense - 1] = '\0';
    for (i = 0; i < 6; i++)
        snprintf(names[i], sizeof names[i], "You are assistant number %zu of six.", i);
    allot_features_forget();
    for (round = 0; round < 3; round++)
        for (i = 0; i < 7; i++) {
            const char *s = i < 6 ? names[i] : dense;
            unsigned bits = round == 1 ? 14 : 17;
            req_init(&q, s, "Summarise the meeting notes below:\n\n" PARA400);
            got = extract(&q, bits);
            allot_features_forget();
            fresh = extract(&q, bits);
            ASSERT(identical(fresh, got, &q));
            free(fresh);
            free(got);
        }
}
