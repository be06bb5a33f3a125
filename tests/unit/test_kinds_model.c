/* test_kinds_model.c: the kind-of-work model (kinds_model.h): training a
 * tiny model, its file format and every way a file can be refused, reloading
 * the model in use (classify.h), and the labelled-data reader
 * (kinds_data.h). */
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "allot/buf.h"
#include "allot/chat_request.h"
#include "allot/classify.h"
#include "allot/error.h"
#include "allot/features.h"
#include "allot/instruction.h"
#include "allot/kinds.h"
#include "allot/kinds_data.h"
#include "allot/kinds_model.h"
#include "test.h"
#include "tmpdir.h"

#define TINY_BITS 12
#define HEADER 32
#define BIAS_AT (HEADER + 16 * ALLOT_CAT__COUNT)
#define WEIGHTS_AT (BIAS_AT + 4 * ALLOT_CAT__COUNT)

/* --- a tiny synthetic data set: 4 categories, 10 examples each --- */

static const char *const summarise_objs[] = {"article", "report",        "thread",  "email",
                                             "paper",   "meeting notes", "chapter", "transcript",
                                             "memo",    "blog post"};
static const char *const convert_pairs[][2] = {
    {"YAML", "JSON"}, {"CSV", "XML"},      {"TOML", "YAML"}, {"Markdown", "HTML"},
    {"JSON", "CSV"},  {"XML", "YAML"},     {"INI", "TOML"},  {"HTML", "Markdown"},
    {"Excel", "CSV"}, {"protobuf", "JSON"}};
static const char *const countries[] = {"France", "Peru",  "Japan", "Kenya",  "Canada",
                                        "Norway", "Chile", "Egypt", "Poland", "Vietnam"};
static const char *const tasks[][2] = {
    {"C", "parses an ISO-8601 date"},       {"Python", "reverses a linked list"},
    {"Go", "reads a file line by line"},    {"Rust", "merges two sorted vectors"},
    {"Java", "validates an email address"}, {"C", "computes a CRC-32"},
    {"Python", "retries an HTTP request"},  {"TypeScript", "debounces a callback"},
    {"Go", "implements a token bucket"},    {"Rust", "parses command-line flags"}};

#define N_PER_CAT 10
#define N_TINY (4 * N_PER_CAT)

struct tiny {
    char text[N_TINY][128];
    enum allot_category label[N_TINY];
};

/* The examples; labels permuted when swap is set (a model that answers
 * differently from the built-in one, to tell which is in use). */
static void tiny_examples(struct tiny *t, int swap)
{
    size_t i;
    for (i = 0; i < N_PER_CAT; i++) {
        snprintf(t->text[i], sizeof t->text[i], "Summarise this %s in %zu bullet points.",
                 summarise_objs[i], i % 4 + 3);
        t->label[i] = swap ? ALLOT_CAT_SCAN : ALLOT_CAT_SUMMARIZE;
        snprintf(t->text[N_PER_CAT + i], sizeof t->text[0], "Convert this %s file to %s.",
                 convert_pairs[i][0], convert_pairs[i][1]);
        t->label[N_PER_CAT + i] = swap ? ALLOT_CAT_COMPOSE : ALLOT_CAT_CONVERT;
        snprintf(t->text[2 * N_PER_CAT + i], sizeof t->text[0], "What is the capital of %s?",
                 countries[i]);
        t->label[2 * N_PER_CAT + i] = swap ? ALLOT_CAT_PLAN : ALLOT_CAT_ANSWER;
        snprintf(t->text[3 * N_PER_CAT + i], sizeof t->text[0], "Write a %s function that %s.",
                 tasks[i][0], tasks[i][1]);
        t->label[3 * N_PER_CAT + i] = swap ? ALLOT_CAT_RISK : ALLOT_CAT_IMPLEMENT;
    }
}

static void instruction_of(const char *text, struct allot_instruction *in)
{
    memset(in, 0, sizeof *in);
    in->last_user = allot_slice_cstr(text);
    in->n_messages = 1;
}

static int tiny_trainset(const struct tiny *t, struct allot_kinds_trainset *ts)
{
    struct allot_features *f = malloc(sizeof *f);
    size_t i;
    int rc = 0;
    if (!f)
        return ALLOT_ENOMEM;
    allot_kinds_trainset_init(ts, TINY_BITS);
    for (i = 0; !rc && i < N_TINY; i++) {
        struct allot_instruction in;
        struct allot_instruction_view v;
        instruction_of(t->text[i], &in);
        allot_instruction_view(&in, &v);
        allot_features_extract(&in, &v, TINY_BITS, f);
        rc = allot_kinds_trainset_add(ts, f, t->label[i]);
    }
    free(f);
    return rc;
}

/* Train the tiny model (swap: permuted labels). */
static int train_tiny(int swap, uint64_t seed, unsigned calib_folds, struct allot_kinds_model **out)
{
    struct tiny t;
    struct allot_kinds_trainset ts;
    struct allot_kinds_train_opts o;
    int rc;

    tiny_examples(&t, swap);
    rc = tiny_trainset(&t, &ts);
    allot_kinds_train_opts_default(&o);
    o.seed = seed;
    o.calib_folds = calib_folds;
    if (rc == 0)
        rc = allot_kinds_train(&ts, NULL, 0, &o, out);
    allot_kinds_trainset_release(&ts);
    return rc;
}

static int write_bytes(struct allot_kinds_model *m, struct allot_buf *b)
{
    allot_buf_init(b, 128u << 20);
    return allot_kinds_model_write(m, b);
}

static int write_file(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    int ok;
    if (!f)
        return -1;
    ok = fwrite(p, 1, n, f) == n;
    return fclose(f) == 0 && ok ? 0 : -1;
}

static uint32_t crc32_ref(const unsigned char *p, size_t n)
{
    uint32_t c = 0xffffffffu;
    size_t i;
    int k;
    for (i = 0; i < n; i++) {
        c ^= p[i];
        for (k = 0; k < 8; k++)
            c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
    }
    return ~c;
}

static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_le32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}

static void fix_crc(unsigned char *p, size_t n)
{
    put_le32(p + n - 4, crc32_ref(p, n - 4));
}

static int same_model(const struct allot_kinds_model *a, const struct allot_kinds_model *b)
{
    return a->hash_bits == b->hash_bits && a->n_examples == b->n_examples &&
           memcmp(&a->temperature, &b->temperature, sizeof a->temperature) == 0 &&
           memcmp(a->bias, b->bias, sizeof a->bias) == 0 &&
           memcmp(a->buckets, b->buckets, ((size_t)1 << a->hash_bits) * sizeof *a->buckets) == 0;
}

/* --- training --- */

TEST(kinds_model_tiny_model_predicts_its_training_examples)
{
    struct tiny t;
    struct allot_kinds_model *m = NULL;
    size_t i, wrong = 0;

    tiny_examples(&t, 0);
    ASSERT_INT_EQ(train_tiny(0, 1, 0, &m), 0);
    ASSERT_INT_EQ(m->hash_bits, TINY_BITS);
    ASSERT_INT_EQ(m->n_examples, N_TINY);
    ASSERT_DBL_NEAR(m->temperature, 1.0, 0); /* no calibration folds: T = 1 */
    for (i = 0; i < N_TINY; i++) {
        struct allot_instruction in;
        struct allot_classification c;
        instruction_of(t.text[i], &in);
        allot_classify_with(m, &in, &c);
        if (c.category != t.label[i]) {
            fprintf(stderr, "  \"%s\": want %s, got %s\n", t.text[i],
                    allot_category_name(t.label[i]), allot_category_name(c.category));
            wrong++;
        }
        ASSERT(c.confidence > 0 && c.confidence <= 1);
        ASSERT(c.runner_up != c.category);
        ASSERT(c.runner_up_confidence <= c.confidence);
    }
    ASSERT_INT_EQ(wrong, 0);
    allot_kinds_model_free(m);
}

