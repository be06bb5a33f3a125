/* fuzz_json_member.c: libFuzzer target for allot_json_parse_member()
 * (json_member.h), which the gateway runs on every stream event it checks
 * to read the event's "choices" alone.
 *
 * Input: byte 0 picks the member name ("choices", "a", "" or "usage"); the
 * rest is the text, on an exact-size heap copy (ASan reports a read past
 * it). When allot_json_check() passes the text, the member's tree must
 * print exactly as the member of the full cJSON parse does
 * (allot_json_member: the last duplicate), or both be absent; when the
 * check refuses it, the result must be NULL (the caller then parses the
 * text whole).
 *
 * Fuzz: `FUZZ_SECONDS=60 bash tests/fuzz/run.sh json_member` (clang
 * libFuzzer, corpus tests/fuzz/corpus/json_member/, dictionary
 * tests/fuzz/json_member.dict). tests/fuzz/replay.sh replays the corpus
 * with replay.c under ASan+UBSan. */
#include <cJSON.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "allot/json_check.h"
#include "allot/json_member.h"
#include "exact_copy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what, const char *text, size_t n)
{
    fprintf(stderr, "fuzz_json_member: %s: %.*s\n", what, (int)(n > 400 ? 400 : n), text);
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const names[] = {"choices", "a", "", "usage"};
    const char *name;
    char *text, *a, *b;
    size_t n;
    cJSON *got, *whole;

    if (size < 1 || size > 65536)
        return 0;
    name = names[data[0] % 4];
    n = size - 1;
    text = exact_copy(data + 1, n);
    got = allot_json_parse_member(text, n, name);
    if (allot_json_check(text, n, 0, NULL, NULL, NULL) != 0) {
        if (got)
            fail("a tree for a text the check refuses", text, n);
    } else {
        const cJSON *want;
        whole = cJSON_ParseWithLength(text, n);
        if (!whole)
            fail("cJSON refuses a text the check passed", text, n);
        want = allot_json_member(whole, name);
        if ((got != NULL) != (want != NULL))
            fail(got ? "a member the full parse lacks" : "no member where the full parse has one",
                 text, n);
        if (got) {
            a = cJSON_PrintUnformatted(want);
            b = cJSON_PrintUnformatted(got);
            if (!a || !b || strcmp(a, b) != 0)
                fail("the member differs from the full parse's", text, n);
            cJSON_free(a);
            cJSON_free(b);
        }
        cJSON_Delete(whole);
    }
    cJSON_Delete(got);
    free(text);
    return 0;
}
