/* kinds_train.c: training the kind-of-work model.
 *
 * Softmax regression by stochastic gradient descent with AdaGrad step
 * sizes (each weight's step shrinks with the gradients it has seen, which
 * suits hashed sparse features: rare n-grams keep learning fast). Classes
 * are weighted by inverse frequency when opts.balance is set, so a category
 * with 50 examples counts as much as one with 300: macro-F1, not accuracy
 * on the common categories, is what routing needs.
 *
 * Calibration: the temperature T of softmax(logits / T) is fitted on
 * out-of-fold predictions (the model that predicts an example never saw
 * it) by golden-section search on log T, minimising the log loss. That is
 * Guo et al.'s temperature scaling; it changes confidences, never the
 * predicted category.
 *
 * DESIGN: single-threaded and deterministic: a splitmix64 stream seeded by
 * opts.seed orders the examples, and the float operations run in one fixed
 * order, so a given data set and seed give a byte-identical model file. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "allot/error.h"
#include "allot/kinds_model.h"
#include "allot/rand.h"

#define ADAGRAD_EPS 1e-6f
#define T_MIN 0.05
#define T_MAX 20.0

void allot_kinds_trainset_init(struct allot_kinds_trainset *t, unsigned hash_bits)
{
    memset(t, 0, sizeof *t);
    t->hash_bits = hash_bits;
}

void allot_kinds_trainset_release(struct allot_kinds_trainset *t)
{
    free(t->idx);
    free(t->val);
    free(t->unit);
    free(t->off);
    free(t->label);
    allot_kinds_trainset_init(t, t->hash_bits);
}

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
    size_t n = *cap ? *cap : 64;
    void *q;
    if (need <= *cap)
        return 0;
    while (n < need)
        n *= 2;
    q = realloc(*p, n * elem);
    if (!q)
        return ALLOT_ENOMEM;
    *p = q;
    *cap = n;
    return 0;
}

int allot_kinds_trainset_add(struct allot_kinds_trainset *t, const struct allot_features *f,
                             enum allot_category label)
{
    size_t cap_feat = t->cap_feat, cap = t->cap, i;
    int rc;

    rc = grow((void **)&t->idx, &cap_feat, t->n_feat + f->n, sizeof *t->idx);
    if (!rc) {
        cap_feat = t->cap_feat;
        rc = grow((void **)&t->val, &cap_feat, t->n_feat + f->n, sizeof *t->val);
    }
    if (!rc) {
        cap_feat = t->cap_feat;
        rc = grow((void **)&t->unit, &cap_feat, t->n_feat + f->n, sizeof *t->unit);
    }
    if (rc)
        return rc;
    t->cap_feat = cap_feat;
    rc = grow((void **)&t->label, &cap, t->n + 2, sizeof *t->label);
    if (!rc) {
        cap = t->cap;
        rc = grow((void **)&t->off, &cap, t->n + 2, sizeof *t->off);
    }
    if (rc)
        return rc;
    t->cap = cap;
    if (t->n == 0)
        t->off[0] = 0;
    for (i = 0; i < f->n; i++) {
        t->idx[t->n_feat + i] = f->f[i].idx;
        t->val[t->n_feat + i] = f->f[i].value;
        t->unit[t->n_feat + i] = f->f[i].unit;
    }
    t->n_feat += f->n;
    t->label[t->n] = (uint8_t)label;
    t->n++;
    t->off[t->n] = t->n_feat;
    return 0;
}

void allot_kinds_train_opts_default(struct allot_kinds_train_opts *o)
{
    o->epochs = 30;
    o->learning_rate = 0.1;
    o->l2 = 1e-5;
    o->seed = 1;
    o->balance = 1;
    o->calib_folds = 5;
    o->dropout = 0.5;
    o->tier_weight = 3.0;
}

void allot_kinds_trainset_logits(const struct allot_kinds_model *m,
                                 const struct allot_kinds_trainset *t, size_t row,
                                 float out[ALLOT_CAT__COUNT])
{
    size_t j;
    memcpy(out, m->bias, sizeof m->bias);
    for (j = t->off[row]; j < t->off[row + 1]; j++)
        allot_kinds_model_add(m, t->idx[j], t->val[j], out);
}

static void softmax(const float *z, double T, double *p)
{
    double mx = -INFINITY, sum = 0;
    int c;
    for (c = 0; c < ALLOT_CAT__COUNT; c++)
        mx = z[c] > mx ? z[c] : mx;
    for (c = 0; c < ALLOT_CAT__COUNT; c++)
        sum += (p[c] = exp((z[c] - mx) / T));
    for (c = 0; c < ALLOT_CAT__COUNT; c++)
        p[c] /= sum;
}

/* One training run's working state. */
struct sgd {
    const struct allot_kinds_trainset *t;
    const struct allot_kinds_train_opts *o;
    size_t *order, n_rows, n_w;
    float *w, *g2, *keep; /* keep: one row's feature values after dropout */
    float bias[ALLOT_CAT__COUNT], gb2[ALLOT_CAT__COUNT];
    double cw[ALLOT_CAT__COUNT];            /* class weights */
    enum allot_tier tier[ALLOT_CAT__COUNT]; /* each category's tier (KINDS.md) */
    /* dropout's draw per unit of the row: unit_kept[u] is valid when
     * unit_stamp[u] is the row's stamp */
    uint32_t stamp, unit_stamp[ALLOT_UNITS_MAX];
    unsigned char unit_kept[ALLOT_UNITS_MAX];
};