TEST(kinds_model_calibration_changes_only_the_temperature)
{
    struct allot_kinds_model *plain = NULL, *cal = NULL;

    ASSERT_INT_EQ(train_tiny(0, 1, 0, &plain), 0);
    ASSERT_INT_EQ(train_tiny(0, 1, 3, &cal), 0);
    ASSERT(cal->temperature >= 0.05f && cal->temperature <= 20.0f);
    ASSERT(cal->temperature != 1.0f);
    /* the final fit is the same: same weights, same predicted categories */
    ASSERT(memcmp(plain->bias, cal->bias, sizeof plain->bias) == 0);
    ASSERT(memcmp(plain->buckets, cal->buckets, sizeof *plain->buckets << TINY_BITS) == 0);
    ASSERT_INT_EQ(cal->n_examples, N_TINY);
    allot_kinds_model_free(plain);
    allot_kinds_model_free(cal);
}

TEST(kinds_model_training_is_deterministic_per_seed)
{
    struct allot_kinds_model *a = NULL, *b = NULL, *c = NULL;
    struct allot_buf ba, bb, bc;

    ASSERT_INT_EQ(train_tiny(0, 7, 3, &a), 0);
    ASSERT_INT_EQ(train_tiny(0, 7, 3, &b), 0);
    /* no calibration folds here: the seed's only use is the shuffle order */
    ASSERT_INT_EQ(train_tiny(0, 8, 0, &c), 0);
    c->temperature = a->temperature;
    ASSERT_INT_EQ(write_bytes(a, &ba), 0);
    ASSERT_INT_EQ(write_bytes(b, &bb), 0);
    ASSERT_INT_EQ(write_bytes(c, &bc), 0);
    ASSERT_INT_EQ(ba.len, bb.len);
    ASSERT(memcmp(ba.ptr, bb.ptr, ba.len) == 0);
    ASSERT_INT_EQ(ba.len, bc.len);
    ASSERT(memcmp(ba.ptr, bc.ptr, ba.len) != 0); /* another seed, another order */
    allot_buf_release(&ba);
    allot_buf_release(&bb);
    allot_buf_release(&bc);
    allot_kinds_model_free(a);
    allot_kinds_model_free(b);
    allot_kinds_model_free(c);
}

/* Dropout (the default) changes the fit, and the fit still learns the
 * tiny set; without it training is the plain SGD of earlier versions. */
TEST(kinds_model_dropout_changes_the_fit_deterministically)
{
    struct tiny t;
    struct allot_kinds_trainset ts;
    struct allot_kinds_train_opts o;
    struct allot_kinds_model *plain = NULL, *drop = NULL, *again = NULL;
    size_t i, wrong = 0;

    tiny_examples(&t, 0);
    ASSERT_INT_EQ(tiny_trainset(&t, &ts), 0);
    allot_kinds_train_opts_default(&o);
    ASSERT_DBL_NEAR(o.dropout, 0.5, 0);
    o.calib_folds = 0;
    ASSERT_INT_EQ(allot_kinds_train(&ts, NULL, 0, &o, &drop), 0);
    ASSERT_INT_EQ(allot_kinds_train(&ts, NULL, 0, &o, &again), 0);
    o.dropout = 0;
    ASSERT_INT_EQ(allot_kinds_train(&ts, NULL, 0, &o, &plain), 0);
    ASSERT(memcmp(drop->buckets, again->buckets, sizeof *drop->buckets << TINY_BITS) == 0);
    ASSERT(memcmp(drop->buckets, plain->buckets, sizeof *drop->buckets << TINY_BITS) != 0);
    for (i = 0; i < N_TINY; i++) {
        struct allot_instruction in;
        struct allot_classification c;
        instruction_of(t.text[i], &in);
        allot_classify_with(plain, &in, &c);
        wrong += c.category != t.label[i];
    }
    ASSERT_INT_EQ(wrong, 0);
    allot_kinds_trainset_release(&ts);
    allot_kinds_model_free(plain);
    allot_kinds_model_free(drop);
    allot_kinds_model_free(again);
}

/* The tier's log loss (tier_weight, default 3) changes the fit, the same
 * way twice, and the fit still learns the tiny set; tier_weight 0 trains
 * on the category's loss alone, as earlier versions did. */
TEST(kinds_model_tier_weight_changes_the_fit_deterministically)
{
    struct tiny t;
    struct allot_kinds_trainset ts;
    struct allot_kinds_train_opts o;
    struct allot_kinds_model *cat_only = NULL, *tiered = NULL, *again = NULL;
    size_t i, wrong = 0;

    tiny_examples(&t, 0);
    ASSERT_INT_EQ(tiny_trainset(&t, &ts), 0);
    allot_kinds_train_opts_default(&o);
    ASSERT_DBL_NEAR(o.tier_weight, 3, 0);
    o.calib_folds = 0;
    ASSERT_INT_EQ(allot_kinds_train(&ts, NULL, 0, &o, &tiered), 0);
    ASSERT_INT_EQ(allot_kinds_train(&ts, NULL, 0, &o, &again), 0);
    o.tier_weight = 0;
    ASSERT_INT_EQ(allot_kinds_train(&ts, NULL, 0, &o, &cat_only), 0);
    ASSERT(memcmp(tiered->buckets, again->buckets, sizeof *tiered->buckets << TINY_BITS) == 0);
    ASSERT(memcmp(tiered->buckets, cat_only->buckets, sizeof *tiered->buckets << TINY_BITS) != 0);
    for (i = 0; i < N_TINY; i++) {
        struct allot_instruction in;
        struct allot_classification c;
        instruction_of(t.text[i], &in);
        allot_classify_with(tiered, &in, &c);
        wrong += c.category != t.label[i];
    }
    ASSERT_INT_EQ(wrong, 0);
    allot_kinds_trainset_release(&ts);
    allot_kinds_model_free(cat_only);
    allot_kinds_model_free(tiered);
    allot_kinds_model_free(again);
}

TEST(kinds_model_train_refuses_no_rows)
{
    struct allot_kinds_trainset ts;
    struct allot_kinds_train_opts o;
    struct allot_kinds_model sentinel, *out = &sentinel;
    struct allot_kinds_model *m = NULL;
    struct tiny t;
    size_t rows[1] = {0};

    allot_kinds_trainset_init(&ts, TINY_BITS);
    allot_kinds_train_opts_default(&o);
    ASSERT_INT_EQ(allot_kinds_train(&ts, NULL, 0, &o, &out), ALLOT_EINVAL);
    ASSERT(out == &sentinel);
    tiny_examples(&t, 0);
    ASSERT_INT_EQ(tiny_trainset(&t, &ts), 0);
    ASSERT_INT_EQ(allot_kinds_train(&ts, rows, 0, &o, &out), ALLOT_EINVAL);
    o.epochs = 0;
    ASSERT_INT_EQ(allot_kinds_train(&ts, NULL, 0, &o, &out), ALLOT_EINVAL);
    ASSERT(out == &sentinel);
    /* a subset of rows: the model counts only them */
    o.epochs = 5;
    ASSERT_INT_EQ(allot_kinds_train(&ts, rows, 1, &o, &m), 0);
    ASSERT_INT_EQ(m->n_examples, 1);
    allot_kinds_model_free(m);
    allot_kinds_trainset_release(&ts);
}

TEST(kinds_model_stratified_folds_spread_each_category)
{
    struct tiny t;
    struct allot_kinds_trainset ts;
    unsigned fold[N_TINY], per[3][ALLOT_CAT__COUNT], size[3] = {0};
    size_t i;
    int c;

    tiny_examples(&t, 0);
    ASSERT_INT_EQ(tiny_trainset(&t, &ts), 0);
    ASSERT_INT_EQ(ts.n, N_TINY);
    ASSERT_INT_EQ(ts.off[0], 0);
    ASSERT_INT_EQ(ts.off[N_TINY], ts.n_feat);
    memset(per, 0, sizeof per);
    allot_kinds_stratified_folds(&ts, 3, 42, fold);
    for (i = 0; i < N_TINY; i++) {
        ASSERT(fold[i] < 3);
        per[fold[i]][ts.label[i]]++;
        size[fold[i]]++;
    }
    /* 40 examples in 3 folds: 13 or 14 each; 10 of a category: 3 or 4 */
    for (i = 0; i < 3; i++) {
        ASSERT(size[i] == 13 || size[i] == 14);
        for (c = 0; c < ALLOT_CAT__COUNT; c++)
            if (c == ALLOT_CAT_SUMMARIZE || c == ALLOT_CAT_CONVERT || c == ALLOT_CAT_ANSWER ||
                c == ALLOT_CAT_IMPLEMENT)
                ASSERT(per[i][c] == 3 || per[i][c] == 4);
            else
                ASSERT_INT_EQ(per[i][c], 0);
    }
    allot_kinds_trainset_release(&ts);
}

