/* deadline.h: one deadline on a libuv timer, armed lazily.
 *
 * A connection or an upstream attempt has one deadline at a time, moved
 * several times a request (a keep-alive connection: header timeout, none
 * while the request is handled, idle timeout). Restarting the uv timer
 * each time is an insert and a removal in the loop's timer heap, whose
 * nodes are other connections' cache lines. Here a deadline moved later,
 * or cleared, leaves the timer armed as it is: it fires early, and the
 * callback's allot_deadline_due() arms it again for the rest. Only a
 * deadline earlier than the armed one restarts the timer at once. A
 * keep-alive request then makes no timer call.
 *
 * Times are the loop's (uv_now, ms). The owner keeps the uv_timer_t
 * (initialised, closed and counted as before); the timer fires to no
 * effect after allot_deadline_clear(). */
#ifndef ALLOT_DEADLINE_H
#define ALLOT_DEADLINE_H
#include <stdint.h>
#include <uv.h>

struct allot_deadline {
    uint64_t due_ms;   /* the deadline in force; 0: none */
    uint64_t armed_ms; /* when the timer fires; 0: not armed */
};

/* The deadline is due_ms (a time already past means now). t is the
 * owner's timer, cb its callback. */
static inline void allot_deadline_set(struct allot_deadline *d, uv_timer_t *t, uv_timer_cb cb,
                                      uint64_t due_ms)
{
    uint64_t now = uv_now(t->loop);

    if (due_ms < now)
        due_ms = now;
    d->due_ms = due_ms;
    if (d->armed_ms && d->armed_ms <= due_ms)
        return;
    uv_timer_start(t, cb, due_ms - now, 0);
    d->armed_ms = due_ms;
}

/* No deadline: an armed timer fires to no effect. */
static inline void allot_deadline_clear(struct allot_deadline *d)
{
    d->due_ms = 0;
}

/* First thing in the timer's callback: 1 when the deadline has come (it
 * is then cleared); 0 when there is none, or it moved later (the timer
 * is then armed for it), and the callback returns. */
static inline int allot_deadline_due(struct allot_deadline *d, uv_timer_t *t, uv_timer_cb cb)
{
    uint64_t now = uv_now(t->loop);

    d->armed_ms = 0;
    if (d->due_ms == 0)
        return 0;
    if (now < d->due_ms) {
        uv_timer_start(t, cb, d->due_ms - now, 0);
        d->armed_ms = d->due_ms;
        return 0;
    }
    d->due_ms = 0;
    return 1;
}

#endif
