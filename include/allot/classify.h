/* classify.h: the kind-of-work classifier, behind a narrow interface.
 *
 * In: a request's instruction (instruction.h). Out: a category, a
 * calibrated confidence, the runner-up, and why: the features that pushed
 * toward the category and against it (relative to the runner-up), and the
 * rule that overrode the model, if any. The model is the learned softmax
 * regression of kinds_model.h; the one in use is process-wide, built in
 * (trained from data/kinds/ at build time) unless a model file is loaded,
 * and can be replaced while serving (SIGHUP) without a request seeing a
 * half-loaded model.
 *
 * DESIGN: the model in use is reference-counted under a mutex. Each thread
 * that classifies holds a reference to the model it last used and checks,
 * with one atomic load and no lock, whether a reload replaced it; only then
 * does it take the mutex to trade its reference. A reload therefore frees
 * the old model once every thread that used it has classified again (or
 * exited), never while a classification is using it. Classification
 * itself does not allocate (a thread's first call makes its small
 * per-thread block). */
#ifndef ALLOT_CLASSIFY_H
#define ALLOT_CLASSIFY_H
#include <stddef.h>
#include "allot/buf.h"
#include "allot/instruction.h"
#include "allot/kinds.h"
#include "allot/kinds_model.h"

#define ALLOT_REASON_MAX 160
#define ALLOT_EXPLAIN_TOP 5
#define ALLOT_FEATURE_NAME_MAX 40

struct allot_contribution {
    char name[ALLOT_FEATURE_NAME_MAX]; /* "summarise", "which of", "signal: tools defined" */
    float weight; /* its push toward the category over the runner-up, in logits / T */
};

struct allot_classification {
    enum allot_category category;
    double confidence; /* calibrated probability, in [0, 1] */
    enum allot_category runner_up;
    double runner_up_confidence;
    double p[ALLOT_CAT__COUNT]; /* every category's calibrated probability */
    const char *override;       /* NULL, or the rule that overrode the model */
    struct allot_contribution pro[ALLOT_EXPLAIN_TOP], con[ALLOT_EXPLAIN_TOP];
    size_t n_pro, n_con;
    char reason[ALLOT_REASON_MAX]; /* short, printable ASCII: "summarize 0.93: 'summarise' +2.1,
                                      ..." */
};

/* Classify with the model in use. Never fails on any input; always sets
 * *out. Thread-safe. Returns 1 when *out is a copy from the calling
 * thread's memo of recent classifications (classify_memo.h: the same
 * instruction and structure, the same model), 0 when it was classified. */
int allot_classify(const struct allot_instruction *in, struct allot_classification *out);

/* Classify with a given model (NULL: no model, every category 1/16). */
void allot_classify_with(const struct allot_kinds_model *m, const struct allot_instruction *in,
                         struct allot_classification *out);

/* The full explanation, for the ledger and `allot route`: "summarize 0.93
 * (next synthesize 0.04); for: 'summarise' +2.10, ...; against: ...",
 * NUL-terminated in out (cap > 0 bytes), cut at a whole item when it does
 * not fit. Returns the length written. Does not allocate. */
size_t allot_classification_explain(const struct allot_classification *c, char *out, size_t cap);
/* The same as JSON: {"category","confidence","runner_up","runner_up_confidence",
 * "override","for":[{"feature","weight"}],"against":[...]}. */
int allot_classification_to_json(const struct allot_classification *c, struct allot_buf *out);

/* Use the model in file path from now on. On any error the model in use is
 * kept and err says why ("model 'PATH': truncated: ..."). Returns 0,
 * ALLOT_EIO, ALLOT_EPARSE or ALLOT_ENOMEM. */
int allot_classifier_use_file(const char *path, struct allot_buf *err);
/* Use the built-in model (the default). */
void allot_classifier_use_builtin(void);
/* Make the model in use ready now. The built-in one is otherwise decoded
 * (checked and laid out for scoring, ~6 ms) by the first classification:
 * a server calls this before it serves, so no request waits for it. */
void allot_classifier_preload(void);
/* Where the model in use came from: "built-in" or its path, into buf. */
const char *allot_classifier_source(char *buf, size_t cap);
/* Free the model in use (at exit, for leak checkers). */
void allot_classifier_shutdown(void);

/* The built-in model's bytes (src/model/kinds_blob.c, linked into the
 * allot binary); size 0 in the bootstrap trainer that builds it. */
extern const unsigned char allot__kinds_builtin[];
extern const size_t allot__kinds_builtin_size;

#endif
