/* eval.h: a routing policy measured on recorded outcomes: the examples
 * built from an outcome set, their cross-validated predictions, and the
 * threshold calibration (docs/eval.md). What `allot eval` and `allot train
 * outcomes` share. The curve arithmetic and the threshold calibration are
 * in curve.h.
 *
 * Ownership: allot_eval_data owns its arrays (allot_eval_data_release());
 * the names point into the outcome set, which must outlive it. */
#ifndef ALLOT_EVAL_H
#define ALLOT_EVAL_H
#include <stddef.h>
#include <stdint.h>
#include "allot/accept.h"
#include "allot/buf.h"
#include "allot/outcomes.h"

/* USD per million tokens of one model, for the cost figures. */
struct allot_price {
    const char *model;
    double in, out;
};

struct allot_eval_data {
    struct allot_accept_set set; /* one example per outcome row with a known quality */
    size_t *row;                 /* [set.n]: its outcome row */
    double *q;                   /* [set.n * n_heads]: quality scaled to [0, 1]; NAN unknown */
    double *raw;                 /* [set.n * n_heads]: quality as recorded; NAN unknown */
    double *cost;                /* [set.n * n_heads]: USD of the call (0 without a price) */
    int priced;                  /* every head has a price */
    size_t n_heads;
    const char *names[ALLOT_ACCEPT_MAX_HEADS];
    int model[ALLOT_ACCEPT_MAX_HEADS]; /* the heads' models in the outcome set */
    int64_t assumed_completion;        /* completion tokens assumed where unknown */
    size_t estimated_prompts;          /* rows whose prompt tokens were estimated */
};

/* The examples of the models named (heads in that order) from an outcome
 * set: every row where at least one of them has a known quality. Features
 * at hash_bits. Costs from prices (NULL/0: none) with each row's token
 * counts, or ceil(bytes / 4) of the prompt and assumed_completion tokens
 * where unknown. Errors: ALLOT_ENOTFOUND (a model not in the set; err lists
 * the set's models), ALLOT_EINVAL (no usable row, too many models, a row
 * the request parser refuses: err says which), ALLOT_ENOMEM. */
int allot_eval_data_build(const struct allot_outcomes *oc, const char *const *models,
                          size_t n_models, unsigned hash_bits, const struct allot_price *prices,
                          size_t n_prices, int64_t assumed_completion, struct allot_eval_data *out,
                          struct allot_buf *err);
void allot_eval_data_release(struct allot_eval_data *d);

/* k-fold cross-validated predictions: fold[i] in [0, k) (a seeded shuffle);
 * pred[i * n_heads + h] the quality head h predicts for example i by a
 * model trained on the other folds. When ins is not NULL (k arrays of
 * set.n doubles) each fold's model also scores its own training examples:
 * ins[f][0..n_ins[f]) gets the acceptability of head weak against head
 * strong there, where both are known (for diagnostics: a model scores its
 * own training requests more confidently than new ones, so thresholds are
 * not set on these but on out-of-fold scores). Errors:
 * ALLOT_EINVAL (k < 2 or more folds than examples), ALLOT_ENOMEM. */
int allot_eval_cross_predict(const struct allot_eval_data *d, unsigned k, uint64_t seed,
                             const struct allot_accept_opts *o, double *pred, unsigned *fold,
                             int weak, int strong, double **ins, size_t *n_ins);

/* Write the ledger store (a SQLite path or a PostgreSQL URI) as outcome data (JSONL,
 * docs/outcomes.md) to out_path: one row per request whose instruction was kept
 * (store.keep_prompts) and whose first answer came from labour and was
 * checked, with models "labour" (right when it passed its checks and was
 * not escalated, or as its audit graded it) and "judgment" (taken to be
 * right). *n_rows gets the rows written. Errors: ALLOT_ESTORE (cannot
 * read the ledger), ALLOT_EINVAL (a ledger older than schema v4, or no
 * such request), ALLOT_EIO (cannot write). */
int allot_eval_export_ledger(const char *store, const char *out_path, size_t *n_rows,
                             struct allot_buf *err);

#endif
