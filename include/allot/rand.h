/* rand.h: deterministic pseudo-random numbers for training, folds and
 * sampling: a splitmix64 stream (Steele, Lea, Flood 2014), whose state may
 * be any value, 0 included. Not for secrets. The caller owns the state;
 * nothing here is shared between threads. */
#ifndef ALLOT_RAND_H
#define ALLOT_RAND_H
#include <stddef.h>
#include <stdint.h>

/* The next value of the stream at *state (advanced). */
uint64_t allot_rand_next(uint64_t *state);

/* Shuffle a[0..n) in place (Fisher-Yates) with the stream at *state. */
void allot_rand_shuffle(size_t *a, size_t n, uint64_t *state);

#endif
