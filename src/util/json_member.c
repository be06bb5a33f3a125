/* json_member.c: member lookup, the last duplicate counting (json_member.h). */
#include <string.h>
#include "allot/json_check.h"
#include "allot/json_member.h"
#include "allot/json_tree.h"

struct wanted {
    const char *text, *name;
    size_t off, len;
    int found;
};

static void note_member(void *ctx, const struct allot_json_check_member *m)
{
    struct wanted *w = ctx;
    if (allot_json_check_key_is(w->text, m, w->name)) { /* the last one counts */
        w->off = m->value_off;
        w->len = m->value_len;
        w->found = 1;
    }
}

cJSON *allot_json_parse_member(const char *text, size_t len, const char *name)
{
    struct wanted w = {text, name, 0, 0, 0};

    if (allot_json_check(text, len, 0, note_member, &w, NULL) != 0 || !w.found)
        return NULL;
    return allot_json_tree(text + w.off, w.len); /* checked: read, not validated again */
}

cJSON *allot_json_member(const cJSON *obj, const char *name)
{
    cJSON *c, *found = NULL;

    if (!cJSON_IsObject(obj))
        return NULL;
    cJSON_ArrayForEach(c, obj)
    {
        if (c->string && strcmp(c->string, name) == 0)
            found = c;
    }
    return found;
}
