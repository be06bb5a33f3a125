/* fuzz_find.c: libFuzzer target for allot_find() (slice.h), the SSE2
 * memmem the gateway runs over every stream event. It loads 16 bytes at a
 * time, so the risk is a read past the end of the haystack (or needle).
 *
 * Input: byte 0 picks a window offset; the rest (at most 256 bytes) is
 * split at every position m into needle rest[0..m) and haystack
 * rest[m..), and for every m a needle of m bytes is also cut from the
 * haystack rest itself at an offset byte 0 picks (so there is a match to
 * find), and tried once more with its last byte changed (a near miss).
 * Each search runs on exact-size heap copies of both (ASan reports any
 * byte read past either) and must return exactly what glibc's memmem
 * returns, m 0 and 1 included.
 *
 * Fuzz: `FUZZ_SECONDS=60 bash tests/fuzz/run.sh find` (clang libFuzzer,
 * corpus tests/fuzz/corpus/find/; no dictionary: any bytes will do).
 * tests/fuzz/replay.sh replays the corpus with replay.c under ASan+UBSan. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "allot/slice.h"
#include "exact_copy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX_REST 256

static void check(const uint8_t *hay_bytes, size_t n, const uint8_t *needle_bytes, size_t m)
{
    char *hay = exact_copy(hay_bytes, n), *needle = exact_copy(needle_bytes, m);
    const char *got = allot_find(hay, n, needle, m);
    const char *want = memmem(hay, n, needle, m);

    if (got != want) {
        fprintf(stderr, "fuzz_find: %zu-byte needle in %zu-byte haystack: at %td, memmem %td\n", m,
                n, got ? got - hay : (ptrdiff_t)-1, want ? want - hay : (ptrdiff_t)-1);
        abort();
    }
    free(hay);
    free(needle);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *rest = data + 1;
    uint8_t near[FUZZ_MAX_REST];
    size_t len, m, at;

    if (size < 1)
        return 0;
    len = size - 1 < FUZZ_MAX_REST ? size - 1 : FUZZ_MAX_REST;
    for (m = 0; m <= len; m++) {
        check(rest + m, len - m, rest, m);
        at = data[0] % (len - m + 1);
        check(rest, len, rest + at, m);
        if (m) {
            memcpy(near, rest + at, m);
            near[m - 1] ^= 1;
            check(rest, len, near, m);
        }
    }
    return 0;
}
