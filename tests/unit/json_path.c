/* json_path.c: reading JSON in unit tests (json_path.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "json_path.h"

const char *json_sq(const char *s)
{
    static char bufs[4][16384];
    static int next;
    char *b = bufs[next++ % 4];
    size_t i, n = strlen(s);

    if (n >= sizeof bufs[0])
        abort();
    for (i = 0; i < n; i++)
        b[i] = s[i] == '\'' ? '"' : s[i];
    b[n] = '\0';
    return b;
}

const cJSON *json_at(const cJSON *v, const char *path)
{
    char key[64];
    const char *p = path, *e;
    size_t n;

    while (v && *p) {
        e = strchr(p, '.');
        n = e ? (size_t)(e - p) : strlen(p);
        if (n >= sizeof key)
            return NULL;
        memcpy(key, p, n);
        key[n] = '\0';
        if (cJSON_IsArray(v))
            v = cJSON_GetArrayItem(v, atoi(key));
        else
            v = cJSON_GetObjectItemCaseSensitive(v, key);
        p = e ? e + 1 : p + n;
    }
    return v;
}

const char *json_str(const cJSON *v, const char *path)
{
    v = json_at(v, path);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

double json_num(const cJSON *v, const char *path)
{
    v = json_at(v, path);
    return cJSON_IsNumber(v) ? v->valuedouble : -12345;
}

int json_size(const cJSON *v, const char *path)
{
    v = json_at(v, path);
    return cJSON_IsArray(v) || cJSON_IsObject(v) ? cJSON_GetArraySize(v) : -1;
}

const char *json_keys(const cJSON *v)
{
    static char k[512];
    const cJSON *c;
    size_t n = 0;

    k[0] = '\0';
    cJSON_ArrayForEach(c, v)
    {
        n += (size_t)snprintf(k + n, sizeof k - n, "%s%s", n ? "," : "", c->string);
        if (n >= sizeof k)
            break;
    }
    return k;
}
