/* test_accept.c: the acceptability model (accept.h) and the policy helpers
 * (eval.h): learning a topic signal from a synthetic outcome set, seeded
 * determinism, the example set, the examples built from outcomes (labels,
 * costs, errors), cross-validated predictions, the model file and every
 * way a file is refused, and the threshold calibration on RouteLLM's MMLU
 * outcomes (skipped when the shared data is absent). Every test name
 * contains "accept", so `unit_tests accept` runs them all. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "allot/accept.h"
#include "allot/classify.h"
#include "allot/buf.h"
#include "allot/chat_request.h"
#include "allot/crc32.h"
#include "allot/curve.h"
#include "allot/error.h"
#include "allot/eval.h"
#include "allot/instruction.h"
#include "allot/outcomes.h"
#include "test.h"
#include "tmpdir.h"

#define BITS 14 /* small tables: fast under ASan, still few collisions */
#define N_SYN 400

/* ---- helpers ---- */

static int write_bytes(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    int ok;
    if (!f)
        return -1;
    ok = fwrite(p, 1, n, f) == n;
    return fclose(f) == 0 && ok ? 0 : -1;
}

/* The whole file in a malloc'd buffer; NULL on failure. */
static unsigned char *read_all(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    unsigned char *p = NULL;
    long len;
    if (!f)
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (len = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
        (p = malloc((size_t)len + 1)) && fread(p, 1, (size_t)len, f) == (size_t)len) {
        *n = (size_t)len;
    } else {
        free(p);
        p = NULL;
    }
    fclose(f);
    return p;
}

static void put_le32(unsigned char *p, uint32_t x)
{
    p[0] = (unsigned char)x;
    p[1] = (unsigned char)(x >> 8);
    p[2] = (unsigned char)(x >> 16);
    p[3] = (unsigned char)(x >> 24);
}

/* Recompute the trailing CRC-32 after an edit, so that a test reaches the
 * check behind the checksum. */
