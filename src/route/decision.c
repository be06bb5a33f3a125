/* decision.c: which tier and models serve a request, and why.
 *
 * The order is fixed and documented in decision.h and docs/routing.md: a
 * named model beats a named tier, which beats routing by kind of work; in
 * routing by kind of work the X-Allot-Work header beats the classifier, and
 * an unsure classifier hands the request to the default tier. Each decision
 * carries a one-line reason that the gateway returns in a response header
 * and writes to the ledger, so it is kept short and header-safe: printable
 * ASCII only, and client text is quoted only after sanitizing.
 *
 * Pure function of (config, request): no allocation beyond the caller's
 * error buffer, no state, safe from any thread. */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include "allot/decision.h"
#include "allot/error.h"
#include "allot/fmt.h"

#define TIER_PREFIX "allot:"
#define QUOTE_MAX 64 /* bytes of client text quoted in an error */
#define LIST_MAX 12  /* model names listed in an error */

const char *allot_decision_source_name(enum allot_decision_source s)
{
    switch (s) {
    case ALLOT_SRC_MODEL:
        return "model";
    case ALLOT_SRC_TIER:
        return "tier";
    case ALLOT_SRC_HEADER:
        return "header";
    case ALLOT_SRC_CLASSIFIER:
        return "classifier";
    case ALLOT_SRC_DEFAULT:
        return "default";
    }
    return "unknown";
}

/* Client text, made safe to print: printable ASCII, at most QUOTE_MAX
 * bytes, quotes and backslashes replaced. */
static void sanitize(struct allot_slice s, char *dst, size_t size)
{
    size_t i, n = s.len < QUOTE_MAX ? s.len : QUOTE_MAX;
    for (i = 0; i < n && i + 1 < size; i++) {
        unsigned char c = (unsigned char)s.ptr[i];
        dst[i] = (c < 0x20 || c > 0x7E)                 ? '?'
                 : (c == '\'' || c == '"' || c == '\\') ? '_'
                                                        : (char)c;
    }
    if (s.len > n && i >= 3 && i + 1 < size) {
        memcpy(dst + i - 3, "...", 3);
    }
    dst[i] = '\0';
}

static const struct allot_model *find_model(const struct allot_config *cfg, struct allot_slice name)
{
    size_t i;
    for (i = 0; i < cfg->n_models; i++)
        if (cfg->models[i].name && allot_slice_eq(name, cfg->models[i].name))
            return &cfg->models[i];
    return NULL;
}

static int tier_has(const struct allot_tier_conf *t, const struct allot_model *m)
{
    size_t i;
    for (i = 0; i < t->n_models && i < ALLOT_MAX_TIER_MODELS; i++)
        if (t->models[i] == m || (t->models[i] && t->models[i]->name && m->name &&
                                  strcmp(t->models[i]->name, m->name) == 0))
            return 1;
    return 0;
}

/* "auto", an alias, or a name an alias ending in '*' is a prefix of
 * ("claude-*": the names a client such as a coding tool sends on its own). */
int allot_decision_is_alias(const struct allot_config *cfg, struct allot_slice name)
{
    size_t i;
    if (allot_slice_ieq(name, "auto"))
        return 1;
    for (i = 0; i < cfg->routing.n_aliases && i < ALLOT_MAX_ALIASES; i++) {
        const char *a = cfg->routing.aliases[i];
        size_t n = a ? strlen(a) : 0;
        if (!a)
            continue;
        if (n && a[n - 1] == '*' ? name.len >= n - 1 && memcmp(name.ptr, a, n - 1) == 0
                                 : allot_slice_eq(name, a))
            return 1;
    }
    return 0;
}

static struct allot_slice trim(struct allot_slice s)
{
    while (s.len && (s.ptr[0] == ' ' || s.ptr[0] == '\t')) {
        s.ptr++;
        s.len--;
    }
    while (s.len && (s.ptr[s.len - 1] == ' ' || s.ptr[s.len - 1] == '\t'))
        s.len--;
    return s;
}

/* "model 'x' does not exist: use ..." listing every valid name. */
static void unknown_model(const struct allot_config *cfg, struct allot_slice name,
                          struct allot_buf *err)
{
    char q[QUOTE_MAX + 1];
    size_t i;