/* --- the file --- */

TEST(kinds_model_file_layout_matches_the_documented_format)
{
    struct allot_kinds_model *m = NULL;
    struct allot_buf b;
    const unsigned char *p;
    float temp;
    uint32_t u;
    size_t i, n_w = (size_t)ALLOT_CAT__COUNT << TINY_BITS, n_b = (size_t)1 << TINY_BITS;

    ASSERT_INT_EQ(train_tiny(0, 1, 3, &m), 0);
    ASSERT_INT_EQ(write_bytes(m, &b), 0);
    p = (const unsigned char *)b.ptr;
    ASSERT_INT_EQ(b.len, WEIGHTS_AT + 4 * n_b + n_w + 4);
    ASSERT(memcmp(p, "ALLOTKND", 8) == 0);
    ASSERT_INT_EQ(le32(p + 8), 3);
    ASSERT_INT_EQ(le32(p + 12), ALLOT_CAT__COUNT);
    ASSERT_INT_EQ(le32(p + 16), TINY_BITS);
    ASSERT_INT_EQ(le32(p + 20), N_TINY);
    u = le32(p + 24);
    memcpy(&temp, &u, 4);
    ASSERT(memcmp(&temp, &m->temperature, 4) == 0);
    ASSERT_INT_EQ(le32(p + 28), 0);
    for (i = 0; i < ALLOT_CAT__COUNT; i++) {
        const char *name = allot_category_name((enum allot_category)i);
        const unsigned char *field = p + HEADER + 16 * i;
        size_t k;
        ASSERT(memcmp(field, name, strlen(name)) == 0);
        for (k = strlen(name); k < 16; k++)
            ASSERT_INT_EQ(field[k], 0);
        u = le32(p + BIAS_AT + 4 * i);
        ASSERT(memcmp(&u, &m->bias[i], 4) == 0);
    }
    for (i = 0; i < n_w; i++) { /* bucket-major: bucket b's 16 weights together */
        float scale, w;
        int e;
        u = le32(p + WEIGHTS_AT + 4 * (i / 16));
        memcpy(&scale, &u, 4);
        /* the scale is zero or a power of two */
        if (scale != 0 && frexpf(scale, &e) != 0.5f)
            TEST_FAIL_("bucket %zu: scale %g is not a power of two", i / 16, (double)scale);
        w = (float)(int8_t)p[WEIGHTS_AT + 4 * n_b + i] * scale;
        if (w != allot_kinds_model_weight(m, i / 16, (int)(i % 16)))
            TEST_FAIL_("weight %zu (bucket %zu, category %zu) differs", i, i / 16, i % 16);
        if (i % 16 == 0 && scale != 0) { /* the bucket's largest weight uses the range */
            int c, big = 0;
            for (c = 0; c < 16; c++) {
                int q = (int8_t)p[WEIGHTS_AT + 4 * n_b + i + c];
                big = abs(q) > big ? abs(q) : big;
            }
            if (big < 64 || big > 127)
                TEST_FAIL_("bucket %zu: largest |q| %d is outside [64, 127]", i / 16, big);
        }
    }
    ASSERT_INT_EQ(le32(p + b.len - 4), crc32_ref(p, b.len - 4));
    allot_buf_release(&b);
    allot_kinds_model_free(m);
}

/* Models saved by an earlier allot (format version 1: f32 weights; 2: the
 * weights of the features before signed hashing) are refused with the
 * advice to retrain, however whole they are: scored with today's features
 * they would route quietly worse. */
TEST(kinds_model_earlier_versions_are_refused_with_retrain_advice)
{
    struct allot_kinds_model *m = NULL, *back = NULL;
    struct allot_buf v3, err;
    unsigned char *p;
    size_t n_w = (size_t)ALLOT_CAT__COUNT << TINY_BITS, n1 = WEIGHTS_AT + 4 * n_w + 4;
    uint32_t version;

    ASSERT_INT_EQ(train_tiny(0, 1, 3, &m), 0);
    ASSERT_INT_EQ(write_bytes(m, &v3), 0);
    ASSERT_INT_EQ(le32((const unsigned char *)v3.ptr + 8), 3);
    allot_buf_init(&err, 4096);
    for (version = 1; version <= 2; version++) {
        /* a whole file of that version: its length, its checksum */
        size_t n = version == 1 ? n1 : v3.len;
        p = calloc(1, n);
        ASSERT(p != NULL);
        memcpy(p, v3.ptr, version == 1 ? WEIGHTS_AT : n);
        put_le32(p + 8, version);
        fix_crc(p, n);
        allot_buf_reset(&err);
        ASSERT_INT_EQ(allot_kinds_model_from_bytes(p, n, "old.model", &back, &err), ALLOT_EPARSE);
        ASSERT(back == NULL);
        ASSERT_STR_CONTAINS(allot_buf_cstr(&err), "old.model");
        ASSERT_STR_CONTAINS(allot_buf_cstr(&err), "was trained on an earlier allot's features; "
                                                  "retrain it with `allot train kinds`");
        free(p);
    }
    allot_buf_release(&v3);
    allot_buf_release(&err);
    allot_kinds_model_free(m);
}

/* The rounding of set_weights, by hand: the largest weight of a bucket
 * lands at 64..127 times a power of two, the others are multiples of it. */
TEST(kinds_model_set_weights_rounds_to_int8_with_power_of_two_scales)
{
    struct allot_kinds_model *m = NULL;
    float *w;
    size_t n_w = (size_t)ALLOT_CAT__COUNT << TINY_BITS;

    ASSERT_INT_EQ(allot_kinds_model_new(TINY_BITS, &m), 0);
    w = calloc(n_w, sizeof *w);
    ASSERT(w != NULL);
    w[0] = 0.5f; /* bucket 0: scale 2^-7, 0.5 -> 64 */
    w[1] = -0.25f;
    w[2] = 0.001f;  /* below half a step: 0 */
    w[16] = 0.999f; /* bucket 1: 0.999 * 128 > 127, so scale 2^-6: 64 */
    w[17] = -0.5f;
    w[32] = 3.0f; /* bucket 2: 3 = 0.75 * 2^2, scale 2^-5: 96 */
    allot_kinds_model_set_weights(m, w);
    ASSERT(m->buckets[0].scale == 1.0f / 128);
    ASSERT_INT_EQ(m->buckets[0].q[0], 64);
    ASSERT_INT_EQ(m->buckets[0].q[1], -32);
    ASSERT_INT_EQ(m->buckets[0].q[2], 0);
    ASSERT(m->buckets[1].scale == 1.0f / 64);
    ASSERT_INT_EQ(m->buckets[1].q[0], 64);
    ASSERT_INT_EQ(m->buckets[1].q[1], -32);
    ASSERT(m->buckets[2].scale == 1.0f / 32);
    ASSERT_INT_EQ(m->buckets[2].q[0], 96);
    ASSERT(m->buckets[3].scale == 0.0f); /* an empty bucket */
    ASSERT(allot_kinds_model_weight(m, 2, 0) == 3.0f);
    free(w);
    allot_kinds_model_free(m);
}

/* A trained model saved and loaded is the same model, byte for byte, and
 * writes the same file again. */
