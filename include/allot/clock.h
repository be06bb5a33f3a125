/* clock.h: time sources. Tests may substitute the wall clock. */
#ifndef ALLOT_CLOCK_H
#define ALLOT_CLOCK_H
#include <stdint.h>

/* Monotonic time in microseconds (CLOCK_MONOTONIC). */
uint64_t allot_clock_mono_us(void);
/* Wall-clock time in milliseconds since the Unix epoch. */
int64_t allot_clock_wall_ms(void);

#endif
