/* kinds.h: the taxonomy of work (../shared/KINDS.md): 16 categories in
 * three tiers. Tables are static; nothing here allocates. */
#ifndef ALLOT_KINDS_H
#define ALLOT_KINDS_H
#include "allot/slice.h"

enum allot_tier {
    ALLOT_TIER_JUDGMENT = 0,
    ALLOT_TIER_LABOUR = 1,
    ALLOT_TIER_CODE = 2,
    ALLOT_TIER__COUNT = 3,
};

enum allot_category {
    /* judgment */
    ALLOT_CAT_PLAN = 0,
    ALLOT_CAT_DECIDE,
    ALLOT_CAT_REVIEW,
    ALLOT_CAT_RISK,
    ALLOT_CAT_TRADEOFF,
    ALLOT_CAT_SYNTHESIZE,
    ALLOT_CAT_SOLVE,
    /* labour */
    ALLOT_CAT_SCAN,
    ALLOT_CAT_EXTRACT,
    ALLOT_CAT_SUMMARIZE,
    ALLOT_CAT_REFORMAT,
    ALLOT_CAT_CONVERT,
    ALLOT_CAT_COLLECT,
    ALLOT_CAT_ANSWER,
    ALLOT_CAT_COMPOSE,
    /* code */
    ALLOT_CAT_IMPLEMENT,
    ALLOT_CAT__COUNT,
};

/* "judgment", "labour", "code". */
const char *allot_tier_name(enum allot_tier t);
/* "plan", "decide", ... */
const char *allot_category_name(enum allot_category c);
/* The default tier of a category, per KINDS.md. */
enum allot_tier allot_category_default_tier(enum allot_category c);
/* Parse a name (case-insensitive). 0 and *out set, or ALLOT_ENOTFOUND.
 * allot_tier_parse also accepts "labor". */
int allot_tier_parse(struct allot_slice s, enum allot_tier *out);
int allot_category_parse(struct allot_slice s, enum allot_category *out);

#endif