TEST(kinds_model_trained_model_roundtrips_exactly)
{
    struct allot_kinds_model *m = NULL, *back = NULL;
    struct allot_buf a, b, err;

    ASSERT_INT_EQ(train_tiny(0, 1, 3, &m), 0);
    ASSERT_INT_EQ(write_bytes(m, &a), 0);
    allot_buf_init(&err, 4096);
    ASSERT_INT_EQ(allot_kinds_model_from_bytes(a.ptr, a.len, "mem", &back, &err), 0);
    ASSERT(same_model(m, back));
    ASSERT_INT_EQ(write_bytes(back, &b), 0);
    ASSERT_INT_EQ(a.len, b.len);
    ASSERT(memcmp(a.ptr, b.ptr, a.len) == 0);
    allot_buf_release(&a);
    allot_buf_release(&b);
    allot_buf_release(&err);
    allot_kinds_model_free(m);
    allot_kinds_model_free(back);
}

TEST(kinds_model_write_is_deterministic)
{
    struct allot_kinds_model *m = NULL;
    struct allot_buf a, b;

    ASSERT_INT_EQ(train_tiny(0, 1, 0, &m), 0);
    ASSERT_INT_EQ(write_bytes(m, &a), 0);
    ASSERT_INT_EQ(write_bytes(m, &b), 0);
    ASSERT_INT_EQ(a.len, b.len);
    ASSERT(memcmp(a.ptr, b.ptr, a.len) == 0);
    /* write appends: a second write after the first gives the same bytes again */
    ASSERT_INT_EQ(allot_kinds_model_write(m, &a), 0);
    ASSERT_INT_EQ(a.len, 2 * b.len);
    ASSERT(memcmp(a.ptr + b.len, b.ptr, b.len) == 0);
    allot_buf_release(&a);
    allot_buf_release(&b);
    allot_kinds_model_free(m);
}

TEST(kinds_model_save_load_roundtrip_is_bit_exact)
{
    struct tmpdir td;
    struct allot_kinds_model *m = NULL, *back = NULL, *from_mem = NULL;
    struct allot_buf err, bytes;
    char path[256];

    ASSERT_INT_EQ(tmpdir_make(&td, "kinds-model"), 0);
    snprintf(path, sizeof path, "%s/tiny.model", td.dir);
    allot_buf_init(&err, 4096);
    ASSERT_INT_EQ(train_tiny(0, 3, 3, &m), 0);
    ASSERT_INT_EQ(allot_kinds_model_save(m, path, &err), 0);
    ASSERT_STR_EQ(allot_buf_cstr(&err), "");
    ASSERT_INT_EQ(allot_kinds_model_load(path, &back, &err), 0);
    ASSERT(same_model(m, back));
    /* saving over an existing file replaces it */
    ASSERT_INT_EQ(allot_kinds_model_save(back, path, &err), 0);
    allot_kinds_model_free(back);
    back = NULL;
    ASSERT_INT_EQ(allot_kinds_model_load(path, &back, &err), 0);
    ASSERT(same_model(m, back));
    /* from bytes too */
    ASSERT_INT_EQ(write_bytes(m, &bytes), 0);
    ASSERT_INT_EQ(allot_kinds_model_from_bytes(bytes.ptr, bytes.len, "mem", &from_mem, &err), 0);
    ASSERT(same_model(m, from_mem));
    allot_buf_release(&bytes);
    allot_buf_release(&err);
    allot_kinds_model_free(m);
    allot_kinds_model_free(back);
    allot_kinds_model_free(from_mem);
    tmpdir_remove(&td);
}

/* Load the bytes p[0..n) from a file; expect rc and err containing want
 * and the path, and *out untouched. Returns 1 on success, else 0 with a
 * message on stderr. */
static int refused(const char *dir, const void *p, size_t n, int want_rc, const char *want)
{
    char path[256];
    struct allot_kinds_model sentinel, *out = &sentinel;
    struct allot_buf err;
    int rc, ok;

    snprintf(path, sizeof path, "%s/bad.model", dir);
    if (write_file(path, p, n) != 0)
        return 0;
    allot_buf_init(&err, 4096);
    rc = allot_kinds_model_load(path, &out, &err);
    ok = rc == want_rc && out == &sentinel && strstr(allot_buf_cstr(&err), want) &&
         strstr(allot_buf_cstr(&err), path);
    if (rc == 0 && out != &sentinel)
        allot_kinds_model_free(out);
    if (!ok)
        fprintf(stderr, "  want %d \"%s\", got %d \"%s\"%s\n", want_rc, want, rc,
                allot_buf_cstr(&err), out == &sentinel ? "" : " (and *out was set)");
    allot_buf_release(&err);
    return ok;
}

TEST(kinds_model_refuses_damaged_files)
{
    struct tmpdir td;
    struct allot_kinds_model *m = NULL;
    struct allot_buf good;
    unsigned char *p;
    size_t n;
    float t;
    uint32_t u;

    ASSERT_INT_EQ(tmpdir_make(&td, "kinds-model"), 0);
    ASSERT_INT_EQ(train_tiny(0, 1, 0, &m), 0);
    ASSERT_INT_EQ(write_bytes(m, &good), 0);
    n = good.len;
    p = malloc(n + 16);
    ASSERT(p != NULL);

    /* truncated in the weights */
    ASSERT(refused(td.dir, good.ptr, n - 1024, ALLOT_EPARSE, "truncated"));
    ASSERT(refused(td.dir, good.ptr, n - 1, ALLOT_EPARSE, "truncated"));
    /* trailing bytes */
    memcpy(p, good.ptr, n);
    memset(p + n, 0, 16);
    ASSERT(refused(td.dir, p, n + 16, ALLOT_EPARSE, "trailing bytes"));
    /* one flipped byte in the weights */
    memcpy(p, good.ptr, n);
    p[WEIGHTS_AT + 4 * 16 * 100 + 2] ^= 0x40;
    ASSERT(refused(td.dir, p, n, ALLOT_EPARSE, "checksum"));
    /* one flipped bit in the CRC itself */
    memcpy(p, good.ptr, n);
    p[n - 1] ^= 0x01;
    ASSERT(refused(td.dir, p, n, ALLOT_EPARSE, "checksum"));
    /* wrong magic */
    memcpy(p, good.ptr, n);
    memcpy(p, "ALLOTKNX", 8);
    ASSERT(refused(td.dir, p, n, ALLOT_EPARSE, "not an allot kinds model"));
    ASSERT(refused(td.dir, "hello, world\n", 13, ALLOT_EPARSE, "not an allot kinds model"));
    ASSERT(refused(td.dir, "", 0, ALLOT_EPARSE, "not an allot kinds model"));
    /* a later version, even with a valid checksum */
    memcpy(p, good.ptr, n);
    put_le32(p + 8, 4);
    fix_crc(p, n);
    ASSERT(refused(td.dir, p, n, ALLOT_EPARSE, "format version 4, this allot reads version 3"));
    /* another number of categories */
    memcpy(p, good.ptr, n);
    put_le32(p + 12, 17);
    fix_crc(p, n);
    ASSERT(refused(td.dir, p, n, ALLOT_EPARSE, "17 categories"));
    /* hash_bits out of range */
    memcpy(p, good.ptr, n);
    put_le32(p + 16, 9);
    fix_crc(p, n);
    ASSERT(refused(td.dir, p, n, ALLOT_EPARSE, "hash_bits 9"));
    /* a category renamed (a model for another taxonomy) */
    memcpy(p, good.ptr, n);
    memcpy(p + HEADER + 16 * ALLOT_CAT_SCAN, "skim", 4);
    fix_crc(p, n);
    ASSERT(refused(td.dir, p, n, ALLOT_EPARSE, "'skim', this allot expects 'scan'"));
    /* a category name longer by one byte in its padding */
    memcpy(p, good.ptr, n);
    p[HEADER + 16 * ALLOT_CAT_PLAN + 4] = 's';
    fix_crc(p, n);
    ASSERT(refused(td.dir, p, n, ALLOT_EPARSE, "expects 'plan'"));
    /* a temperature that is not a positive number */
    memcpy(p, good.ptr, n);
    t = -1.0f;
    memcpy(&u, &t, 4);
    put_le32(p + 24, u);
    fix_crc(p, n);
    ASSERT(refused(td.dir, p, n, ALLOT_EPARSE, "temperature"));
    memcpy(p, good.ptr, n);
    put_le32(p + 24, 0x7fc00000u); /* NaN */
    fix_crc(p, n);
    ASSERT(refused(td.dir, p, n, ALLOT_EPARSE, "temperature"));
    /* and the good bytes still load from the same path */
    {
        char path[256];
        struct allot_kinds_model *back = NULL;
        snprintf(path, sizeof path, "%s/bad.model", td.dir);
        ASSERT_INT_EQ(write_file(path, good.ptr, n), 0);
        ASSERT_INT_EQ(allot_kinds_model_load(path, &back, NULL), 0);
        ASSERT(same_model(m, back));
        allot_kinds_model_free(back);
    }

    free(p);
    allot_buf_release(&good);
    allot_kinds_model_free(m);
    tmpdir_remove(&td);
}