    sanitize(name, q, sizeof q);
    allot_buf_addf(err,
                   "model '%s' does not exist: use \"auto\", \"allot:judgment\", "
                   "\"allot:labour\", \"allot:code\"",
                   q);
    for (i = 0; i < cfg->routing.n_aliases && i < ALLOT_MAX_ALIASES; i++)
        if (cfg->routing.aliases[i])
            allot_buf_addf(err, ", \"%s\"", cfg->routing.aliases[i]);
    if (cfg->n_models == 0) {
        allot_buf_adds(err, " (no models are configured)");
        return;
    }
    allot_buf_adds(err, " or a configured model (");
    for (i = 0; i < cfg->n_models && i < LIST_MAX; i++)
        allot_buf_addf(err, "%s\"%s\"", i ? ", " : "", cfg->models[i].name);
    if (cfg->n_models > LIST_MAX)
        allot_buf_addf(err, ", and %zu more", cfg->n_models - LIST_MAX);
    allot_buf_adds(err, ")");
}

int allot_decision_use_tier(const struct allot_config *cfg, enum allot_tier tier,
                            struct allot_decision *d, struct allot_buf *err)
{
    const struct allot_tier_conf *t;
    size_t i;

    if ((unsigned)tier >= ALLOT_TIER__COUNT) {
        if (err)
            allot_buf_addf(err, "tier %d is not a tier", (int)tier);
        return ALLOT_EINVAL;
    }
    t = &cfg->tiers[tier];
    if (t->n_models == 0) {
        if (err)
            allot_buf_addf(err, "tier '%s' has no models configured: add one under tiers.%s",
                           allot_tier_name(tier), allot_tier_name(tier));
        return ALLOT_EINVAL;
    }
    d->has_tier = 1;
    d->tier = tier;
    d->n_models = 0;
    for (i = 0; i < t->n_models && i < ALLOT_MAX_TIER_MODELS; i++)
        if (t->models[i])
            d->models[d->n_models++] = t->models[i];
    return 0;
}

int allot_decide_embeddings(const struct allot_config *cfg, struct allot_slice requested_model,
                            struct allot_decision *out, struct allot_buf *err)
{
    const struct allot_tier_conf *e = &cfg->embeddings;
    const struct allot_model *m;
    char q[QUOTE_MAX + 1];
    size_t i;

    memset(out, 0, sizeof *out);
    out->confidence = out->tier_confidence = 1.0;
    if (!requested_model.ptr)
        requested_model = allot_slice_of("", 0);
    if ((m = find_model(cfg, requested_model))) {
        if (allot_provider_is_anthropic(m->provider)) {
            allot_buf_addf(err,
                           "model '%s' is served by provider '%s' of kind anthropic, which has "
                           "no embeddings API",
                           m->name, m->provider->name);
            return ALLOT_EINVAL;
        }
        out->source = ALLOT_SRC_MODEL;
        out->models[0] = m;
        out->n_models = 1;
        snprintf(out->reason, sizeof out->reason, "model %s named in request", m->name);
        return 0;
    }
    if (allot_decision_is_alias(cfg, requested_model) ||
        allot_slice_ieq(requested_model, "allot:embeddings")) {
        if (e->n_models == 0) {
            allot_buf_adds(err, "no embeddings models are configured: list them under "
                                "'embeddings' in allot.yaml, or name a configured model");
            return ALLOT_ENOTFOUND;
        }
        for (i = 0; i < e->n_models; i++)
            out->models[out->n_models++] = e->models[i];
        out->source = ALLOT_SRC_TIER;
        snprintf(out->reason, sizeof out->reason, "embeddings: the configured list");
        return 0;
    }
    sanitize(requested_model, q, sizeof q);
    allot_buf_addf(err,
                   "model '%s' does not exist: use \"auto\", \"allot:embeddings\" or a "
                   "configured model",
                   q);
    return ALLOT_ENOTFOUND;
}

/* Append s to dst (cap bytes, a string of *len bytes), cut where snprintf
 * would cut it. */
static void append(char *dst, size_t cap, size_t *len, const char *s)
{
    size_t n = strlen(s);
    if (n > cap - 1 - *len)
        n = cap - 1 - *len;
    memcpy(dst + *len, s, n);
    *len += n;
    dst[*len] = '\0';
}

int allot_decide(const struct allot_config *cfg, struct allot_slice requested_model,
                 struct allot_slice work_header, const struct allot_instruction *in,
                 struct allot_decision *out, struct allot_buf *err)
{
    struct allot_decision d;
    const struct allot_model *m;
    struct allot_slice rest;
    struct allot_classification *c = &d.classification;
    enum allot_category cat;
    enum allot_tier tier;
    char q[QUOTE_MAX + 1];
    double mass[ALLOT_TIER__COUNT] = {0};
    int rc = 0, t, k;

