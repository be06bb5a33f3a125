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

/* The members named in names, as the check passes them. */
struct wanted_all {
    const char *text;
    const char *const *names;
    size_t n;
    int too_many;
    struct {
        const char *name;
        size_t off, len;
    } found[ALLOT_JSON_PARSE_MEMBERS_MAX];
};

static void note_any(void *ctx, const struct allot_json_check_member *m)
{
    struct wanted_all *w = ctx;
    size_t k;

    for (k = 0; w->names[k]; k++) {
        if (allot_json_check_key_is(w->text, m, w->names[k])) {
            if (w->n == ALLOT_JSON_PARSE_MEMBERS_MAX) {
                w->too_many = 1;
                return;
            }
            w->found[w->n].name = w->names[k];
            w->found[w->n].off = m->value_off;
            w->found[w->n].len = m->value_len;
            w->n++;
            return;
        }
    }
}

cJSON *allot_json_parse_members(const char *text, size_t len, const char *const *names)
{
    struct wanted_all w;
    cJSON *root, *item;
    size_t k;

    w.text = text;
    w.names = names;
    w.n = 0;
    w.too_many = 0;
    if (!text || allot_json_check(text, len, 0, note_any, &w, NULL) != 0)
        return text ? cJSON_ParseWithLength(text, len) : NULL; /* as allot_json_parse() */
    if (text[allot_json_check_skip_ws(text, len, 0)] != '{' || w.too_many)
        return allot_json_tree(text, len);
    if (!(root = cJSON_CreateObject()))
        return NULL;
    for (k = 0; k < w.n; k++) {
        /* checked: read, not validated again; the name (the key decoded) is
         * one of names, not copied (the caller keeps names) */
        if (!(item = allot_json_tree(text + w.found[k].off, w.found[k].len)) ||
            !cJSON_AddItemToObjectCS(root, w.found[k].name, item)) {
            cJSON_Delete(item);
            cJSON_Delete(root);
            return NULL;
        }
    }
    return root;
}
