/* kinds_model.h: the learned kind-of-work model, its file and its training.
 *
 * A multinomial logistic regression (softmax) over the hashed features of
 * features.h: for each of the 16 categories a bias and one weight per
 * bucket; p(category | request) = softmax(logits / temperature). The
 * temperature is fitted on held-out predictions (temperature scaling), so
 * a confidence of 0.9 is right about 90% of the time.
 *
 * The model file (docs/classifier.md), little-endian, version 2:
 *
 *   offset  size        field
 *   0       8           magic "ALLOTKND"
 *   8       4           u32 format version (2)
 *   12      4           u32 number of categories (16)
 *   16      4           u32 hash_bits (buckets = 2^hash_bits)
 *   20      4           u32 training examples
 *   24      4           f32 temperature
 *   28      4           u32 reserved (0)
 *   32      16 * 16     category names, NUL-padded, in enum allot_category order
 *   288     4 * 16      f32 bias per category
 *   352     4 * B       f32 scale per bucket
 *   352+4B  16 * B      i8 weights, bucket-major (bucket 0's 16 weights
 *                       first); weight = i8 * its bucket's scale
 *   end-4   4           u32 CRC-32 (IEEE) of every byte before it
 *
 * Version 1 (still read) has, from offset 352, f32 weights (4 * 16 * B
 * bytes, bucket-major) instead of the scales and int8 weights.
 *
 * A file is loaded only whole and checked: magic, version, sizes, names
 * and CRC; any mismatch is an error naming the file and the cause. */
#ifndef ALLOT_KINDS_MODEL_H
#define ALLOT_KINDS_MODEL_H
#include <stddef.h>
#include <stdint.h>
#include "allot/buf.h"
#include "allot/features.h"
#include "allot/kinds.h"

/* 3: version 2's layout for the features of signed hashing, CJK characters
 * as words, the lead pair and the counts: a model trained on the features
 * before them (versions 1 and 2) scores them wrongly and is refused. */
#define ALLOT_KINDS_MODEL_VERSION 3
#define ALLOT_KINDS_HASH_BITS 17 /* 131,072 buckets: 2.6 MB, in the file and loaded */

/* One bucket of a model in memory: its scale and its 16 weights as int8
 * multiples of it, the numbers of the file side by side, so that scoring a
 * feature reads one place (the file keeps all scales, then all weights). */
struct allot_kinds_bucket {
    float scale; /* 0 or a power of two */
    int8_t q[ALLOT_CAT__COUNT];
};

/* The weight of category c in bucket b is buckets[b].q[c] *
 * buckets[b].scale, as in the file: a saved and reloaded model is the same
 * model. */
struct allot_kinds_model {
    uint32_t hash_bits;
    uint32_t n_examples; /* it was trained on */
    float temperature;
    float bias[ALLOT_CAT__COUNT];
    struct allot_kinds_bucket *buckets; /* [2^hash_bits]; owned */
};

/* A new zero model (every category equally likely). ALLOT_EINVAL when
 * hash_bits is outside [ALLOT_HASH_BITS_MIN, ALLOT_HASH_BITS_MAX],
 * ALLOT_ENOMEM. The caller frees it with allot_kinds_model_free(). */
int allot_kinds_model_new(unsigned hash_bits, struct allot_kinds_model **out);
void allot_kinds_model_free(struct allot_kinds_model *m);

/* Read a model from bytes / from a file. err gets "model 'NAME': why"
 * ("not an allot kinds model", "truncated: 1024 of 2621796 bytes",
 * "checksum mismatch", "format version 3, this allot reads 1 to 2", ...).
 * Errors: ALLOT_EPARSE for a bad file, ALLOT_EIO when it cannot be read,
 * ALLOT_ENOMEM. *out is set only on success. */
int allot_kinds_model_from_bytes(const void *p, size_t n, const char *name,
                                 struct allot_kinds_model **out, struct allot_buf *err);
int allot_kinds_model_load(const char *path, struct allot_kinds_model **out, struct allot_buf *err);

/* Set every weight from w ([2^hash_bits][16] f32, bucket-major), rounded
 * to the model's form: per bucket, the power-of-two scale that puts its
 * largest weight at 64..127, and each weight an int8 multiple of it. */
void allot_kinds_model_set_weights(struct allot_kinds_model *m, const float *w);

/* The weight of category c in bucket b. */
static inline float allot_kinds_model_weight(const struct allot_kinds_model *m, size_t b, int c)
{
    return (float)m->buckets[b].q[c] * m->buckets[b].scale;
}