/* One row's step: dropout, scores, softmax gradient, AdaGrad updates. */
static void sgd_step(struct sgd *s, size_t row, uint64_t *drop_state, uint64_t drop_cut,
                     float drop_scale)
{
    const struct allot_kinds_trainset *t = s->t;
    float z[ALLOT_CAT__COUNT], g[ALLOT_CAT__COUNT];
    float lr = (float)s->o->learning_rate, decay = (float)(1.0 - s->o->l2);
    double p[ALLOT_CAT__COUNT], p_tier = 0;
    size_t b0 = t->off[row], nf = t->off[row + 1] - b0, j;
    int c;

    /* dropout hides whole units (features.h): a word with its character
     * n-grams, a bigram, a cue, so a hidden word does not show through its
     * n-grams */
    if (drop_cut) {
        s->stamp++;
        for (j = 0; j < nf; j++) {
            uint16_t u = t->unit[b0 + j];
            int kept;
            if (u == ALLOT_NO_UNIT || u >= ALLOT_UNITS_MAX) {
                kept = allot_rand_next(drop_state) >= drop_cut;
            } else {
                if (s->unit_stamp[u] != s->stamp) {
                    s->unit_stamp[u] = s->stamp;
                    s->unit_kept[u] = allot_rand_next(drop_state) >= drop_cut;
                }
                kept = s->unit_kept[u];
            }
            s->keep[j] = kept ? t->val[b0 + j] * drop_scale : 0.0f;
        }
    } else {
        for (j = 0; j < nf; j++)
            s->keep[j] = t->val[b0 + j] * drop_scale;
    }
    memcpy(z, s->bias, sizeof z);
    for (j = 0; j < nf; j++) {
        const float *wb = s->w + (size_t)t->idx[b0 + j] * ALLOT_CAT__COUNT;
        if (s->keep[j] != 0.0f)
            for (c = 0; c < ALLOT_CAT__COUNT; c++)
                z[c] += s->keep[j] * wb[c];
    }
    softmax(z, 1.0, p);
    /* the loss: -log p(category) - tier_weight * log P(its tier), P(tier)
     * the sum of its categories' p; d/dz_c of the second term is
     * p_c - [c in the tier] p_c / P(tier) */
    for (c = 0; c < ALLOT_CAT__COUNT; c++)
        if (s->tier[c] == s->tier[t->label[row]])
            p_tier += p[c];
    if (p_tier < 1e-12)
        p_tier = 1e-12;
    for (c = 0; c < ALLOT_CAT__COUNT; c++)
        g[c] = (float)((p[c] - (c == t->label[row]) +
                        s->o->tier_weight *
                            (p[c] - (s->tier[c] == s->tier[t->label[row]] ? p[c] / p_tier : 0))) *
                       s->cw[t->label[row]]);
    for (c = 0; c < ALLOT_CAT__COUNT; c++) {
        s->gb2[c] += g[c] * g[c];
        s->bias[c] -= lr * g[c] / (sqrtf(s->gb2[c]) + ADAGRAD_EPS);
    }
    for (j = 0; j < nf; j++) {
        size_t base = (size_t)t->idx[b0 + j] * ALLOT_CAT__COUNT;
        float v = s->keep[j];
        if (v == 0.0f)
            continue;
        for (c = 0; c < ALLOT_CAT__COUNT; c++) {
            float gi = g[c] * v;
            s->g2[base + c] += gi * gi;
            s->w[base + c] =
                s->w[base + c] * decay - lr * gi / (sqrtf(s->g2[base + c]) + ADAGRAD_EPS);
        }
    }
}