/* A file cut off inside its 32-byte header still starts "ALLOTKND": the
 * message must say it is truncated (kinds_model.c: "the size first (so a
 * truncated file says so)"), not that it has no "ALLOTKND" header. */
TEST(kinds_model_file_cut_inside_the_header_says_truncated)
{
    struct tmpdir td;
    struct allot_kinds_model *m = NULL;
    struct allot_buf good;
    int ok;

    ASSERT_INT_EQ(tmpdir_make(&td, "kinds-model"), 0);
    ASSERT_INT_EQ(train_tiny(0, 1, 0, &m), 0);
    ASSERT_INT_EQ(write_bytes(m, &good), 0);
    ok = refused(td.dir, good.ptr, 20, ALLOT_EPARSE, "truncated");
    allot_buf_release(&good);
    allot_kinds_model_free(m);
    tmpdir_remove(&td);
    ASSERT(ok);
}

TEST(kinds_model_missing_file_is_an_io_error_naming_the_path)
{
    struct allot_kinds_model sentinel, *out = &sentinel;
    struct allot_buf err;
    const char *path = "/nonexistent-allot-dir/kinds.model";

    allot_buf_init(&err, 4096);
    ASSERT_INT_EQ(allot_kinds_model_load(path, &out, &err), ALLOT_EIO);
    ASSERT(out == &sentinel);
    ASSERT_STR_CONTAINS(allot_buf_cstr(&err), path);
    ASSERT_STR_CONTAINS(allot_buf_cstr(&err), "No such file");
    /* a directory cannot be read as a model either */
    allot_buf_reset(&err);
    ASSERT(allot_kinds_model_load("/tmp", &out, &err) < 0);
    ASSERT(out == &sentinel);
    ASSERT_STR_CONTAINS(allot_buf_cstr(&err), "/tmp");
    /* a NULL err is allowed */
    ASSERT_INT_EQ(allot_kinds_model_load(path, &out, NULL), ALLOT_EIO);
    allot_buf_release(&err);
}

TEST(kinds_model_save_to_an_unwritable_path_fails)
{
    struct allot_kinds_model *m = NULL;
    struct allot_buf err;

    allot_buf_init(&err, 4096);
    ASSERT_INT_EQ(allot_kinds_model_new(ALLOT_HASH_BITS_MIN, &m), 0);
    ASSERT_INT_EQ(allot_kinds_model_save(m, "/nonexistent-allot-dir/x.model", &err), ALLOT_EIO);
    ASSERT_STR_CONTAINS(allot_buf_cstr(&err), "/nonexistent-allot-dir/x.model");
    allot_buf_release(&err);
    allot_kinds_model_free(m);
}

TEST(kinds_model_new_checks_hash_bits)
{
    struct allot_kinds_model sentinel, *out = &sentinel;
    double p[ALLOT_CAT__COUNT];
    float z[ALLOT_CAT__COUNT];
    int c;

    ASSERT_INT_EQ(allot_kinds_model_new(ALLOT_HASH_BITS_MIN - 1, &out), ALLOT_EINVAL);
    ASSERT_INT_EQ(allot_kinds_model_new(ALLOT_HASH_BITS_MAX + 1, &out), ALLOT_EINVAL);
    ASSERT(out == &sentinel);
    ASSERT_INT_EQ(allot_kinds_model_new(ALLOT_HASH_BITS_MIN, &out), 0);
    ASSERT(out != &sentinel);
    ASSERT_DBL_NEAR(out->temperature, 1.0, 0);
    /* a zero model: every category equally likely */
    memset(z, 0, sizeof z);
    allot_kinds_model_probs(out, z, p);
    for (c = 0; c < ALLOT_CAT__COUNT; c++)
        ASSERT_DBL_NEAR(p[c], 1.0 / ALLOT_CAT__COUNT, 1e-12);
    allot_kinds_model_free(out);
    allot_kinds_model_free(NULL);
}

TEST(kinds_model_probs_apply_the_temperature)
{
    struct allot_kinds_model *m = NULL;
    float z[ALLOT_CAT__COUNT];
    double p1[ALLOT_CAT__COUNT], p2[ALLOT_CAT__COUNT], sum = 0;
    int c;

    ASSERT_INT_EQ(allot_kinds_model_new(ALLOT_HASH_BITS_MIN, &m), 0);
    memset(z, 0, sizeof z);
    z[ALLOT_CAT_PLAN] = 2.0f;
    allot_kinds_model_probs(m, z, p1);
    for (c = 0; c < ALLOT_CAT__COUNT; c++)
        sum += p1[c];
    ASSERT_DBL_NEAR(sum, 1.0, 1e-12);
    ASSERT_DBL_NEAR(p1[ALLOT_CAT_PLAN], exp(2.0) / (exp(2.0) + 15), 1e-9);
    m->temperature = 2.0f; /* softmax(z / 2) */
    allot_kinds_model_probs(m, z, p2);
    ASSERT_DBL_NEAR(p2[ALLOT_CAT_PLAN], exp(1.0) / (exp(1.0) + 15), 1e-9);
    ASSERT(p2[ALLOT_CAT_PLAN] < p1[ALLOT_CAT_PLAN]);
    allot_kinds_model_free(m);
}

/* ALLOT_HASH_BITS_MAX is a valid size (allot_kinds_model_new accepts it,
 * the reader accepts it): a model of that size must save and load. */
TEST(kinds_model_largest_hash_bits_saves_and_loads)
{
    struct tmpdir td;
    struct allot_kinds_model *m = NULL, *back = NULL;
    struct allot_buf err;
    char path[256];
    int rc;

    ASSERT_INT_EQ(tmpdir_make(&td, "kinds-model"), 0);
    snprintf(path, sizeof path, "%s/big.model", td.dir);
    allot_buf_init(&err, 4096);
    ASSERT_INT_EQ(allot_kinds_model_new(ALLOT_HASH_BITS_MAX, &m), 0);
    m->buckets[771].scale = 1.0f / 128; /* bucket 771, category 9: 64 * 2^-7 = 0.5 */
    m->buckets[771].q[9] = 64;
    rc = allot_kinds_model_save(m, path, &err);
    if (rc == 0)
        rc = allot_kinds_model_load(path, &back, &err);
    if (rc)
        fprintf(stderr, "  %s\n", allot_buf_cstr(&err));
    allot_kinds_model_free(m);
    allot_buf_release(&err);
    tmpdir_remove(&td);
    ASSERT_INT_EQ(rc, 0);
    ASSERT_INT_EQ(back->hash_bits, ALLOT_HASH_BITS_MAX);
    ASSERT_DBL_NEAR(allot_kinds_model_weight(back, 771, 9), 0.5, 0);
    allot_kinds_model_free(back);
}

/* --- reloading the model in use (classify.h) --- */

static const char *const summarise_prompt = "Summarise this article in 5 bullet points.";

static struct allot_classification classify_text(const char *text)
{
    struct allot_instruction in;
    struct allot_classification c;
    instruction_of(text, &in);
    allot_classify(&in, &c);
    return c;
}

/* The steps; the TEST below puts the built-in model back whatever happens
 * here, so later tests see it. */