/* acc[c] += value * the weight of category c in bucket b, for all 16: the
 * step of every score. The scale is a power of two, so value * scale is
 * exact and this equals value * allot_kinds_model_weight(). */
static inline void allot_kinds_model_add(const struct allot_kinds_model *m, size_t b, float value,
                                         float acc[ALLOT_CAT__COUNT])
{
    const struct allot_kinds_bucket *k = &m->buckets[b];
    float v = value * k->scale;
    int c;
    for (c = 0; c < ALLOT_CAT__COUNT; c++)
        acc[c] += v * (float)k->q[c];
}

/* Serialise into out (appended), as the current version. ALLOT_ETOOBIG /
 * ALLOT_ENOMEM. */
int allot_kinds_model_write(const struct allot_kinds_model *m, struct allot_buf *out);
/* Write to path atomically (a temp file renamed over it). ALLOT_EIO. */
int allot_kinds_model_save(const struct allot_kinds_model *m, const char *path,
                           struct allot_buf *err);

/* Raw scores (before temperature) of the 16 categories for f. */
void allot_kinds_model_logits(const struct allot_kinds_model *m, const struct allot_features *f,
                              float logits[ALLOT_CAT__COUNT]);
/* Each feature's push toward category a over category b, for the
 * explanation: out[i] = f->f[i].value * (w[a] - w[b]) / temperature, w
 * the weights of its bucket, w[a] - w[b] taken as (q[a] - q[b]) * scale
 * (exact, the scale a power of two) and the rest in float left to right.
 * out has room for f->n floats. */
void allot_kinds_model_pushes(const struct allot_kinds_model *m, const struct allot_features *f,
                              int a, int b, float *out);
/* Calibrated probabilities from logits: softmax(logits / temperature). */
void allot_kinds_model_probs(const struct allot_kinds_model *m,
                             const float logits[ALLOT_CAT__COUNT], double p[ALLOT_CAT__COUNT]);

/* --- training (kinds_train.c) --- */

/* Examples, features stored compactly: example i's features are
 * feat[off[i] .. off[i+1]), its category label[i]. */
struct allot_kinds_trainset {
    uint32_t *idx;
    float *val;
    uint16_t *unit; /* each feature's unit (features.h), for dropout by unit */
    size_t *off;    /* n + 1 entries */
    uint8_t *label;
    size_t n, cap, n_feat, cap_feat;
    unsigned hash_bits;
};

void allot_kinds_trainset_init(struct allot_kinds_trainset *t, unsigned hash_bits);
void allot_kinds_trainset_release(struct allot_kinds_trainset *t);
/* Add one example. ALLOT_ENOMEM. */
int allot_kinds_trainset_add(struct allot_kinds_trainset *t, const struct allot_features *f,
                             enum allot_category label);

struct allot_kinds_train_opts {
    unsigned epochs;      /* passes over the data; default 30 */
    double learning_rate; /* AdaGrad step; default 0.1 */
    double l2;            /* weight decay per step; default 1e-5 */
    uint64_t seed;        /* shuffle order; default 1 */
    int balance;          /* weight classes by inverse frequency; default 1 */
    unsigned calib_folds; /* folds for fitting the temperature; 0 = none (T = 1) */
    double dropout;       /* share of feature occurrences dropped per step; default 0.5 */
    double tier_weight;   /* weight of the tier's log loss beside the category's; default 3 */
};

/* Defaults as documented above, calib_folds 5. */
void allot_kinds_train_opts_default(struct allot_kinds_train_opts *o);

/* Train on the examples rows[0..n_rows) of t (all when rows is NULL).
 * With calib_folds >= 2, the temperature is fitted by minimising the log
 * loss of out-of-fold predictions. Deterministic for a given seed.
 * Errors: ALLOT_EINVAL (no rows), ALLOT_ENOMEM. */
int allot_kinds_train(const struct allot_kinds_trainset *t, const size_t *rows, size_t n_rows,
                      const struct allot_kinds_train_opts *o, struct allot_kinds_model **out);

/* Raw scores of example row of t under m (what allot_kinds_model_logits
 * gives for the request it came from). */
void allot_kinds_trainset_logits(const struct allot_kinds_model *m,
                                 const struct allot_kinds_trainset *t, size_t row,
                                 float logits[ALLOT_CAT__COUNT]);

/* Stratified k-fold assignment: fold[i] in [0, k) for each example, the
 * categories spread evenly over the folds, shuffled by seed. */
void allot_kinds_stratified_folds(const struct allot_kinds_trainset *t, unsigned k, uint64_t seed,
                                  unsigned *fold);

#endif
