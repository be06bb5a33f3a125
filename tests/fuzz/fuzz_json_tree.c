/* fuzz_json_tree.c: libFuzzer target for allot_json_tree() (json_tree.h),
 * which reads the Anthropic Messages and Responses requests, the chat
 * request's members and the stream events' choices once the strict check
 * has passed them.
 *
 * Input: the text, on an exact-size heap copy (ASan reports a read past
 * it). Any text: the reader must stay inside it and return NULL or a tree
 * cJSON_Delete() frees. A text allot_json_check() passes (with
 * ALLOT_JSON_CHECK_NUL_OK, the widest): its tree must be cJSON's node for
 * node (same_tree.h: types, keys, strings, number bits, links). And
 * allot_json_parse() of any text is cJSON_ParseWithLength()'s tree, or
 * NULL where it is NULL.
 *
 * Fuzz: `FUZZ_SECONDS=60 bash tests/fuzz/run.sh json_tree` (clang
 * libFuzzer, corpus tests/fuzz/corpus/json_tree/, dictionary
 * tests/fuzz/json_tree.dict). tests/fuzz/replay.sh
 * replays the corpus with replay.c under ASan+UBSan. */
#include <cJSON.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../unit/same_tree.h"
#include "allot/json_check.h"
#include "allot/json_tree.h"
#include "exact_copy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct allot_json_check_error e;
    char *text;
    cJSON *mine, *theirs;
    const char *why = "";

    if (size > 65536)
        return 0;
    text = exact_copy(data, size);
    mine = allot_json_tree(text, size);
    if (!allot_json_check(text, size, ALLOT_JSON_CHECK_NUL_OK, NULL, NULL, &e)) {
        theirs = cJSON_ParseWithLength(text, size);
        if (!mine || !theirs || !same_tree_list(mine, theirs, 1, &why)) {
            fprintf(stderr, "fuzz_json_tree: %s: %.*s\n",
                    !mine     ? "no tree"
                    : !theirs ? "cJSON refused"
                              : why,
                    (int)(size > 400 ? 400 : size), text);
            abort();
        }
        cJSON_Delete(theirs);
    }
    cJSON_Delete(mine);
    /* allot_json_parse: cJSON's tree for any text, checked or not */
    mine = allot_json_parse(text, size);
    theirs = cJSON_ParseWithLength(text, size);
    if (!mine != !theirs || (mine && !same_tree_list(mine, theirs, 1, &why))) {
        fprintf(stderr, "fuzz_json_tree: allot_json_parse: %s: %.*s\n",
                !mine     ? "NULL where cJSON reads it"
                : !theirs ? "a tree where cJSON has none"
                          : why,
                (int)(size > 400 ? 400 : size), text);
        abort();
    }
    cJSON_Delete(mine);
    cJSON_Delete(theirs);
    free(text);
    return 0;
}
