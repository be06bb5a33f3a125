/* same_tree.h: whether two cJSON trees are the same node for node, for the
 * tests and fuzz target that hold allot_json_tree() (json_tree.h) to
 * cJSON's own parse: types, keys, strings, number bits, valueint, and the
 * links (each prev, and a first child's prev at the last). */
#ifndef ALLOT_TEST_SAME_TREE_H
#define ALLOT_TEST_SAME_TREE_H
#include <cJSON.h>
#include <math.h>
#include <string.h>

/* 1 when the sibling lists from a and b are the same trees (top: the
 * roots, which have no prev); *why says where they part. */
static inline int same_tree_list(const cJSON *a, const cJSON *b, int top, const char **why)
{
    const cJSON *first_a = a, *first_b = b, *prev_a = NULL;
    for (; a && b; prev_a = a, a = a->next, b = b->next) {
        if (a->type != b->type)
            return *why = "type", 0;
        if (!a->string != !b->string || (a->string && strcmp(a->string, b->string)))
            return *why = "key", 0;
        if (!a->valuestring != !b->valuestring ||
            (a->valuestring && strcmp(a->valuestring, b->valuestring)))
            return *why = "string", 0;
        if (memcmp(&a->valuedouble, &b->valuedouble, sizeof(double)) &&
            !(isnan(a->valuedouble) && isnan(b->valuedouble)))
            return *why = "number", 0;
        if (a->valueint != b->valueint)
            return *why = "valueint", 0;
        if (a != first_a && a->prev != prev_a)
            return *why = "prev link", 0;
        if (!same_tree_list(a->child, b->child, 0, why))
            return 0;
    }
    if (a || b)
        return *why = "child count", 0;
    /* cJSON's first child points back at the last */
    if (!top && first_a && (!first_a->prev || first_a->prev->next || !first_b->prev ||
                    first_b->prev->next))
        return *why = "first child's prev is not the last", 0;
    return 1;
}

#endif