static void fix_crc(unsigned char *p, size_t n)
{
    put_le32(p + n - 4, allot_crc32(p, n - 4));
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- a synthetic outcome set: the weak model knows cooking, not physics ---- */

static const char *const verbs[] = {"roast", "bake",  "simmer", "braise",
                                    "grill", "saute", "poach",  "steam"};
static const char *const foods[] = {"potatoes", "carrots", "chicken", "salmon",    "onions",
                                    "garlic",   "rice",    "lentils", "mushrooms", "pork"};
static const char *const dishes[] = {"soup",  "stew",      "curry",   "pie",
                                     "salad", "casserole", "risotto", "stir-fry"};
static const char *const concepts[] = {"superposition",
                                       "entanglement",
                                       "decoherence",
                                       "tunnelling",
                                       "spin",
                                       "wavefunction collapse",
                                       "the uncertainty principle"};
static const char *const things[] = {
    "Hilbert space",    "Bell inequalities",        "measurement",
    "eigenstates",      "gauge symmetry",           "qubit fidelity",
    "Feynman diagrams", "the Schrodinger equation", "bosons"};
static const char *const fields[] = {"mechanics", "computing", "field theory", "optics",
                                     "chromodynamics"};

#define NA(a) (sizeof(a) / sizeof((a)[0]))

/* Prompt i: even i cooking, odd i quantum; the combinations vary with i
 * (and with salt, to make prompts not in the training set). */
static void syn_prompt(size_t i, size_t salt, char *out, size_t cap)
{
    size_t j = i / 2 + salt;
    if (i % 2 == 0)
        snprintf(out, cap, "How long should I %s the %s for a %s? A home cooking recipe question.",
                 verbs[j % NA(verbs)], foods[(j / 3) % NA(foods)], dishes[(j / 7) % NA(dishes)]);
    else
        snprintf(out, cap, "Explain how %s relates to %s in quantum %s.",
                 concepts[j % NA(concepts)], things[(j / 2) % NA(things)],
                 fields[(j / 5) % NA(fields)]);
}

/* The JSONL of the set: "weak" right on cooking, wrong on quantum;
 * "strong" right on both. With holes: every 10th row's strong outcome is
 * unknown (null), every 25th row's weak one is absent. */
static int write_syn(const char *path, int holes)
{
    FILE *f = fopen(path, "wb");
    char prompt[256];
    size_t i;
    int ok;
    if (!f)
        return -1;
    for (i = 0; i < N_SYN; i++) {
        const char *weak = i % 2 == 0 ? "true" : "false";
        syn_prompt(i, 0, prompt, sizeof prompt);
        fprintf(f, "{\"id\":\"r%zu\",\"prompt\":\"%s\",\"category\":\"%s\",\"outcomes\":{", i,
                prompt, i % 2 == 0 ? "cooking" : "quantum");
        if (!(holes && i % 25 == 3))
            fprintf(f, "\"weak\":{\"correct\":%s},", weak);
        fprintf(f, "\"strong\":{\"correct\":%s}}}\n", holes && i % 10 == 5 ? "null" : "true");
    }
    ok = !ferror(f);
    return fclose(f) == 0 && ok ? 0 : -1;
}

struct syn {
    struct tmpdir td;
    char path[256];
    struct allot_outcomes *oc;
    struct allot_eval_data d;
};

static const char *const pair_names[2] = {"weak", "strong"};

static int syn_load(struct syn *s, int holes, struct allot_buf *err)
{
    int rc;
    memset(s, 0, sizeof *s);
    if (tmpdir_make(&s->td, "accept") != 0)
        return -1;
    snprintf(s->path, sizeof s->path, "%s/syn.jsonl", s->td.dir);
    if (write_syn(s->path, holes) != 0)
        return -1;
    if ((rc = allot_outcomes_load(s->path, NULL, &s->oc, err)))
        return rc;
    return allot_eval_data_build(s->oc, pair_names, 2, BITS, NULL, 0, 0, &s->d, err);
}

static void syn_release(struct syn *s)
{
    allot_eval_data_release(&s->d);
    allot_outcomes_free(s->oc);
    tmpdir_remove(&s->td);
}

/* The predicted qualities of a prompt the way the gateway would see it:
 * parsed as a chat request, scored from its instruction. */
static int predict_text(const struct allot_accept_model *m, const char *text, double *q)
{
    struct allot_chat_request r;
    struct allot_instruction in;
    struct allot_buf body, err;
    void *scratch = malloc(allot_accept_scratch_size());
    int rc;

    memset(&r, 0, sizeof r);
    allot_buf_init(&body, 1 << 20);
    allot_buf_init(&err, 4096);
    rc = !scratch;
    if (!rc)
        rc = allot_buf_adds(&body,
                            "{\"model\":\"auto\",\"messages\":[{\"role\":\"user\",\"content\":") ||
             allot_buf_add_json_str(&body, text, strlen(text)) || allot_buf_adds(&body, "}]}");
    if (!rc)
        rc = allot_chat_request_parse(&r, body.ptr, body.len, &err);
    if (!rc) {
        struct allot_classification cls;
        double q2[ALLOT_ACCEPT_MAX_HEADS];
        size_t h;
        allot_instruction_from_request(&r, &in);
        allot_accept_predict(m, &in, NULL, scratch, q);
        /* the gateway passes its decision's classification: the same numbers */
        allot_classify(&in, &cls);
        allot_accept_predict(m, &in, &cls, scratch, q2);
        for (h = 0; h < m->n_heads && !rc; h++)
            if (q2[h] != q[h])
                rc = -9;
    }
    allot_chat_request_release(&r);
    allot_buf_release(&body);
    allot_buf_release(&err);
    free(scratch);
    return rc;
}

/* ---- learning ---- */

TEST(accept_learns_which_topics_the_weak_model_gets_right)
{
    struct syn s;
    struct allot_buf err;
    struct allot_accept_opts o;
    struct allot_accept_model *m = NULL;
    double sum_w[2] = {0, 0}, sum_s[2] = {0, 0}, max_quantum_a = -1, min_cooking_a = 2;
    size_t i, cnt[2] = {0, 0};
    char text[256];

    allot_buf_init(&err, 4096);
    ASSERT_INT_EQ(syn_load(&s, 0, &err), 0);
    ASSERT_INT_EQ(s.d.set.n, N_SYN);
    allot_accept_opts_default(&o);
    ASSERT_INT_EQ(allot_accept_train(&s.d.set, NULL, 0, s.d.names, &o, &m), 0);
    ASSERT_INT_EQ(m->n_heads, 2);
    ASSERT_INT_EQ(m->hash_bits, BITS);
    ASSERT_INT_EQ(m->n_examples, N_SYN);
    ASSERT_STR_EQ(m->names[0], "weak");
    ASSERT_STR_EQ(m->names[1], "strong");
    ASSERT_INT_EQ(allot_accept_head(m, "strong"), 1);
    ASSERT_INT_EQ(allot_accept_head(m, "nope"), -1);

    /* on the training rows */
    for (i = 0; i < s.d.set.n; i++) {
        double q[2], a;
        int quantum = (int)(s.d.row[i] % 2);
        allot_accept_predict_row(m, &s.d.set, i, q);
        ASSERT(q[0] >= 0 && q[0] <= 1 && q[1] >= 0 && q[1] <= 1);
        sum_w[quantum] += q[0];
        sum_s[quantum] += q[1];
        cnt[quantum]++;
        a = allot_accept_score(q, 0, 1);
        ASSERT_DBL_NEAR(a, (1 - (q[1] - q[0])) / 2, 1e-15);
        if (quantum && a > max_quantum_a)
            max_quantum_a = a;
        if (!quantum && a < min_cooking_a)
            min_cooking_a = a;
    }
    fprintf(stderr,
            "  mean predicted quality: weak %.3f on cooking, %.3f on quantum; strong %.3f / "
            "%.3f; acceptability: cooking >= %.3f, quantum <= %.3f\n",
            sum_w[0] / (double)cnt[0], sum_w[1] / (double)cnt[1], sum_s[0] / (double)cnt[0],
            sum_s[1] / (double)cnt[1], min_cooking_a, max_quantum_a);
    ASSERT(sum_w[0] / (double)cnt[0] > 0.8);
    ASSERT(sum_w[1] / (double)cnt[1] < 0.2);
    ASSERT(sum_s[0] / (double)cnt[0] > 0.8);
    ASSERT(sum_s[1] / (double)cnt[1] > 0.8);
    /* every quantum prompt ranks below every cooking prompt: the lowest
     * acceptability goes to the strong model first */
    ASSERT(max_quantum_a < min_cooking_a);

    /* on prompts it never saw, scored as the gateway would score them */
    for (i = 0; i < 20; i++) {
        double q[2], a;
        syn_prompt(i, 1000 + i, text, sizeof text);
        ASSERT_INT_EQ(predict_text(m, text, q), 0);
        a = allot_accept_score(q, 0, 1);
        if (i % 2 == 0) {
            ASSERT(q[0] > 0.6);
            ASSERT(a > max_quantum_a);
        } else {
            ASSERT(q[0] < 0.4);
            ASSERT(a < min_cooking_a);
        }
    }
    allot_accept_model_free(m);
    syn_release(&s);
    allot_buf_release(&err);
}

/* The serving path (a request's instruction) and the training path (a
 * row of the set) read the same features: the same predictions. */
TEST(accept_predict_matches_predict_row)
{
    struct syn s;
    struct allot_buf err;
    struct allot_accept_opts o;
    struct allot_accept_model *m = NULL;
    size_t i;

    allot_buf_init(&err, 4096);
    ASSERT_INT_EQ(syn_load(&s, 0, &err), 0);
    allot_accept_opts_default(&o);
    o.epochs = 2;
    ASSERT_INT_EQ(allot_accept_train(&s.d.set, NULL, 0, s.d.names, &o, &m), 0);
    for (i = 0; i < s.d.set.n; i += 37) {
        double a[2], b[2];
        allot_accept_predict_row(m, &s.d.set, i, a);
        ASSERT_INT_EQ(predict_text(m, s.oc->rows[s.d.row[i]].prompt, b), 0);
        ASSERT_DBL_NEAR(a[0], b[0], 1e-12);
        ASSERT_DBL_NEAR(a[1], b[1], 1e-12);
    }
    allot_accept_model_free(m);
    syn_release(&s);
    allot_buf_release(&err);
}

TEST(accept_training_is_deterministic_for_a_seed)
{
    struct syn s;
    struct allot_buf err;
    struct allot_accept_opts o;
    struct allot_accept_model *a = NULL, *b = NULL, *c = NULL;
    size_t nw = (size_t)2 << BITS;

    allot_buf_init(&err, 4096);
    ASSERT_INT_EQ(syn_load(&s, 1, &err), 0);
    allot_accept_opts_default(&o);
    o.epochs = 3;
    ASSERT_INT_EQ(allot_accept_train(&s.d.set, NULL, 0, s.d.names, &o, &a), 0);
    ASSERT_INT_EQ(allot_accept_train(&s.d.set, NULL, 0, s.d.names, &o, &b), 0);
    o.seed = 7;
    ASSERT_INT_EQ(allot_accept_train(&s.d.set, NULL, 0, s.d.names, &o, &c), 0);
    /* bit-identical for the same seed */
    ASSERT(memcmp(a->w, b->w, nw * sizeof *a->w) == 0);
    ASSERT(memcmp(a->bias, b->bias, sizeof a->bias) == 0);
    /* another shuffle order, other weights */
    ASSERT(memcmp(a->w, c->w, nw * sizeof *a->w) != 0);
    allot_accept_model_free(a);
    allot_accept_model_free(b);
    allot_accept_model_free(c);
    syn_release(&s);
    allot_buf_release(&err);
}

TEST(accept_train_refuses_no_rows_and_too_many_heads)
{
    struct allot_accept_set s;
    struct allot_accept_opts o;
    struct allot_accept_model *m = NULL;
    size_t rows[1] = {0};

    allot_accept_opts_default(&o);
    ASSERT_INT_EQ(o.epochs, 8);
    ASSERT_INT_EQ(o.seed, 1);
    allot_accept_set_init(&s, BITS, 2);
    ASSERT_INT_EQ(allot_accept_train(&s, NULL, 0, NULL, &o, &m), ALLOT_EINVAL);
    ASSERT_INT_EQ(allot_accept_train(&s, rows, 0, NULL, &o, &m), ALLOT_EINVAL);
    ASSERT(m == NULL);
    allot_accept_set_release(&s);
    allot_accept_set_init(&s, BITS, ALLOT_ACCEPT_MAX_HEADS + 1);
    ASSERT_INT_EQ(allot_accept_train(&s, NULL, 0, NULL, &o, &m), ALLOT_EINVAL);
    ASSERT(m == NULL);
    allot_accept_set_release(&s);
}

/* ---- the example set ---- */

static int sets_equal(const struct allot_accept_set *a, const struct allot_accept_set *b)
{
    size_t i;
    if (a->n != b->n || a->n_feat != b->n_feat || a->n_heads != b->n_heads ||
        a->hash_bits != b->hash_bits)
        return 0;
    for (i = 0; i <= a->n; i++)
        if (a->off[i] != b->off[i])
            return 0;
    for (i = 0; i < a->n * a->n_heads; i++)
        if (memcmp(&a->label[i], &b->label[i], sizeof a->label[i]) != 0) /* NAN == NAN */
            return 0;
    return memcmp(a->idx, b->idx, a->n_feat * sizeof *a->idx) == 0 &&
           memcmp(a->val, b->val, a->n_feat * sizeof *a->val) == 0;
}

TEST(accept_set_append_equals_adding_one_by_one)
{
    struct allot_accept_set one, first, second, joined, other;
    struct allot_buf err;
    char text[256];
    size_t i, k = 17, n = 60;

    allot_buf_init(&err, 4096);
    allot_accept_set_init(&one, BITS, 3);
    allot_accept_set_init(&first, BITS, 3);
    allot_accept_set_init(&second, BITS, 3);
    allot_accept_set_init(&joined, BITS, 3);
    for (i = 0; i < n; i++) {
        float lab[3] = {(float)(i % 2), i % 5 == 0 ? NAN : 1.0f, (float)i / (float)n};
        syn_prompt(i, 3, text, sizeof text);
        ASSERT_INT_EQ(allot_accept_set_add(&one, text, NULL, lab, &err), 0);
        ASSERT_INT_EQ(allot_accept_set_add(i < k ? &first : &second, text, NULL, lab, &err), 0);
    }
    ASSERT_INT_EQ(one.n, n);
    ASSERT_INT_EQ(one.off[0], 0);
    ASSERT_INT_EQ(one.off[n], one.n_feat);
    for (i = 0; i < n; i++)
        ASSERT(one.off[i + 1] > one.off[i]); /* every prompt has features */
    /* into an empty set, then onto a non-empty one */
    ASSERT_INT_EQ(allot_accept_set_append(&joined, &first), 0);
    ASSERT(sets_equal(&joined, &first));
    ASSERT_INT_EQ(allot_accept_set_append(&joined, &second), 0);
    ASSERT(sets_equal(&joined, &one));
    /* an empty source changes nothing */
    allot_accept_set_init(&other, BITS, 3);
    ASSERT_INT_EQ(allot_accept_set_append(&joined, &other), 0);
    ASSERT(sets_equal(&joined, &one));
    allot_accept_set_release(&other);
    /* another shape is refused */
    allot_accept_set_init(&other, BITS + 1, 3);
    ASSERT_INT_EQ(allot_accept_set_append(&joined, &other), ALLOT_EINVAL);
    allot_accept_set_release(&other);
    allot_accept_set_init(&other, BITS, 2);
    ASSERT_INT_EQ(allot_accept_set_append(&joined, &other), ALLOT_EINVAL);
    allot_accept_set_release(&other);
    ASSERT(sets_equal(&joined, &one));

    /* a messages array reads as the gateway reads it: system + last user */
    {
        struct allot_accept_set a, b;
        float lab[3] = {1, 0, 0.5f};
        allot_accept_set_init(&a, BITS, 3);
        allot_accept_set_init(&b, BITS, 3);
        ASSERT_INT_EQ(allot_accept_set_add(&a, "ignored",
                                           "[{\"role\":\"user\",\"content\":\"Bake the bread.\"}]",
                                           lab, &err),
                      0);
        ASSERT_INT_EQ(allot_accept_set_add(&b, "Bake the bread.", NULL, lab, &err), 0);
        ASSERT(sets_equal(&a, &b));
        allot_buf_reset(&err);
        ASSERT_INT_EQ(allot_accept_set_add(&a, NULL, "[]", lab, &err), ALLOT_EINVAL);
        ASSERT(err.len > 0);
        ASSERT_INT_EQ(a.n, 1);
        allot_accept_set_release(&a);
        allot_accept_set_release(&b);
    }
    allot_accept_set_release(&one);
    allot_accept_set_release(&first);
    allot_accept_set_release(&second);
    allot_accept_set_release(&joined);
    allot_buf_release(&err);
}

/* ---- examples from outcomes ---- */

/* Scores 1..10 (SCORE data), token counts on some outcomes, a row with
 * no known quality for the pair, one with only the weak model's, a
 * messages row, and a third model. */
static const char scored_jsonl[] =
    "{\"id\":\"a\",\"prompt\":\"abcdefghij\",\"outcomes\":{"
    "\"weak\":{\"score\":1,\"prompt_tokens\":100,\"completion_tokens\":50},"
    "\"strong\":{\"score\":10,\"prompt_tokens\":100,\"completion_tokens\":40},"
    "\"other\":{\"score\":4}}}\n"
    "{\"id\":\"b\",\"prompt\":\"nothing known\",\"outcomes\":{"
    "\"weak\":{\"score\":null},\"strong\":{\"score\":null},\"other\":{\"score\":2}}}\n"
    "{\"id\":\"c\",\"prompt\":\"123456789\",\"outcomes\":{\"weak\":{\"score\":5.5}}}\n"
    "{\"id\":\"d\",\"messages\":[{\"role\":\"system\",\"content\":\"Be brief.\"},"
    "{\"role\":\"user\",\"content\":\"Name a prime.\"}],\"outcomes\":{"
    "\"weak\":{\"score\":7},\"strong\":{\"score\":9,\"prompt_tokens\":20,\"completion_tokens\":3}}}"
    "\n";

TEST(accept_eval_data_labels_costs_and_skipped_rows)
{
    struct tmpdir td;
    char path[256];
    struct allot_outcomes *oc = NULL;
    struct allot_eval_data d;
    struct allot_buf err;
    const struct allot_price prices[3] = {{"weak", 1, 2}, {"strong", 10, 30}, {"unused", 100, 100}};
    int rc;

    allot_buf_init(&err, 4096);
    ASSERT_INT_EQ(tmpdir_make(&td, "accept"), 0);
    snprintf(path, sizeof path, "%s/scored.jsonl", td.dir);
    ASSERT_INT_EQ(write_bytes(path, scored_jsonl, strlen(scored_jsonl)), 0);
    rc = allot_outcomes_load(path, NULL, &oc, &err);
    if (rc)
        fprintf(stderr, "  %s\n", allot_buf_cstr(&err));
    ASSERT_INT_EQ(rc, 0);
    ASSERT_INT_EQ(oc->kind, ALLOT_QUALITY_SCORE);
    ASSERT_DBL_NEAR(oc->quality_min, 1, 0);
    ASSERT_DBL_NEAR(oc->quality_max, 10, 0);
    /* "Be brief.\n\nName a prime.": 24 bytes, 6 tokens estimated */
    ASSERT_INT_EQ(strlen(oc->rows[3].prompt), 24);

    rc = allot_eval_data_build(oc, pair_names, 2, BITS, prices, 3, 7, &d, &err);
    if (rc)
        fprintf(stderr, "  %s\n", allot_buf_cstr(&err));
    ASSERT_INT_EQ(rc, 0);
    ASSERT_INT_EQ(d.n_heads, 2);
    ASSERT_INT_EQ(d.set.n, 3); /* row b: neither model known */
    ASSERT_INT_EQ(d.set.n_heads, 2);
    ASSERT_INT_EQ(d.set.hash_bits, BITS);
    ASSERT_INT_EQ(d.row[0], 0);
    ASSERT_INT_EQ(d.row[1], 2);
    ASSERT_INT_EQ(d.row[2], 3);
    ASSERT_STR_EQ(d.names[0], "weak");
    ASSERT_STR_EQ(d.names[1], "strong");
    ASSERT_INT_EQ(d.model[0], allot_outcomes_model(oc, "weak"));
    ASSERT_INT_EQ(d.model[1], allot_outcomes_model(oc, "strong"));
    ASSERT_INT_EQ(d.priced, 1);
    ASSERT_INT_EQ(d.assumed_completion, 7);
    /* labels: (score - 1) / 9; raw as recorded; unknown stays NAN */
    ASSERT_DBL_NEAR(d.q[0], 0, 1e-9);
    ASSERT_DBL_NEAR(d.q[1], 1, 1e-9);
    ASSERT_DBL_NEAR(d.q[2], 0.5, 1e-7);
    ASSERT(isnan(d.q[3]));
    ASSERT_DBL_NEAR(d.q[4], 6.0 / 9, 1e-7);
    ASSERT_DBL_NEAR(d.q[5], 8.0 / 9, 1e-7);
    ASSERT_DBL_NEAR(d.raw[0], 1, 0);
    ASSERT_DBL_NEAR(d.raw[1], 10, 0);
    ASSERT_DBL_NEAR(d.raw[2], 5.5, 0);
    ASSERT(isnan(d.raw[3]));
    ASSERT_DBL_NEAR(d.raw[4], 7, 0);
    ASSERT_DBL_NEAR(d.raw[5], 9, 0);
    ASSERT_DBL_NEAR(d.set.label[0], 0, 1e-7);
    ASSERT_DBL_NEAR(d.set.label[1], 1, 1e-7);
    ASSERT_DBL_NEAR(d.set.label[2], 0.5, 1e-7);
    ASSERT(isnan(d.set.label[3]));
    ASSERT_DBL_NEAR(d.set.label[5], 8.0 / 9, 1e-7);
    /* costs (USD): tokens as recorded, else ceil(bytes / 4) prompt tokens
     * and 7 completion tokens */
    ASSERT_DBL_NEAR(d.cost[0], (100 * 1 + 50 * 2) / 1e6, 1e-15);
    ASSERT_DBL_NEAR(d.cost[1], (100 * 10 + 40 * 30) / 1e6, 1e-15);
    ASSERT_DBL_NEAR(d.cost[2], (3 * 1 + 7 * 2) / 1e6, 1e-15);   /* 9 bytes: 3 tokens */
    ASSERT_DBL_NEAR(d.cost[3], (3 * 10 + 7 * 30) / 1e6, 1e-15); /* priced though unknown */
    ASSERT_DBL_NEAR(d.cost[4], (6 * 1 + 7 * 2) / 1e6, 1e-15);
    ASSERT_DBL_NEAR(d.cost[5], (20 * 10 + 3 * 30) / 1e6, 1e-15);
    ASSERT_INT_EQ(d.estimated_prompts, 2);
    allot_eval_data_release(&d);

    /* heads in the order asked; a price missing: not priced, cost 0 there */
    {
        const char *names[2] = {"strong", "weak"};
        rc = allot_eval_data_build(oc, names, 2, BITS, prices, 1, 0, &d, &err);
        ASSERT_INT_EQ(rc, 0);
        ASSERT_INT_EQ(d.priced, 0);
        ASSERT_STR_EQ(d.names[0], "strong");
        ASSERT_DBL_NEAR(d.q[0], 1, 1e-9);
        ASSERT_DBL_NEAR(d.q[1], 0, 1e-9);
        ASSERT_DBL_NEAR(d.cost[0], 0, 0); /* strong has no price */
        ASSERT_DBL_NEAR(d.cost[1], (100 * 1 + 50 * 2) / 1e6, 1e-15);
        allot_eval_data_release(&d);
    }
    /* one model: the rows where it is known */
    {
        const char *names[1] = {"other"};
        ASSERT_INT_EQ(allot_eval_data_build(oc, names, 1, BITS, NULL, 0, 0, &d, &err), 0);
        ASSERT_INT_EQ(d.set.n, 2);
        ASSERT_INT_EQ(d.row[1], 1);
        ASSERT_DBL_NEAR(d.q[0], 3.0 / 9, 1e-7);
        ASSERT_INT_EQ(d.priced, 0);
        allot_eval_data_release(&d);
    }
    /* an unknown model: ALLOT_ENOTFOUND, naming it and the data's models */
    {
        const char *names[2] = {"weak", "gpt-9"};
        allot_buf_reset(&err);
        memset(&d, 0, sizeof d);
        ASSERT_INT_EQ(allot_eval_data_build(oc, names, 2, BITS, NULL, 0, 0, &d, &err),
                      ALLOT_ENOTFOUND);
        ASSERT_STR_CONTAINS(allot_buf_cstr(&err), "'gpt-9'");
        ASSERT_STR_CONTAINS(allot_buf_cstr(&err), "'weak', 'strong', 'other'");
        ASSERT(d.set.n == 0 && d.q == NULL);
        allot_buf_reset(&err);
        ASSERT_INT_EQ(allot_eval_data_build(oc, names, 0, BITS, NULL, 0, 0, &d, &err),
                      ALLOT_EINVAL);
    }
    allot_outcomes_free(oc);
    tmpdir_remove(&td);
    allot_buf_release(&err);
}

/* ---- cross-validation ---- */

TEST(accept_cross_predict_holds_every_row_out)
{
    struct syn s;
    struct allot_buf err;
    struct allot_accept_opts o;
    enum { K = 4 };
    size_t n, i, per[K] = {0}, *seen = NULL, *train = NULL, nt, want_ins[K] = {0};
    double *pred = NULL, *pred2 = NULL, *ins[K] = {NULL}, *ins_check = NULL;
    size_t n_ins[K] = {0};
    unsigned *fold = NULL, *fold2 = NULL, f;
    int same;

    allot_buf_init(&err, 4096);
    ASSERT_INT_EQ(syn_load(&s, 1, &err), 0);
    n = s.d.set.n;
    ASSERT_INT_EQ(n, N_SYN); /* no row has neither model unknown */
    allot_accept_opts_default(&o);
    o.epochs = 2;
    pred = malloc(n * 2 * sizeof *pred);
    pred2 = malloc(n * 2 * sizeof *pred2);
    fold = malloc(n * sizeof *fold);
    fold2 = malloc(n * sizeof *fold2);
    seen = calloc(n, sizeof *seen);
    train = malloc(n * sizeof *train);
    ins_check = malloc(n * sizeof *ins_check);
    ASSERT(pred && pred2 && fold && fold2 && seen && train && ins_check);
    for (f = 0; f < K; f++) {
        ins[f] = malloc(n * sizeof **ins);
        ASSERT(ins[f]);
    }
    for (i = 0; i < n * 2; i++)
        pred[i] = NAN;

    ASSERT_INT_EQ(allot_eval_cross_predict(&s.d, K, 5, &o, pred, fold, 0, 1, ins, n_ins), 0);
    /* balanced folds: sizes differ by at most one */
    for (i = 0; i < n; i++) {
        ASSERT(fold[i] < K);
        per[fold[i]]++;
    }
    for (f = 0; f < K; f++)
        ASSERT(per[f] == n / K || per[f] == n / K + 1);
    /* the folds are a shuffle, not blocks or stripes of the input */
    same = 1;
    for (i = 0; i < n; i++)
        same &= fold[i] == i % K;
    ASSERT(!same);

    /* every prediction is that of a model trained on the other folds only,
     * exactly: retrain it here and compare */
    for (f = 0; f < K; f++) {
        struct allot_accept_model *m = NULL;
        size_t m_ins = 0;
        for (nt = 0, i = 0; i < n; i++) {
            if (fold[i] == f)
                continue;
            train[nt++] = i;
            if (!isnan(s.d.q[i * 2]) && !isnan(s.d.q[i * 2 + 1]))
                want_ins[f]++;
        }
        ASSERT_INT_EQ(allot_accept_train(&s.d.set, train, nt, s.d.names, &o, &m), 0);
        ASSERT_INT_EQ(m->n_examples, nt);
        for (i = 0; i < n; i++) {
            double q[2];
            allot_accept_predict_row(m, &s.d.set, i, q);
            if (fold[i] == f) {
                ASSERT(pred[i * 2] == q[0] && pred[i * 2 + 1] == q[1]);
                seen[i]++;
            } else if (!isnan(s.d.q[i * 2]) && !isnan(s.d.q[i * 2 + 1])) {
                ins_check[m_ins++] = allot_accept_score(q, 0, 1);
            }
        }
        /* its scores on its own training rows where both are known */
        ASSERT_INT_EQ(n_ins[f], want_ins[f]);
        ASSERT_INT_EQ(m_ins, n_ins[f]);
        ASSERT(memcmp(ins_check, ins[f], m_ins * sizeof *ins_check) == 0);
        allot_accept_model_free(m);
    }
    ASSERT(want_ins[0] < n - per[0]); /* the holes matter to the count */
    for (i = 0; i < n; i++)
        ASSERT_INT_EQ(seen[i], 1);

    /* held out, the model still tells the topics apart */
    {
        double wq[2] = {0, 0};
        for (i = 0; i < n; i++)
            wq[s.d.row[i] % 2] += pred[i * 2];
        ASSERT(wq[0] / (n / 2) > 0.7);
        ASSERT(wq[1] / (n / 2) < 0.3);
    }

    /* the same seed: the same folds and predictions; another: other folds */
    ASSERT_INT_EQ(allot_eval_cross_predict(&s.d, K, 5, &o, pred2, fold2, -1, -1, NULL, NULL), 0);
    ASSERT(memcmp(fold, fold2, n * sizeof *fold) == 0);
    ASSERT(memcmp(pred, pred2, n * 2 * sizeof *pred) == 0);
    ASSERT_INT_EQ(allot_eval_cross_predict(&s.d, K, 6, &o, pred2, fold2, -1, -1, NULL, NULL), 0);
    ASSERT(memcmp(fold, fold2, n * sizeof *fold) != 0);
    ASSERT(memcmp(pred, pred2, n * 2 * sizeof *pred) != 0);

    /* k out of range */
    ASSERT_INT_EQ(allot_eval_cross_predict(&s.d, 1, 5, &o, pred2, fold2, -1, -1, NULL, NULL),
                  ALLOT_EINVAL);
    ASSERT_INT_EQ(
        allot_eval_cross_predict(&s.d, (unsigned)n + 1, 5, &o, pred2, fold2, -1, -1, NULL, NULL),
        ALLOT_EINVAL);

    for (f = 0; f < K; f++)
        free(ins[f]);
    free(pred);
    free(pred2);
    free(fold);
    free(fold2);
    free(seen);
    free(train);
    free(ins_check);
    syn_release(&s);
    allot_buf_release(&err);
}

/* ---- the model file ---- */

struct saved {
    struct syn s;
    struct allot_accept_model *m;
    char path[300];
};

static int saved_make(struct saved *sv, struct allot_buf *err)
{
    struct allot_accept_opts o;
    int rc;
    if ((rc = syn_load(&sv->s, 0, err)))
        return rc;
    allot_accept_opts_default(&o);
    o.epochs = 2;
    if ((rc = allot_accept_train(&sv->s.d.set, NULL, 0, sv->s.d.names, &o, &sv->m)))
        return rc;
    sv->m->weak = 0;
    sv->m->strong = 1;
    sv->m->threshold = 0.4321;
    sv->m->target = ALLOT_ACCEPT_TARGET_SHARE;
    sv->m->target_value = 0.3;
    sv->m->quality_min = 1;
    sv->m->quality_max = 10;
    snprintf(sv->path, sizeof sv->path, "%s/m.accept", sv->s.td.dir);
    return allot_accept_model_save(sv->m, sv->path, err);
}

static void saved_release(struct saved *sv)
{
    allot_accept_model_free(sv->m);
    syn_release(&sv->s);
}

TEST(accept_model_file_round_trip)
{
    struct saved sv;
    struct allot_buf err;
    struct allot_accept_model *b = NULL;
    size_t i, len = 0, nw = (size_t)1 << BITS;
    unsigned char *bytes;

    allot_buf_init(&err, 4096);
    memset(&sv, 0, sizeof sv);
    ASSERT_INT_EQ(saved_make(&sv, &err), 0);
    /* the documented layout: 68 bytes of header, names, weights, CRC */
    bytes = read_all(sv.path, &len);
    ASSERT(bytes);
    ASSERT_INT_EQ(len,
                  8 + 4 * 4 + 8 * 2 + 4 * 2 + 8 + 4 + 8 + (2 + 4) + (2 + 6) + 2 * (4 + 4 * nw) + 4);
    ASSERT(memcmp(bytes, "ALLOTACC", 8) == 0);
    free(bytes);

    ASSERT_INT_EQ(allot_accept_model_load(sv.path, &b, &err), 0);
    ASSERT_INT_EQ(b->hash_bits, BITS);
    ASSERT_INT_EQ(b->n_heads, 2);
    ASSERT_INT_EQ(b->n_examples, N_SYN);
    ASSERT_STR_EQ(b->names[0], "weak");
    ASSERT_STR_EQ(b->names[1], "strong");
    ASSERT_INT_EQ(b->weak, 0);
    ASSERT_INT_EQ(b->strong, 1);
    ASSERT(b->threshold == 0.4321);
    ASSERT_INT_EQ(b->target, ALLOT_ACCEPT_TARGET_SHARE);
    ASSERT(b->target_value == 0.3);
    ASSERT(b->quality_min == 1 && b->quality_max == 10);
    ASSERT(memcmp(b->bias, sv.m->bias, 2 * sizeof *b->bias) == 0);
    ASSERT(memcmp(b->w, sv.m->w, 2 * nw * sizeof *b->w) == 0);
    for (i = 0; i < sv.s.d.set.n; i++) {
        double qa[2], qb[2];
        allot_accept_predict_row(sv.m, &sv.s.d.set, i, qa);
        allot_accept_predict_row(b, &sv.s.d.set, i, qb);
        ASSERT(qa[0] == qb[0] && qa[1] == qb[1]);
    }
    allot_accept_model_free(b);

    /* no pair and no threshold: -1 heads and NAN survive the trip */
    sv.m->weak = sv.m->strong = -1;
    sv.m->threshold = NAN;
    sv.m->target = ALLOT_ACCEPT_TARGET_NONE;
    ASSERT_INT_EQ(allot_accept_model_save(sv.m, sv.path, &err), 0);
    b = NULL;
    ASSERT_INT_EQ(allot_accept_model_load(sv.path, &b, &err), 0);
    ASSERT_INT_EQ(b->weak, -1);
    ASSERT_INT_EQ(b->strong, -1);
    ASSERT(isnan(b->threshold));
    ASSERT_INT_EQ(b->target, ALLOT_ACCEPT_TARGET_NONE);
    allot_accept_model_free(b);

    /* a directory that does not exist: ALLOT_EIO naming the file */
    {
        char bad[400];
        snprintf(bad, sizeof bad, "%s/no/such/dir/m.accept", sv.s.td.dir);
        allot_buf_reset(&err);
        ASSERT_INT_EQ(allot_accept_model_save(sv.m, bad, &err), ALLOT_EIO);
        ASSERT_STR_CONTAINS(allot_buf_cstr(&err), bad);
    }
    saved_release(&sv);
    allot_buf_release(&err);
}

/* Load a damaged copy: EPARSE, the message naming the file and the why. */
static int load_damaged(const char *path, const unsigned char *p, size_t n, const char *why,
                        struct allot_buf *err)
{
    struct allot_accept_model *m = NULL;
    int rc;
    if (write_bytes(path, p, n) != 0)
        return -100;
    allot_buf_reset(err);
    rc = allot_accept_model_load(path, &m, err);
    if (m) {
        allot_accept_model_free(m);
        return -101;
    }
    if (rc == ALLOT_EPARSE &&
        (!strstr(allot_buf_cstr(err), path) || (why && !strstr(allot_buf_cstr(err), why)))) {
        fprintf(stderr, "  message: %s\n", allot_buf_cstr(err));
        return -102;
    }
    return rc;
}

TEST(accept_model_file_refusals)
{
    struct saved sv;
    struct allot_buf err;
    struct allot_accept_model *m = NULL;
    unsigned char *good, *bad;
    size_t n = 0, names_end = 68 + (2 + 4) + (2 + 6);
    char dpath[320], missing[320];

    allot_buf_init(&err, 4096);
    memset(&sv, 0, sizeof sv);
    ASSERT_INT_EQ(saved_make(&sv, &err), 0);
    good = read_all(sv.path, &n);
    ASSERT(good);
    bad = malloc(n);
    ASSERT(bad);
    snprintf(dpath, sizeof dpath, "%s/damaged.accept", sv.s.td.dir);

    /* truncated: by one byte, in the weights, in the header, to nothing */
    ASSERT_INT_EQ(load_damaged(dpath, good, n - 1, NULL, &err), ALLOT_EPARSE);
    ASSERT_INT_EQ(load_damaged(dpath, good, n / 2, NULL, &err), ALLOT_EPARSE);
    ASSERT_INT_EQ(load_damaged(dpath, good, 40, NULL, &err), ALLOT_EPARSE);
    ASSERT_INT_EQ(load_damaged(dpath, good, 10, "not an acceptability model", &err), ALLOT_EPARSE);
    ASSERT_INT_EQ(load_damaged(dpath, good, 0, "not an acceptability model", &err), ALLOT_EPARSE);
    /* one flipped byte: in a weight, a name, the header, the CRC itself */
    {
        size_t at[] = {n - 100, names_end - 3, 20, 32, n - 2};
        size_t k;
        for (k = 0; k < sizeof at / sizeof at[0]; k++) {
            memcpy(bad, good, n);
            bad[at[k]] ^= 0x10;
            ASSERT_INT_EQ(load_damaged(dpath, bad, n, "checksum", &err), ALLOT_EPARSE);
        }
    }
    /* another magic */
    memcpy(bad, good, n);
    memcpy(bad, "ALLOTKND", 8);
    fix_crc(bad, n);
    ASSERT_INT_EQ(load_damaged(dpath, bad, n, "not an acceptability model", &err), ALLOT_EPARSE);
    /* another version, even with a good checksum */
    memcpy(bad, good, n);
    put_le32(bad + 8, ALLOT_ACCEPT_VERSION + 1);
    fix_crc(bad, n);
    ASSERT_INT_EQ(load_damaged(dpath, bad, n, "version", &err), ALLOT_EPARSE);
    /* hash bits or heads out of range */
    memcpy(bad, good, n);
    put_le32(bad + 12, 31);
    fix_crc(bad, n);
    ASSERT_INT_EQ(load_damaged(dpath, bad, n, "out of range", &err), ALLOT_EPARSE);
    memcpy(bad, good, n);
    put_le32(bad + 16, 0);
    fix_crc(bad, n);
    ASSERT_INT_EQ(load_damaged(dpath, bad, n, "out of range", &err), ALLOT_EPARSE);
    /* a header that does not match the size (one head more, checksum good) */
    memcpy(bad, good, n);
    put_le32(bad + 16, 3);
    fix_crc(bad, n);
    ASSERT_INT_EQ(load_damaged(dpath, bad, n, "size", &err), ALLOT_EPARSE);
    /* the weights cut off, checksum recomputed */
    memcpy(bad, good, n);
    fix_crc(bad, names_end + 4 + 4);
    ASSERT_INT_EQ(load_damaged(dpath, bad, names_end + 4 + 4, "size", &err), ALLOT_EPARSE);
    /* a weak head out of range */
    memcpy(bad, good, n);
    put_le32(bad + 40, 2);
    fix_crc(bad, n);
    ASSERT_INT_EQ(load_damaged(dpath, bad, n, NULL, &err), ALLOT_EPARSE);
    /* the good bytes still load */
    ASSERT_INT_EQ(load_damaged(dpath, good, n, NULL, &err), -101);

    /* a file that is not there: ALLOT_EIO, naming it */
    snprintf(missing, sizeof missing, "%s/missing.accept", sv.s.td.dir);
    allot_buf_reset(&err);
    ASSERT_INT_EQ(allot_accept_model_load(missing, &m, &err), ALLOT_EIO);
    ASSERT(m == NULL);
    ASSERT_STR_CONTAINS(allot_buf_cstr(&err), missing);

    free(good);
    free(bad);
    saved_release(&sv);
    allot_buf_release(&err);
}

/* ---- calibration on the real MMLU outcomes ---- */

/* The shared data directory: $ALLOT_SHARED_DATA, else ../shared/data
 * (beside the repository; the unit tests run from its root), else
 * /work/shared/data (where test_outcomes.c reads it). NULL when none holds
 * `what`. */
static const char *shared_data(const char *what, char *out, size_t cap)
{
    const char *env = getenv("ALLOT_SHARED_DATA");
    const char *dirs[3] = {env, "../shared/data", "/work/shared/data"};
    size_t i;
    for (i = 0; i < 3; i++) {
        if (!dirs[i] || !*dirs[i])
            continue;
        snprintf(out, cap, "%s/%s", dirs[i], what);
        if (access(out, R_OK) == 0)
            return out;
    }
    return NULL;
}

TEST(accept_mmlu_calibrated_share_holds_out_of_fold)
{
    enum { K = 5 };
    const char *names[2] = {"mistralai/Mixtral-8x7B-Instruct-v0.1", "gpt-4-1106-preview"};
    char dir[512];
    struct allot_outcomes *oc = NULL;
    struct allot_eval_data d;
    struct allot_accept_opts o;
    struct allot_buf err;
    double *pred = NULL, *ins[K] = {NULL}, *oof = NULL, t0 = now_s(), t1, t[K], to[K];
    size_t n_ins[K] = {0}, i, j, n, strong = 0, both = 0, fs[K] = {0}, fn[K] = {0}, strong_o = 0;
    unsigned *fold = NULL, f;
    int rc;

    if (!shared_data("routellm_mmlu", dir, sizeof dir)) {
        printf("SKIP accept_mmlu_calibrated_share_holds_out_of_fold: no routellm_mmlu in "
               "$ALLOT_SHARED_DATA, ../shared/data or /work/shared/data\n");
        return;
    }
    allot_buf_init(&err, 4096);
    rc = allot_outcomes_load(dir, NULL, &oc, &err);
    if (rc)
        fprintf(stderr, "  %s\n", allot_buf_cstr(&err));
    ASSERT_INT_EQ(rc, 0);
    ASSERT_INT_EQ(oc->n_rows, 14037);
    ASSERT_INT_EQ(oc->n_excluded, 5);
    rc = allot_eval_data_build(oc, names, 2, ALLOT_ACCEPT_HASH_BITS, NULL, 0, 0, &d, &err);
    if (rc)
        fprintf(stderr, "  %s\n", allot_buf_cstr(&err));
    ASSERT_INT_EQ(rc, 0);
    n = d.set.n;
    ASSERT_INT_EQ(n, 14037);
    pred = malloc(n * 2 * sizeof *pred);
    fold = malloc(n * sizeof *fold);
    oof = malloc(n * sizeof *oof);
    ASSERT(pred && fold && oof);
    for (f = 0; f < K; f++) {
        ins[f] = malloc(n * sizeof **ins);
        ASSERT(ins[f]);
    }
    allot_accept_opts_default(&o);
    ASSERT_INT_EQ(allot_eval_cross_predict(&d, K, o.seed, &o, pred, fold, 0, 1, ins, n_ins), 0);
    for (f = 0; f < K; f++) {
        /* calibrated on the fold model's scores of its own training rows
         * (what `allot eval` does), and, for comparison, on the other
         * folds' out-of-fold scores (what docs/eval.md describes) */
        t[f] = allot_threshold_for_share(ins[f], n_ins[f], 0.3);
        ASSERT(isfinite(t[f]));
        for (j = 0, i = 0; i < n; i++)
            if (fold[i] != f && !isnan(d.q[i * 2]) && !isnan(d.q[i * 2 + 1]))
                oof[j++] = allot_accept_score(pred + i * 2, 0, 1);
        ASSERT_INT_EQ(j, n_ins[f]);
        to[f] = allot_threshold_for_share(oof, j, 0.3);
        ASSERT(isfinite(to[f]));
    }
    for (i = 0; i < n; i++) {
        int go;
        if (isnan(d.q[i * 2]) || isnan(d.q[i * 2 + 1]))
            continue;
        go = allot_accept_score(pred + i * 2, 0, 1) < t[fold[i]];
        strong_o += allot_accept_score(pred + i * 2, 0, 1) < to[fold[i]];
        both++;
        strong += (size_t)go;
        fs[fold[i]] += (size_t)go;
        fn[fold[i]]++;
    }
    t1 = now_s();
    printf("  MMLU, %u folds: %.2f%% of %zu held-out requests to strong (folds", K,
           100.0 * (double)strong / (double)both, both);
    for (f = 0; f < K; f++)
        printf(" %.1f%%", 100.0 * (double)fs[f] / (double)fn[f]);
    printf("); calibrated on out-of-fold scores %.2f%%; %.1f s\n",
           100.0 * (double)strong_o / (double)both, t1 - t0);
    ASSERT_INT_EQ(both, 14037);
    ASSERT_DBL_NEAR((double)strong / (double)both, 0.3, 0.01);
    ASSERT_DBL_NEAR((double)strong_o / (double)both, 0.3, 0.01);

    for (f = 0; f < K; f++)
        free(ins[f]);
    free(pred);
    free(fold);
    free(oof);
    allot_eval_data_release(&d);
    allot_outcomes_free(oc);
    allot_buf_release(&err);
}
