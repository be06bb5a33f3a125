/* fuzz_json_member.c: libFuzzer target for allot_json_parse_member() and
 * allot_json_parse_members() (json_member.h); the gateway builds the tree
 * of every stream event it must parse with the latter, holding only the
 * members its readers look up.
 *
 * Input: byte 0 picks the member name ("choices", "a", "" or "usage"); the
 * rest is the text, on an exact-size heap copy (ASan reports a read past
 * it). When allot_json_check() passes the text, the member's tree must
 * print exactly as the member of the full cJSON parse does
 * (allot_json_member: the last duplicate), or both be absent; when the
 * check refuses it, the result must be NULL (the caller then parses the
 * text whole). The tree of allot_json_parse_members() for the name and
 * "usage" must give, by either rule for duplicates (allot_json_member,
 * the last; cJSON_GetObjectItemCaseSensitive, the first), what the full
 * parse gives.
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
#include "allot/json_tree.h"
#include "exact_copy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what, const char *text, size_t n)
{
    fprintf(stderr, "fuzz_json_member: %s: %.*s\n", what, (int)(n > 400 ? 400 : n), text);
    abort();
}

/* Do a and b print the same (both absent, or equal)? */
static int same_print(const cJSON *a, const cJSON *b)
{
    char *pa, *pb;
    int same;

    if (!a || !b)
        return !a && !b;
    pa = cJSON_PrintUnformatted(a);
    pb = cJSON_PrintUnformatted(b);
    same = pa && pb && strcmp(pa, pb) == 0;
    cJSON_free(pa);
    cJSON_free(pb);
    return same;
}

/* allot_json_parse_members() of text for name (and "usage") against the
 * whole parse allot_json_parse() gives, looked up both ways. */
static void check_members(const char *text, size_t n, const char *name)
{
    const char *names[] = {name, "usage", NULL};
    cJSON *got = allot_json_parse_members(text, n, names), *whole = allot_json_parse(text, n);
    size_t k;

    if ((got != NULL) != (whole != NULL))
        fail(got ? "a tree where the whole parse has none" : "no tree where the whole parse has one",
             text, n);
    for (k = 0; got && names[k]; k++) {
        if (!same_print(allot_json_member(got, names[k]), allot_json_member(whole, names[k])) ||
            !same_print(cJSON_GetObjectItemCaseSensitive(got, names[k]),
                        cJSON_GetObjectItemCaseSensitive(whole, names[k])))
            fail("a member of the partial tree differs from the whole parse's", text, n);
    }
    cJSON_Delete(got);
    cJSON_Delete(whole);
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
    check_members(text, n, name);
    free(text);
    return 0;
}