static void reload_steps(int *allot_test_failed_, const char *dir)
{
    char good[256], bad[256], missing[256], src[512];
    struct allot_kinds_model *tiny = NULL, *builtin = NULL;
    struct allot_buf err, bytes;
    struct allot_instruction in;
    struct allot_classification want_tiny, want_builtin, c;

    snprintf(good, sizeof good, "%s/good.model", dir);
    snprintf(bad, sizeof bad, "%s/bad.model", dir);
    snprintf(missing, sizeof missing, "%s/missing.model", dir);
    allot_buf_init(&err, 4096);
    ASSERT(allot__kinds_builtin_size > 0);
    ASSERT_INT_EQ(allot_kinds_model_from_bytes(allot__kinds_builtin, allot__kinds_builtin_size,
                                               "built-in", &builtin, &err),
                  0);
    /* the tiny model answers "scan" where the built-in one does not */
    ASSERT_INT_EQ(train_tiny(1, 1, 0, &tiny), 0);
    ASSERT_INT_EQ(allot_kinds_model_save(tiny, good, &err), 0);
    ASSERT_INT_EQ(write_bytes(tiny, &bytes), 0);
    bytes.ptr[WEIGHTS_AT + 7] ^= 0x10;
    ASSERT_INT_EQ(write_file(bad, bytes.ptr, bytes.len), 0);
    allot_buf_release(&bytes);
    instruction_of(summarise_prompt, &in);
    allot_classify_with(tiny, &in, &want_tiny);
    allot_classify_with(builtin, &in, &want_builtin);
    ASSERT_INT_EQ(want_tiny.category, ALLOT_CAT_SCAN);
    ASSERT_INT_NE(want_builtin.category, ALLOT_CAT_SCAN);

    allot_classifier_use_builtin();
    ASSERT_STR_EQ(allot_classifier_source(src, sizeof src), "built-in");

    /* a damaged file: refused, the built-in model stays */
    ASSERT_INT_EQ(allot_classifier_use_file(bad, &err), ALLOT_EPARSE);
    ASSERT_STR_CONTAINS(allot_buf_cstr(&err), bad);
    ASSERT_STR_CONTAINS(allot_buf_cstr(&err), "checksum");
    ASSERT_STR_EQ(allot_classifier_source(src, sizeof src), "built-in");
    c = classify_text(summarise_prompt);
    ASSERT_INT_EQ(c.category, want_builtin.category);
    ASSERT_DBL_NEAR(c.confidence, want_builtin.confidence, 0);
    allot_buf_reset(&err);
    ASSERT_INT_EQ(allot_classifier_use_file(missing, &err), ALLOT_EIO);
    ASSERT_STR_CONTAINS(allot_buf_cstr(&err), missing);
    ASSERT_STR_EQ(allot_classifier_source(src, sizeof src), "built-in");

    /* a good file: in use at once */
    allot_buf_reset(&err);
    ASSERT_INT_EQ(allot_classifier_use_file(good, &err), 0);
    ASSERT_STR_EQ(allot_classifier_source(src, sizeof src), good);
    c = classify_text(summarise_prompt);
    ASSERT_INT_EQ(c.category, ALLOT_CAT_SCAN);
    ASSERT_DBL_NEAR(c.confidence, want_tiny.confidence, 0);

    /* a damaged file after it: the good file's model stays */
    ASSERT(allot_classifier_use_file(bad, &err) < 0);
    ASSERT_STR_EQ(allot_classifier_source(src, sizeof src), good);
    ASSERT_INT_EQ(classify_text(summarise_prompt).category, ALLOT_CAT_SCAN);

    /* back to the built-in model */
    allot_classifier_use_builtin();
    ASSERT_STR_EQ(allot_classifier_source(src, sizeof src), "built-in");
    c = classify_text(summarise_prompt);
    ASSERT_INT_EQ(c.category, want_builtin.category);
    ASSERT_DBL_NEAR(c.confidence, want_builtin.confidence, 0);

    allot_buf_release(&err);
    allot_kinds_model_free(tiny);
    allot_kinds_model_free(builtin);
}

TEST(kinds_model_reload_keeps_the_old_model_on_error)
{
    struct tmpdir td;
    ASSERT_INT_EQ(tmpdir_make(&td, "kinds-reload"), 0);
    reload_steps(allot_test_failed_, td.dir);
    allot_classifier_use_builtin();
    tmpdir_remove(&td);
}

struct reload_race {
    enum allot_category builtin_cat;
    int stop;
    int bad; /* a classification from neither model */
    unsigned done;
    pthread_mutex_t mu;
};

