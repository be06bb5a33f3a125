/* sse_events.h: reading named SSE events in unit tests: the Messages and
 * Responses stream translators' output, "event: NAME\ndata: JSON\n\n"... */
#ifndef ALLOT_TEST_SSE_EVENTS_H
#define ALLOT_TEST_SSE_EVENTS_H
#include <cJSON.h>

#define MAX_EVENTS 64
struct events {
    int n;
    char name[MAX_EVENTS][48];
    cJSON *data[MAX_EVENTS];
};

/* Parse s into ev: 0, or -1 (ev released) when s is not exactly a series
 * of such events, each with its data on one line and a "type" equal to
 * NAME. With sequenced, each data must also carry a sequence_number, one
 * more than the event's before it. */
int events_parse(const char *s, struct events *ev, int sequenced);
void events_release(struct events *ev);
/* The event names, comma-separated (a static buffer). */
const char *event_names(const struct events *ev);

#endif