/* opts.epochs passes over the rows, from the zero weights calloc gave. */
static void sgd_run(struct sgd *s)
{
    uint64_t state = s->o->seed, drop_state = s->o->seed ^ 0xd20b0a7ull;
    /* a feature occurrence is dropped when a 64-bit draw falls below this */
    uint64_t drop_cut = (uint64_t)(s->o->dropout * 18446744073709551615.0);
    float drop_scale =
        s->o->dropout > 0 && s->o->dropout < 1 ? (float)(1.0 / (1.0 - s->o->dropout)) : 1.0f;
    size_t i;
    unsigned e;

    for (e = 0; e < s->o->epochs; e++) {
        allot_rand_shuffle(s->order, s->n_rows, &state);
        for (i = 0; i < s->n_rows; i++)
            sgd_step(s, s->order[i], &drop_state, drop_cut, drop_scale);
    }
}

/* The SGD itself, temperature 1, on f32 weights; the model gets them
 * rounded to its int8 form at the end. */
static int fit(const struct allot_kinds_trainset *t, const size_t *rows, size_t n_rows,
               const struct allot_kinds_train_opts *o, struct allot_kinds_model **out)
{
    struct allot_kinds_model *m = NULL;
    struct sgd s = {.t = t, .o = o, .n_rows = n_rows};
    double count[ALLOT_CAT__COUNT] = {0};
    size_t i, max_row = 0;
    int c, rc;

    rc = allot_kinds_model_new(t->hash_bits, &m);
    if (rc)
        goto out;
    s.n_w = (size_t)ALLOT_CAT__COUNT << t->hash_bits;
    s.w = calloc(s.n_w, sizeof *s.w);
    s.g2 = calloc(s.n_w, sizeof *s.g2);
    s.order = malloc(n_rows * sizeof *s.order);
    if (!s.w || !s.g2 || !s.order) {
        rc = ALLOT_ENOMEM;
        goto out;
    }
    for (i = 0; i < n_rows; i++) {
        s.order[i] = rows ? rows[i] : i;
        count[t->label[s.order[i]]] += 1;
        if (t->off[s.order[i] + 1] - t->off[s.order[i]] > max_row)
            max_row = t->off[s.order[i] + 1] - t->off[s.order[i]];
    }
    if (!(s.keep = malloc((max_row ? max_row : 1) * sizeof *s.keep))) {
        rc = ALLOT_ENOMEM;
        goto out;
    }
    for (c = 0; c < ALLOT_CAT__COUNT; c++)
        s.tier[c] = allot_category_default_tier((enum allot_category)c);
    for (c = 0; c < ALLOT_CAT__COUNT; c++) /* mean weight 1 over examples */
        s.cw[c] = !o->balance    ? 1.0
                  : count[c] > 0 ? (double)n_rows / (ALLOT_CAT__COUNT * count[c])
                                 : 0.0;
    sgd_run(&s);
    memcpy(m->bias, s.bias, sizeof m->bias);
    m->n_examples = (uint32_t)n_rows;
    allot_kinds_model_set_weights(m, s.w);
out:
    free(s.w);
    free(s.g2);
    free(s.keep);
    free(s.order);
    if (rc) {
        allot_kinds_model_free(m);
        return rc;
    }
    *out = m;
    return 0;
}

void allot_kinds_stratified_folds(const struct allot_kinds_trainset *t, unsigned k, uint64_t seed,
                                  unsigned *fold)
{
    size_t *idx = malloc((t->n ? t->n : 1) * sizeof *idx), i, n, next = 0;
    uint64_t state = seed ^ 0x5eedf01d5ull;
    int c;

    for (c = 0; c < ALLOT_CAT__COUNT; c++) {
        for (n = 0, i = 0; i < t->n; i++)
            if (idx && t->label[i] == c)
                idx[n++] = i;
        if (idx)
            allot_rand_shuffle(idx, n, &state);
        /* continue the round-robin where the last category stopped, so
         * the folds stay within one example of each other in size */
        for (i = 0; i < n; i++)
            fold[idx[i]] = (unsigned)((next + i) % k);
        next = (next + n) % k;
    }
    if (!idx) /* out of memory: plain round-robin is still stratified enough */
        for (i = 0; i < t->n; i++)
            fold[i] = (unsigned)(i % k);
    free(idx);
}

