/* cooldown.h: models resting after failing several times in a row, or
 * when their provider says when to come back.
 *
 * DESIGN: a tier's models are tried in order, and a failure (connect
 * error, timeout, 429, 5xx: what moves a request to the next model) costs
 * the request that met it its time: up to connect_timeout_ms for a server
 * that is down. When a model has failed `after` times in a row it rests
 * for `ms`: requests skip it for the next model of their list, so an
 * outage costs a few requests instead of all of them. Each rest that
 * follows another (the first request after a rest failed again) lasts
 * twice as long, up to 16 times `ms`; a success ends the series. A rest
 * never refuses a request by itself: when every model a request could
 * still try is resting, it tries them anyway.
 *
 * A provider that answers 429 or 503 with a retry hint (retry-after-ms,
 * Retry-After) has said how long to stay away: that one failure sends the
 * model to rest at once for the hinted time, however many failures in a
 * row it has (allot_cooldowns_told), capped at 16 times `ms`, the longest
 * rest allot would choose itself. It does not advance the doubling series.
 * This holds with `after` 0 too (counted rests off): the hint is the
 * provider's word, not allot's guess.
 *
 * One counter of failures in a row, one end of rest and one rest length
 * per configured model, shared by every worker: relaxed atomics, no lock,
 * no allocation after new. Counts are per process.
 *
 * Ownership: owns its arrays. Thread-safe. */
#ifndef ALLOT_COOLDOWN_H
#define ALLOT_COOLDOWN_H
#include <stddef.h>
#include <stdint.h>
#include "allot/buf.h"
#include "allot/config.h"

struct allot_cooldowns;

/* For cfg's models, with cfg->limits.cooldown_after (0: no rest after
 * failures in a row; hinted rests still happen) and cfg->limits.cooldown_ms.
 * cfg must outlive it. ALLOT_ENOMEM. */
int allot_cooldowns_new(const struct allot_config *cfg, struct allot_cooldowns **out);
void allot_cooldowns_free(struct allot_cooldowns *c);

/* 0 when model (an index of cfg->models; out of range: never resting) may
 * be tried at now_us (monotonic), else the microseconds left of its rest. */
uint64_t allot_cooldowns_resting(const struct allot_cooldowns *c, int model, uint64_t now_us);

/* The outcome of an attempt of model at now_us: ok 1 for an answer, 0 for
 * a failure that moves a request on. Returns the length of the rest this
 * failure started (microseconds; the caller logs it), else 0. */
uint64_t allot_cooldowns_record(struct allot_cooldowns *c, int model, int ok, uint64_t now_us);

/* A failure of model at now_us whose provider asked for hint_us (> 0) of
 * quiet (a 429 or 503 with a retry hint): counted as a failure in a row,
 * and the model rests until now_us + min(hint_us, allot_cooldowns_max_us),
 * or longer if it already rests longer. Returns the length of the rest
 * this started or lengthened (microseconds; the caller logs it), else 0. */
uint64_t allot_cooldowns_told(struct allot_cooldowns *c, int model, uint64_t hint_us,
                              uint64_t now_us);

/* The longest rest: 16 times cooldown_ms (microseconds). */
uint64_t allot_cooldowns_max_us(const struct allot_cooldowns *c);

/* Append, for Prometheus, allot_model_resting_seconds (gauge: what is left
 * of each model's rest at now_us), allot_model_rests_total (counter, every
 * rest) and allot_model_hinted_rests_total (counter, the rests a provider's
 * retry hint started), by model. ALLOT_ETOOBIG past out's cap. */
int allot_cooldowns_render(const struct allot_cooldowns *c, uint64_t now_us, struct allot_buf *out);

#endif
