/* rand.c: splitmix64 and a seeded Fisher-Yates shuffle (rand.h). */
#include "allot/rand.h"

uint64_t allot_rand_next(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void allot_rand_shuffle(size_t *a, size_t n, uint64_t *state)
{
    size_t i;
    for (i = n; i > 1; i--) {
        size_t j = (size_t)(allot_rand_next(state) % i), tmp = a[i - 1];
        a[i - 1] = a[j];
        a[j] = tmp;
    }
}
