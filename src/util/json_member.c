/* json_member.c: member lookup, the last duplicate counting (json_member.h). */
#include <string.h>
#include "allot/json_member.h"

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
