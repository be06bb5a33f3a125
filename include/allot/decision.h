/* decision.h: which tier and models serve a request, and why.
 *
 * Precedence: a "model" naming a configured model goes to that model; an
 * "allot:<tier>" goes to that tier; "auto" and the configured aliases are
 * routed by kind of work: the X-Allot-Work header (a category or a tier)
 * wins when present, else the classifier decides: the tier is the one
 * whose categories (as routing.categories maps them) have the most
 * probability together, the category the likeliest of that tier; when
 * that tier's probability is below routing.confidence_threshold the
 * default tier serves. */
#ifndef ALLOT_DECISION_H
#define ALLOT_DECISION_H
#include <stddef.h>
#include "allot/buf.h"
#include "allot/classify.h"
#include "allot/config.h"

enum allot_decision_source {
    ALLOT_SRC_MODEL,      /* a configured model was named */
    ALLOT_SRC_TIER,       /* allot:<tier> was named */
    ALLOT_SRC_HEADER,     /* X-Allot-Work */
    ALLOT_SRC_CLASSIFIER, /* the classifier, confident enough */
    ALLOT_SRC_DEFAULT,    /* the classifier was unsure: default tier */
};

struct allot_decision {
    enum allot_decision_source source;
    int has_category; /* category/confidence are meaningful */
    enum allot_category category;
    double confidence;      /* of the category; 1.0 for model, tier and header */
    double tier_confidence; /* of the tier: its categories' probabilities summed */
    int has_tier;           /* 0 when a named model is in no tier */
    enum allot_tier tier;
    const struct allot_model *models[ALLOT_MAX_TIER_MODELS]; /* try in order */
    size_t n_models;
    char reason[256]; /* short, human-readable, header-safe */
    int classified;   /* the classifier ran: classification is set */
    int remembered;   /* classified: a copy from the thread's memo (allot_classify()) */
    struct allot_classification classification;
};

/* Send d to tier: has_tier, tier, and the tier's models in order. For
 * what moves a decision after allot_decide() (the acceptability model, the
 * quality floor, an escalation). ALLOT_EINVAL when the tier has no models
 * (err, which may be NULL, says so); d is then unchanged. */
int allot_decision_use_tier(const struct allot_config *cfg, enum allot_tier tier,
                            struct allot_decision *d, struct allot_buf *err);

/* "model", "tier", "header", "classifier", "default". */
const char *allot_decision_source_name(enum allot_decision_source s);
/* Whether name is routed by kind of work: "auto" (any case), an alias, or a
 * name a prefix alias ("claude-*") matches. */
int allot_decision_is_alias(const struct allot_config *cfg, struct allot_slice name);

/* Decide. requested_model is the request's "model"; work_header the value
 * of X-Allot-Work ({NULL,0} when absent); in the request's instruction.
 * Errors: ALLOT_ENOTFOUND when the model is neither configured, a tier nor
 * an alias (err: "model 'x' does not exist: use \"auto\", \"allot:judgment\",
 * ... or a configured model"), ALLOT_EINVAL when X-Allot-Work names neither
 * a category nor a tier, or a tier has no models configured. */
int allot_decide(const struct allot_config *cfg, struct allot_slice requested_model,
                 struct allot_slice work_header, const struct allot_instruction *in,
                 struct allot_decision *out, struct allot_buf *err);

/* The models for an embeddings request (POST /v1/embeddings): a
 * configured model named in the request (ALLOT_SRC_MODEL), or for "auto",
 * an alias or "allot:embeddings" the config's embeddings list, first to
 * last (ALLOT_SRC_TIER). No tier, no category: has_tier 0. Errors:
 * ALLOT_ENOTFOUND (an unknown name, or no embeddings list), ALLOT_EINVAL
 * (a model of a kind anthropic provider); err says which. */
int allot_decide_embeddings(const struct allot_config *cfg, struct allot_slice requested_model,
                            struct allot_decision *out, struct allot_buf *err);

/* Append the decision as one JSON object: {"category", "tier", "model",
 * "models", "confidence", "source", "reason", "classifier"} (category and
 * tier null when absent; classifier the explanation of
 * allot_classification_to_json() when the classifier decided, else null),
 * as POST /v1/route and `allot route --json` give it. Returns 0,
 * or ALLOT_ETOOBIG / ALLOT_ENOMEM from the buffer. */
int allot_decision_to_json(const struct allot_decision *d, struct allot_buf *out);

#endif