static double log_loss(const float *z, const uint8_t *y, size_t n, double T)
{
    double sum = 0, p[ALLOT_CAT__COUNT];
    size_t i;
    for (i = 0; i < n; i++) {
        softmax(z + i * ALLOT_CAT__COUNT, T, p);
        sum -= log(p[y[i]] > 1e-300 ? p[y[i]] : 1e-300);
    }
    return sum / (double)(n ? n : 1);
}

/* Golden-section search of log T in [log T_MIN, log T_MAX]. */
static double fit_temperature(const float *z, const uint8_t *y, size_t n)
{
    const double phi = 0.6180339887498949;
    double a = log(T_MIN), b = log(T_MAX), x1 = b - phi * (b - a), x2 = a + phi * (b - a);
    double f1 = log_loss(z, y, n, exp(x1)), f2 = log_loss(z, y, n, exp(x2));
    int it;
    for (it = 0; it < 60; it++) {
        if (f1 < f2) {
            b = x2;
            x2 = x1;
            f2 = f1;
            x1 = b - phi * (b - a);
            f1 = log_loss(z, y, n, exp(x1));
        } else {
            a = x1;
            x1 = x2;
            f1 = f2;
            x2 = a + phi * (b - a);
            f2 = log_loss(z, y, n, exp(x2));
        }
    }
    return exp((a + b) / 2);
}

/* Out-of-fold logits of rows, for the temperature. */
static int oof_temperature(const struct allot_kinds_trainset *t, const size_t *rows, size_t n_rows,
                           const struct allot_kinds_train_opts *o, double *T)
{
    struct allot_kinds_train_opts inner = *o;
    struct allot_kinds_trainset sub;
    unsigned *fold = NULL, k = o->calib_folds, f;
    size_t *train = NULL, i, n_train, n_z = 0;
    float *z = NULL;
    uint8_t *y = NULL;
    int rc = 0;

    /* the folds are drawn over the rows' own labels */
    sub = *t;
    sub.n = n_rows;
    sub.label = malloc(n_rows ? n_rows : 1);
    fold = malloc((n_rows ? n_rows : 1) * sizeof *fold);
    train = malloc((n_rows ? n_rows : 1) * sizeof *train);
    z = malloc((n_rows ? n_rows : 1) * ALLOT_CAT__COUNT * sizeof *z);
    y = malloc(n_rows ? n_rows : 1);
    if (!sub.label || !fold || !train || !z || !y) {
        rc = ALLOT_ENOMEM;
        goto out;
    }
    for (i = 0; i < n_rows; i++)
        sub.label[i] = t->label[rows ? rows[i] : i];
    allot_kinds_stratified_folds(&sub, k, o->seed + 17, fold);
    inner.calib_folds = 0;
    for (f = 0; f < k; f++) {
        struct allot_kinds_model *m = NULL;
        for (n_train = 0, i = 0; i < n_rows; i++)
            if (fold[i] != f)
                train[n_train++] = rows ? rows[i] : i;
        if (n_train == 0 || n_train == n_rows)
            continue;
        rc = fit(t, train, n_train, &inner, &m);
        if (rc)
            goto out;
        for (i = 0; i < n_rows; i++) {
            if (fold[i] != f)
                continue;
            allot_kinds_trainset_logits(m, t, rows ? rows[i] : i, z + n_z * ALLOT_CAT__COUNT);
            y[n_z++] = sub.label[i];
        }
        allot_kinds_model_free(m);
    }
    *T = n_z ? fit_temperature(z, y, n_z) : 1.0;
out:
    free(sub.label);
    free(fold);
    free(train);
    free(z);
    free(y);
    return rc;
}

int allot_kinds_train(const struct allot_kinds_trainset *t, const size_t *rows, size_t n_rows,
                      const struct allot_kinds_train_opts *o, struct allot_kinds_model **out)
{
    struct allot_kinds_model *m = NULL;
    double T = 1.0;
    int rc;

    if (!rows)
        n_rows = t->n;
    if (n_rows == 0 || o->epochs == 0)
        return ALLOT_EINVAL;
    if (o->calib_folds >= 2 && n_rows >= 2 * o->calib_folds) {
        rc = oof_temperature(t, rows, n_rows, o, &T);
        if (rc)
            return rc;
    }
    rc = fit(t, rows, n_rows, o, &m);
    if (rc)
        return rc;
    m->temperature = (float)T;
    *out = m;
    return 0;
}
