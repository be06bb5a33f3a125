/* accept.h: the acceptability model: how good each model's answer to a
 * request is expected to be, learned from recorded outcomes (docs/eval.md).
 *
 * One logistic-regression head per model over shared hashed features of
 * the request: the kind-of-work classifier's features of the instruction
 * (features.h: words, bigrams, cues, structural signals), the words and
 * word pairs of the whole prompt (here the topic matters: whether a small
 * model gets a question right depends on what it is about), a length
 * bucket, and the kind of work the classifier gives. A head predicts its
 * model's quality scaled to [0, 1]: P(correct) for correct/incorrect
 * outcomes, or the expected judge score, trained with soft labels.
 *
 * The routing score of a request for a weak/strong pair is its
 * acceptability, A = (1 - (Q_strong - Q_weak)) / 2 in [0, 1]: 0.5 when the
 * weak model is expected to do as well as the strong one, lower as the
 * strong model's expected advantage grows. Routing the lowest-A requests
 * to the strong model sends it the requests where a strong call buys the
 * most expected quality. (A single head trained on "was the weak answer
 * good enough" ranks worse: 0.65 against 0.68 APGR on MMLU, because the
 * per-model heads learn from every outcome, not only from the rare
 * disagreements.)
 *
 * Ownership: a set owns its arrays; a model owns its weights. Models are
 * immutable after training or loading and may be read from any thread.
 *
 * The model file (version 1, little-endian): "ALLOTACC", u32 version,
 * u32 hash_bits, u32 n_heads, u32 n_examples, f64 quality_min, f64
 * quality_max, u32 weak head, u32 strong head, f64 threshold, u32 target
 * kind (0 none, 1 strong share, 2 quality), f64 target, then per head a
 * u16-length-prefixed model name, then per head f32 bias and f32 weights
 * [2^hash_bits], then u32 CRC-32 of everything before it. */
#ifndef ALLOT_ACCEPT_H
#define ALLOT_ACCEPT_H
#include <stddef.h>
#include <stdint.h>
#include "allot/buf.h"
#include "allot/classify.h"
#include "allot/instruction.h"

#define ALLOT_ACCEPT_VERSION 1
#define ALLOT_ACCEPT_HASH_BITS 18 /* 262,144 weights a head: 1 MB */
#define ALLOT_ACCEPT_MAX_HEADS 32
#define ALLOT_ACCEPT_NAME_MAX 200

/* Examples, sparse rows (CSR), with a label per head (NAN: unknown). */
struct allot_accept_set {
    uint32_t *idx;
    float *val;
    size_t *off;  /* n + 1 */
    float *label; /* n x n_heads, quality scaled to [0, 1] */
    size_t n, cap, n_feat, cap_feat, n_heads;
    unsigned hash_bits;
};

void allot_accept_set_init(struct allot_accept_set *s, unsigned hash_bits, size_t n_heads);
void allot_accept_set_release(struct allot_accept_set *s);

/* Add one example: the features of a prompt (text; or a chat-completions
 * messages array as JSON text in messages_json, then prompt is ignored),
 * read through the gateway's own request parser, and its n_heads labels.
 * Errors: ALLOT_EPARSE (messages_json is not JSON) or ALLOT_EINVAL (not a
 * usable messages array), with the parser's reason in err; ALLOT_ENOMEM. */
int allot_accept_set_add(struct allot_accept_set *s, const char *prompt, const char *messages_json,
                         const float *labels, struct allot_buf *err);

/* Append every example of src to dst (same hash_bits and n_heads).
 * ALLOT_EINVAL when they differ, ALLOT_ENOMEM. */
int allot_accept_set_append(struct allot_accept_set *dst, const struct allot_accept_set *src);

enum allot_accept_target {
    ALLOT_ACCEPT_TARGET_NONE,
    ALLOT_ACCEPT_TARGET_SHARE,   /* a share of requests to the strong model */
    ALLOT_ACCEPT_TARGET_QUALITY, /* a fraction of the strong model's quality */
};

struct allot_accept_model {
    unsigned hash_bits;
    size_t n_heads;
    uint32_t n_examples;
    double quality_min, quality_max; /* the scale the labels were mapped from */
    char names[ALLOT_ACCEPT_MAX_HEADS][ALLOT_ACCEPT_NAME_MAX];
    int weak, strong; /* heads of the pair the threshold is for; -1 none */
    double threshold; /* route to weak when A >= threshold */
    enum allot_accept_target target;
    double target_value;
    float bias[ALLOT_ACCEPT_MAX_HEADS];
    float *w; /* n_heads x 2^hash_bits */
};

struct allot_accept_opts {
    unsigned epochs;      /* default 8 */
    double learning_rate; /* AdaGrad step, default 0.01 */
    double l2;            /* per-step decay, default 1e-4 */
    uint64_t seed;        /* shuffle order, default 1 */
};
void allot_accept_opts_default(struct allot_accept_opts *o);

/* Train every head on rows[0..n_rows) of s (all when rows is NULL); a
 * head skips the rows whose label for it is unknown. names[h] names head
 * h's model. Deterministic for a seed. Errors: ALLOT_EINVAL (no rows, more
 * than ALLOT_ACCEPT_MAX_HEADS heads), ALLOT_ENOMEM. */
int allot_accept_train(const struct allot_accept_set *s, const size_t *rows, size_t n_rows,
                       const char *const *names, const struct allot_accept_opts *o,
                       struct allot_accept_model **out);
void allot_accept_model_free(struct allot_accept_model *m);

/* The predicted quality (in [0, 1]) of every head, for example row of s;
 * for a request's instruction (no allocation: scratch is the caller's, at
 * least allot_accept_scratch_size() bytes). cls is the instruction's
 * classification when the caller already has it (the gateway's decision),
 * else NULL and the request is classified here. */
void allot_accept_predict_row(const struct allot_accept_model *m, const struct allot_accept_set *s,
                              size_t row, double *q);
size_t allot_accept_scratch_size(void);
void allot_accept_predict(const struct allot_accept_model *m, const struct allot_instruction *in,
                          const struct allot_classification *cls, void *scratch, double *q);

/* The acceptability of the weak head against the strong head: (1 -
 * (q[strong] - q[weak])) / 2. */
double allot_accept_score(const double *q, int weak, int strong);

/* The head of a model name, or -1. */
int allot_accept_head(const struct allot_accept_model *m, const char *name);

/* Files. Load errors: ALLOT_EIO (cannot read), ALLOT_EPARSE ("model
 * 'PATH': why": not an acceptability model, another version, truncated or
 * damaged), ALLOT_ENOMEM. */
int allot_accept_model_save(const struct allot_accept_model *m, const char *path,
                            struct allot_buf *err);
int allot_accept_model_load(const char *path, struct allot_accept_model **out,
                            struct allot_buf *err);

#endif
