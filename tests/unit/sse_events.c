/* sse_events.c: reading named SSE events in unit tests (sse_events.h). */
#include "sse_events.h"
#include <stdio.h>
#include <string.h>
#include "json_path.h"

void events_release(struct events *ev)
{
    int i;
    for (i = 0; i < ev->n; i++)
        cJSON_Delete(ev->data[i]);
    ev->n = 0;
}

int events_parse(const char *s, struct events *ev, int sequenced)
{
    const char *end, *nl;
    double first = 0;

    ev->n = 0;
    while (*s) {
        if (ev->n == MAX_EVENTS || strncmp(s, "event: ", 7) != 0)
            goto fail;
        s += 7;
        if (!(nl = strchr(s, '\n')) || (size_t)(nl - s) >= sizeof ev->name[0])
            goto fail;
        memcpy(ev->name[ev->n], s, (size_t)(nl - s));
        ev->name[ev->n][nl - s] = '\0';
        s = nl + 1;
        if (strncmp(s, "data: ", 6) != 0 || !(end = strstr(s, "\n\n")))
            goto fail;
        s += 6;
        if (memchr(s, '\n', (size_t)(end - s)))
            goto fail; /* data on one line */
        if (!(ev->data[ev->n] = cJSON_ParseWithLength(s, (size_t)(end - s))))
            goto fail;
        ev->n++;
        if (!json_str(ev->data[ev->n - 1], "type") ||
            strcmp(json_str(ev->data[ev->n - 1], "type"), ev->name[ev->n - 1]) != 0)
            goto fail;
        if (sequenced) {
            if (ev->n == 1)
                first = json_num(ev->data[0], "sequence_number");
            if (first < 0 || json_num(ev->data[ev->n - 1], "sequence_number") != first + ev->n - 1)
                goto fail;
        }
        s = end + 2;
    }
    return 0;
fail:
    events_release(ev);
    return -1;
}

const char *event_names(const struct events *ev)
{
    static char k[4096];
    size_t n = 0;
    int i;

    k[0] = '\0';
    for (i = 0; i < ev->n && n < sizeof k; i++)
        n += (size_t)snprintf(k + n, sizeof k - n, "%s%s", i ? "," : "", ev->name[i]);
    return k;
}