    memset(&d, 0, sizeof d);
    d.confidence = 1.0;
    d.tier_confidence = 1.0;
    if (!requested_model.ptr)
        requested_model = allot_slice_of("", 0);

    /* 1. a configured model, by its exact name */
    if ((m = find_model(cfg, requested_model))) {
        d.source = ALLOT_SRC_MODEL;
        d.models[0] = m;
        d.n_models = 1;
        for (t = 0; t < ALLOT_TIER__COUNT; t++) {
            if (tier_has(&cfg->tiers[t], m)) {
                d.has_tier = 1;
                d.tier = (enum allot_tier)t;
                break;
            }
        }
        snprintf(d.reason, sizeof d.reason, "model %s named in request", m->name);
        goto out;
    }

    /* 2. allot:<tier> */
    if (requested_model.len >= sizeof TIER_PREFIX - 1 &&
        strncasecmp(requested_model.ptr, TIER_PREFIX, sizeof TIER_PREFIX - 1) == 0) {
        rest = allot_slice_of(requested_model.ptr + sizeof TIER_PREFIX - 1,
                              requested_model.len - (sizeof TIER_PREFIX - 1));
        if (allot_tier_parse(rest, &tier)) {
            unknown_model(cfg, requested_model, err);
            rc = ALLOT_ENOTFOUND;
            goto out;
        }
        if ((rc = allot_decision_use_tier(cfg, tier, &d, err)))
            goto out;
        d.source = ALLOT_SRC_TIER;
        snprintf(d.reason, sizeof d.reason, "tier %s named in request", allot_tier_name(tier));
        goto out;
    }

    /* 3. "auto" and aliases: by kind of work */
    if (!allot_decision_is_alias(cfg, requested_model)) {
        unknown_model(cfg, requested_model, err);
        rc = ALLOT_ENOTFOUND;
        goto out;
    }
    work_header = work_header.ptr ? trim(work_header) : allot_slice_of("", 0);
    if (work_header.len) {
        d.source = ALLOT_SRC_HEADER;
        if (allot_category_parse(work_header, &cat) == 0) {
            tier = cfg->routing.category_tier[cat];
            d.has_category = 1;
            d.category = cat;
            snprintf(d.reason, sizeof d.reason, "X-Allot-Work: %s -> %s tier",
                     allot_category_name(cat), allot_tier_name(tier));
        } else if (allot_tier_parse(work_header, &tier) == 0) {
            snprintf(d.reason, sizeof d.reason, "X-Allot-Work: %s tier", allot_tier_name(tier));
        } else {
            sanitize(work_header, q, sizeof q);
            allot_buf_addf(err,
                           "X-Allot-Work '%s' is neither a kind of work (plan, decide, review, "
                           "risk, tradeoff, synthesize, solve, scan, extract, summarize, "
                           "reformat, convert, collect, answer, compose, implement) nor a tier "
                           "(judgment, labour, code)",
                           q);
            rc = ALLOT_EINVAL;
            goto out;
        }
        rc = allot_decision_use_tier(cfg, tier, &d, err);
        goto out;
    }