static void *classify_loop(void *arg)
{
    struct reload_race *r = arg;
    unsigned n = 0;
    for (;;) {
        struct allot_classification c = classify_text(summarise_prompt);
        int stop;
        pthread_mutex_lock(&r->mu);
        if (c.category != ALLOT_CAT_SCAN && c.category != r->builtin_cat)
            r->bad++;
        stop = r->stop;
        pthread_mutex_unlock(&r->mu);
        if (stop && ++n > 10)
            break;
    }
    pthread_mutex_lock(&r->mu);
    r->done++;
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

/* A new temporary directory holding the tiny model with permuted labels
 * (train_tiny(1, 1, 0)) at path (DIR/good.model), and the built-in model
 * in use: the start of the reload tests. */
static int tiny_model_file(struct tmpdir *td, const char *tag, char *path, size_t cap)
{
    struct allot_kinds_model *tiny = NULL;
    struct allot_buf err;
    int rc;

    if ((rc = tmpdir_make(td, tag)) != 0)
        return rc;
    snprintf(path, cap, "%s/good.model", td->dir);
    allot_buf_init(&err, 4096);
    rc = train_tiny(1, 1, 0, &tiny);
    if (rc == 0)
        rc = allot_kinds_model_save(tiny, path, &err);
    allot_kinds_model_free(tiny);
    allot_buf_release(&err);
    allot_classifier_use_builtin();
    return rc;
}

/* Requests keep being classified while the model is swapped under them:
 * each sees one whole model, and no model is freed while in use (run under
 * ASan to see the latter). */
TEST(kinds_model_reload_while_classifying)
{
    struct tmpdir td;
    struct allot_buf err;
    struct reload_race r;
    pthread_t th[4];
    char good[256];
    size_t i;
    int rc = 0;

    ASSERT_INT_EQ(tiny_model_file(&td, "kinds-reload", good, sizeof good), 0);
    allot_buf_init(&err, 4096);
    memset(&r, 0, sizeof r);
    pthread_mutex_init(&r.mu, NULL);
    r.builtin_cat = classify_text(summarise_prompt).category;
    ASSERT_INT_NE(r.builtin_cat, ALLOT_CAT_SCAN);
    for (i = 0; i < 4; i++)
        ASSERT_INT_EQ(pthread_create(&th[i], NULL, classify_loop, &r), 0);
    for (i = 0; i < 40 && rc == 0; i++) {
        if (i % 2 == 0)
            rc = allot_classifier_use_file(good, &err);
        else
            allot_classifier_use_builtin();
    }
    pthread_mutex_lock(&r.mu);
    r.stop = 1;
    pthread_mutex_unlock(&r.mu);
    for (i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    allot_classifier_use_builtin();
    pthread_mutex_destroy(&r.mu);
    allot_buf_release(&err);
    tmpdir_remove(&td);
    ASSERT_INT_EQ(rc, 0);
    ASSERT_INT_EQ(r.done, 4);
    ASSERT_INT_EQ(r.bad, 0);
}

/* A thread that classified before a reload, and keeps its reference to
 * the model it used then (classify.c), classifies with the new model at
 * its next call, and the old model is freed once no thread holds it (run
 * under ASan to see the latter). */
struct later {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int step; /* 1: the thread classified; 2: reloaded; 3: it classified again */
    enum allot_category before, after;
};

static void *classify_before_and_after(void *arg)
{
    struct later *l = arg;
    enum allot_category c = classify_text(summarise_prompt).category;
    pthread_mutex_lock(&l->mu);
    l->before = c;
    l->step = 1;
    pthread_cond_broadcast(&l->cv);
    while (l->step < 2)
        pthread_cond_wait(&l->cv, &l->mu);
    pthread_mutex_unlock(&l->mu);
    c = classify_text(summarise_prompt).category;
    pthread_mutex_lock(&l->mu);
    l->after = c;
    l->step = 3;
    pthread_cond_broadcast(&l->cv);
    pthread_mutex_unlock(&l->mu);
    return NULL;
}

TEST(kinds_model_reload_reaches_a_thread_that_classified_before)
{
    struct tmpdir td;
    struct allot_buf err;
    struct later l;
    pthread_t th;
    char good[256];
    int rc;

    ASSERT_INT_EQ(tiny_model_file(&td, "kinds-later", good, sizeof good), 0);
    allot_buf_init(&err, 4096);
    memset(&l, 0, sizeof l);
    pthread_mutex_init(&l.mu, NULL);
    pthread_cond_init(&l.cv, NULL);
    ASSERT_INT_EQ(pthread_create(&th, NULL, classify_before_and_after, &l), 0);
    pthread_mutex_lock(&l.mu);
    while (l.step < 1)
        pthread_cond_wait(&l.cv, &l.mu);
    pthread_mutex_unlock(&l.mu);
    rc = allot_classifier_use_file(good, &err);
    pthread_mutex_lock(&l.mu);
    l.step = 2;
    pthread_cond_broadcast(&l.cv);
    pthread_mutex_unlock(&l.mu);
    pthread_join(th, NULL);
    /* this thread too, after another reload back and forth */
    allot_classifier_use_builtin();
    ASSERT_INT_NE(classify_text(summarise_prompt).category, ALLOT_CAT_SCAN);
    ASSERT_INT_EQ(allot_classifier_use_file(good, &err), 0);
    ASSERT_INT_EQ(classify_text(summarise_prompt).category, ALLOT_CAT_SCAN);
    allot_classifier_use_builtin();
    pthread_cond_destroy(&l.cv);
    pthread_mutex_destroy(&l.mu);
    allot_buf_release(&err);
    tmpdir_remove(&td);
    ASSERT_INT_EQ(rc, 0);
    ASSERT_INT_EQ(l.step, 3);
    ASSERT_INT_NE(l.before, ALLOT_CAT_SCAN);
    ASSERT_INT_EQ(l.after, ALLOT_CAT_SCAN);
}

/* --- the labelled-data reader (kinds_data.h) --- */

struct seen {
    size_t n;
    enum allot_category cat[16];
    size_t line[16];
    char file[16][256];
    char user[16][128];
    char system[16][128];
    int has_tools[16], has_rf[16];
    size_t n_messages[16];
    int stop_at; /* return 99 at this example (1-based), 0: never */
};

static int on_example(void *ctx, const struct allot_chat_request *r, enum allot_category category,
                      const char *file, size_t line)
{
    struct seen *s = ctx;
    size_t i = s->n;
    if (i < 16) {
        s->cat[i] = category;
        s->line[i] = line;
        snprintf(s->file[i], sizeof s->file[i], "%s", file);
        snprintf(s->user[i], sizeof s->user[i], "%.*s", (int)r->last_user.len, r->last_user.ptr);
        snprintf(s->system[i], sizeof s->system[i], "%.*s", (int)r->system.len, r->system.ptr);
        s->has_tools[i] = r->has_tools;
        s->has_rf[i] = r->has_response_format;
        s->n_messages[i] = r->n_messages;
    }
    s->n++;
    return s->stop_at && (int)s->n == s->stop_at ? 99 : 0;
}

/* Write text to DIR/name; the path into path. */
static int put_file(const struct tmpdir *td, const char *name, const char *text, char *path,
                    size_t cap)
{
    snprintf(path, cap, "%s/%s", td->dir, name);
    return write_file(path, text, strlen(text));
}

static int read_data(const char *path, struct seen *s, struct allot_buf *err)
{
    int stop = s->stop_at;
    memset(s, 0, sizeof *s);
    s->stop_at = stop;
    allot_buf_reset(err);
    return allot_kinds_data_read(path, on_example, s, err);
}

TEST(kinds_data_reads_prompts_and_skips_blank_lines)
{
    struct tmpdir td;
    struct allot_buf err;
    struct seen s;
    char path[256];

    ASSERT_INT_EQ(tmpdir_make(&td, "kinds-data"), 0);
    allot_buf_init(&err, 4096);
    ASSERT_INT_EQ(put_file(&td, "a.jsonl",
                           "{\"category\": \"summarize\", \"prompt\": \"Summarise this.\", "
                           "\"source\": \"ignored\"}\n"
                           "\n"
                           "   \t \r\n"
                           "{\"category\": \"answer\", \"prompt\": \"Who wrote Dune?\"}\r\n"
                           "{\"category\": \"implement\", \"prompt\": \"Line\\nbreak\"}",
                           path, sizeof path),
                  0);
    memset(&s, 0, sizeof s);
    ASSERT_INT_EQ(read_data(path, &s, &err), 0);
    ASSERT_STR_EQ(allot_buf_cstr(&err), "");
    ASSERT_INT_EQ(s.n, 3);
    ASSERT_INT_EQ(s.cat[0], ALLOT_CAT_SUMMARIZE);
    ASSERT_INT_EQ(s.line[0], 1);
    ASSERT_STR_EQ(s.user[0], "Summarise this.");
    ASSERT_INT_EQ(s.n_messages[0], 1);
    ASSERT_INT_EQ(s.cat[1], ALLOT_CAT_ANSWER);
    ASSERT_INT_EQ(s.line[1], 4); /* blank lines still count as lines */
    ASSERT_STR_EQ(s.user[1], "Who wrote Dune?");
    ASSERT_INT_EQ(s.cat[2], ALLOT_CAT_IMPLEMENT);
    ASSERT_INT_EQ(s.line[2], 5); /* no final newline */
    ASSERT_STR_EQ(s.user[2], "Line\nbreak");
    ASSERT_STR_EQ(s.file[0], path);
    allot_buf_release(&err);
    tmpdir_remove(&td);
}

TEST(kinds_data_bad_category_names_file_and_line)
{
    struct tmpdir td;
    struct allot_buf err;
    struct seen s;
    char path[256], want[300];

    ASSERT_INT_EQ(tmpdir_make(&td, "kinds-data"), 0);
    allot_buf_init(&err, 4096);
    ASSERT_INT_EQ(put_file(&td, "a.jsonl",
                           "{\"category\": \"summarize\", \"prompt\": \"a\"}\n"
                           "{\"category\": \"answer\", \"prompt\": \"b\"}\n"
                           "{\"category\": \"sumarize\", \"prompt\": \"c\"}\n"
                           "{\"category\": \"answer\", \"prompt\": \"d\"}\n",
                           path, sizeof path),
                  0);
    memset(&s, 0, sizeof s);
    ASSERT_INT_EQ(read_data(path, &s, &err), ALLOT_EINVAL);
    snprintf(want, sizeof want, "%s:3:", path);
    ASSERT_STR_CONTAINS(allot_buf_cstr(&err), want);
    ASSERT_STR_CONTAINS(allot_buf_cstr(&err), "category");
    ASSERT_INT_EQ(s.n, 2); /* the lines before were read, none after */

    /* a category that is not a string */
    ASSERT_INT_EQ(
        put_file(&td, "b.jsonl", "{\"category\": 3, \"prompt\": \"a\"}\n", path, sizeof path), 0);
    ASSERT_INT_EQ(read_data(path, &s, &err), ALLOT_EINVAL);
    snprintf(want, sizeof want, "%s:1:", path);
    ASSERT_STR_CONTAINS(allot_buf_cstr(&err), want);
    ASSERT_INT_EQ(s.n, 0);
    allot_buf_release(&err);
    tmpdir_remove(&td);
}

TEST(kinds_data_line_that_is_not_json)
{
    struct tmpdir td;
    struct allot_buf err;
    struct seen s;
    char path[256], want[300];

    ASSERT_INT_EQ(tmpdir_make(&td, "kinds-data"), 0);
    allot_buf_init(&err, 4096);
    ASSERT_INT_EQ(put_file(&td, "a.jsonl",
                           "{\"category\": \"answer\", \"prompt\": \"b\"}\n"
                           "category: answer, prompt: b\n",
                           path, sizeof path),
                  0);
    memset(&s, 0, sizeof s);
    ASSERT_INT_EQ(read_data(path, &s, &err), ALLOT_EPARSE);
    snprintf(want, sizeof want, "%s:2:", path);
    ASSERT_STR_CONTAINS(allot_buf_cstr(&err), want);
    ASSERT_STR_CONTAINS(allot_buf_cstr(&err), "not a JSON object");
    ASSERT_INT_EQ(s.n, 1);
    /* JSON, but not an object */
    ASSERT_INT_EQ(put_file(&td, "b.jsonl", "[\"answer\", \"b\"]\n", path, sizeof path), 0);
    ASSERT_INT_EQ(read_data(path, &s, &err), ALLOT_EPARSE);
    ASSERT_STR_CONTAINS(allot_buf_cstr(&err), "not a JSON object");
    /* a truncated object */
    ASSERT_INT_EQ(put_file(&td, "c.jsonl", "{\"category\": \"answer\", \"prompt\": \"b\"\n", path,
                           sizeof path),
                  0);
    ASSERT_INT_EQ(read_data(path, &s, &err), ALLOT_EPARSE);
    allot_buf_release(&err);
    tmpdir_remove(&td);
}

TEST(kinds_data_needs_a_prompt_or_messages)
{
    struct tmpdir td;
    struct allot_buf err;
    struct seen s;
    char path[256], want[300];

    ASSERT_INT_EQ(tmpdir_make(&td, "kinds-data"), 0);
    allot_buf_init(&err, 4096);
    ASSERT_INT_EQ(put_file(&td, "a.jsonl", "{\"category\": \"answer\", \"text\": \"b\"}\n", path,
                           sizeof path),
                  0);
    memset(&s, 0, sizeof s);
    ASSERT_INT_EQ(read_data(path, &s, &err), ALLOT_EINVAL);
    snprintf(want, sizeof want, "%s:1:", path);
    ASSERT_STR_CONTAINS(allot_buf_cstr(&err), want);
    ASSERT_STR_CONTAINS(allot_buf_cstr(&err), "\"prompt\"");
    ASSERT_INT_EQ(s.n, 0);
    /* a prompt that is not a string */
    ASSERT_INT_EQ(
        put_file(&td, "b.jsonl", "{\"category\": \"answer\", \"prompt\": 42}\n", path, sizeof path),
        0);
    ASSERT_INT_EQ(read_data(path, &s, &err), ALLOT_EINVAL);
    ASSERT_STR_CONTAINS(allot_buf_cstr(&err), "\"prompt\"");
    /* messages that the request parser refuses */
    ASSERT_INT_EQ(put_file(&td, "c.jsonl", "{\"category\": \"answer\", \"messages\": []}\n", path,
                           sizeof path),
                  0);
    ASSERT(read_data(path, &s, &err) < 0);
    snprintf(want, sizeof want, "%s:1:", path);
    ASSERT_STR_CONTAINS(allot_buf_cstr(&err), want);
    ASSERT_STR_CONTAINS(allot_buf_cstr(&err), "messages");
    ASSERT_INT_EQ(s.n, 0);
    allot_buf_release(&err);
    tmpdir_remove(&td);
}

TEST(kinds_data_messages_with_tools_and_response_format)
{
    struct tmpdir td;
    struct allot_buf err;
    struct seen s;
    char path[256];

    ASSERT_INT_EQ(tmpdir_make(&td, "kinds-data"), 0);
    allot_buf_init(&err, 4096);
    ASSERT_INT_EQ(
        put_file(&td, "a.jsonl",
                 "{\"category\": \"decide\", \"messages\": ["
                 "{\"role\": \"system\", \"content\": \"You pick vendors.\"},"
                 "{\"role\": \"user\", \"content\": \"Earlier question\"},"
                 "{\"role\": \"assistant\", \"content\": \"Earlier answer\"},"
                 "{\"role\": \"user\", \"content\": \"Which of the two quotes should we take?\"}],"
                 " \"tools\": [{\"type\": \"function\", \"function\": {\"name\": \"lookup\"}}],"
                 " \"response_format\": {\"type\": \"json_object\"}}\n"
                 "{\"category\": \"answer\", \"messages\": ["
                 "{\"role\": \"user\", \"content\": \"Plain\"}]}\n",
                 path, sizeof path),
        0);
    memset(&s, 0, sizeof s);
    ASSERT_INT_EQ(read_data(path, &s, &err), 0);
    ASSERT_INT_EQ(s.n, 2);
    ASSERT_INT_EQ(s.cat[0], ALLOT_CAT_DECIDE);
    ASSERT_INT_EQ(s.has_tools[0], 1);
    ASSERT_INT_EQ(s.has_rf[0], 1);
    ASSERT_INT_EQ(s.n_messages[0], 4);
    ASSERT_STR_EQ(s.system[0], "You pick vendors.");
    ASSERT_STR_EQ(s.user[0], "Which of the two quotes should we take?");
    ASSERT_INT_EQ(s.has_tools[1], 0);
    ASSERT_INT_EQ(s.has_rf[1], 0);
    ASSERT_STR_EQ(s.user[1], "Plain");
    allot_buf_release(&err);
    tmpdir_remove(&td);
}

TEST(kinds_data_reads_a_directory_in_name_order)
{
    struct tmpdir td;
    struct allot_buf err;
    struct seen s;
    char pa[256], pb[256], pc[256], other[256];

    ASSERT_INT_EQ(tmpdir_make(&td, "kinds-data"), 0);
    allot_buf_init(&err, 4096);
    /* created out of order; a non-.jsonl file is ignored */
    ASSERT_INT_EQ(
        put_file(&td, "b.jsonl", "{\"category\": \"plan\", \"prompt\": \"b1\"}\n", pb, sizeof pb),
        0);
    ASSERT_INT_EQ(put_file(&td, "notes.txt", "not data at all\n", other, sizeof other), 0);
    ASSERT_INT_EQ(put_file(&td, "a.jsonl",
                           "{\"category\": \"risk\", \"prompt\": \"a1\"}\n"
                           "{\"category\": \"risk\", \"prompt\": \"a2\"}\n",
                           pa, sizeof pa),
                  0);
    ASSERT_INT_EQ(put_file(&td, "c.jsonl.bak", "garbage\n", pc, sizeof pc), 0);
    memset(&s, 0, sizeof s);
    ASSERT_INT_EQ(read_data(td.dir, &s, &err), 0);
    ASSERT_STR_EQ(allot_buf_cstr(&err), "");
    ASSERT_INT_EQ(s.n, 3);
    ASSERT_STR_EQ(s.user[0], "a1");
    ASSERT_STR_EQ(s.user[1], "a2");
    ASSERT_STR_EQ(s.user[2], "b1");
    ASSERT_STR_CONTAINS(s.file[0], "/a.jsonl");
    ASSERT_STR_CONTAINS(s.file[2], "/b.jsonl");
    ASSERT_INT_EQ(s.line[2], 1);
    ASSERT_INT_EQ(s.cat[2], ALLOT_CAT_PLAN);

    /* the callback stops the reading with its own code */
    memset(&s, 0, sizeof s);
    s.stop_at = 2;
    ASSERT_INT_EQ(read_data(td.dir, &s, &err), 99);
    ASSERT_INT_EQ(s.n, 2);
    allot_buf_release(&err);
    tmpdir_remove(&td);
}

TEST(kinds_data_missing_paths_and_empty_directories)
{
    struct tmpdir td;
    struct allot_buf err;
    struct seen s;

    ASSERT_INT_EQ(tmpdir_make(&td, "kinds-data"), 0);
    allot_buf_init(&err, 4096);
    memset(&s, 0, sizeof s);
    ASSERT_INT_EQ(read_data(td.dir, &s, &err), ALLOT_ENOTFOUND);
    ASSERT_STR_CONTAINS(allot_buf_cstr(&err), td.dir);
    ASSERT_STR_CONTAINS(allot_buf_cstr(&err), ".jsonl");
    ASSERT_INT_EQ(read_data("/nonexistent-allot-dir/x.jsonl", &s, &err), ALLOT_EIO);
    ASSERT_STR_CONTAINS(allot_buf_cstr(&err), "/nonexistent-allot-dir/x.jsonl");
    ASSERT_INT_EQ(s.n, 0);
    allot_buf_release(&err);
    tmpdir_remove(&td);
}
