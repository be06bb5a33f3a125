/* kinds.c: the category and tier tables of ../shared/KINDS.md. */
#include "allot/error.h"
#include "allot/kinds.h"

static const char *const tier_names[ALLOT_TIER__COUNT] = {"judgment", "labour", "code"};

static const struct {
    const char *name;
    enum allot_tier tier;
} categories[ALLOT_CAT__COUNT] = {
    [ALLOT_CAT_PLAN] = {"plan", ALLOT_TIER_JUDGMENT},
    [ALLOT_CAT_DECIDE] = {"decide", ALLOT_TIER_JUDGMENT},
    [ALLOT_CAT_REVIEW] = {"review", ALLOT_TIER_JUDGMENT},
    [ALLOT_CAT_RISK] = {"risk", ALLOT_TIER_JUDGMENT},
    [ALLOT_CAT_TRADEOFF] = {"tradeoff", ALLOT_TIER_JUDGMENT},
    [ALLOT_CAT_SYNTHESIZE] = {"synthesize", ALLOT_TIER_JUDGMENT},
    [ALLOT_CAT_SOLVE] = {"solve", ALLOT_TIER_JUDGMENT},
    [ALLOT_CAT_SCAN] = {"scan", ALLOT_TIER_LABOUR},
    [ALLOT_CAT_EXTRACT] = {"extract", ALLOT_TIER_LABOUR},
    [ALLOT_CAT_SUMMARIZE] = {"summarize", ALLOT_TIER_LABOUR},
    [ALLOT_CAT_REFORMAT] = {"reformat", ALLOT_TIER_LABOUR},
    [ALLOT_CAT_CONVERT] = {"convert", ALLOT_TIER_LABOUR},
    [ALLOT_CAT_COLLECT] = {"collect", ALLOT_TIER_LABOUR},
    [ALLOT_CAT_ANSWER] = {"answer", ALLOT_TIER_LABOUR},
    [ALLOT_CAT_COMPOSE] = {"compose", ALLOT_TIER_LABOUR},
    [ALLOT_CAT_IMPLEMENT] = {"implement", ALLOT_TIER_CODE},
};

const char *allot_tier_name(enum allot_tier t)
{
    return (unsigned)t < ALLOT_TIER__COUNT ? tier_names[t] : "unknown";
}

const char *allot_category_name(enum allot_category c)
{
    return (unsigned)c < ALLOT_CAT__COUNT ? categories[c].name : "unknown";
}

enum allot_tier allot_category_default_tier(enum allot_category c)
{
    return (unsigned)c < ALLOT_CAT__COUNT ? categories[c].tier : ALLOT_TIER_JUDGMENT;
}

int allot_tier_parse(struct allot_slice s, enum allot_tier *out)
{
    int i;
    if (allot_slice_ieq(s, "labor")) {
        *out = ALLOT_TIER_LABOUR;
        return 0;
    }
    for (i = 0; i < ALLOT_TIER__COUNT; i++) {
        if (allot_slice_ieq(s, tier_names[i])) {
            *out = (enum allot_tier)i;
            return 0;
        }
    }
    return ALLOT_ENOTFOUND;
}

int allot_category_parse(struct allot_slice s, enum allot_category *out)
{
    int i;
    for (i = 0; i < ALLOT_CAT__COUNT; i++) {
        if (allot_slice_ieq(s, categories[i].name)) {
            *out = (enum allot_category)i;
            return 0;
        }
    }
    if (allot_slice_ieq(s, "summarise") || allot_slice_ieq(s, "synthesise")) {
        *out = allot_slice_ieq(s, "summarise") ? ALLOT_CAT_SUMMARIZE : ALLOT_CAT_SYNTHESIZE;
        return 0;
    }
    return ALLOT_ENOTFOUND;
}
