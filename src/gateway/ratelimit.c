/* ratelimit.c: GCRA per client key (ratelimit.h). */
#include <stdlib.h>
#include "allot/clients.h"
#include "allot/error.h"
#include "allot/ratelimit.h"

#define MINUTE_US 60000000ull

struct allot_ratelimits {
    const struct allot_clients *clients;  /* the rates, by slot */
    uint64_t tat[ALLOT_MAX_CLIENT_SLOTS]; /* by slot: theoretical arrival time, us; 0: never */
};

int allot_ratelimits_new(const struct allot_clients *clients, struct allot_ratelimits **out)
{
    struct allot_ratelimits *r = calloc(1, sizeof *r);

    *out = r;
    if (!r)
        return ALLOT_ENOMEM;
    r->clients = clients;
    return 0;
}

void allot_ratelimits_free(struct allot_ratelimits *r)
{
    free(r);
}

int allot_ratelimits_take(struct allot_ratelimits *r, int client, uint64_t now_us,
                          uint64_t *retry_us, long *limit, long *remaining)
{
    uint64_t t, burst, tat, start, next;
    long n;

    *retry_us = 0;
    *limit = *remaining = 0;
    if (!r || (n = allot_clients_rpm(r->clients, client)) <= 0)
        return 1;
    *limit = n;
    t = MINUTE_US / (uint64_t)n; /* one request's share of the minute */
    burst = MINUTE_US - t;       /* what may be taken ahead of time */
    tat = __atomic_load_n(&r->tat[client], __ATOMIC_RELAXED);
    for (;;) {
        start = tat > now_us ? tat : now_us;
        next = start + t;
        if (start - now_us > burst) { /* n taken within the last minute */
            *retry_us = start - now_us - burst;
            return 0;
        }
        if (__atomic_compare_exchange_n(&r->tat[client], &tat, next, 1, __ATOMIC_RELAXED,
                                        __ATOMIC_RELAXED))
            break;
    }
    /* admitted while the debt (next - now) stays within burst */
    *remaining = next - now_us > burst ? 0 : (long)((burst - (next - now_us)) / t) + 1;
    return 1;
}
