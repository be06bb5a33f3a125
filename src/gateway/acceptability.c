/* acceptability.c: routing by the acceptability model (routing.acceptability,
 * docs/eval.md): for a request routed by kind of work in a configured
 * category, labour serves when the weak model is expected good enough,
 * else judgment. The model is loaded once at start and only read after;
 * the features are computed in the worker's own scratch (no allocation
 * on the loop). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "allot/accept.h"
#include "allot/error.h"
#include "allot/log.h"
#include "internal.h"

int allot__acceptability_init(struct allot__gateway *gw, struct allot_buf *err)
{
    const struct allot_routing *r = &gw->cfg->routing;
    struct allot_accept_model *m = NULL;
    int rc;

    if (!r->accept_model)
        return 0;
    if ((rc = allot_accept_model_load(r->accept_model, &m, err))) {
        allot_buf_adds(err, " (routing.acceptability.model)");
        return rc;
    }
    if (m->weak < 0 || m->strong < 0 || (r->accept_threshold < 0 && !isfinite(m->threshold))) {
        allot_buf_addf(err,
                       "routing.acceptability.model '%s': no weak/strong pair or threshold in "
                       "it (train it with `allot train outcomes`)",
                       r->accept_model);
        allot_accept_model_free(m);
        return ALLOT_ECONFIG;
    }
    if (gw->cfg->tiers[ALLOT_TIER_LABOUR].n_models == 0 ||
        gw->cfg->tiers[ALLOT_TIER_JUDGMENT].n_models == 0) {
        allot_buf_addf(err, "routing.acceptability needs models in both the labour and the "
                            "judgment tiers");
        allot_accept_model_free(m);
        return ALLOT_ECONFIG;
    }
    gw->accept = m;
    allot_log_info("routing.acceptability: %s ('%s' as labour, '%s' as judgment), threshold %.4f",
                   r->accept_model, m->names[m->weak], m->names[m->strong],
                   r->accept_threshold >= 0 ? r->accept_threshold : m->threshold);
    return 0;
}

void allot__acceptability_free(struct allot__gateway *gw)
{
    allot_accept_model_free(gw->accept);
    gw->accept = NULL;
}

int allot__acceptability_route(struct allot__worker *w, struct allot_decision *d,
                               const struct allot_instruction *in)
{
    const struct allot_config *cfg = w->gw->cfg;
    const struct allot_accept_model *m = w->gw->accept;
    double q[ALLOT_ACCEPT_MAX_HEADS], a, t;
    enum allot_tier tier;

    if (!m || !d->has_category || d->source == ALLOT_SRC_MODEL || d->source == ALLOT_SRC_TIER ||
        !(cfg->routing.accept_categories & (1u << d->category)))
        return 0;
    if (!w->accept_scratch && !(w->accept_scratch = malloc(allot_accept_scratch_size())))
        return 0; /* no memory: the kind of work decides */
    /* the classifier already read this request for the decision */
    allot_accept_predict(m, in, d->classified ? &d->classification : NULL, w->accept_scratch, q);
    a = allot_accept_score(q, m->weak, m->strong);
    t = cfg->routing.accept_threshold >= 0 ? cfg->routing.accept_threshold : m->threshold;
    tier = a >= t ? ALLOT_TIER_LABOUR : ALLOT_TIER_JUDGMENT;
    (void)allot_decision_use_tier(cfg, tier, d, NULL); /* init checked both tiers */
    snprintf(d->reason, sizeof d->reason,
             "%s: acceptability %.3f %s %.3f (expected quality: weak %.2f, strong %.2f) -> %s "
             "tier",
             allot_category_name(d->category), a, a >= t ? ">=" : "<", t, q[m->weak], q[m->strong],
             allot_tier_name(tier));
    return 1;
}