    if (in) {
        d.remembered = allot_classify(in, c);
    } else {
        struct allot_instruction empty;
        memset(&empty, 0, sizeof empty);
        d.remembered = allot_classify(&empty, c);
    }
    d.classified = 1;
    d.has_category = 1;
    /* the tier with the most probability, then its likeliest category:
     * "answer 0.30, solve 0.25, review 0.25" is judgment work */
    for (k = 0; k < ALLOT_CAT__COUNT; k++)
        mass[cfg->routing.category_tier[k]] += c->p[k];
    tier = ALLOT_TIER_JUDGMENT;
    for (k = 1; k < ALLOT_TIER__COUNT; k++)
        if (mass[k] > mass[tier])
            tier = (enum allot_tier)k;
    cat = c->category;
    for (k = 0; k < ALLOT_CAT__COUNT; k++)
        if (cfg->routing.category_tier[k] == tier &&
            (cfg->routing.category_tier[cat] != tier || c->p[k] > c->p[cat]))
            cat = (enum allot_category)k;
    d.category = cat;
    d.confidence = c->override ? c->confidence : c->p[cat];
    d.tier_confidence = c->override ? 0 : mass[tier];
    if (d.tier_confidence >= cfg->routing.confidence_threshold) {
        d.source = ALLOT_SRC_CLASSIFIER;
        char num[24]; /* snprintf is slow for the request path, its float printer most */
        size_t len = 0;
        allot_fmt_fixed(num, sizeof num, d.tier_confidence, 2, 0);
        append(d.reason, sizeof d.reason, &len, c->reason); /* "%s -> %s tier %s" */
        append(d.reason, sizeof d.reason, &len, " -> ");
        append(d.reason, sizeof d.reason, &len, allot_tier_name(tier));
        append(d.reason, sizeof d.reason, &len, " tier ");
        append(d.reason, sizeof d.reason, &len, num);
        if (cat != c->category) { /* the reason names the classifier's top category */
            allot_fmt_fixed(num, sizeof num, d.confidence, 2, 0);
            append(d.reason, sizeof d.reason, &len, "; category ");
            append(d.reason, sizeof d.reason, &len, allot_category_name(cat));
            append(d.reason, sizeof d.reason, &len, " ");
            append(d.reason, sizeof d.reason, &len, num);
            append(d.reason, sizeof d.reason, &len, ", the tier's likeliest");
        }
    } else {
        d.source = ALLOT_SRC_DEFAULT;
        /* "unsure (labour tier 0.62 < 0.80): default tier judgment; best guess " */
        int n = snprintf(
            d.reason, sizeof d.reason, "unsure (%s tier %.2f < %.2f): default tier %s; best guess ",
            allot_tier_name(tier), d.tier_confidence, cfg->routing.confidence_threshold,
            allot_tier_name(cfg->routing.default_tier));
        size_t len = n > 0 && (size_t)n < sizeof d.reason ? (size_t)n : strlen(d.reason);
        if (cat != c->category) { /* the classifier's top category is in another tier */
            char num[24];
            allot_fmt_fixed(num, sizeof num, d.confidence, 2, 0);
            append(d.reason, sizeof d.reason, &len, allot_category_name(cat));
            append(d.reason, sizeof d.reason, &len, " ");
            append(d.reason, sizeof d.reason, &len, num);
            append(d.reason, sizeof d.reason, &len, " (the ");
            append(d.reason, sizeof d.reason, &len, allot_tier_name(tier));
            append(d.reason, sizeof d.reason, &len, " tier's likeliest); classifier: ");
        }
        append(d.reason, sizeof d.reason, &len, c->reason);
        tier = cfg->routing.default_tier;
    }
    rc = allot_decision_use_tier(cfg, tier, &d, err);

out:
    if (rc)
        return rc;
    allot_str_header_safe(d.reason);
    *out = d;
    return 0;
}

int allot_decision_to_json(const struct allot_decision *d, struct allot_buf *out)
{
    size_t i;
    int rc = allot_buf_adds(out, "{\"category\":");

    if (!rc && d->has_category)
        rc = allot_buf_addf(out, "\"%s\"", allot_category_name(d->category));
    else if (!rc)
        rc = allot_buf_adds(out, "null");
    rc = rc ? rc : allot_buf_adds(out, ",\"tier\":");
    if (!rc && d->has_tier)
        rc = allot_buf_addf(out, "\"%s\"", allot_tier_name(d->tier));
    else if (!rc)
        rc = allot_buf_adds(out, "null");
    rc = rc ? rc : allot_buf_adds(out, ",\"model\":");
    if (!rc && d->n_models)
        rc = allot_buf_add_json_str(out, d->models[0]->name, strlen(d->models[0]->name));
    else if (!rc)
        rc = allot_buf_adds(out, "null");
    rc = rc ? rc : allot_buf_adds(out, ",\"models\":[");
    for (i = 0; !rc && i < d->n_models; i++) {
        if (i)
            rc = allot_buf_adds(out, ",");
        rc = rc ? rc : allot_buf_add_json_str(out, d->models[i]->name, strlen(d->models[i]->name));
    }
    rc = rc ? rc
            : allot_buf_addf(out,
                             "],\"confidence\":%.4f,\"tier_confidence\":%.4f,\"source\":\"%s\","
                             "\"reason\":",
                             d->confidence, d->tier_confidence,
                             allot_decision_source_name(d->source));
    rc = rc ? rc : allot_buf_add_json_str(out, d->reason, strlen(d->reason));
    rc = rc ? rc : allot_buf_adds(out, ",\"classifier\":");
    if (!rc && d->classified)
        rc = allot_classification_to_json(&d->classification, out);
    else if (!rc)
        rc = allot_buf_adds(out, "null");
    return rc ? rc : allot_buf_adds(out, "}");
}
