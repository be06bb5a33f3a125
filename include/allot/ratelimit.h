/* ratelimit.h: requests per minute of client keys
 * (auth.keys[].requests_per_minute).
 *
 * DESIGN: the generic cell rate algorithm (GCRA), one 64-bit "theoretical
 * arrival time" per key shared by every worker and moved with a
 * compare-and-swap: no lock, no per-request allocation, exact under
 * concurrency. A key of N per minute may send N requests at once, then one
 * every 60/N s; a request beyond that is refused with the time after which
 * it would be admitted (for Retry-After). Counts are per process.
 *
 * Each key's rate is read at every take, so a reload that changes it
 * applies at once.
 *
 * Ownership: borrows the clients (clients.h), which must outlive it.
 * Thread-safe. */
#ifndef ALLOT_RATELIMIT_H
#define ALLOT_RATELIMIT_H
#include <stdint.h>
#include "allot/clients.h"

struct allot_ratelimits;

/* ALLOT_ENOMEM. */
int allot_ratelimits_new(const struct allot_clients *clients, struct allot_ratelimits **out);
void allot_ratelimits_free(struct allot_ratelimits *r);

/* Take one request of client (a slot, or -1) at now_us
 * (monotonic). 1: admitted; 0: over its rate, *retry_us set to the wait.
 * *limit gets the key's requests per minute (0: no limit) and *remaining
 * how many it could still send at once after this one. */
int allot_ratelimits_take(struct allot_ratelimits *r, int client, uint64_t now_us,
                          uint64_t *retry_us, long *limit, long *remaining);

#endif
